/* arc: ARC sets (RFC 8617): the chain's check and a new set (see .h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "arc.h"
#include "buf.h"
#include "dkim_canon.h"
#include "dkim_keys.h"
#include "dkim_record.h"
#include "dkim_sign.h"
#include "xalloc.h"

/* The three fields of a set, in the order a seal hashes them (5.1.1). */
enum arc_part { ARC_AAR, ARC_AMS, ARC_AS, ARC_PARTS };

static const char *const arc_names[ARC_PARTS] = {
	"ARC-Authentication-Results", "ARC-Message-Signature", "ARC-Seal",
};

/* One signature of the chain to verify: the newest AMS or a seal. */
struct arc_check {
	struct dkim_sig sig;
	char *key_name;			/* NULL: decided */
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int digest_len;
	enum dkim_result result;
};

struct arc_sealer {
	EVP_PKEY *key;
	char *domain, *selector;
	struct dkim_pubcache *cache;
	long long now;
	struct dkim_signer *ams;	/* the new set's AMS */
	struct buf *header;
	enum dkim_header_state hstate;
	int header_overflow, header_done, finished, sealed;
	struct dkim_field *fields;	/* of header, top to bottom */
	size_t field_count;
	/* The chain: fields index of set i's parts (1..n). */
	size_t set[ARC_INSTANCE_MAX + 1][ARC_PARTS];
	int n;
	enum arc_cv cv;			/* so far: FAIL is final */
	int ended;			/* no new set: why in reason */
	int failed_earlier;		/* ended by a seal's cv=fail */
	const char *reason;
	/* checks[0]: AMS n; checks[i]: AS i. */
	struct arc_check checks[ARC_INSTANCE_MAX + 1];
	size_t check_count;
	struct dkim_body *body;		/* for AMS n */
};

const char *
arc_cv_name(enum arc_cv cv)
{
	switch (cv) {
	case ARC_CV_PASS: return "pass";
	case ARC_CV_FAIL: return "fail";
	default: return "none";
	}
}

struct arc_sealer *
arc_sealer_new(EVP_PKEY *key, const char *domain, const char *selector,
	struct dkim_pubcache *cache, long long now, char **error_r)
{
	struct arc_sealer *a;
	struct dkim_signer *ams;

	/* RFC 8617 (4.1.3) names rsa-sha256 only; so do the verifiers. */
	if (!EVP_PKEY_is_a(key, "RSA")) {
		*error_r = xstrdup("ARC key is not RSA");
		return NULL;
	}
	ams = dkim_signer_new(key, DKIM_KEY_RSA, domain, selector, error_r);
	if (ams == NULL)
		return NULL;
	a = xcalloc(1, sizeof(*a));
	EVP_PKEY_up_ref(key);
	a->key = key;
	a->domain = xstrdup(domain);
	a->selector = xstrdup(selector);
	a->cache = cache;
	a->now = now;
	a->ams = ams;
	a->header = buf_new(ARC_HEADER_MAX);
	return a;
}

void
arc_sealer_free(struct arc_sealer **ap)
{
	struct arc_sealer *a = *ap;
	size_t i;

	if (a == NULL)
		return;
	for (i = 0; i < a->check_count; i++) {
		dkim_sig_clear(&a->checks[i].sig);
		free(a->checks[i].key_name);
	}
	dkim_body_free(&a->body);
	dkim_signer_free(&a->ams);
	EVP_PKEY_free(a->key);
	buf_free(&a->header);
	free(a->fields);
	free(a->domain);
	free(a->selector);
	free(a);
	*ap = NULL;
}

/* The chain is broken: the new set says cv=fail (5.2). */
static void
chain_fail(struct arc_sealer *a, const char *reason)
{
	if (a->cv == ARC_CV_FAIL || a->ended)
		return;
	a->cv = ARC_CV_FAIL;
	a->reason = reason;
}

/* No set is added (5.1.2, 4.2.1). */
static void
chain_end(struct arc_sealer *a, const char *reason)
{
	if (a->ended)
		return;
	a->ended = 1;
	a->reason = reason;
}

/* Which ARC part field f is, or -1. */
static int
field_part(const struct dkim_field *f)
{
	int p;

	for (p = 0; p < ARC_PARTS; p++)
		if (f->name_len == strlen(arc_names[p]) &&
		    strncasecmp(f->text, arc_names[p], f->name_len) == 0)
			return p;
	return -1;
}

/* Where field f's value starts (after the colon). */
static size_t
value_offset(const struct dkim_field *f)
{
	size_t off = f->name_len;

	while (off < f->len && f->text[off] != ':')
		off++;
	return off + 1;
}

/*
 * What field_instance says of a field without any instance tag: it
 * belongs to no ARC Set (RFC 8617 4.1, 5.2 step 1), so it is left out
 * of the chain; a tag with a bad value (i=0, i=51, i=x) claims a set
 * that cannot exist, which breaks the chain (5.2 step 3).
 */
#define ARC_NO_INSTANCE	(-2)

/*
 * An AAR's instance: "i=" 1*DIGIT ";" first, FWS around (4.1.1); -1,
 * or ARC_NO_INSTANCE when the value does not start with "i=".
 */
static int
aar_instance(const char *v, size_t len)
{
	size_t i = 0;
	int n = 0, digits = 0;

#define SKIP_FWS() while (i < len && (v[i] == ' ' || v[i] == '\t' || \
	v[i] == '\r' || v[i] == '\n')) i++
	SKIP_FWS();
	if (i >= len || (v[i] != 'i' && v[i] != 'I'))
		return ARC_NO_INSTANCE;
	i++;
	SKIP_FWS();
	if (i >= len || v[i] != '=')
		return ARC_NO_INSTANCE;
	i++;
	SKIP_FWS();
	for (; i < len && v[i] >= '0' && v[i] <= '9' && digits < 3; i++) {
		n = n * 10 + (v[i] - '0');
		digits++;
	}
	SKIP_FWS();
#undef SKIP_FWS
	return digits > 0 && i < len && v[i] == ';' ? n : -1;
}

/*
 * The instance of ARC field f of part p: -1 when its value or its tag
 * list is unparsable, ARC_NO_INSTANCE when the tags have no i=.
 */
static int
field_instance(const struct dkim_field *f, int p)
{
	struct dkim_tag tags[DKIM_TAGS_MAX];
	size_t off = value_offset(f), k;
	int i, n, v = 0;

	if (p == ARC_AAR)
		return aar_instance(f->text + off, f->len - off);
	n = dkim_tags_parse(f->text + off, f->len - off, tags, DKIM_TAGS_MAX);
	if (n < 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (tags[i].name_len != 1 || tags[i].name[0] != 'i')
			continue;
		if (tags[i].value_len == 0 || tags[i].value_len > 3)
			return -1;
		for (k = 0; k < tags[i].value_len; k++) {
			if (tags[i].value[k] < '0' || tags[i].value[k] > '9')
				return -1;
			v = v * 10 + (tags[i].value[k] - '0');
		}
		return v;
	}
	return ARC_NO_INSTANCE;
}

/*
 * Group the ARC fields by instance (5.2 steps 1-3): every instance
 * 1..n has one of each part; the newest seal's cv= is not fail; cv=
 * is none at 1 and pass above.  A field without i= is in no set and
 * left out: alone, such fields make no chain (n 0, cv=none).  0, or -1
 * when the chain cannot be checked further (failed or ended).
 */
static int
chain_collect(struct arc_sealer *a)
{
	unsigned char seen[ARC_INSTANCE_MAX + 1][ARC_PARTS];
	const char *bad = NULL;
	size_t j, arc_fields = 0;
	int p, i, setless = 0;

	/* All of them, so that a broken chain's n is still its highest. */
	memset(seen, 0, sizeof(seen));
	for (j = 0; j < a->field_count && arc_fields <= ARC_FIELDS_MAX;
	    j++) {
		const struct dkim_field *f = &a->fields[j];

		if ((p = field_part(f)) < 0)
			continue;
		if (++arc_fields > ARC_FIELDS_MAX) {
			bad = "too many ARC fields";
			break;
		}
		i = field_instance(f, p);
		if (i == ARC_NO_INSTANCE) {
			setless = 1;
			continue;
		}
		if (i < 1 || i > ARC_INSTANCE_MAX) {
			if (bad == NULL)
				bad = "ARC field without a valid i=";
			continue;
		}
		if (seen[i][p]++ && bad == NULL)
			bad = "two ARC fields of one instance";
		a->set[i][p] = j;
		if (i > a->n)
			a->n = i;
	}
	for (i = 1; i <= a->n && bad == NULL; i++)
		for (p = 0; p < ARC_PARTS; p++)
			if (!seen[i][p])
				bad = "ARC set incomplete";
	if (a->n >= ARC_INSTANCE_MAX) {
		chain_end(a, "ARC chain at its longest");
		return -1;
	}
	if (bad != NULL) {
		chain_fail(a, bad);
		return -1;
	}
	if (setless && a->n == 0)
		a->reason = "no ARC chain yet (ARC fields without i= ignored)";
	return 0;
}

/*
 * Parse the chain's signature of instance i, part p into check c and
 * hash its header input: an AMS over the message's fields, a seal over
 * the earlier sets (sets: their hash so far) and its own AAR and AMS.
 */
static int
check_start(struct arc_sealer *a, struct arc_check *c, int i, int p,
	const EVP_MD_CTX *sets)
{
	const struct dkim_field *self = &a->fields[a->set[i][p]];
	size_t off = value_offset(self), n = a->field_count;
	const struct dkim_field *refs = a->fields;
	struct dkim_field own[2];
	const char *error = NULL;

	if (dkim_sig_parse_kind(self->text + off, self->len - off,
	    p == ARC_AMS ? DKIM_SIG_ARC_MESSAGE : DKIM_SIG_ARC_SEAL, &c->sig,
	    &error) < 0) {
		chain_fail(a, p == ARC_AMS ? "ARC-Message-Signature malformed" :
		    "ARC-Seal malformed");
		return -1;
	}
	if (c->sig.instance != i || c->sig.alg != DKIM_ALG_RSA_SHA256) {
		chain_fail(a, "ARC signature not rsa-sha256");
		return -1;
	}
	if (c->sig.expires >= 0 && c->sig.expires < a->now) {
		chain_fail(a, "ARC signature expired (x=)");
		return -1;
	}
	if (p == ARC_AS) {
		own[0] = a->fields[a->set[i][ARC_AAR]];
		own[1] = a->fields[a->set[i][ARC_AMS]];
		refs = own;
		n = 2;
	}
	if (dkim_sig_header_hash_after(p == ARC_AS ? sets : NULL, &c->sig,
	    refs, n, self, off, c->digest, &c->digest_len) < 0) {
		chain_fail(a, "ARC header hash failed");
		return -1;
	}
	c->key_name = xasprintf("%s._domainkey.%s", c->sig.selector,
	    c->sig.domain);
	return 0;
}

/* Add set i's three fields, relaxed (5.1.1), to the sets' hash. */
static int
sets_add(const struct arc_sealer *a, EVP_MD_CTX *sets, int i,
	struct buf *canon)
{
	int p;

	buf_reset(canon);
	for (p = 0; p < ARC_PARTS; p++) {
		const struct dkim_field *f = &a->fields[a->set[i][p]];

		if (dkim_canon_field(canon, f->text, f->len, 1, 1) < 0)
			return -1;
	}
	return EVP_DigestUpdate(sets, buf_cstr(canon), buf_len(canon)) == 1 ?
	    0 : -1;
}

/*
 * The seals, oldest first: each one's cv= in order, its hash going on
 * from the sets before it (linear in the chain, not quadratic).
 */
static void
check_seals(struct arc_sealer *a)
{
	EVP_MD_CTX *sets = EVP_MD_CTX_new();
	struct buf *canon = buf_new(ARC_HEADER_MAX);
	struct arc_check *c;
	int i;

	if (sets == NULL || EVP_DigestInit_ex(sets, EVP_sha256(), NULL) != 1) {
		chain_fail(a, "ARC header hash failed");
		goto out;
	}
	for (i = 1; i <= a->n; i++) {
		c = &a->checks[a->check_count++];
		if (check_start(a, c, i, ARC_AS, sets) < 0)
			break;
		if (c->sig.cv == DKIM_CV_FAIL) {
			/* A failed chain stays failed: nothing to add. */
			chain_end(a, "ARC chain failed earlier (cv=fail)");
			a->failed_earlier = 1;
			break;
		}
		if (c->sig.cv != (i == 1 ? DKIM_CV_NONE : DKIM_CV_PASS)) {
			chain_fail(a, "ARC-Seal cv= out of order");
			break;
		}
		if (sets_add(a, sets, i, canon) < 0) {
			chain_fail(a, "ARC header hash failed");
			break;
		}
	}
out:
	EVP_MD_CTX_free(sets);
	buf_free(&canon);
}

/* The header is complete: the chain's structure, its hashes, keys. */
static void
header_done(struct arc_sealer *a)
{
	a->header_done = 1;
	if (a->header_overflow) {
		chain_end(a, "header too big");
		return;
	}
	a->fields = dkim_header_fields(buf_cstr(a->header),
	    buf_len(a->header), &a->field_count);
	if (chain_collect(a) < 0 || a->n == 0)
		return;
	/* The newest AMS, then every seal (5.2 steps 4-6). */
	a->check_count = 1;
	if (check_start(a, &a->checks[0], a->n, ARC_AMS, NULL) < 0)
		return;
	a->body = dkim_body_new(a->checks[0].sig.body_relaxed, EVP_sha256(),
	    a->checks[0].sig.length);
	check_seals(a);
}

void
arc_sealer_chunk(struct arc_sealer *a, const void *data, size_t len)
{
	const unsigned char *p = data, *end = p + len;

	if (a->finished || len == 0)
		return;
	(void) dkim_signer_chunk(a->ams, data, len);
	if (!a->header_done) {
		p += dkim_header_take(a->header, &a->hstate,
		    &a->header_overflow, p, len);
		if (a->hstate == DKIM_HEADER_DONE)
			header_done(a);
	}
	if (p < end && a->body != NULL)
		dkim_body_feed(a->body, p, (size_t) (end - p));
}

void
arc_sealer_finish(struct arc_sealer *a)
{
	unsigned char bh[EVP_MAX_MD_SIZE];
	unsigned int bh_len = 0;
	unsigned long long length = 0;
	const struct dkim_sig *ams;

	if (a->finished)
		return;
	if (!a->header_done)
		header_done(a);
	a->finished = 1;
	if (a->body == NULL || a->cv == ARC_CV_FAIL || a->ended)
		return;
	ams = &a->checks[0].sig;
	if (dkim_body_finish(a->body, bh, &bh_len, &length) < 0)
		chain_fail(a, "body hash failed");
	else if (ams->length >= 0 &&
	    length < (unsigned long long) ams->length)
		chain_fail(a, "ARC-Message-Signature l= past the body");
	else if (bh_len != ams->bh_len ||
	    CRYPTO_memcmp(bh, ams->bh, bh_len) != 0)
		chain_fail(a, "ARC-Message-Signature body hash mismatch");
}

size_t
arc_sealer_key_count(const struct arc_sealer *a)
{
	return a->cv == ARC_CV_FAIL || a->ended ? 0 : a->check_count;
}

const char *
arc_sealer_key_name(const struct arc_sealer *a, size_t i)
{
	if (i >= arc_sealer_key_count(a) ||
	    a->checks[i].result != DKIM_RESULT_NONE)
		return NULL;
	return a->checks[i].key_name;
}

void
arc_sealer_key(struct arc_sealer *a, size_t i, enum dkim_key_lookup lookup,
	const char *record, size_t len)
{
	struct arc_check *c;
	const char *reason = NULL;

	if (arc_sealer_key_name(a, i) == NULL)
		return;
	c = &a->checks[i];
	if (lookup == DKIM_LOOKUP_TEMPFAIL)
		c->result = DKIM_RESULT_TEMPERROR;
	else if (lookup == DKIM_LOOKUP_NONE || record == NULL)
		c->result = DKIM_RESULT_PERMERROR;
	else
		c->result = dkim_key_check(a->cache, &c->sig, c->digest,
		    c->digest_len, record, len, NULL, &reason);
	if (c->result == DKIM_RESULT_TEMPERROR)
		chain_end(a, "ARC key lookup failed for now");
	else if (c->result != DKIM_RESULT_PASS)
		chain_fail(a, i == 0 ? "ARC-Message-Signature did not verify" :
		    "ARC-Seal did not verify");
}

/* The chain's verdict once every key was handed over (or not). */
static void
chain_verdict(struct arc_sealer *a)
{
	size_t i;

	if (a->ended || a->cv == ARC_CV_FAIL)
		return;
	if (a->n == 0) {
		a->cv = ARC_CV_NONE;
		return;
	}
	for (i = 0; i < a->check_count; i++)
		if (a->checks[i].result != DKIM_RESULT_PASS) {
			chain_end(a, "ARC key not looked up");
			return;
		}
	a->cv = ARC_CV_PASS;
	a->reason = "ARC chain valid";
}

const char *
arc_sealer_result(struct arc_sealer *a)
{
	arc_sealer_finish(a);
	chain_verdict(a);
	if (a->failed_earlier)
		return "fail";
	return a->ended ? NULL : arc_cv_name(a->cv);
}

/* The AAR: our A-R value with i= in front (4.1.1). */
static char *
make_aar(int instance, const char *authres)
{
	while (*authres == ' ' || *authres == '\t')
		authres++;
	return xasprintf("ARC-Authentication-Results: i=%d; %s", instance,
	    authres);
}

/*
 * The ARC-Seal of the new set (instance, cv), over the chain's sets
 * (none for cv=fail: 5.1.2) and the new aar and ams.  NULL on failure.
 */
static char *
make_seal(struct arc_sealer *a, int instance, enum arc_cv cv,
	const char *aar, const char *ams, long long now)
{
	struct buf *hin = buf_new(ARC_HEADER_MAX + 2 * DKIM_SIG_MAX);
	struct buf *field = buf_new(DKIM_SIG_MAX);
	char *result = NULL;
	int i, p, rc = 0;

	for (i = 1; cv != ARC_CV_FAIL && i < instance; i++)
		for (p = 0; p < ARC_PARTS; p++) {
			const struct dkim_field *f = &a->fields[a->set[i][p]];

			rc |= dkim_canon_field(hin, f->text, f->len, 1, 1);
		}
	rc |= dkim_canon_field(hin, aar, strlen(aar), 1, 1);
	rc |= dkim_canon_field(hin, ams, strlen(ams), 1, 1);
	(void) buf_printf(field, "ARC-Seal: i=%d; a=rsa-sha256; t=%lld; "
	    "cv=%s;\r\n\td=%s; s=%s;\r\n\tb=", instance, now, arc_cv_name(cv),
	    a->domain, a->selector);
	rc |= dkim_canon_field(hin, buf_cstr(field), buf_len(field), 1, 0);
	if (rc != 0 || dkim_sign_input(a->key, DKIM_KEY_RSA, hin, field) < 0)
		goto out;
	result = buf_strdup(field);
out:
	buf_free(&hin);
	buf_free(&field);
	return result;
}

int
arc_sealer_seal(struct arc_sealer *a, const char *authres, long long now,
	char *fields_r[3], enum arc_cv *cv_r, int *instance_r,
	const char **reason_r)
{
	char *aar, *ams, *as, *error = NULL;
	int instance;

	fields_r[0] = fields_r[1] = fields_r[2] = NULL;
	if (a->sealed) {
		*reason_r = "sealed already";
		return -1;
	}
	a->sealed = 1;
	arc_sealer_finish(a);
	chain_verdict(a);
	if (a->ended) {
		*reason_r = a->reason;
		return 0;
	}
	instance = a->n + 1;
	if (a->cv == ARC_CV_FAIL && instance > ARC_INSTANCE_MAX) {
		*reason_r = "ARC chain broken at its longest";
		return 0;
	}
	dkim_signer_set_arc(a->ams, instance);
	ams = dkim_signer_finish(a->ams, now, &error);
	if (ams == NULL) {
		free(error);
		*reason_r = "ARC-Message-Signature failed (no From?)";
		return -1;
	}
	aar = make_aar(instance, authres);
	as = make_seal(a, instance, a->cv, aar, ams, now);
	if (as == NULL) {
		free(aar);
		free(ams);
		*reason_r = "ARC-Seal signing failed";
		return -1;
	}
	fields_r[0] = as;
	fields_r[1] = ams;
	fields_r[2] = aar;
	*cv_r = a->cv;
	*instance_r = instance;
	*reason_r = a->reason != NULL ? a->reason : "no ARC chain yet";
	return 1;
}

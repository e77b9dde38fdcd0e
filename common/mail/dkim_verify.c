/* dkim_verify: DKIM signature verification, sans-I/O (see .h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "buf.h"
#include "dkim_canon.h"
#include "dkim_verify.h"
#include "sasl.h"
#include "xalloc.h"


/* A body hash, shared by signatures that ask for the same one. */
struct body_hash {
	struct dkim_body *body;
	int relaxed;
	long long limit;
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int digest_len;
	unsigned long long length;
	int ok;
};

struct vsig {
	struct dkim_sig sig;
	struct dkim_verify_result res;
	char *key_name;
	unsigned char digest[EVP_MAX_MD_SIZE];	/* of the header input */
	unsigned int digest_len;
	size_t body;			/* index into bodies */
};

struct dkim_verifier {
	struct dkim_pubcache *cache;
	long long now;
	struct buf *header;
	enum dkim_header_state hstate;
	int header_done, header_overflow, finished;
	struct vsig sigs[DKIM_VERIFY_SIGS];
	size_t sig_count;
	struct body_hash bodies[DKIM_VERIFY_SIGS];
	size_t body_count;
};

const char *
dkim_result_name(enum dkim_result r)
{
	switch (r) {
	case DKIM_RESULT_PASS: return "pass";
	case DKIM_RESULT_FAIL: return "fail";
	case DKIM_RESULT_PERMERROR: return "permerror";
	case DKIM_RESULT_TEMPERROR: return "temperror";
	default: return "none";
	}
}

struct dkim_verifier *
dkim_verifier_new(struct dkim_pubcache *cache, long long now)
{
	struct dkim_verifier *v = xcalloc(1, sizeof(*v));

	v->cache = cache;
	v->now = now;
	v->header = buf_new(DKIM_VERIFY_HEADER_MAX);
	return v;
}

void
dkim_verifier_free(struct dkim_verifier **vp)
{
	struct dkim_verifier *v = *vp;
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < v->sig_count; i++) {
		dkim_sig_clear(&v->sigs[i].sig);
		free(v->sigs[i].key_name);
	}
	for (i = 0; i < v->body_count; i++)
		dkim_body_free(&v->bodies[i].body);
	buf_free(&v->header);
	free(v);
	*vp = NULL;
}

static void
sig_decide(struct vsig *s, enum dkim_result result, const char *reason)
{
	s->res.result = result;
	s->res.reason = reason;
}

static int
field_named(const struct dkim_field *f, const char *name, size_t len)
{
	return f->name_len == len && strncasecmp(f->text, name, len) == 0;
}

/* The body hash for s, shared with earlier signatures when the same. */
static size_t
body_for(struct dkim_verifier *v, const struct dkim_sig *sig)
{
	struct body_hash *b;
	size_t i;

	for (i = 0; i < v->body_count; i++) {
		b = &v->bodies[i];
		if (b->relaxed == sig->body_relaxed &&
		    b->limit == sig->length)
			return i;
	}
	b = &v->bodies[v->body_count];
	b->relaxed = sig->body_relaxed;
	b->limit = sig->length;
	/* Both algorithms verified hash with SHA-256. */
	b->body = dkim_body_new(b->relaxed, EVP_sha256(), sig->length);
	return v->body_count++;
}

int
dkim_sig_header_hash(const struct dkim_sig *sig, const struct dkim_field *refs,
	size_t n, const struct dkim_field *self, size_t value_off,
	unsigned char *digest, unsigned int *digest_len_r)
{
	return dkim_sig_header_hash_after(NULL, sig, refs, n, self, value_off,
	    digest, digest_len_r);
}

int
dkim_sig_header_hash_after(const EVP_MD_CTX *prefix,
	const struct dkim_sig *sig, const struct dkim_field *refs, size_t n,
	const struct dkim_field *self, size_t value_off, unsigned char *digest,
	unsigned int *digest_len_r)
{
	struct buf *hin = buf_new(DKIM_VERIFY_HEADER_MAX + DKIM_SIG_MAX);
	struct buf *blank = buf_new(DKIM_SIG_MAX + 64);
	unsigned char *used = xcalloc(n + 1, 1);
	EVP_MD_CTX *md;
	size_t i, j;
	int rc = 0;

	for (i = 0; i < sig->header_count && rc == 0; i++) {
		const char *name = sig->headers[i];
		size_t len = strlen(name);

		for (j = n; j-- > 0;) {
			if (used[j] || !field_named(&refs[j], name, len))
				continue;
			used[j] = 1;
			rc = dkim_canon_field(hin, refs[j].text, refs[j].len,
			    sig->header_relaxed, 1);
			break;
		}
	}
	/* No h= (an ARC-Seal, RFC 8617 5.1.1): refs as they are. */
	for (j = 0; sig->header_count == 0 && j < n && rc == 0; j++)
		rc = dkim_canon_field(hin, refs[j].text, refs[j].len,
		    sig->header_relaxed, 1);
	/* The signature field, b='s value (and its FWS) deleted. */
	rc |= buf_append(blank, self->text, value_off + sig->b_start);
	rc |= buf_append(blank, self->text + value_off + sig->b_end,
	    self->len - value_off - sig->b_end);
	if (rc == 0)
		rc = dkim_canon_field(hin, buf_cstr(blank), buf_len(blank),
		    sig->header_relaxed, 0);
	md = EVP_MD_CTX_new();
	if (rc != 0 || md == NULL || (prefix != NULL ?
	    EVP_MD_CTX_copy_ex(md, prefix) != 1 :
	    EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) ||
	    EVP_DigestUpdate(md, buf_cstr(hin), buf_len(hin)) != 1 ||
	    EVP_DigestFinal_ex(md, digest, digest_len_r) != 1)
		rc = -1;
	EVP_MD_CTX_free(md);
	buf_free(&hin);
	buf_free(&blank);
	free(used);
	return rc;
}

/* Parse and check one DKIM-Signature field; its header hash. */
static void
sig_start(struct dkim_verifier *v, struct vsig *s,
	const struct dkim_field *refs, size_t n, const struct dkim_field *self)
{
	const char *error = NULL;
	size_t off = self->name_len;

	while (self->text[off] != ':')
		off++;
	off++;
	if (dkim_sig_parse(self->text + off, self->len - off, &s->sig,
	    &error) < 0) {
		sig_decide(s, DKIM_RESULT_PERMERROR, error);
		return;
	}
	s->res.domain = s->sig.domain;
	s->res.selector = s->sig.selector;
	if (s->sig.alg == DKIM_ALG_RSA_SHA1) {
		sig_decide(s, DKIM_RESULT_PERMERROR, "rsa-sha1 (RFC 8301)");
		return;
	}
	if (s->sig.expires >= 0 && s->sig.expires < v->now) {
		sig_decide(s, DKIM_RESULT_PERMERROR, "signature expired");
		return;
	}
	if (v->header_overflow) {
		sig_decide(s, DKIM_RESULT_PERMERROR, "header too big");
		return;
	}
	if (dkim_sig_header_hash(&s->sig, refs, n, self, off, s->digest,
	    &s->digest_len) < 0) {
		sig_decide(s, DKIM_RESULT_PERMERROR, "header hash failed");
		return;
	}
	s->body = body_for(v, &s->sig);
	s->key_name = xasprintf("%s._domainkey.%s", s->sig.selector,
	    s->sig.domain);
}

/* The header is complete: find, parse and hash the signatures. */
static void
header_done(struct dkim_verifier *v)
{
	struct dkim_field *refs;
	size_t n, i;

	v->header_done = 1;
	refs = dkim_header_fields(buf_cstr(v->header), buf_len(v->header), &n);
	for (i = 0; i < n && v->sig_count < DKIM_VERIFY_SIGS; i++) {
		struct vsig *s;

		if (!field_named(&refs[i], "DKIM-Signature", 14))
			continue;
		s = &v->sigs[v->sig_count++];
		sig_start(v, s, refs, n, &refs[i]);
	}
	free(refs);
}

void
dkim_verifier_chunk(struct dkim_verifier *v, const void *data, size_t len)
{
	const unsigned char *p = data, *end = p + len;
	size_t i;

	if (v->finished)
		return;
	if (!v->header_done) {
		p += dkim_header_take(v->header, &v->hstate,
		    &v->header_overflow, p, len);
		if (v->hstate == DKIM_HEADER_DONE)
			header_done(v);
	}
	if (p < end)
		for (i = 0; i < v->body_count; i++)
			if (v->bodies[i].body != NULL)
				dkim_body_feed(v->bodies[i].body, p,
				    (size_t) (end - p));
}

size_t
dkim_verifier_count(const struct dkim_verifier *v)
{
	return v->sig_count;
}

const char *
dkim_verifier_key_name(const struct dkim_verifier *v, size_t i)
{
	if (i >= v->sig_count || v->sigs[i].res.result != DKIM_RESULT_NONE)
		return NULL;
	return v->sigs[i].key_name;
}

void
dkim_verifier_finish(struct dkim_verifier *v)
{
	size_t i;

	if (v->finished)
		return;
	if (!v->header_done)
		header_done(v);
	v->finished = 1;
	for (i = 0; i < v->body_count; i++) {
		struct body_hash *b = &v->bodies[i];

		b->ok = b->body != NULL && dkim_body_finish(b->body, b->digest,
		    &b->digest_len, &b->length) == 0;
		dkim_body_free(&b->body);
	}
	for (i = 0; i < v->sig_count; i++) {
		struct vsig *s = &v->sigs[i];
		struct body_hash *b = &v->bodies[s->body];

		if (s->res.result != DKIM_RESULT_NONE)
			continue;
		if (!b->ok)
			sig_decide(s, DKIM_RESULT_PERMERROR, "body hash failed");
		else if (s->sig.length >= 0 &&
		    b->length < (unsigned long long) s->sig.length)
			sig_decide(s, DKIM_RESULT_FAIL, "l= past the body");
		else if (b->digest_len != s->sig.bh_len ||
		    CRYPTO_memcmp(b->digest, s->sig.bh, b->digest_len) != 0)
			sig_decide(s, DKIM_RESULT_FAIL, "body hash mismatch");
	}
}

/* Does key (from cache) sign digest with sig's b=? */
static int
sig_check(const struct dkim_sig *sig, const unsigned char *digest,
	size_t digest_len, struct dkim_pubcache *cache, EVP_PKEY *key)
{
	int ok = 0;

	if (sig->alg == DKIM_ALG_ED25519_SHA256) {
		/* RFC 8463 3: PureEdDSA over the SHA-256 hash. */
		EVP_MD_CTX *md = EVP_MD_CTX_new();

		ok = md != NULL &&
		    EVP_DigestVerifyInit(md, NULL, NULL, NULL, key) == 1 &&
		    EVP_DigestVerify(md, sig->b, sig->b_len, digest,
		    digest_len) == 1;
		EVP_MD_CTX_free(md);
	} else {
		ok = dkim_pubcache_rsa_verify(cache, key, sig->b, sig->b_len,
		    digest, digest_len);
	}
	return ok;
}

/* The i= domain is exactly d= (for a key with t=s)? */
static int
auid_exact(const struct dkim_sig *sig)
{
	const char *at = sig->auid != NULL ? strrchr(sig->auid, '@') : NULL;

	return at == NULL || strcasecmp(at + 1, sig->domain) == 0;
}

static int
key_fws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

enum dkim_result
dkim_key_check(struct dkim_pubcache *cache, const struct dkim_sig *sig,
	const unsigned char *digest, size_t digest_len, const char *record,
	size_t len, int *testing_r, const char **reason_r)
{
	enum dkim_result result = DKIM_RESULT_NONE;
	struct dkim_keyrec k;
	const char *error = NULL;
	struct buf *der, *b64;
	EVP_PKEY *key;
	size_t i, end;
	int too_long = 0;

	if (dkim_keyrec_parse(record, len, &k, &error) < 0) {
		*reason_r = error;
		return DKIM_RESULT_PERMERROR;
	}
	if (testing_r != NULL)
		*testing_r = k.testing;
	/* p= without its FWS, copied a run of base64 at a time. */
	b64 = buf_new(DKIM_KEYREC_MAX);
	for (i = 0; i < k.p_len && !too_long; i = end) {
		while (i < k.p_len && key_fws(k.p[i]))
			i++;
		for (end = i; end < k.p_len && !key_fws(k.p[end]); end++)
			;
		too_long = buf_append(b64, k.p + i, end - i) < 0;
	}
	if (too_long) {
		result = DKIM_RESULT_PERMERROR;
		*reason_r = "key p= bad base64";
	} else if (buf_len(b64) == 0) {
		result = DKIM_RESULT_FAIL;
		*reason_r = "key revoked";
	} else if ((k.type == DKIM_KEYREC_ED25519) !=
	    (sig->alg == DKIM_ALG_ED25519_SHA256)) {
		result = DKIM_RESULT_PERMERROR;
		*reason_r = "key type is not a=";
	} else if (!k.sha256) {
		result = DKIM_RESULT_PERMERROR;
		*reason_r = "key h= without sha256";
	} else if (!k.email) {
		result = DKIM_RESULT_PERMERROR;
		*reason_r = "key s= not email";
	} else if (k.strict && !auid_exact(sig)) {
		result = DKIM_RESULT_PERMERROR;
		*reason_r = "key t=s, i= in a subdomain";
	}
	if (result != DKIM_RESULT_NONE) {
		buf_free(&b64);
		return result;
	}
	der = buf_new(DKIM_KEY_P_MAX);
	if (base64_decode(buf_cstr(b64), buf_len(b64), der) < 0) {
		result = DKIM_RESULT_PERMERROR;
		*reason_r = "key p= bad base64";
	} else {
		struct dkim_pubcache *once = cache == NULL ?
		    dkim_pubcache_new(1) : NULL;
		struct dkim_pubcache *use = cache != NULL ? cache : once;

		key = dkim_pubcache_get(use, k.type,
		    (const unsigned char *) buf_cstr(der), buf_len(der),
		    &error);
		if (key == NULL) {
			result = DKIM_RESULT_PERMERROR;
			*reason_r = error;
		} else if (sig_check(sig, digest, digest_len, use, key)) {
			result = DKIM_RESULT_PASS;
			*reason_r = "good signature";
		} else {
			result = DKIM_RESULT_FAIL;
			*reason_r = "signature mismatch";
		}
		EVP_PKEY_free(key);
		dkim_pubcache_free(&once);
	}
	buf_free(&der);
	buf_free(&b64);
	return result;
}

/* Check s with the key record text. */
static void
sig_verify(struct dkim_verifier *v, struct vsig *s, const char *record,
	size_t len)
{
	const char *reason = NULL;
	enum dkim_result result;

	result = dkim_key_check(v->cache, &s->sig, s->digest, s->digest_len,
	    record, len, &s->res.testing, &reason);
	sig_decide(s, result, reason);
}

void
dkim_verifier_key(struct dkim_verifier *v, size_t i,
	enum dkim_key_lookup lookup, const char *record, size_t len)
{
	struct vsig *s;

	if (i >= v->sig_count || !v->finished)
		return;
	s = &v->sigs[i];
	if (s->res.result != DKIM_RESULT_NONE)
		return;
	if (lookup == DKIM_LOOKUP_TEMPFAIL)
		sig_decide(s, DKIM_RESULT_TEMPERROR, "key lookup failed");
	else if (lookup == DKIM_LOOKUP_NONE || record == NULL)
		sig_decide(s, DKIM_RESULT_PERMERROR, "no key record");
	else
		sig_verify(v, s, record, len);
}

const struct dkim_verify_result *
dkim_verifier_result(const struct dkim_verifier *v, size_t i)
{
	static const struct dkim_verify_result none = {
		DKIM_RESULT_NONE, NULL, NULL, "no such signature", 0
	};

	if (i >= v->sig_count)
		return &none;
	return &v->sigs[i].res;
}

/*
 * smtpd_authres: the header filter, DKIM signing and verification, the
 * Authentication-Results field and the DMARC decision (see
 * smtpd_authres.h; SPF and DMARC lookups are in smtpd_authres_check.c).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>


#include "buf.h"
#include "dkim_domain.h"
#include "dkim_keycache.h"
#include "dkim_keys.h"
#include "dkim_record.h"
#include "dkim_sign.h"
#include "dkim_verify.h"
#include "log.h"
#include "mail_params.h"
#include "params.h"
#include "qfile.h"
#include "route.h"
#include "smtpd.h"
#include "smtpd_arc.h"
#include "smtpd_authres.h"
#include "smtpd_authres_check.h"
#include "smtpd_authres_dns.h"
#include "smtpd_authres_from.h"
#include "smtpd_trust.h"
#include "xalloc.h"

#define AR_SIGNERS 2
/* DKIM keys looked up ahead, at most (the rest when asked). */
#define AR_PREFETCH_KEYS 4
/* Signing keys kept parsed per process (two a domain), least used out. */
#define AR_KEYCACHE_MAX 256
/* Verification keys kept parsed per process, least used out. */
#define AR_PUBCACHE_MAX 128
/* A field over SMTPD_AUTHRES_FIELD_MAX: passed on unexamined, or dropped. */
#define AR_LONG_PASS 1
#define AR_LONG_DROP 2

struct smtpd_authres {
	char *queue_id;
	int verify;			/* mx: check */
	int sign;			/* submission: sign when keys exist */
	int keys_unavailable;		/* the From: domain's keys could not
					   be read: 451, never unsigned */
	/* The header filter. */
	struct buf *field;		/* the field being read */
	struct buf *header;		/* the header as passed on */
	int in_body;
	int line_start;			/* the last byte ended a line */
	int field_overflow;		/* AR_LONG_*: field too long to examine */
	int header_overflow;		/* no DKIM: header too big */
	int out_failed;
	size_t removed;			/* forged A-R fields dropped */
	struct smtpd_from from;		/* the author domains */
	size_t keys_asked;		/* key lookups started from fields */
	/* DKIM */
	int started;
	struct dkim_verifier *verifier;
	struct smtpd_arc *arc;		/* sealing a forward (mx) */
	struct dkim_signer *signers[AR_SIGNERS];
	char *signer_selectors[AR_SIGNERS];
	size_t signer_count;
	int queue_only;			/* folder records: no direct delivery */
	/* Asked for together at the end of the header (mx). */
	char *spf_domain;		/* envelope (or HELO) domain */
	/* The checks' results; key lookups start at the end of header. */
	struct smtpd_authres_result ck;
};

static int ar_enabled;
/* Signing: private keys parsed once a process. */
static struct dkim_keycache *ar_keys;
/* Verifying: public keys parsed once a process (by their p= bytes). */
static struct dkim_pubcache *ar_pubkeys;

const char *
smtpd_authres_id(void)
{
	return *var_smtpd_authserv_id != '\0' ? var_smtpd_authserv_id :
	    smtpd.hostname;
}

void
smtpd_authres_init(void)
{
	if (!(smtpd.mode == SMTPD_MODE_MX ? var_smtpd_sender_auth :
	    var_smtpd_dkim_signing))
		return;
	ar_enabled = 1;
	if (smtpd.mode == SMTPD_MODE_MX) {
		smtpd_authres_check_init();
		ar_pubkeys = dkim_pubcache_new(AR_PUBCACHE_MAX);
	} else
		ar_keys = dkim_keycache_new(AR_KEYCACHE_MAX);
}

/* The domain SPF checks: the envelope sender's, or HELO for <>. */
static const char *
ar_spf_domain(const struct smtpd_session *ss)
{
	const char *sender = ss->env.sender != NULL ? ss->env.sender : "";
	const char *d = *sender == '\0' ? ss->helo :
	    strrchr(sender, '@') != NULL ? strrchr(sender, '@') + 1 : NULL;

	return d != NULL && dkim_domain_valid(d) ? d : NULL;
}

void
smtpd_authres_mail(const struct smtpd_session *ss)
{
	const char *d;

	if (!ar_enabled || smtpd.mode != SMTPD_MODE_MX)
		return;
	d = ar_spf_domain(ss);
	if (d != NULL)
		smtpd_authres_dns_prefetch(DNS_TYPE_TXT, d);
}

void
smtpd_authres_reset(void)
{
	if (ar_enabled && smtpd.mode == SMTPD_MODE_MX)
		smtpd_authres_dns_reset();
}

struct smtpd_authres *
smtpd_authres_new(struct smtpd_session *ss, const char *queue_id)
{
	struct smtpd_authres *ar;
	int verify = 0, sign = 0;

	if (!ar_enabled)
		return NULL;
	if (smtpd.mode == SMTPD_MODE_MX)
		verify = 1;
	else if (ss->auth_user != NULL || smtpd_trust_client(ss))
		sign = 1;
	ar = xcalloc(1, sizeof(*ar));
	ar->queue_id = xstrdup(queue_id);
	ar->verify = verify;
	ar->sign = sign;
	ar->field = buf_new(SMTPD_AUTHRES_FIELD_MAX);
	ar->header = buf_new(SMTPD_AUTHRES_HEADER_MAX);
	ar->line_start = 1;
	if (verify) {
		const char *d = ar_spf_domain(ss);

		if (d != NULL)
			ar->spf_domain = xstrdup(d);
		ar->arc = smtpd_arc_new(ss, queue_id, ar_pubkeys);
	}
	return ar;
}

void
smtpd_authres_free(struct smtpd_authres **arp)
{
	struct smtpd_authres *ar = *arp;
	size_t i;

	if (ar == NULL)
		return;
	dkim_verifier_free(&ar->verifier);
	smtpd_arc_free(&ar->arc);
	for (i = 0; i < ar->signer_count; i++) {
		dkim_signer_free(&ar->signers[i]);
		free(ar->signer_selectors[i]);
	}
	smtpd_authres_result_clear(&ar->ck);
	buf_free(&ar->field);
	buf_free(&ar->header);
	smtpd_from_clear(&ar->from);
	free(ar->spf_domain);
	free(ar->queue_id);
	free(ar);
	*arp = NULL;
}

/* Feed the DKIM handles. */
static void
ar_feed(struct smtpd_authres *ar, const void *data, size_t len)
{
	size_t i;

	if (len == 0)
		return;
	if (ar->verifier != NULL)
		dkim_verifier_chunk(ar->verifier, data, len);
	if (ar->arc != NULL)
		smtpd_arc_chunk(ar->arc, data, len);
	for (i = 0; i < ar->signer_count; i++)
		(void) dkim_signer_chunk(ar->signers[i], data, len);
}

/*
 * A signer for the domain's key of type, if it has one now; the key
 * comes parsed from the process's cache (a stat a message).
 */
static void
ar_start_signer(struct smtpd_authres *ar, const struct dkim_keyset *set,
	enum dkim_key_type type)
{
	const struct dkim_key *key;
	struct dkim_signer *signer = NULL;
	char *path, *error = NULL;
	EVP_PKEY *pkey;
	int loaded;

	key = dkim_keys_signing(set, type, (long long) time(NULL));
	if (key == NULL)
		return;
	path = dkim_key_file_path(var_dkim_key_directory, ar->from.strict,
	    key);
	pkey = dkim_keycache_get(ar_keys, path, type, &loaded, &error);
	if (pkey != NULL) {
		if (loaded)
			log_info("%s: dkim key %s loaded", ar->queue_id, path);
		signer = dkim_signer_new(pkey, type, ar->from.strict,
		    key->selector, &error);
		EVP_PKEY_free(pkey);
	}
	free(path);
	if (signer == NULL) {
		log_error("%s: dkim key %s for %s: %s", ar->queue_id,
		    key->selector, ar->from.strict, error);
		free(error);
		return;
	}
	ar->signer_selectors[ar->signer_count] = xstrdup(key->selector);
	ar->signers[ar->signer_count++] = signer;
}

static void
ar_prefetch_dmarc(const char *from_domain)
{
	char *name = xasprintf("_dmarc.%s", from_domain);

	smtpd_authres_dns_prefetch(DNS_TYPE_TXT, name);
	free(name);
}

/*
 * A DKIM-Signature field's value was read: ask for its key now (d= and
 * s= only; the verifier parses the rest at the end of the header).
 */
static void
ar_prefetch_key(struct smtpd_authres *ar, const char *value, size_t len)
{
	struct dkim_tag tags[DKIM_TAGS_MAX];
	char *domain = NULL, *selector = NULL, *name;
	int i, n;

	if (ar->keys_asked >= AR_PREFETCH_KEYS || len > DKIM_SIG_MAX)
		return;
	n = dkim_tags_parse(value, len, tags, DKIM_TAGS_MAX);
	for (i = 0; i < n; i++) {
		if (tags[i].name_len != 1)
			continue;
		if (tags[i].name[0] == 'd' && domain == NULL)
			domain = xstrndup(tags[i].value, tags[i].value_len);
		else if (tags[i].name[0] == 's' && selector == NULL)
			selector = xstrndup(tags[i].value,
			    tags[i].value_len);
	}
	if (domain != NULL && selector != NULL &&
	    dkim_domain_valid(domain) && dkim_sig_selector_valid(selector)) {
		name = xasprintf("%s._domainkey.%s", selector, domain);
		smtpd_authres_dns_prefetch(DNS_TYPE_TXT, name);
		free(name);
		ar->keys_asked++;
	}
	free(domain);
	free(selector);
}

/*
 * The header is complete: every lookup it names is on its way (the SPF
 * record since MAIL FROM, the DMARC record and the keys since their
 * fields were read); ask for any key the verifier names that the quick
 * look at the field missed.  They are answered while the body arrives.
 */
static void
ar_prefetch(struct smtpd_authres *ar)
{
	const char *key;
	size_t i, keys = 0;

	if (ar->spf_domain != NULL)
		smtpd_authres_dns_prefetch(DNS_TYPE_TXT, ar->spf_domain);
	for (i = 0; i < ar->from.domain_count; i++)
		ar_prefetch_dmarc(ar->from.domains[i]);
	for (i = 0; ar->verifier != NULL && keys < AR_PREFETCH_KEYS &&
	    i < dkim_verifier_count(ar->verifier); i++) {
		key = dkim_verifier_key_name(ar->verifier, i);
		if (key != NULL) {
			smtpd_authres_dns_prefetch(DNS_TYPE_TXT, key);
			keys++;
		}
	}
	if (ar->arc != NULL)
		smtpd_arc_prefetch(ar->arc);
}

/* The header is complete (or over the cap): make the DKIM handles. */
static void
ar_start(struct smtpd_authres *ar)
{
	struct dkim_keyset set;
	char *error = NULL;

	if (ar->started)
		return;
	ar->started = 1;
	if (ar->header_overflow) {
		log_info("%s: header over %d bytes: no DKIM", ar->queue_id,
		    SMTPD_AUTHRES_HEADER_MAX);
		smtpd_arc_free(&ar->arc);
		return;
	}
	if (ar->verify)
		ar->verifier = dkim_verifier_new(ar_pubkeys,
		    (long long) time(NULL));
	if (ar->sign && ar->from.strict != NULL && ar->from.mailboxes == 1) {
		enum dkim_source source;
		int rc = dkim_domain_keys(smtpd_route(),
		    var_dkim_key_directory, ar->from.strict, &set, &source,
		    &error);

		if (rc < 0) {
			log_error("%s: dkim keys of %s: %s", ar->queue_id,
			    ar->from.strict, error);
			free(error);
			ar->keys_unavailable = 1;
		} else if (rc > 0) {
			ar_start_signer(ar, &set, DKIM_KEY_RSA);
			ar_start_signer(ar, &set, DKIM_KEY_ED25519);
			dkim_keys_clear(&set);
		}
	}
	ar_feed(ar, buf_cstr(ar->header), buf_len(ar->header));
	if (ar->verify) {
		/* The key names are known now: ask while the body comes. */
		smtpd_authres_check_begin(&ar->ck);
		ar_prefetch(ar);
	}
}

/* Does this Authentication-Results value claim authserv-id id? */
static int
ar_claims_id(const char *value, size_t len, const char *id)
{
	const char *p = value, *end = value + len, *start;
	int depth = 0;

	/* CFWS before the authserv-id (RFC 8601 2.2). */
	for (; p < end; p++) {
		if (*p == '(')
			depth++;
		else if (*p == ')' && depth > 0)
			depth--;
		else if (depth == 0 && *p != ' ' && *p != '\t' &&
		    *p != '\r' && *p != '\n')
			break;
	}
	/* The id ends at a space or any control (a NUL too), ';' or '('. */
	start = p;
	while (p < end && *p != ';' && *p != '(' &&
	    (unsigned char) *p > ' ' && *p != 0x7f)
		p++;
	return (size_t) (p - start) == strlen(id) &&
	    strncasecmp(start, id, (size_t) (p - start)) == 0;
}

/* The field name of a header field is name (case-insensitive)? */
static int
ar_field_is(const char *field, size_t len, const char *name, size_t *value_r)
{
	size_t n = strlen(name), i = n;

	if (len <= n || strncasecmp(field, name, n) != 0)
		return 0;
	while (i < len && (field[i] == ' ' || field[i] == '\t'))
		i++;
	if (i >= len || field[i] != ':')
		return 0;
	*value_r = i + 1;
	return 1;
}

/* A complete header field (or the empty line): examine, pass on. */
static int
ar_emit(struct smtpd_authres *ar, smtpd_authres_out_fn *out, void *ctx)
{
	const char *f = buf_cstr(ar->field);
	size_t len = buf_len(ar->field), v;
	int rc = 0;

	if (len == 0)
		return 0;
	if (!ar->field_overflow &&
	    ar_field_is(f, len, "Authentication-Results", &v) &&
	    ar_claims_id(f + v, len - v, smtpd_authres_id())) {
		ar->removed++;
		buf_reset(ar->field);
		return 0;
	}
	if (!ar->field_overflow && ar_field_is(f, len, "From", &v)) {
		size_t i = ar->from.domain_count;

		smtpd_from_field(&ar->from, f + v, len - v);
		/* At most SMTPD_FROM_DOMAINS_MAX lookups. */
		for (; ar->verify && i < ar->from.domain_count; i++)
			ar_prefetch_dmarc(ar->from.domains[i]);
	}
	if (ar->verify && !ar->field_overflow &&
	    ar_field_is(f, len, "DKIM-Signature", &v))
		ar_prefetch_key(ar, f + v, len - v);
	if (!ar->header_overflow && buf_append(ar->header, f, len) < 0)
		ar->header_overflow = 1;
	if (out(ctx, f, len) < 0)
		rc = -1;
	buf_reset(ar->field);
	ar->field_overflow = 0;
	return rc;
}

/*
 * Pass on span (up to and including a line end, or the end of what
 * came) of a field too long to examine, as it is.
 */
static int
ar_pass_long(struct smtpd_authres *ar, const char *span, size_t len,
	smtpd_authres_out_fn *out, void *ctx)
{
	if (!ar->header_overflow && buf_append(ar->header, span, len) < 0)
		ar->header_overflow = 1;
	return out(ctx, span, len);
}

/*
 * A field too long to examine begins (its start in ar->field, then span):
 * AR_LONG_DROP for an Authentication-Results field, whatever id it
 * claims (the id may lie past what was read); else AR_LONG_PASS, and a
 * From: field makes the author unreadable (a DMARC failure).
 */
static int
ar_long_field(struct smtpd_authres *ar, const char *span, size_t len)
{
	char head[64];
	size_t n = buf_len(ar->field), v;

	if (n > sizeof(head))
		n = sizeof(head);
	memcpy(head, buf_cstr(ar->field), n);
	if (len > sizeof(head) - n)
		len = sizeof(head) - n;
	memcpy(head + n, span, len);
	n += len;
	if (ar_field_is(head, n, "Authentication-Results", &v)) {
		ar->removed++;
		return AR_LONG_DROP;
	}
	if (ar_field_is(head, n, "From", &v))
		smtpd_from_long_field(&ar->from);
	return AR_LONG_PASS;
}

int
smtpd_authres_write(struct smtpd_authres *ar, const void *data, size_t len,
	smtpd_authres_out_fn *out, void *ctx)
{
	const char *p = data, *end = p + len, *nl, *f;
	size_t span;

	if (ar->out_failed)
		return -1;
	/* The header a line (or what came of it) at a time. */
	while (p < end && !ar->in_body) {
		if (ar->line_start && *p != ' ' && *p != '\t') {
			/* A new field: the one before is complete. */
			if (ar_emit(ar, out, ctx) < 0)
				goto fail;
			ar->field_overflow = 0;
		}
		nl = memchr(p, '\n', (size_t) (end - p));
		span = nl != NULL ? (size_t) (nl - p) + 1 : (size_t) (end - p);
		ar->line_start = nl != NULL;
		if (ar->field_overflow) {
			if (ar->field_overflow == AR_LONG_PASS &&
			    ar_pass_long(ar, p, span, out, ctx) < 0)
				goto fail;
		} else if (buf_append(ar->field, p, span) < 0) {
			/* Too long to examine: pass it on as it is. */
			ar->field_overflow = ar_long_field(ar, p, span);
			if (ar->field_overflow == AR_LONG_PASS &&
			    (ar_pass_long(ar, buf_cstr(ar->field),
			    buf_len(ar->field), out, ctx) < 0 ||
			    ar_pass_long(ar, p, span, out, ctx) < 0))
				goto fail;
			buf_reset(ar->field);
		}
		p += span;
		f = buf_cstr(ar->field);
		if (nl != NULL && !ar->field_overflow &&
		    (buf_len(ar->field) == 1 ||
		    (buf_len(ar->field) == 2 && f[0] == '\r'))) {
			/* The empty line: the body follows. */
			if (ar_emit(ar, out, ctx) < 0)
				goto fail;
			ar->in_body = 1;
			ar_start(ar);
		}
	}
	if (p < end) {
		if (out(ctx, p, (size_t) (end - p)) < 0)
			goto fail;
		ar_feed(ar, p, (size_t) (end - p));
	}
	return 0;
fail:
	ar->out_failed = 1;
	return -1;
}

int
smtpd_authres_finish(struct smtpd_authres *ar, smtpd_authres_out_fn *out,
	void *ctx)
{
	if (ar->out_failed)
		return -1;
	if (!ar->in_body && ar_emit(ar, out, ctx) < 0) {
		ar->out_failed = 1;
		return -1;
	}
	ar_start(ar);
	return 0;
}

/* Finish the signatures and queue them above the message. */
static void
ar_sign_end(struct smtpd_authres *ar, struct qfile_writer *w)
{
	char *field, *error = NULL;
	size_t i;

	for (i = 0; i < ar->signer_count; i++) {
		field = dkim_signer_finish(ar->signers[i],
		    (long long) time(NULL), &error);
		if (field == NULL) {
			log_error("%s: dkim signing with %s for %s: %s",
			    ar->queue_id, ar->signer_selectors[i],
			    ar->from.strict, error);
			free(error);
			error = NULL;
			continue;
		}
		if (qfile_writer_prepend_header(w, field, &error) < 0) {
			log_error("%s: DKIM-Signature: %s", ar->queue_id,
			    error);
			free(error);
			error = NULL;
		} else {
			log_info("%s: dkim signed d=%s s=%s", ar->queue_id,
			    ar->from.strict, ar->signer_selectors[i]);
		}
		free(field);
	}
}

/* The verification results, one A-R clause each, into ck. */
static void
ar_verify_end(struct smtpd_authres *ar, struct smtpd_authres_result *ck)
{
	size_t i, n;

	if (ar->verifier == NULL)
		return;
	dkim_verifier_finish(ar->verifier);
	n = dkim_verifier_count(ar->verifier);
	for (i = 0; i < n; i++) {
		const char *name = dkim_verifier_key_name(ar->verifier, i);

		if (name != NULL)
			smtpd_authres_dkim_key(ar->verifier, i, name);
	}
	for (i = 0; i < n && ck->dkim_count < SMTPD_AUTHRES_SIGS; i++) {
		const struct dkim_verify_result *r =
		    dkim_verifier_result(ar->verifier, i);
		struct smtpd_authres_sig *s = &ck->dkim[ck->dkim_count];

		/* Unparsable: no domain to name in the field. */
		if (r->domain == NULL || !dkim_domain_valid(r->domain))
			continue;
		s->domain = xstrdup(r->domain);
		s->selector = r->selector != NULL &&
		    dkim_sig_selector_valid(r->selector) ?
		    xstrdup(r->selector) : NULL;
		s->result = dkim_result_name(r->result);
		s->reason = r->reason;
		ck->dkim_count++;
	}
}

/*
 * Recipient i honours p=reject (1) or takes the message to Junk (0)?  The
 * mailbox's dmarc attribute first, then its domain's (the domain of the
 * record the address resolved to), then smtpd_dmarc_junk_domains and
 * smtpd_dmarc_reject_policy.  A directory that cannot answer means Junk:
 * accepted and filed, nothing lost, nobody's mail deferred.
 */
static int
ar_rcpt_honours(struct smtpd_authres *ar, struct smtpd_session *ss,
	size_t i)
{
	const char *address = ss->env.rcpts[i].address;
	const char *at = strrchr(address, '@');
	struct route_answer *ans = NULL;
	struct route *r = smtpd_route();
	char *error = NULL;
	char **junk;
	int count, j, honour, rc;

	rc = r == NULL ? -1 : route_lookup_fields(r, address,
	    ROUTE_FIELD_DMARC, &ans, &error);
	if (rc < 0) {
		log_warn("%s: dmarc policy of <%s>: %s: Junk", ar->queue_id,
		    address, error != NULL ? error : "no routing directory");
		free(error);
		return 0;
	}
	free(error);
	honour = -1;
	if (rc == 1 && ans->kind == ROUTE_KIND_MAILBOX &&
	    ans->mailbox->dmarc != ROUTE_DMARC_DEFAULT)
		honour = ans->mailbox->dmarc == ROUTE_DMARC_HONOUR;
	else if (rc == 1 && ans->domain != NULL &&
	    ans->domain->dmarc != ROUTE_DMARC_DEFAULT)
		honour = ans->domain->dmarc == ROUTE_DMARC_HONOUR;
	route_answer_free(&ans);
	if (honour >= 0)
		return honour;
	if (strcasecmp(var_smtpd_dmarc_reject_policy, "honour") != 0 &&
	    strcasecmp(var_smtpd_dmarc_reject_policy, "honor") != 0)
		return 0;
	junk = params_list_split(var_smtpd_dmarc_junk_domains, &count);
	honour = 1;
	for (j = 0; at != NULL && j < count; j++)
		if (strcasecmp(at + 1, junk[j]) == 0)
			honour = 0;
	params_list_free(junk);
	return honour;
}

/*
 * The DMARC decision for every recipient: 550 when the policy is reject
 * and every recipient honours it; else each copy to the Junk folder
 * (F records, as the content filter does for spam).  A recipient that
 * would honour a reject gets Junk too when another recipient does not:
 * a 250 has to be answered for all of them, and a copy silently
 * discarded after it would be mail lost.  -1: 550 sent.
 */
static int
ar_dmarc_decide(struct smtpd_authres *ar, struct smtpd_session *ss,
	struct qfile_writer *w)
{
	struct smtpd_authres_result *ck = &ar->ck;
	struct buf *rec;
	char *error = NULL;
	size_t i, honour = 0;
	int rc = 0;

	if (!ck->dmarc_fail || (ck->dmarc_policy != SMTPD_DMARC_REJECT &&
	    ck->dmarc_policy != SMTPD_DMARC_QUARANTINE))
		return 0;
	if (ck->dmarc_policy == SMTPD_DMARC_REJECT) {
		for (i = 0; i < ss->env.rcpt_count; i++)
			honour += (size_t) ar_rcpt_honours(ar, ss, i);
		if (honour == ss->env.rcpt_count && ck->from_unreadable) {
			log_info("%s: reject: From: field unreadable for "
			    "DMARC", ar->queue_id);
			smtpd_reply(ss, "550 5.7.1 Message rejected: its From: "
			    "field cannot be checked by DMARC");
			return -1;
		}
		if (honour == ss->env.rcpt_count) {
			log_info("%s: reject: DMARC policy of %s says reject",
			    ar->queue_id, ck->from_domain);
			smtpd_reply(ss, "550 5.7.1 Message rejected by the "
			    "DMARC policy of %s", ck->from_domain);
			return -1;
		}
	}
	rec = buf_new(QFILE_RECORD_MAX);
	for (i = 0; i < ss->env.rcpt_count && rc == 0; i++) {
		rc = qfile_record_filter(rec, (int) i, "dmarc",
		    var_filter_junk_folder);
		log_info("%s: to=<%s>, dmarc %s policy of %s: folder=%s",
		    ar->queue_id, ss->env.rcpts[i].address,
		    ck->from_unreadable ? "local" :
		    ck->dmarc_policy == SMTPD_DMARC_REJECT ? "reject" :
		    "quarantine", ck->from_unreadable ? "an unreadable From:" :
		    ck->from_domain, var_filter_junk_folder);
	}
	if (rc == 0)
		rc = qfile_writer_trailer(w, rec, &error);
	buf_free(&rec);
	if (rc < 0) {
		log_error("%s: dmarc folder records: %s", ar->queue_id,
		    error != NULL ? error : "too long");
		free(error);
		smtpd_reply(ss, "451 4.3.0 Error: queue file write error");
		return -1;
	}
	ar->queue_only = 1;
	return 0;
}

int
smtpd_authres_queue_only(const struct smtpd_authres *ar)
{
	return ar != NULL && ar->queue_only;
}

int
smtpd_authres_end(struct smtpd_authres *ar, struct smtpd_session *ss,
	struct qfile_writer *w)
{
	struct smtpd_authres_result *ck = &ar->ck;
	char *field, *error = NULL;
	int rc = 0;

	if (ar->removed > 0)
		log_info("%s: removed %zu Authentication-Results field%s "
		    "claiming authserv-id %s", ar->queue_id, ar->removed,
		    ar->removed == 1 ? "" : "s", smtpd_authres_id());
	if (ar->sign) {
		if (ar->keys_unavailable) {
			/* Unsigned mail of a signing domain fails DMARC. */
			smtpd_reply(ss, "451 4.3.0 DKIM keys of %s unavailable, "
			    "try again later", ar->from.strict);
			return -1;
		}
		ar_sign_end(ar, w);
		return 0;
	}
	if (!ar->verify)
		return 0;
	/* A new deadline: the body may have taken its time. */
	smtpd_authres_check_begin(ck);
	ar_verify_end(ar, ck);
	smtpd_authres_spf(ss, ck);
	smtpd_authres_dmarc(ss, (const char *const *) ar->from.domains,
	    ar->from.domain_count, ar->from.unreadable, ck);
	if (ar->arc != NULL)
		ck->arc = smtpd_arc_check(ar->arc);
	field = smtpd_authres_field(smtpd_authres_id(), ck);
	/* The ARC set goes on top, our A-R below it (both above). */
	if (ar->arc != NULL)
		smtpd_arc_end(ar->arc, field, w);
	if (qfile_writer_prepend_header(w, field, &error) < 0) {
		log_error("%s: Authentication-Results: %s", ar->queue_id,
		    error);
		free(error);
	}
	log_info("%s: %s", ar->queue_id, ck->summary);
	rc = ar_dmarc_decide(ar, ss, w);
	free(field);
	return rc;
}

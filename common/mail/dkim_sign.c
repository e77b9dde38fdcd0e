/* dkim_sign: relaxed/relaxed DKIM signatures with OpenSSL (see .h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "buf.h"
#include "dkim_canon.h"
#include "dkim_sign.h"
#include "sasl.h"
#include "xalloc.h"

/* The fields signed when present (RFC 6376 5.4.1, RFC 8058 3.3). */
static const char *const sign_fields[] = {
	"from", "sender", "reply-to", "subject", "date", "message-id",
	"to", "cc", "mime-version", "content-type",
	"content-transfer-encoding", "content-id", "content-description",
	"resent-date", "resent-from", "resent-sender", "resent-to",
	"resent-cc", "resent-message-id", "in-reply-to", "references",
	"list-id", "list-help", "list-unsubscribe", "list-unsubscribe-post",
	"list-subscribe", "list-post", "list-owner", "list-archive",
};
#define SIGN_FIELDS (sizeof(sign_fields) / sizeof(sign_fields[0]))


/* Fold the field's lines before this column. */
#define FOLD_COLUMN 76
/*
 * The most instances of one field name signed: the last ones (5.4.2
 * counts from the bottom).  A message with thousands of To: lines would
 * otherwise get an h= too large for a queue file's header record.
 */
#define SIGN_INSTANCES_MAX 8

struct dkim_signer {
	EVP_PKEY *key;
	enum dkim_key_type type;
	char *domain, *selector;
	/* The header, kept until the end. */
	struct buf *header;
	enum dkim_header_state hstate;
	int failed, finished;
	int arc_instance;		/* > 0: an ARC-Message-Signature */
	/* The relaxed body (3.4.4), hashed as it streams. */
	struct dkim_body *body;
};

struct dkim_signer *
dkim_signer_new(EVP_PKEY *key, enum dkim_key_type type, const char *domain,
	const char *selector, char **error_r)
{
	struct dkim_signer *s;

	if (!dkim_domain_valid(domain) || !dkim_selector_valid(selector)) {
		*error_r = xasprintf("bad domain or selector");
		return NULL;
	}
	if (type == DKIM_KEY_ED25519 ? !EVP_PKEY_is_a(key, "ED25519") :
	    !EVP_PKEY_is_a(key, "RSA")) {
		*error_r = xasprintf("key is not %s",
		    dkim_key_type_name(type));
		return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	EVP_PKEY_up_ref(key);
	s->key = key;
	s->type = type;
	s->domain = xstrdup(domain);
	s->selector = xstrdup(selector);
	s->header = buf_new(DKIM_SIGN_HEADER_MAX);
	s->body = dkim_body_new(1, EVP_sha256(), -1);
	if (s->body == NULL)
		s->failed = 1;
	return s;
}

void
dkim_signer_free(struct dkim_signer **sp)
{
	struct dkim_signer *s = *sp;

	if (s == NULL)
		return;
	EVP_PKEY_free(s->key);
	dkim_body_free(&s->body);
	buf_free(&s->header);
	free(s->domain);
	free(s->selector);
	free(s);
	*sp = NULL;
}

int
dkim_signer_chunk(struct dkim_signer *s, const void *data, size_t len)
{
	const unsigned char *p = data, *end = p + len;
	int overflow = 0;

	p += dkim_header_take(s->header, &s->hstate, &overflow, p, len);
	if (overflow < 0) {
		s->failed = 1;
		return -1;
	}
	if (p < end)
		dkim_body_feed(s->body, p, (size_t) (end - p));
	return s->failed ? -1 : 0;
}

/* One field of the header: where it is and which signed name it has. */
struct field_ref {
	const char *text;
	size_t len;
	size_t name;			/* index into sign_fields */
};

/* The header's fields that are signed, top to bottom; count in *n_r. */
static struct field_ref *
header_fields(const char *h, size_t len, size_t *n_r)
{
	struct dkim_field *all;
	struct field_ref *refs;
	size_t count, n = 0, i, j;

	all = dkim_header_fields(h, len, &count);
	refs = xreallocarray(NULL, count + 1, sizeof(*refs));
	for (j = 0; j < count; j++) {
		for (i = 0; i < SIGN_FIELDS; i++)
			if (strlen(sign_fields[i]) == all[j].name_len &&
			    strncasecmp(sign_fields[i], all[j].text,
			    all[j].name_len) == 0)
				break;
		if (i == SIGN_FIELDS)
			continue;
		refs[n].text = all[j].text;
		refs[n].len = all[j].len;
		refs[n].name = i;
		n++;
	}
	free(all);
	*n_r = n;
	return refs;
}

/* Append name to the h= list, folding before it when the line is full. */
static void
tag_list_add(struct buf *sig, size_t *column, const char *name, int first)
{
	size_t n = strlen(name);

	if (!first) {
		(void) buf_append_char(sig, ':');
		(*column)++;
	}
	if (*column + n + 1 > FOLD_COLUMN) {
		(void) buf_append_str(sig, "\r\n\t ");
		*column = 9;
	}
	(void) buf_append_str(sig, name);
	*column += n;
}

/*
 * The header hash input (3.7): the signed fields, bottom-up per name,
 * each relaxed with CRLF, into hin; their names into sig's h= tag.
 * 0, or -1 when there is no From.
 */
static int
header_input(const struct dkim_signer *s, struct buf *hin, struct buf *sig)
{
	const char *h = buf_cstr(s->header);
	struct field_ref *refs;
	size_t n, i, column, counts[SIGN_FIELDS];
	int first = 1;

	refs = header_fields(h, buf_len(s->header), &n);
	memset(counts, 0, sizeof(counts));
	for (i = 0; i < n; i++)
		counts[refs[i].name]++;
	if (counts[0] == 0) {
		free(refs);
		return -1;
	}
	(void) buf_append_str(sig, " h=");
	column = 11;
	for (i = 0; i < SIGN_FIELDS; i++) {
		size_t left = counts[i] < SIGN_INSTANCES_MAX ? counts[i] :
		    SIGN_INSTANCES_MAX, j = n;

		/* The last instance first (5.4.2). */
		while (left > 0 && j-- > 0) {
			if (refs[j].name != i)
				continue;
			(void) dkim_canon_field(hin, refs[j].text, refs[j].len, 1,
			    1);
			tag_list_add(sig, &column, sign_fields[i], first);
			first = 0;
			left--;
		}
	}
	/*
	 * One From more than there is: a second one breaks the signature.
	 * Past the cap the next name would cover an unsigned instance.
	 */
	if (counts[0] < SIGN_INSTANCES_MAX)
		tag_list_add(sig, &column, sign_fields[0], 0);
	(void) buf_append_char(sig, ';');
	free(refs);
	return 0;
}

void
dkim_signer_set_arc(struct dkim_signer *s, int instance)
{
	s->arc_instance = instance;
}

/* The signature of digest (SHA-256) with the key; NULL on failure. */
static unsigned char *
sign_digest(EVP_PKEY *key, enum dkim_key_type type,
	const unsigned char *digest, size_t digest_len, size_t *sig_len_r)
{
	unsigned char *sig = NULL;
	size_t sig_len = 0;
	int ok = 0;

	if (type == DKIM_KEY_ED25519) {
		/* RFC 8463 3: PureEdDSA over the SHA-256 hash. */
		EVP_MD_CTX *md = EVP_MD_CTX_new();

		ok = md != NULL &&
		    EVP_DigestSignInit(md, NULL, NULL, NULL, key) == 1 &&
		    EVP_DigestSign(md, NULL, &sig_len, digest,
		    digest_len) == 1 &&
		    (sig = xmalloc(sig_len)) != NULL &&
		    EVP_DigestSign(md, sig, &sig_len, digest, digest_len) == 1;
		EVP_MD_CTX_free(md);
	} else {
		/* RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017 8.2). */
		EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new(key, NULL);

		ok = pc != NULL && EVP_PKEY_sign_init(pc) == 1 &&
		    EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) == 1 &&
		    EVP_PKEY_CTX_set_signature_md(pc, EVP_sha256()) == 1 &&
		    EVP_PKEY_sign(pc, NULL, &sig_len, digest,
		    digest_len) == 1 &&
		    (sig = xmalloc(sig_len)) != NULL &&
		    EVP_PKEY_sign(pc, sig, &sig_len, digest, digest_len) == 1;
		EVP_PKEY_CTX_free(pc);
	}
	if (!ok) {
		free(sig);
		return NULL;
	}
	*sig_len_r = sig_len;
	return sig;
}

/* Append data's base64, folded: the first part fits after "b=". */
static void
append_folded_b64(struct buf *sig, const unsigned char *data, size_t len)
{
	struct buf *b64 = buf_new(DKIM_SIGN_HEADER_MAX);
	const char *t;
	size_t i, n, width = FOLD_COLUMN - 11;

	(void) base64_encode(data, len, b64);
	t = buf_cstr(b64);
	n = buf_len(b64);
	for (i = 0; i < n; i += width) {
		if (i > 0)
			(void) buf_append_str(sig, "\r\n\t ");
		(void) buf_append(sig, t + i, n - i < width ? n - i : width);
	}
	buf_free(&b64);
}

int
dkim_sign_input(EVP_PKEY *key, enum dkim_key_type type, const struct buf *hin,
	struct buf *field)
{
	unsigned char digest[EVP_MAX_MD_SIZE], *sig;
	unsigned int digest_len = 0;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	size_t sig_len;
	int ok;

	ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(md, buf_cstr(hin), buf_len(hin)) == 1 &&
	    EVP_DigestFinal_ex(md, digest, &digest_len) == 1;
	EVP_MD_CTX_free(md);
	if (!ok)
		return -1;
	sig = sign_digest(key, type, digest, digest_len, &sig_len);
	if (sig == NULL)
		return -1;
	append_folded_b64(field, sig, sig_len);
	free(sig);
	return 0;
}

char *
dkim_signer_finish(struct dkim_signer *s, long long now, char **error_r)
{
	unsigned char bh[EVP_MAX_MD_SIZE];
	unsigned int bh_len = 0;
	struct buf *field, *hin, *bh64;
	char *result = NULL;

	if (s->failed) {
		*error_r = xasprintf("header over %d bytes or hash failed",
		    DKIM_SIGN_HEADER_MAX);
		return NULL;
	}
	if (s->finished) {
		*error_r = xasprintf("signed already");
		return NULL;
	}
	s->finished = 1;
	if (dkim_body_finish(s->body, bh, &bh_len, NULL) < 0) {
		*error_r = xasprintf("body hash failed");
		return NULL;
	}
	field = buf_new(DKIM_SIGN_HEADER_MAX);
	hin = buf_new(DKIM_SIGN_HEADER_MAX);
	bh64 = buf_new(256);
	(void) base64_encode(bh, bh_len, bh64);
	/* RFC 8617 4.1.2: an AMS is a DKIM-Signature with i=, no v=. */
	if (s->arc_instance > 0)
		(void) buf_printf(field, "ARC-Message-Signature: i=%d; ",
		    s->arc_instance);
	else
		(void) buf_append_str(field, "DKIM-Signature: v=1; ");
	(void) buf_printf(field, "a=%s; c=relaxed/relaxed;\r\n\t"
	    "d=%s; s=%s; t=%lld;\r\n\t",
	    s->type == DKIM_KEY_ED25519 ? "ed25519-sha256" : "rsa-sha256",
	    s->domain, s->selector, now);
	if (header_input(s, hin, field) < 0) {
		*error_r = xasprintf("no From field");
		goto out;
	}
	(void) buf_printf(field, "\r\n\tbh=%s;\r\n\tb=", buf_cstr(bh64));
	/* The field itself, b= empty, no CRLF, ends the input (3.7). */
	(void) dkim_canon_field(hin, buf_cstr(field), buf_len(field), 1,
	    0);
	if (dkim_sign_input(s->key, s->type, hin, field) < 0) {
		*error_r = xasprintf("%s signature failed",
		    dkim_key_type_name(s->type));
		goto out;
	}
	result = buf_strdup(field);
out:
	buf_free(&field);
	buf_free(&hin);
	buf_free(&bh64);
	return result;
}

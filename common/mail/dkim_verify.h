/*
 * dkim_verify: DKIM verification (RFC 6376) of rsa-sha256 and
 * ed25519-sha256 (RFC 8463) signatures; rsa-sha1 is refused (RFC 8301
 * 3.1).  Sans-I/O: the caller feeds the message as it arrives (header,
 * empty line, body, in pieces of any size), then hands over each
 * signature's key record when asked; where the record comes from (DNS,
 * its cache, its deadline) is the caller's business, so nothing here
 * blocks.
 *
 * Use: dkim_verifier_chunk() until the end; once the header is complete
 * dkim_verifier_count() and _key_name() tell which key records will be
 * wanted (to look them up early); dkim_verifier_finish(); then for each
 * signature whose _key_name() is still non-NULL, dkim_verifier_key()
 * with the lookup's outcome; then _result().
 *
 * Limits: the header is kept up to DKIM_VERIFY_HEADER_MAX bytes (past
 * it, every signature is a permerror); at most DKIM_VERIFY_SIGS
 * signatures a message are verified (the topmost), the rest ignored;
 * the tag limits of dkim_record.h.  Each body hash streams (linear, no
 * buffering); signatures with the same body canonicalization and l=
 * share one.  Header fields are taken bottom-up per name (5.4.2); a
 * name in h= with no instance left signs the null string.
 *
 * Results map to RFC 8601's dkim= values: pass; fail (bad signature,
 * body hash mismatch, revoked key, l= past the body); permerror (a
 * malformed or unsupported signature, expired x=, no key record, a key
 * record that does not fit); temperror (the key lookup failed for now).
 */
#ifndef ISPMAIL_DKIM_VERIFY_H
#define ISPMAIL_DKIM_VERIFY_H

#include <stddef.h>

#include <openssl/evp.h>

#include "dkim_canon.h"
#include "dkim_pubcache.h"

#define DKIM_VERIFY_HEADER_MAX (1024 * 1024)
#define DKIM_VERIFY_SIGS 8

enum dkim_result {
	DKIM_RESULT_NONE = 0,		/* not decided yet */
	DKIM_RESULT_PASS,
	DKIM_RESULT_FAIL,
	DKIM_RESULT_PERMERROR,
	DKIM_RESULT_TEMPERROR,
};

/* How the caller's key lookup went. */
enum dkim_key_lookup {
	DKIM_LOOKUP_FOUND,		/* record given */
	DKIM_LOOKUP_NONE,		/* NXDOMAIN, no TXT */
	DKIM_LOOKUP_TEMPFAIL,
};

/* One signature's outcome (plain record, owned by the verifier). */
struct dkim_verify_result {
	enum dkim_result result;
	const char *domain;		/* d=; NULL when unparsable */
	const char *selector;		/* s=; NULL when unparsable */
	const char *reason;		/* static text */
	int testing;			/* the key says t=y */
};

struct dkim_verifier;

/*
 * A verifier of one message at time now (seconds, for x=); keys come
 * parsed from cache (shared, not owned; NULL: parse every time).
 */
struct dkim_verifier *dkim_verifier_new(struct dkim_pubcache *cache,
	long long now);
void dkim_verifier_free(struct dkim_verifier **vp);
/* The next len bytes of the message. */
void dkim_verifier_chunk(struct dkim_verifier *v, const void *data,
	size_t len);
/* The signatures found, once the header is complete (else 0). */
size_t dkim_verifier_count(const struct dkim_verifier *v);
/*
 * "SELECTOR._domainkey.DOMAIN" of signature i, or NULL when its verdict
 * needs no key (malformed; after finish, body hash mismatch, decided).
 */
const char *dkim_verifier_key_name(const struct dkim_verifier *v, size_t i);
/* The message is complete. */
void dkim_verifier_finish(struct dkim_verifier *v);
/*
 * The key lookup of signature i (after finish): record (len bytes, the
 * TXT strings joined) when lookup is DKIM_LOOKUP_FOUND.  Decides it.
 */
void dkim_verifier_key(struct dkim_verifier *v, size_t i,
	enum dkim_key_lookup lookup, const char *record, size_t len);
/* Signature i's outcome. */
const struct dkim_verify_result *dkim_verifier_result(
	const struct dkim_verifier *v, size_t i);
/*
 * The header hash of sig (RFC 6376 3.7), whose field self (of refs'
 * header) has its value at value_off: the h= fields of refs (n, top to
 * bottom), each the bottom-most instance not yet taken, or without h=
 * every field of refs in order (an ARC-Seal's set fields, RFC 8617
 * 5.1.1), canonicalized with CRLF; then self with b= empty, no CRLF.
 * SHA-256 into digest (EVP_MAX_MD_SIZE).  0, or -1 past a cap.
 */
int dkim_sig_header_hash(const struct dkim_sig *sig,
	const struct dkim_field *refs, size_t n, const struct dkim_field *self,
	size_t value_off, unsigned char *digest, unsigned int *digest_len_r);
/*
 * The same, its input going on from prefix (a SHA-256 context fed with
 * what comes before, copied, not changed): an ARC-Seal's earlier sets
 * hashed once for every seal of the chain, not again for each.
 */
int dkim_sig_header_hash_after(const EVP_MD_CTX *prefix,
	const struct dkim_sig *sig, const struct dkim_field *refs, size_t n,
	const struct dkim_field *self, size_t value_off, unsigned char *digest,
	unsigned int *digest_len_r);
/*
 * Check sig's b= over digest (digest_len bytes, its header hash) with
 * the key record text (len bytes): pass; fail (mismatch, revoked key);
 * permerror (the record does not fit sig).  The key's t=y in *testing_r
 * (may be NULL), why in *reason_r (static).  Keys parsed through cache
 * (NULL: parsed for this call).
 */
enum dkim_result dkim_key_check(struct dkim_pubcache *cache,
	const struct dkim_sig *sig, const unsigned char *digest,
	size_t digest_len, const char *record, size_t len, int *testing_r,
	const char **reason_r);
/* "pass", "fail", "permerror", "temperror", "none". */
const char *dkim_result_name(enum dkim_result r);

#endif

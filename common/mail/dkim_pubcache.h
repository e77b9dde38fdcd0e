/*
 * dkim_pubcache: DKIM public keys parsed once per process.
 *
 * A new key costs a parse (10-50 us: OpenSSL's generic ASN.1 decoder
 * and EVP_PKEY_fromdata(), not OpenSSL 3.0's d2i_PUBKEY(), whose decoder
 * set-up took 0.5-1 ms a key); most mail comes from a few senders.
 * Entries are keyed by the key type and the exact bytes of the key record's p= (decoded),
 * so a cached key is the key those bytes are: no verdict can change, and
 * how long a record is believed stays the DNS cache's business (a key
 * rotated in DNS has other bytes).  At most max entries, the least
 * recently used goes; bytes that do not parse are never kept.
 *
 * RSA keys: SubjectPublicKeyInfo (what every signer publishes; algorithm
 * rsaEncryption) or a bare RSAPublicKey (RFC 6376 3.6.1's wording), all
 * bytes consumed, n positive, e odd and above 1, at least 1024 bits (RFC
 * 8301 3.2), at most 8192.  Ed25519: the 32 raw bytes (RFC 8463 4).
 */
#ifndef ISPMAIL_DKIM_PUBCACHE_H
#define ISPMAIL_DKIM_PUBCACHE_H

#include <stddef.h>

#include <openssl/evp.h>

#include "dkim_record.h"

struct dkim_pubcache;

/* An empty cache of at most max keys (max > 0). */
struct dkim_pubcache *dkim_pubcache_new(size_t max);
void dkim_pubcache_free(struct dkim_pubcache **cp);
/*
 * The key of type that der (len bytes, p= decoded) is: a new reference
 * (EVP_PKEY_free it), or NULL with *error_r (static) when it does not
 * parse, is not of type, or is too short or long.
 */
EVP_PKEY *dkim_pubcache_get(struct dkim_pubcache *c,
	enum dkim_keyrec_type type, const unsigned char *der, size_t len,
	const char **error_r);
/*
 * Does RSA key (from dkim_pubcache_get) sign digest (digest_len bytes
 * of SHA-256) with sig, PKCS#1 v1.5?  1 yes, 0 no.  OpenSSL 3 fetches
 * the algorithm and the digest for every new verification context: a
 * key still in c keeps its context and reuses it; any other key (or c
 * NULL) gets a context of its own for this call.
 */
int dkim_pubcache_rsa_verify(struct dkim_pubcache *c, EVP_PKEY *key,
	const unsigned char *sig, size_t sig_len,
	const unsigned char *digest, size_t digest_len);
/* How many keys the cache has parsed (misses) so far. */
size_t dkim_pubcache_parses(const struct dkim_pubcache *c);

#endif

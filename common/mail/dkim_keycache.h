/*
 * dkim_keycache: DKIM private keys parsed once per process, not once a
 * message.
 *
 * A signer asks for the key in a file by path and type.  The first time,
 * and whenever the file changed, the file is read without following a
 * symlink (a regular file of at most DKIM_KEYCACHE_FILE_MAX bytes),
 * parsed by OpenSSL (PEM: PKCS#8 or the traditional RSA form) and checked
 * against the type: RSA of at least 1024 bits (RFC 8301 3.2) or Ed25519
 * (RFC 8463).  After that a request costs one lstat(2): the file is read
 * again only when its device, inode, size, mtime or ctime differ, so a
 * key replaced by rename or rewritten in place is used from the next
 * message on, without a restart.  A file that is gone drops its entry.
 *
 * Key material: the bytes read are wiped before they are freed; a parsed
 * key lives in its entry until its file changes or goes, the entry is
 * evicted (least recently used, past max entries) or the cache is freed;
 * OpenSSL clears a key's numbers when it frees it.  The first cache of a
 * process sets up OpenSSL's secure heap (CRYPTO_secure_malloc_init),
 * sized for its max keys: parsed private numbers live in locked pages
 * (when RLIMIT_MEMLOCK allows) kept out of core dumps.  RSA keys of more
 * than DKIM_KEYCACHE_RSA_BITS_MAX bits are refused (RFC 8301 3.2:
 * verifiers need not validate them), so the heap cannot run short.
 */
#ifndef ISPMAIL_DKIM_KEYCACHE_H
#define ISPMAIL_DKIM_KEYCACHE_H

#include <stddef.h>

#include <openssl/evp.h>

#include "dkim_keys.h"

#define DKIM_KEYCACHE_FILE_MAX 65536
#define DKIM_KEYCACHE_RSA_BITS_MAX 4096
/* Secure heap bytes per key (RSA-4096's numbers take 1,792) and at most. */
#define DKIM_KEYCACHE_SECURE_PER_KEY 2048
#define DKIM_KEYCACHE_SECURE_HEAP_MAX (4 * 1024 * 1024)

struct dkim_keycache;

/* An empty cache of at most max keys (max > 0). */
struct dkim_keycache *dkim_keycache_new(size_t max);
/*
 * The secure heap: 0 none (no cache made yet, or OpenSSL could not set
 * it up), 1 set up and locked in memory, 2 set up but not locked
 * (RLIMIT_MEMLOCK too small).
 */
int dkim_keycache_secure_heap(void);
/* Free every key and the cache; NULLs *cp (NULL is allowed). */
void dkim_keycache_free(struct dkim_keycache **cp);

/*
 * The key in path, of type: a new reference the caller releases with
 * EVP_PKEY_free(), or NULL with *error_r (missing, a symlink, not a
 * regular file, too big, unparsable, of another type, RSA too short).
 * *loaded_r (may be NULL) is 1 when the file was read by this call.
 */
EVP_PKEY *dkim_keycache_get(struct dkim_keycache *c, const char *path,
	enum dkim_key_type type, int *loaded_r, char **error_r);

/* How many files the cache has read and parsed so far. */
size_t dkim_keycache_loads(const struct dkim_keycache *c);

#endif

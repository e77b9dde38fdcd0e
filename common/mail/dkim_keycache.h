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
 * OpenSSL clears a key's numbers when it frees it.
 */
#ifndef ISPMAIL_DKIM_KEYCACHE_H
#define ISPMAIL_DKIM_KEYCACHE_H

#include <stddef.h>

#include <openssl/evp.h>

#include "dkim_keys.h"

#define DKIM_KEYCACHE_FILE_MAX 65536

struct dkim_keycache;

/* An empty cache of at most max keys (max > 0). */
struct dkim_keycache *dkim_keycache_new(size_t max);
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

/* dkim_pubcache: parsed DKIM public keys, LRU (see .h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "dkim_pubcache.h"
#include "xalloc.h"

struct pub_entry {
	enum dkim_keyrec_type type;
	unsigned char *der;
	size_t len;
	EVP_PKEY *key;
	unsigned long long used;	/* tick of the last use */
};

struct dkim_pubcache {
	struct pub_entry *entries;
	size_t count, max;
	unsigned long long tick;
	size_t parses;
};

struct dkim_pubcache *
dkim_pubcache_new(size_t max)
{
	struct dkim_pubcache *c = xcalloc(1, sizeof(*c));

	c->max = max;
	c->entries = xreallocarray(NULL, max, sizeof(*c->entries));
	return c;
}

void
dkim_pubcache_free(struct dkim_pubcache **cp)
{
	struct dkim_pubcache *c = *cp;
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->count; i++) {
		EVP_PKEY_free(c->entries[i].key);
		free(c->entries[i].der);
	}
	free(c->entries);
	free(c);
	*cp = NULL;
}

size_t
dkim_pubcache_parses(const struct dkim_pubcache *c)
{
	return c->parses;
}

/* Parse der as a key of type; NULL with *error_r. */
static EVP_PKEY *
pub_parse(enum dkim_keyrec_type type, const unsigned char *der, size_t len,
	const char **error_r)
{
	const unsigned char *p = der;
	EVP_PKEY *key = NULL;
	int bits;

	if (type == DKIM_KEYREC_ED25519) {
		if (len == 32)
			key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519,
			    NULL, der, len);
		if (key == NULL)
			*error_r = "not an Ed25519 key";
		return key;
	}
	if (len > (size_t) 0x7fffffff) {
		*error_r = "key too long";
		return NULL;
	}
	key = d2i_PUBKEY(NULL, &p, (long) len);
	if (key == NULL || p != der + len) {
		EVP_PKEY_free(key);
		p = der;
		key = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long) len);
		if (key != NULL && p != der + len) {
			EVP_PKEY_free(key);
			key = NULL;
		}
	}
	if (key == NULL || !EVP_PKEY_is_a(key, "RSA")) {
		EVP_PKEY_free(key);
		*error_r = "not an RSA key";
		return NULL;
	}
	bits = EVP_PKEY_get_bits(key);
	if (bits < 1024 || bits > 8192) {
		EVP_PKEY_free(key);
		*error_r = "RSA key size not 1024 to 8192 bits";
		return NULL;
	}
	return key;
}

EVP_PKEY *
dkim_pubcache_get(struct dkim_pubcache *c, enum dkim_keyrec_type type,
	const unsigned char *der, size_t len, const char **error_r)
{
	struct pub_entry *e = NULL;
	EVP_PKEY *key;
	size_t i;

	c->tick++;
	for (i = 0; i < c->count; i++) {
		e = &c->entries[i];
		if (e->type == type && e->len == len &&
		    memcmp(e->der, der, len) == 0) {
			e->used = c->tick;
			EVP_PKEY_up_ref(e->key);
			return e->key;
		}
	}
	c->parses++;
	key = pub_parse(type, der, len, error_r);
	if (key == NULL)
		return NULL;
	if (c->count < c->max) {
		e = &c->entries[c->count++];
	} else {
		e = &c->entries[0];
		for (i = 1; i < c->count; i++)
			if (c->entries[i].used < e->used)
				e = &c->entries[i];
		EVP_PKEY_free(e->key);
		free(e->der);
	}
	e->type = type;
	e->der = xmalloc(len + 1);
	memcpy(e->der, der, len);
	e->len = len;
	e->key = key;
	e->used = c->tick;
	EVP_PKEY_up_ref(key);
	return key;
}

/* dkim_pubcache: parsed DKIM public keys, LRU (see .h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "dkim_pubcache.h"
#include "xalloc.h"

struct pub_entry {
	enum dkim_keyrec_type type;
	unsigned char *der;
	size_t len;
	EVP_PKEY *key;
	EVP_PKEY_CTX *verify;		/* RSA: set up at the first use */
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
		EVP_PKEY_CTX_free(c->entries[i].verify);
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

/* The elements of the DER SEQUENCE at der, all len bytes of it, or NULL. */
static ASN1_SEQUENCE_ANY *
pub_sequence(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	ASN1_SEQUENCE_ANY *seq;

	if (len > (size_t) 0x7fffffff)
		return NULL;
	seq = d2i_ASN1_SEQUENCE_ANY(NULL, &p, (long) len);
	if (seq != NULL && p != der + len) {
		sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
		seq = NULL;
	}
	return seq;
}

/* Element i of seq if it has ASN.1 type type, else NULL. */
static ASN1_TYPE *
pub_element(ASN1_SEQUENCE_ANY *seq, int i, int type)
{
	ASN1_TYPE *t;

	if (seq == NULL || i >= sk_ASN1_TYPE_num(seq))
		return NULL;
	t = sk_ASN1_TYPE_value(seq, i);
	return ASN1_TYPE_get(t) == type ? t : NULL;
}

/*
 * An RSA key from RSAPublicKey, SEQUENCE { n INTEGER, e INTEGER } (RFC
 * 8017 A.1.1), both positive; NULL when seq is not that.
 */
static EVP_PKEY *
pub_rsa(ASN1_SEQUENCE_ANY *seq)
{
	ASN1_TYPE *n_der = pub_element(seq, 0, V_ASN1_INTEGER);
	ASN1_TYPE *e_der = pub_element(seq, 1, V_ASN1_INTEGER);
	BIGNUM *n = NULL, *e = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *key = NULL;

	if (n_der == NULL || e_der == NULL || sk_ASN1_TYPE_num(seq) != 2)
		return NULL;
	n = ASN1_INTEGER_to_BN(n_der->value.integer, NULL);
	e = ASN1_INTEGER_to_BN(e_der->value.integer, NULL);
	if (n == NULL || e == NULL || BN_is_negative(n) || BN_is_zero(n) ||
	    BN_is_negative(e) || !BN_is_odd(e) || BN_is_one(e))
		goto out;
	bld = OSSL_PARAM_BLD_new();
	if (bld == NULL ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL)
		goto out;
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		EVP_PKEY_free(key);
		key = NULL;
	}
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	return key;
}

/*
 * The RSAPublicKey inside a SubjectPublicKeyInfo (RFC 5280 4.1,
 * algorithm rsaEncryption with NULL or no parameters, RFC 3279 2.3.1),
 * as a sequence; NULL when spki is not that.
 */
static ASN1_SEQUENCE_ANY *
pub_spki_rsa(ASN1_SEQUENCE_ANY *spki)
{
	ASN1_TYPE *alg = pub_element(spki, 0, V_ASN1_SEQUENCE);
	ASN1_TYPE *bits = pub_element(spki, 1, V_ASN1_BIT_STRING);
	ASN1_SEQUENCE_ANY *alg_seq, *rsa = NULL;
	ASN1_TYPE *oid;
	int params;

	if (alg == NULL || bits == NULL || sk_ASN1_TYPE_num(spki) != 2)
		return NULL;
	alg_seq = pub_sequence(alg->value.sequence->data,
	    (size_t) alg->value.sequence->length);
	oid = pub_element(alg_seq, 0, V_ASN1_OBJECT);
	params = alg_seq != NULL ? sk_ASN1_TYPE_num(alg_seq) : 0;
	if (oid != NULL && OBJ_obj2nid(oid->value.object) == NID_rsaEncryption &&
	    (params == 1 || (params == 2 &&
	    pub_element(alg_seq, 1, V_ASN1_NULL) != NULL)) &&
	    /* The key is whole octets: no unused bits. */
	    (bits->value.bit_string->flags & 0x07) == 0)
		rsa = pub_sequence(bits->value.bit_string->data,
		    (size_t) bits->value.bit_string->length);
	sk_ASN1_TYPE_pop_free(alg_seq, ASN1_TYPE_free);
	return rsa;
}

/*
 * Parse der as an RSA key.  OpenSSL 3.0's d2i_PUBKEY() builds a decoder
 * chain from every provider on each call: 0.5-1 ms, more than the rest
 * of checking a message from a sender not seen before.  The generic
 * ASN.1 decoder and EVP_PKEY_fromdata() do the same in 10-50 us.
 */
static EVP_PKEY *
pub_parse_rsa(const unsigned char *der, size_t len)
{
	ASN1_SEQUENCE_ANY *outer = pub_sequence(der, len), *inner;
	EVP_PKEY *key;

	if (outer == NULL)
		return NULL;
	key = pub_rsa(outer);
	if (key == NULL) {
		inner = pub_spki_rsa(outer);
		key = pub_rsa(inner);
		sk_ASN1_TYPE_pop_free(inner, ASN1_TYPE_free);
	}
	sk_ASN1_TYPE_pop_free(outer, ASN1_TYPE_free);
	return key;
}

/* Parse der as a key of type; NULL with *error_r. */
static EVP_PKEY *
pub_parse(enum dkim_keyrec_type type, const unsigned char *der, size_t len,
	const char **error_r)
{
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
	key = pub_parse_rsa(der, len);
	if (key == NULL) {
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
		EVP_PKEY_CTX_free(e->verify);
		EVP_PKEY_free(e->key);
		free(e->der);
	}
	e->verify = NULL;
	e->type = type;
	e->der = xmalloc(len + 1);
	memcpy(e->der, der, len);
	e->len = len;
	e->key = key;
	e->used = c->tick;
	EVP_PKEY_up_ref(key);
	return key;
}

/* A PKCS#1 v1.5, SHA-256 verification context for key, or NULL. */
static EVP_PKEY_CTX *
pub_rsa_ctx(EVP_PKEY *key)
{
	EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new(key, NULL);

	if (pc != NULL && (EVP_PKEY_verify_init(pc) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_signature_md(pc, EVP_sha256()) != 1)) {
		EVP_PKEY_CTX_free(pc);
		pc = NULL;
	}
	return pc;
}

int
dkim_pubcache_rsa_verify(struct dkim_pubcache *c, EVP_PKEY *key,
	const unsigned char *sig, size_t sig_len,
	const unsigned char *digest, size_t digest_len)
{
	struct pub_entry *e = NULL;
	EVP_PKEY_CTX *once = NULL, *pc;
	size_t i;
	int ok;

	for (i = 0; c != NULL && i < c->count && e == NULL; i++)
		if (c->entries[i].key == key)
			e = &c->entries[i];
	if (e != NULL && e->verify == NULL)
		e->verify = pub_rsa_ctx(key);
	pc = e != NULL ? e->verify : (once = pub_rsa_ctx(key));
	ok = pc != NULL &&
	    EVP_PKEY_verify(pc, sig, sig_len, digest, digest_len) == 1;
	EVP_PKEY_CTX_free(once);
	return ok;
}

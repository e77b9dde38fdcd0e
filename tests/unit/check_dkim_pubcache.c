/*
 * check_dkim_pubcache: the forms of a DKIM p= key the cache parses
 * (SubjectPublicKeyInfo, bare RSAPublicKey, Ed25519 raw) and the bytes it
 * refuses, each against a key OpenSSL made in the test.  The cache
 * itself (LRU, junk never kept) is tested in check_dkim_verify.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "buf.h"
#include "dkim_pubcache.h"

static EVP_PKEY *rsa2048, *rsa512, *rsa_pss, *ec, *ed;

/* EVP_PKEY_Q_keygen() takes a size for "RSA" only. */
static EVP_PKEY *
rsa_pss_keygen(void)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA-PSS", NULL);
	EVP_PKEY *key = NULL;

	if (ctx == NULL || EVP_PKEY_keygen_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, 2048) != 1 ||
	    EVP_PKEY_keygen(ctx, &key) != 1)
		key = NULL;
	EVP_PKEY_CTX_free(ctx);
	return key;
}

static void
keys_setup(void)
{
	rsa2048 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 2048);
	rsa512 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 512);
	rsa_pss = rsa_pss_keygen();
	ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (rsa2048 == NULL || rsa512 == NULL || rsa_pss == NULL ||
	    ec == NULL || ed == NULL)
		abort();
}

static void
keys_teardown(void)
{
	EVP_PKEY_free(rsa2048);
	EVP_PKEY_free(rsa512);
	EVP_PKEY_free(rsa_pss);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(ed);
}

/* DER of key: SubjectPublicKeyInfo (spki) or RSAPublicKey, into b. */
static void
der_of(struct buf *b, EVP_PKEY *key, int spki)
{
	unsigned char *der = NULL;
	int len = spki ? i2d_PUBKEY(key, &der) : i2d_PublicKey(key, &der);

	ck_assert_int_gt(len, 0);
	buf_reset(b);
	ck_assert_int_eq(buf_append(b, der, (size_t) len), 0);
	OPENSSL_free(der);
}

/* A DER tag and length (short or two-octet form) before len bytes. */
static void
der_head(struct buf *b, unsigned char tag, size_t len)
{
	unsigned char head[4] = { tag, 0, 0, 0 };
	size_t n = 2;

	if (len < 128)
		head[1] = (unsigned char) len;
	else {
		ck_assert_uint_lt(len, 65536);
		head[1] = 0x82;
		head[2] = (unsigned char) (len >> 8);
		head[3] = (unsigned char) len;
		n = 4;
	}
	ck_assert_int_eq(buf_append(b, head, n), 0);
}

/* RSAPublicKey with modulus bytes n (as an INTEGER's content) and e. */
static void
rsa_der(struct buf *b, const unsigned char *n, size_t n_len,
	unsigned char e)
{
	size_t n_field = (n_len < 128 ? 2 : 4) + n_len;

	buf_reset(b);
	der_head(b, 0x30, n_field + 3);
	der_head(b, 0x02, n_len);
	ck_assert_int_eq(buf_append(b, n, n_len), 0);
	der_head(b, 0x02, 1);
	ck_assert_int_eq(buf_append(b, &e, 1), 0);
}

/* SPKI around the RSAPublicKey rsa: alg params NULL (1), absent (0). */
static void
spki_der(struct buf *b, const struct buf *rsa, int null_params,
	unsigned char unused_bits)
{
	static const unsigned char oid[] = { 0x06, 0x09, 0x2a, 0x86, 0x48,
	    0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01 };
	static const unsigned char null[] = { 0x05, 0x00 };
	size_t alg = sizeof(oid) + (null_params ? sizeof(null) : 0);
	size_t bits = 1 + buf_len(rsa);
	size_t bits_field = (bits < 128 ? 2 : 4) + bits;

	buf_reset(b);
	der_head(b, 0x30, 2 + alg + bits_field);
	der_head(b, 0x30, alg);
	ck_assert_int_eq(buf_append(b, oid, sizeof(oid)), 0);
	if (null_params)
		ck_assert_int_eq(buf_append(b, null, sizeof(null)), 0);
	der_head(b, 0x03, bits);
	ck_assert_int_eq(buf_append(b, &unused_bits, 1), 0);
	ck_assert_int_eq(buf_append(b, buf_cstr(rsa), buf_len(rsa)), 0);
}

/* The parsed key, or NULL with *error_r. */
static EVP_PKEY *
parse(enum dkim_keyrec_type type, const struct buf *b, const char **error_r)
{
	struct dkim_pubcache *c = dkim_pubcache_new(4);
	EVP_PKEY *key;

	*error_r = NULL;
	key = dkim_pubcache_get(c, type, (const unsigned char *) buf_cstr(b),
	    buf_len(b), error_r);
	dkim_pubcache_free(&c);
	if (key == NULL)
		ck_assert_ptr_nonnull(*error_r);
	return key;
}

/* The key OpenSSL wrote is the key we read, in both RSA forms. */
START_TEST(test_rsa_forms)
{
	struct buf *b = buf_new(65536);
	const char *error;
	EVP_PKEY *key;

	der_of(b, rsa2048, _i == 0);
	key = parse(DKIM_KEYREC_RSA, b, &error);
	ck_assert_msg(key != NULL, "%s", error);
	ck_assert_int_eq(EVP_PKEY_eq(key, rsa2048), 1);
	ck_assert_int_eq(EVP_PKEY_get_bits(key), 2048);
	EVP_PKEY_free(key);
	buf_free(&b);
}
END_TEST

/* A signature by the private key verifies with the parsed public key. */
START_TEST(test_rsa_verifies)
{
	struct buf *b = buf_new(65536);
	unsigned char digest[32], sig[512];
	size_t sig_len = sizeof(sig);
	EVP_PKEY_CTX *pc;
	const char *error;
	EVP_PKEY *key;

	memset(digest, 0x5a, sizeof(digest));
	pc = EVP_PKEY_CTX_new(rsa2048, NULL);
	ck_assert(pc != NULL && EVP_PKEY_sign_init(pc) == 1 &&
	    EVP_PKEY_CTX_set_signature_md(pc, EVP_sha256()) == 1 &&
	    EVP_PKEY_sign(pc, sig, &sig_len, digest, sizeof(digest)) == 1);
	EVP_PKEY_CTX_free(pc);
	der_of(b, rsa2048, 1);
	key = parse(DKIM_KEYREC_RSA, b, &error);
	ck_assert_ptr_nonnull(key);
	pc = EVP_PKEY_CTX_new(key, NULL);
	ck_assert(pc != NULL && EVP_PKEY_verify_init(pc) == 1 &&
	    EVP_PKEY_CTX_set_signature_md(pc, EVP_sha256()) == 1);
	ck_assert_int_eq(EVP_PKEY_verify(pc, sig, sig_len, digest,
	    sizeof(digest)), 1);
	digest[0] ^= 1;
	ck_assert_int_ne(EVP_PKEY_verify(pc, sig, sig_len, digest,
	    sizeof(digest)), 1);
	EVP_PKEY_CTX_free(pc);
	EVP_PKEY_free(key);
	buf_free(&b);
}
END_TEST

/* Keys of other kinds, other sizes and damaged bytes are refused. */
/* key's PKCS#1 v1.5 signature of the SHA-256 digest into sig; its length. */
static size_t
rsa_sign(EVP_PKEY *key, const unsigned char *digest, unsigned char *sig,
	size_t sig_size)
{
	EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new(key, NULL);
	size_t sig_len = sig_size;

	ck_assert(pc != NULL && EVP_PKEY_sign_init(pc) == 1 &&
	    EVP_PKEY_CTX_set_signature_md(pc, EVP_sha256()) == 1 &&
	    EVP_PKEY_sign(pc, sig, &sig_len, digest, 32) == 1);
	EVP_PKEY_CTX_free(pc);
	return sig_len;
}

/*
 * The kept verification context: right again and again, after a
 * mismatch, for a key pushed out of the cache and without a cache.
 */
START_TEST(test_rsa_verify_kept)
{
	struct dkim_pubcache *c = dkim_pubcache_new(1);
	struct buf *b = buf_new(65536);
	unsigned char digest[32], bad[32], sig[512], sig2[512];
	size_t sig_len, sig2_len;
	EVP_PKEY *other = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 2048);
	EVP_PKEY *key, *key2;
	const char *error = NULL;
	int round;

	ck_assert_ptr_nonnull(other);
	memset(digest, 0x33, sizeof(digest));
	memcpy(bad, digest, sizeof(bad));
	bad[31] ^= 0x80;
	sig_len = rsa_sign(rsa2048, digest, sig, sizeof(sig));
	sig2_len = rsa_sign(other, digest, sig2, sizeof(sig2));
	der_of(b, rsa2048, 1);
	key = dkim_pubcache_get(c, DKIM_KEYREC_RSA,
	    (const unsigned char *) buf_cstr(b), buf_len(b), &error);
	ck_assert_ptr_nonnull(key);
	for (round = 0; round < 3; round++) {
		ck_assert_int_eq(dkim_pubcache_rsa_verify(c, key, sig, sig_len,
		    digest, sizeof(digest)), 1);
		ck_assert_int_eq(dkim_pubcache_rsa_verify(c, key, sig, sig_len,
		    bad, sizeof(bad)), 0);
		ck_assert_int_eq(dkim_pubcache_rsa_verify(c, key, sig2,
		    sig2_len, digest, sizeof(digest)), 0);
	}
	/* other takes the only entry: key is no longer cached. */
	der_of(b, other, 1);
	key2 = dkim_pubcache_get(c, DKIM_KEYREC_RSA,
	    (const unsigned char *) buf_cstr(b), buf_len(b), &error);
	ck_assert_ptr_nonnull(key2);
	ck_assert_int_eq(dkim_pubcache_rsa_verify(c, key2, sig2, sig2_len,
	    digest, sizeof(digest)), 1);
	ck_assert_int_eq(dkim_pubcache_rsa_verify(c, key2, sig, sig_len,
	    digest, sizeof(digest)), 0);
	ck_assert_int_eq(dkim_pubcache_rsa_verify(c, key, sig, sig_len,
	    digest, sizeof(digest)), 1);
	ck_assert_int_eq(dkim_pubcache_rsa_verify(NULL, key, sig, sig_len,
	    bad, sizeof(bad)), 0);
	ck_assert_int_eq(dkim_pubcache_rsa_verify(NULL, key, sig, sig_len,
	    digest, sizeof(digest)), 1);
	EVP_PKEY_free(key);
	EVP_PKEY_free(key2);
	EVP_PKEY_free(other);
	dkim_pubcache_free(&c);
	buf_free(&b);
}
END_TEST

START_TEST(test_rsa_refused)
{
	struct buf *b = buf_new(65536), *rsa = buf_new(65536);
	const unsigned char *n;
	const char *error;
	EVP_PKEY *key;
	size_t n_len;

	/* Trailing byte, missing byte. */
	der_of(b, rsa2048, 1);
	ck_assert_int_eq(buf_append_char(b, 0), 0);
	ck_assert_ptr_null(parse(DKIM_KEYREC_RSA, b, &error));
	der_of(b, rsa2048, 1);
	buf_truncate(b, buf_len(b) - 1);
	ck_assert_ptr_null(parse(DKIM_KEYREC_RSA, b, &error));
	/* Too small (RFC 8301 3.2). */
	der_of(b, rsa512, 1);
	ck_assert_ptr_null(parse(DKIM_KEYREC_RSA, b, &error));
	ck_assert_str_eq(error, "RSA key size not 1024 to 8192 bits");
	/* Not rsaEncryption: RSA-PSS, EC, Ed25519 in an SPKI. */
	der_of(b, rsa_pss, 1);
	ck_assert_ptr_null(parse(DKIM_KEYREC_RSA, b, &error));
	der_of(b, ec, 1);
	ck_assert_ptr_null(parse(DKIM_KEYREC_RSA, b, &error));
	ck_assert_str_eq(error, "not an RSA key");
	der_of(b, ed, 1);
	ck_assert_ptr_null(parse(DKIM_KEYREC_RSA, b, &error));
	/* Empty, one byte, junk. */
	buf_reset(b);
	ck_assert_ptr_null(parse(DKIM_KEYREC_RSA, b, &error));
	ck_assert_int_eq(buf_append_str(b, "0"), 0);
	ck_assert_ptr_null(parse(DKIM_KEYREC_RSA, b, &error));
	ck_assert_int_eq(buf_append_str(b, "not a key at all, not DER"), 0);
	ck_assert_ptr_null(parse(DKIM_KEYREC_RSA, b, &error));

	/* Hand-made from the 2048-bit modulus: e, params, unused bits. */
	der_of(b, rsa2048, 0);
	/* 30 82 LL LL 02 82 01 01 <257 bytes: 00 + n> 02 03 01 00 01 */
	n = (const unsigned char *) buf_cstr(b) + 8;
	n_len = 257;
	ck_assert_uint_eq(n[0], 0);
	{
		unsigned char modulus[257];

		memcpy(modulus, n, sizeof(modulus));
		/* e = 3: fine. */
		rsa_der(rsa, modulus, n_len, 3);
		key = parse(DKIM_KEYREC_RSA, rsa, &error);
		ck_assert_msg(key != NULL, "%s", error);
		EVP_PKEY_free(key);
		/* The SPKI around it, with NULL parameters and without. */
		spki_der(b, rsa, 1, 0);
		key = parse(DKIM_KEYREC_RSA, b, &error);
		ck_assert_msg(key != NULL, "%s", error);
		EVP_PKEY_free(key);
		spki_der(b, rsa, 0, 0);
		key = parse(DKIM_KEYREC_RSA, b, &error);
		ck_assert_msg(key != NULL, "%s", error);
		EVP_PKEY_free(key);
		/* Unused bits in the BIT STRING. */
		spki_der(b, rsa, 1, 1);
		ck_assert_ptr_null(parse(DKIM_KEYREC_RSA, b, &error));
		/* e even, e = 1. */
		rsa_der(rsa, modulus, n_len, 2);
		ck_assert_ptr_null(parse(DKIM_KEYREC_RSA, rsa, &error));
		rsa_der(rsa, modulus, n_len, 1);
		ck_assert_ptr_null(parse(DKIM_KEYREC_RSA, rsa, &error));
		/* A negative modulus (no leading zero: the top bit signs). */
		rsa_der(rsa, modulus + 1, n_len - 1, 3);
		ck_assert_ptr_null(parse(DKIM_KEYREC_RSA, rsa, &error));
		/* A zero modulus. */
		memset(modulus, 0, sizeof(modulus));
		rsa_der(rsa, modulus, 1, 3);
		ck_assert_ptr_null(parse(DKIM_KEYREC_RSA, rsa, &error));
	}
	buf_free(&b);
	buf_free(&rsa);
}
END_TEST

/* 8192 bits is the largest modulus taken (a made-up odd one). */
START_TEST(test_rsa_size_limit)
{
	struct buf *b = buf_new(65536), *rsa = buf_new(65536);
	unsigned char modulus[1 + 1025];
	const char *error;
	EVP_PKEY *key;

	memset(modulus, 0xff, sizeof(modulus));
	modulus[0] = 0;
	/* 8192 bits: 00 + 1024 octets. */
	rsa_der(rsa, modulus, 1 + 1024, 3);
	spki_der(b, rsa, 1, 0);
	key = parse(DKIM_KEYREC_RSA, b, &error);
	ck_assert_msg(key != NULL, "%s", error);
	ck_assert_int_eq(EVP_PKEY_get_bits(key), 8192);
	EVP_PKEY_free(key);
	/* 8193 bits: 01 + 1024 octets (DER: no leading zero needed). */
	modulus[1] = 0x01;
	rsa_der(rsa, modulus + 1, 1025, 3);
	spki_der(b, rsa, 1, 0);
	ck_assert_ptr_null(parse(DKIM_KEYREC_RSA, b, &error));
	ck_assert_str_eq(error, "RSA key size not 1024 to 8192 bits");
	buf_free(&b);
	buf_free(&rsa);
}
END_TEST

/* Ed25519: the 32 raw octets, nothing else (RFC 8463 4). */
START_TEST(test_ed25519)
{
	struct buf *b = buf_new(65536);
	unsigned char raw[32];
	size_t raw_len = sizeof(raw);
	const char *error;
	EVP_PKEY *key;

	ck_assert_int_eq(EVP_PKEY_get_raw_public_key(ed, raw, &raw_len), 1);
	ck_assert_int_eq(buf_append(b, raw, raw_len), 0);
	key = parse(DKIM_KEYREC_ED25519, b, &error);
	ck_assert_ptr_nonnull(key);
	ck_assert_int_eq(EVP_PKEY_eq(key, ed), 1);
	EVP_PKEY_free(key);
	/* Its SPKI is not the DKIM form; an RSA key is not Ed25519. */
	der_of(b, ed, 1);
	ck_assert_ptr_null(parse(DKIM_KEYREC_ED25519, b, &error));
	der_of(b, rsa2048, 1);
	ck_assert_ptr_null(parse(DKIM_KEYREC_ED25519, b, &error));
	buf_free(&b);
}
END_TEST

static Suite *
dkim_pubcache_suite(void)
{
	Suite *s = suite_create("dkim_pubcache");
	TCase *tc = tcase_create("parse");

	tcase_add_unchecked_fixture(tc, keys_setup, keys_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_rsa_forms, 0, 2);
	tcase_add_test(tc, test_rsa_verifies);
	tcase_add_test(tc, test_rsa_verify_kept);
	tcase_add_test(tc, test_rsa_refused);
	tcase_add_test(tc, test_rsa_size_limit);
	tcase_add_test(tc, test_ed25519);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(dkim_pubcache_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

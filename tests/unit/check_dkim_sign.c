/*
 * check_dkim_sign: the key cache (parsed once, reread when the file
 * changes, bad files refused) and the signer, whose signatures
 * libopendkim's verifier (code we did not write) must accept: long and
 * folded fields, empty bodies, no final CRLF, trailing empty lines,
 * 8-bit bodies, fed whole and split at every byte.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <opendkim/dkim.h>

#include "buf.h"
#include "dkim_keycache.h"
#include "dkim_sign.h"
#include "sasl.h"
#include "store.h"
#include "xalloc.h"

static char dir[] = "/tmp/check_dkim_sign.XXXXXX";
static EVP_PKEY *rsa_key, *ed_key;
/* The key record the verifier's lookup answers with. */
static char *key_record;

/* Once, before the tests fork: RSA key generation is slow. */
static void
keys_setup(void)
{
	rsa_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 2048);
	ed_key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (rsa_key == NULL || ed_key == NULL)
		abort();
}

static void
keys_teardown(void)
{
	EVP_PKEY_free(rsa_key);
	EVP_PKEY_free(ed_key);
}

static void
setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void
teardown(void)
{
	char *error = NULL;

	ck_assert_msg(store_remove(dir, "/tmp", &error) == 0, "%s", error);
	memcpy(dir, "/tmp/check_dkim_sign.XXXXXX", sizeof(dir));
	xfree(key_record);
}

/* Write key as PEM (PKCS#8) to DIR/name; the path, caller frees. */
static char *
write_key(const char *name, EVP_PKEY *key)
{
	char *path = xasprintf("%s/%s", dir, name);
	char *tmp = xasprintf("%s.tmp", path);
	FILE *f = fopen(tmp, "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL,
	    NULL), 1);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(tmp, 0600), 0);
	ck_assert_int_eq(rename(tmp, path), 0);
	free(tmp);
	return path;
}

static void
write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

START_TEST(test_cache_parses_once)
{
	struct dkim_keycache *c = dkim_keycache_new(8);
	char *path = write_key("a.key", rsa_key), *error = NULL;
	EVP_PKEY *k1, *k2;
	int loaded;

	k1 = dkim_keycache_get(c, path, DKIM_KEY_RSA, &loaded, &error);
	ck_assert_msg(k1 != NULL, "%s", error);
	ck_assert_int_eq(loaded, 1);
	ck_assert_int_eq(EVP_PKEY_eq(k1, rsa_key), 1);
	k2 = dkim_keycache_get(c, path, DKIM_KEY_RSA, &loaded, &error);
	ck_assert_ptr_eq(k1, k2);
	ck_assert_int_eq(loaded, 0);
	ck_assert_uint_eq(dkim_keycache_loads(c), 1);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
	dkim_keycache_free(&c);
	ck_assert_ptr_null(c);
	free(path);
}
END_TEST

START_TEST(test_cache_rereads_changed_file)
{
	struct dkim_keycache *c = dkim_keycache_new(8);
	char *path = write_key("a.key", rsa_key), *error = NULL;
	EVP_PKEY *other = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 2048);
	struct timespec times[2] = { { 0, 0 }, { 0, 0 } };
	EVP_PKEY *k;
	FILE *f;

	k = dkim_keycache_get(c, path, DKIM_KEY_RSA, NULL, &error);
	ck_assert_ptr_nonnull(k);
	EVP_PKEY_free(k);
	/* Replaced by rename (a new inode): the new key. */
	free(write_key("a.key", other));
	k = dkim_keycache_get(c, path, DKIM_KEY_RSA, NULL, &error);
	ck_assert_int_eq(EVP_PKEY_eq(k, other), 1);
	EVP_PKEY_free(k);
	ck_assert_uint_eq(dkim_keycache_loads(c), 2);
	/*
	 * Rewritten in place (same inode, maybe the same size): the first
	 * key again.  The clock stamping files ticks coarsely; the new mtime
	 * is set apart, as a rewrite seconds later has it.
	 */
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(PEM_write_PrivateKey(f, rsa_key, NULL, NULL, 0, NULL,
	    NULL), 1);
	ck_assert_int_eq(fclose(f), 0);
	times[0].tv_sec = times[1].tv_sec = time(NULL) + 5;
	ck_assert_int_eq(utimensat(AT_FDCWD, path, times, 0), 0);
	k = dkim_keycache_get(c, path, DKIM_KEY_RSA, NULL, &error);
	ck_assert_int_eq(EVP_PKEY_eq(k, rsa_key), 1);
	EVP_PKEY_free(k);
	ck_assert_uint_eq(dkim_keycache_loads(c), 3);
	/* Gone: no key, and no stale one either. */
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_ptr_null(dkim_keycache_get(c, path, DKIM_KEY_RSA, NULL,
	    &error));
	ck_assert_ptr_nonnull(strstr(error, "No such file"));
	xfree(error);
	EVP_PKEY_free(other);
	dkim_keycache_free(&c);
	free(path);
}
END_TEST

/* Parsed private numbers live in OpenSSL's secure heap, and leave it. */
START_TEST(test_cache_keys_in_secure_heap)
{
	struct dkim_keycache *c = dkim_keycache_new(8);
	char *path = write_key("s.key", rsa_key), *error = NULL;
	size_t before = CRYPTO_secure_used();
	EVP_PKEY *k;

	ck_assert_int_ne(dkim_keycache_secure_heap(), 0);
	ck_assert_int_eq(CRYPTO_secure_malloc_initialized(), 1);
	k = dkim_keycache_get(c, path, DKIM_KEY_RSA, NULL, &error);
	ck_assert_msg(k != NULL, "%s", error);
	/* RSA-2048: d, p, q, dp, dq and qinv take 896 bytes there. */
	ck_assert_uint_ge(CRYPTO_secure_used(), before + 512);
	EVP_PKEY_free(k);
	dkim_keycache_free(&c);
	ck_assert_uint_eq(CRYPTO_secure_used(), before);
	free(path);
}
END_TEST

/* RSA above 4,096 bits: refused (RFC 8301), so the heap never runs out. */
START_TEST(test_cache_refuses_huge_rsa)
{
	struct dkim_keycache *c = dkim_keycache_new(8);
	EVP_PKEY *huge = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 4104);
	char *path = write_key("h.key", huge), *error = NULL;

	ck_assert_ptr_null(dkim_keycache_get(c, path, DKIM_KEY_RSA, NULL,
	    &error));
	ck_assert_msg(strstr(error, "4104 bits") != NULL, "%s", error);
	free(error);
	EVP_PKEY_free(huge);
	dkim_keycache_free(&c);
	free(path);
}
END_TEST

START_TEST(test_cache_refuses_bad_files)
{
	struct dkim_keycache *c = dkim_keycache_new(8);
	EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 512);
	char *rsa = write_key("r.key", rsa_key), *ed = write_key("e.key",
	    ed_key), *weak = write_key("w.key", small);
	char *junk = xasprintf("%s/junk.key", dir);
	char *link = xasprintf("%s/link.key", dir);
	char *big = xasprintf("%s/big.key", dir);
	char *error = NULL, *text;
	static const struct { int which; enum dkim_key_type type;
	    const char *says; } cases[] = {
		{ 0, DKIM_KEY_ED25519, "not an Ed25519 key" },
		{ 1, DKIM_KEY_RSA, "not an RSA key" },
		{ 2, DKIM_KEY_RSA, "RFC 8301" },
		{ 3, DKIM_KEY_RSA, "parse" },
		{ 4, DKIM_KEY_RSA, "not a regular file" },
		{ 5, DKIM_KEY_RSA, "too big" },
		{ 6, DKIM_KEY_RSA, "not a regular file" },
	};
	const char *paths[7];
	size_t i;

	write_text(junk, "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n"
	    "-----END PRIVATE KEY-----\n");
	ck_assert_int_eq(symlink(rsa, link), 0);
	text = xmalloc(DKIM_KEYCACHE_FILE_MAX + 2);
	memset(text, 'A', DKIM_KEYCACHE_FILE_MAX + 1);
	text[DKIM_KEYCACHE_FILE_MAX + 1] = '\0';
	write_text(big, text);
	free(text);
	paths[0] = rsa;
	paths[1] = ed;
	paths[2] = weak;
	paths[3] = junk;
	paths[4] = link;
	paths[5] = big;
	paths[6] = dir;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		EVP_PKEY *k = dkim_keycache_get(c, paths[cases[i].which],
		    cases[i].type, NULL, &error);

		ck_assert_msg(k == NULL, "case %zu", i);
		ck_assert_msg(strstr(error, cases[i].says) != NULL,
		    "case %zu: %s", i, error);
		xfree(error);
	}
	ck_assert_uint_eq(dkim_keycache_loads(c), 0);
	EVP_PKEY_free(small);
	dkim_keycache_free(&c);
	free(rsa);
	free(ed);
	free(weak);
	free(junk);
	free(link);
	free(big);
}
END_TEST

START_TEST(test_cache_evicts_least_used)
{
	struct dkim_keycache *c = dkim_keycache_new(2);
	char *a = write_key("a.key", rsa_key), *b = write_key("b.key",
	    ed_key), *a2 = write_key("a2.key", rsa_key), *error = NULL;
	EVP_PKEY *k;

	k = dkim_keycache_get(c, a, DKIM_KEY_RSA, NULL, &error);
	EVP_PKEY_free(k);
	k = dkim_keycache_get(c, b, DKIM_KEY_ED25519, NULL, &error);
	EVP_PKEY_free(k);
	k = dkim_keycache_get(c, a, DKIM_KEY_RSA, NULL, &error);
	EVP_PKEY_free(k);
	/* Full: b (used longest ago) goes, a stays. */
	k = dkim_keycache_get(c, a2, DKIM_KEY_RSA, NULL, &error);
	EVP_PKEY_free(k);
	ck_assert_uint_eq(dkim_keycache_loads(c), 3);
	k = dkim_keycache_get(c, a, DKIM_KEY_RSA, NULL, &error);
	EVP_PKEY_free(k);
	ck_assert_uint_eq(dkim_keycache_loads(c), 3);
	k = dkim_keycache_get(c, b, DKIM_KEY_ED25519, NULL, &error);
	ck_assert_ptr_nonnull(k);
	EVP_PKEY_free(k);
	ck_assert_uint_eq(dkim_keycache_loads(c), 4);
	dkim_keycache_free(&c);
	free(a);
	free(b);
	free(a2);
}
END_TEST

/* The v=DKIM1 record of key (RFC 6376 3.6.1, RFC 8463 4). */
static char *
record_of(EVP_PKEY *key, enum dkim_key_type type)
{
	struct buf *b = buf_new(4096);
	unsigned char raw[32], *der = NULL;
	size_t raw_len = sizeof(raw);
	char *record;
	int der_len;

	(void) buf_printf(b, "v=DKIM1; k=%s; p=",
	    type == DKIM_KEY_ED25519 ? "ed25519" : "rsa");
	if (type == DKIM_KEY_ED25519) {
		ck_assert_int_eq(EVP_PKEY_get_raw_public_key(key, raw,
		    &raw_len), 1);
		ck_assert_int_eq(base64_encode(raw, raw_len, b), 0);
	} else {
		der_len = i2d_PUBKEY(key, &der);
		ck_assert_int_gt(der_len, 0);
		ck_assert_int_eq(base64_encode(der, (size_t) der_len, b), 0);
		OPENSSL_free(der);
	}
	record = buf_strdup(b);
	buf_free(&b);
	return record;
}

static DKIM_CBSTAT
lookup(DKIM *dkim, DKIM_SIGINFO *sig, unsigned char *out, size_t len)
{
	(void) dkim;
	(void) sig;
	if (key_record == NULL || strlen(key_record) >= len)
		return DKIM_CBSTAT_NOTFOUND;
	memcpy(out, key_record, strlen(key_record) + 1);
	return DKIM_CBSTAT_CONTINUE;
}

/* Does libopendkim's verifier accept field + message? */
static int
libopendkim_verifies(const char *field, const char *message,
	size_t message_len)
{
	DKIM_LIB *lib = dkim_init(NULL, NULL);
	struct buf *whole = buf_new(4 * 1024 * 1024);
	DKIM_SIGINFO *sig;
	DKIM_STAT st;
	DKIM *d;
	int ok;

	ck_assert_ptr_nonnull(lib);
	(void) dkim_set_key_lookup(lib, lookup);
	(void) buf_printf(whole, "%s\r\n", field);
	(void) buf_append(whole, message, message_len);
	d = dkim_verify(lib, (const unsigned char *) "check", NULL, &st);
	ck_assert_ptr_nonnull(d);
	st = dkim_chunk(d, (unsigned char *) buf_data(whole), buf_len(whole));
	if (st == DKIM_STAT_OK)
		st = dkim_chunk(d, NULL, 0);
	if (st == DKIM_STAT_OK)
		st = dkim_eom(d, NULL);
	sig = dkim_getsignature(d);
	ok = st == DKIM_STAT_OK && sig != NULL && DKIM_SIG_CHECK(sig);
	(void) dkim_free(d);
	dkim_close(lib);
	buf_free(&whole);
	return ok;
}

/* Sign message fed in pieces of step bytes (0: whole). */
static char *
sign(EVP_PKEY *key, enum dkim_key_type type, const char *message,
	size_t len, size_t step, char **error_r)
{
	struct dkim_signer *s;
	char *field;
	size_t i;

	s = dkim_signer_new(key, type, "example.test", "sel1", error_r);
	ck_assert_ptr_nonnull(s);
	if (step == 0)
		step = len > 0 ? len : 1;
	for (i = 0; i < len; i += step)
		ck_assert_int_eq(dkim_signer_chunk(s, message + i,
		    len - i < step ? len - i : step), 0);
	field = dkim_signer_finish(s, 1764669600LL, error_r);
	dkim_signer_free(&s);
	return field;
}

/*
 * Messages to sign.  The one without a final CRLF is not shown to
 * libopendkim: 2.11 hashes its last line without the CRLF that RFC 6376
 * 3.4.4 adds (dkimpy adds it, as we do; test_relaxed_body_known_answers
 * checks our body hash, test_sender_auth_sign.py has dkimpy verify it).
 */
#define NO_FINAL_CRLF 4
static const char *const messages[] = {
	/* Plain. */
	"From: Alice <alice@example.test>\r\nTo: bob@far.test\r\n"
	"Subject: hello\r\n\r\nThe body.\r\n",
	/* Folded fields, odd spacing, upper case names, WSP at ends. */
	"FROM :  Alice\r\n\t <alice@example.test>  \r\nSubject:\tfolded\r\n"
	" \t over\r\n  three lines \r\nTo: a@b.test,\r\n c@d.test\r\n"
	"X-Unsigned: whatever\r\n\r\nbody  with \t runs \r\n  \r\n",
	/* Empty body. */
	"From: alice@example.test\r\nSubject: empty\r\n\r\n",
	/* No empty line at all. */
	"From: alice@example.test\r\nSubject: header only\r\n",
	/* No final CRLF. */
	"From: alice@example.test\r\n\r\nno final line end",
	/* Trailing empty lines and WSP-only lines. */
	"From: alice@example.test\r\n\r\ntext\r\n\r\n \r\n\t\r\n\r\n",
	/*
	 * 8-bit body.  (Bare CR and LF: libopendkim makes them CRLF, dkimpy
	 * and we keep them as content; smtpd's DATA reader never passes
	 * one on, and test_relaxed_body_known_answers has them.)
	 */
	"From: alice@example.test\r\nSubject: =?utf-8?q?gr=C3=BC=C3=9Fe?=\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"Content-Transfer-Encoding: 8bit\r\n\r\n"
	"Gr\xc3\xbc\xc3\x9f""e \xe2\x82\xac\r\n\xff\xfe\x80 \t\r\n",
	/* Two To fields, two Received (unsigned), a body of empty lines. */
	"Received: from a\r\nFrom: alice@example.test\r\nTo: one@x.test\r\n"
	"Received: from b\r\nTo: two@x.test\r\n\r\n\r\n\r\n\r\n",
};

START_TEST(test_signatures_verify)
{
	static const enum dkim_key_type types[] = {
		DKIM_KEY_RSA, DKIM_KEY_ED25519
	};
	size_t m, t, step;

	for (t = 0; t < 2; t++) {
		EVP_PKEY *key = types[t] == DKIM_KEY_RSA ? rsa_key : ed_key;

		xfree(key_record);
		key_record = record_of(key, types[t]);
		for (m = 0; m < sizeof(messages) / sizeof(messages[0]); m++) {
			const char *msg = messages[m];
			char *error = NULL, *whole, *split;

			whole = sign(key, types[t], msg, strlen(msg), 0,
			    &error);
			ck_assert_msg(whole != NULL, "%zu: %s", m, error);
			ck_assert_msg(m == NO_FINAL_CRLF ||
			    libopendkim_verifies(whole, msg, strlen(msg)),
			    "type %zu message %zu:\n%s", t, m, whole);
			/* Split anywhere: the same signature. */
			for (step = 1; step < 8; step++) {
				split = sign(key, types[t], msg, strlen(msg),
				    step, &error);
				ck_assert_str_eq(split, whole);
				free(split);
			}
			free(whole);
		}
	}
}
END_TEST

START_TEST(test_long_fields_and_big_body)
{
	struct buf *msg = buf_new(4 * 1024 * 1024);
	char *field, *error = NULL, *p, *save = NULL;
	size_t i;

	key_record = record_of(rsa_key, DKIM_KEY_RSA);
	(void) buf_append_str(msg, "From: alice@example.test\r\nTo: ");
	for (i = 0; i < 400; i++)
		(void) buf_printf(msg, "%suser%zu@example.test", i ? ",\r\n "
		    : "", i);
	(void) buf_append_str(msg, "\r\nSubject: ");
	for (i = 0; i < 900; i++)
		(void) buf_append_char(msg, (char) ('a' + i % 26));
	(void) buf_append_str(msg, "\r\n\r\n");
	for (i = 0; i < 40000; i++)
		(void) buf_printf(msg, "line %zu \t of a body\r\n", i);
	field = sign(rsa_key, DKIM_KEY_RSA, buf_cstr(msg), buf_len(msg), 0,
	    &error);
	ck_assert_msg(field != NULL, "%s", error);
	ck_assert(libopendkim_verifies(field, buf_cstr(msg), buf_len(msg)));
	/* Every line of the field is short (RFC 5322 2.1.1). */
	for (p = strtok_r(field, "\n", &save); p != NULL;
	    p = strtok_r(NULL, "\n", &save))
		ck_assert_uint_le(strlen(p), 78);
	free(field);
	buf_free(&msg);
}
END_TEST

/* How often name appears in the h= tag of field. */
static size_t
h_count(const char *field, const char *name)
{
	const char *h = strstr(field, " h="), *end = strchr(h, ';');
	size_t n = 0, len = strlen(name);

	for (h += 3; h < end; h++) {
		while (h < end && strchr(": \t\r\n", *h) != NULL)
			h++;
		if ((size_t) (end - h) >= len && strncmp(h, name, len) == 0 &&
		    strchr(":; \t\r\n", h[len]) != NULL)
			n++;
		while (h < end && *h != ':')
			h++;
	}
	return n;
}

/*
 * At most 8 instances of a name are signed, the last ones: thousands of
 * To: fields still give a signature that fits a queue file's record,
 * and past 8 From: fields no oversigning name covers an unsigned one.
 */
START_TEST(test_instances_capped)
{
	struct buf *msg = buf_new(1024 * 1024);
	char *field, *error = NULL;
	size_t i;

	key_record = record_of(rsa_key, DKIM_KEY_RSA);
	(void) buf_append_str(msg, "From: alice@example.test\r\n");
	for (i = 0; i < 3000; i++)
		(void) buf_printf(msg, "To: user%zu@example.test\r\n", i);
	(void) buf_append_str(msg, "Subject: many\r\n\r\nbody\r\n");
	field = sign(rsa_key, DKIM_KEY_RSA, buf_cstr(msg), buf_len(msg), 0,
	    &error);
	ck_assert_msg(field != NULL, "%s", error);
	ck_assert_uint_eq(h_count(field, "to"), 8);
	ck_assert_uint_eq(h_count(field, "from"), 2);
	ck_assert_uint_lt(strlen(field), 2048);
	ck_assert(libopendkim_verifies(field, buf_cstr(msg), buf_len(msg)));
	free(field);
	buf_reset(msg);
	for (i = 0; i < 10; i++)
		(void) buf_printf(msg, "From: f%zu@example.test\r\n", i);
	(void) buf_append_str(msg, "Subject: many\r\n\r\nbody\r\n");
	field = sign(rsa_key, DKIM_KEY_RSA, buf_cstr(msg), buf_len(msg), 0,
	    &error);
	ck_assert_msg(field != NULL, "%s", error);
	ck_assert_uint_eq(h_count(field, "from"), 8);
	ck_assert(libopendkim_verifies(field, buf_cstr(msg), buf_len(msg)));
	free(field);
	buf_free(&msg);
}
END_TEST

/* The bh= of a signature over body (empty: SHA-256 of nothing). */
static char *
body_hash_of(const char *body)
{
	char *message = xasprintf("From: a@example.test\r\n\r\n%s", body);
	char *error = NULL, *field, *bh, *end;

	field = sign(ed_key, DKIM_KEY_ED25519, message, strlen(message), 0,
	    &error);
	ck_assert_ptr_nonnull(field);
	bh = strstr(field, "bh=");
	ck_assert_ptr_nonnull(bh);
	end = strchr(bh, ';');
	bh = xstrndup(bh + 3, (size_t) (end - bh - 3));
	free(field);
	free(message);
	return bh;
}

/* The base64 SHA-256 of text, computed here. */
static char *
sha256_b64(const char *text)
{
	unsigned char md[32];
	unsigned int len = 0;
	struct buf *b = buf_new(64);
	char *s;

	ck_assert_int_eq(EVP_Digest(text, strlen(text), md, &len,
	    EVP_sha256(), NULL), 1);
	(void) base64_encode(md, len, b);
	s = buf_strdup(b);
	buf_free(&b);
	return s;
}

START_TEST(test_relaxed_body_known_answers)
{
	static const struct { const char *body, *canonical; } cases[] = {
		{ "", "" },
		{ "\r\n", "" },
		{ "\r\n\r\n \r\n", "" },
		{ "a", "a\r\n" },
		{ "a  \t b \r\n\r\n", "a b\r\n" },
		{ " lead\r\n", " lead\r\n" },
		{ "x\r\n\r\ny", "x\r\n\r\ny\r\n" },
		{ "cr\r", "cr\r\r\n" },
		{ "a \n b\r\n", "a \n b\r\n" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = body_hash_of(cases[i].body);
		char *want = sha256_b64(cases[i].canonical);

		ck_assert_msg(strcmp(got, want) == 0, "case %zu", i);
		free(got);
		free(want);
	}
}
END_TEST

START_TEST(test_signer_refuses)
{
	struct dkim_signer *s;
	struct buf *big = buf_new(DKIM_SIGN_HEADER_MAX + 64);
	char *error = NULL;

	ck_assert_ptr_null(dkim_signer_new(rsa_key, DKIM_KEY_ED25519,
	    "example.test", "s", &error));
	xfree(error);
	ck_assert_ptr_null(dkim_signer_new(rsa_key, DKIM_KEY_RSA,
	    "exa mple.test", "s", &error));
	xfree(error);
	ck_assert_ptr_null(dkim_signer_new(rsa_key, DKIM_KEY_RSA,
	    "example.test", "a.b", &error));
	xfree(error);
	/* No From: nothing to sign for. */
	ck_assert_ptr_null(sign(rsa_key, DKIM_KEY_RSA, "To: x@y.test\r\n\r\n"
	    "b\r\n", 18, 0, &error));
	ck_assert_str_eq(error, "no From field");
	xfree(error);
	/* A header past the cap. */
	s = dkim_signer_new(rsa_key, DKIM_KEY_RSA, "example.test", "s",
	    &error);
	(void) buf_append_str(big, "From: a@example.test\r\nX: ");
	while (buf_len(big) < DKIM_SIGN_HEADER_MAX + 10)
		(void) buf_append_char(big, 'x');
	ck_assert_int_eq(dkim_signer_chunk(s, buf_cstr(big), buf_len(big)),
	    -1);
	ck_assert_ptr_null(dkim_signer_finish(s, 0, &error));
	xfree(error);
	dkim_signer_free(&s);
	buf_free(&big);
}
END_TEST

static Suite *
dkim_sign_suite(void)
{
	Suite *s = suite_create("dkim_sign");
	TCase *tc = tcase_create("keycache");

	tcase_add_unchecked_fixture(tc, keys_setup, keys_teardown);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_cache_parses_once);
	tcase_add_test(tc, test_cache_rereads_changed_file);
	tcase_add_test(tc, test_cache_refuses_bad_files);
	tcase_add_test(tc, test_cache_keys_in_secure_heap);
	tcase_add_test(tc, test_cache_refuses_huge_rsa);
	tcase_add_test(tc, test_cache_evicts_least_used);
	suite_add_tcase(s, tc);
	tc = tcase_create("signer");
	tcase_add_unchecked_fixture(tc, keys_setup, keys_teardown);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_signatures_verify);
	tcase_add_test(tc, test_long_fields_and_big_body);
	tcase_add_test(tc, test_instances_capped);
	tcase_add_test(tc, test_relaxed_body_known_answers);
	tcase_add_test(tc, test_signer_refuses);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(dkim_sign_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

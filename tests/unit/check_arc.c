/*
 * check_arc: ARC sets (common/mail/arc.c, RFC 8617).  A new set's three
 * fields (names, i=, cv=, our A-R as the AAR); a chain of our own
 * checked and continued (pass), a changed body or header (fail, sealed
 * over the new set only), a key lookup that failed for now or a chain
 * already failed or at 50 sets (no set); chains that break the rules of
 * 5.2 (gaps, doubles, bad i=, cv= out of order); ARC fields that parse
 * or not (dkim_sig_parse_kind); the same result fed whole and split at
 * every byte.  dkimpy's view of these sets is in the integration test
 * (test_sender_auth_arc.py).
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "arc.h"
#include "buf.h"
#include "dkim_record.h"
#include "sasl.h"
#include "xalloc.h"

#define NOW 1796280000LL
#define AUTHRES " mx.test;\r\n\tdkim=pass header.d=a.test header.s=s1"
#define KEY_NAME "sel._domainkey.fwd.test"

static EVP_PKEY *key;
static char *record;		/* key's v=DKIM1 record */

static const char message[] =
    "From: A <a@a.test>\r\n"
    "To: list@fwd.test\r\n"
    "Subject: hello\r\n"
    "Date: Thu, 03 Dec 2026 08:00:00 +0000\r\n"
    "\r\n"
    "body line\r\n"
    "second line\r\n";

/* Once, before the tests fork: RSA key generation is slow. */
static void
key_setup(void)
{
	unsigned char *der = NULL;
	struct buf *b64 = buf_new(4096);
	int len;

	key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 2048);
	if (key == NULL || (len = i2d_PUBKEY(key, &der)) <= 0 ||
	    base64_encode(der, (size_t) len, b64) < 0)
		abort();
	record = xasprintf("v=DKIM1; k=rsa; p=%s", buf_cstr(b64));
	OPENSSL_free(der);
	buf_free(&b64);
}

static void
key_teardown(void)
{
	EVP_PKEY_free(key);
	free(record);
}

/* The outcome of sealing one message. */
struct sealed {
	int rc;
	char *fields[3];
	enum arc_cv cv;
	int instance;
	const char *reason;
	const char *result;		/* arc_sealer_result */
	size_t keys;
};

static void
sealed_free(struct sealed *s)
{
	int i;

	for (i = 0; i < 3; i++)
		free(s->fields[i]);
}

/*
 * Seal msg (fed in pieces of step bytes, 0: whole), each key record
 * asked for answered with lookup (and our record).
 */
static struct sealed
seal(const char *msg, size_t step, enum dkim_key_lookup lookup)
{
	struct sealed s;
	struct arc_sealer *a;
	char *error = NULL;
	size_t len = strlen(msg), i, n;

	memset(&s, 0, sizeof(s));
	a = arc_sealer_new(key, "fwd.test", "sel", NULL, NOW, &error);
	ck_assert_ptr_nonnull(a);
	for (i = 0; i < len; i += n) {
		n = step == 0 || len - i < step ? len - i : step;
		arc_sealer_chunk(a, msg + i, n);
	}
	arc_sealer_finish(a);
	s.keys = arc_sealer_key_count(a);
	for (i = 0; i < s.keys; i++) {
		const char *name = arc_sealer_key_name(a, i);

		if (name == NULL)
			continue;
		ck_assert_str_eq(name, KEY_NAME);
		arc_sealer_key(a, i, lookup, record, strlen(record));
	}
	s.result = arc_sealer_result(a);
	s.rc = arc_sealer_seal(a, AUTHRES, NOW, s.fields, &s.cv, &s.instance,
	    &s.reason);
	arc_sealer_free(&a);
	ck_assert_ptr_null(a);
	return s;
}

/* The message with the set of s above it (as delivered). */
static char *
with_set(const struct sealed *s, const char *msg)
{
	ck_assert_int_eq(s->rc, 1);
	return xasprintf("%s\r\n%s\r\n%s\r\n%s", s->fields[0], s->fields[1],
	    s->fields[2], msg);
}

static int
starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

START_TEST(test_first_set)
{
	struct sealed s = seal(message, 0, DKIM_LOOKUP_FOUND);

	ck_assert_int_eq(s.rc, 1);
	ck_assert_int_eq(s.instance, 1);
	ck_assert_int_eq(s.cv, ARC_CV_NONE);
	ck_assert_uint_eq(s.keys, 0);
	ck_assert_str_eq(s.result, "none");
	ck_assert(starts(s.fields[0], "ARC-Seal: i=1; a=rsa-sha256; "
	    "t=1796280000; cv=none;\r\n\td=fwd.test; s=sel;\r\n\tb="));
	ck_assert(starts(s.fields[1], "ARC-Message-Signature: i=1; "
	    "a=rsa-sha256; c=relaxed/relaxed;\r\n\td=fwd.test; s=sel; "
	    "t=1796280000;\r\n\t h=from:subject:date:to:from;\r\n\tbh="));
	ck_assert_str_eq(s.fields[2], "ARC-Authentication-Results: i=1; "
	    "mx.test;\r\n\tdkim=pass header.d=a.test header.s=s1");
	/* No ARC field and no A-R in the AMS (RFC 8617 4.1.2). */
	ck_assert_ptr_null(strstr(s.fields[1], "arc-"));
	ck_assert_ptr_null(strstr(s.fields[1], "authentication-results"));
	sealed_free(&s);
}
END_TEST

START_TEST(test_split_feeding_same_set)
{
	struct sealed whole = seal(message, 0, DKIM_LOOKUP_FOUND);
	char *chained = with_set(&whole, message);
	struct sealed w2 = seal(chained, 0, DKIM_LOOKUP_FOUND);
	size_t step;
	int i;

	for (step = 1; step <= 7; step++) {
		struct sealed s = seal(message, step, DKIM_LOOKUP_FOUND);
		struct sealed s2 = seal(chained, step, DKIM_LOOKUP_FOUND);

		/* rsa-sha256 (PKCS#1 v1.5) is deterministic. */
		for (i = 0; i < 3; i++) {
			ck_assert_str_eq(s.fields[i], whole.fields[i]);
			ck_assert_str_eq(s2.fields[i], w2.fields[i]);
		}
		sealed_free(&s);
		sealed_free(&s2);
	}
	sealed_free(&whole);
	sealed_free(&w2);
	free(chained);
}
END_TEST

START_TEST(test_chain_continued_pass)
{
	struct sealed s1 = seal(message, 0, DKIM_LOOKUP_FOUND), s2, s3;
	char *m2 = with_set(&s1, message), *m3;

	s2 = seal(m2, 0, DKIM_LOOKUP_FOUND);
	ck_assert_int_eq(s2.rc, 1);
	ck_assert_uint_eq(s2.keys, 2);		/* AMS 1, AS 1 */
	ck_assert_int_eq(s2.instance, 2);
	ck_assert_int_eq(s2.cv, ARC_CV_PASS);
	ck_assert_str_eq(s2.result, "pass");
	ck_assert(starts(s2.fields[0], "ARC-Seal: i=2; a=rsa-sha256; "
	    "t=1796280000; cv=pass;"));
	ck_assert(starts(s2.fields[2], "ARC-Authentication-Results: i=2; "));
	m3 = with_set(&s2, m2);
	s3 = seal(m3, 0, DKIM_LOOKUP_FOUND);
	ck_assert_uint_eq(s3.keys, 3);		/* AMS 2, AS 1, AS 2 */
	ck_assert_int_eq(s3.instance, 3);
	ck_assert_int_eq(s3.cv, ARC_CV_PASS);
	sealed_free(&s1);
	sealed_free(&s2);
	sealed_free(&s3);
	free(m2);
	free(m3);
}
END_TEST

/* Replace the first from in text (a copy). */
static char *
replaced(const char *text, const char *from, const char *to)
{
	const char *p = strstr(text, from);

	ck_assert_ptr_nonnull(p);
	return xasprintf("%.*s%s%s", (int) (p - text), text, to,
	    p + strlen(from));
}

START_TEST(test_changed_message_fails)
{
	static const char *const changes[][2] = {
		{ "second line", "second lime" },	/* the body */
		{ "Subject: hello", "Subject: hullo" },	/* a signed field */
		{ "cv=none", "cv=pass" },		/* AS 1's cv= */
		{ "header.s=s1", "header.s=s2" },	/* the AAR */
	};
	struct sealed s1 = seal(message, 0, DKIM_LOOKUP_FOUND);
	char *m2 = with_set(&s1, message);
	size_t i;

	for (i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
		char *bad = replaced(m2, changes[i][0], changes[i][1]);
		struct sealed s2 = seal(bad, 0, DKIM_LOOKUP_FOUND);

		ck_assert_int_eq(s2.rc, 1);
		ck_assert_int_eq(s2.instance, 2);
		ck_assert_msg(s2.cv == ARC_CV_FAIL, "change %zu: cv %s (%s)",
		    i, arc_cv_name(s2.cv), s2.reason);
		ck_assert_str_eq(s2.result, "fail");
		ck_assert(starts(s2.fields[0], "ARC-Seal: i=2; a=rsa-sha256; "
		    "t=1796280000; cv=fail;"));
		sealed_free(&s2);
		free(bad);
	}
	/* An unchanged one passes: the changes made the difference. */
	{
		struct sealed s2 = seal(m2, 0, DKIM_LOOKUP_FOUND);

		ck_assert_int_eq(s2.cv, ARC_CV_PASS);
		sealed_free(&s2);
	}
	sealed_free(&s1);
	free(m2);
}
END_TEST

START_TEST(test_key_lookups)
{
	struct sealed s1 = seal(message, 0, DKIM_LOOKUP_FOUND), s2;
	char *m2 = with_set(&s1, message);

	/* For now: no verdict, no set. */
	s2 = seal(m2, 0, DKIM_LOOKUP_TEMPFAIL);
	ck_assert_int_eq(s2.rc, 0);
	ck_assert_ptr_null(s2.fields[0]);
	ck_assert_str_eq(s2.reason, "ARC key lookup failed for now");
	ck_assert_ptr_null(s2.result);
	/* No key record: the chain fails. */
	s2 = seal(m2, 0, DKIM_LOOKUP_NONE);
	ck_assert_int_eq(s2.rc, 1);
	ck_assert_int_eq(s2.cv, ARC_CV_FAIL);
	sealed_free(&s2);
	sealed_free(&s1);
	free(m2);
}
END_TEST

/*
 * A message with these ARC fields above it (each "NAME: i=N; ..." with
 * made-up tags: the structure is decided before any key).
 */
static struct sealed
seal_fields(const char *fields)
{
	char *msg = xasprintf("%s%s", fields, message);
	struct sealed s = seal(msg, 0, DKIM_LOOKUP_FOUND);

	free(msg);
	return s;
}

#define AAR(i) "ARC-Authentication-Results: i=" #i "; mx.x; none\r\n"
#define AMS(i) "ARC-Message-Signature: i=" #i "; a=rsa-sha256; " \
	"d=x.test; s=s; h=from; bh=AAAA; b=AAAA\r\n"
#define AS(i, cv) "ARC-Seal: i=" #i "; a=rsa-sha256; cv=" cv "; " \
	"d=x.test; s=s; b=AAAA\r\n"

START_TEST(test_broken_chains_fail)
{
	static const struct {
		const char *fields;
		int instance;
		const char *reason;
	} cases[] = {
		{ AAR(1) AMS(1), 2, "ARC set incomplete" },
		{ AAR(2) AMS(2) AS(2, "pass"), 3, "ARC set incomplete" },
		{ AAR(1) AMS(1) AS(1, "none") AS(1, "none"), 2,
		    "two ARC fields of one instance" },
		{ AAR(1) AMS(1) AS(1, "none") AAR(0), 2,
		    "ARC field without a valid i=" },
		{ AAR(1) AMS(1) AS(1, "none") AS(51, "pass"), 2,
		    "ARC field without a valid i=" },
		/* i=0 claims a set that cannot be: a chain, broken. */
		{ AS(0, "none"), 1, "ARC field without a valid i=" },
		{ AAR(0) AMS(0) AS(0, "none"), 1,
		    "ARC field without a valid i=" },
		{ "ARC-Seal: i=; a=rsa-sha256; cv=none; d=x.test; s=s; "
		    "b=AAAA\r\n", 1, "ARC field without a valid i=" },
		{ "ARC-Seal: i=1; i=1; cv=none\r\n", 1,
		    "ARC field without a valid i=" },
		{ "ARC-Authentication-Results: i=x; mx.x; none\r\n"
		    AMS(1) AS(1, "none"), 2, "ARC field without a valid i=" },
		{ AAR(1) AMS(1) AS(1, "pass"), 2, "ARC-Seal cv= out of order" },
		{ AAR(1) AMS(1) AS(1, "none") AAR(2) AMS(2) AS(2, "none"), 3,
		    "ARC-Seal cv= out of order" },
		{ AAR(1) AMS(1) "ARC-Seal: i=1; a=rsa-sha256; cv=none; "
		    "d=x.test; s=s; h=from; b=AAAA\r\n", 2,
		    "ARC-Seal malformed" },
		{ AAR(1) "ARC-Message-Signature: i=1; a=rsa-sha1; d=x.test; "
		    "s=s; h=from; bh=AAAA; b=AAAA\r\n" AS(1, "none"), 2,
		    "ARC signature not rsa-sha256" },
		{ AAR(1) "ARC-Message-Signature: i=1; a=rsa-sha256; d=x.test; "
		    "s=s; h=from; t=1; x=2; bh=AAAA; b=AAAA\r\n" AS(1, "none"),
		    2, "ARC signature expired (x=)" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sealed s = seal_fields(cases[i].fields);

		ck_assert_msg(s.rc == 1 && s.cv == ARC_CV_FAIL,
		    "case %zu: rc %d cv %s (%s)", i, s.rc, arc_cv_name(s.cv),
		    s.reason);
		ck_assert_uint_eq(s.keys, 0);
		ck_assert_int_eq(s.instance, cases[i].instance);
		ck_assert_str_eq(s.reason, cases[i].reason);
		/* Sealed over the new set only: it verifies on its own. */
		ck_assert(strstr(s.fields[0], "cv=fail;") != NULL);
		sealed_free(&s);
	}
}
END_TEST

/*
 * ARC fields without any i= belong to no ARC set (RFC 8617 4.1): alone
 * they make no chain, so the new set is i=1 with cv=none (5.1 step 2,
 * 5.2 step 1); next to a chain they are left out of it.
 */
START_TEST(test_fields_without_instance_make_no_chain)
{
	static const char *const setless[] = {
		"ARC-Seal: a=rsa-sha256; cv=none; d=x.test; s=s; b=AAAA\r\n",
		"ARC-Authentication-Results: mx.x; none\r\n"
		    "ARC-Message-Signature: a=rsa-sha256; d=x.test; s=s; "
		    "h=from; bh=AAAA; b=AAAA\r\n"
		    "ARC-Seal: a=rsa-sha256; cv=fail; d=x.test; s=s; "
		    "b=AAAA\r\n",
		"ARC-Seal:\r\n",
	};
	size_t i;

	for (i = 0; i < sizeof(setless) / sizeof(setless[0]); i++) {
		char *m1 = xasprintf("%s%s", setless[i], message), *m2;
		struct sealed s1 = seal(m1, 0, DKIM_LOOKUP_FOUND), s2;

		ck_assert_msg(s1.rc == 1 && s1.cv == ARC_CV_NONE &&
		    s1.instance == 1, "case %zu: rc %d i=%d cv=%s (%s)", i,
		    s1.rc, s1.instance, arc_cv_name(s1.cv), s1.reason);
		ck_assert_str_eq(s1.result, "none");
		ck_assert_uint_eq(s1.keys, 0);
		ck_assert_str_eq(s1.reason,
		    "no ARC chain yet (ARC fields without i= ignored)");
		ck_assert(starts(s1.fields[0], "ARC-Seal: i=1; a=rsa-sha256; "
		    "t=1796280000; cv=none;"));
		/* The next hop finds our set valid, the stray fields aside. */
		m2 = with_set(&s1, m1);
		s2 = seal(m2, 0, DKIM_LOOKUP_FOUND);
		ck_assert_msg(s2.rc == 1 && s2.cv == ARC_CV_PASS &&
		    s2.instance == 2, "case %zu: next hop rc %d i=%d cv=%s "
		    "(%s)", i, s2.rc, s2.instance, arc_cv_name(s2.cv),
		    s2.reason);
		ck_assert_uint_eq(s2.keys, 2);
		sealed_free(&s1);
		sealed_free(&s2);
		free(m1);
		free(m2);
	}
}
END_TEST

START_TEST(test_ended_chains_not_sealed)
{
	struct buf *fifty = buf_new(1024 * 1024);
	struct sealed s;
	int i;

	s = seal_fields(AAR(1) AMS(1) AS(1, "fail"));
	ck_assert_int_eq(s.rc, 0);
	ck_assert_str_eq(s.reason, "ARC chain failed earlier (cv=fail)");
	ck_assert_str_eq(s.result, "fail");
	for (i = 1; i <= ARC_INSTANCE_MAX; i++)
		ck_assert_int_eq(buf_printf(fifty, "ARC-Authentication-Results: "
		    "i=%d; x\r\nARC-Message-Signature: i=%d; a=rsa-sha256; "
		    "d=x.test; s=s; h=from; bh=AAAA; b=AAAA\r\nARC-Seal: i=%d; "
		    "a=rsa-sha256; cv=%s; d=x.test; s=s; b=AAAA\r\n", i, i, i,
		    i == 1 ? "none" : "pass"), 0);
	s = seal_fields(buf_cstr(fifty));
	ck_assert_int_eq(s.rc, 0);
	ck_assert_str_eq(s.reason, "ARC chain at its longest");
	ck_assert_ptr_null(s.result);
	buf_free(&fifty);
}
END_TEST

START_TEST(test_no_from_no_set)
{
	struct sealed s = seal("Subject: x\r\n\r\nbody\r\n", 0,
	    DKIM_LOOKUP_FOUND);

	ck_assert_int_eq(s.rc, -1);
	ck_assert_ptr_null(s.fields[0]);
}
END_TEST

START_TEST(test_sealer_refuses)
{
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	char *error = NULL;

	ck_assert_ptr_null(arc_sealer_new(ed, "fwd.test", "sel", NULL, NOW,
	    &error));
	ck_assert_str_eq(error, "ARC key is not RSA");
	free(error);
	error = NULL;
	ck_assert_ptr_null(arc_sealer_new(key, "fwd..test", "sel", NULL, NOW,
	    &error));
	free(error);
	EVP_PKEY_free(ed);
}
END_TEST

START_TEST(test_parse_kinds)
{
	static const struct {
		const char *value;
		enum dkim_sig_kind kind;
		int ok;
	} cases[] = {
		{ "i=1; a=rsa-sha256; d=x.test; s=s; h=from; bh=AAAA; b=AAAA",
		    DKIM_SIG_ARC_MESSAGE, 1 },
		/* No i=, or i= out of 1..50. */
		{ "a=rsa-sha256; d=x.test; s=s; h=from; bh=AAAA; b=AAAA",
		    DKIM_SIG_ARC_MESSAGE, 0 },
		{ "i=0; a=rsa-sha256; d=x.test; s=s; h=from; bh=AAAA; b=AAAA",
		    DKIM_SIG_ARC_MESSAGE, 0 },
		{ "i=51; a=rsa-sha256; d=x.test; s=s; h=from; bh=AAAA; b=AAAA",
		    DKIM_SIG_ARC_MESSAGE, 0 },
		/* 2^32 + 1 must not wrap to 1. */
		{ "i=4294967297; a=rsa-sha256; d=x.test; s=s; h=from; bh=AAAA; "
		    "b=AAAA", DKIM_SIG_ARC_MESSAGE, 0 },
		/* An AMS's i= is no AUID; a DKIM signature's is. */
		{ "v=1; i=1; a=rsa-sha256; d=x.test; s=s; h=from; bh=AAAA; "
		    "b=AAAA", DKIM_SIG_DKIM, 0 },
		{ "i=3; a=rsa-sha256; cv=pass; d=x.test; s=s; b=AAAA",
		    DKIM_SIG_ARC_SEAL, 1 },
		{ "i=3; a=rsa-sha256; cv=maybe; d=x.test; s=s; b=AAAA",
		    DKIM_SIG_ARC_SEAL, 0 },
		{ "i=3; a=rsa-sha256; d=x.test; s=s; b=AAAA",
		    DKIM_SIG_ARC_SEAL, 0 },
		{ "i=3; a=rsa-sha256; cv=none; d=x.test; s=s; h=from; b=AAAA",
		    DKIM_SIG_ARC_SEAL, 0 },
		{ "i=3; a=rsa-sha256; cv=none; d=x.test; s=s",
		    DKIM_SIG_ARC_SEAL, 0 },
	};
	struct dkim_sig sig;
	const char *error;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = dkim_sig_parse_kind(cases[i].value,
		    strlen(cases[i].value), cases[i].kind, &sig, &error);

		ck_assert_msg((rc == 0) == cases[i].ok, "case %zu: %d", i, rc);
		if (rc == 0 && cases[i].kind == DKIM_SIG_ARC_SEAL) {
			ck_assert_int_eq(sig.instance, 3);
			ck_assert_int_eq(sig.cv, DKIM_CV_PASS);
			ck_assert(sig.header_relaxed && sig.body_relaxed);
		}
		dkim_sig_clear(&sig);
	}
}
END_TEST

static Suite *
arc_suite(void)
{
	Suite *s = suite_create("arc");
	TCase *tc = tcase_create("seal");

	tcase_add_unchecked_fixture(tc, key_setup, key_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_first_set);
	tcase_add_test(tc, test_split_feeding_same_set);
	tcase_add_test(tc, test_chain_continued_pass);
	tcase_add_test(tc, test_changed_message_fails);
	tcase_add_test(tc, test_key_lookups);
	tcase_add_test(tc, test_no_from_no_set);
	tcase_add_test(tc, test_sealer_refuses);
	suite_add_tcase(s, tc);
	tc = tcase_create("chain");
	tcase_add_unchecked_fixture(tc, key_setup, key_teardown);
	tcase_add_test(tc, test_broken_chains_fail);
	tcase_add_test(tc, test_fields_without_instance_make_no_chain);
	tcase_add_test(tc, test_ended_chains_not_sealed);
	tcase_add_test(tc, test_parse_kinds);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(arc_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

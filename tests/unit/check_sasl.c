/* check_sasl: base64 and SASL PLAIN decoding. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "sasl.h"

#define T(s)	s, sizeof(s) - 1

/* --- base64 ------------------------------------------------------------- */

struct b64_case {
	const char *plain;
	size_t plain_len;
	const char *text;
};

/* RFC 4648 section 10, plus binary data and every padding length. */
static const struct b64_case b64_cases[] = {
	{ T(""), "" },
	{ T("f"), "Zg==" },
	{ T("fo"), "Zm8=" },
	{ T("foo"), "Zm9v" },
	{ T("foob"), "Zm9vYg==" },
	{ T("fooba"), "Zm9vYmE=" },
	{ T("foobar"), "Zm9vYmFy" },
	{ T("\0"), "AA==" },
	{ T("\0\0\0"), "AAAA" },
	{ T("\xff\xfe\xfd"), "//79" },
	{ T("\xfb\xef\xbe"), "++++" },
	{ T("\0user\0pass"), "AHVzZXIAcGFzcw==" },
};

START_TEST(test_base64_decode_ok)
{
	const struct b64_case *c = &b64_cases[_i];
	struct buf *out = buf_new(64);

	/* Decoding appends: what was there stays. */
	ck_assert_int_eq(buf_append_str(out, "pre"), 0);
	ck_assert_int_eq(base64_decode(c->text, strlen(c->text), out), 0);
	ck_assert_uint_eq(buf_len(out), 3 + c->plain_len);
	ck_assert_mem_eq(buf_cstr(out), "pre", 3);
	if (c->plain_len > 0)
		ck_assert_mem_eq(buf_cstr(out) + 3, c->plain, c->plain_len);
	ck_assert_int_eq(buf_cstr(out)[buf_len(out)], '\0');
	buf_free(&out);
}
END_TEST

START_TEST(test_base64_encode_ok)
{
	const struct b64_case *c = &b64_cases[_i];
	struct buf *out = buf_new(64);

	ck_assert_int_eq(buf_append_str(out, "pre"), 0);
	ck_assert_int_eq(base64_encode(c->plain, c->plain_len, out), 0);
	ck_assert_str_eq(buf_cstr(out) + 3, c->text);
	ck_assert_uint_eq(buf_len(out), 3 + strlen(c->text));
	buf_free(&out);
}
END_TEST

struct b64_bad {
	const char *text;
	size_t len;
	const char *why;
};

static const struct b64_bad b64_bad_cases[] = {
	{ T("Zg"), "padding missing" },
	{ T("Zg="), "length not a multiple of 4" },
	{ T("Z"), "one character" },
	{ T("Zm9vY"), "five characters" },
	{ T("Zg==Zg=="), "padding in the middle" },
	{ T("Zm9=Zm9v"), "padding before the last group" },
	{ T("Z==="), "three pads" },
	{ T("===="), "only pads" },
	{ T("Z=g="), "pad then data" },
	{ T("Zm=v"), "pad then data in the last group" },
	{ T("Zm9v Zm9v"), "space" },
	{ T("Zm9v\r\n"), "line end" },
	{ T("Zm9\0"), "NUL" },
	{ T("Zm9-"), "URL-safe alphabet" },
	{ T("Zm9_"), "URL-safe alphabet" },
	{ T("Zm9\x80"), "high byte" },
	{ T("Zm9\xff"), "0xff" },
	{ T("Zm9vYmFy\t"), "trailing tab" },
	{ T("Zm9v.A=="), "dot" },
};

START_TEST(test_base64_decode_bad)
{
	const struct b64_bad *c = &b64_bad_cases[_i];
	struct buf *out = buf_new(64);

	ck_assert_int_eq(buf_append_str(out, "keep"), 0);
	ck_assert_msg(base64_decode(c->text, c->len, out) == -1,
	    "accepted: %s", c->why);
	/* A failed decode leaves out exactly as it was. */
	ck_assert_str_eq(buf_cstr(out), "keep");
	ck_assert_uint_eq(buf_len(out), 4);
	buf_free(&out);
}
END_TEST

START_TEST(test_base64_decode_cap)
{
	struct buf *out = buf_new(8);

	ck_assert_int_eq(buf_append_str(out, "ab"), 0);
	/* "foobar" needs 6 more bytes: fits exactly. */
	ck_assert_int_eq(base64_decode(T("Zm9vYmFy"), out), 0);
	ck_assert_str_eq(buf_cstr(out), "abfoobar");
	buf_truncate(out, 3);
	/* 7 bytes would pass the cap of 8: nothing of it stays. */
	ck_assert_int_eq(base64_decode(T("Zm9vYmFyYg=="), out), -1);
	ck_assert_str_eq(buf_cstr(out), "abf");
	buf_free(&out);
}
END_TEST

START_TEST(test_base64_encode_cap)
{
	struct buf *out = buf_new(10);

	ck_assert_int_eq(buf_append_str(out, "xy"), 0);
	ck_assert_int_eq(base64_encode("foobar", 6, out), 0);
	ck_assert_str_eq(buf_cstr(out), "xyZm9vYmFy");
	buf_truncate(out, 2);
	ck_assert_int_eq(base64_encode("foobarb", 7, out), -1);
	ck_assert_str_eq(buf_cstr(out), "xy");
	buf_free(&out);
}
END_TEST

/* data[i] = i * mul + add: every byte value, in a varying order. */
static void
fill_bytes(unsigned char *data, size_t len, size_t mul, size_t add)
{
	size_t i;

	for (i = 0; i < len; i++)
		data[i] = (unsigned char) (i * mul + add);
}

/* Every byte value at every position of a group survives a round trip. */
START_TEST(test_base64_round_trip)
{
	unsigned char data[259];
	struct buf *text = buf_new(1024), *back = buf_new(1024);
	size_t len;

	fill_bytes(data, sizeof(data), 7, 3);
	for (len = 0; len <= sizeof(data); len++) {
		buf_reset(text);
		buf_reset(back);
		ck_assert_int_eq(base64_encode(data, len, text), 0);
		ck_assert_uint_eq(buf_len(text), (len + 2) / 3 * 4);
		ck_assert_int_eq(base64_decode(buf_cstr(text), buf_len(text),
		    back), 0);
		ck_assert_uint_eq(buf_len(back), len);
		if (len > 0)
			ck_assert_mem_eq(buf_cstr(back), data, len);
	}
	buf_free(&text);
	buf_free(&back);
}
END_TEST

/*
 * Long input is decoded in blocks: a bad character or the cap met after
 * the first block was appended still leaves out as it was.
 */
START_TEST(test_base64_decode_late_error)
{
	unsigned char data[600];
	struct buf *text = buf_new(1024), *out = buf_new(400);
	size_t at;

	fill_bytes(data, sizeof(data), 11, 5);
	ck_assert_int_eq(base64_encode(data, 300, text), 0);
	for (at = 256; at < buf_len(text); at += 97) {
		char saved = buf_data(text)[at];

		buf_data(text)[at] = '*';
		buf_reset(out);
		ck_assert_int_eq(buf_append_str(out, "keep"), 0);
		ck_assert_int_eq(base64_decode(buf_cstr(text), buf_len(text),
		    out), -1);
		ck_assert_str_eq(buf_cstr(out), "keep");
		buf_data(text)[at] = saved;
	}
	/* 600 bytes pass the cap of 400 in the fourth block. */
	buf_reset(text);
	ck_assert_int_eq(base64_encode(data, sizeof(data), text), 0);
	buf_reset(out);
	ck_assert_int_eq(buf_append_str(out, "keep"), 0);
	ck_assert_int_eq(base64_decode(buf_cstr(text), buf_len(text), out),
	    -1);
	ck_assert_str_eq(buf_cstr(out), "keep");
	buf_free(&text);
	buf_free(&out);
}
END_TEST

/* --- SASL PLAIN ------------------------------------------------------- */

struct plain_case {
	const char *data;
	size_t len;
	int ok;
	const char *authzid, *authcid, *password;
};

static const struct plain_case plain_cases[] = {
	{ T("\0user\0secret"), 1, "", "user", "secret" },
	{ T("admin\0user\0secret"), 1, "admin", "user", "secret" },
	{ T("\0user@example.org\0p a s s"), 1, "", "user@example.org",
	    "p a s s" },
	{ T("\0\xc3\xa9t\xc3\xa9\0\xe2\x82\xac"), 1, "", "\xc3\xa9t\xc3\xa9",
	    "\xe2\x82\xac" },
	{ T("\0u\0p"), 1, "", "u", "p" },
	/* malformed */
	{ T(""), 0, NULL, NULL, NULL },
	{ T("user"), 0, NULL, NULL, NULL },
	{ T("\0user"), 0, NULL, NULL, NULL },
	{ T("user\0secret"), 0, NULL, NULL, NULL },
	{ T("\0user\0"), 0, NULL, NULL, NULL },
	{ T("\0\0secret"), 0, NULL, NULL, NULL },
	{ T("\0\0"), 0, NULL, NULL, NULL },
	{ T("a\0\0"), 0, NULL, NULL, NULL },
	{ T("\0user\0sec\0ret"), 0, NULL, NULL, NULL },
	{ T("\0user\0secret\0"), 0, NULL, NULL, NULL },
	{ T("\0\0\0"), 0, NULL, NULL, NULL },
};

START_TEST(test_plain_table)
{
	const struct plain_case *c = &plain_cases[_i];
	struct buf *in = buf_new(4096);
	char *authzid = NULL, *authcid = NULL, *password = NULL;
	const char *error = NULL;
	int rc;

	ck_assert_int_eq(buf_set(in, c->data, c->len), 0);
	rc = sasl_plain_parse(in, &authzid, &authcid, &password, &error);
	if (c->ok) {
		ck_assert_int_eq(rc, 0);
		ck_assert_str_eq(authzid, c->authzid);
		ck_assert_str_eq(authcid, c->authcid);
		ck_assert_str_eq(password, c->password);
	} else {
		ck_assert_int_eq(rc, -1);
		ck_assert_ptr_nonnull(error);
		ck_assert_uint_gt(strlen(error), 0);
		ck_assert_ptr_null(authzid);
		ck_assert_ptr_null(authcid);
		ck_assert_ptr_null(password);
	}
	free(authzid);
	free(authcid);
	free(password);
	buf_free(&in);
}
END_TEST

/* Parts of exactly 1024 bytes pass; 1025 in any of the three fails. */
START_TEST(test_plain_part_limits)
{
	static const size_t sizes[][3] = {
		{ 1024, 1024, 1024 },
		{ 1025, 1, 1 },
		{ 0, 1025, 1 },
		{ 0, 1, 1025 },
		{ 0, 1, 100000 },
	};
	struct buf *in = buf_new(200000);
	char *authzid, *authcid, *password;
	const char *error;
	size_t i, k;
	int rc;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		/* "z..z NUL c..c NUL p..p" */
		buf_reset(in);
		for (k = 0; k < sizes[i][0]; k++)
			(void) buf_append_char(in, 'z');
		(void) buf_append(in, "", 1);
		for (k = 0; k < sizes[i][1]; k++)
			(void) buf_append_char(in, 'c');
		(void) buf_append(in, "", 1);
		for (k = 0; k < sizes[i][2]; k++)
			(void) buf_append_char(in, 'p');
		authzid = authcid = password = NULL;
		error = NULL;
		rc = sasl_plain_parse(in, &authzid, &authcid, &password,
		    &error);
		if (i == 0) {
			ck_assert_int_eq(rc, 0);
			ck_assert_uint_eq(strlen(authzid), 1024);
			ck_assert_uint_eq(strlen(authcid), 1024);
			ck_assert_uint_eq(strlen(password), 1024);
		} else {
			ck_assert_msg(rc == -1, "case %zu accepted", i);
			ck_assert_ptr_nonnull(error);
		}
		free(authzid);
		free(authcid);
		free(password);
	}
	buf_free(&in);
}
END_TEST

/* The whole path a daemon takes: base64 text to the three parts. */
START_TEST(test_plain_from_base64)
{
	struct buf *in = buf_new(1024);
	char *authzid, *authcid, *password;
	const char *error;

	ck_assert_int_eq(base64_decode(T("AHRlc3QAdGVzdHBhc3M="), in), 0);
	ck_assert_int_eq(sasl_plain_parse(in, &authzid, &authcid, &password,
	    &error), 0);
	ck_assert_str_eq(authzid, "");
	ck_assert_str_eq(authcid, "test");
	ck_assert_str_eq(password, "testpass");
	free(authzid);
	free(authcid);
	free(password);
	buf_free(&in);
}
END_TEST

static Suite *
sasl_suite(void)
{
	Suite *s = suite_create("sasl");
	TCase *tc;

	tc = tcase_create("base64");
	tcase_add_loop_test(tc, test_base64_decode_ok, 0,
	    sizeof(b64_cases) / sizeof(b64_cases[0]));
	tcase_add_loop_test(tc, test_base64_encode_ok, 0,
	    sizeof(b64_cases) / sizeof(b64_cases[0]));
	tcase_add_loop_test(tc, test_base64_decode_bad, 0,
	    sizeof(b64_bad_cases) / sizeof(b64_bad_cases[0]));
	tcase_add_test(tc, test_base64_decode_cap);
	tcase_add_test(tc, test_base64_encode_cap);
	tcase_add_test(tc, test_base64_round_trip);
	tcase_add_test(tc, test_base64_decode_late_error);
	suite_add_tcase(s, tc);

	tc = tcase_create("plain");
	tcase_add_loop_test(tc, test_plain_table, 0,
	    sizeof(plain_cases) / sizeof(plain_cases[0]));
	tcase_add_test(tc, test_plain_part_limits);
	tcase_add_test(tc, test_plain_from_base64);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(sasl_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

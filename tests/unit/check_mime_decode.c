/* check_mime_decode: encoded words, base64, QP, charsets, folding, caps. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mime_decode.h"

static const struct {
	const char *in, *out;
} header_cases[] = {
	{ "plain text", "plain text" },
	{ "=?UTF-8?B?w4RwZmVs?=", "\xc3\x84pfel" },
	{ "=?iso-8859-1?q?Caf=E9_au_lait?=", "Caf\xc3\xa9 au lait" },
	/* Adjacent words: the blanks between them vanish. */
	{ "=?utf-8?q?a?= =?utf-8?q?b?=", "ab" },
	{ "=?utf-8?q?a?=  \t =?utf-8?q?b?= c", "ab c" },
	/* A UTF-8 character split across two words. */
	{ "=?utf-8?B?w4TD?= =?utf-8?q?=B6?=", "\xc3\x84\xc3\xb6" },
	{ "x =?utf-8?q?a?= y", "x a y" },
	/* Malformed words are kept as written. */
	{ "=?utf-8?X?abc?=", "=?utf-8?X?abc?=" },
	{ "=?utf-8?q?no end", "=?utf-8?q?no end" },
	{ "=??q?a?=", "=??q?a?=" },
	{ "=?utf-8?q?a b?=", "=?utf-8?q?a b?=" },
	{ "=?utf-8?q?bad=ZZ?=", "bad=ZZ" },
	{ "=?windows-1252?q?=80?=", "\xe2\x82\xac" },
	{ "=?utf-8*en?q?lang?=", "lang" },
	{ "=?koi8-r?b?8NLJ18XU?=", "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82" },
	{ "=?x-unknown?q?raw=41?=", "rawA" },
	{ "", "" },
};

START_TEST(test_header)
{
	struct buf *out = buf_new(1024);
	const char *in = header_cases[_i].in;

	ck_assert_int_eq(mime_decode_header(in, strlen(in), out), 0);
	ck_assert_str_eq(buf_cstr(out), header_cases[_i].out);
	buf_free(&out);
}
END_TEST

static const struct {
	const char *in, *enc, *charset, *out;
} body_cases[] = {
	{ "SGVs\nbG8=\n", "base64", NULL, "Hello" },
	{ "SG!V*s bG\r\n8=junk", "BASE64", "us-ascii", "Hello" },
	{ "a=\nb=\r\nc= \nd\n", "quoted-printable", NULL, "abcd\n" },
	{ "=E4=\n=FC=ZZ=", "quoted-printable", "iso-8859-1",
	    "\xc3\xa4\xc3\xbc=ZZ" },
	{ "\xe4", NULL, "latin1", "\xc3\xa4" },
	{ "\xc3\xa4", "8bit", "utf-8", "\xc3\xa4" },
	{ "\x93q\x94", NULL, "windows-1252", "\xe2\x80\x9cq\xe2\x80\x9d" },
	{ "as is", "x-uuencode", NULL, "as is" },
};

START_TEST(test_body)
{
	struct buf *out = buf_new(1024);
	const char *in = body_cases[_i].in;

	ck_assert_int_eq(mime_decode_body(in, strlen(in), body_cases[_i].enc,
	    body_cases[_i].charset, out), 0);
	ck_assert_str_eq(buf_cstr(out), body_cases[_i].out);
	buf_free(&out);
}
END_TEST

START_TEST(test_fold)
{
	char s[] = "AbC \xc3\x84\xc3\x96\xc3\x9c\xc3\x97\xc3\x9f\xc3\xa4 Z";

	mime_decode_fold(s, strlen(s));
	ck_assert_str_eq(s, "abc \xc3\xa4\xc3\xb6\xc3\xbc\xc3\x97\xc3\x9f\xc3\xa4 z");
}
END_TEST

/* Output never passes the cap; what fit is a prefix. */
START_TEST(test_cap)
{
	struct buf *out = buf_new(4);
	const char *h = "=?utf-8?q?abcdefgh?=";
	const char *l1 = "\xe4\xe4\xe4\xe4\xe4";

	ck_assert_int_eq(mime_decode_header(h, strlen(h), out), -1);
	ck_assert_uint_eq(buf_len(out), 4);
	ck_assert_str_eq(buf_cstr(out), "abcd");
	buf_reset(out);
	ck_assert_int_eq(mime_decode_body("YWJjZGVm", 8, "base64", NULL,
	    out), -1);
	ck_assert_str_eq(buf_cstr(out), "abcd");
	buf_reset(out);
	ck_assert_int_eq(mime_decode_charset(l1, 5, "iso-8859-1", out), -1);
	ck_assert_uint_le(buf_len(out), 4);
	buf_reset(out);
	ck_assert_int_eq(mime_decode_charset("abcdef", 6, "koi8-r", out), -1);
	ck_assert_uint_eq(buf_len(out), 4);
	buf_free(&out);
}
END_TEST

/* NUL bytes and invalid input do not stop decoding. */
START_TEST(test_bad)
{
	struct buf *out = buf_new(64);

	ck_assert_int_eq(mime_decode_body("YW\0Jj", 5, "base64", NULL, out), 0);
	ck_assert_str_eq(buf_cstr(out), "abc");
	buf_reset(out);
	ck_assert_int_eq(mime_decode_charset("a\xff" "b", 3, "utf-16x", out),
	    0);
	ck_assert_uint_eq(buf_len(out), 3);
	buf_free(&out);
}
END_TEST

static Suite *
mime_decode_suite(void)
{
	Suite *s = suite_create("mime_decode");
	TCase *tc = tcase_create("decode");

	tcase_add_loop_test(tc, test_header, 0,
	    sizeof(header_cases) / sizeof(header_cases[0]));
	tcase_add_loop_test(tc, test_body, 0,
	    sizeof(body_cases) / sizeof(body_cases[0]));
	tcase_add_test(tc, test_fold);
	tcase_add_test(tc, test_cap);
	tcase_add_test(tc, test_bad);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(mime_decode_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

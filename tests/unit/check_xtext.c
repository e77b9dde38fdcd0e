/* check_xtext: xtext decode/encode, ENVID and ORCPT checks, bad input. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "xtext.h"

/* ---- decode --------------------------------------------------------------- */

struct decode_case {
	const char *in;
	size_t max;
	const char *out;	/* NULL: refused */
};

static const struct decode_case decode_cases[] = {
	{ "plain", 100, "plain" },
	{ "", 100, "" },
	{ "a+2Bb", 100, "a+b" },
	{ "a+3Db", 100, "a=b" },
	{ "sp+20ace", 100, "sp ace" },
	{ "+7E", 100, "~" },
	/* Decoded bytes are checked again: no line ends, controls, 8-bit. */
	{ "x+0D+0AMAIL FROM:<a@b>", 100, NULL },
	{ "x+0D+0Ay", 100, NULL },
	{ "x+0Ay", 100, NULL },
	{ "x+0Dy", 100, NULL },
	{ "x+00y", 100, NULL },
	{ "x+09y", 100, NULL },
	{ "x+7Fy", 100, NULL },
	{ "x+80y", 100, NULL },
	{ "x+FFy", 100, NULL },
	/* Broken escapes and raw characters xtext does not allow. */
	{ "x+", 100, NULL },
	{ "x+4", 100, NULL },
	{ "x+4g", 100, NULL },
	{ "x+4a", 100, NULL },	/* hexchar is upper case */
	{ "x+G0", 100, NULL },
	{ "a=b", 100, NULL },
	{ "a b", 100, NULL },
	{ "a\rb", 100, NULL },
	{ "a\nb", 100, NULL },
	{ "a\tb", 100, NULL },
	{ "a\x7f", 100, NULL },
	{ "\xc3\xa9", 100, NULL },
	/* The limit counts decoded bytes. */
	{ "abcd", 4, "abcd" },
	{ "abcde", 4, NULL },
	{ "+41+42+43+44", 4, "ABCD" },
	{ "+41+42+43+44+45", 4, NULL },
};

START_TEST(test_decode)
{
	const struct decode_case *c = &decode_cases[_i];
	char *out = xtext_decode(c->in, c->max);

	if (c->out == NULL)
		ck_assert_msg(out == NULL, "case %d \"%s\": got \"%s\"", _i,
		    c->in, out);
	else {
		ck_assert_msg(out != NULL, "case %d \"%s\": refused", _i,
		    c->in);
		ck_assert_str_eq(out, c->out);
	}
	free(out);
}
END_TEST

/* ---- encode --------------------------------------------------------------- */

START_TEST(test_encode)
{
	struct buf *b = buf_new(1024);
	char *back;

	ck_assert_int_eq(xtext_encode(b, "a+b=c d\r\n~\x7f\xff"), 0);
	ck_assert_str_eq(buf_cstr(b), "a+2Bb+3Dc+20d+0D+0A~+7F+FF");
	/* What we encode from printable text decodes to the same. */
	buf_reset(b);
	ck_assert_int_eq(xtext_encode(b, "orig+x=y z@example.test"), 0);
	back = xtext_decode(buf_cstr(b), 100);
	ck_assert_str_eq(back, "orig+x=y z@example.test");
	free(back);
	buf_free(&b);
	/* Past the cap: -1, nothing silently cut short. */
	b = buf_new(4);
	ck_assert_int_eq(xtext_encode(b, "++"), -1);
	buf_free(&b);
}
END_TEST

START_TEST(test_envid_valid)
{
	ck_assert_int_eq(xtext_envid_valid("abc 123", 100), 1);
	ck_assert_int_eq(xtext_envid_valid("", 100), 0);
	ck_assert_int_eq(xtext_envid_valid("a\r\nb", 100), 0);
	ck_assert_int_eq(xtext_envid_valid("a\x80", 100), 0);
	ck_assert_int_eq(xtext_envid_valid("abcde", 4), 0);
}
END_TEST

/* ---- ORCPT ---------------------------------------------------------------- */

struct orcpt_case {
	const char *param;	/* as the client sent it */
	const char *kept;	/* NULL: refused */
	const char *wire;	/* encoded again for a RCPT line */
};

static const struct orcpt_case orcpt_cases[] = {
	{ "rfc822;a@b.test", "rfc822;a@b.test", "rfc822;a@b.test" },
	{ "RFC822;a@b.test", "rfc822;a@b.test", "rfc822;a@b.test" },
	{ "rfc822;orig+2Bx@b.test", "rfc822;orig+x@b.test",
	    "rfc822;orig+2Bx@b.test" },
	{ "rfc822;+22a+20b+22@b.test", "rfc822;\"a b\"@b.test",
	    "rfc822;\"a+20b\"@b.test" },
	{ "utf-8;j\\x{FC}rgen@b.test", "utf-8;j\\x{FC}rgen@b.test",
	    "utf-8;j\\x{FC}rgen@b.test" },
	{ "UTF-8;a@b.test", "utf-8;a@b.test", "utf-8;a@b.test" },
	/* The attack: a line end in the address or in the type. */
	{ "rfc822;x+0D+0AMAIL+20FROM:<e@vil>@b.test", NULL, NULL },
	{ "rfc822+0D+0ARSET;x@b.test", NULL, NULL },
	{ "rfc822\r\nRSET;x@b.test", NULL, NULL },
	/* A ';' decoded from "+3B" is no type separator. */
	{ "rfc822+3Bx@b.test", NULL, NULL },
	/* Unknown or malformed types, empty and broken addresses. */
	{ "x400;a@b.test", NULL, NULL },
	{ ";a@b.test", NULL, NULL },
	{ "rfc822", NULL, NULL },
	{ "rfc822;", NULL, NULL },
	{ "rfc822;a+0@b", NULL, NULL },
	{ "rfc822;a\x80@b", NULL, NULL },
	{ "utf-8;a+2B@b.test", NULL, NULL },
	{ "utf-8;a\\x{}@b.test", NULL, NULL },
	{ "utf-8;a\\x{1234567}@b.test", NULL, NULL },
	{ "utf-8;a\\y@b.test", NULL, NULL },
	{ "utf-8;j\xc3\xbcrgen@b.test", NULL, NULL },
};

START_TEST(test_orcpt)
{
	const struct orcpt_case *c = &orcpt_cases[_i];
	char *kept = xtext_orcpt_decode(c->param, XTEXT_ORCPT_MAX);
	struct buf *b;

	if (c->kept == NULL) {
		ck_assert_msg(kept == NULL, "case %d \"%s\": got \"%s\"", _i,
		    c->param, kept);
		return;
	}
	ck_assert_msg(kept != NULL, "case %d \"%s\": refused", _i, c->param);
	ck_assert_str_eq(kept, c->kept);
	ck_assert_int_eq(xtext_orcpt_valid(kept, XTEXT_ORCPT_MAX), 1);
	b = buf_new(2048);
	ck_assert_int_eq(xtext_orcpt_encode(b, kept, XTEXT_ORCPT_MAX), 0);
	ck_assert_str_eq(buf_cstr(b), c->wire);
	buf_free(&b);
	free(kept);
}
END_TEST

/* A queue file is not trusted: a kept value is checked again. */
START_TEST(test_orcpt_kept_invalid)
{
	static const char *const bad[] = {
		"rfc822;x\r\nMAIL FROM:<a@b>", "rfc822\r\nX;a@b", "x400;a@b",
		"rfc822;", "noseparator", "rfc822;a\x01" "b", "utf-8;a+b",
	};
	struct buf *b = buf_new(2048);
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(!xtext_orcpt_valid(bad[i], XTEXT_ORCPT_MAX),
		    "\"%s\" taken", bad[i]);
		ck_assert_int_eq(xtext_orcpt_encode(b, bad[i],
		    XTEXT_ORCPT_MAX), -1);
		ck_assert_uint_eq(buf_len(b), 0);
	}
	/* Old queue files may hold an upper-case type. */
	ck_assert_int_eq(xtext_orcpt_valid("RFC822;a@b", 500), 1);
	ck_assert_int_eq(xtext_orcpt_encode(b, "RFC822;a@b", 500), 0);
	ck_assert_str_eq(buf_cstr(b), "rfc822;a@b");
	ck_assert_int_eq(xtext_orcpt_valid("rfc822;abcde", 4), 0);
	buf_free(&b);
}
END_TEST

static Suite *
xtext_suite(void)
{
	Suite *s = suite_create("xtext");
	TCase *tc;

	tc = tcase_create("decode");
	tcase_add_loop_test(tc, test_decode, 0,
	    sizeof(decode_cases) / sizeof(decode_cases[0]));
	suite_add_tcase(s, tc);

	tc = tcase_create("encode");
	tcase_add_test(tc, test_encode);
	tcase_add_test(tc, test_envid_valid);
	suite_add_tcase(s, tc);

	tc = tcase_create("orcpt");
	tcase_add_loop_test(tc, test_orcpt, 0,
	    sizeof(orcpt_cases) / sizeof(orcpt_cases[0]));
	tcase_add_test(tc, test_orcpt_kept_invalid);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(xtext_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/*
 * check_dkim_canon: header field canonicalization (dkim_canon_field),
 * simple and relaxed, against a table of RFC 6376 3.4.1/3.4.2 cases, and
 * its output cap.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "dkim_canon.h"

/* One header field's canonical form (RFC 6376 3.4.1, 3.4.2). */
struct canon_case {
	const char *field;
	int relaxed, crlf;
	const char *want;		/* NULL: refused */
};

static const struct canon_case canon_cases[] = {
	{ "A: X\r\n", 1, 1, "a:X\r\n" },
	{ "B : Y\t\r\n\tZ  \r\n", 1, 1, "b:Y Z\r\n" },
	{ "SUBJect:   two  \t words \r\n", 1, 1, "subject:two words\r\n" },
	{ "X-Test-1 \t: v\r\n", 1, 1, "x-test-1:v\r\n" },
	{ "X:\r\n", 1, 1, "x:\r\n" },
	{ "X: \t \r\n", 1, 1, "x:\r\n" },
	{ "X:a\r\nb\r\n", 1, 1, "x:ab\r\n" },
	{ "X:a\r\n\r\n b\r\n", 1, 1, "x:a b\r\n" },
	{ "X: a:b;c=d e\r\n", 1, 1, "x:a:b;c=d e\r\n" },
	{ "DKIM-Signature: v=1; a=rsa-sha256;\r\n\tb=", 1, 0,
	    "dkim-signature:v=1; a=rsa-sha256; b=" },
	{ "A : X \r\n", 0, 1, "A : X \r\n" },
	{ "A : X \r\n", 0, 0, "A : X " },
	{ "No colon\r\n", 1, 1, NULL },
};

START_TEST(test_canon_field)
{
	const struct canon_case *c = &canon_cases[_i];
	struct buf *out = buf_new(256);
	int rc;

	(void) buf_append_str(out, "pre|");
	rc = dkim_canon_field(out, c->field, strlen(c->field), c->relaxed,
	    c->crlf);
	if (c->want == NULL) {
		ck_assert_int_eq(rc, -1);
		ck_assert_str_eq(buf_cstr(out), "pre|");
	} else {
		ck_assert_int_eq(rc, 0);
		ck_assert_str_eq(buf_cstr(out) + 4, c->want);
	}
	buf_free(&out);
}
END_TEST

/* Past the cap nothing of the field stays. */
START_TEST(test_canon_field_cap)
{
	struct buf *out = buf_new(12);

	(void) buf_append_str(out, "pre|");
	ck_assert_int_eq(dkim_canon_field(out, "Subject: long value\r\n",
	    21, 1, 1), -1);
	ck_assert_str_eq(buf_cstr(out), "pre|");
	ck_assert_int_eq(dkim_canon_field(out, "A: b\r\n", 6, 1, 1), 0);
	ck_assert_str_eq(buf_cstr(out), "pre|a:b\r\n");
	buf_free(&out);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("dkim_canon");
	TCase *tc = tcase_create("canon");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_canon_field, 0,
	    (int) (sizeof(canon_cases) / sizeof(canon_cases[0])));
	tcase_add_test(tc, test_canon_field_cap);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

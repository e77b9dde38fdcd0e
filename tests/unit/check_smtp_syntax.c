/* check_smtp_syntax: the printable check and the HELO syntax. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "smtp_syntax.h"

START_TEST(test_printable)
{
	ck_assert_int_eq(smtp_printable("a b~!", 5), 1);
	ck_assert_int_eq(smtp_printable("", 0), 1);
	ck_assert_int_eq(smtp_printable("a\rb", 3), 0);
	ck_assert_int_eq(smtp_printable("a\nb", 3), 0);
	ck_assert_int_eq(smtp_printable("a\0b", 3), 0);
	ck_assert_int_eq(smtp_printable("a\tb", 3), 0);
	ck_assert_int_eq(smtp_printable("a\x7f", 2), 0);
	ck_assert_int_eq(smtp_printable("\xc3\xa9", 2), 0);
}
END_TEST

START_TEST(test_has_control)
{
	ck_assert_int_eq(smtp_has_control("MAIL FROM:<a@b>", 15), 0);
	ck_assert_int_eq(smtp_has_control("RCPT TO:<j\xc3\xbc@b>", 15), 0);
	ck_assert_int_eq(smtp_has_control("", 0), 0);
	ck_assert_int_eq(smtp_has_control("NOOP\rx", 6), 1);
	ck_assert_int_eq(smtp_has_control("NO\0OP", 5), 1);
	ck_assert_int_eq(smtp_has_control("a\tb", 3), 1);
	ck_assert_int_eq(smtp_has_control("a\x7f", 2), 1);
}
END_TEST

START_TEST(test_printable_append)
{
	struct buf *b = buf_new(64);

	ck_assert_int_eq(smtp_printable_append(b,
	    "550 no\r\nX-Injected: 1\x01\xff end"), 0);
	ck_assert_str_eq(buf_cstr(b), "550 no??X-Injected: 1?? end");
	buf_free(&b);
	b = buf_new(3);
	ck_assert_int_eq(smtp_printable_append(b, "abcd"), -1);
	buf_free(&b);
}
END_TEST

struct helo_case {
	const char *helo;
	enum smtp_helo_syntax want;
};

static const struct helo_case helo_cases[] = {
	{ "client.example.test", SMTP_HELO_VALID },
	{ "localhost", SMTP_HELO_VALID },
	{ "a-b.c", SMTP_HELO_VALID },
	{ "[192.0.2.1]", SMTP_HELO_VALID },
	{ "[IPv6:2001:db8::1]", SMTP_HELO_VALID },
	/* Printable but not RFC 5321 syntax: only a lenient server. */
	{ "under_score.test", SMTP_HELO_LENIENT },
	{ "-dash.test", SMTP_HELO_LENIENT },
	{ "two..dots", SMTP_HELO_LENIENT },
	{ "[192.0.2.300]", SMTP_HELO_LENIENT },
	{ "[192.0.2.1", SMTP_HELO_LENIENT },
	{ "<x@y>", SMTP_HELO_LENIENT },
	/* Never: control characters, space, 8-bit, empty, too long. */
	{ "evil\rSubject: x", SMTP_HELO_INVALID },
	{ "evil\r", SMTP_HELO_INVALID },
	{ "evil\nX: y", SMTP_HELO_INVALID },
	{ "evil\tx", SMTP_HELO_INVALID },
	{ "two words", SMTP_HELO_INVALID },
	{ "caf\xc3\xa9.test", SMTP_HELO_INVALID },
	{ "del\x7f", SMTP_HELO_INVALID },
	{ "nul\x01", SMTP_HELO_INVALID },
	{ "", SMTP_HELO_INVALID },
};

START_TEST(test_helo)
{
	const struct helo_case *c = &helo_cases[_i];
	const char *error = NULL;

	ck_assert_msg(smtp_helo_check(c->helo, &error) == c->want,
	    "case %d \"%s\": want %d", _i, c->helo, c->want);
	if (c->want != SMTP_HELO_VALID)
		ck_assert_ptr_nonnull(error);
}
END_TEST

START_TEST(test_helo_length)
{
	char name[SMTP_HELO_MAX + 2];
	const char *error;
	size_t i;

	/* Labels of 63 with dots: a valid domain of exactly 255. */
	for (i = 0; i < SMTP_HELO_MAX; i++)
		name[i] = i % 64 == 63 ? '.' : 'a';
	name[SMTP_HELO_MAX] = '\0';
	ck_assert_int_eq(smtp_helo_check(name, &error), SMTP_HELO_VALID);
	name[SMTP_HELO_MAX] = 'a';
	name[SMTP_HELO_MAX + 1] = '\0';
	ck_assert_int_eq(smtp_helo_check(name, &error), SMTP_HELO_INVALID);
}
END_TEST

static Suite *
smtp_syntax_suite(void)
{
	Suite *s = suite_create("smtp_syntax");
	TCase *tc;

	tc = tcase_create("printable");
	tcase_add_test(tc, test_printable);
	tcase_add_test(tc, test_printable_append);
	tcase_add_test(tc, test_has_control);
	suite_add_tcase(s, tc);

	tc = tcase_create("helo");
	tcase_add_loop_test(tc, test_helo, 0,
	    sizeof(helo_cases) / sizeof(helo_cases[0]));
	tcase_add_test(tc, test_helo_length);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(smtp_syntax_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

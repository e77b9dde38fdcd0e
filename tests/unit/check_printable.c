/* check_printable: escaping of control bytes and invalid UTF-8. */
#include "config.h"

#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "printable.h"

/* --- printable_append: one table, input with its length ------------------ */

static const struct {
	const char *in;
	size_t len;
	const char *out;
} cases[] = {
	{ "", 0, "" },
	{ "plain text 123 <a@b.c>", 22, "plain text 123 <a@b.c>" },
	{ "a\r\nb", 4, "a\\r\\nb" },
	{ "\t", 1, "\\t" },
	{ "\x1b[31m", 5, "\\x1b[31m" },
	{ "nul\0x", 5, "nul\\x00x" },
	{ "\x7f", 1, "\\x7f" },
	{ "\x01\x1f", 2, "\\x01\\x1f" },
	{ "back\\slash", 10, "back\\slash" },
	/* Valid UTF-8 passes: 2, 3 and 4 byte sequences, U+00A0 first. */
	{ "\xc2\xa0\xc3\xa9", 4, "\xc2\xa0\xc3\xa9" },
	{ "\xe2\x82\xac\xed\x9f\xbf", 6, "\xe2\x82\xac\xed\x9f\xbf" },
	{ "\xf0\x9f\x93\xa7\xf4\x8f\xbf\xbf", 8,
	    "\xf0\x9f\x93\xa7\xf4\x8f\xbf\xbf" },
	/* C1 controls (CSI is U+009B) are escaped byte by byte. */
	{ "\xc2\x9b" "2J", 4, "\\xc2\\x9b2J" },
	{ "\xc2\x80", 2, "\\xc2\\x80" },
	/* Raw 8-bit CSI, lone continuation, truncated sequences. */
	{ "\x9b" "2J", 3, "\\x9b2J" },
	{ "\x80", 1, "\\x80" },
	{ "\xc3", 1, "\\xc3" },
	{ "\xe2\x82", 2, "\\xe2\\x82" },
	{ "\xf0\x9f\x93", 3, "\\xf0\\x9f\\x93" },
	/* Overlong forms, surrogates, past U+10FFFF, never-valid bytes. */
	{ "\xc0\x8a", 2, "\\xc0\\x8a" },
	{ "\xc1\xbf", 2, "\\xc1\\xbf" },
	{ "\xe0\x80\x8a", 3, "\\xe0\\x80\\x8a" },
	{ "\xed\xa0\x80", 3, "\\xed\\xa0\\x80" },
	{ "\xf0\x80\x80\x8a", 4, "\\xf0\\x80\\x80\\x8a" },
	{ "\xf4\x90\x80\x80", 4, "\\xf4\\x90\\x80\\x80" },
	{ "\xf5\xff\xfe", 3, "\\xf5\\xff\\xfe" },
	/* A bad continuation ends the sequence; what follows is kept. */
	{ "\xc3" "A", 2, "\\xc3A" },
	{ "\xe2\x82" "\n", 3, "\\xe2\\x82\\n" },
};

START_TEST(test_append)
{
	struct buf *b = buf_new(1024);

	ck_assert_int_eq(printable_append(b, cases[_i].in, cases[_i].len), 0);
	ck_assert_str_eq(buf_cstr(b), cases[_i].out);
	buf_free(&b);
}
END_TEST

START_TEST(test_append_cap)
{
	struct buf *b = buf_new(8);

	ck_assert_int_eq(buf_append_str(b, "ab"), 0);
	/* "\r\n\r\n" needs 8 bytes more: fails, b unchanged. */
	ck_assert_int_eq(printable_append(b, "\r\n\r\n", 4), -1);
	ck_assert_str_eq(buf_cstr(b), "ab");
	ck_assert_int_eq(printable_append(b, "\r\n\r", 3), 0);
	ck_assert_str_eq(buf_cstr(b), "ab\\r\\n\\r");
	buf_free(&b);
}
END_TEST

/* --- printable_copy: cut at a unit boundary ------------------------------ */

static const struct {
	const char *in;
	size_t size;
	const char *out;
} copy_cases[] = {
	{ "hello", 6, "hello" },
	{ "hello", 3, "he" },
	{ "hello", 1, "" },
	{ "a\nb", 3, "a" },		/* "\n" does not fit: not cut in two */
	{ "a\nb", 4, "a\\n" },
	{ "a\x1b", 5, "a" },		/* "\x1b" needs 4 */
	{ "a\x1b", 6, "a\\x1b" },
	{ "a\xe2\x82\xac", 4, "a" },	/* the euro sign stays whole */
	{ "a\xe2\x82\xac", 5, "a\xe2\x82\xac" },
};

START_TEST(test_copy)
{
	char out[32];
	size_t n;

	memset(out, 'Z', sizeof(out));
	n = printable_copy(out, copy_cases[_i].size, copy_cases[_i].in,
	    strlen(copy_cases[_i].in));
	ck_assert_str_eq(out, copy_cases[_i].out);
	ck_assert_uint_eq(n, strlen(copy_cases[_i].out));
	ck_assert_int_eq(out[copy_cases[_i].size], 'Z');
}
END_TEST

START_TEST(test_copy_no_room)
{
	char out[1];

	printable_copy(out, 0, "x", 1);
}
END_TEST

/* --- printable_printf: arguments escaped, the format kept ---------------- */

START_TEST(test_printf)
{
	struct buf *b = buf_new(1024);

	ck_assert_int_eq(printable_printf(b, "helo %s\nsize: %lld %d%%\n",
	    "evil\r\nsize: 0", 123456789012LL, -5), 0);
	ck_assert_str_eq(buf_cstr(b),
	    "helo evil\\r\\nsize: 0\nsize: 123456789012 -5%\n");
	buf_reset(b);
	ck_assert_int_eq(printable_printf(b, "[%-8s|%5s|%.2s|%*s|%c%c]",
	    "\x1b", "ab", "\nxyz", 3, "q", 'A', '\r'), 0);
	ck_assert_str_eq(buf_cstr(b), "[\\x1b    |   ab|\\n|  q|A\\r]");
	buf_reset(b);
	ck_assert_int_eq(printable_printf(b, "%zu %ld %u %x %5.1f",
	    (size_t) 7, -3L, 4u, 255u, 2.25), 0);
	ck_assert_str_eq(buf_cstr(b), "7 -3 4 ff   2.2");
	buf_free(&b);
}
END_TEST

START_TEST(test_printf_cap)
{
	struct buf *b = buf_new(10);

	ck_assert_int_eq(buf_append_str(b, "x"), 0);
	ck_assert_int_eq(printable_printf(b, "%s and %d", "\n\n\n", 1), -1);
	ck_assert_str_eq(buf_cstr(b), "x");
	buf_free(&b);
}
END_TEST

START_TEST(test_printf_percent_n)
{
	struct buf *b = buf_new(100);
	const char *fmt = "%n";

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#pragma GCC diagnostic ignored "-Wformat"
	printable_printf(b, fmt, (int *) NULL);
#pragma GCC diagnostic pop
}
END_TEST

static Suite *
printable_suite(void)
{
	Suite *s = suite_create("printable");
	TCase *tc;

	tc = tcase_create("append");
	tcase_add_loop_test(tc, test_append, 0,
	    (int) (sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tc, test_append_cap);
	suite_add_tcase(s, tc);

	tc = tcase_create("copy");
	tcase_add_loop_test(tc, test_copy, 0,
	    (int) (sizeof(copy_cases) / sizeof(copy_cases[0])));
	tcase_add_test_raise_signal(tc, test_copy_no_room, SIGABRT);
	suite_add_tcase(s, tc);

	tc = tcase_create("printf");
	tcase_add_test(tc, test_printf);
	tcase_add_test(tc, test_printf_cap);
	tcase_add_test_raise_signal(tc, test_printf_percent_n, SIGABRT);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(printable_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

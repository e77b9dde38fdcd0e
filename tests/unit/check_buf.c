/* check_buf: the capped byte buffer. */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"

/* Panics are expected in some tests; keep their lines out of the output. */
static void
quiet_log(void)
{
	int fd = open("/dev/null", O_WRONLY);

	ck_assert_int_ge(fd, 0);
	log_set_stderr_fd(fd);
}

/* b holds exactly len bytes equal to data, with the NUL after them. */
static void
assert_buf(const struct buf *b, const void *data, size_t len)
{
	ck_assert_uint_eq(buf_len(b), len);
	if (len > 0)
		ck_assert_mem_eq(buf_cstr(b), data, len);
	ck_assert_int_eq(buf_cstr(b)[len], '\0');
}

/* --- new / free / reset / cap ------------------------------------------- */

START_TEST(test_new_free)
{
	struct buf *b = buf_new(10), *none = NULL;

	ck_assert_ptr_nonnull(b);
	assert_buf(b, "", 0);
	ck_assert_uint_eq(buf_cap(b), 10);
	ck_assert_int_eq(buf_append_str(b, "abc"), 0);
	buf_reset(b);
	assert_buf(b, "", 0);
	ck_assert_uint_eq(buf_cap(b), 10);
	buf_free(&b);
	ck_assert_ptr_null(b);
	buf_free(&none);
	ck_assert_ptr_null(none);
}
END_TEST

START_TEST(test_new_zero_cap_aborts)
{
	quiet_log();
	(void) buf_new(0);
}
END_TEST

START_TEST(test_set_cap)
{
	struct buf *b = buf_new(10);

	ck_assert_int_eq(buf_append_str(b, "abcdef"), 0);
	ck_assert_int_eq(buf_set_cap(b, 5), -1);
	ck_assert_uint_eq(buf_cap(b), 10);
	ck_assert_int_eq(buf_set_cap(b, 0), -1);
	ck_assert_int_eq(buf_set_cap(b, 6), 0);
	ck_assert_uint_eq(buf_cap(b), 6);
	ck_assert_int_eq(buf_append_char(b, 'g'), -1);
	assert_buf(b, "abcdef", 6);
	ck_assert_int_eq(buf_set_cap(b, 100), 0);
	ck_assert_int_eq(buf_append_char(b, 'g'), 0);
	assert_buf(b, "abcdefg", 7);
	buf_free(&b);
}
END_TEST

/* --- append ------------------------------------------------------------- */

/* Caps around the initial allocation and its doublings. */
static const size_t cap_cases[] = { 1, 2, 62, 63, 64, 65, 127, 128, 1000 };

START_TEST(test_append_to_cap_one_chunk)
{
	size_t cap = cap_cases[_i];
	struct buf *b = buf_new(cap);
	char *data = malloc(cap + 1);

	memset(data, 'x', cap + 1);
	ck_assert_int_eq(buf_append(b, data, cap), 0);
	assert_buf(b, data, cap);
	/* One past the cap fails and changes nothing. */
	ck_assert_int_eq(buf_append(b, "y", 1), -1);
	ck_assert_int_eq(buf_append_char(b, 'y'), -1);
	ck_assert_int_eq(buf_append_str(b, "y"), -1);
	assert_buf(b, data, cap);
	/* Appending nothing at the cap is fine. */
	ck_assert_int_eq(buf_append(b, "", 0), 0);
	ck_assert_int_eq(buf_append_str(b, ""), 0);
	assert_buf(b, data, cap);
	/* A too-long first append fails on an empty buf too. */
	buf_reset(b);
	ck_assert_int_eq(buf_append(b, data, cap + 1), -1);
	assert_buf(b, "", 0);
	free(data);
	buf_free(&b);
}
END_TEST

START_TEST(test_append_to_cap_bytewise)
{
	size_t cap = cap_cases[_i], i;
	struct buf *b = buf_new(cap);
	char *expect = malloc(cap);

	for (i = 0; i < cap; i++) {
		expect[i] = (char) ('a' + i % 26);
		ck_assert_int_eq(buf_append_char(b, expect[i]), 0);
		assert_buf(b, expect, i + 1);
	}
	ck_assert_int_eq(buf_append_char(b, 'z'), -1);
	assert_buf(b, expect, cap);
	free(expect);
	buf_free(&b);
}
END_TEST

START_TEST(test_append_partial_fit_unchanged)
{
	struct buf *b = buf_new(8);

	ck_assert_int_eq(buf_append_str(b, "abcde"), 0);
	/* 4 more would pass the cap by one: nothing of it may land. */
	ck_assert_int_eq(buf_append_str(b, "fghi"), -1);
	assert_buf(b, "abcde", 5);
	ck_assert_int_eq(buf_append_str(b, "fgh"), 0);
	assert_buf(b, "abcdefgh", 8);
	buf_free(&b);
}
END_TEST

START_TEST(test_append_huge_len_no_overflow)
{
	struct buf *b = buf_new(SIZE_MAX);

	ck_assert_int_eq(buf_append_str(b, "ab"), 0);
	/* len + NUL would wrap around: must fail, not copy. */
	ck_assert_int_eq(buf_append(b, "x", SIZE_MAX - 2), -1);
	ck_assert_int_eq(buf_append(b, "x", SIZE_MAX), -1);
	assert_buf(b, "ab", 2);
	buf_free(&b);
}
END_TEST

START_TEST(test_append_binary)
{
	static const char data[] = { 'a', '\0', 'b', '\0', '\0', '\n', '\xff' };
	struct buf *b = buf_new(100);

	ck_assert_int_eq(buf_append(b, data, sizeof(data)), 0);
	ck_assert_int_eq(buf_append_char(b, '\0'), 0);
	ck_assert_uint_eq(buf_len(b), sizeof(data) + 1);
	ck_assert_mem_eq(buf_cstr(b), data, sizeof(data));
	ck_assert_int_eq(buf_cstr(b)[sizeof(data)], '\0');
	ck_assert_int_eq(buf_cstr(b)[sizeof(data) + 1], '\0');
	buf_free(&b);
}
END_TEST

START_TEST(test_append_growth)
{
	enum { N = 100000 };
	struct buf *b = buf_new(N);
	size_t i;

	for (i = 0; i < N; i++)
		ck_assert_int_eq(buf_append_char(b, (char) ('0' + i % 10)), 0);
	ck_assert_uint_eq(buf_len(b), N);
	for (i = 0; i < N; i++)
		ck_assert_int_eq(buf_cstr(b)[i], '0' + (int) (i % 10));
	ck_assert_int_eq(buf_cstr(b)[N], '\0');
	ck_assert_int_eq(buf_append_char(b, 'x'), -1);
	ck_assert_uint_eq(buf_len(b), N);
	buf_free(&b);
}
END_TEST

/* --- printf --------------------------------------------------------------- */

START_TEST(test_printf_basic)
{
	struct buf *b = buf_new(100);

	ck_assert_int_eq(buf_printf(b, "%s=%d", "n", 42), 0);
	ck_assert_int_eq(buf_printf(b, "%c%05.1f%%", ';', 2.5), 0);
	assert_buf(b, "n=42;002.5%", 11);
	ck_assert_int_eq(buf_printf(b, "%s", ""), 0);
	assert_buf(b, "n=42;002.5%", 11);
	buf_free(&b);
}
END_TEST

START_TEST(test_printf_to_cap)
{
	size_t cap = cap_cases[_i];
	struct buf *b = buf_new(cap);
	char *text = malloc(cap + 2);

	memset(text, 'p', cap + 1);
	text[cap + 1] = '\0';
	/* One past the cap: fails, and the buf stays empty. */
	ck_assert_int_eq(buf_printf(b, "%s", text), -1);
	assert_buf(b, "", 0);
	/* Exactly the cap fits. */
	text[cap] = '\0';
	ck_assert_int_eq(buf_printf(b, "%s", text), 0);
	assert_buf(b, text, cap);
	ck_assert_int_eq(buf_printf(b, "%s", "q"), -1);
	assert_buf(b, text, cap);
	free(text);
	buf_free(&b);
}
END_TEST

START_TEST(test_printf_fails_inside_allocation)
{
	/*
	 * cap 5 is well below the first allocation: vsnprintf's first try
	 * fits the storage but not the cap, and must leave no trace.
	 */
	struct buf *b = buf_new(5);

	ck_assert_int_eq(buf_append_str(b, "ab"), 0);
	ck_assert_int_eq(buf_printf(b, "%s", "cdef"), -1);
	assert_buf(b, "ab", 2);
	ck_assert_int_eq(buf_printf(b, "%d", 345), 0);
	assert_buf(b, "ab345", 5);
	buf_free(&b);
}
END_TEST

START_TEST(test_printf_long_second_pass)
{
	enum { LONG = 5000 };
	struct buf *b = buf_new(BUF_DEFAULT_CAP);
	char *text = malloc(LONG + 1), *expect = malloc(2 * LONG + 100);
	size_t i, n;

	for (i = 0; i < LONG; i++)
		text[i] = (char) ('A' + i % 26);
	text[LONG] = '\0';
	ck_assert_int_eq(buf_append_str(b, "start:"), 0);
	/* Far longer than the storage: the second vsnprintf writes it. */
	ck_assert_int_eq(buf_printf(b, "%s|%d|%s", text, -7, text), 0);
	n = (size_t) snprintf(expect, 2 * LONG + 100, "start:%s|%d|%s", text,
	    -7, text);
	assert_buf(b, expect, n);
	/* Many printfs in a row keep growing it correctly. */
	buf_reset(b);
	for (i = 0; i < 1000; i++)
		ck_assert_int_eq(buf_printf(b, "%zu,", i), 0);
	ck_assert_uint_eq(buf_len(b), 10 * 2 + 90 * 3 + 900 * 4);
	ck_assert_int_eq(strncmp(buf_cstr(b), "0,1,2,", 6), 0);
	ck_assert_str_eq(buf_cstr(b) + buf_len(b) - 4, "999,");
	free(text);
	free(expect);
	buf_free(&b);
}
END_TEST

/* --- set / truncate / consume / rtrim / strdup ---------------------------- */

START_TEST(test_set)
{
	struct buf *b = buf_new(6);

	ck_assert_int_eq(buf_append_str(b, "old"), 0);
	ck_assert_int_eq(buf_set(b, "new\0x", 5), 0);
	assert_buf(b, "new\0x", 5);
	ck_assert_int_eq(buf_set(b, "toolong", 7), -1);
	assert_buf(b, "new\0x", 5);
	ck_assert_int_eq(buf_set(b, "sixsix", 6), 0);
	assert_buf(b, "sixsix", 6);
	ck_assert_int_eq(buf_set(b, "", 0), 0);
	assert_buf(b, "", 0);
	buf_free(&b);
}
END_TEST

START_TEST(test_set_from_itself)
{
	struct buf *b = buf_new(100);

	/* Keeping a tail of its own data: the ranges overlap. */
	ck_assert_int_eq(buf_append_str(b, "abcdefghij"), 0);
	ck_assert_int_eq(buf_set(b, buf_cstr(b) + 3, buf_len(b) - 3), 0);
	assert_buf(b, "defghij", 7);
	buf_free(&b);
}
END_TEST

START_TEST(test_truncate)
{
	struct buf *b = buf_new(100);

	ck_assert_int_eq(buf_append_str(b, "abcdef"), 0);
	buf_truncate(b, 6);
	assert_buf(b, "abcdef", 6);
	buf_truncate(b, 3);
	assert_buf(b, "abc", 3);
	buf_truncate(b, 0);
	assert_buf(b, "", 0);
	ck_assert_int_eq(buf_append_str(b, "xy"), 0);
	assert_buf(b, "xy", 2);
	buf_free(&b);
}
END_TEST

START_TEST(test_truncate_past_len_aborts)
{
	struct buf *b = buf_new(100);

	quiet_log();
	ck_assert_int_eq(buf_append_str(b, "abc"), 0);
	buf_truncate(b, 4);
}
END_TEST

START_TEST(test_consume)
{
	struct buf *b = buf_new(100);

	ck_assert_int_eq(buf_append(b, "abc\0def", 7), 0);
	buf_consume(b, 0);
	assert_buf(b, "abc\0def", 7);
	buf_consume(b, 2);
	assert_buf(b, "c\0def", 5);
	buf_consume(b, 5);
	assert_buf(b, "", 0);
	ck_assert_int_eq(buf_append_str(b, "more"), 0);
	assert_buf(b, "more", 4);
	buf_free(&b);
}
END_TEST

START_TEST(test_consume_past_len_aborts)
{
	struct buf *b = buf_new(100);

	quiet_log();
	ck_assert_int_eq(buf_append_str(b, "abc"), 0);
	buf_consume(b, 4);
}
END_TEST

static const struct {
	const char *in;
	size_t in_len;
	const char *chars;
	size_t out_len;
} rtrim_cases[] = {
	{ "abc \t\r\n", 7, " \t\r\n", 3 },
	{ "abc", 3, " \t\r\n", 3 },
	{ "   ", 3, " ", 0 },
	{ "", 0, " ", 0 },
	{ "a b ", 4, " ", 3 },
	{ "abc\r\n", 5, "\n", 4 },	/* only the chars given */
	{ "abc  ", 5, "", 5 },
	{ "ab\0", 3, " \t", 3 },	/* a NUL is never "in" chars */
	{ "ab \0 ", 5, " ", 4 },
};

START_TEST(test_rtrim)
{
	struct buf *b = buf_new(100);

	ck_assert_int_eq(buf_append(b, rtrim_cases[_i].in,
	    rtrim_cases[_i].in_len), 0);
	buf_rtrim(b, rtrim_cases[_i].chars);
	assert_buf(b, rtrim_cases[_i].in, rtrim_cases[_i].out_len);
	buf_free(&b);
}
END_TEST

START_TEST(test_strdup)
{
	struct buf *b = buf_new(100);
	char *copy;

	copy = buf_strdup(b);
	ck_assert_str_eq(copy, "");
	free(copy);
	ck_assert_int_eq(buf_append(b, "a\0b", 3), 0);
	copy = buf_strdup(b);
	ck_assert_mem_eq(copy, "a\0b", 4);
	ck_assert_ptr_ne(copy, buf_cstr(b));
	buf_free(&b);
	/* The copy outlives the buf. */
	ck_assert_int_eq(copy[2], 'b');
	free(copy);
}
END_TEST

START_TEST(test_data_in_place)
{
	struct buf *b = buf_new(100);

	ck_assert_int_eq(buf_append_str(b, "hello"), 0);
	buf_data(b)[0] = 'j';
	assert_buf(b, "jello", 5);
	buf_free(&b);
}
END_TEST

static Suite *
buf_suite(void)
{
	Suite *s = suite_create("buf");
	TCase *tc;
	int ncaps = (int) (sizeof(cap_cases) / sizeof(cap_cases[0]));

	tc = tcase_create("new");
	tcase_add_test(tc, test_new_free);
	tcase_add_test_raise_signal(tc, test_new_zero_cap_aborts, SIGABRT);
	tcase_add_test(tc, test_set_cap);
	suite_add_tcase(s, tc);

	tc = tcase_create("append");
	tcase_add_loop_test(tc, test_append_to_cap_one_chunk, 0, ncaps);
	tcase_add_loop_test(tc, test_append_to_cap_bytewise, 0, ncaps);
	tcase_add_test(tc, test_append_partial_fit_unchanged);
	tcase_add_test(tc, test_append_huge_len_no_overflow);
	tcase_add_test(tc, test_append_binary);
	tcase_add_test(tc, test_append_growth);
	suite_add_tcase(s, tc);

	tc = tcase_create("printf");
	tcase_add_test(tc, test_printf_basic);
	tcase_add_loop_test(tc, test_printf_to_cap, 0, ncaps);
	tcase_add_test(tc, test_printf_fails_inside_allocation);
	tcase_add_test(tc, test_printf_long_second_pass);
	suite_add_tcase(s, tc);

	tc = tcase_create("edit");
	tcase_add_test(tc, test_set);
	tcase_add_test(tc, test_set_from_itself);
	tcase_add_test(tc, test_truncate);
	tcase_add_test_raise_signal(tc, test_truncate_past_len_aborts,
	    SIGABRT);
	tcase_add_test(tc, test_consume);
	tcase_add_test_raise_signal(tc, test_consume_past_len_aborts,
	    SIGABRT);
	tcase_add_loop_test(tc, test_rtrim, 0,
	    (int) (sizeof(rtrim_cases) / sizeof(rtrim_cases[0])));
	tcase_add_test(tc, test_strdup);
	tcase_add_test(tc, test_data_in_place);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(buf_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/*
 * check_lmtpd: lmtpd's pure logic: the spool (memory, file, replay) with
 * its Delivered-To header scan, and the breakable dot-lock.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#include "buf.h"
#include "dotlock.h"
#include "lmtpd_spool.h"
#include "xalloc.h"

/* --- spool ------------------------------------------------------------- */

static int
collect(void *ctx, const void *data, size_t len, char **error_r)
{
	(void) error_r;
	return buf_append(ctx, data, len);
}

static int
fail_collect(void *ctx, const void *data, size_t len, char **error_r)
{
	(void) ctx;
	(void) data;
	(void) len;
	*error_r = xstrdup("sink refused");
	return -1;
}

/* Append text split into pieces of step bytes; 0 = all at once. */
static struct lmtpd_spool *
spool_of(const char *text, size_t len, size_t step, size_t memory_limit)
{
	struct lmtpd_spool *spool = lmtpd_spool_new(memory_limit, "/tmp");
	char *error = NULL;
	size_t off, n;

	for (off = 0; off < len; off += n) {
		n = step == 0 || len - off < step ? len - off : step;
		ck_assert_int_eq(lmtpd_spool_append(spool, text + off, n,
		    &error), 0);
	}
	return spool;
}

static const struct {
	const char *message;
	const char *address;
	int looped;
} trace_cases[] = {
	{ "Delivered-To: a@x.test\r\n\r\nbody\r\n", "a@x.test", 1 },
	{ "delivered-to:   <A@X.Test>  \r\n\r\n", "a@x.test", 1 },
	{ "DELIVERED-TO:\ta@x.test\n\n", "A@X.TEST", 1 },
	/* Folded onto a continuation line. */
	{ "Subject: s\r\nDelivered-To:\r\n a@x.test\r\n\r\n", "a@x.test", 1 },
	/* Another address, a prefix, a longer address. */
	{ "Delivered-To: b@x.test\r\n\r\n", "a@x.test", 0 },
	{ "Delivered-To: a@x.test.org\r\n\r\n", "a@x.test", 0 },
	{ "Delivered-To: aa@x.test\r\n\r\n", "a@x.test", 0 },
	/* Only the header counts: in the body it is text. */
	{ "Subject: s\r\n\r\nDelivered-To: a@x.test\r\n", "a@x.test", 0 },
	/* A line that is no header field ends the header. */
	{ "not a header\r\nDelivered-To: a@x.test\r\n\r\n", "a@x.test", 0 },
	{ ": no name\r\nDelivered-To: a@x.test\r\n", "a@x.test", 0 },
	/* Other fields that merely look alike. */
	{ "X-Delivered-To: a@x.test\r\n\r\n", "a@x.test", 0 },
	{ "Delivered-To-Original: a@x.test\r\n\r\n", "a@x.test", 0 },
	{ "Delivered-To : a@x.test\r\n\r\n", "a@x.test", 0 },
	/* The last field of a header without a body. */
	{ "Subject: s\r\nDelivered-To: a@x.test\r\n", "a@x.test", 1 },
	/* Empty message, empty field. */
	{ "", "a@x.test", 0 },
	{ "Delivered-To:\r\n\r\n", "a@x.test", 0 },
	/* NUL bytes do not end anything early. */
	{ "Subject: \0\r\nDelivered-To: a@x.test\r\n\r\n", "a@x.test", 1 },
};

START_TEST(test_spool_delivered_to)
{
	const char *message = trace_cases[_i].message;
	size_t len = strlen(message), step;
	struct lmtpd_spool *spool;

	/* The NUL case: its length is known from the literal. */
	if (strncmp(message, "Subject: \0", 10) == 0 ||
	    strcmp(message, "Subject: ") == 0)
		len = sizeof("Subject: \0\r\nDelivered-To: a@x.test\r\n\r\n")
		    - 1;
	/* Split at every possible place, and in one piece. */
	for (step = 0; step <= len; step++) {
		spool = spool_of(message, len, step, 1024);
		ck_assert_msg(lmtpd_spool_delivered_to(spool,
		    trace_cases[_i].address) == trace_cases[_i].looped,
		    "case %d step %zu", _i, step);
		ck_assert_int_eq(lmtpd_spool_size(spool), (long long) len);
		lmtpd_spool_free(&spool);
	}
}
END_TEST

START_TEST(test_spool_too_many_traces)
{
	struct buf *msg = buf_new(100000);
	struct lmtpd_spool *spool;
	int i;

	for (i = 0; i <= LMTPD_SPOOL_TRACE_MAX; i++)
		ck_assert_int_eq(buf_printf(msg, "Delivered-To: u%d@x.test\r\n",
		    i), 0);
	buf_append_str(msg, "\r\nbody\r\n");
	spool = spool_of(buf_cstr(msg), buf_len(msg), 0, 1 << 20);
	/* More hops than are kept: a loop for anyone. */
	ck_assert_int_eq(lmtpd_spool_delivered_to(spool, "z@x.test"), 1);
	lmtpd_spool_free(&spool);
	buf_free(&msg);
}
END_TEST

START_TEST(test_spool_overlong_header_line)
{
	struct buf *msg = buf_new(100000);
	struct lmtpd_spool *spool;
	int i;

	/* An over-long Delivered-To is not examined; the next one is. */
	buf_append_str(msg, "Delivered-To: ");
	for (i = 0; i < 10000; i++)
		buf_append_char(msg, 'a');
	buf_append_str(msg, "@x.test\r\nDelivered-To: b@x.test\r\n\r\n");
	spool = spool_of(buf_cstr(msg), buf_len(msg), 7, 1 << 20);
	ck_assert_int_eq(lmtpd_spool_delivered_to(spool, "b@x.test"), 1);
	ck_assert_int_eq(lmtpd_spool_delivered_to(spool, "a@x.test"), 0);
	lmtpd_spool_free(&spool);
	buf_free(&msg);
}
END_TEST

/* memory limits: everything in memory, spill midway, always a file. */
static const size_t memory_limits[] = { 1 << 20, 1000, 0 };

START_TEST(test_spool_replay)
{
	struct buf *msg = buf_new(1 << 20), *out = buf_new(1 << 20);
	struct lmtpd_spool *spool;
	char *error = NULL;
	int i;

	for (i = 0; i < 20000; i++)
		buf_printf(msg, "line %d\r\n", i);
	spool = spool_of(buf_cstr(msg), buf_len(msg), 333,
	    memory_limits[_i]);
	/* Replay twice: every recipient gets the same bytes. */
	for (i = 0; i < 2; i++) {
		buf_reset(out);
		ck_assert_int_eq(lmtpd_spool_replay(spool, collect, out,
		    &error), 0);
		ck_assert_uint_eq(buf_len(out), buf_len(msg));
		ck_assert(memcmp(buf_cstr(out), buf_cstr(msg),
		    buf_len(msg)) == 0);
	}
	ck_assert_int_eq(lmtpd_spool_replay(spool, fail_collect, NULL,
	    &error), -1);
	ck_assert_str_eq(error, "sink refused");
	free(error);
	lmtpd_spool_free(&spool);
	buf_free(&msg);
	buf_free(&out);
}
END_TEST

START_TEST(test_spool_bad_temp_dir)
{
	struct lmtpd_spool *spool = lmtpd_spool_new(4, "/nonexistent/dir");
	char *error = NULL;

	ck_assert_int_eq(lmtpd_spool_append(spool, "abc", 3, &error), 0);
	ck_assert_int_eq(lmtpd_spool_append(spool, "defgh", 5, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "/nonexistent/dir"));
	free(error);
	lmtpd_spool_free(&spool);
}
END_TEST

/* --- dotlock ----------------------------------------------------------- */

static char dir[] = "/tmp/check_lmtpd.XXXXXX";
static char *target;
static char *lock_file;

static void
lock_setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(dir));
	target = xasprintf("%s/maildirsize", dir);
	lock_file = xasprintf("%s.lock", target);
}

static void
lock_teardown(void)
{
	(void) unlink(lock_file);
	ck_assert_int_eq(rmdir(dir), 0);	/* nothing else left behind */
	free(target);
	free(lock_file);
	memcpy(dir + strlen(dir) - 6, "XXXXXX", 6);
}

START_TEST(test_dotlock_take_release)
{
	struct dotlock *lock = NULL, *other = NULL;
	char *error = NULL;

	ck_assert_int_eq(dotlock_take(target, 0, 60, &lock, &error), 1);
	ck_assert_str_eq(dotlock_path(lock), lock_file);
	ck_assert_int_eq(access(lock_file, F_OK), 0);
	/* Held: a second taker gives up after its timeout. */
	ck_assert_int_eq(dotlock_take(target, 1, 60, &other, &error), 0);
	ck_assert_ptr_null(other);
	dotlock_release(&lock);
	ck_assert_ptr_null(lock);
	ck_assert_int_ne(access(lock_file, F_OK), 0);
	ck_assert_int_eq(dotlock_take(target, 0, 60, &other, &error), 1);
	dotlock_release(&other);
	dotlock_release(&other);	/* NULL is fine */
}
END_TEST

START_TEST(test_dotlock_breaks_stale)
{
	struct dotlock *lock = NULL;
	struct utimbuf old = { time(NULL) - 120, time(NULL) - 120 };
	char *error = NULL;
	FILE *f = fopen(lock_file, "w");

	ck_assert_ptr_nonnull(f);
	fclose(f);
	ck_assert_int_eq(utime(lock_file, &old), 0);
	ck_assert_int_eq(dotlock_take(target, 5, 60, &lock, &error), 1);
	dotlock_release(&lock);
}
END_TEST

START_TEST(test_dotlock_broken_while_held)
{
	struct dotlock *lock = NULL, *thief = NULL;
	char *error = NULL;

	ck_assert_int_eq(dotlock_take(target, 0, 60, &lock, &error), 1);
	/* Someone removed ours and took it: release leaves theirs alone. */
	ck_assert_int_eq(unlink(lock_file), 0);
	ck_assert_int_eq(dotlock_take(target, 0, 60, &thief, &error), 1);
	dotlock_release(&lock);
	ck_assert_int_eq(access(lock_file, F_OK), 0);
	dotlock_release(&thief);
	ck_assert_int_ne(access(lock_file, F_OK), 0);
}
END_TEST

START_TEST(test_dotlock_unwritable)
{
	struct dotlock *lock = NULL;
	char *error = NULL;

	ck_assert_int_eq(dotlock_take("/nonexistent/dir/maildirsize", 0, 60,
	    &lock, &error), -1);
	ck_assert_ptr_null(lock);
	ck_assert_ptr_nonnull(strstr(error, "/nonexistent/dir"));
	free(error);
}
END_TEST

static Suite *
lmtpd_suite(void)
{
	Suite *s = suite_create("lmtpd");
	TCase *tc;

	tc = tcase_create("spool");
	tcase_add_loop_test(tc, test_spool_delivered_to, 0,
	    (int) (sizeof(trace_cases) / sizeof(trace_cases[0])));
	tcase_add_test(tc, test_spool_too_many_traces);
	tcase_add_test(tc, test_spool_overlong_header_line);
	tcase_add_loop_test(tc, test_spool_replay, 0,
	    (int) (sizeof(memory_limits) / sizeof(memory_limits[0])));
	tcase_add_test(tc, test_spool_bad_temp_dir);
	suite_add_tcase(s, tc);

	tc = tcase_create("dotlock");
	tcase_add_checked_fixture(tc, lock_setup, lock_teardown);
	tcase_add_test(tc, test_dotlock_take_release);
	tcase_add_test(tc, test_dotlock_breaks_stale);
	tcase_add_test(tc, test_dotlock_broken_while_held);
	tcase_add_test(tc, test_dotlock_unwritable);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(lmtpd_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

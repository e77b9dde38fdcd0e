/* check_stream: reading lines and blocks, EOF (stream.h). */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "stream.h"

#include "check_stream_util.h"

/* --- helpers ----------------------------------------------------------- */

/*
 * Wait until the peer has read everything we sent: then its next read()
 * sees only what we send after this, so the split is where we chose.
 */
static void
wait_drained(int fd)
{
	int64_t give_up = now_ms() + 5000;
	int queued;

	while (now_ms() < give_up) {
		if (ioctl(fd, SIOCOUTQ, &queued) < 0 || queued == 0)
			return;
		usleep(100);
	}
}

/*
 * A child that writes data to fd in pieces ending at the given cut
 * positions, each piece only after the reader took the previous one, then
 * closes (EOF for the reader).
 */
static pid_t
spawn_feeder(int fd, int other_fd, const char *data, size_t len,
	const size_t *cuts, size_t ncuts)
{
	size_t i, from = 0;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid > 0)
		return pid;
	close(other_fd);
	for (i = 0; i <= ncuts; i++) {
		size_t to = i < ncuts ? cuts[i] : len;

		if (to > from) {
			write_all(fd, data + from, to - from);
			wait_drained(fd);
		}
		from = to;
	}
	close(fd);
	_exit(0);
}

/* --- read_line: one script, every way of splitting it ------------------ */

struct line_expect {
	enum stream_status status;
	const char *text;
	size_t len;
	enum stream_eol eol;
};

#define OK_CRLF(t)	{ STREAM_OK, t, sizeof(t) - 1, STREAM_EOL_CRLF }
#define OK_LF(t)	{ STREAM_OK, t, sizeof(t) - 1, STREAM_EOL_LF }
#define TOO_LONG	{ STREAM_TOO_LONG, "", 0, STREAM_EOL_LF }
#define AT_EOF(t)	{ STREAM_EOF, t, sizeof(t) - 1, STREAM_EOL_LF }

/*
 * Every line limit below is 8 content bytes, either from max or from the
 * line buf's cap (or both), so the same script gives the same answers.
 */
static const char line_script[] =
	"HELO a\r\n"
	"MAIL\n"
	"\r\n"
	"x\ry\r\n"			/* a bare CR is content */
	"a\0b\n"			/* NUL kept, binary safe */
	"01234567\r\n"			/* exactly max */
	"01234567\n"
	"012345678\n"			/* max + 1 */
	"0123456\r\r\n"			/* content ends in CR: 8 bytes */
	"01234567\r\r\n"		/* content "01234567\r": 9 bytes */
	"0123456789abcdefghijkl\r\n"
	"after\r\n"			/* still in step */
	"\r\r\n"
	"part\r";			/* EOF mid-line */

static const struct line_expect line_script_expect[] = {
	OK_CRLF("HELO a"),
	OK_LF("MAIL"),
	OK_CRLF(""),
	OK_CRLF("x\ry"),
	OK_LF("a\0b"),
	OK_CRLF("01234567"),
	OK_LF("01234567"),
	TOO_LONG,
	OK_CRLF("0123456\r"),
	TOO_LONG,
	TOO_LONG,
	OK_CRLF("after"),
	OK_CRLF("\r"),
	AT_EOF("part"),
	AT_EOF(""),			/* sticky */
};

struct line_limits {
	size_t max;
	size_t cap;
};

static const struct line_limits line_limits[] = {
	{ 8, BUF_DEFAULT_CAP },
	{ 100, 8 },
	{ 8, 8 },
};
#define N_LIMITS (sizeof(line_limits) / sizeof(line_limits[0]))

/*
 * With release, the stream frees its buffers at every wait with nothing
 * buffered (stream_set_release_idle): the answers are the same.
 */
static void
run_line_script(const struct line_limits *lim, const size_t *cuts,
	size_t ncuts, int release)
{
	size_t len = sizeof(line_script) - 1, i;
	struct stream *s;
	struct buf *line;
	int sv[2];
	pid_t pid;

	make_pair(sv);
	pid = spawn_feeder(sv[1], sv[0], line_script, len, cuts, ncuts);
	close(sv[1]);
	s = stream_new(sv[0], T_LONG_MS, T_LONG_MS);
	stream_set_release_idle(s, release);
	line = buf_new(lim->cap);
	for (i = 0; i < sizeof(line_script_expect) /
	    sizeof(line_script_expect[0]); i++) {
		const struct line_expect *e = &line_script_expect[i];
		enum stream_status st = stream_read_line(s, line, lim->max);

		ck_assert_msg(st == e->status,
		    "line %zu (cuts %zu first %zu): status %d, want %d",
		    i, ncuts, ncuts > 0 ? cuts[0] : 0, st, e->status);
		assert_line(line, e->text, e->len);
		if (st == STREAM_OK)
			ck_assert_int_eq(stream_last_eol(s), e->eol);
	}
	ck_assert_int_eq(stream_status(s), STREAM_EOF);
	ck_assert_str_eq(stream_error(s), "connection closed");
	buf_free(&line);
	stream_free(&s);
	close(sv[0]);
	reap(pid, 0);
}

START_TEST(test_line_whole)
{
	run_line_script(&line_limits[_i], NULL, 0, 0);
}
END_TEST

START_TEST(test_line_split_everywhere)
{
	size_t k;

	for (k = 1; k < sizeof(line_script) - 1; k++) {
		run_line_script(&line_limits[_i], &k, 1, 0);
		run_line_script(&line_limits[_i], &k, 1, 1);
	}
}
END_TEST

START_TEST(test_line_byte_by_byte)
{
	size_t cuts[sizeof(line_script)], k;

	for (k = 0; k < sizeof(line_script) - 1; k++)
		cuts[k] = k + 1;
	run_line_script(&line_limits[_i], cuts, sizeof(line_script) - 1, 0);
	run_line_script(&line_limits[_i], cuts, sizeof(line_script) - 1, 1);
}
END_TEST

/* A bad maximum: 0 accepts only empty lines. */
START_TEST(test_line_max_zero)
{
	static const char input[] = "\r\nx\n\n";
	struct stream *s;
	struct buf *line = buf_new(64);
	int sv[2];

	make_pair(sv);
	write_all(sv[1], input, sizeof(input) - 1);
	close(sv[1]);
	s = stream_new(sv[0], T_LONG_MS, T_LONG_MS);
	ck_assert_int_eq(stream_read_line(s, line, 0), STREAM_OK);
	ck_assert_int_eq(stream_last_eol(s), STREAM_EOL_CRLF);
	ck_assert_int_eq(stream_read_line(s, line, 0), STREAM_TOO_LONG);
	ck_assert_int_eq(stream_read_line(s, line, 0), STREAM_OK);
	ck_assert_int_eq(stream_last_eol(s), STREAM_EOL_LF);
	assert_line(line, "", 0);
	ck_assert_int_eq(stream_read_line(s, line, 0), STREAM_EOF);
	buf_free(&line);
	stream_free(&s);
	close(sv[0]);
}
END_TEST

/* Lines far longer than the stream's own buffer, within max. */
START_TEST(test_line_longer_than_buffer)
{
	size_t len = 200 * 1024 + 7, i;
	char *data = malloc(len + 2);
	struct stream *s;
	struct buf *line = buf_new(BUF_DEFAULT_CAP);
	int sv[2];
	pid_t pid;

	ck_assert_ptr_nonnull(data);
	for (i = 0; i < len; i++)
		data[i] = (char) ('a' + i % 26);
	data[len] = '\r';
	data[len + 1] = '\n';
	make_pair(sv);
	pid = spawn_feeder(sv[1], sv[0], data, len + 2, NULL, 0);
	close(sv[1]);
	s = stream_new(sv[0], T_LONG_MS, T_LONG_MS);
	ck_assert_int_eq(stream_read_line(s, line, len), STREAM_OK);
	assert_line(line, data, len);
	ck_assert_int_eq(stream_last_eol(s), STREAM_EOL_CRLF);
	ck_assert_int_eq(stream_read_line(s, line, len), STREAM_EOF);
	buf_free(&line);
	stream_free(&s);
	close(sv[0]);
	reap(pid, 0);
	free(data);
}
END_TEST

/* Peak RSS in KiB since the last reset (VmHWM), or -1. */
static long
peak_rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char text[256];
	long kib = -1;

	if (f == NULL)
		return -1;
	while (fgets(text, sizeof(text), f) != NULL)
		if (sscanf(text, "VmHWM: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static void
reset_peak_rss(void)
{
	FILE *f = fopen("/proc/self/clear_refs", "w");

	if (f == NULL)
		return;
	fputs("5", f);
	fclose(f);
}

#define HUGE_LINE (10 * 1024 * 1024)

static pid_t
spawn_huge_writer(int fd, int other_fd)
{
	char chunk[64 * 1024];
	size_t left = HUGE_LINE;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid > 0)
		return pid;
	close(other_fd);
	memset(chunk, 'x', sizeof(chunk));
	while (left > 0) {
		size_t n = left < sizeof(chunk) ? left : sizeof(chunk);

		write_all(fd, chunk, n);
		left -= n;
	}
	write_all(fd, "\r\nnext\r\n", 8);
	close(fd);
	_exit(0);
}

/* 10 MB without a newline is skipped in place, not collected. */
START_TEST(test_line_huge_discarded)
{
	struct stream *s;
	struct buf *line = buf_new(64 * 1024 * 1024);
	long before, after;
	int sv[2];
	pid_t pid;

	make_pair(sv);
	s = stream_new(sv[0], T_LONG_MS, T_LONG_MS);
	reset_peak_rss();
	before = peak_rss_kib();
	pid = spawn_huge_writer(sv[1], sv[0]);
	close(sv[1]);
	ck_assert_int_eq(stream_read_line(s, line, 1024), STREAM_TOO_LONG);
	after = peak_rss_kib();
	ck_assert_int_ge(before, 0);
	ck_assert_msg(after - before < 2048,
	    "peak RSS grew by %ld KiB reading a 10 MB line", after - before);
	assert_line(line, "", 0);
	ck_assert_int_eq(stream_read_line(s, line, 1024), STREAM_OK);
	assert_line(line, "next", 4);
	ck_assert_int_eq(stream_read_line(s, line, 1024), STREAM_EOF);
	buf_free(&line);
	stream_free(&s);
	close(sv[0]);
	reap(pid, 0);
}
END_TEST

/* --- EOF ---------------------------------------------------------------- */

START_TEST(test_eof_at_start)
{
	struct buf *line = buf_new(64), *out = buf_new(64);
	struct stream *s;
	int sv[2];

	make_pair(sv);
	close(sv[1]);
	s = stream_new(sv[0], T_LONG_MS, T_LONG_MS);
	ck_assert_int_eq(stream_status(s), STREAM_OK);
	ck_assert_str_eq(stream_error(s), "ok");
	ck_assert_int_eq(stream_read_line(s, line, 64), STREAM_EOF);
	assert_line(line, "", 0);
	ck_assert_int_eq(stream_read_line(s, line, 64), STREAM_EOF);
	ck_assert_int_eq(stream_read_exact(s, out, 1), STREAM_EOF);
	ck_assert_int_eq(stream_status(s), STREAM_EOF);
	ck_assert_str_eq(stream_error(s), "connection closed");
	buf_free(&line);
	buf_free(&out);
	stream_free(&s);
	close(sv[0]);
}
END_TEST

/* EOF while skipping an over-long line is EOF, with nothing kept. */
START_TEST(test_eof_while_discarding)
{
	struct buf *line = buf_new(64);
	struct stream *s;
	int sv[2];

	make_pair(sv);
	write_all(sv[1], "0123456789", 10);
	close(sv[1]);
	s = stream_new(sv[0], T_LONG_MS, T_LONG_MS);
	ck_assert_int_eq(stream_read_line(s, line, 4), STREAM_EOF);
	assert_line(line, "", 0);
	buf_free(&line);
	stream_free(&s);
	close(sv[0]);
}
END_TEST

/* --- read_exact, pending, purge ----------------------------------------- */

/* len bytes of pattern() and room for extra more (caller frees). */
static char *
pattern_data(size_t len, size_t extra)
{
	char *data = malloc(len + extra);
	size_t i;

	ck_assert_ptr_nonnull(data);
	for (i = 0; i < len; i++)
		data[i] = (char) pattern(i);
	return data;
}

START_TEST(test_read_exact_chunks)
{
	static const size_t sizes[] = { 1, 16383, 1, 50000, 0, 33615 };
	size_t total = 100000, i, at = 0;
	char *data = pattern_data(total, 5);
	struct buf *out = buf_new(BUF_DEFAULT_CAP), *line = buf_new(64);
	struct stream *s;
	int sv[2];
	pid_t pid;

	memcpy(data + total, "tail\n", 5);
	make_pair(sv);
	pid = spawn_feeder(sv[1], sv[0], data, total + 5, NULL, 0);
	close(sv[1]);
	s = stream_new(sv[0], T_LONG_MS, T_LONG_MS);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		buf_reset(out);
		ck_assert_int_eq(stream_read_exact(s, out, sizes[i]),
		    STREAM_OK);
		ck_assert_uint_eq(buf_len(out), sizes[i]);
		if (sizes[i] > 0)
			ck_assert_mem_eq(buf_cstr(out), data + at, sizes[i]);
		at += sizes[i];
	}
	ck_assert_uint_eq(at, total);
	ck_assert_int_eq(stream_read_line(s, line, 64), STREAM_OK);
	assert_line(line, "tail", 4);
	buf_free(&out);
	buf_free(&line);
	stream_free(&s);
	close(sv[0]);
	reap(pid, 0);
	free(data);
}
END_TEST

/* Past out's cap nothing is read or appended; the caller decides. */
START_TEST(test_read_exact_cap)
{
	struct buf *out = buf_new(10), *line = buf_new(64);
	struct stream *s;
	int sv[2];

	make_pair(sv);
	write_all(sv[1], "0123456789\n", 11);
	close(sv[1]);
	s = stream_new(sv[0], T_LONG_MS, T_LONG_MS);
	ck_assert_int_eq(buf_append_str(out, "abc"), 0);
	ck_assert_int_eq(stream_read_exact(s, out, 8), STREAM_TOO_LONG);
	ck_assert_int_eq(stream_read_exact(s, out, SIZE_MAX),
	    STREAM_TOO_LONG);
	assert_line(out, "abc", 3);
	ck_assert_uint_eq(stream_pending(s), 0);
	ck_assert_int_eq(stream_status(s), STREAM_OK);
	ck_assert_int_eq(stream_read_exact(s, out, 0), STREAM_OK);
	ck_assert_int_eq(stream_read_exact(s, out, 7), STREAM_OK);
	assert_line(out, "abc0123456", 10);
	ck_assert_int_eq(stream_read_line(s, line, 64), STREAM_OK);
	assert_line(line, "789", 3);
	buf_free(&out);
	buf_free(&line);
	stream_free(&s);
	close(sv[0]);
}
END_TEST

START_TEST(test_read_exact_eof)
{
	struct buf *out = buf_new(64);
	struct stream *s;
	int sv[2];

	make_pair(sv);
	write_all(sv[1], "12345", 5);
	close(sv[1]);
	s = stream_new(sv[0], T_LONG_MS, T_LONG_MS);
	ck_assert_int_eq(stream_read_exact(s, out, 10), STREAM_EOF);
	ck_assert_int_eq(stream_read_exact(s, out, 1), STREAM_EOF);
	buf_free(&out);
	stream_free(&s);
	close(sv[0]);
}
END_TEST

START_TEST(test_pending_and_purge)
{
	struct buf *line = buf_new(64);
	struct stream *s;
	int sv[2];

	make_pair(sv);
	write_all(sv[1], "a\nb\nc", 5);
	s = stream_new(sv[0], 100, T_LONG_MS);
	ck_assert_uint_eq(stream_pending(s), 0);
	ck_assert_int_eq(stream_read_line(s, line, 64), STREAM_OK);
	assert_line(line, "a", 1);
	ck_assert_uint_eq(stream_pending(s), 3);
	ck_assert_int_eq(stream_read_line(s, line, 64), STREAM_OK);
	assert_line(line, "b", 1);
	ck_assert_uint_eq(stream_pending(s), 1);
	/* As after STARTTLS: what came before is gone. */
	stream_purge_input(s);
	ck_assert_uint_eq(stream_pending(s), 0);
	write_all(sv[1], "d\r\n", 3);
	ck_assert_int_eq(stream_read_line(s, line, 64), STREAM_OK);
	assert_line(line, "d", 1);
	ck_assert_uint_eq(stream_pending(s), 0);
	buf_free(&line);
	stream_free(&s);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/*
 * Released buffers (stream_set_release_idle) lose nothing: output queued
 * before a wait for input is kept and sent whole, input buffered before
 * one is read after it, and a block larger than the input buffer comes
 * through a release.
 */
START_TEST(test_release_idle_keeps_data)
{
	size_t total = 40000;
	char *data = pattern_data(total, 0), got[64];
	struct buf *line = buf_new(64), *out = buf_new(total);
	struct stream *s;
	int sv[2];
	pid_t pid;

	make_pair(sv);
	s = stream_new(sv[0], T_LONG_MS, T_LONG_MS);
	stream_set_release_idle(s, 1);
	/* Nothing read or written yet: the wait frees nothing to lose. */
	ck_assert_int_eq(stream_wait_input(s, 10), 0);
	ck_assert_int_eq(stream_write(s, "* OK ", 5), STREAM_OK);
	ck_assert_int_eq(stream_wait_input(s, 10), 0);
	stream_release_idle(s);
	ck_assert_int_eq(stream_write(s, "ready\r\n", 7), STREAM_OK);
	ck_assert_int_eq(stream_flush(s), STREAM_OK);
	ck_assert_uint_eq(drain_now(sv[1], got, sizeof(got)), 12);
	ck_assert_mem_eq(got, "* OK ready\r\n", 12);
	write_all(sv[1], "a1 NOOP\r\na2 NO", 14);
	ck_assert_int_eq(stream_read_line(s, line, 64), STREAM_OK);
	assert_line(line, "a1 NOOP", 7);
	/* "a2 NO" is buffered: neither wait may drop it. */
	ck_assert_int_eq(stream_wait_input(s, 10), 1);
	stream_release_idle(s);
	write_all(sv[1], "OP\r\n", 4);
	ck_assert_int_eq(stream_read_line(s, line, 64), STREAM_OK);
	assert_line(line, "a2 NOOP", 7);
	stream_release_idle(s);
	ck_assert_uint_eq(stream_pending(s), 0);
	pid = spawn_feeder(sv[1], sv[0], data, total, NULL, 0);
	close(sv[1]);
	ck_assert_int_eq(stream_read_exact(s, out, total), STREAM_OK);
	ck_assert_mem_eq(buf_cstr(out), data, total);
	ck_assert_int_eq(stream_read_line(s, line, 64), STREAM_EOF);
	buf_free(&line);
	buf_free(&out);
	stream_free(&s);
	close(sv[0]);
	reap(pid, 0);
	free(data);
}
END_TEST

static Suite *
stream_suite(void)
{
	Suite *s = suite_create("stream");
	TCase *tc;

	tc = tcase_create("read_line");
	tcase_add_loop_test(tc, test_line_whole, 0, N_LIMITS);
	tcase_add_loop_test(tc, test_line_split_everywhere, 0, N_LIMITS);
	tcase_add_loop_test(tc, test_line_byte_by_byte, 0, N_LIMITS);
	tcase_add_test(tc, test_line_max_zero);
	tcase_add_test(tc, test_line_longer_than_buffer);
	tcase_add_test(tc, test_line_huge_discarded);
	tcase_add_test(tc, test_eof_at_start);
	tcase_add_test(tc, test_eof_while_discarding);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);

	tc = tcase_create("read_exact");
	tcase_add_test(tc, test_read_exact_chunks);
	tcase_add_test(tc, test_read_exact_cap);
	tcase_add_test(tc, test_read_exact_eof);
	tcase_add_test(tc, test_pending_and_purge);
	tcase_add_test(tc, test_release_idle_keeps_data);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(stream_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

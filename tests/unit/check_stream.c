/* check_stream: deadline-bound buffered I/O over socketpairs. */
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

/* Read exactly len bytes from a blocking fd (test side). */
static void
read_all(int fd, void *data, size_t len)
{
	char *p = data;
	ssize_t n;

	while (len > 0) {
		n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		ck_assert_int_gt(n, 0);
		p += n;
		len -= (size_t) n;
	}
}

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

/* A child that sleeps delay_ms, then writes text. */
static pid_t
spawn_late_writer(int fd, int other_fd, int delay_ms, const char *text)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid > 0)
		return pid;
	close(other_fd);
	usleep((useconds_t) delay_ms * 1000);
	write_all(fd, text, strlen(text));
	pause();
	_exit(0);
}

static void
reap(pid_t pid, int kill_it)
{
	int wstatus;

	if (kill_it)
		kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &wstatus, 0), pid);
	if (!kill_it)
		ck_assert_msg(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0,
		    "child failed: status %d", wstatus);
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

static void
run_line_script(const struct line_limits *lim, const size_t *cuts,
	size_t ncuts)
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
	run_line_script(&line_limits[_i], NULL, 0);
}
END_TEST

START_TEST(test_line_split_everywhere)
{
	size_t k;

	for (k = 1; k < sizeof(line_script) - 1; k++)
		run_line_script(&line_limits[_i], &k, 1);
}
END_TEST

START_TEST(test_line_byte_by_byte)
{
	size_t cuts[sizeof(line_script)], k;

	for (k = 0; k < sizeof(line_script) - 1; k++)
		cuts[k] = k + 1;
	run_line_script(&line_limits[_i], cuts, sizeof(line_script) - 1);
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

/* --- deadlines ---------------------------------------------------------- */

START_TEST(test_read_deadline_silent_peer)
{
	struct buf *line = buf_new(64), *out = buf_new(64);
	struct stream *s;
	int64_t start, elapsed;
	char reply[16];
	int sv[2];

	make_pair(sv);
	s = stream_new(sv[0], 200, T_LONG_MS);
	start = now_ms();
	ck_assert_int_eq(stream_read_line(s, line, 64), STREAM_TIMEOUT);
	elapsed = now_ms() - start;
	ck_assert_int_ge(elapsed, 195);
	ck_assert_int_lt(elapsed, 200 + T_SLACK_MS);
	ck_assert_int_eq(stream_status(s), STREAM_TIMEOUT);
	ck_assert_str_eq(stream_error(s), "timeout");

	/* Sticky: data arriving later does not revive the read side. */
	write_all(sv[1], "late\r\n", 6);
	start = now_ms();
	ck_assert_int_eq(stream_read_line(s, line, 64), STREAM_TIMEOUT);
	ck_assert_int_eq(stream_read_exact(s, out, 2), STREAM_TIMEOUT);
	ck_assert_int_lt(now_ms() - start, 50);
	ck_assert_uint_eq(buf_len(out), 0);

	/* But the reply that says so still goes out. */
	ck_assert_int_eq(stream_puts(s, "421 timeout\r\n"), STREAM_OK);
	ck_assert_int_eq(stream_flush(s), STREAM_OK);
	read_all(sv[1], reply, 13);
	ck_assert_mem_eq(reply, "421 timeout\r\n", 13);
	buf_free(&line);
	buf_free(&out);
	stream_free(&s);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* A byte every 50 ms never completes a line within 300 ms in total. */
START_TEST(test_read_deadline_slow_drip)
{
	struct buf *line = buf_new(1024);
	struct stream *s;
	int64_t start, elapsed;
	int sv[2], i;
	pid_t pid;

	make_pair(sv);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(sv[0]);
		for (i = 0; i < 40; i++) {
			write_all(sv[1], "a", 1);
			usleep(50 * 1000);
		}
		_exit(0);
	}
	close(sv[1]);
	s = stream_new(sv[0], 300, T_LONG_MS);
	start = now_ms();
	ck_assert_int_eq(stream_read_line(s, line, 1024), STREAM_TIMEOUT);
	elapsed = now_ms() - start;
	ck_assert_int_ge(elapsed, 295);
	ck_assert_int_lt(elapsed, 300 + T_SLACK_MS);
	/* The partial line is kept for logging; a few bytes arrived. */
	ck_assert_uint_ge(buf_len(line), 3);
	ck_assert_uint_le(buf_len(line), 8);
	buf_free(&line);
	stream_free(&s);
	close(sv[0]);
	reap(pid, 1);
}
END_TEST

/* The same total deadline holds for read_exact. */
START_TEST(test_read_exact_deadline)
{
	struct buf *out = buf_new(64);
	struct stream *s;
	int64_t start, elapsed;
	int sv[2];

	make_pair(sv);
	write_all(sv[1], "abc", 3);
	s = stream_new(sv[0], 150, T_LONG_MS);
	start = now_ms();
	ck_assert_int_eq(stream_read_exact(s, out, 10), STREAM_TIMEOUT);
	elapsed = now_ms() - start;
	ck_assert_int_ge(elapsed, 145);
	ck_assert_int_lt(elapsed, 150 + T_SLACK_MS);
	buf_free(&out);
	stream_free(&s);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* Timeout 0: take what is there, never wait. */
START_TEST(test_read_timeout_zero)
{
	struct buf *line = buf_new(64);
	struct stream *s;
	int64_t start;
	int sv[2];

	make_pair(sv);
	write_all(sv[1], "ready\npart", 10);
	s = stream_new(sv[0], 0, 0);
	ck_assert_int_eq(stream_read_line(s, line, 64), STREAM_OK);
	assert_line(line, "ready", 5);
	start = now_ms();
	ck_assert_int_eq(stream_read_line(s, line, 64), STREAM_TIMEOUT);
	ck_assert_int_lt(now_ms() - start, 50);
	assert_line(line, "part", 4);
	buf_free(&line);
	stream_free(&s);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* A negative timeout waits as long as it takes. */
START_TEST(test_read_timeout_negative)
{
	struct buf *line = buf_new(64);
	struct stream *s;
	int sv[2];
	pid_t pid;

	make_pair(sv);
	pid = spawn_late_writer(sv[1], sv[0], 150, "late\n");
	s = stream_new(sv[0], -1, -1);
	ck_assert_int_eq(stream_read_line(s, line, 64), STREAM_OK);
	assert_line(line, "late", 4);
	buf_free(&line);
	stream_free(&s);
	close(sv[0]);
	close(sv[1]);
	reap(pid, 1);
}
END_TEST

START_TEST(test_set_timeouts)
{
	struct buf *line = buf_new(64);
	struct stream *s;
	int64_t start, elapsed;
	int sv[2];

	make_pair(sv);
	s = stream_new(sv[0], -1, -1);
	stream_set_timeouts(s, 100, 100);
	start = now_ms();
	ck_assert_int_eq(stream_read_line(s, line, 64), STREAM_TIMEOUT);
	elapsed = now_ms() - start;
	ck_assert_int_ge(elapsed, 95);
	ck_assert_int_lt(elapsed, 100 + T_SLACK_MS);
	buf_free(&line);
	stream_free(&s);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

static void
on_alarm(int sig)
{
	(void) sig;
}

/* Signals interrupting poll() and read() are not errors. */
START_TEST(test_read_eintr_retried)
{
	struct itimerval every = { { 0, 10000 }, { 0, 10000 } }, off;
	struct sigaction sa;
	struct buf *line = buf_new(64);
	struct stream *s;
	int sv[2];
	pid_t pid;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;	/* no SA_RESTART: calls see EINTR */
	ck_assert_int_eq(sigaction(SIGALRM, &sa, NULL), 0);
	make_pair(sv);
	pid = spawn_late_writer(sv[1], sv[0], 200, "through\r\n");
	s = stream_new(sv[0], T_LONG_MS, T_LONG_MS);
	ck_assert_int_eq(setitimer(ITIMER_REAL, &every, NULL), 0);
	ck_assert_int_eq(stream_read_line(s, line, 64), STREAM_OK);
	memset(&off, 0, sizeof(off));
	setitimer(ITIMER_REAL, &off, NULL);
	assert_line(line, "through", 7);
	buf_free(&line);
	stream_free(&s);
	close(sv[0]);
	close(sv[1]);
	reap(pid, 1);
}
END_TEST

/* Fill the socket buffers: a peer that never reads. */
START_TEST(test_write_deadline)
{
	size_t len = 8 * 1024 * 1024;
	char *data = calloc(1, len);
	struct buf *line = buf_new(64);
	struct stream *s;
	int64_t start, elapsed;
	int sv[2];

	ck_assert_ptr_nonnull(data);
	make_pair(sv);
	s = stream_new(sv[0], T_LONG_MS, 200);
	start = now_ms();
	ck_assert_int_eq(stream_write(s, data, len), STREAM_TIMEOUT);
	elapsed = now_ms() - start;
	ck_assert_int_ge(elapsed, 195);
	ck_assert_int_lt(elapsed, 200 + T_SLACK_MS);
	ck_assert_int_eq(stream_status(s), STREAM_TIMEOUT);
	ck_assert_str_eq(stream_error(s), "timeout");

	/* Sticky in both directions, without waiting again. */
	write_all(sv[1], "QUIT\r\n", 6);
	start = now_ms();
	ck_assert_int_eq(stream_puts(s, "x"), STREAM_TIMEOUT);
	ck_assert_int_eq(stream_printf(s, "%d", 1), STREAM_TIMEOUT);
	ck_assert_int_eq(stream_flush(s), STREAM_TIMEOUT);
	ck_assert_int_eq(stream_read_line(s, line, 64), STREAM_TIMEOUT);
	ck_assert_int_lt(now_ms() - start, 50);
	buf_free(&line);
	stream_free(&s);
	close(sv[0]);
	close(sv[1]);
	free(data);
}
END_TEST

/* The default SIGPIPE action stays: MSG_NOSIGNAL must prevent the kill. */
START_TEST(test_write_closed_socket)
{
	struct buf *line = buf_new(64);
	struct stream *s;
	int sv[2];

	signal(SIGPIPE, SIG_DFL);
	make_pair(sv);
	close(sv[1]);
	s = stream_new(sv[0], T_LONG_MS, T_LONG_MS);
	ck_assert_int_eq(stream_puts(s, "250 ok\r\n"), STREAM_OK);
	ck_assert_int_eq(stream_flush(s), STREAM_ERROR);
	ck_assert_int_eq(stream_status(s), STREAM_ERROR);
	ck_assert_str_eq(stream_error(s), strerror(EPIPE));
	ck_assert_int_eq(stream_puts(s, "again"), STREAM_ERROR);
	ck_assert_int_eq(stream_read_line(s, line, 64), STREAM_ERROR);
	buf_free(&line);
	stream_free(&s);
	close(sv[0]);
}
END_TEST

/* A pipe is not a socket: write() and an ignored SIGPIPE. */
START_TEST(test_write_closed_pipe)
{
	struct stream *s;
	int pfd[2];

	signal(SIGPIPE, SIG_IGN);
	ck_assert_int_eq(pipe(pfd), 0);
	close(pfd[0]);
	s = stream_new(pfd[1], T_LONG_MS, T_LONG_MS);
	ck_assert_int_eq(stream_puts(s, "x"), STREAM_OK);
	ck_assert_int_eq(stream_flush(s), STREAM_ERROR);
	ck_assert_str_eq(stream_error(s), strerror(EPIPE));
	stream_free(&s);
	close(pfd[1]);
}
END_TEST

/* A pipe works for reading and writing lines too. */
START_TEST(test_pipe_round_trip)
{
	struct buf *line = buf_new(64);
	struct stream *w, *r;
	int pfd[2];

	ck_assert_int_eq(pipe(pfd), 0);
	w = stream_new(pfd[1], T_LONG_MS, T_LONG_MS);
	r = stream_new(pfd[0], T_LONG_MS, T_LONG_MS);
	ck_assert_int_eq(stream_printf(w, "name=%s\n\n", "value"), STREAM_OK);
	ck_assert_int_eq(stream_flush(w), STREAM_OK);
	ck_assert_int_eq(stream_read_line(r, line, 64), STREAM_OK);
	assert_line(line, "name=value", 10);
	ck_assert_int_eq(stream_read_line(r, line, 64), STREAM_OK);
	assert_line(line, "", 0);
	stream_free(&w);
	close(pfd[1]);
	ck_assert_int_eq(stream_read_line(r, line, 64), STREAM_EOF);
	buf_free(&line);
	stream_free(&r);
	close(pfd[0]);
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

static unsigned char
pattern(size_t i)
{
	return (unsigned char) ((i * 7) % 251);
}

START_TEST(test_read_exact_chunks)
{
	static const size_t sizes[] = { 1, 16383, 1, 50000, 0, 33615 };
	size_t total = 100000, i, at = 0;
	char *data = malloc(total + 5);
	struct buf *out = buf_new(BUF_DEFAULT_CAP), *line = buf_new(64);
	struct stream *s;
	int sv[2];
	pid_t pid;

	ck_assert_ptr_nonnull(data);
	for (i = 0; i < total; i++)
		data[i] = (char) pattern(i);
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

/* --- writing ------------------------------------------------------------ */

START_TEST(test_write_buffered_until_flush)
{
	struct stream *s;
	char got[64];
	int sv[2];

	make_pair(sv);
	s = stream_new(sv[0], T_LONG_MS, T_LONG_MS);
	ck_assert_int_eq(stream_write(s, "hel", 3), STREAM_OK);
	ck_assert_int_eq(stream_write(s, "", 0), STREAM_OK);
	ck_assert_int_eq(stream_puts(s, "lo\r\n"), STREAM_OK);
	ck_assert_uint_eq(drain_now(sv[1], got, sizeof(got)), 0);
	ck_assert_int_eq(stream_flush(s), STREAM_OK);
	ck_assert_uint_eq(drain_now(sv[1], got, sizeof(got)), 7);
	ck_assert_mem_eq(got, "hello\r\n", 7);
	ck_assert_int_eq(stream_flush(s), STREAM_OK);	/* nothing left */
	ck_assert_uint_eq(drain_now(sv[1], got, sizeof(got)), 0);
	/* Unflushed output is dropped by stream_free(). */
	ck_assert_int_eq(stream_puts(s, "lost"), STREAM_OK);
	stream_free(&s);
	ck_assert_uint_eq(drain_now(sv[1], got, sizeof(got)), 0);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* Many small writes go out once the buffer fills, in order. */
START_TEST(test_write_fills_and_flushes)
{
	size_t total = 40000, i, got;
	char *sent = malloc(total), *recvd = malloc(total + 1);
	struct stream *s;
	int sv[2];

	ck_assert_ptr_nonnull(sent);
	ck_assert_ptr_nonnull(recvd);
	for (i = 0; i < total; i++)
		sent[i] = (char) pattern(i);
	make_pair(sv);
	s = stream_new(sv[0], T_LONG_MS, T_LONG_MS);
	for (i = 0; i < total; i += 100)
		ck_assert_int_eq(stream_write(s, sent + i, 100), STREAM_OK);
	got = drain_now(sv[1], recvd, total + 1);
	ck_assert_uint_ge(got, 16 * 1024);
	ck_assert_uint_lt(got, total);
	ck_assert_int_eq(stream_flush(s), STREAM_OK);
	got += drain_now(sv[1], recvd + got, total + 1 - got);
	ck_assert_uint_eq(got, total);
	ck_assert_mem_eq(recvd, sent, total);
	stream_free(&s);
	close(sv[0]);
	close(sv[1]);
	free(sent);
	free(recvd);
}
END_TEST

/* One large write past the buffer, to a reader child that checks it. */
START_TEST(test_write_large)
{
	size_t total = 3 * 1024 * 1024 + 3, i;
	char *sent = malloc(total);
	struct stream *s;
	int sv[2], wstatus;
	pid_t pid;

	ck_assert_ptr_nonnull(sent);
	for (i = 0; i < total; i++)
		sent[i] = (char) pattern(i);
	make_pair(sv);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char chunk[8192];
		size_t at = 0;
		ssize_t n;

		close(sv[0]);
		while ((n = read(sv[1], chunk, sizeof(chunk))) > 0) {
			for (i = 0; i < (size_t) n; i++)
				if ((unsigned char) chunk[i] != pattern(at + i))
					_exit(2);
			at += (size_t) n;
		}
		_exit(at == total ? 0 : 3);
	}
	close(sv[1]);
	s = stream_new(sv[0], T_LONG_MS, T_LONG_MS);
	ck_assert_int_eq(stream_write(s, sent, 10), STREAM_OK);
	ck_assert_int_eq(stream_write(s, sent + 10, total - 10), STREAM_OK);
	ck_assert_int_eq(stream_flush(s), STREAM_OK);
	stream_free(&s);
	close(sv[0]);
	ck_assert_int_eq(waitpid(pid, &wstatus, 0), pid);
	ck_assert(WIFEXITED(wstatus));
	ck_assert_int_eq(WEXITSTATUS(wstatus), 0);
	free(sent);
}
END_TEST

START_TEST(test_printf)
{
	size_t long_len = 40000;
	char *long_text = malloc(long_len + 1), *got = malloc(long_len + 16);
	struct stream *s;
	int sv[2];

	ck_assert_ptr_nonnull(long_text);
	ck_assert_ptr_nonnull(got);
	memset(long_text, 'z', long_len);
	long_text[long_len] = '\0';
	make_pair(sv);
	s = stream_new(sv[0], T_LONG_MS, T_LONG_MS);
	ck_assert_int_eq(stream_printf(s, "%03d %s%c", 250, "2.0.0 Ok", '\n'),
	    STREAM_OK);
	ck_assert_int_eq(stream_printf(s, "%s", ""), STREAM_OK);
	ck_assert_int_eq(stream_flush(s), STREAM_OK);
	ck_assert_uint_eq(drain_now(sv[1], got, 64), 13);
	ck_assert_mem_eq(got, "250 2.0.0 Ok\n", 13);
	ck_assert_int_eq(stream_printf(s, "<%s>", long_text), STREAM_OK);
	ck_assert_int_eq(stream_flush(s), STREAM_OK);
	ck_assert_uint_eq(drain_now(sv[1], got, long_len + 16), long_len + 2);
	ck_assert_int_eq(got[0], '<');
	ck_assert_mem_eq(got + 1, long_text, long_len);
	ck_assert_int_eq(got[long_len + 1], '>');
	stream_free(&s);
	close(sv[0]);
	close(sv[1]);
	free(long_text);
	free(got);
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

	tc = tcase_create("deadline");
	tcase_add_test(tc, test_read_deadline_silent_peer);
	tcase_add_test(tc, test_read_deadline_slow_drip);
	tcase_add_test(tc, test_read_exact_deadline);
	tcase_add_test(tc, test_read_timeout_zero);
	tcase_add_test(tc, test_read_timeout_negative);
	tcase_add_test(tc, test_set_timeouts);
	tcase_add_test(tc, test_read_eintr_retried);
	tcase_add_test(tc, test_write_deadline);
	suite_add_tcase(s, tc);

	tc = tcase_create("read_exact");
	tcase_add_test(tc, test_read_exact_chunks);
	tcase_add_test(tc, test_read_exact_cap);
	tcase_add_test(tc, test_read_exact_eof);
	tcase_add_test(tc, test_pending_and_purge);
	suite_add_tcase(s, tc);

	tc = tcase_create("write");
	tcase_add_test(tc, test_write_buffered_until_flush);
	tcase_add_test(tc, test_write_fills_and_flushes);
	tcase_add_test(tc, test_write_large);
	tcase_add_test(tc, test_printf);
	tcase_add_test(tc, test_write_closed_socket);
	tcase_add_test(tc, test_write_closed_pipe);
	tcase_add_test(tc, test_pipe_round_trip);
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

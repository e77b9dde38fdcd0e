/* check_smtp_data: the DATA reader over a socketpair, whole and byte-split. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "smtp_data.h"
#include "stream.h"

/* Deadlines in the tests; generous upper bounds absorb a slow ASan run. */
#define T_READ_MS	5000
#define T_SHORT_MS	300

#define T(s)	s, sizeof(s) - 1

/* --- helpers ----------------------------------------------------------- */

static int64_t
now_ms(void)
{
	struct timespec ts;

	ck_assert_int_eq(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Blocking write of everything (child side). */
static void
write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(90);
		p += n;
		len -= (size_t) n;
	}
}

/* Wait until the peer has read everything we sent (so splits hold). */
static void
wait_drained(int fd)
{
	int64_t give_up = now_ms() + 5000;
	int queued;

	while (now_ms() < give_up) {
		if (ioctl(fd, SIOCOUTQ, &queued) < 0 || queued == 0)
			return;
		usleep(50);
	}
}

/*
 * A child that writes data to fd in pieces of step bytes (0: all at
 * once), each after the reader took the previous one; then closes fd,
 * or with hold_open keeps it open until killed (a silent peer).
 */
static pid_t
spawn_feeder(int fd, int other_fd, const char *data, size_t len,
	size_t step, int hold_open)
{
	size_t from, n;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid > 0) {
		close(fd);
		return pid;
	}
	close(other_fd);
	for (from = 0; from < len; from += n) {
		n = step == 0 || len - from < step ? len - from : step;
		write_all(fd, data + from, n);
		if (step != 0)
			wait_drained(fd);
	}
	if (hold_open)
		pause();
	close(fd);
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
		    "feeder failed: status %d", wstatus);
}

/* A sink collecting into a buf; fails on call number fail_at (1-based). */
struct sink {
	struct buf *got;
	int calls;
	int fail_at;
	int calls_after_fail;
};

static int
sink_collect(void *ctx, const void *data, size_t len)
{
	struct sink *k = ctx;

	k->calls++;
	if (k->fail_at > 0 && k->calls > k->fail_at)
		k->calls_after_fail++;
	if (k->fail_at > 0 && k->calls >= k->fail_at)
		return -1;
	ck_assert_uint_gt(len, 0);
	ck_assert_int_eq(buf_append(k->got, data, len), 0);
	return 0;
}

/* --- the table ----------------------------------------------------------- */

struct data_case {
	const char *name;
	const char *input;
	size_t input_len;
	long long max_size;
	size_t max_line;
	enum smtp_data_status status;
	const char *content;	/* what the sink got; NULL: not checked */
	size_t content_len;
	long long size;		/* *size_r; -1: not checked */
	const char *next;	/* the line after the data; NULL: EOF */
	enum smtp_bare_newline bare;	/* normalize unless given */
};

#define MSG(t)	t, sizeof(t) - 1, (long long) (sizeof(t) - 1)
#define NORM	SMTP_BARE_NEWLINE_NORMALIZE
#define REJ	SMTP_BARE_NEWLINE_REJECT

static const struct data_case data_cases[] = {
	{ "plain", T("Subject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n"), 0, 998,
	    SMTP_DATA_OK, MSG("Subject: x\r\n\r\nbody\r\n"), "QUIT", NORM },
	{ "empty message", T(".\r\nQUIT\r\n"), 0, 998,
	    SMTP_DATA_OK, MSG(""), "QUIT", NORM },
	{ "end then EOF", T("a\r\n.\r\n"), 0, 998,
	    SMTP_DATA_OK, MSG("a\r\n"), NULL, NORM },
	{ "dot-stuffed lines", T("..\r\n..x\r\n...\r\n.y\r\nz.\r\n.\r\nN\r\n"),
	    0, 998, SMTP_DATA_OK, MSG(".\r\n.x\r\n..\r\ny\r\nz.\r\n"), "N",
	    NORM },
	{ "first line stuffed", T("..\r\n.\r\nN\r\n"), 0, 998,
	    SMTP_DATA_OK, MSG(".\r\n"), "N", NORM },
	{ "dot line with space", T(". \r\n .\r\n.\r\nN\r\n"), 0, 998,
	    SMTP_DATA_OK, MSG(" \r\n .\r\n"), "N", NORM },
	/* Smuggling: nothing but CRLF "." CRLF ends the data. */
	/*
	 * ... and a bare CR or LF is stored as CRLF (normalize), so what
	 * we relay has no line end a receiver could read differently;
	 * the "." lines it makes are dot-stuffed when relayed.
	 */
	{ "LF . LF", T("a\n.\nMAIL FROM:<x@y>\r\n.\r\nN\r\n"), 0, 998,
	    SMTP_DATA_OK, MSG("a\r\n.\r\nMAIL FROM:<x@y>\r\n"), "N", NORM },
	{ "LF . CRLF", T("a\n.\r\nMAIL FROM:<x@y>\r\n.\r\nN\r\n"), 0, 998,
	    SMTP_DATA_OK, MSG("a\r\n.\r\nMAIL FROM:<x@y>\r\n"), "N", NORM },
	{ "CR . CR", T("a\r.\rMAIL FROM:<x@y>\r\n.\r\nN\r\n"), 0, 998,
	    SMTP_DATA_OK, MSG("a\r\n.\r\nMAIL FROM:<x@y>\r\n"), "N", NORM },
	{ "CR . CRLF", T("a\r.\r\nMAIL FROM:<x@y>\r\n.\r\nN\r\n"), 0, 998,
	    SMTP_DATA_OK, MSG("a\r\n.\r\nMAIL FROM:<x@y>\r\n"), "N", NORM },
	/*
	 * CRLF "." LF: the RFC 5321 line is ".<LF>MAIL..." (only CRLF ends
	 * a line), it starts with a dot and has more: the dot goes
	 * (4.5.2), everything else stays.
	 */
	{ "CRLF . LF", T("a\r\n.\nMAIL FROM:<x@y>\r\n.\r\nN\r\n"), 0, 998,
	    SMTP_DATA_OK, MSG("a\r\n\r\nMAIL FROM:<x@y>\r\n"), "N", NORM },
	{ "CRLF . CR CRLF", T("a\r\n.\r\r\nb\r\n.\r\nN\r\n"), 0, 998,
	    SMTP_DATA_OK, MSG("a\r\n\r\n\r\nb\r\n"), "N", NORM },
	{ "leading LF . CRLF", T("\n.\r\nb\r\n.\r\nN\r\n"), 0, 998,
	    SMTP_DATA_OK, MSG("\r\n.\r\nb\r\n"), "N", NORM },
	{ "LF only message", T("a\n.\n"), 0, 998,
	    SMTP_DATA_EOF, NULL, 0, -1, NULL, NORM },
	{ "stuffed dot after bare LF stays", T("a\n..\r\n.\r\nN\r\n"), 0, 998,
	    SMTP_DATA_OK, MSG("a\r\n..\r\n"), "N", NORM },
	{ "bare LF lines", T("a\nb\n\nc\r\n.\r\nN\r\n"), 0, 998,
	    SMTP_DATA_OK, MSG("a\r\nb\r\n\r\nc\r\n"), "N", NORM },
	{ "bare CRs", T("a\rb\r\rc\r\r\n.\r\nN\r\n"), 0, 998,
	    SMTP_DATA_OK, MSG("a\r\nb\r\n\r\nc\r\n\r\n"), "N", NORM },
	/* reject: the message is refused, the session stays in step. */
	{ "reject bare LF", T("a\nb\r\n.\r\nN\r\n"), 0, 998,
	    SMTP_DATA_BARE_NEWLINE, NULL, 0, -1, "N", REJ },
	{ "reject bare CR", T("a\rb\r\n.\r\nN\r\n"), 0, 998,
	    SMTP_DATA_BARE_NEWLINE, NULL, 0, -1, "N", REJ },
	{ "reject CR . CR", T("a\r.\rMAIL FROM:<x@y>\r\n.\r\nN\r\n"), 0,
	    998, SMTP_DATA_BARE_NEWLINE, NULL, 0, -1, "N", REJ },
	{ "reject LF . CRLF", T("a\n.\r\nMAIL\r\n.\r\nN\r\n"), 0,
	    998, SMTP_DATA_BARE_NEWLINE, NULL, 0, -1, "N", REJ },
	{ "reject, clean message", T("a\r\n..\r\n.\r\nN\r\n"), 0, 998,
	    SMTP_DATA_OK, MSG("a\r\n.\r\n"), "N", REJ },
	{ "NUL and high bytes", T("a\0b\xff\r\n.\r\nN\r\n"), 0, 998,
	    SMTP_DATA_OK, MSG("a\0b\xff\r\n"), "N", NORM },
	/* max_size counts the unstuffed message with its line ends. */
	{ "size exactly max", T("0123456789\r\n.\r\nN\r\n"), 12, 998,
	    SMTP_DATA_OK, MSG("0123456789\r\n"), "N", NORM },
	{ "stuffed size exactly max", T("..23456789\r\n.\r\nN\r\n"), 11, 998,
	    SMTP_DATA_OK, MSG(".23456789\r\n"), "N", NORM },
	{ "too big by one", T("0123456789\r\n.\r\nN\r\n"), 11, 998,
	    SMTP_DATA_TOO_BIG, NULL, 0, 12, "N", NORM },
	{ "too big, read to the end", T("0123456789\r\nabc\r\nd\r\n.\r\nN\r\n"),
	    5, 998, SMTP_DATA_TOO_BIG, NULL, 0, 20, "N", NORM },
	{ "too big, no smuggling", T("0123456789\r\na\n.\r\nMAIL\r\n.\r\nN\r\n"),
	    5, 998, SMTP_DATA_TOO_BIG, NULL, 0, 24, "N", NORM },
	/* max_line: content bytes without CRLF, the stuffing dot not counted. */
	{ "line exactly max", T("01234567\r\n.\r\nN\r\n"), 0, 8,
	    SMTP_DATA_OK, MSG("01234567\r\n"), "N", NORM },
	{ "stuffed line exactly max", T("..1234567\r\n.\r\nN\r\n"), 0, 8,
	    SMTP_DATA_OK, MSG(".1234567\r\n"), "N", NORM },
	{ "line max plus one", T("012345678\r\n.\r\nN\r\n"), 0, 8,
	    SMTP_DATA_LINE_TOO_LONG, NULL, 0, -1, "N", NORM },
	{ "line far too long", T("0123456789abcdef0123\r\nx\r\n.\r\nN\r\n"), 0, 8,
	    SMTP_DATA_LINE_TOO_LONG, NULL, 0, -1, "N", NORM },
	{ "after bare-LF line max plus one", T("a\n012345678\r\n.\r\nN\r\n"), 0,
	    8, SMTP_DATA_LINE_TOO_LONG, NULL, 0, -1, "N", NORM },
	{ "too long then end", T("0123456789abcdef\r\n.\r\nN\r\n"), 0, 8,
	    SMTP_DATA_LINE_TOO_LONG, NULL, 0, -1, "N", NORM },
	/* A too-long line ended by a bare LF: the "." after it is content. */
	{ "too long LF . CRLF", T("0123456789abcdef\n.\r\nMAIL\r\n.\r\nN\r\n"),
	    0, 8, SMTP_DATA_LINE_TOO_LONG, NULL, 0, -1, "N", NORM },
	{ "too long CR . CRLF", T("0123456789abcdef\r.\r\nMAIL\r\n.\r\nN\r\n"),
	    0, 8, SMTP_DATA_LINE_TOO_LONG, NULL, 0, -1, "N", NORM },
	/* The client goes away. */
	{ "EOF mid-message", T("a\r\nb\r\n"), 0, 998,
	    SMTP_DATA_EOF, NULL, 0, -1, NULL, NORM },
	{ "EOF mid-line", T("a\r\nb"), 0, 998,
	    SMTP_DATA_EOF, NULL, 0, -1, NULL, NORM },
	{ "EOF after dot without CRLF", T("a\r\n."), 0, 998,
	    SMTP_DATA_EOF, NULL, 0, -1, NULL, NORM },
	{ "EOF after dot CR", T("a\r\n.\r"), 0, 998,
	    SMTP_DATA_EOF, NULL, 0, -1, NULL, NORM },
	{ "EOF at once", T(""), 0, 998,
	    SMTP_DATA_EOF, NULL, 0, -1, NULL, NORM },
};

#define NCASES	(sizeof(data_cases) / sizeof(data_cases[0]))

static void
run_case(const struct data_case *c, size_t step)
{
	struct sink k = { buf_new(1 << 20), 0, 0, 0 };
	struct buf *line = buf_new(1024);
	enum smtp_data_status st;
	struct stream *s;
	long long size = -7;
	int sv[2];
	pid_t pid;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = spawn_feeder(sv[1], sv[0], c->input, c->input_len, step, 0);
	s = stream_new(sv[0], T_READ_MS, T_READ_MS);
	st = smtp_data_read(s, c->max_size, c->max_line, c->bare,
	    sink_collect, &k, &size);
	ck_assert_msg(st == c->status, "%s (step %zu): status %s, want %s",
	    c->name, step, smtp_data_status_text(st),
	    smtp_data_status_text(c->status));
	if (c->content != NULL) {
		ck_assert_msg(buf_len(k.got) == c->content_len,
		    "%s (step %zu): %zu bytes, want %zu", c->name, step,
		    buf_len(k.got), c->content_len);
		if (c->content_len > 0)
			ck_assert_msg(memcmp(buf_cstr(k.got), c->content,
			    c->content_len) == 0, "%s (step %zu): content "
			    "differs: \"%s\"", c->name, step, buf_cstr(k.got));
	}
	if (c->size >= 0)
		ck_assert_msg(size == c->size, "%s (step %zu): size %lld, "
		    "want %lld", c->name, step, size, c->size);
	/* The session is in step: the line after the data is next. */
	if (st != SMTP_DATA_EOF) {
		if (c->next != NULL) {
			ck_assert_int_eq(stream_read_line(s, line, 100),
			    STREAM_OK);
			ck_assert_msg(strcmp(buf_cstr(line), c->next) == 0,
			    "%s (step %zu): next line \"%s\", want \"%s\"",
			    c->name, step, buf_cstr(line), c->next);
		} else {
			ck_assert_int_eq(stream_read_line(s, line, 100),
			    STREAM_EOF);
		}
	}
	stream_free(&s);
	close(sv[0]);
	reap(pid, 0);
	buf_free(&line);
	buf_free(&k.got);
}

START_TEST(test_table_whole)
{
	run_case(&data_cases[_i], 0);
}
END_TEST

START_TEST(test_table_bytewise)
{
	run_case(&data_cases[_i], 1);
}
END_TEST

START_TEST(test_table_pairs)
{
	run_case(&data_cases[_i], 2);
}
END_TEST

/* --- beyond the table ---------------------------------------------------- */

/* Every line passes through; a large message is not truncated. */
START_TEST(test_large_message)
{
	struct sink k = { buf_new(1 << 22), 0, 0, 0 };
	struct buf *in = buf_new(1 << 22), *want = buf_new(1 << 22);
	struct stream *s;
	long long size;
	int sv[2], i;
	pid_t pid;

	for (i = 0; i < 20000; i++) {
		if (i % 7 == 0) {
			ck_assert_int_eq(buf_printf(in, "..%d line\r\n", i), 0);
			ck_assert_int_eq(buf_printf(want, ".%d line\r\n", i), 0);
		} else {
			ck_assert_int_eq(buf_printf(in, "%d line\r\n", i), 0);
			ck_assert_int_eq(buf_printf(want, "%d line\r\n", i), 0);
		}
	}
	ck_assert_int_eq(buf_append_str(in, ".\r\nNEXT\r\n"), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = spawn_feeder(sv[1], sv[0], buf_cstr(in), buf_len(in), 0, 0);
	s = stream_new(sv[0], T_READ_MS, T_READ_MS);
	ck_assert_int_eq(smtp_data_read(s, 0, 998,
	    SMTP_BARE_NEWLINE_NORMALIZE, sink_collect, &k, &size),
	    SMTP_DATA_OK);
	ck_assert_int_eq(size, (long long) buf_len(want));
	ck_assert_uint_eq(buf_len(k.got), buf_len(want));
	ck_assert_mem_eq(buf_cstr(k.got), buf_cstr(want), buf_len(want));
	stream_free(&s);
	close(sv[0]);
	reap(pid, 0);
	buf_free(&in);
	buf_free(&want);
	buf_free(&k.got);
}
END_TEST

/*
 * smtp_data_send: the stored message goes out dot-stuffed with CRLF
 * line ends (a bare LF too) and the end-of-data line, and the DATA
 * reader gets back exactly the normalised message; a file shorter than
 * the size given fails.
 */
START_TEST(test_send_round_trip)
{
	static const char prefix[] = "envelope records\n";
	static const char stored[] = "Subject: s\r\n\r\n.one\r\n..two\nthree";
	static const char want[] = "Subject: s\r\n\r\n.one\r\n..two\r\n"
	    "three\r\n";
	struct sink k = { buf_new(4096), 0, 0, 0 };
	struct stream *out, *in;
	char path[] = "/tmp/check_smtp_data.XXXXXX";
	long long size, bare = -1;
	int fd, sv[2];

	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	(void) unlink(path);
	ck_assert_int_eq(write(fd, prefix, strlen(prefix)),
	    (ssize_t) strlen(prefix));
	ck_assert_int_eq(write(fd, stored, strlen(stored)),
	    (ssize_t) strlen(stored));
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	out = stream_new(sv[1], T_READ_MS, T_READ_MS);
	in = stream_new(sv[0], T_READ_MS, T_READ_MS);
	ck_assert_int_eq(smtp_data_send(out, fd, (off_t) strlen(prefix),
	    (long long) strlen(stored), &bare), 0);
	ck_assert_int_eq(stream_flush(out), STREAM_OK);
	ck_assert_int_eq(bare, 1);
	ck_assert_int_eq(smtp_data_read(in, 0, 998,
	    SMTP_BARE_NEWLINE_REJECT, sink_collect, &k, &size), SMTP_DATA_OK);
	ck_assert_uint_eq(buf_len(k.got), strlen(want));
	ck_assert_mem_eq(buf_cstr(k.got), want, strlen(want));
	/* The file ends before the size says: an error, no end of data. */
	ck_assert_int_eq(smtp_data_send(out, fd, (off_t) strlen(prefix),
	    (long long) strlen(stored) + 1, &bare), -1);
	stream_free(&out);
	stream_free(&in);
	close(sv[0]);
	close(sv[1]);
	close(fd);
	buf_free(&k.got);
}
END_TEST

/*
 * smtp_data_send_buffer: the same from memory, over more than one 64 KiB
 * piece, with a CRLF split across the piece boundary (one line end, not
 * a bare CR) and a bare LF after it; a child sends, we read.
 */
START_TEST(test_send_buffer_round_trip)
{
	struct buf *msg = buf_new(1 << 20), *want = buf_new(1 << 20);
	struct sink k = { buf_new(1 << 20), 0, 0, 0 };
	struct stream *in, *out;
	long long size, bare = -1;
	int sv[2], status, i;
	pid_t pid;

	for (i = 0; i < 16383; i++) {
		(void) buf_append_str(msg, ".a\r\n");
		(void) buf_append_str(want, ".a\r\n");
	}
	/* The CR is the first piece's last byte, its LF the next's first. */
	(void) buf_append_str(msg, "bbb\r\nx\ny");
	ck_assert_int_eq(buf_cstr(msg)[65535], '\r');
	(void) buf_append_str(want, "bbb\r\nx\r\ny\r\n");
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(sv[0]);
		out = stream_new(sv[1], T_READ_MS, T_READ_MS);
		_exit(smtp_data_send_buffer(out, buf_cstr(msg), buf_len(msg),
		    &bare) == 0 && bare == 1 && stream_flush(out) == STREAM_OK ?
		    0 : 1);
	}
	close(sv[1]);
	in = stream_new(sv[0], T_READ_MS, T_READ_MS);
	ck_assert_int_eq(smtp_data_read(in, 0, 998,
	    SMTP_BARE_NEWLINE_REJECT, sink_collect, &k, &size), SMTP_DATA_OK);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_uint_eq(buf_len(k.got), buf_len(want));
	ck_assert_mem_eq(buf_cstr(k.got), buf_cstr(want), buf_len(want));
	stream_free(&in);
	close(sv[0]);
	buf_free(&k.got);
	buf_free(&msg);
	buf_free(&want);
}
END_TEST

/* A sink failure stops the sink, and the rest is still read. */
START_TEST(test_sink_failure)
{
	static const char input[] = "a\r\nb\r\nc\r\nd\r\n.\r\nNEXT\r\n";
	struct sink k = { buf_new(1024), 0, 2, 0 };
	struct buf *line = buf_new(64);
	struct stream *s;
	long long size;
	int sv[2];
	pid_t pid;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = spawn_feeder(sv[1], sv[0], T(input), 1, 0);
	s = stream_new(sv[0], T_READ_MS, T_READ_MS);
	ck_assert_int_eq(smtp_data_read(s, 0, 998,
	    SMTP_BARE_NEWLINE_NORMALIZE, sink_collect, &k, &size),
	    SMTP_DATA_SINK_FAILED);
	ck_assert_int_eq(k.calls, 2);
	ck_assert_int_eq(k.calls_after_fail, 0);
	ck_assert_str_eq(buf_cstr(k.got), "a\r\n");
	ck_assert_int_eq(size, 12);
	ck_assert_int_eq(stream_read_line(s, line, 100), STREAM_OK);
	ck_assert_str_eq(buf_cstr(line), "NEXT");
	stream_free(&s);
	close(sv[0]);
	reap(pid, 0);
	buf_free(&line);
	buf_free(&k.got);
}
END_TEST

/* Too big: the sink is not called past the limit. */
START_TEST(test_too_big_stops_sink)
{
	static const char input[] = "0123\r\n4567\r\n89ab\r\n.\r\nNEXT\r\n";
	struct sink k = { buf_new(1024), 0, 0, 0 };
	struct stream *s;
	long long size;
	int sv[2];
	pid_t pid;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = spawn_feeder(sv[1], sv[0], T(input), 0, 0);
	s = stream_new(sv[0], T_READ_MS, T_READ_MS);
	ck_assert_int_eq(smtp_data_read(s, 10, 998,
	    SMTP_BARE_NEWLINE_NORMALIZE, sink_collect, &k, &size),
	    SMTP_DATA_TOO_BIG);
	ck_assert_int_eq(size, 18);
	ck_assert_uint_le(buf_len(k.got), 10);
	stream_free(&s);
	close(sv[0]);
	reap(pid, 0);
	buf_free(&k.got);
}
END_TEST

/* A silent client: the read deadline ends DATA. */
START_TEST(test_timeout)
{
	static const char input[] = "a\r\nb";
	struct sink k = { buf_new(1024), 0, 0, 0 };
	struct stream *s;
	int64_t start, took;
	int sv[2];
	pid_t pid;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = spawn_feeder(sv[1], sv[0], T(input), 0, 1);
	s = stream_new(sv[0], T_SHORT_MS, T_SHORT_MS);
	start = now_ms();
	/* size_r may be NULL. */
	ck_assert_int_eq(smtp_data_read(s, 0, 998,
	    SMTP_BARE_NEWLINE_NORMALIZE, sink_collect, &k, NULL),
	    SMTP_DATA_TIMEOUT);
	took = now_ms() - start;
	ck_assert_int_ge(took, T_SHORT_MS - 20);
	ck_assert_int_lt(took, T_SHORT_MS + 3000);
	ck_assert_str_eq(buf_cstr(k.got), "a\r\n");
	stream_free(&s);
	close(sv[0]);
	reap(pid, 1);
	buf_free(&k.got);
}
END_TEST

/* A reset connection is an I/O error, not EOF. */
START_TEST(test_io_error)
{
	struct sink k = { buf_new(1024), 0, 0, 0 };
	struct stream *s;
	int fd = open("/", O_RDONLY);

	ck_assert_int_ge(fd, 0);
	/* read(2) on a directory fails with EISDIR. */
	s = stream_new(fd, T_READ_MS, T_READ_MS);
	ck_assert_int_eq(smtp_data_read(s, 0, 998,
	    SMTP_BARE_NEWLINE_NORMALIZE, sink_collect, &k, NULL),
	    SMTP_DATA_ERROR);
	stream_free(&s);
	close(fd);
	buf_free(&k.got);
}
END_TEST

START_TEST(test_status_text)
{
	enum smtp_data_status st;
	const char *texts[SMTP_DATA_ERROR + 1];
	int i;

	for (st = SMTP_DATA_OK; st <= SMTP_DATA_ERROR; st++) {
		texts[st] = smtp_data_status_text(st);
		ck_assert_ptr_nonnull(texts[st]);
		ck_assert_uint_gt(strlen(texts[st]), 0);
		for (i = 0; i < (int) st; i++)
			ck_assert_str_ne(texts[i], texts[st]);
	}
	ck_assert_str_eq(smtp_data_status_text((enum smtp_data_status) 99),
	    "unknown");
}
END_TEST

/* --- bare line ends in pieces (BDAT, the agent) ------------------------- */

struct crlf_case {
	const char *in;
	size_t in_len;
	const char *out;
	size_t out_len;
	long long bare;
};

#define IO(i, o)	T(i), T(o)

static const struct crlf_case crlf_cases[] = {
	{ IO("", ""), 0 },
	{ IO("a\r\nb\r\n", "a\r\nb\r\n"), 0 },
	{ IO("a\nb\n", "a\r\nb\r\n"), 2 },
	{ IO("a\rb\r", "a\r\nb\r\n"), 2 },
	{ IO("\r\r\n\n\r", "\r\n\r\n\r\n\r\n"), 3 },
	{ IO("x\r\n.\r\n", "x\r\n.\r\n"), 0 },
	{ IO("x\r.\rMAIL FROM:<a@b>\r\n", "x\r\n.\r\nMAIL FROM:<a@b>\r\n"),
	    2 },
	{ IO("x\n.\nRSET", "x\r\n.\r\nRSET"), 2 },
	{ IO("\0\xff\r", "\0\xff\r\n"), 1 },
};

/* Fed whole and split at every byte: the same output and count. */
START_TEST(test_crlf_pieces)
{
	const struct crlf_case *c = &crlf_cases[_i];
	struct smtp_crlf st;
	struct buf *out = buf_new(256);
	size_t cut;

	for (cut = 0; cut <= c->in_len; cut++) {
		memset(&st, 0, sizeof(st));
		buf_reset(out);
		ck_assert_int_eq(smtp_crlf_append(&st, c->in, cut, out), 0);
		ck_assert_int_eq(smtp_crlf_append(&st, c->in + cut,
		    c->in_len - cut, out), 0);
		ck_assert_int_eq(smtp_crlf_finish(&st, out), 0);
		ck_assert_msg(buf_len(out) == c->out_len &&
		    memcmp(buf_cstr(out), c->out, c->out_len) == 0,
		    "case %d cut %zu: got \"%s\"", _i, cut, buf_cstr(out));
		ck_assert_int_eq(st.bare, c->bare);
	}
	/* And one byte at a time. */
	memset(&st, 0, sizeof(st));
	buf_reset(out);
	for (cut = 0; cut < c->in_len; cut++)
		ck_assert_int_eq(smtp_crlf_append(&st, c->in + cut, 1, out), 0);
	ck_assert_int_eq(smtp_crlf_finish(&st, out), 0);
	ck_assert_uint_eq(buf_len(out), c->out_len);
	ck_assert_int_eq(memcmp(buf_cstr(out), c->out, c->out_len), 0);
	ck_assert_int_eq(st.bare, c->bare);
	buf_free(&out);
}
END_TEST

START_TEST(test_crlf_cap_and_mode)
{
	struct smtp_crlf st = { 0, 0 };
	struct buf *out = buf_new(3);
	enum smtp_bare_newline mode;

	ck_assert_int_eq(smtp_crlf_append(&st, "a\n\n", 3, out), -1);
	buf_free(&out);
	ck_assert_int_eq(smtp_bare_newline_parse("normalize", &mode), 0);
	ck_assert_int_eq(mode, SMTP_BARE_NEWLINE_NORMALIZE);
	ck_assert_int_eq(smtp_bare_newline_parse("reject", &mode), 0);
	ck_assert_int_eq(mode, SMTP_BARE_NEWLINE_REJECT);
	ck_assert_int_eq(smtp_bare_newline_parse("no", &mode), -1);
	ck_assert_int_eq(smtp_bare_newline_parse("", &mode), -1);
	ck_assert_str_eq(smtp_data_status_text(SMTP_DATA_BARE_NEWLINE),
	    "bare CR or LF in the message");
}
END_TEST

static Suite *
smtp_data_suite(void)
{
	Suite *s = suite_create("smtp_data");
	TCase *tc;

	tc = tcase_create("table");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_table_whole, 0, NCASES);
	tcase_add_loop_test(tc, test_table_bytewise, 0, NCASES);
	tcase_add_loop_test(tc, test_table_pairs, 0, NCASES);
	suite_add_tcase(s, tc);

	tc = tcase_create("crlf");
	tcase_add_loop_test(tc, test_crlf_pieces, 0,
	    sizeof(crlf_cases) / sizeof(crlf_cases[0]));
	tcase_add_test(tc, test_crlf_cap_and_mode);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_test(tc, test_large_message);
	tcase_add_test(tc, test_send_round_trip);
	tcase_add_test(tc, test_send_buffer_round_trip);
	tcase_add_test(tc, test_sink_failure);
	tcase_add_test(tc, test_too_big_stops_sink);
	tcase_add_test(tc, test_timeout);
	tcase_add_test(tc, test_io_error);
	tcase_add_test(tc, test_status_text);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(smtp_data_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

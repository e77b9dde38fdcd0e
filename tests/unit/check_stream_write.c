/* check_stream_write: deadlines of stream reads and writes, writing. */
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
stream_write_suite(void)
{
	Suite *s = suite_create("stream_write");
	TCase *tc;

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
	SRunner *sr = srunner_create(stream_write_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* check_stream_transport: stream transports, life cycle and texts. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "stream.h"

#include "check_stream_util.h"

/* --- transports --------------------------------------------------------- */

struct xor_ctx {
	int fd;
	int reads;
	int writes;
};

static ssize_t
xor_read(void *ctx, void *data, size_t len, int *want_write_r)
{
	struct xor_ctx *x = ctx;
	unsigned char *p = data;
	ssize_t n, i;

	*want_write_r = 0;
	x->reads++;
	n = read(x->fd, data, len);
	for (i = 0; i < n; i++)
		p[i] ^= 0x20;
	return n;
}

static ssize_t
xor_write(void *ctx, const void *data, size_t len, int *want_read_r)
{
	struct xor_ctx *x = ctx;
	const unsigned char *p = data;
	unsigned char coded[256];
	size_t i;

	*want_read_r = 0;
	x->writes++;
	if (len > sizeof(coded))
		len = sizeof(coded);
	for (i = 0; i < len; i++)
		coded[i] = p[i] ^ 0x20;
	return write(x->fd, coded, len);
}

static const struct stream_transport xor_transport = {
	xor_read, xor_write, NULL,
};

static void
send_xored(int fd, const char *text)
{
	char coded[256];
	size_t i, len = strlen(text);

	ck_assert_uint_lt(len, sizeof(coded));
	for (i = 0; i < len; i++)
		coded[i] = (char) (text[i] ^ 0x20);
	write_all(fd, coded, len);
}

START_TEST(test_transport_xor)
{
	struct xor_ctx x;
	struct buf *line = buf_new(64);
	struct stream *s;
	char got[64];
	int sv[2], flags;

	make_pair(sv);
	s = stream_new(sv[0], T_LONG_MS, T_LONG_MS);
	ck_assert_int_eq(stream_fd(s), sv[0]);
	flags = fcntl(sv[0], F_GETFL);
	ck_assert(flags & O_NONBLOCK);
	x.fd = sv[0];
	x.reads = 0;
	x.writes = 0;
	stream_set_transport(s, &xor_transport, &x);

	send_xored(sv[1], "EHLO client\r\n");
	ck_assert_int_eq(stream_read_line(s, line, 64), STREAM_OK);
	assert_line(line, "EHLO client", 11);
	ck_assert_int_eq(stream_last_eol(s), STREAM_EOL_CRLF);
	ck_assert_int_ge(x.reads, 1);

	/* Short transport writes (256 bytes at most) are continued. */
	ck_assert_int_eq(stream_printf(s, "%0300d", 0), STREAM_OK);
	ck_assert_int_eq(stream_flush(s), STREAM_OK);
	ck_assert_int_ge(x.writes, 2);
	ck_assert_uint_eq(drain_now(sv[1], got, 64), 64);
	ck_assert_int_eq(got[0], '0' ^ 0x20);
	ck_assert_uint_eq(drain_now(sv[1], got, 64), 64);
	while (drain_now(sv[1], got, sizeof(got)) > 0)
		;

	/* NULL restores plain bytes on the fd. */
	stream_set_transport(s, NULL, NULL);
	x.reads = 0;
	write_all(sv[1], "plain\n", 6);
	ck_assert_int_eq(stream_read_line(s, line, 64), STREAM_OK);
	assert_line(line, "plain", 5);
	ck_assert_int_eq(x.reads, 0);
	ck_assert_int_eq(stream_puts(s, "ok"), STREAM_OK);
	ck_assert_int_eq(stream_flush(s), STREAM_OK);
	ck_assert_uint_eq(drain_now(sv[1], got, sizeof(got)), 2);
	ck_assert_mem_eq(got, "ok", 2);
	buf_free(&line);
	stream_free(&s);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/*
 * A transport that must write before it can read (TLS renegotiation):
 * the fd has nothing to read, so only a wait for POLLOUT lets it go on.
 */
struct wants_ctx {
	int calls;
	char written[64];
	size_t written_len;
};

static ssize_t
wants_write_read(void *ctx, void *data, size_t len, int *want_write_r)
{
	struct wants_ctx *w = ctx;

	if (w->calls++ == 0) {
		*want_write_r = 1;
		errno = EAGAIN;
		return -1;
	}
	*want_write_r = 0;
	ck_assert_uint_ge(len, 3);
	memcpy(data, "ok\n", 3);
	return 3;
}

/* The mirror case: a write that must wait until the fd is readable. */
static ssize_t
wants_read_write(void *ctx, const void *data, size_t len, int *want_read_r)
{
	struct wants_ctx *w = ctx;

	if (w->calls++ == 0) {
		*want_read_r = 1;
		errno = EAGAIN;
		return -1;
	}
	*want_read_r = 0;
	if (len > sizeof(w->written) - w->written_len)
		len = sizeof(w->written) - w->written_len;
	memcpy(w->written + w->written_len, data, len);
	w->written_len += len;
	return (ssize_t) len;
}

static const struct stream_transport wants_transport = {
	wants_write_read, wants_read_write, NULL,
};

START_TEST(test_transport_want_write)
{
	struct wants_ctx w;
	struct buf *line = buf_new(64);
	struct stream *s;
	int64_t start;
	int sv[2];

	memset(&w, 0, sizeof(w));
	make_pair(sv);
	s = stream_new(sv[0], 500, 500);
	stream_set_transport(s, &wants_transport, &w);
	start = now_ms();
	ck_assert_int_eq(stream_read_line(s, line, 64), STREAM_OK);
	ck_assert_int_lt(now_ms() - start, 250);
	assert_line(line, "ok", 2);
	ck_assert_int_eq(w.calls, 2);
	buf_free(&line);
	stream_free(&s);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/*
 * A transport holding input of its own (TLS: decrypted, not yet taken):
 * the descriptor never becomes readable for it, so waits must ask.
 */
struct held_ctx {
	const char *held;
	size_t held_len;
};

static ssize_t
held_read(void *ctx, void *data, size_t len, int *want_write_r)
{
	struct held_ctx *h = ctx;

	*want_write_r = 0;
	if (h->held_len == 0) {
		errno = EAGAIN;
		return -1;
	}
	if (len > h->held_len)
		len = h->held_len;
	memcpy(data, h->held, len);
	h->held += len;
	h->held_len -= len;
	return (ssize_t) len;
}

static ssize_t
held_write(void *ctx, const void *data, size_t len, int *want_read_r)
{
	(void) ctx;
	(void) data;
	*want_read_r = 0;
	return (ssize_t) len;
}

static size_t
held_pending(void *ctx)
{
	return ((struct held_ctx *) ctx)->held_len;
}

static const struct stream_transport held_transport = {
	held_read, held_write, held_pending,
};

START_TEST(test_transport_pending)
{
	struct held_ctx h = { "DONE\r\n", 6 };
	struct buf *line = buf_new(64);
	struct stream *s;
	int64_t start;
	int sv[2];

	make_pair(sv);
	s = stream_new(sv[0], 500, 500);
	stream_set_transport(s, &held_transport, &h);
	ck_assert_uint_eq(stream_pending(s), 6);
	start = now_ms();
	ck_assert_int_eq(stream_wait_input(s, 400), 1);
	ck_assert_int_lt(now_ms() - start, 200);
	ck_assert_int_eq(stream_read_line(s, line, 64), STREAM_OK);
	assert_line(line, "DONE", 4);
	ck_assert_uint_eq(stream_pending(s), 0);
	ck_assert_int_eq(stream_wait_input(s, 50), 0);
	buf_free(&line);
	stream_free(&s);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(test_transport_want_read)
{
	struct wants_ctx w;
	struct stream *s;
	char filler[4096];
	int64_t start;
	int sv[2];

	memset(&w, 0, sizeof(w));
	memset(filler, 0, sizeof(filler));
	make_pair(sv);
	/* Not writable: our send buffer is full; readable: one byte. */
	while (send(sv[0], filler, sizeof(filler), MSG_DONTWAIT) > 0)
		;
	write_all(sv[1], "r", 1);
	s = stream_new(sv[0], 500, 500);
	stream_set_transport(s, &wants_transport, &w);
	ck_assert_int_eq(stream_puts(s, "hello"), STREAM_OK);
	start = now_ms();
	ck_assert_int_eq(stream_flush(s), STREAM_OK);
	ck_assert_int_lt(now_ms() - start, 250);
	ck_assert_int_eq(w.calls, 2);
	ck_assert_uint_eq(w.written_len, 5);
	ck_assert_mem_eq(w.written, "hello", 5);
	stream_free(&s);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* A transport error is a sticky STREAM_ERROR with its errno text. */
static ssize_t
broken_read(void *ctx, void *data, size_t len, int *want_write_r)
{
	(void) ctx;
	(void) data;
	(void) len;
	*want_write_r = 0;
	errno = ECONNRESET;
	return -1;
}

static ssize_t
broken_write(void *ctx, const void *data, size_t len, int *want_read_r)
{
	(void) ctx;
	(void) data;
	(void) len;
	*want_read_r = 0;
	return 0;
}

static const struct stream_transport broken_transport = {
	broken_read, broken_write, NULL,
};

START_TEST(test_transport_errors)
{
	struct buf *line = buf_new(64);
	struct stream *s;
	int sv[2];

	make_pair(sv);
	s = stream_new(sv[0], 500, 500);
	stream_set_transport(s, &broken_transport, NULL);
	ck_assert_int_eq(stream_read_line(s, line, 64), STREAM_ERROR);
	ck_assert_str_eq(stream_error(s), strerror(ECONNRESET));
	ck_assert_int_eq(stream_read_line(s, line, 64), STREAM_ERROR);
	/* A read error leaves writing to find out for itself. */
	ck_assert_int_eq(stream_puts(s, "x"), STREAM_OK);
	ck_assert_int_eq(stream_flush(s), STREAM_ERROR);
	ck_assert_str_eq(stream_error(s), strerror(EPIPE));
	buf_free(&line);
	stream_free(&s);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* --- life cycle and texts ----------------------------------------------- */

START_TEST(test_free_null)
{
	struct stream *s = NULL;
	int sv[2];

	stream_free(&s);
	ck_assert_ptr_null(s);
	make_pair(sv);
	s = stream_new(sv[0], 1, 1);
	stream_free(&s);
	ck_assert_ptr_null(s);
	/* The fd is still ours. */
	ck_assert_int_eq(write(sv[0], "x", 1), 1);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(test_new_negative_fd_aborts)
{
	quiet_log();
	(void) stream_new(-1, 1000, 1000);
}
END_TEST

START_TEST(test_new_closed_fd_aborts)
{
	int sv[2];

	quiet_log();
	make_pair(sv);
	close(sv[0]);
	(void) stream_new(sv[0], 1000, 1000);
}
END_TEST

static const struct {
	enum stream_status status;
	const char *text;
} status_texts[] = {
	{ STREAM_OK, "ok" },
	{ STREAM_TOO_LONG, "too long" },
	{ STREAM_EOF, "connection closed" },
	{ STREAM_TIMEOUT, "timeout" },
	{ STREAM_ERROR, "I/O error" },
	{ (enum stream_status) 99, "unknown status" },
};

START_TEST(test_status_text)
{
	ck_assert_str_eq(stream_status_text(status_texts[_i].status),
	    status_texts[_i].text);
}
END_TEST

static Suite *
stream_transport_suite(void)
{
	Suite *s = suite_create("stream_transport");
	TCase *tc;

	tc = tcase_create("transport");
	tcase_add_test(tc, test_transport_xor);
	tcase_add_test(tc, test_transport_want_write);
	tcase_add_test(tc, test_transport_want_read);
	tcase_add_test(tc, test_transport_pending);
	tcase_add_test(tc, test_transport_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("misc");
	tcase_add_test(tc, test_free_null);
	tcase_add_test_raise_signal(tc, test_new_negative_fd_aborts, SIGABRT);
	tcase_add_test_raise_signal(tc, test_new_closed_fd_aborts, SIGABRT);
	tcase_add_loop_test(tc, test_status_text, 0,
	    (int) (sizeof(status_texts) / sizeof(status_texts[0])));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(stream_transport_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

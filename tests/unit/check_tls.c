/* check_tls: TLS under a stream, server and client over a socketpair. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "params.h"
#include "stream.h"
#include "tls.h"
#include "xalloc.h"

#define T_IO_MS		5000
#define T_SHORT_MS	300

extern char **environ;

/* Made once in main() by the openssl command: the test's own PKI. */
static char pki_dir[] = "/tmp/check_tls.XXXXXX";
static char *cert_file, *key_file;		/* CN=localhost */
static char *other_cert_file, *other_key_file;	/* an unrelated pair */

/* --- helpers ----------------------------------------------------------- */

static int64_t
now_ms(void)
{
	struct timespec ts;

	ck_assert_int_eq(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
set_param(const char *name, const char *value)
{
	char *error = NULL;

	ck_assert_msg(params_set(name, value, &error) == 0, "%s: %s", name,
	    error);
}

/* Default parameters pointing at the test certificate. */
static void
setup(void)
{
	params_init();
	set_param("tls_cert_file", cert_file);
	set_param("tls_key_file", key_file);
	set_param("tls_handshake_timeout", "10s");
}

static struct tls_server *
server_ctx(void)
{
	struct tls_server *t;
	char *error = NULL;

	t = tls_server_new(&error);
	ck_assert_msg(t != NULL, "tls_server_new: %s", error);
	return t;
}

/*
 * The client in a forked child: exit 0 when everything it was asked
 * for worked.  Failures are exit codes, read by reap().
 */
enum client_script {
	CLIENT_ECHO,		/* STARTTLS dance, then a line round trip */
	CLIENT_BULK,		/* send BULK_SIZE bytes, expect "OK" */
	CLIENT_SILENT,		/* connect and say nothing */
	CLIENT_GARBAGE,		/* an HTTP request instead of a ClientHello */
	CLIENT_CLOSE,		/* close at once */
	CLIENT_IDLE_AFTER,	/* handshake, then say nothing */
	CLIENT_SHUTDOWN,	/* handshake, then close_notify and close */
};

#define BULK_SIZE	(3 * 1024 * 1024 + 17)

static unsigned char
bulk_byte(size_t i)
{
	return (unsigned char) (i * 131 + i / 977);
}

struct client_opts {
	enum client_script script;
	int verify_peer;
	const char *ca_file;
	const char *server_name;
	int expect_handshake_fail;
};

static void
client_main(int fd, const struct client_opts *o)
{
	struct tls_server *t;
	struct tls_conn *c = NULL;
	struct stream *s;
	struct buf *line = buf_new(1024);
	char *error = NULL;
	size_t i, n;
	unsigned char chunk[8192];
	int rc;

	switch (o->script) {
	case CLIENT_SILENT:
		pause();
		_exit(0);
	case CLIENT_GARBAGE: {
		static const char req[] = "GET / HTTP/1.0\r\n\r\n";
		char sink[512];

		if (write(fd, req, sizeof(req) - 1) != sizeof(req) - 1)
			_exit(10);
		/* Wait for the server to give up (EOF or an alert). */
		while (read(fd, sink, sizeof(sink)) > 0)
			;
		_exit(0);
	}
	case CLIENT_CLOSE:
		close(fd);
		_exit(0);
	default:
		break;
	}
	s = stream_new(fd, T_IO_MS, T_IO_MS);
	t = tls_client_new(o->ca_file, o->verify_peer, &error);
	if (t == NULL)
		_exit(11);
	if (o->script == CLIENT_ECHO) {
		/* Pipelined plaintext after STARTTLS must be thrown away. */
		if (stream_puts(s, "STARTTLS\r\nINJECTED\r\n") != STREAM_OK ||
		    stream_flush(s) != STREAM_OK)
			_exit(12);
		if (stream_read_line(s, line, 512) != STREAM_OK ||
		    strcmp(buf_cstr(line), "220 go ahead") != 0)
			_exit(13);
	}
	rc = tls_start(t, s, o->server_name, &c, &error);
	if (o->expect_handshake_fail)
		_exit(rc == -1 && error != NULL ? 0 : 14);
	if (rc != 0)
		_exit(15);
	switch (o->script) {
	case CLIENT_ECHO:
		if (stream_puts(s, "EHLO client.example\r\n") != STREAM_OK ||
		    stream_flush(s) != STREAM_OK)
			_exit(16);
		if (stream_read_line(s, line, 512) != STREAM_OK ||
		    strcmp(buf_cstr(line), "250 you said EHLO client.example")
		    != 0)
			_exit(17);
		if (strcmp(tls_conn_version(c), "TLSv1.3") != 0)
			_exit(18);
		break;
	case CLIENT_BULK:
		for (i = 0; i < BULK_SIZE; i += n) {
			n = BULK_SIZE - i < sizeof(chunk) ? BULK_SIZE - i :
			    sizeof(chunk);
			for (size_t k = 0; k < n; k++)
				chunk[k] = bulk_byte(i + k);
			if (stream_write(s, chunk, n) != STREAM_OK)
				_exit(20);
		}
		if (stream_flush(s) != STREAM_OK)
			_exit(21);
		if (stream_read_line(s, line, 512) != STREAM_OK ||
		    strcmp(buf_cstr(line), "OK") != 0)
			_exit(22);
		break;
	case CLIENT_IDLE_AFTER:
		pause();
		break;
	case CLIENT_SHUTDOWN:
		break;
	default:
		_exit(30);
	}
	tls_conn_free(&c);
	stream_free(&s);
	tls_server_free(&t);
	close(fd);
	_exit(0);
}

static pid_t
spawn_client(int sv[2], const struct client_opts *o)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(sv[0]);
		client_main(sv[1], o);
		_exit(99);
	}
	close(sv[1]);
	return pid;
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
		    "client failed: status %d (exit %d)", wstatus,
		    WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1);
}

/*
 * The server's side of CLIENT_ECHO after the handshake: the first line
 * is the client's, not the INJECTED one sent before TLS; then the
 * client's close_notify (or close) is EOF.
 */
static void
serve_echo(struct stream *s, struct buf *line)
{
	ck_assert_int_eq(stream_read_line(s, line, 512), STREAM_OK);
	ck_assert_str_eq(buf_cstr(line), "EHLO client.example");
	ck_assert_int_eq(stream_printf(s, "250 you said %s\r\n",
	    buf_cstr(line)), STREAM_OK);
	ck_assert_int_eq(stream_flush(s), STREAM_OK);
	ck_assert_int_eq(stream_read_line(s, line, 512), STREAM_EOF);
}

/* --- handshake and data ------------------------------------------------- */

START_TEST(test_round_trip)
{
	struct client_opts o = { CLIENT_ECHO, 0, NULL, "localhost", 0 };
	struct tls_server *t = server_ctx();
	struct tls_conn *c = NULL;
	struct buf *line = buf_new(1024);
	struct stream *s;
	char *error = NULL;
	int sv[2];
	pid_t pid;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = spawn_client(sv, &o);
	s = stream_new(sv[0], T_IO_MS, T_IO_MS);
	ck_assert_int_eq(stream_read_line(s, line, 512), STREAM_OK);
	ck_assert_str_eq(buf_cstr(line), "STARTTLS");
	/* One write(2) brought both lines: the pipelined one is buffered. */
	ck_assert_uint_ge(stream_pending(s), strlen("INJECTED\r\n"));
	ck_assert_int_eq(stream_puts(s, "220 go ahead\r\n"), STREAM_OK);
	ck_assert_int_eq(stream_flush(s), STREAM_OK);
	ck_assert_msg(tls_start(t, s, NULL, &c, &error) == 0,
	    "tls_start: %s", error);
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(tls_conn_version(c), "TLSv1.3");
	ck_assert_msg(strncmp(tls_conn_cipher(c), "TLS_", 4) == 0,
	    "cipher %s", tls_conn_cipher(c));
	ck_assert_int_ge(tls_conn_bits(c), 128);
	serve_echo(s, line);
	tls_conn_free(&c);
	ck_assert_ptr_null(c);
	stream_free(&s);
	close(sv[0]);
	reap(pid, 0);
	tls_server_free(&t);
	ck_assert_ptr_null(t);
	buf_free(&line);
}
END_TEST

/* Megabytes through the socketpair: partial writes and WANT_* paths. */
START_TEST(test_bulk)
{
	struct client_opts o = { CLIENT_BULK, 0, NULL, NULL, 0 };
	struct tls_server *t = server_ctx();
	struct tls_conn *c = NULL;
	struct buf *data = buf_new(BULK_SIZE);
	struct stream *s;
	char *error = NULL;
	const unsigned char *p;
	size_t i;
	int sv[2];
	pid_t pid;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = spawn_client(sv, &o);
	s = stream_new(sv[0], T_IO_MS, T_IO_MS);
	ck_assert_msg(tls_start(t, s, NULL, &c, &error) == 0,
	    "tls_start: %s", error);
	ck_assert_int_eq(stream_read_exact(s, data, BULK_SIZE), STREAM_OK);
	p = (const unsigned char *) buf_cstr(data);
	for (i = 0; i < BULK_SIZE; i++) {
		if (p[i] != bulk_byte(i))
			ck_abort_msg("byte %zu differs", i);
	}
	ck_assert_int_eq(stream_puts(s, "OK\r\n"), STREAM_OK);
	ck_assert_int_eq(stream_flush(s), STREAM_OK);
	reap(pid, 0);
	tls_conn_free(&c);
	stream_free(&s);
	close(sv[0]);
	tls_server_free(&t);
	buf_free(&data);
}
END_TEST

/* After the handshake, the stream's own read deadline still holds. */
START_TEST(test_read_timeout_after_handshake)
{
	struct client_opts o = { CLIENT_IDLE_AFTER, 0, NULL, NULL, 0 };
	struct tls_server *t = server_ctx();
	struct tls_conn *c = NULL;
	struct buf *line = buf_new(1024);
	struct stream *s;
	char *error = NULL;
	int64_t start, took;
	int sv[2];
	pid_t pid;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = spawn_client(sv, &o);
	s = stream_new(sv[0], T_SHORT_MS, T_IO_MS);
	ck_assert_msg(tls_start(t, s, NULL, &c, &error) == 0,
	    "tls_start: %s", error);
	start = now_ms();
	ck_assert_int_eq(stream_read_line(s, line, 512), STREAM_TIMEOUT);
	took = now_ms() - start;
	ck_assert_int_ge(took, T_SHORT_MS - 20);
	ck_assert_int_lt(took, T_SHORT_MS + 3000);
	/* A failed read does not stop writes: the 421 still goes out. */
	ck_assert_int_eq(stream_puts(s, "421 timeout\r\n"), STREAM_OK);
	ck_assert_int_eq(stream_flush(s), STREAM_OK);
	tls_conn_free(&c);
	stream_free(&s);
	close(sv[0]);
	reap(pid, 1);
	tls_server_free(&t);
	buf_free(&line);
}
END_TEST

/* A client that verifies: the right CA and name pass, others fail. */
struct verify_case {
	int use_other_ca;
	const char *server_name;
	int client_fails;
};

static const struct verify_case verify_cases[] = {
	{ 0, "localhost", 0 },
	{ 1, "localhost", 1 },		/* unknown issuer */
	{ 0, "mx.example.org", 1 },	/* certificate for another name */
};

START_TEST(test_client_verify)
{
	const struct verify_case *v = &verify_cases[_i];
	struct client_opts o = { CLIENT_SHUTDOWN, 1,
	    v->use_other_ca ? other_cert_file : cert_file, v->server_name,
	    v->client_fails };
	struct tls_server *t = server_ctx();
	struct tls_conn *c = NULL;
	struct buf *line = buf_new(64);
	struct stream *s;
	char *error = NULL;
	int sv[2], rc;
	pid_t pid;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = spawn_client(sv, &o);
	s = stream_new(sv[0], T_IO_MS, T_IO_MS);
	rc = tls_start(t, s, NULL, &c, &error);
	if (rc == 0) {
		/* TLS 1.3: the client's verdict may arrive after ours. */
		ck_assert_int_ne(stream_read_line(s, line, 64), STREAM_OK);
		tls_conn_free(&c);
	} else {
		ck_assert_msg(v->client_fails, "server: %s", error);
		free(error);
	}
	reap(pid, 0);
	stream_free(&s);
	close(sv[0]);
	tls_server_free(&t);
	buf_free(&line);
}
END_TEST

/* --- failing handshakes ----------------------------------------------------- */

struct fail_case {
	enum client_script script;
	int min_ms, max_ms;
	const char *error_part;
};

static const struct fail_case fail_cases[] = {
	{ CLIENT_SILENT, 950, 4000, "timeout" },
	{ CLIENT_GARBAGE, 0, 3000, "TLS handshake" },
	{ CLIENT_CLOSE, 0, 3000, "TLS handshake" },
};

START_TEST(test_handshake_fails)
{
	const struct fail_case *f = &fail_cases[_i];
	struct client_opts o = { f->script, 0, NULL, NULL, 0 };
	struct tls_server *t;
	struct tls_conn *c = NULL;
	struct stream *s;
	char *error = NULL;
	int64_t start, took;
	int sv[2];
	pid_t pid;

	set_param("tls_handshake_timeout", "1s");
	t = server_ctx();
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = spawn_client(sv, &o);
	/* The stream's own timeouts are long: the handshake has its own. */
	s = stream_new(sv[0], T_IO_MS * 4, T_IO_MS * 4);
	start = now_ms();
	ck_assert_int_eq(tls_start(t, s, NULL, &c, &error), -1);
	took = now_ms() - start;
	ck_assert_ptr_null(c);
	ck_assert_ptr_nonnull(error);
	ck_assert_msg(strstr(error, f->error_part) != NULL, "error: %s",
	    error);
	ck_assert_msg(took >= f->min_ms && took < f->max_ms, "took %lld ms",
	    (long long) took);
	free(error);
	stream_free(&s);
	close(sv[0]);
	reap(pid, f->script == CLIENT_SILENT);
	tls_server_free(&t);
}
END_TEST

/* --- contexts from parameters ------------------------------------------- */

START_TEST(test_server_new_no_cert)
{
	char untouched[] = "untouched";
	char *error = untouched;

	set_param("tls_cert_file", "");
	ck_assert_ptr_null(tls_server_new(&error));
	ck_assert_ptr_null(error);
}
END_TEST

struct ctx_case {
	const char *name;
	const char *value;	/* "@other_key", "@missing": see below */
};

static const struct ctx_case ctx_bad_cases[] = {
	{ "tls_cert_file", "@missing" },
	{ "tls_key_file", "@missing" },
	{ "tls_key_file", "@other_key" },	/* does not match the cert */
	{ "tls_cert_file", "@key" },		/* a key is no certificate */
	{ "tls_min_protocol", "TLSv1.1" },
	{ "tls_min_protocol", "SSLv3" },
	{ "tls_ciphers", "NO-SUCH-CIPHER" },
};

START_TEST(test_server_new_bad)
{
	const struct ctx_case *k = &ctx_bad_cases[_i];
	char *missing = xasprintf("%s/missing.pem", pki_dir);
	const char *value = k->value;
	char *error = NULL;

	if (strcmp(value, "@missing") == 0)
		value = missing;
	else if (strcmp(value, "@other_key") == 0)
		value = other_key_file;
	else if (strcmp(value, "@key") == 0)
		value = key_file;
	set_param(k->name, value);
	ck_assert_ptr_null(tls_server_new(&error));
	ck_assert_msg(error != NULL && *error != '\0', "%s=%s accepted",
	    k->name, value);
	free(error);
	free(missing);
}
END_TEST

START_TEST(test_client_new)
{
	struct tls_server *t;
	struct tls_conn *none = NULL;
	char *error = NULL, *missing = xasprintf("%s/missing.pem", pki_dir);

	t = tls_client_new(NULL, 0, &error);
	ck_assert_ptr_nonnull(t);
	ck_assert_ptr_null(error);
	tls_server_free(&t);
	t = tls_client_new(cert_file, 1, &error);
	ck_assert_ptr_nonnull(t);
	tls_server_free(&t);
	ck_assert_ptr_null(tls_client_new(missing, 1, &error));
	ck_assert_ptr_nonnull(error);
	free(error);
	set_param("tls_min_protocol", "TLSv1.0");
	error = NULL;
	ck_assert_ptr_null(tls_client_new(NULL, 0, &error));
	ck_assert_ptr_nonnull(error);
	free(error);
	tls_server_free(&t);	/* NULL allowed */
	tls_conn_free(&none);
	free(missing);
}
END_TEST

/* --- the non-blocking handshake ------------------------------------------- */

/* Step until DONE or FAILED, waiting with poll() as an event loop would. */
static enum tls_handshake_status
step_to_end(struct tls_conn *c, int fd, int64_t deadline, char **error_r,
	int *waits_r)
{
	enum tls_handshake_status st;
	struct pollfd pfd;

	*waits_r = 0;
	while ((st = tls_handshake_step(c, error_r)) ==
	    TLS_HANDSHAKE_WANT_READ || st == TLS_HANDSHAKE_WANT_WRITE) {
		ck_assert_msg(now_ms() < deadline, "handshake too slow");
		pfd.fd = fd;
		pfd.events = st == TLS_HANDSHAKE_WANT_READ ? POLLIN : POLLOUT;
		pfd.revents = 0;
		ck_assert_int_ge(poll(&pfd, 1, (int) (deadline - now_ms())), 0);
		(*waits_r)++;
	}
	return st;
}

/* A silent peer: every step comes back at once asking to read. */
START_TEST(test_step_peer_silent)
{
	struct client_opts o = { CLIENT_SILENT, 0, NULL, NULL, 0 };
	struct tls_server *t = server_ctx();
	struct tls_conn *c;
	struct stream *s;
	char *error = NULL;
	int64_t start;
	int sv[2], i;
	pid_t pid;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = spawn_client(sv, &o);
	s = stream_new(sv[0], T_IO_MS, T_IO_MS);
	start = now_ms();
	c = tls_handshake_begin(t, s, NULL, &error);
	ck_assert_msg(c != NULL, "begin: %s", error);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(tls_handshake_step(c, &error),
		    TLS_HANDSHAKE_WANT_READ);
	ck_assert_int_lt(now_ms() - start, T_SHORT_MS);
	ck_assert_ptr_null(error);
	/* Given up before it finished: freed without a close_notify. */
	tls_conn_free(&c);
	ck_assert_ptr_null(c);
	stream_free(&s);
	close(sv[0]);
	reap(pid, 1);
	tls_server_free(&t);
}
END_TEST

/* A peer that completes: steps and the caller's waits get there. */
START_TEST(test_step_peer_completes)
{
	struct client_opts o = { CLIENT_ECHO, 0, NULL, "localhost", 0 };
	struct tls_server *t = server_ctx();
	struct buf *line = buf_new(1024);
	struct tls_conn *c;
	struct stream *s;
	char *error = NULL;
	int sv[2], waits;
	pid_t pid;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = spawn_client(sv, &o);
	s = stream_new(sv[0], T_IO_MS, T_IO_MS);
	ck_assert_int_eq(stream_read_line(s, line, 512), STREAM_OK);
	ck_assert_int_eq(stream_puts(s, "220 go ahead\r\n"), STREAM_OK);
	/* begin flushes the reply and drops the pipelined "INJECTED". */
	c = tls_handshake_begin(t, s, NULL, &error);
	ck_assert_msg(c != NULL, "begin: %s", error);
	ck_assert_msg(step_to_end(c, sv[0], now_ms() + T_IO_MS, &error,
	    &waits) == TLS_HANDSHAKE_DONE, "step: %s", error);
	/* (No count of waits: a fast peer can answer within one step.) */
	ck_assert_int_eq(tls_handshake_step(c, &error), TLS_HANDSHAKE_DONE);
	ck_assert_str_eq(tls_conn_version(c), "TLSv1.3");
	serve_echo(s, line);
	tls_conn_free(&c);
	stream_free(&s);
	close(sv[0]);
	reap(pid, 0);
	tls_server_free(&t);
	buf_free(&line);
}
END_TEST

/* A garbage ClientHello fails a step, not a wait. */
START_TEST(test_step_peer_garbage)
{
	struct client_opts o = { CLIENT_GARBAGE, 0, NULL, NULL, 0 };
	struct tls_server *t = server_ctx();
	struct tls_conn *c;
	struct stream *s;
	char *error = NULL;
	int sv[2], waits;
	pid_t pid;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = spawn_client(sv, &o);
	s = stream_new(sv[0], T_IO_MS, T_IO_MS);
	c = tls_handshake_begin(t, s, NULL, &error);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(step_to_end(c, sv[0], now_ms() + T_IO_MS, &error,
	    &waits), TLS_HANDSHAKE_FAILED);
	ck_assert_msg(error != NULL && strstr(error, "TLS handshake") != NULL,
	    "error: %s", error);
	free(error);
	tls_conn_free(&c);
	stream_free(&s);
	close(sv[0]);
	reap(pid, 0);
	tls_server_free(&t);
}
END_TEST

/* The waiter imapd installs: here it counts, then polls. */
static int waiter_calls;

static enum stream_status
counting_waiter(int fd, short events, int64_t deadline_ms)
{
	struct pollfd pfd = { fd, events, 0 };
	int64_t left = deadline_ms - now_ms();

	waiter_calls++;
	if (left <= 0)
		return STREAM_TIMEOUT;
	if (poll(&pfd, 1, (int) left) < 0)
		return STREAM_ERROR;
	return STREAM_OK;
}

/*
 * tls_start waits through the stream's waiter (the session loop of a
 * multi-session imapd), never in a poll() of its own.
 */
START_TEST(test_start_waits_through_waiter)
{
	struct client_opts o = { CLIENT_SILENT, 0, NULL, NULL, 0 };
	struct tls_server *t;
	struct tls_conn *c = NULL;
	struct stream *s;
	char *error = NULL;
	int sv[2];
	pid_t pid;

	set_param("tls_handshake_timeout", "1s");
	t = server_ctx();
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = spawn_client(sv, &o);
	s = stream_new(sv[0], T_IO_MS, T_IO_MS);
	waiter_calls = 0;
	stream_set_waiter(counting_waiter);
	ck_assert_int_eq(tls_start(t, s, NULL, &c, &error), -1);
	stream_set_waiter(NULL);
	ck_assert_int_ge(waiter_calls, 1);
	ck_assert_msg(strstr(error, "timeout") != NULL, "error: %s", error);
	free(error);
	stream_free(&s);
	close(sv[0]);
	reap(pid, 1);
	tls_server_free(&t);
}
END_TEST

static Suite *
tls_suite(void)
{
	Suite *s = suite_create("tls");
	TCase *tc;

	tc = tcase_create("session");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_bulk);
	tcase_add_test(tc, test_read_timeout_after_handshake);
	tcase_add_loop_test(tc, test_client_verify, 0,
	    sizeof(verify_cases) / sizeof(verify_cases[0]));
	suite_add_tcase(s, tc);

	tc = tcase_create("handshake failures");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_loop_test(tc, test_handshake_fails, 0,
	    sizeof(fail_cases) / sizeof(fail_cases[0]));
	suite_add_tcase(s, tc);

	tc = tcase_create("non-blocking handshake");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_step_peer_silent);
	tcase_add_test(tc, test_step_peer_completes);
	tcase_add_test(tc, test_step_peer_garbage);
	tcase_add_test(tc, test_start_waits_through_waiter);
	suite_add_tcase(s, tc);

	tc = tcase_create("contexts");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_server_new_no_cert);
	tcase_add_loop_test(tc, test_server_new_bad, 0,
	    sizeof(ctx_bad_cases) / sizeof(ctx_bad_cases[0]));
	tcase_add_test(tc, test_client_new);
	suite_add_tcase(s, tc);
	return s;
}

/* --- the test PKI ---------------------------------------------------------- */

/* Run a command with its output discarded; 0 when it exited 0. */
static int
run_quiet(char *const argv[])
{
	posix_spawn_file_actions_t fa;
	int wstatus, rc;
	pid_t pid;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0) {
		fprintf(stderr, "check_tls: cannot run %s: %s\n", argv[0],
		    strerror(rc));
		return -1;
	}
	if (waitpid(pid, &wstatus, 0) != pid || !WIFEXITED(wstatus) ||
	    WEXITSTATUS(wstatus) != 0) {
		fprintf(stderr, "check_tls: %s %s failed\n", argv[0], argv[1]);
		return -1;
	}
	return 0;
}

/* A self-signed certificate for name (P-256, one day). */
static int
make_cert(const char *name, const char *cert, const char *key)
{
	char *subj = xasprintf("/CN=%s", name);
	char *san = xasprintf("subjectAltName=DNS:%s", name);
	const char *const args[] = {
		"openssl", "req", "-x509", "-newkey", "ec",
		"-pkeyopt", "ec_paramgen_curve:prime256v1",
		"-nodes", "-days", "1", "-subj", subj, "-addext", san,
		"-keyout", key, "-out", cert,
	};
	char *argv[sizeof(args) / sizeof(args[0]) + 1];
	size_t i, n = sizeof(args) / sizeof(args[0]);
	int rc;

	/* posix_spawn wants char *const []: copies, not casts. */
	for (i = 0; i < n; i++)
		argv[i] = xstrdup(args[i]);
	argv[n] = NULL;
	rc = run_quiet(argv);
	for (i = 0; i < n; i++)
		free(argv[i]);
	free(subj);
	free(san);
	return rc;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	/* A peer that goes away must be an error, not a SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	if (mkdtemp(pki_dir) == NULL) {
		perror("mkdtemp");
		return EXIT_FAILURE;
	}
	cert_file = xasprintf("%s/cert.pem", pki_dir);
	key_file = xasprintf("%s/key.pem", pki_dir);
	other_cert_file = xasprintf("%s/other-cert.pem", pki_dir);
	other_key_file = xasprintf("%s/other-key.pem", pki_dir);
	failed = make_cert("localhost", cert_file, key_file) < 0 ||
	    make_cert("other.example", other_cert_file, other_key_file) < 0;
	if (!failed) {
		sr = srunner_create(tls_suite());
		srunner_run_all(sr, CK_NORMAL);
		failed = srunner_ntests_failed(sr);
		srunner_free(sr);
	}
	unlink(cert_file);
	unlink(key_file);
	unlink(other_cert_file);
	unlink(other_key_file);
	rmdir(pki_dir);
	free(cert_file);
	free(key_file);
	free(other_cert_file);
	free(other_key_file);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

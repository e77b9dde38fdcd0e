/*
 * proxy_session: one session's state machine (proxy_session.h): the
 * replies, reading lines before login, the relay with its backpressure,
 * the step the loop runs when a side is ready or a deadline passed.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "mail_params.h"
#include "metrics.h"
#include "proxy_auth.h"
#include "proxy_backend.h"
#include "proxy_conn.h"
#include "proxy_limits.h"
#include "haproxy.h"
#include "proxy_session.h"
#include "proxy_trust.h"
#include "proxyd.h"
#include "service.h"
#include "stream.h"
#include "tls.h"
#include "xalloc.h"

/*
 * The relay buffer of each direction: a side is not read while the
 * other side has this much queued (backpressure).  16 KiB holds a TLS
 * record's plaintext, so one read never has to be split.
 */
#define PROXY_RELAY_BUF		(16 * 1024)
/* Replies before login (a CAPABILITY, a BYE) are far smaller. */
#define PROXY_REPLY_BUF		(64 * 1024)
/* How long the last reply may take to go out before the close. */
#define PROXY_CLOSE_TIME_MS	(10 * 1000)

/* One chunk for every read: nothing per session. */
static char proxyd_chunk[PROXY_RELAY_BUF];

void
proxy_reply(struct proxy_session *ps, const char *fmt, ...)
{
	struct buf *line = buf_new(PROXY_REPLY_BUF);
	va_list ap;

	va_start(ap, fmt);
	(void) buf_vprintf(line, fmt, ap);
	va_end(ap);
	log_debug("> %s", buf_cstr(line));
	if (buf_append(line, "\r\n", 2) < 0 ||
	    proxy_conn_queue(&ps->client, buf_data(line), buf_len(line),
	    PROXY_REPLY_BUF + PROXY_RELAY_BUF) < 0) {
		/* Only a client that never reads gets here. */
		log_info("client %s: reply buffer full", ps->peer.client_addr);
		ps->client.eof = 1;
		proxy_close(ps);
	}
	buf_free(&line);
}

void
proxy_backend_send(struct proxy_session *ps, const char *fmt, ...)
{
	struct buf *line = buf_new(PROXY_REPLY_BUF);
	va_list ap;

	va_start(ap, fmt);
	(void) buf_vprintf(line, fmt, ap);
	va_end(ap);
	if (proxy_conn_queue(&ps->backend, buf_data(line), buf_len(line),
	    PROXY_REPLY_BUF) < 0)
		log_panic("proxyd: a login command past %d bytes",
		    PROXY_REPLY_BUF);
	buf_free(&line);
}

int
proxy_plaintext_ok(const struct proxy_session *ps)
{
	return ps->tls_active || var_auth_allow_plaintext;
}

void
proxy_start_tls(struct proxy_session *ps)
{
	/* RFC 2595, RFC 3501 6.2.1: nothing sent before counts after. */
	buf_free(&ps->client.in);
	ps->skip_line = 0;
	ps->state = PROXY_TLS;
	ps->deadline = stream_clock_ms() + var_tls_handshake_timeout * 1000;
}

void
proxy_close(struct proxy_session *ps)
{
	ps->state = PROXY_CLOSING;
	ps->deadline = stream_clock_ms() + PROXY_CLOSE_TIME_MS;
}

int
proxy_bad_command(struct proxy_session *ps)
{
	if (++ps->bad_commands < var_proxy_bad_command_limit)
		return 0;
	log_info("client %s: too many bad commands "
	    "reason=bad_command_limit limit=%lld", ps->peer.client_addr,
	    var_proxy_bad_command_limit);
	ps->front->bye(ps, "Too many invalid commands");
	proxy_close(ps);
	return 1;
}

void
proxy_auth_failed(struct proxy_session *ps, const char *reply,
	int close_after)
{
	if (ps->delayed_reply == NULL)
		ps->delayed_reply = buf_new(PROXY_REPLY_BUF);
	buf_reset(ps->delayed_reply);
	(void) buf_append_str(ps->delayed_reply, reply);
	ps->close_after_delay = close_after;
	ps->state = PROXY_DELAY;
	/* Grown with the failures in the window (proxy_limits.h). */
	ps->deadline = ps->delay_start + ps->fail_delay_ms;
}

void
proxy_conn_close_backend(struct proxy_session *ps)
{
	proxy_conn_close(&ps->backend);
	ps->backend_connecting = 0;
	proxy_forget_password(ps);
}

void
proxy_forget_password(struct proxy_session *ps)
{
	if (ps->password != NULL)
		explicit_bzero(ps->password, strlen(ps->password));
	free(ps->password);
	ps->password = NULL;
}

enum proxy_auth_status
proxy_auth_outcome(struct proxy_session *ps, int *last_r)
{
	*last_r = 0;
	switch (ps->auth_status) {
	case PROXY_AUTH_OK:
		log_info("proxy: login user=%s client=%s%s", ps->user,
		    ps->peer.client_addr, ps->tls_active ? " tls" : "");
		proxy_connect_next(ps);
		return PROXY_AUTH_OK;
	case PROXY_AUTH_TEMPFAIL:
		log_warn("proxy: login user=%s client=%s: %s", ps->login,
		    ps->peer.client_addr, ps->auth_reason);
		proxy_forget_password(ps);
		ps->state = PROXY_PRELOGIN;
		ps->deadline = ps->login_deadline;
		return PROXY_AUTH_TEMPFAIL;
	case PROXY_AUTH_FAIL:
	default:
		*last_r = ++ps->auth_failures >= var_auth_failure_limit;
		log_info("proxy: login failed user=%s client=%s: %s%s",
		    ps->login, ps->peer.client_addr, ps->auth_reason,
		    *last_r ? " reason=auth_failure_limit" : "");
		proxy_forget_password(ps);
		return PROXY_AUTH_FAIL;
	}
}

void
proxy_token_refused(struct proxy_session *ps, const char *reply)
{
	log_error("proxy: user=%s backend=%s refused the proxy login token "
	    "(%s): logging in with the password; add the token's digest to "
	    "proxy_login_token_digests there", ps->user, ps->backend_name,
	    reply);
	metrics_inc("ispmail_proxy_token_refused_total", NULL);
}

void
proxy_relay_start(struct proxy_session *ps)
{
	proxy_forget_password(ps);
	ps->state = PROXY_RELAY;
	ps->deadline = stream_clock_ms() + var_proxy_idle_timeout * 1000;
	ps->backend_at_line_start = 1;
	log_info("proxy: user=%s client=%s backend=%s relaying", ps->user,
	    ps->peer.client_addr, ps->backend_name);
}

/* --- reading lines before login -------------------------------------- */

enum { PROXY_SCAN_TAG, PROXY_SCAN_VERB, PROXY_SCAN_REST };

/*
 * Note a client's COMPRESS command (RFC 4978): after it the relayed
 * bytes may be deflated, so no "* BYE" of the backend's can be seen and
 * a plaintext BYE of proxyd's would corrupt the client's stream.  A
 * COMPRESS the backend refuses only costs that session the BYE.
 */
static void
proxy_watch_compress(struct proxy_session *ps, const char *data, size_t len)
{
	static const char verb[] = "COMPRESS ";
	size_t i;
	char ch;

	for (i = 0; i < len && !ps->compressed; i++) {
		ch = data[i];
		if (ch == '\n') {
			ps->client_scan = PROXY_SCAN_TAG;
			ps->client_scan_pos = 0;
			continue;
		}
		switch (ps->client_scan) {
		case PROXY_SCAN_TAG:
			if (ch == ' ') {
				ps->client_scan = PROXY_SCAN_VERB;
				ps->client_scan_pos = 0;
			}
			break;
		case PROXY_SCAN_VERB:
			if ((ch & ~0x20) == (verb[ps->client_scan_pos] & ~0x20)) {
				if (verb[++ps->client_scan_pos] == '\0')
					ps->compressed = 1;
			} else {
				ps->client_scan = PROXY_SCAN_REST;
			}
			break;
		default:
			break;
		}
	}
}

/*
 * Relaying started: what the backend sent behind its login answer, and
 * what the client pipelined behind its login, go on as they are.
 */
static void
proxy_relay_leftovers(struct proxy_session *ps)
{
	size_t len;

	len = proxy_conn_in_len(&ps->backend);
	if (len > 0)
		(void) proxy_conn_queue(&ps->client, buf_data(ps->backend.in),
		    len, PROXY_REPLY_BUF + PROXY_RELAY_BUF);
	buf_free(&ps->backend.in);
	len = proxy_conn_in_len(&ps->client);
	if (len > 0) {
		proxy_watch_compress(ps, buf_data(ps->client.in), len);
		(void) proxy_conn_queue(&ps->backend, buf_data(ps->client.in),
		    len, PROXY_REPLY_BUF + PROXY_RELAY_BUF);
	}
	buf_free(&ps->client.in);
}

/* Take the complete lines of side's input; call line for each. */
static void
proxy_take_lines(struct proxy_session *ps, struct proxy_conn *c,
	enum proxy_state state,
	void (*line)(struct proxy_session *, char *, size_t))
{
	char *data, *lf;
	size_t len, take, consumed = 0;

	while (ps->state == state && c->in != NULL &&
	    consumed < buf_len(c->in)) {
		data = buf_data(c->in) + consumed;
		len = buf_len(c->in) - consumed;
		if (c == &ps->client && ps->literal_left > 0) {
			take = len < ps->literal_left ? len :
			    ps->literal_left;
			if (buf_append(ps->cmd, data, take) < 0)
				log_panic("proxyd: literal past its cap");
			ps->literal_left -= take;
			consumed += take;
			continue;
		}
		lf = memchr(data, '\n', len);
		if (lf == NULL)
			break;
		consumed += (size_t) (lf - data) + 1;
		if (c == &ps->client && ps->skip_line) {
			ps->skip_line = 0;
			continue;
		}
		if (lf > data && lf[-1] == '\r')
			lf--;
		*lf = '\0';
		line(ps, data, (size_t) (lf - data));
	}
	/* The front may have freed the input (STARTTLS). */
	if (c->in != NULL) {
		if (consumed >= buf_len(c->in))
			buf_free(&c->in);
		else
			buf_consume(c->in, consumed);
	}
	if (ps->state == PROXY_RELAY)
		proxy_relay_leftovers(ps);
}

/* Read a side's input (before relay) and hand out its lines. */
static void
proxy_read_lines(struct proxy_session *ps, struct proxy_conn *c,
	enum proxy_state state,
	void (*line)(struct proxy_session *, char *, size_t))
{
	size_t cap = (size_t) var_proxy_line_limit + 2, room;
	ssize_t n;

	for (;;) {
		proxy_take_lines(ps, c, state, line);
		if (ps->state != state || c->eof)
			return;
		if (c->in == NULL)
			c->in = buf_new(cap);
		room = cap - buf_len(c->in);
		if (room == 0) {
			/* A line past the limit: drop it to its end. */
			buf_free(&c->in);
			if (c == &ps->backend) {
				proxy_backend_failed(ps, "backend line too "
				    "long");
				return;
			}
			if (ps->literal_left == 0 && !ps->skip_line) {
				ps->skip_line = 1;
				ps->front->client_too_long(ps);
				if (ps->state != state)
					return;
			}
			continue;
		}
		n = proxy_conn_read(c, proxyd_chunk, room < sizeof(proxyd_chunk)
		    ? room : sizeof(proxyd_chunk));
		if (n <= 0) {
			if (c->in != NULL && buf_len(c->in) == 0)
				buf_free(&c->in);
			return;
		}
		if (buf_append(c->in, proxyd_chunk, (size_t) n) < 0)
			log_panic("proxyd: line buffer overrun");
	}
}

/* --- relaying ----------------------------------------------------------- */

/*
 * Note whether the backend said "* BYE" itself at the start of a line,
 * so its death after a LOGOUT gets no second BYE.
 */
static void
proxy_watch_bye(struct proxy_session *ps, const char *data, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (ps->backend_at_line_start && len - i >= 5 &&
		    memcmp(data + i, "* BYE", 5) == 0)
			ps->backend_bye_seen = 1;
		ps->backend_at_line_start = data[i] == '\n';
	}
}

/* Move what from has to to's output, while to has room. */
static int
proxy_relay_one(struct proxy_session *ps, struct proxy_conn *from,
	struct proxy_conn *to)
{
	size_t queued, room;
	ssize_t n;
	int moved = 0;

	while (!from->eof) {
		queued = proxy_conn_out_len(to);
		if (queued >= PROXY_RELAY_BUF)
			break;
		room = PROXY_RELAY_BUF - queued;
		n = proxy_conn_read(from, proxyd_chunk, room);
		if (n <= 0)
			break;
		if (from == &ps->backend && !ps->compressed)
			proxy_watch_bye(ps, proxyd_chunk, (size_t) n);
		else if (from == &ps->client)
			proxy_watch_compress(ps, proxyd_chunk, (size_t) n);
		if (proxy_conn_queue(to, proxyd_chunk, (size_t) n,
		    PROXY_RELAY_BUF + PROXY_REPLY_BUF) < 0)
			log_panic("proxyd: relay buffer overrun");
		moved = 1;
		if (proxy_conn_flush(to) < 0) {
			to->eof = 1;
			break;
		}
	}
	return moved;
}

static void
proxy_relay(struct proxy_session *ps)
{
	int moved;

	moved = proxy_relay_one(ps, &ps->client, &ps->backend);
	moved |= proxy_relay_one(ps, &ps->backend, &ps->client);
	if (moved)
		ps->deadline = stream_clock_ms() + var_proxy_idle_timeout *
		    1000;
	if (ps->client.eof) {
		log_info("proxy: user=%s client=%s disconnected", ps->user,
		    ps->peer.client_addr);
		proxy_close(ps);
	} else if (ps->backend.eof) {
		log_info("proxy: user=%s client=%s backend=%s closed the "
		    "connection", ps->user, ps->peer.client_addr,
		    ps->backend_name);
		if (!ps->backend_bye_seen && !ps->compressed)
			ps->front->bye(ps, "Backend server closed the "
			    "connection");
		proxy_close(ps);
	}
}

/* --- one session's step -------------------------------------------------- */

static void
proxy_client_tls(struct proxy_session *ps)
{
	char *error = NULL;
	int rc;

	if (ps->client.tls == NULL) {
		/* The "begin TLS" reply goes out in plaintext first. */
		if (proxy_conn_out_len(&ps->client) > 0)
			return;
		if (proxy_conn_tls_begin(&ps->client, proxyd_tls, NULL,
		    &error) < 0)
			goto failed;
	}
	rc = proxy_conn_tls_step(&ps->client, &error);
	if (rc == 0)
		return;
	if (rc < 0)
		goto failed;
	ps->tls_active = 1;
	ps->state = PROXY_PRELOGIN;
	ps->deadline = ps->login_deadline;
	if (!ps->greeted) {
		ps->greeted = 1;
		ps->front->greet(ps);
	}
	return;
failed:
	log_info("client %s: %s", ps->peer.client_addr, error);
	free(error);
	ps->client.eof = 1;
	proxy_conn_close(&ps->client);
	proxy_close(ps);
}

/*
 * Bytes still to read of the PROXY header begun in in (len bytes), never
 * more: a v2 header says its length in its first 16 bytes, a v1 line is
 * read a byte at a time up to its LF; 0 when it is complete (or cannot
 * be: haproxy_parse says which).
 */
static size_t
proxy_header_need(const unsigned char *in, size_t len)
{
	static const unsigned char v2[12] = { 0x0D, 0x0A, 0x0D, 0x0A, 0x00,
	    0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A };
	size_t total;

	if (len < 16 && (len == 0 || memcmp(in, v2, len < 12 ? len : 12) == 0))
		return 16 - len;
	if (len >= 16 && memcmp(in, v2, 12) == 0) {
		total = 16 + ((size_t) in[14] << 8 | in[15]);
		return total > len && total <= HAPROXY_MAX_HEADER ?
		    total - len : 0;
	}
	/* v1 (or garbage, which the parser refuses soon enough). */
	if (len > 0 && in[len - 1] == '\n')
		return 0;
	return len < HAPROXY_V1_MAX ? 1 : 0;
}

/* A load balancer's PROXY header: read it exactly, believe it. */
static void
proxy_read_header(struct proxy_session *ps)
{
	struct haproxy_info info;
	unsigned char header[HAPROXY_MAX_HEADER];
	const char *error = NULL;
	size_t have = proxy_conn_in_len(&ps->client), need;
	ssize_t n;
	int rc;

	for (;;) {
		if (have > sizeof(header))
			log_panic("proxyd: PROXY header past its cap");
		if (have > 0)
			memcpy(header, buf_data(ps->client.in), have);
		need = proxy_header_need(header, have);
		if (need == 0)
			break;
		n = proxy_conn_read(&ps->client, header + have, need);
		if (n < 0)
			return;
		if (n == 0) {
			log_info("proxy: client %s closed before its PROXY "
			    "header", ps->peer.client_addr);
			proxy_close(ps);
			return;
		}
		if (ps->client.in == NULL)
			ps->client.in = buf_new(HAPROXY_MAX_HEADER);
		if (buf_append(ps->client.in, header + have, (size_t) n) < 0)
			log_panic("proxyd: PROXY header past its cap");
		have += (size_t) n;
	}
	rc = haproxy_parse(header, have, &info, &error);
	buf_free(&ps->client.in);
	if (rc <= 0) {
		log_warn("proxy: dropped connection from %s[%d] to service "
		    "%s: %s", ps->peer.client_addr, ps->peer.client_port,
		    ps->peer.service, rc < 0 ? error : "incomplete header");
		ps->client.eof = 1;
		proxy_close(ps);
		return;
	}
	proxy_trust_believe(&ps->peer, &info);
	haproxy_info_clear(&info);
	proxy_session_begin(ps);
}

/* Step ps as far as it goes now; timed_out: its deadline passed. */
void
proxy_step(struct proxy_session *ps, int timed_out)
{
	if (ps->state != PROXY_TLS || !ps->client.tls_handshaking) {
		if (proxy_conn_flush(&ps->client) < 0) {
			ps->client.eof = 1;
			buf_free(&ps->client.out);
			if (ps->state != PROXY_CLOSING)
				log_info("client %s: write failed",
				    ps->peer.client_addr);
			proxy_close(ps);
		}
	}
	if (ps->backend.fd >= 0 && ps->state != PROXY_CONNECT &&
	    !ps->backend.tls_handshaking && proxy_conn_flush(&ps->backend) < 0)
		ps->backend.eof = 1;
	if (timed_out) {
		switch (ps->state) {
		case PROXY_DELAY:
			proxy_reply(ps, "%s", buf_cstr(ps->delayed_reply));
			if (ps->close_after_delay) {
				proxy_close(ps);
			} else {
				ps->state = PROXY_PRELOGIN;
				ps->deadline = ps->login_deadline;
			}
			break;
		case PROXY_CONNECT:
		case PROXY_BACKEND_LOGIN:
			proxy_backend_failed(ps, "timeout");
			break;
		case PROXY_AUTH:
			proxy_auth_timeout(ps);
			break;
		case PROXY_CLOSING:
			ps->client.eof = 1;
			buf_free(&ps->client.out);
			break;
		case PROXY_RELAY:
			log_info("proxy: user=%s client=%s idle for %llds: "
			    "disconnecting", ps->user, ps->peer.client_addr,
			    var_proxy_idle_timeout);
			if (!ps->compressed)
				ps->front->bye(ps, "Idle timeout");
			proxy_close(ps);
			break;
		default:
			log_info("client %s: login timeout state=%d",
			    ps->peer.client_addr, ps->state);
			if (ps->state != PROXY_TLS &&
			    ps->state != PROXY_HEADER)
				ps->front->bye(ps, "Login timeout");
			proxy_close(ps);
			break;
		}
	}
	switch (ps->state) {
	case PROXY_HEADER:
		proxy_read_header(ps);
		break;
	case PROXY_TLS:
		proxy_client_tls(ps);
		break;
	case PROXY_PRELOGIN:
		proxy_read_lines(ps, &ps->client, PROXY_PRELOGIN,
		    ps->front->client_line);
		if (ps->state == PROXY_PRELOGIN && ps->client.eof) {
			log_info("client %s: disconnected before login",
			    ps->peer.client_addr);
			proxy_close(ps);
		}
		break;
	case PROXY_CONNECT:
		proxy_backend_progress(ps);
		break;
	case PROXY_BACKEND_LOGIN:
		proxy_read_lines(ps, &ps->backend, PROXY_BACKEND_LOGIN,
		    ps->front->backend_line);
		if (ps->state == PROXY_BACKEND_LOGIN && ps->backend.eof)
			proxy_backend_failed(ps, "connection closed during "
			    "login");
		break;
	case PROXY_RELAY:
		proxy_relay(ps);
		break;
	default:
		break;
	}
	/* The state may have changed: send what it queued. */
	if (ps->client.fd >= 0 && !ps->client.tls_handshaking &&
	    proxy_conn_flush(&ps->client) < 0) {
		ps->client.eof = 1;
		buf_free(&ps->client.out);
		proxy_close(ps);
	}
	if (ps->backend.fd >= 0 && ps->state == PROXY_RELAY &&
	    proxy_conn_flush(&ps->backend) < 0) {
		ps->backend.eof = 1;
		proxy_relay(ps);
	}
}

/* The client side's poll() events in ps's state. */
short
proxy_client_events(const struct proxy_session *ps)
{
	int want_read = 0;

	switch (ps->state) {
	case PROXY_HEADER:
		want_read = 1;
		break;
	case PROXY_TLS:
		/* Before the handshake begins: the reply to send, then the
		 * ClientHello to wait for. */
		return proxy_conn_events(&ps->client, 1);
	case PROXY_PRELOGIN:
		want_read = 1;
		break;
	case PROXY_RELAY:
		want_read = proxy_conn_out_len(&ps->backend) <
		    PROXY_RELAY_BUF;
		break;
	default:
		break;
	}
	return proxy_conn_events(&ps->client, want_read);
}

short
proxy_backend_events(const struct proxy_session *ps)
{
	switch (ps->state) {
	case PROXY_CONNECT:
		return proxy_backend_connect_events(ps);
	case PROXY_BACKEND_LOGIN:
		return proxy_conn_events(&ps->backend, 1);
	case PROXY_RELAY:
		return proxy_conn_events(&ps->backend,
		    proxy_conn_out_len(&ps->client) < PROXY_RELAY_BUF);
	default:
		return 0;
	}
}

int
proxy_session_pending(const struct proxy_session *ps)
{
	int client_reads = ps->state == PROXY_PRELOGIN ||
	    (ps->state == PROXY_RELAY &&
	    proxy_conn_out_len(&ps->backend) < PROXY_RELAY_BUF);
	int backend_reads = ps->state == PROXY_BACKEND_LOGIN ||
	    (ps->state == PROXY_RELAY &&
	    proxy_conn_out_len(&ps->client) < PROXY_RELAY_BUF);

	return (client_reads && proxy_conn_pending(&ps->client)) ||
	    (backend_reads && proxy_conn_pending(&ps->backend));
}

/* Session done: both its output is out (or hopeless) and it is closing. */
int
proxy_session_done(const struct proxy_session *ps)
{
	return ps->state == PROXY_CLOSING &&
	    (proxy_conn_out_len(&ps->client) == 0 || ps->client.eof ||
	    ps->client.fd < 0);
}

void
proxy_session_free(struct proxy_session *ps)
{
	proxy_auth_cancel(ps);
	proxy_limits_session_end(ps);
	proxy_conn_close(&ps->client);
	proxy_conn_close(&ps->backend);
	buf_free(&ps->cmd);
	buf_free(&ps->delayed_reply);
	free(ps->tag);
	free(ps->helo);
	free(ps->login);
	proxy_forget_password(ps);
	free(ps->auth_reason);
	free(ps->user);
	free(ps->hosts);
	free(ps->backend_name);
	free(ps);
}

/* imapd: the IMAP4rev1 server's main() and session loop. */
#include "config.h"

#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "anvil_client.h"
#include "buf.h"
#include "deflate.h"
#include "imap.h"
#include "imap_keywords.h"
#include "imap_lookup.h"
#include "imap_mailbox.h"
#include "imap_multi.h"
#include "log.h"
#include "mail_params.h"
#include "proxy_login.h"
#include "proxy_trust.h"
#include "route.h"
#include "service.h"
#include "stream.h"
#include "tls.h"
#include "xalloc.h"

static struct tls_server *imapd_tls;
static void imapd_pre_init(void *ctx);
static void imapd_post_init(void *ctx);
struct route *imapd_route;

void
imap_write(struct imap_session *sess, const void *data, size_t len)
{
	(void) stream_write(sess->s, data, len);
}

void
imap_printf(struct imap_session *sess, const char *fmt, ...)
{
	char small[256];
	struct buf *b;
	va_list ap;
	int n;

	/* Most responses are short: format them without an allocation. */
	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t) n < sizeof(small)) {
		imap_write(sess, small, (size_t) n);
		return;
	}
	b = buf_new(BUF_DEFAULT_CAP);
	va_start(ap, fmt);
	if (buf_vprintf(b, fmt, ap) < 0)
		log_panic("imap_printf: response over %d bytes",
		    BUF_DEFAULT_CAP);
	va_end(ap);
	imap_write(sess, buf_cstr(b), buf_len(b));
	buf_free(&b);
}

void
imap_tagged(struct imap_session *sess, const char *status,
	const char *fmt, ...)
{
	struct buf *b = buf_new(BUF_DEFAULT_CAP);
	va_list ap;

	va_start(ap, fmt);
	(void) buf_vprintf(b, fmt, ap);
	va_end(ap);
	buf_reset(sess->reply);
	(void) buf_printf(sess->reply, "%s %s %s\r\n", sess->tag, status,
	    buf_cstr(b));
	buf_free(&b);
	if (strcmp(status, "BAD") == 0)
		sess->bad_count++;
}

/* The tagged reply's usual cap (an echo of a command fits). */
static size_t
imapd_reply_cap(void)
{
	return (size_t) var_imap_command_size_limit + 4096;
}

void
imap_tagged_code(struct imap_session *sess, const char *status,
	const struct buf *code, const char *text)
{
	size_t need = xalloc_add(xalloc_add(strlen(sess->tag),
	    strlen(status)), xalloc_add(xalloc_add(buf_len(code),
	    strlen(text)), 8));

	/* Sized by the code, which its maker capped: never truncated. */
	if (need > buf_cap(sess->reply) && buf_set_cap(sess->reply, need) < 0)
		log_panic("imap_tagged_code: reply not empty");
	buf_reset(sess->reply);
	if (buf_printf(sess->reply, "%s %s %s%s\r\n", sess->tag, status,
	    buf_cstr(code), text) < 0)
		log_panic("imap_tagged_code: %zu bytes do not fit", need);
}

void
imap_reply_flush(struct imap_session *sess)
{
	imap_write(sess, buf_cstr(sess->reply), buf_len(sess->reply));
	/* A large COPYUID's storage is not kept for the session's life. */
	if (buf_cap(sess->reply) > imapd_reply_cap()) {
		buf_free(&sess->reply);
		sess->reply = buf_new(imapd_reply_cap());
	} else {
		buf_reset(sess->reply);
	}
}

void
imap_write_string(struct imap_session *sess, const char *text, size_t len)
{
	size_t i;
	int literal = len > 1024;

	for (i = 0; i < len && !literal; i++) {
		unsigned char c = (unsigned char) text[i];

		if (c == '\r' || c == '\n' || c == '\0' || c >= 0x80)
			literal = 1;
	}
	if (literal) {
		imap_printf(sess, "{%zu}\r\n", len);
		imap_write(sess, text, len);
		return;
	}
	imap_write(sess, "\"", 1);
	for (i = 0; i < len; i++) {
		if (text[i] == '"' || text[i] == '\\')
			imap_write(sess, "\\", 1);
		imap_write(sess, &text[i], 1);
	}
	imap_write(sess, "\"", 1);
}

void
imap_write_nstring(struct imap_session *sess, const char *text)
{
	if (text == NULL)
		imap_write(sess, "NIL", 3);
	else
		imap_write_string(sess, text, strlen(text));
}

void
imap_write_flags(struct imap_session *sess, unsigned int flags,
	uint32_t keywords)
{
	static const struct {
		unsigned int bit;
		const char *name;
	} names[] = {
		{ IMAP_FLAG_ANSWERED, "\\Answered" },
		{ IMAP_FLAG_FLAGGED, "\\Flagged" },
		{ IMAP_FLAG_DELETED, "\\Deleted" },
		{ IMAP_FLAG_SEEN, "\\Seen" },
		{ IMAP_FLAG_DRAFT, "\\Draft" },
		{ IMAP_FLAG_RECENT, "\\Recent" },
	};
	size_t i;
	int first = 1;

	imap_write(sess, "(", 1);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if ((flags & names[i].bit) == 0)
			continue;
		/* RFC 9051 removed \Recent. */
		if (names[i].bit == IMAP_FLAG_RECENT && sess->rev2)
			continue;
		if (!first)
			imap_write(sess, " ", 1);
		imap_write(sess, names[i].name, strlen(names[i].name));
		first = 0;
	}
	for (i = 0; i < IMAP_KEYWORD_MAX && sess->box != NULL; i++) {
		if (!(keywords & ((uint32_t) 1 << i)) ||
		    sess->box->kw.names[i] == NULL)
			continue;
		if (!first)
			imap_write(sess, " ", 1);
		imap_write(sess, sess->box->kw.names[i],
		    strlen(sess->box->kw.names[i]));
		first = 0;
	}
	imap_write(sess, ")", 1);
}

void
imap_write_flag_lists(struct imap_session *sess)
{
	static const char system[] =
	    "\\Answered \\Flagged \\Deleted \\Seen \\Draft";
	struct imap_mailbox *box = sess->box;
	size_t i;
	int pass;

	for (pass = 0; pass < 2; pass++) {
		if (pass == 0)
			imap_printf(sess, "* FLAGS (%s", system);
		else if (box->readonly) {
			imap_printf(sess, "* OK [PERMANENTFLAGS ()] Read-only "
			    "mailbox\r\n");
			break;
		} else
			imap_printf(sess, "* OK [PERMANENTFLAGS (%s", system);
		for (i = 0; i < IMAP_KEYWORD_MAX; i++) {
			if (box->kw.names[i] != NULL)
				imap_printf(sess, " %s", box->kw.names[i]);
		}
		/* \* only while a letter is free for a new keyword. */
		if (pass == 0)
			imap_printf(sess, ")\r\n");
		else if (imap_keywords_room(&box->kw))
			imap_printf(sess, " \\*)] Flags permitted\r\n");
		else
			imap_printf(sess, ")] Flags permitted\r\n");
	}
}

void
imap_write_modseq(struct imap_session *sess, const struct imap_msg *msg)
{
	if (sess->condstore)
		imap_printf(sess, " MODSEQ (%llu)",
		    (unsigned long long) msg->modseq);
}

void
imap_write_flags_fetch(struct imap_session *sess, size_t seq,
	const struct imap_msg *msg)
{
	imap_printf(sess, "* %zu FETCH (UID %u FLAGS ", seq,
	    (unsigned) msg->uid);
	imap_write_flags(sess, msg->flags, msg->keywords);
	imap_write_modseq(sess, msg);
	imap_printf(sess, ")\r\n");
}

void
imap_expunged_reply(struct imap_session *sess, size_t seq, uint32_t uid)
{
	if (sess->qresync)
		imap_printf(sess, "* VANISHED %u\r\n", (unsigned) uid);
	else
		imap_printf(sess, "* %zu EXPUNGE\r\n", seq);
}

void
imap_yield(size_t done)
{
	/* A pause of 0 returns through the session loop (imap_multi.h). */
	if (done % IMAP_YIELD_EVERY == IMAP_YIELD_EVERY - 1)
		stream_pause(0);
}

/* The tag of a command that could not be parsed, or "*". */
static char *
imapd_guess_tag(const struct buf *cmd)
{
	const char *p = buf_cstr(cmd);
	size_t n = 0;

	while (n < buf_len(cmd) && n < 64 && p[n] > 0x20 && p[n] < 0x7f &&
	    strchr("(){\"%*+\\", p[n]) == NULL)
		n++;
	if (n == 0 || (n < buf_len(cmd) && p[n] != ' '))
		return xstrdup("*");
	return xstrndup(p, n);
}

/* Throw away APPEND's message literal when the command failed early. */
void
imap_append_discard(struct imap_session *sess)
{
	struct buf *chunk;
	long long left = sess->append_size;
	size_t n;

	if (left < 0)
		return;
	sess->append_size = -1;
	if (sess->append_sync & IMAP_LITERAL_SYNC)
		return;		/* the client sends nothing without "+" */
	/*
	 * A LITERAL+ literal comes whatever we answer: read it and drop it
	 * (each chunk within the read deadline), so the session stays in
	 * step and the client gets its tagged NO.
	 */
	chunk = buf_new(65536);
	while (left > 0) {
		n = left > 65536 ? 65536 : (size_t) left;
		buf_reset(chunk);
		if (stream_read_exact(sess->s, chunk, n) != STREAM_OK) {
			sess->state = IMAP_STATE_LOGOUT;
			break;
		}
		left -= (long long) n;
	}
	buf_free(&chunk);
	/* The rest of the command line (normally empty). */
	if (sess->state != IMAP_STATE_LOGOUT &&
	    stream_read_line(sess->s, sess->line,
	    (size_t) var_imap_command_size_limit) != STREAM_OK)
		sess->state = IMAP_STATE_LOGOUT;
}

static void
imapd_command(struct imap_session *sess)
{
	struct imap_arg *args;
	size_t count;
	const char *error;
	char *tag;

	if (imap_parse_args(buf_cstr(sess->cmd), buf_len(sess->cmd),
	    (size_t) var_imap_argument_limit, &args, &count, &error) < 0 ||
	    count < 2 ||
	    args[0].type != IMAP_ARG_ATOM || args[1].type != IMAP_ARG_ATOM ||
	    strpbrk(args[0].str, "+*%\\]") != NULL) {
		tag = imapd_guess_tag(sess->cmd);
		sess->tag = tag;
		if (count < 2 && error == NULL)
			error = "Missing command";
		if (error == NULL || count >= 2)
			error = error != NULL ? error : "Bad tag";
		imap_tagged(sess, "BAD", "Error in IMAP command: %s", error);
		imap_reply_flush(sess);
		imap_append_discard(sess);
		sess->tag = NULL;
		free(tag);
		if (count >= 2 || args != NULL)
			imap_args_free(args, count);
		return;
	}
	sess->tag = args[0].str;
	imap_cmd_dispatch(sess, args, count);
	if (sess->box != NULL)
		imap_mailbox_release(sess->box);
	imap_reply_flush(sess);
	imap_append_discard(sess);
	sess->tag = NULL;
	imap_args_free(args, count);
}

static void
imapd_greet(struct imap_session *sess)
{
	imap_printf(sess, "* OK [CAPABILITY ");
	imap_write_capability(sess);
	imap_printf(sess, "] ispmail IMAP4rev1 ready\r\n");
}

static void
imapd_session_free(struct imap_session *sess)
{
	imap_mailbox_close(&sess->box);
	imap_searchres_clear(sess);
	deflate_conn_free(&sess->compress);
	tls_conn_free(&sess->tls);
	stream_free(&sess->s);
	buf_free(&sess->line);
	buf_free(&sess->cmd);
	buf_free(&sess->reply);
	free(sess->user);
	free(sess->root);
}

/* Before login the shorter of imap_login_timeout and imap_timeout. */
static long long
imapd_timeout(enum imap_state state)
{
	if (state == IMAP_STATE_NOT_AUTH &&
	    var_imap_login_timeout < var_imap_timeout)
		return var_imap_login_timeout;
	return var_imap_timeout;
}

static void
imapd_handle(int fd, const struct service_peer *peer, void *ctx)
{
	struct imap_session sess;
	struct anvil_admission adm;
	enum imap_read_result res;
	const char *reason;
	char *error = NULL, *tag;
	int timeout_ms = (int) imapd_timeout(IMAP_STATE_NOT_AUTH) * 1000;

	(void) ctx;
	memset(&sess, 0, sizeof(sess));
	sess.client = sess.conn = *peer;
	sess.peer = peer = &sess.client;
	sess.append_size = -1;
	sess.s = stream_new(fd, timeout_ms, timeout_ms);
	stream_set_stress_timeout(sess.s, (int) var_imap_stress_timeout * 1000);
	/* One of many sessions of a process: idle, it keeps no buffers. */
	stream_set_release_idle(sess.s, imap_multi_in_session());
	sess.line = buf_new((size_t) var_imap_command_size_limit + 1);
	sess.cmd = buf_new((size_t) var_imap_command_size_limit + 1);
	sess.reply = buf_new(imapd_reply_cap());
	/* Behind a proxy: the header names the client (proxy_trust.h). */
	if (var_proxy_protocol && proxy_trust_accept(sess.s, &sess.client,
	    timeout_ms) < 0) {
		imapd_session_free(&sess);
		return;
	}
	sess.proxy_trusted = proxy_trust_peer(&sess.client);
	log_info("connect from %s[%d]", peer->client_addr, peer->client_port);
	if (!anvil_client_admit(peer, var_imap_client_connection_count_limit,
	    var_imap_client_connection_rate_limit, &adm)) {
		/* Implicit TLS: no plaintext reply, just the close. */
		if (!var_tls_wrapper_mode)
			imap_printf(&sess, "* BYE [UNAVAILABLE] Too many "
			    "connections from %s\r\n", peer->client_addr);
		(void) stream_flush(sess.s);
		imapd_session_free(&sess);
		return;
	}
	if (var_tls_wrapper_mode) {
		if (imapd_tls == NULL || imapd_start_tls(&sess, &error) < 0) {
			log_info("TLS handshake with %s failed: %s",
			    peer->client_addr, error != NULL ? error :
			    "TLS not configured");
			free(error);
			imapd_session_free(&sess);
			anvil_client_release(&adm);
			return;
		}
	}
	imapd_greet(&sess);
	while (sess.state != IMAP_STATE_LOGOUT &&
	    stream_flush(sess.s) == STREAM_OK) {
		/* RFC 3501's 30 minutes are for logged-in clients. */
		timeout_ms = (int) imapd_timeout(sess.state) * 1000;
		/* Logged in: the mailbox state is looked at meanwhile. */
		if (imap_wait_command(&sess, timeout_ms, &timeout_ms) < 0)
			continue;
		stream_set_timeouts(sess.s, timeout_ms, timeout_ms);
		res = imap_read_command(sess.s, sess.line, sess.cmd,
		    (size_t) var_imap_command_size_limit,
		    (size_t) var_imap_argument_limit,
		    var_imap_message_size_limit, &sess.append_size,
		    &sess.append_sync);
		if (res == IMAP_READ_CLOSED) {
			if (stream_status(sess.s) == STREAM_TIMEOUT) {
				imap_printf(&sess, "* BYE Autologout; idle "
				    "for too long\r\n");
				reason = service_in_stress() ?
				    "stress_timeout" : sess.user == NULL ?
				    "login_timeout" : "idle_timeout";
				log_info("timeout from %s reason=%s",
				    peer->client_addr, reason);
				anvil_client_event(peer, reason);
			}
			break;
		}
		if (res == IMAP_READ_TOO_LONG) {
			imap_printf(&sess, "* BAD [TOOBIG] Command line too "
			    "long\r\n");
			sess.bad_count++;
		} else if (res == IMAP_READ_LITERAL_TOO_BIG ||
		    res == IMAP_READ_TOO_MANY_LITERALS) {
			/* Refused before the client sent it: still in step. */
			tag = imapd_guess_tag(sess.cmd);
			imap_printf(&sess, "%s BAD %s\r\n", tag,
			    res == IMAP_READ_LITERAL_TOO_BIG ?
			    "[TOOBIG] Literal too big" :
			    "[LIMIT] Too many literals");
			free(tag);
			sess.bad_count++;
		} else if (res == IMAP_READ_BAD_LITERAL ||
		    res == IMAP_READ_BAD_TOO_MANY_LITERALS) {
			/* A LITERAL+ literal comes anyway: we lost step. */
			imap_printf(&sess, "* BYE %s\r\n",
			    res == IMAP_READ_BAD_LITERAL ?
			    "[TOOBIG] Literal too big" :
			    "[LIMIT] Too many literals");
			log_info("%s: %s", peer->client_addr,
			    res == IMAP_READ_BAD_LITERAL ?
			    "literal too big" : "too many literals");
			break;
		} else {
			if (res != IMAP_READ_APPEND)
				sess.append_size = -1;
			imapd_command(&sess);
		}
		/* Before login, every command that does not log in is
		 * junk: a client cannot hold the session with NOOPs. */
		if (sess.state == IMAP_STATE_NOT_AUTH &&
		    ++sess.junk_count >= var_imap_junk_command_limit) {
			imap_printf(&sess, "* BYE Too many commands without "
			    "login\r\n");
			log_info("too many junk commands from %s "
			    "reason=junk_command_limit limit=%lld",
			    peer->client_addr, var_imap_junk_command_limit);
			anvil_client_event(peer, "junk_command_limit");
			break;
		}
		if (sess.bad_count >= var_imap_bad_command_limit &&
		    sess.state != IMAP_STATE_LOGOUT) {
			imap_printf(&sess, "* BYE Too many invalid IMAP "
			    "commands\r\n");
			log_info("too many bad commands from %s "
			    "reason=bad_command_limit limit=%lld",
			    peer->client_addr, var_imap_bad_command_limit);
			anvil_client_event(peer, "bad_command_limit");
			break;
		}
	}
	(void) stream_flush(sess.s);
	log_info("disconnect from %s user=%s", peer->client_addr,
	    sess.user != NULL ? sess.user : "-");
	imapd_session_free(&sess);
	anvil_client_release(&adm);
}

int
imapd_tls_available(void)
{
	return imapd_tls != NULL;
}

/*
 * The handshake is stepped without blocking and waits through the stream
 * waiter: with imap_client_limit above 1 the other sessions of the
 * process run meanwhile; tls_handshake_timeout is this session's own.
 */
int
imapd_start_tls(struct imap_session *sess, char **error_r)
{
	return tls_start(imapd_tls, sess->s, NULL, &sess->tls, error_r);
}

/* imap_client_limit above 1: many sessions per process (imap_multi.h). */
static void
imapd_run(int listen_fd, int status_fd, void *ctx)
{
	/*
	 * Allocations of 128 KiB and more (a large message's body) are
	 * mapped and unmapped, always: the C library's default raises that
	 * threshold after the first such free, and the heap then grew by
	 * a few KiB of fragments per session that ran a large FETCH and
	 * went idle (measured: 11 KiB against 6 a session).
	 */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	imap_lookup_start();
	imap_multi_run(listen_fd, status_fd, (size_t) var_imap_client_limit,
	    imapd_handle, ctx);
	imap_lookup_stop();
}

static struct service_def imapd_def = {
	.name = "imapd",
	.handle = imapd_handle,
	.pre_init = imapd_pre_init,
	.post_init = imapd_post_init,
	.follows_stress = 1,
};

static void
imapd_pre_init(void *ctx)
{
	char *error = NULL;

	(void) ctx;
	/* The parameters are read now: choose the process model. */
	if (var_imap_client_limit > 1) {
		imapd_def.run = imapd_run;
		imapd_def.run_reports_busy = 1;
	}
	imapd_tls = tls_server_new(&error);
	if (imapd_tls == NULL && error != NULL)
		log_fatal("TLS: %s", error);
	if (var_tls_wrapper_mode && imapd_tls == NULL)
		log_fatal("tls_wrapper_mode needs tls_cert_file");
	if (anvil_client_init(&error) < 0)
		log_fatal("client_limit_exceptions: %s", error);
	if (proxy_trust_init(&error) < 0)
		log_fatal("proxy_trusted_networks: %s", error);
	if (imap_admin_init(&error) < 0 ||
	    proxy_login_init(var_proxy_login_token_digests, &error) < 0)
		log_fatal("%s", error);
}

static void
imapd_post_init(void *ctx)
{
	char *error = NULL;

	(void) ctx;
	imapd_route = route_open(&error);
	if (imapd_route == NULL)
		log_fatal("routing directory: %s", error);
}

int
main(int argc, char **argv)
{
	service_main(argc, argv, &imapd_def, NULL, NULL);
}

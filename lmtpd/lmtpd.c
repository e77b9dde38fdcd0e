/*
 * lmtpd: the LMTP server of a store host (RFC 2033); main and the
 * session loop.  The protocol itself is the table in lmtpd_cmd.c.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "lmtpd.h"
#include "log.h"
#include "mail_params.h"
#include "netmatch.h"
#include "params.h"
#include "route.h"
#include "service.h"
#include "stream.h"
#include "xalloc.h"

void
lmtpd_reply(struct lmtpd_session *sess, const char *fmt, ...)
{
	va_list ap;

	buf_reset(sess->reply);
	va_start(ap, fmt);
	/* Replies are ours and short; a failed format is our bug. */
	if (buf_vprintf(sess->reply, fmt, ap) < 0)
		log_panic("reply too long: %s", fmt);
	va_end(ap);
	(void) stream_write(sess->s, buf_cstr(sess->reply),
	    buf_len(sess->reply));
	(void) stream_write(sess->s, "\r\n", 2);
}

void
lmtpd_transaction_reset(struct lmtpd_session *sess)
{
	size_t i;

	log_set_context(NULL);
	for (i = 0; i < sess->rcpt_count; i++)
		lmtpd_recipient_clear(&sess->rcpts[i]);
	sess->rcpt_count = 0;
	xfree(sess->sender);
	xfree(sess->queue_id);
	sess->declared_size = 0;
	if (sess->state > LMTPD_STATE_READY)
		sess->state = LMTPD_STATE_READY;
}

static void
lmtpd_session_free(struct lmtpd_session *sess)
{
	lmtpd_transaction_reset(sess);
	free(sess->rcpts);
	buf_free(&sess->line);
	buf_free(&sess->reply);
	stream_free(&sess->s);
}

/* How far lmtpd_line_waiting() looks for the end of the first line. */
#define LMTPD_PEEK_MAX 512

/*
 * Has the client sent a whole line already, before the greeting
 * (smtpd's direct delivery sends LHLO with its connection)?  Then the
 * greeting waits to leave with the LHLO reply: one segment and one
 * wakeup of the client instead of two.  A peek, not a read; a client
 * that waits for the greeting finds nothing here and gets it at once.
 */
static int
lmtpd_line_waiting(int fd)
{
	char peek[LMTPD_PEEK_MAX];
	ssize_t n;

	n = recv(fd, peek, sizeof(peek), MSG_PEEK | MSG_DONTWAIT);
	return n > 0 && memchr(peek, '\n', (size_t) n) != NULL;
}

/*
 * One connection: greet, then read commands until QUIT, EOF, a timeout
 * or too many bad commands.  Replies are flushed only when no further
 * pipelined command is waiting (RFC 2920).
 */
static void
lmtpd_handle(int fd, const struct service_peer *peer, void *ctx)
{
	struct lmtpd_session sess;
	enum stream_status rc;
	enum lmtpd_cmd_result result;
	long long bad = 0;
	int timeout_ms = (int) (var_lmtp_timeout * 1000);
	int hold_greeting;

	memset(&sess, 0, sizeof(sess));
	sess.server = ctx;
	sess.client = peer->client_addr;
	sess.s = stream_new(fd, timeout_ms, timeout_ms);
	sess.line = buf_new((size_t) var_lmtp_line_length_limit + 1);
	/* Replies carry at most an address and a short text. */
	sess.reply = buf_new(4096);
	/*
	 * LMTP has no authentication: whoever connects delivers anything to
	 * any mailbox.  A unix socket is guarded by its directory (private/,
	 * mail_owner only); a TCP client must be listed.
	 */
	if (strcmp(peer->client_addr, "unix") != 0
	    && !netmatch_match(sess.server->trusted, peer->client_addr)) {
		log_warn("reject: connect from %s: not in lmtp_trusted_networks",
		    peer->client_addr[0] != '\0' ? peer->client_addr : "?");
		lmtpd_reply(&sess, "421 4.7.0 %s Error: client not authorized",
		    sess.server->hostname);
		(void) stream_flush(sess.s);
		lmtpd_session_free(&sess);
		return;
	}
	lmtpd_reply(&sess, "220 %s LMTP ispmail ready", sess.server->hostname);
	hold_greeting = lmtpd_line_waiting(fd);
	for (;;) {
		if (!hold_greeting && stream_pending(sess.s) == 0 &&
		    stream_flush(sess.s) != STREAM_OK)
			break;
		hold_greeting = 0;
		rc = stream_read_line(sess.s, sess.line,
		    (size_t) var_lmtp_line_length_limit);
		if (rc == STREAM_TOO_LONG) {
			lmtpd_reply(&sess, "500 5.5.2 Error: line too long");
			result = LMTPD_CMD_BAD;
		} else if (rc == STREAM_TIMEOUT) {
			log_info("timeout after %s from %s",
			    sess.state == LMTPD_STATE_START ? "CONNECT" :
			    "command", sess.client);
			lmtpd_reply(&sess, "421 4.4.2 %s Error: timeout "
			    "exceeded", sess.server->hostname);
			break;
		} else if (rc != STREAM_OK) {
			if (rc != STREAM_EOF)
				log_info("lost connection from %s: %s",
				    sess.client, stream_error(sess.s));
			break;
		} else {
			result = lmtpd_command(&sess);
		}
		if (result == LMTPD_CMD_CLOSE)
			break;
		if (result == LMTPD_CMD_BAD &&
		    ++bad >= var_lmtp_bad_command_limit) {
			log_warn("too many errors from %s", sess.client);
			lmtpd_reply(&sess, "421 4.7.0 %s Error: too many errors",
			    sess.server->hostname);
			break;
		}
	}
	(void) stream_flush(sess.s);
	lmtpd_session_free(&sess);
}

static void
lmtpd_post_init(void *ctx)
{
	struct lmtpd_server *server = ctx;
	char *error = NULL;

	server->route = route_open(&error);
	if (server->route == NULL)
		log_fatal("routing directory: %s", error);
	server->local_hosts = params_list_split(var_local_mail_hosts,
	    &server->local_host_count);
	server->hostname = xstrdup(mail_hostname());
	if (smtp_bare_newline_parse(var_smtpd_forbid_bare_newline,
	    &server->bare_newline) < 0)
		log_fatal("smtpd_forbid_bare_newline: %s is neither normalize "
		    "nor reject", var_smtpd_forbid_bare_newline);
}

/* Before privileges drop: a bad lmtp_trusted_networks stops the service. */
static void
lmtpd_pre_init(void *ctx)
{
	struct lmtpd_server *server = ctx;
	char *error = NULL;

	server->trusted = netmatch_from_param("lmtp_trusted_networks",
	    var_lmtp_trusted_networks, &error);
	if (server->trusted == NULL)
		log_fatal("%s", error);
}

int
main(int argc, char **argv)
{
	static struct lmtpd_server server;
	const struct service_def def = {
		.name = "lmtpd",
		.handle = lmtpd_handle,
		.pre_init = lmtpd_pre_init,
		.post_init = lmtpd_post_init,
		.ctx = &server,
	};

	service_main(argc, argv, &def, NULL, NULL);
}

/*
 * smtpd: the SMTP receiver (RFC 5321), in mx mode (port 25: mail for our
 * domains) or submission mode (587/465: authenticated users, any
 * destination).  One process serves one connection at a time under the
 * master (service.h).  Mail is written to the queue durably before the
 * 250 reply (smtpd_queue.c).
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "anvil_client.h"
#include "buf.h"
#include "log.h"
#include "mail_params.h"
#include "metrics.h"
#include "params.h"
#include "proxy_trust.h"
#include "route.h"
#include "service.h"
#include "smtpd.h"
#include "smtpd_account.h"
#include "smtpd_filter.h"
#include "smtp_syntax.h"
#include "smtpd_reputation.h"
#include "smtpd_authres.h"
#include "smtpd_trust.h"
#include "stream.h"
#include "tls.h"
#include "xalloc.h"

struct smtpd_globals smtpd;

struct smtpd_command {
	const char *name;
	void (*handler)(struct smtpd_session *ss, const char *args);
	int allowed_in_bdat;		/* may come between BDAT chunks */
};

void
smtpd_reply(struct smtpd_session *ss, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void) stream_vreply(ss->s, fmt, ap);
	va_end(ap);
}

int
smtpd_error(struct smtpd_session *ss)
{
	if (++ss->errors < var_smtpd_error_limit)
		return 0;
	log_info("too many errors from %s reason=error_limit limit=%lld",
	    ss->peer->client_addr, var_smtpd_error_limit);
	anvil_client_event(ss->peer, "error_limit");
	smtpd_reply(ss, "421 4.7.0 %s Error: too many errors",
	    smtpd.hostname);
	ss->quit = 1;
	return 1;
}

/*
 * Count a command that makes no progress (Postfix's junk commands): a
 * client that sends NOOP every few minutes must not hold a process
 * forever.  Queued mail is progress: the count starts again after it, so
 * an MTA that sends RSET between many messages is not cut off.  1 when
 * the session ends.
 */
static int
smtpd_junk(struct smtpd_session *ss, const char *command)
{
	if (ss->junk_transactions != ss->transactions) {
		ss->junk_transactions = ss->transactions;
		ss->junk = 0;
	}
	if (++ss->junk < var_smtpd_junk_command_limit)
		return 0;
	log_info("too many junk commands from %s: last %s "
	    "reason=junk_command_limit limit=%lld", ss->peer->client_addr,
	    command, var_smtpd_junk_command_limit);
	anvil_client_event(ss->peer, "junk_command_limit");
	smtpd_reply(ss, "421 4.7.0 %s Error: too many commands without "
	    "progress", smtpd.hostname);
	ss->quit = 1;
	return 1;
}

struct route *
smtpd_route(void)
{
	char *error = NULL;

	if (smtpd.route == NULL) {
		smtpd.route = route_open(&error);
		if (smtpd.route == NULL) {
			/* Lookups then fail temporarily: 451, never 550. */
			log_warn("routing directory: %s", error);
			free(error);
		}
	}
	return smtpd.route;
}

int
smtpd_tls_active(const struct smtpd_session *ss)
{
	return ss->tls != NULL;
}

static void
smtpd_cmd_ehlo_common(struct smtpd_session *ss, const char *args, int esmtp)
{
	enum smtp_helo_syntax syntax;
	const char *reason;

	if (ss->helo != NULL && smtpd_junk(ss, esmtp ? "EHLO" : "HELO"))
		return;
	if (*args == '\0') {
		smtpd_reply(ss, "501 5.5.4 Syntax: %s hostname",
		    esmtp ? "EHLO" : "HELO");
		(void) smtpd_error(ss);
		return;
	}
	/*
	 * RFC 5321 4.1.1.1: a domain or an address literal.  The name goes
	 * into Received: and our logs, so even the lenient mode never takes
	 * a control character, space or non-ASCII byte.
	 */
	syntax = smtp_helo_check(args, &reason);
	if (syntax == SMTP_HELO_INVALID || (syntax == SMTP_HELO_LENIENT &&
	    var_smtpd_strict_helo_syntax)) {
		log_info("reject: %s from %s: %s", esmtp ? "EHLO" : "HELO",
		    ss->peer->client_addr, reason);
		smtpd_reply(ss, "501 5.5.2 Invalid hostname: %s", reason);
		(void) smtpd_error(ss);
		return;
	}
	if (syntax == SMTP_HELO_LENIENT)
		log_info("lenient %s syntax from %s: %s (%s)", esmtp ? "EHLO" :
		    "HELO", ss->peer->client_addr, args, reason);
	free(ss->helo);
	ss->helo = xstrdup(args);
	ss->esmtp = esmtp;
	/* EHLO/HELO resets the transaction (RFC 5321 4.1.4). */
	smtpd_transaction_reset(ss);
	if (!esmtp) {
		smtpd_reply(ss, "250 %s", smtpd.hostname);
		return;
	}
	smtpd_reply(ss, "250-%s", smtpd.hostname);
	smtpd_reply(ss, "250-PIPELINING");
	smtpd_reply(ss, "250-SIZE %lld", var_message_size_limit);
	if (smtpd.tls != NULL && ss->tls == NULL)
		smtpd_reply(ss, "250-STARTTLS");
	if (smtpd_auth_offered(ss))
		smtpd_reply(ss, "250-AUTH PLAIN LOGIN");
	if (ss->proxy_trusted)
		smtpd_reply(ss, "250-XCLIENT ADDR PORT NAME HELO PROTO LOGIN");
	smtpd_reply(ss, "250-ENHANCEDSTATUSCODES");
	smtpd_reply(ss, "250-8BITMIME");
	smtpd_reply(ss, "250-DSN");
	smtpd_reply(ss, "250-SMTPUTF8");
	smtpd_reply(ss, "250 CHUNKING");
}

static void
smtpd_cmd_ehlo(struct smtpd_session *ss, const char *args)
{
	smtpd_cmd_ehlo_common(ss, args, 1);
}

static void
smtpd_cmd_helo(struct smtpd_session *ss, const char *args)
{
	smtpd_cmd_ehlo_common(ss, args, 0);
}

static void
smtpd_cmd_starttls(struct smtpd_session *ss, const char *args)
{
	char *error = NULL;

	if (*args != '\0') {
		smtpd_reply(ss, "501 5.5.4 Syntax: STARTTLS");
		(void) smtpd_error(ss);
		return;
	}
	if (smtpd.tls == NULL || ss->tls != NULL) {
		smtpd_reply(ss, "454 4.7.0 TLS not available");
		return;
	}
	smtpd_reply(ss, "220 2.0.0 Ready to start TLS");
	if (stream_flush(ss->s) != STREAM_OK) {
		ss->quit = 1;
		return;
	}
	if (tls_start(smtpd.tls, ss->s, NULL, &ss->tls, &error) < 0) {
		log_info("STARTTLS from %s failed: %s",
		    ss->peer->client_addr, error);
		free(error);
		ss->quit = 1;
		return;
	}
	log_info("TLS from %s: %s with %s", ss->peer->client_addr,
	    tls_conn_version(ss->tls), tls_conn_cipher(ss->tls));
	/* RFC 3207 4.2: forget everything learned before TLS. */
	free(ss->helo);
	ss->helo = NULL;
	ss->esmtp = 0;
	free(ss->auth_user);
	ss->auth_user = NULL;
	route_mailbox_free(&ss->auth_mailbox);
	smtpd_transaction_reset(ss);
}

static void
smtpd_cmd_rset(struct smtpd_session *ss, const char *args)
{
	if (smtpd_junk(ss, "RSET"))
		return;
	if (*args != '\0') {
		smtpd_reply(ss, "501 5.5.4 Syntax: RSET");
		(void) smtpd_error(ss);
		return;
	}
	smtpd_transaction_reset(ss);
	smtpd_reply(ss, "250 2.0.0 Ok");
}

static void
smtpd_cmd_noop(struct smtpd_session *ss, const char *args)
{
	(void) args;
	if (smtpd_junk(ss, "NOOP"))
		return;
	smtpd_reply(ss, "250 2.0.0 Ok");
}

static void
smtpd_cmd_quit(struct smtpd_session *ss, const char *args)
{
	(void) args;
	smtpd_reply(ss, "221 2.0.0 Bye");
	ss->quit = 1;
}

static void
smtpd_cmd_vrfy(struct smtpd_session *ss, const char *args)
{
	if (smtpd_junk(ss, "VRFY"))
		return;
	if (*args == '\0') {
		smtpd_reply(ss, "501 5.5.4 Syntax: VRFY address");
		(void) smtpd_error(ss);
		return;
	}
	/* Never disclose who exists (RFC 5321 3.5.3). */
	smtpd_reply(ss, "252 2.5.2 Cannot VRFY user, but will accept "
	    "message and attempt delivery");
}

static void
smtpd_cmd_help(struct smtpd_session *ss, const char *args)
{
	(void) args;
	if (smtpd_junk(ss, "HELP"))
		return;
	smtpd_reply(ss, "214-2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT");
	smtpd_reply(ss, "214 2.0.0 RSET NOOP QUIT HELP VRFY STARTTLS AUTH%s",
	    ss->proxy_trusted ? " XCLIENT" : "");
}

static const struct smtpd_command smtpd_commands[] = {
	{ "EHLO", smtpd_cmd_ehlo, 0 },
	{ "HELO", smtpd_cmd_helo, 0 },
	{ "MAIL", smtpd_cmd_mail, 0 },
	{ "RCPT", smtpd_cmd_rcpt, 0 },
	{ "DATA", smtpd_cmd_data, 0 },
	{ "BDAT", smtpd_cmd_bdat, 1 },
	{ "RSET", smtpd_cmd_rset, 1 },
	{ "NOOP", smtpd_cmd_noop, 1 },
	{ "QUIT", smtpd_cmd_quit, 1 },
	{ "VRFY", smtpd_cmd_vrfy, 0 },
	{ "HELP", smtpd_cmd_help, 1 },
	{ "STARTTLS", smtpd_cmd_starttls, 0 },
	{ "AUTH", smtpd_cmd_auth, 0 },
	{ "XCLIENT", smtpd_cmd_xclient, 0 },
	{ NULL, NULL, 0 },
};

static void
smtpd_dispatch(struct smtpd_session *ss, struct buf *line)
{
	const struct smtpd_command *cmd;
	const char *text = buf_cstr(line);
	size_t len;

	/*
	 * No control character in a command (RFC 5321 2.3.8, 4.1.1): a bare
	 * CR or a NUL would reach replies, logs and headers we write.
	 */
	if (smtp_has_control(text, buf_len(line))) {
		smtpd_reply(ss, "500 5.5.2 Error: control character in "
		    "command");
		(void) smtpd_error(ss);
		return;
	}
	len = strcspn(text, " ");
	for (cmd = smtpd_commands; cmd->name != NULL; cmd++) {
		if (strlen(cmd->name) == len &&
		    strncasecmp(text, cmd->name, len) == 0)
			break;
	}
	if (cmd->name == NULL) {
		smtpd_reply(ss, "502 5.5.2 Error: command not recognized");
		(void) smtpd_error(ss);
		return;
	}
	/* Between BDAT chunks only BDAT (and RSET, NOOP, QUIT) may come. */
	if (ss->bdat != NULL && !cmd->allowed_in_bdat) {
		smtpd_reply(ss, "503 5.5.1 Error: %s during BDAT", cmd->name);
		(void) smtpd_error(ss);
		return;
	}
	text += len;
	while (*text == ' ')
		text++;
	if (strcmp(cmd->name, "AUTH") != 0)
		log_debug("< %s", buf_cstr(line));
	/* Reputation: a refused client reaches only the postmaster. */
	if (cmd->handler == smtpd_cmd_rcpt &&
	    smtpd_reputation_rcpt(ss, ss->reputation, text))
		return;
	cmd->handler(ss, text);
}

static void
smtpd_session_end(struct smtpd_session *ss)
{
	smtpd_transaction_reset(ss);
	(void) stream_flush(ss->s);
	tls_conn_free(&ss->tls);
	free(ss->helo);
	free(ss->client_name);
	free(ss->auth_user);
	free(ss->local_user);
	route_mailbox_free(&ss->auth_mailbox);
	free(ss->env.rcpts);
	smtpd_reputation_free(&ss->reputation);
}

static void
smtpd_handle(int fd, const struct service_peer *peer, void *ctx)
{
	struct smtpd_session ss;
	struct anvil_admission adm;
	enum stream_status st;
	struct buf *line;
	const char *reason;
	char *error = NULL;

	(void) ctx;
	memset(&ss, 0, sizeof(ss));
	ss.client = *peer;
	ss.peer = peer = &ss.client;
	ss.s = stream_new(fd, (int) (var_smtpd_timeout * 1000),
	    (int) (var_smtpd_timeout * 1000));
	stream_set_stress_timeout(ss.s, (int) (var_smtpd_stress_timeout * 1000));
	/* Behind a proxy: the header names the client (proxy_trust.h). */
	if (var_proxy_protocol && proxy_trust_accept(ss.s, &ss.client,
	    (int) (var_smtpd_timeout * 1000)) < 0) {
		stream_free(&ss.s);
		return;
	}
	ss.proxy_trusted = proxy_trust_peer(&ss.client);
	log_info("connect from %s[%d]", peer->client_addr, peer->client_port);
	metrics_inc("ispmail_smtpd_sessions_total", "service", peer->service,
	    NULL);
	if (!anvil_client_admit(peer, var_smtpd_client_connection_count_limit,
	    var_smtpd_client_connection_rate_limit, &adm)) {
		/* Implicit TLS: no plaintext reply, just the close. */
		if (!var_tls_wrapper_mode)
			smtpd_reply(&ss, "421 4.7.0 %s Error: too many "
			    "connections from %s", smtpd.hostname,
			    peer->client_addr);
		(void) stream_flush(ss.s);
		stream_free(&ss.s);
		return;
	}
	if (var_tls_wrapper_mode) {
		if (smtpd.tls == NULL ||
		    tls_start(smtpd.tls, ss.s, NULL, &ss.tls, &error) < 0) {
			log_info("TLS handshake with %s failed: %s",
			    peer->client_addr, error != NULL ? error :
			    "TLS not configured");
			free(error);
			stream_free(&ss.s);
			anvil_client_release(&adm);
			return;
		}
	}
	if (smtpd_local_start(&ss, fd) < 0) {
		(void) stream_flush(ss.s);
		smtpd_session_end(&ss);
		stream_free(&ss.s);
		anvil_client_release(&adm);
		return;
	}
	line = buf_new((size_t) var_smtpd_line_limit + 1);
	/* Reputation: block lists, FCrDNS, pregreet (smtpd_reputation.c). */
	ss.reputation = smtpd_reputation_check(&ss);
	smtpd_reply(&ss, "220 %s %s", smtpd.hostname, var_smtpd_banner);
	while (!ss.quit) {
		/* Answer a pipelined group in one write (RFC 2920). */
		if (stream_pending(ss.s) == 0 &&
		    stream_flush(ss.s) != STREAM_OK)
			break;
		st = stream_read_line(ss.s, line, (size_t) var_smtpd_line_limit);
		if (st == STREAM_TOO_LONG) {
			smtpd_reply(&ss, "500 5.5.2 Error: line too long");
			(void) smtpd_error(&ss);
			continue;
		}
		if (st == STREAM_TIMEOUT) {
			reason = service_in_stress() ? "stress_timeout" :
			    "timeout";
			log_info("timeout after %s from %s reason=%s",
			    ss.have_mail ? "MAIL" : "command",
			    peer->client_addr, reason);
			anvil_client_event(peer, reason);
			smtpd_reply(&ss, "421 4.4.2 %s Error: timeout exceeded",
			    smtpd.hostname);
			break;
		}
		if (st != STREAM_OK) {
			if (ss.have_mail || ss.bdat != NULL)
				log_info("lost connection in a transaction "
				    "from %s", peer->client_addr);
			break;
		}
		smtpd_dispatch(&ss, line);
	}
	buf_free(&line);
	smtpd_session_end(&ss);
	stream_free(&ss.s);
	anvil_client_release(&adm);
	log_info("disconnect from %s[%d]", peer->client_addr,
	    peer->client_port);
}

static void
smtpd_pre_init(void *ctx)
{
	char *error = NULL;

	(void) ctx;
	if (strcmp(var_smtpd_mode, "mx") == 0)
		smtpd.mode = SMTPD_MODE_MX;
	else if (strcmp(var_smtpd_mode, "submission") == 0)
		smtpd.mode = SMTPD_MODE_SUBMISSION;
	else
		log_fatal("smtpd_mode: %s is neither mx nor submission",
		    var_smtpd_mode);
	smtpd.hostname = xstrdup(mail_hostname());
	if (smtp_bare_newline_parse(var_smtpd_forbid_bare_newline,
	    &smtpd.bare_newline) < 0)
		log_fatal("smtpd_forbid_bare_newline: %s is neither normalize "
		    "nor reject", var_smtpd_forbid_bare_newline);
	if (smtpd_filter_check(&error) < 0 || smtpd_account_check(&error) < 0)
		log_fatal("%s", error);
	/* The key may be readable by root only: load it before the drop. */
	smtpd.tls = tls_server_new(&error);
	if (smtpd.tls == NULL && error != NULL)
		log_fatal("TLS: %s", error);
	if (var_tls_wrapper_mode && smtpd.tls == NULL)
		log_fatal("tls_wrapper_mode needs tls_cert_file");
	/* Reputation: parse dnsbl_sites, open the resolver before a chroot. */
	smtpd_reputation_init();
	smtpd_trust_init();
	smtpd_authres_init();
	if (anvil_client_init(&error) < 0)
		log_fatal("client_limit_exceptions: %s", error);
	if (proxy_trust_init(&error) < 0)
		log_fatal("proxy_trusted_networks: %s", error);
}

static void
smtpd_post_init(void *ctx)
{
	(void) ctx;
	/* Open the directory now so the first client does not wait. */
	(void) smtpd_route();
}

int
main(int argc, char **argv)
{
	static const struct service_def def = {
		.name = "smtpd",
		.handle = smtpd_handle,
		.pre_init = smtpd_pre_init,
		.post_init = smtpd_post_init,
		.follows_stress = 1,
	};

	service_main(argc, argv, &def, NULL, NULL);
}

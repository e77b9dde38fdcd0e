/*
 * proxy_submission: proxyd's submission front (RFC 6409 before AUTH:
 * EHLO/HELO, STARTTLS of RFC 3207, AUTH PLAIN and LOGIN with an initial
 * response of RFC 4954, NOOP, RSET, QUIT) and its login at an outbound
 * smtpd of proxy_submission_hosts: the greeting, EHLO, then XCLIENT
 * ADDR, PORT, HELO, PROTO and LOGIN (Postfix's XCLIENT_README; smtpd
 * believes it only from proxy_trusted_networks), which restarts the
 * session with a 220 and makes it authenticated as the login; the
 * client's EHLO is replayed and, once the smtpd answers it, the client
 * gets its 235 and the bytes are relayed.  So the smtpd's sender checks,
 * Received: line and per-login submission limits
 * (smtpd_login_message_rate_limit) see the client and its login.  XCLIENT
 * is used with either proxy_backend_protocol.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "log.h"
#include "mail_params.h"
#include "proxy_sasl.h"
#include "proxyd.h"
#include "xalloc.h"
#include "xtext.h"

/* The longest EHLO name kept (RFC 5321 4.5.3.1.2: a domain). */
#define SUB_HELO_MAX	255
/* An XCLIENT command with its xtext values. */
#define SUB_XCLIENT_MAX	4096

enum sub_step {
	SUB_STEP_GREETING = 1,
	SUB_STEP_EHLO,
	SUB_STEP_XCLIENT,
	SUB_STEP_REPLAY,
};

static void
sub_greet(struct proxy_session *ps)
{
	proxy_reply(ps, "220 %s ESMTP ispmail", mail_hostname());
}

static void
sub_bye(struct proxy_session *ps, const char *why)
{
	if (ps->state != PROXY_RELAY)
		proxy_reply(ps, "421 4.4.2 %s %s", mail_hostname(), why);
}

static void
sub_bad(struct proxy_session *ps, const char *text)
{
	proxy_reply(ps, "%s", text);
	(void) proxy_bad_command(ps);
}

static void
sub_too_long(struct proxy_session *ps)
{
	ps->sasl_step = 0;
	sub_bad(ps, "500 5.5.2 Error: line too long");
}

static void
sub_ehlo(struct proxy_session *ps, const char *verb, const char *name)
{
	if (*name == '\0' || strlen(name) > SUB_HELO_MAX ||
	    strpbrk(name, " \t") != NULL) {
		sub_bad(ps, "501 5.5.4 Syntax: EHLO hostname");
		return;
	}
	free(ps->helo);
	ps->helo = xstrdup(name);
	if (strcasecmp(verb, "HELO") == 0) {
		proxy_reply(ps, "250 %s", mail_hostname());
		return;
	}
	proxy_reply(ps, "250-%s", mail_hostname());
	proxy_reply(ps, "250-PIPELINING");
	proxy_reply(ps, "250-8BITMIME");
	proxy_reply(ps, "250-ENHANCEDSTATUSCODES");
	if (proxyd_tls != NULL && !ps->tls_active)
		proxy_reply(ps, "250-STARTTLS");
	if (proxy_plaintext_ok(ps))
		proxy_reply(ps, "250-AUTH PLAIN LOGIN");
	proxy_reply(ps, "250 SMTPUTF8");
}

static void
sub_auth_done(struct proxy_session *ps)
{
	int last;

	switch (proxy_auth_outcome(ps, &last)) {
	case PROXY_AUTH_OK:
		break;
	case PROXY_AUTH_TEMPFAIL:
		proxy_reply(ps, "454 4.7.0 Temporary authentication failure");
		break;
	case PROXY_AUTH_FAIL:
	default:
		proxy_auth_failed(ps, last ? "535 5.7.8 Error: authentication "
		    "failed\r\n421 4.7.0 Error: too many authentication "
		    "failures" : "535 5.7.8 Error: authentication failed",
		    last);
		break;
	}
}

static void
sub_sasl(struct proxy_session *ps, enum proxy_sasl_result result,
	const char *challenge, const char *error)
{
	switch (result) {
	case PROXY_SASL_DONE:
		break;
	case PROXY_SASL_CONTINUE:
		proxy_reply(ps, "334 %s", challenge);
		break;
	case PROXY_SASL_CANCELLED:
		sub_bad(ps, "501 5.7.0 Authentication aborted");
		break;
	case PROXY_SASL_ERROR:
	default:
		proxy_reply(ps, "501 5.5.2 %s", error);
		(void) proxy_bad_command(ps);
		break;
	}
}

static void
sub_auth(struct proxy_session *ps, char *args)
{
	const char *challenge = NULL, *error = NULL;
	enum proxy_sasl_result result;

	if (ps->helo == NULL) {
		sub_bad(ps, "503 5.5.1 Error: send EHLO first");
		return;
	}
	if (!proxy_plaintext_ok(ps)) {
		proxy_reply(ps, "538 5.7.11 Encryption required for requested "
		    "authentication mechanism");
		return;
	}
	result = proxy_sasl_auth_args(ps, args, &challenge, &error);
	sub_sasl(ps, result, challenge, error);
}

static void
sub_client_line(struct proxy_session *ps, char *line, size_t len)
{
	const char *challenge = NULL, *error = NULL;
	enum proxy_sasl_result result;
	char *args;

	if (ps->sasl_step != 0) {
		result = proxy_sasl_response(ps, line, len, &challenge, &error);
		sub_sasl(ps, result, challenge, error);
		return;
	}
	if (memchr(line, '\0', len) != NULL) {
		sub_bad(ps, "500 5.5.2 Error: bad syntax");
		return;
	}
	args = strchr(line, ' ');
	if (args != NULL)
		*args++ = '\0';
	else
		args = line + len;
	if (strcasecmp(line, "EHLO") == 0 || strcasecmp(line, "HELO") == 0) {
		sub_ehlo(ps, line, args);
	} else if (strcasecmp(line, "STARTTLS") == 0) {
		if (proxyd_tls == NULL || ps->tls_active) {
			sub_bad(ps, "502 5.5.1 Error: command not implemented");
		} else {
			proxy_reply(ps, "220 2.0.0 Ready to start TLS");
			/* RFC 3207 4.2: the client says EHLO again. */
			free(ps->helo);
			ps->helo = NULL;
			proxy_start_tls(ps);
		}
	} else if (strcasecmp(line, "AUTH") == 0) {
		sub_auth(ps, args);
	} else if (strcasecmp(line, "NOOP") == 0 ||
	    strcasecmp(line, "RSET") == 0) {
		proxy_reply(ps, "250 2.0.0 Ok");
	} else if (strcasecmp(line, "QUIT") == 0) {
		proxy_reply(ps, "221 2.0.0 Bye");
		proxy_close(ps);
	} else if (strcasecmp(line, "MAIL") == 0 ||
	    strcasecmp(line, "RCPT") == 0 || strcasecmp(line, "DATA") == 0) {
		sub_bad(ps, "530 5.7.0 Authentication required");
	} else {
		sub_bad(ps, "502 5.5.2 Error: command not recognized");
	}
}

/* --- the login at the outbound smtpd ------------------------------------ */

static void
sub_backend_start(struct proxy_session *ps)
{
	ps->front_step = SUB_STEP_GREETING;
}

/* XCLIENT with the client, its EHLO name and the login (xtext). */
static void
sub_send_xclient(struct proxy_session *ps)
{
	struct buf *cmd = buf_new(SUB_XCLIENT_MAX);

	(void) buf_printf(cmd, "XCLIENT ADDR=%s%s PORT=%d PROTO=ESMTP HELO=",
	    strchr(ps->peer.client_addr, ':') != NULL ? "IPV6:" : "",
	    ps->peer.client_addr, ps->peer.client_port);
	if (xtext_encode(cmd, ps->helo != NULL ? ps->helo : "unknown") < 0 ||
	    buf_append_str(cmd, " LOGIN=") < 0 ||
	    xtext_encode(cmd, ps->user) < 0) {
		buf_free(&cmd);
		proxy_backend_failed(ps, "XCLIENT too long");
		return;
	}
	proxy_backend_send(ps, "%s\r\n", buf_cstr(cmd));
	buf_free(&cmd);
}

static void
sub_backend_line(struct proxy_session *ps, char *line, size_t len)
{
	log_debug("backend %s: %s", ps->backend_name, line);
	/* Only a reply's last line ("250 ...", not "250-...") moves on. */
	if (len >= 4 && line[3] == '-')
		return;
	switch (ps->front_step) {
	case SUB_STEP_GREETING:
		if (strncmp(line, "220", 3) != 0) {
			proxy_backend_failed(ps, "no 220 greeting");
			return;
		}
		proxy_backend_send(ps, "EHLO %s\r\n", mail_hostname());
		ps->front_step = SUB_STEP_EHLO;
		return;
	case SUB_STEP_EHLO:
		if (strncmp(line, "250", 3) != 0) {
			proxy_backend_failed(ps, "EHLO refused");
			return;
		}
		sub_send_xclient(ps);
		ps->front_step = SUB_STEP_XCLIENT;
		return;
	case SUB_STEP_XCLIENT:
		if (strncmp(line, "220", 3) != 0) {
			/* Not trusted there: a configuration error. */
			log_error("proxy: user=%s backend=%s refused XCLIENT "
			    "(is this host in its proxy_trusted_networks?): %s",
			    ps->user, ps->backend_name, line);
			proxy_backend_failed(ps, "XCLIENT refused");
			return;
		}
		proxy_backend_send(ps, "EHLO %s\r\n", ps->helo != NULL ?
		    ps->helo : "unknown");
		ps->front_step = SUB_STEP_REPLAY;
		return;
	case SUB_STEP_REPLAY:
	default:
		if (strncmp(line, "250", 3) != 0) {
			proxy_backend_failed(ps, "replayed EHLO refused");
			return;
		}
		proxy_reply(ps, "235 2.7.0 Authentication successful");
		proxy_relay_start(ps);
		return;
	}
}

static void
sub_unavailable(struct proxy_session *ps)
{
	proxy_reply(ps, "454 4.7.0 Mail submission temporarily unavailable, "
	    "try again later");
}

const struct proxy_front proxy_front_submission = {
	.name = "submission",
	.auth_service = "submission",
	.backend_port = &var_proxy_backend_port_submission,
	.backend_hosts = &var_proxy_submission_hosts,
	.greet = sub_greet,
	.client_line = sub_client_line,
	.client_too_long = sub_too_long,
	.auth_done = sub_auth_done,
	.backend_start = sub_backend_start,
	.backend_line = sub_backend_line,
	.unavailable = sub_unavailable,
	.bye = sub_bye,
};

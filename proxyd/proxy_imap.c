/*
 * proxy_imap: proxyd's IMAP front (RFC 3501 before login: CAPABILITY,
 * NOOP, LOGOUT, ID of RFC 2971, STARTTLS, LOGIN, AUTHENTICATE PLAIN and
 * LOGIN with SASL-IR of RFC 4959) and its login at the backend: the
 * greeting, ID with x-originating-ip/port (Dovecot's convention, so the
 * store logs and throttles by the client's address), then AUTHENTICATE
 * PLAIN with the client's credentials.  The backend's tagged OK goes to
 * the client under the client's tag, so the CAPABILITY in it is the
 * backend's.  Synchronising literals of up to proxy_line_limit bytes in
 * all are taken before login (imaplib sends passwords with specials as
 * literals).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "imap_parse.h"
#include "log.h"
#include "mail_params.h"
#include "proxy_backend.h"
#include "proxy_sasl.h"
#include "proxyd.h"
#include "sasl.h"
#include "xalloc.h"

/* Arguments of a command before login: LOGIN has three after the tag. */
#define IMAP_PROXY_MAX_ARGS	8

/* The login at the backend. */
enum imap_proxy_step {
	IMAP_STEP_GREETING = 1,
	IMAP_STEP_ID,
	IMAP_STEP_LOGIN,
};

static void
imap_proxy_capability(struct proxy_session *ps)
{
	proxy_reply(ps, "* CAPABILITY IMAP4rev1 SASL-IR ID%s%s",
	    !ps->tls_active && proxyd_tls != NULL ? " STARTTLS" : "",
	    proxy_plaintext_ok(ps) ? " AUTH=PLAIN AUTH=LOGIN" :
	    " LOGINDISABLED");
}

static void
imap_proxy_greet(struct proxy_session *ps)
{
	proxy_reply(ps, "* OK [CAPABILITY IMAP4rev1 SASL-IR ID%s%s] ispmail "
	    "proxy ready", !ps->tls_active && proxyd_tls != NULL ?
	    " STARTTLS" : "", proxy_plaintext_ok(ps) ?
	    " AUTH=PLAIN AUTH=LOGIN" : " LOGINDISABLED");
}

static void
imap_proxy_bye(struct proxy_session *ps, const char *why)
{
	proxy_reply(ps, "* BYE %s", why);
}

static void
imap_proxy_tagged(struct proxy_session *ps, const char *status,
	const char *text)
{
	proxy_reply(ps, "%s %s %s", ps->tag != NULL ? ps->tag : "*", status,
	    text);
}

static void
imap_proxy_bad(struct proxy_session *ps, const char *text)
{
	imap_proxy_tagged(ps, "BAD", text);
	(void) proxy_bad_command(ps);
}

static void
imap_proxy_too_long(struct proxy_session *ps)
{
	buf_free(&ps->cmd);
	ps->literal_left = 0;
	ps->sasl_step = 0;
	proxy_reply(ps, "* BAD [TOOBIG] Command line too long");
	(void) proxy_bad_command(ps);
}

static void
imap_proxy_auth_done(struct proxy_session *ps)
{
	char *reply;
	int last;

	switch (proxy_auth_outcome(ps, &last)) {
	case PROXY_AUTH_OK:
		break;
	case PROXY_AUTH_TEMPFAIL:
		imap_proxy_tagged(ps, "NO", "[UNAVAILABLE] Temporary "
		    "authentication failure");
		break;
	case PROXY_AUTH_FAIL:
	default:
		reply = xasprintf("%s NO [AUTHENTICATIONFAILED] "
		    "Authentication failed%s", ps->tag, last ?
		    "\r\n* BYE Too many authentication failures" : "");
		proxy_auth_failed(ps, reply, last);
		free(reply);
		break;
	}
}

/* What proxy_sasl made of the client's AUTHENTICATE step. */
static void
imap_proxy_sasl(struct proxy_session *ps, enum proxy_sasl_result result,
	const char *challenge, const char *error)
{
	switch (result) {
	case PROXY_SASL_DONE:
		break;
	case PROXY_SASL_CONTINUE:
		proxy_reply(ps, "+ %s", challenge);
		break;
	case PROXY_SASL_CANCELLED:
		imap_proxy_bad(ps, "AUTHENTICATE cancelled");
		break;
	case PROXY_SASL_ERROR:
	default:
		imap_proxy_tagged(ps, "NO", error);
		(void) proxy_bad_command(ps);
		break;
	}
}

static void
imap_proxy_authenticate(struct proxy_session *ps, struct imap_arg *args,
	size_t count)
{
	const char *challenge = NULL, *error = NULL, *ir;
	enum proxy_sasl_result result;

	if (count < 3 || args[2].type == IMAP_ARG_LIST || count > 4 ||
	    (count == 4 && args[3].type == IMAP_ARG_LIST)) {
		imap_proxy_bad(ps, "AUTHENTICATE needs a mechanism");
		return;
	}
	if (!proxy_plaintext_ok(ps)) {
		imap_proxy_tagged(ps, "NO", "[PRIVACYREQUIRED] Plaintext "
		    "authentication disallowed on non-secure connections");
		return;
	}
	result = proxy_sasl_begin(ps, args[2].str, &challenge, &error);
	if (result == PROXY_SASL_CONTINUE && count == 4) {
		/* SASL-IR (RFC 4959): "=" is an empty response. */
		ir = strcmp(args[3].str, "=") == 0 ? "" : args[3].str;
		result = proxy_sasl_response(ps, ir, strlen(ir), &challenge,
		    &error);
	}
	imap_proxy_sasl(ps, result, challenge, error);
}

/* One whole command (its literals included) before login. */
static void
imap_proxy_command(struct proxy_session *ps, const char *text, size_t len)
{
	struct imap_arg *args = NULL;
	size_t count = 0;
	const char *error = NULL, *verb;

	free(ps->tag);
	ps->tag = NULL;
	if (imap_parse_args(text, len, IMAP_PROXY_MAX_ARGS, &args, &count,
	    &error) < 0 || count < 2 || args[0].type != IMAP_ARG_ATOM ||
	    args[1].type != IMAP_ARG_ATOM ||
	    strpbrk(args[0].str, "+*%\\]") != NULL) {
		if (count >= 1 && args != NULL && args[0].type ==
		    IMAP_ARG_ATOM && strpbrk(args[0].str, "+*%\\]") == NULL)
			ps->tag = xstrdup(args[0].str);
		imap_proxy_bad(ps, "Error in IMAP command");
		if (args != NULL)
			imap_args_free(args, count);
		return;
	}
	ps->tag = xstrdup(args[0].str);
	verb = args[1].str;
	if (strcasecmp(verb, "CAPABILITY") == 0) {
		imap_proxy_capability(ps);
		imap_proxy_tagged(ps, "OK", "CAPABILITY completed");
	} else if (strcasecmp(verb, "NOOP") == 0) {
		imap_proxy_tagged(ps, "OK", "NOOP completed");
	} else if (strcasecmp(verb, "LOGOUT") == 0) {
		proxy_reply(ps, "* BYE Logging out");
		imap_proxy_tagged(ps, "OK", "LOGOUT completed");
		proxy_close(ps);
	} else if (strcasecmp(verb, "ID") == 0) {
		proxy_reply(ps, "* ID (\"name\" \"ispmail\")");
		imap_proxy_tagged(ps, "OK", "ID completed");
	} else if (strcasecmp(verb, "STARTTLS") == 0) {
		if (ps->tls_active || proxyd_tls == NULL)
			imap_proxy_bad(ps, "STARTTLS not available");
		else {
			imap_proxy_tagged(ps, "OK", "Begin TLS negotiation "
			    "now");
			proxy_start_tls(ps);
		}
	} else if (strcasecmp(verb, "LOGIN") == 0) {
		if (count != 4 || args[2].type == IMAP_ARG_LIST ||
		    args[3].type == IMAP_ARG_LIST ||
		    memchr(args[2].str, '\0', args[2].len) != NULL ||
		    memchr(args[3].str, '\0', args[3].len) != NULL)
			imap_proxy_bad(ps, "LOGIN needs a user and a "
			    "password");
		else if (!proxy_plaintext_ok(ps))
			imap_proxy_tagged(ps, "NO", "[PRIVACYREQUIRED] "
			    "Plaintext authentication disallowed on "
			    "non-secure connections");
		else
			proxy_auth_start(ps, xstrdup(args[2].str),
			    xstrdup(args[3].str));
	} else if (strcasecmp(verb, "AUTHENTICATE") == 0) {
		imap_proxy_authenticate(ps, args, count);
	} else {
		imap_proxy_bad(ps, "Unknown command or not valid before "
		    "login");
	}
	imap_args_free(args, count);
}

/* A literal announced at the end of the line: its size, or -1. */
static long long
imap_proxy_literal(const char *line, size_t len, int *sync_r)
{
	size_t i;
	long long size = 0;

	if (len < 3 || line[len - 1] != '}')
		return -1;
	i = len - 2;
	*sync_r = line[i] != '+';
	if (!*sync_r)
		i--;
	if (line[i] < '0' || line[i] > '9')
		return -1;
	while (i > 0 && line[i] >= '0' && line[i] <= '9') {
		if (size > 100000000)
			return -2;
		i--;
	}
	if (line[i] != '{')
		return -1;
	size = strtoll(line + i + 1, NULL, 10);
	return size;
}

static void
imap_proxy_client_line(struct proxy_session *ps, char *line, size_t len)
{
	long long literal;
	int sync = 1;

	const char *challenge = NULL, *error = NULL;
	enum proxy_sasl_result result;

	if (ps->sasl_step != 0) {
		result = proxy_sasl_response(ps, line, len, &challenge, &error);
		imap_proxy_sasl(ps, result, challenge, error);
		return;
	}
	if (ps->cmd == NULL)
		ps->cmd = buf_new((size_t) var_proxy_line_limit);
	if (buf_append(ps->cmd, line, len) < 0) {
		imap_proxy_too_long(ps);
		return;
	}
	literal = imap_proxy_literal(line, len, &sync);
	if (literal >= 0) {
		/* Each literal costs its line: the cap bounds their count. */
		if (literal > (long long) var_proxy_line_limit ||
		    buf_len(ps->cmd) + 2 + (size_t) literal >
		    (size_t) var_proxy_line_limit) {
			buf_free(&ps->cmd);
			if (!sync) {
				/* Its bytes would be taken as commands. */
				proxy_reply(ps, "* BYE [TOOBIG] Literal too "
				    "big");
				proxy_close(ps);
				return;
			}
			imap_proxy_bad(ps, "[TOOBIG] Literal too big");
			return;
		}
		(void) buf_append(ps->cmd, "\r\n", 2);
		ps->literal_left = (size_t) literal;
		if (sync)
			proxy_reply(ps, "+ OK");
		return;
	}
	imap_proxy_command(ps, buf_cstr(ps->cmd), buf_len(ps->cmd));
	buf_free(&ps->cmd);
}

/* --- the login at the backend ------------------------------------------- */

static void
imap_proxy_backend_start(struct proxy_session *ps)
{
	ps->front_step = IMAP_STEP_GREETING;
}

static void
imap_proxy_send_login(struct proxy_session *ps)
{
	proxy_sasl_send_plain(ps, "P2 AUTHENTICATE PLAIN ", 1);
	ps->front_step = IMAP_STEP_LOGIN;
}

static void
imap_proxy_backend_line(struct proxy_session *ps, char *line, size_t len)
{
	log_debug("backend %s: %s", ps->backend_name, line);
	switch (ps->front_step) {
	case IMAP_STEP_GREETING:
		if (len < 4 || strncasecmp(line, "* OK", 4) != 0) {
			proxy_backend_failed(ps, "no OK greeting");
			return;
		}
		/* With a PROXY header the store knows the client already. */
		if (proxy_backend_uses_haproxy()) {
			imap_proxy_send_login(ps);
			return;
		}
		proxy_backend_send(ps, "P1 ID (\"x-originating-ip\" \"%s\" "
		    "\"x-originating-port\" \"%d\")\r\n",
		    ps->peer.client_addr, ps->peer.client_port);
		ps->front_step = IMAP_STEP_ID;
		return;
	case IMAP_STEP_ID:
		if (strncmp(line, "P1 ", 3) == 0)
			imap_proxy_send_login(ps);
		return;
	case IMAP_STEP_LOGIN:
	default:
		if (line[0] == '+') {
			proxy_backend_failed(ps, "backend wants more than "
			    "AUTHENTICATE PLAIN");
			return;
		}
		if (strncmp(line, "P2 ", 3) != 0 &&
		    strncmp(line, "P3 ", 3) != 0)
			return;
		if (strncasecmp(line + 3, "OK", 2) == 0) {
			proxy_reply(ps, "%s %s", ps->tag, line + 3);
			proxy_relay_start(ps);
			return;
		}
		/* A store without our token (or proxy logins): the password. */
		if (ps->backend_token && strstr(line,
		    "[AUTHORIZATIONFAILED]") != NULL) {
			proxy_token_refused(ps, line + 3);
			proxy_sasl_send_plain(ps, "P3 AUTHENTICATE PLAIN ", 0);
			return;
		}
		/* The host works, it refused this login. */
		log_warn("proxy: user=%s backend=%s refused the login: %s",
		    ps->user, ps->backend_name, line + 3);
		proxy_conn_close_backend(ps);
		ps->state = PROXY_PRELOGIN;
		ps->deadline = ps->login_deadline;
		imap_proxy_tagged(ps, "NO", "[UNAVAILABLE] The mail server "
		    "refused the login");
		return;
	}
}

static void
imap_proxy_unavailable(struct proxy_session *ps)
{
	imap_proxy_tagged(ps, "NO", "[UNAVAILABLE] Mail server temporarily "
	    "unavailable, try again later");
}

const struct proxy_front proxy_front_imap = {
	.name = "imap",
	.auth_service = "imap",
	.backend_port = &var_proxy_backend_port_imap,
	.greet = imap_proxy_greet,
	.client_line = imap_proxy_client_line,
	.client_too_long = imap_proxy_too_long,
	.auth_done = imap_proxy_auth_done,
	.backend_start = imap_proxy_backend_start,
	.backend_line = imap_proxy_backend_line,
	.unavailable = imap_proxy_unavailable,
	.bye = imap_proxy_bye,
};

/*
 * proxy_pop3: proxyd's POP3 front (RFC 1939 AUTHORIZATION state with
 * CAPA and response codes of RFC 2449/3206, STLS of RFC 2595, AUTH PLAIN
 * and LOGIN with an initial response of RFC 5034) and its login at the
 * backend: the greeting, XCLIENT ADDR/PORT (Dovecot's convention, so
 * the store logs and throttles by the client's address), then AUTH
 * PLAIN with proxy_login_token_file's token for the user (proxy_login.h)
 * or, without one or when the store refuses it, the client's
 * credentials.  The store's answer to that goes
 * to the client as it is: its +OK, or its -ERR with the store's reason
 * ([IN-USE], [LOGIN-DELAY]).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "log.h"
#include "mail_params.h"
#include "proxy_backend.h"
#include "proxy_sasl.h"
#include "proxyd.h"
#include "sasl.h"
#include "xalloc.h"

/* A USER name, as SASL caps it. */
#define POP_PROXY_USER_MAX	1024

enum pop_proxy_step {
	POP_STEP_GREETING = 1,
	POP_STEP_XCLIENT,
	POP_STEP_LOGIN,
};

static void
pop_proxy_greet(struct proxy_session *ps)
{
	proxy_reply(ps, "+OK ispmail proxy ready");
}

static void
pop_proxy_bye(struct proxy_session *ps, const char *why)
{
	/* POP3 has no unsolicited replies: after login, just close. */
	if (ps->state != PROXY_RELAY)
		proxy_reply(ps, "-ERR %s", why);
}

static void
pop_proxy_bad(struct proxy_session *ps, const char *text)
{
	proxy_reply(ps, "-ERR %s", text);
	(void) proxy_bad_command(ps);
}

static void
pop_proxy_too_long(struct proxy_session *ps)
{
	ps->sasl_step = 0;
	pop_proxy_bad(ps, "Line too long");
}

static void
pop_proxy_capa(struct proxy_session *ps)
{
	proxy_reply(ps, "+OK Capability list follows");
	proxy_reply(ps, "TOP");
	proxy_reply(ps, "UIDL");
	proxy_reply(ps, "RESP-CODES");
	proxy_reply(ps, "AUTH-RESP-CODE");
	proxy_reply(ps, "PIPELINING");
	/* RFC 2595 4: no USER or SASL where they would be refused. */
	if (proxy_plaintext_ok(ps)) {
		proxy_reply(ps, "USER");
		proxy_reply(ps, "SASL PLAIN LOGIN");
	}
	if (proxyd_tls != NULL && !ps->tls_active)
		proxy_reply(ps, "STLS");
	proxy_reply(ps, "IMPLEMENTATION ispmail");
	proxy_reply(ps, ".");
}

static int
pop_proxy_plaintext(struct proxy_session *ps)
{
	if (proxy_plaintext_ok(ps))
		return 1;
	proxy_reply(ps, "-ERR [AUTH] Plaintext authentication disallowed "
	    "on non-secure connections");
	return 0;
}

static void
pop_proxy_auth_done(struct proxy_session *ps)
{
	int last;

	switch (proxy_auth_outcome(ps, &last)) {
	case PROXY_AUTH_OK:
		break;
	case PROXY_AUTH_TEMPFAIL:
		proxy_reply(ps, "-ERR [SYS/TEMP] Temporary authentication "
		    "failure");
		break;
	case PROXY_AUTH_FAIL:
	default:
		proxy_auth_failed(ps, last ? "-ERR [AUTH] Authentication "
		    "failed; too many failures, disconnecting" :
		    "-ERR [AUTH] Authentication failed", last);
		break;
	}
}

static void
pop_proxy_sasl(struct proxy_session *ps, enum proxy_sasl_result result,
	const char *challenge, const char *error)
{
	switch (result) {
	case PROXY_SASL_DONE:
		break;
	case PROXY_SASL_CONTINUE:
		proxy_reply(ps, "+ %s", challenge);
		break;
	case PROXY_SASL_CANCELLED:
		pop_proxy_bad(ps, "Authentication cancelled");
		break;
	case PROXY_SASL_ERROR:
	default:
		pop_proxy_bad(ps, error);
		break;
	}
}

static void
pop_proxy_auth(struct proxy_session *ps, char *args)
{
	const char *challenge = NULL, *error = NULL;
	enum proxy_sasl_result result;

	if (*args == '\0') {
		/* The mechanism list (RFC 5034 4, as older clients ask). */
		proxy_reply(ps, "+OK");
		proxy_reply(ps, "PLAIN");
		proxy_reply(ps, "LOGIN");
		proxy_reply(ps, ".");
		return;
	}
	if (!pop_proxy_plaintext(ps))
		return;
	result = proxy_sasl_auth_args(ps, args, &challenge, &error);
	pop_proxy_sasl(ps, result, challenge, error);
}

static void
pop_proxy_client_line(struct proxy_session *ps, char *line, size_t len)
{
	const char *challenge = NULL, *error = NULL;
	enum proxy_sasl_result result;
	char *args;

	if (ps->sasl_step != 0) {
		result = proxy_sasl_response(ps, line, len, &challenge, &error);
		pop_proxy_sasl(ps, result, challenge, error);
		return;
	}
	if (memchr(line, '\0', len) != NULL) {
		pop_proxy_bad(ps, "Malformed command");
		return;
	}
	args = strchr(line, ' ');
	if (args != NULL)
		*args++ = '\0';
	else
		args = line + len;
	if (strcasecmp(line, "CAPA") == 0) {
		pop_proxy_capa(ps);
	} else if (strcasecmp(line, "QUIT") == 0) {
		proxy_reply(ps, "+OK Bye");
		proxy_close(ps);
	} else if (strcasecmp(line, "STLS") == 0) {
		if (proxyd_tls == NULL || ps->tls_active) {
			pop_proxy_bad(ps, ps->tls_active ? "Already using "
			    "TLS" : "TLS not available");
		} else {
			proxy_reply(ps, "+OK Begin TLS negotiation");
			proxy_start_tls(ps);
		}
	} else if (strcasecmp(line, "USER") == 0) {
		if (*args == '\0' || strlen(args) > POP_PROXY_USER_MAX) {
			pop_proxy_bad(ps, "Syntax: USER name");
		} else if (pop_proxy_plaintext(ps)) {
			free(ps->login);
			ps->login = xstrdup(args);
			proxy_reply(ps, "+OK");
		}
	} else if (strcasecmp(line, "PASS") == 0) {
		if (ps->login == NULL) {
			pop_proxy_bad(ps, "USER first");
		} else if (*args == '\0') {
			pop_proxy_bad(ps, "Syntax: PASS password");
		} else if (pop_proxy_plaintext(ps)) {
			char *login = ps->login;

			ps->login = NULL;
			proxy_auth_start(ps, login, xstrdup(args));
		}
	} else if (strcasecmp(line, "AUTH") == 0) {
		pop_proxy_auth(ps, args);
	} else {
		pop_proxy_bad(ps, "Unknown command or not valid before "
		    "login");
	}
}

/* --- the login at the backend ------------------------------------------- */

static void
pop_proxy_backend_start(struct proxy_session *ps)
{
	ps->front_step = POP_STEP_GREETING;
}

static void
pop_proxy_send_login(struct proxy_session *ps)
{
	proxy_sasl_send_plain(ps, "AUTH PLAIN ", 1);
	ps->front_step = POP_STEP_LOGIN;
}

static void
pop_proxy_backend_line(struct proxy_session *ps, char *line, size_t len)
{
	log_debug("backend %s: %s", ps->backend_name, line);
	switch (ps->front_step) {
	case POP_STEP_GREETING:
		if (len < 3 || strncmp(line, "+OK", 3) != 0) {
			proxy_backend_failed(ps, "no +OK greeting");
			return;
		}
		/* With a PROXY header the store knows the client already. */
		if (proxy_backend_uses_haproxy()) {
			pop_proxy_send_login(ps);
			return;
		}
		proxy_backend_send(ps, "XCLIENT ADDR=%s PORT=%d\r\n",
		    ps->peer.client_addr, ps->peer.client_port);
		ps->front_step = POP_STEP_XCLIENT;
		return;
	case POP_STEP_XCLIENT:
		/* A store that does not trust us says -ERR: go on. */
		pop_proxy_send_login(ps);
		return;
	case POP_STEP_LOGIN:
	default:
		if (strncmp(line, "+OK", 3) == 0) {
			proxy_reply(ps, "%s", line);
			proxy_relay_start(ps);
			return;
		}
		/* A store without our token (or proxy logins): the password. */
		if (ps->backend_token && strncmp(line, "-ERR [AUTH]", 11)
		    == 0) {
			proxy_token_refused(ps, line);
			proxy_sasl_send_plain(ps, "AUTH PLAIN ", 0);
			return;
		}
		log_warn("proxy: user=%s backend=%s refused the login: %s",
		    ps->user, ps->backend_name, line);
		proxy_conn_close_backend(ps);
		ps->state = PROXY_PRELOGIN;
		ps->deadline = ps->login_deadline;
		if (strncmp(line, "-ERR", 4) == 0 && line[4] == ' ')
			proxy_reply(ps, "%s", line);
		else
			proxy_reply(ps, "-ERR [SYS/TEMP] The mail server "
			    "refused the login");
		return;
	}
}

static void
pop_proxy_unavailable(struct proxy_session *ps)
{
	proxy_reply(ps, "-ERR [SYS/TEMP] Mail server temporarily "
	    "unavailable, try again later");
}

const struct proxy_front proxy_front_pop3 = {
	.name = "pop3",
	.auth_service = "pop3",
	.backend_port = &var_proxy_backend_port_pop3,
	.greet = pop_proxy_greet,
	.client_line = pop_proxy_client_line,
	.client_too_long = pop_proxy_too_long,
	.auth_done = pop_proxy_auth_done,
	.backend_start = pop_proxy_backend_start,
	.backend_line = pop_proxy_backend_line,
	.unavailable = pop_proxy_unavailable,
	.bye = pop_proxy_bye,
};

/*
 * pop_auth: POP3 logins (RFC 1939 USER/PASS, RFC 5034 AUTH PLAIN with an
 * initial response) against the routing directory, then the maildrop
 * (pop_mbox.h).  Refused before TLS unless auth_allow_plaintext says so;
 * response codes from RFC 2449 8 and RFC 3206.  AUTH PLAIN as the proxy
 * tier's identity (proxy_login.h) logs a user in by proxyd's token with
 * no password check; a trusted proxy whose token is refused gets
 * "-ERR [AUTH]" at once (as from a store without proxy logins) and may
 * log in with the password instead.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "mail_host.h"
#include "mail_params.h"
#include "metrics.h"
#include "params.h"
#include "pop_mbox.h"
#include "popd.h"
#include "proxy_login.h"
#include "proxy_trust.h"
#include "route.h"
#include "sasl.h"
#include "service.h"
#include "store.h"
#include "stream.h"
#include "xalloc.h"

/* The largest decoded SASL response (three parts of 1024 and NULs). */
#define POP_SASL_MAX 4096

int
pop_auth_offered(const struct pop_session *ps)
{
	return ps->tls != NULL || var_auth_allow_plaintext;
}

/* The refusal RFC 2595 4 / ARCHITECTURE ask for before TLS. */
static int
pop_auth_refuse_plaintext(struct pop_session *ps)
{
	if (pop_auth_offered(ps))
		return 0;
	pop_reply(ps, "-ERR [AUTH] Plaintext authentication disallowed "
	    "on non-secure connections; use STLS");
	pop_bad_command(ps);
	return 1;
}

/* Is the mailbox's store on this host (local_mail_hosts)? */
static int
pop_auth_host_is_local(const char *host)
{
	return host == NULL || mail_host_is_local(host);
}

/* The credentials were right: lock and snapshot the maildrop. */
static void
pop_auth_open_maildrop(struct pop_session *ps, struct route_mailbox *m)
{
	enum pop_mbox_status status;
	size_t count;
	long long octets;
	char *error = NULL;

	if (!pop_auth_host_is_local(m->mail_host) || m->store_path == NULL) {
		log_warn("login %s: mailbox is on host %s, not here",
		    m->address, m->mail_host != NULL ? m->mail_host : "?");
		pop_reply(ps, "-ERR [SYS/PERM] Mailbox is not on this server");
		return;
	}
	if (store_path_check(m->store_path, &error) < 0) {
		log_error("login %s: %s", m->address, error);
		free(error);
		pop_reply(ps, "-ERR [SYS/TEMP] Mailbox not configured");
		return;
	}
	status = pop_mbox_open(m->store_path, var_pop_login_delay,
	    &ps->mbox, &error);
	switch (status) {
	case POP_MBOX_OK:
		break;
	case POP_MBOX_IN_USE:
		log_info("login %s from %s: mailbox in use", m->address,
		    ps->peer->client_addr);
		pop_reply(ps, "-ERR [IN-USE] Mailbox is locked by another "
		    "POP3 session");
		return;
	case POP_MBOX_LOGIN_DELAY:
		log_info("login %s from %s: within pop_login_delay",
		    m->address, ps->peer->client_addr);
		pop_reply(ps, "-ERR [LOGIN-DELAY] Logged in less than %llds "
		    "ago", var_pop_login_delay);
		return;
	case POP_MBOX_FAILED:
		log_error("login %s: maildrop %s: %s", m->address,
		    m->store_path, error);
		free(error);
		pop_reply(ps, "-ERR [SYS/TEMP] Mailbox unavailable, try "
		    "again later");
		return;
	}
	free(ps->login);
	ps->login = xstrdup(m->address);
	free(ps->root);
	ps->root = xstrdup(m->store_path);
	ps->state = POP_STATE_TRANSACTION;
	mailbox_state_start(&ps->state_check, popd_route(), ps->login,
	    m->mail_host);
	ps->state_check.root = ps->root;
	pop_mbox_stat(ps->mbox, &count, &octets);
	log_info("login %s from %s%s%s%s: %zu messages, %lld octets",
	    ps->login, ps->peer->client_addr, ps->tls != NULL ? " (TLS)" : "",
	    ps->proxy_login ? " via proxy " : "",
	    ps->proxy_login ? ps->conn.client_addr : "", count, octets);
	pop_reply(ps, "+OK Logged in, %zu messages (%lld octets)", count,
	    octets);
}

static void pop_auth_failed(struct pop_session *ps, const char *login,
	const char *reason);

/*
 * Check login and password (NULL: a proxy's login, its token checked
 * already); answer; on success enter TRANSACTION.
 */
static void
pop_auth_login(struct pop_session *ps, const char *login,
	const char *password)
{
	struct route *r = popd_route();
	struct route_mailbox *m = NULL;
	const char *reason = "invalid credentials";
	char *error = NULL;
	int rc;

	if (r == NULL)
		rc = -1;
	else if (password != NULL)
		rc = route_authenticate(r, login, password, &m, &reason,
		    &error);
	else
		rc = route_authorize(r, login, &m, &reason, &error);
	metrics_inc("ispmail_logins_total", "protocol", "pop3", "result",
	    metrics_result(rc), NULL);
	if (rc > 0) {
		ps->proxy_login = password == NULL;
		pop_auth_open_maildrop(ps, m);
		ps->proxy_login = ps->state == POP_STATE_TRANSACTION &&
		    password == NULL;
		route_mailbox_free(&m);
		return;
	}
	if (rc < 0) {
		log_warn("authentication of %s: %s", login,
		    error != NULL ? error : "directory unavailable");
		free(error);
		pop_reply(ps, "-ERR [SYS/TEMP] Temporary authentication "
		    "failure, try again later");
		return;
	}
	if (strcmp(reason, "invalid credentials") != 0) {
		log_info("authentication failed for %s from %s: %s", login,
		    ps->peer->client_addr, reason);
		/* The password was right: no delay, a clear answer. */
		pop_reply(ps, "-ERR [AUTH] Login refused: %s", reason);
		return;
	}
	pop_auth_failed(ps, login, reason);
}

/* Wrong credentials: logged, delayed, counted, answered. */
static void
pop_auth_failed(struct pop_session *ps, const char *login,
	const char *reason)
{
	log_info("authentication failed for %s from %s: %s", login,
	    ps->peer->client_addr, reason);
	ps->auth_failures++;
	/* Slow down guessing; the delay is per failure. */
	if (var_auth_failure_delay > 0) {
		(void) stream_flush(ps->s);
		sleep((unsigned int) var_auth_failure_delay);
	}
	if (ps->auth_failures >= var_auth_failure_limit) {
		pop_reply(ps, "-ERR [AUTH] Authentication failed; too many "
		    "failures, disconnecting");
		ps->quit = 1;
		return;
	}
	pop_reply(ps, "-ERR [AUTH] Authentication failed");
}

/* May the peer log login in as the proxy tier (proxy_login.h)? */
static int
pop_auth_proxy_allowed(struct pop_session *ps, const char *login,
	const char *token)
{
	switch (proxy_login_check(&ps->conn, ps->peer->client_addr, login,
	    token)) {
	case PROXY_LOGIN_OK:
		return 1;
	case PROXY_LOGIN_UNTRUSTED:
		pop_auth_failed(ps, login, "not a trusted proxy");
		return 0;
	case PROXY_LOGIN_REFUSED:
	default:
		pop_reply(ps, "-ERR [AUTH] Proxy login refused");
		return 0;
	}
}

void
pop_cmd_user(struct pop_session *ps, const char *args)
{
	if (pop_auth_refuse_plaintext(ps))
		return;
	if (*args == '\0' || strchr(args, ' ') != NULL) {
		pop_reply(ps, "-ERR Syntax: USER name");
		pop_bad_command(ps);
		return;
	}
	free(ps->user);
	ps->user = xstrdup(args);
	pop_reply(ps, "+OK");
}

void
pop_cmd_pass(struct pop_session *ps, const char *args)
{
	char *user;

	if (pop_auth_refuse_plaintext(ps))
		return;
	if (ps->user == NULL) {
		pop_reply(ps, "-ERR USER first");
		pop_bad_command(ps);
		return;
	}
	if (*args == '\0') {
		pop_reply(ps, "-ERR Syntax: PASS password");
		pop_bad_command(ps);
		return;
	}
	/* RFC 1939 7: USER then PASS; a failed PASS needs a new USER. */
	user = ps->user;
	ps->user = NULL;
	pop_auth_login(ps, user, args);
	free(user);
}

/*
 * The SASL response: the initial one when given (RFC 5034 4), else
 * after a "+ " continuation.  Decoded into out.  0 ok; -1 (reply sent).
 */
static int
pop_auth_response(struct pop_session *ps, const char *initial,
	struct buf *out)
{
	struct buf *line;
	enum stream_status st;
	int ret = 0;

	if (initial != NULL) {
		/* "=" is an empty initial response. */
		if (strcmp(initial, "=") == 0)
			return 0;
		if (base64_decode(initial, strlen(initial), out) < 0) {
			pop_reply(ps, "-ERR Invalid base64 data");
			pop_bad_command(ps);
			return -1;
		}
		return 0;
	}
	pop_reply(ps, "+ ");
	if (stream_flush(ps->s) != STREAM_OK) {
		ps->quit = 1;
		return -1;
	}
	line = buf_new((size_t) var_pop_line_limit + 1);
	st = stream_read_line(ps->s, line, (size_t) var_pop_line_limit);
	if (st == STREAM_TOO_LONG) {
		pop_reply(ps, "-ERR Line too long");
		pop_bad_command(ps);
		ret = -1;
	} else if (st != STREAM_OK) {
		ps->quit = 1;
		ret = -1;
	} else if (strcmp(buf_cstr(line), "*") == 0) {
		pop_reply(ps, "-ERR Authentication cancelled");
		ret = -1;
	} else if (base64_decode(buf_cstr(line), buf_len(line), out) < 0) {
		pop_reply(ps, "-ERR Invalid base64 data");
		pop_bad_command(ps);
		ret = -1;
	}
	buf_free(&line);
	return ret;
}

void
pop_cmd_auth(struct pop_session *ps, const char *args)
{
	char *authzid = NULL, *authcid = NULL, *password = NULL;
	const char *initial, *error;
	struct buf *resp;
	size_t len;

	if (*args == '\0') {
		/* The listing form some clients probe with (pre-CAPA). */
		if (pop_auth_offered(ps))
			pop_reply(ps, "+OK\r\nPLAIN\r\n.");
		else
			pop_reply(ps, "+OK\r\n.");
		return;
	}
	if (pop_auth_refuse_plaintext(ps))
		return;
	len = strcspn(args, " ");
	if (len != 5 || strncasecmp(args, "PLAIN", 5) != 0) {
		pop_reply(ps, "-ERR Unsupported authentication mechanism");
		pop_bad_command(ps);
		return;
	}
	initial = args[len] == ' ' ? args + len + 1 : NULL;
	resp = buf_new(POP_SASL_MAX);
	if (pop_auth_response(ps, initial, resp) < 0)
		goto out;
	if (sasl_plain_parse(resp, &authzid, &authcid, &password,
	    &error) < 0) {
		pop_reply(ps, "-ERR %s", error);
		pop_bad_command(ps);
		goto out;
	}
	if (*authzid != '\0' && proxy_login_is_proxy(authcid)) {
		if (pop_auth_proxy_allowed(ps, authzid, password))
			pop_auth_login(ps, authzid, NULL);
		goto out;
	}
	if (*authzid != '\0' && strcmp(authzid, authcid) != 0) {
		/* No proxy authorisation (acting as someone else). */
		pop_reply(ps, "-ERR [AUTH] Authorization identity refused");
		goto out;
	}
	pop_auth_login(ps, authcid, password);
out:
	free(authzid);
	free(authcid);
	if (password != NULL) {
		explicit_bzero(password, strlen(password));
		free(password);
	}
	if (buf_len(resp) > 0)
		explicit_bzero(buf_data(resp), buf_len(resp));
	buf_free(&resp);
}

/*
 * XCLIENT ADDR=a PORT=p (Dovecot's convention) from a proxy in
 * proxy_trusted_networks, before login: the client it speaks for, so the
 * log lines and failure counts that follow name that client.  Other
 * attributes (Dovecot's SESSION, TTL...) are ignored, as Dovecot ignores
 * what it does not know; a bad ADDR or PORT changes nothing.
 */
void
pop_cmd_xclient(struct pop_session *ps, const char *args)
{
	struct service_peer client = ps->client;
	const char *p = args, *end;
	char *value;
	int rc;

	if (!ps->proxy_trusted) {
		log_info("reject: XCLIENT from %s: not in "
		    "proxy_trusted_networks", ps->peer->client_addr);
		pop_reply(ps, "-ERR Unknown command");
		pop_bad_command(ps);
		return;
	}
	while (*p != '\0') {
		end = p + strcspn(p, " ");
		rc = 0;
		if (strncasecmp(p, "ADDR=", 5) == 0) {
			value = xstrndup(p + 5, (size_t) (end - p - 5));
			rc = proxy_trust_set_addr(&client, value);
			free(value);
		} else if (strncasecmp(p, "PORT=", 5) == 0) {
			value = xstrndup(p + 5, (size_t) (end - p - 5));
			rc = proxy_trust_set_port(&client, value);
			free(value);
		}
		if (rc < 0) {
			pop_reply(ps, "-ERR Invalid XCLIENT parameter");
			pop_bad_command(ps);
			return;
		}
		p = end;
		while (*p == ' ')
			p++;
	}
	log_info("XCLIENT from %s: client=%s[%d]", ps->peer->client_addr,
	    client.client_addr, client.client_port);
	ps->client = client;
	pop_reply(ps, "+OK");
}

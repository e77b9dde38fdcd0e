/*
 * popd: the POP3 server (RFC 1939, with CAPA and response codes of RFC
 * 2449 and 3206, STLS of RFC 2595, AUTH PLAIN of RFC 5034) over the
 * Maildir++ store.  One process serves one connection at a time under
 * the master (service.h).  The protocol is the command table below and
 * popd_handle()'s loop; logins are in pop_auth.c, the maildrop in
 * pop_mbox.c.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anvil_client.h"
#include "buf.h"
#include "crypt_scratch.h"
#include "log.h"
#include "mail_params.h"
#include "pop_cmd.h"
#include "pop_mbox.h"
#include "popd.h"
#include "proxy_login.h"
#include "proxy_trust.h"
#include "route.h"
#include "service.h"
#include "stream.h"
#include "tls.h"
#include "xalloc.h"

struct popd_globals popd;

struct pop_handler {
	enum pop_verb verb;
	void (*handler)(struct pop_session *ps, const char *args);
};

void
pop_reply(struct pop_session *ps, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void) stream_vreply(ps->s, fmt, ap);
	va_end(ap);
}

void
pop_bad_command(struct pop_session *ps)
{
	if (++ps->bad_commands < var_pop_max_bad_commands)
		return;
	log_info("too many bad commands from %s reason=bad_command_limit "
	    "limit=%lld", ps->peer->client_addr, var_pop_max_bad_commands);
	anvil_client_event(ps->peer, "bad_command_limit");
	pop_reply(ps, "-ERR Too many bad commands, disconnecting");
	ps->quit = 1;
}

struct route *
popd_route(void)
{
	char *error = NULL;

	if (popd.route == NULL) {
		popd.route = route_open(&error);
		if (popd.route == NULL) {
			/* Logins then fail temporarily: [SYS/TEMP]. */
			log_warn("routing directory: %s", error);
			free(error);
		}
	}
	return popd.route;
}

/* -- AUTHORIZATION and both states ------------------------------------- */

static void
pop_cmd_capa(struct pop_session *ps, const char *args)
{
	(void) args;
	pop_reply(ps, "+OK Capability list follows");
	pop_reply(ps, "TOP");
	pop_reply(ps, "UIDL");
	pop_reply(ps, "RESP-CODES");
	pop_reply(ps, "AUTH-RESP-CODE");
	pop_reply(ps, "PIPELINING");
	if (var_pop_login_delay > 0)
		pop_reply(ps, "LOGIN-DELAY %lld", var_pop_login_delay);
	/* RFC 2595 4: no USER or SASL where they would be refused. */
	if (pop_auth_offered(ps)) {
		pop_reply(ps, "USER");
		pop_reply(ps, "SASL PLAIN");
	}
	if (popd.tls != NULL && ps->tls == NULL &&
	    ps->state == POP_STATE_AUTHORIZATION)
		pop_reply(ps, "STLS");
	if (ps->proxy_trusted && ps->state == POP_STATE_AUTHORIZATION)
		pop_reply(ps, "XCLIENT");
	pop_reply(ps, "IMPLEMENTATION ispmail");
	pop_reply(ps, ".");
}

static void
pop_cmd_stls(struct pop_session *ps, const char *args)
{
	char *error = NULL;

	if (*args != '\0') {
		pop_reply(ps, "-ERR Syntax: STLS");
		pop_bad_command(ps);
		return;
	}
	if (popd.tls == NULL || ps->tls != NULL) {
		pop_reply(ps, "-ERR %s", ps->tls != NULL ?
		    "Already using TLS" : "TLS not available");
		pop_bad_command(ps);
		return;
	}
	pop_reply(ps, "+OK Begin TLS negotiation");
	if (stream_flush(ps->s) != STREAM_OK) {
		ps->quit = 1;
		return;
	}
	if (tls_start(popd.tls, ps->s, NULL, &ps->tls, &error) < 0) {
		log_info("STLS from %s failed: %s", ps->peer->client_addr,
		    error);
		free(error);
		ps->quit = 1;
		return;
	}
	log_info("TLS from %s: %s with %s", ps->peer->client_addr,
	    tls_conn_version(ps->tls), tls_conn_cipher(ps->tls));
	/* Forget what came before TLS (RFC 2595 4). */
	free(ps->user);
	ps->user = NULL;
}

static void
pop_cmd_quit(struct pop_session *ps, const char *args)
{
	size_t removed = 0;
	char *error = NULL;

	(void) args;
	ps->quit = 1;
	if (ps->state != POP_STATE_TRANSACTION) {
		pop_reply(ps, "+OK Bye");
		return;
	}
	/* The UPDATE state (RFC 1939 6). */
	if (pop_mbox_commit(ps->mbox, &removed, &error) < 0) {
		log_error("logout %s: %s", ps->login, error);
		free(error);
		pop_reply(ps, "-ERR [SYS/TEMP] Some deleted messages were not "
		    "removed");
		return;
	}
	log_info("logout %s: %zu messages deleted", ps->login, removed);
	pop_reply(ps, "+OK Bye, %zu messages deleted", removed);
}

/* -- TRANSACTION --------------------------------------------------------- */

static void
pop_cmd_noop(struct pop_session *ps, const char *args)
{
	(void) args;
	pop_reply(ps, "+OK");
}

static void
pop_cmd_stat(struct pop_session *ps, const char *args)
{
	size_t count;
	long long octets;

	(void) args;
	pop_mbox_stat(ps->mbox, &count, &octets);
	pop_reply(ps, "+OK %zu %lld", count, octets);
}

/* Parse an optional message argument; 0 none, 1 *n_r set, -1 replied. */
static int
pop_msg_arg(struct pop_session *ps, const char *args, int required,
	size_t *n_r)
{
	if (*args == '\0' && !required)
		return 0;
	if (pop_cmd_msgnum(args, n_r) < 0) {
		pop_reply(ps, "-ERR Invalid message number");
		pop_bad_command(ps);
		return -1;
	}
	if (!pop_mbox_exists(ps->mbox, *n_r)) {
		pop_reply(ps, "-ERR No such message");
		return -1;
	}
	return 1;
}

/* LIST and UIDL share their shape (RFC 1939 5 and 7). */
static void
pop_list_common(struct pop_session *ps, const char *args, int uidl)
{
	size_t n, count;
	int rc;

	rc = pop_msg_arg(ps, args, 0, &n);
	if (rc < 0)
		return;
	if (rc > 0) {
		if (uidl)
			pop_reply(ps, "+OK %zu %s", n, pop_mbox_uidl(ps->mbox, n));
		else
			pop_reply(ps, "+OK %zu %lld", n,
			    pop_mbox_size(ps->mbox, n));
		return;
	}
	pop_reply(ps, "+OK");
	count = pop_mbox_count(ps->mbox);
	for (n = 1; n <= count; n++) {
		if (!pop_mbox_exists(ps->mbox, n))
			continue;
		if (uidl)
			(void) stream_printf(ps->s, "%zu %s\r\n", n,
			    pop_mbox_uidl(ps->mbox, n));
		else
			(void) stream_printf(ps->s, "%zu %lld\r\n", n,
			    pop_mbox_size(ps->mbox, n));
	}
	pop_reply(ps, ".");
}

static void
pop_cmd_list(struct pop_session *ps, const char *args)
{
	pop_list_common(ps, args, 0);
}

static void
pop_cmd_uidl(struct pop_session *ps, const char *args)
{
	pop_list_common(ps, args, 1);
}

static void
pop_send_ok(void *ctx)
{
	struct pop_session *ps = ctx;

	pop_reply(ps, "+OK");
}

static void
pop_send(struct pop_session *ps, size_t n, int top, size_t lines)
{
	char *error = NULL;
	int rc;

	rc = pop_mbox_send(ps->mbox, n, ps->s, top, lines, pop_send_ok, ps,
	    &error);
	if (rc == -1) {
		log_warn("%s: %s", ps->login, error);
		free(error);
		pop_reply(ps, "-ERR Message was removed by another session");
	} else if (rc == -2) {
		ps->quit = 1;
	}
}

static void
pop_cmd_retr(struct pop_session *ps, const char *args)
{
	size_t n;

	if (pop_msg_arg(ps, args, 1, &n) <= 0)
		return;
	/* The UIDL is the Maildir file's base name: ispmailctl trace. */
	log_info("retr user=%s file=%s", ps->login, pop_mbox_uidl(ps->mbox, n));
	pop_send(ps, n, 0, 0);
}

static void
pop_cmd_top(struct pop_session *ps, const char *args)
{
	size_t n, lines;

	if (pop_cmd_top_args(args, &n, &lines) < 0) {
		pop_reply(ps, "-ERR Syntax: TOP message lines");
		pop_bad_command(ps);
		return;
	}
	if (!pop_mbox_exists(ps->mbox, n)) {
		pop_reply(ps, "-ERR No such message");
		return;
	}
	pop_send(ps, n, 1, lines);
}

static void
pop_cmd_dele(struct pop_session *ps, const char *args)
{
	size_t n;

	if (pop_msg_arg(ps, args, 1, &n) <= 0)
		return;
	pop_mbox_delete(ps->mbox, n);
	pop_reply(ps, "+OK Message %zu deleted", n);
}

static void
pop_cmd_rset(struct pop_session *ps, const char *args)
{
	size_t count;
	long long octets;

	(void) args;
	pop_mbox_reset(ps->mbox);
	pop_mbox_stat(ps->mbox, &count, &octets);
	pop_reply(ps, "+OK %zu messages (%lld octets)", count, octets);
}

static const struct pop_handler pop_handlers[] = {
	{ POP_VERB_USER, pop_cmd_user },
	{ POP_VERB_PASS, pop_cmd_pass },
	{ POP_VERB_AUTH, pop_cmd_auth },
	{ POP_VERB_STLS, pop_cmd_stls },
	{ POP_VERB_CAPA, pop_cmd_capa },
	{ POP_VERB_QUIT, pop_cmd_quit },
	{ POP_VERB_NOOP, pop_cmd_noop },
	{ POP_VERB_STAT, pop_cmd_stat },
	{ POP_VERB_LIST, pop_cmd_list },
	{ POP_VERB_RETR, pop_cmd_retr },
	{ POP_VERB_DELE, pop_cmd_dele },
	{ POP_VERB_RSET, pop_cmd_rset },
	{ POP_VERB_TOP, pop_cmd_top },
	{ POP_VERB_UIDL, pop_cmd_uidl },
	{ POP_VERB_XCLIENT, pop_cmd_xclient },
	{ POP_VERB_UNKNOWN, NULL },
};

/*
 * Count a command that makes no progress, before it runs: NOOP, and
 * before login every command that cannot log in (CAPA, STLS, USER...).
 * 1 when pop_junk_command_limit is reached and the session ends.
 */
static int
pop_junk(struct pop_session *ps, const struct pop_command *cmd)
{
	if (cmd->verb != POP_VERB_NOOP &&
	    (ps->state != POP_STATE_AUTHORIZATION ||
	    cmd->verb == POP_VERB_PASS || cmd->verb == POP_VERB_AUTH ||
	    cmd->verb == POP_VERB_QUIT))
		return 0;
	if (++ps->junk_commands < var_pop_junk_command_limit)
		return 0;
	log_info("too many junk commands from %s: last %s "
	    "reason=junk_command_limit limit=%lld", ps->peer->client_addr,
	    cmd->name, var_pop_junk_command_limit);
	anvil_client_event(ps->peer, "junk_command_limit");
	pop_reply(ps, "-ERR [SYS/TEMP] Too many commands without progress, "
	    "disconnecting");
	ps->quit = 1;
	return 1;
}

static void
pop_dispatch(struct pop_session *ps, const struct buf *line)
{
	const struct pop_handler *h;
	struct pop_command cmd;

	if (pop_cmd_parse(buf_cstr(line), buf_len(line), &cmd) < 0) {
		pop_reply(ps, "-ERR Malformed command");
		pop_bad_command(ps);
		return;
	}
	/* Never log credentials. */
	if (cmd.verb != POP_VERB_PASS && cmd.verb != POP_VERB_AUTH)
		log_debug("< %s", buf_cstr(line));
	for (h = pop_handlers; h->handler != NULL; h++) {
		if (h->verb == cmd.verb)
			break;
	}
	if (h->handler == NULL) {
		pop_reply(ps, "-ERR Unknown command");
		pop_bad_command(ps);
		return;
	}
	if (!pop_cmd_allowed(cmd.verb, ps->state)) {
		pop_reply(ps, "-ERR %s not allowed %s", cmd.name,
		    ps->state == POP_STATE_AUTHORIZATION ? "before login" :
		    "after login");
		pop_bad_command(ps);
		return;
	}
	if (pop_junk(ps, &cmd))
		return;
	h->handler(ps, cmd.args);
}

/*
 * Short before login (a client that never logs in holds a process): the
 * shorter of pop_login_timeout and pop_command_timeout.
 */
static void
popd_set_timeouts(struct pop_session *ps)
{
	long long seconds = var_pop_command_timeout;

	if (ps->state == POP_STATE_AUTHORIZATION &&
	    var_pop_login_timeout < seconds)
		seconds = var_pop_login_timeout;

	stream_set_timeouts(ps->s, (int) (seconds * 1000),
	    (int) (seconds * 1000));
}

/*
 * Wait for the next command; a mailbox being moved ends the session
 * (mailbox_state.h: looked up every mailbox_state_check_interval, not
 * per command).  0 read on; -1 the session is over.
 */
static int
popd_wait_command(struct pop_session *ps)
{
	int left_ms;

	popd_set_timeouts(ps);
	if (ps->state != POP_STATE_TRANSACTION)
		return 0;
	if (mailbox_state_wait(&ps->state_check, ps->s,
	    (int) (var_pop_command_timeout * 1000), &left_ms)) {
		/* RFC 3206: temporary; nothing marked is removed. */
		pop_reply(ps, "-ERR [SYS/TEMP] Mailbox is being moved, "
		    "please reconnect");
		return -1;
	}
	stream_set_timeouts(ps->s, left_ms, left_ms);
	return 0;
}

static void
popd_handle(int fd, const struct service_peer *peer, void *ctx)
{
	struct pop_session ps;
	struct anvil_admission adm;
	enum stream_status st;
	struct buf *line;
	const char *reason;
	char *error = NULL;

	(void) ctx;
	memset(&ps, 0, sizeof(ps));
	ps.client = ps.conn = *peer;
	ps.peer = peer = &ps.client;
	ps.state = POP_STATE_AUTHORIZATION;
	ps.s = stream_new(fd, (int) (var_pop_command_timeout * 1000),
	    (int) (var_pop_command_timeout * 1000));
	stream_set_stress_timeout(ps.s, (int) (var_pop_stress_timeout * 1000));
	/* Behind a proxy: the header names the client (proxy_trust.h). */
	if (var_proxy_protocol && proxy_trust_accept(ps.s, &ps.client,
	    (int) (var_pop_login_timeout * 1000)) < 0) {
		stream_free(&ps.s);
		return;
	}
	ps.proxy_trusted = proxy_trust_peer(&ps.client);
	log_info("connect from %s[%d]", peer->client_addr, peer->client_port);
	if (!anvil_client_admit(peer, var_pop_client_connection_count_limit,
	    var_pop_client_connection_rate_limit, &adm)) {
		/* RFC 3206; implicit TLS: no plaintext reply. */
		if (!var_tls_wrapper_mode)
			pop_reply(&ps, "-ERR [SYS/TEMP] Too many connections "
			    "from %s", peer->client_addr);
		(void) stream_flush(ps.s);
		stream_free(&ps.s);
		return;
	}
	if (var_tls_wrapper_mode &&
	    tls_start(popd.tls, ps.s, NULL, &ps.tls, &error) < 0) {
		log_info("TLS handshake with %s failed: %s",
		    peer->client_addr, error);
		free(error);
		stream_free(&ps.s);
		anvil_client_release(&adm);
		return;
	}
	line = buf_new((size_t) var_pop_line_limit + 1);
	popd_set_timeouts(&ps);
	pop_reply(&ps, "+OK ispmail POP3 server ready");
	while (!ps.quit) {
		/* Answer a pipelined group in one write (RFC 2449 6.6). */
		if (stream_pending(ps.s) == 0 &&
		    stream_flush(ps.s) != STREAM_OK)
			break;
		if (popd_wait_command(&ps) < 0)
			break;
		st = stream_read_line(ps.s, line, (size_t) var_pop_line_limit);
		if (st == STREAM_TOO_LONG) {
			pop_reply(&ps, "-ERR Line too long");
			pop_bad_command(&ps);
			continue;
		}
		if (st == STREAM_TIMEOUT) {
			reason = service_in_stress() ? "stress_timeout" :
			    ps.login == NULL ? "login_timeout" :
			    "command_timeout";
			log_info("timeout from %s%s%s reason=%s",
			    peer->client_addr,
			    ps.login != NULL ? " user " : "",
			    ps.login != NULL ? ps.login : "", reason);
			anvil_client_event(peer, reason);
			pop_reply(&ps, "-ERR Autologout: idle for too long");
			break;
		}
		if (st != STREAM_OK) {
			if (ps.state == POP_STATE_TRANSACTION)
				log_info("%s: connection lost, nothing "
				    "deleted", ps.login);
			break;
		}
		pop_dispatch(&ps, line);
	}
	(void) stream_flush(ps.s);
	buf_free(&line);
	/* Without QUIT nothing marked is removed (RFC 1939 6). */
	pop_mbox_close(&ps.mbox);
	tls_conn_free(&ps.tls);
	stream_free(&ps.s);
	free(ps.user);
	free(ps.login);
	free(ps.root);
	anvil_client_release(&adm);
	log_info("disconnect from %s[%d]", peer->client_addr,
	    peer->client_port);
}

static void
popd_pre_init(void *ctx)
{
	char *error = NULL;

	(void) ctx;
	/* The key may be readable by root only: load it before the drop. */
	popd.tls = tls_server_new(&error);
	if (popd.tls == NULL && error != NULL)
		log_fatal("TLS: %s", error);
	if (var_tls_wrapper_mode && popd.tls == NULL)
		log_fatal("tls_wrapper_mode needs tls_cert_file");
	if (anvil_client_init(&error) < 0)
		log_fatal("client_limit_exceptions: %s", error);
	if (proxy_trust_init(&error) < 0)
		log_fatal("proxy_trusted_networks: %s", error);
	if (proxy_login_init(var_proxy_login_token_digests, &error) < 0)
		log_fatal("%s", error);
}

static void
popd_post_init(void *ctx)
{
	(void) ctx;
	/* Open the directory now so the first client does not wait. */
	(void) popd_route();
	/*
	 * The login's hash is most of a session's CPU: its 16 MiB stay
	 * mapped, wiped, for the next login (crypt_scratch.h).  Not in
	 * imapd, whose processes hold idle sessions.
	 */
	crypt_scratch_keep(var_auth_hash_memory_keep != 0);
}

int
main(int argc, char **argv)
{
	static const struct service_def def = {
		.name = "popd",
		.handle = popd_handle,
		.pre_init = popd_pre_init,
		.post_init = popd_post_init,
		.follows_stress = 1,
	};

	service_main(argc, argv, &def, NULL, NULL);
}

/*
 * popd: the POP3 server's session, shared by popd.c (the session loop
 * and the TRANSACTION commands) and pop_auth.c (USER, PASS, AUTH).
 */
#ifndef ISPMAIL_POPD_H
#define ISPMAIL_POPD_H

#include "mailbox_state.h"
#include "pop_cmd.h"
#include "service.h"

struct pop_mbox;
struct route;
struct stream;
struct tls_conn;
struct tls_server;

/* Per process: made once, used by every session. */
struct popd_globals {
	struct tls_server *tls;		/* NULL: no certificate, no STLS */
	struct route *route;		/* opened on first use */
};

extern struct popd_globals popd;

struct pop_session {
	const struct service_peer *peer;	/* &client */
	/* The connection's peer, or whom a PROXY header or XCLIENT named. */
	struct service_peer client;
	/* The connection's own peer: a proxy's address (proxy_login.h). */
	struct service_peer conn;
	int proxy_trusted;		/* may use XCLIENT */
	int proxy_login;		/* logging in by a proxy's token */
	struct stream *s;
	struct tls_conn *tls;
	enum pop_state state;
	char *user;			/* from USER, waiting for PASS */
	char *login;			/* the authenticated address */
	char *root;			/* its store (the move's mark) */
	struct pop_mbox *mbox;		/* TRANSACTION: the maildrop */
	long long bad_commands;
	long long junk_commands;	/* without progress */
	long long auth_failures;
	int quit;			/* end the session after this reply */
	struct mailbox_state_check state_check;	/* issue 16 */
};

/* Send one reply line (CRLF added). */
void pop_reply(struct pop_session *ps, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Count a bad command; ends the session past pop_max_bad_commands. */
void pop_bad_command(struct pop_session *ps);
/* The routing directory, opened on first use; NULL when unusable. */
struct route *popd_route(void);

/* pop_auth.c: are USER/PASS and AUTH allowed on this connection? */
int pop_auth_offered(const struct pop_session *ps);
void pop_cmd_user(struct pop_session *ps, const char *args);
void pop_cmd_pass(struct pop_session *ps, const char *args);
void pop_cmd_auth(struct pop_session *ps, const char *args);
void pop_cmd_xclient(struct pop_session *ps, const char *args);

#endif

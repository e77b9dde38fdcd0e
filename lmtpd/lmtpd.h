/*
 * lmtpd: the session shared by lmtpd.c (main and the session loop) and
 * lmtpd_cmd.c (the command table and handlers).  Internal to lmtpd.
 */
#ifndef ISPMAIL_LMTPD_H
#define ISPMAIL_LMTPD_H

#include <stddef.h>

#include "lmtpd_deliver.h"
#include "smtp_data.h"

struct buf;
struct route;
struct stream;

enum lmtpd_state {
	LMTPD_STATE_START,	/* greeted, no LHLO yet */
	LMTPD_STATE_READY,	/* after LHLO, no transaction */
	LMTPD_STATE_MAIL,	/* MAIL accepted */
	LMTPD_STATE_RCPT,	/* at least one RCPT accepted */
};

/* What a command handler tells the loop. */
enum lmtpd_cmd_result {
	LMTPD_CMD_OK,		/* done (whatever the reply said) */
	LMTPD_CMD_BAD,		/* a bad command: counts toward the limit */
	LMTPD_CMD_CLOSE,	/* end the session */
};

/* Per-process state, made once in post_init. */
struct netmatch;

struct lmtpd_server {
	struct route *route;
	char **local_hosts;	/* local_mail_hosts, split */
	int local_host_count;
	char *hostname;		/* for the greeting and LHLO */
	enum smtp_bare_newline bare_newline;	/* smtpd_forbid_bare_newline */
	struct netmatch *trusted; /* lmtp_trusted_networks */
};

/* Per-connection state; lmtpd_session_free() releases all of it. */
struct lmtpd_session {
	struct lmtpd_server *server;
	struct stream *s;
	struct buf *line;	/* the command line being handled */
	struct buf *reply;	/* a reply being built */
	const char *client;	/* for logging */
	enum lmtpd_state state;
	char *sender;		/* MAIL FROM, "" for <> */
	long long declared_size;/* MAIL SIZE=, 0 if not given */
	char *queue_id;		/* MAIL XQUEUEID=, NULL if not given */
	struct lmtpd_recipient *rcpts;
	size_t rcpt_count;
	size_t rcpt_alloc;
};

/* Queue one reply line (CRLF added); flushed by the session loop. */
void lmtpd_reply(struct lmtpd_session *sess, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Forget the current transaction (RSET, LHLO, after DATA). */
void lmtpd_transaction_reset(struct lmtpd_session *sess);

/*
 * Run the command in sess->line (a complete line, no CRLF): find it in
 * the command table and call its handler.
 */
enum lmtpd_cmd_result lmtpd_command(struct lmtpd_session *sess);

#endif

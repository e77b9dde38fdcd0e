/*
 * smtp_session: what the agent's protocol modules share, private to
 * smtp_session.c (opening a session, replies, the connection cache) and
 * smtp_transaction.c (one transaction on it).
 *
 * The process has one cached connection, smtp_cache; a reply's buffers
 * belong to the reply (smtp_reply_init/free in smtp_session.c).
 */
#ifndef ISPMAIL_SMTP_SESSION_H
#define ISPMAIL_SMTP_SESSION_H

#include <time.h>

struct buf;
struct smtp_job;
struct stream;
struct tls_conn;

/* What the server offered in its EHLO/LHLO reply. */
#define CAP_PIPELINING	0x01
#define CAP_SIZE	0x02
#define CAP_8BITMIME	0x04
#define CAP_SMTPUTF8	0x08
#define CAP_DSN		0x10
#define CAP_STARTTLS	0x20
#define CAP_XQUEUEID	0x40	/* lmtpd takes our queue id for its logs */
#define CAP_XFOLDER	0x80	/* lmtpd files a recipient into a folder */

/* A reply: code, enhanced code, text (lines joined by spaces). */
struct smtp_reply {
	char code[4];
	char dsn[16];
	struct buf *text;
	struct buf *lines;	/* each line's text, '\n' after each */
};

/* The connection to a next hop, kept for the next request. */
struct smtp_conn {
	int fd;
	struct stream *s;
	struct tls_conn *tls;
	char *key;		/* "lmtp:" or "smtp:" + the request's next hop */
	char *peer;		/* "host[addr]:port" for logs and results */
	char *source;		/* our address on it, for logs; NULL unknown */
	char *tls_label;	/* "dane-ta/verified", "may/plain" ...: logs */
	int lmtp;
	unsigned int caps;
	long long size_limit;	/* SIZE offered; 0 none */
	time_t last_used;
};

/* The one cached connection of the process (fd -1: none). */
extern struct smtp_conn smtp_cache;

/* Close c, saying QUIT first when quit is set; c can be opened again. */
void smtp_conn_close(struct smtp_conn *c, int quit);
/*
 * Read one (multi-line) reply.  0 ok; -1 on a connection failure or a
 * malformed reply (*error_r static).
 */
int smtp_read_reply(struct stream *s, struct smtp_reply *r,
	const char **error_r);
/* Send one command and read its reply.  -1: the connection is gone. */
int smtp_command(struct stream *s, struct smtp_reply *r,
	const char **error_r, const char *command);

/* smtp_transaction.c */

/* One transaction for every recipient of the job on smtp_cache. */
void smtp_transaction(struct smtp_job *job, struct smtp_reply *r);
/* Log each recipient's result (SMTP only; lmtpd logs its own). */
void smtp_log_results(const struct smtp_job *job);

#endif

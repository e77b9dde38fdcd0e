/*
 * smtpd: internal interfaces between the smtpd modules.
 *
 * smtpd.c runs the session (greeting, command loop, EHLO, STARTTLS,
 * limits); smtpd_env.c handles MAIL and RCPT (syntax, ESMTP parameters,
 * routing checks); smtpd_auth.c AUTH; smtpd_queue.c DATA and BDAT into
 * the queue file and the notice to qmgr; smtpd_direct.c direct delivery
 * to the local lmtpd before the queue file is made durable; smtpd_msa.c
 * the header fields the submission service adds; smtpd_local.c users of
 * this host on the sendmail socket.
 */
#ifndef ISPMAIL_SMTPD_H
#define ISPMAIL_SMTPD_H

#include <stddef.h>

#include "qfile.h"
#include "service.h"
#include "smtp_data.h"

struct buf;
struct route;
struct route_mailbox;
struct smtpd_authres;
struct smtpd_msa;
struct header_value;
struct stream;
struct tls_conn;
struct tls_server;

enum smtpd_mode { SMTPD_MODE_MX, SMTPD_MODE_SUBMISSION };

/* Process-wide state, set up once in pre_init/post_init. */
struct smtpd_globals {
	enum smtpd_mode mode;
	struct tls_server *tls;		/* NULL: no STARTTLS */
	struct route *route;		/* opened lazily */
	char *hostname;
	enum smtp_bare_newline bare_newline;	/* smtpd_forbid_bare_newline */
};

extern struct smtpd_globals smtpd;

struct smtpd_session {
	struct stream *s;
	const struct service_peer *peer;	/* &client */
	/*
	 * The client: the connection's peer, or whom a PROXY header or
	 * XCLIENT named (smtpd_xclient.c).
	 */
	struct service_peer client;
	char *client_name;		/* XCLIENT NAME, or NULL: unknown */
	int proxy_trusted;		/* may use XCLIENT */
	struct tls_conn *tls;
	char *helo;
	int esmtp;
	char *auth_user;		/* authenticated login */
	struct route_mailbox *auth_mailbox;
	int auth_failures;
	int errors;			/* bad commands so far */
	long long junk;			/* commands without progress */
	long long junk_transactions;	/* transactions when it was reset */
	int quit;			/* end the session after this reply */
	/* The transaction. */
	int have_mail;
	struct qfile env;		/* sender, DSN, rcpts */
	size_t rcpt_alloc;
	long long size_hint;		/* MAIL SIZE= */
	/* BDAT in progress. */
	struct qfile_writer *bdat;
	int bdat_failed;		/* an error reply is due at LAST */
	long long bdat_size;
	const char *bdat_error;
	struct smtp_crlf bdat_crlf;	/* bare CR/LF across BDAT chunks */
	/* Submission: adds a missing Date:/Message-ID: (smtpd_msa.h). */
	struct smtpd_msa *msa;
	/* SPF/DKIM/DMARC checks or DKIM signing (smtpd_authres.h). */
	struct smtpd_authres *authres;
	/* The Message-ID as the queue file gets it, for the log. */
	struct header_value *msgid;
	long long transactions;
	/* A user of this host on the sendmail socket (smtpd_local.c). */
	char *local_user;		/* NULL: not a local client */
	long long local_uid;
	/* Reputation verdict (smtpd_reputation.c); NULL: not checked. */
	struct smtpd_reputation *reputation;
};

/* smtpd.c */
void smtpd_reply(struct smtpd_session *ss, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Count a bad command; 1 when the limit is hit (421 sent, quit set). */
int smtpd_error(struct smtpd_session *ss);
struct route *smtpd_route(void);
int smtpd_tls_active(const struct smtpd_session *ss);

/* smtpd_env.c */
void smtpd_cmd_mail(struct smtpd_session *ss, const char *args);
void smtpd_cmd_rcpt(struct smtpd_session *ss, const char *args);
void smtpd_transaction_reset(struct smtpd_session *ss);

/* smtpd_auth.c */
void smtpd_cmd_auth(struct smtpd_session *ss, const char *args);
int smtpd_auth_offered(const struct smtpd_session *ss);

/* smtpd_local.c */
/*
 * For a client on a UNIX socket: learn its user from the kernel and
 * check local_submit_users.  0 go on (also for other clients); -1 a
 * 421 was sent, end the session.
 */
int smtpd_local_start(struct smtpd_session *ss, int fd);

/* smtpd_xclient.c */
void smtpd_cmd_xclient(struct smtpd_session *ss, const char *args);

/* smtpd_queue.c */
/*
 * Room in the queue file system for a message of size bytes (0: not
 * given) plus queue_minfree?  0 yes; -1 no, 452 4.3.1 sent.
 */
int smtpd_queue_space(struct smtpd_session *ss, long long size);
void smtpd_cmd_data(struct smtpd_session *ss, const char *args);
void smtpd_cmd_bdat(struct smtpd_session *ss, const char *args);
/* Log the accepted message (from=, size, nrcpt, client) under its id. */
void smtpd_queue_log(struct smtpd_session *ss, long long size);

/* smtpd_direct.c */
enum smtpd_direct_result {
	SMTPD_DIRECT_NONE,	/* not for direct delivery; nothing done */
	SMTPD_DIRECT_DELIVERED,	/* lmtpd took every recipient: drop w */
	SMTPD_DIRECT_QUEUE,	/* logged; the rest (marked in w) is queued */
};
/*
 * Offer the message in w (complete, not yet committed) to the local
 * lmtpd when smtpd_direct_delivery applies to every recipient.  For
 * SMTPD_DIRECT_QUEUE the caller commits w as usual without logging the
 * message again; the recipients delivered are marked done in it.
 */
enum smtpd_direct_result smtpd_direct_deliver(struct smtpd_session *ss,
	struct qfile_writer *w, long long size);

#endif

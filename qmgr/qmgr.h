/*
 * qmgr: internal interfaces of the queue manager.
 *
 * One long-running, event-driven process (service_def.run): qmgr.c owns
 * the poll loop, the notice socket and the queue scans; qmgr_message.c
 * takes a message through one delivery attempt (expand, route, collect
 * results, then remove, bounce or defer it); qmgr_transport.c keeps the
 * next hops with their concurrency and dead-hop state and talks to the
 * delivery agents; qmgr_bounce.c writes DSNs; qmgr_ctl.c answers
 * ispmailctl.
 */
#ifndef ISPMAIL_QMGR_H
#define ISPMAIL_QMGR_H

#include <stddef.h>

#include "qfile.h"

struct buf;
struct route;

/* Which success notice a recipient's outcome calls for (RFC 3461 6.2). */
#define QMGR_NOTIFY_NONE 0
#define QMGR_NOTIFY_DELIVERED 1	/* into a mailbox here */
#define QMGR_NOTIFY_RELAYED 2	/* to a server that does not do DSN */

/* Per-recipient outcome of one attempt (in memory only). */
struct qmgr_outcome {
	int n;			/* the recipient's index in the file */
	char code[4];		/* "250", "451", "550"; "" = not tried */
	char *dsn;		/* "2.0.0" */
	char *text;
	int notify_success;	/* NOTIFY=SUCCESS: QMGR_NOTIFY_* to send */
};

struct qmgr_msg {
	char *id;
	char *path;		/* in active/ */
	int fd;			/* O_RDWR: state bytes and appended records */
	struct qfile *qf;
	int jobs;		/* delivery jobs outstanding */
	char *transport_class;	/* remote agent ("smtp-bulk"), once known */
	struct qmgr_outcome *outcomes;
	size_t outcome_count;
	struct qmgr_msg *prev, *next;
	struct qmgr_msg *hash_next;	/* in the id hash */
};

/* One delivery request: some recipients of a message to one hop. */
struct qmgr_job {
	struct qmgr_msg *msg;
	struct qmgr_hop *hop;
	int *rcpts;		/* recipient indices */
	char **addresses;	/* their addresses, parallel */
	size_t count;
	/* Agent I/O. */
	int fd;
	struct buf *out;
	size_t out_done;
	struct buf *in;
	long long deadline_ms;
	struct qmgr_job *next;	/* in the hop's waiting list */
};

struct qmgr_hop {
	char *transport;	/* "lmtp", "smtp" */
	char *nexthop;		/* "127.0.0.1:24", "unix:/path", domain */
	int active;		/* jobs at an agent now */
	long long dead_until_ms;/* 0: alive */
	char *dead_reason;
	struct qmgr_job *waiting, *waiting_tail;
	struct qmgr_hop *next;
};

/* qmgr_account.c */
struct qfile;
/* The hold reason when qf's login is held now (caller frees); NULL. */
char *qmgr_account_held(const struct qfile *qf);

/* qmgr.c */
long long qmgr_now_ms(void);
struct route *qmgr_route(void);
/* Register a descriptor for the next poll (callback runs after it). */
typedef void qmgr_event_fn(int fd, short revents, void *ctx);
void qmgr_watch(int fd, short events, qmgr_event_fn *fn, void *ctx);
void qmgr_deadline(long long when_ms);
/* Ask for a scan of incoming/ (and deferred/ when due) soon. */
void qmgr_want_scan(int deferred_too);
/* Scan one queue now (deferred: only files that are due). */
void qmgr_scan_queue(const char *queue, int due_only);
/* Make sure deferred/ is scanned again by then. */
void qmgr_scan_deferred_at(long long when_ms);
extern int qmgr_active_count;
/* The limits in force: the parameters cut to fit RLIMIT_NOFILE. */
extern long long qmgr_active_limit;
extern long long qmgr_agent_limit;

/* qmgr_message.c */
/*
 * Take a file from incoming/ or deferred/ into active/ and start it.  0
 * (started, or already held, or gone); -1 when qmgr is short of
 * resources (the file went back to deferred/, due in a second): the
 * caller stops its scan.
 */
int qmgr_message_activate(const char *from_path, const char *id);
/* A job finished: results for its recipients (code NULL: all defer). */
void qmgr_message_result(struct qmgr_msg *msg, int n, const char *code,
	const char *dsn, const char *text);
void qmgr_message_job_done(struct qmgr_msg *msg);
/*
 * Recipient n was accepted by a remote SMTP server: with remote_dsn it
 * passed NOTIFY on and reports itself (no notice from us), else a
 * success notice says "relayed".
 */
void qmgr_message_relayed(struct qmgr_msg *msg, int n, int remote_dsn);
/* Pick up whatever a crash left in active/. */
void qmgr_message_recover(void);
/* Is this message being delivered now? */
struct qmgr_msg *qmgr_message_find(const char *id);
/* Is client_addr in mynetworks (whose envelope senders are believed)? */
int qmgr_trusted_client(const char *client_addr);

/* qmgr_archive.c */
/*
 * Put msg into the archives of its archived recipients' and sender's
 * domains and mark the queue file (once: a marked file is skipped).  0
 * done or nothing to archive; -1 not archived (the caller delivers
 * nothing and tries later).
 */
int qmgr_archive(struct qmgr_msg *msg, struct route *r);
/* Seal archive segments that are old and apply retention, every domain. */
void qmgr_archive_maintain(void);

/* qmgr_transport.c */
void qmgr_transport_submit(struct qmgr_job *job);
void qmgr_transport_watch(void);
void qmgr_job_free(struct qmgr_job *job);
struct qmgr_hop *qmgr_hop_get(const char *transport, const char *nexthop);
int qmgr_transport_active(void);
/* Forget which hops are down (the operator asked for a flush). */
void qmgr_transport_revive(void);
/*
 * Reload or master gone: start no more jobs (waiting ones stay waiting,
 * their messages stay in active/ for the next qmgr); the running ones
 * finish, bounded by qmgr_agent_timeout.
 */
void qmgr_transport_drain(void);

/* qmgr_bounce.c */
/* The address the sender wrote for rcpt: its top-level ancestor's. */
const char *qmgr_original_address(const struct qfile *qf,
	const struct qfile_rcpt *r);
/*
 * Queue a DSN about msg's recipients whose outcome is final (failed,
 * delayed or delivered with NOTIFY=SUCCESS), per action: "failed",
 * "delayed", "delivered".  0 ok (or nothing due), -1 could not queue
 * (the caller keeps the message to try again).
 */
int qmgr_bounce(struct qmgr_msg *msg, const char *action,
	const int *rcpts, size_t count);

/* qmgr_ctl.c */
/* Answer one request from ispmailctl or smtpd; reply into out. */
void qmgr_ctl_request(const char *request, const char *id, struct buf *out);
void qmgr_ctl_reply(struct buf *out, const char *status, const char *reason);

#endif

/*
 * lmtpd_deliver: one recipient's delivery of a spooled message into its
 * Maildir++ store, and the quota check that precedes it.
 *
 * A delivery checks the Delivered-To loop, the quota (maildirsize, with
 * the routing directory's limit), writes "Return-Path:" and
 * "Delivered-To:" and the message through maildir_deliver_*() (tmp/,
 * fsync, link into new/, fsync the directory), adds it to maildirsize,
 * and only then says 250.  Each recipient's outcome is independent.
 * Replies are full LMTP reply lines without CRLF.
 */
#ifndef ISPMAIL_LMTPD_DELIVER_H
#define ISPMAIL_LMTPD_DELIVER_H

#include <sys/stat.h>

#include "maildir.h"

struct buf;
struct lmtpd_spool;
struct route;

/* One accepted recipient (a plain record owned by the session). */
struct lmtpd_recipient {
	char *address;		/* as the client wrote it, for replies */
	char *mailbox;		/* the mailbox's canonical address */
	char *store_path;	/* its Maildir++ root */
	char *folder;		/* XFOLDER name, NULL for INBOX */
	long long quota;	/* bytes, 0 = none */
	/*
	 * The maildirsize read at RCPT and what it said: DATA reuses it
	 * when stat(2) finds the very same file (no delivery, expunge or
	 * recalculation since), else reads it again.
	 */
	int quota_seen;
	struct stat quota_file;
	struct maildir_quota quota_usage;
};

void lmtpd_recipient_clear(struct lmtpd_recipient *r);

/*
 * Is there room in r's store for size more bytes and one more message?
 * 1 yes, 0 the mailbox is full, -1 with *error_r (caller frees) when
 * maildirsize cannot be read, recalculated or locked.  size 0 asks
 * whether the mailbox is already full.  Remembers the file read in r.
 */
int lmtpd_quota_room(struct lmtpd_recipient *r, long long size,
	char **error_r);

/* The reply for a full mailbox, per lmtp_quota_full_permanent. */
void lmtpd_quota_full_reply(struct buf *reply, const char *address);

/*
 * Deliver the message to r; the reply line (250, 4xx or 5xx) goes into
 * reply (replaced).  sender is the envelope sender ("" for <>);
 * queue_id the MX's queue id (XQUEUEID, or NULL): a second delivery of
 * it is answered 250 without a copy (lmtpd_seen.h).  Just before the
 * link into new/ the store's moving mark is looked at (one stat; route
 * is asked only about a mark whose lease ended, mailbox_state.h): a
 * mailbox being moved gets 451 4.2.1 and keeps nothing.
 */
void lmtpd_deliver(struct route *route, struct lmtpd_spool *spool,
	const char *sender, const char *queue_id,
	struct lmtpd_recipient *r, struct buf *reply);

#endif

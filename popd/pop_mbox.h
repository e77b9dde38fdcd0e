/*
 * pop_mbox: one POP3 session's maildrop over a Maildir++ store (the
 * INBOX at the store's root; see maildir.h).
 *
 * pop_mbox_open() takes the session lock, moves new/ messages to cur/
 * and takes the snapshot the session works on (RFC 1939 4: message
 * numbers are fixed for the session; mail arriving later waits for the
 * next one).  The lock is an fcntl(2) write lock on "<root>/pop3.lock":
 * the kernel drops it when the process exits or crashes, so a dead
 * session never keeps the mailbox locked.  DELE only marks; the files go
 * when pop_mbox_commit() runs (QUIT), which also updates maildirsize.
 * pop_mbox_close() without a commit leaves every message in place.
 *
 * Message numbers are 1-based.  UIDLs are the file's base name (the part
 * before ":2,", stable across the move to cur/ and flag changes), or,
 * when that is not a valid RFC 1939 unique-id (over 70 characters, or
 * outside 0x21..0x7E), a SHA-256 digest of it in hex.
 */
#ifndef ISPMAIL_POP_MBOX_H
#define ISPMAIL_POP_MBOX_H

#include <stddef.h>

struct pop_mbox;
struct stream;

enum pop_mbox_status {
	POP_MBOX_OK = 0,
	POP_MBOX_IN_USE,	/* another session holds the lock */
	POP_MBOX_LOGIN_DELAY,	/* logged in less than login_delay ago */
	POP_MBOX_FAILED,	/* *error_r says why */
};

/*
 * Open the maildrop at root.  login_delay (seconds, 0 = none): refuse a
 * login sooner than that after the last successful one.  POP_MBOX_OK
 * with *mbox_r set; otherwise nothing is kept (and *error_r, caller
 * frees, is set for POP_MBOX_FAILED).
 */
enum pop_mbox_status pop_mbox_open(const char *root, long long login_delay,
	struct pop_mbox **mbox_r, char **error_r);
/* Release the lock and free; deletions not committed are forgotten. */
void pop_mbox_close(struct pop_mbox **mp);

/* Messages in the snapshot, deleted ones included. */
size_t pop_mbox_count(const struct pop_mbox *m);
/* Messages and octets not marked deleted (STAT). */
void pop_mbox_stat(const struct pop_mbox *m, size_t *count_r,
	long long *octets_r);
/* 1 when n is a message of the snapshot not marked deleted. */
int pop_mbox_exists(const struct pop_mbox *m, size_t n);
/* The size with CRLF line ends, as the client receives it. */
long long pop_mbox_size(const struct pop_mbox *m, size_t n);
const char *pop_mbox_uidl(const struct pop_mbox *m, size_t n);
/* Mark n deleted (caller checked pop_mbox_exists). */
void pop_mbox_delete(struct pop_mbox *m, size_t n);
/* Unmark every message (RSET). */
void pop_mbox_reset(struct pop_mbox *m);

/*
 * Stream message n to s as a multi-line response body (pop_msg.h): the
 * whole message, or with top the header and lines body lines.  The
 * "+OK" line is the caller's; it is written by before_body(ctx) once the
 * file is open, so a message that vanished can still get -ERR.  RETR
 * (not TOP) then marks the message seen.  0 ok; -1 before anything was
 * written (*error_r); -2 when the stream failed or the file could not be
 * read midway (the session cannot go on).
 */
int pop_mbox_send(struct pop_mbox *m, size_t n, struct stream *s, int top,
	size_t lines, void (*before_body)(void *ctx), void *ctx,
	char **error_r);

/*
 * The UPDATE state (RFC 1939 6): remove every message marked deleted,
 * then subtract them from maildirsize.  *removed_r counts the files
 * removed.  0 ok; -1 with *error_r when some could not be removed
 * (the others are gone).
 */
int pop_mbox_commit(struct pop_mbox *m, size_t *removed_r, char **error_r);

/* Is text a valid RFC 1939 unique-id (1-70 chars, 0x21..0x7E)? */
int pop_mbox_uidl_valid(const char *text);

#endif

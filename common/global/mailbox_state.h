/*
 * mailbox_state: an open IMAP or POP3 session's look at its mailbox's
 * state in the routing directory (issue 16).
 *
 * When ispmailctl marks a mailbox as moving to another store host, its
 * open sessions must end so that clients reconnect (through proxyd) to
 * the new host.  Two signals say so:
 *
 *	the move's mark in the store (store_mark.h), which the move sets
 *	through the source's imapd for any routing backend: one stat(2)
 *	per command and per mailbox_state_check_interval while waiting;
 *	the routing directory's state, looked up at most every interval,
 *	with the file backend only (whose lookups are in memory; with
 *	LDAP that would be a search per session every interval).
 *
 * A mark whose lease has ended counts only while the directory still
 * says the mailbox is moving or lives elsewhere (a killed move's mark
 * stops counting).  An interval of 0 turns all of it off.
 */
#ifndef ISPMAIL_MAILBOX_STATE_H
#define ISPMAIL_MAILBOX_STATE_H

#include <stdint.h>

struct route;
struct stream;

struct mailbox_state_check {
	struct route *route;
	const char *address;	/* the logged-in mailbox; NULL: none yet
				   (or an administrator's session) */
	const char *root;	/* its store (the mark); NULL: not looked at */
	int64_t checked_ms;	/* the last lookup (stream_clock_ms) */
	int was_local;		/* its mail host was this host at login */
};

/*
 * Start looking after a login to address, whose routing record named
 * mail_host: c keeps route and address (which must outlive it).
 */
void mailbox_state_start(struct mailbox_state_check *c, struct route *route,
	const char *address, const char *mail_host);

/*
 * Is the mailbox being moved, or moved away?  Looked up when the last
 * lookup is older than the interval (or with force): 1 when it is marked
 * moving or its mail host, this host's at login, no longer is (a move
 * whose mark came and went between two lookups), logged; 0 not (or not
 * looked at; a failed lookup is logged and counts as not).
 */
int mailbox_state_moving(struct mailbox_state_check *c, int force);

/*
 * Wait up to timeout_ms for input on s (without reading it), looking at
 * the state every interval meanwhile, and once more at the end when due:
 * 1 moving; 0 otherwise, with the time left of timeout_ms (at least 1)
 * in *left_ms.  Under stress (the stream's shorter timeout rules) it
 * returns at once.  Goes through the stream waiter, so sessions of a
 * multi-session process go on meanwhile.
 */
int mailbox_state_wait(struct mailbox_state_check *c, struct stream *s,
	int timeout_ms, int *left_ms);

/*
 * Is the mailbox behind root being moved, for a delivery about to link
 * its message (lmtpd) or a session: 1 when root holds the move's mark
 * and its lease holds, or the lease ended and the directory (read
 * directly, no cache) says the mailbox is moving, lives on another host
 * or is gone; 0 not marked (one stat) or a stale mark; -1 the mark or
 * the directory could not be read (*error_r; a delivery answers 4xx).
 */
int mailbox_state_marked(struct route *route, const char *address,
	const char *root, char **error_r);

/*
 * How the directory is read: route_mailbox_get (the default, NULL), or
 * get, with route_mailbox_get's contract, which may run the lookup
 * elsewhere (imapd's lookup threads, imap_lookup.h).  Process-wide.
 */
struct route_mailbox;
typedef int mailbox_state_getter(struct route *route, const char *address,
	struct route_mailbox **mailbox_r, char **error_r);
void mailbox_state_set_getter(mailbox_state_getter *get);

/* The wait in IDLE: timeout_ms cut to the interval when that is shorter. */
int mailbox_state_wait_cap(int timeout_ms);

#endif

/*
 * mailbox_state: an open IMAP or POP3 session's look at its mailbox's
 * state in the routing directory (issue 16).
 *
 * When ispmailctl marks a mailbox as moving to another store host, its
 * open sessions must end so that clients reconnect (through proxyd) to
 * the new host.  The routing directory is the one place that says so,
 * wherever the move runs from; a session looks it up at most every
 * mailbox_state_check_interval, both while it runs commands and while
 * it waits for the client, so a lookup is never made per command.  Only
 * the file backend has the moving state (route.h), whose lookups are in
 * memory; with another backend, or an interval of 0, nothing is looked
 * up.
 */
#ifndef ISPMAIL_MAILBOX_STATE_H
#define ISPMAIL_MAILBOX_STATE_H

#include <stdint.h>

struct route;
struct stream;

struct mailbox_state_check {
	struct route *route;
	const char *address;	/* the logged-in mailbox; NULL: none yet */
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

/* The wait in IDLE: timeout_ms cut to the interval when that is shorter. */
int mailbox_state_wait_cap(int timeout_ms);

#endif

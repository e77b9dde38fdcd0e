/*
 * store_mark: the moving mark in a mailbox's store (issue 16).
 *
 * When ispmailctl mailbox move reaches its final phase it asks the
 * source's imapd (over its administrator session, XMOVING in imapd(8))
 * to write "ispmail-moving" into the store's root.  The mark is a lease:
 * "until=<unix seconds>" says how long it holds without question.  Two
 * readers look at it with one stat(2), so the common case (no mark)
 * costs nothing more:
 *
 *	lmtpd, just before it links a message into new/ (its tmp/ file
 *	written): a marked mailbox gets 451 instead;
 *	imapd and popd sessions, per command and every
 *	mailbox_state_check_interval while they wait: they end.
 *
 * The barrier.  A delivery looks at the mark after its tmp/ file exists
 * and before it links it; whoever sets the mark then waits until every
 * tmp/ file that existed when the mark appeared is gone
 * (store_mark_pending).  So a delivery that did not see the mark has
 * linked its file into new/ before the wait ends, and one that links
 * after the wait saw the mark.  After the lease a reader asks the
 * routing directory (mailbox_state.h): a mark left by a killed move
 * stops counting there.
 *
 * XXX: on NFS a stat(2) may answer from the attribute cache (acregmin):
 * the barrier holds between processes of one host only; store hosts
 * sharing a store over NFS should mount it with noac or lookupcache=none.
 */
#ifndef ISPMAIL_STORE_MARK_H
#define ISPMAIL_STORE_MARK_H

#include <stddef.h>
#include <time.h>

#define STORE_MARK_NAME "ispmail-moving"

/*
 * Mark the store at root as moving until the unix time until: written to
 * a temporary name, fsynced, renamed into place, root fsynced.  0, or -1
 * with *error_r (caller frees).
 */
int store_mark_set(const char *root, time_t until, char **error_r);
/* Remove the mark (none is fine): 0, or -1 with *error_r. */
int store_mark_clear(const char *root, char **error_r);
/*
 * Is the store marked?  1 yes (*until_r: the lease's end; 0 when the
 * file does not say), 0 no (one stat), -1 unreadable (*error_r).  The
 * file is opened without following a symlink.
 */
int store_mark_get(const char *root, time_t *until_r, char **error_r);

/*
 * The files in tmp/ of root and of its folders (".Name/tmp") whose last
 * change is not older than the unix time since: full paths into
 * *paths_r (a NULL-terminated array, *count_r entries; free with
 * store_mark_paths_free), at most max of them (more is -1).  Older ones
 * are leftovers of a crash, no delivery in progress.  0, or -1 with
 * *error_r.
 */
int store_mark_pending(const char *root, time_t since, size_t max,
	char ***paths_r, size_t *count_r, char **error_r);
/* Drop the paths that no longer exist (lstat); the count left. */
size_t store_mark_pending_left(char **paths, size_t count);
void store_mark_paths_free(char ***pathsp, size_t count);

#endif

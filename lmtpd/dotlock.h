/*
 * dotlock: breakable dot-lock files with timeouts, for changes that
 * concern a whole mailbox (the maildirsize recalculation), safe on NFS.
 *
 * The lock for path is the file "<path>.lock".  It is taken by creating a
 * unique file next to it and link(2)ing that to the lock name: link is
 * atomic on every NFS version, where O_EXCL once was not; a link that
 * reports an error is still checked by the unique file's link count (a
 * retransmitted NFS request).  A lock whose modification time is older
 * than stale seconds was left by a crashed process and is removed; a
 * waiter polls with a short back-off until timeout seconds have passed.
 * The lock holds a token naming host, pid and time; release removes the
 * lock only while it still holds ours.
 *
 * XXX: two processes that break the same stale lock at once can both
 * think they hold it (the second unlink removes the first one's fresh
 * lock).  Stale locks are rare and recalculation is idempotent, so this
 * costs a slightly wrong quota count at worst; dovecot accepts the same.
 */
#ifndef ISPMAIL_DOTLOCK_H
#define ISPMAIL_DOTLOCK_H

struct dotlock;

/*
 * Take the lock for path.  1 taken (*lock_r set), 0 not within timeout
 * seconds (another process holds it), -1 with *error_r (caller frees)
 * when the directory cannot be written.  timeout 0 tries once.
 */
int dotlock_take(const char *path, int timeout, int stale,
	struct dotlock **lock_r, char **error_r);

/*
 * Remove the lock when it still holds our token (a warning is logged when
 * someone broke it meanwhile) and free it; NULL allowed; NULLs *lockp.
 */
void dotlock_release(struct dotlock **lockp);

/* The lock file's path (for messages). */
const char *dotlock_path(const struct dotlock *lock);

#endif

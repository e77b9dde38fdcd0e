/*
 * maildir: reading and writing messages in a Maildir++ store (see
 * store.h for the layout).
 *
 * Message files hold the message with LF line ends (as Maildir and
 * Dovecot do).  Their names are "<unique>,S=<bytes>,W=<crlf bytes>" in
 * new/, with ":2,<flags>" appended in cur/: S is the file's size and W
 * the size with CRLF line ends, which POP3 and IMAP report.  <unique> is
 * "<sec>.M<usec>P<pid>Q<n>.<host>", unique across processes and hosts.
 * Flags are the Maildir letters in ASCII order: D(raft) F(lagged)
 * P(assed) R(eplied) S(een) T(rashed), then keyword letters a..z.
 *
 * Delivery writes tmp/, fsyncs the file, links it into new/ (safe on NFS,
 * never overwrites), unlinks the tmp name, fsyncs new/, then adds the
 * message to maildirsize.  Only after maildir_deliver_commit() returned 0
 * may a daemon say the message is delivered.
 *
 * Quota is the Maildir++ maildirsize file: a first line "<bytes>S,<count>C"
 * (the limit; 0 = none), then lines "<bytes> <count>" added with O_APPEND
 * (negative for removals).  It is recalculated from the files when it is
 * missing, unreadable, or grows past 5120 bytes, as Maildir++ says.
 */
#ifndef ISPMAIL_MAILDIR_H
#define ISPMAIL_MAILDIR_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

struct maildir_delivery;

/*
 * Start a delivery into folder_dir (the store root for INBOX, or
 * root/.Name for a folder): opens a new file in tmp/.  NULL with *error_r
 * (caller frees) on failure.
 */
struct maildir_delivery *maildir_deliver_begin(const char *folder_dir,
	char **error_r);
/*
 * Append message bytes.  CRLF line ends are stored as LF (a lone CR is
 * kept).  0 ok; -1 with *error_r on a write error (the delivery must
 * then be aborted).
 */
int maildir_deliver_write(struct maildir_delivery *d, const void *data,
	size_t len, char **error_r);
/*
 * fsync, link into new/ (flags NULL) or into cur/ with ":2,<flags>" (for
 * IMAP APPEND, flags may be ""), fsync the directory, and free d.
 * mtime sets the file's time when not 0 (IMAP INTERNALDATE).  On success
 * *name_r (caller frees, may be NULL) is the new file's base name and
 * *size_r (may be NULL) its S= size.  -1 with *error_r: nothing was
 * delivered and d is freed.
 */
int maildir_deliver_commit(struct maildir_delivery **dp, const char *flags,
	time_t mtime, char **name_r, long long *size_r, char **error_r);
/* Abandon a delivery: unlink the tmp file and free; NULL allowed. */
void maildir_deliver_abort(struct maildir_delivery **dp);

/* One message file found by maildir_scan(). */
struct maildir_entry {
	char *name;		/* file name, relative to its subdir */
	int in_new;		/* 1: in new/, 0: in cur/ */
	long long size;		/* S=, else the file's size */
	long long vsize;	/* W=, else computed by reading the file */
	char *flags;		/* the letters after ":2,", "" if none */
};

/*
 * List the messages of folder_dir's new/ and cur/ (files whose names
 * start with "." are skipped, and what is no regular file), sorted by
 * the <sec>.<usec> of their names, which is delivery order.  Sizes come
 * from the names where they are (no stat, no read).  0 ok; -1 with
 * *error_r.
 */
int maildir_scan(const char *folder_dir, struct maildir_entry **entries_r,
	size_t *count_r, char **error_r);
void maildir_entries_free(struct maildir_entry **entriesp, size_t count);

/*
 * The part of a file name before ":2," (the stable identity of a message
 * across flag changes and the move from new/ to cur/), as a new string.
 */
char *maildir_base_name(const char *name);
/*
 * Move a message from new/ to cur/ or change its flags (rename within
 * the folder; flags sorted and de-duplicated here).  *new_name_r (caller
 * frees; may be NULL) is its name in cur/.  A message that vanished
 * (another session expunged it) is -1 with errno ENOENT.
 */
int maildir_set_flags(const char *folder_dir, const char *name, int in_new,
	const char *flags, char **new_name_r, char **error_r);
/*
 * The same with the folder's new/ (or cur/) and cur/ as descriptors
 * (from_dir_fd is cur_dir_fd for a message in cur/): no walk of the
 * folder's path per message.
 */
int maildir_set_flags_at(int from_dir_fd, int cur_dir_fd, const char *name,
	const char *flags, char **new_name_r, char **error_r);

/* Quota usage and limits of a store (root = the store's top). */
struct maildir_quota {
	long long bytes_limit;		/* 0 = no limit */
	long long count_limit;		/* 0 = no limit */
	long long bytes;		/* in use */
	long long count;
};

/*
 * Read maildirsize (recalculating it when needed).  limit (bytes, 0 =
 * none) is the routing directory's quota: when the file says otherwise
 * it is rewritten with this limit; -1 keeps the file's limit.  0 ok; -1.
 */
int maildir_quota_get(const char *root, long long limit,
	struct maildir_quota *quota_r, char **error_r);
/*
 * The same, and *st_r the fstat of the maildirsize that was read (all
 * zero when the files were counted again instead): a caller that finds
 * the file unchanged later (same device, inode, size, mtime and ctime;
 * writers only append or rename a new file over it) may reuse *quota_r.
 */
struct stat;
int maildir_quota_get_stat(const char *root, long long limit,
	struct maildir_quota *quota_r, struct stat *st_r, char **error_r);
/*
 * Read maildirsize without writing anything (for smtpd's RCPT check):
 * 1 known (*quota_r set), 0 unknown (missing or needs recalculation).
 */
int maildir_quota_peek(const char *root, struct maildir_quota *quota_r);
/* Append "<bytes> <count>" (either may be negative) to maildirsize. */
int maildir_quota_add(const char *root, long long bytes, long long count,
	char **error_r);
/* Rewrite maildirsize from the files with this limit (atomic rename). */
int maildir_quota_recalc(const char *root, long long bytes_limit,
	long long count_limit, struct maildir_quota *quota_r, char **error_r);

#endif

/*
 * store: creating and removing a mailbox's Maildir++ store.
 *
 * A store is a Maildir (cur/, new/, tmp/) whose folders are ".Name"
 * subdirectories, each a Maildir with an empty "maildirfolder" file, with
 * the quota in "maildirsize" (Maildir++) and the IMAP subscriptions in
 * "subscriptions" (one folder name a line).  New stores get the special
 * folders of STORE_SPECIAL_FOLDERS.  Directories are mode 0700, files
 * 0600, owned by the given uid/gid when the caller is root.
 */
#ifndef ISPMAIL_STORE_H
#define ISPMAIL_STORE_H

#include <sys/types.h>

/* The special-use folders every new mailbox gets (RFC 6154 names). */
#define STORE_SPECIAL_FOLDERS { "Sent", "Drafts", "Junk", "Trash" }

/*
 * Create the store at path (absolute) with its folders and quota (bytes,
 * 0 = none); missing parent directories are created mode 0711.  An
 * existing store is completed, not replaced.  uid/gid (uid_t)-1 leave
 * ownership alone.  0 ok; -1 with *error_r (caller frees).
 */
int store_create(const char *path, long long quota, uid_t uid, gid_t gid,
	char **error_r);
/*
 * Remove the store at path and everything in it.  Refused (-1) unless
 * path is absolute, has no ".." component and lies strictly below root
 * (the store_root parameter), so a damaged entry cannot remove anything
 * else.  A missing store is not an error.
 */
int store_remove(const char *path, const char *root, char **error_r);

#endif

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

/* The longest path component a store path may have (NAME_MAX). */
#define STORE_NAME_MAX 255

/*
 * Is name (len bytes) safe as one component of a store path?  Refused:
 * empty, "." and "..", a leading '.' (that is a Maildir++ folder, so the
 * store would sit inside another mailbox's), '/', NUL, control characters
 * and DEL, more than STORE_NAME_MAX bytes.  Provisioning refuses such a
 * local part rather than encoding it, as Dovecot does with
 * auth_username_chars.  1 safe, 0 not.
 */
int store_name_ok(const char *name, size_t len);
/*
 * Check a mailbox's store path before anything uses it: absolute, no
 * empty, "." or ".." component, no control character, and a last
 * component that store_name_ok() accepts.  0 ok; -1 with *error_r (caller
 * frees).
 */
int store_path_check(const char *path, char **error_r);
/*
 * Create the store at path (absolute) with its folders and quota (bytes,
 * 0 = none); missing parent directories are created mode 0711.  An
 * existing store is completed, not replaced, and never through a symlink:
 * each directory is opened O_NOFOLLOW walking from "/", and a symlink is
 * followed only in a directory only root (or the caller) can change.
 * uid/gid (uid_t)-1 leave
 * ownership alone.  0 ok; -1 with *error_r (caller frees).
 */
int store_create(const char *path, long long quota, uid_t uid, gid_t gid,
	char **error_r);
/*
 * Create the folder name (one component, store_name_ok()) in the existing
 * store at path, the way imapd's CREATE makes it (".name" Maildir with a
 * "maildirfolder" file) and subscribe it; what exists is kept.  Special
 * use follows the name (RFC 6154: "Junk" is \Junk).  Directories are
 * opened O_NOFOLLOW; when the caller is root, what is made belongs to
 * the store's owner.  0 ok; -1 with *error_r (caller frees).
 */
int store_folder_create(const char *path, const char *name, char **error_r);
/*
 * Remove the store at path and everything in it.  Refused (-1) unless
 * path is absolute, has no ".." component and lies strictly below root
 * (the store_root parameter), so a damaged entry cannot remove anything
 * else.  A missing store is not an error.
 */
int store_remove(const char *path, const char *root, char **error_r);

#endif

/*
 * fileio: the few file operations the durable writers (queue files,
 * Maildir deliveries) share.
 */
#ifndef ISPMAIL_FILEIO_H
#define ISPMAIL_FILEIO_H

#include <stddef.h>

/*
 * Write all len bytes to fd (retrying short writes and EINTR).  0 ok;
 * -1 with *error_r "write NAME: reason" (caller frees) and errno kept.
 */
int fileio_write_all(int fd, const void *data, size_t len, const char *name,
	char **error_r);
/* fsync a directory (after a link or rename into it).  0 ok; -1. */
int fileio_fsync_dir(const char *dir, char **error_r);

/*
 * One durable write per file: a complete new file is made durable under
 * its final name with one journal commit instead of two (the file's
 * fsync, then its directory's).
 *
 *  1. fileio_durable_prepare(): write the data out and wait for it
 *     (sync_file_range), which allocates its blocks without a commit;
 *  2. the caller links the file to its final name;
 *  3. fileio_durable_commit(): fsync the file.  The link changed the
 *     inode (its link count), so on a journaling file system (ext4, XFS,
 *     btrfs) the commit carries the inode, the block allocation and the
 *     new directory entry together; the data was on disk before any
 *     commit that could carry the name, so no crash leaves the name on
 *     an empty or partial file.
 *
 * With fileio_fsync_directories (main.conf fsync_directories) the
 * directory is fsync()ed too, for file systems where a file's fsync does
 * not cover its names (ext2, some network file systems).  0 ok; -1 with
 * *error_r and errno kept (ENOSPC is answered 452).
 */
extern int fileio_fsync_directories;
int fileio_durable_prepare(int fd, const char *name, char **error_r);
int fileio_durable_commit(int fd, const char *name, const char *dir,
	char **error_r);
/*
 * Bytes free for unprivileged users on the file system of path
 * (statvfs f_bavail).  0 ok; -1 with *error_r.
 */
int fileio_free_bytes(const char *path, unsigned long long *free_r,
	char **error_r);
/* 1 when errno says the file system (or the user's quota) is full. */
int fileio_errno_full(int err);

#endif

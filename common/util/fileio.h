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
 * Bytes free for unprivileged users on the file system of path
 * (statvfs f_bavail).  0 ok; -1 with *error_r.
 */
int fileio_free_bytes(const char *path, unsigned long long *free_r,
	char **error_r);
/* 1 when errno says the file system (or the user's quota) is full. */
int fileio_errno_full(int err);

#endif

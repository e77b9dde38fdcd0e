/*
 * fileio: the few file operations the durable writers (queue files,
 * Maildir deliveries) share.
 */
#ifndef ISPMAIL_FILEIO_H
#define ISPMAIL_FILEIO_H

#include <stddef.h>

/*
 * Write all len bytes to fd (retrying short writes and EINTR).  0 ok;
 * -1 with *error_r "write NAME: reason" (caller frees).
 */
int fileio_write_all(int fd, const void *data, size_t len, const char *name,
	char **error_r);
/* fsync a directory (after a link or rename into it).  0 ok; -1. */
int fileio_fsync_dir(const char *dir, char **error_r);

#endif

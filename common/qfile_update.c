/*
 * qfile_update: changing a queue file in place (state bytes) and
 * appending records; see qfile.h and ispmail-queue(5).
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "qfile.h"
#include "xalloc.h"

int
qfile_set_state(int fd, off_t offset, char state, char **error_r)
{
	if (pwrite(fd, &state, 1, offset) != 1) {
		*error_r = xasprintf("update queue file: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int
qfile_append(int fd, const struct buf *rec, int sync, char **error_r)
{
	ssize_t n;

	/* Not O_APPEND: Linux pwrite(2) would append too (qfile_set_state). */
	if (lseek(fd, 0, SEEK_END) < 0) {
		*error_r = xasprintf("seek queue file: %s", strerror(errno));
		return -1;
	}
	n = write(fd, buf_cstr(rec), buf_len(rec));
	if (n != (ssize_t) buf_len(rec)) {
		*error_r = xasprintf("append to queue file: %s",
		    n < 0 ? strerror(errno) : "short write");
		return -1;
	}
	if (sync && fsync(fd) < 0) {
		*error_r = xasprintf("fsync queue file: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * qfile_update: changing a queue file in place (state bytes) and
 * appending records; see qfile.h and ispmail-queue(5).
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "fileio.h"
#include "log.h"
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

/*
 * A last line without its LF is a record torn by a crash mid-append: cut
 * it off, or the next record would join it into a line that is garbage
 * in the middle of the file.  *end_r is the length afterwards.
 */
static int
qfile_heal_tail(int fd, off_t *end_r, char **error_r)
{
	char chunk[4096];
	off_t pos = *end_r, floor = *end_r - QFILE_RECORD_MAX;
	ssize_t n, i;

	while (pos > 0 && pos > floor) {
		n = pos < (off_t) sizeof(chunk) ? (ssize_t) pos :
		    (ssize_t) sizeof(chunk);
		if (pread(fd, chunk, (size_t) n, pos - n) != n) {
			*error_r = xasprintf("read queue file: %s",
			    strerror(errno));
			return -1;
		}
		for (i = n; i > 0 && chunk[i - 1] != '\n'; i--)
			;
		if (i > 0) {
			pos -= n - i;
			if (pos < *end_r && ftruncate(fd, pos) < 0) {
				*error_r = xasprintf("truncate queue file: "
				    "%s", strerror(errno));
				return -1;
			}
			*end_r = pos;
			return 0;
		}
		pos -= n;
	}
	*error_r = xasprintf("queue file has no complete last record");
	return -1;
}

int
qfile_append(int fd, const struct buf *rec, int sync, char **error_r)
{
	off_t end;

	/* Not O_APPEND: Linux pwrite(2) would append too (qfile_set_state). */
	if ((end = lseek(fd, 0, SEEK_END)) < 0) {
		*error_r = xasprintf("seek queue file: %s", strerror(errno));
		return -1;
	}
	if (qfile_heal_tail(fd, &end, error_r) < 0)
		return -1;
	if (lseek(fd, end, SEEK_SET) < 0) {
		*error_r = xasprintf("seek queue file: %s", strerror(errno));
		return -1;
	}
	if (fileio_write_all(fd, buf_cstr(rec), buf_len(rec), "queue file",
	    error_r) < 0) {
		/* Disk full: what did fit would join the next record. */
		if (ftruncate(fd, end) < 0)
			log_error("truncate queue file after a failed "
			    "append: %s", strerror(errno));
		return -1;
	}
	if (sync && fsync(fd) < 0) {
		*error_r = xasprintf("fsync queue file: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * fileio: shared file operations; see fileio.h.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "fileio.h"
#include "xalloc.h"

int
fileio_write_all(int fd, const void *data, size_t len, const char *name,
	char **error_r)
{
	const char *p = data;
	size_t off = 0;
	ssize_t n;

	while (off < len) {
		n = write(fd, p + off, len - off);
		if (n < 0) {
			int saved_errno = errno;

			if (errno == EINTR)
				continue;
			*error_r = xasprintf("write %s: %s", name,
			    strerror(errno));
			errno = saved_errno;	/* ENOSPC answers differently */
			return -1;
		}
		off += (size_t) n;
	}
	return 0;
}

int
fileio_fsync_dir(const char *dir, char **error_r)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || fsync(fd) < 0) {
		*error_r = xasprintf("fsync %s: %s", dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int fileio_fsync_directories;

int
fileio_durable_prepare(int fd, const char *name, char **error_r)
{
	int saved_errno;

	if (sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WAIT_BEFORE |
	    SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER) < 0 &&
	    errno != ESPIPE && errno != EINVAL) {
		saved_errno = errno;
		*error_r = xasprintf("write out %s: %s", name, strerror(errno));
		errno = saved_errno;
		return -1;
	}
	return 0;
}

int
fileio_durable_commit(int fd, const char *name, const char *dir,
	char **error_r)
{
	int saved_errno;

	if (fsync(fd) < 0) {
		saved_errno = errno;
		*error_r = xasprintf("fsync %s: %s", name, strerror(errno));
		errno = saved_errno;
		return -1;
	}
	if (fileio_fsync_directories)
		return fileio_fsync_dir(dir, error_r);
	return 0;
}

int
fileio_free_bytes(const char *path, unsigned long long *free_r,
	char **error_r)
{
	struct statvfs sv;

	if (statvfs(path, &sv) < 0) {
		*error_r = xasprintf("statvfs %s: %s", path, strerror(errno));
		return -1;
	}
	*free_r = (unsigned long long) sv.f_bavail *
	    (unsigned long long) sv.f_frsize;
	return 0;
}

int
fileio_errno_full(int err)
{
	return err == ENOSPC || err == EDQUOT || err == EFBIG;
}

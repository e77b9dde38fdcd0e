/*
 * lmtpd_seen: duplicate suppression by the MX's queue id; see
 * lmtpd_seen.h.
 */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lmtpd_seen.h"
#include "log.h"
#include "mail_params.h"
#include "qfile.h"
#include "xalloc.h"

#define SEEN_DIR "ispmail-delivered"
/* The stamp whose mtime says when the markers were last expired. */
#define SEEN_STAMP ".expired"
/* Markers removed per expiry pass at most (the rest next time). */
#define SEEN_EXPIRE_MAX 10000
/* The anchors' names: ".b-" and the number of the time slice. */
#define SEEN_ANCHOR ".b-"
/* Slices per window: a marker's age is known to within one slice. */
#define SEEN_SLICES 16

/* The marker's name: QUEUEID-HASH, or NULL when there is none. */
/*
 * The time slice, in seconds (at least 1).  A marker is a hard link to
 * its slice's anchor, an empty file made at the first delivery in that
 * slice: a directory entry per delivery instead of a new inode, the
 * expensive part of creating a file.  Its mtime is the anchor's, at most
 * one slice before the delivery, so a marker counts for the window plus
 * one slice at most.
 */
static long long
seen_slice(void)
{
	long long slice = var_lmtp_duplicate_window / SEEN_SLICES;

	return slice > 0 ? slice : 1;
}

static char *
seen_name(const char *queue_id, const char *address)
{
	uint32_t h = 2166136261U;
	const char *p;

	if (var_lmtp_duplicate_window <= 0 || queue_id == NULL ||
	    !qfile_id_valid(queue_id))
		return NULL;
	for (p = address; *p != '\0'; p++)
		h = (h ^ (unsigned char) tolower((unsigned char) *p)) *
		    16777619U;
	return xasprintf("%s-%08x", queue_id, (unsigned int) h);
}

int
lmtpd_seen_check(const char *root, const char *queue_id,
	const char *address)
{
	char *name = seen_name(queue_id, address), *path;
	struct stat st;
	int seen;

	if (name == NULL)
		return 0;
	path = xasprintf("%s/%s/%s", root, SEEN_DIR, name);
	seen = lstat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	    (long long) (time(NULL) - st.st_mtime) <
	    var_lmtp_duplicate_window + seen_slice();
	free(path);
	free(name);
	return seen;
}

/* Remove markers older than the window (a pass at most every quarter). */
static void
seen_expire(const char *dir)
{
	char *stamp = xasprintf("%s/%s", dir, SEEN_STAMP);
	long long every = var_lmtp_duplicate_window / 4;
	time_t now = time(NULL);
	struct dirent *de;
	struct stat st;
	DIR *d;
	int fd, n = 0;

	if (every < 60)
		every = 60;
	if (lstat(stamp, &st) == 0 && (long long) (now - st.st_mtime) < every) {
		free(stamp);
		return;
	}
	fd = open(stamp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (fd >= 0) {
		(void) futimens(fd, NULL);
		(void) close(fd);
	}
	free(stamp);
	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL && n < SEEN_EXPIRE_MAX) {
		if (de->d_name[0] == '.' && strncmp(de->d_name, SEEN_ANCHOR,
		    strlen(SEEN_ANCHOR)) != 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0
		    && (long long) (now - st.st_mtime) >=
		    var_lmtp_duplicate_window + seen_slice() &&
		    unlinkat(dirfd(d), de->d_name, 0) == 0)
			n++;
	}
	(void) closedir(d);
}

/*
 * The current slice's anchor in dir (made when missing, or replaced
 * when its mtime is older than its slice: someone changed it), as a
 * path; NULL with errno when it cannot be made (ENOENT: no dir yet).
 */
static char *
seen_anchor(const char *dir, time_t now)
{
	long long slice = seen_slice(), num = (long long) now / slice;
	char *path = xasprintf("%s/%s%lld", dir, SEEN_ANCHOR, num), *tmp;
	struct stat st;
	int fd, saved_errno;

	if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	    (long long) st.st_mtime >= num * slice)
		return path;
	tmp = xasprintf("%s.%ld", path, (long) getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd < 0 || futimens(fd, NULL) < 0 || rename(tmp, path) < 0) {
		saved_errno = errno;
		if (fd >= 0)
			(void) unlink(tmp);
		xfree(path);
		errno = saved_errno;
	}
	if (fd >= 0)
		(void) close(fd);
	free(tmp);
	return path;
}

/* The marker as a file of its own (no anchor, or its links are full). */
static void
seen_record_file(const char *path)
{
	int fd;

	/* An old marker of the same name is refreshed. */
	fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		log_warn("duplicate marker %s: %m", path);
		return;
	}
	(void) futimens(fd, NULL);
	(void) close(fd);
}

void
lmtpd_seen_record(const char *root, const char *queue_id,
	const char *address)
{
	char *name = seen_name(queue_id, address), *dir, *path, *anchor;
	int rc;

	if (name == NULL)
		return;
	dir = xasprintf("%s/%s", root, SEEN_DIR);
	path = xasprintf("%s/%s", dir, name);
	/*
	 * Not fsynced: a marker lost in a crash of this host only reopens
	 * the window it closes.  An old marker of the same name (a queue id
	 * reused after the window) is replaced.
	 */
	anchor = seen_anchor(dir, time(NULL));
	if (anchor == NULL && errno == ENOENT) {
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			log_warn("mkdir %s: %m", dir);
		anchor = seen_anchor(dir, time(NULL));
	}
	if (anchor == NULL)
		log_warn("duplicate marker anchor in %s: %m", dir);
	rc = anchor != NULL ? link(anchor, path) : -1;
	if (rc < 0 && anchor != NULL && errno == EEXIST &&
	    unlink(path) == 0)
		rc = link(anchor, path);
	if (rc < 0)
		seen_record_file(path);
	seen_expire(dir);
	free(anchor);
	free(path);
	free(dir);
	free(name);
}

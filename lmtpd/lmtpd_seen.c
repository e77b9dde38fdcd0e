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

/* The marker's name: QUEUEID-HASH, or NULL when there is none. */
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
	    (long long) (time(NULL) - st.st_mtime) < var_lmtp_duplicate_window;
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
		if (de->d_name[0] == '.')
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0
		    && (long long) (now - st.st_mtime) >=
		    var_lmtp_duplicate_window &&
		    unlinkat(dirfd(d), de->d_name, 0) == 0)
			n++;
	}
	(void) closedir(d);
}

void
lmtpd_seen_record(const char *root, const char *queue_id,
	const char *address)
{
	char *name = seen_name(queue_id, address), *dir, *path;
	int fd;

	if (name == NULL)
		return;
	dir = xasprintf("%s/%s", root, SEEN_DIR);
	path = xasprintf("%s/%s", dir, name);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		log_warn("mkdir %s: %m", dir);
	/*
	 * Not fsynced: a marker lost in a crash of this host only reopens
	 * the window it closes.  An old marker of the same name (a queue id
	 * reused after the window) is refreshed.
	 */
	fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		log_warn("duplicate marker %s: %m", path);
	} else {
		(void) futimens(fd, NULL);
		(void) close(fd);
	}
	seen_expire(dir);
	free(path);
	free(dir);
	free(name);
}

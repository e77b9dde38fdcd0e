/* store_mark: the moving mark in a store; see store_mark.h. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "store_mark.h"
#include "xalloc.h"

/* The mark's text: "until=<digits>\n" and nothing much more. */
#define MARK_TEXT_MAX 64

int
store_mark_set(const char *root, time_t until, char **error_r)
{
	char *tmp = xasprintf("%s/%s.tmp", root, STORE_MARK_NAME);
	char *path = xasprintf("%s/%s", root, STORE_MARK_NAME);
	char *text = xasprintf("until=%lld\n", (long long) until);
	int fd, rc = -1;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd < 0) {
		*error_r = xasprintf("create %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (fileio_write_all(fd, text, strlen(text), tmp, error_r) < 0) {
		close(fd);
		(void) unlink(tmp);
		goto out;
	}
	if (fsync(fd) < 0 || close(fd) < 0 || rename(tmp, path) < 0) {
		*error_r = xasprintf("write %s: %s", path, strerror(errno));
		(void) unlink(tmp);
		goto out;
	}
	rc = fileio_fsync_dir(root, error_r);
out:
	free(text);
	free(path);
	free(tmp);
	return rc;
}

int
store_mark_clear(const char *root, char **error_r)
{
	char *path = xasprintf("%s/%s", root, STORE_MARK_NAME);
	int rc = 0;

	if (unlink(path) < 0 && errno != ENOENT) {
		*error_r = xasprintf("remove %s: %s", path, strerror(errno));
		rc = -1;
	}
	free(path);
	return rc;
}

int
store_mark_get(const char *root, time_t *until_r, char **error_r)
{
	char *path = xasprintf("%s/%s", root, STORE_MARK_NAME);
	char text[MARK_TEXT_MAX + 1];
	struct stat st;
	long long until = 0;
	ssize_t n;
	int fd;

	*until_r = 0;
	/* The common case: no mark, one stat. */
	if (lstat(path, &st) < 0 && errno == ENOENT) {
		free(path);
		return 0;
	}
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT) {	/* cleared meanwhile */
			free(path);
			return 0;
		}
		*error_r = xasprintf("open %s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	do
		n = read(fd, text, MARK_TEXT_MAX);
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n < 0) {
		*error_r = xasprintf("read %s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	free(path);
	text[n] = '\0';
	/* A damaged mark still marks: the directory decides (until 0). */
	if (sscanf(text, "until=%lld", &until) == 1 && until > 0)
		*until_r = (time_t) until;
	return 1;
}

/* Append dir's entries changed at or after since to *paths. */
static int
mark_scan_tmp(const char *dir, time_t since, size_t max, char ***paths,
	size_t *count, char **error_r)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	struct stat st;

	if (d == NULL) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		*error_r = xasprintf("open %s: %s", dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), e->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) < 0 || st.st_mtime < since)
			continue;
		if (*count >= max) {
			*error_r = xasprintf("%s: more than %zu files", dir,
			    max);
			closedir(d);
			return -1;
		}
		*paths = xreallocarray(*paths, *count + 2, sizeof(**paths));
		(*paths)[(*count)++] = xasprintf("%s/%s", dir, e->d_name);
		(*paths)[*count] = NULL;
	}
	closedir(d);
	return 0;
}

int
store_mark_pending(const char *root, time_t since, size_t max,
	char ***paths_r, size_t *count_r, char **error_r)
{
	char **paths = xcalloc(1, sizeof(*paths)), *dir;
	size_t count = 0;
	struct dirent *e;
	struct stat st;
	DIR *d;
	int rc;

	dir = xasprintf("%s/tmp", root);
	rc = mark_scan_tmp(dir, since, max, &paths, &count, error_r);
	free(dir);
	d = rc == 0 ? opendir(root) : NULL;
	if (rc == 0 && d == NULL) {
		*error_r = xasprintf("open %s: %s", root, strerror(errno));
		rc = -1;
	}
	while (rc == 0 && (e = readdir(d)) != NULL) {
		/* Folders: ".Name" directories, never through a symlink. */
		if (e->d_name[0] != '.' || strcmp(e->d_name, ".") == 0 ||
		    strcmp(e->d_name, "..") == 0 ||
		    fstatat(dirfd(d), e->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
			continue;
		dir = xasprintf("%s/%s/tmp", root, e->d_name);
		rc = mark_scan_tmp(dir, since, max, &paths, &count, error_r);
		free(dir);
	}
	if (d != NULL)
		closedir(d);
	if (rc < 0) {
		store_mark_paths_free(&paths, count);
		return -1;
	}
	*paths_r = paths;
	*count_r = count;
	return 0;
}

size_t
store_mark_pending_left(char **paths, size_t count)
{
	struct stat st;
	size_t i, left = 0;

	for (i = 0; i < count; i++) {
		if (lstat(paths[i], &st) < 0 && errno == ENOENT) {
			free(paths[i]);
			continue;
		}
		paths[left++] = paths[i];
	}
	paths[left] = NULL;
	return left;
}

void
store_mark_paths_free(char ***pathsp, size_t count)
{
	char **paths = *pathsp;

	if (paths == NULL)
		return;
	while (count > 0)
		free(paths[--count]);
	free(paths);
	*pathsp = NULL;
}

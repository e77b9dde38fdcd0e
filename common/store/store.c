/* store: Maildir++ creation and removal for provisioning. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "store.h"
#include "xalloc.h"

int
store_name_ok(const char *name, size_t len)
{
	size_t i;

	if (len == 0 || len > STORE_NAME_MAX || name[0] == '.')
		return 0;
	for (i = 0; i < len; i++)
		if (name[i] == '/' || (unsigned char) name[i] < 0x20
		    || name[i] == 0x7f)
			return 0;
	return 1;
}

int
store_path_check(const char *path, char **error_r)
{
	const char *p = path + 1, *end;
	size_t len, i;
	int ok, last;

	if (path[0] != '/') {
		*error_r = xasprintf("store path %s is not absolute", path);
		return -1;
	}
	for (;;) {
		end = strchr(p, '/');
		len = end != NULL ? (size_t) (end - p) : strlen(p);
		/* One trailing '/' is allowed ("/var/vmail/d/u/"). */
		last = end == NULL || end[1] == '\0';
		/* Parents may be dot directories; the store itself not. */
		ok = last ? store_name_ok(p, len) : len > 0
		    && !(len == 1 && p[0] == '.')
		    && !(len == 2 && p[0] == '.' && p[1] == '.');
		for (i = 0; ok && i < len; i++)
			if ((unsigned char) p[i] < 0x20 || p[i] == 0x7f)
				ok = 0;
		if (!ok) {
			*error_r = xasprintf("store path %s: unsafe component "
			    "\"%.*s\"", path, (int) len, p);
			return -1;
		}
		if (last)
			return 0;
		p = end + 1;
	}
}

/*
 * Creation walks the path with openat() from "/" and never names a path
 * twice: every directory is opened O_NOFOLLOW and changed through its
 * descriptor (fchown), every file is created O_EXCL|O_NOFOLLOW, so a
 * symlink the store owner plants below store_root cannot make root chown
 * or write anything else.  A symlink is followed only in a directory
 * nobody but root (or the caller) can change: one in /var (/var/vmail ->
 * /srv/vmail) works, one inside a store does not.
 */
struct store_walk {
	uid_t uid;
	gid_t gid;
	struct buf *path;	/* the path so far, for messages */
};

/* May a symlink in the directory dirfd be followed? */
static int
store_dir_trusted(int dirfd)
{
	struct stat st;

	if (fstat(dirfd, &st) < 0)
		return 0;
	return (st.st_uid == 0 || st.st_uid == geteuid())
	    && (st.st_mode & (S_IWGRP | S_IWOTH)) == 0;
}

static int
store_walk_fail(struct store_walk *w, const char *what, char **error_r)
{
	*error_r = xasprintf("%s %s: %s", what, buf_cstr(w->path),
	    strerror(errno));
	return -1;
}

/*
 * Open (creating it with mode when missing) the directory name below
 * dirfd; chown it when own.  The new descriptor, or -1 with *error_r.
 */
static int
store_open_dir(struct store_walk *w, int dirfd, const char *name,
	mode_t mode, int own, char **error_r)
{
	int fd, flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

	if (buf_printf(w->path, "%s%s", buf_len(w->path) > 1 ? "/" : "",
	    name) < 0) {
		*error_r = xstrdup("store path too long");
		return -1;
	}
	if (mkdirat(dirfd, name, mode) < 0 && errno != EEXIST)
		return store_walk_fail(w, "mkdir", error_r);
	fd = openat(dirfd, name, flags);
	if (fd < 0 && (errno == ELOOP || errno == ENOTDIR)
	    && store_dir_trusted(dirfd))
		fd = openat(dirfd, name, flags & ~O_NOFOLLOW);
	if (fd < 0)
		return store_walk_fail(w, "open directory", error_r);
	if (own && w->uid != (uid_t) -1 && fchown(fd, w->uid, w->gid) < 0) {
		(void) store_walk_fail(w, "chown", error_r);
		close(fd);
		return -1;
	}
	return fd;
}

/* Create name below dirfd with content unless it exists (kept as is). */
static int
store_write_file(struct store_walk *w, int dirfd, const char *name,
	const char *content, char **error_r)
{
	size_t base = buf_len(w->path), len = strlen(content);
	int fd, rc = 0;

	(void) buf_printf(w->path, "/%s", name);
	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW
	    | O_CLOEXEC, 0600);
	if (fd < 0 && errno != EEXIST)
		rc = store_walk_fail(w, "create", error_r);
	else if (fd >= 0 && ((len > 0
	    && write(fd, content, len) != (ssize_t) len)
	    || (w->uid != (uid_t) -1 && fchown(fd, w->uid, w->gid) < 0)))
		rc = store_walk_fail(w, "write", error_r);
	if (fd >= 0 && close(fd) < 0 && rc == 0)
		rc = store_walk_fail(w, "close", error_r);
	buf_truncate(w->path, base);
	return rc;
}

/* One Maildir: cur/ new/ tmp/ below the open directory dirfd. */
static int
store_maildir(struct store_walk *w, int dirfd, char **error_r)
{
	static const char *const subdirs[] = { "cur", "new", "tmp" };
	size_t base = buf_len(w->path), i;
	int fd;

	for (i = 0; i < 3; i++) {
		fd = store_open_dir(w, dirfd, subdirs[i], 0700, 1, error_r);
		buf_truncate(w->path, base);
		if (fd < 0)
			return -1;
		close(fd);
	}
	return 0;
}

/*
 * Open the store directory of path, creating missing parents mode 0711
 * (owned by the caller) and the store itself mode 0700 (chowned).
 */
static int
store_open_top(struct store_walk *w, const char *path, char **error_r)
{
	char *copy = xstrdup(path), *name, *next, *save = NULL;
	int dirfd, fd = -1;

	buf_set(w->path, "/", 1);
	dirfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		(void) store_walk_fail(w, "open", error_r);
	for (name = strtok_r(copy, "/", &save); dirfd >= 0 && name != NULL;
	    name = next) {
		next = strtok_r(NULL, "/", &save);
		fd = store_open_dir(w, dirfd, name, next != NULL ? 0711 : 0700,
		    next == NULL, error_r);
		close(dirfd);
		dirfd = fd;
	}
	free(copy);
	return dirfd;
}

int
store_create(const char *path, long long quota, uid_t uid, gid_t gid,
	char **error_r)
{
	static const char *const folders[] = STORE_SPECIAL_FOLDERS;
	struct store_walk w = { uid, gid, buf_new(4096) };
	struct buf *subs = buf_new(4096);
	char quota_line[64], folder[STORE_NAME_MAX + 1];
	size_t i, base;
	int top = -1, fd, rc = -1;

	*error_r = NULL;
	if (store_path_check(path, error_r) < 0
	    || (top = store_open_top(&w, path, error_r)) < 0
	    || store_maildir(&w, top, error_r) < 0)
		goto out;
	base = buf_len(w.path);
	for (i = 0; i < sizeof(folders) / sizeof(folders[0]); i++) {
		(void) buf_printf(subs, "%s\n", folders[i]);
		snprintf(folder, sizeof(folder), ".%s", folders[i]);
		fd = store_open_dir(&w, top, folder, 0700, 1, error_r);
		if (fd < 0)
			goto out;
		rc = store_maildir(&w, fd, error_r) < 0 ? -1
		    : store_write_file(&w, fd, "maildirfolder", "", error_r);
		close(fd);
		buf_truncate(w.path, base);
		if (rc < 0)
			goto out;
		rc = -1;
	}
	/* Maildir++: the quota definition, then "bytes count" lines. */
	snprintf(quota_line, sizeof(quota_line), "%lldS\n0 0\n",
	    quota > 0 ? quota : 0);
	if (store_write_file(&w, top, "subscriptions", buf_cstr(subs),
	    error_r) < 0
	    || store_write_file(&w, top, "maildirsize",
	    quota > 0 ? quota_line : "0 0\n", error_r) < 0)
		goto out;
	rc = 0;
out:
	if (top >= 0)
		close(top);
	buf_free(&w.path);
	buf_free(&subs);
	return rc;
}

/*
 * The subscriptions file of the open store top with name added (kept as
 * is when it is there): read, then a new file renamed over the old one,
 * the way imapd writes it.  Lines are capped at STORE_NAME_MAX, the file
 * at STORE_SUBSCRIPTIONS_MAX.
 */
#define STORE_SUBSCRIPTIONS_MAX (1024 * 1024)

static int
store_subscribe(struct store_walk *w, int top, const char *name,
	char **error_r)
{
	struct buf *subs = buf_new(STORE_SUBSCRIPTIONS_MAX);
	char chunk[4096], tmp[64];
	const char *p, *nl, *next;
	size_t len = strlen(name), line;
	ssize_t n;
	int fd, rc = 0, found = 0;

	fd = openat(top, "subscriptions", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno != ENOENT)
		rc = store_walk_fail(w, "open subscriptions in", error_r);
	while (fd >= 0 && rc == 0 && (n = read(fd, chunk, sizeof(chunk))) != 0)
		if (n < 0 || buf_append(subs, chunk, (size_t) n) < 0)
			rc = store_walk_fail(w, "read subscriptions in",
			    error_r);
	if (fd >= 0)
		close(fd);
	for (p = buf_cstr(subs); rc == 0 && *p != '\0'; p = next) {
		nl = strchr(p, '\n');
		line = nl != NULL ? (size_t) (nl - p) : strlen(p);
		if (line == len && memcmp(p, name, len) == 0)
			found = 1;
		next = p + line + (nl != NULL);
	}
	if (rc == 0 && !found) {
		if (buf_len(subs) > 0 && buf_cstr(subs)[buf_len(subs) - 1]
		    != '\n')
			(void) buf_append(subs, "\n", 1);
		snprintf(tmp, sizeof(tmp), "subscriptions.%ld.tmp",
		    (long) getpid());
		(void) unlinkat(top, tmp, 0);
		if (buf_printf(subs, "%s\n", name) < 0) {
			*error_r = xstrdup("subscriptions file too long");
			rc = -1;
		} else if ((rc = store_write_file(w, top, tmp, buf_cstr(subs),
		    error_r)) == 0 && renameat(top, tmp, top,
		    "subscriptions") < 0) {
			rc = store_walk_fail(w, "rename subscriptions in",
			    error_r);
			(void) unlinkat(top, tmp, 0);
		}
	}
	buf_free(&subs);
	return rc;
}

int
store_folder_create(const char *path, const char *name, char **error_r)
{
	struct store_walk w = { (uid_t) -1, (gid_t) -1, buf_new(4096) };
	char folder[STORE_NAME_MAX + 2];
	struct stat st;
	int top = -1, fd = -1, rc = -1;

	*error_r = NULL;
	if (!store_name_ok(name, strlen(name))) {
		*error_r = xasprintf("unsafe folder name");
		goto out;
	}
	if (store_path_check(path, error_r) < 0)
		goto out;
	/* The store must exist; its owner owns what is made in it. */
	top = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (top < 0 || fstat(top, &st) < 0) {
		*error_r = xasprintf("open %s: %s", path, strerror(errno));
		goto out;
	}
	if (geteuid() == 0) {
		w.uid = st.st_uid;
		w.gid = st.st_gid;
	}
	buf_set(w.path, path, strlen(path));
	snprintf(folder, sizeof(folder), ".%s", name);
	if ((fd = store_open_dir(&w, top, folder, 0700, 1, error_r)) < 0
	    || store_maildir(&w, fd, error_r) < 0
	    || store_write_file(&w, fd, "maildirfolder", "", error_r) < 0)
		goto out;
	buf_set(w.path, path, strlen(path));
	rc = store_subscribe(&w, top, name, error_r);
out:
	if (fd >= 0)
		close(fd);
	if (top >= 0)
		close(top);
	buf_free(&w.path);
	return rc;
}

static int
store_unlink_one(const char *path, const struct stat *st, int type,
	struct FTW *ftw)
{
	(void) st;
	(void) ftw;
	if (type == FTW_DP)
		return rmdir(path) < 0 ? -1 : 0;
	return unlink(path) < 0 ? -1 : 0;
}

int
store_remove(const char *path, const char *root, char **error_r)
{
	size_t root_len = strlen(root);
	struct stat st;

	while (root_len > 1 && root[root_len - 1] == '/')
		root_len--;
	if (path[0] != '/' || root[0] != '/' || strstr(path, "/..") != NULL
	    || strncmp(path, root, root_len) != 0 || path[root_len] != '/'
	    || path[root_len + 1] == '\0') {
		*error_r = xasprintf("refusing to remove %s: not below "
		    "store_root %s", path, root);
		return -1;
	}
	if (lstat(path, &st) < 0 && errno == ENOENT)
		return 0;
	if (nftw(path, store_unlink_one, 16, FTW_DEPTH | FTW_PHYS) < 0) {
		*error_r = xasprintf("remove %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

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

static uid_t store_uid;
static gid_t store_gid;

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

/* mkdir that accepts an existing directory, then fixes owner and mode. */
static int
store_mkdir(const char *path, mode_t mode, char **error_r)
{
	if (mkdir(path, mode) < 0 && errno != EEXIST) {
		*error_r = xasprintf("mkdir %s: %s", path, strerror(errno));
		return -1;
	}
	if (store_uid != (uid_t) -1 && chown(path, store_uid, store_gid) < 0) {
		*error_r = xasprintf("chown %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Create the parents of path (not path itself), mode 0711. */
static int
store_mkparents(const char *path, char **error_r)
{
	char *copy = xstrdup(path);
	char *slash;
	int rc = 0;

	for (slash = strchr(copy + 1, '/'); slash != NULL;
	    slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		if (mkdir(copy, 0711) < 0 && errno != EEXIST) {
			*error_r = xasprintf("mkdir %s: %s", copy,
			    strerror(errno));
			rc = -1;
			break;
		}
		*slash = '/';
	}
	free(copy);
	return rc;
}

static int
store_write_file(const char *path, const char *content, int keep_existing,
	char **error_r)
{
	int fd, flags = O_WRONLY | O_CREAT | O_CLOEXEC;
	size_t len = strlen(content);

	flags |= keep_existing ? O_EXCL : O_TRUNC;
	fd = open(path, flags, 0600);
	if (fd < 0 && keep_existing && errno == EEXIST)
		return 0;
	if (fd < 0) {
		*error_r = xasprintf("create %s: %s", path, strerror(errno));
		return -1;
	}
	if ((len > 0 && write(fd, content, len) != (ssize_t) len)
	    || (store_uid != (uid_t) -1
		&& fchown(fd, store_uid, store_gid) < 0)) {
		*error_r = xasprintf("write %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return close(fd);
}

/* One Maildir: dir plus cur/ new/ tmp/. */
static int
store_maildir(struct buf *path, char **error_r)
{
	static const char *const subdirs[] = { "cur", "new", "tmp" };
	size_t base = buf_len(path), i;

	if (store_mkdir(buf_cstr(path), 0700, error_r) < 0)
		return -1;
	for (i = 0; i < 3; i++) {
		buf_truncate(path, base);
		if (buf_printf(path, "/%s", subdirs[i]) < 0
		    || store_mkdir(buf_cstr(path), 0700, error_r) < 0) {
			if (*error_r == NULL)
				*error_r = xstrdup("store path too long");
			return -1;
		}
	}
	buf_truncate(path, base);
	return 0;
}

int
store_create(const char *path, long long quota, uid_t uid, gid_t gid,
	char **error_r)
{
	static const char *const folders[] = STORE_SPECIAL_FOLDERS;
	struct buf *p = buf_new(4096);
	struct buf *subs = buf_new(4096);
	size_t i;
	int rc = -1;

	*error_r = NULL;
	store_uid = uid;
	store_gid = gid;
	if (store_path_check(path, error_r) < 0)
		goto out;
	if (buf_set(p, path, strlen(path)) < 0) {
		*error_r = xstrdup("store path too long");
		goto out;
	}
	buf_rtrim(p, "/");
	if (store_mkparents(buf_cstr(p), error_r) < 0
	    || store_maildir(p, error_r) < 0)
		goto out;
	for (i = 0; i < sizeof(folders) / sizeof(folders[0]); i++) {
		size_t base = buf_len(p);

		(void) buf_printf(subs, "%s\n", folders[i]);
		if (buf_printf(p, "/.%s", folders[i]) < 0) {
			*error_r = xstrdup("store path too long");
			goto out;
		}
		if (store_maildir(p, error_r) < 0)
			goto out;
		(void) buf_append_str(p, "/maildirfolder");
		if (store_write_file(buf_cstr(p), "", 1, error_r) < 0)
			goto out;
		buf_truncate(p, base);
	}
	{
		size_t base = buf_len(p);
		char quota_line[64];

		(void) buf_append_str(p, "/subscriptions");
		if (store_write_file(buf_cstr(p), buf_cstr(subs), 1,
		    error_r) < 0)
			goto out;
		buf_truncate(p, base);
		/* Maildir++: the quota definition, then "bytes count" lines. */
		snprintf(quota_line, sizeof(quota_line), "%lldS\n0 0\n",
		    quota > 0 ? quota : 0);
		(void) buf_append_str(p, "/maildirsize");
		if (store_write_file(buf_cstr(p), quota > 0 ? quota_line
		    : "0 0\n", 1, error_r) < 0)
			goto out;
	}
	rc = 0;
out:
	buf_free(&p);
	buf_free(&subs);
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

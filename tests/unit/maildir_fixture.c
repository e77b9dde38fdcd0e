/* maildir_fixture: a store per test (maildir_fixture.h). */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "maildir.h"
#include "maildir_fixture.h"
#include "store.h"
#include "xalloc.h"

char root[] = "/tmp/check_maildir.XXXXXX";
char *store;		/* root/store: a fresh store, no quota */

void
maildir_fixture_setup(void)
{
	char *error = NULL;

	ck_assert_ptr_nonnull(mkdtemp(root));
	store = xasprintf("%s/store", root);
	ck_assert_msg(store_create(store, 0, (uid_t) -1, (gid_t) -1,
	    &error) == 0, "store_create: %s", error);
}

void
maildir_fixture_teardown(void)
{
	char *error = NULL;

	(void) store_remove(root, "/tmp", &error);
	free(error);
	free(store);
}


/* A file's whole contents (binary safe); NULL when it cannot be read. */
struct buf *
slurp(const char *path)
{
	struct buf *b;
	char chunk[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return NULL;
	b = buf_new(1 << 24);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		ck_assert_int_eq(buf_append(b, chunk, (size_t) n), 0);
	close(fd);
	return b;
}

void
spew(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t) len);
	close(fd);
}

/* Entries of dir, not counting "." and "..". */
int
count_files(const char *dir)
{
	struct dirent *de;
	DIR *dp = opendir(dir);
	int n = 0;

	ck_assert_ptr_nonnull(dp);
	while ((de = readdir(dp)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	}
	closedir(dp);
	return n;
}

int
count_sub(const char *folder, const char *sub)
{
	char *dir = xasprintf("%s/%s", folder, sub);
	int n = count_files(dir);

	free(dir);
	return n;
}

/* Deliver data (in one write) to folder; returns the name (caller frees). */
char *
deliver(const char *folder, const char *data, size_t len, const char *flags,
	time_t mtime, long long *size_r)
{
	struct maildir_delivery *d;
	char *error = NULL, *name = NULL;

	d = maildir_deliver_begin(folder, &error);
	ck_assert_msg(d != NULL, "begin: %s", error);
	ck_assert_int_eq(maildir_deliver_write(d, data, len, &error), 0);
	ck_assert_msg(maildir_deliver_commit(&d, flags, mtime, &name, size_r,
	    &error) == 0, "commit: %s", error);
	ck_assert_ptr_null(d);
	ck_assert_ptr_nonnull(name);
	return name;
}

/* Check "<sec>.M<usec>P<pid>Q<n>.<host>,S=<s>,W=<w>" plus the info. */
void
assert_name(const char *name, long long s, long long w, const char *info)
{
	char *want_tail = info == NULL ? xasprintf(",S=%lld,W=%lld", s, w) :
	    xasprintf(",S=%lld,W=%lld%s", s, w, info);
	char *want_pid = xasprintf("P%ld", (long) getpid());
	const char *p = name;
	size_t nl = strlen(name), tl = strlen(want_tail);

	ck_assert_msg(nl > tl && strcmp(name + nl - tl, want_tail) == 0,
	    "name %s does not end in %s", name, want_tail);
	ck_assert_msg(*p >= '1' && *p <= '9', "name %s", name);
	while (*p >= '0' && *p <= '9')
		p++;
	ck_assert_msg(p[0] == '.' && p[1] == 'M', "name %s", name);
	for (p += 2; *p >= '0' && *p <= '9'; p++)
		;
	ck_assert_msg(strncmp(p, want_pid, strlen(want_pid)) == 0,
	    "name %s lacks %s", name, want_pid);
	p += strlen(want_pid);
	ck_assert_msg(*p == 'Q', "name %s", name);
	ck_assert_ptr_null(strchr(name, '/'));
	/* The unique part has exactly one ":" only with an info part. */
	if (info == NULL)
		ck_assert_ptr_null(strchr(name, ':'));
	free(want_tail);
	free(want_pid);
}


int
maildir_fixture_run(Suite *suite)
{
	SRunner *sr = srunner_create(suite);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

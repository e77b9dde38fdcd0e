/*
 * check_maildir_faults: Maildir++ delivery and quota when the disk fills
 * up (RLIMIT_FSIZE makes write(2) store part of the data, then fail, as
 * a full file system does).
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "maildir.h"
#include "store.h"
#include "xalloc.h"

static char root[] = "/tmp/check_maildir_faults.XXXXXX";
static char *store;		/* root/store, quota 100000 bytes */
static struct rlimit fsize_saved;

static void
setup(void)
{
	char *error = NULL;

	ck_assert_ptr_nonnull(mkdtemp(root));
	store = xasprintf("%s/store", root);
	ck_assert_msg(store_create(store, 100000, (uid_t) -1, (gid_t) -1,
	    &error) == 0, "store_create: %s", error);
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &fsize_saved), 0);
	(void) signal(SIGXFSZ, SIG_IGN);
}

static void
teardown(void)
{
	char *error = NULL;

	(void) setrlimit(RLIMIT_FSIZE, &fsize_saved);
	(void) store_remove(root, "/tmp", &error);
	free(error);
	free(store);
}

/* Files grow to at most limit bytes from now on (0: as before). */
static void
limit_file_size(off_t limit)
{
	struct rlimit rl = fsize_saved;

	if (limit > 0)
		rl.rlim_cur = (rlim_t) limit;
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
}

/* Entries in store/sub, not counting dot files. */
static int
count_sub(const char *sub)
{
	char *path = xasprintf("%s/%s", store, sub);
	DIR *dp = opendir(path);
	struct dirent *de;
	int n = 0;

	ck_assert_ptr_nonnull(dp);
	while ((de = readdir(dp)) != NULL)
		n += de->d_name[0] != '.';
	closedir(dp);
	free(path);
	return n;
}

/*
 * A maildirsize line cut short must not join the next one into a wrong
 * number: the failed add leaves no file, so the next get counts afresh.
 */
START_TEST(test_quota_add_short_write)
{
	struct maildir_quota q;
	char *error = NULL, *path = xasprintf("%s/maildirsize", store);
	struct stat st;

	ck_assert_int_eq(maildir_quota_get(store, 100000, &q, &error), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	limit_file_size(st.st_size + 3);
	ck_assert_int_eq(maildir_quota_add(store, 1234567, 1, &error), -1);
	free(error);
	error = NULL;
	limit_file_size(0);
	ck_assert_int_eq(maildir_quota_add(store, 10, 1, &error), 0);
	ck_assert_int_eq(maildir_quota_get(store, 100000, &q, &error), 0);
	ck_assert_int_eq(q.bytes, 0);
	ck_assert_int_eq(q.count, 0);
	free(path);
}
END_TEST

/* A delivery that runs out of space: -1 with errno, nothing left over. */
START_TEST(test_deliver_disk_full)
{
	static char chunk[4096];
	struct maildir_delivery *d;
	char *error = NULL, *name = NULL;
	int rc = 0, i, err;

	memset(chunk, 'x', sizeof(chunk) - 2);
	memcpy(chunk + sizeof(chunk) - 2, "\r\n", 2);
	d = maildir_deliver_begin(store, &error);
	ck_assert_ptr_nonnull(d);
	limit_file_size(10000);
	for (i = 0; i < 64 && rc == 0; i++)
		rc = maildir_deliver_write(d, chunk, sizeof(chunk), &error);
	if (rc == 0)
		rc = maildir_deliver_commit(&d, NULL, 0, &name, NULL, &error);
	err = errno;
	ck_assert_int_eq(rc, -1);
	ck_assert_int_eq(err, EFBIG);
	maildir_deliver_abort(&d);
	ck_assert_ptr_null(name);
	ck_assert_int_eq(count_sub("tmp"), 0);
	ck_assert_int_eq(count_sub("new"), 0);
	free(error);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("maildir_faults");
	TCase *tc = tcase_create("disk full");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_quota_add_short_write);
	tcase_add_test(tc, test_deliver_disk_full);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

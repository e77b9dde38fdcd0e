/* check_store: Maildir++ creation and guarded removal. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"
#include "xalloc.h"

static char root[] = "/tmp/check_store.XXXXXX";

static void
setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(root));
}

static void
teardown(void)
{
	char *error = NULL;

	/* Remove the test tree below its own parent. */
	(void) store_remove(root, "/tmp", &error);
	free(error);
}

static int
is_dir(const char *path, mode_t mode)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode)
	    && (st.st_mode & 07777) == mode;
}

static char *
slurp(const char *path)
{
	char text[256];
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL)
		return NULL;
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	return xmemdup(text, n);
}

START_TEST(test_create_layout)
{
	static const char *const dirs[] = {
		"", "/cur", "/new", "/tmp", "/.Sent", "/.Sent/cur",
		"/.Drafts/new", "/.Junk/tmp", "/.Trash/cur",
	};
	char *path = xasprintf("%s/example.test/alice", root);
	char *error = NULL, *sub, *text;
	size_t i;

	ck_assert_int_eq(store_create(path, 1048576, (uid_t) -1, (gid_t) -1,
	    &error), 0);
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		sub = xasprintf("%s%s", path, dirs[i]);
		ck_assert_msg(is_dir(sub, 0700), "%s missing or not 0700", sub);
		free(sub);
	}
	sub = xasprintf("%s/.Junk/maildirfolder", path);
	ck_assert_int_eq(access(sub, F_OK), 0);
	free(sub);
	sub = xasprintf("%s/maildirsize", path);
	text = slurp(sub);
	ck_assert_str_eq(text, "1048576S\n0 0\n");
	free(text);
	free(sub);
	sub = xasprintf("%s/subscriptions", path);
	text = slurp(sub);
	ck_assert_str_eq(text, "Sent\nDrafts\nJunk\nTrash\n");
	free(text);
	free(sub);
	/* Creating again completes, never fails or replaces. */
	ck_assert_int_eq(store_create(path, 5, (uid_t) -1, (gid_t) -1,
	    &error), 0);
	sub = xasprintf("%s/maildirsize", path);
	text = slurp(sub);
	ck_assert_str_eq(text, "1048576S\n0 0\n");
	free(text);
	free(sub);
	free(path);
}
END_TEST

/* One folder made later, subscribed once; a planted symlink refused. */
START_TEST(test_folder_create)
{
	char *path = xasprintf("%s/example.test/bob", root);
	char *error = NULL, *sub, *text, *link_target;

	ck_assert_int_eq(store_create(path, 0, (uid_t) -1, (gid_t) -1,
	    &error), 0);
	sub = xasprintf("%s/.Junk", path);
	ck_assert_int_eq(store_remove(sub, root, &error), 0);
	free(sub);
	sub = xasprintf("%s/subscriptions", path);
	text = slurp(sub);
	ck_assert_str_eq(text, "Sent\nDrafts\nJunk\nTrash\n");
	free(text);
	/* A file without the trailing newline, and without Junk. */
	{
		FILE *f = fopen(sub, "w");

		ck_assert_ptr_nonnull(f);
		fputs("Sent\nJunkish", f);
		fclose(f);
	}
	ck_assert_int_eq(store_folder_create(path, "Junk", &error), 0);
	ck_assert_int_eq(store_folder_create(path, "Junk", &error), 0);
	text = slurp(sub);
	ck_assert_str_eq(text, "Sent\nJunkish\nJunk\n");
	free(text);
	free(sub);
	sub = xasprintf("%s/.Junk/new", path);
	ck_assert(is_dir(sub, 0700));
	free(sub);
	sub = xasprintf("%s/.Junk/maildirfolder", path);
	ck_assert_int_eq(access(sub, F_OK), 0);
	free(sub);
	/* Bad names and a missing store. */
	ck_assert_int_eq(store_folder_create(path, "../x", &error), -1);
	free(error);
	ck_assert_int_eq(store_folder_create(path, ".Junk", &error), -1);
	free(error);
	sub = xasprintf("%s/nobody", root);
	ck_assert_int_eq(store_folder_create(sub, "Junk", &error), -1);
	free(error);
	free(sub);
	/* The store's owner planted .Spam -> elsewhere: not followed. */
	link_target = xasprintf("%s/elsewhere", root);
	ck_assert_int_eq(mkdir(link_target, 0700), 0);
	sub = xasprintf("%s/.Spam", path);
	ck_assert_int_eq(symlink(link_target, sub), 0);
	free(sub);
	/* The store directory is the caller's: a trusted symlink there
	 * would be followed, so make it group-writable (not trusted). */
	ck_assert_int_eq(chmod(path, 0770), 0);
	ck_assert_int_eq(store_folder_create(path, "Spam", &error), -1);
	ck_assert_ptr_nonnull(strstr(error, ".Spam"));
	free(error);
	sub = xasprintf("%s/new", link_target);
	ck_assert_int_eq(access(sub, F_OK), -1);
	free(sub);
	free(link_target);
	free(path);
}
END_TEST

START_TEST(test_create_bad_path)
{
	char *error = NULL;

	ck_assert_int_eq(store_create("relative/path", 0, (uid_t) -1,
	    (gid_t) -1, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "not absolute"));
	free(error);
}
END_TEST

START_TEST(test_remove_guarded)
{
	char *path = xasprintf("%s/d/bob", root);
	char *error = NULL;
	char *outside;

	ck_assert_int_eq(store_create(path, 0, (uid_t) -1, (gid_t) -1,
	    &error), 0);
	/* Not below the root, the root itself, "..", relative: refused. */
	ck_assert_int_eq(store_remove(path, "/var/vmail", &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "not below"));
	free(error);
	error = NULL;
	ck_assert_int_eq(store_remove(root, root, &error), -1);
	free(error);
	error = NULL;
	outside = xasprintf("%s/d/../d/bob", root);
	ck_assert_int_eq(store_remove(outside, root, &error), -1);
	free(error);
	error = NULL;
	free(outside);
	ck_assert_int_eq(access(path, F_OK), 0);
	ck_assert_int_eq(store_remove(path, root, &error), 0);
	ck_assert_int_ne(access(path, F_OK), 0);
	/* Already gone is fine. */
	ck_assert_int_eq(store_remove(path, root, &error), 0);
	free(path);
}
END_TEST

/* --- names and paths: nothing nests one store inside another ------------ */

static const struct {
	const char *name;
	size_t len;
	int ok;
} name_cases[] = {
	{ "alice", 5, 1 },
	{ "a.b-c+d_e", 9, 1 },
	{ "\"quoted local\"", 14, 1 },
	{ "caf\xc3\xa9", 5, 1 },
	{ "", 0, 0 },
	{ ".", 1, 0 },
	{ "..", 2, 0 },
	{ ".sent", 5, 0 },
	{ "user/.sent", 10, 0 },
	{ "a/b", 3, 0 },
	{ "nul\0x", 5, 0 },
	{ "cr\r", 3, 0 },
	{ "esc\x1b", 4, 0 },
	{ "del\x7f", 4, 0 },
};

START_TEST(test_name_ok)
{
	ck_assert_int_eq(store_name_ok(name_cases[_i].name,
	    name_cases[_i].len), name_cases[_i].ok);
}
END_TEST

START_TEST(test_name_too_long)
{
	char name[STORE_NAME_MAX + 1];

	memset(name, 'a', sizeof(name));
	ck_assert_int_eq(store_name_ok(name, STORE_NAME_MAX), 1);
	ck_assert_int_eq(store_name_ok(name, STORE_NAME_MAX + 1), 0);
}
END_TEST

static const struct {
	const char *path;
	int ok;
} path_cases[] = {
	{ "/var/vmail/example.test/alice", 1 },
	{ "/var/vmail/example.test/alice/", 1 },
	{ "/srv/.vmail/example.test/alice", 1 },
	{ "relative/alice", 0 },
	{ "/var/vmail/example.test/alice/.sent", 0 },
	{ "/var/vmail/example.test/.alice", 0 },
	{ "/var/vmail/example.test/..", 0 },
	{ "/var/vmail/../etc/alice", 0 },
	{ "/var/vmail/./example.test/alice", 0 },
	{ "/var/vmail//example.test/alice", 0 },
	{ "/var/vmail/example.test/al\nice", 0 },
	{ "/var/vm\x1b" "ail/example.test/alice", 0 },
	{ "/", 0 },
};

START_TEST(test_path_check)
{
	char *error = NULL;
	int rc = store_path_check(path_cases[_i].path, &error);

	ck_assert_msg(rc == (path_cases[_i].ok ? 0 : -1), "%s: %d",
	    path_cases[_i].path, rc);
	if (rc < 0)
		ck_assert_ptr_nonnull(error);
	free(error);
}
END_TEST

START_TEST(test_create_refuses_nested)
{
	char *outer = xasprintf("%s/d/user", root);
	char *inner = xasprintf("%s/d/user/.sent", root);
	char *error = NULL;

	ck_assert_int_eq(store_create(outer, 0, (uid_t) -1, (gid_t) -1,
	    &error), 0);
	ck_assert_int_eq(store_create(inner, 0, (uid_t) -1, (gid_t) -1,
	    &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "unsafe"));
	free(error);
	free(inner);
	inner = xasprintf("%s/d/user/.sent/cur", root);
	ck_assert_int_ne(access(inner, F_OK), 0);
	free(inner);
	free(outer);
}
END_TEST

static Suite *
store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("create");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_create_layout);
	tcase_add_test(tc, test_create_bad_path);
	tcase_add_test(tc, test_folder_create);
	tcase_add_test(tc, test_remove_guarded);
	tcase_add_test(tc, test_create_refuses_nested);
	suite_add_tcase(s, tc);

	tc = tcase_create("names");
	tcase_add_loop_test(tc, test_name_ok, 0,
	    (int) (sizeof(name_cases) / sizeof(name_cases[0])));
	tcase_add_test(tc, test_name_too_long);
	tcase_add_loop_test(tc, test_path_check, 0,
	    (int) (sizeof(path_cases) / sizeof(path_cases[0])));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(store_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

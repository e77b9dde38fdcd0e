/* check_maildir_quota: the maildirsize quota of a store (maildir.h). */
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


static char *
quota_file(const char *top)
{
	char *path = xasprintf("%s/maildirsize", top);
	struct buf *b = slurp(path);
	char *text;

	free(path);
	if (b == NULL)
		return NULL;
	text = buf_strdup(b);
	buf_free(&b);
	return text;
}

static void
write_quota_file(const char *top, const char *text, size_t len)
{
	char *path = xasprintf("%s/maildirsize", top);

	spew(path, text, len);
	free(path);
}

static void
assert_quota(const struct maildir_quota *q, long long bl, long long cl,
	long long b, long long c)
{
	ck_assert_int_eq(q->bytes_limit, bl);
	ck_assert_int_eq(q->count_limit, cl);
	ck_assert_int_eq(q->bytes, b);
	ck_assert_int_eq(q->count, c);
}

/* Messages of 10 (INBOX new), 20 (INBOX cur), 30 (.Sent), 40 (T: free). */
static void
fill_store(void)
{
	char *sent = xasprintf("%s/.Sent", store);
	char *names[4];
	int i;

	names[0] = deliver(store, T("123456789\n"), NULL, 0, NULL);
	names[1] = deliver(store, T("1234567890123456789\n"), "S", 0, NULL);
	names[2] = deliver(sent, T("12345678901234567890123456789\n"), "S",
	    0, NULL);
	names[3] = deliver(store, T("123456789012345678901234567890123456789\n"),
	    "ST", 0, NULL);
	for (i = 0; i < 4; i++)
		free(names[i]);
	free(sent);
}

START_TEST(test_quota_fresh_store)
{
	struct maildir_quota q;
	char *error = NULL, *quota_store = xasprintf("%s/q", root), *text;

	ck_assert_int_eq(store_create(quota_store, 1000, (uid_t) -1,
	    (gid_t) -1, &error), 0);
	ck_assert_int_eq(maildir_quota_get(quota_store, 1000, &q, &error), 0);
	assert_quota(&q, 1000, 0, 0, 0);
	ck_assert_int_eq(maildir_quota_get(quota_store, -1, &q, &error), 0);
	assert_quota(&q, 1000, 0, 0, 0);
	/* A store without quota. */
	ck_assert_int_eq(maildir_quota_get(store, 0, &q, &error), 0);
	assert_quota(&q, 0, 0, 0, 0);
	text = quota_file(store);
	ck_assert_ptr_nonnull(text);
	ck_assert_str_eq(text, "0S,0C\n0 0\n");
	free(text);
	free(quota_store);
}
END_TEST

START_TEST(test_quota_add)
{
	struct maildir_quota q;
	char *error = NULL, *text;

	write_quota_file(store, T("5000S\n"));
	ck_assert_int_eq(maildir_quota_add(store, 100, 1, &error), 0);
	ck_assert_int_eq(maildir_quota_add(store, 250, 2, &error), 0);
	ck_assert_int_eq(maildir_quota_add(store, -100, -1, &error), 0);
	text = quota_file(store);
	ck_assert_str_eq(text, "5000S\n100 1\n250 2\n-100 -1\n");
	free(text);
	ck_assert_int_eq(maildir_quota_get(store, 5000, &q, &error), 0);
	assert_quota(&q, 5000, 0, 250, 2);
	ck_assert_int_eq(maildir_quota_get(store, -1, &q, &error), 0);
	assert_quota(&q, 5000, 0, 250, 2);
}
END_TEST

/* Without a maildirsize the add is a no-op; the next get counts. */
START_TEST(test_quota_add_missing_file)
{
	struct maildir_quota q;
	char *error = NULL, *path = xasprintf("%s/maildirsize", store), *text;

	fill_store();
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(maildir_quota_add(store, 10, 1, &error), 0);
	ck_assert_int_ne(access(path, F_OK), 0);
	ck_assert_int_eq(maildir_quota_get(store, 700, &q, &error), 0);
	assert_quota(&q, 700, 0, 60, 3);
	text = quota_file(store);
	ck_assert_str_eq(text, "700S,0C\n60 3\n");
	free(text);
	free(path);
}
END_TEST

START_TEST(test_quota_recalc)
{
	struct maildir_quota q;
	char *error = NULL, *text, *tmpdir = xasprintf("%s/tmp", store);

	fill_store();
	write_quota_file(store, T("1S\n999 999\n"));
	ck_assert_int_eq(maildir_quota_recalc(store, 5000, 10, &q, &error), 0);
	assert_quota(&q, 5000, 10, 60, 3);
	text = quota_file(store);
	ck_assert_str_eq(text, "5000S,10C\n60 3\n");
	free(text);
	/* Nothing left behind in tmp/. */
	ck_assert_int_eq(count_files(tmpdir), 0);
	ck_assert_int_eq(maildir_quota_recalc(store, 0, 0, NULL, &error), 0);
	ck_assert_int_eq(maildir_quota_get(store, -1, &q, &error), 0);
	assert_quota(&q, 0, 0, 60, 3);
	free(tmpdir);
}
END_TEST

/* Damaged files are recounted from the messages. */
static const struct {
	const char *name;
	const char *text;
	long long limit_arg;
	long long bytes_limit, count_limit;
} damaged_cases[] = {
	{ "garbage", "garbage\n", 4000, 4000, 0 },
	{ "empty", "", 4000, 4000, 0 },
	{ "bad usage line", "4000S\nabc def\n", 4000, 4000, 0 },
	{ "one number", "4000S\n5\n", 4000, 4000, 0 },
	{ "no final newline", "4000S\n1 1", 4000, 4000, 0 },
	{ "negative total", "4000S\n-500 -1\n", 4000, 4000, 0 },
	{ "negative limit", "-4000S\n1 1\n", 4000, 4000, 0 },
	{ "unknown unit", "4000X\n1 1\n", 4000, 4000, 0 },
	{ "long line", "4000S\n1111111111111111111111111111111111111111111111"
	    "111111111111111111111111111111111111111111111111111111111111"
	    "111111111111111111111111111111111111 1\n", 4000, 4000, 0 },
	{ "NUL", "4000S\n1\0 1\n", 4000, 4000, 0 },
	{ "store's no-quota line", "0 0\n", 0, 0, 0 },
	{ "keep count limit", "4000S,7C\n-99999 0\n", -1, 4000, 7 },
	{ "19 digits", "4000S\n1000000000000000000 1\n", 4000, 4000, 0 },
	{ "sum overflows", "4000S\n999999999999999999 1\n"
	    "999999999999999999 1\n999999999999999999 1\n"
	    "999999999999999999 1\n999999999999999999 1\n"
	    "999999999999999999 1\n999999999999999999 1\n"
	    "999999999999999999 1\n999999999999999999 1\n"
	    "999999999999999999 1\n", 4000, 4000, 0 },
	{ "no space between", "4000S\n5-1\n", 4000, 4000, 0 },
	{ "sign without digits", "4000S\n- 1\n", 4000, 4000, 0 },
	{ "NUL after the last LF", "4000S\n1 1\n\0", 4000, 4000, 0 },
};

START_TEST(test_quota_damaged)
{
	struct maildir_quota q;
	char *error = NULL, *text, *want;
	size_t len = strlen(damaged_cases[_i].text);

	if (strcmp(damaged_cases[_i].name, "NUL") == 0)
		len = 11;
	if (strcmp(damaged_cases[_i].name, "NUL after the last LF") == 0)
		len = 11;
	fill_store();
	write_quota_file(store, damaged_cases[_i].text, len);
	ck_assert_msg(maildir_quota_get(store, damaged_cases[_i].limit_arg, &q,
	    &error) == 0, "%s: %s", damaged_cases[_i].name, error);
	ck_assert_msg(q.bytes == 60 && q.count == 3, "%s: %lld %lld",
	    damaged_cases[_i].name, q.bytes, q.count);
	ck_assert_int_eq(q.bytes_limit, damaged_cases[_i].bytes_limit);
	ck_assert_int_eq(q.count_limit, damaged_cases[_i].count_limit);
	text = quota_file(store);
	want = xasprintf("%lldS,%lldC\n60 3\n", damaged_cases[_i].bytes_limit,
	    damaged_cases[_i].count_limit);
	ck_assert_str_eq(text, want);
	free(want);
	free(text);
}
END_TEST

/* Past 5120 bytes the file is recounted (and so shrinks). */
START_TEST(test_quota_oversized)
{
	struct maildir_quota q;
	char *error = NULL, *text;
	int i;

	fill_store();
	write_quota_file(store, T("4000S\n"));
	/* 5114 bytes: still read as it is. */
	for (i = 0; i < 1277; i++)
		ck_assert_int_eq(maildir_quota_add(store, 2, 0, &error), 0);
	ck_assert_int_eq(maildir_quota_get(store, 4000, &q, &error), 0);
	assert_quota(&q, 4000, 0, 2554, 0);
	/* Two more lines: 5122 bytes, past the limit. */
	ck_assert_int_eq(maildir_quota_add(store, 2, 0, &error), 0);
	ck_assert_int_eq(maildir_quota_add(store, 2, 0, &error), 0);
	ck_assert_int_eq(maildir_quota_get(store, 4000, &q, &error), 0);
	assert_quota(&q, 4000, 0, 60, 3);
	text = quota_file(store);
	ck_assert_str_eq(text, "4000S,0C\n60 3\n");
	free(text);
}
END_TEST

/* The routing directory changed the limit: the file follows it. */
START_TEST(test_quota_limit_changed)
{
	struct maildir_quota q;
	char *error = NULL, *text;

	fill_store();
	write_quota_file(store, T("4000S,9C\n60 3\n5 1\n"));
	ck_assert_int_eq(maildir_quota_get(store, 4000, &q, &error), 0);
	assert_quota(&q, 4000, 9, 65, 4);	/* trusted as it is */
	ck_assert_int_eq(maildir_quota_get(store, 8000, &q, &error), 0);
	assert_quota(&q, 8000, 9, 60, 3);	/* rewritten from the files */
	text = quota_file(store);
	ck_assert_str_eq(text, "8000S,9C\n60 3\n");
	free(text);
	ck_assert_int_eq(maildir_quota_get(store, 0, &q, &error), 0);
	assert_quota(&q, 0, 9, 60, 3);
	ck_assert_int_eq(maildir_quota_get(store, -1, &q, &error), 0);
	assert_quota(&q, 0, 9, 60, 3);
}
END_TEST

/* peek reads but never writes: 1 known, 0 missing or damaged. */
START_TEST(test_quota_peek)
{
	static const struct {
		const char *text;
		int known;
		long long bytes_limit, bytes, count;
	} cases[] = {
		{ "4000S\n10 1\n20 2\n", 1, 4000, 30, 3 },
		{ "4000S,5C\n", 1, 4000, 0, 0 },
		{ "0S,0C\n60 3\n", 1, 0, 60, 3 },
		{ "garbage\n", 0, 0, 0, 0 },
		{ "", 0, 0, 0, 0 },
		{ "4000S\n-5 -1\n", 0, 0, 0, 0 },
		{ "4000S\n1 1", 0, 0, 0, 0 },
		{ "0 0\n", 0, 0, 0, 0 },
		/* What Maildir++ writers may put around the numbers. */
		{ "4000S\n  +10\t 1 \n-5 -1\n", 1, 4000, 5, 0 },
		{ "4000S\n999999999999999999 1\n", 1, 4000,
		    999999999999999999LL, 1 },
	};
	struct maildir_quota q;
	char *text, *path = xasprintf("%s/maildirsize", store);
	size_t i;
	int rc;

	fill_store();
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		write_quota_file(store, cases[i].text, strlen(cases[i].text));
		rc = maildir_quota_peek(store, &q);
		ck_assert_msg(rc == cases[i].known, "case %zu: %d", i, rc);
		if (rc == 1) {
			ck_assert_int_eq(q.bytes_limit, cases[i].bytes_limit);
			ck_assert_int_eq(q.bytes, cases[i].bytes);
			ck_assert_int_eq(q.count, cases[i].count);
		}
		/* Not rewritten, whatever it held. */
		text = quota_file(store);
		ck_assert_str_eq(text, cases[i].text);
		free(text);
	}
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(maildir_quota_peek(store, &q), 0);
	ck_assert_int_ne(access(path, F_OK), 0);
	free(path);
}
END_TEST

/*
 * get_stat gives the file it read (what lmtpd compares before reusing
 * RCPT's answer), and nothing when it counted the files instead.
 */
START_TEST(test_quota_get_stat)
{
	struct maildir_quota q;
	struct stat st, now;
	char *error = NULL, *path = xasprintf("%s/maildirsize", store);

	fill_store();
	write_quota_file(store, T("4000S\n10 1\n"));
	ck_assert_int_eq(maildir_quota_get_stat(store, 4000, &q, &st, &error),
	    0);
	assert_quota(&q, 4000, 0, 10, 1);
	ck_assert_int_eq(stat(path, &now), 0);
	ck_assert(st.st_ino == now.st_ino && st.st_size == now.st_size);
	/* An append changes the size. */
	ck_assert_int_eq(maildir_quota_add(store, 5, 1, &error), 0);
	ck_assert_int_eq(stat(path, &now), 0);
	ck_assert(st.st_size != now.st_size);
	/* A changed limit is a recount: no file to compare with. */
	ck_assert_int_eq(maildir_quota_get_stat(store, 8000, &q, &st, &error),
	    0);
	assert_quota(&q, 8000, 0, 60, 3);
	ck_assert(st.st_ino == 0 && st.st_size == 0);
	free(path);
}
END_TEST

START_TEST(test_quota_missing_store)
{
	struct maildir_quota q;
	char *error = NULL, *missing = xasprintf("%s/nostore", root);

	ck_assert_int_eq(maildir_quota_get(missing, 100, &q, &error), -1);
	ck_assert_ptr_nonnull(error);
	free(error);
	error = NULL;
	ck_assert_int_eq(maildir_quota_recalc(missing, 100, 0, &q, &error), -1);
	ck_assert_ptr_nonnull(error);
	free(error);
	free(missing);
}
END_TEST


static Suite *
maildir_quota_suite(void)
{
	Suite *s = suite_create("maildir_quota");
	TCase *tc;

	tc = tcase_create("quota");
	tcase_add_checked_fixture(tc, maildir_fixture_setup,
	    maildir_fixture_teardown);
	tcase_add_test(tc, test_quota_fresh_store);
	tcase_add_test(tc, test_quota_add);
	tcase_add_test(tc, test_quota_add_missing_file);
	tcase_add_test(tc, test_quota_recalc);
	tcase_add_loop_test(tc, test_quota_damaged, 0,
	    sizeof(damaged_cases) / sizeof(damaged_cases[0]));
	tcase_add_test(tc, test_quota_oversized);
	tcase_add_test(tc, test_quota_limit_changed);
	tcase_add_test(tc, test_quota_peek);
	tcase_add_test(tc, test_quota_get_stat);
	tcase_add_test(tc, test_quota_missing_store);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return maildir_fixture_run(maildir_quota_suite());
}

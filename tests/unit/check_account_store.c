/* check_account_store: per-account counts, learned usual, hold, release. */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "account_store.h"

#define HOUR 3600

static char dir[] = "/tmp/check_account_store.XXXXXX";

static const struct account_policy policy = {
	.window = HOUR, .factor = 10, .minimum = 20, .history = 24, .hold = 1,
};

static int
open_store(void)
{
	char *error = NULL;
	int fd = account_store_open(dir, 1, &error);

	ck_assert_msg(fd >= 0, "%s", error != NULL ? error : "");
	return fd;
}

/* hours windows of per_hour messages each, ending before t. */
static void
history(int fd, const char *login, time_t t, int hours, long long per_hour)
{
	char *error = NULL;
	int h;

	for (h = hours; h > 0; h--)
		ck_assert_int_eq(account_count(fd, login, t - h * HOUR,
		    per_hour, &policy, 0, NULL, &error), ACCOUNT_OK);
}

START_TEST(test_learn_alarm_hold_release)
{
	struct account_rec r;
	char *error = NULL, *reason;
	time_t t = 1700000000 - 1700000000 % HOUR + 60;
	int fd = open_store(), i, v;

	history(fd, "alice@example.test", t, 48, 2);
	history(fd, "bob@example.test", t, 48, 2);
	ck_assert_int_eq(account_held_count(fd, &error), 0);
	/* 20 > 10 x 2 only at 21: minimum 20 alone is not enough. */
	for (i = 1; i <= 20; i++)
		ck_assert_int_eq(account_count(fd, "alice@example.test", t, 1,
		    &policy, 1, &r, &error), ACCOUNT_OK);
	ck_assert(r.mean > 1.99 && r.mean < 2.01);
	ck_assert_uint_eq(r.n, 48);
	v = account_count(fd, "alice@example.test", t + 1, 1, &policy, 1, &r,
	    &error);
	ck_assert_int_eq(v, ACCOUNT_ALARM);
	ck_assert_uint_eq(r.held_count, 21);
	ck_assert(r.held_since == (int64_t) t + 1);
	/* Held: every later message says so; bob is unaffected. */
	ck_assert_int_eq(account_count(fd, "alice@example.test", t + 2, 1,
	    &policy, 1, NULL, &error), ACCOUNT_HELD);
	ck_assert_int_eq(account_count(fd, "bob@example.test", t + 2, 1,
	    &policy, 1, NULL, &error), ACCOUNT_OK);
	ck_assert_int_eq(account_get(fd, "alice@example.test", &r, &error), 1);
	ck_assert(r.held_since != 0);
	/* The header counts the hold once, however many HELD follow. */
	ck_assert_int_eq(account_held_count(fd, &error), 1);
	reason = account_hold_reason(&r);
	ck_assert_str_eq(reason, "account alarm: login alice@example.test "
	    "sent 21 messages in a window, usual 2.0");
	free(reason);
	/* The alarm command is claimed once per hold. */
	ck_assert_int_eq(account_set_hooked(fd, "alice@example.test",
	    r.held_since + 1, &error), 0);
	ck_assert_int_eq(account_set_hooked(fd, "alice@example.test",
	    r.held_since, &error), 1);
	ck_assert_int_eq(account_set_hooked(fd, "alice@example.test",
	    r.held_since, &error), 0);
	ck_assert_int_eq(account_release(fd, "alice@example.test", &error), 1);
	ck_assert_int_eq(account_release(fd, "alice@example.test", &error), 0);
	ck_assert_int_eq(account_held_count(fd, &error), 0);
	ck_assert_int_eq(account_set_hooked(fd, "alice@example.test",
	    r.held_since, &error), 0);
	ck_assert_int_eq(account_get(fd, "alice@example.test", &r, &error), 1);
	ck_assert(r.held_since == 0 && r.count == 0);
	/*
	 * The 21 messages that raised the alarm did not teach the usual:
	 * the window taught only what came after the release (none).
	 */
	ck_assert_int_eq(account_count(fd, "alice@example.test", t + HOUR, 1,
	    &policy, 1, &r, &error), ACCOUNT_OK);
	ck_assert_uint_eq(r.n, 49);
	ck_assert(r.mean > 1.9 && r.mean < 2.0);
	/* Two empty windows count as 0. */
	ck_assert_int_eq(account_count(fd, "alice@example.test", t + 4 * HOUR,
	    1, &policy, 1, &r, &error), ACCOUNT_OK);
	ck_assert_uint_eq(r.n, 52);
	ck_assert(r.mean < 1.9);
	/* bob's alarm window, not released, teaches nothing. */
	for (i = 0; i < 30; i++)
		(void) account_count(fd, "bob@example.test", t + 2, 1, &policy,
		    1, &r, &error);
	ck_assert(r.alarmed && r.held_since != 0);
	ck_assert_int_eq(account_count(fd, "bob@example.test", t + HOUR, 1,
	    &policy, 1, &r, &error), ACCOUNT_HELD);
	ck_assert_uint_eq(r.n, 48);
	ck_assert_int_eq(account_get(fd, "nobody@example.test", &r, &error),
	    0);
	close(fd);
}
END_TEST

START_TEST(test_young_account_not_judged)
{
	char *error = NULL;
	time_t t = 1700000000;
	int fd = open_store(), i;

	history(fd, "new@example.test", t, 10, 1);
	for (i = 0; i < 500; i++)
		ck_assert_int_eq(account_count(fd, "new@example.test", t, 1,
		    &policy, 1, NULL, &error), ACCOUNT_OK);
	close(fd);
}
END_TEST

START_TEST(test_bad_login_and_full_neighbourhood)
{
	char login[ACCOUNT_LOGIN_MAX + 2], *error = NULL;
	int fd = open_store(), i, failed = 0;

	memset(login, 'a', sizeof(login) - 1);
	login[sizeof(login) - 1] = '\0';
	ck_assert_int_eq(account_count(fd, login, 1700000000, 1, &policy, 1,
	    NULL, &error), -1);
	free(error);
	error = NULL;
	ck_assert_int_eq(account_count(fd, "", 1700000000, 1, &policy, 1,
	    NULL, &error), -1);
	free(error);
	error = NULL;
	/* More logins than records: the rest fail, nothing is overwritten. */
	for (i = 0; i < ACCOUNT_SLOTS + 200; i++) {
		char name[64];

		(void) snprintf(name, sizeof(name), "user%d@example.test", i);
		if (account_count(fd, name, 1700000000, 1, &policy, 1, NULL,
		    &error) < 0) {
			failed++;
			free(error);
			error = NULL;
		}
	}
	ck_assert_int_ge(failed, 200);
	{
		struct account_rec r;

		ck_assert_int_eq(account_get(fd, "user0@example.test", &r,
		    &error), 1);
		ck_assert_uint_eq(r.count, 1);
	}
	close(fd);
}
END_TEST

/* A store from before the header: extended, its holds counted. */
START_TEST(test_store_without_header)
{
	struct account_rec r;
	char path[256], *error = NULL;
	off_t records = (off_t) ACCOUNT_SLOTS * (off_t) sizeof(r);
	int fd;

	(void) snprintf(path, sizeof(path), "%s/%s", dir, ACCOUNT_DIR);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	(void) snprintf(path, sizeof(path), "%s/%s/%s", dir, ACCOUNT_DIR,
	    ACCOUNT_FILE);
	fd = open(path, O_RDWR | O_CREAT, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, records), 0);
	memset(&r, 0, sizeof(r));
	memcpy(r.login, "old@example.test", sizeof("old@example.test"));
	r.held_since = 1700000000;
	ck_assert_int_eq(pwrite(fd, &r, sizeof(r), 5 * (off_t) sizeof(r)),
	    (ssize_t) sizeof(r));
	(void) close(fd);
	fd = open_store();
	ck_assert_int_eq(lseek(fd, 0, SEEK_END), records + ACCOUNT_HEADER_SIZE);
	ck_assert_int_eq(account_held_count(fd, &error), 1);
	(void) close(fd);
	/* Opened again: as it is. */
	fd = open_store();
	ck_assert_int_eq(account_held_count(fd, &error), 1);
	(void) close(fd);
}
END_TEST

static void
setup(void)
{
	memcpy(dir, "/tmp/check_account_store.XXXXXX", sizeof(dir));
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void
teardown(void)
{
	char path[256];

	(void) snprintf(path, sizeof(path), "%s/%s/%s", dir, ACCOUNT_DIR,
	    ACCOUNT_FILE);
	(void) unlink(path);
	(void) snprintf(path, sizeof(path), "%s/%s", dir, ACCOUNT_DIR);
	(void) rmdir(path);
	(void) rmdir(dir);
}

static Suite *
account_store_suite(void)
{
	Suite *s = suite_create("account_store");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_learn_alarm_hold_release);
	tcase_add_test(tc, test_young_account_not_judged);
	tcase_add_test(tc, test_bad_login_and_full_neighbourhood);
	tcase_add_test(tc, test_store_without_header);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(account_store_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

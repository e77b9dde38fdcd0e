/* check_anvil: anvil's tables: connection counts and rates, drops. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anvil_counters.h"
#include "anvil_table.h"

#define UNIT_MS 1000

static void
connect_key(struct anvil_table *t, const char *key, int64_t now,
	long long count, long long rate)
{
	long long c, r;

	anvil_table_connect(t, key, strlen(key), now, &c, &r);
	ck_assert_int_eq(c, count);
	ck_assert_int_eq(r, rate);
}

START_TEST(test_count_and_rate)
{
	struct anvil_table *t = anvil_table_new(10, UNIT_MS);

	connect_key(t, "smtp\n192.0.2.1", 0, 1, 1);
	connect_key(t, "smtp\n192.0.2.1", 10, 2, 2);
	/* Another service, another address: counted apart. */
	connect_key(t, "pop3\n192.0.2.1", 10, 1, 1);
	connect_key(t, "smtp\n192.0.2.2", 10, 1, 1);
	ck_assert_int_eq(anvil_table_disconnect(t, "smtp\n192.0.2.1", 14, 20),
	    0);
	connect_key(t, "smtp\n192.0.2.1", 30, 2, 3);
	/* A new time unit starts the rate again, not the count. */
	connect_key(t, "smtp\n192.0.2.1", UNIT_MS + 1, 3, 1);
	ck_assert_uint_eq(anvil_table_size(t), 3);
	anvil_table_free(&t);
	ck_assert_ptr_null(t);
}
END_TEST

START_TEST(test_disconnect_never_below_zero)
{
	struct anvil_table *t = anvil_table_new(10, UNIT_MS);

	connect_key(t, "k", 0, 1, 1);
	ck_assert_int_eq(anvil_table_disconnect(t, "k", 1, 1), 0);
	ck_assert_int_eq(anvil_table_disconnect(t, "k", 1, 1), 0);
	connect_key(t, "k", 2, 1, 2);
	/* Unknown keys are not an error worth more than -1. */
	ck_assert_int_eq(anvil_table_disconnect(t, "other", 5, 3), -1);
	anvil_table_free(&t);
}
END_TEST

/* peek changes nothing; an unknown key and a passed window read 0. */
START_TEST(test_peek)
{
	struct anvil_table *t = anvil_table_new(10, UNIT_MS);
	long long c = -1, r = -1;

	anvil_table_peek(t, "k", 1, 0, &c, &r);
	ck_assert_int_eq(c, 0);
	ck_assert_int_eq(r, 0);
	ck_assert_uint_eq(anvil_table_size(t), 0);
	connect_key(t, "k", 0, 1, 1);
	ck_assert_int_eq(anvil_table_disconnect(t, "k", 1, 1), 0);
	connect_key(t, "k", 2, 1, 2);
	anvil_table_peek(t, "k", 1, 3, &c, &r);
	ck_assert_int_eq(c, 1);
	ck_assert_int_eq(r, 2);
	anvil_table_peek(t, "k", 1, 4, &c, &r);
	ck_assert_int_eq(r, 2);
	/* The window passed: the rate is 0, the open count stays. */
	anvil_table_peek(t, "k", 1, UNIT_MS + 1, &c, &r);
	ck_assert_int_eq(c, 1);
	ck_assert_int_eq(r, 0);
	anvil_table_free(&t);
}
END_TEST

/* Totals per window (per-account submission counts): add and peek. */
START_TEST(test_add_and_rate)
{
	struct anvil_table *t = anvil_table_new(10, UNIT_MS);

	ck_assert_int_eq(anvil_table_rate(t, "r\nanna", 6, 0), 0);
	ck_assert_uint_eq(anvil_table_size(t), 0);	/* a peek adds none */
	anvil_table_add(t, "r\nanna", 6, 0, 5);
	anvil_table_add(t, "r\nanna", 6, 10, 0);
	anvil_table_add(t, "r\nanna", 6, 20, 3);
	ck_assert_int_eq(anvil_table_rate(t, "r\nanna", 6, 30), 8);
	ck_assert_int_eq(anvil_table_rate(t, "r\nbert", 6, 30), 0);
	/* The window passed: a peek sees 0, the next add starts over. */
	ck_assert_int_eq(anvil_table_rate(t, "r\nanna", 6, UNIT_MS), 0);
	anvil_table_add(t, "r\nanna", 6, UNIT_MS + 1, 2);
	ck_assert_int_eq(anvil_table_rate(t, "r\nanna", 6, UNIT_MS + 2), 2);
	/* Nothing is open on such a key: it expires like an idle one. */
	anvil_table_add(t, "r\nbert", 6, 3 * UNIT_MS, 1);
	ck_assert_uint_eq(anvil_table_size(t), 1);
	anvil_table_free(&t);
}
END_TEST

/* Idle keys (nothing open, window over) are freed as the table is used. */
START_TEST(test_idle_keys_expire)
{
	struct anvil_table *t = anvil_table_new(10, UNIT_MS);

	connect_key(t, "a", 0, 1, 1);
	ck_assert_int_eq(anvil_table_disconnect(t, "a", 1, 1), 0);
	connect_key(t, "b", 2, 1, 1);
	ck_assert_uint_eq(anvil_table_size(t), 2);
	connect_key(t, "b", UNIT_MS + 5, 2, 1);
	ck_assert_uint_eq(anvil_table_size(t), 1);	/* "a" went */
	ck_assert_uint_eq(anvil_table_evictions(t), 0);
	anvil_table_free(&t);
}
END_TEST

/* Full: the least recently used key goes, memory stays bounded. */
START_TEST(test_full_table_evicts_oldest)
{
	struct anvil_table *t = anvil_table_new(3, UNIT_MS);
	char key[32];
	int i;

	connect_key(t, "a", 0, 1, 1);
	connect_key(t, "b", 1, 1, 1);
	connect_key(t, "c", 2, 1, 1);
	connect_key(t, "a", 3, 2, 2);		/* a is recent again */
	connect_key(t, "d", 4, 1, 1);		/* evicts b */
	ck_assert_uint_eq(anvil_table_size(t), 3);
	ck_assert_uint_eq(anvil_table_evictions(t), 1);
	ck_assert_int_eq(anvil_table_disconnect(t, "b", 1, 5), -1);
	connect_key(t, "a", 6, 3, 3);		/* a survived */
	for (i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "x%d", i);
		connect_key(t, key, 10, 1, 1);
	}
	ck_assert_uint_eq(anvil_table_size(t), 3);
	anvil_table_free(&t);
}
END_TEST

/* Binary keys: a NUL inside does not end the key. */
START_TEST(test_binary_keys)
{
	struct anvil_table *t = anvil_table_new(10, UNIT_MS);
	long long c, r;

	anvil_table_connect(t, "a\0b", 3, 0, &c, &r);
	anvil_table_connect(t, "a\0c", 3, 0, &c, &r);
	ck_assert_int_eq(c, 1);
	anvil_table_connect(t, "a", 1, 0, &c, &r);
	ck_assert_int_eq(c, 1);
	ck_assert_uint_eq(anvil_table_size(t), 3);
	anvil_table_free(&t);
}
END_TEST

/* Many keys: lookups stay right past the bucket count. */
START_TEST(test_many_keys)
{
	struct anvil_table *t = anvil_table_new(20000, UNIT_MS);
	char key[32];
	long long c, r;
	int i;

	for (i = 0; i < 20000; i++) {
		snprintf(key, sizeof(key), "smtp\n10.0.%d.%d", i / 256,
		    i % 256);
		anvil_table_connect(t, key, strlen(key), 0, &c, &r);
		ck_assert_int_eq(c, 1);
	}
	for (i = 0; i < 20000; i += 7) {
		snprintf(key, sizeof(key), "smtp\n10.0.%d.%d", i / 256,
		    i % 256);
		anvil_table_connect(t, key, strlen(key), 0, &c, &r);
		ck_assert_int_eq(c, 2);
	}
	ck_assert_uint_eq(anvil_table_evictions(t), 0);
	anvil_table_free(&t);
}
END_TEST

/* The value of (service, reason), 0 when it has no counter. */
static unsigned long long
counter_value(const struct anvil_counters *c, const char *service,
	const char *reason)
{
	const char *s, *r;
	unsigned long long v;
	size_t i;

	for (i = 0; anvil_counters_nth(c, i, &s, &r, &v); i++)
		if (strcmp(s, service) == 0 && strcmp(r, reason) == 0)
			return v;
	return 0;
}

static void
add_ok(struct anvil_counters *c, const char *service, const char *reason)
{
	const char *error = NULL;

	ck_assert_int_eq(anvil_counters_add(c, service, reason, &error), 0);
	ck_assert_ptr_null(error);
}

START_TEST(test_counters_count_per_pair)
{
	struct anvil_counters *c = anvil_counters_new(16);

	add_ok(c, "smtp", "junk_command_limit");
	add_ok(c, "smtp", "junk_command_limit");
	add_ok(c, "smtp", "timeout");
	add_ok(c, "pop3", "junk_command_limit");
	ck_assert_uint_eq(anvil_counters_size(c), 3);
	ck_assert_uint_eq(counter_value(c, "smtp", "junk_command_limit"), 2);
	ck_assert_uint_eq(counter_value(c, "smtp", "timeout"), 1);
	ck_assert_uint_eq(counter_value(c, "pop3", "junk_command_limit"), 1);
	ck_assert_uint_eq(counter_value(c, "imap", "timeout"), 0);
	anvil_counters_free(&c);
	ck_assert_ptr_null(c);
	anvil_counters_free(&c);
}
END_TEST

/* Listed in (service, reason) order, whatever the order of events. */
START_TEST(test_counters_sorted)
{
	static const char *const expect[][2] = {
		{ "imap", "login_timeout" }, { "pop3", "a" },
		{ "pop3", "b" }, { "smtp", "stress_timeout" },
		{ "submission", "timeout" },
	};
	struct anvil_counters *c = anvil_counters_new(16);
	const char *s, *r;
	unsigned long long v;
	size_t i;

	add_ok(c, "submission", "timeout");
	add_ok(c, "pop3", "b");
	add_ok(c, "smtp", "stress_timeout");
	add_ok(c, "imap", "login_timeout");
	add_ok(c, "pop3", "a");
	for (i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
		ck_assert_int_eq(anvil_counters_nth(c, i, &s, &r, &v), 1);
		ck_assert_str_eq(s, expect[i][0]);
		ck_assert_str_eq(r, expect[i][1]);
		ck_assert_uint_eq(v, 1);
	}
	ck_assert_int_eq(anvil_counters_nth(c, i, &s, &r, &v), 0);
	anvil_counters_free(&c);
}
END_TEST

/* Names from a socket: only our vocabulary's shape gets a counter. */
START_TEST(test_counters_bad_names)
{
	static const char *const bad[][2] = {
		{ "", "timeout" }, { "smtp", "" },
		{ "sm tp", "timeout" }, { "smtp,x", "timeout" },
		{ "smtp\n", "timeout" }, { "smtp\x7f", "timeout" },
		{ "smtp", "Timeout" }, { "smtp", "time-out" },
		{ "smtp", "time out" }, { "smtp", "timeout\n" },
		{ "smtp", "\xc3\xa9t\xc3\xa9" },
		{ "smtp", "abcdefghijklmnopqrstuvwxyz0123456" },
		{ "abcdefghijklmnopqrstuvwxyz0123456", "timeout" },
	};
	struct anvil_counters *c = anvil_counters_new(4);
	const char *error;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		error = NULL;
		ck_assert_int_eq(anvil_counters_add(c, bad[i][0], bad[i][1],
		    &error), -1);
		ck_assert_str_eq(error, "invalid service or reason");
	}
	ck_assert_uint_eq(anvil_counters_size(c), 0);
	/* The longest names allowed, and a service with punctuation. */
	add_ok(c, "abcdefghijklmnopqrstuvwxyz012345",
	    "abcdefghijklmnopqrstuvwxyz012345");
	add_ok(c, "127.0.0.1:smtp-2", "timeout");
	ck_assert_uint_eq(anvil_counters_size(c), 2);
	anvil_counters_free(&c);
}
END_TEST

/* Full: a new pair is refused, the pairs there still count. */
START_TEST(test_counters_full)
{
	struct anvil_counters *c = anvil_counters_new(2);
	const char *error = NULL;

	add_ok(c, "smtp", "timeout");
	add_ok(c, "pop3", "timeout");
	ck_assert_int_eq(anvil_counters_add(c, "imap", "timeout", &error),
	    -1);
	ck_assert_str_eq(error, "counter table full");
	add_ok(c, "smtp", "timeout");
	ck_assert_uint_eq(anvil_counters_size(c), 2);
	ck_assert_uint_eq(counter_value(c, "smtp", "timeout"), 2);
	ck_assert_uint_eq(counter_value(c, "imap", "timeout"), 0);
	anvil_counters_free(&c);
}
END_TEST

static Suite *
anvil_suite(void)
{
	Suite *suite = suite_create("anvil");
	TCase *tc = tcase_create("table");
	TCase *tc_counters = tcase_create("counters");

	tcase_add_test(tc, test_count_and_rate);
	tcase_add_test(tc, test_add_and_rate);
	tcase_add_test(tc, test_disconnect_never_below_zero);
	tcase_add_test(tc, test_peek);
	tcase_add_test(tc, test_idle_keys_expire);
	tcase_add_test(tc, test_full_table_evicts_oldest);
	tcase_add_test(tc, test_binary_keys);
	tcase_add_test(tc, test_many_keys);
	suite_add_tcase(suite, tc);
	tcase_add_test(tc_counters, test_counters_count_per_pair);
	tcase_add_test(tc_counters, test_counters_sorted);
	tcase_add_test(tc_counters, test_counters_bad_names);
	tcase_add_test(tc_counters, test_counters_full);
	suite_add_tcase(suite, tc_counters);
	return suite;
}

int
main(void)
{
	SRunner *runner = srunner_create(anvil_suite());
	int failed;

	srunner_run_all(runner, CK_NORMAL);
	failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* check_addr_match: addresses against lists of networks. */
#include "config.h"

#include <check.h>
#include <stdlib.h>

#include "addr_match.h"

static const struct {
	const char *list;
	const char *addr;
	int match;
} cases[] = {
	{ "127.0.0.0/8 ::1", "127.0.0.1", 1 },
	{ "127.0.0.0/8 ::1", "127.255.1.2", 1 },
	{ "127.0.0.0/8 ::1", "128.0.0.1", 0 },
	{ "127.0.0.0/8 ::1", "::1", 1 },
	{ "127.0.0.0/8 ::1", "::2", 0 },
	{ "127.0.0.0/8, ::1", "::ffff:127.0.0.1", 1 },	/* mapped */
	{ "192.0.2.7", "192.0.2.7", 1 },
	{ "192.0.2.7", "192.0.2.8", 0 },
	{ "192.0.2.0/25", "192.0.2.127", 1 },
	{ "192.0.2.0/25", "192.0.2.128", 0 },
	{ "192.0.2.0/0", "10.1.2.3", 1 },
	{ "[2001:db8::]/32", "2001:db8:1::5", 1 },
	{ "[2001:db8::]/32", "2001:db9::5", 0 },
	{ "2001:db8::/33", "2001:db8:8000::1", 0 },
	{ "", "127.0.0.1", 0 },
	{ "127.0.0.1", "not-an-address", 0 },
	{ "127.0.0.1", "", 0 },
	{ "::/0", "127.0.0.1", 1 },	/* every IPv6, mapped included */
};

START_TEST(test_match_table)
{
	char *error = NULL;
	struct addr_match *m = addr_match_new(cases[_i].list, &error);

	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(addr_match(m, cases[_i].addr), cases[_i].match);
	addr_match_free(&m);
	ck_assert_ptr_null(m);
}
END_TEST

static const char *bad_lists[] = {
	"127.0.0.1/33", "::1/129", "192.0.2.0/", "192.0.2.0/x",
	"192.0.2.0/8x", "example.com", "[::1", "1.2.3", "/8", "[]",
	"127.0.0.1/-1",
};

START_TEST(test_bad_lists)
{
	char *error = NULL;
	struct addr_match *m = addr_match_new(bad_lists[_i], &error);

	ck_assert_ptr_null(m);
	ck_assert_ptr_nonnull(error);
	free(error);
}
END_TEST

static Suite *
addr_match_suite(void)
{
	Suite *suite = suite_create("addr_match");
	TCase *tc = tcase_create("match");

	tcase_add_loop_test(tc, test_match_table, 0,
	    (int) (sizeof(cases) / sizeof(cases[0])));
	tcase_add_loop_test(tc, test_bad_lists, 0,
	    (int) (sizeof(bad_lists) / sizeof(bad_lists[0])));
	suite_add_tcase(suite, tc);
	return suite;
}

int
main(void)
{
	SRunner *runner = srunner_create(addr_match_suite());
	int failed;

	srunner_run_all(runner, CK_NORMAL);
	failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

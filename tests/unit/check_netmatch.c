/* check_netmatch: address/prefix lists, IPv4 and IPv6. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netmatch.h"
#include "params.h"

static const struct {
	const char *list;
	const char *addr;
	int match;
} cases[] = {
	{ "127.0.0.1", "127.0.0.1", 1 },
	{ "127.0.0.1", "127.0.0.2", 0 },
	{ "127.0.0.0/8", "127.255.1.2", 1 },
	{ "127.0.0.0/8", "128.0.0.1", 0 },
	{ "192.0.2.0/25", "192.0.2.127", 1 },
	{ "192.0.2.0/25", "192.0.2.128", 0 },
	{ "0.0.0.0/0", "203.0.113.9", 1 },
	{ "0.0.0.0/0", "::1", 0 },
	{ "10.0.0.0/8, 192.0.2.1", "192.0.2.1", 1 },
	{ "::1", "::1", 1 },
	{ "[::1]/128", "::1", 1 },
	{ "[::1]", "::2", 0 },
	{ "2001:db8::/32", "2001:db8:ffff::1", 1 },
	{ "2001:db8::/32", "2001:db9::1", 0 },
	{ "2001:db8::/33", "2001:db8:8000::1", 0 },
	{ "::/0", "fe80::1", 1 },
	{ "::/0", "127.0.0.1", 0 },
	/* IPv4 clients on a dual-stack socket match IPv4 entries. */
	{ "127.0.0.0/8", "::ffff:127.0.0.1", 1 },
	{ "::ffff:192.0.2.0/120", "192.0.2.55", 1 },
	{ "::ffff:192.0.2.0/120", "192.0.3.55", 0 },
	/* Not addresses: never a match. */
	{ "127.0.0.1", "unix", 0 },
	{ "127.0.0.1", "", 0 },
	{ "127.0.0.1", "127.0.0.1 ", 0 },
	{ "", "127.0.0.1", 0 },
};

START_TEST(test_match)
{
	char *error = NULL;
	char **list;
	int count;
	struct netmatch *nm;

	list = params_list_split(cases[_i].list, &count);
	nm = netmatch_new(list, count, &error);
	ck_assert_msg(nm != NULL, "%s: %s", cases[_i].list, error);
	ck_assert_msg(netmatch_match(nm, cases[_i].addr) == cases[_i].match,
	    "%s in %s", cases[_i].addr, cases[_i].list);
	netmatch_free(&nm);
	ck_assert_ptr_null(nm);
	params_list_free(list);
}
END_TEST

static const char *const bad[] = {
	"localhost", "127.0.0.1/33", "127.0.0.1/-1", "127.0.0.1/", "/8",
	"127.0.0.1/8x", "127.0.0.1/8",	/* host bits past the prefix */
	"10.0.0.0/99999999999999999999", "::1/129", "2001:db8::1/32",
	"[127.0.0.1", "1.2.3", "::ffff:192.0.2.0/95", "::ffff:192.0.2.1/120",
	"1.2.3.4.5", "[]", "192.0.2.0 /24",
};

START_TEST(test_bad_entry)
{
	char entry[64];
	char *list[1] = { entry };
	char *error = NULL;
	struct netmatch *nm;

	snprintf(entry, sizeof(entry), "%s", bad[_i]);
	nm = netmatch_new(list, 1, &error);

	ck_assert_msg(nm == NULL, "accepted: %s", bad[_i]);
	ck_assert_ptr_nonnull(strstr(error, bad[_i]));
	free(error);
}
END_TEST

START_TEST(test_too_many)
{
	char **list = calloc(NETMATCH_MAX_ENTRIES + 1, sizeof(char *));
	char one[] = "10.0.0.1";
	char *error = NULL;
	struct netmatch *nm;
	int i;

	for (i = 0; i <= NETMATCH_MAX_ENTRIES; i++)
		list[i] = one;
	ck_assert_ptr_null(netmatch_new(list, NETMATCH_MAX_ENTRIES + 1,
	    &error));
	ck_assert_ptr_nonnull(error);
	free(error);
	error = NULL;
	nm = netmatch_new(list, NETMATCH_MAX_ENTRIES, &error);
	ck_assert_ptr_nonnull(nm);
	netmatch_free(&nm);
	free(list);
}
END_TEST

START_TEST(test_from_param)
{
	char *error = NULL;
	struct netmatch *nm;

	nm = netmatch_from_param("mynetworks", "127.0.0.1/32, 192.0.2.0/24 "
	    "[2001:db8::]/64", &error);
	ck_assert_ptr_nonnull(nm);
	ck_assert_int_eq(netmatch_match(nm, "192.0.2.77"), 1);
	ck_assert_int_eq(netmatch_match(nm, "2001:db8::5"), 1);
	ck_assert_int_eq(netmatch_match(nm, "127.0.0.2"), 0);
	netmatch_free(&nm);
	nm = netmatch_from_param("mynetworks", "", &error);
	ck_assert_ptr_nonnull(nm);
	ck_assert_int_eq(netmatch_match(nm, "127.0.0.1"), 0);
	netmatch_free(&nm);
	/* The error names the parameter and the entry. */
	ck_assert_ptr_null(netmatch_from_param("mynetworks",
	    "127.0.0.1 192.0.2.1/24", &error));
	ck_assert_ptr_nonnull(strstr(error, "mynetworks: "));
	ck_assert_ptr_nonnull(strstr(error, "192.0.2.1/24"));
	free(error);
}
END_TEST

static Suite *
netmatch_suite(void)
{
	Suite *s = suite_create("netmatch");
	TCase *tc = tcase_create("match");

	tcase_add_loop_test(tc, test_match, 0,
	    (int) (sizeof(cases) / sizeof(cases[0])));
	tcase_add_loop_test(tc, test_bad_entry, 0,
	    (int) (sizeof(bad) / sizeof(bad[0])));
	tcase_add_test(tc, test_too_many);
	tcase_add_test(tc, test_from_param);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(netmatch_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

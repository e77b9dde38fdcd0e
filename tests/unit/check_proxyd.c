/* check_proxyd: proxyd's pure pieces (the mail host list). */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "proxy_hosts.h"

/* A host list and the entries it splits into, "|"-joined. */
static const struct {
	const char *hosts;
	const char *want;
} host_cases[] = {
	{ "", "" },
	{ "   ,, ,", "" },
	{ "192.0.2.1", "192.0.2.1" },
	{ "192.0.2.1,192.0.2.2", "192.0.2.1|192.0.2.2" },
	{ " 192.0.2.1 , 192.0.2.2 ,", "192.0.2.1|192.0.2.2" },
	{ "[2001:db8::1],2001:db8::2", "2001:db8::1|2001:db8::2" },
	{ "[", "[" },
	{ "[]", "" },
	{ "a\tb", "a|b" },
	/* Longer than an address: an empty entry, the next still read. */
	{ "0123456789012345678901234567890123456789012345678901234567890123456789,192.0.2.9",
	  "|192.0.2.9" },
};

START_TEST(test_host_next)
{
	struct buf *joined = buf_new(256);
	char addr[64];
	size_t pos = 0;
	int first = 1;

	while (proxy_host_next(host_cases[_i].hosts, &pos, addr,
	    sizeof(addr))) {
		if (!first)
			ck_assert_int_eq(buf_append_char(joined, '|'), 0);
		ck_assert_int_eq(buf_append_str(joined, addr), 0);
		first = 0;
	}
	ck_assert_str_eq(buf_cstr(joined), host_cases[_i].want);
	buf_free(&joined);
	/* At the end it stays at the end. */
	ck_assert_int_eq(proxy_host_next(host_cases[_i].hosts, &pos, addr,
	    sizeof(addr)), 0);
}
END_TEST

static Suite *
proxyd_suite(void)
{
	Suite *s = suite_create("proxyd");
	TCase *tc = tcase_create("hosts");

	tcase_add_loop_test(tc, test_host_next, 0,
	    (int) (sizeof(host_cases) / sizeof(host_cases[0])));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(proxyd_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

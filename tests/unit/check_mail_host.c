/* check_mail_host: one mail host or several on shared storage. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mail_host.h"
#include "mail_params.h"

static void
setup(void)
{
	free(var_local_mail_hosts);
	var_local_mail_hosts = strdup("localhost 192.0.2.41, 2001:db8::41");
	free(var_lmtp_local_nexthop);
	var_lmtp_local_nexthop = strdup("unix:private/lmtpd");
	var_lmtp_port = 24;
}

static const struct {
	const char *mail_host;
	int local;
	const char *nexthops;
} cases[] = {
	{ "", 1, "unix:private/lmtpd" },
	{ " , ", 1, "unix:private/lmtpd" },
	{ "localhost", 1, "unix:private/lmtpd" },
	{ "LOCALHOST", 1, "unix:private/lmtpd" },
	{ "192.0.2.42", 0, "192.0.2.42:24" },
	{ "192.0.2.42:2424", 0, "192.0.2.42:2424" },
	{ "192.0.2.41,192.0.2.42", 1, "unix:private/lmtpd,192.0.2.42:24" },
	{ "192.0.2.42, 192.0.2.41", 1, "192.0.2.42:24,unix:private/lmtpd" },
	{ "192.0.2.42 192.0.2.43", 0, "192.0.2.42:24,192.0.2.43:24" },
	{ "[2001:db8::41]", 1, "unix:private/lmtpd" },
	{ "2001:db8::42", 0, "[2001:db8::42]:24" },
	{ "[2001:db8::42]", 0, "[2001:db8::42]:24" },
	{ "[2001:db8::42]:2424", 0, "[2001:db8::42]:2424" },
	{ "unix:/run/lmtpd", 0, "unix:/run/lmtpd" },
	{ "store1.example.net", 0, "store1.example.net:24" },
	{ "192.0.2.4", 0, "192.0.2.4:24" },	/* a prefix is no match */
	{ "192.0.2.411", 0, "192.0.2.411:24" },
};

START_TEST(test_mail_host)
{
	char *hops;

	ck_assert_int_eq(mail_host_is_local(cases[_i].mail_host),
	    cases[_i].local);
	hops = mail_host_lmtp_nexthops(cases[_i].mail_host);
	ck_assert_str_eq(hops, cases[_i].nexthops);
	free(hops);
}
END_TEST

START_TEST(test_null)
{
	char *hops;

	ck_assert_int_eq(mail_host_is_local(NULL), 1);
	hops = mail_host_lmtp_nexthops(NULL);
	ck_assert_str_eq(hops, "unix:private/lmtpd");
	free(hops);
}
END_TEST

static Suite *
mail_host_suite(void)
{
	Suite *s = suite_create("mail_host");
	TCase *tc = tcase_create("mail_host");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_loop_test(tc, test_mail_host, 0,
	    (int) (sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tc, test_null);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(mail_host_suite());
	int failed;

	log_init("check_mail_host", LOG_TARGET_STDERR, "mail");
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

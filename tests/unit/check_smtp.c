/*
 * check_smtp: the delivery agent's pure logic: next hop syntax, literal
 * routes, loop detection by address, TLS levels and policy lookups.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dns.h"
#include "mail_params.h"
#include "params.h"
#include "smtp.h"
#include "xalloc.h"

/* The agent's main module is not linked: its two helpers, stubbed. */
const char *
smtp_helo_name(void)
{
	return "mx.self.test";
}

struct dns *
smtp_dns(const char **error_r)
{
	*error_r = "no resolver in unit tests";
	return NULL;
}

static void
setup(void)
{
	params_init();
}

/* --- next hop syntax ------------------------------------------------- */

static const struct {
	const char *in;
	int rc;
	const char *host;
	unsigned int port;
	int literal;
} nexthops[] = {
	{ "example.com", 0, "example.com", 25, 0 },
	{ "example.com:2525", 0, "example.com", 2525, 0 },
	{ "[mail.example.com]", 0, "mail.example.com", 25, 1 },
	{ "[mail.example.com]:587", 0, "mail.example.com", 587, 1 },
	{ "[127.0.0.2]:10025", 0, "127.0.0.2", 10025, 1 },
	{ "[::1]:25", 0, "::1", 25, 1 },
	{ "[2001:db8::1]", 0, "2001:db8::1", 25, 1 },
	/* bad input */
	{ "", -1, NULL, 0, 0 },
	{ "[]", -1, NULL, 0, 0 },
	{ "[]:25", -1, NULL, 0, 0 },
	{ "[host", -1, NULL, 0, 0 },
	{ "[host]x", -1, NULL, 0, 0 },
	{ "[host]:", -1, NULL, 0, 0 },
	{ "host:", -1, NULL, 0, 0 },
	{ "host:0", -1, NULL, 0, 0 },
	{ "host:65536", -1, NULL, 0, 0 },
	{ "host:123456", -1, NULL, 0, 0 },
	{ "host:25x", -1, NULL, 0, 0 },
	{ "host:-1", -1, NULL, 0, 0 },
	{ "::1", -1, NULL, 0, 0 },
	{ "host:25:26", -1, NULL, 0, 0 },
	{ "ho st", -1, NULL, 0, 0 },
	{ "ho\tst", -1, NULL, 0, 0 },
	{ "h\xc3\xa9.example", -1, NULL, 0, 0 },
	{ "a/b", -1, NULL, 0, 0 },
	{ ":25", -1, NULL, 0, 0 },
};

START_TEST(test_nexthop_parse)
{
	char *host = NULL;
	unsigned int port = 0;
	int literal = -1, rc;

	rc = smtp_nexthop_parse(nexthops[_i].in, 25, &host, &port, &literal);
	ck_assert_msg(rc == nexthops[_i].rc, "%s: rc %d", nexthops[_i].in,
	    rc);
	if (rc == 0) {
		ck_assert_str_eq(host, nexthops[_i].host);
		ck_assert_uint_eq(port, nexthops[_i].port);
		ck_assert_int_eq(literal, nexthops[_i].literal);
	} else {
		ck_assert_ptr_null(host);
	}
	free(host);
}
END_TEST

START_TEST(test_nexthop_long)
{
	char name[300];
	char *host = NULL;
	unsigned int port;
	int literal;

	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	ck_assert_int_eq(smtp_nexthop_parse(name, 25, &host, &port, &literal),
	    -1);
	ck_assert_int_eq(smtp_nexthop_parse(NULL, 25, &host, &port, &literal),
	    -1);
}
END_TEST

/* --- routes without DNS ------------------------------------------------ */

START_TEST(test_route_literal)
{
	struct smtp_route *r = smtp_route_lookup("[127.0.0.2]:2525");

	ck_assert_uint_eq(r->count, 1);
	ck_assert_str_eq(r->targets[0].addr.text, "127.0.0.2");
	ck_assert_uint_eq(r->targets[0].port, 2525);
	ck_assert_int_eq(r->targets[0].preference, -1);
	ck_assert_str_eq(r->domain, "127.0.0.2");
	smtp_route_free(&r);
	ck_assert_ptr_null(r);

	/* A literal next hop is the operator's choice: no loop check. */
	r = smtp_route_lookup("[127.0.0.1]");
	ck_assert_uint_eq(r->count, 1);
	ck_assert_uint_eq(r->targets[0].port, 25);
	smtp_route_free(&r);
}
END_TEST

START_TEST(test_route_bad)
{
	struct smtp_route *r = smtp_route_lookup("[bad");

	ck_assert_uint_eq(r->count, 0);
	ck_assert_str_eq(r->code, "451");
	ck_assert_str_eq(r->dsn, "4.3.5");
	ck_assert_int_eq(r->tempfail, 0);
	smtp_route_free(&r);

	/* A name needs the resolver; without one, a temporary failure. */
	r = smtp_route_lookup("example.test");
	ck_assert_uint_eq(r->count, 0);
	ck_assert_int_eq(r->code[0], '4');
	smtp_route_free(&r);
}
END_TEST

START_TEST(test_self_addr)
{
	struct dns_addr a;
	char *error = NULL;

	ck_assert_int_eq(params_set("smtp_loop_addresses",
	    "192.0.2.7, 2001:db8::7 notanaddress", &error), 0);
	ck_assert_int_eq(dns_addr_parse("127.0.0.1", &a), 0);
	ck_assert_int_eq(smtp_route_is_self_addr(&a), 1);
	ck_assert_int_eq(dns_addr_parse("192.0.2.7", &a), 0);
	ck_assert_int_eq(smtp_route_is_self_addr(&a), 1);
	ck_assert_int_eq(dns_addr_parse("2001:db8::7", &a), 0);
	ck_assert_int_eq(smtp_route_is_self_addr(&a), 1);
	ck_assert_int_eq(dns_addr_parse("192.0.2.8", &a), 0);
	ck_assert_int_eq(smtp_route_is_self_addr(&a), 0);
	ck_assert_int_eq(dns_addr_parse("127.0.0.2", &a), 0);
	ck_assert_int_eq(smtp_route_is_self_addr(&a), 0);
}
END_TEST

/* --- TLS levels and policy --------------------------------------------- */

static const struct {
	const char *in;
	int rc;
	enum smtp_tls_level level;
} levels[] = {
	{ "none", 0, SMTP_TLS_NONE },
	{ "may", 0, SMTP_TLS_MAY },
	{ "ENCRYPT", 0, SMTP_TLS_ENCRYPT },
	{ "verify", 0, SMTP_TLS_VERIFY },
	{ "", -1, 0 },
	{ "secure", -1, 0 },
	{ "verify ", -1, 0 },
	{ "mayx", -1, 0 },
};

START_TEST(test_tls_level)
{
	enum smtp_tls_level level = SMTP_TLS_MAY;
	int rc = smtp_tls_level_parse(levels[_i].in, &level);

	ck_assert_int_eq(rc, levels[_i].rc);
	if (rc == 0) {
		ck_assert_int_eq(level, levels[_i].level);
		ck_assert_str_eq(smtp_tls_level_name(level),
		    levels[_i].level == SMTP_TLS_ENCRYPT ? "encrypt" :
		    levels[_i].in);
	}
}
END_TEST

static const char policy[] =
    "# TLS policy\n"
    "bank.example verify\n"
    "legacy.example=none  partner.example=encrypt\n"
    ".bank.example may # subdomains\n"
    "Bank.Example none\n";

static const struct {
	const char *policy;
	const char *domain;
	int rc;
	enum smtp_tls_level level;
} lookups[] = {
	{ policy, "bank.example", 1, SMTP_TLS_VERIFY },
	{ policy, "BANK.example", 1, SMTP_TLS_VERIFY },
	{ policy, "mx.bank.example", 1, SMTP_TLS_MAY },
	{ policy, "legacy.example", 1, SMTP_TLS_NONE },
	{ policy, "partner.example", 1, SMTP_TLS_ENCRYPT },
	{ policy, "xbank.example", 0, 0 },
	{ policy, "example", 0, 0 },
	{ policy, "", 0, 0 },
	{ "", "bank.example", 0, 0 },
	{ "a=may,b=verify", "b", 1, SMTP_TLS_VERIFY },
	/* bad input */
	{ "a=secure", "a", -1, 0 },
	{ "a=", "a", -1, 0 },
	{ "a", "a", -1, 0 },
	{ "=may", "a", -1, 0 },
	{ "a=verifyverifyverifyverify", "a", -1, 0 },
	{ "ok=may bad", "ok", -1, 0 },
};

START_TEST(test_tls_policy)
{
	enum smtp_tls_level level = 99;
	const char *error = NULL;
	int rc = smtp_tls_policy_find(lookups[_i].policy, lookups[_i].domain,
	    &level, &error);

	ck_assert_msg(rc == lookups[_i].rc, "%s / %s: rc %d",
	    lookups[_i].policy, lookups[_i].domain, rc);
	if (rc == 1)
		ck_assert_int_eq(level, lookups[_i].level);
	if (rc < 0)
		ck_assert_ptr_nonnull(error);
}
END_TEST

START_TEST(test_tls_policy_level)
{
	char *error = NULL;
	FILE *f;
	char path[] = "/tmp/check_smtp_policyXXXXXX";
	int fd;

	ck_assert_int_eq(smtp_tls_policy_level("any.example"), SMTP_TLS_MAY);
	ck_assert_int_eq(params_set("smtp_tls_security_level", "encrypt",
	    &error), 0);
	ck_assert_int_eq(params_set("smtp_tls_policy", "a.example=verify",
	    &error), 0);
	ck_assert_int_eq(smtp_tls_policy_level("a.example"), SMTP_TLS_VERIFY);
	ck_assert_int_eq(smtp_tls_policy_level("b.example"),
	    SMTP_TLS_ENCRYPT);
	/* A broken policy falls back to the default level. */
	ck_assert_int_eq(params_set("smtp_tls_policy", "a.example=bogus",
	    &error), 0);
	ck_assert_int_eq(smtp_tls_policy_level("a.example"),
	    SMTP_TLS_ENCRYPT);
	/* A file. */
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	fputs("# comment\nfile.example none\n", f);
	fclose(f);
	ck_assert_int_eq(params_set("smtp_tls_policy", path, &error), 0);
	ck_assert_int_eq(smtp_tls_policy_level("file.example"),
	    SMTP_TLS_NONE);
	unlink(path);
	/* A missing file: the default level. */
	ck_assert_int_eq(smtp_tls_policy_level("file.example"),
	    SMTP_TLS_ENCRYPT);
}
END_TEST

static Suite *
smtp_suite(void)
{
	Suite *s = suite_create("smtp");
	TCase *tc;

	tc = tcase_create("nexthop");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_loop_test(tc, test_nexthop_parse, 0,
	    (int) (sizeof(nexthops) / sizeof(nexthops[0])));
	tcase_add_test(tc, test_nexthop_long);
	suite_add_tcase(s, tc);

	tc = tcase_create("route");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_route_literal);
	tcase_add_test(tc, test_route_bad);
	tcase_add_test(tc, test_self_addr);
	suite_add_tcase(s, tc);

	tc = tcase_create("tls");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_loop_test(tc, test_tls_level, 0,
	    (int) (sizeof(levels) / sizeof(levels[0])));
	tcase_add_loop_test(tc, test_tls_policy, 0,
	    (int) (sizeof(lookups) / sizeof(lookups[0])));
	tcase_add_test(tc, test_tls_policy_level);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(smtp_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

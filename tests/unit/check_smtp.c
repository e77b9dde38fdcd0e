/*
 * check_smtp: the delivery agent's pure logic: next hop syntax, literal
 * routes, loop detection by address, TLS levels and policy lookups,
 * MTA-STS policy and TXT record parsing and mx pattern matching.
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
	{ "dane-only", 0, SMTP_TLS_DANE_ONLY },
	{ "dane", -1, 0 },
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

/* --- MTA-STS (RFC 8461) ------------------------------------------------ */

static const struct {
	const char *text;
	int rc;
	enum smtp_sts_mode mode;
	long long max_age;
	size_t mx_count;
} sts_policies[] = {
	{ "version: STSv1\nmode: enforce\nmx: mx.example.com\n"
	    "max_age: 86400\n", 0, SMTP_STS_ENFORCE, 86400, 1 },
	{ "version: STSv1\r\nmode: testing\r\nmx: *.example.com\r\n"
	    "mx: mx2.example.net\r\nmax_age:604800\r\n", 0,
	    SMTP_STS_TESTING, 604800, 2 },
	{ "version: STSv1\nmode: none\nmax_age: 0\nfoo: bar", 0,
	    SMTP_STS_NONE, 0, 0 },
	/* max_age over a year is capped (RFC 8461 3.2). */
	{ "version: STSv1\nmode: enforce\nmx: a.example\n"
	    "max_age: 9999999999\n", 0, SMTP_STS_ENFORCE, 31557600, 1 },
	/* bad input */
	{ "", -1, 0, 0, 0 },
	{ "version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1\n",
	    -1, 0, 0, 0 },
	{ "version: STSv1\nmode: strict\nmx: a.example\nmax_age: 1\n",
	    -1, 0, 0, 0 },
	{ "version: STSv1\nmode: enforce\nmax_age: 1\n", -1, 0, 0, 0 },
	{ "version: STSv1\nmode: enforce\nmx: a.example\n", -1, 0, 0, 0 },
	{ "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: -1\n",
	    -1, 0, 0, 0 },
	{ "version: STSv1\nmode: enforce\nmx: a..example\nmax_age: 1\n",
	    -1, 0, 0, 0 },
	{ "version: STSv1\nmode: enforce\nmx: a\texample\nmax_age: 1\n",
	    -1, 0, 0, 0 },
	{ "version: STSv1\nmode: enforce\nmx: **.example\nmax_age: 1\n",
	    -1, 0, 0, 0 },
	{ "no colon here\n", -1, 0, 0, 0 },
};

START_TEST(test_sts_policy_parse)
{
	struct smtp_sts_policy *p = NULL;
	const char *error = NULL;
	const char *text = sts_policies[_i].text;
	int rc;

	rc = smtp_sts_policy_parse(text, strlen(text), &p, &error);
	ck_assert_msg(rc == sts_policies[_i].rc, "%s: %d (%s)", text, rc,
	    error != NULL ? error : "");
	if (rc == 0) {
		ck_assert_int_eq(p->mode, sts_policies[_i].mode);
		ck_assert_int_eq(p->max_age, sts_policies[_i].max_age);
		ck_assert_uint_eq(p->mx_count, sts_policies[_i].mx_count);
		smtp_sts_free(&p);
	} else {
		ck_assert_ptr_null(p);
		ck_assert_ptr_nonnull(error);
	}
}
END_TEST

START_TEST(test_sts_policy_nul)
{
	static const char text[] = "version: STSv1\nmode: enforce\n"
	    "mx: a.ex\0ample\nmax_age: 1\n";
	struct smtp_sts_policy *p = NULL;
	const char *error;

	ck_assert_int_eq(smtp_sts_policy_parse(text, sizeof(text) - 1, &p,
	    &error), -1);
}
END_TEST

START_TEST(test_sts_mx_match)
{
	static const char text[] = "version: STSv1\nmode: enforce\n"
	    "mx: mail.example.com\nmx: *.example.net\nmax_age: 1\n";
	struct smtp_sts_policy *p = NULL;
	const char *error;

	ck_assert_int_eq(smtp_sts_policy_parse(text, strlen(text), &p,
	    &error), 0);
	ck_assert_int_eq(smtp_sts_mx_match(p, "mail.example.com"), 1);
	ck_assert_int_eq(smtp_sts_mx_match(p, "MAIL.Example.COM."), 1);
	ck_assert_int_eq(smtp_sts_mx_match(p, "mx1.example.net"), 1);
	/* A wildcard stands for exactly one label (RFC 8461 4.1). */
	ck_assert_int_eq(smtp_sts_mx_match(p, "a.b.example.net"), 0);
	ck_assert_int_eq(smtp_sts_mx_match(p, "example.net"), 0);
	ck_assert_int_eq(smtp_sts_mx_match(p, ".example.net"), 0);
	ck_assert_int_eq(smtp_sts_mx_match(p, "xmail.example.com"), 0);
	ck_assert_int_eq(smtp_sts_mx_match(p, "mail.example.com.evil"), 0);
	smtp_sts_free(&p);
}
END_TEST

static const struct {
	const char *txt;
	int rc;
	const char *id;
} sts_txts[] = {
	{ "v=STSv1; id=20160831085700Z;", 0, "20160831085700Z" },
	{ "v=STSv1;id=abc", 0, "abc" },
	{ "v=STSv1; id=abc; foo=bar", 0, "abc" },
	/* bad input */
	{ "v=STSv1;", -1, NULL },
	{ "id=abc; v=STSv1", -1, NULL },
	{ "v=STSv2; id=abc", -1, NULL },
	{ "v=STSv1; id=a-b", -1, NULL },
	{ "v=STSv1; id=", -1, NULL },
	{ "v=STSv1; id=abc; id=def", -1, NULL },
	{ "v=STSv1; id=123456789012345678901234567890123", -1, NULL },
	{ "v=STSv1; junk", -1, NULL },
};

START_TEST(test_sts_txt_id)
{
	char *id = NULL;
	int rc = smtp_sts_txt_id(sts_txts[_i].txt, &id);

	ck_assert_msg(rc == sts_txts[_i].rc, "%s: %d", sts_txts[_i].txt, rc);
	if (rc == 0)
		ck_assert_str_eq(id, sts_txts[_i].id);
	else
		ck_assert_ptr_null(id);
	free(id);
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

	tc = tcase_create("mta-sts");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_loop_test(tc, test_sts_policy_parse, 0,
	    (int) (sizeof(sts_policies) / sizeof(sts_policies[0])));
	tcase_add_test(tc, test_sts_policy_nul);
	tcase_add_test(tc, test_sts_mx_match);
	tcase_add_loop_test(tc, test_sts_txt_id, 0,
	    (int) (sizeof(sts_txts) / sizeof(sts_txts[0])));
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

/* check_address: RFC 5321 parsing, normalisation, quoting, tag splitting. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "xalloc.h"

/* A string of n copies of c (caller frees). */
static char *
repeat(char c, size_t n)
{
	char *s = xmalloc(n + 1);

	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* ---- good addresses: input -> normal form (case-insensitive local) ---- */

static const struct {
	const char *input;
	const char *norm;
} good[] = {
	{ "alice@example.test", "alice@example.test" },
	{ "Alice@Example.TEST", "alice@example.test" },
	{ "a.b.c@x.test", "a.b.c@x.test" },
	{ "a@x", "a@x" },
	{ "a@1.2.3.4", "a@1.2.3.4" },
	{ "a@xn--bcher-kva.example", "a@xn--bcher-kva.example" },
	{ "a-b@a-b.test", "a-b@a-b.test" },
	{ "!#$%&'*+-/=?^_`{|}~@x.test", "!#$%&'*+-/=?^_`{|}~@x.test" },
	/* A quoted local part that is a dot-string loses its quotes. */
	{ "\"a.b\"@x.test", "a.b@x.test" },
	{ "\"Alice\"@x.test", "alice@x.test" },
	/* An unnecessary quoted-pair is dropped with the quotes. */
	{ "\"a\\b\"@x.test", "ab@x.test" },
	/* Quoting that is needed stays, in the shortest form. */
	{ "\"a b\"@x.test", "\"a b\"@x.test" },
	{ "\"A@B\"@x.test", "\"a@b\"@x.test" },
	{ "\"a\\\"b\"@x.test", "\"a\\\"b\"@x.test" },
	{ "\"a\\\\b\"@x.test", "\"a\\\\b\"@x.test" },
	{ "\".a\"@x.test", "\".a\"@x.test" },
	{ "\"a..b\"@x.test", "\"a..b\"@x.test" },
	{ "\"a\\ b\"@x.test", "\"a b\"@x.test" },
	/* Address literals. */
	{ "user@[192.0.2.1]", "user@[192.0.2.1]" },
	{ "user@[IPv6:2001:db8::1]", "user@[ipv6:2001:db8::1]" },
	{ "user@[ipv6:::1]", "user@[ipv6:::1]" },
	/* SMTPUTF8: octets >= 0x80 are opaque, ASCII is still lowered. */
	{ "J\xc3\xb6rg@B\xc3\xbc" "cher.example", "j\xc3\xb6rg@b\xc3\xbc"
	    "cher.example" },
	{ "\xc3\x84lice@x.test", "\xc3\x84lice@x.test" },
	{ "\"\xe2\x82\xac sign\"@x.test", "\"\xe2\x82\xac sign\"@x.test" },
};

START_TEST(test_good)
{
	char *norm = NULL, *error = NULL, *local = NULL, *domain = NULL;
	const char *in = good[_i].input;

	ck_assert_msg(address_normalize(in, strlen(in), 0, &norm, &error)
	    == 0, "%s: %s", in, error);
	ck_assert_str_eq(norm, good[_i].norm);
	ck_assert_int_eq(address_parse(in, strlen(in), &local, &domain,
	    &error), 0);
	ck_assert_ptr_nonnull(strchr(in, '@'));
	ck_assert_str_eq(domain, strrchr(in, '@') + 1);
	/* The normal form is a fixed point. */
	free(error);
	error = NULL;
	free(local);
	free(domain);
	local = norm;
	ck_assert_int_eq(address_normalize(local, strlen(local), 0, &norm,
	    &error), 0);
	ck_assert_str_eq(norm, good[_i].norm);
	free(norm);
	free(local);
}
END_TEST

START_TEST(test_case_sensitive)
{
	char *norm = NULL, *error = NULL;

	ck_assert_int_eq(address_normalize("Alice.Smith@EXAMPLE.Test", 24, 1,
	    &norm, &error), 0);
	ck_assert_str_eq(norm, "Alice.Smith@example.test");
	free(norm);
	ck_assert_int_eq(address_normalize("\"Al Ice\"@X", 10, 1, &norm,
	    &error), 0);
	ck_assert_str_eq(norm, "\"Al Ice\"@x");
	free(norm);
}
END_TEST

START_TEST(test_limits_ok)
{
	char *local = repeat('a', 64), *label = repeat('b', 63);
	char *addr, *norm = NULL, *error = NULL;

	addr = xasprintf("%s@%s.test", local, label);
	ck_assert_msg(address_normalize(addr, strlen(addr), 0, &norm,
	    &error) == 0, "%s", error);
	free(norm);
	free(addr);
	/* Exactly 254 octets: 64 + 1 + 63.63.61 */
	addr = xasprintf("%s@%s.%s.%.61s", local, label, label, label);
	ck_assert_uint_eq(strlen(addr), 254);
	ck_assert_msg(address_normalize(addr, strlen(addr), 0, &norm,
	    &error) == 0, "%s", error);
	free(norm);
	free(addr);
	free(local);
	free(label);
}
END_TEST

/* ---- bad addresses: input (with length) -> error text ------------------ */

static const struct {
	const char *input;
	size_t len;			/* 0: strlen */
	const char *error;		/* a substring of the error */
} bad[] = {
	{ "", 0, "empty address" },
	{ "a..b@x", 0, "two dots in a row" },
	{ ".a@x", 0, "starts with a dot" },
	{ "a.@x", 0, "ends with a dot" },
	{ "a.", 0, "ends with a dot" },
	{ "@x", 0, "empty local part" },
	{ "a@", 0, "missing domain" },
	{ "a", 0, "missing @domain" },
	{ "postmaster", 0, "missing @domain" },
	{ "a@-x.test", 0, "starts with a hyphen" },
	{ "a@x-.test", 0, "ends with a hyphen" },
	{ "a@x_y.test", 0, "invalid character '_' in domain" },
	{ "a@x..test", 0, "empty label in domain" },
	{ "a@.x.test", 0, "empty label in domain" },
	{ "a@x.test.", 0, "empty label in domain" },
	{ "a@b@c", 0, "invalid character '@' in domain" },
	{ "a b@x", 0, "invalid character 0x20 in local part" },
	{ "a\x01@x", 0, "invalid character 0x01 in local part" },
	{ "a(b)@x", 0, "invalid character '(' in local part" },
	{ "a@x y", 0, "invalid character 0x20 in domain" },
	{ "a@x\x7f", 0, "invalid character 0x7f in domain" },
	{ "\"ab@x", 0, "unterminated quoted local part" },
	{ "\"a\\\x01\"@x", 0, "invalid quoted-pair" },
	{ "\"a\\", 0, "invalid quoted-pair" },
	{ "\"a\x01\"@x", 0, "invalid character 0x01 in quoted local part" },
	{ "\"\"@x", 0, "empty local part" },
	{ "\"a\"b@x", 0, "after the quoted local part" },
	{ "\"a\"", 0, "missing @domain" },
	{ "a@[1.2.3]", 0, "invalid IPv4 address literal" },
	{ "a@[256.1.1.1]", 0, "invalid IPv4 address literal" },
	{ "a@[IPv6:zz::1]", 0, "invalid IPv6 address literal" },
	{ "a@[IPv6:1.2.3.4]", 0, "invalid IPv6 address literal" },
	{ "a@[x:y]", 0, "unsupported address literal" },
	{ "a@[1.2.3.4", 0, "unterminated address literal" },
	{ "a@[]", 0, "invalid IPv4 address literal" },
	/* NUL bytes inside the given length. */
	{ "a\0b@x", 5, "NUL byte in local part" },
	{ "ab@x\0y", 6, "NUL byte in domain" },
	{ "\"a\0\"@x", 6, "NUL byte in quoted local part" },
	{ "a@[1.2\0.3.4]", 12, "NUL byte in address literal" },
};

START_TEST(test_bad)
{
	const char *in = bad[_i].input;
	size_t len = bad[_i].len != 0 ? bad[_i].len : strlen(in);
	char *norm = NULL, *error = NULL;

	ck_assert_int_eq(address_normalize(in, len, 0, &norm, &error), -1);
	ck_assert_ptr_null(norm);
	ck_assert_ptr_nonnull(error);
	ck_assert_msg(strstr(error, bad[_i].error) != NULL,
	    "case %d: \"%s\" does not contain \"%s\"", _i, error,
	    bad[_i].error);
	free(error);
	/* address_parse agrees and leaves the outputs alone. */
	error = NULL;
	ck_assert_int_eq(address_parse(in, len, NULL, NULL, &error), -1);
	ck_assert_ptr_nonnull(error);
	free(error);
}
END_TEST

START_TEST(test_limits_bad)
{
	static const struct {
		size_t local, label;
		const char *error;
	} cases[] = {
		{ 65, 10, "local part too long (65 > 64 octets)" },
		{ 10, 64, "domain label too long (64 > 63 octets)" },
	};
	char *local, *label, *addr, *norm = NULL, *error = NULL;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		local = repeat('a', cases[i].local);
		label = repeat('b', cases[i].label);
		addr = xasprintf("%s@%s.test", local, label);
		ck_assert_int_eq(address_normalize(addr, strlen(addr), 0,
		    &norm, &error), -1);
		ck_assert_msg(strstr(error, cases[i].error) != NULL, "%s",
		    error);
		xfree(error);
		free(addr);
		free(local);
		free(label);
	}
	/* 255 octets and a very long one. */
	label = repeat('b', 63);
	addr = xasprintf("%s@%s.%s.%s.%.60s", "ab", label, label, label,
	    label);
	ck_assert_uint_eq(strlen(addr), 255);
	ck_assert_int_eq(address_normalize(addr, strlen(addr), 0, &norm,
	    &error), -1);
	ck_assert_str_eq(error, "address too long (255 > 254 octets)");
	xfree(error);
	free(addr);
	free(label);
	addr = repeat('a', 100000);
	ck_assert_int_eq(address_normalize(addr, strlen(addr), 0, &norm,
	    &error), -1);
	ck_assert_str_eq(error, "address too long (100000 > 254 octets)");
	xfree(error);
	free(addr);
	/* A 65-octet local part of a quoted string counts its quotes. */
	local = repeat('x', 63);
	addr = xasprintf("\"%s\"@x", local);
	ck_assert_int_eq(address_normalize(addr, strlen(addr), 0, &norm,
	    &error), -1);
	ck_assert_str_eq(error, "local part too long (65 > 64 octets)");
	xfree(error);
	free(addr);
	free(local);
}
END_TEST

/* ---- domains ------------------------------------------------------------ */

START_TEST(test_domain_check)
{
	static const struct {
		const char *domain;
		int allow_literal;
		int ok;
	} cases[] = {
		{ "example.test", 0, 1 },
		{ "EXAMPLE.test", 0, 1 },
		{ "b\xc3\xbc" "cher.example", 0, 1 },
		{ "[192.0.2.1]", 1, 1 },
		{ "[192.0.2.1]", 0, 0 },
		{ "", 0, 0 },
		{ "x_y.test", 0, 0 },
		{ "-x.test", 0, 0 },
		{ "x.test.", 0, 0 },
	};
	char *error = NULL, *label = repeat('a', 63), *domain;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_msg(address_domain_check(cases[i].domain,
		    strlen(cases[i].domain), cases[i].allow_literal, &error)
		    == (cases[i].ok ? 0 : -1), "case %zu", i);
		if (!cases[i].ok)
			ck_assert_ptr_nonnull(error);
		xfree(error);
	}
	/* 63.63.63.63 = 255 octets is the most; one more is refused. */
	domain = xasprintf("%s.%s.%s.%s", label, label, label, label);
	ck_assert_uint_eq(strlen(domain), 255);
	ck_assert_int_eq(address_domain_check(domain, 255, 0, &error), 0);
	free(domain);
	domain = xasprintf("%s.%s.%s.%s.a", label, label, label, label);
	ck_assert_int_eq(address_domain_check(domain, strlen(domain), 0,
	    &error), -1);
	ck_assert_str_eq(error, "domain too long (257 > 255 octets)");
	xfree(error);
	free(domain);
	free(label);
}
END_TEST

/* ---- quoting ------------------------------------------------------------ */

static const struct {
	const char *quoted;		/* a valid local part */
	const char *content;
	const char *canonical;
} quoting[] = {
	{ "alice", "alice", "alice" },
	{ "\"alice\"", "alice", "alice" },
	{ "\"a b\"", "a b", "\"a b\"" },
	{ "\"a\\\"b\"", "a\"b", "\"a\\\"b\"" },
	{ "\"a\\\\b\"", "a\\b", "\"a\\\\b\"" },
	{ "\"a.\"", "a.", "\"a.\"" },
	{ "\"a@b\"", "a@b", "\"a@b\"" },
};

START_TEST(test_quoting)
{
	char *content = address_local_unquote(quoting[_i].quoted);
	char *canonical = address_local_canonical(quoting[_i].content);

	ck_assert_str_eq(content, quoting[_i].content);
	ck_assert_str_eq(canonical, quoting[_i].canonical);
	free(content);
	free(canonical);
}
END_TEST

START_TEST(test_dot_string)
{
	static const struct {
		const char *s;
		int yes;
	} cases[] = {
		{ "a", 1 }, { "a.b", 1 }, { "a+b-c", 1 }, { "\xc3\xa9", 1 },
		{ "", 0 }, { ".a", 0 }, { "a.", 0 }, { "a..b", 0 },
		{ "a b", 0 }, { "a\"b", 0 }, { "a@b", 0 }, { "a\\b", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_msg(address_is_dot_string(cases[i].s,
		    strlen(cases[i].s)) == cases[i].yes, "case %zu", i);
}
END_TEST

/* ---- recipient delimiters ----------------------------------------------- */

static const struct {
	const char *content;
	const char *delimiters;
	int found;
	size_t user_len;
} splits[] = {
	{ "user+tag", "+", 1, 4 },
	{ "user+", "+", 1, 4 },
	{ "a+b+c", "+", 1, 1 },
	{ "user-tag+x", "+-", 1, 4 },
	{ "user+tag-x", "+-", 1, 4 },
	{ "first.last-list", "+-", 1, 10 },
	{ "user", "+", 0, 0 },
	{ "+tag", "+", 0, 0 },
	{ "-tag", "+-", 0, 0 },
	{ "user+tag", "", 0, 0 },
	{ "user+tag", "-", 0, 0 },
	{ "", "+", 0, 0 },
};

START_TEST(test_split)
{
	size_t user_len = 12345;

	ck_assert_int_eq(address_split_delimiter(splits[_i].content,
	    splits[_i].delimiters, &user_len), splits[_i].found);
	if (splits[_i].found)
		ck_assert_uint_eq(user_len, splits[_i].user_len);
	else
		ck_assert_uint_eq(user_len, 12345);
}
END_TEST

static Suite *
address_suite(void)
{
	Suite *s = suite_create("address");
	TCase *tc;

	tc = tcase_create("parse");
	tcase_add_loop_test(tc, test_good, 0, sizeof(good) / sizeof(good[0]));
	tcase_add_loop_test(tc, test_bad, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, test_case_sensitive);
	tcase_add_test(tc, test_limits_ok);
	tcase_add_test(tc, test_limits_bad);
	tcase_add_test(tc, test_domain_check);
	suite_add_tcase(s, tc);

	tc = tcase_create("quoting");
	tcase_add_loop_test(tc, test_quoting, 0,
	    sizeof(quoting) / sizeof(quoting[0]));
	tcase_add_test(tc, test_dot_string);
	suite_add_tcase(s, tc);

	tc = tcase_create("delimiter");
	tcase_add_loop_test(tc, test_split, 0,
	    sizeof(splits) / sizeof(splits[0]));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	sr = srunner_create(address_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

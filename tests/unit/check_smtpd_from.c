/*
 * check_smtpd_from: the author domains smtpd_authres_from reads from
 * From: fields for DMARC: strictly where it can (never a domain in a
 * display name or comment), leniently where it cannot, and unreadable
 * (a DMARC failure) when nothing is left, or too much.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "smtpd_authres_from.h"
#include "xalloc.h"

struct from_case {
	const char *value;
	const char *domains;		/* space separated, in order */
	int unreadable;
	size_t mailboxes;
	const char *strict;		/* the signing domain, or NULL */
};

static const struct from_case cases[] = {
	{ " a@Bank.Example", "bank.example", 0, 1, "bank.example" },
	{ " Bank <service@bank.example>", "bank.example", 0, 1,
	  "bank.example" },
	/* Display names and comments are not looked into. */
	{ " \"Bank <x@pass.example>\" <service@bank.example>",
	  "bank.example", 0, 1, "bank.example" },
	{ " (x@pass.example <x@pass.example>) service@bank.example",
	  "bank.example", 0, 1, "bank.example" },
	{ " \"a@pass.example\"@bank.example", "bank.example", 0, 1,
	  "bank.example" },
	/* Not strict: lenient, never nothing. */
	{ " PayPal <service@paypal.example>;", "paypal.example", 0, 1, NULL },
	{ " <service@paypal.example> x", "paypal.example", 0, 1, NULL },
	{ " \"PayPal <service@paypal.example>", "paypal.example", 0, 1,
	  NULL },
	{ " service@paypal.example (x", "paypal.example", 0, 1, NULL },
	{ " a@pass.example b@", "pass.example", 0, 1, NULL },
	{ " service@bank.example x@pass.example",
	  "bank.example pass.example", 0, 1, NULL },
	{ " x@pass.example service@bank.example",
	  "pass.example bank.example", 0, 1, NULL },
	{ " x@pass.example <service@bank.example> <y@pass.example",
	  "bank.example", 0, 1, NULL },
	{ " \"Bank <x@pass.example>\" <service@bank.example> \"",
	  "pass.example bank.example", 0, 1, NULL },
	{ " g: a@one.example, b@two.example;", "one.example two.example", 0,
	  2, NULL },
	/* Several mailboxes: every distinct domain. */
	{ " <service@paypal.example>, <a@attacker.example>",
	  "paypal.example attacker.example", 0, 2, NULL },
	{ " a@one.example, B@ONE.example", "one.example", 0, 2, NULL },
	{ " a@d1.example, a@d2.example, a@d3.example, a@d4.example, "
	  "a@d5.example, a@d6.example, a@d7.example, a@d8.example",
	  "d1.example d2.example d3.example d4.example d5.example d6.example "
	  "d7.example d8.example", 0, 8, NULL },
	{ " a@d1.example, a@d2.example, a@d3.example, a@d4.example, "
	  "a@d5.example, a@d6.example, a@d7.example, a@d8.example, "
	  "a@d9.example",
	  "d1.example d2.example d3.example d4.example d5.example d6.example "
	  "d7.example d8.example", 1, 9, NULL },
	/* Nothing a reader could be shown to check. */
	{ " nobody", "", 1, 1, NULL },
	{ "", "", 1, 1, NULL },
	{ " , ,", "", 1, 1, NULL },
	{ " Bank <service@>", "", 1, 1, NULL },
	{ " a@bad..example", "", 1, 1, NULL },
	{ " a@bad_example!", "", 1, 1, NULL },
	{ " \"unclosed", "", 1, 1, NULL },
};

static void
check_case(const struct from_case *c, struct smtpd_from *from)
{
	struct buf *got = buf_new(4096);
	size_t i;

	for (i = 0; i < from->domain_count; i++)
		(void) buf_printf(got, "%s%s", i ? " " : "", from->domains[i]);
	ck_assert_msg(strcmp(buf_cstr(got), c->domains) == 0,
	    "[%s]: domains [%s], not [%s]", c->value, buf_cstr(got),
	    c->domains);
	ck_assert_msg(from->unreadable == c->unreadable, "[%s]: unreadable %d",
	    c->value, from->unreadable);
	ck_assert_msg(from->mailboxes == c->mailboxes, "[%s]: %zu mailboxes",
	    c->value, from->mailboxes);
	ck_assert_msg((from->strict == NULL && c->strict == NULL) ||
	    (from->strict != NULL && c->strict != NULL &&
	    strcmp(from->strict, c->strict) == 0), "[%s]: strict %s",
	    c->value, from->strict != NULL ? from->strict : "(null)");
	buf_free(&got);
}

START_TEST(test_field)
{
	struct smtpd_from from;

	memset(&from, 0, sizeof(from));
	smtpd_from_field(&from, cases[_i].value, strlen(cases[_i].value));
	check_case(&cases[_i], &from);
	smtpd_from_clear(&from);
}
END_TEST

/* Folded, with CR LF inside: the same as unfolded. */
START_TEST(test_folded)
{
	static const char value[] = " Bank\r\n <service@Bank.example>";
	struct smtpd_from from;

	memset(&from, 0, sizeof(from));
	smtpd_from_field(&from, value, sizeof(value) - 1);
	ck_assert_uint_eq(from.domain_count, 1);
	ck_assert_str_eq(from.domains[0], "bank.example");
	ck_assert_str_eq(from.strict, "bank.example");
	smtpd_from_clear(&from);
}
END_TEST

/* A NUL does not hide what follows it. */
START_TEST(test_nul)
{
	static const char value[] = " a@pass.example\0, service@bank.example";
	struct smtpd_from from;

	memset(&from, 0, sizeof(from));
	smtpd_from_field(&from, value, sizeof(value) - 1);
	ck_assert_uint_eq(from.domain_count, 2);
	ck_assert_str_eq(from.domains[1], "bank.example");
	smtpd_from_clear(&from);
}
END_TEST

/* Two fields: both counted, the second never the signing domain. */
START_TEST(test_two_fields)
{
	struct smtpd_from from;

	memset(&from, 0, sizeof(from));
	smtpd_from_field(&from, " a@pass.example", 15);
	smtpd_from_field(&from, " b@bank.example", 15);
	ck_assert_uint_eq(from.fields, 2);
	ck_assert_uint_eq(from.mailboxes, 2);
	ck_assert_uint_eq(from.domain_count, 2);
	ck_assert_str_eq(from.strict, "pass.example");
	ck_assert_int_eq(from.unreadable, 0);
	smtpd_from_long_field(&from);
	ck_assert_int_eq(from.unreadable, 1);
	ck_assert_uint_eq(from.mailboxes, 3);
	smtpd_from_clear(&from);
}
END_TEST

/* Many '@' and '<' in 64 KiB: linear, and still capped. */
START_TEST(test_big)
{
	size_t len = 65536, i;
	char *value = xmalloc(len);
	struct smtpd_from from;

	for (i = 0; i < len; i++)
		value[i] = "<@a.b"[i % 5];
	memset(&from, 0, sizeof(from));
	smtpd_from_field(&from, value, len);
	ck_assert_uint_le(from.domain_count, SMTPD_FROM_DOMAINS_MAX);
	smtpd_from_clear(&from);
	free(value);
}
END_TEST

static Suite *
from_suite(void)
{
	Suite *s = suite_create("smtpd_from");
	TCase *tc = tcase_create("fields");

	tcase_add_loop_test(tc, test_field, 0,
	    (int) (sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tc, test_folded);
	tcase_add_test(tc, test_nul);
	tcase_add_test(tc, test_two_fields);
	tcase_add_test(tc, test_big);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(from_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

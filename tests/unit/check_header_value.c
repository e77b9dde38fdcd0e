/* check_header_value: a header field's value from a streamed message. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "header_value.h"

struct hv_case {
	const char *msg;
	size_t max;
	const char *value;	/* NULL: none */
	const char *msgid;	/* NULL: none */
};

static const struct hv_case hv_cases[] = {
	{ "Message-ID: <a@b>\r\n\r\nbody\r\n", 100, "<a@b>", "<a@b>" },
	{ "Subject: x\r\nmessage-id:<a@b>\r\n\r\n", 100, "<a@b>", "<a@b>" },
	{ "MESSAGE-ID:   <a@b>   \r\n\r\n", 100, "<a@b>", "<a@b>" },
	/* Folded, with a comment before the id. */
	{ "Message-ID:\r\n (c)\r\n <x.y@z>\r\nTo: t\r\n\r\n", 100,
	    "(c) <x.y@z>", "<x.y@z>" },
	/* The first field wins. */
	{ "Message-ID: <1@a>\r\nMessage-ID: <2@a>\r\n\r\n", 100, "<1@a>",
	    "<1@a>" },
	/* Only in the body: not a header field. */
	{ "Subject: x\r\n\r\nMessage-ID: <a@b>\r\n", 100, NULL, NULL },
	/* A body line that is not a field ends nothing here: LF only. */
	{ "Message-ID: <a@b>\n\n", 100, "<a@b>", "<a@b>" },
	/* A name that only starts the same. */
	{ "Message-IDs: <a@b>\r\n\r\n", 100, NULL, NULL },
	{ "Message-I: <a@b>\r\n\r\n", 100, NULL, NULL },
	/* Bad ids: spaces, controls, nothing inside, no brackets. */
	{ "Message-ID: <a b@c>\r\n\r\n", 100, "<a b@c>", NULL },
	{ "Message-ID: <a\x01@c>\r\n\r\n", 100, "<a\x01@c>", NULL },
	{ "Message-ID: <>\r\n\r\n", 100, "<>", NULL },
	{ "Message-ID: a@b\r\n\r\n", 100, "a@b", NULL },
	{ "Message-ID: <a@b\r\n\r\n", 100, "<a@b", NULL },
	{ "Message-ID: <\xc3\xa9@b>\r\n\r\n", 100, "<\xc3\xa9@b>", NULL },
	/* Over the cap: the line, or the folded value. */
	{ "Message-ID: <0123456789@example.test>\r\n\r\n", 20, NULL, NULL },
	{ "Message-ID: <0123@a>\r\n <0123456789@b>\r\n\r\n", 22, NULL,
	    NULL },
	/* A long other line does not hide the field after it. */
	{ "X-Long: 0123456789012345678901234567890123456789\r\n"
	    "Message-ID: <a@b>\r\n\r\n", 24, "<a@b>", "<a@b>" },
	{ "", 100, NULL, NULL },
	{ "Message-ID: <a@b>", 100, NULL, NULL },	/* no line end yet */
};

static void
check_case(const struct hv_case *c, size_t split)
{
	struct header_value *hv = header_value_new("Message-ID", c->max);
	size_t len = strlen(c->msg);
	const char *v;
	char *id;

	if (split > len)
		split = len;
	header_value_feed(hv, c->msg, split);
	header_value_feed(hv, c->msg + split, len - split);
	v = header_value_get(hv);
	if (c->value == NULL)
		ck_assert_msg(v == NULL, "case %s split %zu: got %s", c->msg,
		    split, v);
	else
		ck_assert_msg(v != NULL && strcmp(v, c->value) == 0,
		    "case %s split %zu: got %s", c->msg, split,
		    v ? v : "(none)");
	id = header_value_msgid(hv);
	if (c->msgid == NULL)
		ck_assert_ptr_null(id);
	else
		ck_assert_str_eq(id, c->msgid);
	free(id);
	header_value_free(&hv);
	ck_assert_ptr_null(hv);
}

START_TEST(test_whole_and_split)
{
	const struct hv_case *c = &hv_cases[_i];
	size_t split;

	for (split = 0; split <= strlen(c->msg); split++)
		check_case(c, split);
}
END_TEST

START_TEST(test_byte_by_byte)
{
	const struct hv_case *c = &hv_cases[_i];
	struct header_value *hv = header_value_new("Message-ID", c->max);
	const char *v;
	size_t i;

	for (i = 0; c->msg[i]; i++)
		header_value_feed(hv, c->msg + i, 1);
	v = header_value_get(hv);
	if (c->value == NULL)
		ck_assert_ptr_null(v);
	else
		ck_assert_str_eq(v, c->value);
	header_value_free(&hv);
}
END_TEST

static Suite *
header_value_suite(void)
{
	Suite *s = suite_create("header_value");
	TCase *tc = tcase_create("feed");
	int n = (int) (sizeof(hv_cases) / sizeof(hv_cases[0]));

	tcase_add_loop_test(tc, test_whole_and_split, 0, n);
	tcase_add_loop_test(tc, test_byte_by_byte, 0, n);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(header_value_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

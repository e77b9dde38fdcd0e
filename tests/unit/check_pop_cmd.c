/* check_pop_cmd: the POP3 command parser of popd. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "pop_cmd.h"

struct parse_case {
	const char *line;
	size_t len;		/* 0: strlen(line) */
	int ret;
	enum pop_verb verb;
	const char *args;
};

static const struct parse_case parses[] = {
	{ "USER alice@example.test", 0, 0, POP_VERB_USER, "alice@example.test" },
	{ "user alice", 0, 0, POP_VERB_USER, "alice" },
	{ "PASS pass with spaces ", 0, 0, POP_VERB_PASS, "pass with spaces " },
	{ "Stat", 0, 0, POP_VERB_STAT, "" },
	{ "LIST", 0, 0, POP_VERB_LIST, "" },
	{ "LIST 3", 0, 0, POP_VERB_LIST, "3" },
	{ "LIST ", 0, 0, POP_VERB_LIST, "" },
	{ "top 1 10", 0, 0, POP_VERB_TOP, "1 10" },
	{ "RETR 1", 0, 0, POP_VERB_RETR, "1" },
	{ "DELE 2", 0, 0, POP_VERB_DELE, "2" },
	{ "NOOP", 0, 0, POP_VERB_NOOP, "" },
	{ "RSET", 0, 0, POP_VERB_RSET, "" },
	{ "QUIT", 0, 0, POP_VERB_QUIT, "" },
	{ "UIDL", 0, 0, POP_VERB_UIDL, "" },
	{ "CAPA", 0, 0, POP_VERB_CAPA, "" },
	{ "STLS", 0, 0, POP_VERB_STLS, "" },
	{ "AUTH PLAIN AGFsaWNlAHB3", 0, 0, POP_VERB_AUTH, "PLAIN AGFsaWNlAHB3" },
	{ "APOP a b", 0, 0, POP_VERB_UNKNOWN, "a b" },
	{ "X", 0, 0, POP_VERB_UNKNOWN, "" },
	{ "TO", 0, 0, POP_VERB_UNKNOWN, "" },
	{ "XCLIENT ADDR=192.0.2.1 PORT=7", 0, 0, POP_VERB_XCLIENT,
	  "ADDR=192.0.2.1 PORT=7" },
	{ "xclient", 0, 0, POP_VERB_XCLIENT, "" },
	/* Malformed. */
	{ "", 0, -1, 0, NULL },
	{ " USER a", 0, -1, 0, NULL },
	{ "USERS a", 0, -1, 0, NULL },
	{ "XCLIEN a", 0, -1, 0, NULL },
	{ "XCLIENTS a", 0, -1, 0, NULL },
	{ "XCLIENT\tADDR=1", 0, -1, 0, NULL },
	{ "US3R a", 0, -1, 0, NULL },
	{ "USER\ta", 0, -1, 0, NULL },
	{ "RETR\0 1", 7, -1, 0, NULL },
	{ "RETR 1\0", 7, -1, 0, NULL },
	{ "1234", 0, -1, 0, NULL },
	{ "\xc3\xa9TAT", 0, -1, 0, NULL },
	{ "GET / HTTP/1.0", 0, 0, POP_VERB_UNKNOWN, "/ HTTP/1.0" },
	{ "GET\r", 0, -1, 0, NULL },
};

START_TEST(test_parse)
{
	const struct parse_case *c = &parses[_i];
	size_t len = c->len != 0 ? c->len : strlen(c->line);
	struct pop_command cmd;

	ck_assert_int_eq(pop_cmd_parse(c->line, len, &cmd), c->ret);
	if (c->ret < 0)
		return;
	ck_assert_int_eq(cmd.verb, c->verb);
	ck_assert_str_eq(cmd.args, c->args);
	if (c->verb == POP_VERB_UNKNOWN)
		ck_assert_str_eq(cmd.name, "?");
}
END_TEST

struct state_case {
	enum pop_verb verb;
	int in_auth;
	int in_trans;
};

static const struct state_case states[] = {
	{ POP_VERB_USER, 1, 0 }, { POP_VERB_PASS, 1, 0 },
	{ POP_VERB_AUTH, 1, 0 }, { POP_VERB_STLS, 1, 0 },
	{ POP_VERB_CAPA, 1, 1 }, { POP_VERB_QUIT, 1, 1 },
	{ POP_VERB_XCLIENT, 1, 0 },
	{ POP_VERB_NOOP, 0, 1 }, { POP_VERB_STAT, 0, 1 },
	{ POP_VERB_LIST, 0, 1 }, { POP_VERB_RETR, 0, 1 },
	{ POP_VERB_DELE, 0, 1 }, { POP_VERB_RSET, 0, 1 },
	{ POP_VERB_TOP, 0, 1 }, { POP_VERB_UIDL, 0, 1 },
	{ POP_VERB_UNKNOWN, 0, 0 },
};

START_TEST(test_allowed)
{
	const struct state_case *c = &states[_i];

	ck_assert_int_eq(pop_cmd_allowed(c->verb, POP_STATE_AUTHORIZATION),
	    c->in_auth);
	ck_assert_int_eq(pop_cmd_allowed(c->verb, POP_STATE_TRANSACTION),
	    c->in_trans);
}
END_TEST

struct num_case {
	const char *args;
	int ret;
	size_t value;
};

static const struct num_case nums[] = {
	{ "1", 0, 1 },
	{ "42", 0, 42 },
	{ "007", 0, 7 },
	{ "1000000000", 0, 1000000000 },
	{ "0", -1, 0 },
	{ "", -1, 0 },
	{ "-1", -1, 0 },
	{ "+1", -1, 0 },
	{ " 1", -1, 0 },
	{ "1 ", -1, 0 },
	{ "1 2", -1, 0 },
	{ "1x", -1, 0 },
	{ "0x10", -1, 0 },
	{ "1000000001", -1, 0 },
	{ "99999999999999999999999999", -1, 0 },
};

START_TEST(test_msgnum)
{
	const struct num_case *c = &nums[_i];
	size_t n = 12345;

	ck_assert_int_eq(pop_cmd_msgnum(c->args, &n), c->ret);
	if (c->ret == 0)
		ck_assert_uint_eq(n, c->value);
}
END_TEST

struct top_case {
	const char *args;
	int ret;
	size_t msg;
	size_t lines;
};

static const struct top_case tops[] = {
	{ "1 0", 0, 1, 0 },
	{ "3 10", 0, 3, 10 },
	{ "12 1000000000", 0, 12, 1000000000 },
	{ "1", -1, 0, 0 },
	{ "1 ", -1, 0, 0 },
	{ "0 5", -1, 0, 0 },
	{ "1  5", -1, 0, 0 },
	{ "1 5 ", -1, 0, 0 },
	{ "1 5 6", -1, 0, 0 },
	{ "1 -5", -1, 0, 0 },
	{ "a 5", -1, 0, 0 },
	{ "", -1, 0, 0 },
	{ "1 99999999999999999999", -1, 0, 0 },
};

START_TEST(test_top)
{
	const struct top_case *c = &tops[_i];
	size_t msg = 0, lines = 0;

	ck_assert_int_eq(pop_cmd_top_args(c->args, &msg, &lines), c->ret);
	if (c->ret == 0) {
		ck_assert_uint_eq(msg, c->msg);
		ck_assert_uint_eq(lines, c->lines);
	}
}
END_TEST

static Suite *
pop_cmd_suite(void)
{
	Suite *s = suite_create("pop_cmd");
	TCase *tc;

	tc = tcase_create("parse");
	tcase_add_loop_test(tc, test_parse, 0,
	    sizeof(parses) / sizeof(parses[0]));
	tcase_add_loop_test(tc, test_allowed, 0,
	    sizeof(states) / sizeof(states[0]));
	suite_add_tcase(s, tc);

	tc = tcase_create("arguments");
	tcase_add_loop_test(tc, test_msgnum, 0, sizeof(nums) / sizeof(nums[0]));
	tcase_add_loop_test(tc, test_top, 0, sizeof(tops) / sizeof(tops[0]));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	sr = srunner_create(pop_cmd_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* check_auth_client: authd requests and answers, whole and split. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "attr.h"
#include "auth_client.h"
#include "buf.h"

START_TEST(test_request)
{
	struct buf *out = buf_new(8192);
	struct attr_list *l = attr_list_new(16, AUTH_VALUE_MAX);
	const char *error = NULL;
	char long_value[AUTH_VALUE_MAX + 2];

	ck_assert_int_eq(auth_client_request(out, "imap", "anna@example.org",
	    "pa ss\n%", "192.0.2.1"), 0);
	ck_assert_int_eq(attr_parse(l, buf_cstr(out), buf_len(out), &error),
	    0);
	ck_assert_str_eq(attr_get(l, "request"), "authenticate");
	ck_assert_str_eq(attr_get(l, "service"), "imap");
	ck_assert_str_eq(attr_get(l, "login"), "anna@example.org");
	ck_assert_str_eq(attr_get(l, "password"), "pa ss\n%");
	ck_assert_str_eq(attr_get(l, "client"), "192.0.2.1");
	/* Refused values leave out unchanged. */
	buf_reset(out);
	memset(long_value, 'x', sizeof(long_value) - 1);
	long_value[sizeof(long_value) - 1] = '\0';
	ck_assert_int_eq(auth_client_request(out, "imap", "", "p", "c"), -1);
	ck_assert_int_eq(auth_client_request(out, "imap", "a", "", "c"), -1);
	ck_assert_int_eq(auth_client_request(out, "imap", long_value, "p",
	    "c"), -1);
	ck_assert_uint_eq(buf_len(out), 0);
	ck_assert_int_eq(buf_set_cap(out, 40), 0);
	ck_assert_int_eq(auth_client_request(out, "imap", "a", "p", "c"), -1);
	ck_assert_uint_eq(buf_len(out), 0);
	attr_list_free(&l);
	buf_free(&out);
}
END_TEST

static const struct {
	const char *record;
	int status;
	const char *user, *hosts, *reason;
} good[] = {
	{ "status=ok\nuser=anna@example.org\nhosts=store-a store-b\n\n",
	  AUTH_OK, "anna@example.org", "store-a store-b", NULL },
	{ "status=fail\nreason=invalid credentials\n\n", AUTH_FAIL, NULL,
	  NULL, "invalid credentials" },
	{ "status=tempfail\nreason=directory unavailable\n\n",
	  AUTH_TEMPFAIL, NULL, NULL, "directory unavailable" },
	{ "status=error\nreason=unknown request\n\n", AUTH_ERROR, NULL, NULL,
	  "unknown request" },
};

START_TEST(test_reply_good)
{
	struct buf *in = buf_new(AUTH_REPLY_MAX * 2);
	struct auth_reply reply;
	const char *error = NULL;
	size_t len = strlen(good[_i].record), cut;

	/* Every prefix needs more; the whole record and what follows. */
	for (cut = 0; cut < len; cut++) {
		ck_assert_int_eq(buf_set(in, good[_i].record, cut), 0);
		ck_assert_int_eq(auth_client_reply_parse(in, &reply, &error),
		    0);
		ck_assert_uint_eq(buf_len(in), cut);
	}
	ck_assert_int_eq(buf_set(in, good[_i].record, len), 0);
	ck_assert_int_eq(buf_append_str(in, "status=ok"), 0);
	ck_assert_int_eq(auth_client_reply_parse(in, &reply, &error), 1);
	ck_assert_int_eq(reply.status, good[_i].status);
	if (good[_i].user != NULL)
		ck_assert_str_eq(reply.user, good[_i].user);
	else
		ck_assert_ptr_null(reply.user);
	if (good[_i].hosts != NULL)
		ck_assert_str_eq(reply.hosts, good[_i].hosts);
	if (good[_i].reason != NULL)
		ck_assert_str_eq(reply.reason, good[_i].reason);
	ck_assert_str_eq(buf_cstr(in), "status=ok");
	auth_reply_clear(&reply);
	ck_assert_ptr_null(reply.user);
	buf_free(&in);
}
END_TEST

static const char *const bad[] = {
	"\n",
	"user=a\n\n",
	"status=maybe\n\n",
	"status=ok\nuser=a\n\n",			/* no hosts */
	"status=ok\nhosts=h\n\n",			/* no user */
	"status=ok\nuser=a b\nhosts=h\n\n",		/* space in user */
	"status=ok\nuser=a%0D%0AX\nhosts=h\n\n",	/* CRLF in user */
	"status=ok\nuser=a\nhosts=h%00\n\n",		/* NUL in hosts */
	"status=fail\nreason=a%1Bb\n\n",		/* ESC in reason */
	"status=fail\nreason=a%zz\n\n",			/* bad escape */
	"Status=ok\n\n",				/* bad name */
	"status=ok\r\nuser=a\nhosts=h\n\n",
};

START_TEST(test_reply_bad)
{
	struct buf *in = buf_new(AUTH_REPLY_MAX * 2);
	struct auth_reply reply;
	const char *error = NULL;

	ck_assert_int_eq(buf_append_str(in, bad[_i]), 0);
	ck_assert_int_eq(auth_client_reply_parse(in, &reply, &error), -1);
	ck_assert_ptr_nonnull(error);
	ck_assert_ptr_null(reply.user);
	ck_assert_ptr_null(reply.reason);
	buf_free(&in);
}
END_TEST

START_TEST(test_reply_too_long)
{
	struct buf *in = buf_new(AUTH_REPLY_MAX * 2);
	struct auth_reply reply;
	const char *error = NULL;
	size_t i;

	ck_assert_int_eq(buf_append_str(in, "status=fail\nreason="), 0);
	for (i = buf_len(in); i < AUTH_REPLY_MAX - 1; i++)
		ck_assert_int_eq(buf_append_char(in, 'x'), 0);
	ck_assert_int_eq(auth_client_reply_parse(in, &reply, &error), 0);
	ck_assert_int_eq(buf_append_char(in, 'x'), 0);
	ck_assert_int_eq(auth_client_reply_parse(in, &reply, &error), -1);
	ck_assert_str_eq(error, "answer too long");
	buf_free(&in);
}
END_TEST

START_TEST(test_connect_missing)
{
	char *error = NULL;

	ck_assert_int_eq(auth_client_connect("/nonexistent", &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "/nonexistent/private/auth"));
	free(error);
}
END_TEST

static Suite *
auth_client_suite(void)
{
	Suite *s = suite_create("auth_client");
	TCase *tc = tcase_create("codec");

	tcase_add_test(tc, test_request);
	tcase_add_loop_test(tc, test_reply_good, 0,
	    (int) (sizeof(good) / sizeof(good[0])));
	tcase_add_loop_test(tc, test_reply_bad, 0,
	    (int) (sizeof(bad) / sizeof(bad[0])));
	tcase_add_test(tc, test_reply_too_long);
	tcase_add_test(tc, test_connect_missing);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(auth_client_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

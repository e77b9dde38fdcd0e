/* check_sendmail_msg: the header ispmail-sendmail reads and rewrites. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "sendmail_msg.h"
#include "xalloc.h"

static FILE *
input(const char *text)
{
	FILE *f = tmpfile();

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fputs(text, f) >= 0, 1);
	rewind(f);
	return f;
}

static void
collect(const char *addr, void *ctx)
{
	struct buf *b = ctx;

	(void) buf_printf(b, "[%s]", addr);
}

static const char *
addresses(struct buf *b, const char *value)
{
	buf_reset(b);
	(void) sendmail_addresses(value, 100, collect, b);
	return buf_cstr(b);
}

START_TEST(test_address_list)
{
	struct buf *b = buf_new(4096);

	ck_assert_str_eq(addresses(b, " a@example.test"), "[a@example.test]");
	ck_assert_str_eq(addresses(b, "\"Doe, John\" <jd@example.test>, "
	    "b@example.test (Bob, the builder)"),
	    "[jd@example.test][b@example.test]");
	ck_assert_str_eq(addresses(b, "team: x@example.test, "
	    "Y <y@example.test>;, z@example.test"),
	    "[x@example.test][y@example.test][z@example.test]");
	ck_assert_str_eq(addresses(b, "undisclosed-recipients:;"), "");
	ck_assert_str_eq(addresses(b, "<@relay.test,@r2.test:u@example.test>"),
	    "[u@example.test]");
	ck_assert_str_eq(addresses(b, "\"quoted local\"@example.test"),
	    "[\"quoted local\"@example.test]");
	ck_assert_str_eq(addresses(b, "A (nested (comment)) <a@x.test>"),
	    "[a@x.test]");
	/* A bare name stays bare: the caller qualifies it. */
	ck_assert_str_eq(addresses(b, "root"), "[root]");
	buf_free(&b);
}
END_TEST

START_TEST(test_extract_and_bcc)
{
	FILE *in = input("To: a@example.test,\n B <b@example.test>\n"
	    "Cc: c@example.test\nBcc: hidden@example.test\n"
	    "Subject: hi\n\nbody\n");
	struct sendmail_msg *msg;
	char *error = NULL, *const *r;
	size_t n;

	msg = sendmail_msg_read(in, 0, &error);
	ck_assert_ptr_nonnull(msg);
	sendmail_msg_add_rcpt(msg, "cmd@example.test");
	sendmail_msg_add_rcpt(msg, "A@example.test");	/* a duplicate */
	sendmail_msg_finish(msg, 1, "me@example.test", "Me \"Myself\"");
	r = sendmail_msg_rcpts(msg, &n);
	ck_assert_uint_eq(n, 5);
	ck_assert_str_eq(r[0], "cmd@example.test");
	ck_assert_str_eq(r[1], "A@example.test");
	ck_assert_str_eq(r[2], "b@example.test");
	ck_assert_str_eq(r[3], "c@example.test");
	ck_assert_str_eq(r[4], "hidden@example.test");
	ck_assert_str_eq(sendmail_msg_header(msg),
	    "To: a@example.test,\r\n B <b@example.test>\r\n"
	    "Cc: c@example.test\r\nSubject: hi\r\n"
	    "From: \"Me \\\"Myself\\\"\" <me@example.test>\r\n\r\n");
	ck_assert_int_eq(sendmail_msg_ended(msg), 0);
	/* The body is left for the caller to stream. */
	ck_assert_int_eq(getc(in), 'b');
	sendmail_msg_free(&msg);
	fclose(in);
}
END_TEST

START_TEST(test_no_extract_keeps_from)
{
	FILE *in = input("From: x@example.test\r\nTo: t@example.test\r\n\r\n");
	struct sendmail_msg *msg;
	char *error = NULL;
	size_t n;

	msg = sendmail_msg_read(in, 0, &error);
	ck_assert_ptr_nonnull(msg);
	sendmail_msg_finish(msg, 0, "me@example.test", NULL);
	(void) sendmail_msg_rcpts(msg, &n);
	ck_assert_uint_eq(n, 0);
	ck_assert_str_eq(sendmail_msg_header(msg),
	    "From: x@example.test\r\nTo: t@example.test\r\n\r\n");
	sendmail_msg_free(&msg);
	fclose(in);
}
END_TEST

START_TEST(test_body_without_blank_line)
{
	FILE *in = input("Subject: s\n.dotted first body line\nmore\n");
	struct sendmail_msg *msg;
	char *error = NULL;

	msg = sendmail_msg_read(in, 1, &error);
	ck_assert_ptr_nonnull(msg);
	sendmail_msg_finish(msg, 0, "me@example.test", "bad\nname");
	/* The control character keeps the name out; the dot is stuffed. */
	ck_assert_str_eq(sendmail_msg_header(msg),
	    "Subject: s\r\nFrom: <me@example.test>\r\n\r\n"
	    "..dotted first body line\r\n");
	sendmail_msg_free(&msg);
	fclose(in);
}
END_TEST

START_TEST(test_dot_ends_header)
{
	FILE *in = input("Subject: s\n.\nnot part of it\n");
	struct sendmail_msg *msg;
	char *error = NULL;

	msg = sendmail_msg_read(in, 0, &error);
	ck_assert_ptr_nonnull(msg);
	ck_assert_int_eq(sendmail_msg_ended(msg), 1);
	sendmail_msg_finish(msg, 0, "me@example.test", NULL);
	ck_assert_str_eq(sendmail_msg_header(msg),
	    "Subject: s\r\nFrom: <me@example.test>\r\n");
	sendmail_msg_free(&msg);
	fclose(in);
}
END_TEST

START_TEST(test_limits)
{
	char *error = NULL, *big;
	FILE *in;
	size_t i;

	big = xmalloc(SENDMAIL_LINE_MAX + 64);
	memcpy(big, "X: ", 3);
	memset(big + 3, 'a', SENDMAIL_LINE_MAX + 10);
	memcpy(big + SENDMAIL_LINE_MAX + 13, "\n\n", 3);
	in = input(big);
	ck_assert_ptr_null(sendmail_msg_read(in, 0, &error));
	ck_assert_ptr_nonnull(strstr(error, "longer"));
	free(error);
	error = NULL;
	fclose(in);
	free(big);
	in = tmpfile();
	for (i = 0; i <= SENDMAIL_FIELDS_MAX; i++)
		fprintf(in, "X-%zu: v\n", i);
	fputs("\nbody\n", in);
	rewind(in);
	ck_assert_ptr_null(sendmail_msg_read(in, 0, &error));
	ck_assert_ptr_nonnull(strstr(error, "fields"));
	free(error);
	fclose(in);
}
END_TEST

static Suite *
sendmail_msg_suite(void)
{
	Suite *s = suite_create("sendmail_msg");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_address_list);
	tcase_add_test(tc, test_extract_and_bcc);
	tcase_add_test(tc, test_no_extract_keeps_from);
	tcase_add_test(tc, test_body_without_blank_line);
	tcase_add_test(tc, test_dot_ends_header);
	tcase_add_test(tc, test_limits);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(sendmail_msg_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* check_smtpd_msa: the submission service's Date:/Message-ID: filter. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "smtpd_msa.h"

#define D "Date: Wed, 2 Dec 2026 08:00:00 +0000\r\n"
#define M "Message-ID: <1.id@host.test>\r\n"

struct msa_case {
	const char *in;
	size_t len;		/* 0: strlen(in) */
	const char *out;
	int added;
};

static const struct msa_case cases[] = {
	/* Neither: both at the end of the header. */
	{ "Subject: x\r\n\r\nbody\r\n", 0,
	  "Subject: x\r\n" D M "\r\nbody\r\n", 3 },
	{ "Date: Mon, 1 Dec 2026 00:00:00 +0000\r\nSubject: x\r\n\r\nb\r\n", 0,
	  "Date: Mon, 1 Dec 2026 00:00:00 +0000\r\nSubject: x\r\n" M "\r\nb\r\n",
	  2 },
	{ "Message-Id: <a@b>\r\n\r\nb\r\n", 0,
	  "Message-Id: <a@b>\r\n" D "\r\nb\r\n", 1 },
	/* Both there, any case: untouched. */
	{ "dAtE: x\r\nMESSAGE-ID: <a@b>\r\n\r\nb\r\n", 0,
	  "dAtE: x\r\nMESSAGE-ID: <a@b>\r\n\r\nb\r\n", 0 },
	/* Obsolete whitespace before the colon still names the field. */
	{ "Date : x\r\nMessage-ID\t: <a@b>\r\n\r\n", 0,
	  "Date : x\r\nMessage-ID\t: <a@b>\r\n\r\n", 0 },
	/* Folded lines, look-alike names and the body do not count. */
	{ "Subject: a\r\n Date: no\r\n\r\nDate: no\r\n", 0,
	  "Subject: a\r\n Date: no\r\n" D M "\r\nDate: no\r\n", 3 },
	{ "X-Date: y\r\nDates: y\r\nMessage-IDs: z\r\n\r\n", 0,
	  "X-Date: y\r\nDates: y\r\nMessage-IDs: z\r\n" D M "\r\n", 3 },
	/* No header at all: an empty line keeps the text in the body. */
	{ "hello world\r\n", 0, D M "\r\nhello world\r\n", 3 },
	{ ":novalue\r\n\r\n", 0, D M "\r\n:novalue\r\n\r\n", 3 },
	{ "Date x: y\r\n", 0, D M "\r\nDate x: y\r\n", 3 },
	{ "Su\0bject: x\r\n\r\n", 15, D M "\r\nSu\0bject: x\r\n\r\n", 3 },
	{ "Subject: a\r\n\rX\r\n", 0, "Subject: a\r\n" D M "\r\n\rX\r\n", 3 },
	/* All header, the end of data ends it. */
	{ "", 0, D M, 3 },
	{ "Subject: x\r\n", 0, "Subject: x\r\n" D M, 3 },
	{ "Subject: x", 0, "Subject: x\r\n" D M, 3 },
	{ "Subject", 0, "Subject\r\n" D M, 3 },
	{ "\r\n", 0, D M "\r\n", 3 },
	/* A bare LF ends the header too. */
	{ "Subject: x\n\nb\n", 0, "Subject: x\n" D M "\nb\n", 3 },
	/* A name longer than any we look for passes as some field. */
	{ "X-0123456789012345678901234567890123456789012345678901234567890"
	  "12345678901234567890123456789: v\r\nDate: d\r\n\r\n", 0,
	  "X-0123456789012345678901234567890123456789012345678901234567890"
	  "12345678901234567890123456789: v\r\nDate: d\r\n" M "\r\n", 2 },
	{ "Date                                                          "
	  "                              : d\r\n\r\n", 0,
	  "Date                                                          "
	  "                              : d\r\n" D M "\r\n", 3 },
};

static int
collect(void *ctx, const void *data, size_t len)
{
	return buf_append(ctx, data, len);
}

/* Feed c in pieces of step bytes (0: whole); check the result. */
static void
run_case(const struct msa_case *c, size_t step)
{
	size_t len = c->len != 0 ? c->len : strlen(c->in), off, n;
	size_t out_len = strlen(c->out) + (c->len != 0 ? 1 : 0);
	struct buf *out = buf_new(4096);
	struct smtpd_msa *msa = smtpd_msa_new(
	    "Wed, 2 Dec 2026 08:00:00 +0000", "<1.id@host.test>");

	for (off = 0; off < len; off += n) {
		n = step == 0 || len - off < step ? len - off : step;
		ck_assert_int_eq(smtpd_msa_write(msa, c->in + off, n, collect,
		    out), 0);
	}
	ck_assert_int_eq(smtpd_msa_finish(msa, collect, out), 0);
	if (c->len != 0) {
		/*
		 * The case with a NUL (no C string): its expected output is
		 * the two fields, the empty line, then the input unchanged.
		 */
		struct buf *want = buf_new(4096);
		const char *nul = memchr(c->in, '\0', len);
		size_t prefix = strlen(D M "\r\n");

		(void) buf_append(want, D M "\r\n", prefix);
		(void) buf_append(want, c->in, len);
		ck_assert_uint_eq(buf_len(out), buf_len(want));
		ck_assert(memcmp(buf_cstr(out), buf_cstr(want),
		    buf_len(want)) == 0);
		ck_assert_ptr_nonnull(nul);
		buf_free(&want);
	} else {
		ck_assert_uint_eq(buf_len(out), out_len);
		ck_assert_str_eq(buf_cstr(out), c->out);
	}
	ck_assert_int_eq(smtpd_msa_added(msa), c->added);
	smtpd_msa_free(&msa);
	ck_assert_ptr_null(msa);
	buf_free(&out);
}

START_TEST(test_whole)
{
	run_case(&cases[_i], 0);
}
END_TEST

START_TEST(test_split)
{
	size_t step;

	/* Every piece size from one byte up splits at every offset. */
	for (step = 1; step <= 8; step++)
		run_case(&cases[_i], step);
}
END_TEST

static int
refuse(void *ctx, const void *data, size_t len)
{
	(void) ctx;
	(void) data;
	(void) len;
	return -1;
}

START_TEST(test_out_fails)
{
	struct smtpd_msa *msa = smtpd_msa_new("d", "<m>");

	ck_assert_int_eq(smtpd_msa_write(msa, "Subject: x\r\n", 12, refuse,
	    NULL), -1);
	ck_assert_int_eq(smtpd_msa_write(msa, "\r\n", 2, collect, NULL), -1);
	ck_assert_int_eq(smtpd_msa_finish(msa, refuse, NULL), -1);
	smtpd_msa_free(&msa);
	msa = smtpd_msa_new("d", "<m>");
	ck_assert_int_eq(smtpd_msa_finish(msa, refuse, NULL), -1);
	smtpd_msa_free(&msa);
	smtpd_msa_free(&msa);
}
END_TEST

START_TEST(test_values)
{
	char *date, *id;

	smtpd_msa_values("4fQ2x", "mx.example.test", 1796198400LL, &date, &id);
	ck_assert_str_eq(id, "<1796198400.4fQ2x@mx.example.test>");
	/* "Wed, 02 Dec 2026 ..." in whatever the local zone is. */
	ck_assert_int_eq((int) strlen(date) >= 29, 1);
	ck_assert(strstr(date, " 2026 ") != NULL);
	ck_assert(date[3] == ',' && (date[strlen(date) - 5] == '+' ||
	    date[strlen(date) - 5] == '-'));
	free(date);
	free(id);
}
END_TEST

static Suite *
msa_suite(void)
{
	Suite *s = suite_create("smtpd_msa");
	TCase *tc = tcase_create("filter");
	int n = (int) (sizeof(cases) / sizeof(cases[0]));

	tcase_add_loop_test(tc, test_whole, 0, n);
	tcase_add_loop_test(tc, test_split, 0, n);
	tcase_add_test(tc, test_out_fails);
	suite_add_tcase(s, tc);
	tc = tcase_create("values");
	tcase_add_test(tc, test_values);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(msa_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

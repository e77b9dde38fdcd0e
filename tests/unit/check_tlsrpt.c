/*
 * check_tlsrpt: TLS reporting's pure parts: the _smtp._tls TXT record
 * (RFC 8460 3, untrusted DNS text) and the journal's files (size cap,
 * symlinks, the UTC day).
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attr.h"
#include "buf.h"
#include "ctl_tlsrpt_int.h"
#include "params.h"
#include "tlsrpt_journal.h"
#include "xalloc.h"

static const struct {
	const char *txt;
	int rc;
	const char *rua[3];
} records[] = {
	{ "v=TLSRPTv1; rua=mailto:r@example.com", 0,
	    { "mailto:r@example.com" } },
	{ "v=TLSRPTv1;rua=mailto:r@example.com,https://r.example/v1", 0,
	    { "mailto:r@example.com", "https://r.example/v1" } },
	{ "v=TLSRPTv1; rua= https://r.example/a , mailto:x@y.example ;", 0,
	    { "https://r.example/a", "mailto:x@y.example" } },
	/* Other schemes are skipped; the first rua tag counts. */
	{ "v=TLSRPTv1; rua=http://r.example/,mailto:a@b.example; "
	    "rua=mailto:c@d.example", 0, { "mailto:a@b.example" } },
	{ "v=TLSRPTv1; x=1; rua=MAILTO:a@b.example", 0,
	    { "MAILTO:a@b.example" } },
	/* bad input */
	{ "", -1, { NULL } },
	{ "v=TLSRPTv1", -1, { NULL } },
	{ "v=TLSRPTv1;", -1, { NULL } },
	{ "v=TLSRPTv1; rua=", -1, { NULL } },
	{ "v=TLSRPTv1; rua=ftp://r.example/", -1, { NULL } },
	{ "v=TLSRPTv10; rua=mailto:r@example.com", -1, { NULL } },
	{ "v=STSv1; rua=mailto:r@example.com", -1, { NULL } },
	{ "rua=mailto:r@example.com; v=TLSRPTv1", -1, { NULL } },
	{ "v=TLSRPTv1; rua", -1, { NULL } },
	{ "v=TLSRPTv1; =mailto:r@example.com", -1, { NULL } },
};

START_TEST(test_parse_record)
{
	char **rua = NULL;
	size_t count = 0, i, want = 0;
	int rc;

	rc = ctl_tlsrpt_parse_record(records[_i].txt, &rua, &count);
	ck_assert_msg(rc == records[_i].rc, "%s: rc %d", records[_i].txt, rc);
	if (rc < 0)
		return;
	while (want < 3 && records[_i].rua[want] != NULL)
		want++;
	ck_assert_uint_eq(count, want);
	for (i = 0; i < count; i++) {
		ck_assert_str_eq(rua[i], records[_i].rua[i]);
		free(rua[i]);
	}
	free(rua);
}
END_TEST

START_TEST(test_parse_record_caps)
{
	struct buf *b = buf_new(64 * 1024);
	char **rua = NULL;
	size_t count = 0, i;

	/* More URIs than are used; one longer than any URI may be. */
	(void) buf_append_str(b, "v=TLSRPTv1; rua=https://");
	for (i = 0; i < 3000; i++)
		(void) buf_append_char(b, 'a');
	for (i = 0; i < 50; i++)
		(void) buf_printf(b, ",mailto:r%zu@example.com", i);
	ck_assert_int_eq(ctl_tlsrpt_parse_record(buf_cstr(b), &rua, &count),
	    0);
	ck_assert_uint_eq(count, CTL_TLSRPT_RUA_MAX);
	ck_assert_str_eq(rua[0], "mailto:r0@example.com");
	for (i = 0; i < count; i++)
		free(rua[i]);
	free(rua);
	buf_free(&b);
}
END_TEST

/* ---- the journal files ------------------------------------------------ */

static char dir[] = "/tmp/check_tlsrpt.XXXXXX";

static void
dir_setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

/* The files the tests made (in forked children: any pid), the directory. */
static void
dir_teardown(void)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	char *path;

	while (d != NULL && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		path = xasprintf("%s/%s", dir, de->d_name);
		(void) unlink(path);
		free(path);
	}
	if (d != NULL)
		closedir(d);
	(void) rmdir(dir);
}

START_TEST(test_day)
{
	char day[11];

	tlsrpt_journal_day(0, day);
	ck_assert_str_eq(day, "1970-01-01");
	tlsrpt_journal_day(1796255999, day);
	ck_assert_str_eq(day, "2026-12-02");
	tlsrpt_journal_day(1796256000, day);
	ck_assert_str_eq(day, "2026-12-03");
}
END_TEST

START_TEST(test_append_cap_and_symlink)
{
	struct buf *rec = buf_new(1024);
	const char *error = NULL;
	char *path, *target;
	struct stat st;

	(void) attr_put(rec, "tlsrpt", "1");
	(void) attr_put(rec, "domain", "a\tb%c\n");
	(void) attr_end(rec);
	ck_assert_int_eq(tlsrpt_journal_append(dir, "2026-12-02", rec, 80,
	    &error), 0);
	ck_assert_int_eq(tlsrpt_journal_append(dir, "2026-12-02", rec, 80,
	    &error), 0);
	/* The third would pass the cap (80): refused, the file unchanged. */
	ck_assert_int_eq(tlsrpt_journal_append(dir, "2026-12-02", rec, 80,
	    &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "full"));
	path = xasprintf("%s/2026-12-02.%ld", dir, (long) getpid());
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq((int) st.st_size, (int) (2 * buf_len(rec)));
	ck_assert_int_eq((int) (st.st_mode & 0777), 0600);
	free(path);

	/* A symlink planted where the file goes is not followed. */
	target = xasprintf("%s/elsewhere", dir);
	path = xasprintf("%s/2026-12-03.%ld", dir, (long) getpid());
	ck_assert_int_eq(symlink(target, path), 0);
	ck_assert_int_eq(tlsrpt_journal_append(dir, "2026-12-03", rec,
	    1 << 20, &error), -1);
	ck_assert_int_eq(access(target, F_OK), -1);
	free(path);
	free(target);
	buf_free(&rec);
}
END_TEST

static Suite *
tlsrpt_suite(void)
{
	Suite *s = suite_create("tlsrpt");
	TCase *tc;

	tc = tcase_create("record");
	tcase_add_loop_test(tc, test_parse_record, 0,
	    (int) (sizeof(records) / sizeof(records[0])));
	tcase_add_test(tc, test_parse_record_caps);
	suite_add_tcase(s, tc);

	tc = tcase_create("journal");
	tcase_add_unchecked_fixture(tc, dir_setup, dir_teardown);
	tcase_add_test(tc, test_day);
	tcase_add_test(tc, test_append_cap_and_symlink);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(tlsrpt_suite());
	int failed;

	params_init();
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

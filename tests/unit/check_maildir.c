/* check_maildir: delivery, scanning and flags of a maildir (maildir.h). */
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

#include "buf.h"
#include "maildir.h"
#include "maildir_fixture.h"
#include "store.h"
#include "xalloc.h"

/* --- delivery ------------------------------------------------------------- */

struct deliver_case {
	const char *name;
	const char *chunks[6];	/* NULL-terminated; each its own write */
	size_t chunk_lens[6];
	const char *stored;
	size_t stored_len;
	long long vsize;
};

#define L(s)	sizeof(s) - 1

static const struct deliver_case deliver_cases[] = {
	{ "CRLF to LF", { "Subject: a\r\n\r\nbody\r\n", NULL },
	    { L("Subject: a\r\n\r\nbody\r\n") }, T("Subject: a\n\nbody\n"), 20 },
	{ "CRLF split over writes", { "a\r", "\nb\r", "\n", NULL },
	    { 2, 3, 1 }, T("a\nb\n"), 6 },
	{ "lone CR kept", { "a\rb\r\n", NULL }, { 5 }, T("a\rb\n"), 5 },
	{ "CR CR LF", { "\r\r\n", NULL }, { 3 }, T("\r\n"), 3 },
	{ "CR at a write end, then not LF", { "a\r", "b\n", NULL },
	    { 2, 2 }, T("a\rb\n"), 5 },
	{ "trailing CR kept", { "a\r\nb\r", NULL }, { 5 }, T("a\nb\r"), 5 },
	{ "split CR CR", { "\r", "\r", "\n", NULL }, { 1, 1, 1 }, T("\r\n"), 3 },
	{ "bare LF kept", { "a\nb\n", NULL }, { 4 }, T("a\nb\n"), 6 },
	{ "no final line end", { "abc", NULL }, { 3 }, T("abc"), 3 },
	{ "NUL bytes", { "a\0b\r\n\0", NULL }, { 6 }, T("a\0b\n\0"), 6 },
	{ "empty message", { NULL }, { 0 }, T(""), 0 },
	{ "empty writes", { "", "a\r\n", "", NULL }, { 0, 3, 0 }, T("a\n"), 3 },
};

START_TEST(test_deliver_table)
{
	const struct deliver_case *c = &deliver_cases[_i];
	struct maildir_delivery *d;
	char *error = NULL, *name = NULL, *path;
	struct buf *got;
	long long size = -1;
	struct stat st;
	size_t i;

	d = maildir_deliver_begin(store, &error);
	ck_assert_msg(d != NULL, "begin: %s", error);
	/* The message is in tmp/ until the commit. */
	ck_assert_int_eq(count_sub(store, "tmp"), 1);
	for (i = 0; c->chunks[i] != NULL; i++)
		ck_assert_int_eq(maildir_deliver_write(d, c->chunks[i],
		    c->chunk_lens[i], &error), 0);
	ck_assert_int_eq(count_sub(store, "new"), 0);
	ck_assert_msg(maildir_deliver_commit(&d, NULL, 0, &name, &size,
	    &error) == 0, "%s: commit: %s", c->name, error);
	ck_assert_ptr_null(d);
	ck_assert_int_eq(size, (long long) c->stored_len);
	assert_name(name, (long long) c->stored_len, c->vsize, NULL);
	ck_assert_int_eq(count_sub(store, "tmp"), 0);
	ck_assert_int_eq(count_sub(store, "new"), 1);
	ck_assert_int_eq(count_sub(store, "cur"), 0);
	path = xasprintf("%s/new/%s", store, name);
	got = slurp(path);
	ck_assert_ptr_nonnull(got);
	ck_assert_msg(buf_len(got) == c->stored_len, "%s: %zu bytes",
	    c->name, buf_len(got));
	if (c->stored_len > 0)
		ck_assert_mem_eq(buf_cstr(got), c->stored, c->stored_len);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(st.st_nlink, 1);
	buf_free(&got);
	free(path);
	free(name);
}
END_TEST

/* Past the 64 KiB write buffer, with writes of odd sizes. */
START_TEST(test_deliver_large)
{
	struct buf *in = buf_new(1 << 22), *want = buf_new(1 << 22), *got;
	struct maildir_delivery *d;
	char *error = NULL, *name = NULL, *path;
	size_t off, n, step = 1;
	long long size, lines = 0;
	int i;

	for (i = 0; i < 40000; i++) {
		ck_assert_int_eq(buf_printf(in, "line %d%s\r\n", i,
		    i % 5 == 0 ? "\r" : ""), 0);
		ck_assert_int_eq(buf_printf(want, "line %d%s\n", i,
		    i % 5 == 0 ? "\r" : ""), 0);
		lines++;
	}
	d = maildir_deliver_begin(store, &error);
	ck_assert_ptr_nonnull(d);
	for (off = 0; off < buf_len(in); off += n) {
		n = step < buf_len(in) - off ? step : buf_len(in) - off;
		ck_assert_int_eq(maildir_deliver_write(d, buf_cstr(in) + off,
		    n, &error), 0);
		step = step * 3 % 70001 + 1;
	}
	ck_assert_int_eq(maildir_deliver_commit(&d, NULL, 0, &name, &size,
	    &error), 0);
	ck_assert_int_eq(size, (long long) buf_len(want));
	assert_name(name, size, size + lines, NULL);
	path = xasprintf("%s/new/%s", store, name);
	got = slurp(path);
	ck_assert_uint_eq(buf_len(got), buf_len(want));
	ck_assert_mem_eq(buf_cstr(got), buf_cstr(want), buf_len(want));
	buf_free(&got);
	buf_free(&in);
	buf_free(&want);
	free(path);
	free(name);
}
END_TEST

struct flags_case {
	const char *flags;
	time_t mtime;
};

static const struct flags_case commit_flags_cases[] = {
	{ "S", 1000000000 },
	{ "", 0 },
	{ "DFRS", 1234567890 },
};

/* With flags the message goes to cur/ with ":2,<flags>" and the mtime. */
START_TEST(test_deliver_flags_mtime)
{
	const struct flags_case *c = &commit_flags_cases[_i];
	char *name, *path, *info;
	long long size;
	struct stat st;
	time_t before = time(NULL);

	name = deliver(store, T("a\r\nb\r\n"), c->flags, c->mtime, &size);
	ck_assert_int_eq(size, 4);
	info = xasprintf(":2,%s", c->flags);
	assert_name(name, 4, 6, info);
	ck_assert_int_eq(count_sub(store, "new"), 0);
	ck_assert_int_eq(count_sub(store, "cur"), 1);
	ck_assert_int_eq(count_sub(store, "tmp"), 0);
	path = xasprintf("%s/cur/%s", store, name);
	ck_assert_int_eq(stat(path, &st), 0);
	if (c->mtime != 0)
		ck_assert_int_eq(st.st_mtime, c->mtime);
	else
		ck_assert_int_ge(st.st_mtime, before - 1);
	free(info);
	free(path);
	free(name);
}
END_TEST

/* name_r and size_r may be NULL; a folder works like INBOX. */
START_TEST(test_deliver_null_outputs)
{
	struct maildir_delivery *d;
	char *error = NULL, *folder = xasprintf("%s/.Sent", store);

	d = maildir_deliver_begin(folder, &error);
	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(maildir_deliver_write(d, "x\r\n", 3, &error), 0);
	ck_assert_int_eq(maildir_deliver_commit(&d, "S", 0, NULL, NULL,
	    &error), 0);
	ck_assert_int_eq(count_sub(folder, "cur"), 1);
	ck_assert_int_eq(count_sub(store, "cur"), 0);
	free(folder);
}
END_TEST

START_TEST(test_deliver_abort)
{
	struct maildir_delivery *d, *none = NULL;
	char *error = NULL;

	d = maildir_deliver_begin(store, &error);
	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(maildir_deliver_write(d, "abc\r\n", 5, &error), 0);
	ck_assert_int_eq(count_sub(store, "tmp"), 1);
	maildir_deliver_abort(&d);
	ck_assert_ptr_null(d);
	ck_assert_int_eq(count_sub(store, "tmp"), 0);
	ck_assert_int_eq(count_sub(store, "new"), 0);
	ck_assert_int_eq(count_sub(store, "cur"), 0);
	maildir_deliver_abort(&none);
	ck_assert_ptr_null(none);
}
END_TEST

START_TEST(test_deliver_begin_fails)
{
	char *error = NULL, *missing = xasprintf("%s/.NoSuch", store);

	ck_assert_ptr_null(maildir_deliver_begin(missing, &error));
	ck_assert_ptr_nonnull(error);
	ck_assert_ptr_nonnull(strstr(error, "No such file"));
	free(error);
	free(missing);
}
END_TEST

/* The link into new/ fails: -1, nothing delivered, tmp/ cleaned. */
START_TEST(test_deliver_commit_fails)
{
	struct maildir_delivery *d;
	char *error = NULL, *name = NULL, *newdir;

	d = maildir_deliver_begin(store, &error);
	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(maildir_deliver_write(d, "abc\r\n", 5, &error), 0);
	newdir = xasprintf("%s/new", store);
	ck_assert_int_eq(rmdir(newdir), 0);
	ck_assert_int_eq(maildir_deliver_commit(&d, NULL, 0, &name, NULL,
	    &error), -1);
	ck_assert_ptr_null(d);
	ck_assert_ptr_null(name);
	ck_assert_ptr_nonnull(error);
	ck_assert_int_eq(count_sub(store, "tmp"), 0);
	free(error);
	free(newdir);
}
END_TEST

/* Many deliveries in one process: distinct names, scanned in order. */
START_TEST(test_deliver_unique_order)
{
	char *names[60];
	struct maildir_entry *e;
	char *error = NULL;
	size_t n, i;

	for (i = 0; i < 60; i++)
		names[i] = deliver(store, "m\r\n", 3, i % 2 ? "S" : NULL, 0,
		    NULL);
	ck_assert_int_eq(maildir_scan(store, &e, &n, &error), 0);
	ck_assert_uint_eq(n, 60);
	for (i = 0; i < 60; i++) {
		ck_assert_str_eq(e[i].name, names[i]);
		ck_assert_int_eq(e[i].in_new, i % 2 == 0);
		ck_assert_str_eq(e[i].flags, i % 2 ? "S" : "");
		free(names[i]);
	}
	maildir_entries_free(&e, n);
	ck_assert_ptr_null(e);
}
END_TEST

/* --- scan ------------------------------------------------------------------ */

struct foreign_file {
	const char *sub;
	const char *name;
	const char *data;
	size_t len;
};

/* Written by other software (or another host); names out of order. */
static const struct foreign_file foreign[] = {
	{ "new", "1500.M10P1.host", T("abc\n") },
	{ "new", "1500.M9P1.host", T("a\r\nb\nc") },
	{ "cur", "1400.M5P7Q1.other,S=100:2,RS", T("xyz") },
	{ "cur", "1400.M5P7Q2.other,S=9,W=12:2,", T("123456789") },
	{ "cur", "1400.M5P7Q10.other,S=1,W=2:2,S", T("x") },
	{ "cur", "900.foreign:2,T", T("\n\n\n") },
	{ "cur", ".hidden:2,S", T("x") },
	{ "new", ".also-hidden", T("x") },
	{ "cur", "1600.M1P1.host,S=12abc,W=x:2,F", T("12345\n") },
};

START_TEST(test_scan_foreign_and_order)
{
	static const struct {
		const char *name;
		int in_new;
		long long size, vsize;
		const char *flags;
	} want[] = {
		{ "900.foreign:2,T", 0, 3, 6, "T" },
		{ "1400.M5P7Q1.other,S=100:2,RS", 0, 100, 3, "RS" },
		{ "1400.M5P7Q2.other,S=9,W=12:2,", 0, 9, 12, "" },
		/* Same microsecond: the counter Q, as a number. */
		{ "1400.M5P7Q10.other,S=1,W=2:2,S", 0, 1, 2, "S" },
		{ "1500.M9P1.host", 1, 6, 7, "" },
		{ "1500.M10P1.host", 1, 4, 5, "" },
		{ "1600.M1P1.host,S=12abc,W=x:2,F", 0, 12, 7, "F" },
	};
	struct maildir_entry *e;
	char *error = NULL, *path, *target;
	size_t n, i;

	for (i = 0; i < sizeof(foreign) / sizeof(foreign[0]); i++) {
		path = xasprintf("%s/%s/%s", store, foreign[i].sub,
		    foreign[i].name);
		spew(path, foreign[i].data, foreign[i].len);
		free(path);
	}
	/*
	 * Not regular files: skipped, also when their names carry sizes
	 * (the scan takes sizes from names without a stat, but not types).
	 */
	path = xasprintf("%s/cur/1000.M1P1.dir", store);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	free(path);
	path = xasprintf("%s/cur/1000.M3P1.dir,S=1,W=2:2,S", store);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	free(path);
	path = xasprintf("%s/new/1000.M2P1.fifo", store);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	free(path);
	path = xasprintf("%s/new/1000.M4P1.fifo,S=1,W=2", store);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	free(path);
	/* A symlink to a directory is no message either. */
	target = xasprintf("%s/cur/1000.M1P1.dir", store);
	path = xasprintf("%s/cur/1000.M5P1.link,S=1,W=2:2,", store);
	ck_assert_int_eq(symlink(target, path), 0);
	free(path);
	free(target);
	ck_assert_int_eq(maildir_scan(store, &e, &n, &error), 0);
	ck_assert_uint_eq(n, sizeof(want) / sizeof(want[0]));
	for (i = 0; i < n; i++) {
		ck_assert_str_eq(e[i].name, want[i].name);
		ck_assert_int_eq(e[i].in_new, want[i].in_new);
		ck_assert_msg(e[i].size == want[i].size, "%s: size %lld",
		    e[i].name, e[i].size);
		ck_assert_msg(e[i].vsize == want[i].vsize, "%s: vsize %lld",
		    e[i].name, e[i].vsize);
		ck_assert_str_eq(e[i].flags, want[i].flags);
	}
	maildir_entries_free(&e, n);
}
END_TEST

/* A CRLF split across the 64 KiB read chunk is still one CRLF. */
START_TEST(test_scan_vsize_chunk_boundary)
{
	struct buf *data = buf_new(1 << 20);
	struct maildir_entry *e;
	char *error = NULL, *path;
	size_t n, i;

	for (i = 0; i < 65535; i++)
		(void) buf_append_char(data, 'x');
	/* Bytes 65535 and 65536: a CRLF across the boundary; then a LF. */
	(void) buf_append_str(data, "\r\nabc\n");
	path = xasprintf("%s/cur/1700.M1P1.host:2,S", store);
	spew(path, buf_cstr(data), buf_len(data));
	ck_assert_int_eq(maildir_scan(store, &e, &n, &error), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(e[0].size, (long long) buf_len(data));
	ck_assert_int_eq(e[0].vsize, (long long) buf_len(data) + 1);
	maildir_entries_free(&e, n);
	buf_free(&data);
	free(path);
}
END_TEST

START_TEST(test_scan_empty_and_missing)
{
	struct maildir_entry *e = (struct maildir_entry *) 1;
	char *error = NULL, *missing = xasprintf("%s/.NoSuch", store);
	size_t n = 99;

	ck_assert_int_eq(maildir_scan(store, &e, &n, &error), 0);
	ck_assert_uint_eq(n, 0);
	maildir_entries_free(&e, n);
	ck_assert_int_eq(maildir_scan(missing, &e, &n, &error), -1);
	ck_assert_ptr_nonnull(error);
	free(error);
	free(missing);
}
END_TEST

/* --- names and flags ------------------------------------------------------- */

START_TEST(test_base_name)
{
	static const char *const cases[][2] = {
		{ "1.M1P1Q1.h,S=1,W=2:2,S", "1.M1P1Q1.h,S=1,W=2" },
		{ "1.M1P1Q1.h,S=1,W=2", "1.M1P1Q1.h,S=1,W=2" },
		{ "a:2,", "a" },
		{ "a:1,x", "a:1,x" },
		{ "", "" },
		{ ":2,S", "" },
	};
	char *base;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		base = maildir_base_name(cases[i][0]);
		ck_assert_str_eq(base, cases[i][1]);
		free(base);
	}
}
END_TEST

static const char *const set_flags_cases[][2] = {
	{ "S", "S" },
	{ "", "" },
	{ "SRDa", "DRSa" },
	{ "SSSS", "S" },
	{ "zaTFSPDR", "DFPRSTaz" },
	{ "S1!:,/", "S" },
	{ "\xc3\xa9S", "S" },
	{ "baab", "ab" },
};

/*
 * new/ to cur/ with the flags sorted and de-duplicated, by path and by
 * descriptors (maildir_set_flags_at; there a same-name call still
 * notices a vanished file).
 */
START_TEST(test_set_flags_from_new)
{
	const char *const *c = set_flags_cases[_i];
	char *name, *base, *new_name, *error = NULL, *path, *want;
	int at, new_fd, cur_fd;

	for (at = 0; at < 2; at++) {
		name = deliver(store, T("a\r\n"), NULL, 0, NULL);
		base = maildir_base_name(name);
		new_name = NULL;
		path = xasprintf("%s/new", store);
		new_fd = open(path, O_RDONLY | O_DIRECTORY);
		free(path);
		path = xasprintf("%s/cur", store);
		cur_fd = open(path, O_RDONLY | O_DIRECTORY);
		free(path);
		ck_assert_msg((at ? maildir_set_flags_at(new_fd, cur_fd, name,
		    c[0], &new_name, &error) : maildir_set_flags(store, name,
		    1, c[0], &new_name, &error)) == 0, "set_flags: %s", error);
		want = xasprintf("%s:2,%s", base, c[1]);
		ck_assert_str_eq(new_name, want);
		ck_assert_int_eq(count_sub(store, "new"), 0);
		ck_assert_int_eq(count_sub(store, "cur"), at + 1);
		ck_assert_int_eq(faccessat(cur_fd, want, F_OK, 0), 0);
		if (at) {
			ck_assert_int_eq(maildir_set_flags_at(cur_fd, cur_fd,
			    want, c[0], NULL, &error), 0);
			ck_assert_int_eq(unlinkat(cur_fd, want, 0), 0);
			ck_assert_int_eq(maildir_set_flags_at(cur_fd, cur_fd,
			    want, c[0], NULL, &error), -1);
			ck_assert_int_eq(errno, ENOENT);
			free(error);
		}
		close(new_fd);
		close(cur_fd);
		free(want);
		free(new_name);
		free(base);
		free(name);
	}
}
END_TEST

/* Flag changes within cur/; new_name_r may be NULL; same flags: no-op. */
START_TEST(test_set_flags_in_cur)
{
	struct maildir_entry *e;
	char *name, *new_name = NULL, *error = NULL;
	size_t n;

	name = deliver(store, T("a\r\n"), "S", 0, NULL);
	ck_assert_int_eq(maildir_set_flags(store, name, 0, "RS", &new_name,
	    &error), 0);
	ck_assert_int_eq(maildir_set_flags(store, new_name, 0, "SR", NULL,
	    &error), 0);
	ck_assert_int_eq(maildir_set_flags(store, new_name, 0, "", NULL,
	    &error), 0);
	ck_assert_int_eq(maildir_scan(store, &e, &n, &error), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(e[0].flags, "");
	ck_assert_int_eq(e[0].in_new, 0);
	ck_assert_int_eq(e[0].size, 2);
	ck_assert_int_eq(e[0].vsize, 3);
	maildir_entries_free(&e, n);
	free(new_name);
	free(name);
}
END_TEST

/* A message expunged by another session: -1 with errno ENOENT. */
START_TEST(test_set_flags_vanished)
{
	static const struct {
		int in_new;
		const char *flags_at_delivery;
		const char *flags;
	} cases[] = {
		{ 1, NULL, "S" },
		{ 0, "S", "RS" },
		{ 0, "S", "S" },	/* same flags: still noticed */
		{ 0, "", "" },
	};
	char *name, *path, *error, *new_name;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		name = deliver(store, T("a\r\n"), cases[i].flags_at_delivery, 0,
		    NULL);
		path = xasprintf("%s/%s/%s", store,
		    cases[i].in_new ? "new" : "cur", name);
		ck_assert_int_eq(unlink(path), 0);
		error = NULL;
		new_name = NULL;
		errno = 0;
		ck_assert_msg(maildir_set_flags(store, name, cases[i].in_new,
		    cases[i].flags, &new_name, &error) == -1,
		    "case %zu: vanished message not noticed", i);
		ck_assert_int_eq(errno, ENOENT);
		ck_assert_ptr_nonnull(error);
		ck_assert_ptr_null(new_name);
		ck_assert_int_eq(count_sub(store, "cur"), 0);
		free(error);
		free(path);
		free(name);
	}
}
END_TEST

static Suite *
maildir_suite(void)
{
	Suite *s = suite_create("maildir");
	TCase *tc;

	tc = tcase_create("deliver");
	tcase_add_checked_fixture(tc, maildir_fixture_setup,
	    maildir_fixture_teardown);
	tcase_add_loop_test(tc, test_deliver_table, 0,
	    sizeof(deliver_cases) / sizeof(deliver_cases[0]));
	tcase_add_test(tc, test_deliver_large);
	tcase_add_loop_test(tc, test_deliver_flags_mtime, 0,
	    sizeof(commit_flags_cases) / sizeof(commit_flags_cases[0]));
	tcase_add_test(tc, test_deliver_null_outputs);
	tcase_add_test(tc, test_deliver_abort);
	tcase_add_test(tc, test_deliver_begin_fails);
	tcase_add_test(tc, test_deliver_commit_fails);
	tcase_add_test(tc, test_deliver_unique_order);
	suite_add_tcase(s, tc);

	tc = tcase_create("scan");
	tcase_add_checked_fixture(tc, maildir_fixture_setup,
	    maildir_fixture_teardown);
	tcase_add_test(tc, test_scan_foreign_and_order);
	tcase_add_test(tc, test_scan_vsize_chunk_boundary);
	tcase_add_test(tc, test_scan_empty_and_missing);
	suite_add_tcase(s, tc);

	tc = tcase_create("flags");
	tcase_add_checked_fixture(tc, maildir_fixture_setup,
	    maildir_fixture_teardown);
	tcase_add_test(tc, test_base_name);
	tcase_add_loop_test(tc, test_set_flags_from_new, 0,
	    sizeof(set_flags_cases) / sizeof(set_flags_cases[0]));
	tcase_add_test(tc, test_set_flags_in_cur);
	tcase_add_test(tc, test_set_flags_vanished);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return maildir_fixture_run(maildir_suite());
}

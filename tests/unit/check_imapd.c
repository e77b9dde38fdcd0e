/*
 * check_imapd: imapd's pure modules: the per-folder UID list
 * (imap_uidlist), the MODSEQ record (imap_modseq) and the keyword table
 * (imap_keywords) here, the command reader and argument parser in
 * check_imapd_parse.c.  One Suite each.
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "imap_keywords.h"
#include "imap_parse.h"
#include "imap_uidlist.h"
#include "xalloc.h"

#include "imap_modseq.h"
#include "imapd_suites.h"

/* --- a scratch Maildir -------------------------------------------------- */

static char folder[] = "/tmp/check_imapd.XXXXXX";

static void
folder_setup(void)
{
	char *p;

	ck_assert_ptr_nonnull(mkdtemp(folder));
	p = xasprintf("%s/new", folder);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	free(p);
	p = xasprintf("%s/cur", folder);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	free(p);
	p = xasprintf("%s/tmp", folder);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	free(p);
}

/* Remove the scratch Maildir (two levels: the folder and new/cur/tmp). */
static void
folder_teardown(void)
{
	static const char *const subs[] = { "new", "cur", "tmp", "." };
	struct dirent *e;
	char *p, *q;
	DIR *d;
	size_t i;

	for (i = 0; i < 4; i++) {
		p = xasprintf("%s/%s", folder, subs[i]);
		if ((d = opendir(p)) != NULL) {
			while ((e = readdir(d)) != NULL) {
				q = xasprintf("%s/%s", p, e->d_name);
				(void) unlink(q);
				free(q);
			}
			closedir(d);
		}
		if (i < 3)
			(void) rmdir(p);
		free(p);
	}
	(void) rmdir(folder);
}

static void
put(const char *sub, const char *name, const char *text)
{
	char *p = xasprintf("%s/%s/%s", folder, sub, name);
	FILE *f = fopen(p, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	free(p);
}

static void
drop(const char *sub, const char *name)
{
	char *p = xasprintf("%s/%s/%s", folder, sub, name);

	ck_assert_int_eq(unlink(p), 0);
	free(p);
}

static uint32_t
uid_of(const struct imap_uidlist_result *r, const char *base)
{
	size_t i;

	for (i = 0; i < r->count; i++) {
		if (strncmp(r->files[i].name, base, strlen(base)) == 0)
			return r->files[i].uid;
	}
	return 0;
}

static void
scan(struct imap_uidlist_result *r)
{
	char *error = NULL;

	ck_assert_msg(imap_uidlist_scan(folder, r, &error) == 0, "%s",
	    error != NULL ? error : "");
}

/* --- imap_uidlist ------------------------------------------------------- */

START_TEST(test_uidlist_stable)
{
	struct imap_uidlist_result r;
	uint32_t validity;

	put("new", "1000.M1P1Q1.h", "a");
	put("cur", "999.M1P1Q1.h:2,S", "b");
	scan(&r);
	ck_assert_uint_eq(r.count, 2);
	/* Delivery order: the older file gets the lower UID. */
	ck_assert_uint_eq(uid_of(&r, "999.M1P1Q1.h"), 1);
	ck_assert_uint_eq(uid_of(&r, "1000.M1P1Q1.h"), 2);
	ck_assert_uint_eq(r.uidnext, 3);
	validity = r.uidvalidity;
	ck_assert_uint_ne(validity, 0);
	imap_uidlist_result_free(&r);
	/* Moved to cur/ with flags: same UID; a new file: the next one. */
	drop("new", "1000.M1P1Q1.h");
	put("cur", "1000.M1P1Q1.h:2,FS", "a");
	put("new", "1001.M1P1Q1.h", "c");
	scan(&r);
	ck_assert_uint_eq(uid_of(&r, "1000.M1P1Q1.h"), 2);
	ck_assert_uint_eq(uid_of(&r, "1001.M1P1Q1.h"), 3);
	ck_assert_uint_eq(r.uidvalidity, validity);
	imap_uidlist_result_free(&r);
	/* An expunged UID is never given again. */
	drop("new", "1001.M1P1Q1.h");
	put("new", "1002.M1P1Q1.h", "d");
	scan(&r);
	ck_assert_uint_eq(r.count, 3);
	ck_assert_uint_eq(uid_of(&r, "1002.M1P1Q1.h"), 4);
	ck_assert_uint_eq(r.uidvalidity, validity);
	ck_assert_int_eq(r.rebuilt, 0);
	imap_uidlist_result_free(&r);
}
END_TEST

/* Damaged lists are rebuilt with a greater UIDVALIDITY. */
static const char *const damaged_lists[] = {
	"",
	"garbage\n",
	"ispmail-uidlist 2 5 3\n",
	"ispmail-uidlist 1 5 3\n2 1.M1P1Q1.h\n1 2.M1P1Q1.h\n",
	"ispmail-uidlist 1 5 3\n1 1.M1P1Q1.h\n3 2.M1P1Q1.h\n",
	"ispmail-uidlist 1 5 3\n1 1.M1P1Q1.h\n0 2.M1P1Q1.h\n",
	"ispmail-uidlist 1 5 3\nx 1.M1P1Q1.h\n",
	"ispmail-uidlist 1 5 99999999999\n",
	"ispmail-uidlist 1 0 3\n",
	"ispmail-uidlist 1 5 3\n1 \n",
	"ispmail-uidlist 1 5 3\n1 a b\n",
	"ispmail-uidlist 1 5 3\n1 a/b\n",
	"ispmail-uidlist 1 5 3\n1 1.M1P1Q1.h:2,\n",
	"ispmail-uidlist 1 5 3\n-1 1.M1P1Q1.h\n",
	"ispmail-uidlist 1 5 3\n5 1.M1P1Q1.h\n",
	"ispmail-uidlist 1 5 3\n1 1.M1P1Q1.h",
	"ispmail-uidlist 1 5 3\n1\n",
	"ispmail-uidlist 1 99999999999999999999 3\n",
};

/*
 * Odd lists that have always been read as they are (sscanf's number
 * rules): a faster parser must keep them, or UIDVALIDITY would change.
 */
static const char *const odd_lists[] = {
	"ispmail-uidlist 1 5 3\n1 1.M1P1Q1.h\n2 2.M1P1Q1.h\n",
	"ispmail-uidlist 1 5 3 2\n1 1.M1P1Q1.h\n2 2.M1P1Q1.h\n",
	"ispmail-uidlist  1  5  3 trailing\n1 1.M1P1Q1.h\n2 2.M1P1Q1.h\n",
	"ispmail-uidlist 1 +5 3\n 1 1.M1P1Q1.h\n+2 2.M1P1Q1.h\n",
	"ispmail-uidlist 1 5 3\n01\t1.M1P1Q1.h\n002   2.M1P1Q1.h\n",
	"ispmail-uidlist 1 5 9\n2 2.M1P1Q1.h\n3x\n",
	"ispmail-uidlist 1 5 3\n\t1 1.M1P1Q1.h\n2\v2.M1P1Q1.h\n",
	"ispmail-uidlist 1 5 99\n1 1.M1P1Q1.h\n2 2.M1P1Q1.h\n",
};

/* Two messages and the UID list's len bytes, then a scan. */
static void
scan_list_bytes(const char *text, size_t len, struct imap_uidlist_result *r)
{
	char *path = xasprintf("%s/%s", folder, IMAP_UIDLIST_NAME);
	FILE *f;

	put("cur", "1.M1P1Q1.h:2,", "a");
	put("cur", "2.M1P1Q1.h:2,", "b");
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(text, 1, len, f), len);
	fclose(f);
	free(path);
	scan(r);
}

static void
scan_list(const char *text, struct imap_uidlist_result *r)
{
	scan_list_bytes(text, strlen(text), r);
}

START_TEST(test_uidlist_odd_accepted)
{
	struct imap_uidlist_result r;

	scan_list(odd_lists[_i], &r);
	ck_assert_msg(!r.rebuilt, "list %d rebuilt", _i);
	ck_assert_uint_eq(r.uidvalidity, 5);
	ck_assert_uint_eq(r.count, 2);
	ck_assert_uint_eq(uid_of(&r, "1.M1P1Q1.h"), _i == 5 ? 9 : 1);
	ck_assert_uint_eq(uid_of(&r, "2.M1P1Q1.h"), 2);
	imap_uidlist_result_free(&r);
}
END_TEST

START_TEST(test_uidlist_damaged)
{
	struct imap_uidlist_result r;

	scan_list(damaged_lists[_i], &r);
	ck_assert_msg(r.rebuilt, "list %d not rebuilt", _i);
	ck_assert_uint_gt(r.uidvalidity, 5);
	ck_assert_uint_eq(r.count, 2);
	ck_assert_uint_lt(uid_of(&r, "1.M1P1Q1.h"), uid_of(&r, "2.M1P1Q1.h"));
	imap_uidlist_result_free(&r);
}
END_TEST

/* The list's inode: a scan that rewrote the list gave it a new one. */
static ino_t
list_inode(void)
{
	char *path = xasprintf("%s/%s", folder, IMAP_UIDLIST_NAME);
	struct stat st;

	ck_assert_int_eq(stat(path, &st), 0);
	free(path);
	return st.st_ino;
}

/*
 * A scan that finds every file listed neither locks nor writes, and
 * gives the files in UID order whatever the order of their bases: the
 * list's order is UID order, not base order.
 */
START_TEST(test_uidlist_listed)
{
	char *path = xasprintf("%s/%s", folder, IMAP_UIDLIST_NAME);
	struct imap_uidlist_result r;
	ino_t ino;
	FILE *f;

	put("cur", "3.M1P1Q1.h:2,S", "a");
	put("cur", "1.M1P1Q1.h:2,", "b");
	/* Moving new/ -> cur/ while we list: the cur/ copy counts. */
	put("new", "2.M1P1Q1.h", "c");
	put("cur", "2.M1P1Q1.h:2,F", "c");
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	/* UID 2's file is gone; UID 7 names UID 1's base again. */
	fputs("ispmail-uidlist 1 5 10 10\n1 3.M1P1Q1.h\n2 9.M1P1Q1.h\n"
	    "4 1.M1P1Q1.h\n6 2.M1P1Q1.h\n7 3.M1P1Q1.h\n", f);
	fclose(f);
	free(path);
	ino = list_inode();
	scan(&r);
	ck_assert_uint_eq(r.count, 3);
	ck_assert_str_eq(r.files[0].name, "3.M1P1Q1.h:2,S");
	ck_assert_uint_eq(r.files[0].uid, 1);
	ck_assert_str_eq(r.files[1].name, "1.M1P1Q1.h:2,");
	ck_assert_uint_eq(r.files[1].uid, 4);
	ck_assert_str_eq(r.files[2].name, "2.M1P1Q1.h:2,F");
	ck_assert_uint_eq(r.files[2].uid, 6);
	ck_assert_int_eq(r.files[2].in_new, 0);
	ck_assert_uint_eq(r.uidnext, 10);
	ck_assert_uint_eq(r.uidvalidity, 5);
	imap_uidlist_result_free(&r);
	ck_assert_uint_eq(list_inode(), ino);
}
END_TEST

/* A thousand names through the hash table; expunges need no write. */
START_TEST(test_uidlist_listed_many)
{
	struct imap_uidlist_result r;
	uint32_t *uids = xcalloc(1200, sizeof(*uids));
	char name[64];
	size_t i, kept = 0;
	ino_t ino;

	for (i = 0; i < 1200; i++) {
		(void) snprintf(name, sizeof(name), "%zu.M%zuP1Q1.h:2,", 1000 +
		    (i * 7919) % 1200, i);
		put("cur", name, "x");
	}
	scan(&r);
	ck_assert_uint_eq(r.count, 1200);
	for (i = 0; i < r.count; i++) {
		ck_assert_uint_eq(r.files[i].uid, i + 1);
		ck_assert_int_eq(sscanf(r.files[i].name, "%*u.M%zuP", &kept),
		    1);
		uids[kept] = r.files[i].uid;
	}
	imap_uidlist_result_free(&r);
	ino = list_inode();
	for (i = 0; i < 1200; i += 3) {
		(void) snprintf(name, sizeof(name), "%zu.M%zuP1Q1.h:2,", 1000 +
		    (i * 7919) % 1200, i);
		drop("cur", name);
	}
	scan(&r);
	ck_assert_uint_eq(r.count, 800);
	for (i = 0; i < r.count; i++) {
		ck_assert_int_eq(sscanf(r.files[i].name, "%*u.M%zuP", &kept),
		    1);
		ck_assert_uint_ne(kept % 3, 0);
		ck_assert_uint_eq(r.files[i].uid, uids[kept]);
		if (i > 0)
			ck_assert_uint_gt(r.files[i].uid, r.files[i - 1].uid);
	}
	imap_uidlist_result_free(&r);
	ck_assert_uint_eq(list_inode(), ino);
	free(uids);
}
END_TEST

/*
 * The list is read whole and parsed in place; a NUL in a line and a line
 * past 1,024 bytes damage it as they did when read with fgets, a line of
 * 1,024 bytes does not.
 */
START_TEST(test_uidlist_line_bytes)
{
	static const char nul[] = "ispmail-uidlist 1 5 3\n1 1.M1P1Q1.h\n"
	    "2 2.M1P1Q1.h\0x\n";
	struct imap_uidlist_result r;
	struct buf *text = buf_new(4096);
	size_t i, start;

	scan_list_bytes(nul, sizeof(nul) - 1, &r);
	ck_assert_int_eq(r.rebuilt, 1);
	imap_uidlist_result_free(&r);
	for (i = 0; i < 2; i++) {
		buf_reset(text);
		ck_assert_int_eq(buf_append_str(text, "ispmail-uidlist 1 5 9 9\n"
		    "1 1.M1P1Q1.h\n"), 0);
		start = buf_len(text);
		ck_assert_int_eq(buf_append_str(text, "2 "), 0);
		/* "2 " and the base: 1,024 bytes, then 1,025. */
		while (buf_len(text) < start + 1024 + i)
			ck_assert_int_eq(buf_append_char(text, 'x'), 0);
		ck_assert_int_eq(buf_append_str(text, "\n3 2.M1P1Q1.h\n"), 0);
		scan_list_bytes(buf_data(text), buf_len(text), &r);
		ck_assert_int_eq(r.rebuilt, (int) i);
		if (i == 0) {
			ck_assert_uint_eq(r.uidvalidity, 5);
			ck_assert_uint_eq(uid_of(&r, "1.M1P1Q1.h"), 1);
			ck_assert_uint_eq(uid_of(&r, "2.M1P1Q1.h"), 3);
		}
		imap_uidlist_result_free(&r);
	}
	buf_free(&text);
}
END_TEST

struct base_case {
	const char *name;
	size_t len;
};

static const struct base_case base_cases[] = {
	{ "1.M1P1Q1.h:2,S", 10 },
	{ "1.M1P1Q1.h", 10 },
	{ ":2,", 0 },
	{ "", 0 },
	{ "a:b:c", 1 },
};

/* Bases order as memcmp orders bytes, ':' and the end closing a base. */
START_TEST(test_uidlist_base_order)
{
	char n1[] = "1.a.b:2,", n2[] = "1.a\x80", n3[] = "1.b";
	char n4[] = "1.a:2,S", n5[] = "1.", n6[] = "1.a9:2,";
	struct imap_uidlist_file files[] = {
		{ n3, 4, 0 }, { n1, 2, 0 }, { n6, 6, 0 }, { n2, 3, 0 },
		{ n4, 1, 0 }, { n5, 5, 0 },
	};
	struct imap_uidlist_result r;
	static const char *const want[] = {
		"1.", "1.a:2,S", "1.a.b:2,", "1.a9:2,", "1.a\x80", "1.b",
	};
	size_t i;

	memset(&r, 0, sizeof(r));
	r.files = files;
	r.count = sizeof(files) / sizeof(files[0]);
	imap_uidlist_sort_by_base(&r);
	for (i = 0; i < r.count; i++)
		ck_assert_str_eq(r.files[i].name, want[i]);
	ck_assert_uint_eq(imap_uidlist_find_base(&r, "1.a"), 1);
	ck_assert_uint_eq(imap_uidlist_find_base(&r, "1.a.b"), 2);
	ck_assert_uint_eq(imap_uidlist_find_base(&r, "1.a\x80"), 3);
	ck_assert_uint_eq(imap_uidlist_find_base(&r, "1."), 5);
	ck_assert_uint_eq(imap_uidlist_find_base(&r, "1.a.b:2,"), 2);
	ck_assert_uint_eq(imap_uidlist_find_base(&r, "1.c"), 0);
	ck_assert_uint_eq(imap_uidlist_find_base(&r, "1"), 0);
}
END_TEST

START_TEST(test_uidlist_base_len)
{
	ck_assert_uint_eq(imap_uidlist_base_len(base_cases[_i].name),
	    base_cases[_i].len);
}
END_TEST

static Suite *
imap_uidlist_suite(void)
{
	Suite *s = suite_create("imap_uidlist");
	TCase *tc = tcase_create("scan");

	tcase_add_checked_fixture(tc, folder_setup, folder_teardown);
	tcase_add_test(tc, test_uidlist_stable);
	tcase_add_test(tc, test_uidlist_listed);
	tcase_add_test(tc, test_uidlist_listed_many);
	tcase_add_test(tc, test_uidlist_line_bytes);
	tcase_add_loop_test(tc, test_uidlist_damaged, 0,
	    sizeof(damaged_lists) / sizeof(damaged_lists[0]));
	tcase_add_loop_test(tc, test_uidlist_odd_accepted, 0,
	    sizeof(odd_lists) / sizeof(odd_lists[0]));
	suite_add_tcase(s, tc);
	tc = tcase_create("base_len");
	tcase_add_test(tc, test_uidlist_base_order);
	tcase_add_loop_test(tc, test_uidlist_base_len, 0,
	    sizeof(base_cases) / sizeof(base_cases[0]));
	suite_add_tcase(s, tc);
	return s;
}

/* --- imap_modseq -------------------------------------------------------- */

static char name_1a[] = "1.a:2,";
static char name_2b[] = "2.b";
static char name_3c[] = "3.c:2,S";
static char name_1a_f[] = "1.a:2,F";
static char name_4d[] = "4.d";

static uint64_t
modseq_reconcile(const struct imap_uidlist_file *files, size_t count,
	uint64_t *modseqs)
{
	struct imap_modseq *ms;
	char *error = NULL;
	uint64_t highest;

	ms = imap_modseq_begin(folder, &error);
	ck_assert_msg(ms != NULL, "%s", error);
	imap_modseq_reconcile(ms, files, count, modseqs);
	highest = imap_modseq_highest(ms);
	ck_assert_int_eq(imap_modseq_end(&ms, &error), 0);
	return highest;
}

START_TEST(test_modseq_reconcile)
{
	struct imap_uidlist_file three[] = {
		{ name_1a, 1, 0 }, { name_2b, 2, 1 }, { name_3c, 3, 0 },
	};
	struct imap_uidlist_file later[] = {
		{ name_1a_f, 1, 0 }, { name_3c, 3, 0 }, { name_4d, 4, 1 },
	};
	uint64_t m[3], m2[3], h0, h1, h2;
	struct imap_modseq *ms;
	uint32_t *uids;
	size_t count;
	char *error = NULL;

	/* A new record: every message above the time-based seed, all at
	 * one MODSEQ (the changes one look finds share one). */
	h0 = modseq_reconcile(three, 3, m);
	ck_assert(m[0] == h0 && m[1] == h0 && m[2] == h0);
	ck_assert(h0 > 1000000ULL * 1600000000ULL);
	/* Nothing changed: the same MODSEQs, from the file. */
	ck_assert(modseq_reconcile(three, 3, m2) == h0);
	ck_assert(m2[0] == m[0] && m2[1] == m[1] && m2[2] == m[2]);
	/* 1's flags changed, 2 went, 4 came. */
	h1 = modseq_reconcile(later, 3, m2);
	ck_assert(h1 == h0 + 1);
	ck_assert(m2[0] == h1 && m2[1] == m[2] && m2[2] == h1);
	ms = imap_modseq_begin(folder, &error);
	ck_assert_ptr_nonnull(ms);
	ck_assert_int_eq(imap_modseq_vanished(ms, h0, &uids, &count), 1);
	ck_assert_uint_eq(count, 1);
	ck_assert_uint_eq(uids[0], 2);
	free(uids);
	ck_assert_int_eq(imap_modseq_vanished(ms, h1, &uids, &count), 1);
	ck_assert_uint_eq(count, 0);
	free(uids);
	/* Below the floor (the seed) the list is not complete. */
	ck_assert_int_eq(imap_modseq_vanished(ms, 1, &uids, &count), 0);
	free(uids);
	/* A STORE: a new MODSEQ, none for the same letters again. */
	ck_assert(imap_modseq_change(ms, 3, "3.c:2,RS") == h1 + 1);
	ck_assert(imap_modseq_change(ms, 3, "3.c:2,RS") == h1 + 1);
	ck_assert(imap_modseq_of(ms, 3) == h1 + 1);
	ck_assert_int_eq(imap_modseq_end(&ms, &error), 0);
	/* 1 goes too: the expunges stay in UID order (a merge). */
	h2 = modseq_reconcile(later + 1, 2, NULL);
	ms = imap_modseq_begin(folder, &error);
	ck_assert_int_eq(imap_modseq_vanished(ms, h0, &uids, &count), 1);
	ck_assert_uint_eq(count, 2);
	ck_assert(uids[0] == 1 && uids[1] == 2);
	free(uids);
	ck_assert(imap_modseq_highest(ms) == h2);
	ck_assert_int_eq(imap_modseq_end(&ms, &error), 0);
}
END_TEST

static const char *const damaged_records[] = {
	"",
	"ispmail-modseq 2 5 1\n",
	"ispmail-modseq 1 5 9\n",		/* floor above highest */
	"ispmail-modseq 1 5 1\n1 6 -\n",	/* MODSEQ above highest */
	"ispmail-modseq 1 5 1\n2 1 -\n1 2 -\n",	/* UIDs not rising */
	"ispmail-modseq 1 5 1\nX 0 1\n",
	"ispmail-modseq 1 5 1\n1 2",		/* no line end */
	"ispmail-modseq 1 5 1\n1 2\n",		/* no letters */
	"ispmail-modseq 1 5 1\n0 2 -\n",
	"ispmail-modseq 1 5\n",
	" ispmail-modseq 1 5 1\n",
	"ispmail-modseq 1 5 1\n1 2 \n",		/* empty letters */
	"ispmail-modseq 1 5 1\n1 x -\n",
	"ispmail-modseq 1 5 1\n-1 2 -\n",
	"ispmail-modseq 1 5 1\n 1 2 -\n",
	"ispmail-modseq 1 5 1\n1  2 -\n",
	"ispmail-modseq 1 5 1\n4294967296 2 -\n",	/* UID over 32 bits */
	"ispmail-modseq 1 5 1\n99999999999999999999999 2 -\n",
	"ispmail-modseq 1 5 1\n1 99999999999999999999999 -\n",
	"ispmail-modseq 1 5 1\n1 2 -\n\n",	/* empty line */
	"ispmail-modseq 1 5 1\nX 1\n",
	"ispmail-modseq 1 5 1\nX 1 2 3\n",
	"ispmail-modseq 1 5 1\nX 1 9\n",		/* MODSEQ above highest */
	"ispmail-modseq 1 5 1\nX 2 1\nX 1 1\n",	/* UIDs not rising */
	"ispmail-modseq 1 5 1\n1 2 "
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyzABCDEFGHIJKLM\n",
	/* Read by sscanf's rules before the record's own parser: */
	"ispmail-modseq 1 5 1\n1\t2\t-  trailing\n",
	"ispmail-modseq 1 5 1\nX 3 4 junk\n1 2 -\n",
	"ispmail-modseq 1 5 1\n+1 +2 -\n",
	"ispmail-modseq 1 5 1\nX1\t4\n1 2 -\n",
};

/* Odd records read as they are: kept, not rebuilt. */
static const char *const odd_records[] = {
	"ispmail-modseq 1 5 1\n1 2 -\n",
	"ispmail-modseq 1  5  1 extra\n1 2 -\n",
	"ispmail-modseq 1 +5 1\n1 2 -\n",
	"ispmail-modseq 1 5 1\n01 002 -\n",
};

START_TEST(test_modseq_odd_accepted)
{
	struct imap_uidlist_file one[] = { { name_1a, 1, 0 } };
	char *path = xasprintf("%s/%s", folder, IMAP_MODSEQ_NAME);
	uint64_t m = 0;
	FILE *f;

	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(odd_records[_i], f);
	fclose(f);
	free(path);
	ck_assert_msg(modseq_reconcile(one, 1, &m) == 5, "record %d", _i);
	ck_assert_msg(m == 2, "record %d: MODSEQ %llu", _i,
	    (unsigned long long) m);
}
END_TEST

START_TEST(test_modseq_damaged)
{
	struct imap_uidlist_file one[] = { { name_1a, 1, 0 } };
	char *path = xasprintf("%s/%s", folder, IMAP_MODSEQ_NAME);
	uint64_t m;
	FILE *f;

	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(damaged_records[_i], f);
	fclose(f);
	free(path);
	/* Rebuilt above anything it could have given out. */
	ck_assert(modseq_reconcile(one, 1, &m) > 1000000ULL * 1600000000ULL);
}
END_TEST

/*
 * Damage fputs cannot write: a NUL inside a line, and a header line past
 * the line limit (its numbers readable at the start).  The record is
 * read whole now; both still damage it, as they did through fgets.
 */
START_TEST(test_modseq_damaged_bytes)
{
	static const char nul[] = "ispmail-modseq 1 5 1\n1 2 -\0S\n";
	struct imap_uidlist_file one[] = { { name_1a, 1, 0 } };
	char *path = xasprintf("%s/%s", folder, IMAP_MODSEQ_NAME);
	uint64_t m;
	FILE *f;
	int i;

	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	if (_i == 0) {
		ck_assert_uint_eq(fwrite(nul, 1, sizeof(nul) - 1, f),
		    sizeof(nul) - 1);
	} else {
		fputs("ispmail-modseq 1 5 1", f);
		for (i = 0; i < 1100; i++)
			fputc(' ', f);
		fputs("\n1 2 -\n", f);
	}
	fclose(f);
	free(path);
	ck_assert(modseq_reconcile(one, 1, &m) > 1000000ULL * 1600000000ULL);
}
END_TEST

/*
 * The record read back exactly as it was written (letters with a space
 * included: a name's letters are whatever follows ":2,"), and a change
 * written in the same format.
 */
START_TEST(test_modseq_round_trip)
{
	static char name_2b_sf[] = "2.b:2,S F", name_2b_r[] = "2.b:2,R";
	struct imap_uidlist_file files[] = {
		{ name_1a, 1, 0 }, { name_2b_sf, 2, 0 },
	};
	static const char before[] = "ispmail-modseq 1 18446744073709551610 "
	    "3\n1 3 -\n2 18446744073709551609 S F\nX 4294967295 2\n";
	char *path = xasprintf("%s/%s", folder, IMAP_MODSEQ_NAME);
	char text[512], *error = NULL;
	struct imap_modseq *ms;
	uint64_t m[2];
	size_t n;
	FILE *f;

	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(before, f);
	fclose(f);
	ck_assert(modseq_reconcile(files, 2, m) == 18446744073709551610ULL);
	ck_assert(m[0] == 3 && m[1] == 18446744073709551609ULL);
	ms = imap_modseq_begin(folder, &error);
	ck_assert_ptr_nonnull(ms);
	ck_assert(imap_modseq_change(ms, 2, name_2b_r) ==
	    18446744073709551611ULL);
	ck_assert_int_eq(imap_modseq_end(&ms, &error), 0);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	ck_assert_str_eq(text, "ispmail-modseq 1 18446744073709551611 3\n"
	    "1 3 -\n2 18446744073709551611 R\nX 4294967295 2\n");
	free(path);
}
END_TEST

static Suite *
imap_modseq_suite(void)
{
	Suite *s = suite_create("imap_modseq");
	TCase *tc = tcase_create("record");

	tcase_add_checked_fixture(tc, folder_setup, folder_teardown);
	tcase_add_test(tc, test_modseq_reconcile);
	tcase_add_test(tc, test_modseq_round_trip);
	tcase_add_loop_test(tc, test_modseq_damaged, 0,
	    sizeof(damaged_records) / sizeof(damaged_records[0]));
	tcase_add_loop_test(tc, test_modseq_damaged_bytes, 0, 2);
	tcase_add_loop_test(tc, test_modseq_odd_accepted, 0,
	    sizeof(odd_records) / sizeof(odd_records[0]));
	suite_add_tcase(s, tc);
	return s;
}

/* --- imap_keywords ------------------------------------------------------ */

struct keyword_file_case {
	const char *text;
	size_t len;			/* 0: strlen(text) */
	const char *names;		/* "n=name;..." of what loads */
};

static const struct keyword_file_case keyword_files[] = {
	{ "0 $Junk\n1 Work\n", 0, "0=$Junk;1=Work;" },
	{ "3 Later", 0, "3=Later;" },
	{ "0 A\n0 B\n", 0, "0=A;" },
	{ "0 A\n1 a\n", 0, "0=A;" },
	{ "25 Z\n26 Y\n99 X\n", 0, "25=Z;" },
	{ "x A\n 1 B\n1\n1 \n2  C\n3 D\\E\n4 F]\n", 0, "" },
	{ "", 0, "" },
	{ "5 a\0b\n6 ok\n", 12, "6=ok;" },
};

START_TEST(test_keywords_load)
{
	const struct keyword_file_case *c = &keyword_files[_i];
	struct imap_keywords kw;
	struct buf *got = buf_new(4096);
	char *error = NULL;
	int i;

	char *path = xasprintf("%s/%s", folder, IMAP_KEYWORD_FILE);
	size_t len = c->len != 0 ? c->len : strlen(c->text);
	FILE *f = fopen(path, "w");

	memset(&kw, 0, sizeof(kw));
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(c->text, 1, len, f), len);
	fclose(f);
	free(path);
	ck_assert_int_eq(imap_keywords_load(folder, &kw, &error), 0);
	for (i = 0; i < IMAP_KEYWORD_MAX; i++) {
		if (kw.names[i] != NULL)
			(void) buf_printf(got, "%d=%s;", i, kw.names[i]);
	}
	ck_assert_str_eq(buf_cstr(got), c->names);
	imap_keywords_clear(&kw);
	buf_free(&got);
}
END_TEST

START_TEST(test_keywords_add)
{
	struct imap_keywords kw, again;
	char *error = NULL, name[16];
	int i;

	memset(&kw, 0, sizeof(kw));
	memset(&again, 0, sizeof(again));
	/* No file: an empty table. */
	ck_assert_int_eq(imap_keywords_load(folder, &kw, &error), 0);
	ck_assert_int_eq(imap_keywords_add(folder, &kw, "$Junk", &error), 0);
	ck_assert_int_eq(imap_keywords_add(folder, &kw, "work", &error), 1);
	ck_assert_int_eq(imap_keywords_add(folder, &kw, "WORK", &error), 1);
	ck_assert_int_eq(imap_keywords_find(&kw, "$junk"), 0);
	ck_assert_int_eq(imap_keywords_find(&kw, "none"), -1);
	/* Another reader sees the same numbers. */
	ck_assert_int_eq(imap_keywords_load(folder, &again, &error), 0);
	ck_assert_int_eq(imap_keywords_find(&again, "work"), 1);
	/* A stale table learns names added meanwhile before adding. */
	ck_assert_int_eq(imap_keywords_add(folder, &again, "third", &error),
	    2);
	ck_assert_int_eq(imap_keywords_add(folder, &kw, "fourth", &error), 3);
	ck_assert_int_eq(imap_keywords_find(&kw, "third"), 2);
	/* Bad names. */
	ck_assert_int_eq(imap_keywords_add(folder, &kw, "\\Seen", &error),
	    -1);
	free(error);
	ck_assert_int_eq(imap_keywords_add(folder, &kw, "a b", &error), -1);
	free(error);
	ck_assert_int_eq(imap_keywords_add(folder, &kw, "", &error), -1);
	free(error);
	/* Full at 26. */
	for (i = 4; i < IMAP_KEYWORD_MAX; i++) {
		snprintf(name, sizeof(name), "k%d", i);
		ck_assert_int_eq(imap_keywords_add(folder, &kw, name, &error),
		    i);
	}
	ck_assert_int_eq(imap_keywords_room(&kw), 0);
	ck_assert_int_eq(imap_keywords_add(folder, &kw, "more", &error), -1);
	ck_assert_ptr_nonnull(error);
	free(error);
	imap_keywords_clear(&kw);
	imap_keywords_clear(&again);
}
END_TEST

struct letters_case {
	const char *name;
	uint32_t bits;
};

static const struct letters_case letters_cases[] = {
	{ "1.M1.h:2,Sab", 0x3 },
	{ "1.M1.h:2,z", 1u << 25 },
	{ "1.M1.h:2,", 0 },
	{ "1.M1.h", 0 },
	{ "1.M1.h:1,ab", 0 },
	{ "1.M1:2.h:2,ab", 3 },
	{ "1.M1:2:2,c", 4 },
	{ "1.M1.h:2", 0 },
	{ "1.M1.h:2,DFRST", 0 },
};

START_TEST(test_keywords_from_name)
{
	ck_assert_uint_eq(imap_keywords_from_name(letters_cases[_i].name),
	    letters_cases[_i].bits);
}
END_TEST

static Suite *
imap_keywords_suite(void)
{
	Suite *s = suite_create("imap_keywords");
	TCase *tc = tcase_create("file");

	tcase_add_checked_fixture(tc, folder_setup, folder_teardown);
	tcase_add_loop_test(tc, test_keywords_load, 0,
	    sizeof(keyword_files) / sizeof(keyword_files[0]));
	tcase_add_test(tc, test_keywords_add);
	suite_add_tcase(s, tc);
	tc = tcase_create("letters");
	tcase_add_loop_test(tc, test_keywords_from_name, 0,
	    sizeof(letters_cases) / sizeof(letters_cases[0]));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	sr = srunner_create(imap_parse_suite());
	srunner_add_suite(sr, imap_uidlist_suite());
	srunner_add_suite(sr, imap_keywords_suite());
	srunner_add_suite(sr, imap_envcache_suite());
	srunner_add_suite(sr, imap_modseq_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

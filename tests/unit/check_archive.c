/* check_archive: the mail archive -- append, seal, duplicates, damage. */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive.h"
#include "mail_params.h"
#include "params.h"
#include "store.h"
#include "xalloc.h"

static char top[] = "/tmp/check_archive.XXXXXX";
static char *msg_path;
static int msg_fd = -1;
static const char message[] = "Subject: hi\r\n\r\nbody\r\n";

static void
setup(void)
{
	char *dir, *key, *error = NULL;
	FILE *fp;

	params_init();
	ck_assert_ptr_nonnull(mkdtemp(top));
	dir = xasprintf("%s/archive", top);
	key = xasprintf("%s/key", top);
	fp = fopen(key, "w");
	ck_assert_ptr_nonnull(fp);
	fputs("0123456789abcdef0123456789abcdef-key\n", fp);
	fclose(fp);
	ck_assert_int_eq(params_set("archive_directory", dir, &error), 0);
	ck_assert_int_eq(params_set("archive_key_file", key, &error), 0);
	free(dir);
	free(key);
	msg_path = xasprintf("%s/msg", top);
	msg_fd = open(msg_path, O_RDWR | O_CREAT, 0600);
	ck_assert_int_ge(msg_fd, 0);
	ck_assert_int_eq(write(msg_fd, message, strlen(message)),
	    (ssize_t) strlen(message));
}

static void
teardown(void)
{
	char *error = NULL;

	close(msg_fd);
	free(msg_path);
	ck_assert_msg(store_remove(top, "/tmp", &error) == 0, "%s", error);
}

static int
append(const char *queue_id)
{
	static const char *const rcpts[] = { "a@example.test" };
	struct archive_envelope env = {
		queue_id, "in", "192.0.2.1", "s@example.net", "", 1000,
		rcpts, 1, NULL, 0,
	};
	char *error = NULL;
	int rc;

	rc = archive_append("example.test", &env, msg_fd, 0,
	    (long long) strlen(message), &error);
	ck_assert_msg(rc >= 0, "%s", error != NULL ? error : "");
	return rc;
}

static int problems_seen;

static void
count_problem(void *ctx, const char *line)
{
	(void) ctx;
	(void) line;
	problems_seen++;
}

static int
verify(void)
{
	unsigned char *key = NULL;
	size_t key_len = 0;
	long long segments, records;
	char *error = NULL;
	int rc;

	ck_assert_int_eq(archive_key_read(&key, &key_len, &error), 0);
	problems_seen = 0;
	rc = archive_verify("example.test", key, key_len, count_problem, NULL,
	    &segments, &records, &error);
	free(key);
	ck_assert_int_eq(rc, problems_seen);
	return rc;
}

START_TEST(test_append_seal_verify)
{
	char *error = NULL;

	ck_assert_int_eq(append("Q1"), 1);
	ck_assert_int_eq(append("Q2"), 1);
	/* The same queue id and message: a retried attempt, not written. */
	ck_assert_int_eq(append("Q2"), 0);
	ck_assert_int_eq(archive_seal("example.test", 1, &error), 1);
	/* Nothing new to seal. */
	ck_assert_int_eq(archive_seal("example.test", 1, &error), 0);
	ck_assert_int_eq(append("Q3"), 1);
	ck_assert_int_eq(verify(), 0);
}
END_TEST

/* Header fields added after DATA are archived above the message. */
START_TEST(test_prefix_archived)
{
	static const char *const rcpts[] = { "a@example.test" };
	static const char prefix[] = "X-Spam-Flag: NO\r\n";
	struct archive_envelope env = {
		"QP", "in", "", "s@example.net", "", 1000, rcpts, 1,
		prefix, sizeof(prefix) - 1,
	};
	const struct archive_record *r;
	struct archive_reader *rd;
	char *path, *error = NULL, got[64];
	int found = 0;

	ck_assert_int_eq(archive_append("example.test", &env, msg_fd, 0,
	    (long long) strlen(message), &error), 1);
	path = archive_segment_path("example.test", 1);
	rd = archive_reader_open(path, &error);
	ck_assert_ptr_nonnull(rd);
	while (archive_reader_next(rd, &r, &error) == 1) {
		if (strcmp(r->type, ARCHIVE_MESSAGE) != 0)
			continue;
		found = 1;
		ck_assert_int_eq(r->payload_ok, 1);
		ck_assert_int_eq(r->size, (long long) (strlen(prefix) +
		    strlen(message)));
		ck_assert_int_eq(pread(archive_reader_fd(rd), got,
		    strlen(prefix), r->payload_offset),
		    (ssize_t) strlen(prefix));
		ck_assert_int_eq(memcmp(got, prefix, strlen(prefix)), 0);
	}
	ck_assert_int_eq(found, 1);
	archive_reader_close(&rd);
	free(path);
	ck_assert_int_eq(verify(), 0);
}
END_TEST

START_TEST(test_segment_size_seals)
{
	long long *segs = NULL;
	size_t count = 0;
	char *error = NULL;

	ck_assert_int_eq(params_set("archive_segment_size", "1", &error), 0);
	ck_assert_int_eq(append("Q1"), 1);
	ck_assert_int_eq(append("Q2"), 1);
	/* Q1 is in the segment before the newest: still a duplicate. */
	ck_assert_int_eq(append("Q1"), 0);
	ck_assert_int_eq(archive_list_segments("example.test", &segs, &count,
	    &error), 0);
	ck_assert_uint_eq(count, 2);
	free(segs);
	ck_assert_int_eq(verify(), 0);
}
END_TEST

START_TEST(test_bad_domain_and_no_directory)
{
	static const char *const rcpts[] = { "a@x" };
	struct archive_envelope env = {
		"Q", "in", "", "", "", 0, rcpts, 1, NULL, 0,
	};
	char *error = NULL;

	ck_assert_int_eq(archive_domain_valid("../etc"), 0);
	ck_assert_int_eq(archive_domain_valid(".hidden"), 0);
	ck_assert_int_eq(archive_domain_valid("Upper.test"), 0);
	ck_assert_int_eq(archive_domain_valid(""), 0);
	ck_assert_int_eq(archive_domain_valid("a-b.example.test"), 1);
	ck_assert_int_eq(archive_append("../x", &env, msg_fd, 0, 1, &error),
	    -1);
	free(error);
	error = NULL;
	ck_assert_int_eq(params_set("archive_directory", "", &error), 0);
	ck_assert_int_eq(archive_append("x.test", &env, msg_fd, 0, 1,
	    &error), -1);
	ck_assert_str_eq(error, "archive_directory is not set");
	free(error);
}
END_TEST

/* Damaged segment files: the reader names the damage, never crashes. */
static const char *const damaged[] = {
	"",					/* ok: empty */
	"garbage\n",
	"ISPMAIL-ARCHIVE 1 x\n",
	"ISPMAIL-ARCHIVE 1 99999999999999999999\n",
	"ISPMAIL-ARCHIVE 1 5\ntype=\n",		/* no header end */
	"ISPMAIL-ARCHIVE 1 10\ntype=open\n\n",	/* no fields */
	"ISPMAIL-ARCHIVE 1 94\ntype=open\nn=1\nsegment=1\nprev="
	    "000000000000000000000000000000000000000000000000000000000000000"
	    "0\ntime=1\n\nX",			/* no newline after */
	"ISPMAIL-ARCHIVE 1 20\nty%ZZpe=open\nn=1\n\n\n",
	"ISPMAIL-ARCHIVE 1 12\nn=-1\nn=2\n\n\n",
	"ISPMAIL-ARCHIVE 1 1\n\n\n",
};

START_TEST(test_reader_damage)
{
	const struct archive_record *r;
	struct archive_reader *rd;
	char *path = xasprintf("%s/seg", top), *error = NULL;
	const char *text = damaged[_i];
	FILE *fp = fopen(path, "w");
	int rc;

	ck_assert_ptr_nonnull(fp);
	fwrite(text, 1, strlen(text), fp);
	fclose(fp);
	rd = archive_reader_open(path, &error);
	ck_assert_ptr_nonnull(rd);
	rc = archive_reader_next(rd, &r, &error);
	if (_i == 0) {
		ck_assert_int_eq(rc, 0);
	} else {
		ck_assert_int_eq(rc, -1);
		ck_assert_ptr_nonnull(strstr(error, "damaged at offset 0"));
		free(error);
		/* The rest of the file is not read. */
		ck_assert_int_eq(archive_reader_next(rd, &r, &error), 0);
	}
	archive_reader_close(&rd);
	free(path);
}
END_TEST

START_TEST(test_key_too_short)
{
	unsigned char *key = NULL;
	size_t len;
	char *path = xasprintf("%s/short", top), *error = NULL;
	FILE *fp = fopen(path, "w");

	fputs("short\n", fp);
	fclose(fp);
	ck_assert_int_eq(params_set("archive_key_file", path, &error), 0);
	ck_assert_int_eq(archive_key_read(&key, &len, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "at least 32 bytes"));
	free(error);
	free(path);
}
END_TEST

static Suite *
archive_suite(void)
{
	Suite *s = suite_create("archive");
	TCase *tc = tcase_create("archive");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_append_seal_verify);
	tcase_add_test(tc, test_prefix_archived);
	tcase_add_test(tc, test_segment_size_seals);
	tcase_add_test(tc, test_bad_domain_and_no_directory);
	tcase_add_loop_test(tc, test_reader_damage, 0,
	    sizeof(damaged) / sizeof(damaged[0]));
	tcase_add_test(tc, test_key_too_short);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(archive_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

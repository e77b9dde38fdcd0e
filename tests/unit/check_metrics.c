/* check_metrics: shared counters that survive their writers. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "mail_params.h"
#include "metrics.h"
#include "params.h"
#include "qfile.h"
#include "tree_fixture.h"

static char queue_dir[] = "/tmp/check_metrics.XXXXXX";
static char metrics_dir[256];

/* A fresh queue directory with this uid's file, before each test. */
static void
setup(void)
{
	char file[64], *error = NULL;

	params_init();
	ck_assert_ptr_nonnull(mkdtemp(queue_dir));
	free(var_queue_directory);
	var_queue_directory = strdup(queue_dir);
	snprintf(metrics_dir, sizeof(metrics_dir), "%s/%s", queue_dir,
	    METRICS_DIR);
	snprintf(file, sizeof(file), "%u.shm", (unsigned) geteuid());
	ck_assert_msg(metrics_prepare(metrics_dir, file, geteuid(), getegid(),
	    0, &error) == 0, "%s", error);
}

static void
teardown(void)
{
	tree_fixture_remove(queue_dir);
}

static void
collect(const char *key, enum metrics_kind kind, long long value, void *ctx)
{
	struct buf *out = ctx;

	ck_assert(buf_printf(out, "%s %d %lld\n", key, (int) kind, value)
	    == 0);
}

/* Every merged series as "key kind value" lines. */
static char *
dump(void)
{
	struct buf *out = buf_new(BUF_DEFAULT_CAP);
	char *error = NULL, *text;

	ck_assert_msg(metrics_read_dir(metrics_dir, collect, out, &error)
	    >= 1, "%s", error);
	text = buf_strdup(out);
	buf_free(&out);
	return text;
}

static void
assert_line(const char *text, const char *line)
{
	ck_assert_msg(strstr(text, line) != NULL, "missing \"%s\" in:\n%s",
	    line, text);
}

START_TEST(test_counts_outlive_children)
{
	pid_t pid;
	int i, status;
	char *text;

	/* Ten processes count, and exit (crash) without any goodbye. */
	for (i = 0; i < 10; i++) {
		pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			int n;

			for (n = 0; n < 100; n++)
				metrics_inc("ispmail_test_total", "reason",
				    i % 2 ? "relay" : "unknown_user", NULL);
			_exit(0);
		}
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	}
	text = dump();
	assert_line(text, "ispmail_test_total{reason=\"relay\"} 1 500\n");
	assert_line(text,
	    "ispmail_test_total{reason=\"unknown_user\"} 1 500\n");
	assert_line(text, "ispmail_metrics_dropped_total 1 0\n");
	free(text);
}
END_TEST

START_TEST(test_labels_escaped)
{
	char *text;
	char long_value[200];

	metrics_inc("ispmail_x_total", "v", "a\"b\\c\nd\x01\xff", NULL);
	memset(long_value, 'z', sizeof(long_value) - 1);
	long_value[sizeof(long_value) - 1] = '\0';
	metrics_inc("ispmail_x_total", "v", long_value, NULL);
	metrics_add("ispmail_y_total", 7, NULL);
	text = dump();
	assert_line(text, "ispmail_x_total{v=\"a\\\"b\\\\c?d??\"} 1 1\n");
	/* Cut at METRICS_VALUE_MAX bytes. */
	ck_assert_ptr_nonnull(strstr(text, "{v=\"zzzzzzzzzzzzzzzzzzzzzzzzzzzz"
	    "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz\"} 1 1\n"));
	assert_line(text, "ispmail_y_total 1 7\n");
	free(text);
}
END_TEST

START_TEST(test_bad_names_dropped)
{
	char *text;

	metrics_inc("9bad", NULL);
	metrics_inc("bad name", NULL);
	metrics_inc("", NULL);
	metrics_inc("ok_total", "bad-label", "x", NULL);
	metrics_inc("ok_total", "label", NULL, NULL);
	text = dump();
	assert_line(text, "ispmail_metrics_dropped_total 1 5\n");
	ck_assert_ptr_null(strstr(text, "ok_total"));
	free(text);
}
END_TEST

START_TEST(test_table_full)
{
	char value[32], *text;
	int i;

	for (i = 0; i < METRICS_SLOTS + 10; i++) {
		snprintf(value, sizeof(value), "%d", i);
		metrics_inc("ispmail_many_total", "n", value, NULL);
	}
	text = dump();
	assert_line(text, "ispmail_metrics_dropped_total 1 10\n");
	free(text);
}
END_TEST

START_TEST(test_histogram_and_gauge)
{
	char *text;

	metrics_observe("ispmail_lookup_seconds", 0.003, "backend", "ldap",
	    NULL);
	metrics_observe("ispmail_lookup_seconds", 0.2, "backend", "ldap",
	    NULL);
	metrics_observe("ispmail_lookup_seconds", 99.0, "backend", "ldap",
	    NULL);
	metrics_set("ispmail_g", 5, NULL);
	metrics_set("ispmail_g", 3, NULL);
	text = dump();
	ck_assert_ptr_null(strstr(text, "le=\"0.001\"} 3 1"));
	assert_line(text, "ispmail_lookup_seconds_bucket{backend=\"ldap\","
	    "le=\"0.005\"} 3 1\n");
	assert_line(text, "ispmail_lookup_seconds_bucket{backend=\"ldap\","
	    "le=\"0.25\"} 3 2\n");
	assert_line(text, "ispmail_lookup_seconds_bucket{backend=\"ldap\","
	    "le=\"10\"} 3 2\n");
	assert_line(text, "ispmail_lookup_seconds_bucket{backend=\"ldap\","
	    "le=\"+Inf\"} 3 3\n");
	assert_line(text, "ispmail_lookup_seconds_count{backend=\"ldap\"} 3 3\n");
	assert_line(text, "ispmail_lookup_seconds_sum{backend=\"ldap\"} 4 "
	    "99203000\n");
	assert_line(text, "ispmail_g 2 3\n");
	free(text);
	/* Without labels: le alone in the braces, none on _count and _sum. */
	metrics_observe("ispmail_plain_seconds", 0.5, NULL);
	text = dump();
	ck_assert_ptr_null(strstr(text,
	    "ispmail_plain_seconds_bucket{le=\"0.25\"}"));
	assert_line(text, "ispmail_plain_seconds_bucket{le=\"0.5\"} 3 1\n");
	assert_line(text, "ispmail_plain_seconds_bucket{le=\"+Inf\"} 3 1\n");
	assert_line(text, "ispmail_plain_seconds_count 3 1\n");
	assert_line(text, "ispmail_plain_seconds_sum 4 500000\n");
	free(text);
}
END_TEST

START_TEST(test_no_file_no_harm)
{
	tree_fixture_remove(metrics_dir);
	ck_assert_int_eq(access(metrics_dir, F_OK), -1);
	/* A process without its file counts nothing and carries on. */
	metrics_inc("ispmail_test_total", NULL);
	ck_assert_int_eq(metrics_open(), -1);
}
END_TEST

START_TEST(test_dsn_label)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "4.4.1", "4.4.1" }, { "5.1.1", "5.1.1" },
		{ "2.0.0", "2.0.0" }, { "4.123.456", "4.123.456" },
		{ "4.1234.1", "other" }, { "3.0.0", "other" },
		{ "4.4", "other" }, { "4.4.1.1", "other" }, { "4..1", "other" },
		{ "4.4.", "other" }, { "", "other" }, { "4.4.1 x", "other" },
		{ "4.4.\x01", "other" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_str_eq(metrics_dsn_label(cases[i].in), cases[i].out);
	ck_assert_str_eq(metrics_dsn_label(NULL), "other");
	ck_assert_str_eq(metrics_result(1), "ok");
	ck_assert_str_eq(metrics_result(0), "failed");
	ck_assert_str_eq(metrics_result(-1), "error");
}
END_TEST

START_TEST(test_qfile_id_time)
{
	/* "1xYilw": 1796211916 in base62 (0-9A-Za-z), as smtpd names it. */
	ck_assert_int_eq(qfile_id_time("1xYilw1i2okP2H"), 1796211916LL);
	ck_assert_int_eq(qfile_id_time("000000000Z"), 0);
	ck_assert_int_eq(qfile_id_time("short"), -1);
	ck_assert_int_eq(qfile_id_time("1xYilw1i2o-P2H"), -1);
}
END_TEST

static Suite *
metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("store");
	TCase *full = tcase_create("full");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_checked_fixture(full, setup, teardown);
	/* Filling all 4096 slots (about 8M probes) under ASan. */
	tcase_set_timeout(full, 300);
	tcase_add_test(full, test_table_full);
	suite_add_tcase(s, full);
	tcase_add_test(tc, test_counts_outlive_children);
	tcase_add_test(tc, test_labels_escaped);
	tcase_add_test(tc, test_bad_names_dropped);
	tcase_add_test(tc, test_histogram_and_gauge);
	tcase_add_test(tc, test_no_file_no_harm);
	tcase_add_test(tc, test_dsn_label);
	tcase_add_test(tc, test_qfile_id_time);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(metrics_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

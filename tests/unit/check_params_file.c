/* check_params_file: main.conf reading (params_read_file), printing. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mail_params.h"
#include "params.h"
#include "params_fixture.h"
#include "xalloc.h"

/* Write len bytes (binary safe) to a new file in tmpdir; return its path. */
static char *
write_file(const char *name, const char *content, size_t len)
{
	char *path = xasprintf("%s/%s", tmpdir, name);
	FILE *fp = fopen(path, "w");

	ck_assert_ptr_nonnull(fp);
	ck_assert_uint_eq(fwrite(content, 1, len, fp), len);
	ck_assert_int_eq(fclose(fp), 0);
	return path;
}

/* What params_print() or params_print_defaults() wrote. */
static char *
print_to_string(int defaults, int nondefault_only, char *const *names,
	int count, int *rc_r)
{
	char *text = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&text, &size);

	ck_assert_ptr_nonnull(out);
	if (defaults)
		*rc_r = params_print_defaults(out, names, count);
	else
		*rc_r = params_print(out, nondefault_only, names, count);
	ck_assert_int_eq(fclose(out), 0);
	return text;
}


/* Copy s to text at len (the caller sized text); the new length. */
static size_t
put(char *text, size_t len, const char *s)
{
	size_t n = strlen(s);

	memcpy(text + len, s, n);
	return len + n;
}

/* --- params_read_file -------------------------------------------------- */

struct file_case {
	const char *content;
	size_t len;		/* 0: strlen(content) */
	int rc;
	const char *errors[3];	/* each after "PATH:" in the error */
	const char *checks[3][2];	/* name, expected text */
	long long max_use;	/* expected var_max_use */
};

/* A literal with NUL bytes in it: its text and its length. */
#define BIN(s) s, sizeof(s) - 1

static const struct file_case file_cases[] = {
	/* 0: comments, blank lines, indented comments. */
	{ "# a comment\n\n   \n  # indented comment\nmax_use = 5\n", 0, 0,
	    { NULL }, { { "max_use", "5" } }, 5 },
	/* 1: '#' only starts a comment at the start of a line. */
	{ "myhostname = a#b\n", 0, 0, { NULL },
	    { { "myhostname", "a#b" } }, 100 },
	/* 2: continuation lines are joined with one space. */
	{ "inet_protocols = ipv4,\n    ipv6\n\t  all\nmax_use=3\n", 0, 0,
	    { NULL }, { { "inet_protocols", "ipv4, ipv6 all" } }, 3 },
	/* 3: comments and blank lines do not end a logical line. */
	{ "inet_protocols = ipv4\n# note\n\n\tipv6\n", 0, 0, { NULL },
	    { { "inet_protocols", "ipv4 ipv6" } }, 100 },
	/* 4: a continuation with nothing before it. */
	{ "  max_use = 5\n   more\nmax_idle = 5m\n", 0, -1,
	    { "1: continuation line" },
	    { { "max_use", "100" }, { "max_idle", "5m" } }, 100 },
	/* 5: unknown names are reported; good lines still apply. */
	{ "max_use = 5\nnosuch = 1\nmax_idle = 5m\n", 0, -1,
	    { "2: unknown parameter \"nosuch\"" },
	    { { "max_idle", "5m" } }, 5 },
	/* 6: every bad line is in the one error. */
	{ "a = 1\nmax_use = x\nmax_idle = 5x\nmax_use = 9\n", 0, -1,
	    { "1: unknown parameter \"a\"", "2: max_use: bad value \"x\"",
	    "3: max_idle: bad value \"5x\"" }, { { NULL } }, 9 },
	/* 7: later assignments win. */
	{ "max_use = 5\nmax_use = 6\n", 0, 0, { NULL }, { { NULL } }, 6 },
	/* 8: no '='. */
	{ "max_use 5\n", 0, -1, { "1: expected \"name = value\"" },
	    { { NULL } }, 100 },
	/* 9: a name with white space in it. */
	{ "max use = 5\n", 0, -1, { "1: bad parameter name \"max use\"" },
	    { { NULL } }, 100 },
	/* 10: an empty value is fine for a string... */
	{ "myhostname =\nchroot_directory =   \n", 0, 0, { NULL },
	    { { "myhostname", "" }, { "chroot_directory", "" } }, 100 },
	/* 11: ... but not for a number. */
	{ "max_use =\n", 0, -1, { "1: max_use: bad value \"\"" },
	    { { NULL } }, 100 },
	/* 12: CRLF line ends, no newline at the end. */
	{ "max_idle = 5m\r\nmax_use = 5", 0, 0, { NULL },
	    { { "max_idle", "5m" } }, 5 },
	/* 13: a NUL byte makes its line bad, and only that line. */
	{ BIN("max_use = 5\nmax_idle = 1\0m\nmax_use = 9\n"), -1,
	    { "2: NUL byte in line" }, { { "max_idle", "100s" } }, 9 },
	/* 14: a NUL byte in a continuation makes the logical line bad. */
	{ BIN("inet_protocols = ipv4\n ip\0v6\nmax_use = 9\n"), -1,
	    { "2: NUL byte" }, { { "inet_protocols", "all" } }, 9 },
	/* 15: out of bounds names the bounds. */
	{ "\n\nmax_idle = 2d\n", 0, -1,
	    { "3: max_idle: \"2d\" is out of range (1s..1d)" },
	    { { "max_idle", "100s" } }, 100 },
	/* 16: $name expansion, in file order. */
	{ "config_directory = /c\nqueue_directory = $config_directory/q\n",
	    0, 0, { NULL },
	    { { "queue_directory", "$config_directory/q" } }, 100 },
	/* 17: an unknown $name. */
	{ "queue_directory = $nosuch/q\n", 0, -1,
	    { "1: queue_directory: unknown parameter \"$nosuch\"" },
	    { { "queue_directory", NULL } }, 100 },
	/* 18: white space around values is trimmed, inside it is kept. */
	{ "myhostname =   mx .example  \t\n", 0, 0, { NULL },
	    { { "myhostname", "mx .example" } }, 100 },
	/* 19: an empty file. */
	{ "", 0, 0, { NULL }, { { "max_use", "100" } }, 100 },
	/* 20: a control character in a value. */
	{ "myhostname = a\x1b[2Jb\n", 0, -1,
	    { "1: myhostname: control character in value \"a\\x1b[2Jb\"" },
	    { { "myhostname", "" } }, 100 },
};

START_TEST(test_read_file)
{
	const struct file_case *c = &file_cases[_i];
	char *name = xasprintf("main.conf.%d", _i);
	char *path = write_file(name, c->content,
	    c->len != 0 ? c->len : strlen(c->content));
	char *error = NULL, *expected;
	int rc, i;

	rc = params_read_file(path, 0, &error);
	ck_assert_msg(rc == c->rc, "case %d: rc %d, error %s", _i, rc,
	    error != NULL ? error : "(none)");
	for (i = 0; i < 3 && c->errors[i] != NULL; i++) {
		expected = xasprintf("%s:%s", path, c->errors[i]);
		ck_assert_msg(strstr(error, expected) != NULL,
		    "case %d: error \"%s\" lacks \"%s\"", _i, error, expected);
		free(expected);
	}
	for (i = 0; i < 3 && c->checks[i][0] != NULL; i++) {
		const char *want = c->checks[i][1];

		if (want == NULL)
			want = params_find(c->checks[i][0])->default_value;
		ck_assert_msg(strcmp(params_value(c->checks[i][0]), want)
		    == 0, "case %d: %s = \"%s\", expected \"%s\"", _i,
		    c->checks[i][0], params_value(c->checks[i][0]), want);
	}
	ck_assert_msg(var_max_use == c->max_use, "case %d: max_use %lld", _i,
	    var_max_use);
	free(error);
	free(path);
	free(name);
}
END_TEST

START_TEST(test_read_file_expansion_binds)
{
	static const char text[] = "config_directory = /c\n"
	    "queue_directory = ${config_directory}/q\n";
	char *path = write_file("expand.conf", text, strlen(text));
	char *error = NULL;

	ck_assert_int_eq(params_read_file(path, 0, &error), 0);
	ck_assert_str_eq(var_queue_directory, "/c/q");
	free(path);
}
END_TEST

START_TEST(test_read_file_long_lines)
{
	size_t max = PARAMS_LINE_MAX, prefix = strlen("myhostname = ");
	char *text = xmalloc(4 * max + 200);
	char *path, *error = NULL, *expected;
	size_t len = 0;

	/* Line 1: exactly PARAMS_LINE_MAX bytes: fine. */
	len = put(text, len, "myhostname = ");
	memset(text + len, 'a', max - prefix);
	len += max - prefix;
	text[len++] = '\n';
	/* Line 2: one byte more: an error for that line only. */
	len = put(text, len, "chroot_directory = ");
	memset(text + len, 'b', max + 1 - strlen("chroot_directory = "));
	len += max + 1 - strlen("chroot_directory = ");
	text[len++] = '\n';
	/* Line 3: read in step after the long line. */
	len = put(text, len, "max_use = 7\n");
	/* Lines 4-5: each fine, too long once joined. */
	len = put(text, len, "syslog_name = ");
	memset(text + len, 'c', max / 2);
	len += max / 2;
	text[len++] = '\n';
	text[len++] = ' ';
	memset(text + len, 'd', max / 2);
	len += max / 2;
	text[len++] = '\n';
	len = put(text, len, "max_idle = 7s\n");
	path = write_file("long.conf", text, len);

	ck_assert_int_eq(params_read_file(path, 0, &error), -1);
	ck_assert_uint_eq(strlen(var_myhostname), max - prefix);
	ck_assert_str_eq(var_chroot_directory, "");
	ck_assert_int_eq(var_max_use, 7);
	ck_assert_str_eq(var_syslog_name, "ispmail");
	ck_assert_int_eq(var_max_idle, 7);
	expected = xasprintf("%s:2: line too long (more than %d bytes)", path,
	    PARAMS_LINE_MAX);
	ck_assert_msg(strstr(error, expected) != NULL, "%s", error);
	free(expected);
	expected = xasprintf("%s:4: line too long after joining", path);
	ck_assert_msg(strstr(error, expected) != NULL, "%s", error);
	free(expected);
	ck_assert_ptr_null(strstr(error, ":1:"));
	ck_assert_ptr_null(strstr(error, ":3:"));
	free(error);
	free(path);
	free(text);
}
END_TEST

START_TEST(test_read_file_many_errors)
{
	char *text = xmalloc(100 * 16);
	char *path, *error = NULL, *line;
	size_t len = 0;
	int i;

	for (i = 0; i < 60; i++) {
		line = xasprintf("bad%d = 1\n", i);
		len = put(text, len, line);
		free(line);
	}
	path = write_file("many.conf", text, len);
	ck_assert_int_eq(params_read_file(path, 0, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, ":50: unknown parameter"));
	ck_assert_ptr_null(strstr(error, ":51: unknown parameter"));
	ck_assert_ptr_nonnull(strstr(error, ": 10 more errors"));
	free(error);
	free(path);
	free(text);
}
END_TEST

START_TEST(test_read_file_missing)
{
	char *path = xasprintf("%s/does-not-exist.conf", tmpdir);
	char *error = NULL;

	ck_assert_int_eq(params_read_file(path, 1, &error), 0);
	ck_assert_ptr_null(error);
	ck_assert_int_eq(params_read_file(path, 0, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, path));
	ck_assert_ptr_nonnull(strstr(error, "cannot open"));
	free(error);
	error = NULL;
	/* A directory is not a missing file, even with missing_ok. */
	ck_assert_int_eq(params_read_file(tmpdir, 1, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, tmpdir));
	free(error);
	free(path);
}
END_TEST

/* --- params_print ------------------------------------------------------ */

START_TEST(test_print_nondefault)
{
	static const char text[] = "myhostname = mx.example\n"
	    "max_use = 5\n"
	    "inet_protocols = ipv4,\n"
	    "   ipv6\n"
	    "config_directory = /c\n"
	    "queue_directory = $config_directory/q\n"
	    "chroot_directory =\n";
	char *path = write_file("print.conf", text, strlen(text));
	char *error = NULL, *out;
	int rc;

	ck_assert_int_eq(params_read_file(path, 0, &error), 0);
	ck_assert_int_eq(params_set_override("max_idle = 1h", &error), 0);
	out = print_to_string(0, 1, NULL, 0, &rc);
	ck_assert_int_eq(rc, 0);
	/* Sorted, as written (unexpanded, joined), only what was set. */
	ck_assert_str_eq(out,
	    "chroot_directory =\n"
	    "config_directory = /c\n"
	    "inet_protocols = ipv4, ipv6\n"
	    "max_idle = 1h\n"
	    "max_use = 5\n"
	    "myhostname = mx.example\n"
	    "queue_directory = $config_directory/q\n");
	free(out);
	free(path);
}
END_TEST

START_TEST(test_print_all)
{
	const struct param_def *def;
	char *error = NULL, *out, *line, *expected, *prev = NULL, *save;
	int rc, rows = 0, lines = 0;

	ck_assert_int_eq(params_set("max_use", "5", &error), 0);
	out = print_to_string(0, 0, NULL, 0, &rc);
	ck_assert_int_eq(rc, 0);
	for (def = param_table; def->name != NULL; def++)
		rows++;
	for (line = strtok_r(out, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		lines++;
		if (prev != NULL)
			ck_assert_msg(strcmp(prev, line) < 0, "%s before %s",
			    prev, line);
		prev = line;
	}
	ck_assert_int_eq(lines, rows);
	free(out);
	out = print_to_string(0, 0, NULL, 0, &rc);
	ck_assert_ptr_nonnull(strstr(out, "\nmax_use = 5\n"));
	ck_assert_ptr_nonnull(strstr(out, "\nmax_idle = 100s\n"));
	ck_assert_ptr_nonnull(strstr(out, "\nmyhostname =\n"));
	free(out);
	/* Defaults: the table's, whatever was set. */
	out = print_to_string(1, 0, NULL, 0, &rc);
	ck_assert_ptr_nonnull(strstr(out, "\nmax_use = 100\n"));
	for (def = param_table; def->name != NULL; def++) {
		expected = *def->default_value != '\0'
		    ? xasprintf("%s = %s\n", def->name, def->default_value)
		    : xasprintf("%s =\n", def->name);
		ck_assert_msg(strstr(out, expected) != NULL, "no %s",
		    expected);
		free(expected);
	}
	free(out);
}
END_TEST

START_TEST(test_print_names)
{
	char max_use[] = "max_use", nosuch[] = "nosuch";
	char max_idle[] = "max_idle";
	char *names[] = { max_use, nosuch, max_idle };
	char *error = NULL, *out;
	int rc;

	ck_assert_int_eq(params_set_override("max_use=5", &error), 0);
	/* In the order given; an unknown name fails but the rest print. */
	out = print_to_string(0, 0, names, 3, &rc);
	ck_assert_int_eq(rc, -1);
	ck_assert_str_eq(out, "max_use = 5\nmax_idle = 100s\n");
	free(out);
	out = print_to_string(0, 1, names + 2, 1, &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(out, "");
	free(out);
	out = print_to_string(0, 1, names, 1, &rc);
	ck_assert_str_eq(out, "max_use = 5\n");
	free(out);
	out = print_to_string(1, 0, names, 1, &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(out, "max_use = 100\n");
	free(out);
	out = print_to_string(1, 0, names + 1, 1, &rc);
	ck_assert_int_eq(rc, -1);
	ck_assert_str_eq(out, "");
	free(out);
}
END_TEST

START_TEST(test_print_program_set)
{
	char name[] = "config_directory";
	char *names[] = { name };
	char *error = NULL, *out, *expected;
	int rc;

	/* -c names the instance: shown by -n like an override. */
	ck_assert_int_eq(params_set("config_directory", "/inst", &error), 0);
	out = print_to_string(0, 1, NULL, 0, &rc);
	ck_assert_str_eq(out, "config_directory = /inst\n");
	free(out);
	out = print_to_string(1, 0, names, 1, &rc);
	expected = xasprintf("config_directory = %s\n",
	    params_find("config_directory")->default_value);
	ck_assert_str_eq(out, expected);
	free(expected);
	free(out);
}
END_TEST

static Suite *
params_file_suite(void)
{
	Suite *s = suite_create("params_file");
	TCase *tc;

	tc = tcase_create("read_file");
	tcase_add_checked_fixture(tc, params_fixture_setup, NULL);
	tcase_add_loop_test(tc, test_read_file, 0, COUNT(file_cases));
	tcase_add_test(tc, test_read_file_expansion_binds);
	tcase_add_test(tc, test_read_file_long_lines);
	tcase_add_test(tc, test_read_file_many_errors);
	tcase_add_test(tc, test_read_file_missing);
	suite_add_tcase(s, tc);

	tc = tcase_create("print");
	tcase_add_checked_fixture(tc, params_fixture_setup, NULL);
	tcase_add_test(tc, test_print_nondefault);
	tcase_add_test(tc, test_print_all);
	tcase_add_test(tc, test_print_names);
	tcase_add_test(tc, test_print_program_set);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return params_fixture_run(params_file_suite());
}

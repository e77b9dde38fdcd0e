/* check_params: parsers, main.conf reading, overrides, printing, the table. */
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
#include "xalloc.h"

/* One directory for every test's files, made once before the forks. */
static char tmpdir[] = "/tmp/check_params.XXXXXX";

static void
setup(void)
{
	params_init();
}

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

/* --- parsers ----------------------------------------------------------- */

struct number_case {
	const char *text;
	int rc;
	long long value;
};

static const struct number_case time_cases[] = {
	{ "0", 0, 0 }, { "30", 0, 30 }, { "30s", 0, 30 }, { "5m", 0, 300 },
	{ "2h", 0, 7200 }, { "1d", 0, 86400 }, { "1w", 0, 604800 },
	{ "007s", 0, 7 }, { "9223372036854775807", 0, LLONG_MAX },
	{ "", -1, 0 }, { "s", -1, 0 }, { "5x", -1, 0 }, { "1.5m", -1, 0 },
	{ "5 m", -1, 0 }, { " 5", -1, 0 }, { "5 ", -1, 0 }, { "-5", -1, 0 },
	{ "+5", -1, 0 }, { "5mm", -1, 0 }, { "5M", -1, 0 }, { "m5", -1, 0 },
	{ "0x10", -1, 0 }, { "9223372036854775808", -1, 0 },
	{ "99999999999999999999s", -1, 0 },
	{ "9223372036854775807m", -1, 0 }, { "15250284452472w", -1, 0 },
};

static const struct number_case size_cases[] = {
	{ "0", 0, 0 }, { "100", 0, 100 }, { "10k", 0, 10240 },
	{ "10K", 0, 10240 }, { "10M", 0, 10485760 }, { "10m", 0, 10485760 },
	{ "1G", 0, 1073741824 }, { "3g", 0, 3221225472LL },
	{ "", -1, 0 }, { "k", -1, 0 }, { "10x", -1, 0 }, { "1.5k", -1, 0 },
	{ "10 k", -1, 0 }, { "-1", -1, 0 }, { "10kb", -1, 0 },
	{ "10T", -1, 0 }, { "10b", -1, 0 }, { "10s", -1, 0 },
	{ "9223372036854775807k", -1, 0 }, { "8589934592G", -1, 0 },
};

static const struct number_case int_cases[] = {
	{ "0", 0, 0 }, { "42", 0, 42 }, { "-7", 0, -7 }, { "-0", 0, 0 },
	{ "9223372036854775807", 0, LLONG_MAX },
	{ "-9223372036854775807", 0, -LLONG_MAX },
	{ "", -1, 0 }, { "-", -1, 0 }, { "+1", -1, 0 }, { "1k", -1, 0 },
	{ "1 ", -1, 0 }, { " 1", -1, 0 }, { "0x10", -1, 0 }, { "--1", -1, 0 },
	{ "1-", -1, 0 }, { "9223372036854775808", -1, 0 },
	{ "12345678901234567890", -1, 0 },
};

static const struct number_case bool_cases[] = {
	{ "yes", 0, 1 }, { "YES", 0, 1 }, { "True", 0, 1 }, { "on", 0, 1 },
	{ "1", 0, 1 }, { "no", 0, 0 }, { "FALSE", 0, 0 }, { "Off", 0, 0 },
	{ "0", 0, 0 }, { "", -1, 0 }, { "y", -1, 0 }, { "2", -1, 0 },
	{ "yess", -1, 0 }, { " yes", -1, 0 }, { "yes ", -1, 0 },
	{ "enabled", -1, 0 },
};

#define COUNT(a) ((int) (sizeof(a) / sizeof((a)[0])))

START_TEST(test_parse_time)
{
	const struct number_case *c = &time_cases[_i];
	long long value = -42;

	ck_assert_msg(params_parse_time(c->text, &value) == c->rc,
	    "time \"%s\": expected rc %d", c->text, c->rc);
	if (c->rc == 0)
		ck_assert_msg(value == c->value, "time \"%s\" = %lld",
		    c->text, value);
}
END_TEST

START_TEST(test_parse_size)
{
	const struct number_case *c = &size_cases[_i];
	long long value = -42;

	ck_assert_msg(params_parse_size(c->text, &value) == c->rc,
	    "size \"%s\": expected rc %d", c->text, c->rc);
	if (c->rc == 0)
		ck_assert_msg(value == c->value, "size \"%s\" = %lld",
		    c->text, value);
}
END_TEST

START_TEST(test_parse_int)
{
	const struct number_case *c = &int_cases[_i];
	long long value = -42;

	ck_assert_msg(params_parse_int(c->text, &value) == c->rc,
	    "int \"%s\": expected rc %d", c->text, c->rc);
	if (c->rc == 0)
		ck_assert_msg(value == c->value, "int \"%s\" = %lld",
		    c->text, value);
}
END_TEST

START_TEST(test_parse_bool)
{
	const struct number_case *c = &bool_cases[_i];
	int value = -42;

	ck_assert_msg(params_parse_bool(c->text, &value) == c->rc,
	    "bool \"%s\": expected rc %d", c->text, c->rc);
	if (c->rc == 0)
		ck_assert_msg(value == c->value, "bool \"%s\" = %d",
		    c->text, value);
}
END_TEST

/* --- params_set and params_set_override -------------------------------- */

struct set_case {
	const char *name;	/* NULL: value is a -o "name=value" */
	const char *value;
	int rc;
	const char *error;	/* a part of the error message */
	const char *check_name;	/* when ok: this parameter's text */
	const char *check_text;
};

static const struct set_case set_cases[] = {
	{ "max_use", "5", 0, NULL, "max_use", "5" },
	{ "max_use", "  5\t", 0, NULL, "max_use", "5" },
	{ "max_use", "0", -1, "max_use: \"0\" is out of range (1..1000000)",
	    NULL, NULL },
	{ "max_use", "1000001", -1, "(1..1000000)", NULL, NULL },
	{ "max_idle", "2d", -1, "max_idle: \"2d\" is out of range (1s..1d)",
	    NULL, NULL },
	{ "max_idle", "1d", 0, NULL, "max_idle", "1d" },
	{ "max_idle", "5x", -1, "max_idle: bad value \"5x\"", NULL, NULL },
	{ "attr_value_limit", "200M", -1, "(1k..100M)", NULL, NULL },
	{ "attr_value_limit", "1023", -1, "(1k..100M)", NULL, NULL },
	{ "max_use", "", -1, "max_use: bad value \"\"", NULL, NULL },
	{ "max_use", "1\n", -1, "control character", NULL, NULL },
	{ "myhostname", "", 0, NULL, "myhostname", "" },
	{ "myhostname", "a\x01", -1, "\"a\\x01\"", NULL, NULL },
	{ "debug_logging", "maybe", -1, "expected yes or no", NULL, NULL },
	{ "debug_logging", "On", 0, NULL, "debug_logging", "On" },
	{ "nosuch", "1", -1, "unknown parameter \"nosuch\"", NULL, NULL },
	{ NULL, "max_use=7", 0, NULL, "max_use", "7" },
	{ NULL, "  max_use  =  7  ", 0, NULL, "max_use", "7" },
	{ NULL, "myhostname=a=b", 0, NULL, "myhostname", "a=b" },
	{ NULL, "myhostname=", 0, NULL, "myhostname", "" },
	{ NULL, "max_use", -1, "expected \"name = value\"", NULL, NULL },
	{ NULL, "=5", -1, "bad parameter name \"\"", NULL, NULL },
	{ NULL, "max use=5", -1, "bad parameter name \"max use\"", NULL,
	    NULL },
	{ NULL, "nosuch=5", -1, "unknown parameter \"nosuch\"", NULL, NULL },
	{ NULL, "max_use=abc", -1, "max_use: bad value \"abc\"", NULL, NULL },
	{ NULL, "", -1, "expected", NULL, NULL },
};

START_TEST(test_set)
{
	const struct set_case *c = &set_cases[_i];
	char *error = NULL;
	int rc;

	if (c->name != NULL)
		rc = params_set(c->name, c->value, &error);
	else
		rc = params_set_override(c->value, &error);
	ck_assert_msg(rc == c->rc, "%s %s: rc %d, error %s",
	    c->name != NULL ? c->name : "-o", c->value, rc,
	    error != NULL ? error : "(none)");
	if (c->rc < 0) {
		ck_assert_ptr_nonnull(error);
		ck_assert_msg(strstr(error, c->error) != NULL,
		    "error \"%s\" lacks \"%s\"", error, c->error);
		free(error);
		/* A failed set changes nothing. */
		ck_assert_int_eq(var_max_use, 100);
		ck_assert_int_eq(params_is_default("max_use"), 1);
		return;
	}
	ck_assert_str_eq(params_value(c->check_name), c->check_text);
	ck_assert_int_eq(params_is_default(c->check_name), 0);
}
END_TEST

START_TEST(test_set_binds_variables)
{
	char *error = NULL;

	ck_assert_int_eq(params_set("max_use", "5", &error), 0);
	ck_assert_int_eq(var_max_use, 5);
	ck_assert_int_eq(params_set("max_idle", "5m", &error), 0);
	ck_assert_int_eq(var_max_idle, 300);
	ck_assert_int_eq(params_set("attr_value_limit", "2M", &error), 0);
	ck_assert_int_eq(var_attr_value_limit, 2097152);
	ck_assert_int_eq(params_set("debug_logging", "TRUE", &error), 0);
	ck_assert_int_eq(var_debug_logging, 1);
	ck_assert_int_eq(params_set("mail_owner", "postman", &error), 0);
	ck_assert_str_eq(var_mail_owner, "postman");
	ck_assert_int_eq(params_set("inet_protocols", "ipv4, ipv6", &error),
	    0);
	ck_assert_str_eq(var_inet_protocols, "ipv4, ipv6");
	ck_assert_int_eq(params_is_default("max_use"), 0);
	params_init();
	ck_assert_int_eq(params_is_default("max_use"), 1);
	/* Later wins; an override to the default's text counts as set. */
	ck_assert_int_eq(params_set_override("max_use=100", &error), 0);
	ck_assert_int_eq(var_max_use, 100);
	ck_assert_int_eq(params_is_default("max_use"), 0);
	/* params_init() starts over. */
	params_init();
	ck_assert_int_eq(params_is_default("max_use"), 1);
	ck_assert_str_eq(var_mail_owner, "ispmail");
	ck_assert_int_eq(var_debug_logging, 0);
	ck_assert_ptr_null(params_value("nosuch"));
	ck_assert_int_eq(params_is_default("nosuch"), -1);
	ck_assert_ptr_null(params_find("nosuch"));
	ck_assert_ptr_null(params_find("max_us"));
	ck_assert_ptr_null(params_find("max_use_"));
	ck_assert_str_eq(params_find("max_use")->name, "max_use");
}
END_TEST

/* --- $name expansion --------------------------------------------------- */

struct expand_case {
	const char *value;	/* for queue_directory */
	int rc;
	const char *expanded;	/* var_queue_directory, or an error part */
};

static const struct expand_case expand_cases[] = {
	{ "$config_directory/queue", 0, "/cfg/queue" },
	{ "${config_directory}queue", 0, "/cfgqueue" },
	{ "/a/$mail_owner/$max_use", 0, "/a/ispmail/100" },
	{ "/cost/$$5", 0, "/cost/$5" },
	{ "$queue_directory/sub", 0, "/var/spool/ispmail/sub" },
	{ "plain", 0, "plain" },
	{ "$nosuch/queue", -1, "unknown parameter \"$nosuch\"" },
	{ "${nosuch}", -1, "unknown parameter \"$nosuch\"" },
	{ "${config_directory", -1, "bad '$'" },
	{ "${config-directory}", -1, "bad '$'" },
	{ "${}", -1, "bad '$'" },
	{ "a$", -1, "bad '$'" },
	{ "a$/b", -1, "bad '$'" },
};

START_TEST(test_expand)
{
	const struct expand_case *c = &expand_cases[_i];
	char *error = NULL;
	int rc;

	ck_assert_int_eq(params_set("queue_directory", "/var/spool/ispmail",
	    &error), 0);
	ck_assert_int_eq(params_set("config_directory", "/cfg", &error), 0);
	rc = params_set("queue_directory", c->value, &error);
	ck_assert_msg(rc == c->rc, "%s: rc %d", c->value, rc);
	if (rc < 0) {
		ck_assert_msg(strstr(error, c->expanded) != NULL,
		    "error \"%s\" lacks \"%s\"", error, c->expanded);
		free(error);
		ck_assert_str_eq(var_queue_directory, "/var/spool/ispmail");
		return;
	}
	ck_assert_str_eq(var_queue_directory, c->expanded);
	/* The text stays as written, for params_print(). */
	ck_assert_str_eq(params_value("queue_directory"), c->value);
}
END_TEST

START_TEST(test_expand_once)
{
	char *error = NULL;

	ck_assert_int_eq(params_set("config_directory", "/one", &error), 0);
	ck_assert_int_eq(params_set("queue_directory", "$config_directory/q",
	    &error), 0);
	ck_assert_int_eq(params_set("config_directory", "/two", &error), 0);
	/* Expanded when set, not followed later. */
	ck_assert_str_eq(var_queue_directory, "/one/q");
	/* A default that uses $name follows it while the default holds. */
	ck_assert_str_eq(params_find("route_file")->default_value,
	    "$config_directory/routes");
	ck_assert_str_eq(var_route_file, "/two/routes");
	ck_assert_int_eq(params_set("route_file", "$config_directory/r",
	    &error), 0);
	ck_assert_int_eq(params_set("config_directory", "/three", &error), 0);
	ck_assert_str_eq(var_route_file, "/two/r");
	ck_assert_str_eq(params_value("route_file"), "$config_directory/r");
	/* A reference to itself sees the value before this assignment. */
	ck_assert_int_eq(params_set("inet_protocols", "$inet_protocols ipv6",
	    &error), 0);
	ck_assert_str_eq(var_inet_protocols, "all ipv6");
}
END_TEST

START_TEST(test_expand_too_long)
{
	char *error = NULL;
	char *big = xmalloc(8001);
	char *refs;

	memset(big, 'x', 8000);
	big[8000] = '\0';
	ck_assert_int_eq(params_set("myhostname", big, &error), 0);
	/* 9 x 8000 bytes passes the expansion cap. */
	refs = xasprintf("%s%s%s%s%s%s%s%s%s", "$myhostname", "$myhostname",
	    "$myhostname", "$myhostname", "$myhostname", "$myhostname",
	    "$myhostname", "$myhostname", "$myhostname");
	ck_assert_int_eq(params_set("chroot_directory", refs, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "after expansion"));
	free(error);
	ck_assert_str_eq(var_chroot_directory, "");
	free(refs);
	free(big);
}
END_TEST

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

/* --- params_list_split ------------------------------------------------- */

struct list_case {
	const char *value;
	const char *items[5];
};

static const struct list_case list_cases[] = {
	{ "all", { "all" } },
	{ "a,b c", { "a", "b", "c" } },
	{ ", ,a,,  b ,", { "a", "b" } },
	{ "\ta\nb\r c", { "a", "b", "c" } },
	{ "ldap://h1/, ldap://h2/", { "ldap://h1/", "ldap://h2/" } },
	{ "", { NULL } },
	{ "  ,, ,", { NULL } },
	{ NULL, { NULL } },
};

START_TEST(test_list_split)
{
	const struct list_case *c = &list_cases[_i];
	char **list;
	int count = -1, i;

	list = params_list_split(c->value, &count);
	for (i = 0; c->items[i] != NULL; i++) {
		ck_assert_ptr_nonnull(list[i]);
		ck_assert_str_eq(list[i], c->items[i]);
	}
	ck_assert_int_eq(count, i);
	ck_assert_ptr_null(list[i]);
	params_list_free(list);
	params_list_free(NULL);
}
END_TEST

/* --- the table and its documentation ----------------------------------- */

START_TEST(test_table)
{
	const struct param_def *def, *other;
	size_t i;

	for (def = param_table; def->name != NULL; def++) {
		ck_assert_msg(*def->name != '\0', "empty name");
		for (i = 0; def->name[i] != '\0'; i++)
			ck_assert_msg((def->name[i] >= 'a'
			    && def->name[i] <= 'z') || def->name[i] == '_'
			    || (def->name[i] >= '0' && def->name[i] <= '9'),
			    "%s: bad name", def->name);
		for (other = param_table; other != def; other++)
			ck_assert_msg(strcmp(other->name, def->name) != 0,
			    "%s twice", def->name);
		ck_assert_msg(def->var != NULL, "%s: no variable", def->name);
		ck_assert_msg(def->default_value != NULL, "%s: no default",
		    def->name);
		ck_assert_msg(def->doc != NULL && strlen(def->doc) > 10,
		    "%s: no doc", def->name);
		if (def->type == PARAM_INT || def->type == PARAM_TIME
		    || def->type == PARAM_SIZE)
			ck_assert_msg(def->min <= def->max, "%s: bounds",
			    def->name);
		/* params_init() (setup) bound every default. */
		ck_assert_ptr_eq(params_find(def->name), def);
		ck_assert_str_eq(params_value(def->name), def->default_value);
		ck_assert_int_eq(params_is_default(def->name), 1);
		if (def->type == PARAM_STR || def->type == PARAM_LIST)
			ck_assert_ptr_nonnull(*(char **) def->var);
	}
	ck_assert_int_eq(var_max_idle, 100);
	ck_assert_int_eq(var_attr_value_limit, 102400);
	ck_assert_int_eq(var_debug_logging, 0);
	ck_assert_str_eq(var_inet_protocols, "all");
}
END_TEST

/* The man page's text; fails when top_srcdir is not set. */
static char *
read_man_page(void)
{
	const char *top = getenv("top_srcdir");
	char *path, *text;
	struct stat st;
	FILE *fp;

	ck_assert_msg(top != NULL && *top != '\0',
	    "top_srcdir is not set (make check sets it)");
	path = xasprintf("%s/man/main.conf.5", top);
	fp = fopen(path, "r");
	ck_assert_msg(fp != NULL, "%s: %s", path, strerror(errno));
	ck_assert_int_eq(fstat(fileno(fp), &st), 0);
	text = xmalloc((size_t) st.st_size + 1);
	ck_assert_uint_eq(fread(text, 1, (size_t) st.st_size, fp),
	    (size_t) st.st_size);
	text[st.st_size] = '\0';
	fclose(fp);
	free(path);
	return text;
}

static const char *const type_names[] = {
	[PARAM_STR] = "string", [PARAM_INT] = "integer",
	[PARAM_BOOL] = "boolean", [PARAM_TIME] = "time",
	[PARAM_SIZE] = "size", [PARAM_LIST] = "list",
};

static int
parse_typed(enum param_type type, const char *text, long long *value_r)
{
	if (type == PARAM_TIME)
		return params_parse_time(text, value_r);
	if (type == PARAM_SIZE)
		return params_parse_size(text, value_r);
	return params_parse_int(text, value_r);
}

/*
 * One entry: ".It Cm NAME Pq TYPE[ MIN to MAX], default VALUE" where
 * VALUE is "Li text", "empty", or "Pa path" (a build-dependent path says
 * so in its text).  Fails the test on any drift from the row.
 */
static void
check_man_entry(const struct param_def *def, const char *entry,
	const char *body)
{
	char *line = xstrndup(entry, strcspn(entry, "\n"));
	char *work = xstrdup(line);
	char *p = work + strlen(".It Cm ") + strlen(def->name) + 1;
	char *comma, *low, *high, *value;
	size_t type_len;
	long long min, max;

	ck_assert_msg(strncmp(p, "Pq ", 3) == 0, "%s: no Pq", line);
	p += 3;
	type_len = strcspn(p, " ,");
	ck_assert_msg(strlen(type_names[def->type]) == type_len
	    && strncmp(p, type_names[def->type], type_len) == 0,
	    "%s: the type is %s", line, type_names[def->type]);
	p += type_len;
	comma = strchr(p, ',');
	ck_assert_msg(comma != NULL, "%s: no default", line);
	*comma = '\0';
	if (def->type == PARAM_INT || def->type == PARAM_TIME
	    || def->type == PARAM_SIZE) {
		low = p + 1;
		high = strstr(low, " to ");
		ck_assert_msg(*p == ' ' && high != NULL, "%s: no bounds",
		    line);
		*high = '\0';
		high += 4;
		ck_assert_msg(parse_typed(def->type, low, &min) == 0
		    && parse_typed(def->type, high, &max) == 0
		    && min == def->min && max == def->max,
		    "%s: the bounds are %lld to %lld", line, def->min,
		    def->max);
	} else {
		ck_assert_msg(*p == '\0', "%s: junk after the type", line);
	}
	value = comma + 1;
	ck_assert_msg(strncmp(value, " default ", 9) == 0, "%s: no default",
	    line);
	value += 9;
	if (strcmp(value, "empty") == 0)
		ck_assert_msg(*def->default_value == '\0',
		    "%s: the default is %s", line, def->default_value);
	else if (strncmp(value, "Pa ", 3) == 0
	    && strcmp(value + 3, def->default_value) != 0)
		ck_assert_msg(strstr(body, "fixed when ispmail is built")
		    != NULL, "%s: the default is %s", line,
		    def->default_value);
	else if (strncmp(value, "Pa ", 3) != 0)
		ck_assert_msg(strncmp(value, "Li ", 3) == 0
		    && strcmp(value + 3, def->default_value) == 0,
		    "%s: the default is %s", line, def->default_value);
	free(work);
	free(line);
}

START_TEST(test_man_page_documents_table)
{
	const struct param_def *def;
	char *text = read_man_page();
	char *entry, *found, *section, *end, *line, *name, *save, *body;

	/* Every row has its entry "\n.It Cm name" in main.conf(5)... */
	for (def = param_table; def->name != NULL; def++) {
		entry = xasprintf("\n.It Cm %s ", def->name);
		found = strstr(text, entry);
		ck_assert_msg(found != NULL,
		    "man/main.conf.5 does not document %s", def->name);
		found++;
		end = strstr(found, "\n.It ");
		if (end == NULL)
			end = strstr(found, "\n.El");
		ck_assert_ptr_nonnull(end);
		body = xstrndup(found, (size_t) (end - found));
		check_man_entry(def, found, body);
		free(body);
		free(entry);
	}
	/* ... and every entry of its PARAMETERS section is a row. */
	section = strstr(text, "\n.Sh PARAMETERS\n");
	ck_assert_ptr_nonnull(section);
	section++;
	end = strstr(section + 1, "\n.Sh ");
	if (end != NULL)
		*end = '\0';
	for (line = strtok_r(section, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, ".It Cm ", 7) != 0)
			continue;
		name = xstrndup(line + 7, strcspn(line + 7, " "));
		ck_assert_msg(params_find(name) != NULL,
		    "man/main.conf.5 documents %s, which is not in the table",
		    name);
		free(name);
	}
	free(text);
}
END_TEST

static Suite *
params_suite(void)
{
	Suite *s = suite_create("params");
	TCase *tc;

	tc = tcase_create("parse");
	tcase_add_loop_test(tc, test_parse_time, 0, COUNT(time_cases));
	tcase_add_loop_test(tc, test_parse_size, 0, COUNT(size_cases));
	tcase_add_loop_test(tc, test_parse_int, 0, COUNT(int_cases));
	tcase_add_loop_test(tc, test_parse_bool, 0, COUNT(bool_cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("set");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_loop_test(tc, test_set, 0, COUNT(set_cases));
	tcase_add_test(tc, test_set_binds_variables);
	suite_add_tcase(s, tc);

	tc = tcase_create("expand");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_loop_test(tc, test_expand, 0, COUNT(expand_cases));
	tcase_add_test(tc, test_expand_once);
	tcase_add_test(tc, test_expand_too_long);
	suite_add_tcase(s, tc);

	tc = tcase_create("read_file");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_loop_test(tc, test_read_file, 0, COUNT(file_cases));
	tcase_add_test(tc, test_read_file_expansion_binds);
	tcase_add_test(tc, test_read_file_long_lines);
	tcase_add_test(tc, test_read_file_many_errors);
	tcase_add_test(tc, test_read_file_missing);
	suite_add_tcase(s, tc);

	tc = tcase_create("print");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_print_nondefault);
	tcase_add_test(tc, test_print_all);
	tcase_add_test(tc, test_print_names);
	tcase_add_test(tc, test_print_program_set);
	suite_add_tcase(s, tc);

	tc = tcase_create("list");
	tcase_add_loop_test(tc, test_list_split, 0, COUNT(list_cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("table");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_table);
	tcase_add_test(tc, test_man_page_documents_table);
	suite_add_tcase(s, tc);
	return s;
}

static int
remove_entry(const char *path, const struct stat *st, int flag,
	struct FTW *ftw)
{
	(void) st;
	(void) flag;
	(void) ftw;
	return remove(path);
}

int
main(void)
{
	SRunner *sr;
	int failed;

	if (mkdtemp(tmpdir) == NULL) {
		perror("check_params: mkdtemp");
		return EXIT_FAILURE;
	}
	sr = srunner_create(params_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	(void) nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

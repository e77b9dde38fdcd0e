/* check_params: parsers, params_set, $name expansion, lists, the table. */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "mail_params.h"
#include "params.h"
#include "params_fixture.h"
#include "xalloc.h"

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

/* One man page's text. */
static char *
read_text_file(const char *path)
{
	char *text;
	struct stat st;
	FILE *fp;

	fp = fopen(path, "r");
	ck_assert_msg(fp != NULL, "%s: %s", path, strerror(errno));
	ck_assert_int_eq(fstat(fileno(fp), &st), 0);
	text = xmalloc((size_t) st.st_size + 1);
	ck_assert_uint_eq(fread(text, 1, (size_t) st.st_size, fp),
	    (size_t) st.st_size);
	text[st.st_size] = '\0';
	fclose(fp);
	return text;
}

/* main.conf(5) and its subset pages main.conf.TOPIC(5). */
static int
is_main_conf_page(const char *name)
{
	size_t len = strlen(name);

	if (strcmp(name, "main.conf.5") == 0)
		return 1;
	return len > strlen("main.conf..5")
	    && strncmp(name, "main.conf.", 10) == 0
	    && strcmp(name + len - 2, ".5") == 0;
}

/*
 * The parameter pages' texts, one after the other, each starting with a
 * newline; fails when top_srcdir is not set or main.conf.5 is missing.
 */
static char *
read_man_pages(void)
{
	const char *top = getenv("top_srcdir");
	struct buf *all = buf_new(1024 * 1024);
	struct dirent *de;
	char *dir, *path, *text, *result;
	int pages = 0, main_page = 0;
	DIR *dp;

	ck_assert_msg(top != NULL && *top != '\0',
	    "top_srcdir is not set (make check sets it)");
	dir = xasprintf("%s/man", top);
	dp = opendir(dir);
	ck_assert_msg(dp != NULL, "%s: %s", dir, strerror(errno));
	while ((de = readdir(dp)) != NULL) {
		if (!is_main_conf_page(de->d_name))
			continue;
		main_page |= strcmp(de->d_name, "main.conf.5") == 0;
		path = xasprintf("%s/%s", dir, de->d_name);
		text = read_text_file(path);
		ck_assert_int_eq(buf_append_char(all, '\n'), 0);
		ck_assert_msg(buf_append_str(all, text) == 0,
		    "the main.conf pages are over 1 MB");
		free(text);
		free(path);
		pages++;
	}
	closedir(dp);
	ck_assert_msg(main_page, "%s/main.conf.5 is missing", dir);
	ck_assert_int_ge(pages, 1);
	free(dir);
	result = xstrdup(buf_cstr(all));
	buf_free(&all);
	return result;
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
	char *text = read_man_pages();
	char *entry, *found, *section, *end, *line, *name, *save, *body;
	const char *next;
	int sections = 0;

	/*
	 * Every row has its entry "\n.It Cm name" in main.conf(5) or one of
	 * its main.conf.TOPIC(5) pages, and only one...
	 */
	for (def = param_table; def->name != NULL; def++) {
		entry = xasprintf("\n.It Cm %s ", def->name);
		found = strstr(text, entry);
		ck_assert_msg(found != NULL,
		    "man/main.conf*.5 do not document %s", def->name);
		ck_assert_msg(strstr(found + 1, entry) == NULL,
		    "man/main.conf*.5 document %s twice", def->name);
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
	/* ... and every entry of each page's PARAMETERS section is a row. */
	for (next = strstr(text, "\n.Sh PARAMETERS\n"); next != NULL;
	    next = strstr(next + 1, "\n.Sh PARAMETERS\n")) {
		end = strstr(next + 1, "\n.Sh ");
		section = end != NULL ? xstrndup(next + 1,
		    (size_t) (end - next - 1)) : xstrdup(next + 1);
		for (line = strtok_r(section, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save)) {
			if (strncmp(line, ".It Cm ", 7) != 0)
				continue;
			name = xstrndup(line + 7, strcspn(line + 7, " "));
			ck_assert_msg(params_find(name) != NULL,
			    "man/main.conf*.5 document %s, which is not in "
			    "the table", name);
			free(name);
		}
		free(section);
		sections++;
	}
	ck_assert_int_ge(sections, 1);
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
	tcase_add_checked_fixture(tc, params_fixture_setup, NULL);
	tcase_add_loop_test(tc, test_set, 0, COUNT(set_cases));
	tcase_add_test(tc, test_set_binds_variables);
	suite_add_tcase(s, tc);

	tc = tcase_create("expand");
	tcase_add_checked_fixture(tc, params_fixture_setup, NULL);
	tcase_add_loop_test(tc, test_expand, 0, COUNT(expand_cases));
	tcase_add_test(tc, test_expand_once);
	tcase_add_test(tc, test_expand_too_long);
	suite_add_tcase(s, tc);

	tc = tcase_create("list");
	tcase_add_loop_test(tc, test_list_split, 0, COUNT(list_cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("table");
	tcase_add_checked_fixture(tc, params_fixture_setup, NULL);
	tcase_add_test(tc, test_table);
	tcase_add_test(tc, test_man_page_documents_table);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return params_fixture_run(params_suite());
}

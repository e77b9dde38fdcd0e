/* params: the main.conf reader, the value parsers and effective values. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "params.h"
#include "xalloc.h"

/*
 * An expanded value may be longer than the line that held it ($a$a$a...),
 * but not without bound.
 */
#define PARAMS_VALUE_MAX (8 * PARAMS_LINE_MAX)
/* Bad lines one read reports in full; the rest are only counted. */
#define PARAMS_ERRORS_MAX 50
/* How much of a bad value an error message shows. */
#define PARAMS_QUOTE_MAX 64

/* Per table row: the text as written, NULL while the default holds. */
struct param_state {
	char *text;
};

static struct param_state *param_states;
static size_t param_count;

struct param_unit {
	char letter;
	long long factor;
};

/* No unit means a factor of 1 (seconds, bytes). */
static const struct param_unit time_units[] = {
	{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 },
	{ 'w', 604800 }, { '\0', 0 },
};
/*
 * Both cases for sizes: "10m" can only mean mebibytes here.  The first
 * letter of a factor is the one error messages use.
 */
static const struct param_unit size_units[] = {
	{ 'k', 1024 }, { 'M', 1048576 }, { 'G', 1073741824 },
	{ 'K', 1024 }, { 'm', 1048576 }, { 'g', 1073741824 },
	{ '\0', 0 },
};

/* White space around names and values (\r: files edited on Windows). */
static int
params_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static int
params_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int
params_is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
	    || params_is_digit(c) || c == '_';
}

/* A copy of len bytes at s without the white space around them. */
static char *
params_trimmed(const char *s, size_t len)
{
	while (len > 0 && params_is_space(*s)) {
		s++;
		len--;
	}
	while (len > 0 && params_is_space(s[len - 1]))
		len--;
	return xstrndup(s, len);
}

/*
 * text in double quotes for an error message: other people's bytes are
 * shown as \xHH and long values are cut, so a message stays one short
 * line.
 */
static char *
params_quoted(const char *text)
{
	struct buf *b = buf_new(PARAMS_QUOTE_MAX * 4 + 8);
	char *quoted;
	size_t i;

	(void) buf_append_char(b, '"');
	for (i = 0; text[i] != '\0' && i < PARAMS_QUOTE_MAX; i++) {
		unsigned char c = (unsigned char) text[i];

		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
			(void) buf_printf(b, "\\x%02x", c);
		else
			(void) buf_append_char(b, (char) c);
	}
	(void) buf_append_str(b, text[i] != '\0' ? "\"..." : "\"");
	quoted = buf_strdup(b);
	buf_free(&b);
	return quoted;
}

/* Decimal digits only (no sign, no space); -1 on none or overflow. */
static int
params_parse_digits(const char *text, long long *value_r, const char **end_r)
{
	long long value = 0;
	const char *p;

	if (!params_is_digit(*text))
		return -1;
	for (p = text; params_is_digit(*p); p++) {
		int digit = *p - '0';

		if (value > (LLONG_MAX - digit) / 10)
			return -1;
		value = value * 10 + digit;
	}
	*value_r = value;
	*end_r = p;
	return 0;
}

/* A number with at most one unit letter right after it. */
static int
params_parse_unit(const char *text, const struct param_unit *units,
	long long *value_r)
{
	const struct param_unit *unit;
	const char *end;
	long long value;

	if (params_parse_digits(text, &value, &end) < 0)
		return -1;
	if (*end == '\0') {
		*value_r = value;
		return 0;
	}
	if (end[1] != '\0')
		return -1;
	for (unit = units; unit->letter != '\0'; unit++) {
		if (unit->letter != *end)
			continue;
		if (value > LLONG_MAX / unit->factor)
			return -1;
		*value_r = value * unit->factor;
		return 0;
	}
	return -1;
}

int
params_parse_time(const char *text, long long *seconds_r)
{
	return params_parse_unit(text, time_units, seconds_r);
}

int
params_parse_size(const char *text, long long *bytes_r)
{
	return params_parse_unit(text, size_units, bytes_r);
}

int
params_parse_bool(const char *text, int *value_r)
{
	static const char *const yes[] = { "yes", "true", "on", "1", NULL };
	static const char *const no[] = { "no", "false", "off", "0", NULL };
	int i;

	for (i = 0; yes[i] != NULL; i++) {
		if (strcasecmp(text, yes[i]) == 0) {
			*value_r = 1;
			return 0;
		}
		if (strcasecmp(text, no[i]) == 0) {
			*value_r = 0;
			return 0;
		}
	}
	return -1;
}

int
params_parse_int(const char *text, long long *value_r)
{
	const char *end;
	long long value;
	int negative = 0;

	if (*text == '-') {
		negative = 1;
		text++;
	}
	if (params_parse_digits(text, &value, &end) < 0 || *end != '\0')
		return -1;
	*value_r = negative ? -value : value;
	return 0;
}

/* A bound as the operator would write it: "1d" rather than "86400". */
static char *
params_format_bound(enum param_type type, long long value)
{
	const struct param_unit *units, *unit, *best = NULL;

	if (type == PARAM_TIME)
		units = time_units;
	else if (type == PARAM_SIZE)
		units = size_units;
	else
		return xasprintf("%lld", value);
	if (value == 0)
		return xasprintf("0");
	/* The largest unit that divides the value exactly. */
	for (unit = units; unit->letter != '\0'; unit++)
		if (value % unit->factor == 0
		    && (best == NULL || unit->factor > best->factor))
			best = unit;
	if (best == NULL)
		return xasprintf("%lld", value);
	return xasprintf("%lld%c", value / best->factor, best->letter);
}

static const char *
params_type_help(enum param_type type)
{
	switch (type) {
	case PARAM_INT:
		return "expected a whole number";
	case PARAM_BOOL:
		return "expected yes or no";
	case PARAM_TIME:
		return "expected a number with an optional unit s, m, h, d "
		    "or w";
	case PARAM_SIZE:
		return "expected a number of bytes with an optional unit k, "
		    "M or G";
	case PARAM_STR:
	case PARAM_LIST:
		break;
	}
	return "bad value";
}

static const struct param_def *
params_find_len(const char *name, size_t len)
{
	const struct param_def *def;

	for (def = param_table; def->name != NULL; def++)
		if (strncmp(def->name, name, len) == 0
		    && def->name[len] == '\0')
			return def;
	return NULL;
}

const struct param_def *
params_find(const char *name)
{
	return params_find_len(name, strlen(name));
}

static struct param_state *
params_state(const struct param_def *def)
{
	return &param_states[def - param_table];
}

/*
 * The value $name stands for: the expanded string for STR and LIST, the
 * text for the others.  NULL only while params_init() has not reached
 * the row yet (a default that refers to a later row: a table bug).
 */
static const char *
params_current(const struct param_def *def)
{
	const char *text;

	if (def->type == PARAM_STR || def->type == PARAM_LIST)
		return *(char **) def->var;
	text = params_state(def)->text;
	return text != NULL ? text : def->default_value;
}

/*
 * Replace $name, ${name} and $$ in value.  Expansion happens once, when
 * the value is set, so a main.conf line sees the lines above it; no
 * recursion, so no loops.
 */
static int
params_expand(const struct param_def *target, const char *value,
	char **expanded_r, char **error_r)
{
	struct buf *out = buf_new(PARAMS_VALUE_MAX);
	const struct param_def *def;
	const char *p = value, *name, *current;
	size_t name_len;
	int braces;

	while (*p != '\0') {
		const char *dollar = strchr(p, '$');
		size_t plain = dollar != NULL ? (size_t) (dollar - p)
		    : strlen(p);

		if (buf_append(out, p, plain) < 0)
			goto too_long;
		p += plain;
		if (*p == '\0')
			break;
		p++;
		if (*p == '$') {
			if (buf_append_char(out, '$') < 0)
				goto too_long;
			p++;
			continue;
		}
		braces = *p == '{';
		name = braces ? p + 1 : p;
		for (name_len = 0; params_is_name_char(name[name_len]);
		    name_len++)
			;
		if (name_len == 0 || (braces && name[name_len] != '}')) {
			*error_r = xasprintf("%s: bad '$' in value: write "
			    "$name or ${name} for another parameter's value, "
			    "$$ for a '$'", target->name);
			buf_free(&out);
			return -1;
		}
		p = name + name_len + (braces ? 1 : 0);
		def = params_find_len(name, name_len);
		if (def == NULL) {
			*error_r = xasprintf("%s: unknown parameter \"$%.*s\" "
			    "in value", target->name, (int) name_len, name);
			buf_free(&out);
			return -1;
		}
		current = params_current(def);
		if (current == NULL) {
			*error_r = xasprintf("%s: \"$%s\" is not set yet",
			    target->name, def->name);
			buf_free(&out);
			return -1;
		}
		if (buf_append_str(out, current) < 0)
			goto too_long;
	}
	*expanded_r = buf_strdup(out);
	buf_free(&out);
	return 0;

too_long:
	*error_r = xasprintf("%s: value longer than %d bytes after expansion",
	    target->name, PARAMS_VALUE_MAX);
	buf_free(&out);
	return -1;
}

/* Check the number against the row's bounds. */
static int
params_check_bounds(const struct param_def *def, const char *value,
	long long number, char **error_r)
{
	char *min, *max, *quoted;

	if (number >= def->min && number <= def->max)
		return 0;
	min = params_format_bound(def->type, def->min);
	max = params_format_bound(def->type, def->max);
	quoted = params_quoted(value);
	*error_r = xasprintf("%s: %s is out of range (%s..%s)", def->name,
	    quoted, min, max);
	free(min);
	free(max);
	free(quoted);
	return -1;
}

/*
 * Parse value for def and, when it is good, bind it and keep its text
 * (NULL text: the default).  Nothing changes on error.
 */
static int
params_apply(const struct param_def *def, const char *value,
	int is_default, char **error_r)
{
	struct param_state *state = params_state(def);
	char *expanded = NULL, *quoted;
	long long number = 0;
	int flag = 0, rc = 0;
	const char *p;

	/* One line of text in, one line out: params_print() relies on it. */
	for (p = value; *p != '\0'; p++) {
		if ((unsigned char) *p < 0x20 && *p != '\t') {
			quoted = params_quoted(value);
			*error_r = xasprintf("%s: control character in value "
			    "%s", def->name, quoted);
			free(quoted);
			return -1;
		}
	}
	switch (def->type) {
	case PARAM_STR:
	case PARAM_LIST:
		rc = params_expand(def, value, &expanded, error_r);
		break;
	case PARAM_INT:
		rc = params_parse_int(value, &number);
		break;
	case PARAM_TIME:
		rc = params_parse_time(value, &number);
		break;
	case PARAM_SIZE:
		rc = params_parse_size(value, &number);
		break;
	case PARAM_BOOL:
		rc = params_parse_bool(value, &flag);
		break;
	}
	if (rc < 0) {
		if (def->type != PARAM_STR && def->type != PARAM_LIST) {
			quoted = params_quoted(value);
			*error_r = xasprintf("%s: bad value %s: %s", def->name,
			    quoted, params_type_help(def->type));
			free(quoted);
		}
		return -1;
	}
	switch (def->type) {
	case PARAM_STR:
	case PARAM_LIST:
		free(*(char **) def->var);
		*(char **) def->var = expanded;
		break;
	case PARAM_INT:
	case PARAM_TIME:
	case PARAM_SIZE:
		if (params_check_bounds(def, value, number, error_r) < 0)
			return -1;
		*(long long *) def->var = number;
		break;
	case PARAM_BOOL:
		*(int *) def->var = flag;
		break;
	}
	free(state->text);
	state->text = is_default ? NULL : xstrdup(value);
	return 0;
}

/*
 * A default that names another parameter ("$config_directory/routes")
 * follows it while the default holds, so -c moves route_file too.  An
 * operator's value is expanded once, when it is set.  Rows refer only to
 * rows above them, so one pass in table order is enough.
 */
static void
params_refresh_defaults(const struct param_def *changed)
{
	const struct param_def *def;
	char *error = NULL;

	for (def = param_table; def->name != NULL; def++) {
		if (def == changed || params_state(def)->text != NULL
		    || (def->type != PARAM_STR && def->type != PARAM_LIST)
		    || strchr(def->default_value, '$') == NULL)
			continue;
		/* Only a value past PARAMS_VALUE_MAX can fail here. */
		if (params_apply(def, def->default_value, 1, &error) < 0) {
			log_warn("%s", error);
			xfree(error);
		}
	}
}

void
params_init(void)
{
	const struct param_def *def;
	char *error = NULL;
	size_t i;

	for (i = 0; i < param_count; i++)
		free(param_states[i].text);
	free(param_states);
	param_count = 0;
	for (def = param_table; def->name != NULL; def++)
		param_count++;
	param_states = xcalloc(param_count + 1, sizeof(*param_states));
	/* Rows already bound by an earlier init start over. */
	for (def = param_table; def->name != NULL; def++)
		if (def->type == PARAM_STR || def->type == PARAM_LIST)
			xfree(*(char **) def->var);
	for (def = param_table; def->name != NULL; def++)
		if (params_apply(def, def->default_value, 1, &error) < 0)
			log_panic("parameter table: bad default: %s", error);
}

/* Every entry point works before params_init() too (all defaults). */
static void
params_need_init(void)
{
	if (param_states == NULL)
		params_init();
}

int
params_set(const char *name, const char *value, char **error_r)
{
	const struct param_def *def;
	char *trimmed, *quoted;
	int rc;

	params_need_init();
	def = params_find(name);
	if (def == NULL) {
		quoted = params_quoted(name);
		*error_r = xasprintf("unknown parameter %s", quoted);
		free(quoted);
		return -1;
	}
	trimmed = params_trimmed(value, strlen(value));
	rc = params_apply(def, trimmed, 0, error_r);
	free(trimmed);
	if (rc == 0)
		params_refresh_defaults(def);
	return rc;
}

/* "name = value" split and applied; errors name the parameter. */
static int
params_assign(const char *text, size_t len, char **error_r)
{
	const char *equals = memchr(text, '=', len);
	char *name, *value;
	size_t i;
	int rc;

	if (equals == NULL) {
		*error_r = xasprintf("expected \"name = value\"");
		return -1;
	}
	name = params_trimmed(text, (size_t) (equals - text));
	for (i = 0; params_is_name_char(name[i]); i++)
		;
	if (i == 0 || name[i] != '\0') {
		char *quoted = params_quoted(name);

		*error_r = xasprintf("bad parameter name %s before '='",
		    quoted);
		free(quoted);
		free(name);
		return -1;
	}
	value = params_trimmed(equals + 1, len - (size_t) (equals + 1 - text));
	rc = params_set(name, value, error_r);
	free(name);
	free(value);
	return rc;
}

int
params_set_override(const char *name_equals_value, char **error_r)
{
	return params_assign(name_equals_value, strlen(name_equals_value),
	    error_r);
}

/* One read of main.conf: the logical line being joined and the errors. */
struct params_reader {
	const char *path;
	struct buf *errors;
	int error_count;
	struct buf *logical;
	int logical_line;	/* its first physical line; 0: none open */
	int logical_bad;	/* already reported: drop it */
};

static void __attribute__((format(printf, 3, 4)))
params_report(struct params_reader *r, int line, const char *fmt, ...)
{
	va_list ap;

	if (++r->error_count > PARAMS_ERRORS_MAX)
		return;
	/* The errors buf is far larger than 50 short messages. */
	if (buf_len(r->errors) > 0)
		(void) buf_append_str(r->errors, "; ");
	if (line > 0)
		(void) buf_printf(r->errors, "%s:%d: ", r->path, line);
	else
		(void) buf_printf(r->errors, "%s: ", r->path);
	va_start(ap, fmt);
	(void) buf_vprintf(r->errors, fmt, ap);
	va_end(ap);
}

/* Apply the logical line that is open, if any. */
static void
params_flush(struct params_reader *r)
{
	char *error = NULL;

	if (r->logical_line != 0 && !r->logical_bad
	    && params_assign(buf_cstr(r->logical), buf_len(r->logical),
	    &error) < 0) {
		params_report(r, r->logical_line, "%s", error);
		free(error);
	}
	buf_reset(r->logical);
	r->logical_line = 0;
	r->logical_bad = 0;
}

/*
 * One physical line.  Comments and blank lines do not end a logical line
 * (a continuation may follow them, as in Postfix's main.cf).  A bad
 * physical line makes its whole logical line bad, reported once.
 */
static void
params_physical(struct params_reader *r, int line, struct buf *phys,
	int too_long, int has_nul)
{
	const char *text = buf_cstr(phys);
	size_t len = buf_len(phys);
	int continuation = len > 0 && (text[0] == ' ' || text[0] == '\t');

	if (too_long || has_nul) {
		if (too_long)
			params_report(r, line, "line too long (more than %d "
			    "bytes)", PARAMS_LINE_MAX);
		else
			params_report(r, line, "NUL byte in line");
		if (!continuation || r->logical_line == 0) {
			params_flush(r);
			r->logical_line = line;
		}
		r->logical_bad = 1;
		return;
	}
	while (len > 0 && params_is_space(text[len - 1]))
		len--;
	while (len > 0 && params_is_space(*text)) {
		text++;
		len--;
	}
	if (len == 0 || *text == '#')
		return;
	if (!continuation) {
		params_flush(r);
		r->logical_line = line;
		/* Cannot fail: phys has the same cap. */
		(void) buf_set(r->logical, text, len);
		return;
	}
	if (r->logical_line == 0) {
		params_report(r, line, "continuation line (starting with "
		    "white space) without a parameter before it");
		r->logical_line = line;
		r->logical_bad = 1;
		return;
	}
	if (r->logical_bad)
		return;
	if (buf_append_char(r->logical, ' ') < 0
	    || buf_append(r->logical, text, len) < 0) {
		params_report(r, r->logical_line, "line too long after "
		    "joining continuation lines (more than %d bytes)",
		    PARAMS_LINE_MAX);
		r->logical_bad = 1;
	}
}

int
params_read_file(const char *path, int missing_ok, char **error_r)
{
	struct params_reader r;
	struct buf *phys;
	FILE *fp;
	int c, line = 0, too_long = 0, has_nul = 0, saved_errno;

	params_need_init();
	fp = fopen(path, "r");
	if (fp == NULL) {
		if (errno == ENOENT && missing_ok)
			return 0;
		*error_r = xasprintf("%s: cannot open: %s", path,
		    strerror(errno));
		return -1;
	}
	memset(&r, 0, sizeof(r));
	r.path = path;
	r.errors = buf_new(BUF_DEFAULT_CAP);
	r.logical = buf_new(PARAMS_LINE_MAX);
	phys = buf_new(PARAMS_LINE_MAX);
	while ((c = getc(fp)) != EOF) {
		if (c == '\n') {
			params_physical(&r, ++line, phys, too_long, has_nul);
			buf_reset(phys);
			too_long = has_nul = 0;
			continue;
		}
		if (c == '\0')
			has_nul = 1;
		/* Past the cap: skip to the newline to stay in step. */
		if (!too_long && buf_append_char(phys, (char) c) < 0)
			too_long = 1;
	}
	saved_errno = errno;
	if (ferror(fp))
		params_report(&r, 0, "read error: %s", strerror(saved_errno));
	else if (buf_len(phys) > 0 || too_long)
		params_physical(&r, ++line, phys, too_long, has_nul);
	params_flush(&r);
	fclose(fp);
	buf_free(&phys);
	buf_free(&r.logical);
	if (r.error_count > PARAMS_ERRORS_MAX)
		(void) buf_printf(r.errors, "; %s: %d more errors", path,
		    r.error_count - PARAMS_ERRORS_MAX);
	if (r.error_count > 0) {
		*error_r = buf_strdup(r.errors);
		buf_free(&r.errors);
		return -1;
	}
	buf_free(&r.errors);
	return 0;
}

const char *
params_value(const char *name)
{
	const struct param_def *def;
	const char *text;

	params_need_init();
	if ((def = params_find(name)) == NULL)
		return NULL;
	text = params_state(def)->text;
	return text != NULL ? text : def->default_value;
}

int
params_is_default(const char *name)
{
	const struct param_def *def;

	params_need_init();
	if ((def = params_find(name)) == NULL)
		return -1;
	return params_state(def)->text == NULL;
}

static void
params_print_line(FILE *out, const char *name, const char *value)
{
	if (*value == '\0')
		fprintf(out, "%s =\n", name);
	else
		fprintf(out, "%s = %s\n", name, value);
}

static int
params_compare(const void *a, const void *b)
{
	const struct param_def *const *da = a;
	const struct param_def *const *db = b;

	return strcmp((*da)->name, (*db)->name);
}

/* Print one row: its default, or its effective text unless skipped. */
static void
params_print_def(FILE *out, const struct param_def *def, int nondefault_only,
	int defaults)
{
	const struct param_state *state = params_state(def);

	if (defaults)
		params_print_line(out, def->name, def->default_value);
	else if (!nondefault_only || state->text != NULL)
		params_print_line(out, def->name, state->text != NULL
		    ? state->text : def->default_value);
}

static int
params_print_any(FILE *out, int nondefault_only, int defaults,
	char *const *names, int name_count)
{
	const struct param_def **sorted, *def;
	size_t i;
	int rc = 0;

	params_need_init();
	if (name_count > 0) {
		for (i = 0; i < (size_t) name_count; i++) {
			if ((def = params_find(names[i])) == NULL) {
				fprintf(stderr, "unknown parameter: %s\n",
				    names[i]);
				rc = -1;
				continue;
			}
			params_print_def(out, def, nondefault_only, defaults);
		}
		return rc;
	}
	sorted = xcalloc(param_count, sizeof(*sorted));
	for (i = 0; i < param_count; i++)
		sorted[i] = &param_table[i];
	qsort(sorted, param_count, sizeof(*sorted), params_compare);
	for (i = 0; i < param_count; i++)
		params_print_def(out, sorted[i], nondefault_only, defaults);
	free(sorted);
	return rc;
}

int
params_print(FILE *out, int nondefault_only, char *const *names,
	int name_count)
{
	return params_print_any(out, nondefault_only, 0, names, name_count);
}

int
params_print_defaults(FILE *out, char *const *names, int name_count)
{
	return params_print_any(out, 0, 1, names, name_count);
}

static int
params_is_separator(char c)
{
	return c == ',' || c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

char **
params_list_split(const char *value, int *count_r)
{
	const char *p, *start;
	char **list;
	size_t count = 0, n = 0;

	if (value == NULL)
		value = "";
	for (p = value; *p != '\0';) {
		while (params_is_separator(*p))
			p++;
		if (*p == '\0')
			break;
		count++;
		while (*p != '\0' && !params_is_separator(*p))
			p++;
	}
	list = xcalloc(count + 1, sizeof(*list));
	for (p = value; n < count;) {
		while (params_is_separator(*p))
			p++;
		start = p;
		while (*p != '\0' && !params_is_separator(*p))
			p++;
		list[n++] = xstrndup(start, (size_t) (p - start));
	}
	if (count_r != NULL)
		*count_r = (int) count;
	return list;
}

void
params_list_free(char **list)
{
	size_t i;

	if (list == NULL)
		return;
	for (i = 0; list[i] != NULL; i++)
		free(list[i]);
	free(list);
}

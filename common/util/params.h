/*
 * params: main.conf parameters, each declared once in a table.
 *
 * The one table lives in mail_params.c: a row per parameter with its name,
 * type, default as an operator writes it, bounds, one-line doc and the
 * variable it binds.  params_init() sets every variable from its default;
 * params_read_file() applies main.conf ("name = value", '#' comments,
 * continuation lines that start with white space); params_set() applies a
 * "-o name=value" override.  Values are checked against type and bounds;
 * errors name the file and line.  The module keeps each parameter's
 * effective text so params_print() can show the configuration as
 * `postconf` and `postconf -n` do.
 *
 * Units: PARAM_TIME takes a number with s, m, h, d or w (no unit means
 * seconds) and binds seconds; PARAM_SIZE takes a number with k, M or G
 * (powers of 1024; no unit means bytes) and binds bytes.  Both bind a
 * long long, as does PARAM_INT; PARAM_BOOL binds an int (yes/no,
 * true/false, on/off, 1/0); PARAM_STR and PARAM_LIST bind a char * owned
 * by this module (a list is comma and/or white space separated;
 * params_list_split() splits it).
 *
 * A STR or LIST value may use another parameter's value as $name or
 * ${name} ($$ is a '$'), expanded once when the value is set: in
 * "queue_directory = $config_directory/queue" the config_directory set
 * before that line counts.  A default that uses $name follows the named
 * parameter for as long as the default holds.
 */
#ifndef ISPMAIL_PARAMS_H
#define ISPMAIL_PARAMS_H

#include <stdio.h>

enum param_type {
	PARAM_STR,
	PARAM_INT,
	PARAM_BOOL,
	PARAM_TIME,
	PARAM_SIZE,
	PARAM_LIST,
};

/* One row of the parameter table (see mail_params.c). */
struct param_def {
	const char *name;
	enum param_type type;
	const char *default_value;	/* as an operator writes it */
	long long min;			/* bounds for INT, TIME, SIZE */
	long long max;
	void *var;			/* long long *, int * or char ** */
	const char *doc;		/* one line for main.conf(5) */
};

/* The longest line main.conf may hold (after joining continuations). */
#define PARAMS_LINE_MAX 8192

/* The table, terminated by a row with a NULL name. */
extern const struct param_def param_table[];

/* Set every variable from its default; panics on a bad default. */
void params_init(void);
/* Look a parameter up by name; NULL when unknown. */
const struct param_def *params_find(const char *name);
/*
 * Read main.conf at path.  0 ok; -1 with *error_r (caller frees) naming
 * path:line and the problem for every bad line; good lines still apply.
 * A missing file is an error unless missing_ok.
 */
int params_read_file(const char *path, int missing_ok, char **error_r);
/*
 * Parse and apply one "name=value" (a -o override) or name and value.
 * 0 ok; -1 with *error_r (caller frees).  Either makes the parameter
 * "set" (not default), as main.conf does: config_directory from -c too.
 */
int params_set_override(const char *name_equals_value, char **error_r);
int params_set(const char *name, const char *value, char **error_r);
/* The effective value text of a parameter (NULL when unknown). */
const char *params_value(const char *name);
/*
 * 1 while the parameter has its default; 0 once main.conf, an override
 * or params_set() set it (even to the default's text); -1 when the name
 * is unknown.
 */
int params_is_default(const char *name);
/*
 * Print "name = value" lines, sorted by name; only non-defaults when
 * nondefault_only (postconf -n); with names, just those, in the order
 * given (unknown names are reported on stderr and make the result -1).
 * Values are printed as written, before $name expansion.
 */
int params_print(FILE *out, int nondefault_only, char *const *names,
	int name_count);
/* The same for the table's defaults (postconf -d). */
int params_print_defaults(FILE *out, char *const *names, int name_count);

/* Parsers, exposed for tests and for other tables. 0 ok, -1 bad. */
int params_parse_time(const char *text, long long *seconds_r);
int params_parse_size(const char *text, long long *bytes_r);
int params_parse_bool(const char *text, int *value_r);
int params_parse_int(const char *text, long long *value_r);
/*
 * Split a list value (commas and/or white space) into a NULL-terminated
 * array of new strings; *count_r gets the count.  Free with
 * params_list_free().
 */
char **params_list_split(const char *value, int *count_r);
void params_list_free(char **list);

#endif

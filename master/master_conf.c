/* master_conf: parse and check master.conf into service records. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "buf.h"
#include "mail_params.h"
#include "master_conf.h"
#include "params.h"
#include "xalloc.h"

/* Errors beyond this much text are summarised, not kept. */
#define MASTER_CONF_ERRORS_MAX (64 * 1024)
#define MASTER_CONF_FIELDS 6

struct conf_parser {
	const char *path;
	struct buf *errors;
	int error_count;
	struct master_conf *conf;
};

static void __attribute__((format(printf, 3, 4)))
conf_error(struct conf_parser *p, int line, const char *fmt, ...)
{
	struct buf *msg = buf_new(MASTER_CONF_ERRORS_MAX);
	va_list ap;

	p->error_count++;
	va_start(ap, fmt);
	(void) buf_vprintf(msg, fmt, ap);
	va_end(ap);
	/* A full error buffer already says plenty; later errors only count. */
	(void) buf_printf(p->errors, "%s%s:%d: %s",
	    buf_len(p->errors) > 0 ? "\n" : "", p->path, line, buf_cstr(msg));
	buf_free(&msg);
}

static int
name_char_ok(int c)
{
	return isalnum((unsigned char) c) || c == '_' || c == '.' || c == '-';
}

static int
word_ok(const char *word, size_t max)
{
	size_t i;

	for (i = 0; word[i] != '\0'; i++)
		if (!name_char_ok(word[i]))
			return 0;
	return i > 0 && i <= max;
}

static int
port_ok(const char *port)
{
	size_t len = strspn(port, "0123456789");

	return len > 0 && len <= 5 && port[len] == '\0' && atoi(port) >= 1
	    && atoi(port) <= 65535;
}

/* Host names and numeric IPv4 addresses: letters, digits, '.', '-'. */
static int
host_ok(const char *host)
{
	size_t i;

	for (i = 0; host[i] != '\0'; i++)
		if (!isalnum((unsigned char) host[i]) && host[i] != '.'
		    && host[i] != '-' && host[i] != '_')
			return 0;
	return i > 0 && i < 256;
}

/* "host:port", "[v6]:port", "*:port" or "port". */
static int
parse_inet_listen(struct conf_parser *p, int line,
	struct master_service_conf *sc)
{
	const char *text = sc->listen, *colon, *close;
	struct in6_addr addr6;
	char *host = NULL;

	if (text[0] == '[') {
		close = strchr(text, ']');
		if (close == NULL || close[1] != ':') {
			conf_error(p, line, "listen address '%s': expected "
			    "[IPv6-address]:port", text);
			return -1;
		}
		host = xstrndup(text + 1, (size_t) (close - text - 1));
		if (inet_pton(AF_INET6, host, &addr6) != 1) {
			conf_error(p, line, "listen address '%s': '%s' is "
			    "not an IPv6 address", text, host);
			free(host);
			return -1;
		}
		colon = close + 1;
	} else if ((colon = strrchr(text, ':')) != NULL) {
		host = xstrndup(text, (size_t) (colon - text));
		if (strcmp(host, "*") == 0) {
			xfree(host);
		} else if (!host_ok(host)) {
			conf_error(p, line, "listen address '%s': bad host "
			    "'%s' (write IPv6 addresses as [addr]:port)",
			    text, host);
			free(host);
			return -1;
		}
	}
	if (!port_ok(colon != NULL ? colon + 1 : text)) {
		conf_error(p, line, "listen address '%s': the port must be "
		    "a number from 1 to 65535", text);
		free(host);
		return -1;
	}
	sc->host = host;
	sc->port = xstrdup(colon != NULL ? colon + 1 : text);
	return 0;
}

static int
parse_unix_listen(struct conf_parser *p, int line,
	struct master_service_conf *sc)
{
	struct sockaddr_un sun;

	if (sc->listen[0] == '/')
		sc->path = xstrdup(sc->listen);
	else
		sc->path = xasprintf("%s/%s", var_queue_directory,
		    sc->listen);
	if (strlen(sc->path) >= sizeof(sun.sun_path)) {
		conf_error(p, line, "unix socket path '%s' is longer than "
		    "%zu bytes", sc->path, sizeof(sun.sun_path) - 1);
		return -1;
	}
	return 0;
}

/*
 * Services drop to their user in the child (service_drop_privileges), so
 * the check is here: as root every user must exist, and no line runs as
 * uid 0 by accident (a "-" whose mail_owner is root, an alias of root).
 * A network-facing (inet) service never runs as root unless main.conf
 * says allow_root_services = yes, as Postfix refuses a root mail_owner:
 * the process that parses what strangers send must not own the host.
 * The rule is about the file, so it holds whoever runs the master (and
 * -t reports it as an ordinary user too).
 */
static int
check_user(struct conf_parser *p, int line, const char *field,
	const char *user, int is_inet)
{
	struct passwd *pw;

	if (!word_ok(user, 64) || user[0] == '-') {
		conf_error(p, line, "bad user name '%s'", user);
		return -1;
	}
	errno = 0;
	pw = getpwnam(user);
	if (pw == NULL) {
		if (geteuid() != 0)
			return 0;
		conf_error(p, line, "user '%s': no such user", user);
		return -1;
	}
	if (pw->pw_uid == 0 && strcmp(field, "root") != 0) {
		conf_error(p, line, "user '%s' has uid 0: write 'root' in the "
		    "user field to run a service as root", user);
		return -1;
	}
	if (pw->pw_uid == 0 && is_inet && !var_allow_root_services) {
		conf_error(p, line, "refusing to run the network-facing "
		    "(inet) service as root: name an unprivileged user "
		    "(e.g. '-' for mail_owner) or set allow_root_services = "
		    "yes in main.conf");
		return -1;
	}
	return 0;
}

static int
check_override(struct conf_parser *p, int line, const char *text)
{
	const struct param_def *def;
	const char *equals = strchr(text, '=');
	char *name;
	long long number;
	int flag, bad = 0;

	if (equals == NULL || equals == text) {
		conf_error(p, line, "-o '%s': expected name=value", text);
		return -1;
	}
	name = xstrndup(text, (size_t) (equals - text));
	def = params_find(name);
	if (def == NULL) {
		conf_error(p, line, "-o %s: unknown parameter '%s'", text, name);
		free(name);
		return -1;
	}
	switch (def->type) {
	case PARAM_INT:
		bad = params_parse_int(equals + 1, &number) < 0;
		break;
	case PARAM_TIME:
		bad = params_parse_time(equals + 1, &number) < 0;
		break;
	case PARAM_SIZE:
		bad = params_parse_size(equals + 1, &number) < 0;
		break;
	case PARAM_BOOL:
		bad = params_parse_bool(equals + 1, &flag) < 0;
		break;
	case PARAM_STR:
	case PARAM_LIST:
		break;
	}
	if (!bad && (def->type == PARAM_INT || def->type == PARAM_TIME
	    || def->type == PARAM_SIZE)
	    && (number < def->min || number > def->max))
		bad = 1;
	if (bad)
		conf_error(p, line, "-o %s: bad value for %s", text, name);
	free(name);
	return bad ? -1 : 0;
}

static int
parse_maxproc(struct conf_parser *p, int line, const char *text,
	long long *maxproc_r)
{
	if (strcmp(text, "-") == 0) {
		*maxproc_r = var_default_process_limit;
		return 0;
	}
	if (params_parse_int(text, maxproc_r) < 0 || *maxproc_r < 1
	    || *maxproc_r > MASTER_MAXPROC_MAX) {
		conf_error(p, line, "maxproc '%s': expected '-' or a number "
		    "from 1 to %d", text, MASTER_MAXPROC_MAX);
		return -1;
	}
	return 0;
}

static int
parse_command(struct conf_parser *p, int line, char **fields, int count,
	struct master_service_conf *sc)
{
	int i, bad = 0;

	if (fields[0][0] == '/')
		sc->command = xstrdup(fields[0]);
	else
		sc->command = xasprintf("%s/%s", var_daemon_directory,
		    fields[0]);
	if (access(sc->command, X_OK) < 0) {
		conf_error(p, line, "command %s: %s", sc->command,
		    strerror(errno));
		bad = 1;
	}
	sc->overrides = xcalloc((size_t) count + 1, sizeof(char *));
	sc->args = xcalloc((size_t) count + 1, sizeof(char *));
	for (i = 1; i < count; i++) {
		if (strcmp(fields[i], "-o") != 0) {
			sc->args[sc->arg_count++] = xstrdup(fields[i]);
			continue;
		}
		if (++i == count) {
			conf_error(p, line, "-o without name=value");
			bad = 1;
			break;
		}
		if (check_override(p, line, fields[i]) < 0)
			bad = 1;
		else if (strncmp(fields[i], "service_keep_running=", 21) == 0
		    && params_parse_bool(fields[i] + 21,
		    &sc->keep_running) < 0)
			bad = 1;
		sc->overrides[sc->override_count++] = xstrdup(fields[i]);
	}
	return bad ? -1 : 0;
}

static int
find_service(const struct master_conf *conf, const char *name)
{
	int i;

	for (i = 0; i < conf->count; i++)
		if (strcmp(conf->services[i]->name, name) == 0)
			return i;
	return -1;
}

static void
check_duplicates(struct conf_parser *p, int line,
	const struct master_service_conf *sc)
{
	const struct master_service_conf *other;
	int i;

	if ((i = find_service(p->conf, sc->name)) >= 0)
		conf_error(p, line, "duplicate service name '%s' (first at "
		    "line %d)", sc->name, p->conf->services[i]->line);
	for (i = 0; i < p->conf->count; i++) {
		other = p->conf->services[i];
		if (master_conf_same_listener(other, sc))
			conf_error(p, line, "service '%s' listens on '%s' as "
			    "service '%s' at line %d does", sc->name,
			    sc->listen, other->name, other->line);
	}
}

/*
 * Split text at blanks into a new NULL-terminated array of pointers into
 * text (modified in place); *count_r gets the count.
 */
static char **
split_fields(char *text, int *count_r)
{
	char **fields = xcalloc(strlen(text) / 2 + 2, sizeof(char *));
	int count = 0;

	for (;;) {
		text += strspn(text, " \t");
		if (*text == '\0')
			break;
		fields[count++] = text;
		text += strcspn(text, " \t");
		if (*text != '\0')
			*text++ = '\0';
	}
	*count_r = count;
	return fields;
}

/* One logical line, split into fields (modified in place). */
static void
parse_service(struct conf_parser *p, int line, char *text)
{
	struct master_service_conf *sc;
	int count, bad = 0;
	char **fields = split_fields(text, &count);

	if (count < MASTER_CONF_FIELDS) {
		conf_error(p, line, "expected at least %d fields (name type "
		    "listen user maxproc command), found %d",
		    MASTER_CONF_FIELDS, count);
		free(fields);
		return;
	}
	sc = xcalloc(1, sizeof(*sc));
	sc->line = line;
	sc->name = xstrdup(fields[0]);
	sc->listen = xstrdup(fields[2]);
	if (!word_ok(sc->name, MASTER_SERVICE_NAME_MAX)) {
		conf_error(p, line, "bad service name '%s' (1 to %d of "
		    "A-Z a-z 0-9 _ . -)", sc->name, MASTER_SERVICE_NAME_MAX);
		bad = 1;
	}
	if (strcmp(fields[1], "inet") == 0) {
		sc->type = MASTER_SERVICE_INET;
		bad |= parse_inet_listen(p, line, sc) < 0;
	} else if (strcmp(fields[1], "unix") == 0) {
		sc->type = MASTER_SERVICE_UNIX;
		bad |= parse_unix_listen(p, line, sc) < 0;
	} else {
		conf_error(p, line, "unknown type '%s' (expected inet or unix)",
		    fields[1]);
		bad = 1;
	}
	sc->user = xstrdup(strcmp(fields[3], "-") == 0 ? var_mail_owner
	    : fields[3]);
	bad |= check_user(p, line, fields[3], sc->user,
	    strcmp(fields[1], "inet") == 0) < 0;
	bad |= parse_maxproc(p, line, fields[4], &sc->maxproc) < 0;
	bad |= parse_command(p, line, fields + 5, count - 5, sc) < 0;
	if (!bad)
		check_duplicates(p, line, sc);
	if (bad || p->conf->count >= MASTER_CONF_SERVICES_MAX) {
		if (!bad)
			conf_error(p, line, "more than %d services",
			    MASTER_CONF_SERVICES_MAX);
		master_service_conf_free(&sc);
		free(fields);
		return;
	}
	free(fields);
	p->conf->services = xreallocarray(p->conf->services,
	    (size_t) p->conf->count + 1, sizeof(sc));
	p->conf->services[p->conf->count++] = sc;
}

static int
read_whole_file(const char *path, struct buf *content, char **error_r)
{
	char chunk[8192];
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		*error_r = xasprintf("%s: %s", path, strerror(errno));
		return -1;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || buf_append(content, chunk, (size_t) n) < 0) {
			*error_r = n < 0 ? xasprintf("%s: %s", path,
			    strerror(errno)) : xasprintf("%s: larger than %d "
			    "bytes", path, MASTER_CONF_FILE_MAX);
			close(fd);
			return -1;
		}
	}
	close(fd);
	return 0;
}

static int
blank_or_comment(const char *line)
{
	line += strspn(line, " \t\r");
	return *line == '\0' || *line == '#';
}

/* Walk the physical lines, joining continuations into logical ones. */
static void
parse_lines(struct conf_parser *p, struct buf *content)
{
	struct buf *logical = buf_new(PARAMS_LINE_MAX);
	char *text = buf_data(content), *end = text + buf_len(content);
	char *next, *nl;
	int lineno = 0, start_line = 0, too_long = 0;

	for (; text < end; text = next) {
		nl = memchr(text, '\n', (size_t) (end - text));
		next = nl != NULL ? nl + 1 : end;
		if (nl != NULL)
			*nl = '\0';
		lineno++;
		if (memchr(text, '\0', (size_t) (next - text - (nl != NULL)))
		    != NULL) {
			conf_error(p, lineno, "NUL byte in line");
			continue;
		}
		if (blank_or_comment(text))
			continue;
		if (text[0] == ' ' || text[0] == '\t') {
			if (start_line == 0) {
				conf_error(p, lineno, "continuation line "
				    "without a service line before it");
				continue;
			}
		} else {
			if (start_line != 0 && !too_long)
				parse_service(p, start_line,
				    buf_data(logical));
			buf_reset(logical);
			start_line = lineno;
			too_long = 0;
		}
		if (!too_long && (buf_append_char(logical, ' ') < 0
		    || buf_append_str(logical, text) < 0)) {
			conf_error(p, start_line, "service line longer than "
			    "%d bytes", PARAMS_LINE_MAX);
			too_long = 1;
		}
	}
	if (start_line != 0 && !too_long)
		parse_service(p, start_line, buf_data(logical));
	buf_free(&logical);
}

int
master_conf_read(const char *path, struct master_conf **conf_r,
	char **error_r)
{
	struct buf *content = buf_new(MASTER_CONF_FILE_MAX);
	struct conf_parser p;
	char *cr;

	*conf_r = NULL;
	if (read_whole_file(path, content, error_r) < 0) {
		buf_free(&content);
		return -1;
	}
	/* Carriage returns are white space here (a file edited elsewhere). */
	while ((cr = memchr(buf_data(content), '\r', buf_len(content))) != NULL)
		*cr = ' ';
	memset(&p, 0, sizeof(p));
	p.path = path;
	p.errors = buf_new(MASTER_CONF_ERRORS_MAX);
	p.conf = xcalloc(1, sizeof(*p.conf));
	parse_lines(&p, content);
	buf_free(&content);
	if (p.error_count > 0) {
		*error_r = buf_strdup(p.errors);
		buf_free(&p.errors);
		master_conf_free(&p.conf);
		return -1;
	}
	buf_free(&p.errors);
	*conf_r = p.conf;
	return 0;
}

static void
free_strings(char **list, int count)
{
	int i;

	for (i = 0; list != NULL && i < count; i++)
		free(list[i]);
	free(list);
}

void
master_service_conf_free(struct master_service_conf **scp)
{
	struct master_service_conf *sc = *scp;

	if (sc == NULL)
		return;
	free(sc->name);
	free(sc->listen);
	free(sc->host);
	free(sc->port);
	free(sc->path);
	free(sc->user);
	free(sc->command);
	free_strings(sc->overrides, sc->override_count);
	free_strings(sc->args, sc->arg_count);
	free(sc);
	*scp = NULL;
}

void
master_conf_free(struct master_conf **confp)
{
	struct master_conf *conf = *confp;
	int i;

	if (conf == NULL)
		return;
	for (i = 0; i < conf->count; i++)
		master_service_conf_free(&conf->services[i]);
	free(conf->services);
	free(conf);
	*confp = NULL;
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

static char **
dup_strings(char *const *list, int count)
{
	char **copy = xcalloc((size_t) count + 1, sizeof(char *));
	int i;

	for (i = 0; i < count; i++)
		copy[i] = xstrdup(list[i]);
	return copy;
}

struct master_service_conf *
master_service_conf_dup(const struct master_service_conf *sc)
{
	struct master_service_conf *copy = xcalloc(1, sizeof(*copy));

	*copy = *sc;
	copy->name = xstrdup(sc->name);
	copy->listen = xstrdup(sc->listen);
	copy->host = dup_or_null(sc->host);
	copy->port = dup_or_null(sc->port);
	copy->path = dup_or_null(sc->path);
	copy->user = xstrdup(sc->user);
	copy->command = xstrdup(sc->command);
	copy->overrides = dup_strings(sc->overrides, sc->override_count);
	copy->args = dup_strings(sc->args, sc->arg_count);
	return copy;
}

static int
same_string(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static int
same_strings(char *const *a, int a_count, char *const *b, int b_count)
{
	int i;

	if (a_count != b_count)
		return 0;
	for (i = 0; i < a_count; i++)
		if (strcmp(a[i], b[i]) != 0)
			return 0;
	return 1;
}

int
master_conf_same_listener(const struct master_service_conf *a,
	const struct master_service_conf *b)
{
	if (a->type != b->type)
		return 0;
	if (a->type == MASTER_SERVICE_UNIX)
		return same_string(a->path, b->path);
	return same_string(a->host, b->host) && same_string(a->port, b->port);
}

int
master_conf_same_command(const struct master_service_conf *a,
	const struct master_service_conf *b)
{
	return strcmp(a->command, b->command) == 0
	    && strcmp(a->user, b->user) == 0
	    && same_strings(a->overrides, a->override_count, b->overrides,
		b->override_count)
	    && same_strings(a->args, a->arg_count, b->args, b->arg_count);
}

const char *
master_service_program(const struct master_service_conf *sc)
{
	const char *slash = strrchr(sc->command, '/');

	return slash != NULL ? slash + 1 : sc->command;
}

const char *
master_service_param(const struct master_service_conf *sc, const char *name)
{
	size_t len = strlen(name);
	int i;

	for (i = sc != NULL ? sc->override_count - 1 : -1; i >= 0; i--)
		if (strncmp(sc->overrides[i], name, len) == 0
		    && sc->overrides[i][len] == '=')
			return sc->overrides[i] + len + 1;
	return params_value(name);
}

long long
master_service_param_int(const struct master_service_conf *sc,
	const char *name)
{
	const char *value = master_service_param(sc, name);
	long long n = 0;

	if (value == NULL || params_parse_int(value, &n) < 0)
		return 0;
	return n;
}

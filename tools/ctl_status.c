/*
 * ctl_status: ispmailctl status, the master's per-service table, the
 * queue sizes and anvil's drop counters.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "anvil_client.h"
#include "attr.h"
#include "buf.h"
#include "ctl.h"
#include "mail_params.h"
#include "master_proto.h"
#include "qfile.h"
#include "stream.h"
#include "xalloc.h"

/* How long the master may take to answer each record. */
#define CTL_STATUS_TIMEOUT_MS 5000
/* No real master.conf comes near this; a runaway peer stops here. */
#define CTL_STATUS_MAX_SERVICES 10000
/* The longest value shown in a column (a listen path can be long). */
#define CTL_STATUS_VALUE_MAX 256
/* anvil keeps at most 128 counters; a runaway peer stops here. */
#define CTL_STATUS_MAX_DROPS 1000

/*
 * The columns, each with the attribute it shows.  STATE is derived from
 * "throttled" and "stress"; numbers are right-aligned.
 */
static const struct ctl_status_column {
	const char *title;
	const char *attr;
	int numeric;
} ctl_status_columns[] = {
	{ "SERVICE", "service", 0 },
	{ "TYPE", "type", 0 },
	{ "LISTEN", "listen", 0 },
	{ "USER", "user", 0 },
	{ "BUSY", "busy", 1 },
	{ "IDLE", "idle", 1 },
	{ "MAXPROC", "maxproc", 1 },
	{ "CAP-HITS", "cap_hits", 1 },
	{ "CRASHES", "abnormal_exits", 1 },
	{ "SPAWNS", "spawns", 1 },
	{ "STRESS", "stress_events", 1 },
	{ "STATE", "throttled", 0 },
};

#define CTL_STATUS_NCOLUMNS \
	(sizeof(ctl_status_columns) / sizeof(ctl_status_columns[0]))

/* One table row: a copy of each column's text. */
struct ctl_status_row {
	char *cell[CTL_STATUS_NCOLUMNS];
};

/*
 * A printable copy of a value from a socket: at most CTL_STATUS_VALUE_MAX
 * bytes, control bytes (and spaces, unless keep_spaces) shown as '?' so
 * a hostile value cannot break the table or the terminal.
 */
static char *
ctl_status_printable(const char *value, size_t len, int keep_spaces)
{
	char *copy;
	size_t i;

	if (value == NULL)
		return xstrdup("-");
	if (len > CTL_STATUS_VALUE_MAX)
		len = CTL_STATUS_VALUE_MAX;
	copy = xmemdup(value, len);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char) copy[i];

		if (c < 0x20 || c == 0x7f || (c == ' ' && !keep_spaces))
			copy[i] = '?';
	}
	return copy;
}

/* A table cell: one word. */
static char *
ctl_status_cell(const char *value, size_t len)
{
	return ctl_status_printable(value, len, 0);
}

static void
ctl_status_row_fill(struct ctl_status_row *row, const struct attr_list *l)
{
	const char *value, *stress;
	size_t len;
	size_t i;

	for (i = 0; i < CTL_STATUS_NCOLUMNS; i++) {
		value = attr_get_len(l, ctl_status_columns[i].attr, &len);
		stress = attr_get(l, "stress");
		if (strcmp(ctl_status_columns[i].attr, "throttled") == 0)
			row->cell[i] = xstrdup(value == NULL ? "-"
			    : strcmp(value, "0") != 0 ? "throttled"
			    : stress != NULL && strcmp(stress, "0") != 0 ?
			    "stress" : "ok");
		else
			row->cell[i] = ctl_status_cell(value, len);
	}
}

static void
ctl_status_rows_free(struct ctl_status_row *rows, size_t count)
{
	size_t r, c;

	for (r = 0; r < count; r++)
		for (c = 0; c < CTL_STATUS_NCOLUMNS; c++)
			free(rows[r].cell[c]);
	free(rows);
}

/* "3m12s", "2d4h0m9s": the largest unit first, leading zeros left out. */
static void
ctl_status_format_uptime(struct buf *out, long long seconds)
{
	static const struct {
		char unit;
		long long seconds;
	} units[] = {
		{ 'd', 86400 }, { 'h', 3600 }, { 'm', 60 }, { 's', 1 },
	};
	size_t i;
	int started = 0;

	if (seconds < 0)
		seconds = 0;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		long long n = seconds / units[i].seconds;

		seconds %= units[i].seconds;
		if (n == 0 && !started && units[i].seconds != 1)
			continue;
		started = 1;
		(void) buf_printf(out, "%lld%c", n, units[i].unit);
	}
}

static void
ctl_status_print(const struct ctl_status_row *rows, size_t count)
{
	size_t width[CTL_STATUS_NCOLUMNS];
	size_t r, c;

	for (c = 0; c < CTL_STATUS_NCOLUMNS; c++) {
		width[c] = strlen(ctl_status_columns[c].title);
		for (r = 0; r < count; r++)
			if (strlen(rows[r].cell[c]) > width[c])
				width[c] = strlen(rows[r].cell[c]);
	}
	for (c = 0; c < CTL_STATUS_NCOLUMNS; c++)
		ctl_printf("%s%-*s", c > 0 ? "  " : "",
		    c + 1 < CTL_STATUS_NCOLUMNS ? (int) width[c] : 0,
		    ctl_status_columns[c].title);
	ctl_printf("\n");
	for (r = 0; r < count; r++) {
		for (c = 0; c < CTL_STATUS_NCOLUMNS; c++) {
			int w = c + 1 < CTL_STATUS_NCOLUMNS ? (int) width[c] : 0;

			ctl_printf("%s", c > 0 ? "  " : "");
			if (ctl_status_columns[c].numeric)
				ctl_printf("%*s", w, rows[r].cell[c]);
			else
				ctl_printf("%-*s", w, rows[r].cell[c]);
		}
		ctl_printf("\n");
	}
}

/* A connected unix socket; -1 with errno (ENAMETOOLONG: path too long). */
static int
ctl_status_dial(const char *path)
{
	struct sockaddr_un sun;
	int fd, saved;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *) &sun, sizeof(sun)) < 0) {
		saved = errno;
		(void) close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/*
 * Connect to the master's status socket.  The socket's absence, or a
 * socket nobody listens on (a master killed without cleanup), both mean
 * the master is not running; that gets its own message.
 */
static int
ctl_status_connect(const char *path)
{
	int fd = ctl_status_dial(path);

	if (fd >= 0)
		return fd;
	if (errno == ENAMETOOLONG)
		ctl_eprintf("ispmailctl: status socket path too long: %s\n",
		    path);
	else if (errno == ENOENT || errno == ECONNREFUSED)
		ctl_eprintf("ispmailctl: master is not running "
		    "(no status socket at %s)\n", path);
	else
		ctl_eprintf("ispmailctl: connect %s: %s\n", path,
		    strerror(errno));
	return -1;
}

/* Files in one queue directory and its hashed subdirectories. */
static long long
ctl_status_count(const char *dir, int depth)
{
	struct dirent *de;
	long long n = 0, sub;
	char *path;
	DIR *dp;

	dp = opendir(dir);
	if (dp == NULL)
		return -1;
	while ((de = readdir(dp)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (de->d_type == DT_DIR && depth < 2) {
			path = xasprintf("%s/%s", dir, de->d_name);
			sub = ctl_status_count(path, depth + 1);
			if (sub > 0)
				n += sub;
			free(path);
		} else if (qfile_id_valid(de->d_name)) {
			n++;
		}
	}
	closedir(dp);
	return n;
}

/* The queue sizes, in the order mail moves through them. */
static void
ctl_status_queues(void)
{
	static const char *const queues[] = {
		QFILE_INCOMING, QFILE_ACTIVE, QFILE_DEFERRED, QFILE_HOLD,
		QFILE_CORRUPT,
	};
	long long n;
	size_t i;
	char *dir;

	ctl_printf("queue:");
	for (i = 0; i < sizeof(queues) / sizeof(queues[0]); i++) {
		dir = xasprintf("%s/%s", var_queue_directory, queues[i]);
		n = ctl_status_count(dir, 0);
		free(dir);
		if (n < 0)
			ctl_printf(" %s ?", queues[i]);
		else
			ctl_printf(" %s %lld", queues[i], n);
	}
	ctl_printf("\n");
}

/*
 * Ask anvil for its drop counters into l.  NULL ok; else why not, for
 * the operator (static text or stream_error; valid until s is freed).
 */
static const char *
ctl_status_ask_anvil(struct stream *s, struct attr_list *l)
{
	struct buf *request = buf_new(BUF_DEFAULT_CAP);
	const char *error = NULL, *status;
	enum stream_status st;

	if (attr_put(request, "request", "counters") < 0 ||
	    attr_end(request) < 0)
		error = "request does not fit";
	else if ((st = attr_write(s, request)) != STREAM_OK)
		error = stream_error(s);
	else if ((st = attr_read(s, l, &error)) != STREAM_OK)
		error = st == STREAM_ERROR && error != NULL ? error :
		    stream_status_text(st);
	else if ((status = attr_get(l, "status")) == NULL ||
	    strcmp(status, "ok") != 0)
		error = "anvil refused the request";
	buf_free(&request);
	return error;
}

/*
 * "drops: smtp junk_command_limit 3, pop3 login_timeout 1": anvil's
 * counters of dropped clients, per service and reason, in anvil's order
 * (sorted).  "drops: none" when there were none; when anvil cannot be
 * asked the line says why and status still succeeds: the master's table
 * above is what status is for.
 */
static void
ctl_status_drops(void)
{
	struct attr_list *l;
	struct stream *s;
	const char *error, *name, *value;
	char *path, *cell;
	size_t i, len, shown = 0;
	int fd;

	path = xasprintf("%s/%s", var_queue_directory, ANVIL_SOCKET);
	fd = ctl_status_dial(path);
	if (fd < 0) {
		if (errno == ENOENT || errno == ECONNREFUSED)
			ctl_printf("drops: unknown (anvil is not running)\n");
		else
			ctl_printf("drops: unknown (connect %s: %s)\n",
			    path, strerror(errno));
		free(path);
		return;
	}
	free(path);
	s = stream_new(fd, CTL_STATUS_TIMEOUT_MS, CTL_STATUS_TIMEOUT_MS);
	l = attr_list_new(CTL_STATUS_MAX_DROPS + 1, CTL_STATUS_VALUE_MAX);
	if ((error = ctl_status_ask_anvil(s, l)) != NULL) {
		cell = ctl_status_printable(error, strlen(error), 1);
		ctl_printf("drops: unknown (anvil: %s)\n", cell);
		free(cell);
	} else {
		ctl_printf("drops:");
		for (i = 0; (name = attr_nth(l, i, &value, &len)) != NULL;
		    i++) {
			if (strcmp(name, "drop") != 0)
				continue;
			/* "SERVICE REASON N": spaces separate the fields. */
			cell = ctl_status_printable(value, len, 1);
			ctl_printf("%s %s", shown++ > 0 ? "," : "", cell);
			free(cell);
		}
		ctl_printf("%s\n", shown == 0 ? " none" : "");
	}
	attr_list_free(&l);
	stream_free(&s);
	(void) close(fd);
}

int
ctl_status(int argc, char **argv)
{
	struct ctl_status_row *rows = NULL;
	size_t row_count = 0;
	struct attr_list *l = NULL;
	struct stream *s = NULL;
	struct buf *request = NULL;
	struct buf *uptime = NULL;
	const char *error;
	const char *master_error = NULL;
	char *path;
	enum stream_status st;
	long long pid = 0, up = 0, services = 0;
	int fd;
	int rc = 1;

	(void) argv;
	if (argc != 1) {
		ctl_eprintf("usage: ispmailctl status\n");
		return 2;
	}
	path = xasprintf("%s/%s", var_queue_directory, MASTER_STATUS_SOCKET);
	if ((fd = ctl_status_connect(path)) < 0) {
		free(path);
		return 1;
	}
	s = stream_new(fd, CTL_STATUS_TIMEOUT_MS, CTL_STATUS_TIMEOUT_MS);
	request = buf_new(BUF_DEFAULT_CAP);
	if (attr_put(request, "request", "status") < 0 || attr_end(request) < 0)
		goto out;
	if ((st = attr_write(s, request)) != STREAM_OK) {
		ctl_eprintf("ispmailctl: %s: send: %s\n", path,
		    stream_error(s));
		goto out;
	}
	l = attr_list_new((size_t) var_attr_count_limit,
	    (size_t) var_attr_value_limit);
	for (;;) {
		attr_list_reset(l);
		error = NULL;
		st = attr_read(s, l, &error);
		if (st != STREAM_OK) {
			ctl_eprintf("ispmailctl: %s: reading the answer: "
			    "%s\n", path, st == STREAM_ERROR && error != NULL
			    ? error : stream_status_text(st));
			goto out;
		}
		if ((master_error = attr_get(l, "error")) != NULL) {
			ctl_eprintf("ispmailctl: master: %s\n", master_error);
			goto out;
		}
		if (attr_get(l, "end") != NULL)
			break;
		if (row_count >= CTL_STATUS_MAX_SERVICES) {
			ctl_eprintf("ispmailctl: %s: more than %d services"
			    " in the answer\n", path, CTL_STATUS_MAX_SERVICES);
			goto out;
		}
		rows = xreallocarray(rows, row_count + 1, sizeof(*rows));
		ctl_status_row_fill(&rows[row_count++], l);
	}
	if (attr_get_int(l, "pid", &pid) != 1
	    || attr_get_int(l, "uptime", &up) != 1
	    || attr_get_int(l, "services", &services) != 1) {
		ctl_eprintf("ispmailctl: %s: malformed end record\n", path);
		goto out;
	}
	uptime = buf_new(64);
	ctl_status_format_uptime(uptime, up);
	ctl_printf("master pid %lld, up %s, %lld service%s\n", pid,
	    buf_cstr(uptime), services, services == 1 ? "" : "s");
	ctl_status_print(rows, row_count);
	ctl_status_queues();
	ctl_status_drops();
	rc = 0;
out:
	ctl_status_rows_free(rows, row_count);
	attr_list_free(&l);
	buf_free(&request);
	buf_free(&uptime);
	stream_free(&s);
	(void) close(fd);
	free(path);
	return rc;
}

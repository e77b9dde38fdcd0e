/* route_file: the embedded routing backend, a text map (ispmail-routes(5)). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "mail_params.h"
#include "route.h"
#include "route_backend.h"
#include "xalloc.h"

#include "route_file_int.h"

/* The largest map we read: far past what a single host serves. */
#define ROUTE_FILE_MAX (256 * 1024 * 1024)

/* ---- the backend handle, freshness -------------------------------------- */

void
rf_stamp_of(const struct stat *st, struct rf_stamp *stamp)
{
	memset(stamp, 0, sizeof(*stamp));
	stamp->dev = st->st_dev;
	stamp->ino = st->st_ino;
	stamp->size = st->st_size;
	stamp->mtime = st->st_mtim;
}

int
rf_stamp_equal(const struct rf_stamp *a, const struct rf_stamp *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size
	    && a->mtime.tv_sec == b->mtime.tv_sec
	    && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/*
 * Read and parse the map now.  1 parsed (*map_r), 0 the file does not
 * exist, -1 unreadable or bad (*error_r).  *stamp_r is the file's.
 */
int
rf_load(const char *path, struct rf_map **map_r, struct rf_stamp *stamp_r,
	char **error_r)
{
	struct buf *text;
	struct stat st;
	char *chunk;
	ssize_t n;
	int fd, rc = 1;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		*error_r = xasprintf("open %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		*error_r = xasprintf("fstat %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	rf_stamp_of(&st, stamp_r);
	text = buf_new(ROUTE_FILE_MAX);
	chunk = xmalloc(65536);
	for (;;) {
		n = read(fd, chunk, 65536);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*error_r = xasprintf("read %s: %s", path,
			    strerror(errno));
			rc = -1;
			break;
		}
		if (n == 0)
			break;
		if (buf_append(text, chunk, (size_t) n) < 0) {
			*error_r = xasprintf("%s: larger than %d bytes: use "
			    "the ldap backend", path, ROUTE_FILE_MAX);
			rc = -1;
			break;
		}
	}
	free(chunk);
	close(fd);
	if (rc > 0) {
		*map_r = rf_parse(path, buf_data(text), buf_len(text), error_r);
		if (*map_r == NULL)
			rc = -1;
	}
	buf_free(&text);
	return rc;
}

/* Was the file looked at within route_file_check_interval?  Notes now. */
static int
rf_checked_recently(struct route_file *f)
{
	struct timespec now;
	long long elapsed_ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	elapsed_ms = (long long) (now.tv_sec - f->checked.tv_sec) * 1000
	    + (now.tv_nsec - f->checked.tv_nsec) / 1000000;
	if (elapsed_ms < var_route_file_check_interval * 1000)
		return 1;
	f->checked = now;
	return 0;
}

/*
 * Make sure the map in use is the file's current one.  0 with a usable
 * map (possibly the previous good one), -1 with *error_r.
 */
static int
rf_refresh(struct route_file *f, char **error_r)
{
	struct rf_map *map = NULL;
	struct rf_stamp stamp;
	struct stat st;
	char *error = NULL;
	int rc;

	/*
	 * A route_lookup() asks several questions; stat() for each was
	 * most of a lookup's cost (bench/route-lookup).  Like Postfix's
	 * table checks, look at the file at most once per
	 * route_file_check_interval.
	 */
	if (f->have_stamp && rf_checked_recently(f))
		goto answer;
	if (stat(f->path, &st) == 0) {
		rf_stamp_of(&st, &stamp);
		if (f->have_stamp && !f->missing
		    && rf_stamp_equal(&stamp, &f->stamp))
			goto answer;
	} else if (errno == ENOENT && f->have_stamp && f->missing) {
		goto answer;
	}
	rc = rf_load(f->path, &map, &stamp, &error);
	f->have_stamp = 1;
	f->missing = rc == 0;
	if (rc == 0) {
		/*
		 * Not an empty map: a wrong route_file must defer mail, not
		 * bounce it.  Provisioning starts from an empty file.
		 */
		error = xasprintf("%s: no such file (an empty file is an "
		    "empty map)", f->path);
		memset(&f->stamp, 0, sizeof(f->stamp));
	} else {
		f->stamp = stamp;
	}
	free(f->error);
	f->error = NULL;
	if (rc > 0) {
		rf_map_free(&f->map);
		f->map = map;
	} else {
		f->error = error;
		if (f->map != NULL)
			log_warn("routing map %s; still using the map loaded "
			    "before", error);
		else
			log_error("routing map %s", error);
	}
answer:
	if (f->map != NULL)
		return 0;
	*error_r = xstrdup(f->error != NULL ? f->error
	    : "routing map not loaded");
	return -1;
}

static void *
rf_open(char **error_r)
{
	struct route_file *f;

	if (var_route_file == NULL || var_route_file[0] == '\0') {
		*error_r = xstrdup("route_file is empty: name the routing "
		    "map");
		return NULL;
	}
	f = xcalloc(1, sizeof(*f));
	f->path = xstrdup(var_route_file);
	return f;
}

static void
rf_close(void *backend)
{
	struct route_file *f = backend;

	if (f == NULL)
		return;
	rf_map_free(&f->map);
	free(f->error);
	free(f->path);
	free(f);
}

/* ---- getters ---------------------------------------------------------- */

static int
rf_domain_get(void *backend, const char *name,
	struct route_domain **domain_r, char **error_r)
{
	struct route_file *f = backend;
	struct rf_entry *e;

	*domain_r = NULL;
	if (rf_refresh(f, error_r) < 0)
		return -1;
	if ((e = rf_find(&f->map->domains, name)) == NULL)
		return 0;
	*domain_r = route_domain_dup(e->value);
	return 1;
}

static int
rf_mailbox_get(void *backend, const char *address,
	struct route_mailbox **mailbox_r, char **error_r)
{
	struct route_file *f = backend;
	struct rf_entry *e;

	*mailbox_r = NULL;
	if (rf_refresh(f, error_r) < 0)
		return -1;
	if ((e = rf_find(&f->map->mailboxes, address)) == NULL
	    && (e = rf_find(&f->map->alts, address)) == NULL)
		return 0;
	*mailbox_r = route_mailbox_dup(e->value);
	return 1;
}

struct route_alias *
rf_alias_dup(const struct route_alias *a)
{
	struct route_alias *copy = xcalloc(1, sizeof(*copy));
	size_t i;

	copy->address = xstrdup(a->address);
	copy->targets = xcalloc(xalloc_add(a->target_count, 1),
	    sizeof(char *));
	for (i = 0; i < a->target_count; i++)
		copy->targets[i] = xstrdup(a->targets[i]);
	copy->target_count = a->target_count;
	return copy;
}

static int
rf_alias_get(void *backend, const char *address,
	struct route_alias **alias_r, char **error_r)
{
	struct route_file *f = backend;
	struct rf_entry *e;

	*alias_r = NULL;
	if (rf_refresh(f, error_r) < 0)
		return -1;
	if ((e = rf_find(&f->map->aliases, address)) == NULL)
		return 0;
	*alias_r = rf_alias_dup(e->value);
	return 1;
}

static int
rf_relay_recipient_get(void *backend, const char *address, char **error_r)
{
	struct route_file *f = backend;

	if (rf_refresh(f, error_r) < 0)
		return -1;
	return rf_find(&f->map->recipients, address) != NULL;
}

static int
rf_list(void *backend, enum route_list_kind kind, const char *domain,
	char ***names_r, char **error_r)
{
	struct route_file *f = backend;
	const struct rf_table *t;
	struct rf_entry **sorted;
	size_t i, n = 0;

	*names_r = NULL;
	if (rf_refresh(f, error_r) < 0)
		return -1;
	switch (kind) {
	case ROUTE_LIST_DOMAINS: t = &f->map->domains; break;
	case ROUTE_LIST_MAILBOXES: t = &f->map->mailboxes; break;
	case ROUTE_LIST_ALIASES: t = &f->map->aliases; break;
	case ROUTE_LIST_RELAY_RECIPIENTS: t = &f->map->recipients; break;
	default:
		*error_r = xasprintf("unknown list kind %d", (int) kind);
		return -1;
	}
	sorted = rf_sorted(t);
	*names_r = xcalloc(xalloc_add(t->count, 1), sizeof(char *));
	for (i = 0; i < t->count; i++)
		if (kind == ROUTE_LIST_DOMAINS || (domain != NULL
		    && strcmp(rf_domain_of(sorted[i]->key), domain) == 0))
			(*names_r)[n++] = xstrdup(sorted[i]->key);
	free(sorted);
	return 0;
}

const struct route_backend_ops route_backend_file = {
	.name = "file",
	.open = rf_open,
	.close = rf_close,
	.domain_get = rf_domain_get,
	.mailbox_get = rf_mailbox_get,
	.alias_get = rf_alias_get,
	.relay_recipient_get = rf_relay_recipient_get,
	.domain_put = rf_domain_put,
	.domain_delete = rf_domain_delete,
	.mailbox_put = rf_mailbox_put,
	.mailbox_delete = rf_mailbox_delete,
	.alias_put = rf_alias_put,
	.alias_delete = rf_alias_delete,
	.relay_recipient_put = rf_relay_recipient_put,
	.relay_recipient_delete = rf_relay_recipient_delete,
	.list = rf_list,
	.auth_bind = NULL,
};

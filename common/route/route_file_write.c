/* route_file_write: the map writer, and put/delete under the lock. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "route.h"
#include "route_backend.h"
#include "xalloc.h"

#include "route_file_int.h"

/* How long a writer waits for another writer's lock. */
#define ROUTE_FILE_LOCK_WAIT_MS 30000
/* The mode of a new map: it holds password hashes. */
#define ROUTE_FILE_NEW_MODE 0640

/* ---- writing ------------------------------------------------------------ */

/* Write s with %XX for octets the reader would split or drop. */
static void
rf_put(FILE *out, const char *s, int in_list)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *c = (const unsigned char *) s, *run;

	while (*c != '\0') {
		/* Plain runs in one call: a map has thousands of records. */
		for (run = c; *c > 0x20 && *c != 0x7f && *c != '%' && *c != '#'
		    && !(in_list && *c == ','); c++)
			;
		if (c > run)
			(void) fwrite(run, 1, (size_t) (c - run), out);
		if (*c == '\0')
			break;
		putc('%', out);
		putc(hex[*c >> 4], out);
		putc(hex[*c & 15], out);
		c++;
	}
}

static void
rf_put_attr(FILE *out, const char *name, const char *value)
{
	if (value == NULL)
		return;
	putc(' ', out);
	fputs(name, out);
	putc('=', out);
	rf_put(out, value, 0);
}

static void
rf_put_list(FILE *out, const char *name, char *const *list, size_t count)
{
	size_t i;

	if (count == 0)
		return;
	fprintf(out, "\n    %s=", name);
	for (i = 0; i < count; i++) {
		if (i > 0)
			putc(',', out);
		rf_put(out, list[i], 1);
	}
}

/* The shortest text that reads back as the same double. */
static void
rf_put_score(FILE *out, const char *name, double score)
{
	char text[64];

	(void) snprintf(text, sizeof(text), "%g", score);
	if (strtod(text, NULL) != score)
		(void) snprintf(text, sizeof(text), "%.17g", score);
	fprintf(out, " %s=%s", name, text);
}

static void
rf_put_quota(FILE *out, long long quota)
{
	static const struct {
		char unit;
		long long size;
	} units[] = {
		{ 'G', 1024LL * 1024 * 1024 }, { 'M', 1024 * 1024 },
		{ 'k', 1024 },
	};
	size_t i;

	if (quota == 0)
		return;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (quota % units[i].size == 0) {
			fprintf(out, " quota=%lld%c", quota / units[i].size,
			    units[i].unit);
			return;
		}
	fprintf(out, " quota=%lld", quota);
}

static void
rf_write_domain(FILE *out, const struct route_domain *d)
{
	static const char *const kinds[] = { "?", "local", "relay", "alias" };

	fputs("domain ", out);
	rf_put(out, d->name, 0);
	fprintf(out, " %s", kinds[d->kind]);
	rf_put_attr(out, "target", d->alias_target);
	rf_put_attr(out, "relayhost", d->relay_host);
	rf_put_attr(out, "mailhost", d->mail_host);
	rf_put_attr(out, "catchall", d->catchall);
	if (d->archive)
		fputs(" archive=yes", out);
	if (d->dmarc != ROUTE_DMARC_DEFAULT)
		fprintf(out, " dmarc=%s", route_dmarc_names[d->dmarc]);
	rf_put_list(out, "dkim", d->dkim_selectors, d->dkim_selector_count);
	putc('\n', out);
}

static void
rf_write_mailbox(FILE *out, const struct route_mailbox *m)
{
	fputs("mailbox ", out);
	rf_put(out, m->address, 0);
	fprintf(out, " state=%s", rf_state_names[m->state]);
	rf_put_quota(out, m->quota);
	rf_put_attr(out, "password", m->password_hash);
	if (m->mail_host != NULL || m->store_path != NULL) {
		fputs("\n   ", out);
		rf_put_attr(out, "host", m->mail_host);
		rf_put_attr(out, "path", m->store_path);
	}
	fprintf(out, "\n    filter=%s", rf_filter_names[m->filter]);
	rf_put_score(out, "tag", m->tag_score);
	rf_put_score(out, "quarantine", m->quarantine_score);
	rf_put_score(out, "discard", m->discard_score);
	fprintf(out, " archive=%s", m->archive ? "yes" : "no");
	rf_put_attr(out, "class", m->outbound_class);
	if (m->dmarc != ROUTE_DMARC_DEFAULT)
		fprintf(out, " dmarc=%s", route_dmarc_names[m->dmarc]);
	rf_put_list(out, "alt", m->alt_addresses, m->alt_count);
	rf_put_list(out, "forward", m->forwards, m->forward_count);
	if (m->forward_count > 0 || m->forward_keep_copy)
		fprintf(out, " keepcopy=%s", m->forward_keep_copy ? "yes"
		    : "no");
	putc('\n', out);
}

static void
rf_write_alias(FILE *out, const struct route_alias *a)
{
	size_t i;

	fputs("alias ", out);
	rf_put(out, a->address, 0);
	putc(' ', out);
	for (i = 0; i < a->target_count; i++) {
		if (i > 0)
			putc(',', out);
		rf_put(out, a->targets[i], 1);
	}
	putc('\n', out);
}

/* The whole map, sorted by kind then key, so diffs stay small. */
static void
rf_write_map(FILE *out, const struct rf_map *map)
{
	struct rf_entry **sorted;
	size_t i;

	fputs("# ispmail routing map, see ispmail-routes(5).\n"
	    "# Rewritten by ispmailctl: comments here are not kept.\n", out);
	sorted = rf_sorted(&map->domains);
	for (i = 0; sorted[i] != NULL; i++)
		rf_write_domain(out, sorted[i]->value);
	free(sorted);
	sorted = rf_sorted(&map->mailboxes);
	for (i = 0; sorted[i] != NULL; i++)
		rf_write_mailbox(out, sorted[i]->value);
	free(sorted);
	sorted = rf_sorted(&map->aliases);
	for (i = 0; sorted[i] != NULL; i++)
		rf_write_alias(out, sorted[i]->value);
	free(sorted);
	sorted = rf_sorted(&map->recipients);
	for (i = 0; sorted[i] != NULL; i++) {
		fputs("recipient ", out);
		rf_put(out, sorted[i]->key, 0);
		putc('\n', out);
	}
	free(sorted);
}

/* Take the writers' lock, waiting a bounded time.  The fd, or -1. */
static int
rf_lock(const struct route_file *f, char **error_r)
{
	struct timespec pause = { 0, 10 * 1000 * 1000 };
	char *lock_path = xasprintf("%s.lock", f->path);
	int fd, waited = 0;

	fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		*error_r = xasprintf("open %s: %s", lock_path,
		    strerror(errno));
		free(lock_path);
		return -1;
	}
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			*error_r = xasprintf("flock %s: %s", lock_path,
			    strerror(errno));
			break;
		}
		if (waited >= ROUTE_FILE_LOCK_WAIT_MS) {
			*error_r = xasprintf("%s: another writer holds the "
			    "lock for more than %d s", lock_path,
			    ROUTE_FILE_LOCK_WAIT_MS / 1000);
			break;
		}
		(void) nanosleep(&pause, NULL);
		waited += 10;
	}
	free(lock_path);
	if (*error_r != NULL) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Start a change: lock, then make f->map the file's current content (an
 * empty map when there is no file).  A bad map is not overwritten: the
 * operator's edit would be lost.  The lock fd, or -1 with *error_r.
 */
static int
rf_write_begin(struct route_file *f, char **error_r)
{
	struct rf_map *map = NULL;
	struct rf_stamp stamp;
	struct stat st;
	int fd, rc;

	*error_r = NULL;
	if ((fd = rf_lock(f, error_r)) < 0)
		return -1;
	if (f->map != NULL && f->error == NULL && f->have_stamp && !f->missing
	    && stat(f->path, &st) == 0) {
		rf_stamp_of(&st, &stamp);
		if (rf_stamp_equal(&stamp, &f->stamp))
			return fd;	/* what we hold is current */
	}
	rc = rf_load(f->path, &map, &stamp, error_r);
	if (rc < 0) {
		char *why = *error_r;

		*error_r = xasprintf("%s; not changing the map until it is "
		    "fixed", why);
		free(why);
		close(fd);
		return -1;
	}
	rf_map_free(&f->map);
	f->map = rc > 0 ? map : xcalloc(1, sizeof(*f->map));
	f->have_stamp = 1;
	f->missing = rc == 0;
	if (rc > 0)
		f->stamp = stamp;
	free(f->error);
	f->error = NULL;
	return fd;
}

/* fsync the directory holding path, so the rename is durable. */
static int
rf_sync_dir(const char *path, char **error_r)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash == NULL ? xstrdup(".") : slash == path
	    ? xstrdup("/") : xmemdup(path, (size_t) (slash - path));
	int fd, rc = 0;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0) {
		*error_r = xasprintf("fsync %s: %s", dir, strerror(errno));
		rc = -1;
	}
	if (fd >= 0)
		close(fd);
	free(dir);
	return rc;
}

/*
 * Finish a change: check the changed map, write it to a temporary file,
 * fsync, rename over the map, fsync the directory, unlock.  On failure
 * the map in memory is dropped so the next lookup rereads the file.
 */
static int
rf_write_end(struct route_file *f, int lock_fd, int changed, char **error_r)
{
	struct stat st, old;
	char *tmp = NULL, *problem;
	FILE *out = NULL;
	unsigned line;
	int fd = -1, rc = -1, have_old;

	if (!changed) {
		rc = 0;
		goto done;
	}
	if ((problem = rf_map_check(f->map, &line)) != NULL) {
		*error_r = problem;
		goto fail;
	}
	tmp = xasprintf("%s.tmp.%ld", f->path, (long) getpid());
	have_old = stat(f->path, &old) == 0;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    have_old ? (old.st_mode & 07777) : ROUTE_FILE_NEW_MODE);
	if (fd < 0) {
		*error_r = xasprintf("open %s: %s", tmp, strerror(errno));
		goto fail;
	}
	/* Keep the operator's ownership and mode (it holds hashes). */
	if (have_old && (fchmod(fd, old.st_mode & 07777) < 0
	    || (geteuid() == 0 && fchown(fd, old.st_uid, old.st_gid) < 0))) {
		*error_r = xasprintf("%s: keeping owner and mode: %s", tmp,
		    strerror(errno));
		goto fail;
	}
	if ((out = fdopen(fd, "w")) == NULL) {
		*error_r = xasprintf("fdopen %s: %s", tmp, strerror(errno));
		goto fail;
	}
	fd = -1;
	rf_write_map(out, f->map);
	if (fflush(out) != 0 || ferror(out) || fsync(fileno(out)) < 0
	    || fstat(fileno(out), &st) < 0) {
		*error_r = xasprintf("write %s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (fclose(out) != 0) {
		out = NULL;
		*error_r = xasprintf("close %s: %s", tmp, strerror(errno));
		goto fail;
	}
	out = NULL;
	if (rename(tmp, f->path) < 0) {
		*error_r = xasprintf("rename %s to %s: %s", tmp, f->path,
		    strerror(errno));
		goto fail;
	}
	xfree(tmp);
	rf_stamp_of(&st, &f->stamp);
	f->have_stamp = 1;
	f->missing = 0;
	if (rf_sync_dir(f->path, error_r) < 0)
		goto done;
	rc = 0;
	goto done;
fail:
	if (out != NULL)
		(void) fclose(out);
	if (fd >= 0)
		close(fd);
	if (tmp != NULL)
		(void) unlink(tmp);
	free(tmp);
	rf_map_free(&f->map);
	f->have_stamp = 0;
done:
	close(lock_fd);			/* releases the flock */
	return rc;
}

int
rf_domain_put(void *backend, const struct route_domain *domain,
	int create_only, char **error_r)
{
	struct route_file *f = backend;
	struct route_domain *old;
	int fd;

	if ((fd = rf_write_begin(f, error_r)) < 0)
		return -1;
	if (create_only && rf_find(&f->map->domains, domain->name) != NULL) {
		*error_r = xasprintf("domain %s exists", domain->name);
		(void) rf_write_end(f, fd, 0, error_r);
		return -1;
	}
	old = rf_remove(&f->map->domains, domain->name);
	route_domain_free(&old);
	(void) rf_add(&f->map->domains, xstrdup(domain->name),
	    route_domain_dup(domain), 0);
	return rf_write_end(f, fd, 1, error_r);
}

int
rf_domain_delete(void *backend, const char *name, char **error_r)
{
	struct route_file *f = backend;
	struct route_domain *old;
	int fd;

	if ((fd = rf_write_begin(f, error_r)) < 0)
		return -1;
	if ((old = rf_remove(&f->map->domains, name)) == NULL) {
		*error_r = xasprintf("no such domain %s", name);
		(void) rf_write_end(f, fd, 0, error_r);
		return -1;
	}
	route_domain_free(&old);
	return rf_write_end(f, fd, 1, error_r);
}

/* Drop a mailbox and its alternate addresses from the map. */
static void
rf_unlink_mailbox(struct rf_map *map, const char *address)
{
	struct route_mailbox *m = rf_remove(&map->mailboxes, address);
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->alt_count; i++)
		(void) rf_remove(&map->alts, m->alt_addresses[i]);
	route_mailbox_free(&m);
}

int
rf_mailbox_put(void *backend, const struct route_mailbox *mailbox,
	int create_only, char **error_r)
{
	struct route_file *f = backend;
	struct route_mailbox *m;
	struct rf_entry *e;
	const char *key;
	size_t i;
	int fd;

	if ((fd = rf_write_begin(f, error_r)) < 0)
		return -1;
	if (create_only && rf_find(&f->map->mailboxes, mailbox->address)
	    != NULL) {
		*error_r = xasprintf("mailbox %s exists", mailbox->address);
		(void) rf_write_end(f, fd, 0, error_r);
		return -1;
	}
	/* Every key must be free or this mailbox's own. */
	for (i = 0; i <= mailbox->alt_count; i++) {
		key = i == 0 ? mailbox->address : mailbox->alt_addresses[i - 1];
		if (rf_find(&f->map->aliases, key) != NULL
		    || ((e = rf_find(&f->map->alts, key)) != NULL
		    && strcmp(((struct route_mailbox *) e->value)->address,
		    mailbox->address) != 0)
		    || (i > 0 && rf_find(&f->map->mailboxes, key) != NULL)) {
			*error_r = xasprintf("%s is already in use", key);
			(void) rf_write_end(f, fd, 0, error_r);
			return -1;
		}
	}
	rf_unlink_mailbox(f->map, mailbox->address);
	m = route_mailbox_dup(mailbox);
	(void) rf_add(&f->map->mailboxes, xstrdup(m->address), m, 0);
	for (i = 0; i < m->alt_count; i++)
		(void) rf_add(&f->map->alts, xstrdup(m->alt_addresses[i]), m,
		    0);
	return rf_write_end(f, fd, 1, error_r);
}

int
rf_mailbox_delete(void *backend, const char *address, char **error_r)
{
	struct route_file *f = backend;
	int fd;

	if ((fd = rf_write_begin(f, error_r)) < 0)
		return -1;
	if (rf_find(&f->map->mailboxes, address) == NULL) {
		*error_r = xasprintf("no such mailbox %s", address);
		(void) rf_write_end(f, fd, 0, error_r);
		return -1;
	}
	rf_unlink_mailbox(f->map, address);
	return rf_write_end(f, fd, 1, error_r);
}

int
rf_alias_put(void *backend, const struct route_alias *alias,
	int create_only, char **error_r)
{
	struct route_file *f = backend;
	struct route_alias *old;
	int fd;

	if ((fd = rf_write_begin(f, error_r)) < 0)
		return -1;
	if ((create_only && rf_find(&f->map->aliases, alias->address) != NULL)
	    || rf_find(&f->map->mailboxes, alias->address) != NULL
	    || rf_find(&f->map->alts, alias->address) != NULL) {
		*error_r = xasprintf(rf_find(&f->map->aliases, alias->address)
		    != NULL ? "alias %s exists" : "%s is a mailbox address",
		    alias->address);
		(void) rf_write_end(f, fd, 0, error_r);
		return -1;
	}
	old = rf_remove(&f->map->aliases, alias->address);
	route_alias_free(&old);
	(void) rf_add(&f->map->aliases, xstrdup(alias->address),
	    rf_alias_dup(alias), 0);
	return rf_write_end(f, fd, 1, error_r);
}

int
rf_alias_delete(void *backend, const char *address, char **error_r)
{
	struct route_file *f = backend;
	struct route_alias *old;
	int fd;

	if ((fd = rf_write_begin(f, error_r)) < 0)
		return -1;
	if ((old = rf_remove(&f->map->aliases, address)) == NULL) {
		*error_r = xasprintf("no such alias %s", address);
		(void) rf_write_end(f, fd, 0, error_r);
		return -1;
	}
	route_alias_free(&old);
	return rf_write_end(f, fd, 1, error_r);
}

int
rf_relay_recipient_put(void *backend, const char *address, char **error_r)
{
	struct route_file *f = backend;
	int fd;

	if ((fd = rf_write_begin(f, error_r)) < 0)
		return -1;
	/* Putting a listed recipient again changes nothing. */
	if (rf_find(&f->map->recipients, address) != NULL)
		return rf_write_end(f, fd, 0, error_r);
	(void) rf_add(&f->map->recipients, xstrdup(address), NULL, 0);
	return rf_write_end(f, fd, 1, error_r);
}

int
rf_relay_recipient_delete(void *backend, const char *address,
	char **error_r)
{
	struct route_file *f = backend;
	int fd;

	if ((fd = rf_write_begin(f, error_r)) < 0)
		return -1;
	if (rf_find(&f->map->recipients, address) == NULL) {
		*error_r = xasprintf("no such relay recipient %s", address);
		(void) rf_write_end(f, fd, 0, error_r);
		return -1;
	}
	(void) rf_remove(&f->map->recipients, address);
	return rf_write_end(f, fd, 1, error_r);
}

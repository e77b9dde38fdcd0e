/* dkim_keys: a domain's DKIM signing keys and selectors (see dkim_keys.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "dkim_keys.h"
#include "fileio.h"
#include "xalloc.h"

#define SELECTORS_FILE "selectors"

const char *
dkim_key_type_name(enum dkim_key_type type)
{
	return type == DKIM_KEY_ED25519 ? "ed25519" : "rsa";
}

int
dkim_key_type_parse(const char *name, enum dkim_key_type *type_r)
{
	if (strcmp(name, "rsa") == 0)
		*type_r = DKIM_KEY_RSA;
	else if (strcmp(name, "ed25519") == 0)
		*type_r = DKIM_KEY_ED25519;
	else
		return -1;
	return 0;
}

int
dkim_selector_valid(const char *selector)
{
	size_t n = 0;

	for (; *selector != '\0'; selector++, n++) {
		char c = *selector;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-'))
			return 0;
	}
	return n >= 1 && n <= 63;
}

int
dkim_domain_valid(const char *domain)
{
	size_t label = 0, n = 0;

	for (; *domain != '\0'; domain++, n++) {
		char c = *domain;

		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return 0;
		if (++label > 63)
			return 0;
	}
	return n >= 1 && n <= 253 && label > 0;
}

char *
dkim_key_path(const char *dir, const char *domain, const char *selector)
{
	return xasprintf("%s/%s/%s.key", dir, domain, selector);
}

/* Read a whole small file, no symlink; NULL with *error_r. */
static char *
dkim_read_file(const char *path, int *missing_r, char **error_r)
{
	struct buf *b = buf_new(DKIM_KEYS_FILE_MAX);
	char chunk[4096];
	ssize_t n;
	char *text;
	int fd;

	*missing_r = 0;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		*missing_r = errno == ENOENT;
		*error_r = xasprintf("open %s: %s", path, strerror(errno));
		buf_free(&b);
		return NULL;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || buf_append(b, chunk, (size_t) n) < 0) {
			*error_r = n < 0 ? xasprintf("read %s: %s", path,
			    strerror(errno)) : xasprintf("%s: over %d bytes",
			    path, DKIM_KEYS_FILE_MAX);
			close(fd);
			buf_free(&b);
			return NULL;
		}
	}
	close(fd);
	text = buf_strdup(b);
	buf_free(&b);
	return text;
}

char *
dkim_key_load(const char *path, char **error_r)
{
	int missing;

	return dkim_read_file(path, &missing, error_r);
}

void
dkim_keys_clear(struct dkim_keyset *set)
{
	size_t i;

	for (i = 0; i < set->count; i++) {
		free(set->keys[i].selector);
		free(set->keys[i].file);
	}
	set->count = 0;
}

/* A Unix time field: 0 or more; -1 malformed. */
static int
dkim_parse_time(const char *text, long long *time_r)
{
	char *end;

	errno = 0;
	*time_r = strtoll(text, &end, 10);
	return errno != 0 || end == text || *end != '\0' || *time_r < 0 ?
	    -1 : 0;
}

/* One "selector type start retire" line; -1 malformed. */
static int
dkim_keys_parse_line(char *line, struct dkim_key *key)
{
	char *fields[4], *save = NULL, *tok;
	long long start, retire;
	int n = 0;

	for (tok = strtok_r(line, " \t", &save); tok != NULL;
	    tok = strtok_r(NULL, " \t", &save)) {
		if (n == 4)
			return -1;
		fields[n++] = tok;
	}
	if (n != 4 || !dkim_selector_valid(fields[0]) ||
	    dkim_key_type_parse(fields[1], &key->type) < 0 ||
	    dkim_parse_time(fields[2], &start) < 0 ||
	    dkim_parse_time(fields[3], &retire) < 0)
		return -1;
	key->selector = xstrdup(fields[0]);
	key->start = start;
	key->retire = retire;
	key->file = NULL;
	return 0;
}

int
dkim_key_file_valid(const char *file)
{
	size_t n = 0, component = 0;
	const char *c;

	for (c = file; *c != '\0'; c++, n++) {
		if (*c == '/') {
			/* "." and ".." components: no way out of DIR. */
			if ((component == 1 && c[-1] == '.') ||
			    (component == 2 && c[-1] == '.' && c[-2] == '.'))
				return 0;
			if (component == 0 && c != file)
				return 0;
			component = 0;
			continue;
		}
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		    (*c >= '0' && *c <= '9') || *c == '.' || *c == '_' ||
		    *c == '-' || *c == '+'))
			return 0;
		component++;
	}
	if (component == 0 || (component == 1 && c[-1] == '.') ||
	    (component == 2 && c[-1] == '.' && c[-2] == '.'))
		return 0;
	return n <= DKIM_KEY_FILE_MAX;
}

int
dkim_key_parse(const char *value, struct dkim_key *key, char **error_r)
{
	char *copy, *fields[5], *p;
	const char *why = NULL;
	int n = 0;

	memset(key, 0, sizeof(*key));
	if (strlen(value) > DKIM_KEY_FILE_MAX + 128) {
		*error_r = xasprintf("DKIM key \"%.64s...\": too long", value);
		return -1;
	}
	copy = xstrdup(value);
	for (p = copy; n < 5; n++) {
		fields[n] = p;
		if ((p = strchr(p, ':')) == NULL) {
			n++;
			break;
		}
		*p++ = '\0';
	}
	if (p != NULL || (n != 3 && n != 5))
		why = "expected SELECTOR:TYPE:FILE[:START:RETIRE]";
	else if (!dkim_selector_valid(fields[0]))
		why = "the selector is not one DNS label";
	else if (dkim_key_type_parse(fields[1], &key->type) < 0)
		why = "the type is neither rsa nor ed25519";
	else if (!dkim_key_file_valid(fields[2]))
		why = "the key file is not a plain path";
	else if (n == 5 && (dkim_parse_time(fields[3], &key->start) < 0 ||
	    dkim_parse_time(fields[4], &key->retire) < 0))
		why = "start and retire are Unix times";
	if (why != NULL) {
		*error_r = xasprintf("DKIM key \"%s\": %s", value, why);
		free(copy);
		return -1;
	}
	key->selector = xstrdup(fields[0]);
	key->file = xstrdup(fields[2]);
	free(copy);
	return 0;
}

char *
dkim_key_format(const struct dkim_key *key)
{
	return xasprintf("%s:%s:%s:%lld:%lld", key->selector,
	    dkim_key_type_name(key->type), key->file, key->start,
	    key->retire);
}

char *
dkim_key_file_path(const char *dir, const char *domain,
	const struct dkim_key *key)
{
	if (key->file == NULL)
		return dkim_key_path(dir, domain, key->selector);
	if (key->file[0] == '/')
		return xstrdup(key->file);
	return xasprintf("%s/%s", dir, key->file);
}

int
dkim_keys_read(const char *dir, const char *domain, struct dkim_keyset *set,
	char **error_r)
{
	char *path, *text, *line, *save = NULL;
	int missing, lineno = 0;

	set->count = 0;
	if (!dkim_domain_valid(domain)) {
		*error_r = xasprintf("bad domain name");
		return -1;
	}
	path = xasprintf("%s/%s/%s", dir, domain, SELECTORS_FILE);
	text = dkim_read_file(path, &missing, error_r);
	if (text == NULL) {
		free(path);
		if (missing) {
			free(*error_r);
			*error_r = NULL;
			return 0;
		}
		return -1;
	}
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		lineno++;
		if (*line == '#' || *line == '\0')
			continue;
		if (set->count == DKIM_KEYS_MAX ||
		    dkim_keys_parse_line(line, &set->keys[set->count]) < 0) {
			*error_r = xasprintf("%s line %d: %s", path, lineno,
			    set->count == DKIM_KEYS_MAX ? "too many keys" :
			    "malformed (selector type start retire)");
			dkim_keys_clear(set);
			free(text);
			free(path);
			return -1;
		}
		set->count++;
	}
	free(text);
	free(path);
	return 1;
}

int
dkim_keys_write(const char *dir, const char *domain,
	const struct dkim_keyset *set, char **error_r)
{
	struct buf *b = buf_new(DKIM_KEYS_FILE_MAX);
	char *path, *tmp, *ddir;
	size_t i;
	int fd, rc = -1;

	(void) buf_append_str(b, "# selector type start retire "
	    "(ispmailctl dkim; Unix times, retire 0: no end)\n");
	for (i = 0; i < set->count; i++)
		(void) buf_printf(b, "%s %s %lld %lld\n",
		    set->keys[i].selector,
		    dkim_key_type_name(set->keys[i].type),
		    set->keys[i].start, set->keys[i].retire);
	ddir = xasprintf("%s/%s", dir, domain);
	path = xasprintf("%s/%s", ddir, SELECTORS_FILE);
	tmp = xasprintf("%s.tmp", path);
	(void) unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0644);
	if (fd < 0) {
		*error_r = xasprintf("create %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (fileio_write_all(fd, buf_cstr(b), buf_len(b), tmp, error_r) < 0 ||
	    fsync(fd) < 0) {
		if (*error_r == NULL)
			*error_r = xasprintf("fsync %s: %s", tmp,
			    strerror(errno));
		close(fd);
		(void) unlink(tmp);
		goto out;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		*error_r = xasprintf("rename %s: %s", tmp, strerror(errno));
		(void) unlink(tmp);
		goto out;
	}
	rc = fileio_fsync_dir(ddir, error_r);
out:
	buf_free(&b);
	free(ddir);
	free(path);
	free(tmp);
	return rc;
}

const struct dkim_key *
dkim_keys_signing(const struct dkim_keyset *set, enum dkim_key_type type,
	long long now)
{
	const struct dkim_key *best = NULL;
	size_t i;

	for (i = 0; i < set->count; i++) {
		const struct dkim_key *k = &set->keys[i];

		if (k->type != type || k->start > now ||
		    (k->retire != 0 && now >= k->retire))
			continue;
		/* Overlapping by hand: the newest one signs. */
		if (best == NULL || k->start >= best->start)
			best = k;
	}
	return best;
}

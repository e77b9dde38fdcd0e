/* route_file: the embedded routing backend, a text map (ispmail-routes(5)). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "address.h"
#include "buf.h"
#include "hash.h"
#include "log.h"
#include "mail_params.h"
#include "params.h"
#include "route.h"
#include "route_backend.h"
#include "xalloc.h"

/* The largest map we read: far past what a single host serves. */
#define ROUTE_FILE_MAX (256 * 1024 * 1024)
/* The longest record, continuation lines joined (a long alias list). */
#define ROUTE_FILE_RECORD_MAX (1024 * 1024)
/* How long a writer waits for another writer's lock. */
#define ROUTE_FILE_LOCK_WAIT_MS 30000
/* The mode of a new map: it holds password hashes. */
#define ROUTE_FILE_NEW_MODE 0640

/* ---- a chained hash table of string keys ---------------------------- */

struct rf_entry {
	struct rf_entry *next;
	char *key;
	unsigned line;			/* where the record was; 0 = written */
	void *value;
};

struct rf_table {
	struct rf_entry **buckets;
	size_t size, count;
};

static struct rf_entry *
rf_find(const struct rf_table *t, const char *key)
{
	struct rf_entry *e;

	if (t->size == 0)
		return NULL;
	for (e = t->buckets[fnv1a32(key) & (t->size - 1)]; e != NULL;
	    e = e->next)
		if (strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

/* Add a key that is not there yet; the table takes key. */
static struct rf_entry *
rf_add(struct rf_table *t, char *key, void *value, unsigned line)
{
	struct rf_entry *e, *next, **buckets;
	size_t i, size;

	if (t->count >= t->size) {
		size = t->size == 0 ? 64 : xalloc_mul(t->size, 2);
		buckets = xcalloc(size, sizeof(*buckets));
		for (i = 0; i < t->size; i++)
			for (e = t->buckets[i]; e != NULL; e = next) {
				next = e->next;
				e->next = buckets[fnv1a32(e->key) & (size - 1)];
				buckets[fnv1a32(e->key) & (size - 1)] = e;
			}
		free(t->buckets);
		t->buckets = buckets;
		t->size = size;
	}
	e = xmalloc(sizeof(*e));
	e->key = key;
	e->value = value;
	e->line = line;
	i = fnv1a32(key) & (t->size - 1);
	e->next = t->buckets[i];
	t->buckets[i] = e;
	t->count++;
	return e;
}

/* Unlink key's entry and return its value (NULL when absent). */
static void *
rf_remove(struct rf_table *t, const char *key)
{
	struct rf_entry **ep, *e;
	void *value;

	if (t->size == 0)
		return NULL;
	for (ep = &t->buckets[fnv1a32(key) & (t->size - 1)]; *ep != NULL;
	    ep = &(*ep)->next) {
		e = *ep;
		if (strcmp(e->key, key) == 0) {
			*ep = e->next;
			value = e->value;
			free(e->key);
			free(e);
			t->count--;
			return value;
		}
	}
	return NULL;
}

static void
rf_table_free(struct rf_table *t, void (*free_value)(void *))
{
	struct rf_entry *e, *next;
	size_t i;

	for (i = 0; i < t->size; i++)
		for (e = t->buckets[i]; e != NULL; e = next) {
			next = e->next;
			if (free_value != NULL)
				free_value(e->value);
			free(e->key);
			free(e);
		}
	free(t->buckets);
	memset(t, 0, sizeof(*t));
}

static int
rf_entry_cmp(const void *a, const void *b)
{
	const struct rf_entry *const *ea = a, *const *eb = b;

	return strcmp((*ea)->key, (*eb)->key);
}

/* The entries sorted by key (the array only; caller frees it). */
static struct rf_entry **
rf_sorted(const struct rf_table *t)
{
	struct rf_entry **all = xcalloc(xalloc_add(t->count, 1),
	    sizeof(*all));
	struct rf_entry *e;
	size_t i, n = 0;

	for (i = 0; i < t->size; i++)
		for (e = t->buckets[i]; e != NULL; e = e->next)
			all[n++] = e;
	qsort(all, n, sizeof(*all), rf_entry_cmp);
	return all;
}

/* ---- the map ---------------------------------------------------------- */

struct rf_map {
	struct rf_table domains;	/* name -> struct route_domain */
	struct rf_table mailboxes;	/* address -> struct route_mailbox */
	struct rf_table alts;		/* alternate -> the mailbox (shared) */
	struct rf_table aliases;	/* address -> struct route_alias */
	struct rf_table recipients;	/* address -> NULL */
};

static void
rf_free_domain(void *value)
{
	struct route_domain *d = value;

	route_domain_free(&d);
}

static void
rf_free_mailbox(void *value)
{
	struct route_mailbox *m = value;

	route_mailbox_free(&m);
}

static void
rf_free_alias(void *value)
{
	struct route_alias *a = value;

	route_alias_free(&a);
}

static void
rf_map_free(struct rf_map **mapp)
{
	struct rf_map *map = *mapp;

	if (map == NULL)
		return;
	rf_table_free(&map->alts, NULL);
	rf_table_free(&map->domains, rf_free_domain);
	rf_table_free(&map->mailboxes, rf_free_mailbox);
	rf_table_free(&map->aliases, rf_free_alias);
	rf_table_free(&map->recipients, NULL);
	xfree(*mapp);
}

/* What already holds an address key, or NULL. */
static const char *
rf_key_owner(const struct rf_map *map, const char *key, unsigned *line_r)
{
	struct rf_entry *e;

	if ((e = rf_find(&map->mailboxes, key)) != NULL) {
		*line_r = e->line;
		return "mailbox";
	}
	if ((e = rf_find(&map->alts, key)) != NULL) {
		*line_r = e->line;
		return "alternate address";
	}
	if ((e = rf_find(&map->aliases, key)) != NULL) {
		*line_r = e->line;
		return "alias";
	}
	return NULL;
}

/* The domain of a normalised address. */
static const char *
rf_domain_of(const char *address)
{
	return strrchr(address, '@') + 1;
}

/*
 * Is the map consistent: every address in a declared domain of the right
 * kind, every alias domain pointing at a declared domain?  NULL when it
 * is, else the reason (new string) and *line_r the record's line.
 */
static char *
rf_map_check(const struct rf_map *map, unsigned *line_r)
{
	const struct {
		const struct rf_table *table;
		const char *what;
		enum route_domain_kind kind;
	} checks[] = {
		{ &map->mailboxes, "mailbox", ROUTE_DOMAIN_LOCAL },
		{ &map->alts, "alternate address", ROUTE_DOMAIN_LOCAL },
		{ &map->aliases, "alias", ROUTE_DOMAIN_LOCAL },
		{ &map->recipients, "recipient", ROUTE_DOMAIN_RELAY },
	};
	const struct rf_table *t;
	const struct route_domain *d;
	struct rf_entry *e, *de;
	size_t c, i;

	for (i = 0; i < map->domains.size; i++)
		for (e = map->domains.buckets[i]; e != NULL; e = e->next) {
			d = e->value;
			if (d->kind != ROUTE_DOMAIN_ALIAS)
				continue;
			de = rf_find(&map->domains, d->alias_target);
			*line_r = e->line;
			if (de == NULL)
				return xasprintf("alias domain %s: target "
				    "domain %s is not declared", d->name,
				    d->alias_target);
		}
	for (c = 0; c < sizeof(checks) / sizeof(checks[0]); c++) {
		t = checks[c].table;
		for (i = 0; i < t->size; i++)
			for (e = t->buckets[i]; e != NULL; e = e->next) {
				de = rf_find(&map->domains,
				    rf_domain_of(e->key));
				*line_r = e->line;
				if (de == NULL)
					return xasprintf("%s %s: domain %s "
					    "is not declared", checks[c].what,
					    e->key, rf_domain_of(e->key));
				d = de->value;
				if (d->kind != checks[c].kind)
					return xasprintf("%s %s: domain %s "
					    "is not a %s domain",
					    checks[c].what, e->key, d->name,
					    checks[c].kind == ROUTE_DOMAIN_LOCAL
					    ? "local" : "relay");
			}
	}
	*line_r = 0;
	return NULL;
}

/* ---- reading ------------------------------------------------------------ */

struct rf_parser {
	struct rf_map *map;
	unsigned line;			/* of the record being parsed */
	char *error;			/* the first problem */
	const char **tokens;		/* of the record, decoded in place */
	size_t token_count, token_alloc;
};

static int __attribute__((format(printf, 2, 3)))
rf_bad(struct rf_parser *p, const char *fmt, ...)
{
	va_list ap;

	if (p->error != NULL)
		return -1;
	va_start(ap, fmt);
	if (vasprintf(&p->error, fmt, ap) < 0)
		log_fatal("out of memory formatting a map error");
	va_end(ap);
	return -1;
}

static int
rf_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode %XX escapes of s[0..len) into a new string. */
static int
rf_decode(struct rf_parser *p, const char *s, size_t len, char **value_r)
{
	char *out = xmalloc(xalloc_add(len, 1));
	size_t i, n = 0;
	int hi, lo;

	for (i = 0; i < len; i++) {
		if (s[i] != '%') {
			out[n++] = s[i];
			continue;
		}
		hi = i + 2 < len ? rf_hexval(s[i + 1]) : -1;
		lo = hi >= 0 ? rf_hexval(s[i + 2]) : -1;
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
			free(out);
			return rf_bad(p, hi == 0 && lo == 0 ? "%%00 (a NUL "
			    "byte) in \"%.*s\"" : "bad %%-escape in \"%.*s\" "
			    "(write %%XX with two hex digits)", (int) len, s);
		}
		out[n++] = (char) (hi * 16 + lo);
		i += 2;
	}
	out[n] = '\0';
	*value_r = out;
	return 0;
}

/* An address key: decoded, checked, normalised (keep_case: targets). */
static int
rf_address(struct rf_parser *p, const char *s, size_t len, int keep_case,
	const char *what, char **norm_r)
{
	char *text, *why = NULL;
	int rc;

	if (rf_decode(p, s, len, &text) < 0)
		return -1;
	rc = address_normalize(text, strlen(text),
	    keep_case || var_route_case_sensitive_local, norm_r, &why);
	if (rc < 0)
		rf_bad(p, "invalid %s \"%s\": %s", what, text, why);
	free(why);
	free(text);
	return rc;
}

static int
rf_domain_name(struct rf_parser *p, const char *s, size_t len,
	char **name_r)
{
	char *text, *why = NULL, *c;

	if (rf_decode(p, s, len, &text) < 0)
		return -1;
	if (address_domain_check(text, strlen(text), 0, &why) < 0) {
		rf_bad(p, "invalid domain \"%s\": %s", text, why);
		free(why);
		free(text);
		return -1;
	}
	for (c = text; *c != '\0'; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char) (*c - 'A' + 'a');
	*name_r = text;
	return 0;
}

/* A comma-separated address list into a NULL-terminated array. */
static int
rf_address_list(struct rf_parser *p, const char *s, char ***list_r,
	size_t *count_r, int keep_case, const char *what)
{
	const char *item, *comma;
	char *norm;

	for (item = s;; item = comma + 1) {
		comma = strchr(item, ',');
		if (comma == NULL)
			comma = item + strlen(item);
		if (comma > item) {
			if (rf_address(p, item, (size_t) (comma - item),
			    keep_case, what, &norm) < 0)
				return -1;
			*list_r = xreallocarray(*list_r, *count_r + 2,
			    sizeof(char *));
			(*list_r)[(*count_r)++] = norm;
			(*list_r)[*count_r] = NULL;
		}
		if (*comma == '\0')
			return 0;
	}
}

/* Split "name=value": the name's length, the value still escaped. */
static int
rf_attribute(struct rf_parser *p, const char *token, const char *kind,
	const char *key, size_t *name_len_r, const char **raw_r)
{
	const char *eq = strchr(token, '=');

	if (eq == NULL || eq == token)
		return rf_bad(p, "%s %s: expected name=value, got \"%s\"",
		    kind, key, token);
	*name_len_r = (size_t) (eq - token);
	*raw_r = eq + 1;
	return 0;
}

static int
rf_is(const char *token, size_t len, const char *name)
{
	return strlen(name) == len && strncmp(token, name, len) == 0;
}

/* Each attribute once: seen is a bit set indexed by the name's row. */
static int
rf_once(struct rf_parser *p, unsigned *seen, unsigned bit, const char *name)
{
	if (*seen & (1u << bit))
		return rf_bad(p, "%s %s: attribute %s given twice",
		    p->tokens[0], p->tokens[1], name);
	*seen |= 1u << bit;
	return 0;
}

static int
rf_parse_domain(struct rf_parser *p)
{
	static const char *const names[] = {
		"catchall", "mailhost", "relayhost", "target",
	};
	struct route_domain *d;
	const char *raw = NULL;
	char *value = NULL;
	struct rf_entry *old;
	unsigned seen = 0, n;
	size_t i, len = 0;

	if (p->token_count < 3)
		return rf_bad(p, "expected: domain NAME local|relay|alias "
		    "[name=value...]");
	d = xcalloc(1, sizeof(*d));
	if (rf_domain_name(p, p->tokens[1], strlen(p->tokens[1]),
	    &d->name) < 0)
		goto fail;
	if (strcmp(p->tokens[2], "local") == 0)
		d->kind = ROUTE_DOMAIN_LOCAL;
	else if (strcmp(p->tokens[2], "relay") == 0)
		d->kind = ROUTE_DOMAIN_RELAY;
	else if (strcmp(p->tokens[2], "alias") == 0)
		d->kind = ROUTE_DOMAIN_ALIAS;
	else {
		rf_bad(p, "domain %s: kind must be local, relay or alias, "
		    "not \"%s\"", d->name, p->tokens[2]);
		goto fail;
	}
	for (i = 3; i < p->token_count; i++) {
		if (rf_attribute(p, p->tokens[i], "domain", d->name, &len,
		    &raw) < 0)
			goto fail;
		for (n = 0; n < sizeof(names) / sizeof(names[0]); n++)
			if (rf_is(p->tokens[i], len, names[n]))
				break;
		if (n == sizeof(names) / sizeof(names[0])) {
			rf_bad(p, "domain %s: unknown attribute \"%.*s\" "
			    "(catchall, mailhost, relayhost, target)",
			    d->name, (int) len, p->tokens[i]);
			goto fail;
		}
		if (rf_once(p, &seen, n, names[n]) < 0)
			goto fail;
		if (n == 0) {
			if (rf_address(p, raw, strlen(raw), 0, "catchall",
			    &d->catchall) < 0)
				goto fail;
		} else if (n == 3) {
			if (rf_domain_name(p, raw, strlen(raw),
			    &d->alias_target) < 0)
				goto fail;
		} else {
			if (rf_decode(p, raw, strlen(raw), &value) < 0)
				goto fail;
			if (n == 1)
				d->mail_host = value;
			else
				d->relay_host = value;
			value = NULL;
		}
	}
	if (d->kind == ROUTE_DOMAIN_ALIAS && d->alias_target == NULL) {
		rf_bad(p, "alias domain %s needs target=DOMAIN", d->name);
		goto fail;
	}
	if (d->kind == ROUTE_DOMAIN_ALIAS
	    && strcmp(d->alias_target, d->name) == 0) {
		rf_bad(p, "alias domain %s points to itself", d->name);
		goto fail;
	}
	if ((old = rf_find(&p->map->domains, d->name)) != NULL) {
		rf_bad(p, "domain %s again (first on line %u)", d->name,
		    old->line);
		goto fail;
	}
	(void) rf_add(&p->map->domains, xstrdup(d->name), d, p->line);
	return 0;
fail:
	route_domain_free(&d);
	return -1;
}

static int
rf_parse_score(struct rf_parser *p, const char *raw, double *score_r)
{
	char *end;

	errno = 0;
	*score_r = strtod(raw, &end);
	if (errno != 0 || end == raw || *end != '\0')
		return rf_bad(p, "bad score \"%s\" (a number such as 5 or "
		    "6.5)", raw);
	return 0;
}

static int
rf_parse_enum(struct rf_parser *p, const char *raw,
	const char *const *names, int count, const char *what, int *value_r)
{
	int i;

	for (i = 0; i < count; i++)
		if (strcmp(raw, names[i]) == 0) {
			*value_r = i;
			return 0;
		}
	return rf_bad(p, "bad %s \"%s\" (%s, %s, %s%s%s)", what, raw,
	    names[0], names[1], names[2], count > 3 ? ", " : "",
	    count > 3 ? names[3] : "");
}

static const char *const rf_state_names[] = {
	"active", "suspended", "disabled", "moving"
};
static const char *const rf_filter_names[] = {
	"off", "standard", "aggressive"
};

/* Index alt addresses to their mailbox; -1 on a taken key. */
static int
rf_index_alts(struct rf_parser *p, struct route_mailbox *m)
{
	const char *owner;
	unsigned line = 0;
	size_t i;

	for (i = 0; i < m->alt_count; i++) {
		owner = rf_key_owner(p->map, m->alt_addresses[i], &line);
		if (owner != NULL || strcmp(m->alt_addresses[i],
		    m->address) == 0) {
			if (owner == NULL)
				owner = "mailbox";
			return rf_bad(p, "mailbox %s: alternate address %s is "
			    "already a%s %s (line %u)", m->address,
			    m->alt_addresses[i], owner[0] == 'a' ? "n" : "",
			    owner, line > 0 ? line : p->line);
		}
		(void) rf_add(&p->map->alts, xstrdup(m->alt_addresses[i]), m,
		    p->line);
	}
	return 0;
}

static int
rf_parse_mailbox(struct rf_parser *p)
{
	enum {
		A_PASSWORD, A_QUOTA, A_STATE, A_HOST, A_PATH, A_FILTER, A_TAG,
		A_QUARANTINE, A_DISCARD, A_ARCHIVE, A_CLASS, A_ALT, A_FORWARD,
		A_KEEPCOPY, A_COUNT
	};
	static const char *const names[A_COUNT] = {
		"password", "quota", "state", "host", "path", "filter", "tag",
		"quarantine", "discard", "archive", "class", "alt", "forward",
		"keepcopy",
	};
	struct route_mailbox *m;
	const char *raw = NULL, *owner;
	char *value = NULL;
	unsigned seen = 0, n, line = 0;
	size_t i, len = 0;
	int num = 0;

	if (p->token_count < 2)
		return rf_bad(p, "expected: mailbox ADDRESS [name=value...]");
	m = xcalloc(1, sizeof(*m));
	m->state = ROUTE_STATE_ACTIVE;
	m->filter = ROUTE_FILTER_STANDARD;
	m->tag_score = 5;
	m->quarantine_score = 10;
	m->discard_score = 20;
	if (rf_address(p, p->tokens[1], strlen(p->tokens[1]), 0, "mailbox",
	    &m->address) < 0)
		goto fail;
	for (i = 2; i < p->token_count; i++) {
		if (rf_attribute(p, p->tokens[i], "mailbox", m->address, &len,
		    &raw) < 0)
			goto fail;
		for (n = 0; n < A_COUNT; n++)
			if (rf_is(p->tokens[i], len, names[n]))
				break;
		if (n == A_COUNT) {
			rf_bad(p, "mailbox %s: unknown attribute \"%.*s\"",
			    m->address, (int) len, p->tokens[i]);
			goto fail;
		}
		if (rf_once(p, &seen, n, names[n]) < 0)
			goto fail;
		if (n == A_ALT || n == A_FORWARD) {
			if (rf_address_list(p, raw, n == A_ALT
			    ? &m->alt_addresses : &m->forwards, n == A_ALT
			    ? &m->alt_count : &m->forward_count, n != A_ALT,
			    names[n]) < 0)
				goto fail;
			continue;
		}
		if (rf_decode(p, raw, strlen(raw), &value) < 0)
			goto fail;
		switch (n) {
		case A_PASSWORD:
			m->password_hash = value;
			value = NULL;
			break;
		case A_QUOTA:
			if (params_parse_size(value, &m->quota) < 0) {
				rf_bad(p, "mailbox %s: bad quota \"%s\" "
				    "(bytes, or a number with k, M or G)",
				    m->address, value);
				goto fail;
			}
			break;
		case A_STATE:
			if (rf_parse_enum(p, value, rf_state_names, 4, "state",
			    &num) < 0)
				goto fail;
			m->state = (enum route_state) num;
			break;
		case A_HOST:
			m->mail_host = value;
			value = NULL;
			break;
		case A_PATH:
			if (value[0] != '/') {
				rf_bad(p, "mailbox %s: path must be absolute: "
				    "%s", m->address, value);
				goto fail;
			}
			m->store_path = value;
			value = NULL;
			break;
		case A_FILTER:
			if (rf_parse_enum(p, value, rf_filter_names, 3, "filter",
			    &num) < 0)
				goto fail;
			m->filter = (enum route_filter_policy) num;
			break;
		case A_TAG:
		case A_QUARANTINE:
		case A_DISCARD:
			if (rf_parse_score(p, value, n == A_TAG ? &m->tag_score
			    : n == A_QUARANTINE ? &m->quarantine_score
			    : &m->discard_score) < 0)
				goto fail;
			break;
		case A_ARCHIVE:
		case A_KEEPCOPY:
			if (params_parse_bool(value, n == A_ARCHIVE
			    ? &m->archive : &m->forward_keep_copy) < 0) {
				rf_bad(p, "mailbox %s: %s must be yes or no",
				    m->address, names[n]);
				goto fail;
			}
			break;
		case A_CLASS:
			m->outbound_class = value;
			value = NULL;
			break;
		}
		xfree(value);
	}
	if (m->alt_addresses == NULL)
		m->alt_addresses = xcalloc(1, sizeof(char *));
	if (m->forwards == NULL)
		m->forwards = xcalloc(1, sizeof(char *));
	if ((owner = rf_key_owner(p->map, m->address, &line)) != NULL) {
		rf_bad(p, "mailbox %s: the address is already a%s %s (line "
		    "%u)", m->address, owner[0] == 'a' ? "n" : "", owner,
		    line);
		goto fail;
	}
	if (rf_index_alts(p, m) < 0) {
		size_t j;

		/* Undo the alternates indexed before the bad one. */
		for (j = 0; j < m->alt_count; j++) {
			struct rf_entry *e = rf_find(&p->map->alts,
			    m->alt_addresses[j]);

			if (e != NULL && e->value == m)
				(void) rf_remove(&p->map->alts,
				    m->alt_addresses[j]);
		}
		goto fail;
	}
	(void) rf_add(&p->map->mailboxes, xstrdup(m->address), m, p->line);
	return 0;
fail:
	free(value);
	route_mailbox_free(&m);
	return -1;
}

static int
rf_parse_alias(struct rf_parser *p)
{
	struct route_alias *a;
	const char *owner;
	unsigned line = 0;
	size_t i;

	if (p->token_count < 3)
		return rf_bad(p, "expected: alias ADDRESS TARGET[,TARGET...]");
	a = xcalloc(1, sizeof(*a));
	if (rf_address(p, p->tokens[1], strlen(p->tokens[1]), 0, "alias",
	    &a->address) < 0)
		goto fail;
	for (i = 2; i < p->token_count; i++)
		if (rf_address_list(p, p->tokens[i], &a->targets,
		    &a->target_count, 1, "alias target") < 0)
			goto fail;
	if (a->target_count == 0) {
		rf_bad(p, "alias %s has no target", a->address);
		goto fail;
	}
	if ((owner = rf_key_owner(p->map, a->address, &line)) != NULL) {
		rf_bad(p, "alias %s: the address is already a%s %s (line %u)",
		    a->address, owner[0] == 'a' ? "n" : "", owner, line);
		goto fail;
	}
	(void) rf_add(&p->map->aliases, xstrdup(a->address), a, p->line);
	return 0;
fail:
	route_alias_free(&a);
	return -1;
}

static int
rf_parse_recipient(struct rf_parser *p)
{
	struct rf_entry *old;
	char *address;

	if (p->token_count != 2)
		return rf_bad(p, "expected: recipient ADDRESS");
	if (rf_address(p, p->tokens[1], strlen(p->tokens[1]), 0, "recipient",
	    &address) < 0)
		return -1;
	if ((old = rf_find(&p->map->recipients, address)) != NULL) {
		rf_bad(p, "recipient %s again (first on line %u)", address,
		    old->line);
		free(address);
		return -1;
	}
	(void) rf_add(&p->map->recipients, address, NULL, p->line);
	return 0;
}

/* Parse one logical record (continuations joined) in place. */
static int
rf_parse_record(struct rf_parser *p, char *record)
{
	char *s = record, *start;

	p->token_count = 0;
	for (;;) {
		while (*s == ' ' || *s == '\t' || *s == '\r')
			s++;
		if (*s == '\0')
			break;
		start = s;
		while (*s != '\0' && *s != ' ' && *s != '\t' && *s != '\r')
			s++;
		if (*s != '\0')
			*s++ = '\0';
		if (p->token_count + 1 >= p->token_alloc) {
			p->token_alloc = p->token_alloc == 0 ? 16
			    : xalloc_mul(p->token_alloc, 2);
			p->tokens = xreallocarray(p->tokens, p->token_alloc,
			    sizeof(*p->tokens));
		}
		p->tokens[p->token_count++] = start;
	}
	if (p->token_count == 0)
		return 0;
	if (strcmp(p->tokens[0], "domain") == 0)
		return rf_parse_domain(p);
	if (strcmp(p->tokens[0], "mailbox") == 0)
		return rf_parse_mailbox(p);
	if (strcmp(p->tokens[0], "alias") == 0)
		return rf_parse_alias(p);
	if (strcmp(p->tokens[0], "recipient") == 0)
		return rf_parse_recipient(p);
	return rf_bad(p, "unknown record \"%s\" (domain, mailbox, alias, "
	    "recipient)", p->tokens[0]);
}

/*
 * Parse a whole map text.  NULL with *error_r "path:line: reason" when
 * any record is bad: the map is taken whole or not at all.
 */
static struct rf_map *
rf_parse(const char *path, char *text, size_t len, char **error_r)
{
	struct rf_parser p;
	struct buf *record = buf_new(ROUTE_FILE_RECORD_MAX);
	char *line, *end, *hash, *problem;
	unsigned lineno = 0, bad_line = 0;
	size_t line_len;
	int rc = 0;

	memset(&p, 0, sizeof(p));
	p.map = xcalloc(1, sizeof(*p.map));
	for (line = text; rc == 0 && line < text + len; line = end + 1) {
		end = memchr(line, '\n', (size_t) (text + len - line));
		if (end == NULL)
			end = text + len;
		lineno++;
		line_len = (size_t) (end - line);
		if (memchr(line, '\0', line_len) != NULL) {
			bad_line = lineno;
			rc = rf_bad(&p, "NUL byte in the line");
			break;
		}
		/* An unescaped '#' starts a comment (values escape it). */
		hash = memchr(line, '#', line_len);
		if (hash != NULL)
			line_len = (size_t) (hash - line);
		while (line_len > 0 && (line[line_len - 1] == ' '
		    || line[line_len - 1] == '\t' || line[line_len - 1] == '\r'))
			line_len--;
		if (line_len == 0)
			continue;
		if (line[0] == ' ' || line[0] == '\t') {
			if (buf_len(record) == 0) {
				bad_line = lineno;
				rc = rf_bad(&p, "continuation line without a "
				    "record before it");
			} else if (buf_append_char(record, ' ') < 0
			    || buf_append(record, line, line_len) < 0) {
				bad_line = p.line;
				rc = rf_bad(&p, "record longer than %d bytes",
				    ROUTE_FILE_RECORD_MAX);
			}
			continue;
		}
		if (buf_len(record) > 0) {
			rc = rf_parse_record(&p, buf_data(record));
			bad_line = p.line;
		}
		buf_reset(record);
		p.line = lineno;
		if (rc == 0 && buf_append(record, line, line_len) < 0) {
			bad_line = lineno;
			rc = rf_bad(&p, "record longer than %d bytes",
			    ROUTE_FILE_RECORD_MAX);
		}
	}
	if (rc == 0 && buf_len(record) > 0) {
		rc = rf_parse_record(&p, buf_data(record));
		bad_line = p.line;
	}
	if (rc == 0 && (problem = rf_map_check(p.map, &bad_line)) != NULL) {
		p.error = problem;
		rc = -1;
	}
	buf_free(&record);
	free(p.tokens);
	if (rc < 0) {
		*error_r = xasprintf("%s:%u: %s", path, bad_line, p.error);
		free(p.error);
		rf_map_free(&p.map);
		return NULL;
	}
	return p.map;
}

/* ---- the backend handle, freshness -------------------------------------- */

struct rf_stamp {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

struct route_file {
	char *path;
	struct rf_map *map;		/* the last good map, or NULL */
	int have_stamp;			/* stamp is of the last load attempt */
	struct rf_stamp stamp;
	int missing;			/* the last attempt found no file */
	char *error;			/* why the last attempt failed */
	struct timespec checked;	/* when the file was last stat()ed */
};

static void
rf_stamp_of(const struct stat *st, struct rf_stamp *stamp)
{
	memset(stamp, 0, sizeof(*stamp));
	stamp->dev = st->st_dev;
	stamp->ino = st->st_ino;
	stamp->size = st->st_size;
	stamp->mtime = st->st_mtim;
}

static int
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
static int
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

static struct route_alias *
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

static int
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

static int
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

static int
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

static int
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

static int
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

static int
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

static int
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

static int
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

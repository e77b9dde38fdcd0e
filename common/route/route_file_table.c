/* route_file_table: the map's hash tables of string keys, and map checks. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "route.h"
#include "route_backend.h"
#include "xalloc.h"

#include "route_file_int.h"

/* ---- a chained hash table of string keys ---------------------------- */

struct rf_entry *
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
struct rf_entry *
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
void *
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
struct rf_entry **
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

void
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
const char *
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
const char *
rf_domain_of(const char *address)
{
	return strrchr(address, '@') + 1;
}

/*
 * Is the map consistent: every address in a declared domain of the right
 * kind, every alias domain pointing at a declared domain?  NULL when it
 * is, else the reason (new string) and *line_r the record's line.
 */
char *
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

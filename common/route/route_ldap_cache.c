/* route_ldap_cache: the LDAP backend's answer cache; see ispmail-ldap(5). */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ldap.h>

#include "hash.h"
#include "log.h"
#include "metrics.h"
#include "mail_params.h"
#include "params.h"
#include "route_backend.h"
#include "xalloc.h"

#include "route_ldap_int.h"

/* ---- the cache ---------------------------------------------------------- */

static void
route_ldap_cache_record_free(struct route_ldap_cache_entry *e)
{
	switch (e->kind) {
	case ROUTE_LDAP_CACHE_DOMAIN: {
		struct route_domain *d = e->record;

		route_domain_free(&d);
		break;
	}
	case ROUTE_LDAP_CACHE_MAILBOX:
	case ROUTE_LDAP_CACHE_ROUTING: {
		struct route_mailbox *m = e->record;

		route_mailbox_free(&m);
		break;
	}
	case ROUTE_LDAP_CACHE_ALIAS: {
		struct route_alias *a = e->record;

		route_alias_free(&a);
		break;
	}
	case ROUTE_LDAP_CACHE_RELAY:
		break;
	}
	e->record = NULL;
}

static void
route_ldap_cache_remove(struct route_ldap *rl, struct route_ldap_cache_entry *e)
{
	struct route_ldap_cache_entry **pp;

	pp = &rl->buckets[(size_t) fnv1a64(e->key) & (rl->bucket_count - 1)];
	while (*pp != e)
		pp = &(*pp)->hash_next;
	*pp = e->hash_next;
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		rl->oldest = e->newer;
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		rl->newest = e->older;
	route_ldap_cache_record_free(e);
	free(e->key);
	free(e);
	rl->cache_count--;
}

/* Forget everything: after a write this process must see it at once. */
void
route_ldap_cache_flush(struct route_ldap *rl)
{
	while (rl->oldest != NULL)
		route_ldap_cache_remove(rl, rl->oldest);
}

static char *
route_ldap_cache_key(enum route_ldap_cache_kind kind, const char *key)
{
	return xasprintf("%c:%s", (char) kind, key);
}

/* Whether answers of kind are ever kept (a TTL above 0). */
static int
route_ldap_cache_keeps(enum route_ldap_cache_kind kind)
{
	if (var_ldap_cache_positive_ttl > 0 || var_ldap_cache_negative_ttl > 0)
		return 1;
	return kind == ROUTE_LDAP_CACHE_DOMAIN && var_ldap_domain_cache_ttl > 0;
}

/* A live entry for (kind, key), or NULL; expired entries are dropped. */
struct route_ldap_cache_entry *
route_ldap_cache_find(struct route_ldap *rl, enum route_ldap_cache_kind kind,
	const char *key)
{
	const char prefix[2] = { (char) kind, ':' };
	struct route_ldap_cache_entry *e;
	uint64_t hash;

	if (rl->bucket_count == 0 || !route_ldap_cache_keeps(kind))
		return NULL;
	/* fnv1a64 of route_ldap_cache_key(kind, key), without making it. */
	hash = fnv1a64_update(fnv1a64_update(FNV1A64_BASIS, prefix,
	    sizeof(prefix)), key, strlen(key));
	for (e = rl->buckets[(size_t) hash & (rl->bucket_count - 1)];
	    e != NULL; e = e->hash_next)
		if (e->key[0] == prefix[0] && strcmp(e->key + 2, key) == 0)
			break;
	if (e != NULL && e->expires <= route_ldap_now()) {
		route_ldap_cache_remove(rl, e);
		e = NULL;
	}
	metrics_inc("ispmail_directory_cache_total", "result",
	    e != NULL ? "hit" : "miss", NULL);
	if (e != NULL)
		log_debug("ldap: cache %s %c:%s", e->found ? "hit" : "negative "
		    "hit", (char) kind, key);
	return e;
}

/* How long an answer of kind is kept: 0 when it is not. */
long long
route_ldap_cache_ttl(const struct route_ldap *rl,
	enum route_ldap_cache_kind kind, int found)
{
	if (rl->bucket_count == 0)
		return 0;
	if (kind == ROUTE_LDAP_CACHE_DOMAIN && var_ldap_domain_cache_ttl > 0)
		return var_ldap_domain_cache_ttl;
	return found ? var_ldap_cache_positive_ttl
	    : var_ldap_cache_negative_ttl;
}

/* Remember an answer (record is taken over); never a temporary failure. */
void
route_ldap_cache_store(struct route_ldap *rl, enum route_ldap_cache_kind kind,
	const char *key, int found, void *record)
{
	struct route_ldap_cache_entry *e, *old;
	long long ttl = route_ldap_cache_ttl(rl, kind, found);
	size_t bucket;

	if (ttl <= 0) {
		/* Not kept (every lookup of an uncached setup is here). */
		struct route_ldap_cache_entry dropped = { 0 };

		dropped.kind = kind;
		dropped.record = record;
		route_ldap_cache_record_free(&dropped);
		return;
	}
	e = xcalloc(1, sizeof(*e));
	e->kind = kind;
	e->found = found;
	e->record = record;
	e->key = route_ldap_cache_key(kind, key);
	e->expires = route_ldap_now() + (time_t) ttl;
	/* Replace an older answer for the same key. */
	bucket = (size_t) fnv1a64(e->key) & (rl->bucket_count - 1);
	for (old = rl->buckets[bucket]; old != NULL; old = old->hash_next)
		if (strcmp(old->key, e->key) == 0)
			break;
	if (old != NULL)
		route_ldap_cache_remove(rl, old);
	/* Bounded: the oldest answer goes first (ldap_cache_size). */
	while (rl->cache_count >= (size_t) var_ldap_cache_size)
		route_ldap_cache_remove(rl, rl->oldest);
	e->hash_next = rl->buckets[bucket];
	rl->buckets[bucket] = e;
	e->older = rl->newest;
	if (rl->newest != NULL)
		rl->newest->newer = e;
	else
		rl->oldest = e;
	rl->newest = e;
	rl->cache_count++;
}

/*
 * A found domain d (taken over) for the caller, and a copy for the
 * cache when it keeps domains; else the caller gets d itself.
 */
void
route_ldap_domain_found(struct route_ldap *rl, const char *name,
	struct route_domain *d, struct route_domain **domain_r)
{
	if (route_ldap_cache_ttl(rl, ROUTE_LDAP_CACHE_DOMAIN, 1) <= 0) {
		*domain_r = d;
		return;
	}
	*domain_r = route_domain_dup(d);
	route_ldap_cache_store(rl, ROUTE_LDAP_CACHE_DOMAIN, name, 1, d);
}

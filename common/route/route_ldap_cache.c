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

/*
 * Eviction is SIEVE (Zhang et al., "SIEVE is Simpler than LRU", NSDI
 * 2024) with a coin flip.  The entries form one queue in insertion order
 * (older, newer); a hit only sets the entry's visited bit, so a hit moves
 * nothing and costs one store.  To make room, a hand walks the queue from
 * the oldest entry towards the newest, and on from where it stopped the
 * time before (wrapping round): a visited entry loses its bit and stays
 * where it is, an unvisited one goes.  Entries that are asked for again
 * survive, an entry asked for once goes after one round of the hand.
 *
 * The coin: SIEVE alone, like FIFO, LRU and CLOCK, keeps nothing when
 * the addresses come round in a cycle longer than the cache (a queue
 * run, a list's recipients, an ISP with somewhat more active recipients
 * than ldap_cache_size, the route-lookup bench): nothing is hit before
 * the hand reaches it, so each entry goes just before it is needed again
 * and the hit rate is zero.  So the hand also passes over each unvisited
 * entry with probability 1/2 (one bit of a xorshift64 word per eviction,
 * 64 passes at most); a passed-over entry stays for another round, is
 * hit on the next cycle and from then on holds its place.  Simulated, a
 * cycle 1.2 times the cache hits about 65% from its third round on, 1.5
 * times about 40%, one just longer than the cache 50% in its second
 * round and over 90% from its fifth (0% with SIEVE, FIFO or LRU).  The
 * price on a skewed load is a few points of hit rate against plain
 * SIEVE (Zipf s = 1 over five times the cache: 76% against 79%; FIFO
 * 71%).  Rejected: 2Q and S3-FIFO promote only what a ghost list of
 * evicted keys remembers, and promote nothing of a cycle either; random
 * eviction (or CLOCK from a random place) keeps more of a cycle just
 * longer than the cache but, like FIFO, loses entries that are hit
 * often to those asked for once.
 *
 * Per lookup a hit sets a bit; per insertion the hand moves on average
 * about two entries plus one per hit since it last passed (SIEVE's
 * amortized O(1)); no allocation beyond the entry.  The seed is fixed:
 * the order is reproducible, and what a client gains by knowing it is
 * nothing that asking for unknown addresses does not give it already.
 */
#define ROUTE_LDAP_CACHE_SEED UINT64_C(0x9e3779b97f4a7c15)

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

/*
 * The bucket of every entry for key, whatever its kind: the answers about
 * one address are found together (route_ldap_cache_store joins two).
 * Keyed (hash_keyed): addresses come from clients, who must not be able
 * to aim many of them at one bucket.
 */
static size_t
route_ldap_cache_bucket(const struct route_ldap *rl, const char *key)
{
	return (size_t) hash_keyed_str(key) & (rl->bucket_count - 1);
}

static void
route_ldap_cache_remove(struct route_ldap *rl, struct route_ldap_cache_entry *e)
{
	struct route_ldap_cache_entry **pp;

	pp = &rl->buckets[route_ldap_cache_bucket(rl, e->key + 2)];
	while (*pp != e)
		pp = &(*pp)->hash_next;
	*pp = e->hash_next;
	if (rl->hand == e)
		rl->hand = e->newer;
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

/* 64 coin flips for one eviction. */
static uint64_t
route_ldap_cache_coins(struct route_ldap *rl)
{
	uint64_t x = rl->cache_coins != 0 ? rl->cache_coins
	    : ROUTE_LDAP_CACHE_SEED;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rl->cache_coins = x;
	return x;
}

/*
 * Make room for one entry: the first unvisited entry from the hand on
 * that the coin does not spare goes (see above).  Ends: the first round
 * clears every visited bit, and the coin spares 64 entries at most.
 */
static void
route_ldap_cache_evict(struct route_ldap *rl)
{
	struct route_ldap_cache_entry *e;
	uint64_t coins = route_ldap_cache_coins(rl);
	unsigned flips = 0;

	e = rl->hand != NULL ? rl->hand : rl->oldest;
	for (;;) {
		if (e->visited)
			e->visited = 0;
		else if (flips >= 64 || ((coins >> flips++) & 1) == 0)
			break;
		e = e->newer != NULL ? e->newer : rl->oldest;
	}
	rl->hand = e;			/* remove moves it on to e->newer */
	route_ldap_cache_remove(rl, e);
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

/*
 * What a search for a mailbox learns from an alias entry that also knows
 * the address is no mailbox (not_mailbox): that it is none.
 */
static struct route_ldap_cache_entry route_ldap_cache_no_mailbox = {
	.kind = ROUTE_LDAP_CACHE_MAILBOX,
};

/* Whether e answers (kind, key). */
static int
route_ldap_cache_answers(const struct route_ldap_cache_entry *e,
	enum route_ldap_cache_kind kind, const char *key)
{
	if (e->key[0] != (char) kind && !(kind == ROUTE_LDAP_CACHE_MAILBOX
	    && e->kind == ROUTE_LDAP_CACHE_ALIAS && e->not_mailbox))
		return 0;
	return strcmp(e->key + 2, key) == 0;
}

/* A live entry for (kind, key), or NULL; expired entries are dropped. */
struct route_ldap_cache_entry *
route_ldap_cache_find(struct route_ldap *rl, enum route_ldap_cache_kind kind,
	const char *key)
{
	struct route_ldap_cache_entry *e;

	if (rl->bucket_count == 0 || !route_ldap_cache_keeps(kind))
		return NULL;
	for (e = rl->buckets[route_ldap_cache_bucket(rl, key)]; e != NULL;
	    e = e->hash_next)
		if (route_ldap_cache_answers(e, kind, key))
			break;
	if (e != NULL && e->expires <= route_ldap_now()) {
		route_ldap_cache_remove(rl, e);
		e = NULL;
	}
	metrics_inc("ispmail_directory_cache_total", "result",
	    e != NULL ? "hit" : "miss", NULL);
	if (e == NULL)
		return NULL;
	e->visited = 1;
	if (e->kind != kind)
		e = &route_ldap_cache_no_mailbox;
	log_debug("ldap: cache %s %c:%s", e->found ? "hit" : "negative hit",
	    (char) kind, key);
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

/*
 * Fold what other entries of key already say into the new entry e, and
 * drop them: the older answer of e's own kind; for an alias, the
 * negative mailbox answer that a routing search stores just before it
 * (route_ldap_local_from), which e then carries (not_mailbox, until the
 * earlier of the two expiry times), so that an address that is no mailbox
 * costs one entry and not two; for a mailbox, the not_mailbox that an
 * alias entry carries, which the new answer replaces.
 */
static void
route_ldap_cache_fold(struct route_ldap *rl, struct route_ldap_cache_entry *e,
	const char *key, struct route_ldap_cache_entry **head)
{
	struct route_ldap_cache_entry *old = NULL, *no_mailbox = NULL, *other;

	for (other = *head; other != NULL; other = other->hash_next) {
		if (strcmp(other->key + 2, key) != 0)
			continue;
		if (other->kind == e->kind)
			old = other;
		else if (e->kind == ROUTE_LDAP_CACHE_ALIAS
		    && other->kind == ROUTE_LDAP_CACHE_MAILBOX && !other->found)
			no_mailbox = other;
		else if (e->kind == ROUTE_LDAP_CACHE_MAILBOX
		    || e->kind == ROUTE_LDAP_CACHE_ROUTING)
			other->not_mailbox = 0;
	}
	if (old != NULL)
		route_ldap_cache_remove(rl, old);
	if (no_mailbox != NULL && no_mailbox->expires > route_ldap_now()) {
		e->not_mailbox = 1;
		if (no_mailbox->expires < e->expires)
			e->expires = no_mailbox->expires;
	}
	if (no_mailbox != NULL)
		route_ldap_cache_remove(rl, no_mailbox);
}

/* Remember an answer (record is taken over); never a temporary failure. */
void
route_ldap_cache_store(struct route_ldap *rl, enum route_ldap_cache_kind kind,
	const char *key, int found, void *record)
{
	struct route_ldap_cache_entry *e;
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
	e->found = found != 0;
	e->record = record;
	e->key = route_ldap_cache_key(kind, key);
	e->expires = route_ldap_now() + (time_t) ttl;
	bucket = route_ldap_cache_bucket(rl, key);
	route_ldap_cache_fold(rl, e, key, &rl->buckets[bucket]);
	/* Bounded: ldap_cache_size entries at most. */
	while (rl->cache_count >= (size_t) var_ldap_cache_size)
		route_ldap_cache_evict(rl);
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

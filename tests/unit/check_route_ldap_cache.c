/*
 * check_route_ldap_cache: the LDAP backend's answer cache
 * (common/route/route_ldap_cache.c) without a directory: what it keeps
 * when full, the cap, the structure after every operation, and one entry
 * for an address that is no mailbox.  The one test program that includes
 * route_ldap_int.h: the cache's queue and hand are what it checks.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "mail_params.h"
#include "params.h"
#include "route_backend.h"
#include "xalloc.h"

#include "route_ldap_int.h"

/* A cache of size entries, as route_ldap_open makes it. */
static struct route_ldap *
cache_new(long long size)
{
	struct route_ldap *rl = xcalloc(1, sizeof(*rl));

	var_ldap_cache_size = size;
	var_ldap_cache_positive_ttl = 300;
	var_ldap_cache_negative_ttl = 300;
	var_ldap_domain_cache_ttl = 0;
	rl->bucket_count = 16;
	while (rl->bucket_count < (size_t) size)
		rl->bucket_count *= 2;
	rl->buckets = xcalloc(rl->bucket_count, sizeof(*rl->buckets));
	return rl;
}

static void
cache_free(struct route_ldap *rl)
{
	route_ldap_cache_flush(rl);
	ck_assert_uint_eq(rl->cache_count, 0);
	ck_assert_ptr_null(rl->hand);
	free(rl->buckets);
	free(rl);
}

/*
 * The queue, the buckets and the hand agree: every entry once in the
 * queue, in the bucket of its key, the count right, the hand on an entry
 * or NULL, the cap held.  One assertion per call: Check records each,
 * and the mix below calls this 20,000 times.
 */
static void
cache_check(const struct route_ldap *rl)
{
	const struct route_ldap_cache_entry *e, *b;
	size_t count = 0, bucket, in_buckets = 0;
	int hand_seen = rl->hand == NULL, linked = 1, hashed = 1;

	for (e = rl->oldest; e != NULL; e = e->newer) {
		linked &= (e->newer != NULL ? e->newer->older : rl->newest)
		    == e;
		bucket = (size_t) hash_keyed_str(e->key + 2) &
		    (rl->bucket_count - 1);
		for (b = rl->buckets[bucket]; b != NULL && b != e;
		    b = b->hash_next)
			;
		hashed &= b == e;
		hand_seen |= e == rl->hand;
		count++;
	}
	for (bucket = 0; bucket < rl->bucket_count; bucket++)
		for (b = rl->buckets[bucket]; b != NULL; b = b->hash_next)
			in_buckets++;
	ck_assert_msg(linked && hashed && hand_seen && count == rl->cache_count
	    && in_buckets == count && count <= (size_t) var_ldap_cache_size,
	    "linked %d hashed %d hand %d count %zu/%zu in buckets %zu cap %lld",
	    linked, hashed, hand_seen, count, rl->cache_count, in_buckets,
	    var_ldap_cache_size);
}

/* Look key up as a relay recipient, storing it on a miss; 1 on a hit. */
static int
cache_touch(struct route_ldap *rl, const char *key)
{
	if (route_ldap_cache_find(rl, ROUTE_LDAP_CACHE_RELAY, key) != NULL)
		return 1;
	route_ldap_cache_store(rl, ROUTE_LDAP_CACHE_RELAY, key, 1, NULL);
	return 0;
}

/* ---- eviction ----------------------------------------------------------- */

/*
 * 120 keys in turn through 100 entries, six times: eviction in insertion
 * order (FIFO, LRU, SIEVE alone) drops each key just before its turn and
 * never hits; from the third pass on most lookups hit.
 */
START_TEST(test_cycle_longer_than_cache)
{
	struct route_ldap *rl = cache_new(100);
	char key[32];
	int pass, i, hits, later = 0;

	for (pass = 0; pass < 6; pass++) {
		hits = 0;
		for (i = 0; i < 120; i++) {
			snprintf(key, sizeof(key), "u%d@example.test", i);
			hits += cache_touch(rl, key);
		}
		cache_check(rl);
		ck_assert_uint_eq(rl->cache_count, 100);
		if (pass == 0)
			ck_assert_int_eq(hits, 0);
		if (pass >= 2)
			later += hits;
	}
	ck_assert_msg(later > 4 * 120 / 2, "%d of 480 hit", later);
	cache_free(rl);
}
END_TEST

/*
 * 20 keys asked for again and again between 2,000 keys asked for once,
 * through 50 entries: the ones that are hit stay (FIFO keeps half).
 */
START_TEST(test_hits_survive_a_scan)
{
	struct route_ldap *rl = cache_new(50);
	char key[32];
	int i, hot_hits = 0;

	for (i = 0; i < 2000; i++) {
		snprintf(key, sizeof(key), "once%d@example.test", i);
		ck_assert_int_eq(cache_touch(rl, key), 0);
		snprintf(key, sizeof(key), "hot%d@example.test", i % 20);
		if (cache_touch(rl, key) && i >= 100)
			hot_hits++;
	}
	cache_check(rl);
	ck_assert_msg(hot_hits > 1900 * 95 / 100, "%d of 1900 hit", hot_hits);
	cache_free(rl);
}
END_TEST

/* A cache of one entry: each new answer replaces it, hit or not. */
START_TEST(test_one_entry)
{
	struct route_ldap *rl = cache_new(1);

	ck_assert_int_eq(cache_touch(rl, "a@example.test"), 0);
	ck_assert_int_eq(cache_touch(rl, "a@example.test"), 1);
	ck_assert_int_eq(cache_touch(rl, "b@example.test"), 0);
	cache_check(rl);
	ck_assert_ptr_null(route_ldap_cache_find(rl, ROUTE_LDAP_CACHE_RELAY,
	    "a@example.test"));
	ck_assert_ptr_nonnull(route_ldap_cache_find(rl,
	    ROUTE_LDAP_CACHE_RELAY, "b@example.test"));
	cache_free(rl);
}
END_TEST

/*
 * Every operation in a pseudo-random mix (lookups, new answers, answers
 * replacing older ones for the key the hand is on, flushes) keeps the
 * structure whole; ASan sees a hand left on a freed entry.
 */
START_TEST(test_structure_under_a_mix)
{
	struct route_ldap *rl = cache_new(32);
	unsigned long long x = 88172645463325252ULL;
	char key[32];
	int step;

	for (step = 0; step < 20000; step++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		snprintf(key, sizeof(key), "k%llu@example.test", x % 48);
		switch ((x >> 32) % 8) {
		case 0:
			/* A new answer for a key that may be cached. */
			route_ldap_cache_store(rl, ROUTE_LDAP_CACHE_RELAY, key,
			    (int) (x >> 40) & 1, NULL);
			break;
		case 1:
			/* A new answer for the key the hand is on. */
			if (rl->hand == NULL)
				break;
			snprintf(key, sizeof(key), "%s", rl->hand->key + 2);
			route_ldap_cache_store(rl, rl->hand->kind, key, 0,
			    NULL);
			break;
		case 2:
			if (x % 97 == 0)
				route_ldap_cache_flush(rl);
			break;
		default:
			(void) cache_touch(rl, key);
			break;
		}
		cache_check(rl);
	}
	cache_free(rl);
}
END_TEST

/* ---- one entry for an address that is no mailbox ----------------------- */

static struct route_alias *
alias_new(const char *address, const char *target)
{
	struct route_alias *a = xcalloc(1, sizeof(*a));

	a->address = xstrdup(address);
	a->targets = xcalloc(1, sizeof(*a->targets));
	a->targets[0] = xstrdup(target);
	a->target_count = 1;
	return a;
}

/* What a routing search stores for an alias and for an unknown address. */
START_TEST(test_alias_carries_no_mailbox)
{
	struct route_ldap *rl = cache_new(10);
	struct route_ldap_cache_entry *e;

	route_ldap_cache_store(rl, ROUTE_LDAP_CACHE_MAILBOX, "al@example.test",
	    0, NULL);
	route_ldap_cache_store(rl, ROUTE_LDAP_CACHE_ALIAS, "al@example.test",
	    1, alias_new("al@example.test", "x@remote.test"));
	route_ldap_cache_store(rl, ROUTE_LDAP_CACHE_MAILBOX,
	    "nobody@example.test", 0, NULL);
	route_ldap_cache_store(rl, ROUTE_LDAP_CACHE_ALIAS,
	    "nobody@example.test", 0, NULL);
	cache_check(rl);
	ck_assert_uint_eq(rl->cache_count, 2);

	e = route_ldap_cache_find(rl, ROUTE_LDAP_CACHE_MAILBOX,
	    "al@example.test");
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(e->found, 0);
	ck_assert_ptr_null(e->record);
	e = route_ldap_cache_find(rl, ROUTE_LDAP_CACHE_ALIAS,
	    "al@example.test");
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(e->found, 1);
	ck_assert_str_eq(((struct route_alias *) e->record)->targets[0],
	    "x@remote.test");
	e = route_ldap_cache_find(rl, ROUTE_LDAP_CACHE_MAILBOX,
	    "nobody@example.test");
	ck_assert(e != NULL && !e->found);
	e = route_ldap_cache_find(rl, ROUTE_LDAP_CACHE_ALIAS,
	    "nobody@example.test");
	ck_assert(e != NULL && !e->found);
	/* Only for its own address, and never for a routing search's hit. */
	ck_assert_ptr_null(route_ldap_cache_find(rl,
	    ROUTE_LDAP_CACHE_MAILBOX, "al2@example.test"));
	ck_assert_ptr_null(route_ldap_cache_find(rl,
	    ROUTE_LDAP_CACHE_ROUTING, "al@example.test"));
	cache_free(rl);
}
END_TEST

/* The joined entry lives as long as the shorter of the two answers. */
START_TEST(test_joined_entry_expires_with_the_shorter)
{
	struct route_ldap *rl = cache_new(10);
	struct route_ldap_cache_entry *e;
	time_t now = route_ldap_now();

	var_ldap_cache_negative_ttl = 10;
	route_ldap_cache_store(rl, ROUTE_LDAP_CACHE_MAILBOX, "al@example.test",
	    0, NULL);
	route_ldap_cache_store(rl, ROUTE_LDAP_CACHE_ALIAS, "al@example.test",
	    1, alias_new("al@example.test", "x@remote.test"));
	e = route_ldap_cache_find(rl, ROUTE_LDAP_CACHE_ALIAS,
	    "al@example.test");
	ck_assert_ptr_nonnull(e);
	ck_assert(e->not_mailbox);
	ck_assert(e->expires >= now + 10 && e->expires <= route_ldap_now()
	    + 10);
	cache_free(rl);
}
END_TEST

/*
 * An alias answer alone (an alias lookup, not a routing search) says
 * nothing about a mailbox; a mailbox answer stored later wins over the
 * "no mailbox" an alias entry carries.
 */
START_TEST(test_no_mailbox_only_when_learnt)
{
	struct route_ldap *rl = cache_new(10);
	struct route_ldap_cache_entry *e;

	route_ldap_cache_store(rl, ROUTE_LDAP_CACHE_ALIAS, "a@example.test",
	    0, NULL);
	ck_assert_ptr_null(route_ldap_cache_find(rl,
	    ROUTE_LDAP_CACHE_MAILBOX, "a@example.test"));

	route_ldap_cache_store(rl, ROUTE_LDAP_CACHE_MAILBOX, "b@example.test",
	    0, NULL);
	route_ldap_cache_store(rl, ROUTE_LDAP_CACHE_ALIAS, "b@example.test",
	    0, NULL);
	route_ldap_cache_store(rl, ROUTE_LDAP_CACHE_MAILBOX, "b@example.test",
	    1, xcalloc(1, sizeof(struct route_mailbox)));
	cache_check(rl);
	ck_assert_uint_eq(rl->cache_count, 3);
	e = route_ldap_cache_find(rl, ROUTE_LDAP_CACHE_MAILBOX,
	    "b@example.test");
	ck_assert(e != NULL && e->found);
	ck_assert_ptr_nonnull(e->record);
	cache_free(rl);
}
END_TEST

static Suite *
route_ldap_cache_suite(void)
{
	Suite *s = suite_create("route_ldap_cache");
	TCase *tc;

	tc = tcase_create("eviction");
	tcase_add_test(tc, test_cycle_longer_than_cache);
	tcase_add_test(tc, test_hits_survive_a_scan);
	tcase_add_test(tc, test_one_entry);
	tcase_add_test(tc, test_structure_under_a_mix);
	suite_add_tcase(s, tc);
	tc = tcase_create("no_mailbox");
	tcase_add_test(tc, test_alias_carries_no_mailbox);
	tcase_add_test(tc, test_joined_entry_expires_with_the_shorter);
	tcase_add_test(tc, test_no_mailbox_only_when_learnt);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(route_ldap_cache_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* anvil_table: connection counts and rates per key (see anvil_table.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "anvil_table.h"
#include "hash.h"
#include "log.h"
#include "xalloc.h"

struct anvil_entry {
	char *key;
	size_t key_len;
	long long count;		/* connections open now */
	long long rate;			/* connections in the window */
	int64_t window_start_ms;
	struct anvil_entry *hash_next;
	/* Least recently used order: lru_prev is more recent. */
	struct anvil_entry *lru_prev, *lru_next;
};

struct anvil_table {
	struct anvil_entry **buckets;
	size_t bucket_count;		/* a power of two */
	size_t size, max_keys;
	int64_t rate_unit_ms;
	struct anvil_entry *lru_head, *lru_tail;	/* most, least recent */
	unsigned long long evictions;
};

/* Keyed (hash_keyed): clients choose addresses and logins. */
static size_t
anvil_hash(const struct anvil_table *t, const char *key, size_t len)
{
	return (size_t) hash_keyed(key, len) & (t->bucket_count - 1);
}

struct anvil_table *
anvil_table_new(size_t max_keys, int64_t rate_unit_ms)
{
	struct anvil_table *t = xcalloc(1, sizeof(*t));

	if (max_keys == 0)
		log_panic("anvil_table_new: max_keys 0");
	t->max_keys = max_keys;
	t->rate_unit_ms = rate_unit_ms;
	t->bucket_count = 64;
	while (t->bucket_count < max_keys && t->bucket_count < (1U << 24))
		t->bucket_count *= 2;
	t->buckets = xcalloc(t->bucket_count, sizeof(*t->buckets));
	return t;
}

static void
lru_unlink(struct anvil_table *t, struct anvil_entry *e)
{
	if (e->lru_prev != NULL)
		e->lru_prev->lru_next = e->lru_next;
	else
		t->lru_head = e->lru_next;
	if (e->lru_next != NULL)
		e->lru_next->lru_prev = e->lru_prev;
	else
		t->lru_tail = e->lru_prev;
	e->lru_prev = e->lru_next = NULL;
}

static void
lru_push_head(struct anvil_table *t, struct anvil_entry *e)
{
	e->lru_prev = NULL;
	e->lru_next = t->lru_head;
	if (t->lru_head != NULL)
		t->lru_head->lru_prev = e;
	t->lru_head = e;
	if (t->lru_tail == NULL)
		t->lru_tail = e;
}

static void
entry_remove(struct anvil_table *t, struct anvil_entry *e)
{
	struct anvil_entry **pp;

	pp = &t->buckets[anvil_hash(t, e->key, e->key_len)];
	while (*pp != e)
		pp = &(*pp)->hash_next;
	*pp = e->hash_next;
	lru_unlink(t, e);
	free(e->key);
	free(e);
	t->size--;
}

static struct anvil_entry *
entry_find(const struct anvil_table *t, const char *key, size_t len)
{
	struct anvil_entry *e;

	for (e = t->buckets[anvil_hash(t, key, len)]; e != NULL;
	    e = e->hash_next)
		if (e->key_len == len && memcmp(e->key, key, len) == 0)
			return e;
	return NULL;
}

/* A key is idle when it has nothing open and its window has passed. */
static int
entry_idle(const struct anvil_table *t, const struct anvil_entry *e,
	int64_t now_ms)
{
	return e->count == 0 && now_ms - e->window_start_ms >= t->rate_unit_ms;
}

/*
 * Free idle keys from the least recent end; stop at the first busy one,
 * so each call costs what it frees plus one.
 */
static void
expire(struct anvil_table *t, int64_t now_ms)
{
	while (t->lru_tail != NULL && entry_idle(t, t->lru_tail, now_ms))
		entry_remove(t, t->lru_tail);
}

/* key's entry, made when new (evicting the least recent when full), now
 * the most recent, its window current. */
static struct anvil_entry *
entry_use(struct anvil_table *t, const char *key, size_t key_len,
	int64_t now_ms)
{
	struct anvil_entry *e;
	size_t b;

	expire(t, now_ms);
	e = entry_find(t, key, key_len);
	if (e == NULL) {
		if (t->size >= t->max_keys) {
			entry_remove(t, t->lru_tail);
			t->evictions++;
		}
		e = xcalloc(1, sizeof(*e));
		e->key = xmalloc(key_len + 1);
		memcpy(e->key, key, key_len);
		e->key[key_len] = '\0';
		e->key_len = key_len;
		e->window_start_ms = now_ms;
		b = anvil_hash(t, key, key_len);
		e->hash_next = t->buckets[b];
		t->buckets[b] = e;
		t->size++;
	} else {
		lru_unlink(t, e);
	}
	lru_push_head(t, e);
	if (now_ms - e->window_start_ms >= t->rate_unit_ms) {
		e->window_start_ms = now_ms;
		e->rate = 0;
	}
	return e;
}

void
anvil_table_connect(struct anvil_table *t, const char *key, size_t key_len,
	int64_t now_ms, long long *count_r, long long *rate_r)
{
	struct anvil_entry *e = entry_use(t, key, key_len, now_ms);

	e->count++;
	e->rate++;
	*count_r = e->count;
	*rate_r = e->rate;
}

long long
anvil_table_rate(const struct anvil_table *t, const char *key,
	size_t key_len, int64_t now_ms)
{
	const struct anvil_entry *e = entry_find(t, key, key_len);

	if (e == NULL || now_ms - e->window_start_ms >= t->rate_unit_ms)
		return 0;
	return e->rate;
}

void
anvil_table_add(struct anvil_table *t, const char *key, size_t key_len,
	int64_t now_ms, long long n)
{
	struct anvil_entry *e = entry_use(t, key, key_len, now_ms);

	e->rate += n;
}

int
anvil_table_disconnect(struct anvil_table *t, const char *key,
	size_t key_len, int64_t now_ms)
{
	struct anvil_entry *e = entry_find(t, key, key_len);

	if (e == NULL)
		return -1;
	if (e->count > 0)
		e->count--;
	expire(t, now_ms);
	return 0;
}

void
anvil_table_peek(struct anvil_table *t, const char *key, size_t key_len,
	int64_t now_ms, long long *count_r, long long *rate_r)
{
	struct anvil_entry *e = entry_find(t, key, key_len);

	*count_r = e != NULL ? e->count : 0;
	*rate_r = anvil_table_rate(t, key, key_len, now_ms);
}

size_t
anvil_table_size(const struct anvil_table *t)
{
	return t->size;
}

unsigned long long
anvil_table_evictions(const struct anvil_table *t)
{
	return t->evictions;
}

void
anvil_table_free(struct anvil_table **tp)
{
	struct anvil_table *t = *tp;
	struct anvil_entry *e, *next;

	if (t == NULL)
		return;
	for (e = t->lru_head; e != NULL; e = next) {
		next = e->lru_next;
		free(e->key);
		free(e);
	}
	free(t->buckets);
	free(t);
	*tp = NULL;
}

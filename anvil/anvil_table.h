/*
 * anvil_table: per (service, client address) connection counts and rates,
 * the state of the anvil daemon (anvil.c), pure: no sockets, no clock
 * (the caller passes the time), tested alone by check_anvil.
 *
 * Each key holds the connections open now (count) and the connections
 * started in the current rate window (rate; a window is rate_unit_ms
 * long and starts with the key's first connection after the previous one
 * ended).  At most max_keys keys are tracked: a new key when the table is
 * full evicts the least recently used one (its counts are forgotten; the
 * eviction count says how often).  Keys without connections whose window
 * has passed are freed as the table is used.  Lookups are a hash with a
 * random seed, so chosen addresses cannot make them slow.
 */
#ifndef ISPMAIL_ANVIL_TABLE_H
#define ISPMAIL_ANVIL_TABLE_H

#include <stddef.h>
#include <stdint.h>

struct anvil_table;

/* An empty table for at most max_keys keys (>= 1). */
struct anvil_table *anvil_table_new(size_t max_keys, int64_t rate_unit_ms);
void anvil_table_free(struct anvil_table **tp);

/*
 * A connection of key (any bytes, key_len long) starts at now_ms: count
 * and rate go up by one and are returned.  Never fails.
 */
void anvil_table_connect(struct anvil_table *t, const char *key,
	size_t key_len, int64_t now_ms, long long *count_r, long long *rate_r);
/*
 * A connection of key ended: its count goes down by one (never below 0).
 * 0 done; -1 the key is not tracked (evicted): nothing changes.
 */
int anvil_table_disconnect(struct anvil_table *t, const char *key,
	size_t key_len, int64_t now_ms);
/*
 * What key has now (count open, rate in the current window), changing
 * nothing: 0 and 0 for a key not tracked.
 */
void anvil_table_peek(struct anvil_table *t, const char *key,
	size_t key_len, int64_t now_ms, long long *count_r, long long *rate_r);
/*
 * The rate of key in its current window, without counting anything: 0
 * when the key is unknown or its window has passed.
 */
long long anvil_table_rate(const struct anvil_table *t, const char *key,
	size_t key_len, int64_t now_ms);
/*
 * Add n (>= 0) to key's rate in its current window (a new window when
 * the last one passed), its count unchanged: for per-account totals (a
 * table whose rate_unit_ms is an hour).  Never fails.
 */
void anvil_table_add(struct anvil_table *t, const char *key, size_t key_len,
	int64_t now_ms, long long n);
/* Keys tracked now. */
size_t anvil_table_size(const struct anvil_table *t);
/* Keys evicted because the table was full, since it was made. */
unsigned long long anvil_table_evictions(const struct anvil_table *t);

#endif

/*
 * anvil_counters: how often each service dropped a client, by reason
 * (anvil(8) "event" and "counters" requests), the second piece of anvil's
 * state; pure: no sockets, no clock, tested alone by check_anvil.
 *
 * A counter is keyed by (service, reason): the service is a master.conf
 * service name, the reason one word of our own vocabulary
 * (junk_command_limit, login_timeout...), never client data.  Names are
 * checked (ANVIL_COUNTERS_NAME_MAX bytes; a service is printable ASCII
 * without spaces or commas, a reason [a-z0-9_]).  At most max_pairs
 * counters exist; an event for a new pair when the table is full is
 * refused and nothing else changes.  Counters are kept in (service,
 * reason) order, so a listing is stable, and live as long as the table.
 */
#ifndef ISPMAIL_ANVIL_COUNTERS_H
#define ISPMAIL_ANVIL_COUNTERS_H

#include <stddef.h>

/* The longest service or reason name. */
#define ANVIL_COUNTERS_NAME_MAX 32

struct anvil_counters;

/* An empty table for at most max_pairs counters (>= 1). */
struct anvil_counters *anvil_counters_new(size_t max_pairs);
void anvil_counters_free(struct anvil_counters **cp);
/*
 * Count one drop of service for reason.  0 counted; -1 a name is
 * invalid or the table is full (*error_r says which, static text).
 */
int anvil_counters_add(struct anvil_counters *c, const char *service,
	const char *reason, const char **error_r);
/* Counters that exist. */
size_t anvil_counters_size(const struct anvil_counters *c);
/*
 * The n-th counter (0-based) in (service, reason) order: 1 with its
 * names (valid while c lives and gets no new pair) and value; 0 past
 * the end.
 */
int anvil_counters_nth(const struct anvil_counters *c, size_t n,
	const char **service_r, const char **reason_r,
	unsigned long long *value_r);

#endif

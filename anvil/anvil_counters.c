/* anvil_counters: drops per (service, reason) (see anvil_counters.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "anvil_counters.h"
#include "log.h"
#include "xalloc.h"

struct anvil_counter {
	char service[ANVIL_COUNTERS_NAME_MAX + 1];
	char reason[ANVIL_COUNTERS_NAME_MAX + 1];
	unsigned long long value;
};

/*
 * A sorted array: the table is small (a few services times a few
 * reasons, capped), so a linear walk costs less than a hash would.
 */
struct anvil_counters {
	struct anvil_counter *pairs;
	size_t size, max_pairs;
};

struct anvil_counters *
anvil_counters_new(size_t max_pairs)
{
	struct anvil_counters *c = xcalloc(1, sizeof(*c));

	if (max_pairs == 0)
		log_panic("anvil_counters_new: max_pairs 0");
	c->max_pairs = max_pairs;
	c->pairs = xcalloc(max_pairs, sizeof(*c->pairs));
	return c;
}

void
anvil_counters_free(struct anvil_counters **cp)
{
	if (*cp == NULL)
		return;
	free((*cp)->pairs);
	free(*cp);
	*cp = NULL;
}

/* 1 when name is 1..ANVIL_COUNTERS_NAME_MAX bytes that are all allowed. */
static int
anvil_counters_name_ok(const char *name, int is_reason)
{
	size_t i, len = strnlen(name, ANVIL_COUNTERS_NAME_MAX + 1);

	if (len == 0 || len > ANVIL_COUNTERS_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char) name[i];

		if (is_reason ? !((ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '_') :
		    (ch <= 0x20 || ch >= 0x7f || ch == ','))
			return 0;
	}
	return 1;
}

static int
anvil_counters_cmp(const struct anvil_counter *p, const char *service,
	const char *reason)
{
	int diff = strcmp(p->service, service);

	return diff != 0 ? diff : strcmp(p->reason, reason);
}

int
anvil_counters_add(struct anvil_counters *c, const char *service,
	const char *reason, const char **error_r)
{
	size_t i;
	int diff = 1;

	if (!anvil_counters_name_ok(service, 0) ||
	    !anvil_counters_name_ok(reason, 1)) {
		*error_r = "invalid service or reason";
		return -1;
	}
	for (i = 0; i < c->size; i++)
		if ((diff = anvil_counters_cmp(&c->pairs[i], service,
		    reason)) >= 0)
			break;
	if (i < c->size && diff == 0) {
		c->pairs[i].value++;
		return 0;
	}
	if (c->size >= c->max_pairs) {
		*error_r = "counter table full";
		return -1;
	}
	memmove(&c->pairs[i + 1], &c->pairs[i],
	    (c->size - i) * sizeof(*c->pairs));
	memset(&c->pairs[i], 0, sizeof(c->pairs[i]));
	memcpy(c->pairs[i].service, service, strlen(service) + 1);
	memcpy(c->pairs[i].reason, reason, strlen(reason) + 1);
	c->pairs[i].value = 1;
	c->size++;
	return 0;
}

size_t
anvil_counters_size(const struct anvil_counters *c)
{
	return c->size;
}

int
anvil_counters_nth(const struct anvil_counters *c, size_t n,
	const char **service_r, const char **reason_r,
	unsigned long long *value_r)
{
	if (n >= c->size)
		return 0;
	*service_r = c->pairs[n].service;
	*reason_r = c->pairs[n].reason;
	*value_r = c->pairs[n].value;
	return 1;
}

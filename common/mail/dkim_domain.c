/* dkim_domain: a domain's DKIM keys from its record or selectors file. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "dkim_domain.h"
#include "route.h"
#include "xalloc.h"

int
dkim_keys_from_record(const struct route_domain *d, struct dkim_keyset *set,
	char **error_r)
{
	size_t i;

	set->count = 0;
	if (d->dkim_selector_count > DKIM_KEYS_MAX) {
		*error_r = xasprintf("domain %s names %zu DKIM keys (at most "
		    "%d)", d->name, d->dkim_selector_count, DKIM_KEYS_MAX);
		return -1;
	}
	for (i = 0; i < d->dkim_selector_count; i++) {
		if (dkim_key_parse(d->dkim_selectors[i],
		    &set->keys[set->count], error_r) < 0) {
			dkim_keys_clear(set);
			return -1;
		}
		set->count++;
	}
	return 0;
}

void
dkim_keys_to_record(struct dkim_keyset *set, struct route_domain *d)
{
	size_t i;

	for (i = 0; i < d->dkim_selector_count; i++)
		free(d->dkim_selectors[i]);
	free(d->dkim_selectors);
	d->dkim_selectors = xcalloc(set->count + 1, sizeof(char *));
	for (i = 0; i < set->count; i++) {
		struct dkim_key *k = &set->keys[i];

		if (k->file == NULL)
			k->file = xasprintf("%s/%s.key", d->name, k->selector);
		d->dkim_selectors[i] = dkim_key_format(k);
	}
	d->dkim_selector_count = set->count;
}

int
dkim_domain_keys(struct route *r, const char *dir, const char *domain,
	struct dkim_keyset *set, enum dkim_source *source_r, char **error_r)
{
	struct route_domain *d = NULL;
	char *error = NULL;
	int rc;

	set->count = 0;
	*source_r = DKIM_SOURCE_NONE;
	if (!dkim_domain_valid(domain)) {
		*error_r = xasprintf("bad domain name");
		return -1;
	}
	if (r == NULL) {
		*error_r = xstrdup("no routing directory");
		return -1;
	}
	rc = route_domain_lookup(r, domain, &d, &error);
	if (rc < 0) {
		*error_r = xasprintf("routing directory: %s", error != NULL ?
		    error : "lookup failed");
		free(error);
		return -1;
	}
	free(error);
	if (rc > 0 && d->dkim_selector_count > 0) {
		rc = dkim_keys_from_record(d, set, error_r);
		route_domain_free(&d);
		if (rc < 0)
			return -1;
		*source_r = DKIM_SOURCE_RECORD;
		return 1;
	}
	route_domain_free(&d);
	rc = dkim_keys_read(dir, domain, set, error_r);
	if (rc > 0)
		*source_r = DKIM_SOURCE_FILE;
	return rc;
}

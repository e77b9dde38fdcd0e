/*
 * dkim_domain: where a domain's DKIM signing keys are named.
 *
 * The domain record of the routing directory names them (route.h,
 * struct route_domain dkim_selectors: one "SELECTOR:TYPE:FILE:START:
 * RETIRE" value a key, dkim_keys.h; ispmail-routes(5) dkim=,
 * ispmail-ldap(5) ispmailDkimSelector).  A domain whose record names
 * none, or that the directory does not hold, is read from its old
 * selectors file in dkim_key_directory/DOMAIN/ as before: the migration
 * path; ispmailctl dkim migrate (or its next keygen or rotate) moves
 * those keys into the record.
 *
 * The record's values are checked when they are used, not when the
 * directory answers: a mistyped key must not make the domain's mail
 * fail, only its signing.
 */
#ifndef ISPMAIL_DKIM_DOMAIN_H
#define ISPMAIL_DKIM_DOMAIN_H

#include "dkim_keys.h"

struct route;
struct route_domain;

enum dkim_source {
	DKIM_SOURCE_NONE = 0,
	DKIM_SOURCE_RECORD,		/* the domain record */
	DKIM_SOURCE_FILE,		/* DIR/DOMAIN/selectors */
};

/*
 * The keys d names into *set (empty when it names none).  0; -1 with
 * *error_r naming the bad value (set is then empty).
 */
int dkim_keys_from_record(const struct route_domain *d,
	struct dkim_keyset *set, char **error_r);
/*
 * Make d name exactly the keys of set, replacing what it named.  A key
 * read from a selectors file gets its file, DOMAIN/SELECTOR.key.
 */
void dkim_keys_to_record(struct dkim_keyset *set, struct route_domain *d);
/*
 * The keys of domain as a signer sees them: the record's, else the
 * selectors file under dir.  1 (*source_r says where), 0 none, -1 with
 * *error_r: the directory could not answer (r NULL: none configured),
 * or a value or the selectors file is malformed.
 */
int dkim_domain_keys(struct route *r, const char *dir, const char *domain,
	struct dkim_keyset *set, enum dkim_source *source_r, char **error_r);

#endif

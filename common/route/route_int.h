/*
 * route_int: what the files of the routing API share (route.c: open,
 * close, normalise, records, lookups; route_expand.c: expansion;
 * route_auth.c: passwords and authentication; route_provision.c: the
 * provisioning API).  Nothing outside common/route/route*.c includes it.
 */
#ifndef ISPMAIL_ROUTE_INT_H
#define ISPMAIL_ROUTE_INT_H

#include "route.h"
#include "route_backend.h"

struct route {
	const struct route_backend_ops *ops;
	void *backend;
};

/* route.c */
/* Set *error_r when the caller wants it; returns rc. */
int __attribute__((format(printf, 3, 4)))
route_fail(char **error_r, int rc, const char *fmt, ...);
/* Hand a backend's error text to the caller, or drop it. */
void
route_pass_error(char **error_r, char *error);
/*
 * A target address kept in a record (a forward, an alias target): its
 * syntax is checked and its domain lower-cased, but the local part keeps
 * its case, because a remote system may care.  Lookups normalise again.
 */
int
route_normalize_target(const char *address, char **norm_r, char **error_r);
/* A domain name as a key: lower case, syntax checked, no literals. */
int
route_normalize_domain(const char *domain, char **norm_r, char **error_r);
/* The domain of a normalised address (after its last '@'). */
const char *
route_domain_of(const char *norm);
/* A deep copy of a. */
struct route_alias *
route_alias_dup(const struct route_alias *a);
/* The backend's record of domain name: 1, 0 (not ours), -1 (error_r). */
int
route_backend_domain(struct route *r, const char *name,
	struct route_domain **domain_r, char **error_r);
/*
 * A local key: a mailbox (exact or alternate), else an alias, with at
 * least fields (enum route_field) filled.
 */
int
route_find_local(struct route *r, const char *key, unsigned fields,
	struct route_mailbox **mailbox_r, struct route_alias **alias_r,
	char **error_r);
/*
 * One step of route_lookup_fields on a normalised address; the catch-all
 * is tried only when allow_catchall (not when resolving a catch-all
 * itself).  When the address's domain is ours, *domain_r (not NULL) is
 * a copy of it and *ours_r (not NULL) is set to 1.
 */
int
route_resolve(struct route *r, const char *norm, unsigned fields,
	int allow_catchall, struct route_answer **answer_r,
	struct route_domain **domain_r, int *ours_r, char **error_r);

#endif

/*
 * route_backend: what a routing directory backend provides to route.c.
 *
 * Backends answer exact-key questions only, on keys route.c has already
 * normalised (lower-case domain, local part per route_case_sensitive_local);
 * route.c does the rest (recipient delimiter, alias domains, catch-alls,
 * expansion, password checks).  Getters are tri-state: 1 found (the
 * record is new and the caller frees it), 0 not found, -1 temporary
 * failure with *error_r (caller frees).  Writers return 0 or -1 with
 * *error_r.  A backend keeps its own caching and connection state in the
 * opaque handle.  error_r is never NULL.  String arrays in returned
 * records end with a NULL after their count (route.c's dup/free rely on
 * the count, ispmailctl on the NULL).  Writers get records route.c has
 * already validated (domain exists and has the right kind, keys are free)
 * but must still refuse what would make their store inconsistent.
 */
#ifndef ISPMAIL_ROUTE_BACKEND_H
#define ISPMAIL_ROUTE_BACKEND_H

#include "route.h"

enum route_list_kind {
	ROUTE_LIST_DOMAINS,
	ROUTE_LIST_MAILBOXES,
	ROUTE_LIST_ALIASES,
	ROUTE_LIST_RELAY_RECIPIENTS,
};

/* address_get's *local_rc_r when it did not look the address up. */
#define ROUTE_BACKEND_NOT_ASKED (-2)

struct route_backend_ops {
	const char *name;
	/* NULL with *error_r when the configuration is unusable. */
	void *(*open)(char **error_r);
	void (*close)(void *backend);

	int (*domain_get)(void *backend, const char *name,
		struct route_domain **domain_r, char **error_r);
	/* By the canonical address or any alternate address. */
	int (*mailbox_get)(void *backend, const char *address,
		struct route_mailbox **mailbox_r, char **error_r);
	int (*alias_get)(void *backend, const char *address,
		struct route_alias **alias_r, char **error_r);
	int (*relay_recipient_get)(void *backend, const char *address,
		char **error_r);
	/*
	 * Optional (NULL: route.c asks mailbox_get, then alias_get): the
	 * address as a mailbox, else as an alias, in one question to the
	 * store, with at least fields (enum route_field) filled and never
	 * the password hash.  1 (*mailbox_r or *alias_r set), 0 neither,
	 * -1.
	 */
	int (*local_get)(void *backend, const char *address, unsigned fields,
		struct route_mailbox **mailbox_r, struct route_alias **alias_r,
		char **error_r);
	/*
	 * Optional (NULL: route.c asks domain_get, then the rest): the
	 * domain of address as domain_get answers it (1, 0, -1) and, when
	 * it is found and local, from the same round trip, the address as
	 * local_get answers it (with fields): *local_rc_r 1 (*mailbox_r or
	 * *alias_r set)
	 * or 0.  Otherwise *local_rc_r is ROUTE_BACKEND_NOT_ASKED and the
	 * caller asks on its own.  A failure of either part is -1.
	 */
	int (*address_get)(void *backend, const char *address,
		unsigned fields, struct route_domain **domain_r, int *local_rc_r,
		struct route_mailbox **mailbox_r, struct route_alias **alias_r,
		char **error_r);

	int (*domain_put)(void *backend, const struct route_domain *domain,
		int create_only, char **error_r);
	int (*domain_delete)(void *backend, const char *name, char **error_r);
	int (*mailbox_put)(void *backend, const struct route_mailbox *mailbox,
		int create_only, char **error_r);
	int (*mailbox_delete)(void *backend, const char *address,
		char **error_r);
	int (*alias_put)(void *backend, const struct route_alias *alias,
		int create_only, char **error_r);
	int (*alias_delete)(void *backend, const char *address,
		char **error_r);
	int (*relay_recipient_put)(void *backend, const char *address,
		char **error_r);
	int (*relay_recipient_delete)(void *backend, const char *address,
		char **error_r);
	/* domain is NULL for ROUTE_LIST_DOMAINS.  Sorted, NULL-terminated. */
	int (*list)(void *backend, enum route_list_kind kind,
		const char *domain, char ***names_r, char **error_r);

	/*
	 * Optional (NULL when unsupported): verify a password by binding as
	 * the user (LDAP, ldap_auth_bind = yes).  route_auth.c calls it with
	 * the canonical address of the mailbox mailbox_get found.  1 ok, 0
	 * refused, -1 temporary failure.
	 */
	int (*auth_bind)(void *backend, const char *address,
		const char *password, char **error_r);
};

extern const struct route_backend_ops route_backend_file;
extern const struct route_backend_ops route_backend_ldap;

#endif

/*
 * route_provision: the provisioning API (domain, mailbox, alias and relay
 * recipient put, delete, get and list) over the backend's writers.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "dkim_domain.h"
#include "route.h"
#include "route_backend.h"
#include "xalloc.h"

#include "route_int.h"

/* ---- provisioning --------------------------------------------------------- */

/* Run a backend writer's result through: 0, or -1 with its text. */
int
route_error_temporary(const char *error)
{
	return error != NULL && strncmp(error, ROUTE_ERROR_UNREACHABLE,
	    strlen(ROUTE_ERROR_UNREACHABLE)) == 0;
}

static int
route_write_result(int rc, char *error, char **error_r, const char *what)
{
	if (rc < 0)
		route_pass_error(error_r, error != NULL ? error
		    : xasprintf("%s failed", what));
	else
		free(error);
	return rc < 0 ? -1 : 0;
}

/*
 * The domain of address must be ours and of kind want (0: any); its
 * record goes to *domain_r when not NULL.  0 ok, -1 with *error_r.
 */
static int
route_need_domain(struct route *r, const char *norm,
	enum route_domain_kind want, const char *what, char **error_r)
{
	static const char *const kinds[] = { "?", "local", "relay", "alias" };
	struct route_domain *d = NULL;
	const char *domain = route_domain_of(norm);
	int rc;

	rc = route_backend_domain(r, domain, &d, error_r);
	if (rc < 0)
		return -1;
	if (rc == 0)
		return route_fail(error_r, -1, "unknown domain %s", domain);
	if (want != 0 && d->kind != want)
		rc = route_fail(error_r, -1, "%s is %s %s domain: %s live in "
		    "%s domains", domain, d->kind == ROUTE_DOMAIN_ALIAS ? "an"
		    : "a", kinds[d->kind], what, kinds[want]);
	else
		rc = 0;
	route_domain_free(&d);
	return rc;
}

/* Entries of kind in domain: the count, or -1 with *error_r. */
static long
route_count(struct route *r, enum route_list_kind kind, const char *domain,
	char **error_r)
{
	char **names = NULL, *error = NULL;
	long count = 0;

	if (r->ops->list(r->backend, kind, domain, &names, &error) < 0) {
		route_pass_error(error_r, error != NULL ? error
		    : xstrdup("list failed"));
		return -1;
	}
	free(error);
	while (names[count] != NULL)
		count++;
	route_names_free(&names);
	return count;
}

/* Refuse to drop or re-kind a domain that still has entries. */
static int
route_domain_check_empty(struct route *r, const char *name,
	const char *action, char **error_r)
{
	static const struct {
		enum route_list_kind kind;
		const char *what;
	} lists[] = {
		{ ROUTE_LIST_MAILBOXES, "mailbox(es)" },
		{ ROUTE_LIST_ALIASES, "alias(es)" },
		{ ROUTE_LIST_RELAY_RECIPIENTS, "relay recipient(s)" },
	};
	size_t i;
	long count;

	for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		count = route_count(r, lists[i].kind, name, error_r);
		if (count < 0)
			return -1;
		if (count > 0)
			return route_fail(error_r, -1, "domain %s still has "
			    "%ld %s: %s", name, count, lists[i].what, action);
	}
	return 0;
}

/* The domain's DMARC policy and DKIM keys are well-formed: 0 / -1. */
static int
route_domain_check_policy(const struct route_domain *d, char **error_r)
{
	struct dkim_keyset set;
	char *error = NULL;

	if ((unsigned) d->dmarc >= ROUTE_DMARC_POLICIES)
		return route_fail(error_r, -1, "domain %s: unknown dmarc "
		    "policy %d", d->name, (int) d->dmarc);
	if (dkim_keys_from_record(d, &set, &error) < 0) {
		(void) route_fail(error_r, -1, "domain %s: %s", d->name,
		    error);
		free(error);
		return -1;
	}
	dkim_keys_clear(&set);
	return 0;
}

int
route_domain_put(struct route *r, const struct route_domain *domain,
	int create_only, char **error_r)
{
	struct route_domain *d = route_domain_dup(domain), *old = NULL;
	struct route_domain *target = NULL;
	char *norm = NULL, *error = NULL;
	int rc = -1, found;

	free(d->name);
	d->name = NULL;
	if (domain->name == NULL) {
		(void) route_fail(error_r, -1, "a domain needs a name");
		goto out;
	}
	if (route_normalize_domain(domain->name, &d->name, error_r) < 0)
		goto out;
	if (d->kind != ROUTE_DOMAIN_LOCAL && d->kind != ROUTE_DOMAIN_RELAY
	    && d->kind != ROUTE_DOMAIN_ALIAS) {
		(void) route_fail(error_r, -1, "domain %s: unknown kind %d",
		    d->name, (int) d->kind);
		goto out;
	}
	if (d->kind == ROUTE_DOMAIN_ALIAS) {
		if (d->alias_target == NULL) {
			(void) route_fail(error_r, -1, "alias domain %s needs "
			    "a target domain", d->name);
			goto out;
		}
		if (route_normalize_domain(domain->alias_target, &norm,
		    error_r) < 0)
			goto out;
		free(d->alias_target);
		d->alias_target = norm;
		norm = NULL;
		if (strcmp(d->alias_target, d->name) == 0) {
			(void) route_fail(error_r, -1, "alias domain %s "
			    "cannot point to itself", d->name);
			goto out;
		}
		found = route_backend_domain(r, d->alias_target, &target,
		    error_r);
		if (found < 0)
			goto out;
		if (found == 0 || target->kind == ROUTE_DOMAIN_ALIAS) {
			(void) route_fail(error_r, -1, found == 0
			    ? "unknown domain %s" : "alias domain target %s "
			    "is itself an alias domain", d->alias_target);
			goto out;
		}
	}
	if (route_domain_check_policy(d, error_r) < 0)
		goto out;
	if (d->catchall != NULL) {
		if (route_normalize(r, domain->catchall, &norm, &error) < 0) {
			(void) route_fail(error_r, -1, "domain %s: invalid "
			    "catch-all \"%s\": %s", d->name, domain->catchall,
			    error);
			goto out;
		}
		free(d->catchall);
		d->catchall = norm;
		norm = NULL;
	}
	found = route_backend_domain(r, d->name, &old, error_r);
	if (found < 0)
		goto out;
	if (found > 0 && create_only) {
		(void) route_fail(error_r, -1, "domain %s exists", d->name);
		goto out;
	}
	if (found > 0 && old->kind != d->kind
	    && route_domain_check_empty(r, d->name, "cannot change its kind",
	    error_r) < 0)
		goto out;
	rc = r->ops->domain_put(r->backend, d, create_only, &error);
	rc = route_write_result(rc, error, error_r, "domain put");
	error = NULL;
out:
	free(error);
	free(norm);
	route_domain_free(&d);
	route_domain_free(&old);
	route_domain_free(&target);
	return rc;
}

int
route_domain_delete(struct route *r, const char *name, char **error_r)
{
	struct route_domain *other = NULL;
	char **names = NULL, *norm = NULL, *error = NULL;
	int rc = -1, found;
	size_t i;

	if (route_normalize_domain(name, &norm, error_r) < 0)
		return -1;
	if (route_domain_check_empty(r, norm, "delete them first",
	    error_r) < 0)
		goto out;
	/* An alias domain pointing here would be left dangling. */
	if (r->ops->list(r->backend, ROUTE_LIST_DOMAINS, NULL, &names,
	    &error) < 0) {
		route_pass_error(error_r, error);
		error = NULL;
		goto out;
	}
	for (i = 0; names[i] != NULL; i++) {
		found = route_backend_domain(r, names[i], &other, error_r);
		if (found < 0)
			goto out;
		if (found > 0 && other->kind == ROUTE_DOMAIN_ALIAS
		    && other->alias_target != NULL
		    && strcmp(other->alias_target, norm) == 0) {
			(void) route_fail(error_r, -1, "domain %s is the "
			    "target of alias domain %s: delete that first",
			    norm, other->name);
			goto out;
		}
		route_domain_free(&other);
	}
	rc = r->ops->domain_delete(r->backend, norm, &error);
	rc = route_write_result(rc, error, error_r, "domain delete");
	error = NULL;
out:
	route_domain_free(&other);
	route_names_free(&names);
	free(error);
	free(norm);
	return rc;
}

/* Is key already someone else's?  0 free, -1 taken or failure. */
static int
route_key_free(struct route *r, const char *key, const char *owner,
	char **error_r)
{
	struct route_mailbox *m = NULL;
	struct route_alias *a = NULL;
	int rc;

	/* Whose it is: the addresses alone. */
	rc = route_find_local(r, key, 0, &m, &a, error_r);
	if (rc < 0)
		return -1;
	if (rc == 0)
		return 0;
	if (m != NULL && owner != NULL && strcmp(m->address, owner) == 0)
		rc = 0;		/* the mailbox being replaced */
	else if (m != NULL)
		(void) route_fail(error_r, -1, strcmp(m->address, key) == 0
		    ? "mailbox %s exists" : "%s is an address of mailbox %s",
		    key, m->address);
	else
		(void) route_fail(error_r, -1, "alias %s exists", key);
	route_mailbox_free(&m);
	route_alias_free(&a);
	return rc == 0 ? 0 : -1;
}

/* Normalise a list of addresses in place (keep_case: targets). */
static int
route_normalize_list(struct route *r, char **list, size_t count,
	int keep_case, const char *what, char **error_r)
{
	char *norm = NULL, *why = NULL;
	size_t i;
	int rc;

	for (i = 0; i < count; i++) {
		rc = keep_case ? route_normalize_target(list[i], &norm, &why)
		    : route_normalize(r, list[i], &norm, &why);
		if (rc < 0) {
			(void) route_fail(error_r, -1, "invalid %s \"%s\": %s",
			    what, list[i], why);
			free(why);
			return -1;
		}
		free(list[i]);
		list[i] = norm;
	}
	return 0;
}

int
route_mailbox_put(struct route *r, const struct route_mailbox *mailbox,
	int create_only, char **error_r)
{
	struct route_mailbox *m = NULL;
	char *error = NULL;
	int rc = -1;
	size_t i, j;

	if (mailbox->address == NULL)
		return route_fail(error_r, -1, "a mailbox needs an address");
	m = route_mailbox_dup(mailbox);
	free(m->address);
	m->address = NULL;
	if (route_normalize(r, mailbox->address, &m->address, &error) < 0) {
		(void) route_fail(error_r, -1, "invalid address \"%s\": %s",
		    mailbox->address, error);
		goto out;
	}
	if ((unsigned) m->state > ROUTE_STATE_MOVING
	    || (unsigned) m->filter > ROUTE_FILTER_AGGRESSIVE || m->quota < 0
	    || (unsigned) m->dmarc >= ROUTE_DMARC_POLICIES) {
		(void) route_fail(error_r, -1, "mailbox %s: state, filter, "
		    "quota or dmarc out of range", m->address);
		goto out;
	}
	if (m->store_path != NULL && m->store_path[0] != '/') {
		(void) route_fail(error_r, -1, "mailbox %s: store path must "
		    "be absolute: %s", m->address, m->store_path);
		goto out;
	}
	if (route_need_domain(r, m->address, ROUTE_DOMAIN_LOCAL, "mailboxes",
	    error_r) < 0)
		goto out;
	if (route_normalize_list(r, m->alt_addresses, m->alt_count, 0,
	    "alternate address", error_r) < 0
	    || route_normalize_list(r, m->forwards, m->forward_count, 1,
	    "forward address", error_r) < 0)
		goto out;
	if (create_only
	    && route_key_free(r, m->address, NULL, error_r) < 0)
		goto out;
	if (!create_only
	    && route_key_free(r, m->address, m->address, error_r) < 0)
		goto out;
	for (i = 0; i < m->alt_count; i++) {
		if (strcmp(m->alt_addresses[i], m->address) == 0) {
			(void) route_fail(error_r, -1, "mailbox %s: an "
			    "alternate address equals the address",
			    m->address);
			goto out;
		}
		for (j = 0; j < i; j++)
			if (strcmp(m->alt_addresses[i],
			    m->alt_addresses[j]) == 0) {
				(void) route_fail(error_r, -1, "mailbox %s: "
				    "alternate address %s twice", m->address,
				    m->alt_addresses[i]);
				goto out;
			}
		if (route_need_domain(r, m->alt_addresses[i],
		    ROUTE_DOMAIN_LOCAL, "alternate addresses", error_r) < 0
		    || route_key_free(r, m->alt_addresses[i], m->address,
		    error_r) < 0)
			goto out;
	}
	rc = r->ops->mailbox_put(r->backend, m, create_only, &error);
	rc = route_write_result(rc, error, error_r, "mailbox put");
	error = NULL;
out:
	free(error);
	route_mailbox_free(&m);
	return rc;
}

/* Normalise an address given to a delete call. */
static int
route_key(struct route *r, const char *address, char **norm_r,
	char **error_r)
{
	char *why = NULL;

	if (route_normalize(r, address, norm_r, &why) == 0)
		return 0;
	(void) route_fail(error_r, -1, "invalid address \"%s\": %s", address,
	    why);
	free(why);
	return -1;
}

int
route_mailbox_delete(struct route *r, const char *address, char **error_r)
{
	char *norm = NULL, *error = NULL;
	int rc;

	if (route_key(r, address, &norm, error_r) < 0)
		return -1;
	rc = r->ops->mailbox_delete(r->backend, norm, &error);
	free(norm);
	return route_write_result(rc, error, error_r, "mailbox delete");
}

int
route_alias_put(struct route *r, const struct route_alias *alias,
	int create_only, char **error_r)
{
	struct route_alias *a = NULL, *old = NULL;
	char *error = NULL, *target = NULL;
	int rc = -1;
	size_t i;

	if (alias->address == NULL || alias->target_count == 0)
		return route_fail(error_r, -1, "an alias needs an address and "
		    "at least one target");
	a = route_alias_dup(alias);
	free(a->address);
	a->address = NULL;
	if (route_key(r, alias->address, &a->address, error_r) < 0)
		goto out;
	if (route_need_domain(r, a->address, ROUTE_DOMAIN_LOCAL, "aliases",
	    error_r) < 0)
		goto out;
	if (route_normalize_list(r, a->targets, a->target_count, 1,
	    "alias target", error_r) < 0)
		goto out;
	for (i = 0; i < a->target_count; i++) {
		if (route_normalize(r, a->targets[i], &target, NULL) == 0
		    && strcmp(target, a->address) == 0) {
			(void) route_fail(error_r, -1, "alias %s points to "
			    "itself", a->address);
			goto out;
		}
		xfree(target);
	}
	/* The alias may replace itself, never a mailbox. */
	rc = r->ops->alias_get(r->backend, a->address, &old, &error);
	if (rc < 0) {
		route_pass_error(error_r, error);
		error = NULL;
		goto out;
	}
	free(error);
	error = NULL;
	if (rc > 0 && create_only) {
		rc = route_fail(error_r, -1, "alias %s exists", a->address);
		goto out;
	}
	if (rc == 0 && route_key_free(r, a->address, NULL, error_r) < 0) {
		rc = -1;
		goto out;
	}
	rc = r->ops->alias_put(r->backend, a, create_only, &error);
	rc = route_write_result(rc, error, error_r, "alias put");
	error = NULL;
out:
	free(target);
	free(error);
	route_alias_free(&a);
	route_alias_free(&old);
	return rc;
}

int
route_alias_delete(struct route *r, const char *address, char **error_r)
{
	char *norm = NULL, *error = NULL;
	int rc;

	if (route_key(r, address, &norm, error_r) < 0)
		return -1;
	rc = r->ops->alias_delete(r->backend, norm, &error);
	free(norm);
	return route_write_result(rc, error, error_r, "alias delete");
}

int
route_relay_recipient_put(struct route *r, const char *address,
	char **error_r)
{
	char *norm = NULL, *error = NULL;
	int rc;

	if (route_key(r, address, &norm, error_r) < 0)
		return -1;
	if (route_need_domain(r, norm, ROUTE_DOMAIN_RELAY, "relay recipients",
	    error_r) < 0) {
		free(norm);
		return -1;
	}
	rc = r->ops->relay_recipient_put(r->backend, norm, &error);
	free(norm);
	return route_write_result(rc, error, error_r, "relay recipient put");
}

int
route_relay_recipient_delete(struct route *r, const char *address,
	char **error_r)
{
	char *norm = NULL, *error = NULL;
	int rc;

	if (route_key(r, address, &norm, error_r) < 0)
		return -1;
	rc = r->ops->relay_recipient_delete(r->backend, norm, &error);
	free(norm);
	return route_write_result(rc, error, error_r,
	    "relay recipient delete");
}

/*
 * A direct read by exact key: the mailbox when mailbox_r is given, else
 * the alias.  An address that does not normalise is not found.
 */
static int
route_get(struct route *r, const char *address,
	struct route_mailbox **mailbox_r, struct route_alias **alias_r,
	char **error_r)
{
	char *norm = NULL, *error = NULL;
	int rc;

	if (route_normalize(r, address, &norm, NULL) < 0)
		return 0;
	if (mailbox_r != NULL)
		rc = r->ops->mailbox_get(r->backend, norm, mailbox_r, &error);
	else
		rc = r->ops->alias_get(r->backend, norm, alias_r, &error);
	free(norm);
	if (rc < 0)
		route_pass_error(error_r, error);
	else
		free(error);
	return rc;
}

int
route_mailbox_get(struct route *r, const char *address,
	struct route_mailbox **mailbox_r, char **error_r)
{
	*mailbox_r = NULL;
	return route_get(r, address, mailbox_r, NULL, error_r);
}

int
route_alias_get(struct route *r, const char *address,
	struct route_alias **alias_r, char **error_r)
{
	*alias_r = NULL;
	return route_get(r, address, NULL, alias_r, error_r);
}

static int
route_list(struct route *r, enum route_list_kind kind, const char *domain,
	char ***names_r, char **error_r)
{
	char *norm = NULL, *error = NULL;
	int rc;

	*names_r = NULL;
	if (domain != NULL
	    && route_normalize_domain(domain, &norm, error_r) < 0)
		return -1;
	rc = r->ops->list(r->backend, kind, norm, names_r, &error);
	free(norm);
	return route_write_result(rc, error, error_r, "list");
}

int
route_list_domains(struct route *r, char ***names_r, char **error_r)
{
	return route_list(r, ROUTE_LIST_DOMAINS, NULL, names_r, error_r);
}

int
route_list_mailboxes(struct route *r, const char *domain, char ***names_r,
	char **error_r)
{
	return route_list(r, ROUTE_LIST_MAILBOXES, domain, names_r, error_r);
}

int
route_list_aliases(struct route *r, const char *domain, char ***names_r,
	char **error_r)
{
	return route_list(r, ROUTE_LIST_ALIASES, domain, names_r, error_r);
}

int
route_list_relay_recipients(struct route *r, const char *domain,
	char ***names_r, char **error_r)
{
	return route_list(r, ROUTE_LIST_RELAY_RECIPIENTS, domain, names_r,
	    error_r);
}

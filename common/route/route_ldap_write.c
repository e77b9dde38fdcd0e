/* route_ldap_write: provisioning writes and lists. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <ldap.h>

#include "buf.h"
#include "log.h"
#include "mail_params.h"
#include "params.h"
#include "route_backend.h"
#include "xalloc.h"

#include "route_ldap_int.h"

/* ---- writers ------------------------------------------------------------ */

/* The LDAPMod list of one add or modify; values are owned copies. */
struct route_ldap_mods {
	LDAPMod **mods;			/* NULL-terminated */
	size_t count;
	int replace;			/* modify (REPLACE) rather than add */
};

/*
 * Set attr to values (NULL-terminated, taken over).  An add leaves out
 * empty attributes; a modify replaces with no values, which deletes the
 * attribute and is not an error when it is absent (RFC 4511 4.6).
 */
static void
route_ldap_mods_set(struct route_ldap_mods *ml, const char *attr,
	char **values)
{
	LDAPMod *mod;

	if (!ml->replace && values[0] == NULL) {
		free(values);
		return;
	}
	mod = xcalloc(1, sizeof(*mod));
	mod->mod_op = ml->replace ? LDAP_MOD_REPLACE : LDAP_MOD_ADD;
	mod->mod_type = xstrdup(attr);
	mod->mod_values = values;
	ml->mods = xreallocarray(ml->mods, ml->count + 2, sizeof(*ml->mods));
	ml->mods[ml->count++] = mod;
	ml->mods[ml->count] = NULL;
}

static void
route_ldap_mods_str(struct route_ldap_mods *ml, const char *attr,
	const char *value)
{
	char **values = xcalloc(2, sizeof(*values));

	if (value != NULL && value[0] != '\0')
		values[0] = xstrdup(value);
	route_ldap_mods_set(ml, attr, values);
}

static void
route_ldap_mods_list(struct route_ldap_mods *ml, const char *attr,
	char *const *list, size_t count)
{
	route_ldap_mods_set(ml, attr, route_ldap_strv_dup(list, count));
}

static void
route_ldap_mods_own(struct route_ldap_mods *ml, const char *attr,
	char *value)
{
	route_ldap_mods_str(ml, attr, value);
	free(value);
}

static void
route_ldap_mods_free(struct route_ldap_mods *ml)
{
	size_t i, j;

	for (i = 0; i < ml->count; i++) {
		for (j = 0; ml->mods[i]->mod_values[j] != NULL; j++) {
			explicit_bzero(ml->mods[i]->mod_values[j],
			    strlen(ml->mods[i]->mod_values[j]));
			free(ml->mods[i]->mod_values[j]);
		}
		free(ml->mods[i]->mod_values);
		free(ml->mods[i]->mod_type);
		free(ml->mods[i]);
	}
	free(ml->mods);
	ml->mods = NULL;
	ml->count = 0;
}

/*
 * The DN of the entry filter names (search by filter, so entries an
 * operator placed elsewhere under the base are found too).  1, 0, -1.
 */
int
route_ldap_find_dn(struct route_ldap *rl, const char *filter, char **dn_r,
	char **error_r)
{
	struct route_ldap_conn *conn;
	LDAPMessage *res, *entry;
	int ldrc, rc = 0;
	char *dn;

	*dn_r = NULL;
	if (route_ldap_search(rl, rl->base_dn, LDAP_SCOPE_SUBTREE, filter,
	    route_ldap_no_attrs, ROUTE_LDAP_LOOKUP_SIZELIMIT, &conn, &res,
	    &ldrc, error_r) < 0)
		return -1;
	if (ldrc == LDAP_NO_SUCH_OBJECT) {
		*error_r = xasprintf("ldap_base_dn %s does not exist in the "
		    "directory", rl->base_dn);
		rc = -1;
	} else if ((entry = ldap_first_entry(conn->ld, res)) != NULL) {
		if (ldap_count_entries(conn->ld, res) > 1) {
			*error_r = xasprintf("directory inconsistent: %s "
			    "matches several entries", filter);
			rc = -1;
		} else if ((dn = ldap_get_dn(conn->ld, entry)) == NULL) {
			*error_r = xstrdup("LDAP entry without a DN");
			rc = -1;
		} else {
			*dn_r = xstrdup(dn);
			ldap_memfree(dn);
			rc = 1;
		}
	}
	ldap_msgfree(res);
	route_ldap_pool_put(conn);
	return rc;
}

/* The DN of domain's entry: 1 (*dn_r), 0 with "no such domain", -1. */
static int
route_ldap_domain_dn(struct route_ldap *rl, const char *domain, char **dn_r,
	char **error_r)
{
	char *filter;
	int rc;

	filter = route_ldap_filter(ROUTE_LDAP_OC_DOMAIN, "ispmailDomainName",
	    NULL, domain);
	if (filter == NULL) {
		*error_r = xstrdup("domain name too long");
		return -1;
	}
	rc = route_ldap_find_dn(rl, filter, dn_r, error_r);
	free(filter);
	if (rc == 0)
		*error_r = xasprintf("no such domain %s", domain);
	return rc;
}

/*
 * Create or replace one entry.  what is "domain", "mailbox", ... for
 * messages; filter finds an existing entry; rdn_attr/rdn_value and
 * parent_domain (NULL: directly under the base) say where a new one goes.
 * The objectClass values are replaced too, so an entry an operator made
 * without inetLocalMailRecipient gets it.
 */
static int
route_ldap_put(struct route_ldap *rl, const char *what, const char *key,
	const char *filter, const char *rdn_attr, const char *parent_domain,
	const char *const *object_classes, void (*fill)(struct route_ldap_mods *,
	const void *), const void *record, int create_only, char **error_r)
{
	struct route_ldap_mods ml = { NULL, 0, 0 };
	char *dn = NULL, *parent = NULL, *text = NULL, **ocs;
	int rc, ldrc, found;
	size_t n;

	if ((found = route_ldap_find_dn(rl, filter, &dn, error_r)) < 0)
		return -1;
	if (found && create_only) {
		*error_r = xasprintf("%s %s exists", what, key);
		free(dn);
		return -1;
	}
	if (!found) {
		if (parent_domain != NULL) {
			if (route_ldap_domain_dn(rl, parent_domain, &parent,
			    error_r) <= 0)
				return -1;
		}
		dn = route_ldap_child_dn(rdn_attr, key, parent != NULL ? parent
		    : rl->base_dn);
		free(parent);
		if (dn == NULL) {
			*error_r = xasprintf("%s %s: name too long", what, key);
			return -1;
		}
	}
	ml.replace = found;
	for (n = 0; object_classes[n] != NULL; n++)
		;
	ocs = xcalloc(n + 1, sizeof(*ocs));
	for (n = 0; object_classes[n] != NULL; n++)
		ocs[n] = xstrdup(object_classes[n]);
	route_ldap_mods_set(&ml, "objectClass", ocs);
	if (!found)
		route_ldap_mods_str(&ml, rdn_attr, key);
	fill(&ml, record);
	rc = route_ldap_write(rl, found ? ROUTE_LDAP_MODIFY : ROUTE_LDAP_ADD,
	    dn, ml.mods, &ldrc, &text, error_r);
	route_ldap_mods_free(&ml);
	route_ldap_cache_flush(rl);
	if (rc == 0 && ldrc != LDAP_SUCCESS) {
		if (ldrc == LDAP_ALREADY_EXISTS)
			*error_r = xasprintf("%s %s: an entry %s exists", what,
			    key, dn);
		else
			*error_r = xasprintf("%s %s: %s: %s", what, key, dn,
			    text);
		rc = -1;
	}
	free(text);
	free(dn);
	return rc;
}

static void
route_ldap_fill_domain(struct route_ldap_mods *ml, const void *record)
{
	const struct route_domain *d = record;

	route_ldap_mods_str(ml, "ispmailDomainKind",
	    route_ldap_domain_kinds[d->kind]);
	route_ldap_mods_str(ml, "ispmailDomainTarget", d->alias_target);
	route_ldap_mods_str(ml, "ispmailRelayHost", d->relay_host);
	route_ldap_mods_str(ml, "ispmailCatchAll", d->catchall);
	route_ldap_mods_str(ml, "mailHost", d->mail_host);
	/* Absent when off: entries made with an older schema still work. */
	route_ldap_mods_str(ml, "ispmailArchive", d->archive ? "TRUE" : NULL);
	route_ldap_mods_str(ml, "ispmailDmarcPolicy",
	    d->dmarc != ROUTE_DMARC_DEFAULT ? route_dmarc_names[d->dmarc] :
	    NULL);
	route_ldap_mods_list(ml, "ispmailDkimSelector", d->dkim_selectors,
	    d->dkim_selector_count);
}

static void
route_ldap_fill_mailbox(struct route_ldap_mods *ml, const void *record)
{
	const struct route_mailbox *m = record;

	route_ldap_mods_list(ml, "mailLocalAddress", m->alt_addresses,
	    m->alt_count);
	route_ldap_mods_str(ml, "mailHost", m->mail_host);
	route_ldap_mods_str(ml, "ispmailStorePath", m->store_path);
	route_ldap_mods_own(ml, "ispmailQuota", xasprintf("%lld", m->quota));
	route_ldap_mods_str(ml, "ispmailState", route_ldap_states[m->state]);
	route_ldap_mods_own(ml, "userPassword", m->password_hash != NULL
	    ? xasprintf("{CRYPT}%s", m->password_hash) : NULL);
	route_ldap_mods_str(ml, "ispmailFilterPolicy",
	    route_ldap_filters[m->filter]);
	route_ldap_mods_own(ml, "ispmailTagScore",
	    xasprintf("%g", m->tag_score));
	route_ldap_mods_own(ml, "ispmailQuarantineScore",
	    xasprintf("%g", m->quarantine_score));
	route_ldap_mods_own(ml, "ispmailDiscardScore",
	    xasprintf("%g", m->discard_score));
	route_ldap_mods_str(ml, "ispmailArchive", m->archive ? "TRUE"
	    : "FALSE");
	route_ldap_mods_str(ml, "ispmailOutboundClass", m->outbound_class);
	route_ldap_mods_list(ml, "ispmailForward", m->forwards,
	    m->forward_count);
	route_ldap_mods_str(ml, "ispmailForwardKeepCopy",
	    m->forward_keep_copy ? "TRUE" : "FALSE");
	route_ldap_mods_str(ml, "ispmailDmarcPolicy",
	    m->dmarc != ROUTE_DMARC_DEFAULT ? route_dmarc_names[m->dmarc] :
	    NULL);
}

static void
route_ldap_fill_alias(struct route_ldap_mods *ml, const void *record)
{
	const struct route_alias *a = record;

	route_ldap_mods_list(ml, "ispmailAliasTarget", a->targets,
	    a->target_count);
}

static void
route_ldap_fill_nothing(struct route_ldap_mods *ml, const void *record)
{
}

/* The domain of an address, for the parent entry; NULL with *error_r. */
static const char *
route_ldap_address_domain(const char *address, char **error_r)
{
	const char *at = strrchr(address, '@');

	if (at == NULL || at[1] == '\0') {
		*error_r = xasprintf("invalid address %s", address);
		return NULL;
	}
	return at + 1;
}

int
route_ldap_domain_put(void *backend, const struct route_domain *domain,
	int create_only, char **error_r)
{
	static const char *const ocs[] = { ROUTE_LDAP_OC_DOMAIN, NULL };
	char *filter;
	int rc;

	if (domain->kind < ROUTE_DOMAIN_LOCAL
	    || domain->kind > ROUTE_DOMAIN_ALIAS)
		log_panic("route_ldap: domain %s: kind %d", domain->name,
		    (int) domain->kind);
	filter = route_ldap_filter(ROUTE_LDAP_OC_DOMAIN, "ispmailDomainName",
	    NULL, domain->name);
	if (filter == NULL) {
		*error_r = xstrdup("domain name too long");
		return -1;
	}
	rc = route_ldap_put(backend, "domain", domain->name, filter,
	    "ispmailDomainName", NULL, ocs, route_ldap_fill_domain, domain,
	    create_only, error_r);
	free(filter);
	return rc;
}

int
route_ldap_mailbox_put(void *backend, const struct route_mailbox *mailbox,
	int create_only, char **error_r)
{
	static const char *const ocs[] = { ROUTE_LDAP_OC_MAILBOX,
	    "inetLocalMailRecipient", NULL };
	const char *domain;
	char *filter;
	int rc;

	if ((domain = route_ldap_address_domain(mailbox->address,
	    error_r)) == NULL)
		return -1;
	filter = route_ldap_filter(ROUTE_LDAP_OC_MAILBOX, "mail", NULL,
	    mailbox->address);
	if (filter == NULL) {
		*error_r = xstrdup("address too long");
		return -1;
	}
	rc = route_ldap_put(backend, "mailbox", mailbox->address, filter,
	    "mail", domain, ocs, route_ldap_fill_mailbox, mailbox,
	    create_only, error_r);
	free(filter);
	return rc;
}

int
route_ldap_alias_put(void *backend, const struct route_alias *alias,
	int create_only, char **error_r)
{
	static const char *const ocs[] = { ROUTE_LDAP_OC_ALIAS, NULL };
	const char *domain;
	char *filter;
	int rc;

	if ((domain = route_ldap_address_domain(alias->address, error_r))
	    == NULL)
		return -1;
	if (alias->target_count == 0) {
		*error_r = xasprintf("alias %s: no targets", alias->address);
		return -1;
	}
	filter = route_ldap_filter(ROUTE_LDAP_OC_ALIAS, "mail", NULL,
	    alias->address);
	if (filter == NULL) {
		*error_r = xstrdup("address too long");
		return -1;
	}
	rc = route_ldap_put(backend, "alias", alias->address, filter, "mail",
	    domain, ocs, route_ldap_fill_alias, alias, create_only, error_r);
	free(filter);
	return rc;
}

int
route_ldap_relay_recipient_put(void *backend, const char *address,
	char **error_r)
{
	static const char *const ocs[] = { ROUTE_LDAP_OC_RELAY, NULL };
	const char *domain;
	char *filter;
	int rc;

	if ((domain = route_ldap_address_domain(address, error_r)) == NULL)
		return -1;
	filter = route_ldap_filter(ROUTE_LDAP_OC_RELAY, "mail", NULL, address);
	if (filter == NULL) {
		*error_r = xstrdup("address too long");
		return -1;
	}
	rc = route_ldap_put(backend, "relay recipient", address, filter,
	    "mail", domain, ocs, route_ldap_fill_nothing, NULL, 1, error_r);
	free(filter);
	return rc;
}

/* How many entries sit directly below dn: 0 ok, -1. */
static int
route_ldap_count_children(struct route_ldap *rl, const char *dn,
	int *count_r, char **error_r)
{
	struct route_ldap_conn *conn;
	LDAPMessage *res;
	int ldrc;

	if (route_ldap_search(rl, dn, LDAP_SCOPE_ONELEVEL, "(objectClass=*)",
	    route_ldap_no_attrs, 0, &conn, &res, &ldrc, error_r) < 0)
		return -1;
	*count_r = ldap_count_entries(conn->ld, res);
	ldap_msgfree(res);
	route_ldap_pool_put(conn);
	if (ldrc != LDAP_SUCCESS) {
		*error_r = xasprintf("counting entries below %s: %s", dn,
		    ldap_err2string(ldrc));
		return -1;
	}
	return 0;
}

static int
route_ldap_delete(struct route_ldap *rl, const char *what, const char *key,
	const char *filter, int is_domain, char **error_r)
{
	char *dn = NULL, *text = NULL;
	int found, rc, ldrc, children;

	if (filter == NULL) {
		*error_r = xasprintf("%s too long", what);
		return -1;
	}
	if ((found = route_ldap_find_dn(rl, filter, &dn, error_r)) <= 0) {
		if (found == 0)
			*error_r = xasprintf("no such %s %s", what, key);
		return -1;
	}
	if (is_domain) {
		if (route_ldap_count_children(rl, dn, &children, error_r) < 0) {
			free(dn);
			return -1;
		}
		if (children > 0) {
			*error_r = xasprintf("domain %s has %d entr%s", key,
			    children, children == 1 ? "y" : "ies");
			free(dn);
			return -1;
		}
	}
	rc = route_ldap_write(rl, ROUTE_LDAP_DELETE, dn, NULL, &ldrc, &text,
	    error_r);
	route_ldap_cache_flush(rl);
	if (rc == 0 && ldrc != LDAP_SUCCESS) {
		if (ldrc == LDAP_NOT_ALLOWED_ON_NONLEAF)
			*error_r = xasprintf("%s %s has entries", what, key);
		else if (ldrc == LDAP_NO_SUCH_OBJECT)
			*error_r = xasprintf("no such %s %s", what, key);
		else
			*error_r = xasprintf("%s %s: %s: %s", what, key, dn,
			    text);
		rc = -1;
	}
	free(text);
	free(dn);
	return rc;
}

int
route_ldap_domain_delete(void *backend, const char *name, char **error_r)
{
	char *filter = route_ldap_filter(ROUTE_LDAP_OC_DOMAIN,
	    "ispmailDomainName", NULL, name);
	int rc;

	rc = route_ldap_delete(backend, "domain", name, filter, 1, error_r);
	free(filter);
	return rc;
}

int
route_ldap_mailbox_delete(void *backend, const char *address,
	char **error_r)
{
	char *filter = route_ldap_filter(ROUTE_LDAP_OC_MAILBOX, "mail", NULL,
	    address);
	int rc;

	rc = route_ldap_delete(backend, "mailbox", address, filter, 0,
	    error_r);
	free(filter);
	return rc;
}

int
route_ldap_alias_delete(void *backend, const char *address, char **error_r)
{
	char *filter = route_ldap_filter(ROUTE_LDAP_OC_ALIAS, "mail", NULL,
	    address);
	int rc;

	rc = route_ldap_delete(backend, "alias", address, filter, 0, error_r);
	free(filter);
	return rc;
}

int
route_ldap_relay_recipient_delete(void *backend, const char *address,
	char **error_r)
{
	char *filter = route_ldap_filter(ROUTE_LDAP_OC_RELAY, "mail", NULL,
	    address);
	int rc;

	rc = route_ldap_delete(backend, "relay recipient", address, filter, 0,
	    error_r);
	free(filter);
	return rc;
}

/* ---- lists -------------------------------------------------------------- */

/*
 * XXX: lists are one search without paging, so the bind DN needs a size
 * limit above the largest domain (slapd: limits ... size=unlimited);
 * a truncated list is an error, never a silently short answer.
 */
int
route_ldap_list(void *backend, enum route_list_kind kind, const char *domain,
	char ***names_r, char **error_r)
{
	struct route_ldap *rl = backend;
	struct route_ldap_conn *conn;
	LDAPMessage *res, *entry;
	const char *oc = NULL, *attr;
	char *base = NULL, *filter, **names, *value;
	int ldrc, count, rc = 0;
	size_t n = 0;

	switch (kind) {
	case ROUTE_LIST_DOMAINS:
		oc = ROUTE_LDAP_OC_DOMAIN;
		break;
	case ROUTE_LIST_MAILBOXES:
		oc = ROUTE_LDAP_OC_MAILBOX;
		break;
	case ROUTE_LIST_ALIASES:
		oc = ROUTE_LDAP_OC_ALIAS;
		break;
	case ROUTE_LIST_RELAY_RECIPIENTS:
		oc = ROUTE_LDAP_OC_RELAY;
		break;
	}
	attr = kind == ROUTE_LIST_DOMAINS ? "ispmailDomainName" : "mail";
	if (kind != ROUTE_LIST_DOMAINS
	    && route_ldap_domain_dn(rl, domain, &base, error_r) <= 0)
		return -1;
	filter = xasprintf("(objectClass=%s)", oc);
	{
		const char *attrs[] = { attr, NULL };

		rc = route_ldap_search(rl, base != NULL ? base : rl->base_dn,
		    kind == ROUTE_LIST_DOMAINS ? LDAP_SCOPE_SUBTREE
		    : LDAP_SCOPE_ONELEVEL, filter, attrs, 0, &conn, &res,
		    &ldrc, error_r);
	}
	free(filter);
	if (rc < 0) {
		free(base);
		return -1;
	}
	if (ldrc != LDAP_SUCCESS) {
		*error_r = xasprintf("listing under %s: %s", base != NULL ? base
		    : rl->base_dn, ldap_err2string(ldrc));
		rc = -1;
		goto out;
	}
	count = ldap_count_entries(conn->ld, res);
	names = xcalloc((size_t) (count > 0 ? count : 0) + 1, sizeof(*names));
	for (entry = ldap_first_entry(conn->ld, res); entry != NULL
	    && n < (size_t) count; entry = ldap_next_entry(conn->ld, entry)) {
		int got = route_ldap_value(conn->ld, entry, attr, &value,
		    error_r);

		if (got < 0) {
			route_ldap_strv_free(names, n);
			rc = -1;
			goto out;
		}
		if (got == 0)
			continue;
		if (kind == ROUTE_LIST_DOMAINS)
			route_ldap_lower(value);
		else
			route_ldap_lower_domain(value);
		names[n++] = value;
	}
	qsort(names, n, sizeof(*names), route_ldap_names_cmp);
	*names_r = names;
out:
	ldap_msgfree(res);
	route_ldap_pool_put(conn);
	free(base);
	return rc;
}

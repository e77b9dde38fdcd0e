/* route_ldap: the LDAP routing directory backend; see ispmail-ldap(5). */
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

/* ---- open, close -------------------------------------------------------- */

static void route_ldap_close(void *backend);

static void *
route_ldap_open(char **error_r)
{
	struct route_ldap *rl = xcalloc(1, sizeof(*rl));

	if (route_ldap_check_config(rl, error_r) < 0) {
		route_ldap_close(rl);
		return NULL;
	}
	rl->filter = buf_new(ROUTE_LDAP_TEXT_MAX);
	rl->pool_size = (size_t) var_ldap_pool_size;
	rl->pool = xcalloc(rl->pool_size, sizeof(*rl->pool));
	if (var_ldap_cache_size > 0 && (var_ldap_cache_positive_ttl > 0
	    || var_ldap_cache_negative_ttl > 0
	    || var_ldap_domain_cache_ttl > 0)) {
		rl->bucket_count = 16;
		while (rl->bucket_count < (size_t) var_ldap_cache_size)
			rl->bucket_count *= 2;
		rl->buckets = xcalloc(rl->bucket_count, sizeof(*rl->buckets));
	}
	return rl;
}

static void
route_ldap_close(void *backend)
{
	struct route_ldap *rl = backend;
	size_t i;

	if (rl == NULL)
		return;
	for (i = 0; i < rl->pool_size; i++)
		if (rl->pool[i].ld != NULL)
			(void) ldap_unbind_ext_s(rl->pool[i].ld, NULL, NULL);
	free(rl->pool);
	buf_free(&rl->filter);
	if (rl->writer.ld != NULL)
		(void) ldap_unbind_ext_s(rl->writer.ld, NULL, NULL);
	if (rl->provision_password != NULL) {
		explicit_bzero(rl->provision_password,
		    strlen(rl->provision_password));
		free(rl->provision_password);
	}
	if (rl->buckets != NULL)
		route_ldap_cache_flush(rl);
	free(rl->buckets);
	for (i = 0; i < rl->server_count; i++)
		free(rl->servers[i].uri);
	free(rl->servers);
	free(rl->base_dn);
	free(rl->bind_dn);
	if (rl->bind_password != NULL) {
		explicit_bzero(rl->bind_password, strlen(rl->bind_password));
		free(rl->bind_password);
	}
	free(rl);
}

/* ---- getters ------------------------------------------------------------ */

static const char *const route_ldap_domain_attrs[] = {
	"ispmailDomainName", "ispmailDomainKind", "ispmailDomainTarget",
	"ispmailRelayHost", "ispmailCatchAll", "mailHost", "ispmailArchive",
	"ispmailDmarcPolicy", "ispmailDkimSelector", NULL
};
static const char *const route_ldap_mailbox_attrs[] = {
	"mail", "mailLocalAddress", "mailHost", "ispmailStorePath",
	"ispmailQuota", "ispmailState", "userPassword", "ispmailFilterPolicy",
	"ispmailTagScore", "ispmailQuarantineScore", "ispmailDiscardScore",
	"ispmailArchive", "ispmailOutboundClass", "ispmailForward",
	"ispmailForwardKeepCopy",
	"ispmailDmarcPolicy", NULL
};
static const char *const route_ldap_alias_attrs[] = {
	"mail", "ispmailAliasTarget", NULL
};
const char *const route_ldap_no_attrs[] = { LDAP_NO_ATTRS, NULL };

/*
 * fields: what the search asked for (route_ldap_parse_mailbox); with
 * ROUTE_FIELD_KEY_ADDRESS the record's address may be left NULL for the
 * caller to fill in.
 */
typedef int route_ldap_parse_fn(LDAP *ld, LDAPMessage *entry, unsigned fields,
	void *record_r, char **error_r);

/* Adapters so one lookup routine parses every record type. */
static int
route_ldap_parse_domain_any(LDAP *ld, LDAPMessage *entry, unsigned fields,
	void *record_r, char **error_r)
{
	(void) fields;
	return route_ldap_parse_domain(ld, entry, record_r, error_r);
}

static int
route_ldap_parse_mailbox_any(LDAP *ld, LDAPMessage *entry, unsigned fields,
	void *record_r, char **error_r)
{
	return route_ldap_parse_mailbox(ld, entry, fields, record_r, error_r);
}

static int
route_ldap_parse_alias_any(LDAP *ld, LDAPMessage *entry, unsigned fields,
	void *record_r, char **error_r)
{
	return route_ldap_parse_alias(ld, entry, fields, record_r, error_r);
}

/* The alternate address attribute searched, or NULL. */
static const char *
route_ldap_alternate_attr(const struct route_ldap *rl)
{
	return rl->alternate_addresses ? "mailLocalAddress" : NULL;
}

/*
 * Of the entries in res of object class oc (NULL: all), the one that
 * answers key: the only one, or else the only one whose key_attr is key
 * (the canonical address beats an alternate).  1 (*chosen_r), 0 none,
 * -1 with *error_r when several are a damaged directory.
 */
static int
route_ldap_choose(LDAP *ld, LDAPMessage *res, int ldrc, const char *oc,
	const char *key_attr, const char *key, const char *filter,
	LDAPMessage **chosen_r, char **error_r)
{
	LDAPMessage *entry, *chosen = NULL, *only = NULL;
	int count = 0, matches = 0;

	for (entry = ldap_first_entry(ld, res); entry != NULL;
	    entry = ldap_next_entry(ld, entry)) {
		if (oc != NULL && !route_ldap_entry_has(ld, entry,
		    "objectClass", oc))
			continue;
		count++;
		only = entry;
	}
	if (count == 1) {
		*chosen_r = only;
		return 1;
	}
	if (count == 0)
		return 0;
	/* Several: the one whose key_attr is key, if only one is. */
	for (entry = ldap_first_entry(ld, res); entry != NULL;
	    entry = ldap_next_entry(ld, entry)) {
		if ((oc == NULL || route_ldap_entry_has(ld, entry,
		    "objectClass", oc)) && route_ldap_entry_has(ld, entry,
		    key_attr, key)) {
			matches++;
			chosen = entry;
		}
	}
	if (ldrc == LDAP_SUCCESS && matches == 1) {
		*chosen_r = chosen;
		return 1;
	}
	*error_r = xasprintf("directory inconsistent: %s matches %s%d "
	    "entries%s%s", filter, ldrc == LDAP_SUCCESS ? "" : "more than ",
	    count, oc != NULL ? " of class " : "", oc != NULL ? oc : "");
	log_error("ldap: %s", *error_r);
	return -1;
}

/*
 * Decode res's entry once when it is the only one (the usual answer), so
 * that telling its class (route_ldap_choose) and parsing it read the
 * same decoding; route_ldap_entry_end() before res is freed.
 */
static void
route_ldap_result_begin(LDAP *ld, LDAPMessage *res)
{
	LDAPMessage *first = ldap_first_entry(ld, res);

	if (first != NULL && ldap_next_entry(ld, first) == NULL)
		route_ldap_entry_begin(ld, first);
}

/* Parse the chosen entry; -1 with *error_r (logged) when it is damaged. */
static int
route_ldap_parse_chosen(LDAP *ld, LDAPMessage *chosen,
	route_ldap_parse_fn *parse, unsigned fields, void *record_r,
	char **error_r)
{
	/* Decoded already when it is a result's only entry. */
	int decoded = route_ldap_entry_decoded(chosen);
	char *parse_error = NULL;
	int rc;

	if (!decoded)
		route_ldap_entry_begin(ld, chosen);
	rc = parse(ld, chosen, fields, record_r, &parse_error);
	if (!decoded)
		route_ldap_entry_end();
	if (rc == 0)
		return 0;
	*error_r = parse_error != NULL ? parse_error
	    : xstrdup("damaged directory entry");
	log_error("ldap: %s", *error_r);
	return -1;
}

/*
 * Search filter under the base; a missing base is an error (a wrong base
 * DN must not make every user unknown).  0 with the connection and the
 * result to read and release; -1 with *error_r.
 */
static int
route_ldap_lookup_search(struct route_ldap *rl, double deadline,
	const char *filter, const char *const *attrs, int sizelimit,
	struct route_ldap_conn **conn_r, LDAPMessage **res_r, int *ldrc_r,
	char **error_r)
{
	if (route_ldap_search_until(rl, deadline, rl->base_dn,
	    LDAP_SCOPE_SUBTREE, filter, attrs, sizelimit, conn_r, res_r,
	    ldrc_r, error_r) < 0)
		return -1;
	if (*ldrc_r != LDAP_NO_SUCH_OBJECT)
		return 0;
	*error_r = xasprintf("ldap_base_dn %s does not exist in the "
	    "directory", rl->base_dn);
	ldap_msgfree(*res_r);
	route_ldap_pool_put(*conn_r);
	return -1;
}

/*
 * Find the one entry that filter matches under the base and parse it (a
 * NULL parse only tells whether it exists).  Several matches are a
 * damaged directory, unless exactly one has key as its "mail".  1, 0 or
 * -1.
 */
static int
route_ldap_lookup(struct route_ldap *rl, const char *filter,
	const char *const *attrs,
	const char *key, route_ldap_parse_fn *parse, void *record_r,
	char **error_r)
{
	struct route_ldap_conn *conn;
	LDAPMessage *res, *chosen = NULL;
	int ldrc, rc;

	if (route_ldap_lookup_search(rl, route_ldap_deadline(), filter, attrs,
	    ROUTE_LDAP_LOOKUP_SIZELIMIT, &conn, &res, &ldrc, error_r) < 0)
		return -1;
	rc = route_ldap_choose(conn->ld, res, ldrc, NULL, "mail", key, filter,
	    &chosen, error_r);
	if (rc > 0 && parse != NULL && route_ldap_parse_chosen(conn->ld,
	    chosen, parse, ROUTE_FIELDS_ALL, record_r, error_r) < 0)
		rc = -1;
	ldap_msgfree(res);
	route_ldap_pool_put(conn);
	return rc;
}

static int
route_ldap_domain_get(void *backend, const char *name,
	struct route_domain **domain_r, char **error_r)
{
	struct route_ldap *rl = backend;
	struct route_ldap_cache_entry *e;
	struct route_domain *d = NULL;
	char *filter;
	int rc;

	if ((e = route_ldap_cache_find(rl, ROUTE_LDAP_CACHE_DOMAIN, name))
	    != NULL) {
		if (e->found)
			*domain_r = route_domain_dup(e->record);
		return e->found;
	}
	if ((filter = route_ldap_filter(ROUTE_LDAP_OC_DOMAIN,
	    "ispmailDomainName", NULL, name)) == NULL) {
		*error_r = xstrdup("domain name too long");
		return -1;
	}
	rc = route_ldap_lookup(rl, filter, route_ldap_domain_attrs, name,
	    route_ldap_parse_domain_any, &d, error_r);
	free(filter);
	if (rc == 1) {
		route_ldap_domain_found(rl, name, d, domain_r);
	} else if (rc == 0) {
		route_ldap_cache_store(rl, ROUTE_LDAP_CACHE_DOMAIN, name, 0,
		    NULL);
	}
	return rc;
}

static int
route_ldap_mailbox_get(void *backend, const char *address,
	struct route_mailbox **mailbox_r, char **error_r)
{
	struct route_ldap *rl = backend;
	struct route_ldap_cache_entry *e;
	struct route_mailbox *m = NULL;
	char *filter;
	int rc;

	if ((e = route_ldap_cache_find(rl, ROUTE_LDAP_CACHE_MAILBOX, address))
	    != NULL) {
		if (e->found)
			*mailbox_r = route_mailbox_dup(e->record);
		return e->found;
	}
	if ((filter = route_ldap_filter(ROUTE_LDAP_OC_MAILBOX, "mail",
	    route_ldap_alternate_attr(rl), address)) == NULL) {
		*error_r = xstrdup("address too long");
		return -1;
	}
	rc = route_ldap_lookup(rl, filter, route_ldap_mailbox_attrs, address,
	    route_ldap_parse_mailbox_any, &m, error_r);
	free(filter);
	if (rc == 1) {
		*mailbox_r = route_mailbox_dup(m);
		route_ldap_cache_store(rl, ROUTE_LDAP_CACHE_MAILBOX, address, 1,
		    m);
	} else if (rc == 0) {
		route_ldap_cache_store(rl, ROUTE_LDAP_CACHE_MAILBOX, address, 0,
		    NULL);
	}
	return rc;
}

static int
route_ldap_alias_get(void *backend, const char *address,
	struct route_alias **alias_r, char **error_r)
{
	struct route_ldap *rl = backend;
	struct route_ldap_cache_entry *e;
	struct route_alias *a = NULL;
	char *filter;
	int rc;

	if ((e = route_ldap_cache_find(rl, ROUTE_LDAP_CACHE_ALIAS, address))
	    != NULL) {
		if (e->found)
			*alias_r = route_ldap_alias_dup(e->record);
		return e->found;
	}
	if ((filter = route_ldap_filter(ROUTE_LDAP_OC_ALIAS, "mail", NULL,
	    address)) == NULL) {
		*error_r = xstrdup("address too long");
		return -1;
	}
	rc = route_ldap_lookup(rl, filter, route_ldap_alias_attrs, address,
	    route_ldap_parse_alias_any, &a, error_r);
	free(filter);
	if (rc == 1) {
		*alias_r = route_ldap_alias_dup(a);
		route_ldap_cache_store(rl, ROUTE_LDAP_CACHE_ALIAS, address, 1, a);
	} else if (rc == 0) {
		route_ldap_cache_store(rl, ROUTE_LDAP_CACHE_ALIAS, address, 0,
		    NULL);
	}
	return rc;
}

static int
route_ldap_relay_recipient_get(void *backend, const char *address,
	char **error_r)
{
	struct route_ldap *rl = backend;
	struct route_ldap_cache_entry *e;
	char *filter;
	int rc;

	if ((e = route_ldap_cache_find(rl, ROUTE_LDAP_CACHE_RELAY, address))
	    != NULL)
		return e->found;
	if ((filter = route_ldap_filter(ROUTE_LDAP_OC_RELAY, "mail", NULL,
	    address)) == NULL) {
		*error_r = xstrdup("address too long");
		return -1;
	}
	rc = route_ldap_lookup(rl, filter, route_ldap_no_attrs, address, NULL,
	    NULL, error_r);
	free(filter);
	if (rc >= 0)
		route_ldap_cache_store(rl, ROUTE_LDAP_CACHE_RELAY, address, rc,
		    NULL);
	return rc;
}

/* ---- one search per lookup ---------------------------------------------- */

/*
 * The attributes of a mailbox or an alias that fill each field (enum
 * route_field).  A routing search asks for objectClass (to tell the
 * entries apart; or ispmailAliasTarget where the fields' attributes
 * tell a mailbox, route_ldap_classes_infer), mail (unless
 * ROUTE_FIELD_KEY_ADDRESS), and the
 * attributes of the fields its caller reads: each attribute returned
 * costs slapd an ACL check and its encoding, the wire, and this
 * process its parsing.  Never userPassword:
 * the secret leaves the directory only for a password check
 * (route_ldap_mailbox_get); mailboxes from a routing search are cached as
 * ROUTING, never served to a password check.
 */
static const struct route_ldap_field_attr {
	unsigned field;
	const char *attr;
} route_ldap_field_attrs[] = {
	{ ROUTE_FIELD_STATE, "ispmailState" },
	{ ROUTE_FIELD_STORE, "ispmailStorePath" },
	{ ROUTE_FIELD_STORE, "ispmailQuota" },
	{ ROUTE_FIELD_HOST, "mailHost" },
	{ ROUTE_FIELD_FILTER, "ispmailFilterPolicy" },
	{ ROUTE_FIELD_FILTER, "ispmailTagScore" },
	{ ROUTE_FIELD_FILTER, "ispmailQuarantineScore" },
	{ ROUTE_FIELD_FILTER, "ispmailDiscardScore" },
	{ ROUTE_FIELD_DMARC, "ispmailDmarcPolicy" },
	{ ROUTE_FIELD_ARCHIVE, "ispmailArchive" },
	{ ROUTE_FIELD_CLASS, "ispmailOutboundClass" },
	{ ROUTE_FIELD_FORWARDS, "ispmailForward" },
	{ ROUTE_FIELD_FORWARDS, "ispmailForwardKeepCopy" },
	{ ROUTE_FIELD_ALT, "mailLocalAddress" },
	{ ROUTE_FIELD_TARGETS, "ispmailAliasTarget" },
};
#define ROUTE_LDAP_FIELD_ATTRS \
	(sizeof(route_ldap_field_attrs) / sizeof(route_ldap_field_attrs[0]))
/* objectClass, mail, the fields', the domain's (with its NULL). */
#define ROUTE_LDAP_ROUTING_ATTRS_MAX (2 + ROUTE_LDAP_FIELD_ATTRS \
	+ sizeof(route_ldap_domain_attrs) / sizeof(route_ldap_domain_attrs[0]))

/*
 * What a routing search fills: all fields when this process keeps found
 * answers (its cached answer then serves every later reader of the
 * address, as smtpd's content filter and direct delivery read it after
 * the RCPT check), else the fields the caller reads.
 */
static int
route_ldap_keeps_found(const struct route_ldap *rl)
{
	return rl->bucket_count > 0 && var_ldap_cache_positive_ttl > 0;
}

static unsigned
route_ldap_search_fields(const struct route_ldap *rl, unsigned fields)
{
	return route_ldap_keeps_found(rl) ? ROUTE_FIELDS_ALL : fields;
}

static void
route_ldap_attrs_add(const char **attrs, size_t *count, const char *attr)
{
	size_t i;

	for (i = 0; i < *count; i++)
		if (strcmp(attrs[i], attr) == 0)
			return;
	attrs[(*count)++] = attr;
}

/*
 * The fields whose attributes conf/ispmail.schema allows only in a
 * mailbox (route_ldap_mailbox_only_attrs): a search for one of them can
 * tell a mailbox from an alias without objectClass
 * (route_ldap_classes_infer).
 */
#define ROUTE_LDAP_MAILBOX_ONLY_FIELDS (ROUTE_FIELD_STATE | ROUTE_FIELD_STORE \
	| ROUTE_FIELD_FILTER | ROUTE_FIELD_CLASS | ROUTE_FIELD_FORWARDS)
/* Beyond every field bit (enum route_field): a memo's list is made. */
#define ROUTE_LDAP_ATTRS_MADE (1U << 30)

/*
 * The attributes of a routing search for fields, and with_domain those
 * of the domain's entry too, NULL-terminated.  by_class asks for
 * objectClass, else for the alias's own attribute
 * (route_ldap_classes_infer).  A process asks for the same few lists
 * over and over: each (with_domain, by_class) keeps its last list, by
 * fields, per thread (imapd's lookup threads each build their own).
 */
static const char *const *
route_ldap_routing_attrs(unsigned fields, int with_domain, int by_class)
{
	static _Thread_local struct route_ldap_attrs_memo {
		unsigned fields;	/* ROUTE_LDAP_ATTRS_MADE: made */
		const char *attrs[ROUTE_LDAP_ROUTING_ATTRS_MAX];
	} memo[4];
	struct route_ldap_attrs_memo *m = &memo[(with_domain ? 2 : 0)
	    + (by_class ? 1 : 0)];
	size_t count = 0, i;

	if (m->fields == (fields | ROUTE_LDAP_ATTRS_MADE))
		return m->attrs;
	m->attrs[count++] = by_class ? "objectClass"
	    : ROUTE_LDAP_ALIAS_ONLY_ATTR;
	if (!(fields & ROUTE_FIELD_KEY_ADDRESS))
		m->attrs[count++] = "mail";
	for (i = 0; i < ROUTE_LDAP_FIELD_ATTRS; i++)
		if (fields & route_ldap_field_attrs[i].field)
			route_ldap_attrs_add(m->attrs, &count,
			    route_ldap_field_attrs[i].attr);
	for (i = 0; with_domain && route_ldap_domain_attrs[i] != NULL; i++)
		route_ldap_attrs_add(m->attrs, &count,
		    route_ldap_domain_attrs[i]);
	m->attrs[count] = NULL;
	m->fields = fields | ROUTE_LDAP_ATTRS_MADE;
	return m->attrs;
}

/*
 * "(|(ispmailDomainName=D)(mail=A)(mailLocalAddress=A))", without the
 * domain term when domain is NULL, without mailLocalAddress when
 * ldap_address_attributes leaves it out, and "(mail=A)" alone when both
 * are left out, in rl->filter (valid until the next call); NULL when too
 * long.  No objectClass
 * terms: each is an index read of every entry of its class that slapd
 * intersects with the one-entry key match, per search; the entries are
 * told apart by their objectClass afterwards (route_ldap_choose), so an
 * entry of another class with the same mail changes nothing.
 */
static const char *
route_ldap_filter_any(struct route_ldap *rl, const char *domain,
	const char *address)
{
	struct buf *b = rl->filter;
	int or = domain != NULL || rl->alternate_addresses;
	int rc = 0;

	buf_reset(b);
	if (or)
		rc = buf_append_str(b, "(|");
	if (rc == 0 && domain != NULL)
		rc = route_ldap_filter_term(b, "ispmailDomainName", domain);
	if (rc == 0)
		rc = route_ldap_filter_term(b, "mail", address);
	if (rc == 0 && rl->alternate_addresses)
		rc = route_ldap_filter_term(b, "mailLocalAddress", address);
	if (rc == 0 && or)
		rc = buf_append_char(b, ')');
	return rc == 0 ? buf_cstr(b) : NULL;
}

/*
 * The mailbox, else the alias, address names in a combined result that
 * asked for fields; the cache learns both answers (a found one only when
 * it is whole).  1, 0 or -1.
 */
static int
route_ldap_local_from(struct route_ldap *rl, LDAP *ld, LDAPMessage *res,
	int ldrc, const char *address, const char *filter, unsigned fields,
	struct route_mailbox **mailbox_r, struct route_alias **alias_r,
	char **error_r)
{
	int keep = fields == ROUTE_FIELDS_ALL && route_ldap_keeps_found(rl);
	struct route_mailbox *m = NULL;
	struct route_alias *a = NULL;
	LDAPMessage *chosen = NULL;
	int rc;

	rc = route_ldap_choose(ld, res, ldrc, ROUTE_LDAP_OC_MAILBOX, "mail",
	    address, filter, &chosen, error_r);
	if (rc > 0) {
		if (route_ldap_parse_chosen(ld, chosen,
		    route_ldap_parse_mailbox_any, fields, &m, error_r) < 0)
			return -1;
		if (m->address == NULL)
			m->address = xstrdup(address);
		*mailbox_r = keep ? route_mailbox_dup(m) : m;
		if (keep)
			route_ldap_cache_store(rl, ROUTE_LDAP_CACHE_ROUTING,
			    address, 1, m);
		return 1;
	}
	if (rc < 0 || route_ldap_choose(ld, res, ldrc, ROUTE_LDAP_OC_ALIAS,
	    "mail", address, filter, &chosen, error_r) < 0)
		return -1;
	route_ldap_cache_store(rl, ROUTE_LDAP_CACHE_MAILBOX, address, 0, NULL);
	if (chosen == NULL) {
		route_ldap_cache_store(rl, ROUTE_LDAP_CACHE_ALIAS, address, 0,
		    NULL);
		return 0;
	}
	if (route_ldap_parse_chosen(ld, chosen, route_ldap_parse_alias_any,
	    fields, &a, error_r) < 0)
		return -1;
	if (a->address == NULL)
		a->address = xstrdup(address);
	*alias_r = keep ? route_ldap_alias_dup(a) : a;
	if (keep)
		route_ldap_cache_store(rl, ROUTE_LDAP_CACHE_ALIAS, address, 1,
		    a);
	return 1;
}

/* See route_backend.h: mailbox, else alias, in one search. */
static int
route_ldap_local_get(void *backend, const char *address, unsigned fields,
	struct route_mailbox **mailbox_r, struct route_alias **alias_r,
	char **error_r)
{
	const char *const *attrs;
	struct route_ldap *rl = backend;
	double deadline = route_ldap_deadline();
	struct route_ldap_cache_entry *e;
	struct route_ldap_conn *conn;
	LDAPMessage *res;
	const char *filter;
	int ldrc, rc, count, by_class;

	if (((e = route_ldap_cache_find(rl, ROUTE_LDAP_CACHE_MAILBOX, address))
	    != NULL && e->found) || (e == NULL && (e = route_ldap_cache_find(rl,
	    ROUTE_LDAP_CACHE_ROUTING, address)) != NULL)) {
		*mailbox_r = route_mailbox_dup(e->record);
		return 1;
	}
	if (e != NULL && (e = route_ldap_cache_find(rl, ROUTE_LDAP_CACHE_ALIAS,
	    address)) != NULL) {
		if (e->found)
			*alias_r = route_ldap_alias_dup(e->record);
		return e->found;
	}
	if ((filter = route_ldap_filter_any(rl, NULL, address)) == NULL) {
		*error_r = xstrdup("address too long");
		return -1;
	}
	fields = route_ldap_search_fields(rl, fields);
	/*
	 * The kind by the attributes asked for anyway where they tell it
	 * (ispmail-ldap(5)): objectClass is one more attribute per entry.
	 */
	by_class = !(fields & ROUTE_LDAP_MAILBOX_ONLY_FIELDS);
	for (;;) {
		attrs = route_ldap_routing_attrs(fields, 0, by_class);
		rc = route_ldap_lookup_search(rl, deadline, filter, attrs,
		    2 * ROUTE_LDAP_LOOKUP_SIZELIMIT, &conn, &res, &ldrc,
		    error_r);
		if (rc < 0)
			break;
		count = ldap_count_entries(conn->ld, res);
		if (count == 1)
			route_ldap_result_begin(conn->ld, res);
		/*
		 * None (the address is neither), or one whose kind its
		 * class or its attributes tell.
		 */
		if (count == 0 || (count == 1 && (by_class
		    || route_ldap_classes_infer(conn->ld,
		    ldap_first_entry(conn->ld, res)))))
			break;
		/*
		 * Several entries without mail: which is the address's own
		 * (route_ldap_choose) needs mail and objectClass; one whose
		 * attributes do not tell its kind needs objectClass.  Ask
		 * again, by the same deadline.  Where each address is one
		 * entry's and follows the schema, this never happens.
		 */
		if (by_class && !(fields & ROUTE_FIELD_KEY_ADDRESS))
			break;
		route_ldap_entry_end();
		ldap_msgfree(res);
		route_ldap_pool_put(conn);
		by_class = 1;
		if (count > 1)
			fields &= ~(unsigned) ROUTE_FIELD_KEY_ADDRESS;
	}
	if (rc == 0) {
		rc = route_ldap_local_from(rl, conn->ld, res, ldrc, address,
		    filter, fields, mailbox_r, alias_r, error_r);
		route_ldap_classes_end();
		route_ldap_entry_end();
		ldap_msgfree(res);
		route_ldap_pool_put(conn);
	}
	return rc;
}

/*
 * See route_backend.h: the domain from the cache, else from the same
 * search that asks for the address as a mailbox or an alias.
 */
static int
route_ldap_address_get(void *backend, const char *address, unsigned fields,
	struct route_domain **domain_r, int *local_rc_r,
	struct route_mailbox **mailbox_r, struct route_alias **alias_r,
	char **error_r)
{
	const char *const *attrs;
	struct route_ldap *rl = backend;
	const char *domain = strrchr(address, '@') + 1;
	struct route_ldap_cache_entry *e;
	struct route_ldap_conn *conn;
	struct route_domain *d = NULL;
	LDAPMessage *res, *chosen = NULL;
	const char *filter;
	int ldrc, rc;

	*local_rc_r = ROUTE_BACKEND_NOT_ASKED;
	if ((e = route_ldap_cache_find(rl, ROUTE_LDAP_CACHE_DOMAIN, domain))
	    != NULL) {
		if (!e->found)
			return 0;
		d = route_domain_dup(e->record);
		if (d->kind == ROUTE_DOMAIN_LOCAL) {
			/* Copied first: a cache store may evict e. */
			rc = route_ldap_local_get(rl, address, fields,
			    mailbox_r, alias_r, error_r);
			if (rc < 0) {
				route_domain_free(&d);
				return -1;
			}
			*local_rc_r = rc;
		}
		*domain_r = d;
		return 1;
	}
	if ((filter = route_ldap_filter_any(rl, domain, address)) == NULL) {
		*error_r = xstrdup("address too long");
		return -1;
	}
	/*
	 * With the domain's entry the result has several: mail tells a
	 * mailbox's from an alternate's (route_ldap_choose).
	 */
	fields = route_ldap_search_fields(rl, fields)
	    & ~(unsigned) ROUTE_FIELD_KEY_ADDRESS;
	attrs = route_ldap_routing_attrs(fields, 1, 1);
	if (route_ldap_lookup_search(rl, route_ldap_deadline(), filter, attrs,
	    3 * ROUTE_LDAP_LOOKUP_SIZELIMIT, &conn, &res, &ldrc,
	    error_r) < 0)
		return -1;
	/* The domain's entry and the address's: their classes once. */
	route_ldap_classes_begin(conn->ld, res);
	rc = route_ldap_choose(conn->ld, res, ldrc, ROUTE_LDAP_OC_DOMAIN,
	    "ispmailDomainName", domain, filter, &chosen, error_r);
	if (rc > 0 && route_ldap_parse_chosen(conn->ld, chosen,
	    route_ldap_parse_domain_any, ROUTE_FIELDS_ALL, &d, error_r) < 0)
		rc = -1;
	if (rc == 0)
		route_ldap_cache_store(rl, ROUTE_LDAP_CACHE_DOMAIN, domain, 0,
		    NULL);
	if (rc > 0 && d->kind == ROUTE_DOMAIN_LOCAL) {
		*local_rc_r = route_ldap_local_from(rl, conn->ld, res, ldrc,
		    address, filter, fields, mailbox_r, alias_r, error_r);
		if (*local_rc_r < 0) {
			*local_rc_r = ROUTE_BACKEND_NOT_ASKED;
			route_domain_free(&d);
			rc = -1;
		}
	}
	if (rc > 0)
		route_ldap_domain_found(rl, domain, d, domain_r);
	route_ldap_classes_end();
	ldap_msgfree(res);
	route_ldap_pool_put(conn);
	return rc;
}

/* ---- password check by bind --------------------------------------------- */

/*
 * Find the mailbox's DN, then bind as it on a connection of its own: a
 * pooled connection must keep the service identity.
 */
static int
route_ldap_auth_bind(void *backend, const char *address,
	const char *password, char **error_r)
{
	struct route_ldap *rl = backend;
	char *filter, *dn = NULL, *error = NULL;
	LDAP *ld = NULL;
	size_t server;
	int found, ldrc;

	/* RFC 4513 5.1.2: an empty password is an unauthenticated bind. */
	if (password[0] == '\0')
		return 0;
	filter = route_ldap_filter(ROUTE_LDAP_OC_MAILBOX, "mail",
	    route_ldap_alternate_attr(rl), address);
	if (filter == NULL)
		return 0;
	found = route_ldap_find_dn(rl, filter, &dn, error_r);
	free(filter);
	if (found <= 0)
		return found;
	if (route_ldap_connect(rl, dn, password, route_ldap_deadline(), &ld,
	    &server, &ldrc, &error) == 0) {
		(void) ldap_unbind_ext_s(ld, NULL, NULL);
		free(dn);
		return 1;
	}
	free(dn);
	if (ldrc == LDAP_INVALID_CREDENTIALS
	    || ldrc == LDAP_INAPPROPRIATE_AUTH) {
		free(error);
		return 0;
	}
	*error_r = error;
	return -1;
}

const struct route_backend_ops route_backend_ldap = {
	.name = "ldap",
	.open = route_ldap_open,
	.close = route_ldap_close,
	.domain_get = route_ldap_domain_get,
	.mailbox_get = route_ldap_mailbox_get,
	.alias_get = route_ldap_alias_get,
	.relay_recipient_get = route_ldap_relay_recipient_get,
	.local_get = route_ldap_local_get,
	.address_get = route_ldap_address_get,
	.domain_put = route_ldap_domain_put,
	.domain_delete = route_ldap_domain_delete,
	.mailbox_put = route_ldap_mailbox_put,
	.mailbox_delete = route_ldap_mailbox_delete,
	.alias_put = route_ldap_alias_put,
	.alias_delete = route_ldap_alias_delete,
	.relay_recipient_put = route_ldap_relay_recipient_put,
	.relay_recipient_delete = route_ldap_relay_recipient_delete,
	.list = route_ldap_list,
	.auth_bind = route_ldap_auth_bind,
};

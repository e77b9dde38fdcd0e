/* route: the routing directory API over a chosen backend. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "address.h"
#include "log.h"
#include "mail_params.h"
#include "metrics.h"
#include "route.h"
#include "route_backend.h"
#include "xalloc.h"

#include "route_int.h"

static const struct route_backend_ops *const route_backends[] = {
	&route_backend_file,
	&route_backend_ldap,
};

/*
 * An alias domain may point at another alias domain in a hand-edited
 * map; this many hops is plenty and stops a loop.
 */
#define ROUTE_ALIAS_DOMAIN_HOPS 8

/* Set *error_r when the caller wants it; returns rc. */
int
route_fail(char **error_r, int rc, const char *fmt, ...)
{
	va_list ap;
	char *text;

	if (error_r == NULL)
		return rc;
	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) < 0)
		log_fatal("out of memory formatting a routing error");
	va_end(ap);
	free(*error_r);
	*error_r = text;
	return rc;
}

/* Hand a backend's error text to the caller, or drop it. */
void
route_pass_error(char **error_r, char *error)
{
	if (error_r != NULL) {
		free(*error_r);
		*error_r = error;
	} else {
		free(error);
	}
}

static char *
route_strdup_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

/* A NULL-terminated copy of count strings. */
static char **
route_strv_dup(char *const *v, size_t count)
{
	char **copy = xcalloc(xalloc_add(count, 1), sizeof(char *));
	size_t i;

	for (i = 0; i < count; i++)
		copy[i] = xstrdup(v[i]);
	return copy;
}

static void
route_strv_free(char ***vp, size_t count)
{
	size_t i;

	if (*vp == NULL)
		return;
	for (i = 0; i < count; i++)
		free((*vp)[i]);
	xfree(*vp);
}

/* ---- open, close, normalise ------------------------------------------ */

struct route *
route_open(char **error_r)
{
	const struct route_backend_ops *ops = NULL;
	struct route *r;
	size_t i;

	*error_r = NULL;
	for (i = 0; i < sizeof(route_backends) / sizeof(route_backends[0]);
	    i++)
		if (strcmp(route_backends[i]->name, var_route_backend) == 0)
			ops = route_backends[i];
	if (ops == NULL) {
		(void) route_fail(error_r, -1, "unknown route_backend \"%s\" "
		    "(file or ldap)", var_route_backend);
		return NULL;
	}
	r = xcalloc(1, sizeof(*r));
	r->ops = ops;
	r->backend = ops->open(error_r);
	if (r->backend == NULL) {
		if (*error_r == NULL)
			*error_r = xasprintf("%s backend: cannot open",
			    ops->name);
		free(r);
		return NULL;
	}
	return r;
}

void
route_close(struct route **rp)
{
	if (*rp == NULL)
		return;
	(*rp)->ops->close((*rp)->backend);
	xfree(*rp);
}

const char *
route_backend_name(const struct route *r)
{
	return r->ops->name;
}

int
route_normalize(const struct route *r, const char *address, char **norm_r,
	char **error_r)
{
	(void) r;
	return address_normalize(address, strlen(address),
	    var_route_case_sensitive_local, norm_r, error_r);
}

/*
 * A target address kept in a record (a forward, an alias target): its
 * syntax is checked and its domain lower-cased, but the local part keeps
 * its case, because a remote system may care.  Lookups normalise again.
 */
int
route_normalize_target(const char *address, char **norm_r, char **error_r)
{
	return address_normalize(address, strlen(address), 1, norm_r,
	    error_r);
}

/* A domain name as a key: lower case, syntax checked, no literals. */
int
route_normalize_domain(const char *domain, char **norm_r, char **error_r)
{
	char *why = NULL, *p;

	if (address_domain_check(domain, strlen(domain), 0, &why) < 0) {
		(void) route_fail(error_r, -1, "invalid domain \"%s\": %s",
		    domain, why);
		free(why);
		return -1;
	}
	*norm_r = xstrdup(domain);
	for (p = *norm_r; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char) (*p - 'A' + 'a');
	return 0;
}

/* The domain of a normalised address (after its last '@'). */
const char *
route_domain_of(const char *norm)
{
	return strrchr(norm, '@') + 1;
}

/* ---- records ------------------------------------------------------------ */

void
route_domain_free(struct route_domain **dp)
{
	struct route_domain *d = *dp;

	if (d == NULL)
		return;
	free(d->name);
	free(d->alias_target);
	free(d->relay_host);
	free(d->catchall);
	free(d->mail_host);
	route_strv_free(&d->dkim_selectors, d->dkim_selector_count);
	xfree(*dp);
}

struct route_domain *
route_domain_dup(const struct route_domain *d)
{
	struct route_domain *copy = xcalloc(1, sizeof(*copy));

	copy->name = route_strdup_null(d->name);
	copy->kind = d->kind;
	copy->alias_target = route_strdup_null(d->alias_target);
	copy->relay_host = route_strdup_null(d->relay_host);
	copy->catchall = route_strdup_null(d->catchall);
	copy->mail_host = route_strdup_null(d->mail_host);
	copy->archive = d->archive;
	copy->dmarc = d->dmarc;
	/* Most domains sign with no key: no empty array per copy. */
	if (d->dkim_selector_count > 0)
		copy->dkim_selectors = route_strv_dup(d->dkim_selectors,
		    d->dkim_selector_count);
	copy->dkim_selector_count = d->dkim_selector_count;
	return copy;
}

int
route_mailbox_archived(struct route *r, const struct route_mailbox *m,
	const struct route_domain *d)
{
	const char *at = strrchr(m->address, '@');
	struct route_domain *own = NULL;
	int rc;

	if (m->archive)
		return 1;
	if (at == NULL)
		return 0;
	if (d != NULL && strcasecmp(d->name, at + 1) == 0)
		return d->archive != 0;
	rc = route_domain_lookup(r, at + 1, &own, NULL);
	if (rc > 0)
		rc = own->archive != 0;
	route_domain_free(&own);
	return rc;
}

void
route_mailbox_free(struct route_mailbox **mp)
{
	struct route_mailbox *m = *mp;

	if (m == NULL)
		return;
	free(m->address);
	route_strv_free(&m->alt_addresses, m->alt_count);
	free(m->mail_host);
	free(m->store_path);
	if (m->password_hash != NULL) {
		explicit_bzero(m->password_hash, strlen(m->password_hash));
		free(m->password_hash);
	}
	free(m->outbound_class);
	route_strv_free(&m->forwards, m->forward_count);
	xfree(*mp);
}

const char *const route_dmarc_names[ROUTE_DMARC_POLICIES] = {
	"default", "honour", "junk"
};

struct route_mailbox *
route_mailbox_dup(const struct route_mailbox *m)
{
	struct route_mailbox *copy = xmalloc(sizeof(*copy));

	*copy = *m;
	copy->address = route_strdup_null(m->address);
	copy->alt_addresses = route_strv_dup(m->alt_addresses, m->alt_count);
	copy->mail_host = route_strdup_null(m->mail_host);
	copy->store_path = route_strdup_null(m->store_path);
	copy->password_hash = route_strdup_null(m->password_hash);
	copy->outbound_class = route_strdup_null(m->outbound_class);
	copy->forwards = route_strv_dup(m->forwards, m->forward_count);
	return copy;
}

void
route_alias_free(struct route_alias **ap)
{
	if (*ap == NULL)
		return;
	free((*ap)->address);
	route_strv_free(&(*ap)->targets, (*ap)->target_count);
	xfree(*ap);
}

struct route_alias *
route_alias_dup(const struct route_alias *a)
{
	struct route_alias *copy = xcalloc(1, sizeof(*copy));

	copy->address = route_strdup_null(a->address);
	copy->targets = route_strv_dup(a->targets, a->target_count);
	copy->target_count = a->target_count;
	return copy;
}

void
route_answer_free(struct route_answer **ap)
{
	struct route_answer *a = *ap;

	if (a == NULL)
		return;
	free(a->address);
	free(a->matched);
	route_domain_free(&a->domain);
	route_mailbox_free(&a->mailbox);
	route_alias_free(&a->alias);
	xfree(*ap);
}

void
route_expansion_free(struct route_expansion **ep)
{
	struct route_expansion *e = *ep;
	size_t i;

	if (e == NULL)
		return;
	for (i = 0; i < e->dest_count; i++) {
		free(e->dests[i].address);
		free(e->dests[i].original);
		route_mailbox_free(&e->dests[i].mailbox);
		route_domain_free(&e->dests[i].domain);
	}
	free(e->dests);
	route_strv_free(&e->trace, e->trace_count);
	xfree(*ep);
}

void
route_names_free(char ***namesp)
{
	char **names = *namesp;
	size_t i;

	if (names == NULL)
		return;
	for (i = 0; names[i] != NULL; i++)
		free(names[i]);
	xfree(*namesp);
}

/* ---- lookups -------------------------------------------------------------- */

/*
 * A backend read's rc, passed on: below 0 its error text goes to *error_r,
 * or "<prefix><key>: temporary failure" when it gave none; else any text
 * is dropped.
 */
static int
route_read_result(int rc, char *error, char **error_r, const char *prefix,
	const char *key)
{
	if (rc < 0)
		route_pass_error(error_r, error != NULL ? error
		    : xasprintf("%s%s: temporary failure", prefix, key));
	else
		free(error);
	return rc;
}

int
route_backend_domain(struct route *r, const char *name,
	struct route_domain **domain_r, char **error_r)
{
	char *error = NULL;
	int rc = r->ops->domain_get(r->backend, name, domain_r, &error);

	return route_read_result(rc, error, error_r, "domain ", name);
}

int
route_domain_lookup(struct route *r, const char *domain,
	struct route_domain **domain_r, char **error_r)
{
	char *name;
	int rc;

	if (route_normalize_domain(domain, &name, error_r) < 0)
		return 0;
	rc = route_backend_domain(r, name, domain_r, error_r);
	if (rc == 0)
		(void) route_fail(error_r, 0, "domain %s is not ours", name);
	free(name);
	return rc;
}

/* A local key: a mailbox (exact or alternate), else an alias. */
int
route_find_local(struct route *r, const char *key, unsigned fields,
	struct route_mailbox **mailbox_r, struct route_alias **alias_r,
	char **error_r)
{
	char *error = NULL;
	int rc;

	if (r->ops->local_get != NULL) {
		rc = r->ops->local_get(r->backend, key, fields, mailbox_r,
		    alias_r, &error);
	} else {
		rc = r->ops->mailbox_get(r->backend, key, mailbox_r, &error);
		if (rc == 0) {
			free(error);
			error = NULL;
			rc = r->ops->alias_get(r->backend, key, alias_r,
			    &error);
		}
	}
	return route_read_result(rc, error, error_r, "", key);
}

/*
 * The domain of norm (route_backend_domain) and, where the backend can
 * answer both in one round trip, norm as a mailbox or alias: *local_rc_r
 * is then 1 or 0 (route_find_local's answer), else
 * ROUTE_BACKEND_NOT_ASKED.
 */
static int
route_backend_address(struct route *r, const char *norm, unsigned fields,
	struct route_domain **domain_r, int *local_rc_r,
	struct route_mailbox **mailbox_r, struct route_alias **alias_r,
	char **error_r)
{
	char *error = NULL;
	int rc;

	*local_rc_r = ROUTE_BACKEND_NOT_ASKED;
	if (r->ops->address_get == NULL)
		return route_backend_domain(r, strrchr(norm, '@') + 1,
		    domain_r, error_r);
	rc = r->ops->address_get(r->backend, norm, fields, domain_r,
	    local_rc_r, mailbox_r, alias_r, &error);
	return route_read_result(rc, error, error_r, "", norm);
}

static int
route_relay_get(struct route *r, const char *key, char **error_r)
{
	char *error = NULL;
	int rc = r->ops->relay_recipient_get(r->backend, key, &error);

	return route_read_result(rc, error, error_r, "", key);
}

/* "user+tag@domain" -> "user@domain"; NULL when there is no tag. */
static char *
route_strip_tag(const char *norm)
{
	const char *at = strrchr(norm, '@');
	char *local = xmemdup(norm, (size_t) (at - norm));
	char *content = address_local_unquote(local);
	char *user, *result = NULL;
	size_t user_len;

	if (address_split_delimiter(content, var_recipient_delimiter,
	    &user_len)) {
		content[user_len] = '\0';
		user = address_local_canonical(content);
		result = xasprintf("%s@%s", user, at + 1);
		free(user);
	}
	free(content);
	free(local);
	return result;
}

/*
 * A new answer that takes over *dp (the lookup's own copy) and *keyp
 * when it is not NULL (the key that matched, else matched is copied).
 */
static struct route_answer *
route_answer_new(enum route_kind kind, const char *address,
	const char *matched, char **keyp, const char *how,
	struct route_domain **dp)
{
	struct route_answer *a = xcalloc(1, sizeof(*a));

	a->kind = kind;
	a->address = xstrdup(address);
	if (*keyp != NULL) {
		a->matched = *keyp;
		*keyp = NULL;
	} else {
		a->matched = xstrdup(matched);
	}
	a->how = how;
	a->domain = *dp;
	*dp = NULL;
	return a;
}

/*
 * One step of route_lookup_fields on a normalised address; the catch-all
 * is tried only when allow_catchall (not when resolving a catch-all
 * itself).
 */
int
route_resolve(struct route *r, const char *norm, unsigned fields,
	int allow_catchall, struct route_answer **answer_r,
	struct route_domain **domain_r, int *ours_r, char **error_r)
{
	struct route_domain *d = NULL, *target = NULL;
	struct route_mailbox *m = NULL, *pre_m = NULL;
	struct route_alias *alias = NULL, *pre_alias = NULL;
	struct route_answer *inner = NULL;
	const char *at = strrchr(norm, '@');
	const char *how = "exact";
	/* addr: norm, or its rewrite into an alias domain's target (own). */
	const char *addr = norm;
	char *addr_own = NULL, *key = NULL, *catchall = NULL;
	int rc, hops, pre_rc;

	/* One round trip where the backend can: the domain and norm. */
	rc = route_backend_address(r, norm, fields, &d, &pre_rc, &pre_m,
	    &pre_alias, error_r);
	if (rc == 0)
		(void) route_fail(error_r, 0, "domain %s is not ours", at + 1);
	if (rc <= 0)
		return rc;
	if (ours_r != NULL)
		*ours_r = 1;
	if (domain_r != NULL)
		*domain_r = route_domain_dup(d);
	for (hops = 0; d->kind == ROUTE_DOMAIN_ALIAS; hops++) {
		/*
		 * A broken alias domain is the operator's mistake, not the
		 * sender's: fail temporarily so no mail bounces for it.
		 */
		if (hops >= ROUTE_ALIAS_DOMAIN_HOPS || d->alias_target == NULL) {
			rc = route_fail(error_r, -1, "alias domain %s: %s",
			    d->name, d->alias_target == NULL ? "no target"
			    : "alias domain loop");
			goto out;
		}
		rc = route_backend_domain(r, d->alias_target, &target,
		    error_r);
		if (rc == 0)
			rc = route_fail(error_r, -1, "alias domain %s: target "
			    "domain %s is not ours", d->name, d->alias_target);
		if (rc < 0)
			goto out;
		free(addr_own);
		addr_own = xasprintf("%.*s@%s", (int) (at - norm), norm,
		    target->name);
		addr = addr_own;
		route_domain_free(&d);
		d = target;
		target = NULL;
		how = "alias domain";
	}

	if (d->kind == ROUTE_DOMAIN_RELAY) {
		key = xstrdup(addr);
		rc = route_relay_get(r, key, error_r);
		if (rc == 0) {
			free(key);
			key = route_strip_tag(addr);
			if (key != NULL) {
				rc = route_relay_get(r, key, error_r);
				if (strcmp(how, "exact") == 0)
					how = "recipient delimiter";
			}
		}
		if (rc == 0)
			(void) route_fail(error_r, 0, "%s is not a listed "
			    "recipient of relay domain %s", addr, d->name);
		if (rc > 0)
			*answer_r = route_answer_new(ROUTE_KIND_RELAY, norm,
			    key, &key, how, &d);
		goto out;
	}

	/* key: NULL while addr itself is asked, then the untagged address. */
	if (pre_rc != ROUTE_BACKEND_NOT_ASKED && addr == norm) {
		rc = pre_rc;
		m = pre_m;
		alias = pre_alias;
		pre_m = NULL;
		pre_alias = NULL;
	} else {
		rc = route_find_local(r, addr, fields, &m, &alias, error_r);
	}
	if (rc == 0) {
		key = route_strip_tag(addr);
		if (key != NULL) {
			rc = route_find_local(r, key, fields, &m, &alias,
			    error_r);
			if (strcmp(how, "exact") == 0)
				how = "recipient delimiter";
		}
	}
	if (rc < 0)
		goto out;
	if (rc > 0) {
		if (m != NULL && strcmp(m->address, key != NULL ? key : addr)
		    != 0 && strcmp(how, "exact") == 0)
			how = "alternate address";
		*answer_r = route_answer_new(m != NULL ? ROUTE_KIND_MAILBOX
		    : ROUTE_KIND_ALIAS, norm, addr, &key, how, &d);
		(*answer_r)->mailbox = m;
		(*answer_r)->alias = alias;
		m = NULL;
		alias = NULL;
		goto out;
	}
	if (!allow_catchall || d->catchall == NULL) {
		(void) route_fail(error_r, 0, "unknown address %s", addr);
		goto out;
	}

	/* The catch-all answers for an unknown local part of this domain. */
	if (route_normalize(r, d->catchall, &catchall, NULL) < 0) {
		rc = route_fail(error_r, -1, "domain %s: invalid catch-all "
		    "\"%s\"", d->name, d->catchall);
		goto out;
	}
	rc = route_backend_domain(r, route_domain_of(catchall), &target,
	    error_r);
	if (rc < 0)
		goto out;
	if (rc == 0) {
		/* A remote catch-all: answer as an alias pointing there. */
		alias = xcalloc(1, sizeof(*alias));
		alias->address = xstrdup(addr);
		alias->targets = route_strv_dup(&d->catchall, 1);
		alias->target_count = 1;
		*answer_r = route_answer_new(ROUTE_KIND_ALIAS, norm, catchall,
		    &catchall, "catch-all", &d);
		(*answer_r)->alias = alias;
		alias = NULL;
		rc = 1;
		goto out;
	}
	rc = route_resolve(r, catchall, fields, 0, &inner, NULL, NULL,
	    error_r);
	if (rc == 0)
		(void) route_fail(error_r, 0, "unknown address %s (the "
		    "catch-all %s of %s does not exist)", addr, catchall,
		    d->name);
	if (rc <= 0)
		goto out;
	free(inner->address);
	inner->address = xstrdup(norm);
	inner->how = "catch-all";
	*answer_r = inner;
out:
	route_domain_free(&d);
	route_domain_free(&target);
	route_mailbox_free(&m);
	route_alias_free(&alias);
	route_mailbox_free(&pre_m);
	route_alias_free(&pre_alias);
	free(addr_own);
	free(key);
	free(catchall);
	return rc;
}

/* Seconds on the monotonic clock, for the lookup latency histogram. */
static double
route_monotonic(void)
{
	struct timespec ts;

	(void) clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/*
 * route_lookup_fields, and the first step's domain when domain_r is not
 * NULL; *ours_r (not NULL) is set to 1 when that domain is ours.
 */
static int
route_lookup_address(struct route *r, const char *address, unsigned fields,
	struct route_answer **answer_r, struct route_domain **domain_r,
	int *ours_r, char **error_r)
{
	char *norm = NULL, *why = NULL;
	double start;
	int rc;

	*answer_r = NULL;
	if (route_normalize(r, address, &norm, &why) < 0) {
		(void) route_fail(error_r, 0, "invalid address \"%s\": %s",
		    address, why);
		free(why);
		return 0;
	}
	start = route_monotonic();
	rc = route_resolve(r, norm, fields, 1, answer_r, domain_r, ours_r,
	    error_r);
	free(norm);
	metrics_observe("ispmail_directory_lookup_seconds",
	    route_monotonic() - start, "backend", r->ops->name, NULL);
	metrics_inc("ispmail_directory_lookups_total", "backend",
	    r->ops->name, "result", rc > 0 ? "found" : rc == 0 ?
	    "not_found" : "error", NULL);
	return rc;
}

int
route_lookup(struct route *r, const char *address,
	struct route_answer **answer_r, char **error_r)
{
	return route_lookup_address(r, address, ROUTE_FIELDS_ALL, answer_r,
	    NULL, NULL, error_r);
}

int
route_lookup_fields(struct route *r, const char *address, unsigned fields,
	struct route_answer **answer_r, char **error_r)
{
	return route_lookup_address(r, address, fields, answer_r, NULL,
	    NULL, error_r);
}

int
route_lookup_recipient(struct route *r, const char *address,
	unsigned fields, struct route_domain **domain_r,
	struct route_answer **answer_r, char **error_r)
{
	int ours = 0;

	if (domain_r != NULL)
		*domain_r = NULL;
	if (route_lookup_address(r, address, fields, answer_r, domain_r,
	    &ours, error_r) < 0) {
		if (domain_r != NULL)
			route_domain_free(domain_r);
		route_answer_free(answer_r);
		return -1;
	}
	return ours;
}

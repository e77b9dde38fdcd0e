/* route: the routing directory API over a chosen backend. */
#include "config.h"

#include <crypt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "address.h"
#include "buf.h"
#include "hash.h"
#include "log.h"
#include "mail_params.h"
#include "metrics.h"
#include "route.h"
#include "route_backend.h"
#include "xalloc.h"

struct route {
	const struct route_backend_ops *ops;
	void *backend;
};

static const struct route_backend_ops *const route_backends[] = {
	&route_backend_file,
	&route_backend_ldap,
};

/*
 * An alias domain may point at another alias domain in a hand-edited
 * map; this many hops is plenty and stops a loop.
 */
#define ROUTE_ALIAS_DOMAIN_HOPS 8

/*
 * A yescrypt hash of a password nobody uses, with the default cost, so an
 * unknown login costs the same crypt() time as a known one.
 */
#define ROUTE_DUMMY_HASH \
	"$y$j9T$HaIcPMYhffOhoXRoPOJvV/$8amQrcEdcQF/rURjUr6dyncwXCdBTVz.pHX1gYx4JdC"

/* Set *error_r when the caller wants it; returns rc. */
static int __attribute__((format(printf, 3, 4)))
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
static void
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
static int
route_normalize_target(const char *address, char **norm_r, char **error_r)
{
	return address_normalize(address, strlen(address), 1, norm_r,
	    error_r);
}

/* A domain name as a key: lower case, syntax checked, no literals. */
static int
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
static const char *
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
	return copy;
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

static struct route_alias *
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

static int
route_backend_domain(struct route *r, const char *name,
	struct route_domain **domain_r, char **error_r)
{
	char *error = NULL;
	int rc = r->ops->domain_get(r->backend, name, domain_r, &error);

	if (rc < 0)
		route_pass_error(error_r, error != NULL ? error
		    : xasprintf("domain %s: temporary failure", name));
	else
		free(error);
	return rc;
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
static int
route_find_local(struct route *r, const char *key,
	struct route_mailbox **mailbox_r, struct route_alias **alias_r,
	char **error_r)
{
	char *error = NULL;
	int rc;

	if (r->ops->local_get != NULL) {
		rc = r->ops->local_get(r->backend, key, mailbox_r, alias_r,
		    &error);
	} else {
		rc = r->ops->mailbox_get(r->backend, key, mailbox_r, &error);
		if (rc == 0) {
			free(error);
			error = NULL;
			rc = r->ops->alias_get(r->backend, key, alias_r,
			    &error);
		}
	}
	if (rc < 0)
		route_pass_error(error_r, error != NULL ? error
		    : xasprintf("%s: temporary failure", key));
	else
		free(error);
	return rc;
}

/*
 * The domain of norm (route_backend_domain) and, where the backend can
 * answer both in one round trip, norm as a mailbox or alias: *local_rc_r
 * is then 1 or 0 (route_find_local's answer), else
 * ROUTE_BACKEND_NOT_ASKED.
 */
static int
route_backend_address(struct route *r, const char *norm,
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
	rc = r->ops->address_get(r->backend, norm, domain_r, local_rc_r,
	    mailbox_r, alias_r, &error);
	if (rc < 0)
		route_pass_error(error_r, error != NULL ? error
		    : xasprintf("%s: temporary failure", norm));
	else
		free(error);
	return rc;
}

static int
route_relay_get(struct route *r, const char *key, char **error_r)
{
	char *error = NULL;
	int rc = r->ops->relay_recipient_get(r->backend, key, &error);

	if (rc < 0)
		route_pass_error(error_r, error != NULL ? error
		    : xasprintf("%s: temporary failure", key));
	else
		free(error);
	return rc;
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

static struct route_answer *
route_answer_new(enum route_kind kind, const char *address,
	const char *matched, const char *how, const struct route_domain *d)
{
	struct route_answer *a = xcalloc(1, sizeof(*a));

	a->kind = kind;
	a->address = xstrdup(address);
	a->matched = xstrdup(matched);
	a->how = how;
	a->domain = route_domain_dup(d);
	return a;
}

/*
 * One step of route_lookup on a normalised address; the catch-all is
 * tried only when allow_catchall (not when resolving a catch-all itself).
 */
static int
route_resolve(struct route *r, const char *norm, int allow_catchall,
	struct route_answer **answer_r, struct route_domain **domain_r,
	char **error_r)
{
	struct route_domain *d = NULL, *target = NULL;
	struct route_mailbox *m = NULL, *pre_m = NULL;
	struct route_alias *alias = NULL, *pre_alias = NULL;
	struct route_answer *inner = NULL;
	const char *at = strrchr(norm, '@');
	const char *how = "exact";
	char *addr = NULL, *key = NULL, *catchall = NULL;
	int rc, hops, pre_rc;

	/* One round trip where the backend can: the domain and norm. */
	rc = route_backend_address(r, norm, &d, &pre_rc, &pre_m, &pre_alias,
	    error_r);
	if (rc == 0)
		(void) route_fail(error_r, 0, "domain %s is not ours", at + 1);
	if (rc <= 0)
		return rc;
	if (domain_r != NULL)
		*domain_r = route_domain_dup(d);
	addr = xstrdup(norm);
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
		free(addr);
		addr = xasprintf("%.*s@%s", (int) (at - norm), norm,
		    target->name);
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
			    key, how, d);
		goto out;
	}

	key = xstrdup(addr);
	if (pre_rc != ROUTE_BACKEND_NOT_ASKED && strcmp(addr, norm) == 0) {
		rc = pre_rc;
		m = pre_m;
		alias = pre_alias;
		pre_m = NULL;
		pre_alias = NULL;
	} else {
		rc = route_find_local(r, key, &m, &alias, error_r);
	}
	if (rc == 0) {
		free(key);
		key = route_strip_tag(addr);
		if (key != NULL) {
			rc = route_find_local(r, key, &m, &alias, error_r);
			if (strcmp(how, "exact") == 0)
				how = "recipient delimiter";
		}
	}
	if (rc < 0)
		goto out;
	if (rc > 0) {
		if (m != NULL && strcmp(m->address, key) != 0
		    && strcmp(how, "exact") == 0)
			how = "alternate address";
		*answer_r = route_answer_new(m != NULL ? ROUTE_KIND_MAILBOX
		    : ROUTE_KIND_ALIAS, norm, key, how, d);
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
		*answer_r = route_answer_new(ROUTE_KIND_ALIAS, norm, catchall,
		    "catch-all", d);
		alias = xcalloc(1, sizeof(*alias));
		alias->address = xstrdup(addr);
		alias->targets = route_strv_dup(&d->catchall, 1);
		alias->target_count = 1;
		(*answer_r)->alias = alias;
		alias = NULL;
		rc = 1;
		goto out;
	}
	rc = route_resolve(r, catchall, 0, &inner, NULL, error_r);
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
	free(addr);
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

/* route_lookup, and the first step's domain when domain_r is not NULL. */
static int
route_lookup_address(struct route *r, const char *address,
	struct route_answer **answer_r, struct route_domain **domain_r,
	char **error_r)
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
	rc = route_resolve(r, norm, 1, answer_r, domain_r, error_r);
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
	return route_lookup_address(r, address, answer_r, NULL, error_r);
}

int
route_lookup_recipient(struct route *r, const char *address,
	struct route_domain **domain_r, struct route_answer **answer_r,
	char **error_r)
{
	*domain_r = NULL;
	if (route_lookup_address(r, address, answer_r, domain_r,
	    error_r) < 0) {
		route_domain_free(domain_r);
		route_answer_free(answer_r);
		return -1;
	}
	return *domain_r != NULL;
}

/* ---- expansion ------------------------------------------------------------ */

/* A small string set (chained hash) for the addresses already expanded. */
struct route_seen {
	struct route_seen_entry **buckets;
	size_t size, count;
};

struct route_seen_entry {
	struct route_seen_entry *next;
	char key[];
};

/* Add key; 1 when it was new, 0 when already there. */
static int
route_seen_add(struct route_seen *set, const char *key)
{
	struct route_seen_entry *e, *next, **buckets;
	size_t i, len;

	if (set->size == 0) {
		set->size = 64;
		set->buckets = xcalloc(set->size, sizeof(*set->buckets));
	}
	for (e = set->buckets[fnv1a32(key) & (set->size - 1)];
	    e != NULL; e = e->next)
		if (strcmp(e->key, key) == 0)
			return 0;
	if (set->count >= set->size) {
		buckets = xcalloc(xalloc_mul(set->size, 2), sizeof(*buckets));
		for (i = 0; i < set->size; i++)
			for (e = set->buckets[i]; e != NULL; e = next) {
				next = e->next;
				e->next = buckets[fnv1a32(e->key)
				    & (set->size * 2 - 1)];
				buckets[fnv1a32(e->key)
				    & (set->size * 2 - 1)] = e;
			}
		free(set->buckets);
		set->buckets = buckets;
		set->size *= 2;
	}
	len = strlen(key);
	e = xmalloc(xalloc_add(sizeof(*e), len + 1));
	memcpy(e->key, key, len + 1);
	i = fnv1a32(key) & (set->size - 1);
	e->next = set->buckets[i];
	set->buckets[i] = e;
	set->count++;
	return 1;
}

static void
route_seen_free(struct route_seen *set)
{
	struct route_seen_entry *e, *next;
	size_t i;

	for (i = 0; i < set->size; i++)
		for (e = set->buckets[i]; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	free(set->buckets);
}

struct route_expand_ctx {
	struct route *r;
	struct route_expansion *exp;
	size_t dest_alloc, trace_alloc;
	char *original;			/* the address route_expand got */
	struct route_seen seen;
	char **path;			/* the chain being expanded */
	size_t path_len;
	char *error;
};

static void __attribute__((format(printf, 2, 3)))
route_trace(struct route_expand_ctx *ctx, const char *fmt, ...)
{
	struct route_expansion *exp = ctx->exp;
	va_list ap;
	char *line;

	va_start(ap, fmt);
	if (vasprintf(&line, fmt, ap) < 0)
		log_fatal("out of memory formatting a route trace");
	va_end(ap);
	if (exp->trace_count + 1 >= ctx->trace_alloc) {
		ctx->trace_alloc = ctx->trace_alloc == 0 ? 8
		    : xalloc_mul(ctx->trace_alloc, 2);
		exp->trace = xreallocarray(exp->trace, ctx->trace_alloc,
		    sizeof(char *));
	}
	exp->trace[exp->trace_count++] = line;
	exp->trace[exp->trace_count] = NULL;
}

static struct route_dest *
route_add_dest(struct route_expand_ctx *ctx, enum route_dest_kind kind,
	const char *address)
{
	struct route_expansion *exp = ctx->exp;
	struct route_dest *dest;

	if (exp->dest_count == ctx->dest_alloc) {
		ctx->dest_alloc = ctx->dest_alloc == 0 ? 4
		    : xalloc_mul(ctx->dest_alloc, 2);
		exp->dests = xreallocarray(exp->dests, ctx->dest_alloc,
		    sizeof(*exp->dests));
	}
	dest = &exp->dests[exp->dest_count++];
	memset(dest, 0, sizeof(*dest));
	dest->kind = kind;
	dest->address = xstrdup(address);
	dest->original = xstrdup(ctx->original);
	return dest;
}

static const char *
route_policy_name(enum route_filter_policy policy)
{
	switch (policy) {
	case ROUTE_FILTER_OFF: return "off";
	case ROUTE_FILTER_STANDARD: return "standard";
	case ROUTE_FILTER_AGGRESSIVE: return "aggressive";
	}
	return "?";
}

/* "a -> b -> c" for the current chain, ending with last. */
static char *
route_path_text(const struct route_expand_ctx *ctx, const char *last)
{
	struct buf *text = buf_new(BUF_DEFAULT_CAP);
	char *result;
	size_t i;

	for (i = 0; i < ctx->path_len; i++)
		(void) buf_printf(text, "%s -> ", ctx->path[i]);
	(void) buf_append_str(text, last);
	result = buf_strdup(text);
	buf_free(&text);
	return result;
}

static int
route_on_path(const struct route_expand_ctx *ctx, const char *key)
{
	size_t i;

	for (i = 0; i < ctx->path_len; i++)
		if (strcmp(ctx->path[i], key) == 0)
			return 1;
	return 0;
}

static enum route_expand_status route_expand_address(
	struct route_expand_ctx *ctx, const char *address, size_t depth);

/* A mailbox reached by the expansion: deliver and/or forward. */
static enum route_expand_status
route_expand_mailbox(struct route_expand_ctx *ctx, struct route_answer *a,
	size_t depth)
{
	const struct route_mailbox *m = a->mailbox;
	enum route_expand_status status = ROUTE_EXPAND_OK;
	struct route_dest *dest;
	char *forward = NULL;
	int keep = m->forward_count == 0 || m->forward_keep_copy;
	size_t i;

	if (strcmp(m->address, a->address) != 0
	    && !route_seen_add(&ctx->seen, m->address)) {
		route_trace(ctx, "%s: %s %s, already expanded", a->address,
		    a->how, m->address);
		return ROUTE_EXPAND_OK;
	}
	if (m->state == ROUTE_STATE_DISABLED) {
		ctx->error = xasprintf("%s: account disabled", m->address);
		route_trace(ctx, "%s", ctx->error);
		return ROUTE_EXPAND_UNKNOWN;
	}
	if (strcmp(m->address, a->address) != 0)
		route_trace(ctx, "%s: %s %s", a->address, a->how, m->address);
	route_trace(ctx, "%s: mailbox on %s (%s), policy %s", m->address,
	    m->mail_host != NULL ? m->mail_host : "localhost",
	    m->store_path != NULL ? m->store_path : "no store path",
	    route_policy_name(m->filter));
	/* A forward to the mailbox itself is a kept copy, not a loop. */
	for (i = 0; i < m->forward_count; i++) {
		if (route_normalize(ctx->r, m->forwards[i], &forward, NULL)
		    == 0 && strcmp(forward, m->address) == 0)
			keep = 1;
		xfree(forward);
	}
	if (m->forward_count > 0) {
		struct buf *list = buf_new(BUF_DEFAULT_CAP);

		for (i = 0; i < m->forward_count; i++)
			(void) buf_printf(list, "%s%s", i > 0 ? ", " : "",
			    m->forwards[i]);
		route_trace(ctx, "%s: forwards to %s, %s", m->address,
		    buf_cstr(list), keep ? "keeping a copy" : "no copy kept");
		buf_free(&list);
	}
	if (keep) {
		dest = route_add_dest(ctx, ROUTE_DEST_MAILBOX, m->address);
		dest->mailbox = route_mailbox_dup(m);
		dest->domain = route_domain_dup(a->domain);
	}
	if (m->forward_count == 0)
		return ROUTE_EXPAND_OK;
	if (strcmp(m->address, a->address) != 0)
		ctx->path[ctx->path_len++] = m->address;
	for (i = 0; i < m->forward_count && status == ROUTE_EXPAND_OK; i++) {
		if (route_normalize(ctx->r, m->forwards[i], &forward, NULL)
		    == 0 && strcmp(forward, m->address) == 0) {
			xfree(forward);
			continue;
		}
		xfree(forward);
		status = route_expand_address(ctx, m->forwards[i], depth + 1);
	}
	if (strcmp(m->address, a->address) != 0)
		ctx->path_len--;
	return status;
}

/* Expand one address at depth (0 = the address route_expand got). */
static enum route_expand_status
route_expand_address(struct route_expand_ctx *ctx, const char *address,
	size_t depth)
{
	struct route_answer *a = NULL;
	struct route_domain *d = NULL;
	struct route_dest *dest;
	enum route_expand_status status = ROUTE_EXPAND_OK;
	char *norm = NULL, *why = NULL, *remote = NULL, *chain;
	size_t i;
	int rc;

	if (route_normalize(ctx->r, address, &norm, &why) < 0) {
		chain = route_path_text(ctx, address);
		ctx->error = xasprintf("invalid address \"%s\" (%s): %s",
		    address, chain, why);
		free(chain);
		free(why);
		return ROUTE_EXPAND_UNKNOWN;
	}
	if (route_on_path(ctx, norm)) {
		chain = route_path_text(ctx, norm);
		ctx->error = xasprintf("alias loop: %s", chain);
		free(chain);
		status = ROUTE_EXPAND_LOOP;
		goto out;
	}
	if (!route_seen_add(&ctx->seen, norm))
		goto out;		/* a duplicate: delivered once */
	if (depth > (size_t) var_route_expansion_depth) {
		chain = route_path_text(ctx, norm);
		ctx->error = xasprintf("expansion deeper than %lld "
		    "(route_expansion_depth): %s",
		    var_route_expansion_depth, chain);
		free(chain);
		status = ROUTE_EXPAND_LOOP;
		goto out;
	}

	rc = route_backend_domain(ctx->r, route_domain_of(norm), &d,
	    &ctx->error);
	if (rc < 0) {
		status = ROUTE_EXPAND_TEMPFAIL;
		goto out;
	}
	if (rc == 0) {
		/* Not ours: final, sent over SMTP with its own case. */
		if (route_normalize_target(address, &remote, NULL) < 0)
			remote = xstrdup(norm);
		route_trace(ctx, "%s: remote", remote);
		(void) route_add_dest(ctx, ROUTE_DEST_REMOTE, remote);
		goto out;
	}

	rc = route_resolve(ctx->r, norm, 1, &a, NULL, &ctx->error);
	if (rc < 0) {
		status = ROUTE_EXPAND_TEMPFAIL;
		goto out;
	}
	if (rc == 0) {
		free(ctx->error);
		chain = route_path_text(ctx, norm);
		ctx->error = depth == 0 ? xasprintf("unknown address %s", norm)
		    : xasprintf("unknown address %s (via %s)", norm, chain);
		free(chain);
		route_trace(ctx, "%s: unknown", norm);
		status = ROUTE_EXPAND_UNKNOWN;
		goto out;
	}
	ctx->path[ctx->path_len++] = norm;
	switch (a->kind) {
	case ROUTE_KIND_RELAY:
		/*
		 * The primary gets the address as it was written (its case,
		 * its +tag), in the relay domain (an alias domain may have
		 * pointed there).
		 */
		if (route_normalize_target(address, &remote, NULL) < 0)
			remote = xstrdup(norm);
		chain = xasprintf("%.*s@%s", (int) (strrchr(remote, '@')
		    - remote), remote, a->domain->name);
		route_trace(ctx, "%s: relay recipient of %s, to %s", norm,
		    a->domain->name, a->domain->relay_host != NULL
		    ? a->domain->relay_host : "its MX hosts");
		dest = route_add_dest(ctx, ROUTE_DEST_RELAY, chain);
		dest->domain = route_domain_dup(a->domain);
		free(chain);
		break;
	case ROUTE_KIND_ALIAS: {
		struct buf *targets = buf_new(BUF_DEFAULT_CAP);

		for (i = 0; i < a->alias->target_count; i++)
			(void) buf_printf(targets, "%s%s", i > 0 ? ", " : "",
			    a->alias->targets[i]);
		if (strcmp(a->how, "exact") == 0)
			route_trace(ctx, "%s: alias -> %s", norm,
			    buf_cstr(targets));
		else
			route_trace(ctx, "%s: %s %s: alias -> %s", norm,
			    a->how, a->matched, buf_cstr(targets));
		buf_free(&targets);
		for (i = 0; i < a->alias->target_count
		    && status == ROUTE_EXPAND_OK; i++)
			status = route_expand_address(ctx,
			    a->alias->targets[i], depth + 1);
		break;
	}
	case ROUTE_KIND_MAILBOX:
		status = route_expand_mailbox(ctx, a, depth);
		break;
	}
	ctx->path_len--;
out:
	route_answer_free(&a);
	route_domain_free(&d);
	free(remote);
	free(norm);
	return status;
}

enum route_expand_status
route_expand(struct route *r, const char *address,
	struct route_expansion **exp_r, char **error_r)
{
	struct route_expand_ctx ctx;
	enum route_expand_status status;

	*exp_r = NULL;
	memset(&ctx, 0, sizeof(ctx));
	ctx.r = r;
	ctx.exp = xcalloc(1, sizeof(*ctx.exp));
	/*
	 * The chain is at most route_expansion_depth + 1 long, plus one
	 * entry per level for a forwarding mailbox.
	 */
	ctx.path = xcalloc(xalloc_mul((size_t) var_route_expansion_depth + 2,
	    2), sizeof(char *));
	if (route_normalize(r, address, &ctx.original, NULL) < 0)
		ctx.original = xstrdup(address);
	status = route_expand_address(&ctx, address, 0);
	if (status == ROUTE_EXPAND_TEMPFAIL)
		route_expansion_free(&ctx.exp);
	else
		*exp_r = ctx.exp;
	if (status != ROUTE_EXPAND_OK)
		route_pass_error(error_r, ctx.error != NULL ? ctx.error
		    : xasprintf("%s: expansion failed", address));
	else
		free(ctx.error);
	route_seen_free(&ctx.seen);
	free(ctx.path);
	free(ctx.original);
	return status;
}

/* ---- passwords ------------------------------------------------------------ */

/* Compare two strings in time that depends only on their length. */
static int
route_equal_ct(const char *a, const char *b)
{
	size_t len = strlen(a), i;
	volatile unsigned char diff = 0;

	if (len != strlen(b))
		return 0;
	for (i = 0; i < len; i++)
		diff |= (unsigned char) (a[i] ^ b[i]);
	return diff == 0;
}

/*
 * Does password match hash?  With a NULL or unusable hash the dummy hash
 * is computed anyway and the answer is no, so the time spent does not
 * tell a guesser whether the account exists.
 */
static int
route_password_matches(const char *password, const char *hash,
	const char *who)
{
	struct crypt_data *data = xcalloc(1, sizeof(*data));
	const char *computed;
	int ok = 0, dummy;

	dummy = hash == NULL || hash[0] == '\0' || hash[0] == '!'
	    || hash[0] == '*';
	computed = crypt_rn(password, dummy ? ROUTE_DUMMY_HASH : hash, data,
	    (int) sizeof(*data));
	if (computed == NULL || computed[0] == '*') {
		if (!dummy)
			log_warn("%s: unusable password hash", who);
	} else if (!dummy) {
		ok = route_equal_ct(computed, hash);
	}
	explicit_bzero(data, sizeof(*data));
	free(data);
	return ok;
}

int
route_authenticate(struct route *r, const char *login,
	const char *password, struct route_mailbox **mailbox_r,
	const char **reason_r, char **error_r)
{
	struct route_mailbox *m = NULL;
	char *norm = NULL, *error = NULL;
	int rc, ok;

	if (mailbox_r != NULL)
		*mailbox_r = NULL;
	*reason_r = "invalid credentials";
	if (route_normalize(r, login, &norm, NULL) < 0) {
		(void) route_password_matches(password, NULL, login);
		return 0;
	}
	rc = r->ops->mailbox_get(r->backend, norm, &m, &error);
	if (rc < 0) {
		route_pass_error(error_r, error != NULL ? error
		    : xasprintf("%s: temporary failure", norm));
		free(norm);
		return -1;
	}
	free(error);
	error = NULL;
	if (var_ldap_auth_bind && r->ops->auth_bind != NULL) {
		ok = 0;
		if (rc > 0) {
			ok = r->ops->auth_bind(r->backend, m->address,
			    password, &error);
			if (ok < 0) {
				route_pass_error(error_r, error != NULL ? error
				    : xasprintf("%s: bind failed "
				    "temporarily", m->address));
				route_mailbox_free(&m);
				free(norm);
				return -1;
			}
			free(error);
		}
	} else {
		ok = route_password_matches(password,
		    rc > 0 ? m->password_hash : NULL, norm);
	}
	free(norm);
	if (!ok) {
		route_mailbox_free(&m);
		return 0;
	}
	/*
	 * The state is looked at only after the password was right, so a
	 * wrong guess learns nothing about the account.
	 */
	if (m->state == ROUTE_STATE_MOVING) {
		route_mailbox_free(&m);
		return route_fail(error_r, -1, "mailbox %s is being moved",
		    login);
	}
	if (m->state == ROUTE_STATE_DISABLED
	    || m->state == ROUTE_STATE_SUSPENDED) {
		*reason_r = m->state == ROUTE_STATE_DISABLED
		    ? "account disabled" : "account suspended";
		route_mailbox_free(&m);
		return 0;
	}
	*reason_r = NULL;
	if (mailbox_r != NULL)
		*mailbox_r = m;
	else
		route_mailbox_free(&m);
	return 1;
}

char *
route_hash_password(const char *password, char **error_r)
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *data;
	const char *hash;
	char *result = NULL;

	if (strlen(password) >= CRYPT_MAX_PASSPHRASE_SIZE) {
		(void) route_fail(error_r, -1, "password longer than %d "
		    "bytes", CRYPT_MAX_PASSPHRASE_SIZE - 1);
		return NULL;
	}
	/* yescrypt where libxcrypt has it, else SHA-512 crypt. */
	if (crypt_gensalt_rn("$y$", 0, NULL, 0, setting,
	    (int) sizeof(setting)) == NULL
	    && crypt_gensalt_rn("$6$", 0, NULL, 0, setting,
	    (int) sizeof(setting)) == NULL) {
		(void) route_fail(error_r, -1, "crypt_gensalt: %m");
		return NULL;
	}
	data = xcalloc(1, sizeof(*data));
	hash = crypt_rn(password, setting, data, (int) sizeof(*data));
	if (hash == NULL || hash[0] == '*')
		(void) route_fail(error_r, -1, "crypt: %m");
	else
		result = xstrdup(hash);
	explicit_bzero(data, sizeof(*data));
	free(data);
	return result;
}

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

	rc = route_find_local(r, key, &m, &a, error_r);
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
	if (m->state == ROUTE_STATE_MOVING
	    && strcmp(route_backend_name(r), "file") != 0) {
		(void) route_fail(error_r, -1, "mailbox %s: the moving state "
		    "needs route_backend = file", m->address);
		goto out;
	}
	if ((unsigned) m->state > ROUTE_STATE_MOVING
	    || (unsigned) m->filter > ROUTE_FILTER_AGGRESSIVE || m->quota < 0) {
		(void) route_fail(error_r, -1, "mailbox %s: state, filter or "
		    "quota out of range", m->address);
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

int
route_mailbox_get(struct route *r, const char *address,
	struct route_mailbox **mailbox_r, char **error_r)
{
	char *norm = NULL, *error = NULL;
	int rc;

	*mailbox_r = NULL;
	if (route_normalize(r, address, &norm, NULL) < 0)
		return 0;
	rc = r->ops->mailbox_get(r->backend, norm, mailbox_r, &error);
	free(norm);
	if (rc < 0)
		route_pass_error(error_r, error);
	else
		free(error);
	return rc;
}

int
route_alias_get(struct route *r, const char *address,
	struct route_alias **alias_r, char **error_r)
{
	char *norm = NULL, *error = NULL;
	int rc;

	*alias_r = NULL;
	if (route_normalize(r, address, &norm, NULL) < 0)
		return 0;
	rc = r->ops->alias_get(r->backend, norm, alias_r, &error);
	free(norm);
	if (rc < 0)
		route_pass_error(error_r, error);
	else
		free(error);
	return rc;
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

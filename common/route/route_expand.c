/*
 * route_expand: route_expand, an address through aliases and forwards to
 * its final destinations, with loop and fan-out caps and a trace.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "hash.h"
#include "log.h"
#include "mail_params.h"
#include "route.h"
#include "route_backend.h"
#include "xalloc.h"

#include "route_int.h"

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

	rc = route_resolve(ctx->r, norm, ROUTE_FIELDS_ALL, 1, &a, NULL, NULL,
	    &ctx->error);
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

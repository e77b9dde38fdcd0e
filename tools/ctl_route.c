/* ctl_route: ispmailctl route ADDRESS... -- how an address resolves. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "route.h"

static const char *
ctl_route_domain_kind(enum route_domain_kind kind)
{
	switch (kind) {
	case ROUTE_DOMAIN_LOCAL: return "local";
	case ROUTE_DOMAIN_RELAY: return "relay";
	case ROUTE_DOMAIN_ALIAS: return "alias";
	}
	return "?";
}

static const char *const ctl_route_policy[] = {
	"off", "standard", "aggressive"
};

static const char *const ctl_route_state[] = {
	"active", "suspended", "disabled", "moving"
};

static void
ctl_route_print_dest(const struct route_dest *dest)
{
	const struct route_mailbox *m = dest->mailbox;

	switch (dest->kind) {
	case ROUTE_DEST_MAILBOX:
		ctl_printf("  deliver: %s mailbox host=%s path=%s quota=%lld "
		    "state=%s policy=%s archive=%s class=%s\n",
		    dest->address, m->mail_host != NULL ? m->mail_host : "",
		    m->store_path != NULL ? m->store_path : "", m->quota,
		    ctl_route_state[m->state], ctl_route_policy[m->filter],
		    m->archive ? "yes" : "no", m->outbound_class != NULL
		    ? m->outbound_class : "default");
		break;
	case ROUTE_DEST_REMOTE:
		ctl_printf("  deliver: %s remote (smtp)\n", dest->address);
		break;
	case ROUTE_DEST_RELAY:
		ctl_printf("  deliver: %s relay to %s\n", dest->address,
		    dest->domain != NULL && dest->domain->relay_host != NULL
		    ? dest->domain->relay_host : "the domain's MX hosts");
		break;
	}
}

/* Resolve one address; returns its exit status. */
static int
ctl_route_one(struct route *r, const char *address)
{
	struct route_expansion *exp = NULL;
	struct route_domain *d = NULL;
	char *norm = NULL, *error = NULL;
	const char *at;
	enum route_expand_status status;
	int rc = 0, found;
	size_t i;

	if (route_normalize(r, address, &norm, &error) < 0) {
		ctl_printf("%s: invalid address: %s\n", address, error);
		free(error);
		return 1;
	}
	ctl_printf("%s:\n", norm);
	at = strrchr(norm, '@');
	found = route_domain_lookup(r, at + 1, &d, &error);
	if (found < 0) {
		ctl_printf("  temporary failure: %s\n", error != NULL ? error
		    : "directory unavailable");
		rc = CTL_EXIT_TEMPFAIL;
		goto out;
	}
	if (found == 0) {
		ctl_printf("  domain %s: not ours (mail to it goes out by "
		    "SMTP)\n", at + 1);
		goto out;
	}
	ctl_printf("  domain %s: %s", d->name, ctl_route_domain_kind(d->kind));
	if (d->alias_target != NULL)
		ctl_printf(" -> %s", d->alias_target);
	if (d->catchall != NULL)
		ctl_printf(", catch-all %s", d->catchall);
	ctl_printf("\n");
	free(error);
	error = NULL;
	status = route_expand(r, norm, &exp, &error);
	for (i = 0; exp != NULL && i < exp->trace_count; i++)
		ctl_printf("  step: %s\n", exp->trace[i]);
	switch (status) {
	case ROUTE_EXPAND_OK:
		for (i = 0; i < exp->dest_count; i++)
			ctl_route_print_dest(&exp->dests[i]);
		break;
	case ROUTE_EXPAND_UNKNOWN:
		ctl_printf("  unknown: %s\n", error != NULL ? error
		    : "no such user");
		rc = 1;
		break;
	case ROUTE_EXPAND_LOOP:
		ctl_printf("  routing loop: %s\n", error != NULL ? error : "");
		rc = 1;
		break;
	case ROUTE_EXPAND_TEMPFAIL:
		ctl_printf("  temporary failure: %s\n", error != NULL ? error
		    : "directory unavailable");
		rc = CTL_EXIT_TEMPFAIL;
		break;
	}
out:
	free(error);
	free(norm);
	route_domain_free(&d);
	route_expansion_free(&exp);
	return rc;
}

int
ctl_route(int argc, char **argv)
{
	struct route *r;
	char *error = NULL;
	int i, rc = 0, one;

	if (argc < 2) {
		ctl_eprintf("usage: ispmailctl route ADDRESS...\n");
		return 2;
	}
	r = route_open(&error);
	if (r == NULL) {
		ctl_eprintf("ispmailctl: routing directory: %s\n", error);
		free(error);
		return 1;
	}
	/* The worst status wins: a temporary failure over an unknown. */
	for (i = 1; i < argc; i++) {
		one = ctl_route_one(r, argv[i]);
		if (one == CTL_EXIT_TEMPFAIL || (one != 0 && rc == 0))
			rc = one;
	}
	route_close(&r);
	return rc;
}

/* ctl_domain: ispmailctl domain add|set|del|show|list. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "ctl.h"
#include "ctl_provision_int.h"
#include "params.h"
#include "route.h"
#include "xalloc.h"

const char *
ctl_domain_kind_name(enum route_domain_kind kind)
{
	switch (kind) {
	case ROUTE_DOMAIN_LOCAL: return "local";
	case ROUTE_DOMAIN_RELAY: return "relay";
	case ROUTE_DOMAIN_ALIAS: return "alias";
	}
	return "?";
}

static int
ctl_domain_kind(const char *name, enum route_domain_kind *kind_r)
{
	if (strcasecmp(name, "local") == 0)
		*kind_r = ROUTE_DOMAIN_LOCAL;
	else if (strcasecmp(name, "relay") == 0)
		*kind_r = ROUTE_DOMAIN_RELAY;
	else if (strcasecmp(name, "alias") == 0)
		*kind_r = ROUTE_DOMAIN_ALIAS;
	else
		return -1;
	return 0;
}

/* Apply key=value arguments to a domain; -1 after a message. */
static int
ctl_domain_apply(struct route_domain *d, int argc, char **argv)
{
	struct buf *key = buf_new(64);
	const char *value;
	int i, rc = 0;

	for (i = 0; i < argc && rc == 0; i++) {
		value = ctl_kv(argv[i], key);
		if (value == NULL) {
			ctl_eprintf("ispmailctl: expected key=value: %s\n",
			    argv[i]);
			rc = -1;
		} else if (strcmp(buf_cstr(key), "kind") == 0) {
			if (ctl_domain_kind(value, &d->kind) < 0) {
				ctl_eprintf("ispmailctl: kind must be "
				    "local, relay or alias: %s\n", value);
				rc = -1;
			}
		} else if (strcmp(buf_cstr(key), "target") == 0) {
			ctl_replace(&d->alias_target, value);
		} else if (strcmp(buf_cstr(key), "relayhost") == 0) {
			ctl_replace(&d->relay_host, value);
		} else if (strcmp(buf_cstr(key), "catchall") == 0) {
			ctl_replace(&d->catchall, value);
		} else if (strcmp(buf_cstr(key), "mailhost") == 0) {
			ctl_replace(&d->mail_host, value);
		} else if (strcmp(buf_cstr(key), "archive") == 0) {
			if (params_parse_bool(value, &d->archive) < 0) {
				ctl_eprintf("ispmailctl: archive must be yes "
				    "or no: %s\n", value);
				rc = -1;
			}
		} else if (strcmp(buf_cstr(key), "dmarc") == 0) {
			rc = ctl_dmarc_policy(value, &d->dmarc);
		} else {
			ctl_eprintf("ispmailctl: unknown domain setting "
			    "\"%s\" (kind, target, relayhost, catchall, "
			    "mailhost, archive, dmarc)\n", buf_cstr(key));
			rc = -1;
		}
	}
	if (rc == 0 && d->kind == ROUTE_DOMAIN_ALIAS
	    && d->alias_target == NULL) {
		ctl_eprintf("ispmailctl: an alias domain needs "
		    "target=DOMAIN\n");
		rc = -1;
	}
	buf_free(&key);
	return rc;
}

static void
ctl_domain_print(const struct route_domain *d)
{
	size_t i;

	ctl_printf("domain: %s\nkind: %s\n", d->name,
	    ctl_domain_kind_name(d->kind));
	if (d->alias_target != NULL)
		ctl_printf("target: %s\n", d->alias_target);
	if (d->relay_host != NULL)
		ctl_printf("relayhost: %s\n", d->relay_host);
	if (d->catchall != NULL)
		ctl_printf("catchall: %s\n", d->catchall);
	if (d->mail_host != NULL)
		ctl_printf("mailhost: %s\n", d->mail_host);
	if (d->archive)
		ctl_printf("archive: yes\n");
	if (d->dmarc != ROUTE_DMARC_DEFAULT)
		ctl_printf("dmarc: %s\n", route_dmarc_names[d->dmarc]);
	for (i = 0; i < d->dkim_selector_count; i++)
		ctl_printf("dkim: %s\n", d->dkim_selectors[i]);
}

/* Fetch a domain for show/set; exit status on failure, 0 when found. */
int
ctl_domain_fetch(struct route *r, const char *name, struct route_domain **d_r)
{
	char *error = NULL;
	int found = route_domain_lookup(r, name, d_r, &error);

	return ctl_lookup_status(found, error, "domain", name);
}

int
ctl_domain(int argc, char **argv)
{
	static const char usage[] = "domain add NAME [local|relay|alias] "
	    "[key=value...] | set NAME key=value... | del NAME | show NAME "
	    "| list";
	struct route *r;
	struct route_domain *d = NULL;
	char **names = NULL;
	char *error = NULL;
	const char *verb;
	int rc = 0, first = 3;

	if (argc < 2)
		return ctl_usage(usage);
	verb = argv[1];
	if (strcmp(verb, "list") != 0 && argc < 3)
		return ctl_usage(usage);
	if ((r = ctl_route_open()) == NULL)
		return 1;
	if (strcmp(verb, "add") == 0) {
		d = xcalloc(1, sizeof(*d));
		d->name = xstrdup(argv[2]);
		d->kind = ROUTE_DOMAIN_LOCAL;
		if (argc > 3 && strchr(argv[3], '=') == NULL) {
			if (ctl_domain_kind(argv[3], &d->kind) < 0) {
				rc = ctl_usage(usage);
				goto out;
			}
			first = 4;
		}
		if (ctl_domain_apply(d, argc - first, argv + first) < 0)
			rc = 2;
		else if (route_domain_put(r, d, 1, &error) < 0)
			rc = ctl_fail("domain add", error);
		else
			ctl_printf("domain %s added (%s)\n", argv[2],
			    ctl_domain_kind_name(d->kind));
	} else if (strcmp(verb, "set") == 0) {
		if ((rc = ctl_domain_fetch(r, argv[2], &d)) != 0)
			goto out;
		if (ctl_domain_apply(d, argc - 3, argv + 3) < 0)
			rc = 2;
		else if (route_domain_put(r, d, 0, &error) < 0)
			rc = ctl_fail("domain set", error);
	} else if (strcmp(verb, "del") == 0) {
		if (route_domain_delete(r, argv[2], &error) < 0)
			rc = ctl_fail("domain del", error);
		else
			ctl_printf("domain %s deleted\n", argv[2]);
	} else if (strcmp(verb, "show") == 0) {
		if ((rc = ctl_domain_fetch(r, argv[2], &d)) == 0)
			ctl_domain_print(d);
	} else if (strcmp(verb, "list") == 0) {
		if (route_list_domains(r, &names, &error) < 0)
			rc = ctl_fail("domain list", error);
		else
			rc = ctl_print_names(names);
	} else {
		rc = ctl_usage(usage);
	}
out:
	route_domain_free(&d);
	route_close(&r);
	return rc;
}

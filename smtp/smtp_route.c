/* smtp_route: the hosts to try for a next hop (MX, loop detection). */
#include "config.h"

#include <ifaddrs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dns.h"
#include "log.h"
#include "mail_params.h"
#include "params.h"
#include "smtp.h"
#include "xalloc.h"

int
smtp_nexthop_parse(const char *nexthop, unsigned int default_port,
	char **host_r, unsigned int *port_r, int *literal_r)
{
	const char *host, *end, *rest, *p;
	unsigned long port = default_port;

	*host_r = NULL;
	if (nexthop == NULL || *nexthop == '\0')
		return -1;
	if (nexthop[0] == '[') {
		host = nexthop + 1;
		end = strchr(host, ']');
		if (end == NULL)
			return -1;
		rest = end + 1;
		*literal_r = 1;
	} else {
		host = nexthop;
		end = strchr(host, ':');
		/* An unbracketed IPv6 address would be ambiguous. */
		if (end != NULL && strchr(end + 1, ':') != NULL)
			return -1;
		if (end == NULL)
			end = host + strlen(host);
		rest = end;
		*literal_r = 0;
	}
	if (end == host || (size_t) (end - host) > 255)
		return -1;
	for (p = host; p < end; p++) {
		if (*p <= ' ' || *p == '[' || *p == ']' || *p == '/' ||
		    (unsigned char) *p >= 0x7f)
			return -1;
		if (*p == ':' && !*literal_r)
			return -1;
	}
	if (*rest == ':') {
		rest++;
		if (*rest == '\0' || strlen(rest) > 5 ||
		    strspn(rest, "0123456789") != strlen(rest))
			return -1;
		port = strtoul(rest, NULL, 10);
		if (port < 1 || port > 65535)
			return -1;
	} else if (*rest != '\0') {
		return -1;
	}
	*host_r = xstrndup(host, (size_t) (end - host));
	*port_r = (unsigned int) port;
	return 0;
}

static void
smtp_route_fail(struct smtp_route *r, const char *code, const char *dsn,
	int tempfail, char *text)
{
	snprintf(r->code, sizeof(r->code), "%s", code);
	snprintf(r->dsn, sizeof(r->dsn), "%s", dsn);
	free(r->text);
	r->text = text;
	r->tempfail = tempfail;
}

/* The interface addresses of this host, once per process. */
static struct dns_addr *self_addrs;
static size_t self_count;
static int self_loaded;

static void
smtp_self_add(const struct dns_addr *a)
{
	self_addrs = xreallocarray(self_addrs, self_count + 1,
	    sizeof(*self_addrs));
	self_addrs[self_count++] = *a;
}

static void
smtp_self_load(void)
{
	struct ifaddrs *ifa = NULL, *i;
	struct dns_addr a;
	char **list;
	int n, k;

	self_loaded = 1;
	if (getifaddrs(&ifa) == 0) {
		for (i = ifa; i != NULL; i = i->ifa_next) {
			if (i->ifa_addr == NULL)
				continue;
			memset(&a, 0, sizeof(a));
			a.family = i->ifa_addr->sa_family;
			if (a.family == AF_INET)
				a.u.v4 = ((struct sockaddr_in *)
				    (void *) i->ifa_addr)->sin_addr;
			else if (a.family == AF_INET6)
				a.u.v6 = ((struct sockaddr_in6 *)
				    (void *) i->ifa_addr)->sin6_addr;
			else
				continue;
			smtp_self_add(&a);
		}
		freeifaddrs(ifa);
	} else {
		log_warn("getifaddrs: cannot list this host's addresses for "
		    "mail loop detection");
	}
	/* Addresses that reach us through NAT or a proxy. */
	list = params_list_split(var_smtp_loop_addresses, &n);
	for (k = 0; k < n; k++) {
		if (dns_addr_parse(list[k], &a) == 0)
			smtp_self_add(&a);
		else
			log_warn("smtp_loop_addresses: not an address: %s",
			    list[k]);
	}
	params_list_free(list);
}

int
smtp_route_is_self_addr(const struct dns_addr *addr)
{
	size_t i;

	if (!self_loaded)
		smtp_self_load();
	for (i = 0; i < self_count; i++)
		if (dns_addr_equal(&self_addrs[i], addr))
			return 1;
	return 0;
}

static int
smtp_route_is_self_name(const char *host)
{
	char name[256];

	if (strcasecmp(host, smtp_helo_name()) == 0 ||
	    (*var_myhostname != '\0' && strcasecmp(host, var_myhostname) == 0))
		return 1;
	if (gethostname(name, sizeof(name) - 1) == 0) {
		name[sizeof(name) - 1] = '\0';
		if (strcasecmp(host, name) == 0)
			return 1;
	}
	return 0;
}

static int
smtp_family_allowed(int family)
{
	char **list;
	int n, k, ok = 0;

	list = params_list_split(var_inet_protocols, &n);
	for (k = 0; k < n; k++) {
		if (strcasecmp(list[k], "all") == 0 ||
		    (family == AF_INET && strcasecmp(list[k], "ipv4") == 0) ||
		    (family == AF_INET6 && strcasecmp(list[k], "ipv6") == 0))
			ok = 1;
	}
	params_list_free(list);
	return ok || n == 0;
}

static void
smtp_route_add(struct smtp_route *r, const char *host,
	const struct dns_addr *addr, unsigned int port, int preference,
	int secure, const char *expanded)
{
	struct smtp_target *t;

	r->targets = xreallocarray(r->targets, r->count + 1,
	    sizeof(*r->targets));
	t = &r->targets[r->count++];
	t->host = xstrdup(host);
	t->addr = *addr;
	t->port = port;
	t->preference = preference;
	t->secure = secure;
	/* RFC 7672 2.2.2: only a secure expansion is a TLSA base domain. */
	t->expanded = secure && expanded != NULL ? xstrdup(expanded) : NULL;
}

/* Drop the targets of preference pref or worse (they are behind us). */
static void
smtp_route_cut(struct smtp_route *r, int pref)
{
	while (r->count > 0 && r->targets[r->count - 1].preference >= pref) {
		r->count--;
		free(r->targets[r->count].host);
		free(r->targets[r->count].expanded);
	}
}

/*
 * The addresses of one host, appended.  Returns the dns status; sets
 * *self_r when one of them is ours.
 */
static enum dns_status
smtp_route_host(struct smtp_route *r, struct dns *dns, const char *host,
	unsigned int port, int preference, int secure, int *self_r,
	char **error_r)
{
	struct dns_answer *ans = NULL;
	enum dns_status st;
	struct dns_addr lit;
	size_t i, limit = (size_t) var_smtp_mx_address_limit;

	*self_r = 0;
	if (dns_addr_parse(host, &lit) == 0) {
		if (preference >= 0 && smtp_route_is_self_addr(&lit))
			*self_r = 1;
		else if (limit == 0 || r->count < limit)
			smtp_route_add(r, host, &lit, port, preference, 0,
			    NULL);
		return DNS_FOUND;
	}
	st = dns_addr_lookup(dns, host, 0, &ans);
	if (st != DNS_FOUND) {
		free(*error_r);
		*error_r = xasprintf("%s: %s", host, ans->error != NULL ?
		    ans->error : dns_status_name(st));
		dns_answer_free(&ans);
		return st;
	}
	for (i = 0; i < ans->addr_count; i++) {
		if (preference >= 0 && smtp_route_is_self_addr(&ans->addrs[i]))
			*self_r = 1;
	}
	for (i = 0; i < ans->addr_count && !*self_r; i++) {
		if (!smtp_family_allowed(ans->addrs[i].family))
			continue;
		if (limit != 0 && r->count >= limit)
			break;
		smtp_route_add(r, host, &ans->addrs[i], port, preference,
		    secure && ans->secure, ans->canonical);
	}
	dns_answer_free(&ans);
	return DNS_FOUND;
}

struct smtp_route *
smtp_route_lookup(const char *nexthop)
{
	struct smtp_route *r = xcalloc(1, sizeof(*r));
	struct dns_answer *mx = NULL;
	struct dns_mx implicit;
	struct dns_addr lit;
	const struct dns_mx *list;
	struct dns *dns;
	const char *derr;
	char *host = NULL, *error = NULL;
	unsigned int port;
	int literal, self = 0, self_pref = -1, tempfails = 0;
	size_t i, n;
	enum dns_status st;

	if (smtp_nexthop_parse(nexthop, (unsigned int) var_smtp_port, &host,
	    &port, &literal) < 0) {
		smtp_route_fail(r, "451", "4.3.5", 0,
		    xasprintf("malformed next hop \"%s\"", nexthop));
		return r;
	}
	r->domain = host;
	if (literal && dns_addr_parse(host, &lit) == 0) {
		/* "[ip]:port": no lookup, no loop check (the operator's). */
		smtp_route_add(r, host, &lit, port, -1, 0, NULL);
		return r;
	}
	dns = smtp_dns(&derr);
	if (dns == NULL) {
		smtp_route_fail(r, "451", "4.3.0", 0,
		    xasprintf("no resolver: %s", derr));
		return r;
	}
	if (literal) {
		/* A named host: no MX lookup, no loop check (RFC 5321 5.1). */
		st = smtp_route_host(r, dns, host, port, -1, 1, &self,
		    &error);
		if (st == DNS_TEMPFAIL)
			smtp_route_fail(r, "451", "4.4.3", 1, xasprintf(
			    "Host lookup failed temporarily: %s", error));
		else if (r->count == 0)
			smtp_route_fail(r, "550", "5.4.4", 0, xasprintf(
			    "Host not found: %s", error != NULL ? error : host));
		free(error);
		return r;
	}
	st = dns_mx_lookup(dns, host, 0, &mx);
	switch (st) {
	case DNS_NULL_MX:
		smtp_route_fail(r, "556", "5.1.10", 0, xasprintf(
		    "Domain %s does not accept mail (null MX)", host));
		dns_answer_free(&mx);
		return r;
	case DNS_TEMPFAIL:
		smtp_route_fail(r, "451", "4.4.3", 1, xasprintf(
		    "MX lookup of %s failed temporarily: %s", host,
		    mx->error != NULL ? mx->error : "tempfail"));
		dns_answer_free(&mx);
		return r;
	case DNS_NXDOMAIN:
		smtp_route_fail(r, "550", "5.1.2", 0, xasprintf(
		    "Host or domain name not found: %s", host));
		dns_answer_free(&mx);
		return r;
	case DNS_NODATA:
		/* No MX: the domain itself, preference 0 (RFC 5321 5.1). */
		implicit.host = host;
		implicit.preference = 0;
		list = &implicit;
		n = 1;
		r->mx_routed = 1;
		break;
	default:
		list = mx->mx;
		n = mx->mx_count;
		r->mx_routed = 1;
		break;
	}
	/*
	 * RFC 5321 5.1: when we are in the list, only hosts more preferred
	 * than we are may get the mail; a backup MX hands it to the primary.
	 */
	for (i = 0; i < n; i++) {
		if (smtp_route_is_self_name(list[i].host)) {
			self_pref = (int) list[i].preference;
			break;
		}
	}
	for (i = 0; i < n; i++) {
		if (self_pref >= 0 && (int) list[i].preference >= self_pref)
			break;
		if (var_smtp_mx_address_limit > 0 &&
		    r->count >= (size_t) var_smtp_mx_address_limit)
			break;
		st = smtp_route_host(r, dns, list[i].host, port,
		    (int) list[i].preference, mx->secure, &self, &error);
		if (st == DNS_TEMPFAIL)
			tempfails++;
		if (self) {
			self_pref = (int) list[i].preference;
			smtp_route_cut(r, self_pref);
			break;
		}
	}
	if (r->count == 0) {
		if (self_pref >= 0 && (n == 0 ||
		    (int) list[0].preference >= self_pref))
			smtp_route_fail(r, "550", "5.4.6", 0, xasprintf(
			    "mail for %s loops back to myself", host));
		else if (tempfails > 0)
			smtp_route_fail(r, "451", "4.4.3", 1, xasprintf(
			    "Host lookup failed temporarily: %s", error));
		else
			smtp_route_fail(r, "550", "5.4.4", 0, xasprintf(
			    "No address for the mail exchangers of %s%s%s",
			    host, error != NULL ? ": " : "",
			    error != NULL ? error : ""));
	}
	free(error);
	dns_answer_free(&mx);
	return r;
}

void
smtp_route_free(struct smtp_route **rp)
{
	struct smtp_route *r = *rp;
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->count; i++) {
		free(r->targets[i].host);
		free(r->targets[i].expanded);
	}
	free(r->targets);
	free(r->domain);
	free(r->text);
	free(r);
	*rp = NULL;
}

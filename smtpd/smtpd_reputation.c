/* smtpd_reputation: block lists, FCrDNS, pregreet and HELO checks. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "address.h"
#include "buf.h"
#include "dns.h"
#include "log.h"
#include "mail_params.h"
#include "metrics.h"
#include "params.h"
#include "route.h"
#include "service.h"
#include "smtpd.h"
#include "smtpd_reputation.h"
#include "stream.h"
#include "xalloc.h"

#define WEIGHT_MAX 1000
#define FILTER_RANGES_MAX 16		/* per octet of a reply filter */
#define PTR_NAMES_MAX 5			/* reverse names checked forward */
#define LISTING_TEXT_MAX 150		/* of one list's TXT, in the reply */
#define REASONS_MAX 400			/* the whole reason text */

/* One octet of a reply filter: a union of ranges. */
struct octet_filter {
	unsigned int lo[FILTER_RANGES_MAX];
	unsigned int hi[FILTER_RANGES_MAX];
	size_t count;
};

/* One dnsbl_sites entry: zone[=filter][*weight], or zone=weight. */
struct dnsbl_site {
	char *zone;
	int weight;
	int has_filter;
	struct octet_filter filter[4];
};

struct allow_net {
	struct dns_addr addr;
	int prefix;
};

/* Process-wide configuration, from smtpd_reputation_init(). */
static struct {
	int enabled;
	struct dns *dns;
	struct dnsbl_site *sites;
	size_t site_count;
	struct allow_net *nets;
	size_t net_count;
} conf;

enum fcrdns_state { FCRDNS_UNKNOWN, FCRDNS_PASS, FCRDNS_FAIL };

struct site_result {
	struct smtpd_reputation *rep;
	size_t site;
	struct dns_answer *a;
	struct dns_answer *txt;
};

struct smtpd_reputation {
	struct dns_addr client;
	struct site_result *sites;
	/* FCrDNS: what the reverse and forward lookups found. */
	enum fcrdns_state fcrdns;
	int forward_tempfail;
	int ptr_tempfail;
	int pregreet;
	int score;			/* without the HELO check */
	struct buf *reasons;
	int logged;
};

/* ---- configuration ----------------------------------------------------- */

static int
parse_uint(const char **pp, unsigned int max, unsigned int *value_r)
{
	const char *p = *pp;
	unsigned long value = 0;

	if (*p < '0' || *p > '9')
		return -1;
	while (*p >= '0' && *p <= '9') {
		value = value * 10 + (unsigned long)(*p - '0');
		if (value > max)
			return -1;
		p++;
	}
	*pp = p;
	*value_r = (unsigned int)value;
	return 0;
}

/* "127.0.0.[2..11]", "127.0.[0;2].[1;3..5]" (Postfix's syntax). */
static int
parse_filter(const char *text, struct octet_filter filter[4])
{
	const char *p = text;
	int i;

	for (i = 0; i < 4; i++) {
		struct octet_filter *f = &filter[i];

		f->count = 0;
		if (*p != '[') {
			if (parse_uint(&p, 255, &f->lo[0]) < 0)
				return -1;
			f->hi[0] = f->lo[0];
			f->count = 1;
		} else {
			p++;
			for (;;) {
				if (f->count == FILTER_RANGES_MAX ||
				    parse_uint(&p, 255, &f->lo[f->count]) < 0)
					return -1;
				f->hi[f->count] = f->lo[f->count];
				if (strncmp(p, "..", 2) == 0) {
					p += 2;
					if (parse_uint(&p, 255,
					    &f->hi[f->count]) < 0 ||
					    f->hi[f->count] < f->lo[f->count])
						return -1;
				}
				f->count++;
				if (*p == ';') {
					p++;
					continue;
				}
				if (*p++ != ']')
					return -1;
				break;
			}
		}
		if (i < 3 && *p++ != '.')
			return -1;
	}
	return *p == '\0' ? 0 : -1;
}

static int
parse_weight(const char *text, int *weight_r)
{
	char *end;
	long value;

	errno = 0;
	value = strtol(text, &end, 10);
	if (*text == '\0' || *end != '\0' || errno != 0 ||
	    value < -WEIGHT_MAX || value > WEIGHT_MAX)
		return -1;
	*weight_r = (int)value;
	return 0;
}

static void
parse_site(const char *entry, struct dnsbl_site *site)
{
	char *copy = xstrdup(entry), *star, *equals, *error = NULL;

	memset(site, 0, sizeof(*site));
	site->weight = 1;
	star = strrchr(copy, '*');
	if (star != NULL) {
		*star = '\0';
		if (parse_weight(star + 1, &site->weight) < 0)
			log_fatal("dnsbl_sites: %s: bad weight", entry);
	}
	equals = strchr(copy, '=');
	if (equals != NULL) {
		*equals = '\0';
		/* "zone=2" is a weight; a filter always has four octets. */
		if (strchr(equals + 1, '.') == NULL && star == NULL) {
			if (parse_weight(equals + 1, &site->weight) < 0)
				log_fatal("dnsbl_sites: %s: bad weight", entry);
		} else {
			if (parse_filter(equals + 1, site->filter) < 0)
				log_fatal("dnsbl_sites: %s: bad reply filter "
				    "(e.g. 127.0.0.[2..11])", entry);
			site->has_filter = 1;
		}
	}
	if (address_domain_check(copy, strlen(copy), 0, &error) < 0)
		log_fatal("dnsbl_sites: %s: %s", entry, error);
	site->zone = copy;
}

static void
parse_net(const char *entry, struct allow_net *net)
{
	char *copy = xstrdup(entry), *slash, *host = copy;
	size_t len;
	long prefix;
	char *end;

	slash = strchr(copy, '/');
	if (slash != NULL)
		*slash = '\0';
	len = strlen(host);
	if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
		host[len - 1] = '\0';
		host++;
	}
	if (dns_addr_parse(host, &net->addr) < 0)
		log_fatal("dnsbl_allow_networks: %s: not an address", entry);
	net->prefix = net->addr.family == AF_INET ? 32 : 128;
	if (slash != NULL) {
		errno = 0;
		prefix = strtol(slash + 1, &end, 10);
		if (slash[1] == '\0' || *end != '\0' || prefix < 0 ||
		    prefix > net->prefix)
			log_fatal("dnsbl_allow_networks: %s: bad prefix "
			    "length", entry);
		net->prefix = (int)prefix;
	}
	free(copy);
}

void
smtpd_reputation_init(void)
{
	char **list, *error = NULL;
	int count, i;

	if (smtpd.mode != SMTPD_MODE_MX)
		return;
	list = params_list_split(var_dnsbl_sites, &count);
	conf.sites = xcalloc((size_t)count + 1, sizeof(*conf.sites));
	for (i = 0; i < count; i++)
		parse_site(list[i], &conf.sites[i]);
	conf.site_count = (size_t)count;
	params_list_free(list);
	list = params_list_split(var_dnsbl_allow_networks, &count);
	conf.nets = xcalloc((size_t)count + 1, sizeof(*conf.nets));
	for (i = 0; i < count; i++)
		parse_net(list[i], &conf.nets[i]);
	conf.net_count = (size_t)count;
	params_list_free(list);
	conf.enabled = conf.site_count > 0 || var_smtpd_fcrdns_weight != 0 ||
	    var_smtpd_helo_weight != 0 || var_smtpd_pregreet_time > 0;
	if (!conf.enabled)
		return;
	/* Before any chroot: c-ares reads /etc/resolv.conf here. */
	conf.dns = dns_open_params(&error);
	if (conf.dns == NULL)
		log_fatal("%s", error);
}

/* ---- the checks --------------------------------------------------------- */

static int
in_network(const struct dns_addr *addr, const struct allow_net *net)
{
	const unsigned char *a, *n;
	int bits = net->prefix, i;

	if (addr->family != net->addr.family)
		return 0;
	a = addr->family == AF_INET ? (const unsigned char *)&addr->u.v4 :
	    addr->u.v6.s6_addr;
	n = net->addr.family == AF_INET ?
	    (const unsigned char *)&net->addr.u.v4 : net->addr.u.v6.s6_addr;
	for (i = 0; bits > 0; i++, bits -= 8) {
		unsigned char mask = bits >= 8 ? 0xff :
		    (unsigned char)(0xff << (8 - bits));

		if ((a[i] & mask) != (n[i] & mask))
			return 0;
	}
	return 1;
}

static int
filter_match(const struct dnsbl_site *site, const struct dns_addr *reply)
{
	const unsigned char *o = (const unsigned char *)&reply->u.v4;
	size_t i, r;

	if (!site->has_filter)
		return 1;
	for (i = 0; i < 4; i++) {
		const struct octet_filter *f = &site->filter[i];

		for (r = 0; r < f->count; r++)
			if (o[i] >= f->lo[r] && o[i] <= f->hi[r])
				break;
		if (r == f->count)
			return 0;
	}
	return 1;
}

static void
site_answered(struct dns_answer *answer, void *context)
{
	struct site_result *result = context;

	if (answer->type == DNS_TYPE_A)
		result->a = answer;
	else
		result->txt = answer;
}

static void
forward_answered(struct dns_answer *answer, void *context)
{
	struct smtpd_reputation *rep = context;
	size_t i;

	if (answer->status == DNS_TEMPFAIL)
		rep->forward_tempfail = 1;
	for (i = 0; i < answer->addr_count; i++)
		if (dns_addr_equal(&answer->addrs[i], &rep->client))
			rep->fcrdns = FCRDNS_PASS;
	dns_answer_free(&answer);
}

static void
ptr_answered(struct dns_answer *answer, void *context)
{
	struct smtpd_reputation *rep = context;
	size_t i;

	if (answer->status == DNS_TEMPFAIL)
		rep->ptr_tempfail = 1;
	/* The names' own addresses must include the client (FCrDNS). */
	for (i = 0; i < answer->string_count && i < PTR_NAMES_MAX; i++) {
		dns_query(conf.dns, DNS_TYPE_A, answer->strings[i],
		    forward_answered, rep);
		dns_query(conf.dns, DNS_TYPE_AAAA, answer->strings[i],
		    forward_answered, rep);
	}
	dns_answer_free(&answer);
}

/* Printable ASCII only, at most max octets: TXT text goes into a reply. */
static void
append_clean(struct buf *b, const char *text, size_t max)
{
	size_t i;

	for (i = 0; text[i] != '\0' && i < max; i++) {
		unsigned char c = (unsigned char)text[i];

		(void)buf_append_char(b, c >= ' ' && c < 0x7f ? (char)c : '?');
	}
	if (text[i] != '\0')
		(void)buf_append_str(b, "...");
}

static void
add_reason(struct smtpd_reputation *rep, int weight, const char *what,
	const char *detail)
{
	struct buf *b = rep->reasons;
	size_t before = buf_len(b);

	rep->score += weight;
	/* A full reason text keeps the score but drops the words. */
	if (before > 0 && buf_append_str(b, "; ") < 0)
		return;
	if (buf_append_str(b, what) < 0) {
		buf_truncate(b, before);
		return;
	}
	if (detail != NULL && *detail != '\0') {
		(void)buf_append_str(b, " (");
		append_clean(b, detail, LISTING_TEXT_MAX);
		if (buf_append_str(b, ")") < 0)
			buf_truncate(b, before);
	}
}

/*
 * Wait for the client to talk before the greeting while the DNS queries
 * run.  1 when it did (or hung up): a real MTA waits for the 220.
 */
static int
pregreet_wait(struct smtpd_session *ss, long long deadline_ms)
{
	struct pollfd fds[1 + DNS_POLLFDS_MAX];

	for (;;) {
		long long left = deadline_ms - dns_now_ms();
		size_t n;
		int timeout, rc;

		if (left <= 0)
			return 0;
		fds[0].fd = stream_fd(ss->s);
		fds[0].events = POLLIN;
		fds[0].revents = 0;
		n = dns_pollfds(conf.dns, fds + 1, DNS_POLLFDS_MAX);
		timeout = dns_timeout_ms(conf.dns, left > INT_MAX ? INT_MAX :
		    (int)left);
		rc = poll(fds, n + 1, timeout);
		if (rc < 0 && errno != EINTR)
			log_fatal("poll: %s", strerror(errno));
		dns_process(conf.dns, fds + 1, n);
		if (rc > 0 && fds[0].revents != 0)
			return 1;
	}
}

static void
score_sites(struct smtpd_reputation *rep)
{
	size_t i, j;

	for (i = 0; i < conf.site_count; i++) {
		struct site_result *r = &rep->sites[i];
		const struct dnsbl_site *site = &conf.sites[r->site];
		const char *text = NULL;
		char *what;

		if (r->a == NULL)
			continue;
		if (r->a->status == DNS_TEMPFAIL) {
			log_info("reputation: client=%s dnsbl=%s: %s, not "
			    "counted", rep->client.text, site->zone,
			    r->a->error);
			continue;
		}
		for (j = 0; j < r->a->addr_count; j++)
			if (filter_match(site, &r->a->addrs[j]))
				break;
		if (j == r->a->addr_count)
			continue;
		if (r->txt != NULL && r->txt->string_count > 0)
			text = r->txt->strings[0];
		what = xasprintf("listed by %s", site->zone);
		add_reason(rep, site->weight, what, text);
		log_info("reputation: client=%s dnsbl=%s reply=%s weight=%d",
		    rep->client.text, site->zone, r->a->addrs[j].text,
		    site->weight);
		free(what);
	}
}

struct smtpd_reputation *
smtpd_reputation_check(struct smtpd_session *ss)
{
	struct smtpd_reputation *rep;
	const char *client = ss->peer->client_addr;
	long long start = dns_now_ms(), deadline;
	size_t i;

	if (!conf.enabled)
		return NULL;
	rep = xcalloc(1, sizeof(*rep));
	/* A v4-mapped address is listed as the IPv4 address it holds. */
	if (strncasecmp(client, "::ffff:", 7) == 0 &&
	    strchr(client + 7, '.') != NULL)
		client += 7;
	if (dns_addr_parse(client, &rep->client) < 0) {
		free(rep);
		return NULL;
	}
	for (i = 0; i < conf.net_count; i++) {
		if (in_network(&rep->client, &conf.nets[i])) {
			log_info("reputation: client=%s in "
			    "dnsbl_allow_networks, not checked", client);
			free(rep);
			return NULL;
		}
	}
	rep->reasons = buf_new(REASONS_MAX);
	rep->sites = xcalloc(conf.site_count + 1, sizeof(*rep->sites));
	for (i = 0; i < conf.site_count; i++) {
		char *name = dns_reverse_name(rep->client.text,
		    conf.sites[i].zone);

		rep->sites[i].rep = rep;
		rep->sites[i].site = i;
		dns_query(conf.dns, DNS_TYPE_A, name, site_answered,
		    &rep->sites[i]);
		dns_query(conf.dns, DNS_TYPE_TXT, name, site_answered,
		    &rep->sites[i]);
		free(name);
	}
	if (var_smtpd_fcrdns_weight != 0) {
		char *name = dns_reverse_name(rep->client.text, NULL);

		dns_query(conf.dns, DNS_TYPE_PTR, name, ptr_answered, rep);
		free(name);
	}
	/* The pregreet wait and the lookups overlap; an implicit-TLS client
	 * speaks first by design. */
	if (var_smtpd_pregreet_time > 0 && ss->tls == NULL &&
	    pregreet_wait(ss, start + var_smtpd_pregreet_time * 1000))
		rep->pregreet = 1;
	deadline = start + var_dns_timeout * var_dns_tries * 1000;
	if (dns_wait(conf.dns, deadline) > 0)
		log_info("reputation: client=%s: DNS checks timed out after "
		    "%lld ms, the rest not counted", rep->client.text,
		    dns_now_ms() - start);
	score_sites(rep);
	if (var_smtpd_fcrdns_weight != 0) {
		if (rep->fcrdns != FCRDNS_PASS && !rep->ptr_tempfail &&
		    !rep->forward_tempfail)
			rep->fcrdns = FCRDNS_FAIL;
		if (rep->fcrdns == FCRDNS_FAIL)
			add_reason(rep, (int)var_smtpd_fcrdns_weight,
			    "no forward-confirmed reverse DNS", NULL);
		else if (rep->fcrdns == FCRDNS_UNKNOWN)
			log_info("reputation: client=%s: reverse DNS lookup "
			    "failed temporarily, not counted",
			    rep->client.text);
	}
	if (rep->pregreet) {
		log_info("reputation: client=%s talked before the greeting",
		    rep->client.text);
		add_reason(rep, (int)var_smtpd_pregreet_weight,
		    "talked before the greeting", NULL);
	}
	for (i = 0; i < conf.site_count; i++) {
		dns_answer_free(&rep->sites[i].a);
		dns_answer_free(&rep->sites[i].txt);
	}
	free(rep->sites);
	rep->sites = NULL;
	return rep;
}

/* ---- the verdict at RCPT ------------------------------------------------ */

/*
 * A HELO name a real MTA sends: a domain of two labels or more, or an
 * address literal (RFC 5321 4.1.3).
 */
static int
helo_valid(const char *helo)
{
	char *error = NULL;
	int ok;

	if (helo == NULL || *helo == '\0')
		return 0;
	if (helo[0] != '[' && strchr(helo, '.') == NULL)
		return 0;
	ok = address_domain_check(helo, strlen(helo), 1, &error) == 0;
	free(error);
	if (ok && helo[0] != '[') {
		/* "1.2.3.4" unbracketed is no domain: the TLD is digits. */
		const char *tld = strrchr(helo, '.') + 1;

		if (tld[strspn(tld, "0123456789")] == '\0')
			return 0;
	}
	return ok;
}

/* 1 when args ("TO:<...> ...") names a postmaster we must accept. */
static int
to_postmaster(const char *args)
{
	const char *p, *end, *at;
	struct route_domain *dom = NULL;
	char *domain, *error = NULL;
	int rc;

	if (strncasecmp(args, "TO:", 3) != 0)
		return 0;
	p = args + 3;
	while (*p == ' ')
		p++;
	if (*p++ != '<' || (end = strchr(p, '>')) == NULL)
		return 0;
	if (*p == '@' && (p = memchr(p, ':', (size_t)(end - p))) != NULL)
		p++;
	if (p == NULL)
		return 0;
	if ((size_t)(end - p) == 10 && strncasecmp(p, "postmaster", 10) == 0)
		return 1;
	at = memchr(p, '@', (size_t)(end - p));
	if (at == NULL || at - p != 10 || strncasecmp(p, "postmaster", 10) != 0)
		return 0;
	if (smtpd_route() == NULL)
		return 0;
	domain = xstrndup(at + 1, (size_t)(end - at - 1));
	rc = route_domain_lookup(smtpd_route(), domain, &dom, &error);
	free(domain);
	free(error);
	route_domain_free(&dom);
	return rc == 1;
}

int
smtpd_reputation_rcpt(struct smtpd_session *ss, struct smtpd_reputation *rep,
	const char *args)
{
	int score;
	const char *helo_reason = NULL;

	if (rep == NULL || !ss->have_mail)
		return 0;
	score = rep->score;
	if (var_smtpd_helo_weight != 0 && !helo_valid(ss->helo)) {
		score += (int)var_smtpd_helo_weight;
		helo_reason = "invalid HELO name";
	}
	if (score < var_dnsbl_threshold)
		return 0;
	if (to_postmaster(args)) {
		log_info("reputation: client=%s score=%d: mail to the "
		    "postmaster allowed", rep->client.text, score);
		return 0;
	}
	if (!rep->logged) {
		log_info("reputation: reject client=%s score=%d threshold=%lld "
		    "reasons=%s%s%s", rep->client.text, score,
		    var_dnsbl_threshold, buf_cstr(rep->reasons),
		    helo_reason != NULL && buf_len(rep->reasons) > 0 ? "; " :
		    "", helo_reason != NULL ? helo_reason : "");
		rep->logged = 1;
	}
	metrics_inc("ispmail_smtpd_rejects_total", "reason", "dnsbl", NULL);
	smtpd_reply(ss, "554 5.7.1 Service unavailable; client [%s] blocked: "
	    "%s%s%s", rep->client.text, buf_cstr(rep->reasons),
	    helo_reason != NULL && buf_len(rep->reasons) > 0 ? "; " : "",
	    helo_reason != NULL ? helo_reason : "");
	return 1;
}

void
smtpd_reputation_free(struct smtpd_reputation **rep_p)
{
	struct smtpd_reputation *rep = *rep_p;

	if (rep == NULL)
		return;
	buf_free(&rep->reasons);
	free(rep);
	*rep_p = NULL;
}

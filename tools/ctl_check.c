/*
 * ctl_check: ispmailctl check, the impedance check of the caps along the
 * mail chain.
 *
 * Each host is a configuration directory (this instance's first, then
 * the ones named on the command line, for the other hosts of a
 * multi-host setup).  From its main.conf and master.conf (with each
 * service's -o overrides) it takes what each tier can hold in flight;
 * then every link where an upstream can hold more than its downstream
 * serves is a finding, naming both settings, the numbers and a value
 * that would match.  Links:
 *
 *   directory clients (smtpd, lmtpd, popd, imapd, authd processes, times
 *   the sessions each serves) -> ldap_server_capacity, when the backend
 *   is ldap and the capacity is known; an imapd process serving many
 *   sessions runs their lookups on at most min(imap_client_limit,
 *   ldap_pool_size) threads, each with its own connection (the rest
 *   queue: imap_lookup.h), so it counts that many;
 *   qmgr_destination_concurrency_limit of every host with a qmgr ->
 *   lmtpd maxproc of every host with an lmtpd (qmgr opens up to that
 *   many LMTP sessions to each store host);
 *   proxyd sessions (maxproc x proxy_session_limit) of every proxy host
 *   -> imapd (or popd) capacity, maxproc x sessions per process, of each
 *   store host;
 *   smtpd processes that scan (spamd_servers or clamd_servers set, one
 *   scan per pool per session) -> filter_connection_limit x the hosts of
 *   the pool (the slots of this machine);
 *   every machine's scans in flight to one filter host (the smaller of
 *   its scanning smtpd processes and filter_connection_limit) ->
 *   filter_server_capacity (spamd --max-children, clamd MaxThreads).
 *
 * Cross-host sums assume the worst case: every upstream may pick the same
 * downstream host.  -o overrides given to ispmailctl apply to the first
 * host only.
 *
 * A host may also be given as its metrics endpoint (--metrics URL, what
 * metricsd serves): its master's ispmail_service_capacity gauges say what
 * each of its services holds in flight (lmtpd, imapd, popd, qmgr, proxyd),
 * which covers the cross-host links; its directory and filter are not
 * seen that way.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "buf.h"
#include "ctl.h"
#include "mail_params.h"
#include "master_conf.h"
#include "params.h"
#include "xalloc.h"

/* The largest exposition --metrics reads, and how long it may take. */
#define CTL_CHECK_METRICS_MAX (4 * 1024 * 1024)
#define CTL_CHECK_METRICS_TIMEOUT 10L

/* Configuration directories one check reads at most. */
#define CTL_CHECK_HOSTS_MAX 64
/* Filter hosts (spamd, clamd) one configuration lists at most. */
#define CTL_CHECK_FILTERS_MAX 32
/* The longest filter host name (host:port) kept. */
#define CTL_CHECK_FILTER_NAME_MAX 255

/* One filter host of a pool, as spamd_servers or clamd_servers name it. */
struct check_filter {
	char *name;			/* "spamd 127.0.0.1:783" */
	long long pool_hosts;		/* hosts in its pool */
	int first;			/* its pool's first host */
	long long procs;		/* smtpd processes scanning with it */
	struct buf *detail;		/* "smtp maxproc 100 + ..." */
};

/* What one host's configuration says about its tiers. */
struct check_host {
	char *dir;			/* owned: parameters are reloaded */
	int ldap;			/* route_backend = ldap */
	long long ldap_capacity;	/* ldap_server_capacity, 0 unknown */
	long long dir_clients;		/* lookups in flight at most */
	struct buf *dir_detail;		/* "smtpd 128 + imapd 10x4" */
	long long qmgr_conc;		/* 0: no qmgr here */
	long long lmtpd_max;		/* 0: no lmtpd here */
	long long proxy_imap, proxy_pop;/* proxyd sessions per front */
	long long imapd_cap, popd_cap;	/* store capacity */
	struct buf *imapd_detail, *popd_detail;
	long long filter_limit;		/* filter_connection_limit */
	long long filter_capacity;	/* filter_server_capacity */
	struct check_filter filter[CTL_CHECK_FILTERS_MAX];
	int filters;
};

/* Start the next term of a sum shown to the operator. */
static void
ctl_check_sep(struct buf *b)
{
	if (buf_len(b) > 0)
		(void) buf_append_str(b, " + ");
}

/* The hosts of a pool list, split at commas and spaces, in place. */
static int
ctl_check_split(char *list, char **hosts, int max)
{
	char *p, *save = NULL;
	int n = 0;

	for (p = strtok_r(list, ", \t", &save); p != NULL && n < max;
	    p = strtok_r(NULL, ", \t", &save))
		if (strlen(p) <= CTL_CHECK_FILTER_NAME_MAX)
			hosts[n++] = p;
	return n;
}

/* sc scans with each host of list (pool kind): count its processes. */
static void
ctl_check_pool(struct check_host *h, const struct master_service_conf *sc,
	const char *kind, const char *list)
{
	char *copy = xstrdup(list), *names[CTL_CHECK_FILTERS_MAX], *name;
	int i, j, n = ctl_check_split(copy, names, CTL_CHECK_FILTERS_MAX);
	struct check_filter *f;

	for (j = 0; j < n; j++) {
		name = xasprintf("%s %s", kind, names[j]);
		for (i = 0; i < h->filters; i++)
			if (strcasecmp(h->filter[i].name, name) == 0)
				break;
		if (i == h->filters) {
			if (h->filters >= CTL_CHECK_FILTERS_MAX) {
				free(name);
				continue;
			}
			h->filter[i].name = name;
			h->filter[i].detail = buf_new(4096);
			h->filters++;
		} else {
			free(name);
		}
		f = &h->filter[i];
		f->procs += sc->maxproc;
		f->pool_hosts = n;
		f->first |= j == 0;
		ctl_check_sep(f->detail);
		(void) buf_printf(f->detail, "%s maxproc %lld", sc->name,
		    sc->maxproc);
	}
	free(copy);
}

/*
 * An imapd service's directory lookups in flight: with one session a
 * process, one a process; with more, its lookup threads (imap_lookup.h),
 * min(imap_client_limit, ldap_pool_size) a process.
 */
static void
ctl_check_imapd_lookups(struct check_host *h,
	const struct master_service_conf *sc, long long sessions)
{
	long long threads = master_service_param_int(sc, "ldap_pool_size");
	const char *what = "ldap_pool_size";

	if (sessions <= threads) {
		threads = sessions;
		what = "imap_client_limit";
	}
	h->dir_clients += sc->maxproc * threads;
	ctl_check_sep(h->dir_detail);
	if (threads > 1)
		(void) buf_printf(h->dir_detail, "%s maxproc %lld x %s %lld",
		    sc->name, sc->maxproc, what, threads);
	else
		(void) buf_printf(h->dir_detail, "%s maxproc %lld", sc->name,
		    sc->maxproc);
}

/* Take one service's share of each tier. */
static void
ctl_check_service(struct check_host *h, const struct master_service_conf *sc)
{
	const char *prog = master_service_program(sc);
	long long per_proc = 1;
	const char *front;

	if (strcmp(prog, "imapd") == 0) {
		per_proc = master_service_param_int(sc, "imap_client_limit");
		if (per_proc < 1)
			per_proc = 1;
		h->imapd_cap += sc->maxproc * per_proc;
		ctl_check_sep(h->imapd_detail);
		(void) buf_printf(h->imapd_detail, "%s maxproc %lld x "
		    "imap_client_limit %lld", sc->name, sc->maxproc, per_proc);
		ctl_check_imapd_lookups(h, sc, per_proc);
		return;
	} else if (strcmp(prog, "popd") == 0) {
		h->popd_cap += sc->maxproc;
		ctl_check_sep(h->popd_detail);
		(void) buf_printf(h->popd_detail, "%s maxproc %lld", sc->name,
		    sc->maxproc);
	} else if (strcmp(prog, "qmgr") == 0) {
		h->qmgr_conc = master_service_param_int(sc,
		    "qmgr_destination_concurrency_limit");
		return;
	} else if (strcmp(prog, "lmtpd") == 0) {
		h->lmtpd_max += sc->maxproc;
	} else if (strcmp(prog, "proxyd") == 0) {
		long long sessions = sc->maxproc
		    * master_service_param_int(sc, "proxy_session_limit");

		front = master_service_param(sc, "proxy_front");
		if (front != NULL && strcmp(front, "imap") == 0)
			h->proxy_imap += sessions;
		else if (front != NULL && strcmp(front, "pop3") == 0)
			h->proxy_pop += sessions;
		return;
	} else if (strcmp(prog, "smtpd") == 0) {
		const char *spamd = master_service_param(sc, "spamd_servers");
		const char *clamd = master_service_param(sc, "clamd_servers");

		if ((spamd != NULL && *spamd != '\0')
		    || (clamd != NULL && *clamd != '\0')) {
			if (spamd != NULL)
				ctl_check_pool(h, sc, "spamd", spamd);
			if (clamd != NULL)
				ctl_check_pool(h, sc, "clamd", clamd);
		}
	} else if (strcmp(prog, "authd") != 0) {
		return;
	}
	/* Every one of these asks the directory. */
	h->dir_clients += sc->maxproc * per_proc;
	ctl_check_sep(h->dir_detail);
	if (per_proc > 1)
		(void) buf_printf(h->dir_detail, "%s maxproc %lld x %lld",
		    sc->name, sc->maxproc, per_proc);
	else
		(void) buf_printf(h->dir_detail, "%s maxproc %lld", sc->name,
		    sc->maxproc);
}

/*
 * Load dir's parameters and master.conf into h.  0 ok; -1 (message
 * printed).
 */
static int
ctl_check_load(struct check_host *h, const char *dir, int loaded)
{
	struct master_conf *conf = NULL;
	char *path, *error = NULL;
	int i;

	h->dir = xstrdup(dir);
	if (!loaded) {
		params_init();
		path = xasprintf("%s/main.conf", dir);
		if (params_set("config_directory", dir, &error) < 0
		    || params_read_file(path, 1, &error) < 0) {
			ctl_eprintf("ispmailctl: check: %s\n", error);
			free(error);
			free(path);
			return -1;
		}
		free(path);
	}
	path = xasprintf("%s/master.conf", dir);
	if (master_conf_read(path, &conf, &error) < 0) {
		ctl_eprintf("ispmailctl: check: %s\n", error);
		free(error);
		free(path);
		return -1;
	}
	free(path);
	h->ldap = strcmp(params_value("route_backend"), "ldap") == 0;
	h->ldap_capacity = master_service_param_int(NULL, "ldap_server_capacity");
	h->filter_limit = master_service_param_int(NULL, "filter_connection_limit");
	h->filter_capacity = master_service_param_int(NULL, "filter_server_capacity");
	h->dir_detail = buf_new(4096);
	h->imapd_detail = buf_new(4096);
	h->popd_detail = buf_new(4096);
	for (i = 0; i < conf->count; i++)
		ctl_check_service(h, conf->services[i]);
	master_conf_free(&conf);
	return 0;
}

static size_t
ctl_check_curl_write(char *data, size_t size, size_t n, void *ctx)
{
	struct buf *b = ctx;

	/* Past the cap the transfer fails (a short write stops curl). */
	if (buf_len(b) + size * n > CTL_CHECK_METRICS_MAX
	    || buf_append(b, data, size * n) < 0)
		return 0;
	return size * n;
}

/* The value of label name in a series key, copied to out; 0, -1. */
static int
ctl_check_label(const char *key, const char *name, char *out, size_t size)
{
	char *want = xasprintf("%s=\"", name);
	const char *p = strstr(key, want), *end;

	if (p != NULL && (p == key || p[-1] == '{' || p[-1] == ','))
		p += strlen(want);
	else
		p = NULL;
	free(want);
	if (p == NULL || (end = strchr(p, '"')) == NULL
	    || (size_t) (end - p) >= size)
		return -1;
	memcpy(out, p, (size_t) (end - p));
	out[end - p] = '\0';
	return 0;
}

/* One ispmail_service_capacity line of an endpoint into h. */
static void
ctl_check_capacity(struct check_host *h, const char *line)
{
	char prog[64], front[64], name[128];
	const char *space = strrchr(line, ' ');
	long long cap;
	char *end;

	if (space == NULL || ctl_check_label(line, "program", prog,
	    sizeof(prog)) < 0 || ctl_check_label(line, "service", name,
	    sizeof(name)) < 0)
		return;
	cap = strtoll(space + 1, &end, 10);
	if (end == space + 1 || cap < 0)
		return;
	if (strcmp(prog, "lmtpd") == 0) {
		h->lmtpd_max += cap;
	} else if (strcmp(prog, "qmgr") == 0) {
		h->qmgr_conc = cap;
	} else if (strcmp(prog, "imapd") == 0) {
		h->imapd_cap += cap;
		ctl_check_sep(h->imapd_detail);
		(void) buf_printf(h->imapd_detail, "%s capacity %lld", name,
		    cap);
	} else if (strcmp(prog, "popd") == 0) {
		h->popd_cap += cap;
		ctl_check_sep(h->popd_detail);
		(void) buf_printf(h->popd_detail, "%s maxproc %lld", name,
		    cap);
	} else if (strcmp(prog, "proxyd") == 0
	    && ctl_check_label(line, "front", front, sizeof(front)) == 0) {
		if (strcmp(front, "imap") == 0)
			h->proxy_imap += cap;
		else if (strcmp(front, "pop3") == 0)
			h->proxy_pop += cap;
	}
}

/*
 * A host from its metrics endpoint (http or https URL).  0 ok; -1
 * (message printed).
 */
static int
ctl_check_fetch(struct check_host *h, const char *url)
{
	struct buf *body = buf_new(CTL_CHECK_METRICS_MAX + 1);
	char errbuf[CURL_ERROR_SIZE] = "";
	const char *line, *nl;
	long status = 0;
	CURLcode rc;
	CURL *curl;
	int ret = -1;

	h->dir = xstrdup(url);
	h->dir_detail = buf_new(4096);
	h->imapd_detail = buf_new(4096);
	h->popd_detail = buf_new(4096);
	curl = curl_easy_init();
	if (curl == NULL) {
		ctl_eprintf("ispmailctl: check: %s: curl init failed\n", url);
		goto out;
	}
	(void) curl_easy_setopt(curl, CURLOPT_URL, url);
	(void) curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	(void) curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	(void) curl_easy_setopt(curl, CURLOPT_TIMEOUT, CTL_CHECK_METRICS_TIMEOUT);
	(void) curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	(void) curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	(void) curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION,
	    ctl_check_curl_write);
	(void) curl_easy_setopt(curl, CURLOPT_WRITEDATA, body);
	rc = curl_easy_perform(curl);
	(void) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(curl);
	if (rc != CURLE_OK || status != 200) {
		ctl_eprintf("ispmailctl: check: %s: %s\n", url,
		    rc != CURLE_OK ? (*errbuf != '\0' ? errbuf :
		    curl_easy_strerror(rc)) : "HTTP status not 200");
		goto out;
	}
	for (line = buf_cstr(body); *line != '\0'; line = nl + 1) {
		char one[512];
		size_t len;

		nl = strchr(line, '\n');
		if (nl == NULL)
			break;
		len = (size_t) (nl - line);
		if (len < sizeof(one) && strncmp(line,
		    "ispmail_service_capacity{", 25) == 0) {
			memcpy(one, line, len);
			one[len] = '\0';
			ctl_check_capacity(h, one);
		}
	}
	ret = 0;
out:
	buf_free(&body);
	return ret;
}

static void
ctl_check_host_free(struct check_host *h)
{
	free(h->dir);
	buf_free(&h->dir_detail);
	buf_free(&h->imapd_detail);
	buf_free(&h->popd_detail);
	for (int i = 0; i < h->filters; i++) {
		free(h->filter[i].name);
		buf_free(&h->filter[i].detail);
	}
}

/* The findings within one host; returns how many. */
static int
ctl_check_host(const struct check_host *h)
{
	int found = 0;

	if (h->ldap && h->ldap_capacity > 0
	    && h->dir_clients > h->ldap_capacity) {
		ctl_printf("%s: directory: %s = %lld lookups in flight > "
		    "ldap_server_capacity %lld: lower those maxproc to a "
		    "total of %lld or raise the directory's capacity "
		    "(slapd threads) and ldap_server_capacity to %lld\n",
		    h->dir, buf_cstr(h->dir_detail), h->dir_clients,
		    h->ldap_capacity, h->ldap_capacity, h->dir_clients);
		found++;
	} else if (h->ldap && h->ldap_capacity == 0 && h->dir_clients > 0) {
		ctl_printf("%s: note: directory capacity unknown: set "
		    "ldap_server_capacity to check %s = %lld lookups in "
		    "flight\n", h->dir, buf_cstr(h->dir_detail),
		    h->dir_clients);
	}
	for (int i = 0; i < h->filters; i++) {
		const struct check_filter *f = &h->filter[i];
		long long slots = h->filter_limit * f->pool_hosts;

		/* Once per pool: its first host stands for it. */
		if (!f->first || h->filter_limit == 0 || slots >= f->procs)
			continue;
		ctl_printf("%s: smtpd -> %.5s pool: %s = %lld scans in flight "
		    "> filter_connection_limit %lld x %lld host%s = %lld "
		    "slots (the rest get 451 4.7.1): raise "
		    "filter_connection_limit to %lld if the filter hosts can "
		    "take it, or lower those maxproc to a total of %lld\n",
		    h->dir, f->name, buf_cstr(f->detail), f->procs,
		    h->filter_limit, f->pool_hosts,
		    f->pool_hosts == 1 ? "" : "s", slots,
		    (f->procs + f->pool_hosts - 1) / f->pool_hosts,
		    slots);
		found++;
	}
	return found;
}

/*
 * Every machine's scans in flight to each filter host against that
 * host's capacity (the largest filter_server_capacity a machine that
 * uses it states).
 */
static int
ctl_check_filters(const struct check_host *hosts, int count)
{
	struct buf *detail = buf_new(8192);
	int i, j, k, found = 0, notes = 0;

	for (i = 0; i < count; i++) {
		for (j = 0; j < hosts[i].filters; j++) {
			const char *name = hosts[i].filter[j].name;
			long long total = 0, capacity = 0, users = 0, n;
			int seen = 0;

			/* Judged once, at the first machine naming it. */
			for (k = 0; k < i && !seen; k++)
				for (int m = 0; m < hosts[k].filters; m++)
					if (strcasecmp(hosts[k].filter[m].name,
					    name) == 0)
						seen = 1;
			if (seen)
				continue;
			buf_reset(detail);
			for (k = i; k < count; k++) {
				for (int m = 0; m < hosts[k].filters; m++) {
					if (strcasecmp(hosts[k].filter[m].name,
					    name) != 0)
						continue;
					n = hosts[k].filter[m].procs;
					if (hosts[k].filter_limit > 0
					    && hosts[k].filter_limit < n)
						n = hosts[k].filter_limit;
					total += n;
					users++;
					if (hosts[k].filter_capacity > capacity)
						capacity =
						    hosts[k].filter_capacity;
					ctl_check_sep(detail);
					(void) buf_printf(detail, "%s %lld",
					    hosts[k].dir, n);
				}
			}
			if (capacity == 0) {
				if (notes++ == 0)
					ctl_printf("note: filter capacity "
					    "unknown: set filter_server_"
					    "capacity to check %s = %lld "
					    "scans in flight to %s\n",
					    buf_cstr(detail), total, name);
				continue;
			}
			if (total <= capacity)
				continue;
			ctl_printf("%s: smtpd -> %s: %s = %lld scans in flight "
			    "(smaller of scanning smtpd maxproc and "
			    "filter_connection_limit) > filter_server_capacity "
			    "%lld: lower filter_connection_limit to %lld or "
			    "raise the filter's children and "
			    "filter_server_capacity to %lld\n", hosts[i].dir,
			    name, buf_cstr(detail), total, capacity,
			    capacity / users > 0 ? capacity / users : 1, total);
			found++;
		}
	}
	buf_free(&detail);
	return found;
}

/* Upstream hosts against each downstream host. */
static int
ctl_check_links(const struct check_host *hosts, int count)
{
	long long qmgr_total = 0, imap_total = 0, pop_total = 0;
	struct buf *qmgr_detail = buf_new(8192);
	int i, found = 0, qmgr_hosts = 0;

	for (i = 0; i < count; i++) {
		if (hosts[i].qmgr_conc > 0) {
			qmgr_total += hosts[i].qmgr_conc;
			qmgr_hosts++;
			(void) buf_printf(qmgr_detail, "%s%s "
			    "qmgr_destination_concurrency_limit %lld",
			    buf_len(qmgr_detail) > 0 ? " + " : "",
			    hosts[i].dir, hosts[i].qmgr_conc);
		}
		imap_total += hosts[i].proxy_imap;
		pop_total += hosts[i].proxy_pop;
	}
	for (i = 0; i < count; i++) {
		const struct check_host *h = &hosts[i];

		if (h->lmtpd_max > 0 && qmgr_total > h->lmtpd_max) {
			ctl_printf("%s: qmgr -> lmtpd: %s = %lld LMTP "
			    "sessions > lmtpd maxproc %lld: lower "
			    "qmgr_destination_concurrency_limit to %lld or "
			    "raise lmtpd maxproc to %lld\n", h->dir,
			    buf_cstr(qmgr_detail), qmgr_total, h->lmtpd_max,
			    h->lmtpd_max / qmgr_hosts > 0 ?
			    h->lmtpd_max / qmgr_hosts : 1, qmgr_total);
			found++;
		}
		if (h->imapd_cap > 0 && imap_total > h->imapd_cap) {
			ctl_printf("%s: proxyd -> imapd: proxyd sessions "
			    "%lld > %s = %lld: raise imapd maxproc or "
			    "imap_client_limit to hold %lld, or lower "
			    "proxy_session_limit\n", h->dir, imap_total,
			    buf_cstr(h->imapd_detail), h->imapd_cap,
			    imap_total);
			found++;
		}
		if (h->popd_cap > 0 && pop_total > h->popd_cap) {
			ctl_printf("%s: proxyd -> popd: proxyd sessions %lld "
			    "> %s = %lld: raise popd maxproc to %lld, or "
			    "lower proxy_session_limit\n", h->dir, pop_total,
			    buf_cstr(h->popd_detail), h->popd_cap,
			    pop_total);
			found++;
		}
	}
	buf_free(&qmgr_detail);
	return found;
}

int
ctl_check(int argc, char **argv)
{
	struct check_host *hosts;
	int i, count = 0, found = 0, rc = 0;

	if (argc - 1 > CTL_CHECK_HOSTS_MAX - 1) {
		ctl_eprintf("ispmailctl: check: at most %d configuration "
		    "directories\n", CTL_CHECK_HOSTS_MAX - 1);
		return 2;
	}
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--metrics") == 0 && i + 1 < argc) {
			i++;
			continue;
		}
		if (argv[i][0] == '-') {
			ctl_eprintf("usage: ispmailctl check [config_dir ...] "
			    "[--metrics URL ...]\n");
			return 2;
		}
	}
	hosts = xcalloc((size_t) argc, sizeof(*hosts));
	/* This instance first, with its -o overrides already applied. */
	if (ctl_check_load(&hosts[count++], var_config_directory, 1) < 0)
		rc = 1;
	for (i = 1; rc == 0 && i < argc; i++) {
		if (strcmp(argv[i], "--metrics") == 0) {
			if (ctl_check_fetch(&hosts[count++], argv[++i]) < 0)
				rc = 1;
		} else if (ctl_check_load(&hosts[count++], argv[i], 0) < 0) {
			rc = 1;
		}
	}
	if (rc == 0) {
		for (i = 0; i < count; i++)
			found += ctl_check_host(&hosts[i]);
		found += ctl_check_links(hosts, count);
		found += ctl_check_filters(hosts, count);
		ctl_printf("%d finding%s\n", found, found == 1 ? "" : "s");
		rc = found > 0 ? 1 : 0;
	}
	for (i = 0; i < count; i++)
		ctl_check_host_free(&hosts[i]);
	free(hosts);
	return rc;
}

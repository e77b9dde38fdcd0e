/* dns: MX, A, AAAA, TXT and PTR lookups through c-ares (see dns.h). */

#include <arpa/inet.h>
#include <ares.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "buf.h"
#include "dns.h"
#include "dns_private.h"
#include "log.h"
#include "mail_params.h"
#include "params.h"
#include "xalloc.h"

/* c-ares record types and classes (RFC 1035 3.2.2, RFC 3596). */
#define RR_CLASS_IN 1
#define RR_TYPE_A 1
#define RR_TYPE_PTR 12
#define RR_TYPE_MX 15
#define RR_TYPE_TXT 16
#define RR_TYPE_AAAA 28
#define RR_TYPE_TLSA 52




/*
 * One query in flight.  c-ares calls back into ares_answered(), which turns
 * the reply into a dns_answer and queues it on the resolver's ready list;
 * the user's callback runs only when the list is delivered, so no user
 * code ever runs inside c-ares or inside dns_query().
 */
struct dns_request {
	struct dns *dns;
	enum dns_type type;
	char *name;
	dns_callback *callback;
	void *context;
	struct dns_answer *answer;	/* set once answered */
	struct dns_request *next;	/* on the ready list */
};

struct dns {
	ares_channel channel;
	size_t pending;			/* started, callback not yet run */
	struct dns_request *ready_head;	/* answered, callback not yet run */
	struct dns_request *ready_tail;
	const char *cancel_reason;	/* text for ARES_ECANCELLED */
	ares_socket_t socks[ARES_GETSOCK_MAXNUM];
	unsigned int sock_bits;
	int dnssec;			/* ask for AD, trust it (dns_open_dnssec) */
};

/*
 * c-ares' ARES_GETSOCK_WRITABLE() shifts a signed 1 by up to 31 places
 * (undefined behaviour); these say the same with unsigned arithmetic.
 */
#define SOCK_READABLE(bits, i) (((bits) >> (i)) & 1u)
#define SOCK_WRITABLE(bits, i) (((bits) >> ((i) + ARES_GETSOCK_MAXNUM)) & 1u)

static void deliver_ready(struct dns *dns);

long long
dns_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *
dns_status_name(enum dns_status status)
{
	switch (status) {
	case DNS_FOUND: return "found";
	case DNS_NXDOMAIN: return "nxdomain";
	case DNS_NODATA: return "nodata";
	case DNS_NULL_MX: return "null-mx";
	case DNS_TEMPFAIL: return "tempfail";
	}
	return "unknown";
}

static int
rr_type(enum dns_type type)
{
	switch (type) {
	case DNS_TYPE_A: return RR_TYPE_A;
	case DNS_TYPE_AAAA: return RR_TYPE_AAAA;
	case DNS_TYPE_MX: return RR_TYPE_MX;
	case DNS_TYPE_TXT: return RR_TYPE_TXT;
	case DNS_TYPE_PTR: return RR_TYPE_PTR;
	case DNS_TYPE_TLSA: return RR_TYPE_TLSA;
	}
	log_panic("dns: unknown query type %d", (int)type);
}

/* ---- the query life cycle ---------------------------------------------- */

static void
ready_push(struct dns *dns, struct dns_request *request)
{
	request->next = NULL;
	if (dns->ready_tail != NULL)
		dns->ready_tail->next = request;
	else
		dns->ready_head = request;
	dns->ready_tail = request;
}

/* c-ares' callback: make the answer, queue it; run nothing of the user's. */
static void
ares_answered(void *arg, int status, int timeouts, unsigned char *abuf,
	int alen)
{
	struct dns_request *request = arg;
	struct dns_answer *answer = dns_answer_new(request->type, request->name);

	(void)timeouts;
	switch (status) {
	case ARES_SUCCESS:
		switch (request->type) {
		case DNS_TYPE_MX:
			dns_parse_mx(answer, abuf, alen);
			break;
		case DNS_TYPE_A:
		case DNS_TYPE_AAAA:
			dns_parse_addrs(answer, abuf, alen);
			break;
		case DNS_TYPE_TXT:
			dns_parse_txt(answer, abuf, alen);
			break;
		case DNS_TYPE_PTR:
			dns_parse_ptr(answer, abuf, alen);
			break;
		case DNS_TYPE_TLSA:
			dns_parse_tlsa(answer, abuf, alen);
			break;
		}
		break;
	case ARES_ENODATA:
		dns_answer_fail(answer, DNS_NODATA, "no such record");
		break;
	case ARES_ENOTFOUND:
		dns_answer_fail(answer, DNS_NXDOMAIN, "no such domain");
		break;
	case ARES_EBADNAME:
		dns_answer_fail(answer, DNS_NXDOMAIN, "invalid name");
		break;
	case ARES_ECANCELLED:
	case ARES_EDESTRUCTION:
		dns_answer_fail(answer, DNS_TEMPFAIL, request->dns->cancel_reason ?
		    request->dns->cancel_reason : "cancelled");
		break;
	default:
		/* ETIMEOUT, ESERVFAIL, EREFUSED, EBADRESP, ECONNREFUSED ... */
		dns_answer_fail(answer, DNS_TEMPFAIL, ares_strerror(status));
		break;
	}
	if (answer->status != DNS_TEMPFAIL)
		answer->ttl = dns_parse_ttl(abuf, alen);
	/* RFC 4035 3.2.3: AD, from a resolver we were told to trust. */
	if (request->dns->dnssec && abuf != NULL && alen >= 4 &&
	    (abuf[3] & 0x20) != 0 && answer->status != DNS_TEMPFAIL)
		answer->secure = 1;
	request->answer = answer;
	ready_push(request->dns, request);
}

/*
 * ares_send() hands over any reply as it came; make the statuses that
 * ares_query() would have given (RFC 1035 4.1.1 RCODE, an empty answer).
 */
static void
ares_sent_answered(void *arg, int status, int timeouts, unsigned char *abuf,
	int alen)
{
	if (status == ARES_SUCCESS && (abuf == NULL || alen < 12))
		status = ARES_EBADRESP;
	else if (status == ARES_SUCCESS) {
		switch (abuf[3] & 0x0f) {
		case 0:
			if (((abuf[6] << 8) | abuf[7]) == 0)
				status = ARES_ENODATA;
			break;
		case 2:
			status = ARES_ESERVFAIL;
			break;
		case 3:
			status = ARES_ENOTFOUND;
			break;
		case 5:
			status = ARES_EREFUSED;
			break;
		default:
			status = ARES_EBADRESP;
			break;
		}
	}
	ares_answered(arg, status, timeouts, abuf, alen);
}

/* The query with AD set (RFC 6840 5.7) and EDNS0, through ares_send(). */
static void
send_dnssec(struct dns *dns, struct dns_request *request, int type)
{
	unsigned char *query = NULL;
	int len = 0, rc;

	rc = ares_create_query(request->name, RR_CLASS_IN, type, 0, 1, &query,
	    &len, 1232);
	if (rc != ARES_SUCCESS || len < 4) {
		if (query != NULL)
			ares_free_string(query);
		request->answer = dns_answer_new(request->type, request->name);
		dns_answer_fail(request->answer, DNS_TEMPFAIL,
		    ares_strerror(rc));
		ready_push(dns, request);
		return;
	}
	query[3] |= 0x20;
	ares_send(dns->channel, query, len, ares_sent_answered, request);
	ares_free_string(query);
}

static void
deliver_ready(struct dns *dns)
{
	struct dns_request *request;

	while ((request = dns->ready_head) != NULL) {
		dns->ready_head = request->next;
		if (dns->ready_head == NULL)
			dns->ready_tail = NULL;
		dns->pending--;
		log_debug("dns: %s/%s: %s%s%s", request->name,
		    dns_type_name(request->type),
		    dns_status_name(request->answer->status),
		    request->answer->error ? ": " : "",
		    request->answer->error ? request->answer->error : "");
		request->callback(request->answer, request->context);
		free(request->name);
		free(request);
	}
}

void
dns_query(struct dns *dns, enum dns_type type, const char *name,
	dns_callback *callback, void *context)
{
	struct dns_request *request = xcalloc(1, sizeof(*request));
	const char *why;

	request->dns = dns;
	request->type = type;
	request->name = dns_host_copy(name);
	request->callback = callback;
	request->context = context;
	dns->pending++;
	if (!dns_name_valid(name, &why)) {
		request->answer = dns_answer_new(type, request->name);
		dns_answer_fail(request->answer, DNS_NXDOMAIN, why);
		ready_push(dns, request);
		return;
	}
	if (dns->dnssec) {
		send_dnssec(dns, request, rr_type(type));
		return;
	}
	/* ares_query(), not ares_search(): never a search domain appended. */
	ares_query(dns->channel, request->name, RR_CLASS_IN, rr_type(type),
	    ares_answered, request);
}

size_t
dns_pending(const struct dns *dns)
{
	return dns->pending;
}

static void
cancel_all(struct dns *dns, const char *reason)
{
	dns->cancel_reason = reason;
	ares_cancel(dns->channel);
	dns->cancel_reason = NULL;
}

void
dns_cancel(struct dns *dns)
{
	cancel_all(dns, "cancelled");
	deliver_ready(dns);
}

/* ---- poll loop ---------------------------------------------------------- */

size_t
dns_pollfds(struct dns *dns, struct pollfd *fds, size_t max)
{
	size_t count = 0;
	int i;

	dns->sock_bits = (unsigned int)ares_getsock(dns->channel, dns->socks,
	    ARES_GETSOCK_MAXNUM);
	for (i = 0; i < ARES_GETSOCK_MAXNUM && count < max; i++) {
		short events = 0;

		if (SOCK_READABLE(dns->sock_bits, i))
			events |= POLLIN;
		if (SOCK_WRITABLE(dns->sock_bits, i))
			events |= POLLOUT;
		if (events == 0)
			continue;
		fds[count].fd = dns->socks[i];
		fds[count].events = events;
		fds[count].revents = 0;
		count++;
	}
	return count;
}

int
dns_timeout_ms(struct dns *dns, int max_ms)
{
	struct timeval max_tv, tv, *next;
	long long ms;

	if (dns->ready_head != NULL)
		return 0;
	if (dns->pending == 0)
		return max_ms;
	if (max_ms >= 0) {
		max_tv.tv_sec = max_ms / 1000;
		max_tv.tv_usec = (max_ms % 1000) * 1000;
	}
	next = ares_timeout(dns->channel, max_ms >= 0 ? &max_tv : NULL, &tv);
	if (next == NULL)
		return max_ms;
	/* Round up, so a wake-up never comes a hair too early and spins. */
	ms = (long long)next->tv_sec * 1000 + (next->tv_usec + 999) / 1000;
	if (ms > INT_MAX)
		ms = INT_MAX;
	return (int)ms;
}

static int
our_socket(const struct dns *dns, int fd)
{
	int i;

	for (i = 0; i < ARES_GETSOCK_MAXNUM; i++)
		if ((SOCK_READABLE(dns->sock_bits, i) ||
		    SOCK_WRITABLE(dns->sock_bits, i)) &&
		    dns->socks[i] == fd)
			return 1;
	return 0;
}

void
dns_process(struct dns *dns, const struct pollfd *fds, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++) {
		ares_socket_t rfd = ARES_SOCKET_BAD, wfd = ARES_SOCKET_BAD;

		if (fds[i].revents == 0 || !our_socket(dns, fds[i].fd))
			continue;
		/* An error or hang-up shows on read; c-ares then retries. */
		if (fds[i].revents & (POLLIN | POLLERR | POLLHUP | POLLNVAL))
			rfd = fds[i].fd;
		if (fds[i].revents & POLLOUT)
			wfd = fds[i].fd;
		ares_process_fd(dns->channel, rfd, wfd);
	}
	/* Expired timers: retries and timeouts. */
	ares_process_fd(dns->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	deliver_ready(dns);
}

/*
 * Run until *done is set (or, with done NULL, until nothing is pending) or
 * the deadline passes; then cancel what is left.  Returns how many were
 * cut short.
 */
static size_t
wait_until(struct dns *dns, long long deadline_ms, const int *done)
{
	struct pollfd fds[DNS_POLLFDS_MAX];
	size_t count, cut;

	for (;;) {
		long long left;
		int wait_ms;

		deliver_ready(dns);
		if (done != NULL ? *done : dns->pending == 0)
			return 0;
		left = deadline_ms - dns_now_ms();
		if (left <= 0)
			break;
		wait_ms = dns_timeout_ms(dns, left > INT_MAX ? INT_MAX :
		    (int)left);
		count = dns_pollfds(dns, fds, DNS_POLLFDS_MAX);
		if (poll(fds, count, wait_ms) < 0 && errno != EINTR)
			log_fatal("dns: poll: %s", strerror(errno));
		dns_process(dns, fds, count);
	}
	cut = dns->pending;
	cancel_all(dns, "timeout");
	deliver_ready(dns);
	return cut;
}

size_t
dns_wait(struct dns *dns, long long deadline_ms)
{
	return wait_until(dns, deadline_ms, NULL);
}

/* ---- the resolver ------------------------------------------------------ */

/*
 * "1.2.3.4 [::1]:5353, 10.0.0.1:53" -> c-ares' "1.2.3.4,[::1]:5353,...".
 * Each entry is checked here, so an operator's typo names itself.
 */
static char *
servers_csv(const char *servers, char **error_r)
{
	char **list;
	int count, i;
	struct buf *csv = buf_new(4096);
	char *result;

	list = params_list_split(servers, &count);
	for (i = 0; i < count; i++) {
		const char *entry = list[i], *host = entry, *port = NULL;
		char *host_copy_text;
		struct dns_addr addr;
		size_t host_len = strlen(entry);

		if (entry[0] == '[') {
			const char *end = strchr(entry, ']');

			if (end == NULL || (end[1] != '\0' && end[1] != ':'))
				goto bad;
			host = entry + 1;
			host_len = (size_t)(end - host);
			port = end[1] == ':' ? end + 2 : NULL;
		} else if (strchr(entry, ':') == strrchr(entry, ':') &&
		    strchr(entry, ':') != NULL) {
			host_len = (size_t)(strchr(entry, ':') - entry);
			port = strchr(entry, ':') + 1;
		}
		host_copy_text = xstrndup(host, host_len);
		if (dns_addr_parse(host_copy_text, &addr) < 0) {
			free(host_copy_text);
			goto bad;
		}
		free(host_copy_text);
		if (port != NULL) {
			char *end;
			long value = strtol(port, &end, 10);

			if (*port == '\0' || *end != '\0' || value < 1 ||
			    value > 65535)
				goto bad;
		}
		/*
		 * c-ares 1.18 takes "[v6]:port" but not "[v6]" alone, so an
		 * entry goes over as "addr", "v4:port" or "[v6]:port".
		 */
		if ((i > 0 && buf_append_char(csv, ',') < 0) ||
		    (port == NULL ? buf_append_str(csv, addr.text) :
		    buf_printf(csv, addr.family == AF_INET6 ? "[%s]:%s" :
		    "%s:%s", addr.text, port)) < 0) {
			*error_r = xstrdup("dns_servers: list too long");
			goto fail;
		}
		continue;
bad:
		*error_r = xasprintf("dns_servers: bad server \"%s\" (IP, "
		    "IP:port or [IPv6]:port)", entry);
		goto fail;
	}
	if (count == 0) {
		*error_r = xstrdup("dns_servers: empty list");
		goto fail;
	}
	params_list_free(list);
	result = xstrdup(buf_data(csv));
	buf_free(&csv);
	return result;
fail:
	params_list_free(list);
	buf_free(&csv);
	return NULL;
}

struct dns *
dns_open(const char *servers, int timeout_ms, int tries, char **error_r)
{
	static int library_ready;
	struct ares_options options;
	struct dns *dns;
	char *csv = NULL;
	int rc;

	if (timeout_ms < 1 || tries < 1) {
		*error_r = xstrdup("dns: timeout and tries must be positive");
		return NULL;
	}
	if (servers != NULL && servers[strspn(servers, " \t,")] != '\0' &&
	    (csv = servers_csv(servers, error_r)) == NULL)
		return NULL;
	if (!library_ready) {
		rc = ares_library_init(ARES_LIB_INIT_ALL);
		if (rc != ARES_SUCCESS) {
			*error_r = xasprintf("dns: c-ares: %s",
			    ares_strerror(rc));
			free(csv);
			return NULL;
		}
		library_ready = 1;
	}
	memset(&options, 0, sizeof(options));
	options.timeout = timeout_ms;
	options.tries = tries;
	/* NOALIASES: never read HOSTALIASES from the environment. */
	options.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
	dns = xcalloc(1, sizeof(*dns));
	rc = ares_init_options(&dns->channel, &options,
	    ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS);
	if (rc != ARES_SUCCESS) {
		*error_r = xasprintf("dns: c-ares: %s", ares_strerror(rc));
		free(dns);
		free(csv);
		return NULL;
	}
	if (csv != NULL) {
		rc = ares_set_servers_ports_csv(dns->channel, csv);
		if (rc != ARES_SUCCESS) {
			*error_r = xasprintf("dns_servers: %s: %s", csv,
			    ares_strerror(rc));
			ares_destroy(dns->channel);
			free(dns);
			free(csv);
			return NULL;
		}
		free(csv);
	}
	return dns;
}

struct dns *
dns_open_dnssec(const char *servers, int timeout_ms, int tries,
	char **error_r)
{
	struct dns *dns;

	if (servers == NULL || servers[strspn(servers, " \t,")] == '\0') {
		*error_r = xstrdup("dns: a DNSSEC resolver needs its servers "
		    "listed");
		return NULL;
	}
	dns = dns_open(servers, timeout_ms, tries, error_r);
	if (dns != NULL)
		dns->dnssec = 1;
	return dns;
}

struct dns *
dns_open_params(char **error_r)
{
	long long timeout_ms = var_dns_timeout * 1000;

	return dns_open(var_dns_servers, timeout_ms > INT_MAX ? INT_MAX :
	    (int)timeout_ms, (int)var_dns_tries, error_r);
}

void
dns_close(struct dns **dns_p)
{
	struct dns *dns = *dns_p;

	if (dns == NULL)
		return;
	dns_cancel(dns);
	ares_destroy(dns->channel);
	deliver_ready(dns);
	free(dns);
	*dns_p = NULL;
}

/* ---- blocking helpers --------------------------------------------------- */

struct slot {
	struct dns_answer *answer;
	int done;
};

static void
slot_fill(struct dns_answer *answer, void *context)
{
	struct slot *slot = context;

	slot->answer = answer;
	slot->done = 1;
}

static long long
deadline_of(int timeout_ms)
{
	return timeout_ms > 0 ? dns_now_ms() + timeout_ms : LLONG_MAX;
}

static enum dns_status
lookup_one(struct dns *dns, enum dns_type type, const char *name,
	int timeout_ms, struct dns_answer **answer_r)
{
	struct slot slot = { NULL, 0 };

	dns_query(dns, type, name, slot_fill, &slot);
	wait_until(dns, deadline_of(timeout_ms), &slot.done);
	*answer_r = slot.answer;
	return slot.answer->status;
}

enum dns_status
dns_mx_lookup(struct dns *dns, const char *domain, int timeout_ms,
	struct dns_answer **answer_r)
{
	return lookup_one(dns, DNS_TYPE_MX, domain, timeout_ms, answer_r);
}

enum dns_status
dns_txt_lookup(struct dns *dns, const char *name, int timeout_ms,
	struct dns_answer **answer_r)
{
	return lookup_one(dns, DNS_TYPE_TXT, name, timeout_ms, answer_r);
}

char *
dns_resolve_entry(struct dns *dns, const char *host, unsigned int port,
	int timeout_ms, char **error_r)
{
	struct dns_answer *ans = NULL;
	struct buf *entry;
	char *text;
	size_t i;

	if (dns == NULL || dns_addr_lookup(dns, host, timeout_ms, &ans) !=
	    DNS_FOUND) {
		*error_r = xasprintf("%s: %s", host, ans != NULL &&
		    ans->error != NULL ? ans->error : "no resolver");
		dns_answer_free(&ans);
		return NULL;
	}
	entry = buf_new(4096);
	(void) buf_printf(entry, "%s:%u:", host, port);
	for (i = 0; i < ans->addr_count && i < 8; i++)
		(void) buf_printf(entry, ans->addrs[i].family == AF_INET6 ?
		    "%s[%s]" : "%s%s", i > 0 ? "," : "", ans->addrs[i].text);
	dns_answer_free(&ans);
	text = buf_strdup(entry);
	buf_free(&entry);
	return text;
}

enum dns_status
dns_ptr_lookup(struct dns *dns, const char *address, int timeout_ms,
	struct dns_answer **answer_r)
{
	char *name = dns_reverse_name(address, NULL);
	enum dns_status status;

	if (name == NULL) {
		*answer_r = dns_answer_new(DNS_TYPE_PTR, address);
		dns_answer_fail(*answer_r, DNS_NXDOMAIN, "not an IP address");
		return DNS_NXDOMAIN;
	}
	status = lookup_one(dns, DNS_TYPE_PTR, name, timeout_ms, answer_r);
	free(name);
	return status;
}

enum dns_status
dns_tlsa_lookup(struct dns *dns, const char *host, unsigned int port,
	int timeout_ms, struct dns_answer **answer_r)
{
	char *name = xasprintf("_%u._tcp.%s", port, host);
	enum dns_status status;

	status = lookup_one(dns, DNS_TYPE_TLSA, name, timeout_ms, answer_r);
	free(name);
	return status;
}

struct addr_pair {
	struct slot v4;
	struct slot v6;
	int done;
};

static void
pair_fill(struct dns_answer *answer, void *context)
{
	struct addr_pair *pair = context;

	slot_fill(answer, answer->type == DNS_TYPE_A ? &pair->v4 : &pair->v6);
	pair->done = pair->v4.done && pair->v6.done;
}

enum dns_status
dns_addr_lookup(struct dns *dns, const char *host, int timeout_ms,
	struct dns_answer **answer_r)
{
	struct addr_pair pair;
	struct dns_answer *answer, *v4, *v6;
	size_t i;

	memset(&pair, 0, sizeof(pair));
	dns_query(dns, DNS_TYPE_A, host, pair_fill, &pair);
	dns_query(dns, DNS_TYPE_AAAA, host, pair_fill, &pair);
	wait_until(dns, deadline_of(timeout_ms), &pair.done);
	v4 = pair.v4.answer;
	v6 = pair.v6.answer;
	answer = dns_answer_new(DNS_TYPE_A, host);
	free(answer->name);
	answer->name = xstrdup(v4->name);
	if (v4->addr_count + v6->addr_count > 0) {
		answer->addrs = xcalloc(v4->addr_count + v6->addr_count,
		    sizeof(*answer->addrs));
		for (i = 0; i < v4->addr_count; i++)
			answer->addrs[answer->addr_count++] = v4->addrs[i];
		for (i = 0; i < v6->addr_count; i++)
			answer->addrs[answer->addr_count++] = v6->addrs[i];
		answer->status = DNS_FOUND;
		/* Secure only when neither half could have been forged. */
		answer->secure = v4->secure && v6->secure;
		/* The CNAME chain's end, from the half that has one. */
		if (v4->canonical != NULL) {
			answer->canonical = v4->canonical;
			v4->canonical = NULL;
		} else if (v6->canonical != NULL) {
			answer->canonical = v6->canonical;
			v6->canonical = NULL;
		}
		if (v4->status == DNS_TEMPFAIL || v6->status == DNS_TEMPFAIL)
			log_debug("dns: %s: %s", host, v4->status ==
			    DNS_TEMPFAIL ? v4->error : v6->error);
	} else if (v4->status == DNS_TEMPFAIL || v6->status == DNS_TEMPFAIL) {
		answer->status = DNS_TEMPFAIL;
		answer->error = xstrdup(v4->status == DNS_TEMPFAIL ?
		    v4->error : v6->error);
	} else {
		answer->status = v4->status == DNS_NXDOMAIN ||
		    v6->status == DNS_NXDOMAIN ? DNS_NXDOMAIN : DNS_NODATA;
		answer->secure = v4->secure && v6->secure;
		answer->error = xasprintf("%s: %s", answer->name,
		    answer->status == DNS_NXDOMAIN ? "no such domain" :
		    "no address record");
	}
	dns_answer_free(&v4);
	dns_answer_free(&v6);
	*answer_r = answer;
	return answer->status;
}

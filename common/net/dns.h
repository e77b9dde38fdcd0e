/*
 * dns: MX, A, AAAA, TXT and PTR lookups through c-ares, for event-driven
 * daemons (poll loop integration) and for one-connection-at-a-time daemons
 * (blocking helpers that still run their queries in parallel).
 *
 * A resolver (struct dns) belongs to one process: make it after fork,
 * never share it.  dns_open_params() builds it from main.conf:
 * dns_servers (empty: /etc/resolv.conf; else "IP[:port] ..." and
 * "[IPv6]:port"), dns_timeout (per try) and dns_tries.  Names are looked
 * up as given (no search list, no ndots): callers pass full domain names;
 * a trailing dot is accepted.
 *
 * Every lookup ends in exactly one dns_status.  Timeouts, SERVFAIL,
 * REFUSED, unreachable servers and malformed answers are DNS_TEMPFAIL,
 * never "not found": callers answer 4xx / defer, they never bounce on it.
 * A name that cannot be a DNS name (empty label, label over 63 octets,
 * over 253 octets) is DNS_NXDOMAIN with an error text saying so.
 *
 * Answers are plain result records (struct dns_answer), visible on
 * purpose, owned by whoever received them and freed with
 * dns_answer_free().  All strings are NUL-terminated, lower case for host
 * names, without the trailing dot; arrays carry their count.
 *
 * A resolver opened with dns_open_dnssec() asks for the AD bit (RFC 6840
 * 5.7) and reports it as answer->secure; every other resolver's answers
 * are never secure, whatever the bit says: the AD bit is only as good as
 * the path to a validating resolver the operator chose (RFC 7672 2.1).
 *
 * Limits: at most DNS_MAX_RECORDS records of a type are kept from one
 * answer (the rest are dropped and logged); TXT strings of one record are
 * joined (RFC 7208 3.3) up to DNS_MAX_TXT octets.
 */
#ifndef ISPMAIL_DNS_H
#define ISPMAIL_DNS_H

#include <stddef.h>
#include <poll.h>
#include <sys/socket.h>
#include <netinet/in.h>

struct dns;

#define DNS_MAX_RECORDS 64
#define DNS_MAX_TXT 4096

enum dns_type {
	DNS_TYPE_A = 1,
	DNS_TYPE_AAAA,
	DNS_TYPE_MX,
	DNS_TYPE_TXT,
	DNS_TYPE_PTR,
	DNS_TYPE_TLSA,
};

enum dns_status {
	DNS_FOUND = 1,		/* records follow (count >= 1) */
	DNS_NXDOMAIN,		/* the name does not exist (NXDOMAIN) */
	DNS_NODATA,		/* the name exists, no record of the type */
	DNS_NULL_MX,		/* MX only: RFC 7505 "0 .": accepts no mail */
	DNS_TEMPFAIL,		/* timeout, SERVFAIL, bad answer: try later */
};

/* One MX record; host is "" never (a null MX is DNS_NULL_MX instead). */
struct dns_mx {
	char *host;			/* lower case, no trailing dot */
	unsigned int preference;
};

/* One IPv4 or IPv6 address. */
struct dns_addr {
	int family;			/* AF_INET or AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} u;
	char text[INET6_ADDRSTRLEN];	/* printable, e.g. "127.0.0.2" */
};

/* One TLSA record (RFC 6698 2.1); data is the association data. */
struct dns_tlsa {
	unsigned char usage;		/* 0..3: PKIX-TA .. DANE-EE */
	unsigned char selector;		/* 0 full certificate, 1 SPKI */
	unsigned char mtype;		/* 0 exact, 1 SHA-256, 2 SHA-512 */
	unsigned char *data;
	size_t len;
};

/*
 * The answer to one lookup.  Which array is filled depends on the type:
 * MX -> mx; A, AAAA (and dns_addr_lookup) -> addrs; TXT -> strings (one
 * per record, its character-strings joined); PTR -> strings (host names);
 * TLSA -> tlsa.
 * Arrays are NULL with count 0 unless status is DNS_FOUND.
 */
struct dns_answer {
	enum dns_type type;
	char *name;			/* the name asked for */
	enum dns_status status;
	char *error;			/* why, for logs; NULL when FOUND */
	struct dns_mx *mx;
	size_t mx_count;
	struct dns_addr *addrs;
	size_t addr_count;
	char **strings;
	size_t string_count;
	struct dns_tlsa *tlsa;
	size_t tlsa_count;
	/* A/AAAA: the name at the end of a CNAME chain; NULL: no CNAME. */
	char *canonical;
	/*
	 * 1: a dns_open_dnssec() resolver set AD: the answer (records or
	 * the denial of them) was DNSSEC-validated.  0 otherwise.
	 */
	int secure;
	/*
	 * Seconds the answer may be kept (RFC 2181 8, RFC 2308 5): the
	 * smallest TTL of the records, or the SOA's negative TTL for
	 * NXDOMAIN and NODATA; -1 when the reply gave none or there was
	 * no reply (a temporary failure: never kept).
	 */
	long ttl;
};

/* ---- the resolver ------------------------------------------------------ */

/*
 * Make a resolver.  servers: NULL or "" for /etc/resolv.conf, else a list
 * (space and/or comma separated) of "IPv4", "IPv4:port", "IPv6" or
 * "[IPv6]:port".  timeout_ms: per try (>= 1); tries: attempts per server
 * (>= 1).  NULL with *error_r (caller frees) on a bad server list or when
 * c-ares cannot start.
 */
struct dns *dns_open(const char *servers, int timeout_ms, int tries,
	char **error_r);
/*
 * A resolver whose AD bit is trusted: servers (required, same syntax)
 * must be validating resolvers the operator trusts, reached over a path
 * an attacker cannot spoof (loopback, an IPsec link).  Queries set AD
 * and EDNS0; answers carry secure = the reply's AD bit.
 */
struct dns *dns_open_dnssec(const char *servers, int timeout_ms, int tries,
	char **error_r);
/* The same from main.conf's dns_servers, dns_timeout and dns_tries. */
struct dns *dns_open_params(char **error_r);
/* Cancel what is pending (callbacks run with DNS_TEMPFAIL), free, NULL. */
void dns_close(struct dns **dns);

/* ---- asynchronous queries ---------------------------------------------- */

/*
 * Called exactly once per query: with the answer (the callback owns it and
 * frees it with dns_answer_free()), from dns_process(), dns_wait(),
 * dns_cancel() or dns_close() -- never from dns_query() itself.  The
 * callback may start new queries.
 */
typedef void dns_callback(struct dns_answer *answer, void *context);

/*
 * Start a lookup of name for one record type.  MX answers are sorted by
 * preference with a random order among equal preferences, and a null MX
 * becomes DNS_NULL_MX.  An invalid name is answered (DNS_NXDOMAIN) through
 * the callback on the next dns_process()/dns_wait(), like any answer.
 */
void dns_query(struct dns *dns, enum dns_type type, const char *name,
	dns_callback *callback, void *context);
/* Queries started and not yet answered. */
size_t dns_pending(const struct dns *dns);
/* Answer every pending query with DNS_TEMPFAIL "cancelled". */
void dns_cancel(struct dns *dns);

/* ---- poll loop integration ---------------------------------------------- */

/*
 * Fill up to max pollfds (fd, events; revents cleared) with the sockets
 * the resolver waits on; returns how many.  max >= DNS_POLLFDS_MAX never
 * truncates.
 */
#define DNS_POLLFDS_MAX 16
size_t dns_pollfds(struct dns *dns, struct pollfd *fds, size_t max);
/*
 * Milliseconds until the resolver needs dns_process() even without I/O
 * (a retry or a timeout), at most max_ms; -1 (or max_ms when >= 0) when
 * nothing is pending.
 */
int dns_timeout_ms(struct dns *dns, int max_ms);
/*
 * After poll(): handle the revents of the fds that dns_pollfds() filled
 * (fds may be the caller's larger array: unknown fds are ignored) and any
 * expired timers.  Callbacks run from here.
 */
void dns_process(struct dns *dns, const struct pollfd *fds, size_t count);
/*
 * Run the resolver alone until nothing is pending or deadline_ms (a
 * CLOCK_MONOTONIC time in milliseconds, see dns_now_ms()) passes; what is
 * still pending then is answered with DNS_TEMPFAIL "timeout".  Returns
 * the number of queries so cut short.
 */
size_t dns_wait(struct dns *dns, long long deadline_ms);
/* CLOCK_MONOTONIC now, in milliseconds. */
long long dns_now_ms(void);

/* ---- blocking helpers (run their queries in parallel) ------------------- */

/*
 * Each returns the answer's status and stores the answer in *answer_r
 * (never NULL; the caller frees it with dns_answer_free()).  timeout_ms
 * bounds the whole call (<= 0: the resolver's own timeouts and tries
 * alone).  Queries that other code left pending on this resolver are run
 * too, and their callbacks may fire.
 */

/*
 * MX of domain: DNS_FOUND (sorted, random among equal preferences),
 * DNS_NULL_MX (RFC 7505: bounce at once), DNS_NODATA (no MX: the caller
 * falls back to the domain's A/AAAA, RFC 5321 5.1), DNS_NXDOMAIN or
 * DNS_TEMPFAIL.
 */
enum dns_status dns_mx_lookup(struct dns *dns, const char *domain,
	int timeout_ms, struct dns_answer **answer_r);
/*
 * A and AAAA of host, asked in parallel; addrs holds the IPv4 addresses
 * first, then the IPv6 ones, each in the server's order.  DNS_FOUND when
 * either has an address (a failure of the other is only logged at debug),
 * DNS_TEMPFAIL when neither has one and either failed temporarily,
 * DNS_NXDOMAIN when the name does not exist, else DNS_NODATA.
 */
enum dns_status dns_addr_lookup(struct dns *dns, const char *host,
	int timeout_ms, struct dns_answer **answer_r);
/* PTR of an address given as text ("192.0.2.1", "2001:db8::1"). */
enum dns_status dns_ptr_lookup(struct dns *dns, const char *address,
	int timeout_ms, struct dns_answer **answer_r);
/*
 * host's addresses (at most 8) as one "host:port:addr,[v6addr]" entry,
 * libcurl's CURLOPT_RESOLVE form, so that an HTTPS client connects
 * where this resolver says.  A new string, or NULL with *error_r
 * (caller frees) when the lookup failed or dns is NULL.
 */
char *dns_resolve_entry(struct dns *dns, const char *host, unsigned int port,
	int timeout_ms, char **error_r);
/* TXT of name; strings holds one joined string per record. */
enum dns_status dns_txt_lookup(struct dns *dns, const char *name,
	int timeout_ms, struct dns_answer **answer_r);

/*
 * TLSA of _port._tcp.host (RFC 6698 3).  secure says whether the records
 * (or the denial) were validated; a bogus answer is a SERVFAIL from a
 * validating resolver, so DNS_TEMPFAIL.
 */
enum dns_status dns_tlsa_lookup(struct dns *dns, const char *host,
	unsigned int port, int timeout_ms, struct dns_answer **answer_r);

/* ---- helpers ------------------------------------------------------------ */

/*
 * The reverse name of an address given as text, under suffix: NULL
 * suffix gives "4.3.2.1.in-addr.arpa" / nibbles + ".ip6.arpa" (PTR); a
 * DNSBL zone gives "4.3.2.1.zen.example".  A new string, or NULL when
 * address is not an IPv4/IPv6 address.
 */
char *dns_reverse_name(const char *address, const char *suffix);
/* Parse address text into *addr_r.  0 ok, -1 not an address. */
int dns_addr_parse(const char *text, struct dns_addr *addr_r);
/* Fill *sa_r for addr and port (host order); returns the length to pass
 * to connect()/bind(). */
socklen_t dns_addr_sockaddr(const struct dns_addr *addr, unsigned int port,
	struct sockaddr_storage *sa_r);
/* 1 when both hold the same address (family and octets), else 0. */
int dns_addr_equal(const struct dns_addr *a, const struct dns_addr *b);
/* A name for a status, for logs: "found", "nxdomain", "tempfail" ... */
const char *dns_status_name(enum dns_status status);
/* Free an answer and everything it holds, and NULL the pointer. */
void dns_answer_free(struct dns_answer **answer);

#endif

/*
 * smtp: the delivery agent's internal interface, shared by its modules.
 *
 * smtp.c reads qmgr's request into a struct smtp_job and writes back one
 * result per recipient; smtp_route.c turns a next hop into the ordered
 * list of hosts to try (MX records, loop detection); smtp_tls.c knows the
 * TLS policy of a destination; smtp_connect.c opens the sockets;
 * smtp_session.c is the protocol client (greeting, EHLO/LHLO, STARTTLS,
 * the connection cache) for both LMTP and SMTP, and smtp_transaction.c
 * one transaction on it.
 *
 * A job owns its results and hop reason; the request strings it points at
 * belong to the request record and live as long as the job.
 */
#ifndef ISPMAIL_SMTP_H
#define ISPMAIL_SMTP_H

#include <stddef.h>
#include <sys/socket.h>

#include "dns.h"

struct qfile;

/* One recipient of a request, with its DSN options (RFC 3461). */
struct smtp_rcpt {
	const char *address;
	const char *notify;	/* "SUCCESS,FAILURE", "NEVER"; "" or NULL */
	const char *orcpt;	/* "rfc822;addr" decoded; "" or NULL */
	const char *folder;	/* LMTP: XFOLDER (content filter); "" or NULL */
	char *result;		/* "code dsn text", set once */
};

struct smtp_job {
	int lmtp;		/* 1: LMTP to a store host; 0: SMTP */
	const char *queue_id;
	const char *transport;	/* "smtp" or "smtp-CLASS": the class */
	const char *nexthop;
	const char *sender;
	const char *envid;	/* decoded ENVID or NULL */
	const char *ret;	/* "FULL", "HDRS" or NULL */
	int body_8bit;
	int smtputf8;		/* the client asked for SMTPUTF8 */
	struct smtp_rcpt *rcpts;
	size_t count;
	int qfd;
	const struct qfile *qf;
	int hop_dead;		/* no host of the next hop could be reached */
	int remote_dsn;		/* SMTP: the server that answered offers DSN */
	char *hop_reason;
};

/* Record the result of recipient i, unless it has one. */
void smtp_result(struct smtp_job *job, size_t i, const char *code,
	const char *dsn, const char *text);
/* Give every recipient without a result this one. */
void smtp_fail_rest(struct smtp_job *job, const char *code, const char *dsn,
	const char *text);
/* Our name for HELO/EHLO/LHLO (smtp_helo_name, myhostname, the host's). */
const char *smtp_helo_name(void);
/* The process' resolver, opened on first use; NULL with *error_r. */
struct dns *smtp_dns(const char **error_r);

/* ---- smtp_connect.c: sockets to next hops -------------------------------- */

/*
 * Connect to sa with smtp_connect_timeout, from smtp_bind_address(6) when
 * set: the connected socket, or -1 with *error_r (caller frees); *local_r
 * is 1 when the failure was ours (the source address), not the peer's.
 */
int smtp_connect_fd(const struct sockaddr *sa, socklen_t len, char **error_r,
	int *local_r);
/*
 * Connect to an LMTP next hop: "host:port", "[v6]:port" or "unix:path" (a
 * relative path is under queue_directory).  The socket or -1 with
 * *error_r (caller frees).
 */
int smtp_connect_lmtp(const char *nexthop, char **error_r);

/* ---- smtp_route.c: where to deliver ------------------------------------ */

/* A host to try: MX name (for TLS), one of its addresses, the port. */
struct smtp_target {
	char *host;		/* MX host name, or the literal's text */
	struct dns_addr addr;
	unsigned int port;
	int preference;		/* MX preference; -1 for a literal next hop */
	int secure;		/* MX (if any) and addresses DNSSEC-validated */
	char *expanded;		/* secure: host's CNAME expansion, or NULL */
};

/* The ordered hosts for a next hop, or the reason there are none. */
struct smtp_route {
	char *domain;		/* what the TLS policy is looked up by */
	int mx_routed;		/* the hosts came from MX records (MTA-STS) */
	struct smtp_target *targets;
	size_t count;
	/* count == 0: code/dsn/text say why; tempfail: the hop is down. */
	char code[4];
	char dsn[16];
	char *text;
	int tempfail;
};

/*
 * Parse a next hop: "[host]:port", "[host]" (no MX lookup: relayhost,
 * tests), "host:port" or "host" (the MX records of host).  *host_r is a
 * new string without brackets; *port_r is default_port when none is
 * given; *literal_r is 1 for the bracketed forms.  0 ok, -1 malformed.
 */
int smtp_nexthop_parse(const char *nexthop, unsigned int default_port,
	char **host_r, unsigned int *port_r, int *literal_r);
/*
 * The hosts to try for nexthop, best first: the MX records in preference
 * order (random among equal ones, from dns_mx_lookup), each host's
 * addresses, at most smtp_mx_address_limit of them; the domain's own
 * addresses when it has no MX; the named host for a bracketed next hop.
 * MX hosts that are we ourselves (myhostname, an address of this host or
 * smtp_loop_addresses) and all hosts of equal or worse preference are
 * dropped (RFC 5321 5.1).  Always returns a route (free it with
 * smtp_route_free); count == 0 carries the failure.
 */
struct smtp_route *smtp_route_lookup(const char *nexthop);
void smtp_route_free(struct smtp_route **rp);
/* 1 when addr is an address of this host (interfaces, loop list). */
int smtp_route_is_self_addr(const struct dns_addr *addr);

/* ---- smtp_tls.c: the TLS policy ---------------------------------------- */

enum smtp_tls_level {
	SMTP_TLS_NONE = 0,	/* never STARTTLS */
	SMTP_TLS_MAY,		/* STARTTLS when offered, unauthenticated */
	SMTP_TLS_ENCRYPT,	/* STARTTLS required, unauthenticated */
	SMTP_TLS_VERIFY,	/* required, chain and MX name verified */
	SMTP_TLS_DANE_ONLY,	/* DANE (RFC 7672) required: a host without
				   usable validated TLSA is not used */
};

/* Parse "none", "may", "encrypt", "verify", "dane-only".  0 ok, -1
 * unknown. */
int smtp_tls_level_parse(const char *text, enum smtp_tls_level *level_r);
const char *smtp_tls_level_name(enum smtp_tls_level level);
/*
 * The level for a destination domain from smtp_tls_policy (inline
 * "domain=level ..." entries, or an absolute path of a file of "domain
 * level" lines; ".example.com" matches subdomains), else
 * smtp_tls_security_level.  A broken policy is logged and gives
 * smtp_tls_security_level.
 */
enum smtp_tls_level smtp_tls_policy_level(const char *domain);
/*
 * Look domain up in a policy text (the entries, as in a file or inline).
 * 1 found (*level_r), 0 not listed, -1 malformed (*error_r, static).
 */
int smtp_tls_policy_find(const char *policy, const char *domain,
	enum smtp_tls_level *level_r, const char **error_r);
/* The client context for a level (made once per process); NULL +
 * *error_r (caller frees) when it cannot be made. */
struct tls_server *smtp_tls_context(enum smtp_tls_level level,
	char **error_r);
/* The DANE context (tls_client_dane_new), made once per process. */
struct tls_server *smtp_tls_context_dane(char **error_r);
/* A context that checks the chain and name but does not fail on them
 * (MTA-STS testing reports), made once per process. */
struct tls_server *smtp_tls_context_report(char **error_r);

/* ---- smtp_mta_sts.c: MTA-STS (RFC 8461) --------------------------------- */

/* The cache directory under queue_directory (made by the master). */
#define SMTP_STS_CACHE_DIR "mta-sts"

enum smtp_sts_mode {
	SMTP_STS_NONE = 0,
	SMTP_STS_TESTING,
	SMTP_STS_ENFORCE,
};

/* A parsed policy (a plain record). */
struct smtp_sts_policy {
	enum smtp_sts_mode mode;
	char **mx;		/* "mx.example.com" or "*.example.com" */
	size_t mx_count;
	long long max_age;	/* seconds, capped at 31557600 */
	char *id;		/* the TXT record's id it was fetched under */
	long long fetched;	/* when (time(NULL)), cached policies */
};

/*
 * The policy of a destination domain, or NULL (none, MTA-STS off, or
 * not usable): the TXT record _mta-sts.DOMAIN names the policy id; a
 * cached unexpired policy with that id is used as it is, else the policy
 * is fetched over HTTPS (smtp_mta_sts_timeout, 64 KiB, no redirects)
 * and cached in queue_directory/mta-sts/DOMAIN; when the TXT record is
 * gone or the fetch fails, an unexpired cached policy still holds (RFC
 * 8461 5.1).  The fetch blocks this agent process only (one delivery
 * per process), at most smtp_mta_sts_timeout plus the DNS lookups.
 * A cached policy used past half its max_age is refreshed (RFC 8461
 * 10.2) by a background process while this delivery goes on with it.
 */
struct smtp_sts_policy *smtp_sts_lookup(const char *domain);
void smtp_sts_free(struct smtp_sts_policy **pp);
/*
 * After smtp_sts_lookup() returned NULL: the RFC 8460 result-type when
 * the domain publishes a policy that could not be had
 * ("sts-policy-fetch-error", "sts-policy-invalid", "sts-webpki-invalid"),
 * else NULL.
 */
const char *smtp_sts_failure(void);
const char *smtp_sts_mode_name(enum smtp_sts_mode mode);
/* Parse a policy body (RFC 8461 3.2).  0 ok; -1 with *error_r static. */
int smtp_sts_policy_parse(const char *text, size_t len,
	struct smtp_sts_policy **policy_r, const char **error_r);
/* 1 when host matches one of the policy's mx patterns (RFC 8461 4.1). */
int smtp_sts_mx_match(const struct smtp_sts_policy *p, const char *host);
/* The id of a "v=STSv1; id=..." TXT record.  0 ok (*id_r new); -1. */
int smtp_sts_txt_id(const char *txt, char **id_r);

/* ---- smtp_dane.c: which TLS a host gets ---------------------------------- */

struct tls_dane_rr;

/* The TLS for one host (a plain record; smtp_tls_plan_free). */
struct smtp_tls_plan {
	enum smtp_tls_level level;	/* what STARTTLS must achieve */
	const char *source;		/* "dane", "mta-sts", "policy" */
	int dane;			/* authenticate by rrs (DANE) */
	struct tls_dane_rr *rrs;	/* the usable secure TLSA records */
	unsigned char **rr_data;	/* what rrs[i].data points to, owned */
	size_t rr_count;
	enum smtp_sts_mode sts_mode;	/* source "mta-sts": its mode */
	const char *tlsa_base;		/* dane: the TLSA base domain (the
					   target's host or expanded) */
	/* For TLS reports (smtp_tlsrpt.c): */
	const char *domain;		/* the policy domain */
	const struct smtp_sts_policy *sts;	/* the domain's, or NULL */
	const char *rpt_failure;	/* -1 from plan_make: the RFC 8460
					   result-type, or NULL */
};

/*
 * The TLS for target t of domain, first rule that applies:
 * 1. DANE (smtp_dnssec_resolvers set, t->secure): secure usable TLSA
 *    records at _port._tcp.host authenticate the host; secure records
 *    none of which is usable make TLS mandatory; a failed TLSA lookup
 *    (bogus, SERVFAIL) makes the host unusable (-1); denied or insecure
 *    TLSA: the next rule.
 * 2. MTA-STS (sts): enforce: t->host must match an mx pattern (else -1)
 *    and the certificate verify (level verify); testing: configured
 *    level (at least may), mismatches logged.
 * 3. configured (smtp_tls_policy / smtp_tls_security_level).
 * 0 ok (*plan filled), -1 do not use this host (*why_r, caller frees).
 */
int smtp_tls_plan_make(const struct smtp_target *t, const char *domain,
	const struct smtp_sts_policy *sts, enum smtp_tls_level configured,
	struct smtp_tls_plan *plan, char **why_r);
void smtp_tls_plan_free(struct smtp_tls_plan *plan);

/* ---- smtp_tlsrpt.c: TLS reporting (RFC 8460) ---------------------------- */

/*
 * Journal one TLS session attempt with t under plan (smtp_tlsrpt_enable):
 * result NULL for success, else an RFC 8460 result-type; detail the
 * additional-information or NULL; sending_ip our address or NULL.  A
 * plan of the configured policy ("policy") is journalled only when it
 * failed for dane-only (no-policy-found).  Never fails the delivery: a
 * journal that cannot be written is logged.
 */
void smtp_tlsrpt_note(const struct smtp_tls_plan *plan,
	const struct smtp_target *t, const char *sending_ip,
	const char *result, const char *detail);
/* A policy domain's MTA-STS policy that could not be had (result). */
void smtp_tlsrpt_note_sts_failure(const char *domain, const char *result);
/* The result-type of a verification failure (enum tls_verify_failure). */
const char *smtp_tlsrpt_verify_result(const struct smtp_tls_plan *plan,
	int failure);

/* ---- smtp_session.c: the protocol client -------------------------------- */

/* Deliver the job: LMTP to the store host, or SMTP along its route. */
void smtp_session_deliver(struct smtp_job *job);

#endif

/*
 * smtpd_authres_dns: the DNS lookups of sender authentication (SPF, DKIM
 * keys, DMARC) over c-ares with a per-process answer cache.
 *
 * Answers (found, NXDOMAIN, NODATA; never a temporary failure) are kept
 * for their TTL (the smallest record TTL, or the SOA's negative TTL,
 * RFC 2308), at most SMTPD_AUTHRES_DNS_TTL_MAX seconds, in
 * SMTPD_AUTHRES_DNS_CACHE slots (the oldest answer makes room; found
 * through a hash index): three a sender domain (SPF, DMARC, its key), so
 * ~170 domains a process, ~0.5 MB at most.  An answer with TTL 0 or none
 * is used once and not kept.
 *
 * libspf2 and the DKIM key step ask one question at a time; lookups whose
 * names are known early are started by smtpd_authres_dns_prefetch() as
 * soon as they are (the SPF record of the envelope domain at MAIL FROM,
 * the DMARC record of the From: domain and each signature's key as their
 * fields are read) and answered while the rest of the transaction
 * arrives; the later synchronous question at the end of DATA takes the
 * prefetched answer, waiting for it if it is still on its way.  The
 * answer of a lookup cancelled by smtpd_authres_dns_reset() is dropped.
 */
#ifndef ISPMAIL_SMTPD_AUTHRES_DNS_H
#define ISPMAIL_SMTPD_AUTHRES_DNS_H

#include "dns.h"

#define SMTPD_AUTHRES_DNS_CACHE 512
#define SMTPD_AUTHRES_DNS_TTL_MAX 3600
#define SMTPD_AUTHRES_DNS_PREFETCH 8

/*
 * One lookup, answered by deadline_ms (CLOCK_MONOTONIC; a later answer is
 * a temporary failure).  *answer_r (may be NULL) is borrowed: valid until
 * the next smtpd_authres_dns_query() or _reset().
 */
enum dns_status smtpd_authres_dns_query(enum dns_type type, const char *name,
	long long deadline_ms, struct dns_answer **answer_r);
/* Start a lookup now, not waiting (nothing when cached or already asked). */
void smtpd_authres_dns_prefetch(enum dns_type type, const char *name);
/* The message is done: cancel and drop prefetched answers never asked for. */
void smtpd_authres_dns_reset(void);

#endif

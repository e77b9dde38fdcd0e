/*
 * smtpd_reputation: what smtpd (mx mode) thinks of a client before it
 * greets it: DNS block lists (dnsbl_sites, asked in parallel, weights
 * summed), and optionally forward-confirmed reverse DNS, a pregreet test
 * (smtpd_pregreet_time) and, at RCPT, the HELO name's syntax.  Each adds
 * its weight to the client's score; at or above dnsbl_threshold every
 * RCPT except to the postmaster of our domains is refused with 554 5.7.1
 * and the reasons (the listing's TXT text included).  Clients in
 * dnsbl_allow_networks are not checked.  A DNS lookup that fails
 * temporarily or times out adds nothing: an outage never rejects.
 *
 * Rejecting at RCPT rather than at the greeting keeps the postmaster
 * reachable (RFC 5321 4.5.1) and shows the client a reply it can log.
 */
#ifndef ISPMAIL_SMTPD_REPUTATION_H
#define ISPMAIL_SMTPD_REPUTATION_H

struct smtpd_session;
struct smtpd_reputation;

/*
 * Process start (pre_init): parse dnsbl_sites and dnsbl_allow_networks
 * and open the resolver; a bad value is fatal.  Does nothing outside mx
 * mode or when no check is enabled.
 */
void smtpd_reputation_init(void);
/*
 * Before the greeting: run the checks (the pregreet wait and the DNS
 * queries overlap; at most max(smtpd_pregreet_time, dns_timeout *
 * dns_tries)).  NULL when nothing was checked (allowed network, checks
 * off, not an IP client); else the verdict, owned by the session.
 */
struct smtpd_reputation *smtpd_reputation_check(struct smtpd_session *ss);
/*
 * At RCPT (args as after the verb): 1 when the client is refused and the
 * 554 reply was sent, 0 to go on with the normal recipient checks.
 */
int smtpd_reputation_rcpt(struct smtpd_session *ss,
	struct smtpd_reputation *rep, const char *args);
/* Free and NULL. */
void smtpd_reputation_free(struct smtpd_reputation **rep);

#endif

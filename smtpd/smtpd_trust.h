/*
 * smtpd_trust: mynetworks, the ISP's own hosts (web hosting, monitoring)
 * that may relay without AUTH on mx and submission listeners.
 *
 * smtpd_trust_init() parses mynetworks once, before privileges drop (a
 * bad entry stops the service); smtpd_trust_client() asks about the
 * session's client address as it is now.  An empty list trusts nobody.
 */
#ifndef ISPMAIL_SMTPD_TRUST_H
#define ISPMAIL_SMTPD_TRUST_H

struct smtpd_session;

/* Parse mynetworks; fatal when an entry is bad. */
void smtpd_trust_init(void);
/* 1 when the session's client is in mynetworks, else 0. */
int smtpd_trust_client(const struct smtpd_session *ss);

#endif

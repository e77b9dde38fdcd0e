/*
 * smtpd_srs: RCPT TO an address in srs_domain (the Sender Rewriting
 * Scheme, common/mail/srs.h).  Bounces to SRS addresses we made are accepted
 * (qmgr routes them back to the original sender with srs_reverse);
 * forged, expired and malformed ones are refused here, so srs_domain is
 * never looked up in the routing directory.
 */
#ifndef ISPMAIL_SMTPD_SRS_H
#define ISPMAIL_SMTPD_SRS_H

struct smtpd_session;

#define SMTPD_SRS_NOT_SRS 0	/* not ours: the usual routing checks */
#define SMTPD_SRS_ACCEPT 1	/* a valid SRS address: accept it */

/*
 * Check one recipient (as given in RCPT TO).  SMTPD_SRS_NOT_SRS or
 * SMTPD_SRS_ACCEPT (no reply sent); -1 refused or -2 deferred, with the
 * reply sent (the return values of smtpd_check_rcpt).
 */
int smtpd_srs_check_rcpt(struct smtpd_session *ss, const char *addr);

#endif

/*
 * smtpd_account: the exploited-account alarm in submission (smtpd(8)
 * ACCOUNT ALARMS).  Each message of an authenticated login is counted in
 * the account store (account_store.h) when it is committed; the message
 * that takes the account past account_alarm_factor times its usual
 * volume raises the alarm (log, ispmail_alarms_total{figure="account"})
 * and, with account_alarm_action = hold, goes to hold/ with the reason,
 * and the account's next MAIL FROM gets 451 4.7.1 until ispmailctl
 * account release.
 */
#ifndef ISPMAIL_SMTPD_ACCOUNT_H
#define ISPMAIL_SMTPD_ACCOUNT_H

struct qfile_writer;
struct smtpd_session;
struct smtpd_filter_outcome;

/* Check the parameters: 0 ok; -1 with *error_r (caller frees). */
int smtpd_account_check(char **error_r);
/* MAIL FROM: 0 go on; -1 the account is held (451 sent, logged). */
int smtpd_account_mail(struct smtpd_session *ss);
/*
 * The message is about to be committed: count it; on the alarm hold it
 * (o).  0 go on; -1 reply sent (the hold record could not be written).
 */
int smtpd_account_message(struct smtpd_session *ss, struct qfile_writer *w,
	struct smtpd_filter_outcome *o);

#endif

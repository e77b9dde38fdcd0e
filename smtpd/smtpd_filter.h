/*
 * smtpd_filter: the content filter at the end of DATA/BDAT (smtpd(8)
 * CONTENT FILTER).
 *
 * The complete message (in the queue file, before the commit) goes to
 * spamd and clamd at the same time (scan_client.h).  MX mode decides per
 * recipient by its routing policy: below its tag score deliver; at or
 * above it into filter_junk_folder; at or above its quarantine score a
 * copy in quarantine/ (ispmailctl quarantine); at or above its discard
 * score reject (550 5.7.1) when every recipient says so, else discard
 * that recipient.  Each decision is an F record of the queue file
 * (ispmail-queue(5)).  A virus is 554 5.7.1 in either mode.
 * Submission: spam at filter_outbound_spam_score goes to hold/ with the
 * reason and an alarm naming the login.
 *
 * A scan that fails (reset, EOF, timeout) is counted per message
 * (SHA-256 of the message after our Received: line) in
 * queue_directory/filter/poison, across processes and restarts; the
 * count is taken before the scan, so a smtpd that dies scanning counts
 * too.  At filter_poison_limit the message is poison: it is never
 * scanned again and gets filter_poison_action.
 */
#ifndef ISPMAIL_SMTPD_FILTER_H
#define ISPMAIL_SMTPD_FILTER_H

struct qfile_writer;
struct smtpd_session;

/* What the commit does with the message after the filter. */
struct smtpd_filter_outcome {
	const char *subdir;	/* QFILE_INCOMING or QFILE_HOLD */
	int all_done;		/* every recipient quarantined or discarded:
				   nothing to queue (the reply is still 250) */
	int queue_only;		/* no direct delivery (folders, hold) */
};

/*
 * Check the filter parameters (before serving): 0 ok; -1 with *error_r
 * (caller frees) naming the parameter.
 */
int smtpd_filter_check(char **error_r);
/* 1 when a filter is configured (spamd_servers or clamd_servers). */
int smtpd_filter_enabled(void);
/*
 * Scan the complete message in w and record the decisions in it.  0: go
 * on as outcome says; -1: the reply was sent (5xx or 4xx), drop w.
 */
int smtpd_filter_message(struct smtpd_session *ss, struct qfile_writer *w,
	struct smtpd_filter_outcome *outcome);

/*
 * Hold the message: reason as its F record (ispmailctl queue show says
 * it), o to hold/ without direct delivery.  0; -1 (logged).
 */
int smtpd_filter_hold(struct qfile_writer *w, const char *reason,
	struct smtpd_filter_outcome *o);

#endif

/* smtpd_account: the exploited-account alarm; see smtpd_account.h. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "account_store.h"
#include "log.h"
#include "mail_params.h"
#include "metrics.h"
#include "qfile.h"
#include "smtpd.h"
#include "smtpd_account.h"
#include "smtpd_filter.h"
#include "xalloc.h"

/* The store, opened at the first authenticated message; -2 never. */
static int account_fd = -2;

int
smtpd_account_check(char **error_r)
{
	if (strcmp(var_account_alarm_action, "hold") != 0 &&
	    strcmp(var_account_alarm_action, "log") != 0) {
		*error_r = xasprintf("account_alarm_action: %s is neither "
		    "hold nor log", var_account_alarm_action);
		return -1;
	}
	return 0;
}

/* The store's descriptor, or -1 (logged once a process). */
static int
smtpd_account_fd(void)
{
	char *error = NULL;

	if (account_fd == -2) {
		account_fd = account_store_open(var_queue_directory, 1,
		    &error);
		if (account_fd < 0) {
			log_warn("account alarms off: %s", error);
			free(error);
		}
	}
	return account_fd;
}

static int
smtpd_account_on(const struct smtpd_session *ss)
{
	return smtpd.mode == SMTPD_MODE_SUBMISSION && ss->auth_user != NULL
	    && var_account_alarm_factor > 0;
}

int
smtpd_account_mail(struct smtpd_session *ss)
{
	struct account_rec r;
	char *error = NULL;
	int fd, rc;

	if (!smtpd_account_on(ss) || (fd = smtpd_account_fd()) < 0)
		return 0;
	rc = account_get(fd, ss->auth_user, &r, &error);
	if (rc < 0) {
		log_warn("account %s: %s", ss->auth_user, error);
		free(error);
		return 0;
	}
	if (rc == 0 || r.held_since == 0)
		return 0;
	log_info("reject: MAIL from %s: account %s is held (account alarm: "
	    "%u messages in a window, usual %.1f) until ispmailctl account "
	    "release", ss->peer->client_addr, ss->auth_user, r.held_count,
	    r.held_usual);
	metrics_inc("ispmail_smtpd_rejects_total", "reason", "account_held",
	    NULL);
	smtpd_reply(ss, "451 4.7.1 Error: account %s is suspended for "
	    "unusual sending; contact your provider", ss->auth_user);
	return -1;
}

int
smtpd_account_message(struct smtpd_session *ss, struct qfile_writer *w,
	struct smtpd_filter_outcome *o)
{
	struct account_policy p;
	struct account_rec r;
	char *error = NULL, *reason;
	int fd, verdict, rc;

	if (!smtpd_account_on(ss) || (fd = smtpd_account_fd()) < 0)
		return 0;
	p.window = var_account_alarm_window;
	p.factor = var_account_alarm_factor;
	p.minimum = var_account_alarm_minimum;
	p.history = var_account_alarm_history;
	p.hold = strcmp(var_account_alarm_action, "hold") == 0;
	verdict = account_count(fd, ss->auth_user, time(NULL), 1, &p, 1, &r,
	    &error);
	if (verdict < 0) {
		log_warn("account %s: %s", ss->auth_user, error);
		free(error);
		return 0;
	}
	if (verdict == ACCOUNT_OK)
		return 0;
	if (verdict == ACCOUNT_ALARM) {
		log_warn("%s: ALARM: account %s sent %u messages in %llds, "
		    "%.1fx its usual %.1f, from %s%s", qfile_writer_id(w),
		    ss->auth_user, r.count, var_account_alarm_window,
		    r.mean > 0 ? r.count / r.mean : 0.0, r.mean,
		    ss->peer->client_addr, p.hold ? ": message held, account "
		    "suspended until ispmailctl account release" : "");
		metrics_inc("ispmail_alarms_total", "figure", "account", NULL);
		if (!p.hold)
			return 0;
	}
	/* Held now, or held while this transaction ran: into hold/. */
	if (strcmp(o->subdir, QFILE_HOLD) == 0)
		return 0;
	reason = account_hold_reason(&r);
	rc = smtpd_filter_hold(w, reason, o);
	free(reason);
	if (rc < 0) {
		smtpd_reply(ss, "451 4.3.0 Error: queue file write error");
		return -1;
	}
	return 0;
}

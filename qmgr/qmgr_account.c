/*
 * qmgr_account: the exploited-account alarm in the queue (smtpd(8)
 * ACCOUNT ALARMS).  smtpd holds the message that raised the alarm and
 * refuses the account's next ones; the account's messages accepted
 * before and still queued (incoming/, deferred/) are caught here, when
 * qmgr takes them: qmgr alone moves files out of active/, so no other
 * process races it for the file.
 *
 * Cost: nothing for a message without an authenticated login; one pread
 * of the store's held count for one with a login; the login's record
 * only when some account is held.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "account_store.h"
#include "log.h"
#include "mail_params.h"
#include "qfile.h"
#include "qmgr.h"
#include "xalloc.h"

/* Seconds between tries to open a store that would not open. */
#define QMGR_ACCOUNT_RETRY 60

static int account_fd = -1;
static time_t account_next_try;

/* The store's descriptor, or -1 (logged, tried again a minute later). */
static int
qmgr_account_fd(void)
{
	char *error = NULL;
	time_t now;

	if (account_fd >= 0)
		return account_fd;
	now = time(NULL);
	if (now < account_next_try)
		return -1;
	account_fd = account_store_open(var_queue_directory, 1, &error);
	if (account_fd < 0) {
		log_warn("account alarms: held accounts' queued mail is not "
		    "held: %s", error);
		free(error);
		account_next_try = now + QMGR_ACCOUNT_RETRY;
	}
	return account_fd;
}

char *
qmgr_account_held(const struct qfile *qf)
{
	struct account_rec r;
	char *error = NULL;
	long held;
	int fd;

	if (qf->auth_user == NULL || *qf->auth_user == '\0' ||
	    var_account_alarm_factor <= 0 || (fd = qmgr_account_fd()) < 0)
		return NULL;
	if ((held = account_held_count(fd, &error)) > 0 &&
	    account_get(fd, qf->auth_user, &r, &error) > 0 &&
	    r.held_since != 0)
		return account_hold_reason(&r);
	if (error != NULL) {
		log_warn("account %s: %s", qf->auth_user, error);
		free(error);
	}
	return NULL;
}

/*
 * ctl_account: ispmailctl account, the exploited-account alarm
 * (account_store.h, smtpd(8) ACCOUNT ALARMS).
 *
 *	account list-held		held accounts, one a line
 *	account show LOGIN		its window, usual and hold
 *	account release LOGIN		lift the hold and release the mail
 *					it held (hold/, reason "account
 *					alarm", that login)
 *	account feed < lines		"TIME LOGIN COUNT": COUNT messages
 *					of LOGIN at TIME, learned and never
 *					judged (a history to start from)
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "account_store.h"
#include "ctl.h"
#include "mail_params.h"
#include "qfile.h"
#include "xalloc.h"

/* The longest feed line, and the most lines one run reads. */
#define ACCOUNT_LINE_MAX (ACCOUNT_LOGIN_MAX + 64)
#define ACCOUNT_LINES_MAX 10000000L

static int
account_open(int create)
{
	char *error = NULL;
	int fd = account_store_open(var_queue_directory, create, &error);

	if (fd < 0) {
		ctl_eprintf("ispmailctl: account: %s\n", error);
		free(error);
	}
	return fd;
}

/* As root: the store belongs to the queue's owner, who runs smtpd. */
static void
account_owner(int fd)
{
	char *dir = xasprintf("%s/%s", var_queue_directory, QFILE_INCOMING);
	char *adir = xasprintf("%s/%s", var_queue_directory, ACCOUNT_DIR);
	struct stat st;

	if (geteuid() == 0 && stat(dir, &st) == 0 && st.st_uid != 0) {
		if (fchown(fd, st.st_uid, st.st_gid) < 0 ||
		    chown(adir, st.st_uid, st.st_gid) < 0)
			ctl_eprintf("ispmailctl: account: chown: %s\n",
			    strerror(errno));
	}
	free(dir);
	free(adir);
}

static void
account_policy(struct account_policy *p)
{
	p->window = var_account_alarm_window;
	p->factor = var_account_alarm_factor;
	p->minimum = var_account_alarm_minimum;
	p->history = var_account_alarm_history;
	p->hold = strcmp(var_account_alarm_action, "hold") == 0;
}

static void
account_print(const struct account_rec *r)
{
	char when[64];
	time_t t = (time_t) r->held_since;
	struct tm tm;

	ctl_printf("%s window %u messages usual %.1f spread %.1f windows %u",
	    r->login, r->count, r->mean, sqrt(r->var),
	    r->n);
	if (r->held_since != 0) {
		localtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %z", &tm);
		ctl_printf(" held since %s (%u messages, usual %.1f)", when,
		    r->held_count, r->held_usual);
	}
	ctl_printf("\n");
}

static int
account_list_held(void)
{
	struct account_rec r;
	char *error = NULL;
	unsigned i;
	char *path = xasprintf("%s/%s/%s", var_queue_directory, ACCOUNT_DIR,
	    ACCOUNT_FILE);
	int fd, rc = 0;

	/* No store yet: no authenticated mail, nothing held. */
	if (access(path, F_OK) < 0 && errno == ENOENT) {
		free(path);
		return 0;
	}
	free(path);
	if ((fd = account_open(0)) < 0)
		return 1;
	for (i = 0; i < ACCOUNT_SLOTS; i++) {
		int got = account_nth(fd, i, &r, &error);

		if (got < 0) {
			ctl_eprintf("ispmailctl: account: %s\n", error);
			free(error);
			rc = 1;
			break;
		}
		if (got && r.held_since != 0)
			account_print(&r);
	}
	(void) close(fd);
	return rc;
}

static int
account_show(const char *login)
{
	struct account_rec r;
	char *error = NULL;
	int fd = account_open(0), got;

	if (fd < 0)
		return 1;
	got = account_get(fd, login, &r, &error);
	(void) close(fd);
	if (got < 0) {
		ctl_eprintf("ispmailctl: account: %s\n", error);
		free(error);
		return 1;
	}
	if (got == 0) {
		ctl_eprintf("ispmailctl: account: %s has no record\n", login);
		return 1;
	}
	account_print(&r);
	return 0;
}

/* Release login's messages that its alarm put in hold/. */
static int
account_release_mail(const char *login, int *count_r)
{
	struct ctl_qlist l = { NULL, 0, 0 };
	struct qfile *qf;
	char *dir = xasprintf("%s/%s", var_queue_directory, QFILE_HOLD);
	char *error = NULL;
	size_t i;
	int damaged, rc = 0;

	*count_r = 0;
	ctl_qlist_scan(&l, dir, QFILE_HOLD, 0);
	free(dir);
	for (i = 0; i < l.count; i++) {
		qf = NULL;
		if (qfile_read(l.entries[i].path, &qf, &damaged, &error) < 0) {
			/* Gone meanwhile (released, deleted): not ours. */
			free(error);
			error = NULL;
			continue;
		}
		if (qf->auth_user != NULL && strcmp(qf->auth_user, login) == 0
		    && qf->hold_reason != NULL
		    && strncmp(qf->hold_reason, ACCOUNT_REASON,
		    strlen(ACCOUNT_REASON)) == 0) {
			if (ctl_queue_release(qf->id) == 0)
				(*count_r)++;
			else
				rc = 1;
		}
		qfile_free(&qf);
	}
	ctl_qlist_free(&l);
	return rc;
}

static int
ctl_account_release(const char *login)
{
	char *error = NULL;
	int fd = account_open(0), was, count, rc;

	if (fd < 0)
		return 1;
	was = account_release(fd, login, &error);
	(void) close(fd);
	if (was < 0) {
		ctl_eprintf("ispmailctl: account: %s\n", error);
		free(error);
		return 1;
	}
	rc = account_release_mail(login, &count);
	ctl_printf("%s: %s, %d held message%s released\n", login,
	    was ? "released" : "was not held", count, count == 1 ? "" : "s");
	return rc;
}

static int
account_feed(void)
{
	struct account_policy p;
	char line[ACCOUNT_LINE_MAX + 2], login[ACCOUNT_LOGIN_MAX + 2];
	char *error = NULL;
	long long when, count;
	long lineno = 0;
	int fd = account_open(1), consumed, rc = 1;

	if (fd < 0)
		return 1;
	account_owner(fd);
	account_policy(&p);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		if (++lineno > ACCOUNT_LINES_MAX
		    || strchr(line, '\n') == NULL) {
			ctl_eprintf("ispmailctl: account: line %ld: too long "
			    "or too many lines\n", lineno);
			goto out;
		}
		consumed = 0;
		if (sscanf(line, "%lld %256s %lld %n", &when, login, &count,
		    &consumed) != 3 || line[consumed] != '\0' || when <= 0
		    || count < 0 || count > 100000000LL
		    || strlen(login) > ACCOUNT_LOGIN_MAX) {
			ctl_eprintf("ispmailctl: account: line %ld: expected "
			    "\"TIME LOGIN COUNT\"\n", lineno);
			goto out;
		}
		if (account_count(fd, login, (time_t) when, count, &p, 0,
		    NULL, &error) < 0) {
			ctl_eprintf("ispmailctl: account: line %ld: %s\n",
			    lineno, error);
			free(error);
			goto out;
		}
	}
	ctl_printf("%ld line%s\n", lineno, lineno == 1 ? "" : "s");
	rc = 0;
out:
	(void) close(fd);
	return rc;
}

int
ctl_account(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "list-held") == 0)
		return account_list_held();
	if (argc == 3 && strcmp(argv[1], "show") == 0)
		return account_show(argv[2]);
	if (argc == 3 && strcmp(argv[1], "release") == 0)
		return ctl_account_release(argv[2]);
	if (argc == 2 && strcmp(argv[1], "feed") == 0)
		return account_feed();
	ctl_eprintf("usage: ispmailctl account list-held\n"
	    "       ispmailctl account show LOGIN\n"
	    "       ispmailctl account release LOGIN\n"
	    "       ispmailctl account feed < \"TIME LOGIN COUNT\" lines\n");
	return 2;
}

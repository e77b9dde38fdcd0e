/*
 * account_store: per-account submission counts, each account's learned
 * usual volume, and its hold (the exploited-account alarm).
 *
 * queue_directory/accounts/store is a fixed-size file of
 * ACCOUNT_SLOTS records, open addressing on a hash of the login (at most
 * ACCOUNT_PROBES records looked at).  A record holds the messages the
 * account sent in the current window (account_alarm_window long), an
 * exponentially weighted mean and variance of its messages per window
 * (windows without mail count as 0), how many windows taught it, and
 * whether the account is held.  smtpd updates the record of the login
 * that submits under a byte-range lock on that record: no daemon, no
 * round trip, a few system calls per authenticated message.
 *
 * A window in which the account went past account_alarm_factor times
 * its usual (and at least account_alarm_minimum messages, once
 * account_alarm_history windows taught it) raises the alarm once and
 * never teaches the mean, so an attack does not become the usual.
 */
#ifndef ISPMAIL_ACCOUNT_STORE_H
#define ISPMAIL_ACCOUNT_STORE_H

#include <stdint.h>
#include <time.h>

#define ACCOUNT_SLOTS 4096
#define ACCOUNT_PROBES 64
#define ACCOUNT_LOGIN_MAX 255
/*
 * After the records, one page of header: how many accounts are held, so
 * a reader with nothing held (qmgr, per authenticated message; the
 * sampler) learns it with one pread and looks no further.
 */
#define ACCOUNT_HEADER_SIZE 4096
/* The hold reason written into a held message's queue file. */
#define ACCOUNT_REASON "account alarm: "
/* The directory under queue_directory, and the file in it. */
#define ACCOUNT_DIR "accounts"
#define ACCOUNT_FILE "store"

struct account_rec {
	char login[ACCOUNT_LOGIN_MAX + 1];	/* "": a free record */
	int64_t window;		/* the current window: time / window */
	uint32_t count;		/* messages in it */
	uint32_t n;		/* windows that taught the mean */
	double mean, var;	/* messages per window */
	int64_t held_since;	/* unix time; 0: not held */
	uint32_t alarmed;	/* the current window raised the alarm */
	uint32_t hooked;	/* the alarm command ran for this hold */
	uint32_t held_count;	/* the count that raised it */
	uint32_t reserved;
	double held_usual;	/* the usual then */
};

/* What account_count() judges with. */
struct account_policy {
	long long window;	/* seconds */
	long long factor;	/* 0: never judge */
	long long minimum;
	long long history;
	int hold;		/* hold on alarm */
};

enum account_verdict {
	ACCOUNT_OK = 0,
	ACCOUNT_ALARM = 1,	/* this message raised the alarm */
	ACCOUNT_HELD = 2,	/* the account was held already */
};

/*
 * Open queue_dir's store for reading and writing, creating it (and the
 * directory, mode 0700) when create is set.  The descriptor; -1 with
 * *error_r (caller frees).
 */
int account_store_open(const char *queue_dir, int create, char **error_r);

/*
 * count messages of login at now: the window rolls over (the finished
 * one teaches the mean unless it raised the alarm), then, with judge,
 * the verdict.  rec_r (may be NULL) gets the record after the update.
 * The verdict, or -1 with *error_r (store full, too long, I/O).
 */
int account_count(int fd, const char *login, time_t now, long long count,
	const struct account_policy *p, int judge, struct account_rec *rec_r,
	char **error_r);

/* login's record: 1 found, 0 not there, -1 (*error_r). */
int account_get(int fd, const char *login, struct account_rec *rec_r,
	char **error_r);

/*
 * Release login: not held, this window's count and alarm cleared.  1
 * released, 0 was not held, -1 (*error_r).
 */
int account_release(int fd, const char *login, char **error_r);

/*
 * Claim the alarm command of login's hold since held_since: 1 claimed
 * (mark set; run it once), 0 released, re-held or claimed already, -1
 * (*error_r).
 */
int account_set_hooked(int fd, const char *login, int64_t held_since,
	char **error_r);

/*
 * How many accounts are held (one pread, no lock: a hint, exact once
 * the writers are done): >= 0, or -1 (*error_r).
 */
long account_held_count(int fd, char **error_r);

/* The hold reason for r's hold (ACCOUNT_REASON...); caller frees. */
char *account_hold_reason(const struct account_rec *r);

/* Record i (0 to ACCOUNT_SLOTS - 1): 1 in use, 0 free, -1 (*error_r). */
int account_nth(int fd, unsigned i, struct account_rec *rec_r,
	char **error_r);

#endif

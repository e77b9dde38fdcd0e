/* account_store: per-account counts, usual volume and hold; see .h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "account_store.h"
#include "hash.h"
#include "xalloc.h"

#define ACCOUNT_RECORDS_SIZE ((off_t) ACCOUNT_SLOTS * \
	(off_t) sizeof(struct account_rec))
#define ACCOUNT_STORE_SIZE (ACCOUNT_RECORDS_SIZE + ACCOUNT_HEADER_SIZE)

/* The header, at ACCOUNT_RECORDS_SIZE. */
struct account_header {
	uint32_t held;		/* accounts with held_since != 0 */
	uint32_t reserved;
};

static int account_header_recount(int fd);
/* Weight of a new window once the mean learned about 30. */
#define ACCOUNT_ALPHA (1.0 / 30.0)
/* Empty windows folded in at most at once (the mean is ~0 by then). */
#define ACCOUNT_GAP_MAX 1000

int
account_store_open(const char *queue_dir, int create, char **error_r)
{
	char *dir = xasprintf("%s/%s", queue_dir, ACCOUNT_DIR);
	char *path = xasprintf("%s/%s", dir, ACCOUNT_FILE);
	struct stat st;
	int fd = -1;

	if (create && mkdir(dir, 0700) < 0 && errno != EEXIST) {
		*error_r = xasprintf("create %s: %s", dir, strerror(errno));
		goto out;
	}
	fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC |
	    (create ? O_CREAT : 0), 0600);
	if (fd < 0) {
		*error_r = xasprintf("open %s: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		*error_r = xasprintf("%s: not a regular file", path);
		goto fail;
	}
	/* Sparse: the records read as zeroes, free. */
	if (st.st_size == 0 && ftruncate(fd, ACCOUNT_STORE_SIZE) < 0) {
		*error_r = xasprintf("size %s: %s", path, strerror(errno));
		goto fail;
	}
	/* A store without the header (older): add it, count the holds. */
	if (st.st_size == ACCOUNT_RECORDS_SIZE &&
	    (ftruncate(fd, ACCOUNT_STORE_SIZE) < 0 ||
	    account_header_recount(fd) < 0)) {
		*error_r = xasprintf("extend %s: %s", path, strerror(errno));
		goto fail;
	}
	if (st.st_size != 0 && st.st_size != ACCOUNT_RECORDS_SIZE &&
	    st.st_size != ACCOUNT_STORE_SIZE) {
		*error_r = xasprintf("%s: not an account store (%lld bytes)",
		    path, (long long) st.st_size);
		goto fail;
	}
	goto out;
fail:
	(void) close(fd);
	fd = -1;
out:
	free(path);
	free(dir);
	return fd;
}

/* Lock len bytes at start (F_RDLCK, F_WRLCK, F_UNLCK), waiting. */
static int
account_lock_range(int fd, off_t start, off_t len, short type)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	fl.l_start = start;
	fl.l_len = len;
	while (fcntl(fd, F_SETLKW, &fl) < 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

static int
account_lock(int fd, unsigned i, short type)
{
	return account_lock_range(fd, (off_t) i *
	    (off_t) sizeof(struct account_rec), sizeof(struct account_rec),
	    type);
}

/*
 * Add delta to the held count.  Taken after a record lock (never the
 * other way round), so the two cannot deadlock.
 */
static int
account_header_add(int fd, int delta)
{
	struct account_header h;
	int rc = -1;

	if (account_lock_range(fd, ACCOUNT_RECORDS_SIZE, sizeof(h),
	    F_WRLCK) < 0)
		return -1;
	if (pread(fd, &h, sizeof(h), ACCOUNT_RECORDS_SIZE) ==
	    (ssize_t) sizeof(h)) {
		if (delta < 0 && h.held < (uint32_t) -delta)
			h.held = 0;
		else
			h.held += (uint32_t) delta;
		if (pwrite(fd, &h, sizeof(h), ACCOUNT_RECORDS_SIZE) ==
		    (ssize_t) sizeof(h))
			rc = 0;
	}
	(void) account_lock_range(fd, ACCOUNT_RECORDS_SIZE, sizeof(h),
	    F_UNLCK);
	return rc;
}

long
account_held_count(int fd, char **error_r)
{
	struct account_header h;

	if (pread(fd, &h, sizeof(h), ACCOUNT_RECORDS_SIZE) !=
	    (ssize_t) sizeof(h)) {
		*error_r = xasprintf("account store: header: %s",
		    strerror(errno));
		return -1;
	}
	return (long) h.held;
}

char *
account_hold_reason(const struct account_rec *r)
{
	return xasprintf("%slogin %s sent %u messages in a window, usual "
	    "%.1f", ACCOUNT_REASON, r->login, r->held_count, r->held_usual);
}

static int
account_read(int fd, unsigned i, struct account_rec *rec)
{
	ssize_t n = pread(fd, rec, sizeof(*rec),
	    (off_t) i * (off_t) sizeof(*rec));

	if (n != (ssize_t) sizeof(*rec))
		return -1;
	rec->login[ACCOUNT_LOGIN_MAX] = '\0';
	return 0;
}

static int
account_write(int fd, unsigned i, const struct account_rec *rec)
{
	return pwrite(fd, rec, sizeof(*rec), (off_t) i *
	    (off_t) sizeof(*rec)) == (ssize_t) sizeof(*rec) ? 0 : -1;
}

/*
 * Find login's record and leave it locked (read into rec): the index,
 * ACCOUNT_SLOTS when absent (and !create), -1 (*error_r).  create claims
 * a free record.
 */
static long
account_find(int fd, const char *login, int create, struct account_rec *rec,
	char **error_r)
{
	uint32_t h = fnv1a32(login);
	unsigned i, probe;

	if (*login == '\0' || strlen(login) > ACCOUNT_LOGIN_MAX) {
		*error_r = xstrdup("login empty or too long");
		return -1;
	}
	for (probe = 0; probe < ACCOUNT_PROBES; probe++) {
		i = (h + probe) % ACCOUNT_SLOTS;
		if (account_lock(fd, i, F_WRLCK) < 0 ||
		    account_read(fd, i, rec) < 0) {
			*error_r = xasprintf("account store: %s",
			    strerror(errno));
			(void) account_lock(fd, i, F_UNLCK);
			return -1;
		}
		if (strcmp(rec->login, login) == 0)
			return (long) i;
		if (rec->login[0] == '\0') {
			if (!create)
				break;
			memset(rec, 0, sizeof(*rec));
			memcpy(rec->login, login, strlen(login) + 1);
			return (long) i;
		}
		(void) account_lock(fd, i, F_UNLCK);
	}
	if (probe < ACCOUNT_PROBES) {
		(void) account_lock(fd, i, F_UNLCK);
		return ACCOUNT_SLOTS;
	}
	if (create) {
		*error_r = xasprintf("account store full near %s", login);
		return -1;
	}
	return ACCOUNT_SLOTS;
}

/* Write the locked record i back and unlock it. */
static int
account_done(int fd, long i, const struct account_rec *rec, char **error_r)
{
	int rc = 0;

	if (rec != NULL && account_write(fd, (unsigned) i, rec) < 0) {
		*error_r = xasprintf("account store: write: %s",
		    strerror(errno));
		rc = -1;
	}
	(void) account_lock(fd, (unsigned) i, F_UNLCK);
	return rc;
}

/* One finished window of value messages teaches the mean. */
static void
account_learn(struct account_rec *r, double value)
{
	double alpha, delta;

	r->n++;
	alpha = r->n < 30 ? 1.0 / r->n : ACCOUNT_ALPHA;
	delta = value - r->mean;
	r->mean += alpha * delta;
	r->var = (1 - alpha) * (r->var + alpha * delta * delta);
}

int
account_count(int fd, const char *login, time_t now, long long count,
	const struct account_policy *p, int judge, struct account_rec *rec_r,
	char **error_r)
{
	struct account_rec r;
	int64_t w = (int64_t) now / (p->window > 0 ? p->window : 3600);
	long i = account_find(fd, login, 1, &r, error_r);
	int verdict = ACCOUNT_OK;

	if (i < 0)
		return -1;
	if (r.window == 0) {
		r.window = w;
	} else if (w > r.window) {
		int64_t gap = w - r.window - 1;

		if (!r.alarmed)
			account_learn(&r, (double) r.count);
		if (gap > ACCOUNT_GAP_MAX)
			gap = ACCOUNT_GAP_MAX;
		while (gap-- > 0)
			account_learn(&r, 0);
		r.window = w;
		r.count = 0;
		r.alarmed = 0;
	}
	/* An earlier window (a clock step back): counted in this one. */
	if (count > 0)
		r.count = (uint32_t) ((long long) r.count + count > UINT32_MAX ?
		    UINT32_MAX : r.count + (uint32_t) count);
	if (r.held_since != 0) {
		verdict = ACCOUNT_HELD;
	} else if (judge && p->factor > 0 && !r.alarmed &&
	    r.n >= (uint32_t) p->history &&
	    (long long) r.count >= p->minimum &&
	    (double) r.count > (double) p->factor * r.mean) {
		r.alarmed = 1;
		verdict = ACCOUNT_ALARM;
		if (p->hold) {
			r.held_since = (int64_t) now;
			r.held_count = r.count;
			r.held_usual = r.mean;
			r.hooked = 0;
		}
	}
	if (rec_r != NULL)
		*rec_r = r;
	/* Counted while the record is locked: no release can slip in. */
	if (verdict == ACCOUNT_ALARM && p->hold &&
	    account_header_add(fd, 1) < 0) {
		*error_r = xasprintf("account store: header: %s",
		    strerror(errno));
		(void) account_done(fd, i, &r, error_r);
		return -1;
	}
	return account_done(fd, i, &r, error_r) < 0 ? -1 : verdict;
}

int
account_get(int fd, const char *login, struct account_rec *rec_r,
	char **error_r)
{
	long i = account_find(fd, login, 0, rec_r, error_r);

	if (i < 0)
		return -1;
	if (i == ACCOUNT_SLOTS)
		return 0;
	(void) account_done(fd, i, NULL, error_r);
	return 1;
}

int
account_release(int fd, const char *login, char **error_r)
{
	struct account_rec r;
	long i = account_find(fd, login, 0, &r, error_r);
	int was;

	if (i < 0)
		return -1;
	if (i == ACCOUNT_SLOTS)
		return 0;
	was = r.held_since != 0;
	r.held_since = 0;
	r.held_count = 0;
	r.held_usual = 0;
	/* The window goes on, counted from the release. */
	r.count = 0;
	r.alarmed = 0;
	if (account_done(fd, i, &r, error_r) < 0)
		return -1;
	if (was && account_header_add(fd, -1) < 0) {
		*error_r = xasprintf("account store: header: %s",
		    strerror(errno));
		return -1;
	}
	return was;
}

int
account_set_hooked(int fd, const char *login, int64_t held_since,
	char **error_r)
{
	struct account_rec r;
	long i = account_find(fd, login, 0, &r, error_r);

	if (i < 0)
		return -1;
	if (i == ACCOUNT_SLOTS)
		return 0;
	if (r.held_since == 0 || r.held_since != held_since || r.hooked) {
		(void) account_done(fd, i, NULL, error_r);
		return 0;
	}
	r.hooked = 1;
	return account_done(fd, i, &r, error_r) < 0 ? -1 : 1;
}

int
account_nth(int fd, unsigned i, struct account_rec *rec_r, char **error_r)
{
	if (i >= ACCOUNT_SLOTS || account_lock(fd, i, F_RDLCK) < 0 ||
	    account_read(fd, i, rec_r) < 0) {
		*error_r = xasprintf("account store: record %u: %s", i,
		    strerror(errno));
		if (i < ACCOUNT_SLOTS)
			(void) account_lock(fd, i, F_UNLCK);
		return -1;
	}
	(void) account_lock(fd, i, F_UNLCK);
	return rec_r->login[0] != '\0';
}

/* An older store just got its header: count the held records. */
static int
account_header_recount(int fd)
{
	struct account_header h;
	struct account_rec r;
	unsigned i;

	memset(&h, 0, sizeof(h));
	if (account_lock_range(fd, ACCOUNT_RECORDS_SIZE, sizeof(h),
	    F_WRLCK) < 0)
		return -1;
	for (i = 0; i < ACCOUNT_SLOTS; i++) {
		if (account_read(fd, i, &r) == 0 && r.login[0] != '\0' &&
		    r.held_since != 0)
			h.held++;
	}
	i = pwrite(fd, &h, sizeof(h), ACCOUNT_RECORDS_SIZE) ==
	    (ssize_t) sizeof(h);
	(void) account_lock_range(fd, ACCOUNT_RECORDS_SIZE, sizeof(h),
	    F_UNLCK);
	return i ? 0 : -1;
}

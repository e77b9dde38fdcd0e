/*
 * dotlock: breakable NFS-safe dot-lock files; see dotlock.h.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dotlock.h"
#include "log.h"
#include "xalloc.h"

/* Poll intervals while waiting: start short, back off to this. */
#define DOTLOCK_POLL_MIN_MS 5
#define DOTLOCK_POLL_MAX_MS 200

struct dotlock {
	char *lock_path;
	/*
	 * What we wrote into the lock: identity by content, because a
	 * broken and retaken lock may well get our freed inode number.
	 */
	char *token;
};

static void
dotlock_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static double
dotlock_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/*
 * One attempt: 1 taken, 0 held by someone else, -1 error.  The unique
 * file is removed in every case, so a crash leaves at most the lock.
 */
static int
dotlock_try(struct dotlock *lock, const char *unique, char **error_r)
{
	size_t len = strlen(lock->token);
	int fd, linked, saved;

	fd = open(unique, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		*error_r = xasprintf("create %s: %s", unique, strerror(errno));
		return -1;
	}
	if (write(fd, lock->token, len) != (ssize_t) len) {
		saved = errno;
		close(fd);
		(void) unlink(unique);
		*error_r = xasprintf("write %s: %s", unique, strerror(saved));
		return -1;
	}
	close(fd);
	linked = link(unique, lock->lock_path) == 0;
	saved = errno;
	if (!linked && saved != EEXIST) {
		/* NFS: the link may have worked though the reply was lost. */
		struct stat again;

		if (stat(unique, &again) == 0 && again.st_nlink == 2)
			linked = 1;
	}
	(void) unlink(unique);
	if (linked)
		return 1;
	if (saved == EEXIST)
		return 0;
	*error_r = xasprintf("link %s: %s", lock->lock_path, strerror(saved));
	return -1;
}

/* Remove the lock file when it is older than stale seconds. */
static void
dotlock_break_stale(const struct dotlock *lock, int stale)
{
	struct stat st;
	time_t now = time(NULL);

	if (stat(lock->lock_path, &st) < 0)
		return;
	if (now - st.st_mtime < stale)
		return;
	if (unlink(lock->lock_path) == 0)
		log_warn("broke stale lock %s (%lld s old)", lock->lock_path,
		    (long long) (now - st.st_mtime));
}

int
dotlock_take(const char *path, int timeout, int stale,
	struct dotlock **lock_r, char **error_r)
{
	static unsigned int counter;
	struct dotlock *lock;
	char host[256];
	char *unique;
	double deadline = dotlock_now() + timeout;
	long poll_ms = DOTLOCK_POLL_MIN_MS;
	int rc;

	if (gethostname(host, sizeof(host)) < 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	lock = xcalloc(1, sizeof(*lock));
	lock->lock_path = xasprintf("%s.lock", path);
	lock->token = xasprintf("%s.%ld.%u.%ld", host, (long) getpid(),
	    counter++, (long) time(NULL));
	unique = xasprintf("%s.lock.%s", path, lock->token);
	for (;;) {
		rc = dotlock_try(lock, unique, error_r);
		if (rc != 0)
			break;
		dotlock_break_stale(lock, stale);
		if (dotlock_now() >= deadline)
			break;
		dotlock_sleep_ms(poll_ms);
		if (poll_ms < DOTLOCK_POLL_MAX_MS)
			poll_ms *= 2;
	}
	free(unique);
	if (rc == 1) {
		*lock_r = lock;
		return 1;
	}
	free(lock->lock_path);
	free(lock->token);
	free(lock);
	return rc;
}

/* Is the lock file still the one we made? */
static int
dotlock_is_ours(const struct dotlock *lock)
{
	size_t len = strlen(lock->token);
	char *content = xmalloc(len + 1);
	ssize_t n;
	int fd, ours;

	fd = open(lock->lock_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		free(content);
		return 0;
	}
	/* One byte more than ours: a longer token is someone else's. */
	n = read(fd, content, len + 1);
	close(fd);
	ours = n == (ssize_t) len && memcmp(content, lock->token, len) == 0;
	free(content);
	return ours;
}

void
dotlock_release(struct dotlock **lockp)
{
	struct dotlock *lock = *lockp;

	if (lock == NULL)
		return;
	*lockp = NULL;
	if (dotlock_is_ours(lock)) {
		if (unlink(lock->lock_path) < 0)
			log_warn("remove lock %s: %m", lock->lock_path);
	} else {
		log_warn("lock %s was broken while we held it",
		    lock->lock_path);
	}
	free(lock->lock_path);
	free(lock->token);
	free(lock);
}

const char *
dotlock_path(const struct dotlock *lock)
{
	return lock->lock_path;
}

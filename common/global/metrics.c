/* metrics: shared-memory counter files, updated with atomics, read merged. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "hash.h"
#include "log.h"
#include "mail_params.h"
#include "metrics.h"
#include "xalloc.h"

#define METRICS_MAGIC 0x69736d6dU	/* "ismm" */
#define METRICS_VERSION 1U
#define METRICS_FREE 0U
#define METRICS_CLAIMING 1U
#define METRICS_READY 2U
/* How long a lookup waits for another process to finish a claim. */
#define METRICS_CLAIM_SPINS 10000
/* Files a reader merges at most (one per service user). */
#define METRICS_FILES_MAX 256

/* One series: 256 bytes, so slots never share a cache line's tail. */
struct metrics_slot {
	uint32_t state;
	uint32_t kind;
	int64_t value;
	uint32_t hash;
	uint32_t reserved;
	char key[METRICS_KEY_MAX + 1];
};

struct metrics_header {
	uint32_t magic;
	uint32_t version;
	uint32_t slots;
	uint32_t slot_size;
	uint64_t dropped;
	char reserved[256 - 24];
};

struct metrics_file {
	struct metrics_header header;
	struct metrics_slot slot[METRICS_SLOTS];
};

static struct metrics_file *metrics_map;
static int metrics_open_failed;
/* A process may count from threads (imapd's directory lookups). */
static pthread_mutex_t metrics_open_lock = PTHREAD_MUTEX_INITIALIZER;

static int
metrics_name_valid(const char *name, int colon_ok)
{
	const char *p;

	if (name == NULL || *name == '\0' || (*name >= '0' && *name <= '9'))
		return 0;
	for (p = name; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
		    || (*p >= '0' && *p <= '9') || *p == '_'
		    || (colon_ok && *p == ':')))
			return 0;
	return p - name <= 100;
}

static int
metrics_file_valid(const struct metrics_file *f)
{
	return f->header.magic == METRICS_MAGIC
	    && f->header.version == METRICS_VERSION
	    && f->header.slots == METRICS_SLOTS
	    && f->header.slot_size == sizeof(struct metrics_slot);
}

/* Map path read-write; an empty (new) file gets its header. */
static struct metrics_file *
metrics_map_fd(int fd, const char *path, char **error_r)
{
	struct metrics_file *f;
	struct stat st;

	if (fstat(fd, &st) < 0) {
		*error_r = xasprintf("stat %s: %s", path, strerror(errno));
		return NULL;
	}
	if (st.st_size != 0 && st.st_size != sizeof(struct metrics_file)) {
		*error_r = xasprintf("%s: not a metrics file", path);
		return NULL;
	}
	/*
	 * Blocks for every page now, not at the first store into a hole: on
	 * a full file system (the queue's, when it fills up) that store
	 * would be a SIGBUS in whichever daemon counted first.
	 */
	errno = posix_fallocate(fd, 0, (off_t) sizeof(struct metrics_file));
	if (errno != 0) {
		*error_r = xasprintf("allocate %s: %s", path, strerror(errno));
		return NULL;
	}
	f = mmap(NULL, sizeof(*f), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (f == MAP_FAILED) {
		*error_r = xasprintf("mmap %s: %s", path, strerror(errno));
		return NULL;
	}
	if (f->header.magic == 0) {
		f->header.version = METRICS_VERSION;
		f->header.slots = METRICS_SLOTS;
		f->header.slot_size = sizeof(struct metrics_slot);
		__atomic_store_n(&f->header.magic, METRICS_MAGIC,
		    __ATOMIC_RELEASE);
	}
	if (!metrics_file_valid(f)) {
		(void) munmap(f, sizeof(*f));
		*error_r = xasprintf("%s: not a metrics file", path);
		return NULL;
	}
	return f;
}

int
metrics_open_file(const char *path, char **error_r)
{
	struct metrics_file *f;
	int fd;

	if (metrics_map != NULL)
		return 0;
	/* Not O_CREAT: only the master creates, so nobody plants one. */
	fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		*error_r = xasprintf("open %s: %s", path, strerror(errno));
		return -1;
	}
	f = metrics_map_fd(fd, path, error_r);
	(void) close(fd);
	if (f == NULL)
		return -1;
	__atomic_store_n(&metrics_map, f, __ATOMIC_RELEASE);
	return 0;
}

int
metrics_open(void)
{
	char *path, *error = NULL;
	int rc;

	if (__atomic_load_n(&metrics_map, __ATOMIC_ACQUIRE) != NULL)
		return 0;
	(void) pthread_mutex_lock(&metrics_open_lock);
	if (metrics_map != NULL || metrics_open_failed ||
	    var_queue_directory == NULL) {
		rc = metrics_map != NULL ? 0 : -1;
		(void) pthread_mutex_unlock(&metrics_open_lock);
		return rc;
	}
	path = xasprintf("%s/%s/%u.shm", var_queue_directory, METRICS_DIR,
	    (unsigned) geteuid());
	rc = metrics_open_file(path, &error);
	if (rc < 0) {
		/* Once: a process without its file just does not count. */
		log_warn("metrics disabled: %s", error);
		free(error);
		metrics_open_failed = 1;
	}
	free(path);
	(void) pthread_mutex_unlock(&metrics_open_lock);
	return rc;
}

int
metrics_prepare(const char *dir, const char *file, unsigned uid,
	unsigned gid, int reset, char **error_r)
{
	struct metrics_file *f;
	char *path;
	int fd, dfd;

	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		*error_r = xasprintf("create %s: %s", dir, strerror(errno));
		return -1;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		*error_r = xasprintf("open %s: %s", dir, strerror(errno));
		return -1;
	}
	path = xstrdup(file);
	fd = openat(dfd, path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC
	    | (reset ? O_TRUNC : 0), 0644);
	(void) close(dfd);
	if (fd < 0) {
		*error_r = xasprintf("open %s/%s: %s", dir, path,
		    strerror(errno));
		free(path);
		return -1;
	}
	/* Root owns nothing a service writes: hand the file to its user. */
	if (geteuid() == 0 && fchown(fd, (uid_t) uid, (gid_t) gid) < 0) {
		*error_r = xasprintf("chown %s/%s: %s", dir, path,
		    strerror(errno));
		(void) close(fd);
		free(path);
		return -1;
	}
	f = metrics_map_fd(fd, path, error_r);
	(void) close(fd);
	free(path);
	if (f == NULL)
		return -1;
	(void) munmap(f, sizeof(*f));
	return 0;
}

/* The slot of key, claimed when new; NULL when the table is full. */
static struct metrics_slot *
metrics_slot_find(const char *key, enum metrics_kind kind)
{
	uint32_t hash = fnv1a32(key), i, state;
	struct metrics_slot *slot;
	int spins;

	for (i = 0; i < METRICS_SLOTS; i++) {
		slot = &metrics_map->slot[(hash + i) % METRICS_SLOTS];
		state = __atomic_load_n(&slot->state, __ATOMIC_ACQUIRE);
		if (state == METRICS_FREE) {
			uint32_t expected = METRICS_FREE;

			if (__atomic_compare_exchange_n(&slot->state,
			    &expected, METRICS_CLAIMING, 0, __ATOMIC_ACQ_REL,
			    __ATOMIC_ACQUIRE)) {
				memcpy(slot->key, key, strlen(key) + 1);
				slot->hash = hash;
				slot->kind = (uint32_t) kind;
				__atomic_store_n(&slot->state, METRICS_READY,
				    __ATOMIC_RELEASE);
				return slot;
			}
			state = expected;
		}
		/*
		 * Another process is writing this slot's key: wait a little.
		 * One that died mid-claim leaves the slot unused; the series
		 * then takes a later slot (readers merge by key).
		 */
		for (spins = 0; state == METRICS_CLAIMING
		    && spins < METRICS_CLAIM_SPINS; spins++)
			state = __atomic_load_n(&slot->state,
			    __ATOMIC_ACQUIRE);
		if (state == METRICS_READY && slot->hash == hash
		    && strcmp(slot->key, key) == 0)
			return slot;
	}
	return NULL;
}

static void
metrics_dropped(void)
{
	__atomic_fetch_add(&metrics_map->header.dropped, 1, __ATOMIC_RELAXED);
}

/*
 * Append the label pairs of ap to key ("a=\"x\",b=\"y\""), escaped.
 * 0 ok, -1 for a bad label name or a key past the cap.
 */
static int
metrics_labels(struct buf *key, va_list ap)
{
	const char *label, *value;
	size_t i;
	int first = 1;

	while ((label = va_arg(ap, const char *)) != NULL) {
		value = va_arg(ap, const char *);
		if (!metrics_name_valid(label, 0) || value == NULL)
			return -1;
		if (buf_printf(key, "%s%s=\"", first ? "" : ",", label) < 0)
			return -1;
		first = 0;
		for (i = 0; value[i] != '\0' && i < METRICS_VALUE_MAX; i++) {
			unsigned char c = (unsigned char) value[i];
			int rc;

			if (c == '\\' || c == '"')
				rc = buf_printf(key, "\\%c", c);
			else if (c < 0x20 || c >= 0x7f)
				rc = buf_append_char(key, '?');
			else
				rc = buf_append_char(key, (char) c);
			if (rc < 0)
				return -1;
		}
		if (buf_append_char(key, '"') < 0)
			return -1;
	}
	return 0;
}

/*
 * The series key "name{labels}" into key: suffix appended to name,
 * labels the escaped pairs (metrics_labels), extra one more label (both
 * may be empty); -1 when it cannot be built.
 */
static int
metrics_key(struct buf *key, const char *name, const char *suffix,
	const char *extra, const struct buf *labels)
{
	buf_reset(key);
	if (!metrics_name_valid(name, 1) || buf_append_str(key, name) < 0
	    || buf_append_str(key, suffix) < 0)
		return -1;
	if (buf_len(labels) == 0 && extra == NULL)
		return 0;
	if (buf_append_char(key, '{') < 0
	    || buf_append(key, buf_cstr(labels), buf_len(labels)) < 0)
		return -1;
	if (extra != NULL && ((buf_len(labels) > 0
	    && buf_append_char(key, ',') < 0)
	    || buf_append_str(key, extra) < 0))
		return -1;
	return buf_append_char(key, '}');
}

/* Add n to (or set) the series key; ok 0 (no key) or a full table drops. */
static void
metrics_apply(const struct buf *key, int ok, enum metrics_kind kind,
	long long n, int set)
{
	struct metrics_slot *slot;

	if (!ok || (slot = metrics_slot_find(buf_cstr(key), kind)) == NULL)
		metrics_dropped();
	else if (set)
		__atomic_store_n(&slot->value, n, __ATOMIC_RELAXED);
	else
		__atomic_fetch_add(&slot->value, n, __ATOMIC_RELAXED);
}

static void
metrics_update(const char *name, enum metrics_kind kind, long long n,
	int set, va_list ap)
{
	struct buf *labels, *key;

	if (metrics_open() < 0)
		return;
	labels = buf_new(METRICS_KEY_MAX);
	key = buf_new(METRICS_KEY_MAX);
	metrics_apply(key, metrics_labels(labels, ap) == 0 &&
	    metrics_key(key, name, "", NULL, labels) == 0, kind, n, set);
	buf_free(&key);
	buf_free(&labels);
}

void
metrics_inc(const char *name, ...)
{
	va_list ap;

	va_start(ap, name);
	metrics_update(name, METRICS_KIND_COUNTER, 1, 0, ap);
	va_end(ap);
}

void
metrics_add(const char *name, unsigned long long n, ...)
{
	va_list ap;

	va_start(ap, n);
	metrics_update(name, METRICS_KIND_COUNTER, (long long) n, 0, ap);
	va_end(ap);
}

void
metrics_set(const char *name, long long value, ...)
{
	va_list ap;

	va_start(ap, value);
	metrics_update(name, METRICS_KIND_GAUGE, value, 1, ap);
	va_end(ap);
}

static const double metrics_bounds[] = METRICS_BUCKETS;
#define METRICS_BOUNDS (sizeof(metrics_bounds) / sizeof(metrics_bounds[0]))
/* The le="..." labels, made once (a directory lookup observes). */
static char metrics_labels_le[METRICS_BOUNDS + 1][32];
static pthread_once_t metrics_labels_le_once = PTHREAD_ONCE_INIT;

static void
metrics_labels_le_make(void)
{
	size_t i;

	for (i = 0; i < METRICS_BOUNDS; i++)
		(void) snprintf(metrics_labels_le[i],
		    sizeof(metrics_labels_le[i]), "le=\"%g\"",
		    metrics_bounds[i]);
	(void) snprintf(metrics_labels_le[i], sizeof(metrics_labels_le[i]),
	    "le=\"+Inf\"");
}

void
metrics_observe(const char *name, double seconds, ...)
{
	const double *bounds = metrics_bounds;
	char (*labels_le)[32] = metrics_labels_le;
	struct buf *labels, *key;
	va_list ap;
	size_t i;
	int ok;

	if (metrics_open() < 0)
		return;
	(void) pthread_once(&metrics_labels_le_once, metrics_labels_le_make);
	if (!(seconds >= 0))
		seconds = 0;
	/* The labels once, for every series of the observation. */
	labels = buf_new(METRICS_KEY_MAX);
	key = buf_new(METRICS_KEY_MAX);
	va_start(ap, seconds);
	ok = metrics_labels(labels, ap) == 0;
	va_end(ap);
	/* Cumulative: an observation counts in every bucket it fits. */
	for (i = 0; i <= METRICS_BOUNDS; i++) {
		if (i < METRICS_BOUNDS && seconds > bounds[i])
			continue;
		metrics_apply(key, ok && metrics_key(key, name, "_bucket",
		    labels_le[i], labels) == 0, METRICS_KIND_HISTOGRAM, 1, 0);
	}
	metrics_apply(key, ok && metrics_key(key, name, "_count", NULL,
	    labels) == 0, METRICS_KIND_HISTOGRAM, 1, 0);
	metrics_apply(key, ok && metrics_key(key, name, "_sum", NULL,
	    labels) == 0, METRICS_KIND_HISTOGRAM_SUM, seconds > 1e9 ?
	    (long long) 1e15 : (long long) (seconds * 1e6), 0);
	buf_free(&key);
	buf_free(&labels);
#undef METRICS_BOUNDS
}

const char *
metrics_result(int rc)
{
	return rc > 0 ? "ok" : rc == 0 ? "failed" : "error";
}

const char *
metrics_dsn_label(const char *dsn)
{
	size_t i, digits = 0, dots = 0;

	if (dsn == NULL || (dsn[0] != '2' && dsn[0] != '4' && dsn[0] != '5'))
		return "other";
	for (i = 0; dsn[i] != '\0'; i++) {
		if (dsn[i] == '.') {
			if (digits == 0 || ++dots > 2)
				return "other";
			digits = 0;
		} else if (dsn[i] >= '0' && dsn[i] <= '9' && digits < 3) {
			digits++;
		} else {
			return "other";
		}
	}
	return dots == 2 && digits > 0 ? dsn : "other";
}

size_t
metrics_key_family(const char *key, char *name_r, size_t size)
{
	size_t len = strcspn(key, "{");

	if (len >= size)
		len = size - 1;
	memcpy(name_r, key, len);
	name_r[len] = '\0';
	return len;
}

/* One series a reader collected. */
struct metrics_series {
	char key[METRICS_KEY_MAX + 1];
	enum metrics_kind kind;
	long long value;
};

static int
metrics_series_cmp(const void *a, const void *b)
{
	return strcmp(((const struct metrics_series *) a)->key,
	    ((const struct metrics_series *) b)->key);
}

/* Add the ready slots of the file at dir/name to the array. */
static void
metrics_collect(int dfd, const char *name, struct metrics_series **all,
	size_t *count, size_t *alloc, long long *dropped)
{
	struct metrics_file *f;
	const struct metrics_slot *slot;
	struct stat st;
	size_t i;
	int fd;

	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)
	    || st.st_size != sizeof(struct metrics_file)) {
		(void) close(fd);
		return;
	}
	f = mmap(NULL, sizeof(*f), PROT_READ, MAP_SHARED, fd, 0);
	(void) close(fd);
	if (f == MAP_FAILED)
		return;
	if (!metrics_file_valid(f)) {
		(void) munmap(f, sizeof(*f));
		return;
	}
	*dropped += (long long) __atomic_load_n(&f->header.dropped,
	    __ATOMIC_RELAXED);
	for (i = 0; i < METRICS_SLOTS; i++) {
		struct metrics_series *s;

		slot = &f->slot[i];
		if (__atomic_load_n(&slot->state, __ATOMIC_ACQUIRE)
		    != METRICS_READY)
			continue;
		/* Doubling: a full file is 4096 series of 256 bytes. */
		if (*count == *alloc) {
			*alloc = *alloc == 0 ? METRICS_SLOTS : *alloc * 2;
			*all = xreallocarray(*all, *alloc, sizeof(**all));
		}
		s = &(*all)[(*count)++];
		memcpy(s->key, slot->key, sizeof(s->key));
		s->key[METRICS_KEY_MAX] = '\0';
		s->kind = (enum metrics_kind) slot->kind;
		s->value = __atomic_load_n(&slot->value, __ATOMIC_RELAXED);
	}
	(void) munmap(f, sizeof(*f));
}

int
metrics_read_dir(const char *dir, metrics_series_fn *fn, void *ctx,
	char **error_r)
{
	struct metrics_series *all = NULL;
	size_t count = 0, alloc = 0, i, out = 0, files = 0;
	long long dropped = 0;
	struct dirent *de;
	DIR *dp;

	if ((dp = opendir(dir)) == NULL) {
		*error_r = xasprintf("open %s: %s", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(dp)) != NULL && files < METRICS_FILES_MAX) {
		size_t len = strlen(de->d_name);

		if (de->d_name[0] == '.' || len < 5
		    || strcmp(de->d_name + len - 4, ".shm") != 0)
			continue;
		files++;
		metrics_collect(dirfd(dp), de->d_name, &all, &count, &alloc,
		    &dropped);
	}
	closedir(dp);
	if (count > 0)
		qsort(all, count, sizeof(*all), metrics_series_cmp);
	/* Merge equal keys: several users, or a slot left mid-claim. */
	for (i = 0; i < count; i++) {
		if (out > 0 && strcmp(all[out - 1].key, all[i].key) == 0) {
			all[out - 1].value += all[i].value;
			continue;
		}
		all[out++] = all[i];
	}
	for (i = 0; i < out; i++)
		fn(all[i].key, all[i].kind, all[i].value, ctx);
	fn("ispmail_metrics_dropped_total", METRICS_KIND_COUNTER, dropped,
	    ctx);
	free(all);
	return (int) out + 1;
}

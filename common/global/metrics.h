/*
 * metrics: counters that outlive the process that counts them.
 *
 * Every process adds to a table of named series in a shared memory file,
 * metrics/UID.shm under queue_directory, one file per user id (the master
 * creates them, owned by each service's user; see ispmail-metrics(5)).
 * An update is a hash, a compare and one atomic add in that mapping: no
 * system call, no round trip, no lock.  Because the counts live in a file
 * mapping, a daemon that crashes or is restarted by the master loses
 * nothing it counted; readers (ispmailctl metrics, ispmail-metricsd) sum
 * the same series over every file, so many processes and users may count
 * the same thing.
 *
 * Use (one call per event; nothing to set up, nothing to check):
 *
 *	metrics_inc("ispmail_smtpd_rejects_total", "reason", "relay", NULL);
 *	metrics_add("ispmail_smtpd_bytes_total", size, NULL);
 *	metrics_observe("ispmail_filter_scan_seconds", 0.120,
 *	    "filter", "spamd", NULL);
 *
 * name is a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*); counters
 * end in _total.  It is followed by label name/value pairs and a NULL.
 * Label values may come from clients: control bytes and non-ASCII become
 * '?', they are cut at METRICS_VALUE_MAX bytes and escaped for the
 * exposition format, so they cannot break the output.  Keep label values
 * from a small set (reasons, results, protocols), never addresses: each
 * distinct series takes one of METRICS_SLOTS slots for good.
 *
 * Failures never reach the caller: a bad name or label, a series that
 * does not fit METRICS_KEY_MAX, a full table or a missing file is counted
 * in the file's dropped counter (or logged once when there is no file) and
 * the event is otherwise ignored.  Mail is never delayed by a metric.
 *
 * Histograms (metrics_observe) keep cumulative buckets in seconds,
 * METRICS_BUCKETS below, plus _sum and _count, as Prometheus expects.
 */
#ifndef ISPMAIL_METRICS_H
#define ISPMAIL_METRICS_H

#include <stddef.h>

/* Slots per file; each holds one series. */
#define METRICS_SLOTS 4096
/* The longest series key: name{label="value",...}. */
#define METRICS_KEY_MAX 231
/* The longest label value kept. */
#define METRICS_VALUE_MAX 64
/* The directory under queue_directory. */
#define METRICS_DIR "metrics"
/* The histogram bucket bounds, in seconds (+Inf is implied). */
#define METRICS_BUCKETS \
	{ 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 }

/* A counter series: add 1, or n. */
void metrics_inc(const char *name, ...) __attribute__((sentinel));
void metrics_add(const char *name, unsigned long long n, ...)
	__attribute__((sentinel));
/* A histogram in seconds: one observation. */
void metrics_observe(const char *name, double seconds, ...)
	__attribute__((sentinel));
/* A gauge series (the master's service table): set to value. */
void metrics_set(const char *name, long long value, ...)
	__attribute__((sentinel));

/*
 * Open the file for the process's effective uid now (otherwise the first
 * update does).  A daemon that chroots calls it before; 0 ok, -1 (logged
 * once, updates ignored).
 */
int metrics_open(void);

/*
 * For the master: create dir (mode 0755) and dir/file (mode 0644), owned
 * by uid:gid when running as root.  A service user's file is "UID.shm";
 * the master's own gauges live in METRICS_MASTER_FILE, made with reset
 * (empty) at each start.  0 ok; -1 with *error_r (caller frees).
 */
#define METRICS_MASTER_FILE "master.shm"
int metrics_prepare(const char *dir, const char *file, unsigned uid,
	unsigned gid, int reset, char **error_r);
/* For the master: map path (made by metrics_prepare) for its updates. */
int metrics_open_file(const char *path, char **error_r);

/*
 * For readers: every series of every file in dir, summed by key, one
 * callback per series in key order.  kind: METRICS_KIND_*; value is the
 * sum (for a histogram _sum, in microseconds).  Returns the number of
 * series, or -1 with *error_r (caller frees) when dir cannot be read.
 */
enum metrics_kind {
	METRICS_KIND_COUNTER = 1,
	METRICS_KIND_GAUGE = 2,
	METRICS_KIND_HISTOGRAM = 3,	/* a _bucket or _count series */
	METRICS_KIND_HISTOGRAM_SUM = 4,	/* _sum, in microseconds */
};
typedef void metrics_series_fn(const char *key, enum metrics_kind kind,
	long long value, void *ctx);
int metrics_read_dir(const char *dir, metrics_series_fn *fn, void *ctx,
	char **error_r);

/* A tri-state result (1, 0, -1) as a label value: ok, failed, error. */
const char *metrics_result(int rc);

/*
 * An enhanced status code ("4.4.1") from a peer as a label value: itself
 * when it has that shape, else "other", so the series stay few.
 */
const char *metrics_dsn_label(const char *dsn);

/* The family name of a key: the part before '{', written to name_r. */
size_t metrics_key_family(const char *key, char *name_r, size_t size);

#endif

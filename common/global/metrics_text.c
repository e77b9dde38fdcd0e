/* metrics_text: counters, gauges and queue ages as Prometheus text. */
#include "config.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "metrics.h"
#include "metrics_text.h"
#include "qfile.h"
#include "xalloc.h"

struct metrics_text {
	struct buf *out;
	char family[METRICS_KEY_MAX + 1];	/* the last # TYPE written */
	int failed;
};

/* Printable ASCII and a metric name before any '{'. */
static int
metrics_text_key_ok(const char *key)
{
	const char *p;

	if (*key == '\0' || (*key >= '0' && *key <= '9'))
		return 0;
	for (p = key; *p != '\0' && *p != '{'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
		    || (*p >= '0' && *p <= '9') || *p == '_' || *p == ':'))
			return 0;
	if (*p == '{' && p[strlen(p) - 1] != '}')
		return 0;
	for (; *p != '\0'; p++)
		if ((unsigned char) *p < 0x20 || (unsigned char) *p >= 0x7f)
			return 0;
	return 1;
}

/* name without a histogram suffix, into family. */
static void
metrics_text_family(const char *key, enum metrics_kind kind, char *family,
	size_t size)
{
	static const char *const suffixes[] = { "_bucket", "_count", "_sum" };
	size_t len = metrics_key_family(key, family, size), i, sl;

	if (kind != METRICS_KIND_HISTOGRAM
	    && kind != METRICS_KIND_HISTOGRAM_SUM)
		return;
	for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		sl = strlen(suffixes[i]);
		if (len > sl && strcmp(family + len - sl, suffixes[i]) == 0) {
			family[len - sl] = '\0';
			return;
		}
	}
}

static void
metrics_text_series(const char *key, enum metrics_kind kind, long long value,
	void *ctx)
{
	struct metrics_text *mt = ctx;
	char family[METRICS_KEY_MAX + 1];
	const char *type;
	size_t len;
	int rc = 0;

	if (!metrics_text_key_ok(key))
		return;
	metrics_text_family(key, kind, family, sizeof(family));
	len = strlen(family);
	if (strcmp(family, mt->family) != 0) {
		/* The master sets its running counts: counters all the same. */
		type = kind == METRICS_KIND_HISTOGRAM
		    || kind == METRICS_KIND_HISTOGRAM_SUM ? "histogram"
		    : kind == METRICS_KIND_COUNTER || (len > 6
		    && strcmp(family + len - 6, "_total") == 0) ? "counter"
		    : "gauge";
		rc |= buf_printf(mt->out, "# TYPE %s %s\n", family, type);
		memcpy(mt->family, family, len + 1);
	}
	if (kind == METRICS_KIND_HISTOGRAM_SUM)
		rc |= buf_printf(mt->out, "%s %lld.%06lld\n", key,
		    value / 1000000, value % 1000000);
	else
		rc |= buf_printf(mt->out, "%s %lld\n", key, value);
	if (rc != 0)
		mt->failed = 1;
}

/*
 * Count the queue files under dir (hashed up to two levels) and find the
 * oldest arrival.
 */
static void
metrics_text_queue_scan(const char *dir, int depth, long long *count,
	long long *oldest)
{
	struct dirent *de;
	long long t;
	char *path;
	DIR *dp;

	if ((dp = opendir(dir)) == NULL)
		return;
	while ((de = readdir(dp)) != NULL
	    && *count < METRICS_TEXT_QUEUE_SCAN_MAX) {
		if (de->d_name[0] == '.')
			continue;
		if (de->d_type == DT_DIR && depth < 2) {
			path = xasprintf("%s/%s", dir, de->d_name);
			metrics_text_queue_scan(path, depth + 1, count, oldest);
			free(path);
		} else if ((t = qfile_id_time(de->d_name)) >= 0) {
			(*count)++;
			if (*oldest < 0 || t < *oldest)
				*oldest = t;
		}
	}
	closedir(dp);
}

static int
metrics_text_queues(struct buf *out, const char *queue_dir, time_t now)
{
	static const char *const queues[] = {
		QFILE_INCOMING, QFILE_ACTIVE, QFILE_DEFERRED, QFILE_HOLD,
		QFILE_CORRUPT,
	};
	long long count[sizeof(queues) / sizeof(queues[0])];
	long long oldest[sizeof(queues) / sizeof(queues[0])];
	size_t i;
	char *dir;
	int rc = 0;

	for (i = 0; i < sizeof(queues) / sizeof(queues[0]); i++) {
		count[i] = 0;
		oldest[i] = -1;
		dir = xasprintf("%s/%s", queue_dir, queues[i]);
		metrics_text_queue_scan(dir, 0, &count[i], &oldest[i]);
		free(dir);
	}
	rc |= buf_printf(out, "# TYPE ispmail_queue_messages gauge\n");
	for (i = 0; i < sizeof(queues) / sizeof(queues[0]); i++)
		rc |= buf_printf(out, "ispmail_queue_messages{queue=\"%s\"} "
		    "%lld\n", queues[i], count[i]);
	rc |= buf_printf(out, "# TYPE ispmail_queue_oldest_age_seconds "
	    "gauge\n");
	for (i = 0; i < sizeof(queues) / sizeof(queues[0]); i++)
		rc |= buf_printf(out, "ispmail_queue_oldest_age_seconds{queue="
		    "\"%s\"} %lld\n", queues[i], oldest[i] < 0
		    || oldest[i] > (long long) now ? 0
		    : (long long) now - oldest[i]);
	return rc != 0 ? -1 : 0;
}

int
metrics_text_render(struct buf *out, const char *queue_dir, time_t now,
	char **error_r)
{
	struct metrics_text mt;
	char *dir;
	int rc;

	memset(&mt, 0, sizeof(mt));
	mt.out = out;
	dir = xasprintf("%s/%s", queue_dir, METRICS_DIR);
	rc = metrics_read_dir(dir, metrics_text_series, &mt, error_r);
	free(dir);
	if (rc < 0)
		return -1;
	if (mt.failed || metrics_text_queues(out, queue_dir, now) < 0) {
		*error_r = xasprintf("metrics text passes %zu bytes",
		    buf_cap(out));
		return -1;
	}
	return 0;
}

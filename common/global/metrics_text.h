/*
 * metrics_text: the Prometheus text exposition (format 0.0.4) of an
 * instance, the one rendering ispmailctl metrics and ispmail-metricsd
 * share.
 *
 * It holds every series of the counter files (metrics.h) with a # TYPE
 * line per family, the master's service gauges among them, and the queue
 * read from the directory: ispmail_queue_messages{queue} and
 * ispmail_queue_oldest_age_seconds{queue} (the age from the arrival time
 * in the oldest queue id).  Series keys read from a file are checked
 * again (printable ASCII, a valid name), since another user's process
 * wrote them.  The output is capped at METRICS_TEXT_MAX bytes; queue
 * scans stop at METRICS_TEXT_QUEUE_SCAN_MAX files a queue (the count then
 * says "at least").
 */
#ifndef ISPMAIL_METRICS_TEXT_H
#define ISPMAIL_METRICS_TEXT_H

#include <time.h>

struct buf;

#define METRICS_TEXT_MAX (8 * 1024 * 1024)
#define METRICS_TEXT_QUEUE_SCAN_MAX 1000000

/*
 * Append the exposition for queue_dir to out (now: the clock for ages).
 * 0 ok; -1 with *error_r (caller frees) when the counter directory cannot
 * be read or out's cap is passed.
 */
int metrics_text_render(struct buf *out, const char *queue_dir, time_t now,
	char **error_r);

#endif

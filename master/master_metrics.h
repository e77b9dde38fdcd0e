/*
 * master_metrics: the master's side of the shared counters (metrics.h).
 *
 * At start and after each reload the master creates queue_directory/
 * metrics/ and one counter file per service user (UID.shm, owned by that
 * user, so no user can change another's counts; files are never
 * truncated, so counts survive every restart of a daemon and of the
 * master).  Its own file, master.shm, starts empty each time and holds
 * the per-service gauges ispmailctl status shows: busy, idle, maxproc,
 * cap hits, crashes, spawns, throttled, stress events, refreshed at most
 * once a second from the loop.
 */
#ifndef ISPMAIL_MASTER_METRICS_H
#define ISPMAIL_MASTER_METRICS_H

struct master_conf;

/* Create the directory and files for conf's users; fatal on failure. */
void master_metrics_prepare(const char *queue_dir,
	const struct master_conf *conf);
/* Refresh the gauges when due; registers its next deadline. */
void master_metrics_watch(void);

#endif

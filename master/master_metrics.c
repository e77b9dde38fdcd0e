/* master_metrics: counter files for each service user, service gauges. */
#include "config.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "master.h"
#include "master_conf.h"
#include "master_metrics.h"
#include "master_spawn.h"
#include "metrics.h"
#include "xalloc.h"

/* How often the gauges are written. */
#define MASTER_METRICS_INTERVAL_MS 1000

static long long next_refresh;

void
master_metrics_prepare(const char *queue_dir, const struct master_conf *conf)
{
	char *dir, *path, *error = NULL, file[32];
	struct passwd *pw;
	unsigned uid, gid;
	int i, opened_before = next_refresh != 0;

	dir = xasprintf("%s/%s", queue_dir, METRICS_DIR);
	for (i = 0; i < conf->count; i++) {
		/* As an ordinary user every child runs as that user. */
		uid = (unsigned) geteuid();
		gid = (unsigned) getegid();
		if (geteuid() == 0) {
			if ((pw = getpwnam(conf->services[i]->user)) == NULL)
				continue;	/* master_conf refused it */
			uid = (unsigned) pw->pw_uid;
			gid = (unsigned) pw->pw_gid;
		}
		(void) snprintf(file, sizeof(file), "%u.shm", uid);
		if (metrics_prepare(dir, file, uid, gid, 0, &error) < 0)
			log_fatal("metrics: %s", error);
	}
	if (!opened_before) {
		if (metrics_prepare(dir, METRICS_MASTER_FILE,
		    (unsigned) geteuid(), (unsigned) getegid(), 1, &error) < 0)
			log_fatal("metrics: %s", error);
		path = xasprintf("%s/%s", dir, METRICS_MASTER_FILE);
		if (metrics_open_file(path, &error) < 0)
			log_fatal("metrics: %s", error);
		free(path);
	}
	free(dir);
	next_refresh = 1;
}

static void
master_metrics_refresh(void)
{
	const struct master_service *svc;
	const char *name;

	for (svc = master_services; svc != NULL; svc = svc->next) {
		name = svc->conf->name;
		metrics_set("ispmail_service_busy",
		    svc->busy + svc->retired, "service", name, NULL);
		metrics_set("ispmail_service_idle", svc->idle,
		    "service", name, NULL);
		metrics_set("ispmail_service_maxproc", svc->conf->maxproc,
		    "service", name, NULL);
		metrics_set("ispmail_service_cap_hits_total",
		    (long long) svc->cap_hits, "service", name, NULL);
		metrics_set("ispmail_service_crashes_total",
		    (long long) svc->abnormal_exits, "service", name, NULL);
		metrics_set("ispmail_service_spawns_total",
		    (long long) svc->spawns, "service", name, NULL);
		metrics_set("ispmail_service_throttled",
		    master_service_throttled(svc), "service", name, NULL);
		metrics_set("ispmail_service_stress_events_total",
		    (long long) svc->stress_events, "service", name, NULL);
	}
	metrics_set("ispmail_master_start_time_seconds",
	    (long long) master_start_time, NULL);
}

void
master_metrics_watch(void)
{
	long long now = master_now_ms();

	if (next_refresh == 0)
		return;
	if (now >= next_refresh) {
		master_metrics_refresh();
		next_refresh = now + MASTER_METRICS_INTERVAL_MS;
	}
	master_event_deadline(next_refresh);
}

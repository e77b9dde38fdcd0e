/* master_metrics: counter files for each service user, service gauges. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "account_store.h"
#include "ctl.h"
#include "log.h"
#include "mail_params.h"
#include "master.h"
#include "master_conf.h"
#include "master_metrics.h"
#include "master_spawn.h"
#include "metrics.h"
#include "service.h"
#include "xalloc.h"

/* How often the gauges are written. */
#define MASTER_METRICS_INTERVAL_MS 1000

static long long next_refresh;
/* The next baseline sample (ms), and the child taking the last one. */
static long long next_sample;
static pid_t sample_pid;

/*
 * The sampling child runs as mail_owner: its counter file, and the
 * baseline directory and store its own (a store cron made as root is
 * handed over; nothing is followed through a link).
 */
static void
master_baseline_prepare(const char *queue_dir, const char *metrics_dir)
{
	char *dir, *store, *error = NULL, file[32];
	struct passwd *pw;
	uid_t uid;
	gid_t gid;
	int fd;

	if (geteuid() != 0 || var_baseline_sample_time <= 0)
		return;
	if ((pw = getpwnam(var_mail_owner)) == NULL) {
		log_warn("baseline sample: unknown mail_owner %s",
		    var_mail_owner);
		return;
	}
	uid = pw->pw_uid;
	gid = pw->pw_gid;
	(void) snprintf(file, sizeof(file), "%u.shm", (unsigned) uid);
	if (metrics_prepare(metrics_dir, file, (unsigned) uid, (unsigned) gid,
	    0, &error) < 0) {
		log_warn("metrics: %s", error);
		free(error);
	}
	dir = xasprintf("%s/baseline", queue_dir);
	store = xasprintf("%s/store", dir);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		log_warn("baseline sample: create %s: %m", dir);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fchown(fd, uid, gid) < 0)
		log_warn("baseline sample: %s: %m", dir);
	if (fd >= 0)
		(void) close(fd);
	fd = open(store, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd >= 0 && fchown(fd, uid, gid) < 0)
		log_warn("baseline sample: %s: %m", store);
	if (fd >= 0)
		(void) close(fd);
	free(store);
	free(dir);
	/*
	 * The account store: the sample runs baseline_alarm_command for
	 * new account holds (ctl_baseline.c), so it must open it too.
	 */
	dir = xasprintf("%s/%s", queue_dir, ACCOUNT_DIR);
	fd = account_store_open(queue_dir, 1, &error);
	if (fd < 0) {
		log_warn("baseline sample: %s", error);
		free(error);
	} else {
		if (fchown(fd, uid, gid) < 0)
			log_warn("baseline sample: account store: %m");
		(void) close(fd);
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fchown(fd, uid, gid) < 0)
		log_warn("baseline sample: %s: %m", dir);
	if (fd >= 0)
		(void) close(fd);
	free(dir);
}

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
	master_baseline_prepare(queue_dir, dir);
	free(dir);
	next_refresh = 1;
}

/*
 * What a service holds in flight at most, for other hosts' ispmailctl
 * check --metrics: maxproc times the sessions a process serves (imapd,
 * proxyd), qmgr's per-destination concurrency.
 */
static void
master_metrics_capacity(const struct master_service_conf *sc)
{
	const char *prog = master_service_program(sc), *front;
	long long cap = sc->maxproc, per;

	if (strcmp(prog, "imapd") == 0) {
		per = master_service_param_int(sc, "imap_client_limit");
		cap *= per > 1 ? per : 1;
	} else if (strcmp(prog, "qmgr") == 0) {
		cap = master_service_param_int(sc,
		    "qmgr_destination_concurrency_limit");
	} else if (strcmp(prog, "proxyd") == 0) {
		cap *= master_service_param_int(sc, "proxy_session_limit");
		front = master_service_param(sc, "proxy_front");
		metrics_set("ispmail_service_capacity", cap, "service",
		    sc->name, "program", prog, "front", front != NULL ? front :
		    "", NULL);
		return;
	}
	metrics_set("ispmail_service_capacity", cap, "service", sc->name,
	    "program", prog, NULL);
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
		master_metrics_capacity(svc->conf);
	}
	metrics_set("ispmail_master_start_time_seconds",
	    (long long) master_start_time, NULL);
}

/*
 * One baseline sample (ctl_baseline.c) in a child as mail_owner, so the
 * master never waits on it; the master reaps it with its other children.
 * A child still running skips this turn; one that hangs dies by alarm.
 */
static void
master_baseline_sample(void)
{
	char *error = NULL;
	int fd;

	if (sample_pid > 0 && kill(sample_pid, 0) == 0)
		return;
	sample_pid = fork();
	if (sample_pid < 0) {
		log_warn("baseline sample: fork: %m");
		sample_pid = 0;
		return;
	}
	if (sample_pid > 0)
		return;
	(void) signal(SIGTERM, SIG_DFL);
	(void) signal(SIGHUP, SIG_DFL);
	(void) signal(SIGCHLD, SIG_DFL);
	(void) alarm(var_baseline_sample_time > 5 ?
	    (unsigned) var_baseline_sample_time - 1 : 5);
	if ((fd = open("/dev/null", O_RDWR)) >= 0) {
		(void) dup2(fd, STDOUT_FILENO);
		(void) close(fd);
	}
	if (service_drop_privileges(var_mail_owner, NULL, &error) < 0) {
		log_error("baseline sample: %s", error);
		_exit(1);
	}
	_exit(ctl_baseline_take(time(NULL)));
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
	if (var_baseline_sample_time <= 0)
		return;
	if (next_sample == 0)
		next_sample = now + var_baseline_sample_time * 1000;
	if (now >= next_sample) {
		master_baseline_sample();
		next_sample = now + var_baseline_sample_time * 1000;
	}
	master_event_deadline(next_sample);
}

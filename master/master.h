/*
 * master: the state ispmail-master's modules share, and its event loop.
 *
 * One process, one thread.  master.c owns the option values, the service
 * list and the poll loop; master_spawn.c owns the children and the
 * counters below; master_status.c only reads them.  The service record is
 * visible to the master's own modules (as Postfix's MASTER_SERV is) so the
 * status answer and the reload diff need no accessor per field; nothing
 * outside master/ includes this header.
 *
 * A service "generation" is one status socketpair: every child started
 * while it is current inherits its child end as MASTER_STATUS_FD.  Retiring
 * a generation (reload with a changed command line or listener, removal)
 * closes both ends in the master, so its children see EOF, finish their
 * connection and exit; they are still reaped and counted in "retired"
 * until they do, but never toward the cap of the new generation.
 */
#ifndef ISPMAIL_MASTER_H
#define ISPMAIL_MASTER_H

#include <time.h>

struct master_service_conf;

struct master_service {
	struct master_service_conf *conf;	/* owned */
	int listen_fd;			/* -1 when none */
	int status_fd;			/* master end of the current generation */
	int status_child_fd;		/* child end, MASTER_STATUS_FD in children */
	unsigned generation;
	int idle;			/* current generation: ready children */
	int busy;			/* current generation: serving one */
	int total;			/* current generation: idle + busy */
	int retired;			/* live children of retired generations */
	unsigned long long cap_hits;	/* all busy at the process limit */
	unsigned long long abnormal_exits;
	unsigned long long spawns;
	int failures;			/* consecutive start failures */
	long long throttled_until;	/* master_now_ms(); 0 when not */
	long long last_cap_warning;	/* master_now_ms() of the last warning */
	int stress;			/* at the limit: master_stress.h */
	unsigned long long stress_events;	/* times stress went on */
	long long last_stress_log;	/* master_now_ms(), rate limit */
	int stress_logged;		/* an "on" line awaits its "off" */
	struct master_service *next;	/* master.conf order */
};

/* The running services, in master.conf order. */
extern struct master_service *master_services;
/* The absolute configuration directory children get as -c. */
extern const char *master_config_dir;
/* -v: children get -v too. */
extern int master_verbose;
/* When the master started (for the status socket's uptime). */
extern time_t master_start_time;

/*
 * The poll loop.  Before each poll() every module registers the
 * descriptors it wants watched (master_event_watch) and the earliest time
 * it must run again (master_event_deadline); the callbacks run after
 * poll() returns.  A callback may close only its own descriptor.
 */
typedef void master_event_fn(int fd, short revents, void *ctx);
void master_event_watch(int fd, short events, master_event_fn *fn, void *ctx);
void master_event_deadline(long long when_ms);
/* Milliseconds on the monotonic clock. */
long long master_now_ms(void);

#endif

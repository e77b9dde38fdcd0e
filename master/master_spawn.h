/*
 * master_spawn: children of the services, from fork to reap.
 *
 * Process creation follows Postfix's availability policy: a service's
 * listener is watched only while it has no idle child, is under its
 * process limit and is not throttled; when the listener becomes readable
 * one child is started (it counts as idle at once, which stops the
 * watching until a status record or an exit changes the counts).  The
 * children's BUSY/IDLE records (master_proto.h) move them between idle
 * and busy.  When a BUSY leaves no idle child at the limit, the cap hit
 * is counted and a warning logged, at most once per
 * process_limit_warning_time per service.
 *
 * A child that exits abnormally before it has finished one connection
 * (it never went BUSY and back to IDLE) is taken as a sign that the
 * command cannot work: the service is throttled for service_throttle_time,
 * doubling with each such failure in a row up to service_throttle_max.
 * A normal exit or a finished connection resets the count.
 *
 * Children of every generation, including those of removed services, stay
 * in one table until reaped, so a stop can signal them all.
 */
#ifndef ISPMAIL_MASTER_SPAWN_H
#define ISPMAIL_MASTER_SPAWN_H

struct master_service;
struct master_service_conf;

/*
 * A service record for conf (ownership passes to it) and its bound
 * listener; the first generation's socketpair is made here.  No child is
 * started until a connection arrives.
 */
struct master_service *master_service_new(struct master_service_conf *conf,
	int listen_fd);
/* Retire the current generation and start a new, empty one. */
void master_service_retire(struct master_service *svc);
/*
 * Take a service out: retire its generation, close its listener (the
 * caller removes a unix socket file first), keep its children in the
 * table until they exit, free the record and NULL *svcp.
 */
void master_service_free(struct master_service **svcp);
/* 1 while process creation is suspended after failures. */
int master_service_throttled(const struct master_service *svc);

/* Register the listeners and status sockets the loop must watch. */
void master_spawn_watch(void);
/* Collect every exited child (after SIGCHLD); never blocks. */
void master_spawn_reap(void);
/* Wait for every remaining child (after SIGKILL at stop). */
void master_spawn_reap_all(void);
/*
 * Send sig to every child of every generation.  From the first call on,
 * exits are expected: nothing is throttled or counted as abnormal and no
 * new child is started.
 */
void master_spawn_signal_all(int sig);
/* Send sig to the children of svc's current generation. */
void master_spawn_signal_service(const struct master_service *svc, int sig);
/*
 * After a reload has retired generations: log how many old processes are
 * left, and log again when the last of them has exited.
 */
void master_spawn_reload_started(void);
/* Children not yet reaped, all generations and removed services. */
int master_spawn_child_count(void);

#endif

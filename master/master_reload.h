/*
 * master_reload: read the whole configuration, and apply a new one.
 *
 * master_reload_read() builds the parameters (defaults, main.conf, the -c
 * directory, the master's -o overrides) and then reads master.conf; it is
 * what -t checks, what the master starts with and what SIGHUP reads.
 *
 * master_reload() is the SIGHUP handler: when the new configuration is
 * invalid it logs every problem and keeps running with the old one (the
 * parameters are restored too).  Otherwise it diffs the services by name:
 * removed ones stop listening and retire their processes; a changed
 * listener is rebound; a changed maxproc moves the cap; new services are
 * bound and start.  Every kept service's processes are retired too, since
 * main.conf may have changed anything they read at start: each finishes
 * its current session or delivery and exits, so no process runs the old
 * configuration beyond its current work (qmgr's successor starts once the
 * old qmgr has finished its deliveries and exited).  The log says when
 * the last old process is gone.  Connections in progress are never cut.
 * queue_directory is fixed at start (the pid file and sockets live there).
 */
#ifndef ISPMAIL_MASTER_RELOAD_H
#define ISPMAIL_MASTER_RELOAD_H

struct master_conf;
struct master_service;
struct master_service_conf;

/* Remember the -o overrides (kept, not copied) for every read. */
void master_reload_set_overrides(char **overrides, int count);
/* From now on queue_directory stays dir whatever main.conf says. */
void master_reload_pin_queue_dir(const char *dir);
/*
 * Read and check main.conf and master.conf.  0 ok with *conf_r; -1 with
 * *error_r (caller frees) holding every problem, one a line.
 */
int master_reload_read(struct master_conf **conf_r, char **error_r);
/* Log each line of an error text with log_error(). */
void master_reload_log_errors(const char *errors);
/* Bind a service and make its record; NULL (logged) when binding fails. */
struct master_service *
master_reload_start_service(const struct master_service_conf *sc);
/* Re-read the configuration and apply it (SIGHUP). */
void master_reload(void);

#endif

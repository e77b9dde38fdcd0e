/*
 * ctl: the subcommands of ispmailctl, one file each.
 *
 * Each subcommand gets the arguments after its name (argv[0] is the
 * subcommand) and returns the process exit status: 0 ok, 1 failed (a
 * message on stderr), 2 usage error.  Parameters (main.conf of the -c
 * directory) are already loaded when a subcommand runs.
 */
#ifndef ISPMAIL_CTL_H
#define ISPMAIL_CTL_H

#include <stddef.h>
#include <time.h>

/*
 * Everything ispmailctl prints goes through these two: every %s and %c
 * argument is escaped (printable.h) so text from a queue file, a map, the
 * master or a remote server cannot reach the terminal as escape sequences
 * or fake lines.  The format's own text is kept.
 */
void ctl_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ctl_eprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ispmailctl status: the master's per-service table. */
int ctl_status(int argc, char **argv);
/* ispmailctl metrics: the Prometheus text exposition. */
int ctl_metrics(int argc, char **argv);
/* ispmailctl check [DIR...]: upstreams that can outrun downstreams. */
int ctl_check(int argc, char **argv);
/* ispmailctl baseline feed|show: weekly baselines and alarms. */
int ctl_baseline(int argc, char **argv);
/* ispmailctl trace ID: a message's life from the logs (ctl_trace.c). */
int ctl_trace(int argc, char **argv);
/* One sample of every figure at now (the master's minute too): 0, 1. */
int ctl_baseline_take(time_t now);
/* ispmailctl config [-n] [name ...]: the effective main.conf (postconf). */
int ctl_config(int argc, char **argv);

/* ispmailctl domain|mailbox|alias|forward|relay ...: provisioning. */
int ctl_domain(int argc, char **argv);
int ctl_mailbox(int argc, char **argv);
/* ispmailctl mailbox move ADDRESS --to HOST (ctl_move.c); argv[0] "move". */
int ctl_mailbox_move(int argc, char **argv);
int ctl_alias(int argc, char **argv);
int ctl_forward(int argc, char **argv);
int ctl_relay(int argc, char **argv);
/* ispmailctl auth ADDRESS: check a password read from standard input. */
int ctl_auth(int argc, char **argv);
/* ispmailctl route ADDRESS...: how addresses resolve, step by step. */
int ctl_route(int argc, char **argv);

struct route;
/* Open the configured routing directory, or NULL after saying why not. */
struct route *ctl_route_open(void);
/*
 * Report a failed provisioning call (error says why; freed): exit 1, or
 * CTL_EXIT_TEMPFAIL when the directory could not be reached, so a
 * script or a cluster's provisioning retries later.
 */
int ctl_fail(const char *what, char *error);

/* ispmailctl dkim keygen|rotate|show|migrate: DKIM signing keys. */
int ctl_dkim(int argc, char **argv);

/* ispmailctl tlsrpt send|show: TLS reports (RFC 8460; ctl_tlsrpt.c). */
int ctl_tlsrpt(int argc, char **argv);

/* ispmailctl queue list|show ...: the mail queue. */
int ctl_queue(int argc, char **argv);
/* Release message id from hold/ (through qmgr when it runs): 0, 1. */
int ctl_queue_release(const char *id);
/* ispmailctl account: the exploited-account alarm (ctl_account.c). */
int ctl_account(int argc, char **argv);

/* Queue files found below a directory (ctl_queue.c). */
struct ctl_qentry {
	char *path;
	const char *queue;
};

struct ctl_qlist {
	struct ctl_qentry *entries;
	size_t count, alloc;
};

/* Add the queue files below dir (hashed subdirectories too) to l. */
void ctl_qlist_scan(struct ctl_qlist *l, const char *dir, const char *queue,
	int depth);
void ctl_qlist_free(struct ctl_qlist *l);
/*
 * Ask qmgr to act on a message (so it never races a delivery).  0 done,
 * 1 refused (message printed), 75 busy, -1 qmgr not reachable.
 */
int ctl_qmgr_request(const char *request, const char *id);

/* ispmailctl quarantine (ctl_quarantine.c). */
int ctl_quarantine(int argc, char **argv);
/* ispmailctl archive verify|search|export|seal|expire: the mail archive. */
int ctl_archive(int argc, char **argv);

/* Exit status for a temporary failure (sysexits EX_TEMPFAIL). */
#define CTL_EXIT_TEMPFAIL 75

#endif

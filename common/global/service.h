/*
 * service: the child side of the master protocol, the skeleton every
 * single-connection daemon's main() calls.
 *
 * service_main() parses the standard options (-c DIR, -n SERVICE, -u USER,
 * -o name=value, -v), reads main.conf and applies overrides, opens the
 * log, drops privileges in one place when running as root (initgroups,
 * optional chroot_directory, setgid, setuid, and a check that root cannot
 * be regained), calls the daemon's init hook, then loops: wait for a
 * connection on MASTER_LISTEN_FD, report busy, call the connection
 * handler, close the connection, report idle.  It exits after max_use
 * connections, after max_idle seconds without one, and when the master
 * goes away (EOF on MASTER_STATUS_FD).  It never returns.
 *
 * Started by hand (no ISPMAIL_MASTER in the environment) it is an error:
 * daemons run under ispmail-master.
 */
#ifndef ISPMAIL_SERVICE_H
#define ISPMAIL_SERVICE_H

#include <stdint.h>
#include <sys/socket.h>

/* What the handler learns about a connection (a plain record). */
struct service_peer {
	const char *service;		/* master.conf service name */
	char client_addr[64];		/* numeric address, or "unix" */
	int client_port;		/* 0 for unix sockets */
	char local_addr[64];
	int local_port;
};

struct service_def {
	/* The program's name for logging, e.g. "smtpd". */
	const char *name;
	/*
	 * Serve one connection on fd (blocking; the skeleton closes it after
	 * the handler returns).  Must not exit on client errors.
	 */
	void (*handle)(int fd, const struct service_peer *peer, void *ctx);
	/* Optional: after parameters are read, before privileges drop. */
	void (*pre_init)(void *ctx);
	/* Optional: after privileges drop, before the first accept. */
	void (*post_init)(void *ctx);
	void *ctx;
	/*
	 * Optional, for long-running event-driven daemons (qmgr): instead
	 * of the accept loop, called once with the (non-blocking) listening
	 * socket and the status socket, whose EOF means the master went
	 * away; the process exits when it returns.  handle may be NULL then.
	 * The process reports itself busy once, so the master never starts
	 * a second one for its connections, unless run_reports_busy is
	 * set.  pre_init may set or clear run (the daemon's parameters
	 * choose the model).
	 */
	void (*run)(int listen_fd, int status_fd, void *ctx);
	/*
	 * With run: the process serves several connections at once and
	 * tells the master itself when it is full (service_set_busy); it
	 * starts out idle, ready for connections.
	 */
	int run_reports_busy;
	/*
	 * Set by daemons that shorten their client timeouts in the master's
	 * stress mode (smtpd, popd, imapd).  Every other service ignores the
	 * stress signals, so no poll() of theirs (an agent's connect, a DNS
	 * or directory wait) ever sees an EINTR it does not expect.
	 */
	int follows_stress;
};

/*
 * For a run hook that serves up to N connections in one process (imapd
 * with imap_client_limit): tell the master whether this process can take
 * another connection (busy 0) or is full (busy 1), so it starts another
 * process only when all are full, within maxproc.  Only a change is sent.
 * 0 ok; -1 when the master is gone.
 */
int service_set_busy(int busy);

/*
 * For a run hook: when a process without connections since now_ms
 * (CLOCK_MONOTONIC milliseconds) should exit by max_idle; INT64_MAX
 * when max_idle says never.
 */
int64_t service_idle_deadline(int64_t now_ms);

/*
 * 1 while the master says this service is at its process limit (stress
 * mode, master_proto.h): daemons then use their shorter stress timeouts,
 * which every stream with a stress timeout (stream.h) applies by itself.
 */
int service_in_stress(void);

/*
 * Fill peer for a connection a run hook accepted itself (the service
 * name is the one master.conf gave this process).
 */
void service_peer_fill(int fd, struct service_peer *peer);

/*
 * Replace peer's client address and port with src's, and its local ones
 * with dst's when dst is not NULL (a PROXY protocol header's addresses).
 */
void service_peer_set(struct service_peer *peer, const struct sockaddr *src,
	socklen_t src_len, const struct sockaddr *dst, socklen_t dst_len);

/*
 * Run the service.  Arguments left after the standard options (the
 * daemon's own, from master.conf) are stored in *args_r / *arg_count_r
 * before pre_init runs, when those are not NULL.
 */
void service_main(int argc, char **argv, const struct service_def *def,
	char ***args_r, int *arg_count_r) __attribute__((noreturn));

/*
 * The user a process should run as: drop to it when euid is 0 (with
 * optional chroot), otherwise do nothing.  0 ok; -1 with *error_r
 * (caller frees).  Exposed for tests and the master's own tools.
 */
int service_drop_privileges(const char *user, const char *chroot_dir,
	char **error_r);

#endif

/*
 * master_proto: what the master and a service child agree on.
 *
 * The master starts a child as
 *
 *	command -c CONFIG_DIR -n SERVICE -u USER [-o name=value]... [args]
 *
 * with two descriptors open:
 *
 *	MASTER_STATUS_FD  one end of a SOCK_SEQPACKET socketpair shared by all
 *	                  children of one service generation.  A child writes
 *	                  one struct master_status record when it becomes
 *	                  busy (accepted a connection) and when it becomes idle
 *	                  again.  When the master exits, or retires the
 *	                  generation on reload, it closes its end: the child
 *	                  sees EOF (readable) and exits once its current
 *	                  connection is done.
 *	MASTER_LISTEN_FD  the service's listening socket (non-blocking), shared
 *	                  by all children of the service.
 *
 * The environment carries ISPMAIL_MASTER=1.  A new child counts as idle.
 */
#ifndef ISPMAIL_MASTER_PROTO_H
#define ISPMAIL_MASTER_PROTO_H

#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#define MASTER_STATUS_FD 3
#define MASTER_LISTEN_FD 4

enum master_status_code {
	MASTER_STATUS_IDLE = 1,	/* done with a connection, ready again */
	MASTER_STATUS_BUSY = 2,	/* accepted a connection */
};

/* One status record, written with a single send(). */
struct master_status {
	int32_t pid;
	int32_t status;		/* enum master_status_code */
};

/* Environment variable a child of the master finds set to "1". */
#define MASTER_ENV "ISPMAIL_MASTER"

/*
 * Stress mode: while every process of a service is busy at its process
 * limit the master sends its children MASTER_STRESS_ON_SIGNAL, and
 * MASTER_STRESS_OFF_SIGNAL once the service has room again; a child
 * started under stress finds MASTER_STRESS_ENV set to "1".  Children
 * start with both signals ignored (inherited across exec) until the
 * service skeleton installs its handlers, so an early one is not fatal.
 */
#define MASTER_STRESS_ON_SIGNAL SIGUSR1
#define MASTER_STRESS_OFF_SIGNAL SIGUSR2
#define MASTER_STRESS_ENV "ISPMAIL_STRESS"

/* The status socket, relative to queue_directory. */
#define MASTER_STATUS_SOCKET "private/master.status"
/* The pid/lock file, relative to queue_directory. */
#define MASTER_PID_FILE "pid/master.pid"

/*
 * The status socket speaks the attribute protocol (attr.h).  A client
 * sends one record "request=status"; the master answers with one record
 * per service, in master.conf order:
 *
 *	service=NAME type=inet|unix listen=ADDRESS user=USER maxproc=N
 *	busy=N idle=N total=N cap_hits=N abnormal_exits=N spawns=N
 *	throttled=0|1 stress=0|1 stress_events=N
 *
 * (one attribute a line), and a last record "end=1" whose other
 * attributes describe the master: pid=N uptime=SECONDS services=N.
 * An unknown request gets one record "error=TEXT".
 */

#endif

/*
 * connect: outgoing stream connections with a deadline, to an address
 * or to a next hop as main.conf writes one ("unix:path", "host:port",
 * "[v6]:port"), for the delivery agents and smtpd's direct delivery.
 *
 * Descriptors are non-blocking and close-on-exec, owned by the caller.
 * A prepare callback (NULL: none) runs on each new socket before the
 * connect, e.g. to bind a source address.  Failures are -1 with
 * *error_r (caller frees) saying why; *local_r, when not NULL, tells a
 * failure of our own (socket, prepare) from the peer's.
 */
#ifndef ISPMAIL_CONNECT_H
#define ISPMAIL_CONNECT_H

#include <sys/socket.h>

typedef int net_connect_prepare_fn(int fd, int family, void *ctx,
	char **error_r);

/* Connect to one address within timeout_ms.  The descriptor, or -1. */
int net_connect(const struct sockaddr *sa, socklen_t len, int timeout_ms,
	net_connect_prepare_fn *prepare, void *ctx, char **error_r,
	int *local_r);
/*
 * Connect to nexthop: "unix:path" (a relative path is under base_dir)
 * or "host:port" / "[v6]:port" (each address of host in turn, each
 * within timeout_ms).  The descriptor, or -1.
 */
int net_connect_nexthop(const char *nexthop, const char *base_dir,
	int timeout_ms, net_connect_prepare_fn *prepare, void *ctx,
	char **error_r);

/*
 * Send each write at once (TCP_NODELAY) on a TCP socket of the given
 * family (-1: not known; a Unix socket refuses it harmlessly).  Our
 * streams write whole responses, so Nagle's algorithm only delays the
 * last part of a large one until the peer's delayed ACK (40 ms).
 */
void net_tcp_nodelay(int fd, int family);

#endif

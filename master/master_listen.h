/*
 * master_listen: create the listening sockets the master hands to children.
 *
 * Every socket is non-blocking and close-on-exec (the spawn code dup2()s
 * it to MASTER_LISTEN_FD, which clears the flag there only), listens with
 * listen_backlog, and is owned by the caller, who closes it.
 *
 * inet: a numeric address or a name (getaddrinfo; the first address that
 * binds is used, so a name with several addresses serves only one of them:
 * write numeric addresses).  The wildcard follows inet_protocols: ipv4 is
 * 0.0.0.0, ipv6 is [::] IPv6 only, all is [::] with IPV6_V6ONLY off so one
 * socket serves both, falling back to 0.0.0.0 where IPv6 is unavailable.
 * XXX: a child inherits exactly one listener, so "all" on a host without
 * dual-stack sockets serves IPv4 only.
 *
 * unix: a stale socket at the path is removed first (anything else there
 * is an error, not removed); the socket gets mode 0666 under a "public"
 * directory and 0660 elsewhere, and belongs to mail_owner when the master
 * runs as root, so unprivileged services can reach each other.
 */
#ifndef ISPMAIL_MASTER_LISTEN_H
#define ISPMAIL_MASTER_LISTEN_H

#include <sys/types.h>

struct master_service_conf;

/*
 * Bind and listen for one service.  0 ok with *fd_r; -1 with *error_r
 * (caller frees) naming the address and the errno text.
 */
int master_listen_open(const struct master_service_conf *sc, int *fd_r,
	char **error_r);
/* Check that an inet service's host resolves (for -t).  0 ok, -1. */
int master_listen_check(const struct master_service_conf *sc,
	char **error_r);
/*
 * A unix stream listener at path with the given mode, owned by uid/gid
 * unless uid is (uid_t) -1: bound with that umask and file system ids, so
 * no chmod/chown by path follows (uid must be able to write the
 * directory).  0 ok with *fd_r; -1 with *error_r.
 */
int master_listen_unix(const char *path, mode_t mode, uid_t uid, gid_t gid,
	int *fd_r, char **error_r);
/* Remove a unix service's socket file (stop, removal on reload). */
void master_listen_remove(const struct master_service_conf *sc);

#endif

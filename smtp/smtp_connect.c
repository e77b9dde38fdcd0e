/* smtp_connect: sockets to next hops, with a deadline and a source address. */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "dns.h"
#include "log.h"
#include "mail_params.h"
#include "smtp.h"
#include "xalloc.h"

/* Bind to the configured source address of the family, if any. */
static int
smtp_bind_source(int fd, int family, char **error_r)
{
	const char *source = family == AF_INET6 ? var_smtp_bind_address6 :
	    family == AF_INET ? var_smtp_bind_address : "";
	struct sockaddr_storage ss;
	struct dns_addr a;
	socklen_t len;

	if (*source == '\0')
		return 0;
	if (dns_addr_parse(source, &a) < 0 || a.family != family) {
		*error_r = xasprintf("bad %s \"%s\"", family == AF_INET6 ?
		    "smtp_bind_address6" : "smtp_bind_address", source);
		return -1;
	}
	len = dns_addr_sockaddr(&a, 0, &ss);
	if (bind(fd, (struct sockaddr *) &ss, len) < 0) {
		*error_r = xasprintf("bind %s: %s", source, strerror(errno));
		return -1;
	}
	return 0;
}

/* Connect with a deadline; -1 with *error_r; *local_r for bind errors. */
int
smtp_connect_fd(const struct sockaddr *sa, socklen_t len, char **error_r,
	int *local_r)
{
	struct pollfd pfd;
	socklen_t elen = sizeof(int);
	int fd, err = 0;

	*local_r = 0;
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd < 0) {
		*error_r = xasprintf("socket: %s", strerror(errno));
		*local_r = 1;
		return -1;
	}
	if (smtp_bind_source(fd, sa->sa_family, error_r) < 0) {
		*local_r = 1;
		close(fd);
		return -1;
	}
	if (connect(fd, sa, len) < 0) {
		if (errno != EINPROGRESS && errno != EAGAIN) {
			*error_r = xstrdup(strerror(errno));
			close(fd);
			return -1;
		}
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, (int) (var_smtp_connect_timeout * 1000)) <= 0) {
			*error_r = xstrdup("connection timed out");
			close(fd);
			return -1;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0 ||
		    err != 0) {
			*error_r = xstrdup(strerror(err != 0 ? err : errno));
			close(fd);
			return -1;
		}
	}
	return fd;
}

/*
 * LMTP: connect to "host:port", "[v6]:port" or "unix:path" (a relative
 * path is under queue_directory, as master.conf's unix listeners are).
 */
int
smtp_connect_lmtp(const char *nexthop, char **error_r)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct sockaddr_un sun;
	char *host, *port, *colon;
	char *err = NULL;
	int fd = -1, rc, local;

	if (strncmp(nexthop, "unix:", 5) == 0) {
		const char *path = nexthop + 5;
		int n;

		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		n = path[0] == '/' ? snprintf(sun.sun_path,
		    sizeof(sun.sun_path), "%s", path) : snprintf(sun.sun_path,
		    sizeof(sun.sun_path), "%s/%s", var_queue_directory, path);
		if (n < 0 || (size_t) n >= sizeof(sun.sun_path)) {
			*error_r = xstrdup("socket path too long");
			return -1;
		}
		return smtp_connect_fd((struct sockaddr *) &sun, sizeof(sun),
		    error_r, &local);
	}
	host = xstrdup(nexthop);
	colon = strrchr(host, ':');
	if (colon == NULL) {
		free(host);
		*error_r = xstrdup("next hop has no port");
		return -1;
	}
	*colon = '\0';
	port = colon + 1;
	if (host[0] == '[' && colon[-1] == ']') {
		colon[-1] = '\0';
		memmove(host, host + 1, strlen(host));
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		*error_r = xasprintf("%s: %s", host, gai_strerror(rc));
		free(host);
		return -1;
	}
	for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
		free(err);
		err = NULL;
		fd = smtp_connect_fd(ai->ai_addr, ai->ai_addrlen, &err,
		    &local);
	}
	freeaddrinfo(res);
	free(host);
	if (fd < 0) {
		*error_r = err != NULL ? err : xstrdup("no address");
		return -1;
	}
	free(err);
	return fd;
}

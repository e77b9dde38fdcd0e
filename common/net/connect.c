/* connect: outgoing connections with a deadline; see connect.h. */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "connect.h"
#include "xalloc.h"

void
net_tcp_nodelay(int fd, int family)
{
	int on = 1;

	if (family == AF_INET || family == AF_INET6 || family == -1)
		(void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on,
		    sizeof(on));
}

int
net_connect(const struct sockaddr *sa, socklen_t len, int timeout_ms,
	net_connect_prepare_fn *prepare, void *ctx, char **error_r,
	int *local_r)
{
	struct pollfd pfd;
	socklen_t elen = sizeof(int);
	int fd, err = 0, local = 0;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd < 0) {
		*error_r = xasprintf("socket: %s", strerror(errno));
		local = 1;
		goto fail;
	}
	if (prepare != NULL && prepare(fd, sa->sa_family, ctx, error_r) < 0) {
		local = 1;
		goto fail;
	}
	if (connect(fd, sa, len) < 0) {
		if (errno != EINPROGRESS && errno != EAGAIN) {
			*error_r = xstrdup(strerror(errno));
			goto fail;
		}
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, timeout_ms) <= 0) {
			*error_r = xstrdup("connection timed out");
			goto fail;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0 ||
		    err != 0) {
			*error_r = xstrdup(strerror(err != 0 ? err : errno));
			goto fail;
		}
	}
	net_tcp_nodelay(fd, sa->sa_family);
	if (local_r != NULL)
		*local_r = 0;
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	if (local_r != NULL)
		*local_r = local;
	return -1;
}

int
net_connect_nexthop(const char *nexthop, const char *base_dir,
	int timeout_ms, net_connect_prepare_fn *prepare, void *ctx,
	char **error_r)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct sockaddr_un sun;
	char *host, *colon, *err = NULL;
	int fd = -1, n, rc;

	if (strncmp(nexthop, "unix:", 5) == 0) {
		const char *path = nexthop + 5;

		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		n = path[0] == '/' ? snprintf(sun.sun_path,
		    sizeof(sun.sun_path), "%s", path) : snprintf(sun.sun_path,
		    sizeof(sun.sun_path), "%s/%s", base_dir, path);
		if (n < 0 || (size_t) n >= sizeof(sun.sun_path)) {
			*error_r = xstrdup("socket path too long");
			return -1;
		}
		return net_connect((struct sockaddr *) &sun, sizeof(sun),
		    timeout_ms, prepare, ctx, error_r, NULL);
	}
	host = xstrdup(nexthop);
	colon = strrchr(host, ':');
	if (colon == NULL) {
		free(host);
		*error_r = xstrdup("next hop has no port");
		return -1;
	}
	*colon = '\0';
	if (host[0] == '[' && colon > host && colon[-1] == ']') {
		colon[-1] = '\0';
		memmove(host, host + 1, strlen(host));
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	rc = getaddrinfo(host, colon + 1, &hints, &res);
	if (rc != 0) {
		*error_r = xasprintf("%s: %s", host, gai_strerror(rc));
		free(host);
		return -1;
	}
	free(host);
	for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
		free(err);
		err = NULL;
		fd = net_connect(ai->ai_addr, ai->ai_addrlen, timeout_ms,
		    prepare, ctx, &err, NULL);
	}
	freeaddrinfo(res);
	if (fd < 0) {
		*error_r = err != NULL ? err : xstrdup("no address");
		return -1;
	}
	free(err);
	return fd;
}

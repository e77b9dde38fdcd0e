/* proxy_backend: choosing and reaching the store host (proxy_backend.h). */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth_client.h"
#include "buf.h"
#include "haproxy.h"
#include "log.h"
#include "mail_params.h"
#include "proxy_backend.h"
#include "proxy_conn.h"
#include "proxy_hosts.h"
#include "proxyd.h"
#include "stream.h"
#include "tls.h"
#include "xalloc.h"

/* Hosts held down at once; past this the oldest entry is reused. */
#define PROXY_DOWN_MAX		64
/* An address literal fits (INET6_ADDRSTRLEN is 46). */
#define PROXY_ADDR_MAX		64

struct proxy_down {
	char addr[PROXY_ADDR_MAX];
	int64_t until;
};

static struct proxy_down proxy_down_hosts[PROXY_DOWN_MAX];
static struct tls_server *proxy_backend_tls_ctx;
/* proxy_backend_protocol = haproxy: a PROXY v2 header first. */
static int proxy_backend_haproxy;

int
proxy_backend_init(char **error_r)
{
	if (strcmp(var_proxy_backend_protocol, "haproxy") == 0) {
		proxy_backend_haproxy = 1;
	} else if (strcmp(var_proxy_backend_protocol, "native") != 0) {
		*error_r = xasprintf("proxy_backend_protocol: unknown value "
		    "\"%s\" (native, haproxy)", var_proxy_backend_protocol);
		return -1;
	}
	if (!var_proxy_backend_tls)
		return 0;
	proxy_backend_tls_ctx = tls_client_new(
	    *var_proxy_backend_ca_file != '\0' ? var_proxy_backend_ca_file :
	    NULL, 1, error_r);
	if (proxy_backend_tls_ctx == NULL) {
		if (*error_r == NULL)
			*error_r = xasprintf("proxy_backend_tls: no context");
		return -1;
	}
	return 0;
}

static struct proxy_down *
proxy_down_find(const char *addr)
{
	size_t i;

	for (i = 0; i < PROXY_DOWN_MAX; i++)
		if (strcmp(proxy_down_hosts[i].addr, addr) == 0)
			return &proxy_down_hosts[i];
	return NULL;
}

static int
proxy_host_is_down(const char *addr)
{
	struct proxy_down *d = proxy_down_find(addr);

	return d != NULL && d->until > stream_clock_ms();
}

static void
proxy_host_mark_down(const char *addr)
{
	struct proxy_down *d = proxy_down_find(addr);
	size_t i;

	if (var_proxy_host_down_time == 0)
		return;
	if (d == NULL) {
		d = &proxy_down_hosts[0];
		for (i = 1; i < PROXY_DOWN_MAX; i++)
			if (proxy_down_hosts[i].until < d->until)
				d = &proxy_down_hosts[i];
		(void) snprintf(d->addr, sizeof(d->addr), "%s", addr);
	}
	d->until = stream_clock_ms() + var_proxy_host_down_time * 1000;
}

static int proxy_sockaddr(const char *addr, int port,
	struct sockaddr_storage *ss);

/* Start a non-blocking connect to addr: fd, or -1 (host refused). */
static int
proxy_connect_addr(struct proxy_session *ps, const char *addr)
{
	struct sockaddr_storage ss;
	int fd, port = (int) *ps->front->backend_port;

	if (proxy_sockaddr(addr, port, &ss) < 0) {
		log_error("user=%s: mail host \"%s\" is not an address "
		    "literal", ps->user, addr);
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd < 0) {
		log_error("socket: %m");
		return -1;
	}
	if (connect(fd, (struct sockaddr *) &ss, ss.ss_family == AF_INET ?
	    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)) < 0 &&
	    errno != EINPROGRESS) {
		log_info("proxy: user=%s client=%s backend=%s: connect to "
		    "port %d: %m", ps->user, ps->peer.client_addr, addr, port);
		proxy_host_mark_down(addr);
		(void) close(fd);
		return -1;
	}
	return fd;
}

void
proxy_connect_next(struct proxy_session *ps)
{
	char addr[PROXY_ADDR_MAX];
	int fd;

	while (proxy_host_next(ps->hosts, &ps->host_next, addr,
	    sizeof(addr))) {
		if (proxy_host_is_down(addr)) {
			log_debug("backend %s is held down", addr);
			continue;
		}
		fd = proxy_connect_addr(ps, addr);
		if (fd < 0)
			continue;
		free(ps->backend_name);
		ps->backend_name = xstrdup(addr);
		proxy_conn_init(&ps->backend, fd);
		ps->backend_connecting = 1;
		ps->state = PROXY_CONNECT;
		ps->deadline = stream_clock_ms() +
		    var_proxy_connect_timeout * 1000;
		return;
	}
	log_info("proxy: user=%s client=%s: no backend of \"%s\" answers",
	    ps->user, ps->peer.client_addr, ps->hosts);
	proxy_forget_password(ps);
	ps->state = PROXY_PRELOGIN;
	ps->deadline = ps->login_deadline;
	ps->front->unavailable(ps);
}

void
proxy_backend_failed(struct proxy_session *ps, const char *why)
{
	log_info("proxy: user=%s client=%s backend=%s: %s", ps->user,
	    ps->peer.client_addr, ps->backend_name, why);
	proxy_host_mark_down(ps->backend_name);
	proxy_conn_close(&ps->backend);
	ps->backend_connecting = 0;
	proxy_connect_next(ps);
}

int
proxy_backend_uses_haproxy(void)
{
	return proxy_backend_haproxy;
}

/* addr/port as a socket address: 0, or -1 when addr is no address. */
static int
proxy_sockaddr(const char *addr, int port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *) ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t) port);
		return 0;
	}
	if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t) port);
		return 0;
	}
	return -1;
}

/*
 * The PROXY v2 header (the client, the address it connected to, the
 * login), written before anything else, TLS included: 0, or -1.  It
 * fits any fresh socket's send buffer, so one write() takes it.
 */
static int
proxy_send_haproxy(struct proxy_session *ps)
{
	struct sockaddr_storage src, dst;
	struct buf *header = buf_new(HAPROXY_MAX_HEADER + AUTH_VALUE_MAX);
	ssize_t n;
	int rc = -1;

	if (proxy_sockaddr(ps->peer.client_addr, ps->peer.client_port,
	    &src) == 0 && proxy_sockaddr(ps->peer.local_addr,
	    ps->peer.local_port, &dst) == 0 &&
	    haproxy_encode(header, (struct sockaddr *) &src,
	    (struct sockaddr *) &dst, ps->user) == 0) {
		n = write(ps->backend.fd, buf_data(header), buf_len(header));
		rc = n == (ssize_t) buf_len(header) ? 0 : -1;
	}
	buf_free(&header);
	return rc;
}

short
proxy_backend_connect_events(const struct proxy_session *ps)
{
	if (ps->backend_connecting)
		return POLLOUT;
	return proxy_conn_events(&ps->backend, 0);
}

void
proxy_backend_progress(struct proxy_session *ps)
{
	struct pollfd pfd = { ps->backend.fd, POLLOUT, 0 };
	char *error = NULL;
	int soerr = 0, rc;
	socklen_t len = sizeof(soerr);

	if (ps->backend_connecting) {
		if (poll(&pfd, 1, 0) <= 0)
			return;
		if (getsockopt(ps->backend.fd, SOL_SOCKET, SO_ERROR, &soerr,
		    &len) < 0)
			soerr = errno;
		if (soerr != 0) {
			proxy_backend_failed(ps, strerror(soerr));
			return;
		}
		ps->backend_connecting = 0;
		if (proxy_backend_haproxy && proxy_send_haproxy(ps) < 0) {
			proxy_backend_failed(ps, "cannot send the PROXY "
			    "header");
			return;
		}
		if (proxy_backend_tls_ctx != NULL &&
		    proxy_conn_tls_begin(&ps->backend, proxy_backend_tls_ctx,
		    ps->backend_name, &error) < 0) {
			proxy_backend_failed(ps, error);
			free(error);
			return;
		}
	}
	if (ps->backend.tls_handshaking) {
		rc = proxy_conn_tls_step(&ps->backend, &error);
		if (rc == 0)
			return;
		if (rc < 0) {
			proxy_backend_failed(ps, error);
			free(error);
			return;
		}
	}
	log_debug("user=%s: connected to %s", ps->user, ps->backend_name);
	ps->state = PROXY_BACKEND_LOGIN;
	ps->front_step = 0;
	ps->deadline = stream_clock_ms() + var_proxy_connect_timeout * 1000;
	ps->front->backend_start(ps);
}

/*
 * proxyd: the proxy's main() and its one event loop (see proxyd.h;
 * a session's states are proxy_session.c).  The loop polls the master's status socket, the listener
 * and both sides of every session; a session with something ready (or
 * its deadline passed) is stepped: its queued output is sent, the side
 * its state reads is read, and the state moves on.  The process tells
 * the master it is full at proxy_session_limit sessions, stops taking
 * sessions after max_use and exits after max_idle without any.
 *
 * XXX: poll() over every descriptor costs O(sessions) per wakeup; at the
 * default proxy_session_limit (1000) that is well under the cost of a
 * TLS record, epoll would be the next step past that.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "connect.h"
#include "log.h"
#include "mail_params.h"
#include "proxy_auth.h"
#include "proxy_backend.h"
#include "proxy_conn.h"
#include "proxy_limits.h"
#include "proxy_sasl.h"
#include "proxy_session.h"
#include "proxy_trust.h"
#include "proxyd.h"
#include "service.h"
#include "stream.h"
#include "tls.h"
#include "xalloc.h"

struct tls_server *proxyd_tls;
static const struct proxy_front *proxyd_front;
static struct proxy_session **proxyd_sessions;
static size_t proxyd_count;

void
proxy_session_begin(struct proxy_session *ps)
{
	int64_t now = stream_clock_ms();

	proxy_limits_session_start(ps);
	if (var_tls_wrapper_mode) {
		/* 993/995/465: TLS first, the greeting inside it. */
		ps->state = PROXY_TLS;
		ps->deadline = now + var_tls_handshake_timeout * 1000;
		if (ps->deadline > ps->login_deadline)
			ps->deadline = ps->login_deadline;
	} else {
		ps->state = PROXY_PRELOGIN;
		ps->deadline = ps->login_deadline;
		ps->greeted = 1;
		ps->front->greet(ps);
	}
}

static void
proxy_session_start(int fd)
{
	struct proxy_session *ps = xcalloc(1, sizeof(*ps));

	proxy_conn_init(&ps->client, fd);
	proxy_conn_init(&ps->backend, -1);
	service_peer_fill(fd, &ps->peer);
	ps->front = proxyd_front;
	ps->anvil_ip_id = -1;
	ps->anvil_user_id = -1;
	ps->login_deadline = stream_clock_ms() +
	    var_proxy_login_timeout * 1000;
	ps->deadline = ps->login_deadline;
	log_debug("connect from %s port %d", ps->peer.client_addr,
	    ps->peer.client_port);
	proxyd_sessions[proxyd_count++] = ps;
	if (!var_proxy_protocol) {
		proxy_session_begin(ps);
	} else if (!proxy_trust_peer(&ps->peer)) {
		/* A load balancer's listener: nobody else, not a word. */
		log_warn("proxy: refused connection from %s[%d] to service %s: "
		    "not in proxy_trusted_networks", ps->peer.client_addr,
		    ps->peer.client_port, ps->peer.service);
		ps->client.eof = 1;
		proxy_close(ps);
		return;
	} else {
		ps->state = PROXY_HEADER;
	}
	proxy_step(ps, 0);
}

static void
proxy_accept(int listen_fd, long long *uses)
{
	int fd;

	while (proxyd_count < (size_t) var_proxy_session_limit) {
		fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC |
		    SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != ECONNABORTED && errno != EINTR &&
			    errno != EPROTO)
				log_error("accept: %m");
			return;
		}
		(*uses)++;
		net_tcp_nodelay(fd, -1);
		proxy_session_start(fd);
	}
}

/* Step the sessions poll() named or whose deadline passed; sweep. */
static void
proxy_dispatch(struct pollfd *fds, size_t first, size_t count)
{
	struct proxy_session *ps;
	int64_t now = stream_clock_ms();
	size_t i, kept = 0;
	int ready, late;

	/* Sessions started by proxy_accept() after poll() sit past count. */
	for (i = 0; i < count; i++) {
		ps = proxyd_sessions[i];
		ready = fds[first + 2 * i].revents != 0 ||
		    fds[first + 2 * i + 1].revents != 0 ||
		    proxy_session_pending(ps);
		late = ps->deadline <= now;
		if (ready || late)
			proxy_step(ps, late);
	}
	for (i = 0; i < proxyd_count; i++) {
		ps = proxyd_sessions[i];
		if (proxy_session_done(ps))
			proxy_session_free(ps);
		else
			proxyd_sessions[kept++] = ps;
	}
	proxyd_count = kept;
}

static void
proxyd_run(int listen_fd, int status_fd, void *ctx)
{
	size_t limit = (size_t) var_proxy_session_limit, i, first = 2, count;
	size_t nfds;
	struct pollfd *fds;
	long long uses = 0;
	int64_t now, deadline, idle_deadline;
	int accepting = 1, timeout, n;

	(void) ctx;
	proxyd_sessions = xcalloc(limit, sizeof(*proxyd_sessions));
	fds = xcalloc(xalloc_add(xalloc_mul(limit, 2), 2 + PROXY_AUTH_CONNS +
	    PROXY_LIMITS_FDS), sizeof(*fds));
	idle_deadline = service_idle_deadline(stream_clock_ms());
	for (;;) {
		if (service_set_busy(!accepting || proxyd_count >= limit) < 0)
			accepting = 0;
		if (!accepting && proxyd_count == 0)
			break;
		now = stream_clock_ms();
		if (proxyd_count > 0)
			idle_deadline = service_idle_deadline(now);
		else if (now >= idle_deadline)
			break;
		deadline = proxyd_count == 0 ? idle_deadline : INT64_MAX;
		fds[0].fd = accepting ? status_fd : -1;
		fds[0].events = POLLIN;
		fds[1].fd = accepting && proxyd_count < limit ? listen_fd : -1;
		fds[1].events = POLLIN;
		count = proxyd_count;
		for (i = 0; i < count; i++) {
			struct proxy_session *ps = proxyd_sessions[i];

			/*
			 * A side waited for in no direction is left out: a
			 * hangup there (POLLHUP comes unasked) would wake the
			 * loop again and again while, say, backpressure holds
			 * its reads; it is seen at the next read instead.
			 */
			fds[first + 2 * i].events = proxy_client_events(ps);
			fds[first + 2 * i].fd = fds[first + 2 * i].events != 0 ?
			    ps->client.fd : -1;
			fds[first + 2 * i + 1].events =
			    proxy_backend_events(ps);
			fds[first + 2 * i + 1].fd =
			    fds[first + 2 * i + 1].events != 0 ?
			    ps->backend.fd : -1;
			if (proxy_session_pending(ps))
				deadline = now;
			if (ps->deadline < deadline)
				deadline = ps->deadline;
		}
		for (i = 0; i < first + 2 * count; i++)
			fds[i].revents = 0;
		nfds = first + 2 * count;
		nfds += proxy_auth_pollfds(fds + nfds);
		nfds += proxy_limits_pollfds(fds + nfds);
		if (proxy_limits_deadline() < deadline)
			deadline = proxy_limits_deadline();
		timeout = -1;
		if (deadline != INT64_MAX)
			timeout = deadline - now > INT_MAX ? INT_MAX :
			    deadline - now < 0 ? 0 : (int) (deadline - now);
		n = poll(fds, (nfds_t) nfds, timeout);
		if (n < 0 && errno != EINTR)
			log_fatal("poll: %m");
		if (n < 0)
			continue;
		if (fds[0].revents != 0) {
			log_debug("master gone or generation retired");
			accepting = 0;
		}
		if (accepting && (fds[1].revents & (POLLERR | POLLNVAL)))
			log_fatal("listening socket unusable");
		if (accepting && fds[1].revents != 0)
			proxy_accept(listen_fd, &uses);
		proxy_auth_dispatch(fds + first + 2 * count);
		proxy_limits_dispatch(fds + first + 2 * count +
		    PROXY_AUTH_CONNS);
		proxy_dispatch(fds, first, count);
		if (var_max_use > 0 && uses >= var_max_use && accepting)
			accepting = 0;
	}
	free(fds);
	free(proxyd_sessions);
	proxyd_sessions = NULL;
}

static void
proxyd_pre_init(void *ctx)
{
	char *error = NULL;

	(void) ctx;
	if (strcmp(var_proxy_front, "imap") == 0)
		proxyd_front = &proxy_front_imap;
	else if (strcmp(var_proxy_front, "pop3") == 0)
		proxyd_front = &proxy_front_pop3;
	else if (strcmp(var_proxy_front, "submission") == 0)
		proxyd_front = &proxy_front_submission;
	else
		log_fatal("proxy_front: unknown protocol \"%s\" (imap, pop3, "
		    "submission)", var_proxy_front);
	proxyd_tls = tls_server_new(&error);
	if (proxyd_tls == NULL && error != NULL)
		log_fatal("TLS: %s", error);
	if (var_tls_wrapper_mode && proxyd_tls == NULL)
		log_fatal("tls_wrapper_mode needs tls_cert_file");
	if (proxy_backend_init(&error) < 0 || proxy_sasl_init(&error) < 0)
		log_fatal("%s", error);
	if (proxy_trust_init(&error) < 0)
		log_fatal("proxy_trusted_networks: %s", error);
}

static void
proxyd_post_init(void *ctx)
{
	char *error = NULL;

	(void) ctx;
	if (proxy_auth_init(&error) < 0)
		log_fatal("%s", error);
}

static struct service_def proxyd_def = {
	.name = "proxyd",
	.pre_init = proxyd_pre_init,
	.post_init = proxyd_post_init,
	.run = proxyd_run,
	.run_reports_busy = 1,
};

int
main(int argc, char **argv)
{
	service_main(argc, argv, &proxyd_def, NULL, NULL);
}

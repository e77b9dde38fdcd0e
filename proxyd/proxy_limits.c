/* proxy_limits: sessions and failed logins counted by anvil (proxy_limits.h). */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "anvil_client.h"
#include "attr.h"
#include "buf.h"
#include "log.h"
#include "mail_params.h"
#include "proxy_auth.h"
#include "proxy_limits.h"
#include "proxyd.h"
#include "stream.h"
#include "xalloc.h"

/* anvil's records are a few short attributes. */
#define LIMITS_RECORD_MAX	4096
#define LIMITS_OUT_MAX		(256 * 1024)
#define LIMITS_ATTR_MAX		8
/* The longest delay doubling (2^10 times auth_failure_delay). */
#define LIMITS_DOUBLINGS_MAX	10

enum limits_question {
	LIMITS_IP_CONNECT = 1,
	LIMITS_USER_CONNECT,
	LIMITS_PEEK,
	LIMITS_HIT,
	LIMITS_DISCONNECT,
};

struct limits_entry {
	enum limits_question kind;
	struct proxy_session *ps;	/* NULL: its session went away */
};

static int limits_fd = -1;
static unsigned limits_generation = 1;
static struct buf *limits_out, *limits_in;
static struct attr_list *limits_answer;
/* Questions asked, answered in order: a ring. */
static struct limits_entry *limits_ring;
static size_t limits_ring_size, limits_head, limits_count;
static int64_t limits_oldest_ms;

static void limits_answer_one(const struct limits_entry *e,
	const struct attr_list *a);

/* Every question open now is answered "admit". */
static void
limits_drop(const char *why)
{
	struct limits_entry e;

	if (limits_fd >= 0) {
		log_warn("anvil: %s: limits are not counted until it is "
		    "back", why);
		(void) close(limits_fd);
	}
	limits_fd = -1;
	limits_generation++;
	buf_free(&limits_out);
	buf_free(&limits_in);
	while (limits_count > 0) {
		e = limits_ring[limits_head];
		limits_head = (limits_head + 1) % limits_ring_size;
		limits_count--;
		if (e.ps != NULL)
			e.ps->limits_outstanding--;
		limits_answer_one(&e, NULL);
	}
}

static int
limits_connect(void)
{
	struct sockaddr_un sun;
	int fd;

	if (limits_fd >= 0)
		return 0;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(var_queue_directory) + sizeof(ANVIL_SOCKET) + 1 >
	    sizeof(sun.sun_path))
		return -1;
	memcpy(sun.sun_path, var_queue_directory, strlen(var_queue_directory));
	sun.sun_path[strlen(var_queue_directory)] = '/';
	memcpy(sun.sun_path + strlen(var_queue_directory) + 1, ANVIL_SOCKET,
	    sizeof(ANVIL_SOCKET));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *) &sun, sizeof(sun)) < 0 &&
	    errno != EINPROGRESS && errno != EAGAIN) {
		(void) close(fd);
		return -1;
	}
	limits_fd = fd;
	if (limits_answer == NULL)
		limits_answer = attr_list_new(LIMITS_ATTR_MAX,
		    LIMITS_RECORD_MAX);
	return 0;
}

/*
 * Ask anvil (request with service and address, count_limit when > 0,
 * id when >= 0) for ps: 0 asked; -1 anvil unusable (the caller admits).
 */
static int
limits_ask(enum limits_question kind, const char *request,
	struct proxy_session *ps, const char *service, const char *address,
	long long count_limit, long long id)
{
	size_t i;

	if (limits_connect() < 0)
		return -1;
	if (limits_count == limits_ring_size) {
		/* Bounded by sessions: a few questions each at most. */
		if (limits_ring_size >= 4 * (size_t) var_proxy_session_limit +
		    16)
			return -1;
		struct limits_entry *ring = xcalloc(
		    limits_ring_size * 2 + 16, sizeof(*ring));

		for (i = 0; i < limits_count; i++)
			ring[i] = limits_ring[(limits_head + i) %
			    limits_ring_size];
		free(limits_ring);
		limits_ring = ring;
		limits_ring_size = limits_ring_size * 2 + 16;
		limits_head = 0;
	}
	if (limits_out == NULL)
		limits_out = buf_new(LIMITS_OUT_MAX);
	if (attr_put(limits_out, "request", request) < 0 ||
	    (service != NULL && attr_put(limits_out, "service", service) <
	    0) || (address != NULL && attr_put(limits_out, "address",
	    address) < 0) || (count_limit > 0 && attr_put_int(limits_out,
	    "count_limit", count_limit) < 0) || (id >= 0 &&
	    attr_put_int(limits_out, "id", id) < 0) || attr_end(limits_out) < 0)
		return -1;
	if (limits_count == 0)
		limits_oldest_ms = stream_clock_ms();
	limits_ring[(limits_head + limits_count) % limits_ring_size] =
	    (struct limits_entry) { kind, ps };
	limits_count++;
	if (ps != NULL)
		ps->limits_outstanding++;
	return 0;
}

static void
limits_release(struct proxy_session *ps, long long *id)
{
	long long held = *id;

	*id = -1;
	/* An id of an earlier anvil connection went with it. */
	if (held < 0 || ps->anvil_generation != limits_generation ||
	    limits_fd < 0)
		return;
	(void) limits_ask(LIMITS_DISCONNECT, "disconnect", NULL, NULL, NULL,
	    0, held);
}

/* The delay before a failed login's answer after failures in all. */
static int64_t
limits_fail_delay(long long failures)
{
	int64_t delay = var_auth_failure_delay * 1000;
	long long i;

	for (i = 1; i < failures && i <= LIMITS_DOUBLINGS_MAX; i++)
		delay *= 2;
	if (delay > var_proxy_auth_fail_delay_max * 1000)
		delay = var_proxy_auth_fail_delay_max * 1000;
	return delay;
}

/* One answer (NULL: anvil is gone, admit) for e. */
static void
limits_answer_one(const struct limits_entry *e, const struct attr_list *a)
{
	struct proxy_session *ps = e->ps;
	long long id = -1, rate = 0;
	int refused = a != NULL && attr_get(a, "refused") != NULL;

	if (a != NULL) {
		(void) attr_get_int(a, "id", &id);
		(void) attr_get_int(a, "rate", &rate);
	}
	switch (e->kind) {
	case LIMITS_IP_CONNECT:
	case LIMITS_USER_CONNECT:
		/*
		 * A refused connection is not open, nor is one whose session
		 * ended meanwhile: give the count back.
		 */
		if (id >= 0 && (ps == NULL || refused)) {
			(void) limits_ask(LIMITS_DISCONNECT, "disconnect",
			    NULL, NULL, NULL, 0, id);
			id = -1;
		}
		if (ps == NULL)
			return;
		ps->anvil_generation = limits_generation;
		if (e->kind == LIMITS_IP_CONNECT) {
			ps->anvil_ip_id = id;
			if (!refused || ps->state == PROXY_RELAY ||
			    ps->state == PROXY_CLOSING)
				return;
			log_info("proxy: client %s: too many sessions from "
			    "this address reason=proxy_max_sessions_per_ip "
			    "limit=%lld", ps->peer.client_addr,
			    var_proxy_max_sessions_per_ip);
			proxy_auth_cancel(ps);
			ps->front->bye(ps, "Too many connections from your "
			    "address");
			proxy_close(ps);
			return;
		}
		ps->anvil_user_id = id;
		if (refused)
			log_info("proxy: user=%s client=%s: too many sessions "
			    "reason=proxy_max_sessions_per_user limit=%lld",
			    ps->user, ps->peer.client_addr,
			    var_proxy_max_sessions_per_user);
		proxy_auth_user_admitted(ps, refused);
		return;
	case LIMITS_PEEK:
		if (ps == NULL)
			return;
		if (rate > ps->limits_failures)
			ps->limits_failures = rate;
		if (--ps->limits_peeks > 0)
			return;
		if (var_proxy_auth_fail_limit > 0 &&
		    ps->limits_failures >= var_proxy_auth_fail_limit) {
			log_info("proxy: login refused user=%s client=%s: %lld "
			    "failed logins reason=auth_fail_limit limit=%lld",
			    ps->login, ps->peer.client_addr,
			    ps->limits_failures, var_proxy_auth_fail_limit);
			proxy_auth_check_done(ps, 1);
		} else {
			proxy_auth_check_done(ps, 0);
		}
		return;
	case LIMITS_HIT:
		if (ps == NULL || rate <= ps->limits_failures)
			return;
		ps->limits_failures = rate;
		if (ps->state == PROXY_DELAY)
			ps->deadline = ps->delay_start +
			    limits_fail_delay(rate);
		return;
	case LIMITS_DISCONNECT:
	default:
		return;
	}
}

size_t
proxy_limits_pollfds(struct pollfd *fds)
{
	fds[0].fd = limits_fd;
	fds[0].events = limits_out != NULL && buf_len(limits_out) > 0 ?
	    POLLIN | POLLOUT : POLLIN;
	fds[0].revents = 0;
	return PROXY_LIMITS_FDS;
}

static void
limits_read(void)
{
	char chunk[4096], *end;
	struct limits_entry e;
	const char *error = NULL;
	ssize_t n;
	size_t len;

	n = read(limits_fd, chunk, sizeof(chunk));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		limits_drop(n == 0 ? "connection closed" : strerror(errno));
		return;
	}
	if (limits_in == NULL)
		limits_in = buf_new(2 * LIMITS_RECORD_MAX);
	if (buf_append(limits_in, chunk, (size_t) n) < 0) {
		limits_drop("answer too long");
		return;
	}
	while (limits_in != NULL && (end = memmem(buf_data(limits_in),
	    buf_len(limits_in), "\n\n", 2)) != NULL) {
		len = (size_t) (end - buf_data(limits_in)) + 2;
		if (limits_count == 0 || attr_parse(limits_answer,
		    buf_data(limits_in), len, &error) < 0) {
			limits_drop(limits_count == 0 ? "answer nobody asked "
			    "for" : error);
			return;
		}
		buf_consume(limits_in, len);
		e = limits_ring[limits_head];
		limits_head = (limits_head + 1) % limits_ring_size;
		limits_count--;
		limits_oldest_ms = stream_clock_ms();
		if (e.ps != NULL)
			e.ps->limits_outstanding--;
		limits_answer_one(&e, limits_answer);
	}
}

void
proxy_limits_dispatch(const struct pollfd *fds)
{
	ssize_t n;

	if (limits_fd < 0)
		return;
	if (limits_count > 0 && stream_clock_ms() - limits_oldest_ms >
	    var_anvil_timeout * 1000) {
		limits_drop("no answer within anvil_timeout");
		return;
	}
	if (limits_out != NULL && buf_len(limits_out) > 0) {
		n = write(limits_fd, buf_data(limits_out), buf_len(limits_out));
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			limits_drop(strerror(errno));
			return;
		}
		if (n > 0)
			buf_consume(limits_out, (size_t) n);
	}
	if (fds[0].revents & (POLLIN | POLLHUP | POLLERR))
		limits_read();
}

int64_t
proxy_limits_deadline(void)
{
	return limits_fd >= 0 && limits_count > 0 ? limits_oldest_ms +
	    var_anvil_timeout * 1000 + 1 : INT64_MAX;
}

void
proxy_limits_session_start(struct proxy_session *ps)
{
	ps->anvil_ip_id = -1;
	ps->anvil_user_id = -1;
	if (var_proxy_max_sessions_per_ip > 0)
		(void) limits_ask(LIMITS_IP_CONNECT, "connect", ps,
		    ps->peer.service, ps->peer.client_addr,
		    var_proxy_max_sessions_per_ip, -1);
}

void
proxy_limits_session_end(struct proxy_session *ps)
{
	size_t i;

	if (ps->limits_outstanding > 0)
		for (i = 0; i < limits_count; i++)
			if (limits_ring[(limits_head + i) %
			    limits_ring_size].ps == ps)
				limits_ring[(limits_head + i) %
				    limits_ring_size].ps = NULL;
	ps->limits_outstanding = 0;
	limits_release(ps, &ps->anvil_ip_id);
	limits_release(ps, &ps->anvil_user_id);
}

void
proxy_limits_check_login(struct proxy_session *ps)
{
	ps->limits_failures = 0;
	ps->limits_peeks = 0;
	if (var_proxy_auth_fail_limit == 0) {
		proxy_auth_check_done(ps, 0);
		return;
	}
	if (limits_ask(LIMITS_PEEK, "peek", ps, "proxy-authfail-ip",
	    ps->peer.client_addr, 0, -1) == 0)
		ps->limits_peeks++;
	if (limits_ask(LIMITS_PEEK, "peek", ps, "proxy-authfail-user",
	    ps->login, 0, -1) == 0)
		ps->limits_peeks++;
	if (ps->limits_peeks == 0)
		proxy_auth_check_done(ps, 0);
}

void
proxy_limits_login_failed(struct proxy_session *ps)
{
	long long known = ps->limits_failures + 1;

	if (known < ps->auth_failures)
		known = ps->auth_failures;
	ps->delay_start = stream_clock_ms();
	ps->fail_delay_ms = limits_fail_delay(known);
	(void) limits_ask(LIMITS_HIT, "hit", ps, "proxy-authfail-ip",
	    ps->peer.client_addr, 0, -1);
	(void) limits_ask(LIMITS_HIT, "hit", ps, "proxy-authfail-user",
	    ps->login, 0, -1);
}

void
proxy_limits_user_start(struct proxy_session *ps)
{
	if (var_proxy_max_sessions_per_user == 0 ||
	    limits_ask(LIMITS_USER_CONNECT, "connect", ps, "proxy-user",
	    ps->user, var_proxy_max_sessions_per_user, -1) < 0)
		proxy_auth_user_admitted(ps, 0);
}

/*
 * proxy_auth: login checks through authd(8) without blocking the loop
 * (proxy_auth.h).
 *
 * Sessions that want an answer wait in one FIFO; up to PROXY_AUTH_CONNS
 * connections to private/auth each carry one request at a time (authd
 * answers in order, one process per connection, so a connection is one
 * lookup running at once).  A connection is closed when its answer came
 * and nobody waits, so the authd processes are free for the other
 * proxyd processes.  A request whose connection breaks (authd closed it
 * as idle just then, or crashed) is asked once more on a new one; after
 * that, and when authd does not answer within proxy_auth_timeout, the
 * answer is a temporary failure, never "bad password".
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth_client.h"
#include "buf.h"
#include "log.h"
#include "mail_params.h"
#include "proxy_auth.h"
#include "proxy_limits.h"
#include "proxyd.h"
#include "stream.h"
#include "xalloc.h"

struct proxy_auth_conn {
	int fd;				/* -1: not open */
	struct buf *out;		/* the request not yet written */
	struct buf *in;			/* the answer read so far */
	struct proxy_session *ps;	/* whose request it carries */
};

static struct proxy_auth_conn proxy_auth_conns[PROXY_AUTH_CONNS];
static struct proxy_session *proxy_auth_head, *proxy_auth_tail;

int
proxy_auth_init(char **error_r)
{
	size_t i;

	(void) error_r;
	for (i = 0; i < PROXY_AUTH_CONNS; i++)
		proxy_auth_conns[i].fd = -1;
	return 0;
}

static void
proxy_auth_conn_close(struct proxy_auth_conn *ac)
{
	if (ac->fd >= 0)
		(void) close(ac->fd);
	ac->fd = -1;
	if (ac->out != NULL)
		explicit_bzero(buf_data(ac->out), buf_len(ac->out));
	buf_free(&ac->out);
	buf_free(&ac->in);
	if (ac->ps != NULL)
		ac->ps->auth_conn = NULL;
	ac->ps = NULL;
}

static void
proxy_auth_enqueue(struct proxy_session *ps, int front)
{
	ps->auth_queued = 1;
	ps->auth_next = NULL;
	if (proxy_auth_head == NULL) {
		proxy_auth_head = proxy_auth_tail = ps;
	} else if (front) {
		ps->auth_next = proxy_auth_head;
		proxy_auth_head = ps;
	} else {
		proxy_auth_tail->auth_next = ps;
		proxy_auth_tail = ps;
	}
}

static struct proxy_session *
proxy_auth_dequeue(void)
{
	struct proxy_session *ps = proxy_auth_head;

	if (ps == NULL)
		return NULL;
	proxy_auth_head = ps->auth_next;
	if (proxy_auth_head == NULL)
		proxy_auth_tail = NULL;
	ps->auth_next = NULL;
	ps->auth_queued = 0;
	return ps;
}

/* Hand ps its answer and let its front go on. */
static void
proxy_auth_answer(struct proxy_session *ps, enum proxy_auth_status status,
	const char *user, const char *hosts, const char *reason)
{
	ps->auth_status = status;
	free(ps->auth_reason);
	ps->auth_reason = xstrdup(reason != NULL ? reason :
	    status == PROXY_AUTH_TEMPFAIL ? "authentication service "
	    "unavailable" : "invalid credentials");
	if (status == PROXY_AUTH_OK) {
		free(ps->user);
		ps->user = xstrdup(user != NULL ? user : ps->login);
		free(ps->hosts);
		ps->hosts = xstrdup(ps->front->backend_hosts != NULL ?
		    *ps->front->backend_hosts : hosts != NULL ? hosts : "");
		ps->host_next = 0;
		/* The account's session count decides (proxy_limits.h). */
		proxy_limits_user_start(ps);
		return;
	}
	if (status == PROXY_AUTH_FAIL)
		proxy_limits_login_failed(ps);
	ps->front->auth_done(ps);
}

/* Give the waiting sessions free connections (new ones as needed). */
static void
proxy_auth_pump(void)
{
	struct proxy_auth_conn *ac;
	struct proxy_session *ps;
	char *error = NULL;
	size_t i;

	while (proxy_auth_head != NULL) {
		ac = NULL;
		for (i = 0; i < PROXY_AUTH_CONNS && ac == NULL; i++)
			if (proxy_auth_conns[i].fd >= 0 &&
			    proxy_auth_conns[i].ps == NULL)
				ac = &proxy_auth_conns[i];
		for (i = 0; i < PROXY_AUTH_CONNS && ac == NULL; i++)
			if (proxy_auth_conns[i].fd < 0)
				ac = &proxy_auth_conns[i];
		if (ac == NULL)
			return;
		ps = proxy_auth_dequeue();
		if (ac->fd < 0) {
			ac->fd = auth_client_connect(var_queue_directory,
			    &error);
			if (ac->fd < 0) {
				log_warn("authd: %s", error);
				free(error);
				error = NULL;
				proxy_auth_answer(ps, PROXY_AUTH_TEMPFAIL, NULL,
				    NULL, "authentication service unavailable");
				continue;
			}
		}
		ac->out = buf_new(AUTH_REPLY_MAX);
		if (auth_client_request(ac->out, ps->front->auth_service,
		    ps->login, ps->password, ps->peer.client_addr) < 0) {
			buf_free(&ac->out);
			/* An empty or over-long login or password. */
			proxy_auth_answer(ps, PROXY_AUTH_FAIL, NULL, NULL,
			    "invalid login or password");
			continue;
		}
		ac->ps = ps;
		ps->auth_conn = ac;
	}
}

void
proxy_auth_start(struct proxy_session *ps, char *login, char *password)
{
	free(ps->login);
	ps->login = login;
	proxy_forget_password(ps);
	ps->password = password;
	ps->auth_retried = 0;
	ps->state = PROXY_AUTH;
	ps->deadline = stream_clock_ms() + var_proxy_auth_timeout * 1000;
	proxy_limits_check_login(ps);
}

void
proxy_auth_check_done(struct proxy_session *ps, int refused)
{
	if (ps->state != PROXY_AUTH)
		return;
	if (refused) {
		ps->auth_status = PROXY_AUTH_TEMPFAIL;
		free(ps->auth_reason);
		ps->auth_reason = xstrdup("too many failed logins");
		ps->front->auth_done(ps);
		return;
	}
	proxy_auth_enqueue(ps, 0);
	proxy_auth_pump();
}

void
proxy_auth_user_admitted(struct proxy_session *ps, int refused)
{
	if (ps->state != PROXY_AUTH)
		return;
	if (refused) {
		ps->auth_status = PROXY_AUTH_TEMPFAIL;
		free(ps->auth_reason);
		ps->auth_reason = xstrdup("too many sessions for this account");
	}
	ps->front->auth_done(ps);
}

void
proxy_auth_cancel(struct proxy_session *ps)
{
	struct proxy_session **pp;

	if (ps->auth_queued) {
		for (pp = &proxy_auth_head; *pp != NULL;
		    pp = &(*pp)->auth_next) {
			if (*pp != ps)
				continue;
			*pp = ps->auth_next;
			break;
		}
		proxy_auth_tail = NULL;
		for (pp = &proxy_auth_head; *pp != NULL;
		    pp = &(*pp)->auth_next)
			proxy_auth_tail = *pp;
		ps->auth_queued = 0;
	}
	/* Its answer would come for nobody: that connection is done. */
	if (ps->auth_conn != NULL)
		proxy_auth_conn_close(ps->auth_conn);
}

void
proxy_auth_timeout(struct proxy_session *ps)
{
	log_warn("authd: no answer within %llds for client %s",
	    var_proxy_auth_timeout, ps->peer.client_addr);
	proxy_auth_cancel(ps);
	proxy_auth_answer(ps, PROXY_AUTH_TEMPFAIL, NULL, NULL,
	    "authentication service timeout");
}

size_t
proxy_auth_pollfds(struct pollfd *fds)
{
	struct proxy_auth_conn *ac;
	size_t i;

	for (i = 0; i < PROXY_AUTH_CONNS; i++) {
		ac = &proxy_auth_conns[i];
		fds[i].fd = ac->fd;
		fds[i].events = ac->out != NULL ? POLLOUT : POLLIN;
		fds[i].revents = 0;
	}
	return PROXY_AUTH_CONNS;
}

/* The connection broke: ask again once, elsewhere, else tempfail. */
static void
proxy_auth_conn_broken(struct proxy_auth_conn *ac, const char *why)
{
	struct proxy_session *ps = ac->ps;

	proxy_auth_conn_close(ac);
	if (ps == NULL)
		return;
	if (!ps->auth_retried) {
		ps->auth_retried = 1;
		proxy_auth_enqueue(ps, 1);
		return;
	}
	log_warn("authd: %s", why);
	proxy_auth_answer(ps, PROXY_AUTH_TEMPFAIL, NULL, NULL,
	    "authentication service unavailable");
}

static void
proxy_auth_conn_io(struct proxy_auth_conn *ac)
{
	struct auth_reply reply;
	struct proxy_session *ps;
	const char *error = NULL;
	char chunk[4096];
	ssize_t n;
	int rc;

	if (ac->out != NULL) {
		n = write(ac->fd, buf_data(ac->out), buf_len(ac->out));
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			proxy_auth_conn_broken(ac, "write to authd failed");
			return;
		}
		buf_consume(ac->out, (size_t) n);
		if (buf_len(ac->out) > 0)
			return;
		buf_free(&ac->out);
	}
	n = read(ac->fd, chunk, sizeof(chunk));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		proxy_auth_conn_broken(ac, "authd closed the connection");
		return;
	}
	if (ac->ps == NULL) {
		/* Nothing asked: a stray answer. */
		proxy_auth_conn_close(ac);
		return;
	}
	if (ac->in == NULL)
		ac->in = buf_new(2 * AUTH_REPLY_MAX);
	if (buf_append(ac->in, chunk, (size_t) n) < 0) {
		proxy_auth_conn_broken(ac, "answer too long");
		return;
	}
	memset(&reply, 0, sizeof(reply));
	rc = auth_client_reply_parse(ac->in, &reply, &error);
	if (rc == 0)
		return;
	if (rc < 0 || reply.status == AUTH_ERROR) {
		log_error("authd: bad answer: %s", rc < 0 ? error :
		    reply.reason != NULL ? reply.reason : "error");
		auth_reply_clear(&reply);
		ps = ac->ps;
		ps->auth_retried = 1;
		proxy_auth_conn_broken(ac, "bad answer");
		return;
	}
	ps = ac->ps;
	ac->ps = NULL;
	ps->auth_conn = NULL;
	buf_free(&ac->in);
	/* Nobody waits: free the authd process for others. */
	if (proxy_auth_head == NULL)
		proxy_auth_conn_close(ac);
	proxy_auth_answer(ps, reply.status == AUTH_OK ? PROXY_AUTH_OK :
	    reply.status == AUTH_FAIL ? PROXY_AUTH_FAIL : PROXY_AUTH_TEMPFAIL,
	    reply.user, reply.hosts, reply.reason);
	auth_reply_clear(&reply);
}

void
proxy_auth_dispatch(const struct pollfd *fds)
{
	size_t i;

	for (i = 0; i < PROXY_AUTH_CONNS; i++)
		if (proxy_auth_conns[i].fd >= 0 && fds[i].revents != 0)
			proxy_auth_conn_io(&proxy_auth_conns[i]);
	proxy_auth_pump();
}

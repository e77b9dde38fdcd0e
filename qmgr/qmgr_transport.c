/*
 * qmgr_transport: next hops and the delivery agents.
 *
 * A hop is a transport (the agent service: private/lmtp, private/smtp)
 * and a next hop (store host, domain).  Each hop runs at most
 * qmgr_destination_concurrency_limit jobs at once, and all hops together
 * at most qmgr_agent_limit; the rest wait in the hop's list.  A job is
 * one connection to the agent's socket carrying one request; the agent
 * answers one result per recipient.  When the agent says the hop itself
 * is down (cannot connect, greeting refused), the hop is dead for
 * minimal_backoff: its waiting jobs and new ones are deferred without
 * another attempt, so a dead store host costs one try, not one per
 * message.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "attr.h"
#include "buf.h"
#include "log.h"
#include "mail_params.h"
#include "metrics.h"
#include "qfile.h"
#include "qmgr.h"
#include "route.h"
#include "srs.h"
#include "xalloc.h"

/* The largest agent reply (one result line per recipient). */
#define QMGR_REPLY_MAX (4 * 1024 * 1024)

static struct qmgr_hop *hops;
static struct qmgr_job **active_jobs;
static size_t active_count, active_alloc;
static int draining;

int
qmgr_transport_active(void)
{
	return (int) active_count;
}

struct qmgr_hop *
qmgr_hop_get(const char *transport, const char *nexthop)
{
	struct qmgr_hop *h;

	for (h = hops; h != NULL; h = h->next) {
		if (strcmp(h->transport, transport) == 0 &&
		    strcasecmp(h->nexthop, nexthop) == 0)
			return h;
	}
	h = xcalloc(1, sizeof(*h));
	h->transport = xstrdup(transport);
	h->nexthop = xstrdup(nexthop);
	h->next = hops;
	hops = h;
	return h;
}

void
qmgr_job_free(struct qmgr_job *job)
{
	size_t i;

	if (job->fd >= 0)
		close(job->fd);
	for (i = 0; i < job->count; i++)
		free(job->addresses[i]);
	free(job->addresses);
	free(job->rcpts);
	buf_free(&job->out);
	buf_free(&job->in);
	free(job);
}

/* Give every recipient of the job the same (temporary) result. */
static void
qmgr_job_defer_all(struct qmgr_job *job, const char *code, const char *dsn,
	const char *text)
{
	size_t i;

	log_set_context(job->msg->id);
	for (i = 0; i < job->count; i++)
		qmgr_message_result(job->msg, job->rcpts[i], code, dsn, text);
	log_set_context(NULL);
}

/* The job is over: tell its message, free it. */
static void
qmgr_job_finish(struct qmgr_job *job)
{
	struct qmgr_msg *msg = job->msg;

	qmgr_job_free(job);
	qmgr_message_job_done(msg);
}

static void qmgr_transport_pump(struct qmgr_hop *hop);

static void
qmgr_hop_dead(struct qmgr_hop *hop, const char *reason)
{
	struct qmgr_job *job;

	hop->dead_until_ms = qmgr_now_ms() + var_minimal_backoff * 1000;
	free(hop->dead_reason);
	hop->dead_reason = xstrdup(reason);
	log_warn("%s:%s is down (%s): deferring its mail for %llds",
	    hop->transport, hop->nexthop, reason, var_minimal_backoff);
	while ((job = hop->waiting) != NULL) {
		hop->waiting = job->next;
		if (hop->waiting == NULL)
			hop->waiting_tail = NULL;
		qmgr_job_defer_all(job, "451", "4.4.1", reason);
		qmgr_job_finish(job);
	}
}

/*
 * The envelope sender for remote delivery: mail from outside that we
 * send on (forwards) gets an SRS sender so it passes SPF where it goes;
 * our customers' own mail keeps theirs.  A new string.
 */
static char *
qmgr_job_sender(const struct qmgr_job *job)
{
	const char *sender = job->msg->qf->sender, *at;
	struct route_domain *dom = NULL;
	struct route *r;
	char *error = NULL, *srs;
	int ours;

	if (strncmp(job->hop->transport, "smtp", 4) != 0 || !srs_enabled() ||
	    *sender == '\0' || (at = strrchr(sender, '@')) == NULL)
		return xstrdup(sender);
	r = qmgr_route();
	ours = r != NULL ? route_domain_lookup(r, at + 1, &dom, &error) : -1;
	route_domain_free(&dom);
	free(error);
	error = NULL;
	if (ours != 0)
		return xstrdup(sender);	/* ours, or unknown now: keep it */
	srs = srs_forward_sender(sender, &error);
	if (srs == NULL) {
		log_warn("%s: SRS for <%s>: %s; sending it unchanged",
		    job->msg->id, sender, error);
		free(error);
		return xstrdup(sender);
	}
	return srs;
}

static int
qmgr_job_request(struct qmgr_job *job)
{
	const struct qfile *qf = job->msg->qf;
	struct buf *out = buf_new(QMGR_REPLY_MAX);
	const struct qfile_rcpt *r;
	char *sender;
	size_t i, k;

	(void) attr_put(out, "request", "deliver");
	(void) attr_put(out, "protocol", job->hop->transport);
	(void) attr_put(out, "queue_id", job->msg->id);
	(void) attr_put(out, "queue_file", job->msg->path);
	(void) attr_put(out, "nexthop", job->hop->nexthop);
	sender = qmgr_job_sender(job);
	(void) attr_put(out, "sender", sender);
	free(sender);
	if (qf->body_8bit)
		(void) attr_put(out, "body", "8BITMIME");
	if (qf->smtputf8)
		(void) attr_put(out, "smtputf8", "1");
	if (qf->envid != NULL)
		(void) attr_put(out, "envid", qf->envid);
	if (qf->ret != QFILE_RET_DEFAULT)
		(void) attr_put(out, "ret", qf->ret == QFILE_RET_FULL ? "FULL" :
		    "HDRS");
	for (i = 0; i < job->count; i++) {
		/* Each address once; duplicates share its result. */
		for (k = 0; k < i; k++) {
			if (strcasecmp(job->addresses[k],
			    job->addresses[i]) == 0)
				break;
		}
		if (k < i)
			continue;
		r = qfile_rcpt_find(job->msg->qf, job->rcpts[i]);
		/* Each rcpt is followed by its DSN options (maybe empty). */
		if (attr_put(out, "rcpt", job->addresses[i]) < 0 ||
		    attr_put(out, "rcpt_notify", r != NULL && r->notify != 0 ?
		    qfile_notify_text(r->notify) : "") < 0 ||
		    attr_put(out, "rcpt_orcpt", r != NULL && r->orcpt != NULL ?
		    r->orcpt : "") < 0 ||
		    attr_put(out, "rcpt_folder", r != NULL &&
		    qfile_rcpt_folder(job->msg->qf, r) != NULL ?
		    qfile_rcpt_folder(job->msg->qf, r) : "") < 0) {
			buf_free(&out);
			return -1;
		}
	}
	(void) attr_end(out);
	job->out = out;
	job->out_done = 0;
	return 0;
}

static void
qmgr_job_start(struct qmgr_job *job)
{
	struct sockaddr_un sun;
	char text[512];

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if ((size_t) snprintf(sun.sun_path, sizeof(sun.sun_path),
	    "%s/private/%s", var_queue_directory, job->hop->transport) >=
	    sizeof(sun.sun_path)) {
		qmgr_job_defer_all(job, "451", "4.3.0", "agent socket path too "
		    "long");
		qmgr_job_finish(job);
		return;
	}
	job->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (job->fd < 0 || connect(job->fd, (struct sockaddr *) &sun,
	    sizeof(sun)) < 0) {
		snprintf(text, sizeof(text), "delivery service %s is not "
		    "available: %s", job->hop->transport, strerror(errno));
		qmgr_job_defer_all(job, "451", "4.3.0", text);
		qmgr_job_finish(job);
		return;
	}
	if (qmgr_job_request(job) < 0) {
		qmgr_job_defer_all(job, "451", "4.3.0", "request too large");
		qmgr_job_finish(job);
		return;
	}
	job->in = buf_new(QMGR_REPLY_MAX);
	job->deadline_ms = qmgr_now_ms() + var_qmgr_agent_timeout * 1000;
	job->hop->active++;
	if (active_count == active_alloc) {
		active_alloc = active_alloc == 0 ? 64 : active_alloc * 2;
		active_jobs = xreallocarray(active_jobs, active_alloc,
		    sizeof(*active_jobs));
	}
	active_jobs[active_count++] = job;
}

/*
 * One agent answer per next hop.  Remote SMTP destinations are countless,
 * so only lmtp hops (the store hosts) and explicit relay hops ("[...]")
 * are named; other SMTP hops count under "*".
 */
static void
qmgr_transport_count(const struct qmgr_hop *hop, const char *code)
{
	metrics_inc("ispmail_delivery_hop_total", "transport", hop->transport,
	    "nexthop", strcmp(hop->transport, "lmtp") == 0
	    || hop->nexthop[0] == '[' ? hop->nexthop : "*", "result",
	    code[0] == '2' ? "sent" : code[0] == '5' ? "bounced" : "deferred",
	    NULL);
}

/*
 * A job that must wait because its hop is at its concurrency cap: that is
 * the cap working, not a failure; logged at most once a minute.
 */
static void
qmgr_transport_cap_reached(const struct qmgr_hop *hop)
{
	static long long last_log_ms;
	long long now = qmgr_now_ms();

	metrics_inc("ispmail_cap_reached_total", "at",
	    "qmgr_destination_concurrency_limit", NULL);
	if (last_log_ms != 0 && now - last_log_ms < 60 * 1000)
		return;
	last_log_ms = now;
	log_info("cap reached at qmgr_destination_concurrency_limit: "
	    "transport=%s nexthop=%s active=%d", hop->transport, hop->nexthop,
	    hop->active);
}

static void
qmgr_transport_pump(struct qmgr_hop *hop)
{
	struct qmgr_job *job;

	while (!draining && (job = hop->waiting) != NULL &&
	    hop->active < var_qmgr_destination_concurrency_limit &&
	    (long long) active_count < qmgr_agent_limit) {
		hop->waiting = job->next;
		if (hop->waiting == NULL)
			hop->waiting_tail = NULL;
		job->next = NULL;
		qmgr_job_start(job);
	}
}

void
qmgr_transport_submit(struct qmgr_job *job)
{
	struct qmgr_hop *hop = job->hop;

	if (hop->dead_until_ms > qmgr_now_ms()) {
		qmgr_job_defer_all(job, "451", "4.4.1", hop->dead_reason);
		qmgr_job_finish(job);
		return;
	}
	job->next = NULL;
	if (hop->waiting_tail != NULL)
		hop->waiting_tail->next = job;
	else
		hop->waiting = job;
	hop->waiting_tail = job;
	if (hop->active >= var_qmgr_destination_concurrency_limit)
		qmgr_transport_cap_reached(hop);
	qmgr_transport_pump(hop);
}

static void
qmgr_job_remove_active(struct qmgr_job *job)
{
	size_t i;

	for (i = 0; i < active_count; i++) {
		if (active_jobs[i] == job) {
			active_jobs[i] = active_jobs[--active_count];
			break;
		}
	}
	job->hop->active--;
}

/* Apply the agent's reply record. */
static void
qmgr_job_reply(struct qmgr_job *job)
{
	struct attr_list *l = attr_list_new(100000, 64 * 1024);
	const char *error, *name, *value, *hop_status;
	char code[4], dsn[16];
	size_t i, k, idx = 0, n;
	int consumed;

	log_set_context(job->msg->id);
	if (attr_parse(l, buf_cstr(job->in), buf_len(job->in), &error) < 0) {
		log_error("bad reply from the %s agent: %s",
		    job->hop->transport, error);
		qmgr_job_defer_all(job, "451", "4.3.0", "bad reply from the "
		    "delivery agent");
		attr_list_free(&l);
		return;
	}
	/* Results come in the order of the unique addresses sent. */
	for (n = 0; (name = attr_nth(l, n, &value, NULL)) != NULL; n++) {
		if (strcmp(name, "result") != 0)
			continue;
		while (idx < job->count) {
			for (k = 0; k < idx; k++) {
				if (strcasecmp(job->addresses[k],
				    job->addresses[idx]) == 0)
					break;
			}
			if (k == idx)
				break;
			idx++;
		}
		if (idx == job->count)
			break;
		consumed = 0;
		if (sscanf(value, "%3[0-9] %15s %n", code, dsn, &consumed) < 2 ||
		    (code[0] != '2' && code[0] != '4' && code[0] != '5')) {
			snprintf(code, sizeof(code), "451");
			snprintf(dsn, sizeof(dsn), "4.3.0");
			consumed = (int) strlen(value);
		}
		for (i = idx; i < job->count; i++) {
			if (strcasecmp(job->addresses[i],
			    job->addresses[idx]) != 0)
				continue;
			qmgr_message_result(job->msg, job->rcpts[i],
			    code, dsn, value + consumed);
			qmgr_transport_count(job->hop, code);
		}
		idx++;
	}
	/* Anything not answered is deferred. */
	for (; idx < job->count; idx++) {
		for (k = 0; k < idx; k++) {
			if (strcasecmp(job->addresses[k],
			    job->addresses[idx]) == 0)
				break;
		}
		if (k == idx)
			qmgr_message_result(job->msg, job->rcpts[idx], "451",
			    "4.3.0", "no result from the delivery agent");
	}
	/* SMTP: who reports the success now (RFC 3461 6.2). */
	if (strcmp(job->hop->transport, "lmtp") != 0) {
		int remote_dsn = attr_get(l, "remote_dsn") != NULL;

		for (i = 0; i < job->count; i++)
			qmgr_message_relayed(job->msg, job->rcpts[i],
			    remote_dsn);
	}
	hop_status = attr_get(l, "hop_status");
	if (hop_status != NULL && strcmp(hop_status, "dead") == 0) {
		value = attr_get(l, "hop_reason");
		qmgr_hop_dead(job->hop, value != NULL ? value : "unreachable");
	}
	attr_list_free(&l);
	log_set_context(NULL);
}

static void
qmgr_job_event(int fd, short revents, void *ctx)
{
	struct qmgr_job *job = ctx;
	struct qmgr_hop *hop = job->hop;
	char chunk[8192];
	const char *data;
	size_t len;
	ssize_t n;

	(void) fd;
	if (job->out_done < buf_len(job->out)) {
		n = send(job->fd, buf_cstr(job->out) + job->out_done,
		    buf_len(job->out) - job->out_done, MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			goto failed;
		if (n > 0)
			job->out_done += (size_t) n;
		return;
	}
	if (!(revents & (POLLIN | POLLHUP | POLLERR)))
		return;
	n = recv(job->fd, chunk, sizeof(chunk), 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0 || buf_append(job->in, chunk, (size_t) n) < 0)
		goto failed;
	data = buf_cstr(job->in);
	len = buf_len(job->in);
	if (!((len == 1 && data[0] == '\n') ||
	    (len >= 2 && data[len - 2] == '\n' && data[len - 1] == '\n')))
		return;
	qmgr_job_remove_active(job);
	qmgr_job_reply(job);
	qmgr_job_finish(job);
	qmgr_transport_pump(hop);
	return;
failed:
	qmgr_job_remove_active(job);
	log_warn("%s: %s delivery agent failed (%s)", job->msg->id,
	    hop->transport, n == 0 ? "connection closed" : strerror(errno));
	qmgr_job_defer_all(job, "451", "4.3.0", "delivery agent failed");
	qmgr_job_finish(job);
	qmgr_transport_pump(hop);
}

void
qmgr_transport_watch(void)
{
	long long now = qmgr_now_ms();
	struct qmgr_job *job;
	struct qmgr_hop *hop;
	size_t i;

	for (i = 0; i < active_count; ) {
		job = active_jobs[i];
		if (now >= job->deadline_ms) {
			hop = job->hop;
			qmgr_job_remove_active(job);
			log_warn("%s: %s delivery agent timed out",
			    job->msg->id, hop->transport);
			qmgr_job_defer_all(job, "451", "4.4.2", "delivery agent "
			    "timed out");
			qmgr_job_finish(job);
			qmgr_transport_pump(hop);
			i = 0;
			continue;
		}
		qmgr_watch(job->fd, job->out_done < buf_len(job->out) ?
		    POLLOUT : POLLIN, qmgr_job_event, job);
		qmgr_deadline(job->deadline_ms);
		i++;
	}
	for (hop = hops; hop != NULL; hop = hop->next) {
		if (hop->waiting != NULL)
			qmgr_transport_pump(hop);
	}
}

void
qmgr_transport_drain(void)
{
	draining = 1;
}

void
qmgr_transport_revive(void)
{
	struct qmgr_hop *hop;

	for (hop = hops; hop != NULL; hop = hop->next)
		hop->dead_until_ms = 0;
}

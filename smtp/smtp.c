/*
 * smtp: the delivery agent.  qmgr connects to its service socket
 * (private/lmtp for the store hosts; private/smtp and private/smtp-CLASS
 * for remote mail), sends one request -- queue file, next hop, sender,
 * DSN options, recipients -- and reads back one result per recipient, and
 * hop_status=dead when no host of the next hop could be reached.  The
 * agent reads the message from the queue file itself.
 *
 * LMTP mode (protocol=lmtp) speaks RFC 2033 to lmtpd on the store host;
 * SMTP mode (protocol=smtp) finds the remote MX hosts (smtp_route.c) and
 * speaks ESMTP with STARTTLS per the TLS policy (smtp_tls.c).  Both share
 * the protocol client and its connection cache (smtp_session.c).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <unistd.h>

#include "attr.h"
#include "buf.h"
#include "dns.h"
#include "log.h"
#include "mail_params.h"
#include "qfile.h"
#include "service.h"
#include "smtp.h"
#include "stream.h"
#include "xalloc.h"

/* How long an agent waits for the lock (qmgr only tests it, briefly). */
#define SMTP_LOCK_TRIES 200
#define SMTP_LOCK_WAIT_US 50000

/*
 * Mark a delivered address done in the queue file at once, as Postfix's
 * agents do: if qmgr dies before it reads our answer, the next qmgr
 * must not deliver it again.  Only the moment between the server's 250
 * and this one-byte write can still cause a duplicate; for LMTP to our
 * lmtpd the XQUEUEID closes that too (lmtpd_seen.h).
 */
static void
smtp_mark_done(struct smtp_job *job, const char *address)
{
	const struct qfile *qf = job->qf;
	char *error = NULL;
	size_t k;

	if (qf == NULL)
		return;
	for (k = 0; k < qf->rcpt_count; k++) {
		if (qf->rcpts[k].state != QFILE_RCPT_PENDING ||
		    strcasecmp(qf->rcpts[k].address, address) != 0)
			continue;
		if (qfile_set_state(job->qfd, qf->rcpts[k].state_offset,
		    QFILE_RCPT_DONE, &error) < 0) {
			log_warn("%s: %s", job->queue_id, error);
			free(error);
			error = NULL;
		}
	}
}

/*
 * Take a shared lock on the queue file, held until the job ends.  The
 * agents of one qmgr share it (one message may be in delivery to several
 * next hops at once); a qmgr that starts a message tests it exclusively,
 * so it never starts one an agent of a qmgr that died still delivers.
 */
static int
smtp_lock_queue_file(int fd)
{
	int tries;

	for (tries = 0; tries < SMTP_LOCK_TRIES; tries++) {
		if (flock(fd, LOCK_SH | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK && errno != EINTR)
			return -1;
		(void) usleep(SMTP_LOCK_WAIT_US);
	}
	errno = EWOULDBLOCK;
	return -1;
}

/* Does the file (read under the lock) mark address done, none pending? */
static int
smtp_rcpt_done(const struct qfile *qf, const char *address)
{
	int done = 0;
	size_t k;

	for (k = 0; k < qf->rcpt_count; k++) {
		if (strcasecmp(qf->rcpts[k].address, address) != 0)
			continue;
		if (qf->rcpts[k].state == QFILE_RCPT_PENDING)
			return 0;
		done |= qf->rcpts[k].state == QFILE_RCPT_DONE;
	}
	return done;
}

/*
 * A request can reach us after the qmgr that sent it died (it waited in
 * the listen queue) and after another agent delivered the same
 * recipients: those the file marks done are answered 250 at once and
 * never delivered again; the rest are delivered.
 */
static void
smtp_deliver_pending(struct smtp_job *job)
{
	struct smtp_rcpt *all = job->rcpts, *pending;
	size_t count = job->count, n = 0, i, k;

	pending = xcalloc(count, sizeof(*pending));
	for (i = 0; i < count; i++) {
		if (smtp_rcpt_done(job->qf, all[i].address)) {
			log_info("to=<%s> already delivered: skipped",
			    all[i].address);
			all[i].result = xstrdup("250 2.0.0 already delivered");
		} else {
			pending[n++] = all[i];
		}
	}
	if (n > 0) {
		job->rcpts = pending;
		job->count = n;
		smtp_session_deliver(job);
		job->rcpts = all;
		job->count = count;
		for (i = 0, k = 0; i < count; i++)
			if (all[i].result == NULL)
				all[i].result = pending[k++].result;
	}
	free(pending);
}

void
smtp_result(struct smtp_job *job, size_t i, const char *code,
	const char *dsn, const char *text)
{
	if (job->rcpts[i].result != NULL)
		return;
	job->rcpts[i].result = xasprintf("%s %s %s", code, dsn, text);
	if (code[0] == '2')
		smtp_mark_done(job, job->rcpts[i].address);
}

void
smtp_fail_rest(struct smtp_job *job, const char *code, const char *dsn,
	const char *text)
{
	size_t i;

	for (i = 0; i < job->count; i++)
		smtp_result(job, i, code, dsn, text);
}

const char *
smtp_helo_name(void)
{
	if (*var_smtp_helo_name != '\0')
		return var_smtp_helo_name;
	return mail_hostname();
}

struct dns *
smtp_dns(const char **error_r)
{
	static struct dns *dns;
	static char *open_error;

	if (dns == NULL) {
		free(open_error);
		open_error = NULL;
		/*
		 * With DANE, every lookup of the agent (MX, addresses,
		 * TLSA) goes to the validating resolvers: RFC 7672 2.2
		 * needs the MX and address answers validated too.
		 */
		if (*var_smtp_dnssec_resolvers != '\0') {
			long long ms = var_dns_timeout * 1000;

			dns = dns_open_dnssec(var_smtp_dnssec_resolvers,
			    ms > INT_MAX ? INT_MAX : (int) ms,
			    (int) var_dns_tries, &open_error);
		} else {
			dns = dns_open_params(&open_error);
		}
		if (dns == NULL) {
			log_error("resolver: %s", open_error);
			*error_r = open_error;
		}
	}
	return dns;
}

/*
 * Collect the recipients: each rcpt, then its rcpt_notify, rcpt_orcpt
 * and rcpt_folder.
 */
static void
smtp_job_rcpts(struct smtp_job *job, const struct attr_list *l)
{
	const char *name, *value;
	size_t n;

	for (n = 0; (name = attr_nth(l, n, &value, NULL)) != NULL; n++) {
		if (strcmp(name, "rcpt") == 0) {
			job->rcpts = xreallocarray(job->rcpts, job->count + 1,
			    sizeof(*job->rcpts));
			memset(&job->rcpts[job->count], 0,
			    sizeof(*job->rcpts));
			job->rcpts[job->count++].address = value;
		} else if (job->count > 0 &&
		    strcmp(name, "rcpt_notify") == 0) {
			job->rcpts[job->count - 1].notify = value;
		} else if (job->count > 0 &&
		    strcmp(name, "rcpt_orcpt") == 0) {
			job->rcpts[job->count - 1].orcpt = value;
		} else if (job->count > 0 &&
		    strcmp(name, "rcpt_folder") == 0) {
			job->rcpts[job->count - 1].folder = value;
		}
	}
}

/*
 * Requests of a qmgr that died sit in the service's listen queue; the
 * next qmgr hands the same messages to other agents.  A request whose
 * qmgr has hung up is dropped before anything is delivered.
 */
static int
smtp_qmgr_gone(int qmgr_fd, const char *queue_id)
{
	struct pollfd pfd = { .fd = qmgr_fd, .events = POLLRDHUP };

	if (poll(&pfd, 1, 0) > 0 && (pfd.revents &
	    (POLLRDHUP | POLLHUP | POLLERR)) != 0) {
		log_info("%s: qmgr went away before the delivery started; "
		    "request dropped", queue_id);
		return 1;
	}
	return 0;
}

static void
smtp_handle(int fd, const struct service_peer *peer, void *ctx)
{
	struct attr_list *l = attr_list_new((size_t) var_attr_count_limit,
	    (size_t) var_attr_value_limit);
	struct stream *s = stream_new(fd, (int) (var_ipc_timeout * 1000),
	    (int) (var_ipc_timeout * 1000));
	struct smtp_job job;
	struct qfile *qf = NULL;
	struct buf *reply;
	const char *error, *path, *protocol;
	char *qerror = NULL;
	size_t i;
	int damaged;

	(void) peer;
	(void) ctx;
	memset(&job, 0, sizeof(job));
	job.qfd = -1;
	if (attr_read(s, l, &error) != STREAM_OK) {
		log_warn("bad request from qmgr: %s", error);
		goto out;
	}
	protocol = attr_get(l, "protocol");
	path = attr_get(l, "queue_file");
	job.queue_id = attr_get(l, "queue_id");
	job.nexthop = attr_get(l, "nexthop");
	job.sender = attr_get(l, "sender");
	job.envid = attr_get(l, "envid");
	job.ret = attr_get(l, "ret");
	job.body_8bit = attr_get(l, "body") != NULL;
	job.smtputf8 = attr_get(l, "smtputf8") != NULL;
	smtp_job_rcpts(&job, l);
	/* smtp-CLASS services send as protocol smtp-CLASS: SMTP too. */
	job.lmtp = protocol != NULL && strcmp(protocol, "lmtp") == 0;
	job.transport = protocol;
	if (path == NULL || job.queue_id == NULL || job.nexthop == NULL ||
	    job.sender == NULL || job.count == 0 || protocol == NULL) {
		log_warn("incomplete request from qmgr");
		smtp_fail_rest(&job, "451", "4.3.0", "bad delivery request");
	} else if (!job.lmtp && strncmp(protocol, "smtp", 4) != 0) {
		log_warn("%s: unknown protocol \"%s\"", job.queue_id,
		    protocol);
		smtp_fail_rest(&job, "451", "4.3.0", "unknown protocol");
	} else if ((job.qfd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW))
	    < 0 || smtp_lock_queue_file(job.qfd) < 0) {
		log_warn("%s: %s", job.queue_id, strerror(errno));
		smtp_fail_rest(&job, "451", "4.3.0", "cannot open the queue "
		    "file");
	} else if (smtp_qmgr_gone(fd, job.queue_id)) {
		/* Checked under the lock: a later qmgr sees it held. */
		goto out;
	} else if (qfile_read(path, &qf, &damaged, &qerror) < 0) {
		log_warn("%s: %s", job.queue_id, qerror != NULL ? qerror :
		    "cannot read");
		smtp_fail_rest(&job, "451", "4.3.0", "cannot read the queue "
		    "file");
	} else {
		job.qf = qf;
		log_set_context(job.queue_id);
		smtp_deliver_pending(&job);
		log_set_context(NULL);
	}
	smtp_fail_rest(&job, "451", "4.3.0", "no reply for this recipient");
	reply = buf_new((size_t) var_attr_value_limit * 4 + 64 * job.count);
	for (i = 0; i < job.count; i++)
		(void) attr_put(reply, "result", job.rcpts[i].result);
	if (job.remote_dsn)
		(void) attr_put(reply, "remote_dsn", "yes");
	if (job.hop_dead) {
		(void) attr_put(reply, "hop_status", "dead");
		(void) attr_put(reply, "hop_reason", job.hop_reason);
	}
	(void) attr_end(reply);
	if (attr_write(s, reply) != STREAM_OK)
		log_warn("%s: cannot answer qmgr: %s", job.queue_id != NULL ?
		    job.queue_id : "-", stream_error(s));
	buf_free(&reply);
out:
	for (i = 0; i < job.count; i++)
		free(job.rcpts[i].result);
	free(job.rcpts);
	free(job.hop_reason);
	free(qerror);
	if (job.qfd >= 0)
		close(job.qfd);
	qfile_free(&qf);
	attr_list_free(&l);
	stream_free(&s);
}

int
main(int argc, char **argv)
{
	static const struct service_def def = {
		.name = "smtp",
		.handle = smtp_handle,
	};

	service_main(argc, argv, &def, NULL, NULL);
}

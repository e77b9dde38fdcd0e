/* smtpd_filter: spamd and clamd at the end of DATA; see smtpd_filter.h. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "clamd_client.h"
#include "dns.h"
#include "log.h"
#include "mail_params.h"
#include "metrics.h"
#include "qfile.h"
#include "route.h"
#include "scan_client.h"
#include "smtpd.h"
#include "smtpd_filter.h"
#include "smtpd_poison.h"
#include "spamd_client.h"
#include "xalloc.h"

/* What the filter decided for one recipient. */
enum filter_action { FILTER_DELIVER, FILTER_TAG, FILTER_QUARANTINE,
	FILTER_REJECT };

static const char *const filter_action_names[] = {
	"deliver", "tag", "quarantine", "discard"
};

/* What the scanners said about the message. */
struct filter_verdict {
	int scanned_spam;	/* spamd answered */
	struct spamd_result spam;
	char *virus;		/* clamd found one, or NULL */
	int unavailable;	/* a pool could not be reached */
	int failed;		/* a scan crashed or timed out */
	char *failure;		/* for the log */
};

/*
 * Filter hosts given by name are resolved here, once when the process
 * starts (a reload starts new processes), through the c-ares resolver
 * (dns_servers, dns_timeout, bounded by filter_connect_timeout a name):
 * a session never waits on DNS.  A name that does not resolve is logged
 * and skipped at scan time like a host that refuses connections.
 */
static void
smtpd_filter_resolve(void)
{
	const char *lists[2] = { var_spamd_servers, var_clamd_servers };
	struct dns *dns = NULL;
	char *error = NULL;
	size_t i;

	for (i = 0; i < 2; i++) {
		if (!scan_hosts_named(lists[i]))
			continue;
		if (dns == NULL && (dns = dns_open_params(&error)) == NULL) {
			log_warn("content filter: resolver: %s", error);
			xfree(error);
		}
		if (scan_resolve(dns, lists[i], (int)
		    (var_filter_connect_timeout * 1000), &error) < 0) {
			log_warn("content filter: %s: %s", i == 0 ?
			    "spamd_servers" : "clamd_servers", error);
			xfree(error);
		}
	}
	dns_close(&dns);
}

int
smtpd_filter_check(char **error_r)
{
	struct buf *none = buf_new(1);
	struct scan_job *j;
	const char *lists[2] = { var_spamd_servers, var_clamd_servers };
	size_t i;

	if (strcmp(var_filter_failure_action, "defer") != 0 &&
	    strcmp(var_filter_failure_action, "accept") != 0) {
		*error_r = xasprintf("filter_failure_action: %s is neither "
		    "defer nor accept", var_filter_failure_action);
		goto fail;
	}
	if (strcmp(var_filter_poison_action, "defer") != 0 &&
	    strcmp(var_filter_poison_action, "hold") != 0) {
		*error_r = xasprintf("filter_poison_action: %s is neither "
		    "defer nor hold", var_filter_poison_action);
		goto fail;
	}
	for (i = 0; i < 2; i++) {
		if (*lists[i] == '\0')
			continue;
		j = scan_job_new(i == 0 ? "spamd_servers" : "clamd_servers",
		    lists[i], none, error_r);
		if (j == NULL)
			goto fail;
		scan_job_free(&j);
	}
	smtpd_filter_resolve();
	buf_free(&none);
	return 0;
fail:
	buf_free(&none);
	return -1;
}

int
smtpd_filter_enabled(void)
{
	return *var_spamd_servers != '\0' || *var_clamd_servers != '\0';
}

/* The message from the queue file being written; NULL (logged). */
static struct buf *
filter_read_message(struct qfile_writer *w)
{
	long long size = qfile_writer_message_size(w);
	off_t off = qfile_writer_message_offset(w);
	const char *buffered = qfile_writer_buffered_message(w);
	struct buf *msg;
	char *error = NULL;
	ssize_t n;

	if (buffered != NULL) {
		/* No file yet: the message is all in the writer's buffer. */
		msg = buf_new((size_t) size + 1);
		(void) buf_append(msg, buffered, (size_t) size);
		return msg;
	}
	if (qfile_writer_flush(w, &error) < 0) {
		log_error("%s: %s", qfile_writer_id(w), error);
		free(error);
		return NULL;
	}
	msg = buf_new((size_t) size + 1);
	while ((long long) buf_len(msg) < size) {
		char chunk[65536];
		size_t want = (size_t) (size - (long long) buf_len(msg));

		n = pread(qfile_writer_fd(w), chunk, want > sizeof(chunk) ?
		    sizeof(chunk) : want, off + (off_t) buf_len(msg));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || buf_append(msg, chunk, (size_t) n) < 0) {
			log_error("%s: read back the message: %s",
			    qfile_writer_id(w), n < 0 ? strerror(errno) :
			    "short");
			buf_free(&msg);
			return NULL;
		}
	}
	return msg;
}

/*
 * The message without our Received: field (the first, with its
 * continuation lines): the same bytes on every retry of the client,
 * whatever the queue id and time.
 */
static size_t
filter_after_received(const struct buf *msg)
{
	const char *p = buf_cstr(msg), *end = p + buf_len(msg), *nl;

	while ((nl = memchr(p, '\n', (size_t) (end - p))) != NULL) {
		p = nl + 1;
		if (p >= end || (*p != ' ' && *p != '\t'))
			break;
	}
	return (size_t) (p - buf_cstr(msg));
}

/* One verdict of a pool, for ispmail_filter_verdicts_total. */
static void
filter_count(const char *filter, const char *verdict)
{
	metrics_inc("ispmail_filter_verdicts_total", "filter", filter,
	    "verdict", verdict, NULL);
}

/* A message the filter refused or deferred, by smtpd's reject reason. */
static void
filter_reject(const char *reason)
{
	metrics_inc("ispmail_smtpd_rejects_total", "reason", reason, NULL);
}

/* Scan msg with every configured pool at once; fills v. */
static void
filter_scan(const struct buf *msg, struct filter_verdict *v)
{
	struct scan_job *jobs[2], *spamd = NULL, *clamd = NULL;
	struct buf *req;
	char *slots, *error = NULL;
	struct timespec start, end;
	size_t count = 0;
	int rc;

	if (*var_spamd_servers != '\0') {
		req = buf_new(buf_len(msg) + 128);
		spamd_request(req, buf_cstr(msg), buf_len(msg));
		spamd = scan_job_new("spamd", var_spamd_servers, req, &error);
		buf_free(&req);
	}
	if (error == NULL && *var_clamd_servers != '\0') {
		req = buf_new(buf_len(msg) + buf_len(msg) / CLAMD_CHUNK * 4 +
		    64);
		clamd_request(req, buf_cstr(msg), buf_len(msg));
		clamd = scan_job_new("clamd", var_clamd_servers, req, &error);
		buf_free(&req);
	}
	if (error != NULL) {
		/* A list the parameter check let through but we cannot use. */
		log_error("content filter: %s", error);
		v->unavailable = 1;
		v->failure = error;
		scan_job_free(&spamd);
		scan_job_free(&clamd);
		return;
	}
	if (spamd != NULL)
		jobs[count++] = spamd;
	if (clamd != NULL)
		jobs[count++] = clamd;
	slots = xasprintf("%s/filter/slots", var_queue_directory);
	(void) clock_gettime(CLOCK_MONOTONIC, &start);
	scan_run(jobs, count, slots, var_filter_connection_limit,
	    var_filter_connect_timeout * 1000, var_filter_scan_timeout * 1000);
	(void) clock_gettime(CLOCK_MONOTONIC, &end);
	free(slots);
	/* Both pools scan at once: the run's time is each one's latency. */
	for (size_t i = 0; i < count; i++)
		metrics_observe("ispmail_filter_scan_seconds",
		    (double) (end.tv_sec - start.tv_sec) +
		    (double) (end.tv_nsec - start.tv_nsec) / 1e9, "filter",
		    jobs[i] == spamd ? "spamd" : "clamd", NULL);
	for (size_t i = 0; i < count; i++) {
		struct scan_job *j = jobs[i];
		const struct buf *reply = scan_job_reply(j);

		switch (scan_job_status(j)) {
		case SCAN_DONE:
			if (j == spamd) {
				rc = spamd_parse(buf_cstr(reply),
				    buf_len(reply), &v->spam, &error);
				v->scanned_spam = rc == 0;
			} else {
				rc = clamd_parse(buf_cstr(reply),
				    buf_len(reply), &v->virus, &error);
			}
			filter_count(j == spamd ? "spamd" : "clamd",
			    rc < 0 ? "error" : j == spamd ? (v->spam.spam ?
			    "spam" : "ham") : v->virus != NULL ? "virus" :
			    "clean");
			if (rc < 0) {
				/* An error reply: the filter is unwell. */
				free(v->failure);
				v->failure = xasprintf("%s: %s",
				    scan_job_host(j), error);
				free(error);
				error = NULL;
				v->unavailable = 1;
			}
			break;
		case SCAN_UNAVAILABLE:
			filter_count(j == spamd ? "spamd" : "clamd",
			    "unavailable");
			v->unavailable = 1;
			free(v->failure);
			v->failure = xstrdup(scan_job_error(j));
			break;
		case SCAN_CRASHED:
		case SCAN_TIMEOUT:
			filter_count(j == spamd ? "spamd" : "clamd",
			    scan_job_status(j) == SCAN_CRASHED ? "crashed" :
			    "timeout");
			v->failed = 1;
			free(v->failure);
			v->failure = xstrdup(scan_job_error(j));
			break;
		}
	}
	scan_job_free(&spamd);
	scan_job_free(&clamd);
}

/* The recipient's decision by its policy; KIND_MAILBOX only. */
static enum filter_action
filter_decide(const struct route_mailbox *m, double score)
{
	if (m->filter == ROUTE_FILTER_OFF)
		return FILTER_DELIVER;
	/* Aggressive: a positive score counts twice (thresholds halved). */
	if (m->filter == ROUTE_FILTER_AGGRESSIVE && score > 0)
		score *= 2;
	if (score >= m->discard_score)
		return FILTER_REJECT;
	if (score >= m->quarantine_score)
		return FILTER_QUARANTINE;
	if (score >= m->tag_score)
		return FILTER_TAG;
	return FILTER_DELIVER;
}

/*
 * Each recipient's decision into actions[]; -1 when the directory
 * cannot answer (451 then: deciding without the policy could lose
 * mail into a quarantine its owner did not choose).
 */
static int
filter_decide_all(struct smtpd_session *ss, double score,
	enum filter_action *actions)
{
	struct route_answer *ans;
	struct route *r = smtpd_route();
	char *error = NULL;
	size_t i;
	int rc;

	for (i = 0; i < ss->env.rcpt_count; i++) {
		actions[i] = FILTER_DELIVER;
		if (r == NULL)
			return -1;
		ans = NULL;
		rc = route_lookup_fields(r, ss->env.rcpts[i].address,
		    ROUTE_FIELD_FILTER, &ans, &error);
		if (rc < 0) {
			log_warn("content filter: policy of %s: %s",
			    ss->env.rcpts[i].address, error != NULL ? error :
			    "lookup failed");
			free(error);
			return -1;
		}
		free(error);
		error = NULL;
		/* Aliases and relay recipients: headers only. */
		if (rc == 1 && ans->kind == ROUTE_KIND_MAILBOX)
			actions[i] = filter_decide(ans->mailbox, score);
		route_answer_free(&ans);
	}
	return 0;
}

/* One header field above the message (validated by qfile). */
static int
filter_header(struct qfile_writer *w, const char *field)
{
	char *error = NULL;

	if (qfile_writer_prepend_header(w, field, &error) < 0) {
		log_error("%s: header %s: %s", qfile_writer_id(w), field,
		    error);
		free(error);
		return -1;
	}
	return 0;
}

/* X-Spam-Flag/X-Spam-Status and X-Virus-Scanned for what was found. */
static int
filter_headers(struct qfile_writer *w, const struct filter_verdict *v,
	int tagged, const char *unscanned)
{
	struct buf *f = buf_new(2048);
	int rc = 0;

	if (unscanned != NULL) {
		(void) buf_printf(f, "X-Spam-Status: Unknown, not scanned "
		    "(%s)", unscanned);
		rc = filter_header(w, buf_cstr(f));
		buf_free(&f);
		return rc;
	}
	if (tagged)
		rc |= filter_header(w, "X-Spam-Flag: YES");
	if (v->scanned_spam) {
		(void) buf_printf(f, "X-Spam-Status: %s, score=%.1f "
		    "required=%.1f", tagged ? "Yes" : "No", v->spam.score,
		    v->spam.threshold);
		if (*v->spam.symbols != '\0')
			(void) buf_printf(f, "\r\n\ttests=%s",
			    v->spam.symbols);
		rc |= filter_header(w, buf_cstr(f));
	}
	if (*var_clamd_servers != '\0')
		rc |= filter_header(w, "X-Virus-Scanned: clamav (ispmail)");
	buf_free(&f);
	return rc;
}

/*
 * A copy of the message for the recipients marked in quarantined, into
 * quarantine/ (ispmailctl quarantine release moves it to incoming/).
 */
static int
filter_quarantine_copy(struct smtpd_session *ss, struct qfile_writer *w,
	const struct buf *msg, const enum filter_action *actions)
{
	struct qfile env = ss->env;
	struct qfile_writer *q;
	struct buf *rec = buf_new(QFILE_RECORD_MAX);
	char *error = NULL;
	size_t i, n = 0;
	int ret = -1;

	env.rcpts = xcalloc(ss->env.rcpt_count, sizeof(*env.rcpts));
	for (i = 0; i < ss->env.rcpt_count; i++)
		if (actions[i] == FILTER_QUARANTINE)
			env.rcpts[n++] = ss->env.rcpts[i];
	env.rcpt_count = n;
	env.client_addr = xstrdup(ss->peer->client_addr);
	env.client_helo = ss->helo;
	for (i = 0; i < n; i++)
		(void) qfile_record_filter(rec, (int) i, "quarantine", NULL);
	q = qfile_writer_new(var_queue_directory, &error);
	if (q == NULL || qfile_writer_envelope(q, &env, &error) < 0 ||
	    qfile_writer_message(q, buf_cstr(msg), buf_len(msg), &error) < 0 ||
	    qfile_writer_trailer(q, rec, &error) < 0)
		goto out;
	{
		char *qid = xstrdup(qfile_writer_id(q));

		if (qfile_writer_commit(&q, QFILE_QUARANTINE, &error) == 0) {
			log_info("%s: quarantined as %s for %zu recipient%s",
			    qfile_writer_id(w), qid, n, n == 1 ? "" : "s");
			ret = 0;
		}
		free(qid);
	}
out:
	if (ret < 0) {
		log_error("%s: quarantine copy: %s", qfile_writer_id(w),
		    error != NULL ? error : "failed");
		free(error);
	}
	qfile_writer_abort(&q);
	buf_free(&rec);
	free(env.rcpts);
	free(env.client_addr);
	return ret;
}

/* Record each decision and mark the recipients that are not queued. */
static int
filter_record(struct smtpd_session *ss, struct qfile_writer *w,
	const enum filter_action *actions, struct smtpd_filter_outcome *o)
{
	struct buf *rec = buf_new(QFILE_RECORD_MAX);
	char *error = NULL;
	size_t i, done = 0;
	int rc = 0;

	for (i = 0; i < ss->env.rcpt_count && rc == 0; i++) {
		enum filter_action a = actions[i];

		if (a == FILTER_DELIVER)
			continue;
		rc = qfile_record_filter(rec, (int) i, filter_action_names[a],
		    a == FILTER_TAG ? var_filter_junk_folder : NULL);
		if (a == FILTER_TAG) {
			o->queue_only = 1;
		} else if (rc == 0) {
			rc = qfile_writer_rcpt_done(w, i, &error);
			done++;
		}
		log_info("%s: to=<%s>, filter=%s%s%s", qfile_writer_id(w),
		    ss->env.rcpts[i].address, filter_action_names[a],
		    a == FILTER_TAG ? ", folder=" : "",
		    a == FILTER_TAG ? var_filter_junk_folder : "");
	}
	if (rc == 0 && buf_len(rec) > 0)
		rc = qfile_writer_trailer(w, rec, &error);
	if (rc < 0) {
		log_error("%s: filter records: %s", qfile_writer_id(w),
		    error != NULL ? error : "too long");
		free(error);
	}
	o->all_done = done == ss->env.rcpt_count;
	/*
	 * XXX: direct delivery offers every envelope recipient; the queue
	 * skips the ones marked done here.
	 */
	if (done > 0)
		o->queue_only = 1;
	buf_free(&rec);
	return rc;
}

int
smtpd_filter_hold(struct qfile_writer *w, const char *reason,
	struct smtpd_filter_outcome *o)
{
	struct buf *rec = buf_new(4096);
	char *error = NULL;
	int rc;

	rc = qfile_record_filter(rec, -1, reason, NULL);
	if (rc == 0)
		rc = qfile_writer_trailer(w, rec, &error);
	buf_free(&rec);
	if (rc < 0) {
		log_error("%s: hold record: %s", qfile_writer_id(w),
		    error != NULL ? error : "too long");
		free(error);
		return -1;
	}
	o->subdir = QFILE_HOLD;
	o->queue_only = 1;
	return 0;
}

/* A failed or poison scan: count it; -1 reply sent, 0 go on (o set). */
static int
filter_poison(struct smtpd_session *ss, struct qfile_writer *w,
	const char *hash, long long count, int fresh,
	struct smtpd_filter_outcome *o)
{
	const char *id = qfile_writer_id(w);

	if (fresh)
		/* Once, loudly: the count just reached the limit. */
		log_warn("%s: POISON: message sha256=%s from=<%s> client=%s "
		    "made the content filter fail %lld times: isolated "
		    "(filter_poison_action=%s), it is never scanned again",
		    id, hash, ss->env.sender, ss->peer->client_addr, count,
		    var_filter_poison_action);
	else
		log_info("%s: poison message sha256=%s refused again "
		    "(filter_poison_action=%s)", id, hash,
		    var_filter_poison_action);
	if (strcmp(var_filter_poison_action, "hold") == 0) {
		char *reason = xasprintf("poison: the content filter failed "
		    "%lld times on this message (sha256=%s)", count, hash);
		int rc = smtpd_filter_hold(w, reason, o);

		free(reason);
		if (rc == 0 && filter_headers(w, NULL, 0, "poison message")
		    == 0)
			return 0;
		smtpd_reply(ss, "451 4.3.0 Error: queue file write error");
		return -1;
	}
	filter_reject("filter_defer");
	smtpd_reply(ss, "451 4.7.0 Error: this message cannot be scanned; "
	    "contact the postmaster");
	return -1;
}

/* Submission: spam over the outbound threshold goes to hold/. */
static int
filter_outbound(struct smtpd_session *ss, struct qfile_writer *w,
	const struct filter_verdict *v, struct smtpd_filter_outcome *o)
{
	char *reason;
	int rc;

	if (filter_headers(w, v, 0, NULL) < 0)
		goto fail;
	if (!v->scanned_spam || v->spam.score < (double)
	    var_filter_outbound_spam_score)
		return 0;
	reason = xasprintf("outbound spam: score %.1f >= %lld, login %s",
	    v->spam.score, var_filter_outbound_spam_score,
	    ss->auth_user != NULL ? ss->auth_user : "(none)");
	log_warn("%s: ALARM: account %s sent spam (score %.1f, tests=%s) "
	    "from %s: message held, not sent", qfile_writer_id(w),
	    ss->auth_user != NULL ? ss->auth_user : "(none)", v->spam.score,
	    v->spam.symbols, ss->peer->client_addr);
	rc = smtpd_filter_hold(w, reason, o);
	free(reason);
	if (rc == 0)
		return 0;
fail:
	smtpd_reply(ss, "451 4.3.0 Error: queue file write error");
	return -1;
}

/* MX mode: the recipients' decisions; -1 reply sent. */
static int
filter_inbound(struct smtpd_session *ss, struct qfile_writer *w,
	const struct buf *msg, const struct filter_verdict *v,
	struct smtpd_filter_outcome *o)
{
	enum filter_action *actions;
	size_t i, rejects = 0, quarantines = 0, tags = 0;
	int rc = -1;

	actions = xcalloc(ss->env.rcpt_count, sizeof(*actions));
	if (v->scanned_spam && filter_decide_all(ss, v->spam.score,
	    actions) < 0) {
		smtpd_reply(ss, "451 4.3.0 Error: recipient policy lookup "
		    "failed, try again later");
		goto out;
	}
	for (i = 0; i < ss->env.rcpt_count; i++) {
		rejects += actions[i] == FILTER_REJECT;
		quarantines += actions[i] == FILTER_QUARANTINE;
		tags += actions[i] == FILTER_TAG;
	}
	if (rejects == ss->env.rcpt_count) {
		log_info("%s: reject: spam score %.1f at or above every "
		    "recipient's discard score; from=<%s> client=%s tests=%s",
		    qfile_writer_id(w), v->spam.score, ss->env.sender,
		    ss->peer->client_addr, v->spam.symbols);
		filter_reject("filter");
		smtpd_reply(ss, "550 5.7.1 Error: message refused as spam");
		goto out;
	}
	if (filter_headers(w, v, tags + quarantines + rejects > 0, NULL) < 0
	    || (quarantines > 0 && filter_quarantine_copy(ss, w, msg,
	    actions) < 0) || filter_record(ss, w, actions, o) < 0) {
		smtpd_reply(ss, "451 4.3.0 Error: queue file write error");
		goto out;
	}
	rc = 0;
out:
	free(actions);
	return rc;
}

int
smtpd_filter_message(struct smtpd_session *ss, struct qfile_writer *w,
	struct smtpd_filter_outcome *o)
{
	struct filter_verdict v;
	struct buf *msg;
	char hash[65];
	const char *id = qfile_writer_id(w);
	size_t skip;
	long long count;
	int rc = -1;

	memset(&v, 0, sizeof(v));
	o->subdir = QFILE_INCOMING;
	o->all_done = 0;
	o->queue_only = 0;
	if (!smtpd_filter_enabled())
		return 0;
	if (var_filter_size_limit > 0 &&
	    qfile_writer_message_size(w) > var_filter_size_limit) {
		log_info("%s: not scanned: %lld bytes over filter_size_limit",
		    id, qfile_writer_message_size(w));
		if (filter_headers(w, NULL, 0, "message too large") < 0)
			goto write_failed;
		return 0;
	}
	msg = filter_read_message(w);
	if (msg == NULL)
		goto write_failed;
	skip = filter_after_received(msg);
	smtpd_poison_hash(buf_cstr(msg) + skip, buf_len(msg) - skip, hash);
	count = smtpd_poison_add(hash, 0);
	if (count >= var_filter_poison_limit) {
		rc = filter_poison(ss, w, hash, count, 0, o);
		goto done;
	}
	/* Counted before: a smtpd that dies scanning it has counted. */
	(void) smtpd_poison_add(hash, 1);
	filter_scan(msg, &v);
	if (v.failed) {
		count = smtpd_poison_add(hash, 0);
		log_warn("%s: content filter failed (%lld of %lld for "
		    "sha256=%s): %s", id, count, var_filter_poison_limit, hash,
		    v.failure);
		if (count >= var_filter_poison_limit) {
			rc = filter_poison(ss, w, hash, count, 1, o);
			goto done;
		}
		filter_reject("filter_defer");
		smtpd_reply(ss, "451 4.7.1 Error: content filter failed, try "
		    "again later");
		goto done;
	}
	(void) smtpd_poison_add(hash, -1);
	if (v.virus != NULL) {
		log_info("%s: reject: virus %s; from=<%s> client=%s%s%s", id,
		    v.virus, ss->env.sender, ss->peer->client_addr,
		    ss->auth_user != NULL ? " sasl_user=" : "",
		    ss->auth_user != NULL ? ss->auth_user : "");
		filter_reject("filter");
		smtpd_reply(ss, "554 5.7.1 Error: virus found: %s", v.virus);
		goto done;
	}
	if (v.unavailable) {
		log_warn("%s: content filter unavailable: %s "
		    "(filter_failure_action=%s)", id, v.failure,
		    var_filter_failure_action);
		if (strcmp(var_filter_failure_action, "accept") != 0) {
			filter_reject("filter_defer");
			smtpd_reply(ss, "451 4.7.1 Error: content filter "
			    "unavailable, try again later");
			goto done;
		}
		if (filter_headers(w, NULL, 0, "filter unavailable") < 0)
			goto write_failed_msg;
		rc = 0;
		goto done;
	}
	if (v.scanned_spam)
		log_info("%s: spam score=%.1f required=%.1f tests=%s", id,
		    v.spam.score, v.spam.threshold, v.spam.symbols);
	rc = smtpd.mode == SMTPD_MODE_SUBMISSION ?
	    filter_outbound(ss, w, &v, o) : filter_inbound(ss, w, msg, &v, o);
done:
	buf_free(&msg);
	spamd_result_clear(&v.spam);
	free(v.virus);
	free(v.failure);
	return rc;
write_failed_msg:
	buf_free(&msg);
	free(v.failure);
	spamd_result_clear(&v.spam);
	free(v.virus);
write_failed:
	smtpd_reply(ss, "451 4.3.0 Error: queue file write error");
	return -1;
}

/*
 * qmgr_message: one message's delivery attempt.
 *
 * Activation renames the file into active/.  Then each top-level
 * recipient still pending is expanded through the routing directory;
 * when it expands to anything but itself (an alias, a forward, a
 * catch-all) the expansion is appended to the file as recipient records
 * whose parent is the original (kept for DSNs) and the original's state
 * becomes X.  Every final recipient is routed afresh at each attempt (a
 * mailbox moved to another store host is delivered to its new home) and
 * grouped by next hop into delivery jobs.  When the last job has
 * answered, the message is removed (all done), or bounces are queued and
 * the rest deferred with an exponential back-off.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "hash.h"
#include "log.h"
#include "mail_host.h"
#include "mail_params.h"
#include "metrics.h"
#include "netmatch.h"
#include "params.h"
#include "qfile.h"
#include "qmgr.h"
#include "route.h"
#include "srs.h"
#include "xalloc.h"

/* The seconds a message put back for lack of resources waits. */
#define QMGR_PUTBACK_DELAY 1
/* Buckets of the id hash (a scan looks up every file it sees). */
#define QMGR_HASH_SIZE 65536

static struct qmgr_msg *active_list;
static struct qmgr_msg *id_hash[QMGR_HASH_SIZE];

/* FNV-1a over the id. */
static struct qmgr_msg **
qmgr_message_bucket(const char *id)
{
	return &id_hash[fnv1a32(id) % QMGR_HASH_SIZE];
}

struct qmgr_msg *
qmgr_message_find(const char *id)
{
	struct qmgr_msg *m;

	for (m = *qmgr_message_bucket(id); m != NULL; m = m->hash_next) {
		if (strcmp(m->id, id) == 0)
			return m;
	}
	return NULL;
}

static void
qmgr_message_free(struct qmgr_msg *msg)
{
	struct qmgr_msg **mp;
	size_t i;

	for (mp = qmgr_message_bucket(msg->id); *mp != NULL;
	    mp = &(*mp)->hash_next) {
		if (*mp == msg) {
			*mp = msg->hash_next;
			break;
		}
	}
	if (msg->prev != NULL)
		msg->prev->next = msg->next;
	else if (active_list == msg)
		active_list = msg->next;
	if (msg->next != NULL)
		msg->next->prev = msg->prev;
	for (i = 0; i < msg->outcome_count; i++) {
		free(msg->outcomes[i].dsn);
		free(msg->outcomes[i].text);
	}
	free(msg->outcomes);
	free(msg->transport_class);
	if (msg->fd >= 0)
		close(msg->fd);
	qfile_free(&msg->qf);
	free(msg->id);
	free(msg->path);
	free(msg);
	qmgr_active_count--;
}

/* Move the file to another queue; NULL path on failure. */
static char *
qmgr_message_move(const char *from, const char *queue, const char *id)
{
	char *dir = qfile_dir(var_queue_directory, queue, id, 1);
	char *to = xasprintf("%s/%s", dir, id);

	free(dir);
	if (rename(from, to) < 0) {
		if (errno != ENOENT)
			log_warn("%s: move to %s: %m", id, queue);
		free(to);
		return NULL;
	}
	return to;
}

/*
 * Move the file to deferred/, due in delay seconds.  0 ok; -1: it is
 * still in active/ (the orphan scan takes it again).
 */
static int
qmgr_message_defer_file(struct qmgr_msg *msg, long long delay)
{
	struct timeval times[2];
	char *to;

	gettimeofday(&times[0], NULL);
	times[0].tv_sec += delay;
	times[1] = times[0];
	if (utimes(msg->path, times) < 0)
		log_warn("utimes %s: %m", msg->path);
	to = qmgr_message_move(msg->path, QFILE_DEFERRED, msg->id);
	qmgr_scan_deferred_at(qmgr_now_ms() + delay * 1000);
	free(to);
	return to != NULL ? 0 : -1;
}

static struct qmgr_outcome *
qmgr_outcome(struct qmgr_msg *msg, int n)
{
	size_t i;

	for (i = 0; i < msg->outcome_count; i++) {
		if (msg->outcomes[i].n == n)
			return &msg->outcomes[i];
	}
	msg->outcomes = xreallocarray(msg->outcomes, msg->outcome_count + 1,
	    sizeof(*msg->outcomes));
	memset(&msg->outcomes[msg->outcome_count], 0,
	    sizeof(*msg->outcomes));
	msg->outcomes[msg->outcome_count].n = n;
	return &msg->outcomes[msg->outcome_count++];
}

/* Record a result: L record, state byte, in-memory outcome. */
void
qmgr_message_result(struct qmgr_msg *msg, int n, const char *code,
	const char *dsn, const char *text)
{
	struct qfile_rcpt *r = qfile_rcpt_find(msg->qf, n);
	struct qmgr_outcome *o;
	struct buf *rec;
	char *error = NULL;
	char state = 0;

	if (r == NULL)
		return;
	rec = buf_new(64 * 1024);
	if (qfile_record_result(rec, n, code, dsn, text,
	    (long long) time(NULL)) < 0 ||
	    qfile_append(msg->fd, rec, 0, &error) < 0) {
		log_warn("%s: %s", msg->id, error != NULL ? error :
		    "result record too long");
		free(error);
	}
	buf_free(&rec);
	if (code[0] == '2')
		state = QFILE_RCPT_DONE;
	else if (code[0] == '5')
		state = QFILE_RCPT_FAILED;
	if (state != 0 && qfile_set_state(msg->fd, r->state_offset, state,
	    &error) < 0) {
		log_error("%s: %s", msg->id, error);
		free(error);
	} else if (state != 0) {
		r->state = state;
	}
	o = qmgr_outcome(msg, n);
	snprintf(o->code, sizeof(o->code), "%.3s", code);
	free(o->dsn);
	free(o->text);
	o->dsn = xstrdup(dsn != NULL ? dsn : "");
	o->text = xstrdup(text != NULL ? text : "");
	o->notify_success = code[0] == '2' &&
	    (r->notify & QFILE_NOTIFY_SUCCESS) ? QMGR_NOTIFY_DELIVERED :
	    QMGR_NOTIFY_NONE;
	metrics_inc("ispmail_deliveries_total", "result", code[0] == '2' ?
	    "sent" : code[0] == '5' ? "bounced" : "deferred", "dsn",
	    metrics_dsn_label(dsn), NULL);
	/* A forward's line names the address the sender wrote, too. */
	log_info("to=<%s>%s%s%s, status=%s (%s %s %s)", r->address,
	    r->parent >= 0 ? ", orig_to=<" : "", r->parent >= 0 ?
	    qmgr_original_address(msg->qf, r) : "", r->parent >= 0 ? ">" : "",
	    code[0] == '2' ? "sent" : code[0] == '5' ? "bounced" : "deferred",
	    code, dsn != NULL ? dsn : "", text != NULL ? text : "");
}

void
qmgr_message_relayed(struct qmgr_msg *msg, int n, int remote_dsn)
{
	struct qmgr_outcome *o = qmgr_outcome(msg, n);

	if (o->notify_success == QMGR_NOTIFY_NONE)
		return;
	o->notify_success = remote_dsn ? QMGR_NOTIFY_NONE :
	    QMGR_NOTIFY_RELAYED;
}

/* Is address (normalised) this rcpt's own address? */
static int
qmgr_same_address(struct route *r, const char *a, const char *b)
{
	char *na = NULL, *error = NULL;
	int same;

	if (strcasecmp(a, b) == 0)
		return 1;
	if (route_normalize(r, a, &na, &error) < 0) {
		free(error);
		return 0;
	}
	same = strcasecmp(na, b) == 0;
	free(na);
	return same;
}

/*
 * A bounce to one of our SRS addresses goes back to the sender it
 * stands for: recorded as an expansion of the SRS recipient.  1 when p
 * was an SRS address (handled), 0 otherwise.
 */
static int
qmgr_message_srs_return(struct qmgr_msg *msg, const struct qfile_rcpt *p,
	struct buf **rec, int *next_n)
{
	struct qfile_rcpt child;
	char *orig = NULL, *error = NULL;
	int rc;

	rc = srs_reverse(p->address, &orig, &error);
	if (rc == SRS_NOT_SRS)
		return 0;
	if (rc == SRS_TEMP) {
		qmgr_message_result(msg, p->n, "451", "4.3.0", error != NULL ?
		    error : "SRS secrets unavailable");
	} else if (rc != SRS_OK) {
		qmgr_message_result(msg, p->n, "550", "5.7.1", error != NULL ?
		    error : "invalid SRS address");
	} else {
		if (*rec == NULL)
			*rec = buf_new(16 * 1024 * 1024);
		memset(&child, 0, sizeof(child));
		child.n = (*next_n)++;
		child.parent = p->n;
		child.state = QFILE_RCPT_PENDING;
		child.address = orig;
		child.orcpt = p->orcpt;
		child.notify = p->notify;
		(void) qfile_record_rcpt(*rec, &child);
		log_info("%s returns to %s (SRS)", p->address, orig);
	}
	free(orig);
	free(error);
	return 1;
}

/* Printable US-ASCII only: an rfc822 ORCPT can carry it (RFC 3461 4.2). */
static int
qmgr_ascii_address(const char *address)
{
	for (; *address != '\0'; address++)
		if ((unsigned char) *address < 33 ||
		    (unsigned char) *address > 126)
			return 0;
	return 1;
}

/*
 * Expand top-level pending recipients.  Returns 1 when records were
 * appended (the file must be read again), 0 otherwise.
 */
static int
qmgr_message_expand(struct qmgr_msg *msg, struct route *r)
{
	struct qfile *qf = msg->qf;
	struct route_expansion *exp;
	enum route_expand_status st;
	struct qfile_rcpt child;
	struct buf *rec = NULL;
	char *error = NULL, *orcpt;
	int next_n = 0, appended = 0;
	size_t i, k, count = qf->rcpt_count;

	for (i = 0; i < count; i++) {
		if (qf->rcpts[i].n >= next_n)
			next_n = qf->rcpts[i].n + 1;
	}
	for (i = 0; i < count; i++) {
		struct qfile_rcpt *p = &qf->rcpts[i];

		if (p->parent >= 0 || p->state != QFILE_RCPT_PENDING)
			continue;
		exp = NULL;
		if (qmgr_message_srs_return(msg, p, &rec, &next_n))
			continue;
		st = route_expand(r, p->address, &exp, &error);
		if (st == ROUTE_EXPAND_TEMPFAIL) {
			qmgr_message_result(msg, p->n, "451", "4.3.0", error !=
			    NULL ? error : "routing directory unavailable");
		} else if (st == ROUTE_EXPAND_UNKNOWN) {
			qmgr_message_result(msg, p->n, "550", "5.1.1",
			    "user unknown");
		} else if (st == ROUTE_EXPAND_LOOP) {
			qmgr_message_result(msg, p->n, "554", "5.4.6", error !=
			    NULL ? error : "mail loops in alias expansion");
		} else if (exp->dest_count == 1 &&
		    qmgr_same_address(r, p->address, exp->dests[0].address)) {
			/* Itself: routed as it is, no records. */
		} else if (exp->dest_count == 0) {
			qmgr_message_result(msg, p->n, "550", "5.1.1",
			    "address expands to nothing");
		} else {
			if (rec == NULL)
				rec = buf_new(16 * 1024 * 1024);
			/*
			 * RFC 3461 4.2: what goes on keeps the recipient the
			 * sender wrote, so a remote DSN names it.
			 */
			orcpt = p->orcpt != NULL || !qmgr_ascii_address(
			    p->address) ? NULL : xasprintf("rfc822;%s",
			    p->address);
			for (k = 0; k < exp->dest_count; k++) {
				memset(&child, 0, sizeof(child));
				child.n = next_n++;
				child.parent = p->n;
				child.state = QFILE_RCPT_PENDING;
				child.address = exp->dests[k].address;
				child.orcpt = p->orcpt != NULL ? p->orcpt :
				    orcpt;
				child.notify = p->notify;
				(void) qfile_record_rcpt(rec, &child);
			}
			free(orcpt);
			log_info("%s expands to %zu address%s", p->address,
			    exp->dest_count, exp->dest_count == 1 ? "" : "es");
		}
		free(error);
		error = NULL;
		route_expansion_free(&exp);
	}
	if (rec != NULL && buf_len(rec) > 0) {
		if (qfile_append(msg->fd, rec, 1, &error) < 0) {
			log_error("%s: %s", msg->id, error);
			free(error);
		} else {
			appended = 1;
		}
	}
	buf_free(&rec);
	return appended;
}

/* Mark expanded parents X once their children are in the file. */
static void
qmgr_message_mark_expanded(struct qmgr_msg *msg)
{
	struct qfile *qf = msg->qf;
	char *error = NULL;
	size_t i, k;

	for (i = 0; i < qf->rcpt_count; i++) {
		if (qf->rcpts[i].state != QFILE_RCPT_PENDING)
			continue;
		for (k = 0; k < qf->rcpt_count; k++) {
			if (qf->rcpts[k].parent == qf->rcpts[i].n)
				break;
		}
		if (k == qf->rcpt_count)
			continue;
		if (qfile_set_state(msg->fd, qf->rcpts[i].state_offset,
		    QFILE_RCPT_EXPANDED, &error) < 0) {
			log_error("%s: %s", msg->id, error);
			free(error);
			error = NULL;
			continue;
		}
		qf->rcpts[i].state = QFILE_RCPT_EXPANDED;
	}
}

/*
 * The LMTP next hops of a mailbox's store hosts: several when it sits on
 * shared storage, tried in turn by the agent (mail_host.h).
 */
static char *
qmgr_lmtp_nexthop(const struct route_mailbox *m)
{
	return mail_host_lmtp_nexthops(m->mail_host);
}

/*
 * Was the message from one of the ISP's own hosts (mynetworks)?  Only
 * their envelope sender is believed; anyone can forge one on port 25.
 * A bad mynetworks trusts nobody (smtpd refuses to start with it).
 */
int
qmgr_trusted_client(const char *client_addr)
{
	static struct netmatch *mynetworks;
	static int parsed;
	char *error = NULL;

	if (!parsed) {
		parsed = 1;
		mynetworks = netmatch_from_param("mynetworks", var_mynetworks,
		    &error);
		if (mynetworks == NULL) {
			log_error("%s", error);
			free(error);
		}
	}
	return mynetworks != NULL && client_addr != NULL &&
	    netmatch_match(mynetworks, client_addr);
}

/*
 * The agent service for remote mail: smtp, or smtp-CLASS when the
 * customer who sent it has an outbound class, so each class leaves from
 * its own source addresses.  The customer is the login, or else the
 * envelope sender of mail from mynetworks, never an unauthenticated
 * client's claim.
 */
static char *
qmgr_remote_transport(struct qmgr_msg *msg, struct route *r)
{
	const struct qfile *qf = msg->qf;
	struct route_answer *ans = NULL;
	const char *who;
	char *error = NULL, *transport = NULL;

	if (msg->transport_class != NULL)
		return xstrdup(msg->transport_class);
	who = qf->auth_user != NULL ? qf->auth_user :
	    qmgr_trusted_client(qf->client_addr) ? qf->sender : "";
	if (*who != '\0' && route_lookup_fields(r, who, ROUTE_FIELD_CLASS,
	    &ans, &error) > 0 &&
	    ans->kind == ROUTE_KIND_MAILBOX &&
	    ans->mailbox->outbound_class != NULL &&
	    *ans->mailbox->outbound_class != '\0')
		transport = xasprintf("smtp-%s", ans->mailbox->outbound_class);
	free(error);
	route_answer_free(&ans);
	if (transport == NULL)
		transport = xstrdup("smtp");
	msg->transport_class = xstrdup(transport);
	return transport;
}

/*
 * Route one final recipient: *transport_r and *nexthop_r (caller frees)
 * for delivery; or a result was recorded (returns -1).
 */
static int
qmgr_message_route(struct qmgr_msg *msg, struct route *r,
	struct qfile_rcpt *rc, char **transport_r, char **nexthop_r)
{
	struct route_answer *ans = NULL;
	struct route_domain *dom = NULL;
	char *error = NULL, *domain;
	const char *at;
	int rc_lookup, rc_domain;

	rc_lookup = route_lookup_fields(r, rc->address, ROUTE_FIELD_STATE
	    | ROUTE_FIELD_HOST, &ans, &error);
	if (rc_lookup < 0) {
		qmgr_message_result(msg, rc->n, "451", "4.3.0",
		    error != NULL ? error : "routing directory unavailable");
		free(error);
		return -1;
	}
	free(error);
	error = NULL;
	if (rc_lookup > 0 && ans->kind == ROUTE_KIND_MAILBOX) {
		if (ans->mailbox->state == ROUTE_STATE_DISABLED) {
			qmgr_message_result(msg, rc->n, "550", "5.2.1",
			    "mailbox disabled");
			route_answer_free(&ans);
			return -1;
		}
		*transport_r = xstrdup("lmtp");
		*nexthop_r = qmgr_lmtp_nexthop(ans->mailbox);
		route_answer_free(&ans);
		return 0;
	}
	if (rc_lookup > 0 && ans->kind == ROUTE_KIND_RELAY) {
		*transport_r = xstrdup("smtp");
		*nexthop_r = xstrdup(ans->domain != NULL &&
		    ans->domain->relay_host != NULL ? ans->domain->relay_host :
		    strrchr(rc->address, '@') + 1);
		route_answer_free(&ans);
		return 0;
	}
	if (rc_lookup > 0) {
		/* Became an alias since it was expanded: expand again. */
		route_answer_free(&ans);
		qmgr_message_result(msg, rc->n, "451", "4.3.0",
		    "address changed in the routing directory");
		return -1;
	}
	at = strrchr(rc->address, '@');
	if (at == NULL) {
		qmgr_message_result(msg, rc->n, "550", "5.1.3",
		    "bad address syntax");
		return -1;
	}
	domain = xstrdup(at + 1);
	rc_domain = route_domain_lookup(r, domain, &dom, &error);
	if (rc_domain < 0) {
		qmgr_message_result(msg, rc->n, "451", "4.3.0",
		    error != NULL ? error : "routing directory unavailable");
	} else if (rc_domain > 0) {
		qmgr_message_result(msg, rc->n, "550", "5.1.1",
		    "user unknown");
	}
	free(error);
	route_domain_free(&dom);
	if (rc_domain != 0) {
		free(domain);
		return -1;
	}
	*transport_r = qmgr_remote_transport(msg, r);
	if (*var_relayhost != '\0') {
		free(domain);
		*nexthop_r = xstrdup(var_relayhost);
	} else {
		*nexthop_r = domain;
	}
	return 0;
}

static void
qmgr_job_add(struct qmgr_job *job, int n, const char *address)
{
	job->rcpts = xreallocarray(job->rcpts, job->count + 1, sizeof(int));
	job->addresses = xreallocarray(job->addresses, job->count + 1,
	    sizeof(char *));
	job->rcpts[job->count] = n;
	job->addresses[job->count] = xstrdup(address);
	job->count++;
}

/* Route every final pending recipient into jobs, one per hop. */
static void
qmgr_message_dispatch(struct qmgr_msg *msg, struct route *r)
{
	struct qfile *qf = msg->qf;
	struct qmgr_job **jobs = NULL;
	size_t job_count = 0, i, k;
	char *transport, *nexthop;
	struct qmgr_hop *hop;

	for (i = 0; i < qf->rcpt_count; i++) {
		struct qfile_rcpt *rc = &qf->rcpts[i];
		struct qmgr_outcome *o;

		if (rc->state != QFILE_RCPT_PENDING)
			continue;
		/* Already answered in this attempt (expansion failed). */
		for (k = 0; k < msg->outcome_count; k++) {
			o = &msg->outcomes[k];
			if (o->n == rc->n && o->code[0] != '\0')
				break;
		}
		if (k < msg->outcome_count)
			continue;
		if (qmgr_message_route(msg, r, rc, &transport, &nexthop) < 0)
			continue;
		hop = qmgr_hop_get(transport, nexthop);
		free(transport);
		free(nexthop);
		for (k = 0; k < job_count; k++) {
			if (jobs[k]->hop == hop && jobs[k]->count <
			    (size_t) var_lmtp_recipient_limit)
				break;
		}
		if (k == job_count) {
			jobs = xreallocarray(jobs, job_count + 1,
			    sizeof(*jobs));
			jobs[k] = xcalloc(1, sizeof(**jobs));
			jobs[k]->msg = msg;
			jobs[k]->hop = hop;
			jobs[k]->fd = -1;
			job_count++;
		}
		qmgr_job_add(jobs[k], rc->n, rc->address);
	}
	/* One extra count so a job that ends at once cannot end msg. */
	msg->jobs = (int) job_count + 1;
	for (k = 0; k < job_count; k++)
		qmgr_transport_submit(jobs[k]);
	free(jobs);
	qmgr_message_job_done(msg);
}

/* qmgr_message_load(): why it failed. */
#define QMGR_LOAD_GONE (-1)	/* vanished, or damaged: moved to corrupt/ */
#define QMGR_LOAD_FAILED (-2)	/* not readable now: put it back */

/* Load (or reload) the file into msg->qf; 0 or QMGR_LOAD_*. */
static int
qmgr_message_load(struct qmgr_msg *msg)
{
	char *error = NULL, *to;
	int damaged, saved_errno;

	qfile_free(&msg->qf);
	if (qfile_read(msg->path, &msg->qf, &damaged, &error) == 0)
		return 0;
	saved_errno = errno;
	log_error("%s", error);
	free(error);
	if (damaged) {
		to = qmgr_message_move(msg->path, QFILE_CORRUPT, msg->id);
		if (to != NULL)
			log_error("%s: moved to %s", msg->id, to);
		free(to);
		return QMGR_LOAD_GONE;
	}
	return saved_errno == ENOENT ? QMGR_LOAD_GONE : QMGR_LOAD_FAILED;
}

/*
 * The file could not be opened or read (out of descriptors or memory, an
 * I/O error): never leave it in active/ unheld.  Back to deferred/, due
 * again in a moment.
 */
static void
qmgr_message_putback(struct qmgr_msg *msg)
{
	if (qmgr_message_defer_file(msg, QMGR_PUTBACK_DELAY) == 0)
		log_warn("put back into %s/ for %ds", QFILE_DEFERRED,
		    QMGR_PUTBACK_DELAY);
	qmgr_message_free(msg);
}

/*
 * Load the file; when that fails msg is freed, put back first when the
 * file is still there: 1 gone for good, -1 put back.  0 loaded.
 */
static int
qmgr_message_reload(struct qmgr_msg *msg)
{
	int rc = qmgr_message_load(msg);

	if (rc == 0)
		return 0;
	if (rc == QMGR_LOAD_FAILED) {
		qmgr_message_putback(msg);
		return -1;
	}
	qmgr_message_free(msg);
	return 1;
}

/*
 * The account that submitted msg is held (exploited-account alarm): the
 * hold reason goes into the file (synced, so ispmailctl account release
 * finds it) and the file to hold/.  msg is freed.
 */
static void
qmgr_message_hold(struct qmgr_msg *msg, const char *reason)
{
	struct buf *rec = buf_new(4096);
	char *error = NULL, *to = NULL;
	int rc;

	rc = qfile_record_filter(rec, -1, reason, NULL);
	if (rc == 0)
		rc = qfile_append(msg->fd, rec, 1, &error);
	buf_free(&rec);
	if (rc == 0)
		to = qmgr_message_move(msg->path, QFILE_HOLD, msg->id);
	if (to != NULL) {
		log_info("put on hold: %s", reason);
		free(to);
		qmgr_message_free(msg);
		return;
	}
	/* Never delivered while its account is held: tried again later. */
	log_error("put on hold: %s", error != NULL ? error : rc < 0 ?
	    "hold record too long" : "move failed");
	free(error);
	qmgr_message_putback(msg);
}

/* 0 started (or gone for good); -1 put back, short of resources. */
static int
qmgr_message_start(struct qmgr_msg *msg)
{
	struct route *r;
	char *reason;
	int rc;

	log_set_context(msg->id);
	msg->fd = open(msg->path, O_RDWR | O_CLOEXEC);
	if (msg->fd < 0) {
		log_error("open %s: %m", msg->path);
		qmgr_message_putback(msg);
		log_set_context(NULL);
		return -1;
	}
	/*
	 * An agent of a qmgr that died may still be delivering it (agents
	 * hold a shared lock): starting now would deliver it twice.
	 */
	if (flock(msg->fd, LOCK_EX | LOCK_NB) < 0) {
		log_info("a delivery agent still holds it");
		qmgr_message_putback(msg);
		log_set_context(NULL);
		return 0;
	}
	(void) flock(msg->fd, LOCK_UN);
	if ((rc = qmgr_message_reload(msg)) != 0) {
		log_set_context(NULL);
		return rc < 0 ? -1 : 0;
	}
	if ((reason = qmgr_account_held(msg->qf)) != NULL) {
		qmgr_message_hold(msg, reason);
		free(reason);
		log_set_context(NULL);
		return 0;
	}
	r = qmgr_route();
	if (r == NULL) {
		/* No directory at all: defer everything (never bounce). */
		size_t i;

		for (i = 0; i < msg->qf->rcpt_count; i++) {
			if (msg->qf->rcpts[i].state == QFILE_RCPT_PENDING)
				qmgr_message_result(msg, msg->qf->rcpts[i].n,
				    "451", "4.3.0", "routing directory "
				    "unavailable");
		}
	} else if (qmgr_message_expand(msg, r)) {
		if ((rc = qmgr_message_reload(msg)) != 0) {
			log_set_context(NULL);
			return rc < 0 ? -1 : 0;
		}
		qmgr_message_mark_expanded(msg);
	}
	if (r != NULL && qmgr_archive(msg, r) < 0) {
		/* Nothing is delivered before it is in the archive. */
		size_t i;

		for (i = 0; i < msg->qf->rcpt_count; i++) {
			if (msg->qf->rcpts[i].state == QFILE_RCPT_PENDING)
				qmgr_message_result(msg, msg->qf->rcpts[i].n,
				    "451", "4.3.0", "archive unavailable");
		}
		r = NULL;
	}
	if (r != NULL)
		qmgr_message_dispatch(msg, r);	/* may free msg */
	else
		qmgr_message_job_done(msg);
	log_set_context(NULL);
	return 0;
}

int
qmgr_message_activate(const char *from_path, const char *id)
{
	struct qmgr_msg *msg, **bucket;
	char *to, *caller_context;
	int rc;

	if (qmgr_message_find(id) != NULL)
		return 0;
	to = qmgr_message_move(from_path, QFILE_ACTIVE, id);
	if (to == NULL)
		return 0;
	msg = xcalloc(1, sizeof(*msg));
	msg->id = xstrdup(id);
	msg->path = to;
	msg->fd = -1;
	msg->next = active_list;
	if (active_list != NULL)
		active_list->prev = msg;
	active_list = msg;
	bucket = qmgr_message_bucket(id);
	msg->hash_next = *bucket;
	*bucket = msg;
	qmgr_active_count++;
	/*
	 * A notice is activated while its parent's lines are being logged:
	 * the parent's queue id comes back after this one's.
	 */
	caller_context = log_context() != NULL ? xstrdup(log_context()) :
	    NULL;
	rc = qmgr_message_start(msg);
	log_set_context(caller_context);
	free(caller_context);
	return rc;
}

/* The back-off before the next attempt, from the message's age. */
static long long
qmgr_backoff(long long age)
{
	long long delay = age;
	double jitter;

	if (delay < var_minimal_backoff)
		delay = var_minimal_backoff;
	if (delay > var_maximal_backoff)
		delay = var_maximal_backoff;
	/* +-10% so messages that failed together do not retry together. */
	jitter = 0.9 + 0.2 * ((double) random() / (double) RAND_MAX);
	delay = (long long) ((double) delay * jitter + 0.5);
	return delay < 1 ? 1 : delay;
}

/* May a DSN of this kind go to the sender for rcpt r? */
static int
qmgr_notify_allows(const struct qfile_rcpt *r, int bit)
{
	if (r->notify == 0)
		return bit != QFILE_NOTIFY_SUCCESS;
	return (r->notify & bit) != 0;
}

void
qmgr_message_job_done(struct qmgr_msg *msg)
{
	struct qfile *qf = msg->qf;
	int *failed, *delayed, *success, *relayed, *notify_failed;
	size_t nfailed = 0, ndelayed = 0, nsuccess = 0, nrelayed = 0;
	size_t npending = 0, i, k;
	size_t nnotify = 0;
	long long age = (long long) time(NULL) - qf->arrival;
	char *error = NULL;
	int expired;

	if (msg->jobs > 0 && --msg->jobs > 0)
		return;
	log_set_context(msg->id);
	failed = xcalloc(qf->rcpt_count + 1, sizeof(int));
	notify_failed = xcalloc(qf->rcpt_count + 1, sizeof(int));
	delayed = xcalloc(qf->rcpt_count + 1, sizeof(int));
	success = xcalloc(qf->rcpt_count + 1, sizeof(int));
	relayed = xcalloc(qf->rcpt_count + 1, sizeof(int));
	expired = age >= var_maximal_queue_lifetime;
	for (i = 0; i < qf->rcpt_count; i++) {
		struct qfile_rcpt *r = &qf->rcpts[i];

		if (r->state == QFILE_RCPT_PENDING && expired) {
			qmgr_message_result(msg, r->n, "554", "4.4.7",
			    "delivery time expired");
			/* A final failure with the code of the last error. */
			if (qfile_set_state(msg->fd, r->state_offset,
			    QFILE_RCPT_FAILED, &error) == 0)
				r->state = QFILE_RCPT_FAILED;
			free(error);
			error = NULL;
		}
		if (r->state == QFILE_RCPT_FAILED) {
			failed[nfailed++] = r->n;
			if (qmgr_notify_allows(r, QFILE_NOTIFY_FAILURE) ||
			    *qf->sender == '\0')
				notify_failed[nnotify++] = r->n;
		} else if (r->state == QFILE_RCPT_PENDING) {
			npending++;
			if (qmgr_notify_allows(r, QFILE_NOTIFY_DELAY))
				delayed[ndelayed++] = r->n;
		}
		for (k = 0; k < msg->outcome_count; k++) {
			if (msg->outcomes[k].n != r->n)
				continue;
			if (msg->outcomes[k].notify_success ==
			    QMGR_NOTIFY_DELIVERED)
				success[nsuccess++] = r->n;
			else if (msg->outcomes[k].notify_success ==
			    QMGR_NOTIFY_RELAYED)
				relayed[nrelayed++] = r->n;
		}
	}
	/* Bounces: the failed recipients become B once the DSN is queued. */
	if (nfailed > 0 && qmgr_bounce(msg, "failed", notify_failed,
	    nnotify) == 0) {
		for (i = 0; i < nfailed; i++) {
			struct qfile_rcpt *r = qfile_rcpt_find(qf, failed[i]);

			if (qfile_set_state(msg->fd, r->state_offset,
			    QFILE_RCPT_BOUNCED, &error) == 0)
				r->state = QFILE_RCPT_BOUNCED;
			free(error);
			error = NULL;
		}
	} else if (nfailed > 0) {
		npending++;	/* keep the message: bounce later */
	}
	if (nsuccess > 0)
		(void) qmgr_bounce(msg, "delivered", success, nsuccess);
	if (nrelayed > 0)
		(void) qmgr_bounce(msg, "relayed", relayed, nrelayed);
	if (npending > 0 && ndelayed > 0 && qf->state == QFILE_MSG_NEW &&
	    var_delay_warning_time > 0 && age >= var_delay_warning_time &&
	    qmgr_bounce(msg, "delayed", delayed, ndelayed) == 0 &&
	    qfile_set_state(msg->fd, qf->state_offset, QFILE_MSG_WARNED,
	    &error) == 0)
		qf->state = QFILE_MSG_WARNED;
	free(error);
	error = NULL;
	if (npending == 0) {
		if (unlink(msg->path) < 0)
			log_error("remove %s: %m", msg->path);
		else
			log_info("removed");
	} else {
		(void) qmgr_message_defer_file(msg, qmgr_backoff(age));
	}
	free(failed);
	free(notify_failed);
	free(delayed);
	free(success);
	free(relayed);
	qmgr_message_free(msg);
	log_set_context(NULL);
}

void
qmgr_message_recover(void)
{
	/*
	 * Files in active/ belonged to a qmgr that died: take them again.
	 * Delivered recipients are marked, so only the rest is retried.
	 */
	qmgr_scan_queue(QFILE_ACTIVE, 0);
}

/*
 * qmgr_archive: the archive copy (ispmail-archive(5), qmgr(8)).
 *
 * At a message's first attempt, after expansion and before any
 * recipient is handed to an agent, every final recipient whose mailbox
 * has archive on, and the sender when it is a mailbox with archive on
 * (a login, or a mynetworks client's envelope sender), puts the message
 * into that mailbox's domain archive: one record per domain, naming the
 * domain's archived recipients and the direction.  The queue file has
 * been durable since before smtpd's 250; the archive record is fsynced;
 * only then an A record marks the queue file, and only then does
 * delivery start.  So no acknowledged message reaches a mailbox or
 * leaves the queue without being in the archive.  A crash between the
 * archive write and the A record repeats the attempt: the archive
 * recognises the queue id and digest and does not write it twice.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "archive.h"
#include "buf.h"
#include "log.h"
#include "mail_params.h"
#include "qfile.h"
#include "qmgr.h"
#include "route.h"
#include "xalloc.h"

/* One domain's share of a message. */
struct qmgr_archive_dom {
	char *domain;
	char **rcpts;
	size_t rcpt_count;
	int in, out;
};

struct qmgr_archive_set {
	struct qmgr_archive_dom *doms;
	size_t count;
};

static struct qmgr_archive_dom *
qmgr_archive_dom(struct qmgr_archive_set *set, const char *address)
{
	const char *at = strrchr(address, '@');
	size_t i;

	if (at == NULL || !archive_domain_valid(at + 1))
		return NULL;
	for (i = 0; i < set->count; i++)
		if (strcmp(set->doms[i].domain, at + 1) == 0)
			return &set->doms[i];
	set->doms = xreallocarray(set->doms, set->count + 1,
	    sizeof(*set->doms));
	memset(&set->doms[set->count], 0, sizeof(*set->doms));
	set->doms[set->count].domain = xstrdup(at + 1);
	return &set->doms[set->count++];
}

static void
qmgr_archive_set_free(struct qmgr_archive_set *set)
{
	size_t i, k;

	for (i = 0; i < set->count; i++) {
		for (k = 0; k < set->doms[i].rcpt_count; k++)
			free(set->doms[i].rcpts[k]);
		free(set->doms[i].rcpts);
		free(set->doms[i].domain);
	}
	free(set->doms);
}

/*
 * The archived mailbox of address: 1 (*canonical_r, caller frees), 0 not
 * archived, -1 directory unavailable.
 */
static int
qmgr_archive_lookup(struct route *r, const char *address,
	char **canonical_r, char **error_r)
{
	struct route_answer *ans = NULL;
	int rc;

	rc = route_lookup_fields(r, address, ROUTE_FIELD_ARCHIVE, &ans,
	    error_r);
	if (rc > 0) {
		rc = ans->kind != ROUTE_KIND_MAILBOX ? 0
		    : route_mailbox_archived(r, ans->mailbox, ans->domain);
		if (rc > 0)
			*canonical_r = xstrdup(ans->mailbox->address);
	}
	route_answer_free(&ans);
	return rc;
}

int
qmgr_archive(struct qmgr_msg *msg, struct route *r)
{
	struct qfile *qf = msg->qf;
	struct qmgr_archive_set set = { NULL, 0 };
	struct qmgr_archive_dom *d;
	struct archive_envelope env;
	struct buf *rec, *names, *prefix;
	char *error = NULL, *canonical = NULL;
	const char *who;
	size_t i;
	int rc = 0, wrote;

	if (qf->archived)
		return 0;
	for (i = 0; i < qf->rcpt_count && rc >= 0; i++) {
		const struct qfile_rcpt *rcpt = &qf->rcpts[i];

		if (rcpt->state == QFILE_RCPT_EXPANDED)
			continue;
		rc = qmgr_archive_lookup(r, rcpt->address, &canonical,
		    &error);
		if (rc > 0 && (d = qmgr_archive_dom(&set, canonical)) !=
		    NULL) {
			d->in = 1;
			d->rcpts = xreallocarray(d->rcpts, d->rcpt_count + 1,
			    sizeof(char *));
			d->rcpts[d->rcpt_count++] = xstrdup(rcpt->address);
		}
		free(canonical);
		canonical = NULL;
	}
	/* Outbound: the customer who sent it, never a stranger's claim. */
	who = qf->auth_user != NULL ? qf->auth_user :
	    qmgr_trusted_client(qf->client_addr) ? qf->sender : "";
	if (rc >= 0 && *who != '\0') {
		rc = qmgr_archive_lookup(r, who, &canonical, &error);
		if (rc > 0 && (d = qmgr_archive_dom(&set, canonical)) != NULL)
			d->out = 1;
		free(canonical);
	}
	if (rc < 0) {
		log_warn("archive: routing directory: %s", error != NULL ?
		    error : "unavailable");
		free(error);
		qmgr_archive_set_free(&set);
		return -1;
	}
	free(error);
	error = NULL;
	/* The header fields smtpd added after DATA go above, as delivered. */
	prefix = buf_new((QFILE_PREPEND_FIELD_MAX + 2) *
	    (QFILE_PREPEND_MAX + 1));
	for (i = 0; i < qf->prepend_count; i++)
		(void) buf_printf(prefix, "%s\r\n", qf->prepend[i]);
	names = buf_new(64 * 1024);
	for (i = 0; i < set.count; i++) {
		d = &set.doms[i];
		memset(&env, 0, sizeof(env));
		env.queue_id = msg->id;
		env.direction = d->in && d->out ? "in,out" : d->in ? "in" :
		    "out";
		env.client = qf->client_addr != NULL ? qf->client_addr : "";
		env.sender = qf->sender;
		env.auth = qf->auth_user != NULL ? qf->auth_user : "";
		env.arrival = qf->arrival;
		env.rcpts = (const char *const *) d->rcpts;
		env.rcpt_count = d->rcpt_count;
		env.prefix = buf_data(prefix);
		env.prefix_len = buf_len(prefix);
		wrote = archive_append(d->domain, &env, msg->fd,
		    qf->message_offset, qf->message_size, &error);
		if (wrote < 0) {
			log_error("archive %s: %s", d->domain, error);
			free(error);
			buf_free(&names);
			buf_free(&prefix);
			qmgr_archive_set_free(&set);
			return -1;
		}
		(void) buf_printf(names, "%s%s", i > 0 ? " " : "", d->domain);
	}
	if (set.count > 0) {
		/*
		 * Not fsynced: lost in a crash, it only makes the next
		 * attempt find the record in the archive (a duplicate).
		 */
		rec = buf_new(QFILE_RECORD_MAX);
		if (qfile_record_note(rec, 'A', -1, "250", "2.0.0",
		    buf_cstr(names), (long long) time(NULL)) < 0 ||
		    qfile_append(msg->fd, rec, 0, &error) < 0) {
			log_error("%s", error != NULL ? error :
			    "archive record too long");
			free(error);
			buf_free(&rec);
			buf_free(&names);
			buf_free(&prefix);
			qmgr_archive_set_free(&set);
			return -1;
		}
		buf_free(&rec);
		qf->archived = 1;
		log_info("archived in %s", buf_cstr(names));
	}
	buf_free(&names);
	buf_free(&prefix);
	qmgr_archive_set_free(&set);
	return 0;
}

void
qmgr_archive_maintain(void)
{
	char **domains = NULL, *error = NULL;
	size_t i;

	if (*var_archive_directory == '\0')
		return;
	if (archive_list_domains(&domains, &error) < 0) {
		log_warn("archive: %s", error);
		free(error);
		return;
	}
	for (i = 0; domains[i] != NULL; i++) {
		if (archive_seal(domains[i], 0, &error) < 0 ||
		    archive_expire(domains[i], (long long) time(NULL),
		    &error) < 0) {
			log_error("archive %s: %s", domains[i], error);
			free(error);
			error = NULL;
		}
	}
	archive_names_free(&domains);
}

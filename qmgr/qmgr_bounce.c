/*
 * qmgr_bounce: delivery status notifications (RFC 3464, RFC 3461).
 *
 * A DSN is a new queue file from the null sender to the original sender,
 * multipart/report with a human-readable part, a message/delivery-status
 * part (one block per recipient: Final-Recipient, Original-Recipient,
 * Action, Status, Diagnostic-Code) and the original message (full for a
 * failure unless RET=HDRS or it is over bounce_size_limit; headers only
 * for delay and success notices).  Nothing is sent to the null sender:
 * a failed message from it (a bounce that bounced) goes to the
 * postmaster once, marked so that its own failure is only logged.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "mail_params.h"
#include "qfile.h"
#include "qmgr.h"
#include "smtp_syntax.h"
#include "xalloc.h"
#include "xtext.h"

#define QMGR_COPY_CHUNK 65536


static void
qmgr_rfc_date(time_t t, char *out, size_t size)
{
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(out, size, "%a, %d %b %Y %H:%M:%S %z", &tm);
}

/* The outcome of rcpt n in this attempt, else its last recorded one. */
static void
qmgr_rcpt_status(struct qmgr_msg *msg, const struct qfile_rcpt *r,
	const char **code, const char **dsn, const char **text)
{
	size_t i;

	for (i = 0; i < msg->outcome_count; i++) {
		if (msg->outcomes[i].n == r->n &&
		    msg->outcomes[i].code[0] != '\0') {
			*code = msg->outcomes[i].code;
			*dsn = msg->outcomes[i].dsn;
			*text = msg->outcomes[i].text;
			return;
		}
	}
	*code = r->last_code != NULL ? r->last_code : "554";
	*dsn = r->last_dsn != NULL ? r->last_dsn : "5.0.0";
	*text = r->last_text != NULL ? r->last_text : "delivery failed";
}

const char *
qmgr_original_address(const struct qfile *qf, const struct qfile_rcpt *r)
{
	const struct qfile_rcpt *p = r;
	int depth = 0;

	while (p->parent >= 0 && depth++ < 100) {
		const struct qfile_rcpt *up = NULL;
		size_t i;

		for (i = 0; i < qf->rcpt_count; i++) {
			if (qf->rcpts[i].n == p->parent)
				up = &qf->rcpts[i];
		}
		if (up == NULL)
			break;
		p = up;
	}
	return p->address;
}

/* Copy the original message (or its header) into the DSN. */
static int
qmgr_copy_original(struct qmgr_msg *msg, struct qfile_writer *w,
	int headers_only, char **error_r)
{
	const struct qfile *qf = msg->qf;
	char *chunk = xmalloc(QMGR_COPY_CHUNK + 4);
	long long left = qf->message_size;
	off_t off = qf->message_offset;
	char tail[4] = { 0 };
	ssize_t n;
	size_t take, i;
	int ret = 0;

	/* The header fields smtpd added above the message come first. */
	for (i = 0; i < qf->prepend_count && ret == 0; i++) {
		if (qfile_writer_message(w, qf->prepend[i],
		    strlen(qf->prepend[i]), error_r) < 0 ||
		    qfile_writer_message(w, "\r\n", 2, error_r) < 0)
			ret = -1;
	}
	while (left > 0 && ret == 0) {
		take = left > QMGR_COPY_CHUNK ? QMGR_COPY_CHUNK : (size_t) left;
		n = pread(msg->fd, chunk, take, off);
		if (n <= 0) {
			*error_r = xasprintf("read %s: %s", msg->path,
			    n < 0 ? strerror(errno) : "short file");
			ret = -1;
			break;
		}
		take = (size_t) n;
		if (headers_only) {
			/* Stop after the empty line that ends the header. */
			for (i = 0; i < take; i++) {
				memmove(tail, tail + 1, 3);
				tail[3] = chunk[i];
				if (memcmp(tail, "\r\n\r\n", 4) == 0 ||
				    memcmp(tail + 2, "\n\n", 2) == 0) {
					take = i + 1;
					left = take;
					break;
				}
			}
		}
		if (qfile_writer_message(w, chunk, take, error_r) < 0) {
			ret = -1;
			break;
		}
		off += (off_t) take;
		left -= (long long) take;
	}
	free(chunk);
	return ret;
}

/* Append prefix, value made printable (it came from the queue), suffix. */
static void
qmgr_bounce_line(struct buf *b, const char *prefix, const char *value,
	const char *suffix)
{
	(void) buf_append_str(b, prefix);
	(void) smtp_printable_append(b, value);
	(void) buf_append_str(b, suffix);
}

static int
qmgr_bounce_put(struct qfile_writer *w, struct buf *b, char **error_r)
{
	int ret = qfile_writer_message(w, buf_cstr(b), buf_len(b), error_r);

	buf_reset(b);
	return ret;
}

int
qmgr_bounce(struct qmgr_msg *msg, const char *action, const int *rcpts,
	size_t count)
{
	const struct qfile *qf = msg->qf;
	struct qfile_rcpt to;
	struct qfile env;
	struct qfile_writer *w;
	const char *code, *dsn, *text, *subject, *origin;
	char now_text[64], arrival_text[64], *recipient, *error = NULL;
	char *boundary, *path, *id;
	struct buf *b;
	int failed = strcmp(action, "failed") == 0;
	int headers_only;
	size_t i;

	if (count == 0)
		return 0;
	if (*qf->sender == '\0') {
		if (!failed)
			return 0;
		if (qf->origin != NULL && strcmp(qf->origin, "postmaster") == 0) {
			log_warn("postmaster notice undeliverable: dropped");
			return 0;
		}
		recipient = *var_postmaster_address != '\0' ?
		    xstrdup(var_postmaster_address) :
		    xasprintf("postmaster@%s", mail_hostname());
		origin = "postmaster";
	} else {
		recipient = xstrdup(qf->sender);
		origin = "dsn";
	}
	w = qfile_writer_new(var_queue_directory, &error);
	if (w == NULL) {
		log_error("cannot queue a %s notice: %s", action, error);
		free(error);
		free(recipient);
		return -1;
	}
	memset(&env, 0, sizeof(env));
	memset(&to, 0, sizeof(to));
	env.arrival = (long long) time(NULL);
	to.address = recipient;
	to.parent = -1;
	to.notify = QFILE_NOTIFY_NEVER;
	env.rcpts = &to;
	env.rcpt_count = 1;
	env.sender = xstrdup("");
	env.protocol = xstrdup("local");
	env.origin = xstrdup(origin);
	if (qfile_writer_envelope(w, &env, &error) < 0)
		goto fail;
	b = buf_new(16 * 1024 * 1024);
	boundary = xasprintf("%s.%s/%s", qfile_writer_id(w), msg->id,
	    mail_hostname());
	qmgr_rfc_date(time(NULL), now_text, sizeof(now_text));
	qmgr_rfc_date((time_t) qf->arrival, arrival_text,
	    sizeof(arrival_text));
	subject = failed ? "Undelivered Mail Returned to Sender" :
	    strcmp(action, "delayed") == 0 ?
	    "Delayed Mail (still being retried)" :
	    "Successful Mail Delivery Report";
	headers_only = !failed || qf->ret == QFILE_RET_HDRS ||
	    (var_bounce_size_limit > 0 &&
	    qf->message_size > var_bounce_size_limit);
	/*
	 * Every value from the queue file is checked again or made
	 * printable here: a report must not get header fields or lines
	 * of the client's choosing (the sender may be forged).
	 */
	(void) buf_printf(b, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n"
	    "To: <", mail_hostname());
	(void) smtp_printable_append(b, recipient);
	(void) buf_printf(b, ">\r\nSubject: %s\r\nDate: %s\r\n"
	    "Message-ID: <%s.dsn@%s>\r\nAuto-Submitted: auto-replied\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/report; report-type=delivery-status;\r\n"
	    "\tboundary=\"%s\"\r\n\r\n"
	    "This is a MIME-encapsulated message.\r\n\r\n--%s\r\n"
	    "Content-Type: text/plain; charset=us-ascii\r\n"
	    "Content-Description: Notification\r\n\r\n"
	    "This is the mail system at host %s.\r\n\r\n", subject, now_text,
	    qfile_writer_id(w), mail_hostname(), boundary, boundary,
	    mail_hostname());
	if (failed)
		(void) buf_printf(b, "Your message could not be delivered to "
		    "one or more recipients.\r\nIt is attached below.\r\n\r\n");
	else if (strcmp(action, "delayed") == 0)
		(void) buf_printf(b, "Your message could not be delivered for "
		    "%lld hours.\r\nIt will be retried until it is %lld hours "
		    "old.\r\n\r\n", var_delay_warning_time / 3600,
		    var_maximal_queue_lifetime / 3600);
	else if (strcmp(action, "relayed") == 0)
		(void) buf_printf(b, "Your message was handed to the mail "
		    "servers of the recipients below, as you asked.\r\nThose "
		    "servers do not send delivery reports, so you will hear "
		    "no more of it\r\nunless it fails.\r\n\r\n");
	else
		(void) buf_printf(b, "Your message was delivered to the "
		    "recipients below, as you asked.\r\n\r\n");
	for (i = 0; i < count; i++) {
		const struct qfile_rcpt *r = qfile_rcpt_find(msg->qf, rcpts[i]);

		if (r == NULL)
			continue;
		qmgr_rcpt_status(msg, r, &code, &dsn, &text);
		qmgr_bounce_line(b, "<", r->address, ">: ");
		qmgr_bounce_line(b, "", code, " ");
		qmgr_bounce_line(b, "", dsn, " ");
		qmgr_bounce_line(b, "", text, "\r\n");
	}
	(void) buf_printf(b, "\r\n--%s\r\nContent-Type: message/delivery-status"
	    "\r\nContent-Description: Delivery report\r\n\r\n"
	    "Reporting-MTA: dns; %s\r\nX-Ispmail-Queue-ID: %s\r\n",
	    boundary, mail_hostname(), msg->id);
	if (qf->envid != NULL && xtext_envid_valid(qf->envid, XTEXT_ENVID_MAX))
		(void) buf_printf(b, "Original-Envelope-Id: %s\r\n", qf->envid);
	else if (qf->envid != NULL)
		log_warn("%s: invalid ENVID left out of the %s notice", msg->id,
		    action);
	(void) buf_printf(b, "Arrival-Date: %s\r\n", arrival_text);
	for (i = 0; i < count; i++) {
		const struct qfile_rcpt *r = qfile_rcpt_find(msg->qf, rcpts[i]);
		const char *orig, *semi;

		if (r == NULL)
			continue;
		qmgr_rcpt_status(msg, r, &code, &dsn, &text);
		qmgr_bounce_line(b, "\r\nFinal-Recipient: rfc822; ", r->address,
		    "\r\n");
		orig = qmgr_original_address(msg->qf, r);
		if (r->orcpt != NULL && xtext_orcpt_valid(r->orcpt,
		    XTEXT_ORCPT_MAX)) {
			/* RFC 3464 2.3.1: "type; address", decoded. */
			semi = strchr(r->orcpt, ';');
			(void) buf_printf(b, "Original-Recipient: %.*s; %s\r\n",
			    (int) (semi - r->orcpt), r->orcpt, semi + 1);
		} else if (strcmp(orig, r->address) != 0) {
			qmgr_bounce_line(b, "Original-Recipient: rfc822; ", orig,
			    "\r\n");
		}
		qmgr_bounce_line(b, "Action: ", action, "\r\n");
		qmgr_bounce_line(b, "Status: ", dsn, "\r\n");
		qmgr_bounce_line(b, "Diagnostic-Code: smtp; ", code, " ");
		qmgr_bounce_line(b, "", dsn, " ");
		qmgr_bounce_line(b, "", text, "\r\n");
		(void) buf_printf(b, "Last-Attempt-Date: %s\r\n", now_text);
	}
	(void) buf_printf(b, "\r\n--%s\r\nContent-Type: %s\r\n"
	    "Content-Description: %s\r\n\r\n", boundary,
	    headers_only ? "text/rfc822-headers" : "message/rfc822",
	    headers_only ? "Message headers" : "Undelivered Message");
	if (qmgr_bounce_put(w, b, &error) < 0 ||
	    qmgr_copy_original(msg, w, headers_only, &error) < 0) {
		buf_free(&b);
		free(boundary);
		goto fail;
	}
	(void) buf_printf(b, "\r\n--%s--\r\n", boundary);
	free(boundary);
	if (qmgr_bounce_put(w, b, &error) < 0) {
		buf_free(&b);
		goto fail;
	}
	buf_free(&b);
	id = xstrdup(qfile_writer_id(w));
	if (qfile_writer_commit(&w, QFILE_INCOMING, &error) < 0) {
		free(id);
		goto fail;
	}
	log_info("sender %s notice: %s", action, id);
	path = qfile_path(var_queue_directory, QFILE_INCOMING, id);
	qmgr_message_activate(path, id);
	free(path);
	free(id);
	free(env.sender);
	free(env.protocol);
	free(env.origin);
	free(recipient);
	return 0;
fail:
	log_error("cannot queue a %s notice: %s", action, error);
	free(error);
	qfile_writer_abort(&w);
	free(env.sender);
	free(env.protocol);
	free(env.origin);
	free(recipient);
	return -1;
}

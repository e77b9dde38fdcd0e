/*
 * smtp_transaction: one mail transaction on the cached session (MAIL,
 * RCPT, DATA and the message), and the results it gives.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "mail_params.h"
#include "qfile.h"
#include "smtp.h"
#include "smtp_data.h"
#include "smtp_session.h"
#include "stream.h"
#include "xalloc.h"
#include "xtext.h"

/* How much of the header is scanned for 8-bit bytes (SMTPUTF8 need). */
#define SMTP_HEADER_SCAN_MAX (1024 * 1024)

/* ---- the transaction ------------------------------------------------------- */

static int
smtp_has_8bit(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char) *s >= 0x80)
			return 1;
	return 0;
}

/*
 * Does the message need SMTPUTF8 (RFC 6531)?  When the client asked for
 * it and an envelope address or a header is not ASCII.
 */
static int
smtp_needs_smtputf8(const struct smtp_job *job)
{
	char chunk[8192];
	long long left, off;
	ssize_t n, i;
	int prev_nl = 1, prev_cr_nl = 0;
	size_t k;

	if (!job->smtputf8)
		return 0;
	if (smtp_has_8bit(job->sender))
		return 1;
	for (k = 0; k < job->count; k++)
		if (smtp_has_8bit(job->rcpts[k].address))
			return 1;
	left = job->qf->message_size < SMTP_HEADER_SCAN_MAX ?
	    job->qf->message_size : SMTP_HEADER_SCAN_MAX;
	off = job->qf->message_offset;
	while (left > 0) {
		n = pread(job->qfd, chunk, left > (long long) sizeof(chunk) ?
		    sizeof(chunk) : (size_t) left, (off_t) off);
		if (n <= 0)
			return 1;	/* cannot tell: be strict */
		for (i = 0; i < n; i++) {
			if ((unsigned char) chunk[i] >= 0x80)
				return 1;
			/* An empty line ends the header. */
			if (chunk[i] == '\n' && (prev_nl || prev_cr_nl))
				return 0;
			prev_cr_nl = chunk[i] == '\r' && prev_nl;
			prev_nl = chunk[i] == '\n';
		}
		off += n;
		left -= n;
	}
	return 0;
}

/* Send the message from the queue file (smtp_data_send: CRLF, dots). */
static int
smtp_send_message(struct stream *s, int fd, const struct qfile *qf,
	const char *queue_id)
{
	long long bare = 0;

	if (smtp_data_send_headers(s, qf->prepend, qf->prepend_count) < 0 ||
	    smtp_data_send(s, fd, qf->message_offset, qf->message_size,
	    &bare) < 0)
		return -1;
	if (bare > 0)
		log_info("%s: %lld bare CR or LF sent as CRLF", queue_id, bare);
	return 0;
}

/* The result text for a server's reply (SMTP: who said it, to what). */
static char *
smtp_reply_text(const struct smtp_conn *c, const struct smtp_reply *r,
	const char *command)
{
	if (c->lmtp)
		return xasprintf("%s (%s)", buf_cstr(r->text), c->peer);
	return xasprintf("host %s said: %s %s %s (in reply to %s)", c->peer,
	    r->code, r->dsn, buf_cstr(r->text), command);
}

void
smtp_log_results(const struct smtp_job *job)
{
	size_t i;

	if (job->lmtp)
		return;
	for (i = 0; i < job->count; i++) {
		const char *res = job->rcpts[i].result;

		if (res == NULL)
			continue;
		/* Which class, from which of our addresses, to whom. */
		log_info("to=<%s>, relay=%s, transport=%s, source=%s, "
		    "status=%s (%s)", job->rcpts[i].address,
		    smtp_cache.peer != NULL ? smtp_cache.peer : job->nexthop,
		    job->transport != NULL ? job->transport : "smtp",
		    smtp_cache.source != NULL ? smtp_cache.source : "none",
		    res[0] == '2' ? "sent" : res[0] == '4' ? "deferred" :
		    "bounced", res);
	}
}

/*
 * 1 when a command line (CRLF at its end) has no other control
 * character: whatever the queue file holds, one command stays one line.
 */
static int
smtp_wire_safe(const struct buf *cmd)
{
	const char *p = buf_cstr(cmd);
	size_t i, len = buf_len(cmd) - 2;

	for (i = 0; i < len; i++)
		if ((unsigned char) p[i] < 0x20 || p[i] == 0x7f)
			return 0;
	return 1;
}

/* MAIL FROM with the extensions the server offered. */
static void
smtp_mail_command(struct buf *cmd, const struct smtp_job *job,
	int smtputf8)
{
	struct smtp_conn *c = &smtp_cache;

	buf_reset(cmd);
	(void) buf_printf(cmd, "MAIL FROM:<%s>", job->sender);
	if (c->caps & CAP_SIZE)
		(void) buf_printf(cmd, " SIZE=%lld", job->qf->message_size +
		    job->qf->prepend_size);
	if (job->body_8bit && (c->caps & CAP_8BITMIME))
		(void) buf_append_str(cmd, " BODY=8BITMIME");
	if (smtputf8)
		(void) buf_append_str(cmd, " SMTPUTF8");
	if (job->lmtp && (c->caps & CAP_XQUEUEID))
		(void) buf_printf(cmd, " XQUEUEID=%s", job->queue_id);
	if (c->caps & CAP_DSN) {
		if (job->ret != NULL && *job->ret != '\0')
			(void) buf_printf(cmd, " RET=%s", job->ret);
		/* The queue file is not trusted: checked again. */
		if (job->envid != NULL && *job->envid != '\0') {
			if (xtext_envid_valid(job->envid, XTEXT_ENVID_MAX)) {
				(void) buf_append_str(cmd, " ENVID=");
				(void) xtext_encode(cmd, job->envid);
			} else {
				log_warn("%s: invalid ENVID dropped",
				    job->queue_id);
			}
		}
	}
	(void) buf_append_str(cmd, "\r\n");
}

static void
smtp_rcpt_command(struct buf *cmd, const struct smtp_job *job,
	const struct smtp_rcpt *rc)
{
	size_t mark;

	buf_reset(cmd);
	(void) buf_printf(cmd, "RCPT TO:<%s>", rc->address);
	if (smtp_cache.caps & CAP_DSN) {
		if (rc->notify != NULL && *rc->notify != '\0')
			(void) buf_printf(cmd, " NOTIFY=%s", rc->notify);
		/* Checked again and xtext encoded: never raw on the wire. */
		if (rc->orcpt != NULL && *rc->orcpt != '\0') {
			mark = buf_len(cmd);
			(void) buf_append_str(cmd, " ORCPT=");
			if (xtext_orcpt_encode(cmd, rc->orcpt,
			    XTEXT_ORCPT_MAX) < 0) {
				buf_truncate(cmd, mark);
				log_warn("%s: to=<%s>: invalid ORCPT dropped",
				    job->queue_id, rc->address);
			}
		}
	}
	(void) buf_append_str(cmd, "\r\n");
}

/* One transaction for every recipient of the job on the cached session. */
void
smtp_transaction(struct smtp_job *job, struct smtp_reply *r)
{
	struct stream *s = smtp_cache.s;
	struct buf *cmd = buf_new(2 * (size_t) var_attr_value_limit + 1024);
	const char *rerr = NULL;
	char *text;
	int *accepted = xcalloc(job->count + 1, sizeof(int));
	int *skipped = xcalloc(job->count + 1, sizeof(int));
	int pipelining = (smtp_cache.caps & CAP_PIPELINING) != 0;
	int smtputf8 = 0;
	size_t i, naccepted = 0, nskipped = 0;

	/* RFC 3461 5.2: NOTIFY goes on, and so does the duty to report. */
	job->remote_dsn = !job->lmtp && (smtp_cache.caps & CAP_DSN) != 0;
	if (smtp_cache.size_limit > 0 && job->qf->message_size +
	    job->qf->prepend_size > smtp_cache.size_limit) {
		/* RFC 1870 6: no point in sending what will be refused. */
		text = xasprintf("message size %lld exceeds size limit %lld "
		    "of host %s", job->qf->message_size +
		    job->qf->prepend_size, smtp_cache.size_limit,
		    smtp_cache.peer);
		smtp_fail_rest(job, "552", "5.3.4", text);
		free(text);
		smtp_cache.last_used = time(NULL);
		goto out;
	}
	if (job->lmtp) {
		/* lmtpd decides for the mailbox; it offers SMTPUTF8. */
		smtputf8 = job->smtputf8 && (smtp_cache.caps & CAP_SMTPUTF8);
	} else if (smtp_needs_smtputf8(job)) {
		if (!(smtp_cache.caps & CAP_SMTPUTF8)) {
			text = xasprintf("SMTPUTF8 is required, but was not "
			    "offered by host %s", smtp_cache.peer);
			smtp_fail_rest(job, "550", "5.6.7", text);
			free(text);
			smtp_cache.last_used = time(NULL);
			goto out;
		}
		smtputf8 = 1;
	} else {
		smtputf8 = job->smtputf8 && (smtp_cache.caps & CAP_SMTPUTF8);
	}
	smtp_mail_command(cmd, job, smtputf8);
	if (!smtp_wire_safe(cmd)) {
		log_warn("%s: invalid sender in the queue file",
		    job->queue_id);
		smtp_fail_rest(job, "554", "5.6.0", "invalid sender address "
		    "in the queue file");
		smtp_cache.last_used = time(NULL);
		goto out;
	}
	(void) stream_write(s, buf_cstr(cmd), buf_len(cmd));
	for (i = 0; i < job->count; i++) {
		smtp_rcpt_command(cmd, job, &job->rcpts[i]);
		if (!smtp_wire_safe(cmd)) {
			log_warn("%s: invalid recipient in the queue file",
			    job->queue_id);
			smtp_result(job, i, "554", "5.1.3", "invalid "
			    "recipient address in the queue file");
			skipped[i] = 1;
			nskipped++;
			continue;
		}
		(void) stream_write(s, buf_cstr(cmd), buf_len(cmd));
	}
	/* With PIPELINING, DATA rides along (RFC 2920 3.1). */
	if (pipelining)
		(void) stream_puts(s, "DATA\r\n");
	if (stream_flush(s) != STREAM_OK)
		goto lost;
	if (smtp_read_reply(s, r, &rerr) < 0)
		goto lost;
	if (r->code[0] != '2') {
		text = smtp_reply_text(&smtp_cache, r, "MAIL FROM");
		smtp_fail_rest(job, r->code, r->dsn, text);
		free(text);
		/* Read the RCPT (and DATA) replies to stay in step. */
		for (i = nskipped; i < job->count + (size_t) pipelining; i++)
			if (smtp_read_reply(s, r, &rerr) < 0)
				goto lost;
		goto reset;
	}
	for (i = 0; i < job->count; i++) {
		if (skipped[i])
			continue;
		if (smtp_read_reply(s, r, &rerr) < 0)
			goto lost;
		if (r->code[0] == '2') {
			accepted[i] = 1;
			naccepted++;
		} else {
			text = smtp_reply_text(&smtp_cache, r, "RCPT TO");
			smtp_result(job, i, r->code, r->dsn, text);
			free(text);
		}
	}
	if (!pipelining) {
		if (naccepted == 0)
			goto reset;
		if (stream_puts(s, "DATA\r\n") != STREAM_OK ||
		    stream_flush(s) != STREAM_OK)
			goto lost;
	}
	if (smtp_read_reply(s, r, &rerr) < 0)
		goto lost;
	if (r->code[0] == '3' && naccepted == 0) {
		/* A server that takes DATA without recipients: end it empty. */
		if (stream_puts(s, ".\r\n") != STREAM_OK ||
		    stream_flush(s) != STREAM_OK ||
		    smtp_read_reply(s, r, &rerr) < 0)
			goto lost;
		goto reset;
	}
	if (r->code[0] != '3') {
		if (naccepted > 0) {
			text = smtp_reply_text(&smtp_cache, r, "DATA");
			for (i = 0; i < job->count; i++)
				if (accepted[i])
					smtp_result(job, i, r->code[0] == '5' ?
					    "554" : "451", r->code[0] == '5' ?
					    "5.0.0" : "4.0.0", text);
			free(text);
		}
		goto reset;
	}
	stream_set_timeouts(s, (int) (var_smtp_data_timeout * 1000),
	    (int) (var_smtp_data_timeout * 1000));
	if (smtp_send_message(s, job->qfd, job->qf, job->queue_id) < 0 ||
	    stream_flush(s) != STREAM_OK)
		goto lost;
	if (job->lmtp) {
		/* One reply per accepted recipient, in order (RFC 2033 4.2). */
		for (i = 0; i < job->count; i++) {
			if (!accepted[i])
				continue;
			if (smtp_read_reply(s, r, &rerr) < 0)
				goto lost;
			text = smtp_reply_text(&smtp_cache, r, "end of DATA");
			smtp_result(job, i, r->code, r->dsn, text);
			free(text);
		}
	} else {
		if (smtp_read_reply(s, r, &rerr) < 0)
			goto lost;
		text = smtp_reply_text(&smtp_cache, r, "end of DATA");
		for (i = 0; i < job->count; i++)
			if (accepted[i])
				smtp_result(job, i, r->code, r->dsn, text);
		free(text);
	}
	stream_set_timeouts(s, (int) (var_smtp_command_timeout * 1000),
	    (int) (var_smtp_command_timeout * 1000));
	smtp_cache.last_used = time(NULL);
	goto out;
reset:
	if (smtp_command(s, r, &rerr, "RSET") < 0)
		smtp_conn_close(&smtp_cache, 0);
	else
		smtp_cache.last_used = time(NULL);
	goto out;
lost:
	text = xasprintf("lost connection with %s (%s)", smtp_cache.peer,
	    rerr != NULL ? rerr : stream_error(s));
	log_info("%s", text);
	smtp_fail_rest(job, "451", "4.4.2", text);
	free(text);
	smtp_log_results(job);
	smtp_conn_close(&smtp_cache, 0);
	free(accepted);
	free(skipped);
	buf_free(&cmd);
	return;
out:
	smtp_log_results(job);
	free(accepted);
	free(skipped);
	buf_free(&cmd);
}

/*
 * smtpd_direct: direct delivery (smtpd_direct_delivery, smtpd(8)).  At
 * the end of DATA/BDAT in MX mode, when every recipient is a mailbox
 * this host's lmtpd delivers (qmgr's own routing decision) and none asks
 * for NOTIFY=SUCCESS, the message is offered over LMTP to
 * lmtp_local_nexthop from the queue file that is not yet durable (from
 * the writer's buffer when the message fits it: then no file is
 * created unless lmtpd leaves a recipient to the queue), with
 * the envelope the LMTP agent would send.  A recipient or sender whose
 * mailbox has archive on keeps the message on the queue path: qmgr puts
 * it into the archive before it delivers (ispmail-archive(5)), which
 * direct delivery could not.  Recipients lmtpd answers 2xx
 * are delivered: lmtpd's fsync is the message's only durable write.
 * The others are left to the queue: the caller commits the file with
 * the delivered ones marked done.  Every wait has the deadline
 * smtpd_direct_timeout; anything unexpected (no connection, a slow or
 * broken lmtpd, a malformed reply) ends the attempt and the queue takes
 * over, so the 250 to the client always follows either lmtpd's 250s or
 * the queue file commit.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "connect.h"
#include "log.h"
#include "mail_host.h"
#include "mail_params.h"
#include "metrics.h"
#include "params.h"
#include "qfile.h"
#include "route.h"
#include "smtp_data.h"
#include "smtp_syntax.h"
#include "smtpd.h"
#include "stream.h"
#include "xalloc.h"

/* A reply line from lmtpd, and the lines of one reply (RFC 5321 4.5.3). */
#define SMTPD_DIRECT_REPLY_MAX 2048
#define SMTPD_DIRECT_REPLY_LINES 100

/* What lmtpd offered in its LHLO reply. */
#define DIRECT_PIPELINING 0x01
#define DIRECT_8BITMIME 0x02
#define DIRECT_SMTPUTF8 0x04
#define DIRECT_XQUEUEID 0x08
#define DIRECT_SIZE 0x10

struct direct_conn {
	int fd;
	struct stream *s;
	struct buf *line;
	struct buf *lines;	/* the reply's lines, printable, '\n' after each */
	struct buf *text;	/* the same joined by spaces, for logs */
	char code[4];
	unsigned int caps;
	int quit_sent;		/* QUIT went out after the message */
};

/* Is host (a mail host, maybe several) this store host, as qmgr decides? */
static int
direct_local_host(const char *host)
{
	return mail_host_is_local(host);
}

/*
 * Would qmgr hand this recipient, as it is, to the LMTP agent for
 * lmtp_local_nexthop?  A mailbox that expands to itself only (no alias,
 * forward or catch-all to record), not disabled, stored on this host.
 */
static int
direct_rcpt_local(struct route *r, const struct qfile_rcpt *rc)
{
	struct route_expansion *exp = NULL;
	const struct route_dest *d;
	char *norm = NULL, *error = NULL;
	int local = 0;

	if (rc->notify & QFILE_NOTIFY_SUCCESS)
		return 0;	/* the success DSN comes from qmgr */
	if (route_expand(r, rc->address, &exp, &error) == ROUTE_EXPAND_OK &&
	    exp->dest_count == 1) {
		d = &exp->dests[0];
		local = d->kind == ROUTE_DEST_MAILBOX && d->mailbox != NULL &&
		    route_mailbox_archived(r, d->mailbox, d->domain) == 0 &&
		    d->mailbox->state != ROUTE_STATE_DISABLED &&
		    d->mailbox->state != ROUTE_STATE_MOVING &&
		    direct_local_host(d->mailbox->mail_host);
		if (local && strcasecmp(d->address, rc->address) != 0) {
			local = route_normalize(r, rc->address, &norm,
			    &error) == 0 && strcasecmp(norm, d->address) == 0;
		}
	}
	free(norm);
	free(error);
	route_expansion_free(&exp);
	return local;
}

/* Is address a mailbox with archive on (or is the directory down)? */
static int
direct_archived_sender(struct route *r, const char *address)
{
	struct route_answer *ans = NULL;
	char *error = NULL;
	int rc;

	if (address == NULL || *address == '\0')
		return 0;
	rc = route_lookup_fields(r, address, ROUTE_FIELD_ARCHIVE, &ans,
	    &error);
	free(error);
	if (rc > 0)
		rc = ans->kind != ROUTE_KIND_MAILBOX ? 0
		    : route_mailbox_archived(r, ans->mailbox, ans->domain);
	route_answer_free(&ans);
	return rc != 0;
}

/* Every recipient local and direct delivery on? */
static int
direct_eligible(const struct smtpd_session *ss)
{
	struct route *r;
	size_t i;

	if (!var_smtpd_direct_delivery || smtpd.mode != SMTPD_MODE_MX ||
	    *var_lmtp_local_nexthop == '\0')
		return 0;
	r = smtpd_route();
	if (r == NULL)
		return 0;
	for (i = 0; i < ss->env.rcpt_count; i++)
		if (!direct_rcpt_local(r, &ss->env.rcpts[i]))
			return 0;
	/* Archived mail goes through qmgr, which archives before delivery. */
	return !direct_archived_sender(r, ss->env.auth_user) &&
	    !direct_archived_sender(r, ss->env.sender);
}

/* Read one reply into c->code and c->text.  0 ok, -1 (*error_r static). */
/* A direct delivery counts as qmgr's do ("2.0.0 text": the dsn). */
static void
smtpd_direct_count(const char *text)
{
	char dsn[16];
	size_t len = strcspn(text, " ");

	if (len >= sizeof(dsn))
		len = 0;
	memcpy(dsn, text, len);
	dsn[len] = '\0';
	metrics_inc("ispmail_deliveries_total", "result", "sent", "dsn",
	    metrics_dsn_label(dsn), NULL);
	metrics_inc("ispmail_delivery_hop_total", "transport", "direct",
	    "nexthop", "lmtpd", "result", "sent", NULL);
}

static int
direct_reply(struct direct_conn *c, const char **error_r)
{
	const char *p;
	int lines = 0;

	buf_reset(c->lines);
	buf_reset(c->text);
	for (;;) {
		if (stream_read_line(c->s, c->line, SMTPD_DIRECT_REPLY_MAX) !=
		    STREAM_OK) {
			*error_r = stream_status(c->s) == STREAM_TIMEOUT ?
			    "timeout" : "lost connection";
			return -1;
		}
		p = buf_cstr(c->line);
		if (buf_len(c->line) < 3 || p[0] < '2' || p[0] > '5' ||
		    p[1] < '0' || p[1] > '9' || p[2] < '0' || p[2] > '9' ||
		    (p[3] != '\0' && p[3] != ' ' && p[3] != '-') ||
		    ++lines > SMTPD_DIRECT_REPLY_LINES ||
		    (lines > 1 && memcmp(c->code, p, 3) != 0)) {
			*error_r = "malformed reply";
			return -1;
		}
		memcpy(c->code, p, 3);
		c->code[3] = '\0';
		if (buf_len(c->text) > 0)
			(void) buf_append_char(c->text, ' ');
		/* It goes into our log: printable only, one line. */
		(void) smtp_printable_append(c->text, p[3] != '\0' ? p + 4 : "");
		(void) smtp_printable_append(c->lines, p[3] != '\0' ? p + 4 : "");
		(void) buf_append_char(c->lines, '\n');
		if (p[3] != '-')
			return 0;
	}
}

/* The LHLO keywords we use, one per line after the first. */
static void
direct_caps(struct direct_conn *c)
{
	const char *p = buf_cstr(c->lines), *eol;
	size_t len;

	c->caps = 0;
	while ((eol = strchr(p, '\n')) != NULL) {
		p = eol + 1;
		len = strcspn(p, " \n");
		if (len == 10 && strncasecmp(p, "PIPELINING", len) == 0)
			c->caps |= DIRECT_PIPELINING;
		else if (len == 8 && strncasecmp(p, "8BITMIME", len) == 0)
			c->caps |= DIRECT_8BITMIME;
		else if (len == 8 && strncasecmp(p, "SMTPUTF8", len) == 0)
			c->caps |= DIRECT_SMTPUTF8;
		else if (len == 8 && strncasecmp(p, "XQUEUEID", len) == 0)
			c->caps |= DIRECT_XQUEUEID;
		else if (len == 4 && strncasecmp(p, "SIZE", len) == 0)
			c->caps |= DIRECT_SIZE;
	}
}

/* Connect and LHLO.  0 ok, -1 with *error_r (caller frees). */
static int
direct_open(struct direct_conn *c, char **error_r)
{
	const char *rerr = NULL;
	int ms = (int) (var_smtpd_direct_timeout * 1000);
	int greet_ms = (int) (var_smtpd_direct_connect_timeout * 1000);

	/*
	 * Nothing is sent before the greeting, so a short deadline up to it
	 * costs nothing but an fsync: an lmtpd whose processes are all busy
	 * leaves the connection in its listen queue, and the client should
	 * not wait for that.
	 */
	if (greet_ms > ms)
		greet_ms = ms;
	c->fd = net_connect_nexthop(var_lmtp_local_nexthop,
	    var_queue_directory, greet_ms, NULL, NULL, error_r);
	if (c->fd < 0)
		return -1;
	c->s = stream_new(c->fd, greet_ms, greet_ms);
	/*
	 * LHLO leaves with the connection, before the greeting: lmtpd
	 * answers both in one segment, a round trip less per message.  It
	 * commits to nothing; the greeting is still awaited, and a late or
	 * refused one ends the attempt as before.
	 */
	(void) stream_printf(c->s, "LHLO %s\r\n", smtpd.hostname);
	if (stream_flush(c->s) != STREAM_OK) {
		*error_r = xstrdup(stream_error(c->s));
		return -1;
	}
	if (direct_reply(c, &rerr) < 0 || c->code[0] != '2') {
		*error_r = xstrdup(rerr != NULL ? rerr : "greeting refused");
		return -1;
	}
	stream_set_timeouts(c->s, ms, ms);
	if (direct_reply(c, &rerr) < 0 || c->code[0] != '2') {
		*error_r = xstrdup(rerr != NULL ? rerr : "LHLO refused");
		return -1;
	}
	direct_caps(c);
	if (!(c->caps & DIRECT_PIPELINING)) {
		*error_r = xstrdup("no PIPELINING");
		return -1;
	}
	return 0;
}

static void
direct_close(struct direct_conn *c, int quit)
{
	if (c->s != NULL && quit && !c->quit_sent) {
		(void) stream_puts(c->s, "QUIT\r\n");
		(void) stream_flush(c->s);
	}
	stream_free(&c->s);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	buf_free(&c->line);
	buf_free(&c->lines);
	buf_free(&c->text);
}

/*
 * MAIL, every RCPT and DATA in one flight (lmtpd pipelines), then the
 * message and one reply per accepted recipient (RFC 2033 4.2).  done[i]
 * is set for each recipient lmtpd delivered.  0: the session ended in
 * step; -1 with *error_r: it broke (the rest goes to the queue).
 */
static int
direct_transaction(struct direct_conn *c, struct smtpd_session *ss,
	struct qfile_writer *w, const char *id, int *done, char **error_r)
{
	int *accepted = xcalloc(ss->env.rcpt_count + 1, sizeof(int));
	/* Still all in the writer's buffer: no file was created. */
	const char *buffered = qfile_writer_buffered_message(w);
	const char *rerr = NULL;
	char *const *prepend;
	long long bare = 0, size;
	size_t i, naccepted = 0, nprepend;
	int ret = -1;

	prepend = qfile_writer_prepended(w, &nprepend);
	size = qfile_writer_message_size(w);
	for (i = 0; i < nprepend; i++)
		size += (long long) strlen(prepend[i]) + 2;
	(void) stream_printf(c->s, "MAIL FROM:<%s>", ss->env.sender);
	if (c->caps & DIRECT_SIZE)
		(void) stream_printf(c->s, " SIZE=%lld", size);
	if (ss->env.body_8bit && (c->caps & DIRECT_8BITMIME))
		(void) stream_puts(c->s, " BODY=8BITMIME");
	if (ss->env.smtputf8 && (c->caps & DIRECT_SMTPUTF8))
		(void) stream_puts(c->s, " SMTPUTF8");
	if (c->caps & DIRECT_XQUEUEID)
		(void) stream_printf(c->s, " XQUEUEID=%s", id);
	(void) stream_puts(c->s, "\r\n");
	for (i = 0; i < ss->env.rcpt_count; i++)
		(void) stream_printf(c->s, "RCPT TO:<%s>\r\n",
		    ss->env.rcpts[i].address);
	(void) stream_puts(c->s, "DATA\r\n");
	if (stream_flush(c->s) != STREAM_OK || direct_reply(c, &rerr) < 0)
		goto out;
	if (c->code[0] != '2') {
		rerr = "MAIL FROM refused";
		goto out;
	}
	for (i = 0; i < ss->env.rcpt_count; i++) {
		if (direct_reply(c, &rerr) < 0)
			goto out;
		if (c->code[0] == '2') {
			accepted[i] = 1;
			naccepted++;
		} else {
			log_info("to=<%s>, relay=lmtpd/direct, status=queued "
			    "(RCPT: %s %s)", ss->env.rcpts[i].address, c->code,
			    buf_cstr(c->text));
		}
	}
	if (direct_reply(c, &rerr) < 0)
		goto out;
	if (c->code[0] != '3') {
		/* No recipient, or DATA refused: nothing was delivered. */
		ret = naccepted == 0 ? 0 : -1;
		rerr = "DATA refused";
		goto out;
	}
	/*
	 * QUIT follows the message in the same flight (RFC 2920: it may end
	 * a pipelined group): lmtpd finds it once it has answered and is
	 * free at once, without a round trip after the last reply.
	 */
	if (smtp_data_send_headers(c->s, prepend, nprepend) < 0 ||
	    (buffered != NULL ? smtp_data_send_buffer(c->s, buffered,
	    (size_t) qfile_writer_message_size(w), &bare) :
	    smtp_data_send(c->s, qfile_writer_fd(w),
	    qfile_writer_message_offset(w), qfile_writer_message_size(w),
	    &bare)) < 0 || stream_puts(c->s, "QUIT\r\n") != STREAM_OK ||
	    stream_flush(c->s) != STREAM_OK)
		goto out;
	c->quit_sent = 1;
	for (i = 0; i < ss->env.rcpt_count; i++) {
		if (!accepted[i])
			continue;
		if (direct_reply(c, &rerr) < 0)
			goto out;
		done[i] = c->code[0] == '2';
		log_info("to=<%s>, relay=lmtpd/direct, status=%s (%s %s)",
		    ss->env.rcpts[i].address, done[i] ? "sent" : "queued",
		    c->code, buf_cstr(c->text));
		/* Not sent here: qmgr counts it when it delivers. */
		if (done[i])
			smtpd_direct_count(buf_cstr(c->text));
	}
	ret = 0;
out:
	if (ret < 0)
		*error_r = xstrdup(rerr != NULL ? rerr : stream_error(c->s));
	free(accepted);
	return ret;
}

enum smtpd_direct_result
smtpd_direct_deliver(struct smtpd_session *ss, struct qfile_writer *w,
	long long size)
{
	struct direct_conn c = { .fd = -1 };
	const char *id = qfile_writer_id(w);
	int *done = NULL;
	char *error = NULL;
	size_t i, ndone = 0;
	int rc;

	if (!direct_eligible(ss))
		return SMTPD_DIRECT_NONE;
	log_set_context(id);
	smtpd_queue_log(ss, size);
	c.line = buf_new(SMTPD_DIRECT_REPLY_MAX + 1);
	c.lines = buf_new(SMTPD_DIRECT_REPLY_LINES *
	    (SMTPD_DIRECT_REPLY_MAX + 1));
	c.text = buf_new(SMTPD_DIRECT_REPLY_LINES *
	    (SMTPD_DIRECT_REPLY_MAX + 1));
	done = xcalloc(ss->env.rcpt_count + 1, sizeof(int));
	/* A message past the write buffer is read back from its file. */
	rc = qfile_writer_buffered_message(w) != NULL ? 0 :
	    qfile_writer_flush(w, &error);
	if (rc == 0)
		rc = direct_open(&c, &error);
	if (rc == 0)
		rc = direct_transaction(&c, ss, w, id, done, &error);
	direct_close(&c, rc == 0);
	if (rc < 0) {
		log_info("direct delivery to %s: %s; queued",
		    var_lmtp_local_nexthop, error);
		free(error);
		error = NULL;
	}
	for (i = 0; i < ss->env.rcpt_count; i++) {
		if (!done[i])
			continue;
		/* Before the commit: qmgr must not deliver it again. */
		if (qfile_writer_rcpt_done(w, i, &error) < 0) {
			/* A duplicate later, never a loss. */
			log_error("%s", error);
			free(error);
			error = NULL;
			continue;
		}
		ndone++;
	}
	free(done);
	log_set_context(NULL);
	return ndone == ss->env.rcpt_count ? SMTPD_DIRECT_DELIVERED :
	    SMTPD_DIRECT_QUEUE;
}

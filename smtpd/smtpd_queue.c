/*
 * smtpd_queue: DATA and BDAT (RFC 5321 4.1.1.4, RFC 3030) into a queue
 * file, the Received: header, and the notice to qmgr.  The 250 reply is
 * sent only after qfile_writer_commit() made the file durable, or after
 * lmtpd delivered it to every recipient (smtpd_direct.c); a write
 * that fails because the disk is full answers 452 4.3.1.  MAIL asks
 * smtpd_queue_space() first, so a client is told before it sends data.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "anvil_client.h"
#include "attr.h"
#include "buf.h"
#include "fileio.h"
#include "header_value.h"
#include "log.h"
#include "mail_params.h"
#include "metrics.h"
#include "params.h"
#include "qfile.h"
#include "service.h"
#include "smtp_data.h"
#include "smtpd.h"
#include "smtpd_account.h"
#include "smtpd_authres.h"
#include "smtpd_filter.h"
#include "smtpd_msa.h"
#include "stream.h"
#include "tls.h"
#include "xalloc.h"

/* BDAT chunks are read and written in pieces of this size. */
#define SMTPD_BDAT_PIECE 65536
/* smtpd_forbid_bare_newline=reject, DATA and BDAT alike. */
#define SMTPD_BARE_NEWLINE_REPLY \
	"550 5.5.2 Error: bare CR or LF in the message (RFC 5321 2.3.8)"

struct smtpd_sink {
	struct qfile_writer *w;
	char *error;
	int write_errno;	/* of the failed write */
	struct smtpd_msa *msa;	/* submission: through it; else NULL */
	struct smtpd_authres *authres;	/* then through it; or NULL */
	struct header_value *msgid;	/* sees what the file gets */
};

/* The reply to a queue file write that failed with errno err. */
static const char *
smtpd_write_error_reply(int err)
{
	/* RFC 3463 4.3.1: mail system full; the client tries later. */
	return fileio_errno_full(err) ? "452 4.3.1 Insufficient system storage" :
	    "451 4.3.0 Error: queue file write error";
}

int
smtpd_queue_space(struct smtpd_session *ss, long long size)
{
	unsigned long long free_bytes, need;
	char *error = NULL;

	if (var_queue_minfree == 0 && size <= 0)
		return 0;
	if (fileio_free_bytes(var_queue_directory, &free_bytes, &error) < 0) {
		/* Unknown: the write itself will tell. */
		log_warn("%s", error);
		free(error);
		return 0;
	}
	need = (unsigned long long) var_queue_minfree +
	    (unsigned long long) (size > 0 ? size : 0);
	if (free_bytes >= need)
		return 0;
	log_warn("NOQUEUE: reject: MAIL from %s: queue file system has %llu "
	    "bytes free, needs %llu (queue_minfree %lld, size %lld)",
	    ss->peer->client_addr, free_bytes, need, var_queue_minfree, size);
	smtpd_reply(ss, "452 4.3.1 Insufficient system storage");
	return -1;
}

static const char *
smtpd_protocol(const struct smtpd_session *ss)
{
	if (!ss->esmtp)
		return "SMTP";
	if (ss->auth_user != NULL)
		return smtpd_tls_active(ss) ? "ESMTPSA" : "ESMTPA";
	return smtpd_tls_active(ss) ? "ESMTPS" : "ESMTP";
}

/* The Received: header (RFC 5321 4.4), CRLF line ends. */
static void
smtpd_received(struct smtpd_session *ss, const char *id, struct buf *out)
{
	char date[64];
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	if (ss->local_user != NULL)
		(void) buf_printf(out, "Received: by %s (ispmail, from local "
		    "user %s uid %lld)\r\n", smtpd.hostname, ss->local_user,
		    ss->local_uid);
	else
		(void) buf_printf(out, "Received: from %s (%s [%s])\r\n",
		    ss->helo, ss->client_name != NULL ? ss->client_name :
		    "unknown", ss->peer->client_addr);
	if (ss->tls != NULL)
		(void) buf_printf(out, "\t(using %s with cipher %s "
		    "(%d bits))\r\n", tls_conn_version(ss->tls),
		    tls_conn_cipher(ss->tls), tls_conn_bits(ss->tls));
	(void) buf_printf(out, "\tby %s (ispmail) with %s id %s", smtpd.hostname,
	    smtpd_protocol(ss), id);
	/* "for" only with one recipient: never disclose a Bcc list. */
	if (ss->env.rcpt_count == 1)
		(void) buf_printf(out, "\r\n\tfor <%s>",
		    ss->env.rcpts[0].address);
	(void) buf_printf(out, "; %s\r\n", date);
}

/*
 * An authenticated login's hourly message and recipient limits, counted
 * by anvil for every smtpd and proxyd (the seed of exploited-account
 * detection).  0 within them (this message counted); -1 refused (451
 * sent).
 */
static int
smtpd_login_rate(struct smtpd_session *ss)
{
	struct anvil_submission sub;

	if (ss->auth_user == NULL ||
	    anvil_client_submission(ss->peer->service, ss->auth_user,
	    (long long) ss->env.rcpt_count, var_smtpd_login_message_rate_limit,
	    var_smtpd_login_recipient_rate_limit, &sub))
		return 0;
	metrics_inc("ispmail_smtpd_rejects_total", "reason", "rate_limit",
	    NULL);
	smtpd_reply(ss, "451 4.7.1 Error: sending rate exceeded for %s, try "
	    "again later", ss->auth_user);
	return -1;
}

/* Start a queue file with envelope and Received:; NULL (reply sent). */
static struct qfile_writer *
smtpd_queue_begin(struct smtpd_session *ss)
{
	struct qfile_writer *w;
	struct buf *hdr;
	char *error = NULL;
	char *protocol;
	int err;

	if (smtpd_login_rate(ss) < 0)
		return NULL;
	protocol = xstrdup(smtpd_protocol(ss));

	ss->env.client_addr = NULL;
	w = qfile_writer_new(var_queue_directory, &error);
	if (w == NULL)
		goto fail;
	ss->env.arrival = (long long) time(NULL);
	ss->env.client_addr = xstrdup(ss->peer->client_addr);
	ss->env.client_helo = ss->helo;
	ss->env.protocol = protocol;
	ss->env.auth_user = ss->auth_user;
	if (qfile_writer_envelope(w, &ss->env, &error) < 0)
		goto fail;
	hdr = buf_new(8192);
	smtpd_received(ss, qfile_writer_id(w), hdr);
	if (qfile_writer_message(w, buf_cstr(hdr), buf_len(hdr),
	    &error) < 0) {
		buf_free(&hdr);
		goto fail;
	}
	buf_free(&hdr);
	free(ss->env.client_addr);
	ss->env.client_addr = ss->env.client_helo = ss->env.protocol = NULL;
	ss->env.auth_user = NULL;
	free(protocol);
	if (smtpd.mode == SMTPD_MODE_SUBMISSION) {
		/* RFC 6409 8.2, 8.3, as Postfix does on submission. */
		char *date, *message_id;

		smtpd_msa_values(qfile_writer_id(w), smtpd.hostname,
		    ss->env.arrival, &date, &message_id);
		smtpd_msa_free(&ss->msa);
		ss->msa = smtpd_msa_new(date, message_id);
		free(date);
		free(message_id);
	}
	smtpd_authres_free(&ss->authres);
	ss->authres = smtpd_authres_new(ss, qfile_writer_id(w));
	header_value_free(&ss->msgid);
	ss->msgid = header_value_new("Message-ID",
	    (size_t) var_smtpd_data_line_limit);
	return w;
fail:
	err = errno;
	free(ss->env.client_addr);
	ss->env.client_addr = ss->env.client_helo = ss->env.protocol = NULL;
	ss->env.auth_user = NULL;
	free(protocol);
	log_error("queue file: %s", error);
	free(error);
	qfile_writer_abort(&w);
	smtpd_reply(ss, "%s", smtpd_write_error_reply(err));
	return NULL;
}

/* Tell qmgr; if it is not there it finds the file when it scans. */
static void
smtpd_notify_qmgr(const char *id)
{
	struct sockaddr_un sun;
	struct buf *rec;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if ((size_t) snprintf(sun.sun_path, sizeof(sun.sun_path),
	    "%s/private/qmgr", var_queue_directory) >= sizeof(sun.sun_path))
		return;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (connect(fd, (struct sockaddr *) &sun, sizeof(sun)) < 0) {
		log_debug("qmgr notice for %s: %s", id, strerror(errno));
		close(fd);
		return;
	}
	rec = buf_new(1024);
	(void) attr_put(rec, "request", "new");
	(void) attr_put(rec, "queue_id", id);
	(void) attr_end(rec);
	if (send(fd, buf_cstr(rec), buf_len(rec), MSG_NOSIGNAL) < 0)
		log_debug("qmgr notice for %s: %s", id, strerror(errno));
	buf_free(&rec);
	close(fd);
}

void
smtpd_queue_log(struct smtpd_session *ss, long long size)
{
	char *msgid = ss->msgid != NULL ? header_value_msgid(ss->msgid) :
	    NULL;

	/* As Postfix's cleanup does: ispmailctl trace follows it. */
	if (msgid != NULL)
		log_info("message-id=%s", msgid);
	free(msgid);
	log_info("from=<%s>, size=%lld, nrcpt=%zu, client=%s, proto=%s%s%s",
	    ss->env.sender, size, ss->env.rcpt_count, ss->peer->client_addr,
	    smtpd_protocol(ss), ss->auth_user != NULL ? ", sasl_user=" : "",
	    ss->auth_user != NULL ? ss->auth_user : "");
}

/*
 * Deliver directly (smtpd_direct.c) or make the file durable, then
 * answer 250 and tell qmgr.  Frees *wp.
 */
static void
smtpd_queue_commit(struct smtpd_session *ss, struct qfile_writer **wp,
	long long size)
{
	char *id = xstrdup(qfile_writer_id(*wp));
	char *error = NULL;
	enum smtpd_direct_result direct = SMTPD_DIRECT_NONE;
	struct smtpd_filter_outcome filter;

	/* SPF/DKIM/DMARC or DKIM signing: header fields, maybe a 550. */
	if (ss->authres != NULL &&
	    smtpd_authres_end(ss->authres, ss, *wp) < 0) {
		qfile_writer_abort(wp);
		free(id);
		return;
	}
	if (smtpd_filter_message(ss, *wp, &filter) < 0 ||
	    (!filter.all_done && smtpd_account_message(ss, *wp, &filter) < 0)) {
		/* Refused or deferred: the reply is out, nothing queued. */
		qfile_writer_abort(wp);
		free(id);
		return;
	}
	if (smtpd_authres_queue_only(ss->authres))
		filter.queue_only = 1;
	if (filter.all_done) {
		/* Quarantined or discarded for every recipient. */
		qfile_writer_abort(wp);
		log_set_context(id);
		smtpd_queue_log(ss, size);
		log_set_context(NULL);
		smtpd_reply(ss, "250 2.0.0 Ok: queued as %s", id);
		ss->transactions++;
		free(id);
		return;
	}
	if (!filter.queue_only)
		direct = smtpd_direct_deliver(ss, *wp, size);
	if (direct == SMTPD_DIRECT_DELIVERED) {
		/* lmtpd's 250s came first: no queue file, no fsync here. */
		qfile_writer_abort(wp);
		metrics_inc("ispmail_smtpd_accepted_total", "service",
		    ss->peer->service, NULL);
		smtpd_reply(ss, "250 2.0.0 Ok: queued as %s", id);
		ss->transactions++;
		free(id);
		return;
	}
	if (qfile_writer_commit(wp, filter.subdir, &error) < 0) {
		int err = errno;

		log_error("%s: %s", id, error);
		free(error);
		smtpd_reply(ss, "%s", smtpd_write_error_reply(err));
		free(id);
		return;
	}
	if (direct == SMTPD_DIRECT_NONE) {
		log_set_context(id);
		smtpd_queue_log(ss, size);
		log_set_context(NULL);
	}
	metrics_inc("ispmail_smtpd_accepted_total", "service",
	    ss->peer->service, NULL);
	smtpd_reply(ss, "250 2.0.0 Ok: queued as %s", id);
	/* The client may hang up now: the reply goes out first. */
	(void) stream_flush(ss->s);
	if (strcmp(filter.subdir, QFILE_INCOMING) == 0)
		smtpd_notify_qmgr(id);
	else
		log_info("%s: held (hold/): see ispmailctl queue show", id);
	ss->transactions++;
	free(id);
}

/* Into the queue file as it is. */
static int
smtpd_sink_qfile(void *ctx, const void *data, size_t len)
{
	struct smtpd_sink *sink = ctx;

	if (qfile_writer_message(sink->w, data, len, &sink->error) < 0) {
		sink->write_errno = errno;
		return -1;
	}
	if (sink->msgid != NULL)
		header_value_feed(sink->msgid, data, len);
	return 0;
}

/* After the MSA filter: through the sender authentication filter. */
static int
smtpd_sink_file(void *ctx, const void *data, size_t len)
{
	struct smtpd_sink *sink = ctx;

	if (sink->authres != NULL)
		return smtpd_authres_write(sink->authres, data, len,
		    smtpd_sink_qfile, sink);
	return smtpd_sink_qfile(sink, data, len);
}

/* Message bytes from the client: through the MSA filter when there is one. */
static int
smtpd_sink(void *ctx, const void *data, size_t len)
{
	struct smtpd_sink *sink = ctx;

	if (sink->msa != NULL)
		return smtpd_msa_write(sink->msa, data, len, smtpd_sink_file,
		    sink);
	return smtpd_sink_file(sink, data, len);
}

/* The end of the message: what the MSA filter holds, and its additions. */
static int
smtpd_sink_finish(struct smtpd_sink *sink)
{
	if (sink->msa != NULL &&
	    smtpd_msa_finish(sink->msa, smtpd_sink_file, sink) < 0)
		return -1;
	if (sink->authres != NULL && smtpd_authres_finish(sink->authres,
	    smtpd_sink_qfile, sink) < 0)
		return -1;
	if (sink->msa == NULL)
		return 0;
	log_debug("added header fields: %s%s",
	    smtpd_msa_added(sink->msa) & SMTPD_MSA_ADDED_DATE ? "Date " : "",
	    smtpd_msa_added(sink->msa) & SMTPD_MSA_ADDED_MESSAGE_ID ?
	    "Message-ID" : "");
	return 0;
}

void
smtpd_cmd_data(struct smtpd_session *ss, const char *args)
{
	struct smtpd_sink sink = { NULL, NULL, 0, NULL, NULL, NULL };
	enum smtp_data_status st;
	long long size = 0;

	if (*args != '\0') {
		smtpd_reply(ss, "501 5.5.4 Syntax: DATA");
		(void) smtpd_error(ss);
		return;
	}
	if (!ss->have_mail) {
		smtpd_reply(ss, "503 5.5.1 Error: need MAIL command");
		(void) smtpd_error(ss);
		return;
	}
	if (ss->env.rcpt_count == 0) {
		smtpd_reply(ss, "554 5.5.1 Error: no valid recipients");
		(void) smtpd_error(ss);
		return;
	}
	sink.w = smtpd_queue_begin(ss);
	if (sink.w == NULL) {
		smtpd_transaction_reset(ss);
		return;
	}
	sink.msa = ss->msa;
	sink.authres = ss->authres;
	sink.msgid = ss->msgid;
	smtpd_reply(ss, "354 End data with <CR><LF>.<CR><LF>");
	if (stream_flush(ss->s) != STREAM_OK) {
		qfile_writer_abort(&sink.w);
		ss->quit = 1;
		return;
	}
	st = smtp_data_read(ss->s, var_message_size_limit,
	    (size_t) var_smtpd_data_line_limit, smtpd.bare_newline,
	    smtpd_sink, &sink, &size);
	if (st == SMTP_DATA_OK && smtpd_sink_finish(&sink) < 0)
		st = SMTP_DATA_SINK_FAILED;
	switch (st) {
	case SMTP_DATA_OK:
		smtpd_queue_commit(ss, &sink.w, size);
		break;
	case SMTP_DATA_TOO_BIG:
		log_info("message from %s too big (%lld bytes)",
		    ss->peer->client_addr, size);
		smtpd_reply(ss, "552 5.3.4 Error: message size exceeds fixed "
		    "limit");
		break;
	case SMTP_DATA_LINE_TOO_LONG:
		log_info("message from %s has a line over %lld bytes",
		    ss->peer->client_addr, var_smtpd_data_line_limit);
		smtpd_reply(ss, "554 5.6.0 Error: message line too long "
		    "(RFC 5321 4.5.3.1.6)");
		break;
	case SMTP_DATA_BARE_NEWLINE:
		log_info("message from %s has a bare CR or LF",
		    ss->peer->client_addr);
		smtpd_reply(ss, "%s", SMTPD_BARE_NEWLINE_REPLY);
		break;
	case SMTP_DATA_SINK_FAILED:
		log_error("queue file: %s", sink.error);
		smtpd_reply(ss, "%s", smtpd_write_error_reply(sink.write_errno));
		break;
	case SMTP_DATA_TIMEOUT:
		log_info("timeout in DATA from %s", ss->peer->client_addr);
		smtpd_reply(ss, "421 4.4.2 %s Error: timeout exceeded",
		    smtpd.hostname);
		ss->quit = 1;
		break;
	case SMTP_DATA_EOF:
	case SMTP_DATA_ERROR:
		log_info("%s from %s: nothing queued",
		    smtp_data_status_text(st), ss->peer->client_addr);
		ss->quit = 1;
		break;
	}
	free(sink.error);
	qfile_writer_abort(&sink.w);
	smtpd_transaction_reset(ss);
}

/* Parse "SIZE [LAST]"; -1 when malformed. */
static int
smtpd_bdat_args(const char *args, long long *size_r, int *last_r)
{
	const char *p = args;
	long long size = 0;
	int digits = 0;

	while (*p >= '0' && *p <= '9') {
		if (++digits > 18)
			return -1;
		size = size * 10 + (*p - '0');
		p++;
	}
	if (digits == 0)
		return -1;
	*last_r = 0;
	if (*p == ' ') {
		while (*p == ' ')
			p++;
		if (strcasecmp(p, "LAST") != 0)
			return -1;
		*last_r = 1;
	} else if (*p != '\0') {
		return -1;
	}
	*size_r = size;
	return 0;
}

/* Reject mode and a bare CR/LF seen: fail the message (once). */
static int
smtpd_bdat_bare(struct smtpd_session *ss)
{
	if (ss->bdat_crlf.bare == 0 ||
	    smtpd.bare_newline != SMTP_BARE_NEWLINE_REJECT)
		return 0;
	if (!ss->bdat_failed) {
		log_info("message from %s has a bare CR or LF",
		    ss->peer->client_addr);
		ss->bdat_failed = 1;
		ss->bdat_error = SMTPD_BARE_NEWLINE_REPLY;
	}
	return 1;
}

/*
 * BDAT data into the queue file (through the MSA filter on submission);
 * last: the message is complete.  -1 with ss->bdat_error set.
 */
static int
smtpd_bdat_write(struct smtpd_session *ss, const char *data, size_t len,
	int last)
{
	struct smtpd_sink sink = { ss->bdat, NULL, 0, ss->msa, ss->authres,
	    ss->msgid };
	int rc;

	rc = smtpd_sink(&sink, data, len);
	if (rc == 0 && last)
		rc = smtpd_sink_finish(&sink);
	if (rc < 0) {
		ss->bdat_error = smtpd_write_error_reply(sink.write_errno);
		log_error("queue file: %s", sink.error != NULL ? sink.error :
		    "write failed");
	}
	free(sink.error);
	return rc;
}

/* Read a chunk of len bytes, writing what fits to the queue file. */
static int
smtpd_bdat_read(struct smtpd_session *ss, long long len)
{
	struct buf *piece = buf_new(SMTPD_BDAT_PIECE);
	/* A piece of bare CRs or LFs doubles when normalised. */
	struct buf *norm = buf_new(2 * SMTPD_BDAT_PIECE + 2);
	size_t n;

	while (len > 0) {
		n = len > SMTPD_BDAT_PIECE ? SMTPD_BDAT_PIECE : (size_t) len;
		buf_reset(piece);
		if (stream_read_exact(ss->s, piece, n) != STREAM_OK) {
			buf_free(&piece);
			buf_free(&norm);
			return -1;
		}
		len -= (long long) n;
		ss->bdat_size += (long long) n;
		if (ss->bdat_failed)
			continue;
		if (var_message_size_limit > 0 &&
		    ss->bdat_size > var_message_size_limit) {
			ss->bdat_failed = 1;
			ss->bdat_error = "552 5.3.4 Error: message size exceeds "
			    "fixed limit";
			continue;
		}
		/* BDAT has no end-of-data line, but what we relay has. */
		buf_reset(norm);
		(void) smtp_crlf_append(&ss->bdat_crlf, buf_cstr(piece), n,
		    norm);
		if (smtpd_bdat_bare(ss))
			continue;
		if (smtpd_bdat_write(ss, buf_cstr(norm), buf_len(norm), 0)
		    < 0)
			ss->bdat_failed = 1;
	}
	buf_free(&piece);
	buf_free(&norm);
	return 0;
}

/* LAST: a CR held at the end of the data becomes CRLF. */
static void
smtpd_bdat_finish(struct smtpd_session *ss)
{
	struct buf *tail = buf_new(8);

	(void) smtp_crlf_finish(&ss->bdat_crlf, tail);
	if (!ss->bdat_failed && !smtpd_bdat_bare(ss) &&
	    smtpd_bdat_write(ss, buf_cstr(tail), buf_len(tail), 1) < 0)
		ss->bdat_failed = 1;
	buf_free(&tail);
}

void
smtpd_cmd_bdat(struct smtpd_session *ss, const char *args)
{
	long long size;
	int last;

	if (smtpd_bdat_args(args, &size, &last) < 0) {
		/* The chunk size is unknown: the session cannot go on. */
		smtpd_reply(ss, "501 5.5.4 Syntax: BDAT size [LAST]");
		ss->quit = 1;
		return;
	}
	if (!ss->have_mail || ss->env.rcpt_count == 0) {
		/* Read the chunk anyway to stay in step (RFC 3030 2). */
		ss->bdat_failed = 1;
		if (smtpd_bdat_read(ss, size) < 0) {
			ss->quit = 1;
			return;
		}
		ss->bdat_failed = 0;
		smtpd_reply(ss, ss->have_mail ?
		    "554 5.5.1 Error: no valid recipients" :
		    "503 5.5.1 Error: need MAIL command");
		(void) smtpd_error(ss);
		return;
	}
	if (ss->bdat == NULL && !ss->bdat_failed) {
		ss->bdat = smtpd_queue_begin(ss);
		if (ss->bdat == NULL) {
			/* 451 sent; still consume the chunk. */
			ss->bdat_failed = 1;
			(void) smtpd_bdat_read(ss, size);
			smtpd_transaction_reset(ss);
			return;
		}
	}
	if (smtpd_bdat_read(ss, size) < 0) {
		log_info("lost connection in BDAT from %s: nothing queued",
		    ss->peer->client_addr);
		smtpd_transaction_reset(ss);
		ss->quit = 1;
		return;
	}
	if (!last) {
		if (ss->bdat_failed)
			smtpd_reply(ss, "%s", ss->bdat_error);
		else
			smtpd_reply(ss, "250 2.0.0 Ok: %lld octets received",
			    size);
		return;
	}
	smtpd_bdat_finish(ss);
	if (ss->bdat_failed)
		smtpd_reply(ss, "%s", ss->bdat_error);
	else
		smtpd_queue_commit(ss, &ss->bdat, ss->bdat_size);
	smtpd_transaction_reset(ss);
}

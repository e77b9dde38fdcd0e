/*
 * smtp: the delivery agent.  qmgr connects to its service socket
 * (private/lmtp; private/smtp for remote mail, see the remote delivery
 * work), sends one request -- queue file, next hop, sender, recipients --
 * and reads back one result per recipient.  The agent reads the message
 * from the queue file itself and speaks LMTP (RFC 2033) to lmtpd on the
 * store host, all recipients of the request in one transaction.  A
 * connection is kept for smtp_connection_cache_time and reused (after
 * RSET) by the next request for the same host.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "attr.h"
#include "buf.h"
#include "log.h"
#include "mail_params.h"
#include "qfile.h"
#include "service.h"
#include "stream.h"
#include "xalloc.h"

#define SMTP_REPLY_LINE_MAX 2048
#define SMTP_REPLY_LINES_MAX 100
#define SMTP_COPY_CHUNK 65536

/* A reply from the server: code, enhanced code, text (one line). */
struct smtp_reply {
	char code[4];
	char dsn[16];
	struct buf *text;
};

/* The cached connection to a next hop. */
struct smtp_conn {
	int fd;
	struct stream *s;
	char *nexthop;
	int pipelining;
	int xqueueid;		/* lmtpd takes our queue id for its logs */
	int smtputf8;
	time_t last_used;
};

static struct smtp_conn cache = { -1, NULL, NULL, 0, 0, 0, 0 };

static const char *
smtp_hostname(void)
{
	static char host[256];

	if (*var_myhostname != '\0')
		return var_myhostname;
	if (host[0] == '\0' && gethostname(host, sizeof(host) - 1) < 0)
		strcpy(host, "localhost");
	return host;
}

static void
smtp_conn_close(struct smtp_conn *c, int quit)
{
	if (c->s != NULL) {
		if (quit) {
			(void) stream_puts(c->s, "QUIT\r\n");
			(void) stream_flush(c->s);
		}
		stream_free(&c->s);
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->nexthop);
	c->nexthop = NULL;
}

/* Connect with a deadline; -1 with *error_r. */
static int
smtp_connect_fd(const struct sockaddr *sa, socklen_t len, char **error_r)
{
	struct pollfd pfd;
	socklen_t elen = sizeof(int);
	int fd, err = 0;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd < 0) {
		*error_r = xasprintf("socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, sa, len) < 0) {
		if (errno != EINPROGRESS && errno != EAGAIN) {
			*error_r = xstrdup(strerror(errno));
			close(fd);
			return -1;
		}
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, (int) (var_smtp_connect_timeout * 1000)) <= 0) {
			*error_r = xstrdup("connection timed out");
			close(fd);
			return -1;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0 ||
		    err != 0) {
			*error_r = xstrdup(strerror(err != 0 ? err : errno));
			close(fd);
			return -1;
		}
	}
	return fd;
}

/* Connect to "host:port", "[v6]:port" or "unix:/path". */
static int
smtp_connect(const char *nexthop, char **error_r)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct sockaddr_un sun;
	char *host, *port, *colon;
	char *err = NULL;
	int fd = -1, rc;

	if (strncmp(nexthop, "unix:", 5) == 0) {
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		if (strlen(nexthop + 5) >= sizeof(sun.sun_path)) {
			*error_r = xstrdup("socket path too long");
			return -1;
		}
		memcpy(sun.sun_path, nexthop + 5, strlen(nexthop + 5));
		return smtp_connect_fd((struct sockaddr *) &sun, sizeof(sun),
		    error_r);
	}
	host = xstrdup(nexthop);
	colon = strrchr(host, ':');
	if (colon == NULL) {
		free(host);
		*error_r = xstrdup("next hop has no port");
		return -1;
	}
	*colon = '\0';
	port = colon + 1;
	if (host[0] == '[' && colon[-1] == ']') {
		colon[-1] = '\0';
		memmove(host, host + 1, strlen(host));
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		*error_r = xasprintf("%s: %s", host, gai_strerror(rc));
		free(host);
		return -1;
	}
	for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
		free(err);
		err = NULL;
		fd = smtp_connect_fd(ai->ai_addr, ai->ai_addrlen, &err);
	}
	freeaddrinfo(res);
	free(host);
	if (fd < 0) {
		*error_r = err != NULL ? err : xstrdup("no address");
		return -1;
	}
	free(err);
	return fd;
}

/*
 * Read one (multi-line) reply.  0 ok; -1 on a connection failure or a
 * malformed reply (*error_r static).
 */
static int
smtp_read_reply(struct stream *s, struct smtp_reply *r, const char **error_r)
{
	struct buf *line = buf_new(SMTP_REPLY_LINE_MAX + 1);
	const char *text;
	int lines = 0;

	buf_reset(r->text);
	for (;;) {
		if (stream_read_line(s, line, SMTP_REPLY_LINE_MAX) !=
		    STREAM_OK) {
			*error_r = stream_status(s) == STREAM_TIMEOUT ?
			    "timeout" : "lost connection";
			buf_free(&line);
			return -1;
		}
		text = buf_cstr(line);
		if (buf_len(line) < 3 || text[0] < '2' || text[0] > '5' ||
		    text[1] < '0' || text[1] > '9' || text[2] < '0' ||
		    text[2] > '9' || (buf_len(line) > 3 && text[3] != ' ' &&
		    text[3] != '-') || ++lines > SMTP_REPLY_LINES_MAX) {
			*error_r = "malformed reply";
			buf_free(&line);
			return -1;
		}
		memcpy(r->code, text, 3);
		r->code[3] = '\0';
		if (buf_len(r->text) > 0)
			(void) buf_append_str(r->text, " ");
		(void) buf_append_str(r->text, buf_len(line) > 4 ? text + 4 :
		    "");
		if (buf_len(line) == 3 || text[3] == ' ')
			break;
	}
	buf_free(&line);
	/* The enhanced status code (RFC 3463), or one made from the code. */
	text = buf_cstr(r->text);
	if (sscanf(text, "%1[245].%3[0-9].%3[0-9]", r->dsn, r->dsn + 4,
	    r->dsn + 8) == 3 && text[0] == r->code[0]) {
		size_t len = strspn(text, "0123456789.");

		snprintf(r->dsn, sizeof(r->dsn), "%.*s", (int) len, text);
		buf_consume(r->text, len);
		while (buf_len(r->text) > 0 && buf_cstr(r->text)[0] == ' ')
			buf_consume(r->text, 1);
	} else {
		snprintf(r->dsn, sizeof(r->dsn), "%c.0.0", r->code[0]);
	}
	return 0;
}

/* Open a session: greeting and LHLO.  -1: the hop is down. */
static int
smtp_session_open(const char *nexthop, struct smtp_reply *r,
	char **error_r)
{
	const char *rerr;
	char *line;

	cache.fd = smtp_connect(nexthop, error_r);
	if (cache.fd < 0)
		return -1;
	cache.s = stream_new(cache.fd, (int) (var_smtp_command_timeout * 1000),
	    (int) (var_smtp_command_timeout * 1000));
	cache.nexthop = xstrdup(nexthop);
	if (smtp_read_reply(cache.s, r, &rerr) < 0 || r->code[0] != '2') {
		*error_r = xasprintf("greeting: %s", r->code[0] != '\0' &&
		    r->code[0] != '2' ? buf_cstr(r->text) : "no greeting");
		smtp_conn_close(&cache, 0);
		return -1;
	}
	(void) stream_printf(cache.s, "LHLO %s\r\n", smtp_hostname());
	if (stream_flush(cache.s) != STREAM_OK ||
	    smtp_read_reply(cache.s, r, &rerr) < 0 || r->code[0] != '2') {
		*error_r = xasprintf("LHLO refused: %s %s", r->code,
		    buf_cstr(r->text));
		smtp_conn_close(&cache, 1);
		return -1;
	}
	line = xstrdup(buf_cstr(r->text));
	/* The reply text is the capability lines joined by spaces. */
	cache.pipelining = strstr(line, "PIPELINING") != NULL;
	cache.xqueueid = strstr(line, "XQUEUEID") != NULL;
	cache.smtputf8 = strstr(line, "SMTPUTF8") != NULL;
	free(line);
	return 0;
}

/* Reuse the cached session when it is to nexthop and still answers. */
static int
smtp_session_reuse(const char *nexthop, struct smtp_reply *r)
{
	const char *rerr;

	if (cache.s == NULL)
		return 0;
	if (strcasecmp(cache.nexthop, nexthop) != 0 ||
	    time(NULL) - cache.last_used > var_smtp_connection_cache_time) {
		smtp_conn_close(&cache, 1);
		return 0;
	}
	(void) stream_puts(cache.s, "RSET\r\n");
	if (stream_flush(cache.s) != STREAM_OK ||
	    smtp_read_reply(cache.s, r, &rerr) < 0 || r->code[0] != '2') {
		smtp_conn_close(&cache, 0);
		return 0;
	}
	return 1;
}

/* Send the message from the queue file, dot-stuffed, CRLF lines. */
static int
smtp_send_message(struct stream *s, int fd, const struct qfile *qf)
{
	char *chunk = xmalloc(SMTP_COPY_CHUNK);
	struct buf *out = buf_new(2 * SMTP_COPY_CHUNK + 8);
	long long left = qf->message_size;
	off_t off = qf->message_offset;
	int line_start = 1, prev_cr = 0, ret = 0;
	size_t take, i;
	ssize_t n;

	while (left > 0 && ret == 0) {
		take = left > SMTP_COPY_CHUNK ? SMTP_COPY_CHUNK : (size_t) left;
		n = pread(fd, chunk, take, off);
		if (n <= 0) {
			ret = -1;
			break;
		}
		buf_reset(out);
		for (i = 0; i < (size_t) n; i++) {
			if (line_start && chunk[i] == '.')
				(void) buf_append_char(out, '.');
			/* A bare LF goes out as CRLF: no ambiguity downstream. */
			if (chunk[i] == '\n' && !prev_cr)
				(void) buf_append_char(out, '\r');
			(void) buf_append_char(out, chunk[i]);
			line_start = chunk[i] == '\n';
			prev_cr = chunk[i] == '\r';
		}
		if (stream_write(s, buf_cstr(out), buf_len(out)) != STREAM_OK)
			ret = -1;
		off += n;
		left -= n;
	}
	if (ret == 0 && !line_start)
		(void) stream_puts(s, "\r\n");
	if (ret == 0 && stream_puts(s, ".\r\n") != STREAM_OK)
		ret = -1;
	free(chunk);
	buf_free(&out);
	return ret;
}

struct smtp_job {
	const char *queue_id;
	const char *nexthop;
	const char *sender;
	int body_8bit, smtputf8;
	const char **rcpts;
	size_t count;
	char **results;		/* "code dsn text" per recipient */
	int hop_dead;
	char *hop_reason;
};

static void
smtp_result(struct smtp_job *job, size_t i, const char *code,
	const char *dsn, const char *text)
{
	if (job->results[i] != NULL)
		return;
	job->results[i] = xasprintf("%s %s %s", code, dsn, text);
}

static void
smtp_fail_rest(struct smtp_job *job, const char *code, const char *dsn,
	const char *text)
{
	size_t i;

	for (i = 0; i < job->count; i++)
		smtp_result(job, i, code, dsn, text);
}

/* One LMTP transaction for all recipients of the job. */
static void
smtp_deliver(struct smtp_job *job, int qfd, const struct qfile *qf)
{
	struct smtp_reply r;
	const char *rerr = NULL;
	char *error = NULL, *text;
	int *accepted = xcalloc(job->count + 1, sizeof(int));
	size_t i, naccepted = 0;
	struct stream *s;

	r.text = buf_new(64 * 1024);
	r.code[0] = '\0';
	if (!smtp_session_reuse(job->nexthop, &r) &&
	    smtp_session_open(job->nexthop, &r, &error) < 0) {
		text = xasprintf("connect to %s: %s", job->nexthop, error);
		log_info("%s: %s", job->queue_id, text);
		job->hop_dead = 1;
		job->hop_reason = xstrdup(text);
		smtp_fail_rest(job, "451", "4.4.1", text);
		free(text);
		free(error);
		goto out;
	}
	s = cache.s;
	(void) stream_printf(s, "MAIL FROM:<%s> SIZE=%lld%s%s%s%s\r\n",
	    job->sender, qf->message_size, job->body_8bit ?
	    " BODY=8BITMIME" : "", job->smtputf8 && cache.smtputf8 ?
	    " SMTPUTF8" : "",
	    cache.xqueueid ? " XQUEUEID=" : "", cache.xqueueid ?
	    job->queue_id : "");
	for (i = 0; i < job->count; i++)
		(void) stream_printf(s, "RCPT TO:<%s>\r\n", job->rcpts[i]);
	/* With PIPELINING, DATA rides along (RFC 2920 3.1). */
	if (cache.pipelining)
		(void) stream_puts(s, "DATA\r\n");
	if (stream_flush(s) != STREAM_OK)
		goto lost;
	if (smtp_read_reply(s, &r, &rerr) < 0)
		goto lost;
	if (r.code[0] != '2') {
		text = xasprintf("MAIL FROM refused by %s: %s", job->nexthop,
		    buf_cstr(r.text));
		smtp_fail_rest(job, r.code, r.dsn, text);
		free(text);
		/* Read the RCPT (and DATA) replies to stay in step. */
		for (i = 0; i < job->count + (size_t) cache.pipelining; i++)
			if (smtp_read_reply(s, &r, &rerr) < 0)
				goto lost;
		goto reset;
	}
	for (i = 0; i < job->count; i++) {
		if (smtp_read_reply(s, &r, &rerr) < 0)
			goto lost;
		if (r.code[0] == '2') {
			accepted[i] = 1;
			naccepted++;
		} else {
			smtp_result(job, i, r.code, r.dsn, buf_cstr(r.text));
		}
	}
	if (!cache.pipelining) {
		if (naccepted == 0)
			goto reset;
		(void) stream_puts(s, "DATA\r\n");
		if (stream_flush(s) != STREAM_OK)
			goto lost;
	}
	if (smtp_read_reply(s, &r, &rerr) < 0)
		goto lost;
	if (r.code[0] != '3') {
		if (naccepted > 0) {
			text = xasprintf("DATA refused by %s: %s",
			    job->nexthop, buf_cstr(r.text));
			for (i = 0; i < job->count; i++)
				if (accepted[i])
					smtp_result(job, i, r.code[0] == '5' ?
					    "554" : "451", r.code[0] == '5' ?
					    "5.0.0" : "4.0.0", text);
			free(text);
		}
		goto reset;
	}
	stream_set_timeouts(s, (int) (var_smtp_data_timeout * 1000),
	    (int) (var_smtp_data_timeout * 1000));
	if (smtp_send_message(s, qfd, qf) < 0 || stream_flush(s) != STREAM_OK)
		goto lost;
	/* LMTP: one reply per accepted recipient, in order (RFC 2033 4.2). */
	for (i = 0; i < job->count; i++) {
		if (!accepted[i])
			continue;
		if (smtp_read_reply(s, &r, &rerr) < 0)
			goto lost;
		text = xasprintf("%s (%s)", buf_cstr(r.text), job->nexthop);
		smtp_result(job, i, r.code, r.dsn, text);
		free(text);
	}
	stream_set_timeouts(s, (int) (var_smtp_command_timeout * 1000),
	    (int) (var_smtp_command_timeout * 1000));
	cache.last_used = time(NULL);
	goto out;
reset:
	(void) stream_puts(s, "RSET\r\n");
	if (stream_flush(s) != STREAM_OK || smtp_read_reply(s, &r, &rerr) < 0)
		smtp_conn_close(&cache, 0);
	else
		cache.last_used = time(NULL);
	goto out;
lost:
	text = xasprintf("lost connection with %s (%s)", job->nexthop,
	    rerr != NULL ? rerr : stream_error(s));
	log_info("%s: %s", job->queue_id, text);
	smtp_fail_rest(job, "451", "4.4.2", text);
	free(text);
	smtp_conn_close(&cache, 0);
out:
	smtp_fail_rest(job, "451", "4.3.0", "no reply for this recipient");
	free(accepted);
	buf_free(&r.text);
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
	const char *error, *name, *value, *path, *protocol;
	char *qerror = NULL;
	size_t n, i;
	int qfd = -1, damaged;

	(void) peer;
	(void) ctx;
	memset(&job, 0, sizeof(job));
	if (attr_read(s, l, &error) != STREAM_OK) {
		log_warn("bad request from qmgr: %s", error);
		goto out;
	}
	protocol = attr_get(l, "protocol");
	path = attr_get(l, "queue_file");
	job.queue_id = attr_get(l, "queue_id");
	job.nexthop = attr_get(l, "nexthop");
	job.sender = attr_get(l, "sender");
	job.body_8bit = attr_get(l, "body") != NULL;
	job.smtputf8 = attr_get(l, "smtputf8") != NULL;
	for (n = 0; (name = attr_nth(l, n, &value, NULL)) != NULL; n++) {
		if (strcmp(name, "rcpt") == 0) {
			job.rcpts = xreallocarray(job.rcpts, job.count + 1,
			    sizeof(char *));
			job.rcpts[job.count++] = value;
		}
	}
	job.results = xcalloc(job.count + 1, sizeof(char *));
	if (path == NULL || job.queue_id == NULL || job.nexthop == NULL ||
	    job.sender == NULL || job.count == 0 || protocol == NULL) {
		log_warn("incomplete request from qmgr");
		smtp_fail_rest(&job, "451", "4.3.0", "bad delivery request");
	} else if (strcmp(protocol, "lmtp") != 0) {
		smtp_fail_rest(&job, "451", "4.3.0", "remote SMTP delivery is "
		    "not available in this agent yet");
	} else if (qfile_read(path, &qf, &damaged, &qerror) < 0 ||
	    (qfd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		log_warn("%s: %s", job.queue_id, qerror != NULL ? qerror :
		    strerror(errno));
		smtp_fail_rest(&job, "451", "4.3.0", "cannot read the queue "
		    "file");
	} else {
		log_set_context(job.queue_id);
		smtp_deliver(&job, qfd, qf);
		log_set_context(NULL);
	}
	reply = buf_new((size_t) var_attr_value_limit * 4 + 64 * job.count);
	for (i = 0; i < job.count; i++)
		(void) attr_put(reply, "result", job.results[i]);
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
		free(job.results[i]);
	free(job.results);
	free(job.rcpts);
	free(job.hop_reason);
	free(qerror);
	if (qfd >= 0)
		close(qfd);
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

/*
 * lmtpd_cmd: the LMTP commands (RFC 2033, RFC 5321 syntax), one handler
 * each, and the per-recipient work of RCPT and DATA.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "address.h"
#include "buf.h"
#include "lmtpd.h"
#include "lmtpd_deliver.h"
#include "lmtpd_spool.h"
#include "log.h"
#include "qfile.h"
#include "mail_params.h"
#include "params.h"
#include "route.h"
#include "smtp_data.h"
#include "smtp_syntax.h"
#include "store.h"
#include "stream.h"
#include "xalloc.h"
#include "xtext.h"

/* The most digits of a SIZE= value we take seriously (> 2^63 is junk). */
#define CMD_SIZE_DIGITS_MAX 18
/* XFOLDER: a decoded folder name is at most this long (lmtpd_deliver.c). */
#define CMD_FOLDER_MAX 255

struct lmtpd_cmd {
	const char *verb;
	enum lmtpd_cmd_result (*handler)(struct lmtpd_session *sess,
	    const char *args);
};

/* --- small parsers -------------------------------------------------------- */

/*
 * Parse '<' path '>' at *p (RFC 5321 Path; a quoted local part may hold
 * '>').  *addr_r is the address between the brackets (may be empty);
 * *p moves past '>'.  0 ok, -1 syntax error.
 */
static int
cmd_parse_path(const char **p, char **addr_r)
{
	const char *s = *p, *start;
	int quoted = 0;

	while (*s == ' ')
		s++;		/* tolerated after "FROM:", as Postfix does */
	if (*s != '<')
		return -1;
	start = ++s;
	for (; *s != '\0'; s++) {
		if (quoted && *s == '\\' && s[1] != '\0')
			s++;
		else if (*s == '"')
			quoted = !quoted;
		else if (!quoted && *s == '>')
			break;
	}
	if (*s != '>')
		return -1;
	*addr_r = xstrndup(start, (size_t) (s - start));
	*p = s + 1;
	return 0;
}

/*
 * The next ESMTP parameter "KEY[=VALUE]" at *p (after spaces): *key_r
 * and *value_r (NULL without '=') are new strings.  0 one found, 1 none
 * left, -1 syntax error.
 */
static int
cmd_next_param(const char **p, char **key_r, char **value_r)
{
	const char *s = *p, *start, *eq;

	if (*s != '\0' && *s != ' ')
		return -1;
	while (*s == ' ')
		s++;
	if (*s == '\0')
		return 1;
	start = s;
	while (*s != '\0' && *s != ' ')
		s++;
	eq = memchr(start, '=', (size_t) (s - start));
	if (eq == start)
		return -1;
	if (eq != NULL) {
		*key_r = xstrndup(start, (size_t) (eq - start));
		*value_r = xstrndup(eq + 1, (size_t) (s - eq - 1));
	} else {
		*key_r = xstrndup(start, (size_t) (s - start));
		*value_r = NULL;
	}
	*p = s;
	return 0;
}

/* "digits" into *value_r; -1 when not a plain number or absurdly big. */
static int
cmd_parse_size(const char *text, long long *value_r)
{
	long long value = 0;
	size_t i;

	if (text == NULL || text[0] == '\0' ||
	    strlen(text) > CMD_SIZE_DIGITS_MAX)
		return -1;
	for (i = 0; text[i] != '\0'; i++) {
		if (text[i] < '0' || text[i] > '9')
			return -1;
		value = value * 10 + (text[i] - '0');
	}
	*value_r = value;
	return 0;
}

/* "FROM:" or "TO:" at the start of args, without case. */
static const char *
cmd_skip_keyword(const char *args, const char *keyword)
{
	size_t len = strlen(keyword);

	if (strncasecmp(args, keyword, len) != 0)
		return NULL;
	return args + len;
}

/* --- commands ------------------------------------------------------------- */

static enum lmtpd_cmd_result
cmd_lhlo(struct lmtpd_session *sess, const char *args)
{
	const char *reason;

	/* A domain or an address literal (RFC 5321 4.1.2), nothing else. */
	if (smtp_helo_check(args, &reason) != SMTP_HELO_VALID) {
		lmtpd_reply(sess, "501 5.5.4 Syntax: LHLO hostname");
		return LMTPD_CMD_BAD;
	}
	lmtpd_transaction_reset(sess);
	sess->state = LMTPD_STATE_READY;
	lmtpd_reply(sess, "250-%s", sess->server->hostname);
	lmtpd_reply(sess, "250-PIPELINING");
	lmtpd_reply(sess, "250-ENHANCEDSTATUSCODES");
	lmtpd_reply(sess, "250-8BITMIME");
	lmtpd_reply(sess, "250-SIZE %lld", var_lmtp_message_size_limit);
	lmtpd_reply(sess, "250-SMTPUTF8");
	lmtpd_reply(sess, "250-XQUEUEID");
	lmtpd_reply(sess, "250 XFOLDER");
	return LMTPD_CMD_OK;
}

static enum lmtpd_cmd_result
cmd_helo(struct lmtpd_session *sess, const char *args)
{
	(void) args;
	lmtpd_reply(sess, "500 5.5.1 Error: this is LMTP, say LHLO");
	return LMTPD_CMD_BAD;
}

static enum lmtpd_cmd_result
cmd_mail(struct lmtpd_session *sess, const char *args)
{
	const char *p;
	char *addr = NULL, *key = NULL, *value = NULL, *error = NULL;
	long long size = 0;
	int rc;

	if (sess->state == LMTPD_STATE_START) {
		lmtpd_reply(sess, "503 5.5.1 Error: send LHLO first");
		return LMTPD_CMD_BAD;
	}
	if (sess->state != LMTPD_STATE_READY) {
		lmtpd_reply(sess, "503 5.5.1 Error: nested MAIL command");
		return LMTPD_CMD_BAD;
	}
	p = cmd_skip_keyword(args, "FROM:");
	if (p == NULL || cmd_parse_path(&p, &addr) < 0) {
		lmtpd_reply(sess, "501 5.5.4 Syntax: MAIL FROM:<address>");
		return LMTPD_CMD_BAD;
	}
	if (addr[0] != '\0' &&
	    address_parse(addr, strlen(addr), NULL, NULL, &error) < 0) {
		lmtpd_reply(sess, "501 5.1.7 Bad sender address syntax");
		free(error);
		free(addr);
		return LMTPD_CMD_BAD;
	}
	while ((rc = cmd_next_param(&p, &key, &value)) == 0) {
		if (strcasecmp(key, "SIZE") == 0 &&
		    cmd_parse_size(value, &size) == 0) {
			/* checked below */
		} else if (strcasecmp(key, "BODY") == 0 && value != NULL &&
		    (strcasecmp(value, "7BIT") == 0 ||
		    strcasecmp(value, "8BITMIME") == 0)) {
			/* Nothing to do: we store bytes as they come. */
		} else if (strcasecmp(key, "SMTPUTF8") == 0 && value == NULL) {
			/* UTF-8 addresses and headers are stored as bytes. */
		} else if (strcasecmp(key, "XQUEUEID") == 0 && value != NULL &&
		    qfile_id_valid(value)) {
			/* Our agent's queue id: one grep follows the message. */
			log_set_context(value);
			free(sess->queue_id);
			sess->queue_id = xstrdup(value);
		} else {
			rc = -1;
		}
		xfree(key);
		xfree(value);
		if (rc < 0)
			break;
	}
	if (rc < 0) {
		lmtpd_reply(sess, "555 5.5.4 Unsupported MAIL parameter");
		free(addr);
		return LMTPD_CMD_BAD;
	}
	if (size > var_lmtp_message_size_limit) {
		lmtpd_reply(sess, "552 5.3.4 Message size exceeds fixed "
		    "limit");
		free(addr);
		return LMTPD_CMD_OK;
	}
	sess->sender = addr;
	sess->declared_size = size;
	sess->state = LMTPD_STATE_MAIL;
	lmtpd_reply(sess, "250 2.1.0 Ok");
	return LMTPD_CMD_OK;
}

/*
 * Is host, a mail host naming one store host or several on shared storage
 * (mail_host.h), this host: one of its entries in local_mail_hosts?
 */
static int
cmd_host_is_local(const struct lmtpd_server *server, const char *host)
{
	char **entries;
	int count, i, j, found = 0;

	entries = params_list_split(host, &count);
	for (j = 0; j < count && !found; j++)
		for (i = 0; i < server->local_host_count && !found; i++)
			found = strcasecmp(server->local_hosts[i],
			    entries[j]) == 0;
	params_list_free(entries);
	return found;
}

/*
 * Look the recipient up and decide: 1 accepted (*rcpt filled), 0 a reply
 * was queued.  Directory trouble is always 4xx, never "unknown".
 */
static int
cmd_rcpt_check(struct lmtpd_session *sess, const char *addr,
	struct lmtpd_recipient *rcpt)
{
	struct route_answer *answer = NULL;
	const struct route_mailbox *mb;
	const char *host;
	char *error = NULL;
	int rc;

	rc = route_lookup_fields(sess->server->route, addr,
	    ROUTE_FIELD_STATE | ROUTE_FIELD_HOST | ROUTE_FIELD_STORE, &answer,
	    &error);
	if (rc < 0) {
		log_error("to=<%s> directory lookup failed: %s", addr,
		    error != NULL ? error : "unknown error");
		lmtpd_reply(sess, "451 4.3.0 <%s> Temporary directory "
		    "failure", addr);
		free(error);
		return 0;
	}
	xfree(error);
	if (rc == 0 || answer->kind != ROUTE_KIND_MAILBOX) {
		log_info("to=<%s> status=bounced (unknown user)", addr);
		lmtpd_reply(sess, "550 5.1.1 <%s> User unknown", addr);
		route_answer_free(&answer);
		return 0;
	}
	mb = answer->mailbox;
	host = mb->mail_host != NULL && mb->mail_host[0] != '\0' ?
	    mb->mail_host : answer->domain != NULL &&
	    answer->domain->mail_host != NULL ? answer->domain->mail_host :
	    "localhost";
	rc = 0;
	if (mb->state == ROUTE_STATE_DISABLED) {
		log_info("to=<%s> status=bounced (mailbox disabled)", addr);
		lmtpd_reply(sess, "550 5.2.1 <%s> Mailbox disabled", addr);
	} else if (mb->state == ROUTE_STATE_MOVING) {
		/* ispmailctl mailbox move: the queue retries, and the
		 * retry finds the mailbox on its new host. */
		log_info("to=<%s> status=deferred (mailbox being moved)",
		    addr);
		lmtpd_reply(sess, "451 4.2.1 <%s> Mailbox is being moved, "
		    "try again later", addr);
	} else if (!cmd_host_is_local(sess->server, host)) {
		/* Moved, or a replica not yet updated: the queue retries. */
		log_warn("to=<%s> mailbox is on %s, not on this host", addr,
		    host);
		lmtpd_reply(sess, "451 4.3.0 <%s> Mailbox is not on this "
		    "host", addr);
	} else if (mb->store_path == NULL
	    || store_path_check(mb->store_path, &error) < 0) {
		log_error("to=<%s> mailbox has no usable store path: %s", addr,
		    error != NULL ? error : "none");
		xfree(error);
		lmtpd_reply(sess, "451 4.3.0 <%s> Mailbox not configured",
		    addr);
	} else {
		rcpt->mailbox = xstrdup(mb->address);
		rcpt->store_path = xstrdup(mb->store_path);
		rcpt->quota = mb->quota;
		rc = 1;
	}
	route_answer_free(&answer);
	return rc;
}

static enum lmtpd_cmd_result
cmd_rcpt(struct lmtpd_session *sess, const char *args)
{
	struct lmtpd_recipient rcpt;
	const char *p;
	char *addr = NULL, *key = NULL, *value = NULL, *folder = NULL;
	char *error = NULL;
	int rc;

	if (sess->state != LMTPD_STATE_MAIL &&
	    sess->state != LMTPD_STATE_RCPT) {
		lmtpd_reply(sess, "503 5.5.1 Error: need MAIL command");
		return LMTPD_CMD_BAD;
	}
	p = cmd_skip_keyword(args, "TO:");
	if (p == NULL || cmd_parse_path(&p, &addr) < 0) {
		lmtpd_reply(sess, "501 5.5.4 Syntax: RCPT TO:<address>");
		return LMTPD_CMD_BAD;
	}
	if (address_parse(addr, strlen(addr), NULL, NULL, &error) < 0) {
		lmtpd_reply(sess, "501 5.1.3 Bad recipient address syntax");
		free(error);
		free(addr);
		return LMTPD_CMD_BAD;
	}
	while ((rc = cmd_next_param(&p, &key, &value)) == 0) {
		if (strcasecmp(key, "XFOLDER") == 0 && value != NULL &&
		    folder == NULL)
			folder = xtext_decode(value, CMD_FOLDER_MAX);
		if (folder == NULL)
			rc = -1;
		xfree(key);
		xfree(value);
		if (rc < 0)
			break;
	}
	if (rc < 0) {
		lmtpd_reply(sess, "555 5.5.4 Unsupported RCPT parameter");
		free(folder);
		free(addr);
		return LMTPD_CMD_BAD;
	}
	if (sess->rcpt_count >= (size_t) var_lmtp_recipient_limit) {
		lmtpd_reply(sess, "452 4.5.3 Error: too many recipients");
		free(folder);
		free(addr);
		return LMTPD_CMD_OK;
	}
	memset(&rcpt, 0, sizeof(rcpt));
	if (cmd_rcpt_check(sess, addr, &rcpt) == 0) {
		free(folder);
		free(addr);
		return LMTPD_CMD_OK;
	}
	/* Refuse early when the mailbox is already full (or SIZE says). */
	rc = lmtpd_quota_room(&rcpt, sess->declared_size, &error);
	if (rc <= 0) {
		if (rc < 0) {
			log_error("to=<%s> quota: %s", rcpt.mailbox, error);
			lmtpd_reply(sess, "451 4.3.0 <%s> Temporary failure "
			    "reading the quota", addr);
		} else {
			log_info("to=<%s> status=%s (mailbox full)",
			    rcpt.mailbox, var_lmtp_quota_full_permanent ?
			    "bounced" : "deferred");
			struct buf *full = buf_new(4096);

			lmtpd_quota_full_reply(full, addr);
			lmtpd_reply(sess, "%s", buf_cstr(full));
			buf_free(&full);
		}
		free(error);
		free(folder);
		free(addr);
		lmtpd_recipient_clear(&rcpt);
		return LMTPD_CMD_OK;
	}
	rcpt.address = addr;
	rcpt.folder = folder;
	if (sess->rcpt_count == sess->rcpt_alloc) {
		sess->rcpt_alloc = sess->rcpt_alloc == 0 ? 8 :
		    xalloc_mul(sess->rcpt_alloc, 2);
		sess->rcpts = xreallocarray(sess->rcpts, sess->rcpt_alloc,
		    sizeof(*sess->rcpts));
	}
	sess->rcpts[sess->rcpt_count++] = rcpt;
	sess->state = LMTPD_STATE_RCPT;
	lmtpd_reply(sess, "250 2.1.5 <%s> Ok", addr);
	return LMTPD_CMD_OK;
}

static int
cmd_data_sink(void *ctx, const void *data, size_t len)
{
	struct lmtpd_spool *spool = ctx;
	char *error = NULL;

	if (lmtpd_spool_append(spool, data, len, &error) < 0) {
		log_error("spool: %s", error);
		free(error);
		return -1;
	}
	return 0;
}

/* One reply for every accepted recipient, all the same. */
static void
cmd_data_refuse_all(struct lmtpd_session *sess, const char *code,
	const char *text)
{
	size_t i;

	for (i = 0; i < sess->rcpt_count; i++)
		lmtpd_reply(sess, "%s <%s> %s", code, sess->rcpts[i].address,
		    text);
}

static enum lmtpd_cmd_result
cmd_data(struct lmtpd_session *sess, const char *args)
{
	struct lmtpd_spool *spool;
	enum smtp_data_status status;
	struct buf *reply;
	long long size = 0;
	size_t i;

	if (sess->state != LMTPD_STATE_RCPT) {
		lmtpd_reply(sess, sess->state == LMTPD_STATE_MAIL ?
		    "503 5.5.1 Error: need RCPT command" :
		    "503 5.5.1 Error: need MAIL command");
		return LMTPD_CMD_BAD;
	}
	if (args[0] != '\0') {
		lmtpd_reply(sess, "501 5.5.4 Syntax: DATA");
		return LMTPD_CMD_BAD;
	}
	lmtpd_reply(sess, "354 End data with <CR><LF>.<CR><LF>");
	if (stream_flush(sess->s) != STREAM_OK)
		return LMTPD_CMD_CLOSE;
	spool = lmtpd_spool_new((size_t) var_lmtp_spool_memory_limit,
	    var_lmtp_temp_directory);
	status = smtp_data_read(sess->s, var_lmtp_message_size_limit,
	    (size_t) var_lmtp_message_line_limit, sess->server->bare_newline,
	    cmd_data_sink, spool, &size);
	switch (status) {
	case SMTP_DATA_OK:
		break;
	case SMTP_DATA_TOO_BIG:
		log_info("from=<%s> size=%lld status=bounced (message too "
		    "big)", sess->sender, size);
		cmd_data_refuse_all(sess, "552 5.3.4",
		    "Message size exceeds fixed limit");
		goto done;
	case SMTP_DATA_LINE_TOO_LONG:
		log_info("from=<%s> status=bounced (message line too long)",
		    sess->sender);
		cmd_data_refuse_all(sess, "554 5.6.0",
		    "Message line too long");
		goto done;
	case SMTP_DATA_BARE_NEWLINE:
		log_info("from=<%s> status=bounced (bare CR or LF)",
		    sess->sender);
		cmd_data_refuse_all(sess, "550 5.5.2",
		    "Bare CR or LF in the message");
		goto done;
	case SMTP_DATA_SINK_FAILED:
		cmd_data_refuse_all(sess, "451 4.3.0",
		    "Temporary failure storing the message");
		goto done;
	case SMTP_DATA_TIMEOUT:
		log_info("timeout in DATA from %s: nothing delivered",
		    sess->client);
		lmtpd_reply(sess, "421 4.4.2 %s Error: timeout exceeded",
		    sess->server->hostname);
		lmtpd_spool_free(&spool);
		return LMTPD_CMD_CLOSE;
	case SMTP_DATA_EOF:
	case SMTP_DATA_ERROR:
		log_info("%s from %s: nothing delivered",
		    smtp_data_status_text(status), sess->client);
		lmtpd_spool_free(&spool);
		return LMTPD_CMD_CLOSE;
	}
	log_info("from=<%s> size=%lld nrcpt=%zu client=%s", sess->sender,
	    size, sess->rcpt_count, sess->client);
	/* Each recipient on its own: one failure does not touch the rest. */
	reply = buf_new(4096);
	for (i = 0; i < sess->rcpt_count; i++) {
		lmtpd_deliver(sess->server->route, spool, sess->sender,
		    sess->queue_id,
		    &sess->rcpts[i], reply);
		lmtpd_reply(sess, "%s", buf_cstr(reply));
		/*
		 * The client learns of each delivery as soon as it is done.
		 * The last reply waits only when the client's QUIT is already
		 * here (smtpd's direct delivery sends it with the message):
		 * the 221 follows at once, and both leave in one segment.
		 */
		if (i + 1 == sess->rcpt_count &&
		    stream_pending_is(sess->s, "QUIT\r\n"))
			break;
		if (stream_flush(sess->s) != STREAM_OK) {
			log_info("lost connection from %s after %zu of %zu "
			    "replies", sess->client, i + 1, sess->rcpt_count);
			break;
		}
	}
	buf_free(&reply);
done:
	lmtpd_spool_free(&spool);
	lmtpd_transaction_reset(sess);
	return LMTPD_CMD_OK;
}

static enum lmtpd_cmd_result
cmd_rset(struct lmtpd_session *sess, const char *args)
{
	if (args[0] != '\0') {
		lmtpd_reply(sess, "501 5.5.4 Syntax: RSET");
		return LMTPD_CMD_BAD;
	}
	lmtpd_transaction_reset(sess);
	lmtpd_reply(sess, "250 2.0.0 Ok");
	return LMTPD_CMD_OK;
}

static enum lmtpd_cmd_result
cmd_noop(struct lmtpd_session *sess, const char *args)
{
	(void) args;	/* RFC 5321 4.1.1.9: a string argument is ignored */
	lmtpd_reply(sess, "250 2.0.0 Ok");
	return LMTPD_CMD_OK;
}

static enum lmtpd_cmd_result
cmd_vrfy(struct lmtpd_session *sess, const char *args)
{
	if (args[0] == '\0') {
		lmtpd_reply(sess, "501 5.5.4 Syntax: VRFY address");
		return LMTPD_CMD_BAD;
	}
	lmtpd_reply(sess, "252 2.5.0 Cannot VRFY, but will try delivery");
	return LMTPD_CMD_OK;
}

static enum lmtpd_cmd_result
cmd_quit(struct lmtpd_session *sess, const char *args)
{
	(void) args;
	lmtpd_reply(sess, "221 2.0.0 Bye");
	return LMTPD_CMD_CLOSE;
}

/* The protocol at a glance. */
static const struct lmtpd_cmd cmd_table[] = {
	{ "LHLO", cmd_lhlo },
	{ "MAIL", cmd_mail },
	{ "RCPT", cmd_rcpt },
	{ "DATA", cmd_data },
	{ "RSET", cmd_rset },
	{ "NOOP", cmd_noop },
	{ "VRFY", cmd_vrfy },
	{ "QUIT", cmd_quit },
	{ "HELO", cmd_helo },
	{ "EHLO", cmd_helo },
	{ NULL, NULL },
};

enum lmtpd_cmd_result
lmtpd_command(struct lmtpd_session *sess)
{
	const char *line = buf_cstr(sess->line);
	size_t verb_len = strcspn(line, " ");
	const struct lmtpd_cmd *cmd;

	/*
	 * NUL bytes would hide the rest of the line from the parsers, a
	 * bare CR or other control character would reach logs and traces.
	 */
	if (smtp_has_control(line, buf_len(sess->line))) {
		lmtpd_reply(sess, "500 5.5.2 Error: control character in "
		    "command");
		return LMTPD_CMD_BAD;
	}
	for (cmd = cmd_table; cmd->verb != NULL; cmd++) {
		if (strlen(cmd->verb) == verb_len &&
		    strncasecmp(cmd->verb, line, verb_len) == 0)
			return cmd->handler(sess, line[verb_len] == ' ' ?
			    line + verb_len + 1 : line + verb_len);
	}
	lmtpd_reply(sess, "500 5.5.2 Error: command not recognized");
	return LMTPD_CMD_BAD;
}

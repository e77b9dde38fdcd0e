/*
 * smtp_session: opening a session for LMTP (store hosts) and SMTP
 * (remote MX hosts), replies, and the one cached connection of the process.
 */
#include "config.h"

#include <errno.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "dns.h"
#include "log.h"
#include "mail_params.h"
#include "qfile.h"
#include "smtp.h"
#include "smtp_syntax.h"
#include "smtp_session.h"
#include "stream.h"
#include "tls.h"
#include "xalloc.h"

#define SMTP_REPLY_LINE_MAX 2048
#define SMTP_REPLY_LINES_MAX 100
#define SMTP_REPLY_TEXT_MAX (64 * 1024)

struct smtp_conn smtp_cache = { .fd = -1 };

void
smtp_conn_close(struct smtp_conn *c, int quit)
{
	if (c->s != NULL) {
		if (quit) {
			(void) stream_puts(c->s, "QUIT\r\n");
			(void) stream_flush(c->s);
		}
		tls_conn_free(&c->tls);
		stream_free(&c->s);
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->key);
	c->key = NULL;
	free(c->peer);
	c->peer = NULL;
	free(c->source);
	c->source = NULL;
	free(c->tls_label);
	c->tls_label = NULL;
	c->caps = 0;
	c->size_limit = 0;
}

static void
smtp_reply_init(struct smtp_reply *r)
{
	r->code[0] = '\0';
	r->dsn[0] = '\0';
	r->text = buf_new(SMTP_REPLY_TEXT_MAX);
	r->lines = buf_new(SMTP_REPLY_TEXT_MAX);
}

static void
smtp_reply_free(struct smtp_reply *r)
{
	buf_free(&r->text);
	buf_free(&r->lines);
}

/* ---- replies --------------------------------------------------------------- */

/*
 * Read one (multi-line) reply.  0 ok; -1 on a connection failure or a
 * malformed reply (*error_r static).
 */
int
smtp_read_reply(struct stream *s, struct smtp_reply *r, const char **error_r)
{
	struct buf *line = buf_new(SMTP_REPLY_LINE_MAX + 1);
	const char *text;
	int lines = 0;

	buf_reset(r->text);
	buf_reset(r->lines);
	r->code[0] = '\0';
	for (;;) {
		if (stream_read_line(s, line, SMTP_REPLY_LINE_MAX) !=
		    STREAM_OK) {
			*error_r = stream_status(s) == STREAM_TIMEOUT ?
			    "timeout" : stream_status(s) == STREAM_TOO_LONG ?
			    "reply line too long" : "lost connection";
			buf_free(&line);
			return -1;
		}
		text = buf_cstr(line);
		if (buf_len(line) < 3 || text[0] < '2' || text[0] > '5' ||
		    text[1] < '0' || text[1] > '9' || text[2] < '0' ||
		    text[2] > '9' || (buf_len(line) > 3 && text[3] != ' ' &&
		    text[3] != '-') || ++lines > SMTP_REPLY_LINES_MAX ||
		    (lines > 1 && memcmp(r->code, text, 3) != 0)) {
			*error_r = "malformed reply";
			buf_free(&line);
			return -1;
		}
		memcpy(r->code, text, 3);
		r->code[3] = '\0';
		if (buf_len(r->text) > 0)
			(void) buf_append_str(r->text, " ");
		/*
		 * The text goes into results, DSNs and logs: a bare CR,
		 * a control character or 8-bit byte there becomes '?'.
		 */
		(void) smtp_printable_append(r->text, buf_len(line) > 4 ?
		    text + 4 : "");
		(void) smtp_printable_append(r->lines, buf_len(line) > 4 ?
		    text + 4 : "");
		(void) buf_append_char(r->lines, '\n');
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

/* Send one command and read its reply.  -1: the connection is gone. */
int
smtp_command(struct stream *s, struct smtp_reply *r, const char **error_r,
	const char *command)
{
	if (stream_puts(s, command) != STREAM_OK ||
	    stream_puts(s, "\r\n") != STREAM_OK ||
	    stream_flush(s) != STREAM_OK) {
		*error_r = "lost connection";
		return -1;
	}
	return smtp_read_reply(s, r, error_r);
}

/* The EHLO/LHLO keywords we use (RFC 5321 4.1.1.1: one per line). */
static void
smtp_parse_caps(struct smtp_conn *c, const struct smtp_reply *r)
{
	const char *p = buf_cstr(r->lines), *eol;
	size_t len;
	int first = 1;

	c->caps = 0;
	c->size_limit = 0;
	for (; *p != '\0'; p = eol + 1, first = 0) {
		eol = strchr(p, '\n');
		if (eol == NULL)
			break;
		if (first)
			continue;	/* the greeting's domain */
		len = strcspn(p, " \n");
		if (len == 10 && strncasecmp(p, "PIPELINING", len) == 0)
			c->caps |= CAP_PIPELINING;
		else if (len == 8 && strncasecmp(p, "8BITMIME", len) == 0)
			c->caps |= CAP_8BITMIME;
		else if (len == 8 && strncasecmp(p, "SMTPUTF8", len) == 0)
			c->caps |= CAP_SMTPUTF8;
		else if (len == 3 && strncasecmp(p, "DSN", len) == 0)
			c->caps |= CAP_DSN;
		else if (len == 8 && strncasecmp(p, "STARTTLS", len) == 0)
			c->caps |= CAP_STARTTLS;
		else if (len == 8 && strncasecmp(p, "XQUEUEID", len) == 0)
			c->caps |= CAP_XQUEUEID;
		else if (len == 7 && strncasecmp(p, "XFOLDER", len) == 0)
			c->caps |= CAP_XFOLDER;
		else if (len == 4 && strncasecmp(p, "SIZE", len) == 0) {
			c->caps |= CAP_SIZE;
			if (p[4] == ' ')
				c->size_limit = strtoll(p + 5, NULL, 10);
			if (c->size_limit < 0)
				c->size_limit = 0;
		}
	}
}

/* ---- opening a session ---------------------------------------------------- */

/* Why a host could not be used: the result the job gets when all fail. */
struct smtp_failure {
	char code[4];
	char dsn[16];
	char *text;
	int hop_down;	/* a connection or greeting failure (not ours) */
};

/*
 * The reason that stands for a failed attempt: a host that answered and
 * refused (TLS policy, greeting) says more than one that did not answer,
 * so the first such reason is kept; otherwise the latest.
 */
static void
smtp_failure_set(struct smtp_failure *f, const char *code, const char *dsn,
	int hop_down, char *text)
{
	if (f->text != NULL && hop_down && !f->hop_down) {
		free(text);
		return;
	}
	snprintf(f->code, sizeof(f->code), "%s", code);
	snprintf(f->dsn, sizeof(f->dsn), "%s", dsn);
	free(f->text);
	f->text = text;
	f->hop_down = hop_down;
}

/* EHLO, falling back to HELO (SMTP), or LHLO.  -1: unusable host. */
static int
smtp_hello(struct smtp_conn *c, struct smtp_reply *r,
	struct smtp_failure *f)
{
	const char *rerr;
	char *cmd;
	int rc;

	cmd = xasprintf("%s %s", c->lmtp ? "LHLO" : "EHLO", smtp_helo_name());
	rc = smtp_command(c->s, r, &rerr, cmd);
	free(cmd);
	if (rc == 0 && r->code[0] == '2') {
		smtp_parse_caps(c, r);
		return 0;
	}
	if (rc == 0 && !c->lmtp && r->code[0] == '5') {
		/* An old server: HELO, without any extension. */
		cmd = xasprintf("HELO %s", smtp_helo_name());
		rc = smtp_command(c->s, r, &rerr, cmd);
		free(cmd);
		if (rc == 0 && r->code[0] == '2') {
			c->caps = 0;
			c->size_limit = 0;
			return 0;
		}
	}
	smtp_failure_set(f, "451", "4.4.2", 1, rc < 0 ?
	    xasprintf("host %s: %s after %s", c->peer, rerr, c->lmtp ? "LHLO" :
	    "EHLO") : xasprintf("host %s refused to talk to me: %s %s",
	    c->peer, r->code, buf_cstr(r->text)));
	return -1;
}

/* The tls= field of the delivery log: how the session was protected. */
static void
smtp_tls_label(struct smtp_conn *c, const struct smtp_tls_plan *plan,
	const char *outcome)
{
	free(c->tls_label);
	if (strcmp(plan->source, "policy") == 0)
		c->tls_label = xasprintf("%s/%s",
		    smtp_tls_level_name(plan->level), outcome);
	else if (strcmp(plan->source, "mta-sts") == 0)
		c->tls_label = xasprintf("mta-sts/%s%s%s",
		    smtp_sts_mode_name(plan->sts_mode),
		    plan->sts_mode == SMTP_STS_ENFORCE ? "" : "/",
		    plan->sts_mode == SMTP_STS_ENFORCE ? "" : outcome);
	else
		c->tls_label = xasprintf("%s/%s", plan->dane ? outcome :
		    "dane", plan->dane ? "verified" : outcome);
}

/* The client context the plan needs; NULL with *error_r (caller frees). */
static struct tls_server *
smtp_plan_context(const struct smtp_tls_plan *plan, char **error_r)
{
	if (plan->dane)
		return smtp_tls_context_dane(error_r);
	if (plan->sts_mode == SMTP_STS_TESTING)
		return smtp_tls_context_report(error_r);
	return smtp_tls_context(plan->level, error_r);
}

/*
 * TLS-RPT: a session that completed its handshake.  MTA-STS testing
 * delivers despite a failure the report still names (RFC 8460 4.3).
 */
static void
smtp_tlsrpt_note_session(const struct smtp_conn *c,
	const struct smtp_target *t, const struct smtp_tls_plan *plan,
	const char *verror)
{
	if (plan->sts_mode == SMTP_STS_TESTING && plan->sts != NULL &&
	    !smtp_sts_mx_match(plan->sts, t->host))
		smtp_tlsrpt_note(plan, t, c->source, "validation-failure",
		    "MX host not listed in the policy");
	else if (plan->sts_mode == SMTP_STS_TESTING && verror != NULL)
		smtp_tlsrpt_note(plan, t, c->source, smtp_tlsrpt_verify_result(
		    plan, (int) tls_conn_verify_failure(c->tls)), verror);
	else
		smtp_tlsrpt_note(plan, t, c->source, NULL, NULL);
}

/*
 * STARTTLS per the plan, then EHLO again (RFC 3207 4.2).  0 ok (TLS or
 * not, as the level allows); -1 unusable host (*f); -2 the handshake
 * failed at level may: the caller retries the host in plain text; -3 it
 * failed at a level that requires TLS (DANE, MTA-STS enforce, encrypt,
 * verify: never retried in plain text).  After -2 and -3 the connection
 * is unusable (not even for QUIT).
 */
static int
smtp_starttls(struct smtp_conn *c, const struct smtp_target *t,
	const struct smtp_tls_plan *plan, struct smtp_reply *r,
	struct smtp_failure *f)
{
	enum smtp_tls_level level = plan->level;
	struct tls_server *ctx;
	const char *rerr, *verror = NULL;
	char *error = NULL;
	int usage = 0, rc;

	if (level == SMTP_TLS_NONE) {
		smtp_tls_label(c, plan, "plain");
		return 0;
	}
	if (!(c->caps & CAP_STARTTLS)) {
		smtp_tlsrpt_note(plan, t, c->source, "starttls-not-supported",
		    "STARTTLS not offered");
		if (level == SMTP_TLS_MAY) {
			smtp_tls_label(c, plan, "plain");
			return 0;
		}
		smtp_failure_set(f, "451", "4.7.4", 0, xasprintf("TLS is "
		    "required, but host %s did not offer STARTTLS%s%s%s",
		    c->peer, strcmp(plan->source, "policy") == 0 ? "" : " (",
		    strcmp(plan->source, "policy") == 0 ? "" : plan->source,
		    strcmp(plan->source, "policy") == 0 ? "" : ")"));
		return -1;
	}
	ctx = smtp_plan_context(plan, &error);
	if (ctx == NULL) {
		log_error("TLS client context: %s", error);
		smtp_failure_set(f, "451", "4.7.5", 0, xasprintf("cannot "
		    "start TLS: %s", error));
		free(error);
		if (level == SMTP_TLS_MAY)
			smtp_tls_label(c, plan, "plain");
		return level == SMTP_TLS_MAY ? 0 : -1;
	}
	if (smtp_command(c->s, r, &rerr, "STARTTLS") < 0) {
		smtp_failure_set(f, "451", "4.4.2", 1, xasprintf("host %s: %s "
		    "after STARTTLS", c->peer, rerr));
		return -1;
	}
	if (r->code[0] != '2') {
		smtp_tlsrpt_note(plan, t, c->source, "starttls-not-supported",
		    "STARTTLS refused");
		if (level == SMTP_TLS_MAY) {
			smtp_tls_label(c, plan, "plain");
			return 0;	/* still in plain text, in step */
		}
		smtp_failure_set(f, "451", "4.7.5", 0, xasprintf("host %s "
		    "refused STARTTLS: %s %s", c->peer, r->code,
		    buf_cstr(r->text)));
		return -1;
	}
	rc = plan->dane ? tls_start_dane(ctx, c->s, plan->tlsa_base, plan->rrs,
	    plan->rr_count, &usage, &c->tls, &error) :
	    tls_start(ctx, c->s, t->host, &c->tls, &error);
	if (rc < 0) {
		smtp_tlsrpt_note(plan, t, c->source, smtp_tlsrpt_verify_result(
		    plan, (int) tls_last_verify_failure()), error);
		log_info("TLS with %s failed (level %s%s%s): %s", c->peer,
		    smtp_tls_level_name(level), plan->dane ? ", DANE" : "",
		    plan->sts_mode == SMTP_STS_ENFORCE ? ", MTA-STS" : "",
		    error);
		smtp_failure_set(f, "451", "4.7.5", 0, xasprintf("TLS with "
		    "host %s failed (%s): %s", c->peer, plan->dane ?
		    "DANE" : plan->sts_mode == SMTP_STS_ENFORCE ?
		    "MTA-STS enforce" : smtp_tls_level_name(level), error));
		free(error);
		return level == SMTP_TLS_MAY ? -2 : -3;
	}
	if (plan->sts_mode == SMTP_STS_TESTING) {
		verror = tls_conn_verify_error(c->tls);
		if (verror != NULL)
			log_info("MTA-STS testing: %s would fail: %s; "
			    "delivering anyway", c->peer, verror);
	}
	smtp_tlsrpt_note_session(c, t, plan, verror);
	log_info("TLS with %s: %s %s %d bits, %s (level %s%s%s)", c->peer,
	    tls_conn_version(c->tls), tls_conn_cipher(c->tls),
	    tls_conn_bits(c->tls), level == SMTP_TLS_VERIFY ||
	    (plan->sts_mode == SMTP_STS_TESTING && verror == NULL) ?
	    "verified" : "not verified", smtp_tls_level_name(level),
	    strcmp(plan->source, "policy") == 0 ? "" : ", ",
	    strcmp(plan->source, "policy") == 0 ? "" : plan->source);
	smtp_tls_label(c, plan, plan->dane ? (usage == 2 ? "dane-ta" :
	    "dane-ee") : level == SMTP_TLS_VERIFY ? "verified" :
	    plan->sts_mode == SMTP_STS_TESTING ? (verror == NULL ?
	    "verified" : "unverified") : "encrypted");
	return smtp_hello(c, r, f);
}


/* Our numeric address on the connected socket fd (for the log). */
static char *
smtp_source_address(int fd)
{
	struct sockaddr_storage local;
	socklen_t len = sizeof(local);
	char text[INET6_ADDRSTRLEN];
	const void *addr;

	if (getsockname(fd, (struct sockaddr *) &local, &len) < 0)
		return NULL;
	if (local.ss_family == AF_INET)
		addr = &((struct sockaddr_in *) &local)->sin_addr;
	else if (local.ss_family == AF_INET6)
		addr = &((struct sockaddr_in6 *) &local)->sin6_addr;
	else
		return NULL;
	if (inet_ntop(local.ss_family, addr, text, sizeof(text)) == NULL)
		return NULL;
	return xstrdup(text);
}

/*
 * Connect to one host, read the greeting, say EHLO, start TLS as the
 * level says.  0: the session is in cache; -1: try the next host (*f);
 * -2: TLS failed at level may, retry this host in plain text.
 */
static int
smtp_open_target(const struct smtp_target *t,
	const struct smtp_tls_plan *plan, struct smtp_reply *r,
	struct smtp_failure *f)
{
	struct sockaddr_storage ss;
	socklen_t len;
	const char *rerr;
	char *error = NULL;
	int fd, local, rc;

	len = dns_addr_sockaddr(&t->addr, t->port, &ss);
	fd = smtp_connect_fd((struct sockaddr *) &ss, len, &error, &local);
	if (fd < 0) {
		if (local)
			log_error("connect to %s[%s]:%u: %s", t->host,
			    t->addr.text, t->port, error);
		else
			log_info("connect to %s[%s]:%u: %s", t->host,
			    t->addr.text, t->port, error);
		smtp_failure_set(f, "451", local ? "4.3.0" : "4.4.1", !local,
		    xasprintf("connect to %s[%s]:%u: %s", t->host,
		    t->addr.text, t->port, error));
		free(error);
		return -1;
	}
	smtp_cache.fd = fd;
	smtp_cache.s = stream_new(fd, (int) (var_smtp_command_timeout * 1000),
	    (int) (var_smtp_command_timeout * 1000));
	smtp_cache.lmtp = 0;
	smtp_cache.peer = xasprintf("%s[%s]:%u", t->host, t->addr.text, t->port);
	smtp_cache.source = smtp_source_address(fd);
	if (smtp_read_reply(smtp_cache.s, r, &rerr) < 0) {
		log_info("%s: %s before the greeting", smtp_cache.peer, rerr);
		smtp_failure_set(f, "451", "4.4.2", 1, xasprintf("host %s: %s "
		    "before the greeting", smtp_cache.peer, rerr));
		smtp_conn_close(&smtp_cache, 0);
		return -1;
	}
	if (r->code[0] != '2') {
		/* RFC 5321 3.1: a 554 greeting, or a 421: try another MX. */
		log_info("%s refused to talk to me: %s %s", smtp_cache.peer, r->code,
		    buf_cstr(r->text));
		smtp_failure_set(f, "451", "4.4.2", 1, xasprintf("host %s "
		    "refused to talk to me: %s %s", smtp_cache.peer, r->code,
		    buf_cstr(r->text)));
		smtp_conn_close(&smtp_cache, 1);
		return -1;
	}
	if (smtp_hello(&smtp_cache, r, f) < 0) {
		log_info("%s", f->text);
		smtp_conn_close(&smtp_cache, 1);
		return -1;
	}
	rc = smtp_starttls(&smtp_cache, t, plan, r, f);
	if (rc < 0) {
		if (rc != -2)
			log_info("%s", f->text);
		smtp_conn_close(&smtp_cache, rc == -1);
		return rc == -2 ? -2 : -1;
	}
	return 0;
}

/* SMTP: walk the route until a host takes a session. */
static int
smtp_open_smtp(struct smtp_job *job, struct smtp_reply *r)
{
	struct smtp_route *route = smtp_route_lookup(job->nexthop);
	struct smtp_failure f = { .text = NULL };
	struct smtp_sts_policy *sts;
	struct smtp_tls_plan plan;
	enum smtp_tls_level level;
	char *why = NULL;
	size_t i;
	int rc = -1;

	if (route->count == 0) {
		log_info("%s: %s", job->nexthop, route->text);
		if (route->tempfail) {
			job->hop_dead = 1;
			job->hop_reason = xstrdup(route->text);
		}
		smtp_fail_rest(job, route->code, route->dsn, route->text);
		smtp_route_free(&route);
		return -1;
	}
	level = smtp_tls_policy_level(route->domain);
	/* RFC 8461 applies to MX routing, not to a literal next hop. */
	sts = route->mx_routed ? smtp_sts_lookup(route->domain) : NULL;
	if (sts == NULL && route->mx_routed && smtp_sts_failure() != NULL)
		smtp_tlsrpt_note_sts_failure(route->domain,
		    smtp_sts_failure());
	for (i = 0; i < route->count && rc < 0; i++) {
		if (smtp_tls_plan_make(&route->targets[i], route->domain, sts,
		    level, &plan, &why) < 0) {
			log_info("%s: %s", job->nexthop, why);
			if (plan.rpt_failure != NULL)
				smtp_tlsrpt_note(&plan, &route->targets[i],
				    NULL, plan.rpt_failure, why);
			smtp_failure_set(&f, "451", "4.7.5", 0, why);
			smtp_tls_plan_free(&plan);
			continue;
		}
		rc = smtp_open_target(&route->targets[i], &plan, r, &f);
		if (rc == -2) {
			/* Opportunistic only: the configured level was may. */
			plan.level = SMTP_TLS_NONE;
			rc = smtp_open_target(&route->targets[i], &plan, r,
			    &f);
		}
		smtp_tls_plan_free(&plan);
	}
	smtp_sts_free(&sts);
	if (rc < 0) {
		/* Every host failed: the last reason stands for them all. */
		if (f.hop_down) {
			job->hop_dead = 1;
			job->hop_reason = xstrdup(f.text);
		}
		smtp_fail_rest(job, f.code, f.dsn, f.text);
	} else {
		smtp_cache.key = xasprintf("smtp:%s", job->nexthop);
	}
	free(f.text);
	smtp_route_free(&route);
	return rc < 0 ? -1 : 0;
}

/* LMTP: the store host's greeting and LHLO.  -1: the hop is down. */
static int
smtp_open_lmtp(struct smtp_job *job, struct smtp_reply *r)
{
	struct smtp_failure f = { .text = NULL };
	const char *rerr;
	char *error = NULL, *text;

	smtp_cache.fd = smtp_connect_lmtp(job->nexthop, &error);
	if (smtp_cache.fd >= 0) {
		smtp_cache.s = stream_new(smtp_cache.fd,
		    (int) (var_smtp_command_timeout * 1000),
		    (int) (var_smtp_command_timeout * 1000));
		smtp_cache.lmtp = 1;
		smtp_cache.peer = xstrdup(job->nexthop);
		if (smtp_read_reply(smtp_cache.s, r, &rerr) < 0 ||
		    r->code[0] != '2') {
			error = xasprintf("greeting: %s", r->code[0] != '\0' &&
			    r->code[0] != '2' ? buf_cstr(r->text) :
			    "no greeting");
			smtp_conn_close(&smtp_cache, 0);
		} else if (smtp_hello(&smtp_cache, r, &f) < 0) {
			error = f.text;
			f.text = NULL;
			smtp_conn_close(&smtp_cache, 1);
		}
	}
	if (smtp_cache.s == NULL) {
		text = xasprintf("connect to %s: %s", job->nexthop, error);
		log_info("%s", text);
		job->hop_dead = 1;
		job->hop_reason = xstrdup(text);
		smtp_fail_rest(job, "451", "4.4.1", text);
		free(text);
		free(error);
		return -1;
	}
	smtp_cache.key = xasprintf("lmtp:%s", job->nexthop);
	return 0;
}

/* Reuse the cached session when it is to this hop and still answers. */
static int
smtp_session_reuse(const struct smtp_job *job, struct smtp_reply *r)
{
	const char *rerr;
	char *key;
	int same;

	if (smtp_cache.s == NULL)
		return 0;
	key = xasprintf("%s:%s", job->lmtp ? "lmtp" : "smtp", job->nexthop);
	same = strcasecmp(smtp_cache.key, key) == 0;
	free(key);
	if (!same || time(NULL) - smtp_cache.last_used >
	    var_smtp_connection_cache_time) {
		smtp_conn_close(&smtp_cache, 1);
		return 0;
	}
	if (smtp_command(smtp_cache.s, r, &rerr, "RSET") < 0 ||
	    r->code[0] != '2') {
		smtp_conn_close(&smtp_cache, 0);
		return 0;
	}
	log_debug("reusing the connection to %s", smtp_cache.peer);
	return 1;
}

void
smtp_session_deliver(struct smtp_job *job)
{
	struct smtp_reply r;

	smtp_reply_init(&r);
	if (smtp_session_reuse(job, &r) ||
	    (job->lmtp ? smtp_open_lmtp(job, &r) : smtp_open_smtp(job, &r))
	    == 0)
		smtp_transaction(job, &r);
	else
		smtp_log_results(job);
	if (var_smtp_connection_cache_time == 0 && smtp_cache.s != NULL)
		smtp_conn_close(&smtp_cache, 1);
	smtp_reply_free(&r);
}

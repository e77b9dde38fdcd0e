/*
 * authd: checks logins against the routing directory for daemons that
 * must not block on it themselves (proxyd's event loop: LDAP round trips
 * and password hashing take milliseconds each).  authd(8).
 *
 * One process serves one client connection (the service skeleton), one
 * request at a time and many requests in turn, so the master's maxproc
 * is how many lookups run at once.  A connection idle for ipc_timeout is
 * closed; the client reconnects.  Protocol (attr.h records):
 *	request=authenticate service=imap|pop3|submission login=L
 *	    password=P client=ADDR
 *	    -> status=ok user=CANONICAL hosts=MAILHOST
 *	    -> status=fail reason=TEXT	(bad login or password, account
 *					 not active)
 *	    -> status=tempfail reason=TEXT	(directory unreachable)
 *	anything else -> status=error reason=TEXT
 * A malformed record is answered with status=error and the connection
 * goes on; a record past the attribute limits ends it.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "attr.h"
#include "auth_client.h"
#include "buf.h"
#include "crypt_scratch.h"
#include "log.h"
#include "mail_params.h"
#include "metrics.h"
#include "printable.h"
#include "route.h"
#include "service.h"
#include "stream.h"
#include "xalloc.h"

/* An answer: a status, two short values and a reason. */
#define AUTHD_ANSWER_MAX	(4 * AUTH_VALUE_MAX + 256)
#define AUTHD_ATTR_COUNT_MAX	16

static struct route *authd_route;

/* The directory, opened on first use (an outage at start is no error). */
static struct route *
authd_route_get(void)
{
	char *error = NULL;

	if (authd_route == NULL) {
		authd_route = route_open(&error);
		if (authd_route == NULL) {
			log_warn("routing directory: %s", error);
			free(error);
		}
	}
	return authd_route;
}

static void
authd_answer(struct buf *out, const char *status, const char *reason)
{
	(void) attr_put(out, "status", status);
	if (reason != NULL)
		(void) attr_put(out, "reason", reason);
	(void) attr_end(out);
}

/* A value of the request: present, no NUL, 1..AUTH_VALUE_MAX bytes. */
static const char *
authd_value(const struct attr_list *req, const char *name)
{
	size_t len;
	const char *value = attr_get_len(req, name, &len);

	if (value == NULL || len == 0 || len > AUTH_VALUE_MAX ||
	    memchr(value, '\0', len) != NULL)
		return NULL;
	return value;
}

/*
 * The mailbox's store host(s): its own mail host, else its domain's, else
 * "localhost" (this host), as qmgr decides where to deliver.
 */
static char *
authd_hosts(struct route *r, const struct route_mailbox *m)
{
	struct route_domain *d = NULL;
	const char *at = strrchr(m->address, '@');
	char *hosts;

	if (m->mail_host != NULL && *m->mail_host != '\0')
		return xstrdup(m->mail_host);
	if (at != NULL && route_domain_lookup(r, at + 1, &d, NULL) == 1 &&
	    d->mail_host != NULL && *d->mail_host != '\0')
		hosts = xstrdup(d->mail_host);
	else
		hosts = xstrdup("localhost");
	route_domain_free(&d);
	return hosts;
}

static void
authd_authenticate(struct buf *out, const struct attr_list *req)
{
	const char *service = authd_value(req, "service");
	const char *login = authd_value(req, "login");
	const char *password = authd_value(req, "password");
	const char *client = authd_value(req, "client");
	const char *reason = NULL;
	struct route_mailbox *m = NULL;
	struct buf *shown;
	struct route *r;
	char *error = NULL, *hosts;
	int rc;

	if (service == NULL || login == NULL || password == NULL ||
	    client == NULL) {
		authd_answer(out, "error", "service, login, password and "
		    "client required");
		return;
	}
	if (strcmp(service, "imap") != 0 && strcmp(service, "pop3") != 0 &&
	    strcmp(service, "submission") != 0) {
		authd_answer(out, "error", "unknown service");
		return;
	}
	/* The login and client go into log lines: escaped. */
	shown = buf_new(4 * AUTH_VALUE_MAX + 64);
	(void) printable_printf(shown, "service=%s login=%s client=%s",
	    service, login, client);
	r = authd_route_get();
	rc = r == NULL ? -1 : route_authenticate(r, login, password, &m,
	    &reason, &error);
	metrics_inc("ispmail_logins_total", "protocol", service, "result",
	    metrics_result(rc), NULL);
	if (rc > 0) {
		hosts = authd_hosts(r, m);
		log_info("auth ok %s user=%s hosts=%s", buf_cstr(shown),
		    m->address, hosts);
		(void) attr_put(out, "status", "ok");
		(void) attr_put(out, "user", m->address);
		(void) attr_put(out, "hosts", hosts);
		(void) attr_end(out);
		free(hosts);
	} else if (rc == 0) {
		log_info("auth failed %s reason=\"%s\"", buf_cstr(shown),
		    reason);
		authd_answer(out, "fail", reason);
	} else {
		log_warn("auth tempfail %s: %s", buf_cstr(shown),
		    error != NULL ? error : "routing directory unavailable");
		authd_answer(out, "tempfail", "directory unavailable");
	}
	free(error);
	route_mailbox_free(&m);
	buf_free(&shown);
}

static void
authd_handle(int fd, const struct service_peer *peer, void *ctx)
{
	struct stream *s = stream_new(fd, (int) (var_ipc_timeout * 1000),
	    (int) (var_ipc_timeout * 1000));
	struct attr_list *req = attr_list_new(AUTHD_ATTR_COUNT_MAX,
	    AUTH_VALUE_MAX);
	struct buf *out = buf_new(AUTHD_ANSWER_MAX);
	enum stream_status st;
	const char *error = NULL, *verb;

	(void) peer;
	(void) ctx;
	for (;;) {
		st = attr_read(s, req, &error);
		if (st == STREAM_ERROR && strcmp(error, "record too large")
		    != 0 && stream_status(s) == STREAM_OK) {
			buf_reset(out);
			authd_answer(out, "error", error);
			if (attr_write(s, out) != STREAM_OK)
				break;
			continue;
		}
		if (st != STREAM_OK) {
			if (st != STREAM_EOF || error != NULL)
				log_debug("client connection: %s",
				    error != NULL ? error : "closed");
			break;
		}
		buf_reset(out);
		verb = attr_get(req, "request");
		if (verb != NULL && strcmp(verb, "authenticate") == 0)
			authd_authenticate(out, req);
		else
			authd_answer(out, "error", "unknown request");
		if (attr_write(s, out) != STREAM_OK)
			break;
	}
	buf_free(&out);
	attr_list_free(&req);
	stream_free(&s);
}

static void
authd_post_init(void *ctx)
{
	(void) ctx;
	/* Open the directory now so the first request does not wait. */
	(void) authd_route_get();
	/* Hashing is most of what authd does (crypt_scratch.h). */
	crypt_scratch_keep(var_auth_hash_memory_keep != 0);
}

int
main(int argc, char **argv)
{
	static const struct service_def def = {
		.name = "authd",
		.handle = authd_handle,
		.post_init = authd_post_init,
	};

	service_main(argc, argv, &def, NULL, NULL);
}

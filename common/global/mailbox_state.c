/* mailbox_state: open sessions look at their mailbox's state (issue 16). */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "mail_host.h"
#include "mail_params.h"
#include "mailbox_state.h"
#include "route.h"
#include "service.h"
#include "store_mark.h"
#include "stream.h"
#include "xalloc.h"

static mailbox_state_getter *mailbox_state_get = route_mailbox_get;

void
mailbox_state_set_getter(mailbox_state_getter *get)
{
	mailbox_state_get = get != NULL ? get : route_mailbox_get;
}

static int
mailbox_state_enabled(const struct mailbox_state_check *c)
{
	return c->address != NULL && c->route != NULL &&
	    var_mailbox_state_check_interval > 0 && (c->root != NULL ||
	    strcmp(var_route_backend, "file") == 0);
}

/*
 * The directory's word, read directly: 1 moving, 2 (with elsewhere) on
 * another host, *host_r set when host_r is given, or gone; 0 not; -1
 * (*error_r).
 */
static int
mailbox_state_directory(struct route *route, const char *address,
	int elsewhere, char **host_r, char **error_r)
{
	struct route_mailbox *mb = NULL;
	int rc;

	rc = mailbox_state_get(route, address, &mb, error_r);
	if (rc < 0)
		return -1;
	if (rc == 0)
		return elsewhere ? 2 : 0;
	if (mb->state == ROUTE_STATE_MOVING)
		rc = 1;
	else if (elsewhere && mb->mail_host != NULL &&
	    !mail_host_is_local(mb->mail_host)) {
		rc = 2;
		if (host_r != NULL)
			*host_r = xstrdup(mb->mail_host);
	} else
		rc = 0;
	route_mailbox_free(&mb);
	return rc;
}

int
mailbox_state_marked(struct route *route, const char *address,
	const char *root, char **error_r)
{
	time_t until;
	int rc;

	rc = store_mark_get(root, &until, error_r);
	if (rc <= 0)
		return rc;
	if (until > time(NULL))
		return 1;
	/* The lease is over: a killed move's mark no longer counts. */
	rc = mailbox_state_directory(route, address, 1, NULL, error_r);
	return rc > 0 ? 1 : rc;
}

void
mailbox_state_start(struct mailbox_state_check *c, struct route *route,
	const char *address, const char *mail_host)
{
	c->route = route;
	c->address = address;
	c->checked_ms = stream_clock_ms();
	c->was_local = mail_host_is_local(mail_host);
}

int
mailbox_state_moving(struct mailbox_state_check *c, int force)
{
	char *error = NULL, *host = NULL;
	int64_t now = stream_clock_ms();
	time_t until = 0;
	int rc = 0, marked = 0;

	if (!mailbox_state_enabled(c))
		return 0;
	/* The mark: one stat per call (per command), whatever the backend. */
	if (c->root != NULL) {
		marked = store_mark_get(c->root, &until, &error);
		if (marked > 0 && until > time(NULL))
			rc = 1;
		else if (marked < 0)
			marked = 1;	/* unreadable: the directory decides */
	}
	/*
	 * The directory every interval (the file backend), or when a mark
	 * says to ask.  A session that logged in on this host also ends
	 * when its mail host is no longer this host: a mark shorter than
	 * the interval can fall between two looks, the switch cannot.
	 */
	if (rc == 0 && (force || now - c->checked_ms >=
	    var_mailbox_state_check_interval * 1000) &&
	    (marked || strcmp(var_route_backend, "file") == 0)) {
		c->checked_ms = now;
		free(error);
		error = NULL;
		rc = mailbox_state_directory(c->route, c->address,
		    marked || c->was_local, &host, &error);
	}
	if (rc < 0) {
		log_warn("user=%s state check: %s", c->address, error);
		rc = 0;
	}
	free(error);
	if (rc == 1)
		log_info("user=%s: mailbox is being moved, session ended",
		    c->address);
	else if (rc == 2)
		log_info("user=%s: mailbox moved to %s, session ended",
		    c->address, host != NULL ? host : "(removed)");
	free(host);
	return rc > 0;
}

int
mailbox_state_wait(struct mailbox_state_check *c, struct stream *s,
	int timeout_ms, int *left_ms)
{
	int64_t deadline = stream_clock_ms() + timeout_ms, left;
	int64_t interval = var_mailbox_state_check_interval * 1000;

	*left_ms = timeout_ms;
	if (!mailbox_state_enabled(c) || service_in_stress())
		return 0;
	for (;;) {
		if (stream_pending(s) > 0)
			break;
		left = deadline - stream_clock_ms();
		if (left <= 0)
			break;
		if (stream_wait_input(s, (int) (left < interval ? left :
		    interval)) != 0)
			break;
		if (mailbox_state_moving(c, 0))
			return 1;
	}
	left = deadline - stream_clock_ms();
	*left_ms = left > 0 ? (int) left : 1;
	return mailbox_state_moving(c, 0);
}

int
mailbox_state_wait_cap(int timeout_ms)
{
	long long interval = var_mailbox_state_check_interval * 1000;

	if (interval > 0 && interval < timeout_ms)
		return (int) interval;
	return timeout_ms;
}

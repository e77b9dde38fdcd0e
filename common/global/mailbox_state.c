/* mailbox_state: open sessions look at their mailbox's state (issue 16). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mail_host.h"
#include "mail_params.h"
#include "mailbox_state.h"
#include "route.h"
#include "service.h"
#include "stream.h"

static int
mailbox_state_enabled(const struct mailbox_state_check *c)
{
	return c->address != NULL && c->route != NULL &&
	    var_mailbox_state_check_interval > 0 &&
	    strcmp(var_route_backend, "file") == 0;
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
	struct route_mailbox *mb = NULL;
	char *error = NULL;
	int64_t now = stream_clock_ms();
	int moving;

	if (!mailbox_state_enabled(c))
		return 0;
	if (!force && now - c->checked_ms <
	    var_mailbox_state_check_interval * 1000)
		return 0;
	c->checked_ms = now;
	if (route_mailbox_get(c->route, c->address, &mb, &error) < 0) {
		log_warn("user=%s state check: %s", c->address, error);
		free(error);
		return 0;
	}
	moving = mb != NULL && mb->state == ROUTE_STATE_MOVING;
	if (moving) {
		log_info("user=%s: mailbox is being moved, session ended",
		    c->address);
	} else if (mb != NULL && c->was_local &&
	    !mail_host_is_local(mb->mail_host)) {
		/* The mark was shorter than the interval: the switch. */
		log_info("user=%s: mailbox moved to %s, session ended",
		    c->address, mb->mail_host);
		moving = 1;
	}
	route_mailbox_free(&mb);
	return moving;
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

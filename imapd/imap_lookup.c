/* imap_lookup: directory lookups off the loop (see imap_lookup.h). */
#include "config.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap_lookup.h"
#include "imap_multi.h"
#include "log.h"
#include "mail_params.h"
#include "mailbox_state.h"
#include "metrics.h"
#include "route.h"
#include "stream.h"
#include "xalloc.h"

/*
 * libldap, TLS and a password hash on a lookup thread: far below this
 * (and ASan's larger frames fit); pages are real only once touched and
 * the C library keeps the stack of an ended thread for the next one.
 */
#define LOOKUP_STACK_SIZE	(1024 * 1024)

/* One lookup at a time runs with a place's handle. */
struct lookup_place {
	struct route *route;		/* NULL until its first lookup */
	int busy;
};

/*
 * A session queued for a place (on that session's stack).  It sleeps
 * until a place comes free for the head of the queue (lookup_wake_head)
 * or its deadline to give up passes; it never polls, so a queue as long
 * as imap_client_limit, with a hung directory, costs the loop nothing.
 */
struct lookup_waiter {
	struct lookup_waiter *next;
	struct lookup_waiter **prev_next;	/* what points at it */
	struct multi_session *session;
};

enum lookup_op {
	LOOKUP_AUTHENTICATE,
	LOOKUP_AUTHORIZE,
	LOOKUP_MAILBOX,
};

/* What a lookup thread is given and hands back. */
struct lookup_job {
	enum lookup_op op;
	struct lookup_place *place;
	const char *address;
	const char *password;
	struct route_mailbox *mailbox;
	const char *reason;		/* a static text */
	char *error;
	int rc;
};

static struct lookup_place *lookup_places;
static size_t lookup_place_count;
static struct lookup_waiter *lookup_queue;
static struct lookup_waiter **lookup_queue_tail = &lookup_queue;
/* When a lookup thread last finished (stream_clock_ms), 0 never. */
static int64_t lookup_last_done;

void
imap_lookup_start(void)
{
	long long places = var_ldap_pool_size;

	if (strcmp(var_route_backend, "ldap") != 0)
		return;
	if (places > var_imap_client_limit)
		places = var_imap_client_limit;
	if (places < 1)
		places = 1;
	/*
	 * What the lookup threads share is made now, on this thread: the
	 * metrics mapping (metrics_open once) and the log's cached pid.
	 * libldap 2.5 is thread-safe as long as no handle is shared.
	 */
	(void) metrics_open();
	(void) log_pid();
	lookup_place_count = (size_t) places;
	lookup_places = xcalloc(lookup_place_count, sizeof(*lookup_places));
	mailbox_state_set_getter(imap_lookup_mailbox_get);
}

void
imap_lookup_stop(void)
{
	size_t i;

	if (lookup_places == NULL)
		return;
	mailbox_state_set_getter(NULL);
	for (i = 0; i < lookup_place_count; i++)
		route_close(&lookup_places[i].route);
	free(lookup_places);
	lookup_places = NULL;
	lookup_place_count = 0;
}

/* The lowest free place, or NULL. */
static struct lookup_place *
lookup_free_place(void)
{
	size_t i;

	for (i = 0; i < lookup_place_count; i++)
		if (!lookup_places[i].busy)
			return &lookup_places[i];
	return NULL;
}

static void
lookup_enqueue(struct lookup_waiter *w)
{
	w->next = NULL;
	w->prev_next = lookup_queue_tail;
	*lookup_queue_tail = w;
	lookup_queue_tail = &w->next;
}

static void
lookup_dequeue(struct lookup_waiter *w)
{
	*w->prev_next = w->next;
	if (w->next != NULL)
		w->next->prev_next = w->prev_next;
	else
		lookup_queue_tail = w->prev_next;
}

/*
 * The head of the queue, when a place is free for it, runs at the
 * loop's next pass.  Called wherever a place comes free or the head
 * changes; the head passes the turn on when it leaves, so several
 * places freed at once serve as many waiters, in order.
 */
static void
lookup_wake_head(void)
{
	if (lookup_queue != NULL && lookup_free_place() != NULL)
		imap_multi_wake(lookup_queue->session);
}

/*
 * A place for the calling session, first come first served: NULL when
 * for ldap_search_timeout no lookup finished, neither since the session
 * came nor since the last one finished.  A queue that moves (a login
 * storm, its hashes) is waited out; one that a hung directory holds
 * still is not.  A queued session wakes when its turn comes, or at its
 * deadline, where it looks again (a lookup that finished meanwhile
 * moved the deadline on): one wakeup per ldap_search_timeout.
 */
static struct lookup_place *
lookup_take(void)
{
	int64_t timeout = var_ldap_search_timeout * 1000;
	int64_t since = stream_clock_ms();
	int64_t deadline, now;
	struct lookup_waiter me;
	struct lookup_place *place;

	if (lookup_queue == NULL && (place = lookup_free_place()) != NULL) {
		place->busy = 1;
		return place;
	}
	metrics_inc("ispmail_cap_reached_total", "at", "ldap_pool_size",
	    NULL);
	me.session = imap_multi_self();
	lookup_enqueue(&me);
	for (;;) {
		place = NULL;
		if (lookup_queue == &me &&
		    (place = lookup_free_place()) != NULL)
			break;
		deadline = (lookup_last_done > since ? lookup_last_done :
		    since) + timeout;
		if ((now = stream_clock_ms()) >= deadline)
			break;
		stream_pause(deadline - now > INT_MAX ? INT_MAX :
		    (int) (deadline - now));
	}
	lookup_dequeue(&me);
	if (place != NULL)
		place->busy = 1;
	lookup_wake_head();
	return place;
}

/* On a lookup thread: the route call with the place's own handle. */
static void
lookup_work(void *arg)
{
	struct lookup_job *job = arg;
	struct route **rp = &job->place->route;

	if (*rp == NULL && (*rp = route_open(&job->error)) == NULL) {
		job->rc = -1;
		return;
	}
	switch (job->op) {
	case LOOKUP_AUTHENTICATE:
		job->rc = route_authenticate(*rp, job->address, job->password,
		    &job->mailbox, &job->reason, &job->error);
		break;
	case LOOKUP_AUTHORIZE:
		job->rc = route_authorize(*rp, job->address, &job->mailbox,
		    &job->reason, &job->error);
		break;
	case LOOKUP_MAILBOX:
		job->rc = route_mailbox_get(*rp, job->address, &job->mailbox,
		    &job->error);
		break;
	}
}

/*
 * Run job on a lookup thread while the session waits: job->rc, -1 (with
 * job->error) when no place came free in time.
 */
static void
lookup_run(struct lookup_job *job)
{
	job->place = lookup_take();
	if (job->place == NULL) {
		job->rc = -1;
		job->error = xasprintf("%s: no lookup thread (ldap_pool_size "
		    "%zu) came free within ldap_search_timeout %llds",
		    job->address, lookup_place_count, var_ldap_search_timeout);
		return;
	}
	if (imap_multi_thread_run(lookup_work, job, LOOKUP_STACK_SIZE) < 0) {
		/* No thread: the place's handle here, as one session would. */
		log_warn("imap_lookup: directory lookup in the loop");
		lookup_work(job);
	}
	job->place->busy = 0;
	lookup_last_done = stream_clock_ms();
	lookup_wake_head();
}

/* Should this call go to a lookup thread? */
static int
lookup_threaded(void)
{
	return lookup_places != NULL && imap_multi_in_session();
}

/* Hand a job's error to the caller, or drop it. */
static void
lookup_pass_error(struct lookup_job *job, char **error_r)
{
	if (error_r != NULL) {
		free(*error_r);
		*error_r = job->error;
	} else {
		free(job->error);
	}
}

/* A login's job on a lookup thread, its results handed to the caller. */
static int
lookup_login(struct lookup_job *job, struct route_mailbox **mailbox_r,
	const char **reason_r, char **error_r)
{
	lookup_run(job);
	*reason_r = job->reason;
	lookup_pass_error(job, error_r);
	if (mailbox_r != NULL)
		*mailbox_r = job->mailbox;
	else
		route_mailbox_free(&job->mailbox);
	return job->rc;
}

int
imap_lookup_authenticate(struct route *r, const char *login,
	const char *password, struct route_mailbox **mailbox_r,
	const char **reason_r, char **error_r)
{
	struct lookup_job job = { .op = LOOKUP_AUTHENTICATE };

	if (!lookup_threaded())
		return route_authenticate(r, login, password, mailbox_r,
		    reason_r, error_r);
	job.address = login;
	job.password = password;
	job.reason = "invalid credentials";
	return lookup_login(&job, mailbox_r, reason_r, error_r);
}

int
imap_lookup_authorize(struct route *r, const char *login,
	struct route_mailbox **mailbox_r, const char **reason_r,
	char **error_r)
{
	struct lookup_job job = { .op = LOOKUP_AUTHORIZE };

	if (!lookup_threaded())
		return route_authorize(r, login, mailbox_r, reason_r,
		    error_r);
	job.address = login;
	job.reason = "no such mailbox";
	return lookup_login(&job, mailbox_r, reason_r, error_r);
}

int
imap_lookup_mailbox_get(struct route *r, const char *address,
	struct route_mailbox **mailbox_r, char **error_r)
{
	struct lookup_job job = { .op = LOOKUP_MAILBOX };

	if (!lookup_threaded())
		return route_mailbox_get(r, address, mailbox_r, error_r);
	job.address = address;
	lookup_run(&job);
	lookup_pass_error(&job, error_r);
	*mailbox_r = job.mailbox;
	return job.rc;
}

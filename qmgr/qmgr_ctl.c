/*
 * qmgr_ctl: requests on private/qmgr.  smtpd sends "new" (a queue id
 * just written to incoming/); ispmailctl sends flush, hold, release,
 * delete and requeue, so that those never race with a delivery in
 * progress: a message in active/ is refused until its attempt is over.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "attr.h"
#include "buf.h"
#include "log.h"
#include "mail_params.h"
#include "qfile.h"
#include "qmgr.h"
#include "xalloc.h"

static const char *const qmgr_queues[] = {
	QFILE_INCOMING, QFILE_DEFERRED, QFILE_HOLD, QFILE_CORRUPT,
};

/* Which queue holds id (not active/); NULL when none. */
static const char *
qmgr_ctl_locate(const char *id, char **path_r)
{
	size_t i;

	for (i = 0; i < sizeof(qmgr_queues) / sizeof(qmgr_queues[0]); i++) {
		*path_r = qfile_path(var_queue_directory, qmgr_queues[i], id);
		if (access(*path_r, F_OK) == 0)
			return qmgr_queues[i];
		free(*path_r);
	}
	*path_r = NULL;
	return NULL;
}

void
qmgr_ctl_reply(struct buf *out, const char *status, const char *reason)
{
	(void) attr_put(out, "status", status);
	if (reason != NULL)
		(void) attr_put(out, "reason", reason);
	(void) attr_end(out);
}

/* Move path to queue; for deferred/ make it due now. */
static int
qmgr_ctl_move(const char *path, const char *queue, const char *id)
{
	char *dir = qfile_dir(var_queue_directory, queue, id, 1);
	char *to = xasprintf("%s/%s", dir, id);
	int ret;

	if (strcmp(queue, QFILE_DEFERRED) == 0)
		(void) utimes(path, NULL);
	ret = rename(path, to);
	if (ret < 0)
		log_warn("%s: move to %s: %m", id, queue);
	free(dir);
	free(to);
	return ret;
}

/* Every file of deferred/, due or not: make it due and activate. */
static void
qmgr_ctl_flush_all(void)
{
	/* utimes per file would cost a walk; scanning all ignores mtime. */
	qmgr_transport_revive();
	qmgr_scan_queue(QFILE_DEFERRED, 0);
	qmgr_want_scan(0);
}

void
qmgr_ctl_request(const char *request, const char *id, struct buf *out)
{
	const char *queue;
	char *path = NULL;

	if (strcmp(request, "new") == 0) {
		if (id == NULL || !qfile_id_valid(id)) {
			qmgr_ctl_reply(out, "error", "bad queue id");
			return;
		}
		path = qfile_path(var_queue_directory, QFILE_INCOMING, id);
		(void) qmgr_message_activate(path, id);
		free(path);
		qmgr_ctl_reply(out, "ok", NULL);
		return;
	}
	if (strcmp(request, "flush") == 0 && id == NULL) {
		log_info("flush requested");
		qmgr_ctl_flush_all();
		qmgr_ctl_reply(out, "ok", NULL);
		return;
	}
	if (id == NULL || !qfile_id_valid(id)) {
		qmgr_ctl_reply(out, "error", "bad or missing queue id");
		return;
	}
	if (qmgr_message_find(id) != NULL) {
		qmgr_ctl_reply(out, "busy", "the message is being delivered; "
		    "try again in a moment");
		return;
	}
	queue = qmgr_ctl_locate(id, &path);
	if (queue == NULL) {
		qmgr_ctl_reply(out, "error", "no such message in the queue");
		return;
	}
	log_set_context(id);
	if (strcmp(request, "delete") == 0) {
		if (unlink(path) < 0) {
			qmgr_ctl_reply(out, "error", strerror(errno));
		} else {
			log_info("deleted by the operator (from %s)", queue);
			qmgr_ctl_reply(out, "ok", NULL);
		}
	} else if (strcmp(request, "hold") == 0) {
		if (strcmp(queue, QFILE_HOLD) == 0) {
			qmgr_ctl_reply(out, "ok", "already on hold");
		} else if (qmgr_ctl_move(path, QFILE_HOLD, id) < 0) {
			qmgr_ctl_reply(out, "error", strerror(errno));
		} else {
			log_info("put on hold by the operator");
			qmgr_ctl_reply(out, "ok", NULL);
		}
	} else if (strcmp(request, "release") == 0 ||
	    strcmp(request, "flush") == 0 || strcmp(request, "requeue") == 0) {
		if (strcmp(request, "release") == 0 &&
		    strcmp(queue, QFILE_HOLD) != 0) {
			qmgr_ctl_reply(out, "error", "not on hold");
		} else if (strcmp(request, "flush") == 0 &&
		    strcmp(queue, QFILE_HOLD) == 0) {
			qmgr_ctl_reply(out, "error", "on hold: release it "
			    "first");
		} else if (qmgr_ctl_move(path, QFILE_DEFERRED, id) < 0) {
			qmgr_ctl_reply(out, "error", strerror(errno));
		} else {
			free(path);
			path = qfile_path(var_queue_directory, QFILE_DEFERRED,
			    id);
			qmgr_transport_revive();
			log_info("%s by the operator", strcmp(request,
			    "release") == 0 ? "released" : strcmp(request,
			    "flush") == 0 ? "flushed" : "requeued");
			(void) qmgr_message_activate(path, id);
			qmgr_ctl_reply(out, "ok", NULL);
		}
	} else {
		qmgr_ctl_reply(out, "error", "unknown request");
	}
	log_set_context(NULL);
	free(path);
}

/*
 * ctl_queue: ispmailctl queue list|show -- what is in the mail queue, in
 * the spirit of mailq(1) and postcat(1).  qmgr's commands (hold,
 * release, delete, flush, requeue) come with qmgr.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "attr.h"
#include "buf.h"
#include "ctl.h"
#include "stream.h"
#include "log.h"
#include "mail_params.h"
#include "qfile.h"
#include "xalloc.h"

/* The queues in the order mailq shows them, and their state words. */
static const char *const ctl_queues[] = {
	QFILE_ACTIVE, QFILE_INCOMING, QFILE_DEFERRED, QFILE_HOLD,
	QFILE_CORRUPT,
};

static void
ctl_qlist_add(struct ctl_qlist *l, const char *path, const char *queue)
{
	if (l->count == l->alloc) {
		l->alloc = l->alloc == 0 ? 64 : l->alloc * 2;
		l->entries = xreallocarray(l->entries, l->alloc,
		    sizeof(*l->entries));
	}
	l->entries[l->count].path = xstrdup(path);
	l->entries[l->count].queue = queue;
	l->count++;
}

/* Collect the files of one queue, hashed subdirectories included. */
void
ctl_qlist_scan(struct ctl_qlist *l, const char *dir, const char *queue,
	int depth)
{
	struct dirent *de;
	char *path;
	DIR *dp;

	dp = opendir(dir);
	if (dp == NULL) {
		if (errno != ENOENT)
			ctl_eprintf("ispmailctl: open %s: %s\n", dir,
			    strerror(errno));
		return;
	}
	while ((de = readdir(dp)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		path = xasprintf("%s/%s", dir, de->d_name);
		if (de->d_type == DT_DIR && depth < 2)
			ctl_qlist_scan(l, path, queue, depth + 1);
		else if (qfile_id_valid(de->d_name))
			ctl_qlist_add(l, path, queue);
		free(path);
	}
	closedir(dp);
}

static int
ctl_qentry_cmp(const void *a, const void *b)
{
	const struct ctl_qentry *x = a, *y = b;
	const char *xi = strrchr(x->path, '/') + 1;
	const char *yi = strrchr(y->path, '/') + 1;

	/* Ids start with their arrival time: id order is arrival order. */
	return strcmp(xi, yi);
}

static void
ctl_qlist_collect(struct ctl_qlist *l)
{
	size_t i;
	char *dir;

	for (i = 0; i < sizeof(ctl_queues) / sizeof(ctl_queues[0]); i++) {
		dir = xasprintf("%s/%s", var_queue_directory, ctl_queues[i]);
		ctl_qlist_scan(l, dir, ctl_queues[i], 0);
		free(dir);
	}
	if (l->count > 1)
		qsort(l->entries, l->count, sizeof(*l->entries),
		    ctl_qentry_cmp);
}

void
ctl_qlist_free(struct ctl_qlist *l)
{
	size_t i;

	for (i = 0; i < l->count; i++)
		free(l->entries[i].path);
	free(l->entries);
}

static const char *
ctl_rcpt_state(char state)
{
	switch (state) {
	case QFILE_RCPT_PENDING:
		return "pending";
	case QFILE_RCPT_DONE:
		return "delivered";
	case QFILE_RCPT_FAILED:
		return "failed";
	case QFILE_RCPT_BOUNCED:
		return "bounced";
	case QFILE_RCPT_EXPANDED:
		return "expanded";
	}
	return "unknown";
}

static int
ctl_queue_list(void)
{
	struct ctl_qlist l = { NULL, 0, 0 };
	struct qfile *qf;
	char when[64], *error;
	long long total = 0;
	size_t i, j, shown = 0;
	struct tm tm;
	time_t t;
	int damaged;

	ctl_qlist_collect(&l);
	if (l.count == 0) {
		ctl_printf("Mail queue is empty\n");
		ctl_qlist_free(&l);
		return 0;
	}
	ctl_printf("%-20s %-8s %9s %-19s %s\n", "-Queue ID-", "-State-",
	    "-Size-", "-Arrival Time-", "-Sender/Recipient-");
	for (i = 0; i < l.count; i++) {
		error = NULL;
		if (qfile_read(l.entries[i].path, &qf, &damaged, &error) < 0) {
			/* Moved meanwhile (qmgr at work): not an error. */
			if (!damaged) {
				free(error);
				continue;
			}
			ctl_printf("%-20s %-8s %s\n", strrchr(l.entries[i].path,
			    '/') + 1, "damaged", error);
			free(error);
			continue;
		}
		t = (time_t) qf->arrival;
		localtime_r(&t, &tm);
		strftime(when, sizeof(when), "%a %b %d %H:%M:%S", &tm);
		ctl_printf("%-20s %-8s %9lld %-19s %s\n", qf->id,
		    l.entries[i].queue, qf->message_size, when,
		    *qf->sender != '\0' ? qf->sender : "<>");
		for (j = 0; j < qf->rcpt_count; j++) {
			const struct qfile_rcpt *r = &qf->rcpts[j];

			if (r->state != QFILE_RCPT_PENDING &&
			    r->state != QFILE_RCPT_FAILED)
				continue;
			if (r->last_text != NULL)
				ctl_printf("%60s(%s %s %s)\n", "", r->last_code,
				    r->last_dsn != NULL ? r->last_dsn : "",
				    r->last_text);
			ctl_printf("%60s%s\n", "", r->address);
		}
		ctl_printf("\n");
		total += qf->message_size;
		shown++;
		qfile_free(&qf);
	}
	ctl_printf("-- %lld Kbytes in %zu Request%s.\n", (total + 1023) / 1024,
	    shown, shown == 1 ? "" : "s");
	ctl_qlist_free(&l);
	return 0;
}

static int
ctl_queue_show(const char *id)
{
	struct ctl_qlist l = { NULL, 0, 0 };
	struct qfile *qf;
	char when[64], *error = NULL;
	const char *queue = NULL, *path = NULL;
	struct tm tm;
	time_t t;
	size_t i;
	int damaged, ret = 1, attempt;

	if (!qfile_id_valid(id)) {
		ctl_eprintf("ispmailctl: %s is not a queue id\n", id);
		return 2;
	}
	/* qmgr may move the file between the scan and the read: look again. */
	for (attempt = 0;; attempt++) {
		ctl_qlist_collect(&l);
		path = NULL;
		for (i = 0; i < l.count; i++) {
			if (strcmp(strrchr(l.entries[i].path, '/') + 1,
			    id) == 0) {
				path = l.entries[i].path;
				queue = l.entries[i].queue;
				break;
			}
		}
		if (path == NULL) {
			ctl_eprintf("ispmailctl: %s: no such message in the "
			    "queue\n", id);
			ctl_qlist_free(&l);
			return 1;
		}
		if (qfile_read(path, &qf, &damaged, &error) == 0)
			break;
		if (attempt >= 2 || access(path, F_OK) == 0) {
			ctl_eprintf("ispmailctl: %s\n", error);
			free(error);
			ctl_qlist_free(&l);
			return 1;
		}
		free(error);
		error = NULL;
		ctl_qlist_free(&l);
		memset(&l, 0, sizeof(l));
	}
	t = (time_t) qf->arrival;
	localtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %z", &tm);
	ctl_printf("id: %s\nqueue: %s\narrival: %s\nsize: %lld\nsender: <%s>\n",
	    qf->id, queue, when, qf->message_size, qf->sender);
	ctl_printf("client: %s (helo %s)\nprotocol: %s\n",
	    qf->client_addr != NULL ? qf->client_addr : "local",
	    qf->client_helo != NULL ? qf->client_helo : "-",
	    qf->protocol != NULL ? qf->protocol : "-");
	if (qf->auth_user != NULL)
		ctl_printf("auth: %s\n", qf->auth_user);
	if (qf->envid != NULL)
		ctl_printf("envid: %s\n", qf->envid);
	if (qf->hold_reason != NULL)
		ctl_printf("hold reason: %s\n", qf->hold_reason);
	if (qf->ret != QFILE_RET_DEFAULT)
		ctl_printf("ret: %s\n",
		    qf->ret == QFILE_RET_FULL ? "FULL" : "HDRS");
	for (i = 0; i < qf->rcpt_count; i++) {
		const struct qfile_rcpt *r = &qf->rcpts[i];

		ctl_printf("recipient %d: <%s> %s", r->n, r->address,
		    ctl_rcpt_state(r->state));
		if (r->parent >= 0)
			ctl_printf(" (from recipient %d)", r->parent);
		if (r->notify != 0)
			ctl_printf(" notify=%s", qfile_notify_text(r->notify));
		if (r->orcpt != NULL)
			ctl_printf(" orcpt=%s", r->orcpt);
		if (r->filter_action != NULL)
			ctl_printf(" filter=%s", r->filter_action);
		if (r->folder != NULL)
			ctl_printf(" folder=%s", r->folder);
		ctl_printf("\n");
		if (r->last_code != NULL)
			ctl_printf("  last attempt: %s %s %s (%d attempt%s)\n",
			    r->last_code, r->last_dsn != NULL ? r->last_dsn :
			    "", r->last_text != NULL ? r->last_text : "",
			    r->attempts, r->attempts == 1 ? "" : "s");
	}
	ret = 0;
	qfile_free(&qf);
	ctl_qlist_free(&l);
	return ret;
}

/*
 * One request on private/qmgr: 0 done, 1 refused or no answer,
 * CTL_EXIT_TEMPFAIL busy, -1 no qmgr listening, CTL_QMGR_RETRY when a
 * retiring qmgr (a reload) asks to try its successor or closed the
 * connection before answering.
 */
#define CTL_QMGR_RETRY (-2)

static int
ctl_qmgr_request_once(const char *request, const char *id)
{
	struct sockaddr_un sun;
	struct attr_list *l;
	struct stream *s;
	struct buf *rec;
	const char *error, *status, *reason;
	enum stream_status st;
	int fd, ret;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if ((size_t) snprintf(sun.sun_path, sizeof(sun.sun_path),
	    "%s/private/qmgr", var_queue_directory) >= sizeof(sun.sun_path))
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *) &sun,
	    sizeof(sun)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	s = stream_new(fd, 30 * 1000, 30 * 1000);
	rec = buf_new(4096);
	(void) attr_put(rec, "request", request);
	if (id != NULL)
		(void) attr_put(rec, "queue_id", id);
	(void) attr_end(rec);
	l = attr_list_new(16, 4096);
	error = NULL;
	if ((st = attr_write(s, rec)) != STREAM_OK ||
	    (st = attr_read(s, l, &error)) != STREAM_OK) {
		/*
		 * Closed or reset before any answer: a qmgr retiring as a
		 * reload took the connection with it (it answers only
		 * after acting), so the successor is asked.
		 */
		if (st == STREAM_EOF || (st == STREAM_ERROR &&
		    (stream_errno(s) == ECONNRESET ||
		    stream_errno(s) == EPIPE))) {
			ret = CTL_QMGR_RETRY;
		} else {
			ctl_eprintf("ispmailctl: no answer from qmgr%s%s\n",
			    error != NULL ? ": " : "",
			    error != NULL ? error : "");
			ret = 1;
		}
	} else {
		status = attr_get(l, "status");
		reason = attr_get(l, "reason");
		if (status != NULL && strcmp(status, "ok") == 0) {
			ret = 0;
			if (reason != NULL)
				ctl_printf("%s\n", reason);
		} else if (status != NULL && strcmp(status, "retry") == 0) {
			ret = CTL_QMGR_RETRY;
		} else {
			ctl_eprintf("ispmailctl: %s%s%s\n",
			    id != NULL ? id : "", id != NULL ? ": " : "",
			    reason != NULL ? reason : "refused");
			ret = status != NULL && strcmp(status, "busy") == 0 ?
			    CTL_EXIT_TEMPFAIL : 1;
		}
	}
	attr_list_free(&l);
	buf_free(&rec);
	stream_free(&s);
	close(fd);
	return ret;
}

/*
 * A request reaching qmgr as a reload retires it is handed to its
 * successor: ask again for up to CTL_QMGR_RETRY_MS.
 */
#define CTL_QMGR_RETRY_MS	30000
#define CTL_QMGR_RETRY_STEP_MS	100

int
ctl_qmgr_request(const char *request, const char *id)
{
	struct timespec step = { 0, CTL_QMGR_RETRY_STEP_MS * 1000000L };
	int ret, waited = 0;

	while ((ret = ctl_qmgr_request_once(request, id)) == CTL_QMGR_RETRY) {
		if (waited >= CTL_QMGR_RETRY_MS) {
			ctl_eprintf("ispmailctl: no answer from qmgr (it "
			    "closed the connection or is restarting); try "
			    "again in a moment\n");
			return CTL_EXIT_TEMPFAIL;
		}
		(void) nanosleep(&step, NULL);
		waited += CTL_QMGR_RETRY_STEP_MS;
	}
	return ret;
}

/* qmgr is not running: change the queue directly. */
static int
ctl_queue_direct(const char *request, const char *id)
{
	static const char *const queues[] = {
		QFILE_INCOMING, QFILE_ACTIVE, QFILE_DEFERRED, QFILE_HOLD,
		QFILE_CORRUPT,
	};
	const char *target = NULL, *found = NULL;
	char *path = NULL, *dir, *to;
	size_t i;
	int ret = 0;

	if (id == NULL) {
		ctl_printf("qmgr is not running: deferred mail is tried "
		    "when it starts\n");
		return 0;
	}
	for (i = 0; i < sizeof(queues) / sizeof(queues[0]); i++) {
		path = qfile_path(var_queue_directory, queues[i], id);
		if (access(path, F_OK) == 0) {
			found = queues[i];
			break;
		}
		free(path);
		path = NULL;
	}
	if (found == NULL) {
		ctl_eprintf("ispmailctl: %s: no such message in the "
		    "queue\n", id);
		return 1;
	}
	if (strcmp(request, "delete") == 0) {
		if (unlink(path) < 0) {
			ctl_eprintf("ispmailctl: remove %s: %s\n", path,
			    strerror(errno));
			ret = 1;
		}
		free(path);
		return ret;
	}
	if (strcmp(request, "hold") == 0)
		target = QFILE_HOLD;
	else if (strcmp(request, "release") == 0 &&
	    strcmp(found, QFILE_HOLD) != 0) {
		ctl_eprintf("ispmailctl: %s: not on hold\n", id);
		free(path);
		return 1;
	} else
		target = QFILE_DEFERRED;
	dir = qfile_dir(var_queue_directory, target, id, 1);
	to = xasprintf("%s/%s", dir, id);
	if (strcmp(target, QFILE_DEFERRED) == 0)
		(void) utimes(path, NULL);
	if (rename(path, to) < 0) {
		ctl_eprintf("ispmailctl: move %s: %s\n", path,
		    strerror(errno));
		ret = 1;
	}
	free(dir);
	free(to);
	free(path);
	return ret;
}

static int
ctl_queue_action(const char *request, const char *id)
{
	int ret;

	if (id != NULL && !qfile_id_valid(id)) {
		ctl_eprintf("ispmailctl: %s is not a queue id\n", id);
		return 1;
	}
	ret = ctl_qmgr_request(request, id);
	if (ret >= 0)
		return ret;
	return ctl_queue_direct(request, id);
}

int
ctl_queue_release(const char *id)
{
	return ctl_queue_action("release", id);
}

int
ctl_queue(int argc, char **argv)
{
	if (argc == 1 || (argc == 2 && strcmp(argv[1], "list") == 0))
		return ctl_queue_list();
	if (argc == 3 && strcmp(argv[1], "show") == 0)
		return ctl_queue_show(argv[2]);
	if (argc == 2 && strcmp(argv[1], "flush") == 0)
		return ctl_queue_action("flush", NULL);
	if (argc == 3 && (strcmp(argv[1], "hold") == 0 ||
	    strcmp(argv[1], "release") == 0 ||
	    strcmp(argv[1], "delete") == 0 ||
	    strcmp(argv[1], "flush") == 0 ||
	    strcmp(argv[1], "requeue") == 0))
		return ctl_queue_action(argv[1], argv[2]);
	ctl_eprintf("usage: ispmailctl queue [list | show ID | hold ID | "
	    "release ID | delete ID | flush [ID] | requeue ID]\n");
	return 2;
}

/*
 * qmgr: the queue manager.  One process, started by the master and kept
 * running (service_keep_running), that moves mail from incoming/ through
 * active/ to its recipients, defers what cannot be delivered yet, and
 * bounces what cannot be delivered at all.
 *
 * It learns of new mail from smtpd's notices on private/qmgr, from a scan
 * of incoming/ every queue_run_delay (a lost notice costs at most that
 * much delay), and at start, when it also takes back whatever a crash
 * left in active/.  Deferred mail is due when its file's modification
 * time has passed.  Every qmgr_orphan_age it looks in active/ again for
 * files it does not hold (an error that slipped past the put-back), so
 * nothing waits there for the next restart.
 *
 * Each active message holds its queue file open, so the active and agent
 * limits are cut to fit the process's open-file limit (RLIMIT_NOFILE):
 * running out of descriptors mid-flight must never happen by design.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "attr.h"
#include "buf.h"
#include "log.h"
#include "mail_params.h"
#include "qfile.h"
#include "qmgr.h"
#include "route.h"
#include "service.h"
#include "xalloc.h"

/* The most notice/control clients at once, and their record size. */
#define QMGR_CLIENTS_MAX 64
#define QMGR_CLIENT_RECORD_MAX 4096
#define QMGR_CLIENT_TIMEOUT_MS 10000
#define QMGR_WATCH_MAX (QMGR_CLIENTS_MAX + 4096)
/*
 * Descriptors kept aside from the open-file limit: stdio, the log, the
 * listening and status sockets, a queue scan's nested directories, the
 * second open of qfile_read(), a bounce being written, an accept.
 */
#define QMGR_FD_RESERVE 32

int qmgr_active_count;
long long qmgr_active_limit;
long long qmgr_agent_limit;
static size_t qmgr_clients_max = QMGR_CLIENTS_MAX;

/* How a queue scan picks files. */
enum qmgr_scan_mode {
	QMGR_SCAN_ALL,		/* incoming/, and active/ at start */
	QMGR_SCAN_DUE,		/* deferred/: mtime passed */
	QMGR_SCAN_ORPHANS	/* active/: not held, older than orphan age */
};

struct qmgr_client {
	int fd;
	struct buf *in;
	struct buf *out;
	size_t out_done;
	long long deadline_ms;
};

struct qmgr_watch {
	int fd;
	qmgr_event_fn *fn;
	void *ctx;
};

static struct qmgr_watch watches[QMGR_WATCH_MAX];
static struct pollfd pfds[QMGR_WATCH_MAX];
static size_t watch_count;
static long long next_deadline;
static long long next_archive_run;
static struct qmgr_client clients[QMGR_CLIENTS_MAX];
static struct route *route;
static long long next_incoming_scan;
static long long next_deferred_scan;
static long long next_orphan_scan;
static int master_gone;

long long
qmgr_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct route *
qmgr_route(void)
{
	char *error = NULL;

	if (route == NULL) {
		route = route_open(&error);
		if (route == NULL) {
			log_warn("routing directory: %s", error);
			free(error);
		}
	}
	return route;
}

void
qmgr_watch(int fd, short events, qmgr_event_fn *fn, void *ctx)
{
	if (watch_count == QMGR_WATCH_MAX)
		log_panic("qmgr: too many descriptors to watch");
	watches[watch_count].fd = fd;
	watches[watch_count].fn = fn;
	watches[watch_count].ctx = ctx;
	pfds[watch_count].fd = fd;
	pfds[watch_count].events = events;
	pfds[watch_count].revents = 0;
	watch_count++;
}

void
qmgr_deadline(long long when_ms)
{
	if (next_deadline == 0 || when_ms < next_deadline)
		next_deadline = when_ms;
}

void
qmgr_want_scan(int deferred_too)
{
	next_incoming_scan = qmgr_now_ms();
	if (deferred_too)
		next_deferred_scan = next_incoming_scan;
}

/* Is this file of the scanned queue to be taken now? */
static int
qmgr_scan_wanted(const char *path, const char *id, enum qmgr_scan_mode mode,
	time_t now)
{
	struct stat st;

	if (mode == QMGR_SCAN_ALL)
		return 1;
	/* Most of active/ is held: no stat(2) for those. */
	if (mode == QMGR_SCAN_ORPHANS && qmgr_message_find(id) != NULL)
		return 0;
	if (stat(path, &st) < 0)
		return 0;
	/* Deferred mail waits for its time (the mtime). */
	if (mode == QMGR_SCAN_DUE)
		return st.st_mtime <= now;
	/* rename(2) into active/ set the ctime: how long it sat there. */
	if (st.st_ctime > now - (time_t) var_qmgr_orphan_age)
		return 0;
	log_warn("%s: in %s/ since %lds but not held by qmgr: taken again",
	    id, QFILE_ACTIVE, (long) (now - st.st_ctime));
	return 1;
}

/*
 * Walk a queue directory (hashed levels too), activating the files the
 * mode wants; 0, or -1 when qmgr ran short (full, out of descriptors).
 */
static int
qmgr_scan_dir(const char *dir, int depth, enum qmgr_scan_mode mode,
	time_t now)
{
	struct dirent *de;
	struct stat st;
	char *path;
	DIR *dp;
	int ret = 0;

	dp = opendir(dir);
	if (dp == NULL) {
		if (errno != ENOENT)
			log_warn("scan %s: %m", dir);
		return errno == EMFILE || errno == ENFILE ? -1 : 0;
	}
	while (ret == 0 && (de = readdir(dp)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (qmgr_active_count >= qmgr_active_limit) {
			ret = -1;
			break;
		}
		path = xasprintf("%s/%s", dir, de->d_name);
		if (depth < 2 && strlen(de->d_name) == 1 &&
		    stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
			ret = qmgr_scan_dir(path, depth + 1, mode, now);
		} else if (qfile_id_valid(de->d_name) &&
		    qmgr_scan_wanted(path, de->d_name, mode, now)) {
			ret = qmgr_message_activate(path, de->d_name);
		}
		free(path);
	}
	closedir(dp);
	return ret;
}

void
qmgr_scan_queue(const char *queue, int due_only)
{
	char *dir = xasprintf("%s/%s", var_queue_directory, queue);

	(void) qmgr_scan_dir(dir, 0, due_only ? QMGR_SCAN_DUE : QMGR_SCAN_ALL,
	    time(NULL));
	free(dir);
}

void
qmgr_scan_deferred_at(long long when_ms)
{
	if (next_deferred_scan == 0 || when_ms < next_deferred_scan)
		next_deferred_scan = when_ms;
}

static void
qmgr_scan(void)
{
	long long now = qmgr_now_ms();
	char *dir;
	int full = 0;

	if (next_incoming_scan != 0 && now >= next_incoming_scan) {
		next_incoming_scan = now + var_queue_run_delay * 1000;
		dir = xasprintf("%s/%s", var_queue_directory, QFILE_INCOMING);
		full |= qmgr_scan_dir(dir, 0, QMGR_SCAN_ALL, time(NULL)) < 0;
		free(dir);
	}
	if (next_deferred_scan != 0 && now >= next_deferred_scan) {
		next_deferred_scan = now + var_queue_run_delay * 1000;
		dir = xasprintf("%s/%s", var_queue_directory, QFILE_DEFERRED);
		full |= qmgr_scan_dir(dir, 0, QMGR_SCAN_DUE, time(NULL)) < 0;
		free(dir);
	}
	if (now >= next_orphan_scan) {
		next_orphan_scan = now + var_qmgr_orphan_age * 1000;
		dir = xasprintf("%s/%s", var_queue_directory, QFILE_ACTIVE);
		full |= qmgr_scan_dir(dir, 0, QMGR_SCAN_ORPHANS,
		    time(NULL)) < 0;
		free(dir);
	}
	if (now >= next_archive_run) {
		/* Seal old segments within their age, retention with them. */
		long long every = var_archive_segment_age < 3600 ?
		    var_archive_segment_age : 3600;

		next_archive_run = now + every * 1000;
		qmgr_archive_maintain();
	}
	/* Room again after a full active queue: scan again soon. */
	if (full || qmgr_active_count >= qmgr_active_limit) {
		next_incoming_scan = now + 1000;
		if (next_orphan_scan > now + 1000)
			next_orphan_scan = now + 1000;
	}
	qmgr_deadline(next_incoming_scan);
	qmgr_deadline(next_deferred_scan);
	qmgr_deadline(next_orphan_scan);
	if (*var_archive_directory != '\0')
		qmgr_deadline(next_archive_run);
}

/*
 * Fit the active and agent limits, and the control clients, into the
 * open-file limit: one descriptor per active message, one per agent
 * connection, one per client, plus QMGR_FD_RESERVE and the directory's
 * connection pool.  A limit of 1,024 with the default active limit of
 * 20,000 stranded thousands of messages on EMFILE (issue 12).
 */
static void
qmgr_limits_init(void)
{
	struct rlimit rl;
	long long nofile = 1LL << 30, budget;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		nofile = (long long) rl.rlim_cur;
	budget = nofile - QMGR_FD_RESERVE - var_ldap_pool_size;
	if ((long long) qmgr_clients_max > budget / 8)
		qmgr_clients_max = budget / 8 > 1 ? (size_t) (budget / 8) : 1;
	budget -= (long long) qmgr_clients_max;
	qmgr_agent_limit = var_qmgr_agent_limit;
	if (qmgr_agent_limit > budget / 4)
		qmgr_agent_limit = budget / 4;
	if (qmgr_agent_limit > QMGR_WATCH_MAX - QMGR_CLIENTS_MAX - 4)
		qmgr_agent_limit = QMGR_WATCH_MAX - QMGR_CLIENTS_MAX - 4;
	if (qmgr_agent_limit < 1)
		qmgr_agent_limit = 1;
	qmgr_active_limit = var_qmgr_message_active_limit;
	if (qmgr_active_limit > budget - qmgr_agent_limit)
		qmgr_active_limit = budget - qmgr_agent_limit;
	if (qmgr_active_limit < 1)
		qmgr_active_limit = 1;
	if (qmgr_active_limit < var_qmgr_message_active_limit ||
	    qmgr_agent_limit < var_qmgr_agent_limit)
		log_warn("open file limit %lld: qmgr_message_active_limit "
		    "%lld and qmgr_agent_limit %lld lowered to %lld and %lld; "
		    "raise RLIMIT_NOFILE to use them", nofile,
		    var_qmgr_message_active_limit, var_qmgr_agent_limit,
		    qmgr_active_limit, qmgr_agent_limit);
}

static void
qmgr_client_close(struct qmgr_client *c)
{
	close(c->fd);
	buf_free(&c->in);
	buf_free(&c->out);
	c->fd = -1;
}

/* A whole record arrived: act on it and queue the reply. */
static void
qmgr_client_record(struct qmgr_client *c)
{
	struct attr_list *l = attr_list_new(16, 1024);
	const char *error, *request, *id;

	c->out = buf_new(QMGR_CLIENT_RECORD_MAX * 16);
	if (attr_parse(l, buf_cstr(c->in), buf_len(c->in), &error) < 0 ||
	    (request = attr_get(l, "request")) == NULL) {
		(void) attr_put(c->out, "status", "error");
		(void) attr_put(c->out, "reason", "malformed request");
		(void) attr_end(c->out);
	} else {
		id = attr_get(l, "queue_id");
		qmgr_ctl_request(request, id, c->out);
	}
	attr_list_free(&l);
}

static void
qmgr_client_event(int fd, short revents, void *ctx)
{
	struct qmgr_client *c = ctx;
	char chunk[1024];
	ssize_t n;
	const char *data;
	size_t len;

	(void) fd;
	if (c->out != NULL) {
		n = send(c->fd, buf_cstr(c->out) + c->out_done,
		    buf_len(c->out) - c->out_done, MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			qmgr_client_close(c);
			return;
		}
		if (n > 0)
			c->out_done += (size_t) n;
		if (c->out_done == buf_len(c->out))
			qmgr_client_close(c);
		return;
	}
	if (!(revents & (POLLIN | POLLHUP | POLLERR)))
		return;
	n = recv(c->fd, chunk, sizeof(chunk), 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* A notice without the final empty line still counts. */
		if (n == 0 && buf_len(c->in) > 0 &&
		    buf_cstr(c->in)[buf_len(c->in) - 1] == '\n') {
			(void) buf_append_char(c->in, '\n');
			qmgr_client_record(c);
			return;
		}
		qmgr_client_close(c);
		return;
	}
	if (buf_append(c->in, chunk, (size_t) n) < 0) {
		log_warn("control request too long: dropped");
		qmgr_client_close(c);
		return;
	}
	data = buf_cstr(c->in);
	len = buf_len(c->in);
	if ((len == 1 && data[0] == '\n') ||
	    (len >= 2 && data[len - 1] == '\n' && data[len - 2] == '\n'))
		qmgr_client_record(c);
}

/*
 * Retiring (a reload or stop): a request accepted but not yet answered
 * would die with us.  Tell its sender to ask our successor, which the
 * master starts once we have exited and which takes the connections
 * still waiting on the listening socket.
 */
static void
qmgr_clients_retire(void)
{
	struct qmgr_client *c;
	char chunk[1024];
	size_t i;
	int n;

	for (i = 0; i < QMGR_CLIENTS_MAX; i++) {
		c = &clients[i];
		if (c->fd < 0)
			continue;
		if (c->out == NULL) {
			c->out = buf_new(256);
			qmgr_ctl_reply(c->out, "retry",
			    "qmgr is restarting; ask again");
		}
		/*
		 * Unread input at close() would reset the connection and
		 * lose the answer: read what came (a request is small),
		 * then one non-blocking try, which a small reply fits.
		 */
		for (n = 0; n < 16 && recv(c->fd, chunk, sizeof(chunk),
		    MSG_DONTWAIT) > 0; n++)
			;
		(void) send(c->fd, buf_cstr(c->out) + c->out_done,
		    buf_len(c->out) - c->out_done, MSG_NOSIGNAL | MSG_DONTWAIT);
		qmgr_client_close(c);
	}
}

static void
qmgr_accept(int fd, short revents, void *ctx)
{
	struct qmgr_client *c = NULL;
	int cfd;
	size_t i;

	(void) revents;
	(void) ctx;
	for (;;) {
		cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0)
			return;
		for (i = 0; i < qmgr_clients_max; i++) {
			if (clients[i].fd < 0) {
				c = &clients[i];
				break;
			}
		}
		if (c == NULL) {
			/* Full: smtpd's notice is only a hint; scan soon. */
			close(cfd);
			qmgr_want_scan(0);
			return;
		}
		c->fd = cfd;
		c->in = buf_new(QMGR_CLIENT_RECORD_MAX);
		c->out = NULL;
		c->out_done = 0;
		c->deadline_ms = qmgr_now_ms() + QMGR_CLIENT_TIMEOUT_MS;
		c = NULL;
	}
}

static void
qmgr_master_event(int fd, short revents, void *ctx)
{
	char byte;

	(void) ctx;
	if (revents & (POLLIN | POLLHUP | POLLERR)) {
		if (recv(fd, &byte, 1, MSG_DONTWAIT) <= 0 || (revents & POLLHUP))
			master_gone = 1;
	}
}

static void
qmgr_run(int listen_fd, int status_fd, void *ctx)
{
	long long now;
	size_t i, n;
	int timeout, drain_logged = 0;

	(void) ctx;
	for (i = 0; i < QMGR_CLIENTS_MAX; i++)
		clients[i].fd = -1;
	(void) fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) |
	    O_NONBLOCK);
	qmgr_limits_init();
	log_info("started: active limit %lld, agent limit %lld, run delay "
	    "%llds", qmgr_active_limit, qmgr_agent_limit, var_queue_run_delay);
	qmgr_message_recover();
	qmgr_want_scan(1);
	next_orphan_scan = qmgr_now_ms() + var_qmgr_orphan_age * 1000;
	/*
	 * After the master goes away or retires us (a reload), the
	 * deliveries at agents finish and are recorded: an agent's result
	 * lost here would mean delivering the message again.  The master
	 * starts our successor once we have exited.
	 */
	while (!master_gone || qmgr_transport_active() > 0) {
		watch_count = 0;
		next_deadline = 0;
		if (master_gone && !drain_logged) {
			drain_logged = 1;
			qmgr_clients_retire();
			qmgr_transport_drain();
			log_info("reload or stop: finishing %d deliveries, "
			    "starting no new ones", qmgr_transport_active());
		}
		if (!master_gone) {
			qmgr_scan();
			qmgr_watch(listen_fd, POLLIN, qmgr_accept, NULL);
			qmgr_watch(status_fd, POLLIN, qmgr_master_event, NULL);
		}
		now = qmgr_now_ms();
		for (i = 0; i < QMGR_CLIENTS_MAX && !master_gone; i++) {
			if (clients[i].fd < 0)
				continue;
			if (now >= clients[i].deadline_ms) {
				qmgr_client_close(&clients[i]);
				continue;
			}
			qmgr_watch(clients[i].fd, clients[i].out != NULL ?
			    POLLOUT : POLLIN, qmgr_client_event, &clients[i]);
			qmgr_deadline(clients[i].deadline_ms);
		}
		qmgr_transport_watch();
		timeout = -1;
		if (next_deadline != 0) {
			now = qmgr_now_ms();
			timeout = next_deadline <= now ? 0 :
			    (int) (next_deadline - now);
		}
		if (poll(pfds, watch_count, timeout) < 0) {
			if (errno == EINTR)
				continue;
			log_fatal("poll: %m");
		}
		n = watch_count;
		for (i = 0; i < n; i++) {
			if (pfds[i].revents != 0)
				watches[i].fn(pfds[i].fd, pfds[i].revents,
				    watches[i].ctx);
		}
	}
	log_info("master went away or reloaded: exiting");
}

int
main(int argc, char **argv)
{
	static const struct service_def def = {
		.name = "qmgr",
		.run = qmgr_run,
	};

	service_main(argc, argv, &def, NULL, NULL);
}

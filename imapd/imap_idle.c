/*
 * imap_idle: IDLE (RFC 2177), pushed by inotify.
 *
 * The session watches its folder's new/ and cur/ with inotify (a link
 * by lmtpd, a rename by another session's STORE or a new/ to cur/ move,
 * an unlink by EXPUNGE or popd) and waits on one epoll descriptor that
 * holds both the inotify descriptor and the client's socket, through the
 * stream waiter (stream_wait_fd): the single-session process sleeps in
 * poll(), the multi-session one in its event loop, and either wakes the
 * moment the folder changes.  imap_idle_check_interval stays as a
 * fallback rescan for what inotify does not see (a store on NFS) and for
 * when it cannot be had (fs.inotify.max_user_instances reached).
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "buf.h"
#include "imap.h"
#include "imap_mailbox.h"
#include "log.h"
#include "mail_params.h"
#include "stream.h"
#include "xalloc.h"

/* Events buffered per read of the inotify descriptor, and reads per wake. */
#define IMAP_IDLE_EVENT_BUF 4096
#define IMAP_IDLE_DRAIN_MAX 16

#define IMAP_IDLE_EVENTS (IN_CREATE | IN_DELETE | IN_MOVED_FROM | \
	IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF)

struct imap_idle_watch {
	int inotify_fd;
	int epoll_fd;
	int client_fd;
};

static void
imap_idle_watch_close(struct imap_idle_watch *w)
{
	if (w->epoll_fd >= 0)
		close(w->epoll_fd);
	if (w->inotify_fd >= 0)
		close(w->inotify_fd);
	w->epoll_fd = w->inotify_fd = -1;
}

/* 0: watching; -1: no inotify here (logged), fall back to the interval. */
static int
imap_idle_watch_open(struct imap_session *sess, struct imap_idle_watch *w)
{
	static const char *const subdirs[] = { "new", "cur" };
	struct epoll_event ev;
	char *path;
	size_t i;

	w->epoll_fd = -1;
	w->client_fd = stream_fd(sess->s);
	w->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->inotify_fd < 0)
		goto fail;
	for (i = 0; i < 2; i++) {
		path = xasprintf("%s/%s", sess->box->dir, subdirs[i]);
		if (inotify_add_watch(w->inotify_fd, path,
		    IMAP_IDLE_EVENTS) < 0) {
			free(path);
			goto fail;
		}
		free(path);
	}
	w->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (w->epoll_fd < 0)
		goto fail;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.fd = w->inotify_fd;
	if (epoll_ctl(w->epoll_fd, EPOLL_CTL_ADD, w->inotify_fd, &ev) < 0)
		goto fail;
	ev.data.fd = w->client_fd;
	if (epoll_ctl(w->epoll_fd, EPOLL_CTL_ADD, w->client_fd, &ev) < 0)
		goto fail;
	return 0;
fail:
	log_warn("user=%s idle on %s without inotify: %s", sess->user,
	    sess->box->dir, strerror(errno));
	imap_idle_watch_close(w);
	return -1;
}

/* Read and drop what inotify queued: the rescan looks for itself. */
static void
imap_idle_drain(const struct imap_idle_watch *w)
{
	char events[IMAP_IDLE_EVENT_BUF]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	int i;

	for (i = 0; i < IMAP_IDLE_DRAIN_MAX; i++) {
		if (read(w->inotify_fd, events, sizeof(events)) <= 0)
			break;
	}
}

/*
 * Wait for the client or the folder, up to timeout_ms: 1 the client
 * sent something, 2 the folder changed, 0 timeout, -1 error.
 */
static int
imap_idle_wait(struct imap_session *sess, struct imap_idle_watch *w,
	int timeout_ms)
{
	struct epoll_event evs[2];
	int rc, n, i, folder = 0;

	if (w->epoll_fd < 0)
		return stream_wait_input(sess->s, timeout_ms);
	stream_release_idle(sess->s);
	rc = stream_wait_fd(w->epoll_fd, POLLIN, timeout_ms);
	if (rc <= 0)
		return rc;
	n = epoll_wait(w->epoll_fd, evs, 2, 0);
	if (n < 0)
		return errno == EINTR ? 0 : -1;
	for (i = 0; i < n; i++) {
		if (evs[i].data.fd == w->client_fd)
			return 1;
		folder = 1;
	}
	if (folder)
		imap_idle_drain(w);
	return folder ? 2 : 0;
}

void
imap_cmd_idle(struct imap_session *sess, struct imap_arg *args,
	size_t count)
{
	struct imap_idle_watch w = { -1, -1, -1 };
	int64_t last_input = stream_clock_ms(), left;
	int64_t interval = var_imap_idle_check_interval * 1000;
	int rc;

	(void) args;
	if (count != 0) {
		imap_tagged(sess, "BAD", "No arguments allowed");
		return;
	}
	if (sess->box != NULL)
		(void) imap_idle_watch_open(sess, &w);
	imap_printf(sess, "+ idling\r\n");
	for (;;) {
		if (imap_sync(sess) < 0 || stream_flush(sess->s) != STREAM_OK)
			goto out;
		/*
		 * XXX: bytes TLS has decrypted but the stream has not taken
		 * yet are not seen by poll(); a client sends DONE as one
		 * record, which the stream reads whole.
		 */
		if (stream_pending(sess->s) > 0)
			break;
		left = var_imap_timeout * 1000 - (stream_clock_ms() -
		    last_input);
		if (left <= 0) {
			imap_printf(sess, "* BYE IDLE for too long\r\n");
			sess->state = IMAP_STATE_LOGOUT;
			goto out;
		}
		/* The mailbox state too (imap_state_check). */
		rc = imap_idle_wait(sess, &w, mailbox_state_wait_cap((int)
		    (left < interval ? left : interval)));
		if (imap_state_check(sess, 0) < 0)
			goto out;
		if (rc < 0 && errno != EINTR)
			break;
		if (rc == 1)
			break;
	}
	imap_idle_watch_close(&w);
	if (stream_read_line(sess->s, sess->line,
	    (size_t) var_imap_command_size_limit) != STREAM_OK) {
		sess->state = IMAP_STATE_LOGOUT;
		return;
	}
	if (strcasecmp(buf_cstr(sess->line), "DONE") != 0) {
		imap_tagged(sess, "BAD", "Expected DONE");
		return;
	}
	imap_tagged(sess, "OK", "Idle completed");
	return;
out:
	imap_idle_watch_close(&w);
}

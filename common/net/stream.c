/* stream: buffered, deadline-bound I/O over a non-blocking descriptor. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "stream.h"
#include "xalloc.h"

/*
 * Both buffers have a fixed size: a long line is moved into the caller's
 * buf (or discarded) piece by piece, so a 10 MB line never grows the
 * stream, and output larger than the buffer goes straight to the peer.
 */
#define STREAM_IN_SIZE	(16 * 1024)
#define STREAM_OUT_SIZE	(16 * 1024)

/* A deadline that never passes (negative timeout: tests only). */
#define STREAM_NO_DEADLINE INT64_MAX

struct stream {
	int fd;
	int read_timeout_ms;
	int write_timeout_ms;
	int stress_timeout_ms;	/* -1: none (stream_set_stress_timeout) */
	sig_atomic_t deadline_stress;	/* stress changes the deadline saw */
	const struct stream_transport *transport;
	void *transport_ctx;
	int not_socket;		/* send() said ENOTSOCK: use write() */
	int wrote;		/* sent since the last read: wait first */
	int release_idle;	/* stream_set_release_idle */

	/*
	 * 16 KiB each once used; NULL before that and while released
	 * (stream_set_release_idle).
	 */
	char *in;		/* unread input is in[in_start..in_end) */
	size_t in_start;
	size_t in_end;
	char *out;		/* queued output is out[0..out_len) */
	size_t out_len;

	/*
	 * Sticky failures, one per direction: a read timeout or EOF must not
	 * stop the "421 timeout" reply, but after a failed write the session
	 * can say nothing more, so reads fail too.
	 */
	enum stream_status read_status;
	enum stream_status write_status;
	enum stream_status last_status;	/* the most recent failure */
	int last_errno;			/* its errno for STREAM_ERROR */
	enum stream_eol last_eol;
};

/* The process-wide waiter (stream_set_waiter); NULL: poll(). */
static stream_waiter *stream_current_waiter;

/*
 * Stress mode (stream_set_stress), set from a signal handler: the flag,
 * and a count of changes so a wait interrupted by the signal knows its
 * deadline must be worked out again.
 */
static volatile sig_atomic_t stream_stress_on;
static volatile sig_atomic_t stream_stress_changes;

static ssize_t stream_fd_read(void *ctx, void *data, size_t len,
	int *want_write_r);
static ssize_t stream_fd_write(void *ctx, const void *data, size_t len,
	int *want_read_r);

static const struct stream_transport stream_fd_transport = {
	stream_fd_read,
	stream_fd_write,
	NULL,
};

static ssize_t
stream_fd_read(void *ctx, void *data, size_t len, int *want_write_r)
{
	struct stream *s = ctx;

	*want_write_r = 0;
	return read(s->fd, data, len);
}

/*
 * send(MSG_NOSIGNAL) turns a closed peer into EPIPE instead of SIGPIPE;
 * pipes are not sockets and fall back to write(), which relies on the
 * service skeleton ignoring SIGPIPE.
 */
static ssize_t
stream_fd_write(void *ctx, const void *data, size_t len, int *want_read_r)
{
	struct stream *s = ctx;
	ssize_t n;

	*want_read_r = 0;
	if (!s->not_socket) {
		n = send(s->fd, data, len, MSG_NOSIGNAL);
		if (n >= 0 || errno != ENOTSOCK)
			return n;
		s->not_socket = 1;
	}
	return write(s->fd, data, len);
}

static int64_t
stream_now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		log_panic("stream: clock_gettime(CLOCK_MONOTONIC): %m");
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The deadline of a call that starts now and may take timeout_ms. */
static int64_t
stream_deadline(int timeout_ms)
{
	if (timeout_ms < 0)
		return STREAM_NO_DEADLINE;
	return stream_now_ms() + timeout_ms;
}

/*
 * The deadline of a read or write call on s that started at start_ms and
 * may take timeout_ms, or the stress timeout while the process is under
 * stress, whichever is shorter.  Worked out at every wait, so a call that
 * started before stress began ends at the shorter deadline.
 */
static int64_t
stream_call_deadline(struct stream *s, int64_t start_ms, int timeout_ms)
{
	s->deadline_stress = stream_stress_changes;
	if (stream_stress_on && s->stress_timeout_ms >= 0 &&
	    (timeout_ms < 0 || s->stress_timeout_ms < timeout_ms))
		timeout_ms = s->stress_timeout_ms;
	if (timeout_ms < 0)
		return STREAM_NO_DEADLINE;
	return start_ms + timeout_ms;
}

static enum stream_status
stream_fail(struct stream *s, enum stream_status *side,
	enum stream_status status, int err)
{
	*side = status;
	s->last_status = status;
	s->last_errno = err;
	return status;
}

/* Sticky status for a read call: the read side, else a write failure. */
static enum stream_status
stream_read_blocked(const struct stream *s)
{
	if (s->read_status != STREAM_OK)
		return s->read_status;
	return s->write_status;
}

/*
 * Wait until events are possible on the fd or the deadline passes.
 * STREAM_OK, STREAM_TIMEOUT, or STREAM_ERROR with the errno in *err_r.
 */
static enum stream_status
stream_wait_on(int fd, struct stream *s, short events, int64_t deadline,
	int *err_r)
{
	struct pollfd pfd;
	enum stream_status status;
	int64_t left;
	int timeout;
	int n;

	if (stream_current_waiter != NULL) {
		status = stream_current_waiter(fd, events, deadline);
		if (status == STREAM_ERROR)
			*err_r = errno;
		return status;
	}
	for (;;) {
		/*
		 * Stress changed since the deadline was worked out: the caller
		 * works it out again (a spurious wakeup costs one EAGAIN).
		 * XXX: a signal between this test and poll() is seen only at
		 * the next wakeup; closing that needs ppoll() and blocked
		 * signals, which imap_multi.c's loop has.
		 */
		if (s != NULL && s->deadline_stress != stream_stress_changes)
			return STREAM_OK;
		if (deadline == STREAM_NO_DEADLINE) {
			timeout = -1;
		} else {
			left = deadline - stream_now_ms();
			if (left <= 0)
				return STREAM_TIMEOUT;
			timeout = left > INT_MAX ? INT_MAX : (int) left;
		}
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		n = poll(&pfd, 1, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			*err_r = errno;
			return STREAM_ERROR;
		}
		/* On n == 0 the top of the loop decides about the deadline. */
		if (n == 0)
			continue;
		if (pfd.revents & POLLNVAL) {
			*err_r = EBADF;
			return STREAM_ERROR;
		}
		/* POLLHUP/POLLERR: the next read or write reports it. */
		return STREAM_OK;
	}
}

static enum stream_status
stream_wait(struct stream *s, short events, int64_t deadline, int *err_r)
{
	return stream_wait_on(s != NULL ? s->fd : -1, s, events, deadline,
	    err_r);
}

/* Waiting for input with nothing buffered: give the buffers back. */
void
stream_release_idle(struct stream *s)
{
	if (!s->release_idle || s->in_end > s->in_start || s->out_len > 0)
		return;
	free(s->in);
	free(s->out);
	s->in = NULL;
	s->out = NULL;
	s->in_start = 0;
	s->in_end = 0;
}

/*
 * Read at least one more byte into the input buffer before the deadline.
 * Failures become the sticky read status.
 */
static enum stream_status
stream_fill(struct stream *s, int64_t start_ms)
{
	enum stream_status status;
	int want_write;
	int err = 0;
	ssize_t n;

	if (s->in_start > 0) {
		memmove(s->in, s->in + s->in_start, s->in_end - s->in_start);
		s->in_end -= s->in_start;
		s->in_start = 0;
	}
	if (s->in_end == STREAM_IN_SIZE)
		log_panic("stream_fill: input buffer full");
	/*
	 * Right after a write the peer's answer is seldom here yet: wait
	 * first, which saves the read that would fail with EAGAIN (one
	 * per command and reply).  Only on a plain descriptor: a TLS
	 * transport may hold input it has already decrypted.
	 */
	if (s->wrote && s->transport == &stream_fd_transport) {
		s->wrote = 0;
		stream_release_idle(s);
		status = stream_wait(s, POLLIN,
		    stream_call_deadline(s, start_ms, s->read_timeout_ms),
		    &err);
		/* A timeout: the read below still takes what is there. */
		if (status == STREAM_ERROR)
			return stream_fail(s, &s->read_status, status, err);
	}
	for (;;) {
		if (s->in == NULL)
			s->in = xmalloc(STREAM_IN_SIZE);
		want_write = 0;
		n = s->transport->read(s->transport_ctx, s->in + s->in_end,
		    STREAM_IN_SIZE - s->in_end, &want_write);
		if (n > 0) {
			s->in_end += (size_t) n;
			return STREAM_OK;
		}
		if (n == 0)
			return stream_fail(s, &s->read_status, STREAM_EOF, 0);
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return stream_fail(s, &s->read_status, STREAM_ERROR,
			    errno);
		if (!want_write)
			stream_release_idle(s);
		status = stream_wait(s, want_write ? POLLOUT : POLLIN,
		    stream_call_deadline(s, start_ms, s->read_timeout_ms),
		    &err);
		if (status != STREAM_OK)
			return stream_fail(s, &s->read_status, status, err);
	}
}

/* Write all of data before the deadline; failures are sticky. */
static enum stream_status
stream_write_all(struct stream *s, const char *data, size_t len,
	int64_t start_ms)
{
	enum stream_status status;
	int want_read;
	int err = 0;
	ssize_t n;

	while (len > 0) {
		want_read = 0;
		n = s->transport->write(s->transport_ctx, data, len,
		    &want_read);
		if (n > 0) {
			if ((size_t) n > len)
				log_panic("stream: transport wrote %zd of %zu",
				    n, len);
			data += n;
			len -= (size_t) n;
			s->wrote = 1;
			continue;
		}
		/* write(2) never returns 0 for len > 0; a transport may. */
		if (n == 0)
			return stream_fail(s, &s->write_status, STREAM_ERROR,
			    EPIPE);
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return stream_fail(s, &s->write_status, STREAM_ERROR,
			    errno);
		status = stream_wait(s, want_read ? POLLIN : POLLOUT,
		    stream_call_deadline(s, start_ms, s->write_timeout_ms),
		    &err);
		if (status != STREAM_OK)
			return stream_fail(s, &s->write_status, status, err);
	}
	return STREAM_OK;
}

struct stream *
stream_new(int fd, int read_timeout_ms, int write_timeout_ms)
{
	struct stream *s;
	int on = 1;

	/* A bad descriptor here is the caller's bug, not the peer's. */
	if (fd < 0)
		log_panic("stream_new: bad fd %d", fd);
	/* O_NONBLOCK in one call, the other flags untouched (ioctl(2)). */
	if (ioctl(fd, FIONBIO, &on) < 0)
		log_panic("stream_new: ioctl(fd %d, FIONBIO): %m", fd);

	s = xcalloc(1, sizeof(*s));
	s->fd = fd;
	s->read_timeout_ms = read_timeout_ms;
	s->write_timeout_ms = write_timeout_ms;
	s->stress_timeout_ms = -1;
	s->deadline_stress = stream_stress_changes;
	s->transport = &stream_fd_transport;
	s->transport_ctx = s;
	/* The buffers come with the first read and write. */
	s->read_status = STREAM_OK;
	s->write_status = STREAM_OK;
	s->last_status = STREAM_OK;
	s->last_eol = STREAM_EOL_CRLF;
	return s;
}

/* Queued output that was never flushed is dropped: flushing could block. */
void
stream_free(struct stream **sp)
{
	struct stream *s = *sp;

	if (s == NULL)
		return;
	free(s->in);
	free(s->out);
	free(s);
	*sp = NULL;
}

void
stream_set_timeouts(struct stream *s, int read_timeout_ms,
	int write_timeout_ms)
{
	s->read_timeout_ms = read_timeout_ms;
	s->write_timeout_ms = write_timeout_ms;
}

void
stream_set_stress_timeout(struct stream *s, int timeout_ms)
{
	s->stress_timeout_ms = timeout_ms;
}

void
stream_set_release_idle(struct stream *s, int on)
{
	s->release_idle = on;
}

void
stream_set_stress(int on)
{
	on = on != 0;
	if (stream_stress_on == on)
		return;
	stream_stress_on = on;
	stream_stress_changes++;
}

int
stream_stress(void)
{
	return stream_stress_on;
}

int
stream_stress_generation(void)
{
	return (int) stream_stress_changes;
}

void
stream_set_transport(struct stream *s,
	const struct stream_transport *transport, void *ctx)
{
	if (transport == NULL) {
		s->transport = &stream_fd_transport;
		s->transport_ctx = s;
	} else {
		s->transport = transport;
		s->transport_ctx = ctx;
	}
}

void
stream_get_transport(const struct stream *s,
	const struct stream_transport **transport_r, void **ctx_r)
{
	*transport_r = s->transport;
	*ctx_r = s->transport_ctx;
}

int
stream_fd(const struct stream *s)
{
	return s->fd;
}

/*
 * Input is moved into line as it arrives, so only a CR at the very end of
 * the buffered input is held back (it may start the "\r\n").  That keeps
 * the input buffer fixed and lets a line of exactly max bytes (and a buf
 * whose cap is max) end in "\r\n".  Once the line is known to be too long
 * we stop copying and only look for its "\n".
 */
enum stream_status
stream_read_line(struct stream *s, struct buf *line, size_t max)
{
	enum stream_status status;
	int64_t start_ms;
	size_t limit, seg, avail;
	const char *p, *nl;
	int too_long = 0;

	buf_reset(line);
	status = stream_read_blocked(s);
	if (status != STREAM_OK)
		return status;
	limit = max < buf_cap(line) ? max : buf_cap(line);
	start_ms = stream_now_ms();
	for (;;) {
		avail = s->in_end - s->in_start;
		/* Released buffers (stream_set_release_idle) hold nothing. */
		p = avail > 0 ? s->in + s->in_start : "";
		nl = avail > 0 ? memchr(p, '\n', avail) : NULL;
		seg = nl != NULL ? (size_t) (nl - p) : avail;
		if (seg > 0 && p[seg - 1] == '\r')
			seg--;
		if (!too_long && seg > limit - buf_len(line)) {
			too_long = 1;
			buf_reset(line);
		}
		if (!too_long && buf_append(line, p, seg) < 0)
			log_panic("stream_read_line: append within limit");
		if (nl != NULL) {
			s->last_eol = (size_t) (nl - p) > seg ?
			    STREAM_EOL_CRLF : STREAM_EOL_LF;
			s->in_start += (size_t) (nl - p) + 1;
			return too_long ? STREAM_TOO_LONG : STREAM_OK;
		}
		s->in_start += seg;
		status = stream_fill(s, start_ms);
		if (status != STREAM_OK)
			return status;
	}
}

enum stream_eol
stream_last_eol(const struct stream *s)
{
	return s->last_eol;
}

enum stream_status
stream_read_exact(struct stream *s, struct buf *out, size_t len)
{
	enum stream_status status;
	int64_t start_ms;
	size_t avail, take;

	status = stream_read_blocked(s);
	if (status != STREAM_OK)
		return status;
	/* Written so that a huge len cannot overflow the sum. */
	if (len > buf_cap(out) - buf_len(out))
		return STREAM_TOO_LONG;
	start_ms = stream_now_ms();
	for (;;) {
		avail = s->in_end - s->in_start;
		take = avail < len ? avail : len;
		if (take > 0) {
			if (buf_append(out, s->in + s->in_start, take) < 0)
				log_panic("stream_read_exact: append "
				    "within cap");
			s->in_start += take;
			len -= take;
		}
		if (len == 0)
			return STREAM_OK;
		status = stream_fill(s, start_ms);
		if (status != STREAM_OK)
			return status;
	}
}

size_t
stream_pending(const struct stream *s)
{
	size_t n = s->in_end - s->in_start;

	if (s->transport->pending != NULL)
		n += s->transport->pending(s->transport_ctx);
	return n;
}

int
stream_pending_is(const struct stream *s, const char *line)
{
	size_t len = strlen(line);

	return stream_pending(s) == len && s->in_end - s->in_start == len &&
	    strncasecmp(s->in + s->in_start, line, len) == 0;
}

void
stream_purge_input(struct stream *s)
{
	s->in_start = 0;
	s->in_end = 0;
}

enum stream_status
stream_write(struct stream *s, const void *data, size_t len)
{
	enum stream_status status;
	int64_t start_ms;

	if (s->write_status != STREAM_OK)
		return s->write_status;
	if (s->out == NULL)
		s->out = xmalloc(STREAM_OUT_SIZE);
	if (len <= STREAM_OUT_SIZE - s->out_len) {
		memcpy(s->out + s->out_len, data, len);
		s->out_len += len;
		return STREAM_OK;
	}
	start_ms = stream_now_ms();
	status = stream_write_all(s, s->out, s->out_len, start_ms);
	s->out_len = 0;
	if (status != STREAM_OK)
		return status;
	/* Copying something this large would only cost time. */
	if (len >= STREAM_OUT_SIZE)
		return stream_write_all(s, data, len, start_ms);
	memcpy(s->out, data, len);
	s->out_len = len;
	return STREAM_OK;
}

enum stream_status
stream_puts(struct stream *s, const char *text)
{
	return stream_write(s, text, strlen(text));
}

enum stream_status
stream_printf(struct stream *s, const char *fmt, ...)
{
	enum stream_status status;
	va_list ap, ap2;
	char *text;
	int len;

	if (s->write_status != STREAM_OK)
		return s->write_status;
	va_start(ap, fmt);
	va_copy(ap2, ap);
	len = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (len < 0) {
		va_end(ap2);
		return stream_fail(s, &s->write_status, STREAM_ERROR, errno);
	}
	text = xmalloc(xalloc_add((size_t) len, 1));
	if (vsnprintf(text, (size_t) len + 1, fmt, ap2) != len)
		log_panic("stream_printf: vsnprintf changed its mind");
	va_end(ap2);
	status = stream_write(s, text, (size_t) len);
	free(text);
	return status;
}

enum stream_status
stream_flush(struct stream *s)
{
	enum stream_status status;

	if (s->write_status != STREAM_OK)
		return s->write_status;
	if (s->out_len == 0)
		return STREAM_OK;
	status = stream_write_all(s, s->out, s->out_len, stream_now_ms());
	s->out_len = 0;
	return status;
}

void
stream_set_waiter(stream_waiter *waiter)
{
	stream_current_waiter = waiter;
}

/* A wait's status as 1 ready, 0 timeout, -1 error (errno set). */
static int
stream_wait_result(enum stream_status status, int err)
{
	if (status == STREAM_OK)
		return 1;
	if (status == STREAM_TIMEOUT)
		return 0;
	errno = err;
	return -1;
}

int
stream_wait_input(struct stream *s, int timeout_ms)
{
	int err = 0;

	/* Input the transport holds never makes the descriptor readable. */
	if (stream_pending(s) > 0)
		return 1;
	/* A change of stress ends the wait early: the read that follows
	 * has the stress deadline. */
	s->deadline_stress = stream_stress_changes;
	stream_release_idle(s);
	return stream_wait_result(stream_wait(s, POLLIN,
	    stream_deadline(timeout_ms), &err), err);
}

int
stream_wait_fd(int fd, short events, int timeout_ms)
{
	int err = 0;

	return stream_wait_result(stream_wait_on(fd, NULL, events,
	    stream_deadline(timeout_ms), &err), err);
}

void
stream_pause(int timeout_ms)
{
	int err = 0;

	/* Without a descriptor only the deadline ends the wait. */
	(void) stream_wait(NULL, 0, stream_deadline(timeout_ms), &err);
}

enum stream_status
stream_wait_ready(struct stream *s, short events, int64_t deadline_ms)
{
	enum stream_status status;
	int err = 0;

	status = stream_wait(s, events, deadline_ms, &err);
	if (status == STREAM_ERROR)
		errno = err;
	return status;
}

int64_t
stream_clock_ms(void)
{
	return stream_now_ms();
}

enum stream_status
stream_status(const struct stream *s)
{
	return s->last_status;
}

int
stream_errno(const struct stream *s)
{
	return s->last_status == STREAM_ERROR ? s->last_errno : 0;
}

const char *
stream_error(const struct stream *s)
{
	if (s->last_status == STREAM_ERROR && s->last_errno != 0)
		return strerror(s->last_errno);
	return stream_status_text(s->last_status);
}

const char *
stream_status_text(enum stream_status status)
{
	switch (status) {
	case STREAM_OK:
		return "ok";
	case STREAM_TOO_LONG:
		return "too long";
	case STREAM_EOF:
		return "connection closed";
	case STREAM_TIMEOUT:
		return "timeout";
	case STREAM_ERROR:
		return "I/O error";
	}
	return "unknown status";
}

enum stream_status
stream_vreply(struct stream *s, const char *fmt, va_list ap)
{
	struct buf *b = buf_new(64 * 1024);
	enum stream_status st;

	/* Replies are ours and short; one that does not fit is our bug. */
	if (buf_vprintf(b, fmt, ap) < 0)
		log_panic("reply too long: %s", fmt);
	log_debug("> %s", buf_cstr(b));
	(void) buf_append(b, "\r\n", 2);
	st = stream_write(s, buf_cstr(b), buf_len(b));
	buf_free(&b);
	return st;
}

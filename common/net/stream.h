/*
 * stream: buffered, deadline-bound I/O over a socket or pipe.
 *
 * A stream wraps a file descriptor it does not own (stream_free() does not
 * close it; the caller or the service skeleton does).  Reads are buffered;
 * writes are buffered until stream_flush() or until the buffer fills.
 * Every call that waits has a deadline: a read call must complete within
 * the read timeout and a write within the write timeout, counted from the
 * start of the call (so a client sending a byte a second cannot hold a
 * line open forever).  Lines are read with an explicit maximum that the
 * caller passes from a named parameter.
 *
 * Errors are sticky: after STREAM_TIMEOUT, STREAM_ERROR or STREAM_EOF every
 * later read returns the same.  A failed read does not stop writes (the
 * "421 timeout" reply must still go out); a failed write stops both
 * directions.  stream_status()/stream_error() tell the latest failure.
 * A timeout of 0 means "do not wait at all"; a negative timeout means
 * "wait forever" (for tests only).  The transport is a small table of
 * read/write functions so a TLS layer can be pushed underneath later
 * without changing callers (stream_set_transport()).
 */
#ifndef ISPMAIL_STREAM_H
#define ISPMAIL_STREAM_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct buf;
struct stream;

enum stream_status {
	STREAM_OK = 0,
	STREAM_TOO_LONG,	/* line longer than the maximum; rest skipped */
	STREAM_EOF,		/* peer closed (before a complete line) */
	STREAM_TIMEOUT,		/* deadline passed */
	STREAM_ERROR,		/* I/O error; errno text in stream_error() */
};

/* How the last line read was terminated. */
enum stream_eol {
	STREAM_EOL_CRLF,	/* "\r\n" */
	STREAM_EOL_LF,		/* bare "\n" */
};

/*
 * A transport: what the stream calls to move bytes.  read/write behave
 * like read(2)/write(2) on a non-blocking descriptor and return -1 with
 * errno EAGAIN when they would block; want_write_r says the transport
 * must wait for writability even to read (TLS renegotiation).
 */
struct stream_transport {
	ssize_t (*read)(void *ctx, void *data, size_t len, int *want_write_r);
	ssize_t (*write)(void *ctx, const void *data, size_t len,
		int *want_read_r);
	/*
	 * Input the transport already holds, readable without waiting for
	 * the descriptor (TLS records decrypted but not yet taken); NULL
	 * means none ever.
	 */
	size_t (*pending)(void *ctx);
};

/* A stream over fd (made non-blocking).  Timeouts in milliseconds. */
struct stream *stream_new(int fd, int read_timeout_ms, int write_timeout_ms);
/*
 * Free the stream (does not close the fd; output not yet flushed is
 * dropped); NULL allowed; NULLs *sp.
 */
void stream_free(struct stream **sp);
void stream_set_timeouts(struct stream *s, int read_timeout_ms,
	int write_timeout_ms);
/*
 * The timeout (both directions) while the process is under stress, when
 * shorter than the ordinary ones; -1 (the default): none.
 */
void stream_set_stress_timeout(struct stream *s, int timeout_ms);
/*
 * With on, the stream frees its input and output buffers (16 KiB each)
 * whenever it waits for input with nothing buffered either way, and
 * allocates them again when bytes come or go: a process holding many
 * idle connections (imap_client_limit) keeps no buffers for them.
 * Off (the default): the buffers live as long as the stream.
 */
void stream_set_release_idle(struct stream *s, int on);
/*
 * The same now, for a caller about to wait for input some other way (an
 * IDLE's wait on its epoll descriptor): nothing happens unless on and
 * nothing is buffered.
 */
void stream_release_idle(struct stream *s);
/*
 * Stress mode for every stream of the process (the master says its
 * service is at its process limit: service.h).  Async-signal-safe: a
 * signal handler calls it, and a read or write already waiting wakes up
 * (EINTR) and ends at the stress deadline counted from its start.
 */
void stream_set_stress(int on);
/* 1 while under stress. */
int stream_stress(void);
/* A number that changes whenever stress goes on or off (waiters). */
int stream_stress_generation(void);
/* Replace the byte mover (NULL restores plain read/write on the fd). */
void stream_set_transport(struct stream *s,
	const struct stream_transport *transport, void *ctx);
int stream_fd(const struct stream *s);
/* The transport s uses now (the descriptor's own when none was set), to
 * push a layer on top of it (deflate.h). */
void stream_get_transport(const struct stream *s,
	const struct stream_transport **transport_r, void **ctx_r);

/*
 * Read one line into line (replacing its contents), without its "\r\n" or
 * "\n".  At most max bytes of line content are accepted: a longer line is
 * read to its end and discarded, line holds nothing, and the result is
 * STREAM_TOO_LONG, so the session stays in step.  A final line without
 * "\n" before EOF is STREAM_EOF.  A line that does not fit line's own cap
 * is also STREAM_TOO_LONG.  On EOF, timeout or error line keeps the
 * partial content accepted so far (for logging only).
 */
enum stream_status stream_read_line(struct stream *s, struct buf *line,
	size_t max);
/* How the last line returned by stream_read_line() ended. */
enum stream_eol stream_last_eol(const struct stream *s);
/*
 * Read exactly len bytes, appended to out (for literals and BDAT chunks).
 * STREAM_TOO_LONG when out's cap would be passed (nothing is appended).
 */
enum stream_status stream_read_exact(struct stream *s, struct buf *out,
	size_t len);
/*
 * Bytes already buffered and not yet returned, the transport's included
 * (pipelining checks; a wait for the descriptor would not see them).
 */
size_t stream_pending(const struct stream *s);
/*
 * 1 when the buffered input is exactly line (ASCII case ignored, the
 * transport's buffer must be empty): a client's pipelined last command,
 * such as "QUIT\r\n", whose answer may go out with the one before it.
 */
int stream_pending_is(const struct stream *s, const char *line);
/* Discard everything buffered for reading (after STARTTLS, RFC 3207). */
void stream_purge_input(struct stream *s);

/* Queue bytes for writing; flushes when the buffer fills. */
enum stream_status stream_write(struct stream *s, const void *data,
	size_t len);
enum stream_status stream_puts(struct stream *s, const char *text);
enum stream_status stream_printf(struct stream *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/*
 * Queue one protocol reply line: formatted, logged at debug level as
 * "> line", and ended with CRLF (the reply helpers of every daemon).
 */
enum stream_status stream_vreply(struct stream *s, const char *fmt,
	va_list ap) __attribute__((format(printf, 2, 0)));
/* Write out everything queued, within the write deadline. */
enum stream_status stream_flush(struct stream *s);

/*
 * How every stream of the process waits for its descriptor.  By default
 * poll(); a process serving several sessions at once (imapd with
 * imap_client_limit above 1) installs a waiter that runs other sessions
 * until fd has one of events (POLLIN, POLLOUT) or deadline_ms passes
 * (CLOCK_MONOTONIC milliseconds; INT64_MAX: none).  fd -1 means just
 * wait for the deadline.  The waiter returns STREAM_OK, STREAM_TIMEOUT,
 * or STREAM_ERROR with errno set.  NULL restores poll().
 */
typedef enum stream_status stream_waiter(int fd, short events,
	int64_t deadline_ms);
void stream_set_waiter(stream_waiter *waiter);
/*
 * Wait up to timeout_ms for input on s without reading it (IDLE): 1 when
 * input is buffered or the descriptor is readable, 0 on timeout, -1 on
 * error.  Goes through the waiter, as does stream_pause().
 */
int stream_wait_input(struct stream *s, int timeout_ms);
/*
 * Wait up to timeout_ms for events on a descriptor of the caller's (an
 * epoll or inotify descriptor: IDLE), through the waiter as the stream's
 * own waits go: 1 ready, 0 timeout, -1 error (errno).
 */
int stream_wait_fd(int fd, short events, int timeout_ms);
/* Let timeout_ms pass (a failed login's delay). */
void stream_pause(int timeout_ms);
/*
 * Wait, through the waiter, until s's descriptor has one of events or
 * the CLOCK_MONOTONIC deadline_ms passes, for a protocol step that runs
 * beside the stream (a TLS handshake): STREAM_OK, STREAM_TIMEOUT, or
 * STREAM_ERROR with errno set.  The sticky status is not touched.
 */
enum stream_status stream_wait_ready(struct stream *s, short events,
	int64_t deadline_ms);
/* Now on the clock of deadlines (CLOCK_MONOTONIC, milliseconds). */
int64_t stream_clock_ms(void);

/* The sticky status (STREAM_OK while healthy). */
enum stream_status stream_status(const struct stream *s);
/* A short text for the last error ("timeout", "Connection reset..."). */
const char *stream_error(const struct stream *s);
/* The errno of a STREAM_ERROR (0 for other statuses). */
int stream_errno(const struct stream *s);
/* A text for a status value. */
const char *stream_status_text(enum stream_status status);

#endif

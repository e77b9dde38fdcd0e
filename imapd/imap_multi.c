/* imap_multi: several sessions in one imapd process (see imap_multi.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "connect.h"
#include "imap_multi.h"
#include "log.h"
#include "mail_params.h"
#include "master_proto.h"
#include "route.h"
#include "service.h"
#include "stream.h"
#include "xalloc.h"

/*
 * AddressSanitizer must be told about every stack switch, or it takes
 * the session stacks for stack overflows and misreports their frames.
 */
#if defined(__SANITIZE_ADDRESS__)
#define MULTI_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MULTI_ASAN 1
#endif
#endif
#ifdef MULTI_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

/*
 * A session's stack: address space only, pages are real once touched.
 * The deepest users are the MIME parser (MIME_MAX_DEPTH levels), the
 * Maildir copy buffer (64 KiB) and TLS; 512 KiB leaves ample room, and
 * a guard page below turns an overflow into a crash, not corruption.
 */
#define MULTI_STACK_SIZE	(512 * 1024)

struct multi_session {
	ucontext_t context;
	char *map;			/* guard page + stack */
	size_t map_size;
	int fd;
	struct service_peer peer;
	/* What the session waits for (stream waiter). */
	int wait_fd;
	short wait_events;
	int64_t wait_deadline;
	enum stream_status wait_result;
	int wait_errno;
	int done;
	int woken;			/* imap_multi_wake: end the wait */
	int trim;			/* trim the stack once it switched */
	void *asan_fake_stack;
	char *log_ctx;			/* its log context while it waits */
};

static imap_multi_handler *multi_handle;
static void *multi_handle_ctx;
static struct multi_session **multi_sessions;
static size_t multi_count;
static struct multi_session *multi_current;
static ucontext_t multi_loop_context;
static size_t multi_page_size;
#ifdef MULTI_ASAN
static const void *multi_loop_stack_bottom;
static size_t multi_loop_stack_size;
#endif

static int64_t
multi_now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		log_panic("imap_multi: clock_gettime: %m");
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void multi_trim_stack(struct multi_session *ms);

/*
 * A session's log context (log.h) is its own: the loop sets it when it
 * resumes the session and keeps it, cleared, when the session waits, so
 * no session logs with another's (a login's lookups set one).
 */
static void
multi_keep_log_context(struct multi_session *ms)
{
	const char *ctx = log_context();

	if (ctx == NULL || ms->log_ctx == NULL ||
	    strcmp(ctx, ms->log_ctx) != 0) {
		free(ms->log_ctx);
		ms->log_ctx = ctx != NULL ? xstrdup(ctx) : NULL;
	}
	log_set_context(NULL);
}

/* From the loop into session ms, until it waits or ends. */
static void
multi_resume(struct multi_session *ms)
{
#ifdef MULTI_ASAN
	void *fake = NULL;

	__sanitizer_start_switch_fiber(&fake, ms->map + multi_page_size,
	    ms->map_size - multi_page_size);
#endif
	multi_current = ms;
	ms->woken = 0;
	log_set_context(ms->log_ctx);
	if (swapcontext(&multi_loop_context, &ms->context) < 0)
		log_panic("imap_multi: swapcontext: %m");
	multi_current = NULL;
	multi_keep_log_context(ms);
#ifdef MULTI_ASAN
	__sanitizer_finish_switch_fiber(fake, NULL, NULL);
#endif
	/* Waiting for input, perhaps for hours: its stack shrinks. */
	if (ms->trim && !ms->done) {
		ms->trim = 0;
		multi_trim_stack(ms);
	}
}

/* From the current session back to the loop. */
static void
multi_yield(struct multi_session *ms)
{
#ifdef MULTI_ASAN
	/* A NULL save slot tells ASan this stack is done for good. */
	__sanitizer_start_switch_fiber(ms->done ? NULL : &ms->asan_fake_stack,
	    multi_loop_stack_bottom, multi_loop_stack_size);
#endif
	if (swapcontext(&ms->context, &multi_loop_context) < 0)
		log_panic("imap_multi: swapcontext: %m");
#ifdef MULTI_ASAN
	__sanitizer_finish_switch_fiber(ms->asan_fake_stack,
	    &multi_loop_stack_bottom, &multi_loop_stack_size);
#endif
}

/*
 * Give back the stack pages below the deepest frame still live: a
 * session that once ran a deep command (a login's hashing, a MIME
 * parse) then idles for hours should not keep those pages.
 *
 * Where the saved context says where the session's stack pointer is
 * (x86-64, AArch64), the loop trims after the session switched away:
 * everything below the page that holds the stack pointer (less the
 * red zone the ABI lets a leaf use) goes, so a session waiting for its
 * next command keeps only the pages its live frames span, one in the
 * common case.  Elsewhere the session trims itself before it switches,
 * and must keep a page below its own frame for madvise() and the
 * switch (ASan's interceptors and switch hooks want two).
 */
#if defined(__x86_64__) && defined(REG_RSP)
#define MULTI_SAVED_SP(ms) \
	((uintptr_t) (ms)->context.uc_mcontext.gregs[REG_RSP])
#elif defined(__aarch64__)
#define MULTI_SAVED_SP(ms) ((uintptr_t) (ms)->context.uc_mcontext.sp)
#endif
#define MULTI_RED_ZONE		256

static void
multi_trim_below(struct multi_session *ms, uintptr_t live)
{
	uintptr_t low = (uintptr_t) ms->map + multi_page_size;
	uintptr_t top = live & ~((uintptr_t) multi_page_size - 1);

	if (top > low)
		(void) madvise((void *) low, top - low, MADV_DONTNEED);
}

#ifdef MULTI_SAVED_SP
/* From the loop, the session switched away: trim below its frames. */
static void
multi_trim_stack(struct multi_session *ms)
{
	multi_trim_below(ms, MULTI_SAVED_SP(ms) - MULTI_RED_ZONE);
}
#else
#ifdef MULTI_ASAN
#define MULTI_TRIM_KEEP_PAGES	2
#else
#define MULTI_TRIM_KEEP_PAGES	1
#endif

/* From the session itself, before it switches away. */
static void
multi_trim_stack(struct multi_session *ms)
{
	char here;

	multi_trim_below(ms, (uintptr_t) &here - MULTI_TRIM_KEEP_PAGES *
	    multi_page_size);
}
#endif

/* The stream waiter: note what the session waits for, run the others. */
static enum stream_status
multi_wait(int fd, short events, int64_t deadline_ms)
{
	struct multi_session *ms = multi_current;

	if (ms == NULL)
		log_panic("imap_multi: a stream waits outside a session");
	ms->wait_fd = fd;
	ms->wait_events = events;
	ms->wait_deadline = deadline_ms;
	ms->trim = (events & POLLIN) != 0;
#ifndef MULTI_SAVED_SP
	if (ms->trim)
		multi_trim_stack(ms);
	ms->trim = 0;
#endif
	multi_yield(ms);
	if (ms->wait_result == STREAM_ERROR)
		errno = ms->wait_errno;
	return ms->wait_result;
}

/*
 * At most this many password hashes run at once in a process: a login
 * storm queues for them instead of costing a thread (and yescrypt's 16
 * MiB work area) per session.  The CPU is the limit anyway.  The count
 * covers the loop's hash threads and the hashes of the lookup threads
 * (imap_lookup.h), which check passwords where they looked them up.
 */
#define MULTI_CRYPT_THREADS	2
/* A hash needs little stack; the thread's stays cached by the C library. */
#define MULTI_CRYPT_STACK_SIZE	(256 * 1024)

static pthread_mutex_t multi_hash_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t multi_hash_freed = PTHREAD_COND_INITIALIZER;
static int multi_hashing;		/* under multi_hash_lock */

/*
 * A session of the loop queued for a hash place (on its own stack),
 * first come first served.  It sleeps until a place comes free for the
 * head of the queue (multi_hash_wake_head); it never polls, so a login
 * storm queued behind slow hashes costs the loop nothing.
 */
struct multi_hash_waiter {
	struct multi_hash_waiter *next;
	struct multi_hash_waiter **prev_next;	/* what points at it */
	struct multi_session *session;
};

static struct multi_hash_waiter *multi_hash_queue;
static struct multi_hash_waiter **multi_hash_queue_tail = &multi_hash_queue;
/* The thread that runs the loop and every session (imap_multi_run). */
static pthread_t multi_loop_thread;
static int multi_loop_running;

/* Take one of the MULTI_CRYPT_THREADS places: 1 taken, 0 all busy. */
static int
multi_hash_take(int wait)
{
	int taken;

	(void) pthread_mutex_lock(&multi_hash_lock);
	while (wait && multi_hashing >= MULTI_CRYPT_THREADS)
		(void) pthread_cond_wait(&multi_hash_freed, &multi_hash_lock);
	taken = multi_hashing < MULTI_CRYPT_THREADS;
	if (taken)
		multi_hashing++;
	(void) pthread_mutex_unlock(&multi_hash_lock);
	return taken;
}

static void
multi_hash_give(void)
{
	(void) pthread_mutex_lock(&multi_hash_lock);
	multi_hashing--;
	(void) pthread_cond_signal(&multi_hash_freed);
	(void) pthread_mutex_unlock(&multi_hash_lock);
}

/*
 * On the loop's thread: the head of the hash queue runs at the loop's
 * next pass when a place is free for it.  Called wherever the loop
 * frees a place or the head changes, and whenever a session's thread
 * ended (imap_multi_thread_run): a lookup thread hashes on places of
 * the same count and ends right after, so no freed place goes unseen.
 */
static void
multi_hash_wake_head(void)
{
	int free_place;

	if (multi_hash_queue == NULL)
		return;
	(void) pthread_mutex_lock(&multi_hash_lock);
	free_place = multi_hashing < MULTI_CRYPT_THREADS;
	(void) pthread_mutex_unlock(&multi_hash_lock);
	if (free_place)
		imap_multi_wake(multi_hash_queue->session);
}

/*
 * A hash place for the calling session: at once when nobody queues and
 * one is free, else in turn.  The head passes the turn on when it
 * leaves, so several places freed at once serve as many waiters.
 */
static void
multi_hash_take_in_turn(void)
{
	struct multi_hash_waiter me;

	if (multi_hash_queue == NULL && multi_hash_take(0))
		return;
	me.session = multi_current;
	me.next = NULL;
	me.prev_next = multi_hash_queue_tail;
	*multi_hash_queue_tail = &me;
	multi_hash_queue_tail = &me.next;
	/* No deadline: a hash ends, and its end wakes the head. */
	while (multi_hash_queue != &me || !multi_hash_take(0))
		stream_pause(INT_MAX);
	/* The head leaves: its successor is the new head. */
	multi_hash_queue = me.next;
	if (me.next != NULL)
		me.next->prev_next = &multi_hash_queue;
	else
		multi_hash_queue_tail = &multi_hash_queue;
	multi_hash_wake_head();
}

int
imap_multi_in_session(void)
{
	return multi_loop_running && pthread_equal(pthread_self(),
	    multi_loop_thread) && multi_current != NULL;
}

struct multi_session *
imap_multi_self(void)
{
	return imap_multi_in_session() ? multi_current : NULL;
}

void
imap_multi_wake(struct multi_session *ms)
{
	if (!multi_loop_running || !pthread_equal(pthread_self(),
	    multi_loop_thread))
		log_panic("imap_multi: a session woken off the loop's thread");
	ms->woken = 1;
}

struct multi_thread_job {
	imap_multi_work *work;
	void *arg;
	int done_fd;			/* the pipe's write end */
	char *log_ctx;			/* the session's, copied by the loop */
};

static void *
multi_thread_main(void *arg)
{
	struct multi_thread_job *job = arg;
	char byte = 0;

	/* Its lines name the session that started it, not the loop's. */
	log_set_context(job->log_ctx);
	job->work(job->arg);
	/* The session waits for this byte, then joins the thread. */
	while (write(job->done_fd, &byte, 1) < 0 && errno == EINTR)
		;
	return NULL;
}

int
imap_multi_thread_run(imap_multi_work *work, void *arg, size_t stack_size)
{
	struct multi_thread_job job = { work, arg, -1, NULL };
	pthread_attr_t attr;
	pthread_t thread;
	sigset_t all, old;
	int fds[2], err;
	char byte;

	if (!imap_multi_in_session())
		return -1;
	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0) {
		log_warn("imap_multi: pipe: %m");
		return -1;
	}
	job.done_fd = fds[1];
	if (log_context() != NULL)
		job.log_ctx = xstrdup(log_context());
	/* Signals are the loop's business (ppoll): none for the thread. */
	sigfillset(&all);
	(void) pthread_sigmask(SIG_SETMASK, &all, &old);
	(void) pthread_attr_init(&attr);
	(void) pthread_attr_setstacksize(&attr, stack_size);
	err = pthread_create(&thread, &attr, multi_thread_main, &job);
	(void) pthread_attr_destroy(&attr);
	(void) pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err != 0) {
		log_warn("imap_multi: pthread_create: %s", strerror(err));
	} else {
		/* A wakeup for another reason (stress) waits again. */
		while (read(fds[0], &byte, 1) != 1)
			(void) stream_wait_fd(fds[0], POLLIN, -1);
		if ((err = pthread_join(thread, NULL)) != 0)
			log_panic("imap_multi: pthread_join: %s", strerror(err));
		/* It may have hashed: a queued session's turn perhaps. */
		multi_hash_wake_head();
	}
	(void) close(fds[0]);
	(void) close(fds[1]);
	free(job.log_ctx);
	return err != 0 ? -1 : 0;
}

/*
 * The route's crypt runner (route.h): a login's password hash, tens of
 * ms of CPU with yescrypt, runs on a thread of its own while the session
 * waits through the stream waiter for the thread's byte on a pipe, so
 * the other sessions of the process are served meanwhile.  Where no
 * thread can be had the hash runs in place, as with one session.  On a
 * lookup thread (imap_lookup.h) the hash runs there, once one of the
 * places is free.
 */
static void
multi_crypt_run(route_crypt_work *work, void *arg)
{
	if (!imap_multi_in_session()) {
		if (multi_loop_running && !pthread_equal(pthread_self(),
		    multi_loop_thread)) {
			(void) multi_hash_take(1);
			work(arg);
			multi_hash_give();
		} else {
			work(arg);
		}
		return;
	}
	multi_hash_take_in_turn();
	if (imap_multi_thread_run(work, arg, MULTI_CRYPT_STACK_SIZE) < 0) {
		log_warn("imap_multi: password hash in the loop");
		work(arg);
	}
	multi_hash_give();
	multi_hash_wake_head();
}

/* A session's whole life, on its own stack. */
static void
multi_entry(void)
{
	struct multi_session *ms = multi_current;

#ifdef MULTI_ASAN
	__sanitizer_finish_switch_fiber(NULL, &multi_loop_stack_bottom,
	    &multi_loop_stack_size);
#endif
	multi_handle(ms->fd, &ms->peer, multi_handle_ctx);
	(void) close(ms->fd);
	ms->fd = -1;
	ms->done = 1;
	/* Nothing to wait for: the loop must never resume it again. */
	ms->wait_fd = -1;
	ms->wait_deadline = INT64_MAX;
	multi_yield(ms);
	log_panic("imap_multi: a finished session was resumed");
}

/* Start serving fd: a stack, a context, and a first run. */
static void
multi_start(int fd)
{
	struct multi_session *ms = xcalloc(1, sizeof(*ms));

	ms->fd = fd;
	/* Not waiting on anything yet (0 would be stdin). */
	ms->wait_fd = -1;
	ms->wait_deadline = INT64_MAX;
	ms->map_size = MULTI_STACK_SIZE + multi_page_size;
	ms->map = mmap(NULL, ms->map_size, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (ms->map == MAP_FAILED)
		log_fatal("imap_multi: mmap of a %zu-byte stack: %m",
		    ms->map_size);
	if (mprotect(ms->map, multi_page_size, PROT_NONE) < 0)
		log_fatal("imap_multi: mprotect of a stack guard: %m");
	if (getcontext(&ms->context) < 0)
		log_fatal("imap_multi: getcontext: %m");
	ms->context.uc_stack.ss_sp = ms->map + multi_page_size;
	ms->context.uc_stack.ss_size = ms->map_size - multi_page_size;
	ms->context.uc_link = NULL;
	makecontext(&ms->context, multi_entry, 0);
	service_peer_fill(fd, &ms->peer);
	multi_sessions[multi_count++] = ms;
	multi_resume(ms);
}

static void
multi_free(struct multi_session *ms)
{
	if (munmap(ms->map, ms->map_size) < 0)
		log_panic("imap_multi: munmap: %m");
	free(ms->log_ctx);
	free(ms);
}

/* Accept while there is room; count what was accepted. */
static void
multi_accept(int listen_fd, size_t limit, long long *uses)
{
	int fd;

	while (multi_count < limit) {
		fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			/* Another process won the race, or the client left. */
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != ECONNABORTED && errno != EINTR &&
			    errno != EPROTO)
				log_error("accept: %m");
			return;
		}
		(*uses)++;
		net_tcp_nodelay(fd, -1);
		multi_start(fd);
	}
}

/*
 * Stress went on or off (stream.h): every session waiting for its
 * descriptor works out its deadline again (a spurious wakeup costs it
 * one EAGAIN), so a silent client meets the stress timeout.
 */
static void
multi_wake_all(void)
{
	struct multi_session *ms;
	size_t i;

	for (i = 0; i < multi_count; i++) {
		ms = multi_sessions[i];
		if (ms->done || ms->wait_fd < 0)
			continue;
		ms->wait_result = STREAM_OK;
		multi_resume(ms);
	}
}

/* Resume the sessions whose wait is over; drop the finished ones. */
static void
multi_dispatch(struct pollfd *fds, size_t first)
{
	struct multi_session *ms;
	size_t i, kept = 0;
	int64_t now = multi_now_ms();

	for (i = 0; i < multi_count; i++) {
		ms = multi_sessions[i];
		/*
		 * A session that ended during its first run (in multi_accept)
		 * is still listed until the sweep below: never resume it.
		 */
		if (ms->done)
			continue;
		if (ms->woken) {
			ms->wait_result = STREAM_OK;
			multi_resume(ms);
		} else if (ms->wait_fd >= 0 && fds[first + i].revents != 0) {
			if (fds[first + i].revents & POLLNVAL) {
				ms->wait_result = STREAM_ERROR;
				ms->wait_errno = EBADF;
			} else {
				ms->wait_result = STREAM_OK;
			}
			multi_resume(ms);
		} else if (ms->wait_deadline != INT64_MAX &&
		    ms->wait_deadline <= now) {
			/* A pause (fd -1) ends with its deadline: not late. */
			ms->wait_result = ms->wait_fd < 0 ? STREAM_OK :
			    STREAM_TIMEOUT;
			multi_resume(ms);
		}
	}
	for (i = 0; i < multi_count; i++) {
		if (multi_sessions[i]->done)
			multi_free(multi_sessions[i]);
		else
			multi_sessions[kept++] = multi_sessions[i];
	}
	multi_count = kept;
}

void
imap_multi_run(int listen_fd, int status_fd, size_t limit,
	imap_multi_handler *handle, void *ctx)
{
	struct pollfd *fds;
	long long uses = 0;
	int64_t now, deadline, idle_deadline;
	size_t i, first;
	int accepting = 1, timeout, n;
	int stress_seen = stream_stress_generation();
	sigset_t stress_signals, unblocked;
	struct timespec ts;

	/*
	 * The master's stress signals are blocked except inside ppoll(), so
	 * one cannot slip in between the test of stress_seen and the wait.
	 */
	sigemptyset(&stress_signals);
	sigaddset(&stress_signals, MASTER_STRESS_ON_SIGNAL);
	sigaddset(&stress_signals, MASTER_STRESS_OFF_SIGNAL);
	if (sigprocmask(SIG_BLOCK, &stress_signals, &unblocked) < 0)
		log_fatal("sigprocmask: %m");

	multi_handle = handle;
	multi_handle_ctx = ctx;
	multi_page_size = (size_t) sysconf(_SC_PAGESIZE);
	multi_sessions = xcalloc(limit, sizeof(*multi_sessions));
	fds = xcalloc(limit + 2, sizeof(*fds));
	multi_loop_thread = pthread_self();
	multi_loop_running = 1;
	stream_set_waiter(multi_wait);
	route_set_crypt_runner(multi_crypt_run);
	idle_deadline = service_idle_deadline(multi_now_ms());
	for (;;) {
		/* Full, or done accepting: let the master start another. */
		if (service_set_busy(!accepting || multi_count >= limit) < 0)
			accepting = 0;
		if (!accepting && multi_count == 0)
			break;
		now = multi_now_ms();
		if (multi_count > 0)
			idle_deadline = service_idle_deadline(now);
		else if (now >= idle_deadline) {
			log_debug("idle for %llds: exiting", var_max_idle);
			break;
		}
		deadline = multi_count == 0 ? idle_deadline : INT64_MAX;
		fds[0].fd = accepting ? status_fd : -1;
		fds[0].events = POLLIN;
		fds[1].fd = accepting && multi_count < limit ? listen_fd : -1;
		fds[1].events = POLLIN;
		first = 2;
		for (i = 0; i < multi_count; i++) {
			fds[first + i].fd = multi_sessions[i]->wait_fd;
			fds[first + i].events = multi_sessions[i]->wait_events;
			if (multi_sessions[i]->wait_deadline < deadline)
				deadline = multi_sessions[i]->wait_deadline;
			/* Woken by another session: resumed without a wait. */
			if (multi_sessions[i]->woken)
				deadline = now;
		}
		for (i = 0; i < first + multi_count; i++)
			fds[i].revents = 0;
		timeout = -1;
		if (deadline != INT64_MAX) {
			timeout = deadline - now > INT_MAX ? INT_MAX :
			    deadline - now < 0 ? 0 : (int) (deadline - now);
		}
		ts.tv_sec = timeout / 1000;
		ts.tv_nsec = (long) (timeout % 1000) * 1000000;
		n = stress_seen != stream_stress_generation() ? -1 :
		    ppoll(fds, (nfds_t) (first + multi_count),
		    timeout < 0 ? NULL : &ts, &unblocked);
		if (n < 0 && errno != EINTR && stress_seen ==
		    stream_stress_generation())
			log_fatal("ppoll: %m");
		if (stress_seen != stream_stress_generation()) {
			stress_seen = stream_stress_generation();
			multi_wake_all();
			continue;
		}
		if (n < 0)
			continue;
		/* The master never writes: EOF means it went away or
		 * retired us.  Finish the sessions we have, take no more. */
		if (fds[0].revents != 0) {
			log_debug("master gone or generation retired");
			accepting = 0;
		}
		multi_dispatch(fds, first);
		if (accepting && (fds[1].revents & (POLLERR | POLLNVAL)))
			log_fatal("listening socket unusable");
		if (accepting && fds[1].revents != 0)
			multi_accept(listen_fd, limit, &uses);
		if (var_max_use > 0 && uses >= var_max_use && accepting) {
			log_debug("served %lld connections: no more", uses);
			accepting = 0;
		}
	}
	stream_set_waiter(NULL);
	route_set_crypt_runner(NULL);
	multi_loop_running = 0;
	(void) sigprocmask(SIG_SETMASK, &unblocked, NULL);
	free(fds);
	free(multi_sessions);
	multi_sessions = NULL;
}

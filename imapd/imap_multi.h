/*
 * imap_multi: several sessions in one imapd process (imap_client_limit
 * above 1), in the style of Dovecot's client_limit.
 *
 * Each session runs the ordinary session code (imapd.c, written for a
 * blocking stream) on its own stack, as a ucontext coroutine.  Every
 * place a session waits goes through the stream waiter (stream.h): the
 * stream's waits for its descriptor, IDLE's wait for input, the delay
 * after a failed login, the TLS handshake's steps (tls_start waits with
 * stream_wait_ready, never with a poll() of its own).  Here the waiter records what the session waits
 * for and switches back to one poll() loop over the listener, the status
 * socket and every session, which resumes a session when its descriptor
 * is ready or its deadline passed.  So a client sending a literal a byte
 * a second, or not reading a large FETCH, holds up only its own session,
 * and one handler serves both models.  A hand-written state machine per
 * command was rejected: APPEND, AUTHENTICATE, IDLE and every large write
 * would each have to be cut at its waits, and kept in step with the
 * blocking model.
 *
 * The process tells the master it is full (busy) when it holds limit
 * sessions and idle again when one ends (service_set_busy), so the
 * master starts another process only when every one is full.  max_use
 * counts sessions: after that many the process takes no more and exits
 * when its last session ends, as it does when the master goes away;
 * max_idle counts time without any session.
 *
 * An idle session costs its session state and little else: its stream
 * frees its buffers while it waits for input with nothing buffered
 * (stream_set_release_idle), and its stack below the live frames is
 * given back (madvise) whenever it waits for input.  Allocations of 128
 * KiB and more are always mapped (mallopt), so a large FETCH leaves no
 * heap fragments behind its session.
 *
 * Commands that go through the folder per message (FETCH, COPY, MOVE,
 * STORE, EXPUNGE, SEARCH, SORT) let the others run every
 * IMAP_YIELD_EVERY messages (imap_yield, a pause of 0 through the
 * waiter).  Lock waits (UID list, MODSEQ record, keywords) never block:
 * they retry with pauses through the waiter.  A login's password hash
 * runs on a thread (route_set_crypt_runner), at most
 * MULTI_CRYPT_THREADS at once, while its session waits on a pipe; the
 * sessions beyond those queue in order and are woken in turn.  With
 * the LDAP backend every directory lookup (a login's, an administrator
 * login's, the mailbox-move state checks) runs on a lookup thread
 * (imap_lookup.h) the same way.
 *
 * What still blocks without the stream holds up every session of the
 * process: one message's disk I/O, a folder's directory scan, a THREAD
 * or LIST over many folders, the file backend's map (in memory; a
 * changed map is read again in the loop).
 */
#ifndef ISPMAIL_IMAP_MULTI_H
#define ISPMAIL_IMAP_MULTI_H

#include <stddef.h>

struct service_peer;

typedef void imap_multi_handler(int fd, const struct service_peer *peer,
	void *ctx);

/*
 * Serve connections from listen_fd, up to limit at once, each with
 * handle (which closes nothing; fd is closed after it returns), until
 * the master goes away or max_use/max_idle say stop.
 */
void imap_multi_run(int listen_fd, int status_fd, size_t limit,
	imap_multi_handler *handle, void *ctx);

/* 1 when the caller is a session of a running imap_multi_run loop. */
int imap_multi_in_session(void);

/*
 * Waking a session that waits for something of the process's own (a
 * queue's turn) rather than a descriptor: imap_multi_self() is the
 * calling session (NULL outside one); imap_multi_wake(session), called
 * on the loop's thread (by another session), makes the session's
 * current wait, or its next one, end with STREAM_OK at the loop's next
 * pass, as if its descriptor were ready or its pause over.  The session
 * must not have ended: whoever keeps it (a queue) drops it before the
 * session goes on.  A waiter sleeps with a long stream_pause() and
 * looks again whenever it returns: a wake is a hint, not a hand-over.
 */
struct multi_session;
struct multi_session *imap_multi_self(void);
void imap_multi_wake(struct multi_session *session);

/*
 * Run work(arg) on a thread of its own (stack_size bytes of stack, every
 * signal blocked) while the calling session waits for it through the
 * stream waiter, so the process's other sessions go on: 0 after work
 * returned; -1 outside a session or (logged) when no thread could be
 * started, work not called.  work must not touch the stream, the
 * session or anything else the loop uses, nor wait through the waiter.
 * It logs with a copy of the session's log context (log contexts are
 * per thread; each session's is kept across its waits).
 */
typedef void imap_multi_work(void *arg);
int imap_multi_thread_run(imap_multi_work *work, void *arg,
	size_t stack_size);

#endif

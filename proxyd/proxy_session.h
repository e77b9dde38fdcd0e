/*
 * proxy_session: what the event loop (proxyd.c) asks of one session, the
 * state machine in proxy_session.c; the calls the fronts use are in
 * proxyd.h.
 */
#ifndef ISPMAIL_PROXY_SESSION_H
#define ISPMAIL_PROXY_SESSION_H

struct proxy_session;

/*
 * The connection is ready to speak (after a PROXY header, if any):
 * count its address, then TLS or the greeting.
 */
void proxy_session_begin(struct proxy_session *ps);
/* Step ps as far as it goes now; timed_out: its deadline passed. */
void proxy_step(struct proxy_session *ps, int timed_out);
/* The poll() events of each side in ps's state. */
short proxy_client_events(const struct proxy_session *ps);
short proxy_backend_events(const struct proxy_session *ps);
/*
 * 1 when a side ps would read now holds decrypted input poll() cannot
 * see (a side held back by backpressure does not count: no busy loop).
 */
int proxy_session_pending(const struct proxy_session *ps);
/* 1 when ps is closing and its last output is out (or hopeless). */
int proxy_session_done(const struct proxy_session *ps);
/* Release everything ps holds, its counts and questions included. */
void proxy_session_free(struct proxy_session *ps);

#endif

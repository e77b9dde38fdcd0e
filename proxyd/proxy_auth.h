/*
 * proxy_auth: the process's side of authd(8) for proxyd's event loop.
 * proxy_auth_start() (proxyd.h) queues a session's login; the loop polls
 * the connections to authd (proxy_auth_pollfds) and hands their events
 * back (proxy_auth_dispatch), which delivers each answer through the
 * session's front (auth_done).  Nothing here waits.
 */
#ifndef ISPMAIL_PROXY_AUTH_H
#define ISPMAIL_PROXY_AUTH_H

#include <poll.h>
#include <stddef.h>

struct proxy_session;

/* The most descriptors proxy_auth_pollfds() fills. */
#define PROXY_AUTH_CONNS	4

/* Before serving.  0, or -1 with *error_r (caller frees). */
int proxy_auth_init(char **error_r);
/* Fill fds[0..PROXY_AUTH_CONNS) (fd -1 for unused); the count. */
size_t proxy_auth_pollfds(struct pollfd *fds);
/* After poll(): move the connections on, deliver answers. */
void proxy_auth_dispatch(const struct pollfd *fds);
/* ps goes away (or gives up): forget its request. */
void proxy_auth_cancel(struct proxy_session *ps);
/* proxy_limits' verdict before asking authd: refused or go on. */
void proxy_auth_check_done(struct proxy_session *ps, int refused);
/* proxy_limits' verdict on the account's session count after a good login. */
void proxy_auth_user_admitted(struct proxy_session *ps, int refused);
/* ps's proxy_auth_timeout passed: a temporary failure to its front. */
void proxy_auth_timeout(struct proxy_session *ps);

#endif

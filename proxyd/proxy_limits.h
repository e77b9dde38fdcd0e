/*
 * proxy_limits: proxyd's abuse limits, counted by anvil(8) so that every
 * proxyd process of the host shares them, over one non-blocking
 * connection per process that the session loop polls.
 *
 * - Sessions per client address (proxy_max_sessions_per_ip, keyed by the
 *   listener's service name) are counted from accept; the answer arrives
 *   while the greeting goes out, and a refused client gets a BYE.
 * - Sessions per account (proxy_max_sessions_per_user, service
 *   "proxy-user") are counted after a good login, before the store is
 *   contacted: over the limit the login is refused as a temporary
 *   failure.
 * - Failed logins per client address and per login ("proxy-authfail-ip",
 *   "proxy-authfail-user") are counted over anvil's rate window
 *   (anvil_rate_time_unit).  The failure reply is delayed
 *   auth_failure_delay doubled for every earlier failure in the window,
 *   at most proxy_auth_fail_delay_max; from proxy_auth_fail_limit
 *   failures on, logins of that address or login are refused as a
 *   temporary failure without asking the directory, until the window
 *   passes.  Every refusal is logged with its reason.
 *
 * anvil being down, slow (anvil_timeout) or unreachable admits: an
 * outage of the counter never stops mail.
 */
#ifndef ISPMAIL_PROXY_LIMITS_H
#define ISPMAIL_PROXY_LIMITS_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

struct proxy_session;

/* The descriptors proxy_limits_pollfds() fills. */
#define PROXY_LIMITS_FDS	1

size_t proxy_limits_pollfds(struct pollfd *fds);
void proxy_limits_dispatch(const struct pollfd *fds);
/* When an unanswered question times out (CLOCK_MONOTONIC ms), or never. */
int64_t proxy_limits_deadline(void);
/* A new session: count its address (the answer may close it later). */
void proxy_limits_session_start(struct proxy_session *ps);
/* The session ends: release its counts, forget its questions. */
void proxy_limits_session_end(struct proxy_session *ps);
/*
 * Before asking the directory: the failure counts of the address and
 * the login.  Calls proxy_auth_check_done(ps, refused) when known
 * (maybe at once).
 */
void proxy_limits_check_login(struct proxy_session *ps);
/*
 * A failed login: count it; ps->fail_delay_ms is the delay to answer
 * after (grown from what is known so far; extended when anvil answers).
 */
void proxy_limits_login_failed(struct proxy_session *ps);
/*
 * A good login: count the account's sessions; calls
 * proxy_auth_user_admitted(ps, refused) when known (maybe at once).
 */
void proxy_limits_user_start(struct proxy_session *ps);

#endif

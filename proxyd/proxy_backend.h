/*
 * proxy_backend: choosing and reaching the store host of a mailbox.
 *
 * A mail host value (ispmail-routes(5) host=, LDAP mailHost) names one
 * or more hosts separated by commas: IPv4 or IPv6 address literals
 * (brackets allowed), tried in turn; the port is the protocol's
 * proxy_backend_port_*.  A host that refused, timed out or broke off
 * the login is skipped by every session of the process for
 * proxy_host_down_time.  The connect never blocks: the session waits in
 * PROXY_CONNECT for writability (and for the backend TLS handshake with
 * proxy_backend_tls), within proxy_connect_timeout.
 *
 * XXX: host names are refused (logged): resolving them here would block
 * every session of the process; the directory holds addresses.
 */
#ifndef ISPMAIL_PROXY_BACKEND_H
#define ISPMAIL_PROXY_BACKEND_H

#include <stddef.h>

struct proxy_session;

/* The backend TLS context and protocol choice: 0, or -1 (*error_r). */
int proxy_backend_init(char **error_r);
/* 1 when the stores learn the client from a PROXY v2 header. */
int proxy_backend_uses_haproxy(void);
/* Move a connect (and backend TLS handshake) on. */
void proxy_backend_progress(struct proxy_session *ps);
/* The backend side's poll() events while connecting. */
short proxy_backend_connect_events(const struct proxy_session *ps);
#endif

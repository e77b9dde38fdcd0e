/*
 * imap_lookup: the directory lookups of a multi-session imapd process
 * (imap_multi.h) off its event loop.
 *
 * An LDAP lookup waits for the directory server: up to
 * ldap_search_timeout when that server hangs.  In a process whose
 * sessions share one thread that wait would hold up every session, so
 * with the LDAP backend each lookup (a login's lookup and password
 * check, an administrator login's, the mailbox-move state checks of
 * mailbox_state.h) runs on a thread of its own while its session waits
 * through the stream waiter (imap_multi_thread_run), as the password
 * hash does.
 *
 * No route handle is shared between threads: the process keeps up to
 * min(ldap_pool_size, imap_client_limit) lookup places, each with its
 * own route handle (its own LDAP connections and cache, route_open()ed
 * on first use), and a lookup runs with a free place's handle, the
 * lowest first so a lightly loaded process reuses one handle's cache.
 * So a process has at most that many lookups in flight (what
 * ispmailctl check counts).  When every place is busy a session queues
 * (first come, first served) while the queue moves; when no lookup of
 * the process finished for ldap_search_timeout (a hung directory holds
 * every place) the lookup fails temporarily.  The lookup itself is
 * bounded by the LDAP backend's own deadline (ldap_search_timeout), so
 * a login whose directory does not answer gets [UNAVAILABLE], never
 * "bad password".
 *
 * The file backend's lookups are in memory and stay in the loop; so does
 * everything with imap_client_limit 1 (one session, nothing to hold up).
 */
#ifndef ISPMAIL_IMAP_LOOKUP_H
#define ISPMAIL_IMAP_LOOKUP_H

struct route;
struct route_mailbox;

/*
 * Start (in a multi-session process, before its loop) and stop (after
 * it) running lookups on threads; without start every call below is the
 * route call on r.
 */
void imap_lookup_start(void);
void imap_lookup_stop(void);

/*
 * route_authenticate, route_authorize and route_mailbox_get (route.h),
 * with their contracts; r is the process's handle, used in place when
 * lookups do not run on threads (or outside a session).
 */
int imap_lookup_authenticate(struct route *r, const char *login,
	const char *password, struct route_mailbox **mailbox_r,
	const char **reason_r, char **error_r);
int imap_lookup_authorize(struct route *r, const char *login,
	struct route_mailbox **mailbox_r, const char **reason_r,
	char **error_r);
int imap_lookup_mailbox_get(struct route *r, const char *address,
	struct route_mailbox **mailbox_r, char **error_r);

#endif

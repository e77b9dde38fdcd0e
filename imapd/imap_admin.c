/*
 * imap_admin: administrator logins (imap.h, imapd(8) "ADMINISTRATOR
 * LOGINS").
 *
 * AUTHENTICATE PLAIN with an authorization identity (RFC 4616): authcid
 * is an administrator, a login named in imap_admin_logins that the
 * routing directory authenticates with its own password hash; authzid is
 * the mailbox the session then opens, whatever that mailbox's state or
 * password.  Accepted only from imap_admin_networks (the client as
 * imapd believes it, so a trusted proxy's client counts, see
 * proxy_trusted_networks).  Every attempt is logged at warning level
 * with both names and the client, accepted or not, so that an operator's
 * log search for "admin login" finds them all.
 *
 * XMOVING (administrators only, advertised to them alone) sets and clears
 * the move's mark in the mailbox's store (store_mark.h): SET waits until
 * the deliveries in progress when the mark appeared have linked their
 * messages, so that nothing lands in the source after the move's final
 * pass (imapd(8) "ADMINISTRATOR LOGINS").
 *
 * Proxy logins (proxy_login.h) share the form: authcid is the proxy
 * tier's identity, the password its token, authzid the user proxyd has
 * authenticated.  Once the token is right the login goes on as an
 * ordinary one without the password check: the mailbox's state still
 * decides, no password hash is computed.  A client outside
 * proxy_trusted_networks trying it fails as a wrong password fails
 * (delay, count); a trusted proxy whose token is
 * refused gets a NO at once, [AUTHORIZATIONFAILED] as for a store that
 * does not know proxy logins, so it can log in with the password instead.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "imap.h"
#include "imap_lookup.h"
#include "log.h"
#include "mail_params.h"
#include "netmatch.h"
#include "params.h"
#include "proxy_login.h"
#include "route.h"
#include "store_mark.h"
#include "stream.h"

/* XMOVING SET: the longest lease (seconds) an administrator may ask. */
#define ADMIN_MARK_LEASE_MAX 86400
/* Deliveries in progress a mark waits for; more is refused. */
#define ADMIN_MARK_PENDING_MAX 10000
/* How often SET looks whether they are done (ms). */
#define ADMIN_MARK_POLL_MS 5

static struct netmatch *admin_networks;

int
imap_admin_init(char **error_r)
{
	netmatch_free(&admin_networks);
	admin_networks = netmatch_from_param("imap_admin_networks",
	    var_imap_admin_networks, error_r);
	return admin_networks == NULL ? -1 : 0;
}

/* 1 when login is in imap_admin_logins (exact, case-insensitive). */
static int
admin_listed(const char *login)
{
	char **list;
	int count, i, found = 0;

	list = params_list_split(var_imap_admin_logins, &count);
	for (i = 0; i < count && !found; i++)
		found = strcasecmp(list[i], login) == 0;
	params_list_free(list);
	return found;
}

void
imap_admin_login(struct imap_session *sess, const char *authzid,
	const char *authcid, const char *password)
{
	struct route_mailbox *admin = NULL, *mb = NULL;
	const char *reason = NULL;
	const char *client = sess->peer->client_addr;
	char *error = NULL;
	int rc;

	if (!admin_listed(authcid)) {
		log_warn("admin login refused admin=%s user=%s client=%s: "
		    "not in imap_admin_logins", authcid, authzid, client);
		imap_tagged(sess, "NO", "[AUTHORIZATIONFAILED] No proxy "
		    "logins");
		return;
	}
	if (admin_networks == NULL || !netmatch_match(admin_networks,
	    client)) {
		log_warn("admin login refused admin=%s user=%s client=%s: "
		    "not in imap_admin_networks", authcid, authzid, client);
		imap_tagged(sess, "NO", "[AUTHORIZATIONFAILED] No proxy "
		    "logins");
		return;
	}
	imap_login_log_context(sess, 1);
	rc = imap_lookup_authenticate(imapd_route, authcid, password, &admin,
	    &reason, &error);
	imap_login_log_context(sess, 0);
	route_mailbox_free(&admin);
	if (rc < 0) {
		log_warn("admin login admin=%s user=%s: %s", authcid, authzid,
		    error != NULL ? error : "temporary failure");
		free(error);
		imap_tagged(sess, "NO", "[UNAVAILABLE] Temporary "
		    "authentication failure");
		return;
	}
	if (rc == 0) {
		log_warn("admin login refused admin=%s user=%s client=%s: %s",
		    authcid, authzid, client, reason);
		imap_login_refused(sess, authcid, "plain-admin", reason);
		return;
	}
	imap_login_log_context(sess, 1);
	rc = imap_lookup_mailbox_get(imapd_route, authzid, &mb, &error);
	imap_login_log_context(sess, 0);
	if (rc < 0) {
		log_warn("admin login admin=%s user=%s: %s", authcid, authzid,
		    error != NULL ? error : "temporary failure");
		free(error);
		imap_tagged(sess, "NO", "[UNAVAILABLE] Temporary "
		    "directory failure");
		return;
	}
	if (rc == 0 || mb->store_path == NULL) {
		log_warn("admin login refused admin=%s user=%s client=%s: %s",
		    authcid, authzid, client, rc == 0 ? "no such mailbox" :
		    "no store");
		route_mailbox_free(&mb);
		imap_tagged(sess, "NO", "[AUTHORIZATIONFAILED] No such "
		    "mailbox");
		return;
	}
	log_warn("admin login admin=%s user=%s client=%s%s", authcid,
	    mb->address, client, sess->tls != NULL ? " tls" : "");
	sess->admin = 1;
	imap_login_enter(sess, mb, "plain-admin");
	if (sess->state != IMAP_STATE_AUTH)
		sess->admin = 0;
	route_mailbox_free(&mb);
}

/*
 * SET: mark, then wait (up to half the lease) for the tmp/ files that
 * were there: each is a delivery that may not have seen the mark.  Files
 * unchanged for longer than the lease are a crash's leftovers.
 */
static void
admin_mark_set(struct imap_session *sess, long long lease)
{
	time_t now = time(NULL);
	int64_t start = stream_clock_ms(), deadline = start + lease * 500;
	char **pending = NULL, *error = NULL;
	size_t count = 0, waited;

	if (store_mark_set(sess->root, now + (time_t) lease, &error) < 0 ||
	    store_mark_pending(sess->root, now - (time_t) lease,
	    ADMIN_MARK_PENDING_MAX, &pending, &count, &error) < 0) {
		log_error("user=%s moving mark: %s", sess->user, error);
		free(error);
		(void) store_mark_clear(sess->root, &error);
		free(error);
		imap_tagged(sess, "NO", "[SERVERBUG] Cannot set the mark");
		return;
	}
	waited = count;
	while ((count = store_mark_pending_left(pending, count)) > 0 &&
	    stream_clock_ms() < deadline)
		stream_pause(ADMIN_MARK_POLL_MS);
	if (count > 0) {
		log_warn("user=%s moving mark: %s still in progress after "
		    "%llds; mark cleared", sess->user, pending[0], lease / 2);
		store_mark_paths_free(&pending, count);
		(void) store_mark_clear(sess->root, &error);
		free(error);
		imap_tagged(sess, "NO", "[INUSE] Deliveries still in progress");
		return;
	}
	store_mark_paths_free(&pending, count);
	log_info("user=%s moving mark set for %llds (waited for %zu "
	    "deliveries, %lldms)", sess->user, lease, waited,
	    (long long) (stream_clock_ms() - start));
	imap_tagged(sess, "OK", "Marked as moving");
}

void
imap_cmd_xmoving(struct imap_session *sess, struct imap_arg *args,
	size_t count)
{
	const char *word = count > 0 ? imap_arg_astring(&args[0]) : NULL;
	const char *number = count == 2 ? imap_arg_astring(&args[1]) : NULL;
	char *error = NULL, *end;
	long long lease = 0;

	/* The same answer as to any verb a user does not have. */
	if (!sess->admin) {
		imap_tagged(sess, "BAD", "Unknown command");
		return;
	}
	if (word != NULL && strcasecmp(word, "CLEAR") == 0 && count == 1) {
		if (store_mark_clear(sess->root, &error) < 0) {
			log_error("user=%s moving mark: %s", sess->user, error);
			free(error);
			imap_tagged(sess, "NO", "[SERVERBUG] Cannot clear the "
			    "mark");
			return;
		}
		log_info("user=%s moving mark cleared", sess->user);
		imap_tagged(sess, "OK", "Mark cleared");
		return;
	}
	if (number != NULL && number[0] >= '0' && number[0] <= '9')
		lease = strtoll(number, &end, 10);
	/* lease 0: not a number, end not set. */
	if (word == NULL || strcasecmp(word, "SET") != 0 || lease < 1 ||
	    *end != '\0' || lease > ADMIN_MARK_LEASE_MAX) {
		imap_tagged(sess, "BAD", "XMOVING SET seconds | XMOVING CLEAR");
		return;
	}
	admin_mark_set(sess, lease);
}

int
imap_proxy_allowed(struct imap_session *sess, const char *user,
	const char *token)
{
	switch (proxy_login_check(&sess->conn, sess->peer->client_addr, user,
	    token)) {
	case PROXY_LOGIN_OK:
		return 1;
	case PROXY_LOGIN_UNTRUSTED:
		imap_login_refused(sess, user, "proxy", "not a trusted proxy");
		return 0;
	case PROXY_LOGIN_REFUSED:
	default:
		imap_tagged(sess, "NO", "[AUTHORIZATIONFAILED] Proxy login "
		    "refused");
		return 0;
	}
}

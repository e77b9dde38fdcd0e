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
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap.h"
#include "log.h"
#include "mail_params.h"
#include "netmatch.h"
#include "params.h"
#include "route.h"

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
	rc = route_authenticate(imapd_route, authcid, password, &admin,
	    &reason, &error);
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
	rc = route_mailbox_get(imapd_route, authzid, &mb, &error);
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
	imap_login_enter(sess, mb, "plain-admin");
	/* Whatever the mailbox's state: the move reads it through this
	 * session while it is marked moving, and after the switch. */
	sess->state_check.address = NULL;
	route_mailbox_free(&mb);
}

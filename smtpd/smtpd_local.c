/*
 * smtpd_local: submission from users of this host over the UNIX socket
 * that ispmail-sendmail(1) talks to (public/sendmail in master.conf).
 *
 * The kernel names the client (SO_PEERCRED), so no password is needed:
 * a user named in local_submit_users relays as a host of mynetworks
 * does (smtpd_trust.c), its user name and uid go into the log and the
 * Received: header, and the envelope sender picks the outbound class.
 */
#include "config.h"

#define _GNU_SOURCE 1	/* struct ucred */
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include "log.h"
#include "mail_params.h"
#include "params.h"
#include "smtpd.h"
#include "smtpd_trust.h"
#include "stream.h"
#include "xalloc.h"

/* A user name fit for a header and the log: [A-Za-z0-9._-], 1-32. */
static int
smtpd_local_name_ok(const char *name)
{
	size_t i;

	for (i = 0; name[i] != '\0'; i++) {
		if (i >= 32 || !((name[i] >= 'a' && name[i] <= 'z') ||
		    (name[i] >= 'A' && name[i] <= 'Z') ||
		    (name[i] >= '0' && name[i] <= '9') ||
		    strchr("._-", name[i]) != NULL))
			return 0;
	}
	return i > 0;
}

/* 1 when name may submit: local_submit_users names it, or says "*". */
static int
smtpd_local_user_allowed(const char *name)
{
	char **list;
	int i, count, ok = 0;

	list = params_list_split(var_local_submit_users, &count);
	for (i = 0; i < count && !ok; i++)
		ok = strcmp(list[i], "*") == 0 || strcmp(list[i], name) == 0;
	params_list_free(list);
	return ok;
}

int
smtpd_local_start(struct smtpd_session *ss, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct passwd pw, *found = NULL;
	char pwbuf[4096];
	int rc;

	if (strcmp(ss->peer->client_addr, "unix") != 0)
		return 0;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		log_warn("local client: cannot get its credentials: %m");
		smtpd_reply(ss, "421 4.3.0 %s Error: who are you?",
		    smtpd.hostname);
		return -1;
	}
	rc = getpwuid_r(cred.uid, &pw, pwbuf, sizeof(pwbuf), &found);
	ss->local_uid = (long long) cred.uid;
	/* A name from the password file is still checked: it ends up in a
	 * header and the log. */
	if (rc == 0 && found != NULL && smtpd_local_name_ok(found->pw_name))
		ss->local_user = xstrdup(found->pw_name);
	else
		ss->local_user = xasprintf("uid%lld", ss->local_uid);
	log_info("local client user=%s uid=%lld pid=%ld", ss->local_user,
	    ss->local_uid, (long) cred.pid);
	if (!smtpd_local_user_allowed(ss->local_user)) {
		log_info("reject: local user %s is not in local_submit_users",
		    ss->local_user);
		smtpd_reply(ss, "554 5.7.1 %s Error: user %s may not send "
		    "mail from this host", smtpd.hostname, ss->local_user);
		return -1;
	}
	/* No rDNS, no block lists: the client is this host. */
	ss->client_name = xstrdup("localhost");
	return 0;
}

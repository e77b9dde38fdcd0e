/*
 * proxy_auth: the one place proxyd asks whether a login is good (see
 * proxy_auth_start in proxyd.h).
 *
 * XXX: until authd (the auth service of issue 14) is merged this asks
 * the routing directory in-process, which blocks the whole event loop
 * for the directory lookup and the password hash; authd moves both out
 * of the loop behind this same function.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "proxyd.h"
#include "route.h"
#include "xalloc.h"

static struct route *proxy_route;

int
proxy_auth_init(char **error_r)
{
	proxy_route = route_open(error_r);
	return proxy_route == NULL ? -1 : 0;
}

void
proxy_auth_start(struct proxy_session *ps, char *login, char *password)
{
	struct route_mailbox *mailbox = NULL;
	const char *reason = NULL;
	char *error = NULL;
	int rc;

	free(ps->login);
	ps->login = login;
	if (ps->password != NULL)
		explicit_bzero(ps->password, strlen(ps->password));
	free(ps->password);
	ps->password = password;
	free(ps->auth_reason);
	ps->auth_reason = NULL;
	ps->state = PROXY_AUTH;
	rc = route_authenticate(proxy_route, login, password, &mailbox,
	    &reason, &error);
	if (rc > 0) {
		ps->auth_status = PROXY_AUTH_OK;
		free(ps->user);
		ps->user = xstrdup(mailbox->address);
		free(ps->hosts);
		ps->hosts = xstrdup(mailbox->mail_host != NULL ?
		    mailbox->mail_host : "");
		route_mailbox_free(&mailbox);
	} else if (rc == 0) {
		ps->auth_status = PROXY_AUTH_FAIL;
		ps->auth_reason = xstrdup(reason != NULL ? reason :
		    "invalid credentials");
	} else {
		ps->auth_status = PROXY_AUTH_TEMPFAIL;
		ps->auth_reason = xstrdup(error != NULL ? error :
		    "directory unavailable");
	}
	free(error);
	ps->front->auth_done(ps);
}

/*
 * smtpd_xclient: XCLIENT (Postfix's XCLIENT_README), by which a trusted
 * proxy (proxyd's submission relay) names the client it speaks for:
 * ADDR, PORT, NAME, HELO, PROTO and LOGIN.  Only a client in
 * proxy_trusted_networks may use it (to anyone else it is an unknown
 * command, as it was before), and only outside a mail transaction.
 * Values are xtext; "[UNAVAILABLE]" and "[TEMPUNAVAIL]" leave an
 * attribute as it is.  Every value is checked before any is applied, so a
 * bad command changes nothing.  On success the session starts again with
 * a 220 greeting, and the proxy says EHLO again; LOGIN makes the session
 * authenticated as that user, as AUTH would.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "mail_params.h"
#include "proxy_trust.h"
#include "route.h"
#include "service.h"
#include "smtp_syntax.h"
#include "smtpd.h"
#include "smtpd_reputation.h"
#include "xalloc.h"
#include "xtext.h"

/* The longest decoded value: a login or a host name. */
#define XCLIENT_VALUE_MAX 255

/* What one XCLIENT command asks for; NULL: leave as it is. */
struct xclient_request {
	char *addr, *port, *name, *helo, *proto, *login;
};

static void
xclient_request_free(struct xclient_request *req)
{
	free(req->addr);
	free(req->port);
	free(req->name);
	free(req->helo);
	free(req->proto);
	free(req->login);
}

/* The slot for attribute name (case-insensitive); NULL: unknown. */
static char **
xclient_slot(struct xclient_request *req, const char *name, size_t len)
{
	static const char *const names[] = {
		"ADDR", "PORT", "NAME", "HELO", "PROTO", "LOGIN",
	};
	char **slots[] = {
		&req->addr, &req->port, &req->name, &req->helo, &req->proto,
		&req->login,
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strlen(names[i]) == len &&
		    strncasecmp(name, names[i], len) == 0)
			return slots[i];
	}
	return NULL;
}

/* Parse "NAME=xtext ..." into req; NULL ok, else the 501 reply text. */
static const char *
xclient_parse(const char *args, struct xclient_request *req)
{
	const char *p = args, *eq, *end;
	char **slot, *raw;

	if (*p == '\0')
		return "501 5.5.4 Syntax: XCLIENT attribute=value...";
	while (*p != '\0') {
		end = p + strcspn(p, " ");
		eq = memchr(p, '=', (size_t) (end - p));
		if (eq == NULL || eq == p)
			return "501 5.5.4 Bad XCLIENT syntax";
		slot = xclient_slot(req, p, (size_t) (eq - p));
		if (slot == NULL)
			return "501 5.5.4 Bad XCLIENT attribute name";
		if (*slot != NULL)
			return "501 5.5.4 Duplicate XCLIENT attribute";
		raw = xstrndup(eq + 1, (size_t) (end - eq - 1));
		*slot = xtext_decode(raw, XCLIENT_VALUE_MAX);
		free(raw);
		if (*slot == NULL || **slot == '\0')
			return "501 5.5.4 Bad XCLIENT attribute value";
		if (strcmp(*slot, "[UNAVAILABLE]") == 0 ||
		    strcmp(*slot, "[TEMPUNAVAIL]") == 0) {
			free(*slot);
			*slot = NULL;
		}
		p = end;
		while (*p == ' ')
			p++;
	}
	return NULL;
}

/* Check every value against what it will be used for; NULL ok. */
static const char *
xclient_check(struct smtpd_session *ss, const struct xclient_request *req,
	struct service_peer *client)
{
	const char *why;

	*client = *ss->peer;
	if (req->addr != NULL && proxy_trust_set_addr(client, req->addr) < 0)
		return "501 5.5.4 Bad XCLIENT ADDR syntax";
	if (req->port != NULL && proxy_trust_set_port(client, req->port) < 0)
		return "501 5.5.4 Bad XCLIENT PORT syntax";
	if (req->name != NULL &&
	    smtp_helo_check(req->name, &why) != SMTP_HELO_VALID)
		return "501 5.5.4 Bad XCLIENT NAME syntax";
	if (req->helo != NULL &&
	    smtp_helo_check(req->helo, &why) == SMTP_HELO_INVALID)
		return "501 5.5.4 Bad XCLIENT HELO syntax";
	if (req->proto != NULL && strcasecmp(req->proto, "SMTP") != 0 &&
	    strcasecmp(req->proto, "ESMTP") != 0)
		return "501 5.5.4 Bad XCLIENT PROTO syntax";
	/* A login goes into logs and Received: printable only. */
	if (req->login != NULL &&
	    !smtp_printable(req->login, strlen(req->login)))
		return "501 5.5.4 Bad XCLIENT LOGIN syntax";
	return NULL;
}

/*
 * The mailbox of a login, for smtpd_sender_login_match: 1 found, 0 not
 * (the session is authenticated anyway, as Postfix does), -1 try later.
 */
static int
xclient_mailbox(const char *login, struct route_mailbox **m_r)
{
	struct route *r = smtpd_route();
	char *norm = NULL, *error = NULL;
	int rc;

	*m_r = NULL;
	if (r == NULL)
		return -1;
	if (route_normalize(r, login, &norm, &error) < 0) {
		free(error);
		return 0;
	}
	rc = route_mailbox_get(r, norm, m_r, &error);
	if (rc < 0)
		log_warn("XCLIENT LOGIN=%s: %s", login,
		    error != NULL ? error : "directory unavailable");
	free(error);
	free(norm);
	return rc;
}

void
smtpd_cmd_xclient(struct smtpd_session *ss, const char *args)
{
	struct xclient_request req;
	struct service_peer client;
	struct route_mailbox *m = NULL;
	const char *reply;

	if (!ss->proxy_trusted) {
		log_info("reject: XCLIENT from %s: not in "
		    "proxy_trusted_networks", ss->peer->client_addr);
		smtpd_reply(ss, "502 5.5.2 Error: command not recognized");
		(void) smtpd_error(ss);
		return;
	}
	if (ss->have_mail) {
		smtpd_reply(ss, "503 5.5.1 Error: MAIL transaction in "
		    "progress");
		(void) smtpd_error(ss);
		return;
	}
	memset(&req, 0, sizeof(req));
	reply = xclient_parse(args, &req);
	if (reply == NULL)
		reply = xclient_check(ss, &req, &client);
	if (reply == NULL && req.login != NULL &&
	    xclient_mailbox(req.login, &m) < 0)
		reply = "451 4.3.0 Error: directory unavailable, try again";
	if (reply != NULL) {
		smtpd_reply(ss, "%s", reply);
		if (reply[0] == '5')
			(void) smtpd_error(ss);
		xclient_request_free(&req);
		return;
	}
	log_info("XCLIENT from %s: client=%s[%d]%s%s%s%s", ss->peer->client_addr,
	    client.client_addr, client.client_port,
	    req.name != NULL ? " name=" : "", req.name != NULL ? req.name : "",
	    req.login != NULL ? " login=" : "",
	    req.login != NULL ? req.login : "");
	ss->client = client;
	smtpd_transaction_reset(ss);
	if (req.name != NULL) {
		free(ss->client_name);
		ss->client_name = req.name;
		req.name = NULL;
	}
	free(ss->helo);
	ss->helo = req.helo;
	req.helo = NULL;
	ss->esmtp = req.proto != NULL && strcasecmp(req.proto, "ESMTP") == 0;
	if (req.login != NULL) {
		free(ss->auth_user);
		ss->auth_user = req.login;
		req.login = NULL;
		route_mailbox_free(&ss->auth_mailbox);
		ss->auth_mailbox = m;
	}
	/* The block lists and reverse DNS judge the real client. */
	if (req.addr != NULL) {
		smtpd_reputation_free(&ss->reputation);
		ss->reputation = smtpd_reputation_check(ss);
	}
	xclient_request_free(&req);
	smtpd_reply(ss, "220 %s %s", smtpd.hostname, var_smtpd_banner);
}

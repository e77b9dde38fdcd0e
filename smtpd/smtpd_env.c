/*
 * smtpd_env: MAIL FROM and RCPT TO -- path syntax (RFC 5321 4.1.2),
 * ESMTP parameters (SIZE, BODY, SMTPUTF8, RET, ENVID, NOTIFY, ORCPT,
 * AUTH), and the routing checks that decide which recipients we accept.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "address.h"
#include "buf.h"
#include "header_value.h"
#include "log.h"
#include "maildir.h"
#include "mail_params.h"
#include "metrics.h"
#include "params.h"
#include "route.h"
#include "service.h"
#include "smtpd.h"
#include "smtpd_account.h"
#include "smtpd_authres.h"
#include "smtpd_msa.h"
#include "smtpd_trust.h"
#include "smtpd_srs.h"
#include "xalloc.h"
#include "xtext.h"

void
smtpd_transaction_reset(struct smtpd_session *ss)
{
	size_t i;

	for (i = 0; i < ss->env.rcpt_count; i++) {
		free(ss->env.rcpts[i].address);
		free(ss->env.rcpts[i].orcpt);
	}
	free(ss->env.sender);
	free(ss->env.envid);
	ss->env.sender = NULL;
	ss->env.envid = NULL;
	ss->env.rcpt_count = 0;
	ss->env.ret = QFILE_RET_DEFAULT;
	ss->env.body_8bit = 0;
	ss->env.smtputf8 = 0;
	ss->have_mail = 0;
	ss->size_hint = 0;
	qfile_writer_abort(&ss->bdat);
	smtpd_msa_free(&ss->msa);
	smtpd_authres_free(&ss->authres);
	smtpd_authres_reset();
	header_value_free(&ss->msgid);
	ss->bdat_failed = 0;
	ss->bdat_size = 0;
	ss->bdat_error = NULL;
	memset(&ss->bdat_crlf, 0, sizeof(ss->bdat_crlf));
}

/*
 * Split "<path> params" after "FROM:" or "TO:": *path_r (new string,
 * without brackets and source route), *params_r pointing into text.
 * -1 on a syntax error.
 */
static int
smtpd_parse_path(const char *text, char **path_r, const char **params_r)
{
	const char *p = text, *start;
	int quoted = 0;

	while (*p == ' ')
		p++;
	if (*p != '<')
		return -1;
	start = ++p;
	for (; *p != '\0'; p++) {
		if (quoted && *p == '\\' && p[1] != '\0') {
			p++;
			continue;
		}
		if (*p == '"')
			quoted = !quoted;
		else if (*p == '>' && !quoted)
			break;
	}
	if (*p != '>')
		return -1;
	/* Only a space or the end may follow; checked before *path_r. */
	if (p[1] != '\0' && p[1] != ' ')
		return -1;
	/* A source route "@a,@b:user@c" is accepted and ignored (4.1.2). */
	if (*start == '@') {
		const char *colon = memchr(start, ':', (size_t) (p - start));

		if (colon == NULL)
			return -1;
		start = colon + 1;
	}
	*path_r = xstrndup(start, (size_t) (p - start));
	p++;
	while (*p == ' ')
		p++;
	*params_r = p;
	return 0;
}

/* The next "KEY[=value]" of a parameter list; 0 at the end. */
static int
smtpd_next_param(const char **pp, char **key_r, char **value_r)
{
	const char *p = *pp, *end, *eq;

	while (*p == ' ')
		p++;
	if (*p == '\0')
		return 0;
	end = strchr(p, ' ');
	if (end == NULL)
		end = p + strlen(p);
	eq = memchr(p, '=', (size_t) (end - p));
	if (eq != NULL) {
		*key_r = xstrndup(p, (size_t) (eq - p));
		*value_r = xstrndup(eq + 1, (size_t) (end - eq - 1));
	} else {
		*key_r = xstrndup(p, (size_t) (end - p));
		*value_r = NULL;
	}
	*pp = end;
	return 1;
}

static int
smtpd_has_8bit(const char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char) *s >= 0x80)
			return 1;
	}
	return 0;
}

/* Is addr (normalised) one of the logged-in account's addresses? */
static int
smtpd_sender_owned(struct smtpd_session *ss, const char *sender)
{
	const struct route_mailbox *m = ss->auth_mailbox;
	char *norm = NULL, *error = NULL;
	struct route *r = smtpd_route();
	int owned = 0;
	size_t i;

	if (m == NULL || r == NULL)
		return 0;
	if (route_normalize(r, sender, &norm, &error) < 0) {
		free(error);
		return 0;
	}
	if (strcmp(norm, m->address) == 0)
		owned = 1;
	for (i = 0; !owned && i < m->alt_count; i++) {
		if (strcasecmp(norm, m->alt_addresses[i]) == 0)
			owned = 1;
	}
	free(norm);
	return owned;
}

void
smtpd_cmd_mail(struct smtpd_session *ss, const char *args)
{
	const char *params;
	char *path = NULL, *key = NULL, *value = NULL, *error = NULL;
	long long size;

	if (ss->helo == NULL) {
		smtpd_reply(ss, "503 5.5.1 Error: send HELO/EHLO first");
		(void) smtpd_error(ss);
		return;
	}
	if (smtpd.mode == SMTPD_MODE_SUBMISSION && ss->auth_user == NULL &&
	    !smtpd_trust_client(ss)) {
		smtpd_reply(ss, "530 5.7.0 Authentication required");
		(void) smtpd_error(ss);
		return;
	}
	if (ss->have_mail) {
		smtpd_reply(ss, "503 5.5.1 Error: nested MAIL command");
		(void) smtpd_error(ss);
		return;
	}
	if (smtpd_account_mail(ss) < 0)
		return;
	if (strncasecmp(args, "FROM:", 5) != 0 ||
	    smtpd_parse_path(args + 5, &path, &params) < 0) {
		smtpd_reply(ss, "501 5.5.4 Syntax: MAIL FROM:<address>");
		(void) smtpd_error(ss);
		return;
	}
	smtpd_transaction_reset(ss);
	if (*params != '\0' && !ss->esmtp) {
		smtpd_reply(ss, "555 5.5.4 Parameters need EHLO");
		goto bad;
	}
	while (smtpd_next_param(&params, &key, &value)) {
		if (strcasecmp(key, "SIZE") == 0 && value != NULL &&
		    params_parse_int(value, &size) == 0 && size >= 0) {
			if (var_message_size_limit > 0 &&
			    size > var_message_size_limit) {
				smtpd_reply(ss, "552 5.3.4 Message size exceeds "
				    "fixed limit");
				goto bad;
			}
			ss->size_hint = size;
		} else if (strcasecmp(key, "BODY") == 0 && value != NULL &&
		    (strcasecmp(value, "7BIT") == 0 ||
		    strcasecmp(value, "8BITMIME") == 0)) {
			ss->env.body_8bit = strcasecmp(value, "8BITMIME") == 0;
		} else if (strcasecmp(key, "SMTPUTF8") == 0 && value == NULL) {
			ss->env.smtputf8 = 1;
		} else if (strcasecmp(key, "RET") == 0 && value != NULL &&
		    (strcasecmp(value, "FULL") == 0 ||
		    strcasecmp(value, "HDRS") == 0) &&
		    ss->env.ret == QFILE_RET_DEFAULT) {
			ss->env.ret = strcasecmp(value, "FULL") == 0 ?
			    QFILE_RET_FULL : QFILE_RET_HDRS;
		} else if (strcasecmp(key, "ENVID") == 0 && value != NULL &&
		    ss->env.envid == NULL) {
			/* Printable after decoding (RFC 3461 4.4). */
			ss->env.envid = xtext_decode(value, XTEXT_ENVID_MAX);
			if (ss->env.envid == NULL ||
			    !xtext_envid_valid(ss->env.envid,
			    XTEXT_ENVID_MAX)) {
				smtpd_reply(ss, "501 5.5.4 Bad ENVID");
				goto bad;
			}
		} else if (strcasecmp(key, "AUTH") == 0 && value != NULL) {
			/* RFC 4954 5: accepted; we trust our own login only. */
		} else {
			smtpd_reply(ss, "555 5.5.4 Unsupported option: %s", key);
			goto bad;
		}
		free(key);
		free(value);
		key = value = NULL;
	}
	if (*path != '\0') {
		if (smtpd_has_8bit(path) && !ss->env.smtputf8) {
			smtpd_reply(ss, "553 5.6.7 Non-ASCII sender address "
			    "needs SMTPUTF8");
			goto bad;
		}
		if (address_parse(path, strlen(path), NULL, NULL, &error) < 0) {
			smtpd_reply(ss, "553 5.1.7 <%s>: Sender address "
			    "rejected: %s", path, error);
			goto bad;
		}
	}
	/* A host of mynetworks without a login sends for its users. */
	if (smtpd.mode == SMTPD_MODE_SUBMISSION && ss->auth_user != NULL &&
	    var_smtpd_sender_login_match &&
	    (*path == '\0' || !smtpd_sender_owned(ss, path))) {
		log_info("sender <%s> refused for login %s", path,
		    ss->auth_user);
		smtpd_reply(ss, "553 5.7.1 <%s>: Sender address rejected: not "
		    "owned by user %s", path, ss->auth_user);
		goto bad;
	}
	if (smtpd_queue_space(ss, ss->size_hint) < 0) {
		free(path);
		smtpd_transaction_reset(ss);
		return;
	}
	ss->env.sender = path;
	ss->have_mail = 1;
	smtpd_authres_mail(ss);
	smtpd_reply(ss, "250 2.1.0 Ok");
	return;
bad:
	free(key);
	free(value);
	free(path);
	free(error);
	smtpd_transaction_reset(ss);
	(void) smtpd_error(ss);
}

/*
 * Decide about one recipient.  0 accept; otherwise the reply was sent
 * (-1 permanent, -2 temporary).
 */
static int
smtpd_check_rcpt(struct smtpd_session *ss, const char *addr)
{
	struct route *r = smtpd_route();
	struct route_answer *ans = NULL;
	struct maildir_quota q;
	char *domain = NULL, *error = NULL;
	int rc, ret = 0;

	/* SRS: srs_domain is decoded, never routed (smtpd_srs.c). */
	rc = smtpd_srs_check_rcpt(ss, addr);
	if (rc != SMTPD_SRS_NOT_SRS)
		return rc == SMTPD_SRS_ACCEPT ? 0 : rc;
	if (address_parse(addr, strlen(addr), NULL, &domain, &error) < 0) {
		smtpd_reply(ss, "501 5.1.3 <%s>: Recipient address rejected: "
		    "%s", addr, error);
		free(error);
		return -1;
	}
	if (r == NULL) {
		smtpd_reply(ss, "451 4.3.0 <%s>: Temporary lookup failure",
		    addr);
		free(domain);
		return -2;
	}
	/*
	 * The domain and the address together: one directory search, for
	 * what is decided here (ROUTE_FIELDS_RCPT: the state and the
	 * quota); the content filter and direct delivery ask for theirs.
	 */
	rc = route_lookup_recipient(r, addr, ROUTE_FIELDS_RCPT, NULL, &ans,
	    &error);
	if (rc < 0) {
		log_warn("lookup %s: %s", addr, error);
		smtpd_reply(ss, "451 4.3.0 <%s>: Temporary lookup failure",
		    addr);
		ret = -2;
		goto out;
	}
	if (rc == 0) {
		/* Logged in, or one of the ISP's own hosts: anywhere. */
		if (smtpd.mode == SMTPD_MODE_SUBMISSION ||
		    smtpd_trust_client(ss))
			goto out;
		log_info("relay denied: %s from %s", addr,
		    ss->peer->client_addr);
		metrics_inc("ispmail_smtpd_rejects_total", "reason", "relay",
		    NULL);
		smtpd_reply(ss, "554 5.7.1 <%s>: Relay access denied", addr);
		ret = -1;
		goto out;
	}
	if (ans == NULL) {
		metrics_inc("ispmail_smtpd_rejects_total", "reason",
		    "unknown_user", NULL);
		log_info("reject: unknown recipient %s from %s", addr,
		    ss->peer->client_addr);
		smtpd_reply(ss, "550 5.1.1 <%s>: Recipient address rejected: "
		    "User unknown", addr);
		ret = -1;
		goto out;
	}
	if (ans->kind == ROUTE_KIND_MAILBOX) {
		if (ans->mailbox->state == ROUTE_STATE_DISABLED) {
			smtpd_reply(ss, "550 5.2.1 <%s>: Recipient address "
			    "rejected: mailbox disabled", addr);
			ret = -1;
			goto out;
		}
		/*
		 * Quota, where this process can read the store's
		 * maildirsize (one host, or a shared store group);
		 * otherwise lmtpd enforces it at delivery.
		 */
		if (ans->mailbox->store_path != NULL &&
		    ans->mailbox->quota > 0 &&
		    maildir_quota_peek(ans->mailbox->store_path, &q) == 1 &&
		    q.bytes + ss->size_hint >= ans->mailbox->quota) {
			smtpd_reply(ss, "452 4.2.2 <%s>: Mailbox full", addr);
			ret = -2;
			goto out;
		}
	}
out:
	free(domain);
	free(error);
	route_answer_free(&ans);
	return ret;
}

void
smtpd_cmd_rcpt(struct smtpd_session *ss, const char *args)
{
	const char *params;
	char *path = NULL, *key = NULL, *value = NULL, *orcpt = NULL;
	struct qfile_rcpt *r;
	int notify = 0;

	if (!ss->have_mail) {
		smtpd_reply(ss, "503 5.5.1 Error: need MAIL command");
		(void) smtpd_error(ss);
		return;
	}
	if (strncasecmp(args, "TO:", 3) != 0 ||
	    smtpd_parse_path(args + 3, &path, &params) < 0 || *path == '\0') {
		smtpd_reply(ss, "501 5.5.4 Syntax: RCPT TO:<address>");
		free(path);
		(void) smtpd_error(ss);
		return;
	}
	if (ss->env.rcpt_count >= (size_t) var_smtpd_recipient_limit) {
		smtpd_reply(ss, "452 4.5.3 Error: too many recipients");
		free(path);
		return;
	}
	if (*params != '\0' && !ss->esmtp) {
		smtpd_reply(ss, "555 5.5.4 Parameters need EHLO");
		goto bad;
	}
	while (smtpd_next_param(&params, &key, &value)) {
		if (strcasecmp(key, "NOTIFY") == 0 && value != NULL &&
		    notify == 0) {
			notify = qfile_notify_parse(value);
			if (notify < 0) {
				smtpd_reply(ss, "501 5.5.4 Bad NOTIFY");
				goto bad;
			}
		} else if (strcasecmp(key, "ORCPT") == 0 && value != NULL &&
		    orcpt == NULL) {
			/* addr-type ";" xtext, printable decoded. */
			orcpt = xtext_orcpt_decode(value, XTEXT_ORCPT_MAX);
			if (orcpt == NULL) {
				smtpd_reply(ss, "501 5.5.4 Bad ORCPT");
				goto bad;
			}
		} else {
			smtpd_reply(ss, "555 5.5.4 Unsupported option: %s", key);
			goto bad;
		}
		free(key);
		free(value);
		key = value = NULL;
	}
	if (smtpd_has_8bit(path) && !ss->env.smtputf8) {
		smtpd_reply(ss, "553 5.6.7 Non-ASCII recipient address needs "
		    "SMTPUTF8");
		goto bad;
	}
	if (smtpd_check_rcpt(ss, path) < 0) {
		free(path);
		free(orcpt);
		return;
	}
	if (ss->env.rcpt_count == ss->rcpt_alloc) {
		ss->rcpt_alloc = ss->rcpt_alloc == 0 ? 8 : ss->rcpt_alloc * 2;
		ss->env.rcpts = xreallocarray(ss->env.rcpts, ss->rcpt_alloc,
		    sizeof(*ss->env.rcpts));
	}
	r = &ss->env.rcpts[ss->env.rcpt_count++];
	memset(r, 0, sizeof(*r));
	r->address = path;
	r->orcpt = orcpt;
	r->notify = notify;
	r->parent = -1;
	smtpd_reply(ss, "250 2.1.5 Ok");
	return;
bad:
	free(key);
	free(value);
	free(path);
	free(orcpt);
	(void) smtpd_error(ss);
}

/*
 * smtpd_auth: AUTH PLAIN and LOGIN (RFC 4954, 4616) against the routing
 * directory, offered in submission mode only, and only over TLS unless
 * auth_allow_plaintext says so for this listener.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "mail_params.h"
#include "metrics.h"
#include "route.h"
#include "sasl.h"
#include "service.h"
#include "smtp_syntax.h"
#include "smtpd.h"
#include "stream.h"
#include "xalloc.h"

/* The largest decoded SASL response (three parts of 1024 and NULs). */
#define SMTPD_SASL_MAX 4096

int
smtpd_auth_offered(const struct smtpd_session *ss)
{
	return smtpd.mode == SMTPD_MODE_SUBMISSION &&
	    (smtpd_tls_active(ss) || var_auth_allow_plaintext);
}

/*
 * Get one client response: the initial response when given, else a 334
 * challenge and a line.  Decoded into out.  0 ok, -1 (reply sent).
 */
static int
smtpd_sasl_response(struct smtpd_session *ss, const char *initial,
	const char *challenge, struct buf *out)
{
	struct buf *line;
	int ret = 0;

	buf_reset(out);
	if (initial != NULL) {
		if (strcmp(initial, "=") == 0)
			return 0;
		if (base64_decode(initial, strlen(initial), out) < 0) {
			smtpd_reply(ss, "501 5.5.2 Invalid base64 data");
			return -1;
		}
		return 0;
	}
	smtpd_reply(ss, "334 %s", challenge);
	if (stream_flush(ss->s) != STREAM_OK) {
		ss->quit = 1;
		return -1;
	}
	line = buf_new((size_t) var_smtpd_line_limit + 1);
	if (stream_read_line(ss->s, line, (size_t) var_smtpd_line_limit) !=
	    STREAM_OK) {
		if (stream_status(ss->s) == STREAM_OK) {
			smtpd_reply(ss, "500 5.5.2 Error: line too long");
		} else {
			ss->quit = 1;
		}
		ret = -1;
	} else if (strcmp(buf_cstr(line), "*") == 0) {
		smtpd_reply(ss, "501 5.7.0 Authentication aborted");
		ret = -1;
	} else if (base64_decode(buf_cstr(line), buf_len(line), out) < 0) {
		smtpd_reply(ss, "501 5.5.2 Invalid base64 data");
		ret = -1;
	}
	buf_free(&line);
	return ret;
}

static void
smtpd_auth_check(struct smtpd_session *ss, const char *login,
	const char *password)
{
	struct route *r = smtpd_route();
	struct route_mailbox *m = NULL;
	const char *reason = "invalid credentials";
	char *error = NULL;
	int rc;

	/* A decoded login goes into logs and Received: printable only. */
	if (!smtp_printable(login, strlen(login))) {
		login = "(not printable)";
		reason = "login has a control or 8-bit character";
		rc = 0;
	} else {
		rc = r == NULL ? -1 : route_authenticate(r, login, password,
		    &m, &reason, &error);
	}
	metrics_inc("ispmail_logins_total", "protocol", "smtp", "result",
	    metrics_result(rc), NULL);
	if (rc > 0) {
		log_info("login %s from %s", login, ss->peer->client_addr);
		ss->auth_user = xstrdup(login);
		ss->auth_mailbox = m;
		smtpd_reply(ss, "235 2.7.0 Authentication successful");
		return;
	}
	if (rc < 0) {
		log_warn("authentication of %s: %s", login,
		    error != NULL ? error : "directory unavailable");
		free(error);
		smtpd_reply(ss, "454 4.7.0 Temporary authentication failure");
		return;
	}
	log_info("authentication failed for %s from %s: %s", login,
	    ss->peer->client_addr, reason);
	ss->auth_failures++;
	/* Slow down guessing; the delay is per failure. */
	if (var_auth_failure_delay > 0) {
		(void) stream_flush(ss->s);
		sleep((unsigned int) var_auth_failure_delay);
	}
	smtpd_reply(ss, "535 5.7.8 Error: authentication failed");
	if (ss->auth_failures >= var_auth_failure_limit) {
		smtpd_reply(ss, "421 4.7.0 %s Error: too many authentication "
		    "failures", smtpd.hostname);
		ss->quit = 1;
	}
}

void
smtpd_cmd_auth(struct smtpd_session *ss, const char *args)
{
	struct buf *resp = buf_new(SMTPD_SASL_MAX);
	char *mech, *authzid = NULL, *authcid = NULL, *password = NULL;
	const char *initial, *error;
	size_t len;

	if (!smtpd_auth_offered(ss)) {
		if (smtpd.mode == SMTPD_MODE_SUBMISSION)
			smtpd_reply(ss, "538 5.7.11 Encryption required for "
			    "requested authentication mechanism");
		else
			smtpd_reply(ss, "503 5.5.1 Error: authentication not "
			    "enabled");
		(void) smtpd_error(ss);
		goto out;
	}
	if (ss->helo == NULL || !ss->esmtp) {
		smtpd_reply(ss, "503 5.5.1 Error: send EHLO first");
		(void) smtpd_error(ss);
		goto out;
	}
	if (ss->auth_user != NULL) {
		smtpd_reply(ss, "503 5.5.1 Error: already authenticated");
		(void) smtpd_error(ss);
		goto out;
	}
	if (ss->have_mail) {
		smtpd_reply(ss, "503 5.5.1 Error: MAIL transaction in "
		    "progress");
		(void) smtpd_error(ss);
		goto out;
	}
	len = strcspn(args, " ");
	mech = xstrndup(args, len);
	initial = args[len] == ' ' ? args + len + 1 : NULL;
	if (strcasecmp(mech, "PLAIN") == 0) {
		if (smtpd_sasl_response(ss, initial, "", resp) < 0)
			goto out_mech;
		if (sasl_plain_parse(resp, &authzid, &authcid, &password,
		    &error) < 0) {
			smtpd_reply(ss, "501 5.5.2 %s", error);
			(void) smtpd_error(ss);
			goto out_mech;
		}
		if (*authzid != '\0' && strcmp(authzid, authcid) != 0) {
			/* No proxy authorisation (acting as someone else). */
			smtpd_reply(ss, "535 5.7.8 Error: authorization "
			    "identity refused");
			goto out_mech;
		}
	} else if (strcasecmp(mech, "LOGIN") == 0) {
		/* "Username:" and "Password:" in base64. */
		if (smtpd_sasl_response(ss, initial, "VXNlcm5hbWU6", resp) < 0)
			goto out_mech;
		authcid = buf_strdup(resp);
		if (*authcid == '\0' || strlen(authcid) != buf_len(resp)) {
			smtpd_reply(ss, "501 5.5.2 Malformed LOGIN response");
			goto out_mech;
		}
		if (smtpd_sasl_response(ss, NULL, "UGFzc3dvcmQ6", resp) < 0)
			goto out_mech;
		password = buf_strdup(resp);
		if (*password == '\0' || strlen(password) != buf_len(resp)) {
			smtpd_reply(ss, "501 5.5.2 Malformed LOGIN response");
			goto out_mech;
		}
	} else {
		smtpd_reply(ss, "504 5.5.4 Unsupported authentication "
		    "mechanism");
		(void) smtpd_error(ss);
		goto out_mech;
	}
	smtpd_auth_check(ss, authcid, password);
out_mech:
	free(mech);
	free(authzid);
	free(authcid);
	if (password != NULL) {
		explicit_bzero(password, strlen(password));
		free(password);
	}
out:
	buf_free(&resp);
}

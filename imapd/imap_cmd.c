/* imap_cmd: the command table, session and selection commands. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "deflate.h"
#include "imap.h"
#include "imap_keywords.h"
#include "imap_lookup.h"
#include "imap_mailbox.h"
#include "log.h"
#include "mail_params.h"
#include "proxy_login.h"
#include "proxy_trust.h"
#include "maildir.h"
#include "metrics.h"
#include "route.h"
#include "sasl.h"
#include "service.h"
#include "store.h"
#include "stream.h"
#include "xalloc.h"

/* Where a command may be used, and how it treats untagged updates. */
#define CMD_ANY		0x01	/* every state */
#define CMD_NOT_AUTH	0x02	/* before login only */
#define CMD_AUTH	0x04	/* after login */
#define CMD_SELECTED	0x08	/* with a mailbox selected */
#define CMD_UID		0x10	/* has a UID form */
#define CMD_NO_EXPUNGE	0x20	/* RFC 3501 7.4.1: no EXPUNGE after it */
/*
 * The command has just read the whole mailbox (SELECT, EXAMINE): no
 * second scan after it.  A change it could have missed (one in the same
 * clock tick as its listing) leaves the directories' mtimes young, so
 * the next command's sync finds it.
 */
#define CMD_FRESH	0x40
/*
 * The command's only changes are its own, which it has reported
 * (STORE): no rescan after it, not even in its UID form.  Rescanning
 * would read the whole folder again because its own renames moved
 * cur/'s mtime (12 ms for one flag in a folder of 10,000); the
 * mtime it recorded stays older than cur/'s, so the next command that
 * syncs (NOOP, IDLE, a UID FETCH...) finds other sessions' changes.
 * A run of UID STOREs reads the folder once instead of once each.
 */
#define CMD_OWN_CHANGES	0x80

struct imap_command {
	const char *name;
	imap_handler *handler;
	unsigned int flags;
};

static imap_handler imap_cmd_capability, imap_cmd_noop, imap_cmd_logout,
	imap_cmd_starttls, imap_cmd_login, imap_cmd_authenticate,
	imap_cmd_id, imap_cmd_enable, imap_cmd_namespace, imap_cmd_select,
	imap_cmd_examine, imap_cmd_close, imap_cmd_unselect, imap_cmd_compress,
	imap_cmd_getquota, imap_cmd_getquotaroot, imap_cmd_setquota;

static const struct imap_command imap_commands[] = {
	{ "CAPABILITY", imap_cmd_capability, CMD_ANY },
	{ "NOOP", imap_cmd_noop, CMD_ANY },
	{ "LOGOUT", imap_cmd_logout, CMD_ANY },
	{ "ID", imap_cmd_id, CMD_ANY },
	{ "STARTTLS", imap_cmd_starttls, CMD_NOT_AUTH },
	{ "LOGIN", imap_cmd_login, CMD_NOT_AUTH },
	{ "AUTHENTICATE", imap_cmd_authenticate, CMD_NOT_AUTH },
	{ "ENABLE", imap_cmd_enable, CMD_AUTH },
	{ "COMPRESS", imap_cmd_compress, CMD_AUTH },
	{ "NAMESPACE", imap_cmd_namespace, CMD_AUTH },
	{ "SELECT", imap_cmd_select, CMD_AUTH | CMD_FRESH },
	{ "EXAMINE", imap_cmd_examine, CMD_AUTH | CMD_FRESH },
	{ "CREATE", imap_cmd_create, CMD_AUTH },
	{ "DELETE", imap_cmd_delete, CMD_AUTH },
	{ "RENAME", imap_cmd_rename, CMD_AUTH },
	{ "SUBSCRIBE", imap_cmd_subscribe, CMD_AUTH },
	{ "UNSUBSCRIBE", imap_cmd_unsubscribe, CMD_AUTH },
	{ "LIST", imap_cmd_list, CMD_AUTH },
	{ "LSUB", imap_cmd_lsub, CMD_AUTH },
	{ "STATUS", imap_cmd_status, CMD_AUTH },
	{ "APPEND", imap_cmd_append, CMD_AUTH },
	{ "IDLE", imap_cmd_idle, CMD_AUTH },
	{ "XMOVING", imap_cmd_xmoving, CMD_AUTH },
	{ "GETQUOTA", imap_cmd_getquota, CMD_AUTH },
	{ "GETQUOTAROOT", imap_cmd_getquotaroot, CMD_AUTH },
	{ "SETQUOTA", imap_cmd_setquota, CMD_AUTH },
	{ "CHECK", imap_cmd_noop, CMD_SELECTED },
	{ "CLOSE", imap_cmd_close, CMD_SELECTED },
	{ "UNSELECT", imap_cmd_unselect, CMD_SELECTED },
	{ "EXPUNGE", imap_cmd_expunge, CMD_SELECTED | CMD_UID },
	{ "SEARCH", imap_cmd_search, CMD_SELECTED | CMD_UID |
	    CMD_NO_EXPUNGE },
	{ "SORT", imap_cmd_sort, CMD_SELECTED | CMD_UID | CMD_NO_EXPUNGE },
	{ "THREAD", imap_cmd_thread, CMD_SELECTED | CMD_UID |
	    CMD_NO_EXPUNGE },
	{ "FETCH", imap_cmd_fetch, CMD_SELECTED | CMD_UID | CMD_NO_EXPUNGE },
	{ "STORE", imap_cmd_store, CMD_SELECTED | CMD_UID | CMD_NO_EXPUNGE |
	    CMD_OWN_CHANGES },
	{ "COPY", imap_cmd_copy, CMD_SELECTED | CMD_UID },
	{ "MOVE", imap_cmd_move, CMD_SELECTED | CMD_UID },
};

const char *
imap_arg_astring(const struct imap_arg *arg)
{
	if (arg->type == IMAP_ARG_STRING)
		return memchr(arg->str, '\0', arg->len) == NULL ? arg->str :
		    NULL;
	/* ASTRING-CHAR: ATOM-CHAR ('[' among them) or ']' (RFC 3501 9). */
	if (arg->type == IMAP_ARG_ATOM && strpbrk(arg->str, "%*") == NULL)
		return arg->str;
	return NULL;
}

int
imap_parse_modseq(const struct imap_arg *arg, uint64_t *modseq_r)
{
	unsigned long long n = 0;
	const char *p;

	if (arg->type != IMAP_ARG_ATOM || arg->len == 0 || arg->len > 19)
		return -1;
	for (p = arg->str; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		n = n * 10 + (unsigned long long) (*p - '0');
	}
	if (n > INT64_MAX)
		return -1;
	*modseq_r = n;
	return 0;
}

unsigned int
imap_flag_from_name(const char *name)
{
	static const struct {
		const char *name;
		unsigned int bit;
	} flags[] = {
		{ "\\Seen", IMAP_FLAG_SEEN },
		{ "\\Answered", IMAP_FLAG_ANSWERED },
		{ "\\Flagged", IMAP_FLAG_FLAGGED },
		{ "\\Deleted", IMAP_FLAG_DELETED },
		{ "\\Draft", IMAP_FLAG_DRAFT },
	};
	size_t i;

	for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		if (strcasecmp(name, flags[i].name) == 0)
			return flags[i].bit;
	}
	return 0;
}

int
imap_parse_flags(const struct imap_arg *arg, unsigned int *flags_r)
{
	const struct imap_arg *list = arg;
	size_t count = 1, i;
	unsigned int bit;

	*flags_r = 0;
	if (arg->type == IMAP_ARG_LIST) {
		list = arg->list;
		count = arg->count;
	}
	for (i = 0; i < count; i++) {
		if (list[i].type != IMAP_ARG_ATOM)
			return -1;
		bit = imap_flag_from_name(list[i].str);
		/* \Recent cannot be stored; keywords are mapped later. */
		if (bit == 0 && (list[i].str[0] == '\\' ||
		    !imap_keyword_valid(list[i].str)))
			return -1;
		*flags_r |= bit;
	}
	return 0;
}

int
imap_select_messages(struct imap_session *sess, const char *text, int uid,
	unsigned char **selected_r)
{
	struct imap_mailbox *box = sess->box;
	struct imap_seqset set;
	unsigned char *selected;
	size_t i, r;

	if (imap_uidset_parse(sess, text, &set) < 0) {
		imap_tagged(sess, "BAD", "Invalid message set");
		return -1;
	}
	selected = xcalloc(box->count + 1, 1);
	/* "$" is a set of UIDs whatever the command (RFC 5182 2.1). */
	if (uid || imap_searchres_is(text)) {
		imap_seqset_resolve(&set, box->count > 0 ?
		    box->msgs[box->count - 1].uid : 0);
		for (i = 0; i < box->count; i++)
			selected[i] = (unsigned char) imap_seqset_contains(&set,
			    box->msgs[i].uid);
	} else {
		imap_seqset_resolve(&set, (uint32_t) box->count);
		for (r = 0; r < set.count; r++) {
			if (set.ranges[r][0] == 0 ||
			    set.ranges[r][1] > box->count) {
				imap_seqset_free(&set);
				free(selected);
				imap_tagged(sess, "BAD", "Invalid message "
				    "sequence number");
				return -1;
			}
			for (i = set.ranges[r][0]; i <= set.ranges[r][1]; i++)
				selected[i - 1] = 1;
		}
	}
	imap_seqset_free(&set);
	*selected_r = selected;
	return 0;
}

void
imap_write_capability(struct imap_session *sess)
{
	imap_printf(sess, "IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE "
	    "NAMESPACE UNSELECT UIDPLUS MOVE CHILDREN SPECIAL-USE "
	    "LIST-EXTENDED LIST-STATUS CREATE-SPECIAL-USE QUOTA CONDSTORE "
	    "QRESYNC ESEARCH SORT ESORT THREAD=ORDEREDSUBJECT "
	    "THREAD=REFERENCES MULTIAPPEND UTF8=ACCEPT COMPRESS=DEFLATE "
	    "BINARY STATUS=SIZE SEARCHRES");
	if (sess->admin)
		imap_printf(sess, " XMOVING");
	if (sess->state != IMAP_STATE_NOT_AUTH)
		return;
	if (sess->tls == NULL && imapd_tls_available())
		imap_printf(sess, " STARTTLS");
	if (sess->tls == NULL && !var_auth_allow_plaintext)
		imap_printf(sess, " LOGINDISABLED");
	else
		imap_printf(sess, " AUTH=PLAIN");
}

static void
imap_cmd_capability(struct imap_session *sess, struct imap_arg *args,
	size_t count)
{
	(void) args;
	if (count != 0) {
		imap_tagged(sess, "BAD", "CAPABILITY takes no arguments");
		return;
	}
	imap_printf(sess, "* CAPABILITY ");
	imap_write_capability(sess);
	imap_printf(sess, "\r\n");
	imap_tagged(sess, "OK", "Capability completed");
}

static void
imap_cmd_noop(struct imap_session *sess, struct imap_arg *args,
	size_t count)
{
	(void) args;
	if (count != 0) {
		imap_tagged(sess, "BAD", "No arguments allowed");
		return;
	}
	imap_tagged(sess, "OK", "Completed");
}

static void
imap_cmd_logout(struct imap_session *sess, struct imap_arg *args,
	size_t count)
{
	(void) args;
	(void) count;
	imap_printf(sess, "* BYE Logging out\r\n");
	imap_tagged(sess, "OK", "Logout completed");
	sess->state = IMAP_STATE_LOGOUT;
}

static void
imap_cmd_starttls(struct imap_session *sess, struct imap_arg *args,
	size_t count)
{
	char *error = NULL;

	(void) args;
	if (count != 0) {
		imap_tagged(sess, "BAD", "No arguments allowed");
		return;
	}
	if (sess->tls != NULL || !imapd_tls_available()) {
		imap_tagged(sess, "NO", "TLS is not available");
		return;
	}
	imap_tagged(sess, "OK", "Begin TLS negotiation now");
	imap_reply_flush(sess);
	if (stream_flush(sess->s) != STREAM_OK) {
		sess->state = IMAP_STATE_LOGOUT;
		return;
	}
	if (imapd_start_tls(sess, &error) < 0) {
		log_info("STARTTLS with %s failed: %s",
		    sess->peer->client_addr, error);
		free(error);
		sess->state = IMAP_STATE_LOGOUT;
	}
}

static int
imap_login_allowed(struct imap_session *sess)
{
	if (sess->tls != NULL || var_auth_allow_plaintext)
		return 1;
	imap_tagged(sess, "NO", "[PRIVACYREQUIRED] Plaintext authentication "
	    "disallowed on non-secure connections");
	return 0;
}

void
imap_login_log_context(struct imap_session *sess, int on)
{
	char *ctx;

	if (!on) {
		log_set_context(NULL);
		return;
	}
	ctx = xasprintf("login %s[%d]", sess->peer->client_addr,
	    sess->peer->client_port);
	log_set_context(ctx);
	free(ctx);
}

/* A refused login: logged, delayed, counted (imap.h). */
void
imap_login_refused(struct imap_session *sess, const char *user,
	const char *method, const char *reason)
{
	log_info("login failed user=%s method=%s client=%s: %s", user,
	    method, sess->peer->client_addr, reason);
	/* Through the stream waiter: other sessions of the process go on
	 * meanwhile (imap_multi.h). */
	if (var_auth_failure_delay > 0)
		stream_pause((int) var_auth_failure_delay * 1000);
	imap_tagged(sess, "NO", "[AUTHENTICATIONFAILED] "
	    "Authentication failed");
	if (++sess->auth_failures >= var_auth_failure_limit) {
		imap_reply_flush(sess);
		imap_printf(sess, "* BYE Too many authentication "
		    "failures\r\n");
		sess->state = IMAP_STATE_LOGOUT;
	}
}

/* Enter the authenticated state for mb (imap.h). */
void
imap_login_enter(struct imap_session *sess, const struct route_mailbox *mb,
	const char *method)
{
	char *error = NULL;

	if (store_path_check(mb->store_path, &error) < 0) {
		log_error("login user=%s: %s", mb->address, error);
		free(error);
		imap_tagged(sess, "NO", "[UNAVAILABLE] Mailbox not configured");
		return;
	}
	sess->user = xstrdup(mb->address);
	sess->root = xstrdup(mb->store_path);
	sess->quota = mb->quota;
	sess->state = IMAP_STATE_AUTH;
	mailbox_state_start(&sess->state_check, imapd_route, sess->user,
	    mb->mail_host);
	/* The move's own session reads on while the mailbox moves. */
	if (sess->admin)
		sess->state_check.address = NULL;
	sess->state_check.root = sess->root;
	log_info("login user=%s method=%s client=%s%s%s%s", sess->user,
	    method, sess->peer->client_addr, sess->tls != NULL ? " tls" : "",
	    sess->proxy_login ? " via proxy " : "",
	    sess->proxy_login ? sess->conn.client_addr : "");
	buf_reset(sess->reply);
	imap_printf(sess, "%s OK [CAPABILITY ", sess->tag);
	imap_write_capability(sess);
	imap_printf(sess, "] Logged in\r\n");
}

/* The mailbox is being moved: end with BYE (mailbox_state.h). */
static int
imap_state_bye(struct imap_session *sess)
{
	imap_printf(sess, "* BYE [UNAVAILABLE] Mailbox is being moved, "
	    "please reconnect\r\n");
	sess->state = IMAP_STATE_LOGOUT;
	return -1;
}

int
imap_state_check(struct imap_session *sess, int force)
{
	if (sess->state == IMAP_STATE_LOGOUT ||
	    !mailbox_state_moving(&sess->state_check, force))
		return 0;
	return imap_state_bye(sess);
}

int
imap_wait_command(struct imap_session *sess, int timeout_ms, int *left_ms)
{
	if (!mailbox_state_wait(&sess->state_check, sess->s, timeout_ms,
	    left_ms))
		return 0;
	return imap_state_bye(sess);
}

static void
imap_login(struct imap_session *sess, const char *user, const char *pass,
	const char *method)
{
	struct route_mailbox *mb = NULL;
	const char *reason = NULL;
	char *error = NULL;
	int rc;

	/* No password: a proxy's login, its token checked already. */
	imap_login_log_context(sess, 1);
	rc = pass != NULL ? imap_lookup_authenticate(imapd_route, user, pass,
	    &mb, &reason, &error) : imap_lookup_authorize(imapd_route, user,
	    &mb, &reason, &error);
	imap_login_log_context(sess, 0);
	metrics_inc("ispmail_logins_total", "protocol", "imap", "result",
	    metrics_result(rc), NULL);
	if (rc < 0) {
		log_warn("login user=%s: %s", user, error != NULL ? error :
		    "temporary failure");
		free(error);
		imap_tagged(sess, "NO", "[UNAVAILABLE] Temporary "
		    "authentication failure");
		return;
	}
	if (rc == 0 || mb->store_path == NULL)
		imap_login_refused(sess, user, method,
		    reason != NULL ? reason : "no store");
	else
		imap_login_enter(sess, mb, method);
	route_mailbox_free(&mb);
}

static void
imap_cmd_login(struct imap_session *sess, struct imap_arg *args,
	size_t count)
{
	const char *user, *pass;

	if (count != 2 || (user = imap_arg_astring(&args[0])) == NULL ||
	    (pass = imap_arg_astring(&args[1])) == NULL) {
		imap_tagged(sess, "BAD", "LOGIN needs a user and a password");
		return;
	}
	if (!imap_login_allowed(sess))
		return;
	imap_login(sess, user, pass, "login");
}

static void
imap_cmd_authenticate(struct imap_session *sess, struct imap_arg *args,
	size_t count)
{
	struct buf *decoded;
	const char *response, *error;
	char *authzid = NULL, *authcid = NULL, *password = NULL;

	if (count < 1 || count > 2 || args[0].type != IMAP_ARG_ATOM ||
	    (count == 2 && args[1].type != IMAP_ARG_ATOM)) {
		imap_tagged(sess, "BAD", "AUTHENTICATE needs a mechanism");
		return;
	}
	if (strcasecmp(args[0].str, "PLAIN") != 0) {
		imap_tagged(sess, "NO", "Unsupported authentication "
		    "mechanism");
		return;
	}
	if (!imap_login_allowed(sess))
		return;
	if (count == 2) {
		response = strcmp(args[1].str, "=") == 0 ? "" : args[1].str;
	} else {
		imap_printf(sess, "+ \r\n");
		if (stream_flush(sess->s) != STREAM_OK ||
		    stream_read_line(sess->s, sess->line,
		    (size_t) var_imap_command_size_limit) != STREAM_OK) {
			imap_tagged(sess, "BAD", "Authentication response "
			    "too long or missing");
			return;
		}
		response = buf_cstr(sess->line);
	}
	if (strcmp(response, "*") == 0) {
		imap_tagged(sess, "BAD", "Authentication canceled");
		return;
	}
	decoded = buf_new(4096);
	if (base64_decode(response, strlen(response), decoded) < 0 ||
	    sasl_plain_parse(decoded, &authzid, &authcid, &password,
	    &error) < 0) {
		buf_free(&decoded);
		imap_tagged(sess, "BAD", "Invalid SASL PLAIN response");
		return;
	}
	buf_free(&decoded);
	if (authzid[0] != '\0' && proxy_login_is_proxy(authcid)) {
		if (imap_proxy_allowed(sess, authzid, password)) {
			sess->proxy_login = 1;
			imap_login(sess, authzid, NULL, "proxy");
			sess->proxy_login = sess->state != IMAP_STATE_NOT_AUTH;
		}
	} else if (authzid[0] != '\0' && strcmp(authzid, authcid) != 0)
		imap_admin_login(sess, authzid, authcid, password);
	else
		imap_login(sess, authcid, password, "plain");
	explicit_bzero(password, strlen(password));
	free(authzid);
	free(authcid);
	free(password);
}

/*
 * Dovecot's convention: before login a proxy in proxy_trusted_networks
 * names its client with the ID fields "x-originating-ip" and
 * "x-originating-port"; from anyone else, or after login, they are
 * ignored (and ID answered as always).  A bad value changes nothing.
 */
static void
imap_id_client(struct imap_session *sess, const struct imap_arg *list,
	size_t count)
{
	struct service_peer client = sess->client;
	const struct imap_arg *field, *value;
	int seen = 0, bad = 0;
	size_t i;

	for (i = 0; i + 1 < count; i += 2) {
		field = &list[i];
		value = &list[i + 1];
		if (field->type != IMAP_ARG_STRING)
			continue;
		if (strcasecmp(field->str, "x-originating-ip") == 0) {
			seen = 1;
			if (value->type != IMAP_ARG_STRING ||
			    strlen(value->str) != value->len ||
			    proxy_trust_set_addr(&client, value->str) < 0)
				bad = 1;
		} else if (strcasecmp(field->str, "x-originating-port") == 0) {
			seen = 1;
			if (value->type != IMAP_ARG_STRING ||
			    strlen(value->str) != value->len ||
			    proxy_trust_set_port(&client, value->str) < 0)
				bad = 1;
		}
	}
	if (!seen)
		return;
	if (!sess->proxy_trusted || sess->state != IMAP_STATE_NOT_AUTH || bad) {
		log_info("ID from %s: x-originating fields ignored: %s",
		    sess->peer->client_addr, bad ? "invalid value" :
		    !sess->proxy_trusted ? "not in proxy_trusted_networks" :
		    "after login");
		return;
	}
	log_info("ID from %s: client=%s[%d]", sess->peer->client_addr,
	    client.client_addr, client.client_port);
	sess->client = client;
}

static void
imap_cmd_id(struct imap_session *sess, struct imap_arg *args, size_t count)
{
	if (count != 1 || (args[0].type != IMAP_ARG_LIST &&
	    !(args[0].type == IMAP_ARG_ATOM &&
	    strcasecmp(args[0].str, "NIL") == 0)) ||
	    (args[0].type == IMAP_ARG_LIST && (args[0].count % 2 != 0 ||
	    args[0].count > 60))) {
		imap_tagged(sess, "BAD", "ID needs NIL or a list of pairs");
		return;
	}
	if (args[0].type == IMAP_ARG_LIST)
		imap_id_client(sess, args[0].list, args[0].count);
	imap_printf(sess, "* ID (\"name\" \"ispmail\" \"vendor\" "
	    "\"ispmail\")\r\n");
	imap_tagged(sess, "OK", "ID completed");
}

static void
imap_cmd_enable(struct imap_session *sess, struct imap_arg *args,
	size_t count)
{
	struct buf *enabled;
	size_t i;

	if (count == 0) {
		imap_tagged(sess, "BAD", "ENABLE needs capabilities");
		return;
	}
	for (i = 0; i < count; i++) {
		if (args[i].type != IMAP_ARG_ATOM) {
			imap_tagged(sess, "BAD", "Bad capability name");
			return;
		}
	}
	/* Unknown names are ignored (RFC 5161 3.1). */
	enabled = buf_new(64);
	for (i = 0; i < count; i++) {
		if (imap_enable_condstore(sess, args[i].str, enabled))
			continue;
		if (strcasecmp(args[i].str, "UTF8=ACCEPT") == 0) {
			if (!sess->utf8_accept)
				(void) buf_append_str(enabled, " UTF8=ACCEPT");
			sess->utf8_accept = 1;
		}
		/* RFC 9051 includes UTF8=ACCEPT: names go in UTF-8. */
		if (strcasecmp(args[i].str, "IMAP4rev2") == 0) {
			if (!sess->rev2)
				(void) buf_append_str(enabled, " IMAP4rev2");
			sess->rev2 = 1;
			sess->utf8_accept = 1;
		}
	}
	imap_printf(sess, "* ENABLED%s\r\n", buf_cstr(enabled));
	buf_free(&enabled);
	imap_tagged(sess, "OK", "Enabled");
}

/* RFC 4978: everything after the tagged OK is deflated both ways. */
static void
imap_cmd_compress(struct imap_session *sess, struct imap_arg *args,
	size_t count)
{
	char *error = NULL;

	if (count != 1 || args[0].type != IMAP_ARG_ATOM) {
		imap_tagged(sess, "BAD", "COMPRESS needs a mechanism");
		return;
	}
	if (strcasecmp(args[0].str, "DEFLATE") != 0) {
		imap_tagged(sess, "BAD", "Unknown compression mechanism");
		return;
	}
	if (sess->compress != NULL) {
		imap_tagged(sess, "NO", "[COMPRESSIONACTIVE] DEFLATE "
		    "active already");
		return;
	}
	imap_tagged(sess, "OK", "DEFLATE active");
	imap_reply_flush(sess);
	if (stream_flush(sess->s) != STREAM_OK) {
		sess->state = IMAP_STATE_LOGOUT;
		return;
	}
	/* The client waits for the OK: what it sent before is void. */
	stream_purge_input(sess->s);
	sess->compress = deflate_start(sess->s, &error);
	if (sess->compress == NULL) {
		log_error("user=%s COMPRESS: %s", sess->user, error);
		free(error);
		sess->state = IMAP_STATE_LOGOUT;
	}
}

static void
imap_cmd_namespace(struct imap_session *sess, struct imap_arg *args,
	size_t count)
{
	(void) args;
	if (count != 0) {
		imap_tagged(sess, "BAD", "No arguments allowed");
		return;
	}
	imap_printf(sess, "* NAMESPACE ((\"\" \".\")) NIL NIL\r\n");
	imap_tagged(sess, "OK", "Namespace completed");
}

static void
imap_select(struct imap_session *sess, struct imap_arg *args, size_t count,
	int readonly)
{
	const char *name, *error;
	char *dir, *open_error = NULL;
	struct imap_qresync qr;
	size_t i;

	/*
	 * RFC 7162 3.2.11: a QRESYNC client learns the old one closed;
	 * IMAP4rev2 sends it always (RFC 9051 6.3.2).
	 */
	if (sess->box != NULL && (sess->qresync || sess->rev2))
		imap_printf(sess, "* OK [CLOSED] Previous mailbox closed\r\n");
	imap_mailbox_close(&sess->box);
	imap_searchres_clear(sess);
	sess->state = IMAP_STATE_AUTH;
	memset(&qr, 0, sizeof(qr));
	if ((count != 1 && count != 2) ||
	    (name = imap_arg_astring(&args[0])) == NULL) {
		imap_tagged(sess, "BAD", "SELECT needs a mailbox name");
		return;
	}
	if (count == 2 && imap_select_params(sess, &args[1], &qr) < 0)
		return;
	if ((dir = imap_folder_dir(sess, name, &error)) == NULL) {
		imap_tagged(sess, "NO", "%s", error);
		return;
	}
	if (!imap_folder_exists(dir)) {
		free(dir);
		imap_tagged(sess, "NO", "[NONEXISTENT] Mailbox doesn't exist");
		return;
	}
	/* A QRESYNC resync's expunges come with the one read of the
	 * MODSEQ record. */
	if (imap_mailbox_open_since(name, dir, readonly, qr.present ?
	    qr.modseq : 0, &sess->box, &open_error) < 0) {
		log_error("user=%s select %s: %s", sess->user, name,
		    open_error);
		free(open_error);
		free(dir);
		imap_tagged(sess, "NO", "[SERVERBUG] Cannot open mailbox");
		return;
	}
	free(dir);
	sess->state = IMAP_STATE_SELECTED;
	imap_write_flag_lists(sess);
	imap_printf(sess, "* %zu EXISTS\r\n", sess->box->count);
	if (sess->rev2) {
		/* RFC 9051 6.3.2: LIST instead of RECENT and UNSEEN. */
		imap_printf(sess, "* LIST () \".\" ");
		imap_write_mailbox(sess, sess->box->name);
		imap_printf(sess, "\r\n");
	} else {
		imap_printf(sess, "* %zu RECENT\r\n",
		    imap_mailbox_recent(sess->box));
	}
	for (i = 0; i < sess->box->count && !sess->rev2; i++) {
		if (!(sess->box->msgs[i].flags & IMAP_FLAG_SEEN)) {
			imap_printf(sess, "* OK [UNSEEN %zu] First unseen\r\n",
			    i + 1);
			break;
		}
	}
	imap_printf(sess, "* OK [UIDVALIDITY %u] UIDs valid\r\n",
	    (unsigned) sess->box->uidvalidity);
	imap_printf(sess, "* OK [UIDNEXT %u] Predicted next UID\r\n",
	    (unsigned) sess->box->uidnext);
	imap_select_condstore(sess, &qr);
	imap_tagged(sess, "OK", "[%s] %s completed",
	    readonly ? "READ-ONLY" : "READ-WRITE",
	    readonly ? "Examine" : "Select");
}

static void
imap_cmd_select(struct imap_session *sess, struct imap_arg *args,
	size_t count)
{
	imap_select(sess, args, count, 0);
}

static void
imap_cmd_examine(struct imap_session *sess, struct imap_arg *args,
	size_t count)
{
	imap_select(sess, args, count, 1);
}

static void
imap_cmd_close(struct imap_session *sess, struct imap_arg *args,
	size_t count)
{
	(void) args;
	if (count != 0) {
		imap_tagged(sess, "BAD", "No arguments allowed");
		return;
	}
	if (!sess->box->readonly)
		(void) imap_expunge(sess, NULL, 0);
	imap_mailbox_close(&sess->box);
	imap_searchres_clear(sess);
	sess->state = IMAP_STATE_AUTH;
	imap_tagged(sess, "OK", "Close completed");
}

static void
imap_cmd_unselect(struct imap_session *sess, struct imap_arg *args,
	size_t count)
{
	(void) args;
	if (count != 0) {
		imap_tagged(sess, "BAD", "No arguments allowed");
		return;
	}
	imap_mailbox_close(&sess->box);
	imap_searchres_clear(sess);
	sess->state = IMAP_STATE_AUTH;
	imap_tagged(sess, "OK", "Unselect completed");
}

int
imap_sync(struct imap_session *sess)
{
	if (sess->box == NULL || imap_mailbox_sync(sess, sess->box) == 0)
		return 0;
	imap_printf(sess, "* BYE Mailbox was deleted or its UIDVALIDITY "
	    "changed\r\n");
	sess->state = IMAP_STATE_LOGOUT;
	return -1;
}

static void
imap_write_quota(struct imap_session *sess)
{
	struct maildir_quota q;
	char *error = NULL;

	if (maildir_quota_get(sess->root, sess->quota, &q, &error) < 0) {
		log_error("user=%s quota: %s", sess->user, error);
		free(error);
		imap_printf(sess, "* QUOTA \"\" ()\r\n");
		return;
	}
	imap_printf(sess, "* QUOTA \"\" (");
	if (q.bytes_limit > 0)
		imap_printf(sess, "STORAGE %lld %lld", (q.bytes + 1023) / 1024,
		    q.bytes_limit / 1024);
	if (q.count_limit > 0)
		imap_printf(sess, "%sMESSAGE %lld %lld",
		    q.bytes_limit > 0 ? " " : "", q.count, q.count_limit);
	imap_printf(sess, ")\r\n");
}

static void
imap_cmd_getquota(struct imap_session *sess, struct imap_arg *args,
	size_t count)
{
	const char *root;

	if (count != 1 || (root = imap_arg_astring(&args[0])) == NULL) {
		imap_tagged(sess, "BAD", "GETQUOTA needs a quota root");
		return;
	}
	if (root[0] != '\0') {
		imap_tagged(sess, "NO", "[NONEXISTENT] No such quota root");
		return;
	}
	imap_write_quota(sess);
	imap_tagged(sess, "OK", "Getquota completed");
}

static void
imap_cmd_getquotaroot(struct imap_session *sess, struct imap_arg *args,
	size_t count)
{
	const char *name, *error;
	char *dir;

	if (count != 1 || (name = imap_arg_astring(&args[0])) == NULL) {
		imap_tagged(sess, "BAD", "GETQUOTAROOT needs a mailbox");
		return;
	}
	dir = imap_folder_dir(sess, name, &error);
	if (dir == NULL || !imap_folder_exists(dir)) {
		free(dir);
		imap_tagged(sess, "NO", "[NONEXISTENT] Mailbox doesn't exist");
		return;
	}
	free(dir);
	imap_printf(sess, "* QUOTAROOT ");
	imap_write_mailbox(sess, name);
	imap_printf(sess, " \"\"\r\n");
	imap_write_quota(sess);
	imap_tagged(sess, "OK", "Getquotaroot completed");
}

static void
imap_cmd_setquota(struct imap_session *sess, struct imap_arg *args,
	size_t count)
{
	(void) args;
	(void) count;
	imap_tagged(sess, "NO", "[NOPERM] Quota is set by the provider");
}

void
imap_cmd_dispatch(struct imap_session *sess, struct imap_arg *args,
	size_t count)
{
	const struct imap_command *cmd = NULL;
	const char *verb = args[1].str;
	size_t i, first = 2;

	sess->uid_cmd = 0;
	if (strcasecmp(verb, "UID") == 0) {
		if (count < 3 || args[2].type != IMAP_ARG_ATOM) {
			imap_tagged(sess, "BAD", "UID needs a command");
			return;
		}
		verb = args[2].str;
		sess->uid_cmd = 1;
		first = 3;
	}
	for (i = 0; i < sizeof(imap_commands) / sizeof(imap_commands[0]);
	    i++) {
		if (strcasecmp(verb, imap_commands[i].name) == 0) {
			cmd = &imap_commands[i];
			break;
		}
	}
	if (cmd == NULL || (sess->uid_cmd && !(cmd->flags & CMD_UID))) {
		imap_tagged(sess, "BAD", "Unknown command");
		return;
	}
	if ((cmd->flags & CMD_NOT_AUTH) &&
	    sess->state != IMAP_STATE_NOT_AUTH) {
		imap_tagged(sess, "BAD", "Already authenticated");
		return;
	}
	if ((cmd->flags & (CMD_AUTH | CMD_SELECTED)) &&
	    sess->state == IMAP_STATE_NOT_AUTH) {
		imap_tagged(sess, "NO", "Not authenticated");
		return;
	}
	if ((cmd->flags & CMD_SELECTED) && sess->state != IMAP_STATE_SELECTED) {
		imap_tagged(sess, "BAD", "No mailbox selected");
		return;
	}
	if (sess->utf8_accept && imap_utf8_args(sess, cmd->name, args + first,
	    count - first) < 0)
		return;
	cmd->handler(sess, args + first, count - first);
	if (sess->state == IMAP_STATE_SELECTED &&
	    !(cmd->flags & (CMD_FRESH | CMD_OWN_CHANGES)) &&
	    (!(cmd->flags & CMD_NO_EXPUNGE) || sess->uid_cmd))
		(void) imap_sync(sess);
}

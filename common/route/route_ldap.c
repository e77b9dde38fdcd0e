/* route_ldap: the LDAP routing directory backend; see ispmail-ldap(5). */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <ldap.h>

#include "buf.h"
#include "log.h"
#include "metrics.h"
#include "mail_params.h"
#include "params.h"
#include "route_backend.h"
#include "xalloc.h"

/*
 * A server that failed to connect or dropped us is skipped this long, so
 * a dead primary costs one connect timeout per interval, not per lookup.
 * When every server is marked dead they are all tried anyway.
 */
#define ROUTE_LDAP_DEAD_SECONDS 30
/* The longest attribute value we accept from the directory. */
#define ROUTE_LDAP_VALUE_MAX 4096
/* The longest filter or DN we build (values are <= 4096 escaped x3). */
#define ROUTE_LDAP_TEXT_MAX (16 * 1024)
/* The longest bind password file. */
#define ROUTE_LDAP_PASSWORD_MAX 1024
/*
 * A lookup by exact key matches one entry; more means the directory is
 * inconsistent.  Ask for a few so we can say so rather than pick one.
 */
#define ROUTE_LDAP_LOOKUP_SIZELIMIT 8

#define ROUTE_LDAP_OC_DOMAIN "ispmailDomain"
#define ROUTE_LDAP_OC_MAILBOX "ispmailMailbox"
#define ROUTE_LDAP_OC_ALIAS "ispmailAlias"
#define ROUTE_LDAP_OC_RELAY "ispmailRelayRecipient"

struct route_ldap_server {
	char *uri;
	int implicit_tls;		/* ldaps:// */
	time_t dead_until;		/* monotonic seconds */
};

struct route_ldap_conn {
	LDAP *ld;			/* NULL: slot free */
	size_t server;			/* index into servers */
	int busy;
};

enum route_ldap_cache_kind {
	ROUTE_LDAP_CACHE_DOMAIN = 'd',
	ROUTE_LDAP_CACHE_MAILBOX = 'm',
	ROUTE_LDAP_CACHE_ALIAS = 'a',
	ROUTE_LDAP_CACHE_RELAY = 'r',
};

struct route_ldap_cache_entry {
	char *key;			/* kind letter, ':', lookup key */
	enum route_ldap_cache_kind kind;
	int found;
	void *record;			/* a copy, or NULL (negative, relay) */
	time_t expires;
	struct route_ldap_cache_entry *hash_next;
	struct route_ldap_cache_entry *older, *newer;
};

struct route_ldap {
	struct route_ldap_server *servers;
	size_t server_count;
	char *base_dn;
	char *bind_dn;			/* "" = anonymous */
	char *bind_password;
	struct route_ldap_conn *pool;
	size_t pool_size;

	struct route_ldap_cache_entry **buckets;
	size_t bucket_count;		/* power of two, 0 = no cache */
	size_t cache_count;
	struct route_ldap_cache_entry *oldest, *newest;
};

/* ---- small helpers ------------------------------------------------------ */

static time_t
route_ldap_now(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		log_panic("clock_gettime(CLOCK_MONOTONIC): %m");
	return ts.tv_sec;
}

/* Connection-level trouble: drop the connection and try the next server. */
static int
route_ldap_conn_lost(int ldrc)
{
	return ldrc == LDAP_SERVER_DOWN || ldrc == LDAP_TIMEOUT
	    || ldrc == LDAP_CONNECT_ERROR || ldrc == LDAP_UNAVAILABLE
	    || ldrc == LDAP_BUSY;
}

/* The server's diagnostic text for the last operation on ld, or "". */
static char *
route_ldap_error_text(LDAP *ld, int ldrc)
{
	char *diag = NULL, *text;

	if (ld != NULL)
		(void) ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
	if (diag != NULL && diag[0] != '\0')
		text = xasprintf("%s (%s)", ldap_err2string(ldrc), diag);
	else
		text = xstrdup(ldap_err2string(ldrc));
	if (diag != NULL)
		ldap_memfree(diag);
	return text;
}

/*
 * RFC 4515 section 3: a value in a filter escapes '*', '(', ')', '\' and
 * NUL as \XX.  We escape every control and non-ASCII byte too, which the
 * RFC allows, so no byte of a looked-up address can change the filter.
 */
static int
route_ldap_filter_escape(struct buf *b, const char *value)
{
	const unsigned char *p;

	for (p = (const unsigned char *) value; *p != '\0'; p++) {
		if (*p == '*' || *p == '(' || *p == ')' || *p == '\\'
		    || *p < 0x20 || *p >= 0x7f) {
			if (buf_printf(b, "\\%02x", *p) < 0)
				return -1;
		} else if (buf_append_char(b, (char) *p) < 0) {
			return -1;
		}
	}
	return 0;
}

/*
 * RFC 4514 section 2.4: an attribute value in a DN escapes the specials
 * ",+\"\\<>;=", a leading space or '#', a trailing space and NUL; we use
 * the \XX form for all of them and for control bytes.
 */
static int
route_ldap_dn_escape(struct buf *b, const char *value)
{
	const unsigned char *p;
	size_t len = strlen(value), i;

	for (i = 0, p = (const unsigned char *) value; i < len; i++) {
		int special = strchr(",+\"\\<>;=", p[i]) != NULL || p[i] < 0x20
		    || p[i] == 0x7f || (i == 0 && (p[i] == ' ' || p[i] == '#'))
		    || (i == len - 1 && p[i] == ' ');

		if (special ? buf_printf(b, "\\%02x", p[i]) < 0
		    : buf_append_char(b, (char) p[i]) < 0)
			return -1;
	}
	return 0;
}

/*
 * Build "(&(objectClass=OC)(ATTR=VALUE))", or with alt_attr
 * "(&(objectClass=OC)(|(ATTR=VALUE)(ALT=VALUE)))"; NULL when too long.
 */
static char *
route_ldap_filter(const char *oc, const char *attr, const char *alt_attr,
	const char *value)
{
	struct buf *b = buf_new(ROUTE_LDAP_TEXT_MAX);
	char *filter = NULL;
	int rc;

	rc = buf_printf(b, "(&(objectClass=%s)", oc);
	if (alt_attr != NULL && rc == 0)
		rc = buf_append_str(b, "(|");
	if (rc == 0)
		rc = buf_printf(b, "(%s=", attr);
	if (rc == 0)
		rc = route_ldap_filter_escape(b, value);
	if (rc == 0 && alt_attr != NULL) {
		rc = buf_printf(b, ")(%s=", alt_attr);
		if (rc == 0)
			rc = route_ldap_filter_escape(b, value);
		if (rc == 0)
			rc = buf_append_char(b, ')');
	}
	if (rc == 0)
		rc = buf_append_str(b, "))");
	if (rc == 0)
		filter = buf_strdup(b);
	buf_free(&b);
	return filter;
}

/* "ATTR=VALUE,PARENT" with VALUE escaped; NULL when too long. */
static char *
route_ldap_child_dn(const char *attr, const char *value, const char *parent)
{
	struct buf *b = buf_new(ROUTE_LDAP_TEXT_MAX);
	char *dn = NULL;

	if (buf_printf(b, "%s=", attr) == 0
	    && route_ldap_dn_escape(b, value) == 0
	    && buf_printf(b, ",%s", parent) == 0)
		dn = buf_strdup(b);
	buf_free(&b);
	return dn;
}

static void
route_ldap_lower(char *s)
{
	for (; *s != '\0'; s++)
		*s = (char) tolower((unsigned char) *s);
}

/* Lower-case the domain part of an address (domains are case-blind). */
static void
route_ldap_lower_domain(char *address)
{
	char *at = strrchr(address, '@');

	if (at != NULL)
		route_ldap_lower(at + 1);
}

static int
route_ldap_names_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

static void
route_ldap_strv_free(char **v, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++)
		free(v[i]);
	free(v);
}

static char **
route_ldap_strv_dup(char *const *v, size_t count)
{
	char **copy = xcalloc(count + 1, sizeof(*copy));
	size_t i;

	for (i = 0; i < count; i++)
		copy[i] = xstrdup(v[i]);
	return copy;
}

static struct route_alias *
route_ldap_alias_dup(const struct route_alias *a)
{
	struct route_alias *copy = xcalloc(1, sizeof(*copy));

	copy->address = xstrdup(a->address);
	copy->targets = route_ldap_strv_dup(a->targets, a->target_count);
	copy->target_count = a->target_count;
	return copy;
}

/* ---- configuration ------------------------------------------------------ */

/* Read ldap_bind_password_file: its first line, without the newline. */
static int
route_ldap_read_password(const char *path, char **password_r,
	char **error_r)
{
	struct buf *b = buf_new(ROUTE_LDAP_PASSWORD_MAX + 2);
	char chunk[256];
	ssize_t n;
	int fd, rc = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		*error_r = xasprintf("ldap_bind_password_file %s: %s", path,
		    strerror(errno));
		buf_free(&b);
		return -1;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*error_r = xasprintf("ldap_bind_password_file %s: %s",
			    path, strerror(errno));
			rc = -1;
			break;
		}
		if (buf_append(b, chunk, (size_t) n) < 0) {
			*error_r = xasprintf("ldap_bind_password_file %s: "
			    "longer than %d bytes", path,
			    ROUTE_LDAP_PASSWORD_MAX);
			rc = -1;
			break;
		}
	}
	explicit_bzero(chunk, sizeof(chunk));
	(void) close(fd);
	if (rc == 0) {
		/* The first line is the password: editors add a newline. */
		const char *nl = memchr(buf_cstr(b), '\n', buf_len(b));

		if (nl != NULL)
			buf_truncate(b, (size_t) (nl - buf_cstr(b)));
		buf_rtrim(b, "\r");
		if (buf_len(b) == 0 || memchr(buf_cstr(b), '\0',
		    buf_len(b)) != NULL) {
			*error_r = xasprintf("ldap_bind_password_file %s: "
			    "empty or contains a NUL byte", path);
			rc = -1;
		} else {
			*password_r = buf_strdup(b);
		}
	}
	explicit_bzero(buf_data(b), buf_len(b));
	buf_free(&b);
	return rc;
}

static int
route_ldap_parse_servers(struct route_ldap *rl, char **error_r)
{
	char **uris;
	int count, i;

	uris = params_list_split(var_ldap_server_uris, &count);
	if (count == 0) {
		params_list_free(uris);
		*error_r = xstrdup("ldap_server_uris is empty");
		return -1;
	}
	rl->servers = xcalloc((size_t) count, sizeof(*rl->servers));
	for (i = 0; i < count; i++) {
		LDAPURLDesc *lud = NULL;

		if (ldap_url_parse(uris[i], &lud) != LDAP_URL_SUCCESS
		    || (strcasecmp(lud->lud_scheme, "ldap") != 0
		    && strcasecmp(lud->lud_scheme, "ldaps") != 0
		    && strcasecmp(lud->lud_scheme, "ldapi") != 0)) {
			*error_r = xasprintf("ldap_server_uris: not an "
			    "ldap://, ldaps:// or ldapi:// URI: %s", uris[i]);
			if (lud != NULL)
				ldap_free_urldesc(lud);
			params_list_free(uris);
			return -1;
		}
		rl->servers[i].uri = xstrdup(uris[i]);
		rl->servers[i].implicit_tls =
		    strcasecmp(lud->lud_scheme, "ldaps") == 0;
		rl->server_count++;
		ldap_free_urldesc(lud);
	}
	params_list_free(uris);
	return 0;
}

static int
route_ldap_check_config(struct route_ldap *rl, char **error_r)
{
	LDAPDN dn = NULL;

	if (route_ldap_parse_servers(rl, error_r) < 0)
		return -1;
	if (var_ldap_base_dn[0] == '\0'
	    || ldap_str2dn(var_ldap_base_dn, &dn, LDAP_DN_FORMAT_LDAPV3)
	    != LDAP_SUCCESS) {
		*error_r = xasprintf("ldap_base_dn: not a DN: \"%s\"",
		    var_ldap_base_dn);
		return -1;
	}
	ldap_dnfree(dn);
	rl->base_dn = xstrdup(var_ldap_base_dn);
	rl->bind_dn = xstrdup(var_ldap_bind_dn);
	if (var_ldap_bind_dn[0] != '\0'
	    && var_ldap_bind_password_file[0] == '\0') {
		*error_r = xstrdup("ldap_bind_dn is set but "
		    "ldap_bind_password_file is empty");
		return -1;
	}
	if (var_ldap_bind_dn[0] == '\0'
	    && var_ldap_bind_password_file[0] != '\0') {
		*error_r = xstrdup("ldap_bind_password_file is set but "
		    "ldap_bind_dn is empty");
		return -1;
	}
	if (var_ldap_bind_password_file[0] != '\0'
	    && route_ldap_read_password(var_ldap_bind_password_file,
	    &rl->bind_password, error_r) < 0)
		return -1;
	if (var_ldap_tls_ca_file[0] != '\0'
	    && access(var_ldap_tls_ca_file, R_OK) < 0) {
		*error_r = xasprintf("ldap_tls_ca_file %s: %s",
		    var_ldap_tls_ca_file, strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- connections -------------------------------------------------------- */

static int
route_ldap_set_options(LDAP *ld, int tls)
{
	struct timeval connect_tv = { (time_t) var_ldap_connect_timeout, 0 };
	struct timeval op_tv = { (time_t) var_ldap_search_timeout, 0 };
	int version = LDAP_VERSION3, demand = LDAP_OPT_X_TLS_DEMAND, zero = 0;
	int rc;

	if ((rc = ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version))
	    != LDAP_OPT_SUCCESS
	    || (rc = ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF))
	    != LDAP_OPT_SUCCESS
	    || (rc = ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT,
	    &connect_tv)) != LDAP_OPT_SUCCESS
	    /* The deadline of every synchronous call: bind, StartTLS, writes. */
	    || (rc = ldap_set_option(ld, LDAP_OPT_TIMEOUT, &op_tv))
	    != LDAP_OPT_SUCCESS)
		return rc;
	if (!tls)
		return LDAP_SUCCESS;
	if ((rc = ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand))
	    != LDAP_OPT_SUCCESS)
		return rc;
	if (var_ldap_tls_ca_file[0] != '\0'
	    && (rc = ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE,
	    var_ldap_tls_ca_file)) != LDAP_OPT_SUCCESS)
		return rc;
	/* Per-handle TLS options take effect only in a new context. */
	return ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &zero);
}

/*
 * Connect to one server and bind (simple; dn "" is anonymous).  Returns
 * an LDAP result code; *ld_r set on LDAP_SUCCESS, else *text_r says why.
 */
static int
route_ldap_connect_one(const struct route_ldap_server *server,
	const char *dn, const char *password, LDAP **ld_r, char **text_r)
{
	struct berval cred;
	LDAP *ld = NULL;
	int rc, tls;

	tls = server->implicit_tls || var_ldap_start_tls;
	if ((rc = ldap_initialize(&ld, server->uri)) != LDAP_SUCCESS) {
		*text_r = xasprintf("%s: %s", server->uri, ldap_err2string(rc));
		return rc;
	}
	if ((rc = route_ldap_set_options(ld, tls)) != LDAP_OPT_SUCCESS) {
		*text_r = xasprintf("%s: setting options: %s", server->uri,
		    ldap_err2string(rc));
		(void) ldap_unbind_ext_s(ld, NULL, NULL);
		/* Not the server's fault: do not fail over on it. */
		return rc == LDAP_OPT_ERROR ? LDAP_LOCAL_ERROR : rc;
	}
	if (var_ldap_start_tls && !server->implicit_tls
	    && (rc = ldap_start_tls_s(ld, NULL, NULL)) != LDAP_SUCCESS) {
		char *why = route_ldap_error_text(ld, rc);

		*text_r = xasprintf("%s: StartTLS: %s", server->uri, why);
		free(why);
		(void) ldap_unbind_ext_s(ld, NULL, NULL);
		/* A server that cannot do TLS is as good as down to us. */
		return route_ldap_conn_lost(rc) ? rc : LDAP_CONNECT_ERROR;
	}
	cred.bv_val = (char *) (uintptr_t) (password != NULL ? password : "");
	cred.bv_len = password != NULL ? strlen(password) : 0;
	rc = ldap_sasl_bind_s(ld, dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL,
	    NULL);
	if (rc != LDAP_SUCCESS) {
		char *why = route_ldap_error_text(ld, rc);

		*text_r = xasprintf("%s: bind as \"%s\": %s", server->uri, dn,
		    why);
		free(why);
		(void) ldap_unbind_ext_s(ld, NULL, NULL);
		return rc;
	}
	*ld_r = ld;
	return LDAP_SUCCESS;
}

static void
route_ldap_mark_dead(struct route_ldap *rl, size_t server, const char *why)
{
	time_t now = route_ldap_now();
	size_t i;

	/* Said once per outage, not once per lookup while it lasts. */
	if (rl->servers[server].dead_until <= now)
		log_warn("ldap: %s: skipping this server for %ds", why,
		    ROUTE_LDAP_DEAD_SECONDS);
	rl->servers[server].dead_until = now + ROUTE_LDAP_DEAD_SECONDS;
	/* Idle connections to it would only fail the retry too. */
	for (i = 0; i < rl->pool_size; i++) {
		struct route_ldap_conn *c = &rl->pool[i];

		if (c->ld != NULL && !c->busy && c->server == server) {
			(void) ldap_unbind_ext_s(c->ld, NULL, NULL);
			c->ld = NULL;
		}
	}
}

/*
 * Connect and bind to the first server that answers, in the order of
 * ldap_server_uris, skipping recently dead ones unless all are.  0 ok;
 * -1 with *error_r and *ldrc_r (the last server's result code).
 */
static int
route_ldap_connect(struct route_ldap *rl, const char *dn,
	const char *password, LDAP **ld_r, size_t *server_r, int *ldrc_r,
	char **error_r)
{
	struct buf *why = buf_new(ROUTE_LDAP_TEXT_MAX);
	time_t now = route_ldap_now();
	int pass, skipped = 0, rc = LDAP_SERVER_DOWN;
	size_t i;

	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < rl->server_count; i++) {
			int dead = rl->servers[i].dead_until > now;
			char *text = NULL;

			if (dead != pass) {
				skipped |= dead;
				continue;
			}
			rc = route_ldap_connect_one(&rl->servers[i], dn,
			    password, ld_r, &text);
			if (rc == LDAP_SUCCESS) {
				rl->servers[i].dead_until = 0;
				*server_r = i;
				buf_free(&why);
				return 0;
			}
			if (!route_ldap_conn_lost(rc)) {
				/* The server answered: its answer stands. */
				*ldrc_r = rc;
				*error_r = text;
				buf_free(&why);
				return -1;
			}
			route_ldap_mark_dead(rl, i, text);
			(void) buf_printf(why, "%s%s", buf_len(why) > 0 ? "; "
			    : "", text);
			free(text);
		}
		if (!skipped)
			break;
	}
	*ldrc_r = rc;
	*error_r = xasprintf("directory unreachable: %s", buf_cstr(why));
	buf_free(&why);
	return -1;
}

/* An idle pooled connection, or a new one if the pool has room. */
static struct route_ldap_conn *
route_ldap_pool_get(struct route_ldap *rl, char **error_r)
{
	struct route_ldap_conn *slot = NULL;
	size_t i;
	int ldrc;

	for (i = 0; i < rl->pool_size; i++) {
		if (rl->pool[i].ld != NULL && !rl->pool[i].busy) {
			rl->pool[i].busy = 1;
			return &rl->pool[i];
		}
		if (rl->pool[i].ld == NULL && slot == NULL)
			slot = &rl->pool[i];
	}
	if (slot == NULL) {
		/* Only a caller that nests lookups can get here. */
		log_warn("ldap: cap reached at ldap_pool_size: all %zu "
		    "connections busy", rl->pool_size);
		metrics_inc("ispmail_cap_reached_total", "at",
		    "ldap_pool_size", NULL);
		*error_r = xasprintf("all %zu LDAP connections are busy",
		    rl->pool_size);
		return NULL;
	}
	if (route_ldap_connect(rl, rl->bind_dn, rl->bind_password, &slot->ld,
	    &slot->server, &ldrc, error_r) < 0)
		return NULL;
	slot->busy = 1;
	return slot;
}

static void
route_ldap_pool_put(struct route_ldap_conn *conn)
{
	conn->busy = 0;
}

/* Close a connection whose state we no longer trust. */
static void
route_ldap_pool_drop(struct route_ldap *rl, struct route_ldap_conn *conn,
	int ldrc, const char *why)
{
	size_t server = conn->server;

	(void) ldap_unbind_ext_s(conn->ld, NULL, NULL);
	conn->ld = NULL;
	conn->busy = 0;
	if (route_ldap_conn_lost(ldrc))
		route_ldap_mark_dead(rl, server, why);
}

/* ---- operations --------------------------------------------------------- */

/*
 * Search; the connection stays busy until route_ldap_pool_put() so the
 * caller can read the result with it.  0 when a server answered with
 * *ldrc_r LDAP_SUCCESS, LDAP_NO_SUCH_OBJECT (the base is missing) or
 * LDAP_SIZELIMIT_EXCEEDED (entries so far in *res_r); -1 with *error_r
 * otherwise.  A lost connection is retried once, on the next server.
 */
static int
route_ldap_search(struct route_ldap *rl, const char *base, int scope,
	const char *filter, const char *const *attrs, int sizelimit,
	struct route_ldap_conn **conn_r, LDAPMessage **res_r, int *ldrc_r,
	char **error_r)
{
	struct timeval tv = { (time_t) var_ldap_search_timeout, 0 };
	struct route_ldap_conn *conn;
	LDAPMessage *res;
	int attempt, rc;
	char *why;

	for (attempt = 0;; attempt++) {
		if ((conn = route_ldap_pool_get(rl, error_r)) == NULL)
			return -1;
		res = NULL;
		/* libldap's prototype lacks const; it does not write attrs. */
		rc = ldap_search_ext_s(conn->ld, base, scope, filter,
		    (char **) (uintptr_t) attrs, 0,
		    NULL, NULL, &tv, sizelimit, &res);
		if (rc == LDAP_SUCCESS || rc == LDAP_NO_SUCH_OBJECT
		    || rc == LDAP_SIZELIMIT_EXCEEDED) {
			*conn_r = conn;
			*res_r = res;
			*ldrc_r = rc;
			return 0;
		}
		if (res != NULL)
			ldap_msgfree(res);
		why = route_ldap_error_text(conn->ld, rc);
		if (!route_ldap_conn_lost(rc)) {
			route_ldap_pool_put(conn);
			*error_r = xasprintf("LDAP search %s under %s: %s",
			    filter, base, why);
			free(why);
			return -1;
		}
		{
			char *where = xasprintf("%s: %s",
			    rl->servers[conn->server].uri, why);

			route_ldap_pool_drop(rl, conn, rc, where);
			free(why);
			if (attempt > 0) {
				*error_r = xasprintf("directory unreachable: "
				    "%s", where);
				free(where);
				return -1;
			}
			free(where);
		}
	}
}

enum route_ldap_write_op {
	ROUTE_LDAP_ADD,
	ROUTE_LDAP_MODIFY,
	ROUTE_LDAP_DELETE,
};

/*
 * Add, modify or delete dn.  0 when a server answered (*ldrc_r is its
 * result, *text_r its text when not LDAP_SUCCESS); -1 with *error_r when
 * none could.  Retried once only when the connection was found dead
 * before the server could have acted (LDAP_SERVER_DOWN): a timed-out
 * write may have been applied.
 */
static int
route_ldap_write(struct route_ldap *rl, enum route_ldap_write_op op,
	const char *dn, LDAPMod **mods, int *ldrc_r, char **text_r,
	char **error_r)
{
	struct route_ldap_conn *conn;
	int attempt, rc = LDAP_OTHER;
	char *why;

	*text_r = NULL;
	for (attempt = 0;; attempt++) {
		if ((conn = route_ldap_pool_get(rl, error_r)) == NULL)
			return -1;
		switch (op) {
		case ROUTE_LDAP_ADD:
			rc = ldap_add_ext_s(conn->ld, dn, mods, NULL, NULL);
			break;
		case ROUTE_LDAP_MODIFY:
			rc = ldap_modify_ext_s(conn->ld, dn, mods, NULL, NULL);
			break;
		case ROUTE_LDAP_DELETE:
			rc = ldap_delete_ext_s(conn->ld, dn, NULL, NULL);
			break;
		}
		why = rc == LDAP_SUCCESS ? NULL
		    : route_ldap_error_text(conn->ld, rc);
		if (!route_ldap_conn_lost(rc)) {
			route_ldap_pool_put(conn);
			*ldrc_r = rc;
			*text_r = why;
			return 0;
		}
		{
			char *where = xasprintf("%s: %s",
			    rl->servers[conn->server].uri, why);

			route_ldap_pool_drop(rl, conn, rc, where);
			free(why);
			if (attempt > 0 || rc != LDAP_SERVER_DOWN) {
				*error_r = xasprintf("directory unreachable: "
				    "%s", where);
				free(where);
				return -1;
			}
			free(where);
		}
	}
}

/* ---- reading entries ---------------------------------------------------- */

/*
 * All values of attr as strings.  0 ok (*values_r NULL-terminated,
 * possibly empty); -1 when a value is too long or holds a NUL byte: the
 * directory holds something we must not guess about.
 */
static int
route_ldap_values(LDAP *ld, LDAPMessage *entry, const char *attr,
	char ***values_r, size_t *count_r, char **error_r)
{
	struct berval **vals = ldap_get_values_len(ld, entry, attr);
	size_t n = vals != NULL ? (size_t) ldap_count_values_len(vals) : 0;
	char **out = xcalloc(n + 1, sizeof(*out));
	size_t i;

	for (i = 0; i < n; i++) {
		if (vals[i]->bv_len > ROUTE_LDAP_VALUE_MAX
		    || memchr(vals[i]->bv_val, '\0', vals[i]->bv_len) != NULL) {
			char *dn = ldap_get_dn(ld, entry);

			*error_r = xasprintf("directory entry %s: attribute "
			    "%s: value too long or contains NUL",
			    dn != NULL ? dn : "?", attr);
			if (dn != NULL)
				ldap_memfree(dn);
			route_ldap_strv_free(out, i);
			ldap_value_free_len(vals);
			return -1;
		}
		out[i] = xmemdup(vals[i]->bv_val, vals[i]->bv_len);
	}
	if (vals != NULL)
		ldap_value_free_len(vals);
	*values_r = out;
	*count_r = n;
	return 0;
}

/* The first value of attr: 1 with *value_r, 0 absent, -1 bad value. */
static int
route_ldap_value(LDAP *ld, LDAPMessage *entry, const char *attr,
	char **value_r, char **error_r)
{
	char **values;
	size_t count, i;

	*value_r = NULL;
	if (route_ldap_values(ld, entry, attr, &values, &count, error_r) < 0)
		return -1;
	if (count > 0) {
		*value_r = values[0];
		for (i = 1; i < count; i++)
			free(values[i]);
	}
	free(values);
	return count > 0;
}

static char *
route_ldap_entry_error(LDAP *ld, LDAPMessage *entry, const char *attr,
	const char *value)
{
	char *dn = ldap_get_dn(ld, entry), *text;

	text = xasprintf("directory entry %s: bad %s: \"%s\"",
	    dn != NULL ? dn : "?", attr, value);
	if (dn != NULL)
		ldap_memfree(dn);
	return text;
}

/* One of names[] (case-blind) by index; -1 unknown.  Absent: dflt. */
static int
route_ldap_enum(LDAP *ld, LDAPMessage *entry, const char *attr,
	const char *const *names, int count, int dflt, int *value_r,
	char **error_r)
{
	char *text;
	int i, rc;

	if ((rc = route_ldap_value(ld, entry, attr, &text, error_r)) <= 0) {
		*value_r = dflt;
		return rc;
	}
	for (i = 0; i < count; i++) {
		if (strcasecmp(text, names[i]) == 0) {
			*value_r = i;
			free(text);
			return 0;
		}
	}
	*error_r = route_ldap_entry_error(ld, entry, attr, text);
	free(text);
	return -1;
}

static int
route_ldap_bool(LDAP *ld, LDAPMessage *entry, const char *attr,
	int *value_r, char **error_r)
{
	static const char *const names[] = { "FALSE", "TRUE" };

	return route_ldap_enum(ld, entry, attr, names, 2, 0, value_r, error_r);
}

static int
route_ldap_double(LDAP *ld, LDAPMessage *entry, const char *attr,
	double *value_r, char **error_r)
{
	char *text, *end;
	int rc;

	*value_r = 0;
	if ((rc = route_ldap_value(ld, entry, attr, &text, error_r)) <= 0)
		return rc;
	errno = 0;
	*value_r = strtod(text, &end);
	if (errno != 0 || end == text || *end != '\0') {
		*error_r = route_ldap_entry_error(ld, entry, attr, text);
		free(text);
		return -1;
	}
	free(text);
	return 0;
}

static int
route_ldap_quota(LDAP *ld, LDAPMessage *entry, long long *value_r,
	char **error_r)
{
	char *text, *end;
	int rc;

	*value_r = 0;
	if ((rc = route_ldap_value(ld, entry, "ispmailQuota", &text,
	    error_r)) <= 0)
		return rc;
	errno = 0;
	*value_r = strtoll(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || *value_r < 0) {
		*error_r = route_ldap_entry_error(ld, entry, "ispmailQuota",
		    text);
		free(text);
		return -1;
	}
	free(text);
	return 0;
}

static const char *const route_ldap_domain_kinds[] = {
	"", "local", "relay", "alias"
};
static const char *const route_ldap_states[] = {
	"active", "suspended", "disabled"
};
static const char *const route_ldap_filters[] = {
	"off", "standard", "aggressive"
};

static int
route_ldap_parse_domain(LDAP *ld, LDAPMessage *entry,
	struct route_domain **domain_r, char **error_r)
{
	struct route_domain *d = xcalloc(1, sizeof(*d));
	int kind = 0;

	if (route_ldap_value(ld, entry, "ispmailDomainName", &d->name,
	    error_r) <= 0
	    || route_ldap_enum(ld, entry, "ispmailDomainKind",
	    route_ldap_domain_kinds, 4, 0, &kind, error_r) < 0
	    || route_ldap_value(ld, entry, "ispmailDomainTarget",
	    &d->alias_target, error_r) < 0
	    || route_ldap_value(ld, entry, "ispmailRelayHost", &d->relay_host,
	    error_r) < 0
	    || route_ldap_value(ld, entry, "ispmailCatchAll", &d->catchall,
	    error_r) < 0
	    || route_ldap_value(ld, entry, "mailHost", &d->mail_host,
	    error_r) < 0)
		goto bad;
	if (kind == 0) {
		*error_r = route_ldap_entry_error(ld, entry,
		    "ispmailDomainKind", "");
		goto bad;
	}
	d->kind = (enum route_domain_kind) kind;
	route_ldap_lower(d->name);
	if (d->alias_target != NULL)
		route_ldap_lower(d->alias_target);
	*domain_r = d;
	return 0;
bad:
	if (*error_r == NULL)
		*error_r = route_ldap_entry_error(ld, entry,
		    "ispmailDomainName", "");
	route_domain_free(&d);
	return -1;
}

static int
route_ldap_parse_mailbox(LDAP *ld, LDAPMessage *entry,
	struct route_mailbox **mailbox_r, char **error_r)
{
	struct route_mailbox *m = xcalloc(1, sizeof(*m));
	int state = 0, filter = 0;
	size_t i;

	if (route_ldap_value(ld, entry, "mail", &m->address, error_r) <= 0
	    || route_ldap_values(ld, entry, "mailLocalAddress",
	    &m->alt_addresses, &m->alt_count, error_r) < 0
	    || route_ldap_value(ld, entry, "mailHost", &m->mail_host,
	    error_r) < 0
	    || route_ldap_value(ld, entry, "ispmailStorePath", &m->store_path,
	    error_r) < 0
	    || route_ldap_quota(ld, entry, &m->quota, error_r) < 0
	    || route_ldap_enum(ld, entry, "ispmailState", route_ldap_states, 3,
	    ROUTE_STATE_ACTIVE, &state, error_r) < 0
	    || route_ldap_value(ld, entry, "userPassword", &m->password_hash,
	    error_r) < 0
	    || route_ldap_enum(ld, entry, "ispmailFilterPolicy",
	    route_ldap_filters, 3, ROUTE_FILTER_OFF, &filter, error_r) < 0
	    || route_ldap_double(ld, entry, "ispmailTagScore", &m->tag_score,
	    error_r) < 0
	    || route_ldap_double(ld, entry, "ispmailQuarantineScore",
	    &m->quarantine_score, error_r) < 0
	    || route_ldap_double(ld, entry, "ispmailDiscardScore",
	    &m->discard_score, error_r) < 0
	    || route_ldap_bool(ld, entry, "ispmailArchive", &m->archive,
	    error_r) < 0
	    || route_ldap_value(ld, entry, "ispmailOutboundClass",
	    &m->outbound_class, error_r) < 0
	    || route_ldap_values(ld, entry, "ispmailForward", &m->forwards,
	    &m->forward_count, error_r) < 0
	    || route_ldap_bool(ld, entry, "ispmailForwardKeepCopy",
	    &m->forward_keep_copy, error_r) < 0) {
		if (*error_r == NULL)
			*error_r = route_ldap_entry_error(ld, entry, "mail", "");
		route_mailbox_free(&m);
		return -1;
	}
	m->state = (enum route_state) state;
	m->filter = (enum route_filter_policy) filter;
	route_ldap_lower_domain(m->address);
	for (i = 0; i < m->alt_count; i++)
		route_ldap_lower_domain(m->alt_addresses[i]);
	/* userPassword holds "{CRYPT}hash"; route.c wants the crypt(3) hash. */
	if (m->password_hash != NULL
	    && strncasecmp(m->password_hash, "{CRYPT}", 7) == 0)
		memmove(m->password_hash, m->password_hash + 7,
		    strlen(m->password_hash + 7) + 1);
	*mailbox_r = m;
	return 0;
}

static int
route_ldap_parse_alias(LDAP *ld, LDAPMessage *entry,
	struct route_alias **alias_r, char **error_r)
{
	struct route_alias *a = xcalloc(1, sizeof(*a));

	if (route_ldap_value(ld, entry, "mail", &a->address, error_r) <= 0
	    || route_ldap_values(ld, entry, "ispmailAliasTarget", &a->targets,
	    &a->target_count, error_r) < 0) {
		if (*error_r == NULL)
			*error_r = route_ldap_entry_error(ld, entry, "mail", "");
		route_alias_free(&a);
		return -1;
	}
	route_ldap_lower_domain(a->address);
	*alias_r = a;
	return 0;
}

/* ---- the cache ---------------------------------------------------------- */

static size_t
route_ldap_hash(const char *key)
{
	uint64_t h = 14695981039346656037ULL;	/* FNV-1a */

	for (; *key != '\0'; key++) {
		h ^= (unsigned char) *key;
		h *= 1099511628211ULL;
	}
	return (size_t) h;
}

static void
route_ldap_cache_record_free(struct route_ldap_cache_entry *e)
{
	switch (e->kind) {
	case ROUTE_LDAP_CACHE_DOMAIN: {
		struct route_domain *d = e->record;

		route_domain_free(&d);
		break;
	}
	case ROUTE_LDAP_CACHE_MAILBOX: {
		struct route_mailbox *m = e->record;

		route_mailbox_free(&m);
		break;
	}
	case ROUTE_LDAP_CACHE_ALIAS: {
		struct route_alias *a = e->record;

		route_alias_free(&a);
		break;
	}
	case ROUTE_LDAP_CACHE_RELAY:
		break;
	}
	e->record = NULL;
}

static void
route_ldap_cache_remove(struct route_ldap *rl, struct route_ldap_cache_entry *e)
{
	struct route_ldap_cache_entry **pp;

	pp = &rl->buckets[route_ldap_hash(e->key) & (rl->bucket_count - 1)];
	while (*pp != e)
		pp = &(*pp)->hash_next;
	*pp = e->hash_next;
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		rl->oldest = e->newer;
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		rl->newest = e->older;
	route_ldap_cache_record_free(e);
	free(e->key);
	free(e);
	rl->cache_count--;
}

/* Forget everything: after a write this process must see it at once. */
static void
route_ldap_cache_flush(struct route_ldap *rl)
{
	while (rl->oldest != NULL)
		route_ldap_cache_remove(rl, rl->oldest);
}

static char *
route_ldap_cache_key(enum route_ldap_cache_kind kind, const char *key)
{
	return xasprintf("%c:%s", (char) kind, key);
}

/* A live entry for (kind, key), or NULL; expired entries are dropped. */
static struct route_ldap_cache_entry *
route_ldap_cache_find(struct route_ldap *rl, enum route_ldap_cache_kind kind,
	const char *key)
{
	struct route_ldap_cache_entry *e;
	char *full;

	if (rl->bucket_count == 0)
		return NULL;
	full = route_ldap_cache_key(kind, key);
	for (e = rl->buckets[route_ldap_hash(full) & (rl->bucket_count - 1)];
	    e != NULL; e = e->hash_next)
		if (strcmp(e->key, full) == 0)
			break;
	free(full);
	if (e != NULL && e->expires <= route_ldap_now()) {
		route_ldap_cache_remove(rl, e);
		e = NULL;
	}
	metrics_inc("ispmail_directory_cache_total", "result",
	    e != NULL ? "hit" : "miss", NULL);
	if (e != NULL)
		log_debug("ldap: cache %s %c:%s", e->found ? "hit" : "negative "
		    "hit", (char) kind, key);
	return e;
}

/* Remember an answer (record is taken over); never a temporary failure. */
static void
route_ldap_cache_store(struct route_ldap *rl, enum route_ldap_cache_kind kind,
	const char *key, int found, void *record)
{
	struct route_ldap_cache_entry *e = xcalloc(1, sizeof(*e)), *old;
	long long ttl = found ? var_ldap_cache_positive_ttl
	    : var_ldap_cache_negative_ttl;
	size_t bucket;

	e->kind = kind;
	e->found = found;
	e->record = record;
	if (rl->bucket_count == 0 || ttl <= 0) {
		route_ldap_cache_record_free(e);
		free(e);
		return;
	}
	e->key = route_ldap_cache_key(kind, key);
	e->expires = route_ldap_now() + (time_t) ttl;
	/* Replace an older answer for the same key. */
	bucket = route_ldap_hash(e->key) & (rl->bucket_count - 1);
	for (old = rl->buckets[bucket]; old != NULL; old = old->hash_next)
		if (strcmp(old->key, e->key) == 0)
			break;
	if (old != NULL)
		route_ldap_cache_remove(rl, old);
	/* Bounded: the oldest answer goes first (ldap_cache_size). */
	while (rl->cache_count >= (size_t) var_ldap_cache_size)
		route_ldap_cache_remove(rl, rl->oldest);
	e->hash_next = rl->buckets[bucket];
	rl->buckets[bucket] = e;
	e->older = rl->newest;
	if (rl->newest != NULL)
		rl->newest->newer = e;
	else
		rl->oldest = e;
	rl->newest = e;
	rl->cache_count++;
}

/* ---- open, close -------------------------------------------------------- */

static void route_ldap_close(void *backend);

static void *
route_ldap_open(char **error_r)
{
	struct route_ldap *rl = xcalloc(1, sizeof(*rl));

	if (route_ldap_check_config(rl, error_r) < 0) {
		route_ldap_close(rl);
		return NULL;
	}
	rl->pool_size = (size_t) var_ldap_pool_size;
	rl->pool = xcalloc(rl->pool_size, sizeof(*rl->pool));
	if (var_ldap_cache_size > 0 && (var_ldap_cache_positive_ttl > 0
	    || var_ldap_cache_negative_ttl > 0)) {
		rl->bucket_count = 16;
		while (rl->bucket_count < (size_t) var_ldap_cache_size)
			rl->bucket_count *= 2;
		rl->buckets = xcalloc(rl->bucket_count, sizeof(*rl->buckets));
	}
	return rl;
}

static void
route_ldap_close(void *backend)
{
	struct route_ldap *rl = backend;
	size_t i;

	if (rl == NULL)
		return;
	for (i = 0; i < rl->pool_size; i++)
		if (rl->pool[i].ld != NULL)
			(void) ldap_unbind_ext_s(rl->pool[i].ld, NULL, NULL);
	free(rl->pool);
	if (rl->buckets != NULL)
		route_ldap_cache_flush(rl);
	free(rl->buckets);
	for (i = 0; i < rl->server_count; i++)
		free(rl->servers[i].uri);
	free(rl->servers);
	free(rl->base_dn);
	free(rl->bind_dn);
	if (rl->bind_password != NULL) {
		explicit_bzero(rl->bind_password, strlen(rl->bind_password));
		free(rl->bind_password);
	}
	free(rl);
}

/* ---- getters ------------------------------------------------------------ */

static const char *const route_ldap_domain_attrs[] = {
	"ispmailDomainName", "ispmailDomainKind", "ispmailDomainTarget",
	"ispmailRelayHost", "ispmailCatchAll", "mailHost", NULL
};
static const char *const route_ldap_mailbox_attrs[] = {
	"mail", "mailLocalAddress", "mailHost", "ispmailStorePath",
	"ispmailQuota", "ispmailState", "userPassword", "ispmailFilterPolicy",
	"ispmailTagScore", "ispmailQuarantineScore", "ispmailDiscardScore",
	"ispmailArchive", "ispmailOutboundClass", "ispmailForward",
	"ispmailForwardKeepCopy", NULL
};
static const char *const route_ldap_alias_attrs[] = {
	"mail", "ispmailAliasTarget", NULL
};
static const char *const route_ldap_no_attrs[] = { LDAP_NO_ATTRS, NULL };

typedef int route_ldap_parse_fn(LDAP *ld, LDAPMessage *entry, void *record_r,
	char **error_r);

/* Adapters so one lookup routine parses every record type. */
static int
route_ldap_parse_domain_any(LDAP *ld, LDAPMessage *entry, void *record_r,
	char **error_r)
{
	return route_ldap_parse_domain(ld, entry, record_r, error_r);
}

static int
route_ldap_parse_mailbox_any(LDAP *ld, LDAPMessage *entry, void *record_r,
	char **error_r)
{
	return route_ldap_parse_mailbox(ld, entry, record_r, error_r);
}

static int
route_ldap_parse_alias_any(LDAP *ld, LDAPMessage *entry, void *record_r,
	char **error_r)
{
	return route_ldap_parse_alias(ld, entry, record_r, error_r);
}

/* Whether the entry's first "mail" value is key (case-blind). */
static int
route_ldap_entry_has_mail(LDAP *ld, LDAPMessage *entry, const char *key)
{
	struct berval **vals = ldap_get_values_len(ld, entry, "mail");
	int match = 0, i;

	for (i = 0; vals != NULL && vals[i] != NULL; i++)
		if (vals[i]->bv_len == strlen(key)
		    && strncasecmp(vals[i]->bv_val, key, vals[i]->bv_len) == 0)
			match = 1;
	if (vals != NULL)
		ldap_value_free_len(vals);
	return match;
}

/*
 * Find the one entry that filter matches under the base and parse it (a
 * NULL parse only tells whether it exists).  Several matches are a
 * damaged directory, unless exactly one has key as its "mail" (the
 * canonical address beats an alternate).  1, 0 or -1.
 */
static int
route_ldap_lookup(struct route_ldap *rl, const char *filter,
	const char *const *attrs,
	const char *key, route_ldap_parse_fn *parse, void *record_r,
	char **error_r)
{
	struct route_ldap_conn *conn;
	LDAPMessage *res, *entry, *chosen = NULL;
	char *parse_error = NULL;
	int ldrc, count, rc;

	if (route_ldap_search(rl, rl->base_dn, LDAP_SCOPE_SUBTREE, filter,
	    attrs, ROUTE_LDAP_LOOKUP_SIZELIMIT, &conn, &res, &ldrc,
	    error_r) < 0)
		return -1;
	if (ldrc == LDAP_NO_SUCH_OBJECT) {
		/* A wrong base DN must not make every user unknown. */
		*error_r = xasprintf("ldap_base_dn %s does not exist in the "
		    "directory", rl->base_dn);
		rc = -1;
		goto out;
	}
	count = ldap_count_entries(conn->ld, res);
	if (count == 1) {
		chosen = ldap_first_entry(conn->ld, res);
	} else if (count > 1 && ldrc == LDAP_SUCCESS) {
		for (entry = ldap_first_entry(conn->ld, res); entry != NULL;
		    entry = ldap_next_entry(conn->ld, entry)) {
			if (route_ldap_entry_has_mail(conn->ld, entry, key)) {
				if (chosen != NULL) {
					chosen = NULL;
					break;
				}
				chosen = entry;
			}
		}
	}
	if (count > 1 && chosen == NULL) {
		*error_r = xasprintf("directory inconsistent: %s matches "
		    "%s%d entries", filter, ldrc == LDAP_SUCCESS ? ""
		    : "more than ", count);
		log_error("ldap: %s", *error_r);
		rc = -1;
	} else if (chosen == NULL) {
		rc = 0;
	} else if (parse == NULL) {
		rc = 1;
	} else if (parse(conn->ld, chosen, record_r, &parse_error) < 0) {
		*error_r = parse_error != NULL ? parse_error
		    : xstrdup("damaged directory entry");
		log_error("ldap: %s", *error_r);
		rc = -1;
	} else {
		rc = 1;
	}
out:
	ldap_msgfree(res);
	route_ldap_pool_put(conn);
	return rc;
}

static int
route_ldap_domain_get(void *backend, const char *name,
	struct route_domain **domain_r, char **error_r)
{
	struct route_ldap *rl = backend;
	struct route_ldap_cache_entry *e;
	struct route_domain *d = NULL;
	char *filter;
	int rc;

	if ((e = route_ldap_cache_find(rl, ROUTE_LDAP_CACHE_DOMAIN, name))
	    != NULL) {
		if (e->found)
			*domain_r = route_domain_dup(e->record);
		return e->found;
	}
	if ((filter = route_ldap_filter(ROUTE_LDAP_OC_DOMAIN,
	    "ispmailDomainName", NULL, name)) == NULL) {
		*error_r = xstrdup("domain name too long");
		return -1;
	}
	rc = route_ldap_lookup(rl, filter, route_ldap_domain_attrs, name,
	    route_ldap_parse_domain_any, &d, error_r);
	free(filter);
	if (rc == 1) {
		*domain_r = route_domain_dup(d);
		route_ldap_cache_store(rl, ROUTE_LDAP_CACHE_DOMAIN, name, 1, d);
	} else if (rc == 0) {
		route_ldap_cache_store(rl, ROUTE_LDAP_CACHE_DOMAIN, name, 0,
		    NULL);
	}
	return rc;
}

static int
route_ldap_mailbox_get(void *backend, const char *address,
	struct route_mailbox **mailbox_r, char **error_r)
{
	struct route_ldap *rl = backend;
	struct route_ldap_cache_entry *e;
	struct route_mailbox *m = NULL;
	char *filter;
	int rc;

	if ((e = route_ldap_cache_find(rl, ROUTE_LDAP_CACHE_MAILBOX, address))
	    != NULL) {
		if (e->found)
			*mailbox_r = route_mailbox_dup(e->record);
		return e->found;
	}
	if ((filter = route_ldap_filter(ROUTE_LDAP_OC_MAILBOX, "mail",
	    "mailLocalAddress", address)) == NULL) {
		*error_r = xstrdup("address too long");
		return -1;
	}
	rc = route_ldap_lookup(rl, filter, route_ldap_mailbox_attrs, address,
	    route_ldap_parse_mailbox_any, &m, error_r);
	free(filter);
	if (rc == 1) {
		*mailbox_r = route_mailbox_dup(m);
		route_ldap_cache_store(rl, ROUTE_LDAP_CACHE_MAILBOX, address, 1,
		    m);
	} else if (rc == 0) {
		route_ldap_cache_store(rl, ROUTE_LDAP_CACHE_MAILBOX, address, 0,
		    NULL);
	}
	return rc;
}

static int
route_ldap_alias_get(void *backend, const char *address,
	struct route_alias **alias_r, char **error_r)
{
	struct route_ldap *rl = backend;
	struct route_ldap_cache_entry *e;
	struct route_alias *a = NULL;
	char *filter;
	int rc;

	if ((e = route_ldap_cache_find(rl, ROUTE_LDAP_CACHE_ALIAS, address))
	    != NULL) {
		if (e->found)
			*alias_r = route_ldap_alias_dup(e->record);
		return e->found;
	}
	if ((filter = route_ldap_filter(ROUTE_LDAP_OC_ALIAS, "mail", NULL,
	    address)) == NULL) {
		*error_r = xstrdup("address too long");
		return -1;
	}
	rc = route_ldap_lookup(rl, filter, route_ldap_alias_attrs, address,
	    route_ldap_parse_alias_any, &a, error_r);
	free(filter);
	if (rc == 1) {
		*alias_r = route_ldap_alias_dup(a);
		route_ldap_cache_store(rl, ROUTE_LDAP_CACHE_ALIAS, address, 1, a);
	} else if (rc == 0) {
		route_ldap_cache_store(rl, ROUTE_LDAP_CACHE_ALIAS, address, 0,
		    NULL);
	}
	return rc;
}

static int
route_ldap_relay_recipient_get(void *backend, const char *address,
	char **error_r)
{
	struct route_ldap *rl = backend;
	struct route_ldap_cache_entry *e;
	char *filter;
	int rc;

	if ((e = route_ldap_cache_find(rl, ROUTE_LDAP_CACHE_RELAY, address))
	    != NULL)
		return e->found;
	if ((filter = route_ldap_filter(ROUTE_LDAP_OC_RELAY, "mail", NULL,
	    address)) == NULL) {
		*error_r = xstrdup("address too long");
		return -1;
	}
	rc = route_ldap_lookup(rl, filter, route_ldap_no_attrs, address, NULL,
	    NULL, error_r);
	free(filter);
	if (rc >= 0)
		route_ldap_cache_store(rl, ROUTE_LDAP_CACHE_RELAY, address, rc,
		    NULL);
	return rc;
}

/* ---- writers ------------------------------------------------------------ */

/* The LDAPMod list of one add or modify; values are owned copies. */
struct route_ldap_mods {
	LDAPMod **mods;			/* NULL-terminated */
	size_t count;
	int replace;			/* modify (REPLACE) rather than add */
};

/*
 * Set attr to values (NULL-terminated, taken over).  An add leaves out
 * empty attributes; a modify replaces with no values, which deletes the
 * attribute and is not an error when it is absent (RFC 4511 4.6).
 */
static void
route_ldap_mods_set(struct route_ldap_mods *ml, const char *attr,
	char **values)
{
	LDAPMod *mod;

	if (!ml->replace && values[0] == NULL) {
		free(values);
		return;
	}
	mod = xcalloc(1, sizeof(*mod));
	mod->mod_op = ml->replace ? LDAP_MOD_REPLACE : LDAP_MOD_ADD;
	mod->mod_type = xstrdup(attr);
	mod->mod_values = values;
	ml->mods = xreallocarray(ml->mods, ml->count + 2, sizeof(*ml->mods));
	ml->mods[ml->count++] = mod;
	ml->mods[ml->count] = NULL;
}

static void
route_ldap_mods_str(struct route_ldap_mods *ml, const char *attr,
	const char *value)
{
	char **values = xcalloc(2, sizeof(*values));

	if (value != NULL && value[0] != '\0')
		values[0] = xstrdup(value);
	route_ldap_mods_set(ml, attr, values);
}

static void
route_ldap_mods_list(struct route_ldap_mods *ml, const char *attr,
	char *const *list, size_t count)
{
	route_ldap_mods_set(ml, attr, route_ldap_strv_dup(list, count));
}

static void
route_ldap_mods_own(struct route_ldap_mods *ml, const char *attr,
	char *value)
{
	route_ldap_mods_str(ml, attr, value);
	free(value);
}

static void
route_ldap_mods_free(struct route_ldap_mods *ml)
{
	size_t i, j;

	for (i = 0; i < ml->count; i++) {
		for (j = 0; ml->mods[i]->mod_values[j] != NULL; j++) {
			explicit_bzero(ml->mods[i]->mod_values[j],
			    strlen(ml->mods[i]->mod_values[j]));
			free(ml->mods[i]->mod_values[j]);
		}
		free(ml->mods[i]->mod_values);
		free(ml->mods[i]->mod_type);
		free(ml->mods[i]);
	}
	free(ml->mods);
	ml->mods = NULL;
	ml->count = 0;
}

/*
 * The DN of the entry filter names (search by filter, so entries an
 * operator placed elsewhere under the base are found too).  1, 0, -1.
 */
static int
route_ldap_find_dn(struct route_ldap *rl, const char *filter, char **dn_r,
	char **error_r)
{
	struct route_ldap_conn *conn;
	LDAPMessage *res, *entry;
	int ldrc, rc = 0;
	char *dn;

	*dn_r = NULL;
	if (route_ldap_search(rl, rl->base_dn, LDAP_SCOPE_SUBTREE, filter,
	    route_ldap_no_attrs, ROUTE_LDAP_LOOKUP_SIZELIMIT, &conn, &res,
	    &ldrc, error_r) < 0)
		return -1;
	if (ldrc == LDAP_NO_SUCH_OBJECT) {
		*error_r = xasprintf("ldap_base_dn %s does not exist in the "
		    "directory", rl->base_dn);
		rc = -1;
	} else if ((entry = ldap_first_entry(conn->ld, res)) != NULL) {
		if (ldap_count_entries(conn->ld, res) > 1) {
			*error_r = xasprintf("directory inconsistent: %s "
			    "matches several entries", filter);
			rc = -1;
		} else if ((dn = ldap_get_dn(conn->ld, entry)) == NULL) {
			*error_r = xstrdup("LDAP entry without a DN");
			rc = -1;
		} else {
			*dn_r = xstrdup(dn);
			ldap_memfree(dn);
			rc = 1;
		}
	}
	ldap_msgfree(res);
	route_ldap_pool_put(conn);
	return rc;
}

/* The DN of domain's entry: 1 (*dn_r), 0 with "no such domain", -1. */
static int
route_ldap_domain_dn(struct route_ldap *rl, const char *domain, char **dn_r,
	char **error_r)
{
	char *filter;
	int rc;

	filter = route_ldap_filter(ROUTE_LDAP_OC_DOMAIN, "ispmailDomainName",
	    NULL, domain);
	if (filter == NULL) {
		*error_r = xstrdup("domain name too long");
		return -1;
	}
	rc = route_ldap_find_dn(rl, filter, dn_r, error_r);
	free(filter);
	if (rc == 0)
		*error_r = xasprintf("no such domain %s", domain);
	return rc;
}

/*
 * Create or replace one entry.  what is "domain", "mailbox", ... for
 * messages; filter finds an existing entry; rdn_attr/rdn_value and
 * parent_domain (NULL: directly under the base) say where a new one goes.
 * The objectClass values are replaced too, so an entry an operator made
 * without inetLocalMailRecipient gets it.
 */
static int
route_ldap_put(struct route_ldap *rl, const char *what, const char *key,
	const char *filter, const char *rdn_attr, const char *parent_domain,
	const char *const *object_classes, void (*fill)(struct route_ldap_mods *,
	const void *), const void *record, int create_only, char **error_r)
{
	struct route_ldap_mods ml = { NULL, 0, 0 };
	char *dn = NULL, *parent = NULL, *text = NULL, **ocs;
	int rc, ldrc, found;
	size_t n;

	if ((found = route_ldap_find_dn(rl, filter, &dn, error_r)) < 0)
		return -1;
	if (found && create_only) {
		*error_r = xasprintf("%s %s exists", what, key);
		free(dn);
		return -1;
	}
	if (!found) {
		if (parent_domain != NULL) {
			if (route_ldap_domain_dn(rl, parent_domain, &parent,
			    error_r) <= 0)
				return -1;
		}
		dn = route_ldap_child_dn(rdn_attr, key, parent != NULL ? parent
		    : rl->base_dn);
		free(parent);
		if (dn == NULL) {
			*error_r = xasprintf("%s %s: name too long", what, key);
			return -1;
		}
	}
	ml.replace = found;
	for (n = 0; object_classes[n] != NULL; n++)
		;
	ocs = xcalloc(n + 1, sizeof(*ocs));
	for (n = 0; object_classes[n] != NULL; n++)
		ocs[n] = xstrdup(object_classes[n]);
	route_ldap_mods_set(&ml, "objectClass", ocs);
	if (!found)
		route_ldap_mods_str(&ml, rdn_attr, key);
	fill(&ml, record);
	rc = route_ldap_write(rl, found ? ROUTE_LDAP_MODIFY : ROUTE_LDAP_ADD,
	    dn, ml.mods, &ldrc, &text, error_r);
	route_ldap_mods_free(&ml);
	route_ldap_cache_flush(rl);
	if (rc == 0 && ldrc != LDAP_SUCCESS) {
		if (ldrc == LDAP_ALREADY_EXISTS)
			*error_r = xasprintf("%s %s: an entry %s exists", what,
			    key, dn);
		else
			*error_r = xasprintf("%s %s: %s: %s", what, key, dn,
			    text);
		rc = -1;
	}
	free(text);
	free(dn);
	return rc;
}

static void
route_ldap_fill_domain(struct route_ldap_mods *ml, const void *record)
{
	const struct route_domain *d = record;

	route_ldap_mods_str(ml, "ispmailDomainKind",
	    route_ldap_domain_kinds[d->kind]);
	route_ldap_mods_str(ml, "ispmailDomainTarget", d->alias_target);
	route_ldap_mods_str(ml, "ispmailRelayHost", d->relay_host);
	route_ldap_mods_str(ml, "ispmailCatchAll", d->catchall);
	route_ldap_mods_str(ml, "mailHost", d->mail_host);
}

static void
route_ldap_fill_mailbox(struct route_ldap_mods *ml, const void *record)
{
	const struct route_mailbox *m = record;

	route_ldap_mods_list(ml, "mailLocalAddress", m->alt_addresses,
	    m->alt_count);
	route_ldap_mods_str(ml, "mailHost", m->mail_host);
	route_ldap_mods_str(ml, "ispmailStorePath", m->store_path);
	route_ldap_mods_own(ml, "ispmailQuota", xasprintf("%lld", m->quota));
	route_ldap_mods_str(ml, "ispmailState", route_ldap_states[m->state]);
	route_ldap_mods_own(ml, "userPassword", m->password_hash != NULL
	    ? xasprintf("{CRYPT}%s", m->password_hash) : NULL);
	route_ldap_mods_str(ml, "ispmailFilterPolicy",
	    route_ldap_filters[m->filter]);
	route_ldap_mods_own(ml, "ispmailTagScore",
	    xasprintf("%g", m->tag_score));
	route_ldap_mods_own(ml, "ispmailQuarantineScore",
	    xasprintf("%g", m->quarantine_score));
	route_ldap_mods_own(ml, "ispmailDiscardScore",
	    xasprintf("%g", m->discard_score));
	route_ldap_mods_str(ml, "ispmailArchive", m->archive ? "TRUE"
	    : "FALSE");
	route_ldap_mods_str(ml, "ispmailOutboundClass", m->outbound_class);
	route_ldap_mods_list(ml, "ispmailForward", m->forwards,
	    m->forward_count);
	route_ldap_mods_str(ml, "ispmailForwardKeepCopy",
	    m->forward_keep_copy ? "TRUE" : "FALSE");
}

static void
route_ldap_fill_alias(struct route_ldap_mods *ml, const void *record)
{
	const struct route_alias *a = record;

	route_ldap_mods_list(ml, "ispmailAliasTarget", a->targets,
	    a->target_count);
}

static void
route_ldap_fill_nothing(struct route_ldap_mods *ml, const void *record)
{
}

/* The domain of an address, for the parent entry; NULL with *error_r. */
static const char *
route_ldap_address_domain(const char *address, char **error_r)
{
	const char *at = strrchr(address, '@');

	if (at == NULL || at[1] == '\0') {
		*error_r = xasprintf("invalid address %s", address);
		return NULL;
	}
	return at + 1;
}

static int
route_ldap_domain_put(void *backend, const struct route_domain *domain,
	int create_only, char **error_r)
{
	static const char *const ocs[] = { ROUTE_LDAP_OC_DOMAIN, NULL };
	char *filter;
	int rc;

	if (domain->kind < ROUTE_DOMAIN_LOCAL
	    || domain->kind > ROUTE_DOMAIN_ALIAS)
		log_panic("route_ldap: domain %s: kind %d", domain->name,
		    (int) domain->kind);
	filter = route_ldap_filter(ROUTE_LDAP_OC_DOMAIN, "ispmailDomainName",
	    NULL, domain->name);
	if (filter == NULL) {
		*error_r = xstrdup("domain name too long");
		return -1;
	}
	rc = route_ldap_put(backend, "domain", domain->name, filter,
	    "ispmailDomainName", NULL, ocs, route_ldap_fill_domain, domain,
	    create_only, error_r);
	free(filter);
	return rc;
}

static int
route_ldap_mailbox_put(void *backend, const struct route_mailbox *mailbox,
	int create_only, char **error_r)
{
	static const char *const ocs[] = { ROUTE_LDAP_OC_MAILBOX,
	    "inetLocalMailRecipient", NULL };
	const char *domain;
	char *filter;
	int rc;

	if ((domain = route_ldap_address_domain(mailbox->address,
	    error_r)) == NULL)
		return -1;
	filter = route_ldap_filter(ROUTE_LDAP_OC_MAILBOX, "mail", NULL,
	    mailbox->address);
	if (filter == NULL) {
		*error_r = xstrdup("address too long");
		return -1;
	}
	rc = route_ldap_put(backend, "mailbox", mailbox->address, filter,
	    "mail", domain, ocs, route_ldap_fill_mailbox, mailbox,
	    create_only, error_r);
	free(filter);
	return rc;
}

static int
route_ldap_alias_put(void *backend, const struct route_alias *alias,
	int create_only, char **error_r)
{
	static const char *const ocs[] = { ROUTE_LDAP_OC_ALIAS, NULL };
	const char *domain;
	char *filter;
	int rc;

	if ((domain = route_ldap_address_domain(alias->address, error_r))
	    == NULL)
		return -1;
	if (alias->target_count == 0) {
		*error_r = xasprintf("alias %s: no targets", alias->address);
		return -1;
	}
	filter = route_ldap_filter(ROUTE_LDAP_OC_ALIAS, "mail", NULL,
	    alias->address);
	if (filter == NULL) {
		*error_r = xstrdup("address too long");
		return -1;
	}
	rc = route_ldap_put(backend, "alias", alias->address, filter, "mail",
	    domain, ocs, route_ldap_fill_alias, alias, create_only, error_r);
	free(filter);
	return rc;
}

static int
route_ldap_relay_recipient_put(void *backend, const char *address,
	char **error_r)
{
	static const char *const ocs[] = { ROUTE_LDAP_OC_RELAY, NULL };
	const char *domain;
	char *filter;
	int rc;

	if ((domain = route_ldap_address_domain(address, error_r)) == NULL)
		return -1;
	filter = route_ldap_filter(ROUTE_LDAP_OC_RELAY, "mail", NULL, address);
	if (filter == NULL) {
		*error_r = xstrdup("address too long");
		return -1;
	}
	rc = route_ldap_put(backend, "relay recipient", address, filter,
	    "mail", domain, ocs, route_ldap_fill_nothing, NULL, 1, error_r);
	free(filter);
	return rc;
}

/* How many entries sit directly below dn: 0 ok, -1. */
static int
route_ldap_count_children(struct route_ldap *rl, const char *dn,
	int *count_r, char **error_r)
{
	struct route_ldap_conn *conn;
	LDAPMessage *res;
	int ldrc;

	if (route_ldap_search(rl, dn, LDAP_SCOPE_ONELEVEL, "(objectClass=*)",
	    route_ldap_no_attrs, 0, &conn, &res, &ldrc, error_r) < 0)
		return -1;
	*count_r = ldap_count_entries(conn->ld, res);
	ldap_msgfree(res);
	route_ldap_pool_put(conn);
	if (ldrc != LDAP_SUCCESS) {
		*error_r = xasprintf("counting entries below %s: %s", dn,
		    ldap_err2string(ldrc));
		return -1;
	}
	return 0;
}

static int
route_ldap_delete(struct route_ldap *rl, const char *what, const char *key,
	const char *filter, int is_domain, char **error_r)
{
	char *dn = NULL, *text = NULL;
	int found, rc, ldrc, children;

	if (filter == NULL) {
		*error_r = xasprintf("%s too long", what);
		return -1;
	}
	if ((found = route_ldap_find_dn(rl, filter, &dn, error_r)) <= 0) {
		if (found == 0)
			*error_r = xasprintf("no such %s %s", what, key);
		return -1;
	}
	if (is_domain) {
		if (route_ldap_count_children(rl, dn, &children, error_r) < 0) {
			free(dn);
			return -1;
		}
		if (children > 0) {
			*error_r = xasprintf("domain %s has %d entr%s", key,
			    children, children == 1 ? "y" : "ies");
			free(dn);
			return -1;
		}
	}
	rc = route_ldap_write(rl, ROUTE_LDAP_DELETE, dn, NULL, &ldrc, &text,
	    error_r);
	route_ldap_cache_flush(rl);
	if (rc == 0 && ldrc != LDAP_SUCCESS) {
		if (ldrc == LDAP_NOT_ALLOWED_ON_NONLEAF)
			*error_r = xasprintf("%s %s has entries", what, key);
		else if (ldrc == LDAP_NO_SUCH_OBJECT)
			*error_r = xasprintf("no such %s %s", what, key);
		else
			*error_r = xasprintf("%s %s: %s: %s", what, key, dn,
			    text);
		rc = -1;
	}
	free(text);
	free(dn);
	return rc;
}

static int
route_ldap_domain_delete(void *backend, const char *name, char **error_r)
{
	char *filter = route_ldap_filter(ROUTE_LDAP_OC_DOMAIN,
	    "ispmailDomainName", NULL, name);
	int rc;

	rc = route_ldap_delete(backend, "domain", name, filter, 1, error_r);
	free(filter);
	return rc;
}

static int
route_ldap_mailbox_delete(void *backend, const char *address,
	char **error_r)
{
	char *filter = route_ldap_filter(ROUTE_LDAP_OC_MAILBOX, "mail", NULL,
	    address);
	int rc;

	rc = route_ldap_delete(backend, "mailbox", address, filter, 0,
	    error_r);
	free(filter);
	return rc;
}

static int
route_ldap_alias_delete(void *backend, const char *address, char **error_r)
{
	char *filter = route_ldap_filter(ROUTE_LDAP_OC_ALIAS, "mail", NULL,
	    address);
	int rc;

	rc = route_ldap_delete(backend, "alias", address, filter, 0, error_r);
	free(filter);
	return rc;
}

static int
route_ldap_relay_recipient_delete(void *backend, const char *address,
	char **error_r)
{
	char *filter = route_ldap_filter(ROUTE_LDAP_OC_RELAY, "mail", NULL,
	    address);
	int rc;

	rc = route_ldap_delete(backend, "relay recipient", address, filter, 0,
	    error_r);
	free(filter);
	return rc;
}

/* ---- lists -------------------------------------------------------------- */

/*
 * XXX: lists are one search without paging, so the bind DN needs a size
 * limit above the largest domain (slapd: limits ... size=unlimited);
 * a truncated list is an error, never a silently short answer.
 */
static int
route_ldap_list(void *backend, enum route_list_kind kind, const char *domain,
	char ***names_r, char **error_r)
{
	struct route_ldap *rl = backend;
	struct route_ldap_conn *conn;
	LDAPMessage *res, *entry;
	const char *oc = NULL, *attr;
	char *base = NULL, *filter, **names, *value;
	int ldrc, count, rc = 0;
	size_t n = 0;

	switch (kind) {
	case ROUTE_LIST_DOMAINS:
		oc = ROUTE_LDAP_OC_DOMAIN;
		break;
	case ROUTE_LIST_MAILBOXES:
		oc = ROUTE_LDAP_OC_MAILBOX;
		break;
	case ROUTE_LIST_ALIASES:
		oc = ROUTE_LDAP_OC_ALIAS;
		break;
	case ROUTE_LIST_RELAY_RECIPIENTS:
		oc = ROUTE_LDAP_OC_RELAY;
		break;
	}
	attr = kind == ROUTE_LIST_DOMAINS ? "ispmailDomainName" : "mail";
	if (kind != ROUTE_LIST_DOMAINS
	    && route_ldap_domain_dn(rl, domain, &base, error_r) <= 0)
		return -1;
	filter = xasprintf("(objectClass=%s)", oc);
	{
		const char *attrs[] = { attr, NULL };

		rc = route_ldap_search(rl, base != NULL ? base : rl->base_dn,
		    kind == ROUTE_LIST_DOMAINS ? LDAP_SCOPE_SUBTREE
		    : LDAP_SCOPE_ONELEVEL, filter, attrs, 0, &conn, &res,
		    &ldrc, error_r);
	}
	free(filter);
	if (rc < 0) {
		free(base);
		return -1;
	}
	if (ldrc != LDAP_SUCCESS) {
		*error_r = xasprintf("listing under %s: %s", base != NULL ? base
		    : rl->base_dn, ldap_err2string(ldrc));
		rc = -1;
		goto out;
	}
	count = ldap_count_entries(conn->ld, res);
	names = xcalloc((size_t) (count > 0 ? count : 0) + 1, sizeof(*names));
	for (entry = ldap_first_entry(conn->ld, res); entry != NULL
	    && n < (size_t) count; entry = ldap_next_entry(conn->ld, entry)) {
		int got = route_ldap_value(conn->ld, entry, attr, &value,
		    error_r);

		if (got < 0) {
			route_ldap_strv_free(names, n);
			rc = -1;
			goto out;
		}
		if (got == 0)
			continue;
		if (kind == ROUTE_LIST_DOMAINS)
			route_ldap_lower(value);
		else
			route_ldap_lower_domain(value);
		names[n++] = value;
	}
	qsort(names, n, sizeof(*names), route_ldap_names_cmp);
	*names_r = names;
out:
	ldap_msgfree(res);
	route_ldap_pool_put(conn);
	free(base);
	return rc;
}

/* ---- password check by bind --------------------------------------------- */

/*
 * Find the mailbox's DN, then bind as it on a connection of its own: a
 * pooled connection must keep the service identity.
 */
static int
route_ldap_auth_bind(void *backend, const char *address,
	const char *password, char **error_r)
{
	struct route_ldap *rl = backend;
	char *filter, *dn = NULL, *error = NULL;
	LDAP *ld = NULL;
	size_t server;
	int found, ldrc;

	/* RFC 4513 5.1.2: an empty password is an unauthenticated bind. */
	if (password[0] == '\0')
		return 0;
	filter = route_ldap_filter(ROUTE_LDAP_OC_MAILBOX, "mail",
	    "mailLocalAddress", address);
	if (filter == NULL)
		return 0;
	found = route_ldap_find_dn(rl, filter, &dn, error_r);
	free(filter);
	if (found <= 0)
		return found;
	if (route_ldap_connect(rl, dn, password, &ld, &server, &ldrc,
	    &error) == 0) {
		(void) ldap_unbind_ext_s(ld, NULL, NULL);
		free(dn);
		return 1;
	}
	free(dn);
	if (ldrc == LDAP_INVALID_CREDENTIALS
	    || ldrc == LDAP_INAPPROPRIATE_AUTH) {
		free(error);
		return 0;
	}
	*error_r = error;
	return -1;
}

const struct route_backend_ops route_backend_ldap = {
	.name = "ldap",
	.open = route_ldap_open,
	.close = route_ldap_close,
	.domain_get = route_ldap_domain_get,
	.mailbox_get = route_ldap_mailbox_get,
	.alias_get = route_ldap_alias_get,
	.relay_recipient_get = route_ldap_relay_recipient_get,
	.domain_put = route_ldap_domain_put,
	.domain_delete = route_ldap_domain_delete,
	.mailbox_put = route_ldap_mailbox_put,
	.mailbox_delete = route_ldap_mailbox_delete,
	.alias_put = route_ldap_alias_put,
	.alias_delete = route_ldap_alias_delete,
	.relay_recipient_put = route_ldap_relay_recipient_put,
	.relay_recipient_delete = route_ldap_relay_recipient_delete,
	.list = route_ldap_list,
	.auth_bind = route_ldap_auth_bind,
};

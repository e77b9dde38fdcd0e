/*
 * route_ldap_conn: configuration, the connection pool with failover, and
 * the synchronous search and write operations.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <ldap.h>

#include "buf.h"
#include "connect.h"
#include "log.h"
#include "metrics.h"
#include "mail_params.h"
#include "params.h"
#include "route_backend.h"
#include "xalloc.h"

#include "route_ldap_int.h"

/* ---- small helpers ------------------------------------------------------ */

time_t
route_ldap_now(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		log_panic("clock_gettime(CLOCK_MONOTONIC): %m");
	return ts.tv_sec;
}

/* The monotonic clock in seconds, with its fraction. */
static double
route_ldap_clock(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		log_panic("clock_gettime(CLOCK_MONOTONIC): %m");
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

double
route_ldap_deadline(void)
{
	return route_ldap_clock() + (double) var_ldap_search_timeout;
}

/* The time left until deadline in *tv; 0 when it has passed. */
static int
route_ldap_time_left(double deadline, struct timeval *tv)
{
	double left = deadline - route_ldap_clock();

	if (left < 0.001)
		return 0;
	tv->tv_sec = (time_t) left;
	tv->tv_usec = (suseconds_t) ((left - (double) tv->tv_sec) * 1e6);
	return 1;
}

/*
 * The part of left an attempt may use when another server could still
 * take over: half, so that a server that accepts and never answers (a
 * partitioned consumer, a stopped slapd) leaves the next one time to
 * answer within the same deadline.  The last candidate gets all of it.
 */
static void
route_ldap_share(struct timeval *left, int others)
{
	double t;

	if (!others)
		return;
	t = ((double) left->tv_sec + (double) left->tv_usec / 1e6) / 2;
	left->tv_sec = (time_t) t;
	left->tv_usec = (suseconds_t) ((t - (double) left->tv_sec) * 1e6);
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

/* ---- configuration ------------------------------------------------------ */

/* Read a password file (param names it): its first line, no newline. */
static int
route_ldap_read_password(const char *param, const char *path,
	char **password_r, char **error_r)
{
	struct buf *b = buf_new(ROUTE_LDAP_PASSWORD_MAX + 2);
	char chunk[256];
	ssize_t n;
	int fd, rc = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		*error_r = xasprintf("%s %s: %s", param, path,
		    strerror(errno));
		buf_free(&b);
		return -1;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*error_r = xasprintf("%s %s: %s", param,
			    path, strerror(errno));
			rc = -1;
			break;
		}
		if (buf_append(b, chunk, (size_t) n) < 0) {
			*error_r = xasprintf("%s %s: longer than %d bytes",
			    param, path, ROUTE_LDAP_PASSWORD_MAX);
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
			*error_r = xasprintf("%s %s: empty or contains a NUL "
			    "byte", param, path);
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

/* See route.h. */
int
route_ldap_address_attributes(const char *value, int *alternate_r,
	char **error_r)
{
	int count, i, mail = 0, alternate = 0, rc = 0;
	char **names = params_list_split(value, &count);

	for (i = 0; rc == 0 && i < count; i++) {
		if (strcasecmp(names[i], "mail") == 0 && !mail) {
			mail = 1;
		} else if (strcasecmp(names[i], "mailLocalAddress") == 0
		    && !alternate) {
			alternate = 1;
		} else {
			*error_r = xasprintf("ldap_address_attributes: %.64s: "
			    "not mail or mailLocalAddress, or given twice",
			    names[i]);
			rc = -1;
		}
	}
	params_list_free(names);
	if (rc == 0 && !mail) {
		*error_r = xstrdup("ldap_address_attributes: mail is missing");
		rc = -1;
	}
	*alternate_r = alternate;
	return rc;
}

int
route_ldap_check_config(struct route_ldap *rl, char **error_r)
{
	LDAPDN dn = NULL;

	if (route_ldap_parse_servers(rl, error_r) < 0)
		return -1;
	if (route_ldap_address_attributes(var_ldap_address_attributes,
	    &rl->alternate_addresses, error_r) < 0)
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
	    && route_ldap_read_password("ldap_bind_password_file",
	    var_ldap_bind_password_file, &rl->bind_password, error_r) < 0)
		return -1;
	if (var_ldap_provision_bind_dn[0] != '\0'
	    && var_ldap_provision_bind_password_file[0] == '\0') {
		*error_r = xstrdup("ldap_provision_bind_dn is set but "
		    "ldap_provision_bind_password_file is empty");
		return -1;
	}
	if (var_ldap_tls_ca_file[0] != '\0'
	    && access(var_ldap_tls_ca_file, R_OK) < 0) {
		*error_r = xasprintf("ldap_tls_ca_file %s: %s",
		    var_ldap_tls_ca_file, strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- connections -------------------------------------------------------- */

/*
 * Options of a new handle; left is what remains of the operation's
 * deadline, so connecting, StartTLS and the bind all end within it.
 */
static int
route_ldap_set_options(LDAP *ld, int tls, const struct timeval *left)
{
	struct timeval connect_tv = { (time_t) var_ldap_connect_timeout, 0 };
	int version = LDAP_VERSION3, demand = LDAP_OPT_X_TLS_DEMAND, zero = 0;
	int rc;

	if (timercmp(left, &connect_tv, <))
		connect_tv = *left;
	if ((rc = ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version))
	    != LDAP_OPT_SUCCESS
	    || (rc = ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF))
	    != LDAP_OPT_SUCCESS
	    /*
	     * The master's stress signals interrupt libldap's poll()
	     * (SA_RESTART does not restart it): without this a bind or a
	     * search in flight then fails as "Can't contact LDAP server"
	     * and a healthy server is skipped.
	     */
	    || (rc = ldap_set_option(ld, LDAP_OPT_RESTART, LDAP_OPT_ON))
	    != LDAP_OPT_SUCCESS
	    || (rc = ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT,
	    &connect_tv)) != LDAP_OPT_SUCCESS
	    /* The deadline of every synchronous call: bind, StartTLS. */
	    || (rc = ldap_set_option(ld, LDAP_OPT_TIMEOUT, left))
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
 * The text of a failed TLS connection.  libldap says "Connect error" or
 * "Can't contact LDAP server" whatever went wrong in the handshake; when
 * its diagnostic speaks of a certificate, or says nothing, say where the
 * operator verifies certificates.
 */
static char *
route_ldap_tls_error_text(LDAP *ld, int ldrc)
{
	char *why = route_ldap_error_text(ld, ldrc), *text;

	if (strcasestr(why, "certif") == NULL
	    && strcasestr(why, "verif") == NULL && ldrc != LDAP_CONNECT_ERROR)
		return why;
	text = xasprintf("%s: the server's certificate could not be "
	    "verified with ldap_tls_ca_file %s", why,
	    var_ldap_tls_ca_file[0] != '\0' ? var_ldap_tls_ca_file
	    : "(empty: the system's CAs)");
	free(why);
	return text;
}

/*
 * Whether uri's host accepts a TCP connection within left.  With
 * ldaps:// libldap says "Can't contact LDAP server" both when nothing
 * listens and when the TLS handshake failed; a listener that accepts
 * tells the second case, asked only after such a failure.
 */
static int
route_ldap_tcp_answers(const char *uri, const struct timeval *left)
{
	LDAPURLDesc *lud = NULL;
	long long ms = (long long) left->tv_sec * 1000 + left->tv_usec / 1000;
	char *nexthop, *error = NULL;
	int fd;

	if (ms <= 0 || ldap_url_parse(uri, &lud) != LDAP_URL_SUCCESS)
		return 0;
	if (lud->lud_host == NULL || lud->lud_host[0] == '\0') {
		ldap_free_urldesc(lud);
		return 0;
	}
	nexthop = xasprintf(strchr(lud->lud_host, ':') != NULL ? "[%s]:%d"
	    : "%s:%d", lud->lud_host, lud->lud_port > 0 ? lud->lud_port
	    : LDAPS_PORT);
	ldap_free_urldesc(lud);
	if (ms > var_ldap_connect_timeout * 1000)
		ms = var_ldap_connect_timeout * 1000;
	fd = net_connect_nexthop(nexthop, "/", (int) ms, NULL, NULL, &error);
	free(nexthop);
	free(error);
	if (fd < 0)
		return 0;
	(void) close(fd);
	return 1;
}

/*
 * The text of a failed ldaps:// bind: a handshake that failed (the
 * server accepts TCP) is said to be one, naming ldap_tls_ca_file.
 */
static char *
route_ldap_ldaps_error_text(const struct route_ldap_server *server, LDAP *ld,
	int ldrc, const struct timeval *left)
{
	char *why, *text;

	if (ldrc == LDAP_CONNECT_ERROR)
		return route_ldap_tls_error_text(ld, ldrc);
	why = route_ldap_error_text(ld, ldrc);
	if (ldrc != LDAP_SERVER_DOWN
	    || !route_ldap_tcp_answers(server->uri, left))
		return why;
	text = xasprintf("%s: the TLS handshake failed: the server's "
	    "certificate could not be verified with ldap_tls_ca_file %s, "
	    "or the server does not speak TLS on this port", why,
	    var_ldap_tls_ca_file[0] != '\0' ? var_ldap_tls_ca_file
	    : "(empty: the system's CAs)");
	free(why);
	return text;
}

/*
 * Read from the connection in blocks: libldap reads each message's
 * header and then its body, and polls before each message, so a search
 * answered with an entry and its result cost four reads and two polls;
 * liblber's read-ahead layer, under TLS when there is TLS, makes it one
 * read of what slapd sent, and libldap asks the layer whether a message
 * is buffered before it polls.  Without the layer (out of memory) reads
 * are as before.
 */
static void
route_ldap_readahead(LDAP *ld)
{
	Sockbuf *sb = NULL;

	if (ldap_get_option(ld, LDAP_OPT_SOCKBUF, &sb) == LDAP_OPT_SUCCESS
	    && sb != NULL)
		(void) ber_sockbuf_add_io(sb, &ber_sockbuf_io_readahead,
		    LBER_SBIOD_LEVEL_PROVIDER, NULL);
}

/*
 * Connect to one server and bind (simple; dn "" is anonymous), all
 * within left.  Returns an LDAP result code; *ld_r set on LDAP_SUCCESS,
 * else *text_r says why.
 */
static int
route_ldap_connect_one(const struct route_ldap_server *server,
	const char *dn, const char *password, const struct timeval *left,
	LDAP **ld_r, char **text_r)
{
	struct berval cred;
	LDAP *ld = NULL;
	int rc, tls;

	tls = server->implicit_tls || var_ldap_start_tls;
	if ((rc = ldap_initialize(&ld, server->uri)) != LDAP_SUCCESS) {
		*text_r = xasprintf("%s: %s", server->uri, ldap_err2string(rc));
		return rc;
	}
	if ((rc = route_ldap_set_options(ld, tls, left)) != LDAP_OPT_SUCCESS) {
		*text_r = xasprintf("%s: setting options: %s", server->uri,
		    ldap_err2string(rc));
		(void) ldap_unbind_ext_s(ld, NULL, NULL);
		/* Not the server's fault: do not fail over on it. */
		return rc == LDAP_OPT_ERROR ? LDAP_LOCAL_ERROR : rc;
	}
	if (var_ldap_start_tls && !server->implicit_tls
	    && (rc = ldap_start_tls_s(ld, NULL, NULL)) != LDAP_SUCCESS) {
		char *why = route_ldap_tls_error_text(ld, rc);

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
		/* With ldaps:// the handshake happens in the bind. */
		char *why = server->implicit_tls && rc != LDAP_TIMEOUT
		    && route_ldap_conn_lost(rc)
		    ? route_ldap_ldaps_error_text(server, ld, rc, left)
		    : route_ldap_error_text(ld, rc);

		*text_r = xasprintf("%s: bind as \"%s\": %s", server->uri, dn,
		    why);
		free(why);
		(void) ldap_unbind_ext_s(ld, NULL, NULL);
		return rc;
	}
	route_ldap_readahead(ld);
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
 * ldap_server_uris, skipping recently dead ones unless all are, and
 * giving up at deadline.  0 ok; -1 with *error_r and *ldrc_r (the last
 * server's result code).
 */
int
route_ldap_connect(struct route_ldap *rl, const char *dn,
	const char *password, double deadline, LDAP **ld_r, size_t *server_r,
	int *ldrc_r, char **error_r)
{
	struct buf *why = buf_new(ROUTE_LDAP_TEXT_MAX);
	time_t now = route_ldap_now();
	int pass, skipped = 0, rc = LDAP_SERVER_DOWN;
	struct timeval left;
	size_t i;

	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < rl->server_count; i++) {
			int dead = rl->servers[i].dead_until > now;
			char *text = NULL;
			size_t j;
			int others = 0;

			if (dead != pass) {
				skipped |= dead;
				continue;
			}
			if (!route_ldap_time_left(deadline, &left)) {
				rc = LDAP_TIMEOUT;
				(void) buf_printf(why, "%sno time left to try "
				    "%s (ldap_search_timeout %llds)",
				    buf_len(why) > 0 ? "; " : "",
				    rl->servers[i].uri,
				    var_ldap_search_timeout);
				goto out;
			}
			/*
			 * Another server still to try after this one: a
			 * later one of this pass, or in the first pass one
			 * the second will try.
			 */
			for (j = 0; j < rl->server_count && !others; j++) {
				int jdead = rl->servers[j].dead_until > now;

				others = (j > i && jdead == pass)
				    || (pass == 0 && jdead);
			}
			route_ldap_share(&left, others);
			rc = route_ldap_connect_one(&rl->servers[i], dn,
			    password, &left, ld_r, &text);
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
out:
	*ldrc_r = rc;
	*error_r = xasprintf(ROUTE_ERROR_UNREACHABLE ": %s", buf_cstr(why));
	buf_free(&why);
	return -1;
}

/* An idle pooled connection, or a new one if the pool has room. */
static struct route_ldap_conn *
route_ldap_pool_get(struct route_ldap *rl, double deadline, char **error_r)
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
	if (route_ldap_connect(rl, rl->bind_dn, rl->bind_password, deadline,
	    &slot->ld, &slot->server, &ldrc, error_r) < 0)
		return NULL;
	slot->busy = 1;
	return slot;
}

/*
 * The provisioning connection: bound as ldap_provision_bind_dn, whose
 * password file is read here, at the first write, so that daemons,
 * which never write, need not be able to read it.  Without that
 * parameter writes go over the pool as the service account.
 */
static struct route_ldap_conn *
route_ldap_writer_get(struct route_ldap *rl, double deadline,
	char **error_r)
{
	struct route_ldap_conn *conn = &rl->writer;
	int ldrc;

	if (var_ldap_provision_bind_dn[0] == '\0')
		return route_ldap_pool_get(rl, deadline, error_r);
	if (conn->ld != NULL) {
		conn->busy = 1;
		return conn;
	}
	if (rl->provision_password == NULL
	    && route_ldap_read_password("ldap_provision_bind_password_file",
	    var_ldap_provision_bind_password_file, &rl->provision_password,
	    error_r) < 0)
		return NULL;
	if (route_ldap_connect(rl, var_ldap_provision_bind_dn,
	    rl->provision_password, deadline, &conn->ld, &conn->server, &ldrc,
	    error_r) < 0)
		return NULL;
	conn->busy = 1;
	return conn;
}

void
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
 * otherwise.  A lost connection is retried once, on the next server, if
 * time is left: ldap_search_timeout bounds the whole call (connecting,
 * binding, searching and the retry), as ispmail-ldap(5) promises.
 */
int
route_ldap_search(struct route_ldap *rl, const char *base, int scope,
	const char *filter, const char *const *attrs, int sizelimit,
	struct route_ldap_conn **conn_r, LDAPMessage **res_r, int *ldrc_r,
	char **error_r)
{
	return route_ldap_search_until(rl, route_ldap_deadline(), base, scope,
	    filter, attrs, sizelimit, conn_r, res_r, ldrc_r, error_r);
}

int
route_ldap_search_until(struct route_ldap *rl, double deadline,
	const char *base, int scope, const char *filter,
	const char *const *attrs, int sizelimit,
	struct route_ldap_conn **conn_r, LDAPMessage **res_r, int *ldrc_r,
	char **error_r)
{
	struct route_ldap_conn *conn;
	struct timeval tv;
	LDAPMessage *res;
	int attempt, rc;
	char *why;

	for (attempt = 0;; attempt++) {
		if ((conn = route_ldap_pool_get(rl, deadline, error_r)) == NULL)
			return -1;
		if (!route_ldap_time_left(deadline, &tv)) {
			route_ldap_pool_put(conn);
			*error_r = xasprintf(ROUTE_ERROR_UNREACHABLE ": %s: "
			    "no time left to search (ldap_search_timeout "
			    "%llds)", rl->servers[conn->server].uri,
			    var_ldap_search_timeout);
			return -1;
		}
		/*
		 * The first attempt leaves the retry, on the next server,
		 * half of the time, if there is a server to retry on.
		 */
		route_ldap_share(&tv, attempt == 0 && rl->server_count > 1);
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
			if (attempt > 0 || !route_ldap_time_left(deadline,
			    &tv)) {
				*error_r = xasprintf(ROUTE_ERROR_UNREACHABLE
				    ": %s", where);
				free(where);
				return -1;
			}
			free(where);
		}
	}
}

/*
 * Add, modify or delete dn, on the provisioning connection.  0 when a
 * server answered (*ldrc_r is its result, *text_r its text when not
 * LDAP_SUCCESS); -1 with *error_r when none could.  Retried once only
 * when the connection was found dead before the server could have acted
 * (LDAP_SERVER_DOWN): a timed-out write may have been applied.
 */
int
route_ldap_write(struct route_ldap *rl, enum route_ldap_write_op op,
	const char *dn, LDAPMod **mods, int *ldrc_r, char **text_r,
	char **error_r)
{
	double deadline = route_ldap_deadline();
	struct route_ldap_conn *conn;
	int attempt, rc = LDAP_OTHER;
	struct timeval tv;
	char *why;

	*text_r = NULL;
	for (attempt = 0;; attempt++) {
		if ((conn = route_ldap_writer_get(rl, deadline, error_r))
		    == NULL)
			return -1;
		if (!route_ldap_time_left(deadline, &tv)
		    || ldap_set_option(conn->ld, LDAP_OPT_TIMEOUT, &tv)
		    != LDAP_OPT_SUCCESS) {
			route_ldap_pool_put(conn);
			*error_r = xasprintf(ROUTE_ERROR_UNREACHABLE ": %s: "
			    "no time left to write (ldap_search_timeout "
			    "%llds)", rl->servers[conn->server].uri,
			    var_ldap_search_timeout);
			return -1;
		}
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
				*error_r = xasprintf(ROUTE_ERROR_UNREACHABLE
				    ": %s", where);
				free(where);
				return -1;
			}
			free(where);
		}
	}
}

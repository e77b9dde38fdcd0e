/*
 * route_auth: password checks, route_authenticate, route_authorize,
 * route_hash_password.
 */
#include "config.h"

#include <crypt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "crypt_scratch.h"
#include "log.h"
#include "mail_params.h"
#include "metrics.h"
#include "route.h"
#include "route_backend.h"
#include "xalloc.h"

#include "route_int.h"

/*
 * A yescrypt hash of a password nobody uses, with the default cost, so an
 * unknown login costs the same crypt() time as a known one.
 */
#define ROUTE_DUMMY_HASH \
	"$y$j9T$HaIcPMYhffOhoXRoPOJvV/$8amQrcEdcQF/rURjUr6dyncwXCdBTVz.pHX1gYx4JdC"

/* ---- passwords ------------------------------------------------------------ */

/* Compare two strings in time that depends only on their length. */
static int
route_equal_ct(const char *a, const char *b)
{
	size_t len = strlen(a), i;
	volatile unsigned char diff = 0;

	if (len != strlen(b))
		return 0;
	for (i = 0; i < len; i++)
		diff |= (unsigned char) (a[i] ^ b[i]);
	return diff == 0;
}

static route_crypt_runner *route_crypt_run;

void
route_set_crypt_runner(route_crypt_runner *run)
{
	route_crypt_run = run;
}

/* One crypt_rn call, as a runner hands it to another thread. */
struct route_crypt_job {
	const char *password;
	const char *setting;
	struct crypt_data *data;
	const char *computed;
};

static void
route_crypt_job_run(void *arg)
{
	struct route_crypt_job *job = arg;

	crypt_scratch_enter();
	job->computed = crypt_rn(job->password, job->setting, job->data,
	    (int) sizeof(*job->data));
	crypt_scratch_leave();
}

/*
 * Does password match hash?  With a NULL or unusable hash the dummy hash
 * is computed anyway and the answer is no, so the time spent does not
 * tell a guesser whether the account exists.
 */
static int
route_password_matches(const char *password, const char *hash,
	const char *who)
{
	struct route_crypt_job job;
	struct crypt_data *data;
	const char *computed;
	int ok = 0, dummy;

	/*
	 * The 32 KiB crypt_data gets a mapping of its own that munmap()
	 * gives back whole: from the heap, each login left a touched 32 KiB
	 * hole behind in a process serving many sessions (imap_client_limit),
	 * a third of an idle IMAP session's memory.  Zero-filled, as crypt_rn
	 * wants it.
	 */
	data = mmap(NULL, sizeof(*data), PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (data == MAP_FAILED)
		log_fatal("mmap of %zu bytes for crypt: %m", sizeof(*data));

	dummy = hash == NULL || hash[0] == '\0' || hash[0] == '!'
	    || hash[0] == '*';
	/* Proxied logins show here: one hash per login, not two. */
	metrics_inc("ispmail_password_hashes_total", NULL);
	job.password = password;
	job.setting = dummy ? ROUTE_DUMMY_HASH : hash;
	job.data = data;
	job.computed = NULL;
	if (route_crypt_run != NULL)
		route_crypt_run(route_crypt_job_run, &job);
	else
		route_crypt_job_run(&job);
	computed = job.computed;
	if (computed == NULL || computed[0] == '*') {
		if (!dummy)
			log_warn("%s: unusable password hash", who);
	} else if (!dummy) {
		ok = route_equal_ct(computed, hash);
	}
	explicit_bzero(data, sizeof(*data));
	if (munmap(data, sizeof(*data)) < 0)
		log_panic("munmap of crypt data: %m");
	return ok;
}

/*
 * The login's verdict by the mailbox's state (takes over m): 1 active
 * (*mailbox_r = m when not NULL), 0 disabled or suspended (*reason_r),
 * -1 being moved (a temporary failure).
 */
static int
route_login_state(struct route_mailbox *m, const char *login,
	struct route_mailbox **mailbox_r, const char **reason_r,
	char **error_r)
{
	if (m->state == ROUTE_STATE_MOVING) {
		route_mailbox_free(&m);
		return route_fail(error_r, -1, "mailbox %s is being moved",
		    login);
	}
	if (m->state == ROUTE_STATE_DISABLED
	    || m->state == ROUTE_STATE_SUSPENDED) {
		*reason_r = m->state == ROUTE_STATE_DISABLED
		    ? "account disabled" : "account suspended";
		route_mailbox_free(&m);
		return 0;
	}
	*reason_r = NULL;
	if (mailbox_r != NULL)
		*mailbox_r = m;
	else
		route_mailbox_free(&m);
	return 1;
}

/*
 * Look login up: 1 found (*m_r), 0 not found or not an address (then
 * *norm_r is NULL), -1 temporary failure (*error_r).  *norm_r is the
 * normalized login (caller frees).
 */
static int
route_login_get(struct route *r, const char *login, char **norm_r,
	struct route_mailbox **m_r, char **error_r)
{
	char *error = NULL;
	int rc;

	*norm_r = NULL;
	if (route_normalize(r, login, norm_r, NULL) < 0) {
		free(*norm_r);
		*norm_r = NULL;
		return 0;
	}
	rc = r->ops->mailbox_get(r->backend, *norm_r, m_r, &error);
	if (rc < 0) {
		route_pass_error(error_r, error != NULL ? error
		    : xasprintf("%s: temporary failure", *norm_r));
		return -1;
	}
	free(error);
	return rc;
}

int
route_authenticate(struct route *r, const char *login,
	const char *password, struct route_mailbox **mailbox_r,
	const char **reason_r, char **error_r)
{
	struct route_mailbox *m = NULL;
	char *norm = NULL, *error = NULL;
	int rc, ok;

	if (mailbox_r != NULL)
		*mailbox_r = NULL;
	*reason_r = "invalid credentials";
	rc = route_login_get(r, login, &norm, &m, error_r);
	if (rc < 0) {
		free(norm);
		return -1;
	}
	if (norm == NULL) {
		(void) route_password_matches(password, NULL, login);
		return 0;
	}
	if (var_ldap_auth_bind && r->ops->auth_bind != NULL) {
		ok = 0;
		if (rc > 0) {
			ok = r->ops->auth_bind(r->backend, m->address,
			    password, &error);
			if (ok < 0) {
				route_pass_error(error_r, error != NULL ? error
				    : xasprintf("%s: bind failed "
				    "temporarily", m->address));
				route_mailbox_free(&m);
				free(norm);
				return -1;
			}
			free(error);
		}
	} else {
		ok = route_password_matches(password,
		    rc > 0 ? m->password_hash : NULL, norm);
	}
	free(norm);
	if (!ok) {
		route_mailbox_free(&m);
		return 0;
	}
	/*
	 * The state is looked at only after the password was right, so a
	 * wrong guess learns nothing about the account.
	 */
	return route_login_state(m, login, mailbox_r, reason_r, error_r);
}

int
route_authorize(struct route *r, const char *login,
	struct route_mailbox **mailbox_r, const char **reason_r,
	char **error_r)
{
	struct route_mailbox *m = NULL;
	char *norm = NULL;
	int rc;

	if (mailbox_r != NULL)
		*mailbox_r = NULL;
	*reason_r = "no such mailbox";
	rc = route_login_get(r, login, &norm, &m, error_r);
	free(norm);
	if (rc <= 0)
		return rc;
	return route_login_state(m, login, mailbox_r, reason_r, error_r);
}

char *
route_hash_password(const char *password, char **error_r)
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *data;
	const char *hash;
	char *result = NULL;

	if (strlen(password) >= CRYPT_MAX_PASSPHRASE_SIZE) {
		(void) route_fail(error_r, -1, "password longer than %d "
		    "bytes", CRYPT_MAX_PASSPHRASE_SIZE - 1);
		return NULL;
	}
	/* yescrypt where libxcrypt has it, else SHA-512 crypt. */
	if (crypt_gensalt_rn("$y$", 0, NULL, 0, setting,
	    (int) sizeof(setting)) == NULL
	    && crypt_gensalt_rn("$6$", 0, NULL, 0, setting,
	    (int) sizeof(setting)) == NULL) {
		(void) route_fail(error_r, -1, "crypt_gensalt: %m");
		return NULL;
	}
	data = xcalloc(1, sizeof(*data));
	hash = crypt_rn(password, setting, data, (int) sizeof(*data));
	if (hash == NULL || hash[0] == '*')
		(void) route_fail(error_r, -1, "crypt: %m");
	else
		result = xstrdup(hash);
	explicit_bzero(data, sizeof(*data));
	free(data);
	return result;
}

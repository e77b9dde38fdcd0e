/* route_auth: password checks, route_authenticate, route_hash_password. */
#include "config.h"

#include <crypt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "log.h"
#include "mail_params.h"
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

/*
 * Does password match hash?  With a NULL or unusable hash the dummy hash
 * is computed anyway and the answer is no, so the time spent does not
 * tell a guesser whether the account exists.
 */
static int
route_password_matches(const char *password, const char *hash,
	const char *who)
{
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
	computed = crypt_rn(password, dummy ? ROUTE_DUMMY_HASH : hash, data,
	    (int) sizeof(*data));
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
	if (route_normalize(r, login, &norm, NULL) < 0) {
		(void) route_password_matches(password, NULL, login);
		return 0;
	}
	rc = r->ops->mailbox_get(r->backend, norm, &m, &error);
	if (rc < 0) {
		route_pass_error(error_r, error != NULL ? error
		    : xasprintf("%s: temporary failure", norm));
		free(norm);
		return -1;
	}
	free(error);
	error = NULL;
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

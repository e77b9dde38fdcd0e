/* smtpd_arc: ARC sets on forwarded mail (see smtpd_arc.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "arc.h"
#include "dkim_domain.h"
#include "dkim_keycache.h"
#include "dkim_keys.h"
#include "log.h"
#include "mail_params.h"
#include "qfile.h"
#include "route.h"
#include "smtpd.h"
#include "smtpd_arc.h"
#include "smtpd_authres_check.h"
#include "smtpd_authres_dns.h"
#include "xalloc.h"

/* Sealing keys kept parsed per process, least used out. */
#define ARC_KEYCACHE_MAX 64

struct smtpd_arc {
	char *queue_id;
	char *domain;			/* the forwarding domain */
	char *selector;
	struct arc_sealer *sealer;
};

static struct dkim_keycache *arc_keys;

/*
 * Does the directory forward address to another domain?  A remote
 * address that is the recipient itself (a trusted client relaying, an
 * SRS bounce) is no forward of ours.
 */
static int
arc_forwarded(struct route *r, const char *address)
{
	struct route_expansion *exp = NULL;
	char *error = NULL;
	size_t i;
	int remote = 0;

	if (route_expand(r, address, &exp, &error) == ROUTE_EXPAND_OK)
		for (i = 0; i < exp->dest_count; i++)
			if (exp->dests[i].kind == ROUTE_DEST_REMOTE &&
			    strcasecmp(exp->dests[i].address, address) != 0)
				remote = 1;
	free(error);
	route_expansion_free(&exp);
	return remote;
}

/* address's domain, lower case (a copy), or NULL. */
static char *
arc_domain_of(const char *address)
{
	const char *at = strrchr(address, '@');
	char *d;
	size_t i;

	if (at == NULL || !dkim_domain_valid(at + 1))
		return NULL;
	d = xstrdup(at + 1);
	for (i = 0; d[i] != '\0'; i++)
		if (d[i] >= 'A' && d[i] <= 'Z')
			d[i] = (char) (d[i] - 'A' + 'a');
	return d;
}

/*
 * The RSA key of domain that signs now: 1 (*key_r points into set,
 * which the caller clears), 0 none, -1 the keys cannot be read (logged).
 */
static int
arc_domain_key(const char *queue_id, const char *domain,
	struct dkim_keyset *set, const struct dkim_key **key_r)
{
	enum dkim_source source;
	char *error = NULL;
	int rc;

	rc = dkim_domain_keys(smtpd_route(), var_dkim_key_directory, domain,
	    set, &source, &error);
	if (rc < 0) {
		log_warn("%s: arc: dkim keys of %s: %s: not sealed", queue_id,
		    domain, error);
		free(error);
		return -1;
	}
	if (rc == 0)
		return 0;
	*key_r = dkim_keys_signing(set, DKIM_KEY_RSA, (long long) time(NULL));
	if (*key_r == NULL) {
		dkim_keys_clear(set);
		return 0;
	}
	return 1;
}

/* A sealer with domain's key, or NULL (unreadable: logged). */
static struct arc_sealer *
arc_sealer_for(const char *queue_id, const char *domain,
	const struct dkim_key *key, struct dkim_pubcache *pubkeys)
{
	struct arc_sealer *sealer = NULL;
	EVP_PKEY *pkey;
	char *path, *error = NULL;
	int loaded;

	if (arc_keys == NULL)
		arc_keys = dkim_keycache_new(ARC_KEYCACHE_MAX);
	path = dkim_key_file_path(var_dkim_key_directory, domain, key);
	pkey = dkim_keycache_get(arc_keys, path, DKIM_KEY_RSA, &loaded,
	    &error);
	if (pkey != NULL) {
		if (loaded)
			log_info("%s: arc: dkim key %s loaded", queue_id, path);
		sealer = arc_sealer_new(pkey, domain, key->selector, pubkeys,
		    (long long) time(NULL), &error);
		EVP_PKEY_free(pkey);
	}
	if (sealer == NULL) {
		log_error("%s: arc: key %s of %s: %s: not sealed", queue_id,
		    key->selector, domain, error);
		free(error);
	}
	free(path);
	return sealer;
}

struct smtpd_arc *
smtpd_arc_new(struct smtpd_session *ss, const char *queue_id,
	struct dkim_pubcache *pubkeys)
{
	struct route *r = smtpd_route();
	struct smtpd_arc *arc;
	struct arc_sealer *sealer = NULL;
	const struct dkim_key *key = NULL;
	struct dkim_keyset set;
	char *domain = NULL, *keyless = NULL, *selector = NULL;
	size_t i;

	if (!var_smtpd_arc_sealing || r == NULL)
		return NULL;
	/*
	 * The domain's key first (its record is cached), the expansion
	 * only for a domain that could sign: most mail is for mailboxes.
	 */
	for (i = 0; sealer == NULL && i < ss->env.rcpt_count &&
	    i < SMTPD_ARC_RCPTS_MAX; i++) {
		const char *address = ss->env.rcpts[i].address;

		free(domain);
		domain = arc_domain_of(address);
		if (domain == NULL || (keyless != NULL &&
		    strcmp(domain, keyless) == 0))
			continue;
		if (arc_domain_key(queue_id, domain, &set, &key) <= 0) {
			free(keyless);
			keyless = domain;
			domain = NULL;
			continue;
		}
		if (arc_forwarded(r, address)) {
			sealer = arc_sealer_for(queue_id, domain, key, pubkeys);
			if (sealer != NULL)
				selector = xstrdup(key->selector);
		}
		dkim_keys_clear(&set);
	}
	free(keyless);
	if (sealer == NULL) {
		free(domain);
		return NULL;
	}
	arc = xcalloc(1, sizeof(*arc));
	arc->queue_id = xstrdup(queue_id);
	arc->domain = domain;
	arc->selector = selector;
	arc->sealer = sealer;
	return arc;
}

void
smtpd_arc_chunk(struct smtpd_arc *arc, const void *data, size_t len)
{
	arc_sealer_chunk(arc->sealer, data, len);
}

void
smtpd_arc_prefetch(struct smtpd_arc *arc)
{
	const char *name;
	size_t i;

	for (i = 0; i < arc_sealer_key_count(arc->sealer) &&
	    i < SMTPD_ARC_PREFETCH_KEYS; i++) {
		name = arc_sealer_key_name(arc->sealer, i);
		if (name != NULL)
			smtpd_authres_dns_prefetch(DNS_TYPE_TXT, name);
	}
}

const char *
smtpd_arc_check(struct smtpd_arc *arc)
{
	enum dkim_key_lookup lookup;
	const char *record, *name;
	size_t i;

	arc_sealer_finish(arc->sealer);
	for (i = 0; i < arc_sealer_key_count(arc->sealer); i++) {
		name = arc_sealer_key_name(arc->sealer, i);
		if (name == NULL)
			continue;
		lookup = smtpd_authres_key_record(name, &record);
		arc_sealer_key(arc->sealer, i, lookup, record,
		    record != NULL ? strlen(record) : 0);
	}
	return arc_sealer_result(arc->sealer);
}

void
smtpd_arc_end(struct smtpd_arc *arc, const char *authres_field,
	struct qfile_writer *w)
{
	const char *colon = strchr(authres_field, ':'), *reason = NULL;
	char *fields[3], *error = NULL;
	enum arc_cv cv = ARC_CV_NONE;
	size_t queued;
	int instance = 0, rc, k;

	rc = arc_sealer_seal(arc->sealer, colon != NULL ? colon + 1 : "",
	    (long long) time(NULL), fields, &cv, &instance, &reason);
	if (rc <= 0) {
		log_info("%s: arc: not sealed for %s: %s", arc->queue_id,
		    arc->domain, reason);
		return;
	}
	/* All three or none: a partial set breaks the chain. */
	(void) qfile_writer_prepended(w, &queued);
	for (k = 0; k < 3; k++)
		if (!qfile_header_field_valid(fields[k]))
			queued = QFILE_PREPEND_MAX;
	for (k = 0; k < 3 && queued + 3 <= QFILE_PREPEND_MAX; k++)
		if (qfile_writer_prepend_header(w, fields[k], &error) < 0) {
			log_error("%s: arc: %s", arc->queue_id, error);
			free(error);
			error = NULL;
		}
	if (queued + 3 > QFILE_PREPEND_MAX)
		log_error("%s: arc: set too big to queue: not sealed",
		    arc->queue_id);
	else
		log_info("%s: arc sealed i=%d cv=%s d=%s s=%s (%s)",
		    arc->queue_id, instance, arc_cv_name(cv), arc->domain,
		    arc->selector, reason);
	for (k = 0; k < 3; k++)
		free(fields[k]);
}

void
smtpd_arc_free(struct smtpd_arc **ap)
{
	struct smtpd_arc *arc = *ap;

	if (arc == NULL)
		return;
	arc_sealer_free(&arc->sealer);
	free(arc->queue_id);
	free(arc->domain);
	free(arc->selector);
	free(arc);
	*ap = NULL;
}

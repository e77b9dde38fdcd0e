/*
 * ctl_dkim: ispmailctl dkim keygen|rotate|show|migrate: a domain's DKIM
 * signing keys, named in its domain record of the routing directory
 * (dkim_domain.h) with their files in dkim_key_directory, and the DNS
 * records to publish for them.  A domain whose keys are still in an old
 * selectors file has them moved into its record by the next keygen,
 * rotate or migrate.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "buf.h"
#include "ctl.h"
#include "dkim_domain.h"
#include "dkim_keys.h"
#include "fileio.h"
#include "mail_params.h"
#include "route.h"
#include "xalloc.h"

#define DKIM_RSA_BITS 2048
/* One DNS character-string holds 255 octets (RFC 1035 3.3). */
#define DKIM_TXT_CHUNK 250

static int
ctl_dkim_usage(void)
{
	ctl_eprintf("usage: ispmailctl dkim keygen DOMAIN [--selector S] "
	    "[--type rsa|ed25519]\n"
	    "       ispmailctl dkim rotate DOMAIN [--type rsa|ed25519]\n"
	    "       ispmailctl dkim show DOMAIN\n"
	    "       ispmailctl dkim migrate DOMAIN\n");
	return 2;
}

/* Run as root: files go to mail_owner (smtpd signs as that user). */
static int
ctl_dkim_owner(uid_t *uid_r, gid_t *gid_r)
{
	struct passwd *pw;

	if (geteuid() != 0)
		return 0;
	pw = getpwnam(var_mail_owner);
	if (pw == NULL) {
		ctl_eprintf("ispmailctl: mail_owner %s: no such user\n",
		    var_mail_owner);
		return -1;
	}
	*uid_r = pw->pw_uid;
	*gid_r = pw->pw_gid;
	return 1;
}

/*
 * dkim_key_directory and the domain's directory in it, mode 0750, owned
 * by mail_owner when run as root.  That user could plant a symbolic link
 * in its directory: each is opened without following one, and the keys
 * are made through the domain directory's descriptor.  The descriptor,
 * or -1 after a message.
 */
static int
ctl_dkim_mkdirs(const char *domain)
{
	const char *dirs[2];
	uid_t uid;
	gid_t gid;
	int own, i, fd = -1, parent = AT_FDCWD;

	if ((own = ctl_dkim_owner(&uid, &gid)) < 0)
		return -1;
	dirs[0] = var_dkim_key_directory;
	dirs[1] = domain;
	for (i = 0; i < 2; i++) {
		if ((mkdirat(parent, dirs[i], 0750) < 0 && errno != EEXIST) ||
		    (fd = openat(parent, dirs[i], O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC)) < 0 ||
		    (own == 1 && fchown(fd, uid, gid) < 0)) {
			ctl_eprintf("ispmailctl: %s%s%s: %s\n", i == 0 ? "" :
			    var_dkim_key_directory, i == 0 ? "" : "/",
			    dirs[i], strerror(errno));
			if (fd >= 0)
				close(fd);
			fd = -1;
		}
		if (parent != AT_FDCWD)
			close(parent);
		if (fd < 0)
			return -1;
		parent = fd;
		fd = -1;
	}
	return parent;
}

/* The TXT record data for the public half of key (caller frees). */
static char *
ctl_dkim_txt(EVP_PKEY *key, enum dkim_key_type type)
{
	unsigned char *der = NULL, raw[64];
	size_t rawlen = sizeof(raw), b64len;
	int len;
	char *b64, *txt;

	if (type == DKIM_KEY_ED25519) {
		/* RFC 8463 4.2: the raw 32-octet public key. */
		if (EVP_PKEY_get_raw_public_key(key, raw, &rawlen) != 1)
			return NULL;
		der = raw;
		len = (int) rawlen;
	} else {
		/* RFC 6376 3.6.1: SubjectPublicKeyInfo, DER. */
		len = i2d_PUBKEY(key, &der);
		if (len <= 0)
			return NULL;
	}
	b64len = 4 * (((size_t) len + 2) / 3) + 1;
	b64 = xmalloc(b64len);
	(void) EVP_EncodeBlock((unsigned char *) b64, der, len);
	if (der != raw)
		OPENSSL_free(der);
	txt = xasprintf("v=DKIM1; k=%s; p=%s", dkim_key_type_name(type), b64);
	free(b64);
	return txt;
}

/* Print the zone-file line of a selector's record. */
static void
ctl_dkim_print_record(const char *domain, const char *selector,
	const char *txt)
{
	size_t len = strlen(txt), off;

	ctl_printf("%s._domainkey.%s. IN TXT (", selector, domain);
	for (off = 0; off < len; off += DKIM_TXT_CHUNK) {
		size_t n = len - off > DKIM_TXT_CHUNK ? DKIM_TXT_CHUNK :
		    len - off;
		char *part = xstrndup(txt + off, n);

		ctl_printf(" \"%s\"", part);
		free(part);
	}
	ctl_printf(" )\n");
}

/* The record of an existing key file; NULL when unreadable. */
static char *
ctl_dkim_txt_of_file(const char *domain, const struct dkim_key *k)
{
	char *path = dkim_key_file_path(var_dkim_key_directory, domain, k);
	char *pem, *error = NULL, *txt = NULL;
	EVP_PKEY *key;
	BIO *bio;

	pem = dkim_key_load(path, &error);
	free(path);
	if (pem == NULL) {
		ctl_eprintf("ispmailctl: %s\n", error);
		free(error);
		return NULL;
	}
	bio = BIO_new_mem_buf(pem, -1);
	key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	free(pem);
	if (key != NULL) {
		txt = ctl_dkim_txt(key, k->type);
		EVP_PKEY_free(key);
	}
	return txt;
}

/* Generate a key and write it, mode 0600, to the selector's file. */
static int
ctl_dkim_generate(int dfd, const char *domain, const char *selector,
	enum dkim_key_type type, char **txt_r)
{
	char *path = dkim_key_path(var_dkim_key_directory, domain, selector);
	char *error = NULL, *name = NULL;
	EVP_PKEY *key;
	BIO *bio;
	char *pem;
	long pemlen;
	uid_t uid;
	gid_t gid;
	int fd, own, rc = -1;

	key = type == DKIM_KEY_ED25519 ? EVP_PKEY_Q_keygen(NULL, NULL,
	    "ED25519") : EVP_PKEY_Q_keygen(NULL, NULL, "RSA",
	    (size_t) DKIM_RSA_BITS);
	if (key == NULL) {
		ctl_eprintf("ispmailctl: %s key generation failed\n",
		    dkim_key_type_name(type));
		free(path);
		return -1;
	}
	bio = BIO_new(BIO_s_mem());
	(void) PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL);
	pemlen = BIO_get_mem_data(bio, &pem);
	own = ctl_dkim_owner(&uid, &gid);
	name = xasprintf("%s.key", selector);
	fd = own < 0 ? -1 : openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		if (own >= 0)
			ctl_eprintf("ispmailctl: create %s: %s\n", path,
			    strerror(errno));
		goto out;
	}
	if ((own == 1 && fchown(fd, uid, gid) < 0) ||
	    fileio_write_all(fd, pem, (size_t) pemlen, path, &error) < 0 ||
	    fsync(fd) < 0) {
		ctl_eprintf("ispmailctl: %s: %s\n", path, error != NULL ?
		    error : strerror(errno));
		free(error);
		close(fd);
		(void) unlinkat(dfd, name, 0);
		goto out;
	}
	close(fd);
	*txt_r = ctl_dkim_txt(key, type);
	rc = *txt_r != NULL ? 0 : -1;
out:
	BIO_free(bio);
	EVP_PKEY_free(key);
	free(name);
	free(path);
	return rc;
}

static int
ctl_dkim_has_selector(const struct dkim_keyset *set, const char *selector)
{
	size_t i;

	for (i = 0; i < set->count; i++)
		if (strcmp(set->keys[i].selector, selector) == 0)
			return 1;
	return 0;
}

/*
 * The selectors this run retired (ctl_dkim_prune): no new key may take
 * one of their names, though they have left the set.
 */
static struct dkim_keyset ctl_dkim_gone;

/*
 * A new selector: YYYYMMDDhhmmss (UTC) + r/e, then -2, -3 ... when
 * taken: never the name of a retired key, whose record caches may hold
 * (a key made in the same second as one this run retires included).
 */
static char *
ctl_dkim_new_selector(const struct dkim_keyset *set, enum dkim_key_type type)
{
	char date[32], *selector;
	time_t now = time(NULL);
	struct tm tm;
	int n;

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%Y%m%d%H%M%S", &tm);
	selector = xasprintf("%s%c", date, type == DKIM_KEY_RSA ? 'r' : 'e');
	for (n = 2; ctl_dkim_has_selector(set, selector) ||
	    ctl_dkim_has_selector(&ctl_dkim_gone, selector); n++) {
		free(selector);
		selector = xasprintf("%s%c-%d", date,
		    type == DKIM_KEY_RSA ? 'r' : 'e', n);
	}
	return selector;
}

/* Add a key of type, signing from start; prints its record. */
static int
ctl_dkim_add(int dfd, const char *domain, struct dkim_keyset *set,
	enum dkim_key_type type, const char *selector_opt, long long start)
{
	char *selector, *txt = NULL;
	struct dkim_key *k;

	if (set->count == DKIM_KEYS_MAX) {
		ctl_eprintf("ispmailctl: %s has %d keys already\n", domain,
		    DKIM_KEYS_MAX);
		return -1;
	}
	selector = selector_opt != NULL ? xstrdup(selector_opt) :
	    ctl_dkim_new_selector(set, type);
	if (ctl_dkim_has_selector(set, selector)) {
		ctl_eprintf("ispmailctl: %s: selector %s exists\n", domain,
		    selector);
		free(selector);
		return -1;
	}
	if (ctl_dkim_generate(dfd, domain, selector, type, &txt) < 0) {
		free(selector);
		return -1;
	}
	k = &set->keys[set->count++];
	k->selector = selector;
	k->type = type;
	k->start = start;
	k->retire = 0;
	k->file = xasprintf("%s/%s.key", domain, selector);
	ctl_dkim_print_record(domain, selector, txt);
	free(txt);
	return 0;
}

/*
 * A key file this command made: relative to dkim_key_directory.  Files
 * the operator named by an absolute path are never removed.
 */
static int
ctl_dkim_own_file(const struct dkim_key *k)
{
	return k->file == NULL || k->file[0] != '/';
}

/* Drop retired keys and the files that are ours. */
static void
ctl_dkim_prune(const char *domain, struct dkim_keyset *set, long long now)
{
	size_t i, kept = 0;

	for (i = 0; i < set->count; i++) {
		struct dkim_key *k = &set->keys[i];

		if (k->retire != 0 && k->retire <= now) {
			char *path = dkim_key_file_path(var_dkim_key_directory,
			    domain, k);

			if (ctl_dkim_own_file(k))
				(void) unlink(path);
			free(path);
			ctl_printf("retired selector %s (remove its DNS "
			    "record)\n", k->selector);
			free(k->file);
			if (ctl_dkim_gone.count < DKIM_KEYS_MAX) {
				ctl_dkim_gone.keys[ctl_dkim_gone.count] = *k;
				ctl_dkim_gone.keys[ctl_dkim_gone.count++].file =
				    NULL;
			} else
				free(k->selector);
			continue;
		}
		set->keys[kept++] = *k;
	}
	set->count = kept;
}

/* A domain's record and keys, as keygen, rotate, show, migrate see them. */
struct ctl_dkim_domain {
	const char *name;
	struct route *r;
	struct route_domain *d;		/* NULL: not in the directory */
	struct dkim_keyset set;
	enum dkim_source source;
	size_t made_from;		/* keys from here on are new */
	int dfd;			/* the domain's key directory, or -1 */
};

static void
ctl_dkim_close(struct ctl_dkim_domain *cd)
{
	dkim_keys_clear(&cd->set);
	route_domain_free(&cd->d);
	route_close(&cd->r);
	if (cd->dfd >= 0)
		close(cd->dfd);
}

/*
 * Read the domain's record and keys: the record's, else its selectors
 * file.  need_record: the domain must be in the directory (keys are
 * written there).  0, or the exit status after a message.
 */
static int
ctl_dkim_open(struct ctl_dkim_domain *cd, const char *name, int need_record)
{
	char *error = NULL;
	int rc;

	memset(cd, 0, sizeof(*cd));
	cd->name = name;
	cd->dfd = -1;
	if ((cd->r = ctl_route_open()) == NULL)
		return 1;
	rc = route_domain_lookup(cd->r, name, &cd->d, &error);
	if (rc < 0)
		return ctl_fail(name, error != NULL ? error :
		    xstrdup(ROUTE_ERROR_UNREACHABLE));
	free(error);
	error = NULL;
	if (rc == 0 && need_record) {
		ctl_eprintf("ispmailctl: %s: no such domain in the routing "
		    "directory (ispmailctl domain add %s)\n", name, name);
		return 1;
	}
	if (cd->d != NULL && cd->d->dkim_selector_count > 0) {
		if (dkim_keys_from_record(cd->d, &cd->set, &error) < 0) {
			ctl_eprintf("ispmailctl: %s: %s\n", name, error);
			free(error);
			return 1;
		}
		cd->source = DKIM_SOURCE_RECORD;
	} else {
		rc = dkim_keys_read(var_dkim_key_directory, name, &cd->set,
		    &error);
		if (rc < 0) {
			ctl_eprintf("ispmailctl: %s\n", error);
			free(error);
			return 1;
		}
		cd->source = rc > 0 ? DKIM_SOURCE_FILE : DKIM_SOURCE_NONE;
	}
	cd->made_from = cd->set.count;
	return 0;
}

/* Remove the key files this run made (nothing names them). */
static void
ctl_dkim_unmake(const struct ctl_dkim_domain *cd)
{
	size_t i;

	for (i = cd->made_from; i < cd->set.count; i++) {
		char *path = dkim_key_file_path(var_dkim_key_directory,
		    cd->name, &cd->set.keys[i]);

		(void) unlink(path);
		free(path);
	}
}

/*
 * Write the keys into the domain record.  Keys that came from the
 * selectors file go with them, and the file is renamed
 * selectors.migrated so that nothing reads it again.  On failure the
 * key files made by this run are removed.  0, or the exit status.
 */
static int
ctl_dkim_save(struct ctl_dkim_domain *cd)
{
	char *error = NULL, *old, *moved;

	dkim_keys_to_record(&cd->set, cd->d);
	if (route_domain_put(cd->r, cd->d, 0, &error) < 0) {
		ctl_dkim_unmake(cd);
		return ctl_fail(cd->name, error);
	}
	if (cd->source != DKIM_SOURCE_FILE)
		return 0;
	old = xasprintf("%s/%s/selectors", var_dkim_key_directory, cd->name);
	moved = xasprintf("%s.migrated", old);
	if (rename(old, moved) < 0)
		ctl_eprintf("ispmailctl: rename %s: %s (the routing directory "
		    "holds the keys now: remove it)\n", old, strerror(errno));
	else
		ctl_printf("%s: the keys of %s are in the routing directory "
		    "now (%s kept as %s)\n", cd->name, old, old, moved);
	free(old);
	free(moved);
	return 0;
}

static int
ctl_dkim_keygen(const char *domain, const char *selector, int types)
{
	struct ctl_dkim_domain cd;
	long long now = (long long) time(NULL);
	char *sel;
	int t, rc;

	if ((rc = ctl_dkim_open(&cd, domain, 1)) != 0 ||
	    (cd.dfd = ctl_dkim_mkdirs(domain)) < 0) {
		ctl_dkim_close(&cd);
		return rc != 0 ? rc : 1;
	}
	for (t = 0; t < 2 && rc == 0; t++) {
		enum dkim_key_type type = t == 0 ? DKIM_KEY_RSA :
		    DKIM_KEY_ED25519;

		if (!(types & (1 << t)))
			continue;
		if (dkim_keys_signing(&cd.set, type, now) != NULL) {
			ctl_eprintf("ispmailctl: %s has a %s key: use dkim "
			    "rotate\n", domain, dkim_key_type_name(type));
			rc = 1;
			break;
		}
		sel = selector == NULL ? NULL : types == 3 ?
		    xasprintf("%s-%s", selector, dkim_key_type_name(type)) :
		    xstrdup(selector);
		if (ctl_dkim_add(cd.dfd, domain, &cd.set, type, sel, now) < 0)
			rc = 1;
		free(sel);
	}
	if (rc == 0)
		rc = ctl_dkim_save(&cd);
	else
		ctl_dkim_unmake(&cd);
	ctl_dkim_close(&cd);
	return rc;
}

static int
ctl_dkim_rotate(const char *domain, int types)
{
	struct ctl_dkim_domain cd;
	char when[64];
	long long now = (long long) time(NULL);
	long long start = now + var_dkim_key_ttl;
	time_t start_t = (time_t) start;
	struct tm tm;
	int t, rc, rotated = 0;

	if ((rc = ctl_dkim_open(&cd, domain, 1)) != 0 ||
	    (cd.source != DKIM_SOURCE_NONE &&
	    (cd.dfd = ctl_dkim_mkdirs(domain)) < 0)) {
		ctl_dkim_close(&cd);
		return rc != 0 ? rc : 1;
	}
	if (cd.source == DKIM_SOURCE_NONE) {
		ctl_eprintf("ispmailctl: %s: no DKIM keys (use dkim "
		    "keygen)\n", domain);
		ctl_dkim_close(&cd);
		return 1;
	}
	ctl_dkim_prune(domain, &cd.set, now);
	cd.made_from = cd.set.count;
	gmtime_r(&start_t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	for (t = 0; t < 2 && rc == 0; t++) {
		enum dkim_key_type type = t == 0 ? DKIM_KEY_RSA :
		    DKIM_KEY_ED25519;
		struct dkim_key *old = (struct dkim_key *)
		    (uintptr_t) dkim_keys_signing(&cd.set, type, now);

		if (!(types & (1 << t)) || old == NULL)
			continue;
		if (old->retire != 0) {
			ctl_printf("%s: %s key %s is being rotated already "
			    "(retires at %lld)\n", domain,
			    dkim_key_type_name(type), old->selector,
			    old->retire);
			continue;
		}
		old->retire = start;
		if (ctl_dkim_add(cd.dfd, domain, &cd.set, type, NULL,
		    start) < 0) {
			rc = 1;
			break;
		}
		ctl_printf("%s: %s selector %s signs until %s "
		    "(dkim_key_ttl), then %s: publish the record "
		    "above now\n", domain, dkim_key_type_name(type),
		    old->selector, when, cd.set.keys[cd.set.count - 1].selector);
		rotated++;
	}
	/* Retired keys are saved as gone even when nothing new is made. */
	if (rc == 0)
		rc = ctl_dkim_save(&cd);
	else
		ctl_dkim_unmake(&cd);
	ctl_dkim_close(&cd);
	if (rc == 0 && rotated == 0) {
		ctl_eprintf("ispmailctl: %s: nothing to rotate\n", domain);
		rc = 1;
	}
	return rc;
}

static int
ctl_dkim_show(const char *domain)
{
	struct ctl_dkim_domain cd;
	long long now = (long long) time(NULL);
	char *txt;
	size_t i;
	int rc;

	if ((rc = ctl_dkim_open(&cd, domain, 0)) != 0) {
		ctl_dkim_close(&cd);
		return rc;
	}
	if (cd.source == DKIM_SOURCE_NONE) {
		ctl_eprintf("ispmailctl: %s: no DKIM keys\n", domain);
		ctl_dkim_close(&cd);
		return 1;
	}
	if (cd.source == DKIM_SOURCE_FILE)
		ctl_printf("source=%s/%s/selectors (ispmailctl dkim migrate "
		    "moves it into the routing directory)\n",
		    var_dkim_key_directory, domain);
	else
		ctl_printf("source=routing directory\n");
	for (i = 0; i < cd.set.count; i++) {
		const struct dkim_key *k = &cd.set.keys[i];
		const char *state = k->retire != 0 && now >= k->retire ?
		    "retired" : k->start > now ? "pending" :
		    dkim_keys_signing(&cd.set, k->type, now) == k ? "signing" :
		    "idle";
		char *path = dkim_key_file_path(var_dkim_key_directory,
		    domain, k);

		ctl_printf("selector=%s type=%s state=%s start=%lld "
		    "retire=%lld file=%s\n", k->selector,
		    dkim_key_type_name(k->type), state, k->start, k->retire,
		    path);
		free(path);
		txt = ctl_dkim_txt_of_file(domain, k);
		if (txt != NULL)
			ctl_dkim_print_record(domain, k->selector, txt);
		free(txt);
	}
	ctl_dkim_close(&cd);
	return 0;
}

/* Move a domain's selectors file into its record. */
static int
ctl_dkim_migrate(const char *domain)
{
	struct ctl_dkim_domain cd;
	int rc;

	if ((rc = ctl_dkim_open(&cd, domain, 1)) == 0) {
		if (cd.source == DKIM_SOURCE_FILE)
			rc = ctl_dkim_save(&cd);
		else
			ctl_printf("%s: %s\n", domain, cd.source ==
			    DKIM_SOURCE_RECORD ? "the keys are in the routing "
			    "directory already" : "no selectors file");
	}
	ctl_dkim_close(&cd);
	return rc;
}

int
ctl_dkim(int argc, char **argv)
{
	const char *selector = NULL, *domain;
	enum dkim_key_type type;
	int types = 3, i;

	if (argc < 3)
		return ctl_dkim_usage();
	domain = argv[2];
	if (!dkim_domain_valid(domain)) {
		ctl_eprintf("ispmailctl: %s: not a domain name\n", domain);
		return 2;
	}
	for (i = 3; i < argc; i++) {
		if (strcmp(argv[i], "--selector") == 0 && i + 1 < argc) {
			selector = argv[++i];
			if (!dkim_selector_valid(selector)) {
				ctl_eprintf("ispmailctl: %s: a selector is "
				    "one DNS label\n", selector);
				return 2;
			}
		} else if (strcmp(argv[i], "--type") == 0 && i + 1 < argc) {
			if (dkim_key_type_parse(argv[++i], &type) < 0)
				return ctl_dkim_usage();
			types = type == DKIM_KEY_RSA ? 1 : 2;
		} else {
			return ctl_dkim_usage();
		}
	}
	if (strcmp(argv[1], "keygen") == 0)
		return ctl_dkim_keygen(domain, selector, types);
	if (selector != NULL)
		return ctl_dkim_usage();
	if (strcmp(argv[1], "rotate") == 0)
		return ctl_dkim_rotate(domain, types);
	if (strcmp(argv[1], "show") == 0 && types == 3)
		return ctl_dkim_show(domain);
	if (strcmp(argv[1], "migrate") == 0 && types == 3)
		return ctl_dkim_migrate(domain);
	return ctl_dkim_usage();
}

/* master_check: the files, URIs and lists -t checks (master_check.h). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <ldap.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "dkim_domain.h"
#include "dns.h"
#include "log.h"
#include "mail_params.h"
#include "master_conf.h"
#include "master_check.h"
#include "netmatch.h"
#include "params.h"
#include "route.h"
#include "proxy_login.h"
#include "xalloc.h"

/* More supplementary groups than this are not looked at. */
#define CHECK_GROUPS_MAX 256

/* A file parameter and the programs that read it after dropping root. */
struct file_param {
	const char *name;
	const char *readers;	/* program base names; NULL: the master */
};

static const struct file_param file_params[] = {
	{ "tls_cert_file", NULL },
	{ "tls_key_file", NULL },
	{ "ldap_bind_password_file",
	    " smtpd qmgr lmtpd popd imapd proxyd smtp " },
	{ "ldap_tls_ca_file", " smtpd qmgr lmtpd popd imapd proxyd smtp " },
	{ "route_file", " smtpd qmgr lmtpd popd imapd proxyd smtp " },
	{ "srs_secret_file", " smtpd qmgr " },
	{ "archive_key_file", " qmgr " },
	{ "smtp_tls_ca_file", " smtp " },
	{ NULL, NULL },
};

static void problem(struct buf *errors, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* One line of the report. */
static void
problem(struct buf *errors, const char *fmt, ...)
{
	va_list ap;

	if (buf_len(errors) > 0)
		(void) buf_append_char(errors, '\n');
	va_start(ap, fmt);
	(void) buf_vprintf(errors, fmt, ap);
	va_end(ap);
}

/* Can user (NULL: whoever runs -t, as the master) read path? */
static int
user_reads(const char *path, const struct stat *st, const char *user)
{
	gid_t groups[CHECK_GROUPS_MAX];
	int ngroups = CHECK_GROUPS_MAX, i;
	struct passwd *pw;

	if (user == NULL)
		return access(path, R_OK) == 0;
	if ((pw = getpwnam(user)) == NULL)
		return 0;
	if (pw->pw_uid == 0)
		return 1;
	if (st->st_uid == pw->pw_uid)
		return (st->st_mode & S_IRUSR) != 0;
	if (getgrouplist(user, pw->pw_gid, groups, &ngroups) < 0)
		ngroups = CHECK_GROUPS_MAX;
	for (i = 0; i < ngroups; i++)
		if (groups[i] == st->st_gid)
			return (st->st_mode & S_IRGRP) != 0;
	return (st->st_mode & S_IROTH) != 0;
}

/* The expanded value of a string parameter ($name references resolved). */
static const char *
param_text(const char *name)
{
	const struct param_def *def = params_find(name);

	return def != NULL && def->type == PARAM_STR ? *(char **) def->var :
	    NULL;
}

/* Is the service's program one of readers (" smtpd qmgr ")? */
static int
service_reads(const struct master_service_conf *sc, const char *readers)
{
	const char *base = strrchr(sc->command, '/');
	char *word;
	int found;

	base = base != NULL ? base + 1 : sc->command;
	word = xasprintf(" %s ", base);
	found = strstr(readers, word) != NULL;
	free(word);
	return found;
}

/* The service's -o value for name, or NULL. */
static const char *
service_override(const struct master_service_conf *sc, const char *name)
{
	size_t len = strlen(name);
	int i;

	for (i = 0; i < sc->override_count; i++)
		if (strncmp(sc->overrides[i], name, len) == 0 &&
		    sc->overrides[i][len] == '=')
			return sc->overrides[i] + len + 1;
	return NULL;
}

/* One file for one reader (NULL: the master). */
static void
check_file(struct buf *errors, const char *param, const char *path,
	const char *user)
{
	struct stat st;

	if (*path == '\0')
		return;
	/* No route file yet: a new instance, before its first provisioning. */
	if (stat(path, &st) < 0 && errno == ENOENT &&
	    strcmp(param, "route_file") == 0)
		return;
	if (stat(path, &st) < 0) {
		problem(errors, "%s = %s: %s", param, path, strerror(errno));
		return;
	}
	if (!S_ISREG(st.st_mode)) {
		problem(errors, "%s = %s: not a regular file", param, path);
		return;
	}
	if (!user_reads(path, &st, user))
		problem(errors, "%s = %s: not readable by user %s", param,
		    path, user != NULL ? user : "running ispmail-master");
}

static void
check_files(const struct master_conf *conf, struct buf *errors)
{
	const struct file_param *fp;
	const char *value, *user;
	int i, k, seen;

	for (fp = file_params; fp->name != NULL; fp++) {
		if (strcmp(fp->name, "route_file") == 0 &&
		    strcmp(var_route_backend, "file") != 0)
			continue;
		value = param_text(fp->name);
		if (fp->readers == NULL && value != NULL)
			check_file(errors, fp->name, value, NULL);
		for (i = 0; fp->readers != NULL && i < conf->count; i++) {
			const struct master_service_conf *sc =
			    conf->services[i];

			if (!service_reads(sc, fp->readers))
				continue;
			user = sc->user;
			/* Each user once per file. */
			for (k = 0, seen = 0; k < i && !seen; k++)
				seen = service_reads(conf->services[k],
				    fp->readers) && strcmp(
				    conf->services[k]->user, user) == 0 &&
				    service_override(conf->services[k],
				    fp->name) == NULL;
			if (service_override(sc, fp->name) != NULL)
				check_file(errors, fp->name,
				    service_override(sc, fp->name), user);
			else if (!seen && value != NULL)
				check_file(errors, fp->name, value, user);
		}
		for (i = 0; fp->readers == NULL && i < conf->count; i++)
			if ((value = service_override(conf->services[i],
			    fp->name)) != NULL)
				check_file(errors, fp->name, value, NULL);
	}
}

static void
check_ldap_params(struct buf *errors)
{
	LDAPURLDesc *lud;
	char **uris, *error = NULL;
	int count, i, alternate;

	if (strcmp(var_route_backend, "ldap") != 0)
		return;
	uris = params_list_split(var_ldap_server_uris, &count);
	if (count == 0)
		problem(errors, "ldap_server_uris: empty");
	for (i = 0; i < count; i++) {
		if (ldap_url_parse(uris[i], &lud) != LDAP_URL_SUCCESS) {
			problem(errors, "ldap_server_uris: %s: %s", uris[i],
			    "not an ldap://, ldaps:// or ldapi:// URI");
			continue;
		}
		ldap_free_urldesc(lud);
	}
	params_list_free(uris);
	if (route_ldap_address_attributes(var_ldap_address_attributes,
	    &alternate, &error) < 0) {
		problem(errors, "%s", error);
		free(error);
	}
}

static void
check_lists(struct buf *errors)
{
	static const char *const networks[] = { "mynetworks",
	    "lmtp_trusted_networks", NULL };
	struct netmatch *nm;
	struct dns *dns;
	char *error = NULL;
	int i;

	for (i = 0; networks[i] != NULL; i++) {
		nm = netmatch_from_param(networks[i],
		    *(char **) params_find(networks[i])->var, &error);
		if (nm == NULL) {
			problem(errors, "%s", error);
			free(error);
			error = NULL;
		}
		netmatch_free(&nm);
	}
	/* Opening the resolver parses dns_servers; nothing is sent. */
	if ((dns = dns_open_params(&error)) == NULL) {
		problem(errors, "dns_servers: %s", error != NULL ? error :
		    "cannot open the resolver");
		free(error);
	}
	dns_close(&dns);
}

/* Key files looked at, at most (a directory per domain, a few keys each). */
#define CHECK_DKIM_KEYS_MAX 100000

/* One DKIM key: a regular file only its owner reads, smtpd's user among. */
static void
check_dkim_key(const struct master_conf *conf, struct buf *errors,
	const char *path)
{
	struct stat st;
	int i;

	if (lstat(path, &st) < 0) {
		problem(errors, "dkim key %s: %s", path, strerror(errno));
		return;
	}
	if (!S_ISREG(st.st_mode)) {
		problem(errors, "dkim key %s: not a regular file", path);
		return;
	}
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
		problem(errors, "dkim key %s: mode %04o: readable by others "
		    "than its owner (chmod 600)", path,
		    (unsigned) (st.st_mode & 07777));
	for (i = 0; i < conf->count; i++) {
		const struct master_service_conf *sc = conf->services[i];
		const char *mode = service_override(sc, "smtpd_mode");

		if (!service_reads(sc, " smtpd ") || mode == NULL ||
		    strcmp(mode, "submission") != 0)
			continue;
		if (!user_reads(path, &st, sc->user)) {
			problem(errors, "dkim key %s: not readable by user %s "
			    "(the signing smtpd)", path, sc->user);
			return;
		}
	}
}

/* The key files the routing directory names, sorted (for bsearch). */
struct checked_keys {
	char **paths;
	size_t count;
};

static int
checked_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/*
 * Every key file a domain record names: the record's values parse and
 * each file passes check_dkim_key.  An LDAP directory that cannot be
 * asked now is not this host's configuration: a warning, and its key
 * files are not checked.  A missing route_file is a new instance.
 */
static void
check_dkim_records(const struct master_conf *conf, struct buf *errors,
	struct checked_keys *checked)
{
	struct route_domain *d = NULL;
	struct dkim_keyset set;
	char **names = NULL, *error = NULL;
	struct route *r;
	struct stat st;
	size_t i, j;
	int rc = 0;

	if (strcmp(var_route_backend, "file") == 0 &&
	    stat(var_route_file, &st) < 0 && errno == ENOENT)
		return;
	if ((r = route_open(&error)) == NULL) {
		/* check_ldap_params says what is wrong with an LDAP one. */
		if (strcmp(var_route_backend, "ldap") != 0)
			problem(errors, "dkim keys: routing directory: %s",
			    error);
		free(error);
		return;
	}
	if (route_list_domains(r, &names, &error) < 0)
		rc = -1;
	for (i = 0; rc == 0 && names[i] != NULL &&
	    checked->count < CHECK_DKIM_KEYS_MAX; i++) {
		if ((rc = route_domain_lookup(r, names[i], &d, &error)) < 0)
			break;
		free(error);
		error = NULL;
		rc = 0;
		if (d == NULL)
			continue;
		if (dkim_keys_from_record(d, &set, &error) < 0) {
			problem(errors, "dkim keys of %s: %s", d->name, error);
			free(error);
			error = NULL;
		}
		for (j = 0; j < set.count; j++) {
			char *path = dkim_key_file_path(var_dkim_key_directory,
			    d->name, &set.keys[j]);

			check_dkim_key(conf, errors, path);
			checked->paths = xreallocarray(checked->paths,
			    checked->count + 1, sizeof(char *));
			checked->paths[checked->count++] = path;
		}
		dkim_keys_clear(&set);
		route_domain_free(&d);
	}
	/* A bad map is this host's problem; an unreachable server is not. */
	if (rc < 0 && strcmp(var_route_backend, "file") != 0)
		log_warn("dkim keys: routing directory: %s: the key files it "
		    "names are not checked", error);
	else if (rc < 0)
		problem(errors, "dkim keys: routing directory: %s", error);
	free(error);
	route_names_free(&names);
	route_close(&r);
	if (checked->count > 0)
		qsort(checked->paths, checked->count, sizeof(char *),
		    checked_cmp);
}

/*
 * The keys the routing directory names, then every other
 * DOMAIN/SELECTOR.key under dkim_key_directory (old selectors files).
 */
static void
check_dkim_keys(const struct master_conf *conf, struct buf *errors)
{
	const char *top = var_dkim_key_directory;
	struct checked_keys checked = { NULL, 0 };
	struct dirent *d, *k;
	DIR *dir, *sub;
	size_t seen = 0, len, i;
	char *path;

	check_dkim_records(conf, errors, &checked);
	if (top == NULL || *top == '\0' || (dir = opendir(top)) == NULL)
		goto out;
	while ((d = readdir(dir)) != NULL && seen < CHECK_DKIM_KEYS_MAX) {
		if (d->d_name[0] == '.')
			continue;
		path = xasprintf("%s/%s", top, d->d_name);
		sub = opendir(path);
		free(path);
		if (sub == NULL)
			continue;
		while ((k = readdir(sub)) != NULL &&
		    seen++ < CHECK_DKIM_KEYS_MAX) {
			len = strlen(k->d_name);
			if (k->d_name[0] == '.' || len < 5 ||
			    strcmp(k->d_name + len - 4, ".key") != 0)
				continue;
			path = xasprintf("%s/%s/%s", top, d->d_name,
			    k->d_name);
			if (checked.count == 0 || bsearch(&path, checked.paths,
			    checked.count, sizeof(char *), checked_cmp) == NULL)
				check_dkim_key(conf, errors, path);
			free(path);
		}
		closedir(sub);
	}
	closedir(dir);
out:
	for (i = 0; i < checked.count; i++)
		free(checked.paths[i]);
	free(checked.paths);
}

/*
 * The proxy login token as proxyd reads it (no symbolic link, mode 600
 * or 640, one token), owned by root or by a user proxyd runs as.
 */
static void
check_proxy_token(const struct master_conf *conf, struct buf *errors,
	const char *path)
{
	struct passwd *pw;
	struct stat st;
	char *token = NULL, *error = NULL;
	int i, owner_ok;

	if (*path == '\0')
		return;
	if (proxy_login_token_read(path, &token, &error) < 0) {
		problem(errors, "%s", error);
		free(error);
		return;
	}
	explicit_bzero(token, strlen(token));
	free(token);
	if (lstat(path, &st) < 0)
		return;
	owner_ok = st.st_uid == 0;
	for (i = 0; i < conf->count && !owner_ok; i++)
		owner_ok = service_reads(conf->services[i], " proxyd ") &&
		    (pw = getpwnam(conf->services[i]->user)) != NULL &&
		    pw->pw_uid == st.st_uid;
	if (!owner_ok)
		problem(errors, "proxy_login_token_file %s: owned by uid %u, "
		    "neither root nor a user proxyd runs as", path,
		    (unsigned) st.st_uid);
}

/* The token file(s) and the digest list(s), main.conf's and -o ones. */
static void
check_proxy_login(const struct master_conf *conf, struct buf *errors)
{
	char *error = NULL;
	const char *value;
	int i;

	check_proxy_token(conf, errors, var_proxy_login_token_file);
	if (proxy_login_init(var_proxy_login_token_digests, &error) < 0) {
		problem(errors, "%s", error);
		free(error);
		error = NULL;
	}
	for (i = 0; i < conf->count; i++) {
		value = service_override(conf->services[i],
		    "proxy_login_token_file");
		if (value != NULL)
			check_proxy_token(conf, errors, value);
		value = service_override(conf->services[i],
		    "proxy_login_token_digests");
		if (value == NULL)
			continue;
		if (proxy_login_init(value, &error) < 0) {
			problem(errors, "service %s: %s",
			    conf->services[i]->name, error);
			free(error);
			error = NULL;
		}
	}
}

int
master_check_deep(const struct master_conf *conf, struct buf *errors)
{
	size_t before = buf_len(errors);

	check_files(conf, errors);
	check_dkim_keys(conf, errors);
	check_ldap_params(errors);
	check_lists(errors);
	check_proxy_login(conf, errors);
	return buf_len(errors) > before ? -1 : 0;
}

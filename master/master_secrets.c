/* master_secrets: warn about group- or world-readable secret files. */
#include "config.h"

#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "mail_params.h"
#include "master_conf.h"
#include "master_secrets.h"
#include "xalloc.h"

#define SECRETS_WARNINGS_MAX (64 * 1024)

static const char *const secret_params[] = {
	"tls_key_file", "ldap_bind_password_file", "srs_secret_file",
	"ldap_provision_bind_password_file",
	"archive_key_file", "proxy_login_token_file",
};
/* The effective main.conf values, in the order of secret_params. */
static char **const secret_vars[] = {
	&var_tls_key_file, &var_ldap_bind_password_file, &var_srs_secret_file,
	&var_ldap_provision_bind_password_file,
	&var_archive_key_file, &var_proxy_login_token_file,
};
#define SECRET_PARAM_COUNT \
	(sizeof(secret_params) / sizeof(secret_params[0]))

static int
is_service_user(const struct master_conf *conf, const char *name)
{
	int i;

	if (strcmp(name, "root") == 0 || strcmp(name, var_mail_owner) == 0)
		return 1;
	for (i = 0; i < conf->count; i++)
		if (strcmp(conf->services[i]->user, name) == 0)
			return 1;
	return 0;
}

/* The first member of gid that runs no service, or NULL. */
static const char *
foreign_member(const struct master_conf *conf, gid_t gid,
	const char **group_r)
{
	struct group *gr = getgrgid(gid);
	int i;

	*group_r = gr != NULL ? gr->gr_name : "?";
	if (gr == NULL)
		return NULL;
	for (i = 0; gr->gr_mem[i] != NULL; i++)
		if (!is_service_user(conf, gr->gr_mem[i]))
			return gr->gr_mem[i];
	return NULL;
}

/* seen is "\n" then "path\n" for each path checked: one warning a file. */
static int
check_file(const struct master_conf *conf, const char *param,
	const char *path, struct buf *out, struct buf *seen)
{
	const char *group, *member;
	struct stat st;
	char *key;
	int count = 0, repeat;

	if (path[0] != '/')
		return 0;
	key = xasprintf("\n%s\n", path);
	repeat = strstr(buf_cstr(seen), key) != NULL;
	if (!repeat)
		(void) buf_append(seen, key + 1, strlen(key + 1));
	free(key);
	if (repeat || stat(path, &st) < 0)
		return 0;
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		(void) buf_printf(out, "%s %s is writable by its group or "
		    "others (mode %04o): make it chmod 600 or 640\n", param,
		    path, (unsigned) (st.st_mode & 07777));
		count++;
	}
	if (st.st_mode & S_IROTH) {
		(void) buf_printf(out, "%s %s is world-readable (mode %04o): "
		    "make it chmod 600 (or 640 with a group of the mail "
		    "users)\n", param, path, (unsigned) (st.st_mode & 07777));
		count++;
	} else if ((st.st_mode & S_IRGRP)
	    && (member = foreign_member(conf, st.st_gid, &group)) != NULL) {
		(void) buf_printf(out, "%s %s is readable by group %s, which "
		    "holds user %s who runs no ispmail service\n", param,
		    path, group, member);
		count++;
	}
	return count;
}

int
master_secrets_check(const struct master_conf *conf, char **warnings_r)
{
	struct buf *out = buf_new(SECRETS_WARNINGS_MAX);
	struct buf *seen = buf_new(MASTER_CONF_FILE_MAX);
	const char *value;
	size_t i, len;
	int count = 0, s, o;

	(void) buf_append_str(seen, "\n");
	for (i = 0; i < SECRET_PARAM_COUNT; i++)
		count += check_file(conf, secret_params[i], *secret_vars[i],
		    out, seen);
	for (s = 0; s < conf->count; s++) {
		for (o = 0; o < conf->services[s]->override_count; o++) {
			value = conf->services[s]->overrides[o];
			for (i = 0; i < SECRET_PARAM_COUNT; i++) {
				len = strlen(secret_params[i]);
				if (strncmp(value, secret_params[i], len) == 0
				    && value[len] == '=')
					count += check_file(conf,
					    secret_params[i], value + len + 1,
					    out, seen);
			}
		}
	}
	*warnings_r = count > 0 ? buf_strdup(out) : NULL;
	buf_free(&out);
	buf_free(&seen);
	return count;
}

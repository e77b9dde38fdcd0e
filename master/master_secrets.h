/*
 * master_secrets: warn about secret files that others can read.
 *
 * The TLS private key (tls_key_file), the LDAP bind password file
 * (ldap_bind_password_file), the SRS secrets (srs_secret_file), the
 * proxy login token (proxy_login_token_file) and the like, as
 * main.conf sets them and as any master.conf line overrides them with
 * -o, should be readable only by the users that need them.  At start the
 * master looks at each (stat, following links) and warns when it is
 * world-readable, group- or world-writable, or readable by a group that
 * has a member other than root and the users master.conf runs services
 * as (the snakeoil key's ssl-cert group, holding only the mail owner, is
 * fine).  A file that cannot be looked at is left to the daemon that
 * reads it.  Warnings only: the master starts anyway.
 *
 * XXX: users whose primary group is the file's group are not listed by
 * getgrgid(); finding them would mean reading the whole passwd database.
 */
#ifndef ISPMAIL_MASTER_SECRETS_H
#define ISPMAIL_MASTER_SECRETS_H

struct master_conf;

/*
 * Check every secret file the parameters and conf's overrides name; each
 * problem is one line of *warnings_r (caller frees; NULL when none).
 * Returns the number of warnings.
 */
int master_secrets_check(const struct master_conf *conf, char **warnings_r);

#endif

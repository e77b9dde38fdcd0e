/*
 * master_check: what `ispmail-master -t` checks beyond the syntax, without
 * serving: every file a parameter names (certificates, keys, the LDAP
 * bind password and CA files, SRS secrets, the route file) exists and is
 * readable by the user that reads it, and the directory URIs, the DNS
 * servers and the network lists parse; the proxy login token file is
 * read as proxyd reads it and the token digests parse.
 *
 * The reader of a file is the master itself for what daemons load before
 * they drop privileges (tls_cert_file, tls_key_file), else the user of
 * every master.conf service whose program reads it.  Readability is
 * judged from the file's mode, owner and group against that user's uid
 * and groups (root reads everything).  XXX: the directories above the
 * file are not checked for search permission.  main.conf values are
 * checked, and each service's own -o value of the same parameters.
 */
#ifndef ISPMAIL_MASTER_CHECK_H
#define ISPMAIL_MASTER_CHECK_H

struct buf;
struct master_conf;

/* Append one line per problem to errors; 0 none found, -1 some. */
int master_check_deep(const struct master_conf *conf, struct buf *errors);

#endif

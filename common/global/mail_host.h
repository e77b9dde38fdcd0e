/*
 * mail_host: reading a mailbox's mail host (mailHost in ispmail-ldap(5),
 * host= in ispmail-routes(5)) the same way in every program.  A mail host
 * names one store host or several that share the mailbox's storage,
 * separated by commas or blanks ("192.0.2.41,192.0.2.42"); an IPv6
 * address may stand in brackets.  Empty or NULL means this host.
 * Results are new strings the caller frees; nothing here fails.
 */
#ifndef ISPMAIL_MAIL_HOST_H
#define ISPMAIL_MAIL_HOST_H

/* 1 when mail_host is empty or one of its entries is in local_mail_hosts. */
int mail_host_is_local(const char *mail_host);

/*
 * The LMTP next hops of mail_host for qmgr and the LMTP agent, comma
 * separated, in the mail host's order: lmtp_local_nexthop for a local
 * entry, "host:port" (lmtp_port when the entry names none) for another,
 * "unix:path" as written.
 */
char *mail_host_lmtp_nexthops(const char *mail_host);

#endif

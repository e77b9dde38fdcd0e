/*
 * proxy_hosts: the entries of a mail host value as proxyd reads it
 * (proxy_backend.h): addresses separated by commas or blanks, an IPv6
 * address optionally in brackets.  Pure: no sockets, no state.
 */
#ifndef ISPMAIL_PROXY_HOSTS_H
#define ISPMAIL_PROXY_HOSTS_H

#include <stddef.h>

/*
 * The entry of hosts at *pos: 1 with its text (brackets removed) in addr
 * (size bytes) and *pos moved past it; an entry that does not fit comes
 * back empty (no address); 0 at the end.
 */
int proxy_host_next(const char *hosts, size_t *pos, char *addr,
	size_t size);

#endif

/*
 * netmatch: is a client address in a list of networks?
 *
 * A list is what a PARAM_LIST parameter holds (lmtp_trusted_networks):
 * IPv4 and IPv6 addresses, each optionally with a /prefix ("192.0.2.0/24",
 * "10.1.2.3", "2001:db8::/32", "[2001:db8::]/32", "::1").  A network whose
 * address has bits set past its prefix is refused as a typo.  IPv4-mapped
 * IPv6 clients (::ffff:192.0.2.1) match the IPv4 entries.  At most
 * NETMATCH_MAX_ENTRIES entries; matching is one linear pass.
 */
#ifndef ISPMAIL_NETMATCH_H
#define ISPMAIL_NETMATCH_H

#define NETMATCH_MAX_ENTRIES 1000

struct netmatch;

/*
 * Parse the count entries of list.  The new matcher (an empty list
 * matches nothing), or NULL with *error_r (caller frees) naming the bad
 * entry.
 */
struct netmatch *netmatch_new(char **list, int count, char **error_r);
/*
 * The same from a list parameter's value (space or comma separated), with
 * its name in the error: "mynetworks: bad entry ...".
 */
struct netmatch *netmatch_from_param(const char *name, const char *value,
	char **error_r);
/* Free *nmp and set it to NULL; NULL is allowed. */
void netmatch_free(struct netmatch **nmp);
/* 1 when the numeric address addr is in one of the networks, else 0. */
int netmatch_match(const struct netmatch *nm, const char *addr);

#endif

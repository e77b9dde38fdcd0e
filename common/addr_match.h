/*
 * addr_match: does a numeric client address fall in a list of addresses
 * and networks ("127.0.0.0/8 ::1 [2001:db8::]/32 192.0.2.7")?
 *
 * A list is parsed once (addr_match_new) and matched many times; an
 * IPv4-mapped IPv6 address (::ffff:192.0.2.7) matches the IPv4 entries.
 * Entries are plain numbers: no host names, no lookups.
 */
#ifndef ISPMAIL_ADDR_MATCH_H
#define ISPMAIL_ADDR_MATCH_H

struct addr_match;

/*
 * Parse list (params_list_split syntax: commas and/or white space).
 * NULL with *error_r (caller frees) naming the bad entry.
 */
struct addr_match *addr_match_new(const char *list, char **error_r);
void addr_match_free(struct addr_match **mp);
/* 1 when addr (numeric IPv4 or IPv6) is in the list; 0 otherwise. */
int addr_match(const struct addr_match *m, const char *addr);

#endif

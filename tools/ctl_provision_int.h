/*
 * ctl_provision_int: what the provisioning subcommands of ispmailctl share
 * (ctl_provision.c: helpers, alias, relay, auth; ctl_domain.c: domain;
 * ctl_mailbox.c: mailbox, forward).
 */
#ifndef ISPMAIL_CTL_PROVISION_INT_H
#define ISPMAIL_CTL_PROVISION_INT_H

#include <stddef.h>

#include "route.h"

struct buf;

/* Print "usage: ispmailctl text": exit status 2. */
int ctl_usage(const char *text);
/* Split "key=value" (key into key): the value, NULL without a '='. */
const char *ctl_kv(const char *arg, struct buf *key);
/* A comma/space list into a new string array with its count. */
void ctl_set_list(char ***list_r, size_t *count_r, const char *value);
/* One line from standard input, capped: 0, or -1 after a message. */
int ctl_read_password(char **password_r);
/* Replace a string field; an empty value clears it. */
void ctl_replace(char **field, const char *value);
/* A dmarc= value (a domain's or a mailbox's); -1 after a message. */
int ctl_dmarc_policy(const char *value, enum route_dmarc_policy *policy_r);
/* Print a NULL-terminated list a line each and free it: 0. */
int ctl_print_names(char **names);
/* Is option one of the arguments? */
int ctl_has_option(int argc, char **argv, const char *option);
/* -1 after a message when an option is not in allowed (NULL-ended). */
int ctl_check_options(int argc, char **argv, const char *const *allowed);

/* "local", "relay" or "alias" (ctl_domain.c). */
const char *ctl_domain_kind_name(enum route_domain_kind kind);
/*
 * The exit status of a directory lookup that returned found (-1, 0, 1)
 * with error (freed here): a temporary failure, "no such WHAT: NAME", or
 * 0 when found.
 */
int ctl_lookup_status(int found, char *error, const char *what,
	const char *name);
/* Fetch a domain for show/set; exit status on failure, 0 when found. */
int ctl_domain_fetch(struct route *r, const char *name,
	struct route_domain **d_r);

#endif

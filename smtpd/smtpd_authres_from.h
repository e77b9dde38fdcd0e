/*
 * smtpd_authres_from: the author domains of From: fields for DMARC
 * (RFC 7489 3.1, 6.6.1).  Internal to smtpd_authres.c.
 *
 * A field read strictly (RFC 5322 3.6.2 mailbox-list) gives the domain
 * of each address a reader is shown, never one in a display name or a
 * comment.  A mailbox (or a whole field with an unclosed quote or
 * comment) that cannot be read so is read leniently: the domain of
 * every angle-addr in it, else of every '@' token, as a MUA reading
 * leniently may show any of them.  Nothing readable at all, more than
 * SMTPD_FROM_DOMAINS_MAX distinct domains, or a field too long to
 * examine: the From: is unreadable, a DMARC failure under local policy.
 */
#ifndef ISPMAIL_SMTPD_AUTHRES_FROM_H
#define ISPMAIL_SMTPD_AUTHRES_FROM_H

#include <stddef.h>

/* Distinct author domains evaluated, at most; more: unreadable. */
#define SMTPD_FROM_DOMAINS_MAX 8

struct smtpd_from {
	char *domains[SMTPD_FROM_DOMAINS_MAX];	/* lower case, distinct */
	size_t domain_count;
	size_t mailboxes;		/* in every From: field so far */
	size_t fields;
	int unreadable;
	char *strict;			/* the one domain of the first field
					   when it names one mailbox read
					   strictly (DKIM signing); or NULL */
};

/*
 * A From: field's value (after the colon): its mailboxes counted, its
 * domains appended to from->domains (the new ones after the count the
 * caller saw before).
 */
void smtpd_from_field(struct smtpd_from *from, const char *value,
	size_t len);
/* A From: field too long to examine. */
void smtpd_from_long_field(struct smtpd_from *from);
void smtpd_from_clear(struct smtpd_from *from);

#endif

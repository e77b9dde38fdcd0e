/*
 * smtpd_authres_from: the author domains of From: fields for DMARC (see
 * smtpd_authres_from.h).  Linear in the field: each octet is looked at
 * a bounded number of times, and at most SMTPD_FROM_DOMAINS_MAX domains
 * are kept.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "dkim_domain.h"
#include "smtpd_authres_from.h"
#include "xalloc.h"

/* A domain name is at most 255 octets (RFC 1035 2.3.4). */
#define FROM_DOMAIN_MAX 255
/* What ends a domain read after an '@' leniently. */
#define FROM_TOKEN_END " \t\r\n<>,;:()\"@[]"

/*
 * A From: value with its comments and quoted strings (display names,
 * quoted local-parts) each made one space or one 'q', unfolded, a NUL
 * made a space; NULL when one is not closed.
 */
static struct buf *
from_plain(const char *value, size_t len)
{
	struct buf *plain = buf_new(len + 1);
	const char *p = value, *end = value + len;
	int depth = 0, quoted = 0;

	for (; p < end; p++) {
		char c = *p == '\r' || *p == '\n' || *p == '\0' ? ' ' : *p;

		if ((depth > 0 || quoted) && c == '\\' && p + 1 < end)
			p++;
		else if (quoted && c == '"')
			quoted = 0;
		else if (depth > 0 && c == '(')
			depth++;
		else if (depth > 0 && c == ')' && --depth == 0)
			(void) buf_append_char(plain, ' ');
		else if (depth > 0 || quoted)
			continue;
		else if (c == '(')
			depth = 1;
		else if (c == '"') {
			quoted = 1;
			(void) buf_append_char(plain, 'q');
		} else
			(void) buf_append_char(plain, c);
	}
	if (depth > 0 || quoted)
		buf_free(&plain);
	return plain;
}

/* The domain d (len octets, blanks around it), lower case; NULL: none. */
static char *
from_domain(const char *d, size_t len)
{
	char *domain;
	size_t i;

	while (len > 0 && strchr(" \t\r\n", *d) != NULL && *d != '\0') {
		d++;
		len--;
	}
	while (len > 0 && strchr(" \t\r\n", d[len - 1]) != NULL &&
	    d[len - 1] != '\0')
		len--;
	if (len == 0 || len > FROM_DOMAIN_MAX || memchr(d, '\0', len) != NULL)
		return NULL;
	domain = xstrndup(d, len);
	for (i = 0; domain[i] != '\0'; i++)
		if (domain[i] >= 'A' && domain[i] <= 'Z')
			domain[i] = (char) (domain[i] - 'A' + 'a');
	if (!dkim_domain_valid(domain)) {
		free(domain);
		return NULL;
	}
	return domain;
}

/* Keep domain (taken over) unless known; past the cap: unreadable. */
static void
from_insert(struct smtpd_from *from, char *domain)
{
	size_t i;

	for (i = 0; i < from->domain_count; i++)
		if (strcmp(from->domains[i], domain) == 0) {
			free(domain);
			return;
		}
	if (from->domain_count == SMTPD_FROM_DOMAINS_MAX) {
		from->unreadable = 1;
		free(domain);
		return;
	}
	from->domains[from->domain_count++] = domain;
}

/* The domain after the last '@' of p (len octets); NULL: none. */
static char *
from_after_last_at(const char *p, size_t len)
{
	const char *at = NULL;
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] == '@')
			at = p + i;
	return at == NULL ? NULL :
	    from_domain(at + 1, (size_t) (p + len - at - 1));
}

/*
 * A mailbox (with its display name made plain) read strictly: one
 * addr-spec, or a display name and an angle-addr that ends it; one '@';
 * no group.  Its domain, or NULL.
 */
static char *
from_strict(const char *mbox, size_t mlen)
{
	const char *lt = memchr(mbox, '<', mlen), *gt = memchr(mbox, '>', mlen);
	const char *at;

	if (memchr(mbox, ':', mlen) != NULL || memchr(mbox, ';', mlen) != NULL ||
	    (lt == NULL) != (gt == NULL) ||
	    (lt != NULL && (gt != mbox + mlen - 1 || gt < lt ||
	    memchr(lt + 1, '<', (size_t) (gt - lt - 1)) != NULL)))
		return NULL;
	if (lt != NULL) {
		mbox = lt + 1;
		mlen = (size_t) (gt - mbox);
	}
	at = memchr(mbox, '@', mlen);
	if (at == NULL || memchr(at + 1, '@', (size_t) (mbox + mlen - at - 1))
	    != NULL)
		return NULL;
	return from_domain(at + 1, (size_t) (mbox + mlen - at - 1));
}

/*
 * Text a reader may show an address of, read leniently: the domain of
 * every angle-addr, else of every '@' token; none: unreadable.
 */
static void
from_lenient(struct smtpd_from *from, const char *p, size_t len)
{
	const char *end = p + len, *q, *gt;
	char *domain;
	size_t found = 0, angles, n;

	for (q = p; q < end && (q = memchr(q, '<', (size_t) (end - q))) !=
	    NULL; q = gt + 1) {
		gt = memchr(q, '>', (size_t) (end - q));
		if (gt == NULL)
			break;
		domain = from_after_last_at(q + 1, (size_t) (gt - q - 1));
		if (domain != NULL) {
			from_insert(from, domain);
			found++;
		}
	}
	angles = found;
	for (q = p; angles == 0 && q < end; q++) {
		if (*q != '@')
			continue;
		for (n = 0; q + 1 + n < end && q[1 + n] != '\0' &&
		    strchr(FROM_TOKEN_END, q[1 + n]) == NULL; n++)
			;
		domain = from_domain(q + 1, n);
		if (domain != NULL) {
			from_insert(from, domain);
			found++;
		}
	}
	if (found == 0)
		from->unreadable = 1;
}

void
smtpd_from_field(struct smtpd_from *from, const char *value, size_t len)
{
	struct buf *plain = from_plain(value, len);
	const char *p, *mbox;
	char *domain, *strict = NULL;
	size_t n = 0, mlen, i;
	int first = from->fields++ == 0;

	if (plain == NULL) {
		/* An unclosed quote or comment: no list to split. */
		from->mailboxes++;
		from_lenient(from, value, len);
		return;
	}
	for (p = buf_cstr(plain); *p != '\0'; p += strcspn(p, ",")) {
		p += *p == ',';
		i = strspn(p, " \t");
		if (p[i] == ',' || p[i] == '\0')
			continue;		/* an empty list element */
		n++;
		mbox = p + i;
		mlen = strcspn(mbox, ",");
		while (mlen > 0 && (mbox[mlen - 1] == ' ' ||
		    mbox[mlen - 1] == '\t'))
			mlen--;
		domain = from_strict(mbox, mlen);
		if (domain == NULL) {
			from_lenient(from, mbox, mlen);
			continue;
		}
		if (n == 1)
			strict = xstrdup(domain);
		from_insert(from, domain);
	}
	buf_free(&plain);
	if (n == 0) {
		/* An empty From: names nobody a reader could check. */
		from->unreadable = 1;
		n = 1;
	}
	from->mailboxes += n;
	if (first && n == 1 && from->strict == NULL)
		from->strict = strict;
	else
		free(strict);
}

void
smtpd_from_long_field(struct smtpd_from *from)
{
	from->fields++;
	from->mailboxes++;
	from->unreadable = 1;
}

void
smtpd_from_clear(struct smtpd_from *from)
{
	size_t i;

	for (i = 0; i < from->domain_count; i++)
		free(from->domains[i]);
	free(from->strict);
	memset(from, 0, sizeof(*from));
}

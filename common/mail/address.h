/*
 * address: RFC 5321 mailbox syntax (Local-part "@" Domain).
 *
 * Local-part is a Dot-string or a Quoted-string (with quoted-pairs);
 * Domain is dot-separated labels of letters, digits and hyphens (no
 * leading or trailing hyphen, a label at most 63 octets, the domain at
 * most 255) or an address literal, [192.0.2.1] or [IPv6:2001:db8::1].
 * SMTPUTF8 (RFC 6531): octets >= 0x80 are taken as opaque letters in the
 * local part and in domain labels (U-labels are not converted).
 * Limits (RFC 5321 4.5.3.1): local part 64 octets as written, the whole
 * address 254 octets.  The empty quoted local part ("") is refused.
 *
 * Input is pointer + length, so NUL bytes are seen and refused.  Errors
 * are plain text in a new string the caller frees; results are new
 * strings the caller frees.
 */
#ifndef ISPMAIL_ADDRESS_H
#define ISPMAIL_ADDRESS_H

#include <stddef.h>

#define ADDRESS_LOCAL_MAX 64	/* octets, as written (quotes included) */
#define ADDRESS_DOMAIN_MAX 255
#define ADDRESS_LABEL_MAX 63
#define ADDRESS_MAX 254

/*
 * Check the syntax of a whole address and split it.  *local_r gets the
 * local part in canonical form (see address_local_canonical), *domain_r
 * the domain as written.  Either output may be NULL when not wanted.
 * 0 ok; -1 with *error_r.
 */
int address_parse(const char *addr, size_t len, char **local_r,
	char **domain_r, char **error_r);

/*
 * Check a domain (no address literal when allow_literal is 0).
 * 0 ok; -1 with *error_r.
 */
int address_domain_check(const char *domain, size_t len, int allow_literal,
	char **error_r);

/*
 * Check a whole address and return its normal form: canonical local part
 * (lower-cased in ASCII unless case_sensitive_local) "@" lower-cased
 * domain.  0 ok; -1 with *error_r.
 */
int address_normalize(const char *addr, size_t len, int case_sensitive_local,
	char **norm_r, char **error_r);

/* Is s[0..len) a valid RFC 5321 Dot-string?  1 yes, 0 no. */
int address_is_dot_string(const char *s, size_t len);

/*
 * The content of a local part: a Quoted-string loses its quotes and
 * quoted-pairs, a Dot-string is returned as it is.  The local part must
 * already be valid (address_parse); a new string.
 */
char *address_local_unquote(const char *local);

/*
 * The canonical way to write a local part whose content is given: plain
 * when the content is a Dot-string, else quoted with '"' and '\' escaped
 * by a backslash.  A new string.
 */
char *address_local_canonical(const char *content);

/*
 * Find a recipient delimiter in a local part's content: the first octet
 * that is any of delimiters.  1 found (*user_len_r = the length before
 * it), 0 none (or it would leave an empty user part, or delimiters is
 * empty).
 */
int address_split_delimiter(const char *content, const char *delimiters,
	size_t *user_len_r);

#endif

/* address: RFC 5321 mailbox parsing, normalisation and tag splitting. */
#include "config.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "address.h"
#include "buf.h"
#include "log.h"
#include "xalloc.h"

/* Set *error_r (when wanted) and return -1. */
static int __attribute__((format(printf, 2, 3)))
address_fail(char **error_r, const char *fmt, ...)
{
	va_list ap;
	char *text;

	if (error_r == NULL)
		return -1;
	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) < 0)
		log_fatal("out of memory formatting an address error");
	va_end(ap);
	*error_r = text;
	return -1;
}

/* Name an offending octet readably: 'x' when printable, else 0xNN. */
static int
address_bad_char(char **error_r, unsigned char c, const char *where)
{
	if (c == '\0')
		return address_fail(error_r, "NUL byte in %s", where);
	if (c > 0x20 && c < 0x7f)
		return address_fail(error_r, "invalid character '%c' in %s",
		    c, where);
	return address_fail(error_r, "invalid character 0x%02x in %s", c,
	    where);
}

/* RFC 5321 atext, plus UTF8-non-ascii as opaque octets (RFC 6531). */
static int
address_is_atext(unsigned char c)
{
	if (c >= 0x80)
		return 1;
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
	    || (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* RFC 5321 qtextSMTP: %d32-33 / %d35-91 / %d93-126, plus UTF-8. */
static int
address_is_qtext(unsigned char c)
{
	return c >= 0x80 || c == 32 || c == 33 || (c >= 35 && c <= 91)
	    || (c >= 93 && c <= 126);
}

int
address_is_dot_string(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || s[0] == '.' || s[len - 1] == '.')
		return 0;
	for (i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (s[i + 1] == '.')
				return 0;
		} else if (!address_is_atext((unsigned char) s[i])) {
			return 0;
		}
	}
	return 1;
}

/*
 * Parse the local part at the start of addr; *end_r = offset just past
 * it.  0 ok, -1 with *error_r.
 */
static int
address_parse_local(const char *addr, size_t len, size_t *end_r,
	char **error_r)
{
	size_t i;
	unsigned char c;

	if (len == 0 || addr[0] == '@')
		return address_fail(error_r, "empty local part");
	if (addr[0] == '"') {
		for (i = 1;; i++) {
			if (i >= len)
				return address_fail(error_r,
				    "unterminated quoted local part");
			c = (unsigned char) addr[i];
			if (c == '"')
				break;
			if (c == '\\') {
				/* quoted-pairSMTP = %d92 %d32-126 */
				if (i + 1 >= len || addr[i + 1] < 32
				    || addr[i + 1] > 126)
					return address_fail(error_r,
					    "invalid quoted-pair in local "
					    "part");
				i++;
			} else if (!address_is_qtext(c)) {
				return address_bad_char(error_r, c,
				    "quoted local part");
			}
		}
		if (i == 1)
			return address_fail(error_r, "empty local part");
		*end_r = i + 1;
		return 0;
	}
	if (addr[0] == '.')
		return address_fail(error_r, "local part starts with a dot");
	for (i = 0; i < len && addr[i] != '@'; i++) {
		c = (unsigned char) addr[i];
		if (c == '.') {
			if (i + 1 < len && addr[i + 1] == '.')
				return address_fail(error_r,
				    "two dots in a row in local part");
			if (i + 1 == len || addr[i + 1] == '@')
				return address_fail(error_r,
				    "local part ends with a dot");
		} else if (!address_is_atext(c)) {
			return address_bad_char(error_r, c, "local part");
		}
	}
	*end_r = i;
	return 0;
}

/* [192.0.2.1] or [IPv6:2001:db8::1] (RFC 5321 4.1.3). */
static int
address_literal_check(const char *domain, size_t len, char **error_r)
{
	unsigned char addr_bin[16];
	const char *inner = domain + 1;
	size_t inner_len;
	char *text;
	int family, ok;

	if (len < 2 || domain[len - 1] != ']')
		return address_fail(error_r, "unterminated address literal");
	inner_len = len - 2;
	if (memchr(inner, '\0', inner_len) != NULL)
		return address_fail(error_r, "NUL byte in address literal");
	if (inner_len > 5 && strncasecmp(inner, "IPv6:", 5) == 0) {
		family = AF_INET6;
		inner += 5;
		inner_len -= 5;
	} else if (memchr(inner, ':', inner_len) != NULL) {
		return address_fail(error_r, "unsupported address literal "
		    "(only IPv4 and IPv6: are known)");
	} else {
		family = AF_INET;
	}
	text = xmemdup(inner, inner_len);
	ok = inet_pton(family, text, addr_bin) == 1;
	free(text);
	if (!ok)
		return address_fail(error_r, "invalid %s address literal",
		    family == AF_INET ? "IPv4" : "IPv6");
	return 0;
}

int
address_domain_check(const char *domain, size_t len, int allow_literal,
	char **error_r)
{
	size_t i, label_start = 0;
	unsigned char c;

	if (len == 0)
		return address_fail(error_r, "empty domain");
	if (domain[0] == '[') {
		if (!allow_literal)
			return address_fail(error_r, "an address literal is "
			    "not a domain name");
		return address_literal_check(domain, len, error_r);
	}
	if (len > ADDRESS_DOMAIN_MAX)
		return address_fail(error_r, "domain too long (%zu > %d "
		    "octets)", len, ADDRESS_DOMAIN_MAX);
	for (i = 0; i <= len; i++) {
		if (i == len || domain[i] == '.') {
			if (i == label_start)
				return address_fail(error_r,
				    "empty label in domain");
			if (i - label_start > ADDRESS_LABEL_MAX)
				return address_fail(error_r, "domain label "
				    "too long (%zu > %d octets)",
				    i - label_start, ADDRESS_LABEL_MAX);
			if (domain[label_start] == '-')
				return address_fail(error_r, "domain label "
				    "starts with a hyphen");
			if (domain[i - 1] == '-')
				return address_fail(error_r, "domain label "
				    "ends with a hyphen");
			label_start = i + 1;
			continue;
		}
		c = (unsigned char) domain[i];
		if (c >= 0x80 || c == '-' || (c >= 'a' && c <= 'z')
		    || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
			continue;
		return address_bad_char(error_r, c, "domain");
	}
	return 0;
}

char *
address_local_unquote(const char *local)
{
	struct buf *content;
	const char *p;
	char *result;

	if (local[0] != '"')
		return xstrdup(local);
	content = buf_new(BUF_DEFAULT_CAP);
	for (p = local + 1; *p != '\0' && *p != '"'; p++) {
		if (*p == '\\' && p[1] != '\0')
			p++;
		if (buf_append_char(content, *p) < 0)
			log_panic("address_local_unquote: local part "
			    "past %d octets", BUF_DEFAULT_CAP);
	}
	result = buf_strdup(content);
	buf_free(&content);
	return result;
}

char *
address_local_canonical(const char *content)
{
	struct buf *quoted;
	const char *p;
	char *result;
	int rc = 0;

	if (address_is_dot_string(content, strlen(content)))
		return xstrdup(content);
	quoted = buf_new(BUF_DEFAULT_CAP);
	rc |= buf_append_char(quoted, '"');
	for (p = content; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			rc |= buf_append_char(quoted, '\\');
		rc |= buf_append_char(quoted, *p);
	}
	rc |= buf_append_char(quoted, '"');
	if (rc != 0)
		log_panic("address_local_canonical: content past %d octets",
		    BUF_DEFAULT_CAP);
	result = buf_strdup(quoted);
	buf_free(&quoted);
	return result;
}

int
address_parse(const char *addr, size_t len, char **local_r,
	char **domain_r, char **error_r)
{
	size_t local_end = 0;
	char *raw;

	if (len == 0)
		return address_fail(error_r, "empty address");
	if (len > ADDRESS_MAX)
		return address_fail(error_r, "address too long (%zu > %d "
		    "octets)", len, ADDRESS_MAX);
	if (address_parse_local(addr, len, &local_end, error_r) < 0)
		return -1;
	if (local_end > ADDRESS_LOCAL_MAX)
		return address_fail(error_r, "local part too long (%zu > %d "
		    "octets)", local_end, ADDRESS_LOCAL_MAX);
	if (local_end == len)
		return address_fail(error_r, "missing @domain");
	if (addr[local_end] != '@')
		return address_bad_char(error_r,
		    (unsigned char) addr[local_end], "address after the "
		    "quoted local part");
	if (local_end + 1 == len)
		return address_fail(error_r, "missing domain after @");
	if (address_domain_check(addr + local_end + 1, len - local_end - 1,
	    1, error_r) < 0)
		return -1;
	if (local_r != NULL) {
		raw = xmemdup(addr, local_end);
		if (raw[0] == '"') {
			char *content = address_local_unquote(raw);

			*local_r = address_local_canonical(content);
			free(content);
			free(raw);
		} else {
			*local_r = raw;
		}
	}
	if (domain_r != NULL)
		*domain_r = xmemdup(addr + local_end + 1, len - local_end - 1);
	return 0;
}

/* ASCII lower case of len octets of s, in place. */
static void
address_lower_len(char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] >= 'A' && s[i] <= 'Z')
			s[i] = (char) (s[i] - 'A' + 'a');
}

static void
address_lower(char *s)
{
	address_lower_len(s, strlen(s));
}

int
address_normalize(const char *addr, size_t len, int case_sensitive_local,
	char **norm_r, char **error_r)
{
	char *local, *domain, *content;
	size_t local_len, domain_len, lower_from;

	/*
	 * An unquoted local part that parses is a dot-string, its own
	 * canonical form: the normal form is the address with its case
	 * lowered, made in one allocation (every routing lookup is here).
	 */
	if (len > 0 && addr[0] != '"') {
		if (address_parse(addr, len, NULL, NULL, error_r) < 0)
			return -1;
		*norm_r = xmemdup(addr, len);
		/* From the '@' (no unquoted local part has one), or all. */
		lower_from = case_sensitive_local ? (size_t) ((char *)
		    memchr(*norm_r, '@', len) - *norm_r) : 0;
		address_lower_len(*norm_r + lower_from, len - lower_from);
		return 0;
	}
	if (address_parse(addr, len, &local, &domain, error_r) < 0)
		return -1;
	if (!case_sensitive_local) {
		/* Lower the content, then requote: quoting is case-free. */
		content = address_local_unquote(local);
		address_lower(content);
		free(local);
		local = address_local_canonical(content);
		free(content);
	}
	address_lower(domain);
	/* Joined by hand: every routing lookup normalises its address. */
	local_len = strlen(local);
	domain_len = strlen(domain);
	*norm_r = xmalloc(xalloc_add(xalloc_add(local_len, domain_len), 2));
	memcpy(*norm_r, local, local_len);
	(*norm_r)[local_len] = '@';
	memcpy(*norm_r + local_len + 1, domain, domain_len + 1);
	free(local);
	free(domain);
	return 0;
}

int
address_split_delimiter(const char *content, const char *delimiters,
	size_t *user_len_r)
{
	size_t pos;

	if (delimiters == NULL || delimiters[0] == '\0')
		return 0;
	pos = strcspn(content, delimiters);
	/* "+tag@" would leave no user: not a tagged address. */
	if (content[pos] == '\0' || pos == 0)
		return 0;
	*user_len_r = pos;
	return 1;
}

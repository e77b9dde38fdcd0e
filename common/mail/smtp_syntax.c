/*
 * smtp_syntax: printable checks and the HELO syntax; see smtp_syntax.h.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "buf.h"
#include "smtp_syntax.h"

int
smtp_printable(const char *text, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char) text[i] < 0x20 ||
		    (unsigned char) text[i] > 0x7e)
			return 0;
	return 1;
}

int
smtp_has_control(const char *text, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char) text[i] < 0x20 || text[i] == 0x7f)
			return 1;
	return 0;
}

int
smtp_printable_append(struct buf *out, const char *text)
{
	const char *p;
	size_t run;

	for (p = text; *p != '\0'; p += run) {
		for (run = 0; p[run] != '\0' && smtp_printable(p + run, 1);
		    run++)
			;
		if (run == 0) {
			if (buf_append_char(out, '?') < 0)
				return -1;
			run = 1;
		} else if (buf_append(out, p, run) < 0) {
			return -1;
		}
	}
	return 0;
}

enum smtp_helo_syntax
smtp_helo_check(const char *helo, const char **error_r)
{
	size_t len = strlen(helo), i;
	char *error = NULL;
	int ok;

	if (len == 0) {
		*error_r = "empty hostname";
		return SMTP_HELO_INVALID;
	}
	if (len > SMTP_HELO_MAX) {
		*error_r = "hostname too long";
		return SMTP_HELO_INVALID;
	}
	/* Never a control character, a space or a non-ASCII byte. */
	for (i = 0; i < len; i++) {
		if ((unsigned char) helo[i] <= 0x20 ||
		    (unsigned char) helo[i] > 0x7e) {
			*error_r = "control, space or non-ASCII character in "
			    "hostname";
			return SMTP_HELO_INVALID;
		}
	}
	/* address_domain_check() takes both forms; a literal must be one. */
	ok = address_domain_check(helo, len, 1, &error) == 0;
	free(error);
	if (!ok) {
		*error_r = "not a domain name or address literal";
		return SMTP_HELO_LENIENT;
	}
	return SMTP_HELO_VALID;
}

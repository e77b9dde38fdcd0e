/*
 * xtext: ENVID and ORCPT encoding and checks; see xtext.h.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "smtp_syntax.h"
#include "xalloc.h"
#include "xtext.h"

/* An upper-case hex digit's value, or -1 (RFC 3461 4: hexchar). */
static int
xtext_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *
xtext_decode(const char *text, size_t max)
{
	struct buf *b = buf_new(max + 1);
	const char *p;
	char *out = NULL;
	int hi, lo;

	for (p = text; *p != '\0'; p++) {
		if ((unsigned char) *p < 0x21 || (unsigned char) *p > 0x7e ||
		    *p == '=')
			goto out;
		if (*p == '+') {
			hi = xtext_hex(p[1]);
			lo = hi < 0 ? -1 : xtext_hex(p[2]);
			if (lo < 0 || buf_append_char(b,
			    (char) (hi * 16 + lo)) < 0)
				goto out;
			p += 2;
		} else if (buf_append_char(b, *p) < 0) {
			goto out;
		}
	}
	/* Checked again after decoding: "+0D+0A" is no line end of ours. */
	if (buf_len(b) <= max && smtp_printable(buf_cstr(b), buf_len(b)))
		out = buf_strdup(b);
out:
	buf_free(&b);
	return out;
}

int
xtext_encode(struct buf *out, const char *text)
{
	const unsigned char *p;
	int rc = 0;

	for (p = (const unsigned char *) text; *p != '\0' && rc == 0; p++) {
		if (*p < 0x21 || *p > 0x7e || *p == '+' || *p == '=')
			rc = buf_printf(out, "+%02X", *p);
		else
			rc = buf_append_char(out, (char) *p);
	}
	return rc;
}

int
xtext_envid_valid(const char *envid, size_t max)
{
	size_t len = strlen(envid);

	return len > 0 && len <= max && smtp_printable(envid, len);
}

/* The ORCPT types we know; the kept (lower case) name, or NULL. */
static const char *
xtext_orcpt_type(const char *type, size_t len)
{
	static const char *const types[] = { "rfc822", "utf-8" };
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strlen(types[i]) == len &&
		    strncasecmp(type, types[i], len) == 0)
			return types[i];
	return NULL;
}

/*
 * RFC 6533 3: utf-8-addr-xtext is QCHAR (0x21-0x7e but '+', '=', '\')
 * and "\x{HEX}" escapes of 1-6 hex digits.  1 when address is that.
 */
static int
xtext_utf8_addr_valid(const char *address)
{
	const char *p = address;
	size_t digits;

	for (; *p != '\0'; p++) {
		if ((unsigned char) *p < 0x21 || (unsigned char) *p > 0x7e ||
		    *p == '+' || *p == '=')
			return 0;
		if (*p != '\\')
			continue;
		if (p[1] != 'x' || p[2] != '{')
			return 0;
		p += 3;
		for (digits = 0; xtext_hex(p[digits]) >= 0; digits++)
			;
		if (digits < 1 || digits > 6 || p[digits] != '}')
			return 0;
		p += digits;
	}
	return 1;
}

char *
xtext_orcpt_decode(const char *param, size_t max)
{
	const char *semi = strchr(param, ';'), *type;
	char *address, *kept;

	/* The type is an atom before the first ';' (not xtext decoded). */
	if (semi == NULL)
		return NULL;
	type = xtext_orcpt_type(param, (size_t) (semi - param));
	if (type == NULL)
		return NULL;
	if (strcmp(type, "utf-8") == 0) {
		if (strlen(semi + 1) > max || !xtext_utf8_addr_valid(semi + 1))
			return NULL;
		address = xstrdup(semi + 1);
	} else {
		address = xtext_decode(semi + 1, max);
	}
	if (address == NULL || *address == '\0') {
		free(address);
		return NULL;
	}
	kept = xasprintf("%s;%s", type, address);
	free(address);
	return kept;
}

/* The known type of a kept orcpt when its address is valid, or NULL. */
static const char *
xtext_orcpt_check(const char *orcpt, size_t max)
{
	const char *semi = strchr(orcpt, ';'), *type;
	size_t len;

	if (semi == NULL)
		return NULL;
	type = xtext_orcpt_type(orcpt, (size_t) (semi - orcpt));
	len = strlen(semi + 1);
	if (type == NULL || len == 0 || len > max)
		return NULL;
	if (strcmp(type, "utf-8") == 0)
		return xtext_utf8_addr_valid(semi + 1) ? type : NULL;
	return smtp_printable(semi + 1, len) ? type : NULL;
}

int
xtext_orcpt_valid(const char *orcpt, size_t max)
{
	return xtext_orcpt_check(orcpt, max) != NULL;
}

int
xtext_orcpt_encode(struct buf *out, const char *orcpt, size_t max)
{
	const char *type = xtext_orcpt_check(orcpt, max);
	const char *address;

	if (type == NULL)
		return -1;
	address = strchr(orcpt, ';') + 1;
	if (buf_printf(out, "%s;", type) < 0)
		return -1;
	if (strcmp(type, "utf-8") == 0)
		return buf_append_str(out, address);
	return xtext_encode(out, address);
}

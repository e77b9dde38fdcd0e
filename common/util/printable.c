/* printable: escape control characters and invalid UTF-8 for display. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "printable.h"

/* The longest text one input unit becomes: a 4-byte sequence escaped. */
#define PRINTABLE_UNIT_MAX (4 * 4)

/* Bytes in the valid UTF-8 sequence at p, 0 when it is not one. */
static size_t
utf8_sequence(const unsigned char *p, size_t len)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t need, i;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		need = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		need = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		need = 4;
	else
		return 0;
	/* RFC 3629 section 4: no overlong forms, surrogates or > U+10FFFF. */
	if (p[0] == 0xe0)
		lo = 0xa0;
	else if (p[0] == 0xed)
		hi = 0x9f;
	else if (p[0] == 0xf0)
		lo = 0x90;
	else if (p[0] == 0xf4)
		hi = 0x8f;
	/* U+0080..U+009F are the C1 controls (0x9b is CSI). */
	else if (p[0] == 0xc2)
		lo = 0xa0;
	if (len < need || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < need; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return need;
}

/*
 * The next unit of data escaped into unit (not NUL-terminated): its
 * length; *used_r is how many input bytes it stands for.
 */
static size_t
escape_unit(const unsigned char *p, size_t len, char *unit, size_t *used_r)
{
	static const char hex[] = "0123456789abcdef";
	size_t n;

	if (p[0] >= 0x20 && p[0] < 0x7f) {
		unit[0] = (char) p[0];
		*used_r = 1;
		return 1;
	}
	if ((n = utf8_sequence(p, len)) > 0) {
		memcpy(unit, p, n);
		*used_r = n;
		return n;
	}
	*used_r = 1;
	unit[0] = '\\';
	switch (p[0]) {
	case '\r': unit[1] = 'r'; return 2;
	case '\n': unit[1] = 'n'; return 2;
	case '\t': unit[1] = 't'; return 2;
	}
	unit[1] = 'x';
	unit[2] = hex[p[0] >> 4];
	unit[3] = hex[p[0] & 0x0f];
	return 4;
}

int
printable_append(struct buf *out, const char *data, size_t len)
{
	const unsigned char *p = (const unsigned char *) data;
	size_t start = buf_len(out), pos = 0, used, n;
	char unit[PRINTABLE_UNIT_MAX];

	while (pos < len) {
		n = escape_unit(p + pos, len - pos, unit, &used);
		if (buf_append(out, unit, n) < 0) {
			buf_truncate(out, start);
			return -1;
		}
		pos += used;
	}
	return 0;
}

size_t
printable_copy(char *out, size_t size, const char *data, size_t len)
{
	const unsigned char *p = (const unsigned char *) data;
	size_t written = 0, pos = 0, used, n;
	char unit[PRINTABLE_UNIT_MAX];

	if (size == 0)
		log_panic("printable_copy: no room for the NUL");
	while (pos < len) {
		n = escape_unit(p + pos, len - pos, unit, &used);
		if (n >= size - written)
			break;
		memcpy(out + written, unit, n);
		written += n;
		pos += used;
	}
	out[written] = '\0';
	return written;
}

/* Length modifiers of a conversion, as va_arg must read its argument. */
enum printable_arg {
	ARG_INT, ARG_LONG, ARG_LLONG, ARG_SIZE, ARG_INTMAX, ARG_PTRDIFF,
	ARG_DOUBLE, ARG_LDOUBLE,
};

/*
 * One conversion of fmt (at its '%') appended to out, escaped when it is
 * text; *fmtp moves past it.  The spec is rebuilt with '*' widths made
 * literal so the argument list is walked exactly once.
 */
static int
printable_conversion(struct buf *out, const char **fmtp, va_list *ap)
{
	char spec[64];
	const char *f = *fmtp + 1;
	enum printable_arg arg = ARG_INT;
	size_t used = 0;
	int rc = -1, n;

	spec[used++] = '%';
	while (*f != '\0' && strchr("-+ #0123456789.*hlLjzt", *f) != NULL) {
		if (*f == '*')
			n = snprintf(spec + used, sizeof(spec) - used, "%d",
			    va_arg(*ap, int));
		else
			n = snprintf(spec + used, sizeof(spec) - used, "%c",
			    *f);
		if (n < 0 || (size_t) n >= sizeof(spec) - used - 2)
			log_panic("printable: conversion too long: %s", *fmtp);
		used += (size_t) n;
		if (*f == 'l')
			arg = arg == ARG_LONG ? ARG_LLONG : ARG_LONG;
		else if (*f == 'z')
			arg = ARG_SIZE;
		else if (*f == 'j')
			arg = ARG_INTMAX;
		else if (*f == 't')
			arg = ARG_PTRDIFF;
		else if (*f == 'L')
			arg = ARG_LDOUBLE;
		f++;
	}
	if (*f == '\0' || *f == 'n')
		log_panic("printable: bad conversion: %s", *fmtp);
	*fmtp = f + 1;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	if (*f == 's' || *f == 'c') {
		struct buf *text = buf_new(buf_cap(out));
		const char *s;
		char c;

		if (arg != ARG_INT)
			log_panic("printable: wide text: %s", *fmtp);
		if (*f == 's') {
			s = va_arg(*ap, const char *);
			rc = printable_append(text, s ? s : "(null)",
			    s ? strlen(s) : 6);
		} else {
			c = (char) va_arg(*ap, int);
			rc = printable_append(text, &c, 1);
		}
		spec[used++] = 's';
		spec[used] = '\0';
		if (rc == 0)
			rc = buf_printf(out, spec, buf_cstr(text));
		buf_free(&text);
		return rc;
	}
	spec[used++] = *f;
	spec[used] = '\0';
	if (strchr("diouxX", *f) != NULL) {
		switch (arg) {
		case ARG_LONG: return buf_printf(out, spec, va_arg(*ap, long));
		case ARG_LLONG:
			return buf_printf(out, spec, va_arg(*ap, long long));
		case ARG_SIZE: return buf_printf(out, spec, va_arg(*ap, size_t));
		case ARG_INTMAX:
			return buf_printf(out, spec, va_arg(*ap, intmax_t));
		case ARG_PTRDIFF:
			return buf_printf(out, spec, va_arg(*ap, ptrdiff_t));
		default: return buf_printf(out, spec, va_arg(*ap, int));
		}
	}
	if (strchr("eEfFgGaA", *f) != NULL) {
		if (arg == ARG_LDOUBLE)
			return buf_printf(out, spec, va_arg(*ap, long double));
		return buf_printf(out, spec, va_arg(*ap, double));
	}
	if (*f == 'p')
		return buf_printf(out, spec, va_arg(*ap, void *));
	if (*f == '%')
		return buf_append_char(out, '%');
#pragma GCC diagnostic pop
	log_panic("printable: unknown conversion: %s", spec);
}

int
printable_vprintf(struct buf *out, const char *fmt, va_list ap)
{
	size_t start = buf_len(out);
	const char *pct;
	va_list args;
	int rc = 0;

	va_copy(args, ap);
	while (rc == 0 && *fmt != '\0') {
		if ((pct = strchr(fmt, '%')) == NULL)
			pct = fmt + strlen(fmt);
		rc = buf_append(out, fmt, (size_t) (pct - fmt));
		fmt = pct;
		if (rc == 0 && *fmt == '%')
			rc = printable_conversion(out, &fmt, &args);
	}
	va_end(args);
	if (rc < 0)
		buf_truncate(out, start);
	return rc;
}

int
printable_printf(struct buf *out, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = printable_vprintf(out, fmt, ap);
	va_end(ap);
	return rc;
}

/* mime_decode: encoded words, transfer encodings and charsets to UTF-8. */
#include "config.h"

#include <errno.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "mime_decode.h"
#include "xalloc.h"

/* Append as much of data as fits; -1 when not all of it did. */
static int
decode_put(struct buf *out, const void *data, size_t len)
{
	size_t room = buf_cap(out) - buf_len(out);

	if (len <= room)
		return buf_append(out, data, len);
	(void) buf_append(out, data, room);
	return -1;
}

static int
decode_hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int
mime_decode_base64(const char *data, size_t len, struct buf *out)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned long acc = 0;
	int bits = 0;
	const char *p;
	char c;
	size_t i;

	for (i = 0; i < len; i++) {
		if (data[i] == '=')
			break;
		if (data[i] == '\0' ||
		    (p = strchr(alphabet, data[i])) == NULL)
			continue;	/* line ends, blanks, junk */
		acc = (acc << 6) | (unsigned long) (p - alphabet);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			c = (char) ((acc >> bits) & 0xff);
			if (decode_put(out, &c, 1) < 0)
				return -1;
		}
	}
	return 0;
}

int
mime_decode_qp(const char *data, size_t len, int q, struct buf *out)
{
	size_t i, j;
	int hi, lo;
	char c;

	for (i = 0; i < len; i++) {
		c = data[i];
		if (q && c == '_') {
			c = ' ';
		} else if (c == '=') {
			/* A soft line break: "=", blanks, then the line end. */
			for (j = i + 1; !q && j < len &&
			    (data[j] == ' ' || data[j] == '\t'); j++)
				;
			if (!q && j < len && (data[j] == '\n' ||
			    (data[j] == '\r' && j + 1 < len &&
			    data[j + 1] == '\n'))) {
				i = data[j] == '\r' ? j + 1 : j;
				continue;
			}
			if (!q && j == len)
				break;
			if (i + 2 < len && (hi = decode_hex(
			    (unsigned char) data[i + 1])) >= 0 &&
			    (lo = decode_hex((unsigned char) data[i + 2])) >= 0) {
				c = (char) (hi * 16 + lo);
				i += 2;
			}
		}
		if (decode_put(out, &c, 1) < 0)
			return -1;
	}
	return 0;
}

/* windows-1252 0x80-0x9f as code points (0: undefined, kept as C1). */
static const unsigned short cp1252[32] = {
	0x20ac, 0, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021,
	0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017d, 0,
	0, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
	0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0, 0x017e, 0x0178,
};

static int
decode_put_code(struct buf *out, unsigned int cp)
{
	char u[3];

	if (cp < 0x80) {
		u[0] = (char) cp;
		return decode_put(out, u, 1);
	}
	if (cp < 0x800) {
		u[0] = (char) (0xc0 | (cp >> 6));
		u[1] = (char) (0x80 | (cp & 0x3f));
		return decode_put(out, u, 2);
	}
	u[0] = (char) (0xe0 | (cp >> 12));
	u[1] = (char) (0x80 | ((cp >> 6) & 0x3f));
	u[2] = (char) (0x80 | (cp & 0x3f));
	return decode_put(out, u, 3);
}

static int
decode_is(const char *charset, const char *const *names)
{
	for (; *names != NULL; names++) {
		if (strcasecmp(charset, *names) == 0)
			return 1;
	}
	return 0;
}

static int
decode_iconv(const char *data, size_t len, const char *charset,
	struct buf *out)
{
	char chunk[4096], *in, *o;
	size_t in_left = len, o_left;
	iconv_t cd;
	int rc = 0;

	/* iconv(3) takes char ** but does not write the input. */
	memcpy(&in, &data, sizeof(in));
	cd = iconv_open("UTF-8", charset);
	if (cd == (iconv_t) -1)
		return decode_put(out, data, len);
	while (in_left > 0 && rc == 0) {
		o = chunk;
		o_left = sizeof(chunk);
		if (iconv(cd, &in, &in_left, &o, &o_left) == (size_t) -1 &&
		    errno != E2BIG) {
			/* Invalid or truncated input: keep the byte as is. */
			if (decode_put(out, chunk, sizeof(chunk) - o_left) < 0 ||
			    decode_put(out, in, 1) < 0)
				rc = -1;
			in++;
			in_left--;
			continue;
		}
		if (decode_put(out, chunk, sizeof(chunk) - o_left) < 0)
			rc = -1;
	}
	iconv_close(cd);
	return rc;
}

int
mime_decode_charset(const char *data, size_t len, const char *charset,
	struct buf *out)
{
	static const char *const raw[] = { "utf-8", "utf8", "us-ascii",
	    "ascii", "us_ascii", "ansi_x3.4-1968", NULL };
	static const char *const latin1[] = { "iso-8859-1", "iso8859-1",
	    "iso_8859-1", "latin1", "l1", NULL };
	static const char *const win1252[] = { "windows-1252", "cp1252",
	    NULL };
	unsigned char b;
	size_t i;
	int is_latin1;

	if (charset == NULL || *charset == '\0' || decode_is(charset, raw))
		return decode_put(out, data, len);
	is_latin1 = decode_is(charset, latin1);
	if (!is_latin1 && !decode_is(charset, win1252))
		return decode_iconv(data, len, charset, out);
	for (i = 0; i < len; i++) {
		b = (unsigned char) data[i];
		if (!is_latin1 && b >= 0x80 && b < 0xa0 && cp1252[b - 0x80])
			return decode_put_code(out, cp1252[b - 0x80]) < 0 ? -1 :
			    mime_decode_charset(data + i + 1, len - i - 1,
			    charset, out);
		if (decode_put_code(out, b) < 0)
			return -1;
	}
	return 0;
}

int
mime_decode_body(const char *data, size_t len, const char *encoding,
	const char *charset, struct buf *out)
{
	struct buf *raw;
	int rc;

	if (encoding == NULL || (strcasecmp(encoding, "base64") != 0 &&
	    strcasecmp(encoding, "quoted-printable") != 0))
		return mime_decode_charset(data, len, charset, out);
	/* Decoding only shrinks, so the input size bounds this buf. */
	raw = buf_new(len + 1);
	if (strcasecmp(encoding, "base64") == 0)
		(void) mime_decode_base64(data, len, raw);
	else
		(void) mime_decode_qp(data, len, 0, raw);
	rc = mime_decode_charset(buf_cstr(raw), buf_len(raw), charset, out);
	buf_free(&raw);
	return rc;
}

/*
 * One encoded word at s (RFC 2047 2): =?charset?B|Q?text?= with no blanks
 * inside.  1 with its parts set and *end_r after it, 0 when malformed.
 */
static int
decode_word(const char *s, size_t len, size_t *end_r, size_t *cs_len,
	char *enc, const char **text, size_t *text_len)
{
	size_t i, q1, q2;

	if (len < 8 || s[0] != '=' || s[1] != '?')
		return 0;
	for (i = 2; i < len && s[i] != '?'; i++) {
		if (s[i] == ' ' || s[i] == '\t')
			return 0;
	}
	q1 = i;
	if (q1 == 2 || q1 + 2 >= len || s[q1 + 2] != '?')
		return 0;
	*enc = (char) (s[q1 + 1] | 0x20);
	if (*enc != 'b' && *enc != 'q')
		return 0;
	for (i = q1 + 3; i + 1 < len; i++) {
		if (s[i] == ' ' || s[i] == '\t')
			return 0;
		if (s[i] == '?' && s[i + 1] == '=')
			break;
	}
	if (i + 1 >= len)
		return 0;
	q2 = i;
	*cs_len = q1 - 2;
	*text = s + q1 + 3;
	*text_len = q2 - (q1 + 3);
	*end_r = q2 + 2;
	return 1;
}

int
mime_decode_header(const char *value, size_t len, struct buf *out)
{
	const char *text;
	char enc, *charset = NULL, *star;
	size_t i = 0, end, cs_len, text_len, j, blank_from = 0;
	struct buf *pending = buf_new(len + 1);
	int rc = 0, after_word = 0;

	while (i < len && rc == 0) {
		if (decode_word(value + i, len - i, &end, &cs_len, &enc, &text,
		    &text_len)) {
			char *cs = xstrndup(value + i + 2, cs_len);

			if ((star = strchr(cs, '*')) != NULL)
				*star = '\0';	/* RFC 2231 language */
			/* Joined with the previous word when charsets match. */
			if (charset != NULL && strcasecmp(cs, charset) != 0) {
				rc = mime_decode_charset(buf_cstr(pending),
				    buf_len(pending), charset, out);
				buf_reset(pending);
			}
			free(charset);
			charset = cs;
			if (enc == 'b')
				(void) mime_decode_base64(text, text_len,
				    pending);
			else
				(void) mime_decode_qp(text, text_len, 1,
				    pending);
			i += end;
			after_word = 1;
			continue;
		}
		if (after_word && (value[i] == ' ' || value[i] == '\t')) {
			/* Blanks between two words vanish (RFC 2047 6.2). */
			blank_from = i;
			for (j = i; j < len && (value[j] == ' ' ||
			    value[j] == '\t'); j++)
				;
			if (j < len && decode_word(value + j, len - j, &end,
			    &cs_len, &enc, &text, &text_len)) {
				i = j;
				continue;
			}
			i = blank_from;
		}
		if (charset != NULL) {
			if (rc == 0)
				rc = mime_decode_charset(buf_cstr(pending),
				    buf_len(pending), charset, out);
			buf_reset(pending);
			free(charset);
			charset = NULL;
		}
		after_word = 0;
		if (rc == 0)
			rc = decode_put(out, value + i, 1);
		i++;
	}
	if (charset != NULL && rc == 0)
		rc = mime_decode_charset(buf_cstr(pending), buf_len(pending),
		    charset, out);
	free(charset);
	buf_free(&pending);
	return rc;
}

void
mime_decode_fold(char *data, size_t len)
{
	unsigned char b;
	size_t i;

	for (i = 0; i < len; i++) {
		b = (unsigned char) data[i];
		if (b >= 'A' && b <= 'Z') {
			data[i] = (char) (b | 0x20);
		} else if (b == 0xc3 && i + 1 < len) {
			b = (unsigned char) data[i + 1];
			/* U+00C0-U+00DE to U+00E0-U+00FE, not U+00D7. */
			if (b >= 0x80 && b <= 0x9e && b != 0x97)
				data[i + 1] = (char) (b + 0x20);
			i++;
		}
	}
}

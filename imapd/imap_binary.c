/*
 * imap_binary: FETCH BINARY[part], BINARY.PEEK[part] and BINARY.SIZE[part]
 * (RFC 3516, part of IMAP4rev2: RFC 9051 6.4.5).
 *
 * The server undoes the part's Content-Transfer-Encoding: base64 and
 * quoted-printable are decoded; 7bit, 8bit and binary (or none) give
 * the body as it is, with CRLF line ends as in BODY[].  Any other
 * encoding is unknown: the item is NIL and FETCH ends with NO
 * [UNKNOWN-CTE].  The decoded content never exceeds the part's raw size
 * with CRLF line ends, which bounds the output buffer.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "imap.h"
#include "mime.h"
#include "mime_decode.h"
#include "xalloc.h"

#define IMAP_BINARY_MAX_PARTS 64

int
imap_binary_parse(const char *spec, size_t len, uint32_t **parts_r,
	size_t *count_r)
{
	uint32_t *parts = NULL;
	size_t count = 0, i = 0;
	unsigned long long n;

	*parts_r = NULL;
	*count_r = 0;
	while (i < len) {
		/* nz-number: no leading zero, below 2^31. */
		if (spec[i] < '1' || spec[i] > '9' ||
		    count == IMAP_BINARY_MAX_PARTS) {
			free(parts);
			return -1;
		}
		for (n = 0; i < len && spec[i] >= '0' && spec[i] <= '9'; i++) {
			n = n * 10 + (unsigned long long) (spec[i] - '0');
			if (n >= 0x80000000ULL) {
				free(parts);
				return -1;
			}
		}
		if (i < len && (spec[i] != '.' || i + 1 == len)) {
			free(parts);
			return -1;
		}
		if (i < len)
			i++;
		parts = xreallocarray(parts, count + 1, sizeof(*parts));
		parts[count++] = (uint32_t) n;
	}
	*parts_r = parts;
	*count_r = count;
	return 0;
}

/*
 * The part a part number names (RFC 3501 6.4.5: a message/rfc822 part
 * is entered before its children are numbered; a leaf's 1 is itself).
 */
static const struct mime_part *
binary_part(const struct mime_message *m, const uint32_t *parts,
	size_t count)
{
	const struct mime_part *p = mime_message_root(m);
	size_t i;

	for (i = 0; i < count && p != NULL; i++) {
		if (i > 0 && mime_part_is_message(p))
			p = mime_part_child(p, 0);
		if (mime_part_is_multipart(p))
			p = parts[i] <= mime_part_child_count(p) ?
			    mime_part_child(p, parts[i] - 1) : NULL;
		else
			p = parts[i] == 1 ? p : NULL;
	}
	return p;
}

/* Append data with bare LF turned into CRLF. */
static int
binary_crlf(const char *data, size_t len, struct buf *out)
{
	const char *p = data, *end = data + len, *lf;

	while (p < end && (lf = memchr(p, '\n', (size_t) (end - p))) != NULL) {
		if (lf > data && lf[-1] == '\r') {
			if (buf_append(out, p, (size_t) (lf + 1 - p)) < 0)
				return -1;
		} else if (buf_append(out, p, (size_t) (lf - p)) < 0 ||
		    buf_append(out, "\r\n", 2) < 0) {
			return -1;
		}
		p = lf + 1;
	}
	return buf_append(out, p, (size_t) (end - p));
}

int
imap_binary_fetch(const struct mime_message *m, const uint32_t *parts,
	size_t count, struct buf *out)
{
	const struct mime_part *p = binary_part(m, parts, count);
	const char *enc, *body;
	struct buf *crlf;
	size_t len;
	int rc;

	if (p == NULL)
		return 0;
	body = mime_message_data(m) + mime_part_body_offset(p);
	len = mime_part_body_len(p);
	if (buf_set_cap(out, xalloc_add(mime_crlf_size(body, len), 1)) < 0)
		return -2;
	enc = mime_part_encoding(p);
	if (enc == NULL || strcasecmp(enc, "7bit") == 0 ||
	    strcasecmp(enc, "8bit") == 0 || strcasecmp(enc, "binary") == 0 ||
	    mime_part_is_multipart(p) || mime_part_is_message(p))
		return binary_crlf(body, len, out) < 0 ? -2 : 1;
	if (strcasecmp(enc, "base64") == 0)
		return mime_decode_base64(body, len, out) < 0 ? -2 : 1;
	if (strcasecmp(enc, "quoted-printable") != 0)
		return -1;
	/* Hard line breaks come out as CRLF: decode the CRLF text. */
	crlf = buf_new(xalloc_add(mime_crlf_size(body, len), 1));
	rc = binary_crlf(body, len, crlf) < 0 ||
	    mime_decode_qp(buf_cstr(crlf), buf_len(crlf), 0, out) < 0 ? -2 : 1;
	buf_free(&crlf);
	return rc;
}

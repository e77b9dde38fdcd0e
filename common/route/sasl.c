/*
 * sasl: base64 and SASL PLAIN decoding; see sasl.h.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "sasl.h"
#include "xalloc.h"

/* The longest authzid, authcid or password accepted. */
#define SASL_PART_MAX 1024

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Each byte's value in the base64 alphabet, -1 for the others. */
static const signed char b64_values[256] = {
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 62, -1, -1, -1, 63,
	52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, -1, -1, -1,
	-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
	15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1, -1,
	-1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
	41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
};

/*
 * Decoded bytes are collected in blocks, one buf_append a block: a DKIM
 * key or signature is hundreds of characters, decoded for every message.
 */
#define B64_BLOCK 192

int
base64_decode(const char *text, size_t len, struct buf *out)
{
	const unsigned char *t = (const unsigned char *) text;
	size_t start = buf_len(out);
	unsigned char block[B64_BLOCK];
	size_t i, used = 0;
	int v0, v1, v2, v3, pad;

	if (len % 4 != 0)
		return -1;
	for (i = 0; i < len; i += 4) {
		/* Padding only at the very end, at most two. */
		pad = 0;
		if (i + 4 == len && t[i + 3] == '=')
			pad = t[i + 2] == '=' ? 2 : 1;
		v0 = b64_values[t[i]];
		v1 = b64_values[t[i + 1]];
		v2 = pad == 2 ? 0 : b64_values[t[i + 2]];
		v3 = pad > 0 ? 0 : b64_values[t[i + 3]];
		if ((v0 | v1 | v2 | v3) < 0)
			goto fail;
		block[used++] = (unsigned char) (v0 << 2 | v1 >> 4);
		if (pad < 2)
			block[used++] = (unsigned char) ((v1 & 0xf) << 4 |
			    v2 >> 2);
		if (pad < 1)
			block[used++] = (unsigned char) ((v2 & 0x3) << 6 | v3);
		if (used + 3 > sizeof(block)) {
			if (buf_append(out, block, used) < 0)
				goto fail;
			used = 0;
		}
	}
	if (used > 0 && buf_append(out, block, used) < 0)
		goto fail;
	return 0;
fail:
	buf_truncate(out, start);
	return -1;
}

int
base64_encode(const void *data, size_t len, struct buf *out)
{
	const unsigned char *p = data;
	size_t start = buf_len(out);
	char quad[4];
	size_t i;
	unsigned int v;

	for (i = 0; i < len; i += 3) {
		v = (unsigned int) p[i] << 16;
		if (i + 1 < len)
			v |= (unsigned int) p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		quad[0] = b64_alphabet[(v >> 18) & 0x3f];
		quad[1] = b64_alphabet[(v >> 12) & 0x3f];
		quad[2] = i + 1 < len ? b64_alphabet[(v >> 6) & 0x3f] : '=';
		quad[3] = i + 2 < len ? b64_alphabet[v & 0x3f] : '=';
		if (buf_append(out, quad, 4) < 0) {
			buf_truncate(out, start);
			return -1;
		}
	}
	return 0;
}

int
sasl_plain_parse(const struct buf *decoded, char **authzid_r,
	char **authcid_r, char **password_r, const char **error_r)
{
	const char *data = buf_cstr(decoded);
	size_t len = buf_len(decoded);
	const char *nul1, *nul2;
	size_t zlen, clen, plen;

	nul1 = memchr(data, '\0', len);
	if (nul1 == NULL) {
		*error_r = "malformed PLAIN response";
		return -1;
	}
	nul2 = memchr(nul1 + 1, '\0', len - (size_t) (nul1 + 1 - data));
	if (nul2 == NULL ||
	    memchr(nul2 + 1, '\0', len - (size_t) (nul2 + 1 - data)) != NULL) {
		*error_r = "malformed PLAIN response";
		return -1;
	}
	zlen = (size_t) (nul1 - data);
	clen = (size_t) (nul2 - nul1 - 1);
	plen = len - (size_t) (nul2 + 1 - data);
	if (clen == 0 || plen == 0) {
		*error_r = "empty user name or password";
		return -1;
	}
	if (zlen > SASL_PART_MAX || clen > SASL_PART_MAX ||
	    plen > SASL_PART_MAX) {
		*error_r = "PLAIN response too long";
		return -1;
	}
	*authzid_r = xstrndup(data, zlen);
	*authcid_r = xstrndup(nul1 + 1, clen);
	*password_r = xstrndup(nul2 + 1, plen);
	return 0;
}

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

static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
base64_decode(const char *text, size_t len, struct buf *out)
{
	size_t start = buf_len(out);
	unsigned char group[3];
	int v[4];
	size_t i;
	int k, pad, n;

	if (len % 4 != 0)
		return -1;
	for (i = 0; i < len; i += 4) {
		pad = 0;
		for (k = 0; k < 4; k++) {
			if (text[i + k] == '=') {
				/* Padding only at the very end, at most two. */
				if (i + 4 != len || k < 2)
					goto fail;
				pad++;
				v[k] = 0;
				continue;
			}
			if (pad > 0)
				goto fail;
			v[k] = b64_value((unsigned char) text[i + k]);
			if (v[k] < 0)
				goto fail;
		}
		group[0] = (unsigned char) (v[0] << 2 | v[1] >> 4);
		group[1] = (unsigned char) ((v[1] & 0xf) << 4 | v[2] >> 2);
		group[2] = (unsigned char) ((v[2] & 0x3) << 6 | v[3]);
		n = 3 - pad;
		if (buf_append(out, group, (size_t) n) < 0)
			goto fail;
	}
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

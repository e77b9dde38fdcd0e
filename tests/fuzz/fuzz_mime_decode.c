/*
 * fuzz_mime_decode: RFC 2047 encoded words, base64, quoted-printable,
 * charsets and case folding (mime_decode.h), as SEARCH decodes headers
 * and bodies.  The first byte picks the charset and the encoding; the
 * output never passes its buf's cap and folding keeps the length.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fuzz.h"
#include "mime_decode.h"

#define FUZZ_DECODE_CAP 4096

static const char *const charsets[] = {
	NULL, "utf-8", "us-ascii", "iso-8859-1", "windows-1252",
	"iso-8859-15", "koi8-r", "shift_jis", "utf-16", "x-unknown",
};
static const char *const encodings[] = {
	NULL, "base64", "quoted-printable", "7bit", "8bit", "x-uuencode",
};

static void
check(struct buf *out)
{
	size_t len = buf_len(out);

	if (len > FUZZ_DECODE_CAP)
		abort();
	mime_decode_fold(buf_data(out), len);
	if (buf_len(out) != len)
		abort();
	buf_reset(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf *out = buf_new(FUZZ_DECODE_CAP);
	const char *text = (const char *) data + 1;
	const char *charset, *encoding;
	size_t len;

	fuzz_init();
	if (size == 0)
		goto out;
	len = size - 1;
	charset = charsets[data[0] % (sizeof(charsets) / sizeof(*charsets))];
	encoding = encodings[(data[0] / 16) %
	    (sizeof(encodings) / sizeof(*encodings))];
	(void) mime_decode_header(text, len, out);
	check(out);
	(void) mime_decode_base64(text, len, out);
	check(out);
	(void) mime_decode_qp(text, len, data[0] & 1, out);
	check(out);
	(void) mime_decode_charset(text, len, charset, out);
	check(out);
	(void) mime_decode_body(text, len, encoding, charset, out);
	check(out);
out:
	buf_free(&out);
	return 0;
}

/*
 * fuzz_mime_section: BODY[section]<partial> as imapd handles FETCH: the
 * section spec (mime_section_parse, the first line of the input) and
 * its bytes fetched from the message (the rest), whole and partial.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fuzz.h"
#include "mime.h"
#include "mime_imap.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *) data;
	const char *nl = memchr(text, '\n', size);
	size_t spec_len = nl != NULL ? (size_t) (nl - text) : size;
	size_t msg_off = nl != NULL ? spec_len + 1 : size, full, offset;
	struct mime_section *sec = NULL;
	struct mime_message *m;
	struct buf *out;
	const char *error = NULL;
	int rc;

	fuzz_init();
	if (mime_section_parse(text, spec_len, &sec, &error) != 0) {
		if (error == NULL)
			abort();
		return 0;
	}
	out = buf_new(1024 * 1024);
	m = mime_parse(text + msg_off, size - msg_off);
	rc = mime_section_fetch(m, sec, 0, SIZE_MAX, out);
	if (mime_section_size(m, sec, &full) != (rc < 0 ? 1 : rc))
		abort();
	if (rc == 1 && buf_len(out) != full)
		abort();
	/* A partial is a slice of the whole. */
	if (rc == 1) {
		struct buf *part = buf_new(1024 * 1024);

		offset = full / 3;
		if (mime_section_fetch(m, sec, offset, 7, part) != 1 ||
		    buf_len(part) != (full - offset < 7 ? full - offset : 7) ||
		    memcmp(buf_data(part), buf_data(out) + offset,
		    buf_len(part)) != 0)
			abort();
		buf_free(&part);
	}
	mime_section_free(&sec);
	mime_free(&m);
	buf_free(&out);
	return 0;
}

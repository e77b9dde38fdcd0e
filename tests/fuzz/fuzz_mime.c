/*
 * fuzz_mime: the MIME parser (mime.h) on a whole message, and every IMAP
 * view imapd makes of it (mime_imap.h): ENVELOPE and BODYSTRUCTURE of
 * each message part, each part's parameters and header fields, the CRLF
 * sizes.  Offsets must stay inside the data, sizes must add up.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fuzz.h"
#include "mime.h"
#include "mime_imap.h"

static void
walk(const struct mime_message *m, const struct mime_part *p,
	struct buf *out, size_t *parts)
{
	const struct mime_params *ps = mime_part_params(p);
	size_t len = mime_message_len(m), i, pos = 0;
	struct mime_field f;

	if (++*parts > MIME_MAX_PARTS)
		abort();
	if (mime_part_depth(p) > MIME_MAX_DEPTH ||
	    mime_part_header_offset(p) + mime_part_header_len(p) > len ||
	    mime_part_body_offset(p) + mime_part_body_len(p) > len ||
	    mime_part_type(p) == NULL || mime_part_subtype(p) == NULL ||
	    mime_part_body_size_crlf(p) < mime_part_body_len(p))
		abort();
	for (i = 0; i < mime_params_count(ps); i++) {
		if (mime_params_name(ps, i) == NULL ||
		    mime_params_value(ps, i) == NULL)
			abort();
	}
	(void) mime_params_get(mime_part_disposition_params(p), "filename");
	(void) mime_part_encoding(p);
	(void) mime_part_language(p);
	(void) mime_part_body_lines(p);
	while (mime_header_next(mime_message_data(m) +
	    mime_part_header_offset(p), mime_part_header_len(p), &pos, &f)) {
		buf_reset(out);
		(void) mime_field_unfold(&f, out);
	}
	buf_reset(out);
	if (mime_part_header_get(m, p, "subject", out) < 0 &&
	    buf_len(out) > buf_cap(out))
		abort();
	if (mime_part_depth(p) == 0 || mime_part_is_message(
	    mime_part_parent(p))) {
		buf_reset(out);
		(void) mime_imap_envelope(m, p, out);
	}
	for (i = 0; i < mime_part_child_count(p); i++) {
		if (mime_part_parent(mime_part_child(p, i)) != p)
			abort();
		walk(m, mime_part_child(p, i), out, parts);
	}
	if (mime_part_child(p, i) != NULL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mime_message *m;
	struct buf *out = buf_new(1024 * 1024);
	size_t parts = 0;

	fuzz_init();
	m = mime_parse((const char *) data, size);
	if (mime_message_size_crlf(m) != mime_crlf_size((const char *) data,
	    size))
		abort();
	walk(m, mime_message_root(m), out, &parts);
	buf_reset(out);
	(void) mime_imap_bodystructure(m, mime_message_root(m), 1, out);
	buf_reset(out);
	(void) mime_imap_bodystructure(m, mime_message_root(m), 0, out);
	mime_free(&m);
	buf_free(&out);
	return 0;
}

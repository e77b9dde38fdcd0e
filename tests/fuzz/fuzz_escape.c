/*
 * fuzz_escape: the checks every decoded or untrusted value passes before
 * it goes into a header, a protocol line, a log or a terminal
 * (xtext.h, smtp_syntax.h, printable.h), held to what they promise:
 * what xtext decodes is printable ASCII and encodes back to a form that
 * decodes to the same; an accepted ORCPT encodes to a line with no
 * control byte; a HELO the check accepts has no space, control or 8-bit
 * byte; smtp_printable_append leaves printable ASCII only; printable
 * escaping leaves no C0 control, DEL or C1 control.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fuzz.h"
#include "printable.h"
#include "smtp_syntax.h"
#include "xalloc.h"
#include "xtext.h"

static void
check_printable_ascii(const char *text, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char) text[i] < 0x20 ||
		    (unsigned char) text[i] > 0x7e)
			abort();
}

static void
check_xtext(const char *text)
{
	struct buf *out = buf_new(4096);
	char *decoded, *again, *orcpt;

	decoded = xtext_decode(text, XTEXT_ORCPT_MAX);
	if (decoded != NULL) {
		check_printable_ascii(decoded, strlen(decoded));
		if (xtext_encode(out, decoded) < 0)
			abort();
		again = xtext_decode(buf_cstr(out), XTEXT_ORCPT_MAX);
		if (again == NULL || strcmp(again, decoded) != 0)
			abort();
		free(again);
		free(decoded);
	}
	orcpt = xtext_orcpt_decode(text, XTEXT_ORCPT_MAX);
	if (orcpt != NULL) {
		check_printable_ascii(orcpt, strlen(orcpt));
		if (!xtext_orcpt_valid(orcpt, XTEXT_ORCPT_MAX))
			abort();
		buf_reset(out);
		if (xtext_orcpt_encode(out, orcpt, XTEXT_ORCPT_MAX) < 0)
			abort();
		/* What goes on the RCPT line: no space, no control. */
		check_printable_ascii(buf_cstr(out), buf_len(out));
		if (memchr(buf_cstr(out), ' ', buf_len(out)) != NULL)
			abort();
		free(orcpt);
	}
	buf_free(&out);
}

static void
check_helo(const char *text)
{
	const char *error = NULL;
	enum smtp_helo_syntax verdict = smtp_helo_check(text, &error);

	if (verdict == SMTP_HELO_INVALID)
		return;
	if (strlen(text) == 0 || strlen(text) > SMTP_HELO_MAX)
		abort();
	check_printable_ascii(text, strlen(text));
	if (strchr(text, ' ') != NULL)
		abort();
}

static void
check_escapes(const char *data, size_t len)
{
	struct buf *out = buf_new(8 * len + 64);
	const unsigned char *p;
	size_t i;

	if (printable_append(out, data, len) < 0)
		abort();
	p = (const unsigned char *) buf_cstr(out);
	for (i = 0; i < buf_len(out); i++) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			abort();
		/* U+0080..U+009F as UTF-8: C2 80..C2 9F. */
		if (p[i] == 0xc2 && i + 1 < buf_len(out) && p[i + 1] >= 0x80 &&
		    p[i + 1] <= 0x9f)
			abort();
	}
	buf_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;
	struct buf *out;

	fuzz_init();
	text = fuzz_strndup(data, size);
	check_xtext(text);
	check_helo(text);
	check_escapes((const char *) data, size);
	out = buf_new(4 * size + 64);
	if (smtp_printable_append(out, text) < 0)
		abort();
	check_printable_ascii(buf_cstr(out), buf_len(out));
	buf_free(&out);
	free(text);
	return 0;
}

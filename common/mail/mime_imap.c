/* mime_imap: IMAP strings, BODY and BODYSTRUCTURE of a parsed message. */
#include "config.h"

#include <string.h>

#include "buf.h"
#include "mime.h"
#include "mime_imap.h"
#include "mime_imap_int.h"

/* ---- IMAP strings -------------------------------------------------------- */

void
mime_imap_w_append(struct mime_imap_writer *w, const char *s, size_t n)
{
	if (!w->failed && buf_append(w->out, s, n) < 0)
		w->failed = 1;
}

void
mime_imap_w_str(struct mime_imap_writer *w, const char *s)
{
	mime_imap_w_append(w, s, strlen(s));
}

void
mime_imap_w_size(struct mime_imap_writer *w, size_t n)
{
	if (!w->failed && buf_printf(w->out, "%zu", n) < 0)
		w->failed = 1;
}

/*
 * An IMAP string (RFC 3501 4.3): quoted when it can be, else a literal.
 * Like Dovecot, quotes and backslashes also make a literal: some clients
 * mishandle quoted-pairs, and every client must read literals.  NUL
 * octets are dropped: no IMAP4rev1 string may carry them.
 */
void
mime_imap_w_string(struct mime_imap_writer *w, const char *s, size_t n)
{
	size_t i, nuls = 0, run;
	int literal = 0;
	unsigned char c;

	for (i = 0; i < n; i++) {
		c = (unsigned char) s[i];
		if (c == '\0')
			nuls++;
		else if (c == '\r' || c == '\n' || c >= 0x80 || c == '"' ||
		    c == '\\')
			literal = 1;
	}
	if (literal) {
		if (!w->failed && buf_printf(w->out, "{%zu}\r\n", n - nuls) < 0)
			w->failed = 1;
	} else
		mime_imap_w_append(w, "\"", 1);
	for (i = 0; i < n; i += run + 1) {
		run = strnlen(s + i, n - i);
		mime_imap_w_append(w, s + i, run);
	}
	if (!literal)
		mime_imap_w_append(w, "\"", 1);
}

void
mime_imap_w_nstring(struct mime_imap_writer *w, const char *s)
{
	if (s == NULL)
		mime_imap_w_str(w, "NIL");
	else
		mime_imap_w_string(w, s, strlen(s));
}

/* ---- BODY / BODYSTRUCTURE ------------------------------------------------- */

static void
write_params(struct mime_imap_writer *w, const struct mime_params *ps)
{
	size_t i, count = mime_params_count(ps);

	if (count == 0) {
		mime_imap_w_str(w, "NIL");
		return;
	}
	mime_imap_w_str(w, "(");
	for (i = 0; i < count; i++) {
		if (i > 0)
			mime_imap_w_str(w, " ");
		mime_imap_w_nstring(w, mime_params_name(ps, i));
		mime_imap_w_str(w, " ");
		mime_imap_w_nstring(w, mime_params_value(ps, i));
	}
	mime_imap_w_str(w, ")");
}

/*
 * Content-Language as a list of tags, always a list as Dovecot writes it
 * (RFC 3501 allows a single string too); NIL when there is no tag.
 */
static void
write_language(struct mime_imap_writer *w, const char *lang)
{
	const char *p = lang, *start, *end;
	size_t count = 0;

	while (p != NULL) {
		end = strchr(p, ',');
		if (end == NULL)
			end = p + strlen(p);
		for (start = p; start < end && (*start == ' ' ||
		    *start == '\t'); start++)
			;
		while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if (end > start) {
			mime_imap_w_str(w, count++ == 0 ? "(" : " ");
			mime_imap_w_string(w, start, end - start);
		}
		p = strchr(p, ',');
		if (p != NULL)
			p++;
	}
	mime_imap_w_str(w, count > 0 ? ")" : "NIL");
}

static void
write_disposition(struct mime_imap_writer *w, const struct mime_part *p)
{
	if (mime_part_disposition(p) == NULL) {
		mime_imap_w_str(w, "NIL");
		return;
	}
	mime_imap_w_str(w, "(");
	mime_imap_w_nstring(w, mime_part_disposition(p));
	mime_imap_w_str(w, " ");
	write_params(w, mime_part_disposition_params(p));
	mime_imap_w_str(w, ")");
}

/*
 * The extension data single parts and multiparts end with (RFC 3501 9:
 * body-fld-dsp, body-fld-lang, body-fld-loc), each after a blank.
 */
static void
write_extension_tail(struct mime_imap_writer *w, const struct mime_part *p)
{
	mime_imap_w_str(w, " ");
	write_disposition(w, p);
	mime_imap_w_str(w, " ");
	write_language(w, mime_part_language(p));
	mime_imap_w_str(w, " ");
	mime_imap_w_nstring(w, mime_part_location(p));
}

static void
write_body(struct mime_imap_writer *w, const struct mime_message *m,
	const struct mime_part *p, int extended)
{
	const struct mime_part *child;
	const char *encoding;
	size_t i;

	if (w->failed)
		return;
	mime_imap_w_str(w, "(");
	if (mime_part_is_multipart(p)) {
		for (i = 0; (child = mime_part_child(p, i)) != NULL; i++)
			write_body(w, m, child, extended);
		mime_imap_w_str(w, " ");
		mime_imap_w_nstring(w, mime_part_subtype(p));
		if (extended) {
			mime_imap_w_str(w, " ");
			write_params(w, mime_part_params(p));
			write_extension_tail(w, p);
		}
		mime_imap_w_str(w, ")");
		return;
	}
	mime_imap_w_nstring(w, mime_part_type(p));
	mime_imap_w_str(w, " ");
	mime_imap_w_nstring(w, mime_part_subtype(p));
	mime_imap_w_str(w, " ");
	write_params(w, mime_part_params(p));
	mime_imap_w_str(w, " ");
	mime_imap_w_nstring(w, mime_part_id(p));
	mime_imap_w_str(w, " ");
	mime_imap_w_nstring(w, mime_part_description(p));
	mime_imap_w_str(w, " ");
	encoding = mime_part_encoding(p);
	mime_imap_w_nstring(w, encoding != NULL ? encoding : "7bit");
	mime_imap_w_str(w, " ");
	mime_imap_w_size(w, mime_part_body_size_crlf(p));
	if (mime_part_is_message(p)) {
		child = mime_part_child(p, 0);
		mime_imap_w_str(w, " ");
		mime_imap_write_envelope(w, m, child);
		mime_imap_w_str(w, " ");
		write_body(w, m, child, extended);
		mime_imap_w_str(w, " ");
		mime_imap_w_size(w, mime_part_body_lines(p));
	} else if (strcmp(mime_part_type(p), "text") == 0) {
		mime_imap_w_str(w, " ");
		mime_imap_w_size(w, mime_part_body_lines(p));
	}
	if (extended) {
		mime_imap_w_str(w, " ");
		mime_imap_w_nstring(w, mime_part_md5(p));
		write_extension_tail(w, p);
	}
	mime_imap_w_str(w, ")");
}

int
mime_imap_bodystructure(const struct mime_message *m,
	const struct mime_part *p, int extended, struct buf *out)
{
	struct mime_imap_writer w = { out, 0 };

	write_body(&w, m, p, extended);
	return w.failed ? -1 : 0;
}

/*
 * mime_imap: IMAP4rev1 views of a parsed message (RFC 3501 7.4.2, 6.4.5).
 *
 * ENVELOPE, BODY and BODYSTRUCTURE are written in the exact RFC 3501
 * syntax; BODY[section] specs are parsed and resolved to the bytes the
 * client must get.  Everything is appended to a struct buf: when the
 * buf's cap is reached the function returns -1 and the buf holds a
 * partial result the caller must discard (answer NO / drop the fetch).
 *
 * Strings are written as quoted strings unless they contain CR, LF,
 * 8-bit octets, '"' or '\\': then as a literal ({n} CRLF bytes), as
 * Dovecot does.  NUL octets are dropped (IMAP forbids them outside
 * literal8).  Absent values are NIL.  RFC 2047 encoded words are passed
 * through raw, as RFC 3501 requires.  Sizes are CRLF octets and line
 * counts follow mime.h.
 */
#ifndef ISPMAIL_MIME_IMAP_H
#define ISPMAIL_MIME_IMAP_H

#include <stddef.h>
#include <stdint.h>

struct buf;
struct mime_message;
struct mime_part;
struct mime_section;	/* a parsed section spec */

/*
 * The ENVELOPE of the message whose header is p's header (p is the root,
 * or the child of a message/rfc822 part): "(" date SP subject SP from SP
 * sender SP reply-to SP to SP cc SP bcc SP in-reply-to SP message-id ")".
 * Address lists follow RFC 5322 (groups as (NIL NIL "name" NIL) ...
 * (NIL NIL NIL NIL)); sender and reply-to default to from (RFC 3501).
 * 0 ok, -1 out's cap reached.
 */
int mime_imap_envelope(const struct mime_message *m,
	const struct mime_part *p, struct buf *out);
/*
 * The same ENVELOPE from a message's start, without parsing its MIME
 * structure: data[0..len) holds at least the whole header block (its
 * blank line included), or the whole message.
 */
int mime_imap_envelope_header(const char *data, size_t len,
	struct buf *out);

/*
 * BODY (extended 0) or BODYSTRUCTURE (extended 1) of p and everything
 * below it; p is normally mime_message_root().  The extension data is
 * md5, disposition, language and location for single parts and
 * parameters, disposition, language and location for multiparts.
 * 0 ok, -1 out's cap reached.
 */
int mime_imap_bodystructure(const struct mime_message *m,
	const struct mime_part *p, int extended, struct buf *out);

/*
 * Parse the text between the brackets of BODY[...] (RFC 3501 6.4.5):
 * "", HEADER, TEXT, HEADER.FIELDS (names), HEADER.FIELDS.NOT (names),
 * optionally after a part number "1.2.3." , or a part number alone or with
 * .MIME.  Keywords are case-insensitive; field names are atoms, quoted
 * strings or literals ({n} or {n+}, CRLF, n bytes).  Part numbers are
 * nz-numbers (no leading zero) below 2^31.
 * 0 with *section_r (free with mime_section_free); -1 with *error_r set to
 * a static text for a tagged BAD.
 */
int mime_section_parse(const char *spec, size_t len,
	struct mime_section **section_r, const char **error_r);
void mime_section_free(struct mime_section **sp);

/*
 * Append the bytes of section sec of m to out, with CRLF line ends, cut
 * to the partial <partial_offset.partial_len> (octets of the converted
 * text; use 0 and SIZE_MAX for no partial).
 * Returns 1 when the section exists, 0 when it does not (a part number
 * beyond the tree, HEADER/TEXT of a part that is not message/rfc822):
 * nothing is appended then and the caller answers NIL or "" as it likes;
 * -1 when out's cap is reached.
 * Per RFC 3501, every header form (HEADER, HEADER.FIELDS[.NOT], MIME)
 * ends with the blank line when the header had one.
 */
int mime_section_fetch(const struct mime_message *m,
	const struct mime_section *sec, size_t partial_offset,
	size_t partial_len, struct buf *out);

/* The full CRLF size of a section (before any partial); 1/0 as above. */
int mime_section_size(const struct mime_message *m,
	const struct mime_section *sec, size_t *size_r);

#endif

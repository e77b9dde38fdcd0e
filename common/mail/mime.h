/*
 * mime: a MIME (RFC 2045/2046, RFC 5322) parser for messages in memory.
 *
 * mime_parse() takes a whole message (the caller maps or reads the file)
 * and builds a tree of parts.  The tree BORROWS the data: it keeps only
 * byte offsets into it, so the data must stay valid and unchanged until
 * mime_free().  Parsed strings (types, parameters, ids) are owned by the
 * message and live until mime_free().
 *
 * Line ends: messages are stored with LF, but CRLF (and a mix) parses the
 * same.  Offsets and lengths are raw bytes of the data; the *_crlf sizes
 * count octets as a client sees them, every LF not already preceded by CR
 * counted as CRLF (IMAP sizes, RFC 3501 2.3.4).
 *
 * Each part has a header and a body.  The header runs up to AND including
 * the blank line that ends it; a header without a blank line runs to the
 * end of the part and the body is empty (mime_part_has_blank_line() says
 * which).  A multipart body is split on its boundary (RFC 2046 5.1.1: the
 * line break before a delimiter belongs to the delimiter; preamble and
 * epilogue are not parts); a message/rfc822 part has one child, the
 * embedded message, whose header starts where the part's body starts.
 *
 * Malformed input never fails the parse and never crashes:
 * - a multipart without a boundary parameter, or with no delimiter line
 *   in its body, gets one child: an empty header and the whole body as
 *   text/plain (so BODYSTRUCTURE stays valid: a multipart needs a child);
 * - a missing close delimiter ends the last child at the end of the body;
 * - a part nested MIME_MAX_DEPTH levels deep (the message is level 0) is
 *   not split further: a multipart or message/rfc822 there is reported as
 *   text/plain; charset=us-ascii and its body is opaque;
 * - once MIME_MAX_PARTS parts exist, the next delimiter ends its
 *   multipart (the rest is treated like an epilogue) and further
 *   containers are reported as text/plain, as at the depth limit;
 * - NUL and 8-bit bytes are data like any other.
 * Cost is linear in the data per nesting level (at most MIME_MAX_DEPTH
 * passes), whatever the header or boundary count.  Header fields are not
 * indexed, so their number needs no limit: each lookup is one linear scan
 * and values are only copied into bufs with a cap (MIME_MAX_FIELD_LEN
 * for the Content-* fields, the caller's cap otherwise).
 */
#ifndef ISPMAIL_MIME_H
#define ISPMAIL_MIME_H

#include <stddef.h>

struct buf;
struct mime_message;	/* the parse result; owns the parts */
struct mime_part;	/* one node of the tree, owned by its message */
struct mime_params;	/* a parameter list, owned by its part */

/* Parts deeper than this are opaque (see above).  Level 0 is the message. */
#define MIME_MAX_DEPTH 32
/* At most this many parts per message, the root included. */
#define MIME_MAX_PARTS 10000
/*
 * A Content-* field (unfolded) longer than this is ignored as if absent;
 * at most MIME_MAX_PARAMS parameters are kept per field (the rest are
 * dropped), so a hostile header costs bounded memory.
 */
#define MIME_MAX_FIELD_LEN (64 * 1024)
#define MIME_MAX_PARAMS 64

/* ---- parsing ----------------------------------------------------------- */

/* Parse len bytes at data (not copied, see above).  Never fails. */
struct mime_message *mime_parse(const char *data, size_t len);
/* Free the message and all its parts; NULLs *mp.  NULL is allowed. */
void mime_free(struct mime_message **mp);
/*
 * The length of the header block at data[0..len), the blank line that
 * ends it included; *blank_line_r is 1 when that line was found, else 0
 * and the header runs to len (the block may go on past len).
 */
size_t mime_header_length(const char *data, size_t len, int *blank_line_r);

/* The data given to mime_parse() and its length. */
const char *mime_message_data(const struct mime_message *m);
size_t mime_message_len(const struct mime_message *m);
/* The size of the whole message in CRLF octets (RFC822.SIZE). */
size_t mime_message_size_crlf(const struct mime_message *m);
/* The top-level part: the message itself (level 0). */
const struct mime_part *mime_message_root(const struct mime_message *m);

/* ---- the parts --------------------------------------------------------- */

/*
 * Children: of a multipart its body parts in order; of a message/rfc822
 * part exactly one, the embedded message; otherwise none.  Index from 0;
 * an index out of range gives NULL.
 */
size_t mime_part_child_count(const struct mime_part *p);
const struct mime_part *mime_part_child(const struct mime_part *p, size_t i);
/* The enclosing part; NULL for the root. */
const struct mime_part *mime_part_parent(const struct mime_part *p);
/* Nesting level: 0 for the message, 1 for its children, ... */
unsigned int mime_part_depth(const struct mime_part *p);

/* Raw header (blank line included when present) and body, in the data. */
size_t mime_part_header_offset(const struct mime_part *p);
size_t mime_part_header_len(const struct mime_part *p);
size_t mime_part_body_offset(const struct mime_part *p);
size_t mime_part_body_len(const struct mime_part *p);
/* 1 when the header ended with a blank line, 0 when it ran to the end. */
int mime_part_has_blank_line(const struct mime_part *p);
/* Header and body sizes in CRLF octets. */
size_t mime_part_header_size_crlf(const struct mime_part *p);
size_t mime_part_body_size_crlf(const struct mime_part *p);
/*
 * Lines of the body: the number of LFs (a last line without a line end
 * does not count; the line break before a multipart delimiter belongs to
 * the delimiter).  This is what Dovecot reports as body-fld-lines.
 */
size_t mime_part_body_lines(const struct mime_part *p);

/*
 * Content-Type (RFC 2045 5.1), type and subtype lower-cased.  A part
 * without a valid Content-Type is text/plain, or message/rfc822 inside a
 * multipart/digest (RFC 2046 5.1.5); mime_part_type_given() says 0 then.
 * A text/ * part without any parameter gets charset=us-ascii (RFC 2045
 * 5.2), so the list shows what a reader must assume.
 */
const char *mime_part_type(const struct mime_part *p);
const char *mime_part_subtype(const struct mime_part *p);
int mime_part_type_given(const struct mime_part *p);
/* 1 for multipart/ *, 1 for message/rfc822 (with its child parsed). */
int mime_part_is_multipart(const struct mime_part *p);
int mime_part_is_message(const struct mime_part *p);
/* The Content-Type parameters (never NULL, maybe empty). */
const struct mime_params *mime_part_params(const struct mime_part *p);

/*
 * Other MIME fields, unfolded and trimmed, NULL when absent.  The
 * encoding is the token as written (mime_part_encoding() gives NULL when
 * absent; IMAP output writes "7bit" then).  The disposition type is
 * lower-cased; its parameters are never NULL.  The language is the raw
 * field value (a comma-separated list of tags).
 */
const char *mime_part_encoding(const struct mime_part *p);
const char *mime_part_id(const struct mime_part *p);
const char *mime_part_description(const struct mime_part *p);
const char *mime_part_disposition(const struct mime_part *p);
const struct mime_params *mime_part_disposition_params(
	const struct mime_part *p);
const char *mime_part_language(const struct mime_part *p);
const char *mime_part_location(const struct mime_part *p);
const char *mime_part_md5(const struct mime_part *p);

/*
 * Parameter lists.  Names are lower-cased; quoted-string values are
 * unquoted.  RFC 2231 continuations (name*0, name*1*, ...) are joined into
 * one parameter: plain segments give "name" with the concatenated value;
 * if any segment is encoded the result is "name*" with the value in
 * RFC 2231 form (charset'language'%XX...), so nothing is decoded or lost.
 * The first of duplicate names wins.
 */
size_t mime_params_count(const struct mime_params *ps);
const char *mime_params_name(const struct mime_params *ps, size_t i);
const char *mime_params_value(const struct mime_params *ps, size_t i);
/* The value of the parameter named name (case-insensitive), or NULL. */
const char *mime_params_get(const struct mime_params *ps, const char *name);

/* ---- header fields ----------------------------------------------------- */

/*
 * One field of a header, as written: a plain result record pointing into
 * the header bytes.  name excludes the colon and any blanks before it;
 * value starts after the colon and its leading blanks and still holds the
 * folding line breaks; raw/raw_len is the whole field with its final line
 * end (what HEADER.FIELDS returns).
 */
struct mime_field {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
	const char *raw;
	size_t raw_len;
};

/*
 * Iterate over the fields of the header at header/len, from *pos (start
 * at 0).  Lines that are not fields (no colon, or a continuation with
 * nothing before it) are skipped; the blank line ends the header.
 * 1 with *field_r set and *pos advanced, 0 at the end.  Linear overall.
 */
int mime_header_next(const char *header, size_t len, size_t *pos,
	struct mime_field *field_r);
/*
 * Append the unfolded value of f to out (RFC 5322 2.2.3: CR and LF
 * removed, the blanks kept; trailing blanks dropped).
 * 0 ok, -1 when out's cap is reached (out is then unspecified).
 */
int mime_field_unfold(const struct mime_field *f, struct buf *out);
/*
 * Find the first field named name (case-insensitive) in the header of p
 * and put its unfolded value in value_r (replacing its contents).
 * 1 found, 0 absent, -1 value_r's cap reached.
 */
int mime_part_header_get(const struct mime_message *m,
	const struct mime_part *p, const char *name, struct buf *value_r);

/* ---- line ends ----------------------------------------------------------- */

/* The size of data/len with every bare LF counted as CRLF. */
size_t mime_crlf_size(const char *data, size_t len);
/* Append data/len with every bare LF turned into CRLF; 0 ok, -1 cap. */
int mime_append_crlf(struct buf *out, const char *data, size_t len);

#endif

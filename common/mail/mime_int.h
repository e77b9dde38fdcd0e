/*
 * mime_int: what the files of the MIME parser share (mime.c: the tree and
 * its accessors; mime_header.c: header fields and line ends; mime_field.c:
 * Content-* field values and parameter lists).  Nothing outside
 * common/mail/mime*.c includes it.
 */
#ifndef ISPMAIL_MIME_INT_H
#define ISPMAIL_MIME_INT_H

#include <stddef.h>
#include <string.h>

#include "mime.h"

struct mime_param {
	char *name;
	char *value;
};

struct mime_params {
	struct mime_param *v;
	size_t count;
};

struct mime_part {
	struct mime_part *parent;
	struct mime_part **children;
	size_t child_count;
	size_t child_alloc;
	unsigned int depth;

	size_t header_offset, header_len;
	size_t body_offset, body_len;
	int blank_line;
	size_t header_crlf, body_crlf, body_lines;

	char *type, *subtype;
	int type_given;
	struct mime_params params;
	char *encoding, *id, *description, *location, *md5, *language;
	char *disposition;
	struct mime_params disposition_params;
};

struct mime_message {
	const char *data;
	size_t len;
	size_t size_crlf;
	struct mime_part *root;
	size_t part_count;
	struct buf *scratch;	/* unfolded Content-* values */
};

static inline int
mime_is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* End of the line starting at p (after its LF, or end). */
static inline const char *
mime_line_end(const char *p, const char *end)
{
	const char *lf = memchr(p, '\n', end - p);

	return lf == NULL ? end : lf + 1;
}

static inline int
mime_is_blank_line(const char *p, const char *eol)
{
	return (eol - p == 1 && p[0] == '\n') ||
	    (eol - p == 2 && p[0] == '\r' && p[1] == '\n');
}

/* mime_header.c */
/*
 * Count LFs (lines) and bare LFs of data[0..len) in one pass.  A last line
 * without a line end is not counted, as Dovecot does: inside a multipart
 * the line break before a delimiter belongs to the delimiter, so "text"
 * followed by CRLF--boundary is 0 lines there and 1 line at the end of a
 * message that ends with CRLF, which is what clients have always seen.
 */
void
mime_count_lines(const char *data, size_t len, size_t *crlf_r,
	size_t *lines_r);
/* 1 when f is named name (case-insensitive). */
int
mime_field_is(const struct mime_field *f, const char *name);

/* mime_field.c */
/* Add name=value (both taken over) to ps. */
void
mime_params_add(struct mime_params *ps, char *name, char *value);
/* Free every parameter of ps and empty it. */
void
mime_params_clear(struct mime_params *ps);
/* Read the Content-* fields of p's header (the first of each counts). */
void
mime_parse_fields(struct mime_message *m, struct mime_part *p);

#endif

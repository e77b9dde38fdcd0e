/* mime: parse a message in memory into a tree of MIME parts. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "mime.h"
#include "mime_int.h"
#include "xalloc.h"

/* ---- the tree --------------------------------------------------------------- */

static void
set_type(struct mime_part *p, const char *type, const char *subtype)
{
	free(p->type);
	free(p->subtype);
	p->type = xstrdup(type);
	p->subtype = xstrdup(subtype);
}

/* RFC 2045 5.2: text without parameters is charset us-ascii. */
static void
default_charset(struct mime_part *p)
{
	if (strcmp(p->type, "text") == 0 && p->params.count == 0)
		mime_params_add(&p->params, xstrdup("charset"),
		    xstrdup("us-ascii"));
}

/* A container we will not open: report it as plain text (see mime.h). */
static void
demote_to_text(struct mime_part *p)
{
	set_type(p, "text", "plain");
	mime_params_clear(&p->params);
	default_charset(p);
}

static struct mime_part *
part_new(struct mime_message *m, struct mime_part *parent)
{
	struct mime_part *p = xcalloc(1, sizeof(*p));

	m->part_count++;
	p->parent = parent;
	p->depth = parent == NULL ? 0 : parent->depth + 1;
	if (parent != NULL) {
		if (parent->child_count == parent->child_alloc) {
			parent->child_alloc = parent->child_alloc == 0 ? 4 :
			    xalloc_mul(parent->child_alloc, 2);
			parent->children = xreallocarray(parent->children,
			    parent->child_alloc, sizeof(*parent->children));
		}
		parent->children[parent->child_count++] = p;
	}
	return p;
}

static void parse_part(struct mime_message *, struct mime_part *, size_t,
	size_t, int);

/* The fallback child of a multipart we cannot split (see mime.h). */
static void
add_opaque_child(struct mime_message *m, struct mime_part *p)
{
	struct mime_part *c = part_new(m, p);

	c->header_offset = c->body_offset = p->body_offset;
	c->body_len = p->body_len;
	c->type = xstrdup("text");
	c->subtype = xstrdup("plain");
	default_charset(c);
	mime_count_lines(m->data + c->body_offset, c->body_len, &c->body_crlf,
	    &c->body_lines);
}

/*
 * Is the line at p..eol a delimiter of boundary?  1 for "--b", 2 for the
 * close "--b--", 0 otherwise.  Only blanks may follow "--b" (RFC 2046
 * 5.1.1), so an inner boundary that extends an outer one is not taken.
 */
static int
is_delimiter(const char *p, const char *eol, const char *boundary,
	size_t blen)
{
	const char *q;

	if ((size_t) (eol - p) < blen + 2 || p[0] != '-' || p[1] != '-' ||
	    memcmp(p + 2, boundary, blen) != 0)
		return 0;
	q = p + 2 + blen;
	if (eol - q >= 2 && q[0] == '-' && q[1] == '-')
		return 2;
	for (; q < eol; q++)
		if (!mime_is_wsp(*q) && *q != '\r' && *q != '\n')
			return 0;
	return 1;
}

/* Split a multipart body on its boundary and parse each child. */
static void
split_multipart(struct mime_message *m, struct mime_part *p)
{
	const char *boundary = mime_params_get(&p->params, "boundary");
	const char *data = m->data, *start = data + p->body_offset;
	const char *end = start + p->body_len, *line, *eol, *child_end;
	const char *child = NULL;	/* start of the open child */
	size_t blen;
	int kind, digest = strcmp(p->subtype, "digest") == 0;

	if (m->part_count >= MIME_MAX_PARTS) {
		demote_to_text(p);
		return;
	}
	if (boundary == NULL || *boundary == '\0') {
		add_opaque_child(m, p);
		return;
	}
	blen = strlen(boundary);
	for (line = start; line < end; line = eol) {
		eol = mime_line_end(line, end);
		if ((kind = is_delimiter(line, eol, boundary, blen)) == 0)
			continue;
		if (child != NULL) {
			/* The line break before the delimiter is its own. */
			child_end = line;
			if (child_end > child && child_end[-1] == '\n')
				child_end--;
			if (child_end > child && child_end[-1] == '\r')
				child_end--;
			parse_part(m, part_new(m, p), child - data,
			    child_end - child, digest);
			child = NULL;
		}
		if (kind == 2)
			break;
		if (m->part_count >= MIME_MAX_PARTS)
			break;
		child = eol;
	}
	if (child != NULL)
		parse_part(m, part_new(m, p), child - data, end - child,
		    digest);
	if (p->child_count == 0)
		add_opaque_child(m, p);
}

/*
 * Parse the part p spanning data[offset..offset+len): header, Content-*
 * fields, then its children.  Recursion is bounded by MIME_MAX_DEPTH.
 */
static void
parse_part(struct mime_message *m, struct mime_part *p, size_t offset,
	size_t len, int in_digest)
{
	const char *start = m->data + offset;
	struct mime_part *child;

	p->header_offset = offset;
	p->header_len = mime_header_length(start, len, &p->blank_line);
	p->body_offset = offset + p->header_len;
	p->body_len = len - p->header_len;
	mime_count_lines(start, p->header_len, &p->header_crlf, NULL);
	mime_count_lines(start + p->header_len, p->body_len, &p->body_crlf,
	    &p->body_lines);

	mime_parse_fields(m, p);
	if (p->type == NULL) {
		if (in_digest) {
			p->type = xstrdup("message");
			p->subtype = xstrdup("rfc822");
		} else {
			p->type = xstrdup("text");
			p->subtype = xstrdup("plain");
		}
	}
	default_charset(p);

	if (mime_part_is_multipart(p)) {
		if (p->depth >= MIME_MAX_DEPTH)
			demote_to_text(p);
		else
			split_multipart(m, p);
	} else if (strcmp(p->type, "message") == 0 &&
	    strcmp(p->subtype, "rfc822") == 0) {
		if (p->depth >= MIME_MAX_DEPTH ||
		    m->part_count >= MIME_MAX_PARTS) {
			demote_to_text(p);
		} else {
			child = part_new(m, p);
			parse_part(m, child, p->body_offset, p->body_len, 0);
		}
	}
}

struct mime_message *
mime_parse(const char *data, size_t len)
{
	struct mime_message *m = xcalloc(1, sizeof(*m));

	m->data = data;
	m->len = len;
	m->size_crlf = mime_crlf_size(data, len);
	m->scratch = buf_new(MIME_MAX_FIELD_LEN);
	m->root = part_new(m, NULL);
	parse_part(m, m->root, 0, len, 0);
	buf_free(&m->scratch);
	return m;
}

static void
part_free(struct mime_part *p)
{
	size_t i;

	for (i = 0; i < p->child_count; i++)
		part_free(p->children[i]);
	free(p->children);
	free(p->type);
	free(p->subtype);
	mime_params_clear(&p->params);
	mime_params_clear(&p->disposition_params);
	free(p->encoding);
	free(p->id);
	free(p->description);
	free(p->location);
	free(p->md5);
	free(p->language);
	free(p->disposition);
	free(p);
}

void
mime_free(struct mime_message **mp)
{
	if (*mp == NULL)
		return;
	part_free((*mp)->root);
	free(*mp);
	*mp = NULL;
}

/* ---- accessors ------------------------------------------------------------ */

const char *
mime_message_data(const struct mime_message *m)
{
	return m->data;
}

size_t
mime_message_len(const struct mime_message *m)
{
	return m->len;
}

size_t
mime_message_size_crlf(const struct mime_message *m)
{
	return m->size_crlf;
}

const struct mime_part *
mime_message_root(const struct mime_message *m)
{
	return m->root;
}

size_t
mime_part_child_count(const struct mime_part *p)
{
	return p->child_count;
}

const struct mime_part *
mime_part_child(const struct mime_part *p, size_t i)
{
	return i < p->child_count ? p->children[i] : NULL;
}

const struct mime_part *
mime_part_parent(const struct mime_part *p)
{
	return p->parent;
}

unsigned int
mime_part_depth(const struct mime_part *p)
{
	return p->depth;
}

size_t
mime_part_header_offset(const struct mime_part *p)
{
	return p->header_offset;
}

size_t
mime_part_header_len(const struct mime_part *p)
{
	return p->header_len;
}

size_t
mime_part_body_offset(const struct mime_part *p)
{
	return p->body_offset;
}

size_t
mime_part_body_len(const struct mime_part *p)
{
	return p->body_len;
}

int
mime_part_has_blank_line(const struct mime_part *p)
{
	return p->blank_line;
}

size_t
mime_part_header_size_crlf(const struct mime_part *p)
{
	return p->header_crlf;
}

size_t
mime_part_body_size_crlf(const struct mime_part *p)
{
	return p->body_crlf;
}

size_t
mime_part_body_lines(const struct mime_part *p)
{
	return p->body_lines;
}

const char *
mime_part_type(const struct mime_part *p)
{
	return p->type;
}

const char *
mime_part_subtype(const struct mime_part *p)
{
	return p->subtype;
}

int
mime_part_type_given(const struct mime_part *p)
{
	return p->type_given;
}

int
mime_part_is_multipart(const struct mime_part *p)
{
	return strcmp(p->type, "multipart") == 0;
}

int
mime_part_is_message(const struct mime_part *p)
{
	return strcmp(p->type, "message") == 0 &&
	    strcmp(p->subtype, "rfc822") == 0 && p->child_count == 1;
}

const struct mime_params *
mime_part_params(const struct mime_part *p)
{
	return &p->params;
}

const char *
mime_part_encoding(const struct mime_part *p)
{
	return p->encoding;
}

const char *
mime_part_id(const struct mime_part *p)
{
	return p->id;
}

const char *
mime_part_description(const struct mime_part *p)
{
	return p->description;
}

const char *
mime_part_disposition(const struct mime_part *p)
{
	return p->disposition;
}

const struct mime_params *
mime_part_disposition_params(const struct mime_part *p)
{
	return &p->disposition_params;
}

const char *
mime_part_language(const struct mime_part *p)
{
	return p->language;
}

const char *
mime_part_location(const struct mime_part *p)
{
	return p->location;
}

const char *
mime_part_md5(const struct mime_part *p)
{
	return p->md5;
}

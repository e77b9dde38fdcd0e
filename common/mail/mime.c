/* mime: parse a message in memory into a tree of MIME parts. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "mime.h"
#include "xalloc.h"

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

/* A parameter before RFC 2231 joining: name split into its pieces. */
struct raw_param {
	char *base;		/* lower-cased name without the *n* suffix */
	long section;		/* -1: no continuation number */
	int encoded;		/* a trailing '*' */
	char *value;
};

/* ---- small helpers ------------------------------------------------------ */

static int
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static void
lower(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s += 'a' - 'A';
}

/*
 * Count LFs (lines) and bare LFs of data[0..len) in one pass.  A last line
 * without a line end is not counted, as Dovecot does: inside a multipart
 * the line break before a delimiter belongs to the delimiter, so "text"
 * followed by CRLF--boundary is 0 lines there and 1 line at the end of a
 * message that ends with CRLF, which is what clients have always seen.
 */
static void
count_lines(const char *data, size_t len, size_t *crlf_r, size_t *lines_r)
{
	const char *p = data, *end = data + len, *lf;
	size_t lines = 0, bare = 0;

	while (p < end && (lf = memchr(p, '\n', end - p)) != NULL) {
		lines++;
		if (lf == data || lf[-1] != '\r')
			bare++;
		p = lf + 1;
	}
	if (crlf_r != NULL)
		*crlf_r = len + bare;
	if (lines_r != NULL)
		*lines_r = lines;
}

size_t
mime_crlf_size(const char *data, size_t len)
{
	size_t size;

	count_lines(data, len, &size, NULL);
	return size;
}

int
mime_append_crlf(struct buf *out, const char *data, size_t len)
{
	const char *p = data, *end = data + len, *lf;

	while (p < end && (lf = memchr(p, '\n', end - p)) != NULL) {
		if (lf == data || lf[-1] != '\r') {
			if (buf_append(out, p, lf - p) < 0 ||
			    buf_append(out, "\r\n", 2) < 0)
				return -1;
		} else if (buf_append(out, p, lf + 1 - p) < 0)
			return -1;
		p = lf + 1;
	}
	return buf_append(out, p, end - p);
}

/* End of the line starting at p (after its LF, or end). */
static const char *
line_end(const char *p, const char *end)
{
	const char *lf = memchr(p, '\n', end - p);

	return lf == NULL ? end : lf + 1;
}

static int
is_blank_line(const char *p, const char *eol)
{
	return (eol - p == 1 && p[0] == '\n') ||
	    (eol - p == 2 && p[0] == '\r' && p[1] == '\n');
}

/* ---- header fields -------------------------------------------------------- */

int
mime_header_next(const char *header, size_t len, size_t *pos,
	struct mime_field *field_r)
{
	const char *end = header + len, *p, *eol, *colon, *name_end, *v;
	const char *field_end;

	while (*pos < len) {
		p = header + *pos;
		eol = line_end(p, end);
		if (is_blank_line(p, eol)) {
			*pos = len;
			return 0;
		}
		/* The field runs over its continuation lines. */
		field_end = eol;
		while (field_end < end && is_wsp(*field_end))
			field_end = line_end(field_end, end);
		*pos = field_end - header;
		if (is_wsp(*p))
			continue;	/* a continuation with no field */
		colon = memchr(p, ':', eol - p);
		if (colon == NULL)
			continue;
		name_end = colon;
		while (name_end > p && is_wsp(name_end[-1]))
			name_end--;
		if (name_end == p)
			continue;
		/* "From user@host Mon Jan 1 12:00:00" is no field. */
		for (v = p; v < name_end; v++)
			if ((unsigned char) *v <= ' ' || *v == 0x7f)
				break;
		if (v < name_end)
			continue;
		v = colon + 1;
		while (v < field_end && is_wsp(*v))
			v++;
		field_r->name = p;
		field_r->name_len = name_end - p;
		field_r->raw = p;
		field_r->raw_len = field_end - p;
		/* The value excludes the field's final line end. */
		if (field_end > v && field_end[-1] == '\n') {
			field_end--;
			if (field_end > v && field_end[-1] == '\r')
				field_end--;
		}
		field_r->value = v;
		field_r->value_len = field_end > v ? (size_t) (field_end - v) : 0;
		return 1;
	}
	return 0;
}

int
mime_field_unfold(const struct mime_field *f, struct buf *out)
{
	const char *p = f->value, *end = f->value + f->value_len, *run;
	size_t start = buf_len(out);

	while (p < end && (is_wsp(*p) || *p == '\r' || *p == '\n'))
		p++;
	while (p < end) {
		run = p;
		while (p < end && *p != '\r' && *p != '\n')
			p++;
		if (buf_append(out, run, p - run) < 0)
			return -1;
		while (p < end && (*p == '\r' || *p == '\n'))
			p++;
	}
	while (buf_len(out) > start &&
	    is_wsp(buf_cstr(out)[buf_len(out) - 1]))
		buf_truncate(out, buf_len(out) - 1);
	return 0;
}

static int
field_is(const struct mime_field *f, const char *name)
{
	size_t len = strlen(name);

	return f->name_len == len && strncasecmp(f->name, name, len) == 0;
}

int
mime_part_header_get(const struct mime_message *m,
	const struct mime_part *p, const char *name, struct buf *value_r)
{
	struct mime_field f;
	size_t pos = 0;

	while (mime_header_next(m->data + p->header_offset, p->header_len,
	    &pos, &f)) {
		if (!field_is(&f, name))
			continue;
		buf_reset(value_r);
		return mime_field_unfold(&f, value_r) < 0 ? -1 : 1;
	}
	return 0;
}

/* ---- structured field values (RFC 2045 5.1, RFC 2183, RFC 2231) -------- */

/* Skip blanks, line breaks and (nested) comments. */
static void
skip_cfws(const char *s, size_t n, size_t *pos)
{
	size_t i = *pos;
	int depth;

	for (;;) {
		while (i < n && (is_wsp(s[i]) || s[i] == '\r' || s[i] == '\n'))
			i++;
		if (i >= n || s[i] != '(')
			break;
		depth = 0;
		for (; i < n; i++) {
			if (s[i] == '\\' && i + 1 < n)
				i++;
			else if (s[i] == '(')
				depth++;
			else if (s[i] == ')' && --depth == 0) {
				i++;
				break;
			}
		}
	}
	*pos = i;
}

/* RFC 2045 token characters. */
static int
is_token_char(char c)
{
	unsigned char u = (unsigned char) c;

	if (u <= ' ' || u == 0x7f)
		return 0;
	return strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

/* A token at *pos as a new lower-cased string, or NULL when empty. */
static char *
take_token(const char *s, size_t n, size_t *pos)
{
	size_t start = *pos;
	char *t;

	while (*pos < n && is_token_char(s[*pos]))
		(*pos)++;
	if (*pos == start)
		return NULL;
	t = xstrndup(s + start, *pos - start);
	lower(t);
	return t;
}

/*
 * A parameter value: a quoted string (unescaped) or, leniently, anything
 * up to ';' or a blank (senders write boundary=----=_Part_1 unquoted).
 * NUL bytes are dropped.
 */
static char *
take_value(const char *s, size_t n, size_t *pos)
{
	size_t i = *pos, out = 0;
	char *v = xmalloc(n - i + 1);

	if (i < n && s[i] == '"') {
		for (i++; i < n && s[i] != '"'; i++) {
			if (s[i] == '\\' && i + 1 < n)
				i++;
			if (s[i] != '\0' && s[i] != '\r' && s[i] != '\n')
				v[out++] = s[i];
		}
		if (i < n)
			i++;
	} else {
		for (; i < n && s[i] != ';' && !is_wsp(s[i]) &&
		    s[i] != '\r' && s[i] != '\n'; i++)
			if (s[i] != '\0')
				v[out++] = s[i];
	}
	v[out] = '\0';
	*pos = i;
	return v;
}

static void
params_add(struct mime_params *ps, char *name, char *value)
{
	ps->v = xreallocarray(ps->v, ps->count + 1, sizeof(*ps->v));
	ps->v[ps->count].name = name;
	ps->v[ps->count].value = value;
	ps->count++;
}

static void
params_clear(struct mime_params *ps)
{
	size_t i;

	for (i = 0; i < ps->count; i++) {
		free(ps->v[i].name);
		free(ps->v[i].value);
	}
	xfree(ps->v);
	ps->count = 0;
}

/* Split "name*2*" into base "name", section 2, encoded 1. */
static void
raw_param_split(struct raw_param *rp, char *name)
{
	char *star = strchr(name, '*'), *digits, *end;
	long section;

	rp->base = name;
	rp->section = -1;
	rp->encoded = 0;
	if (star == NULL)
		return;
	digits = star + 1;
	if (*digits == '\0') {
		*star = '\0';
		rp->encoded = 1;
		return;
	}
	if (*digits < '0' || *digits > '9' || (digits[0] == '0' &&
	    digits[1] >= '0' && digits[1] <= '9'))
		return;		/* not RFC 2231: keep the name as it is */
	section = strtol(digits, &end, 10);
	if (section > 999 || (*end != '\0' && strcmp(end, "*") != 0))
		return;
	rp->encoded = *end == '*';
	rp->section = section;
	*star = '\0';
}

/* Append value with RFC 2231 attribute-chars kept and the rest %XX. */
static void
append_pct(struct buf *b, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char c;

	for (; *value != '\0'; value++) {
		c = (unsigned char) *value;
		if (c > ' ' && c < 0x7f && c != '%' && c != '\'' && c != '*' &&
		    is_token_char(*value)) {
			(void) buf_append_char(b, *value);
		} else {
			(void) buf_append_char(b, '%');
			(void) buf_append_char(b, hex[c >> 4]);
			(void) buf_append_char(b, hex[c & 15]);
		}
	}
}

/*
 * Join RFC 2231 continuations of raw[0..count) into ps.  At most
 * MIME_MAX_PARAMS raw entries, so the quadratic grouping is bounded.
 */
static void
params_join(struct raw_param *raw, size_t count, struct mime_params *ps)
{
	struct buf *b;
	size_t i, j, k;
	long want;
	int any_encoded;

	for (i = 0; i < count; i++) {
		for (j = 0; j < ps->count; j++)
			if (strcmp(ps->v[j].name, raw[i].base) == 0 ||
			    (strncmp(ps->v[j].name, raw[i].base,
			    strlen(raw[i].base)) == 0 &&
			    strcmp(ps->v[j].name + strlen(raw[i].base),
			    "*") == 0))
				break;
		if (j < ps->count)
			continue;	/* the first of duplicates wins */
		if (raw[i].section < 0) {
			params_add(ps, raw[i].encoded ?
			    xasprintf("%s*", raw[i].base) : xstrdup(raw[i].base),
			    xstrdup(raw[i].value));
			continue;
		}
		/* Sections 0, 1, 2, ... in order; a gap ends the value. */
		any_encoded = 0;
		for (want = 0;; want++) {
			for (k = i; k < count; k++)
				if (raw[k].section == want &&
				    strcmp(raw[k].base, raw[i].base) == 0)
					break;
			if (k == count)
				break;
			any_encoded |= raw[k].encoded;
		}
		if (want == 0)
			continue;	/* no *0: not joinable, dropped */
		b = buf_new((size_t) -1 / 2);
		for (want = 0;; want++) {
			for (k = i; k < count; k++)
				if (raw[k].section == want &&
				    strcmp(raw[k].base, raw[i].base) == 0)
					break;
			if (k == count)
				break;
			if (!any_encoded || raw[k].encoded) {
				if (want == 0 && any_encoded && !raw[k].encoded)
					(void) buf_append_str(b, "''");
				(void) buf_append_str(b, raw[k].value);
			} else {
				if (want == 0)
					(void) buf_append_str(b, "''");
				append_pct(b, raw[k].value);
			}
		}
		params_add(ps, any_encoded ? xasprintf("%s*", raw[i].base) :
		    xstrdup(raw[i].base), buf_strdup(b));
		buf_free(&b);
	}
}

/* Parse ";" name "=" value pairs from s[*pos..n) into ps. */
static void
parse_params(const char *s, size_t n, size_t pos, struct mime_params *ps)
{
	struct raw_param raw[MIME_MAX_PARAMS];
	size_t count = 0, i;
	char *name;

	while (pos < n && count < MIME_MAX_PARAMS) {
		/* Skip to the next ';' (garbage before it is ignored). */
		while (pos < n && s[pos] != ';') {
			if (s[pos] == '"') {
				free(take_value(s, n, &pos));
				continue;
			}
			pos++;
		}
		if (pos >= n)
			break;
		pos++;
		skip_cfws(s, n, &pos);
		if ((name = take_token(s, n, &pos)) == NULL)
			continue;
		skip_cfws(s, n, &pos);
		if (pos >= n || s[pos] != '=') {
			free(name);
			continue;
		}
		pos++;
		skip_cfws(s, n, &pos);
		raw_param_split(&raw[count], name);
		raw[count].value = take_value(s, n, &pos);
		count++;
	}
	params_join(raw, count, ps);
	for (i = 0; i < count; i++) {
		free(raw[i].base);
		free(raw[i].value);
	}
}

static void
parse_content_type(struct mime_part *p, const char *s, size_t n)
{
	size_t pos = 0;
	char *type, *subtype;

	skip_cfws(s, n, &pos);
	if ((type = take_token(s, n, &pos)) == NULL)
		return;
	skip_cfws(s, n, &pos);
	if (pos >= n || s[pos] != '/') {
		free(type);
		return;
	}
	pos++;
	skip_cfws(s, n, &pos);
	if ((subtype = take_token(s, n, &pos)) == NULL) {
		free(type);
		return;
	}
	free(p->type);
	free(p->subtype);
	params_clear(&p->params);
	p->type = type;
	p->subtype = subtype;
	p->type_given = 1;
	parse_params(s, n, pos, &p->params);
}

static void
parse_disposition(struct mime_part *p, const char *s, size_t n)
{
	size_t pos = 0;
	char *type;

	skip_cfws(s, n, &pos);
	if ((type = take_token(s, n, &pos)) == NULL)
		return;
	p->disposition = type;
	parse_params(s, n, pos, &p->disposition_params);
}

/* The first token of s, as written (Content-Transfer-Encoding). */
static char *
parse_encoding(const char *s, size_t n)
{
	size_t pos = 0, start;

	skip_cfws(s, n, &pos);
	start = pos;
	while (pos < n && is_token_char(s[pos]))
		pos++;
	return pos == start ? NULL : xstrndup(s + start, pos - start);
}

/* An unfolded value as a string, NULs dropped. */
static char *
value_dup(const char *s, size_t n)
{
	char *v = xmalloc(n + 1);
	size_t i, out = 0;

	for (i = 0; i < n; i++)
		if (s[i] != '\0')
			v[out++] = s[i];
	v[out] = '\0';
	return v;
}

/* Read the Content-* fields of p's header (the first of each counts). */
static void
parse_mime_fields(struct mime_message *m, struct mime_part *p)
{
	static const char *const names[] = {
		"content-type", "content-transfer-encoding", "content-id",
		"content-description", "content-disposition",
		"content-language", "content-location", "content-md5",
	};
	char **slots[] = {
		NULL, &p->encoding, &p->id, &p->description, NULL,
		&p->language, &p->location, &p->md5,
	};
	int seen[sizeof(names) / sizeof(names[0])] = { 0 };
	struct mime_field f;
	size_t pos = 0, i;
	const char *v;
	size_t n;

	while (mime_header_next(m->data + p->header_offset, p->header_len,
	    &pos, &f)) {
		if (f.name_len < 8 || strncasecmp(f.name, "content-", 8) != 0)
			continue;
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (field_is(&f, names[i]))
				break;
		if (i == sizeof(names) / sizeof(names[0]) || seen[i])
			continue;
		seen[i] = 1;
		buf_reset(m->scratch);
		if (mime_field_unfold(&f, m->scratch) < 0)
			continue;	/* over MIME_MAX_FIELD_LEN: ignored */
		v = buf_cstr(m->scratch);
		n = buf_len(m->scratch);
		if (i == 0)
			parse_content_type(p, v, n);
		else if (i == 1)
			*slots[i] = parse_encoding(v, n);
		else if (i == 4)
			parse_disposition(p, v, n);
		else
			*slots[i] = value_dup(v, n);
	}
}

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
		params_add(&p->params, xstrdup("charset"),
		    xstrdup("us-ascii"));
}

/* A container we will not open: report it as plain text (see mime.h). */
static void
demote_to_text(struct mime_part *p)
{
	set_type(p, "text", "plain");
	params_clear(&p->params);
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
	count_lines(m->data + c->body_offset, c->body_len, &c->body_crlf,
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
		if (!is_wsp(*q) && *q != '\r' && *q != '\n')
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
		eol = line_end(line, end);
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
	const char *start = m->data + offset, *end = start + len, *line, *eol;
	struct mime_part *child;

	p->header_offset = offset;
	p->header_len = len;
	for (line = start; line < end; line = eol) {
		eol = line_end(line, end);
		if (is_blank_line(line, eol)) {
			p->header_len = eol - start;
			p->blank_line = 1;
			break;
		}
	}
	p->body_offset = offset + p->header_len;
	p->body_len = len - p->header_len;
	count_lines(start, p->header_len, &p->header_crlf, NULL);
	count_lines(start + p->header_len, p->body_len, &p->body_crlf,
	    &p->body_lines);

	parse_mime_fields(m, p);
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
	params_clear(&p->params);
	params_clear(&p->disposition_params);
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

size_t
mime_params_count(const struct mime_params *ps)
{
	return ps->count;
}

const char *
mime_params_name(const struct mime_params *ps, size_t i)
{
	return i < ps->count ? ps->v[i].name : NULL;
}

const char *
mime_params_value(const struct mime_params *ps, size_t i)
{
	return i < ps->count ? ps->v[i].value : NULL;
}

const char *
mime_params_get(const struct mime_params *ps, const char *name)
{
	size_t i;

	for (i = 0; i < ps->count; i++)
		if (strcasecmp(ps->v[i].name, name) == 0)
			return ps->v[i].value;
	return NULL;
}

/*
 * mime_stub: XXX a stand-in for common/mime.c and common/mime_imap.c
 * until the mime branch lands; removed then.  Single-part only: the
 * header is everything up to the first blank line.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "mime.h"
#include "mime_imap.h"
#include "xalloc.h"

struct mime_part {
	size_t header_len;
	size_t body_off;
};

struct mime_message {
	const char *data;
	size_t len;
	struct mime_part root;
};

struct mime_section {
	int kind;	/* 0 all, 1 header, 2 text, 3 fields, 4 fields.not */
	char *names;
};

struct mime_message *
mime_parse(const char *data, size_t len)
{
	struct mime_message *m = xcalloc(1, sizeof(*m));
	size_t i;

	m->data = data;
	m->len = len;
	m->root.header_len = len;
	m->root.body_off = len;
	for (i = 0; i < len; i++) {
		if (data[i] == '\n' && (i == 0 || data[i - 1] == '\n' ||
		    (data[i - 1] == '\r' && i >= 2 && data[i - 2] == '\n'))) {
			m->root.header_len = i + 1;
			m->root.body_off = i + 1;
			break;
		}
	}
	return m;
}

void
mime_free(struct mime_message **mp)
{
	free(*mp);
	*mp = NULL;
}

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
mime_crlf_size(const char *data, size_t len)
{
	size_t i, n = len;

	for (i = 0; i < len; i++) {
		if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
			n++;
	}
	return n;
}

int
mime_append_crlf(struct buf *out, const char *data, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r') &&
		    buf_append_char(out, '\r') < 0)
			return -1;
		if (buf_append_char(out, data[i]) < 0)
			return -1;
	}
	return 0;
}

size_t
mime_message_size_crlf(const struct mime_message *m)
{
	return mime_crlf_size(m->data, m->len);
}

const struct mime_part *
mime_message_root(const struct mime_message *m)
{
	return &m->root;
}

size_t
mime_part_body_offset(const struct mime_part *p)
{
	return p->body_off;
}

size_t
mime_part_body_len(const struct mime_part *p)
{
	const struct mime_message *m = (const void *) ((const char *) p -
	    offsetof(struct mime_message, root));

	return m->len - p->body_off;
}

int
mime_part_header_get(const struct mime_message *m,
	const struct mime_part *p, const char *name, struct buf *value_r)
{
	size_t i = 0, n = strlen(name), end;

	buf_reset(value_r);
	while (i < p->header_len) {
		end = i;
		while (end < p->header_len && m->data[end] != '\n')
			end++;
		if (end - i > n && strncasecmp(m->data + i, name, n) == 0 &&
		    m->data[i + n] == ':') {
			i += n + 1;
			while (i < end && (m->data[i] == ' ' ||
			    m->data[i] == '\t'))
				i++;
			(void) buf_append(value_r, m->data + i, end - i);
			buf_rtrim(value_r, "\r ");
			return 1;
		}
		i = end + 1;
	}
	return 0;
}

int
mime_imap_envelope(const struct mime_message *m, const struct mime_part *p,
	struct buf *out)
{
	static const char *const fields[] = { "Date", "Subject" };
	struct buf *v = buf_new(4096);
	size_t i;

	(void) buf_append_str(out, "(");
	for (i = 0; i < 2; i++) {
		if (mime_part_header_get(m, p, fields[i], v) == 1)
			(void) buf_printf(out, "{%zu}\r\n%s ", buf_len(v),
			    buf_cstr(v));
		else
			(void) buf_append_str(out, "NIL ");
	}
	(void) buf_append_str(out, "NIL NIL NIL NIL NIL NIL NIL NIL)");
	buf_free(&v);
	return 0;
}

int
mime_imap_bodystructure(const struct mime_message *m,
	const struct mime_part *p, int extended, struct buf *out)
{
	(void) extended;
	(void) buf_printf(out, "(\"text\" \"plain\" (\"charset\" "
	    "\"us-ascii\") NIL NIL \"7bit\" %zu 0)",
	    mime_crlf_size(m->data + p->body_off, m->len - p->body_off));
	return 0;
}

int
mime_section_parse(const char *spec, size_t len,
	struct mime_section **section_r, const char **error_r)
{
	struct mime_section *s = xcalloc(1, sizeof(*s));

	if (len == 0)
		s->kind = 0;
	else if (len == 6 && strncasecmp(spec, "HEADER", 6) == 0)
		s->kind = 1;
	else if (len == 4 && strncasecmp(spec, "TEXT", 4) == 0)
		s->kind = 2;
	else if (len > 18 && strncasecmp(spec, "HEADER.FIELDS.NOT ", 18) == 0)
		s->kind = 4;
	else if (len > 14 && strncasecmp(spec, "HEADER.FIELDS ", 14) == 0)
		s->kind = 3;
	else if (len == 1 && spec[0] == '1')
		s->kind = 2;
	else {
		free(s);
		*error_r = "Invalid section";
		return -1;
	}
	*section_r = s;
	return 0;
}

void
mime_section_free(struct mime_section **sp)
{
	if (*sp != NULL)
		free((*sp)->names);
	free(*sp);
	*sp = NULL;
}

static void
mime_range(const struct mime_message *m, const struct mime_section *sec,
	size_t *off, size_t *len)
{
	switch (sec->kind) {
	case 1:
	case 3:
	case 4:
		*off = 0;
		*len = m->root.header_len;
		break;
	case 2:
		*off = m->root.body_off;
		*len = m->len - m->root.body_off;
		break;
	default:
		*off = 0;
		*len = m->len;
	}
}

int
mime_section_fetch(const struct mime_message *m,
	const struct mime_section *sec, size_t partial_offset,
	size_t partial_len, struct buf *out)
{
	struct buf *all;
	size_t off, len, n;

	mime_range(m, sec, &off, &len);
	all = buf_new(len * 2 + 1);
	(void) mime_append_crlf(all, m->data + off, len);
	if (partial_offset < buf_len(all)) {
		n = buf_len(all) - partial_offset;
		if (n > partial_len)
			n = partial_len;
		if (buf_append(out, buf_cstr(all) + partial_offset, n) < 0) {
			buf_free(&all);
			return -1;
		}
	}
	buf_free(&all);
	return 1;
}

int
mime_section_size(const struct mime_message *m,
	const struct mime_section *sec, size_t *size_r)
{
	size_t off, len;

	mime_range(m, sec, &off, &len);
	*size_r = mime_crlf_size(m->data + off, len);
	return 1;
}

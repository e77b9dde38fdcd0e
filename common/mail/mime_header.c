/* mime_header: header fields of a part and CRLF line-end sizes. */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "buf.h"
#include "mime.h"
#include "mime_int.h"

/* ---- line ends ----------------------------------------------------------- */

void
mime_count_lines(const char *data, size_t len, size_t *crlf_r,
	size_t *lines_r)
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

	mime_count_lines(data, len, &size, NULL);
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

/* ---- header fields -------------------------------------------------------- */

size_t
mime_header_length(const char *data, size_t len, int *blank_line_r)
{
	const char *end = data + len, *line, *eol;

	for (line = data; line < end; line = eol) {
		eol = mime_line_end(line, end);
		if (mime_is_blank_line(line, eol)) {
			*blank_line_r = 1;
			return eol - data;
		}
	}
	*blank_line_r = 0;
	return len;
}

int
mime_header_next(const char *header, size_t len, size_t *pos,
	struct mime_field *field_r)
{
	const char *end = header + len, *p, *eol, *colon, *name_end, *v;
	const char *field_end;

	while (*pos < len) {
		p = header + *pos;
		eol = mime_line_end(p, end);
		if (mime_is_blank_line(p, eol)) {
			*pos = len;
			return 0;
		}
		/* The field runs over its continuation lines. */
		field_end = eol;
		while (field_end < end && mime_is_wsp(*field_end))
			field_end = mime_line_end(field_end, end);
		*pos = field_end - header;
		if (mime_is_wsp(*p))
			continue;	/* a continuation with no field */
		colon = memchr(p, ':', eol - p);
		if (colon == NULL)
			continue;
		name_end = colon;
		while (name_end > p && mime_is_wsp(name_end[-1]))
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
		while (v < field_end && mime_is_wsp(*v))
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

	while (p < end && (mime_is_wsp(*p) || *p == '\r' || *p == '\n'))
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
	    mime_is_wsp(buf_cstr(out)[buf_len(out) - 1]))
		buf_truncate(out, buf_len(out) - 1);
	return 0;
}

int
mime_field_is(const struct mime_field *f, const char *name)
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
		if (!mime_field_is(&f, name))
			continue;
		buf_reset(value_r);
		return mime_field_unfold(&f, value_r) < 0 ? -1 : 1;
	}
	return 0;
}

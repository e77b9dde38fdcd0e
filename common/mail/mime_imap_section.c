/* mime_imap_section: parse BODY[section] specs and fetch their bytes. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "mime.h"
#include "mime_imap.h"
#include "xalloc.h"

/* ---- BODY[section] ---------------------------------------------------------- */

enum section_text {
	SECTION_ALL,		/* "" or a part number alone */
	SECTION_HEADER,
	SECTION_FIELDS,
	SECTION_FIELDS_NOT,
	SECTION_TEXT,
	SECTION_MIME
};

/* Bounds on what a client may ask for in one spec. */
#define SECTION_MAX_PARTS 64
#define SECTION_MAX_FIELDS 1000

struct mime_section {
	uint32_t *parts;
	size_t part_count;
	enum section_text text;
	char **names;
	size_t *name_lens;
	size_t name_count;
};

void
mime_section_free(struct mime_section **sp)
{
	struct mime_section *sec = *sp;
	size_t i;

	if (sec == NULL)
		return;
	for (i = 0; i < sec->name_count; i++)
		free(sec->names[i]);
	free(sec->names);
	free(sec->name_lens);
	free(sec->parts);
	free(sec);
	*sp = NULL;
}

static int
keyword_at(const char *s, size_t n, size_t pos, const char *kw)
{
	size_t len = strlen(kw);

	return n - pos >= len && strncasecmp(s + pos, kw, len) == 0;
}

static int
is_astring_char(char c)
{
	unsigned char u = (unsigned char) c;

	if (u <= ' ' || u >= 0x7f)
		return 0;
	return strchr("(){%*\"\\", c) == NULL;
}

/* An astring (atom, quoted or literal) at *pos; -1 when malformed. */
static int
parse_astring(const char *s, size_t n, size_t *pos, struct buf *out)
{
	size_t i = *pos, len = 0, start;

	buf_reset(out);
	if (i < n && s[i] == '"') {
		for (i++; i < n && s[i] != '"'; i++) {
			if (s[i] == '\\') {
				if (i + 1 >= n || (s[i + 1] != '"' &&
				    s[i + 1] != '\\'))
					return -1;
				i++;
			}
			if (s[i] == '\0' || s[i] == '\r' || s[i] == '\n' ||
			    (unsigned char) s[i] >= 0x80)
				return -1;
			if (buf_append_char(out, s[i]) < 0)
				return -1;
		}
		if (i >= n)
			return -1;
		*pos = i + 1;
		return 0;
	}
	if (i < n && s[i] == '{') {
		for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
			if (len > (SIZE_MAX - 9) / 10)
				return -1;
			len = len * 10 + (s[i] - '0');
		}
		if (i < n && s[i] == '+')
			i++;
		if (n - i < 3 || s[i] != '}' || s[i + 1] != '\r' ||
		    s[i + 2] != '\n' || s[i - 1] == '{')
			return -1;
		i += 3;
		if (n - i < len || buf_append(out, s + i, len) < 0)
			return -1;
		*pos = i + len;
		return 0;
	}
	start = i;
	while (i < n && is_astring_char(s[i]))
		i++;
	if (i == start)
		return -1;
	if (buf_append(out, s + start, i - start) < 0)
		return -1;
	*pos = i;
	return 0;
}

/* " (" astring *(SP astring) ")" to the end of the spec. */
static int
parse_header_list(struct mime_section *sec, const char *s, size_t n,
	size_t pos, const char **error_r)
{
	struct buf *name = buf_new(n + 1);

	if (pos >= n || s[pos] != ' ') {
		*error_r = "Missing header field list";
		goto fail;
	}
	while (pos < n && s[pos] == ' ')
		pos++;
	if (pos >= n || s[pos] != '(') {
		*error_r = "Missing ( before header field names";
		goto fail;
	}
	pos++;
	for (;;) {
		if (parse_astring(s, n, &pos, name) < 0) {
			*error_r = "Invalid header field name";
			goto fail;
		}
		if (sec->name_count == SECTION_MAX_FIELDS) {
			*error_r = "Too many header field names";
			goto fail;
		}
		sec->names = xreallocarray(sec->names, sec->name_count + 1,
		    sizeof(*sec->names));
		sec->name_lens = xreallocarray(sec->name_lens,
		    sec->name_count + 1, sizeof(*sec->name_lens));
		sec->names[sec->name_count] = xmemdup(buf_cstr(name),
		    buf_len(name));
		sec->name_lens[sec->name_count++] = buf_len(name);
		if (pos < n && s[pos] == ')')
			break;
		if (pos >= n || s[pos] != ' ') {
			*error_r = "Missing ) after header field names";
			goto fail;
		}
		while (pos < n && s[pos] == ' ')
			pos++;
	}
	pos++;
	if (pos != n) {
		*error_r = "Junk after header field list";
		goto fail;
	}
	buf_free(&name);
	return 0;
fail:
	buf_free(&name);
	return -1;
}

int
mime_section_parse(const char *spec, size_t len,
	struct mime_section **section_r, const char **error_r)
{
	struct mime_section *sec = xcalloc(1, sizeof(*sec));
	size_t pos = 0;
	uint32_t number;

	*section_r = NULL;
	/* section-part: nz-number *("." nz-number) */
	while (pos < len && spec[pos] >= '0' && spec[pos] <= '9') {
		if (spec[pos] == '0') {
			*error_r = "Invalid part number";
			goto fail;
		}
		number = 0;
		while (pos < len && spec[pos] >= '0' && spec[pos] <= '9') {
			if (number > (uint32_t) (INT32_MAX - (spec[pos] - '0')) /
			    10) {
				*error_r = "Part number too large";
				goto fail;
			}
			number = number * 10 + (spec[pos++] - '0');
		}
		if (sec->part_count == SECTION_MAX_PARTS) {
			*error_r = "Part number too deep";
			goto fail;
		}
		sec->parts = xreallocarray(sec->parts, sec->part_count + 1,
		    sizeof(*sec->parts));
		sec->parts[sec->part_count++] = number;
		if (pos == len)
			goto done;
		if (spec[pos] != '.') {
			*error_r = "Invalid section";
			goto fail;
		}
		pos++;
		if (pos == len) {
			*error_r = "Invalid section";
			goto fail;
		}
	}
	if (pos == len)
		goto done;	/* "" */
	if (keyword_at(spec, len, pos, "HEADER.FIELDS.NOT")) {
		sec->text = SECTION_FIELDS_NOT;
		if (parse_header_list(sec, spec, len, pos + 17, error_r) < 0)
			goto fail;
		goto done;
	}
	if (keyword_at(spec, len, pos, "HEADER.FIELDS")) {
		sec->text = SECTION_FIELDS;
		if (parse_header_list(sec, spec, len, pos + 13, error_r) < 0)
			goto fail;
		goto done;
	}
	if (keyword_at(spec, len, pos, "HEADER") && len - pos == 6)
		sec->text = SECTION_HEADER;
	else if (keyword_at(spec, len, pos, "TEXT") && len - pos == 4)
		sec->text = SECTION_TEXT;
	else if (keyword_at(spec, len, pos, "MIME") && len - pos == 4 &&
	    sec->part_count > 0)
		sec->text = SECTION_MIME;
	else {
		*error_r = "Invalid section";
		goto fail;
	}
done:
	*section_r = sec;
	return 0;
fail:
	mime_section_free(&sec);
	return -1;
}

/*
 * Where the converted bytes go: skip the first skip octets, keep at most
 * remain, count them all.  out NULL only counts.
 */
struct sink {
	struct buf *out;
	size_t skip;
	size_t remain;
	size_t total;
	int failed;
};

static void
sink_emit(struct sink *k, const char *p, size_t n)
{
	size_t take;

	k->total += n;
	if (k->out == NULL || k->failed)
		return;
	if (k->skip >= n) {
		k->skip -= n;
		return;
	}
	p += k->skip;
	n -= k->skip;
	k->skip = 0;
	take = n < k->remain ? n : k->remain;
	if (take > 0 && buf_append(k->out, p, take) < 0)
		k->failed = 1;
	k->remain -= take;
}

/* Emit data with bare LFs as CRLF (the same rule as mime_crlf_size). */
static void
sink_crlf(struct sink *k, const char *data, size_t len)
{
	const char *p = data, *end = data + len, *lf;

	if (k->out == NULL) {
		k->total += mime_crlf_size(data, len);
		return;
	}
	while (p < end && (lf = memchr(p, '\n', end - p)) != NULL) {
		if (k->remain == 0 && k->skip == 0) {
			/* Nothing more is kept: count the rest fast. */
			k->total += mime_crlf_size(p, end - p);
			return;
		}
		if (lf == data || lf[-1] != '\r') {
			sink_emit(k, p, lf - p);
			sink_emit(k, "\r\n", 2);
		} else
			sink_emit(k, p, lf + 1 - p);
		p = lf + 1;
	}
	sink_emit(k, p, end - p);
}

static int
name_listed(const struct mime_section *sec, const struct mime_field *f)
{
	size_t i;

	for (i = 0; i < sec->name_count; i++)
		if (sec->name_lens[i] == f->name_len &&
		    strncasecmp(sec->names[i], f->name, f->name_len) == 0)
			return 1;
	return 0;
}

/* Part number n below p (RFC 3501 6.4.5), or NULL. */
static const struct mime_part *
section_step(const struct mime_part *p, uint32_t n)
{
	if (mime_part_is_message(p))
		p = mime_part_child(p, 0);
	if (mime_part_is_multipart(p))
		return mime_part_child(p, n - 1);
	return n == 1 ? p : NULL;
}

static int
section_emit(const struct mime_message *m, const struct mime_section *sec,
	struct sink *k)
{
	const char *data = mime_message_data(m);
	const struct mime_part *p = mime_message_root(m), *target;
	struct mime_field f;
	size_t i, pos = 0;
	int want;

	/*
	 * A leaf's part 1 is itself, but a message/rfc822 part must be
	 * entered before numbering: 2.1 is inside the embedded message.
	 */
	for (i = 0; i < sec->part_count; i++) {
		if (i == 0 && !mime_part_is_multipart(p))
			p = sec->parts[0] == 1 ? p : NULL;
		else
			p = section_step(p, sec->parts[i]);
		if (p == NULL)
			return 0;
	}
	if (sec->text == SECTION_ALL) {
		if (sec->part_count == 0)
			sink_crlf(k, data, mime_message_len(m));
		else
			sink_crlf(k, data + mime_part_body_offset(p),
			    mime_part_body_len(p));
		return 1;
	}
	if (sec->text == SECTION_MIME) {
		sink_crlf(k, data + mime_part_header_offset(p),
		    mime_part_header_len(p));
		return 1;
	}
	target = p;
	if (sec->part_count > 0) {
		if (!mime_part_is_message(p))
			return 0;
		target = mime_part_child(p, 0);
	}
	switch (sec->text) {
	case SECTION_HEADER:
		sink_crlf(k, data + mime_part_header_offset(target),
		    mime_part_header_len(target));
		break;
	case SECTION_TEXT:
		sink_crlf(k, data + mime_part_body_offset(target),
		    mime_part_body_len(target));
		break;
	default:
		want = sec->text == SECTION_FIELDS;
		while (mime_header_next(data + mime_part_header_offset(target),
		    mime_part_header_len(target), &pos, &f))
			if (name_listed(sec, &f) == want)
				sink_crlf(k, f.raw, f.raw_len);
		if (mime_part_has_blank_line(target))
			sink_emit(k, "\r\n", 2);
		break;
	}
	return 1;
}

int
mime_section_fetch(const struct mime_message *m,
	const struct mime_section *sec, size_t partial_offset,
	size_t partial_len, struct buf *out)
{
	struct sink k = { out, partial_offset, partial_len, 0, 0 };
	size_t mark = buf_len(out);
	int found = section_emit(m, sec, &k);

	if (k.failed)
		return -1;
	if (found == 0)
		buf_truncate(out, mark);
	return found;
}

int
mime_section_size(const struct mime_message *m,
	const struct mime_section *sec, size_t *size_r)
{
	struct sink k = { NULL, 0, SIZE_MAX, 0, 0 };
	int found = section_emit(m, sec, &k);

	*size_r = k.total;
	return found;
}

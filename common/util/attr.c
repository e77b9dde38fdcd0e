/* attr: encoder and decoder of the internal "name=value" record protocol. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attr.h"
#include "buf.h"
#include "stream.h"
#include "xalloc.h"

struct attr {
	char name[ATTR_NAME_MAX + 1];
	char *value;		/* len decoded bytes, then a NUL */
	size_t len;
};

struct attr_list {
	size_t max_count;
	size_t max_value_len;
	struct attr *attrs;
	size_t count;
	size_t alloc;
	struct buf *line;	/* attr_read's line, made on first use */
};

static const char attr_hex[] = "0123456789ABCDEF";

/* Bytes written as %XX: our own delimiters and every control byte. */
static int
attr_must_escape(unsigned char c)
{
	return c == '%' || c < 0x20 || c == 0x7f;
}

static int
attr_name_valid(const char *name, size_t len)
{
	size_t i;

	if (len == 0 || len > ATTR_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		if (!((name[i] >= 'a' && name[i] <= 'z')
		    || (name[i] >= '0' && name[i] <= '9') || name[i] == '_'))
			return 0;
	}
	return 1;
}

static int
attr_hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* --- encoding ----------------------------------------------------------- */

int
attr_put_data(struct buf *out, const char *name, const void *value,
	size_t len)
{
	const unsigned char *p = value;
	size_t start = buf_len(out), i, run;
	char esc[3];

	if (!attr_name_valid(name, strlen(name)))
		return -1;
	if (buf_append_str(out, name) < 0 || buf_append_char(out, '=') < 0)
		goto full;
	for (i = 0; i < len; i += run) {
		/* Copy runs of plain bytes in one append. */
		for (run = 0; i + run < len && !attr_must_escape(p[i + run]);
		    run++)
			;
		if (run > 0) {
			if (buf_append(out, p + i, run) < 0)
				goto full;
			continue;
		}
		esc[0] = '%';
		esc[1] = attr_hex[p[i] >> 4];
		esc[2] = attr_hex[p[i] & 0x0f];
		if (buf_append(out, esc, sizeof(esc)) < 0)
			goto full;
		run = 1;
	}
	if (buf_append_char(out, '\n') < 0)
		goto full;
	return 0;
full:
	/* All or nothing: never leave half an attribute behind. */
	buf_truncate(out, start);
	return -1;
}

int
attr_put(struct buf *out, const char *name, const char *value)
{
	return attr_put_data(out, name, value, strlen(value));
}

int
attr_put_int(struct buf *out, const char *name, long long value)
{
	if (!attr_name_valid(name, strlen(name)))
		return -1;
	/* Digits and '-' need no escaping; buf_printf is all or nothing. */
	return buf_printf(out, "%s=%lld\n", name, value);
}

int
attr_end(struct buf *out)
{
	return buf_append_char(out, '\n');
}

/* --- the list ----------------------------------------------------------- */

struct attr_list *
attr_list_new(size_t max_count, size_t max_value_len)
{
	struct attr_list *l = xcalloc(1, sizeof(*l));

	l->max_count = max_count;
	l->max_value_len = max_value_len;
	return l;
}

void
attr_list_reset(struct attr_list *l)
{
	size_t i;

	for (i = 0; i < l->count; i++)
		free(l->attrs[i].value);
	l->count = 0;
}

void
attr_list_free(struct attr_list **lp)
{
	struct attr_list *l = *lp;

	if (l == NULL)
		return;
	attr_list_reset(l);
	free(l->attrs);
	buf_free(&l->line);
	free(l);
	*lp = NULL;
}

/* --- decoding ----------------------------------------------------------- */

/*
 * Check an escaped value and count its decoded length, so nothing is
 * allocated for a value that is then refused.
 */
static int
attr_value_check(const struct attr_list *l, const char *raw, size_t raw_len,
	size_t *len_r, const char **error_r)
{
	size_t i, len = 0;

	for (i = 0; i < raw_len; len++) {
		if (raw[i] == '%') {
			if (raw_len - i < 3 || attr_hex_value(raw[i + 1]) < 0
			    || attr_hex_value(raw[i + 2]) < 0) {
				*error_r = "bad %-escape in value";
				return -1;
			}
			i += 3;
		} else if ((unsigned char) raw[i] < 0x20
		    || (unsigned char) raw[i] == 0x7f) {
			/*
			 * Our encoder never sends these raw; a peer that
			 * does is broken (or smuggling a CR), so be strict.
			 */
			*error_r = "unescaped control character in value";
			return -1;
		} else {
			i++;
		}
		if (len >= l->max_value_len) {
			*error_r = "attribute value too long";
			return -1;
		}
	}
	*len_r = len;
	return 0;
}

int
attr_parse_line(struct attr_list *l, const char *line, size_t len,
	const char **error_r)
{
	const char *eq = memchr(line, '=', len);
	const char *raw;
	struct attr *a;
	size_t name_len, raw_len, value_len, i, o;

	if (eq == NULL) {
		*error_r = "missing '=' in attribute line";
		return -1;
	}
	name_len = (size_t) (eq - line);
	if (!attr_name_valid(line, name_len)) {
		*error_r = "bad attribute name";
		return -1;
	}
	if (l->count >= l->max_count) {
		*error_r = "too many attributes";
		return -1;
	}
	raw = eq + 1;
	raw_len = len - name_len - 1;
	if (attr_value_check(l, raw, raw_len, &value_len, error_r) < 0)
		return -1;

	if (l->count == l->alloc) {
		l->alloc = l->alloc == 0 ? 8 : xalloc_mul(l->alloc, 2);
		if (l->alloc > l->max_count)
			l->alloc = l->max_count;
		l->attrs = xreallocarray(l->attrs, l->alloc, sizeof(*l->attrs));
	}
	a = &l->attrs[l->count];
	memcpy(a->name, line, name_len);
	a->name[name_len] = '\0';
	a->value = xmalloc(value_len + 1);
	for (i = 0, o = 0; i < raw_len; o++) {
		if (raw[i] == '%') {
			a->value[o] = (char) (attr_hex_value(raw[i + 1]) << 4
			    | attr_hex_value(raw[i + 2]));
			i += 3;
		} else {
			a->value[o] = raw[i++];
		}
	}
	a->value[o] = '\0';
	a->len = o;
	l->count++;
	return 0;
}

int
attr_parse(struct attr_list *l, const char *data, size_t len,
	const char **error_r)
{
	const char *p = data, *end = data + len, *nl;
	size_t line_len;

	attr_list_reset(l);
	while (p < end) {
		nl = memchr(p, '\n', (size_t) (end - p));
		line_len = nl != NULL ? (size_t) (nl - p) : (size_t) (end - p);
		if (line_len == 0) {
			/* The empty line ends the record: nothing after it. */
			if (nl + 1 != end) {
				*error_r = "data after the end of the record";
				goto bad;
			}
			return 0;
		}
		if (attr_parse_line(l, p, line_len, error_r) < 0)
			goto bad;
		p += line_len + (nl != NULL);
	}
	return 0;
bad:
	attr_list_reset(l);
	return -1;
}

/* The longest escaped line for l: name, '=', and every byte as %XX. */
static size_t
attr_line_max(const struct attr_list *l)
{
	if (l->max_value_len > (SIZE_MAX - ATTR_NAME_MAX - 1) / 3)
		return SIZE_MAX - 1;
	return ATTR_NAME_MAX + 1 + 3 * l->max_value_len;
}

enum stream_status
attr_read(struct stream *s, struct attr_list *l, const char **error_r)
{
	enum stream_status st;
	const char *bad = NULL;
	size_t line_max = attr_line_max(l), lines = 0;

	attr_list_reset(l);
	if (l->line == NULL)
		l->line = buf_new(line_max);
	else if (buf_cap(l->line) != line_max) {
		buf_reset(l->line);
		(void) buf_set_cap(l->line, line_max);
	}
	for (;;) {
		st = stream_read_line(s, l->line, line_max);
		if (st == STREAM_TOO_LONG) {
			/* The stream skipped the rest of it: still in step. */
			if (bad == NULL)
				bad = "attribute line too long";
		} else if (st != STREAM_OK) {
			if (st == STREAM_EOF)
				*error_r = lines == 0 ? "connection closed" :
				    "connection closed in mid-record";
			else if (st == STREAM_TIMEOUT)
				*error_r = "timeout reading a record";
			else if ((*error_r = stream_error(s)) == NULL)
				*error_r = "read error";
			attr_list_reset(l);
			return st;
		} else if (stream_last_eol(s) == STREAM_EOL_CRLF) {
			/* Internal sockets speak LF only; see attr.h. */
			if (bad == NULL)
				bad = "CRLF line ending in record";
			if (buf_len(l->line) == 0)
				break;
		} else if (buf_len(l->line) == 0) {
			break;
		} else if (bad == NULL) {
			(void) attr_parse_line(l, buf_cstr(l->line),
			    buf_len(l->line), &bad);
		}
		/*
		 * After an error keep reading to the empty line so the next
		 * record starts in step, but not for ever: a peer that never
		 * ends its record is cut off once it sent twice the lines a
		 * good record may have.
		 */
		if (++lines / 2 > l->max_count) {
			*error_r = "record too large";
			attr_list_reset(l);
			return STREAM_ERROR;
		}
	}
	if (bad != NULL) {
		*error_r = bad;
		attr_list_reset(l);
		return STREAM_ERROR;
	}
	return STREAM_OK;
}

enum stream_status
attr_write(struct stream *s, const struct buf *rec)
{
	enum stream_status st;

	st = stream_write(s, buf_cstr(rec), buf_len(rec));
	if (st != STREAM_OK)
		return st;
	return stream_flush(s);
}

/* --- lookups -------------------------------------------------------------- */

const char *
attr_get_len(const struct attr_list *l, const char *name, size_t *len_r)
{
	size_t i;

	for (i = 0; i < l->count; i++) {
		if (strcmp(l->attrs[i].name, name) == 0) {
			if (len_r != NULL)
				*len_r = l->attrs[i].len;
			return l->attrs[i].value;
		}
	}
	return NULL;
}

const char *
attr_get(const struct attr_list *l, const char *name)
{
	return attr_get_len(l, name, NULL);
}

int
attr_get_int(const struct attr_list *l, const char *name,
	long long *value_r)
{
	const char *value, *digits;
	char *end;
	size_t len;
	long long n;

	if ((value = attr_get_len(l, name, &len)) == NULL)
		return 0;
	/* strtoll alone would take spaces, '+' and stop at a NUL byte. */
	digits = value[0] == '-' ? value + 1 : value;
	if (*digits < '0' || *digits > '9')
		return -1;
	errno = 0;
	n = strtoll(value, &end, 10);
	if (errno != 0 || end != value + len)
		return -1;
	*value_r = n;
	return 1;
}

size_t
attr_count(const struct attr_list *l)
{
	return l->count;
}

const char *
attr_nth(const struct attr_list *l, size_t n, const char **value_r,
	size_t *len_r)
{
	if (n >= l->count)
		return NULL;
	if (value_r != NULL)
		*value_r = l->attrs[n].value;
	if (len_r != NULL)
		*len_r = l->attrs[n].len;
	return l->attrs[n].name;
}

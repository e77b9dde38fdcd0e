/* header_value: one header field's value from a streamed message. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "header_value.h"
#include "xalloc.h"

struct header_value {
	char *name;
	size_t name_len;
	struct buf *line;	/* the current header line, capped */
	int line_over;		/* it went past the cap */
	struct buf *value;	/* the field's value so far */
	int in_field;		/* the lines now are the field's */
	int found;		/* the field was seen: later ones ignored */
	int body;		/* past the header section */
};

struct header_value *
header_value_new(const char *name, size_t max)
{
	struct header_value *hv = xcalloc(1, sizeof(*hv));

	hv->name = xstrdup(name);
	hv->name_len = strlen(name);
	hv->line = buf_new(max);
	hv->value = buf_new(max);
	return hv;
}

void
header_value_free(struct header_value **hvp)
{
	struct header_value *hv = *hvp;

	if (hv == NULL)
		return;
	buf_free(&hv->line);
	buf_free(&hv->value);
	free(hv->name);
	free(hv);
	*hvp = NULL;
}

/* Append text, its blanks at both ends trimmed, to the value. */
static void
header_value_add(struct header_value *hv, const char *text, size_t len)
{
	while (len > 0 && (*text == ' ' || *text == '\t')) {
		text++;
		len--;
	}
	while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t'))
		len--;
	if (len == 0)
		return;
	if ((buf_len(hv->value) > 0 && buf_append_char(hv->value, ' ') < 0)
	    || buf_append(hv->value, text, len) < 0) {
		/* A value over the cap is no value. */
		buf_reset(hv->value);
		hv->in_field = 0;
	}
}

/* A whole header line (no CRLF) is in hv->line. */
static void
header_value_line(struct header_value *hv)
{
	const char *p = buf_cstr(hv->line);
	size_t len = buf_len(hv->line);

	if (len > 0 && p[len - 1] == '\r')
		len--;
	if (len == 0 && !hv->line_over) {
		hv->body = 1;
		return;
	}
	if (hv->line_over) {
		hv->in_field = 0;
		return;
	}
	if (p[0] == ' ' || p[0] == '\t') {
		if (hv->in_field)
			header_value_add(hv, p, len);
		return;
	}
	hv->in_field = 0;
	if (!hv->found && len > hv->name_len && p[hv->name_len] == ':' &&
	    strncasecmp(p, hv->name, hv->name_len) == 0) {
		hv->found = hv->in_field = 1;
		header_value_add(hv, p + hv->name_len + 1,
		    len - hv->name_len - 1);
	}
}

void
header_value_feed(struct header_value *hv, const void *data, size_t len)
{
	const char *p = data, *end = p + len, *nl;
	size_t n;

	while (p < end && !hv->body) {
		nl = memchr(p, '\n', (size_t) (end - p));
		n = (size_t) ((nl != NULL ? nl : end) - p);
		if (!hv->line_over && buf_append(hv->line, p, n) < 0)
			hv->line_over = 1;
		if (nl == NULL)
			return;
		header_value_line(hv);
		buf_reset(hv->line);
		hv->line_over = 0;
		p = nl + 1;
	}
}

const char *
header_value_get(const struct header_value *hv)
{
	return buf_len(hv->value) > 0 ? buf_cstr(hv->value) : NULL;
}

char *
header_value_msgid(const struct header_value *hv)
{
	const char *v = header_value_get(hv), *open, *p;

	if (v == NULL || (open = strchr(v, '<')) == NULL)
		return NULL;
	for (p = open + 1; *p != '>'; p++)
		if (*p <= ' ' || *p > '~' || *p == '<')
			return NULL;
	if (p == open + 1)
		return NULL;
	return xstrndup(open, (size_t) (p + 1 - open));
}

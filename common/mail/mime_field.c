/* mime_field: Content-* field values and their parameter lists. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "mime.h"
#include "mime_int.h"
#include "xalloc.h"

/* ---- structured field values (RFC 2045 5.1, RFC 2183, RFC 2231) -------- */

/* A parameter before RFC 2231 joining: name split into its pieces. */
struct raw_param {
	char *base;		/* lower-cased name without the *n* suffix */
	long section;		/* -1: no continuation number */
	int encoded;		/* a trailing '*' */
	char *value;
};

static void
lower(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s += 'a' - 'A';
}

/* Skip blanks, line breaks and (nested) comments. */
static void
skip_cfws(const char *s, size_t n, size_t *pos)
{
	size_t i = *pos;
	int depth;

	for (;;) {
		while (i < n && (mime_is_wsp(s[i]) || s[i] == '\r' ||
		    s[i] == '\n'))
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
 * CFWS token CFWS sep CFWS from *pos: the token (as take_token), *pos
 * after it all; NULL when the token or sep is missing, *pos where the
 * scan stopped.
 */
static char *
take_token_sep(const char *s, size_t n, size_t *pos, char sep)
{
	char *t;

	skip_cfws(s, n, pos);
	if ((t = take_token(s, n, pos)) == NULL)
		return NULL;
	skip_cfws(s, n, pos);
	if (*pos >= n || s[*pos] != sep) {
		free(t);
		return NULL;
	}
	(*pos)++;
	skip_cfws(s, n, pos);
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
		for (; i < n && s[i] != ';' && !mime_is_wsp(s[i]) &&
		    s[i] != '\r' && s[i] != '\n'; i++)
			if (s[i] != '\0')
				v[out++] = s[i];
	}
	v[out] = '\0';
	*pos = i;
	return v;
}

void
mime_params_add(struct mime_params *ps, char *name, char *value)
{
	ps->v = xreallocarray(ps->v, ps->count + 1, sizeof(*ps->v));
	ps->v[ps->count].name = name;
	ps->v[ps->count].value = value;
	ps->count++;
}

void
mime_params_clear(struct mime_params *ps)
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

/* The first of raw[i..count) with raw[i]'s base and section want, or count. */
static size_t
raw_find_section(const struct raw_param *raw, size_t i, size_t count,
	long want)
{
	size_t k;

	for (k = i; k < count; k++)
		if (raw[k].section == want &&
		    strcmp(raw[k].base, raw[i].base) == 0)
			break;
	return k;
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
			mime_params_add(ps, raw[i].encoded ?
			    xasprintf("%s*", raw[i].base) : xstrdup(raw[i].base),
			    xstrdup(raw[i].value));
			continue;
		}
		/* Sections 0, 1, 2, ... in order; a gap ends the value. */
		any_encoded = 0;
		for (want = 0;; want++) {
			k = raw_find_section(raw, i, count, want);
			if (k == count)
				break;
			any_encoded |= raw[k].encoded;
		}
		if (want == 0)
			continue;	/* no *0: not joinable, dropped */
		b = buf_new((size_t) -1 / 2);
		for (want = 0;; want++) {
			k = raw_find_section(raw, i, count, want);
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
		mime_params_add(ps, any_encoded ?
		    xasprintf("%s*", raw[i].base) : xstrdup(raw[i].base),
		    buf_strdup(b));
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
		if ((name = take_token_sep(s, n, &pos, '=')) == NULL)
			continue;
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

	if ((type = take_token_sep(s, n, &pos, '/')) == NULL)
		return;
	if ((subtype = take_token(s, n, &pos)) == NULL) {
		free(type);
		return;
	}
	free(p->type);
	free(p->subtype);
	mime_params_clear(&p->params);
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

void
mime_parse_fields(struct mime_message *m, struct mime_part *p)
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
			if (mime_field_is(&f, names[i]))
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

/* ---- parameter lists ----------------------------------------------------- */

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

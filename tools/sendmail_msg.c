/* sendmail_msg: the header ispmail-sendmail reads; see sendmail_msg.h. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "sendmail_msg.h"
#include "xalloc.h"

struct sendmail_msg {
	char **fields;		/* unfolded? no: as read, CRLF between lines */
	size_t field_count, field_alloc;
	struct buf *body_start;	/* a first body line read with the header */
	int ended;		/* the message ended inside the header */
	int blank;		/* an empty line ended the header */
	char **rcpts;
	size_t rcpt_count, rcpt_alloc;
	struct buf *header;	/* built by finish */
};

/* One line of at most SENDMAIL_LINE_MAX bytes, without its line end.
 * 1 read (with *eol_r: it had a line end), 0 at the end, -1 too long. */
static int
msg_line(FILE *in, struct buf *line, int *eol_r)
{
	int c;

	buf_reset(line);
	*eol_r = 0;
	while ((c = getc(in)) != EOF) {
		if (c == '\n') {
			*eol_r = 1;
			break;
		}
		if (buf_len(line) >= SENDMAIL_LINE_MAX)
			return -1;
		(void) buf_append_char(line, (char) c);
	}
	if (c == EOF && buf_len(line) == 0)
		return 0;
	if (buf_len(line) > 0 && buf_cstr(line)[buf_len(line) - 1] == '\r')
		buf_truncate(line, buf_len(line) - 1);
	return 1;
}

/* 1 when text starts a header field: a name of printable ASCII, ':'. */
static int
msg_is_field(const char *text)
{
	const char *p;

	for (p = text; *p != ':'; p++)
		if (*p <= 32 || *p >= 127)
			return 0;
	return p > text;
}

static void
msg_add_field(struct sendmail_msg *msg, const char *text)
{
	if (msg->field_count == msg->field_alloc) {
		msg->field_alloc = msg->field_alloc == 0 ? 32 :
		    msg->field_alloc * 2;
		msg->fields = xreallocarray(msg->fields, msg->field_alloc,
		    sizeof(*msg->fields));
	}
	msg->fields[msg->field_count++] = xstrdup(text);
}

struct sendmail_msg *
sendmail_msg_read(FILE *in, int ignore_dots, char **error_r)
{
	struct sendmail_msg *msg = xcalloc(1, sizeof(*msg));
	struct buf *line = buf_new(SENDMAIL_LINE_MAX + 1);
	size_t total = 0;
	char *joined;
	int rc, eol;

	msg->body_start = buf_new(SENDMAIL_LINE_MAX + 3);
	for (;;) {
		rc = msg_line(in, line, &eol);
		if (rc < 0 || (total += buf_len(line) + 2) >
		    SENDMAIL_HEADER_MAX) {
			*error_r = xasprintf("the header is longer than %d "
			    "bytes, or has a line longer than %d",
			    SENDMAIL_HEADER_MAX, SENDMAIL_LINE_MAX);
			goto fail;
		}
		if (rc == 0 || (!ignore_dots &&
		    strcmp(buf_cstr(line), ".") == 0)) {
			msg->ended = 1;
			break;
		}
		if (buf_len(line) == 0) {
			msg->blank = 1;
			break;
		}
		if ((buf_cstr(line)[0] == ' ' || buf_cstr(line)[0] == '\t') &&
		    msg->field_count > 0) {
			/* A continuation line: part of the field before. */
			joined = xasprintf("%s\r\n%s",
			    msg->fields[msg->field_count - 1], buf_cstr(line));
			free(msg->fields[msg->field_count - 1]);
			msg->fields[msg->field_count - 1] = joined;
			continue;
		}
		if (!msg_is_field(buf_cstr(line))) {
			/* The body began without an empty line. */
			(void) buf_append(msg->body_start, buf_cstr(line),
			    buf_len(line));
			if (eol)
				(void) buf_append_str(msg->body_start, "\r\n");
			msg->blank = 1;
			break;
		}
		if (msg->field_count >= SENDMAIL_FIELDS_MAX) {
			*error_r = xasprintf("more than %d header fields",
			    SENDMAIL_FIELDS_MAX);
			goto fail;
		}
		msg_add_field(msg, buf_cstr(line));
	}
	buf_free(&line);
	return msg;
fail:
	buf_free(&line);
	sendmail_msg_free(&msg);
	return NULL;
}

void
sendmail_msg_add_rcpt(struct sendmail_msg *msg, const char *addr)
{
	size_t i;

	for (i = 0; i < msg->rcpt_count; i++)
		if (strcasecmp(msg->rcpts[i], addr) == 0)
			return;
	if (msg->rcpt_count == msg->rcpt_alloc) {
		msg->rcpt_alloc = msg->rcpt_alloc == 0 ? 8 : msg->rcpt_alloc * 2;
		msg->rcpts = xreallocarray(msg->rcpts, msg->rcpt_alloc,
		    sizeof(*msg->rcpts));
	}
	msg->rcpts[msg->rcpt_count++] = xstrdup(addr);
}

/* Finish one list item: the <addr> if there was one, else the text. */
static int
addr_emit(struct buf *cur, struct buf *angle, int have_angle,
	void (*fn)(const char *addr, void *ctx), void *ctx)
{
	const char *a = have_angle ? buf_cstr(angle) : buf_cstr(cur);
	const char *colon;

	/* An obsolete source route (<@a,@b:user@c>) is dropped. */
	if (have_angle && a[0] == '@' && (colon = strchr(a, ':')) != NULL)
		a = colon + 1;
	if (a[0] == '\0')
		return 0;
	fn(a, ctx);
	return 1;
}

size_t
sendmail_addresses(const char *value, size_t max,
	void (*fn)(const char *addr, void *ctx), void *ctx)
{
	struct buf *cur = buf_new(1024), *angle = buf_new(1024);
	const char *p;
	int depth, in_angle = 0, have_angle = 0;
	size_t found = 0;

	for (p = value; *p != '\0' && found < max; p++) {
		if (*p == '(') {
			/* A comment, nested, with quoted pairs. */
			for (depth = 1, p++; *p != '\0' && depth > 0; p++) {
				if (*p == '\\' && p[1] != '\0')
					p++;
				else if (*p == '(')
					depth++;
				else if (*p == ')')
					depth--;
			}
			p--;
			continue;
		}
		if (*p == '"') {
			struct buf *to = in_angle ? angle : cur;

			(void) buf_append_char(to, '"');
			for (p++; *p != '\0' && *p != '"'; p++) {
				if (*p == '\\' && p[1] != '\0')
					(void) buf_append_char(to, *p++);
				(void) buf_append_char(to, *p);
			}
			(void) buf_append_char(to, '"');
			if (*p == '\0')
				break;
			continue;
		}
		if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			continue;
		if (in_angle) {
			if (*p == '>')
				in_angle = 0;
			else
				(void) buf_append_char(angle, *p);
			continue;
		}
		if (*p == '<') {
			buf_reset(angle);
			in_angle = have_angle = 1;
			continue;
		}
		if (*p == ':') {
			buf_reset(cur);	/* a group's display name */
			continue;
		}
		if (*p == ',' || *p == ';') {
			found += (size_t) addr_emit(cur, angle, have_angle, fn,
			    ctx);
			buf_reset(cur);
			buf_reset(angle);
			have_angle = 0;
			continue;
		}
		(void) buf_append_char(cur, *p);
	}
	if (found < max)
		found += (size_t) addr_emit(cur, angle, have_angle, fn, ctx);
	buf_free(&cur);
	buf_free(&angle);
	return found;
}

/* The field's name is name (case-insensitive). */
static int
msg_field_is(const char *field, const char *name)
{
	size_t len = strlen(name);

	return strncasecmp(field, name, len) == 0 && field[len] == ':';
}

static void
msg_extract_one(const char *addr, void *ctx)
{
	struct sendmail_msg *msg = ctx;

	if (msg->rcpt_count < SENDMAIL_EXTRACT_MAX)
		sendmail_msg_add_rcpt(msg, addr);
}

/* A display name fit for a From: field as a quoted string. */
static int
msg_name_ok(const char *name)
{
	const unsigned char *p;

	for (p = (const unsigned char *) name; *p != '\0'; p++)
		if (*p < 32 || *p >= 127)
			return 0;
	return p - (const unsigned char *) name < 200;
}

void
sendmail_msg_finish(struct sendmail_msg *msg, int extract,
	const char *sender, const char *full_name)
{
	static const char *const rcpt_fields[] = { "To", "Cc", "Bcc" };
	const char *p;
	size_t i, k;
	int have_from = 0;

	msg->header = buf_new(SENDMAIL_HEADER_MAX + 1024);
	for (i = 0; i < msg->field_count; i++) {
		const char *f = msg->fields[i];

		if (extract)
			for (k = 0; k < 3; k++)
				if (msg_field_is(f, rcpt_fields[k]))
					(void) sendmail_addresses(strchr(f, ':') +
					    1, SENDMAIL_EXTRACT_MAX,
					    msg_extract_one, msg);
		if (msg_field_is(f, "From"))
			have_from = 1;
		/* Bcc: never leaves: its recipients must stay hidden. */
		if (msg_field_is(f, "Bcc"))
			continue;
		(void) buf_append_str(msg->header, f);
		(void) buf_append_str(msg->header, "\r\n");
	}
	if (!have_from) {
		(void) buf_append_str(msg->header, "From: ");
		if (full_name != NULL && full_name[0] != '\0' &&
		    msg_name_ok(full_name)) {
			(void) buf_append_char(msg->header, '"');
			for (p = full_name; *p != '\0'; p++) {
				if (*p == '"' || *p == '\\')
					(void) buf_append_char(msg->header,
					    '\\');
				(void) buf_append_char(msg->header, *p);
			}
			(void) buf_append_str(msg->header, "\" ");
		}
		(void) buf_printf(msg->header, "<%s>\r\n", sender);
	}
	if (msg->blank) {
		(void) buf_append_str(msg->header, "\r\n");
		if (buf_len(msg->body_start) > 0) {
			if (buf_cstr(msg->body_start)[0] == '.')
				(void) buf_append_char(msg->header, '.');
			(void) buf_append(msg->header,
			    buf_cstr(msg->body_start),
			    buf_len(msg->body_start));
		}
	}
}

const char *
sendmail_msg_header(const struct sendmail_msg *msg)
{
	return buf_cstr(msg->header);
}

size_t
sendmail_msg_header_len(const struct sendmail_msg *msg)
{
	return buf_len(msg->header);
}

int
sendmail_msg_ended(const struct sendmail_msg *msg)
{
	return msg->ended;
}

char *const *
sendmail_msg_rcpts(const struct sendmail_msg *msg, size_t *count_r)
{
	*count_r = msg->rcpt_count;
	return msg->rcpts;
}

void
sendmail_msg_free(struct sendmail_msg **msgp)
{
	struct sendmail_msg *msg = *msgp;
	size_t i;

	if (msg == NULL)
		return;
	for (i = 0; i < msg->field_count; i++)
		free(msg->fields[i]);
	free(msg->fields);
	for (i = 0; i < msg->rcpt_count; i++)
		free(msg->rcpts[i]);
	free(msg->rcpts);
	buf_free(&msg->body_start);
	buf_free(&msg->header);
	free(msg);
	*msgp = NULL;
}

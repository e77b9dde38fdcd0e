/*
 * pop_msg: the LF-to-CRLF, dot-stuffing and TOP filter; see pop_msg.h.
 */
#include "config.h"

#include <string.h>

#include "pop_msg.h"

void
pop_msg_filter_init(struct pop_msg_filter *f, int top, size_t lines)
{
	memset(f, 0, sizeof(*f));
	f->top = top;
	f->body_lines = lines;
}

/* A line ended: account for TOP; 1 when the output must stop here. */
static int
pop_msg_line_end(struct pop_msg_filter *f)
{
	/* Blank: nothing but the CR of its CRLF, if any. */
	int blank = f->line_len == 0 || (f->line_len == 1 && f->prev_cr);

	f->line_len = 0;
	if (!f->top)
		return 0;
	if (!f->in_body) {
		if (blank) {
			f->in_body = 1;
			return f->body_lines == 0;
		}
		return 0;
	}
	return --f->body_lines == 0;
}

size_t
pop_msg_filter_run(struct pop_msg_filter *f, const char *in, size_t len,
	char *out)
{
	size_t i, n = 0;
	char c;

	if (f->done)
		return 0;
	for (i = 0; i < len; i++) {
		c = in[i];
		if (c == '\n') {
			/* CRLF stays; a bare LF gets its CR (RFC 1939 3). */
			if (!f->prev_cr)
				out[n++] = '\r';
			out[n++] = '\n';
			if (pop_msg_line_end(f)) {
				f->done = 1;
				return n;
			}
			f->prev_cr = 0;
			continue;
		}
		/* Byte-stuff a leading dot so it cannot end the response. */
		if (f->line_len == 0 && c == '.')
			out[n++] = '.';
		out[n++] = c;
		f->line_len++;
		f->prev_cr = c == '\r';
	}
	return n;
}

size_t
pop_msg_filter_finish(struct pop_msg_filter *f, char *out)
{
	size_t n = 0;

	/* The last line had no line end: give it one before the dot. */
	if (!f->done && f->line_len > 0) {
		if (!f->prev_cr)
			out[n++] = '\r';
		out[n++] = '\n';
	}
	memcpy(out + n, ".\r\n", 3);
	return n + 3;
}

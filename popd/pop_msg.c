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

/*
 * Whole runs between line ends are copied with memchr/memcpy; the state
 * (line_len, prev_cr) is what the byte at the end of a run leaves.
 */
size_t
pop_msg_filter_run(struct pop_msg_filter *f, const char *in, size_t len,
	char *out)
{
	const char *p = in, *end = in + len, *lf;
	size_t n = 0, run;

	if (f->done)
		return 0;
	while (p < end) {
		/* Byte-stuff a leading dot so it cannot end the response. */
		if (f->line_len == 0 && *p == '.')
			out[n++] = '.';
		lf = memchr(p, '\n', (size_t) (end - p));
		run = (size_t) ((lf != NULL ? lf : end) - p);
		if (run > 0) {
			memcpy(out + n, p, run);
			n += run;
			f->line_len += run;
			f->prev_cr = p[run - 1] == '\r';
			p += run;
		}
		if (lf == NULL)
			break;
		/* CRLF stays; a bare LF gets its CR (RFC 1939 3). */
		if (!f->prev_cr)
			out[n++] = '\r';
		out[n++] = '\n';
		p++;
		if (pop_msg_line_end(f)) {
			f->done = 1;
			return n;
		}
		f->prev_cr = 0;
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

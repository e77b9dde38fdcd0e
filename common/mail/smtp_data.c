/*
 * smtp_data: the DATA reader of smtpd and lmtpd; see smtp_data.h.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "smtp_data.h"
#include "stream.h"
#include "xalloc.h"

/* The queue file is read and sent in pieces of this size. */
#define SMTP_DATA_SEND_CHUNK 65536

int
smtp_bare_newline_parse(const char *text, enum smtp_bare_newline *mode_r)
{
	if (strcmp(text, "normalize") == 0)
		*mode_r = SMTP_BARE_NEWLINE_NORMALIZE;
	else if (strcmp(text, "reject") == 0)
		*mode_r = SMTP_BARE_NEWLINE_REJECT;
	else
		return -1;
	return 0;
}

int
smtp_crlf_append(struct smtp_crlf *st, const char *data, size_t len,
	struct buf *out)
{
	const char *p = data, *end = data + len, *stop, *cr, *lf;

	if (st->cr_pending && len > 0) {
		st->cr_pending = 0;
		if (*p == '\n')
			p++;		/* the held CR's LF: one CRLF */
		else
			st->bare++;
		if (buf_append(out, "\r\n", 2) < 0)
			return -1;
	}
	/*
	 * Runs without CR or LF are copied whole, found with memchr (a byte
	 * loop cost the agent's CPU); each search resumes only once passed,
	 * so the whole piece is scanned once.
	 */
	cr = memchr(p, '\r', (size_t) (end - p));
	lf = memchr(p, '\n', (size_t) (end - p));
	while (p < end) {
		if (cr != NULL && cr < p)
			cr = memchr(p, '\r', (size_t) (end - p));
		if (lf != NULL && lf < p)
			lf = memchr(p, '\n', (size_t) (end - p));
		stop = cr == NULL ? lf : lf == NULL || cr < lf ? cr : lf;
		if (stop == NULL)
			stop = end;
		if (buf_append(out, p, (size_t) (stop - p)) < 0)
			return -1;
		if (stop == end)
			break;
		if (*stop == '\r' && stop + 1 == end) {
			st->cr_pending = 1;
			break;
		}
		if (*stop == '\r' && stop[1] == '\n')
			stop++;
		else
			st->bare++;
		if (buf_append(out, "\r\n", 2) < 0)
			return -1;
		p = stop + 1;
	}
	return 0;
}

int
smtp_crlf_finish(struct smtp_crlf *st, struct buf *out)
{
	if (!st->cr_pending)
		return 0;
	st->cr_pending = 0;
	st->bare++;
	return buf_append(out, "\r\n", 2);
}

enum smtp_data_status
smtp_data_read(struct stream *s, long long max_size, size_t max_line,
	enum smtp_bare_newline bare, smtp_data_sink_fn *sink, void *ctx,
	long long *size_r)
{
	struct smtp_crlf crlf;
	/* A line of bare CRs doubles: CRLF for each. */
	struct buf *norm = buf_new(2 * max_line + 8);
	enum smtp_data_status result = SMTP_DATA_OK;
	enum stream_status st;
	enum stream_eol eol;
	/* Room for one stuffing dot more than max_line, and the line end. */
	struct buf *line = buf_new(max_line + 4);
	int line_start = 1;
	long long size = 0;
	const char *data;
	size_t len;

	for (;;) {
		st = stream_read_line(s, line, max_line + 1);
		if (st == STREAM_TOO_LONG) {
			if (result == SMTP_DATA_OK)
				result = SMTP_DATA_LINE_TOO_LONG;
			/*
			 * Skipped, but its end is known: after a bare LF
			 * a "." line is content, as for any other line.
			 */
			line_start = stream_last_eol(s) == STREAM_EOL_CRLF;
			continue;
		}
		if (st != STREAM_OK) {
			result = st == STREAM_EOF ? SMTP_DATA_EOF :
			    st == STREAM_TIMEOUT ? SMTP_DATA_TIMEOUT :
			    SMTP_DATA_ERROR;
			break;
		}
		eol = stream_last_eol(s);
		data = buf_cstr(line);
		len = buf_len(line);
		/* Only CRLF "." CRLF ends the data (RFC 5321 4.1.1.4). */
		if (line_start && eol == STREAM_EOL_CRLF && len == 1 &&
		    data[0] == '.')
			break;
		if (line_start && len > 0 && data[0] == '.') {
			buf_consume(line, 1);
			len--;
		}
		if (len > max_line && result == SMTP_DATA_OK)
			result = SMTP_DATA_LINE_TOO_LONG;
		if (eol == STREAM_EOL_CRLF)
			(void) buf_append(line, "\r\n", 2);
		else
			(void) buf_append_char(line, '\n');
		/* Bare CRs inside the line and a bare LF at its end. */
		memset(&crlf, 0, sizeof(crlf));
		buf_reset(norm);
		(void) smtp_crlf_append(&crlf, buf_cstr(line), buf_len(line),
		    norm);
		if (crlf.bare > 0 && bare == SMTP_BARE_NEWLINE_REJECT &&
		    result == SMTP_DATA_OK)
			result = SMTP_DATA_BARE_NEWLINE;
		size += (long long) buf_len(norm);
		if (max_size > 0 && size > max_size) {
			if (result == SMTP_DATA_OK)
				result = SMTP_DATA_TOO_BIG;
		} else if (result == SMTP_DATA_OK) {
			if (sink(ctx, buf_cstr(norm), buf_len(norm)) < 0)
				result = SMTP_DATA_SINK_FAILED;
		}
		line_start = eol == STREAM_EOL_CRLF;
	}
	buf_free(&line);
	buf_free(&norm);
	if (size_r != NULL)
		*size_r = size;
	return result;
}

const char *
smtp_data_status_text(enum smtp_data_status status)
{
	switch (status) {
	case SMTP_DATA_OK:
		return "ok";
	case SMTP_DATA_TOO_BIG:
		return "message too big";
	case SMTP_DATA_LINE_TOO_LONG:
		return "line too long";
	case SMTP_DATA_SINK_FAILED:
		return "cannot store the message";
	case SMTP_DATA_BARE_NEWLINE:
		return "bare CR or LF in the message";
	case SMTP_DATA_EOF:
		return "lost connection in DATA";
	case SMTP_DATA_TIMEOUT:
		return "timeout in DATA";
	case SMTP_DATA_ERROR:
		return "I/O error in DATA";
	}
	return "unknown";
}

/*
 * Append in (CRLF line ends only) to out with a dot doubled at each line
 * start; *line_start carries across calls.
 */
static void
smtp_data_dot_stuff(const struct buf *in, struct buf *out, int *line_start)
{
	const char *p = buf_cstr(in), *end = p + buf_len(in), *nl;

	/* Line by line with memchr: a byte loop cost the agent's CPU. */
	while (p < end) {
		if (*line_start && *p == '.')
			(void) buf_append_char(out, '.');
		nl = memchr(p, '\n', (size_t) (end - p));
		if (nl == NULL) {
			(void) buf_append(out, p, (size_t) (end - p));
			*line_start = 0;
			return;
		}
		(void) buf_append(out, p, (size_t) (nl + 1 - p));
		*line_start = 1;
		p = nl + 1;
	}
}

int
smtp_data_send_headers(struct stream *s, char *const *fields, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++) {
		if (fields[i][0] == '.' ||
		    stream_puts(s, fields[i]) != STREAM_OK ||
		    stream_puts(s, "\r\n") != STREAM_OK)
			return -1;
	}
	return 0;
}

/* What smtp_data_send and smtp_data_send_buffer carry between pieces. */
struct smtp_data_sender {
	struct stream *s;
	struct buf *norm;	/* normalised (at most doubled) */
	struct buf *out;	/* then dot-stuffed */
	struct smtp_crlf crlf;
	int line_start;
};

static void
smtp_data_sender_init(struct smtp_data_sender *ds, struct stream *s)
{
	ds->s = s;
	ds->norm = buf_new(2 * SMTP_DATA_SEND_CHUNK + 8);
	ds->out = buf_new(4 * SMTP_DATA_SEND_CHUNK + 16);
	ds->crlf.cr_pending = 0;
	ds->crlf.bare = 0;
	ds->line_start = 1;
}

/* One piece of at most SMTP_DATA_SEND_CHUNK bytes; last: the end. */
static int
smtp_data_sender_piece(struct smtp_data_sender *ds, const char *data,
	size_t len, int last)
{
	buf_reset(ds->norm);
	(void) smtp_crlf_append(&ds->crlf, data, len, ds->norm);
	if (last)
		(void) smtp_crlf_finish(&ds->crlf, ds->norm);
	buf_reset(ds->out);
	smtp_data_dot_stuff(ds->norm, ds->out, &ds->line_start);
	return stream_write(ds->s, buf_cstr(ds->out), buf_len(ds->out)) ==
	    STREAM_OK ? 0 : -1;
}

/* The end-of-data line (after a CRLF if the data lacked one); frees. */
static int
smtp_data_sender_end(struct smtp_data_sender *ds, int ret, long long *bare_r)
{
	*bare_r = ds->crlf.bare;
	if (ret == 0 && !ds->line_start)
		(void) stream_puts(ds->s, "\r\n");
	if (ret == 0 && stream_puts(ds->s, ".\r\n") != STREAM_OK)
		ret = -1;
	buf_free(&ds->norm);
	buf_free(&ds->out);
	return ret;
}

int
smtp_data_send(struct stream *s, int fd, off_t offset, long long size,
	long long *bare_r)
{
	char *chunk = xmalloc(SMTP_DATA_SEND_CHUNK);
	struct smtp_data_sender ds;
	long long left = size;
	off_t off = offset;
	int ret = 0;
	size_t take;
	ssize_t n;

	smtp_data_sender_init(&ds, s);
	while (left > 0 && ret == 0) {
		take = left > SMTP_DATA_SEND_CHUNK ? SMTP_DATA_SEND_CHUNK :
		    (size_t) left;
		n = pread(fd, chunk, take, off);
		if (n <= 0) {
			ret = -1;
			break;
		}
		off += n;
		left -= n;
		ret = smtp_data_sender_piece(&ds, chunk, (size_t) n, left == 0);
	}
	free(chunk);
	return smtp_data_sender_end(&ds, ret, bare_r);
}

int
smtp_data_send_buffer(struct stream *s, const char *data, size_t size,
	long long *bare_r)
{
	struct smtp_data_sender ds;
	size_t take;
	int ret = 0;

	smtp_data_sender_init(&ds, s);
	while (size > 0 && ret == 0) {
		take = size > SMTP_DATA_SEND_CHUNK ? SMTP_DATA_SEND_CHUNK : size;
		size -= take;
		ret = smtp_data_sender_piece(&ds, data, take, size == 0);
		data += take;
	}
	return smtp_data_sender_end(&ds, ret, bare_r);
}

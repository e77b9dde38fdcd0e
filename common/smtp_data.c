/*
 * smtp_data: the DATA reader of smtpd and lmtpd; see smtp_data.h.
 */
#include "config.h"

#include <string.h>

#include "buf.h"
#include "smtp_data.h"
#include "stream.h"

enum smtp_data_status
smtp_data_read(struct stream *s, long long max_size, size_t max_line,
	smtp_data_sink_fn *sink, void *ctx, long long *size_r)
{
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
		size += (long long) buf_len(line);
		if (max_size > 0 && size > max_size) {
			if (result == SMTP_DATA_OK)
				result = SMTP_DATA_TOO_BIG;
		} else if (result == SMTP_DATA_OK) {
			if (sink(ctx, buf_cstr(line), buf_len(line)) < 0)
				result = SMTP_DATA_SINK_FAILED;
		}
		line_start = eol == STREAM_EOL_CRLF;
	}
	buf_free(&line);
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
	case SMTP_DATA_EOF:
		return "lost connection in DATA";
	case SMTP_DATA_TIMEOUT:
		return "timeout in DATA";
	case SMTP_DATA_ERROR:
		return "I/O error in DATA";
	}
	return "unknown";
}

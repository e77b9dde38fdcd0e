/*
 * fuzz_smtp_data: the one DATA reader (smtp_data.h) of smtpd and lmtpd
 * on the input as a client's stream after 354, in pieces whose size the
 * first byte chooses, with small size and line limits from the second.
 * The sink gets at most twice what was sent (a bare CR or LF becomes
 * CRLF) and, in normalize mode, never a bare CR or LF: the smuggling
 * defence.  The reader keeps reading messages until the stream ends, as
 * a pipelining client would send.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "smtp_data.h"
#include "stream.h"

struct sink {
	long long bytes;
	int fail_after;		/* calls before the sink fails; -1 never */
	int calls;
	int check_crlf;		/* normalize mode: only CRLF line ends */
	char last;		/* the byte before this piece */
};

static int
sink_put(void *ctx, const void *data, size_t len)
{
	struct sink *k = ctx;
	size_t i;
	char c;

	if (data == NULL && len > 0)
		abort();
	k->bytes += (long long) len;
	for (i = 0; k->check_crlf && i < len; i++) {
		c = ((const char *) data)[i];
		if ((c == '\n') != (k->last == '\r'))
			abort();
		k->last = c;
	}
	if (k->fail_after >= 0 && k->calls++ >= k->fail_after)
		return -1;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in;
	struct stream *s;
	struct sink k;
	enum smtp_data_status st;
	long long max_size, sent;
	size_t max_line;
	int messages;

	fuzz_init();
	if (size < 2)
		return 0;
	max_size = (data[1] & 0x0f) * 64;		/* 0: no limit */
	max_line = 8 + (size_t) (data[1] >> 4) * 64;
	s = fuzz_stream_new(&in, data + 2, size - 2, data[0]);
	for (messages = 0; messages < 1000; messages++) {
		memset(&k, 0, sizeof(k));
		k.fail_after = data[0] & 0x80 ? data[0] & 7 : -1;
		sent = -1;
		k.check_crlf = (data[0] & 0x40) == 0;
		st = smtp_data_read(s, max_size, max_line, k.check_crlf ?
		    SMTP_BARE_NEWLINE_NORMALIZE : SMTP_BARE_NEWLINE_REJECT,
		    sink_put, &k, &sent);
		if (smtp_data_status_text(st) == NULL)
			abort();
		if (sent < 0 || k.bytes > sent || sent > 2 * (long long) size)
			abort();
		if (st == SMTP_DATA_OK && max_size > 0 && sent > max_size)
			abort();
		if (st != SMTP_DATA_OK && st != SMTP_DATA_TOO_BIG &&
		    st != SMTP_DATA_LINE_TOO_LONG &&
		    st != SMTP_DATA_SINK_FAILED &&
		    st != SMTP_DATA_BARE_NEWLINE)
			break;
	}
	stream_free(&s);
	return 0;
}

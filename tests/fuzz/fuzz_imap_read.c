/*
 * fuzz_imap_read: imapd's command reader (imap_read_command: lines and
 * literals, synchronising and LITERAL+, APPEND's message literal) on the
 * input as a client's byte stream, read in pieces whose size the first
 * byte chooses, and each command it assembles split into arguments.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fuzz.h"
#include "imap_parse.h"
#include "stream.h"

/* Small limits, so the fuzzer reaches them. */
#define FUZZ_IMAP_LINE 256
#define FUZZ_IMAP_COMMAND 1024
#define FUZZ_IMAP_LITERALS 16
#define FUZZ_IMAP_ARGS 64
#define FUZZ_IMAP_APPEND 4096

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf *line = buf_new(FUZZ_IMAP_LINE);
	struct buf *cmd = buf_new(FUZZ_IMAP_COMMAND);
	struct buf *skip = buf_new(FUZZ_IMAP_APPEND);
	struct imap_arg *args;
	struct fuzz_input in;
	struct stream *s;
	enum imap_read_result res;
	const char *error;
	long long literal;
	size_t count;
	int sync, commands;

	fuzz_init();
	if (size == 0)
		goto out;
	s = fuzz_stream_new(&in, data + 1, size - 1, data[0]);
	for (commands = 0; commands < 1000; commands++) {
		res = imap_read_command(s, line, cmd, FUZZ_IMAP_COMMAND,
		    FUZZ_IMAP_LITERALS, FUZZ_IMAP_APPEND, &literal, &sync);
		if (res == IMAP_READ_CLOSED || res == IMAP_READ_BAD_LITERAL ||
		    res == IMAP_READ_BAD_TOO_MANY_LITERALS)
			break;
		if (buf_len(cmd) > FUZZ_IMAP_COMMAND)
			abort();
		if (res == IMAP_READ_OK || res == IMAP_READ_APPEND) {
			if (imap_parse_args(buf_data(cmd), buf_len(cmd),
			    FUZZ_IMAP_ARGS, &args, &count, &error) == 0)
				imap_args_free(args, count);
		}
		if (res == IMAP_READ_APPEND) {
			/* The caller checks the size, as imapd does. */
			if (literal < 0 || literal > FUZZ_IMAP_APPEND)
				break;
			buf_reset(skip);
			if (stream_read_exact(s, skip, (size_t) literal) !=
			    STREAM_OK)
				break;
		}
	}
	stream_free(&s);
out:
	buf_free(&line);
	buf_free(&cmd);
	buf_free(&skip);
	return 0;
}

/*
 * pop_msg: turn a stored message (LF line ends, see maildir.h) into the
 * POP3 multi-line response body (RFC 1939 3), a pure module.
 *
 * The filter is fed the file in chunks of any size and keeps its state
 * between them, so a message is streamed and never held in memory: LF
 * becomes CRLF (an LF already preceded by CR is kept as is, matching
 * how W= sizes are counted), a line starting with "." gets a second
 * one, and for TOP it stops after the header, the blank line and the
 * requested number of body lines.  pop_msg_filter_finish() ends the
 * last line if the file did not, and adds the terminating ".CRLF".
 */
#ifndef ISPMAIL_POP_MSG_H
#define ISPMAIL_POP_MSG_H

#include <stddef.h>

/* Plain state record, owned by the caller (usually on its stack). */
struct pop_msg_filter {
	int top;		/* 1: stop after body_lines body lines */
	size_t body_lines;	/* TOP's n: body lines still to send */
	int in_body;		/* the blank line after the header was seen */
	size_t line_len;	/* bytes of the current line so far */
	int prev_cr;		/* the last byte was CR */
	int done;		/* TOP's limit reached: ignore the rest */
};

/* Output needs at most this many bytes per input byte. */
#define POP_MSG_EXPANSION 2
/* pop_msg_filter_finish() writes at most this many bytes. */
#define POP_MSG_FINISH_MAX 5

/* Start a filter: for RETR (top 0) or TOP with lines body lines. */
void pop_msg_filter_init(struct pop_msg_filter *f, int top, size_t lines);
/*
 * Convert len bytes of in into out, which has room for at least
 * POP_MSG_EXPANSION * len bytes; the number of bytes written.  Once
 * f->done is set the rest of the message is not needed.
 */
size_t pop_msg_filter_run(struct pop_msg_filter *f, const char *in,
	size_t len, char *out);
/* End the response into out (POP_MSG_FINISH_MAX bytes); bytes written. */
size_t pop_msg_filter_finish(struct pop_msg_filter *f, char *out);

#endif

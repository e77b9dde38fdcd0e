/*
 * smtp_data: the one DATA reader of smtpd and lmtpd (RFC 5321 4.5.2).
 *
 * Reads message lines after a 354 until the end-of-data line, removes
 * the dot of dot-stuffed lines and passes the message to a sink as the
 * client sent it otherwise, except for bare line ends: a bare CR or
 * bare LF is stored as CRLF (normalize) or refuses the message (reject),
 * so nothing we store or relay holds a line end a receiver could read
 * differently (SMTP smuggling, 2023).  Only
 * CRLF "." CRLF ends the message: a line "." that ends in a bare LF, or
 * that follows a line ended by a bare LF, or a "." between bare CRs, is
 * message content, so the reader cannot be used for SMTP smuggling.
 * Dot-unstuffing applies only at real line starts (after CRLF).
 *
 * The reader always reads to the end of the data (unless the connection
 * fails) so the session stays in step, even when the message is too big,
 * a line is too long, or the sink failed; the result says which.
 */
#ifndef ISPMAIL_SMTP_DATA_H
#define ISPMAIL_SMTP_DATA_H

#include <stddef.h>
#include <sys/types.h>

struct buf;
struct stream;

enum smtp_data_status {
	SMTP_DATA_OK = 0,	/* complete; every byte went to the sink */
	SMTP_DATA_TOO_BIG,	/* complete, but over max_size: discard */
	SMTP_DATA_LINE_TOO_LONG,/* complete, but a line passed max_line */
	SMTP_DATA_SINK_FAILED,	/* complete, but the sink returned -1 */
	SMTP_DATA_BARE_NEWLINE,	/* complete, but a bare CR/LF (reject mode) */
	SMTP_DATA_EOF,		/* the client went away mid-message */
	SMTP_DATA_TIMEOUT,	/* the read deadline passed */
	SMTP_DATA_ERROR,	/* I/O error (stream_error() says) */
};

/* What a bare CR or bare LF in message data does (smtpd_forbid_bare_newline). */
enum smtp_bare_newline {
	SMTP_BARE_NEWLINE_NORMALIZE = 0,	/* stored as CRLF */
	SMTP_BARE_NEWLINE_REJECT,		/* the message is refused */
};

/* "normalize" or "reject".  0 ok, -1 anything else. */
int smtp_bare_newline_parse(const char *text,
	enum smtp_bare_newline *mode_r);

/*
 * The one judge of bare line ends, for data that comes in pieces (BDAT
 * chunks, a queue file read in chunks): every CR not followed by LF and
 * every LF not preceded by CR becomes CRLF.  A CR at the end of a piece
 * is held until the next piece (or smtp_crlf_finish) shows what follows.
 * Start with a zeroed struct; bare counts the bare CRs and LFs seen.
 */
struct smtp_crlf {
	int cr_pending;
	long long bare;
};

/* Append data/len to out, normalised.  0 ok, -1 past out's cap. */
int smtp_crlf_append(struct smtp_crlf *st, const char *data, size_t len,
	struct buf *out);
/* The end of the data: a held CR goes out as CRLF.  0 ok, -1 cap. */
int smtp_crlf_finish(struct smtp_crlf *st, struct buf *out);

/* Receives the message in pieces; -1 stops further calls (disk full). */
typedef int smtp_data_sink_fn(void *ctx, const void *data, size_t len);

/*
 * Read one message from s.  max_size: the most message bytes (after
 * unstuffing and normalising; 0 = no limit); max_line: the longest line
 * in bytes without its CRLF (RFC 5321: 998); bare: what a bare CR or LF
 * does.  *size_r (may be NULL) is the message size, counted even past
 * max_size.
 */
enum smtp_data_status smtp_data_read(struct stream *s, long long max_size,
	size_t max_line, enum smtp_bare_newline bare,
	smtp_data_sink_fn *sink, void *ctx, long long *size_r);

/*
 * The other direction, for the LMTP and SMTP clients: send size bytes
 * of a message stored at offset in fd (a queue file) as DATA content,
 * dot-stuffed, and the end-of-data line.  The file is not trusted to
 * hold only CRLF: every bare CR and bare LF goes out as CRLF
 * (smtp_crlf_append), so no receiver can read a line end, or an end of
 * data, we did not mean; *bare_r counts them.  Buffered: the caller
 * flushes.  0 ok, -1 on a read or write failure.
 */
int smtp_data_send(struct stream *s, int fd, off_t offset, long long size,
	long long *bare_r);
/* The same from size bytes in memory at data. */
int smtp_data_send_buffer(struct stream *s, const char *data, size_t size,
	long long *bare_r);
/*
 * Before smtp_data_send: the header fields a queue file carries for
 * above the message (its H records, checked by qfile_read), each with
 * CRLF.  None starts with a dot, so no stuffing.  Buffered.
 */
int smtp_data_send_headers(struct stream *s, char *const *fields,
	size_t count);
/* A short text for a status ("message too big", ...). */
const char *smtp_data_status_text(enum smtp_data_status status);

#endif

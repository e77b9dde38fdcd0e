/*
 * sendmail_msg: the header of a message given to ispmail-sendmail, read
 * from a file, with what the sendmail command line does to it: the
 * recipients of -t taken from To:, Cc: and Bcc:, Bcc: removed, a From:
 * added when missing.  The body is not read here: it is streamed.
 */
#ifndef ISPMAIL_SENDMAIL_MSG_H
#define ISPMAIL_SENDMAIL_MSG_H

#include <stddef.h>
#include <stdio.h>

/* The longest line read in one piece (longer ones go out in pieces). */
#define SENDMAIL_LINE_MAX 65536
/* The header: at most this many bytes and fields. */
#define SENDMAIL_HEADER_MAX (1024 * 1024)
#define SENDMAIL_FIELDS_MAX 1000
/* Recipients found by -t, at most. */
#define SENDMAIL_EXTRACT_MAX 10000

struct sendmail_msg;

/*
 * Read the header from in, up to the empty line that ends it (or up to
 * the end of the message: the end of the file or, unless ignore_dots, a
 * line of one dot).  A first line that is not a header field starts the
 * body, as if an empty line came before it.  NULL with *error_r when
 * the header is too big.
 */
struct sendmail_msg *sendmail_msg_read(FILE *in, int ignore_dots,
	char **error_r);
/* A recipient from the command line. */
void sendmail_msg_add_rcpt(struct sendmail_msg *msg, const char *addr);
/*
 * Apply -t (extract: recipients from To:, Cc: and Bcc:, added to the
 * command line's), remove Bcc:, add From: with sender (and full_name,
 * when given and printable) when missing; build the header text.
 */
void sendmail_msg_finish(struct sendmail_msg *msg, int extract,
	const char *sender, const char *full_name);
/* The header to send, CRLF line ends, with its empty line (after finish). */
const char *sendmail_msg_header(const struct sendmail_msg *msg);
size_t sendmail_msg_header_len(const struct sendmail_msg *msg);
/* 1 when the message ended inside the header (no body to read). */
int sendmail_msg_ended(const struct sendmail_msg *msg);
/* The envelope recipients, each once. */
char *const *sendmail_msg_rcpts(const struct sendmail_msg *msg,
	size_t *count_r);
void sendmail_msg_free(struct sendmail_msg **msgp);

/*
 * The addr-specs of an address-list header value (RFC 5322 3.4): display
 * names, comments, groups and quoted strings are skipped; each one found
 * is passed to fn.  At most max addresses; returns the number found.
 */
size_t sendmail_addresses(const char *value, size_t max,
	void (*fn)(const char *addr, void *ctx), void *ctx);

#endif

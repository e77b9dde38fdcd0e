/*
 * smtp_syntax: checks of client-supplied protocol values before they go
 * into a header field we write (Received:, a DSN), a command line we
 * send, or a log line.
 *
 * "Printable" is US-ASCII 0x20-0x7e: no CR, LF, NUL, other control or
 * 8-bit byte, so a printable value cannot start a new line or header
 * field wherever it is written.  Pure functions: no I/O, no state.
 */
#ifndef ISPMAIL_SMTP_SYNTAX_H
#define ISPMAIL_SMTP_SYNTAX_H

#include <stddef.h>

struct buf;

/* 1 when the len bytes at text are all printable US-ASCII, else 0. */
int smtp_printable(const char *text, size_t len);

/*
 * 1 when the len bytes at text hold a control character (below 0x20, or
 * 0x7f; 8-bit bytes are not control characters): a command line with
 * one (a bare CR, a NUL) is refused before any parser sees it.
 */
int smtp_has_control(const char *text, size_t len);

/*
 * Append text to out with every byte that is not printable replaced by
 * '?' (for text a remote server or a queue file gave us: reply texts in
 * results and DSNs).  0 ok, -1 past out's cap (what fitted stays).
 */
int smtp_printable_append(struct buf *out, const char *text);

/* What smtp_helo_check() thinks of a HELO/EHLO argument. */
enum smtp_helo_syntax {
	SMTP_HELO_INVALID = -1,	/* empty, too long, space, control, 8-bit */
	SMTP_HELO_LENIENT = 0,	/* printable, no space, but not RFC syntax */
	SMTP_HELO_VALID = 1,	/* a domain or an address literal */
};

/* The longest HELO argument we take (a domain is at most 255). */
#define SMTP_HELO_MAX 255

/*
 * Judge a HELO/EHLO argument (RFC 5321 4.1.1.1, 4.1.2: Domain or
 * address-literal).  On anything but SMTP_HELO_VALID *error_r (static)
 * says why.
 */
enum smtp_helo_syntax smtp_helo_check(const char *helo,
	const char **error_r);

#endif

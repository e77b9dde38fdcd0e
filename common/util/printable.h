/*
 * printable: make untrusted text safe to show on a terminal or in a log.
 *
 * Text that a client, a peer or a file controls (a HELO name, an ENVID, a
 * remote server's reply, a map entry) must not move the cursor, start a
 * terminal escape sequence or begin a fake line when an operator reads it.
 * These functions escape every control character (C0, DEL, and the C1
 * controls U+0080..U+009F written as UTF-8) and every byte that is not
 * part of valid UTF-8: "\r", "\n" and "\t" by name, the rest as "\xHH".
 * Printable ASCII and valid UTF-8 (SMTPUTF8 addresses) pass unchanged.
 *
 * XXX: a backslash is not doubled, so text that already reads "\x0a" is
 * ambiguous; it is harmless (no real line break) and keeps paths and
 * configuration values as the operator wrote them.
 */
#ifndef ISPMAIL_PRINTABLE_H
#define ISPMAIL_PRINTABLE_H

#include <stdarg.h>
#include <stddef.h>

struct buf;

/* Append len bytes of data, escaped; -1 (out unchanged) past out's cap. */
int printable_append(struct buf *out, const char *data, size_t len);
/*
 * Escape data into out[0..size) (size > 0), always NUL-terminated; when
 * out is too small the text is cut before an escape or a UTF-8 sequence,
 * never inside one.  Returns the length written.
 */
size_t printable_copy(char *out, size_t size, const char *data, size_t len);
/*
 * Append fmt formatted, with every %s and %c argument escaped (the text
 * of fmt itself is ours and kept, newlines included); -1 (out unchanged)
 * past out's cap.  %n is refused (panic: a caller bug).
 */
int printable_printf(struct buf *out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int printable_vprintf(struct buf *out, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

#endif

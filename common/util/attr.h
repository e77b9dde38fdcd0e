/*
 * attr: the internal attribute protocol spoken on every internal socket.
 *
 * A record is a list of "name=value" lines ended by an empty line:
 *
 *	request=status
 *	queue_id=4Zx7Kq1mRbz
 *	<empty line>
 *
 * Names are 1..64 characters of [a-z0-9_].  Values are escaped so any byte
 * string survives: '%', CR, LF, NUL and every byte below 0x20 or at 0x7f
 * are written as %XX (two upper-case hex digits); on decoding any %XX is
 * accepted, and a '%' not followed by two hex digits is an error, as is
 * any raw byte the encoder would have escaped (a bare CR, a TAB...).
 * Bytes >= 0x80 pass unescaped.  Lines end in LF only: the protocol is
 * ours, so it is strict.  One record is limited in attribute count and
 * value length (the limits are passed in, from the attr_* parameters).
 * Malformed input is reported with a clear reason, never a crash.
 * Duplicate names are kept in order; attr_get() returns the first,
 * attr_nth()/attr_count() walk them all.
 */
#ifndef ISPMAIL_ATTR_H
#define ISPMAIL_ATTR_H

#include <stddef.h>

#include "stream.h"

struct buf;
struct attr_list;

/* The longest attribute name. */
#define ATTR_NAME_MAX 64

/*
 * Encode one attribute onto out.  -1 when out's cap would be passed or
 * name is not a valid attribute name (a caller bug, reported rather than
 * panicking); out is then left unchanged.
 */
int attr_put(struct buf *out, const char *name, const char *value);
/* The same with a binary value of len bytes. */
int attr_put_data(struct buf *out, const char *name, const void *value,
	size_t len);
int attr_put_int(struct buf *out, const char *name, long long value);
/* End the record (the empty line). */
int attr_end(struct buf *out);

/* An empty list that holds at most max_count attributes of max_value_len. */
struct attr_list *attr_list_new(size_t max_count, size_t max_value_len);
void attr_list_free(struct attr_list **lp);
void attr_list_reset(struct attr_list *l);

/*
 * Decode one whole record from data (the lines, with or without the final
 * empty line; nothing may follow the empty line), replacing l's contents.
 * 0 ok; -1 with *error_r (static text, do not free) and l emptied.
 */
int attr_parse(struct attr_list *l, const char *data, size_t len,
	const char **error_r);
/*
 * Decode one line ("name=value", without its newline) and add it to l.
 * 0 ok; -1 with *error_r (static text) and l unchanged.
 */
int attr_parse_line(struct attr_list *l, const char *line, size_t len,
	const char **error_r);
/*
 * Read one record from a stream (lines up to the empty line), with the
 * stream's deadlines, replacing l's contents (a lone empty line is a record
 * with no attributes).  Each line may be as long as the longest escaped
 * value allows.  STREAM_OK, or the stream status with *error_r set and l
 * emptied: a malformed record is STREAM_ERROR with a static reason, and
 * the rest of the record is read and discarded so the next attr_read()
 * starts in step -- except for "record too large" (more than twice the
 * lines a record may have, still no end), after which the caller must
 * drop the connection.  For STREAM_EOF (error_r says whether it came in
 * mid-record), STREAM_TIMEOUT and I/O errors *error_r is static text or
 * stream_error(s) (valid while s lives).
 */
enum stream_status attr_read(struct stream *s, struct attr_list *l,
	const char **error_r);
/* Write a record encoded in rec to the stream and flush it. */
enum stream_status attr_write(struct stream *s, const struct buf *rec);

/* The first value of name (NUL-terminated, binary safe with _len); NULL. */
const char *attr_get(const struct attr_list *l, const char *name);
const char *attr_get_len(const struct attr_list *l, const char *name,
	size_t *len_r);
/* 1 found and valid, 0 missing, -1 present but not a decimal integer. */
int attr_get_int(const struct attr_list *l, const char *name,
	long long *value_r);
size_t attr_count(const struct attr_list *l);
/* The n-th attribute (0-based) in order; returns its name; NULL past end. */
const char *attr_nth(const struct attr_list *l, size_t n,
	const char **value_r, size_t *len_r);

#endif

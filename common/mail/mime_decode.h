/*
 * mime_decode: turn MIME-encoded text into UTF-8 for matching (SEARCH).
 *
 * RFC 2047 encoded words in header values (B and Q; adjacent words
 * separated only by blanks are joined, malformed words are kept as
 * written), Content-Transfer-Encoding base64 and quoted-printable
 * (RFC 2045 6.7, 6.8; junk in base64 is skipped, bad "=" escapes kept),
 * and charsets: utf-8, us-ascii, iso-8859-1 and windows-1252 in C,
 * others through iconv(3), falling back to the raw bytes when iconv does
 * not know the charset or the bytes are invalid.
 *
 * Output goes to a caller's buf; its cap is the limit.  When the cap is
 * reached the functions return -1 and out holds what fit (a prefix of
 * the decoding, never more than the cap).
 */
#ifndef ISPMAIL_MIME_DECODE_H
#define ISPMAIL_MIME_DECODE_H

#include <stddef.h>

struct buf;

/* Append the header value (unfolded) with encoded words decoded. */
int mime_decode_header(const char *value, size_t len, struct buf *out);
/* Append base64 data decoded (blanks, line ends and junk skipped). */
int mime_decode_base64(const char *data, size_t len, struct buf *out);
/* Append quoted-printable data decoded; q: RFC 2047 Q ("_" is space). */
int mime_decode_qp(const char *data, size_t len, int q, struct buf *out);
/* Append data converted from charset (NULL: us-ascii) to UTF-8. */
int mime_decode_charset(const char *data, size_t len, const char *charset,
	struct buf *out);
/*
 * Append a body: undo the transfer encoding (NULL or unknown: as is),
 * then convert from charset to UTF-8.
 */
int mime_decode_body(const char *data, size_t len, const char *encoding,
	const char *charset, struct buf *out);
/*
 * Fold UTF-8 text in place for case-insensitive matching: ASCII A-Z and
 * the Latin-1 capitals U+00C0-U+00DE (not U+00D7) become lower case.
 * The length does not change.  XXX: no other scripts are folded.
 */
void mime_decode_fold(char *data, size_t len);

#endif

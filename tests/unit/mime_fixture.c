/* mime_fixture: an IMAP syntax checker and a clock (mime_fixture.h). */
#include "config.h"

#include <check.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "mime.h"
#include "mime_fixture.h"
#include "mime_imap.h"

/* ---- a minimal IMAP syntax checker ---------------------------------------- */

/* One value: NIL, number, quoted, literal or a list; -1 if malformed. */
static int
imap_value(const char *s, size_t n, size_t *pos, int depth)
{
	size_t i = *pos, len;

	if (depth > 200 || i >= n)
		return -1;
	if (s[i] == '(') {
		i++;
		for (;;) {
			if (i < n && s[i] == ')')
				break;
			if (imap_value(s, n, &i, depth + 1) < 0)
				return -1;
			if (i < n && s[i] == ' ')
				i++;
		}
		*pos = i + 1;
		return 0;
	}
	if (s[i] == '"') {
		for (i++; i < n && s[i] != '"'; i++) {
			if (s[i] == '\\') {
				if (i + 1 >= n || (s[i + 1] != '"' &&
				    s[i + 1] != '\\'))
					return -1;
				i++;
			} else if (s[i] == '\0' || s[i] == '\r' ||
			    s[i] == '\n' || (unsigned char) s[i] >= 0x80)
				return -1;
		}
		if (i >= n)
			return -1;
		*pos = i + 1;
		return 0;
	}
	if (s[i] == '{') {
		len = strtoul(s + i + 1, NULL, 10);
		while (i < n && s[i] != '}')
			i++;
		if (n - i < 3 || s[i + 1] != '\r' || s[i + 2] != '\n' ||
		    n - i - 3 < len || memchr(s + i + 3, '\0', len) != NULL)
			return -1;
		*pos = i + 3 + len;
		return 0;
	}
	if (n - i >= 3 && memcmp(s + i, "NIL", 3) == 0) {
		*pos = i + 3;
		return 0;
	}
	if (s[i] >= '0' && s[i] <= '9') {
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		*pos = i;
		return 0;
	}
	return -1;
}

int
imap_valid(const struct buf *b)
{
	size_t pos = 0;

	return imap_value(buf_cstr(b), buf_len(b), &pos, 0) == 0 &&
	    pos == buf_len(b);
}

double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * imapd's FETCH ENVELOPE without a MIME parse must write the same bytes,
 * from the whole message and from its header block alone.
 */
void
envelope_header_same(const char *msg, size_t len, const struct buf *want)
{
	struct buf *b = buf_new(buf_len(want) + 1);
	int blank;

	ck_assert_int_eq(mime_imap_envelope_header(msg, len, b), 0);
	ck_assert_str_eq(buf_cstr(b), buf_cstr(want));
	buf_reset(b);
	ck_assert_int_eq(mime_imap_envelope_header(msg,
	    mime_header_length(msg, len, &blank), b), 0);
	ck_assert_str_eq(buf_cstr(b), buf_cstr(want));
	buf_free(&b);
}

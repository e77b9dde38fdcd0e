/*
 * imap_utf7: mailbox names between UTF-8 (UTF8=ACCEPT, RFC 6855) and
 * modified UTF-7 (RFC 3501 5.1.3), the form on the wire otherwise and
 * on disk always.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "imap.h"
#include "xalloc.h"

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/* One UTF-8 code point at s (len bytes); its length, 0 when invalid. */
static size_t
utf8_decode(const unsigned char *s, size_t len, uint32_t *cp_r)
{
	uint32_t cp;
	size_t n, i;

	if (s[0] < 0x80) {
		*cp_r = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n > len)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and beyond U+10FFFF are refused. */
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
	    (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*cp_r = cp;
	return n;
}

int
imap_utf8_to_mutf7(const char *in, struct buf *out)
{
	const unsigned char *s = (const unsigned char *) in;
	size_t len = strlen(in), i = 0, k;
	uint32_t cp, bits = 0;
	int nbits = 0, open = 0;
	uint16_t units[2];
	size_t nunits, u;

	buf_reset(out);
	while (i < len) {
		k = utf8_decode(s + i, len - i, &cp);
		if (k == 0)
			return -1;
		i += k;
		if (cp >= 0x20 && cp < 0x7f) {
			if (open) {
				if (nbits > 0 && buf_append_char(out,
				    b64[(bits << (6 - nbits)) & 0x3f]) < 0)
					return -1;
				if (buf_append_char(out, '-') < 0)
					return -1;
				open = 0;
				nbits = 0;
				bits = 0;
			}
			if (buf_append_str(out, cp == '&' ? "&-" :
			    (char[]) { (char) cp, '\0' }) < 0)
				return -1;
			continue;
		}
		if (cp < 0x20 || cp == 0x7f)
			return -1;
		if (!open) {
			if (buf_append_char(out, '&') < 0)
				return -1;
			open = 1;
		}
		if (cp >= 0x10000) {
			cp -= 0x10000;
			units[0] = (uint16_t) (0xd800 + (cp >> 10));
			units[1] = (uint16_t) (0xdc00 + (cp & 0x3ff));
			nunits = 2;
		} else {
			units[0] = (uint16_t) cp;
			nunits = 1;
		}
		for (u = 0; u < nunits; u++) {
			bits = (bits << 16) | units[u];
			nbits += 16;
			while (nbits >= 6) {
				nbits -= 6;
				if (buf_append_char(out,
				    b64[(bits >> nbits) & 0x3f]) < 0)
					return -1;
			}
			bits &= (1U << nbits) - 1;
		}
	}
	if (open) {
		if (nbits > 0 && buf_append_char(out,
		    b64[(bits << (6 - nbits)) & 0x3f]) < 0)
			return -1;
		if (buf_append_char(out, '-') < 0)
			return -1;
	}
	return 0;
}

/* Append code point cp as UTF-8. */
static int
utf8_put(struct buf *out, uint32_t cp)
{
	char b[4];
	size_t n;

	if (cp < 0x80) {
		b[0] = (char) cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (char) (0xc0 | (cp >> 6));
		b[1] = (char) (0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char) (0xe0 | (cp >> 12));
		b[1] = (char) (0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char) (0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (char) (0xf0 | (cp >> 18));
		b[1] = (char) (0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char) (0x80 | ((cp >> 6) & 0x3f));
		b[3] = (char) (0x80 | (cp & 0x3f));
		n = 4;
	}
	return buf_append(out, b, n);
}

int
imap_mutf7_to_utf8(const char *in, struct buf *out)
{
	const char *p = in, *v;
	uint32_t bits = 0, hi = 0, unit;
	int nbits;

	buf_reset(out);
	while (*p != '\0') {
		if (*p != '&') {
			if (buf_append_char(out, *p++) < 0)
				return -1;
			continue;
		}
		p++;
		if (*p == '-') {
			if (buf_append_char(out, '&') < 0)
				return -1;
			p++;
			continue;
		}
		nbits = 0;
		bits = 0;
		hi = 0;
		while (*p != '-') {
			if (*p == '\0' || (v = strchr(b64, *p)) == NULL)
				return -1;
			bits = (bits << 6) | (uint32_t) (v - b64);
			nbits += 6;
			p++;
			if (nbits < 16)
				continue;
			nbits -= 16;
			unit = (bits >> nbits) & 0xffff;
			bits &= (1U << nbits) - 1;
			if (unit >= 0xd800 && unit <= 0xdbff) {
				if (hi != 0)
					return -1;
				hi = unit;
			} else if (unit >= 0xdc00 && unit <= 0xdfff) {
				if (hi == 0 || utf8_put(out, 0x10000 +
				    ((hi - 0xd800) << 10) + (unit - 0xdc00)) < 0)
					return -1;
				hi = 0;
			} else {
				if (hi != 0 || unit < 0x20 || (unit >= 0x20 &&
				    unit < 0x7f) || utf8_put(out, unit) < 0)
					return -1;
			}
		}
		/* Leftover bits must be zero padding; no half pair. */
		if (hi != 0 || nbits >= 6 || bits != 0)
			return -1;
		p++;
	}
	return 0;
}

void
imap_write_mailbox(struct imap_session *sess, const char *name)
{
	struct buf *utf8;
	const char *p;

	if (!sess->utf8_accept) {
		imap_write_string(sess, name, strlen(name));
		return;
	}
	utf8 = buf_new(IMAP_MAILBOX_UTF8_CAP);
	/* A name that is no valid modified UTF-7 is shown as it is. */
	if (imap_mutf7_to_utf8(name, utf8) < 0) {
		imap_write_string(sess, name, strlen(name));
	} else {
		/* RFC 6855 3: UTF-8 in a quoted string (no controls in a
		 * decoded name: the decoder refuses them). */
		imap_write(sess, "\"", 1);
		for (p = buf_cstr(utf8); *p != '\0'; p++) {
			if (*p == '"' || *p == '\\')
				imap_write(sess, "\\", 1);
			imap_write(sess, p, 1);
		}
		imap_write(sess, "\"", 1);
	}
	buf_free(&utf8);
}

/* Convert one argument in place; 0 ok (or nothing to do), -1 bad. */
static int
utf8_arg(struct imap_arg *arg, struct buf *scratch)
{
	if (arg->type == IMAP_ARG_LIST)
		return 0;
	if (memchr(arg->str, '\0', arg->len) != NULL ||
	    imap_utf8_to_mutf7(arg->str, scratch) < 0)
		return -1;
	if (buf_len(scratch) == arg->len &&
	    memcmp(buf_cstr(scratch), arg->str, arg->len) == 0)
		return 0;
	free(arg->str);
	arg->str = buf_strdup(scratch);
	arg->len = buf_len(scratch);
	return 0;
}

int
imap_utf8_args(struct imap_session *sess, const char *verb,
	struct imap_arg *args, size_t count)
{
	static const struct {
		const char *verb;
		size_t first, last;	/* mailbox arguments, inclusive */
	} cmds[] = {
		{ "SELECT", 0, 0 }, { "EXAMINE", 0, 0 }, { "CREATE", 0, 0 },
		{ "DELETE", 0, 0 }, { "SUBSCRIBE", 0, 0 },
		{ "UNSUBSCRIBE", 0, 0 }, { "STATUS", 0, 0 },
		{ "APPEND", 0, 0 }, { "GETQUOTAROOT", 0, 0 },
		{ "RENAME", 0, 1 }, { "COPY", 1, 1 }, { "MOVE", 1, 1 },
		{ "LSUB", 0, 1 }, { "LIST", 0, 1 },
	};
	struct buf *scratch;
	size_t i, k, first, last;
	int bad = 0;

	for (k = 0; k < sizeof(cmds) / sizeof(cmds[0]); k++) {
		if (strcasecmp(verb, cmds[k].verb) == 0)
			break;
	}
	if (k == sizeof(cmds) / sizeof(cmds[0]))
		return 0;
	first = cmds[k].first;
	last = cmds[k].last;
	/* LIST: after the selection options; patterns may be a list. */
	if (strcasecmp(verb, "LIST") == 0 && count > 0 &&
	    args[0].type == IMAP_ARG_LIST) {
		first++;
		last++;
	}
	scratch = buf_new(IMAP_MAILBOX_UTF8_CAP);
	for (i = first; i <= last && i < count && !bad; i++) {
		if (args[i].type == IMAP_ARG_LIST &&
		    strcasecmp(verb, "LIST") == 0) {
			for (k = 0; k < args[i].count && !bad; k++)
				bad = utf8_arg(&args[i].list[k], scratch) < 0;
		} else {
			bad = utf8_arg(&args[i], scratch) < 0;
		}
	}
	buf_free(&scratch);
	if (bad) {
		imap_tagged(sess, "BAD", "Mailbox name is not valid UTF-8");
		return -1;
	}
	return 0;
}

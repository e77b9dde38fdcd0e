/* clamd_client: the INSTREAM request and reply; see clamd_client.h. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clamd_client.h"
#include "printable.h"
#include "xalloc.h"

static void
clamd_length(struct buf *out, uint32_t len)
{
	unsigned char be[4];

	be[0] = (unsigned char) (len >> 24);
	be[1] = (unsigned char) (len >> 16);
	be[2] = (unsigned char) (len >> 8);
	be[3] = (unsigned char) len;
	(void) buf_append(out, be, sizeof(be));
}

void
clamd_request(struct buf *out, const void *message, size_t len)
{
	const char *p = message;
	size_t take;

	(void) buf_append(out, "zINSTREAM", 10);	/* with its NUL */
	while (len > 0) {
		take = len > CLAMD_CHUNK ? CLAMD_CHUNK : len;
		clamd_length(out, (uint32_t) take);
		(void) buf_append(out, p, take);
		p += take;
		len -= take;
	}
	clamd_length(out, 0);
}

/* A virus name fit for a reply line and the log. */
static char *
clamd_virus_name(const char *p, size_t len)
{
	size_t i;

	if (len == 0 || len > CLAMD_VIRUS_MAX)
		return xstrdup("(unprintable name)");
	for (i = 0; i < len; i++)
		if (p[i] <= ' ' || p[i] >= 0x7f)
			return xstrdup("(unprintable name)");
	return xstrndup(p, len);
}

int
clamd_parse(const char *reply, size_t len, char **virus_r, char **error_r)
{
	const char *p = reply, *colon;
	struct buf *shown;

	/* One reply, NUL-terminated with the z prefix (maybe newline). */
	while (len > 0 && (p[len - 1] == '\0' || p[len - 1] == '\n'))
		len--;
	colon = memchr(p, ':', len);
	if (colon != NULL && colon + 2 <= p + len && colon[1] == ' ') {
		const char *v = colon + 2;
		size_t vlen = (size_t) (p + len - v);

		if (vlen == 2 && memcmp(v, "OK", 2) == 0)
			return 0;
		if (vlen > 6 && memcmp(v + vlen - 6, " FOUND", 6) == 0) {
			*virus_r = clamd_virus_name(v, vlen - 6);
			return 1;
		}
	}
	shown = buf_new(256);
	(void) printable_append(shown, p, len > 200 ? 200 : len);
	*error_r = xasprintf("clamd: %s", buf_cstr(shown));
	buf_free(&shown);
	return -1;
}

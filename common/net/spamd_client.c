/* spamd_client: the SPAMC/1.5 request and reply; see spamd_client.h. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "spamd_client.h"
#include "xalloc.h"

void
spamd_request(struct buf *out, const void *message, size_t len)
{
	(void) buf_printf(out, "SYMBOLS SPAMC/1.5\r\nContent-length: %zu\r\n"
	    "\r\n", len);
	(void) buf_append(out, message, len);
}

/* A header line of the reply: "Name: value" up to CRLF. */
static const char *
spamd_line_end(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (size_t) (end - p));

	return nl;
}

/* Rule names as spamd sends them, checked; "" when anything is odd. */
static char *
spamd_symbols(const char *p, const char *end)
{
	size_t len, i;

	while (end > p && (end[-1] == '\r' || end[-1] == '\n'))
		end--;
	len = (size_t) (end - p);
	if (len > SPAMD_SYMBOLS_MAX)
		return xstrdup("");
	for (i = 0; i < len; i++) {
		char c = p[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == ','))
			return xstrdup("");
	}
	return xstrndup(p, len);
}

int
spamd_parse(const char *reply, size_t len, struct spamd_result *r,
	char **error_r)
{
	const char *p = reply, *end = reply + len, *nl;
	char verdict[8], line[256];
	int have_spam = 0, code;
	size_t n;

	memset(r, 0, sizeof(*r));
	nl = spamd_line_end(p, end);
	if (nl == NULL || (size_t) (nl - p) >= sizeof(line)) {
		*error_r = xstrdup("spamd: no status line");
		return -1;
	}
	memcpy(line, p, (size_t) (nl - p));
	line[nl - p] = '\0';
	if (strncmp(line, "SPAMD/1.", 8) != 0 ||
	    sscanf(line + 8, "%*d %d", &code) != 1) {
		*error_r = xstrdup("spamd: malformed status line");
		return -1;
	}
	if (code != 0) {
		*error_r = xasprintf("spamd: error status %d", code);
		return -1;
	}
	p = nl + 1;
	for (;;) {
		nl = spamd_line_end(p, end);
		if (nl == NULL) {
			*error_r = xstrdup("spamd: reply headers cut short");
			return -1;
		}
		n = (size_t) (nl - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n == 0) {
			p = nl + 1;
			break;
		}
		if (n < sizeof(line) && strncasecmp(p, "Spam:", 5) == 0) {
			memcpy(line, p, n);
			line[n] = '\0';
			if (sscanf(line + 5, " %7s ; %lf / %lf", verdict,
			    &r->score, &r->threshold) != 3) {
				*error_r = xstrdup("spamd: malformed Spam: "
				    "header");
				return -1;
			}
			r->spam = strcasecmp(verdict, "True") == 0 ||
			    strcasecmp(verdict, "Yes") == 0;
			have_spam = 1;
		}
		p = nl + 1;
	}
	if (!have_spam) {
		*error_r = xstrdup("spamd: no Spam: header");
		return -1;
	}
	/* NaN or absurd scores are damage, not a verdict. */
	if (!(r->score > -1000000.0 && r->score < 1000000.0)) {
		*error_r = xstrdup("spamd: score out of range");
		return -1;
	}
	r->symbols = spamd_symbols(p, end);
	return 0;
}

void
spamd_result_clear(struct spamd_result *r)
{
	free(r->symbols);
	r->symbols = NULL;
}

/* dkim_canon: DKIM header and body canonicalization (see .h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "buf.h"
#include "dkim_canon.h"
#include "xalloc.h"

/* Canonical body bytes are hashed in batches of this many. */
#define BODY_BATCH 4096

struct dkim_body {
	int relaxed;
	int failed;
	EVP_MD_CTX *md;
	long long limit;		/* -1: no l= */
	unsigned long long length;	/* canonical bytes so far */
	int cr_pending;			/* a CR, not yet known to end a line */
	int wsp_pending;		/* relaxed: a run of WSP in the line */
	unsigned long long crlf_pending; /* line ends, maybe trailing */
	int nonempty;
	unsigned char batch[BODY_BATCH];
	size_t batch_len;
};

size_t
dkim_header_take(struct buf *header, enum dkim_header_state *state,
	int *overflow_r, const void *data, size_t len)
{
	const unsigned char *p = data, *end = p + len, *nl;
	size_t line;

	/* A line (or what came of it) at a time. */
	while (p < end && *state != DKIM_HEADER_DONE) {
		nl = memchr(p, '\n', (size_t) (end - p));
		line = nl != NULL ? (size_t) (nl - p) : (size_t) (end - p);
		if (buf_append(header, p, nl != NULL ? line + 1 : line) < 0)
			*overflow_r = -1;
		if (nl != NULL && (line == 0 ? *state != DKIM_HEADER_IN_LINE :
		    line == 1 && *p == '\r' && *state == DKIM_HEADER_LINE_START))
			*state = DKIM_HEADER_DONE;	/* the empty line */
		else if (nl != NULL)
			*state = DKIM_HEADER_LINE_START;
		else if (line == 1 && *p == '\r' &&
		    *state == DKIM_HEADER_LINE_START)
			*state = DKIM_HEADER_LINE_START_CR;
		else
			*state = DKIM_HEADER_IN_LINE;
		p += nl != NULL ? line + 1 : line;
	}
	return (size_t) (p - (const unsigned char *) data);
}

struct dkim_field *
dkim_header_fields(const char *h, size_t len, size_t *n_r)
{
	struct dkim_field *fields = NULL;
	size_t n = 0, room = 0, pos = 0;

	while (pos < len && h[pos] != '\r' && h[pos] != '\n') {
		size_t start = pos, name_len;
		const char *colon;

		/* The field runs on over lines that start with WSP. */
		do {
			const char *nl = memchr(h + pos, '\n', len - pos);

			pos = nl != NULL ? (size_t) (nl - h) + 1 : len;
		} while (pos < len && (h[pos] == ' ' || h[pos] == '\t'));
		colon = memchr(h + start, ':', pos - start);
		if (colon == NULL)
			continue;
		name_len = (size_t) (colon - (h + start));
		while (name_len > 0 && (h[start + name_len - 1] == ' ' ||
		    h[start + name_len - 1] == '\t'))
			name_len--;
		if (n == room) {
			room = room == 0 ? 32 : xalloc_mul(room, 2);
			fields = xreallocarray(fields, room, sizeof(*fields));
		}
		fields[n].text = h + start;
		fields[n].len = pos - start;
		fields[n].name_len = name_len;
		n++;
	}
	*n_r = n;
	return fields;
}

int
dkim_canon_field(struct buf *out, const char *field, size_t len,
	int relaxed, int crlf)
{
	const char *colon = memchr(field, ':', len), *end = field + len;
	const char *p, *run;
	size_t name_len, i, start = buf_len(out);
	int wsp = 0, any = 0, rc = 0;

	if (colon == NULL)
		return -1;
	if (!relaxed) {
		if (len >= 2 && field[len - 2] == '\r' && field[len - 1] == '\n')
			len -= 2;
		rc |= buf_append(out, field, len);
		goto end;
	}
	name_len = (size_t) (colon - field);
	while (name_len > 0 && (field[name_len - 1] == ' ' ||
	    field[name_len - 1] == '\t'))
		name_len--;
	rc |= buf_append(out, field, name_len);
	if (rc == 0) {
		char *name = buf_data(out) + start;

		for (i = 0; i < name_len; i++)
			if (name[i] >= 'A' && name[i] <= 'Z')
				name[i] = (char) (name[i] - 'A' + 'a');
	}
	rc |= buf_append(out, ":", 1);
	/*
	 * The value a run of other bytes at a time (a signature's b= is
	 * hundreds): CR and LF dropped, each WSP run one SP between runs.
	 */
	for (p = colon + 1; p < end; p = run) {
		if (*p == '\r' || *p == '\n' || *p == ' ' || *p == '\t') {
			wsp |= *p == ' ' || *p == '\t';
			run = p + 1;
			continue;
		}
		for (run = p; run < end && *run != '\r' && *run != '\n' &&
		    *run != ' ' && *run != '\t'; run++)
			;
		if (wsp && any)
			rc |= buf_append(out, " ", 1);
		wsp = 0;
		any = 1;
		rc |= buf_append(out, p, (size_t) (run - p));
	}
end:
	if (crlf)
		rc |= buf_append_str(out, "\r\n");
	if (rc != 0) {
		buf_truncate(out, start);
		return -1;
	}
	return 0;
}

struct dkim_body *
dkim_body_new(int relaxed, const EVP_MD *md, long long limit)
{
	struct dkim_body *b = xcalloc(1, sizeof(*b));

	b->relaxed = relaxed;
	b->limit = limit;
	b->md = EVP_MD_CTX_new();
	if (b->md == NULL || EVP_DigestInit_ex(b->md, md, NULL) != 1) {
		dkim_body_free(&b);
		return NULL;
	}
	return b;
}

void
dkim_body_free(struct dkim_body **bp)
{
	struct dkim_body *b = *bp;

	if (b == NULL)
		return;
	EVP_MD_CTX_free(b->md);
	free(b);
	*bp = NULL;
}

static void
body_flush(struct dkim_body *b)
{
	if (b->batch_len > 0 &&
	    EVP_DigestUpdate(b->md, b->batch, b->batch_len) != 1)
		b->failed = 1;
	b->batch_len = 0;
}

/* n canonical bytes at p; past l=: counted, not hashed. */
static void
body_put_bytes(struct dkim_body *b, const unsigned char *p, size_t n)
{
	unsigned long long hashed = n;
	size_t room, take;

	if (b->limit >= 0)
		hashed = b->length >= (unsigned long long) b->limit ? 0 :
		    (unsigned long long) b->limit - b->length < n ?
		    (unsigned long long) b->limit - b->length : n;
	while (hashed > 0) {
		room = sizeof(b->batch) - b->batch_len;
		if (room == 0) {
			body_flush(b);
			continue;
		}
		take = hashed < room ? (size_t) hashed : room;
		memcpy(b->batch + b->batch_len, p, take);
		b->batch_len += take;
		p += take;
		hashed -= take;
	}
	b->length += n;
}

static void
body_put(struct dkim_body *b, unsigned char c)
{
	body_put_bytes(b, &c, 1);
}

/*
 * n bytes of content that are not line ends (nor WSP, relaxed): what is
 * pending goes first.
 */
static void
body_content(struct dkim_body *b, const unsigned char *p, size_t n)
{
	for (; b->crlf_pending > 0; b->crlf_pending--) {
		body_put(b, '\r');
		body_put(b, '\n');
	}
	if (b->wsp_pending)
		body_put(b, ' ');
	b->wsp_pending = 0;
	body_put_bytes(b, p, n);
	b->nonempty = 1;
}

/*
 * Simple (3.4.3): empty lines at the end go.  Relaxed (3.4.4) also: WSP
 * runs become one SP, WSP at a line's end goes.  Runs of plain content
 * are copied whole.
 */
void
dkim_body_feed(struct dkim_body *b, const void *data, size_t len)
{
	static const unsigned char cr = '\r';
	const unsigned char *p = data, *end = p + len, *run;

	while (p < end) {
		unsigned char c = *p;

		if (b->cr_pending) {
			b->cr_pending = 0;
			if (c == '\n') {
				b->wsp_pending = 0;
				b->crlf_pending++;
				p++;
				continue;
			}
			body_content(b, &cr, 1);
		}
		if (c == '\r' || (b->relaxed && (c == ' ' || c == '\t'))) {
			if (c == '\r')
				b->cr_pending = 1;
			else
				b->wsp_pending = 1;
			p++;
			continue;
		}
		/*
		 * The run goes on to a CR; relaxed, to WSP but one SP
		 * between content, which is its own canonical form.
		 */
		for (run = p + 1; run < end && *run != '\r'; run++) {
			if (b->relaxed && (*run == '\t' || (*run == ' ' &&
			    (run + 1 == end || run[1] == ' ' ||
			    run[1] == '\t' || run[1] == '\r'))))
				break;
		}
		body_content(b, p, (size_t) (run - p));
		p = run;
	}
}

int
dkim_body_finish(struct dkim_body *b, unsigned char *md,
	unsigned int *md_len_r, unsigned long long *length_r)
{
	static const unsigned char cr = '\r';

	/* A CR at the very end is content. */
	if (b->cr_pending)
		body_content(b, &cr, 1);
	b->cr_pending = 0;
	if (b->nonempty || !b->relaxed) {
		/* The last line's CRLF; simple makes an empty body one CRLF. */
		body_put(b, '\r');
		body_put(b, '\n');
	}
	body_flush(b);
	if (length_r != NULL)
		*length_r = b->length;
	if (b->failed || EVP_DigestFinal_ex(b->md, md, md_len_r) != 1)
		return -1;
	return 0;
}

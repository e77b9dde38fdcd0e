/*
 * dkim_canon: DKIM canonicalization (RFC 6376 3.4), shared by the signer
 * (dkim_sign) and the verifier (dkim_verify).
 *
 * Header fields: dkim_canon_field() appends one field in simple (as it
 * is) or relaxed (3.4.2) form.  Body: a dkim_body canonicalizes and
 * hashes as the body streams, in pieces of any size, in time linear in
 * its length and constant memory: empty lines at the end are a counter
 * until content follows.  A body without a final CRLF gets one (3.4.3,
 * 3.4.4); a bare CR or LF is content (dkimpy agrees on CR; it makes a
 * bare LF a line end, libopendkim both).  A limit (l=, 3.5) hashes only
 * that many canonical bytes; the whole length is still counted.
 */
#ifndef ISPMAIL_DKIM_CANON_H
#define ISPMAIL_DKIM_CANON_H

#include <stddef.h>

#include <openssl/evp.h>

struct buf;
struct dkim_body;

/* One header field (plain record): pointers into the header. */
struct dkim_field {
	const char *text;		/* "Name: value" with its folds */
	size_t len;			/* with its line end */
	size_t name_len;		/* the name, WSP before ':' not */
};

/* Where dkim_header_take is; 0 to start. */
enum dkim_header_state {
	DKIM_HEADER_LINE_START = 0,
	DKIM_HEADER_LINE_START_CR,
	DKIM_HEADER_IN_LINE,
	DKIM_HEADER_DONE,		/* the empty line was seen */
};

/*
 * Keep the header's bytes of data (len) in header, up to and with the
 * empty line: how many of data's bytes belong to the header (the rest is
 * body).  -1 in *overflow_r when header's cap was passed (that line is
 * not kept, the scan goes on).
 */
size_t dkim_header_take(struct buf *header, enum dkim_header_state *state,
	int *overflow_r, const void *data, size_t len);
/*
 * The fields of header h (len bytes), top to bottom, to its end or the
 * empty line; lines without a colon are passed over.  Count in *n_r;
 * caller frees (NULL when none).
 */
struct dkim_field *dkim_header_fields(const char *h, size_t len,
	size_t *n_r);

/*
 * Append field (len bytes: "Name: value" with its folds, with or without
 * a final line end) to out; relaxed: the name in lower case, no line
 * ends, WSP runs one SP, none around the colon or at the ends of the
 * value; then CRLF when crlf.  Simple: the bytes as they are, less a
 * final CRLF, then CRLF when crlf.  -1 without a colon or past out's cap.
 */
int dkim_canon_field(struct buf *out, const char *field, size_t len,
	int relaxed, int crlf);

/*
 * A body hash: relaxed or simple, md (EVP_sha256() ...), at most limit
 * canonical bytes hashed (-1: all).  NULL when the digest cannot start.
 */
struct dkim_body *dkim_body_new(int relaxed, const EVP_MD *md,
	long long limit);
void dkim_body_feed(struct dkim_body *b, const void *data, size_t len);
/*
 * The end: the digest into md (EVP_MAX_MD_SIZE), its length in *md_len_r,
 * the canonical length of the whole body in *length_r (may be NULL).
 * -1 when hashing failed.  Once.
 */
int dkim_body_finish(struct dkim_body *b, unsigned char *md,
	unsigned int *md_len_r, unsigned long long *length_r);
void dkim_body_free(struct dkim_body **bp);

#endif

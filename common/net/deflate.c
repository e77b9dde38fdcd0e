/* deflate: COMPRESS=DEFLATE as a stream transport (see deflate.h). */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#define ZLIB_CONST
#include <zlib.h>

#include "deflate.h"
#include "stream.h"
#include "xalloc.h"

#define DEFLATE_BUF_SIZE 16384	/* compressed bytes read per call */

struct deflate_conn {
	const struct stream_transport *inner;
	void *inner_ctx;
	z_stream in;		/* inflate: the peer's bytes */
	z_stream out;		/* deflate: ours */
	unsigned char *in_buf;	/* compressed input not inflated yet */
	unsigned char *out_buf;	/* compressed output not written yet */
	size_t out_len, out_sent, out_alloc;
	size_t accepted;	/* plain bytes behind out_buf */
	int in_ended;		/* the peer ended its deflate stream */
	int in_more;		/* inflate filled the caller's buffer: it
				   may hold more output without input */
};

static ssize_t
deflate_read(void *ctx, void *data, size_t len, int *want_write_r)
{
	struct deflate_conn *d = ctx;
	ssize_t n;
	size_t produced;
	int rc;

	if (len > DEFLATE_BUF_SIZE * 4)
		len = DEFLATE_BUF_SIZE * 4;
	for (;;) {
		if (d->in.avail_in > 0 || d->in_more) {
			d->in.next_out = data;
			d->in.avail_out = (uInt) len;
			rc = inflate(&d->in, Z_SYNC_FLUSH);
			if (rc == Z_STREAM_END)
				d->in_ended = 1;
			else if (rc != Z_OK && rc != Z_BUF_ERROR) {
				errno = EPROTO;
				return -1;
			}
			produced = len - d->in.avail_out;
			d->in_more = d->in.avail_out == 0;
			if (produced > 0)
				return (ssize_t) produced;
			/* No output although input was left: corrupt. */
			if (d->in.avail_in > 0 && !d->in_ended) {
				errno = EPROTO;
				return -1;
			}
		}
		if (d->in_ended)
			return 0;	/* EOF: nothing may follow */
		n = d->inner->read(d->inner_ctx, d->in_buf, DEFLATE_BUF_SIZE,
		    want_write_r);
		if (n <= 0)
			return n;
		d->in.next_in = d->in_buf;
		d->in.avail_in = (uInt) n;
	}
}

/* Write what is left of out_buf; 0 all out, -1 (errno, EAGAIN too). */
static int
deflate_push(struct deflate_conn *d, int *want_read_r)
{
	ssize_t n;

	while (d->out_sent < d->out_len) {
		n = d->inner->write(d->inner_ctx, d->out_buf + d->out_sent,
		    d->out_len - d->out_sent, want_read_r);
		if (n < 0)
			return -1;
		d->out_sent += (size_t) n;
	}
	d->out_len = d->out_sent = 0;
	return 0;
}

static ssize_t
deflate_write(void *ctx, const void *data, size_t len, int *want_read_r)
{
	struct deflate_conn *d = ctx;
	size_t taken;
	int rc;

	/* Bytes compressed by an earlier call are reported once out. */
	if (d->accepted > 0) {
		if (deflate_push(d, want_read_r) < 0)
			return -1;
		taken = d->accepted < len ? d->accepted : len;
		d->accepted = 0;
		return (ssize_t) taken;
	}
	if (len > DEFLATE_BUF_SIZE * 4)
		len = DEFLATE_BUF_SIZE * 4;
	d->out.next_in = data;
	d->out.avail_in = (uInt) len;
	do {
		if (d->out_alloc - d->out_len < 64 + len / 2) {
			d->out_alloc = xalloc_add(xalloc_add(d->out_alloc,
			    len), 256);
			d->out_buf = xrealloc(d->out_buf, d->out_alloc);
		}
		d->out.next_out = d->out_buf + d->out_len;
		d->out.avail_out = (uInt) (d->out_alloc - d->out_len);
		rc = deflate(&d->out, Z_SYNC_FLUSH);
		if (rc != Z_OK && rc != Z_BUF_ERROR) {
			errno = EPROTO;
			return -1;
		}
		d->out_len = d->out_alloc - d->out.avail_out;
	} while (d->out.avail_in > 0 || d->out.avail_out == 0);
	d->accepted = len;
	if (deflate_push(d, want_read_r) < 0)
		return -1;
	d->accepted = 0;
	return (ssize_t) len;
}

static size_t
deflate_pending(void *ctx)
{
	struct deflate_conn *d = ctx;
	size_t inner = d->inner->pending != NULL ?
	    d->inner->pending(d->inner_ctx) : 0;

	return d->in.avail_in + (size_t) d->in_more + inner;
}

static const struct stream_transport deflate_transport = {
	deflate_read,
	deflate_write,
	deflate_pending,
};

struct deflate_conn *
deflate_start(struct stream *s, char **error_r)
{
	struct deflate_conn *d = xcalloc(1, sizeof(*d));

	/* Raw deflate (negative window bits), as RFC 4978 4 says. */
	if (inflateInit2(&d->in, -15) != Z_OK) {
		*error_r = xstrdup("inflateInit2 failed");
		free(d);
		return NULL;
	}
	if (deflateInit2(&d->out, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8,
	    Z_DEFAULT_STRATEGY) != Z_OK) {
		inflateEnd(&d->in);
		*error_r = xstrdup("deflateInit2 failed");
		free(d);
		return NULL;
	}
	d->in_buf = xmalloc(DEFLATE_BUF_SIZE);
	stream_get_transport(s, &d->inner, &d->inner_ctx);
	stream_set_transport(s, &deflate_transport, d);
	return d;
}

void
deflate_conn_free(struct deflate_conn **dp)
{
	struct deflate_conn *d = *dp;

	if (d == NULL)
		return;
	inflateEnd(&d->in);
	deflateEnd(&d->out);
	free(d->in_buf);
	free(d->out_buf);
	free(d);
	*dp = NULL;
}

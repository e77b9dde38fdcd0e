/* buf: growable, length-counted, capped byte buffer. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "xalloc.h"

struct buf {
	char *data;		/* len bytes, then a NUL */
	size_t len;
	size_t size;		/* allocated, > len */
	size_t cap;		/* len never exceeds this */
};

#define BUF_MIN_SIZE 64

struct buf *
buf_new(size_t cap)
{
	struct buf *b = xmalloc(sizeof(*b));

	if (cap == 0)
		log_panic("buf_new: zero cap");
	b->size = BUF_MIN_SIZE;
	b->data = xmalloc(b->size);
	b->data[0] = '\0';
	b->len = 0;
	b->cap = cap;
	return b;
}

void
buf_free(struct buf **bp)
{
	if (*bp == NULL)
		return;
	free((*bp)->data);
	free(*bp);
	*bp = NULL;
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	b->data[0] = '\0';
}

int
buf_set_cap(struct buf *b, size_t cap)
{
	if (cap == 0 || b->len > cap)
		return -1;
	b->cap = cap;
	return 0;
}

size_t
buf_cap(const struct buf *b)
{
	return b->cap;
}

/* Make room for len more bytes plus the NUL; -1 past the cap. */
static int
buf_reserve(struct buf *b, size_t len)
{
	size_t need, size;

	/* The second test keeps len + NUL from wrapping when cap is huge. */
	if (len > b->cap - b->len || len >= ((size_t) -1) - b->len)
		return -1;
	need = b->len + len + 1;
	if (need <= b->size)
		return 0;
	size = b->size;
	while (size < need)
		size = size > ((size_t) -1) / 2 ? need : size * 2;
	b->data = xrealloc(b->data, size);
	b->size = size;
	return 0;
}

int
buf_append(struct buf *b, const void *data, size_t len)
{
	if (buf_reserve(b, len) < 0)
		return -1;
	/* memmove: buf_set() may be given a part of b's own data. */
	if (len > 0)
		memmove(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int
buf_append_str(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int
buf_append_char(struct buf *b, char c)
{
	return buf_append(b, &c, 1);
}

int
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list copy;
	int n;

	va_copy(copy, ap);
	n = vsnprintf(b->data + b->len, b->size - b->len, fmt, copy);
	va_end(copy);
	if (n < 0)
		log_panic("buf_vprintf: bad format \"%s\"", fmt);
	if ((size_t) n < b->size - b->len && (size_t) n <= b->cap - b->len) {
		b->len += (size_t) n;
		return 0;
	}
	b->data[b->len] = '\0';
	if (buf_reserve(b, (size_t) n) < 0)
		return -1;
	va_copy(copy, ap);
	(void) vsnprintf(b->data + b->len, b->size - b->len, fmt, copy);
	va_end(copy);
	b->len += (size_t) n;
	return 0;
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

int
buf_set(struct buf *b, const void *data, size_t len)
{
	if (len > b->cap)
		return -1;
	buf_reset(b);
	return buf_append(b, data, len);
}

const char *
buf_cstr(const struct buf *b)
{
	return b->data;
}

char *
buf_data(struct buf *b)
{
	return b->data;
}

size_t
buf_len(const struct buf *b)
{
	return b->len;
}

void
buf_truncate(struct buf *b, size_t len)
{
	if (len > b->len)
		log_panic("buf_truncate: %zu past length %zu", len, b->len);
	b->len = len;
	b->data[len] = '\0';
}

void
buf_consume(struct buf *b, size_t n)
{
	if (n > b->len)
		log_panic("buf_consume: %zu past length %zu", n, b->len);
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

void
buf_rtrim(struct buf *b, const char *chars)
{
	while (b->len > 0 && strchr(chars, b->data[b->len - 1]) != NULL
	    && b->data[b->len - 1] != '\0')
		b->len--;
	b->data[b->len] = '\0';
}

char *
buf_strdup(const struct buf *b)
{
	return xmemdup(b->data, b->len);
}

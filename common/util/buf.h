/*
 * buf: the one growable byte buffer for every byte that comes in.
 *
 * A buf is length-counted and binary safe; a NUL is always kept after the
 * data so buf_cstr() can be used for text.  Each buf has a hard cap on its
 * length: an append that would pass it fails with -1 and changes nothing,
 * so the caller answers in its protocol's words.  Nothing is ever silently
 * truncated.  The buf owns its storage; buf_free() releases it and NULLs
 * the caller's pointer.  Allocation failure is fatal (xalloc).
 */
#ifndef ISPMAIL_BUF_H
#define ISPMAIL_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf;

/* Cap used by callers that have no better limit: 1 MiB. */
#define BUF_DEFAULT_CAP (1024 * 1024)

/* A new, empty buf whose length may never exceed cap bytes (cap > 0). */
struct buf *buf_new(size_t cap);
/* Free b and set *bp to NULL; NULL is allowed. */
void buf_free(struct buf **bp);

/* Empty b, keeping its storage and cap. */
void buf_reset(struct buf *b);
/* Change the cap; fails with -1 when the data is already longer. */
int buf_set_cap(struct buf *b, size_t cap);
size_t buf_cap(const struct buf *b);

/* Append len bytes; 0 ok, -1 when the result would exceed the cap. */
int buf_append(struct buf *b, const void *data, size_t len);
int buf_append_str(struct buf *b, const char *s);
int buf_append_char(struct buf *b, char c);
/* Append formatted text; -1 (and b unchanged) when it would pass the cap. */
int buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* Replace the contents with data; -1 (b unchanged) past the cap. */
int buf_set(struct buf *b, const void *data, size_t len);

/* The data, NUL-terminated (the NUL is not counted in buf_len()). */
const char *buf_cstr(const struct buf *b);
/* The data for in-place editing (len bytes plus the trailing NUL). */
char *buf_data(struct buf *b);
size_t buf_len(const struct buf *b);

/* Shorten to len bytes (len > buf_len() panics: a caller bug). */
void buf_truncate(struct buf *b, size_t len);
/* Drop the first n bytes (n > buf_len() panics). */
void buf_consume(struct buf *b, size_t n);
/* Strip trailing bytes found in chars (e.g. " \t\r\n"). */
void buf_rtrim(struct buf *b, const char *chars);
/* A copy of the data as a new NUL-terminated string (caller frees). */
char *buf_strdup(const struct buf *b);

#endif

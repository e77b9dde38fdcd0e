/*
 * xalloc: memory allocation that never returns NULL.
 *
 * Every function logs a fatal error and exits when memory runs out, so
 * callers never check.  Size arithmetic that depends on input goes through
 * xalloc_mul()/xalloc_add(), which treat overflow as a fatal error too.
 */
#ifndef ISPMAIL_XALLOC_H
#define ISPMAIL_XALLOC_H

#include <stddef.h>

/* Allocate size bytes (size 0 is allowed and returns a unique pointer). */
void *xmalloc(size_t size);
/* Allocate nmemb * size zeroed bytes; overflow is fatal. */
void *xcalloc(size_t nmemb, size_t size);
/* Resize ptr (may be NULL) to size bytes. */
void *xrealloc(void *ptr, size_t size);
/* Resize ptr to nmemb * size bytes; overflow is fatal. */
void *xreallocarray(void *ptr, size_t nmemb, size_t size);
/* Copy a NUL-terminated string. */
char *xstrdup(const char *s);
/* Copy at most len bytes of s and NUL-terminate the copy. */
char *xstrndup(const char *s, size_t len);
/* Copy exactly len bytes (binary safe) and add a NUL after them. */
char *xmemdup(const void *data, size_t len);
/* a * b, or fatal on overflow. */
size_t xalloc_mul(size_t a, size_t b);
/* a + b, or fatal on overflow. */
size_t xalloc_add(size_t a, size_t b);
/* Format into a new string (asprintf that cannot fail). */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Free *ptr and set it to NULL. */
#define xfree(ptr) do { free(ptr); (ptr) = NULL; } while (0)

#endif

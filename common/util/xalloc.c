/* xalloc: allocation that logs fatal instead of returning NULL. */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "xalloc.h"

void *
xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (p == NULL)
		log_fatal("out of memory allocating %zu bytes", size);
	return p;
}

void *
xcalloc(size_t nmemb, size_t size)
{
	void *p;

	(void) xalloc_mul(nmemb, size);
	p = calloc(nmemb ? nmemb : 1, size ? size : 1);
	if (p == NULL)
		log_fatal("out of memory allocating %zu x %zu bytes", nmemb, size);
	return p;
}

void *
xrealloc(void *ptr, size_t size)
{
	void *p = realloc(ptr, size ? size : 1);

	if (p == NULL)
		log_fatal("out of memory reallocating to %zu bytes", size);
	return p;
}

void *
xreallocarray(void *ptr, size_t nmemb, size_t size)
{
	return xrealloc(ptr, xalloc_mul(nmemb, size));
}

char *
xstrdup(const char *s)
{
	return xmemdup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t len)
{
	const char *end = memchr(s, '\0', len);

	return xmemdup(s, end != NULL ? (size_t) (end - s) : len);
}

char *
xmemdup(const void *data, size_t len)
{
	char *p = xmalloc(xalloc_add(len, 1));

	if (len > 0)
		memcpy(p, data, len);
	p[len] = '\0';
	return p;
}

size_t
xalloc_mul(size_t a, size_t b)
{
	if (b != 0 && a > SIZE_MAX / b)
		log_fatal("size overflow: %zu * %zu", a, b);
	return a * b;
}

size_t
xalloc_add(size_t a, size_t b)
{
	if (a > SIZE_MAX - b)
		log_fatal("size overflow: %zu + %zu", a, b);
	return a + b;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		log_fatal("out of memory formatting a string");
	return s;
}

/*
 * strhash: FNV-1a over a NUL-terminated string, for tables that place
 * keys by hash (open addressing in shared files, chained sets).  Not for
 * tables a client fills with chosen keys in one process unless probes
 * are capped: FNV is not keyed.
 */
#ifndef ISPMAIL_STRHASH_H
#define ISPMAIL_STRHASH_H

#include <stdint.h>

static inline uint32_t
strhash_fnv1a(const char *s)
{
	uint32_t h = 2166136261U;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char) *s) * 16777619U;
	return h;
}

#endif

/*
 * hash: FNV-1a string hashes for in-memory tables and the metrics file.
 *
 * The 32-bit and 64-bit variants of Fowler/Noll/Vo FNV-1a, with the
 * published offset bases and primes.  The metrics shared memory keeps
 * fnv1a32 values, so its results must never change.  Not for anything an
 * attacker can aim at where collisions matter: use hash_keyed (SipHash
 * under a random key of the process, siphash.c) there.
 */
#ifndef ISPMAIL_HASH_H
#define ISPMAIL_HASH_H

#include <stddef.h>
#include <stdint.h>

#define FNV1A32_BASIS 2166136261U
#define FNV1A32_PRIME 16777619U
#define FNV1A64_BASIS 14695981039346656037ULL
#define FNV1A64_PRIME 1099511628211ULL

/* FNV-1a (32 bits) of a NUL-terminated string. */
static inline uint32_t
fnv1a32(const char *s)
{
	uint32_t h = FNV1A32_BASIS;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char) *s) * FNV1A32_PRIME;
	return h;
}

/* Continue a 64-bit FNV-1a from h over len bytes. */
static inline uint64_t
fnv1a64_update(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ p[i]) * FNV1A64_PRIME;
	return h;
}

/* FNV-1a (64 bits) of a NUL-terminated string. */
static inline uint64_t
fnv1a64(const char *s)
{
	uint64_t h = FNV1A64_BASIS;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char) *s) * FNV1A64_PRIME;
	return h;
}

/* SipHash-2-4 and SipHash-1-3 of len bytes under a 16-byte key. */
uint64_t siphash24(const unsigned char key[16], const void *data, size_t len);
uint64_t siphash13(const unsigned char key[16], const void *data, size_t len);

/*
 * SipHash-1-3 under a key drawn at random once per process: for hash
 * tables whose keys come from outside (bucket = hash & (buckets - 1)).
 * The values differ between processes; never store them.
 */
uint64_t hash_keyed(const void *data, size_t len);
uint64_t hash_keyed_str(const char *s);

#endif

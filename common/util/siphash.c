/*
 * siphash: SipHash (Aumasson and Bernstein, 2012), a keyed hash for
 * in-memory tables whose keys an outsider chooses (addresses, message
 * ids, domain names): without the key nobody can aim many keys at one
 * bucket.  Written from the paper's description.
 */
#include "config.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "hash.h"

#define ROTL(x, b) (uint64_t) (((x) << (b)) | ((x) >> (64 - (b))))

#define SIPROUND(v0, v1, v2, v3) do {					\
	v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);	\
	v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;				\
	v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;				\
	v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);	\
} while (0)

static uint64_t
le64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* SipHash-c-d of len bytes under the 128-bit key (k0, k1). */
static uint64_t
siphash_cd(int c, int d, uint64_t k0, uint64_t k1, const void *data,
	size_t len)
{
	const unsigned char *p = data;
	uint64_t v0 = k0 ^ 0x736f6d6570736575ULL;
	uint64_t v1 = k1 ^ 0x646f72616e646f6dULL;
	uint64_t v2 = k0 ^ 0x6c7967656e657261ULL;
	uint64_t v3 = k1 ^ 0x7465646279746573ULL;
	uint64_t m, b = (uint64_t) len << 56;
	size_t left = len;
	int i;

	for (; left >= 8; p += 8, left -= 8) {
		m = le64(p);
		v3 ^= m;
		for (i = 0; i < c; i++)
			SIPROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	for (i = (int) left - 1; i >= 0; i--)
		b |= (uint64_t) p[i] << (8 * i);
	v3 ^= b;
	for (i = 0; i < c; i++)
		SIPROUND(v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	for (i = 0; i < d; i++)
		SIPROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t
siphash24(const unsigned char key[16], const void *data, size_t len)
{
	return siphash_cd(2, 4, le64(key), le64(key + 8), data, len);
}

uint64_t
siphash13(const unsigned char key[16], const void *data, size_t len)
{
	return siphash_cd(1, 3, le64(key), le64(key + 8), data, len);
}

static uint64_t table_key[2];
static pthread_once_t table_key_once = PTHREAD_ONCE_INIT;

static void
table_key_init(void)
{
	struct timespec ts;

	if (getrandom(table_key, sizeof(table_key), GRND_NONBLOCK) ==
	    (ssize_t) sizeof(table_key))
		return;
	/* No entropy yet (early boot): unpredictable enough for buckets. */
	(void) clock_gettime(CLOCK_MONOTONIC, &ts);
	table_key[0] = (uint64_t) ts.tv_nsec ^ ((uint64_t) getpid() << 32) ^
	    (uint64_t) (uintptr_t) &ts;
	table_key[1] = (uint64_t) ts.tv_sec ^ (uint64_t) (uintptr_t) table_key;
}

uint64_t
hash_keyed(const void *data, size_t len)
{
	(void) pthread_once(&table_key_once, table_key_init);
	return siphash_cd(1, 3, table_key[0], table_key[1], data, len);
}

uint64_t
hash_keyed_str(const char *s)
{
	return hash_keyed(s, strlen(s));
}

/*
 * fuzz_imap_envcache: imapd's reader of the folder's envelope cache
 * (imap_envcache_load) on the input as the file's contents, damaged or
 * truncated anywhere.  It must never crash or read out of bounds, and a
 * record put afterwards must read back exactly.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "imap_envcache.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char base[] = "1700000000.M1P1Q1.fuzz,S=10,W=12";
	struct imap_envcache *cache;
	const char *env;
	size_t len, env_len = size < 64 ? size : 64;
	int damaged;

	fuzz_init();
	cache = imap_envcache_new();
	(void) imap_envcache_load(cache, (const char *) data, size, &damaged);
	/* Whatever was read, a new record reads back as it was put. */
	imap_envcache_put(cache, base, sizeof(base) - 1, 10, 1700000000,
	    (const char *) data, env_len);
	env = imap_envcache_get(cache, base, sizeof(base) - 1, 10, 1700000000,
	    &len);
	if (env == NULL || len != env_len || memcmp(env, data, len) != 0)
		abort();
	if (imap_envcache_get(cache, base, sizeof(base) - 1, 11, 1700000000,
	    &len) != NULL)
		abort();
	imap_envcache_free(&cache);
	return 0;
}

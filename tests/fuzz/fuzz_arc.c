/*
 * fuzz_arc: ARC chains (arc.h) in untrusted messages: the input up to
 * its first NUL is a message, the rest every key record the chain's
 * check asks for.  A sealer with a fixed RSA key feeds it in pieces,
 * checks and seals it: the outcome is one of three, a set has its three
 * fields in the form the queue file takes, i= within 1..50, and a chain
 * cannot pass with key records that are the input's bytes.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "arc.h"
#include "fuzz.h"
#include "qfile.h"

static EVP_PKEY *key;
static struct dkim_pubcache *cache;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *) data, *record = NULL;
	const char *nul = memchr(data, '\0', size), *reason = NULL;
	size_t msg_len = nul != NULL ? (size_t) (nul - text) : size;
	size_t rec_len = 0, i, n, step;
	struct arc_sealer *a;
	char *fields[3], *error = NULL;
	enum arc_cv cv = ARC_CV_NONE;
	int rc, instance = 0;

	fuzz_init();
	if (key == NULL) {
		/* Once a process: the sealer only signs with it. */
		key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 1024);
		cache = dkim_pubcache_new(4);
		if (key == NULL)
			abort();
	}
	if (nul != NULL) {
		record = nul + 1;
		rec_len = size - msg_len - 1;
	}
	a = arc_sealer_new(key, "fwd.test", "sel", cache, 1700000000LL,
	    &error);
	if (a == NULL)
		abort();
	step = size > 0 ? (size_t) data[0] % 13 + 1 : 1;
	for (i = 0; i < msg_len; i += step)
		arc_sealer_chunk(a, text + i,
		    msg_len - i < step ? msg_len - i : step);
	arc_sealer_finish(a);
	n = arc_sealer_key_count(a);
	if (n > ARC_INSTANCE_MAX + 1)
		abort();
	for (i = 0; i < n; i++)
		if (arc_sealer_key_name(a, i) != NULL)
			arc_sealer_key(a, i, record != NULL ?
			    DKIM_LOOKUP_FOUND : DKIM_LOOKUP_NONE, record,
			    rec_len);
	rc = arc_sealer_seal(a, " mx.test; dkim=none", 1700000000LL, fields,
	    &cv, &instance, &reason);
	if (reason == NULL || rc < -1 || rc > 1)
		abort();
	if (rc == 1) {
		if (instance < 1 || instance > ARC_INSTANCE_MAX ||
		    (cv == ARC_CV_PASS && n > 0))
			abort();
		for (i = 0; i < 3; i++) {
			if (!qfile_header_field_valid(fields[i]))
				abort();
			free(fields[i]);
		}
	} else if (fields[0] != NULL || fields[1] != NULL ||
	    fields[2] != NULL) {
		abort();
	}
	arc_sealer_free(&a);
	return 0;
}

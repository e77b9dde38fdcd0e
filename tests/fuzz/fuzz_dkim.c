/*
 * fuzz_dkim: DKIM's untrusted text (dkim_record.h, dkim_verify.h): the
 * input as a DKIM-Signature value and as a key record, then as a message
 * (up to the first NUL) verified with the rest as every signature's key
 * record.  What parses keeps its limits; every signature is decided; a
 * pass needs a real signature, which random bytes are not.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "dkim_record.h"
#include "dkim_verify.h"
#include "dkim_keys.h"
#include "fuzz.h"

static struct dkim_pubcache *cache;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *) data, *record = NULL;
	const char *nul = memchr(data, '\0', size), *error = NULL;
	struct dkim_verifier *v;
	struct dkim_keyrec k;
	struct dkim_sig sig;
	size_t msg_len = nul != NULL ? (size_t) (nul - text) : size;
	size_t rec_len = 0, i, n, step;

	fuzz_init();
	if (cache == NULL)
		cache = dkim_pubcache_new(4);
	if (dkim_sig_parse(text, size, &sig, &error) == 0) {
		if (size > DKIM_SIG_MAX || !dkim_domain_valid(sig.domain) ||
		    !dkim_sig_selector_valid(sig.selector) ||
		    sig.header_count == 0 ||
		    sig.header_count > DKIM_SIG_HEADERS_MAX ||
		    sig.b_start > sig.b_end || sig.b_end > size ||
		    sig.b_len == 0 || sig.b_len > DKIM_SIG_B_MAX ||
		    sig.bh_len > sizeof(sig.bh))
			abort();
		dkim_sig_clear(&sig);
	} else if (error == NULL) {
		abort();
	}
	error = NULL;
	if (dkim_keyrec_parse(text, size, &k, &error) == 0) {
		if (k.p < text || k.p + k.p_len > text + size)
			abort();
	} else if (error == NULL) {
		abort();
	}
	if (nul != NULL) {
		record = nul + 1;
		rec_len = size - msg_len - 1;
	}
	v = dkim_verifier_new(cache, 1700000000LL);
	step = size > 0 ? (size_t) data[0] % 13 + 1 : 1;
	for (i = 0; i < msg_len; i += step)
		dkim_verifier_chunk(v, text + i,
		    msg_len - i < step ? msg_len - i : step);
	dkim_verifier_finish(v);
	n = dkim_verifier_count(v);
	if (n > DKIM_VERIFY_SIGS)
		abort();
	for (i = 0; i < n; i++)
		if (dkim_verifier_key_name(v, i) != NULL)
			dkim_verifier_key(v, i, record != NULL ?
			    DKIM_LOOKUP_FOUND : DKIM_LOOKUP_NONE, record,
			    rec_len);
	for (i = 0; i < n; i++) {
		const struct dkim_verify_result *r = dkim_verifier_result(v, i);

		if (r->result == DKIM_RESULT_NONE || r->reason == NULL)
			abort();
	}
	dkim_verifier_free(&v);
	return 0;
}

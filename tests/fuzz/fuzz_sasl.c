/*
 * fuzz_sasl: base64 decoding and the SASL PLAIN split (sasl.h), as
 * smtpd, popd and imapd run them on a client's AUTH response; a decoded
 * response encodes and decodes back to the same bytes (not always to
 * the same text: non-zero pad bits are accepted, RFC 4648 3.5 allows it).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fuzz.h"
#include "sasl.h"

static void
plain_check(const struct buf *decoded)
{
	char *authzid = NULL, *authcid = NULL, *password = NULL;
	const char *error = NULL;

	if (sasl_plain_parse(decoded, &authzid, &authcid, &password,
	    &error) == 0) {
		if (authzid == NULL || authcid[0] == '\0' ||
		    password[0] == '\0')
			abort();
		free(authzid);
		free(authcid);
		free(password);
	} else if (error == NULL) {
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf *decoded = buf_new(4096), *text = buf_new(8192);
	struct buf *again = buf_new(4096);

	fuzz_init();
	if (base64_decode((const char *) data, size, decoded) == 0) {
		/* Padding is required, so the length is the same. */
		if (base64_encode(buf_data(decoded), buf_len(decoded),
		    text) != 0 || buf_len(text) != size ||
		    base64_decode(buf_data(text), buf_len(text), again) != 0 ||
		    buf_len(again) != buf_len(decoded) ||
		    memcmp(buf_data(again), buf_data(decoded),
		    buf_len(again)) != 0)
			abort();
		plain_check(decoded);
	}
	/* The raw bytes as a decoded response too. */
	buf_reset(decoded);
	if (buf_append(decoded, data, size) == 0)
		plain_check(decoded);
	buf_free(&decoded);
	buf_free(&text);
	buf_free(&again);
	return 0;
}

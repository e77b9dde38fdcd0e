/*
 * fuzz_attr: the internal attribute protocol (attr.h), both decoders:
 * attr_parse() on the whole input and attr_read() on it as a stream in
 * small pieces.  A decoded record encodes back into one that decodes to
 * the same attributes.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "attr.h"
#include "buf.h"
#include "fuzz.h"
#include "stream.h"

#define FUZZ_ATTR_COUNT 64
#define FUZZ_ATTR_VALUE 1024

static void
roundtrip(const struct attr_list *l)
{
	struct attr_list *again = attr_list_new(FUZZ_ATTR_COUNT,
	    FUZZ_ATTR_VALUE);
	struct buf *rec = buf_new(FUZZ_ATTR_COUNT * (FUZZ_ATTR_VALUE * 3 +
	    ATTR_NAME_MAX + 2) + 1);
	const char *name, *value, *v2, *error;
	size_t i, len, len2;

	for (i = 0; (name = attr_nth(l, i, &value, &len)) != NULL; i++) {
		if (attr_put_data(rec, name, value, len) != 0)
			abort();
	}
	if (attr_end(rec) != 0 ||
	    attr_parse(again, buf_data(rec), buf_len(rec), &error) != 0 ||
	    attr_count(again) != attr_count(l))
		abort();
	for (i = 0; (name = attr_nth(l, i, &value, &len)) != NULL; i++) {
		if (attr_nth(again, i, &v2, &len2) == NULL || len != len2 ||
		    memcmp(value, v2, len) != 0)
			abort();
	}
	attr_list_free(&again);
	buf_free(&rec);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct attr_list *l = attr_list_new(FUZZ_ATTR_COUNT, FUZZ_ATTR_VALUE);
	struct fuzz_input in;
	struct stream *s;
	const char *error = NULL;
	long long n;
	int records;

	fuzz_init();
	if (attr_parse(l, (const char *) data, size, &error) == 0) {
		roundtrip(l);
		(void) attr_get_int(l, "size", &n);
	} else if (error == NULL || attr_count(l) != 0) {
		abort();
	}
	/* The same bytes as a peer's records, 7 bytes a read. */
	s = fuzz_stream_new(&in, data, size, 7);
	for (records = 0; records < 100; records++) {
		enum stream_status st = attr_read(s, l, &error);

		if (st == STREAM_OK)
			roundtrip(l);
		else if (st != STREAM_ERROR || strcmp(error,
		    "record too large") == 0)
			break;
	}
	stream_free(&s);
	attr_list_free(&l);
	return 0;
}

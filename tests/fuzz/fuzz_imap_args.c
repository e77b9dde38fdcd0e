/*
 * fuzz_imap_args: imapd's argument splitter and sequence sets
 * (imap_parse.h): every atom of the command is also tried as a set, and
 * a set that parses resolves to ordered ranges.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "imap_parse.h"

#define FUZZ_IMAP_ARGS 64

static void
check_args(const struct imap_arg *args, size_t count, unsigned depth)
{
	struct imap_seqset set;
	size_t i, r;

	if (depth > IMAP_PARSE_DEPTH + 1)
		abort();
	for (i = 0; i < count; i++) {
		const struct imap_arg *a = &args[i];

		if (a->type == IMAP_ARG_LIST) {
			check_args(a->list, a->count, depth + 1);
			continue;
		}
		if (a->str == NULL || a->str[a->len] != '\0')
			abort();
		if (a->type != IMAP_ARG_ATOM ||
		    imap_seqset_parse(a->str, &set) != 0)
			continue;
		imap_seqset_resolve(&set, 1000);
		for (r = 0; r < set.count; r++) {
			if (set.ranges[r][0] > set.ranges[r][1] ||
			    set.ranges[r][0] == 0 ||
			    !imap_seqset_contains(&set, set.ranges[r][0]) ||
			    !imap_seqset_contains(&set, set.ranges[r][1]))
				abort();
		}
		imap_seqset_free(&set);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_arg *args = NULL;
	struct imap_seqset set;
	const char *error = NULL;
	size_t count = 0;
	char *text;

	fuzz_init();
	/* A small cap, so inputs reach it (imap_argument_limit). */
	if (imap_parse_args((const char *) data, size, FUZZ_IMAP_ARGS, &args,
	    &count, &error) == 0) {
		if (count > FUZZ_IMAP_ARGS)
			abort();
		check_args(args, count, 0);
		imap_args_free(args, count);
	} else if (error == NULL) {
		abort();
	}
	/* The whole input as one set, as UID FETCH's first argument. */
	text = fuzz_strndup(data, size);
	if (imap_seqset_parse(text, &set) == 0) {
		imap_seqset_resolve(&set, UINT32_MAX - 1);
		(void) imap_seqset_contains(&set, 1);
		imap_seqset_free(&set);
	}
	free(text);
	return 0;
}

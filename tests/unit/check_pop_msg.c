/* check_pop_msg: popd's LF-to-CRLF, dot-stuffing and TOP filter. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "pop_msg.h"
#include "xalloc.h"

struct msg_case {
	const char *in;
	int top;
	size_t lines;
	const char *out;
};

static const struct msg_case msgs[] = {
	/* RETR */
	{ "", 0, 0, ".\r\n" },
	{ "a\n", 0, 0, "a\r\n.\r\n" },
	{ "a", 0, 0, "a\r\n.\r\n" },
	{ "a\r\nb\n", 0, 0, "a\r\nb\r\n.\r\n" },
	{ "a\rb\n", 0, 0, "a\rb\r\n.\r\n" },
	{ "a\r", 0, 0, "a\r\n.\r\n" },
	{ ".\n", 0, 0, "..\r\n.\r\n" },
	{ "..x\n.\n", 0, 0, "...x\r\n..\r\n.\r\n" },
	{ "S: x\n\n.body\nx.y\n", 0, 0,
	    "S: x\r\n\r\n..body\r\nx.y\r\n.\r\n" },
	{ "\n\n\n", 0, 0, "\r\n\r\n\r\n.\r\n" },
	{ "a\0b\n", 0, 0, NULL },	/* NUL kept: see test_nul */
	/* TOP */
	{ "H: 1\nH: 2\n\nb1\nb2\nb3\n", 1, 0, "H: 1\r\nH: 2\r\n\r\n.\r\n" },
	{ "H: 1\nH: 2\n\nb1\nb2\nb3\n", 1, 2,
	    "H: 1\r\nH: 2\r\n\r\nb1\r\nb2\r\n.\r\n" },
	{ "H: 1\n\nb1\nb2\n", 1, 100, "H: 1\r\n\r\nb1\r\nb2\r\n.\r\n" },
	{ "H: 1\n\nb1\nb2", 1, 100, "H: 1\r\n\r\nb1\r\nb2\r\n.\r\n" },
	{ "H: 1\nH: 2\n", 1, 0, "H: 1\r\nH: 2\r\n.\r\n" },
	{ "H: 1\nH: 2", 1, 3, "H: 1\r\nH: 2\r\n.\r\n" },
	{ "H: 1\r\n\r\nb1\r\nb2\r\n", 1, 1, "H: 1\r\n\r\nb1\r\n.\r\n" },
	{ "H: 1\n\n.b1\n\nb3\n", 1, 2, "H: 1\r\n\r\n..b1\r\n\r\n.\r\n" },
	{ "\nb1\nb2\n", 1, 1, "\r\nb1\r\n.\r\n" },
	{ "", 1, 0, ".\r\n" },
};

/* Run the filter with in split into chunks of chunk bytes. */
static char *
filter(const char *in, size_t len, int top, size_t lines, size_t chunk,
	size_t *out_len_r)
{
	struct pop_msg_filter f;
	char *out = xmalloc(POP_MSG_EXPANSION * len + POP_MSG_FINISH_MAX + 1);
	size_t off = 0, n = 0, step;

	pop_msg_filter_init(&f, top, lines);
	while (off < len) {
		step = len - off < chunk ? len - off : chunk;
		n += pop_msg_filter_run(&f, in + off, step, out + n);
		off += step;
	}
	n += pop_msg_filter_finish(&f, out + n);
	out[n] = '\0';
	*out_len_r = n;
	return out;
}

START_TEST(test_filter)
{
	const struct msg_case *c = &msgs[_i];
	size_t len = strlen(c->in), chunk, out_len;
	char *out;

	if (c->out == NULL)
		return;
	/* Every split point must give the same output. */
	for (chunk = 1; chunk <= len + 1; chunk++) {
		out = filter(c->in, len, c->top, c->lines, chunk, &out_len);
		ck_assert_msg(strcmp(out, c->out) == 0,
		    "case %d chunk %zu: got \"%s\"", _i, chunk, out);
		free(out);
	}
}
END_TEST

START_TEST(test_nul)
{
	static const char in[] = "a\0b\n";
	size_t out_len;
	char *out = filter(in, 4, 0, 0, 1, &out_len);

	ck_assert_uint_eq(out_len, 8);
	ck_assert(memcmp(out, "a\0b\r\n.\r\n", 8) == 0);
	free(out);
}
END_TEST

/* The output never outgrows POP_MSG_EXPANSION times the input. */
START_TEST(test_worst_case)
{
	static const char in[] = "\n.\n.\n.\n";
	struct pop_msg_filter f;
	char out[2 * sizeof(in)];
	size_t n;

	pop_msg_filter_init(&f, 0, 0);
	n = pop_msg_filter_run(&f, in, sizeof(in) - 1, out);
	ck_assert_uint_le(n, POP_MSG_EXPANSION * (sizeof(in) - 1));
	ck_assert(memcmp(out, "\r\n..\r\n..\r\n..\r\n", n) == 0);
}
END_TEST

/* TOP stops reading: done is set and further input is ignored. */
START_TEST(test_top_done)
{
	struct pop_msg_filter f;
	char out[64];
	size_t n;

	pop_msg_filter_init(&f, 1, 1);
	n = pop_msg_filter_run(&f, "H\n\nb1\nb2\n", 9, out);
	ck_assert_uint_eq(n, 9);
	ck_assert(f.done);
	ck_assert_uint_eq(pop_msg_filter_run(&f, "more\n", 5, out), 0);
	n = pop_msg_filter_finish(&f, out);
	ck_assert_uint_eq(n, 3);
}
END_TEST

static Suite *
pop_msg_suite(void)
{
	Suite *s = suite_create("pop_msg");
	TCase *tc;

	tc = tcase_create("filter");
	tcase_add_loop_test(tc, test_filter, 0, sizeof(msgs) / sizeof(msgs[0]));
	tcase_add_test(tc, test_nul);
	tcase_add_test(tc, test_worst_case);
	tcase_add_test(tc, test_top_done);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	sr = srunner_create(pop_msg_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* check_mime_limits: MIME parsing of huge and hostile messages, fuzzed. */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "mime.h"
#include "mime_fixture.h"
#include "mime_imap.h"
#include "xalloc.h"

/* ---- limits: huge headers, many parts, deep nesting -------------------------- */

/* Parse + ENVELOPE + BODYSTRUCTURE of n header lines; seconds taken. */
static double
time_header_lines(size_t n)
{
	struct buf *msg = buf_new((size_t) 1 << 30), *out;
	struct mime_message *m;
	size_t i;
	double start;

	for (i = 0; i < n; i++)
		buf_printf(msg, "X-Header-%zu: value %zu\n folded\n", i, i);
	buf_append_str(msg, "Subject: last\n\nbody\n");
	out = buf_new(BUF_DEFAULT_CAP);
	start = now();
	m = mime_parse(buf_cstr(msg), buf_len(msg));
	ck_assert_int_eq(mime_imap_envelope(m, mime_message_root(m), out), 0);
	ck_assert_int_eq(mime_imap_bodystructure(m, mime_message_root(m), 1,
	    out), 0);
	ck_assert_uint_eq(mime_part_body_len(mime_message_root(m)), 5);
	start = now() - start;
	ck_assert_ptr_nonnull(strstr(buf_cstr(out), "\"last\""));
	mime_free(&m);
	buf_free(&out);
	buf_free(&msg);
	return start;
}

START_TEST(test_huge_header_linear)
{
	double small = time_header_lines(10000);
	double big = time_header_lines(100000);

	/* Linear: 10x the lines costs about 10x; quadratic would be 100x. */
	ck_assert_msg(big < 30 * small + 0.2, "10k %.4fs, 100k %.4fs",
	    small, big);
	ck_assert_msg(small < 1.0, "10,000 header lines took %.3fs", small);
}
END_TEST

/* One line of a huge folded header field, and a huge Content-Type. */
START_TEST(test_huge_field)
{
	struct buf *msg = buf_new((size_t) 1 << 30), *out;
	struct mime_message *m;
	size_t i;

	buf_append_str(msg, "To: ");
	for (i = 0; i < 50000; i++)
		buf_printf(msg, "u%zu@x.test,\n ", i);
	buf_append_str(msg, "last@x.test\nContent-Type: text/plain");
	for (i = 0; i < 20000; i++)
		buf_printf(msg, "; p%zu=v", i);
	buf_append_str(msg, "\n\nbody");
	m = mime_parse(buf_cstr(msg), buf_len(msg));
	out = buf_new(1 << 24);
	ck_assert_int_eq(mime_imap_envelope(m, mime_message_root(m), out), 0);
	ck_assert(imap_valid(out));
	ck_assert_ptr_nonnull(strstr(buf_cstr(out), "(NIL NIL \"u49999\""));
	/* Over MIME_MAX_FIELD_LEN: the Content-Type is ignored. */
	ck_assert_int_eq(mime_part_type_given(mime_message_root(m)), 0);
	/* A small cap fails cleanly. */
	out = (buf_free(&out), buf_new(100));
	ck_assert_int_eq(mime_imap_envelope(m, mime_message_root(m), out), -1);
	mime_free(&m);
	buf_free(&out);
	buf_free(&msg);
}
END_TEST

START_TEST(test_params_limit)
{
	struct buf *msg = buf_new(1 << 20);
	struct mime_message *m;
	size_t i;

	buf_append_str(msg, "Content-Type: text/plain");
	for (i = 0; i < 500; i++)
		buf_printf(msg, "; p%zu=v", i);
	buf_append_str(msg, "\n\nbody");
	m = mime_parse(buf_cstr(msg), buf_len(msg));
	ck_assert_uint_eq(mime_params_count(mime_part_params(
	    mime_message_root(m))), MIME_MAX_PARAMS);
	mime_free(&m);
	buf_free(&msg);
}
END_TEST

START_TEST(test_many_boundaries)
{
	struct buf *msg = buf_new((size_t) 1 << 30), *out;
	struct mime_message *m;
	const struct mime_part *root;
	size_t i, n = 200000;
	double start;

	buf_append_str(msg, "Content-Type: multipart/mixed; boundary=b\n\n");
	for (i = 0; i < n; i++)
		buf_append_str(msg, "--b\n\nx\n");
	buf_append_str(msg, "--b--\n");
	start = now();
	m = mime_parse(buf_cstr(msg), buf_len(msg));
	root = mime_message_root(m);
	ck_assert_uint_eq(mime_part_child_count(root), MIME_MAX_PARTS - 1);
	out = buf_new(BUF_DEFAULT_CAP);
	ck_assert_int_eq(mime_imap_bodystructure(m, root, 1, out), 0);
	ck_assert(imap_valid(out));
	ck_assert_msg(now() - start < 2.0, "took %.3fs", now() - start);
	mime_free(&m);
	buf_free(&out);
	buf_free(&msg);
}
END_TEST

/* 1,000 nested multiparts (and message/rfc822s): cut at MIME_MAX_DEPTH. */
START_TEST(test_deep_nesting)
{
	struct buf *msg = buf_new((size_t) 1 << 30), *out;
	struct mime_message *m;
	struct mime_section *sec;
	const struct mime_part *p;
	const char *error;
	size_t i, n = 1000, depth;

	for (i = 0; i < n; i++) {
		if (i % 3 == 2)
			buf_append_str(msg, "Content-Type: message/rfc822\n\n");
		else
			buf_printf(msg, "Content-Type: multipart/mixed; "
			    "boundary=b%zu\n\n--b%zu\n", i, i);
	}
	buf_append_str(msg, "\ncore\n");
	for (i = n; i-- > 0;)
		if (i % 3 != 2)
			buf_printf(msg, "--b%zu--\n", i);
	m = mime_parse(buf_cstr(msg), buf_len(msg));
	depth = 0;
	for (p = mime_message_root(m); mime_part_child_count(p) > 0;
	    p = mime_part_child(p, 0))
		depth++;
	ck_assert_uint_eq(depth, MIME_MAX_DEPTH);
	ck_assert_str_eq(mime_part_type(p), "text");
	ck_assert_uint_eq(mime_part_depth(p), MIME_MAX_DEPTH);
	out = buf_new(BUF_DEFAULT_CAP);
	ck_assert_int_eq(mime_imap_bodystructure(m, mime_message_root(m), 1,
	    out), 0);
	ck_assert(imap_valid(out));
	ck_assert_int_eq(mime_section_parse(MSG("1.1.1.1.1.1.1.1.1.1.1.1.1.1"),
	    &sec, &error), 0);
	buf_reset(out);
	ck_assert_int_eq(mime_section_fetch(m, sec, 0, SIZE_MAX, out), 1);
	mime_section_free(&sec);
	mime_free(&m);
	buf_free(&out);
	buf_free(&msg);
}
END_TEST

/* ---- fuzz: random and mutated messages must never crash ------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint32_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t) (rng_state >> 16);
}

static const char *const fragments[] = {
	"\n", "\r\n", "\r", "\0", "\n\n", " ", "\t", ":", ";", "--", "--b",
	"--b--", "--c\n", "\xff", "\x80\xc3", "\"", "\\", "(", ")", "<", ">",
	"@", ",", "=", "*", "'", "[", "]", "{5}\r\n",
	"Content-Type: multipart/mixed; boundary=b\n",
	"Content-Type: multipart/alternative; boundary=\"c\"\n",
	"Content-Type: message/rfc822\n", "Content-Type: multipart/digest;"
	" boundary=b\n", "Content-Type: text/plain; name*0*=x; name*1=y\n",
	"Content-Disposition: attachment; filename=\"a\"\n",
	"Content-Language: en,, de\n", "From: a <b@c>, g: d@e;\n",
	"To: \"x\\\" (y\" <@r:z@w>\n", "Subject: =?utf-8?q?x?=\n",
	"Content-Transfer-Encoding: base64\n", "x", "body text",
};

static void
fuzz_check_tree(const struct mime_part *p, size_t len)
{
	size_t i;

	ck_assert_uint_le(mime_part_depth(p), MIME_MAX_DEPTH);
	ck_assert_uint_eq(mime_part_header_offset(p) +
	    mime_part_header_len(p), mime_part_body_offset(p));
	ck_assert_uint_le(mime_part_body_offset(p) + mime_part_body_len(p),
	    len);
	for (i = 0; i < mime_part_child_count(p); i++)
		fuzz_check_tree(mime_part_child(p, i), len);
}

static void
fuzz_one(const char *data, size_t len)
{
	static const char *const specs[] = {
		"", "TEXT", "HEADER", "1", "2", "1.1", "1.MIME", "2.1.MIME",
		"HEADER.FIELDS (from to)", "1.HEADER.FIELDS.NOT (subject)",
		"3.TEXT", "1.2.3.HEADER", "2.1",
	};
	struct mime_message *m = mime_parse(data, len);
	struct mime_section *sec;
	struct buf *out = buf_new(1 << 24);
	const char *error;
	size_t i, size;
	int rc;

	fuzz_check_tree(mime_message_root(m), len);
	ck_assert_int_eq(mime_imap_envelope(m, mime_message_root(m), out), 0);
	ck_assert_msg(imap_valid(out), "envelope: %s", buf_cstr(out));
	envelope_header_same(data, len, out);
	buf_reset(out);
	ck_assert_int_eq(mime_imap_bodystructure(m, mime_message_root(m),
	    rng() % 2, out), 0);
	ck_assert_msg(imap_valid(out), "bodystructure: %s", buf_cstr(out));
	for (i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		ck_assert_int_eq(mime_section_parse(specs[i], strlen(specs[i]),
		    &sec, &error), 0);
		buf_reset(out);
		rc = mime_section_fetch(m, sec, 0, SIZE_MAX, out);
		ck_assert_int_ge(rc, 0);
		ck_assert_int_eq(mime_section_size(m, sec, &size), rc);
		if (rc == 1)
			ck_assert_uint_eq(size, buf_len(out));
		buf_reset(out);
		ck_assert_int_ge(mime_section_fetch(m, sec, rng() % 64,
		    rng() % 64, out), 0);
		mime_section_free(&sec);
	}
	mime_free(&m);
	buf_free(&out);
}

START_TEST(test_fuzz)
{
	static const char *const seeds[] = {
		msg_simple, msg_alternative, msg_nested, msg_strings,
		msg_params, msg_digest,
	};
	struct buf *b = buf_new(1 << 20);
	const char *f, *seed;
	char *copy;
	size_t i, j, n, len, pos;

	for (i = 0; i < 3000; i++) {
		buf_reset(b);
		if (i % 2 == 0) {
			/* A random sequence of fragments and bytes. */
			n = rng() % 120;
			for (j = 0; j < n; j++) {
				if (rng() % 4 == 0) {
					buf_append_char(b, (char) rng());
					continue;
				}
				f = fragments[rng() % (sizeof(fragments) /
				    sizeof(fragments[0]))];
				buf_append(b, f, *f == '\0' ? 1 : strlen(f));
			}
		} else {
			/* A sample with bytes flipped, inserted, cut. */
			seed = seeds[rng() % (sizeof(seeds) /
			    sizeof(seeds[0]))];
			buf_append_str(b, seed);
			n = 1 + rng() % 8;
			for (j = 0; j < n && buf_len(b) > 0; j++) {
				pos = rng() % buf_len(b);
				buf_data(b)[pos] = (char) rng();
			}
			buf_truncate(b, rng() % (buf_len(b) + 1));
		}
		/* An exact-size copy so ASan sees any read past the end. */
		len = buf_len(b);
		copy = xmemdup(buf_cstr(b), len);
		copy = xrealloc(copy, len > 0 ? len : 1);
		fuzz_one(copy, len);
		free(copy);
	}
	buf_free(&b);
}
END_TEST

static Suite *
mime_limits_suite(void)
{
	Suite *s = suite_create("mime_limits");
	TCase *tc;

	tc = tcase_create("limits");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_huge_header_linear);
	tcase_add_test(tc, test_huge_field);
	tcase_add_test(tc, test_params_limit);
	tcase_add_test(tc, test_many_boundaries);
	tcase_add_test(tc, test_deep_nesting);
	tcase_add_test(tc, test_fuzz);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(mime_limits_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

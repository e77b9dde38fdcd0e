/* check_attr: the internal attribute record codec and its stream I/O. */
#include "config.h"

#include <check.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "attr.h"
#include "buf.h"
#include "stream.h"
#include "xalloc.h"

/* Small limits so the edges are easy to reach. */
#define TEST_MAX_COUNT 4
#define TEST_MAX_VALUE 8

static const char name64[] =
    "abcdefghij" "abcdefghij" "abcdefghij" "abcdefghij" "abcdefghij"
    "abcdefghij" "abcd";
static const char name65[] =
    "abcdefghij" "abcdefghij" "abcdefghij" "abcdefghij" "abcdefghij"
    "abcdefghij" "abcde";

static int
must_escape(unsigned char c)
{
	return c == '%' || c < 0x20 || c == 0x7f;
}

/* --- encoding ------------------------------------------------------------ */

START_TEST(test_put_simple)
{
	struct buf *out = buf_new(1000);

	ck_assert_int_eq(attr_put(out, "request", "status"), 0);
	ck_assert_int_eq(attr_put(out, "empty", ""), 0);
	ck_assert_int_eq(attr_put(out, "text", "50% off\r\n"), 0);
	ck_assert_int_eq(attr_put_int(out, "count", -12), 0);
	ck_assert_int_eq(attr_put_data(out, "bin", "a\0b", 3), 0);
	ck_assert_int_eq(attr_put(out, "utf8", "caf\xc3\xa9~"), 0);
	ck_assert_int_eq(attr_end(out), 0);
	ck_assert_str_eq(buf_cstr(out),
	    "request=status\n"
	    "empty=\n"
	    "text=50%25 off%0D%0A\n"
	    "count=-12\n"
	    "bin=a%00b\n"
	    "utf8=caf\xc3\xa9~\n"
	    "\n");
	buf_free(&out);
}
END_TEST

START_TEST(test_put_each_byte)
{
	/* Every byte alone: its exact encoding, and back. */
	struct buf *out = buf_new(100);
	struct attr_list *l = attr_list_new(1, 1);
	unsigned char byte = (unsigned char) _i;
	const char *error = NULL, *value;
	char expect[16];
	size_t len;

	ck_assert_int_eq(attr_put_data(out, "b", &byte, 1), 0);
	if (must_escape(byte))
		snprintf(expect, sizeof(expect), "b=%%%02X\n", byte);
	else
		snprintf(expect, sizeof(expect), "b=%c\n", byte);
	ck_assert_uint_eq(buf_len(out), strlen(expect));
	ck_assert_mem_eq(buf_cstr(out), expect, strlen(expect));
	ck_assert_msg(attr_parse(l, buf_cstr(out), buf_len(out), &error) == 0,
	    "byte %d: %s", _i, error);
	value = attr_get_len(l, "b", &len);
	ck_assert_ptr_nonnull(value);
	ck_assert_uint_eq(len, 1);
	ck_assert_int_eq((unsigned char) value[0], byte);
	ck_assert_int_eq(value[1], '\0');
	attr_list_free(&l);
	buf_free(&out);
}
END_TEST

START_TEST(test_put_all_bytes_round_trip)
{
	unsigned char all[256];
	struct buf *out = buf_new(4096);
	struct attr_list *l = attr_list_new(3, sizeof(all));
	const char *error = NULL, *value, *p;
	size_t i, len;

	for (i = 0; i < sizeof(all); i++)
		all[i] = (unsigned char) i;
	ck_assert_int_eq(attr_put_data(out, "before", "x", 1), 0);
	ck_assert_int_eq(attr_put_data(out, "all", all, sizeof(all)), 0);
	ck_assert_int_eq(attr_put_data(out, "after", "y", 1), 0);
	ck_assert_int_eq(attr_end(out), 0);
	/* The wire form holds no raw control byte but the line ends. */
	for (p = buf_cstr(out); p < buf_cstr(out) + buf_len(out); p++) {
		if (*p != '\n')
			ck_assert(!must_escape((unsigned char) *p)
			    || *p == '%');
	}
	ck_assert_ptr_nonnull(strstr(buf_cstr(out), "%7F"));
	ck_assert_ptr_nonnull(strstr(buf_cstr(out), "%1F !"));
	ck_assert_int_eq(attr_parse(l, buf_cstr(out), buf_len(out), &error),
	    0);
	ck_assert_uint_eq(attr_count(l), 3);
	value = attr_get_len(l, "all", &len);
	ck_assert_uint_eq(len, sizeof(all));
	ck_assert_mem_eq(value, all, sizeof(all));
	ck_assert_str_eq(attr_get(l, "before"), "x");
	ck_assert_str_eq(attr_get(l, "after"), "y");
	attr_list_free(&l);
	buf_free(&out);
}
END_TEST

static const struct {
	const char *name;
	int rc;
} put_name_cases[] = {
	{ "a", 0 },
	{ "queue_id", 0 },
	{ "x9_0", 0 },
	{ "_", 0 },
	{ name64, 0 },
	{ name65, -1 },
	{ "", -1 },
	{ "Upper", -1 },
	{ "a-b", -1 },
	{ "a=b", -1 },
	{ "a b", -1 },
	{ "a\n", -1 },
	{ "caf\xc3\xa9", -1 },
};

START_TEST(test_put_name)
{
	struct buf *out = buf_new(1000);
	int rc = put_name_cases[_i].rc;

	ck_assert_int_eq(attr_put_int(out, "first", 1), 0);
	ck_assert_int_eq(attr_put(out, put_name_cases[_i].name, "v"), rc);
	ck_assert_int_eq(attr_put_data(out, put_name_cases[_i].name, "v", 1),
	    rc);
	ck_assert_int_eq(attr_put_int(out, put_name_cases[_i].name, 5), rc);
	if (rc < 0)
		ck_assert_str_eq(buf_cstr(out), "first=1\n");
	else
		ck_assert_uint_eq(buf_len(out),
		    8 + 3 * (strlen(put_name_cases[_i].name) + 3));
	buf_free(&out);
}
END_TEST

START_TEST(test_put_cap_all_or_nothing)
{
	/* "ab" + "n=" + "%25%25" + "\n" = 11 bytes. */
	struct buf *out = buf_new(10);
	size_t cap;

	ck_assert_int_eq(buf_append_str(out, "ab"), 0);
	ck_assert_int_eq(attr_put(out, "n", "%%"), -1);
	ck_assert_str_eq(buf_cstr(out), "ab");
	/* Cut inside the name, the value, an escape, before the LF. */
	for (cap = 3; cap <= 10; cap++) {
		ck_assert_int_eq(buf_set_cap(out, cap), 0);
		ck_assert_int_eq(attr_put(out, "n", "%%"), -1);
		ck_assert_str_eq(buf_cstr(out), "ab");
		ck_assert_int_eq(attr_put_int(out, "n", 12345678), -1);
		ck_assert_str_eq(buf_cstr(out), "ab");
	}
	ck_assert_int_eq(buf_set_cap(out, 11), 0);
	ck_assert_int_eq(attr_put(out, "n", "%%"), 0);
	ck_assert_str_eq(buf_cstr(out), "abn=%25%25\n");
	ck_assert_int_eq(attr_end(out), -1);
	ck_assert_int_eq(buf_set_cap(out, 12), 0);
	ck_assert_int_eq(attr_end(out), 0);
	buf_free(&out);
}
END_TEST

START_TEST(test_put_int_extremes)
{
	static const long long values[] = { 0, 1, -1, LLONG_MAX, LLONG_MIN };
	struct buf *out = buf_new(1000);
	struct attr_list *l = attr_list_new(10, 100);
	const char *error = NULL;
	char name[8];
	long long got;
	size_t i;

	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		snprintf(name, sizeof(name), "v%zu", i);
		ck_assert_int_eq(attr_put_int(out, name, values[i]), 0);
	}
	ck_assert_int_eq(attr_parse(l, buf_cstr(out), buf_len(out), &error),
	    0);
	ck_assert_str_eq(attr_get(l, "v4"), "-9223372036854775808");
	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		snprintf(name, sizeof(name), "v%zu", i);
		ck_assert_int_eq(attr_get_int(l, name, &got), 1);
		ck_assert(got == values[i]);
	}
	attr_list_free(&l);
	buf_free(&out);
}
END_TEST

/* --- decoding ------------------------------------------------------------ */

/* A 0 len means strlen(data); error is a part of the expected reason. */
static const struct {
	const char *data;
	size_t len;
	const char *error;	/* NULL: must succeed */
	size_t count;
	const char *first_value;
	size_t first_len;
} parse_cases[] = {
	/* good */
	{ "a=1\nb=2\n\n", 0, NULL, 2, "1", 1 },
	{ "a=1\nb=2\n", 0, NULL, 2, "1", 1 },
	{ "a=1", 0, NULL, 1, "1", 1 },
	{ "", 0, NULL, 0, NULL, 0 },
	{ "\n", 0, NULL, 0, NULL, 0 },
	{ "a=\n", 0, NULL, 1, "", 0 },
	{ "a=b=c\n", 0, NULL, 1, "b=c", 3 },
	{ "a=%00\n", 0, NULL, 1, "\0", 1 },
	{ "a=x%00y\n", 0, NULL, 1, "x\0y", 3 },
	{ "a=%0a%0D\n", 0, NULL, 1, "\n\r", 2 },
	{ "a=%25%3d\n", 0, NULL, 1, "%=", 2 },
	{ "a=caf\xc3\xa9\n", 0, NULL, 1, "caf\xc3\xa9", 5 },
	{ "a= sp ace \n", 0, NULL, 1, " sp ace ", 8 },
	{ "a=12345678\n", 0, NULL, 1, "12345678", 8 },
	{ "a=%41%42%43%44%45%46%47%48\n", 0, NULL, 1, "ABCDEFGH", 8 },
	{ "a=1\nb=2\nc=3\nd=4\n\n", 0, NULL, 4, "1", 1 },
	{ "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcd"
	    "=v\n", 0, NULL, 1, "v", 1 },
	/* bad */
	{ "noequals\n", 0, "missing '='", 0, NULL, 0 },
	{ "a=1\nnoequals\n", 0, "missing '='", 0, NULL, 0 },
	{ "=v\n", 0, "bad attribute name", 0, NULL, 0 },
	{ "Name=v\n", 0, "bad attribute name", 0, NULL, 0 },
	{ "a-b=v\n", 0, "bad attribute name", 0, NULL, 0 },
	{ "a b=v\n", 0, "bad attribute name", 0, NULL, 0 },
	{ " a=v\n", 0, "bad attribute name", 0, NULL, 0 },
	{ "a\0b=v\n", 6, "bad attribute name", 0, NULL, 0 },
	{ "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcde"
	    "=v\n", 0, "bad attribute name", 0, NULL, 0 },
	{ "a=%\n", 0, "bad %-escape", 0, NULL, 0 },
	{ "a=%4\n", 0, "bad %-escape", 0, NULL, 0 },
	{ "a=%4", 0, "bad %-escape", 0, NULL, 0 },
	{ "a=%zz\n", 0, "bad %-escape", 0, NULL, 0 },
	{ "a=%4g\n", 0, "bad %-escape", 0, NULL, 0 },
	{ "a=%%41\n", 0, "bad %-escape", 0, NULL, 0 },
	{ "a=% 1\n", 0, "bad %-escape", 0, NULL, 0 },
	{ "a=x\r\n", 0, "control character", 0, NULL, 0 },
	{ "a=x\ry\n", 0, "control character", 0, NULL, 0 },
	{ "a=x\ty\n", 0, "control character", 0, NULL, 0 },
	{ "a=x\0y\n", 6, "control character", 0, NULL, 0 },
	{ "a=\x7f\n", 0, "control character", 0, NULL, 0 },
	{ "a=123456789\n", 0, "value too long", 0, NULL, 0 },
	{ "a=%41%42%43%44%45%46%47%48%49\n", 0, "value too long", 0, NULL, 0 },
	{ "a=1\nb=2\nc=3\nd=4\ne=5\n\n", 0, "too many attributes", 0, NULL,
	    0 },
	{ "a=1\n\nb=2\n", 0, "after the end", 0, NULL, 0 },
	{ "a=1\n\n\n", 0, "after the end", 0, NULL, 0 },
	{ "\r\n", 0, "missing '='", 0, NULL, 0 },
};

START_TEST(test_parse_table)
{
	struct attr_list *l = attr_list_new(TEST_MAX_COUNT, TEST_MAX_VALUE);
	const char *data = parse_cases[_i].data, *error = NULL, *value;
	size_t len = parse_cases[_i].len ? parse_cases[_i].len : strlen(data);
	size_t value_len = 99;
	int rc;

	rc = attr_parse(l, data, len, &error);
	if (parse_cases[_i].error == NULL) {
		ck_assert_msg(rc == 0, "case %d: %s", _i, error);
	} else {
		ck_assert_msg(rc == -1, "case %d accepted", _i);
		ck_assert_ptr_nonnull(error);
		ck_assert_msg(strstr(error, parse_cases[_i].error) != NULL,
		    "case %d: \"%s\" is not \"%s\"", _i, error,
		    parse_cases[_i].error);
	}
	ck_assert_uint_eq(attr_count(l), parse_cases[_i].count);
	if (parse_cases[_i].first_value != NULL) {
		ck_assert_ptr_nonnull(attr_nth(l, 0, &value, &value_len));
		ck_assert_uint_eq(value_len, parse_cases[_i].first_len);
		ck_assert_mem_eq(value, parse_cases[_i].first_value,
		    value_len + 1);
	}
	attr_list_free(&l);
}
END_TEST

START_TEST(test_parse_duplicates_in_order)
{
	static const char rec[] = "a=1\nb=2\na=3\n\n";
	struct attr_list *l = attr_list_new(10, 10);
	const char *error, *value, *name;
	size_t len;

	ck_assert_int_eq(attr_parse(l, rec, strlen(rec), &error), 0);
	ck_assert_uint_eq(attr_count(l), 3);
	ck_assert_str_eq(attr_get(l, "a"), "1");
	name = attr_nth(l, 0, &value, &len);
	ck_assert_str_eq(name, "a");
	ck_assert_str_eq(value, "1");
	name = attr_nth(l, 1, &value, NULL);
	ck_assert_str_eq(name, "b");
	ck_assert_str_eq(value, "2");
	name = attr_nth(l, 2, NULL, &len);
	ck_assert_str_eq(name, "a");
	ck_assert_uint_eq(len, 1);
	ck_assert_ptr_null(attr_nth(l, 3, &value, &len));
	ck_assert_ptr_null(attr_get(l, "c"));
	ck_assert_ptr_null(attr_get_len(l, "c", &len));
	attr_list_free(&l);
}
END_TEST

START_TEST(test_parse_replaces_and_empties)
{
	struct attr_list *l = attr_list_new(10, 10);
	const char *error;

	ck_assert_int_eq(attr_parse(l, "a=1\nb=2\n", 8, &error), 0);
	ck_assert_int_eq(attr_parse(l, "c=3\n", 4, &error), 0);
	ck_assert_uint_eq(attr_count(l), 1);
	ck_assert_ptr_null(attr_get(l, "a"));
	ck_assert_str_eq(attr_get(l, "c"), "3");
	/* A bad record leaves nothing half-decoded behind. */
	ck_assert_int_eq(attr_parse(l, "d=4\nE=5\n", 8, &error), -1);
	ck_assert_uint_eq(attr_count(l), 0);
	ck_assert_ptr_null(attr_get(l, "d"));
	attr_list_reset(l);
	ck_assert_uint_eq(attr_count(l), 0);
	attr_list_free(&l);
	ck_assert_ptr_null(l);
	attr_list_free(&l);
}
END_TEST

START_TEST(test_parse_line)
{
	struct attr_list *l = attr_list_new(2, 10);
	const char *error = NULL;

	ck_assert_int_eq(attr_parse_line(l, "a=1", 3, &error), 0);
	/* The length rules, not a NUL: "b=2" of "b=23". */
	ck_assert_int_eq(attr_parse_line(l, "b=23", 3, &error), 0);
	ck_assert_str_eq(attr_get(l, "b"), "2");
	ck_assert_int_eq(attr_parse_line(l, "c=3", 3, &error), -1);
	ck_assert_str_eq(error, "too many attributes");
	ck_assert_uint_eq(attr_count(l), 2);
	attr_list_reset(l);
	ck_assert_int_eq(attr_parse_line(l, "x=%zz", 5, &error), -1);
	ck_assert_uint_eq(attr_count(l), 0);
	attr_list_free(&l);
}
END_TEST

START_TEST(test_parse_zero_limits)
{
	struct attr_list *l = attr_list_new(0, 0);
	const char *error;

	ck_assert_int_eq(attr_parse(l, "\n", 1, &error), 0);
	ck_assert_int_eq(attr_parse(l, "a=\n", 3, &error), -1);
	ck_assert_str_eq(error, "too many attributes");
	attr_list_free(&l);
	l = attr_list_new(1, 0);
	ck_assert_int_eq(attr_parse(l, "a=\n", 3, &error), 0);
	ck_assert_int_eq(attr_parse(l, "a=b\n", 4, &error), -1);
	ck_assert_str_eq(error, "attribute value too long");
	attr_list_free(&l);
}
END_TEST

/* --- attr_get_int -------------------------------------------------------- */

static const struct {
	const char *value;	/* escaped, as on the wire */
	int rc;
	long long expect;
} get_int_cases[] = {
	{ "0", 1, 0 },
	{ "42", 1, 42 },
	{ "-42", 1, -42 },
	{ "007", 1, 7 },
	{ "9223372036854775807", 1, LLONG_MAX },
	{ "-9223372036854775808", 1, LLONG_MIN },
	{ "9223372036854775808", -1, 0 },
	{ "-9223372036854775809", -1, 0 },
	{ "99999999999999999999999", -1, 0 },
	{ "", -1, 0 },
	{ "-", -1, 0 },
	{ "+1", -1, 0 },
	{ " 1", -1, 0 },
	{ "1 ", -1, 0 },
	{ "1x", -1, 0 },
	{ "0x10", -1, 0 },
	{ "1.5", -1, 0 },
	{ "--1", -1, 0 },
	{ "1%002", -1, 0 },
	{ "%001", -1, 0 },
	{ "%09 1", -1, 0 },
};

START_TEST(test_get_int)
{
	struct attr_list *l = attr_list_new(2, 100);
	struct buf *line = buf_new(200);
	const char *error = NULL;
	long long got = 12345;

	ck_assert_int_ge(buf_printf(line, "n=%s", get_int_cases[_i].value), 0);
	ck_assert_msg(attr_parse_line(l, buf_cstr(line), buf_len(line),
	    &error) == 0, "%s", error);
	ck_assert_int_eq(attr_get_int(l, "n", &got), get_int_cases[_i].rc);
	if (get_int_cases[_i].rc == 1)
		ck_assert(got == get_int_cases[_i].expect);
	else
		ck_assert(got == 12345);	/* untouched */
	ck_assert_int_eq(attr_get_int(l, "missing", &got), 0);
	buf_free(&line);
	attr_list_free(&l);
}
END_TEST

/* --- attr_read / attr_write over a socketpair ---------------------------- */

#define READ_TIMEOUT_MS 300

static int pair[2];

static void
pair_setup(void)
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
}

static void
pair_teardown(void)
{
	(void) close(pair[0]);
	if (pair[1] >= 0)
		(void) close(pair[1]);
}

/* Our side of the socketpair. */
static struct stream *
reader_new(void)
{
	return stream_new(pair[0], READ_TIMEOUT_MS, READ_TIMEOUT_MS);
}

/* The peer's side: raw bytes, as a broken or hostile peer would send. */
static void
peer_send(const char *data, size_t len)
{
	ck_assert_int_eq(write(pair[1], data, len), (ssize_t) len);
}

static void
peer_close(void)
{
	ck_assert_int_eq(close(pair[1]), 0);
	pair[1] = -1;
}

static const struct {
	const char *bad;	/* a malformed record (with its end) */
	const char *error;
	size_t len;		/* 0: strlen(bad) */
} resync_cases[] = {
	{ "Bad=1\nx=2\n\n", "bad attribute name", 0 },
	{ "x=2\nnoequals\ny=3\n\n", "missing '='", 0 },
	{ "x=%zz\n\n", "bad %-escape", 0 },
	{ "x=123456789\n\n", "attribute value too long", 0 },
	{ "a=1\nb=2\nc=3\nd=4\ne=5\nf=6\n\n", "too many attributes", 0 },
	{ "a=1\r\n\r\n", "CRLF", 0 },
	{ "a=1\n\r\n", "CRLF", 0 },
	{ "a=x\ry\n\n", "control character", 0 },
	{ "a=x\0y\n\n", "control character", 7 },
	/* Longer than any escaped value may be: the stream skips it. */
	{ "a=%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41"
	    "%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41"
	    "%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41"
	    "%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41"
	    "\nb=1\n\n", "too long", 0 },
};

START_TEST(test_read_resync)
{
	static const char good[] = "good=yes\nn=%25\n\n";
	struct stream *s = reader_new();
	struct attr_list *l = attr_list_new(TEST_MAX_COUNT, TEST_MAX_VALUE);
	const char *error = NULL;
	const char *bad = resync_cases[_i].bad;
	size_t bad_len = resync_cases[_i].len ? resync_cases[_i].len
	    : strlen(bad);

	peer_send(bad, bad_len);
	peer_send(good, strlen(good));
	ck_assert_int_eq(attr_read(s, l, &error), STREAM_ERROR);
	ck_assert_ptr_nonnull(error);
	ck_assert_msg(strstr(error, resync_cases[_i].error) != NULL,
	    "\"%s\" is not \"%s\"", error, resync_cases[_i].error);
	ck_assert_uint_eq(attr_count(l), 0);
	/* In step: the next record is read whole. */
	error = NULL;
	ck_assert_int_eq(attr_read(s, l, &error), STREAM_OK);
	ck_assert_uint_eq(attr_count(l), 2);
	ck_assert_str_eq(attr_get(l, "good"), "yes");
	ck_assert_str_eq(attr_get(l, "n"), "%");
	attr_list_free(&l);
	stream_free(&s);
}
END_TEST

START_TEST(test_read_records_in_a_row)
{
	static const char data[] = "a=1\n\n\nb=2\nb=3\n\n";
	struct stream *s = reader_new();
	struct attr_list *l = attr_list_new(TEST_MAX_COUNT, TEST_MAX_VALUE);
	const char *error = NULL;
	const char *value;

	peer_send(data, strlen(data));
	peer_close();
	ck_assert_int_eq(attr_read(s, l, &error), STREAM_OK);
	ck_assert_uint_eq(attr_count(l), 1);
	ck_assert_str_eq(attr_get(l, "a"), "1");
	/* A lone empty line is a record with nothing in it. */
	ck_assert_int_eq(attr_read(s, l, &error), STREAM_OK);
	ck_assert_uint_eq(attr_count(l), 0);
	ck_assert_int_eq(attr_read(s, l, &error), STREAM_OK);
	ck_assert_uint_eq(attr_count(l), 2);
	ck_assert_str_eq(attr_nth(l, 1, &value, NULL), "b");
	ck_assert_str_eq(value, "3");
	/* Then the peer is gone, between records. */
	error = NULL;
	ck_assert_int_eq(attr_read(s, l, &error), STREAM_EOF);
	ck_assert_ptr_nonnull(error);
	ck_assert_str_eq(error, "connection closed");
	ck_assert_uint_eq(attr_count(l), 0);
	attr_list_free(&l);
	stream_free(&s);
}
END_TEST

START_TEST(test_read_write_round_trip)
{
	struct stream *in = stream_new(pair[0], READ_TIMEOUT_MS,
	    READ_TIMEOUT_MS);
	struct stream *out = stream_new(pair[1], READ_TIMEOUT_MS,
	    READ_TIMEOUT_MS);
	struct attr_list *l = attr_list_new(10, 256);
	struct buf *rec = buf_new(BUF_DEFAULT_CAP);
	unsigned char all[256];
	const char *error = NULL, *value;
	long long n;
	size_t i, len;

	for (i = 0; i < sizeof(all); i++)
		all[i] = (unsigned char) (255 - i);
	ck_assert_int_eq(attr_put(rec, "request", "deliver"), 0);
	ck_assert_int_eq(attr_put_data(rec, "all", all, sizeof(all)), 0);
	ck_assert_int_eq(attr_put_int(rec, "n", -5), 0);
	ck_assert_int_eq(attr_end(rec), 0);
	ck_assert_int_eq(attr_write(out, rec), STREAM_OK);
	ck_assert_int_eq(attr_write(out, rec), STREAM_OK);
	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(attr_read(in, l, &error), STREAM_OK);
		ck_assert_uint_eq(attr_count(l), 3);
		ck_assert_str_eq(attr_get(l, "request"), "deliver");
		value = attr_get_len(l, "all", &len);
		ck_assert_uint_eq(len, sizeof(all));
		ck_assert_mem_eq(value, all, sizeof(all));
		ck_assert_int_eq(attr_get_int(l, "n", &n), 1);
		ck_assert(n == -5);
	}
	buf_free(&rec);
	attr_list_free(&l);
	stream_free(&out);
	stream_free(&in);
}
END_TEST

START_TEST(test_read_split_at_every_byte)
{
	/* The record arrives in two pieces, cut at each byte in turn. */
	static const char rec[] = "a=%41b\nc=%00\n\n";
	struct stream *s = reader_new();
	struct attr_list *l = attr_list_new(TEST_MAX_COUNT, TEST_MAX_VALUE);
	const struct timespec pause = { 0, 2 * 1000 * 1000 };
	const char *error = NULL, *value;
	size_t cut, len;
	pid_t pid;
	int status;

	for (cut = 1; cut < sizeof(rec) - 1; cut++) {
		pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			(void) !write(pair[1], rec, cut);
			nanosleep(&pause, NULL);
			(void) !write(pair[1], rec + cut,
			    sizeof(rec) - 1 - cut);
			_exit(0);
		}
		ck_assert_int_eq(attr_read(s, l, &error), STREAM_OK);
		ck_assert_str_eq(attr_get(l, "a"), "Ab");
		value = attr_get_len(l, "c", &len);
		ck_assert_uint_eq(len, 1);
		ck_assert_int_eq(value[0], '\0');
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	}
	attr_list_free(&l);
	stream_free(&s);
}
END_TEST

START_TEST(test_read_silent_peer_times_out)
{
	struct stream *s = reader_new();
	struct attr_list *l = attr_list_new(TEST_MAX_COUNT, TEST_MAX_VALUE);
	const char *error = NULL;
	struct timespec t0, t1;
	long elapsed_ms;

	/* Half a record, and the peer keeps the socket open. */
	peer_send("a=1\nb=", 6);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(attr_read(s, l, &error), STREAM_TIMEOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	elapsed_ms = (t1.tv_sec - t0.tv_sec) * 1000
	    + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	ck_assert_ptr_nonnull(error);
	ck_assert_uint_eq(attr_count(l), 0);
	ck_assert_int_ge(elapsed_ms, READ_TIMEOUT_MS / 2);
	ck_assert_int_lt(elapsed_ms, 4 * READ_TIMEOUT_MS);
	attr_list_free(&l);
	stream_free(&s);
}
END_TEST

static const struct {
	const char *data;
	const char *error;
} eof_cases[] = {
	{ "", "connection closed" },
	{ "a=1\n", "connection closed in mid-record" },
	{ "a=1\nb=", "connection closed in mid-record" },
	/* A partial line is not yet a line: nothing was read of the record. */
	{ "a=", "connection closed" },
	{ "Bad=1\n", "connection closed in mid-record" },
};

START_TEST(test_read_eof)
{
	struct stream *s = reader_new();
	struct attr_list *l = attr_list_new(TEST_MAX_COUNT, TEST_MAX_VALUE);
	const char *error = NULL;

	peer_send(eof_cases[_i].data, strlen(eof_cases[_i].data));
	peer_close();
	ck_assert_int_eq(attr_read(s, l, &error), STREAM_EOF);
	ck_assert_ptr_nonnull(error);
	ck_assert_str_eq(error, eof_cases[_i].error);
	ck_assert_uint_eq(attr_count(l), 0);
	attr_list_free(&l);
	stream_free(&s);
}
END_TEST

START_TEST(test_read_endless_record)
{
	/* A peer that never ends its record is cut off, not followed. */
	struct stream *s = reader_new();
	struct attr_list *l = attr_list_new(TEST_MAX_COUNT, TEST_MAX_VALUE);
	const char *error = NULL;
	int i;

	for (i = 0; i < 100; i++)
		peer_send("a=1\n", 4);
	ck_assert_int_eq(attr_read(s, l, &error), STREAM_ERROR);
	ck_assert_str_eq(error, "record too large");
	ck_assert_uint_eq(attr_count(l), 0);
	attr_list_free(&l);
	stream_free(&s);
}
END_TEST

START_TEST(test_read_reuses_list)
{
	/* attr_read replaces what the list held, like attr_parse. */
	struct stream *s = reader_new();
	struct attr_list *l = attr_list_new(TEST_MAX_COUNT, TEST_MAX_VALUE);
	const char *error = NULL;

	ck_assert_int_eq(attr_parse(l, "old=1\n", 6, &error), 0);
	peer_send("new=2\n\n", 7);
	ck_assert_int_eq(attr_read(s, l, &error), STREAM_OK);
	ck_assert_uint_eq(attr_count(l), 1);
	ck_assert_ptr_null(attr_get(l, "old"));
	ck_assert_str_eq(attr_get(l, "new"), "2");
	attr_list_free(&l);
	stream_free(&s);
}
END_TEST

static Suite *
attr_suite(void)
{
	Suite *s = suite_create("attr");
	TCase *tc;

	tc = tcase_create("encode");
	tcase_add_test(tc, test_put_simple);
	tcase_add_loop_test(tc, test_put_each_byte, 0, 256);
	tcase_add_test(tc, test_put_all_bytes_round_trip);
	tcase_add_loop_test(tc, test_put_name, 0,
	    (int) (sizeof(put_name_cases) / sizeof(put_name_cases[0])));
	tcase_add_test(tc, test_put_cap_all_or_nothing);
	tcase_add_test(tc, test_put_int_extremes);
	suite_add_tcase(s, tc);

	tc = tcase_create("parse");
	tcase_add_loop_test(tc, test_parse_table, 0,
	    (int) (sizeof(parse_cases) / sizeof(parse_cases[0])));
	tcase_add_test(tc, test_parse_duplicates_in_order);
	tcase_add_test(tc, test_parse_replaces_and_empties);
	tcase_add_test(tc, test_parse_line);
	tcase_add_test(tc, test_parse_zero_limits);
	suite_add_tcase(s, tc);

	tc = tcase_create("get_int");
	tcase_add_loop_test(tc, test_get_int, 0,
	    (int) (sizeof(get_int_cases) / sizeof(get_int_cases[0])));
	suite_add_tcase(s, tc);

	tc = tcase_create("read");
	tcase_add_checked_fixture(tc, pair_setup, pair_teardown);
	tcase_add_loop_test(tc, test_read_resync, 0,
	    (int) (sizeof(resync_cases) / sizeof(resync_cases[0])));
	tcase_add_test(tc, test_read_records_in_a_row);
	tcase_add_test(tc, test_read_write_round_trip);
	tcase_add_test(tc, test_read_split_at_every_byte);
	tcase_add_test(tc, test_read_silent_peer_times_out);
	tcase_add_loop_test(tc, test_read_eof, 0,
	    (int) (sizeof(eof_cases) / sizeof(eof_cases[0])));
	tcase_add_test(tc, test_read_endless_record);
	tcase_add_test(tc, test_read_reuses_list);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(attr_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

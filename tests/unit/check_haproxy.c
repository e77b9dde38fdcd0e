/* check_haproxy: PROXY protocol v2 encoding, v2/v1 parsing, stream reads. */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "haproxy.h"
#include "stream.h"

#define SIG "\r\n\r\n\0\r\nQUIT\n"

static void
sin4(struct sockaddr_in *sa, const char *addr, int port)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	ck_assert_int_eq(inet_pton(AF_INET, addr, &sa->sin_addr), 1);
	sa->sin_port = htons((uint16_t) port);
}

static void
sin6(struct sockaddr_in6 *sa, const char *addr, int port)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin6_family = AF_INET6;
	ck_assert_int_eq(inet_pton(AF_INET6, addr, &sa->sin6_addr), 1);
	sa->sin6_port = htons((uint16_t) port);
}

static const char *
addr_text(const struct sockaddr_storage *ss, char *out, size_t size,
	int *port_r)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sa = (const struct sockaddr_in *) ss;

		*port_r = ntohs(sa->sin_port);
		return inet_ntop(AF_INET, &sa->sin_addr, out, size);
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sa =
		    (const struct sockaddr_in6 *) ss;

		*port_r = ntohs(sa->sin6_port);
		return inet_ntop(AF_INET6, &sa->sin6_addr, out, size);
	}
	return "none";
}

/* Parse the whole header, and every prefix of it as "need more". */
static int
parse_split(const unsigned char *data, size_t len, struct haproxy_info *info)
{
	const char *error;
	size_t cut;
	int rc;

	for (cut = 0; cut < len; cut++) {
		rc = haproxy_parse(data, cut, info, &error);
		ck_assert_msg(rc == 0, "prefix %zu: rc %d (%s)", cut, rc,
		    error != NULL ? error : "");
	}
	return haproxy_parse(data, len, info, &error);
}

static void
assert_addrs(const struct haproxy_info *info, const char *src, int sport,
	const char *dst, int dport)
{
	char text[64];
	int port;

	ck_assert_int_eq(info->local, 0);
	ck_assert_str_eq(addr_text(&info->src, text, sizeof(text), &port),
	    src);
	ck_assert_int_eq(port, sport);
	ck_assert_str_eq(addr_text(&info->dst, text, sizeof(text), &port),
	    dst);
	ck_assert_int_eq(port, dport);
}

START_TEST(test_encode_v4_login)
{
	struct sockaddr_in src, dst;
	struct haproxy_info info;
	struct buf *out = buf_new(1024);
	int rc;

	sin4(&src, "192.0.2.7", 54321);
	sin4(&dst, "198.51.100.1", 143);
	ck_assert_int_eq(haproxy_encode(out, (struct sockaddr *) &src,
	    (struct sockaddr *) &dst, "anna@example.org"), 0);
	/* 16 fixed + 12 addresses + 3 + 16 login. */
	ck_assert_uint_eq(buf_len(out), 47);
	ck_assert_int_eq(memcmp(buf_cstr(out), SIG, 12), 0);
	ck_assert_int_eq((unsigned char) buf_cstr(out)[12], 0x21);
	ck_assert_int_eq((unsigned char) buf_cstr(out)[13], 0x11);
	rc = parse_split((const unsigned char *) buf_cstr(out), buf_len(out),
	    &info);
	ck_assert_int_eq(rc, 47);
	assert_addrs(&info, "192.0.2.7", 54321, "198.51.100.1", 143);
	ck_assert_str_eq(info.login, "anna@example.org");
	haproxy_info_clear(&info);
	ck_assert_ptr_null(info.login);
	buf_free(&out);
}
END_TEST

START_TEST(test_encode_v6)
{
	struct sockaddr_in6 src, dst;
	struct haproxy_info info;
	struct buf *out = buf_new(1024);
	const char *error;

	sin6(&src, "2001:db8::7", 1024);
	sin6(&dst, "2001:db8::1", 993);
	ck_assert_int_eq(haproxy_encode(out, (struct sockaddr *) &src,
	    (struct sockaddr *) &dst, NULL), 0);
	ck_assert_uint_eq(buf_len(out), 16 + 36);
	ck_assert_int_eq((unsigned char) buf_cstr(out)[13], 0x21);
	/* Bytes after the header are not consumed. */
	ck_assert_int_eq(buf_append_str(out, "A1 LOGIN"), 0);
	ck_assert_int_eq(haproxy_parse((const unsigned char *) buf_cstr(out),
	    buf_len(out), &info, &error), 52);
	assert_addrs(&info, "2001:db8::7", 1024, "2001:db8::1", 993);
	ck_assert_ptr_null(info.login);
	haproxy_info_clear(&info);
	buf_free(&out);
}
END_TEST

START_TEST(test_encode_mapped)
{
	struct sockaddr_in6 src;
	struct sockaddr_in dst;
	struct haproxy_info info;
	struct buf *out = buf_new(1024);
	const char *error;

	sin6(&src, "::ffff:192.0.2.9", 5000);
	sin4(&dst, "192.0.2.1", 110);
	ck_assert_int_eq(haproxy_encode(out, (struct sockaddr *) &src,
	    (struct sockaddr *) &dst, NULL), 0);
	ck_assert_int_eq(haproxy_parse((const unsigned char *) buf_cstr(out),
	    buf_len(out), &info, &error), 28);
	assert_addrs(&info, "192.0.2.9", 5000, "192.0.2.1", 110);
	haproxy_info_clear(&info);
	buf_free(&out);
}
END_TEST

START_TEST(test_encode_refused)
{
	struct sockaddr_in a4;
	struct sockaddr_in6 a6;
	struct buf *out = buf_new(1024), *small = buf_new(20);
	char long_login[300];

	sin4(&a4, "192.0.2.1", 1);
	sin6(&a6, "2001:db8::1", 1);
	memset(long_login, 'a', sizeof(long_login) - 1);
	long_login[sizeof(long_login) - 1] = '\0';
	/* One IPv6 end: both go as IPv6, the IPv4 one mapped (TCP6). */
	ck_assert_int_gt(haproxy_encode(out, (struct sockaddr *) &a4,
	    (struct sockaddr *) &a6, NULL), -1);
	ck_assert_uint_eq(buf_len(out), 16 + 36);
	ck_assert_int_eq((unsigned char) buf_cstr(out)[13], 0x21);
	ck_assert(memcmp(buf_cstr(out) + 16,
	    "\0\0\0\0\0\0\0\0\0\0\xff\xff\xc0\x00\x02\x01", 16) == 0);
	buf_reset(out);
	ck_assert_int_eq(haproxy_encode(out, (struct sockaddr *) &a4,
	    (struct sockaddr *) &a4, ""), -1);
	ck_assert_int_eq(haproxy_encode(out, (struct sockaddr *) &a4,
	    (struct sockaddr *) &a4, "a b"), -1);
	ck_assert_int_eq(haproxy_encode(out, (struct sockaddr *) &a4,
	    (struct sockaddr *) &a4, "a\r\nb"), -1);
	ck_assert_int_eq(haproxy_encode(out, (struct sockaddr *) &a4,
	    (struct sockaddr *) &a4, "a\xff"), -1);
	ck_assert_int_eq(haproxy_encode(out, (struct sockaddr *) &a4,
	    (struct sockaddr *) &a4, long_login), -1);
	ck_assert_uint_eq(buf_len(out), 0);
	/* Past the cap: -1 and nothing appended. */
	ck_assert_int_eq(haproxy_encode(small, (struct sockaddr *) &a4,
	    (struct sockaddr *) &a4, NULL), -1);
	ck_assert_uint_eq(buf_len(small), 0);
	/* UTF-8 logins are fine. */
	ck_assert_int_eq(haproxy_encode(out, (struct sockaddr *) &a4,
	    (struct sockaddr *) &a4, "j\xc3\xb6rg@example.org"), 0);
	buf_free(&out);
	buf_free(&small);
}
END_TEST

/* Headers built by hand, independent of the encoder. */
static const struct {
	const char *data;
	size_t len;
	int consumed;
	int local;
	const char *src;
	int sport;
	const char *login;
} good[] = {
	{ SIG "\x21\x11\x00\x0c" "\xc0\x00\x02\x01" "\xc0\x00\x02\x02"
	  "\x00\x50\x01\xbb", 28, 28, 0, "192.0.2.1", 80, NULL },
	/* An unknown TLV (0xE1) skipped, the login kept. */
	{ SIG "\x21\x11\x00\x17" "\xc0\x00\x02\x01" "\xc0\x00\x02\x02"
	  "\x00\x50\x01\xbb" "\xe1\x00\x02xy" "\xe0\x00\x03" "bob", 39, 39, 0,
	  "192.0.2.1", 80, "bob" },
	/* LOCAL: the body is ignored. */
	{ SIG "\x20\x00\x00\x00", 16, 16, 1, NULL, 0, NULL },
	{ SIG "\x20\x11\x00\x03" "abc", 19, 19, 1, NULL, 0, NULL },
	/* PROXY with UNSPEC family. */
	{ SIG "\x21\x00\x00\x00", 16, 16, 1, NULL, 0, NULL },
	{ "PROXY TCP4 192.0.2.5 192.0.2.1 40000 25\r\nEHLO", 45, 41, 0,
	  "192.0.2.5", 40000, NULL },
	{ "PROXY TCP6 2001:db8::5 2001:db8::1 1 65535\r\n", 44, 44, 0,
	  "2001:db8::5", 1, NULL },
	{ "PROXY UNKNOWN\r\n", 15, 15, 1, NULL, 0, NULL },
	{ "PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n", 35, 35, 1, NULL, 0, NULL },
};

START_TEST(test_parse_good)
{
	struct haproxy_info info;
	const char *error;
	char text[64];
	int rc, port;

	rc = parse_split((const unsigned char *) good[_i].data,
	    (size_t) good[_i].consumed, &info);
	ck_assert_int_eq(rc, good[_i].consumed);
	haproxy_info_clear(&info);
	/* Bytes after the header are left alone. */
	rc = haproxy_parse((const unsigned char *) good[_i].data,
	    good[_i].len, &info, &error);
	ck_assert_int_eq(rc, good[_i].consumed);
	ck_assert_int_eq(info.local, good[_i].local);
	if (good[_i].src != NULL) {
		ck_assert_str_eq(addr_text(&info.src, text, sizeof(text),
		    &port), good[_i].src);
		ck_assert_int_eq(port, good[_i].sport);
	}
	if (good[_i].login != NULL)
		ck_assert_str_eq(info.login, good[_i].login);
	else
		ck_assert_ptr_null(info.login);
	haproxy_info_clear(&info);
}
END_TEST

#define B(lit) lit, sizeof(lit) - 1

static const struct {
	const char *data;
	size_t len;
} bad[] = {
	{ B("EHLO example.org\r\n") },
	{ B("\r\nQUIT") },
	{ B("PROX") },	/* a valid prefix: see the test */
	{ B("proxy TCP4 1.2.3.4 1.2.3.5 1 2\r\n") },
	{ B(SIG "\x11\x11\x00\x0c" "\xc0\x00\x02\x01" "\xc0\x00\x02\x02"
	  "\x00\x50\x01\xbb") },	/* version 1 in binary */
	{ B(SIG "\x22\x11\x00\x0c" "\xc0\x00\x02\x01" "\xc0\x00\x02\x02"
	  "\x00\x50\x01\xbb") },	/* command 2 */
	{ B(SIG "\x21\x11\x02\x09") },	/* 521 bytes of body: too long */
	{ B(SIG "\x21\x12\x00\x0c" "\xc0\x00\x02\x01" "\xc0\x00\x02\x02"
	  "\x00\x50\x01\xbb") },	/* UDP */
	{ B(SIG "\x21\x11\x00\x08" "\xc0\x00\x02\x01" "\xc0\x00\x02\x02") },
	{ B(SIG "\x21\x21\x00\x0c" "\xc0\x00\x02\x01" "\xc0\x00\x02\x02"
	  "\x00\x50\x01\xbb") },	/* TCP6 with 12 bytes */
	{ B(SIG "\x21\x11\x00\x0e" "\xc0\x00\x02\x01" "\xc0\x00\x02\x02"
	  "\x00\x50\x01\xbb" "\xe0\x00") },	/* truncated TLV */
	{ B(SIG "\x21\x11\x00\x10" "\xc0\x00\x02\x01" "\xc0\x00\x02\x02"
	  "\x00\x50\x01\xbb" "\xe0\x00\x09" "b") },	/* TLV too long */
	{ B(SIG "\x21\x11\x00\x16" "\xc0\x00\x02\x01" "\xc0\x00\x02\x02"
	  "\x00\x50\x01\xbb" "\xe0\x00\x02" "ab" "\xe0\x00\x02" "cd") },
	{ B(SIG "\x21\x11\x00\x11" "\xc0\x00\x02\x01" "\xc0\x00\x02\x02"
	  "\x00\x50\x01\xbb" "\xe0\x00\x02" "a\n") },
	{ B(SIG "\x21\x11\x00\x11" "\xc0\x00\x02\x01" "\xc0\x00\x02\x02"
	  "\x00\x50\x01\xbb" "\xe0\x00\x02" "a\0") },
	{ B(SIG "\x21\x11\x00\x0f" "\xc0\x00\x02\x01" "\xc0\x00\x02\x02"
	  "\x00\x50\x01\xbb" "\xe0\x00\x00") },	/* empty login */
	{ B("PROXY TCP4 192.0.2.5 192.0.2.1 40000 25\n") },
	{ B("PROXY TCP4 192.0.2.5 192.0.2.1 40000 65536\r\n") },
	{ B("PROXY TCP4 192.0.2.5 192.0.2.1 040000 25\r\n") },
	{ B("PROXY TCP4 192.0.2.5 192.0.2.1 40000 25 1\r\n") },
	{ B("PROXY TCP4 192.0.2.5  192.0.2.1 40000 25\r\n") },
	{ B("PROXY TCP4 2001:db8::5 192.0.2.1 40000 25\r\n") },
	{ B("PROXY TCP6 192.0.2.5 192.0.2.1 40000 25\r\n") },
	{ B("PROXY UDP4 192.0.2.5 192.0.2.1 40000 25\r\n") },
	{ B("PROXY TCP4 192.0.2.5\0" "192.0.2.1 40000 25\r\n") },
	{ B("PROXY TCP4 192.0.2.5 192.0.2.1 x 25\r\n") },
	{ B("PROXY \r\n") },
	{ B("PROXY TCP4 192.0.2.5 192.0.2.1 40000 25 "
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxx") },	/* no LF within 107 bytes */
};

START_TEST(test_parse_bad)
{
	struct haproxy_info info;
	const char *error = NULL;
	size_t len = bad[_i].len;

	if (_i == 2) {
		/* A valid prefix is "need more", never an error. */
		ck_assert_int_eq(haproxy_parse((const unsigned char *)
		    bad[_i].data, len, &info, &error), 0);
		return;
	}
	ck_assert_int_eq(haproxy_parse((const unsigned char *) bad[_i].data,
	    len, &info, &error), -1);
	ck_assert_ptr_nonnull(error);
	ck_assert_ptr_null(info.login);
	ck_assert_int_eq(info.src_len, 0);
}
END_TEST

static void
socket_pair(int fds[2])
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
}

/* The stream reader stops at the header's end: the rest is the daemon's. */
START_TEST(test_read_stream)
{
	static const char *const inputs[] = {
		SIG "\x21\x11\x00\x0c" "\xc0\x00\x02\x01" "\xc0\x00\x02\x02"
		    "\x00\x50\x01\xbb" "EHLO x\r\n",
		"PROXY TCP4 192.0.2.1 192.0.2.2 80 443\r\nEHLO x\r\n",
		"PROXY UNKNOWN\r\nEHLO x\r\n",
	};
	static const size_t lens[] = { 36, 47, 23 };
	struct haproxy_info info;
	struct stream *s;
	struct buf *line = buf_new(100);
	const char *error = NULL;
	int fds[2];

	socket_pair(fds);
	ck_assert_int_eq(write(fds[1], inputs[_i], lens[_i]),
	    (ssize_t) lens[_i]);
	s = stream_new(fds[0], 2000, 2000);
	ck_assert_msg(haproxy_read_stream(s, 2000, &info, &error) == 0, "%s",
	    error);
	ck_assert_int_eq(info.local, _i == 2);
	ck_assert_int_eq(stream_read_line(s, line, 100), STREAM_OK);
	ck_assert_str_eq(buf_cstr(line), "EHLO x");
	haproxy_info_clear(&info);
	stream_free(&s);
	buf_free(&line);
	close(fds[0]);
	close(fds[1]);
}
END_TEST

START_TEST(test_read_stream_fail)
{
	struct haproxy_info info;
	struct stream *s;
	const char *error = NULL;
	int64_t start;
	int fds[2];

	/* Garbage is refused at once, without waiting for the deadline. */
	socket_pair(fds);
	ck_assert_int_eq(write(fds[1], "EHLO x\r\n", 8), 8);
	s = stream_new(fds[0], 5000, 5000);
	start = stream_clock_ms();
	ck_assert_int_eq(haproxy_read_stream(s, 5000, &info, &error), -1);
	ck_assert_str_eq(error, "not a PROXY protocol header");
	ck_assert_int_lt(stream_clock_ms() - start, 1000);
	stream_free(&s);
	close(fds[0]);
	close(fds[1]);

	/* A silent peer: the deadline. */
	socket_pair(fds);
	ck_assert_int_eq(write(fds[1], "PROXY TCP4", 10), 10);
	s = stream_new(fds[0], 5000, 5000);
	start = stream_clock_ms();
	ck_assert_int_eq(haproxy_read_stream(s, 200, &info, &error), -1);
	ck_assert_str_eq(error, "timeout reading the PROXY header");
	ck_assert_int_ge(stream_clock_ms() - start, 190);
	stream_free(&s);
	close(fds[0]);
	close(fds[1]);

	/* EOF inside the header. */
	socket_pair(fds);
	ck_assert_int_eq(write(fds[1], SIG "\x21", 13), 13);
	close(fds[1]);
	s = stream_new(fds[0], 5000, 5000);
	ck_assert_int_eq(haproxy_read_stream(s, 2000, &info, &error), -1);
	ck_assert_str_eq(error, "connection closed in the PROXY header");
	stream_free(&s);
	close(fds[0]);
}
END_TEST

static Suite *
haproxy_suite(void)
{
	Suite *s = suite_create("haproxy");
	TCase *tc = tcase_create("encode");

	tcase_add_test(tc, test_encode_v4_login);
	tcase_add_test(tc, test_encode_v6);
	tcase_add_test(tc, test_encode_mapped);
	tcase_add_test(tc, test_encode_refused);
	suite_add_tcase(s, tc);
	tc = tcase_create("parse");
	tcase_add_loop_test(tc, test_parse_good, 0,
	    (int) (sizeof(good) / sizeof(good[0])));
	tcase_add_loop_test(tc, test_parse_bad, 0,
	    (int) (sizeof(bad) / sizeof(bad[0])));
	suite_add_tcase(s, tc);
	tc = tcase_create("stream");
	tcase_add_loop_test(tc, test_read_stream, 0, 3);
	tcase_add_test(tc, test_read_stream_fail);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(haproxy_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

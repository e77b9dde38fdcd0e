/*
 * check_dns_parse: what the resolver does without a DNS server: the wire
 * format parser fed hostile replies (TTLs, TLSA), the dns_servers and
 * timeout checks of dns_open(), reverse names and address helpers.  The
 * lookups against a real dnsmasq are in check_dns.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "dns.h"
#include "dns_private.h"
#include "xalloc.h"

/* ---- TTLs (RFC 2181 8, RFC 2308 5) ------------------------------------ */

/* A reply to a.test/TXT: header, question, then the records in rrs. */
static size_t
ttl_reply(unsigned char *out, int an, int ns, const unsigned char *rrs,
	size_t rrs_len)
{
	static const unsigned char head[] = {
		0x12, 0x34, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0,
		1, 'a', 4, 't', 'e', 's', 't', 0, 0, 16, 0, 1,
	};

	memcpy(out, head, sizeof(head));
	out[7] = (unsigned char)an;
	out[9] = (unsigned char)ns;
	if (rrs_len > 0)
		memcpy(out + sizeof(head), rrs, rrs_len);
	return sizeof(head) + rrs_len;
}

START_TEST(test_ttl_parse)
{
	/* Two TXT records, TTL 300 and 120 (names compressed to a.test). */
	static const unsigned char two[] = {
		0xc0, 12, 0, 16, 0, 1, 0, 0, 0x01, 0x2c, 0, 2, 1, 'x',
		0xc0, 12, 0, 16, 0, 1, 0, 0, 0, 120, 0, 2, 1, 'y',
	};
	/* NXDOMAIN: SOA with TTL 3600 and MINIMUM 60. */
	static const unsigned char soa[] = {
		0xc0, 14, 0, 6, 0, 1, 0, 0, 0x0e, 0x10, 0, 22,
		0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4,
		0, 0, 0, 60,
	};
	/* A TTL with the top bit set counts as zero. */
	static const unsigned char big[] = {
		0xc0, 12, 0, 16, 0, 1, 0x80, 0, 0, 1, 0, 2, 1, 'x',
	};
	unsigned char reply[512];
	size_t len;

	len = ttl_reply(reply, 2, 0, two, sizeof(two));
	ck_assert_int_eq(dns_parse_ttl(reply, (int)len), 120);
	len = ttl_reply(reply, 0, 1, soa, sizeof(soa));
	ck_assert_int_eq(dns_parse_ttl(reply, (int)len), 60);
	/* Without an SOA a negative answer may not be kept. */
	len = ttl_reply(reply, 0, 0, NULL, 0);
	ck_assert_int_eq(dns_parse_ttl(reply, (int)len), -1);
	len = ttl_reply(reply, 1, 0, big, sizeof(big));
	ck_assert_int_eq(dns_parse_ttl(reply, (int)len), 0);
	/* Cut short: nothing to trust. */
	len = ttl_reply(reply, 2, 0, two, sizeof(two));
	ck_assert_int_eq(dns_parse_ttl(reply, (int)len - 3), -1);
	ck_assert_int_eq(dns_parse_ttl(reply, 5), -1);
	ck_assert_int_eq(dns_parse_ttl(NULL, 0), -1);
}
END_TEST

/* ---- TLSA replies as a hostile server could send them ----------------- */

/*
 * A reply for "t.test" TLSA: header (id 0, QR, counts), the question,
 * then an answer section written by the case into rr[].
 */
struct tlsa_reply {
	unsigned char b[4096];
	int len;
};

static void
tlsa_reply_start(struct tlsa_reply *r, int qd, int an)
{
	static const unsigned char q[] = {
		1, 't', 4, 't', 'e', 's', 't', 0, 0, 52, 0, 1
	};

	memset(r, 0, sizeof(*r));
	r->b[2] = 0x81;
	r->b[3] = 0x80;
	r->b[5] = (unsigned char) qd;
	r->b[6] = (unsigned char) (an >> 8);
	r->b[7] = (unsigned char) an;
	r->len = 12;
	memcpy(r->b + r->len, q, sizeof(q));
	r->len += (int) sizeof(q);
}

/* An answer record: name = pointer to the question, type, rdata. */
static void
tlsa_reply_rr(struct tlsa_reply *r, int type, const unsigned char *rdata,
	int rdlen, int claimed)
{
	unsigned char *p = r->b + r->len;

	p[0] = 0xc0;
	p[1] = 12;
	p[2] = (unsigned char) (type >> 8);
	p[3] = (unsigned char) type;
	p[5] = 1;			/* class IN */
	p[9] = 60;			/* ttl */
	p[10] = (unsigned char) (claimed >> 8);
	p[11] = (unsigned char) claimed;
	memcpy(p + 12, rdata, (size_t) rdlen);
	r->len += 12 + rdlen;
}

/* Parse the first len bytes from a heap copy of exactly that size, so
 * that the sanitizer sees any read past the message. */
static struct dns_answer *
tlsa_parse(const struct tlsa_reply *r, int len)
{
	struct dns_answer *a = dns_answer_new(DNS_TYPE_TLSA, "t.test");
	unsigned char *copy = xmalloc(len > 0 ? (size_t) len : 1);

	memcpy(copy, r->b, (size_t) len);
	dns_parse_tlsa(a, copy, len);
	free(copy);
	return a;
}

static const unsigned char good_rdata[] = {
	3, 1, 1,
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
	0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10,
	0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,
	0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20
};

START_TEST(test_tlsa_malformed)
{
	static const unsigned char two[] = { 3, 1 };
	static const unsigned char cname[] = {
		1, 'x', 4, 't', 'e', 's', 't', 0
	};
	struct tlsa_reply r;
	struct dns_answer *a;
	int i;

	/* The well-formed reply parses: the cases below differ from it. */
	tlsa_reply_start(&r, 1, 1);
	tlsa_reply_rr(&r, 52, good_rdata, sizeof(good_rdata),
	    sizeof(good_rdata));
	a = tlsa_parse(&r, r.len);
	ck_assert_int_eq(a->status, DNS_FOUND);
	ck_assert_uint_eq(a->tlsa_count, 1);
	ck_assert_uint_eq(a->tlsa[0].len, 32);
	ck_assert_int_eq(a->tlsa[0].data[31], 0x20);
	dns_answer_free(&a);

	/* Cut anywhere: never read past the end, never FOUND. */
	for (i = 0; i < r.len; i++) {
		a = tlsa_parse(&r, i);
		ck_assert_msg(a->status == DNS_TEMPFAIL,
		    "cut at %d of %d: status %d", i, r.len, a->status);
		ck_assert_ptr_null(a->tlsa);
		dns_answer_free(&a);
	}

	/* rdlength claims more than the message holds. */
	tlsa_reply_start(&r, 1, 1);
	tlsa_reply_rr(&r, 52, good_rdata, sizeof(good_rdata), 4000);
	a = tlsa_parse(&r, r.len);
	ck_assert_int_eq(a->status, DNS_TEMPFAIL);
	dns_answer_free(&a);

	/* More answers announced than present. */
	tlsa_reply_start(&r, 1, 3);
	tlsa_reply_rr(&r, 52, good_rdata, sizeof(good_rdata),
	    sizeof(good_rdata));
	a = tlsa_parse(&r, r.len);
	ck_assert_int_eq(a->status, DNS_TEMPFAIL);
	dns_answer_free(&a);

	/* A question count past the message. */
	tlsa_reply_start(&r, 9, 1);
	tlsa_reply_rr(&r, 52, good_rdata, sizeof(good_rdata),
	    sizeof(good_rdata));
	a = tlsa_parse(&r, r.len);
	ck_assert_int_eq(a->status, DNS_TEMPFAIL);
	dns_answer_free(&a);

	/* A compression pointer to itself (a loop) as the owner name. */
	tlsa_reply_start(&r, 1, 1);
	tlsa_reply_rr(&r, 52, good_rdata, sizeof(good_rdata),
	    sizeof(good_rdata));
	r.b[12 + 12] = 0xc0;
	r.b[12 + 12 + 1] = 12 + 12;
	a = tlsa_parse(&r, r.len);
	ck_assert_int_eq(a->status, DNS_TEMPFAIL);
	dns_answer_free(&a);

	/* Type 52 with fewer than 3 bytes is no TLSA record: NODATA. */
	tlsa_reply_start(&r, 1, 1);
	tlsa_reply_rr(&r, 52, two, sizeof(two), sizeof(two));
	a = tlsa_parse(&r, r.len);
	ck_assert_int_eq(a->status, DNS_NODATA);
	ck_assert_ptr_null(a->tlsa);
	dns_answer_free(&a);

	/* Usage, selector and type out of range are kept as sent (the
	 * agent's smtp_tlsa_usable() judges them), empty data too. */
	{
		static const unsigned char odd[] = { 255, 7, 9 };

		tlsa_reply_start(&r, 1, 1);
		tlsa_reply_rr(&r, 52, odd, sizeof(odd), sizeof(odd));
		a = tlsa_parse(&r, r.len);
		ck_assert_int_eq(a->status, DNS_FOUND);
		ck_assert_int_eq(a->tlsa[0].usage, 255);
		ck_assert_int_eq(a->tlsa[0].selector, 7);
		ck_assert_int_eq(a->tlsa[0].mtype, 9);
		ck_assert_uint_eq(a->tlsa[0].len, 0);
		dns_answer_free(&a);
	}

	/* A CNAME first (RFC 7672 2.2.2), then the TLSA: the TLSA counts. */
	tlsa_reply_start(&r, 1, 2);
	tlsa_reply_rr(&r, 5, cname, sizeof(cname), sizeof(cname));
	tlsa_reply_rr(&r, 52, good_rdata, sizeof(good_rdata),
	    sizeof(good_rdata));
	a = tlsa_parse(&r, r.len);
	ck_assert_int_eq(a->status, DNS_FOUND);
	ck_assert_uint_eq(a->tlsa_count, 1);
	dns_answer_free(&a);

	/* More than DNS_MAX_RECORDS: capped, not grown without bound. */
	tlsa_reply_start(&r, 1, DNS_MAX_RECORDS + 10);
	for (i = 0; i < DNS_MAX_RECORDS + 10; i++)
		tlsa_reply_rr(&r, 52, good_rdata, 3, 3);
	ck_assert_int_le(r.len, (int) sizeof(r.b));
	a = tlsa_parse(&r, r.len);
	ck_assert_int_eq(a->status, DNS_FOUND);
	ck_assert_uint_eq(a->tlsa_count, DNS_MAX_RECORDS);
	dns_answer_free(&a);
}
END_TEST

/* ---- dns_open() checks its configuration ------------------------------- */

static const struct {
	const char *servers;
	int ok;
} server_cases[] = {
	{ "127.0.0.1", 1 },
	{ "127.0.0.1:5353", 1 },
	{ "127.0.0.1:53 127.0.0.2, 127.0.0.3:54", 1 },
	{ "::1", 1 },
	{ "[::1]:5353", 1 },
	{ "[2001:db8::1]", 1 },
	{ "", 1 },		/* /etc/resolv.conf */
	{ "localhost", 0 },
	{ "127.0.0.1:", 0 },
	{ "127.0.0.1:0", 0 },
	{ "127.0.0.1:65536", 0 },
	{ "127.0.0.1:53x", 0 },
	{ "[::1", 0 },
	{ "[::1]x", 0 },
	{ "[::1]:", 0 },
	{ "1.2.3.4.5", 0 },
	{ "127.0.0.1 bogus", 0 },
};

START_TEST(test_bad_servers)
{
	char *error = NULL;
	struct dns *dns = dns_open(server_cases[_i].servers, 1000, 1, &error);

	if (server_cases[_i].ok) {
		ck_assert_msg(dns != NULL, "%s: %s", server_cases[_i].servers,
		    error ? error : "");
		dns_close(&dns);
	} else {
		ck_assert_ptr_null(dns);
		ck_assert_ptr_nonnull(error);
		ck_assert_ptr_nonnull(strstr(error, "dns_servers"));
		free(error);
	}
}
END_TEST

START_TEST(test_bad_timeouts)
{
	char *error = NULL;

	ck_assert_ptr_null(dns_open("127.0.0.1", 0, 1, &error));
	free(error);
	error = NULL;
	ck_assert_ptr_null(dns_open("127.0.0.1", 100, 0, &error));
	free(error);
}
END_TEST

/* ---- names and addresses ------------------------------------------------ */

static const struct {
	const char *address;
	const char *suffix;
	const char *name;
} reverse_cases[] = {
	{ "192.0.2.1", NULL, "1.2.0.192.in-addr.arpa" },
	{ "127.0.0.2", "zen.example", "2.0.0.127.zen.example" },
	{ "2001:db8::1", NULL, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
	    "0.0.8.b.d.0.1.0.0.2.ip6.arpa" },
	{ "::ffff:1.2.3.4", "bl.test", "4.0.3.0.2.0.1.0.f.f.f.f.0.0.0.0.0."
	    "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.bl.test" },
	{ "", NULL, NULL },
	{ "1.2.3", NULL, NULL },
	{ "1.2.3.256", NULL, NULL },
	{ "example.test", NULL, NULL },
	{ "2001:db8::1::2", NULL, NULL },
	{ " 1.2.3.4", NULL, NULL },
};

START_TEST(test_reverse_name)
{
	char *name = dns_reverse_name(reverse_cases[_i].address,
	    reverse_cases[_i].suffix);

	if (reverse_cases[_i].name == NULL) {
		ck_assert_ptr_null(name);
	} else {
		ck_assert_ptr_nonnull(name);
		ck_assert_str_eq(name, reverse_cases[_i].name);
	}
	free(name);
}
END_TEST

START_TEST(test_addr_helpers)
{
	struct dns_addr a, b;
	struct sockaddr_storage ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

	ck_assert_int_eq(dns_addr_parse("2001:DB8:0::1", &a), 0);
	ck_assert_str_eq(a.text, "2001:db8::1");
	ck_assert_int_eq(dns_addr_parse("2001:db8::1", &b), 0);
	ck_assert(dns_addr_equal(&a, &b));
	ck_assert_int_eq(dns_addr_parse("127.0.0.1", &b), 0);
	ck_assert(!dns_addr_equal(&a, &b));
	ck_assert_int_eq(dns_addr_sockaddr(&a, 25, &ss), sizeof(*sin6));
	ck_assert_int_eq(sin6->sin6_family, AF_INET6);
	ck_assert_int_eq(ntohs(sin6->sin6_port), 25);
	ck_assert_int_eq(dns_addr_parse("x", &a), -1);
	ck_assert_int_eq(dns_addr_parse("1.2.3.4/24", &a), -1);
	ck_assert_str_eq(dns_status_name(DNS_TEMPFAIL), "tempfail");
	ck_assert_str_eq(dns_status_name(DNS_NULL_MX), "null-mx");
}
END_TEST

static Suite *
dns_parse_suite(void)
{
	Suite *s = suite_create("dns_parse");
	TCase *tc;

	tc = tcase_create("ttl");
	tcase_add_test(tc, test_ttl_parse);
	suite_add_tcase(s, tc);

	tc = tcase_create("tlsa");
	tcase_add_test(tc, test_tlsa_malformed);
	suite_add_tcase(s, tc);

	tc = tcase_create("config");
	tcase_add_loop_test(tc, test_bad_servers, 0,
	    sizeof(server_cases) / sizeof(server_cases[0]));
	tcase_add_test(tc, test_bad_timeouts);
	suite_add_tcase(s, tc);

	tc = tcase_create("names");
	tcase_add_loop_test(tc, test_reverse_name, 0,
	    sizeof(reverse_cases) / sizeof(reverse_cases[0]));
	tcase_add_test(tc, test_addr_helpers);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *runner = srunner_create(dns_parse_suite());
	int failed;

	srunner_run_all(runner, CK_NORMAL);
	failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

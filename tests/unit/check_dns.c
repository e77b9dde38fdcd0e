/*
 * check_dns: the c-ares resolver against a real dnsmasq serving the test
 * zone of tests/integration/dnsutil.py.  The server comes from
 * ISPMAIL_TEST_DNS ("127.0.0.1:PORT"), else this program starts one with
 * "dnsutil.py start" (top_srcdir must be set, as make check does); no
 * server means failure, not a skip.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "dns.h"
#include "dns_private.h"
#include "xalloc.h"

static char server[64];

static struct dns *
open_test_resolver(void)
{
	char *error = NULL;
	struct dns *dns = dns_open(server, 2000, 2, &error);

	ck_assert_msg(dns != NULL, "dns_open: %s", error ? error : "?");
	return dns;
}

/* A bound UDP socket nobody reads: queries to it time out. */
static int
silent_server(char *address, size_t size)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	ck_assert_int_ge(fd, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	snprintf(address, size, "127.0.0.1:%u", ntohs(sin.sin_port));
	return fd;
}

/* ---- MX ---------------------------------------------------------------- */

START_TEST(test_mx_sorted)
{
	struct dns *dns = open_test_resolver();
	struct dns_answer *answer = NULL;
	static const unsigned int prefs[] = { 10, 20, 20, 20, 30 };
	size_t i;
	int seen_a = 0, seen_b = 0, seen_c = 0;

	ck_assert_int_eq(dns_mx_lookup(dns, "MX.Test.", 0, &answer),
	    DNS_FOUND);
	ck_assert_str_eq(answer->name, "mx.test");
	ck_assert_ptr_null(answer->error);
	ck_assert_uint_eq(answer->mx_count, 5);
	for (i = 0; i < 5; i++)
		ck_assert_uint_eq(answer->mx[i].preference, prefs[i]);
	ck_assert_str_eq(answer->mx[0].host, "mx1.mx.test");
	ck_assert_str_eq(answer->mx[4].host, "mx3.mx.test");
	for (i = 1; i < 4; i++) {
		seen_a += strcmp(answer->mx[i].host, "mx2a.mx.test") == 0;
		seen_b += strcmp(answer->mx[i].host, "mx2b.mx.test") == 0;
		seen_c += strcmp(answer->mx[i].host, "mx2c.mx.test") == 0;
	}
	ck_assert(seen_a == 1 && seen_b == 1 && seen_c == 1);
	dns_answer_free(&answer);
	ck_assert_ptr_null(answer);
	dns_close(&dns);
	ck_assert_ptr_null(dns);
}
END_TEST

/* Equal preferences come in random order: each leads sometimes. */
START_TEST(test_mx_equal_spread)
{
	struct dns *dns = open_test_resolver();
	int first[3] = { 0, 0, 0 }, i;

	for (i = 0; i < 60; i++) {
		struct dns_answer *answer = NULL;

		ck_assert_int_eq(dns_mx_lookup(dns, "mx.test", 0, &answer),
		    DNS_FOUND);
		ck_assert_uint_eq(answer->mx[1].preference, 20);
		first[answer->mx[1].host[3] - 'a']++;
		dns_answer_free(&answer);
	}
	ck_assert_msg(first[0] > 0 && first[1] > 0 && first[2] > 0,
	    "leaders %d %d %d", first[0], first[1], first[2]);
	dns_close(&dns);
}
END_TEST

static const struct {
	const char *name;
	enum dns_status status;
} mx_cases[] = {
	{ "nullmx.test", DNS_NULL_MX },		/* RFC 7505 "0 ." */
	{ "dual.test", DNS_NODATA },		/* A/AAAA, no MX */
	{ "nosuch.test", DNS_NXDOMAIN },
	{ "badmx.test", DNS_TEMPFAIL },		/* malformed rdata */
	{ "example.invalid", DNS_TEMPFAIL },	/* REFUSED */
};

START_TEST(test_mx_status)
{
	struct dns *dns = open_test_resolver();
	struct dns_answer *answer = NULL;

	ck_assert_int_eq(dns_mx_lookup(dns, mx_cases[_i].name, 0, &answer),
	    mx_cases[_i].status);
	ck_assert_int_eq(answer->status, mx_cases[_i].status);
	ck_assert_uint_eq(answer->mx_count, 0);
	ck_assert_ptr_null(answer->mx);
	ck_assert_ptr_nonnull(answer->error);
	ck_assert_ptr_nonnull(strstr(answer->error, mx_cases[_i].name));
	dns_answer_free(&answer);
	dns_close(&dns);
}
END_TEST

/* ---- A / AAAA ---------------------------------------------------------- */

static const struct {
	const char *name;
	enum dns_status status;
	const char *first;
	const char *second;
} addr_cases[] = {
	{ "dual.test", DNS_FOUND, "127.0.0.22", "2001:db8::22" },
	{ "v4only.test", DNS_FOUND, "127.0.0.23", NULL },
	{ "v6only.test", DNS_FOUND, "2001:db8::24", NULL },
	{ "mx.test", DNS_NODATA, NULL, NULL },
	{ "nosuch.test", DNS_NXDOMAIN, NULL, NULL },
	{ "example.invalid", DNS_TEMPFAIL, NULL, NULL },
};

START_TEST(test_addr)
{
	struct dns *dns = open_test_resolver();
	struct dns_answer *answer = NULL;
	size_t expect = (addr_cases[_i].first != NULL) +
	    (addr_cases[_i].second != NULL);

	ck_assert_int_eq(dns_addr_lookup(dns, addr_cases[_i].name, 0,
	    &answer), addr_cases[_i].status);
	ck_assert_uint_eq(answer->addr_count, expect);
	if (expect > 0) {
		struct dns_addr parsed;

		ck_assert_str_eq(answer->addrs[0].text, addr_cases[_i].first);
		ck_assert_int_eq(dns_addr_parse(addr_cases[_i].first,
		    &parsed), 0);
		ck_assert(dns_addr_equal(&parsed, &answer->addrs[0]));
		ck_assert_ptr_null(answer->error);
	} else {
		ck_assert_ptr_nonnull(answer->error);
	}
	if (expect > 1) {
		ck_assert_str_eq(answer->addrs[1].text, addr_cases[_i].second);
		ck_assert_int_eq(answer->addrs[1].family, AF_INET6);
	}
	dns_answer_free(&answer);
	dns_close(&dns);
}
END_TEST

/* ---- TXT and PTR ------------------------------------------------------- */

START_TEST(test_txt)
{
	struct dns *dns = open_test_resolver();
	struct dns_answer *answer = NULL;

	ck_assert_int_eq(dns_txt_lookup(dns, "txt.test", 0, &answer),
	    DNS_FOUND);
	ck_assert_uint_eq(answer->string_count, 1);
	ck_assert_str_eq(answer->strings[0], "v=spf1 -all");
	dns_answer_free(&answer);

	/* One record of two character-strings is joined (RFC 7208 3.3). */
	ck_assert_int_eq(dns_txt_lookup(dns, "split.test", 0, &answer),
	    DNS_FOUND);
	ck_assert_uint_eq(answer->string_count, 1);
	ck_assert_str_eq(answer->strings[0], "part one part two");
	dns_answer_free(&answer);

	/* Two records stay two. */
	ck_assert_int_eq(dns_txt_lookup(dns, "two.test", 0, &answer),
	    DNS_FOUND);
	ck_assert_uint_eq(answer->string_count, 2);
	ck_assert((strcmp(answer->strings[0], "first") == 0 &&
	    strcmp(answer->strings[1], "second") == 0) ||
	    (strcmp(answer->strings[1], "first") == 0 &&
	    strcmp(answer->strings[0], "second") == 0));
	dns_answer_free(&answer);

	ck_assert_int_eq(dns_txt_lookup(dns, "dual.test", 0, &answer),
	    DNS_NODATA);
	dns_answer_free(&answer);
	ck_assert_int_eq(dns_txt_lookup(dns, "nosuch.test", 0, &answer),
	    DNS_NXDOMAIN);
	dns_answer_free(&answer);
	dns_close(&dns);
}
END_TEST

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

/* dnsmasq gives its local records TTL 0 unless told (--local-ttl). */
START_TEST(test_ttl_answers)
{
	struct dns *dns = open_test_resolver();
	struct dns_answer *answer = NULL;

	ck_assert_int_eq(dns_txt_lookup(dns, "txt.test", 0, &answer),
	    DNS_FOUND);
	ck_assert_int_eq(answer->ttl, 0);
	dns_answer_free(&answer);
	dns_close(&dns);
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

/* ---- TLSA and the DNSSEC resolver ------------------------------------ */

START_TEST(test_tlsa)
{
	struct dns *dns = open_test_resolver();
	struct dns_answer *answer = NULL;
	size_t i;
	int seen3 = 0, seen2 = 0;

	ck_assert_int_eq(dns_tlsa_lookup(dns, "tlsa.test", 25, 0, &answer),
	    DNS_FOUND);
	ck_assert_uint_eq(answer->tlsa_count, 2);
	for (i = 0; i < answer->tlsa_count; i++) {
		const struct dns_tlsa *t = &answer->tlsa[i];

		ck_assert_uint_eq(t->len, 32);
		if (t->usage == 3) {
			ck_assert_uint_eq(t->selector, 1);
			ck_assert_uint_eq(t->mtype, 1);
			ck_assert_uint_eq(t->data[0], 0x11);
			ck_assert_uint_eq(t->data[31], 0x11);
			seen3 = 1;
		} else {
			ck_assert_uint_eq(t->usage, 2);
			ck_assert_uint_eq(t->selector, 0);
			ck_assert_uint_eq(t->data[0], 0x22);
			seen2 = 1;
		}
	}
	ck_assert(seen3 && seen2);
	/* A resolver opened with dns_open() never reports secure. */
	ck_assert_int_eq(answer->secure, 0);
	dns_answer_free(&answer);
	/* Not on another port; a record too short to be TLSA. */
	ck_assert_int_eq(dns_tlsa_lookup(dns, "tlsa.test", 587, 0, &answer),
	    DNS_NXDOMAIN);
	dns_answer_free(&answer);
	ck_assert_int_eq(dns_tlsa_lookup(dns, "short.test", 25, 0, &answer),
	    DNS_NODATA);
	dns_answer_free(&answer);
	dns_close(&dns);
}
END_TEST

START_TEST(test_dnssec_resolver)
{
	struct dns_answer *answer = NULL;
	char *error = NULL;
	struct dns *dns;

	/* The trusted resolvers must be named. */
	ck_assert_ptr_null(dns_open_dnssec("", 2000, 2, &error));
	ck_assert_ptr_nonnull(error);
	free(error);
	error = NULL;
	ck_assert_ptr_null(dns_open_dnssec(NULL, 2000, 2, &error));
	free(error);
	error = NULL;
	dns = dns_open_dnssec(server, 2000, 2, &error);
	ck_assert_msg(dns != NULL, "dns_open_dnssec: %s", error);
	/*
	 * The query goes out by ares_send() with AD set; the statuses are
	 * those of ares_query().  dnsmasq does not validate: never secure.
	 */
	ck_assert_int_eq(dns_mx_lookup(dns, "mx.test", 0, &answer),
	    DNS_FOUND);
	ck_assert_uint_eq(answer->mx_count, 5);
	ck_assert_int_eq(answer->secure, 0);
	dns_answer_free(&answer);
	ck_assert_int_eq(dns_tlsa_lookup(dns, "tlsa.test", 25, 0, &answer),
	    DNS_FOUND);
	ck_assert_uint_eq(answer->tlsa_count, 2);
	dns_answer_free(&answer);
	ck_assert_int_eq(dns_addr_lookup(dns, "v4only.test", 0, &answer),
	    DNS_FOUND);
	dns_answer_free(&answer);
	ck_assert_int_eq(dns_txt_lookup(dns, "dual.test", 0, &answer),
	    DNS_NODATA);
	dns_answer_free(&answer);
	ck_assert_int_eq(dns_txt_lookup(dns, "nosuch.test", 0, &answer),
	    DNS_NXDOMAIN);
	dns_answer_free(&answer);
	ck_assert_int_eq(dns_mx_lookup(dns, "nullmx.test", 0, &answer),
	    DNS_NULL_MX);
	dns_answer_free(&answer);
	dns_close(&dns);
}
END_TEST

static const struct {
	const char *address;
	enum dns_status status;
	const char *name;
} ptr_cases[] = {
	{ "127.0.0.3", DNS_FOUND, "ptr.test" },
	{ "2001:db8::f", DNS_FOUND, "ptr6.test" },
	{ "127.0.0.21", DNS_FOUND, "mx1.mx.test" },	/* from host-record */
	{ "127.0.0.99", DNS_NXDOMAIN, NULL },
	{ "not-an-address", DNS_NXDOMAIN, NULL },
	{ "", DNS_NXDOMAIN, NULL },
	{ "127.0.0.1.5", DNS_NXDOMAIN, NULL },
};

START_TEST(test_ptr)
{
	struct dns *dns = open_test_resolver();
	struct dns_answer *answer = NULL;

	ck_assert_int_eq(dns_ptr_lookup(dns, ptr_cases[_i].address, 0,
	    &answer), ptr_cases[_i].status);
	if (ptr_cases[_i].name != NULL) {
		ck_assert_uint_eq(answer->string_count, 1);
		ck_assert_str_eq(answer->strings[0], ptr_cases[_i].name);
	} else {
		ck_assert_uint_eq(answer->string_count, 0);
		ck_assert_ptr_nonnull(answer->error);
	}
	dns_answer_free(&answer);
	dns_close(&dns);
}
END_TEST

/* ---- the asynchronous interface in a caller's poll loop ---------------- */

struct collected {
	int calls;
	int found;
	int chained;
	struct dns *dns;
};

static void
collect(struct dns_answer *answer, void *context)
{
	struct collected *c = context;

	c->calls++;
	c->found += answer->status == DNS_FOUND;
	/* A callback may start the next query. */
	if (answer->type == DNS_TYPE_MX && !c->chained) {
		c->chained = 1;
		dns_query(c->dns, DNS_TYPE_A, answer->mx[0].host, collect, c);
	}
	dns_answer_free(&answer);
}

START_TEST(test_poll_loop)
{
	struct dns *dns = open_test_resolver();
	struct collected c = { 0, 0, 0, dns };
	struct pollfd fds[1 + DNS_POLLFDS_MAX];
	int pipefd[2];
	/*
	 * A hang guard by time, not by rounds: the caller's fd below is
	 * always readable, so the loop spins until the answers arrive, and
	 * on a loaded machine that can take many rounds.
	 */
	long long give_up = dns_now_ms() + 20000;

	/* The caller's own fd sits first; dns_process ignores it. */
	ck_assert_int_eq(pipe(pipefd), 0);
	ck_assert_int_eq(write(pipefd[1], "x", 1), 1);
	dns_query(dns, DNS_TYPE_MX, "mx.test", collect, &c);
	dns_query(dns, DNS_TYPE_A, "dual.test", collect, &c);
	dns_query(dns, DNS_TYPE_AAAA, "dual.test", collect, &c);
	dns_query(dns, DNS_TYPE_TXT, "txt.test", collect, &c);
	dns_query(dns, DNS_TYPE_PTR, "3.0.0.127.in-addr.arpa", collect, &c);
	dns_query(dns, DNS_TYPE_A, "bad..name", collect, &c);
	/* Never from dns_query() itself, even for a bad name. */
	ck_assert_int_eq(c.calls, 0);
	ck_assert_uint_eq(dns_pending(dns), 6);
	while (dns_pending(dns) > 0) {
		size_t n;
		int timeout;

		ck_assert_msg(dns_now_ms() < give_up, "no answers in 20 s");
		fds[0].fd = pipefd[0];
		fds[0].events = POLLIN;
		fds[0].revents = 0;
		n = dns_pollfds(dns, fds + 1, DNS_POLLFDS_MAX);
		timeout = dns_timeout_ms(dns, 5000);
		ck_assert_int_ge(timeout, 0);
		ck_assert_int_le(timeout, 5000);
		ck_assert_int_ge(poll(fds, n + 1, timeout), 0);
		dns_process(dns, fds, n + 1);
	}
	ck_assert_int_eq(c.calls, 7);
	ck_assert_int_eq(c.found, 6);
	ck_assert_int_eq(dns_timeout_ms(dns, 1234), 1234);
	ck_assert_int_eq(dns_timeout_ms(dns, -1), -1);
	close(pipefd[0]);
	close(pipefd[1]);
	dns_close(&dns);
}
END_TEST

/* dns_wait() runs everything pending; dns_close() answers the rest. */
START_TEST(test_wait_and_close)
{
	struct dns *dns = open_test_resolver();
	struct collected c = { 0, 0, 1, dns };
	char silent[64], *error = NULL;
	int fd;

	dns_query(dns, DNS_TYPE_A, "dual.test", collect, &c);
	dns_query(dns, DNS_TYPE_TXT, "two.test", collect, &c);
	ck_assert_uint_eq(dns_wait(dns, dns_now_ms() + 5000), 0);
	ck_assert_int_eq(c.calls, 2);
	ck_assert_int_eq(c.found, 2);
	dns_close(&dns);

	fd = silent_server(silent, sizeof(silent));
	dns = dns_open(silent, 5000, 2, &error);
	ck_assert_ptr_nonnull(dns);
	c.calls = c.found = 0;
	dns_query(dns, DNS_TYPE_A, "dual.test", collect, &c);
	dns_query(dns, DNS_TYPE_MX, "mx.test", collect, &c);
	dns_cancel(dns);
	ck_assert_int_eq(c.calls, 2);
	ck_assert_int_eq(c.found, 0);
	dns_query(dns, DNS_TYPE_A, "dual.test", collect, &c);
	dns_close(&dns);
	ck_assert_int_eq(c.calls, 3);
	close(fd);
}
END_TEST

/* ---- timeouts are temporary failures ----------------------------------- */

START_TEST(test_resolver_timeout)
{
	char silent[64], *error = NULL;
	struct dns_answer *answer = NULL;
	struct dns *dns;
	long long start;
	int fd = silent_server(silent, sizeof(silent));

	dns = dns_open(silent, 200, 1, &error);
	ck_assert_ptr_nonnull(dns);
	start = dns_now_ms();
	ck_assert_int_eq(dns_mx_lookup(dns, "mx.test", 0, &answer),
	    DNS_TEMPFAIL);
	ck_assert_int_lt(dns_now_ms() - start, 3000);
	ck_assert_ptr_nonnull(strcasestr(answer->error, "timeout"));
	dns_answer_free(&answer);
	close(fd);
	dns_close(&dns);
}
END_TEST

START_TEST(test_overall_deadline)
{
	char silent[64], *error = NULL;
	struct dns_answer *answer = NULL;
	struct dns *dns;
	long long start, took;
	int fd = silent_server(silent, sizeof(silent));

	/* The resolver would wait 2 x 5 s; the caller gives it 300 ms. */
	dns = dns_open(silent, 5000, 2, &error);
	ck_assert_ptr_nonnull(dns);
	start = dns_now_ms();
	ck_assert_int_eq(dns_addr_lookup(dns, "dual.test", 300, &answer),
	    DNS_TEMPFAIL);
	took = dns_now_ms() - start;
	ck_assert_int_ge(took, 250);
	ck_assert_int_lt(took, 2000);
	ck_assert_ptr_nonnull(strstr(answer->error, "timeout"));
	dns_answer_free(&answer);
	ck_assert_uint_eq(dns_pending(dns), 0);

	/* dns_wait() says how many it cut short. */
	dns_query(dns, DNS_TYPE_A, "a.test", collect, &(struct collected){ 0,
	    0, 1, dns });
	ck_assert_uint_eq(dns_wait(dns, dns_now_ms() + 100), 1);
	close(fd);
	dns_close(&dns);
}
END_TEST

/* ---- bad input ---------------------------------------------------------- */

static const char *bad_names[] = {
	"", ".", "a..b", ".a", "a b.test", "a\tb", "a\\.b", "a\x7f.test",
	/* a 64-octet label */
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.test",
	NULL,	/* 254 octets, made below */
};

START_TEST(test_bad_names)
{
	char silent[64], *error = NULL, *long_name;
	struct dns_answer *answer = NULL;
	struct dns *dns;
	const char *name = bad_names[_i];
	int fd = silent_server(silent, sizeof(silent));
	long long start;

	long_name = xmalloc(255);
	for (size_t i = 0; i < 254; i++)
		long_name[i] = i % 2 ? '.' : 'a';
	long_name[253] = 'b';
	long_name[254] = '\0';
	if (name == NULL)
		name = long_name;
	/* A silent server: a bad name must not even be asked. */
	dns = dns_open(silent, 5000, 2, &error);
	start = dns_now_ms();
	ck_assert_int_eq(dns_mx_lookup(dns, name, 0, &answer), DNS_NXDOMAIN);
	ck_assert_int_lt(dns_now_ms() - start, 1000);
	ck_assert_ptr_nonnull(answer->error);
	dns_answer_free(&answer);
	ck_assert_int_eq(dns_addr_lookup(dns, name, 0, &answer),
	    DNS_NXDOMAIN);
	dns_answer_free(&answer);
	free(long_name);
	close(fd);
	dns_close(&dns);
}
END_TEST

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

/* ---- the server ---------------------------------------------------------- */

static char fixture_dir[] = "/tmp/check_dns.XXXXXX";
static int started_fixture;

/* Run "dnsutil.py start|stop DIR"; stdout into out (may be NULL). */
static int
run_dnsutil(const char *verb, char *out, size_t size)
{
	const char *top = getenv("top_srcdir"), *python = getenv("PYTHON3");
	char *script;
	int pipefd[2], status;
	size_t len = 0;
	ssize_t n;
	pid_t pid;

	if (top == NULL) {
		fprintf(stderr, "check_dns: neither ISPMAIL_TEST_DNS nor "
		    "top_srcdir is set\n");
		return -1;
	}
	if (python == NULL || *python == '\0')
		python = "/usr/bin/python3";
	script = xasprintf("%s/tests/integration/dnsutil.py", top);
	if (pipe(pipefd) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(pipefd[1], 1);
		close(pipefd[0]);
		close(pipefd[1]);
		execl(python, python, script, verb, fixture_dir, (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	while (out != NULL && len + 1 < size &&
	    (n = read(pipefd[0], out + len, size - 1 - len)) > 0)
		len += (size_t)n;
	if (out != NULL) {
		out[len] = '\0';
		out[strcspn(out, "\r\n")] = '\0';
	}
	close(pipefd[0]);
	free(script);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		return -1;
	return 0;
}

static int
server_start(void)
{
	const char *env = getenv("ISPMAIL_TEST_DNS");

	if (env != NULL && *env != '\0') {
		snprintf(server, sizeof(server), "%s", env);
		return 0;
	}
	if (mkdtemp(fixture_dir) == NULL ||
	    run_dnsutil("start", server, sizeof(server)) < 0 ||
	    server[0] == '\0') {
		fprintf(stderr, "check_dns: cannot start dnsmasq (is "
		    "dnsmasq-base installed?)\n");
		return -1;
	}
	started_fixture = 1;
	return 0;
}

static void
server_stop(void)
{
	char *path;

	if (!started_fixture)
		return;
	run_dnsutil("stop", NULL, 0);
	path = xasprintf("%s/dnsmasq.log", fixture_dir);
	unlink(path);
	free(path);
	path = xasprintf("%s/dnsmasq.err", fixture_dir);
	unlink(path);
	free(path);
	rmdir(fixture_dir);
}

static Suite *
dns_suite(void)
{
	Suite *s = suite_create("dns");
	TCase *tc;

	tc = tcase_create("mx");
	tcase_add_test(tc, test_mx_sorted);
	tcase_add_test(tc, test_mx_equal_spread);
	tcase_add_loop_test(tc, test_mx_status, 0,
	    sizeof(mx_cases) / sizeof(mx_cases[0]));
	suite_add_tcase(s, tc);

	tc = tcase_create("addr");
	tcase_add_loop_test(tc, test_addr, 0,
	    sizeof(addr_cases) / sizeof(addr_cases[0]));
	suite_add_tcase(s, tc);

	tc = tcase_create("txt_ptr");
	tcase_add_test(tc, test_txt);
	tcase_add_test(tc, test_ttl_parse);
	tcase_add_test(tc, test_ttl_answers);
	tcase_add_loop_test(tc, test_ptr, 0,
	    sizeof(ptr_cases) / sizeof(ptr_cases[0]));
	suite_add_tcase(s, tc);

	tc = tcase_create("tlsa_dnssec");
	tcase_add_test(tc, test_tlsa);
	tcase_add_test(tc, test_tlsa_malformed);
	tcase_add_test(tc, test_dnssec_resolver);
	suite_add_tcase(s, tc);

	tc = tcase_create("async");
	tcase_add_test(tc, test_poll_loop);
	tcase_add_test(tc, test_wait_and_close);
	suite_add_tcase(s, tc);

	tc = tcase_create("timeout");
	tcase_add_test(tc, test_resolver_timeout);
	tcase_add_test(tc, test_overall_deadline);
	suite_add_tcase(s, tc);

	tc = tcase_create("bad_input");
	tcase_add_loop_test(tc, test_bad_names, 0,
	    sizeof(bad_names) / sizeof(bad_names[0]));
	tcase_add_loop_test(tc, test_bad_servers, 0,
	    sizeof(server_cases) / sizeof(server_cases[0]));
	tcase_add_test(tc, test_bad_timeouts);
	tcase_add_loop_test(tc, test_reverse_name, 0,
	    sizeof(reverse_cases) / sizeof(reverse_cases[0]));
	tcase_add_test(tc, test_addr_helpers);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *runner;
	int failed;

	if (server_start() < 0)
		return EXIT_FAILURE;
	runner = srunner_create(dns_suite());
	srunner_run_all(runner, CK_NORMAL);
	failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	server_stop();
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

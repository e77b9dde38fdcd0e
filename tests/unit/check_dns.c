/*
 * check_dns: the c-ares resolver against a real dnsmasq serving the test
 * zone of tests/integration/dnsutil.py.  The server comes from
 * ISPMAIL_TEST_DNS ("127.0.0.1:PORT"), else this program starts one with
 * "dnsutil.py start" (top_srcdir must be set, as make check does); no
 * server means failure, not a skip.  What needs no server (the reply
 * parser, configuration checks, names) is in check_dns_parse.
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
	tcase_add_test(tc, test_ttl_answers);
	tcase_add_loop_test(tc, test_ptr, 0,
	    sizeof(ptr_cases) / sizeof(ptr_cases[0]));
	suite_add_tcase(s, tc);

	tc = tcase_create("tlsa_dnssec");
	tcase_add_test(tc, test_tlsa);
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

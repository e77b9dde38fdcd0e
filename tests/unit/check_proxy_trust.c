/* check_proxy_trust: believing a proxy about the client. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "mail_params.h"
#include "proxy_trust.h"
#include "service.h"
#include "stream.h"

static void
peer_init(struct service_peer *peer, const char *addr, int port)
{
	memset(peer, 0, sizeof(*peer));
	peer->service = "test";
	snprintf(peer->client_addr, sizeof(peer->client_addr), "%s", addr);
	peer->client_port = port;
	snprintf(peer->local_addr, sizeof(peer->local_addr), "127.0.0.1");
	peer->local_port = 25;
}

static void
trust(const char *networks)
{
	char *error = NULL;

	free(var_proxy_trusted_networks);
	var_proxy_trusted_networks = strdup(networks);
	ck_assert_msg(proxy_trust_init(&error) == 0, "%s", error);
}

static const struct {
	const char *text;
	const char *stored;	/* NULL: refused */
} addrs[] = {
	{ "192.0.2.7", "192.0.2.7" },
	{ "2001:db8::7", "2001:db8::7" },
	{ "IPV6:2001:DB8:0::7", "2001:db8::7" },
	{ "ipv6:::1", "::1" },
	{ "::ffff:192.0.2.1", "::ffff:192.0.2.1" },
	{ "", NULL },
	{ "192.0.2", NULL },
	{ "192.0.2.7 ", NULL },
	{ "192.0.2.7\r\nX", NULL },
	{ "IPV6:192.0.2.7", NULL },
	{ "[UNAVAILABLE]", NULL },
	{ "example.org", NULL },
	{ "2001:db8::7%eth0", NULL },
};

START_TEST(test_set_addr)
{
	struct service_peer peer;

	peer_init(&peer, "127.0.0.1", 1000);
	if (addrs[_i].stored == NULL) {
		ck_assert_int_eq(proxy_trust_set_addr(&peer, addrs[_i].text),
		    -1);
		ck_assert_str_eq(peer.client_addr, "127.0.0.1");
	} else {
		ck_assert_int_eq(proxy_trust_set_addr(&peer, addrs[_i].text),
		    0);
		ck_assert_str_eq(peer.client_addr, addrs[_i].stored);
	}
	ck_assert_int_eq(peer.client_port, 1000);
}
END_TEST

START_TEST(test_set_port)
{
	struct service_peer peer;

	peer_init(&peer, "127.0.0.1", 1000);
	ck_assert_int_eq(proxy_trust_set_port(&peer, "65535"), 0);
	ck_assert_int_eq(peer.client_port, 65535);
	ck_assert_int_eq(proxy_trust_set_port(&peer, "0"), 0);
	ck_assert_int_eq(peer.client_port, 0);
	ck_assert_int_eq(proxy_trust_set_port(&peer, "65536"), -1);
	ck_assert_int_eq(proxy_trust_set_port(&peer, ""), -1);
	ck_assert_int_eq(proxy_trust_set_port(&peer, "-1"), -1);
	ck_assert_int_eq(proxy_trust_set_port(&peer, "1 "), -1);
	ck_assert_int_eq(proxy_trust_set_port(&peer, "999999"), -1);
	ck_assert_int_eq(peer.client_port, 0);
}
END_TEST

START_TEST(test_trusted)
{
	struct service_peer peer;
	char *error = NULL;

	trust("192.0.2.0/24 ::1");
	peer_init(&peer, "192.0.2.9", 1);
	ck_assert_int_eq(proxy_trust_peer(&peer), 1);
	peer_init(&peer, "::1", 1);
	ck_assert_int_eq(proxy_trust_peer(&peer), 1);
	peer_init(&peer, "127.0.0.1", 1);
	ck_assert_int_eq(proxy_trust_peer(&peer), 0);
	trust("");
	peer_init(&peer, "192.0.2.9", 1);
	ck_assert_int_eq(proxy_trust_peer(&peer), 0);
	free(var_proxy_trusted_networks);
	var_proxy_trusted_networks = strdup("192.0.2.0/33");
	ck_assert_int_eq(proxy_trust_init(&error), -1);
	ck_assert_ptr_nonnull(error);
	free(error);
}
END_TEST

/* Run accept on a socketpair that holds input; the peer is 127.0.0.1. */
static int
accept_input(const char *input, size_t len, struct service_peer *peer,
	char *rest, size_t rest_size)
{
	struct stream *s;
	int fds[2], rc;
	ssize_t n;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	ck_assert_int_eq(write(fds[1], input, len), (ssize_t) len);
	ck_assert_int_eq(shutdown(fds[1], SHUT_WR), 0);
	s = stream_new(fds[0], 1000, 1000);
	peer_init(peer, "127.0.0.1", 4000);
	rc = proxy_trust_accept(s, peer, 1000);
	n = read(fds[0], rest, rest_size - 1);
	rest[n > 0 ? n : 0] = '\0';
	stream_free(&s);
	close(fds[0]);
	close(fds[1]);
	return rc;
}

START_TEST(test_accept)
{
	static const char v2[] = "\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c"
	    "\xc0\x00\x02\x07" "\xc6\x33\x64\x01" "\x13\x88" "\x00\x19"
	    "EHLO x\r\n";
	static const char local[] = "\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00"
	    "EHLO x\r\n";
	struct service_peer peer;
	char rest[64];

	trust("127.0.0.0/8");
	ck_assert_int_eq(accept_input(v2, sizeof(v2) - 1, &peer, rest,
	    sizeof(rest)), 0);
	ck_assert_str_eq(peer.client_addr, "192.0.2.7");
	ck_assert_int_eq(peer.client_port, 5000);
	ck_assert_str_eq(peer.local_addr, "198.51.100.1");
	ck_assert_int_eq(peer.local_port, 25);
	ck_assert_str_eq(rest, "EHLO x\r\n");

	ck_assert_int_eq(accept_input("PROXY TCP6 2001:db8::9 2001:db8::1 "
	    "7 143\r\nA1", 44, &peer, rest, sizeof(rest)), 0);
	ck_assert_str_eq(peer.client_addr, "2001:db8::9");
	ck_assert_int_eq(peer.client_port, 7);
	ck_assert_str_eq(rest, "A1");

	/* LOCAL: the proxy itself (a health check). */
	ck_assert_int_eq(accept_input(local, sizeof(local) - 1, &peer, rest,
	    sizeof(rest)), 0);
	ck_assert_str_eq(peer.client_addr, "127.0.0.1");
	ck_assert_int_eq(peer.client_port, 4000);

	/* Garbage, and a silent EOF. */
	ck_assert_int_eq(accept_input("EHLO x\r\n", 8, &peer, rest,
	    sizeof(rest)), -1);
	ck_assert_str_eq(peer.client_addr, "127.0.0.1");
	ck_assert_int_eq(accept_input("", 0, &peer, rest, sizeof(rest)), -1);

	/* An untrusted peer is refused before a byte is read. */
	trust("192.0.2.0/24");
	ck_assert_int_eq(accept_input(v2, sizeof(v2) - 1, &peer, rest,
	    sizeof(rest)), -1);
	ck_assert_str_eq(peer.client_addr, "127.0.0.1");
	ck_assert_int_eq(rest[0], '\r');
}
END_TEST

static Suite *
proxy_trust_suite(void)
{
	Suite *s = suite_create("proxy_trust");
	TCase *tc = tcase_create("proxy_trust");

	tcase_add_loop_test(tc, test_set_addr, 0,
	    (int) (sizeof(addrs) / sizeof(addrs[0])));
	tcase_add_test(tc, test_set_port);
	tcase_add_test(tc, test_trusted);
	tcase_add_test(tc, test_accept);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(proxy_trust_suite());
	int failed;

	log_init("check_proxy_trust", LOG_TARGET_STDERR, "mail");
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

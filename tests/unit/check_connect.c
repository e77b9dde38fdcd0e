/* check_connect: next hops (unix:, host:port, [v6]:port) and failures. */
#include "config.h"

#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "connect.h"
#include "xalloc.h"

#define T_MS 2000

static char dir[] = "/tmp/check_connect.XXXXXX";

static void
setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void
teardown(void)
{
	char *path = xasprintf("%s/lmtp", dir);

	(void) unlink(path);
	free(path);
	ck_assert_int_eq(rmdir(dir), 0);
}

/* A listening TCP socket on 127.0.0.1; its port in *port_r. */
static int
listen_tcp(int *port_r)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *) &sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(fd, 4), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *) &sin, &len), 0);
	*port_r = ntohs(sin.sin_port);
	return fd;
}

static int prepared_family;

static int
prepare_ok(int fd, int family, void *ctx, char **error_r)
{
	(void) fd;
	(void) error_r;
	prepared_family = family;
	*(int *) ctx += 1;
	return 0;
}

static int
prepare_fail(int fd, int family, void *ctx, char **error_r)
{
	(void) fd;
	(void) family;
	(void) ctx;
	*error_r = xstrdup("bind refused");
	return -1;
}

START_TEST(test_unix_relative_and_absolute)
{
	struct sockaddr_un sun;
	char *error = NULL, *abs;
	int lfd, fd, calls = 0;

	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/lmtp", dir);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *) &sun, sizeof(sun)), 0);
	ck_assert_int_eq(listen(lfd, 4), 0);
	/* Relative: under base_dir, as master.conf's unix listeners. */
	fd = net_connect_nexthop("unix:lmtp", dir, T_MS, prepare_ok, &calls,
	    &error);
	ck_assert_msg(fd >= 0, "%s", error);
	ck_assert_int_eq(calls, 1);
	ck_assert_int_eq(prepared_family, AF_UNIX);
	close(fd);
	abs = xasprintf("unix:%s/lmtp", dir);
	fd = net_connect_nexthop(abs, "/nonexistent", T_MS, NULL, NULL,
	    &error);
	ck_assert_msg(fd >= 0, "%s", error);
	close(fd);
	free(abs);
	close(lfd);
}
END_TEST

START_TEST(test_tcp_and_v4_literal)
{
	char *error = NULL, *hop;
	int lfd, fd, port;

	lfd = listen_tcp(&port);
	hop = xasprintf("127.0.0.1:%d", port);
	fd = net_connect_nexthop(hop, dir, T_MS, NULL, NULL, &error);
	ck_assert_msg(fd >= 0, "%s", error);
	close(fd);
	free(hop);
	hop = xasprintf("[127.0.0.1]:%d", port);
	fd = net_connect_nexthop(hop, dir, T_MS, NULL, NULL, &error);
	ck_assert_msg(fd >= 0, "%s", error);
	close(fd);
	free(hop);
	close(lfd);
}
END_TEST

/* Refused, no port, a path too long, a prepare failure (ours). */
START_TEST(test_failures)
{
	struct sockaddr_in sin;
	char *error = NULL, *hop, *longpath;
	int lfd, port, local = -1;

	lfd = listen_tcp(&port);
	close(lfd);		/* nobody listens there now */
	hop = xasprintf("127.0.0.1:%d", port);
	ck_assert_int_eq(net_connect_nexthop(hop, dir, T_MS, NULL, NULL,
	    &error), -1);
	ck_assert_str_eq(error, "Connection refused");
	free(error);
	free(hop);
	ck_assert_int_eq(net_connect_nexthop("127.0.0.1", dir, T_MS, NULL,
	    NULL, &error), -1);
	ck_assert_str_eq(error, "next hop has no port");
	free(error);
	longpath = xmalloc(300);
	memset(longpath, 'x', 299);
	longpath[299] = '\0';
	memcpy(longpath, "unix:", 5);
	ck_assert_int_eq(net_connect_nexthop(longpath, dir, T_MS, NULL, NULL,
	    &error), -1);
	ck_assert_str_eq(error, "socket path too long");
	free(error);
	free(longpath);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((unsigned short) port);
	ck_assert_int_eq(net_connect((struct sockaddr *) &sin, sizeof(sin),
	    T_MS, prepare_fail, NULL, &error, &local), -1);
	ck_assert_str_eq(error, "bind refused");
	ck_assert_int_eq(local, 1);
	free(error);
	ck_assert_int_eq(net_connect((struct sockaddr *) &sin, sizeof(sin),
	    T_MS, NULL, NULL, &error, &local), -1);
	ck_assert_int_eq(local, 0);
	free(error);
}
END_TEST

static Suite *
connect_suite(void)
{
	Suite *s = suite_create("connect");
	TCase *tc = tcase_create("nexthop");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_unix_relative_and_absolute);
	tcase_add_test(tc, test_tcp_and_v4_literal);
	tcase_add_test(tc, test_failures);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(connect_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

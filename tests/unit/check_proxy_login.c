/* check_proxy_login: the proxy tier's login token, both sides. */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "mail_params.h"
#include "proxy_login.h"
#include "proxy_trust.h"
#include "service.h"
#include "tree_fixture.h"

/* 40 characters; its SHA-256 below (printf %s TOKEN | sha256sum). */
#define TOKEN "0123456789abcdef0123456789abcdef-token!!"
#define TOKEN_DIGEST \
	"141e075c1897395c0365ea6c5c16b9a0cba42275cd62ae1818218836b780719b"

static char dir[] = "/tmp/check_proxy_login.XXXXXX";

/* Write content (len bytes) to dir/name with mode: the path. */
static char *
token_file(const char *name, const char *content, size_t len, mode_t mode)
{
	static char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	(void) unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, content, len), (ssize_t) len);
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

static const struct {
	const char *content;
	mode_t mode;
	const char *token;	/* NULL: refused */
	const char *error;	/* a part of the error */
} files[] = {
	{ TOKEN, 0600, TOKEN, NULL },
	{ TOKEN "\n", 0600, TOKEN, NULL },
	{ TOKEN "\r\n", 0640, TOKEN, NULL },
	{ TOKEN "\n", 0644, NULL, "mode 0644" },
	{ TOKEN "\n", 0660, NULL, "mode 0660" },
	{ TOKEN "\n", 0602, NULL, "mode 0602" },
	{ "", 0600, NULL, "0 characters" },
	{ "short\n", 0600, NULL, "5 characters" },
	{ TOKEN "\n\n", 0600, NULL, "printable" },
	{ TOKEN " x\n", 0600, NULL, "printable" },
	{ TOKEN "\nsecond line\n", 0600, NULL, "printable" },
	{ "0123456789abcdef0123456789abcdef\001", 0600, NULL, "printable" },
	{ "0123456789abcdef0123456789abcdef\377", 0600, NULL, "printable" },
};

START_TEST(test_token_read)
{
	char *path, *token = NULL, *error = NULL;
	int rc;

	path = token_file("token", files[_i].content,
	    strlen(files[_i].content), files[_i].mode);
	rc = proxy_login_token_read(path, &token, &error);
	if (files[_i].token != NULL) {
		ck_assert_msg(rc == 0, "%s", error);
		ck_assert_str_eq(token, files[_i].token);
		free(token);
		return;
	}
	ck_assert_int_eq(rc, -1);
	ck_assert_ptr_null(token);
	ck_assert_msg(strstr(error, files[_i].error) != NULL &&
	    strstr(error, path) != NULL, "%s", error);
	free(error);
}
END_TEST

START_TEST(test_token_read_limits)
{
	char big[PROXY_LOGIN_TOKEN_MAX + 4], link_path[256], *token = NULL;
	char *error = NULL, *path;

	/* The longest token is taken, one more character is not. */
	memset(big, 'a', sizeof(big));
	path = token_file("max", big, PROXY_LOGIN_TOKEN_MAX, 0600);
	ck_assert_int_eq(proxy_login_token_read(path, &token, &error), 0);
	ck_assert_uint_eq(strlen(token), PROXY_LOGIN_TOKEN_MAX);
	free(token);
	path = token_file("long", big, PROXY_LOGIN_TOKEN_MAX + 1, 0600);
	ck_assert_int_eq(proxy_login_token_read(path, &token, &error), -1);
	free(error);
	path = token_file("huge", big, sizeof(big), 0600);
	ck_assert_int_eq(proxy_login_token_read(path, &token, &error), -1);
	ck_assert_msg(strstr(error, "longer than one token") != NULL, "%s",
	    error);
	free(error);
	/* A symbolic link to a good file is not followed. */
	path = token_file("target", TOKEN "\n", strlen(TOKEN) + 1, 0600);
	snprintf(link_path, sizeof(link_path), "%s/link", dir);
	(void) unlink(link_path);
	ck_assert_int_eq(symlink(path, link_path), 0);
	ck_assert_int_eq(proxy_login_token_read(link_path, &token, &error),
	    -1);
	ck_assert_msg(strstr(error, "symbolic link") != NULL, "%s", error);
	free(error);
	/* Neither a directory nor a missing file. */
	ck_assert_int_eq(proxy_login_token_read(dir, &token, &error), -1);
	ck_assert_msg(strstr(error, "not a regular file") != NULL, "%s",
	    error);
	free(error);
	snprintf(link_path, sizeof(link_path), "%s/missing", dir);
	ck_assert_int_eq(proxy_login_token_read(link_path, &token, &error),
	    -1);
	free(error);
}
END_TEST

static int
digests(const char *value)
{
	char *error = NULL;
	int rc;

	rc = proxy_login_init(value, &error);
	if (rc < 0) {
		ck_assert_ptr_nonnull(error);
		free(error);
	}
	return rc;
}

static void
peer_init(struct service_peer *peer, const char *addr)
{
	memset(peer, 0, sizeof(*peer));
	peer->service = "test";
	snprintf(peer->client_addr, sizeof(peer->client_addr), "%s", addr);
}

START_TEST(test_digests_parse)
{
	ck_assert_int_eq(digests(""), 0);
	ck_assert_int_eq(digests(TOKEN_DIGEST), 0);
	/* Upper case, and a second one for a rotation. */
	ck_assert_int_eq(digests("141E075C1897395C0365EA6C5C16B9A0CBA42275CD62"
	    "AE1818218836B780719B, " TOKEN_DIGEST), 0);
	/* One digit short or long, a non-hex digit, a token itself. */
	ck_assert_int_eq(digests("141e075c1897395c0365ea6c5c16b9a0cba42275cd62"
	    "ae1818218836b780719"), -1);
	ck_assert_int_eq(digests(TOKEN_DIGEST "0"), -1);
	ck_assert_int_eq(digests("g41e075c1897395c0365ea6c5c16b9a0cba42275cd62"
	    "ae1818218836b780719b"), -1);
	ck_assert_int_eq(digests(TOKEN), -1);
	ck_assert_int_eq(digests("a a a a a a a a a"), -1);
}
END_TEST

START_TEST(test_check)
{
	struct service_peer proxy, other;
	char *error = NULL;

	free(var_proxy_trusted_networks);
	var_proxy_trusted_networks = strdup("192.0.2.0/24");
	ck_assert_int_eq(proxy_trust_init(&error), 0);
	peer_init(&proxy, "192.0.2.51");
	peer_init(&other, "198.51.100.7");
	ck_assert(proxy_login_is_proxy(PROXY_LOGIN_IDENTITY));
	ck_assert(!proxy_login_is_proxy("ISPMAIL-PROXY"));
	ck_assert(!proxy_login_is_proxy("ispmail-proxy@example.test"));
	/* Nothing configured: a trusted proxy is refused, loudly. */
	ck_assert_int_eq(digests(""), 0);
	ck_assert_int_eq(proxy_login_check(&proxy, "198.51.100.7", "u@x.test",
	    TOKEN), PROXY_LOGIN_REFUSED);
	ck_assert_int_eq(digests("00000000000000000000000000000000000000000000"
	    "00000000000000000000, " TOKEN_DIGEST), 0);
	ck_assert_int_eq(proxy_login_check(&proxy, "198.51.100.7", "u@x.test",
	    TOKEN), PROXY_LOGIN_OK);
	ck_assert_int_eq(proxy_login_check(&proxy, "198.51.100.7", "u@x.test",
	    TOKEN "x"), PROXY_LOGIN_REFUSED);
	ck_assert_int_eq(proxy_login_check(&proxy, "198.51.100.7", "u@x.test",
	    ""), PROXY_LOGIN_REFUSED);
	/* The right token from elsewhere is a client's failed login. */
	ck_assert_int_eq(proxy_login_check(&other, "198.51.100.7", "u@x.test",
	    TOKEN), PROXY_LOGIN_UNTRUSTED);
}
END_TEST

static Suite *
proxy_login_suite(void)
{
	Suite *s = suite_create("proxy_login");
	TCase *tc = tcase_create("proxy_login");

	tcase_add_loop_test(tc, test_token_read, 0,
	    (int) (sizeof(files) / sizeof(files[0])));
	tcase_add_test(tc, test_token_read_limits);
	tcase_add_test(tc, test_digests_parse);
	tcase_add_test(tc, test_check);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return EXIT_FAILURE;
	}
	sr = srunner_create(proxy_login_suite());
	log_init("check_proxy_login", LOG_TARGET_STDERR, "mail");
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	tree_fixture_remove(dir);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

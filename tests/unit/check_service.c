/*
 * check_service: the service skeleton run for real, as the master would
 * run it, with tests/ispmail-testsvc and a fake master in this process.
 */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "master_proto.h"
#include "service.h"
#include "xalloc.h"

/* Generous: the sanitizer build starts children slowly. */
#define WAIT_MS 8000

static char tmpdir[] = "/tmp/check_service.XXXXXX";

/* A testsvc child and the master's ends of its descriptors. */
struct child {
	pid_t pid;
	int status_fd;		/* our end of the status socketpair */
	int listen_fd;		/* the listener we share with the child */
	int port;
	char *stderr_path;
};

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

static void
setup(void)
{
	char *path;

	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	path = xasprintf("%s/main.conf", tmpdir);
	write_file(path, "# test instance\nsyslog_name = check\n");
	free(path);
}

static void
teardown(void)
{
	char *cmd_path;

	cmd_path = xasprintf("%s/main.conf", tmpdir);
	(void) unlink(cmd_path);
	free(cmd_path);
	cmd_path = xasprintf("%s/stderr", tmpdir);
	(void) unlink(cmd_path);
	free(cmd_path);
	(void) rmdir(tmpdir);
}

static char *
testsvc_path(void)
{
	const char *top = getenv("top_builddir");

	if (top == NULL)
		ck_abort_msg("top_builddir is not set: run under make check "
		    "or as top_builddir=$PWD tests/unit/check_service");
	return xasprintf("%s/tests/ispmail-testsvc", top);
}

/* The user the child runs as: root must drop, to nobody here. */
static const char *
service_user(uid_t *uid_r, gid_t *gid_r)
{
	struct passwd *pw;

	pw = geteuid() == 0 ? getpwnam("nobody") : getpwuid(getuid());
	ck_assert_ptr_nonnull(pw);
	*uid_r = pw->pw_uid;
	*gid_r = pw->pw_gid;
	return pw->pw_name;
}

/* Place fd at target in a child about to exec, whatever fds it holds. */
static void
move_fd(int fd, int target)
{
	if (fd != target && dup2(fd, target) < 0)
		_exit(120);
}

/*
 * Start testsvc with the standard options plus extra (NULL-terminated),
 * as the master does; master_env 0 leaves ISPMAIL_MASTER out.
 */
static void
start_child(struct child *c, int master_env, const char *const *extra)
{
	char *argv[32];
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int pair[2], err_fd, high_status, high_listen, argc = 0;
	char *path = testsvc_path();
	uid_t uid;
	gid_t gid;

	memset(c, 0, sizeof(*c));
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, pair), 0);
	c->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ck_assert_int_ge(c->listen_fd, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(c->listen_fd, (struct sockaddr *) &sin,
	    sizeof(sin)), 0);
	ck_assert_int_eq(listen(c->listen_fd, 16), 0);
	ck_assert_int_eq(getsockname(c->listen_fd, (struct sockaddr *) &sin,
	    &len), 0);
	c->port = ntohs(sin.sin_port);
	c->stderr_path = xasprintf("%s/stderr", tmpdir);
	err_fd = open(c->stderr_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(err_fd, 0);

	/* execv() wants writable strings. */
	argv[argc++] = xstrdup(path);
	argv[argc++] = xstrdup("-c");
	argv[argc++] = xstrdup(tmpdir);
	argv[argc++] = xstrdup("-n");
	argv[argc++] = xstrdup("t");
	argv[argc++] = xstrdup("-u");
	argv[argc++] = xstrdup(service_user(&uid, &gid));
	while (extra != NULL && *extra != NULL && argc < 31)
		argv[argc++] = xstrdup(*extra++);
	argv[argc] = NULL;

	c->pid = fork();
	ck_assert_int_ge(c->pid, 0);
	if (c->pid == 0) {
		/* Out of the way of 3 and 4 first, then into place. */
		high_status = fcntl(pair[1], F_DUPFD, 10);
		high_listen = fcntl(c->listen_fd, F_DUPFD, 10);
		if (high_status < 0 || high_listen < 0)
			_exit(120);
		move_fd(high_status, MASTER_STATUS_FD);
		move_fd(high_listen, MASTER_LISTEN_FD);
		move_fd(err_fd, 2);
		if (master_env)
			setenv(MASTER_ENV, "1", 1);
		else
			unsetenv(MASTER_ENV);
		setenv("ISPMAIL_LOG_STDERR", "1", 1);
		execv(path, argv);
		_exit(121);
	}
	while (argc > 0)
		free(argv[--argc]);
	close(pair[1]);
	close(err_fd);
	c->status_fd = pair[0];
	free(path);
}

/* Wait up to ms for the child to exit; its wait status, or -1. */
static int
wait_child(struct child *c, int ms)
{
	int status, waited;

	for (waited = 0; waited <= ms; waited += 10) {
		if (waitpid(c->pid, &status, WNOHANG) == c->pid)
			return status;
		usleep(10 * 1000);
	}
	return -1;
}

static void
free_child(struct child *c)
{
	if (c->pid > 0 && waitpid(c->pid, NULL, WNOHANG) == 0) {
		kill(c->pid, SIGKILL);
		(void) waitpid(c->pid, NULL, 0);
	}
	if (c->status_fd >= 0)
		close(c->status_fd);
	close(c->listen_fd);
	free(c->stderr_path);
}

static char *
child_stderr(const struct child *c)
{
	char text[4096];
	FILE *f = fopen(c->stderr_path, "r");
	size_t n;

	ck_assert_ptr_nonnull(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	return xmemdup(text, n);
}

/* Expect a normal exit with code within ms; show stderr otherwise. */
static void
assert_exit(struct child *c, int ms, int code)
{
	int status = wait_child(c, ms);
	char *text = child_stderr(c);

	ck_assert_msg(status != -1, "child still running; stderr: %s", text);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == code,
	    "wait status 0x%x, wanted exit %d; stderr: %s", status, code,
	    text);
	free(text);
}

/* Died of SIGABRT within WAIT_MS. */
static void
assert_abort(struct child *c)
{
	int status = wait_child(c, WAIT_MS);

	ck_assert_msg(status != -1 && WIFSIGNALED(status)
	    && WTERMSIG(status) == SIGABRT, "wait status 0x%x", status);
}

/* The next status record, within WAIT_MS. */
static void
expect_status(struct child *c, int code)
{
	struct pollfd pfd = { .fd = c->status_fd, .events = POLLIN };
	struct master_status st;

	ck_assert_msg(poll(&pfd, 1, WAIT_MS) == 1, "no status record");
	ck_assert_int_eq(recv(c->status_fd, &st, sizeof(st), 0),
	    (ssize_t) sizeof(st));
	ck_assert_int_eq(st.pid, c->pid);
	ck_assert_int_eq(st.status, code);
}

static int
client_connect(const struct child *c)
{
	struct sockaddr_in sin;
	struct timeval tv = { .tv_sec = WAIT_MS / 1000 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(c->port);
	ck_assert_int_eq(connect(fd, (struct sockaddr *) &sin, sizeof(sin)),
	    0);
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
	    sizeof(tv)), 0);
	return fd;
}

/* Read one CRLF line (without it) into line; -1 on EOF or timeout. */
static int
client_read_line(int fd, char *line, size_t size)
{
	size_t used = 0;
	char ch;

	while (used + 1 < size) {
		if (read(fd, &ch, 1) != 1)
			return -1;
		if (ch == '\n')
			break;
		line[used++] = ch;
	}
	if (used > 0 && line[used - 1] == '\r')
		used--;
	line[used] = '\0';
	return 0;
}

static void
client_send(int fd, const char *text)
{
	size_t len = strlen(text);

	ck_assert_int_eq(write(fd, text, len), (ssize_t) len);
}

/* Send a command and check the one-line answer. */
static void
client_expect(int fd, const char *command, const char *answer)
{
	char line[512];

	client_send(fd, command);
	ck_assert_msg(client_read_line(fd, line, sizeof(line)) == 0,
	    "no answer to %s", command);
	ck_assert_str_eq(line, answer);
}

static void
client_expect_eof(int fd)
{
	char ch;

	ck_assert_int_eq(read(fd, &ch, 1), 0);
}

static const char *const opts_default[] = {
	"-o", "max_use=2", "-o", "max_idle=2s", NULL
};

START_TEST(test_hello_and_status)
{
	struct child c;
	char line[512], want[512];
	uid_t uid;
	gid_t gid;
	int fd;

	(void) service_user(&uid, &gid);
	start_child(&c, 1, opts_default);
	fd = client_connect(&c);
	ck_assert_int_eq(client_read_line(fd, line, sizeof(line)), 0);
	snprintf(want, sizeof(want), "hello service=t pid=%ld uid=%ld "
	    "gid=%ld", (long) c.pid, (long) uid, (long) gid);
	ck_assert_str_eq(line, want);
	expect_status(&c, MASTER_STATUS_BUSY);
	client_expect(fd, "echo hi there\r\n", "hi there");
	client_expect(fd, "param max_use\r\n", "2");
	client_expect(fd, "param syslog_name\r\n", "check");
	client_expect(fd, "param no_such_parameter\r\n", "unknown");
	client_expect(fd, "sleep 0\r\n", "ok");
	client_expect(fd, "sleep 601\r\n", "error bad seconds");
	client_expect(fd, "frobnicate\r\n", "error unknown command");
	client_expect(fd, "\r\n", "error unknown command");
	client_expect(fd, "quit\r\n", "bye");
	client_expect_eof(fd);
	close(fd);
	expect_status(&c, MASTER_STATUS_IDLE);
	free_child(&c);
}
END_TEST

START_TEST(test_line_too_long)
{
	struct child c;
	char line[64];
	long limit;
	size_t len;
	char *text;
	int fd;

	start_child(&c, 1, opts_default);
	fd = client_connect(&c);
	ck_assert_int_eq(client_read_line(fd, line, sizeof(line)), 0);
	client_send(fd, "param line_length_limit\r\n");
	ck_assert_int_eq(client_read_line(fd, line, sizeof(line)), 0);
	limit = strtol(line, NULL, 10);
	ck_assert_int_gt(limit, 0);
	len = (size_t) limit + 10;
	text = xmalloc(len + 3);
	memset(text, 'x', len);
	memcpy(text + len, "\r\n", 3);
	client_expect(fd, text, "error line too long");
	/* Still in step: the next command is answered. */
	client_expect(fd, "echo after\r\n", "after");
	/* Exactly at the limit is fine. */
	memcpy(text, "echo ", 5);
	memcpy(text + limit, "\r\n", 3);
	client_send(fd, text);
	ck_assert_int_eq(client_read_line(fd, text, len + 3), 0);
	ck_assert_uint_eq(strlen(text), (size_t) limit - 5);
	free(text);
	close(fd);
	free_child(&c);
}
END_TEST

START_TEST(test_max_use)
{
	static const char *const opts[] = {
		"-o", "max_use=2", "-o", "max_idle=60s", NULL
	};
	struct child c;
	char line[512];
	int fd, i;

	start_child(&c, 1, opts);
	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(wait_child(&c, 0), -1);
		fd = client_connect(&c);
		ck_assert_int_eq(client_read_line(fd, line, sizeof(line)), 0);
		client_expect(fd, "quit\r\n", "bye");
		close(fd);
		expect_status(&c, MASTER_STATUS_BUSY);
		expect_status(&c, MASTER_STATUS_IDLE);
	}
	assert_exit(&c, WAIT_MS, 0);
	free_child(&c);
}
END_TEST

START_TEST(test_max_idle)
{
	struct child c;
	struct timespec start, end;
	double seconds;

	clock_gettime(CLOCK_MONOTONIC, &start);
	start_child(&c, 1, opts_default);
	assert_exit(&c, WAIT_MS, 0);
	clock_gettime(CLOCK_MONOTONIC, &end);
	seconds = (double) (end.tv_sec - start.tv_sec)
	    + (double) (end.tv_nsec - start.tv_nsec) / 1e9;
	ck_assert_msg(seconds >= 1.9, "exited after %.2fs", seconds);
	free_child(&c);
}
END_TEST

START_TEST(test_master_gone)
{
	static const char *const opts[] = {
		"-o", "max_use=100", "-o", "max_idle=60s", NULL
	};
	struct child c;
	char line[512];
	int fd;

	start_child(&c, 1, opts);
	/* Make sure it is up and idle before the master goes. */
	fd = client_connect(&c);
	ck_assert_int_eq(client_read_line(fd, line, sizeof(line)), 0);
	expect_status(&c, MASTER_STATUS_BUSY);
	client_expect(fd, "quit\r\n", "bye");
	close(fd);
	expect_status(&c, MASTER_STATUS_IDLE);
	close(c.status_fd);
	c.status_fd = -1;
	assert_exit(&c, 2000, 0);
	free_child(&c);
}
END_TEST

START_TEST(test_master_gone_while_busy)
{
	static const char *const opts[] = {
		"-o", "max_use=100", "-o", "max_idle=60s", NULL
	};
	struct child c;
	char line[512];
	int fd;

	start_child(&c, 1, opts);
	fd = client_connect(&c);
	ck_assert_int_eq(client_read_line(fd, line, sizeof(line)), 0);
	expect_status(&c, MASTER_STATUS_BUSY);
	close(c.status_fd);
	c.status_fd = -1;
	/* The connection in progress is finished, then the child exits. */
	client_expect(fd, "echo still here\r\n", "still here");
	client_expect(fd, "quit\r\n", "bye");
	close(fd);
	assert_exit(&c, 2000, 0);
	free_child(&c);
}
END_TEST

START_TEST(test_crash_on_connect)
{
	static const char *const opts[] = {
		"-o", "max_idle=60s", "crash-on-connect", NULL
	};
	struct child c;
	char ch;
	int fd;

	start_child(&c, 1, opts);
	fd = client_connect(&c);
	/* Nothing is written before the crash. */
	ck_assert_int_le(read(fd, &ch, 1), 0);
	assert_abort(&c);
	close(fd);
	free_child(&c);
}
END_TEST

START_TEST(test_crash_on_start)
{
	static const char *const opts[] = { "crash-on-start", NULL };
	struct child c;

	start_child(&c, 1, opts);
	assert_abort(&c);
	free_child(&c);
}
END_TEST

START_TEST(test_crash_command)
{
	struct child c;
	char line[512];
	int fd;

	start_child(&c, 1, opts_default);
	fd = client_connect(&c);
	ck_assert_int_eq(client_read_line(fd, line, sizeof(line)), 0);
	client_send(fd, "crash\r\n");
	assert_abort(&c);
	client_expect_eof(fd);
	close(fd);
	free_child(&c);
}
END_TEST

/* Starts that must fail: exit status and a word on stderr. */
static const struct {
	int master_env;
	const char *extra[6];
	int code;
	const char *message;
} bad_starts[] = {
	{ 0, { NULL }, 1, "must be started by ispmail-master" },
	{ 1, { "-o", "no_such_param=1", NULL }, 1, "no_such_param" },
	{ 1, { "-o", "max_use=lots", NULL }, 1, "max_use" },
	{ 1, { "-o", "max_use", NULL }, 1, "max_use" },
	{ 1, { "-x", NULL }, 1, "usage" },
	{ 1, { "bogus-argument", NULL }, 1, "bogus-argument" },
	{ 1, { "exit-on-start", NULL }, 3, NULL },
};

START_TEST(test_bad_start)
{
	struct child c;
	char *text;

	start_child(&c, bad_starts[_i].master_env, bad_starts[_i].extra);
	assert_exit(&c, WAIT_MS, bad_starts[_i].code);
	text = child_stderr(&c);
	if (bad_starts[_i].message != NULL)
		ck_assert_msg(strstr(text, bad_starts[_i].message) != NULL,
		    "stderr lacks \"%s\": %s", bad_starts[_i].message, text);
	free(text);
	free_child(&c);
}
END_TEST

START_TEST(test_bad_main_conf)
{
	struct child c;
	char *path, *text;

	path = xasprintf("%s/main.conf", tmpdir);
	write_file(path, "max_use = many\n");
	start_child(&c, 1, opts_default + 2);
	assert_exit(&c, WAIT_MS, 1);
	text = child_stderr(&c);
	ck_assert_msg(strstr(text, path) != NULL, "stderr: %s", text);
	free(text);
	free(path);
	free_child(&c);
}
END_TEST

START_TEST(test_missing_main_conf)
{
	struct child c;
	char *path;

	/* No main.conf at all: every default applies. */
	path = xasprintf("%s/main.conf", tmpdir);
	ck_assert_int_eq(unlink(path), 0);
	free(path);
	start_child(&c, 1, opts_default + 2);
	assert_exit(&c, WAIT_MS, 0);
	free_child(&c);
}
END_TEST

/* Run check in a forked child; its exit code says which step failed. */
static int
in_child(int (*check)(void))
{
	pid_t pid = fork();
	int status;

	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(check());
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status), "wait status 0x%x", status);
	return WEXITSTATUS(status);
}

static int
drop_to_nobody(void)
{
	struct passwd *pw = getpwnam("nobody");
	char *error = NULL;

	if (pw == NULL)
		return 10;
	if (service_drop_privileges("nobody", "", &error) < 0)
		return 11;
	if (getuid() != pw->pw_uid || geteuid() != pw->pw_uid
	    || getgid() != pw->pw_gid || getegid() != pw->pw_gid)
		return 12;
	if (setuid(0) == 0 || seteuid(0) == 0)
		return 13;
	return 0;
}

/* A line that says root keeps root (the master allows only "root"). */
static int
stay_root(void)
{
	char *error = NULL;

	if (service_drop_privileges("root", "", &error) < 0)
		return 11;
	if (getuid() != 0 || geteuid() != 0)
		return 12;
	return 0;
}

static int
drop_with_chroot(void)
{
	char *error = NULL;

	if (service_drop_privileges("nobody", tmpdir, &error) < 0)
		return 11;
	/* The test's main.conf is now at the root. */
	if (access("/main.conf", F_OK) < 0)
		return 14;
	return 0;
}

START_TEST(test_drop_privileges)
{
	char *error = NULL;
	uid_t uid = getuid();

	if (geteuid() != 0) {
		/* Not root: nothing to drop, nothing changes. */
		ck_assert_int_eq(service_drop_privileges("nobody", "",
		    &error), 0);
		ck_assert_ptr_null(error);
		ck_assert_int_eq(getuid(), uid);
		return;
	}
	ck_assert_int_eq(in_child(drop_to_nobody), 0);
	ck_assert_int_eq(in_child(stay_root), 0);
	/* nobody must be able to look inside its new root. */
	ck_assert_int_eq(chmod(tmpdir, 0755), 0);
	ck_assert_int_eq(in_child(drop_with_chroot), 0);
	/* Bad input leaves us root and names the problem. */
	ck_assert_int_eq(service_drop_privileges("no-such-user-here", "",
	    &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "no-such-user-here"));
	free(error);
	ck_assert_int_eq(service_drop_privileges("nobody",
	    "/nonexistent/chroot", &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "/nonexistent/chroot"));
	free(error);
	ck_assert_int_eq(geteuid(), 0);
}
END_TEST

static Suite *
service_suite(void)
{
	Suite *s = suite_create("service");
	TCase *tc;

	tc = tcase_create("service_main");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_hello_and_status);
	tcase_add_test(tc, test_line_too_long);
	tcase_add_test(tc, test_max_use);
	tcase_add_test(tc, test_max_idle);
	tcase_add_test(tc, test_master_gone);
	tcase_add_test(tc, test_master_gone_while_busy);
	tcase_add_test(tc, test_crash_on_connect);
	tcase_add_test(tc, test_crash_on_start);
	tcase_add_test(tc, test_crash_command);
	tcase_add_loop_test(tc, test_bad_start, 0,
	    sizeof(bad_starts) / sizeof(bad_starts[0]));
	tcase_add_test(tc, test_bad_main_conf);
	tcase_add_test(tc, test_missing_main_conf);
	suite_add_tcase(s, tc);

	tc = tcase_create("drop_privileges");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_drop_privileges);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(service_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

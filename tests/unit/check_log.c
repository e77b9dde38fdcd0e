/* check_log: stderr lines, levels, context, %m, fatal and panic. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "xalloc.h"

static int log_pipe[2];

static void
setup(void)
{
	ck_assert_int_eq(pipe(log_pipe), 0);
	ck_assert_int_eq(fcntl(log_pipe[0], F_SETFL, O_NONBLOCK), 0);
	log_init("check_log", LOG_TARGET_STDERR, NULL);
	log_set_stderr_fd(log_pipe[1]);
	log_set_verbose(0);
	log_set_context(NULL);
	log_set_fatal_hook(NULL);
}

static void
teardown(void)
{
	log_set_stderr_fd(-1);
	close(log_pipe[0]);
	close(log_pipe[1]);
}

/* Everything logged so far (the pipe holds far more than a test writes). */
static char *
drain(void)
{
	char chunk[8192];
	char *text = xstrdup("");
	size_t len = 0;
	ssize_t n;

	while ((n = read(log_pipe[0], chunk, sizeof(chunk))) > 0) {
		text = xrealloc(text, len + (size_t) n + 1);
		memcpy(text + len, chunk, (size_t) n);
		len += (size_t) n;
		text[len] = '\0';
	}
	return text;
}

/* The one line logged, after "progname[pid]: ", checked to be one line. */
static char *
one_line(void)
{
	char *text = drain(), *prefix, *start, *body;
	size_t len = strlen(text);

	ck_assert_msg(len > 0 && text[len - 1] == '\n', "no line: \"%s\"",
	    text);
	ck_assert_msg(strchr(text, '\n') == text + len - 1,
	    "more than one line: \"%s\"", text);
	prefix = xasprintf(" check_log[%ld]: ", (long) getpid());
	start = strstr(text, prefix);
	ck_assert_msg(start != NULL, "no \"%s\" in \"%s\"", prefix, text);
	text[len - 1] = '\0';
	body = xstrdup(start + strlen(prefix));
	free(prefix);
	free(text);
	return body;
}

/* --- levels ----------------------------------------------------------- */

static const struct {
	void (*fn)(const char *, ...);
	const char *expect;
} level_cases[] = {
	{ log_info, "hello 42" },
	{ log_warn, "warning: hello 42" },
	{ log_error, "error: hello 42" },
};

START_TEST(test_levels)
{
	char *line;

	level_cases[_i].fn("hello %d", 42);
	line = one_line();
	ck_assert_str_eq(line, level_cases[_i].expect);
	free(line);
}
END_TEST

START_TEST(test_line_format)
{
	char *text;

	log_info("x");
	text = drain();
	/* "Mon DD HH:MM:SS progname[pid]: x" */
	ck_assert_uint_gt(strlen(text), 16);
	ck_assert_int_eq(text[3], ' ');
	ck_assert_int_eq(text[6], ' ');
	ck_assert_int_eq(text[9], ':');
	ck_assert_int_eq(text[12], ':');
	ck_assert_int_eq(text[15], ' ');
	ck_assert_int_eq(strncmp(text + 16, "check_log[", 10), 0);
	free(text);
}
END_TEST

/* The pid in a line is the logging process's, also after a fork(). */
START_TEST(test_pid_after_fork)
{
	char *line, *text, *want;
	pid_t pid;
	int status;

	log_info("parent");
	line = one_line();
	ck_assert_str_eq(line, "parent");
	free(line);
	ck_assert_int_eq(log_pid(), getpid());
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		log_info("child");
		_exit(log_pid() == getpid() ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	text = drain();
	want = xasprintf(" check_log[%ld]: child\n", (long) pid);
	ck_assert_msg(strstr(text, want) != NULL, "no \"%s\" in \"%s\"",
	    want, text);
	free(want);
	free(text);
}
END_TEST

START_TEST(test_one_line_per_call)
{
	char *text, *p;
	int lines = 0;

	log_info("one");
	log_warn("two");
	log_error("three");
	text = drain();
	for (p = text; (p = strchr(p, '\n')) != NULL; p++)
		lines++;
	ck_assert_int_eq(lines, 3);
	ck_assert_ptr_nonnull(strstr(text, "]: one\n"));
	ck_assert_ptr_nonnull(strstr(text, "]: warning: two\n"));
	ck_assert_ptr_nonnull(strstr(text, "]: error: three\n"));
	free(text);
}
END_TEST

START_TEST(test_debug_only_when_verbose)
{
	char *text, *line;

	log_debug("hidden");
	text = drain();
	ck_assert_str_eq(text, "");
	free(text);
	log_set_verbose(1);
	log_debug("shown %s", "now");
	line = one_line();
	ck_assert_str_eq(line, "debug: shown now");
	free(line);
	log_set_verbose(0);
	log_debug("hidden again");
	text = drain();
	ck_assert_str_eq(text, "");
	free(text);
}
END_TEST

START_TEST(test_progname)
{
	char *text, *expect;

	log_init("ispmail/smtpd", LOG_TARGET_STDERR, "nonsense");
	log_info("renamed");
	text = drain();
	expect = xasprintf(" ispmail/smtpd[%ld]: renamed\n", (long) getpid());
	ck_assert_ptr_nonnull(strstr(text, expect));
	free(expect);
	free(text);
}
END_TEST

/* --- context ------------------------------------------------------------ */

START_TEST(test_context)
{
	char *line;

	ck_assert_ptr_null(log_context());
	log_set_context("4Zx7Kq1mRbz");
	ck_assert_str_eq(log_context(), "4Zx7Kq1mRbz");
	log_info("from=<a@example.test>");
	line = one_line();
	ck_assert_str_eq(line, "4Zx7Kq1mRbz: from=<a@example.test>");
	free(line);
	log_warn("cap hit");
	line = one_line();
	ck_assert_str_eq(line, "warning: 4Zx7Kq1mRbz: cap hit");
	free(line);
	log_set_context(NULL);
	ck_assert_ptr_null(log_context());
	log_info("after");
	line = one_line();
	ck_assert_str_eq(line, "after");
	free(line);
}
END_TEST

START_TEST(test_context_long_cut)
{
	char ctx[200];
	const char *now;

	memset(ctx, 'q', sizeof(ctx) - 1);
	ctx[sizeof(ctx) - 1] = '\0';
	log_set_context(ctx);
	now = log_context();
	ck_assert_ptr_nonnull(now);
	ck_assert_uint_gt(strlen(now), 0);
	ck_assert_uint_lt(strlen(now), sizeof(ctx) - 1);
	ck_assert_int_eq(strncmp(now, ctx, strlen(now)), 0);
	log_set_context("");
	ck_assert_ptr_null(log_context());
}
END_TEST

/* --- %m and %% ---------------------------------------------------------- */

START_TEST(test_percent_m)
{
	char *line, *expect;

	errno = ENOENT;
	log_error("open /x: %m");
	ck_assert_int_eq(errno, ENOENT);
	line = one_line();
	expect = xasprintf("error: open /x: %s", strerror(ENOENT));
	ck_assert_str_eq(line, expect);
	free(expect);
	free(line);
}
END_TEST

static const struct {
	const char *expect;
} percent_cases[] = {
	{ "100% sure" },
	{ "%m stays" },
	{ "50%% and %s" },
};

START_TEST(test_percent_literal)
{
	char *line;

	errno = EACCES;
	switch (_i) {
	case 0:
		log_info("100%% sure");
		break;
	case 1:
		log_info("%%m stays");
		break;
	case 2:
		log_info("50%%%% and %s", "%s");
		break;
	}
	line = one_line();
	ck_assert_str_eq(line, percent_cases[_i].expect);
	free(line);
}
END_TEST

START_TEST(test_percent_m_with_args)
{
	char *line, *expect;

	errno = EPIPE;
	log_warn("%s: %m (%d%%)", "peer", 7);
	line = one_line();
	expect = xasprintf("warning: peer: %s (7%%)", strerror(EPIPE));
	ck_assert_str_eq(line, expect);
	free(expect);
	free(line);
}
END_TEST

/* --- long lines ----------------------------------------------------------- */

START_TEST(test_long_message_cut)
{
	enum { LONG = 20000 };
	char *big = malloc(LONG + 1), *line;
	size_t len, i;

	memset(big, 'z', LONG);
	big[LONG] = '\0';
	log_set_context("QID");
	log_error("%s", big);
	line = one_line();
	len = strlen(line);
	ck_assert_int_eq(strncmp(line, "error: QID: zzz", 15), 0);
	/* Cut at a few KB, not the full 20000. */
	ck_assert_uint_gt(len, 1000);
	ck_assert_uint_lt(len, 8192);
	for (i = strlen("error: QID: "); i < len; i++)
		ck_assert_int_eq(line[i], 'z');
	free(line);
	free(big);
}
END_TEST

START_TEST(test_long_format_cut)
{
	/*
	 * A format longer than the line with %m and %% at the cut: the copy
	 * that expands %m must stop inside its array (ASan watches).
	 */
	static const size_t cuts[] = { 4090, 4092, 4093, 4094, 4095, 4096 };
	size_t c;
	char *fmt, *line;

	for (c = 0; c < sizeof(cuts) / sizeof(cuts[0]); c++) {
		fmt = malloc(cuts[c] + 16);
		memset(fmt, 'y', cuts[c]);
		memcpy(fmt + cuts[c], "%m%%%m%%", sizeof("%m%%%m%%"));
		errno = ENOENT;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#pragma GCC diagnostic ignored "-Wformat-security"
		log_info(fmt);
#pragma GCC diagnostic pop
		line = one_line();
		ck_assert_uint_lt(strlen(line), 8192);
		ck_assert_int_eq(line[0], 'y');
		free(line);
		free(fmt);
	}
}
END_TEST

/* --- fatal and panic ------------------------------------------------------ */

static void
fatal_hook(void)
{
	static const char mark[] = "HOOK\n";

	(void) !write(log_pipe[1], mark, sizeof(mark) - 1);
	/* A fatal error inside the hook must not run the hook again. */
	log_fatal("inside the hook");
}

START_TEST(test_fatal_exit_status)
{
	log_fatal("cannot continue: %s", "queue unusable");
}
END_TEST

START_TEST(test_fatal_hook_once)
{
	char *text, *p;
	int status, hooks = 0;
	pid_t pid;

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		log_set_fatal_hook(fatal_hook);
		log_fatal("queue %s unusable", "/q");
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 1);
	text = drain();
	for (p = text; (p = strstr(p, "HOOK\n")) != NULL; p++)
		hooks++;
	ck_assert_int_eq(hooks, 1);
	ck_assert_ptr_nonnull(strstr(text, "]: fatal: queue /q unusable\n"));
	ck_assert_ptr_nonnull(strstr(text, "]: fatal: inside the hook\n"));
	/* The hook runs after the fatal line is written. */
	ck_assert(strstr(text, "fatal: queue") < strstr(text, "HOOK"));
	free(text);
}
END_TEST

START_TEST(test_panic_aborts)
{
	log_panic("invariant broken: %d", 1);
}
END_TEST

START_TEST(test_panic_line)
{
	char *text;
	int status;
	pid_t pid;

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		log_set_context("QID");
		log_panic("invariant broken: %d", 7);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status));
	ck_assert_int_eq(WTERMSIG(status), SIGABRT);
	text = drain();
	ck_assert_ptr_nonnull(strstr(text,
	    "]: panic: QID: invariant broken: 7\n"));
	free(text);
}
END_TEST

/* --- escaping: what a client sent cannot make a line ------------------ */

static const struct {
	const char *arg;
	const char *expect;
} escape_cases[] = {
	{ "evil\r\nDec 01 00:00:00 fake[1]: root login",
	    "helo=evil\\r\\nDec 01 00:00:00 fake[1]: root login" },
	{ "\x1b[2J\x1b]0;owned\x07", "helo=\\x1b[2J\\x1b]0;owned\\x07" },
	{ "tab\there\x7f", "helo=tab\\there\\x7f" },
	{ "\xc2\x9b" "31m", "helo=\\xc2\\x9b31m" },
	{ "bad\xff\xc3", "helo=bad\\xff\\xc3" },
	{ "caf\xc3\xa9 \xe2\x82\xac", "helo=caf\xc3\xa9 \xe2\x82\xac" },
};

START_TEST(test_escape_argument)
{
	char *line;

	log_info("helo=%s", escape_cases[_i].arg);
	line = one_line();
	ck_assert_str_eq(line, escape_cases[_i].expect);
	free(line);
}
END_TEST

START_TEST(test_escape_context)
{
	char *line;

	log_set_context("Q1\nfake: x");
	log_info("m");
	line = one_line();
	ck_assert_str_eq(line, "Q1\\nfake: x: m");
	free(line);
}
END_TEST

/*
 * The context is the calling thread's: a thread that set its own logs
 * with it while another thread sets a different one (imapd's loop
 * switching sessions under its lookup threads), and a new thread starts
 * without any.  The barriers order the steps, so on a shared context
 * the thread's line would carry the main thread's, every run.
 */
static pthread_barrier_t ctx_barrier;

static void *
context_thread(void *arg)
{
	const char *inherited = log_context();

	(void) arg;
	log_set_context("lookup-ctx");
	(void) pthread_barrier_wait(&ctx_barrier);
	/* Meanwhile the main thread sets another context. */
	(void) pthread_barrier_wait(&ctx_barrier);
	log_info("from the thread");
	return inherited != NULL ? xstrdup(inherited) : NULL;
}

START_TEST(test_context_per_thread)
{
	pthread_t thread;
	void *inherited = NULL;
	char *line;

	ck_assert_int_eq(pthread_barrier_init(&ctx_barrier, NULL, 2), 0);
	log_set_context("loop-ctx");
	ck_assert_int_eq(pthread_create(&thread, NULL, context_thread, NULL),
	    0);
	(void) pthread_barrier_wait(&ctx_barrier);
	log_set_context("other-session");
	(void) pthread_barrier_wait(&ctx_barrier);
	ck_assert_int_eq(pthread_join(thread, &inherited), 0);
	ck_assert_msg(inherited == NULL, "a new thread had context %s",
	    (char *) inherited);
	line = one_line();
	ck_assert_str_eq(line, "lookup-ctx: from the thread");
	free(line);
	ck_assert_str_eq(log_context(), "other-session");
	log_info("from the loop");
	line = one_line();
	ck_assert_str_eq(line, "other-session: from the loop");
	free(line);
	(void) pthread_barrier_destroy(&ctx_barrier);
}
END_TEST

static Suite *
log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc;

	tc = tcase_create("levels");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_levels, 0,
	    (int) (sizeof(level_cases) / sizeof(level_cases[0])));
	tcase_add_test(tc, test_line_format);
	tcase_add_test(tc, test_one_line_per_call);
	tcase_add_test(tc, test_pid_after_fork);
	tcase_add_test(tc, test_debug_only_when_verbose);
	tcase_add_test(tc, test_progname);
	suite_add_tcase(s, tc);

	tc = tcase_create("context");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_context);
	tcase_add_test(tc, test_context_long_cut);
	tcase_add_test(tc, test_context_per_thread);
	suite_add_tcase(s, tc);

	tc = tcase_create("format");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_percent_m);
	tcase_add_loop_test(tc, test_percent_literal, 0,
	    (int) (sizeof(percent_cases) / sizeof(percent_cases[0])));
	tcase_add_test(tc, test_percent_m_with_args);
	tcase_add_test(tc, test_long_message_cut);
	tcase_add_test(tc, test_long_format_cut);
	suite_add_tcase(s, tc);

	tc = tcase_create("escape");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_escape_argument, 0,
	    (int) (sizeof(escape_cases) / sizeof(escape_cases[0])));
	tcase_add_test(tc, test_escape_context);
	suite_add_tcase(s, tc);

	tc = tcase_create("fatal");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_exit_test(tc, test_fatal_exit_status, 1);
	tcase_add_test(tc, test_fatal_hook_once);
	tcase_add_test_raise_signal(tc, test_panic_aborts, SIGABRT);
	tcase_add_test(tc, test_panic_line);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(log_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

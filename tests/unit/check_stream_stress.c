/* check_stream_stress: stress timeouts shorten reads already waiting. */
#include "config.h"

#include <check.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "stream.h"

#define T_LONG_MS	10000
#define T_STRESS_MS	300

static int64_t
now_ms(void)
{
	struct timespec ts;

	ck_assert_int_eq(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
stress_on(int sig)
{
	(void) sig;
	stream_set_stress(1);
}

/* Stress goes on (a signal, as from the master) 100 ms into the call. */
static void
stress_after_100ms(void)
{
	struct itimerval once = { { 0, 0 }, { 0, 100000 } };
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = stress_on;
	sa.sa_flags = SA_RESTART;	/* as service.c: poll() sees EINTR */
	ck_assert_int_eq(sigaction(SIGALRM, &sa, NULL), 0);
	ck_assert_int_eq(setitimer(ITIMER_REAL, &once, NULL), 0);
}

/* A silent peer, a 10 s read, stress after 100 ms: over by ~300 ms. */
START_TEST(test_stress_shortens_waiting_read)
{
	struct buf *line = buf_new(64);
	struct stream *s;
	int64_t start, took;
	int sv[2];

	stream_set_stress(0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	s = stream_new(sv[0], T_LONG_MS, T_LONG_MS);
	stream_set_stress_timeout(s, T_STRESS_MS);
	stress_after_100ms();
	start = now_ms();
	ck_assert_int_eq(stream_read_line(s, line, 64), STREAM_TIMEOUT);
	took = now_ms() - start;
	ck_assert_int_ge(took, T_STRESS_MS - 20);
	ck_assert_int_lt(took, 3000);
	ck_assert_int_eq(stream_stress(), 1);
	buf_free(&line);
	stream_free(&s);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/*
 * How long a read from a silent peer takes with stress on or off from the
 * start, the ordinary timeout, and a stress timeout (-1: none).
 */
static int64_t
silent_read_ms(int stress, int timeout_ms, int stress_timeout_ms)
{
	struct buf *line = buf_new(64);
	struct stream *s;
	int64_t start;
	int sv[2];

	stream_set_stress(stress);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	s = stream_new(sv[0], timeout_ms, timeout_ms);
	stream_set_stress_timeout(s, stress_timeout_ms);
	start = now_ms();
	ck_assert_int_eq(stream_read_line(s, line, 64), STREAM_TIMEOUT);
	buf_free(&line);
	stream_free(&s);
	close(sv[0]);
	close(sv[1]);
	return now_ms() - start;
}

/* The shorter of the two applies, and only under stress. */
static const struct {
	int stress, timeout_ms, stress_timeout_ms;
	int64_t min_ms, max_ms;
} cases[] = {
	{ 1, 700, -1, 680, 3000 },		/* none: the ordinary one */
	{ 1, 200, T_LONG_MS, 180, 2000 },	/* longer: ignored */
	{ 0, 700, 50, 680, 3000 },		/* stress off */
	{ 1, T_LONG_MS, 100, 80, 2000 },	/* stress on: shorter */
};

START_TEST(test_stress_timeout_table)
{
	int64_t took = silent_read_ms(cases[_i].stress, cases[_i].timeout_ms,
	    cases[_i].stress_timeout_ms);

	ck_assert_int_ge(took, cases[_i].min_ms);
	ck_assert_int_lt(took, cases[_i].max_ms);
}
END_TEST

static Suite *
stream_stress_suite(void)
{
	Suite *suite = suite_create("stream_stress");
	TCase *tc = tcase_create("stress");

	tcase_add_test(tc, test_stress_shortens_waiting_read);
	tcase_add_loop_test(tc, test_stress_timeout_table, 0,
	    (int) (sizeof(cases) / sizeof(cases[0])));
	suite_add_tcase(suite, tc);
	return suite;
}

int
main(void)
{
	SRunner *runner = srunner_create(stream_stress_suite());
	int failed;

	srunner_run_all(runner, CK_NORMAL);
	failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

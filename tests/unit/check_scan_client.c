/*
 * check_scan_client: the spamd and clamd request builders and reply
 * parsers (good and bad replies, split at every byte), and scan_run's
 * outcomes against loopback listeners: a reply, a reset, a silent peer
 * (timeout), a closed port (failover, then unavailable), full slots.
 */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "clamd_client.h"
#include "scan_client.h"
#include "spamd_client.h"

/* ---- spamd ---- */

START_TEST(test_spamd_request)
{
	struct buf *b = buf_new(1024);

	spamd_request(b, "Subject: x\r\n\r\nhi\r\n", 18);
	ck_assert_str_eq(buf_cstr(b), "SYMBOLS SPAMC/1.5\r\nContent-length: "
	    "18\r\n\r\nSubject: x\r\n\r\nhi\r\n");
	buf_free(&b);
}
END_TEST

static const struct {
	const char *reply;
	int ok;
	int spam;
	double score;
	const char *symbols;
} spamd_cases[] = {
	{ "SPAMD/1.1 0 EX_OK\r\nContent-length: 5\r\nSpam: True ; 1005.2 / "
	  "5.0\r\n\r\nGTUBE", 1, 1, 1005.2, "GTUBE" },
	{ "SPAMD/1.1 0 EX_OK\r\nSpam: False ; -0.5 / 5.0\r\n\r\n", 1, 0, -0.5,
	  "" },
	{ "SPAMD/1.1 0 EX_OK\r\nSpam: False ; 1.0 / 5.0\r\n\r\nA,B_C,D1\r\n",
	  1, 0, 1.0, "A,B_C,D1" },
	/* Odd rule names are dropped, never passed into a header. */
	{ "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 9.0 / 5.0\r\n\r\nA\r\nX-Evil: 1",
	  1, 1, 9.0, "" },
	{ "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 9.0 / 5.0\r\n\r\nA B", 1, 1, 9.0,
	  "" },
	{ "SPAMD/1.1 76 Bad header line\r\n\r\n", 0, 0, 0, NULL },
	{ "SPAMD/1.1 0 EX_OK\r\n\r\n", 0, 0, 0, NULL },
	{ "SPAMD/1.1 0 EX_OK\r\nSpam: Maybe\r\n\r\n", 0, 0, 0, NULL },
	{ "SPAMD/1.1 0 EX_OK\r\nSpam: True ; nan / 5.0\r\n\r\n", 0, 0, 0,
	  NULL },
	{ "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 1e300 / 5.0\r\n\r\n", 0, 0, 0,
	  NULL },
	{ "HTTP/1.0 200 OK\r\n\r\n", 0, 0, 0, NULL },
	{ "", 0, 0, 0, NULL },
	{ "SPAMD/1.1 0 EX_OK", 0, 0, 0, NULL },
};

START_TEST(test_spamd_parse)
{
	const char *reply = spamd_cases[_i].reply;
	struct spamd_result r;
	char *error = NULL;
	size_t cut;
	int rc;

	rc = spamd_parse(reply, strlen(reply), &r, &error);
	ck_assert_int_eq(rc, spamd_cases[_i].ok ? 0 : -1);
	if (rc == 0) {
		ck_assert_int_eq(r.spam, spamd_cases[_i].spam);
		ck_assert_double_eq_tol(r.score, spamd_cases[_i].score, 0.001);
		ck_assert_str_eq(r.symbols, spamd_cases[_i].symbols);
		spamd_result_clear(&r);
	} else {
		ck_assert_ptr_nonnull(error);
		free(error);
	}
	/* Every prefix parses or fails cleanly (ASan watches). */
	for (cut = 0; cut < strlen(reply); cut++) {
		char *copy = strndup(reply, cut);

		error = NULL;
		if (spamd_parse(copy, cut, &r, &error) == 0)
			spamd_result_clear(&r);
		free(error);
		free(copy);
	}
}
END_TEST

/* ---- clamd ---- */

START_TEST(test_clamd_request)
{
	struct buf *b = buf_new(4 * CLAMD_CHUNK);
	char *msg = malloc(CLAMD_CHUNK + 3);
	const unsigned char *p;

	memset(msg, 'x', CLAMD_CHUNK + 3);
	clamd_request(b, msg, CLAMD_CHUNK + 3);
	p = (const unsigned char *) buf_cstr(b);
	ck_assert_mem_eq(p, "zINSTREAM\0", 10);
	ck_assert_mem_eq(p + 10, "\0\1\0\0", 4);
	ck_assert_mem_eq(p + 14 + CLAMD_CHUNK, "\0\0\0\3", 4);
	ck_assert_mem_eq(p + 18 + CLAMD_CHUNK + 3, "\0\0\0\0", 4);
	ck_assert_uint_eq(buf_len(b), 22 + CLAMD_CHUNK + 3);
	free(msg);
	buf_free(&b);
}
END_TEST

static const struct {
	const char *reply;
	size_t len;
	int rc;
	const char *virus;
} clamd_cases[] = {
	{ "stream: OK", 11, 0, NULL },
	{ "stream: OK\n", 11, 0, NULL },
	{ "stream: Eicar-Test-Signature FOUND", 35, 1,
	  "Eicar-Test-Signature" },
	{ "stream: Bad\x1b[2JName FOUND", 25, 1, "(unprintable name)" },
	{ "stream: Two Words FOUND", 24, 1, "(unprintable name)" },
	{ "INSTREAM size limit exceeded. ERROR", 36, -1, NULL },
	{ "stream: FOUND", 14, -1, NULL },
	{ "", 0, -1, NULL },
	{ "garbage", 7, -1, NULL },
};

START_TEST(test_clamd_parse)
{
	char *virus = NULL, *error = NULL;
	int rc;

	rc = clamd_parse(clamd_cases[_i].reply, clamd_cases[_i].len, &virus,
	    &error);
	ck_assert_int_eq(rc, clamd_cases[_i].rc);
	if (rc == 1)
		ck_assert_str_eq(virus, clamd_cases[_i].virus);
	if (rc < 0)
		ck_assert_ptr_nonnull(error);
	free(virus);
	free(error);
}
END_TEST

/* ---- scan_run against loopback listeners ---- */

enum peer_mode { PEER_ANSWER, PEER_RESET, PEER_SILENT };

/* A listener on 127.0.0.1 served by a child: its "127.0.0.1:port". */
static pid_t
peer_start(enum peer_mode mode, char *hostport, size_t size)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd, c;
	pid_t pid;
	char chunk[4096];

	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 8), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *) &sa, &len), 0);
	snprintf(hostport, size, "127.0.0.1:%d", ntohs(sa.sin_port));
	pid = fork();
	if (pid == 0) {
		c = accept(fd, NULL, NULL);
		if (mode == PEER_SILENT) {
			sleep(30);
			_exit(0);
		}
		while (read(c, chunk, sizeof(chunk)) > 0)
			;
		if (mode == PEER_RESET) {
			struct linger lg = { 1, 0 };

			setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		} else {
			(void) write(c, "stream: OK", 11);
		}
		close(c);
		_exit(0);
	}
	close(fd);
	return pid;
}

static void
peer_stop(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* A port nothing listens on (bound, closed). */
static void
closed_port(char *hostport, size_t size)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *) &sa, &len), 0);
	snprintf(hostport, size, "127.0.0.1:%d", ntohs(sa.sin_port));
	close(fd);
}

static enum scan_status
run_one(const char *hosts, long long limit, const char **error_r,
	struct scan_job **jp)
{
	struct buf *req = buf_new(1024);
	char *error = NULL, dir[] = "/tmp/check_scan_XXXXXX";

	ck_assert_ptr_nonnull(mkdtemp(dir));
	(void) buf_append_str(req, "request");
	*jp = scan_job_new("clamd", hosts, req, &error);
	ck_assert_ptr_nonnull(*jp);
	scan_run(jp, 1, dir, limit, 1000, 1000);
	buf_free(&req);
	*error_r = scan_job_error(*jp);
	return scan_job_status(*jp);
}

START_TEST(test_run_outcomes)
{
	char a[64], b[64], hosts[160];
	const char *error;
	struct scan_job *j;
	pid_t pid;

	/* Closed first host: failover to the one that answers. */
	closed_port(a, sizeof(a));
	pid = peer_start(PEER_ANSWER, b, sizeof(b));
	snprintf(hosts, sizeof(hosts), "%s, %s", a, b);
	ck_assert_int_eq(run_one(hosts, 4, &error, &j), SCAN_DONE);
	ck_assert_str_eq(buf_cstr(scan_job_reply(j)), "stream: OK");
	ck_assert_str_eq(scan_job_host(j), b);
	scan_job_free(&j);
	peer_stop(pid);

	pid = peer_start(PEER_RESET, b, sizeof(b));
	ck_assert_int_eq(run_one(b, 4, &error, &j), SCAN_CRASHED);
	scan_job_free(&j);
	peer_stop(pid);

	pid = peer_start(PEER_SILENT, b, sizeof(b));
	ck_assert_int_eq(run_one(b, 4, &error, &j), SCAN_TIMEOUT);
	ck_assert_ptr_nonnull(strstr(error, "no answer within 1000 ms"));
	scan_job_free(&j);
	peer_stop(pid);

	closed_port(a, sizeof(a));
	ck_assert_int_eq(run_one(a, 4, &error, &j), SCAN_UNAVAILABLE);
	scan_job_free(&j);

	/* A host's own scan timeout (2 s) overrides the global 1000 ms. */
	pid = peer_start(PEER_SILENT, b, sizeof(b));
	snprintf(hosts, sizeof(hosts), "%s/scan=2s/limit=3", b);
	ck_assert_int_eq(run_one(hosts, 4, &error, &j), SCAN_TIMEOUT);
	ck_assert_ptr_nonnull(strstr(error, "no answer within 2000 ms"));
	ck_assert_str_eq(scan_job_host(j), b);
	scan_job_free(&j);
	peer_stop(pid);
}
END_TEST

/* A host's own limit (1) overrides the global one (10). */
START_TEST(test_host_limit_override)
{
	struct buf *req = buf_new(64);
	struct scan_job *jobs[2];
	char b[64], hosts[96], *error = NULL;
	char dir[] = "/tmp/check_scan_XXXXXX";
	pid_t pid;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	pid = peer_start(PEER_ANSWER, b, sizeof(b));
	snprintf(hosts, sizeof(hosts), "%s/limit=1", b);
	(void) buf_append_str(req, "x");
	jobs[0] = scan_job_new("spamd", hosts, req, &error);
	jobs[1] = scan_job_new("spamd", hosts, req, &error);
	ck_assert_ptr_nonnull(jobs[0]);
	ck_assert_ptr_nonnull(jobs[1]);
	scan_run(jobs, 2, dir, 10, 1000, 1000);
	ck_assert_int_eq(scan_job_status(jobs[0]), SCAN_DONE);
	ck_assert_int_eq(scan_job_status(jobs[1]), SCAN_UNAVAILABLE);
	ck_assert_ptr_nonnull(strstr(scan_job_error(jobs[1]),
	    "at its limit of 1 scans"));
	scan_job_free(&jobs[0]);
	scan_job_free(&jobs[1]);
	buf_free(&req);
	peer_stop(pid);
}
END_TEST

START_TEST(test_slots_full)
{
	struct buf *req = buf_new(64);
	struct scan_job *j1, *j2, *jobs[2];
	char b[64], *error = NULL, dir[] = "/tmp/check_scan_XXXXXX";
	pid_t pid;

	/* Limit 1: of two jobs at once, one finds the host full. */
	ck_assert_ptr_nonnull(mkdtemp(dir));
	pid = peer_start(PEER_ANSWER, b, sizeof(b));
	(void) buf_append_str(req, "x");
	j1 = scan_job_new("spamd", b, req, &error);
	j2 = scan_job_new("spamd", b, req, &error);
	jobs[0] = j1;
	jobs[1] = j2;
	scan_run(jobs, 2, dir, 1, 1000, 1000);
	ck_assert_int_eq(scan_job_status(j1), SCAN_DONE);
	ck_assert_int_eq(scan_job_status(j2), SCAN_UNAVAILABLE);
	ck_assert_ptr_nonnull(strstr(scan_job_error(j2), "at its limit"));
	scan_job_free(&j1);
	scan_job_free(&j2);
	buf_free(&req);
	peer_stop(pid);
}
END_TEST

START_TEST(test_bad_host_lists)
{
	struct buf *req = buf_new(64);
	char *error = NULL;

	static const char *const bad[] = {
		"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:x25", ":783",
		"[::1", "[::1]", "a:1 b", "a:1/limit", "a:1/limit=x",
		"a:1/colour=red", "a:1/scan=0", "a:1/limit=1/limit=2",
		"a:1/connect=2s/", "a/limit=1",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		error = NULL;
		ck_assert_ptr_null(scan_job_new("spamd", bad[i], req, &error));
		ck_assert_ptr_nonnull(error);
		free(error);
	}
	buf_free(&req);
}
END_TEST

static Suite *
scan_suite(void)
{
	Suite *s = suite_create("scan_client");
	TCase *tc = tcase_create("spamd");

	tcase_add_test(tc, test_spamd_request);
	tcase_add_loop_test(tc, test_spamd_parse, 0,
	    (int) (sizeof(spamd_cases) / sizeof(spamd_cases[0])));
	suite_add_tcase(s, tc);
	tc = tcase_create("clamd");
	tcase_add_test(tc, test_clamd_request);
	tcase_add_loop_test(tc, test_clamd_parse, 0,
	    (int) (sizeof(clamd_cases) / sizeof(clamd_cases[0])));
	suite_add_tcase(s, tc);
	tc = tcase_create("run");
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_run_outcomes);
	tcase_add_test(tc, test_host_limit_override);
	tcase_add_test(tc, test_slots_full);
	tcase_add_test(tc, test_bad_host_lists);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(scan_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

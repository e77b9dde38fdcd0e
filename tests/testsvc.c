/*
 * ispmail-testsvc: a test-only service for the master's and the service
 * skeleton's tests.
 *
 * Daemon arguments: crash-on-start (abort in post_init), crash-on-connect
 * (abort when a connection arrives), exit-on-start (exit 3 in post_init).
 * Per connection it greets with
 *
 *	hello service=NAME pid=PID uid=UID gid=GID
 *
 * and answers one line per command: "sleep N" (N <= 600 s, then "ok"),
 * "echo TEXT" (TEXT), "param NAME" (the effective value or "unknown"),
 * "crash" (abort), "quit" ("bye", then the connection closes); anything
 * else gets "error unknown command", an over-long line "error line too
 * long".
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "mail_params.h"
#include "params.h"
#include "service.h"
#include "stream.h"

#define TESTSVC_TIMEOUT_MS (30 * 1000)
#define TESTSVC_SLEEP_MAX 600

struct testsvc {
	char **args;		/* daemon arguments, from service_main() */
	int arg_count;
	int crash_on_start;
	int crash_on_connect;
	int exit_on_start;
};

/* Parse "N" for sleep: 0..TESTSVC_SLEEP_MAX, digits only. */
static int
testsvc_parse_seconds(const char *text, unsigned int *seconds_r)
{
	char *end;
	long value;

	if (*text < '0' || *text > '9')
		return -1;
	errno = 0;
	value = strtol(text, &end, 10);
	if (errno != 0 || *end != '\0' || value > TESTSVC_SLEEP_MAX)
		return -1;
	*seconds_r = (unsigned int) value;
	return 0;
}

/* Answer one command line; 0 to go on, -1 to end the session. */
static int
testsvc_command(struct stream *s, const char *line)
{
	unsigned int seconds;
	const char *value;

	if (strncmp(line, "sleep ", 6) == 0) {
		if (testsvc_parse_seconds(line + 6, &seconds) < 0) {
			stream_puts(s, "error bad seconds\r\n");
			return 0;
		}
		while (seconds > 0)
			seconds = sleep(seconds);
		stream_puts(s, "ok\r\n");
	} else if (strcmp(line, "echo") == 0
	    || strncmp(line, "echo ", 5) == 0) {
		stream_printf(s, "%s\r\n", line[4] != '\0' ? line + 5 : "");
	} else if (strncmp(line, "param ", 6) == 0) {
		value = params_value(line + 6);
		stream_printf(s, "%s\r\n", value != NULL ? value : "unknown");
	} else if (strcmp(line, "crash") == 0) {
		abort();
	} else if (strcmp(line, "quit") == 0) {
		stream_puts(s, "bye\r\n");
		return -1;
	} else {
		stream_puts(s, "error unknown command\r\n");
	}
	return 0;
}

static void
testsvc_handle(int fd, const struct service_peer *peer, void *ctx)
{
	struct testsvc *t = ctx;
	struct stream *s;
	struct buf *line;
	enum stream_status rc;
	int done = 0;

	if (t->crash_on_connect)
		abort();
	s = stream_new(fd, TESTSVC_TIMEOUT_MS, TESTSVC_TIMEOUT_MS);
	line = buf_new((size_t) var_line_length_limit + 1);
	stream_printf(s, "hello service=%s pid=%ld uid=%ld gid=%ld\r\n",
	    peer->service, (long) getpid(), (long) getuid(), (long) getgid());
	while (!done && stream_flush(s) == STREAM_OK) {
		rc = stream_read_line(s, line, (size_t) var_line_length_limit);
		if (rc == STREAM_TOO_LONG) {
			stream_puts(s, "error line too long\r\n");
			continue;
		}
		if (rc != STREAM_OK)
			break;
		done = testsvc_command(s, buf_cstr(line)) < 0;
	}
	if (done)
		(void) stream_flush(s);
	buf_free(&line);
	stream_free(&s);
}

/* The daemon arguments are stored by service_main() before pre_init. */
static void
testsvc_pre_init(void *ctx)
{
	struct testsvc *t = ctx;
	int i;

	for (i = 0; i < t->arg_count; i++) {
		if (strcmp(t->args[i], "crash-on-start") == 0)
			t->crash_on_start = 1;
		else if (strcmp(t->args[i], "crash-on-connect") == 0)
			t->crash_on_connect = 1;
		else if (strcmp(t->args[i], "exit-on-start") == 0)
			t->exit_on_start = 1;
		else
			log_fatal("unknown argument: %s", t->args[i]);
	}
}

static void
testsvc_post_init(void *ctx)
{
	struct testsvc *t = ctx;

	if (t->crash_on_start)
		abort();
	if (t->exit_on_start)
		exit(3);
}

int
main(int argc, char **argv)
{
	static struct testsvc testsvc;
	const struct service_def def = {
		.name = "testsvc",
		.handle = testsvc_handle,
		.pre_init = testsvc_pre_init,
		.post_init = testsvc_post_init,
		.ctx = &testsvc,
	};

	service_main(argc, argv, &def, &testsvc.args, &testsvc.arg_count);
}

/*
 * fuzz_lmtpd: lmtpd's command table and handlers (lmtpd_command: LHLO,
 * MAIL with SIZE/BODY/ENVID xtext, RCPT with XFOLDER and NOTIFY/ORCPT,
 * DATA through the DATA reader, RSET, VRFY, QUIT) on the input as the
 * client's stream, routed against a small map.  lmtpd.c is linked with
 * its main() renamed (build.sh), so replies and the transaction reset
 * are lmtpd's own; the session loop is a short copy of lmtpd_handle().
 * The mailbox's store does not exist: DATA reads the whole message and
 * answers 4xx, so nothing accumulates on disk.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fuzz.h"
#include "lmtpd.h"
#include "mail_params.h"
#include "params.h"
#include "route.h"
#include "stream.h"
#include "xalloc.h"

static struct lmtpd_server server;
static char localhost[] = "localhost";
static char *local_hosts[] = { localhost, NULL };

static const char fuzz_map[] =
	"domain example.test local mailhost=localhost\n"
	"mailbox user@example.test path=/nonexistent/user\n"
	"mailbox moved@example.test path=/nonexistent/moved host=elsewhere\n"
	"mailbox off@example.test path=/nonexistent/off state=disabled\n"
	"alias postmaster@example.test user@example.test\n";

static void
setup(void)
{
	char *map = xasprintf("%s/routes", fuzz_dir());
	char *error = NULL;

	fuzz_write_file(map, fuzz_map, sizeof(fuzz_map) - 1);
	if (params_set("route_backend", "file", &error) != 0 ||
	    params_set("route_file", map, &error) != 0 ||
	    params_set("lmtp_message_size_limit", "20000", &error) != 0)
		abort();
	server.route = route_open(&error);
	if (server.route == NULL)
		abort();
	server.local_hosts = local_hosts;
	server.local_host_count = 1;
	server.hostname = xstrdup("store.example.test");
	free(map);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lmtpd_session sess;
	struct fuzz_input in;
	enum stream_status rc;
	enum lmtpd_cmd_result result;
	int commands, bad = 0;

	fuzz_init();
	if (server.route == NULL)
		setup();
	if (size == 0)
		return 0;
	memset(&sess, 0, sizeof(sess));
	sess.server = &server;
	sess.client = "192.0.2.1";
	sess.s = fuzz_stream_new(&in, data + 1, size - 1, data[0]);
	sess.line = buf_new((size_t) var_lmtp_line_length_limit + 1);
	sess.reply = buf_new(4096);
	for (commands = 0; commands < 1000; commands++) {
		rc = stream_read_line(sess.s, sess.line,
		    (size_t) var_lmtp_line_length_limit);
		if (rc == STREAM_TOO_LONG)
			result = LMTPD_CMD_BAD;
		else if (rc != STREAM_OK)
			break;
		else
			result = lmtpd_command(&sess);
		if (result == LMTPD_CMD_CLOSE)
			break;
		if (result == LMTPD_CMD_BAD &&
		    ++bad >= var_lmtp_bad_command_limit)
			break;
	}
	lmtpd_transaction_reset(&sess);
	free(sess.rcpts);
	buf_free(&sess.line);
	buf_free(&sess.reply);
	stream_free(&sess.s);
	return 0;
}

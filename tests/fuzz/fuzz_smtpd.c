/*
 * fuzz_smtpd: smtpd's transaction commands on the input as a client's
 * byte stream: MAIL FROM and RCPT TO with their paths and ESMTP
 * parameters (SIZE, BODY, RET, ENVID and ORCPT xtext, NOTIFY), DATA
 * through the DATA reader and BDAT chunks into real queue files, routed
 * against a small map (smtpd_env.c, smtpd_queue.c, smtpd_srs.c; the
 * direct delivery of smtpd_direct.c finds no lmtpd and queues).  The
 * first byte's top bit picks submission mode, where the client is in
 * mynetworks and every message goes through the Date:/Message-ID:
 * filter (smtpd_msa.c).  The
 * session loop of smtpd.c is replaced by a short one here (smtpd.c holds
 * main() and the TLS and reputation set-up).  Every queue file smtpd
 * commits must read back with qfile_read(): what the writer escapes the
 * reader must take.  fuzz_smtpd_auth.c includes this file with
 * FUZZ_SMTPD_AUTH defined: sender authentication on, DNS from the input.
 */
#include "config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "fuzz.h"
#include "mail_params.h"
#include "params.h"
#include "qfile.h"
#include "route.h"
#include "service.h"
#include "smtpd.h"
#include "smtpd_trust.h"
#include "stream.h"
#include "xalloc.h"

#define FUZZ_QUEUED_PREFIX "250 2.0.0 Ok: queued as "

struct smtpd_globals smtpd;

static struct route *fuzz_route;
static char *queued_id;
static const struct service_peer fuzz_peer = {
	"smtp", "192.0.2.1", 4242, "192.0.2.2", 25,
};

static const char fuzz_map[] =
	"domain example.test local mailhost=localhost\n"
	"mailbox user@example.test path=/nonexistent/user\n"
	"alias postmaster@example.test user@example.test\n"
	"domain relay.test relay relayhost=mx.relay.test\n"
	"recipient someone@relay.test\n";

/* smtpd.c's functions, for this harness. */
void
smtpd_reply(struct smtpd_session *ss, const char *fmt, ...)
{
	struct buf *reply = buf_new(4096);
	va_list ap;

	va_start(ap, fmt);
	(void) buf_vprintf(reply, fmt, ap);
	va_end(ap);
	if (buf_len(reply) < 4 || buf_cstr(reply)[0] < '2' ||
	    buf_cstr(reply)[0] > '5')
		abort();
	if (strncmp(buf_cstr(reply), FUZZ_QUEUED_PREFIX,
	    strlen(FUZZ_QUEUED_PREFIX)) == 0) {
		free(queued_id);
		queued_id = xstrdup(buf_cstr(reply) +
		    strlen(FUZZ_QUEUED_PREFIX));
	}
	(void) stream_puts(ss->s, buf_cstr(reply));
	buf_free(&reply);
}

int
smtpd_error(struct smtpd_session *ss)
{
	if (++ss->errors < var_smtpd_error_limit)
		return 0;
	ss->quit = 1;
	return 1;
}

struct route *
smtpd_route(void)
{
	return fuzz_route;
}

int
smtpd_tls_active(const struct smtpd_session *ss)
{
	(void) ss;
	return 0;
}

static void
set(const char *name, const char *value)
{
	char *error = NULL;

	if (params_set(name, value, &error) != 0)
		abort();
}

static void
setup(void)
{
	char *queue = xasprintf("%s/queue", fuzz_dir());
	char *map = xasprintf("%s/routes", fuzz_dir());
	char *tmp = xasprintf("%s/%s", queue, QFILE_TMP);
	char *incoming = xasprintf("%s/%s", queue, QFILE_INCOMING);
	char *error = NULL;

	/* smtpd makes the hashed directories below incoming/ itself. */
	if (mkdir(queue, 0700) != 0 || mkdir(tmp, 0700) != 0 ||
	    mkdir(incoming, 0700) != 0)
		abort();
	fuzz_write_file(map, fuzz_map, sizeof(fuzz_map) - 1);
	set("queue_directory", queue);
	set("route_backend", "file");
	set("route_file", map);
	set("message_size_limit", "20000");
	set("smtpd_recipient_limit", "20");
	set("smtpd_error_limit", "20");
	set("mynetworks", "192.0.2.0/24");
	smtpd_trust_init();
	fuzz_route = route_open(&error);
	if (fuzz_route == NULL)
		abort();
	smtpd.mode = SMTPD_MODE_MX;
	smtpd.hostname = xstrdup("mx.example.test");
#ifdef FUZZ_SMTPD_AUTH
	fuzz_auth_setup();
#endif
	free(queue);
	free(map);
	free(tmp);
	free(incoming);
}

/* A committed queue file must read back; then it goes. */
static void
check_queued(void)
{
	struct qfile *qf = NULL;
	char *path, *error = NULL;
	int damaged = 0;

	if (queued_id == NULL)
		return;
	path = qfile_path(var_queue_directory, QFILE_INCOMING, queued_id);
	if (qfile_read(path, &qf, &damaged, &error) != 0) {
		fprintf(stderr, "fuzz_smtpd: %s: %s\n", path, error);
		abort();
	}
	if (qf->rcpt_count == 0 || qf->sender == NULL)
		abort();
#ifdef FUZZ_SMTPD_AUTH
	fuzz_auth_check(qf, path);
#endif
	qfile_free(&qf);
	if (unlink(path) != 0)
		abort();
	free(path);
	free(queued_id);
	queued_id = NULL;
}

static void
helo(struct smtpd_session *ss, const char *args, int esmtp)
{
	free(ss->helo);
	ss->helo = xstrdup(args);
	ss->esmtp = esmtp;
	smtpd_transaction_reset(ss);
}

static void
dispatch(struct smtpd_session *ss, struct buf *line)
{
	const char *text = buf_cstr(line);
	size_t len = strcspn(text, " ");
	const char *args = text + len;

	while (*args == ' ')
		args++;
	if (memchr(text, '\0', buf_len(line)) != NULL)
		(void) smtpd_error(ss);
	else if (len == 4 && strncasecmp(text, "EHLO", 4) == 0)
		helo(ss, args, 1);
	else if (len == 4 && strncasecmp(text, "HELO", 4) == 0)
		helo(ss, args, 0);
	else if (len == 4 && strncasecmp(text, "MAIL", 4) == 0)
		smtpd_cmd_mail(ss, args);
	else if (len == 4 && strncasecmp(text, "RCPT", 4) == 0)
		smtpd_cmd_rcpt(ss, args);
	else if (len == 4 && strncasecmp(text, "DATA", 4) == 0 &&
	    ss->bdat == NULL)
		smtpd_cmd_data(ss, args);
	else if (len == 4 && strncasecmp(text, "BDAT", 4) == 0)
		smtpd_cmd_bdat(ss, args);
	else if (len == 4 && strncasecmp(text, "RSET", 4) == 0)
		smtpd_transaction_reset(ss);
	else if (len == 4 && strncasecmp(text, "QUIT", 4) == 0)
		ss->quit = 1;
	else
		(void) smtpd_error(ss);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtpd_session ss;
	struct fuzz_input in;
	struct buf *line;
	enum stream_status st;
	size_t chunk;
	int commands;

	fuzz_init();
	if (fuzz_route == NULL)
		setup();
	if (size == 0)
		return 0;
	memset(&ss, 0, sizeof(ss));
	ss.peer = &fuzz_peer;
#ifdef FUZZ_SMTPD_AUTH
	chunk = data[0] & 0x7f;
	data++;
	size--;
	fuzz_auth_input(&data, &size);
#else
	smtpd.mode = data[0] & 0x80 ? SMTPD_MODE_SUBMISSION : SMTPD_MODE_MX;
	chunk = data[0];
	data++;
	size--;
#endif
	ss.s = fuzz_stream_new(&in, data, size, chunk);
	line = buf_new((size_t) var_smtpd_line_limit + 1);
	for (commands = 0; !ss.quit && commands < 1000; commands++) {
		st = stream_read_line(ss.s, line,
		    (size_t) var_smtpd_line_limit);
		if (st == STREAM_TOO_LONG) {
			(void) smtpd_error(&ss);
			continue;
		}
		if (st != STREAM_OK)
			break;
		dispatch(&ss, line);
		check_queued();
	}
	buf_free(&line);
	smtpd_transaction_reset(&ss);
	free(ss.env.rcpts);
	free(ss.helo);
	stream_free(&ss.s);
#ifdef FUZZ_SMTPD_AUTH
	fuzz_auth_end();
#endif
	return 0;
}

/*
 * ispmail-sendmail: the sendmail(8) command line of this host's users
 * and programs (cron, PHP's mail(), mailx), installed by the packages
 * as /usr/sbin/sendmail.
 *
 * It reads the message from standard input and hands it to smtpd over
 * the UNIX socket public/sendmail below queue_directory; the kernel
 * tells smtpd who the user is (smtpd_local.c), so no password is asked.
 * One transaction: the message is either taken for every recipient or
 * for none, and the exit status says which (sysexits.h), so a caller
 * never has to guess what to send again.
 */
#include "config.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sysexits.h>
#include <unistd.h>

#include "address.h"
#include "buf.h"
#include "connect.h"
#include "mail_params.h"
#include "params.h"
#include "sendmail_msg.h"
#include "stream.h"
#include "xalloc.h"

#define SM_TIMEOUT_MS (5 * 60 * 1000)	/* per reply, as smtpd's own */
#define SM_REPLY_LINES 64		/* lines in one reply, at most */
#define SM_RCPT_MAX 10000		/* recipients, at most */

struct sm_opts {
	const char *config_dir;
	const char *sender;		/* -f/-r, or NULL */
	const char *full_name;		/* -F, or NULL */
	const char *notify;		/* -N */
	const char *ret;		/* -R */
	const char *envid;		/* -V */
	int ignore_dots;		/* -i, -oi */
	int extract;			/* -t */
};

static void __attribute__((noreturn))
sm_usage(void)
{
	fprintf(stderr, "usage: ispmail-sendmail [-C config_dir] [-f sender] "
	    "[-F full_name] [-i] [-t] [-N dsn] [-R ret] [-V envid]\n"
	    "       [-o option]... [-bm | -bi] [--] [recipient...]\n");
	exit(EX_USAGE);
}

/* The exit status for a failed reply: 4xx try again, 5xx give up. */
static int
sm_status(const char *code, int rcpt)
{
	if (code[0] == '4')
		return EX_TEMPFAIL;
	return rcpt ? EX_NOUSER : EX_UNAVAILABLE;
}

/*
 * Read one reply (all its lines) into text, its code into code[4].
 * 0, or -1 when the connection failed or the reply was malformed.
 */
static int
sm_reply(struct stream *s, char code[4], struct buf *text)
{
	struct buf *line = buf_new(1024);
	const char *l;
	int i, ret = -1;

	buf_reset(text);
	for (i = 0; i < SM_REPLY_LINES; i++) {
		if (stream_read_line(s, line, 1000) != STREAM_OK)
			break;
		l = buf_cstr(line);
		if (buf_len(line) < 3 || l[0] < '2' || l[0] > '5' ||
		    l[1] < '0' || l[1] > '9' || l[2] < '0' || l[2] > '9' ||
		    (l[3] != '\0' && l[3] != ' ' && l[3] != '-'))
			break;
		if (i > 0)
			(void) buf_append_str(text, " / ");
		(void) buf_append_str(text, l[3] == '\0' ? "" : l + 4);
		if (l[3] != '-') {
			memcpy(code, l, 3);
			code[3] = '\0';
			ret = 0;
			break;
		}
	}
	buf_free(&line);
	return ret;
}

/* Send a command line and read its reply; the reply code. */
static int
sm_command(struct stream *s, const char *cmd, char code[4], struct buf *text)
{
	if (stream_printf(s, "%s\r\n", cmd) != STREAM_OK ||
	    stream_flush(s) != STREAM_OK || sm_reply(s, code, text) < 0) {
		snprintf(code, 4, "421");
		buf_reset(text);
		(void) buf_append_str(text, "connection to smtpd lost");
		return -1;
	}
	return 0;
}

/* Connect to queue_directory/public/sendmail. */
static struct stream *
sm_connect(char **error_r)
{
	char *hop = xasprintf("unix:public/sendmail");
	int fd;

	fd = net_connect_nexthop(hop, var_queue_directory, 30 * 1000, NULL,
	    NULL, error_r);
	free(hop);
	if (fd < 0)
		return NULL;
	return stream_new(fd, SM_TIMEOUT_MS, SM_TIMEOUT_MS);
}

/* The user running us, for the default sender and From:. */
static char *
sm_login(void)
{
	struct passwd *pw = getpwuid(getuid());

	if (pw != NULL && pw->pw_name[0] != '\0')
		return xstrdup(pw->pw_name);
	return xasprintf("uid%ld", (long) getuid());
}

/*
 * Send what is left on standard input after the header, dot-stuffed,
 * line ends made CRLF; without -i a line of one dot ends the message.
 * A line longer than SENDMAIL_LINE_MAX goes out in pieces.
 */
static int
sm_send_body(struct stream *s, FILE *in, int ignore_dots)
{
	struct buf *line = buf_new(SENDMAIL_LINE_MAX + 2);
	int c, bol = 1, ret = 0;
	size_t len;
	const char *l;

	for (;;) {
		buf_reset(line);
		while (buf_len(line) < SENDMAIL_LINE_MAX &&
		    (c = getc(in)) != EOF) {
			(void) buf_append_char(line, (char) c);
			if (c == '\n')
				break;
		}
		len = buf_len(line);
		if (len == 0)
			break;
		l = buf_cstr(line);
		if (bol && !ignore_dots && (strcmp(l, ".\n") == 0 ||
		    strcmp(l, ".\r\n") == 0 || strcmp(l, ".") == 0))
			break;
		if (bol && l[0] == '.' && stream_puts(s, ".") != STREAM_OK) {
			ret = -1;
			break;
		}
		bol = l[len - 1] == '\n';
		if (bol)
			len -= len >= 2 && l[len - 2] == '\r' ? 2 : 1;
		if (stream_write(s, l, len) != STREAM_OK ||
		    (bol && stream_puts(s, "\r\n") != STREAM_OK)) {
			ret = -1;
			break;
		}
	}
	/* A last line without its LF still ends with CRLF on the wire. */
	if (ret == 0 && !bol && stream_puts(s, "\r\n") != STREAM_OK)
		ret = -1;
	if (ferror(in))
		ret = -1;
	buf_free(&line);
	return ret;
}

/*
 * An envelope address as given (command line, -t): a bare user name
 * gets @ and this host's name; NULL when it is no address smtpd could
 * take (it goes into a protocol line).
 */
static char *
sm_qualify(const char *addr)
{
	char *full, *error = NULL;

	if (strchr(addr, '@') == NULL)
		full = xasprintf("%s@%s", addr, mail_hostname());
	else
		full = xstrdup(addr);
	if (strlen(full) > 254 || strpbrk(full, "<> \t\r\n") != NULL ||
	    address_parse(full, strlen(full), NULL, NULL, &error) < 0) {
		free(full);
		full = NULL;
	}
	free(error);
	return full;
}

static int
sm_send(const struct sm_opts *o, char **rcpts, int rcpt_count)
{
	struct sendmail_msg *msg;
	struct stream *s;
	struct buf *text = buf_new(1024), *cmd = buf_new(1024);
	char *login = sm_login(), *sender, *from = NULL, *error = NULL;
	char **qualified = NULL;
	char *const *all;
	char code[4];
	size_t i, count;
	int ret = EX_TEMPFAIL;

	if (o->sender != NULL)
		sender = xstrdup(o->sender);
	else
		sender = xasprintf("%s@%s", login, mail_hostname());
	msg = sendmail_msg_read(stdin, o->ignore_dots, &error);
	if (msg == NULL) {
		fprintf(stderr, "ispmail-sendmail: %s\n", error);
		ret = EX_DATAERR;
		goto out_nomsg;
	}
	for (i = 0; i < (size_t) rcpt_count; i++)
		sendmail_msg_add_rcpt(msg, rcpts[i]);
	from = sender[0] != '\0' ? xstrdup(sender) :
	    xasprintf("%s@%s", login, mail_hostname());
	sendmail_msg_finish(msg, o->extract, from, o->full_name);
	all = sendmail_msg_rcpts(msg, &count);
	if (count == 0) {
		fprintf(stderr, "ispmail-sendmail: no recipients\n");
		ret = EX_USAGE;
		goto out;
	}
	if (count > SM_RCPT_MAX) {
		fprintf(stderr, "ispmail-sendmail: more than %d recipients\n",
		    SM_RCPT_MAX);
		ret = EX_USAGE;
		goto out;
	}
	qualified = xcalloc(count + 1, sizeof(*qualified));
	for (i = 0; i < count; i++) {
		if ((qualified[i] = sm_qualify(all[i])) == NULL) {
			fprintf(stderr, "ispmail-sendmail: bad recipient "
			    "address: %s\n", all[i]);
			ret = EX_DATAERR;
			goto out;
		}
	}
	all = qualified;
	s = sm_connect(&error);
	if (s == NULL) {
		fprintf(stderr, "ispmail-sendmail: cannot reach the mail "
		    "system: %s (is ispmail-master running, with a sendmail "
		    "service in master.conf?)\n", error);
		goto out;
	}
	if (sm_reply(s, code, text) < 0 || code[0] != '2') {
		fprintf(stderr, "ispmail-sendmail: smtpd refused: %s %s\n",
		    code, buf_cstr(text));
		ret = code[0] == '5' ? EX_NOPERM : EX_TEMPFAIL;
		goto close;
	}
	(void) sm_command(s, "EHLO localhost", code, text);
	if (code[0] != '2')
		goto fail;
	buf_reset(cmd);
	(void) buf_printf(cmd, "MAIL FROM:<%s>", sender);
	if (o->ret != NULL)
		(void) buf_printf(cmd, " RET=%s", o->ret);
	if (o->envid != NULL)
		(void) buf_printf(cmd, " ENVID=%s", o->envid);
	(void) sm_command(s, buf_cstr(cmd), code, text);
	if (code[0] != '2')
		goto fail;
	for (i = 0; i < count; i++) {
		buf_reset(cmd);
		(void) buf_printf(cmd, "RCPT TO:<%s>", all[i]);
		if (o->notify != NULL)
			(void) buf_printf(cmd, " NOTIFY=%s", o->notify);
		(void) sm_command(s, buf_cstr(cmd), code, text);
		if (code[0] != '2') {
			/* All or nothing: the caller resends or gives up. */
			fprintf(stderr, "ispmail-sendmail: <%s>: %s %s\n",
			    all[i], code, buf_cstr(text));
			ret = sm_status(code, 1);
			(void) sm_command(s, "QUIT", code, text);
			goto close;
		}
	}
	(void) sm_command(s, "DATA", code, text);
	if (code[0] != '3')
		goto fail;
	if (stream_write(s, sendmail_msg_header(msg), sendmail_msg_header_len(
	    msg)) != STREAM_OK || (!sendmail_msg_ended(msg) &&
	    sm_send_body(s, stdin, o->ignore_dots) < 0) ||
	    sm_command(s, ".", code, text) < 0) {
		fprintf(stderr, "ispmail-sendmail: sending the message "
		    "failed\n");
		goto close;
	}
	if (code[0] != '2')
		goto fail;
	(void) sm_command(s, "QUIT", code, text);
	ret = EX_OK;
	goto close;
fail:
	fprintf(stderr, "ispmail-sendmail: smtpd said: %s %s\n", code,
	    buf_cstr(text));
	ret = sm_status(code, 0);
close:
	stream_free(&s);
out:
	for (i = 0; qualified != NULL && qualified[i] != NULL; i++)
		free(qualified[i]);
	free(qualified);
	sendmail_msg_free(&msg);
out_nomsg:
	free(error);
	free(sender);
	free(from);
	free(login);
	buf_free(&text);
	buf_free(&cmd);
	return ret;
}

/* A DSN keyword argument: only letters, digits, commas, + and =. */
static void
sm_check_word(const char *opt, const char *value)
{
	size_t i;

	for (i = 0; value[i] != '\0' && i < 100; i++)
		if (!((value[i] >= 'A' && value[i] <= 'Z') ||
		    (value[i] >= 'a' && value[i] <= 'z') ||
		    (value[i] >= '0' && value[i] <= '9') ||
		    strchr(",+=-._", value[i]) != NULL))
			break;
	if (i == 0 || value[i] != '\0') {
		fprintf(stderr, "ispmail-sendmail: bad -%s value\n", opt);
		exit(EX_USAGE);
	}
}

int
main(int argc, char **argv)
{
	struct sm_opts o = { .config_dir = ISPMAIL_CONFIG_DIR };
	const char *env = getenv("ISPMAIL_CONFIG_DIR");
	char *path, *error = NULL, *sender = NULL;
	int c;

	if (env != NULL && env[0] == '/')
		o.config_dir = env;
	while ((c = getopt(argc, argv, "B:b:C:F:f:h:iN:O:o:R:r:tV:v")) != -1) {
		switch (c) {
		case 'b':
			/* -bm: deliver (the default); -bi: newaliases. */
			if (strcmp(optarg, "i") == 0)
				return EX_OK;	/* aliases live in the directory */
			if (strcmp(optarg, "m") != 0) {
				fprintf(stderr, "ispmail-sendmail: -b%s is not "
				    "supported (the queue: ispmailctl queue "
				    "list)\n", optarg);
				return EX_USAGE;
			}
			break;
		case 'C':
			o.config_dir = optarg;
			break;
		case 'F':
			o.full_name = optarg;
			break;
		case 'f':
		case 'r':
			o.sender = optarg;
			break;
		case 'i':
			o.ignore_dots = 1;
			break;
		case 'N':
			sm_check_word("N", optarg);
			o.notify = optarg;
			break;
		case 'o':
			if (strcmp(optarg, "i") == 0)
				o.ignore_dots = 1;
			/* -odb, -odi, -oem, ...: nothing to choose here. */
			break;
		case 'R':
			sm_check_word("R", optarg);
			o.ret = optarg;
			break;
		case 't':
			o.extract = 1;
			break;
		case 'V':
			sm_check_word("V", optarg);
			o.envid = optarg;
			break;
		case 'B': case 'h': case 'O': case 'v':
			break;		/* sendmail options without a meaning here */
		default:
			sm_usage();
		}
	}
	params_init();
	if (params_set("config_directory", o.config_dir, &error) < 0) {
		fprintf(stderr, "ispmail-sendmail: -C %s: %s\n", o.config_dir,
		    error);
		return EX_CONFIG;
	}
	path = xasprintf("%s/main.conf", o.config_dir);
	if (params_read_file(path, 1, &error) < 0) {
		fprintf(stderr, "ispmail-sendmail: %s\n", error);
		return EX_CONFIG;
	}
	free(path);
	if (o.sender != NULL && strcmp(o.sender, "<>") == 0)
		o.sender = "";		/* the null sender */
	if (o.sender != NULL && o.sender[0] != '\0') {
		if ((sender = sm_qualify(o.sender)) == NULL) {
			fprintf(stderr, "ispmail-sendmail: bad sender address: "
			    "%s\n", o.sender);
			return EX_USAGE;
		}
		o.sender = sender;
	}
	c = sm_send(&o, argv + optind, argc - optind);
	free(sender);
	return c;
}

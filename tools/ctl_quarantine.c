/*
 * ctl_quarantine: ispmailctl quarantine list|show|release|delete -- the
 * messages smtpd's content filter put in quarantine/ (smtpd(8)), one
 * queue file each whose recipients are the quarantined ones.  release
 * records the decision as cleared (an F record, ispmail-queue(5)),
 * moves the file to incoming/ and tells qmgr, which delivers it as if it
 * were clean (INBOX, no Junk folder).  expire removes what has been
 * in quarantine longer than quarantine_retention (run it from cron).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "ctl.h"
#include "fileio.h"
#include "log.h"
#include "mail_params.h"
#include "qfile.h"
#include "xalloc.h"

/* The header lines shown by show, at most. */
#define CTL_QUARANTINE_SHOW_LINES 200
#define CTL_QUARANTINE_SHOW_BYTES (64 * 1024)

/* 1 when a recipient of qf matches the --domain or --address filter. */
static int
ctl_quarantine_match(const struct qfile *qf, const char *domain,
	const char *address)
{
	size_t i, alen, dlen;
	const char *at;

	if (domain == NULL && address == NULL)
		return 1;
	for (i = 0; i < qf->rcpt_count; i++) {
		const char *a = qf->rcpts[i].address;

		if (address != NULL && strcasecmp(a, address) == 0)
			return 1;
		at = strrchr(a, '@');
		if (domain != NULL && at != NULL) {
			alen = strlen(at + 1);
			dlen = strlen(domain);
			if (alen == dlen && strcasecmp(at + 1, domain) == 0)
				return 1;
		}
	}
	return 0;
}

static int
ctl_quarantine_list(const char *domain, const char *address)
{
	struct ctl_qlist l = { NULL, 0, 0 };
	struct qfile *qf;
	char *dir, *error = NULL, when[64];
	struct tm tm;
	time_t t;
	size_t i, k, shown = 0;
	int damaged;

	dir = xasprintf("%s/%s", var_queue_directory, QFILE_QUARANTINE);
	ctl_qlist_scan(&l, dir, QFILE_QUARANTINE, 0);
	free(dir);
	for (i = 0; i < l.count; i++) {
		if (qfile_read(l.entries[i].path, &qf, &damaged, &error) < 0) {
			ctl_eprintf("ispmailctl: %s\n", error);
			free(error);
			error = NULL;
			continue;
		}
		if (ctl_quarantine_match(qf, domain, address)) {
			t = (time_t) qf->arrival;
			localtime_r(&t, &tm);
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
			ctl_printf("%s %8lld %s <%s>\n", qf->id,
			    qf->message_size, when, qf->sender);
			for (k = 0; k < qf->rcpt_count; k++)
				ctl_printf("    <%s>\n", qf->rcpts[k].address);
			shown++;
		}
		qfile_free(&qf);
	}
	ctl_printf("-- %zu quarantined message%s\n", shown,
	    shown == 1 ? "" : "s");
	ctl_qlist_free(&l);
	return 0;
}

/* The path of quarantined id, or NULL (said). */
static char *
ctl_quarantine_path(const char *id)
{
	char *path;

	if (!qfile_id_valid(id)) {
		ctl_eprintf("ispmailctl: %s is not a queue id\n", id);
		return NULL;
	}
	path = qfile_path(var_queue_directory, QFILE_QUARANTINE, id);
	if (access(path, F_OK) < 0) {
		ctl_eprintf("ispmailctl: %s: not in quarantine\n", id);
		free(path);
		return NULL;
	}
	return path;
}

/* The envelope and the message's header, each line escaped. */
static int
ctl_quarantine_show(const char *id)
{
	struct qfile *qf;
	char *path, *error = NULL, *line, *nl;
	struct buf *head;
	size_t i, n;
	ssize_t got;
	int damaged, fd;

	path = ctl_quarantine_path(id);
	if (path == NULL)
		return 1;
	if (qfile_read(path, &qf, &damaged, &error) < 0) {
		ctl_eprintf("ispmailctl: %s\n", error);
		free(error);
		free(path);
		return 1;
	}
	ctl_printf("id: %s\nsize: %lld\nsender: <%s>\nclient: %s\n", qf->id,
	    qf->message_size, qf->sender,
	    qf->client_addr != NULL ? qf->client_addr : "-");
	for (i = 0; i < qf->rcpt_count; i++)
		ctl_printf("recipient: <%s>\n", qf->rcpts[i].address);
	ctl_printf("\n");
	n = qf->message_size < CTL_QUARANTINE_SHOW_BYTES ?
	    (size_t) qf->message_size : CTL_QUARANTINE_SHOW_BYTES;
	head = buf_new(n + 1);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0) {
		char *tmp = xmalloc(n + 1);

		got = pread(fd, tmp, n, qf->message_offset);
		if (got > 0)
			(void) buf_append(head, tmp, (size_t) got);
		free(tmp);
		close(fd);
	}
	/* The header only: up to the first empty line. */
	line = buf_data(head);
	for (i = 0; i < CTL_QUARANTINE_SHOW_LINES && *line != '\0'; i++) {
		nl = strchr(line, '\n');
		if (nl != NULL)
			*nl = '\0';
		if (nl != NULL && nl > line && nl[-1] == '\r')
			nl[-1] = '\0';
		if (*line == '\0')
			break;
		ctl_printf("%s\n", line);
		if (nl == NULL)
			break;
		line = nl + 1;
	}
	buf_free(&head);
	qfile_free(&qf);
	free(path);
	return 0;
}

/*
 * Clear the decision (an F record per recipient, durable), then move the
 * file to incoming/ and tell qmgr (it also finds it when it scans).
 */
static int
ctl_quarantine_release(const char *id)
{
	struct qfile *qf;
	struct buf *rec;
	char *path, *dir, *to, *error = NULL;
	size_t i;
	int damaged, fd, ret = 1;

	path = ctl_quarantine_path(id);
	if (path == NULL)
		return 1;
	if (qfile_read(path, &qf, &damaged, &error) < 0) {
		ctl_eprintf("ispmailctl: %s\n", error);
		free(error);
		free(path);
		return 1;
	}
	rec = buf_new(QFILE_RECORD_MAX);
	for (i = 0; i < qf->rcpt_count; i++)
		(void) qfile_record_filter(rec, qf->rcpts[i].n, "released",
		    NULL);
	fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	dir = qfile_dir(var_queue_directory, QFILE_INCOMING, id, 1);
	to = xasprintf("%s/%s", dir, id);
	if (fd < 0 || qfile_append(fd, rec, 1, &error) < 0) {
		ctl_eprintf("ispmailctl: %s: %s\n", path, error != NULL ?
		    error : strerror(errno));
	} else if (rename(path, to) < 0) {
		ctl_eprintf("ispmailctl: move %s: %s\n", path,
		    strerror(errno));
	} else {
		if (fileio_fsync_dir(dir, &error) < 0)
			ctl_eprintf("ispmailctl: %s\n", error);
		ctl_printf("%s: released to %zu recipient%s\n", id,
		    qf->rcpt_count, qf->rcpt_count == 1 ? "" : "s");
		/* qmgr not running: it finds it in incoming/ at start. */
		(void) ctl_qmgr_request("new", id);
		ret = 0;
	}
	if (fd >= 0)
		close(fd);
	free(error);
	free(dir);
	free(to);
	buf_free(&rec);
	qfile_free(&qf);
	free(path);
	return ret;
}

static int
ctl_quarantine_delete(const char *id)
{
	char *path = ctl_quarantine_path(id);
	int ret = 0;

	if (path == NULL)
		return 1;
	if (unlink(path) < 0) {
		ctl_eprintf("ispmailctl: remove %s: %s\n", path,
		    strerror(errno));
		ret = 1;
	}
	free(path);
	return ret;
}

/*
 * Remove the quarantined messages older than quarantine_retention, by
 * the time they went into quarantine (the file's modification time: the
 * file is written once and never changed there).  Each removal is
 * printed and logged.  0, or 1 when a file could not be removed.
 */
static int
ctl_quarantine_expire(void)
{
	struct ctl_qlist l = { NULL, 0, 0 };
	struct stat st;
	char *dir;
	const char *id;
	time_t now = time(NULL);
	size_t i, removed = 0;
	int ret = 0;

	if (var_quarantine_retention <= 0) {
		ctl_printf("quarantine_retention is 0: nothing expires\n");
		return 0;
	}
	dir = xasprintf("%s/%s", var_queue_directory, QFILE_QUARANTINE);
	ctl_qlist_scan(&l, dir, QFILE_QUARANTINE, 0);
	free(dir);
	for (i = 0; i < l.count; i++) {
		if (lstat(l.entries[i].path, &st) < 0 || !S_ISREG(st.st_mode)
		    || now - st.st_mtime < var_quarantine_retention)
			continue;
		id = strrchr(l.entries[i].path, '/');
		id = id != NULL ? id + 1 : l.entries[i].path;
		if (unlink(l.entries[i].path) < 0) {
			ctl_eprintf("ispmailctl: remove %s: %s\n",
			    l.entries[i].path, strerror(errno));
			ret = 1;
			continue;
		}
		removed++;
		log_info("%s: quarantine expired (%lld days old, "
		    "quarantine_retention %lld days)", id,
		    (long long) (now - st.st_mtime) / 86400,
		    var_quarantine_retention / 86400);
		ctl_printf("%s expired\n", id);
	}
	ctl_printf("-- %zu quarantined message%s expired\n", removed,
	    removed == 1 ? "" : "s");
	ctl_qlist_free(&l);
	return ret;
}

int
ctl_quarantine(int argc, char **argv)
{
	if (argc == 1 || (argc == 2 && strcmp(argv[1], "list") == 0))
		return ctl_quarantine_list(NULL, NULL);
	if (argc == 4 && strcmp(argv[1], "list") == 0 &&
	    strcmp(argv[2], "--domain") == 0)
		return ctl_quarantine_list(argv[3], NULL);
	if (argc == 4 && strcmp(argv[1], "list") == 0 &&
	    strcmp(argv[2], "--address") == 0)
		return ctl_quarantine_list(NULL, argv[3]);
	if (argc == 3 && strcmp(argv[1], "show") == 0)
		return ctl_quarantine_show(argv[2]);
	if (argc == 3 && strcmp(argv[1], "release") == 0)
		return ctl_quarantine_release(argv[2]);
	if (argc == 3 && strcmp(argv[1], "delete") == 0)
		return ctl_quarantine_delete(argv[2]);
	if (argc == 2 && strcmp(argv[1], "expire") == 0)
		return ctl_quarantine_expire();
	ctl_eprintf("usage: ispmailctl quarantine [list [--domain D | "
	    "--address A] | show ID | release ID | delete ID | expire]\n");
	return 2;
}

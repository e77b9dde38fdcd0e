/*
 * qfile: reading and checking queue files; see qfile.h and
 * ispmail-queue(5).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "attr.h"
#include "buf.h"
#include "fileio.h"
#include "log.h"
#include "mail_params.h"
#include "qfile.h"
#include "xalloc.h"

#define QFILE_MAGIC "ISPMAIL-QUEUE 1\n"

/* Reading ------------------------------------------------------------ */

struct qfile_reader {
	int fd;
	off_t offset;		/* file offset of buf[pos] */
	char *buf;
	size_t pos, len, alloc;
	int eof;
};

/*
 * The next line (without its LF) of at most QFILE_RECORD_MAX bytes:
 * 1 ok, 0 at EOF or at a last line without LF, -1 read error or line
 * too long.
 */
static int
qfile_next_line(struct qfile_reader *r, const char **line_r,
	size_t *len_r, off_t *offset_r)
{
	char *nl;
	ssize_t n;

	for (;;) {
		nl = memchr(r->buf + r->pos, '\n', r->len - r->pos);
		if (nl != NULL) {
			*line_r = r->buf + r->pos;
			*len_r = (size_t) (nl - (r->buf + r->pos));
			*offset_r = r->offset;
			r->offset += (off_t) (*len_r + 1);
			r->pos += *len_r + 1;
			return 1;
		}
		if (r->eof)
			return 0;
		if (r->len - r->pos > QFILE_RECORD_MAX)
			return -1;
		if (r->pos > 0) {
			memmove(r->buf, r->buf + r->pos, r->len - r->pos);
			r->len -= r->pos;
			r->pos = 0;
		}
		if (r->len == r->alloc) {
			r->alloc *= 2;
			r->buf = xrealloc(r->buf, r->alloc);
		}
		n = read(r->fd, r->buf + r->len, r->alloc - r->len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			r->eof = 1;
		r->len += (size_t) n;
	}
}

/* Skip len bytes of message, feeding them to the CRC; 0 ok, -1 short. */
static int
qfile_skip(struct qfile_reader *r, long long len, uint32_t *crc)
{
	size_t take;
	ssize_t n;

	while (len > 0) {
		if (r->pos == r->len) {
			r->pos = r->len = 0;
			n = read(r->fd, r->buf, r->alloc);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return -1;
			r->len = (size_t) n;
		}
		take = r->len - r->pos;
		if ((long long) take > len)
			take = (size_t) len;
		*crc = qfile_crc32(*crc, r->buf + r->pos, take);
		r->pos += take;
		r->offset += (off_t) take;
		len -= (long long) take;
	}
	return 0;
}

/* Split "X\tname=value\t..." fields into l; 0 ok, -1 malformed. */
static int
qfile_parse_fields(struct attr_list *l, const char *line, size_t len,
	size_t skip)
{
	const char *p = line + skip, *end = line + len, *tab;
	const char *error, *name;
	size_t i, k;

	attr_list_reset(l);
	while (p < end) {
		if (*p != '\t')
			return -1;
		p++;
		tab = memchr(p, '\t', (size_t) (end - p));
		if (tab == NULL)
			tab = end;
		if (attr_parse_line(l, p, (size_t) (tab - p), &error) < 0)
			return -1;
		p = tab;
	}
	/*
	 * A name twice is two records run together (a torn append that the
	 * next one joined): damage, never a record with a wrong value.
	 */
	for (i = 1; i < attr_count(l); i++) {
		name = attr_nth(l, i, NULL, NULL);
		for (k = 0; k < i; k++)
			if (strcmp(name, attr_nth(l, k, NULL, NULL)) == 0)
				return -1;
	}
	return 0;
}

static char *
qfile_dup(const struct attr_list *l, const char *name)
{
	const char *v = attr_get(l, name);

	return v != NULL ? xstrdup(v) : NULL;
}

static int
qfile_add_rcpt(struct qfile *qf, const struct attr_list *l, char state,
	off_t state_offset, size_t *alloc)
{
	struct qfile_rcpt *r;
	long long n, parent = -1;
	const char *notify;

	if (attr_get_int(l, "n", &n) != 1 || n < 0 || n > 1000000 ||
	    attr_get(l, "addr") == NULL ||
	    attr_get_int(l, "parent", &parent) < 0)
		return -1;
	if (qfile_rcpt_find(qf, (int) n) != NULL)
		return -1;
	if (qf->rcpt_count == *alloc) {
		*alloc = *alloc == 0 ? 8 : *alloc * 2;
		qf->rcpts = xreallocarray(qf->rcpts, *alloc, sizeof(*r));
	}
	r = &qf->rcpts[qf->rcpt_count++];
	memset(r, 0, sizeof(*r));
	r->n = (int) n;
	r->parent = (int) parent;
	r->state = state;
	r->state_offset = state_offset;
	r->address = qfile_dup(l, "addr");
	r->orcpt = qfile_dup(l, "orcpt");
	notify = attr_get(l, "notify");
	if (notify != NULL && (r->notify = qfile_notify_parse(notify)) < 0)
		return -1;
	return 0;
}

/* An F record: a recipient's filter decision or the hold reason. */
static int
qfile_add_filter(struct qfile *qf, const struct attr_list *l)
{
	struct qfile_rcpt *r;
	long long n;

	if (attr_get_int(l, "n", &n) != 1) {
		if (attr_get(l, "hold") == NULL)
			return -1;
		free(qf->hold_reason);
		qf->hold_reason = qfile_dup(l, "hold");
		return 0;
	}
	r = qfile_rcpt_find(qf, (int) n);
	if (r == NULL)
		return -1;
	free(r->filter_action);
	free(r->folder);
	r->filter_action = qfile_dup(l, "action");
	r->folder = qfile_dup(l, "folder");
	return 0;
}

static int
qfile_add_result(struct qfile *qf, const struct attr_list *l)
{
	struct qfile_rcpt *r;
	long long n, when = 0;

	if (attr_get_int(l, "n", &n) != 1 || attr_get(l, "code") == NULL)
		return -1;
	r = qfile_rcpt_find(qf, (int) n);
	if (r == NULL)
		return -1;
	(void) attr_get_int(l, "time", &when);
	free(r->last_code);
	free(r->last_dsn);
	free(r->last_text);
	r->last_code = qfile_dup(l, "code");
	r->last_dsn = qfile_dup(l, "dsn");
	r->last_text = qfile_dup(l, "text");
	r->last_time = when;
	r->attempts++;
	return 0;
}

static int
qfile_add_prepend(struct qfile *qf, const struct attr_list *l)
{
	const char *text = attr_get(l, "text");

	if (text == NULL || !qfile_header_field_valid(text) ||
	    qf->prepend_count >= QFILE_PREPEND_MAX)
		return -1;
	qf->prepend = xreallocarray(qf->prepend, qf->prepend_count + 1,
	    sizeof(*qf->prepend));
	qf->prepend[qf->prepend_count++] = xstrdup(text);
	qf->prepend_size += (long long) strlen(text) + 2;
	return 0;
}

static int
qfile_state_ok(char c, const char *allowed)
{
	return c != '\0' && strchr(allowed, c) != NULL;
}

int
qfile_read(const char *path, struct qfile **qf_r, int *damaged_r,
	char **error_r)
{
	struct qfile_reader r = { 0 };
	struct attr_list *l = attr_list_new(64, QFILE_RECORD_MAX);
	struct qfile *qf = xcalloc(1, sizeof(*qf));
	const char *line, *why = NULL;
	const char *ret;
	size_t len, alloc = 0;
	off_t offset;
	struct stat st;
	uint32_t crc = 0;
	unsigned int want;
	long long v;
	int got;

	*damaged_r = 0;
	r.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r.fd < 0 || fstat(r.fd, &st) < 0) {
		got = errno;	/* the caller tells ENOENT from EMFILE */
		*error_r = xasprintf("open %s: %s", path, strerror(errno));
		if (r.fd >= 0)
			close(r.fd);
		attr_list_free(&l);
		qfile_free(&qf);
		errno = got;
		return -1;
	}
	qf->file_size = st.st_size;
	r.alloc = 65536;
	r.buf = xmalloc(r.alloc);
	got = qfile_next_line(&r, &line, &len, &offset);
	if (got != 1 || len + 1 != strlen(QFILE_MAGIC) ||
	    memcmp(line, QFILE_MAGIC, len) != 0) {
		why = "not a queue file (bad magic)";
		goto damaged;
	}
	got = qfile_next_line(&r, &line, &len, &offset);
	if (got != 1 || len != 3 || line[0] != 'S' || line[1] != ' ' ||
	    !qfile_state_ok(line[2], "NW")) {
		why = "bad state record";
		goto damaged;
	}
	qf->state = line[2];
	qf->state_offset = offset + 2;
	got = qfile_next_line(&r, &line, &len, &offset);
	if (got != 1 || len < 1 || line[0] != 'E' ||
	    qfile_parse_fields(l, line, len, 1) < 0 ||
	    attr_get(l, "id") == NULL || attr_get(l, "sender") == NULL ||
	    attr_get_int(l, "arrival", &v) != 1) {
		why = "bad envelope record";
		goto damaged;
	}
	qf->id = qfile_dup(l, "id");
	qf->arrival = v;
	qf->sender = qfile_dup(l, "sender");
	qf->client_addr = qfile_dup(l, "client_addr");
	qf->client_helo = qfile_dup(l, "client_helo");
	qf->protocol = qfile_dup(l, "protocol");
	qf->auth_user = qfile_dup(l, "auth_user");
	qf->envid = qfile_dup(l, "envid");
	ret = attr_get(l, "ret");
	qf->ret = ret == NULL ? QFILE_RET_DEFAULT :
	    strcmp(ret, "FULL") == 0 ? QFILE_RET_FULL : QFILE_RET_HDRS;
	qf->body_8bit = attr_get(l, "body") != NULL;
	qf->smtputf8 = attr_get(l, "smtputf8") != NULL;
	qf->origin = qfile_dup(l, "origin");
	/* Recipients up to the message. */
	for (;;) {
		got = qfile_next_line(&r, &line, &len, &offset);
		if (got != 1) {
			why = "truncated before the message";
			goto damaged;
		}
		if (len >= 3 && line[0] == 'R' && line[1] == ' ') {
			if (!qfile_state_ok(line[2], "PDFBX") ||
			    qfile_parse_fields(l, line, len, 3) < 0 ||
			    qfile_add_rcpt(qf, l, line[2], offset + 2,
			    &alloc) < 0) {
				why = "bad recipient record";
				goto damaged;
			}
			continue;
		}
		if (len >= 1 && line[0] == 'M')
			break;
		why = "unknown record";
		goto damaged;
	}
	if (qfile_parse_fields(l, line, len, 1) < 0 ||
	    attr_get_int(l, "size", &v) != 1 || v < 0 ||
	    v > (long long) st.st_size) {
		why = "bad message size record";
		goto damaged;
	}
	qf->message_size = v;
	qf->message_offset = r.offset;
	if (qfile_skip(&r, v, &crc) < 0) {
		why = "message truncated";
		goto damaged;
	}
	got = qfile_next_line(&r, &line, &len, &offset);
	if (got != 1 || len != 14 || memcmp(line, "Z\tcrc=", 6) != 0 ||
	    sscanf(line + 6, "%8x", &want) != 1) {
		why = "end marker missing";
		goto damaged;
	}
	if (want != crc) {
		why = "message checksum mismatch";
		goto damaged;
	}
	/* Records appended by qmgr; an unfinished last line is ignored. */
	while ((got = qfile_next_line(&r, &line, &len, &offset)) == 1) {
		if (len >= 3 && line[0] == 'R' && line[1] == ' ') {
			if (!qfile_state_ok(line[2], "PDFBX") ||
			    qfile_parse_fields(l, line, len, 3) < 0 ||
			    qfile_add_rcpt(qf, l, line[2], offset + 2,
			    &alloc) < 0) {
				why = "bad appended recipient record";
				goto damaged;
			}
		} else if (len >= 1 && line[0] == 'H') {
			if (qfile_parse_fields(l, line, len, 1) < 0 ||
			    qfile_add_prepend(qf, l) < 0) {
				why = "bad added header record";
				goto damaged;
			}
		} else if (len >= 1 && line[0] == 'L') {
			if (qfile_parse_fields(l, line, len, 1) < 0 ||
			    qfile_add_result(qf, l) < 0) {
				why = "bad result record";
				goto damaged;
			}
		} else if (len >= 1 && line[0] == 'F') {
			if (qfile_parse_fields(l, line, len, 1) < 0 ||
			    qfile_add_filter(qf, l) < 0) {
				why = "bad filter record";
				goto damaged;
			}
		} else if (len >= 1 && line[0] == 'A') {
			qf->archived = 1;	/* qmgr archived it */
		} else {
			why = "unknown appended record";
			goto damaged;
		}
	}
	if (got < 0) {
		why = "read error or over-long record";
		goto damaged;
	}
	if (qf->rcpt_count == 0) {
		why = "no recipients";
		goto damaged;
	}
	close(r.fd);
	free(r.buf);
	attr_list_free(&l);
	*qf_r = qf;
	return 0;
damaged:
	*damaged_r = 1;
	*error_r = xasprintf("%s: damaged queue file: %s", path, why);
	close(r.fd);
	free(r.buf);
	attr_list_free(&l);
	qfile_free(&qf);
	return -1;
}

void
qfile_free(struct qfile **qfp)
{
	struct qfile *qf = *qfp;
	size_t i;

	if (qf == NULL)
		return;
	for (i = 0; i < qf->rcpt_count; i++) {
		free(qf->rcpts[i].address);
		free(qf->rcpts[i].orcpt);
		free(qf->rcpts[i].last_code);
		free(qf->rcpts[i].last_dsn);
		free(qf->rcpts[i].last_text);
		free(qf->rcpts[i].filter_action);
		free(qf->rcpts[i].folder);
	}
	free(qf->rcpts);
	for (i = 0; i < qf->prepend_count; i++)
		free(qf->prepend[i]);
	free(qf->prepend);
	free(qf->hold_reason);
	free(qf->id);
	free(qf->sender);
	free(qf->client_addr);
	free(qf->client_helo);
	free(qf->protocol);
	free(qf->auth_user);
	free(qf->envid);
	free(qf->origin);
	free(qf);
	*qfp = NULL;
}

struct qfile_rcpt *
qfile_rcpt_find(struct qfile *qf, int n)
{
	size_t i;

	for (i = 0; i < qf->rcpt_count; i++) {
		if (qf->rcpts[i].n == n)
			return &qf->rcpts[i];
	}
	return NULL;
}

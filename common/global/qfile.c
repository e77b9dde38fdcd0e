/*
 * qfile: writing queue files, ids and paths; see qfile.h and
 * ispmail-queue(5).  Reading is in qfile_read.c.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
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
/* The M record's size field is this wide so it can be filled in later. */
#define QFILE_SIZE_WIDTH 13
#define QFILE_WBUF 65536

struct qfile_writer {
	char *queue_dir;
	char *tmp_path;
	int anonymous;		/* O_TMPFILE: no name until committed */
	char *id;
	int fd;
	off_t size_offset;	/* the M record's digits */
	off_t offset;		/* bytes written so far */
	long long message_size;
	uint32_t crc;		/* of the message bytes up to crc_pending */
	size_t crc_pending;	/* message bytes at the buffer's end, not in crc */
	off_t *rcpt_offsets;	/* each envelope recipient's state byte */
	size_t rcpt_count;
	struct buf *trailer;	/* F records after the end marker */
	char **prepend;		/* header fields for above the message */
	size_t prepend_count;
	size_t wlen;
	char wbuf[QFILE_WBUF];
};

static const char qfile_b62[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/*
 * CRC-32 (IEEE 802.3), slicing-by-8: eight tables built on first use,
 * eight bytes per step (a byte-at-a-time loop cost 7% of smtpd's CPU).
 */
static uint32_t qfile_crc_table[8][256];

static void
qfile_crc_init(void)
{
	uint32_t c;
	size_t i, t;
	int k;

	for (i = 0; i < 256; i++) {
		c = (uint32_t) i;
		for (k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320U ^ (c >> 1) : c >> 1;
		qfile_crc_table[0][i] = c;
	}
	for (i = 0; i < 256; i++) {
		c = qfile_crc_table[0][i];
		for (t = 1; t < 8; t++) {
			c = qfile_crc_table[0][c & 0xff] ^ (c >> 8);
			qfile_crc_table[t][i] = c;
		}
	}
}

uint32_t
qfile_crc32(uint32_t crc, const void *data, size_t len)
{
	const unsigned char *p = data;
	uint32_t lo, hi;

	if (qfile_crc_table[0][1] == 0)
		qfile_crc_init();
	crc = ~crc;
	while (len >= 8) {
		lo = crc ^ ((uint32_t) p[0] | (uint32_t) p[1] << 8 |
		    (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24);
		hi = (uint32_t) p[4] | (uint32_t) p[5] << 8 |
		    (uint32_t) p[6] << 16 | (uint32_t) p[7] << 24;
		crc = qfile_crc_table[7][lo & 0xff] ^
		    qfile_crc_table[6][(lo >> 8) & 0xff] ^
		    qfile_crc_table[5][(lo >> 16) & 0xff] ^
		    qfile_crc_table[4][lo >> 24] ^
		    qfile_crc_table[3][hi & 0xff] ^
		    qfile_crc_table[2][(hi >> 8) & 0xff] ^
		    qfile_crc_table[1][(hi >> 16) & 0xff] ^
		    qfile_crc_table[0][hi >> 24];
		p += 8;
		len -= 8;
	}
	while (len-- > 0)
		crc = qfile_crc_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* Append value in base 62, at least width digits. */
static void
qfile_b62_append(struct buf *b, unsigned long long value, int width)
{
	char digits[16];
	int n = 0;

	do {
		digits[n++] = qfile_b62[value % 62];
		value /= 62;
	} while (value > 0 && n < (int) sizeof(digits));
	while (n < width && n < (int) sizeof(digits))
		digits[n++] = '0';
	while (n > 0)
		(void) buf_append_char(b, digits[--n]);
}

int
qfile_id_valid(const char *text)
{
	size_t len = strlen(text);

	return len >= 10 && len <= 24 && strspn(text, qfile_b62) == len;
}

long long
qfile_id_time(const char *id)
{
	long long t = 0;
	const char *digit;
	int i;

	if (!qfile_id_valid(id))
		return -1;
	for (i = 0; i < 6; i++) {
		digit = strchr(qfile_b62, id[i]);
		t = t * 62 + (digit - qfile_b62);
	}
	return t;
}

char *
qfile_dir(const char *queue_dir, const char *subdir, const char *id,
	int create)
{
	size_t len = strlen(id);
	char *top = xasprintf("%s/%s", queue_dir, subdir);
	char *dir;

	/* Hash on the last characters: they change fastest. */
	if (var_queue_hash_depth >= 1 && len >= 2) {
		dir = xasprintf("%s/%c", top, id[len - 1]);
		free(top);
		top = dir;
		if (create && mkdir(top, 0700) < 0 && errno != EEXIST)
			log_warn("mkdir %s: %s", top, strerror(errno));
	}
	if (var_queue_hash_depth >= 2 && len >= 2) {
		dir = xasprintf("%s/%c", top, id[len - 2]);
		free(top);
		top = dir;
		if (create && mkdir(top, 0700) < 0 && errno != EEXIST)
			log_warn("mkdir %s: %s", top, strerror(errno));
	}
	return top;
}

char *
qfile_path(const char *queue_dir, const char *subdir, const char *id)
{
	char *dir = qfile_dir(queue_dir, subdir, id, 0);
	char *path = xasprintf("%s/%s", dir, id);

	free(dir);
	return path;
}

static int qfile_writer_open(struct qfile_writer *w, char **error_r);

/*
 * Take the message bytes still in the buffer into the CRC.  It is taken
 * only when the buffer goes to the file or the end marker is written: a
 * message smtpd's direct delivery hands to lmtpd from the buffer is
 * never committed, and its CRC would be work for nothing.
 */
static void
qfile_crc_catch_up(struct qfile_writer *w)
{
	if (w->crc_pending == 0)
		return;
	w->crc = qfile_crc32(w->crc, w->wbuf + w->wlen - w->crc_pending,
	    w->crc_pending);
	w->crc_pending = 0;
}

/* Write out the buffer, creating the file first if need be. */
static int
qfile_wflush(struct qfile_writer *w, char **error_r)
{
	qfile_crc_catch_up(w);
	if (w->fd < 0 && qfile_writer_open(w, error_r) < 0)
		return -1;
	if (fileio_write_all(w->fd, w->wbuf, w->wlen, w->tmp_path,
	    error_r) < 0)
		return -1;
	w->wlen = 0;
	return 0;
}

/* Append to the buffer; message bytes (is_message) count for the CRC. */
static int
qfile_wwrite_part(struct qfile_writer *w, const void *data, size_t len,
	int is_message, char **error_r)
{
	const char *p = data;
	size_t chunk;

	while (len > 0) {
		if (w->wlen == sizeof(w->wbuf) && qfile_wflush(w, error_r) < 0)
			return -1;
		chunk = sizeof(w->wbuf) - w->wlen;
		if (chunk > len)
			chunk = len;
		memcpy(w->wbuf + w->wlen, p, chunk);
		w->wlen += chunk;
		w->offset += (off_t) chunk;
		if (is_message)
			w->crc_pending += chunk;
		p += chunk;
		len -= chunk;
	}
	return 0;
}

static int
qfile_wwrite(struct qfile_writer *w, const void *data, size_t len,
	char **error_r)
{
	/* Records end the message's run of bytes: take it into the CRC. */
	qfile_crc_catch_up(w);
	return qfile_wwrite_part(w, data, len, 0, error_r);
}

/* 1: O_TMPFILE files can be given a name here; 0: no; -1: not known. */
static int qfile_tmpfile_ok = -1;

/* Give the file of w the name path (never replacing one). */
static int
qfile_link(const struct qfile_writer *w, const char *path)
{
	char proc[64];

	if (!w->anonymous)
		return link(w->tmp_path, path);
	/* /proc/self/fd needs no privilege, unlike AT_EMPTY_PATH. */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", w->fd);
	return linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW);
}

/*
 * Once per process: can an unnamed file be linked in this environment
 * (kernel, file system, /proc mounted even in a chroot)?  Decided by
 * trying with a throw-away name, so a commit never finds out too late.
 */
static void
qfile_tmpfile_probe(struct qfile_writer *w)
{
	char *probe = xasprintf("%s/probe.%ld", w->tmp_path, (long) getpid());

	w->anonymous = 1;
	(void) unlink(probe);
	qfile_tmpfile_ok = qfile_link(w, probe) == 0;
	(void) unlink(probe);
	w->anonymous = 0;
	free(probe);
	if (!qfile_tmpfile_ok) {
		/* This descriptor has a name now? No: the link failed. */
		close(w->fd);
		w->fd = -1;
	} else {
		/* The probe gave the file a name; start with a fresh one. */
		close(w->fd);
		w->fd = open(w->tmp_path, O_TMPFILE | O_RDWR | O_CLOEXEC,
		    0600);
	}
}

/*
 * Create the file of w (an unnamed one in tmp/ when the system allows,
 * else a named one there).  0, or -1 with *error_r.
 */
static int
qfile_writer_open(struct qfile_writer *w, char **error_r)
{
	static unsigned int counter;

	/*
	 * An unnamed file (O_TMPFILE) needs no directory entry in tmp/ and no
	 * unlink after the commit: twenty smtpd processes creating and
	 * removing names in one directory serialised on its lock.
	 */
	if (qfile_tmpfile_ok != 0) {
		w->tmp_path = xasprintf("%s/%s", w->queue_dir, QFILE_TMP);
		w->fd = open(w->tmp_path, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		if (w->fd >= 0 && qfile_tmpfile_ok < 0)
			qfile_tmpfile_probe(w);
		if (w->fd >= 0) {
			w->anonymous = 1;
		} else {
			qfile_tmpfile_ok = 0;
			free(w->tmp_path);
		}
	}
	if (w->fd < 0) {
		w->tmp_path = xasprintf("%s/%s/%ld.%u", w->queue_dir,
		    QFILE_TMP, (long) getpid(), ++counter);
		w->fd = open(w->tmp_path, O_RDWR | O_CREAT | O_EXCL |
		    O_CLOEXEC, 0600);
	}
	if (w->fd < 0) {
		*error_r = xasprintf("create %s: %s", w->tmp_path,
		    strerror(errno));
		free(w->tmp_path);
		w->tmp_path = NULL;
		return -1;
	}
	return 0;
}

/*
 * The queue id: arrival time (6 digits, sorts by arrival), microseconds
 * (4), then pid * 3844 + microseconds % 3844, so the last two digits
 * (the hash directories) change as fast as the microseconds.  No other
 * live process has this pid, and this process's times strictly increase
 * (a clock that steps back does not repeat one): no two writers get the
 * same id.  The pid is read from the decoded value, so it is unique.
 */
static char *
qfile_new_id(void)
{
	static struct timeval last;
	struct timeval tv;
	unsigned long long pid = (unsigned long long) log_pid();
	struct buf *id;
	char *text;

	gettimeofday(&tv, NULL);
	if (tv.tv_sec < last.tv_sec || (tv.tv_sec == last.tv_sec &&
	    tv.tv_usec <= last.tv_usec)) {
		tv = last;
		if (++tv.tv_usec >= 1000000) {
			tv.tv_usec = 0;
			tv.tv_sec++;
		}
	}
	last = tv;
	id = buf_new(64);
	qfile_b62_append(id, (unsigned long long) tv.tv_sec, 6);
	qfile_b62_append(id, (unsigned long long) tv.tv_usec, 4);
	qfile_b62_append(id, pid * 3844 +
	    (unsigned long long) tv.tv_usec % 3844, 2);
	text = buf_strdup(id);
	buf_free(&id);
	return text;
}

/*
 * The last writer freed, kept for the next message: a 64 KiB block
 * freed and allocated again per message made malloc consolidate its
 * free lists and give pages back to the kernel every time.  Not under
 * AddressSanitizer, so a stale pointer into a freed writer is reported
 * there instead of reading the next message.
 */
#if defined(__SANITIZE_ADDRESS__)
#define QFILE_NO_SPARE 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define QFILE_NO_SPARE 1
#endif
#endif
static struct qfile_writer *qfile_writer_spare;

struct qfile_writer *
qfile_writer_new(const char *queue_dir, char **error_r)
{
	struct qfile_writer *w;

	(void) error_r;
	w = qfile_writer_spare != NULL ? qfile_writer_spare :
	    xmalloc(sizeof(*w));
	qfile_writer_spare = NULL;
	/* Not the write buffer: it is written before it is read. */
	memset(w, 0, offsetof(struct qfile_writer, wbuf));
	w->queue_dir = xstrdup(queue_dir);
	w->fd = -1;
	/*
	 * The file is created when the buffer first goes out: a message
	 * smtpd delivers directly before it overflows never has one.
	 */
	w->id = qfile_new_id();
	return w;
}

const char *
qfile_writer_id(const struct qfile_writer *w)
{
	return w->id;
}

/* Put name=value as a record field: TAB, then the escaped pair. */
static int
qfile_field(struct buf *out, const char *name, const char *value)
{
	size_t len;

	if (value == NULL)
		return 0;
	if (buf_append_char(out, '\t') < 0 || attr_put(out, name, value) < 0)
		return -1;
	/* attr_put ends the pair with LF; a record continues on the line. */
	len = buf_len(out);
	buf_truncate(out, len - 1);
	return 0;
}

static int
qfile_field_int(struct buf *out, const char *name, long long value)
{
	char text[32];

	snprintf(text, sizeof(text), "%lld", value);
	return qfile_field(out, name, text);
}

int
qfile_record_rcpt(struct buf *out, const struct qfile_rcpt *r)
{
	size_t start = buf_len(out);

	if (buf_printf(out, "R %c", r->state != 0 ? r->state :
	    QFILE_RCPT_PENDING) < 0 ||
	    qfile_field_int(out, "n", r->n) < 0 ||
	    (r->parent >= 0 && qfile_field_int(out, "parent", r->parent) < 0) ||
	    qfile_field(out, "addr", r->address) < 0 ||
	    qfile_field(out, "orcpt", r->orcpt) < 0 ||
	    (r->notify != 0 && qfile_field(out, "notify",
	    qfile_notify_text(r->notify)) < 0) ||
	    buf_append_char(out, '\n') < 0) {
		buf_truncate(out, start);
		return -1;
	}
	return 0;
}

int
qfile_record_filter(struct buf *out, int n, const char *action,
	const char *folder)
{
	size_t start = buf_len(out);

	if (buf_append_char(out, 'F') < 0 ||
	    (n >= 0 && (qfile_field_int(out, "n", n) < 0 ||
	    qfile_field(out, "action", action) < 0 ||
	    qfile_field(out, "folder", folder) < 0)) ||
	    (n < 0 && qfile_field(out, "hold", action) < 0) ||
	    buf_append_char(out, '\n') < 0) {
		buf_truncate(out, start);
		return -1;
	}
	return 0;
}

const char *
qfile_rcpt_folder(struct qfile *qf, const struct qfile_rcpt *r)
{
	size_t depth;

	/* Expansions inherit the decision made for what they expand. */
	for (depth = 0; r != NULL && depth <= qf->rcpt_count; depth++) {
		if (r->folder != NULL)
			return r->folder;
		if (r->parent < 0)
			return NULL;
		r = qfile_rcpt_find(qf, r->parent);
	}
	return NULL;
}

int
qfile_record_result(struct buf *out, int n, const char *code,
	const char *dsn, const char *text, long long when)
{
	return qfile_record_note(out, 'L', n, code, dsn, text, when);
}

int
qfile_record_note(struct buf *out, char kind, int n, const char *code,
	const char *dsn, const char *text, long long when)
{
	size_t start = buf_len(out);

	if (buf_append_char(out, kind) < 0 ||
	    qfile_field_int(out, "n", n) < 0 ||
	    qfile_field(out, "code", code) < 0 ||
	    qfile_field(out, "dsn", dsn) < 0 ||
	    qfile_field(out, "text", text) < 0 ||
	    qfile_field_int(out, "time", when) < 0 ||
	    buf_append_char(out, '\n') < 0) {
		buf_truncate(out, start);
		return -1;
	}
	return 0;
}

int
qfile_writer_envelope(struct qfile_writer *w, const struct qfile *env,
	char **error_r)
{
	struct buf *rec = buf_new(16 * 1024 * 1024);
	struct qfile_rcpt r;
	size_t i;
	int ret = -1;

	(void) buf_append_str(rec, QFILE_MAGIC);
	(void) buf_printf(rec, "S %c\n", QFILE_MSG_NEW);
	if (buf_append_char(rec, 'E') < 0 ||
	    qfile_field(rec, "id", w->id) < 0 ||
	    qfile_field_int(rec, "arrival", env->arrival) < 0 ||
	    qfile_field(rec, "sender", env->sender) < 0 ||
	    qfile_field(rec, "client_addr", env->client_addr) < 0 ||
	    qfile_field(rec, "client_helo", env->client_helo) < 0 ||
	    qfile_field(rec, "protocol", env->protocol) < 0 ||
	    qfile_field(rec, "auth_user", env->auth_user) < 0 ||
	    qfile_field(rec, "envid", env->envid) < 0 ||
	    (env->ret != QFILE_RET_DEFAULT && qfile_field(rec, "ret",
	    env->ret == QFILE_RET_FULL ? "FULL" : "HDRS") < 0) ||
	    (env->body_8bit && qfile_field(rec, "body", "8BITMIME") < 0) ||
	    (env->smtputf8 && qfile_field(rec, "smtputf8", "1") < 0) ||
	    qfile_field(rec, "origin", env->origin) < 0 ||
	    buf_append_char(rec, '\n') < 0)
		goto toolong;
	free(w->rcpt_offsets);
	w->rcpt_offsets = xreallocarray(NULL, env->rcpt_count + 1,
	    sizeof(off_t));
	w->rcpt_count = env->rcpt_count;
	for (i = 0; i < env->rcpt_count; i++) {
		r = env->rcpts[i];
		r.n = (int) i;
		r.parent = -1;
		r.state = QFILE_RCPT_PENDING;
		/* "R P\t...": the state is the record's third byte. */
		w->rcpt_offsets[i] = w->offset + (off_t) buf_len(rec) + 2;
		if (qfile_record_rcpt(rec, &r) < 0)
			goto toolong;
	}
	if (buf_printf(rec, "M\tsize=") < 0)
		goto toolong;
	w->size_offset = w->offset + (off_t) buf_len(rec);
	if (buf_printf(rec, "%0*d\n", QFILE_SIZE_WIDTH, 0) < 0)
		goto toolong;
	ret = qfile_wwrite(w, buf_cstr(rec), buf_len(rec), error_r);
	buf_free(&rec);
	return ret;
toolong:
	*error_r = xasprintf("envelope too large");
	buf_free(&rec);
	return -1;
}

int
qfile_writer_message(struct qfile_writer *w, const void *data, size_t len,
	char **error_r)
{
	w->message_size += (long long) len;
	return qfile_wwrite_part(w, data, len, 1, error_r);
}


static void
qfile_writer_free(struct qfile_writer *w)
{
	size_t i;

	if (w->fd >= 0)
		close(w->fd);
	free(w->queue_dir);
	free(w->tmp_path);
	free(w->id);
	free(w->rcpt_offsets);
	buf_free(&w->trailer);
	for (i = 0; i < w->prepend_count; i++)
		free(w->prepend[i]);
	free(w->prepend);
#ifndef QFILE_NO_SPARE
	if (qfile_writer_spare == NULL) {
		qfile_writer_spare = w;
		return;
	}
#endif
	free(w);
}

int
qfile_writer_trailer(struct qfile_writer *w, const struct buf *rec,
	char **error_r)
{
	if (w->trailer == NULL)
		w->trailer = buf_new(QFILE_RECORD_MAX);
	if (buf_append(w->trailer, buf_cstr(rec), buf_len(rec)) < 0) {
		*error_r = xasprintf("filter records too long");
		return -1;
	}
	return 0;
}

int
qfile_writer_flush(struct qfile_writer *w, char **error_r)
{
	return qfile_wflush(w, error_r);
}

int
qfile_writer_fd(const struct qfile_writer *w)
{
	return w->fd;
}

const char *
qfile_writer_buffered_message(const struct qfile_writer *w)
{
	if (w->fd >= 0)
		return NULL;
	return w->wbuf + qfile_writer_message_offset(w);
}

off_t
qfile_writer_message_offset(const struct qfile_writer *w)
{
	return w->size_offset + QFILE_SIZE_WIDTH + 1;
}

long long
qfile_writer_message_size(const struct qfile_writer *w)
{
	return w->message_size;
}

int
qfile_writer_rcpt_done(struct qfile_writer *w, size_t i, char **error_r)
{
	if (i >= w->rcpt_count) {
		*error_r = xasprintf("no recipient %zu", i);
		return -1;
	}
	if (w->fd < 0) {
		/* No file yet: the whole file is still in the buffer. */
		w->wbuf[w->rcpt_offsets[i]] = QFILE_RCPT_DONE;
		return 0;
	}
	/* The record may still sit in the write buffer. */
	if (qfile_wflush(w, error_r) < 0)
		return -1;
	return qfile_set_state(w->fd, w->rcpt_offsets[i], QFILE_RCPT_DONE,
	    error_r);
}

int
qfile_header_field_valid(const char *field)
{
	const unsigned char *p = (const unsigned char *) field;
	size_t name = 0;

	if (strlen(field) > QFILE_PREPEND_FIELD_MAX || *p == '.')
		return 0;
	/* RFC 5322 field name: printable ASCII but ':', then ':'. */
	for (; *p != ':'; p++, name++)
		if (*p < 33 || *p > 126)
			return 0;
	if (name == 0)
		return 0;
	for (p++; *p != '\0'; p++) {
		if (*p == '\r') {
			/* Only folding: CRLF then a space or tab. */
			if (p[1] != '\n' || (p[2] != ' ' && p[2] != '\t'))
				return 0;
			p++;
			continue;
		}
		if ((*p < 32 && *p != '\t') || *p == 127)
			return 0;
	}
	return 1;
}

int
qfile_writer_prepend_header(struct qfile_writer *w, const char *field,
	char **error_r)
{
	if (!qfile_header_field_valid(field)) {
		*error_r = xstrdup("malformed header field");
		return -1;
	}
	if (w->prepend_count >= QFILE_PREPEND_MAX) {
		*error_r = xasprintf("more than %d added header fields",
		    QFILE_PREPEND_MAX);
		return -1;
	}
	w->prepend = xreallocarray(w->prepend, w->prepend_count + 1,
	    sizeof(*w->prepend));
	w->prepend[w->prepend_count++] = xstrdup(field);
	return 0;
}

char *const *
qfile_writer_prepended(const struct qfile_writer *w, size_t *count_r)
{
	*count_r = w->prepend_count;
	return w->prepend;
}

/* The H records, right after the end marker (ispmail-queue(5)). */
static int
qfile_write_prepended(struct qfile_writer *w, char **error_r)
{
	struct buf *rec = buf_new(QFILE_RECORD_MAX);
	size_t i;
	int ret = 0;

	for (i = 0; i < w->prepend_count && ret == 0; i++) {
		buf_reset(rec);
		(void) buf_append_str(rec, "H");
		(void) qfile_field(rec, "text", w->prepend[i]);
		(void) buf_append_str(rec, "\n");
		ret = qfile_wwrite(w, buf_cstr(rec), buf_len(rec), error_r);
	}
	buf_free(&rec);
	return ret;
}

int
qfile_writer_commit(struct qfile_writer **wp, const char *subdir,
	char **error_r)
{
	struct qfile_writer *w = *wp;
	char digits[QFILE_SIZE_WIDTH + 1];
	char trailer[32];
	char *dir = NULL, *path = NULL;
	int ret = -1, n, buffered;

	*wp = NULL;
	qfile_crc_catch_up(w);
	n = snprintf(trailer, sizeof(trailer), "Z\tcrc=%08x\n",
	    (unsigned int) w->crc);
	if (qfile_wwrite(w, trailer, (size_t) n, error_r) < 0 ||
	    (w->trailer != NULL && qfile_wwrite(w, buf_cstr(w->trailer),
	    buf_len(w->trailer), error_r) < 0) ||
	    qfile_write_prepended(w, error_r) < 0)
		goto out;
	snprintf(digits, sizeof(digits), "%0*lld", QFILE_SIZE_WIDTH,
	    w->message_size);
	/*
	 * The size digits: into the buffer while they are all still there
	 * (a message that fits it is one write), else into the file.
	 */
	buffered = w->size_offset >= w->offset - (off_t) w->wlen;
	if (buffered)
		memcpy(w->wbuf + (w->size_offset - (w->offset -
		    (off_t) w->wlen)), digits, QFILE_SIZE_WIDTH);
	if (qfile_wflush(w, error_r) < 0)
		goto out;
	if (!buffered && pwrite(w->fd, digits, QFILE_SIZE_WIDTH,
	    w->size_offset) != QFILE_SIZE_WIDTH) {
		*error_r = xasprintf("write %s: %s", w->tmp_path,
		    strerror(errno));
		goto out;
	}
	/* One journal commit for data, inode and name (fileio.h). */
	if (fileio_durable_prepare(w->fd, w->tmp_path, error_r) < 0)
		goto out;
	/*
	 * The hash directories exist after the first message: made only
	 * when the link says one is missing (a mkdir per message took the
	 * parent directory's lock every time).
	 */
	dir = qfile_dir(w->queue_dir, subdir, w->id, 0);
	path = xasprintf("%s/%s", dir, w->id);
	/* link(2) never replaces a file that might hold another message. */
	n = qfile_link(w, path);
	if (n < 0 && errno == ENOENT) {
		free(dir);
		dir = qfile_dir(w->queue_dir, subdir, w->id, 1);
		n = qfile_link(w, path);
	}
	if (n < 0) {
		*error_r = xasprintf("link %s: %s", path, strerror(errno));
		goto out;
	}
	if (fileio_durable_commit(w->fd, path, dir, error_r) < 0) {
		n = errno;
		(void) unlink(path);
		errno = n;
		goto out;
	}
	ret = 0;
out:
	n = errno;	/* the caller tells ENOSPC from other failures */
	if (w->tmp_path != NULL && !w->anonymous)
		(void) unlink(w->tmp_path);
	free(dir);
	free(path);
	qfile_writer_free(w);
	errno = n;
	return ret;
}

void
qfile_writer_abort(struct qfile_writer **wp)
{
	struct qfile_writer *w = *wp;

	if (w == NULL)
		return;
	/* An unnamed file vanishes with its descriptor; none: nothing. */
	if (w->tmp_path != NULL && !w->anonymous)
		(void) unlink(w->tmp_path);
	qfile_writer_free(w);
	*wp = NULL;
}

int
qfile_notify_parse(const char *text)
{
	const char *p = text, *end;
	int bits = 0;
	size_t len;

	while (*p != '\0') {
		end = strchr(p, ',');
		len = end != NULL ? (size_t) (end - p) : strlen(p);
		if (len == 5 && strncasecmp(p, "NEVER", 5) == 0)
			bits |= QFILE_NOTIFY_NEVER;
		else if (len == 7 && strncasecmp(p, "SUCCESS", 7) == 0)
			bits |= QFILE_NOTIFY_SUCCESS;
		else if (len == 7 && strncasecmp(p, "FAILURE", 7) == 0)
			bits |= QFILE_NOTIFY_FAILURE;
		else if (len == 5 && strncasecmp(p, "DELAY", 5) == 0)
			bits |= QFILE_NOTIFY_DELAY;
		else
			return -1;
		p += len;
		if (*p == ',') {
			p++;
			if (*p == '\0')
				return -1;
		}
	}
	/* NEVER excludes the others (RFC 3461 4.1). */
	if (bits == 0 || ((bits & QFILE_NOTIFY_NEVER) &&
	    bits != QFILE_NOTIFY_NEVER))
		return -1;
	return bits;
}

const char *
qfile_notify_text(int notify)
{
	static const char *const names[] = { "SUCCESS", "FAILURE", "DELAY" };
	static const int bits[] = { QFILE_NOTIFY_SUCCESS, QFILE_NOTIFY_FAILURE,
	    QFILE_NOTIFY_DELAY };
	static char text[32];
	size_t i, len = 0;

	if (notify & QFILE_NOTIFY_NEVER)
		return "NEVER";
	text[0] = '\0';
	for (i = 0; i < 3; i++) {
		if (notify & bits[i])
			len += (size_t) snprintf(text + len, sizeof(text) - len,
			    "%s%s", len > 0 ? "," : "", names[i]);
	}
	return text;
}

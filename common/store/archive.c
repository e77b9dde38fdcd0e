/* archive: append, seal and expire archive segments (ispmail-archive(5)). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "archive.h"
#include "attr.h"
#include "buf.h"
#include "fileio.h"
#include "log.h"
#include "mail_params.h"
#include "params.h"
#include "xalloc.h"

#define ARCHIVE_COPY_CHUNK (64 * 1024)
#define ARCHIVE_ZERO_HASH \
	"0000000000000000000000000000000000000000000000000000000000000000"
/* How long a writer waits for another one's lock. */
#define ARCHIVE_LOCK_WAIT_MS 10000
/* The most (queue id, digest) pairs remembered for duplicate checks. */
#define ARCHIVE_SEEN_MAX 1000000

/*
 * What a writer knows of one domain's newest segment, rebuilt from the
 * files whenever they changed under it (another writer).
 */
struct archive_state {
	char *domain;
	long long seg;		/* newest segment, 0: none yet */
	off_t size;		/* its length */
	ino_t ino;
	int sealed;
	long long opened;	/* time of its open record */
	long long messages;	/* message records in it */
	long long records;	/* records in it */
	long long last_n;	/* 0: empty archive */
	char last_hash[65];
	long long newest;	/* time of its newest record */
	/* "queue_id sha256" of the newest two segments' messages. */
	char **seen;
	size_t seen_count, seen_prev;	/* [0, seen_prev): older segment */
	struct archive_state *next;
};

static struct archive_state *states;

static void
archive_seen_add(struct archive_state *st, const char *queue_id,
	const char *sha256)
{
	if (st->seen_count >= ARCHIVE_SEEN_MAX)
		return;
	st->seen = xreallocarray(st->seen, st->seen_count + 1,
	    sizeof(char *));
	st->seen[st->seen_count++] = xasprintf("%s %s", queue_id, sha256);
}

static void
archive_seen_clear(struct archive_state *st)
{
	size_t i;

	for (i = 0; i < st->seen_count; i++)
		free(st->seen[i]);
	free(st->seen);
	st->seen = NULL;
	st->seen_count = st->seen_prev = 0;
}

/* A new segment begins: forget all but the one just closed. */
static void
archive_seen_rotate(struct archive_state *st)
{
	size_t i;

	for (i = 0; i < st->seen_prev; i++)
		free(st->seen[i]);
	if (st->seen_count > st->seen_prev)
		memmove(st->seen, st->seen + st->seen_prev,
		    (st->seen_count - st->seen_prev) * sizeof(char *));
	st->seen_count -= st->seen_prev;
	st->seen_prev = st->seen_count;
}

static int
archive_seen(const struct archive_state *st, const char *queue_id,
	const char *sha256)
{
	size_t i, qlen = strlen(queue_id);

	for (i = st->seen_count; i > 0; i--) {
		const char *s = st->seen[i - 1];

		if (strncmp(s, queue_id, qlen) == 0 && s[qlen] == ' ' &&
		    strcmp(s + qlen + 1, sha256) == 0)
			return 1;
	}
	return 0;
}

/* Read one segment into st (its chain end, counts, messages seen). */
static int
archive_state_scan(struct archive_state *st, long long seg, int newest,
	char **error_r)
{
	const struct archive_record *r;
	struct archive_reader *rd;
	char *path = archive_segment_path(st->domain, seg);
	struct stat sb;
	int rc;

	rd = archive_reader_open(path, error_r);
	free(path);
	if (rd == NULL)
		return -1;
	if (newest) {
		st->seg = seg;
		st->sealed = 0;
		st->messages = st->records = 0;
		st->opened = st->newest = 0;
	}
	while ((rc = archive_reader_next(rd, &r, error_r)) == 1) {
		if (strcmp(r->type, ARCHIVE_MESSAGE) == 0 &&
		    r->queue_id != NULL && r->sha256 != NULL)
			archive_seen_add(st, r->queue_id, r->sha256);
		if (!newest)
			continue;
		if (st->records == 0)
			st->opened = r->time;
		st->records++;
		if (strcmp(r->type, ARCHIVE_MESSAGE) == 0)
			st->messages++;
		st->sealed = strcmp(r->type, ARCHIVE_SEAL) == 0;
		st->last_n = r->n;
		st->newest = r->time;
		memcpy(st->last_hash, r->hash, sizeof(st->last_hash));
	}
	if (rc == 0 && newest && fstat(archive_reader_fd(rd), &sb) == 0) {
		st->size = sb.st_size;
		st->ino = sb.st_ino;
	}
	archive_reader_close(&rd);
	/* A damaged newest segment must not be extended: fix it first. */
	return rc;
}

/* st as the files say now (under the lock). */
static int
archive_state_load(struct archive_state *st, char **error_r)
{
	long long *segs = NULL;
	size_t count = 0;
	struct stat sb;
	char *path;
	int rc = 0;

	if (archive_list_segments(st->domain, &segs, &count, error_r) < 0)
		return -1;
	if (count > 0 && st->seg == segs[count - 1]) {
		path = archive_segment_path(st->domain, st->seg);
		rc = stat(path, &sb);
		free(path);
		if (rc == 0 && sb.st_size == st->size &&
		    sb.st_ino == st->ino) {
			free(segs);
			return 0;	/* nobody else wrote */
		}
	}
	archive_seen_clear(st);
	st->seg = 0;
	st->size = 0;
	st->sealed = 0;
	st->last_n = 0;
	memcpy(st->last_hash, ARCHIVE_ZERO_HASH, sizeof(st->last_hash));
	rc = 0;
	if (count > 1)
		rc = archive_state_scan(st, segs[count - 2], 0, error_r);
	st->seen_prev = st->seen_count;
	if (rc == 0 && count > 0)
		rc = archive_state_scan(st, segs[count - 1], 1, error_r);
	free(segs);
	if (rc < 0)
		st->seg = -1;	/* scan again next time */
	return rc;
}

static struct archive_state *
archive_state_get(const char *domain)
{
	struct archive_state *st;

	for (st = states; st != NULL; st = st->next)
		if (strcmp(st->domain, domain) == 0)
			return st;
	st = xcalloc(1, sizeof(*st));
	st->domain = xstrdup(domain);
	st->seg = -1;
	st->next = states;
	states = st;
	return st;
}

/* Create the domain's directory and take its lock; the lock's fd. */
static int
archive_lock(const char *domain, char **error_r)
{
	char *dir, *path;
	int fd, waited = 0;

	if (*var_archive_directory == '\0') {
		*error_r = xstrdup("archive_directory is not set");
		return -1;
	}
	if (!archive_domain_valid(domain)) {
		*error_r = xasprintf("bad archive domain name: %s", domain);
		return -1;
	}
	if (mkdir(var_archive_directory, 0700) < 0 && errno != EEXIST) {
		*error_r = xasprintf("mkdir %s: %s", var_archive_directory,
		    strerror(errno));
		return -1;
	}
	dir = xasprintf("%s/%s", var_archive_directory, domain);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		*error_r = xasprintf("mkdir %s: %s", dir, strerror(errno));
		free(dir);
		return -1;
	}
	path = xasprintf("%s/lock", dir);
	free(dir);
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		*error_r = xasprintf("open %s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	/* Writers hold it for one append: wait a little, never forever. */
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK || waited >= ARCHIVE_LOCK_WAIT_MS) {
			*error_r = xasprintf("lock %s: %s", path,
			    errno == EWOULDBLOCK ? "held by another writer" :
			    strerror(errno));
			free(path);
			close(fd);
			return -1;
		}
		usleep(10 * 1000);
		waited += 10;
	}
	free(path);
	return fd;
}

/*
 * Append one record to the open segment fd (at st->size): the common
 * fields, then extra (complete "name=value\n" lines), the empty line,
 * then size bytes of src at src_offset (src -1: none).  On failure the
 * file is cut back.  Not synced.
 */
static int
archive_write_record(struct archive_state *st, int fd, const char *type,
	struct buf *extra, const char *prefix, size_t prefix_len, int src,
	off_t src_offset, long long size, char **error_r)
{
	unsigned char digest[EVP_MAX_MD_SIZE], *chunk = NULL;
	unsigned int digest_len = 0;
	struct buf *head = buf_new(ARCHIVE_HEADER_MAX + 64);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	char frame[64], hash[65];
	long long now = (long long) time(NULL), left = size;
	off_t pos = st->size;
	ssize_t got;
	size_t hdr_start;
	int ok;

	if (now < st->newest)
		now = st->newest;	/* the clock went back: keep order */
	ok = attr_put(head, "type", type) == 0 &&
	    attr_put_int(head, "n", st->last_n + 1) == 0 &&
	    attr_put_int(head, "segment", st->seg) == 0 &&
	    attr_put(head, "prev", st->last_hash) == 0 &&
	    attr_put_int(head, "time", now) == 0 &&
	    (extra == NULL || buf_append(head, buf_data(extra),
	    buf_len(extra)) == 0) && attr_end(head) == 0;
	if (!ok) {
		*error_r = xstrdup("archive record header too long");
		goto fail;
	}
	/* The frame line goes in front of the header. */
	(void) snprintf(frame, sizeof(frame), "%s%lld\n", ARCHIVE_FRAME,
	    (long long) buf_len(head) + (long long) prefix_len + size);
	hdr_start = strlen(frame);
	{
		struct buf *all = buf_new(buf_len(head) + hdr_start + 1);

		(void) buf_append(all, frame, hdr_start);
		(void) buf_append(all, buf_data(head), buf_len(head));
		buf_free(&head);
		head = all;
	}
	ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, buf_data(head) + hdr_start,
	    buf_len(head) - hdr_start) == 1;
	if (!ok || pwrite(fd, buf_data(head), buf_len(head), pos) !=
	    (ssize_t) buf_len(head)) {
		*error_r = xasprintf("write archive segment of %s: %s",
		    st->domain, ok ? strerror(errno) : "OpenSSL failed");
		goto fail_cut;
	}
	pos += (off_t) buf_len(head);
	if (prefix_len > 0 && (EVP_DigestUpdate(ctx, prefix, prefix_len) != 1
	    || pwrite(fd, prefix, prefix_len, pos) != (ssize_t) prefix_len)) {
		*error_r = xasprintf("write archive segment of %s: %s",
		    st->domain, strerror(errno));
		goto fail_cut;
	}
	pos += (off_t) prefix_len;
	chunk = xmalloc(ARCHIVE_COPY_CHUNK);
	while (left > 0) {
		size_t want = left < ARCHIVE_COPY_CHUNK ? (size_t) left :
		    ARCHIVE_COPY_CHUNK;

		got = pread(src, chunk, want, src_offset);
		if (got <= 0) {
			*error_r = xasprintf("read queue file: %s", got < 0 ?
			    strerror(errno) : "short file");
			goto fail_cut;
		}
		if (EVP_DigestUpdate(ctx, chunk, (size_t) got) != 1 ||
		    pwrite(fd, chunk, (size_t) got, pos) != got) {
			*error_r = xasprintf("write archive segment of %s: %s",
			    st->domain, strerror(errno));
			goto fail_cut;
		}
		src_offset += got;
		pos += got;
		left -= got;
	}
	if (pwrite(fd, "\n", 1, pos) != 1 ||
	    EVP_DigestFinal_ex(ctx, digest, &digest_len) != 1) {
		*error_r = xasprintf("write archive segment of %s: %s",
		    st->domain, strerror(errno));
		goto fail_cut;
	}
	pos++;
	archive_hex(digest, digest_len < 32 ? digest_len : 32, hash);
	memcpy(st->last_hash, hash, sizeof(st->last_hash));
	st->last_n++;
	st->records++;
	if (st->records == 1)
		st->opened = now;
	st->newest = now;
	st->size = pos;
	free(chunk);
	buf_free(&head);
	EVP_MD_CTX_free(ctx);
	return 0;
fail_cut:
	if (ftruncate(fd, st->size) < 0)
		log_error("truncate archive segment of %s: %m", st->domain);
fail:
	free(chunk);
	buf_free(&head);
	EVP_MD_CTX_free(ctx);
	return -1;
}

static int
archive_sync(int fd, struct archive_state *st, char **error_r)
{
	if (fsync(fd) < 0) {
		*error_r = xasprintf("fsync archive segment of %s: %s",
		    st->domain, strerror(errno));
		return -1;
	}
	return 0;
}

/* Open the newest segment for appending (O_NOFOLLOW). */
static int
archive_open_segment(struct archive_state *st, char **error_r)
{
	char *path = archive_segment_path(st->domain, st->seg);
	int fd;

	fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		*error_r = xasprintf("open %s: %s", path, strerror(errno));
	free(path);
	return fd;
}

/* Begin segment st->seg + 1 with its open record; its fd, or -1. */
static int
archive_new_segment(struct archive_state *st, char **error_r)
{
	char *path, *dir;
	int fd;

	st->seg = st->seg < 1 ? 1 : st->seg + 1;
	path = archive_segment_path(st->domain, st->seg);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd < 0) {
		*error_r = xasprintf("create %s: %s", path, strerror(errno));
		free(path);
		st->seg = -1;
		return -1;
	}
	st->size = 0;
	st->records = st->messages = 0;
	st->sealed = 0;
	archive_seen_rotate(st);
	if (archive_write_record(st, fd, ARCHIVE_OPEN, NULL, NULL, 0, -1, 0, 0,
	    error_r) < 0 || archive_sync(fd, st, error_r) < 0) {
		(void) unlink(path);
		free(path);
		close(fd);
		st->seg = -1;
		return -1;
	}
	dir = xasprintf("%s/%s", var_archive_directory, st->domain);
	if (fileio_fsync_dir(dir, error_r) < 0) {
		free(dir);
		free(path);
		close(fd);
		st->seg = -1;
		return -1;
	}
	{
		struct stat sb;

		if (fstat(fd, &sb) == 0)
			st->ino = sb.st_ino;
	}
	log_info("archive %s: segment %lld begun", st->domain, st->seg);
	free(dir);
	free(path);
	return fd;
}

/* Seal the open segment fd: HMAC of its bytes so far, in a seal record. */
static int
archive_seal_segment(struct archive_state *st, int fd, char **error_r)
{
	struct archive_reader *rd;
	unsigned char *key = NULL;
	size_t key_len = 0;
	char hmac[65], key_id[17], *path;
	struct buf *extra;
	int rc;

	if (archive_key_read(&key, &key_len, error_r) < 0)
		return -1;
	path = archive_segment_path(st->domain, st->seg);
	rd = archive_reader_open(path, error_r);
	free(path);
	if (rd == NULL) {
		free(key);
		return -1;
	}
	rc = archive_reader_hmac(rd, key, key_len, st->size, hmac, error_r);
	archive_reader_close(&rd);
	archive_key_id(key, key_len, key_id);
	free(key);
	if (rc < 0)
		return -1;
	extra = buf_new(4096);
	(void) attr_put_int(extra, "records", st->records);
	(void) attr_put(extra, "key_id", key_id);
	(void) attr_put(extra, "hmac", hmac);
	rc = archive_write_record(st, fd, ARCHIVE_SEAL, extra, NULL, 0, -1, 0, 0,
	    error_r);
	buf_free(&extra);
	if (rc < 0 || archive_sync(fd, st, error_r) < 0)
		return -1;
	st->sealed = 1;
	log_info("archive %s: segment %lld sealed (%lld messages)",
	    st->domain, st->seg, st->messages);
	return 0;
}

/* Hex SHA-256 of size bytes of fd at offset. */
static int
archive_digest(const char *prefix, size_t prefix_len, int fd, off_t offset,
	long long size, char *hex_r, char **error_r)
{
	unsigned char digest[EVP_MAX_MD_SIZE], *chunk;
	unsigned int digest_len = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	ssize_t got = 1;
	int ok;

	chunk = xmalloc(ARCHIVE_COPY_CHUNK);
	ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	    (prefix_len == 0 || EVP_DigestUpdate(ctx, prefix, prefix_len) == 1);
	while (ok && size > 0) {
		got = pread(fd, chunk, size < ARCHIVE_COPY_CHUNK ?
		    (size_t) size : ARCHIVE_COPY_CHUNK, offset);
		if (got <= 0)
			break;
		ok = EVP_DigestUpdate(ctx, chunk, (size_t) got) == 1;
		offset += got;
		size -= got;
	}
	ok = ok && got > 0 && EVP_DigestFinal_ex(ctx, digest,
	    &digest_len) == 1;
	EVP_MD_CTX_free(ctx);
	free(chunk);
	if (!ok) {
		*error_r = xasprintf("read queue file: %s", got < 0 ?
		    strerror(errno) : got == 0 ? "short file" :
		    "OpenSSL failed");
		return -1;
	}
	archive_hex(digest, digest_len < 32 ? digest_len : 32, hex_r);
	return 0;
}

/*
 * Under the lock: the state, and the newest segment open for appending
 * (a new one when there is none or it is sealed).  The fd, or -1.
 */
static int
archive_prepare(struct archive_state *st, char **error_r)
{
	if (archive_state_load(st, error_r) < 0)
		return -1;
	if (st->seg <= 0 || st->sealed)
		return archive_new_segment(st, error_r);
	return archive_open_segment(st, error_r);
}

int
archive_append(const char *domain, const struct archive_envelope *env,
	int src, off_t offset, long long size, char **error_r)
{
	struct archive_state *st;
	struct buf *extra;
	char sha256[65];
	int lock_fd, fd = -1, rc = -1;
	size_t i;

	if (archive_digest(env->prefix, env->prefix_len, src, offset, size,
	    sha256, error_r) < 0)
		return -1;
	if (env->rcpt_count > ARCHIVE_RCPT_MAX ||
	    strlen(env->sender) > ARCHIVE_VALUE_MAX ||
	    strlen(env->auth) > ARCHIVE_VALUE_MAX) {
		*error_r = xstrdup("envelope too large for an archive record");
		return -1;
	}
	for (i = 0; i < env->rcpt_count; i++)
		if (strlen(env->rcpts[i]) > ARCHIVE_VALUE_MAX) {
			*error_r = xstrdup("recipient too long for an archive "
			    "record");
			return -1;
		}
	if ((lock_fd = archive_lock(domain, error_r)) < 0)
		return -1;
	st = archive_state_get(domain);
	if (archive_state_load(st, error_r) < 0)
		goto out;
	/* Before a new segment is begun, which forgets the oldest one. */
	if (archive_seen(st, env->queue_id, sha256)) {
		log_info("archive %s: already holds queue id %s (sha256 %s)",
		    domain, env->queue_id, sha256);
		rc = 0;
		goto out;
	}
	if ((fd = archive_prepare(st, error_r)) < 0)
		goto out;
	/* Full or old: seal it and begin the next. */
	if (st->messages > 0 && (st->size >= var_archive_segment_size ||
	    (long long) time(NULL) - st->opened >= var_archive_segment_age)) {
		if (archive_seal_segment(st, fd, error_r) < 0)
			goto out;
		close(fd);
		if ((fd = archive_new_segment(st, error_r)) < 0)
			goto out;
	}
	extra = buf_new(ARCHIVE_HEADER_MAX);
	rc = attr_put(extra, "queue_id", env->queue_id) |
	    attr_put(extra, "direction", env->direction) |
	    attr_put_int(extra, "arrival", env->arrival) |
	    attr_put(extra, "client", env->client) |
	    attr_put(extra, "sender", env->sender) |
	    attr_put(extra, "auth", env->auth);
	for (i = 0; i < env->rcpt_count && rc == 0; i++)
		rc = attr_put(extra, "rcpt", env->rcpts[i]);
	if (rc == 0)
		rc = attr_put(extra, "sha256", sha256) |
		    attr_put_int(extra, "size", (long long) env->prefix_len +
		    size);
	if (rc != 0) {
		*error_r = xstrdup("archive envelope too long");
		buf_free(&extra);
		rc = -1;
		goto out;
	}
	rc = archive_write_record(st, fd, ARCHIVE_MESSAGE, extra, env->prefix,
	    env->prefix_len, src, offset, size, error_r);
	buf_free(&extra);
	if (rc < 0 || archive_sync(fd, st, error_r) < 0) {
		st->seg = -1;	/* read the files again */
		rc = -1;
		goto out;
	}
	st->messages++;
	archive_seen_add(st, env->queue_id, sha256);
	log_info("archive %s: record n=%lld segment %lld sha256=%s",
	    domain, st->last_n, st->seg, sha256);
	rc = 1;
	/* Full now: seal at once (the record is safe either way). */
	if (st->size >= var_archive_segment_size) {
		char *seal_error = NULL;

		if (archive_seal_segment(st, fd, &seal_error) < 0) {
			log_error("archive %s: %s", domain, seal_error);
			free(seal_error);
			st->seg = -1;
		}
	}
out:
	if (fd >= 0)
		close(fd);
	close(lock_fd);
	return rc;
}

int
archive_seal(const char *domain, int force, char **error_r)
{
	struct archive_state *st;
	int lock_fd, fd, rc = 0;

	if ((lock_fd = archive_lock(domain, error_r)) < 0)
		return -1;
	st = archive_state_get(domain);
	if (archive_state_load(st, error_r) < 0) {
		close(lock_fd);
		return -1;
	}
	if (st->seg > 0 && !st->sealed && st->messages > 0 && (force ||
	    (long long) time(NULL) - st->opened >= var_archive_segment_age)) {
		fd = archive_open_segment(st, error_r);
		rc = fd < 0 || archive_seal_segment(st, fd, error_r) < 0 ?
		    -1 : 1;
		if (fd >= 0)
			close(fd);
		if (rc < 0)
			st->seg = -1;
	}
	close(lock_fd);
	return rc;
}

long long
archive_retention(const char *domain)
{
	long long retention = var_archive_retention, t;
	char **items;
	int count, i;
	size_t len = strlen(domain);

	items = params_list_split(var_archive_domain_retention, &count);
	for (i = 0; i < count; i++) {
		if (strncasecmp(items[i], domain, len) == 0 &&
		    items[i][len] == '=' &&
		    params_parse_time(items[i] + len + 1, &t) == 0)
			retention = t;
	}
	params_list_free(items);
	return retention;
}

int
archive_expire(const char *domain, long long now, char **error_r)
{
	const struct archive_record *r;
	struct archive_reader *rd;
	struct archive_state *st;
	struct buf *extra;
	long long retention = archive_retention(domain), *segs = NULL;
	long long removed_records = 0, newest = 0;
	char anchor[65] = "", *path;
	size_t count = 0, i, expired = 0;
	int lock_fd, fd = -1, rc = 0, seg_sealed;

	if (retention <= 0)
		return 0;
	if ((lock_fd = archive_lock(domain, error_r)) < 0)
		return -1;
	if (archive_list_segments(domain, &segs, &count, error_r) < 0) {
		close(lock_fd);
		return -1;
	}
	/* Oldest first, sealed, newest record past retention; never the last. */
	for (i = 0; i + 1 < count; i++) {
		long long seg_newest = 0, seg_records = 0;
		char seg_last[65] = "";

		path = archive_segment_path(domain, segs[i]);
		rd = archive_reader_open(path, error_r);
		free(path);
		if (rd == NULL) {
			rc = -1;
			break;
		}
		seg_sealed = 0;
		while ((rc = archive_reader_next(rd, &r, error_r)) == 1) {
			seg_newest = r->time;
			seg_records++;
			seg_sealed = strcmp(r->type, ARCHIVE_SEAL) == 0;
			memcpy(seg_last, r->hash, sizeof(seg_last));
		}
		archive_reader_close(&rd);
		if (rc < 0 || !seg_sealed || seg_newest > now - retention)
			break;
		expired++;
		removed_records += seg_records;
		newest = seg_newest;
		memcpy(anchor, seg_last, sizeof(anchor));
	}
	if (rc < 0 || expired == 0) {
		free(segs);
		close(lock_fd);
		return rc < 0 ? -1 : 0;
	}
	/* Say so in the chain first, then delete. */
	st = archive_state_get(domain);
	if ((fd = archive_prepare(st, error_r)) < 0) {
		free(segs);
		close(lock_fd);
		return -1;
	}
	extra = buf_new(4096);
	(void) attr_put_int(extra, "removed_first", segs[0]);
	(void) attr_put_int(extra, "removed_last", segs[expired - 1]);
	(void) attr_put_int(extra, "removed_records", removed_records);
	(void) attr_put_int(extra, "removed_newest", newest);
	(void) attr_put(extra, "anchor", anchor);
	rc = archive_write_record(st, fd, ARCHIVE_RETENTION, extra, NULL, 0, -1,
	    0, 0,
	    error_r);
	buf_free(&extra);
	if (rc == 0)
		rc = archive_sync(fd, st, error_r);
	close(fd);
	if (rc < 0) {
		st->seg = -1;
		free(segs);
		close(lock_fd);
		return -1;
	}
	for (i = 0; i < expired; i++) {
		path = archive_segment_path(domain, segs[i]);
		if (unlink(path) < 0)
			log_error("archive %s: remove %s: %m", domain, path);
		free(path);
	}
	path = xasprintf("%s/%s", var_archive_directory, domain);
	if (fileio_fsync_dir(path, error_r) < 0) {
		log_error("archive %s: %s", domain, *error_r);
		free(*error_r);
		*error_r = NULL;
	}
	free(path);
	log_info("archive %s: retention %llds removed segments %lld to %lld "
	    "(%lld records, newest %lld), recorded as n=%lld in segment %lld",
	    domain, retention, segs[0], segs[expired - 1], removed_records,
	    newest, st->last_n, st->seg);
	free(segs);
	close(lock_fd);
	return (int) expired;
}

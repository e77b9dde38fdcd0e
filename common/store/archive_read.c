/* archive_read: parse, list and verify archive segments (ispmail-archive(5)). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>

#include "archive.h"
#include "attr.h"
#include "buf.h"
#include "log.h"
#include "mail_params.h"
#include "xalloc.h"

#define ARCHIVE_READ_CHUNK (64 * 1024)
#define ARCHIVE_ZERO_HASH \
	"0000000000000000000000000000000000000000000000000000000000000000"

struct archive_reader {
	int fd;
	char *path;
	off_t offset;		/* of the next frame */
	off_t size;
	struct buf *header;
	struct attr_list *fields;
	struct archive_record rec;
	unsigned char *chunk;
};

void
archive_hex(const unsigned char *digest, size_t len, char *hex_r)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		hex_r[2 * i] = digits[digest[i] >> 4];
		hex_r[2 * i + 1] = digits[digest[i] & 15];
	}
	hex_r[2 * len] = '\0';
}

int
archive_domain_valid(const char *domain)
{
	const char *p;

	if (domain[0] == '\0' || domain[0] == '.' || domain[0] == '-' ||
	    strlen(domain) > 253 || strstr(domain, "..") != NULL)
		return 0;
	for (p = domain; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		    *p == '-' || *p == '.'))
			return 0;
	return 1;
}

char *
archive_segment_path(const char *domain, long long seg)
{
	return xasprintf("%s/%s/%016lld.seg", var_archive_directory, domain,
	    seg);
}

void
archive_names_free(char ***namesp)
{
	size_t i;

	if (*namesp == NULL)
		return;
	for (i = 0; (*namesp)[i] != NULL; i++)
		free((*namesp)[i]);
	free(*namesp);
	*namesp = NULL;
}

static int
archive_cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

static int
archive_cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *) a, y = *(const long long *) b;

	return x < y ? -1 : x > y;
}

int
archive_list_domains(char ***domains_r, char **error_r)
{
	struct dirent *de;
	char **names = NULL;
	size_t count = 0;
	DIR *dp;

	if (*var_archive_directory == '\0') {
		*error_r = xstrdup("archive_directory is not set");
		return -1;
	}
	dp = opendir(var_archive_directory);
	if (dp == NULL && errno != ENOENT) {
		*error_r = xasprintf("open %s: %s", var_archive_directory,
		    strerror(errno));
		return -1;
	}
	while (dp != NULL && (de = readdir(dp)) != NULL) {
		if (!archive_domain_valid(de->d_name))
			continue;
		names = xreallocarray(names, count + 2, sizeof(*names));
		names[count++] = xstrdup(de->d_name);
	}
	if (dp != NULL)
		closedir(dp);
	names = xreallocarray(names, count + 1, sizeof(*names));
	names[count] = NULL;
	qsort(names, count, sizeof(*names), archive_cmp_str);
	*domains_r = names;
	return 0;
}

int
archive_list_segments(const char *domain, long long **segs_r,
	size_t *count_r, char **error_r)
{
	struct dirent *de;
	long long *segs = NULL, seg;
	size_t count = 0;
	char *dir, *end;
	DIR *dp;

	dir = xasprintf("%s/%s", var_archive_directory, domain);
	dp = opendir(dir);
	if (dp == NULL && errno != ENOENT) {
		*error_r = xasprintf("open %s: %s", dir, strerror(errno));
		free(dir);
		return -1;
	}
	free(dir);
	while (dp != NULL && (de = readdir(dp)) != NULL) {
		if (strlen(de->d_name) != 20 ||
		    strcmp(de->d_name + 16, ".seg") != 0)
			continue;
		errno = 0;
		seg = strtoll(de->d_name, &end, 10);
		if (errno != 0 || end != de->d_name + 16 || seg <= 0)
			continue;
		segs = xreallocarray(segs, count + 1, sizeof(*segs));
		segs[count++] = seg;
	}
	if (dp != NULL)
		closedir(dp);
	if (count > 0)
		qsort(segs, count, sizeof(*segs), archive_cmp_ll);
	*segs_r = segs;
	*count_r = count;
	return 0;
}

struct archive_reader *
archive_reader_open(const char *path, char **error_r)
{
	struct archive_reader *rd;
	struct stat st;
	int fd;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		*error_r = xasprintf("open %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	rd = xcalloc(1, sizeof(*rd));
	rd->fd = fd;
	rd->path = xstrdup(path);
	rd->size = st.st_size;
	rd->header = buf_new(ARCHIVE_HEADER_MAX);
	rd->fields = attr_list_new(ARCHIVE_RCPT_MAX + 64, ARCHIVE_VALUE_MAX);
	rd->chunk = xmalloc(ARCHIVE_READ_CHUNK);
	return rd;
}

int
archive_reader_fd(const struct archive_reader *rd)
{
	return rd->fd;
}

static void
archive_record_clear(struct archive_record *r)
{
	size_t i;

	free(r->type);
	free(r->prev);
	free(r->queue_id);
	free(r->direction);
	free(r->client);
	free(r->sender);
	free(r->auth);
	for (i = 0; i < r->rcpt_count; i++)
		free(r->rcpts[i]);
	free(r->rcpts);
	free(r->sha256);
	free(r->key_id);
	free(r->hmac);
	free(r->anchor);
	memset(r, 0, sizeof(*r));
	r->n = r->segment = r->time = r->arrival = r->size = -1;
	r->records = r->removed_first = r->removed_last = -1;
	r->removed_records = r->removed_newest = -1;
}

void
archive_reader_close(struct archive_reader **rdp)
{
	struct archive_reader *rd = *rdp;

	if (rd == NULL)
		return;
	archive_record_clear(&rd->rec);
	close(rd->fd);
	free(rd->path);
	buf_free(&rd->header);
	attr_list_free(&rd->fields);
	free(rd->chunk);
	free(rd);
	*rdp = NULL;
}

/* A string field of the record, or NULL. */
static char *
archive_str(const struct attr_list *l, const char *name)
{
	const char *v = attr_get(l, name);

	return v != NULL ? xstrdup(v) : NULL;
}

/* A number field, -1 when missing; -1 returned when malformed. */
static int
archive_num(const struct attr_list *l, const char *name, long long *out)
{
	int rc = attr_get_int(l, name, out);

	if (rc == 0)
		*out = -1;
	return rc < 0 || (rc == 1 && *out < 0) ? -1 : 0;
}

/* The header's fields into r (ispmail-archive(5) "Records"). */
static int
archive_fields(struct archive_record *r, const struct attr_list *l)
{
	const char *name, *value;
	size_t i, len;

	for (i = 0; (name = attr_nth(l, i, &value, &len)) != NULL; i++) {
		if (strcmp(name, "rcpt") != 0)
			continue;
		if (r->rcpt_count >= ARCHIVE_RCPT_MAX)
			return -1;
		r->rcpts = xreallocarray(r->rcpts, r->rcpt_count + 1,
		    sizeof(char *));
		r->rcpts[r->rcpt_count++] = xstrdup(value);
	}
	r->type = archive_str(l, "type");
	r->prev = archive_str(l, "prev");
	r->queue_id = archive_str(l, "queue_id");
	r->direction = archive_str(l, "direction");
	r->client = archive_str(l, "client");
	r->sender = archive_str(l, "sender");
	r->auth = archive_str(l, "auth");
	r->sha256 = archive_str(l, "sha256");
	r->key_id = archive_str(l, "key_id");
	r->hmac = archive_str(l, "hmac");
	r->anchor = archive_str(l, "anchor");
	return archive_num(l, "n", &r->n) | archive_num(l, "segment",
	    &r->segment) | archive_num(l, "time", &r->time) |
	    archive_num(l, "arrival", &r->arrival) | archive_num(l, "size",
	    &r->size) | archive_num(l, "records", &r->records) |
	    archive_num(l, "removed_first", &r->removed_first) |
	    archive_num(l, "removed_last", &r->removed_last) |
	    archive_num(l, "removed_records", &r->removed_records) |
	    archive_num(l, "removed_newest", &r->removed_newest);
}

static int
archive_reader_fail(struct archive_reader *rd, char **error_r,
	const char *why)
{
	*error_r = xasprintf("%s: damaged at offset %lld: %s", rd->path,
	    (long long) rd->offset, why);
	rd->offset = rd->size;
	return -1;
}

/*
 * Hash a record's body (header, then left message bytes from
 * payload_offset) into r->hash, check the message against sha256=, and
 * step past the newline after the record.
 */
static int
archive_reader_digest(struct archive_reader *rd, struct archive_record *r,
	const char *hdr, size_t hdr_len, long long left, char **error_r)
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int digest_len = 0;
	EVP_MD_CTX *body_ctx = EVP_MD_CTX_new(), *msg_ctx = EVP_MD_CTX_new();
	off_t pos = r->payload_offset;
	char msg_hex[65], nl;
	ssize_t got = 1;
	int ok;

	ok = body_ctx != NULL && msg_ctx != NULL &&
	    EVP_DigestInit_ex(body_ctx, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestInit_ex(msg_ctx, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(body_ctx, hdr, hdr_len) == 1;
	while (ok && left > 0) {
		size_t want = left < ARCHIVE_READ_CHUNK ? (size_t) left :
		    ARCHIVE_READ_CHUNK;

		got = pread(rd->fd, rd->chunk, want, pos);
		if (got <= 0)
			break;
		ok = EVP_DigestUpdate(body_ctx, rd->chunk, (size_t) got) == 1
		    && EVP_DigestUpdate(msg_ctx, rd->chunk, (size_t) got) == 1;
		pos += got;
		left -= got;
	}
	if (ok && got > 0) {
		ok = EVP_DigestFinal_ex(body_ctx, digest, &digest_len) == 1;
		archive_hex(digest, digest_len, r->hash);
		ok = ok && EVP_DigestFinal_ex(msg_ctx, digest,
		    &digest_len) == 1;
		archive_hex(digest, digest_len, msg_hex);
	}
	EVP_MD_CTX_free(body_ctx);
	EVP_MD_CTX_free(msg_ctx);
	if (got <= 0)
		return archive_reader_fail(rd, error_r, "read error");
	if (!ok)
		return archive_reader_fail(rd, error_r,
		    "OpenSSL SHA-256 failed");
	r->payload_ok = r->sha256 == NULL || strcmp(r->sha256, msg_hex) == 0;
	if (pread(rd->fd, &nl, 1, pos) != 1 || nl != '\n')
		return archive_reader_fail(rd, error_r,
		    "record not followed by a newline");
	rd->offset = pos + 1;
	return 0;
}

int
archive_reader_next(struct archive_reader *rd,
	const struct archive_record **rec_r, char **error_r)
{
	struct archive_record *r = &rd->rec;
	char frame[64], *nl, *end, *hdr;
	const char *why = NULL;
	long long body_len, left;
	size_t hdr_len, i;
	ssize_t got;

	archive_record_clear(r);
	if (rd->offset >= rd->size)
		return 0;
	got = pread(rd->fd, frame, sizeof(frame) - 1, rd->offset);
	if (got <= 0)
		return archive_reader_fail(rd, error_r, "read error");
	frame[got] = '\0';
	nl = memchr(frame, '\n', (size_t) got);
	if (nl == NULL || strncmp(frame, ARCHIVE_FRAME,
	    strlen(ARCHIVE_FRAME)) != 0)
		return archive_reader_fail(rd, error_r, "no record frame");
	*nl = '\0';
	errno = 0;
	body_len = strtoll(frame + strlen(ARCHIVE_FRAME), &end, 10);
	if (errno != 0 || *end != '\0' || body_len < 2 ||
	    body_len > rd->size - rd->offset - (nl - frame + 1) - 1)
		return archive_reader_fail(rd, error_r, "bad record length");
	r->offset = rd->offset;
	/* The header: name=value lines up to an empty line. */
	buf_reset(rd->header);
	left = body_len;
	{
		off_t pos = rd->offset + (nl - frame) + 1;
		const char *blank = NULL;

		while (blank == NULL && left > 0) {
			size_t want = left < ARCHIVE_READ_CHUNK ?
			    (size_t) left : ARCHIVE_READ_CHUNK;
			size_t before = buf_len(rd->header);

			got = pread(rd->fd, rd->chunk, want, pos);
			if (got <= 0)
				return archive_reader_fail(rd, error_r,
				    "read error");
			if (buf_append(rd->header, rd->chunk, (size_t) got)
			    < 0)
				return archive_reader_fail(rd, error_r,
				    "header too long");
			pos += got;
			left -= got;
			hdr = buf_data(rd->header);
			if (buf_len(rd->header) >= 1 && hdr[0] == '\n')
				blank = hdr;
			for (i = before > 0 ? before - 1 : 0;
			    blank == NULL && i + 1 < buf_len(rd->header); i++)
				if (hdr[i] == '\n' && hdr[i + 1] == '\n')
					blank = hdr + i + 1;
		}
		if (blank == NULL)
			return archive_reader_fail(rd, error_r,
			    "header without an end");
		hdr = buf_data(rd->header);
		hdr_len = (size_t) (blank - hdr) + 1;
		r->payload_offset = rd->offset + (nl - frame) + 1 +
		    (off_t) hdr_len;
	}
	if (attr_parse(rd->fields, hdr, hdr_len, &why) < 0 ||
	    archive_fields(r, rd->fields) < 0)
		return archive_reader_fail(rd, error_r, why != NULL ? why :
		    "bad header field");
	if (r->type == NULL || r->n < 1 || r->segment < 1 ||
	    r->prev == NULL || strlen(r->prev) != 64 || r->time < 0)
		return archive_reader_fail(rd, error_r,
		    "type, n, segment, prev or time missing");
	left = body_len - (long long) hdr_len;
	if ((r->size >= 0 ? r->size : 0) != left)
		return archive_reader_fail(rd, error_r,
		    "message size does not match the record length");
	/* Hash the body and, separately, the message. */
	if (archive_reader_digest(rd, r, hdr, hdr_len, left, error_r) < 0)
		return -1;
	*rec_r = r;
	return 1;
}

int
archive_reader_hmac(struct archive_reader *rd, const unsigned char *key,
	size_t key_len, off_t len, char *hex_r, char **error_r)
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	size_t digest_len = 0;
	char digest_name[] = "SHA256";
	OSSL_PARAM params[2];
	EVP_MAC *mac;
	EVP_MAC_CTX *ctx = NULL;
	off_t pos = 0;
	ssize_t got;
	int ok;

	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    digest_name, 0);
	params[1] = OSSL_PARAM_construct_end();
	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	ok = mac != NULL && (ctx = EVP_MAC_CTX_new(mac)) != NULL &&
	    EVP_MAC_init(ctx, key, key_len, params) == 1;
	while (ok && pos < len) {
		size_t want = len - pos < ARCHIVE_READ_CHUNK ?
		    (size_t) (len - pos) : ARCHIVE_READ_CHUNK;

		got = pread(rd->fd, rd->chunk, want, pos);
		if (got <= 0) {
			EVP_MAC_CTX_free(ctx);
			EVP_MAC_free(mac);
			*error_r = xasprintf("read %s: %s", rd->path,
			    got < 0 ? strerror(errno) : "short file");
			return -1;
		}
		ok = EVP_MAC_update(ctx, rd->chunk, (size_t) got) == 1;
		pos += got;
	}
	ok = ok && EVP_MAC_final(ctx, digest, &digest_len,
	    sizeof(digest)) == 1;
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	if (!ok) {
		*error_r = xstrdup("OpenSSL HMAC-SHA256 failed");
		return -1;
	}
	archive_hex(digest, digest_len, hex_r);
	return 0;
}

int
archive_key_read(unsigned char **key_r, size_t *len_r, char **error_r)
{
	struct buf *b;
	char chunk[512];
	ssize_t got;
	char *nl;
	int fd;

	if (*var_archive_key_file == '\0') {
		*error_r = xstrdup("archive_key_file is not set");
		return -1;
	}
	fd = open(var_archive_key_file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		*error_r = xasprintf("open %s: %s", var_archive_key_file,
		    strerror(errno));
		return -1;
	}
	b = buf_new(4096);
	while ((got = read(fd, chunk, sizeof(chunk))) > 0)
		if (buf_append(b, chunk, (size_t) got) < 0)
			break;
	close(fd);
	nl = memchr(buf_data(b), '\n', buf_len(b));
	if (nl != NULL)
		buf_truncate(b, (size_t) (nl - buf_data(b)));
	buf_rtrim(b, "\r");
	if (got < 0 || buf_len(b) < 32) {
		*error_r = xasprintf("%s: %s", var_archive_key_file, got < 0 ?
		    strerror(errno) : "the key (first line) must hold at "
		    "least 32 bytes");
		buf_free(&b);
		return -1;
	}
	*len_r = buf_len(b);
	*key_r = (unsigned char *) buf_strdup(b);
	buf_free(&b);
	return 0;
}

void
archive_key_id(const unsigned char *key, size_t len, char id_r[17])
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int digest_len = 0;
	char hex[129];

	if (EVP_Digest(key, len, digest, &digest_len, EVP_sha256(), NULL)
	    != 1)
		digest_len = 0;
	archive_hex(digest, digest_len, hex);
	memcpy(id_r, hex, 16);
	id_r[16] = '\0';
}

/* ---- Verification ---- */

struct verify {
	void (*report)(void *ctx, const char *line);
	void *ctx;
	int problems;
	/* Retention records seen: the anchors the first segment may use. */
	long long *ret_last;
	char **ret_anchor;
	size_t ret_count;
};

static void verify_problem(struct verify *v, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
verify_problem(struct verify *v, const char *fmt, ...)
{
	va_list ap;
	char *line;

	va_start(ap, fmt);
	if (vasprintf(&line, fmt, ap) < 0)
		log_fatal("out of memory");
	va_end(ap);
	v->report(v->ctx, line);
	free(line);
	v->problems++;
}

int
archive_verify(const char *domain, const unsigned char *key,
	size_t key_len, void (*report)(void *ctx, const char *line),
	void *ctx, long long *segments_r, long long *records_r,
	char **error_r)
{
	const struct archive_record *r;
	struct archive_reader *rd;
	struct verify v;
	long long *segs = NULL, expect_n = -1, seg_records;
	size_t count = 0, i, k;
	char prev_hash[65] = "", hmac[65], key_id[17], *path, *error = NULL;
	char *first_prev = NULL;
	long long first_n = -1;
	int rc, sealed;

	memset(&v, 0, sizeof(v));
	v.report = report;
	v.ctx = ctx;
	*segments_r = *records_r = 0;
	if (archive_list_segments(domain, &segs, &count, error_r) < 0)
		return -1;
	archive_key_id(key, key_len, key_id);
	for (i = 0; i < count; i++) {
		(*segments_r)++;
		if (i > 0 && segs[i] != segs[i - 1] + 1) {
			verify_problem(&v, "segments %lld to %lld are missing",
			    segs[i - 1] + 1, segs[i] - 1);
			prev_hash[0] = '\0';	/* do not blame the next */
			expect_n = -1;
		}
		path = archive_segment_path(domain, segs[i]);
		rd = archive_reader_open(path, &error);
		free(path);
		if (rd == NULL) {
			verify_problem(&v, "segment %lld: %s", segs[i], error);
			free(error);
			error = NULL;
			prev_hash[0] = '\0';
			continue;
		}
		seg_records = 0;
		sealed = 0;
		while ((rc = archive_reader_next(rd, &r, &error)) == 1) {
			(*records_r)++;
			if (sealed)
				verify_problem(&v, "segment %lld: record n=%lld "
				    "after the seal", segs[i], r->n);
			if (r->segment != segs[i])
				verify_problem(&v, "segment %lld: record n=%lld "
				    "belongs to segment %lld (segments swapped "
				    "or renamed)", segs[i], r->n, r->segment);
			if (seg_records == 0 && strcmp(r->type,
			    ARCHIVE_OPEN) != 0)
				verify_problem(&v, "segment %lld: does not "
				    "start with an open record (its first "
				    "records were removed)", segs[i]);
			if (seg_records == 0 && i == 0) {
				first_prev = xstrdup(r->prev);
				first_n = r->n;
			}
			if (expect_n >= 0 && r->n != expect_n) {
				if (r->n > expect_n)
					verify_problem(&v, "segment %lld: "
					    "records n=%lld to n=%lld are "
					    "missing (removed)", segs[i],
					    expect_n, r->n - 1);
				else
					verify_problem(&v, "segment %lld: record "
					    "n=%lld is out of order (expected "
					    "n=%lld: reordered or duplicated)",
					    segs[i], r->n, expect_n);
			} else if (prev_hash[0] != '\0' &&
			    strcmp(r->prev, prev_hash) != 0) {
				verify_problem(&v, "segment %lld: record n=%lld "
				    "does not chain to the record before it: "
				    "record n=%lld was changed", segs[i], r->n,
				    r->n - 1);
			}
			if (!r->payload_ok)
				verify_problem(&v, "segment %lld: record n=%lld "
				    "(queue id %s) was changed: its message "
				    "does not match its SHA-256", segs[i],
				    r->n, r->queue_id != NULL ? r->queue_id :
				    "-");
			if (strcmp(r->type, ARCHIVE_RETENTION) == 0 &&
			    r->removed_last > 0 && r->anchor != NULL) {
				v.ret_last = xreallocarray(v.ret_last,
				    v.ret_count + 1, sizeof(long long));
				v.ret_anchor = xreallocarray(v.ret_anchor,
				    v.ret_count + 1, sizeof(char *));
				v.ret_last[v.ret_count] = r->removed_last;
				v.ret_anchor[v.ret_count++] =
				    xstrdup(r->anchor);
			}
			if (strcmp(r->type, ARCHIVE_SEAL) == 0) {
				sealed = 1;
				if (r->hmac == NULL || r->records !=
				    seg_records) {
					verify_problem(&v, "segment %lld: seal "
					    "is malformed or counts %lld "
					    "records, not %lld", segs[i],
					    r->records, seg_records);
				} else if (r->key_id != NULL &&
				    strcmp(r->key_id, key_id) != 0) {
					verify_problem(&v, "segment %lld: sealed "
					    "with another key (key_id %s, "
					    "ours %s)", segs[i], r->key_id,
					    key_id);
				} else if (archive_reader_hmac(rd, key, key_len,
				    r->offset, hmac, &error) < 0) {
					verify_problem(&v, "segment %lld: %s",
					    segs[i], error);
					free(error);
					error = NULL;
				} else if (strcmp(hmac, r->hmac) != 0) {
					verify_problem(&v, "segment %lld: seal "
					    "does not verify (the segment was "
					    "changed after it was sealed)",
					    segs[i]);
				}
			}
			memcpy(prev_hash, r->hash, sizeof(prev_hash));
			expect_n = r->n + 1;
			seg_records++;
		}
		if (rc < 0) {
			verify_problem(&v, "segment %lld: %s", segs[i], error);
			free(error);
			error = NULL;
			prev_hash[0] = '\0';
			expect_n = -1;
		}
		if (!sealed && i + 1 < count)
			verify_problem(&v, "segment %lld: not sealed but not "
			    "the newest segment (its seal was removed)",
			    segs[i]);
		archive_reader_close(&rd);
	}
	/* The start: from nothing, or from what retention removed. */
	if (count > 0 && first_prev != NULL) {
		if (segs[0] == 1) {
			if (first_n != 1 || strcmp(first_prev,
			    ARCHIVE_ZERO_HASH) != 0)
				verify_problem(&v, "segment 1: does not start "
				    "the archive (n=%lld)", first_n);
		} else {
			for (k = 0; k < v.ret_count; k++)
				if (v.ret_last[k] == segs[0] - 1 &&
				    strcmp(v.ret_anchor[k], first_prev) == 0)
					break;
			if (k == v.ret_count)
				verify_problem(&v, "segments 1 to %lld are "
				    "missing and no retention record says "
				    "they were expired", segs[0] - 1);
		}
	}
	for (k = 0; k < v.ret_count; k++)
		free(v.ret_anchor[k]);
	free(v.ret_anchor);
	free(v.ret_last);
	free(first_prev);
	free(segs);
	return v.problems;
}

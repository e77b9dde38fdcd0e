/*
 * lmtpd_spool: a message held once for all its recipients; see
 * lmtpd_spool.h.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "lmtpd_spool.h"
#include "xalloc.h"

/* Header lines longer than this are not examined (no address is). */
#define SPOOL_HEADER_LINE_MAX 4096
/* Write and replay in pieces of this size. */
#define SPOOL_CHUNK (64 * 1024)

struct lmtpd_spool {
	struct buf *memory;	/* the message while it fits */
	size_t memory_limit;
	char *temp_dir;
	int fd;			/* the unnamed file, or -1 */
	long long size;

	/* Header scan. */
	int in_header;
	struct buf *partial;	/* a header line not yet complete */
	int partial_too_long;
	struct buf *hline;	/* the current header field, unfolded */
	int hline_too_long;
	char **traces;		/* Delivered-To values, lower case */
	size_t trace_count;
	int too_many_traces;
};

struct lmtpd_spool *
lmtpd_spool_new(size_t memory_limit, const char *temp_dir)
{
	struct lmtpd_spool *spool = xcalloc(1, sizeof(*spool));

	/* A buf needs a cap above 0; 0 means "always a file". */
	spool->memory = buf_new(memory_limit > 0 ? memory_limit : 1);
	spool->memory_limit = memory_limit;
	spool->temp_dir = xstrdup(temp_dir);
	spool->fd = -1;
	spool->in_header = 1;
	spool->partial = buf_new(SPOOL_HEADER_LINE_MAX + 2);
	spool->hline = buf_new(SPOOL_HEADER_LINE_MAX);
	return spool;
}

void
lmtpd_spool_free(struct lmtpd_spool **spoolp)
{
	struct lmtpd_spool *spool = *spoolp;
	size_t i;

	if (spool == NULL)
		return;
	*spoolp = NULL;
	if (spool->fd >= 0)
		close(spool->fd);
	buf_free(&spool->memory);
	buf_free(&spool->partial);
	buf_free(&spool->hline);
	for (i = 0; i < spool->trace_count; i++)
		free(spool->traces[i]);
	free(spool->traces);
	free(spool->temp_dir);
	free(spool);
}

long long
lmtpd_spool_size(const struct lmtpd_spool *spool)
{
	return spool->size;
}

/* Trim white space and one pair of angle brackets, in place. */
static void
spool_trim_address(const char **p, size_t *len)
{
	const char *s = *p;
	size_t n = *len;

	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n >= 2 && s[0] == '<' && s[n - 1] == '>') {
		s++;
		n -= 2;
	}
	*p = s;
	*len = n;
}

/*
 * If field (an unfolded header field) is a Delivered-To:, its address
 * (trimmed) in *value_r, *len_r: 1; otherwise 0.
 */
static int
spool_trace_value(const char *field, size_t len, const char **value_r,
	size_t *len_r)
{
	static const char name[] = "delivered-to:";

	if (len < sizeof(name) - 1 ||
	    strncasecmp(field, name, sizeof(name) - 1) != 0)
		return 0;
	*value_r = field + sizeof(name) - 1;
	*len_r = len - (sizeof(name) - 1);
	spool_trim_address(value_r, len_r);
	return 1;
}

/* A complete (unfolded) header field is in hline: keep Delivered-To. */
static void
spool_header_field(struct lmtpd_spool *spool)
{
	const char *value;
	size_t len, i;
	char *copy;

	if (spool->hline_too_long || !spool_trace_value(buf_cstr(spool->hline),
	    buf_len(spool->hline), &value, &len))
		return;
	if (spool->trace_count >= LMTPD_SPOOL_TRACE_MAX) {
		spool->too_many_traces = 1;
		return;
	}
	copy = xstrndup(value, len);
	for (i = 0; copy[i] != '\0'; i++)
		if (copy[i] >= 'A' && copy[i] <= 'Z')
			copy[i] = (char) (copy[i] - 'A' + 'a');
	spool->traces = xreallocarray(spool->traces, spool->trace_count + 1,
	    sizeof(*spool->traces));
	spool->traces[spool->trace_count++] = copy;
}

/*
 * One complete header line (without its line end); too_long: it did not
 * fit and only its start is known.  An empty line, or a line that is
 * neither a continuation nor "name:", ends the header, as RFC 5322
 * parsers that recover from broken mail do.
 */
static void
spool_header_line(struct lmtpd_spool *spool, const char *line, size_t len,
	int too_long)
{
	size_t name_len;

	if (len > 0 && (line[0] == ' ' || line[0] == '\t')) {
		/* Folding: the field goes on (RFC 5322 2.2.3). */
		if (too_long || buf_append(spool->hline, line, len) < 0)
			spool->hline_too_long = 1;
		return;
	}
	if (buf_len(spool->hline) > 0)
		spool_header_field(spool);
	buf_reset(spool->hline);
	spool->hline_too_long = too_long;
	name_len = 0;
	while (name_len < len && line[name_len] > ' ' && line[name_len] < 127
	    && line[name_len] != ':')
		name_len++;
	if (len == 0 || name_len == 0 || name_len == len ||
	    line[name_len] != ':') {
		spool->in_header = 0;
		return;
	}
	if (buf_append(spool->hline, line, len) < 0)
		spool->hline_too_long = 1;
}

/* Feed bytes to the header scanner until the header ends. */
static void
spool_scan(struct lmtpd_spool *spool, const char *data, size_t len)
{
	const char *nl;
	size_t piece;

	while (spool->in_header && len > 0) {
		nl = memchr(data, '\n', len);
		piece = nl != NULL ? (size_t) (nl - data) + 1 : len;
		if (buf_append(spool->partial, data, piece) < 0)
			spool->partial_too_long = 1;
		data += piece;
		len -= piece;
		if (nl == NULL)
			return;		/* the rest comes with the next call */
		buf_rtrim(spool->partial, "\n");
		buf_rtrim(spool->partial, "\r");
		spool_header_line(spool, buf_cstr(spool->partial),
		    buf_len(spool->partial), spool->partial_too_long);
		buf_reset(spool->partial);
		spool->partial_too_long = 0;
	}
	if (!spool->in_header && buf_len(spool->hline) > 0) {
		spool_header_field(spool);
		buf_reset(spool->hline);
	}
}

/* Make the unnamed temporary file and move the memory copy into it. */
static int
spool_to_file(struct lmtpd_spool *spool, char **error_r)
{
	char *path;

#ifdef O_TMPFILE
	spool->fd = open(spool->temp_dir, O_TMPFILE | O_RDWR | O_CLOEXEC,
	    0600);
#endif
	if (spool->fd < 0) {
		/* No O_TMPFILE (old kernel, some file systems): unlink. */
		path = xasprintf("%s/lmtpd.XXXXXX", spool->temp_dir);
		spool->fd = mkstemp(path);
		if (spool->fd >= 0) {
			(void) unlink(path);
			(void) fcntl(spool->fd, F_SETFD, FD_CLOEXEC);
		}
		free(path);
	}
	if (spool->fd < 0) {
		*error_r = xasprintf("temporary file in %s: %s",
		    spool->temp_dir, strerror(errno));
		return -1;
	}
	return 0;
}

static int
spool_write_all(struct lmtpd_spool *spool, const char *data, size_t len,
	char **error_r)
{
	ssize_t n;

	while (len > 0) {
		n = write(spool->fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*error_r = xasprintf("write temporary file: %s",
			    n < 0 ? strerror(errno) : "short write");
			return -1;
		}
		data += n;
		len -= (size_t) n;
	}
	return 0;
}

int
lmtpd_spool_append(struct lmtpd_spool *spool, const void *data, size_t len,
	char **error_r)
{
	spool_scan(spool, data, len);
	if (spool->fd < 0 && spool->memory_limit > 0 &&
	    buf_append(spool->memory, data, len) == 0) {
		spool->size += (long long) len;
		return 0;
	}
	if (spool->fd < 0) {
		if (spool_to_file(spool, error_r) < 0)
			return -1;
		if (spool_write_all(spool, buf_cstr(spool->memory),
		    buf_len(spool->memory), error_r) < 0)
			return -1;
		buf_reset(spool->memory);
		/* Its contents are in the file now: reuse as a write buffer. */
		(void) buf_set_cap(spool->memory, SPOOL_CHUNK);
	}
	if (buf_append(spool->memory, data, len) < 0) {
		if (spool_write_all(spool, buf_cstr(spool->memory),
		    buf_len(spool->memory), error_r) < 0)
			return -1;
		buf_reset(spool->memory);
		if (buf_append(spool->memory, data, len) < 0 &&
		    spool_write_all(spool, data, len, error_r) < 0)
			return -1;
	}
	spool->size += (long long) len;
	return 0;
}

int
lmtpd_spool_delivered_to(const struct lmtpd_spool *spool,
	const char *address)
{
	size_t i, len = strlen(address), value_len;
	const char *value;

	if (spool->too_many_traces)
		return 1;
	for (i = 0; i < spool->trace_count; i++)
		if (strlen(spool->traces[i]) == len &&
		    strncasecmp(spool->traces[i], address, len) == 0)
			return 1;
	/* A header that ends with the message: its last field is open. */
	if (spool->in_header && !spool->hline_too_long &&
	    spool_trace_value(buf_cstr(spool->hline), buf_len(spool->hline),
	    &value, &value_len) && value_len == len &&
	    strncasecmp(value, address, len) == 0)
		return 1;
	return 0;
}

int
lmtpd_spool_replay(struct lmtpd_spool *spool, lmtpd_spool_fn *fn,
	void *ctx, char **error_r)
{
	char *chunk;
	off_t offset = 0;
	ssize_t n;
	int rc = 0;

	if (spool->fd < 0) {
		if (buf_len(spool->memory) == 0)
			return 0;
		return fn(ctx, buf_cstr(spool->memory), buf_len(spool->memory),
		    error_r);
	}
	/* Write out what is buffered once; the file then stays as is. */
	if (buf_len(spool->memory) > 0) {
		if (spool_write_all(spool, buf_cstr(spool->memory),
		    buf_len(spool->memory), error_r) < 0)
			return -1;
		buf_reset(spool->memory);
	}
	chunk = xmalloc(SPOOL_CHUNK);
	while (rc == 0) {
		n = pread(spool->fd, chunk, SPOOL_CHUNK, offset);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*error_r = xasprintf("read temporary file: %s",
			    strerror(errno));
			rc = -1;
			break;
		}
		if (n == 0)
			break;
		offset += n;
		rc = fn(ctx, chunk, (size_t) n, error_r);
	}
	free(chunk);
	return rc;
}

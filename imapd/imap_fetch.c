/*
 * imap_fetch: FETCH and UID FETCH (RFC 3501 6.4.5, 7.4.2).
 *
 * A message's file is read (or, when large, mapped read-only) while its
 * items are written, one message at a time.  Whole messages (BODY[],
 * BODY.PEEK[], RFC822 and their partials) are streamed from the file with
 * LF converted to CRLF on the way out, in large blocks, without a MIME
 * parse; only MIME views (ENVELOPE, BODYSTRUCTURE, BODY[section],
 * RFC822.HEADER/TEXT) run common/mime, and only when asked for.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "imap.h"
#include "imap_envcache.h"
#include "imap_mailbox.h"
#include "imap_uidlist.h"
#include "log.h"
#include "mime.h"
#include "mime_imap.h"
#include "xalloc.h"

enum fetch_kind {
	FETCH_FLAGS,
	FETCH_UID,
	FETCH_INTERNALDATE,
	FETCH_SIZE,
	FETCH_ENVELOPE,
	FETCH_BODY,		/* BODY without a section */
	FETCH_BODYSTRUCTURE,
	FETCH_SECTION,		/* BODY[...], BODY.PEEK[...] */
	FETCH_RFC822,
	FETCH_RFC822_HEADER,
	FETCH_RFC822_TEXT,
	FETCH_MODSEQ,		/* RFC 7162 3.1.4.1 */
	FETCH_BINARY,		/* BINARY[...], BINARY.PEEK[...] */
	FETCH_BINARY_SIZE,	/* BINARY.SIZE[...] (RFC 3516) */
};

struct fetch_item {
	enum fetch_kind kind;
	struct mime_section *section;	/* FETCH_SECTION, RFC822.* */
	char *section_text;		/* as the client wrote it */
	uint32_t *parts;		/* FETCH_BINARY*: the part number */
	size_t part_count;
	int peek;
	int partial;
	size_t offset;
	size_t length;
};

struct fetch_request {
	struct fetch_item *items;
	size_t count;
	int needs_data;		/* some item reads the message */
	int needs_mime;		/* some item needs the MIME structure */
	/*
	 * Some item needs more than the header block: the MIME structure,
	 * a section, or the size when the file name does not carry it.
	 * Without it, ENVELOPE is built from the header alone.
	 */
	int needs_body;
	int needs_size;		/* RFC822.SIZE is asked for */
	/* ENVELOPE from the folder's cache (imap_envcache.h) */
	struct imap_envcache *envcache;
	int sets_seen;
	int unknown_cte;	/* a BINARY part's encoding was unknown */
	/*
	 * The conversion block, per command: never static, as a session
	 * may wait in the middle of writing it while another session of
	 * the process runs (imap_multi.h).
	 */
	char *block;
};

static void
fetch_request_free(struct fetch_request *req)
{
	size_t i;

	for (i = 0; i < req->count; i++) {
		mime_section_free(&req->items[i].section);
		free(req->items[i].section_text);
		free(req->items[i].parts);
	}
	free(req->items);
	free(req->block);
}

static struct fetch_item *
fetch_add(struct fetch_request *req, enum fetch_kind kind)
{
	struct fetch_item *item;

	req->items = xreallocarray(req->items, req->count + 1,
	    sizeof(*req->items));
	item = &req->items[req->count++];
	memset(item, 0, sizeof(*item));
	item->kind = kind;
	item->length = SIZE_MAX;
	return item;
}

/* "<o.n>" after a section; -1 when malformed. */
static int
fetch_parse_partial(const char *p, struct fetch_item *item)
{
	unsigned long long o = 0, n = 0;
	const char *start;

	if (*p == '\0')
		return 0;
	if (*p++ != '<')
		return -1;
	for (start = p; *p >= '0' && *p <= '9' && p - start < 10; p++)
		o = o * 10 + (unsigned long long) (*p - '0');
	if (p == start || *p++ != '.')
		return -1;
	for (start = p; *p >= '0' && *p <= '9' && p - start < 10; p++)
		n = n * 10 + (unsigned long long) (*p - '0');
	if (p == start || n == 0 || *p++ != '>' || *p != '\0')
		return -1;
	item->partial = 1;
	item->offset = (size_t) o;
	item->length = (size_t) n;
	return 0;
}

static int
fetch_parse_item(struct fetch_request *req, const char *s,
	const char **error_r)
{
	const char *open, *close;
	struct fetch_item *item;
	enum fetch_kind kind;
	const char *section_spec = NULL;

	if (strcasecmp(s, "FLAGS") == 0)
		kind = FETCH_FLAGS;
	else if (strcasecmp(s, "UID") == 0)
		kind = FETCH_UID;
	else if (strcasecmp(s, "MODSEQ") == 0)
		kind = FETCH_MODSEQ;
	else if (strcasecmp(s, "INTERNALDATE") == 0)
		kind = FETCH_INTERNALDATE;
	else if (strcasecmp(s, "RFC822.SIZE") == 0)
		kind = FETCH_SIZE;
	else if (strcasecmp(s, "ENVELOPE") == 0)
		kind = FETCH_ENVELOPE;
	else if (strcasecmp(s, "BODY") == 0)
		kind = FETCH_BODY;
	else if (strcasecmp(s, "BODYSTRUCTURE") == 0)
		kind = FETCH_BODYSTRUCTURE;
	else if (strcasecmp(s, "RFC822") == 0) {
		kind = FETCH_RFC822;
		section_spec = "";
	} else if (strcasecmp(s, "RFC822.HEADER") == 0) {
		kind = FETCH_RFC822_HEADER;
		section_spec = "HEADER";
	} else if (strcasecmp(s, "RFC822.TEXT") == 0) {
		kind = FETCH_RFC822_TEXT;
		section_spec = "TEXT";
	} else if ((strncasecmp(s, "BODY[", 5) == 0 ||
	    strncasecmp(s, "BODY.PEEK[", 10) == 0) &&
	    (close = strchr(s, ']')) != NULL) {
		kind = FETCH_SECTION;
	} else if ((strncasecmp(s, "BINARY[", 7) == 0 ||
	    strncasecmp(s, "BINARY.PEEK[", 12) == 0 ||
	    strncasecmp(s, "BINARY.SIZE[", 12) == 0) &&
	    strchr(s, ']') != NULL) {
		kind = strncasecmp(s, "BINARY.SIZE", 11) == 0 ?
		    FETCH_BINARY_SIZE : FETCH_BINARY;
	} else {
		*error_r = "Unknown fetch attribute";
		return -1;
	}
	item = fetch_add(req, kind);
	if (kind == FETCH_SECTION) {
		open = strchr(s, '[');
		close = strchr(open, ']');
		item->peek = strncasecmp(s, "BODY.PEEK", 9) == 0;
		item->section_text = xstrndup(open + 1,
		    (size_t) (close - open - 1));
		if (mime_section_parse(open + 1, (size_t) (close - open - 1),
		    &item->section, error_r) < 0)
			return -1;
		if (fetch_parse_partial(close + 1, item) < 0) {
			*error_r = "Invalid partial";
			return -1;
		}
	} else if (kind == FETCH_BINARY || kind == FETCH_BINARY_SIZE) {
		/* RFC 3516 4.1: section-binary is a part number at most. */
		open = strchr(s, '[');
		close = strchr(open, ']');
		item->peek = kind == FETCH_BINARY_SIZE ||
		    strncasecmp(s, "BINARY.PEEK", 11) == 0;
		item->section_text = xstrndup(open + 1,
		    (size_t) (close - open - 1));
		if (imap_binary_parse(open + 1, (size_t) (close - open - 1),
		    &item->parts, &item->part_count) < 0) {
			*error_r = "Invalid BINARY section";
			return -1;
		}
		if (fetch_parse_partial(close + 1, item) < 0 ||
		    (kind == FETCH_BINARY_SIZE && item->partial)) {
			*error_r = "Invalid partial";
			return -1;
		}
	} else if (section_spec != NULL) {
		item->peek = kind == FETCH_RFC822_HEADER;
		item->section_text = xstrdup(section_spec);
		if (mime_section_parse(section_spec, strlen(section_spec),
		    &item->section, error_r) < 0)
			return -1;
	}
	if (kind != FETCH_FLAGS && kind != FETCH_UID &&
	    kind != FETCH_INTERNALDATE && kind != FETCH_MODSEQ)
		req->needs_data = 1;
	/* The whole message and its size come from the file alone. */
	if (kind != FETCH_FLAGS && kind != FETCH_UID &&
	    kind != FETCH_INTERNALDATE && kind != FETCH_SIZE &&
	    kind != FETCH_MODSEQ &&
	    kind != FETCH_RFC822 && !((kind == FETCH_SECTION ||
	    kind == FETCH_BINARY) && item->section_text[0] == '\0'))
		req->needs_mime = 1;
	if (kind == FETCH_SIZE)
		req->needs_size = 1;
	else if (kind != FETCH_FLAGS && kind != FETCH_UID &&
	    kind != FETCH_INTERNALDATE && kind != FETCH_MODSEQ &&
	    kind != FETCH_ENVELOPE)
		req->needs_body = 1;
	if ((kind == FETCH_SECTION || kind == FETCH_RFC822 ||
	    kind == FETCH_RFC822_TEXT || kind == FETCH_BINARY) && !item->peek)
		req->sets_seen = 1;
	return 0;
}

static int
fetch_parse(struct fetch_request *req, const struct imap_arg *arg,
	const char **error_r)
{
	static const char *const macros[][5] = {
		{ "ALL", "FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE" },
		{ "FAST", "FLAGS", "INTERNALDATE", "RFC822.SIZE", NULL },
		{ "FULL", "FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE" },
	};
	size_t i, k;

	if (arg->type == IMAP_ARG_ATOM) {
		for (i = 0; i < 3; i++) {
			if (strcasecmp(arg->str, macros[i][0]) != 0)
				continue;
			for (k = 1; k < 5 && macros[i][k] != NULL; k++)
				(void) fetch_parse_item(req, macros[i][k],
				    error_r);
			if (i == 2)
				(void) fetch_parse_item(req, "BODY", error_r);
			return 0;
		}
		return fetch_parse_item(req, arg->str, error_r);
	}
	if (arg->type != IMAP_ARG_LIST || arg->count == 0) {
		*error_r = "Invalid fetch attributes";
		return -1;
	}
	for (i = 0; i < arg->count; i++) {
		if (arg->list[i].type != IMAP_ARG_ATOM) {
			*error_r = "Invalid fetch attribute";
			return -1;
		}
		if (fetch_parse_item(req, arg->list[i].str, error_r) < 0)
			return -1;
	}
	return 0;
}

/*
 * Output is converted in blocks this large: a block at least the stream's
 * buffer goes to the socket in one write instead of being copied.
 */
#define FETCH_BLOCK_SIZE	(64 * 1024)
/* Messages up to this size are read(); larger ones are mapped. */
#define FETCH_READ_MAX		(1024 * 1024)
/*
 * The first read of a message whose header alone is needed: most headers
 * fit (a longer one is read in full).
 */
#define FETCH_HEADER_READ	(16 * 1024)

/*
 * Write data/len as CRLF text, cut to [offset, offset+length).  Runs
 * between line ends are copied with memchr/memcpy into one block that
 * goes out whole when full.
 */
static void
fetch_write_crlf(struct imap_session *sess, struct fetch_request *req,
	const char *data, size_t len, size_t offset, size_t length)
{
	char *block;
	const size_t block_size = FETCH_BLOCK_SIZE;
	const char *p = data, *end = data + len, *lf;
	size_t pos = 0, n = 0, run, skip;
	size_t stop = length > SIZE_MAX - offset ? SIZE_MAX : offset + length;
	int bare;

	if (req->block == NULL)
		req->block = xmalloc(block_size);
	block = req->block;
	while (p < end && pos < stop) {
		lf = memchr(p, '\n', (size_t) (end - p));
		/* A run of text, then "\r\n" for a bare LF (or the LF). */
		run = lf != NULL ? (size_t) (lf - p) : (size_t) (end - p);
		bare = lf != NULL && (lf == data || lf[-1] != '\r');
		while (run > 0 && pos < stop) {
			size_t take = run;

			if (pos < offset) {
				skip = offset - pos < take ? offset - pos :
				    take;
				p += skip;
				pos += skip;
				run -= skip;
				continue;
			}
			if (take > stop - pos)
				take = stop - pos;
			if (take > block_size - n)
				take = block_size - n;
			memcpy(block + n, p, take);
			n += take;
			p += take;
			pos += take;
			run -= take;
			if (n == block_size) {
				imap_write(sess, block, n);
				n = 0;
			}
		}
		if (lf == NULL || pos >= stop)
			break;
		if (n + 2 > block_size) {
			imap_write(sess, block, n);
			n = 0;
		}
		if (bare) {
			if (pos >= offset)
				block[n++] = '\r';
			if (++pos >= stop)
				break;
		}
		if (pos >= offset)
			block[n++] = '\n';
		pos++;
		p = lf + 1;
	}
	if (n > 0)
		imap_write(sess, block, n);
}

static void
fetch_write_date(struct imap_session *sess, time_t t)
{
	char text[64];
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(text, sizeof(text), "%d-%b-%Y %H:%M:%S %z", &tm);
	imap_printf(sess, "INTERNALDATE \"%s\"", text);
}

/* One message's contents while its items are written. */
struct fetch_data {
	const char *data;
	size_t len;
	size_t size_crlf;		/* SIZE_MAX until counted */
	struct mime_message *mime;	/* only when an item needs it */
	void *owned;			/* what to munmap or free */
	int mapped;			/* owned is an mmap, else malloc'd */
};

static size_t
fetch_size_crlf(struct fetch_data *fd)
{
	if (fd->size_crlf == SIZE_MAX)
		fd->size_crlf = mime_crlf_size(fd->data, fd->len);
	return fd->size_crlf;
}

/* Write a section (or RFC822.*) item with its data. */
static void
fetch_write_section(struct imap_session *sess, struct fetch_request *req,
	const struct fetch_item *item, struct fetch_data *fd, struct buf *out)
{
	size_t size = 0, len;
	int rc;

	if (item->kind == FETCH_SECTION) {
		imap_printf(sess, "BODY[%s]", item->section_text);
		if (item->partial)
			imap_printf(sess, "<%zu>", item->offset);
	} else {
		imap_printf(sess, "%s", item->kind == FETCH_RFC822 ? "RFC822" :
		    item->kind == FETCH_RFC822_HEADER ? "RFC822.HEADER" :
		    "RFC822.TEXT");
	}
	imap_write(sess, " ", 1);
	if (item->section_text != NULL && item->section_text[0] == '\0') {
		/* The whole message: straight from the file, no parse. */
		size = fetch_size_crlf(fd);
		len = item->offset >= size ? 0 : size - item->offset;
		if (len > item->length)
			len = item->length;
		imap_printf(sess, "{%zu}\r\n", len);
		fetch_write_crlf(sess, req, fd->data, fd->len, item->offset,
		    len);
		return;
	}
	rc = mime_section_size(fd->mime, item->section, &size);
	if (rc <= 0) {
		imap_write(sess, "\"\"", 2);
		return;
	}
	buf_reset(out);
	if (buf_set_cap(out, size + 1) < 0 || mime_section_fetch(fd->mime,
	    item->section, item->offset, item->length, out) < 0) {
		imap_write(sess, "\"\"", 2);
		return;
	}
	imap_printf(sess, "{%zu}\r\n", buf_len(out));
	imap_write(sess, buf_cstr(out), buf_len(out));
}

/*
 * BINARY[part]<partial>, BINARY.SIZE[part]: the part's content with
 * its transfer encoding undone; BINARY[] is the whole message.  A
 * literal8 when it holds a NUL (RFC 3516 4.2).
 */
static void
fetch_write_binary(struct imap_session *sess, struct fetch_request *req,
	const struct fetch_item *item, struct fetch_data *fd, struct buf *out)
{
	const char *start;
	size_t size, len;
	int rc = 1;

	if (item->kind == FETCH_BINARY_SIZE)
		imap_printf(sess, "BINARY.SIZE[%s] ", item->section_text);
	else if (item->partial)
		imap_printf(sess, "BINARY[%s]<%zu> ", item->section_text,
		    item->offset);
	else
		imap_printf(sess, "BINARY[%s] ", item->section_text);
	if (item->part_count == 0) {
		size = fetch_size_crlf(fd);
		if (item->kind == FETCH_BINARY_SIZE) {
			imap_printf(sess, "%zu", size);
			return;
		}
		len = item->offset >= size ? 0 : size - item->offset;
		if (len > item->length)
			len = item->length;
		/* A message with a NUL goes as literal8. */
		imap_printf(sess, "%s{%zu}\r\n", memchr(fd->data, '\0',
		    fd->len) != NULL ? "~" : "", len);
		fetch_write_crlf(sess, req, fd->data, fd->len, item->offset,
		    len);
		return;
	}
	buf_reset(out);
	if (fd->mime != NULL)
		rc = imap_binary_fetch(fd->mime, item->parts,
		    item->part_count, out);
	if (fd->mime == NULL || rc <= 0 || rc == -2) {
		/* No such part: empty (as BODY[]); unknown CTE: NIL. */
		if (rc == -1)
			req->unknown_cte = 1;
		imap_printf(sess, "%s", rc == -1 ? "NIL" :
		    item->kind == FETCH_BINARY_SIZE ? "0" : "\"\"");
		return;
	}
	if (item->kind == FETCH_BINARY_SIZE) {
		imap_printf(sess, "%zu", buf_len(out));
		return;
	}
	size = buf_len(out);
	len = item->offset >= size ? 0 : size - item->offset;
	if (len > item->length)
		len = item->length;
	start = buf_cstr(out) + (len > 0 ? item->offset : 0);
	imap_printf(sess, "%s{%zu}\r\n", memchr(start, '\0', len) != NULL ?
	    "~" : "", len);
	imap_write(sess, start, len);
}

/*
 * Read up to len bytes from the start of file into data; the count read
 * (short at the end of the file).
 */
static size_t
fetch_read(int file, char *data, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = pread(file, data + got, len - got, (off_t) got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t) n;
	}
	return got;
}

/*
 * Read the header block of a message of size bytes with one read: 0 when
 * it was all read (its blank line, or the whole file), -1 when the header
 * goes on past FETCH_HEADER_READ.
 */
static int
fetch_load_header(int file, size_t size, struct fetch_data *fd)
{
	size_t want = size < FETCH_HEADER_READ ? size : FETCH_HEADER_READ;
	char *data = xmalloc(want);
	size_t got = fetch_read(file, data, want);
	int blank_line;

	(void) mime_header_length(data, got, &blank_line);
	if (!blank_line && got == FETCH_HEADER_READ) {
		free(data);
		return -1;
	}
	fd->len = got;
	fd->data = data;
	fd->owned = data;
	return 0;
}

/*
 * Load a message's file: small ones are read into memory (cheaper than
 * mapping and unmapping thousands of small files), large ones mapped.
 * With header_only, only the start up to the header's blank line may be
 * loaded (fd->len tells what was).
 */
static int
fetch_load(struct imap_mailbox *box, struct imap_msg *msg,
	struct fetch_data *fd, struct stat *st_r, int header_only)
{
	struct stat st;
	char *data;
	size_t got;
	int file = imap_msg_open(box, msg);

	if (file < 0)
		return -1;
	if (fstat(file, &st) < 0) {
		close(file);
		return -1;
	}
	*st_r = st;
	fd->len = (size_t) st.st_size;
	if (header_only && st.st_size > 0 &&
	    fetch_load_header(file, fd->len, fd) == 0) {
		close(file);
		return 0;
	}
	if (st.st_size == 0) {
		fd->data = "";
	} else if (st.st_size > FETCH_READ_MAX) {
		data = mmap(NULL, fd->len, PROT_READ, MAP_PRIVATE, file, 0);
		if (data == MAP_FAILED) {
			close(file);
			return -1;
		}
		fd->data = data;
		fd->owned = data;
		fd->mapped = 1;
	} else {
		data = xmalloc(fd->len);
		got = fetch_read(file, data, fd->len);
		/* A file that shrank under us: serve what is there. */
		fd->len = got;
		fd->data = data;
		fd->owned = data;
	}
	close(file);
	return 0;
}

static void
fetch_unload(struct fetch_data *fd)
{
	mime_free(&fd->mime);
	if (fd->mapped)
		munmap(fd->owned, fd->len);
	else
		free(fd->owned);
	fd->owned = NULL;
	fd->data = NULL;
}

static int
fetch_message(struct imap_session *sess, struct fetch_request *req,
	size_t index, struct buf *out)
{
	struct imap_mailbox *box = sess->box;
	struct imap_msg *msg = &box->msgs[index];
	struct fetch_data fd;
	size_t i;
	time_t mtime = 0;
	struct stat st;
	long long size;
	int first = 1, flags_sent = 0, set_seen = 0, modseq_sent = 0;
	int header_only;
	const char *cached = NULL;
	size_t cached_len = 0, base_len = imap_uidlist_base_len(msg->name);

	memset(&fd, 0, sizeof(fd));
	memset(&st, 0, sizeof(st));
	fd.size_crlf = SIZE_MAX;
	header_only = !req->needs_body && (!req->needs_size ||
	    imap_name_size(msg->name, 'W') >= 0);
	/* The cache's key is the file's: a replaced file misses. */
	if (header_only && req->envcache != NULL) {
		if (imap_msg_stat(box, msg, &st) < 0)
			return -1;
		mtime = st.st_mtime;
		cached = imap_envcache_get(req->envcache, msg->name, base_len,
		    (uint64_t) st.st_size, (uint64_t) st.st_mtime,
		    &cached_len);
	}
	if (req->needs_data && cached == NULL) {
		if (fetch_load(box, msg, &fd, &st, header_only) < 0)
			return -1;
		mtime = st.st_mtime;
		if (req->needs_mime && !header_only)
			fd.mime = mime_parse(fd.data, fd.len);
	} else if (!req->needs_data) {
		for (i = 0; i < req->count; i++) {
			if (req->items[i].kind != FETCH_INTERNALDATE)
				continue;
			if (imap_msg_stat(box, msg, &st) < 0)
				return -1;
			mtime = st.st_mtime;
			break;
		}
	}
	if (req->sets_seen && !box->readonly &&
	    !(msg->flags & IMAP_FLAG_SEEN)) {
		if (imap_msg_set_flags(box, msg, msg->flags |
		    IMAP_FLAG_SEEN, msg->keywords) == 0) {
			set_seen = 1;
			/* First read in full: the end of ispmailctl trace. */
			log_info("fetch user=%s folder=%s uid=%u file=%.*s",
			    sess->user, box->name, (unsigned) msg->uid,
			    (int) strcspn(msg->name, ":"), msg->name);
		}
	}
	imap_printf(sess, "* %zu FETCH (", index + 1);
	if (sess->uid_cmd) {
		imap_printf(sess, "UID %u", (unsigned) msg->uid);
		first = 0;
	}
	for (i = 0; i < req->count; i++) {
		struct fetch_item *item = &req->items[i];

		if (item->kind == FETCH_UID && sess->uid_cmd)
			continue;
		if ((item->kind == FETCH_FLAGS && flags_sent) ||
		    (item->kind == FETCH_MODSEQ && modseq_sent))
			continue;
		if (!first)
			imap_write(sess, " ", 1);
		first = 0;
		switch (item->kind) {
		case FETCH_FLAGS:
			imap_printf(sess, "FLAGS ");
			imap_write_flags(sess, msg->flags, msg->keywords);
			flags_sent = 1;
			break;
		case FETCH_MODSEQ:
			imap_printf(sess, "MODSEQ (%llu)",
			    (unsigned long long) msg->modseq);
			modseq_sent = 1;
			break;
		case FETCH_UID:
			imap_printf(sess, "UID %u", (unsigned) msg->uid);
			break;
		case FETCH_INTERNALDATE:
			fetch_write_date(sess, mtime);
			break;
		case FETCH_SIZE:
			size = imap_name_size(msg->name, 'W');
			if (size < 0)
				size = (long long) fetch_size_crlf(&fd);
			imap_printf(sess, "RFC822.SIZE %lld", size);
			break;
		case FETCH_ENVELOPE:
			if (cached != NULL) {
				imap_printf(sess, "ENVELOPE ");
				imap_write(sess, cached, cached_len);
				break;
			}
			/* FALLTHROUGH */
		case FETCH_BODY:
		case FETCH_BODYSTRUCTURE:
			buf_reset(out);
			(void) buf_set_cap(out, BUF_DEFAULT_CAP * 16);
			imap_printf(sess, "%s ", item->kind == FETCH_ENVELOPE ?
			    "ENVELOPE" : item->kind == FETCH_BODY ? "BODY" :
			    "BODYSTRUCTURE");
			if ((item->kind == FETCH_ENVELOPE ? (header_only ?
			    mime_imap_envelope_header(fd.data, fd.len, out) :
			    mime_imap_envelope(fd.mime,
			    mime_message_root(fd.mime), out)) :
			    mime_imap_bodystructure(fd.mime,
			    mime_message_root(fd.mime),
			    item->kind == FETCH_BODYSTRUCTURE, out)) < 0) {
				imap_printf(sess, "NIL");
				break;
			}
			imap_write(sess, buf_cstr(out), buf_len(out));
			if (item->kind == FETCH_ENVELOPE && header_only &&
			    req->envcache != NULL && st.st_mtime >= 0)
				imap_envcache_put(req->envcache, msg->name,
				    base_len, (uint64_t) st.st_size,
				    (uint64_t) st.st_mtime, buf_cstr(out),
				    buf_len(out));
			break;
		case FETCH_BINARY:
		case FETCH_BINARY_SIZE:
			fetch_write_binary(sess, req, item, &fd, out);
			break;
		default:
			fetch_write_section(sess, req, item, &fd, out);
			break;
		}
	}
	/* A fetch that set \Seen reports the new flags (RFC 3501 6.4.5). */
	if (set_seen && !flags_sent) {
		imap_printf(sess, "%sFLAGS ", first ? "" : " ");
		imap_write_flags(sess, msg->flags, msg->keywords);
		flags_sent = 1;
	}
	/* RFC 7162 3.1.4.1: FLAGS carry their MODSEQ once enabled. */
	if (flags_sent && !modseq_sent && sess->condstore)
		imap_write_modseq(sess, msg);
	imap_printf(sess, ")\r\n");
	if (req->needs_data && cached == NULL)
		fetch_unload(&fd);
	return 0;
}

/*
 * The FETCH modifiers "(CHANGEDSINCE n [VANISHED])" (RFC 7162 3.1.4.1,
 * 3.2.6: VANISHED only in a UID FETCH once QRESYNC is enabled).
 */
static int
imap_changedsince_parse(struct imap_session *sess,
	const struct imap_arg *arg, uint64_t *since_r, int *vanished_r,
	const char **error_r)
{
	*vanished_r = arg->type == IMAP_ARG_LIST && arg->count == 3 &&
	    arg->list[2].type == IMAP_ARG_ATOM &&
	    strcasecmp(arg->list[2].str, "VANISHED") == 0;
	if (arg->type != IMAP_ARG_LIST ||
	    arg->count != 2 + (size_t) *vanished_r ||
	    arg->list[0].type != IMAP_ARG_ATOM ||
	    strcasecmp(arg->list[0].str, "CHANGEDSINCE") != 0 ||
	    imap_parse_modseq(&arg->list[1], since_r) < 0 ||
	    (*vanished_r && (!sess->qresync || !sess->uid_cmd))) {
		*error_r = "Bad FETCH modifier";
		return -1;
	}
	return 0;
}

/* ENVELOPE is asked for, and nothing past the header block. */
static int
fetch_wants_envelope(const struct fetch_request *req)
{
	size_t i;

	if (req->needs_body)
		return 0;
	for (i = 0; i < req->count; i++)
		if (req->items[i].kind == FETCH_ENVELOPE)
			return 1;
	return 0;
}

void
imap_cmd_fetch(struct imap_session *sess, struct imap_arg *args,
	size_t count)
{
	struct fetch_request req;
	const char *error = NULL;
	unsigned char *selected;
	struct buf *out;
	uint64_t changedsince = 0;
	struct imap_seqset uids;
	struct imap_mailbox *box;
	size_t i, n, gone = 0;
	int vanished = 0, unknown_cte;

	memset(&req, 0, sizeof(req));
	if ((count != 2 && count != 3) || args[0].type != IMAP_ARG_ATOM) {
		imap_tagged(sess, "BAD", "FETCH needs a message set and "
		    "attributes");
		return;
	}
	if ((count == 3 && imap_changedsince_parse(sess, &args[2],
	    &changedsince, &vanished, &error) < 0) ||
	    fetch_parse(&req, &args[1], &error) < 0) {
		fetch_request_free(&req);
		imap_tagged(sess, "BAD", "%s", error);
		return;
	}
	for (i = 0; i < req.count; i++) {
		if (req.items[i].kind == FETCH_MODSEQ)
			sess->condstore = 1;	/* an enabling command */
	}
	if (count == 3) {
		sess->condstore = 1;
		(void) fetch_add(&req, FETCH_MODSEQ);
	}
	if (imap_select_messages(sess, args[0].str, sess->uid_cmd,
	    &selected) < 0) {
		fetch_request_free(&req);
		return;
	}
	if (vanished && imap_uidset_parse(sess, args[0].str, &uids) == 0) {
		imap_seqset_resolve(&uids, sess->box->uidnext);
		imap_vanished_earlier(sess, changedsince, &uids);
		imap_seqset_free(&uids);
	}
	box = sess->box;
	if (fetch_wants_envelope(&req)) {
		for (i = 0, n = 0; i < box->count; i++)
			n += selected[i] != 0;
		if (box->envcache == NULL)
			box->envcache = imap_envcache_new();
		if (imap_envcache_refresh(box->envcache, box->dir,
		    n > SIZE_MAX / IMAP_ENVCACHE_READ_PER_MSG ? SIZE_MAX :
		    n * IMAP_ENVCACHE_READ_PER_MSG) == 0)
			req.envcache = box->envcache;
	}
	out = buf_new(BUF_DEFAULT_CAP);
	for (i = 0, n = 0; i < box->count; i++) {
		if (!selected[i] || box->msgs[i].modseq <= changedsince)
			continue;
		if (fetch_message(sess, &req, i, out) < 0)
			gone++;
		/* A client that reads fast never makes the writes wait:
		 * let the other sessions of the process run now and then. */
		imap_yield(n++);
	}
	buf_free(&out);
	if (req.envcache != NULL)
		imap_envcache_flush(req.envcache, box->dir, box->msgs,
		    box->count);
	free(selected);
	unknown_cte = req.unknown_cte;
	fetch_request_free(&req);
	if (unknown_cte)
		imap_tagged(sess, "NO", "[UNKNOWN-CTE] Unknown "
		    "Content-Transfer-Encoding");
	else if (gone > 0)
		imap_tagged(sess, "NO", "Some messages were expunged "
		    "meanwhile");
	else
		imap_tagged(sess, "OK", "Fetch completed");
}

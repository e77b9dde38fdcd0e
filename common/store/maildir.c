/*
 * maildir: Maildir++ message files and quota; see maildir.h.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "buf.h"
#include "fileio.h"
#include "log.h"
#include "maildir.h"
#include "xalloc.h"

/* Write through a buffer of this size (one write(2) per 64 KiB). */
#define MAILDIR_WBUF 65536
/* Maildir++: recalculate maildirsize once it is this big. */
#define MAILDIRSIZE_MAX 5120

struct maildir_delivery {
	char *folder;
	char *tmp_path;
	char *unique;
	int fd;
	int pending_cr;		/* a CR is held back: is it part of CRLF? */
	long long size;		/* bytes stored (S=) */
	long long lines;	/* LFs stored: W = S + lines */
	size_t wlen;
	char *wbuf;		/* MAILDIR_WBUF bytes, not zeroed */
};

static unsigned int maildir_counter;
/*
 * The write buffer of the last delivery, kept for the next one: a 64 KiB
 * calloc per message was zeroed for nothing, and freeing it made malloc
 * consolidate its free lists every time.
 */
static char *maildir_wbuf_spare;

/* This host's name with '/' and ':' encoded as Maildir asks. */
static char *
maildir_hostname(void)
{
	char host[256];
	struct buf *b = buf_new(1024);
	char *out;
	size_t i;

	if (gethostname(host, sizeof(host)) < 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	for (i = 0; host[i] != '\0'; i++) {
		if (host[i] == '/')
			(void) buf_append_str(b, "\\057");
		else if (host[i] == ':')
			(void) buf_append_str(b, "\\072");
		else if (host[i] == ',')
			(void) buf_append_str(b, "\\054");
		else
			(void) buf_append_char(b, host[i]);
	}
	out = buf_strdup(b);
	buf_free(&b);
	return out;
}

static char *
maildir_unique(void)
{
	static char *host;
	struct timeval tv;

	if (host == NULL)
		host = maildir_hostname();
	gettimeofday(&tv, NULL);
	return xasprintf("%lld.M%06ldP%ldQ%u.%s", (long long) tv.tv_sec,
	    (long) tv.tv_usec, (long) log_pid(), ++maildir_counter, host);
}


static void
maildir_delivery_free(struct maildir_delivery *d)
{
	if (d->fd >= 0)
		close(d->fd);
	if (maildir_wbuf_spare == NULL)
		maildir_wbuf_spare = d->wbuf;
	else
		free(d->wbuf);
	free(d->folder);
	free(d->unique);
	free(d->tmp_path);
	free(d);
}

struct maildir_delivery *
maildir_deliver_begin(const char *folder_dir, char **error_r)
{
	struct maildir_delivery *d;
	int tries;

	d = xcalloc(1, sizeof(*d));
	d->folder = xstrdup(folder_dir);
	d->fd = -1;
	d->wbuf = maildir_wbuf_spare != NULL ? maildir_wbuf_spare :
	    xmalloc(MAILDIR_WBUF);
	maildir_wbuf_spare = NULL;
	for (tries = 0; tries < 5 && d->fd < 0; tries++) {
		free(d->unique);
		free(d->tmp_path);
		d->unique = maildir_unique();
		d->tmp_path = xasprintf("%s/tmp/%s", folder_dir, d->unique);
		d->fd = open(d->tmp_path, O_WRONLY | O_CREAT | O_EXCL |
		    O_CLOEXEC, 0600);
		if (d->fd < 0 && errno != EEXIST)
			break;
	}
	if (d->fd < 0) {
		*error_r = xasprintf("create %s: %s", d->tmp_path,
		    strerror(errno));
		maildir_delivery_free(d);
		return NULL;
	}
	return d;
}

static int
maildir_wflush(struct maildir_delivery *d, char **error_r)
{
	if (fileio_write_all(d->fd, d->wbuf, d->wlen, d->tmp_path,
	    error_r) < 0)
		return -1;
	d->wlen = 0;
	return 0;
}

static int
maildir_wbyte(struct maildir_delivery *d, char c, char **error_r)
{
	if (d->wlen == MAILDIR_WBUF && maildir_wflush(d, error_r) < 0)
		return -1;
	d->wbuf[d->wlen++] = c;
	d->size++;
	if (c == '\n')
		d->lines++;
	return 0;
}

/* Bytes without a CR, as they are: copied through the buffer in runs. */
static int
maildir_wrun(struct maildir_delivery *d, const char *p, size_t len,
	char **error_r)
{
	const char *lf, *end = p + len;
	size_t n;

	d->size += (long long) len;
	for (lf = p; (lf = memchr(lf, '\n', (size_t) (end - lf))) != NULL;
	    lf++)
		d->lines++;
	while (len > 0) {
		if (d->wlen == MAILDIR_WBUF && maildir_wflush(d, error_r) < 0)
			return -1;
		n = MAILDIR_WBUF - d->wlen;
		if (n > len)
			n = len;
		memcpy(d->wbuf + d->wlen, p, n);
		d->wlen += n;
		p += n;
		len -= n;
	}
	return 0;
}

int
maildir_deliver_write(struct maildir_delivery *d, const void *data,
	size_t len, char **error_r)
{
	const char *p = data, *end = p + len, *cr;

	while (p < end) {
		if (d->pending_cr) {
			d->pending_cr = 0;
			/* CRLF becomes LF; a lone CR stays. */
			if (*p != '\n' && maildir_wbyte(d, '\r', error_r) < 0)
				return -1;
		}
		cr = memchr(p, '\r', (size_t) (end - p));
		if (cr == NULL)
			cr = end;
		if (maildir_wrun(d, p, (size_t) (cr - p), error_r) < 0)
			return -1;
		if (cr == end)
			break;
		d->pending_cr = 1;
		p = cr + 1;
	}
	return 0;
}

int
maildir_deliver_commit(struct maildir_delivery **dp, const char *flags,
	time_t mtime, char **name_r, long long *size_r, char **error_r)
{
	struct maildir_delivery *d = *dp;
	struct timespec times[2];
	char *name = NULL, *path = NULL, *dirpath = NULL;
	const char *dir;
	int ret = -1, saved_errno;

	*dp = NULL;
	if (d->pending_cr) {
		d->pending_cr = 0;
		if (maildir_wbyte(d, '\r', error_r) < 0)
			goto out;
	}
	if (maildir_wflush(d, error_r) < 0)
		goto out;
	if (mtime != 0) {
		times[0].tv_sec = mtime;
		times[0].tv_nsec = 0;
		times[1] = times[0];
		(void) futimens(d->fd, times);
	}
	/* One journal commit for data, inode and name (fileio.h). */
	if (fileio_durable_prepare(d->fd, d->tmp_path, error_r) < 0)
		goto out;
	if (flags == NULL) {
		name = xasprintf("%s,S=%lld,W=%lld", d->unique, d->size,
		    d->size + d->lines);
		dir = "new";
	} else {
		name = xasprintf("%s,S=%lld,W=%lld:2,%s", d->unique, d->size,
		    d->size + d->lines, flags);
		dir = "cur";
	}
	path = xasprintf("%s/%s/%s", d->folder, dir, name);
	/* link(2), not rename(2): it never replaces an existing file. */
	if (link(d->tmp_path, path) < 0) {
		*error_r = xasprintf("link %s: %s", path, strerror(errno));
		goto out;
	}
	dirpath = xasprintf("%s/%s", d->folder, dir);
	if (fileio_durable_commit(d->fd, path, dirpath, error_r) < 0) {
		/* Not durable, and the caller answers 4xx: no duplicate. */
		saved_errno = errno;
		(void) unlink(path);
		errno = saved_errno;
		goto out;
	}
	(void) unlink(d->tmp_path);
	/* Durable now: a late close error must not turn into a 4xx. */
	(void) close(d->fd);
	d->fd = -1;
	if (size_r != NULL)
		*size_r = d->size;
	if (name_r != NULL) {
		*name_r = name;
		name = NULL;
	}
	ret = 0;
out:
	saved_errno = errno;	/* ENOSPC is answered 452 */
	if (ret < 0)
		(void) unlink(d->tmp_path);
	free(name);
	free(path);
	free(dirpath);
	maildir_delivery_free(d);
	errno = saved_errno;
	return ret;
}

void
maildir_deliver_abort(struct maildir_delivery **dp)
{
	struct maildir_delivery *d = *dp;

	if (d == NULL)
		return;
	(void) unlink(d->tmp_path);
	maildir_delivery_free(d);
	*dp = NULL;
}

/* The value of ",KEY=digits" in the part of name before ":2,". */
static long long
maildir_name_field(const char *name, char key)
{
	const char *end = strstr(name, ":2,");
	const char *p = name;
	long long v;

	if (end == NULL)
		end = name + strlen(name);
	while ((p = memchr(p, ',', (size_t) (end - p))) != NULL) {
		p++;
		if (p + 2 <= end && p[0] == key && p[1] == '=' &&
		    p[2] >= '0' && p[2] <= '9') {
			v = 0;
			for (p += 2; p < end && *p >= '0' && *p <= '9'; p++) {
				if (v > (LLONG_MAX - 9) / 10)
					return -1;
				v = v * 10 + (*p - '0');
			}
			return v;
		}
	}
	return -1;
}

/* Count a file's size as CRLF lines (for files without W=). */
static long long
maildir_file_vsize(int dir_fd, const char *name, long long size)
{
	char chunk[65536];
	long long lines = 0;
	ssize_t n, i;
	char prev = '\0';	/* the byte before chunk[0]: CRLF may straddle */
	int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return size;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		for (i = 0; i < n; i++) {
			if (chunk[i] == '\n' && prev != '\r')
				lines++;
			prev = chunk[i];
		}
	}
	close(fd);
	return size + lines;
}

static int
maildir_scan_dir(const char *folder_dir, int in_new,
	struct maildir_entry **entries, size_t *count, size_t *alloc,
	char **error_r)
{
	char *dir = xasprintf("%s/%s", folder_dir, in_new ? "new" : "cur");
	struct maildir_entry *e;
	struct dirent *de;
	struct stat st;
	const char *info;
	long long size, vsize;
	DIR *dp;

	dp = opendir(dir);
	if (dp == NULL) {
		*error_r = xasprintf("open %s: %s", dir, strerror(errno));
		free(dir);
		return -1;
	}
	while ((de = readdir(dp)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		size = maildir_name_field(de->d_name, 'S');
		vsize = maildir_name_field(de->d_name, 'W');
		/*
		 * A regular file (d_type) whose name holds S= and W=, as
		 * lmtpd's and Dovecot's do, needs no stat: a POP3 login lists
		 * a 10,000-message cur/ without 10,000 path walks.  Otherwise
		 * (DT_UNKNOWN on some file systems, a symlink, a name without
		 * sizes) stat says what it is.  A file expunged meanwhile
		 * fails later, where it is opened.
		 */
		if (de->d_type != DT_REG || size < 0 || vsize < 0) {
			if (fstatat(dirfd(dp), de->d_name, &st, 0) < 0 ||
			    !S_ISREG(st.st_mode)) {
				/* Expunged meanwhile, or not a message. */
				continue;
			}
			if (size < 0)
				size = (long long) st.st_size;
			if (vsize < 0)
				vsize = maildir_file_vsize(dirfd(dp),
				    de->d_name, (long long) st.st_size);
		}
		if (*count == *alloc) {
			*alloc = *alloc == 0 ? 64 : *alloc * 2;
			*entries = xreallocarray(*entries, *alloc,
			    sizeof(**entries));
		}
		e = &(*entries)[(*count)++];
		e->name = xstrdup(de->d_name);
		e->in_new = in_new;
		e->size = size;
		e->vsize = vsize;
		info = in_new ? NULL : strstr(de->d_name, ":2,");
		e->flags = xstrdup(info != NULL ? info + 3 : "");
	}
	closedir(dp);
	free(dir);
	return 0;
}

/* The number after the first "<key>" following ".M" (0 if none). */
static unsigned long long
maildir_name_number(const char *name, const char *key)
{
	const char *p = strstr(name, ".M");

	if (p == NULL || (p = strstr(p, key)) == NULL)
		return 0;
	return strtoull(p + strlen(key), NULL, 10);
}

/*
 * An entry with its delivery-order key, parsed once: a comparison that
 * parsed both names (strtoull, strstr) cost a 10,000-message listing
 * 130,000 parses of each name part.
 */
struct maildir_sort_item {
	unsigned long long sec, usec, q;
	struct maildir_entry entry;
};

/*
 * Delivery order: seconds, then microseconds, then our delivery counter
 * Q as a number (Q9 before Q10 within one microsecond), then the name.
 */
static int
maildir_sort_cmp(const void *a, const void *b)
{
	const struct maildir_sort_item *x = a, *y = b;

	if (x->sec != y->sec)
		return x->sec < y->sec ? -1 : 1;
	if (x->usec != y->usec)
		return x->usec < y->usec ? -1 : 1;
	if (x->q != y->q)
		return x->q < y->q ? -1 : 1;
	return strcmp(x->entry.name, y->entry.name);
}

static void
maildir_sort(struct maildir_entry *entries, size_t count)
{
	struct maildir_sort_item *items;
	const char *name, *p;
	size_t i;

	items = xreallocarray(NULL, count, sizeof(*items));
	for (i = 0; i < count; i++) {
		name = entries[i].name;
		items[i].entry = entries[i];
		items[i].sec = strtoull(name, NULL, 10);
		p = strstr(name, ".M");
		items[i].usec = p != NULL ? strtoull(p + 2, NULL, 10) : 0;
		items[i].q = maildir_name_number(name, "Q");
	}
	qsort(items, count, sizeof(*items), maildir_sort_cmp);
	for (i = 0; i < count; i++)
		entries[i] = items[i].entry;
	free(items);
}

int
maildir_scan(const char *folder_dir, struct maildir_entry **entries_r,
	size_t *count_r, char **error_r)
{
	struct maildir_entry *entries = NULL;
	size_t count = 0, alloc = 0;

	if (maildir_scan_dir(folder_dir, 1, &entries, &count, &alloc,
	    error_r) < 0 ||
	    maildir_scan_dir(folder_dir, 0, &entries, &count, &alloc,
	    error_r) < 0) {
		maildir_entries_free(&entries, count);
		return -1;
	}
	if (count > 1)
		maildir_sort(entries, count);
	*entries_r = entries;
	*count_r = count;
	return 0;
}

void
maildir_entries_free(struct maildir_entry **entriesp, size_t count)
{
	struct maildir_entry *entries = *entriesp;
	size_t i;

	if (entries == NULL)
		return;
	for (i = 0; i < count; i++) {
		free(entries[i].name);
		free(entries[i].flags);
	}
	free(entries);
	*entriesp = NULL;
}

char *
maildir_base_name(const char *name)
{
	const char *info = strstr(name, ":2,");

	return info == NULL ? xstrdup(name) :
	    xstrndup(name, (size_t) (info - name));
}

/*
 * name with its flags replaced by flags sorted (ASCII order) and
 * de-duplicated, only [A-Za-z] kept (caller frees).  One allocation: a
 * STORE on a whole folder makes one such name per message.
 */
static char *
maildir_flagged_name(const char *name, const char *flags)
{
	const char *info = strstr(name, ":2,");
	size_t base = info != NULL ? (size_t) (info - name) : strlen(name);
	unsigned char seen[128] = { 0 };
	size_t n = 0;
	char *out;
	int c;

	for (; *flags != '\0'; flags++) {
		c = (unsigned char) *flags;
		if (((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')) &&
		    !seen[c]) {
			seen[c] = 1;
			n++;
		}
	}
	out = xmalloc(xalloc_add(base, n + 4));
	memcpy(out, name, base);
	memcpy(out + base, ":2,", 3);
	n = base + 3;
	for (c = 'A'; c <= 'z'; c++) {
		if (seen[c])
			out[n++] = (char) c;
	}
	out[n] = '\0';
	return out;
}

/* The end of both: new_name to *new_name_r, or the error of failed. */
static int
maildir_set_flags_end(int failed, const char *what, char *new_name,
	char **new_name_r, char **error_r)
{
	int saved = errno;

	if (failed) {
		*error_r = xasprintf("rename %s: %s", what, strerror(saved));
		free(new_name);
		errno = saved;
		return -1;
	}
	if (new_name_r != NULL)
		*new_name_r = new_name;
	else
		free(new_name);
	return 0;
}

int
maildir_set_flags(const char *folder_dir, const char *name, int in_new,
	const char *flags, char **new_name_r, char **error_r)
{
	char *new_name = maildir_flagged_name(name, flags);
	char *from = xasprintf("%s/%s/%s", folder_dir, in_new ? "new" : "cur",
	    name);
	char *to = xasprintf("%s/cur/%s", folder_dir, new_name);
	struct stat st;
	int ret;

	/* Same name: no rename, but a vanished message must still show. */
	ret = maildir_set_flags_end(strcmp(from, to) == 0 ?
	    stat(from, &st) < 0 : rename(from, to) < 0, from, new_name,
	    new_name_r, error_r);
	free(from);
	free(to);
	return ret;
}

int
maildir_set_flags_at(int from_dir_fd, int cur_dir_fd, const char *name,
	const char *flags, char **new_name_r, char **error_r)
{
	char *new_name = maildir_flagged_name(name, flags);
	struct stat st;

	return maildir_set_flags_end(from_dir_fd == cur_dir_fd &&
	    strcmp(name, new_name) == 0 ?
	    fstatat(cur_dir_fd, name, &st, 0) < 0 :
	    renameat(from_dir_fd, name, cur_dir_fd, new_name) < 0, name,
	    new_name, new_name_r, error_r);
}

/* Sum the S= sizes of one folder's new/ and cur/. */
static int
maildir_quota_sum(const char *folder_dir, long long *bytes,
	long long *count, char **error_r)
{
	struct maildir_entry *entries;
	size_t n, i;

	if (maildir_scan(folder_dir, &entries, &n, error_r) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		/* Messages marked deleted (T) do not count, as in Maildir++. */
		if (strchr(entries[i].flags, 'T') != NULL)
			continue;
		*bytes += entries[i].size;
		(*count)++;
	}
	maildir_entries_free(&entries, n);
	return 0;
}

int
maildir_quota_recalc(const char *root, long long bytes_limit,
	long long count_limit, struct maildir_quota *quota_r, char **error_r)
{
	struct maildir_quota q = { bytes_limit, count_limit, 0, 0 };
	struct dirent *de;
	char *path, *tmp;
	DIR *dp;
	FILE *f;
	int fd;

	if (maildir_quota_sum(root, &q.bytes, &q.count, error_r) < 0)
		return -1;
	dp = opendir(root);
	if (dp == NULL) {
		*error_r = xasprintf("open %s: %s", root, strerror(errno));
		return -1;
	}
	while ((de = readdir(dp)) != NULL) {
		if (de->d_name[0] != '.' || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		path = xasprintf("%s/%s", root, de->d_name);
		/* A folder that vanished meanwhile counts nothing. */
		if (maildir_quota_sum(path, &q.bytes, &q.count, error_r) < 0)
			free(*error_r);
		free(path);
	}
	closedir(dp);
	tmp = xasprintf("%s/tmp/maildirsize.%ld", root, (long) getpid());
	path = xasprintf("%s/maildirsize", root);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	f = fd < 0 ? NULL : fdopen(fd, "w");
	if (f == NULL) {
		*error_r = xasprintf("create %s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		free(tmp);
		free(path);
		return -1;
	}
	fprintf(f, "%lldS,%lldC\n%lld %lld\n", q.bytes_limit, q.count_limit,
	    q.bytes, q.count);
	if (fflush(f) != 0 || fsync(fileno(f)) < 0 || fclose(f) != 0 ||
	    rename(tmp, path) < 0) {
		*error_r = xasprintf("write %s: %s", path, strerror(errno));
		(void) unlink(tmp);
		free(tmp);
		free(path);
		return -1;
	}
	free(tmp);
	free(path);
	if (quota_r != NULL)
		*quota_r = q;
	return 0;
}

/* Parse "<n>S,<n>C" (either part may be missing). */
static int
maildir_quota_parse_limits(const char *line, struct maildir_quota *q)
{
	const char *p = line;
	char *end;
	long long v;

	q->bytes_limit = q->count_limit = 0;
	while (*p != '\0') {
		v = strtoll(p, &end, 10);
		if (end == p || v < 0)
			return -1;
		if (*end == 'S')
			q->bytes_limit = v;
		else if (*end == 'C')
			q->count_limit = v;
		else
			return -1;
		p = end + 1;
		if (*p == ',')
			p++;
	}
	return 0;
}

/* A maildirsize line is at most this long (the limits line included). */
#define MAILDIRSIZE_LINE_MAX 126
/* Digits of one number at most: 18 cannot overflow a long long. */
#define MAILDIRSIZE_DIGITS_MAX 18

/*
 * "<bytes> <count>" at p (either signed, spaces around them, as
 * Maildir++ writers do); *p moves to the line's end.  0 ok, -1 damaged.
 */
static int
maildir_quota_parse_number(const char **p, const char *end, long long *v_r)
{
	const char *s = *p;
	long long v = 0;
	int negative = 0, digits = 0;

	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	if (s < end && (*s == '-' || *s == '+'))
		negative = *s++ == '-';
	for (; s < end && *s >= '0' && *s <= '9'; s++) {
		if (++digits > MAILDIRSIZE_DIGITS_MAX)
			return -1;
		v = v * 10 + (*s - '0');
	}
	if (digits == 0)
		return -1;
	*v_r = negative ? -v : v;
	*p = s;
	return 0;
}

/*
 * Parse the text of maildirsize (len bytes, NUL after them): the limits,
 * then the usage lines summed.  0 ok, -1 damaged (*q holds the limits if
 * they were read).
 */
static int
maildir_quota_parse(char *text, size_t len, struct maildir_quota *q)
{
	char *line = text, *eol, *end = text + len;
	const char *p;
	long long b, c;

	/* A NUL would hide a line's rest; a last line without LF is cut. */
	if (len == 0 || text[len - 1] != '\n' || memchr(text, '\0', len))
		return -1;
	for (; line < end; line = eol + 1) {
		eol = memchr(line, '\n', (size_t) (end - line));
		if (eol - line > MAILDIRSIZE_LINE_MAX)
			return -1;
		*eol = '\0';
		if (line == text) {
			if (maildir_quota_parse_limits(line, q) < 0)
				return -1;
			continue;
		}
		p = line;
		if (maildir_quota_parse_number(&p, eol, &b) < 0 ||
		    p == eol || (*p != ' ' && *p != '\t') ||
		    maildir_quota_parse_number(&p, eol, &c) < 0 ||
		    __builtin_add_overflow(q->bytes, b, &q->bytes) ||
		    __builtin_add_overflow(q->count, c, &q->count))
			return -1;
	}
	return q->bytes < 0 || q->count < 0 ? -1 : 0;
}

/*
 * Read maildirsize without changing it: open, fstat, one read (the file
 * is at most MAILDIRSIZE_MAX bytes, or it is recalculated anyway).  0
 * ok, *st_r (may be NULL) the file read; -1 when missing, damaged or
 * past MAILDIRSIZE_MAX (then *q holds the limits if they were read).
 */
static int
maildir_quota_read(const char *root, struct maildir_quota *q,
	struct stat *st_r)
{
	char *path = xasprintf("%s/maildirsize", root);
	char text[MAILDIRSIZE_MAX + 2];
	struct stat st;
	ssize_t n = -1;
	int fd;

	memset(q, 0, sizeof(*q));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd < 0)
		return -1;
	/* A short read of a regular file is its end. */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_size <= MAILDIRSIZE_MAX)
		n = read(fd, text, MAILDIRSIZE_MAX + 1);
	close(fd);
	if (n < 0 || n > MAILDIRSIZE_MAX)
		return -1;
	text[n] = '\0';
	if (maildir_quota_parse(text, (size_t) n, q) < 0)
		return -1;
	if (st_r != NULL)
		*st_r = st;
	return 0;
}

int
maildir_quota_peek(const char *root, struct maildir_quota *quota_r)
{
	return maildir_quota_read(root, quota_r, NULL) < 0 ? 0 : 1;
}

int
maildir_quota_get_stat(const char *root, long long limit,
	struct maildir_quota *quota_r, struct stat *st_r, char **error_r)
{
	struct maildir_quota q;
	struct stat st;
	int ok;

	ok = maildir_quota_read(root, &q, &st) == 0;
	/* The directory's quota changed: write the new limit. */
	if (ok && limit >= 0 && q.bytes_limit != limit)
		ok = 0;
	if (ok) {
		*quota_r = q;
		if (st_r != NULL)
			*st_r = st;
		return 0;
	}
	if (st_r != NULL)
		memset(st_r, 0, sizeof(*st_r));
	/* Missing, damaged or too long: count the files again. */
	return maildir_quota_recalc(root, limit >= 0 ? limit :
	    q.bytes_limit, q.count_limit, quota_r, error_r);
}

int
maildir_quota_get(const char *root, long long limit,
	struct maildir_quota *quota_r, char **error_r)
{
	return maildir_quota_get_stat(root, limit, quota_r, NULL, error_r);
}

int
maildir_quota_add(const char *root, long long bytes, long long count,
	char **error_r)
{
	char *path = xasprintf("%s/maildirsize", root);
	char line[64];
	int fd, n;

	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0) {
		/* No file yet: the next maildir_quota_get() counts afresh. */
		free(path);
		if (errno == ENOENT)
			return 0;
		*error_r = xasprintf("open maildirsize: %s", strerror(errno));
		return -1;
	}
	n = snprintf(line, sizeof(line), "%lld %lld\n", bytes, count);
	/* One write(2) with O_APPEND: lines from processes never mix. */
	if (write(fd, line, (size_t) n) != n) {
		*error_r = xasprintf("write %s: %s", path, strerror(errno));
		/*
		 * Disk full: part of the line may be there, and the next
		 * line would join it into a wrong number.  The file is
		 * only a cache (Maildir++): remove it, the next
		 * maildir_quota_get() counts the files again.
		 */
		(void) unlink(path);
		close(fd);
		free(path);
		return -1;
	}
	close(fd);
	free(path);
	return 0;
}

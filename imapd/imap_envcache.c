/*
 * imap_envcache: the folder's cache of FETCH ENVELOPE answers (format and
 * rules in imap_envcache.h and ispmail-envcache(5)).
 *
 * The session keeps the file's bytes in memory as read, followed by the
 * records it computed since (the pending ones), and a hash table from
 * base name to the last record of that base.  Reading validates every
 * record (framing, numbers, name, hash) before it is indexed, so a
 * damaged or truncated file only loses records, never serves wrong ones.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "hash.h"
#include "imap.h"
#include "imap_envcache.h"
#include "imap_mailbox.h"
#include "imap_uidlist.h"
#include "log.h"
#include "xalloc.h"

#define ENVCACHE_HEADER "ispmail-envcache 1\n"
#define ENVCACHE_HEADER_LEN (sizeof(ENVCACHE_HEADER) - 1)
/* "E size mtime length base hash": 20 + 20 + 5 digits, 255, 16. */
#define ENVCACHE_BASE_MAX 255
#define ENVCACHE_LINE_MAX 340
/* Files smaller than this are not rebuilt for their dead records. */
#define ENVCACHE_COMPACT_MIN ((size_t) 64 * 1024)

struct envcache_entry {
	size_t rec_off;		/* the record in cache->data */
	size_t rec_len;
	size_t base_off;
	size_t env_off;
	size_t env_len;
	uint64_t size;
	uint64_t mtime;
	uint16_t base_len;
};

struct imap_envcache {
	struct buf *data;	/* the file as read, then pending records */
	size_t file_len;	/* how much of data is the file */
	size_t parsed;		/* records read up to here */
	int damaged;		/* reading stopped at a bad record */
	dev_t dev;		/* the file read (0/0: none yet) */
	ino_t ino;
	struct envcache_entry *entries;
	size_t count;
	size_t alloc;
	uint32_t *slots;	/* entry index + 1; 0: empty */
	size_t slot_count;	/* a power of two, or 0 */
};

struct imap_envcache *
imap_envcache_new(void)
{
	struct imap_envcache *cache = xcalloc(1, sizeof(*cache));

	cache->data = buf_new(IMAP_ENVCACHE_MAX);
	return cache;
}

void
imap_envcache_free(struct imap_envcache **cachep)
{
	struct imap_envcache *cache = *cachep;

	if (cache == NULL)
		return;
	buf_free(&cache->data);
	free(cache->entries);
	free(cache->slots);
	free(cache);
	*cachep = NULL;
}

/* Forget everything: the next refresh reads the whole file again. */
static void
envcache_reset(struct imap_envcache *cache)
{
	buf_reset(cache->data);
	cache->file_len = 0;
	cache->parsed = 0;
	cache->damaged = 0;
	cache->dev = 0;
	cache->ino = 0;
	cache->count = 0;
	if (cache->slot_count > 0)
		memset(cache->slots, 0, cache->slot_count *
		    sizeof(*cache->slots));
}

static uint64_t
envcache_base_hash(const char *base, size_t len)
{
	return fnv1a64_update(FNV1A64_BASIS, base, len);
}

/* The slot of base: its entry's, or the empty one where it would go. */
static size_t
envcache_slot(const struct imap_envcache *cache, const char *base,
	size_t len)
{
	const char *data = buf_cstr(cache->data);
	size_t mask = cache->slot_count - 1;
	size_t i = (size_t) envcache_base_hash(base, len) & mask;
	const struct envcache_entry *e;

	for (;; i = (i + 1) & mask) {
		if (cache->slots[i] == 0)
			return i;
		e = &cache->entries[cache->slots[i] - 1];
		if (e->base_len == len &&
		    memcmp(data + e->base_off, base, len) == 0)
			return i;
	}
}

static void
envcache_grow(struct imap_envcache *cache)
{
	const char *data = buf_cstr(cache->data);
	size_t i, n = cache->slot_count == 0 ? 1024 : cache->slot_count * 2;
	const struct envcache_entry *e;

	free(cache->slots);
	cache->slots = xcalloc(n, sizeof(*cache->slots));
	cache->slot_count = n;
	/* Bases are unique in entries: each goes to its own empty slot. */
	for (i = 0; i < cache->count; i++) {
		e = &cache->entries[i];
		cache->slots[envcache_slot(cache, data + e->base_off,
		    e->base_len)] = (uint32_t) i + 1;
	}
}

/* Index a record that was checked; a base's later record replaces. */
static void
envcache_index(struct imap_envcache *cache, const struct envcache_entry *e)
{
	const char *data = buf_cstr(cache->data);
	size_t slot;

	if ((cache->count + 1) * 2 > cache->slot_count)
		envcache_grow(cache);
	slot = envcache_slot(cache, data + e->base_off, e->base_len);
	if (cache->slots[slot] != 0) {
		cache->entries[cache->slots[slot] - 1] = *e;
		return;
	}
	if (cache->count == cache->alloc) {
		cache->alloc = cache->alloc == 0 ? 256 : cache->alloc * 2;
		cache->entries = xreallocarray(cache->entries, cache->alloc,
		    sizeof(*cache->entries));
	}
	cache->entries[cache->count] = *e;
	cache->slots[slot] = (uint32_t) ++cache->count;
}

/* Decimal digits at *p up to a blank, at most max; -1 when not. */
static int
envcache_number(const char **p, const char *end, uint64_t max,
	uint64_t *v_r)
{
	const char *s = *p;
	uint64_t v = 0;

	if (s >= end || *s < '0' || *s > '9')
		return -1;
	for (; s < end && *s >= '0' && *s <= '9'; s++) {
		if (v > (max - (uint64_t) (*s - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t) (*s - '0');
	}
	if (s >= end || *s != ' ')
		return -1;
	*p = s + 1;
	*v_r = v;
	return 0;
}

static int
envcache_base_char(unsigned char c)
{
	return c > ' ' && c < 0x7f && c != '/' && c != ':';
}

static int
envcache_hex(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * Check the record at data[pos] and fill *e; the offset after it, or 0
 * when the record is damaged or cut short.
 */
static size_t
envcache_record(const char *data, size_t len, size_t pos,
	struct envcache_entry *e)
{
	const char *start = data + pos, *p = start, *end, *nl, *hash_at;
	size_t avail = len - pos, i;
	uint64_t env_len, h, want = 0;
	int d;

	nl = memchr(p, '\n', avail < ENVCACHE_LINE_MAX ? avail :
	    ENVCACHE_LINE_MAX);
	if (nl == NULL || avail < 2 || p[0] != 'E' || p[1] != ' ')
		return 0;
	end = nl;
	p += 2;
	if (envcache_number(&p, end, UINT64_MAX, &e->size) < 0 ||
	    envcache_number(&p, end, UINT64_MAX, &e->mtime) < 0 ||
	    envcache_number(&p, end, IMAP_ENVCACHE_ENTRY_MAX, &env_len) < 0)
		return 0;
	e->base_off = (size_t) (p - data);
	for (i = 0; p < end && envcache_base_char((unsigned char) *p); p++)
		i++;
	if (i == 0 || i > ENVCACHE_BASE_MAX || p >= end || *p != ' ')
		return 0;
	e->base_len = (uint16_t) i;
	hash_at = ++p;
	if (end - hash_at != 16)
		return 0;
	for (; p < end; p++) {
		if ((d = envcache_hex((unsigned char) *p)) < 0)
			return 0;
		want = want << 4 | (uint64_t) d;
	}
	/* The envelope and its newline. */
	if ((size_t) (nl + 1 - data) + env_len + 1 > len ||
	    nl[1 + env_len] != '\n')
		return 0;
	h = fnv1a64_update(FNV1A64_BASIS, start, (size_t) (hash_at - start));
	h = fnv1a64_update(h, nl + 1, (size_t) env_len);
	if (h != want)
		return 0;
	e->rec_off = pos;
	e->env_off = (size_t) (nl + 1 - data);
	e->env_len = (size_t) env_len;
	e->rec_len = e->env_off + e->env_len + 1 - pos;
	return pos + e->rec_len;
}

/* Index the records of data from cache->parsed on; stop at damage. */
static void
envcache_parse(struct imap_envcache *cache)
{
	const char *data = buf_cstr(cache->data);
	size_t len = buf_len(cache->data), next;
	struct envcache_entry e;

	if (cache->damaged || len == 0)
		return;
	if (cache->parsed == 0) {
		if (len < ENVCACHE_HEADER_LEN || memcmp(data, ENVCACHE_HEADER,
		    ENVCACHE_HEADER_LEN) != 0) {
			cache->damaged = 1;
			return;
		}
		cache->parsed = ENVCACHE_HEADER_LEN;
	}
	while (cache->parsed < len) {
		memset(&e, 0, sizeof(e));
		next = envcache_record(data, len, cache->parsed, &e);
		if (next == 0) {
			cache->damaged = 1;
			return;
		}
		envcache_index(cache, &e);
		cache->parsed = next;
	}
}

size_t
imap_envcache_load(struct imap_envcache *cache, const char *data, size_t len,
	int *damaged_r)
{
	envcache_reset(cache);
	if (len > IMAP_ENVCACHE_MAX ||
	    buf_append(cache->data, data, len) < 0) {
		cache->damaged = 1;
		*damaged_r = 1;
		return 0;
	}
	cache->file_len = len;
	envcache_parse(cache);
	*damaged_r = cache->damaged;
	return cache->count;
}

static char *
envcache_path(const char *dir)
{
	return xasprintf("%s/%s", dir, IMAP_ENVCACHE_NAME);
}

int
imap_envcache_refresh(struct imap_envcache *cache, const char *dir,
	size_t max_read)
{
	char *path = envcache_path(dir), *chunk;
	struct stat st;
	size_t want, got = 0;
	ssize_t n;
	int fd;

	if (buf_len(cache->data) != cache->file_len)
		envcache_reset(cache);	/* pending records never flushed */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	free(path);
	if (fd < 0) {
		envcache_reset(cache);
		return 0;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		(void) close(fd);
		envcache_reset(cache);
		return 0;
	}
	if (st.st_dev != cache->dev || st.st_ino != cache->ino ||
	    (size_t) st.st_size < cache->file_len) {
		envcache_reset(cache);
		cache->dev = st.st_dev;
		cache->ino = st.st_ino;
	}
	if (cache->file_len == 0 && (size_t) st.st_size > max_read) {
		(void) close(fd);
		envcache_reset(cache);
		return -1;
	}
	if ((size_t) st.st_size > IMAP_ENVCACHE_MAX) {
		cache->damaged = 1;
		(void) close(fd);
		return 0;
	}
	want = (size_t) st.st_size - cache->file_len;
	if (want > 0) {
		chunk = xmalloc(want);
		while (got < want) {
			n = pread(fd, chunk + got, want - got,
			    (off_t) (cache->file_len + got));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			got += (size_t) n;
		}
		(void) buf_append(cache->data, chunk, got);
		cache->file_len += got;
		free(chunk);
	}
	(void) close(fd);
	envcache_parse(cache);
	return 0;
}

const char *
imap_envcache_get(const struct imap_envcache *cache, const char *base,
	size_t base_len, uint64_t size, uint64_t mtime, size_t *len_r)
{
	const struct envcache_entry *e;
	size_t slot;

	if (cache->slot_count == 0)
		return NULL;
	slot = envcache_slot(cache, base, base_len);
	if (cache->slots[slot] == 0)
		return NULL;
	e = &cache->entries[cache->slots[slot] - 1];
	if (e->size != size || e->mtime != mtime)
		return NULL;
	*len_r = e->env_len;
	return buf_cstr(cache->data) + e->env_off;
}

void
imap_envcache_put(struct imap_envcache *cache, const char *base,
	size_t base_len, uint64_t size, uint64_t mtime, const char *env,
	size_t env_len)
{
	struct buf *data = cache->data;
	size_t pos = buf_len(data), i;
	char line[ENVCACHE_LINE_MAX];
	struct envcache_entry e;
	uint64_t h;
	int n;

	if (base_len == 0 || base_len > ENVCACHE_BASE_MAX ||
	    env_len > IMAP_ENVCACHE_ENTRY_MAX)
		return;
	for (i = 0; i < base_len; i++)
		if (!envcache_base_char((unsigned char) base[i]))
			return;
	n = snprintf(line, sizeof(line), "E %llu %llu %zu %.*s ",
	    (unsigned long long) size, (unsigned long long) mtime, env_len,
	    (int) base_len, base);
	if (n < 0 || (size_t) n >= sizeof(line) - 17)
		return;
	h = fnv1a64_update(FNV1A64_BASIS, line, (size_t) n);
	h = fnv1a64_update(h, env, env_len);
	if ((pos == 0 && buf_append_str(data, ENVCACHE_HEADER) < 0) ||
	    buf_append(data, line, (size_t) n) < 0 ||
	    buf_printf(data, "%016llx\n", (unsigned long long) h) < 0 ||
	    buf_append(data, env, env_len) < 0 ||
	    buf_append_char(data, '\n') < 0) {
		buf_truncate(data, pos);	/* full: not kept */
		return;
	}
	if (pos == 0)
		pos = ENVCACHE_HEADER_LEN;
	memset(&e, 0, sizeof(e));
	if (envcache_record(buf_cstr(data), buf_len(data), pos, &e) > 0)
		envcache_index(cache, &e);
}

/* Bytes of data that are the last records of msgs' bases. */
static size_t
envcache_live(const struct imap_envcache *cache, const struct imap_msg *msgs,
	size_t count, struct buf *out)
{
	const char *data = buf_cstr(cache->data);
	const struct envcache_entry *e;
	size_t i, len, slot, live = 0;

	if (cache->slot_count == 0)
		return 0;
	for (i = 0; i < count; i++) {
		if (msgs[i].uid == 0)
			continue;
		len = imap_uidlist_base_len(msgs[i].name);
		slot = envcache_slot(cache, msgs[i].name, len);
		if (cache->slots[slot] == 0)
			continue;
		e = &cache->entries[cache->slots[slot] - 1];
		live += e->rec_len;
		if (out != NULL)
			(void) buf_append(out, data + e->rec_off, e->rec_len);
	}
	return live;
}

/* Write the records of msgs to a new file renamed over path. */
static void
envcache_rebuild(struct imap_envcache *cache, const char *dir,
	const char *path, const struct imap_msg *msgs, size_t count)
{
	struct buf *out = buf_new(IMAP_ENVCACHE_MAX);
	char *tmp = xasprintf("%s/%s.%ld.tmp", dir, IMAP_ENVCACHE_NAME,
	    (long) getpid());
	int fd;

	(void) buf_append_str(out, ENVCACHE_HEADER);
	(void) envcache_live(cache, msgs, count, out);
	(void) unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd < 0 || write(fd, buf_cstr(out), buf_len(out)) !=
	    (ssize_t) buf_len(out) || close(fd) < 0 ||
	    rename(tmp, path) < 0) {
		log_warn("envelope cache %s: %s", path, strerror(errno));
		if (fd >= 0)
			(void) unlink(tmp);
	}
	free(tmp);
	buf_free(&out);
}

void
imap_envcache_flush(struct imap_envcache *cache, const char *dir,
	const struct imap_msg *msgs, size_t count)
{
	size_t len = buf_len(cache->data), pending = len - cache->file_len;
	size_t total = len > ENVCACHE_HEADER_LEN ? len - ENVCACHE_HEADER_LEN :
	    0, live;
	char *path;
	struct stat st, lst;
	int fd, rebuild;

	if (cache->file_len == 0 && pending == 0)
		return;		/* no file, nothing to write */
	live = envcache_live(cache, msgs, count, NULL);
	rebuild = cache->damaged || cache->file_len == 0 ||
	    (total > ENVCACHE_COMPACT_MIN && live < total / 2);
	/* Records of expunged messages go at the next compaction. */
	if (pending == 0 && !rebuild)
		return;
	path = envcache_path(dir);
	fd = open(path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC);
	if (fd < 0 && errno != ENOENT) {
		log_warn("envelope cache %s: %s", path, strerror(errno));
	} else if (fd < 0) {
		envcache_rebuild(cache, dir, path, msgs, count);
	} else if (flock(fd, LOCK_EX | LOCK_NB) < 0 || fstat(fd, &st) < 0 ||
	    lstat(path, &lst) < 0 || st.st_ino != lst.st_ino ||
	    st.st_dev != lst.st_dev) {
		/* Busy, or replaced meanwhile: not written this time. */
	} else if (rebuild || (size_t) st.st_size != cache->file_len) {
		/* Damaged, mostly dead, or another session appended. */
		if (rebuild)
			envcache_rebuild(cache, dir, path, msgs, count);
		else if (write(fd, buf_cstr(cache->data) + cache->file_len,
		    pending) != (ssize_t) pending)
			log_warn("envelope cache %s: %s", path,
			    strerror(errno));
	} else if (write(fd, buf_cstr(cache->data) + cache->file_len,
	    pending) == (ssize_t) pending) {
		/* Exactly our image: keep it, nothing to read again. */
		cache->file_len = len;
		free(path);
		(void) close(fd);
		return;
	} else {
		log_warn("envelope cache %s: %s", path, strerror(errno));
	}
	free(path);
	if (fd >= 0)
		(void) close(fd);
	envcache_reset(cache);
}

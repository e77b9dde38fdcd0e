/* imap_modseq: a folder's modification sequences (see imap_modseq.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "imap_keywords.h"
#include "imap_modseq.h"
#include "imap_uidlist.h"
#include "log.h"
#include "stream.h"
#include "xalloc.h"

#define IMAP_MODSEQ_LOCK_WAIT 10000	/* ms we wait for the lock */
#define IMAP_MODSEQ_LINE_MAX 1024
#define IMAP_MODSEQ_LETTERS_MAX 64	/* flag letters of one name */
#define IMAP_MODSEQ_WRITE_BLOCK 262144	/* bytes formatted per write */

struct modseq_entry {
	uint32_t uid;
	uint64_t modseq;
	size_t letters;		/* offset in text: after ":2,"; "" for none */
};

struct modseq_gone {
	uint32_t uid;
	uint64_t modseq;
};

struct imap_modseq {
	char *dir;
	int lock_fd;
	int changed;
	uint64_t highest;
	uint64_t floor;
	struct modseq_entry *entries;	/* ascending UIDs */
	size_t count, alloc;
	/*
	 * Every entry's letters, NUL-terminated, in one block (offset 0 is
	 * ""): a folder of 10,000 messages is read and written without a
	 * malloc per message.  A change appends; the block lives as long
	 * as the record, one command.
	 */
	char *text;
	size_t text_len, text_alloc;
	struct modseq_gone *gone;	/* ascending UIDs */
	size_t gone_count, gone_alloc;
};

/* The flag letters of a file name ("" when it has none). */
static const char *
imap_name_letters(const char *name)
{
	const char *info = imap_name_info(name);

	return info != NULL ? info : "";
}

/* Store len bytes of letters (at most IMAP_MODSEQ_LETTERS_MAX). */
static size_t
imap_text_add(struct imap_modseq *ms, const char *letters, size_t len)
{
	size_t at;

	if (len == 0)
		return 0;
	if (ms->text_alloc - ms->text_len < len + 1) {
		ms->text_alloc = xalloc_add(xalloc_mul(ms->text_alloc, 2),
		    len + 1);
		ms->text = xrealloc(ms->text, ms->text_alloc);
	}
	at = ms->text_len;
	memcpy(ms->text + at, letters, len);
	ms->text[at + len] = '\0';
	ms->text_len += len + 1;
	return at;
}

static const char *
imap_entry_letters(const struct imap_modseq *ms, const struct modseq_entry *e)
{
	return ms->text + e->letters;
}

/* letters: an offset in ms->text (imap_text_add). */
static void
imap_entry_add(struct imap_modseq *ms, uint32_t uid, uint64_t modseq,
	size_t letters)
{
	if (ms->count == ms->alloc) {
		ms->alloc = ms->alloc == 0 ? 64 : ms->alloc * 2;
		ms->entries = xreallocarray(ms->entries, ms->alloc,
		    sizeof(*ms->entries));
	}
	ms->entries[ms->count].uid = uid;
	ms->entries[ms->count].modseq = modseq;
	ms->entries[ms->count].letters = letters;
	ms->count++;
}

static void
imap_gone_add(struct imap_modseq *ms, uint32_t uid, uint64_t modseq)
{
	if (ms->gone_count == ms->gone_alloc) {
		ms->gone_alloc = ms->gone_alloc == 0 ? 64 : ms->gone_alloc * 2;
		ms->gone = xreallocarray(ms->gone, ms->gone_alloc,
		    sizeof(*ms->gone));
	}
	ms->gone[ms->gone_count].uid = uid;
	ms->gone[ms->gone_count].modseq = modseq;
	ms->gone_count++;
}

static void
imap_entries_clear(struct imap_modseq *ms)
{
	ms->count = 0;
	ms->gone_count = 0;
	ms->text_len = 1;	/* keeps offset 0, "" */
}

/*
 * Parse a decimal number at *p, followed by stop: the value, or -1
 * when there is none, it has more than 20 digits or overflows.
 */
static int
imap_parse_u64(const char **p, char stop, unsigned long long *value_r)
{
	const char *s = *p;
	unsigned long long v = 0;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (ULLONG_MAX - 9) / 10)
			return -1;
		v = v * 10 + (unsigned long long) (*s - '0');
	}
	if (*s != stop)
		return -1;
	*p = s + 1;
	*value_r = v;
	return 0;
}

/*
 * One "<uid> <modseq> <letters>" or "X <uid> <modseq>" line, its
 * newline already cut: 0, or -1 when damaged.  Parsed by hand: sscanf
 * cost more than the rest of a record's read together.
 */
static int
imap_modseq_parse(struct imap_modseq *ms, const char *line,
	uint64_t highest, unsigned long long *last_uid,
	unsigned long long *last_gone)
{
	unsigned long long uid, modseq;
	const char *p = line;
	size_t len;
	int gone = p[0] == 'X' && p[1] == ' ';

	if (gone)
		p += 2;
	if (imap_parse_u64(&p, ' ', &uid) < 0 || uid == 0 ||
	    uid > UINT32_MAX)
		return -1;
	if (gone) {
		if (imap_parse_u64(&p, '\0', &modseq) < 0 ||
		    uid <= *last_gone || modseq > highest)
			return -1;
		*last_gone = uid;
		imap_gone_add(ms, (uint32_t) uid, modseq);
		return 0;
	}
	if (imap_parse_u64(&p, ' ', &modseq) < 0 || uid <= *last_uid ||
	    modseq > highest)
		return -1;
	/* The rest of the line: a name's letters may hold a space. */
	len = strlen(p);
	if (len == 0 || len > IMAP_MODSEQ_LETTERS_MAX)
		return -1;
	*last_uid = uid;
	imap_entry_add(ms, (uint32_t) uid, modseq, strcmp(p, "-") == 0 ? 0 :
	    imap_text_add(ms, p, len));
	return 0;
}

/*
 * Read the record.  1 read, 0 missing, -1 damaged (*highest_r is the
 * old HIGHESTMODSEQ when the header was readable), -2 an I/O error.
 * The file is read whole and split with memchr (a 10,000-message record
 * line by line through fgets was a fifth of a one-message STORE).  A
 * line past IMAP_MODSEQ_LINE_MAX, without its newline or holding a NUL
 * damages the record, as it did when read with fgets.
 */
static int
imap_modseq_read(struct imap_modseq *ms, uint64_t *highest_r,
	char **error_r)
{
	char *path = xasprintf("%s/%s", ms->dir, IMAP_MODSEQ_NAME);
	char *text, *line, *nl, *end;
	unsigned long long highest, floor, last_uid = 0, last_gone = 0;
	size_t len;
	int ret = 1;
	FILE *f;

	*highest_r = 0;
	if ((ret = imap_open_existing(path, &f, error_r)) <= 0) {
		free(path);
		return ret;
	}
	if (imap_slurp(f, &text, &len) < 0) {
		*error_r = xasprintf("read %s: %s", path, strerror(errno));
		fclose(f);
		free(path);
		return -2;
	}
	fclose(f);
	free(path);
	end = text + len;
	if ((nl = memchr(text, '\n', len)) == NULL)
		nl = end;
	*nl = '\0';
	if (nl - text > IMAP_MODSEQ_LINE_MAX ||
	    sscanf(text, "ispmail-modseq 1 %llu %llu", &highest, &floor) != 2 ||
	    floor > highest) {
		free(text);
		return -1;
	}
	*highest_r = highest;
	ms->highest = highest;
	ms->floor = floor;
	for (line = nl < end ? nl + 1 : end; line < end; line = nl + 1) {
		if ((nl = memchr(line, '\n', (size_t) (end - line))) == NULL ||
		    nl - line > IMAP_MODSEQ_LINE_MAX ||
		    memchr(line, '\0', (size_t) (nl - line)) != NULL) {
			ret = -1;
			break;
		}
		*nl = '\0';
		if (imap_modseq_parse(ms, line, highest, &last_uid,
		    &last_gone) < 0) {
			ret = -1;
			break;
		}
	}
	free(text);
	return ret;
}

static int
imap_modseq_lock(struct imap_modseq *ms, char **error_r)
{
	char *path = xasprintf("%s/%s.lock", ms->dir, IMAP_MODSEQ_NAME);
	int waited = 0;

	ms->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (ms->lock_fd < 0) {
		*error_r = xasprintf("open %s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	/* Never a blocking flock: the other sessions of the process run. */
	while (flock(ms->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		if ((errno != EWOULDBLOCK && errno != EINTR) ||
		    waited >= IMAP_MODSEQ_LOCK_WAIT) {
			*error_r = xasprintf("flock %s: %s", path,
			    errno == EWOULDBLOCK ? "timed out" :
			    strerror(errno));
			free(path);
			return -1;
		}
		stream_pause(5);
		waited += 5;
	}
	free(path);
	return 0;
}

struct imap_modseq *
imap_modseq_begin(const char *dir, char **error_r)
{
	struct imap_modseq *ms = xcalloc(1, sizeof(*ms));
	uint64_t old_highest, seed;
	struct timespec now;
	int rc;

	ms->dir = xstrdup(dir);
	ms->lock_fd = -1;
	ms->text = xcalloc(1, 256);	/* offset 0: "" */
	ms->text_len = 1;
	ms->text_alloc = 256;
	if (imap_modseq_lock(ms, error_r) < 0 ||
	    (rc = imap_modseq_read(ms, &old_highest, error_r)) == -2) {
		if (ms->lock_fd >= 0)
			close(ms->lock_fd);
		free(ms->entries);
		free(ms->gone);
		free(ms->text);
		free(ms->dir);
		free(ms);
		return NULL;
	}
	if (rc <= 0) {
		/* Lost or damaged: above anything it gave out (see .h). */
		if (rc < 0)
			log_warn("%s/%s damaged: rebuilt", dir,
			    IMAP_MODSEQ_NAME);
		imap_entries_clear(ms);
		clock_gettime(CLOCK_REALTIME, &now);
		seed = (uint64_t) now.tv_sec * 1000000 +
		    (uint64_t) now.tv_nsec / 1000;
		ms->highest = seed > old_highest ? seed : old_highest + 1;
		ms->floor = ms->highest;
		ms->changed = 1;
	}
	return ms;
}

/* v in decimal, then end, at p (room for 20 digits and end): past it. */
static char *
imap_format_u64(char *p, uint64_t v, char end)
{
	char digits[20];
	size_t n = 0;

	do {
		digits[n++] = (char) ('0' + v % 10);
		v /= 10;
	} while (v != 0);
	while (n > 0)
		*p++ = digits[--n];
	*p++ = end;
	return p;
}

/*
 * Each line is formatted by hand into line[] and handed to stdio whole:
 * fprintf per line was a tenth of a STORE's user time on 10,000
 * messages.  line[] holds "X", two numbers of 20 digits, the letters
 * (at most IMAP_MODSEQ_LETTERS_MAX) and the separators.
 */
static int
imap_modseq_write(struct imap_modseq *ms, char **error_r)
{
	FILE *f = imap_replace_begin(ms->dir, IMAP_MODSEQ_NAME, error_r);
	/* The longest line: "X " or "", two numbers, letters, the end. */
	enum { LINE = 2 + 21 + 21 + IMAP_MODSEQ_LETTERS_MAX + 2 };
	const struct modseq_entry *e;
	const char *letters;
	char *text, *p;
	size_t i, len;

	if (f == NULL)
		return -1;
	/*
	 * Lines formatted into a block written when full: a write per
	 * IMAP_MODSEQ_WRITE_BLOCK, not an fwrite per line.
	 */
	text = xmalloc(IMAP_MODSEQ_WRITE_BLOCK);
	p = text + snprintf(text, LINE, "ispmail-modseq 1 %llu %llu\n",
	    (unsigned long long) ms->highest, (unsigned long long) ms->floor);
	for (i = 0; i < ms->count + ms->gone_count; i++) {
		if ((size_t) (text + IMAP_MODSEQ_WRITE_BLOCK - p) < LINE) {
			(void) fwrite(text, 1, (size_t) (p - text), f);
			p = text;
		}
		if (i >= ms->count) {
			*p++ = 'X';
			*p++ = ' ';
			p = imap_format_u64(p, ms->gone[i - ms->count].uid, ' ');
			p = imap_format_u64(p, ms->gone[i - ms->count].modseq,
			    '\n');
			continue;
		}
		e = &ms->entries[i];
		letters = imap_entry_letters(ms, e);
		len = strlen(letters);
		p = imap_format_u64(p, e->uid, ' ');
		p = imap_format_u64(p, e->modseq, ' ');
		if (len == 0)
			*p++ = '-';
		memcpy(p, letters, len);
		p += len;
		*p++ = '\n';
	}
	(void) fwrite(text, 1, (size_t) (p - text), f);
	free(text);
	return imap_replace_commit(f, ms->dir, IMAP_MODSEQ_NAME, error_r);
}

static int
imap_gone_modseq_cmp(const void *a, const void *b)
{
	const struct modseq_gone *ga = a, *gb = b;

	return ga->modseq < gb->modseq ? -1 : ga->modseq > gb->modseq;
}

static int
imap_gone_uid_cmp(const void *a, const void *b)
{
	const struct modseq_gone *ga = a, *gb = b;

	return ga->uid < gb->uid ? -1 : ga->uid > gb->uid;
}

/* Forget the oldest expunges past the cap, raising the floor. */
static void
imap_gone_trim(struct imap_modseq *ms)
{
	size_t drop;

	if (ms->gone_count <= IMAP_MODSEQ_GONE_MAX)
		return;
	drop = ms->gone_count - IMAP_MODSEQ_GONE_MAX;
	qsort(ms->gone, ms->gone_count, sizeof(*ms->gone),
	    imap_gone_modseq_cmp);
	if (ms->gone[drop - 1].modseq > ms->floor)
		ms->floor = ms->gone[drop - 1].modseq;
	memmove(ms->gone, ms->gone + drop,
	    IMAP_MODSEQ_GONE_MAX * sizeof(*ms->gone));
	ms->gone_count = IMAP_MODSEQ_GONE_MAX;
	qsort(ms->gone, ms->gone_count, sizeof(*ms->gone), imap_gone_uid_cmp);
}

int
imap_modseq_reset(const char *dir, char **error_r)
{
	struct imap_modseq *ms = imap_modseq_begin(dir, error_r);

	if (ms == NULL)
		return -1;
	imap_entries_clear(ms);
	ms->highest = ms->floor = 0;
	ms->changed = 1;
	return imap_modseq_end(&ms, error_r);
}

int
imap_modseq_end(struct imap_modseq **msp, char **error_r)
{
	struct imap_modseq *ms = *msp;
	int ret = 0;

	if (ms == NULL)
		return 0;
	if (ms->changed) {
		imap_gone_trim(ms);
		ret = imap_modseq_write(ms, error_r);
	}
	close(ms->lock_fd);		/* releases the flock */
	free(ms->entries);
	free(ms->gone);
	free(ms->text);
	free(ms->dir);
	free(ms);
	*msp = NULL;
	return ret;
}

static struct modseq_entry *
imap_entry_find(const struct imap_modseq *ms, uint32_t uid)
{
	size_t low = 0, high = ms->count, mid;

	while (low < high) {
		mid = low + (high - low) / 2;
		if (ms->entries[mid].uid == uid)
			return &ms->entries[mid];
		if (ms->entries[mid].uid < uid)
			low = mid + 1;
		else
			high = mid;
	}
	return NULL;
}

/*
 * Merge the expunges found by a reconcile (UID order, from `first` on in
 * ms->gone) into the older ones: one pass, not one insertion each.
 */
static void
imap_gone_merge(struct imap_modseq *ms, size_t first)
{
	struct modseq_gone *merged;
	size_t i = 0, j = first, n = 0;

	if (first == 0 || first == ms->gone_count ||
	    ms->gone[first - 1].uid < ms->gone[first].uid)
		return;		/* already in order */
	merged = xreallocarray(NULL, ms->gone_count, sizeof(*merged));
	while (i < first || j < ms->gone_count) {
		if (j == ms->gone_count || (i < first &&
		    ms->gone[i].uid < ms->gone[j].uid))
			merged[n++] = ms->gone[i++];
		else if (i < first && ms->gone[i].uid == ms->gone[j].uid) {
			i++;	/* the newer expunge of a UID wins */
		} else
			merged[n++] = ms->gone[j++];
	}
	free(ms->gone);
	ms->gone = merged;
	ms->gone_alloc = ms->gone_count;
	ms->gone_count = n;
}

void
imap_modseq_reconcile(struct imap_modseq *ms,
	const struct imap_uidlist_file *files, size_t count,
	uint64_t *modseqs_r)
{
	struct modseq_entry *old = ms->entries;
	size_t old_count = ms->count, i = 0, j = 0, first = ms->gone_count;
	const char *letters;
	size_t len;
	/*
	 * Every change this look finds shares one MODSEQ (RFC 7162 3.1.1
	 * lets changes made at once share one): a folder's first scan puts
	 * all its messages at 1, not 1 to n, which keeps the numbers (and
	 * every FETCH of a resync) short.
	 */
	uint64_t next = ms->highest + 1;
	int found = 0;

	ms->entries = NULL;
	ms->count = ms->alloc = 0;
	/* One merge of two UID-ordered lists. */
	while (i < count || j < old_count) {
		if (i == count || (j < old_count &&
		    old[j].uid < files[i].uid)) {
			imap_gone_add(ms, old[j].uid, next);
			found = 1;
			j++;
			ms->changed = 1;
			continue;
		}
		letters = imap_name_letters(files[i].name);
		if ((len = strlen(letters)) > IMAP_MODSEQ_LETTERS_MAX) {
			letters = "";
			len = 0;
		}
		if (j < old_count && old[j].uid == files[i].uid) {
			if (strcmp(ms->text + old[j].letters, letters) == 0) {
				imap_entry_add(ms, old[j].uid, old[j].modseq,
				    old[j].letters);
			} else {
				imap_entry_add(ms, old[j].uid, next,
				    imap_text_add(ms, letters, len));
				found = 1;
				ms->changed = 1;
			}
			j++;
		} else {
			imap_entry_add(ms, files[i].uid, next,
			    imap_text_add(ms, letters, len));
			found = 1;
			ms->changed = 1;
		}
		if (modseqs_r != NULL)
			modseqs_r[i] = ms->entries[ms->count - 1].modseq;
		i++;
	}
	free(old);
	if (found)
		ms->highest = next;
	imap_gone_merge(ms, first);
}

uint64_t
imap_modseq_of(const struct imap_modseq *ms, uint32_t uid)
{
	const struct modseq_entry *e = imap_entry_find(ms, uid);

	return e != NULL ? e->modseq : 0;
}

uint64_t
imap_modseq_change(struct imap_modseq *ms, uint32_t uid, const char *name)
{
	struct modseq_entry *e = imap_entry_find(ms, uid);
	const char *letters = imap_name_letters(name);
	size_t len = strlen(letters);

	if (len > IMAP_MODSEQ_LETTERS_MAX) {
		letters = "";
		len = 0;
	}
	if (e != NULL && strcmp(imap_entry_letters(ms, e), letters) == 0)
		return e->modseq;	/* no change, no new MODSEQ */
	ms->changed = 1;
	if (e == NULL) {
		/* Not reconciled yet: the next reconcile sorts it in. */
		return ++ms->highest;
	}
	e->letters = imap_text_add(ms, letters, len);
	e->modseq = ++ms->highest;
	return e->modseq;
}

uint64_t
imap_modseq_highest(const struct imap_modseq *ms)
{
	return ms->highest;
}

int
imap_modseq_vanished(const struct imap_modseq *ms, uint64_t since,
	uint32_t **uids_r, size_t *count_r)
{
	uint32_t *uids = xcalloc(ms->gone_count + 1, sizeof(*uids));
	size_t i, n = 0;

	for (i = 0; i < ms->gone_count; i++) {
		if (ms->gone[i].modseq > since)
			uids[n++] = ms->gone[i].uid;
	}
	*uids_r = uids;
	*count_r = n;
	return since >= ms->floor;
}

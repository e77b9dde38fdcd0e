/* imap_uidlist: the per-folder UID list (see imap_uidlist.h). */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "imap_modseq.h"
#include "imap_uidlist.h"
#include "log.h"
#include "mail_params.h"
#include "stream.h"
#include "xalloc.h"

#define IMAP_UIDLIST_LOCK_STALE 30	/* seconds: a holder crashed */
#define IMAP_UIDLIST_LOCK_WAIT 10	/* seconds we wait for a lock */
/* The longest line of the list; base names are far shorter. */
#define IMAP_UIDLIST_LINE_MAX 1024

struct uid_entry {
	char *base;		/* in the list's text */
	size_t len;		/* strlen(base) */
	uint32_t uid;
};

/* The list as read: its text, and the entries pointing into it. */
struct uid_list {
	char *text;
	struct uid_entry *entries;
	size_t count;
};

static void
imap_list_free(struct uid_list *list)
{
	free(list->entries);
	free(list->text);
	memset(list, 0, sizeof(*list));
}

size_t
imap_uidlist_base_len(const char *name)
{
	const char *colon = strchr(name, ':');

	return colon != NULL ? (size_t) (colon - name) : strlen(name);
}

/*
 * Order names by their bases (up to ':' or the end) as memcmp orders
 * bytes, a base before the longer ones it begins.  One pass: SELECT sorts
 * a folder's names with it.
 */
static int
imap_base_cmp(const char *a, const char *b)
{
	const unsigned char *p = (const unsigned char *) a;
	const unsigned char *q = (const unsigned char *) b;
	int end_a, end_b;

	for (;; p++, q++) {
		end_a = *p == '\0' || *p == ':';
		end_b = *q == '\0' || *q == ':';
		if (end_a || end_b)
			return end_a && end_b ? 0 : end_a ? -1 : 1;
		if (*p != *q)
			return *p < *q ? -1 : 1;
	}
}

static int
imap_file_base_cmp(const void *a, const void *b)
{
	const struct imap_uidlist_file *fa = a, *fb = b;

	return imap_base_cmp(fa->name, fb->name);
}

void
imap_uidlist_sort_by_base(struct imap_uidlist_result *r)
{
	if (r->count > 1)
		qsort(r->files, r->count, sizeof(*r->files),
		    imap_file_base_cmp);
}

/* bsearch: a base name against a file. */
static int
imap_base_key_cmp(const void *key, const void *elem)
{
	const struct imap_uidlist_file *f = elem;

	return imap_base_cmp(key, f->name);
}

uint32_t
imap_uidlist_find_base(const struct imap_uidlist_result *r,
	const char *base)
{
	const struct imap_uidlist_file *found;

	if (r->count == 0)
		return 0;
	found = bsearch(base, r->files, r->count, sizeof(*r->files),
	    imap_base_key_cmp);
	return found != NULL ? found->uid : 0;
}

static int
imap_entry_cmp(const void *a, const void *b)
{
	const struct uid_entry *ea = a, *eb = b;

	return strcmp(ea->base, eb->base);
}

static int
imap_file_uid_cmp(const void *a, const void *b)
{
	const struct imap_uidlist_file *fa = a, *fb = b;

	return fa->uid < fb->uid ? -1 : fa->uid > fb->uid;
}

/* "<sec>.M<usec>P..." (our names) or "<sec>...", for delivery order. */
static void
imap_delivery_time(const char *name, unsigned long long *sec_r,
	unsigned long long *usec_r)
{
	char *end;

	*sec_r = strtoull(name, &end, 10);
	*usec_r = 0;
	if (end[0] == '.' && end[1] == 'M')
		*usec_r = strtoull(end + 2, NULL, 10);
}

static int
imap_file_delivery_cmp(const void *a, const void *b)
{
	const struct imap_uidlist_file *fa = a, *fb = b;
	unsigned long long sa, ua, sb, ub;

	imap_delivery_time(fa->name, &sa, &ua);
	imap_delivery_time(fb->name, &sb, &ub);
	if (sa != sb)
		return sa < sb ? -1 : 1;
	if (ua != ub)
		return ua < ub ? -1 : 1;
	return imap_base_cmp(fa->name, fb->name);
}

static void
imap_files_free(struct imap_uidlist_file *files, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++)
		free(files[i].name);
	free(files);
}

/*
 * List new/ then cur/ (a file moving new -> cur meanwhile is seen at
 * least once), in directory order, duplicates kept.
 */
static int
imap_read_dirs(const char *folder_dir, struct imap_uidlist_file **files_r,
	size_t *count_r, char **error_r)
{
	static const char *const subdirs[] = { "new", "cur" };
	struct imap_uidlist_file *files = NULL;
	size_t count = 0, alloc = 0;
	struct dirent *de;
	char *path;
	DIR *d;
	int sub;

	for (sub = 0; sub < 2; sub++) {
		path = xasprintf("%s/%s", folder_dir, subdirs[sub]);
		d = opendir(path);
		if (d == NULL) {
			*error_r = xasprintf("opendir %s: %s", path,
			    strerror(errno));
			free(path);
			imap_files_free(files, count);
			return -1;
		}
		free(path);
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			if (count == alloc) {
				alloc = alloc == 0 ? 64 : alloc * 2;
				files = xreallocarray(files, alloc,
				    sizeof(*files));
			}
			files[count].name = xstrdup(de->d_name);
			files[count].uid = 0;
			files[count].in_new = sub == 0;
			count++;
		}
		closedir(d);
	}
	*files_r = files;
	*count_r = count;
	return 0;
}

/* Sort files by base name and drop duplicates, keeping a cur/ copy. */
static void
imap_files_by_base(struct imap_uidlist_file *files, size_t *count)
{
	size_t i, out;

	if (*count > 1)
		qsort(files, *count, sizeof(*files), imap_file_base_cmp);
	/* Keep the cur/ copy of a file seen in both (it moved). */
	for (i = 0, out = 0; i < *count; i++) {
		if (out > 0 && imap_base_cmp(files[out - 1].name,
		    files[i].name) == 0) {
			if (!files[i].in_new) {
				free(files[out - 1].name);
				files[out - 1] = files[i];
			} else {
				free(files[i].name);
			}
			continue;
		}
		files[out++] = files[i];
	}
	*count = out;
}

/* The folder's files sorted by base name, without duplicates. */
static int
imap_list_files(const char *folder_dir, struct imap_uidlist_file **files_r,
	size_t *count_r, char **error_r)
{
	if (imap_read_dirs(folder_dir, files_r, count_r, error_r) < 0)
		return -1;
	imap_files_by_base(*files_r, count_r);
	return 0;
}

int
imap_slurp(FILE *f, char **text_r, size_t *len_r)
{
	struct stat st;
	size_t len = 0, alloc;
	ssize_t n;
	char *text;

	if (fstat(fileno(f), &st) < 0)
		return -1;
	/* Replaced whole by rename(2), never written in place: st_size. */
	alloc = xalloc_add((size_t) (st.st_size > 0 ? st.st_size : 0), 2);
	text = xmalloc(alloc);
	for (;;) {
		if (alloc - len < 2) {
			alloc = xalloc_mul(alloc, 2);
			text = xrealloc(text, alloc);
		}
		n = read(fileno(f), text + len, alloc - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(text);
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t) n;
	}
	text[len] = '\0';
	*text_r = text;
	*len_r = len;
	return 0;
}

/*
 * Read the list into *list.  1 read (entries in the file's order, which
 * is UID order), 0 missing, -1 damaged (*uidvalidity_r is the old
 * UIDVALIDITY when the header was readable), -2 an I/O error (*error_r).
 * The file is read whole and parsed in place (the bases point into the
 * text): a line per fgets and a copy per base were a tenth of a SELECT.
 * A line past IMAP_UIDLIST_LINE_MAX, without its newline or holding a
 * NUL damages the list, as it did when read with fgets.
 */
static int
imap_read_list(const char *folder_dir, struct uid_list *list,
	uint32_t *uidvalidity_r, uint32_t *uidnext_r,
	uint32_t *first_recent_r, char **error_r)
{
	char *path = xasprintf("%s/%s", folder_dir, IMAP_UIDLIST_NAME);
	unsigned long validity, next, uid, last = 0, first_recent = 0;
	const char *end;
	char *line, *nl, *base, *text_end;
	size_t alloc = 0, text_len;
	int ret = 1, fields;
	FILE *f;

	memset(list, 0, sizeof(*list));
	*uidvalidity_r = 0;
	if ((ret = imap_open_existing(path, &f, error_r)) <= 0) {
		free(path);
		return ret;
	}
	if (imap_slurp(f, &list->text, &text_len) < 0) {
		*error_r = xasprintf("read %s: %s", path, strerror(errno));
		fclose(f);
		free(path);
		return -2;
	}
	fclose(f);
	free(path);
	text_end = list->text + text_len;
	line = list->text;
	if ((nl = memchr(line, '\n', text_len)) == NULL)
		nl = text_end;
	*nl = '\0';
	if (line == text_end || nl - line > IMAP_UIDLIST_LINE_MAX ||
	    (fields = sscanf(line, "ispmail-uidlist 1 %lu %lu %lu", &validity,
	    &next, &first_recent)) < 2 ||
	    validity == 0 || validity > UINT32_MAX || next == 0 ||
	    next > UINT32_MAX) {
		ret = -1;
		goto out;
	}
	*uidvalidity_r = (uint32_t) validity;
	*uidnext_r = (uint32_t) next;
	/* A list of before \Recent was kept: none of its UIDs is. */
	*first_recent_r = fields == 3 && first_recent > 0 &&
	    first_recent <= next ? (uint32_t) first_recent : (uint32_t) next;
	for (line = nl + 1; line < text_end; line = nl + 1) {
		/* "UID base\n", at most IMAP_UIDLIST_LINE_MAX bytes. */
		nl = memchr(line, '\n', (size_t) (text_end - line));
		if (nl == NULL || nl - line > IMAP_UIDLIST_LINE_MAX ||
		    memchr(line, '\0', (size_t) (nl - line)) != NULL) {
			ret = -1;
			goto out;
		}
		*nl = '\0';
		if ((end = imap_scan_ulong(line, &uid)) == NULL ||
		    uid <= last || uid >= next) {
			ret = -1;
			goto out;
		}
		base = line + (imap_skip_space(end) - line);
		if (*base == '\0' || base[strcspn(base, "/: ")] != '\0') {
			ret = -1;
			goto out;
		}
		last = uid;
		if (list->count == alloc) {
			alloc = alloc == 0 ? 64 : xalloc_mul(alloc, 2);
			list->entries = xreallocarray(list->entries, alloc,
			    sizeof(*list->entries));
		}
		list->entries[list->count].base = base;
		list->entries[list->count].len = (size_t) (nl - base);
		list->entries[list->count].uid = (uint32_t) uid;
		list->count++;
	}
out:
	if (ret != 1)
		imap_list_free(list);
	return ret;
}

/* Give files their UIDs from entries; the count still without one. */
static size_t
imap_match(struct imap_uidlist_file *files, size_t count,
	const struct uid_entry *entries, size_t entry_count)
{
	size_t i, j = 0, missing = 0;
	int c;

	for (i = 0; i < count; i++) {
		files[i].uid = 0;
		while (j < entry_count && (c = imap_base_cmp(entries[j].base,
		    files[i].name)) < 0)
			j++;
		if (j < entry_count && imap_base_cmp(entries[j].base,
		    files[i].name) == 0)
			files[i].uid = entries[j].uid;
		else
			missing++;
	}
	return missing;
}

/* FNV-1a of name's base (up to ':' or the end); *len_r its length. */
static uint64_t
imap_base_hash(const char *name, size_t *len_r)
{
	const unsigned char *p = (const unsigned char *) name;
	uint64_t h = 14695981039346656037ULL;

	for (; *p != '\0' && *p != ':'; p++)
		h = (h ^ *p) * 1099511628211ULL;
	*len_r = (size_t) (p - (const unsigned char *) name);
	return h;
}

/*
 * The match of every SELECT and rescan that finds nothing new: the
 * entries (in the list's order, UID order) in a hash table by base, each
 * file looked up there, and the files put in their entries' order.  No
 * name is sorted: the string sort was a third of a SELECT's CPU.
 * 0: every file has its entry; files are in UID order without duplicates
 * (a cur/ copy kept), *count updated.  -1: a file the list does not
 * know; files are as they were (the caller takes the lock).
 */
static int
imap_match_listed(struct imap_uidlist_file *files, size_t *count,
	const struct uid_entry *entries, size_t entry_count)
{
	struct imap_uidlist_file *sorted;
	uint32_t *table, *placed, *entry_of;
	size_t size = 64, mask, slot, i, e, len, out = 0;
	int ret = 0;

	if (*count == 0)
		return 0;
	if (entry_count == 0)
		return -1;
	while (size < entry_count || size - entry_count < size / 2)
		size = xalloc_mul(size, 2);
	mask = size - 1;
	table = xcalloc(size, sizeof(*table));	/* entry index + 1 */
	for (e = 0; e < entry_count; e++) {
		slot = (size_t) imap_base_hash(entries[e].base, &len) & mask;
		while (table[slot] != 0 && (entries[table[slot] - 1].len !=
		    len || memcmp(entries[table[slot] - 1].base,
		    entries[e].base, len) != 0))
			slot = (slot + 1) & mask;
		/* A base listed twice: the first, lower UID, is used. */
		if (table[slot] == 0)
			table[slot] = (uint32_t) (e + 1);
	}
	placed = xcalloc(entry_count, sizeof(*placed));	/* file + 1 */
	entry_of = xcalloc(*count, sizeof(*entry_of));
	for (i = 0; i < *count; i++) {
		slot = (size_t) imap_base_hash(files[i].name, &len) & mask;
		while (table[slot] != 0 && (entries[table[slot] - 1].len !=
		    len || memcmp(entries[table[slot] - 1].base,
		    files[i].name, len) != 0))
			slot = (slot + 1) & mask;
		if (table[slot] == 0) {
			ret = -1;
			break;
		}
		e = table[slot] - 1;
		entry_of[i] = (uint32_t) e;
		/* In new/ and cur/ both (it moved): the cur/ copy. */
		if (placed[e] == 0 || !files[i].in_new)
			placed[e] = (uint32_t) (i + 1);
	}
	if (ret == 0) {
		sorted = xcalloc(*count, sizeof(*sorted));
		for (e = 0; e < entry_count; e++) {
			if (placed[e] == 0)
				continue;
			sorted[out] = files[placed[e] - 1];
			sorted[out++].uid = entries[e].uid;
		}
		for (i = 0; i < *count; i++) {
			if (placed[entry_of[i]] != i + 1)
				free(files[i].name);
		}
		memcpy(files, sorted, out * sizeof(*files));
		free(sorted);
		*count = out;
	}
	free(entry_of);
	free(placed);
	free(table);
	return ret;
}

/*
 * The holder named in a lock file ("PID HOST"), when it is a process of
 * this host that no longer exists: a holder killed with -9 must not make
 * every session of a multi-session imapd wait for the lock to go stale.
 * 1: dead, the lock can go; 0: alive, elsewhere, or unreadable.
 */
static int
imap_lock_holder_dead(const char *lock_path, ino_t *ino_r)
{
	char text[300], *end;
	struct stat st;
	ssize_t n;
	long pid;
	int fd;

	fd = open(lock_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return 0;
	n = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ?
	    read(fd, text, sizeof(text) - 1) : -1;
	close(fd);
	if (n <= 0)
		return 0;
	text[n] = '\0';
	*ino_r = st.st_ino;
	errno = 0;
	pid = strtol(text, &end, 10);
	if (errno != 0 || end == text || pid <= 0 || *end != ' ')
		return 0;
	text[strcspn(text, "\n")] = '\0';
	if (strcmp(end + 1, mail_hostname()) != 0)
		return 0;
	return kill((pid_t) pid, 0) < 0 && errno == ESRCH;
}

static int
imap_lock(const char *lock_path, char **error_r)
{
	time_t give_up = time(NULL) + IMAP_UIDLIST_LOCK_WAIT;
	struct stat st;
	struct buf *owner;
	ino_t dead_ino;
	int fd;

	for (;;) {
		fd = open(lock_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		    0600);
		if (fd >= 0) {
			owner = buf_new(512);
			(void) buf_printf(owner, "%ld %s\n", (long) getpid(),
			    mail_hostname());
			(void) write(fd, buf_cstr(owner), buf_len(owner));
			buf_free(&owner);
			close(fd);
			return 0;
		}
		if (errno != EEXIST) {
			*error_r = xasprintf("create %s: %s", lock_path,
			    strerror(errno));
			return -1;
		}
		if (lstat(lock_path, &st) == 0 &&
		    st.st_mtime + IMAP_UIDLIST_LOCK_STALE < time(NULL)) {
			log_warn("breaking stale lock %s", lock_path);
			(void) unlink(lock_path);
			continue;
		}
		/* Only the file we read: not a new holder's lock. */
		if (imap_lock_holder_dead(lock_path, &dead_ino) &&
		    lstat(lock_path, &st) == 0 && st.st_ino == dead_ino) {
			log_warn("breaking lock %s of a process that is gone",
			    lock_path);
			(void) unlink(lock_path);
			continue;
		}
		if (time(NULL) > give_up) {
			*error_r = xasprintf("lock %s: timed out", lock_path);
			return -1;
		}
		/*
		 * Through the stream waiter: in a multi-session process the
		 * other sessions run while this one waits (a usleep() here
		 * held them all up for the whole lock wait).
		 */
		stream_pause(10);
	}
}

const char *
imap_scan_ulong(const char *s, unsigned long *v_r)
{
	char *end;

	*v_r = strtoul(s, &end, 10);
	return end == s ? NULL : end;
}

const char *
imap_scan_ullong(const char *s, unsigned long long *v_r)
{
	char *end;

	*v_r = strtoull(s, &end, 10);
	return end == s ? NULL : end;
}

const char *
imap_skip_space(const char *s)
{
	while (isspace((unsigned char) *s))
		s++;
	return s;
}

int
imap_open_existing(const char *path, FILE **f_r, char **error_r)
{
	*f_r = fopen(path, "re");
	if (*f_r != NULL)
		return 1;
	if (errno == ENOENT)
		return 0;
	*error_r = xasprintf("open %s: %s", path, strerror(errno));
	return -2;
}

FILE *
imap_replace_begin(const char *folder_dir, const char *name, char **error_r)
{
	char *tmp = xasprintf("%s/%s.tmp", folder_dir, name);
	FILE *f = fopen(tmp, "we");

	if (f == NULL)
		*error_r = xasprintf("create %s: %s", tmp, strerror(errno));
	free(tmp);
	return f;
}

int
imap_replace_commit(FILE *f, const char *folder_dir, const char *name,
	char **error_r)
{
	char *tmp = xasprintf("%s/%s.tmp", folder_dir, name);
	char *path = xasprintf("%s/%s", folder_dir, name);
	int ret = -1;

	if (fflush(f) != 0 || ferror(f)) {
		*error_r = xasprintf("write %s: %s", tmp, strerror(errno));
		fclose(f);
		(void) unlink(tmp);
		goto out;
	}
	fclose(f);
	if (rename(tmp, path) < 0) {
		*error_r = xasprintf("rename %s: %s", tmp, strerror(errno));
		(void) unlink(tmp);
		goto out;
	}
	ret = 0;
out:
	free(tmp);
	free(path);
	return ret;
}

static int
imap_write_list(const char *folder_dir, const struct imap_uidlist_result *r,
	uint32_t first_recent, char **error_r)
{
	FILE *f = imap_replace_begin(folder_dir, IMAP_UIDLIST_NAME, error_r);
	size_t i;

	if (f == NULL)
		return -1;
	fprintf(f, "ispmail-uidlist 1 %u %u %u\n", (unsigned) r->uidvalidity,
	    (unsigned) r->uidnext, (unsigned) first_recent);
	for (i = 0; i < r->count; i++) {
		fprintf(f, "%u %.*s\n", (unsigned) r->files[i].uid,
		    (int) imap_uidlist_base_len(r->files[i].name),
		    r->files[i].name);
	}
	return imap_replace_commit(f, folder_dir, IMAP_UIDLIST_NAME, error_r);
}

/*
 * The Maildir++ store a folder belongs to: the folder itself for INBOX,
 * the parent of a ".Name" folder (caller frees).
 */
static char *
imap_store_root(const char *folder_dir)
{
	const char *slash = strrchr(folder_dir, '/');

	if (slash != NULL && slash[1] == '.' && slash > folder_dir)
		return xstrndup(folder_dir, (size_t) (slash - folder_dir));
	return xstrdup(folder_dir);
}

/*
 * A UIDVALIDITY for a new list: the current time, but above above (the
 * old list's) and above every UIDVALIDITY this store ever gave out, kept
 * in the store's IMAP_UIDVALIDITY_NAME.  A folder deleted and created
 * again in the same second so gets another one (RFC 3501 2.3.1.1).  Two
 * folders made at once may read the same counter and share a value: that
 * is harmless, they have different names.  A lost or unreadable counter
 * only falls back to the time.
 */
static uint32_t
imap_next_uidvalidity(const char *folder_dir, uint32_t above)
{
	char *root = imap_store_root(folder_dir), *path, *tmp, text[32];
	unsigned long last = 0;
	uint32_t validity = (uint32_t) time(NULL);
	struct buf *out;
	ssize_t n;
	int fd;

	path = xasprintf("%s/%s", root, IMAP_UIDVALIDITY_NAME);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0) {
		n = read(fd, text, sizeof(text) - 1);
		close(fd);
		if (n > 0) {
			text[n] = '\0';
			last = strtoul(text, NULL, 10);
		}
	}
	if (last < UINT32_MAX && validity <= (uint32_t) last)
		validity = (uint32_t) last + 1;
	if (validity <= above && above < UINT32_MAX)
		validity = above + 1;
	tmp = xasprintf("%s.%ld.tmp", path, (long) getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	out = buf_new(sizeof(text));
	(void) buf_printf(out, "%u\n", (unsigned) validity);
	if (fd < 0 || write(fd, buf_cstr(out), buf_len(out)) !=
	    (ssize_t) buf_len(out) || rename(tmp, path) < 0) {
		log_warn("%s: %s", tmp, strerror(errno));
		(void) unlink(tmp);
	}
	if (fd >= 0)
		close(fd);
	buf_free(&out);
	free(tmp);
	free(path);
	free(root);
	return validity;
}

/* Under the lock: list, read, assign, write. */
static int
imap_update_locked(const char *folder_dir, struct imap_uidlist_result *r,
	int claim, char **error_r)
{
	struct uid_list list;
	size_t i;
	uint32_t old_validity, first_recent = 1;
	struct stat st;
	char *path;
	int rc;

	if (imap_list_files(folder_dir, &r->files, &r->count, error_r) < 0)
		return -1;
	rc = imap_read_list(folder_dir, &list, &r->uidvalidity, &r->uidnext,
	    &first_recent, error_r);
	if (rc == -2)
		return -1;
	if (rc <= 0) {
		/*
		 * The new UIDVALIDITY must differ from any the folder had: it
		 * is above the old one when the header was readable, and
		 * above the damaged file's mtime (it was written at or after
		 * its UIDVALIDITY was chosen) when it was not.
		 */
		old_validity = r->uidvalidity;
		path = xasprintf("%s/%s", folder_dir, IMAP_UIDLIST_NAME);
		if (rc < 0 && stat(path, &st) == 0 &&
		    (uint32_t) st.st_mtime > old_validity)
			old_validity = (uint32_t) st.st_mtime;
		free(path);
		r->uidvalidity = imap_next_uidvalidity(folder_dir,
		    old_validity);
		/* MODSEQs are per UIDVALIDITY: count from 1 again. */
		if (imap_modseq_reset(folder_dir, error_r) < 0)
			return -1;
		r->uidnext = 1;
		first_recent = 1;
		r->rebuilt = rc < 0;
		if (rc < 0)
			log_warn("%s/%s damaged: rebuilt with uidvalidity %u",
			    folder_dir, IMAP_UIDLIST_NAME,
			    (unsigned) r->uidvalidity);
	}
	if (list.count > 1)
		qsort(list.entries, list.count, sizeof(*list.entries),
		    imap_entry_cmp);
	(void) imap_match(r->files, r->count, list.entries, list.count);
	imap_list_free(&list);
	/* New files in delivery order after the known ones. */
	if (r->count > 1)
		qsort(r->files, r->count, sizeof(*r->files),
		    imap_file_delivery_cmp);
	for (i = 0; i < r->count; i++) {
		if (r->files[i].uid != 0)
			continue;
		if (r->uidnext == UINT32_MAX) {
			*error_r = xasprintf("%s: UIDs exhausted", folder_dir);
			return -1;
		}
		r->files[i].uid = r->uidnext++;
	}
	if (r->count > 1)
		qsort(r->files, r->count, sizeof(*r->files),
		    imap_file_uid_cmp);
	r->recent_from = first_recent;
	return imap_write_list(folder_dir, r, claim ? r->uidnext :
	    first_recent, error_r);
}

int
imap_uidlist_scan(const char *folder_dir, struct imap_uidlist_result *r,
	char **error_r)
{
	return imap_uidlist_scan_claim(folder_dir, r, 0, error_r);
}

int
imap_uidlist_scan_claim(const char *folder_dir, struct imap_uidlist_result *r,
	int claim, char **error_r)
{
	struct uid_list list;
	char *lock_path;
	int rc;

	memset(r, 0, sizeof(*r));
	if (imap_read_dirs(folder_dir, &r->files, &r->count, error_r) < 0)
		return -1;
	rc = imap_read_list(folder_dir, &list, &r->uidvalidity, &r->uidnext,
	    &r->recent_from, error_r);
	if (rc == -2) {
		imap_uidlist_result_free(r);
		return -1;
	}
	/* Nothing new, and nothing recent left to claim: no lock. */
	if (rc == 1 && (!claim || r->recent_from >= r->uidnext) &&
	    imap_match_listed(r->files, &r->count, list.entries,
	    list.count) == 0) {
		imap_list_free(&list);
		return 0;
	}
	imap_list_free(&list);
	imap_uidlist_result_free(r);
	lock_path = xasprintf("%s/%s.lock", folder_dir, IMAP_UIDLIST_NAME);
	if (imap_lock(lock_path, error_r) < 0) {
		free(lock_path);
		return -1;
	}
	rc = imap_update_locked(folder_dir, r, claim, error_r);
	(void) unlink(lock_path);
	free(lock_path);
	if (rc < 0)
		imap_uidlist_result_free(r);
	return rc;
}

void
imap_uidlist_result_free(struct imap_uidlist_result *r)
{
	imap_files_free(r->files, r->count);
	r->files = NULL;
	r->count = 0;
}

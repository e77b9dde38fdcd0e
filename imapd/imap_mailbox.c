/* imap_mailbox: the selected folder (see imap_mailbox.h). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "imap.h"
#include "imap_envcache.h"
#include "imap_mailbox.h"
#include "imap_modseq.h"
#include "imap_uidlist.h"
#include "log.h"
#include "maildir.h"
#include "xalloc.h"

static const struct {
	char letter;
	unsigned int bit;
} imap_letters[] = {
	{ 'D', IMAP_FLAG_DRAFT },
	{ 'F', IMAP_FLAG_FLAGGED },
	{ 'R', IMAP_FLAG_ANSWERED },
	{ 'S', IMAP_FLAG_SEEN },
	{ 'T', IMAP_FLAG_DELETED },
};

#define IMAP_LETTER_COUNT (sizeof(imap_letters) / sizeof(imap_letters[0]))

unsigned int
imap_flags_from_name(const char *name)
{
	const char *info = imap_name_info(name);
	unsigned int flags = 0;
	size_t i;

	if (info == NULL)
		return 0;
	for (; *info != '\0'; info++) {
		for (i = 0; i < IMAP_LETTER_COUNT; i++) {
			if (*info == imap_letters[i].letter)
				flags |= imap_letters[i].bit;
		}
	}
	return flags;
}

long long
imap_name_size(const char *name, char key)
{
	size_t base = imap_uidlist_base_len(name);
	const char *p = name, *end = name + base;
	long long v;

	while ((p = memchr(p, ',', (size_t) (end - p))) != NULL) {
		p++;
		if (end - p >= 3 && p[0] == key && p[1] == '=' &&
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

char *
imap_msg_path(const struct imap_mailbox *box, const struct imap_msg *msg)
{
	return xasprintf("%s/%s/%s", box->dir, msg->in_new ? "new" : "cur",
	    msg->name);
}

/*
 * Look for msg's file under another name (renamed by someone else), and
 * take its flags and keywords from that name: they are the file's now.
 */
static int
imap_msg_refind(struct imap_mailbox *box, struct imap_msg *msg)
{
	static const char *const subdirs[] = { "cur", "new" };
	size_t base = imap_uidlist_base_len(msg->name);
	struct dirent *de;
	char *path;
	DIR *d;
	int sub, found = 0;

	for (sub = 0; sub < 2 && !found; sub++) {
		path = xasprintf("%s/%s", box->dir, subdirs[sub]);
		d = opendir(path);
		free(path);
		if (d == NULL)
			continue;
		while ((de = readdir(d)) != NULL) {
			if (strncmp(de->d_name, msg->name, base) == 0 &&
			    (de->d_name[base] == '\0' ||
			    de->d_name[base] == ':')) {
				free(msg->name);
				msg->name = xstrdup(de->d_name);
				msg->in_new = sub == 1;
				msg->flags = (uint8_t) ((msg->flags &
				    ~IMAP_FLAGS_STORED) | (imap_flags_from_name(
				    msg->name) & IMAP_FLAGS_STORED));
				msg->keywords = imap_keywords_from_name(
				    msg->name);
				found = 1;
				break;
			}
		}
		closedir(d);
	}
	box->changed = 1;
	return found ? 0 : -1;
}

/*
 * The folder's new/ or cur/ as a descriptor, opened at the first use in
 * a command; -1 when it cannot be opened (the caller walks the path).
 */
static int
imap_subdir_fd(struct imap_mailbox *box, int in_new)
{
	int *fd = &box->subdir_fd[in_new ? 1 : 0];
	char *path;

	if (*fd < 0) {
		path = xasprintf("%s/%s", box->dir, in_new ? "new" : "cur");
		*fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		free(path);
	}
	return *fd;
}

/* One try at opening (st NULL) or stat()ing msg's file by its name. */
static int
imap_msg_access(struct imap_mailbox *box, const struct imap_msg *msg,
	struct stat *st)
{
	int dir = imap_subdir_fd(box, msg->in_new), ret;
	char *path;

	if (dir >= 0)
		return st == NULL ? openat(dir, msg->name, O_RDONLY |
		    O_CLOEXEC) : fstatat(dir, msg->name, st, 0);
	path = imap_msg_path(box, msg);
	ret = st == NULL ? open(path, O_RDONLY | O_CLOEXEC) : stat(path, st);
	free(path);
	return ret;
}

int
imap_msg_open(struct imap_mailbox *box, struct imap_msg *msg)
{
	int fd = imap_msg_access(box, msg, NULL);

	if (fd >= 0 || errno != ENOENT)
		return fd;
	if (imap_msg_refind(box, msg) < 0)
		return -1;
	return imap_msg_access(box, msg, NULL);
}

int
imap_msg_stat(struct imap_mailbox *box, struct imap_msg *msg,
	struct stat *st)
{
	if (imap_msg_access(box, msg, st) == 0)
		return 0;
	if (errno != ENOENT || imap_msg_refind(box, msg) < 0)
		return -1;
	return imap_msg_access(box, msg, st);
}

void
imap_mailbox_release(struct imap_mailbox *box)
{
	size_t i;

	for (i = 0; i < 2; i++) {
		if (box->subdir_fd[i] >= 0)
			(void) close(box->subdir_fd[i]);
		box->subdir_fd[i] = -1;
	}
}

/* Mark byte c in seen[], counting it once and widening [*low, *high]. */
static void
imap_letter_mark(unsigned char *seen, int c, size_t *count, int *low,
	int *high)
{
	if (seen[c])
		return;
	seen[c] = 1;
	(*count)++;
	if (c < *low)
		*low = c;
	if (c > *high)
		*high = c;
}

/*
 * Sorted and de-duplicated through a table of the 256 byte values, read
 * back only between the lowest and highest byte marked: no buffer, no
 * qsort, nothing quadratic in a long name's letters.  STORE calls this
 * once per message.
 */
char *
imap_letters_for(const char *old_name, unsigned int flags,
	uint32_t keywords)
{
	const char *info = old_name != NULL ? imap_name_info(old_name) : NULL;
	unsigned char seen[256] = { 0 };
	size_t i, n = 0;
	int c, low = 256, high = 0;
	char *out;

	if (info != NULL) {
		/* Letters imapd does not know are kept as they were. */
		for (; *info != '\0'; info++) {
			c = (unsigned char) *info;
			if (strchr("DFRST", c) == NULL &&
			    !(c >= 'a' && c <= 'z'))
				imap_letter_mark(seen, c, &n, &low, &high);
		}
	}
	for (i = 0; i < IMAP_LETTER_COUNT; i++) {
		if (flags & imap_letters[i].bit)
			imap_letter_mark(seen, (unsigned char)
			    imap_letters[i].letter, &n, &low, &high);
	}
	for (i = 0; keywords != 0 && i < IMAP_KEYWORD_MAX; i++) {
		if (keywords & ((uint32_t) 1 << i))
			imap_letter_mark(seen, 'a' + (int) i, &n, &low, &high);
	}
	out = xmalloc(n + 1);
	/* Maildir wants the info letters in ASCII order. */
	for (c = low, n = 0; c <= high; c++) {
		if (seen[c])
			out[n++] = (char) c;
	}
	out[n] = '\0';
	return out;
}

int
imap_keywords_map(const char *dir, struct imap_keywords *kw,
	const struct imap_arg *list, int create, uint32_t *bits_r,
	int *added_r, char **error_r)
{
	const struct imap_arg *items = list;
	size_t count = 1, i;
	int n;

	*bits_r = 0;
	*added_r = 0;
	*error_r = NULL;
	if (list->type == IMAP_ARG_LIST) {
		items = list->list;
		count = list->count;
	}
	for (i = 0; i < count; i++) {
		if (items[i].type != IMAP_ARG_ATOM || items[i].str[0] == '\\')
			continue;
		n = imap_keywords_find(kw, items[i].str);
		if (n < 0 && create) {
			n = imap_keywords_add(dir, kw, items[i].str, error_r);
			if (n < 0)
				return -1;
			*added_r = 1;
		}
		if (n >= 0)
			*bits_r |= (uint32_t) 1 << n;
	}
	return 0;
}

int
imap_msg_set_flags(struct imap_mailbox *box, struct imap_msg *msg,
	unsigned int flags, uint32_t keywords)
{
	char *letters, *new_name = NULL, *error = NULL;
	int tries, ret = -1, from_fd, cur_fd;
	/*
	 * The change the caller made to the flags it knew: when another
	 * session renamed the file meanwhile, only that change is applied
	 * to the flags the file has now, so theirs are not lost.
	 */
	unsigned int add = flags & ~msg->flags & IMAP_FLAGS_STORED;
	unsigned int remove = msg->flags & ~flags & IMAP_FLAGS_STORED;
	uint32_t add_kw = keywords & ~msg->keywords;
	uint32_t remove_kw = msg->keywords & ~keywords;

	for (tries = 0; tries < 2; tries++) {
		if (tries > 0) {
			flags = ((msg->flags & ~remove) | add) &
			    IMAP_FLAGS_STORED;
			keywords = (msg->keywords & ~remove_kw) | add_kw;
		}
		letters = imap_letters_for(msg->name, flags, keywords);
		from_fd = imap_subdir_fd(box, msg->in_new);
		cur_fd = imap_subdir_fd(box, 0);
		ret = from_fd >= 0 && cur_fd >= 0 ?
		    maildir_set_flags_at(from_fd, cur_fd, msg->name, letters,
		    &new_name, &error) :
		    maildir_set_flags(box->dir, msg->name, msg->in_new,
		    letters, &new_name, &error);
		free(letters);
		if (ret == 0) {
			free(msg->name);
			msg->name = new_name;
			msg->in_new = 0;
			break;
		}
		free(error);
		error = NULL;
		if (errno != ENOENT || imap_msg_refind(box, msg) < 0)
			break;
	}
	if (ret == 0) {
		msg->flags = (uint8_t) ((msg->flags & ~IMAP_FLAGS_STORED) |
		    (flags & IMAP_FLAGS_STORED));
		msg->keywords = keywords;
	}
	return ret;
}

struct imap_msg *
imap_mailbox_find_uid(struct imap_mailbox *box, uint32_t uid)
{
	size_t low = 0, high = box->count, mid;

	while (low < high) {
		mid = low + (high - low) / 2;
		if (box->msgs[mid].uid == uid)
			return &box->msgs[mid];
		if (box->msgs[mid].uid < uid)
			low = mid + 1;
		else
			high = mid;
	}
	return NULL;
}

void
imap_mailbox_drop(struct imap_mailbox *box, size_t i)
{
	free(box->msgs[i].name);
	box->msgs[i].name = NULL;
	box->msgs[i].uid = 0;
}

void
imap_mailbox_compact(struct imap_mailbox *box)
{
	size_t i, kept = 0;

	for (i = 0; i < box->count; i++) {
		if (box->msgs[i].uid != 0)
			box->msgs[kept++] = box->msgs[i];
	}
	box->count = kept;
}

size_t
imap_mailbox_recent(const struct imap_mailbox *box)
{
	size_t i, n = 0;

	for (i = 0; i < box->count; i++) {
		if (box->msgs[i].flags & IMAP_FLAG_RECENT)
			n++;
	}
	return n;
}

/* Have new/ or cur/ changed since the last scan? */
static int
imap_dirs_changed(struct imap_mailbox *box, struct timespec *new_r,
	struct timespec *cur_r)
{
	struct stat st;
	char *path;
	time_t now = time(NULL);
	int changed = box->changed;

	path = xasprintf("%s/new", box->dir);
	if (stat(path, &st) < 0)
		memset(&st, 0, sizeof(st));
	free(path);
	*new_r = st.st_mtim;
	path = xasprintf("%s/cur", box->dir);
	if (stat(path, &st) < 0)
		memset(&st, 0, sizeof(st));
	free(path);
	*cur_r = st.st_mtim;
	if (new_r->tv_sec != box->new_mtime.tv_sec ||
	    new_r->tv_nsec != box->new_mtime.tv_nsec ||
	    cur_r->tv_sec != box->cur_mtime.tv_sec ||
	    cur_r->tv_nsec != box->cur_mtime.tv_nsec)
		changed = 1;
	/*
	 * A change in the same clock tick as our scan would leave the mtime
	 * as it was: do not trust mtimes that young.
	 */
	if (new_r->tv_sec >= now - 1 || cur_r->tv_sec >= now - 1)
		changed = 1;
	return changed;
}

/*
 * Append a message found on disk, \Recent when its UID is at or past
 * recent_from (see imap_uidlist_scan_claim); a SELECT moves new/ ones
 * to cur/.  The message takes file's name (file->name becomes NULL).
 */
static void
imap_mailbox_add(struct imap_mailbox *box, struct imap_uidlist_file *file,
	uint32_t recent_from)
{
	struct imap_msg *msg;
	char *new_name = NULL, *error = NULL;

	if (box->count == box->alloc) {
		box->alloc = box->alloc == 0 ? 64 : box->alloc * 2;
		box->msgs = xreallocarray(box->msgs, box->alloc,
		    sizeof(*box->msgs));
	}
	msg = &box->msgs[box->count++];
	msg->uid = file->uid;
	msg->name = file->name;
	file->name = NULL;
	msg->in_new = (uint8_t) file->in_new;
	msg->flags = (uint8_t) imap_flags_from_name(msg->name);
	msg->keywords = imap_keywords_from_name(msg->name);
	if (file->uid >= recent_from)
		msg->flags |= IMAP_FLAG_RECENT;
	if (!file->in_new || box->readonly)
		return;
	if (maildir_set_flags(box->dir, msg->name, 1,
	    imap_name_info(msg->name) != NULL ?
	    imap_name_info(msg->name) : "", &new_name, &error) == 0) {
		free(msg->name);
		msg->name = new_name;
		msg->in_new = 0;
	} else {
		free(error);
		(void) imap_msg_refind(box, msg);
	}
}

/*
 * The MODSEQs of r's files, reconciled with the record; with box, the
 * record's expunges since box->vanished_since too.
 */
static uint64_t *
mailbox_modseqs(const char *dir, const struct imap_uidlist_result *r,
	uint64_t *highest_r, struct imap_mailbox *box)
{
	struct imap_modseq *ms;
	uint64_t *modseqs;
	char *error = NULL;

	if ((ms = imap_modseq_begin(dir, &error)) == NULL) {
		log_error("%s: %s", dir, error);
		free(error);
		return NULL;
	}
	modseqs = xcalloc(r->count + 1, sizeof(*modseqs));
	imap_modseq_reconcile(ms, r->files, r->count, modseqs);
	*highest_r = imap_modseq_highest(ms);
	if (box != NULL) {
		box->vanished_complete = imap_modseq_vanished(ms,
		    box->vanished_since, &box->vanished,
		    &box->vanished_count);
		box->vanished_ready = 1;
	}
	if (imap_modseq_end(&ms, &error) < 0) {
		log_error("%s: %s", dir, error);
		free(error);
	}
	return modseqs;
}

uint64_t *
imap_mailbox_modseqs(const char *dir, const struct imap_uidlist_result *r,
	uint64_t *highest_r)
{
	return mailbox_modseqs(dir, r, highest_r, NULL);
}

int
imap_mailbox_open(const char *name, const char *dir, int readonly,
	struct imap_mailbox **box_r, char **error_r)
{
	return imap_mailbox_open_since(name, dir, readonly, 0, box_r,
	    error_r);
}

int
imap_mailbox_open_since(const char *name, const char *dir, int readonly,
	uint64_t since, struct imap_mailbox **box_r, char **error_r)
{
	struct imap_mailbox *box = xcalloc(1, sizeof(*box));
	struct imap_uidlist_result r;
	uint64_t *modseqs;
	size_t i;

	box->dir = xstrdup(dir);
	box->name = xstrdup(name);
	box->readonly = readonly;
	box->subdir_fd[0] = box->subdir_fd[1] = -1;
	if (imap_keywords_load(dir, &box->kw, error_r) < 0) {
		imap_mailbox_close(&box);
		return -1;
	}
	(void) imap_dirs_changed(box, &box->new_mtime, &box->cur_mtime);
	if (imap_uidlist_scan_claim(dir, &r, !readonly, error_r) < 0) {
		imap_mailbox_close(&box);
		return -1;
	}
	box->uidvalidity = r.uidvalidity;
	box->uidnext = r.uidnext;
	box->vanished_since = since;
	modseqs = mailbox_modseqs(dir, &r, &box->highestmodseq,
	    since > 0 ? box : NULL);
	for (i = 0; i < r.count; i++) {
		imap_mailbox_add(box, &r.files[i], r.recent_from);
		box->msgs[box->count - 1].modseq = modseqs != NULL ?
		    modseqs[i] : 0;
	}
	free(modseqs);
	imap_uidlist_result_free(&r);
	box->changed = 0;
	*box_r = box;
	return 0;
}

void
imap_mailbox_close(struct imap_mailbox **boxp)
{
	struct imap_mailbox *box = *boxp;
	size_t i;

	if (box == NULL)
		return;
	imap_mailbox_release(box);
	for (i = 0; i < box->count; i++)
		free(box->msgs[i].name);
	free(box->msgs);
	free(box->dir);
	free(box->name);
	free(box->vanished);
	imap_keywords_clear(&box->kw);
	imap_envcache_free(&box->envcache);
	free(box);
	*boxp = NULL;
}

/* Does the scan still hold msg's UID?  Binary search (sorted by UID). */
static struct imap_uidlist_file *
imap_scan_find(const struct imap_uidlist_result *r, uint32_t uid)
{
	size_t low = 0, high = r->count, mid;

	while (low < high) {
		mid = low + (high - low) / 2;
		if (r->files[mid].uid == uid)
			return &r->files[mid];
		if (r->files[mid].uid < uid)
			low = mid + 1;
		else
			high = mid;
	}
	return NULL;
}

/*
 * Another session gave a message a keyword we have no name for: read
 * the folder's names again, and tell the client the new list (RFC 3501
 * 7.2.6: FLAGS when the defined flags change).
 */
static void
imap_keywords_refresh(struct imap_session *sess, struct imap_mailbox *box,
	uint32_t bits)
{
	char *error = NULL;
	int i;

	for (i = 0; i < IMAP_KEYWORD_MAX; i++) {
		if ((bits & ((uint32_t) 1 << i)) && box->kw.names[i] == NULL)
			break;
	}
	if (i == IMAP_KEYWORD_MAX)
		return;
	if (imap_keywords_load(box->dir, &box->kw, &error) < 0) {
		log_error("%s", error);
		free(error);
		return;
	}
	imap_write_flag_lists(sess);
}

int
imap_mailbox_sync(struct imap_session *sess, struct imap_mailbox *box)
{
	struct imap_uidlist_result r;
	struct imap_uidlist_file *file;
	struct timespec new_mtime, cur_mtime;
	uint32_t max_uid;
	size_t i, old_count;
	unsigned int disk_flags;
	uint32_t disk_keywords;
	uint64_t *modseqs, modseq;
	char *error = NULL;
	int rescanned = 0, modseq_moved;

	if (!imap_dirs_changed(box, &new_mtime, &cur_mtime))
		return 0;
again:
	if (imap_uidlist_scan_claim(box->dir, &r, !box->readonly,
	    &error) < 0) {
		log_error("%s: %s", box->dir, error);
		free(error);
		return access(box->dir, F_OK) == 0 ? 0 : -1;
	}
	if (r.uidvalidity != box->uidvalidity) {
		imap_uidlist_result_free(&r);
		return -1;
	}
	/*
	 * A message missing from the listing may only have been renamed
	 * while we read the directory: look once more before reporting
	 * it expunged.
	 */
	for (i = 0; i < box->count && !rescanned; i++) {
		if (imap_scan_find(&r, box->msgs[i].uid) == NULL) {
			rescanned = 1;
			imap_uidlist_result_free(&r);
			goto again;
		}
	}
	modseqs = imap_mailbox_modseqs(box->dir, &r, &box->highestmodseq);
	for (i = box->count; i > 0; i--) {
		file = imap_scan_find(&r, box->msgs[i - 1].uid);
		if (file == NULL) {
			/* Descending: the numbers below i stay valid. */
			imap_expunged_reply(sess, i, box->msgs[i - 1].uid);
			imap_mailbox_drop(box, i - 1);
			continue;
		}
		modseq = modseqs != NULL ? modseqs[file - r.files] : 0;
		modseq_moved = modseq != box->msgs[i - 1].modseq;
		box->msgs[i - 1].modseq = modseq;
		if (strcmp(file->name, box->msgs[i - 1].name) != 0) {
			free(box->msgs[i - 1].name);
			box->msgs[i - 1].name = file->name;
			file->name = NULL;
			box->msgs[i - 1].in_new = (uint8_t) file->in_new;
		}
		disk_flags = imap_flags_from_name(box->msgs[i - 1].name);
		disk_keywords = imap_keywords_from_name(
		    box->msgs[i - 1].name);
		if (disk_flags != (box->msgs[i - 1].flags &
		    IMAP_FLAGS_STORED) ||
		    disk_keywords != box->msgs[i - 1].keywords ||
		    (modseq_moved && sess->condstore)) {
			box->msgs[i - 1].flags = (uint8_t) (disk_flags |
			    (box->msgs[i - 1].flags & IMAP_FLAG_RECENT));
			box->msgs[i - 1].keywords = disk_keywords;
			imap_keywords_refresh(sess, box, disk_keywords);
			imap_write_flags_fetch(sess, i, &box->msgs[i - 1]);
		}
	}
	imap_mailbox_compact(box);
	max_uid = box->count > 0 ? box->msgs[box->count - 1].uid : 0;
	old_count = box->count;
	for (i = 0; i < r.count; i++) {
		if (r.files[i].uid > max_uid) {
			imap_mailbox_add(box, &r.files[i], r.recent_from);
			box->msgs[box->count - 1].modseq = modseqs != NULL ?
			    modseqs[i] : 0;
			imap_keywords_refresh(sess, box,
			    box->msgs[box->count - 1].keywords);
		}
	}
	box->uidnext = r.uidnext;
	free(modseqs);
	imap_uidlist_result_free(&r);
	if (box->count != old_count) {
		imap_printf(sess, "* %zu EXISTS\r\n", box->count);
		imap_printf(sess, "* %zu RECENT\r\n",
		    imap_mailbox_recent(box));
	}
	/*
	 * The mtimes from before the scan: a delivery during it is then
	 * found next time (our own renames cost one more scan).
	 */
	box->new_mtime = new_mtime;
	box->cur_mtime = cur_mtime;
	box->changed = 0;
	return 0;
}

/*
 * imap_msgs: commands that change messages: STORE, EXPUNGE, COPY, MOVE
 * (RFC 6851) and APPEND, with UIDPLUS (RFC 4315) response codes.
 *
 * Flags live in the file names, so STORE is a rename per message.  COPY
 * writes a new file through common/maildir (a new unique name, so the
 * copy has a life of its own); MOVE renames the file into the target
 * folder, which is atomic and never leaves two copies.  APPEND copies the
 * client's literal to disk in chunks; it is never held in memory.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "imap.h"
#include "imap_keywords.h"
#include "imap_mailbox.h"
#include "imap_modseq.h"
#include "imap_uidlist.h"
#include "log.h"
#include "mail_params.h"
#include "maildir.h"
#include "stream.h"
#include "xalloc.h"

#define IMAP_COPY_CHUNK 65536

void
imap_cmd_store(struct imap_session *sess, struct imap_arg *args,
	size_t count)
{
	struct imap_mailbox *box = sess->box;
	struct imap_arg list, *set = &args[0];
	struct imap_modseq *ms = NULL;
	unsigned char *selected;
	unsigned int flags, new_flags;
	uint32_t keywords, new_keywords, *modified = NULL;
	uint64_t unchangedsince = UINT64_MAX, now;
	const char *item;
	char *error = NULL;
	struct buf *code;
	size_t i, modified_count = 0, modified_alloc = 0;
	int mode, silent, failed = 0, added;

	/* RFC 7162 3.1.3: STORE set (UNCHANGEDSINCE n) item flags. */
	if (count >= 4 && args[1].type == IMAP_ARG_LIST) {
		if (args[1].count != 2 || args[1].list[0].type !=
		    IMAP_ARG_ATOM || strcasecmp(args[1].list[0].str,
		    "UNCHANGEDSINCE") != 0 ||
		    imap_parse_modseq(&args[1].list[1], &unchangedsince) < 0) {
			imap_tagged(sess, "BAD", "Bad STORE modifier");
			return;
		}
		sess->condstore = 1;	/* an enabling command */
		args++;
		count--;
	}
	if (count < 3 || set->type != IMAP_ARG_ATOM ||
	    args[1].type != IMAP_ARG_ATOM) {
		imap_tagged(sess, "BAD", "STORE needs a set, an item and "
		    "flags");
		return;
	}
	item = args[1].str;
	mode = item[0] == '+' ? 1 : item[0] == '-' ? -1 : 0;
	if (mode != 0)
		item++;
	silent = strcasecmp(item, "FLAGS.SILENT") == 0;
	if (!silent && strcasecmp(item, "FLAGS") != 0) {
		imap_tagged(sess, "BAD", "Unknown STORE item");
		return;
	}
	memset(&list, 0, sizeof(list));
	list.type = IMAP_ARG_LIST;
	list.list = &args[2];
	list.count = count - 2;
	if (count == 3 && args[2].type == IMAP_ARG_LIST)
		list = args[2];
	if (imap_parse_flags(&list, &flags) < 0) {
		imap_tagged(sess, "BAD", "Invalid flags");
		return;
	}
	if (box->readonly) {
		imap_tagged(sess, "NO", "Mailbox is read-only");
		return;
	}
	if (imap_select_messages(sess, set->str, sess->uid_cmd,
	    &selected) < 0)
		return;
	/* Removing a keyword the folder never had names no letter. */
	if (imap_keywords_map(box->dir, &box->kw, &list, mode >= 0,
	    &keywords, &added, &error) < 0) {
		log_warn("user=%s keywords of %s: %s", sess->user, box->dir,
		    error);
		free(error);
		free(selected);
		imap_tagged(sess, "NO", "[LIMIT] Cannot add the keyword");
		return;
	}
	if (added)
		imap_write_flag_lists(sess);
	/* The check and the change under one lock: no lost update. */
	if ((ms = imap_modseq_begin(box->dir, &error)) == NULL) {
		log_error("user=%s %s", sess->user, error);
		free(error);
		error = NULL;
		if (unchangedsince != UINT64_MAX) {
			free(selected);
			imap_tagged(sess, "NO", "[SERVERBUG] Cannot read the "
			    "modification sequences");
			return;
		}
	}
	for (i = 0; i < box->count; i++) {
		if (!selected[i])
			continue;
		imap_yield(i);
		now = ms != NULL ? imap_modseq_of(ms, box->msgs[i].uid) : 0;
		if ((now != 0 ? now : box->msgs[i].modseq) > unchangedsince) {
			if (modified_count == modified_alloc) {
				/* Doubling: a whole folder is not quadratic. */
				modified_alloc = modified_alloc == 0 ? 64 :
				    xalloc_mul(modified_alloc, 2);
				modified = xreallocarray(modified,
				    modified_alloc, sizeof(*modified));
			}
			modified[modified_count++] = sess->uid_cmd ?
			    box->msgs[i].uid : (uint32_t) (i + 1);
			continue;
		}
		new_flags = box->msgs[i].flags & IMAP_FLAGS_STORED;
		new_keywords = box->msgs[i].keywords;
		if (mode > 0) {
			new_flags |= flags;
			new_keywords |= keywords;
		} else if (mode < 0) {
			new_flags &= ~flags;
			new_keywords &= ~keywords;
		} else {
			new_flags = flags;
			new_keywords = keywords;
		}
		if ((new_flags != (box->msgs[i].flags & IMAP_FLAGS_STORED) ||
		    new_keywords != box->msgs[i].keywords) &&
		    imap_msg_set_flags(box, &box->msgs[i], new_flags,
		    new_keywords) < 0) {
			failed = 1;
			continue;
		}
		if (ms != NULL)
			box->msgs[i].modseq = imap_modseq_change(ms,
			    box->msgs[i].uid, box->msgs[i].name);
		/* RFC 7162 3.1.3: silent, but not for a CONDSTORE client. */
		if (silent && (!sess->condstore ||
		    unchangedsince == UINT64_MAX))
			continue;
		imap_printf(sess, "* %zu FETCH (FLAGS ", i + 1);
		imap_write_flags(sess, box->msgs[i].flags,
		    box->msgs[i].keywords);
		/*
		 * RFC 7162 3.1 (erratum 1807): once CONDSTORE is on, every
		 * untagged FETCH a STORE causes carries the UID too.
		 */
		if (sess->uid_cmd || sess->condstore)
			imap_printf(sess, " UID %u", (unsigned) box->msgs[i].uid);
		imap_write_modseq(sess, &box->msgs[i]);
		imap_write(sess, ")\r\n", 3);
	}
	free(selected);
	if (ms != NULL)
		box->highestmodseq = imap_modseq_highest(ms);
	if (imap_modseq_end(&ms, &error) < 0) {
		log_error("user=%s %s", sess->user, error);
		free(error);
	}
	if (modified_count > 0) {
		code = buf_new(xalloc_add(xalloc_mul(modified_count, 22), 64));
		(void) buf_append_str(code, "[MODIFIED ");
		(void) imap_uid_ranges(code, modified, modified_count);
		(void) buf_append_str(code, "] ");
		free(modified);
		imap_tagged_code(sess, "OK", code, "Conditional store "
		    "completed");
		buf_free(&code);
		return;
	}
	if (failed)
		imap_tagged(sess, "NO", "Some messages were expunged "
		    "meanwhile");
	else
		imap_tagged(sess, "OK", "Store completed");
}

static long long
imap_msg_size(struct imap_mailbox *box, struct imap_msg *msg)
{
	long long size = imap_name_size(msg->name, 'S');
	struct stat st;
	char *path;

	if (size >= 0)
		return size;
	path = imap_msg_path(box, msg);
	size = stat(path, &st) == 0 ? (long long) st.st_size : 0;
	free(path);
	return size;
}

int
imap_expunge(struct imap_session *sess, const struct imap_seqset *uids,
	int report)
{
	struct imap_mailbox *box = sess->box;
	long long bytes = 0, messages = 0, size;
	char *path, *error = NULL;
	size_t i;
	int fd;

	for (i = 0; i < box->count; i++) {
		struct imap_msg *msg = &box->msgs[i];

		if (!(msg->flags & IMAP_FLAG_DELETED) ||
		    (uids != NULL && !imap_seqset_contains(uids, msg->uid)))
			continue;
		imap_yield((size_t) messages);
		size = imap_msg_size(box, msg);
		path = imap_msg_path(box, msg);
		if (unlink(path) < 0 && errno == ENOENT &&
		    (fd = imap_msg_open(box, msg)) >= 0) {
			close(fd);
			free(path);
			path = imap_msg_path(box, msg);
			(void) unlink(path);
		}
		free(path);
		bytes += size;
		/* Ascending: each earlier EXPUNGE moved this one down. */
		if (report)
			imap_expunged_reply(sess, i + 1 - (size_t) messages,
			    msg->uid);
		messages++;
		imap_mailbox_drop(box, i);
	}
	imap_mailbox_compact(box);
	box->changed = 1;
	if (messages > 0 && maildir_quota_add(sess->root, -bytes, -messages,
	    &error) < 0) {
		log_warn("user=%s quota: %s", sess->user, error);
		free(error);
	}
	return 0;
}

void
imap_cmd_expunge(struct imap_session *sess, struct imap_arg *args,
	size_t count)
{
	struct imap_seqset set;

	if (sess->box->readonly) {
		imap_tagged(sess, "NO", "Mailbox is read-only");
		return;
	}
	if (sess->uid_cmd) {
		if (count != 1 || args[0].type != IMAP_ARG_ATOM ||
		    imap_uidset_parse(sess, args[0].str, &set) < 0) {
			imap_tagged(sess, "BAD", "UID EXPUNGE needs a UID set");
			return;
		}
		imap_seqset_resolve(&set, sess->box->count > 0 ?
		    sess->box->msgs[sess->box->count - 1].uid : 0);
		(void) imap_expunge(sess, &set, 1);
		imap_seqset_free(&set);
	} else {
		if (count != 0) {
			imap_tagged(sess, "BAD", "No arguments allowed");
			return;
		}
		(void) imap_expunge(sess, NULL, 1);
	}
	imap_tagged(sess, "OK", "Expunge completed");
}

int
imap_uid_ranges(struct buf *out, const uint32_t *uids, size_t count)
{
	size_t i = 0, j;
	int rc = 0;

	while (i < count && rc == 0) {
		for (j = i; j + 1 < count && uids[j + 1] == uids[j] + 1; j++)
			;
		if (i > 0)
			rc = buf_append_char(out, ',');
		if (rc == 0 && j > i)
			rc = buf_printf(out, "%u:%u", (unsigned) uids[i],
			    (unsigned) uids[j]);
		else if (rc == 0)
			rc = buf_printf(out, "%u", (unsigned) uids[i]);
		i = j + 1;
	}
	return rc;
}

/*
 * The COPYUID response code for n messages, in a buf whose cap is what
 * the worst case takes (every UID apart: 10 digits and a comma, twice),
 * so a large COPY gets its whole code and nothing is ever cut.
 */
static struct buf *
imap_copyuid_code(uint32_t validity, const uint32_t *src,
	const uint32_t *dst, size_t n)
{
	struct buf *code = buf_new(xalloc_add(xalloc_mul(n, 22), 64));
	uint32_t *src_kept = xcalloc(n + 1, sizeof(*src_kept));
	uint32_t *dst_kept = xcalloc(n + 1, sizeof(*dst_kept));
	size_t i, kept = 0;

	/*
	 * A copy the target's list no longer holds (expunged there before
	 * we looked) has no UID to report: leave the pair out, never a
	 * UID 0 (RFC 4315 uid-set is of nz-number).
	 */
	for (i = 0; i < n; i++) {
		if (src[i] != 0 && dst[i] != 0) {
			src_kept[kept] = src[i];
			dst_kept[kept++] = dst[i];
		}
	}
	if (validity != 0 && kept > 0 && (buf_printf(code, "[COPYUID %u ",
	    (unsigned) validity) < 0 ||
	    imap_uid_ranges(code, src_kept, kept) < 0 ||
	    buf_append_char(code, ' ') < 0 ||
	    imap_uid_ranges(code, dst_kept, kept) < 0 ||
	    buf_append_str(code, "] ") < 0))
		log_panic("COPYUID of %zu messages past its worst case", n);
	free(src_kept);
	free(dst_kept);
	return code;
}

/*
 * The UIDs the target folder gave to these base names (0 if unknown).
 * The folder's list is sorted by name once and searched per base: COPY
 * of n messages into a folder of m is (n + m) log m, not n * m.
 */
uint32_t
imap_target_uids(const char *dir, char **bases, size_t count,
	uint32_t *uids, char **error_r)
{
	struct imap_uidlist_result r;
	size_t i;
	uint32_t validity;

	if (imap_uidlist_scan(dir, &r, error_r) < 0)
		return 0;
	imap_uidlist_sort_by_base(&r);
	for (i = 0; i < count; i++)
		uids[i] = imap_uidlist_find_base(&r, bases[i]);
	validity = r.uidvalidity;
	imap_uidlist_result_free(&r);
	return validity;
}

/*
 * msg's keywords as letters of the folder at dir, whose table is target
 * (names it lacks are added there).  A keyword that cannot be added (the
 * target has all 26) is dropped, as is a letter without a name.
 */
static uint32_t
imap_keywords_translate(const struct imap_mailbox *box,
	const struct imap_msg *msg, const char *dir,
	struct imap_keywords *target)
{
	uint32_t bits = 0;
	char *error = NULL;
	int i, n;

	if (strcmp(dir, box->dir) == 0)
		return msg->keywords;
	for (i = 0; i < IMAP_KEYWORD_MAX; i++) {
		if (!(msg->keywords & ((uint32_t) 1 << i)) ||
		    box->kw.names[i] == NULL)
			continue;
		n = imap_keywords_add(dir, target, box->kw.names[i], &error);
		if (n < 0) {
			log_warn("keyword %s not copied to %s: %s",
			    box->kw.names[i], dir, error);
			free(error);
			error = NULL;
			continue;
		}
		bits |= (uint32_t) 1 << n;
	}
	return bits;
}

/* Copy one message's file into dir/cur via common/maildir. */
static int
imap_copy_file(struct imap_mailbox *box, struct imap_msg *msg,
	const char *dir, struct imap_keywords *target, char **base_r,
	char **error_r)
{
	struct maildir_delivery *d;
	char chunk[IMAP_COPY_CHUNK], *name = NULL, *letters;
	struct stat st;
	ssize_t n;
	int fd, ret;

	fd = imap_msg_open(box, msg);
	if (fd < 0 || fstat(fd, &st) < 0) {
		if (fd >= 0)
			close(fd);
		*error_r = xstrdup("message expunged meanwhile");
		return -1;
	}
	d = maildir_deliver_begin(dir, error_r);
	if (d == NULL) {
		close(fd);
		return -1;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		if (maildir_deliver_write(d, chunk, (size_t) n, error_r) < 0) {
			maildir_deliver_abort(&d);
			close(fd);
			return -1;
		}
	}
	close(fd);
	if (n < 0) {
		*error_r = xasprintf("read: %s", strerror(errno));
		maildir_deliver_abort(&d);
		return -1;
	}
	letters = imap_letters_for(NULL, msg->flags & IMAP_FLAGS_STORED,
	    imap_keywords_translate(box, msg, dir, target));
	ret = maildir_deliver_commit(&d, letters, st.st_mtime, &name, NULL,
	    error_r);
	free(letters);
	if (ret < 0)
		return -1;
	*base_r = xstrndup(name, imap_uidlist_base_len(name));
	free(name);
	return 0;
}

/* Rename a message's file into dir/cur (the same name). */
static int
imap_move_file(struct imap_mailbox *box, struct imap_msg *msg,
	const char *dir, struct imap_keywords *target, char **base_r,
	char **error_r)
{
	char *from, *to, *letters;
	uint32_t keywords = imap_keywords_translate(box, msg, dir, target);
	int tries, ret = -1, fd;

	for (tries = 0; tries < 2 && ret < 0; tries++) {
		from = imap_msg_path(box, msg);
		/* The same name, but the target folder's keyword letters. */
		letters = imap_letters_for(msg->name, msg->flags &
		    IMAP_FLAGS_STORED, keywords);
		to = xasprintf("%s/cur/%.*s:2,%s", dir,
		    (int) imap_uidlist_base_len(msg->name), msg->name,
		    letters);
		free(letters);
		ret = rename(from, to);
		if (ret < 0 && (errno != ENOENT || tries == 1))
			*error_r = xasprintf("rename %s: %s", from,
			    strerror(errno));
		free(from);
		free(to);
		if (ret < 0 && errno == ENOENT && tries == 0) {
			/* Renamed by another session?  Find it again. */
			if ((fd = imap_msg_open(box, msg)) < 0) {
				*error_r = xstrdup("message expunged "
				    "meanwhile");
				return -1;
			}
			close(fd);
		} else if (ret < 0) {
			return -1;
		}
	}
	if (ret < 0)
		return -1;
	*base_r = xstrndup(msg->name, imap_uidlist_base_len(msg->name));
	return 0;
}

/* Is uid in the ascending list? */
static int
imap_uid_in(const uint32_t *uids, size_t count, uint32_t uid)
{
	size_t low = 0, high = count, mid;

	while (low < high) {
		mid = low + (high - low) / 2;
		if (uids[mid] == uid)
			return 1;
		if (uids[mid] < uid)
			low = mid + 1;
		else
			high = mid;
	}
	return 0;
}

static void
imap_copy_or_move(struct imap_session *sess, struct imap_arg *args,
	size_t count, int move)
{
	struct imap_mailbox *box = sess->box;
	const char *name;
	char *dir, *copy_error = NULL, **bases;
	unsigned char *selected;
	uint32_t *src_uids, *dst_uids, validity;
	long long bytes = 0;
	struct maildir_quota q;
	struct imap_keywords target;
	struct buf *code;
	size_t i, n = 0, total = 0;
	int failed = 0;

	if (count != 2 || args[0].type != IMAP_ARG_ATOM ||
	    (name = imap_arg_astring(&args[1])) == NULL) {
		imap_tagged(sess, "BAD", "Needs a message set and a mailbox");
		return;
	}
	if ((dir = imap_target_folder(sess, name)) == NULL)
		return;
	if (move && box->readonly) {
		free(dir);
		imap_tagged(sess, "NO", "Mailbox is read-only");
		return;
	}
	if (imap_select_messages(sess, args[0].str, sess->uid_cmd,
	    &selected) < 0) {
		free(dir);
		return;
	}
	for (i = 0; i < box->count; i++) {
		if (selected[i]) {
			total++;
			bytes += imap_msg_size(box, &box->msgs[i]);
		}
	}
	if (!move && total > 0 && maildir_quota_get(sess->root, sess->quota,
	    &q, &copy_error) == 0 && ((q.bytes_limit > 0 &&
	    q.bytes + bytes > q.bytes_limit) || (q.count_limit > 0 &&
	    q.count + (long long) total > q.count_limit))) {
		free(selected);
		free(dir);
		imap_tagged(sess, "NO", "[OVERQUOTA] Quota exceeded");
		return;
	}
	free(copy_error);
	copy_error = NULL;
	memset(&target, 0, sizeof(target));
	if (imap_keywords_load(dir, &target, &copy_error) < 0) {
		log_warn("user=%s: %s", sess->user, copy_error);
		free(copy_error);
		copy_error = NULL;
	}
	bases = xcalloc(total + 1, sizeof(*bases));
	src_uids = xcalloc(total + 1, sizeof(*src_uids));
	dst_uids = xcalloc(total + 1, sizeof(*dst_uids));
	for (i = 0; i < box->count && !failed; i++) {
		if (!selected[i])
			continue;
		imap_yield(n);
		if (move) {
			if (strcmp(dir, box->dir) == 0)
				continue;	/* onto itself: nothing to do */
			if (imap_move_file(box, &box->msgs[i], dir, &target,
			    &bases[n], &copy_error) < 0) {
				failed = 1;
				break;
			}
		} else if (imap_copy_file(box, &box->msgs[i], dir, &target,
		    &bases[n], &copy_error) < 0) {
			failed = 1;
			break;
		}
		src_uids[n++] = box->msgs[i].uid;
	}
	free(selected);
	imap_keywords_clear(&target);
	if (failed)
		log_error("user=%s %s to %s: %s", sess->user,
		    move ? "move" : "copy", name, copy_error);
	free(copy_error);
	copy_error = NULL;
	if (!move && n > 0 && maildir_quota_add(sess->root, bytes,
	    (long long) n, &copy_error) < 0) {
		log_warn("user=%s quota: %s", sess->user, copy_error);
		free(copy_error);
		copy_error = NULL;
	}
	validity = n > 0 ? imap_target_uids(dir, bases, n, dst_uids,
	    &copy_error) : 0;
	free(copy_error);
	code = imap_copyuid_code(validity, src_uids, dst_uids, n);
	if (move) {
		/* RFC 6851: COPYUID untagged, then the EXPUNGEs. */
		if (buf_len(code) > 0) {
			imap_write(sess, "* OK ", 5);
			imap_write(sess, buf_cstr(code), buf_len(code));
			imap_write(sess, "Moved\r\n", 7);
		}
		for (i = box->count; i > 0; i--) {
			if (imap_uid_in(src_uids, n, box->msgs[i - 1].uid)) {
				imap_expunged_reply(sess, i,
				    box->msgs[i - 1].uid);
				imap_mailbox_drop(box, i - 1);
			}
		}
		imap_mailbox_compact(box);
		box->changed = 1;
	}
	if (failed)
		imap_tagged(sess, "NO", "[SERVERBUG] %s failed",
		    move ? "Move" : "Copy");
	else if (move)
		imap_tagged(sess, "OK", "Move completed");
	else
		imap_tagged_code(sess, "OK", code, "Copy completed");
	buf_free(&code);
	for (i = 0; i < n; i++)
		free(bases[i]);
	free(bases);
	free(src_uids);
	free(dst_uids);
	free(dir);
}

void
imap_cmd_copy(struct imap_session *sess, struct imap_arg *args, size_t count)
{
	imap_copy_or_move(sess, args, count, 0);
}

void
imap_cmd_move(struct imap_session *sess, struct imap_arg *args, size_t count)
{
	imap_copy_or_move(sess, args, count, 1);
}

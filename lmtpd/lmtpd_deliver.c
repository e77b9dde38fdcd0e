/*
 * lmtpd_deliver: quota check and Maildir++ delivery for one recipient;
 * see lmtpd_deliver.h.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "buf.h"
#include "dotlock.h"
#include "fileio.h"
#include "lmtpd_deliver.h"
#include "lmtpd_seen.h"
#include "lmtpd_spool.h"
#include "log.h"
#include "mail_params.h"
#include "mailbox_state.h"
#include "maildir.h"
#include "store.h"
#include "xalloc.h"

/* maildir.c recalculates a maildirsize past this size (Maildir++). */
#define DELIVER_MAILDIRSIZE_MAX 5120
/* The longest folder name XFOLDER may give. */
#define DELIVER_FOLDER_MAX 255

void
lmtpd_recipient_clear(struct lmtpd_recipient *r)
{
	xfree(r->address);
	xfree(r->mailbox);
	xfree(r->store_path);
	xfree(r->folder);
	r->quota = 0;
	r->quota_seen = 0;
}

/* The same maildirsize as before: nothing was added or replaced. */
static int
deliver_quota_same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	    a->st_size == b->st_size &&
	    a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	    a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	    a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	    a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/*
 * Read the quota.  A missing or oversized maildirsize means the files
 * are counted again and the file is replaced, a mailbox-wide change, so
 * that happens under the dot-lock; the common case (a short file) reads
 * without it, or not at all when the stat finds the file r->quota_usage
 * came from (RCPT's read, reused by DATA).
 * XXX: a damaged file, or a limit that changed in the directory, is
 * also recalculated by maildir_quota_get() but not under the lock; two
 * recalculations at once are harmless (each renames a complete file).
 */
static int
deliver_quota_get(struct lmtpd_recipient *r, struct maildir_quota *q,
	char **error_r)
{
	char *path = xasprintf("%s/maildirsize", r->store_path);
	struct dotlock *lock = NULL;
	struct stat st;
	int rc;

	if (stat(path, &st) == 0 && st.st_size <= DELIVER_MAILDIRSIZE_MAX) {
		free(path);
		if (r->quota_seen && deliver_quota_same_file(&st,
		    &r->quota_file)) {
			*q = r->quota_usage;
			return 0;
		}
		rc = maildir_quota_get_stat(r->store_path, r->quota, q,
		    &r->quota_file, error_r);
		r->quota_seen = rc == 0 && r->quota_file.st_ino != 0;
		if (r->quota_seen)
			r->quota_usage = *q;
		return rc;
	}
	r->quota_seen = 0;
	rc = dotlock_take(path, (int) var_lmtp_lock_timeout,
	    (int) var_lmtp_lock_stale_time, &lock, error_r);
	if (rc == 0)
		*error_r = xasprintf("%s.lock: held for more than %llds",
		    path, var_lmtp_lock_timeout);
	free(path);
	if (rc <= 0)
		return -1;
	rc = maildir_quota_get(r->store_path, r->quota, q, error_r);
	dotlock_release(&lock);
	return rc;
}

int
lmtpd_quota_room(struct lmtpd_recipient *r, long long size, char **error_r)
{
	struct maildir_quota q;

	if (deliver_quota_get(r, &q, error_r) < 0)
		return -1;
	if (q.bytes_limit > 0 && (q.bytes >= q.bytes_limit ||
	    size > q.bytes_limit - q.bytes))
		return 0;
	if (q.count_limit > 0 && q.count >= q.count_limit)
		return 0;
	return 1;
}

void
lmtpd_quota_full_reply(struct buf *reply, const char *address)
{
	buf_reset(reply);
	buf_printf(reply, "%s <%s> Mailbox full", var_lmtp_quota_full_permanent
	    ? "552 5.2.2" : "452 4.2.2", address);
}

/*
 * May delivery create the missing folder name?  The special-use folders
 * every new store gets (STORE_SPECIAL_FOLDERS) and the filter's Junk
 * folder (filter_junk_folder): a store made before them, or one whose
 * user deleted Junk, gets it back the way imapd would make it, as
 * Dovecot's autocreate does.  Any other name is never created.
 */
static int
deliver_folder_autocreate(const char *name)
{
	static const char *const special[] = STORE_SPECIAL_FOLDERS;
	size_t i;

	if (var_filter_junk_folder != NULL
	    && strcmp(name, var_filter_junk_folder) == 0)
		return 1;
	for (i = 0; i < sizeof(special) / sizeof(special[0]); i++)
		if (strcmp(name, special[i]) == 0)
			return 1;
	return 0;
}

/*
 * The directory of a folder: root for INBOX, root/.Name for a folder
 * that exists or deliver_folder_autocreate() may make.  An unknown or
 * malformed name, or a failed creation, gives root and a warning: mail
 * is never refused for the folder a filter chose.
 */
static char *
deliver_folder_dir(const struct lmtpd_recipient *r, const char **used_r)
{
	const char *name = r->folder;
	struct stat st;
	char *dir, *tmp, *error = NULL;
	size_t i;
	int ok = 1;

	*used_r = "INBOX";
	if (name == NULL || strcasecmp(name, "INBOX") == 0)
		return xstrdup(r->store_path);
	if (name[0] == '\0' || name[0] == '.' ||
	    strlen(name) > DELIVER_FOLDER_MAX || strstr(name, "..") != NULL)
		ok = 0;
	for (i = 0; ok && name[i] != '\0'; i++)
		if (name[i] == '/' || (unsigned char) name[i] < 0x20 ||
		    name[i] == 0x7f)
			ok = 0;
	if (!ok) {
		log_warn("to=<%s> malformed folder name, delivering to INBOX",
		    r->mailbox);
		return xstrdup(r->store_path);
	}
	dir = xasprintf("%s/.%s", r->store_path, name);
	tmp = xasprintf("%s/tmp", dir);
	if ((stat(tmp, &st) < 0 || !S_ISDIR(st.st_mode))
	    && deliver_folder_autocreate(name)) {
		if (store_folder_create(r->store_path, name, &error) < 0) {
			log_warn("to=<%s> cannot create folder %s: %s",
			    r->mailbox, name, error);
			free(error);
		} else
			log_info("to=<%s> created folder %s", r->mailbox,
			    name);
	}
	if (stat(tmp, &st) < 0 || !S_ISDIR(st.st_mode)) {
		log_warn("to=<%s> folder %s does not exist, delivering to "
		    "INBOX", r->mailbox, name);
		free(tmp);
		free(dir);
		return xstrdup(r->store_path);
	}
	free(tmp);
	*used_r = name;
	return dir;
}

static int
deliver_sink(void *ctx, const void *data, size_t len, char **error_r)
{
	return maildir_deliver_write(ctx, data, len, error_r);
}

/* The reply for a failed write: a full disk is 452 (RFC 3463 4.3.1). */
static void
deliver_fail_reply(struct buf *reply, int saved_errno, const char *address)
{
	if (fileio_errno_full(saved_errno))
		buf_printf(reply, "452 4.3.1 <%s> Insufficient system storage",
		    address);
	else
		buf_printf(reply, "451 4.3.0 <%s> Temporary delivery failure",
		    address);
}

/*
 * The move's barrier (store_mark.h): the tmp/ file exists, the link has
 * not happened.  1 go on; 0 the reply says why not.
 */
static int
deliver_not_moving(struct route *route, const struct lmtpd_recipient *r,
	const char *folder, struct buf *reply)
{
	char *error = NULL;
	int rc;

	rc = mailbox_state_marked(route, r->mailbox, r->store_path, &error);
	if (rc == 0)
		return 1;
	if (rc > 0) {
		log_info("to=<%s> folder=%s status=deferred (mailbox being "
		    "moved)", r->mailbox, folder);
		buf_printf(reply, "451 4.2.1 <%s> Mailbox is being moved, "
		    "try again later", r->address);
	} else {
		log_error("to=<%s> folder=%s status=deferred (moving mark: "
		    "%s)", r->mailbox, folder, error);
		buf_printf(reply, "451 4.3.0 <%s> Temporary delivery failure",
		    r->address);
	}
	free(error);
	return 0;
}

void
lmtpd_deliver(struct route *route, struct lmtpd_spool *spool,
	const char *sender, const char *queue_id,
	struct lmtpd_recipient *r, struct buf *reply)
{
	struct maildir_delivery *d = NULL;
	const char *folder;
	char *dir = NULL, *trace, *name = NULL, *error = NULL;
	long long size = 0;
	int rc, saved_errno;

	buf_reset(reply);
	if (lmtpd_seen_check(r->store_path, queue_id, r->address)) {
		log_info("to=<%s> orig_to=<%s> status=delivered (already "
		    "delivered: a repeat of queue id %s)", r->mailbox,
		    r->address, queue_id);
		buf_printf(reply, "250 2.0.0 <%s> Already delivered",
		    r->address);
		return;
	}
	if (lmtpd_spool_delivered_to(spool, r->mailbox)) {
		log_info("to=<%s> status=bounced (mail forwarding loop: "
		    "Delivered-To: %s already present)", r->mailbox,
		    r->mailbox);
		buf_printf(reply, "554 5.4.6 <%s> Mail forwarding loop "
		    "(Delivered-To: already present)", r->address);
		return;
	}
	trace = xasprintf("Return-Path: <%s>\nDelivered-To: %s\n", sender,
	    r->mailbox);
	rc = lmtpd_quota_room(r, lmtpd_spool_size(spool) +
	    (long long) strlen(trace), &error);
	if (rc <= 0) {
		if (rc == 0) {
			log_info("to=<%s> status=%s (mailbox full)",
			    r->mailbox, var_lmtp_quota_full_permanent ?
			    "bounced" : "deferred");
			lmtpd_quota_full_reply(reply, r->address);
		} else {
			log_error("to=<%s> status=deferred (quota: %s)",
			    r->mailbox, error);
			buf_printf(reply, "451 4.3.0 <%s> Temporary failure "
			    "reading the quota", r->address);
		}
		goto out;
	}
	dir = deliver_folder_dir(r, &folder);
	d = maildir_deliver_begin(dir, &error);
	rc = d != NULL ? 0 : -1;
	if (rc == 0)
		rc = maildir_deliver_write(d, trace, strlen(trace), &error);
	if (rc == 0)
		rc = lmtpd_spool_replay(spool, deliver_sink, d, &error);
	if (rc == 0 && !deliver_not_moving(route, r, folder, reply)) {
		maildir_deliver_abort(&d);
		goto out;
	}
	if (rc == 0)
		rc = maildir_deliver_commit(&d, NULL, 0, &name, &size, &error);
	saved_errno = errno;
	if (rc < 0) {
		maildir_deliver_abort(&d);
		log_error("to=<%s> folder=%s status=deferred (%s)",
		    r->mailbox, folder, error);
		deliver_fail_reply(reply, saved_errno, r->address);
		goto out;
	}
	/*
	 * The message is safely in new/: a failure to count it must not
	 * turn into a retry (a duplicate); the next recalculation fixes it.
	 */
	if (maildir_quota_add(r->store_path, size, 1, &error) < 0) {
		log_warn("to=<%s> quota not updated: %s", r->mailbox, error);
		xfree(error);
	}
	lmtpd_seen_record(r->store_path, queue_id, r->address);
	log_info("to=<%s> orig_to=<%s> folder=%s size=%lld file=%s "
	    "status=delivered", r->mailbox, r->address, folder, size, name);
	buf_printf(reply, "250 2.0.0 <%s> Delivered to %s", r->address,
	    folder);
out:
	free(trace);
	free(dir);
	free(name);
	free(error);
}

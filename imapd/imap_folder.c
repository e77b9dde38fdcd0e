/*
 * imap_folder: mailbox names and the commands on whole mailboxes
 * (CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, STATUS; LIST and LSUB
 * are in imap_list.c).
 *
 * INBOX is the store's root Maildir; another mailbox "A.B" is the
 * Maildir++ folder ".A.B" (hierarchy separator ".", as Dovecot shows
 * Maildir++).  Names travel and are stored in modified UTF-7 (RFC 3501
 * 5.1.3), which is checked, not converted.
 */
#include "config.h"

#define _XOPEN_SOURCE_EXTENDED 1
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "imap.h"
#include "imap_folder.h"
#include "imap_mailbox.h"
#include "imap_uidlist.h"
#include "log.h"
#include "xalloc.h"

#define IMAP_SUBSCRIPTIONS "subscriptions"

static int
imap_is_inbox(const char *name)
{
	return strcasecmp(name, "INBOX") == 0;
}

/* Modified UTF-7 as RFC 3501 5.1.3 defines it, and our own limits. */
static const char *
imap_name_check(const char *name)
{
	const char *p;
	size_t n;

	if (name[0] == '\0' || strlen(name) > IMAP_NAME_MAX)
		return "Invalid mailbox name length";
	if (name[0] == '.' || name[strlen(name) - 1] == '.' ||
	    strstr(name, "..") != NULL)
		return "Invalid hierarchy in mailbox name";
	for (p = name; *p != '\0'; p++) {
		if ((unsigned char) *p < 0x20 || (unsigned char) *p >= 0x7f ||
		    *p == '/' || *p == '%' || *p == '*' || *p == '\\')
			return "Invalid character in mailbox name";
		if (*p != '&')
			continue;
		n = strspn(p + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
		    "qrstuvwxyz0123456789+,");
		if (p[1 + n] != '-' || n == 1)
			return "Invalid modified UTF-7 in mailbox name";
		p += 1 + n;
	}
	return NULL;
}

char *
imap_folder_dir(struct imap_session *sess, const char *name,
	const char **error_r)
{
	if (imap_is_inbox(name))
		return xstrdup(sess->root);
	if ((*error_r = imap_name_check(name)) != NULL)
		return NULL;
	return xasprintf("%s/.%s", sess->root, name);
}

int
imap_folder_exists(const char *dir)
{
	struct stat st;
	char *cur = xasprintf("%s/cur", dir);
	int ret = stat(cur, &st) == 0 && S_ISDIR(st.st_mode);

	free(cur);
	return ret;
}

char *
imap_target_folder(struct imap_session *sess, const char *name)
{
	const char *error = NULL;
	char *dir = imap_folder_dir(sess, name, &error);

	if (dir == NULL) {
		imap_tagged(sess, "NO", "%s", error);
		return NULL;
	}
	if (!imap_folder_exists(dir)) {
		free(dir);
		imap_tagged(sess, "NO", "[TRYCREATE] Mailbox doesn't exist");
		return NULL;
	}
	return dir;
}

const char *
imap_folder_special_use(const char *name)
{
	if (strcmp(name, "Sent") == 0)
		return "\\Sent";
	if (strcmp(name, "Drafts") == 0)
		return "\\Drafts";
	if (strcmp(name, "Junk") == 0)
		return "\\Junk";
	if (strcmp(name, "Trash") == 0)
		return "\\Trash";
	return NULL;
}

static int
imap_make_maildir(const char *dir, char **error_r)
{
	static const char *const subdirs[] = { "cur", "new", "tmp" };
	char *path;
	size_t i;
	int fd;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		*error_r = xasprintf("mkdir %s: %s", dir, strerror(errno));
		return -1;
	}
	for (i = 0; i < 3; i++) {
		path = xasprintf("%s/%s", dir, subdirs[i]);
		if (mkdir(path, 0700) < 0 && errno != EEXIST) {
			*error_r = xasprintf("mkdir %s: %s", path,
			    strerror(errno));
			free(path);
			return -1;
		}
		free(path);
	}
	path = xasprintf("%s/maildirfolder", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	free(path);
	if (fd >= 0)
		close(fd);
	return 0;
}

int
imap_folder_make(struct imap_session *sess, const char *name,
	char **error_r)
{
	char *prefix, *dir, *dot;
	int ret = 0;

	prefix = xstrdup(name);
	/* Parents first, so LIST never shows a hole in the hierarchy. */
	for (dot = strchr(prefix, '.'); ret == 0; dot = strchr(dot + 1, '.')) {
		if (dot != NULL)
			*dot = '\0';
		dir = xasprintf("%s/.%s", sess->root, prefix);
		ret = imap_make_maildir(dir, error_r);
		free(dir);
		if (dot == NULL)
			break;
		*dot = '.';
	}
	free(prefix);
	return ret;
}

int
imap_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

void
imap_names_free(char **names, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++)
		free(names[i]);
	free(names);
}

/* Every folder name (INBOX first, the rest sorted). */
char **
imap_folder_names(struct imap_session *sess, size_t *count_r)
{
	char **names = NULL;
	size_t count = 0, alloc = 0;
	struct dirent *de;
	char *dir;
	DIR *d;

	names = xreallocarray(NULL, 8, sizeof(*names));
	alloc = 8;
	names[count++] = xstrdup("INBOX");
	d = opendir(sess->root);
	while (d != NULL && (de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.' || imap_name_check(de->d_name + 1)
		    != NULL)
			continue;
		dir = xasprintf("%s/%s", sess->root, de->d_name);
		if (!imap_folder_exists(dir)) {
			free(dir);
			continue;
		}
		free(dir);
		if (count == alloc) {
			alloc *= 2;
			names = xreallocarray(names, alloc, sizeof(*names));
		}
		names[count++] = xstrdup(de->d_name + 1);
	}
	if (d != NULL)
		closedir(d);
	qsort(names + 1, count - 1, sizeof(*names), imap_name_cmp);
	*count_r = count;
	return names;
}

/* The subscriptions file, one name a line. */
char **
imap_subscriptions_read(struct imap_session *sess, size_t *count_r)
{
	char *path = xasprintf("%s/%s", sess->root, IMAP_SUBSCRIPTIONS);
	char **names = NULL, line[IMAP_NAME_MAX + 3];
	size_t count = 0, alloc = 0;
	FILE *f = fopen(path, "re");

	free(path);
	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0')
			continue;
		if (count == alloc) {
			alloc = alloc == 0 ? 8 : alloc * 2;
			names = xreallocarray(names, alloc, sizeof(*names));
		}
		names[count++] = xstrdup(line);
	}
	if (f != NULL)
		fclose(f);
	*count_r = count;
	return names;
}

static int
imap_subscriptions_write(struct imap_session *sess, char **names,
	size_t count)
{
	char *path = xasprintf("%s/%s", sess->root, IMAP_SUBSCRIPTIONS);
	char *tmp = xasprintf("%s.tmp", path);
	size_t i;
	FILE *f = fopen(tmp, "we");
	int ret = -1;

	if (f != NULL) {
		for (i = 0; i < count; i++) {
			if (names[i] != NULL)
				fprintf(f, "%s\n", names[i]);
		}
		if (fclose(f) == 0 && rename(tmp, path) == 0)
			ret = 0;
	}
	if (ret < 0) {
		log_error("user=%s: write %s: %s", sess->user, path,
		    strerror(errno));
		(void) unlink(tmp);
	}
	free(path);
	free(tmp);
	return ret;
}

int
imap_names_contain(char **names, size_t count, const char *name)
{
	size_t i;

	for (i = 0; i < count; i++) {
		if (names[i] != NULL && strcmp(names[i], name) == 0)
			return 1;
	}
	return 0;
}

void
imap_name_set_init(struct imap_name_set *set, char **names, size_t count)
{
	size_t i;

	set->sorted = xcalloc(count + 1, sizeof(*set->sorted));
	set->count = 0;
	for (i = 0; i < count; i++) {
		if (names[i] != NULL)
			set->sorted[set->count++] = names[i];
	}
	qsort(set->sorted, set->count, sizeof(*set->sorted), imap_name_cmp);
}

void
imap_name_set_free(struct imap_name_set *set)
{
	free(set->sorted);
	set->sorted = NULL;
	set->count = 0;
}

/* The index of the first name not below key in strcmp order. */
static size_t
imap_name_set_lower(const struct imap_name_set *set, const char *key)
{
	size_t lo = 0, hi = set->count, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (strcmp(set->sorted[mid], key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int
imap_name_set_contains(const struct imap_name_set *set, const char *name)
{
	size_t i = imap_name_set_lower(set, name);

	return i < set->count && strcmp(set->sorted[i], name) == 0;
}

int
imap_name_set_has_children(const struct imap_name_set *set,
	const char *name)
{
	size_t len = strlen(name), i;
	char *key = xasprintf("%s.", name);

	/* Every "name.x" sorts at or after "name." and before the rest. */
	i = imap_name_set_lower(set, key);
	free(key);
	return i < set->count && strncmp(set->sorted[i], name, len) == 0 &&
	    set->sorted[i][len] == '.';
}

size_t
imap_names_sort_unique(char **names, size_t count)
{
	size_t i, n = 0;

	if (count == 0)
		return 0;
	qsort(names, count, sizeof(*names), imap_name_cmp);
	for (i = 0; i < count; i++) {
		if (n > 0 && strcmp(names[n - 1], names[i]) == 0)
			free(names[i]);
		else
			names[n++] = names[i];
	}
	return n;
}

int
imap_has_children(char **names, size_t count, const char *name)
{
	size_t i, len = strlen(name);

	for (i = 0; i < count; i++) {
		if (strncmp(names[i], name, len) == 0 && names[i][len] == '.')
			return 1;
	}
	return 0;
}

static const char *
imap_name_arg(struct imap_session *sess, struct imap_arg *args,
	size_t count, size_t want)
{
	const char *name;

	if (count != want || (name = imap_arg_astring(&args[0])) == NULL) {
		imap_tagged(sess, "BAD", "Missing or bad mailbox name");
		return NULL;
	}
	return name;
}

/*
 * CREATE's parameter list (RFC 6154 5.3): "(USE (\\Attr ...))" with
 * special-use attributes; -1 with *error_r for anything else.
 */
static int
imap_create_use_check(const struct imap_arg *params, const char **error_r)
{
	static const char *const uses[] = { "\\All", "\\Archive",
	    "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash" };
	const struct imap_arg *list;
	size_t i, k;

	*error_r = "Bad CREATE parameters";
	if (params->type != IMAP_ARG_LIST || params->count != 2 ||
	    params->list[0].type != IMAP_ARG_ATOM ||
	    strcasecmp(params->list[0].str, "USE") != 0 ||
	    params->list[1].type != IMAP_ARG_LIST)
		return -1;
	list = &params->list[1];
	for (i = 0; i < list->count; i++) {
		for (k = 0; k < sizeof(uses) / sizeof(uses[0]); k++) {
			if (list->list[i].type == IMAP_ARG_ATOM &&
			    strcasecmp(list->list[i].str, uses[k]) == 0)
				break;
		}
		if (k == sizeof(uses) / sizeof(uses[0])) {
			*error_r = "Unknown special-use attribute";
			return -1;
		}
	}
	return 0;
}

/*
 * Special use comes from the name here (imap_folder_special_use): a USE
 * list can be honoured when it is empty or names just that attribute.
 */
static int
imap_create_use_ok(const struct imap_arg *params, const char *name)
{
	const struct imap_arg *list = &params->list[1];
	const char *special = imap_folder_special_use(name);
	size_t i;

	for (i = 0; i < list->count; i++) {
		if (special == NULL || strcasecmp(list->list[i].str,
		    special) != 0)
			return 0;
	}
	return 1;
}

void
imap_cmd_create(struct imap_session *sess, struct imap_arg *args,
	size_t count)
{
	const char *arg = imap_name_arg(sess, args, count == 2 ? 1 : count, 1);
	const char *error, *use_error = NULL;
	char *name, *dir, *make_error = NULL;

	if (arg == NULL)
		return;
	if (count == 2 && imap_create_use_check(&args[1], &use_error) < 0) {
		imap_tagged(sess, "BAD", "%s", use_error);
		return;
	}
	name = xstrdup(arg);
	/* "A." asks for a mailbox that will hold others: the same here. */
	if (name[0] != '\0' && name[strlen(name) - 1] == '.')
		name[strlen(name) - 1] = '\0';
	dir = imap_folder_dir(sess, name, &error);
	if (dir != NULL && count == 2 &&
	    !imap_create_use_ok(&args[1], name))
		imap_tagged(sess, "NO", "[USEATTR] Only Sent, Drafts, Junk "
		    "and Trash have a special use, each its own");
	else if (dir == NULL)
		imap_tagged(sess, "NO", "%s", error);
	else if (imap_is_inbox(name) || imap_folder_exists(dir))
		imap_tagged(sess, "NO", "[ALREADYEXISTS] Mailbox exists");
	else if (imap_folder_make(sess, name, &make_error) < 0) {
		log_error("user=%s: %s", sess->user, make_error);
		free(make_error);
		imap_tagged(sess, "NO", "[SERVERBUG] Cannot create mailbox");
	} else
		imap_tagged(sess, "OK", "Create completed");
	free(dir);
	free(name);
}

static int
imap_rm_entry(const char *path, const struct stat *st, int flag,
	struct FTW *ftw)
{
	(void) st;
	(void) ftw;
	if (flag == FTW_DP)
		return rmdir(path) < 0 ? -1 : 0;
	return unlink(path) < 0 ? -1 : 0;
}

void
imap_cmd_delete(struct imap_session *sess, struct imap_arg *args,
	size_t count)
{
	const char *name = imap_name_arg(sess, args, count, 1), *error;
	char *dir, *trash, **names, **subs;
	size_t name_count, sub_count, i;

	if (name == NULL)
		return;
	if (imap_is_inbox(name)) {
		imap_tagged(sess, "NO", "[CANNOT] INBOX cannot be deleted");
		return;
	}
	if ((dir = imap_folder_dir(sess, name, &error)) == NULL) {
		imap_tagged(sess, "NO", "%s", error);
		return;
	}
	if (!imap_folder_exists(dir)) {
		free(dir);
		imap_tagged(sess, "NO", "[NONEXISTENT] Mailbox doesn't exist");
		return;
	}
	names = imap_folder_names(sess, &name_count);
	if (imap_has_children(names, name_count, name)) {
		imap_names_free(names, name_count);
		free(dir);
		/* RFC 9051 7.1: HASCHILDREN (IMAP4rev1 clients ignore an
		 * unknown code). */
		imap_tagged(sess, "NO", "[HASCHILDREN] Mailbox has children, "
		    "delete them first");
		return;
	}
	imap_names_free(names, name_count);
	if (sess->box != NULL && strcmp(sess->box->dir, dir) == 0) {
		imap_mailbox_close(&sess->box);
		imap_searchres_clear(sess);
		sess->state = IMAP_STATE_AUTH;
	}
	/* Out of sight at once (one rename), then removed at leisure. */
	trash = xasprintf("%s/..deleted.%ld.%lld", sess->root,
	    (long) getpid(), (long long) time(NULL));
	if (rename(dir, trash) < 0) {
		log_error("user=%s: rename %s: %s", sess->user, dir,
		    strerror(errno));
		imap_tagged(sess, "NO", "[SERVERBUG] Cannot delete mailbox");
	} else {
		if (nftw(trash, imap_rm_entry, 16, FTW_DEPTH | FTW_PHYS) < 0)
			log_warn("user=%s: remove %s: %s", sess->user, trash,
			    strerror(errno));
		subs = imap_subscriptions_read(sess, &sub_count);
		for (i = 0; i < sub_count; i++) {
			if (strcmp(subs[i], name) == 0) {
				free(subs[i]);
				subs[i] = NULL;
			}
		}
		(void) imap_subscriptions_write(sess, subs, sub_count);
		for (i = 0; i < sub_count; i++)
			free(subs[i]);
		free(subs);
		imap_tagged(sess, "OK", "Delete completed");
	}
	free(trash);
	free(dir);
}

/* RENAME INBOX: its messages move to a new folder; INBOX stays. */
static int
imap_rename_inbox(struct imap_session *sess, const char *to_dir,
	char **error_r)
{
	static const char *const subdirs[] = { "new", "cur" };
	struct dirent *de;
	char *path, *from, *to;
	DIR *d;
	int sub;

	for (sub = 0; sub < 2; sub++) {
		path = xasprintf("%s/%s", sess->root, subdirs[sub]);
		d = opendir(path);
		free(path);
		if (d == NULL)
			continue;
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			from = xasprintf("%s/%s/%s", sess->root, subdirs[sub],
			    de->d_name);
			to = xasprintf("%s/%s/%s", to_dir, subdirs[sub],
			    de->d_name);
			if (rename(from, to) < 0 && errno != ENOENT)
				*error_r = xasprintf("rename %s: %s", from,
				    strerror(errno));
			free(from);
			free(to);
		}
		closedir(d);
	}
	return 0;
}

void
imap_cmd_rename(struct imap_session *sess, struct imap_arg *args,
	size_t count)
{
	const char *from, *to, *error;
	char *from_dir = NULL, *to_dir = NULL, **names, *a, *b, *err = NULL;
	size_t name_count, i, len;
	int failed = 0;

	if (count != 2 || (from = imap_arg_astring(&args[0])) == NULL ||
	    (to = imap_arg_astring(&args[1])) == NULL) {
		imap_tagged(sess, "BAD", "RENAME needs two mailbox names");
		return;
	}
	if ((from_dir = imap_folder_dir(sess, from, &error)) == NULL ||
	    (to_dir = imap_folder_dir(sess, to, &error)) == NULL) {
		free(from_dir);
		imap_tagged(sess, "NO", "%s", error);
		return;
	}
	if (!imap_folder_exists(from_dir))
		imap_tagged(sess, "NO", "[NONEXISTENT] Mailbox doesn't exist");
	else if (imap_is_inbox(to) || imap_folder_exists(to_dir))
		imap_tagged(sess, "NO", "[ALREADYEXISTS] Target mailbox "
		    "exists");
	else if (imap_is_inbox(from)) {
		if (imap_folder_make(sess, to, &err) < 0 ||
		    imap_rename_inbox(sess, to_dir, &err) < 0 || err != NULL)
			failed = 1;
		else
			imap_tagged(sess, "OK", "Rename completed");
	} else {
		/* The children first: their names are under from's name. */
		names = imap_folder_names(sess, &name_count);
		len = strlen(from);
		for (i = 0; i < name_count && !failed; i++) {
			if (strncmp(names[i], from, len) != 0 ||
			    names[i][len] != '.')
				continue;
			a = xasprintf("%s/.%s", sess->root, names[i]);
			b = xasprintf("%s/.%s%s", sess->root, to,
			    names[i] + len);
			if (rename(a, b) < 0) {
				err = xasprintf("rename %s: %s", a,
				    strerror(errno));
				failed = 1;
			}
			free(a);
			free(b);
		}
		imap_names_free(names, name_count);
		if (!failed && strchr(to, '.') != NULL) {
			a = xstrndup(to, (size_t) (strrchr(to, '.') - to));
			if (imap_folder_make(sess, a, &err) < 0)
				failed = 1;
			free(a);
		}
		if (!failed && rename(from_dir, to_dir) < 0) {
			err = xasprintf("rename %s: %s", from_dir,
			    strerror(errno));
			failed = 1;
		}
		if (!failed)
			imap_tagged(sess, "OK", "Rename completed");
	}
	if (failed) {
		log_error("user=%s: %s", sess->user, err != NULL ? err : "?");
		imap_tagged(sess, "NO", "[SERVERBUG] Cannot rename mailbox");
	}
	free(err);
	free(from_dir);
	free(to_dir);
}

static void
imap_subscribe(struct imap_session *sess, struct imap_arg *args,
	size_t count, int subscribe)
{
	const char *name = imap_name_arg(sess, args, count, 1), *error;
	char **subs, *dir;
	size_t sub_count, i;
	int found = 0;

	if (name == NULL)
		return;
	if (imap_is_inbox(name))
		name = "INBOX";
	if ((dir = imap_folder_dir(sess, name, &error)) == NULL) {
		imap_tagged(sess, "NO", "%s", error);
		return;
	}
	free(dir);
	subs = imap_subscriptions_read(sess, &sub_count);
	for (i = 0; i < sub_count; i++) {
		if (strcmp(subs[i], name) == 0) {
			found = 1;
			if (!subscribe) {
				free(subs[i]);
				subs[i] = NULL;
			}
		}
	}
	if (subscribe && !found) {
		subs = xreallocarray(subs, sub_count + 1, sizeof(*subs));
		subs[sub_count++] = xstrdup(name);
	}
	if ((subscribe && found) || (!subscribe && !found) ||
	    imap_subscriptions_write(sess, subs, sub_count) == 0)
		imap_tagged(sess, "OK", "%s completed",
		    subscribe ? "Subscribe" : "Unsubscribe");
	else
		imap_tagged(sess, "NO", "[SERVERBUG] Cannot save "
		    "subscriptions");
	for (i = 0; i < sub_count; i++)
		free(subs[i]);
	free(subs);
}

void
imap_cmd_subscribe(struct imap_session *sess, struct imap_arg *args,
	size_t count)
{
	imap_subscribe(sess, args, count, 1);
}

void
imap_cmd_unsubscribe(struct imap_session *sess, struct imap_arg *args,
	size_t count)
{
	imap_subscribe(sess, args, count, 0);
}

/* SIZE: RFC 8438 (STATUS=SIZE); DELETED: RFC 9051 6.3.11. */
static const char *const imap_status_items[] = { "MESSAGES", "RECENT",
    "UIDNEXT", "UIDVALIDITY", "UNSEEN", "HIGHESTMODSEQ", "SIZE",
    "DELETED" };
#define IMAP_STATUS_ITEMS 8

/*
 * A message's size with CRLF line ends (RFC 8438 2: what RFC822.SIZE
 * says): W= of its name, else its file's size.
 */
static long long
imap_status_msg_size(const char *dir, const struct imap_uidlist_file *f)
{
	struct stat st;
	long long size = imap_name_size(f->name, 'W');
	char *path;

	if (size >= 0)
		return size;
	path = xasprintf("%s/%s/%s", dir, f->in_new ? "new" : "cur", f->name);
	size = stat(path, &st) == 0 ? (long long) st.st_size : 0;
	free(path);
	return size;
}

static size_t
imap_status_item(const struct imap_arg *item)
{
	size_t k;

	for (k = 0; k < IMAP_STATUS_ITEMS; k++) {
		if (item->type == IMAP_ARG_ATOM &&
		    strcasecmp(item->str, imap_status_items[k]) == 0)
			break;
	}
	return k;
}

int
imap_status_items_check(struct imap_session *sess,
	const struct imap_arg *items)
{
	size_t i, k;

	if (items->type != IMAP_ARG_LIST || items->count == 0)
		return -1;
	for (i = 0; i < items->count; i++) {
		k = imap_status_item(&items->list[i]);
		if (k == IMAP_STATUS_ITEMS)
			return -1;
		if (k == 5)
			sess->condstore = 1;	/* an enabling command */
	}
	return 0;
}

int
imap_status_write(struct imap_session *sess, const char *name,
	const struct imap_arg *items)
{
	struct imap_uidlist_result r;
	unsigned long long values[IMAP_STATUS_ITEMS] = { 0 };
	uint64_t highest = 0, *modseqs;
	const char *error;
	char *dir, *scan_error = NULL;
	size_t i, k;
	int want_size = 0;

	if ((dir = imap_folder_dir(sess, name, &error)) == NULL ||
	    !imap_folder_exists(dir)) {
		free(dir);
		return -1;
	}
	if (imap_uidlist_scan(dir, &r, &scan_error) < 0) {
		log_error("user=%s status: %s", sess->user, scan_error);
		free(scan_error);
		free(dir);
		return -2;
	}
	if (sess->condstore) {
		modseqs = imap_mailbox_modseqs(dir, &r, &highest);
		free(modseqs);
	}
	values[0] = r.count;
	values[5] = highest;
	values[2] = r.uidnext;
	values[3] = r.uidvalidity;
	for (i = 0; i < items->count; i++)
		want_size |= imap_status_item(&items->list[i]) == 6;
	for (i = 0; i < r.count; i++) {
		unsigned int flags = imap_flags_from_name(r.files[i].name);

		values[1] += r.files[i].uid >= r.recent_from ? 1 : 0;
		values[4] += (flags & IMAP_FLAG_SEEN) ? 0 : 1;
		values[7] += (flags & IMAP_FLAG_DELETED) ? 1 : 0;
		if (want_size)
			values[6] += (unsigned long long)
			    imap_status_msg_size(dir, &r.files[i]);
	}
	free(dir);
	imap_uidlist_result_free(&r);
	imap_printf(sess, "* STATUS ");
	imap_write_mailbox(sess, name);
	imap_printf(sess, " (");
	for (i = 0; i < items->count; i++) {
		k = imap_status_item(&items->list[i]);
		imap_printf(sess, "%s%s %llu", i == 0 ? "" : " ",
		    imap_status_items[k], values[k]);
	}
	imap_printf(sess, ")\r\n");
	return 0;
}

void
imap_cmd_status(struct imap_session *sess, struct imap_arg *args,
	size_t count)
{
	const char *name;

	if (count != 2 || (name = imap_arg_astring(&args[0])) == NULL ||
	    imap_status_items_check(sess, &args[1]) < 0) {
		imap_tagged(sess, "BAD", "STATUS needs a mailbox and items");
		return;
	}
	switch (imap_status_write(sess, name, &args[1])) {
	case 0:
		imap_tagged(sess, "OK", "Status completed");
		break;
	case -1:
		imap_tagged(sess, "NO", "[NONEXISTENT] Mailbox doesn't exist");
		break;
	default:
		imap_tagged(sess, "NO", "[SERVERBUG] Cannot read mailbox");
		break;
	}
}

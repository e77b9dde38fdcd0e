/*
 * ctl_move_store: the destination side of a mailbox move, written in
 * imapd's own formats (imap_uidlist.h, imap_modseq.h, imap_keywords.h,
 * maildir.h) so imapd finds the source's UIDVALIDITY, UIDs and MODSEQs.
 *
 * A message is written to tmp/ (CRLF made LF as every delivery stores
 * it), fsynced, and renamed into cur/ with its flags; the caller fsyncs
 * cur/ once for a batch and only then writes the UID list that names
 * the files, so a list never names a file a crash could lose.  Files in
 * cur/ that no list names (a move killed between the two) are removed
 * when the move resumes (move_folder_prune): the mailbox is not live
 * here until the switch, so nobody else has seen them.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "buf.h"
#include "ctl_move.h"
#include "fileio.h"
#include "imap_keywords.h"
#include "imap_modseq.h"
#include "imap_uidlist.h"
#include "mail_params.h"
#include "xalloc.h"

#define MOVE_NAME_MAX 200	/* as imapd's IMAP_NAME_MAX */

/* The base of a file name: before ":2," (imap_uidlist_base_len). */
static size_t
move_base_len(const char *name)
{
	return strcspn(name, ":");
}

char *
move_folder_dir(const char *root, const char *name)
{
	const char *p;
	size_t len = strlen(name);

	if (strcasecmp(name, "INBOX") == 0)
		return xstrdup(root);
	if (len == 0 || len > MOVE_NAME_MAX || name[0] == '.' ||
	    name[len - 1] == '.' || strstr(name, "..") != NULL)
		return NULL;
	for (p = name; *p != '\0'; p++)
		if ((unsigned char) *p < 0x20 || (unsigned char) *p >= 0x7f ||
		    *p == '/' || *p == '%' || *p == '*' || *p == '\\')
			return NULL;
	return xasprintf("%s/.%s", root, name);
}

static int
move_mkdir(const char *path, char **error_r)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		*error_r = xasprintf("mkdir %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int
move_folder_create(const char *dir, int is_inbox, char **error_r)
{
	static const char *const subs[] = { "cur", "new", "tmp" };
	size_t i;
	int rc = move_mkdir(dir, error_r);

	for (i = 0; rc == 0 && i < 3; i++) {
		char *p = xasprintf("%s/%s", dir, subs[i]);

		rc = move_mkdir(p, error_r);
		free(p);
	}
	if (rc == 0 && !is_inbox) {
		char *p = xasprintf("%s/maildirfolder", dir);
		int fd = open(p, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
		    0600);

		if (fd < 0) {
			*error_r = xasprintf("create %s: %s", p,
			    strerror(errno));
			rc = -1;
		} else {
			close(fd);
		}
		free(p);
	}
	return rc;
}

long
move_folder_find(const struct move_folder *f, uint32_t uid)
{
	size_t lo = 0, hi = f->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (f->msgs[mid].uid == uid)
			return (long) mid;
		if (f->msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

struct move_msg *
move_folder_insert(struct move_folder *f, uint32_t uid)
{
	size_t i = f->count;

	if (f->count == f->alloc) {
		f->alloc = f->alloc == 0 ? 64 : f->alloc * 2;
		f->msgs = xreallocarray(f->msgs, f->alloc, sizeof(*f->msgs));
	}
	/* UIDs come in ascending order: the loop seldom runs. */
	while (i > 0 && f->msgs[i - 1].uid > uid) {
		f->msgs[i] = f->msgs[i - 1];
		i--;
	}
	memset(&f->msgs[i], 0, sizeof(f->msgs[i]));
	f->msgs[i].uid = uid;
	f->count++;
	return &f->msgs[i];
}

void
move_folder_remove(struct move_folder *f, size_t i)
{
	free(f->msgs[i].name);
	memmove(&f->msgs[i], &f->msgs[i + 1],
	    (f->count - i - 1) * sizeof(*f->msgs));
	f->count--;
}

void
move_folder_clear(struct move_folder *f)
{
	size_t i;

	for (i = 0; i < f->count; i++)
		free(f->msgs[i].name);
	free(f->msgs);
	free(f->name);
	free(f->dir);
	memset(f, 0, sizeof(*f));
}

static int
move_letter_add(char *letters, char c)
{
	size_t n = strlen(letters);

	if (strchr(letters, c) != NULL)
		return 0;
	if (n >= 63)
		return -1;
	letters[n] = c;
	letters[n + 1] = '\0';
	return 0;
}

static int
move_letter_cmp(const void *a, const void *b)
{
	return *(const char *) a - *(const char *) b;
}

int
move_flags_letters(const char *dir, const struct move_tok *toks,
	size_t count, char *letters_r, char **error_r)
{
	static const struct {
		const char *flag;
		char letter;
	} sys[] = {
		{ "\\Draft", 'D' }, { "\\Flagged", 'F' },
		{ "\\Answered", 'R' }, { "\\Seen", 'S' },
		{ "\\Deleted", 'T' },
	};
	struct imap_keywords kw;
	int loaded = 0, rc = 0;
	size_t i, j;

	letters_r[0] = '\0';
	memset(&kw, 0, sizeof(kw));
	for (i = 0; i < count && rc == 0; i++) {
		char name[IMAP_KEYWORD_NAME_MAX + 1];
		int n;

		if (toks[i].type != MOVE_TOK_ATOM)
			continue;
		if (toks[i].s[0] == '\\') {
			for (j = 0; j < sizeof(sys) / sizeof(sys[0]); j++)
				if (move_tok_is(&toks[i], sys[j].flag))
					(void) move_letter_add(letters_r,
					    sys[j].letter);
			continue;	/* \Recent and others: not stored */
		}
		if (toks[i].len > IMAP_KEYWORD_NAME_MAX) {
			*error_r = xasprintf("keyword too long in %s", dir);
			rc = -1;
			break;
		}
		memcpy(name, toks[i].s, toks[i].len);
		name[toks[i].len] = '\0';
		if (!imap_keyword_valid(name)) {
			*error_r = xasprintf("invalid keyword in %s", dir);
			rc = -1;
			break;
		}
		if (!loaded) {
			if (imap_keywords_load(dir, &kw, error_r) < 0)
				return -1;
			loaded = 1;
		}
		n = imap_keywords_find(&kw, name);
		if (n < 0)
			n = imap_keywords_add(dir, &kw, name, error_r);
		if (n < 0)
			rc = -1;
		else
			(void) move_letter_add(letters_r, (char) ('a' + n));
	}
	if (loaded)
		imap_keywords_clear(&kw);
	qsort(letters_r, strlen(letters_r), 1, move_letter_cmp);
	return rc;
}

static unsigned int move_counter;

static char *
move_unique(void)
{
	static char *host;
	struct timeval tv;

	if (host == NULL) {
		char *p;

		host = xstrdup(mail_hostname());
		for (p = host; *p != '\0'; p++)
			if (*p == '/' || *p == ':' || *p == ',' ||
			    (unsigned char) *p < 0x21 || *p == 0x7f)
				*p = '_';
	}
	gettimeofday(&tv, NULL);
	return xasprintf("%lld.M%06ldP%ldQ%u.%s", (long long) tv.tv_sec,
	    (long) tv.tv_usec, (long) getpid(), ++move_counter, host);
}

int
move_msg_write(const char *dir, const char *data, size_t len,
	int64_t internaldate, char **base_r, char **error_r)
{
	char *unique = move_unique(), *tmp, *base;
	struct buf *out = buf_new(len + 1);
	size_t i, start = 0;
	int fd, rc = -1;

	/* CRLF -> LF; a lone CR stays, as maildir_deliver_write does. */
	for (i = 0; i < len; i++) {
		if (data[i] == '\r' && i + 1 < len && data[i + 1] == '\n') {
			(void) buf_append(out, data + start, i - start);
			start = i + 1;
		}
	}
	(void) buf_append(out, data + start, len - start);
	base = xasprintf("%s,S=%zu,W=%zu", unique, buf_len(out), len);
	tmp = xasprintf("%s/tmp/%s", dir, base);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd < 0) {
		*error_r = xasprintf("create %s: %s", tmp, strerror(errno));
	} else if (fileio_write_all(fd, buf_data(out), buf_len(out), tmp,
	    error_r) < 0) {
		(void) unlink(tmp);
	} else {
		/* Made durable by move_sync_fs before a list names it. */
		if (internaldate > 0) {
			struct timespec ts[2];

			ts[0].tv_sec = ts[1].tv_sec = (time_t) internaldate;
			ts[0].tv_nsec = ts[1].tv_nsec = 0;
			(void) futimens(fd, ts);
		}
		*base_r = base;
		base = NULL;
		rc = 0;
	}
	if (fd >= 0)
		close(fd);
	buf_free(&out);
	free(base);
	free(tmp);
	free(unique);
	return rc;
}

int
move_msg_publish(const char *dir, const char *base, const char *letters,
	char **name_r, char **error_r)
{
	char *tmp = xasprintf("%s/tmp/%s", dir, base);
	char *name = xasprintf("%s:2,%s", base, letters);
	char *cur = xasprintf("%s/cur/%s", dir, name);
	int rc = 0;

	if (rename(tmp, cur) < 0) {
		*error_r = xasprintf("rename %s: %s", tmp, strerror(errno));
		(void) unlink(tmp);
		free(name);
		rc = -1;
	} else {
		*name_r = name;
	}
	free(tmp);
	free(cur);
	return rc;
}

int
move_msg_reflag(const char *dir, const char *name, const char *letters,
	char **name_r, char **error_r)
{
	size_t base_len = move_base_len(name);
	char *new_name = xasprintf("%.*s:2,%s", (int) base_len, name, letters);
	char *from, *to;
	int rc = 0;

	if (strcmp(new_name, name) == 0) {
		*name_r = new_name;
		return 0;
	}
	from = xasprintf("%s/cur/%s", dir, name);
	to = xasprintf("%s/cur/%s", dir, new_name);
	if (rename(from, to) < 0) {
		*error_r = xasprintf("rename %s: %s", from, strerror(errno));
		free(new_name);
		rc = -1;
	} else {
		*name_r = new_name;
	}
	free(from);
	free(to);
	return rc;
}

int
move_sync_fs(const char *dir, char **error_r)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0 || syncfs(fd) < 0) {
		*error_r = xasprintf("syncfs %s: %s", dir, strerror(errno));
		rc = -1;
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

static int
move_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

static int
move_prune_dir(const char *dir, const char *sub, char **keep,
	size_t keep_count, char **error_r)
{
	char *path = xasprintf("%s/%s", dir, sub);
	DIR *d = opendir(path);
	struct dirent *de;
	int rc = 0;

	if (d == NULL) {
		rc = errno == ENOENT ? 0 : -1;
		if (rc < 0)
			*error_r = xasprintf("opendir %s: %s", path,
			    strerror(errno));
		free(path);
		return rc;
	}
	while ((de = readdir(d)) != NULL) {
		const char *n = de->d_name;

		if (n[0] == '.')
			continue;
		if (keep != NULL && bsearch(&n, keep, keep_count,
		    sizeof(*keep), move_name_cmp) != NULL)
			continue;
		if (unlinkat(dirfd(d), n, 0) < 0 && errno != ENOENT) {
			*error_r = xasprintf("unlink %s/%s: %s", path, n,
			    strerror(errno));
			rc = -1;
			break;
		}
	}
	closedir(d);
	free(path);
	return rc;
}

int
move_folder_prune(const struct move_folder *f, char **error_r)
{
	char **keep = xcalloc(f->count + 1, sizeof(*keep));
	size_t i;
	int rc;

	for (i = 0; i < f->count; i++)
		keep[i] = f->msgs[i].name;
	qsort(keep, f->count, sizeof(*keep), move_name_cmp);
	rc = move_prune_dir(f->dir, "cur", keep, f->count, error_r);
	if (rc == 0)
		rc = move_prune_dir(f->dir, "new", NULL, 0, error_r);
	if (rc == 0)
		rc = move_prune_dir(f->dir, "tmp", NULL, 0, error_r);
	free(keep);
	return rc;
}

/*
 * Replace dir/name whole from text (not fsynced: the lists are rewritten
 * by every pass, and the move's last move_sync_fs before the switch
 * makes them durable; the state file is what a resumed move trusts).
 */
static int
move_replace(const char *dir, const char *name, const struct buf *text,
	char **error_r)
{
	char *tmp = xasprintf("%s/%s.tmp", dir, name);
	char *path = xasprintf("%s/%s", dir, name);
	int fd, rc = -1;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd < 0) {
		*error_r = xasprintf("create %s: %s", tmp, strerror(errno));
	} else if (fileio_write_all(fd, buf_cstr(text), buf_len(text), tmp,
	    error_r) < 0) {
		(void) unlink(tmp);
	} else if (rename(tmp, path) < 0) {
		*error_r = xasprintf("rename %s: %s", tmp, strerror(errno));
		(void) unlink(tmp);
	} else {
		rc = 0;
	}
	if (fd >= 0)
		close(fd);
	free(tmp);
	free(path);
	return rc;
}

static int
move_raise_uidvalidity(const char *root, uint32_t uidvalidity,
	char **error_r)
{
	char *path = xasprintf("%s/%s", root, IMAP_UIDVALIDITY_NAME);
	unsigned long old = 0;
	FILE *f = fopen(path, "re");
	struct buf *b;
	int rc = 0;

	if (f != NULL) {
		if (fscanf(f, "%lu", &old) != 1)
			old = 0;
		fclose(f);
	}
	free(path);
	if (old >= uidvalidity)
		return 0;
	b = buf_new(64);
	(void) buf_printf(b, "%u\n", (unsigned) uidvalidity);
	rc = move_replace(root, IMAP_UIDVALIDITY_NAME, b, error_r);
	buf_free(&b);
	return rc;
}

int
move_folder_commit(const char *root, const struct move_folder *f,
	char **error_r)
{
	struct buf *b = buf_new((size_t) 1 << 30);
	size_t i;
	int rc;

	(void) buf_printf(b, "ispmail-uidlist 1 %u %u %u\n",
	    (unsigned) f->uidvalidity, (unsigned) f->uidnext,
	    (unsigned) f->uidnext);
	for (i = 0; i < f->count; i++)
		(void) buf_printf(b, "%u %.*s\n", (unsigned) f->msgs[i].uid,
		    (int) move_base_len(f->msgs[i].name),
		    f->msgs[i].name);
	rc = move_replace(f->dir, IMAP_UIDLIST_NAME, b, error_r);
	if (rc == 0) {
		/*
		 * The modseq record: the source's MODSEQs; the vanished
		 * floor is the HIGHESTMODSEQ copied, since the source's
		 * expunge history is not copied (a client resynchronising
		 * from before it is sent every UID it knows that is gone).
		 */
		buf_reset(b);
		(void) buf_printf(b, "ispmail-modseq 1 %llu %llu\n",
		    (unsigned long long) f->highestmodseq,
		    (unsigned long long) f->highestmodseq);
		for (i = 0; i < f->count; i++) {
			const char *l = strstr(f->msgs[i].name, ":2,");

			l = l != NULL ? l + 3 : "";
			(void) buf_printf(b, "%u %llu %s\n",
			    (unsigned) f->msgs[i].uid,
			    (unsigned long long) f->msgs[i].modseq,
			    *l != '\0' ? l : "-");
		}
		rc = move_replace(f->dir, IMAP_MODSEQ_NAME, b, error_r);
	}
	if (rc == 0)
		rc = move_raise_uidvalidity(root, f->uidvalidity, error_r);
	buf_free(&b);
	return rc;
}

void
move_sha256(const void *data, size_t len, unsigned char sha_r[32])
{
	unsigned int n = 32;

	(void) EVP_Digest(data, len, sha_r, &n, EVP_sha256(), NULL);
}

int
move_msg_hash_disk(const struct move_folder *f, size_t i,
	unsigned char sha_r[32], char **error_r)
{
	char *path = xasprintf("%s/cur/%s", f->dir, f->msgs[i].name);
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	EVP_MD_CTX *ctx;
	char in[65536], out[131072];
	ssize_t n;
	int rc = 0;
	unsigned int len = 32;

	if (fd < 0) {
		*error_r = xasprintf("open %s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	ctx = EVP_MD_CTX_new();
	(void) EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	/* LF -> CRLF, as imapd sends the file (no CRLF is ever stored). */
	while ((n = read(fd, in, sizeof(in))) > 0) {
		size_t o = 0;
		ssize_t k;

		for (k = 0; k < n; k++) {
			if (in[k] == '\n')
				out[o++] = '\r';
			out[o++] = in[k];
		}
		(void) EVP_DigestUpdate(ctx, out, o);
	}
	if (n < 0) {
		*error_r = xasprintf("read %s: %s", path, strerror(errno));
		rc = -1;
	}
	(void) EVP_DigestFinal_ex(ctx, sha_r, &len);
	EVP_MD_CTX_free(ctx);
	close(fd);
	free(path);
	return rc;
}

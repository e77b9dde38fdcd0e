/*
 * pop_mbox: a POP3 session's locked snapshot of a Maildir; see pop_mbox.h.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "log.h"
#include "maildir.h"
#include "pop_mbox.h"
#include "pop_msg.h"
#include "stream.h"
#include "xalloc.h"

/* The lock file, relative to the store root (kept, never removed). */
#define POP_MBOX_LOCK_FILE "pop3.lock"
/* Read messages in chunks of this size. */
#define POP_MBOX_CHUNK (64 * 1024)
/* RFC 1939 7: a unique-id is at most 70 characters. */
#define POP_MBOX_UIDL_MAX 70

struct pop_mbox_msg {
	char *name;		/* current file name in new/ or cur/ */
	char *uidl;
	char *flags;		/* Maildir flags after ":2," */
	long long size;		/* S=: bytes in the file */
	long long vsize;	/* W=: bytes with CRLF line ends */
	int in_new;		/* still in new/ (its move to cur/ failed) */
	int deleted;
};

struct pop_mbox {
	char *root;
	int lock_fd;
	struct pop_mbox_msg *msgs;
	size_t count;
	char *chunk;		/* POP_MBOX_CHUNK bytes of file */
	char *out;		/* the chunk after pop_msg_filter_run() */
	/*
	 * cur/ and new/ opened at the first RETR or TOP (-1: not yet):
	 * each message is then one openat() of its name instead of a
	 * walk of the whole path.
	 */
	int dir_fd[2];
};

int
pop_mbox_uidl_valid(const char *text)
{
	size_t len = strlen(text), i;

	if (len == 0 || len > POP_MBOX_UIDL_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		if (text[i] < 0x21 || text[i] > 0x7e)
			return 0;
	}
	return 1;
}

/* The base name, or its SHA-256 in hex when it is no valid unique-id. */
static char *
pop_mbox_make_uidl(const char *name)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0, i;
	char *base = maildir_base_name(name);
	char *out;

	if (pop_mbox_uidl_valid(base))
		return base;
	if (EVP_Digest(base, strlen(base), digest, &dlen, EVP_sha256(),
	    NULL) != 1)
		log_fatal("SHA-256 is not available");
	free(base);
	out = xmalloc(2 * (size_t) dlen + 1);
	for (i = 0; i < dlen; i++) {
		out[2 * i] = hex[digest[i] >> 4];
		out[2 * i + 1] = hex[digest[i] & 15];
	}
	out[2 * dlen] = '\0';
	return out;
}

/*
 * Take the session lock.  0 ok, 1 busy, -1 failed.  *created_r: the lock
 * file is new (no earlier login to measure LOGIN-DELAY from).
 */
static int
pop_mbox_lock(struct pop_mbox *m, int *created_r, char **error_r)
{
	char *path = xasprintf("%s/%s", m->root, POP_MBOX_LOCK_FILE);
	struct flock fl;

	*created_r = 0;
	m->lock_fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (m->lock_fd >= 0)
		*created_r = 1;
	else if (errno == EEXIST)
		m->lock_fd = open(path, O_RDWR | O_CLOEXEC);
	if (m->lock_fd < 0) {
		*error_r = xasprintf("open %s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	/* F_SETLK, not a dot-lock: the kernel releases it with the process. */
	if (fcntl(m->lock_fd, F_SETLK, &fl) < 0) {
		if (errno == EAGAIN || errno == EACCES) {
			free(path);
			return 1;
		}
		*error_r = xasprintf("lock %s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	free(path);
	return 0;
}

/* LOGIN-DELAY (RFC 2449 6.5): the lock file's mtime is the last login. */
static int
pop_mbox_login_too_soon(struct pop_mbox *m, long long login_delay,
	int created)
{
	struct stat st;

	if (login_delay > 0 && !created && fstat(m->lock_fd, &st) == 0 &&
	    (long long) (time(NULL) - st.st_mtime) < login_delay)
		return 1;
	/* This login counts from now. */
	(void) futimens(m->lock_fd, NULL);
	return 0;
}

/* Snapshot the store; new/ messages move to cur/ on the way. */
static int
pop_mbox_snapshot(struct pop_mbox *m, char **error_r)
{
	struct maildir_entry *entries;
	struct pop_mbox_msg *msg;
	size_t n, i;
	char *new_name, *error = NULL;

	if (maildir_scan(m->root, &entries, &n, error_r) < 0)
		return -1;
	m->msgs = xcalloc(n > 0 ? n : 1, sizeof(*m->msgs));
	for (i = 0; i < n; i++) {
		msg = &m->msgs[m->count];
		msg->in_new = entries[i].in_new;
		if (entries[i].in_new) {
			if (maildir_set_flags(m->root, entries[i].name, 1,
			    "", &new_name, &error) == 0) {
				free(entries[i].name);
				entries[i].name = new_name;
				msg->in_new = 0;
			} else if (errno == ENOENT) {
				/* Expunged by another reader meanwhile. */
				free(error);
				error = NULL;
				continue;
			} else {
				/* Served from new/ this time; it stays. */
				log_warn("%s", error);
				free(error);
				error = NULL;
			}
		}
		msg->name = entries[i].name;
		entries[i].name = NULL;
		msg->flags = entries[i].flags;
		entries[i].flags = NULL;
		msg->size = entries[i].size;
		msg->vsize = entries[i].vsize;
		msg->uidl = pop_mbox_make_uidl(msg->name);
		m->count++;
	}
	maildir_entries_free(&entries, n);
	return 0;
}

enum pop_mbox_status
pop_mbox_open(const char *root, long long login_delay,
	struct pop_mbox **mbox_r, char **error_r)
{
	struct pop_mbox *m = xcalloc(1, sizeof(*m));
	enum pop_mbox_status status = POP_MBOX_FAILED;
	int created, rc;

	m->root = xstrdup(root);
	m->lock_fd = -1;
	m->dir_fd[0] = m->dir_fd[1] = -1;
	rc = pop_mbox_lock(m, &created, error_r);
	if (rc > 0)
		status = POP_MBOX_IN_USE;
	else if (rc == 0 && pop_mbox_login_too_soon(m, login_delay, created))
		status = POP_MBOX_LOGIN_DELAY;
	else if (rc == 0 && pop_mbox_snapshot(m, error_r) == 0)
		status = POP_MBOX_OK;
	if (status != POP_MBOX_OK) {
		pop_mbox_close(&m);
		return status;
	}
	m->chunk = xmalloc(POP_MBOX_CHUNK);
	m->out = xmalloc(POP_MSG_EXPANSION * POP_MBOX_CHUNK);
	*mbox_r = m;
	return POP_MBOX_OK;
}

void
pop_mbox_close(struct pop_mbox **mp)
{
	struct pop_mbox *m = *mp;
	size_t i;

	if (m == NULL)
		return;
	/* Closing the descriptor drops the fcntl lock. */
	if (m->lock_fd >= 0)
		close(m->lock_fd);
	for (i = 0; i < 2; i++) {
		if (m->dir_fd[i] >= 0)
			close(m->dir_fd[i]);
	}
	for (i = 0; i < m->count; i++) {
		free(m->msgs[i].name);
		free(m->msgs[i].uidl);
		free(m->msgs[i].flags);
	}
	free(m->msgs);
	free(m->chunk);
	free(m->out);
	free(m->root);
	free(m);
	*mp = NULL;
}

size_t
pop_mbox_count(const struct pop_mbox *m)
{
	return m->count;
}

void
pop_mbox_stat(const struct pop_mbox *m, size_t *count_r,
	long long *octets_r)
{
	size_t i;

	*count_r = 0;
	*octets_r = 0;
	for (i = 0; i < m->count; i++) {
		if (!m->msgs[i].deleted) {
			(*count_r)++;
			*octets_r += m->msgs[i].vsize;
		}
	}
}

int
pop_mbox_exists(const struct pop_mbox *m, size_t n)
{
	return n >= 1 && n <= m->count && !m->msgs[n - 1].deleted;
}

long long
pop_mbox_size(const struct pop_mbox *m, size_t n)
{
	return m->msgs[n - 1].vsize;
}

const char *
pop_mbox_uidl(const struct pop_mbox *m, size_t n)
{
	return m->msgs[n - 1].uidl;
}

void
pop_mbox_delete(struct pop_mbox *m, size_t n)
{
	m->msgs[n - 1].deleted = 1;
}

void
pop_mbox_reset(struct pop_mbox *m)
{
	size_t i;

	for (i = 0; i < m->count; i++)
		m->msgs[i].deleted = 0;
}

/*
 * The message's file was renamed behind our back (an IMAP session
 * changed its flags): find it in cur/ by its base name.  1 found (name
 * and flags updated), 0 gone.
 */
static int
pop_mbox_refind(struct pop_mbox *m, struct pop_mbox_msg *msg)
{
	char *base = maildir_base_name(msg->name);
	char *dir = xasprintf("%s/cur", m->root);
	size_t blen = strlen(base);
	struct dirent *de;
	const char *info;
	int found = 0;
	DIR *dp;

	dp = opendir(dir);
	while (dp != NULL && (de = readdir(dp)) != NULL) {
		if (strncmp(de->d_name, base, blen) != 0 ||
		    (de->d_name[blen] != '\0' &&
		    strncmp(de->d_name + blen, ":2,", 3) != 0))
			continue;
		free(msg->name);
		msg->name = xstrdup(de->d_name);
		info = strstr(msg->name, ":2,");
		free(msg->flags);
		msg->flags = xstrdup(info != NULL ? info + 3 : "");
		msg->in_new = 0;
		found = 1;
		break;
	}
	if (dp != NULL)
		closedir(dp);
	free(base);
	free(dir);
	return found;
}

static char *
pop_mbox_path(const struct pop_mbox *m, const struct pop_mbox_msg *msg)
{
	return xasprintf("%s/%s/%s", m->root, msg->in_new ? "new" : "cur",
	    msg->name);
}

/* One try at opening msg's file, by its name in cur/ or new/. */
static int
pop_mbox_open_name(struct pop_mbox *m, const struct pop_mbox_msg *msg)
{
	int *dir = &m->dir_fd[msg->in_new ? 1 : 0];
	char *path;
	int fd;

	if (*dir < 0) {
		path = xasprintf("%s/%s", m->root, msg->in_new ? "new" : "cur");
		*dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		free(path);
	}
	if (*dir >= 0)
		return openat(*dir, msg->name, O_RDONLY | O_CLOEXEC);
	path = pop_mbox_path(m, msg);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	return fd;
}

static int
pop_mbox_open_file(struct pop_mbox *m, struct pop_mbox_msg *msg)
{
	int fd = pop_mbox_open_name(m, msg);

	if (fd < 0 && errno == ENOENT && pop_mbox_refind(m, msg))
		fd = pop_mbox_open_name(m, msg);
	return fd;
}

/* RETR sets \Seen as Dovecot does (flag letter S, Maildir spec). */
static void
pop_mbox_mark_seen(struct pop_mbox *m, struct pop_mbox_msg *msg)
{
	char *flags, *new_name = NULL, *error = NULL;
	int rc;

	if (strchr(msg->flags, 'S') != NULL)
		return;
	flags = xasprintf("%sS", msg->flags);
	rc = maildir_set_flags(m->root, msg->name, msg->in_new, flags,
	    &new_name, &error);
	if (rc < 0 && errno == ENOENT && pop_mbox_refind(m, msg)) {
		free(error);
		error = NULL;
		free(flags);
		flags = xasprintf("%sS", msg->flags);
		rc = maildir_set_flags(m->root, msg->name, msg->in_new,
		    flags, &new_name, &error);
	}
	if (rc < 0) {
		/* Only a flag is lost; the client has its message. */
		log_warn("mark seen: %s", error);
		free(error);
		free(flags);
		return;
	}
	free(msg->name);
	msg->name = new_name;
	free(msg->flags);
	msg->flags = flags;
	msg->in_new = 0;
}

int
pop_mbox_send(struct pop_mbox *m, size_t n, struct stream *s, int top,
	size_t lines, void (*before_body)(void *ctx), void *ctx,
	char **error_r)
{
	struct pop_mbox_msg *msg = &m->msgs[n - 1];
	struct pop_msg_filter filter;
	ssize_t got;
	size_t out_len;
	int fd;

	fd = pop_mbox_open_file(m, msg);
	if (fd < 0) {
		*error_r = xasprintf("open message %s: %s", msg->name,
		    strerror(errno));
		return -1;
	}
	before_body(ctx);
	pop_msg_filter_init(&filter, top, lines);
	while (!filter.done) {
		got = read(fd, m->chunk, POP_MBOX_CHUNK);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			/* "+OK" is out: the response cannot end well. */
			log_error("read message %s: %s", msg->name,
			    strerror(errno));
			close(fd);
			return -2;
		}
		if (got == 0)
			break;
		out_len = pop_msg_filter_run(&filter, m->chunk, (size_t) got,
		    m->out);
		if (stream_write(s, m->out, out_len) != STREAM_OK) {
			close(fd);
			return -2;
		}
		/*
		 * A regular file reads short only at its end (Maildir files
		 * never grow): save the read() that would return 0.
		 */
		if (got < POP_MBOX_CHUNK)
			break;
	}
	close(fd);
	out_len = pop_msg_filter_finish(&filter, m->out);
	if (stream_write(s, m->out, out_len) != STREAM_OK)
		return -2;
	if (!top)
		pop_mbox_mark_seen(m, msg);
	return 0;
}

int
pop_mbox_commit(struct pop_mbox *m, size_t *removed_r, char **error_r)
{
	struct pop_mbox_msg *msg;
	long long bytes = 0, count = 0;
	size_t i, failed = 0;
	char *path, *error = NULL;
	int rc;

	*removed_r = 0;
	for (i = 0; i < m->count; i++) {
		msg = &m->msgs[i];
		if (!msg->deleted)
			continue;
		path = pop_mbox_path(m, msg);
		rc = unlink(path);
		if (rc < 0 && errno == ENOENT && pop_mbox_refind(m, msg)) {
			free(path);
			path = pop_mbox_path(m, msg);
			rc = unlink(path);
		}
		if (rc == 0) {
			bytes += msg->size;
			count++;
			(*removed_r)++;
		} else if (errno != ENOENT) {
			/* ENOENT: someone else removed it, and counted it. */
			log_error("unlink %s: %s", path, strerror(errno));
			failed++;
		}
		free(path);
	}
	if (count > 0 &&
	    maildir_quota_add(m->root, -bytes, -count, &error) < 0) {
		/* maildirsize is recalculated when it goes wrong. */
		log_warn("%s", error);
		free(error);
	}
	if (failed > 0) {
		*error_r = xasprintf("%zu messages could not be removed",
		    failed);
		return -1;
	}
	return 0;
}

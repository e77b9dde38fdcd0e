/* imap_keywords: a folder's keyword names (see imap_keywords.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <unistd.h>

#include "buf.h"
#include "imap_keywords.h"
#include "stream.h"
#include "xalloc.h"

#define IMAP_KEYWORDS_LOCK_WAIT 10000	/* ms we wait for the lock */
/* 26 lines of at most "25 " + a name + "\n": anything longer is junk. */
#define IMAP_KEYWORD_FILE_MAX \
	(IMAP_KEYWORD_MAX * (IMAP_KEYWORD_NAME_MAX + 8))

int
imap_keyword_valid(const char *name)
{
	const unsigned char *p = (const unsigned char *) name;

	if (*p == '\0' || strlen(name) > IMAP_KEYWORD_NAME_MAX)
		return 0;
	/* RFC 3501 atom characters, minus ']' (resp-specials) and '\'. */
	for (; *p != '\0'; p++) {
		if (*p <= 0x20 || *p >= 0x7f || strchr("(){%*\"\\]", *p))
			return 0;
	}
	return 1;
}

void
imap_keywords_clear(struct imap_keywords *kw)
{
	size_t i;

	for (i = 0; i < IMAP_KEYWORD_MAX; i++) {
		free(kw->names[i]);
		kw->names[i] = NULL;
		kw->taken[i] = 0;
	}
}

/* Parse the file's text; lines that do not parse are skipped. */
static void
imap_keywords_parse(const char *text, size_t len, struct imap_keywords *kw)
{
	const char *p = text, *end = text + len, *nl, *name;
	char *copy;
	long n;

	imap_keywords_clear(kw);
	for (; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t) (end - p));
		if (nl == NULL)
			nl = end;	/* a last line without "\n" */
		if (p == nl || *p < '0' || *p > '9')
			continue;
		n = *p++ - '0';
		if (p < nl && *p >= '0' && *p <= '9')
			n = n * 10 + (*p++ - '0');
		if (n >= IMAP_KEYWORD_MAX || p >= nl || *p != ' ')
			continue;
		kw->taken[n] = 1;
		name = p + 1;
		copy = xstrndup(name, (size_t) (nl - name));
		/* A NUL would cut the name short: the line is junk. */
		if (strlen(copy) != (size_t) (nl - name) ||
		    !imap_keyword_valid(copy) || kw->names[n] != NULL ||
		    imap_keywords_find(kw, copy) >= 0) {
			free(copy);
			continue;
		}
		kw->names[n] = copy;
	}
}

static char *
imap_keywords_path(const char *dir)
{
	return xasprintf("%s/%s", dir, IMAP_KEYWORD_FILE);
}

int
imap_keywords_load(const char *dir, struct imap_keywords *kw,
	char **error_r)
{
	struct buf *text;
	char chunk[4096], *path = imap_keywords_path(dir);
	ssize_t n;
	int fd, ret = 0;

	*error_r = NULL;
	imap_keywords_clear(kw);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT) {
			*error_r = xasprintf("open %s: %s", path,
			    strerror(errno));
			ret = -1;
		}
		free(path);
		return ret;
	}
	text = buf_new(IMAP_KEYWORD_FILE_MAX);
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*error_r = xasprintf("read %s: %s", path,
			    strerror(errno));
			ret = -1;
			break;
		}
		/* A huge file is junk: what fits is still used. */
		if (buf_append(text, chunk, (size_t) n) < 0)
			break;
	}
	close(fd);
	if (ret == 0)
		imap_keywords_parse(buf_cstr(text), buf_len(text), kw);
	buf_free(&text);
	free(path);
	return ret;
}

int
imap_keywords_find(const struct imap_keywords *kw, const char *name)
{
	int i;

	for (i = 0; i < IMAP_KEYWORD_MAX; i++) {
		if (kw->names[i] != NULL && strcasecmp(kw->names[i], name) == 0)
			return i;
	}
	return -1;
}

/* Replace dir's file with kw's table (under the caller's lock). */
static int
imap_keywords_write(const char *dir, const struct imap_keywords *kw,
	char **error_r)
{
	struct buf *text = buf_new(IMAP_KEYWORD_FILE_MAX + 1);
	char *path = imap_keywords_path(dir);
	char *tmp = xasprintf("%s.tmp.%ld", path, (long) getpid());
	size_t off = 0;
	ssize_t n;
	int i, fd, ret = -1;

	for (i = 0; i < IMAP_KEYWORD_MAX; i++) {
		if (kw->names[i] != NULL)
			(void) buf_printf(text, "%d %s\n", i, kw->names[i]);
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		*error_r = xasprintf("create %s: %s", tmp, strerror(errno));
		goto out;
	}
	while (off < buf_len(text)) {
		n = write(fd, buf_cstr(text) + off, buf_len(text) - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*error_r = xasprintf("write %s: %s", tmp,
			    strerror(errno));
			close(fd);
			(void) unlink(tmp);
			goto out;
		}
		off += (size_t) n;
	}
	/* A new letter is only used after its name is on disk. */
	if (fsync(fd) < 0 || close(fd) < 0 || rename(tmp, path) < 0) {
		*error_r = xasprintf("replace %s: %s", path, strerror(errno));
		(void) unlink(tmp);
		goto out;
	}
	ret = 0;
out:
	buf_free(&text);
	free(tmp);
	free(path);
	return ret;
}

int
imap_keywords_add(const char *dir, struct imap_keywords *kw,
	const char *name, char **error_r)
{
	int dir_fd, i, ret = -1, waited = 0;

	*error_r = NULL;
	if (!imap_keyword_valid(name)) {
		*error_r = xasprintf("invalid keyword");
		return -1;
	}
	if ((i = imap_keywords_find(kw, name)) >= 0)
		return i;
	dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd < 0) {
		*error_r = xasprintf("open %s: %s", dir, strerror(errno));
		return -1;
	}
	/*
	 * Never a blocking flock: in a multi-session process the other
	 * sessions run while this one waits (stream waiter), and a holder
	 * that never lets go costs a NO, not a stuck process.
	 */
	while (flock(dir_fd, LOCK_EX | LOCK_NB) < 0) {
		if ((errno != EWOULDBLOCK && errno != EINTR) ||
		    waited >= IMAP_KEYWORDS_LOCK_WAIT) {
			*error_r = xasprintf("lock %s: %s", dir,
			    errno == EWOULDBLOCK ? "timed out" :
			    strerror(errno));
			close(dir_fd);
			return -1;
		}
		stream_pause(5);
		waited += 5;
	}
	/* Another process may have added names, this one among them. */
	if (imap_keywords_load(dir, kw, error_r) < 0)
		goto out;
	if ((ret = imap_keywords_find(kw, name)) >= 0)
		goto out;
	for (i = 0; i < IMAP_KEYWORD_MAX && kw->taken[i]; i++)
		;
	if (i == IMAP_KEYWORD_MAX) {
		*error_r = xasprintf("all %d keywords of the folder are used",
		    IMAP_KEYWORD_MAX);
		goto out;
	}
	kw->names[i] = xstrdup(name);
	kw->taken[i] = 1;
	if (imap_keywords_write(dir, kw, error_r) < 0) {
		free(kw->names[i]);
		kw->names[i] = NULL;
		kw->taken[i] = 0;
		goto out;
	}
	ret = i;
out:
	close(dir_fd);	/* releases the lock */
	return ret;
}

int
imap_keywords_room(const struct imap_keywords *kw)
{
	int i;

	for (i = 0; i < IMAP_KEYWORD_MAX; i++) {
		if (!kw->taken[i])
			return 1;
	}
	return 0;
}

const char *
imap_name_info(const char *name)
{
	const char *p = name;

	while ((p = strchr(p, ':')) != NULL) {
		if (p[1] == '2' && p[2] == ',')
			return p + 3;
		p++;
	}
	return NULL;
}

uint32_t
imap_keywords_from_name(const char *name)
{
	const char *info = imap_name_info(name);
	uint32_t bits = 0;

	if (info == NULL)
		return 0;
	for (; *info != '\0'; info++) {
		if (*info >= 'a' && *info <= 'z')
			bits |= (uint32_t) 1 << (*info - 'a');
	}
	return bits;
}

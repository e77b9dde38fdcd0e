/*
 * ctl_move_state: the resumable state of a mailbox move, and its
 * progress output.
 *
 * The state file "ispmail-move" in the destination store's root:
 *
 *	ispmail-move 1 <address>
 *	F <uidvalidity> <uidnext> <highestmodseq> <last uid> <folder name>
 *	M <uid> <modseq> <size> <sha-256 hex> <file name in cur/>
 *	...
 *
 * each folder's messages after its F line.  It is replaced whole
 * (written, fsynced, renamed) after each folder of each pass, when the
 * folder's files and UID list are on disk, so a move killed at any point
 * resumes from the last folder it finished: files it wrote after that
 * are not in the state and are removed (move_folder_prune).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "ctl.h"
#include "ctl_move.h"
#include "fileio.h"
#include "stream.h"
#include "xalloc.h"

/* The longest state line: a file name and a folder name are short. */
#define MOVE_STATE_LINE_MAX 2048

int
move_state_save(const char *root, const char *address,
	struct move_folder *folders, size_t count, char **error_r)
{
	char *tmp = xasprintf("%s/%s.tmp", root, MOVE_STATE_NAME);
	char *path = xasprintf("%s/%s", root, MOVE_STATE_NAME);
	FILE *f;
	size_t i, j, k;
	int rc = -1;

	f = fopen(tmp, "we");
	if (f == NULL) {
		*error_r = xasprintf("create %s: %s", tmp, strerror(errno));
		goto out;
	}
	fprintf(f, "ispmail-move 1 %s\n", address);
	for (i = 0; i < count; i++) {
		const struct move_folder *fo = &folders[i];

		if (fo->uidvalidity == 0)
			continue;	/* not copied yet */
		fprintf(f, "F %u %u %llu %u %s\n", (unsigned) fo->uidvalidity,
		    (unsigned) fo->uidnext,
		    (unsigned long long) fo->highestmodseq,
		    (unsigned) fo->last_uid, fo->name);
		for (j = 0; j < fo->count; j++) {
			const struct move_msg *m = &fo->msgs[j];

			fprintf(f, "M %u %llu %lld ", (unsigned) m->uid,
			    (unsigned long long) m->modseq, m->size);
			for (k = 0; k < 32; k++)
				fprintf(f, "%02x", m->sha[k]);
			fprintf(f, " %s\n", m->name);
		}
	}
	if (fflush(f) != 0 || ferror(f) || fsync(fileno(f)) < 0) {
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
	rc = fileio_fsync_dir(root, error_r);
out:
	free(tmp);
	free(path);
	return rc;
}

static int
move_hex(const char *hex, unsigned char out[32])
{
	size_t i;

	for (i = 0; i < 32; i++) {
		unsigned int v;

		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (unsigned char) v;
	}
	return hex[64] == ' ' ? 0 : -1;
}

int
move_state_load(const char *root, const char *address,
	struct move_folder **folders_r, size_t *count_r, char **error_r)
{
	char *path = xasprintf("%s/%s", root, MOVE_STATE_NAME);
	FILE *f = fopen(path, "re");
	struct move_folder *folders = NULL, *cur = NULL;
	size_t count = 0, line_no = 0;
	char line[MOVE_STATE_LINE_MAX];
	int rc = 1;

	if (f == NULL) {
		rc = errno == ENOENT ? 0 : -1;
		if (rc < 0)
			*error_r = xasprintf("open %s: %s", path,
			    strerror(errno));
		free(path);
		return rc;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		size_t len = strlen(line);
		unsigned int a, b, d;
		unsigned long long c;
		long long size;
		int off = 0;

		line_no++;
		if (len == 0 || line[len - 1] != '\n')
			goto bad;
		line[--len] = '\0';
		if (line_no == 1) {
			if (strncmp(line, "ispmail-move 1 ", 15) != 0)
				goto bad;
			if (strcmp(line + 15, address) != 0) {
				*error_r = xasprintf("%s belongs to a move of "
				    "%s", path, line + 15);
				rc = -1;
				goto out;
			}
		} else if (line[0] == 'F' && sscanf(line, "F %u %u %llu %u %n",
		    &a, &b, &c, &d, &off) == 4 && off > 0 &&
		    line[off] != '\0') {
			folders = xreallocarray(folders, count + 1,
			    sizeof(*folders));
			cur = &folders[count++];
			memset(cur, 0, sizeof(*cur));
			cur->uidvalidity = a;
			cur->uidnext = b;
			cur->highestmodseq = c;
			cur->last_uid = d;
			cur->name = xstrdup(line + off);
		} else if (line[0] == 'M' && cur != NULL &&
		    sscanf(line, "M %u %llu %lld %n", &a, &c, &size,
		    &off) == 3 && off > 0 && len >= (size_t) off + 66 &&
		    (cur->count == 0 || cur->msgs[cur->count - 1].uid < a)) {
			struct move_msg *m = move_folder_insert(cur, a);

			m->modseq = c;
			m->size = size;
			if (move_hex(line + off, m->sha) < 0)
				goto bad;
			m->name = xstrdup(line + off + 65);
		} else {
			goto bad;
		}
	}
	if (ferror(f) || line_no == 0)
		goto bad;
	*folders_r = folders;
	*count_r = count;
	folders = NULL;
	count = 0;
	goto out;
bad:
	*error_r = xasprintf("%s: damaged at line %zu (remove it to start "
	    "the move afresh)", path, line_no);
	rc = -1;
out:
	while (count > 0)
		move_folder_clear(&folders[--count]);
	free(folders);
	fclose(f);
	free(path);
	return rc;
}

void
move_state_remove(const char *root)
{
	char *path = xasprintf("%s/%s", root, MOVE_STATE_NAME);

	(void) unlink(path);
	free(path);
}

/* ---- progress ---------------------------------------------------- */

struct move_progress {
	char *address;
	int tty;
	long long total_msgs;
	long long done_msgs, done_bytes;
	int64_t start_ms, last_ms;
};

struct move_progress *
move_progress_new(const char *address)
{
	struct move_progress *p = xcalloc(1, sizeof(*p));

	p->address = xstrdup(address);
	p->tty = isatty(STDOUT_FILENO);
	p->start_ms = stream_clock_ms();
	return p;
}

void
move_progress_total(struct move_progress *p, long long messages)
{
	p->total_msgs = messages;
	p->done_msgs = 0;
	p->done_bytes = 0;
	p->start_ms = stream_clock_ms();
}

void
move_progress_grow(struct move_progress *p, long long messages)
{
	p->total_msgs += messages;
}

static void
move_progress_show(struct move_progress *p, int final)
{
	int64_t now = stream_clock_ms();
	double secs = (double) (now - p->start_ms) / 1000.0;
	double rate = secs > 0 ? (double) p->done_bytes / secs : 0;
	double mrate = secs > 0 ? (double) p->done_msgs / secs : 0;
	double left = mrate > 0 && p->total_msgs > p->done_msgs ?
	    (double) (p->total_msgs - p->done_msgs) / mrate : 0;
	int pct = p->total_msgs > 0 ?
	    (int) (100 * p->done_msgs / p->total_msgs) : 100;
	char bar[21];
	int i;

	if (p->tty) {
		for (i = 0; i < 20; i++)
			bar[i] = i < pct / 5 ? '#' : '.';
		bar[20] = '\0';
		ctl_printf("\r[%s] %lld/%lld msgs %.1f MB %.1f MB/s "
		    "%ds left ", bar, p->done_msgs, p->total_msgs,
		    (double) p->done_bytes / 1e6, rate / 1e6, (int) left);
		if (final)
			ctl_printf("\n");
		fflush(stdout);
	} else {
		ctl_printf("%s: copied %lld/%lld messages, %lld bytes, "
		    "%.1f MB/s, %ds left\n", p->address, p->done_msgs,
		    p->total_msgs, p->done_bytes, rate / 1e6, (int) left);
		fflush(stdout);
	}
	p->last_ms = now;
}

void
move_progress_add(struct move_progress *p, long long bytes)
{
	int64_t now = stream_clock_ms();

	p->done_msgs++;
	p->done_bytes += bytes;
	if (p->done_msgs == p->total_msgs)
		move_progress_show(p, 1);
	else if (now - p->last_ms >= (p->tty ? 200 : 5000))
		move_progress_show(p, 0);
}

void
move_progress_phase(struct move_progress *p, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	ctl_printf("%s%s: %s\n", p->tty && p->done_msgs < p->total_msgs ?
	    "\n" : "", p->address, text);
	fflush(stdout);
}

void
move_progress_free(struct move_progress **pp)
{
	if (*pp == NULL)
		return;
	free((*pp)->address);
	free(*pp);
	*pp = NULL;
}

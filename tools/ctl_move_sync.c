/*
 * ctl_move_sync: one pass over one folder of a mailbox move, and the
 * verification.  Per folder: SELECT (CONDSTORE when offered); the
 * flags of messages already copied (UID FETCH ... (CHANGEDSINCE m
 * VANISHED) with QRESYNC, else every message's flags, whose absence
 * is an expunge); then the messages above the last UID copied, written
 * straight into cur/, checkpointed every MOVE_CHECKPOINT messages.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "ctl_move.h"
#include "ctl_move_int.h"
#include "xalloc.h"

/* New messages between two checkpoints (UID list and state saved). */
#define MOVE_CHECKPOINT 500

struct move_fetch {
	struct move_job *job;
	struct move_folder *f;
	int new_msgs;		/* fetching bodies of new messages */
	size_t changes;
	size_t since_checkpoint;
	uint32_t *seen;		/* UIDs seen (no CONDSTORE: full refetch) */
	size_t seen_count, seen_alloc;
	char *error;
};

/* "01-Jan-2024 10:00:00 +0000" -> seconds; 0 when it does not parse. */
static int64_t
move_parse_date(const struct move_tok *t)
{
	char text[64];
	struct tm tm;
	const char *rest;
	int zone, sign;

	if (t->type != MOVE_TOK_STRING || t->len >= sizeof(text))
		return 0;
	memcpy(text, t->s, t->len);
	text[t->len] = '\0';
	memset(&tm, 0, sizeof(tm));
	rest = strptime(text[0] == ' ' ? text + 1 : text,
	    "%d-%b-%Y %H:%M:%S ", &tm);
	if (rest == NULL || (rest[0] != '+' && rest[0] != '-') ||
	    sscanf(rest + 1, "%4d", &zone) != 1)
		return 0;
	sign = rest[0] == '-' ? -1 : 1;
	return (int64_t) timegm(&tm) -
	    sign * ((zone / 100) * 3600 + (zone % 100) * 60);
}

static int
move_checkpoint(struct move_job *job, struct move_folder *f, char **error_r)
{
	if (move_sync_fs(f->dir, error_r) < 0 ||
	    move_folder_commit(job->root, f, error_r) < 0)
		return -1;
	return move_state_save(job->root, job->address, job->folders,
	    job->folder_count, error_r);
}

/* One "* n FETCH (...)" response. */
static int
move_fetch_one(struct move_fetch *x, const struct move_tok *t, size_t n,
	char **error_r)
{
	struct move_folder *f = x->f;
	const struct move_tok *flags = NULL, *body = NULL;
	size_t flag_count = 0, i;
	long long uid = -1, modseq = 0, size = -1;
	int64_t date = 0;
	char letters[64];
	long idx;

	for (i = 0; i + 1 < n; i++) {
		if (move_tok_is(&t[i], "UID")) {
			uid = move_tok_number(&t[++i]);
		} else if (move_tok_is(&t[i], "RFC822.SIZE")) {
			size = move_tok_number(&t[++i]);
		} else if (move_tok_is(&t[i], "INTERNALDATE")) {
			date = move_parse_date(&t[++i]);
		} else if (move_tok_is(&t[i], "MODSEQ") &&
		    t[i + 1].type == MOVE_TOK_LP && i + 3 < n) {
			modseq = move_tok_number(&t[i + 2]);
			i += 3;
		} else if (move_tok_is(&t[i], "FLAGS") &&
		    t[i + 1].type == MOVE_TOK_LP) {
			flags = &t[i + 2];
			for (i += 2; i < n && t[i].type != MOVE_TOK_RP; i++)
				flag_count++;
		} else if (move_tok_is(&t[i], "BODY[]")) {
			body = &t[++i];
		}
	}
	if (uid <= 0 || uid > UINT32_MAX) {
		*error_r = xasprintf("%s: FETCH without a UID",
		    job_host(x->job));
		return -1;
	}
	if (x->seen != NULL) {
		if (x->seen_count == x->seen_alloc) {
			x->seen_alloc = x->seen_alloc ? x->seen_alloc * 2 : 256;
			x->seen = xreallocarray(x->seen, x->seen_alloc,
			    sizeof(*x->seen));
		}
		x->seen[x->seen_count++] = (uint32_t) uid;
	}
	if (flags == NULL)
		return 0;	/* an unsolicited FETCH without flags */
	if (move_flags_letters(f->dir, flags, flag_count, letters,
	    error_r) < 0)
		return -1;
	idx = move_folder_find(f, (uint32_t) uid);
	if (idx >= 0) {
		struct move_msg *m = &f->msgs[idx];
		char *name = NULL;

		if (modseq > 0)
			m->modseq = (uint64_t) modseq;
		if (move_msg_reflag(f->dir, m->name, letters, &name,
		    error_r) < 0)
			return -1;
		if (strcmp(name, m->name) != 0)
			x->changes++;
		free(m->name);
		m->name = name;
		return 0;
	}
	if (!x->new_msgs || (uint32_t) uid <= f->last_uid)
		return 0;	/* expunged under us, or an old one */
	if (body == NULL || body->type != MOVE_TOK_STRING) {
		*error_r = xasprintf("%s: FETCH of UID %lld without a body",
		    job_host(x->job), uid);
		return -1;
	} else {
		struct move_msg *m;
		char *base = NULL, *name = NULL;

		if (move_msg_write(f->dir, body->s, body->len, date, &base,
		    error_r) < 0)
			return -1;
		if (move_msg_publish(f->dir, base, letters, &name,
		    error_r) < 0) {
			free(base);
			return -1;
		}
		free(base);
		m = move_folder_insert(f, (uint32_t) uid);
		m->name = name;
		m->modseq = modseq > 0 ? (uint64_t) modseq : 1;
		m->size = size >= 0 ? size : (long long) body->len;
		move_sha256(body->s, body->len, m->sha);
		f->last_uid = (uint32_t) uid;
		if (f->uidnext <= f->last_uid)
			f->uidnext = f->last_uid + 1;
		x->changes++;
		move_progress_add(x->job->progress, (long long) body->len);
		if (++x->since_checkpoint >= MOVE_CHECKPOINT) {
			x->since_checkpoint = 0;
			if (move_checkpoint(x->job, f, error_r) < 0)
				return -1;
		}
	}
	return 0;
}

/* "* VANISHED [(EARLIER)] uid-set": drop those messages. */
static int
move_vanished(struct move_fetch *x, const struct move_tok *t, size_t n,
	char **error_r)
{
	size_t i = 2;
	const char *p, *end;

	if (i < n && t[i].type == MOVE_TOK_LP)
		i += 3;		/* (EARLIER) */
	if (i >= n)
		return 0;
	p = t[i].s;
	end = p + t[i].len;
	while (p < end) {
		char *stop;
		unsigned long a = strtoul(p, &stop, 10), b = a, u;

		if (stop < end && *stop == ':')
			b = strtoul(stop + 1, &stop, 10);
		if (a > b) {
			unsigned long s = a;

			a = b;
			b = s;
		}
		/* Only UIDs we hold matter: walk ours, not the range. */
		for (u = 0; u < x->f->count;) {
			struct move_msg *m = &x->f->msgs[u];
			char *path;

			if (m->uid < a || m->uid > b) {
				u++;
				continue;
			}
			path = xasprintf("%s/cur/%s", x->f->dir, m->name);
			(void) unlink(path);
			free(path);
			move_folder_remove(x->f, u);
			x->changes++;
		}
		p = stop < end && *stop == ',' ? stop + 1 : end;
	}
	(void) error_r;
	return 0;
}

static int
move_select_cb(void *ctx, const struct move_resp *r, char **error_r)
{
	struct move_fetch *x = ctx;
	struct move_folder *f = x->f;
	const char *l = r->line;
	unsigned long long v;

	if (sscanf(l, "* OK [UIDVALIDITY %llu]", &v) == 1)
		x->job->sel_uidvalidity = (uint32_t) v;
	else if (sscanf(l, "* OK [UIDNEXT %llu]", &v) == 1)
		x->job->sel_uidnext = (uint32_t) v;
	else if (sscanf(l, "* OK [HIGHESTMODSEQ %llu]", &v) == 1)
		x->job->sel_hms = v;
	else if (r->count >= 3 && move_tok_is(&r->toks[2], "EXISTS"))
		f->source_exists = (size_t) move_tok_number(&r->toks[1]);
	else if (r->count >= 4 && move_tok_is(&r->toks[2], "FETCH") &&
	    r->toks[3].type == MOVE_TOK_LP)
		return move_fetch_one(x, r->toks + 4, r->count - 4, error_r);
	else if (r->count >= 2 && move_tok_is(&r->toks[1], "VANISHED"))
		return move_vanished(x, r->toks, r->count, error_r);
	return 0;
}

static int
move_seen_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;

	return x < y ? -1 : x > y;
}

/* SELECT f (CONDSTORE when offered); 0, or -1 with *error_r. */
static int
move_select(struct move_job *job, struct move_fetch *x, char **error_r)
{
	struct buf *q = buf_new(1024);
	int rc;

	if (move_imap_quote(q, x->f->name) < 0) {
		*error_r = xasprintf("bad folder name");
		buf_free(&q);
		return -1;
	}
	job->sel_uidvalidity = 0;
	job->sel_uidnext = 0;
	job->sel_hms = 0;
	rc = move_imap_cmd(job->imap, move_select_cb, x, error_r,
	    "SELECT %s%s", buf_cstr(q), job->condstore ? " (CONDSTORE)" : "");
	buf_free(&q);
	if (rc == 1 && job->sel_uidvalidity == 0) {
		*error_r = xasprintf("%s: SELECT %s without UIDVALIDITY",
		    job_host(job), x->f->name);
		rc = -1;
	}
	return rc == 1 ? 0 : -1;
}

int
move_sync_folder(struct move_job *job, struct move_folder *f,
	size_t *changes_r, char **error_r)
{
	struct move_fetch x;
	size_t count;
	int rc, same;

	memset(&x, 0, sizeof(x));
	x.job = job;
	x.f = f;
	if (move_folder_create(f->dir, f->dir == NULL ||
	    strcmp(f->dir, job->root) == 0, error_r) < 0)
		return -1;
	/*
	 * A folder not yet in the state file: files a killed run wrote into
	 * it before its first checkpoint are not in any list; drop them, or
	 * imapd would give them UIDs of its own beside the copies.
	 */
	if (f->uidvalidity == 0 && f->count == 0 &&
	    move_folder_prune(f, error_r) < 0)
		return -1;
	f->unchanged = 0;
	if (move_select(job, &x, error_r) < 0)
		return -1;
	/* As at the last whole verification (ctl_move_final.c)? */
	count = f->count;
	same = f->v_ok && job->sel_uidvalidity == f->v_uidvalidity &&
	    job->sel_uidnext == f->v_uidnext && job->sel_hms == f->v_hms;
	if (f->uidvalidity != 0 && f->uidvalidity != job->sel_uidvalidity) {
		/* Recreated on the source: start this folder again. */
		while (f->count > 0)
			move_folder_remove(f, f->count - 1);
		f->last_uid = 0;
		f->highestmodseq = 0;
		if (move_folder_prune(f, error_r) < 0)
			return -1;
	}
	if (job->qresync && f->uidvalidity == job->sel_uidvalidity &&
	    f->highestmodseq > 0 && job->sel_hms == f->highestmodseq &&
	    job->sel_uidnext == f->uidnext) {
		*changes_r = 0;		/* nothing changed since last time */
		f->unchanged = same;
		return 0;
	}
	f->uidvalidity = job->sel_uidvalidity;
	if (f->source_exists > f->count)
		move_progress_grow(job->progress,
		    (long long) (f->source_exists - f->count));
	/* 1. What changed among the messages already here. */
	if (f->count > 0 && job->qresync && f->highestmodseq > 0) {
		if (job->sel_hms != f->highestmodseq)
			rc = move_imap_cmd(job->imap, move_select_cb, &x,
			    error_r, "UID FETCH 1:%u (UID FLAGS MODSEQ) "
			    "(CHANGEDSINCE %llu VANISHED)",
			    (unsigned) f->last_uid,
			    (unsigned long long) f->highestmodseq);
		else
			rc = 1;
	} else if (f->count > 0) {
		/* Every flag, and the UIDs still there. */
		x.seen_alloc = 256;
		x.seen = xcalloc(x.seen_alloc, sizeof(*x.seen));
		rc = move_imap_cmd(job->imap, move_select_cb, &x, error_r,
		    "UID FETCH 1:%u (UID FLAGS%s)", (unsigned) f->last_uid,
		    job->condstore ? " MODSEQ" : "");
		if (rc == 1) {
			size_t i = 0;

			if (x.seen_count > 1)
				qsort(x.seen, x.seen_count, sizeof(*x.seen),
				    move_seen_cmp);
			while (i < f->count) {
				uint32_t uid = f->msgs[i].uid;
				char *path;

				if (bsearch(&uid, x.seen, x.seen_count,
				    sizeof(*x.seen), move_seen_cmp) != NULL) {
					i++;
					continue;
				}
				path = xasprintf("%s/cur/%s", f->dir,
				    f->msgs[i].name);
				(void) unlink(path);
				free(path);
				move_folder_remove(f, i);
				x.changes++;
			}
		}
		free(x.seen);
		x.seen = NULL;
	} else {
		rc = 1;
	}
	if (rc != 1)
		return -1;
	if (job->sel_hms > 0)
		f->highestmodseq = job->sel_hms;
	/* 2. New messages. */
	if (job->sel_uidnext == 0 || job->sel_uidnext > f->last_uid + 1) {
		x.new_msgs = 1;
		rc = move_imap_cmd(job->imap, move_select_cb, &x, error_r,
		    "UID FETCH %u:* (UID FLAGS INTERNALDATE RFC822.SIZE%s "
		    "BODY.PEEK[])", (unsigned) f->last_uid + 1,
		    job->condstore ? " MODSEQ" : "");
		if (rc != 1)
			return -1;
	}
	if (job->sel_uidnext > f->uidnext)
		f->uidnext = job->sel_uidnext;
	if (f->uidnext <= f->last_uid)
		f->uidnext = f->last_uid + 1;
	if (move_checkpoint(job, f, error_r) < 0)
		return -1;
	*changes_r = x.changes;
	f->unchanged = same && f->count == count;
	return 0;
}

/* ---- verification ------------------------------------------------ */

static int
move_verify_cb(void *ctx, const struct move_resp *r, char **error_r)
{
	struct move_fetch *x = ctx;
	unsigned long long v;
	size_t i;

	/* The snapshot a later pass compares with (v_* in ctl_move.h). */
	if (sscanf(r->line, "* OK [UIDVALIDITY %llu]", &v) == 1)
		x->f->v_uidvalidity = (uint32_t) v;
	else if (sscanf(r->line, "* OK [UIDNEXT %llu]", &v) == 1)
		x->f->v_uidnext = (uint32_t) v;
	else if (sscanf(r->line, "* OK [HIGHESTMODSEQ %llu]", &v) == 1)
		x->f->v_hms = v;
	if (r->count >= 3 && move_tok_is(&r->toks[2], "EXISTS")) {
		x->f->source_exists = (size_t) move_tok_number(&r->toks[1]);
		return 0;
	}
	if (r->count < 4 || !move_tok_is(&r->toks[2], "FETCH"))
		return 0;
	for (i = 3; i + 1 < r->count; i++) {
		if (move_tok_is(&r->toks[i], "UID")) {
			long long uid = move_tok_number(&r->toks[i + 1]);

			if (uid <= 0) {
				*error_r = xstrdup("bad UID in FETCH");
				return -1;
			}
			if (x->seen_count == x->seen_alloc) {
				x->seen_alloc = x->seen_alloc ?
				    x->seen_alloc * 2 : 256;
				x->seen = xreallocarray(x->seen, x->seen_alloc,
				    sizeof(*x->seen));
			}
			x->seen[x->seen_count++] = (uint32_t) uid;
			break;
		}
	}
	return 0;
}

int
move_verify_folder(struct move_job *job, struct move_folder *f,
	char **error_r)
{
	struct move_fetch x;
	struct buf *q = buf_new(1024);
	size_t i;
	int rc = 0;

	memset(&x, 0, sizeof(x));
	x.job = job;
	x.f = f;
	f->v_ok = 0;
	f->v_uidvalidity = f->v_uidnext = 0;
	f->v_hms = 0;
	(void) move_imap_quote(q, f->name);
	/* EXAMINE: the source's \Recent and flags are left alone. */
	if (move_imap_cmd(job->imap, move_verify_cb, &x, error_r,
	    "EXAMINE %s", buf_cstr(q)) != 1 ||
	    move_imap_cmd(job->imap, move_verify_cb, &x, error_r,
	    "UID FETCH 1:* (UID)") != 1) {
		buf_free(&q);
		free(x.seen);
		return -1;
	}
	buf_free(&q);
	if (x.seen_count > 1)
		qsort(x.seen, x.seen_count, sizeof(*x.seen), move_seen_cmp);
	if (x.seen_count != f->count || f->source_exists != f->count) {
		*error_r = xasprintf("%s: %zu messages on the source, %zu "
		    "here", f->name, f->source_exists, f->count);
		rc = -1;
	}
	for (i = 0; rc == 0 && i < f->count; i++) {
		if (x.seen[i] != f->msgs[i].uid) {
			*error_r = xasprintf("%s: UID %u on the source, %u "
			    "here", f->name, (unsigned) x.seen[i],
			    (unsigned) f->msgs[i].uid);
			rc = -1;
		}
	}
	free(x.seen);
	if (rc == 0)
		rc = move_verify_disk(f, error_r);
	f->v_ok = rc == 0;
	return rc;
}

int
move_verify_disk(struct move_folder *f, char **error_r)
{
	size_t i;

	for (i = 0; i < f->count; i++) {
		unsigned char sha[32];

		if (f->msgs[i].verified)
			continue;
		if (move_msg_hash_disk(f, i, sha, error_r) < 0)
			return -1;
		if (memcmp(sha, f->msgs[i].sha, 32) != 0) {
			*error_r = xasprintf("%s: UID %u: SHA-256 differs "
			    "from the source's", f->name,
			    (unsigned) f->msgs[i].uid);
			return -1;
		}
		f->msgs[i].verified = 1;
	}
	return 0;
}

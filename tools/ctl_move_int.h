/* ctl_move_int: what the files of ispmailctl mailbox move share. */
#ifndef ISPMAIL_CTL_MOVE_INT_H
#define ISPMAIL_CTL_MOVE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "ctl_move.h"
#include "route.h"

struct move_job {
	const char *address;
	const char *root;		/* the destination store */
	const char *source;		/* the source host (entry) */
	struct move_imap *imap;
	int condstore, qresync;
	int xmoving;			/* the source sets the store's mark */
	int list_status;		/* LIST ... RETURN (STATUS) */
	int final;			/* the final pass (ctl_move_final.c) */
	struct move_folder *folders;
	size_t folder_count;
	char **subscriptions;
	size_t sub_count;
	int subs_current;		/* the file says the same already */
	struct move_progress *progress;
	/* The last SELECT's answers. */
	uint32_t sel_uidvalidity, sel_uidnext;
	uint64_t sel_hms;
};

static inline const char *
job_host(const struct move_job *job)
{
	return job->source;
}

/* Files made as store_owner (on) or as root again (off); 0 or -1. */
int move_become_owner(int on);
/* One pass over every folder (ctl_move.c): *changes_r as below. */
int move_pass(struct move_job *job, size_t *changes_r, char **error_r);

/* ---- the final phase (ctl_move_final.c) ---- */

/* Set the routing record's state (and, when to != NULL, its host). */
int move_route_set(struct route *r, const char *address,
	enum route_state state, const char *to, const char *store_path,
	char **error_r);
/* Set (set 1) or clear the mark in the source's store: 0 or -1. */
int move_source_mark(struct move_job *job, int set, char **error_r);
/*
 * Before the mark: verify every folder whole (a folder changed
 * meanwhile only has its files hashed: it is verified whole after the
 * mark), recalculate maildirsize with quota_limit, syncfs.  0 or -1.
 */
int move_prepare_final(struct move_job *job, long long quota_limit,
	char **error_r);
/*
 * Mark (routing state and the source's mark, a guard against kill -9),
 * final pass, verification, switch to host to with state; on failure
 * the mailbox is put back active on the source.  0 moved, -1.
 */
int move_final(struct move_job *job, struct route *r, const char *address,
	const char *source_host, enum route_state state, const char *to,
	long long quota_limit, char **error_r);

/* One pass over folder f: *changes_r messages copied, changed or gone. */
int move_sync_folder(struct move_job *job, struct move_folder *f,
	size_t *changes_r, char **error_r);
/*
 * Count, UIDs and SHA-256 of f on both sides: 0 equal, -1 (*error_r).
 * Each file is hashed once (move_verify_disk may have done it before).
 */
int move_verify_folder(struct move_job *job, struct move_folder *f,
	char **error_r);
/* The SHA-256 of f's files not yet checked: 0 equal, -1 (*error_r). */
int move_verify_disk(struct move_folder *f, char **error_r);

#endif

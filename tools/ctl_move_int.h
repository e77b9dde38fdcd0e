/* ctl_move_int: what the files of ispmailctl mailbox move share. */
#ifndef ISPMAIL_CTL_MOVE_INT_H
#define ISPMAIL_CTL_MOVE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "ctl_move.h"

struct move_job {
	const char *address;
	const char *root;		/* the destination store */
	const char *source;		/* the source host (entry) */
	struct move_imap *imap;
	int condstore, qresync;
	int xmoving;			/* the source sets the store's mark */
	struct move_folder *folders;
	size_t folder_count;
	char **subscriptions;
	size_t sub_count;
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

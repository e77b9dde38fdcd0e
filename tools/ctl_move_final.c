/*
 * ctl_move_final: the final phase of ispmailctl mailbox move (the design:
 * ispmailctl(8), MOVING A MAILBOX).
 *
 * The mailbox is unavailable from the mark to the switch, so this phase
 * does only what the passes before it could not: the moving state in the
 * routing directory and the mark in the source's store (imapd's
 * XMOVING), a guard process that undoes them if the move is killed, one
 * final pass, the verification, the switch.
 *
 * The verification is incremental.  Before the mark every folder was
 * verified whole (count, UIDs, SHA-256 of every file read back;
 * move_verify_folder) and the source's UIDVALIDITY, UIDNEXT and
 * HIGHESTMODSEQ at that moment kept.  A folder whose final SELECT
 * answers the same three and the same count has the same UIDs
 * (CONDSTORE: an expunge raises HIGHESTMODSEQ, a new message UIDNEXT)
 * and the same files here (the final pass changed none), so it is
 * verified without another UID FETCH; any other folder is verified whole
 * again.  maildirsize and syncfs(2) were done before the mark too and
 * are done again only when the final pass changed something.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl.h"
#include "ctl_move.h"
#include "ctl_move_int.h"
#include "maildir.h"
#include "mail_params.h"
#include "route.h"
#include "stream.h"
#include "xalloc.h"

/* Final passes (each with its verification) before giving up. */
#define MOVE_FINAL_TRIES 3

int
move_route_set(struct route *r, const char *address, enum route_state state,
	const char *to, const char *store_path, char **error_r)
{
	struct route_mailbox *m = NULL;
	int rc;

	if (move_become_owner(0) < 0) {
		*error_r = xasprintf("seteuid: %s", strerror(errno));
		return -1;
	}
	rc = route_mailbox_get(r, address, &m, error_r);
	if (rc == 0)
		*error_r = xasprintf("no such mailbox: %s", address);
	if (rc == 1) {
		m->state = state;
		if (to != NULL) {
			free(m->mail_host);
			m->mail_host = xstrdup(to);
			free(m->store_path);
			m->store_path = xstrdup(store_path);
		}
		rc = route_mailbox_put(r, m, 0, error_r) == 0 ? 1 : -1;
	}
	route_mailbox_free(&m);
	if (move_become_owner(1) < 0 && rc == 1) {
		*error_r = xasprintf("seteuid: %s", strerror(errno));
		rc = -1;
	}
	return rc == 1 ? 0 : -1;
}

/*
 * The guard: a child that outlives a move killed while the mailbox is
 * marked moving (kill -9, ^C) and puts the mailbox back as it was.  It
 * waits on a pipe: a byte from the move means "done, leave it"; end of
 * file means the move died.  It ignores the signals a terminal sends to
 * the whole process group.
 */
static pid_t
move_guard_start(const char *address, const char *source_host,
	enum route_state state, int *fd_r)
{
	int p[2];
	pid_t pid;

	if (pipe(p) < 0)
		return -1;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		struct route *r;
		struct route_mailbox *m = NULL;
		char *error = NULL, c;
		ssize_t n;

		(void) signal(SIGINT, SIG_IGN);
		(void) signal(SIGTERM, SIG_IGN);
		(void) signal(SIGHUP, SIG_IGN);
		(void) signal(SIGPIPE, SIG_IGN);
		close(p[1]);
		do
			n = read(p[0], &c, 1);
		while (n < 0 && errno == EINTR);
		if (n == 1)
			_exit(0);
		(void) move_become_owner(0);
		r = route_open(&error);
		if (r != NULL && route_mailbox_get(r, address, &m,
		    &error) == 1 && m->state == ROUTE_STATE_MOVING &&
		    m->mail_host != NULL &&
		    strcmp(m->mail_host, source_host) == 0) {
			m->state = state;
			if (route_mailbox_put(r, m, 0, &error) == 0)
				ctl_eprintf("ispmailctl: the move of %s died; "
				    "it stays on %s, active again\n",
				    address, source_host);
		}
		if (error != NULL)
			ctl_eprintf("ispmailctl: move guard of %s: %s\n",
			    address, error);
		route_mailbox_free(&m);
		route_close(&r);
		_exit(0);
	}
	close(p[0]);
	*fd_r = p[1];
	return pid;
}

static void
move_guard_end(pid_t pid, int fd)
{
	if (pid <= 0)
		return;
	(void) write(fd, "d", 1);
	close(fd);
	(void) waitpid(pid, NULL, 0);
}

/*
 * The mark in the source's store (store_mark.h, imapd's XMOVING): set,
 * it holds for mailbox_move_timeout and imapd answers once the
 * deliveries that could miss it have landed; set 0 clears it.
 */
int
move_source_mark(struct move_job *job, int set, char **error_r)
{
	if (!job->xmoving)
		return 0;
	if (set)
		return move_imap_cmd(job->imap, NULL, NULL, error_r,
		    "XMOVING SET %lld", var_mailbox_move_timeout) == 1 ?
		    0 : -1;
	return move_imap_cmd(job->imap, NULL, NULL, error_r,
	    "XMOVING CLEAR") == 1 ? 0 : -1;
}


int
move_prepare_final(struct move_job *job, long long quota_limit,
	char **error_r)
{
	struct maildir_quota quota;
	size_t i;

	for (i = 0; i < job->folder_count; i++) {
		char *error = NULL;

		/* A change meanwhile: verified whole after the mark. */
		if (move_verify_folder(job, &job->folders[i], &error) < 0) {
			if (move_verify_disk(&job->folders[i], error_r) < 0) {
				free(error);
				return -1;
			}
			free(error);
		}
	}
	/* maildirsize counted nothing copied: count the files. */
	if (maildir_quota_recalc(job->root, quota_limit, 0, &quota,
	    error_r) < 0)
		return -1;
	return move_sync_fs(job->root, error_r);
}

/* The final pass and verification, until equal: 0, or -1. */
static int
move_final_pass(struct move_job *job, size_t *changes_r,
	int64_t *pass_ms_r, int64_t *verify_ms_r, size_t *whole_r,
	char **error_r)
{
	size_t changes, i;
	int tries;

	*changes_r = 0;
	/*
	 * A delivery whose RCPT was accepted before the mark may still land
	 * on the source (a source without XMOVING): the verification sees
	 * it and the final pass runs again.
	 */
	for (tries = 1;; tries++) {
		int64_t t0 = stream_clock_ms();

		if (move_pass(job, &changes, error_r) < 0)
			return -1;
		*changes_r += changes;
		*pass_ms_r += stream_clock_ms() - t0;
		t0 = stream_clock_ms();
		*whole_r = 0;
		for (i = 0; i < job->folder_count; i++) {
			struct move_folder *f = &job->folders[i];

			if (f->unchanged && f->source_exists == f->count)
				continue;
			(*whole_r)++;
			if (move_verify_folder(job, f, error_r) < 0)
				break;
		}
		*verify_ms_r += stream_clock_ms() - t0;
		if (i == job->folder_count)
			return 0;
		if (tries == MOVE_FINAL_TRIES) {
			char *e = *error_r;

			*error_r = xasprintf("verification failed: %s", e);
			free(e);
			return -1;
		}
		free(*error_r);
		*error_r = NULL;
	}
}

int
move_final(struct move_job *job, struct route *r, const char *address,
	const char *source_host, enum route_state state, const char *to,
	long long quota_limit, char **error_r)
{
	struct maildir_quota quota;
	int64_t mark_ms = stream_clock_ms(), marked_ms = 0, pass_ms = 0;
	int64_t verify_ms = 0, synced_ms, end_ms;
	size_t changes = 0, whole = 0, msgs = 0, i;
	int guard_fd = -1, marked = 0;
	pid_t guard;
	char *error = NULL;

	guard = move_guard_start(address, source_host, state, &guard_fd);
	if (guard < 0) {
		*error_r = xasprintf("fork: %s", strerror(errno));
		return -1;
	}
	if (move_route_set(r, address, ROUTE_STATE_MOVING, NULL, NULL,
	    error_r) < 0)
		goto fail;
	marked = 1;
	if (move_source_mark(job, 1, error_r) < 0)
		goto fail;
	marked_ms = stream_clock_ms();
	job->final = 1;
	if (move_final_pass(job, &changes, &pass_ms, &verify_ms, &whole,
	    error_r) < 0)
		goto fail;
	/* Past the lease the mark no longer holds deliveries back. */
	if (job->xmoving && stream_clock_ms() - mark_ms >=
	    var_mailbox_move_timeout * 1000) {
		*error_r = xasprintf("the final phase took longer than "
		    "mailbox_move_timeout (%llds)", var_mailbox_move_timeout);
		goto fail;
	}
	synced_ms = stream_clock_ms();
	if (changes > 0 && (maildir_quota_recalc(job->root, quota_limit, 0,
	    &quota, error_r) < 0 || move_sync_fs(job->root, error_r) < 0))
		goto fail;
	end_ms = stream_clock_ms();
	if (move_route_set(r, address, state, to, job->root, error_r) < 0)
		goto fail;
	move_guard_end(guard, guard_fd);
	for (i = 0; i < job->folder_count; i++)
		msgs += job->folders[i].count;
	move_progress_phase(job->progress, "final pass %zu changes, "
	    "verified %zu folders (%zu again in full), %zu messages "
	    "(SHA-256); moved to %s, unavailable %.3fs (mark %.3f, final "
	    "pass %.3f, verification %.3f, sync %.3f, switch %.3f)",
	    changes, job->folder_count, whole, msgs, to,
	    (double) (stream_clock_ms() - mark_ms) / 1000,
	    (double) (marked_ms - mark_ms) / 1000, (double) pass_ms / 1000,
	    (double) verify_ms / 1000, (double) (end_ms - synced_ms) / 1000,
	    (double) (stream_clock_ms() - end_ms) / 1000);
	return 0;
fail:
	if (marked && move_route_set(r, address, state, NULL, NULL,
	    &error) < 0) {
		ctl_eprintf("ispmailctl: %s: CLEARING THE MOVING STATE "
		    "FAILED: %s; set it back with ispmailctl mailbox set "
		    "%s state=active\n", address, error, address);
		free(error);
	} else if (marked && move_source_mark(job, 0, &error) < 0) {
		/* The lease ends it (store_mark.h). */
		ctl_eprintf("ispmailctl: %s: clearing the mark on %s: %s\n",
		    address, job->source, error);
		free(error);
	}
	move_guard_end(guard, guard_fd);
	return -1;
}

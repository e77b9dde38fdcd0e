/*
 * ctl_move: ispmailctl mailbox move ADDRESS --to HOST, run on the
 * destination store host (the design: ispmailctl(8), MOVING A MAILBOX).
 *
 * Folders and subscriptions are listed on the source; each pass runs
 * ctl_move_sync over every folder; passes repeat while one copies or
 * changes more than mailbox_move_final_changes messages (at most
 * mailbox_move_max_passes); then ctl_move_final verifies everything,
 * marks the mailbox moving, runs the final pass over what changed and
 * switches the mail host (and store path).
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "ctl.h"
#include "ctl_move.h"
#include "ctl_move_int.h"
#include "mail_host.h"
#include "mail_params.h"
#include "params.h"
#include "route.h"
#include "store.h"
#include "store_mark.h"
#include "stream.h"
#include "xalloc.h"

/* Folders a mailbox may have (a LIST answer is capped at this). */
#define MOVE_FOLDER_MAX 10000

/* When root runs the move, files are made as store_owner. */
static uid_t move_uid = (uid_t) -1;
static gid_t move_gid = (gid_t) -1;

int
move_become_owner(int on)
{
	if (move_uid == (uid_t) -1)
		return 0;
	if (on)
		return setegid(move_gid) < 0 || seteuid(move_uid) < 0 ? -1 : 0;
	return seteuid(0) < 0 || setegid(0) < 0 ? -1 : 0;
}

static int
move_owner_init(void)
{
	struct passwd *pw;

	if (geteuid() != 0)
		return 0;
	pw = getpwnam(var_store_owner);
	if (pw == NULL) {
		ctl_eprintf("ispmailctl: store_owner %s: no such user\n",
		    var_store_owner);
		return -1;
	}
	move_uid = pw->pw_uid;
	move_gid = pw->pw_gid;
	if (setgroups(1, &move_gid) < 0) {
		ctl_eprintf("ispmailctl: setgroups: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

/* "login:password" from the credentials file. */
static int
move_credentials(char **login_r, char **password_r)
{
	char *path = *var_mailbox_move_credentials_file != '\0' ?
	    xstrdup(var_mailbox_move_credentials_file) :
	    xasprintf("%s/move-credentials", var_config_directory);
	char line[1024], *colon;
	FILE *f = fopen(path, "re");
	size_t len;

	if (f == NULL) {
		ctl_eprintf("ispmailctl: mailbox move credentials %s: %s\n",
		    path, strerror(errno));
		free(path);
		return -1;
	}
	if (fgets(line, sizeof(line), f) == NULL) {
		line[0] = '\0';
	}
	fclose(f);
	len = strcspn(line, "\r\n");
	line[len] = '\0';
	colon = strchr(line, ':');
	if (colon == NULL || colon == line || colon[1] == '\0') {
		ctl_eprintf("ispmailctl: %s: want one line "
		    "\"login:password\"\n", path);
		free(path);
		return -1;
	}
	free(path);
	*colon = '\0';
	*login_r = xstrdup(line);
	*password_r = xstrdup(colon + 1);
	memset(line, 0, sizeof(line));
	return 0;
}

/* A folder's "* STATUS" answer to LIST ... RETURN (STATUS ...). */
struct move_status {
	char *name;
	uint32_t uidvalidity, uidnext;
	uint64_t hms;
	long long messages;
};

struct move_list {
	char **names;
	size_t count;
	int lsub;
	struct move_status *status;	/* LIST-STATUS (the final pass) */
	size_t status_count;
};

/* "* STATUS name (MESSAGES n UIDNEXT n UIDVALIDITY n HIGHESTMODSEQ n)" */
static int
move_status_cb(struct move_list *l, const struct move_resp *r,
	char **error_r)
{
	struct move_status *st;
	size_t i;

	if (r->count < 4 || r->toks[3].type != MOVE_TOK_LP)
		return 0;
	if (l->status_count >= MOVE_FOLDER_MAX) {
		*error_r = xasprintf("more than %d folders", MOVE_FOLDER_MAX);
		return -1;
	}
	l->status = xreallocarray(l->status, l->status_count + 1,
	    sizeof(*l->status));
	st = &l->status[l->status_count++];
	memset(st, 0, sizeof(*st));
	st->name = xstrndup(r->toks[2].s, r->toks[2].len);
	st->messages = -1;
	for (i = 4; i + 1 < r->count && r->toks[i].type != MOVE_TOK_RP;
	    i += 2) {
		long long v = move_tok_number(&r->toks[i + 1]);

		if (move_tok_is(&r->toks[i], "MESSAGES"))
			st->messages = v;
		else if (move_tok_is(&r->toks[i], "UIDNEXT") && v > 0)
			st->uidnext = (uint32_t) v;
		else if (move_tok_is(&r->toks[i], "UIDVALIDITY") && v > 0)
			st->uidvalidity = (uint32_t) v;
		else if (move_tok_is(&r->toks[i], "HIGHESTMODSEQ") && v > 0)
			st->hms = (uint64_t) v;
	}
	return 0;
}

static int
move_list_cb(void *ctx, const struct move_resp *r, char **error_r)
{
	struct move_list *l = ctx;
	size_t i;

	if (!l->lsub && r->count >= 2 && move_tok_is(&r->toks[1], "STATUS"))
		return move_status_cb(l, r, error_r);
	if (r->count < 2 || !move_tok_is(&r->toks[1], l->lsub ? "LSUB" :
	    "LIST"))
		return 0;
	/* * LIST (flags) "sep" name */
	for (i = 2; i < r->count && r->toks[i].type != MOVE_TOK_RP; i++)
		if (!l->lsub && move_tok_is(&r->toks[i], "\\Noselect"))
			return 0;
	if (i + 2 >= r->count) {
		*error_r = xstrdup("malformed LIST response");
		return -1;
	}
	if (l->count >= MOVE_FOLDER_MAX) {
		*error_r = xasprintf("more than %d folders", MOVE_FOLDER_MAX);
		return -1;
	}
	l->names = xreallocarray(l->names, l->count + 2, sizeof(char *));
	l->names[l->count++] = xstrndup(r->toks[i + 2].s, r->toks[i + 2].len);
	l->names[l->count] = NULL;
	return 0;
}

static void
move_names_free(char **names, size_t count)
{
	while (count > 0)
		free(names[--count]);
	free(names);
}

/*
 * Is f as it was at its last whole verification, by its STATUS in l:
 * same UIDVALIDITY, UIDNEXT (no message added), HIGHESTMODSEQ and
 * count (none expunged)?
 */
static int
move_status_same(const struct move_list *l, struct move_folder *f)
{
	size_t i;

	for (i = 0; i < l->status_count; i++) {
		const struct move_status *st = &l->status[i];

		if (strcmp(st->name, f->name) != 0)
			continue;
		if (!f->v_ok || st->messages < 0 ||
		    st->uidvalidity != f->v_uidvalidity ||
		    st->uidnext != f->v_uidnext || st->hms != f->v_hms ||
		    (size_t) st->messages != f->count)
			return 0;
		f->source_exists = f->count;
		return 1;
	}
	return 0;
}

static void
move_list_free(struct move_list *l)
{
	move_names_free(l->names, l->count);
	while (l->status_count > 0)
		free(l->status[--l->status_count].name);
	free(l->status);
}

/*
 * The source's folders, merged into job->folders; subscriptions.  With
 * job->final and LIST-STATUS each folder's STATUS comes along (one
 * round trip, no SELECT), and f->unchanged says it is as verified.
 */
static int
move_list_folders(struct move_job *job, char **error_r)
{
	struct move_list l, s;
	size_t i, j;

	memset(&l, 0, sizeof(l));
	memset(&s, 0, sizeof(s));
	s.lsub = 1;
	if (move_imap_cmd(job->imap, move_list_cb, &l, error_r,
	    "LIST \"\" \"*\"%s", job->final && job->list_status ?
	    " RETURN (STATUS (MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ))" :
	    "") != 1 ||
	    move_imap_cmd(job->imap, move_list_cb, &s, error_r,
	    "LSUB \"\" \"*\"") != 1) {
		move_list_free(&l);
		move_list_free(&s);
		return -1;
	}
	for (i = 0; i < l.count; i++) {
		char *dir = move_folder_dir(job->root, l.names[i]);

		if (dir == NULL) {
			*error_r = xasprintf("folder name %s cannot be "
			    "stored here", l.names[i]);
			move_list_free(&l);
			move_list_free(&s);
			return -1;
		}
		for (j = 0; j < job->folder_count; j++)
			if (strcmp(job->folders[j].name, l.names[i]) == 0)
				break;
		if (j == job->folder_count) {
			job->folders = xreallocarray(job->folders,
			    job->folder_count + 1, sizeof(*job->folders));
			memset(&job->folders[j], 0, sizeof(job->folders[j]));
			job->folders[j].name = xstrdup(l.names[i]);
			job->folder_count++;
		}
		free(job->folders[j].dir);
		job->folders[j].dir = dir;
		job->folders[j].done = 1;	/* still on the source */
		job->folders[j].unchanged = move_status_same(&l,
		    &job->folders[j]);
	}
	move_list_free(&l);
	for (i = 0; job->subs_current && i < s.count; i++)
		job->subs_current = i < job->sub_count &&
		    strcmp(s.names[i], job->subscriptions[i]) == 0;
	if (s.count != job->sub_count)
		job->subs_current = 0;
	move_names_free(job->subscriptions, job->sub_count);
	job->subscriptions = s.names;
	job->sub_count = s.count;
	s.names = NULL;
	s.count = 0;
	move_list_free(&s);
	return 0;
}

static int
move_write_subscriptions(struct move_job *job, char **error_r)
{
	char *tmp = xasprintf("%s/subscriptions.tmp", job->root);
	char *path = xasprintf("%s/subscriptions", job->root);
	FILE *f = fopen(tmp, "we");
	size_t i;
	int rc = -1;

	if (f == NULL) {
		*error_r = xasprintf("create %s: %s", tmp, strerror(errno));
	} else {
		for (i = 0; i < job->sub_count; i++)
			if (strchr(job->subscriptions[i], '\n') == NULL)
				fprintf(f, "%s\n", job->subscriptions[i]);
		if (fflush(f) != 0 || ferror(f) || fsync(fileno(f)) < 0 ||
		    rename(tmp, path) < 0)
			*error_r = xasprintf("write %s: %s", path,
			    strerror(errno));
		else
			rc = 0;
		fclose(f);
	}
	if (rc < 0)
		(void) unlink(tmp);
	free(tmp);
	free(path);
	return rc;
}

/*
 * One pass over every folder: folders gone from the source are removed
 * here.  *changes_r: messages copied, changed or expunged.
 */
int
move_pass(struct move_job *job, size_t *changes_r, char **error_r)
{
	size_t i, changes = 0, n;

	for (i = 0; i < job->folder_count; i++)
		job->folders[i].done = 0;
	if (move_list_folders(job, error_r) < 0)
		return -1;
	move_progress_total(job->progress, 0);
	for (i = 0; i < job->folder_count;) {
		struct move_folder *f = &job->folders[i];

		if (!f->done) {
			/* Deleted on the source since an earlier pass. */
			while (f->count > 0)
				move_folder_remove(f, f->count - 1);
			if (f->dir != NULL)
				(void) move_folder_prune(f, error_r);
			move_folder_clear(f);
			memmove(f, f + 1, (job->folder_count - i - 1) *
			    sizeof(*f));
			job->folder_count--;
			changes++;
			continue;
		}
		if (f->unchanged) {
			i++;	/* the final pass: as verified (STATUS) */
			continue;
		}
		if (move_sync_folder(job, f, &n, error_r) < 0) {
			char *e = *error_r;

			*error_r = xasprintf("folder %s: %s", f->name, e);
			free(e);
			return -1;
		}
		changes += n;
		i++;
	}
	/* Unchanged since written: no fsync while the mailbox waits. */
	if (!job->subs_current) {
		if (move_write_subscriptions(job, error_r) < 0)
			return -1;
		job->subs_current = 1;
	}
	*changes_r = changes;
	return 0;
}

/* Empty the source over the still open session (--remove-source). */
static int
move_remove_source(struct move_job *job, char **error_r)
{
	size_t i;

	for (i = job->folder_count; i-- > 0;) {
		struct buf *q = buf_new(1024);
		int inbox = strcasecmp(job->folders[i].name, "INBOX") == 0;
		int rc;

		(void) move_imap_quote(q, job->folders[i].name);
		rc = move_imap_cmd(job->imap, NULL, NULL, error_r,
		    "SELECT %s", buf_cstr(q));
		if (rc == 1 && job->folders[i].count > 0)
			rc = move_imap_cmd(job->imap, NULL, NULL, error_r,
			    "UID STORE 1:%u +FLAGS.SILENT (\\Deleted)",
			    (unsigned) job->folders[i].last_uid);
		if (rc == 1)
			rc = move_imap_cmd(job->imap, NULL, NULL, error_r,
			    "UID EXPUNGE 1:%u", (unsigned)
			    (job->folders[i].last_uid > 0 ?
			    job->folders[i].last_uid : 1));
		if (rc == 1)
			rc = move_imap_cmd(job->imap, NULL, NULL, error_r,
			    "UNSELECT");
		if (rc == 1 && !inbox)
			rc = move_imap_cmd(job->imap, NULL, NULL, error_r,
			    "DELETE %s", buf_cstr(q));
		buf_free(&q);
		if (rc != 1)
			return -1;
	}
	return 0;
}

/* Connect to the first entry of the source's mail host that answers. */
static struct move_imap *
move_connect(const char *mail_host, char **used_r, char **error_r)
{
	char **entries;
	int count, i;
	struct move_imap *c = NULL;
	struct buf *errors = buf_new(8192);

	entries = params_list_split(mail_host, &count);
	for (i = 0; i < count && c == NULL; i++) {
		char *e = NULL, *host = entries[i];
		size_t len = strlen(host);

		if (host[0] == '[' && len > 2 && host[len - 1] == ']') {
			host[len - 1] = '\0';
			host++;
		}
		c = move_imap_connect(host, &e);
		if (c != NULL) {
			*used_r = xstrdup(host);
		} else {
			(void) buf_printf(errors, "%s%s",
			    buf_len(errors) ? "; " : "", e);
			free(e);
		}
	}
	params_list_free(entries);
	if (c == NULL)
		*error_r = count == 0 ? xstrdup("no source host") :
		    buf_strdup(errors);
	buf_free(&errors);
	return c;
}

/*
 * The destination's imapd answers on mailbox_move_imap_port, as the
 * source's does: a mailbox switched to a host whose services are down
 * would have its logins and deliveries go nowhere.
 */
static int
move_probe_destination(const char *to, char **error_r)
{
	char *used = NULL, *e = NULL;
	struct move_imap *c = move_connect(to, &used, &e);

	if (c == NULL) {
		*error_r = xasprintf("the destination %s does not answer: %s",
		    to, e);
		free(e);
		return -1;
	}
	move_imap_free(&c);
	free(used);
	return 0;
}

static void
move_job_free(struct move_job *job)
{
	while (job->folder_count > 0)
		move_folder_clear(&job->folders[--job->folder_count]);
	free(job->folders);
	move_names_free(job->subscriptions, job->sub_count);
	move_imap_free(&job->imap);
	move_progress_free(&job->progress);
}

/* The move itself; the exit status. */
static int
move_run(struct route *r, const char *address, const char *to,
	const char *store_path, int remove_source)
{
	struct route_mailbox *m = NULL;
	struct move_job job;
	char *error = NULL, *login = NULL, *password = NULL, *source = NULL;
	const char *root;
	enum route_state state;
	int rc, pass;
	size_t changes, i;

	memset(&job, 0, sizeof(job));
	rc = route_mailbox_get(r, address, &m, &error);
	if (rc <= 0) {
		ctl_eprintf("ispmailctl: %s: %s\n", address, rc == 0 ?
		    "no such mailbox" : error);
		free(error);
		return rc == 0 ? 1 : CTL_EXIT_TEMPFAIL;
	}
	if (m->mail_host == NULL || mail_host_is_local(m->mail_host)) {
		ctl_eprintf("ispmailctl: %s is already on this host (%s)\n",
		    address, m->mail_host != NULL ? m->mail_host : "");
		route_mailbox_free(&m);
		return 1;
	}
	root = store_path != NULL ? store_path : m->store_path;
	if (root == NULL || store_path_check(root, &error) < 0) {
		ctl_eprintf("ispmailctl: %s: no usable store path: %s\n",
		    address, error != NULL ? error : "none");
		free(error);
		route_mailbox_free(&m);
		return 1;
	}
	/* A mailbox left "moving" by a killed move was active. */
	state = m->state == ROUTE_STATE_MOVING ? ROUTE_STATE_ACTIVE :
	    m->state;
	job.address = m->address;
	job.root = root;
	job.progress = move_progress_new(m->address);
	if (move_credentials(&login, &password) < 0 ||
	    move_owner_init() < 0) {
		rc = 1;
		goto out;
	}
	if (move_probe_destination(to, &error) < 0)
		goto fail;
	if (move_become_owner(0) < 0 || store_create(root, m->quota, move_uid,
	    move_gid, &error) < 0 || move_become_owner(1) < 0) {
		ctl_eprintf("ispmailctl: store %s: %s\n", root,
		    error != NULL ? error : strerror(errno));
		rc = 1;
		goto out;
	}
	/* A mark left here when the mailbox moved away once. */
	if (store_mark_clear(root, &error) < 0) {
		ctl_eprintf("ispmailctl: %s\n", error);
		free(error);
		rc = 1;
		goto out;
	}
	rc = move_state_load(root, m->address, &job.folders,
	    &job.folder_count, &error);
	if (rc < 0)
		goto fail;
	for (i = 0; i < job.folder_count; i++) {
		struct move_folder *f = &job.folders[i];

		f->dir = move_folder_dir(root, f->name);
		if (f->dir == NULL) {
			error = xasprintf("bad folder %s in the state file",
			    f->name);
			goto fail;
		}
		/* Files written after the last checkpoint: not ours. */
		if (move_folder_create(f->dir, strcmp(f->dir, root) == 0,
		    &error) < 0 || move_folder_prune(f, &error) < 0)
			goto fail;
	}
	if (rc == 1)
		move_progress_phase(job.progress, "resuming (%zu folders "
		    "copied before)", job.folder_count);
	job.imap = move_connect(m->mail_host, &source, &error);
	if (job.imap == NULL)
		goto fail;
	job.source = source;
	if (move_imap_login(job.imap, m->address, login, password,
	    &error) < 0)
		goto fail;
	job.condstore = move_imap_has_cap(job.imap, "CONDSTORE");
	job.list_status = move_imap_has_cap(job.imap, "LIST-STATUS");
	/* A killed run's mark: the mailbox is active on the source. */
	job.xmoving = move_imap_has_cap(job.imap, "XMOVING");
	if (move_source_mark(&job, 0, &error) < 0)
		goto fail;
	if (!job.xmoving)
		move_progress_phase(job.progress, "warning: %s has no XMOVING "
		    "(an older imapd): a delivery in progress at the mark may "
		    "land there after the final pass", source);
	if (move_imap_has_cap(job.imap, "QRESYNC") &&
	    move_imap_cmd(job.imap, NULL, NULL, &error,
	    "ENABLE QRESYNC") == 1) {
		job.qresync = 1;
	} else {
		free(error);
		error = NULL;
	}
	move_progress_phase(job.progress, "copying from %s%s", source,
	    job.qresync ? " (QRESYNC)" : job.condstore ? " (CONDSTORE)" : "");
	for (pass = 1;; pass++) {
		int64_t t0 = stream_clock_ms();

		if (move_pass(&job, &changes, &error) < 0)
			goto fail;
		move_progress_phase(job.progress, "pass %d: %zu changes in "
		    "%.3fs", pass, changes,
		    (double) (stream_clock_ms() - t0) / 1000);
		if ((long long) changes <= var_mailbox_move_final_changes ||
		    pass >= var_mailbox_move_max_passes)
			break;
	}
	/* Verified whole, maildirsize, syncfs: before the mark. */
	if (move_prepare_final(&job, m->quota, &error) < 0 ||
	    move_final(&job, r, m->address, m->mail_host, state, to,
	    m->quota, &error) < 0)
		goto fail;
	move_state_remove(root);
	if (remove_source) {
		if (move_remove_source(&job, &error) < 0) {
			ctl_eprintf("ispmailctl: %s: moved, but removing the "
			    "source's copy failed: %s\n", m->address, error);
			free(error);
			rc = 1;
			goto out;
		}
		move_progress_phase(job.progress, "removed from %s", source);
	}
	rc = 0;
	goto out;
fail:
	ctl_eprintf("ispmailctl: move of %s failed: %s\n", m->address,
	    error != NULL ? error : "unknown error");
	free(error);
	error = NULL;
	ctl_eprintf("ispmailctl: %s stays on %s; run the move again to "
	    "continue\n", m->address, m->mail_host);
	rc = 1;
out:
	(void) move_become_owner(0);
	move_job_free(&job);
	if (password != NULL)
		memset(password, 0, strlen(password));
	free(password);
	free(login);
	free(source);
	route_mailbox_free(&m);
	return rc;
}

/* The mailboxes of domain (all domains when NULL) whose host is from. */
static char **
move_drain_list(struct route *r, const char *domain, const char *from,
	size_t *count_r)
{
	char **domains = NULL, **out = NULL, *error = NULL;
	size_t count = 0, i, j;

	if (domain != NULL) {
		domains = xcalloc(2, sizeof(*domains));
		domains[0] = xstrdup(domain);
	} else if (route_list_domains(r, &domains, &error) < 0) {
		ctl_eprintf("ispmailctl: %s\n", error);
		free(error);
		return NULL;
	}
	for (i = 0; domains[i] != NULL; i++) {
		char **names = NULL;

		if (route_list_mailboxes(r, domains[i], &names, &error) < 0) {
			ctl_eprintf("ispmailctl: %s: %s\n", domains[i], error);
			free(error);
			error = NULL;
			continue;
		}
		for (j = 0; names[j] != NULL; j++) {
			struct route_mailbox *m = NULL;

			if (route_mailbox_get(r, names[j], &m, &error) == 1 &&
			    m->mail_host != NULL &&
			    strcmp(m->mail_host, from) == 0) {
				out = xreallocarray(out, count + 2,
				    sizeof(*out));
				out[count++] = xstrdup(m->address);
				out[count] = NULL;
			}
			free(error);
			error = NULL;
			route_mailbox_free(&m);
		}
		route_names_free(&names);
	}
	route_names_free(&domains);
	*count_r = count;
	return out != NULL ? out : xcalloc(1, sizeof(*out));
}

/*
 * Drain: move every mailbox on from to to, parallel at a time (each move
 * a child process with its own session).  1 when any move failed.
 */
static int
move_drain(struct route *r, const char *from, const char *to,
	const char *domain, int parallel, const char *store_root,
	int remove_source)
{
	char **list;
	size_t count = 0, next = 0, failed = 0;
	int running = 0;

	list = move_drain_list(r, domain, from, &count);
	if (list == NULL)
		return 1;
	ctl_printf("draining %s: %zu mailboxes to %s\n", from, count, to);
	fflush(stdout);
	while (next < count || running > 0) {
		int status;

		if (next < count && running < parallel) {
			pid_t pid;

			fflush(stdout);
			fflush(stderr);
			pid = fork();
			if (pid == 0) {
				struct route *cr;
				char *error = NULL, *path = NULL;
				const char *at = strrchr(list[next], '@');

				cr = route_open(&error);
				if (cr == NULL || at == NULL)
					_exit(1);
				/* --store-root: DIR/domain/local. */
				if (store_root != NULL)
					path = xasprintf("%s/%s/%.*s",
					    store_root, at + 1,
					    (int) (at - list[next]), list[next]);
				status = move_run(cr, list[next], to, path,
				    remove_source);
				free(path);
				route_close(&cr);
				fflush(stdout);
				_exit(status);
			}
			if (pid < 0) {
				ctl_eprintf("ispmailctl: fork: %s\n",
				    strerror(errno));
				failed++;
			} else {
				running++;
			}
			next++;
			continue;
		}
		if (wait(&status) < 0)
			break;
		running--;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed++;
	}
	ctl_printf("drained %s: %zu moved, %zu failed\n", from,
	    count - failed, failed);
	while (count > 0)
		free(list[--count]);
	free(list);
	return failed > 0 ? 1 : 0;
}

int
ctl_mailbox_move(int argc, char **argv)
{
	static const char usage[] = "usage: ispmailctl mailbox move ADDRESS "
	    "--to HOST [--store-path PATH] [--remove-source]\n"
	    "       ispmailctl mailbox move --from HOST --to HOST "
	    "[--domain D] [--parallel N] [--store-root DIR] "
	    "[--remove-source]\n";
	const char *address = NULL, *to = NULL, *store_path = NULL;
	const char *from = NULL, *domain = NULL, *store_root = NULL;
	int remove_source = 0, parallel = 1, i, rc;
	struct route *r;
	char *error = NULL;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--to") == 0 && i + 1 < argc)
			to = argv[++i];
		else if (strcmp(argv[i], "--store-path") == 0 && i + 1 < argc)
			store_path = argv[++i];
		else if (strcmp(argv[i], "--from") == 0 && i + 1 < argc)
			from = argv[++i];
		else if (strcmp(argv[i], "--store-root") == 0 && i + 1 < argc)
			store_root = argv[++i];
		else if (strcmp(argv[i], "--domain") == 0 && i + 1 < argc)
			domain = argv[++i];
		else if (strcmp(argv[i], "--parallel") == 0 && i + 1 < argc &&
		    (parallel = atoi(argv[i + 1])) >= 1 && parallel <= 64)
			i++;
		else if (strcmp(argv[i], "--remove-source") == 0)
			remove_source = 1;
		else if (argv[i][0] != '-' && address == NULL)
			address = argv[i];
		else
			break;
	}
	if (i < argc || to == NULL || (address == NULL) == (from == NULL) ||
	    (from != NULL && store_path != NULL) ||
	    (address != NULL && (domain != NULL || parallel != 1 ||
	    store_root != NULL))) {
		ctl_eprintf("%s", usage);
		return 2;
	}
	if (!mail_host_is_local(to)) {
		ctl_eprintf("ispmailctl: --to %s is not this host (not in "
		    "local_mail_hosts): run the move on the destination\n",
		    to);
		return 2;
	}
	r = route_open(&error);
	if (r == NULL) {
		ctl_eprintf("ispmailctl: %s\n", error);
		free(error);
		return 1;
	}
	rc = from != NULL ? move_drain(r, from, to, domain, parallel,
	    store_root, remove_source) : move_run(r, address, to, store_path,
	    remove_source);
	route_close(&r);
	return rc;
}

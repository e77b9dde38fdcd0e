/*
 * imap_mailbox: the selected folder's state and its synchronisation with
 * the disk (new mail, flag changes and expunges by other sessions and
 * lmtpd).
 *
 * Per message the session keeps a struct imap_msg: the UID, the flags
 * the client was last told, and the file's current name.  Message data
 * is read from the file when asked for.  A message is \Recent in the
 * one SELECT session that claims it in the UID list first, however it
 * came (delivery, APPEND, COPY, MOVE; RFC 3501 2.3.2); an EXAMINE sees
 * unclaimed ones as \Recent too and claims none.  A SELECT moves the
 * files it finds in new/ to cur/.
 *
 * imap_mailbox_sync() rescans only when new/ or cur/ changed (their
 * mtimes; a change within the same second always rescans), and sends the
 * untagged EXISTS, RECENT, EXPUNGE and FETCH FLAGS responses.  Callers
 * do not call it while answering FETCH, STORE or SEARCH, where RFC 3501
 * 7.4.1 forbids EXPUNGE responses.
 */
#ifndef ISPMAIL_IMAP_MAILBOX_H
#define ISPMAIL_IMAP_MAILBOX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "imap_keywords.h"

struct imap_envcache;
struct imap_session;
struct imap_uidlist_result;
struct stat;

struct imap_msg {
	char *name;		/* file name in cur/ (or new/) */
	uint64_t modseq;	/* RFC 7162, as the client was last told */
	uint32_t uid;
	uint32_t keywords;	/* bit n: keyword n (letter 'a' + n) */
	uint8_t flags;		/* IMAP_FLAG_* as the client knows them */
	uint8_t in_new;
};

struct imap_mailbox {
	char *dir;		/* the folder's Maildir */
	char *name;		/* IMAP name (modified UTF-7) */
	int readonly;		/* EXAMINE */
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;	/* 0: the record could not be read */
	struct imap_msg *msgs;	/* sorted by UID; index = sequence - 1 */
	size_t count;
	size_t alloc;
	struct timespec new_mtime;
	struct timespec cur_mtime;
	int changed;		/* rescan even when the mtimes agree */
	/*
	 * cur/ and new/ opened at a command's first message (-1: not
	 * yet), so each message is one openat() of its name, not a walk of
	 * the whole path; imap_mailbox_release() closes them after every
	 * command, so a folder moved meanwhile is looked up again.
	 */
	int subdir_fd[2];
	struct imap_keywords kw;	/* the folder's keyword names */
	/*
	 * SELECT (QRESYNC): the expunges since the client's MODSEQ, taken
	 * from the MODSEQ record while the open read it, so the record is
	 * read once (imap_vanished_earlier uses and frees them).
	 */
	int vanished_ready;
	int vanished_complete;
	uint64_t vanished_since;
	uint32_t *vanished;
	size_t vanished_count;
	/* FETCH ENVELOPE's cache (imap_envcache.h); NULL until used. */
	struct imap_envcache *envcache;
};

/*
 * Open (SELECT/EXAMINE) the folder at dir.  0 ok; -1 with *error_r.
 * Nothing is sent; the caller sends the SELECT responses.
 */
int imap_mailbox_open(const char *name, const char *dir, int readonly,
	struct imap_mailbox **box_r, char **error_r);
/* The same, also keeping the expunges since modseq (0: none). */
int imap_mailbox_open_since(const char *name, const char *dir,
	int readonly, uint64_t since, struct imap_mailbox **box_r,
	char **error_r);
void imap_mailbox_close(struct imap_mailbox **boxp);

/*
 * Bring the session's view up to date and report changes.  0 ok; -1
 * when the folder vanished or its UIDVALIDITY changed (the session must
 * end with BYE).
 */
int imap_mailbox_sync(struct imap_session *sess, struct imap_mailbox *box);

/*
 * The MODSEQs of a fresh scan r (imap_modseq_reconcile), one per file
 * (caller frees); *highest_r the folder's HIGHESTMODSEQ.  NULL, logged,
 * when the record cannot be had: the caller goes on without MODSEQs.
 */
uint64_t *imap_mailbox_modseqs(const char *dir,
	const struct imap_uidlist_result *r, uint64_t *highest_r);

/* Count \Recent messages. */
size_t imap_mailbox_recent(const struct imap_mailbox *box);

/*
 * Open a message's file for reading (finding it again when another
 * session renamed it); -1 when it is gone.
 */
int imap_msg_open(struct imap_mailbox *box, struct imap_msg *msg);
/* stat() of a message's file (found again as imap_msg_open does). */
int imap_msg_stat(struct imap_mailbox *box, struct imap_msg *msg,
	struct stat *st);
/* Close what the command opened (subdir_fd); the box stays usable. */
void imap_mailbox_release(struct imap_mailbox *box);
/* The path of a message's file (caller frees). */
char *imap_msg_path(const struct imap_mailbox *box,
	const struct imap_msg *msg);
/*
 * Write msg's stored flags and keywords into its file name (keeping
 * letters IMAP does not know).  When another session renamed the file
 * since msg was read, only the bits flags and keywords change against
 * msg's are applied to the file's flags now, so the other session's
 * stay.  0 ok; -1 when the file is gone.
 */
int imap_msg_set_flags(struct imap_mailbox *box, struct imap_msg *msg,
	unsigned int flags, uint32_t keywords);
/*
 * The ":2," letters for flags and keyword bits, after the letters of
 * old_name (may be NULL) we do not manage, in ASCII order as Maildir
 * wants them (caller frees).
 */
char *imap_letters_for(const char *old_name, unsigned int flags,
	uint32_t keywords);
/*
 * Keyword bits for the names in a flag list (the non-backslash atoms),
 * in the folder at dir with table kw; names not in the table are added
 * when create, skipped otherwise.  0 ok; -1 with *error_r.  *added_r
 * says whether the table grew.
 */
int imap_keywords_map(const char *dir, struct imap_keywords *kw,
	const struct imap_arg *list, int create, uint32_t *bits_r,
	int *added_r, char **error_r);
/* Stored flags from a file name's ":2," part. */
unsigned int imap_flags_from_name(const char *name);
/* S= and W= from a name, -1 when absent. */
long long imap_name_size(const char *name, char key);
/* Find the message with this UID; NULL when none. */
struct imap_msg *imap_mailbox_find_uid(struct imap_mailbox *box,
	uint32_t uid);
/*
 * Mark message i gone from the session's view (after EXPUNGE): its UID
 * becomes 0 and it keeps its place (and the others their indexes) until
 * imap_mailbox_compact(), which closes the gaps in one pass, so removing
 * k of n messages costs n, not k * n.
 */
void imap_mailbox_drop(struct imap_mailbox *box, size_t i);
void imap_mailbox_compact(struct imap_mailbox *box);

#endif

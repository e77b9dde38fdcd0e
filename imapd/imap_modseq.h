/*
 * imap_modseq: persistent modification sequences of a Maildir folder
 * (CONDSTORE and QRESYNC, RFC 7162).
 *
 * Each folder holds "ispmail-modseq", next to ispmail-uidlist:
 *
 *	ispmail-modseq 1 <highestmodseq> <vanished floor>
 *	<uid> <modseq> <flag letters, "-" for none>
 *	...
 *	X <uid> <modseq>
 *	...
 *
 * The first kind of line records the flag letters (the part of the file
 * name after ":2,") a message had when it got its MODSEQ; an X line an
 * expunged UID with the MODSEQ of its expunge, for VANISHED (EARLIER).
 * Only the last IMAP_MODSEQ_GONE_MAX expunges are kept; the vanished
 * floor is the highest MODSEQ among those forgotten, and a client that
 * resynchronises from below it is sent every UID it knows that is gone.
 *
 * The file is read and replaced whole (rename(2)) under the flock of
 * "ispmail-modseq.lock", waited for through the session's event loop.
 * Changes are found by comparing the folder's files with the record
 * (imap_modseq_reconcile), so whoever made them -- this session, another
 * imapd, lmtpd's deliveries (new UIDs), popd's deletions, a crash between
 * a rename and the record's write -- the next session that looks gives
 * them a MODSEQ above every earlier one (one MODSEQ for all it finds).  A new UID list (a new
 * UIDVALIDITY) starts the record at 0.  A lost or damaged record is
 * rebuilt with every message at a MODSEQ of the current time in
 * microseconds, above anything the folder can have given out since the
 * record was last made (unless it made more than one change a
 * microsecond on average), and with that as the vanished floor: a
 * client then resynchronises everything.
 */
#ifndef ISPMAIL_IMAP_MODSEQ_H
#define ISPMAIL_IMAP_MODSEQ_H

#include <stddef.h>
#include <stdint.h>

#define IMAP_MODSEQ_NAME "ispmail-modseq"
#define IMAP_MODSEQ_GONE_MAX 100000	/* expunged UIDs remembered */

struct imap_modseq;
struct imap_uidlist_file;

/*
 * Lock and read dir's record.  NULL with *error_r (caller frees) when the
 * lock could not be had within 10 seconds or the file cannot be read.
 */
struct imap_modseq *imap_modseq_begin(const char *dir, char **error_r);
/*
 * Start dir's record afresh at MODSEQ 0: for a UID list just made with a
 * new UIDVALIDITY, which voids every MODSEQ a client may hold (they are
 * per UIDVALIDITY), so a new folder counts from 1.  0 or -1 (*error_r).
 */
int imap_modseq_reset(const char *dir, char **error_r);
/* Write the record when it changed, unlock, free; 0 or -1 (*error_r). */
int imap_modseq_end(struct imap_modseq **msp, char **error_r);

/*
 * Bring the record in step with the folder's files (sorted by UID):
 * changed and new messages get new MODSEQs, missing ones become
 * expunged.  modseqs_r[i] (may be NULL) is files[i]'s MODSEQ.
 */
void imap_modseq_reconcile(struct imap_modseq *ms,
	const struct imap_uidlist_file *files, size_t count,
	uint64_t *modseqs_r);
/* The MODSEQ of uid; 0 when the record does not hold it. */
uint64_t imap_modseq_of(const struct imap_modseq *ms, uint32_t uid);
/*
 * uid's file now has name: record its letters at a new MODSEQ, and
 * return that (the old one when the letters are the same).
 */
uint64_t imap_modseq_change(struct imap_modseq *ms, uint32_t uid,
	const char *name);
uint64_t imap_modseq_highest(const struct imap_modseq *ms);
/*
 * The UIDs expunged after since, ascending (caller frees *uids_r).
 * 1 complete; 0 when since is below the vanished floor (the record may
 * have forgotten some: the caller adds every UID it cannot find).
 */
int imap_modseq_vanished(const struct imap_modseq *ms, uint64_t since,
	uint32_t **uids_r, size_t *count_r);

#endif

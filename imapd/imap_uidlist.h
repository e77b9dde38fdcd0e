/*
 * imap_uidlist: stable IMAP UIDs for a Maildir folder.
 *
 * Each folder holds "ispmail-uidlist":
 *
 *	ispmail-uidlist 1 <uidvalidity> <uidnext> <first recent>
 *	<uid> <base name>
 *	...
 *
 * (a list without <first recent> is read as if it were uidnext) with
 * UIDs strictly increasing and below uidnext, and the base name of
 * a message file (its name before ":2,", stable across flag changes and
 * the move from new/ to cur/).  Readers take no lock: the file is only
 * ever replaced whole by rename(2).  A process that finds files the list
 * does not know takes the dot-lock "ispmail-uidlist.lock" (created with
 * O_EXCL, holding "PID HOST"; broken at once when PID is a process of
 * this host that is gone, and when older than IMAP_UIDLIST_LOCK_STALE
 * seconds, so a crashed holder cannot block the folder), lists the folder and reads
 * the list again under it, gives the new files the next UIDs in delivery
 * order, drops entries whose files are gone, and renames a new list into
 * place.  lmtpd needs no lock: it only links files into new/.
 *
 * A damaged list (bad header, UIDs not increasing, a UID at or past
 * uidnext) is rebuilt with a new UIDVALIDITY greater than the old one;
 * a lost or new list gets the current time as UIDVALIDITY, or one more
 * than the last UIDVALIDITY the store gave out (the store's
 * "ispmail-uidvalidity", one decimal number), whichever is greater, so
 * a folder deleted and created again never has its old UIDVALIDITY.
 * UIDs are never reused under one UIDVALIDITY.
 */
#ifndef ISPMAIL_IMAP_UIDLIST_H
#define ISPMAIL_IMAP_UIDLIST_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define IMAP_UIDLIST_NAME "ispmail-uidlist"
/* In the store's root: the last UIDVALIDITY given to a new list. */
#define IMAP_UIDVALIDITY_NAME "ispmail-uidvalidity"

/* One message file with its UID. */
struct imap_uidlist_file {
	char *name;		/* the file name in new/ or cur/ */
	uint32_t uid;
	int in_new;
};

struct imap_uidlist_result {
	struct imap_uidlist_file *files;	/* sorted by UID */
	size_t count;
	uint32_t uidvalidity;
	uint32_t uidnext;
	/*
	 * UIDs from here on are \Recent for the caller: no session has
	 * claimed them (RFC 3501 2.3.2), or this caller just did.
	 */
	uint32_t recent_from;
	int rebuilt;		/* the list was lost or damaged */
};

/*
 * List folder_dir's messages with their UIDs, assigning new ones as
 * needed.  0 ok; -1 with *error_r (caller frees): an I/O error, or the
 * lock could not be had within IMAP_UIDLIST_LOCK_WAIT seconds.
 */
int imap_uidlist_scan(const char *folder_dir, struct imap_uidlist_result *r,
	char **error_r);
/*
 * The same, and when claim, take the \Recent messages for the caller:
 * under the lock, the list's <first recent> becomes uidnext, so exactly
 * one claiming session (a SELECT, not an EXAMINE) has each message as
 * \Recent, whoever gave it its UID (APPEND, COPY, MOVE, a STATUS after
 * a delivery).
 */
int imap_uidlist_scan_claim(const char *folder_dir,
	struct imap_uidlist_result *r, int claim, char **error_r);
void imap_uidlist_result_free(struct imap_uidlist_result *r);

/* Sort r's files by base name instead of by UID. */
void imap_uidlist_sort_by_base(struct imap_uidlist_result *r);
/* The UID of base (a base name) in r sorted by base name; 0: absent. */
uint32_t imap_uidlist_find_base(const struct imap_uidlist_result *r,
	const char *base);

/*
 * The numbers of the UID list and the MODSEQ record, read as sscanf's
 * "%lu" and "%llu" read them (the files have always been read so):
 * blanks, an optional sign, decimal digits (too many give the maximum).
 * The end of the number, or NULL when there are no digits.
 */
const char *imap_scan_ulong(const char *s, unsigned long *v_r);
const char *imap_scan_ullong(const char *s, unsigned long long *v_r);
/* s after its blanks (isspace), as a blank in a sscanf format skips. */
const char *imap_skip_space(const char *s);

/* Open path to read: 1 open (*f_r), 0 missing, -2 error (*error_r). */
int imap_open_existing(const char *path, FILE **f_r, char **error_r);
/* f's text, read whole (NUL-terminated, *len_r bytes); -1 with errno. */
int imap_slurp(FILE *f, char **text_r, size_t *len_r);
/*
 * Replace folder_dir/name whole: write to the stream that begin opens on
 * "name.tmp" (NULL with *error_r), then commit flushes it and renames it
 * into place (0; or -1 with *error_r, the temporary file removed).
 */
FILE *imap_replace_begin(const char *folder_dir, const char *name,
	char **error_r);
int imap_replace_commit(FILE *f, const char *folder_dir, const char *name,
	char **error_r);

/* The length of name's base (before ':'). */
size_t imap_uidlist_base_len(const char *name);

#endif

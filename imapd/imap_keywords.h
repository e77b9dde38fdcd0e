/*
 * imap_keywords: a folder's keyword names (RFC 3501 flags without a
 * backslash), kept as Dovecot keeps them for Maildir: the file
 * "dovecot-keywords" in the folder's Maildir has one "<n> <name>" line
 * per keyword, n from 0 to 25, and a message has keyword n when the
 * letter 'a' + n is among the flags of its file name (":2,Sa").  The
 * same letters thus mean the same keywords to Dovecot and to us.
 *
 * A table holds at most IMAP_KEYWORD_MAX names; a folder that has them
 * all refuses new ones.  Names are compared without regard to case, as
 * IMAP flags are.  A new name is added under an flock() of the folder
 * directory: the file is read again, the name takes the first free
 * number, and the file is replaced by rename(), so two processes adding
 * names at once never give one letter two names, and a reader sees the
 * old or the new file, never half of one.  A damaged line is ignored:
 * its letter stays unnamed, skipped by the next add, which rewrites the
 * file without it.
 */
#ifndef ISPMAIL_IMAP_KEYWORDS_H
#define ISPMAIL_IMAP_KEYWORDS_H

#include <stddef.h>
#include <stdint.h>

#define IMAP_KEYWORD_MAX	26
#define IMAP_KEYWORD_FILE	"dovecot-keywords"
/* The longest name we keep (Dovecot's limit is higher; nobody needs it). */
#define IMAP_KEYWORD_NAME_MAX	128

/* A plain record: names[n] is keyword n's name, NULL when unused. */
struct imap_keywords {
	char *names[IMAP_KEYWORD_MAX];
	int taken[IMAP_KEYWORD_MAX];	/* a line in the file, even bad */
};

/*
 * Load dir's table into kw (replacing what it held).  A missing file is
 * an empty table.  0 ok; -1 with *error_r (caller frees).
 */
int imap_keywords_load(const char *dir, struct imap_keywords *kw,
	char **error_r);
void imap_keywords_clear(struct imap_keywords *kw);
/* Keyword number of name, or -1. */
int imap_keywords_find(const struct imap_keywords *kw, const char *name);
/*
 * The number of name in dir's table, adding it when new; kw is reloaded
 * from the file.  -1 with *error_r when the table is full, name is not
 * a valid keyword, or on an I/O error.
 */
int imap_keywords_add(const char *dir, struct imap_keywords *kw,
	const char *name, char **error_r);
/* 1 when a number is free for a new name. */
int imap_keywords_room(const struct imap_keywords *kw);
/* Is name a keyword we can store (an atom, no backslash, not too long)? */
int imap_keyword_valid(const char *name);
/* The keyword bits (1 << n) of a Maildir file name's letters. */
uint32_t imap_keywords_from_name(const char *name);
/*
 * A Maildir file name's letters: what follows its first ":2,", NULL when
 * it has none (strstr's answer without strstr's set-up per call, which
 * showed in a SELECT of 10,000 names).
 */
const char *imap_name_info(const char *name);

#endif

/*
 * ctl_move: ispmailctl mailbox move, split by concern:
 *
 *	ctl_move_imap.c		the IMAP pull client (the source's imapd)
 *	ctl_move_store.c	the destination Maildir++ writer (messages,
 *				keywords, ispmail-uidlist, ispmail-modseq)
 *	ctl_move_state.c	the resumable state file and the progress
 *	ctl_move.c		the passes, the folder list; the command
 *	ctl_move_final.c	the moving state and mark, the guard, the
 *				final pass and verification, the switch
 *
 * The design is in ispmailctl(8), MOVING A MAILBOX.
 */
#ifndef ISPMAIL_CTL_MOVE_H
#define ISPMAIL_CTL_MOVE_H

#include <stddef.h>
#include <stdint.h>

struct buf;

/* ---- the IMAP client (ctl_move_imap.c) ---------------------------- */

struct move_imap;

enum move_tok_type {
	MOVE_TOK_ATOM,		/* also numbers and NIL */
	MOVE_TOK_STRING,	/* quoted (unescaped) or literal */
	MOVE_TOK_LP,		/* ( */
	MOVE_TOK_RP,		/* ) */
};

struct move_tok {
	enum move_tok_type type;
	const char *s;		/* into the response's own storage */
	size_t len;
};

/* One untagged response, its literals read, split into tokens. */
struct move_resp {
	const char *line;	/* the first line as read (no literal) */
	struct move_tok *toks;
	size_t count;
};

/*
 * Connect to one entry of a mail host (a name or address, [v6] allowed),
 * on mailbox_move_imap_port, read the greeting, start TLS as
 * mailbox_move_tls says.  NULL with *error_r (caller frees).
 */
struct move_imap *move_imap_connect(const char *host, char **error_r);
void move_imap_free(struct move_imap **cp);
/* AUTHENTICATE PLAIN with authzid: 0, or -1 with *error_r. */
int move_imap_login(struct move_imap *c, const char *authzid,
	const char *admin, const char *password, char **error_r);
/* Did the server announce capability name (after login: the latest)? */
int move_imap_has_cap(const struct move_imap *c, const char *name);

/*
 * Run one command (fmt: the command after the tag; strings already
 * quoted by the caller), calling fn for every untagged response (may be
 * NULL).  fn returns 0 to go on, -1 to fail the command (*error_r set by
 * it).  1 tagged OK, 0 tagged NO (*error_r: the server's text), -1 BAD,
 * I/O error, timeout or a too-long line (*error_r).
 */
typedef int move_imap_fn(void *ctx, const struct move_resp *r,
	char **error_r);
int move_imap_cmd(struct move_imap *c, move_imap_fn *fn, void *ctx,
	char **error_r, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* Append name as an IMAP quoted string to out (0, or -1 on a bad byte). */
int move_imap_quote(struct buf *out, const char *name);

/* A token as a number; -1 when it is not one (or out of range). */
long long move_tok_number(const struct move_tok *t);
/* Is t the atom (or string) word, case-insensitively? */
int move_tok_is(const struct move_tok *t, const char *word);

/* ---- the destination Maildir++ (ctl_move_store.c) ----------------- */

/* One message of a folder at the destination, as the source has it. */
struct move_msg {
	uint32_t uid;
	uint64_t modseq;
	char *name;		/* the file's name in cur/ (with ":2,") */
	unsigned char sha[32];	/* SHA-256 of the source's bytes */
	long long size;		/* the source's RFC822.SIZE */
	int verified;		/* the file's SHA-256 was checked (files
				   never change but for their flags) */
};

struct move_folder {
	char *name;		/* the IMAP name (modified UTF-7); INBOX */
	char *dir;		/* its Maildir at the destination */
	uint32_t uidvalidity, uidnext;
	uint64_t highestmodseq;	/* the source's, last synchronised */
	uint32_t last_uid;	/* the highest UID copied */
	struct move_msg *msgs;	/* sorted by UID */
	size_t count, alloc;
	size_t source_exists;	/* the source's message count (SELECT) */
	int done;		/* synchronised in this run */
	/*
	 * The source at the last whole verification (move_verify_folder):
	 * its UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ, when v_ok.  unchanged:
	 * this pass's SELECT answered the same and the pass added or
	 * removed nothing here (ctl_move_final.c).
	 */
	uint32_t v_uidvalidity, v_uidnext;
	uint64_t v_hms;
	int v_ok;
	int unchanged;
};

/*
 * The Maildir of IMAP name under root (INBOX is root itself); NULL when
 * the name is not one imapd would make (checked as imapd checks it).
 */
char *move_folder_dir(const char *root, const char *name);
/* Create folder dir (cur/ new/ tmp/, maildirfolder): 0 or -1. */
int move_folder_create(const char *dir, int is_inbox, char **error_r);
/* Find uid in f (sorted): its index, or -1. */
long move_folder_find(const struct move_folder *f, uint32_t uid);
/* Insert a message keeping f sorted (uid not in f yet). */
struct move_msg *move_folder_insert(struct move_folder *f, uint32_t uid);
/* Drop message i (its file is the caller's business). */
void move_folder_remove(struct move_folder *f, size_t i);
void move_folder_clear(struct move_folder *f);

/*
 * The Maildir letters for an IMAP flag list (tokens between the
 * parentheses), keywords mapped through dir's dovecot-keywords (new names
 * added).  letters_r must hold 64 bytes.  0, or -1 with *error_r.
 */
int move_flags_letters(const char *dir, const struct move_tok *toks,
	size_t count, char *letters_r, char **error_r);

/*
 * Write a message (CRLF source bytes) into dir's tmp/; the caller
 * renames it into cur/ with move_msg_publish and makes a batch durable
 * with move_sync_fs before a UID list names it.  The
 * file's name without ":2," is *base_r (caller frees).  0 or -1.
 */
int move_msg_write(const char *dir, const char *data, size_t len,
	int64_t internaldate, char **base_r, char **error_r);
/* Rename tmp/base to cur/base:2,letters; *name_r the new name. */
int move_msg_publish(const char *dir, const char *base, const char *letters,
	char **name_r, char **error_r);
/* Give message name new letters (a rename in cur/); *name_r the new name. */
int move_msg_reflag(const char *dir, const char *name, const char *letters,
	char **name_r, char **error_r);
/*
 * Make everything written so far durable: one syncfs(2) of dir's file
 * system instead of an fsync per message file.  0 or -1.
 */
int move_sync_fs(const char *dir, char **error_r);
/* Remove cur/ files of dir that f does not hold, and tmp/ leftovers. */
int move_folder_prune(const struct move_folder *f, char **error_r);

/*
 * Write ispmail-uidlist and ispmail-modseq of f (renamed into place),
 * and raise root's ispmail-uidvalidity to f's UIDVALIDITY.
 */
int move_folder_commit(const char *root, const struct move_folder *f,
	char **error_r);
/* SHA-256 of message i's file, read back with LF made CRLF again. */
int move_msg_hash_disk(const struct move_folder *f, size_t i,
	unsigned char sha_r[32], char **error_r);
/* SHA-256 of len bytes. */
void move_sha256(const void *data, size_t len, unsigned char sha_r[32]);

/* ---- state file and progress (ctl_move_state.c) ------------------- */

#define MOVE_STATE_NAME "ispmail-move"

/*
 * Write root/ispmail-move for address: one line per folder (its name,
 * UIDVALIDITY, HIGHESTMODSEQ, last UID) and one per message (UID,
 * MODSEQ, SHA-256, size, file name), fsynced and renamed into place.
 */
int move_state_save(const char *root, const char *address,
	struct move_folder *folders, size_t count, char **error_r);
/*
 * Read it back: 1 read (*folders_r, *count_r), 0 none, -1 damaged or
 * for another address (*error_r).
 */
int move_state_load(const char *root, const char *address,
	struct move_folder **folders_r, size_t *count_r, char **error_r);
void move_state_remove(const char *root);

struct move_progress;
/* A bar on a terminal, log lines otherwise. */
struct move_progress *move_progress_new(const char *address);
/* Start counting a pass: messages to copy (grown per folder). */
void move_progress_total(struct move_progress *p, long long messages);
void move_progress_grow(struct move_progress *p, long long messages);
void move_progress_add(struct move_progress *p, long long bytes);
/* A phase ("pass 2", "final pass", "verify"): always a line. */
void move_progress_phase(struct move_progress *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void move_progress_free(struct move_progress **pp);

#endif

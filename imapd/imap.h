/*
 * imap: what the modules of imapd share (internal to imapd).
 *
 * One process serves one connection at a time (ARCHITECTURE.md).  A
 * session owns everything made for its connection; imap_session_free()
 * releases it all, so a reused process does not grow.  The selected
 * mailbox keeps per-message state compact (struct imap_msg): a UID, flag
 * bits and the file name, never message contents.
 */
#ifndef ISPMAIL_IMAP_H
#define ISPMAIL_IMAP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "imap_parse.h"
#include "mailbox_state.h"
#include "service.h"

struct buf;
struct stream;
struct tls_conn;
struct deflate_conn;
struct imap_mailbox;
struct route;
struct imap_seqset;

enum imap_state {
	IMAP_STATE_NOT_AUTH = 0,
	IMAP_STATE_AUTH,
	IMAP_STATE_SELECTED,
	IMAP_STATE_LOGOUT,
};

/* System flags as bits (the Maildir letter in parentheses). */
#define IMAP_FLAG_SEEN		0x01	/* S */
#define IMAP_FLAG_ANSWERED	0x02	/* R */
#define IMAP_FLAG_FLAGGED	0x04	/* F */
#define IMAP_FLAG_DELETED	0x08	/* T */
#define IMAP_FLAG_DRAFT		0x10	/* D */
#define IMAP_FLAG_RECENT	0x20	/* per session, never on disk */
#define IMAP_FLAGS_STORED	0x1f

struct imap_session {
	struct stream *s;
	struct tls_conn *tls;
	struct deflate_conn *compress;	/* COMPRESS=DEFLATE, above tls */
	const struct service_peer *peer;	/* &client */
	/*
	 * The connection's peer, or whom a PROXY header or ID
	 * x-originating-ip named.
	 */
	struct service_peer client;
	/* The connection's own peer: a proxy's address (proxy_login.h). */
	struct service_peer conn;
	int proxy_trusted;		/* ID x-originating-* believed */
	int admin;			/* an administrator's login
					   (imap_admin.c): no state checks,
					   XMOVING */
	int proxy_login;		/* logged in by a proxy's token */
	enum imap_state state;
	char *user;			/* the login (canonical address) */
	char *root;			/* the Maildir++ store */
	long long quota;		/* bytes, 0 = none (routing directory) */
	struct imap_mailbox *box;	/* SELECTED */
	struct buf *line;		/* the last line read */
	struct buf *cmd;		/* the command being read */
	const char *tag;		/* the current command's tag */
	struct buf *reply;		/* its tagged reply, sent after the
					   untagged updates */
	int uid_cmd;			/* the command came as UID ... */
	int condstore;			/* CONDSTORE enabled (RFC 7162 3.1) */
	int qresync;			/* QRESYNC enabled: VANISHED, not
					   EXPUNGE (RFC 7162 3.2.10) */
	int utf8_accept;		/* UTF8=ACCEPT enabled (RFC 6855) */
	/*
	 * IMAP4rev2 enabled (RFC 9051): no \Recent, SEARCH answers
	 * ESEARCH, SELECT sends LIST and no UNSEEN/RECENT, names in UTF-8.
	 */
	int rev2;
	/* SEARCH RETURN (SAVE): "$" as UID ranges; NULL = empty (RFC 5182) */
	struct imap_seqset *searchres;
	struct mailbox_state_check state_check;	/* issue 16 */
	long long bad_count;
	long long junk_count;		/* commands before login */
	long long auth_failures;
	/* APPEND's message literal, left unread on the stream. */
	long long append_size;		/* -1: none */
	int append_sync;		/* IMAP_LITERAL_* bits (imap_parse.h) */
};

/* --- imapd.c: replies ---------------------------------------------------- */

/* Queue raw text (a whole or partial response line). */
void imap_printf(struct imap_session *sess, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void imap_write(struct imap_session *sess, const void *data, size_t len);
/*
 * The tagged reply to the current command: "tag OK text".  It is held
 * back until the command's untagged updates are out (imap_reply_flush).
 */
void imap_tagged(struct imap_session *sess, const char *status,
	const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/*
 * The same with a response code of any length (COPYUID of a large
 * COPY): "tag status <code>text", code already bracketed and capped by
 * its maker.
 */
void imap_tagged_code(struct imap_session *sess, const char *status,
	const struct buf *code, const char *text);
/* Queue the held tagged reply now (STARTTLS needs it before TLS). */
void imap_reply_flush(struct imap_session *sess);
/* A string as an IMAP quoted string, or a literal when it must be. */
void imap_write_string(struct imap_session *sess, const char *text,
	size_t len);
/* The same, NIL for NULL. */
void imap_write_nstring(struct imap_session *sess, const char *text);
/*
 * A flags list "(\Seen \Deleted $Junk)" of flag bits and keyword bits
 * (named by the selected mailbox's table).
 */
void imap_write_flags(struct imap_session *sess, unsigned int flags,
	uint32_t keywords);
/* "* FLAGS (...)" and "* OK [PERMANENTFLAGS (...)]" of the selected box. */
void imap_write_flag_lists(struct imap_session *sess);
struct imap_msg;
/* " MODSEQ (n)" inside a FETCH response once CONDSTORE is enabled. */
void imap_write_modseq(struct imap_session *sess, const struct imap_msg *msg);
/* "* seq FETCH (UID u FLAGS (...) [MODSEQ (m)])": a flag change. */
void imap_write_flags_fetch(struct imap_session *sess, size_t seq,
	const struct imap_msg *msg);
/* Message seq (UID uid) is gone: "* seq EXPUNGE", or with QRESYNC
 * "* VANISHED uid". */
void imap_expunged_reply(struct imap_session *sess, size_t seq, uint32_t uid);

/*
 * Let the other sessions of the process run for a moment, every
 * IMAP_YIELD_EVERY messages of a command that touches the disk per
 * message (COPY, MOVE, STORE, EXPUNGE, SEARCH), so a large one does not
 * stall them; nothing happens with one session per process.
 */
#define IMAP_YIELD_EVERY 64
void imap_yield(size_t done);
/* Leave APPEND's message literal behind when a command failed early. */
void imap_append_discard(struct imap_session *sess);
/* The capability list for this session's state (no CRLF). */
void imap_write_capability(struct imap_session *sess);

/*
 * Logins (imap_cmd.c): a refused one is logged, delayed by
 * auth_failure_delay and counted toward auth_failure_limit; an accepted
 * one enters the authenticated state for mb's store and answers the
 * tagged OK (or NO when the store path is unusable).
 */
struct route_mailbox;
/*
 * While a login's directory lookups run (on lookup threads with the
 * LDAP backend), what they log names the session: the log context
 * "login ADDR[PORT]" (on), none again after them (off).
 */
void imap_login_log_context(struct imap_session *sess, int on);
void imap_login_refused(struct imap_session *sess, const char *user,
	const char *method, const char *reason);
void imap_login_enter(struct imap_session *sess,
	const struct route_mailbox *mb, const char *method);
/*
 * Administrator logins (imap_admin.c): SASL PLAIN with authzid (the
 * mailbox) different from authcid (an imap_admin_logins entry), from
 * imap_admin_networks only.  imap_admin_init parses the parameters
 * (pre_init): 0 ok, -1 with *error_r (caller frees).
 */
int imap_admin_init(char **error_r);
void imap_admin_login(struct imap_session *sess, const char *authzid,
	const char *authcid, const char *password);
/*
 * May the peer log user in as the proxy tier with token (proxy_login.h;
 * imap_admin.c)?  1 yes; 0 no, the refusal answered.
 */
int imap_proxy_allowed(struct imap_session *sess, const char *user,
	const char *token);
int imapd_tls_available(void);
int imapd_start_tls(struct imap_session *sess, char **error_r);
extern struct route *imapd_route;

/* --- imap_cmd.c: commands ----------------------------------------------- */

/* A command handler gets the arguments after the verb. */
typedef void imap_handler(struct imap_session *sess, struct imap_arg *args,
	size_t count);

/* Sync the selected mailbox; on a lost mailbox end with BYE (-1). */
int imap_sync(struct imap_session *sess);
/* imap_idle.c */
imap_handler imap_cmd_idle;
/* imap_admin.c: XMOVING SET seconds | CLEAR, the move's mark. */
imap_handler imap_cmd_xmoving;

/*
 * A logged-in session looks up its mailbox's state at most every
 * mailbox_state_check_interval (or now with force): when it is being
 * moved the session ends with "* BYE [UNAVAILABLE]" and -1.
 */
int imap_state_check(struct imap_session *sess, int force);
/*
 * Wait up to timeout_ms for the next command, looking at the mailbox
 * state meanwhile; -1 when the session ended, else 0 with the time left
 * in *left_ms.
 */
int imap_wait_command(struct imap_session *sess, int timeout_ms,
	int *left_ms);
/* Run one parsed command (args[0] tag, args[1] verb). */
void imap_cmd_dispatch(struct imap_session *sess, struct imap_arg *args,
	size_t count);
/* "\Seen" -> IMAP_FLAG_SEEN; 0 for an unknown flag. */
unsigned int imap_flag_from_name(const char *name);
/*
 * Parse a flag list (or a single flag) into system flag bits; keywords
 * (atoms without a backslash) are checked, not mapped (see
 * imap_keywords_map).  -1 for an unknown \flag or a bad keyword.
 */
int imap_parse_flags(const struct imap_arg *arg, unsigned int *flags_r);

/* imap_folder.c */
imap_handler imap_cmd_list, imap_cmd_lsub, imap_cmd_create, imap_cmd_delete,
	imap_cmd_rename, imap_cmd_subscribe, imap_cmd_unsubscribe,
	imap_cmd_status;
/*
 * The Maildir of a mailbox name (INBOX is the store root); NULL with a
 * static *error_r for a name we refuse.
 */
char *imap_folder_dir(struct imap_session *sess, const char *name,
	const char **error_r);
/* Does the folder exist? */
int imap_folder_exists(const char *dir);
/*
 * The folder an APPEND, COPY or MOVE writes into: its directory, or
 * NULL after a tagged NO (a bad name, or [TRYCREATE] when missing).
 */
char *imap_target_folder(struct imap_session *sess, const char *name);
/* Create a folder's Maildir (and missing parents); 0 or -1. */
int imap_folder_make(struct imap_session *sess, const char *name,
	char **error_r);
/* STATUS items "(MESSAGES UNSEEN ...)": 0 known, -1 not. */
int imap_status_items_check(struct imap_session *sess,
	const struct imap_arg *items);
/*
 * "* STATUS name (...)" for checked items; 0, -1 no such mailbox, -2 it
 * cannot be read (logged).  LIST-STATUS (RFC 5819) uses it too.
 */
int imap_status_write(struct imap_session *sess, const char *name,
	const struct imap_arg *items);
/* RFC 6154 attribute of a name, or NULL. */
const char *imap_folder_special_use(const char *name);

/* imap_fetch.c */
imap_handler imap_cmd_fetch;
/* imap_msgs.c */
imap_handler imap_cmd_store, imap_cmd_copy, imap_cmd_move,
	imap_cmd_expunge;
/*
 * The UIDs the folder at dir gave to these base names (0 for one it
 * does not know); returns its UIDVALIDITY, 0 when unknown.
 */
uint32_t imap_target_uids(const char *dir, char **bases, size_t count,
	uint32_t *uids, char **error_r);
/* imap_append.c */
imap_handler imap_cmd_append;
/* Remove \Deleted messages (those in uids when not NULL); 0 or -1. */
int imap_expunge(struct imap_session *sess, const struct imap_seqset *uids,
	int report);
/*
 * "1:3,7" for an ascending list of UIDs (runs become ranges, RFC 4315
 * uid-set); -1 when out's cap is reached.
 */
int imap_uid_ranges(struct buf *out, const uint32_t *uids, size_t count);
/* imap_condstore.c */
/* SELECT's QRESYNC parameter, parsed before the mailbox is opened. */
struct imap_qresync {
	int present;
	uint32_t uidvalidity;
	uint64_t modseq;
	char *known_uids;		/* NULL: every UID */
};
/*
 * SELECT/EXAMINE parameters "(CONDSTORE)" or "(QRESYNC (uidvalidity
 * modseq [known-uids [seq-match]]))".  0 ok; -1 after a tagged BAD.
 */
int imap_select_params(struct imap_session *sess, const struct imap_arg *arg,
	struct imap_qresync *qr);
/*
 * After SELECT's responses: HIGHESTMODSEQ, and for QRESYNC with the
 * right UIDVALIDITY, VANISHED (EARLIER) and the FETCHes of what changed
 * since the client's modseq.
 */
void imap_select_condstore(struct imap_session *sess,
	const struct imap_qresync *qr);
/*
 * "* VANISHED (EARLIER) ..." for a resync from modseq: the expunges the
 * record remembers, those in known (NULL: all); below its floor every
 * UID under UIDNEXT that the folder no longer has (RFC 7162 3.2.5.1
 * lets a server send UIDs the client never saw).
 */
void imap_vanished_earlier(struct imap_session *sess, uint64_t modseq,
	const struct imap_seqset *known);
/* ENABLE of CONDSTORE/QRESYNC: 1 known (and enabled), 0 not ours. */
int imap_enable_condstore(struct imap_session *sess, const char *name,
	struct buf *enabled);
/* imap_search.c */
imap_handler imap_cmd_search;
/* SEARCH's CHARSET (UTF-8, US-ASCII); 0 ok, -1 after a tagged NO. */
int imap_search_charset(struct imap_session *sess, const struct imap_arg *arg);
/*
 * Run search criteria (args after any CHARSET): the box indexes of the
 * matching messages, ascending, in *idx_r (caller frees) and *n_r; and
 * with a MODSEQ key the highest MODSEQ matched in *modseq_r (else 0).
 * 0 ok; -1 after a tagged BAD.
 */
int imap_search_run(struct imap_session *sess, struct imap_arg *args,
	size_t count, uint32_t **idx_r, size_t *n_r, uint64_t *modseq_r);
/* "RETURN (MIN MAX ALL COUNT)" (RFC 4731 3.1; () means ALL) as bits. */
#define IMAP_ESEARCH_MIN	0x01
#define IMAP_ESEARCH_MAX	0x02
#define IMAP_ESEARCH_ALL	0x04
#define IMAP_ESEARCH_COUNT	0x08
#define IMAP_ESEARCH_SAVE	0x10	/* SEARCHRES (RFC 5182) */
int imap_search_return_options(const struct imap_arg *arg,
	unsigned int *opts_r);
/* imap_searchres.c: the saved search result "$" (RFC 5182) */
/* Is a sequence-set argument "$"? */
int imap_searchres_is(const char *text);
/* Empty "$" (SELECT, EXAMINE, CLOSE, UNSELECT, a failed SAVE). */
void imap_searchres_clear(struct imap_session *sess);
/*
 * Save n hits (ascending message indexes) as "$", reduced to MIN/MAX
 * when opts (IMAP_ESEARCH_*) ask only for those (RFC 5182 2.1).
 */
void imap_searchres_save(struct imap_session *sess, const uint32_t *idx,
	size_t n, unsigned int opts);
/* A copy of "$" as a resolved UID set (count 0 when empty); 0. */
int imap_searchres_copy(const struct imap_session *sess,
	struct imap_seqset *set_r);
/* A UID set argument, "$" included; 0 ok, -1 malformed. */
int imap_uidset_parse(const struct imap_session *sess, const char *text,
	struct imap_seqset *set_r);
/* imap_binary.c: FETCH BINARY (RFC 3516, RFC 9051 6.4.5) */
struct mime_message;
/* A part number "1.2.3" ("" for none); 0 ok, -1 not one. */
int imap_binary_parse(const char *spec, size_t len, uint32_t **parts_r,
	size_t *count_r);
/*
 * Append part's content with its transfer encoding undone to out (its
 * cap set here): 1 ok, 0 no such part, -1 unknown encoding, -2 failed.
 */
int imap_binary_fetch(const struct mime_message *m, const uint32_t *parts,
	size_t count, struct buf *out);
/* imap_sort.c, imap_thread.c (RFC 5256, 5267) */
imap_handler imap_cmd_sort, imap_cmd_thread;

/*
 * Resolve a sequence set argument (sequence numbers, or UIDs for UID
 * commands) to a set of message indexes: out[i] is 1 for each selected
 * message.  0 ok; -1 after a tagged BAD.
 */
int imap_select_messages(struct imap_session *sess, const char *set,
	int uid, unsigned char **selected_r);

/* imap_utf7.c: mailbox names in UTF-8 (UTF8=ACCEPT) */
#define IMAP_MAILBOX_UTF8_CAP 4096
/* UTF-8 to modified UTF-7 in out; 0 ok, -1 not valid UTF-8 (or a
 * control character). */
int imap_utf8_to_mutf7(const char *in, struct buf *out);
/* Modified UTF-7 to UTF-8 in out; 0 ok, -1 not valid. */
int imap_mutf7_to_utf8(const char *in, struct buf *out);
/* A mailbox name (as on disk) in a response: UTF-8 once enabled. */
void imap_write_mailbox(struct imap_session *sess, const char *name);
/*
 * Once UTF8=ACCEPT is enabled, the mailbox-name arguments of verb are
 * turned into modified UTF-7 in place.  0 ok; -1 after a tagged BAD.
 */
int imap_utf8_args(struct imap_session *sess, const char *verb,
	struct imap_arg *args, size_t count);

/* --- helpers shared by the command modules ------------------------------ */

/* A mod-sequence-value (1 to 2^63 - 1, RFC 7162 7); 0 ok, -1 not one. */
int imap_parse_modseq(const struct imap_arg *arg, uint64_t *modseq_r);
/* An argument as a mailbox name (astring); NULL when it is not one. */
const char *imap_arg_astring(const struct imap_arg *arg);

#endif

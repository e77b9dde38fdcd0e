/*
 * qfile: the queue file (ispmail-queue(5)), written by smtpd and qmgr,
 * read by qmgr, the delivery agents and ispmailctl.
 *
 * A queue file is text records, one a line, followed by the message:
 *
 *	ISPMAIL-QUEUE 1			magic and version
 *	S N				message state byte (in place)
 *	E\tname=value\t...		the envelope
 *	R P\tn=0\taddr=...\t...		a recipient; byte 2 is its state
 *	M\tsize=0000000012345		message size, fixed width
 *	<size bytes: the message as received, CRLF line ends>
 *	Z\tcrc=1a2b3c4d			end marker: CRC-32 of the message
 *	R P\tn=3\tparent=0\t...		records qmgr appends later:
 *	L\tn=0\tcode=451\t...		expansions and delivery results
 *	F\tn=0\taction=tag\tfolder=Junk	smtpd's content filter decision
 *	F\thold=reason			why the message sits in hold/
 *	A\tn=-1\tcode=250\t...		archived (qmgr, before delivery)
 *
 * H records (H\ttext=<escaped header field>), written by smtpd right
 * after the end marker, carry header fields known only when the data
 * has ended (Authentication-Results, X-Spam-*, DKIM-Signature): every
 * reader that sends or copies the message puts them above it, in
 * order, so the message bytes and their CRC never change.
 *
 * Values are escaped as in the attribute protocol (attr.h), so a TAB
 * never occurs inside one.  State bytes are changed in place with one
 * pwrite(2) (qfile_set_state), so marking a recipient done never
 * rewrites the file; appended records are written at the end in one
 * go and truncated back when the write fails (disk full), and a last
 * line without its newline (a crash mid-append) is ignored by readers
 * and cut off by the next append.  A file whose magic, records, size, end marker or CRC do not
 * check out is damaged: readers refuse it with a reason and qmgr moves
 * it to corrupt/, so a message is never delivered half.
 */
#ifndef ISPMAIL_QFILE_H
#define ISPMAIL_QFILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct buf;

/* Queue directories, below queue_directory. */
#define QFILE_INCOMING "incoming"
#define QFILE_ACTIVE "active"
#define QFILE_DEFERRED "deferred"
#define QFILE_HOLD "hold"
#define QFILE_CORRUPT "corrupt"
#define QFILE_QUARANTINE "quarantine"	/* smtpd's content filter */
#define QFILE_TMP "tmp"

/* The longest record line a reader accepts (and an append looks back). */
#define QFILE_RECORD_MAX (256 * 1024)

/* Header fields to put above the message: at most this many, each at
 * most this long. */
#define QFILE_PREPEND_MAX 64
#define QFILE_PREPEND_FIELD_MAX 8192

/* Message states (the S record). */
#define QFILE_MSG_NEW 'N'		/* no delay notice sent yet */
#define QFILE_MSG_WARNED 'W'		/* delay notice sent */

/* Recipient states (byte 2 of an R record). */
#define QFILE_RCPT_PENDING 'P'		/* to be delivered */
#define QFILE_RCPT_DONE 'D'		/* delivered */
#define QFILE_RCPT_FAILED 'F'		/* failed for good; bounce due */
#define QFILE_RCPT_BOUNCED 'B'		/* failed and bounce sent */
#define QFILE_RCPT_EXPANDED 'X'		/* replaced by its expansion */

/* DSN NOTIFY bits (RFC 3461); 0 means not given (default). */
#define QFILE_NOTIFY_NEVER 1
#define QFILE_NOTIFY_SUCCESS 2
#define QFILE_NOTIFY_FAILURE 4
#define QFILE_NOTIFY_DELAY 8

/* DSN RET (RFC 3461). */
enum qfile_ret { QFILE_RET_DEFAULT = 0, QFILE_RET_FULL, QFILE_RET_HDRS };

struct qfile_rcpt {
	int n;			/* index, unique in the file */
	int parent;		/* the recipient this expands, or -1 */
	char state;		/* QFILE_RCPT_* */
	off_t state_offset;	/* where the state byte is in the file */
	char *address;		/* final or original recipient address */
	char *orcpt;		/* DSN ORCPT ("rfc822;addr"), or NULL */
	int notify;		/* QFILE_NOTIFY_* bits */
	/* The latest delivery result (from L records), or NULLs. */
	char *last_code;	/* "451" */
	char *last_dsn;		/* "4.4.1" */
	char *last_text;
	long long last_time;
	int attempts;
	/* smtpd's content filter decision (F record), or NULLs. */
	char *filter_action;	/* "tag", "quarantine", "discard" */
	char *folder;		/* deliver into this folder (XFOLDER) */
};

struct qfile {
	char *id;
	char state;		/* QFILE_MSG_* */
	off_t state_offset;
	long long arrival;	/* unix time */
	char *sender;		/* "" for the null sender */
	char *client_addr;
	char *client_helo;
	char *protocol;		/* SMTP, ESMTP, ESMTPS, ESMTPSA */
	char *auth_user;	/* or NULL */
	char *envid;		/* DSN ENVID, or NULL */
	enum qfile_ret ret;
	int body_8bit;		/* BODY=8BITMIME or BINARYMIME given */
	int smtputf8;
	char *origin;		/* NULL (mail), "dsn", "postmaster" */
	int archived;		/* an A record: in the archive already */
	struct qfile_rcpt *rcpts;
	size_t rcpt_count;
	char *hold_reason;	/* F record: why it was put on hold, or NULL */
	char **prepend;		/* header fields above the message (H) */
	size_t prepend_count;
	long long prepend_size;	/* their bytes with CRLFs */
	off_t message_offset;	/* where the message starts */
	long long message_size;
	off_t file_size;
};

/* Writing a new queue file (smtpd, and qmgr for bounces). */
struct qfile_writer;

/*
 * Start a queue file for queue_dir and choose the queue id (unique
 * across processes and restarts: time, microseconds and the pid).  The
 * file itself (in queue_dir/tmp) is created when the write buffer
 * (64 KiB) first goes out: at the commit, qfile_writer_flush, or a
 * write past it; so a failure to create it shows there.  Never NULL
 * (error_r is kept for callers; unused).
 */
struct qfile_writer *qfile_writer_new(const char *queue_dir,
	char **error_r);
const char *qfile_writer_id(const struct qfile_writer *w);
/*
 * Write the magic, state, envelope and recipient records from env (its
 * id, rcpts' state, offsets and results are ignored), and the M record.
 */
int qfile_writer_envelope(struct qfile_writer *w, const struct qfile *env,
	char **error_r);
/* Append message bytes (buffered). */
int qfile_writer_message(struct qfile_writer *w, const void *data,
	size_t len, char **error_r);
/*
 * Write the size and end marker, fsync, link into queue_dir/subdir
 * (incoming, or hold), remove the temporary name and fsync the target
 * directory; after 0 the message is safe.  -1 with *error_r: nothing
 * was queued.  Frees w either way.
 */
int qfile_writer_commit(struct qfile_writer **wp, const char *subdir,
	char **error_r);
/*
 * For smtpd's direct delivery (smtpd(8)), before the commit: write out
 * what is buffered, so the descriptor can be read (pread) from the
 * message offset for the message size; mark the i-th envelope recipient
 * (0-based, in the order given) delivered in place.  0 or -1 with
 * *error_r.
 */
int qfile_writer_flush(struct qfile_writer *w, char **error_r);
int qfile_writer_fd(const struct qfile_writer *w);
/*
 * Before any flush: while the file is not created yet (all of it is in
 * the buffer), the message's qfile_writer_message_size bytes; else
 * NULL (read them from the descriptor after qfile_writer_flush).  Valid
 * until the next write.  qfile_writer_rcpt_done works in the buffer then.
 */
const char *qfile_writer_buffered_message(const struct qfile_writer *w);
off_t qfile_writer_message_offset(const struct qfile_writer *w);
long long qfile_writer_message_size(const struct qfile_writer *w);
int qfile_writer_rcpt_done(struct qfile_writer *w, size_t i, char **error_r);
/*
 * Queue records (complete "F\t...\n" lines, built with qfile_record_*)
 * that the commit writes after the end marker, so the file never holds
 * the message without them.  0 or -1 with *error_r (too long).
 */
int qfile_writer_trailer(struct qfile_writer *w, const struct buf *rec,
	char **error_r);
/*
 * Queue a header field to be delivered above the message, as an H
 * record after the end marker; the first one queued ends up topmost.
 * field: one complete field "Name: value", continuation lines joined
 * by CRLF then a space or tab, no trailing CRLF (see
 * qfile_header_field_valid).  -1 with *error_r when malformed or past
 * QFILE_PREPEND_MAX.
 */
int qfile_writer_prepend_header(struct qfile_writer *w, const char *field,
	char **error_r);
/* The fields queued so far (smtpd's direct delivery sends them). */
char *const *qfile_writer_prepended(const struct qfile_writer *w,
	size_t *count_r);
/*
 * 1 when field is a header field fit to go above a message: a name of
 * printable ASCII without ':' (not starting with '.', so it never needs
 * dot-stuffing), ':', then no control byte but TAB and CRLF followed by
 * a space or tab; at most QFILE_PREPEND_FIELD_MAX bytes.
 */
int qfile_header_field_valid(const char *field);

/* Abandon: remove the temporary file; NULL allowed. */
void qfile_writer_abort(struct qfile_writer **wp);

/*
 * Read and check a queue file.  0 ok; -1 with *error_r: damaged
 * (*damaged_r 1: move it to corrupt/) or not readable (*damaged_r 0,
 * e.g. it vanished: errno ENOENT).
 */
int qfile_read(const char *path, struct qfile **qf_r, int *damaged_r,
	char **error_r);
void qfile_free(struct qfile **qfp);
/* The recipient with index n, or NULL. */
struct qfile_rcpt *qfile_rcpt_find(struct qfile *qf, int n);

/* Change one state byte in place (a recipient's or the message's). */
int qfile_set_state(int fd, off_t offset, char state, char **error_r);
/*
 * Append records (complete lines in rec) at the end, and fsync when
 * sync is set.  A torn last line is cut off first; on -1 the file is
 * truncated back to its old length, so it never holds half a record
 * (fd opened O_RDWR, not O_APPEND; one writer: qmgr).  Expansions must be durable before their parent is marked;
 * result records are history and need not be.  Build them with qfile_record_*.
 */
int qfile_append(int fd, const struct buf *rec, int sync, char **error_r);
/* Build an appended recipient record ("R P\t...\n") onto out. */
int qfile_record_rcpt(struct buf *out, const struct qfile_rcpt *r);
/*
 * Build a content filter record onto out: for recipient n (n >= 0) its
 * action and folder (either may be NULL), or (n < 0) the hold reason
 * in action.
 */
int qfile_record_filter(struct buf *out, int n, const char *action,
	const char *folder);
/* The folder r delivers into: its own, else its parent's; or NULL. */
const char *qfile_rcpt_folder(struct qfile *qf, const struct qfile_rcpt *r);
/* Build a delivery result record ("L\t...\n") onto out. */
int qfile_record_result(struct buf *out, int n, const char *code,
	const char *dsn, const char *text, long long when);
/*
 * The same fields under another record letter: 'A' says the message is
 * in the archive (qmgr, ispmail-archive(5)); code "250", text the
 * archives ("example.com example.net"), n -1.
 */
int qfile_record_note(struct buf *out, char kind, int n, const char *code,
	const char *dsn, const char *text, long long when);

/* The path of id in queue_dir/subdir, hashed per queue_hash_depth. */
char *qfile_path(const char *queue_dir, const char *subdir, const char *id);
/* The directory qfile_path() puts id in (created if create is set). */
char *qfile_dir(const char *queue_dir, const char *subdir, const char *id,
	int create);
/* 1 when text looks like a queue id (for ispmailctl arguments). */
int qfile_id_valid(const char *text);
/*
 * The arrival time (unix seconds) a queue id carries in its first six
 * characters; -1 when id is not valid.  Lets a reader age a queue from
 * the file names alone.
 */
long long qfile_id_time(const char *id);

/* CRC-32 (IEEE 802.3) of a message, as the Z record has it. */
uint32_t qfile_crc32(uint32_t crc, const void *data, size_t len);

/* NOTIFY= value to bits; -1 when malformed. */
int qfile_notify_parse(const char *text);
/* bits to text ("SUCCESS,FAILURE"), static buffer. */
const char *qfile_notify_text(int notify);

#endif

/*
 * archive: the tamper-evident mail archive (ispmail-archive(5)).
 *
 * One archive per customer domain, a directory below archive_directory
 * holding numbered segment files.  Every record carries the SHA-256 of
 * the record before it (a hash chain across segments); a full or old
 * segment is closed with a seal record holding an HMAC-SHA256 of its
 * bytes under the key in archive_key_file, which lives apart from the
 * archive.  Writers append under an exclusive flock(2) on the domain's
 * lock file and fsync before they return, so two writers (qmgr,
 * ispmailctl archive seal|expire) never interleave and a record that
 * was reported written survives a crash.  Retention deletes only whole
 * sealed segments and first writes a retention record into the chain
 * naming what goes, so the archive still verifies.
 *
 * The reading side (archive_read.c) parses segments for verification,
 * search and export; nothing there writes.
 */
#ifndef ISPMAIL_ARCHIVE_H
#define ISPMAIL_ARCHIVE_H

#include <stddef.h>
#include <sys/types.h>

/* The frame line every record starts with (ispmail-archive(5)). */
#define ARCHIVE_FRAME "ISPMAIL-ARCHIVE 1 "
/* The longest header part of a record a reader accepts. */
#define ARCHIVE_HEADER_MAX (1024 * 1024)
/* The most recipients one record names; the longest value. */
#define ARCHIVE_RCPT_MAX 10000
#define ARCHIVE_VALUE_MAX 4096

/* Record types. */
#define ARCHIVE_OPEN "open"
#define ARCHIVE_MESSAGE "message"
#define ARCHIVE_SEAL "seal"
#define ARCHIVE_RETENTION "retention"

/* What one archived message is (the envelope part of a record). */
struct archive_envelope {
	const char *queue_id;
	const char *direction;		/* "in", "out" or "in,out" */
	const char *client;		/* client address, or "" */
	const char *sender;		/* "" for the null sender */
	const char *auth;		/* login, or "" */
	long long arrival;		/* unix time */
	const char *const *rcpts;	/* archived recipients */
	size_t rcpt_count;
	/* Header fields delivered above the message (queue H records). */
	const char *prefix;		/* CRLF-ended lines, or NULL */
	size_t prefix_len;
};

/*
 * A parsed record; a plain result record, visible on purpose, owned by
 * archive_read_*() and valid until the next record.  Fields a type does
 * not carry are NULL or -1.
 */
struct archive_record {
	char *type;
	long long n;			/* number in the archive, from 1 */
	long long segment;		/* the segment it was written into */
	char *prev;			/* hex SHA-256 of the record before */
	long long time;
	/* message */
	char *queue_id, *direction, *client, *sender, *auth;
	long long arrival;
	char **rcpts;
	size_t rcpt_count;
	char *sha256;			/* hex SHA-256 of the message */
	long long size;			/* message bytes */
	/* seal */
	long long records;		/* records of the segment before it */
	char *key_id, *hmac;
	/* retention */
	long long removed_first, removed_last, removed_records;
	long long removed_newest;
	char *anchor;
	/* Where it is in its file, and its own hash. */
	off_t offset;			/* of the frame line */
	off_t payload_offset;		/* of the message */
	char hash[65];			/* hex SHA-256 of the body */
	int payload_ok;			/* the message matches sha256= */
};

/* ---- Writing (qmgr, ispmailctl seal|expire) ---- */

/*
 * Is domain usable as an archive directory name (a lower-case DNS
 * name: letters, digits, '-', '.', no leading dot, no "..")?
 */
int archive_domain_valid(const char *domain);

/*
 * Append one message record to domain's archive: env->prefix, then size
 * message bytes read from fd at offset; fsync it.  A full or old segment is
 * sealed first (a new one is opened); one that becomes full with this
 * record is sealed after it.  When the current or the previous segment
 * already holds a record of this queue id with the same message digest
 * (a qmgr that died between this write and marking the queue file), it
 * is not written again.  1 written, 0 duplicate, -1 with *error_r
 * (nothing written: the caller tries later).
 */
int archive_append(const char *domain, const struct archive_envelope *env,
	int fd, off_t offset, long long size, char **error_r);

/*
 * Seal domain's open segment when it is older than archive_segment_age
 * (force: whatever its age, when it holds a message).  1 sealed, 0
 * nothing to do, -1 with *error_r.
 */
int archive_seal(const char *domain, int force, char **error_r);

/*
 * Delete domain's sealed segments whose newest record is older than
 * the domain's retention (archive_retention, archive_domain_retention),
 * oldest first, never the newest segment; a retention record naming
 * them goes into the chain first.  Returns the segments removed (0
 * none: retention off or nothing old enough) or -1 with *error_r.
 */
int archive_expire(const char *domain, long long now, char **error_r);

/* Domain's retention in seconds; 0: kept forever. */
long long archive_retention(const char *domain);

/* ---- Reading (archive_read.c) ---- */

/*
 * The archive's domains (sorted, NULL-terminated; free with
 * archive_names_free); 0 ok, -1 with *error_r.
 */
int archive_list_domains(char ***domains_r, char **error_r);
/* Domain's segment numbers, ascending; 0 ok, -1 with *error_r. */
int archive_list_segments(const char *domain, long long **segs_r,
	size_t *count_r, char **error_r);
void archive_names_free(char ***namesp);
/* The path of segment seg of domain (caller frees). */
char *archive_segment_path(const char *domain, long long seg);

/* Reading one segment file record by record. */
struct archive_reader;
/* NULL with *error_r when the file cannot be opened. */
struct archive_reader *archive_reader_open(const char *path,
	char **error_r);
/*
 * The next record into *rec_r (owned by the reader).  1 a record, 0 end
 * of file, -1 damaged at the current offset (*error_r, caller frees;
 * the rest of the file is not read).
 */
int archive_reader_next(struct archive_reader *rd,
	const struct archive_record **rec_r, char **error_r);
/* The descriptor, for reading a record's message (payload_offset). */
int archive_reader_fd(const struct archive_reader *rd);
/*
 * HMAC-SHA256 under key of the file's first len bytes, in hex (65
 * bytes).  0 ok, -1 with *error_r.
 */
int archive_reader_hmac(struct archive_reader *rd, const unsigned char *key,
	size_t key_len, off_t len, char *hex_r, char **error_r);
void archive_reader_close(struct archive_reader **rdp);

/*
 * Read archive_key_file: its first line, at least 32 bytes.  0 ok
 * (*key_r, *len_r; caller frees), -1 with *error_r.
 */
int archive_key_read(unsigned char **key_r, size_t *len_r, char **error_r);
/* len bytes as lower-case hex into hex_r (2 * len + 1 bytes). */
void archive_hex(const unsigned char *digest, size_t len, char *hex_r);
/* The key's id: the first 16 hex digits of its SHA-256. */
void archive_key_id(const unsigned char *key, size_t len, char id_r[17]);

/*
 * Verify domain's archive (ispmail-archive(5) "VERIFYING"): report is
 * called once per problem with a line naming the segment and record.
 * Returns the number of problems, or -1 with *error_r when the archive
 * cannot be read at all.  Counts of segments and records go to
 * *segments_r and *records_r.
 */
int archive_verify(const char *domain, const unsigned char *key,
	size_t key_len, void (*report)(void *ctx, const char *line),
	void *ctx, long long *segments_r, long long *records_r,
	char **error_r);

#endif

/*
 * lmtpd_spool: one LMTP message between DATA and its deliveries.
 *
 * The DATA reader appends the message here once; every recipient's
 * delivery then replays it.  The message stays in memory up to a limit
 * and moves to an unnamed file in a temporary directory past it (O_TMPFILE,
 * or a name removed at once), so it never outlives the process.  While
 * bytes arrive, the header (up to the first empty line) is scanned for
 * Delivered-To: fields, kept lower-cased for the loop check.
 *
 * Limits: the caller bounds the total size (the DATA reader stops at the
 * message size limit); a header line longer than SPOOL_HEADER_LINE_MAX is
 * not examined; at most LMTPD_SPOOL_TRACE_MAX Delivered-To fields are
 * kept, and a message with more counts as a loop for everyone.
 */
#ifndef ISPMAIL_LMTPD_SPOOL_H
#define ISPMAIL_LMTPD_SPOOL_H

#include <stddef.h>

#define LMTPD_SPOOL_TRACE_MAX 100

struct lmtpd_spool;

/* A new, empty spool: memory_limit bytes in memory, then temp_dir. */
struct lmtpd_spool *lmtpd_spool_new(size_t memory_limit,
	const char *temp_dir);
void lmtpd_spool_free(struct lmtpd_spool **spoolp);

/*
 * Append message bytes (any split).  0 ok; -1 with *error_r (caller
 * frees) when the temporary file cannot be made or written.
 */
int lmtpd_spool_append(struct lmtpd_spool *spool, const void *data,
	size_t len, char **error_r);

/* Bytes appended so far. */
long long lmtpd_spool_size(const struct lmtpd_spool *spool);

/*
 * Does the header carry "Delivered-To: address" (compared without case,
 * angle brackets and surrounding white space)?  1 yes (or the message
 * has more Delivered-To fields than are kept), 0 no.
 */
int lmtpd_spool_delivered_to(const struct lmtpd_spool *spool,
	const char *address);

/* Receives the message in pieces; -1 stops the replay. */
typedef int lmtpd_spool_fn(void *ctx, const void *data, size_t len,
	char **error_r);

/*
 * Pass the whole message to fn, in order.  0 ok; -1 with *error_r (from
 * fn or a read error).
 */
int lmtpd_spool_replay(struct lmtpd_spool *spool, lmtpd_spool_fn *fn,
	void *ctx, char **error_r);

#endif

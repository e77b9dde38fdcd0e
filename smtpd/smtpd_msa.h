/*
 * smtpd_msa: what the submission service adds to a message (RFC 6409 8.2,
 * 8.3): a Date: and a Message-ID: header field when the client's header
 * has none, as Postfix's cleanup does for its submission service.
 *
 * A filter between the DATA/BDAT reader and the queue file: bytes go
 * through to the output function as they come, in any split; only the
 * start of each header line (up to its colon, at most
 * SMTPD_MSA_NAME_MAX bytes) is held until its field name is known.  The
 * missing fields are written at the end of the header section: before
 * the empty line, before the first line that is not a header field (an
 * empty line is added then, so that line stays in the body), or at the
 * end of a message that is all header.  Pure: no sockets, no files.
 */
#ifndef ISPMAIL_SMTPD_MSA_H
#define ISPMAIL_SMTPD_MSA_H

#include <stddef.h>

/* A line start held longer than this is taken as some other field. */
#define SMTPD_MSA_NAME_MAX 80

struct smtpd_msa;

/* Where the message goes: 0 ok, -1 failed (the filter stops there). */
typedef int smtpd_msa_out_fn(void *ctx, const void *data, size_t len);

/*
 * A filter that adds "Date: date" and "Message-ID: message_id" (both
 * copied; the caller formats them) when missing.
 */
struct smtpd_msa *smtpd_msa_new(const char *date, const char *message_id);
/*
 * Pass len bytes of the message on to out(ctx, ...); 0 ok, -1 when out
 * failed (every later call fails too).
 */
int smtpd_msa_write(struct smtpd_msa *msa, const void *data, size_t len,
	smtpd_msa_out_fn *out, void *ctx);
/* The message is complete: flush what is held; 0 ok, -1 out failed. */
int smtpd_msa_finish(struct smtpd_msa *msa, smtpd_msa_out_fn *out,
	void *ctx);
/* Which fields were added: bit 1 Date, bit 2 Message-ID (for logging). */
#define SMTPD_MSA_ADDED_DATE 1
#define SMTPD_MSA_ADDED_MESSAGE_ID 2
int smtpd_msa_added(const struct smtpd_msa *msa);
/* Free and NULL *msap (NULL is fine). */
void smtpd_msa_free(struct smtpd_msa **msap);

/*
 * The values for a message queued as queue_id at when: an RFC 5322 date
 * in local time, and "<when.queue_id@hostname>".  Caller frees both.
 */
void smtpd_msa_values(const char *queue_id, const char *hostname,
	long long when, char **date_r, char **message_id_r);

#endif

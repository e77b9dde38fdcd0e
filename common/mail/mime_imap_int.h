/*
 * mime_imap_int: what mime_imap.c (IMAP strings, BODY and BODYSTRUCTURE)
 * and mime_imap_envelope.c (address lists and ENVELOPE) share.  Nothing
 * outside common/mail/mime_imap*.c includes it.
 */
#ifndef ISPMAIL_MIME_IMAP_INT_H
#define ISPMAIL_MIME_IMAP_INT_H

#include <stddef.h>

struct buf;
struct mime_message;
struct mime_part;

/* Output with a sticky failure, so writers need not check every append. */
struct mime_imap_writer {
	struct buf *out;
	int failed;
};

/* mime_imap.c: append to w->out unless a cap was already hit. */
void mime_imap_w_append(struct mime_imap_writer *w, const char *s, size_t n);
void mime_imap_w_str(struct mime_imap_writer *w, const char *s);
/* A number, as IMAP writes sizes and line counts. */
void mime_imap_w_size(struct mime_imap_writer *w, size_t n);
/*
 * An IMAP string (RFC 3501 4.3): quoted when it can be, else a literal;
 * NUL octets dropped (see mime_imap.h).
 */
void mime_imap_w_string(struct mime_imap_writer *w, const char *s,
	size_t n);
/* A string, or NIL for NULL. */
void mime_imap_w_nstring(struct mime_imap_writer *w, const char *s);

/* mime_imap_envelope.c: the ENVELOPE of p's header (see mime_imap.h). */
void mime_imap_write_envelope(struct mime_imap_writer *w,
	const struct mime_message *m, const struct mime_part *p);

#endif

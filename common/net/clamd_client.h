/*
 * clamd_client: ClamAV's clamd INSTREAM command, the request and the
 * parsed reply; pure (scan_client.c carries it).
 *
 * The request is "zINSTREAM\0", the message in chunks of a 4-byte
 * network-order length and the bytes, and a zero length.  clamd refuses
 * a stream past its StreamMaxLength ("INSTREAM size limit exceeded"):
 * smtpd does not scan messages over filter_size_limit, which an
 * operator keeps at or below it.  A virus name is kept only when it is
 * printable ASCII without spaces, at most CLAMD_VIRUS_MAX bytes; else it
 * reads "(unprintable name)", so it can go into a reply and the log.
 */
#ifndef ISPMAIL_CLAMD_CLIENT_H
#define ISPMAIL_CLAMD_CLIENT_H

#include <stddef.h>

struct buf;

#define CLAMD_VIRUS_MAX 128
#define CLAMD_CHUNK 65536

/* The INSTREAM request for message (len bytes) onto out. */
void clamd_request(struct buf *out, const void *message, size_t len);
/*
 * Parse a reply: 0 clean, 1 infected (*virus_r, caller frees), -1 an
 * error reply or garbage (*error_r).
 */
int clamd_parse(const char *reply, size_t len, char **virus_r,
	char **error_r);

#endif

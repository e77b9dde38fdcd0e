/*
 * xtext: the RFC 3461 4 encoding of the DSN parameters ENVID and ORCPT,
 * and the checks their values pass whenever they are read (smtpd from a
 * client, the agent and qmgr from the queue) before they go into a queue
 * file, a command line or a report.
 *
 * Decoded values are printable US-ASCII only (smtp_syntax.h): a decoded
 * CR, LF, NUL or 8-bit byte is refused, never passed on.  An ORCPT is
 * kept decoded as "type;address": type is "rfc822" (address xtext
 * decoded) or "utf-8" (RFC 6533 utf-8-addr-xtext, kept as sent, which
 * is printable ASCII with "\x{HEX}" escapes).  Limits are the caller's;
 * results are new strings the caller frees.
 */
#ifndef ISPMAIL_XTEXT_H
#define ISPMAIL_XTEXT_H

#include <stddef.h>

struct buf;

/* RFC 3461: an ENVID is at most 100 characters, an ORCPT address 500. */
#define XTEXT_ENVID_MAX 100
#define XTEXT_ORCPT_MAX 500

/*
 * Decode xtext: "+HH" (upper-case hex) is a byte, other characters are
 * 0x21-0x7e but '+' and '='.  NULL when malformed, longer than max
 * decoded, or a decoded byte is not printable.
 */
char *xtext_decode(const char *text, size_t max);

/* Append text as xtext: '+', '=' and bytes outside 0x21-0x7e as "+HH".
 * 0 ok, -1 past out's cap. */
int xtext_encode(struct buf *out, const char *text);

/* 1 when a decoded ENVID is acceptable (printable, 1..max), else 0. */
int xtext_envid_valid(const char *envid, size_t max);

/*
 * Parse an ORCPT parameter value "addr-type;xtext" as a client sent it
 * into the kept form "type;address" (type lower case).  NULL when the
 * type is not rfc822 or utf-8, the address is empty, malformed, longer
 * than max or not printable.
 */
char *xtext_orcpt_decode(const char *param, size_t max);

/* 1 when orcpt is a valid kept "type;address" (as above), else 0. */
int xtext_orcpt_valid(const char *orcpt, size_t max);

/*
 * Append the ORCPT parameter value for a kept orcpt: the type, ';', the
 * address as xtext (rfc822) or as kept (utf-8).  -1 when orcpt is not
 * valid (nothing appended) or past out's cap.
 */
int xtext_orcpt_encode(struct buf *out, const char *orcpt, size_t max);

#endif

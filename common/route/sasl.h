/*
 * sasl: base64 (RFC 4648) and the server side of SASL PLAIN (RFC 4616)
 * and LOGIN, shared by smtpd (AUTH), popd (AUTH) and imapd
 * (AUTHENTICATE).  The daemons do the protocol framing; these functions
 * only decode what the client sent.
 */
#ifndef ISPMAIL_SASL_H
#define ISPMAIL_SASL_H

#include <stddef.h>

struct buf;

/*
 * Append the base64 decoding of text (len bytes, no whitespace allowed,
 * padding required) to out.  0 ok; -1 on bad characters or padding, or
 * when out's cap would be passed (out unchanged).
 */
int base64_decode(const char *text, size_t len, struct buf *out);
/* Append the base64 encoding of data to out; -1 past out's cap. */
int base64_encode(const void *data, size_t len, struct buf *out);

/*
 * Split a decoded PLAIN response "authzid NUL authcid NUL passwd".  0 ok
 * with the three parts copied into new strings (caller frees; authzid
 * "" when absent); -1 with a static *error_r when malformed (wrong number
 * of NULs, empty authcid or password, a part over 1024 bytes).
 */
int sasl_plain_parse(const struct buf *decoded, char **authzid_r,
	char **authcid_r, char **password_r, const char **error_r);

#endif

/*
 * header_value: one header field's value, picked up as a message streams by.
 *
 * Fed the message bytes in chunks of any size (split anywhere), it keeps
 * the value of the first field with the given name (unfolded), reading
 * nothing past the header section, so a daemon can log it (smtpd logs the
 * Message-ID for ispmailctl trace) without reading the message again.  A
 * header line longer than the cap given is not looked into.  Never fails.
 */
#ifndef ISPMAIL_HEADER_VALUE_H
#define ISPMAIL_HEADER_VALUE_H

#include <stddef.h>

struct header_value;

/* Look for field name (e.g. "Message-ID"); lines over max bytes skipped. */
struct header_value *header_value_new(const char *name, size_t max);
/* The next bytes of the message. */
void header_value_feed(struct header_value *hv, const void *data,
	size_t len);
/* The field's value, unfolded and trimmed, or NULL (none, or too long). */
const char *header_value_get(const struct header_value *hv);
/*
 * The first <...> of the value with only printable ASCII and no space
 * inside (a msg-id, RFC 5322 3.6.4), as a new string; NULL when none.
 */
char *header_value_msgid(const struct header_value *hv);
void header_value_free(struct header_value **hvp);

#endif

/*
 * spamd_client: SpamAssassin's spamd protocol (SPAMC/1.5), the request
 * and the parsed reply; pure (no sockets: scan_client.c carries it).
 *
 * SYMBOLS asks for the score and the names of the rules that hit.
 * Replies are checked strictly: a status line "SPAMD/1.x 0 EX_OK", a
 * "Spam: True|False ; score / threshold" header, and a body of rule
 * names; rule names are kept only when they are printable ASCII words
 * (A-Z a-z 0-9 _ and the commas between), at most SPAMD_SYMBOLS_MAX
 * bytes, so they can go into a header and the log.
 */
#ifndef ISPMAIL_SPAMD_CLIENT_H
#define ISPMAIL_SPAMD_CLIENT_H

#include <stddef.h>

struct buf;

#define SPAMD_SYMBOLS_MAX 900

struct spamd_result {
	int spam;		/* spamd's own verdict */
	double score;
	double threshold;
	char *symbols;		/* "GTUBE,NO_RECEIVED", or "" */
};

/* The SYMBOLS request for message (len bytes) onto out. */
void spamd_request(struct buf *out, const void *message, size_t len);
/* Parse a reply; 0 ok (free r with spamd_result_clear); -1 *error_r. */
int spamd_parse(const char *reply, size_t len, struct spamd_result *r,
	char **error_r);
void spamd_result_clear(struct spamd_result *r);

#endif

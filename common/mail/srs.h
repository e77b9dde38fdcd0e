/*
 * srs: the Sender Rewriting Scheme, as libsrs2 and postsrsd write it, so
 * mail we forward to a remote address passes SPF at the destination and
 * the bounces come back to us.
 *
 *   SRS0=HHHH=TT=orig-domain=orig-local@srs_domain
 *   SRS1=HHHH=first-forwarder==HHHH=TT=orig-domain=orig-local@srs_domain
 *
 * HHHH is the first 4 base64 characters of HMAC-SHA1(secret, the other
 * fields lower-cased), compared case-insensitively on the way back
 * (some MTAs lower-case local parts); TT is the day number modulo 1024
 * in base32 (A-Z2-7), valid for max_age days.  A sender that is already
 * an SRS0 address of another forwarder becomes SRS1 (its first forwarder
 * and its opaque rest kept, newly signed), so a chain of forwarders does
 * not grow the address.  Several secrets: the first signs, all verify
 * (key rotation).
 *
 * Addresses are as stored in the queue: local "@" domain, the local part
 * quoted where RFC 5321 needs it.  Every address built here is at most
 * ADDRESS_MAX (254) octets; longer results are refused (the caller keeps
 * the original sender).  Results and errors are new strings the caller
 * frees.
 */
#ifndef ISPMAIL_SRS_H
#define ISPMAIL_SRS_H

#include <stddef.h>
#include <time.h>

#define SRS_HASH_LEN 4
#define SRS_SECRET_MAX 1024	/* octets of one secret */
#define SRS_SECRETS_MAX 32	/* secrets in srs_secret_file */
#define SRS_TIME_SLOTS 1024	/* days the time stamp can tell apart */

/* Outcomes of decoding (srs_decode, srs_reverse). */
enum srs_result {
	SRS_OK = 1,		/* decoded */
	SRS_NOT_SRS = 0,	/* not in srs_domain (or SRS is off) */
	SRS_TEMP = -1,		/* secrets unavailable: try later */
	SRS_MALFORMED = -2,	/* in srs_domain, but not an SRS address */
	SRS_FORGED = -3,	/* the hash does not match any secret */
	SRS_EXPIRED = -4	/* older than max_age days */
};

struct srs;

/*
 * A rewriter for domain (checked, lower-cased) with nsecrets secrets
 * (the first signs) and max_age days (1 .. SRS_TIME_SLOTS - 1).
 * NULL with *error_r on a bad domain, no or empty secrets, or a bad age.
 */
struct srs *srs_new(const char *domain, const char *const *secrets,
	size_t nsecrets, long long max_age, char **error_r);
void srs_free(struct srs **srsp);

/*
 * Read secrets for srs_new from path: one a line, blank lines ignored,
 * trailing white space and CR stripped; at most SRS_SECRETS_MAX of at
 * most SRS_SECRET_MAX octets.  A world-readable file is warned about.
 * 0 ok (*secrets_r, *count_r; free with srs_secrets_free); -1 with
 * *error_r.
 */
int srs_secrets_read(const char *path, char ***secrets_r, size_t *count_r,
	char **error_r);
void srs_secrets_free(char **secrets, size_t count);

/*
 * The envelope sender for mail forwarded as of now: SRS0 for a plain
 * sender, SRS1 for another forwarder's SRS0 or SRS1 address, and the
 * sender unchanged when it is null ("") or already in our domain.
 * 0 ok (*result_r); -1 with *error_r (no '@', bad domain, too long).
 */
int srs_encode(const struct srs *srs, const char *sender, time_t now,
	char **result_r, char **error_r);

/*
 * Undo srs_encode for addr as of now: an SRS0 address gives the original
 * sender, an SRS1 address the first forwarder's SRS0 address.  Returns
 * an enum srs_result: SRS_OK with *orig_r; SRS_NOT_SRS when addr is not
 * in our domain; SRS_MALFORMED, SRS_FORGED or SRS_EXPIRED with *error_r.
 */
int srs_decode(const struct srs *srs, const char *addr, time_t now,
	char **orig_r, char **error_r);

/* Is addr's domain (after the last '@') our domain?  1 yes, 0 no. */
int srs_in_domain(const struct srs *srs, const char *addr);

/*
 * The configured rewriter (srs_domain, srs_secret_file, srs_max_age).
 * srs_init reads the secret file; call it in pre_init, before privileges
 * drop, when the file is readable only by root (the functions below call
 * it on first use otherwise).  0 ok or SRS off (srs_domain empty); -1
 * with *error_r (the file is unreadable or bad: mail for srs_domain is
 * deferred, forwarded mail keeps its sender).
 */
int srs_init(char **error_r);

/* 1 when srs_domain is set, 0 when SRS is off. */
int srs_enabled(void);

/*
 * For qmgr, mail forwarded to a remote address: the new envelope sender
 * (see srs_encode; a copy of sender when SRS is off).  NULL with
 * *error_r when it cannot be rewritten (send with the original sender).
 */
char *srs_forward_sender(const char *sender, char **error_r);

/*
 * For qmgr and smtpd, a recipient: an enum srs_result as srs_decode,
 * plus SRS_TEMP with *error_r when the secrets cannot be read.
 * SRS_NOT_SRS when SRS is off.
 */
int srs_reverse(const char *rcpt, char **orig_r, char **error_r);

#endif

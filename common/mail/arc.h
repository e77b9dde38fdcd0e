/*
 * arc: one ARC set (RFC 8617) added to a message: the
 * ARC-Authentication-Results of the sealer's own checks (4.1.1), an
 * ARC-Message-Signature over header and body (4.1.2: a DKIM-Signature
 * with i= for v=, made by dkim_sign) and an ARC-Seal over every ARC
 * set's fields (4.1.3, 5.1.1), all rsa-sha256 with relaxed
 * canonicalization.  Sans-I/O, as dkim_verify: the caller feeds the
 * message as it arrives, then hands over the key records asked for.
 *
 * The existing chain (5.2): the ARC fields of the header are grouped
 * by their i= (1..ARC_INSTANCE_MAX, one AAR, AMS and AS each, no gap;
 * a field without i= is in no set and left out, one with another i=
 * breaks the chain);
 * the newest AMS and every AS are verified with their keys (dkim_record
 * parses them, dkim_pubcache keeps the keys).  The new set's cv= is
 * none without sets, pass for a valid chain and fail for a broken one;
 * a chain whose newest seal already says cv=fail, or one at
 * ARC_INSTANCE_MAX, gets no new set (5.1.2, 4.2.1), nor does one whose
 * key lookups failed for now (no verdict to seal).
 *
 * Limits: the header is kept up to ARC_HEADER_MAX bytes (past it, no
 * set is added); at most ARC_FIELDS_MAX ARC fields are looked at (more
 * make the chain fail).
 */
#ifndef ISPMAIL_ARC_H
#define ISPMAIL_ARC_H

#include <stddef.h>

#include <openssl/evp.h>

#include "dkim_pubcache.h"
#include "dkim_verify.h"

#define ARC_INSTANCE_MAX 50
#define ARC_HEADER_MAX (1024 * 1024)
#define ARC_FIELDS_MAX (3 * ARC_INSTANCE_MAX)

enum arc_cv {
	ARC_CV_NONE = 0,
	ARC_CV_PASS,
	ARC_CV_FAIL,
};

struct arc_sealer;

/*
 * A sealer of one message for domain and selector with RSA key (the
 * sealer takes its own reference); existing chains are verified at time
 * now with keys parsed through cache (shared; NULL: parse each time).
 * NULL with *error_r (caller frees): bad domain or selector, not RSA.
 */
struct arc_sealer *arc_sealer_new(EVP_PKEY *key, const char *domain,
	const char *selector, struct dkim_pubcache *cache, long long now,
	char **error_r);
void arc_sealer_free(struct arc_sealer **ap);
/* The next len bytes of the message. */
void arc_sealer_chunk(struct arc_sealer *a, const void *data, size_t len);
/* The message is complete. */
void arc_sealer_finish(struct arc_sealer *a);
/*
 * After finish: how many key records the chain's check wants, and the
 * name ("SELECTOR._domainkey.DOMAIN") of the i-th, or NULL when it is
 * needed no more.  Hand each over with arc_sealer_key().
 */
size_t arc_sealer_key_count(const struct arc_sealer *a);
const char *arc_sealer_key_name(const struct arc_sealer *a, size_t i);
void arc_sealer_key(struct arc_sealer *a, size_t i,
	enum dkim_key_lookup lookup, const char *record, size_t len);
/*
 * After the keys: the chain's verdict, as Authentication-Results' arc=
 * says it (RFC 8617 10.1): "none" (no chain), "pass", "fail" (broken,
 * or ended by a seal saying cv=fail), or NULL when there is none (a key
 * lookup failed for now, 50 sets, the header too big).
 */
const char *arc_sealer_result(struct arc_sealer *a);
/*
 * Seal: authres is the value of the sealer's own Authentication-Results
 * field (after the colon; folded lines joined by CRLF TAB).  1 with
 * fields_r[0..2] = ARC-Seal, ARC-Message-Signature and
 * ARC-Authentication-Results (qfile_writer_prepend_header's form, the
 * order they go above the message; caller frees each), *cv_r and
 * *instance_r; 0 when no set is added, -1 when sealing failed: the
 * reason in *reason_r (static) either way.  Once.
 */
int arc_sealer_seal(struct arc_sealer *a, const char *authres,
	long long now, char *fields_r[3], enum arc_cv *cv_r, int *instance_r,
	const char **reason_r);
/* "none", "pass", "fail". */
const char *arc_cv_name(enum arc_cv cv);

#endif

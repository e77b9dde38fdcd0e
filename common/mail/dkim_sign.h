/*
 * dkim_sign: DKIM-Signature fields (RFC 6376) made with OpenSSL from a
 * key parsed once (dkim_keycache): relaxed/relaxed canonicalization
 * (3.4.2, 3.4.4), rsa-sha256 (3.3.3) and ed25519-sha256 (RFC 8463: the
 * PureEdDSA signature of the SHA-256 of the header hash input).
 * libopendkim only takes a key as PEM text and parses it for every
 * message.  Canonicalization is dkim_canon's, shared with the verifier
 * (dkim_verify).
 *
 * The message is fed as it arrives, header, empty line, body, in pieces
 * of any size.  The header is kept (at most DKIM_SIGN_HEADER_MAX bytes);
 * the body is canonicalized and hashed as it streams, so its size costs
 * no memory.  Lines end in CRLF; a bare CR or LF in the body is content,
 * as in dkimpy.
 *
 * Signed fields (h=), bottom-up per 5.4.2: every instance of the fields
 * RFC 6376 5.4.1 recommends that the header has (From, Sender, Reply-To,
 * Subject, Date, Message-ID, To, Cc, MIME-Version, Content-*, Resent-*,
 * In-Reply-To, References, List-*), and From once more than present, so
 * that a second From cannot be added below the signature (8.15).
 */
#ifndef ISPMAIL_DKIM_SIGN_H
#define ISPMAIL_DKIM_SIGN_H

#include <stddef.h>

#include <openssl/evp.h>

#include "dkim_keys.h"

struct buf;

#define DKIM_SIGN_HEADER_MAX (1024 * 1024)

struct dkim_signer;

/*
 * A signer of one message for domain and selector with key (of type; the
 * signer takes its own reference).  NULL with *error_r when the domain
 * or selector is malformed or the key is not of type.
 */
struct dkim_signer *dkim_signer_new(EVP_PKEY *key, enum dkim_key_type type,
	const char *domain, const char *selector, char **error_r);
/*
 * Make s an ARC-Message-Signature of instance (1..50, RFC 8617 4.1.2)
 * instead of a DKIM-Signature: i= in place of v=, the same h=.
 */
void dkim_signer_set_arc(struct dkim_signer *s, int instance);
/*
 * The next len bytes of the message.  -1 when the header passes
 * DKIM_SIGN_HEADER_MAX: the message cannot be signed (finish says so).
 */
int dkim_signer_chunk(struct dkim_signer *s, const void *data, size_t len);
/*
 * The end of the message: the field "DKIM-Signature: ...", its lines
 * joined by CRLF TAB, without a final CRLF (qfile_writer_prepend_header's
 * form), with t=now; caller frees.  NULL with *error_r (no From field,
 * header too big, signing failed).  Once per signer.
 */
char *dkim_signer_finish(struct dkim_signer *s, long long now,
	char **error_r);
/*
 * Sign hin, a header hash input (RFC 6376 3.7, RFC 8617 5.1.1), with
 * key of type (rsa-sha256: PKCS#1 v1.5; ed25519-sha256: PureEdDSA of
 * its SHA-256) and append the base64 of the signature to field, folded
 * as b= is (field ends in "b=").  0, or -1 when hashing or signing
 * failed.
 */
int dkim_sign_input(EVP_PKEY *key, enum dkim_key_type type,
	const struct buf *hin, struct buf *field);
/* Free s; NULLs *sp (NULL is allowed). */
void dkim_signer_free(struct dkim_signer **sp);

#endif

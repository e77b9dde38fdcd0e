/*
 * dkim_record: the two tag-lists of DKIM (RFC 6376 3.2): a
 * DKIM-Signature field's value (3.5) and a key record (3.6.1), parsed
 * with limits.  Untrusted input: any bytes.
 *
 * Tag-list: tag names ALPHA *(ALPHA / DIGIT / "_"), values of VALCHARs
 * with FWS between them; the FWS around a value is not part of it; a
 * duplicated tag makes the whole list invalid; unknown tags are ignored;
 * at most DKIM_TAGS_MAX tags.
 *
 * Limits of a signature: its value at most DKIM_SIG_MAX bytes, at most
 * DKIM_SIG_HEADERS_MAX names in h=, b= at most DKIM_SIG_B_MAX bytes
 * decoded.  A key record at most DKIM_KEYREC_MAX bytes.
 */
#ifndef ISPMAIL_DKIM_RECORD_H
#define ISPMAIL_DKIM_RECORD_H

#include <stddef.h>

#define DKIM_TAGS_MAX 64
#define DKIM_SIG_MAX 16384
#define DKIM_SIG_HEADERS_MAX 64
#define DKIM_SIG_B_MAX 1024
#define DKIM_KEYREC_MAX 8192
#define DKIM_KEY_P_MAX 2048

/* One tag of a list: pointers into the parsed text (plain record). */
struct dkim_tag {
	const char *name;
	size_t name_len;
	const char *value;		/* FWS inside kept */
	size_t value_len;
};

/*
 * Split text (len bytes) into at most max tags.  The count, or -1 when
 * the list is malformed, has a duplicate or more than max tags.
 */
int dkim_tags_parse(const char *text, size_t len, struct dkim_tag *tags,
	size_t max);

enum dkim_alg {
	DKIM_ALG_RSA_SHA256,
	DKIM_ALG_ED25519_SHA256,
	DKIM_ALG_RSA_SHA1,		/* parsed to be refused (RFC 8301) */
};

/* What dkim_sig_parse_kind parses. */
enum dkim_sig_kind {
	DKIM_SIG_DKIM,			/* DKIM-Signature */
	DKIM_SIG_ARC_MESSAGE,		/* ARC-Message-Signature */
	DKIM_SIG_ARC_SEAL,		/* ARC-Seal */
};

/* An ARC-Seal's cv= (RFC 8617 4.1.3). */
enum dkim_cv { DKIM_CV_NONE, DKIM_CV_PASS, DKIM_CV_FAIL };

/* A parsed DKIM-Signature (plain record; dkim_sig_clear frees it). */
struct dkim_sig {
	enum dkim_alg alg;
	int header_relaxed, body_relaxed;
	char *domain;			/* d=, lower case */
	char *selector;			/* s= */
	char *auid;			/* i=, NULL: none */
	char *headers[DKIM_SIG_HEADERS_MAX];	/* h=, as written */
	size_t header_count;
	unsigned char *b;		/* the signature, decoded */
	size_t b_len;
	unsigned char bh[64];		/* the body hash, decoded */
	size_t bh_len;
	long long length;		/* l=; -1: none */
	long long timestamp;		/* t=; -1: none */
	long long expires;		/* x=; -1: none */
	/* Where b='s value is within the parsed value (to blank it, 3.7). */
	size_t b_start, b_end;
	/* ARC (RFC 8617): i= of an AMS or AS, cv= of an AS. */
	int instance;
	enum dkim_cv cv;
};

/*
 * Parse the value of a DKIM-Signature field (after the colon, folds
 * included) into *sig.  0; -1 with *error_r (a static string): syntax,
 * limits, a required tag missing (v a b bh d h s), v not 1, an
 * unknown a= or c=, q= without dns/txt, h= without From, i= not in
 * d=, x= before t=, bad base64.  *sig is cleared either way first.
 */
int dkim_sig_parse(const char *value, size_t len, struct dkim_sig *sig,
	const char **error_r);
/*
 * The same for an ARC-Message-Signature (i= 1..50 for v=, i= not an
 * AUID) or an ARC-Seal (i=, cv=, no h=, no bh=, relaxed), RFC 8617
 * 4.1.2 and 4.1.3.
 */
int dkim_sig_parse_kind(const char *value, size_t len, enum dkim_sig_kind kind,
	struct dkim_sig *sig, const char **error_r);
void dkim_sig_clear(struct dkim_sig *sig);

enum dkim_keyrec_type { DKIM_KEYREC_RSA, DKIM_KEYREC_ED25519 };

/* A parsed key record (plain record, pointers into the text). */
struct dkim_keyrec {
	enum dkim_keyrec_type type;	/* k= */
	int sha256;			/* h= absent or lists sha256 */
	int email;			/* s= absent, * or email */
	int testing;			/* t=y */
	int strict;			/* t=s: i= domain must be d= */
	const char *p;			/* p= as written (FWS inside) */
	size_t p_len;			/* 0: revoked */
};

/*
 * Parse a key record (the TXT record's strings joined).  0; -1 with
 * *error_r (static): syntax, over DKIM_KEYREC_MAX, v= not DKIM1 or not
 * first, unknown k=, no p=.
 */
int dkim_keyrec_parse(const char *text, size_t len, struct dkim_keyrec *k,
	const char **error_r);

/* 1 when selector is dot-separated labels of [A-Za-z0-9-], else 0. */
int dkim_sig_selector_valid(const char *selector);

#endif

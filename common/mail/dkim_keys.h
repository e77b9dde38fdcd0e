/*
 * dkim_keys: the DKIM signing keys of one domain, as ispmailctl(8) dkim
 * writes them and smtpd reads them: DIR/DOMAIN/ holds one private key
 * per selector (SELECTOR.key, PEM, mode 0600 or 0640, owned by the
 * signing daemon's user) and the file "selectors", one line a key:
 *
 *     selector type start retire
 *
 * type "rsa" or "ed25519"; start and retire are Unix times: the key
 * signs from start until retire (0: no end).  A rotation adds the new
 * key with start = now + TTL and gives the old one retire = the same
 * time, so the new record has reached every cache before mail carries
 * it (ispmail-dkim(5)).
 *
 * The routing directory names a domain's keys in its domain record
 * (dkim_domain.h), one value a key in the same fields and a key file:
 *
 *     SELECTOR:TYPE:FILE:START:RETIRE
 *
 * FILE relative (under DIR, as ispmailctl writes DOMAIN/SELECTOR.key)
 * or absolute; 1..DKIM_KEY_FILE_MAX of [A-Za-z0-9._+/-], no "." or ".."
 * component.  ":START:RETIRE" may be left out (0:0).
 *
 * Limits: DKIM_KEYS_MAX lines, DKIM_KEYS_FILE_MAX bytes a file; a
 * selector is 1..63 of [A-Za-z0-9-] (one DNS label).  Files are opened
 * without following symlinks.
 */
#ifndef ISPMAIL_DKIM_KEYS_H
#define ISPMAIL_DKIM_KEYS_H

#include <stddef.h>

#define DKIM_KEYS_MAX 32
#define DKIM_KEYS_FILE_MAX 65536
#define DKIM_KEY_FILE_MAX 1024

enum dkim_key_type { DKIM_KEY_RSA, DKIM_KEY_ED25519 };

/* A plain result record. */
struct dkim_key {
	char *selector;
	enum dkim_key_type type;
	long long start;		/* signs from then */
	long long retire;		/* until then; 0: no end */
	char *file;			/* as the record names it; NULL:
					   DIR/DOMAIN/SELECTOR.key */
};

struct dkim_keyset {
	struct dkim_key keys[DKIM_KEYS_MAX];
	size_t count;
};

/* "rsa" / "ed25519"; parse: 0 ok, -1 unknown. */
const char *dkim_key_type_name(enum dkim_key_type type);
int dkim_key_type_parse(const char *name, enum dkim_key_type *type_r);
/* 1 when selector is one DNS label of [A-Za-z0-9-], else 0. */
int dkim_selector_valid(const char *selector);
/* 1 when domain is a plausible domain name (LDH labels, dots), else 0. */
int dkim_domain_valid(const char *domain);

/* 1 when file is a key file name a record may hold (above), else 0. */
int dkim_key_file_valid(const char *file);
/*
 * Parse one record value "SELECTOR:TYPE:FILE[:START:RETIRE]" into *key
 * (caller clears it with the set).  0; -1 with *error_r.
 */
int dkim_key_parse(const char *value, struct dkim_key *key, char **error_r);
/* The record value of key, whose file is set (caller frees). */
char *dkim_key_format(const struct dkim_key *key);
/*
 * The path of key's file: an absolute file as it is, a relative one
 * under dir, none DIR/DOMAIN/SELECTOR.key (caller frees).
 */
char *dkim_key_file_path(const char *dir, const char *domain,
	const struct dkim_key *key);

/*
 * Read DIR/DOMAIN/selectors into *set.  1 read; 0 no such file (the
 * domain has no keys); -1 with *error_r (unreadable, malformed).
 */
int dkim_keys_read(const char *dir, const char *domain,
	struct dkim_keyset *set, char **error_r);
/* Write it atomically (temporary file, fsync, rename); 0 / -1. */
int dkim_keys_write(const char *dir, const char *domain,
	const struct dkim_keyset *set, char **error_r);
/* The key of type that signs at now, or NULL (one per type at a time). */
const struct dkim_key *dkim_keys_signing(const struct dkim_keyset *set,
	enum dkim_key_type type, long long now);
/* The path of a selector's key file; caller frees. */
char *dkim_key_path(const char *dir, const char *domain,
	const char *selector);
/*
 * Read a key file (PEM, at most DKIM_KEYS_FILE_MAX bytes, no symlink)
 * into a NUL-terminated string; caller frees.  NULL with *error_r.
 */
char *dkim_key_load(const char *path, char **error_r);
/* Free what set holds; it is empty afterwards. */
void dkim_keys_clear(struct dkim_keyset *set);

#endif

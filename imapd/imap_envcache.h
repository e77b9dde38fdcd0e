/*
 * imap_envcache: the folder's cache of FETCH ENVELOPE answers,
 * "ispmail-envcache" beside ispmail-uidlist (ispmail-envcache(5)).
 *
 *	ispmail-envcache 1
 *	E <size> <mtime> <length> <base name> <hash>
 *	<length bytes: the ENVELOPE>
 *	...
 *
 * Each record is keyed by the message's base name (its file name before
 * ":2,"), the file's size and its mtime, so a file replaced under the same
 * name is never answered from an old record.  <hash> is the FNV-1a 64 (16
 * hex digits) of the record line up to the blank before it and of the
 * envelope bytes; a newline ends every record.  The last record of a base
 * counts.
 *
 * A session loads the file once per FETCH (only what was appended since
 * its last look; a FETCH of few messages does not load a large file),
 * answers ENVELOPE from it without opening the message,
 * and appends what it computed in one write(2) at the end of the command,
 * under a non-blocking flock(2) of the file (a busy cache is not written
 * this time: nothing waits).  A damaged record (bad framing, number or
 * hash) ends the reading: the records before it are used, and the next
 * writer rebuilds the file from the good records of messages still in
 * the folder, as it does when more than half the file is records of
 * expunged or replaced messages, or the file would pass
 * IMAP_ENVCACHE_MAX.  A rebuild writes a new file and renames it into
 * place.
 */
#ifndef ISPMAIL_IMAP_ENVCACHE_H
#define ISPMAIL_IMAP_ENVCACHE_H

#include <stddef.h>
#include <stdint.h>

#define IMAP_ENVCACHE_NAME "ispmail-envcache"
/* The largest cache file read or written. */
#define IMAP_ENVCACHE_MAX ((size_t) 64 * 1024 * 1024)
/* The largest envelope kept in it (longer ones are computed each time). */
#define IMAP_ENVCACHE_ENTRY_MAX ((size_t) 64 * 1024)

struct imap_envcache;
struct imap_msg;

struct imap_envcache *imap_envcache_new(void);
void imap_envcache_free(struct imap_envcache **cachep);

/*
 * Read what the folder's cache file got since the last call (all of it
 * the first time, or when it was replaced).  -1, reading nothing, when
 * that would be all of a file larger than max_read: a FETCH of a few
 * messages is cheaper from their files than from a large cache.
 */
int imap_envcache_refresh(struct imap_envcache *cache, const char *dir,
	size_t max_read);
/*
 * What a FETCH of n messages may read of the cache at once: a header
 * block (FETCH_HEADER_READ) per message is what reading them costs.
 */
#define IMAP_ENVCACHE_READ_PER_MSG ((size_t) 16 * 1024)

/*
 * Read a cache file's contents, replacing what cache holds; for tests and
 * the fuzz target.  The number of records read; *damaged_r is 1 when
 * reading stopped at a damaged record or a bad header.
 */
size_t imap_envcache_load(struct imap_envcache *cache, const char *data,
	size_t len, int *damaged_r);

/* The envelope of base with this size and mtime; NULL when not cached. */
const char *imap_envcache_get(const struct imap_envcache *cache,
	const char *base, size_t base_len, uint64_t size, uint64_t mtime,
	size_t *len_r);

/* Remember an envelope just computed (written by imap_envcache_flush). */
void imap_envcache_put(struct imap_envcache *cache, const char *base,
	size_t base_len, uint64_t size, uint64_t mtime, const char *env,
	size_t env_len);

/*
 * Append the remembered envelopes to the folder's file, or rebuild it
 * from the records of msgs (the folder's messages) when it is damaged,
 * mostly dead or too large.  Failures are logged, never fatal.
 */
void imap_envcache_flush(struct imap_envcache *cache, const char *dir,
	const struct imap_msg *msgs, size_t count);

#endif

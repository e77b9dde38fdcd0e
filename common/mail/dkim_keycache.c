/* dkim_keycache: parsed DKIM private keys, reread on change (see .h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "dkim_keycache.h"
#include "xalloc.h"

/* What tells one version of a key file from the next. */
struct key_file_id {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
};

struct key_entry {
	char *path;
	enum dkim_key_type type;
	struct key_file_id id;
	EVP_PKEY *key;
	unsigned long long used;	/* tick of the last request */
};

struct dkim_keycache {
	struct key_entry *entries;
	size_t count, max;
	unsigned long long tick;
	size_t loads;
};

/* What secure_heap_init() got: -1 not tried, 0 none, 1 locked, 2 not. */
static int secure_heap = -1;

/*
 * OpenSSL's secure heap for the keys of a cache of max entries, once per
 * process: private numbers go there when a key is parsed (and PEM's
 * decoded bytes while it is), in pages that are never swapped (when the
 * memlock limit allows), left out of core dumps and fenced by guard
 * pages.  Sized for max of the largest keys taken plus one file's
 * decoding, a power of two (OpenSSL's buddy allocator wants one).
 */
static void
secure_heap_init(size_t max)
{
	size_t want = max * DKIM_KEYCACHE_SECURE_PER_KEY +
	    2 * DKIM_KEYCACHE_FILE_MAX, size = 65536;

	if (secure_heap >= 0)
		return;
	if (CRYPTO_secure_malloc_initialized()) {
		secure_heap = 1;
		return;
	}
	while (size < want && size < DKIM_KEYCACHE_SECURE_HEAP_MAX)
		size *= 2;
	secure_heap = CRYPTO_secure_malloc_init(size, 16);
}

int
dkim_keycache_secure_heap(void)
{
	return secure_heap < 0 ? 0 : secure_heap;
}

struct dkim_keycache *
dkim_keycache_new(size_t max)
{
	struct dkim_keycache *c = xcalloc(1, sizeof(*c));

	secure_heap_init(max > 0 ? max : 1);

	c->max = max > 0 ? max : 1;
	c->entries = xcalloc(c->max, sizeof(*c->entries));
	return c;
}

static void
entry_clear(struct key_entry *e)
{
	EVP_PKEY_free(e->key);
	free(e->path);
	memset(e, 0, sizeof(*e));
}

/* Remove entry i, keeping the others packed. */
static void
entry_drop(struct dkim_keycache *c, size_t i)
{
	entry_clear(&c->entries[i]);
	c->entries[i] = c->entries[--c->count];
	memset(&c->entries[c->count], 0, sizeof(c->entries[c->count]));
}

void
dkim_keycache_free(struct dkim_keycache **cp)
{
	struct dkim_keycache *c = *cp;
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->count; i++)
		entry_clear(&c->entries[i]);
	free(c->entries);
	free(c);
	*cp = NULL;
}

size_t
dkim_keycache_loads(const struct dkim_keycache *c)
{
	return c->loads;
}

static void
file_id_of(const struct stat *st, struct key_file_id *id)
{
	memset(id, 0, sizeof(*id));
	id->dev = st->st_dev;
	id->ino = st->st_ino;
	id->size = st->st_size;
	id->mtime = st->st_mtim;
	id->ctime = st->st_ctim;
}

static int
file_id_same(const struct key_file_id *a, const struct key_file_id *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	    a->mtime.tv_sec == b->mtime.tv_sec &&
	    a->mtime.tv_nsec == b->mtime.tv_nsec &&
	    a->ctime.tv_sec == b->ctime.tv_sec &&
	    a->ctime.tv_nsec == b->ctime.tv_nsec;
}

/* No passphrase: never let OpenSSL prompt on a terminal. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void) buf;
	(void) size;
	(void) rwflag;
	(void) u;
	return 0;
}

/* OpenSSL's reason for the last failure, as a new string. */
static char *
openssl_reason(const char *what, const char *path)
{
	char reason[256];
	unsigned long e = ERR_peek_last_error();

	if (e == 0)
		snprintf(reason, sizeof(reason), "no key found");
	else
		ERR_error_string_n(e, reason, sizeof(reason));
	ERR_clear_error();
	return xasprintf("%s %s: %s", what, path, reason);
}

/* Parse text as a private key of type; NULL with *error_r. */
static EVP_PKEY *
key_parse(const char *path, const char *text, size_t len,
	enum dkim_key_type type, char **error_r)
{
	BIO *bio = BIO_new_mem_buf(text, (int) len);
	EVP_PKEY *key;

	if (bio == NULL) {
		*error_r = openssl_reason("parse", path);
		return NULL;
	}
	key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	BIO_free(bio);
	if (key == NULL) {
		*error_r = openssl_reason("parse", path);
		return NULL;
	}
	if (type == DKIM_KEY_ED25519 ? !EVP_PKEY_is_a(key, "ED25519") :
	    !EVP_PKEY_is_a(key, "RSA")) {
		*error_r = xasprintf("%s: not an %s key", path,
		    type == DKIM_KEY_ED25519 ? "Ed25519" : "RSA");
		EVP_PKEY_free(key);
		return NULL;
	}
	if (type == DKIM_KEY_RSA && (EVP_PKEY_get_bits(key) < 1024 ||
	    EVP_PKEY_get_bits(key) > DKIM_KEYCACHE_RSA_BITS_MAX)) {
		*error_r = xasprintf("%s: RSA key of %d bits (RFC 8301: at "
		    "least 1024; verifiers need not take more than %d)", path,
		    EVP_PKEY_get_bits(key), DKIM_KEYCACHE_RSA_BITS_MAX);
		EVP_PKEY_free(key);
		return NULL;
	}
	return key;
}

/*
 * Read and parse the key file; its identity from the open file, so that
 * what is remembered is what was read.  NULL with *error_r.
 */
static EVP_PKEY *
key_load(const char *path, enum dkim_key_type type, struct key_file_id *id,
	char **error_r)
{
	struct stat st;
	EVP_PKEY *key = NULL;
	char *text;
	size_t got = 0, want;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		*error_r = xasprintf("open %s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0) {
		*error_r = xasprintf("fstat %s: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > DKIM_KEYCACHE_FILE_MAX) {
		*error_r = xasprintf("%s: %s", path, !S_ISREG(st.st_mode) ?
		    "not a regular file" : "too big for a key");
		close(fd);
		return NULL;
	}
	/* One byte more than fstat said: a file growing meanwhile fails. */
	want = (size_t) st.st_size + 1;
	text = xmalloc(want);
	while (got < want && (n = read(fd, text + got, want - got)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*error_r = xasprintf("read %s: %s", path,
			    strerror(errno));
			goto out;
		}
		got += (size_t) n;
	}
	if (got != (size_t) st.st_size) {
		*error_r = xasprintf("%s: changed while being read", path);
		goto out;
	}
	key = key_parse(path, text, got, type, error_r);
	if (key != NULL)
		file_id_of(&st, id);
out:
	OPENSSL_cleanse(text, want);
	free(text);
	close(fd);
	return key;
}

/* The least recently used entry's index (the cache is full). */
static size_t
entry_oldest(const struct dkim_keycache *c)
{
	size_t i, oldest = 0;

	for (i = 1; i < c->count; i++)
		if (c->entries[i].used < c->entries[oldest].used)
			oldest = i;
	return oldest;
}

EVP_PKEY *
dkim_keycache_get(struct dkim_keycache *c, const char *path,
	enum dkim_key_type type, int *loaded_r, char **error_r)
{
	struct key_file_id now, id;
	struct key_entry *e = NULL;
	struct stat st;
	EVP_PKEY *key;
	char *why = NULL;
	size_t i;

	if (loaded_r != NULL)
		*loaded_r = 0;
	for (i = 0; i < c->count; i++)
		if (c->entries[i].type == type &&
		    strcmp(c->entries[i].path, path) == 0)
			break;
	if (lstat(path, &st) < 0)
		why = xasprintf("stat %s: %s", path, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		why = xasprintf("%s: not a regular file", path);
	if (why != NULL) {
		/* Gone or replaced by something else: forget the key. */
		*error_r = why;
		if (i < c->count)
			entry_drop(c, i);
		return NULL;
	}
	file_id_of(&st, &now);
	if (i < c->count && file_id_same(&c->entries[i].id, &now)) {
		e = &c->entries[i];
		e->used = ++c->tick;
		EVP_PKEY_up_ref(e->key);
		return e->key;
	}
	key = key_load(path, type, &id, error_r);
	if (key == NULL) {
		if (i < c->count)
			entry_drop(c, i);
		return NULL;
	}
	c->loads++;
	if (loaded_r != NULL)
		*loaded_r = 1;
	if (i < c->count)
		entry_clear(&c->entries[i]);
	else if (c->count < c->max)
		i = c->count++;
	else
		entry_clear(&c->entries[i = entry_oldest(c)]);
	e = &c->entries[i];
	e->path = xstrdup(path);
	e->type = type;
	e->id = id;
	e->key = key;
	e->used = ++c->tick;
	EVP_PKEY_up_ref(key);
	return key;
}

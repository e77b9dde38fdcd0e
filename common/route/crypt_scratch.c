/*
 * crypt_scratch: libcrypt's scratch region kept between hashes; see
 * crypt_scratch.h.
 */
#include "config.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>

#include "crypt_scratch.h"

/* Smaller maps are not yescrypt's region (crypt_data is 32 KiB). */
#define CRYPT_SCRATCH_MIN (1024 * 1024)

typedef void *(*crypt_scratch_mmap_fn)(void *, size_t, int, int, int,
	off_t);
typedef int (*crypt_scratch_munmap_fn)(void *, size_t);

static int scratch_keep;
/* The kept region, wiped and MADV_FREE'd; any thread may take it. */
static pthread_mutex_t scratch_lock = PTHREAD_MUTEX_INITIALIZER;
static void *scratch_base;
static size_t scratch_len;
/* This thread is inside a hash; the region it mapped there. */
static _Thread_local int scratch_in_hash;
static _Thread_local void *scratch_made;
static _Thread_local size_t scratch_made_len;

/*
 * The definitions crypt_scratch_hooks.c stands in front of, found at the
 * first call.  No logging in here: these run inside any library's mmap()
 * call, the logger's included.
 */
static struct {
	crypt_scratch_mmap_fn mmap;
	crypt_scratch_munmap_fn munmap;
} next;

static void
next_resolve(void)
{
	if (next.mmap != NULL && next.munmap != NULL)
		return;
	next.mmap = (crypt_scratch_mmap_fn) dlsym(RTLD_NEXT, "mmap");
	next.munmap = (crypt_scratch_munmap_fn) dlsym(RTLD_NEXT, "munmap");
	if (next.mmap == NULL || next.munmap == NULL)
		abort();
}

static void *
next_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t offset)
{
	next_resolve();
	return next.mmap(addr, len, prot, flags, fd, offset);
}

static int
next_munmap(void *addr, size_t len)
{
	next_resolve();
	return next.munmap(addr, len);
}

/* The kept region if it has len bytes; one of another size goes. */
static void *
scratch_take(size_t len)
{
	void *base = NULL, *stale = NULL;
	size_t stale_len = 0;

	pthread_mutex_lock(&scratch_lock);
	if (scratch_base != NULL && scratch_len == len)
		base = scratch_base;
	else if (scratch_base != NULL) {
		stale = scratch_base;
		stale_len = scratch_len;
	}
	scratch_base = NULL;
	pthread_mutex_unlock(&scratch_lock);
	if (stale != NULL)
		(void) next_munmap(stale, stale_len);
	return base;
}

/* Keep a region libcrypt is done with: 0 kept, -1 unmap it. */
static int
scratch_put(void *base, size_t len)
{
	int kept = 0;

	explicit_bzero(base, len);
	if (madvise(base, len, MADV_FREE) < 0)
		return -1;
	pthread_mutex_lock(&scratch_lock);
	if (scratch_keep && scratch_base == NULL) {
		scratch_base = base;
		scratch_len = len;
		kept = 1;
	}
	pthread_mutex_unlock(&scratch_lock);
	return kept ? 0 : -1;
}

void *
crypt_scratch_mmap(void *addr, size_t len, int prot, int flags, int fd,
	off_t offset)
{
	int keep = __atomic_load_n(&scratch_keep, __ATOMIC_RELAXED);
	void *base;

	if (!scratch_in_hash || !keep || addr != NULL || fd != -1 ||
	    offset != 0 || prot != (PROT_READ | PROT_WRITE) ||
	    flags != (MAP_PRIVATE | MAP_ANONYMOUS) || len < CRYPT_SCRATCH_MIN)
		return next_mmap(addr, len, prot, flags, fd, offset);
	base = scratch_take(len);
	if (base == NULL)
		base = next_mmap(addr, len, prot, flags, fd, offset);
	if (base != MAP_FAILED) {
		scratch_made = base;
		scratch_made_len = len;
	}
	return base;
}

int
crypt_scratch_munmap(void *addr, size_t len)
{
	if (scratch_in_hash && addr != NULL && addr == scratch_made &&
	    len == scratch_made_len) {
		scratch_made = NULL;
		if (scratch_put(addr, len) == 0)
			return 0;
	}
	return next_munmap(addr, len);
}

void
crypt_scratch_keep(int keep)
{
	void *base;
	size_t len;

	pthread_mutex_lock(&scratch_lock);
	scratch_keep = keep;
	base = keep ? NULL : scratch_base;
	len = scratch_len;
	if (!keep)
		scratch_base = NULL;
	pthread_mutex_unlock(&scratch_lock);
	if (base != NULL)
		(void) next_munmap(base, len);
}

void
crypt_scratch_enter(void)
{
	scratch_in_hash = 1;
	scratch_made = NULL;
}

void
crypt_scratch_leave(void)
{
	scratch_in_hash = 0;
	scratch_made = NULL;
}

void *
crypt_scratch_kept(size_t *len_r)
{
	void *base;

	pthread_mutex_lock(&scratch_lock);
	base = scratch_base;
	*len_r = base != NULL ? scratch_len : 0;
	pthread_mutex_unlock(&scratch_lock);
	return base;
}

/*
 * crypt_scratch_hooks: the mmap() and munmap() of a daemon that keeps
 * libcrypt's scratch region between hashes (crypt_scratch.h).  Linked
 * into popd, authd and check_route_auth only, never into libispmail: no
 * other program's mmap() calls go through it.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/types.h>

#include "crypt_scratch.h"

void *
mmap(void *addr, size_t len, int prot, int flags, int fd, off_t offset)
{
	return crypt_scratch_mmap(addr, len, prot, flags, fd, offset);
}

int
munmap(void *addr, size_t len)
{
	return crypt_scratch_munmap(addr, len);
}

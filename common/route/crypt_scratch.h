/*
 * crypt_scratch: libcrypt's hashing memory kept from one login to the
 * next in daemons that check many passwords.
 *
 * yescrypt (libxcrypt) maps a scratch region of 16 MiB (at the default
 * cost) for every hash and unmaps it afterwards, so the kernel finds,
 * charges, zeroes and frees 4,096 pages per login: about 8 ms of system
 * time next to 12 ms of hashing.  In a process that called
 * crypt_scratch_keep(1), the region libcrypt unmaps inside
 * crypt_scratch_enter()/crypt_scratch_leave() is instead wiped
 * (explicit_bzero: nothing derived from a password outlives its hash,
 * and mmap()'s promise of zeroed memory holds for the next hash), handed
 * to the kernel with MADV_FREE (it takes the pages back without swap
 * when memory is short, otherwise they stay) and given to libcrypt's
 * next mmap() of the same size.  The hash is libcrypt's own: same
 * algorithm, cost and result; only where its memory comes from changes.
 *
 * How: crypt_scratch_hooks.c defines mmap() and munmap(); it is linked
 * only into the daemons that keep the region (popd, authd), not into
 * libispmail.  An executable's definitions come before libc's for the
 * calls of the libraries it loads (ELF symbol interposition), so
 * libcrypt's calls land there, in crypt_scratch_mmap() and
 * crypt_scratch_munmap().  They act only on the thread inside
 * crypt_scratch_enter(), only on
 * anonymous private read-write maps of at least 1 MiB without an
 * address, and on the unmap of the very region mapped inside it; every
 * other call goes to the next definition (libc's, or a sanitizer's).
 * One region per process; a hash of another size (another cost) gets a
 * fresh region and the old one is unmapped.
 */
#ifndef ISPMAIL_CRYPT_SCRATCH_H
#define ISPMAIL_CRYPT_SCRATCH_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Keep the region between hashes (1) or not (0, the default; unmaps it).
 * Only an executable linked with crypt_scratch_hooks.c sees the region.
 */
void crypt_scratch_keep(int keep);

/* Bracket one crypt call on this thread (not nested). */
void crypt_scratch_enter(void);
void crypt_scratch_leave(void);

/*
 * mmap() and munmap() as crypt_scratch_hooks.c defines them: the kept
 * region inside a hash, else the next definition (libc's).
 */
void *crypt_scratch_mmap(void *addr, size_t len, int prot, int flags,
	int fd, off_t offset);
int crypt_scratch_munmap(void *addr, size_t len);

/* The region kept now (NULL: none), its size in *len_r: for tests. */
void *crypt_scratch_kept(size_t *len_r);

#endif

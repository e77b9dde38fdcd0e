/*
 * smtpd_poison: the failed-scan count per message (smtpd_filter.h),
 * one small file per SHA-256 in queue_directory/filter/poison, updated
 * under flock(2) so every smtpd shares it and it survives restarts.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "log.h"
#include "mail_params.h"
#include "smtpd_poison.h"
#include "xalloc.h"

void
smtpd_poison_hash(const void *data, size_t len, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;

	if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != 32)
		log_panic("EVP_Digest(sha256) failed");
	for (i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

/* The entry for hex, opened and locked; -1 (logged) when impossible. */
static int
smtpd_poison_open(const char *hex)
{
	char *dir, *path;
	int fd;

	dir = xasprintf("%s/filter/poison", var_queue_directory);
	(void) mkdir(dir, 0700);
	path = xasprintf("%s/%s", dir, hex);
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		log_warn("open %s: %s", path, strerror(errno));
	else if (flock(fd, LOCK_EX) < 0) {
		log_warn("flock %s: %s", path, strerror(errno));
		close(fd);
		fd = -1;
	}
	free(dir);
	free(path);
	return fd;
}

/* The count in fd, 0 when empty or older than filter_poison_time. */
static long long
smtpd_poison_read(int fd)
{
	char text[32];
	struct stat st;
	ssize_t n;

	if (fstat(fd, &st) < 0 || st.st_size == 0 ||
	    time(NULL) - st.st_mtime > var_filter_poison_time)
		return 0;
	n = pread(fd, text, sizeof(text) - 1, 0);
	if (n <= 0)
		return 0;
	text[n] = '\0';
	return strtoll(text, NULL, 10);
}

static void
smtpd_poison_write(int fd, long long count)
{
	char text[32];
	int n;

	n = snprintf(text, sizeof(text), "%lld\n", count);
	if (ftruncate(fd, 0) < 0 || pwrite(fd, text, (size_t) n, 0) != n)
		log_warn("poison table write: %s", strerror(errno));
}

long long
smtpd_poison_add(const char *hex, long long delta)
{
	long long count;
	int fd;

	fd = smtpd_poison_open(hex);
	if (fd < 0)
		return 0;
	count = smtpd_poison_read(fd) + delta;
	if (count < 0)
		count = 0;
	if (delta != 0) {
		if (count == 0) {
			char *path = xasprintf("%s/filter/poison/%s",
			    var_queue_directory, hex);

			(void) unlink(path);
			free(path);
		} else {
			smtpd_poison_write(fd, count);
		}
	}
	close(fd);
	return count;
}

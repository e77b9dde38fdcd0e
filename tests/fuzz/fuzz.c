/* fuzz: the shared set-up of the fuzz targets (fuzz.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "log.h"
#include "params.h"
#include "stream.h"
#include "xalloc.h"

static char *fuzz_tmp;
static int fuzz_null_fd = -1;

static int
fuzz_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void) st;
	(void) flag;
	(void) ftw;
	return remove(path);
}

static void
fuzz_cleanup(void)
{
	if (fuzz_tmp != NULL)
		(void) nftw(fuzz_tmp, fuzz_rm, 16, FTW_DEPTH | FTW_PHYS);
}

void
fuzz_init(void)
{
	const char *tmp = getenv("TMPDIR");
	char *dir;

	if (fuzz_tmp != NULL)
		return;
	params_init();
	log_init("fuzz", LOG_TARGET_STDERR, NULL);
	fuzz_null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fuzz_null_fd < 0) {
		perror("fuzz: /dev/null");
		exit(2);
	}
	if (getenv("FUZZ_LOG") == NULL)
		log_set_stderr_fd(fuzz_null_fd);
	dir = xasprintf("%s/ispmail-fuzz.XXXXXX",
	    tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL) {
		perror("fuzz: mkdtemp");
		exit(2);
	}
	fuzz_tmp = dir;
	atexit(fuzz_cleanup);
}

const char *
fuzz_dir(void)
{
	return fuzz_tmp;
}

static ssize_t
fuzz_read(void *ctx, void *data, size_t len, int *want_write_r)
{
	struct fuzz_input *in = ctx;
	size_t n = in->len - in->pos;

	*want_write_r = 0;
	if (n > len)
		n = len;
	if (in->chunk > 0 && n > in->chunk)
		n = in->chunk;
	memcpy(data, in->data + in->pos, n);
	in->pos += n;
	return (ssize_t) n;
}

static ssize_t
fuzz_write(void *ctx, const void *data, size_t len, int *want_read_r)
{
	(void) ctx;
	(void) data;
	*want_read_r = 0;
	return (ssize_t) len;
}

/* Nothing is ever held back: no pending hook. */
static const struct stream_transport fuzz_transport = {
	.read = fuzz_read,
	.write = fuzz_write,
	.pending = NULL,
};

struct stream *
fuzz_stream_new(struct fuzz_input *in, const void *data, size_t len,
	size_t chunk)
{
	struct stream *s;

	in->data = data;
	in->len = len;
	in->chunk = chunk;
	in->pos = 0;
	/* The fd is never used: the transport moves every byte. */
	s = stream_new(fuzz_null_fd, 1000, 1000);
	stream_set_transport(s, &fuzz_transport, in);
	return s;
}

char *
fuzz_strndup(const void *data, size_t len)
{
	char *s = xmalloc(len + 1);

	memcpy(s, data, len);
	s[len] = '\0';
	return s;
}

void
fuzz_write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || (len > 0 && fwrite(data, 1, len, f) != len) ||
	    fclose(f) != 0) {
		fprintf(stderr, "fuzz: %s: %s\n", path, strerror(errno));
		exit(2);
	}
}

/*
 * fuzz: what the libFuzzer targets of tests/fuzz share.
 *
 * Each target is one fuzz_<name>.c defining LLVMFuzzerTestOneInput();
 * build.sh links it with libispmail (and the daemon sources it needs)
 * under clang -fsanitize=fuzzer,address,undefined.  A target must not
 * leak, must not keep state between inputs that changes what the next
 * input does, and must run an input in well under a second.
 */
#ifndef ISPMAIL_FUZZ_H
#define ISPMAIL_FUZZ_H

#include <stddef.h>
#include <stdint.h>

struct stream;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Once per process (later calls do nothing): parameter defaults, logs
 * to /dev/null (FUZZ_LOG=1 in the environment keeps them on stderr),
 * and a private directory under $TMPDIR removed at exit.
 */
void fuzz_init(void);
/* The private directory made by fuzz_init(). */
const char *fuzz_dir(void);

/* Where a fuzz stream reads from (a plain record, the caller's). */
struct fuzz_input {
	const unsigned char *data;
	size_t len;
	size_t pos;
	size_t chunk;
};

/*
 * A stream that reads data/len (not copied: keep it and *in valid while
 * the stream lives) in pieces of at most chunk bytes (0: as much as
 * asked), then EOF; what is written to it is dropped.  Free it with
 * stream_free().
 */
struct stream *fuzz_stream_new(struct fuzz_input *in, const void *data,
	size_t len, size_t chunk);

/* A NUL-terminated copy of data/len (NUL bytes inside kept). */
char *fuzz_strndup(const void *data, size_t len);
/* Replace path's contents with data/len; exits on failure. */
void fuzz_write_file(const char *path, const void *data, size_t len);

#endif

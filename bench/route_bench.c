/*
 * route-bench: time route_lookup(), smtpd's RCPT check
 * (route_lookup_recipient), an existence check (the same with no field)
 * or route_expand() over a key file.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "mail_params.h"
#include "params.h"
#include "route.h"
#include "xalloc.h"

/* The largest key file we read: 1M addresses of 60 bytes each. */
#define ROUTE_BENCH_KEYFILE_MAX (64 * 1024 * 1024)
/* The longest key: RFC 5321 section 4.5.3.1.3 (path) */
#define ROUTE_BENCH_KEY_MAX 256
/* Lookups when -n is not given, and the most -n takes. */
#define ROUTE_BENCH_DEFAULT_LOOKUPS 100000
#define ROUTE_BENCH_MAX_LOOKUPS 1000000000LL

struct route_bench_counts {
	long long found;
	long long notfound;
	long long tempfail;
};

static void
route_bench_usage(void)
{
	fprintf(stderr, "usage: route-bench -c CONFIG_DIR -k KEYFILE "
	    "[-n LOOKUPS] [-e | -r | -x] [-w]\n");
	exit(2);
}

static double
route_bench_now(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		log_fatal("clock_gettime: %s", strerror(errno));
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* Defaults, config_directory, then CONFIG_DIR/main.conf (which must exist). */
static void
route_bench_load_params(const char *config_dir)
{
	char *path, *error = NULL;

	params_init();
	if (params_set("config_directory", config_dir, &error) < 0)
		log_fatal("-c %s: %s", config_dir, error);
	path = xasprintf("%s/main.conf", config_dir);
	if (params_read_file(path, 0, &error) < 0)
		log_fatal("%s", error);
	free(path);
}

/*
 * Read the key file whole into *text_r and index its lines in place: one
 * address a line, empty lines skipped.  Returns the key array (NULL-
 * terminated, pointing into *text_r) and *count_r.  Bad input is fatal:
 * a benchmark with a damaged key set measures nothing.
 */
static char **
route_bench_read_keys(const char *path, struct buf **text_r, size_t *count_r)
{
	struct buf *text = buf_new(ROUTE_BENCH_KEYFILE_MAX);
	char chunk[65536], *line, *end, *limit, **keys = NULL;
	size_t count = 0, alloc = 0, len;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		log_fatal("open %s: %s", path, strerror(errno));
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			log_fatal("read %s: %s", path, strerror(errno));
		if (n == 0)
			break;
		if (buf_append(text, chunk, (size_t) n) < 0)
			log_fatal("%s: larger than %d bytes", path,
			    ROUTE_BENCH_KEYFILE_MAX);
	}
	(void) close(fd);
	line = buf_data(text);
	limit = line + buf_len(text);
	for (; line < limit; line = end + 1) {
		end = memchr(line, '\n', (size_t) (limit - line));
		if (end == NULL)
			end = limit;
		len = (size_t) (end - line);
		if (len > 0 && line[len - 1] == '\r')
			len--;
		if (memchr(line, '\0', len) != NULL)
			log_fatal("%s: line %zu: NUL byte", path, count + 1);
		if (len > ROUTE_BENCH_KEY_MAX)
			log_fatal("%s: line %zu: longer than %d bytes", path,
			    count + 1, ROUTE_BENCH_KEY_MAX);
		if (len == 0)
			continue;
		line[len] = '\0';
		if (count + 1 >= alloc) {
			alloc = alloc == 0 ? 1024 : xalloc_mul(alloc, 2);
			keys = xreallocarray(keys, alloc, sizeof(*keys));
		}
		keys[count++] = line;
		keys[count] = NULL;
	}
	if (count == 0)
		log_fatal("%s: no keys", path);
	*text_r = text;
	*count_r = count;
	return keys;
}

/* What route_bench_one does with a key. */
enum route_bench_mode {
	ROUTE_BENCH_LOOKUP,	/* route_lookup(): every field */
	ROUTE_BENCH_RCPT,	/* smtpd's RCPT check: ROUTE_FIELDS_RCPT */
	ROUTE_BENCH_EXISTS,	/* the same with no field: postmap's question */
	ROUTE_BENCH_EXPAND,	/* route_expand() */
};

/* One lookup (or expansion) of key, counted. */
static void
route_bench_one(struct route *r, const char *key, enum route_bench_mode mode,
	struct route_bench_counts *counts)
{
	struct route_answer *answer = NULL;
	struct route_expansion *exp = NULL;
	char *error = NULL;
	int rc;

	if (mode == ROUTE_BENCH_RCPT || mode == ROUTE_BENCH_EXISTS) {
		/* As smtpd_check_rcpt asks: found is "ours and exists". */
		rc = route_lookup_recipient(r, key, mode == ROUTE_BENCH_RCPT
		    ? ROUTE_FIELDS_RCPT : 0, NULL, &answer, &error);
		if (rc > 0 && answer == NULL)
			rc = 0;
		route_answer_free(&answer);
	} else if (mode == ROUTE_BENCH_EXPAND) {
		switch (route_expand(r, key, &exp, &error)) {
		case ROUTE_EXPAND_OK:
			rc = 1;
			break;
		case ROUTE_EXPAND_TEMPFAIL:
			rc = -1;
			break;
		default:
			/* UNKNOWN and LOOP are both final answers. */
			rc = 0;
			break;
		}
		route_expansion_free(&exp);
	} else {
		rc = route_lookup(r, key, &answer, &error);
		route_answer_free(&answer);
	}
	if (rc > 0) {
		counts->found++;
	} else if (rc == 0) {
		counts->notfound++;
	} else if (counts->tempfail++ == 0) {
		/* Say why once: the run is void anyway (exit 1). */
		log_error("%s: temporary failure: %s", key,
		    error != NULL ? error : "(no reason given)");
	}
	free(error);
}

int
main(int argc, char **argv)
{
	const char *config_dir = NULL, *key_path = NULL;
	struct route_bench_counts first = { 0, 0, 0 };
	struct route_bench_counts counts = { 0, 0, 0 };
	struct buf *key_text = NULL;
	struct route *r;
	char **keys, *error = NULL, *end;
	double open_start, loaded, timed_start, done, seconds;
	long long lookups = ROUTE_BENCH_DEFAULT_LOOKUPS, i;
	size_t key_count;
	enum route_bench_mode mode = ROUTE_BENCH_LOOKUP;
	int ch, warm = 0;

	log_init("route-bench", LOG_TARGET_STDERR, NULL);
	while ((ch = getopt(argc, argv, "c:k:n:erwx")) != -1) {
		switch (ch) {
		case 'c':
			config_dir = optarg;
			break;
		case 'k':
			key_path = optarg;
			break;
		case 'n':
			errno = 0;
			lookups = strtoll(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0'
			    || lookups < 1 || lookups > ROUTE_BENCH_MAX_LOOKUPS)
				log_fatal("-n %s: want a number from 1 to %lld",
				    optarg, ROUTE_BENCH_MAX_LOOKUPS);
			break;
		case 'e':
			mode = ROUTE_BENCH_EXPAND;
			break;
		case 'r':
			mode = ROUTE_BENCH_RCPT;
			break;
		case 'w':
			warm = 1;
			break;
		case 'x':
			mode = ROUTE_BENCH_EXISTS;
			break;
		default:
			route_bench_usage();
		}
	}
	if (config_dir == NULL || key_path == NULL || optind != argc)
		route_bench_usage();
	route_bench_load_params(config_dir);
	keys = route_bench_read_keys(key_path, &key_text, &key_count);

	/*
	 * load: open plus the first lookup, which is when the file backend
	 * parses its map and the LDAP backend connects and binds.  It is
	 * left out of the rate, which is the steady state a daemon sees.
	 */
	open_start = route_bench_now();
	if ((r = route_open(&error)) == NULL)
		log_fatal("route_open: %s", error);
	route_bench_one(r, keys[0], mode, &first);
	if (first.tempfail > 0)
		log_fatal("the first lookup failed temporarily: is the "
		    "directory up and main.conf right?");
	loaded = route_bench_now();
	/* -w: one untimed pass over the keys, so a cache is warm. */
	for (i = 0; warm && (size_t) i < key_count; i++)
		route_bench_one(r, keys[i], mode, &first);
	if (first.tempfail > 0)
		log_fatal("the warm-up pass failed temporarily");
	timed_start = route_bench_now();
	for (i = 0; i < lookups; i++)
		route_bench_one(r, keys[(size_t) i % key_count], mode,
		    &counts);
	done = route_bench_now();
	seconds = done - timed_start;
	printf("lookups=%lld seconds=%.6f rate=%.1f found=%lld notfound=%lld "
	    "tempfail=%lld load=%.6f backend=%s\n", lookups, seconds,
	    seconds > 0 ? (double) lookups / seconds : 0.0, counts.found,
	    counts.notfound, counts.tempfail, loaded - open_start,
	    route_backend_name(r));
	route_close(&r);
	free(keys);
	buf_free(&key_text);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		perror("route-bench: standard output");
		return 1;
	}
	return counts.tempfail > 0 ? 1 : 0;
}

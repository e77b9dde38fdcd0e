/*
 * check_imapd_envcache: the reader and writer of a folder's envelope
 * cache (imap_envcache), a Suite of check_imapd.  Records put read back
 * under their key only; a file cut at any byte or with any byte changed
 * gives only records that were put, with their bytes.
 */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "imap_envcache.h"
#include "xalloc.h"

#include "imapd_suites.h"

#define ENV_COUNT 5

static const char *const bases[ENV_COUNT] = {
	"1700000000.M1P1Q1.host,S=10,W=11",
	"1700000001.M2P1Q1.host",
	"1700000002.M3P1Q1.host,S=3000",
	"1700000003.M4P1Q1.host",
	"x",
};
static const char *const envs[ENV_COUNT] = {
	"(\"Mon, 1 Jan 2024\" \"Hello\" NIL NIL NIL NIL NIL NIL NIL NIL)",
	"(NIL {3}\r\nx\ny NIL NIL NIL NIL NIL NIL NIL NIL)",
	"(NIL \"\\\"E 1 2 3\\\"\" NIL NIL NIL NIL NIL NIL NIL NIL)",
	"",
	"\n\n",
};

/* Put the five envelopes; they are also what the file will hold. */
static struct imap_envcache *
filled(void)
{
	struct imap_envcache *c = imap_envcache_new();
	size_t i;

	for (i = 0; i < ENV_COUNT; i++)
		imap_envcache_put(c, bases[i], strlen(bases[i]), 100 + i,
		    1700000000 + i, envs[i], strlen(envs[i]));
	return c;
}

/* Is every record c has one of those put, with its key and bytes? */
static size_t
check_served(const struct imap_envcache *c)
{
	const char *env;
	size_t i, len, found = 0;

	for (i = 0; i < ENV_COUNT; i++) {
		env = imap_envcache_get(c, bases[i], strlen(bases[i]),
		    100 + i, 1700000000 + i, &len);
		if (env == NULL)
			continue;
		ck_assert_uint_eq(len, strlen(envs[i]));
		ck_assert(memcmp(env, envs[i], len) == 0);
		found++;
		/* Another size or mtime: never served. */
		ck_assert_ptr_null(imap_envcache_get(c, bases[i],
		    strlen(bases[i]), 101 + i, 1700000000 + i, &len));
		ck_assert_ptr_null(imap_envcache_get(c, bases[i],
		    strlen(bases[i]), 100 + i, 1700000001 + i, &len));
	}
	return found;
}

START_TEST(test_envcache_put_get)
{
	struct imap_envcache *c = filled();
	size_t len;

	ck_assert_uint_eq(check_served(c), ENV_COUNT);
	ck_assert_ptr_null(imap_envcache_get(c, "nope", 4, 100, 1700000000,
	    &len));
	/* A later record of a base replaces the earlier one. */
	imap_envcache_put(c, bases[0], strlen(bases[0]), 7, 8, "(X)", 3);
	ck_assert_ptr_nonnull(imap_envcache_get(c, bases[0],
	    strlen(bases[0]), 7, 8, &len));
	ck_assert_ptr_null(imap_envcache_get(c, bases[0], strlen(bases[0]),
	    100, 1700000000, &len));
	/* Names that could break the format are not kept. */
	imap_envcache_put(c, "a b", 3, 1, 1, "(Y)", 3);
	imap_envcache_put(c, "a:2,S", 5, 1, 1, "(Y)", 3);
	ck_assert_ptr_null(imap_envcache_get(c, "a b", 3, 1, 1, &len));
	ck_assert_ptr_null(imap_envcache_get(c, "a:2,S", 5, 1, 1, &len));
	imap_envcache_free(&c);
}
END_TEST

/* The file's bytes for the five records, as a refresh reads them. */
static char *
file_of_filled(size_t *len_r)
{
	char dir[] = "/tmp/check_envcache.XXXXXX", *path, *data;
	struct imap_envcache *c;
	size_t i;
	int fd;
	ssize_t n;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	path = xasprintf("%s/%s", dir, IMAP_ENVCACHE_NAME);
	/* A cache file with no records yet. */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "ispmail-envcache 1\n", 19), 19);
	close(fd);
	/* A session that read it appends its records in one batch. */
	c = imap_envcache_new();
	ck_assert_int_eq(imap_envcache_refresh(c, dir, 19), 0);
	for (i = 0; i < ENV_COUNT; i++)
		imap_envcache_put(c, bases[i], strlen(bases[i]), 100 + i,
		    1700000000 + i, envs[i], strlen(envs[i]));
	imap_envcache_flush(c, dir, NULL, 0);
	imap_envcache_free(&c);
	/* A FETCH of few messages does not read a larger file at once. */
	c = imap_envcache_new();
	ck_assert_int_eq(imap_envcache_refresh(c, dir, 100), -1);
	ck_assert_uint_eq(check_served(c), 0);
	ck_assert_int_eq(imap_envcache_refresh(c, dir, SIZE_MAX), 0);
	ck_assert_uint_eq(check_served(c), ENV_COUNT);
	ck_assert_int_eq(imap_envcache_refresh(c, dir, 100), 0);
	ck_assert_uint_eq(check_served(c), ENV_COUNT);
	imap_envcache_free(&c);
	data = xmalloc(1 << 16);
	fd = open(path, O_RDONLY);
	n = read(fd, data, 1 << 16);
	close(fd);
	ck_assert_int_gt(n, 19);
	unlink(path);
	rmdir(dir);
	free(path);
	*len_r = (size_t) n;
	return data;
}

START_TEST(test_envcache_file_round_trip)
{
	struct imap_envcache *c = imap_envcache_new();
	size_t len;
	char *data = file_of_filled(&len);
	int damaged;

	ck_assert_uint_eq(imap_envcache_load(c, data, len, &damaged),
	    ENV_COUNT);
	ck_assert_int_eq(damaged, 0);
	ck_assert_uint_eq(check_served(c), ENV_COUNT);
	imap_envcache_free(&c);
	free(data);
}
END_TEST

START_TEST(test_envcache_cut_and_changed)
{
	struct imap_envcache *c = imap_envcache_new();
	size_t len, cut, i, n, whole = 0;
	char *data = file_of_filled(&len), *copy = xmalloc(len);
	int damaged;

	/*
	 * Cut at every byte: a prefix of the records; damaged unless the
	 * cut falls at the end of the header or of a record (or at 0).
	 */
	for (cut = 0; cut < len; cut++) {
		n = imap_envcache_load(c, data, cut, &damaged);
		ck_assert_uint_eq(check_served(c), n);
		ck_assert_uint_lt(n, ENV_COUNT);
		whole += !damaged;
	}
	ck_assert_uint_eq(whole, ENV_COUNT + 1);
	/* Any byte changed: never a record with other bytes. */
	for (i = 0; i < len; i++) {
		memcpy(copy, data, len);
		copy[i] ^= 0x01;
		n = imap_envcache_load(c, copy, len, &damaged);
		ck_assert_uint_eq(check_served(c), n);
		ck_assert_uint_lt(n, ENV_COUNT);
		ck_assert_int_eq(damaged, 1);
	}
	imap_envcache_free(&c);
	free(copy);
	free(data);
}
END_TEST

Suite *
imap_envcache_suite(void)
{
	Suite *s = suite_create("imap_envcache");
	TCase *tc = tcase_create("envcache");

	tcase_add_test(tc, test_envcache_put_get);
	tcase_add_test(tc, test_envcache_file_round_trip);
	tcase_add_test(tc, test_envcache_cut_and_changed);
	suite_add_tcase(s, tc);
	return s;
}

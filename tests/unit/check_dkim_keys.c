/* check_dkim_keys: selectors files, which key signs when, bad input. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dkim_keys.h"
#include "store.h"
#include "xalloc.h"

static char dir[] = "/tmp/check_dkim_keys.XXXXXX";

static void
setup(void)
{
	char *d;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	d = xasprintf("%s/ex.test", dir);
	ck_assert_int_eq(mkdir(d, 0700), 0);
	free(d);
}

static void
teardown(void)
{
	char *error = NULL;

	/* Remove the test tree below its own parent (store.h's guard). */
	ck_assert_msg(store_remove(dir, "/tmp", &error) == 0, "%s", error);
	memcpy(dir, "/tmp/check_dkim_keys.XXXXXX", sizeof(dir));
}

static void
write_selectors(const char *text)
{
	char *path = xasprintf("%s/ex.test/selectors", dir);
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	free(path);
}

START_TEST(test_names)
{
	static const struct { const char *s; int ok; } sels[] = {
		{ "s1", 1 }, { "2026r-2", 1 }, { "", 0 }, { "a.b", 0 },
		{ "a_b", 0 }, { "a b", 0 }, { "ä", 0 },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		  0 },
	};
	static const struct { const char *d; int ok; } doms[] = {
		{ "example.test", 1 }, { "a", 1 }, { "", 0 }, { ".a", 0 },
		{ "a..b", 0 }, { "a.", 0 }, { "a/b", 0 }, { "a\nb", 0 },
		{ "../x", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(sels) / sizeof(sels[0]); i++)
		ck_assert_msg(dkim_selector_valid(sels[i].s) == sels[i].ok,
		    "selector %s", sels[i].s);
	for (i = 0; i < sizeof(doms) / sizeof(doms[0]); i++)
		ck_assert_msg(dkim_domain_valid(doms[i].d) == doms[i].ok,
		    "domain %s", doms[i].d);
}
END_TEST

START_TEST(test_missing_is_no_keys)
{
	struct dkim_keyset set;
	char *error = NULL;

	ck_assert_int_eq(dkim_keys_read(dir, "none.test", &set, &error), 0);
	ck_assert_int_eq(dkim_keys_read(dir, "../etc", &set, &error), -1);
	free(error);
}
END_TEST

START_TEST(test_rotation_window)
{
	struct dkim_keyset set;
	char *error = NULL;
	const struct dkim_key *k;

	/* Old RSA key signs until 2000, the new one from 2000. */
	write_selectors("# comment\nold rsa 100 2000\nnew rsa 2000 0\n"
	    "ed ed25519 100 0\n\n");
	ck_assert_int_eq(dkim_keys_read(dir, "ex.test", &set, &error), 1);
	ck_assert_int_eq(set.count, 3);
	k = dkim_keys_signing(&set, DKIM_KEY_RSA, 50);
	ck_assert_ptr_null(k);
	k = dkim_keys_signing(&set, DKIM_KEY_RSA, 1999);
	ck_assert_str_eq(k->selector, "old");
	k = dkim_keys_signing(&set, DKIM_KEY_RSA, 2000);
	ck_assert_str_eq(k->selector, "new");
	k = dkim_keys_signing(&set, DKIM_KEY_ED25519, 5000);
	ck_assert_str_eq(k->selector, "ed");
	/* Written and read back the same. */
	ck_assert_int_eq(dkim_keys_write(dir, "ex.test", &set, &error), 0);
	dkim_keys_clear(&set);
	ck_assert_int_eq(dkim_keys_read(dir, "ex.test", &set, &error), 1);
	ck_assert_int_eq(set.count, 3);
	ck_assert_str_eq(set.keys[1].selector, "new");
	ck_assert_int_eq(set.keys[0].retire, 2000);
	dkim_keys_clear(&set);
}
END_TEST

START_TEST(test_malformed)
{
	static const char *bad[] = {
		"s rsa 1\n", "s rsa 1 0 extra\n", "s dsa 1 0\n",
		"s rsa -1 0\n", "s rsa 1x 0\n", "s.x rsa 1 0\n",
		"s rsa 99999999999999999999 0\n",
	};
	struct dkim_keyset set;
	char *error = NULL;
	size_t i;
	char *many;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_selectors(bad[i]);
		ck_assert_msg(dkim_keys_read(dir, "ex.test", &set, &error) ==
		    -1, "accepted %s", bad[i]);
		ck_assert_ptr_nonnull(error);
		free(error);
		error = NULL;
	}
	/* More than DKIM_KEYS_MAX lines. */
	many = xstrdup("");
	for (i = 0; i <= DKIM_KEYS_MAX; i++) {
		char *next = xasprintf("%ss%zu rsa 1 0\n", many, i);

		free(many);
		many = next;
	}
	write_selectors(many);
	free(many);
	ck_assert_int_eq(dkim_keys_read(dir, "ex.test", &set, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "too many"));
	free(error);
}
END_TEST

START_TEST(test_symlink_refused)
{
	char *path = xasprintf("%s/ex.test/s.key", dir);
	char *error = NULL;

	ck_assert_int_eq(symlink("/etc/passwd", path), 0);
	ck_assert_ptr_null(dkim_key_load(path, &error));
	ck_assert_ptr_nonnull(error);
	free(error);
	free(path);
}
END_TEST

/* A record value: parsed, formatted back, its file's path. */
START_TEST(test_record_value)
{
	static const struct {
		const char *value, *formatted, *path;
	} cases[] = {
		{ "s1:rsa:ex.test/s1.key", "s1:rsa:ex.test/s1.key:0:0",
		  "DIR/ex.test/s1.key" },
		{ "e-1:ed25519:/srv/k/e+1.pem:10:20",
		  "e-1:ed25519:/srv/k/e+1.pem:10:20", "/srv/k/e+1.pem" },
		{ "x:rsa:.hidden_key:0:5", "x:rsa:.hidden_key:0:5",
		  "DIR/.hidden_key" },
	};
	static const char *bad[] = {
		"", "s1", "s1:rsa:f:", "s1:rsa:f:1:", "s1:rsa:f::1", "s1::f",
		"s1:rsa:a b", "s1:rsa:..", "s1:rsa:.", "s1:rsa:./a",
		"s1:rsa:a:b:c:d", "s1:rsa:f:0x10:0", "s1:rsa:f:1 :0",
	};
	struct dkim_key key;
	char *error = NULL, *text, *path, *long_file;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_msg(dkim_key_parse(cases[i].value, &key, &error) ==
		    0, "%s: %s", cases[i].value, error);
		text = dkim_key_format(&key);
		ck_assert_str_eq(text, cases[i].formatted);
		free(text);
		path = dkim_key_file_path("DIR", "ex.test", &key);
		ck_assert_str_eq(path, cases[i].path);
		free(path);
		free(key.selector);
		free(key.file);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(dkim_key_parse(bad[i], &key, &error) == -1,
		    "accepted \"%s\"", bad[i]);
		ck_assert_ptr_null(key.selector);
		ck_assert_ptr_nonnull(error);
		free(error);
		error = NULL;
	}
	/* A selectors-file key (no file): DIR/DOMAIN/SELECTOR.key. */
	key.selector = xstrdup("old");
	key.file = NULL;
	path = dkim_key_file_path("DIR", "ex.test", &key);
	ck_assert_str_eq(path, "DIR/ex.test/old.key");
	free(path);
	free(key.selector);
	/* The file name's cap, and over-long values. */
	long_file = xmalloc(DKIM_KEY_FILE_MAX + 2);
	memset(long_file, 'k', DKIM_KEY_FILE_MAX + 1);
	long_file[DKIM_KEY_FILE_MAX + 1] = '\0';
	ck_assert_int_eq(dkim_key_file_valid(long_file), 0);
	long_file[DKIM_KEY_FILE_MAX] = '\0';
	ck_assert_int_eq(dkim_key_file_valid(long_file), 1);
	text = xasprintf("s:rsa:%s:0:0", long_file);
	ck_assert_int_eq(dkim_key_parse(text, &key, &error), 0);
	free(key.selector);
	free(key.file);
	free(text);
	text = xasprintf("s:rsa:%s%s:0:0", long_file, long_file);
	ck_assert_int_eq(dkim_key_parse(text, &key, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "too long"));
	free(error);
	free(text);
	free(long_file);
}
END_TEST

static Suite *
dkim_keys_suite(void)
{
	Suite *s = suite_create("dkim_keys");
	TCase *tc = tcase_create("keys");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_missing_is_no_keys);
	tcase_add_test(tc, test_rotation_window);
	tcase_add_test(tc, test_malformed);
	tcase_add_test(tc, test_symlink_refused);
	tcase_add_test(tc, test_record_value);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(dkim_keys_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

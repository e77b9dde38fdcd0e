/*
 * check_dkim_domain: a domain's DKIM keys and DMARC policy in its record
 * of the routing directory (file backend: dkim= and dmarc=), written
 * back by provisioning, and where a signer finds the keys (the record,
 * else the old selectors file).
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dkim_domain.h"
#include "log.h"
#include "params.h"
#include "route.h"
#include "store.h"
#include "xalloc.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static char dir[] = "/tmp/check_dkim_domain.XXXXXX";
static char *map_path, *key_dir;

static void
set_param(const char *name, const char *value)
{
	char *error = NULL;

	ck_assert_msg(params_set(name, value, &error) == 0, "%s: %s", name,
	    error);
}

static void
setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(dir));
	map_path = xasprintf("%s/routes", dir);
	key_dir = xasprintf("%s/dkim", dir);
	ck_assert_int_eq(mkdir(key_dir, 0700), 0);
	params_init();
	log_init("check_dkim_domain", LOG_TARGET_STDERR, NULL);
	set_param("route_backend", "file");
	set_param("route_file", map_path);
	set_param("route_file_check_interval", "0");
}

static void
teardown(void)
{
	char *error = NULL;

	ck_assert_msg(store_remove(dir, "/tmp", &error) == 0, "%s", error);
	memcpy(dir, "/tmp/check_dkim_domain.XXXXXX", sizeof(dir));
	xfree(map_path);
	xfree(key_dir);
}

static void
write_file(const char *path, const char *text)
{
	char *tmp = xasprintf("%s.edit", path);
	FILE *fp = fopen(tmp, "w");

	ck_assert_ptr_nonnull(fp);
	ck_assert_int_ge(fputs(text, fp), 0);
	ck_assert_int_eq(fclose(fp), 0);
	ck_assert_int_eq(rename(tmp, path), 0);
	free(tmp);
}

static char *
read_map(void)
{
	FILE *fp = fopen(map_path, "r");
	char *text = NULL;
	size_t size = 0;

	ck_assert_ptr_nonnull(fp);
	ck_assert_int_ge(getdelim(&text, &size, '\0', fp), 0);
	fclose(fp);
	return text;
}

static struct route *
open_route(void)
{
	char *error = NULL;
	struct route *r = route_open(&error);

	ck_assert_msg(r != NULL, "route_open: %s", error);
	return r;
}

static struct route_domain *
get_domain(struct route *r, const char *name)
{
	struct route_domain *d = NULL;
	char *error = NULL;

	ck_assert_msg(route_domain_lookup(r, name, &d, &error) == 1, "%s: %s",
	    name, error);
	return d;
}

START_TEST(test_record_read_and_written)
{
	struct route *r;
	struct route_domain *d;
	struct dkim_keyset set;
	char *error = NULL, *text;

	write_file(map_path, "domain a.test local dmarc=junk\n"
	    "    dkim=s1:rsa:a.test/s1.key:100:2000,"
	    "s2:ed25519:/etc/keys/s%32.key\n"
	    "domain b.test local dmarc=honour\n"
	    "domain c.test relay\n");
	r = open_route();
	d = get_domain(r, "a.test");
	ck_assert_int_eq(d->dmarc, ROUTE_DMARC_JUNK);
	ck_assert_uint_eq(d->dkim_selector_count, 2);
	ck_assert_str_eq(d->dkim_selectors[1], "s2:ed25519:/etc/keys/s2.key");
	ck_assert_ptr_null(d->dkim_selectors[2]);
	ck_assert_int_eq(dkim_keys_from_record(d, &set, &error), 0);
	ck_assert_uint_eq(set.count, 2);
	ck_assert_str_eq(set.keys[0].selector, "s1");
	ck_assert_int_eq(set.keys[0].start, 100);
	ck_assert_int_eq(set.keys[0].retire, 2000);
	ck_assert_int_eq(set.keys[1].type, DKIM_KEY_ED25519);
	ck_assert_int_eq(set.keys[1].start, 0);
	ck_assert_str_eq(set.keys[1].file, "/etc/keys/s2.key");
	/* Written back by provisioning, normalised to five fields. */
	dkim_keys_to_record(&set, d);
	dkim_keys_clear(&set);
	ck_assert_int_eq(route_domain_put(r, d, 0, &error), 0);
	route_domain_free(&d);
	text = read_map();
	ck_assert_msg(strstr(text, "domain a.test local dmarc=junk\n"
	    "    dkim=s1:rsa:a.test/s1.key:100:2000,"
	    "s2:ed25519:/etc/keys/s2.key:0:0\n") != NULL, "%s", text);
	ck_assert_ptr_nonnull(strstr(text, "domain b.test local "
	    "dmarc=honour\n"));
	ck_assert_ptr_nonnull(strstr(text, "domain c.test relay\n"));
	free(text);
	d = get_domain(r, "c.test");
	ck_assert_int_eq(d->dmarc, ROUTE_DMARC_DEFAULT);
	ck_assert_uint_eq(d->dkim_selector_count, 0);
	/* A copy is a deep one. */
	route_domain_free(&d);
	d = get_domain(r, "a.test");
	{
		struct route_domain *copy = route_domain_dup(d);

		route_domain_free(&d);
		ck_assert_str_eq(copy->dkim_selectors[0],
		    "s1:rsa:a.test/s1.key:100:2000");
		ck_assert_int_eq(copy->dmarc, ROUTE_DMARC_JUNK);
		route_domain_free(&copy);
	}
	route_close(&r);
}
END_TEST

static const struct {
	const char *attrs;
	const char *reason;
} bad_records[] = {
	{ "dkim=s1:rsa", "expected SELECTOR:TYPE:FILE" },
	{ "dkim=s1:rsa:f:1", "expected SELECTOR:TYPE:FILE" },
	{ "dkim=s1:rsa:f:1:2:3", "expected SELECTOR:TYPE:FILE" },
	{ "dkim=:rsa:f", "not one DNS label" },
	{ "dkim=s_1:rsa:f", "not one DNS label" },
	{ "dkim=s1:dsa:f", "neither rsa nor ed25519" },
	{ "dkim=s1:RSA:f", "neither rsa nor ed25519" },
	{ "dkim=s1:rsa:", "not a plain path" },
	{ "dkim=s1:rsa:../x.key", "not a plain path" },
	{ "dkim=s1:rsa:a/../x.key", "not a plain path" },
	{ "dkim=s1:rsa:a/./x.key", "not a plain path" },
	{ "dkim=s1:rsa:a/..", "not a plain path" },
	{ "dkim=s1:rsa:a//x.key", "not a plain path" },
	{ "dkim=s1:rsa:a/", "not a plain path" },
	{ "dkim=s1:rsa:/", "not a plain path" },
	{ "dkim=s1:rsa:a%20b.key", "not a plain path" },
	{ "dkim=s1:rsa:a%0Ab.key", "not a plain path" },
	{ "dkim=s1:rsa:f:1:x", "Unix times" },
	{ "dkim=s1:rsa:f:-1:0", "Unix times" },
	{ "dkim=s1:rsa:f:1:99999999999999999999", "Unix times" },
	{ "dkim=s1:rsa:f%00", "NUL byte" },
	{ "dkim=a:rsa:f dkim=b:rsa:f", "attribute dkim given twice" },
	{ "dmarc=maybe", "bad dmarc \"maybe\"" },
	{ "dmarc=junk dmarc=junk", "attribute dmarc given twice" },
	{ "dkims=x", "unknown attribute \"dkims\"" },
};

START_TEST(test_bad_record)
{
	struct route *r;
	struct route_domain *d = NULL;
	char *map, *error = NULL;

	map = xasprintf("domain a.test local %s\n", bad_records[_i].attrs);
	write_file(map_path, map);
	free(map);
	r = open_route();
	ck_assert_int_eq(route_domain_lookup(r, "a.test", &d, &error), -1);
	ck_assert_msg(strstr(error, bad_records[_i].reason) != NULL,
	    "\"%s\" does not contain \"%s\"", error, bad_records[_i].reason);
	free(error);
	route_close(&r);
}
END_TEST

START_TEST(test_too_many_keys)
{
	struct route *r;
	struct route_domain *d = NULL;
	char *map = xstrdup("domain a.test local dkim=s0:rsa:f"), *next;
	char *error = NULL;
	int i;

	for (i = 1; i <= DKIM_KEYS_MAX; i++) {
		next = xasprintf("%s,s%d:rsa:f", map, i);
		free(map);
		map = next;
	}
	next = xasprintf("%s\n", map);
	free(map);
	write_file(map_path, next);
	free(next);
	r = open_route();
	ck_assert_int_eq(route_domain_lookup(r, "a.test", &d, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "more than 32 DKIM keys"));
	free(error);
	route_close(&r);
}
END_TEST

/* Provisioning refuses what the parser would refuse at the next load. */
START_TEST(test_provision_checks)
{
	static char bad_key[] = "s1:rsa:../../etc/shadow";
	char *values[] = { bad_key, NULL };
	struct route *r;
	struct route_domain *d;
	char *error = NULL, *text;

	write_file(map_path, "domain a.test local\n");
	r = open_route();
	d = get_domain(r, "a.test");
	free(d->dkim_selectors);	/* empty */
	d->dkim_selectors = values;
	d->dkim_selector_count = 1;
	ck_assert_int_eq(route_domain_put(r, d, 0, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "not a plain path"));
	xfree(error);
	d->dkim_selectors = NULL;
	d->dkim_selector_count = 0;
	d->dmarc = (enum route_dmarc_policy) 7;
	ck_assert_int_eq(route_domain_put(r, d, 0, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "unknown dmarc policy"));
	xfree(error);
	d->dmarc = ROUTE_DMARC_HONOUR;
	ck_assert_int_eq(route_domain_put(r, d, 0, &error), 0);
	route_domain_free(&d);
	text = read_map();
	ck_assert_ptr_nonnull(strstr(text, "domain a.test local "
	    "dmarc=honour\n"));
	free(text);
	route_close(&r);
}
END_TEST

/* The record wins; the selectors file is read when it names none. */
START_TEST(test_where_keys_come_from)
{
	struct route *r;
	struct route_domain *d;
	struct dkim_keyset set;
	enum dkim_source source;
	char *error = NULL, *path;

	write_file(map_path, "domain rec.test local "
	    "dkim=new:rsa:rec.test/new.key:5:0\n"
	    "domain old.test local\n"
	    "domain none.test local\n");
	path = xasprintf("%s/rec.test", key_dir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	free(path);
	path = xasprintf("%s/rec.test/selectors", key_dir);
	write_file(path, "ignored rsa 1 0\n");
	free(path);
	path = xasprintf("%s/old.test", key_dir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	free(path);
	path = xasprintf("%s/old.test/selectors", key_dir);
	write_file(path, "s1 rsa 1 0\ns2 ed25519 1 0\n");
	free(path);
	r = open_route();
	ck_assert_int_eq(dkim_domain_keys(r, key_dir, "rec.test", &set,
	    &source, &error), 1);
	ck_assert_int_eq(source, DKIM_SOURCE_RECORD);
	ck_assert_uint_eq(set.count, 1);
	ck_assert_str_eq(set.keys[0].selector, "new");
	path = dkim_key_file_path(key_dir, "rec.test", &set.keys[0]);
	ck_assert_str_eq(path + strlen(key_dir), "/rec.test/new.key");
	free(path);
	dkim_keys_clear(&set);
	ck_assert_int_eq(dkim_domain_keys(r, key_dir, "old.test", &set,
	    &source, &error), 1);
	ck_assert_int_eq(source, DKIM_SOURCE_FILE);
	ck_assert_uint_eq(set.count, 2);
	ck_assert_ptr_null(set.keys[0].file);
	/* Migrated into the record: DOMAIN/SELECTOR.key, as made. */
	d = get_domain(r, "old.test");
	dkim_keys_to_record(&set, d);
	ck_assert_uint_eq(d->dkim_selector_count, 2);
	ck_assert_str_eq(d->dkim_selectors[0], "s1:rsa:old.test/s1.key:1:0");
	ck_assert_str_eq(d->dkim_selectors[1],
	    "s2:ed25519:old.test/s2.key:1:0");
	ck_assert_int_eq(route_domain_put(r, d, 0, &error), 0);
	route_domain_free(&d);
	dkim_keys_clear(&set);
	ck_assert_int_eq(dkim_domain_keys(r, key_dir, "old.test", &set,
	    &source, &error), 1);
	ck_assert_int_eq(source, DKIM_SOURCE_RECORD);
	dkim_keys_clear(&set);
	/* Neither, a domain the directory does not hold, bad names. */
	ck_assert_int_eq(dkim_domain_keys(r, key_dir, "none.test", &set,
	    &source, &error), 0);
	ck_assert_int_eq(source, DKIM_SOURCE_NONE);
	ck_assert_int_eq(dkim_domain_keys(r, key_dir, "elsewhere.test", &set,
	    &source, &error), 0);
	ck_assert_int_eq(dkim_domain_keys(r, key_dir, "../etc", &set,
	    &source, &error), -1);
	xfree(error);
	/* No routing directory: no guess, a temporary failure. */
	ck_assert_int_eq(dkim_domain_keys(NULL, key_dir, "old.test", &set,
	    &source, &error), -1);
	xfree(error);
	route_close(&r);
}
END_TEST

/* A directory that cannot answer is a failure, never "no keys". */
START_TEST(test_directory_down)
{
	struct route *r;
	struct dkim_keyset set;
	enum dkim_source source;
	char *error = NULL;

	r = open_route();		/* route_file does not exist */
	ck_assert_int_eq(dkim_domain_keys(r, key_dir, "a.test", &set,
	    &source, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "routing directory"));
	xfree(error);
	route_close(&r);
}
END_TEST

/* An LDAP value is checked where it is used: here. */
START_TEST(test_bad_value_from_directory)
{
	static char good[] = "a:rsa:x.test/a.key", bad[] = "b:rsa";
	char *values[] = { good, bad, NULL };
	struct route_domain d;
	struct dkim_keyset set;
	char *error = NULL;

	memset(&d, 0, sizeof(d));
	d.name = good;
	d.dkim_selectors = values;
	d.dkim_selector_count = 2;
	ck_assert_int_eq(dkim_keys_from_record(&d, &set, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "\"b:rsa\""));
	ck_assert_uint_eq(set.count, 0);
	xfree(error);
	d.dkim_selector_count = 1;
	ck_assert_int_eq(dkim_keys_from_record(&d, &set, &error), 0);
	ck_assert_uint_eq(set.count, 1);
	dkim_keys_clear(&set);
}
END_TEST

static Suite *
dkim_domain_suite(void)
{
	Suite *s = suite_create("dkim_domain");
	TCase *tc = tcase_create("record");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_record_read_and_written);
	tcase_add_loop_test(tc, test_bad_record, 0, COUNT(bad_records));
	tcase_add_test(tc, test_too_many_keys);
	tcase_add_test(tc, test_provision_checks);
	tcase_add_test(tc, test_where_keys_come_from);
	tcase_add_test(tc, test_directory_down);
	tcase_add_test(tc, test_bad_value_from_directory);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(dkim_domain_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/*
 * check_route_auth: logins against the routing directory (route_auth.c)
 * over the file backend: route_authenticate, route_authorize; the hash's
 * scratch region kept between logins (crypt_scratch.h).
 */
#include "config.h"

#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "crypt_scratch.h"
#include "route.h"
#include "route_fixture.h"
#include "xalloc.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

START_TEST(test_authenticate)
{
	static const struct {
		const char *login;
		const char *password;
		int rc;
		const char *reason;
	} cases[] = {
		{ "good@a.test", "s3cret pass", 1, NULL },
		{ "GOOD@A.test", "s3cret pass", 1, NULL },
		{ "goodalt@a.test", "s3cret pass", 1, NULL },
		{ "good@a.test", "s3cret pas", 0, "invalid credentials" },
		{ "good@a.test", "", 0, "invalid credentials" },
		{ "susp@a.test", "s3cret pass", 0, "account suspended" },
		{ "susp@a.test", "wrong", 0, "invalid credentials" },
		{ "dis@a.test", "s3cret pass", 0, "account disabled" },
		{ "dis@a.test", "wrong", 0, "invalid credentials" },
		{ "nohash@a.test", "", 0, "invalid credentials" },
		{ "unknown@a.test", "s3cret pass", 0, "invalid credentials" },
		{ "not an address", "s3cret pass", 0, "invalid credentials" },
		{ "good+tag@a.test", "s3cret pass", 0, "invalid credentials" },
	};
	struct route *r;
	struct route_mailbox *m = NULL;
	char *error = NULL, *hash, *map;
	const char *reason;
	size_t i;

	hash = route_hash_password("s3cret pass", &error);
	ck_assert_msg(hash != NULL, "%s", error);
	ck_assert_int_eq(strncmp(hash, "$y$", 3), 0);
	map = xasprintf("domain a.test local\n"
	    "mailbox good@a.test password=%s alt=goodalt@a.test\n"
	    "mailbox susp@a.test password=%s state=suspended\n"
	    "mailbox dis@a.test password=%s state=disabled\n"
	    "mailbox nohash@a.test\n", hash, hash, hash);
	route_fixture_write_map(map);
	free(map);
	r = route_fixture_open();
	for (i = 0; i < COUNT(cases); i++) {
		reason = "untouched";
		ck_assert_msg(route_authenticate(r, cases[i].login,
		    cases[i].password, &m, &reason, &error) == cases[i].rc,
		    "case %zu", i);
		if (cases[i].rc == 1) {
			ck_assert_str_eq(m->address, "good@a.test");
			route_mailbox_free(&m);
		} else {
			ck_assert_ptr_null(m);
			ck_assert_str_eq(reason, cases[i].reason);
		}
	}
	/* Two hashes of one password differ (salted) and both verify. */
	map = route_hash_password("s3cret pass", &error);
	ck_assert_str_ne(map, hash);
	free(map);
	free(hash);
	route_close(&r);
}
END_TEST

START_TEST(test_authenticate_tempfail)
{
	struct route *r = route_fixture_open();
	const char *reason = NULL;
	char *error = NULL;

	ck_assert_int_eq(route_authenticate(r, "good@a.test", "x", NULL,
	    &reason, &error), -1);
	ck_assert_ptr_nonnull(error);
	free(error);
	route_close(&r);
}
END_TEST

static int crypt_runs;

static void *
crypt_thread(void *arg)
{
	void **job = arg;

	((route_crypt_work *) job[0])(job[1]);
	return NULL;
}

/* A runner as imapd's: the work on another thread, joined. */
static void
crypt_runner(route_crypt_work *work, void *arg)
{
	void *job[2] = { (void *) work, arg };
	pthread_t thread;

	crypt_runs++;
	ck_assert_int_eq(pthread_create(&thread, NULL, crypt_thread, job), 0);
	ck_assert_int_eq(pthread_join(thread, NULL), 0);
}

/*
 * With a crypt runner installed every password check, an unknown
 * login's dummy hash included, goes through it, and the verdicts are
 * those of a hash made in place.
 */
START_TEST(test_crypt_runner)
{
	static const struct {
		const char *login;
		const char *password;
		int rc;
	} cases[] = {
		{ "good@a.test", "s3cret pass", 1 },
		{ "good@a.test", "s3cret pas", 0 },
		{ "unknown@a.test", "s3cret pass", 0 },
		{ "nohash@a.test", "", 0 },
	};
	struct route *r;
	struct route_mailbox *m = NULL;
	char *error = NULL, *hash, *map;
	const char *reason;
	size_t i;

	hash = route_hash_password("s3cret pass", &error);
	ck_assert_msg(hash != NULL, "%s", error);
	map = xasprintf("domain a.test local\n"
	    "mailbox good@a.test password=%s\n"
	    "mailbox nohash@a.test\n", hash);
	route_fixture_write_map(map);
	free(map);
	free(hash);
	r = route_fixture_open();
	crypt_runs = 0;
	route_set_crypt_runner(crypt_runner);
	for (i = 0; i < COUNT(cases); i++) {
		ck_assert_msg(route_authenticate(r, cases[i].login,
		    cases[i].password, &m, &reason, &error) == cases[i].rc,
		    "case %zu", i);
		route_mailbox_free(&m);
	}
	route_set_crypt_runner(NULL);
	ck_assert_int_eq(crypt_runs, (int) COUNT(cases));
	/* Uninstalled: in place again. */
	ck_assert_int_eq(route_authenticate(r, "good@a.test", "s3cret pass",
	    NULL, &reason, &error), 1);
	ck_assert_int_eq(crypt_runs, (int) COUNT(cases));
	route_close(&r);
}
END_TEST

/* route_authorize: the state decides, no password is looked at. */
START_TEST(test_authorize)
{
	static const struct {
		const char *login;
		int rc;
		const char *reason;
	} cases[] = {
		{ "good@a.test", 1, NULL },
		{ "GOOD@A.test", 1, NULL },
		{ "goodalt@a.test", 1, NULL },
		{ "nohash@a.test", 1, NULL },
		{ "susp@a.test", 0, "account suspended" },
		{ "dis@a.test", 0, "account disabled" },
		{ "unknown@a.test", 0, "no such mailbox" },
		{ "not an address", 0, "no such mailbox" },
		{ "", 0, "no such mailbox" },
		{ "moving@a.test", -1, NULL },
	};
	struct route *r;
	struct route_mailbox *m = NULL;
	char *error = NULL;
	const char *reason;
	size_t i;

	route_fixture_write_map("domain a.test local\n"
	    "mailbox good@a.test password=! alt=goodalt@a.test\n"
	    "mailbox susp@a.test state=suspended\n"
	    "mailbox dis@a.test state=disabled\n"
	    "mailbox moving@a.test state=moving\n"
	    "mailbox nohash@a.test\n");
	r = route_fixture_open();
	for (i = 0; i < COUNT(cases); i++) {
		reason = "untouched";
		ck_assert_msg(route_authorize(r, cases[i].login, &m, &reason,
		    &error) == cases[i].rc, "case %zu", i);
		if (cases[i].rc == 1) {
			ck_assert_ptr_nonnull(m);
			route_mailbox_free(&m);
		} else if (cases[i].rc == 0) {
			ck_assert_ptr_null(m);
			ck_assert_str_eq(reason, cases[i].reason);
		} else {
			ck_assert_ptr_null(m);
			ck_assert_msg(strstr(error, "being moved") != NULL, "%s",
			    error);
			free(error);
			error = NULL;
		}
	}
	route_close(&r);
}
END_TEST

/* Page faults (minor) of this process so far. */
static long
minor_faults(void)
{
	struct rusage ru;

	ck_assert_int_eq(getrusage(RUSAGE_SELF, &ru), 0);
	return ru.ru_minflt;
}

/* 1 when len bytes at p are all zero. */
static int
all_zero(const unsigned char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (p[i] != 0)
			return 0;
	}
	return 1;
}

static int
login(struct route *r, const char *login, const char *password)
{
	struct route_mailbox *m = NULL;
	const char *reason = NULL;
	char *error = NULL;
	int rc;

	rc = route_authenticate(r, login, password, &m, &reason, &error);
	ck_assert_msg(rc >= 0, "%s", error != NULL ? error : "?");
	route_mailbox_free(&m);
	return rc;
}

/*
 * With crypt_scratch_keep(1) the region libcrypt unmaps is kept, zeroed,
 * and serves the next hash without page faults; answers do not change;
 * nothing else is kept; keep(0) unmaps it.
 */
START_TEST(test_scratch_kept)
{
	struct route *r;
	char *error = NULL, *hash, *map;
	unsigned char *kept, *other;
	size_t len, len2;
	long faults;

	hash = route_hash_password("s3cret pass", &error);
	ck_assert_msg(hash != NULL, "%s", error);
	map = xasprintf("domain a.test local\n"
	    "mailbox good@a.test password=%s\n", hash);
	route_fixture_write_map(map);
	free(map);
	free(hash);
	r = route_fixture_open();

	/* Off (the default): nothing is kept. */
	ck_assert_int_eq(login(r, "good@a.test", "s3cret pass"), 1);
	ck_assert_ptr_null(crypt_scratch_kept(&len));

	crypt_scratch_keep(1);
	ck_assert_int_eq(login(r, "good@a.test", "s3cret pass"), 1);
	kept = crypt_scratch_kept(&len);
	ck_assert_ptr_nonnull(kept);
	/* yescrypt's default cost: 16 MiB and a little more. */
	ck_assert_uint_ge(len, 16 * 1024 * 1024);
	ck_assert(all_zero(kept, len));

	/* The next hashes use it: no fault per page, the same answers. */
	faults = minor_faults();
	ck_assert_int_eq(login(r, "good@a.test", "s3cret pass"), 1);
	ck_assert_int_eq(login(r, "good@a.test", "s3cret pas"), 0);
	ck_assert_int_eq(login(r, "unknown@a.test", "s3cret pass"), 0);
	ck_assert_int_eq(login(r, "good@a.test", "s3cret pass"), 1);
	faults = minor_faults() - faults;
	ck_assert_msg(faults < 1000, "%ld page faults for 4 hashes", faults);
	ck_assert_ptr_eq(crypt_scratch_kept(&len2), kept);
	ck_assert_uint_eq(len2, len);
	ck_assert(all_zero(kept, len));

	/* A map of the same size outside a hash is a map of its own. */
	other = mmap(NULL, len, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert(other != MAP_FAILED);
	ck_assert_ptr_ne(other, kept);
	other[0] = 1;
	ck_assert_int_eq(munmap(other, len), 0);
	ck_assert_ptr_eq(crypt_scratch_kept(&len2), kept);

	/* Off again: the region is unmapped (msync says ENOMEM). */
	crypt_scratch_keep(0);
	ck_assert_ptr_null(crypt_scratch_kept(&len2));
	ck_assert_int_eq(msync(kept, 4096, MS_ASYNC), -1);
	ck_assert_int_eq(login(r, "good@a.test", "s3cret pass"), 1);
	ck_assert_ptr_null(crypt_scratch_kept(&len2));
	route_close(&r);
}
END_TEST

static Suite *
route_auth_suite(void)
{
	Suite *s = suite_create("route_auth");
	TCase *tc = tcase_create("authenticate");

	tcase_add_checked_fixture(tc, route_fixture_setup,
	    route_fixture_teardown);
	tcase_add_test(tc, test_authenticate);
	tcase_add_test(tc, test_authenticate_tempfail);
	tcase_add_test(tc, test_authorize);
	tcase_add_test(tc, test_crypt_runner);
	tcase_add_test(tc, test_scratch_kept);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return route_fixture_run(route_auth_suite(), "check_route_auth");
}

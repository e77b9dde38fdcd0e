/*
 * check_route_provision: provisioning through the routing API
 * (route_provision.c) over the file backend: puts, deletes, lists.
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "params.h"
#include "route.h"
#include "route_fixture.h"
#include "xalloc.h"

static int
tmp_files_left(void)
{
	DIR *dir = opendir(route_fixture_testdir);
	struct dirent *de;
	int found = 0;

	ck_assert_ptr_nonnull(dir);
	while ((de = readdir(dir)) != NULL)
		if (strstr(de->d_name, ".tmp.") != NULL)
			found++;
	closedir(dir);
	return found;
}

static void
put_domain(struct route *r, const char *name, enum route_domain_kind kind,
	const char *target, int expect, const char *error_text)
{
	struct route_domain d;
	char *error = NULL;

	memset(&d, 0, sizeof(d));
	d.name = (char *) (uintptr_t) name;
	d.kind = kind;
	d.alias_target = (char *) (uintptr_t) target;
	ck_assert_msg(route_domain_put(r, &d, 1, &error) == expect,
	    "domain %s: %s", name, error);
	if (error_text != NULL)
		ck_assert_str_eq(error, error_text);
	free(error);
}

static int
put_mailbox(struct route *r, const char *address, int create_only,
	char **error_r)
{
	struct route_mailbox m;

	memset(&m, 0, sizeof(m));
	m.address = (char *) (uintptr_t) address;
	m.filter = ROUTE_FILTER_STANDARD;
	m.tag_score = 5;
	return route_mailbox_put(r, &m, create_only, error_r);
}

static void
expect_names(char **names, const char *joined)
{
	char *text = xstrdup(""), *next;
	size_t i;

	for (i = 0; names[i] != NULL; i++) {
		next = xasprintf("%s%s%s", text, i > 0 ? " " : "", names[i]);
		free(text);
		text = next;
	}
	ck_assert_str_eq(text, joined);
	free(text);
	route_names_free(&names);
}

START_TEST(test_provision)
{
	struct route *r, *r2;
	struct route_mailbox m, *got = NULL;
	struct route_alias alias, *got_alias = NULL;
	char alt0[] = "Extra@B.test", fwd0[] = "Far@Remote.Example";
	char target0[] = "x@a.test", target1[] = "y@remote.example";
	char address[] = "X@A.test", hash[] = "$6$salt$hash";
	char class[] = "bulk mail,#1%", host[] = "store2";
	char path[] = "/var/vmail/a b/x";
	char list[] = "List@A.test", z[] = "z@a.test", x[] = "x@a.test";
	char *alts[] = { alt0, NULL }, *fwd[] = { fwd0, NULL };
	char *targets[] = { target0, target1, NULL };
	char **names = NULL, *error = NULL, *text;
	struct stat st;

	/* A comment in a hand-written map is lost on the first rewrite. */
	route_fixture_write_map("# hand-written\n");
	ck_assert_int_eq(chmod(route_fixture_map_path, 0604), 0);
	r = route_fixture_open();
	put_domain(r, "B.test", ROUTE_DOMAIN_LOCAL, NULL, 0, NULL);
	put_domain(r, "b.test", ROUTE_DOMAIN_LOCAL, NULL, -1,
	    "domain b.test exists");
	put_domain(r, "a.test", ROUTE_DOMAIN_LOCAL, NULL, 0, NULL);
	put_domain(r, "relay.test", ROUTE_DOMAIN_RELAY, NULL, 0, NULL);
	put_domain(r, "al.test", ROUTE_DOMAIN_ALIAS, "a.test", 0, NULL);
	put_domain(r, "al2.test", ROUTE_DOMAIN_ALIAS, "al.test", -1,
	    "alias domain target al.test is itself an alias domain");
	put_domain(r, "al3.test", ROUTE_DOMAIN_ALIAS, "none.test", -1,
	    "unknown domain none.test");
	put_domain(r, "bad_name.test", ROUTE_DOMAIN_LOCAL, NULL, -1, NULL);
	text = route_fixture_read_map();
	ck_assert_ptr_null(strstr(text, "hand-written"));
	free(text);
	ck_assert_int_eq(stat(route_fixture_map_path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0604);
	ck_assert_int_eq(tmp_files_left(), 0);

	/* Mailboxes. */
	memset(&m, 0, sizeof(m));
	m.address = address;
	m.alt_addresses = alts;
	m.alt_count = 1;
	m.forwards = fwd;
	m.forward_count = 1;
	m.forward_keep_copy = 1;
	m.quota = 3 * 1024 * 1024 + 1;
	m.state = ROUTE_STATE_SUSPENDED;
	m.password_hash = hash;
	m.filter = ROUTE_FILTER_AGGRESSIVE;
	m.tag_score = 0.1;
	m.quarantine_score = -2.5;
	m.discard_score = 1e6;
	m.archive = 1;
	m.outbound_class = class;
	m.mail_host = host;
	m.store_path = path;
	ck_assert_msg(route_mailbox_put(r, &m, 1, &error) == 0, "%s", error);
	ck_assert_int_eq(route_mailbox_put(r, &m, 1, &error), -1);
	ck_assert_str_eq(error, "mailbox x@a.test exists");
	xfree(error);
	ck_assert_int_eq(put_mailbox(r, "extra@b.test", 1, &error), -1);
	ck_assert_str_eq(error, "extra@b.test is an address of mailbox "
	    "x@a.test");
	xfree(error);
	ck_assert_int_eq(put_mailbox(r, "y@none.test", 1, &error), -1);
	ck_assert_str_eq(error, "unknown domain none.test");
	xfree(error);
	ck_assert_int_eq(put_mailbox(r, "y@al.test", 1, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "al.test is an alias domain"));
	xfree(error);
	ck_assert_int_eq(put_mailbox(r, "y@relay.test", 1, &error), -1);
	xfree(error);
	ck_assert_int_eq(put_mailbox(r, "y..z@a.test", 1, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "invalid address"));
	xfree(error);
	ck_assert_int_eq(put_mailbox(r, "z@a.test", 1, &error), 0);
	ck_assert_int_eq(put_mailbox(r, "w@b.test", 1, &error), 0);

	/* Aliases and relay recipients. */
	memset(&alias, 0, sizeof(alias));
	alias.address = list;
	alias.targets = targets;
	alias.target_count = 2;
	ck_assert_msg(route_alias_put(r, &alias, 1, &error) == 0, "%s",
	    error);
	ck_assert_int_eq(route_alias_put(r, &alias, 1, &error), -1);
	ck_assert_str_eq(error, "alias list@a.test exists");
	xfree(error);
	alias.address = z;
	ck_assert_int_eq(route_alias_put(r, &alias, 1, &error), -1);
	ck_assert_str_eq(error, "mailbox z@a.test exists");
	xfree(error);
	alias.address = x;
	alias.target_count = 1;
	ck_assert_int_eq(route_alias_put(r, &alias, 0, &error), -1);
	xfree(error);
	ck_assert_int_eq(route_relay_recipient_put(r, "One@Relay.test",
	    &error), 0);
	ck_assert_int_eq(route_relay_recipient_put(r, "two@a.test", &error),
	    -1);
	ck_assert_ptr_nonnull(strstr(error, "relay recipients live in relay "
	    "domains"));
	xfree(error);
	ck_assert_int_eq(tmp_files_left(), 0);

	/* A second handle (another process) reads all of it back. */
	r2 = route_fixture_open();
	ck_assert_int_eq(route_mailbox_get(r2, "x@a.test", &got, &error), 1);
	ck_assert_str_eq(got->address, "x@a.test");
	ck_assert_str_eq(got->alt_addresses[0], "extra@b.test");
	ck_assert_str_eq(got->forwards[0], "Far@remote.example");
	ck_assert_int_eq(got->forward_keep_copy, 1);
	ck_assert_int_eq(got->quota, 3 * 1024 * 1024 + 1);
	ck_assert_int_eq(got->state, ROUTE_STATE_SUSPENDED);
	ck_assert_str_eq(got->password_hash, "$6$salt$hash");
	ck_assert_int_eq(got->filter, ROUTE_FILTER_AGGRESSIVE);
	ck_assert(got->tag_score == 0.1 && got->quarantine_score == -2.5
	    && got->discard_score == 1e6);
	ck_assert_int_eq(got->archive, 1);
	ck_assert_str_eq(got->outbound_class, "bulk mail,#1%");
	ck_assert_str_eq(got->mail_host, "store2");
	ck_assert_str_eq(got->store_path, "/var/vmail/a b/x");
	route_mailbox_free(&got);
	ck_assert_int_eq(route_alias_get(r2, "list@a.test", &got_alias,
	    &error), 1);
	ck_assert_uint_eq(got_alias->target_count, 2);
	route_alias_free(&got_alias);

	ck_assert_int_eq(route_list_domains(r2, &names, &error), 0);
	expect_names(names, "a.test al.test b.test relay.test");
	ck_assert_int_eq(route_list_mailboxes(r2, "A.TEST", &names, &error),
	    0);
	expect_names(names, "x@a.test z@a.test");
	ck_assert_int_eq(route_list_aliases(r2, "a.test", &names, &error), 0);
	expect_names(names, "list@a.test");
	ck_assert_int_eq(route_list_relay_recipients(r2, "relay.test", &names,
	    &error), 0);
	expect_names(names, "one@relay.test");

	/* Deletes, and what they refuse. */
	ck_assert_int_eq(route_domain_delete(r, "a.test", &error), -1);
	ck_assert_str_eq(error, "domain a.test still has 2 mailbox(es): "
	    "delete them first");
	xfree(error);
	ck_assert_int_eq(route_mailbox_delete(r, "nobody@a.test", &error),
	    -1);
	ck_assert_str_eq(error, "no such mailbox nobody@a.test");
	xfree(error);
	ck_assert_int_eq(route_mailbox_delete(r, "X@a.test", &error), 0);
	ck_assert_int_eq(route_mailbox_delete(r, "z@a.test", &error), 0);
	ck_assert_int_eq(route_alias_delete(r, "list@a.test", &error), 0);
	ck_assert_int_eq(route_domain_delete(r, "a.test", &error), -1);
	ck_assert_str_eq(error, "domain a.test is the target of alias domain "
	    "al.test: delete that first");
	xfree(error);
	ck_assert_int_eq(route_domain_delete(r, "al.test", &error), 0);
	ck_assert_int_eq(route_domain_delete(r, "a.test", &error), 0);
	ck_assert_int_eq(route_relay_recipient_delete(r, "one@relay.test",
	    &error), 0);
	ck_assert_int_eq(route_relay_recipient_delete(r, "one@relay.test",
	    &error), -1);
	xfree(error);
	/* The other handle sees the deletes, and extra@b.test is free. */
	ck_assert_int_eq(route_mailbox_get(r2, "extra@b.test", &got, &error),
	    0);
	ck_assert_int_eq(put_mailbox(r2, "extra@b.test", 1, &error), 0);
	ck_assert_int_eq(route_list_domains(r, &names, &error), 0);
	expect_names(names, "b.test relay.test");
	ck_assert_int_eq(tmp_files_left(), 0);
	text = route_fixture_read_map();
	ck_assert_str_eq(text, "# ispmail routing map, see ispmail-routes(5)."
	    "\n# Rewritten by ispmailctl: comments here are not kept.\n"
	    "domain b.test local\n"
	    "domain relay.test relay\n"
	    "mailbox extra@b.test state=active\n"
	    "    filter=standard tag=5 quarantine=0 discard=0 archive=no\n"
	    "mailbox w@b.test state=active\n"
	    "    filter=standard tag=5 quarantine=0 discard=0 archive=no\n");
	free(text);
	route_close(&r2);
	route_close(&r);
}
END_TEST

START_TEST(test_provision_bad_map)
{
	struct route *r;
	char *error = NULL, *text;

	/* A broken map is never overwritten: the edit would be lost. */
	route_fixture_write_map("domain a.test local\nmailbox broken\n");
	r = route_fixture_open();
	ck_assert_int_eq(put_mailbox(r, "x@a.test", 1, &error), -1);
	ck_assert_ptr_nonnull(error);
	xfree(error);
	put_domain(r, "b.test", ROUTE_DOMAIN_LOCAL, NULL, -1, NULL);
	text = route_fixture_read_map();
	ck_assert_str_eq(text, "domain a.test local\nmailbox broken\n");
	free(text);
	ck_assert_int_eq(tmp_files_left(), 0);
	route_close(&r);
}
END_TEST

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

START_TEST(test_many_mailboxes)
{
	struct route *r;
	struct route_answer *a = NULL;
	char **names = NULL, *error = NULL, *address;
	FILE *fp;
	double start, elapsed;
	int i;

	/*
	 * 10,000 mailboxes in the writer's own format, then every one looked
	 * up (each lookup also stats the map).
	 */
	fp = fopen(route_fixture_map_path, "w");
	ck_assert_ptr_nonnull(fp);
	fputs("domain big.test local\n", fp);
	for (i = 0; i < 10000; i++)
		fprintf(fp, "mailbox user%d@big.test state=active quota=1G "
		    "password=$y$j9T$abc$def\n    host=localhost "
		    "path=/var/vmail/big.test/user%d\n    filter=standard "
		    "tag=5 quarantine=10 discard=20 archive=no\n", i, i);
	ck_assert_int_eq(fclose(fp), 0);
	r = route_fixture_open();
	start = now();
	for (i = 0; i < 10000; i++) {
		address = xasprintf("User%d+x@big.test", i);
		ck_assert_int_eq(route_lookup(r, address, &a, &error), 1);
		route_answer_free(&a);
		free(address);
	}
	elapsed = now() - start;
	ck_assert_msg(elapsed < 10, "10,000 lookups took %.2f s", elapsed);

	/*
	 * Writes through the writer: each rewrites the whole 3 MB map
	 * (about 15 ms here with the sanitizers, 4 ms without).
	 */
	for (i = 0; i < 100; i++) {
		address = xasprintf("new%03d@big.test", i);
		ck_assert_int_eq(put_mailbox(r, address, 1, &error), 0);
		free(address);
	}
	ck_assert_int_eq(route_list_mailboxes(r, "big.test", &names, &error),
	    0);
	for (i = 0; names[i] != NULL; i++)
		;
	ck_assert_int_eq(i, 10100);
	ck_assert_str_eq(names[0], "new000@big.test");
	route_names_free(&names);
	ck_assert_int_eq(tmp_files_left(), 0);
	route_close(&r);
}
END_TEST

static Suite *
route_provision_suite(void)
{
	Suite *s = suite_create("route_provision");
	TCase *tc = tcase_create("provision");

	tcase_add_checked_fixture(tc, route_fixture_setup,
	    route_fixture_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_provision);
	tcase_add_test(tc, test_provision_bad_map);
	tcase_add_test(tc, test_many_mailboxes);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return route_fixture_run(route_provision_suite(),
	    "check_route_provision");
}

/* check_route_file: the routing API (route.c) over the file backend. */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mail_params.h"
#include "params.h"
#include "route.h"
#include "xalloc.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* One directory for all tests, made before the forks; one below per test. */
static char tmpdir[] = "/tmp/check_route_file.XXXXXX";
static char *testdir;
static char *map_path;

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
	testdir = xasprintf("%s/t.XXXXXX", tmpdir);
	ck_assert_ptr_nonnull(mkdtemp(testdir));
	map_path = xasprintf("%s/routes", testdir);
	params_init();
	log_init("check_route_file", LOG_TARGET_STDERR, NULL);
	set_param("route_backend", "file");
	set_param("route_file", map_path);
	/* Reload tests change the map and look it up at once. */
	set_param("route_file_check_interval", "0");
}

static void
teardown(void)
{
	xfree(map_path);
	xfree(testdir);
}

/* Replace the map the way an editor would: new file, rename. */
static void
write_map(const char *text)
{
	char *tmp = xasprintf("%s.edit", map_path);
	FILE *fp = fopen(tmp, "w");

	ck_assert_ptr_nonnull(fp);
	ck_assert_int_eq(fputs(text, fp) >= 0, 1);
	ck_assert_int_eq(fclose(fp), 0);
	ck_assert_int_eq(rename(tmp, map_path), 0);
	free(tmp);
}

static char *
read_map(void)
{
	FILE *fp = fopen(map_path, "r");
	char *text = NULL;
	size_t size = 0;
	ssize_t n;

	ck_assert_ptr_nonnull(fp);
	n = getdelim(&text, &size, '\0', fp);
	ck_assert_int_ge(n, 0);
	fclose(fp);
	return text;
}

static struct route *
open_route(void)
{
	char *error = NULL;
	struct route *r = route_open(&error);

	ck_assert_msg(r != NULL, "route_open: %s", error);
	ck_assert_str_eq(route_backend_name(r), "file");
	return r;
}

static const char base_map[] =
    "# a test map\n"
    "domain example.test local catchall=catchall@example.test "
    "mailhost=store1\n"
    "domain other.test local\n"
    "domain backup.test relay relayhost=mx1.backup.test\n"
    "domain alias.test alias target=example.test\n"
    "domain remote-catch.test local catchall=someone@remote.example\n"
    "\n"
    "mailbox alice@example.test password=$y$nothing quota=1G "
    "state=active\n"
    "    host=localhost path=/var/vmail/example.test/alice filter=standard\n"
    "\ttag=5 quarantine=10.5 discard=20 archive=yes class=bulk   # note\n"
    "    alt=al@example.test,Alice.Smith@example.test\n"
    "mailbox catchall@example.test path=/var/vmail/example.test/catchall\n"
    "mailbox bob@example.test forward=bob@remote.example keepcopy=yes\n"
    "mailbox carol@example.test\n"
    "    forward=Carol@Remote.Example,alice@example.test keepcopy=no\n"
    "mailbox dave@example.test state=disabled\n"
    "mailbox Mixed@other.test\n"
    "mailbox erin@other.test forward=erin@other.test keepcopy=no\n"
    "alias postmaster@example.test alice@example.test,bob@remote.example\n"
    "alias loop1@example.test loop2@example.test\n"
    "alias loop2@example.test loop1@example.test\n"
    "alias dup@example.test alice@example.test,al@example.test "
    "postmaster@example.test ALICE@example.test\n"
    "alias broken@example.test nobody@other.test\n"
    "alias quoted@example.test \"a%20b\"@remote.example\n"
    "recipient someone@backup.test\n";

/* ---- domains ------------------------------------------------------------ */

static const struct {
	const char *name;
	int found;
	enum route_domain_kind kind;
	const char *detail;		/* target, relay host or mail host */
} domain_cases[] = {
	{ "example.test", 1, ROUTE_DOMAIN_LOCAL, "store1" },
	{ "EXAMPLE.Test", 1, ROUTE_DOMAIN_LOCAL, "store1" },
	{ "backup.test", 1, ROUTE_DOMAIN_RELAY, "mx1.backup.test" },
	{ "alias.test", 1, ROUTE_DOMAIN_ALIAS, "example.test" },
	{ "nowhere.test", 0, 0, NULL },
	{ "x_y.test", 0, 0, NULL },
	{ "", 0, 0, NULL },
};

START_TEST(test_domain_lookup)
{
	struct route *r;
	struct route_domain *d = NULL;
	char *error = NULL;
	const char *detail;

	write_map(base_map);
	r = open_route();
	ck_assert_int_eq(route_domain_lookup(r, domain_cases[_i].name, &d,
	    &error), domain_cases[_i].found);
	if (domain_cases[_i].found) {
		ck_assert_int_eq(d->kind, domain_cases[_i].kind);
		detail = d->kind == ROUTE_DOMAIN_LOCAL ? d->mail_host
		    : d->kind == ROUTE_DOMAIN_RELAY ? d->relay_host
		    : d->alias_target;
		ck_assert_str_eq(detail, domain_cases[_i].detail);
		/* The name comes back lower-cased. */
		ck_assert_int_eq(strcasecmp(d->name, domain_cases[_i].name),
		    0);
		ck_assert_ptr_null(strpbrk(d->name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"));
	} else {
		ck_assert_ptr_null(d);
		ck_assert_ptr_nonnull(error);
	}
	free(error);
	route_domain_free(&d);
	route_close(&r);
}
END_TEST

/* ---- lookups -------------------------------------------------------------- */

static const struct {
	const char *address;
	int rc;
	enum route_kind kind;
	const char *how;
	const char *matched;
	const char *target;		/* mailbox address or first target */
} lookup_cases[] = {
	{ "alice@example.test", 1, ROUTE_KIND_MAILBOX, "exact",
	    "alice@example.test", "alice@example.test" },
	{ "ALICE@Example.TEST", 1, ROUTE_KIND_MAILBOX, "exact",
	    "alice@example.test", "alice@example.test" },
	{ "\"alice\"@example.test", 1, ROUTE_KIND_MAILBOX, "exact",
	    "alice@example.test", "alice@example.test" },
	{ "alice+news@example.test", 1, ROUTE_KIND_MAILBOX,
	    "recipient delimiter", "alice@example.test",
	    "alice@example.test" },
	{ "al@example.test", 1, ROUTE_KIND_MAILBOX, "alternate address",
	    "al@example.test", "alice@example.test" },
	{ "alice.smith@example.test", 1, ROUTE_KIND_MAILBOX,
	    "alternate address", "alice.smith@example.test",
	    "alice@example.test" },
	{ "whoever@example.test", 1, ROUTE_KIND_MAILBOX, "catch-all",
	    "catchall@example.test", "catchall@example.test" },
	{ "alice@alias.test", 1, ROUTE_KIND_MAILBOX, "alias domain",
	    "alice@example.test", "alice@example.test" },
	{ "nobody@alias.test", 1, ROUTE_KIND_MAILBOX, "catch-all",
	    "catchall@example.test", "catchall@example.test" },
	{ "x@remote-catch.test", 1, ROUTE_KIND_ALIAS, "catch-all",
	    "someone@remote.example", "someone@remote.example" },
	{ "postmaster@example.test", 1, ROUTE_KIND_ALIAS, "exact",
	    "postmaster@example.test", "alice@example.test" },
	{ "postmaster+x@example.test", 1, ROUTE_KIND_ALIAS,
	    "recipient delimiter", "postmaster@example.test",
	    "alice@example.test" },
	{ "someone@backup.test", 1, ROUTE_KIND_RELAY, "exact",
	    "someone@backup.test", NULL },
	{ "someone+tag@backup.test", 1, ROUTE_KIND_RELAY,
	    "recipient delimiter", "someone@backup.test", NULL },
	{ "other@backup.test", 0, 0, NULL, NULL, NULL },
	{ "nobody@other.test", 0, 0, NULL, NULL, NULL },
	{ "mixed@other.test", 1, ROUTE_KIND_MAILBOX, "exact",
	    "mixed@other.test", "mixed@other.test" },
	{ "x@nowhere.test", 0, 0, NULL, NULL, NULL },
	{ "not an address", 0, 0, NULL, NULL, NULL },
	{ "", 0, 0, NULL, NULL, NULL },
};

START_TEST(test_lookup)
{
	struct route *r;
	struct route_answer *a = NULL;
	char *error = NULL;
	const char *target;

	write_map(base_map);
	r = open_route();
	ck_assert_int_eq(route_lookup(r, lookup_cases[_i].address, &a,
	    &error), lookup_cases[_i].rc);
	if (lookup_cases[_i].rc == 1) {
		ck_assert_ptr_null(error);
		ck_assert_int_eq(a->kind, lookup_cases[_i].kind);
		ck_assert_str_eq(a->how, lookup_cases[_i].how);
		ck_assert_str_eq(a->matched, lookup_cases[_i].matched);
		ck_assert_ptr_nonnull(a->domain);
		if (a->kind == ROUTE_KIND_MAILBOX) {
			target = a->mailbox->address;
			ck_assert_ptr_null(a->alias);
		} else if (a->kind == ROUTE_KIND_ALIAS) {
			target = a->alias->targets[0];
			ck_assert_ptr_null(a->mailbox);
		} else {
			target = NULL;
			ck_assert_int_eq(a->domain->kind, ROUTE_DOMAIN_RELAY);
		}
		if (lookup_cases[_i].target != NULL)
			ck_assert_str_eq(target, lookup_cases[_i].target);
	} else {
		ck_assert_ptr_null(a);
		ck_assert_ptr_nonnull(error);
	}
	free(error);
	route_answer_free(&a);
	route_close(&r);
}
END_TEST

START_TEST(test_lookup_record)
{
	struct route *r;
	struct route_answer *a = NULL;
	const struct route_mailbox *m;
	char *error = NULL;

	write_map(base_map);
	r = open_route();
	ck_assert_int_eq(route_lookup(r, "Alice+x@example.test", &a, &error),
	    1);
	ck_assert_str_eq(a->address, "alice+x@example.test");
	ck_assert_str_eq(a->domain->name, "example.test");
	m = a->mailbox;
	ck_assert_str_eq(m->password_hash, "$y$nothing");
	ck_assert_int_eq(m->quota, 1024LL * 1024 * 1024);
	ck_assert_int_eq(m->state, ROUTE_STATE_ACTIVE);
	ck_assert_str_eq(m->mail_host, "localhost");
	ck_assert_str_eq(m->store_path, "/var/vmail/example.test/alice");
	ck_assert_int_eq(m->filter, ROUTE_FILTER_STANDARD);
	ck_assert(m->tag_score == 5 && m->quarantine_score == 10.5
	    && m->discard_score == 20);
	ck_assert_int_eq(m->archive, 1);
	ck_assert_str_eq(m->outbound_class, "bulk");
	ck_assert_uint_eq(m->alt_count, 2);
	ck_assert_str_eq(m->alt_addresses[1], "alice.smith@example.test");
	ck_assert_ptr_null(m->alt_addresses[2]);
	ck_assert_uint_eq(m->forward_count, 0);
	route_answer_free(&a);
	/* Defaults of a bare mailbox record. */
	ck_assert_int_eq(route_lookup(r, "carol@example.test", &a, &error), 1);
	m = a->mailbox;
	ck_assert_ptr_null(m->password_hash);
	ck_assert_ptr_null(m->store_path);
	ck_assert_int_eq(m->quota, 0);
	ck_assert_int_eq(m->filter, ROUTE_FILTER_STANDARD);
	ck_assert_uint_eq(m->forward_count, 2);
	ck_assert_str_eq(m->forwards[0], "Carol@remote.example");
	ck_assert_int_eq(m->forward_keep_copy, 0);
	route_answer_free(&a);
	route_close(&r);
}
END_TEST

START_TEST(test_lookup_delimiters)
{
	struct route *r;
	struct route_answer *a = NULL;
	char *error = NULL;

	write_map(base_map);
	set_param("recipient_delimiter", "+-");
	r = open_route();
	ck_assert_int_eq(route_lookup(r, "alice-list@example.test", &a,
	    &error), 1);
	ck_assert_str_eq(a->how, "recipient delimiter");
	ck_assert_str_eq(a->mailbox->address, "alice@example.test");
	route_answer_free(&a);
	ck_assert_int_eq(route_lookup(r, "alice+x-y@example.test", &a,
	    &error), 1);
	ck_assert_str_eq(a->matched, "alice@example.test");
	route_answer_free(&a);
	route_close(&r);
	/* No delimiter: the tagged address is unknown, the catch-all takes it. */
	set_param("recipient_delimiter", "");
	r = open_route();
	ck_assert_int_eq(route_lookup(r, "alice+x@example.test", &a, &error),
	    1);
	ck_assert_str_eq(a->how, "catch-all");
	route_answer_free(&a);
	ck_assert_int_eq(route_lookup(r, "mixed+x@other.test", &a, &error),
	    0);
	free(error);
	route_close(&r);
}
END_TEST

START_TEST(test_lookup_case_sensitive)
{
	struct route *r;
	struct route_answer *a = NULL;
	char *error = NULL;

	write_map(base_map);
	set_param("route_case_sensitive_local", "yes");
	r = open_route();
	ck_assert_int_eq(route_lookup(r, "Mixed@OTHER.test", &a, &error), 1);
	ck_assert_str_eq(a->mailbox->address, "Mixed@other.test");
	route_answer_free(&a);
	ck_assert_int_eq(route_lookup(r, "mixed@other.test", &a, &error), 0);
	ck_assert_ptr_nonnull(error);
	free(error);
	route_close(&r);
}
END_TEST

/* ---- loading and reloading ------------------------------------------------ */

static const struct {
	const char *map;
	unsigned line;
	const char *reason;
} bad_maps[] = {
	{ "domain a.test local\nbogus x\n", 2, "unknown record \"bogus\"" },
	{ "domain a.test local\nmailbox x@a.test colour=red\n", 2,
	    "unknown attribute \"colour\"" },
	{ "domain a.test local\nmailbox x@a.test class=a%2\n", 2,
	    "bad %-escape" },
	{ "domain a.test local\nmailbox x@a.test class=a%zzb\n", 2,
	    "bad %-escape" },
	{ "domain a.test local\nmailbox x@a.test class=a%00b\n", 2,
	    "%00" },
	{ "  state=active\n", 1, "continuation line without a record" },
	{ "domain a.test local\nmailbox x@a.test\n\nmailbox X@a.test\n", 4,
	    "already a mailbox (line 2)" },
	{ "domain a.test local\nalias x@a.test y@b.test\nmailbox x@a.test\n",
	    3, "already an alias (line 2)" },
	{ "domain a.test local\nmailbox x@a.test alt=y@a.test\n"
	    "mailbox y@a.test\n", 3, "already an alternate address" },
	{ "domain a.test local\nmailbox x@b.test\n", 2,
	    "domain b.test is not declared" },
	{ "domain a.test local\nrecipient x@a.test\n", 2,
	    "is not a relay domain" },
	{ "domain a.test relay\nmailbox x@a.test\n", 2,
	    "is not a local domain" },
	{ "domain a.test alias\n", 1, "needs target=DOMAIN" },
	{ "domain a.test alias target=b.test\n", 1,
	    "target domain b.test is not declared" },
	{ "domain a.test local\ndomain A.test relay\n", 2,
	    "domain a.test again (first on line 1)" },
	{ "domain a.test nearby\n", 1, "kind must be local, relay or alias" },
	{ "domain a_b.test local\n", 1, "invalid domain" },
	{ "domain a.test local\nalias x@a.test\n", 2, "expected: alias" },
	{ "domain a.test local\nmailbox a..b@a.test\n", 2,
	    "invalid mailbox \"a..b@a.test\": two dots" },
	{ "domain a.test local\nmailbox x@a.test quota=lots\n", 2,
	    "bad quota" },
	{ "domain a.test local\nmailbox x@a.test state=asleep\n", 2,
	    "bad state" },
	{ "domain a.test local\nmailbox x@a.test tag=high\n", 2,
	    "bad score" },
	{ "domain a.test local\nmailbox x@a.test archive=maybe\n", 2,
	    "archive must be yes or no" },
	{ "domain a.test local archive=perhaps\n", 1,
	    "domain a.test: archive must be yes or no" },
	{ "domain a.test local archive=yes archive=no\n", 1,
	    "attribute archive given twice" },
	{ "domain a.test local\nmailbox x@a.test path=relative\n", 2,
	    "path must be absolute" },
	{ "domain a.test local\nmailbox x@a.test state=active state=active\n",
	    2, "attribute state given twice" },
	{ "domain a.test local\nmailbox x@a.test forward=a@b,,c..d@e\n", 2,
	    "invalid forward" },
	{ "domain a.test local\nrecipient\n", 2, "expected: recipient" },
	{ "", 2, "NUL byte" },		/* nul_map */
	{ "domain a.test local\n\n\nmailbox x@a.test\n     bad\n", 4,
	    "expected name=value" },
};

static const char nul_map[] = "domain a.test local\nmailbox x@a.test "
    "host\0=x\n";

START_TEST(test_bad_map)
{
	struct route *r;
	struct route_domain *d = NULL;
	char *error = NULL, *prefix;
	FILE *fp;
	const char *map = bad_maps[_i].map;
	size_t len = strlen(map);

	if (map[0] == '\0') {
		/* A NUL byte inside a line. */
		map = nul_map;
		len = sizeof(nul_map) - 1;
	}
	fp = fopen(map_path, "w");
	ck_assert_ptr_nonnull(fp);
	ck_assert_uint_eq(fwrite(map, 1, len, fp), len);
	ck_assert_int_eq(fclose(fp), 0);
	r = open_route();
	ck_assert_int_eq(route_domain_lookup(r, "a.test", &d, &error), -1);
	prefix = xasprintf("%s:%u: ", map_path, bad_maps[_i].line);
	ck_assert_msg(strncmp(error, prefix, strlen(prefix)) == 0,
	    "\"%s\" does not start with \"%s\"", error, prefix);
	ck_assert_msg(strstr(error, bad_maps[_i].reason) != NULL,
	    "\"%s\" does not contain \"%s\"", error, bad_maps[_i].reason);
	free(prefix);
	free(error);
	route_close(&r);
}
END_TEST

/* The domain flag archives every mailbox of it; a mailbox's own flag. */
START_TEST(test_archive_flags)
{
	static const struct {
		const char *address;
		int archived;
	} cases[] = {
		{ "x@arch.test", 1 },		/* the domain's flag */
		{ "y@arch.test", 1 },		/* archive=no cannot opt out */
		{ "z@plain.test", 0 },
		{ "w@plain.test", 1 },		/* its own flag */
		{ "x-alt@plain.test", 1 },	/* alt address: x's domain */
	};
	struct route *r;
	struct route_answer *ans = NULL;
	struct route_domain *d = NULL;
	char *error = NULL, *text;
	size_t i;

	write_map("domain arch.test local archive=yes\n"
	    "domain plain.test local\n"
	    "mailbox x@arch.test alt=x-alt@plain.test\n"
	    "mailbox y@arch.test archive=no\n"
	    "mailbox z@plain.test\n"
	    "mailbox w@plain.test archive=yes\n");
	r = open_route();
	ck_assert_int_eq(route_domain_lookup(r, "arch.test", &d, &error), 1);
	ck_assert_int_eq(d->archive, 1);
	route_domain_free(&d);
	ck_assert_int_eq(route_domain_lookup(r, "plain.test", &d, &error), 1);
	ck_assert_int_eq(d->archive, 0);
	route_domain_free(&d);
	for (i = 0; i < COUNT(cases); i++) {
		ck_assert_int_eq(route_lookup(r, cases[i].address, &ans,
		    &error), 1);
		ck_assert_msg(route_mailbox_archived(r, ans->mailbox,
		    ans->domain) == cases[i].archived, "%s",
		    cases[i].address);
		/* Without the lookup's domain it is looked up. */
		ck_assert_int_eq(route_mailbox_archived(r, ans->mailbox, NULL),
		    cases[i].archived);
		route_answer_free(&ans);
	}
	/* Written back by provisioning, the flag stays. */
	ck_assert_int_eq(route_domain_lookup(r, "arch.test", &d, &error), 1);
	ck_assert_int_eq(route_domain_put(r, d, 0, &error), 0);
	route_domain_free(&d);
	text = read_map();
	ck_assert_ptr_nonnull(strstr(text,
	    "domain arch.test local archive=yes\n"));
	ck_assert_ptr_null(strstr(text, "domain plain.test local archive"));
	free(text);
	route_close(&r);
}
END_TEST

START_TEST(test_missing_map)
{
	struct route *r = open_route();
	struct route_answer *a = NULL;
	struct route_expansion *exp = NULL;
	char *error = NULL;

	/* Not there: a temporary failure, never "unknown user". */
	ck_assert_int_eq(route_lookup(r, "alice@example.test", &a, &error),
	    -1);
	ck_assert_ptr_nonnull(strstr(error, "no such file"));
	ck_assert_ptr_null(a);
	free(error);
	error = NULL;
	ck_assert_int_eq(route_expand(r, "alice@example.test", &exp, &error),
	    ROUTE_EXPAND_TEMPFAIL);
	ck_assert_ptr_null(exp);
	ck_assert_ptr_nonnull(error);
	free(error);
	route_close(&r);
}
END_TEST

START_TEST(test_reload)
{
	struct route *r;
	struct route_answer *a = NULL;
	char *error = NULL, *text;

	write_map(base_map);
	r = open_route();
	ck_assert_int_eq(route_lookup(r, "zed@other.test", &a, &error), 0);
	xfree(error);
	/* A new record appears once the file changes. */
	text = xasprintf("%smailbox zed@other.test\n", base_map);
	write_map(text);
	free(text);
	ck_assert_int_eq(route_lookup(r, "zed@other.test", &a, &error), 1);
	route_answer_free(&a);
	/* A bad edit: the good map stays in use, the new one is not seen. */
	text = xasprintf("%smailbox yan@other.test\nmailbox bad\n", base_map);
	write_map(text);
	free(text);
	ck_assert_int_eq(route_lookup(r, "zed@other.test", &a, &error), 1);
	route_answer_free(&a);
	ck_assert_int_eq(route_lookup(r, "yan@other.test", &a, &error), 0);
	xfree(error);
	/* The map vanishing keeps the good map too. */
	ck_assert_int_eq(unlink(map_path), 0);
	ck_assert_int_eq(route_lookup(r, "zed@other.test", &a, &error), 1);
	route_answer_free(&a);
	/* Fixed: now yan is there and zed is gone. */
	text = xasprintf("%smailbox yan@other.test\n", base_map);
	write_map(text);
	free(text);
	ck_assert_int_eq(route_lookup(r, "yan@other.test", &a, &error), 1);
	route_answer_free(&a);
	ck_assert_int_eq(route_lookup(r, "zed@other.test", &a, &error), 0);
	xfree(error);
	route_close(&r);
}
END_TEST

START_TEST(test_escapes)
{
	struct route *r;
	struct route_mailbox *m = NULL;
	char *error = NULL;

	write_map("domain a.test local\n"
	    "mailbox \"x%20y\"@a.test path=/v/a%20b%25c%23d class=%41\n"
	    "    alt=\"p%2Cq\"@a.test,z@a.test\n");
	r = open_route();
	ck_assert_int_eq(route_mailbox_get(r, "\"x y\"@a.test", &m, &error),
	    1);
	ck_assert_str_eq(m->address, "\"x y\"@a.test");
	ck_assert_str_eq(m->store_path, "/v/a b%c#d");
	ck_assert_str_eq(m->outbound_class, "A");
	ck_assert_uint_eq(m->alt_count, 2);
	ck_assert_str_eq(m->alt_addresses[0], "\"p,q\"@a.test");
	route_mailbox_free(&m);
	ck_assert_int_eq(route_mailbox_get(r, "\"p,q\"@a.test", &m, &error),
	    1);
	route_mailbox_free(&m);
	route_close(&r);
}
END_TEST

/* ---- expansion ------------------------------------------------------------ */

/* The dests as "kind:address" joined by spaces, in order. */
static char *
dests_text(const struct route_expansion *exp)
{
	static const char *const kinds[] = { "?", "mailbox", "remote",
	    "relay" };
	char *text = xstrdup(""), *next;
	size_t i;

	for (i = 0; i < exp->dest_count; i++) {
		next = xasprintf("%s%s%s:%s", text, i > 0 ? " " : "",
		    kinds[exp->dests[i].kind], exp->dests[i].address);
		free(text);
		text = next;
	}
	return text;
}

static const struct {
	const char *address;
	enum route_expand_status status;
	const char *dests;		/* for OK */
	const char *error;		/* for the others */
} expand_cases[] = {
	{ "alice@example.test", ROUTE_EXPAND_OK,
	    "mailbox:alice@example.test", NULL },
	{ "Alice+tag@alias.test", ROUTE_EXPAND_OK,
	    "mailbox:alice@example.test", NULL },
	{ "postmaster@example.test", ROUTE_EXPAND_OK,
	    "mailbox:alice@example.test remote:bob@remote.example", NULL },
	{ "bob@example.test", ROUTE_EXPAND_OK,
	    "mailbox:bob@example.test remote:bob@remote.example", NULL },
	{ "carol@example.test", ROUTE_EXPAND_OK,
	    "remote:Carol@remote.example mailbox:alice@example.test", NULL },
	/* A forward to itself is a kept copy, not a loop. */
	{ "erin@other.test", ROUTE_EXPAND_OK, "mailbox:erin@other.test", NULL },
	{ "dup@example.test", ROUTE_EXPAND_OK,
	    "mailbox:alice@example.test remote:bob@remote.example", NULL },
	{ "quoted@example.test", ROUTE_EXPAND_OK,
	    "remote:\"a b\"@remote.example", NULL },
	{ "someone@backup.test", ROUTE_EXPAND_OK,
	    "relay:someone@backup.test", NULL },
	/* The primary gets the address as written, tag and case kept. */
	{ "Someone+Tag@Backup.test", ROUTE_EXPAND_OK,
	    "relay:Someone+Tag@backup.test", NULL },
	{ "x@remote-catch.test", ROUTE_EXPAND_OK,
	    "remote:someone@remote.example", NULL },
	{ "stranger@example.test", ROUTE_EXPAND_OK,
	    "mailbox:catchall@example.test", NULL },
	{ "Someone@Far.Example", ROUTE_EXPAND_OK,
	    "remote:Someone@far.example", NULL },
	{ "loop1@example.test", ROUTE_EXPAND_LOOP, NULL,
	    "alias loop: loop1@example.test -> loop2@example.test -> "
	    "loop1@example.test" },
	{ "broken@example.test", ROUTE_EXPAND_UNKNOWN, NULL,
	    "unknown address nobody@other.test (via broken@example.test -> "
	    "nobody@other.test)" },
	{ "nobody@other.test", ROUTE_EXPAND_UNKNOWN, NULL,
	    "unknown address nobody@other.test" },
	{ "other@backup.test", ROUTE_EXPAND_UNKNOWN, NULL,
	    "unknown address other@backup.test" },
	{ "dave@example.test", ROUTE_EXPAND_UNKNOWN, NULL,
	    "dave@example.test: account disabled" },
};

START_TEST(test_expand)
{
	struct route *r;
	struct route_expansion *exp = NULL;
	char *error = NULL, *text;

	write_map(base_map);
	r = open_route();
	ck_assert_int_eq(route_expand(r, expand_cases[_i].address, &exp,
	    &error), expand_cases[_i].status);
	ck_assert_ptr_nonnull(exp);
	ck_assert_uint_ge(exp->trace_count, 1);
	if (expand_cases[_i].status == ROUTE_EXPAND_OK) {
		text = dests_text(exp);
		ck_assert_str_eq(text, expand_cases[_i].dests);
		free(text);
		ck_assert_ptr_null(error);
		ck_assert_ptr_nonnull(exp->dests[0].original);
	} else {
		ck_assert_str_eq(error, expand_cases[_i].error);
	}
	free(error);
	route_expansion_free(&exp);
	route_close(&r);
}
END_TEST

START_TEST(test_expand_trace)
{
	struct route *r;
	struct route_expansion *exp = NULL;
	char *error = NULL;
	size_t i;
	int seen = 0;

	write_map(base_map);
	r = open_route();
	ck_assert_int_eq(route_expand(r, "postmaster@example.test", &exp,
	    &error), ROUTE_EXPAND_OK);
	for (i = 0; i < exp->trace_count; i++)
		if (strcmp(exp->trace[i], "alice@example.test: mailbox on "
		    "localhost (/var/vmail/example.test/alice), policy "
		    "standard") == 0)
			seen++;
	ck_assert_int_eq(seen, 1);
	ck_assert_str_eq(exp->trace[0], "postmaster@example.test: alias -> "
	    "alice@example.test, bob@remote.example");
	ck_assert_str_eq(exp->dests[1].original, "postmaster@example.test");
	ck_assert_str_eq(exp->dests[0].mailbox->store_path,
	    "/var/vmail/example.test/alice");
	ck_assert_str_eq(exp->dests[0].domain->name, "example.test");
	route_expansion_free(&exp);
	route_close(&r);
}
END_TEST

START_TEST(test_expand_depth)
{
	struct route *r;
	struct route_expansion *exp = NULL;
	char *error = NULL, *map = xstrdup(base_map), *next;
	int i;

	/* c0 -> c1 -> ... -> c25 -> alice: 26 hops. */
	for (i = 0; i < 26; i++) {
		next = xasprintf("%salias c%d@other.test c%d@other.test\n",
		    map, i, i + 1);
		free(map);
		map = next;
	}
	next = xasprintf("%salias c26@other.test alice@example.test\n", map);
	free(map);
	write_map(next);
	free(next);
	r = open_route();
	ck_assert_int_eq(route_expand(r, "c0@other.test", &exp, &error),
	    ROUTE_EXPAND_LOOP);
	ck_assert_ptr_nonnull(strstr(error, "deeper than 20 "
	    "(route_expansion_depth)"));
	xfree(error);
	route_expansion_free(&exp);
	/* Starting lower, the chain fits. */
	ck_assert_int_eq(route_expand(r, "c8@other.test", &exp, &error),
	    ROUTE_EXPAND_OK);
	ck_assert_uint_eq(exp->dest_count, 1);
	route_expansion_free(&exp);
	route_close(&r);
	set_param("route_expansion_depth", "30");
	r = open_route();
	ck_assert_int_eq(route_expand(r, "c0@other.test", &exp, &error),
	    ROUTE_EXPAND_OK);
	ck_assert_str_eq(exp->dests[0].address, "alice@example.test");
	route_expansion_free(&exp);
	route_close(&r);
}
END_TEST

/* ---- authentication ------------------------------------------------------- */

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
	write_map(map);
	free(map);
	r = open_route();
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
	struct route *r = open_route();
	const char *reason = NULL;
	char *error = NULL;

	ck_assert_int_eq(route_authenticate(r, "good@a.test", "x", NULL,
	    &reason, &error), -1);
	ck_assert_ptr_nonnull(error);
	free(error);
	route_close(&r);
}
END_TEST

/* ---- provisioning --------------------------------------------------------- */

static int
tmp_files_left(void)
{
	DIR *dir = opendir(testdir);
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
	write_map("# hand-written\n");
	ck_assert_int_eq(chmod(map_path, 0604), 0);
	r = open_route();
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
	text = read_map();
	ck_assert_ptr_null(strstr(text, "hand-written"));
	free(text);
	ck_assert_int_eq(stat(map_path, &st), 0);
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
	r2 = open_route();
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
	text = read_map();
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
	write_map("domain a.test local\nmailbox broken\n");
	r = open_route();
	ck_assert_int_eq(put_mailbox(r, "x@a.test", 1, &error), -1);
	ck_assert_ptr_nonnull(error);
	xfree(error);
	put_domain(r, "b.test", ROUTE_DOMAIN_LOCAL, NULL, -1, NULL);
	text = read_map();
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
	fp = fopen(map_path, "w");
	ck_assert_ptr_nonnull(fp);
	fputs("domain big.test local\n", fp);
	for (i = 0; i < 10000; i++)
		fprintf(fp, "mailbox user%d@big.test state=active quota=1G "
		    "password=$y$j9T$abc$def\n    host=localhost "
		    "path=/var/vmail/big.test/user%d\n    filter=standard "
		    "tag=5 quarantine=10 discard=20 archive=no\n", i, i);
	ck_assert_int_eq(fclose(fp), 0);
	r = open_route();
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

START_TEST(test_open_bad_backend)
{
	char *error = NULL;

	set_param("route_backend", "nis");
	ck_assert_ptr_null(route_open(&error));
	ck_assert_str_eq(error, "unknown route_backend \"nis\" (file or "
	    "ldap)");
	free(error);
}
END_TEST

static Suite *
route_file_suite(void)
{
	Suite *s = suite_create("route_file");
	TCase *tc;

	tc = tcase_create("lookup");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_domain_lookup, 0, COUNT(domain_cases));
	tcase_add_loop_test(tc, test_lookup, 0, COUNT(lookup_cases));
	tcase_add_test(tc, test_lookup_record);
	tcase_add_test(tc, test_lookup_delimiters);
	tcase_add_test(tc, test_lookup_case_sensitive);
	tcase_add_test(tc, test_open_bad_backend);
	suite_add_tcase(s, tc);

	tc = tcase_create("load");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_bad_map, 0, COUNT(bad_maps));
	tcase_add_test(tc, test_missing_map);
	tcase_add_test(tc, test_archive_flags);
	tcase_add_test(tc, test_reload);
	tcase_add_test(tc, test_escapes);
	suite_add_tcase(s, tc);

	tc = tcase_create("expand");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_expand, 0, COUNT(expand_cases));
	tcase_add_test(tc, test_expand_trace);
	tcase_add_test(tc, test_expand_depth);
	suite_add_tcase(s, tc);

	tc = tcase_create("authenticate");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_authenticate);
	tcase_add_test(tc, test_authenticate_tempfail);
	suite_add_tcase(s, tc);

	tc = tcase_create("provision");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_provision);
	tcase_add_test(tc, test_provision_bad_map);
	tcase_add_test(tc, test_many_mailboxes);
	suite_add_tcase(s, tc);
	return s;
}

static int
remove_entry(const char *path, const struct stat *st, int flag,
	struct FTW *ftw)
{
	(void) st;
	(void) flag;
	(void) ftw;
	return remove(path);
}

int
main(void)
{
	SRunner *sr;
	int failed;

	if (mkdtemp(tmpdir) == NULL) {
		perror("check_route_file: mkdtemp");
		return EXIT_FAILURE;
	}
	sr = srunner_create(route_file_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	(void) nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

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
#include "route_fixture.h"
#include "xalloc.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

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

	route_fixture_write_map(base_map);
	r = route_fixture_open();
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

	route_fixture_write_map(base_map);
	r = route_fixture_open();
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

/*
 * smtpd's RCPT check (route_lookup_recipient) gives route_lookup's
 * answer and says whether the domain is ours, with or without a copy of
 * the domain: an unknown address of ours is 1 without an answer.
 */
START_TEST(test_lookup_recipient)
{
	const char *address = lookup_cases[_i].address;
	const char *at = strrchr(address, '@');
	struct route_domain *d = NULL, *own = NULL;
	struct route_answer *a = NULL, *b = NULL;
	struct route *r;
	char *error = NULL;
	int ours;

	route_fixture_write_map(base_map);
	r = route_fixture_open();
	ours = at != NULL && route_domain_lookup(r, at + 1, &own, NULL) == 1;
	ck_assert_int_eq(route_lookup_recipient(r, address, ROUTE_FIELDS_RCPT,
	    &d, &a, &error), ours);
	ck_assert_int_eq(route_lookup_recipient(r, address, ROUTE_FIELDS_RCPT,
	    NULL, &b, NULL), ours);
	if (ours) {
		ck_assert_str_eq(d->name, own->name);
		ck_assert_int_eq(d->kind, own->kind);
	} else {
		ck_assert_ptr_null(d);
	}
	if (lookup_cases[_i].rc == 1) {
		ck_assert_int_eq(a->kind, lookup_cases[_i].kind);
		ck_assert_str_eq(a->how, lookup_cases[_i].how);
		ck_assert_str_eq(a->matched, lookup_cases[_i].matched);
		ck_assert_int_eq(b->kind, lookup_cases[_i].kind);
		ck_assert_str_eq(b->matched, lookup_cases[_i].matched);
	} else {
		ck_assert_ptr_null(a);
		ck_assert_ptr_null(b);
		ck_assert_ptr_nonnull(error);
	}
	free(error);
	route_answer_free(&a);
	route_answer_free(&b);
	route_domain_free(&d);
	route_domain_free(&own);
	route_close(&r);
}
END_TEST

START_TEST(test_lookup_record)
{
	struct route *r;
	struct route_answer *a = NULL;
	const struct route_mailbox *m;
	char *error = NULL;

	route_fixture_write_map(base_map);
	r = route_fixture_open();
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

	route_fixture_write_map(base_map);
	route_fixture_set_param("recipient_delimiter", "+-");
	r = route_fixture_open();
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
	route_fixture_set_param("recipient_delimiter", "");
	r = route_fixture_open();
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

	route_fixture_write_map(base_map);
	route_fixture_set_param("route_case_sensitive_local", "yes");
	r = route_fixture_open();
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
	fp = fopen(route_fixture_map_path, "w");
	ck_assert_ptr_nonnull(fp);
	ck_assert_uint_eq(fwrite(map, 1, len, fp), len);
	ck_assert_int_eq(fclose(fp), 0);
	r = route_fixture_open();
	ck_assert_int_eq(route_domain_lookup(r, "a.test", &d, &error), -1);
	prefix = xasprintf("%s:%u: ", route_fixture_map_path, bad_maps[_i].line);
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

	route_fixture_write_map("domain arch.test local archive=yes\n"
	    "domain plain.test local\n"
	    "mailbox x@arch.test alt=x-alt@plain.test\n"
	    "mailbox y@arch.test archive=no\n"
	    "mailbox z@plain.test\n"
	    "mailbox w@plain.test archive=yes\n");
	r = route_fixture_open();
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
	text = route_fixture_read_map();
	ck_assert_ptr_nonnull(strstr(text,
	    "domain arch.test local archive=yes\n"));
	ck_assert_ptr_null(strstr(text, "domain plain.test local archive"));
	free(text);
	route_close(&r);
}
END_TEST

START_TEST(test_missing_map)
{
	struct route *r = route_fixture_open();
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

	route_fixture_write_map(base_map);
	r = route_fixture_open();
	ck_assert_int_eq(route_lookup(r, "zed@other.test", &a, &error), 0);
	xfree(error);
	/* A new record appears once the file changes. */
	text = xasprintf("%smailbox zed@other.test\n", base_map);
	route_fixture_write_map(text);
	free(text);
	ck_assert_int_eq(route_lookup(r, "zed@other.test", &a, &error), 1);
	route_answer_free(&a);
	/* A bad edit: the good map stays in use, the new one is not seen. */
	text = xasprintf("%smailbox yan@other.test\nmailbox bad\n", base_map);
	route_fixture_write_map(text);
	free(text);
	ck_assert_int_eq(route_lookup(r, "zed@other.test", &a, &error), 1);
	route_answer_free(&a);
	ck_assert_int_eq(route_lookup(r, "yan@other.test", &a, &error), 0);
	xfree(error);
	/* The map vanishing keeps the good map too. */
	ck_assert_int_eq(unlink(route_fixture_map_path), 0);
	ck_assert_int_eq(route_lookup(r, "zed@other.test", &a, &error), 1);
	route_answer_free(&a);
	/* Fixed: now yan is there and zed is gone. */
	text = xasprintf("%smailbox yan@other.test\n", base_map);
	route_fixture_write_map(text);
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

	route_fixture_write_map("domain a.test local\n"
	    "mailbox \"x%20y\"@a.test path=/v/a%20b%25c%23d class=%41\n"
	    "    alt=\"p%2Cq\"@a.test,z@a.test\n");
	r = route_fixture_open();
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

	route_fixture_write_map(base_map);
	r = route_fixture_open();
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

	route_fixture_write_map(base_map);
	r = route_fixture_open();
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
	route_fixture_write_map(next);
	free(next);
	r = route_fixture_open();
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
	route_fixture_set_param("route_expansion_depth", "30");
	r = route_fixture_open();
	ck_assert_int_eq(route_expand(r, "c0@other.test", &exp, &error),
	    ROUTE_EXPAND_OK);
	ck_assert_str_eq(exp->dests[0].address, "alice@example.test");
	route_expansion_free(&exp);
	route_close(&r);
}
END_TEST

START_TEST(test_open_bad_backend)
{
	char *error = NULL;

	route_fixture_set_param("route_backend", "nis");
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
	tcase_add_checked_fixture(tc, route_fixture_setup,
	    route_fixture_teardown);
	tcase_add_loop_test(tc, test_domain_lookup, 0, COUNT(domain_cases));
	tcase_add_loop_test(tc, test_lookup, 0, COUNT(lookup_cases));
	tcase_add_loop_test(tc, test_lookup_recipient, 0,
	    COUNT(lookup_cases));
	tcase_add_test(tc, test_lookup_record);
	tcase_add_test(tc, test_lookup_delimiters);
	tcase_add_test(tc, test_lookup_case_sensitive);
	tcase_add_test(tc, test_open_bad_backend);
	suite_add_tcase(s, tc);

	tc = tcase_create("load");
	tcase_add_checked_fixture(tc, route_fixture_setup,
	    route_fixture_teardown);
	tcase_add_loop_test(tc, test_bad_map, 0, COUNT(bad_maps));
	tcase_add_test(tc, test_missing_map);
	tcase_add_test(tc, test_archive_flags);
	tcase_add_test(tc, test_reload);
	tcase_add_test(tc, test_escapes);
	suite_add_tcase(s, tc);

	tc = tcase_create("expand");
	tcase_add_checked_fixture(tc, route_fixture_setup,
	    route_fixture_teardown);
	tcase_add_loop_test(tc, test_expand, 0, COUNT(expand_cases));
	tcase_add_test(tc, test_expand_trace);
	tcase_add_test(tc, test_expand_depth);
	suite_add_tcase(s, tc);

	return s;
}

int
main(void)
{
	return route_fixture_run(route_file_suite(), "check_route_file");
}

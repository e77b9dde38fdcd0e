/* check_srs: SRS0/SRS1 encoding and decoding, secrets, time, bad input. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "address.h"
#include "srs.h"
#include "xalloc.h"

#define DAY (24 * 60 * 60)
/* postsrsd's test clock: 2020-01-01 00:01:00 UTC (time stamp "2W"). */
#define T0 ((time_t) 1577836860)

static struct srs *
make(const char *domain, const char *secret)
{
	const char *secrets[] = { secret };
	char *error = NULL;
	struct srs *srs = srs_new(domain, secrets, 1, 21, &error);

	ck_assert_msg(srs != NULL, "srs_new: %s", error);
	return srs;
}

static char *
encode(const struct srs *srs, const char *sender, time_t now)
{
	char *result = NULL, *error = NULL;

	ck_assert_msg(srs_encode(srs, sender, now, &result, &error) == 0,
	    "encode %s: %s", sender, error);
	return result;
}

static char *
repeat(char c, size_t n)
{
	char *s = xmalloc(n + 1);

	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* ---- known answers (libsrs2 / postsrsd compatibility) ------------------- */

START_TEST(test_known_vector)
{
	struct srs *srs = make("example.com", "tops3cr3t");
	char *out, *orig = NULL, *error = NULL;

	/* postsrsd's tests/unit/test_srs2.c expects exactly this. */
	out = encode(srs, "test@otherdomain.com", T0);
	ck_assert_str_eq(out, "SRS0=vmyz=2W=otherdomain.com=test@example.com");
	ck_assert_int_eq(srs_decode(srs, out, T0, &orig, &error), SRS_OK);
	ck_assert_str_eq(orig, "test@otherdomain.com");
	free(out);
	free(orig);
	/* A sender in our own domain stays as it is. */
	out = encode(srs, "test@Example.COM", T0);
	ck_assert_str_eq(out, "test@Example.COM");
	free(out);
	srs_free(&srs);
	ck_assert_ptr_null(srs);
}
END_TEST

/* ---- round trips ---------------------------------------------------------- */

static const char *const round_trips[] = {
	"alice@example.test",
	"Alice.Smith@Example.TEST",
	"a+tag=x@sub.example.test",
	"user@[192.0.2.1]",
	"user@[IPv6:2001:db8::1]",
	"\"a b\"@example.test",
	"\"a@b\"@example.test",
	"\"a\\\"b\"@example.test",
	"\"trailing.\"@example.test",
	"j\xc3\xb6rg@b\xc3\xbc" "cher.example",
};

START_TEST(test_round_trip)
{
	struct srs *srs = make("srs.example.net", "secret one");
	const char *sender = round_trips[_i];
	char *out, *orig = NULL, *error = NULL, *norm = NULL;
	time_t now;

	out = encode(srs, sender, T0);
	ck_assert_msg(strncmp(out, "SRS0=", 5) == 0 ||
	    strncmp(out, "\"SRS0=", 6) == 0, "%s", out);
	ck_assert_int_eq(srs_in_domain(srs, out), 1);
	/* Valid for max_age days, whatever day of the 1024-day cycle. */
	for (now = T0; now <= T0 + 21 * DAY; now += DAY / 2) {
		ck_assert_int_eq(srs_decode(srs, out, now, &orig, &error),
		    SRS_OK);
		ck_assert_str_eq(orig, sender);
		free(orig);
		orig = NULL;
	}
	/* The result is a valid address (quoted where it must be). */
	ck_assert_msg(address_normalize(out, strlen(out), 1, &norm,
	    &error) == 0 || strlen(out) > 64, "%s: %s", out, error);
	free(norm);
	free(out);
	srs_free(&srs);
}
END_TEST

START_TEST(test_null_sender)
{
	struct srs *srs = make("srs.example.net", "s");
	char *out = encode(srs, "", T0);

	ck_assert_str_eq(out, "");
	free(out);
	srs_free(&srs);
}
END_TEST

START_TEST(test_case_insensitive)
{
	struct srs *srs = make("srs.example.net", "s3cret");
	char *out, *orig = NULL, *error = NULL, *p;

	out = encode(srs, "Bob@Origin.Example", T0);
	/* An MTA on the way lower-cased (or upper-cased) it all. */
	for (p = out; *p != '\0'; p++)
		*p = (char) (*p >= 'A' && *p <= 'Z' ? *p + 'a' - 'A' : *p);
	ck_assert_int_eq(srs_decode(srs, out, T0, &orig, &error), SRS_OK);
	ck_assert_str_eq(orig, "bob@origin.example");
	free(orig);
	for (p = out; *p != '\0'; p++)
		*p = (char) (*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
	ck_assert_int_eq(srs_decode(srs, out, T0, &orig, &error), SRS_OK);
	ck_assert_str_eq(orig, "BOB@ORIGIN.EXAMPLE");
	free(orig);
	free(out);
	srs_free(&srs);
}
END_TEST

/* ---- time ----------------------------------------------------------------- */

START_TEST(test_expired)
{
	struct srs *srs = make("srs.example.net", "s3cret");
	char *out, *orig = NULL, *error = NULL;
	/* Start of a day, so the edge is exact. */
	time_t day0 = (T0 / DAY) * DAY;

	out = encode(srs, "bob@origin.example", day0);
	ck_assert_int_eq(srs_decode(srs, out, day0 + 22 * DAY - 1, &orig,
	    &error), SRS_OK);
	free(orig);
	ck_assert_int_eq(srs_decode(srs, out, day0 + 22 * DAY, &orig,
	    &error), SRS_EXPIRED);
	ck_assert_ptr_nonnull(strstr(error, "expired"));
	free(error);
	error = NULL;
	ck_assert_int_eq(srs_decode(srs, out, day0 + 500 * DAY, &orig,
	    &error), SRS_EXPIRED);
	free(error);
	error = NULL;
	/* A stamp from "tomorrow" is a wrapped one from 1023 days ago. */
	ck_assert_int_eq(srs_decode(srs, out, day0 - DAY, &orig, &error),
	    SRS_EXPIRED);
	free(error);
	free(out);
	srs_free(&srs);
}
END_TEST

START_TEST(test_wrap)
{
	struct srs *srs = make("srs.example.net", "s3cret");
	char *out, *orig = NULL, *error = NULL;
	/* The last day of a 1024-day cycle: valid after the wrap too. */
	time_t last = ((T0 / DAY / SRS_TIME_SLOTS + 1) * SRS_TIME_SLOTS - 1) *
	    (time_t) DAY;

	out = encode(srs, "bob@origin.example", last);
	ck_assert_ptr_nonnull(strstr(out, "=77="));
	ck_assert_int_eq(srs_decode(srs, out, last + 5 * DAY, &orig, &error),
	    SRS_OK);
	free(orig);
	free(out);
	srs_free(&srs);
}
END_TEST

/* ---- forgeries and bad input ---------------------------------------------- */

START_TEST(test_forged)
{
	struct srs *srs = make("srs.example.net", "s3cret");
	struct srs *other = make("srs.example.net", "another secret");
	char *out, *orig = NULL, *error = NULL, *p;

	out = encode(other, "bob@origin.example", T0);
	ck_assert_int_eq(srs_decode(srs, out, T0, &orig, &error), SRS_FORGED);
	ck_assert_ptr_nonnull(strstr(error, "forged"));
	free(error);
	error = NULL;
	free(out);
	/* A valid address with its destination changed. */
	out = encode(srs, "bob@origin.example", T0);
	p = strstr(out, "origin");
	*p = 'O';	/* case only: still valid */
	ck_assert_int_eq(srs_decode(srs, out, T0, &orig, &error), SRS_OK);
	free(orig);
	*p = 'x';
	ck_assert_int_eq(srs_decode(srs, out, T0, &orig, &error), SRS_FORGED);
	free(error);
	error = NULL;
	free(out);
	/* A forgery that is also old is reported as forged. */
	out = encode(other, "bob@origin.example", T0);
	ck_assert_int_eq(srs_decode(srs, out, T0 + 100 * DAY, &orig, &error),
	    SRS_FORGED);
	free(error);
	free(out);
	srs_free(&srs);
	srs_free(&other);
}
END_TEST

START_TEST(test_time_stamp_edit_is_forged)
{
	struct srs *srs = make("srs.example.net", "s3cret");
	char *out, *orig = NULL, *error = NULL;

	/* Moving the stamp forward to extend the life breaks the hash. */
	out = encode(srs, "bob@origin.example", T0);
	ck_assert_ptr_nonnull(strstr(out, "=2W="));
	memcpy(strstr(out, "=2W=") + 1, "3A", 2);
	ck_assert_int_eq(srs_decode(srs, out, T0, &orig, &error), SRS_FORGED);
	free(error);
	free(out);
	srs_free(&srs);
}
END_TEST

static const struct {
	const char *addr;
	int result;
} decode_cases[] = {
	{ "bob@other.example", SRS_NOT_SRS },
	{ "SRS0=vmyz=2W=otherdomain.com=test@example.com", SRS_NOT_SRS },
	{ "no-at-sign", SRS_NOT_SRS },
	{ "", SRS_NOT_SRS },
	{ "bob@srs.example.net", SRS_MALFORMED },
	{ "postmaster@srs.example.net", SRS_MALFORMED },
	{ "@srs.example.net", SRS_MALFORMED },
	{ "SRS0@srs.example.net", SRS_MALFORMED },
	{ "SRS0=@srs.example.net", SRS_MALFORMED },
	{ "SRS2=abcd=2W=d.example=u@srs.example.net", SRS_MALFORMED },
	{ "SRS0:abcd=2W=d.example=u@srs.example.net", SRS_MALFORMED },
	{ "SRS0=abc=2W=d.example=u@srs.example.net", SRS_MALFORMED },
	{ "SRS0=abcde=2W=d.example=u@srs.example.net", SRS_MALFORMED },
	{ "SRS0=abcd=2W=d.example@srs.example.net", SRS_MALFORMED },
	{ "SRS0=abcd=2W=d.example=@srs.example.net", SRS_MALFORMED },
	{ "SRS0=abcd=2W==u@srs.example.net", SRS_MALFORMED },
	{ "SRS0=abcd=2=d.example=u@srs.example.net", SRS_MALFORMED },
	{ "SRS0=abcd=2WX=d.example=u@srs.example.net", SRS_MALFORMED },
	{ "SRS0=abcd=19=d.example=u@srs.example.net", SRS_MALFORMED },
	{ "SRS0=abcd=2W=d.example=u@srs.example.net", SRS_FORGED },
	{ "SRS0=abcd=2W=d..example=u@srs.example.net", SRS_MALFORMED },
	{ "SRS0..x@srs.example.net", SRS_MALFORMED },
	{ "\"SRS0=abcd=2W=d.example=u@srs.example.net", SRS_MALFORMED },
	{ "\"SRS0=abcd=2W=d.ex\"x\"=u\"@srs.example.net", SRS_MALFORMED },
	{ "SRS0 =abcd=2W=d.example=u@srs.example.net", SRS_MALFORMED },
	{ "SRS1=abcd@srs.example.net", SRS_MALFORMED },
	{ "SRS1=abcd=fwd.example@srs.example.net", SRS_MALFORMED },
	{ "SRS1=abcd==x@srs.example.net", SRS_MALFORMED },
	{ "SRS1=abcd=fwd.example=@srs.example.net", SRS_MALFORMED },
	{ "SRS1=abcd=fwd.example==x=2W=d=u@srs.example.net", SRS_FORGED },
	{ "SRS0=vmyz=2W=otherdomain.com=test@srs.example.net", SRS_FORGED },
};

START_TEST(test_decode_bad)
{
	struct srs *srs = make("srs.example.net", "s3cret");
	char *orig = NULL, *error = NULL;
	int rc;

	rc = srs_decode(srs, decode_cases[_i].addr, T0, &orig, &error);
	ck_assert_msg(rc == decode_cases[_i].result, "%s: %d (%s)",
	    decode_cases[_i].addr, rc, error != NULL ? error : "");
	ck_assert_ptr_null(orig);
	if (rc < 0)
		ck_assert_ptr_nonnull(error);
	free(error);
	srs_free(&srs);
}
END_TEST

static const char *const encode_bad[] = {
	"no-at-sign",
	"@example.test",
	"user@",
	"user@bad..domain",
	"user@-bad.example",
	"us er@example.test",
	"\"unterminated@example.test",
	"\"a\"b\"@example.test",
	"a..b@example.test",
};

START_TEST(test_encode_bad)
{
	struct srs *srs = make("srs.example.net", "s3cret");
	char *result = NULL, *error = NULL;

	ck_assert_int_eq(srs_encode(srs, encode_bad[_i], T0, &result,
	    &error), -1);
	ck_assert_ptr_null(result);
	ck_assert_ptr_nonnull(error);
	free(error);
	srs_free(&srs);
}
END_TEST

START_TEST(test_long_addresses)
{
	struct srs *srs = make("srs.example.net", "s3cret");
	char *local = repeat('l', 64), *label = repeat('d', 63);
	char *sender, *out, *orig = NULL, *error = NULL, *result = NULL;

	/* A 64-octet local part still fits: SRS local parts may be long. */
	sender = xasprintf("%s@%s.example", local, label);
	out = encode(srs, sender, T0);
	ck_assert_uint_gt(strlen(out), 64 + 64);
	ck_assert_int_eq(srs_decode(srs, out, T0, &orig, &error), SRS_OK);
	ck_assert_str_eq(orig, sender);
	free(orig);
	free(out);
	free(sender);
	/* Too long once rewritten: refused, the caller keeps the sender. */
	sender = xasprintf("%s@%s.%s.%.40s", local, label, label, label);
	ck_assert_uint_le(strlen(sender), ADDRESS_MAX);
	ck_assert_int_eq(srs_encode(srs, sender, T0, &result, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "longer"));
	free(error);
	error = NULL;
	free(sender);
	/* Over-long input on either side. */
	sender = xasprintf("%s%s%s%s@x.example", local, local, local, local);
	ck_assert_int_eq(srs_encode(srs, sender, T0, &result, &error), -1);
	free(error);
	error = NULL;
	free(sender);
	sender = xasprintf("SRS0=abcd=2W=x.example=%s%s%s%s@srs.example.net",
	    local, local, local, local);
	ck_assert_int_eq(srs_decode(srs, sender, T0, &orig, &error),
	    SRS_MALFORMED);
	free(error);
	free(sender);
	free(local);
	free(label);
	srs_free(&srs);
}
END_TEST

/* ---- SRS1: forwarding SRS addresses --------------------------------------- */

START_TEST(test_srs1)
{
	struct srs *first = make("fwd1.example", "first secret");
	struct srs *second = make("fwd2.example", "second secret");
	struct srs *third = make("fwd3.example", "third secret");
	char *srs0, *srs1, *srs1b, *orig = NULL, *back = NULL, *error = NULL;

	srs0 = encode(first, "alice@origin.example", T0);
	ck_assert_int_eq(strncmp(srs0, "SRS0=", 5), 0);
	/* The second forwarder wraps it: SRS1=HHHH=fwd1.example==... */
	srs1 = encode(second, srs0, T0);
	ck_assert_int_eq(strncmp(srs1, "SRS1=", 5), 0);
	ck_assert_ptr_nonnull(strstr(srs1, "=fwd1.example=="));
	ck_assert_ptr_nonnull(strstr(srs1, "@fwd2.example"));
	/* A third keeps the first forwarder; the address does not grow. */
	srs1b = encode(third, srs1, T0);
	ck_assert_int_eq(strncmp(srs1b, "SRS1=", 5), 0);
	ck_assert_uint_eq(strlen(srs1b), strlen(srs1));
	ck_assert_ptr_nonnull(strstr(srs1b, "=fwd1.example=="));
	/* Bounces: the third and the second send it to the first. */
	ck_assert_int_eq(srs_decode(third, srs1b, T0, &back, &error), SRS_OK);
	ck_assert_str_eq(back, srs0);
	free(back);
	ck_assert_int_eq(srs_decode(second, srs1, T0, &back, &error), SRS_OK);
	ck_assert_str_eq(back, srs0);
	/* ... who decodes it to the original sender. */
	ck_assert_int_eq(srs_decode(first, back, T0, &orig, &error), SRS_OK);
	ck_assert_str_eq(orig, "alice@origin.example");
	free(orig);
	/* SRS1 carries no time of its own: the first forwarder checks. */
	ck_assert_int_eq(srs_decode(second, srs1, T0 + 300 * DAY, &orig,
	    &error), SRS_OK);
	free(orig);
	ck_assert_int_eq(srs_decode(first, back, T0 + 300 * DAY, &orig,
	    &error), SRS_EXPIRED);
	free(error);
	error = NULL;
	/* SRS1 under another secret is forged. */
	ck_assert_int_eq(srs_decode(third, srs1b, T0, &orig, &error), SRS_OK);
	free(orig);
	/* Digits: a change that case-insensitivity cannot undo. */
	srs1b[5] = srs1b[5] == '0' ? '1' : '0';
	ck_assert_int_eq(srs_decode(third, srs1b, T0, &orig, &error),
	    SRS_FORGED);
	free(error);
	free(back);
	free(srs0);
	free(srs1);
	free(srs1b);
	srs_free(&first);
	srs_free(&second);
	srs_free(&third);
}
END_TEST

START_TEST(test_srs1_foreign_separators)
{
	struct srs *srs = make("fwd2.example", "second secret");
	char *out, *back = NULL, *error = NULL;

	/* libsrs2 also reads "SRS0+" and "SRS0-"; the rest stays opaque. */
	out = encode(srs, "SRS0+HHH=TT=orig.example=u@fwd1.example", T0);
	ck_assert_ptr_nonnull(strstr(out, "=fwd1.example=+HHH=TT="));
	ck_assert_int_eq(srs_decode(srs, out, T0, &back, &error), SRS_OK);
	ck_assert_str_eq(back, "SRS0+HHH=TT=orig.example=u@fwd1.example");
	free(back);
	free(out);
	/* A broken SRS1 of someone else is signed like a plain sender. */
	out = encode(srs, "SRS1=xx@fwd1.example", T0);
	ck_assert_int_eq(strncmp(out, "SRS0=", 5), 0);
	ck_assert_int_eq(srs_decode(srs, out, T0, &back, &error), SRS_OK);
	ck_assert_str_eq(back, "SRS1=xx@fwd1.example");
	free(back);
	free(out);
	srs_free(&srs);
}
END_TEST

/* ---- secrets: rotation and the file --------------------------------------- */

START_TEST(test_key_rotation)
{
	const char *old_only[] = { "old secret" };
	const char *rotated[] = { "new secret", "old secret" };
	const char *new_only[] = { "new secret" };
	char *error = NULL, *old_addr, *new_addr, *orig = NULL;
	struct srs *a = srs_new("srs.example.net", old_only, 1, 21, &error);
	struct srs *b = srs_new("srs.example.net", rotated, 2, 21, &error);
	struct srs *c = srs_new("srs.example.net", new_only, 1, 21, &error);

	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_nonnull(c);
	old_addr = encode(a, "bob@origin.example", T0);
	new_addr = encode(b, "bob@origin.example", T0);
	/* The first secret signs. */
	ck_assert_str_ne(old_addr, new_addr);
	ck_assert_int_eq(srs_decode(c, new_addr, T0, &orig, &error), SRS_OK);
	free(orig);
	/* All secrets verify. */
	ck_assert_int_eq(srs_decode(b, old_addr, T0, &orig, &error), SRS_OK);
	free(orig);
	ck_assert_int_eq(srs_decode(b, new_addr, T0, &orig, &error), SRS_OK);
	free(orig);
	/* Once the old secret is dropped, its addresses are refused. */
	ck_assert_int_eq(srs_decode(c, old_addr, T0, &orig, &error),
	    SRS_FORGED);
	free(error);
	free(old_addr);
	free(new_addr);
	srs_free(&a);
	srs_free(&b);
	srs_free(&c);
}
END_TEST

START_TEST(test_new_bad)
{
	const char *one[] = { "s" };
	const char *empty[] = { "" };
	char *error = NULL, *big = repeat('k', SRS_SECRET_MAX + 1);
	const char *too_big[] = { big };

	ck_assert_ptr_null(srs_new("bad..domain", one, 1, 21, &error));
	free(error);
	ck_assert_ptr_null(srs_new("[192.0.2.1]", one, 1, 21, &error));
	free(error);
	ck_assert_ptr_null(srs_new("srs.example", one, 0, 21, &error));
	free(error);
	ck_assert_ptr_null(srs_new("srs.example", empty, 1, 21, &error));
	free(error);
	ck_assert_ptr_null(srs_new("srs.example", too_big, 1, 21, &error));
	free(error);
	ck_assert_ptr_null(srs_new("srs.example", one, 1, 0, &error));
	free(error);
	ck_assert_ptr_null(srs_new("srs.example", one, 1, SRS_TIME_SLOTS,
	    &error));
	free(error);
	free(big);
}
END_TEST

static char *
write_file(const char *content, size_t len, mode_t mode)
{
	char *path = xstrdup("/tmp/check_srs.XXXXXX");
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, content, len), (ssize_t) len);
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

START_TEST(test_secrets_file)
{
	static const char content[] = "\n  first secret \r\n\n\tsecond\t\nthird";
	char **secrets = NULL, *error = NULL;
	char *path = write_file(content, sizeof(content) - 1, 0600);
	size_t count = 0;

	ck_assert_int_eq(srs_secrets_read(path, &secrets, &count, &error), 0);
	ck_assert_uint_eq(count, 3);
	/* Leading white space is part of the secret; trailing is not. */
	ck_assert_str_eq(secrets[0], "  first secret");
	ck_assert_str_eq(secrets[1], "\tsecond");
	ck_assert_str_eq(secrets[2], "third");
	srs_secrets_free(secrets, count);
	unlink(path);
	free(path);
}
END_TEST

START_TEST(test_secrets_file_bad)
{
	char **secrets = NULL, *error = NULL, *path, *many, *p;
	size_t count = 0, i;
	char *big = repeat('s', SRS_SECRET_MAX + 1);

	ck_assert_int_eq(srs_secrets_read("", &secrets, &count, &error), -1);
	free(error);
	ck_assert_int_eq(srs_secrets_read("/nonexistent/srs", &secrets,
	    &count, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "/nonexistent/srs"));
	free(error);
	ck_assert_int_eq(srs_secrets_read("/tmp", &secrets, &count, &error),
	    -1);
	free(error);
	/* Empty, blank only, a NUL byte, too long, too many. */
	path = write_file("", 0, 0600);
	ck_assert_int_eq(srs_secrets_read(path, &secrets, &count, &error),
	    -1);
	free(error);
	unlink(path);
	free(path);
	path = write_file(" \n\r\n\t\n", 6, 0600);
	ck_assert_int_eq(srs_secrets_read(path, &secrets, &count, &error),
	    -1);
	free(error);
	unlink(path);
	free(path);
	path = write_file("ab\0cd\n", 6, 0600);
	ck_assert_int_eq(srs_secrets_read(path, &secrets, &count, &error),
	    -1);
	ck_assert_ptr_nonnull(strstr(error, "NUL"));
	free(error);
	unlink(path);
	free(path);
	path = write_file(big, strlen(big), 0600);
	ck_assert_int_eq(srs_secrets_read(path, &secrets, &count, &error),
	    -1);
	free(error);
	unlink(path);
	free(path);
	many = xmalloc(3 * (SRS_SECRETS_MAX + 1) + 1);
	for (i = 0, p = many; i <= SRS_SECRETS_MAX; i++, p += 3)
		memcpy(p, "s\x01\n", 3);
	*p = '\0';
	path = write_file(many, strlen(many), 0600);
	ck_assert_int_eq(srs_secrets_read(path, &secrets, &count, &error),
	    -1);
	free(error);
	unlink(path);
	free(path);
	free(many);
	free(big);
	ck_assert_ptr_null(secrets);
}
END_TEST

static Suite *
srs_suite(void)
{
	Suite *s = suite_create("srs");
	TCase *tc;

	tc = tcase_create("encode");
	tcase_add_test(tc, test_known_vector);
	tcase_add_loop_test(tc, test_round_trip, 0,
	    sizeof(round_trips) / sizeof(round_trips[0]));
	tcase_add_test(tc, test_null_sender);
	tcase_add_test(tc, test_case_insensitive);
	tcase_add_loop_test(tc, test_encode_bad, 0,
	    sizeof(encode_bad) / sizeof(encode_bad[0]));
	tcase_add_test(tc, test_long_addresses);
	suite_add_tcase(s, tc);

	tc = tcase_create("time");
	tcase_add_test(tc, test_expired);
	tcase_add_test(tc, test_wrap);
	suite_add_tcase(s, tc);

	tc = tcase_create("decode");
	tcase_add_test(tc, test_forged);
	tcase_add_test(tc, test_time_stamp_edit_is_forged);
	tcase_add_loop_test(tc, test_decode_bad, 0,
	    sizeof(decode_cases) / sizeof(decode_cases[0]));
	suite_add_tcase(s, tc);

	tc = tcase_create("srs1");
	tcase_add_test(tc, test_srs1);
	tcase_add_test(tc, test_srs1_foreign_separators);
	suite_add_tcase(s, tc);

	tc = tcase_create("secrets");
	tcase_add_test(tc, test_key_rotation);
	tcase_add_test(tc, test_new_bad);
	tcase_add_test(tc, test_secrets_file);
	tcase_add_test(tc, test_secrets_file_bad);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	sr = srunner_create(srs_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

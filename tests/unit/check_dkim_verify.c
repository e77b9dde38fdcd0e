/*
 * check_dkim_verify: the DKIM verifier against signatures made by code
 * we did not write (dkimpy through tests/unit/dkim_vectors.py, and
 * libopendkim; opendkim-testmsg's rsa-sha1 is refused), both canonicalizations, rsa-sha256 and
 * ed25519-sha256, l=, repeated and absent header fields, fed whole and
 * split; tampered header and body, revoked, missing and wrong keys,
 * expired x=, rsa-sha1; malformed and oversized tags; the key cache.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <opendkim/dkim.h>
#include <stdint.h>

#include "buf.h"
#include "dkim_canon.h"
#include "dkim_record.h"
#include "dkim_sign.h"
#include "dkim_verify.h"
#include "sasl.h"
#include "tree_fixture.h"
#include "xalloc.h"

#define NOW 1900000000LL

static char dir[] = "/tmp/check_dkim_verify.XXXXXX";
static EVP_PKEY *rsa_key, *rsa_other, *ed_key;
static char *rsa_pem, *ed_seed;		/* key files for the signers */
static char *rsa_record, *rsa_other_record, *ed_record;

static char *
b64(const unsigned char *data, size_t len)
{
	struct buf *b = buf_new(8192);
	char *s;

	ck_assert_int_eq(base64_encode(data, len, b), 0);
	s = buf_strdup(b);
	buf_free(&b);
	return s;
}

/* "v=DKIM1; k=...; p=..." for key. */
static char *
record_of(EVP_PKEY *key)
{
	unsigned char *der = NULL, raw[32];
	size_t raw_len = sizeof(raw);
	char *p, *rec;
	int len;

	if (EVP_PKEY_is_a(key, "ED25519")) {
		if (EVP_PKEY_get_raw_public_key(key, raw, &raw_len) != 1)
			abort();
		p = b64(raw, raw_len);
		rec = xasprintf("v=DKIM1; k=ed25519; p=%s", p);
	} else {
		len = i2d_PUBKEY(key, &der);
		if (len <= 0)
			abort();
		p = b64(der, (size_t) len);
		OPENSSL_free(der);
		rec = xasprintf("v=DKIM1; k=rsa; p=%s", p);
	}
	free(p);
	return rec;
}

/* Once, before the tests fork: keys and their files. */
static void
keys_setup(void)
{
	unsigned char seed[32];
	size_t seed_len = sizeof(seed);
	char *s;
	FILE *f;

	if (mkdtemp(dir) == NULL)
		abort();
	rsa_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 2048);
	rsa_other = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 1024);
	ed_key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (rsa_key == NULL || rsa_other == NULL || ed_key == NULL)
		abort();
	rsa_pem = xasprintf("%s/rsa.pem", dir);
	f = fopen(rsa_pem, "w");
	if (f == NULL || PEM_write_PrivateKey(f, rsa_key, NULL, NULL, 0,
	    NULL, NULL) != 1 || fclose(f) != 0)
		abort();
	/* dkimpy's Ed25519 key: the base64 of the 32-byte seed. */
	ed_seed = xasprintf("%s/ed.key", dir);
	if (EVP_PKEY_get_raw_private_key(ed_key, seed, &seed_len) != 1)
		abort();
	s = b64(seed, seed_len);
	f = fopen(ed_seed, "w");
	if (f == NULL || fputs(s, f) < 0 || fclose(f) != 0)
		abort();
	free(s);
	rsa_record = record_of(rsa_key);
	rsa_other_record = record_of(rsa_other);
	ed_record = record_of(ed_key);
}

static void
keys_teardown(void)
{
	tree_fixture_remove(dir);
	EVP_PKEY_free(rsa_key);
	EVP_PKEY_free(rsa_other);
	EVP_PKEY_free(ed_key);
}

/* Run argv with the file in as stdin; its stdout (caller frees). */
static char *
run(const char *const args[], const char *in_path)
{
	char *argv[16];
	struct buf *out = buf_new(1024 * 1024);
	int pipefd[2], status;
	char chunk[4096];
	ssize_t n;
	pid_t pid;
	char *s;
	size_t i;

	for (i = 0; args[i] != NULL && i < 15; i++)
		argv[i] = xstrdup(args[i]);
	argv[i] = NULL;
	ck_assert_int_eq(pipe(pipefd), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		FILE *in = freopen(in_path, "r", stdin);

		if (in == NULL)
			_exit(126);
		dup2(pipefd[1], 1);
		close(pipefd[0]);
		close(pipefd[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(pipefd[1]);
	while ((n = read(pipefd[0], chunk, sizeof(chunk))) > 0)
		ck_assert_int_eq(buf_append(out, chunk, (size_t) n), 0);
	close(pipefd[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "%s failed (status %d)", argv[0], status);
	s = buf_strdup(out);
	buf_free(&out);
	for (i = 0; argv[i] != NULL; i++)
		free(argv[i]);
	return s;
}

static char *
write_message(const char *msg)
{
	char *path = xasprintf("%s/msg.%d", dir, (int) getpid());
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fputs(msg, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
	return path;
}

/* dkimpy's DKIM-Signature field for msg; headers may be NULL. */
static char *
dkimpy_sign(const char *alg, const char *canon, int length,
	const char *headers, const char *msg)
{
	const char *top = getenv("top_srcdir"), *python = getenv("PYTHON3");
	char *script, *path, *field;
	const char *argv[10];
	int i = 0;

	ck_assert_msg(top != NULL, "top_srcdir is not set (make check sets "
	    "it)");
	if (python == NULL || *python == '\0')
		python = "/usr/bin/python3";
	script = xasprintf("%s/tests/unit/dkim_vectors.py", top);
	path = write_message(msg);
	argv[i++] = python;
	argv[i++] = script;
	argv[i++] = strncmp(alg, "ed25519", 7) == 0 ? ed_seed : rsa_pem;
	argv[i++] = strncmp(alg, "ed25519", 7) == 0 ? "ed" : "rs";
	argv[i++] = "example.test";
	argv[i++] = alg;
	argv[i++] = canon;
	argv[i++] = length ? "1" : "0";
	argv[i++] = headers;
	argv[i] = NULL;
	field = run(argv, path);
	ck_assert_msg(strncmp(field, "DKIM-Signature:", 15) == 0, "%s",
	    field);
	unlink(path);
	free(path);
	free(script);
	return field;
}

/* The key records the "DNS" holds; rs/ed at example.test by default. */
static const char *rs_answer, *ed_answer;
static int lookup_tempfail;

static void
answers_default(void)
{
	rs_answer = rsa_record;
	ed_answer = ed_record;
	lookup_tempfail = 0;
}

/*
 * Verify message (fed in pieces of step bytes, 0: whole) at now; the
 * results of the first signature into *r, the count returned.
 */
static size_t
verify_at(const char *msg, size_t len, size_t step, long long now,
	struct dkim_pubcache *cache, struct dkim_verify_result *r)
{
	struct dkim_verifier *v = dkim_verifier_new(cache, now);
	size_t i, n;

	if (step == 0)
		step = len;
	for (i = 0; i < len; i += step)
		dkim_verifier_chunk(v, msg + i, len - i < step ? len - i : step);
	dkim_verifier_finish(v);
	n = dkim_verifier_count(v);
	for (i = 0; i < n; i++) {
		const char *name = dkim_verifier_key_name(v, i);
		const char *rec = NULL;

		if (name == NULL)
			continue;
		if (strcmp(name, "rs._domainkey.example.test") == 0)
			rec = rs_answer;
		else if (strcmp(name, "ed._domainkey.example.test") == 0)
			rec = ed_answer;
		dkim_verifier_key(v, i, lookup_tempfail ?
		    DKIM_LOOKUP_TEMPFAIL : rec != NULL ? DKIM_LOOKUP_FOUND :
		    DKIM_LOOKUP_NONE, rec, rec != NULL ? strlen(rec) : 0);
	}
	if (r != NULL) {
		*r = *dkim_verifier_result(v, 0);
		r->domain = r->selector = NULL;	/* freed with v */
	}
	dkim_verifier_free(&v);
	return n;
}

static enum dkim_result
verify(const char *msg, const char **reason_r)
{
	struct dkim_verify_result r;

	answers_default();
	(void) verify_at(msg, strlen(msg), 0, NOW, NULL, &r);
	if (reason_r != NULL)
		*reason_r = r.reason;
	return r.result;
}

/* field + msg in a new string. */
static char *
cat(const char *field, const char *msg)
{
	return xasprintf("%s%s", field, msg);
}

static const char *const messages[] = {
	"From: Alice <alice@example.test>\r\nTo: bob@example.org\r\n"
	"Subject: hello\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\n"
	"Hello Bob.\r\n",
	/* Folded, odd spacing, upper-case names, trailing WSP. */
	"FROM:  Alice\r\n <alice@example.test>  \r\nSUBJECT:\ta   b\t\r\n"
	" c\r\nTo: x@y.test\r\n\r\n  lead and trail  \r\n\t\r\nx \t y\r\n",
	/* Empty body; header only. */
	"From: alice@example.test\r\nSubject: empty\r\n\r\n",
	"From: alice@example.test\r\nSubject: header only\r\n",
	/*
	 * Trailing empty lines, no final CRLF, a bare CR (content for
	 * dkimpy and us; dkimpy makes a bare LF a line end, we and the
	 * signer keep it as content: smtpd's DATA reader leaves none).
	 */
	"From: alice@example.test\r\n\r\nbody\r\n\r\n\r\n \r\n\r\n",
	"From: alice@example.test\r\n\r\nno final line end",
	"From: alice@example.test\r\n\r\na\rbare CR\r\n",
	/* 8-bit body. */
	"From: alice@example.test\r\n\r\n\xc3\xa4\xc3\xb6\xc3\xbc\r\n",
};
#define MESSAGES (sizeof(messages) / sizeof(messages[0]))

static const char *const canons[] = {
	"relaxed/relaxed", "simple/simple", "relaxed/simple", "simple/relaxed",
};

/* dkimpy's signatures, every canonicalization, whole and split. */
START_TEST(test_dkimpy_pass)
{
	const char *alg = _i == 0 ? "rsa-sha256" : "ed25519-sha256";
	size_t m, c, step;

	for (m = 0; m < MESSAGES; m++)
		for (c = 0; c < 4; c++) {
			char *field = dkimpy_sign(alg, canons[c], 0, NULL,
			    messages[m]);
			char *whole = cat(field, messages[m]);
			struct dkim_verify_result r;

			answers_default();
			for (step = 0; step <= 7; step++) {
				(void) verify_at(whole, strlen(whole), step,
				    NOW, NULL, &r);
				ck_assert_msg(r.result == DKIM_RESULT_PASS,
				    "%s %s message %zu step %zu: %s (%s)",
				    alg, canons[c], m, step,
				    dkim_result_name(r.result), r.reason);
			}
			free(field);
			free(whole);
		}
}
END_TEST

/* A changed header field or body fails; the reason says which. */
START_TEST(test_tampered)
{
	const char *msg = messages[0], *reason;
	char *field = dkimpy_sign("rsa-sha256", "relaxed/relaxed", 0, NULL,
	    msg);
	char *whole = cat(field, msg), *p;

	ck_assert_int_eq(verify(whole, NULL), DKIM_RESULT_PASS);
	p = strstr(whole, "hello");
	p[0] = 'j';
	ck_assert_int_eq(verify(whole, &reason), DKIM_RESULT_FAIL);
	ck_assert_str_eq(reason, "signature mismatch");
	p[0] = 'h';
	p = strstr(whole, "Bob.");
	p[0] = 'R';
	ck_assert_int_eq(verify(whole, &reason), DKIM_RESULT_FAIL);
	ck_assert_str_eq(reason, "body hash mismatch");
	free(whole);
	/* Another Subject above the signed one is not signed: it passes. */
	whole = xasprintf("%sSubject: other\r\n%s", field, msg);
	ck_assert_int_eq(verify(whole, NULL), DKIM_RESULT_PASS);
	free(whole);
	/* Below it, it is the instance the signature covers now. */
	whole = xasprintf("%s%.*sSubject: other\r\n\r\nHello Bob.\r\n",
	    field, (int) (strstr(msg, "\r\n\r\n") + 2 - msg), msg);
	ck_assert_int_eq(verify(whole, NULL), DKIM_RESULT_FAIL);
	free(whole);
	/* Whitespace changes: relaxed survives them. */
	whole = cat(field, "From:   Alice <alice@example.test>\r\n"
	    "To: bob@example.org\r\nSubject: hello \r\n"
	    "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\nHello   Bob.\r\n"
	    "\r\n");
	ck_assert_int_eq(verify(whole, NULL), DKIM_RESULT_PASS);
	free(whole);
	free(field);
}
END_TEST

/* Repeated fields bottom-up; a name without an instance signs nothing. */
START_TEST(test_instances)
{
	const char *msg = "Received: one\r\nTo: first@x.test\r\n"
	    "From: alice@example.test\r\nTo: second@x.test\r\n"
	    "Subject: s\r\n\r\nbody\r\n";
	const char *swapped = "Received: one\r\nTo: second@x.test\r\n"
	    "From: alice@example.test\r\nTo: first@x.test\r\n"
	    "Subject: s\r\n\r\nbody\r\n";
	char *field = dkimpy_sign("rsa-sha256", "simple/simple", 0,
	    "from,to,to,subject,x-absent,reply-to", msg);
	char *whole = cat(field, msg);

	ck_assert_int_eq(verify(whole, NULL), DKIM_RESULT_PASS);
	free(whole);
	whole = cat(field, swapped);
	ck_assert_int_eq(verify(whole, NULL), DKIM_RESULT_FAIL);
	free(whole);
	/* A field that was absent (signed as null) now present. */
	whole = xasprintf("%sX-Absent: now here\r\n%s", field, msg);
	ck_assert_int_eq(verify(whole, NULL), DKIM_RESULT_FAIL);
	free(whole);
	/* A third To below the signed ones is a new bottom-most instance. */
	whole = xasprintf("%s%.*sTo: third@x.test\r\n\r\nbody\r\n", field,
	    (int) (strstr(msg, "\r\n\r\n") + 2 - msg), msg);
	ck_assert_int_eq(verify(whole, NULL), DKIM_RESULT_FAIL);
	free(whole);
	/* An unsigned field anywhere changes nothing. */
	whole = xasprintf("%sX-Unsigned: 1\r\n%s", field, msg);
	ck_assert_int_eq(verify(whole, NULL), DKIM_RESULT_PASS);
	free(whole);
	free(field);
}
END_TEST

/* l=: text added below the signed length passes, inside it fails. */
START_TEST(test_length)
{
	const char *msg = messages[0];
	char *field = dkimpy_sign(_i == 0 ? "rsa-sha256" : "ed25519-sha256",
	    "relaxed/simple", 1, NULL, msg);
	char *whole;
	const char *reason;

	ck_assert_ptr_nonnull(strstr(field, "l="));
	whole = xasprintf("%s%s-- \r\nappended by a list\r\n", field, msg);
	ck_assert_int_eq(verify(whole, NULL), DKIM_RESULT_PASS);
	free(whole);
	whole = xasprintf("%s%.*s", field, (int) (strlen(msg) - 3), msg);
	ck_assert_int_eq(verify(whole, &reason), DKIM_RESULT_FAIL);
	free(whole);
	free(field);
}
END_TEST

/* tmpl with its "@P" replaced by p (caller frees). */
static char *
with_p(const char *tmpl, const char *p)
{
	const char *at = strstr(tmpl, "@P");

	if (at == NULL)
		return xstrdup(tmpl);
	return xasprintf("%.*s%s%s", (int) (at - tmpl), tmpl, p, at + 2);
}

/* Keys: missing, revoked, lookup failing, another key, t=s, h=, s=. */
START_TEST(test_keys)
{
	const char *msg = messages[0], *reason;
	char *field = dkimpy_sign("rsa-sha256", "relaxed/relaxed", 0, NULL,
	    msg);
	char *whole = cat(field, msg), *rec;
	struct dkim_verify_result r;
	const char *p;

	answers_default();
	rs_answer = NULL;
	(void) verify_at(whole, strlen(whole), 0, NOW, NULL, &r);
	ck_assert_int_eq(r.result, DKIM_RESULT_PERMERROR);
	ck_assert_str_eq(r.reason, "no key record");
	lookup_tempfail = 1;
	(void) verify_at(whole, strlen(whole), 0, NOW, NULL, &r);
	ck_assert_int_eq(r.result, DKIM_RESULT_TEMPERROR);
	answers_default();
	rs_answer = "v=DKIM1; k=rsa; p=";
	(void) verify_at(whole, strlen(whole), 0, NOW, NULL, &r);
	ck_assert_int_eq(r.result, DKIM_RESULT_FAIL);
	ck_assert_str_eq(r.reason, "key revoked");
	rs_answer = rsa_other_record;
	(void) verify_at(whole, strlen(whole), 0, NOW, NULL, &r);
	ck_assert_int_eq(r.result, DKIM_RESULT_FAIL);
	ck_assert_str_eq(r.reason, "signature mismatch");
	rs_answer = ed_record;
	(void) verify_at(whole, strlen(whole), 0, NOW, NULL, &r);
	ck_assert_int_eq(r.result, DKIM_RESULT_PERMERROR);
	p = strstr(rsa_record, "p=");
	/* Tag variants of the right key. */
	{
		static const char *const good[] = {
			"k=rsa; h=sha1:sha256; t=y; @P",
			"s=email:other; @P; n=notes",
			"@P;",
			"v=DKIM1;@P ;s=*",
		};
		static const char *const bad[] = {
			"v=DKIM2; @P", "k=rsa; v=DKIM1; @P", "k=dsa; @P",
			"h=sha1; @P", "s=other; @P", "@P; p=AAAA",
			"@P; 1x=y", "v=DKIM1; k=rsa", "@P; x=\001",
		};
		size_t i;

		for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
			rec = with_p(good[i], p);
			rs_answer = rec;
			(void) verify_at(whole, strlen(whole), 0, NOW, NULL,
			    &r);
			ck_assert_msg(r.result == DKIM_RESULT_PASS, "%s: %s",
			    rec, r.reason);
			ck_assert_int_eq(r.testing, i == 0);
			free(rec);
		}
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			rec = with_p(bad[i], p);
			rs_answer = rec;
			(void) verify_at(whole, strlen(whole), 0, NOW, NULL,
			    &r);
			ck_assert_msg(r.result == DKIM_RESULT_PERMERROR,
			    "%s: %s", rec, dkim_result_name(r.result));
			free(rec);
		}
	}
	/* p= folded with FWS: at the start, between runs, at the end. */
	{
		struct buf *folded = buf_new(DKIM_KEYREC_MAX);
		size_t i;

		(void) buf_append(folded, p, 2);
		(void) buf_append_str(folded, " \t");
		for (i = 2; p[i] != '\0' && p[i] != ';'; i++) {
			(void) buf_append_char(folded, p[i]);
			if (i % 61 == 0)
				(void) buf_append_str(folded, "\r\n\t");
			else if (i % 17 == 0)
				(void) buf_append_str(folded, " ");
		}
		(void) buf_append_str(folded, " \r\n ");
		rec = with_p("k=rsa; @P", buf_cstr(folded));
		rs_answer = rec;
		(void) verify_at(whole, strlen(whole), 0, NOW, NULL, &r);
		ck_assert_msg(r.result == DKIM_RESULT_PASS, "%s: %s", rec,
		    r.reason);
		free(rec);
		rs_answer = "v=DKIM1; k=rsa; p= \t \r\n ";
		(void) verify_at(whole, strlen(whole), 0, NOW, NULL, &r);
		ck_assert_int_eq(r.result, DKIM_RESULT_FAIL);
		ck_assert_str_eq(r.reason, "key revoked");
		buf_free(&folded);
	}
	free(whole);
	free(field);
	(void) reason;
}
END_TEST

/* rsa-sha1 is refused (RFC 8301), whatever the key says. */
START_TEST(test_rsa_sha1)
{
	const char *msg = messages[0], *reason;
	char *field = dkimpy_sign("rsa-sha1", "relaxed/relaxed", 0, NULL,
	    msg);
	char *whole = cat(field, msg);

	ck_assert_int_eq(verify(whole, &reason), DKIM_RESULT_PERMERROR);
	ck_assert_str_eq(reason, "rsa-sha1 (RFC 8301)");
	free(whole);
	free(field);
}
END_TEST

/*
 * A signature with x= (dkimpy makes none): made here with OpenSSL over
 * the canonical input, valid before x=, a permerror after.
 */
static char *
sign_with_tags(const char *tags, const char *msg)
{
	struct buf *hin = buf_new(65536), *field = buf_new(65536);
	unsigned char bh[EVP_MAX_MD_SIZE], digest[32], sig[512];
	unsigned int bh_len = 0, digest_len = 0;
	size_t sig_len = sizeof(sig);
	struct dkim_body *body = dkim_body_new(1, EVP_sha256(), -1);
	const char *body_text = strstr(msg, "\r\n\r\n") + 4;
	const char *from = strstr(msg, "From:");
	EVP_PKEY_CTX *pc;
	char *bh64, *b64s, *out;

	dkim_body_feed(body, body_text, strlen(body_text));
	ck_assert_int_eq(dkim_body_finish(body, bh, &bh_len, NULL), 0);
	dkim_body_free(&body);
	bh64 = b64(bh, bh_len);
	(void) buf_printf(field, "DKIM-Signature: v=1; a=rsa-sha256; "
	    "c=relaxed/relaxed; d=example.test; s=rs; h=from; %s; bh=%s; "
	    "b=", tags, bh64);
	ck_assert_int_eq(dkim_canon_field(hin, from,
	    (size_t) (strstr(from, "\r\n") + 2 - from), 1, 1), 0);
	ck_assert_int_eq(dkim_canon_field(hin, buf_cstr(field),
	    buf_len(field), 1, 0), 0);
	ck_assert_int_eq(EVP_Digest(buf_cstr(hin), buf_len(hin), digest,
	    &digest_len, EVP_sha256(), NULL), 1);
	pc = EVP_PKEY_CTX_new(rsa_key, NULL);
	ck_assert_int_eq(EVP_PKEY_sign_init(pc), 1);
	ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING),
	    1);
	ck_assert_int_eq(EVP_PKEY_CTX_set_signature_md(pc, EVP_sha256()), 1);
	ck_assert_int_eq(EVP_PKEY_sign(pc, sig, &sig_len, digest,
	    digest_len), 1);
	EVP_PKEY_CTX_free(pc);
	b64s = b64(sig, sig_len);
	out = xasprintf("%s%s\r\n%s", buf_cstr(field), b64s, msg);
	free(b64s);
	free(bh64);
	buf_free(&hin);
	buf_free(&field);
	return out;
}

START_TEST(test_expiry)
{
	char *whole = sign_with_tags("t=1000; x=2000", messages[0]), *strict;
	struct dkim_verify_result r;

	answers_default();
	(void) verify_at(whole, strlen(whole), 0, 1500, NULL, &r);
	ck_assert_msg(r.result == DKIM_RESULT_PASS, "%s", r.reason);
	(void) verify_at(whole, strlen(whole), 0, 2001, NULL, &r);
	ck_assert_int_eq(r.result, DKIM_RESULT_PERMERROR);
	ck_assert_str_eq(r.reason, "signature expired");
	free(whole);
	/* x= before t= is malformed. */
	whole = sign_with_tags("t=2000; x=1000", messages[0]);
	(void) verify_at(whole, strlen(whole), 0, 1500, NULL, &r);
	ck_assert_int_eq(r.result, DKIM_RESULT_PERMERROR);
	free(whole);
	/* i= in a subdomain of d=: fine, unless the key says t=s. */
	whole = sign_with_tags("i=user@sub.example.test", messages[0]);
	(void) verify_at(whole, strlen(whole), 0, NOW, NULL, &r);
	ck_assert_msg(r.result == DKIM_RESULT_PASS, "%s", r.reason);
	strict = xasprintf("t=s; %s", strstr(rsa_record, "p="));
	rs_answer = strict;
	(void) verify_at(whole, strlen(whole), 0, NOW, NULL, &r);
	ck_assert_int_eq(r.result, DKIM_RESULT_PERMERROR);
	free(strict);
	free(whole);
	whole = sign_with_tags("i=user@elsewhere.test", messages[0]);
	answers_default();
	(void) verify_at(whole, strlen(whole), 0, NOW, NULL, &r);
	ck_assert_int_eq(r.result, DKIM_RESULT_PERMERROR);
	free(whole);
}
END_TEST

/* libopendkim's rsa-sha256 signatures (the signer opendkim-testmsg runs). */
START_TEST(test_libopendkim)
{
	static const dkim_canon_t canon[] = {
		DKIM_CANON_RELAXED, DKIM_CANON_SIMPLE
	};
	DKIM_LIB *lib = dkim_init(NULL, NULL);
	char *pem = NULL;
	size_t m, hc, bc, pem_len = 0;
	FILE *f = fopen(rsa_pem, "r");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_gt(getdelim(&pem, &pem_len, '\0', f), 0);
	fclose(f);
	for (m = 0; m < MESSAGES; m++)
		for (hc = 0; hc < 2; hc++)
			for (bc = 0; bc < 2; bc++) {
				DKIM_STAT st;
				unsigned char *value;
				size_t len;
				const char *reason;
				char *whole;
				DKIM *d;

				/* 2.11 hashes no CRLF after a last line
				   without one (RFC 6376 3.4.4 adds it),
				   makes a bare CR a line end, and signs a
				   header without an empty line after it
				   differently (dkimpy agrees with us). */
				if (strstr(messages[m], "no final") != NULL ||
				    strstr(messages[m], "bare CR") != NULL ||
				    strstr(messages[m], "header only") !=
				    NULL)
					continue;
				d = dkim_sign(lib, (const unsigned char *)
				    "check", NULL, (dkim_sigkey_t) pem,
				    (const unsigned char *) "rs",
				    (const unsigned char *) "example.test",
				    canon[hc], canon[bc], DKIM_SIGN_RSASHA256,
				    -1, &st);
				ck_assert_ptr_nonnull(d);
				ck_assert_int_eq(dkim_chunk(d,
				    (unsigned char *) (uintptr_t) messages[m],
				    strlen(messages[m])), DKIM_STAT_OK);
				ck_assert_int_eq(dkim_chunk(d, NULL, 0),
				    DKIM_STAT_OK);
				ck_assert_int_eq(dkim_eom(d, NULL),
				    DKIM_STAT_OK);
				ck_assert_int_eq(dkim_getsighdr_d(d, 16,
				    &value, &len), DKIM_STAT_OK);
				whole = xasprintf("DKIM-Signature: %s\r\n%s",
				    (const char *) value, messages[m]);
				ck_assert_msg(verify(whole, &reason) ==
				    DKIM_RESULT_PASS, "message %zu c=%zu/%zu: "
				    "%s", m, hc, bc, reason);
				free(whole);
				(void) dkim_free(d);
			}
	free(pem);
	dkim_close(lib);
}
END_TEST

/* opendkim-testmsg 2.11 signs rsa-sha1: refused (RFC 8301). */
START_TEST(test_opendkim_testmsg)
{
	const char *argv[] = { "/usr/sbin/opendkim-testmsg", "-C", "-d",
	    "example.test", "-k", rsa_pem, "-s", "rs", NULL };
	char *path = write_message(messages[0]), *signed_msg;
	const char *reason;

	signed_msg = run(argv, path);
	ck_assert_msg(strncmp(signed_msg, "DKIM-Signature: v=1; a=rsa-sha1;",
	    32) == 0, "%s", signed_msg);
	ck_assert_int_eq(verify(signed_msg, &reason), DKIM_RESULT_PERMERROR);
	ck_assert_str_eq(reason, "rsa-sha1 (RFC 8301)");
	unlink(path);
	free(path);
	free(signed_msg);
}
END_TEST

/* Malformed and oversized signature values: permerror, never a pass. */
START_TEST(test_malformed)
{
	static const char *const bad[] = {
		"a=rsa-sha256; d=example.test; s=rs; h=from; bh=AAAA; b=AAAA",
		"v=2; a=rsa-sha256; d=example.test; s=rs; h=from; bh=AAAA; "
		"b=AAAA",
		"v=1; v=1; a=rsa-sha256; d=example.test; s=rs; h=from; "
		"bh=AAAA; b=AAAA",
		"v=1; a=rsa-md5; d=example.test; s=rs; h=from; bh=AAAA; b=AAAA",
		"v=1; a=rsa-sha256; c=fancy; d=example.test; s=rs; h=from; "
		"bh=AAAA; b=AAAA",
		"v=1; a=rsa-sha256; d=exa mple; s=rs; h=from; bh=AAAA; b=AAAA",
		"v=1; a=rsa-sha256; d=example.test; s=r_s; h=from; bh=AAAA; "
		"b=AAAA",
		"v=1; a=rsa-sha256; d=example.test; s=rs; h=to; bh=AAAA; b=AAAA",
		"v=1; a=rsa-sha256; d=example.test; s=rs; h=from::to; "
		"bh=AAAA; b=AAAA",
		"v=1; a=rsa-sha256; d=example.test; s=rs; h=from; i=a@b.test; "
		"bh=AAAA; b=AAAA",
		"v=1; a=rsa-sha256; d=example.test; s=rs; h=from; l=x; "
		"bh=AAAA; b=AAAA",
		"v=1; a=rsa-sha256; d=example.test; s=rs; h=from; "
		"l=1234567890123; bh=AAAA; b=AAAA",
		"v=1; a=rsa-sha256; d=example.test; s=rs; h=from; q=http; "
		"bh=AAAA; b=AAAA",
		"v=1; a=rsa-sha256; d=example.test; s=rs; h=from; bh=A*AA; "
		"b=AAAA",
		"v=1; a=rsa-sha256; d=example.test; s=rs; h=from; bh=AAAA; "
		"b=AA",
		"v=1; a=rsa-sha256; d=example.test; s=rs; h=from; bh=AAAA",
		"v=1; a=rsa-sha256; d=example.test; s=rs; h=from; 9x=1; "
		"bh=AAAA; b=AAAA",
		"v=1; a=rsa-sha256; d=example.test; s=rs; h=from; x; "
		"bh=AAAA; b=AAAA",
		"v=1; a=rsa-sha256; d=example.test; s=rs; h=from; z=\x7f; "
		"bh=AAAA; b=AAAA",
		"",
		";;;",
	};
	struct dkim_sig sig;
	struct buf *big = buf_new(1024 * 1024);
	const char *error;
	char *whole;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		error = NULL;
		ck_assert_msg(dkim_sig_parse(bad[i], strlen(bad[i]), &sig,
		    &error) < 0, "accepted %s", bad[i]);
		ck_assert_ptr_nonnull(error);
		whole = xasprintf("DKIM-Signature: %s\r\n%s", bad[i],
		    messages[0]);
		ck_assert_int_eq(verify(whole, NULL), DKIM_RESULT_PERMERROR);
		free(whole);
	}
	/* h= with 64 names is fine, 65 is not. */
	(void) buf_append_str(big, "v=1; a=rsa-sha256; d=example.test; "
	    "s=rs; bh=AAAA; b=AAAA; h=from");
	for (i = 1; i < 64; i++)
		(void) buf_append_str(big, ":x");
	ck_assert_int_eq(dkim_sig_parse(buf_cstr(big), buf_len(big), &sig,
	    &error), 0);
	ck_assert_uint_eq(sig.header_count, 64);
	dkim_sig_clear(&sig);
	(void) buf_append_str(big, ":x");
	ck_assert_int_lt(dkim_sig_parse(buf_cstr(big), buf_len(big), &sig,
	    &error), 0);
	/* A value over DKIM_SIG_MAX. */
	buf_reset(big);
	(void) buf_append_str(big, "v=1; a=rsa-sha256; d=example.test; "
	    "s=rs; h=from; bh=AAAA; b=AAAA; z=");
	while (buf_len(big) <= DKIM_SIG_MAX)
		(void) buf_append_char(big, 'z');
	ck_assert_int_lt(dkim_sig_parse(buf_cstr(big), buf_len(big), &sig,
	    &error), 0);
	ck_assert_str_eq(error, "signature too long");
	/* More than 64 tags. */
	buf_reset(big);
	(void) buf_append_str(big, "v=1; a=rsa-sha256; d=example.test; "
	    "s=rs; h=from; bh=AAAA; b=AAAA");
	for (i = 0; i < 64; i++)
		(void) buf_printf(big, "; t%zu=1", i);
	ck_assert_int_lt(dkim_sig_parse(buf_cstr(big), buf_len(big), &sig,
	    &error), 0);
	/* Folded values parse; the right tags come out. */
	buf_reset(big);
	(void) buf_append_str(big, " v=1;\r\n\ta = ed25519-sha256 ; "
	    "c=relaxed;\r\n d=Example.TEST; s=a.b; h=From : to;\r\n "
	    "bh=AA\r\n AA; b=AA AA");
	ck_assert_int_eq(dkim_sig_parse(buf_cstr(big), buf_len(big), &sig,
	    &error), 0);
	ck_assert_int_eq(sig.alg, DKIM_ALG_ED25519_SHA256);
	ck_assert_int_eq(sig.header_relaxed, 1);
	ck_assert_int_eq(sig.body_relaxed, 0);
	ck_assert_str_eq(sig.domain, "example.test");
	ck_assert_str_eq(sig.selector, "a.b");
	ck_assert_uint_eq(sig.header_count, 2);
	ck_assert_str_eq(sig.headers[1], "to");
	ck_assert_uint_eq(sig.b_len, 3);
	ck_assert_str_eq(buf_cstr(big) + sig.b_start, "AA AA");
	dkim_sig_clear(&sig);
	buf_free(&big);
}
END_TEST

/* At most DKIM_VERIFY_SIGS signatures; each verified on its own. */
START_TEST(test_many_signatures)
{
	const char *msg = messages[0];
	char *rs = dkimpy_sign("rsa-sha256", "relaxed/relaxed", 0, NULL, msg);
	char *ed = dkimpy_sign("ed25519-sha256", "simple/simple", 0, NULL,
	    msg);
	struct buf *whole = buf_new(1024 * 1024);
	struct dkim_verify_result r;
	size_t i;

	for (i = 0; i < 10; i++)
		(void) buf_append_str(whole, i % 2 ? ed : rs);
	(void) buf_append_str(whole, msg);
	answers_default();
	ck_assert_uint_eq(verify_at(buf_cstr(whole), buf_len(whole), 3, NOW,
	    NULL, &r), DKIM_VERIFY_SIGS);
	ck_assert_int_eq(r.result, DKIM_RESULT_PASS);
	buf_free(&whole);
	free(rs);
	free(ed);
}
END_TEST

/*
 * Our signer and verifier share dkim_canon: a bare LF is content for
 * both (dkimpy would make it a line end), and a signature moved to other
 * bytes fails.
 */
START_TEST(test_own_signer)
{
	const char *msg = "From: alice@example.test\r\nSubject: lf\r\n\r\n"
	    "a\nbare LF\r\n";
	char *error = NULL, *field, *whole;
	struct dkim_signer *s;

	s = dkim_signer_new(_i == 0 ? rsa_key : ed_key, _i == 0 ?
	    DKIM_KEY_RSA : DKIM_KEY_ED25519, "example.test", _i == 0 ? "rs" :
	    "ed", &error);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(dkim_signer_chunk(s, msg, strlen(msg)), 0);
	field = dkim_signer_finish(s, NOW, &error);
	ck_assert_ptr_nonnull(field);
	dkim_signer_free(&s);
	whole = xasprintf("%s\r\n%s", field, msg);
	ck_assert_int_eq(verify(whole, NULL), DKIM_RESULT_PASS);
	free(whole);
	whole = xasprintf("%s\r\n%.*s\r\nbare LF\r\n", field,
	    (int) (strstr(msg, "a\n") + 1 - msg), msg);
	ck_assert_int_eq(verify(whole, NULL), DKIM_RESULT_FAIL);
	free(whole);
	free(field);
}
END_TEST

/* The key cache: parsed once per p= bytes, LRU, bad bytes never kept. */
START_TEST(test_pubcache)
{
	struct dkim_pubcache *cache = dkim_pubcache_new(2);
	const char *msg = messages[0], *error;
	char *field = dkimpy_sign("rsa-sha256", "relaxed/relaxed", 0, NULL,
	    msg);
	char *rs = cat(field, msg);
	struct dkim_verify_result r;
	unsigned char junk[40];
	EVP_PKEY *k;

	answers_default();
	(void) verify_at(rs, strlen(rs), 0, NOW, cache, &r);
	ck_assert_int_eq(r.result, DKIM_RESULT_PASS);
	(void) verify_at(rs, strlen(rs), 0, NOW, cache, &r);
	ck_assert_int_eq(r.result, DKIM_RESULT_PASS);
	ck_assert_uint_eq(dkim_pubcache_parses(cache), 1);
	/* Another key at the same name: other bytes, parsed, fails. */
	rs_answer = rsa_other_record;
	(void) verify_at(rs, strlen(rs), 0, NOW, cache, &r);
	ck_assert_int_eq(r.result, DKIM_RESULT_FAIL);
	ck_assert_uint_eq(dkim_pubcache_parses(cache), 2);
	/* Back: still cached (2 entries). */
	answers_default();
	(void) verify_at(rs, strlen(rs), 0, NOW, cache, &r);
	ck_assert_int_eq(r.result, DKIM_RESULT_PASS);
	ck_assert_uint_eq(dkim_pubcache_parses(cache), 2);
	/* Junk is parsed each time, never kept. */
	memset(junk, 'x', sizeof(junk));
	k = dkim_pubcache_get(cache, DKIM_KEYREC_RSA, junk, sizeof(junk),
	    &error);
	ck_assert_ptr_null(k);
	k = dkim_pubcache_get(cache, DKIM_KEYREC_RSA, junk, sizeof(junk),
	    &error);
	ck_assert_ptr_null(k);
	ck_assert_uint_eq(dkim_pubcache_parses(cache), 4);
	/* A third key evicts the least recently used (the other RSA). */
	memset(junk, 7, 32);
	k = dkim_pubcache_get(cache, DKIM_KEYREC_ED25519, junk, 32, &error);
	ck_assert_ptr_nonnull(k);
	EVP_PKEY_free(k);
	(void) verify_at(rs, strlen(rs), 0, NOW, cache, &r);
	ck_assert_int_eq(r.result, DKIM_RESULT_PASS);
	ck_assert_uint_eq(dkim_pubcache_parses(cache), 5);
	rs_answer = rsa_other_record;
	(void) verify_at(rs, strlen(rs), 0, NOW, cache, &r);
	ck_assert_uint_eq(dkim_pubcache_parses(cache), 6);
	free(rs);
	free(field);
	dkim_pubcache_free(&cache);
}
END_TEST

static Suite *
dkim_verify_suite(void)
{
	Suite *s = suite_create("dkim_verify");
	TCase *tc = tcase_create("verify");

	tcase_add_unchecked_fixture(tc, keys_setup, keys_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_dkimpy_pass, 0, 2);
	tcase_add_test(tc, test_tampered);
	tcase_add_test(tc, test_instances);
	tcase_add_loop_test(tc, test_length, 0, 2);
	tcase_add_test(tc, test_keys);
	tcase_add_test(tc, test_rsa_sha1);
	tcase_add_test(tc, test_expiry);
	tcase_add_test(tc, test_libopendkim);
	tcase_add_test(tc, test_opendkim_testmsg);
	tcase_add_test(tc, test_malformed);
	tcase_add_test(tc, test_many_signatures);
	tcase_add_loop_test(tc, test_own_signer, 0, 2);
	tcase_add_test(tc, test_pubcache);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(dkim_verify_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

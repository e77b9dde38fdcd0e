/*
 * dkim-sign-bench: what one DKIM signature costs smtpd, in parts
 * (issue 18).  For a fresh RSA-2048 and Ed25519 key and one message
 * (about 2.5 KB, as bench/sender-auth sends), the microseconds of:
 *
 *   parse     PEM_read_bio_PrivateKey of the key text (what libopendkim
 *             does for every message it signs)
 *   private   the private-key operation alone, on a parsed key
 *   opendkim  dkim_sign + dkim_chunk + dkim_eom + dkim_getsighdr_d with
 *             the PEM text: smtpd's signing before this bench
 *   ours      dkim_keycache_get (a stat, a cached key) + dkim_signer:
 *             smtpd's signing now
 *
 * Median of --runs rounds of --count operations each.  Run it from a
 * build without sanitizers: bench/dkim-sign-bench [--count N] [--runs R].
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <opendkim/dkim.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "bench_time.h"
#include "buf.h"
#include "dkim_keycache.h"
#include "dkim_sign.h"
#include "xalloc.h"

#define MAX_RUNS 99

static int count = 300, runs = 5;
static char *message;
static size_t message_len;

struct job {
	EVP_PKEY *key;
	enum dkim_key_type type;
	char *pem, *path;
	struct dkim_keycache *cache;
};

static void
op_parse(struct job *j)
{
	BIO *bio = BIO_new_mem_buf(j->pem, -1);
	EVP_PKEY *k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);

	if (k == NULL)
		abort();
	EVP_PKEY_free(k);
	BIO_free(bio);
}

static void
op_private(struct job *j)
{
	unsigned char digest[32], sig[512];
	size_t len = sizeof(sig);

	memset(digest, 7, sizeof(digest));
	if (j->type == DKIM_KEY_ED25519) {
		EVP_MD_CTX *md = EVP_MD_CTX_new();

		if (EVP_DigestSignInit(md, NULL, NULL, NULL, j->key) != 1 ||
		    EVP_DigestSign(md, sig, &len, digest, 32) != 1)
			abort();
		EVP_MD_CTX_free(md);
	} else {
		EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new(j->key, NULL);

		if (EVP_PKEY_sign_init(pc) != 1 ||
		    EVP_PKEY_CTX_set_signature_md(pc, EVP_sha256()) != 1 ||
		    EVP_PKEY_sign(pc, sig, &len, digest, 32) != 1)
			abort();
		EVP_PKEY_CTX_free(pc);
	}
}

static DKIM_LIB *lib;

static void
op_opendkim(struct job *j)
{
	DKIM_STAT st;
	unsigned char *value;
	size_t len;
	DKIM *d = dkim_sign(lib, (const unsigned char *) "bench", NULL,
	    (dkim_sigkey_t) j->pem, (const unsigned char *) "sel",
	    (const unsigned char *) "example.test", DKIM_CANON_RELAXED,
	    DKIM_CANON_RELAXED, j->type == DKIM_KEY_ED25519 ?
	    DKIM_SIGN_ED25519SHA256 : DKIM_SIGN_RSASHA256, -1, &st);

	if (d == NULL || dkim_chunk(d, (unsigned char *) message,
	    message_len) != DKIM_STAT_OK || dkim_chunk(d, NULL, 0) !=
	    DKIM_STAT_OK || dkim_eom(d, NULL) != DKIM_STAT_OK ||
	    dkim_getsighdr_d(d, 16, &value, &len) != DKIM_STAT_OK)
		abort();
	(void) dkim_free(d);
}

static void
op_ours(struct job *j)
{
	char *error = NULL, *field;
	EVP_PKEY *k = dkim_keycache_get(j->cache, j->path, j->type, NULL,
	    &error);
	struct dkim_signer *s;

	if (k == NULL)
		abort();
	s = dkim_signer_new(k, j->type, "example.test", "sel", &error);
	EVP_PKEY_free(k);
	if (s == NULL || dkim_signer_chunk(s, message, message_len) < 0)
		abort();
	field = dkim_signer_finish(s, (long long) time(NULL), &error);
	if (field == NULL)
		abort();
	free(field);
	dkim_signer_free(&s);
}

/* The median microseconds a call of op takes. */
static double
measure(void (*op)(struct job *), struct job *j)
{
	double per[MAX_RUNS], start;
	int r, i;

	for (r = 0; r < runs; r++) {
		start = bench_now_us();
		for (i = 0; i < count; i++)
			op(j);
		per[r] = (bench_now_us() - start) / count;
	}
	qsort(per, (size_t) runs, sizeof(per[0]), bench_cmp_double);
	return per[runs / 2];
}

static void
job_init(struct job *j, enum dkim_key_type type, const char *dir)
{
	BIO *mem = BIO_new(BIO_s_mem());
	char *data;
	long len;
	FILE *f;

	j->type = type;
	j->key = type == DKIM_KEY_ED25519 ?
	    EVP_PKEY_Q_keygen(NULL, NULL, "ED25519") :
	    EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 2048);
	if (j->key == NULL || PEM_write_bio_PrivateKey(mem, j->key, NULL,
	    NULL, 0, NULL, NULL) != 1)
		abort();
	len = BIO_get_mem_data(mem, &data);
	j->pem = xstrndup(data, (size_t) len);
	BIO_free(mem);
	j->path = xasprintf("%s/%s.key", dir, dkim_key_type_name(type));
	f = fopen(j->path, "w");
	if (f == NULL || fputs(j->pem, f) < 0 || fclose(f) != 0)
		abort();
	j->cache = dkim_keycache_new(4);
}

int
main(int argc, char **argv)
{
	static const enum dkim_key_type types[] = {
		DKIM_KEY_RSA, DKIM_KEY_ED25519
	};
	char dir[] = "/tmp/dkim-sign-bench.XXXXXX";
	struct buf *m = buf_new(1024 * 1024);
	int i;

	for (i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--count") == 0)
			count = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--runs") == 0)
			runs = atoi(argv[i + 1]);
	}
	if (count < 1 || runs < 1 || runs > MAX_RUNS || i != argc) {
		fprintf(stderr, "usage: dkim-sign-bench [--count N] "
		    "[--runs R (1-%d)]\n", MAX_RUNS);
		return 2;
	}
	(void) buf_append_str(m, "From: alice@example.test\r\n"
	    "To: u@far.test\r\nSubject: bench\r\n"
	    "Date: Wed, 02 Dec 2026 10:00:00 +0000\r\n"
	    "Message-ID: <1@example.test>\r\n\r\n");
	for (i = 0; i < 40; i++)
		(void) buf_append_str(m, "A line of the body, long enough "
		    "to look like mail.\r\n");
	message = buf_strdup(m);
	message_len = buf_len(m);
	buf_free(&m);
	if (mkdtemp(dir) == NULL)
		abort();
	lib = dkim_init(NULL, NULL);
	printf("dkim-sign-bench: %zu-byte message, median of %d runs of %d, "
	    "microseconds per signature\n", message_len, runs, count);
	printf("%-8s %9s %9s %9s %9s\n", "key", "parse", "private",
	    "opendkim", "ours");
	for (i = 0; i < 2; i++) {
		struct job j;

		job_init(&j, types[i], dir);
		printf("%-8s %9.1f %9.1f %9.1f %9.1f\n",
		    dkim_key_type_name(types[i]), measure(op_parse, &j),
		    measure(op_private, &j), measure(op_opendkim, &j),
		    measure(op_ours, &j));
		(void) unlink(j.path);
		dkim_keycache_free(&j.cache);
		EVP_PKEY_free(j.key);
		free(j.pem);
		free(j.path);
	}
	dkim_close(lib);
	(void) rmdir(dir);
	free(message);
	return 0;
}

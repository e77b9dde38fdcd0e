/*
 * arc-seal-bench: what ARC costs smtpd for one forwarded message
 * (smtpd_arc.c), in microseconds, for a fresh RSA-2048 key and a
 * message of about 2.5 KB (as bench/sender-auth sends):
 *
 *   dkim    one DKIM-Signature (dkim_signer): the baseline
 *   seal0   an ARC set on a message without a chain (cv=none): AMS and
 *           AS, two RSA signatures
 *   seal1   the same on a message with one set: the chain's check (the
 *           newest AMS and one seal verified, key records handed over
 *           as DNS would) and a set with cv=pass
 *   seal5   the same with five sets (six verifications)
 *
 * Median of --runs rounds of --count messages each.  Run it from a
 * build without sanitizers: bench/arc-seal-bench [--count N] [--runs R].
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "arc.h"
#include "bench_time.h"
#include "buf.h"
#include "dkim_sign.h"
#include "sasl.h"
#include "xalloc.h"

#define MAX_RUNS 99
#define NOW 1796280000LL
#define AUTHRES " mx.example.net;\r\n\tdkim=pass header.d=a.example " \
	"header.s=s1;\r\n\tspf=pass smtp.mailfrom=a.example;\r\n\t" \
	"dmarc=pass header.from=a.example"

static int count = 200, runs = 5;
static EVP_PKEY *key;
static char *record;
static struct dkim_pubcache *cache;

static char *
make_message(void)
{
	struct buf *b = buf_new(1 << 20);
	char *msg;
	int i;

	(void) buf_append_str(b, "Received: from mail.a.example "
	    "(mail.a.example [192.0.2.1])\r\n\tby mx.example.net; "
	    "Thu, 03 Dec 2026 08:00:00 +0000\r\n"
	    "From: Alice <alice@a.example>\r\nTo: bob@example.net\r\n"
	    "Subject: the quarterly report\r\n"
	    "Date: Thu, 03 Dec 2026 08:00:00 +0000\r\n"
	    "Message-ID: <20261203080000.1234@a.example>\r\n"
	    "MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n");
	for (i = 0; i < 30; i++)
		(void) buf_append_str(b, "The numbers of this quarter are in "
		    "the spreadsheet, as before.\r\n");
	msg = buf_strdup(b);
	buf_free(&b);
	return msg;
}

/* Seal msg; its new set above it (caller frees), or NULL. */
static char *
seal(const char *msg, int want_cv)
{
	struct arc_sealer *a;
	char *fields[3], *error = NULL, *out;
	const char *reason;
	enum arc_cv cv;
	size_t i, n;
	int instance;

	a = arc_sealer_new(key, "example.net", "sel", cache, NOW, &error);
	if (a == NULL)
		abort();
	arc_sealer_chunk(a, msg, strlen(msg));
	arc_sealer_finish(a);
	n = arc_sealer_key_count(a);
	for (i = 0; i < n; i++)
		if (arc_sealer_key_name(a, i) != NULL)
			arc_sealer_key(a, i, DKIM_LOOKUP_FOUND, record,
			    strlen(record));
	(void) arc_sealer_result(a);
	if (arc_sealer_seal(a, AUTHRES, NOW, fields, &cv, &instance,
	    &reason) != 1 || (int) cv != want_cv) {
		fprintf(stderr, "arc-seal-bench: not sealed: %s\n", reason);
		exit(1);
	}
	arc_sealer_free(&a);
	out = xasprintf("%s\r\n%s\r\n%s\r\n%s", fields[0], fields[1],
	    fields[2], msg);
	for (i = 0; i < 3; i++)
		free(fields[i]);
	return out;
}

static void
dkim_once(const char *msg)
{
	char *error = NULL, *field;
	struct dkim_signer *s = dkim_signer_new(key, DKIM_KEY_RSA,
	    "example.net", "sel", &error);

	if (s == NULL)
		abort();
	(void) dkim_signer_chunk(s, msg, strlen(msg));
	field = dkim_signer_finish(s, NOW, &error);
	if (field == NULL)
		abort();
	free(field);
	dkim_signer_free(&s);
}

/* The median microseconds of one operation of kind on msg. */
static double
measure(const char *msg, int dkim, int want_cv)
{
	double per[MAX_RUNS];
	int r, i;

	for (r = 0; r < runs; r++) {
		double t0 = bench_now_us();

		for (i = 0; i < count; i++) {
			if (dkim)
				dkim_once(msg);
			else
				free(seal(msg, want_cv));
		}
		per[r] = (bench_now_us() - t0) / count;
	}
	qsort(per, (size_t) runs, sizeof(per[0]), bench_cmp_double);
	return per[runs / 2];
}

int
main(int argc, char **argv)
{
	unsigned char *der = NULL;
	struct buf *b64 = buf_new(4096);
	char *msg, *chained[6];
	int i, len;

	for (i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--count") == 0)
			count = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--runs") == 0)
			runs = atoi(argv[i + 1]);
	}
	if (count < 1 || runs < 1 || runs > MAX_RUNS) {
		fprintf(stderr, "usage: arc-seal-bench [--count N] "
		    "[--runs R (1..%d)]\n", MAX_RUNS);
		return 2;
	}
	key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 2048);
	if (key == NULL || (len = i2d_PUBKEY(key, &der)) <= 0 ||
	    base64_encode(der, (size_t) len, b64) < 0)
		abort();
	record = xasprintf("v=DKIM1; k=rsa; p=%s", buf_cstr(b64));
	cache = dkim_pubcache_new(16);
	msg = make_message();
	chained[0] = xstrdup(msg);
	for (i = 1; i <= 5; i++)
		chained[i] = seal(chained[i - 1],
		    i == 1 ? ARC_CV_NONE : ARC_CV_PASS);
	printf("message %zu bytes, %d x %d, median us per message\n",
	    strlen(msg), runs, count);
	printf("dkim   %8.1f\n", measure(msg, 1, 0));
	printf("seal0  %8.1f\n", measure(chained[0], 0, ARC_CV_NONE));
	printf("seal1  %8.1f\n", measure(chained[1], 0, ARC_CV_PASS));
	printf("seal5  %8.1f\n", measure(chained[5], 0, ARC_CV_PASS));
	for (i = 0; i <= 5; i++)
		free(chained[i]);
	free(msg);
	free(record);
	OPENSSL_free(der);
	buf_free(&b64);
	dkim_pubcache_free(&cache);
	EVP_PKEY_free(key);
	return 0;
}

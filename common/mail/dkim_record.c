/* dkim_record: DKIM tag-lists, signatures and key records (see .h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "dkim_keys.h"
#include "dkim_record.h"
#include "sasl.h"
#include "xalloc.h"

#define IS_FWS(c) ((c) == ' ' || (c) == '\t' || (c) == '\r' || (c) == '\n')
#define IS_ALPHA(c) (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z'))
#define IS_DIGIT(c) ((c) >= '0' && (c) <= '9')

int
dkim_tags_parse(const char *text, size_t len, struct dkim_tag *tags,
	size_t max)
{
	const char *p = text, *end = text + len;
	size_t n = 0, i;

	while (p < end) {
		const char *semi = memchr(p, ';', (size_t) (end - p));
		const char *stop = semi != NULL ? semi : end, *q, *vend;
		struct dkim_tag t;

		while (p < stop && IS_FWS(*p))
			p++;
		if (p == stop) {
			/* An empty tag-spec (";;", a trailing ";"). */
			p = semi != NULL ? semi + 1 : end;
			continue;
		}
		if (!IS_ALPHA(*p))
			return -1;
		t.name = p;
		while (p < stop && (IS_ALPHA(*p) || IS_DIGIT(*p) || *p == '_'))
			p++;
		t.name_len = (size_t) (p - t.name);
		while (p < stop && IS_FWS(*p))
			p++;
		if (p == stop || *p != '=')
			return -1;
		p++;
		while (p < stop && IS_FWS(*p))
			p++;
		vend = stop;
		while (vend > p && IS_FWS(vend[-1]))
			vend--;
		/* VALCHAR is %x21-3A / %x3C-7E; FWS between them. */
		for (q = p; q < vend; q++)
			if (!IS_FWS(*q) && ((unsigned char) *q < 0x21 ||
			    (unsigned char) *q > 0x7e))
				return -1;
		t.value = p;
		t.value_len = (size_t) (vend - p);
		for (i = 0; i < n; i++)
			if (tags[i].name_len == t.name_len &&
			    memcmp(tags[i].name, t.name, t.name_len) == 0)
				return -1;
		if (n == max)
			return -1;
		tags[n++] = t;
		p = semi != NULL ? semi + 1 : end;
	}
	return (int) n;
}

static const struct dkim_tag *
tag_find(const struct dkim_tag *tags, int n, const char *name)
{
	size_t len = strlen(name);
	int i;

	for (i = 0; i < n; i++)
		if (tags[i].name_len == len &&
		    memcmp(tags[i].name, name, len) == 0)
			return &tags[i];
	return NULL;
}

static int
tag_is(const struct dkim_tag *t, const char *s)
{
	return t->value_len == strlen(s) &&
	    strncasecmp(t->value, s, t->value_len) == 0;
}

/* The value without its FWS, NUL-terminated; caller frees; NULL: too long. */
static char *
tag_compact(const struct dkim_tag *t, size_t max)
{
	char *s = xmalloc(t->value_len + 1);
	size_t i, n = 0;

	for (i = 0; i < t->value_len; i++)
		if (!IS_FWS(t->value[i]))
			s[n++] = t->value[i];
	s[n] = '\0';
	if (n > max) {
		free(s);
		return NULL;
	}
	return s;
}

/* A value that may not hold FWS (d=, s=): a copy, or NULL. */
static char *
tag_word(const struct dkim_tag *t, size_t max)
{
	size_t i;

	if (t->value_len > max)
		return NULL;
	for (i = 0; i < t->value_len; i++)
		if (IS_FWS(t->value[i]))
			return NULL;
	return xstrndup(t->value, t->value_len);
}

/* A decimal of at most 12 digits (l=, t=, x=: RFC 6376 3.5); -1 bad. */
static long long
tag_number(const struct dkim_tag *t)
{
	long long v = 0;
	size_t i;

	if (t->value_len == 0 || t->value_len > 12)
		return -1;
	for (i = 0; i < t->value_len; i++) {
		if (!IS_DIGIT(t->value[i]))
			return -1;
		v = v * 10 + (t->value[i] - '0');
	}
	return v;
}

/* Decode t's base64 (FWS inside allowed) into at most max bytes. */
static unsigned char *
tag_base64(const struct dkim_tag *t, size_t max, size_t *len_r)
{
	char *text = tag_compact(t, max * 4 / 3 + 4);
	struct buf *b;
	unsigned char *out = NULL;

	if (text == NULL)
		return NULL;
	b = buf_new(max);
	if (*text != '\0' && base64_decode(text, strlen(text), b) == 0) {
		*len_r = buf_len(b);
		out = xmalloc(buf_len(b) + 1);
		memcpy(out, buf_cstr(b), buf_len(b));
	}
	buf_free(&b);
	free(text);
	return out;
}

int
dkim_sig_selector_valid(const char *selector)
{
	const char *p = selector;

	if (strlen(selector) > 253)
		return 0;
	for (;;) {
		const char *dot = strchr(p, '.');
		size_t n = dot != NULL ? (size_t) (dot - p) : strlen(p);
		char label[64];

		if (n == 0 || n >= sizeof(label))
			return 0;
		memcpy(label, p, n);
		label[n] = '\0';
		if (!dkim_selector_valid(label))
			return 0;
		if (dot == NULL)
			return 1;
		p = dot + 1;
	}
}

/* h=: colon-separated field names; -1 bad or over the cap. */
static int
sig_headers(struct dkim_sig *sig, const struct dkim_tag *t)
{
	char *list = tag_compact(t, DKIM_SIG_MAX), *p, *colon;
	int from = 0;

	if (list == NULL || *list == '\0') {
		free(list);
		return -1;
	}
	for (p = list; p != NULL; p = colon != NULL ? colon + 1 : NULL) {
		size_t i;

		colon = strchr(p, ':');
		if (colon != NULL)
			*colon = '\0';
		if (*p == '\0' || sig->header_count == DKIM_SIG_HEADERS_MAX)
			goto bad;
		/* field-name = 1*ftext, %d33-57 / %d59-126 (RFC 5322). */
		for (i = 0; p[i] != '\0'; i++)
			if ((unsigned char) p[i] < 33 ||
			    (unsigned char) p[i] > 126)
				goto bad;
		if (strcasecmp(p, "from") == 0)
			from = 1;
		sig->headers[sig->header_count++] = xstrdup(p);
	}
	free(list);
	return from ? 0 : -1;
bad:
	free(list);
	return -1;
}

void
dkim_sig_clear(struct dkim_sig *sig)
{
	size_t i;

	free(sig->domain);
	free(sig->selector);
	free(sig->auid);
	for (i = 0; i < sig->header_count; i++)
		free(sig->headers[i]);
	free(sig->b);
	memset(sig, 0, sizeof(*sig));
	sig->length = sig->timestamp = sig->expires = -1;
}

/* i=: [local-part] "@" domain, the domain d= or below it. */
static int
sig_auid_ok(const char *auid, const char *domain)
{
	const char *at = strrchr(auid, '@');
	size_t n, dn = strlen(domain);

	if (at == NULL)
		return 0;
	at++;
	n = strlen(at);
	if (n == dn)
		return strcasecmp(at, domain) == 0;
	return n > dn && at[n - dn - 1] == '.' &&
	    strcasecmp(at + n - dn, domain) == 0;
}

static int
sig_canon(struct dkim_sig *sig, const struct dkim_tag *t)
{
	const char *slash;
	size_t hn;

	if (t == NULL)
		return 0;		/* simple/simple */
	slash = memchr(t->value, '/', t->value_len);
	hn = slash != NULL ? (size_t) (slash - t->value) : t->value_len;
	if (hn == 7 && strncasecmp(t->value, "relaxed", 7) == 0)
		sig->header_relaxed = 1;
	else if (!(hn == 6 && strncasecmp(t->value, "simple", 6) == 0))
		return -1;
	if (slash == NULL)
		return 0;
	hn = t->value_len - (size_t) (slash + 1 - t->value);
	if (hn == 7 && strncasecmp(slash + 1, "relaxed", 7) == 0)
		sig->body_relaxed = 1;
	else if (!(hn == 6 && strncasecmp(slash + 1, "simple", 6) == 0))
		return -1;
	return 0;
}

#define SIG_FAIL(msg) do { *error_r = (msg); goto fail; } while (0)

int
dkim_sig_parse(const char *value, size_t len, struct dkim_sig *sig,
	const char **error_r)
{
	return dkim_sig_parse_kind(value, len, DKIM_SIG_DKIM, sig, error_r);
}

/* ARC's i= (1..50) and the seal's cv= (RFC 8617 4.1.3, 4.2.1). */
static int
sig_arc_tags(struct dkim_sig *sig, enum dkim_sig_kind kind,
	const struct dkim_tag *tags, int n)
{
	const struct dkim_tag *t = tag_find(tags, n, "i");
	long long instance;
	int cv;

	/* Range first: i=4294967297 must not wrap to 1 in an int. */
	if (t == NULL || (instance = tag_number(t)) < 1 || instance > 50)
		return -1;
	sig->instance = (int) instance;
	if (kind != DKIM_SIG_ARC_SEAL)
		return 0;
	t = tag_find(tags, n, "cv");
	if (t == NULL)
		return -1;
	cv = tag_is(t, "none") ? DKIM_CV_NONE : tag_is(t, "pass") ?
	    DKIM_CV_PASS : tag_is(t, "fail") ? DKIM_CV_FAIL : -1;
	/* The seal covers ARC fields only, named by no h= (4.1.3). */
	if (cv < 0 || tag_find(tags, n, "h") != NULL)
		return -1;
	sig->cv = (enum dkim_cv) cv;
	return 0;
}

int
dkim_sig_parse_kind(const char *value, size_t len, enum dkim_sig_kind kind,
	struct dkim_sig *sig, const char **error_r)
{
	struct dkim_tag tags[DKIM_TAGS_MAX];
	const struct dkim_tag *t;
	unsigned char *bh = NULL;
	size_t bh_len = 0, i;
	int n;

	memset(sig, 0, sizeof(*sig));
	dkim_sig_clear(sig);
	if (len > DKIM_SIG_MAX)
		SIG_FAIL("signature too long");
	n = dkim_tags_parse(value, len, tags, DKIM_TAGS_MAX);
	if (n < 0)
		SIG_FAIL("signature syntax");
	if (kind == DKIM_SIG_DKIM) {
		t = tag_find(tags, n, "v");
		if (t == NULL || !tag_is(t, "1"))
			SIG_FAIL("v= missing or not 1");
	} else if (sig_arc_tags(sig, kind, tags, n) < 0)
		SIG_FAIL("i= or cv= missing or bad");
	t = tag_find(tags, n, "a");
	if (t == NULL)
		SIG_FAIL("a= missing");
	if (tag_is(t, "rsa-sha256"))
		sig->alg = DKIM_ALG_RSA_SHA256;
	else if (tag_is(t, "ed25519-sha256"))
		sig->alg = DKIM_ALG_ED25519_SHA256;
	else if (tag_is(t, "rsa-sha1"))
		sig->alg = DKIM_ALG_RSA_SHA1;
	else
		SIG_FAIL("a= unknown");
	if (kind == DKIM_SIG_ARC_SEAL)
		sig->header_relaxed = sig->body_relaxed = 1;
	else if (sig_canon(sig, tag_find(tags, n, "c")) < 0)
		SIG_FAIL("c= unknown");
	t = tag_find(tags, n, "q");
	if (t != NULL) {
		char *q = tag_compact(t, DKIM_SIG_MAX);
		int dns = 0;
		char *p, *save = NULL;

		for (p = strtok_r(q, ":", &save); p != NULL;
		    p = strtok_r(NULL, ":", &save))
			if (strcasecmp(p, "dns/txt") == 0)
				dns = 1;
		free(q);
		if (!dns)
			SIG_FAIL("q= without dns/txt");
	}
	t = tag_find(tags, n, "d");
	if (t == NULL || (sig->domain = tag_word(t, 255)) == NULL ||
	    !dkim_domain_valid(sig->domain))
		SIG_FAIL("d= missing or bad");
	for (i = 0; sig->domain[i] != '\0'; i++)
		if (sig->domain[i] >= 'A' && sig->domain[i] <= 'Z')
			sig->domain[i] = (char) (sig->domain[i] - 'A' + 'a');
	t = tag_find(tags, n, "s");
	if (t == NULL || (sig->selector = tag_word(t, 253)) == NULL ||
	    !dkim_sig_selector_valid(sig->selector))
		SIG_FAIL("s= missing or bad");
	t = tag_find(tags, n, "h");
	if (kind != DKIM_SIG_ARC_SEAL && (t == NULL || sig_headers(sig, t) < 0))
		SIG_FAIL("h= missing, bad, too long or without From");
	t = kind == DKIM_SIG_DKIM ? tag_find(tags, n, "i") : NULL;
	if (t != NULL && ((sig->auid = tag_compact(t, 512)) == NULL ||
	    !sig_auid_ok(sig->auid, sig->domain)))
		SIG_FAIL("i= not within d=");
	t = tag_find(tags, n, "l");
	if (t != NULL && (sig->length = tag_number(t)) < 0)
		SIG_FAIL("l= bad");
	t = tag_find(tags, n, "t");
	if (t != NULL && (sig->timestamp = tag_number(t)) < 0)
		SIG_FAIL("t= bad");
	t = tag_find(tags, n, "x");
	if (t != NULL && (sig->expires = tag_number(t)) < 0)
		SIG_FAIL("x= bad");
	if (sig->expires >= 0 && sig->timestamp >= 0 &&
	    sig->expires < sig->timestamp)
		SIG_FAIL("x= before t=");
	t = tag_find(tags, n, "bh");
	if (kind != DKIM_SIG_ARC_SEAL && (t == NULL ||
	    (bh = tag_base64(t, sizeof(sig->bh), &bh_len)) == NULL))
		SIG_FAIL("bh= missing or bad");
	if (kind != DKIM_SIG_ARC_SEAL) {
		memcpy(sig->bh, bh, bh_len);
		sig->bh_len = bh_len;
		free(bh);
	}
	t = tag_find(tags, n, "b");
	if (t == NULL ||
	    (sig->b = tag_base64(t, DKIM_SIG_B_MAX, &sig->b_len)) == NULL)
		SIG_FAIL("b= missing or bad");
	/* b='s value with the FWS around it: from after "=" to ";". */
	{
		const char *eq = memchr(t->name, '=',
		    (size_t) (value + len - t->name));
		const char *semi = memchr(t->value, ';',
		    (size_t) (value + len - t->value));

		sig->b_start = (size_t) (eq + 1 - value);
		sig->b_end = semi != NULL ? (size_t) (semi - value) : len;
	}
	return 0;
fail:
	dkim_sig_clear(sig);
	return -1;
}

/* Is word among t's colon-separated values (FWS around them allowed)? */
static int
tag_lists(const struct dkim_tag *t, const char *word)
{
	char *list = tag_compact(t, DKIM_KEYREC_MAX), *p, *save = NULL;
	int found = 0;

	for (p = strtok_r(list, ":", &save); p != NULL;
	    p = strtok_r(NULL, ":", &save))
		if (strcasecmp(p, word) == 0)
			found = 1;
	free(list);
	return found;
}

int
dkim_keyrec_parse(const char *text, size_t len, struct dkim_keyrec *k,
	const char **error_r)
{
	struct dkim_tag tags[DKIM_TAGS_MAX];
	const struct dkim_tag *t;
	int n;

	memset(k, 0, sizeof(*k));
	if (len > DKIM_KEYREC_MAX) {
		*error_r = "key record too long";
		return -1;
	}
	n = dkim_tags_parse(text, len, tags, DKIM_TAGS_MAX);
	if (n < 0) {
		*error_r = "key record syntax";
		return -1;
	}
	t = tag_find(tags, n, "v");
	if (t != NULL && (t != &tags[0] || !tag_is(t, "DKIM1"))) {
		*error_r = "key record v= not DKIM1 or not first";
		return -1;
	}
	t = tag_find(tags, n, "k");
	if (t == NULL || tag_is(t, "rsa"))
		k->type = DKIM_KEYREC_RSA;
	else if (tag_is(t, "ed25519"))
		k->type = DKIM_KEYREC_ED25519;
	else {
		*error_r = "key type unknown";
		return -1;
	}
	t = tag_find(tags, n, "h");
	k->sha256 = t == NULL || tag_lists(t, "sha256");
	t = tag_find(tags, n, "s");
	k->email = t == NULL || tag_lists(t, "*") || tag_lists(t, "email");
	t = tag_find(tags, n, "t");
	if (t != NULL) {
		k->testing = tag_lists(t, "y");
		k->strict = tag_lists(t, "s");
	}
	t = tag_find(tags, n, "p");
	if (t == NULL) {
		*error_r = "key record without p=";
		return -1;
	}
	k->p = t->value;
	k->p_len = t->value_len;
	return 0;
}

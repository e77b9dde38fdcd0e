/* srs: Sender Rewriting Scheme addresses (SRS0, SRS1), libsrs2-compatible. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "address.h"
#include "buf.h"
#include "log.h"
#include "mail_params.h"
#include "srs.h"
#include "xalloc.h"

#define SRS_DAY (24 * 60 * 60)
#define SRS_TIME_BITS 5		/* base32: two characters, 10 bits */
#define SRS_SECRET_FILE_MAX (64 * 1024)

/* libsrs2's alphabets: the time stamp is decoded case-insensitively. */
static const char srs_base32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
static const char srs_base64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/* The separators libsrs2 accepts after SRS0 / SRS1; it writes '='. */
static const char srs_separators[] = "=-+";

struct srs {
	char *domain;
	char **secrets;
	size_t nsecrets;
	long long max_age;	/* days */
};

static int
srs_fail(char **error_r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int
srs_fail(char **error_r, const char *fmt, ...)
{
	struct buf *b = buf_new(1024);
	va_list ap;

	va_start(ap, fmt);
	(void) buf_vprintf(b, fmt, ap);
	va_end(ap);
	*error_r = buf_strdup(b);
	buf_free(&b);
	return -1;
}

struct srs *
srs_new(const char *domain, const char *const *secrets, size_t nsecrets,
	long long max_age, char **error_r)
{
	struct srs *srs;
	char *error = NULL;
	size_t i;

	if (address_domain_check(domain, strlen(domain), 0, &error) < 0) {
		(void) srs_fail(error_r, "srs_domain %s: %s", domain, error);
		free(error);
		return NULL;
	}
	if (nsecrets == 0) {
		(void) srs_fail(error_r, "no SRS secret");
		return NULL;
	}
	for (i = 0; i < nsecrets; i++) {
		if (secrets[i][0] == '\0' ||
		    strlen(secrets[i]) > SRS_SECRET_MAX) {
			(void) srs_fail(error_r, "SRS secret %zu is empty or "
			    "longer than %d octets", i + 1, SRS_SECRET_MAX);
			return NULL;
		}
	}
	if (max_age < 1 || max_age >= SRS_TIME_SLOTS) {
		(void) srs_fail(error_r, "SRS maximum age %lld days is not "
		    "within 1 to %d", max_age, SRS_TIME_SLOTS - 1);
		return NULL;
	}
	srs = xcalloc(1, sizeof(*srs));
	srs->domain = xstrdup(domain);
	for (i = 0; srs->domain[i] != '\0'; i++) {
		if (srs->domain[i] >= 'A' && srs->domain[i] <= 'Z')
			srs->domain[i] += 'a' - 'A';
	}
	srs->secrets = xcalloc(nsecrets, sizeof(*srs->secrets));
	for (i = 0; i < nsecrets; i++)
		srs->secrets[i] = xstrdup(secrets[i]);
	srs->nsecrets = nsecrets;
	srs->max_age = max_age;
	return srs;
}

void
srs_free(struct srs **srsp)
{
	struct srs *srs = *srsp;
	size_t i;

	if (srs == NULL)
		return;
	for (i = 0; i < srs->nsecrets; i++) {
		/* Do not leave key material in freed memory. */
		explicit_bzero(srs->secrets[i], strlen(srs->secrets[i]));
		free(srs->secrets[i]);
	}
	free(srs->secrets);
	free(srs->domain);
	free(srs);
	*srsp = NULL;
}

void
srs_secrets_free(char **secrets, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++) {
		explicit_bzero(secrets[i], strlen(secrets[i]));
		free(secrets[i]);
	}
	free(secrets);
}

int
srs_secrets_read(const char *path, char ***secrets_r, size_t *count_r,
	char **error_r)
{
	struct buf *content = NULL;
	struct stat st;
	char chunk[4096], **secrets = NULL;
	const char *p, *end, *nl, *line_end;
	size_t count = 0;
	ssize_t n;
	int fd, ret = -1;

	if (path[0] == '\0')
		return srs_fail(error_r, "srs_secret_file is not set");
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return srs_fail(error_r, "open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		(void) srs_fail(error_r, "%s: not a regular file", path);
		goto out;
	}
	if (st.st_mode & S_IROTH)
		log_warn("SRS secret file %s is readable by everyone: SRS "
		    "addresses can be forged", path);
	content = buf_new(SRS_SECRET_FILE_MAX);
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			(void) srs_fail(error_r, "read %s: %s", path,
			    strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if (buf_append(content, chunk, (size_t) n) < 0) {
			(void) srs_fail(error_r, "%s: longer than %d octets",
			    path, SRS_SECRET_FILE_MAX);
			goto out;
		}
	}
	secrets = xcalloc(SRS_SECRETS_MAX, sizeof(*secrets));
	p = buf_cstr(content);
	end = p + buf_len(content);
	for (; p < end; p = line_end + 1) {
		nl = memchr(p, '\n', (size_t) (end - p));
		line_end = nl != NULL ? nl : end;
		nl = line_end;
		while (nl > p && (nl[-1] == ' ' || nl[-1] == '\t' ||
		    nl[-1] == '\r'))
			nl--;
		if (nl == p)
			continue;
		if (memchr(p, '\0', (size_t) (nl - p)) != NULL) {
			(void) srs_fail(error_r, "%s: a NUL byte in a secret",
			    path);
			goto out;
		}
		if (nl - p > SRS_SECRET_MAX) {
			(void) srs_fail(error_r, "%s: a secret longer than %d "
			    "octets", path, SRS_SECRET_MAX);
			goto out;
		}
		if (count == SRS_SECRETS_MAX) {
			(void) srs_fail(error_r, "%s: more than %d secrets",
			    path, SRS_SECRETS_MAX);
			goto out;
		}
		secrets[count++] = xstrndup(p, (size_t) (nl - p));
	}
	if (count == 0) {
		(void) srs_fail(error_r, "%s: no secret in the file", path);
		goto out;
	}
	*secrets_r = secrets;
	*count_r = count;
	secrets = NULL;
	count = 0;
	ret = 0;
out:
	if (secrets != NULL)
		srs_secrets_free(secrets, count);
	if (content != NULL) {
		explicit_bzero(buf_data(content), buf_len(content));
		buf_free(&content);
	}
	(void) close(fd);
	return ret;
}

/* ---- the pieces of an address ------------------------------------------- */

/*
 * Split addr at its last '@' (a quoted local part may hold '@'; a domain
 * cannot).  *content_r: the local part's content (quotes and
 * quoted-pairs removed), *domain_r: the domain as written.  Lenient about
 * the local part's length (SRS local parts are often past 64 octets) but
 * not about its syntax.  0 ok; -1 with *error_r.
 */
static int
srs_split(const char *addr, char **content_r, char **domain_r,
	char **error_r)
{
	const char *at = strrchr(addr, '@'), *p;
	size_t local_len, len = strlen(addr);
	char *error = NULL;

	if (len > ADDRESS_MAX)
		return srs_fail(error_r, "address longer than %d octets",
		    ADDRESS_MAX);
	if (at == NULL)
		return srs_fail(error_r, "no '@' in the address");
	local_len = (size_t) (at - addr);
	if (local_len == 0)
		return srs_fail(error_r, "empty local part");
	if (addr[0] == '"') {
		/* A quoted string that ends right before the '@'. */
		for (p = addr + 1; p < at - 1; p++) {
			if (*p == '\\')
				p++;
			else if (*p == '"')
				break;
			else if ((unsigned char) *p < 0x20 || *p == 0x7f)
				break;
		}
		if (local_len < 2 || p != at - 1 || *p != '"')
			return srs_fail(error_r, "bad quoted local part");
	} else if (!address_is_dot_string(addr, local_len)) {
		return srs_fail(error_r, "bad local part");
	}
	if (address_domain_check(at + 1, strlen(at + 1), 1, &error) < 0) {
		(void) srs_fail(error_r, "%s", error);
		free(error);
		return -1;
	}
	*domain_r = xstrdup(at + 1);
	if (addr[0] == '"') {
		char *local = xstrndup(addr, local_len);

		*content_r = address_local_unquote(local);
		free(local);
	} else {
		*content_r = xstrndup(addr, local_len);
	}
	return 0;
}

/* "SRS0" or "SRS1" (any case) and a separator at the start of content? */
static int
srs_has_tag(const char *content, char digit)
{
	return strncasecmp(content, "SRS", 3) == 0 && content[3] == digit &&
	    content[4] != '\0' && strchr(srs_separators, content[4]) != NULL;
}

/*
 * The 4-character hash of the fields under secret: HMAC-SHA1 of their
 * lower-cased concatenation, base64, truncated (libsrs2's hash).
 */
static void
srs_hash(const char *secret, const char *const *fields, size_t nfields,
	char out[SRS_HASH_LEN + 1])
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int digest_len = 0;
	struct buf *data = buf_new(2 * ADDRESS_MAX + 16);
	char *d;
	size_t i;

	for (i = 0; i < nfields; i++) {
		if (buf_append_str(data, fields[i]) < 0)
			log_panic("srs_hash: fields past their checked "
			    "length");
	}
	d = buf_data(data);
	for (i = 0; i < buf_len(data); i++) {
		if (d[i] >= 'A' && d[i] <= 'Z')
			d[i] += 'a' - 'A';
	}
	if (HMAC(EVP_sha1(), secret, (int) strlen(secret),
	    (const unsigned char *) d, buf_len(data), digest,
	    &digest_len) == NULL || digest_len < 3)
		log_fatal("SRS: HMAC-SHA1 failed in OpenSSL");
	buf_free(&data);
	/* Four base64 characters are the first three octets. */
	out[0] = srs_base64[digest[0] >> 2];
	out[1] = srs_base64[((digest[0] & 0x03) << 4) | (digest[1] >> 4)];
	out[2] = srs_base64[((digest[1] & 0x0f) << 2) | (digest[2] >> 6)];
	out[3] = srs_base64[digest[2] & 0x3f];
	out[4] = '\0';
}

/* Does hash (any case) match the fields under one of our secrets? */
static int
srs_hash_ok(const struct srs *srs, const char *hash,
	const char *const *fields, size_t nfields)
{
	char expect[SRS_HASH_LEN + 1];
	size_t i;

	for (i = 0; i < srs->nsecrets; i++) {
		srs_hash(srs->secrets[i], fields, nfields, expect);
		/*
		 * Case-insensitive like libsrs2: MTAs on the way may
		 * lower-case the local part; the hash loses 1 bit/char.
		 */
		if (strcasecmp(expect, hash) == 0)
			return 1;
	}
	return 0;
}

static long long
srs_day(time_t now)
{
	return now < 0 ? 0 : (long long) (now / SRS_DAY) % SRS_TIME_SLOTS;
}

/* Decode a time stamp; -1 when it is not two base32 characters. */
static long long
srs_stamp_decode(const char *stamp)
{
	const char *found;
	long long then = 0;
	size_t i;
	char c;

	if (strlen(stamp) != 2)
		return -1;
	for (i = 0; i < 2; i++) {
		c = stamp[i];
		if (c >= 'a' && c <= 'z')
			c -= 'a' - 'A';
		found = c != '\0' ? strchr(srs_base32, c) : NULL;
		if (found == NULL)
			return -1;
		then = (then << SRS_TIME_BITS) | (found - srs_base32);
	}
	return then;
}

int
srs_in_domain(const struct srs *srs, const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at != NULL && strcasecmp(at + 1, srs->domain) == 0;
}

/* local-content "@" domain as an address; -1 when too long. */
static int
srs_build(const char *content, const char *domain, char **result_r,
	char **error_r)
{
	char *local = address_local_canonical(content);
	char *result = xasprintf("%s@%s", local, domain);

	free(local);
	if (strlen(result) > ADDRESS_MAX) {
		free(result);
		return srs_fail(error_r, "the SRS address would be longer "
		    "than %d octets", ADDRESS_MAX);
	}
	*result_r = result;
	return 0;
}

/* ---- forward: the sender of forwarded mail ------------------------------ */

/*
 * Another forwarder's SRS1 content "SRS1=HHHH=host=rest": its first
 * forwarder host and the opaque rest; 0 when it is not one.
 */
static int
srs1_fields(const char *content, char **host_r, char **rest_r,
	char **hash_r)
{
	const char *hash = content + 5, *host, *rest;

	host = strchr(hash, '=');
	if (host == NULL)
		return 0;
	host++;
	rest = strchr(host, '=');
	if (rest == NULL || rest == host || rest[1] == '\0')
		return 0;
	*hash_r = xstrndup(hash, (size_t) (host - 1 - hash));
	*host_r = xstrndup(host, (size_t) (rest - host));
	*rest_r = xstrdup(rest + 1);
	return 1;
}

int
srs_encode(const struct srs *srs, const char *sender, time_t now,
	char **result_r, char **error_r)
{
	char *content = NULL, *domain = NULL, *host = NULL, *rest = NULL;
	char *old_hash = NULL, *local = NULL, *error = NULL;
	char hash[SRS_HASH_LEN + 1], stamp[3];
	const char *fields[3];
	long long day;
	int ret = -1;

	/* Bounces are not rewritten: there is no one to bounce to. */
	if (sender[0] == '\0') {
		*result_r = xstrdup("");
		return 0;
	}
	if (srs_split(sender, &content, &domain, &error) < 0) {
		(void) srs_fail(error_r, "sender <%s>: %s", sender, error);
		free(error);
		return -1;
	}
	/* Ours already (an SRS address we made, or a local sender). */
	if (strcasecmp(domain, srs->domain) == 0) {
		*result_r = xstrdup(sender);
		ret = 0;
		goto out;
	}
	if (srs_has_tag(content, '1') &&
	    srs1_fields(content, &host, &rest, &old_hash)) {
		/* SRS1 of a later forwarder: keep the first one, re-sign. */
		fields[0] = host;
		fields[1] = rest;
		srs_hash(srs->secrets[0], fields, 2, hash);
		local = xasprintf("SRS1=%s=%s=%s", hash, host, rest);
	} else if (srs_has_tag(content, '0')) {
		/*
		 * Another forwarder's SRS0: the rest after "SRS0" (its
		 * separator included) stays opaque; its host is the first
		 * forwarder, who can check its own hash and time stamp.
		 */
		fields[0] = domain;
		fields[1] = content + 4;
		srs_hash(srs->secrets[0], fields, 2, hash);
		local = xasprintf("SRS1=%s=%s=%s", hash, domain, content + 4);
	} else {
		day = srs_day(now);
		stamp[0] = srs_base32[(day >> SRS_TIME_BITS) & 31];
		stamp[1] = srs_base32[day & 31];
		stamp[2] = '\0';
		fields[0] = stamp;
		fields[1] = domain;
		fields[2] = content;
		srs_hash(srs->secrets[0], fields, 3, hash);
		local = xasprintf("SRS0=%s=%s=%s=%s", hash, stamp, domain,
		    content);
	}
	if (srs_build(local, srs->domain, result_r, &error) < 0) {
		(void) srs_fail(error_r, "sender <%s>: %s", sender, error);
		free(error);
		goto out;
	}
	ret = 0;
out:
	free(content);
	free(domain);
	free(host);
	free(rest);
	free(old_hash);
	free(local);
	return ret;
}

/* ---- reverse: where a bounce to an SRS address goes --------------------- */

static int
srs_decode_fail(char **error_r, int result, const char *addr,
	const char *why)
{
	(void) srs_fail(error_r, "<%s>: %s", addr, why);
	return result;
}

int
srs_decode(const struct srs *srs, const char *addr, time_t now,
	char **orig_r, char **error_r)
{
	char *content = NULL, *domain = NULL, *error = NULL, *p;
	char *hash, *stamp, *host, *user, *local = NULL;
	const char *fields[3];
	long long then, today;
	int ret;

	if (!srs_in_domain(srs, addr))
		return SRS_NOT_SRS;
	if (srs_split(addr, &content, &domain, &error) < 0) {
		ret = srs_decode_fail(error_r, SRS_MALFORMED, addr, error);
		free(error);
		return ret;
	}
	ret = SRS_MALFORMED;
	if (!srs_has_tag(content, '0') && !srs_has_tag(content, '1')) {
		(void) srs_decode_fail(error_r, ret, addr, "not an SRS "
		    "address");
		goto out;
	}
	/* Fields: HHHH=TT=host=user (SRS0) or HHHH=host=rest (SRS1). */
	hash = content + 5;
	p = strchr(hash, '=');
	if (p == NULL || p - hash != SRS_HASH_LEN) {
		(void) srs_decode_fail(error_r, ret, addr, "bad SRS hash "
		    "field");
		goto out;
	}
	*p++ = '\0';
	if (srs_has_tag(content, '0')) {
		stamp = p;
		host = strchr(stamp, '=');
		user = host != NULL ? strchr(host + 1, '=') : NULL;
		if (user == NULL) {
			(void) srs_decode_fail(error_r, ret, addr, "missing "
			    "SRS0 fields");
			goto out;
		}
		*host++ = '\0';
		*user++ = '\0';
		then = srs_stamp_decode(stamp);
		if (then < 0 || *host == '\0' || *user == '\0') {
			(void) srs_decode_fail(error_r, ret, addr, "bad SRS0 "
			    "time stamp, domain or local part");
			goto out;
		}
		fields[0] = stamp;
		fields[1] = host;
		fields[2] = user;
		/* The hash first: a forgery is a forgery at any age. */
		if (!srs_hash_ok(srs, hash, fields, 3)) {
			ret = srs_decode_fail(error_r, SRS_FORGED, addr,
			    "SRS hash does not match (forged)");
			goto out;
		}
		today = srs_day(now);
		while (today < then)
			today += SRS_TIME_SLOTS;	/* the stamp wrapped */
		if (today > then + srs->max_age) {
			ret = srs_decode_fail(error_r, SRS_EXPIRED, addr,
			    "SRS address expired");
			goto out;
		}
		local = xstrdup(user);
	} else {
		host = p;
		user = strchr(host, '=');
		if (user == NULL || user == host || user[1] == '\0') {
			(void) srs_decode_fail(error_r, ret, addr, "missing "
			    "SRS1 fields");
			goto out;
		}
		*user++ = '\0';
		fields[0] = host;
		fields[1] = user;
		if (!srs_hash_ok(srs, hash, fields, 2)) {
			ret = srs_decode_fail(error_r, SRS_FORGED, addr,
			    "SRS hash does not match (forged)");
			goto out;
		}
		/* Back to the first forwarder, who checks the time. */
		local = xasprintf("SRS0%s", user);
	}
	if (address_domain_check(host, strlen(host), 1, &error) < 0 ||
	    srs_build(local, host, orig_r, &error) < 0) {
		ret = srs_decode_fail(error_r, SRS_MALFORMED, addr, error);
		free(error);
		goto out;
	}
	ret = SRS_OK;
out:
	free(content);
	free(domain);
	free(local);
	return ret;
}

/* ---- the configured rewriter -------------------------------------------- */

static struct srs *srs_configured;

int
srs_enabled(void)
{
	return var_srs_domain != NULL && var_srs_domain[0] != '\0';
}

int
srs_init(char **error_r)
{
	char **secrets = NULL, *error = NULL;
	size_t count = 0;

	if (!srs_enabled() || srs_configured != NULL)
		return 0;
	if (srs_secrets_read(var_srs_secret_file, &secrets, &count,
	    &error) < 0) {
		(void) srs_fail(error_r, "SRS: %s", error);
		free(error);
		return -1;
	}
	srs_configured = srs_new(var_srs_domain,
	    (const char *const *) secrets, count,
	    var_srs_max_age / SRS_DAY, &error);
	srs_secrets_free(secrets, count);
	if (srs_configured == NULL) {
		(void) srs_fail(error_r, "SRS: %s", error);
		free(error);
		return -1;
	}
	return 0;
}

char *
srs_forward_sender(const char *sender, char **error_r)
{
	char *result = NULL;

	if (!srs_enabled())
		return xstrdup(sender);
	if (srs_init(error_r) < 0)
		return NULL;
	if (srs_encode(srs_configured, sender, time(NULL), &result,
	    error_r) < 0)
		return NULL;
	return result;
}

int
srs_reverse(const char *rcpt, char **orig_r, char **error_r)
{
	const char *at = strrchr(rcpt, '@');

	if (!srs_enabled() || at == NULL ||
	    strcasecmp(at + 1, var_srs_domain) != 0)
		return SRS_NOT_SRS;
	if (srs_init(error_r) < 0)
		return SRS_TEMP;
	return srs_decode(srs_configured, rcpt, time(NULL), orig_r, error_r);
}

/*
 * fuzz_smtpd_auth: fuzz_smtpd's session (fuzz_smtpd.c, included) in mx
 * mode with sender authentication on (smtpd_sender_auth): the header
 * filter of smtpd_authres.c (forged Authentication-Results removed,
 * From: and DKIM-Signature fields read as they come, their lookups
 * started early), DKIM verification (common/mail/dkim_*.c) up to the
 * RSA or Ed25519 step, SPF through libspf2 and DMARC through
 * libopendmarc, over DATA and BDAT.
 *
 * The DNS answers come from the input, never from the network: dns.c is
 * compiled here with c-ares' ares_query() replaced by fuzz_ares_query(),
 * which builds a real DNS reply from the input's zone and hands it to
 * dns.c's own c-ares callback (reply parsing, TTLs, the ready list, the
 * delivery from dns_wait() or dns_cancel()).  smtpd_authres_dns.c is
 * compiled here too, so that its answer cache can be emptied between
 * inputs (no state from one input to the next).
 *
 * The input: byte 0 is the size of each read (as fuzz_smtpd's; the top
 * bit is ignored: always mx), then the zone up to the first NUL, then
 * the client's byte stream.  The zone has one answer a line:
 *
 *	NAME TYPE[/TTL] [DATA]
 *
 * TYPE is txt (DATA is one record, the rest of the line, cut into
 * character-strings of 255), a, aaaa, mx ("PREF HOST"), or a failure:
 * nx (NXDOMAIN), nodata, servfail, timeout.  TTL defaults to 300 (0: not
 * cached).  A name not in the zone is NXDOMAIN.
 *
 * Checked for every message queued: exactly one Authentication-Results
 * field of ours above it, of header-safe characters only (every value in
 * it validated after decoding), and no field left in the message's
 * header that claims our authserv-id.
 */
#include "config.h"

#include <ares.h>

static void fuzz_ares_query(ares_channel channel, const char *name,
	int dnsclass, int type, ares_callback callback, void *arg);

#define ares_query fuzz_ares_query
#include "../../common/net/dns.c"
#undef ares_query
#include "../../smtpd/smtpd_authres_dns.c"

#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/types.h>
#include <unistd.h>

#include "fuzz.h"
#include "qfile.h"

#define FUZZ_ZONE_LINES 64
#define FUZZ_REPLY_MAX 65535
#define FUZZ_AUTHSERV_ID "mx.example.test"

struct fuzz_rr {
	const char *name;
	size_t name_len;
	const char *type;
	size_t type_len;
	long ttl;
	const char *data;
	size_t data_len;
};

static struct fuzz_rr fuzz_zone[FUZZ_ZONE_LINES];
static size_t fuzz_zone_count;

/* The zone: lines of data/len (not copied; valid for the input). */
static void
fuzz_zone_parse(const char *data, size_t len)
{
	const char *p = data, *end = data + len;

	fuzz_zone_count = 0;
	while (p < end && fuzz_zone_count < FUZZ_ZONE_LINES) {
		const char *nl = memchr(p, '\n', (size_t) (end - p));
		const char *eol = nl != NULL ? nl : end, *q = p, *slash;
		struct fuzz_rr *rr = &fuzz_zone[fuzz_zone_count];

		memset(rr, 0, sizeof(*rr));
		rr->ttl = 300;
		rr->name = q;
		while (q < eol && *q != ' ')
			q++;
		rr->name_len = (size_t) (q - rr->name);
		if (rr->name_len > 0 && rr->name[rr->name_len - 1] == '.')
			rr->name_len--;
		if (q < eol)
			q++;
		rr->type = q;
		while (q < eol && *q != ' ' && *q != '/')
			q++;
		rr->type_len = (size_t) (q - rr->type);
		slash = q < eol && *q == '/' ? q : NULL;
		if (slash != NULL) {
			rr->ttl = 0;
			for (q++; q < eol && *q >= '0' && *q <= '9'; q++)
				if (rr->ttl < 0x7fffffffL / 10)
					rr->ttl = rr->ttl * 10 + (*q - '0');
		}
		while (q < eol && *q != ' ')
			q++;
		if (q < eol)
			q++;
		rr->data = q;
		rr->data_len = (size_t) (eol - q);
		if (rr->name_len > 0 && rr->type_len > 0)
			fuzz_zone_count++;
		p = nl != NULL ? nl + 1 : end;
	}
}

static int
fuzz_rr_type_is(const struct fuzz_rr *rr, const char *type)
{
	return rr->type_len == strlen(type) &&
	    strncasecmp(rr->type, type, rr->type_len) == 0;
}

static int
fuzz_put16(struct buf *b, unsigned int v)
{
	return buf_append_char(b, (char) ((v >> 8) & 0xff)) |
	    buf_append_char(b, (char) (v & 0xff));
}

static int
fuzz_put32(struct buf *b, unsigned long v)
{
	return fuzz_put16(b, (unsigned int) ((v >> 16) & 0xffff)) |
	    fuzz_put16(b, (unsigned int) (v & 0xffff));
}

/* A name as DNS labels (empty labels skipped, long ones cut). */
static int
fuzz_put_name(struct buf *b, const char *name, size_t len)
{
	const char *p = name, *end = name + len;
	int rc = 0;

	while (p < end) {
		const char *dot = memchr(p, '.', (size_t) (end - p));
		size_t n = dot != NULL ? (size_t) (dot - p) : (size_t) (end - p);

		if (n > 63)
			n = 63;
		if (n > 0)
			rc |= buf_append_char(b, (char) n) |
			    buf_append(b, p, n);
		p = dot != NULL ? dot + 1 : end;
	}
	return rc | buf_append_char(b, '\0');
}

/* The RDATA of rr as a record of rr_type; 1 made, 0 not of that type. */
static int
fuzz_put_rdata(struct buf *b, const struct fuzz_rr *rr, int rr_type,
	int *rc)
{
	unsigned char addr[16];
	char *text;
	size_t i, n, mark;
	int family = rr_type == RR_TYPE_A ? AF_INET : AF_INET6;

	if (rr_type == RR_TYPE_TXT && fuzz_rr_type_is(rr, "txt")) {
		*rc |= fuzz_put16(b, (unsigned int) (rr->data_len +
		    (rr->data_len + 254) / 255 + (rr->data_len == 0)));
		if (rr->data_len == 0)
			*rc |= buf_append_char(b, '\0');
		for (i = 0; i < rr->data_len; i += n) {
			n = rr->data_len - i > 255 ? 255 : rr->data_len - i;
			*rc |= buf_append_char(b, (char) n) |
			    buf_append(b, rr->data + i, n);
		}
		return 1;
	}
	if ((rr_type == RR_TYPE_A && fuzz_rr_type_is(rr, "a")) ||
	    (rr_type == RR_TYPE_AAAA && fuzz_rr_type_is(rr, "aaaa"))) {
		text = fuzz_strndup(rr->data, rr->data_len);
		n = inet_pton(family, text, addr) == 1 ?
		    (family == AF_INET ? 4 : 16) : 0;
		free(text);
		if (n == 0)
			return 0;
		*rc |= fuzz_put16(b, (unsigned int) n) |
		    buf_append(b, addr, n);
		return 1;
	}
	if (rr_type == RR_TYPE_MX && fuzz_rr_type_is(rr, "mx")) {
		const char *sp = memchr(rr->data, ' ', rr->data_len);
		unsigned int pref = (unsigned int) strtoul(rr->data, NULL, 10);
		size_t host = sp != NULL ? (size_t) (sp + 1 - rr->data) :
		    rr->data_len;

		*rc |= fuzz_put16(b, 0);
		mark = buf_len(b);
		*rc |= fuzz_put16(b, pref & 0xffff) | fuzz_put_name(b,
		    rr->data + host, rr->data_len - host);
		/* The length, now known, where the 0 went. */
		buf_data(b)[mark - 2] = (char) ((buf_len(b) - mark) >> 8);
		buf_data(b)[mark - 1] = (char) ((buf_len(b) - mark) & 0xff);
		return 1;
	}
	return 0;
}

/*
 * c-ares' ares_query() for dns.c: the answer to name/type from the zone,
 * as a server's reply, through callback (which only queues it: dns.c
 * runs its user's callback later, as with a reply from the network).
 */
static void
fuzz_ares_query(ares_channel channel, const char *name, int dnsclass,
	int type, ares_callback callback, void *arg)
{
	struct buf *b = buf_new(FUZZ_REPLY_MAX);
	size_t i, len = strlen(name), an = 0, ancount_at;
	long neg_ttl = 300;
	int exists = 0, status = ARES_SUCCESS, rc = 0;

	(void) channel;
	(void) dnsclass;
	for (i = 0; i < fuzz_zone_count; i++) {
		const struct fuzz_rr *rr = &fuzz_zone[i];

		if (rr->name_len != len || strncasecmp(rr->name, name, len))
			continue;
		if (fuzz_rr_type_is(rr, "timeout")) {
			buf_free(&b);
			callback(arg, ARES_ETIMEOUT, 0, NULL, 0);
			return;
		}
		if (fuzz_rr_type_is(rr, "servfail")) {
			status = ARES_ESERVFAIL;
			break;
		}
		if (fuzz_rr_type_is(rr, "nx")) {
			neg_ttl = rr->ttl;
			break;
		}
		if (fuzz_rr_type_is(rr, "nodata"))
			neg_ttl = rr->ttl;
		exists = 1;
	}
	/* The header; the answer count is filled in below. */
	rc |= fuzz_put16(b, 0) | fuzz_put16(b, 0x8180) | fuzz_put16(b, 1);
	ancount_at = buf_len(b);
	rc |= fuzz_put16(b, 0) | fuzz_put16(b, 0) | fuzz_put16(b, 0);
	rc |= fuzz_put_name(b, name, len) | fuzz_put16(b, (unsigned int) type) |
	    fuzz_put16(b, RR_CLASS_IN);
	for (i = 0; exists && i < fuzz_zone_count; i++) {
		const struct fuzz_rr *rr = &fuzz_zone[i];
		size_t mark = buf_len(b);

		if (rr->name_len != len || strncasecmp(rr->name, name, len))
			continue;
		rc |= fuzz_put16(b, 0xc00c) | fuzz_put16(b, (unsigned int)
		    type) | fuzz_put16(b, RR_CLASS_IN) |
		    fuzz_put32(b, (unsigned long) rr->ttl);
		if (fuzz_put_rdata(b, rr, type, &rc))
			an++;
		else
			buf_truncate(b, mark);
	}
	if (status == ARES_SUCCESS && an == 0) {
		/* NXDOMAIN or NODATA, with the SOA that gives its TTL. */
		status = exists ? ARES_ENODATA : ARES_ENOTFOUND;
		buf_data(b)[3] = (char) (exists ? 0x80 : 0x83);
		buf_data(b)[9] = 1;
		rc |= fuzz_put16(b, 0xc00c) | fuzz_put16(b, 6) |
		    fuzz_put16(b, RR_CLASS_IN) |
		    fuzz_put32(b, (unsigned long) neg_ttl) |
		    fuzz_put16(b, 22) | fuzz_put16(b, 0) |
		    fuzz_put32(b, 1) | fuzz_put32(b, 3600) |
		    fuzz_put32(b, 600) | fuzz_put32(b, 86400) |
		    fuzz_put32(b, (unsigned long) neg_ttl);
	}
	buf_data(b)[ancount_at] = (char) (an >> 8);
	buf_data(b)[ancount_at + 1] = (char) (an & 0xff);
	if (rc != 0 || status == ARES_ESERVFAIL)
		callback(arg, ARES_ESERVFAIL, 0, NULL, 0);
	else
		callback(arg, status, 0, (unsigned char *) buf_data(b),
		    (int) buf_len(b));
	buf_free(&b);
}

/* The input's zone before its first NUL; the client's bytes after it. */
static void
fuzz_auth_input(const uint8_t **data, size_t *size)
{
	const uint8_t *nul = memchr(*data, '\0', *size);

	if (nul == NULL) {
		fuzz_zone_count = 0;
		return;
	}
	fuzz_zone_parse((const char *) *data, (size_t) (nul - *data));
	*size -= (size_t) (nul + 1 - *data);
	*data = nul + 1;
}

/* The input is done: nothing of it stays for the next one. */
static void
fuzz_auth_end(void)
{
	size_t i;

	/* The session's end reset the transaction: nothing is left over. */
	if ((ar_dns != NULL && dns_pending(ar_dns) != 0) || ar_lent != NULL)
		abort();
	for (i = 0; i < SMTPD_AUTHRES_DNS_PREFETCH; i++)
		if (ar_prefetch[i].name != NULL)
			abort();
	for (i = 0; i < SMTPD_AUTHRES_DNS_CACHE; i++) {
		free(ar_cache[i].name);
		dns_answer_free(&ar_cache[i].answer);
	}
	memset(ar_cache, 0, sizeof(ar_cache));
	/* The hash index too, or a stale chain head loops or reads slot -1. */
	memset(ar_bucket, 0, sizeof(ar_bucket));
	ar_cache_next = 0;
	fuzz_zone_count = 0;
}

/* Does the header field f (len bytes) claim our authserv-id? */
static int
fuzz_claims_ours(const char *f, size_t len)
{
	static const char name[] = "Authentication-Results";
	const char *p = f + sizeof(name) - 1, *end = f + len, *start;
	size_t id_len = strlen(FUZZ_AUTHSERV_ID);
	int depth = 0;

	if (len < sizeof(name) || strncasecmp(f, name, sizeof(name) - 1))
		return 0;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p == end || *p++ != ':')
		return 0;
	for (; p < end; p++) {
		if (*p == '(')
			depth++;
		else if (*p == ')' && depth > 0)
			depth--;
		else if (depth == 0 && *p != ' ' && *p != '\t' &&
		    *p != '\r' && *p != '\n')
			break;
	}
	/* A reader may take any control (a NUL too) as the id's end. */
	for (start = p; p < end && *p != ';' && *p != '(' &&
	    (unsigned char) *p > ' ' && *p != 0x7f; p++)
		;
	return (size_t) (p - start) == id_len &&
	    strncasecmp(start, FUZZ_AUTHSERV_ID, id_len) == 0;
}

/* The header of the queued message keeps no field claiming our id. */
static void
fuzz_check_header(const char *m, size_t len)
{
	const char *p = m, *end = m + len, *field = m;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t) (end - p));
		const char *next = nl != NULL ? nl + 1 : end;

		if (next >= end || (*next != ' ' && *next != '\t')) {
			/* The field ends here. */
			if (fuzz_claims_ours(field, (size_t) (next - field))) {
				fprintf(stderr, "fuzz_smtpd_auth: a field "
				    "claiming our id is queued: %.*s\n",
				    (int) (next - field), field);
				abort();
			}
			field = next;
		}
		p = next;
		if (p < end && (*p == '\n' || (*p == '\r' && p + 1 < end &&
		    p[1] == '\n')))
			break;		/* the empty line */
	}
}

/* What sender authentication must have done to a queued message. */
static void
fuzz_auth_check(const struct qfile *qf, const char *path)
{
	static const char prefix[] = "Authentication-Results: "
	    FUZZ_AUTHSERV_ID ";";
	char *message;
	size_t i, ours = 0;
	ssize_t n;
	int fd;

	for (i = 0; i < qf->prepend_count; i++) {
		const char *f = qf->prepend[i];

		if (strncmp(f, prefix, sizeof(prefix) - 1) != 0)
			continue;
		ours++;
		if (f[strspn(f, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
		    "qrstuvwxyz0123456789 .-_;=():\r\n\t")] != '\0') {
			fprintf(stderr, "fuzz_smtpd_auth: %s\n", f);
			abort();
		}
	}
	if (ours != 1)
		abort();
	if (qf->message_size < 0 || qf->message_size > 1024 * 1024)
		abort();
	message = xmalloc((size_t) qf->message_size + 1);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	n = fd < 0 ? -1 : pread(fd, message, (size_t) qf->message_size,
	    qf->message_offset);
	if (fd >= 0)
		close(fd);
	if (n != (ssize_t) qf->message_size)
		abort();
	fuzz_check_header(message, (size_t) n);
	free(message);
}

static void fuzz_auth_setup(void);

#define FUZZ_SMTPD_AUTH 1
#include "fuzz_smtpd.c"

#include "smtpd_authres.h"

static void
fuzz_auth_setup(void)
{
	set("smtpd_sender_auth", "yes");
	set("smtpd_authserv_id", FUZZ_AUTHSERV_ID);
	/* Never asked: fuzz_ares_query() answers every query. */
	set("dns_servers", "192.0.2.53");
	smtpd.mode = SMTPD_MODE_MX;
	smtpd_authres_init();
}

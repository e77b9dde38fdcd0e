/* dns_parse: c-ares replies made into dns_answers (see dns_private.h). */
#include <arpa/inet.h>
#include <ares.h>
#include <netdb.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "dns.h"
#include "dns_private.h"
#include "log.h"
#include "xalloc.h"

const char *
dns_type_name(enum dns_type type)
{
	switch (type) {
	case DNS_TYPE_A: return "A";
	case DNS_TYPE_AAAA: return "AAAA";
	case DNS_TYPE_MX: return "MX";
	case DNS_TYPE_TXT: return "TXT";
	case DNS_TYPE_PTR: return "PTR";
	case DNS_TYPE_TLSA: return "TLSA";
	}
	return "?";
}

void
dns_answer_free(struct dns_answer **answer_p)
{
	struct dns_answer *answer = *answer_p;
	size_t i;

	if (answer == NULL)
		return;
	free(answer->name);
	free(answer->error);
	for (i = 0; i < answer->mx_count; i++)
		free(answer->mx[i].host);
	free(answer->mx);
	free(answer->addrs);
	for (i = 0; i < answer->string_count; i++)
		free(answer->strings[i]);
	free(answer->strings);
	for (i = 0; i < answer->tlsa_count; i++)
		free(answer->tlsa[i].data);
	free(answer->tlsa);
	free(answer->canonical);
	free(answer);
	*answer_p = NULL;
}

struct dns_answer *
dns_answer_new(enum dns_type type, const char *name)
{
	struct dns_answer *answer = xcalloc(1, sizeof(*answer));

	answer->type = type;
	answer->name = xstrdup(name);
	answer->ttl = -1;
	return answer;
}

void
dns_answer_fail(struct dns_answer *answer, enum dns_status status,
	const char *why)
{
	answer->status = status;
	free(answer->error);
	answer->error = xasprintf("%s/%s: %s", answer->name,
	    dns_type_name(answer->type), why);
}

/* A host name as we keep it: lower case, without the trailing dot. */
char *
dns_host_copy(const char *name)
{
	size_t len = strlen(name), i;
	char *copy;

	if (len > 0 && name[len - 1] == '.')
		len--;
	copy = xstrndup(name, len);
	for (i = 0; i < len; i++)
		if (copy[i] >= 'A' && copy[i] <= 'Z')
			copy[i] = (char)(copy[i] - 'A' + 'a');
	return copy;
}

/*
 * Names we refuse to send: c-ares would mangle or reject them, and a
 * client-supplied domain with a control character has no business on the
 * wire.  1 good, 0 bad (with *why_r).
 */
int
dns_name_valid(const char *name, const char **why_r)
{
	size_t len = strlen(name), label = 0, i;

	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0) {
		*why_r = "empty name";
		return 0;
	}
	if (len > DNS_NAME_MAX) {
		*why_r = "name longer than 253 octets";
		return 0;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == '.') {
			if (label == 0) {
				*why_r = "empty label";
				return 0;
			}
			label = 0;
			continue;
		}
		if (c <= ' ' || c == 0x7f || c == '\\') {
			*why_r = "invalid character in name";
			return 0;
		}
		if (++label > DNS_LABEL_MAX) {
			*why_r = "label longer than 63 octets";
			return 0;
		}
	}
	return 1;
}

/* ---- turning replies into answers ------------------------------------- */

static uint32_t
random_below(uint32_t bound)
{
	return bound <= 1 ? 0 : arc4random_uniform(bound);
}

static int
mx_compare(const void *a, const void *b)
{
	const struct dns_mx *x = a, *y = b;

	return (x->preference > y->preference) - (x->preference < y->preference);
}

/*
 * Sort by preference; equal preferences in random order (RFC 5321 5.1:
 * "the SMTP client SHOULD randomize them to spread the load").  qsort is
 * not stable, so shuffle first and then order each run of equals by a
 * random key drawn per record.
 */
static void
mx_sort(struct dns_mx *mx, size_t count)
{
	size_t i, start, end;

	qsort(mx, count, sizeof(*mx), mx_compare);
	for (start = 0; start < count; start = end) {
		for (end = start + 1; end < count &&
		    mx[end].preference == mx[start].preference; end++)
			;
		for (i = end - 1; i > start; i--) {
			size_t j = start + random_below((uint32_t)(i - start + 1));
			struct dns_mx swap = mx[i];

			mx[i] = mx[j];
			mx[j] = swap;
		}
	}
}

void
dns_parse_mx(struct dns_answer *answer, const unsigned char *abuf, int alen)
{
	struct ares_mx_reply *replies = NULL, *r;
	size_t count = 0, null_mx = 0;
	int rc;

	rc = ares_parse_mx_reply(abuf, alen, &replies);
	if (rc == ARES_ENODATA) {
		dns_answer_fail(answer, DNS_NODATA, "no MX record");
		return;
	}
	if (rc != ARES_SUCCESS) {
		dns_answer_fail(answer, DNS_TEMPFAIL, ares_strerror(rc));
		return;
	}
	answer->mx = xcalloc(DNS_MAX_RECORDS, sizeof(*answer->mx));
	for (r = replies; r != NULL; r = r->next) {
		if (r->host == NULL || r->host[0] == '\0' ||
		    strcmp(r->host, ".") == 0) {
			null_mx++;
			continue;
		}
		if (count == DNS_MAX_RECORDS) {
			log_warn("dns: %s: more than %d MX records, rest "
			    "ignored", answer->name, DNS_MAX_RECORDS);
			break;
		}
		answer->mx[count].host = dns_host_copy(r->host);
		answer->mx[count].preference = r->priority;
		count++;
	}
	ares_free_data(replies);
	answer->mx_count = count;
	if (count == 0) {
		free(answer->mx);
		answer->mx = NULL;
		if (null_mx > 0)
			dns_answer_fail(answer, DNS_NULL_MX,
			    "null MX: domain accepts no mail (RFC 7505)");
		else
			dns_answer_fail(answer, DNS_NODATA, "no MX record");
		return;
	}
	/* RFC 7505 3: a null MX must stand alone; with others, ignore it. */
	if (null_mx > 0)
		log_warn("dns: %s: null MX next to other MX records, ignored",
		    answer->name);
	mx_sort(answer->mx, count);
	answer->status = DNS_FOUND;
}

void
dns_parse_addrs(struct dns_answer *answer, const unsigned char *abuf, int alen)
{
	int naddr = DNS_MAX_RECORDS, rc, i;
	struct hostent *host = NULL;

	answer->addrs = xcalloc(DNS_MAX_RECORDS, sizeof(*answer->addrs));
	if (answer->type == DNS_TYPE_A) {
		struct ares_addrttl ttls[DNS_MAX_RECORDS];

		rc = ares_parse_a_reply(abuf, alen, &host, ttls, &naddr);
		for (i = 0; rc == ARES_SUCCESS && i < naddr; i++) {
			struct dns_addr *a = &answer->addrs[i];

			a->family = AF_INET;
			a->u.v4 = ttls[i].ipaddr;
			inet_ntop(AF_INET, &a->u.v4, a->text, sizeof(a->text));
		}
	} else {
		struct ares_addr6ttl ttls[DNS_MAX_RECORDS];

		rc = ares_parse_aaaa_reply(abuf, alen, &host, ttls, &naddr);
		for (i = 0; rc == ARES_SUCCESS && i < naddr; i++) {
			struct dns_addr *a = &answer->addrs[i];

			a->family = AF_INET6;
			memcpy(&a->u.v6, &ttls[i].ip6addr, sizeof(a->u.v6));
			inet_ntop(AF_INET6, &a->u.v6, a->text, sizeof(a->text));
		}
	}
	/* c-ares follows CNAMEs: h_name is the last name of the chain. */
	if (host != NULL) {
		if (rc == ARES_SUCCESS && host->h_name != NULL) {
			char *canon = dns_host_copy(host->h_name);

			if (strcmp(canon, answer->name) != 0)
				answer->canonical = canon;
			else
				free(canon);
		}
		ares_free_hostent(host);
	}
	if (rc == ARES_SUCCESS && naddr > 0) {
		answer->addr_count = (size_t)naddr;
		answer->status = DNS_FOUND;
		return;
	}
	free(answer->addrs);
	answer->addrs = NULL;
	if (rc == ARES_SUCCESS || rc == ARES_ENODATA)
		dns_answer_fail(answer, DNS_NODATA, "no address record");
	else
		dns_answer_fail(answer, DNS_TEMPFAIL, ares_strerror(rc));
}

void
dns_parse_txt(struct dns_answer *answer, const unsigned char *abuf, int alen)
{
	struct ares_txt_ext *replies = NULL, *r;
	struct buf *joined = NULL;
	size_t count = 0;
	int rc, truncated = 0;

	rc = ares_parse_txt_reply_ext(abuf, alen, &replies);
	if (rc == ARES_ENODATA) {
		dns_answer_fail(answer, DNS_NODATA, "no TXT record");
		return;
	}
	if (rc != ARES_SUCCESS) {
		dns_answer_fail(answer, DNS_TEMPFAIL, ares_strerror(rc));
		return;
	}
	answer->strings = xcalloc(DNS_MAX_RECORDS, sizeof(*answer->strings));
	for (r = replies; r != NULL; r = r->next) {
		if (r->record_start) {
			if (count == DNS_MAX_RECORDS) {
				log_warn("dns: %s: more than %d TXT records, "
				    "rest ignored", answer->name,
				    DNS_MAX_RECORDS);
				break;
			}
			joined = buf_new(DNS_MAX_TXT);
			answer->strings[count++] = NULL;
		}
		if (joined == NULL)
			continue;
		/* A record longer than the cap is cut, and we say so. */
		if (buf_append(joined, r->txt, r->length) < 0)
			truncated = 1;
		free(answer->strings[count - 1]);
		answer->strings[count - 1] = xmemdup(buf_data(joined),
		    buf_len(joined) + 1);
		if (r->next == NULL || r->next->record_start)
			buf_free(&joined);
	}
	buf_free(&joined);
	ares_free_data(replies);
	if (truncated)
		log_warn("dns: %s: TXT record longer than %d octets, cut",
		    answer->name, DNS_MAX_TXT);
	answer->string_count = count;
	if (count == 0) {
		free(answer->strings);
		answer->strings = NULL;
		dns_answer_fail(answer, DNS_NODATA, "no TXT record");
		return;
	}
	answer->status = DNS_FOUND;
}

void
dns_parse_ptr(struct dns_answer *answer, const unsigned char *abuf, int alen)
{
	struct hostent *host = NULL;
	unsigned char dummy[16] = { 0 };
	size_t count = 0, i;
	int rc;

	/*
	 * c-ares copies the address into the hostent only; the names come
	 * from the answer section, every PTR record among h_aliases.
	 */
	rc = ares_parse_ptr_reply(abuf, alen, dummy, 4, AF_INET, &host);
	if (rc == ARES_ENODATA) {
		dns_answer_fail(answer, DNS_NODATA, "no PTR record");
		return;
	}
	if (rc != ARES_SUCCESS) {
		dns_answer_fail(answer, DNS_TEMPFAIL, ares_strerror(rc));
		return;
	}
	answer->strings = xcalloc(DNS_MAX_RECORDS + 1,
	    sizeof(*answer->strings));
	for (i = 0; host->h_aliases != NULL && host->h_aliases[i] != NULL &&
	    count < DNS_MAX_RECORDS; i++)
		answer->strings[count++] = dns_host_copy(host->h_aliases[i]);
	if (count == 0 && host->h_name != NULL)
		answer->strings[count++] = dns_host_copy(host->h_name);
	ares_free_hostent(host);
	answer->string_count = count;
	if (count == 0) {
		free(answer->strings);
		answer->strings = NULL;
		dns_answer_fail(answer, DNS_NODATA, "no PTR record");
		return;
	}
	answer->status = DNS_FOUND;
}


/* Skip a (compressed) name at *pos; 0 ok, -1 malformed. */
static int
skip_name(const unsigned char *abuf, int alen, int *pos)
{
	char *name = NULL;
	long len = 0;

	if (ares_expand_name(abuf + *pos, abuf, alen, &name, &len) !=
	    ARES_SUCCESS)
		return -1;
	ares_free_string(name);
	*pos += (int)len;
	return *pos <= alen ? 0 : -1;
}

/*
 * c-ares 1.18 has no TLSA parser: walk the message (RFC 1035 4.1) and
 * keep the TLSA records of the answer section (after any CNAMEs).
 */
void
dns_parse_tlsa(struct dns_answer *answer, const unsigned char *abuf,
	int alen)
{
	int pos = 12, qd, an, i;
	size_t count = 0;

	if (alen < 12) {
		dns_answer_fail(answer, DNS_TEMPFAIL, "short reply");
		return;
	}
	qd = (abuf[4] << 8) | abuf[5];
	an = (abuf[6] << 8) | abuf[7];
	for (i = 0; i < qd; i++) {
		if (skip_name(abuf, alen, &pos) < 0 || pos + 4 > alen)
			goto bad;
		pos += 4;
	}
	answer->tlsa = xcalloc(DNS_MAX_RECORDS, sizeof(*answer->tlsa));
	for (i = 0; i < an; i++) {
		unsigned int type, rdlen;

		if (skip_name(abuf, alen, &pos) < 0 || pos + 10 > alen)
			goto bad;
		type = (unsigned int)(abuf[pos] << 8 | abuf[pos + 1]);
		rdlen = (unsigned int)(abuf[pos + 8] << 8 | abuf[pos + 9]);
		pos += 10;
		if ((unsigned int)(alen - pos) < rdlen)
			goto bad;
		if (type == 52 && rdlen >= 3) {
			struct dns_tlsa *t;

			if (count == DNS_MAX_RECORDS) {
				log_warn("dns: %s: more than %d TLSA records, "
				    "rest ignored", answer->name,
				    DNS_MAX_RECORDS);
				break;
			}
			t = &answer->tlsa[count++];
			t->usage = abuf[pos];
			t->selector = abuf[pos + 1];
			t->mtype = abuf[pos + 2];
			t->len = rdlen - 3;
			/* xmemdup adds the NUL: copy exactly the rdata. */
			t->data = (unsigned char *)xmemdup(abuf + pos + 3, t->len);
		}
		pos += (int)rdlen;
	}
	answer->tlsa_count = count;
	if (count == 0) {
		free(answer->tlsa);
		answer->tlsa = NULL;
		dns_answer_fail(answer, DNS_NODATA, "no TLSA record");
		return;
	}
	answer->status = DNS_FOUND;
	return;
bad:
	for (i = 0; (size_t)i < count; i++)
		free(answer->tlsa[i].data);
	free(answer->tlsa);
	answer->tlsa = NULL;
	dns_answer_fail(answer, DNS_TEMPFAIL, "malformed reply");
}

/*
 * How long the reply may be kept (RFC 2181 8, RFC 2308 5): the smallest
 * TTL of the answer section's records; with none, the negative TTL of
 * the authority section's SOA, the smaller of its own TTL and its
 * MINIMUM field.  -1 when the reply gives neither (not to be kept).
 */
long
dns_parse_ttl(const unsigned char *abuf, int alen)
{
	int pos = 12, qd, an, ns, i;
	long ttl = -1;

	if (abuf == NULL || alen < 12)
		return -1;
	qd = (abuf[4] << 8) | abuf[5];
	an = (abuf[6] << 8) | abuf[7];
	ns = (abuf[8] << 8) | abuf[9];
	for (i = 0; i < qd; i++) {
		if (skip_name(abuf, alen, &pos) < 0 || pos + 4 > alen)
			return -1;
		pos += 4;
	}
	for (i = 0; i < an + (an == 0 ? ns : 0); i++) {
		unsigned int type, rdlen;
		unsigned long rr_ttl;

		if (skip_name(abuf, alen, &pos) < 0 || pos + 10 > alen)
			return -1;
		type = (unsigned int)(abuf[pos] << 8 | abuf[pos + 1]);
		rr_ttl = (unsigned long)abuf[pos + 4] << 24 |
		    (unsigned long)abuf[pos + 5] << 16 |
		    (unsigned long)abuf[pos + 6] << 8 | abuf[pos + 7];
		rdlen = (unsigned int)(abuf[pos + 8] << 8 | abuf[pos + 9]);
		pos += 10;
		if ((unsigned int)(alen - pos) < rdlen)
			return -1;
		/* RFC 2181 8: a TTL with the top bit set is zero. */
		if (rr_ttl > 0x7fffffffUL)
			rr_ttl = 0;
		if (an == 0) {
			/* Authority: only the SOA, and its MINIMUM. */
			if (type == 6 && rdlen >= 20) {
				const unsigned char *m = abuf + pos + rdlen - 4;
				unsigned long min = (unsigned long)m[0] << 24 |
				    (unsigned long)m[1] << 16 |
				    (unsigned long)m[2] << 8 | m[3];

				if (min > 0x7fffffffUL)
					min = 0;
				if (min < rr_ttl)
					rr_ttl = min;
			} else {
				pos += (int)rdlen;
				continue;
			}
		}
		if (ttl < 0 || (long)rr_ttl < ttl)
			ttl = (long)rr_ttl;
		pos += (int)rdlen;
	}
	return ttl;
}

/*
 * smtpd_authres_dns: sender authentication's lookups, their cache and
 * their prefetch (see smtpd_authres_dns.h).  smtpd serves one session a
 * process, so waiting here blocks no other client.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns.h"
#include "log.h"
#include "smtpd_authres_dns.h"
#include "xalloc.h"

struct ar_cached {
	enum dns_type type;
	char *name;
	struct dns_answer *answer;
	long long expires_ms;
	unsigned int hash;
	int next;			/* the next in its bucket: slot + 1 */
};

/* Buckets of the cache's hash index: twice the slots, a power of two. */
#define AR_BUCKETS 1024

/* A prefetched lookup: on its way (answered == 0), or its answer. */
struct ar_prefetched {
	enum dns_type type;
	char *name;			/* NULL: a free slot */
	int answered;
	struct dns_answer *answer;	/* when not kept in the cache */
};

static struct dns *ar_dns;
/*
 * The cache: slots reused in turn (the oldest answer goes), found through
 * a hash of type and name (lower case) with a chain of slots a bucket.
 */
static struct ar_cached ar_cache[SMTPD_AUTHRES_DNS_CACHE];
static size_t ar_cache_next;
static int ar_bucket[AR_BUCKETS];	/* slot + 1; 0 (and next 0): none */
static struct ar_prefetched ar_prefetch[SMTPD_AUTHRES_DNS_PREFETCH];
/* The last answer not kept, lent to the caller until the next query. */
static struct dns_answer *ar_lent;

static int
ar_resolver(void)
{
	char *error = NULL;

	if (ar_dns != NULL)
		return 0;
	ar_dns = dns_open_params(&error);
	if (ar_dns != NULL)
		return 0;
	log_error("sender auth: resolver: %s", error);
	free(error);
	return -1;
}

/* FNV-1a of type and the name in lower case (names compare so). */
static unsigned int
ar_hash(enum dns_type type, const char *name)
{
	unsigned int h = 2166136261u ^ (unsigned int) type;

	for (; *name != '\0'; name++) {
		unsigned char c = (unsigned char) *name;

		h = (h ^ (c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c)) *
		    16777619u;
	}
	return h;
}

static struct ar_cached *
ar_cache_find(enum dns_type type, const char *name)
{
	long long now = dns_now_ms();
	unsigned int h = ar_hash(type, name);
	int i;

	for (i = ar_bucket[h % AR_BUCKETS]; i != 0; i = ar_cache[i - 1].next) {
		struct ar_cached *slot = &ar_cache[i - 1];

		if (slot->hash == h && slot->type == type &&
		    slot->expires_ms > now && strcasecmp(slot->name, name) == 0)
			return slot;
	}
	return NULL;
}

/* Take slot (in use) out of its bucket's chain. */
static void
ar_cache_unlink(int slot)
{
	int *link = &ar_bucket[ar_cache[slot].hash % AR_BUCKETS];

	while (*link != slot + 1)
		link = &ar_cache[*link - 1].next;
	*link = ar_cache[slot].next;
}

/* Keep answer for its TTL: 1 kept (the cache owns it), 0 not to be kept. */
static int
ar_cache_put(enum dns_type type, const char *name, struct dns_answer *answer)
{
	struct ar_cached *slot;
	long ttl = answer->ttl;

	if (answer->status == DNS_TEMPFAIL || ttl <= 0)
		return 0;
	if (ttl > SMTPD_AUTHRES_DNS_TTL_MAX)
		ttl = SMTPD_AUTHRES_DNS_TTL_MAX;
	slot = &ar_cache[ar_cache_next];
	if (slot->name != NULL)
		ar_cache_unlink((int) ar_cache_next);
	free(slot->name);
	dns_answer_free(&slot->answer);
	slot->type = type;
	slot->name = xstrdup(name);
	slot->answer = answer;
	slot->expires_ms = dns_now_ms() + (long long)ttl * 1000;
	slot->hash = ar_hash(type, name);
	slot->next = ar_bucket[slot->hash % AR_BUCKETS];
	ar_bucket[slot->hash % AR_BUCKETS] = (int) ar_cache_next + 1;
	ar_cache_next = (ar_cache_next + 1) % SMTPD_AUTHRES_DNS_CACHE;
	return 1;
}

static struct ar_prefetched *
ar_prefetch_find(enum dns_type type, const char *name)
{
	size_t i;

	for (i = 0; i < SMTPD_AUTHRES_DNS_PREFETCH; i++)
		if (ar_prefetch[i].name != NULL &&
		    ar_prefetch[i].type == type &&
		    strcasecmp(ar_prefetch[i].name, name) == 0)
			return &ar_prefetch[i];
	return NULL;
}

static void
ar_prefetch_drop(struct ar_prefetched *p)
{
	free(p->name);
	dns_answer_free(&p->answer);
	memset(p, 0, sizeof(*p));
}

static void
ar_prefetch_done(struct dns_answer *answer, void *context)
{
	struct ar_prefetched *p = context;

	p->answered = 1;
	if (!ar_cache_put(p->type, p->name, answer))
		p->answer = answer;
}

void
smtpd_authres_dns_prefetch(enum dns_type type, const char *name)
{
	size_t i;

	if (ar_cache_find(type, name) != NULL ||
	    ar_prefetch_find(type, name) != NULL || ar_resolver() < 0)
		return;
	for (i = 0; i < SMTPD_AUTHRES_DNS_PREFETCH; i++) {
		struct ar_prefetched *p = &ar_prefetch[i];

		if (p->name != NULL)
			continue;
		p->type = type;
		p->name = xstrdup(name);
		dns_query(ar_dns, type, name, ar_prefetch_done, p);
		return;
	}
}

struct ar_wait {
	struct dns_answer *answer;
};

static void
ar_wait_done(struct dns_answer *answer, void *context)
{
	struct ar_wait *wait = context;

	wait->answer = answer;
}

enum dns_status
smtpd_authres_dns_query(enum dns_type type, const char *name,
	long long deadline_ms, struct dns_answer **answer_r)
{
	struct ar_wait wait = { NULL };
	struct ar_prefetched *p;
	struct ar_cached *slot;

	*answer_r = NULL;
	dns_answer_free(&ar_lent);
	p = ar_prefetch_find(type, name);
	if (p != NULL && !p->answered && dns_now_ms() < deadline_ms)
		/* Every lookup on its way ends here: answered or timed out. */
		(void) dns_wait(ar_dns, deadline_ms);
	if (p != NULL && !p->answered)
		return DNS_TEMPFAIL;
	if (p != NULL) {
		ar_lent = p->answer;
		p->answer = NULL;
		ar_prefetch_drop(p);
		if (ar_lent != NULL) {
			*answer_r = ar_lent;
			return ar_lent->status;
		}
	}
	slot = ar_cache_find(type, name);
	if (slot != NULL) {
		*answer_r = slot->answer;
		return slot->answer->status;
	}
	if (ar_resolver() < 0 || dns_now_ms() >= deadline_ms)
		return DNS_TEMPFAIL;
	dns_query(ar_dns, type, name, ar_wait_done, &wait);
	(void) dns_wait(ar_dns, deadline_ms);
	if (wait.answer == NULL) {
		/* Not answered by the deadline (dns_wait says so anyway). */
		dns_cancel(ar_dns);
		return DNS_TEMPFAIL;
	}
	*answer_r = wait.answer;
	if (!ar_cache_put(type, name, wait.answer))
		ar_lent = wait.answer;
	return wait.answer->status;
}

void
smtpd_authres_dns_reset(void)
{
	size_t i;

	if (ar_dns != NULL && dns_pending(ar_dns) > 0)
		dns_cancel(ar_dns);
	for (i = 0; i < SMTPD_AUTHRES_DNS_PREFETCH; i++)
		if (ar_prefetch[i].name != NULL)
			ar_prefetch_drop(&ar_prefetch[i]);
	dns_answer_free(&ar_lent);
}

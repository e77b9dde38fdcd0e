/*
 * fuzz_dns: what common/net/dns.c makes of a DNS answer: c-ares'
 * ares_parse_*_reply() and our code that turns their result structures
 * into a dns_answer (null MX, record caps, TXT joining, PTR names).  The
 * first byte picks the query type; the rest is the raw answer, as c-ares
 * hands it to the query callback.  dns.c is included so its static
 * callback can be called without a resolver or a socket.
 */
#include "../../common/net/dns.c"

#include <stdint.h>

#include "fuzz.h"

static const enum dns_type types[] = {
	DNS_TYPE_A, DNS_TYPE_AAAA, DNS_TYPE_MX, DNS_TYPE_TXT, DNS_TYPE_PTR,
};

static void
check_answer(const struct dns_answer *a)
{
	size_t i;

	if (a->status == DNS_FOUND) {
		if (a->mx_count + a->addr_count + a->string_count == 0 ||
		    a->mx_count > DNS_MAX_RECORDS ||
		    a->addr_count > DNS_MAX_RECORDS ||
		    a->string_count > DNS_MAX_RECORDS || a->error != NULL)
			abort();
	} else if (a->error == NULL || a->mx != NULL || a->addrs != NULL ||
	    a->strings != NULL) {
		abort();
	}
	for (i = 0; i < a->mx_count; i++) {
		if (a->mx[i].host == NULL || a->mx[i].host[0] == '\0' ||
		    (i > 0 && a->mx[i].preference < a->mx[i - 1].preference))
			abort();
	}
	for (i = 0; i < a->string_count; i++) {
		if (a->strings[i] == NULL ||
		    strlen(a->strings[i]) > DNS_MAX_TXT)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns dns;
	struct dns_request *request;
	struct dns_answer *answer;

	fuzz_init();
	if (size < 1 || size > 65535)
		return 0;
	memset(&dns, 0, sizeof(dns));
	request = xcalloc(1, sizeof(*request));
	request->dns = &dns;
	request->type = types[data[0] % (sizeof(types) / sizeof(*types))];
	request->name = xstrdup("example.test");
	/* c-ares passes a const answer in a non-const pointer. */
	ares_answered(request, ARES_SUCCESS, 0, (unsigned char *) (uintptr_t)
	    (data + 1), (int) size - 1);
	if (dns.ready_head != request || request->answer == NULL)
		abort();
	answer = request->answer;
	check_answer(answer);
	dns_answer_free(&answer);
	free(request->name);
	free(request);
	return 0;
}

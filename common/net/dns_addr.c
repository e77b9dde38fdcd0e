/* dns_addr: addresses and reverse names, no resolver needed (see dns.h). */
#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

#include "dns.h"
#include "xalloc.h"

int
dns_addr_parse(const char *text, struct dns_addr *addr_r)
{
	memset(addr_r, 0, sizeof(*addr_r));
	if (inet_pton(AF_INET, text, &addr_r->u.v4) == 1)
		addr_r->family = AF_INET;
	else if (inet_pton(AF_INET6, text, &addr_r->u.v6) == 1)
		addr_r->family = AF_INET6;
	else
		return -1;
	inet_ntop(addr_r->family, &addr_r->u, addr_r->text,
	    sizeof(addr_r->text));
	return 0;
}

int
dns_addr_equal(const struct dns_addr *a, const struct dns_addr *b)
{
	if (a->family != b->family)
		return 0;
	if (a->family == AF_INET)
		return memcmp(&a->u.v4, &b->u.v4, sizeof(a->u.v4)) == 0;
	return memcmp(&a->u.v6, &b->u.v6, sizeof(a->u.v6)) == 0;
}

socklen_t
dns_addr_sockaddr(const struct dns_addr *addr, unsigned int port,
	struct sockaddr_storage *sa_r)
{
	memset(sa_r, 0, sizeof(*sa_r));
	if (addr->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)sa_r;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		sin->sin_addr = addr->u.v4;
		return sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)sa_r;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		sin6->sin6_addr = addr->u.v6;
		return sizeof(*sin6);
	}
}

char *
dns_reverse_name(const char *address, const char *suffix)
{
	static const char hex[] = "0123456789abcdef";
	struct dns_addr addr;
	/* 32 nibbles and dots, the longest prefix. */
	char prefix[64 + 1];
	size_t len = 0;
	int i;

	if (dns_addr_parse(address, &addr) < 0)
		return NULL;
	if (addr.family == AF_INET) {
		const unsigned char *o = (const unsigned char *)&addr.u.v4;

		return xasprintf("%u.%u.%u.%u.%s", o[3], o[2], o[1], o[0],
		    suffix != NULL ? suffix : "in-addr.arpa");
	}
	for (i = 15; i >= 0; i--) {
		unsigned char octet = addr.u.v6.s6_addr[i];

		prefix[len++] = hex[octet & 0x0f];
		prefix[len++] = '.';
		prefix[len++] = hex[octet >> 4];
		prefix[len++] = '.';
	}
	prefix[len - 1] = '\0';
	return xasprintf("%s.%s", prefix, suffix != NULL ? suffix :
	    "ip6.arpa");
}

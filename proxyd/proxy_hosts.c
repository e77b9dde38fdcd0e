/* proxy_hosts: splitting a mail host value (proxy_hosts.h); pure. */
#include "config.h"

#include <string.h>

#include "proxy_hosts.h"

int
proxy_host_next(const char *hosts, size_t *pos, char *addr, size_t size)
{
	const char *p = hosts + *pos, *end;
	size_t len;

	while (*p == ',' || *p == ' ' || *p == '\t')
		p++;
	if (*p == '\0') {
		*pos = (size_t) (p - hosts);
		return 0;
	}
	end = p + strcspn(p, ", \t");
	*pos = (size_t) (end - hosts);
	if (*p == '[' && end - p >= 2 && end[-1] == ']') {
		p++;
		end--;
	}
	len = (size_t) (end - p);
	if (len >= size)
		len = 0;	/* too long for an address: refused below */
	memcpy(addr, p, len);
	addr[len] = '\0';
	return 1;
}

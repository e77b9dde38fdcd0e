/* netmatch: match numeric client addresses against address/prefix lists. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "netmatch.h"
#include "params.h"
#include "xalloc.h"

struct netmatch_net {
	int family;			/* AF_INET or AF_INET6 */
	unsigned char addr[16];
	int prefix;			/* bits */
};

struct netmatch {
	struct netmatch_net *nets;
	int count;
};

/* Parse a numeric address (v6 may be bracketed); its length in bytes. */
static int
netmatch_parse_addr(const char *text, size_t len, unsigned char *addr,
	int *family_r)
{
	char copy[64];

	if (len >= 2 && text[0] == '[' && text[len - 1] == ']') {
		text++;
		len -= 2;
	}
	if (len == 0 || len >= sizeof(copy))
		return -1;
	memcpy(copy, text, len);
	copy[len] = '\0';
	if (inet_pton(AF_INET, copy, addr) == 1) {
		*family_r = AF_INET;
		return 4;
	}
	if (strchr(copy, ':') != NULL && inet_pton(AF_INET6, copy, addr) == 1) {
		*family_r = AF_INET6;
		/* ::ffff:a.b.c.d is an IPv4 client on a dual-stack socket. */
		if (memcmp(addr, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0) {
			memmove(addr, addr + 12, 4);
			*family_r = AF_INET;
			return 4;
		}
		return 16;
	}
	return -1;
}

static int
netmatch_prefix_equal(const unsigned char *a, const unsigned char *b,
	int prefix)
{
	int whole = prefix / 8, rest = prefix % 8;
	unsigned char mask;

	if (memcmp(a, b, (size_t) whole) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (unsigned char) (0xff << (8 - rest));
	return (a[whole] & mask) == (b[whole] & mask);
}

static int
netmatch_parse_net(const char *entry, struct netmatch_net *net)
{
	const char *slash = strchr(entry, '/');
	size_t len = slash != NULL ? (size_t) (slash - entry) : strlen(entry);
	int bytes, prefix, mapped;
	char *end;
	long n;

	if ((bytes = netmatch_parse_addr(entry, len, net->addr,
	    &net->family)) < 0)
		return -1;
	/* A mapped v4 entry (::ffff:a.b.c.d) writes a v6 prefix. */
	mapped = bytes == 4 && memchr(entry, ':', len) != NULL;
	prefix = bytes * 8;
	if (slash != NULL) {
		errno = 0;
		n = strtol(slash + 1, &end, 10);
		if (slash[1] < '0' || slash[1] > '9' || *end != '\0'
		    || errno != 0 || n < (mapped ? 96 : 0)
		    || n > (mapped ? 128 : prefix))
			return -1;
		prefix = (int) n - (mapped ? 96 : 0);
	}
	net->prefix = prefix;
	/* Host bits set past the prefix: a typo, not a network. */
	{
		unsigned char masked[16];
		int i;

		memcpy(masked, net->addr, 16);
		for (i = prefix; i < bytes * 8; i++)
			masked[i / 8] &= (unsigned char) ~(0x80 >> (i % 8));
		if (memcmp(masked, net->addr, (size_t) bytes) != 0)
			return -1;
	}
	return 0;
}

struct netmatch *
netmatch_new(char **list, int count, char **error_r)
{
	struct netmatch *nm;
	int i;

	if (count > NETMATCH_MAX_ENTRIES) {
		*error_r = xasprintf("more than %d networks",
		    NETMATCH_MAX_ENTRIES);
		return NULL;
	}
	nm = xcalloc(1, sizeof(*nm));
	nm->nets = xcalloc(count > 0 ? (size_t) count : 1,
	    sizeof(*nm->nets));
	for (i = 0; i < count; i++) {
		if (netmatch_parse_net(list[i], &nm->nets[i]) < 0) {
			*error_r = xasprintf("\"%s\" is not an address or "
			    "address/prefix network", list[i]);
			netmatch_free(&nm);
			return NULL;
		}
	}
	nm->count = count;
	return nm;
}

void
netmatch_free(struct netmatch **nmp)
{
	if (*nmp == NULL)
		return;
	free((*nmp)->nets);
	free(*nmp);
	*nmp = NULL;
}

int
netmatch_match(const struct netmatch *nm, const char *addr)
{
	unsigned char bytes[16];
	int family, i;

	if (netmatch_parse_addr(addr, strlen(addr), bytes, &family) < 0)
		return 0;
	for (i = 0; i < nm->count; i++)
		if (nm->nets[i].family == family && netmatch_prefix_equal(
		    nm->nets[i].addr, bytes, nm->nets[i].prefix))
			return 1;
	return 0;
}

struct netmatch *
netmatch_from_param(const char *name, const char *value, char **error_r)
{
	struct netmatch *nm;
	char **list, *error = NULL;
	int count;

	list = params_list_split(value, &count);
	nm = netmatch_new(list, count, &error);
	params_list_free(list);
	if (nm == NULL) {
		*error_r = xasprintf("%s: %s", name, error);
		free(error);
	}
	return nm;
}

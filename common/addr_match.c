/* addr_match: numeric addresses against a list of networks. */
#include "config.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "addr_match.h"
#include "params.h"
#include "xalloc.h"

struct addr_net {
	unsigned char addr[16];		/* IPv4 as ::ffff:a.b.c.d */
	int prefix;			/* bits of addr that must match */
};

struct addr_match {
	struct addr_net *nets;
	size_t count;
};

static const unsigned char v4_mapped[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff,
};

/* Text to 16 bytes (IPv4 mapped); *v4_r set for IPv4.  -1 when neither. */
static int
parse_addr(const char *text, unsigned char out[16], int *v4_r)
{
	*v4_r = 0;
	if (inet_pton(AF_INET, text, out + 12) == 1) {
		memcpy(out, v4_mapped, sizeof(v4_mapped));
		*v4_r = 1;
		return 0;
	}
	return inet_pton(AF_INET6, text, out) == 1 ? 0 : -1;
}

/* One entry: ADDR, ADDR/N, [ADDR] or [ADDR]/N. */
static int
parse_net(const char *entry, struct addr_net *net)
{
	char text[INET6_ADDRSTRLEN + 2];
	const char *slash = strchr(entry, '/'), *end;
	size_t len = slash != NULL ? (size_t) (slash - entry) : strlen(entry);
	char *stop;
	long bits;
	int v4;

	if (len >= 2 && entry[0] == '[' && entry[len - 1] == ']') {
		entry++;
		len -= 2;
	}
	if (len == 0 || len >= sizeof(text))
		return -1;
	memcpy(text, entry, len);
	text[len] = '\0';
	if (parse_addr(text, net->addr, &v4) < 0)
		return -1;
	net->prefix = 128;
	if (slash != NULL) {
		end = slash + 1;
		if (*end < '0' || *end > '9')
			return -1;
		bits = strtol(end, &stop, 10);
		if (*stop != '\0' || bits < 0 || bits > (v4 ? 32 : 128))
			return -1;
		net->prefix = (int) bits + (v4 ? 96 : 0);
	}
	return 0;
}

struct addr_match *
addr_match_new(const char *list, char **error_r)
{
	struct addr_match *m = xcalloc(1, sizeof(*m));
	char **items;
	int count, i;

	*error_r = NULL;
	items = params_list_split(list, &count);
	m->nets = xcalloc((size_t) count + 1, sizeof(*m->nets));
	for (i = 0; i < count; i++) {
		if (parse_net(items[i], &m->nets[m->count]) < 0) {
			*error_r = xasprintf("not an address or network: %s",
			    items[i]);
			params_list_free(items);
			addr_match_free(&m);
			return NULL;
		}
		m->count++;
	}
	params_list_free(items);
	return m;
}

void
addr_match_free(struct addr_match **mp)
{
	if (*mp == NULL)
		return;
	free((*mp)->nets);
	free(*mp);
	*mp = NULL;
}

static int
prefix_equal(const unsigned char *a, const unsigned char *b, int bits)
{
	int bytes = bits / 8, rest = bits % 8;
	unsigned char mask;

	if (memcmp(a, b, (size_t) bytes) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (unsigned char) (0xff << (8 - rest));
	return (a[bytes] & mask) == (b[bytes] & mask);
}

int
addr_match(const struct addr_match *m, const char *addr)
{
	unsigned char bin[16];
	size_t i;
	int v4;

	if (m == NULL || parse_addr(addr, bin, &v4) < 0)
		return 0;
	for (i = 0; i < m->count; i++)
		if (prefix_equal(bin, m->nets[i].addr, m->nets[i].prefix))
			return 1;
	return 0;
}

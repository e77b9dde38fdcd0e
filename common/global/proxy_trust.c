/* proxy_trust: believing a proxy about the real client (proxy_trust.h). */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "haproxy.h"
#include "log.h"
#include "mail_params.h"
#include "netmatch.h"
#include "params.h"
#include "proxy_trust.h"
#include "service.h"
#include "stream.h"

static struct netmatch *proxy_trusted;

int
proxy_trust_init(char **error_r)
{
	char **list;
	int count;

	netmatch_free(&proxy_trusted);
	list = params_list_split(var_proxy_trusted_networks, &count);
	proxy_trusted = netmatch_new(list, count, error_r);
	params_list_free(list);
	return proxy_trusted == NULL ? -1 : 0;
}

int
proxy_trust_peer(const struct service_peer *peer)
{
	if (proxy_trusted == NULL)
		log_panic("proxy_trust_peer before proxy_trust_init");
	return netmatch_match(proxy_trusted, peer->client_addr);
}

int
proxy_trust_accept(struct stream *s, struct service_peer *peer,
	int timeout_ms)
{
	struct haproxy_info info;
	const char *error = NULL;

	if (!proxy_trust_peer(peer)) {
		log_warn("proxy: refused connection from %s[%d] to service %s: "
		    "not in proxy_trusted_networks", peer->client_addr,
		    peer->client_port, peer->service);
		return -1;
	}
	if (haproxy_read_stream(s, timeout_ms, &info, &error) < 0) {
		log_warn("proxy: dropped connection from %s[%d] to service "
		    "%s: %s", peer->client_addr, peer->client_port,
		    peer->service, error);
		return -1;
	}
	proxy_trust_believe(peer, &info);
	haproxy_info_clear(&info);
	return 0;
}

void
proxy_trust_believe(struct service_peer *peer,
	const struct haproxy_info *info)
{
	if (info->local) {
		log_info("proxy: LOCAL connection from %s[%d]",
		    peer->client_addr, peer->client_port);
	} else {
		struct service_peer proxy = *peer;

		service_peer_set(peer, (const struct sockaddr *) &info->src,
		    info->src_len, (const struct sockaddr *) &info->dst,
		    info->dst_len);
		log_info("proxy: connection from %s[%d] via %s[%d]",
		    peer->client_addr, peer->client_port, proxy.client_addr,
		    proxy.client_port);
	}
}

int
proxy_trust_set_addr(struct service_peer *peer, const char *text)
{
	struct in6_addr a6;
	struct in_addr a4;
	char canonical[INET6_ADDRSTRLEN];

	if (strncasecmp(text, "IPv6:", 5) == 0) {
		if (inet_pton(AF_INET6, text + 5, &a6) != 1)
			return -1;
	} else if (inet_pton(AF_INET, text, &a4) == 1) {
		if (inet_ntop(AF_INET, &a4, canonical, sizeof(canonical))
		    == NULL)
			return -1;
		goto set;
	} else if (inet_pton(AF_INET6, text, &a6) != 1)
		return -1;
	if (inet_ntop(AF_INET6, &a6, canonical, sizeof(canonical)) == NULL)
		return -1;
set:
	if (strlen(canonical) >= sizeof(peer->client_addr))
		return -1;
	memcpy(peer->client_addr, canonical, strlen(canonical) + 1);
	return 0;
}

int
proxy_trust_set_port(struct service_peer *peer, const char *text)
{
	size_t len = strlen(text), i;
	long value = 0;

	if (len == 0 || len > 5)
		return -1;
	for (i = 0; i < len; i++) {
		if (text[i] < '0' || text[i] > '9')
			return -1;
		value = value * 10 + (text[i] - '0');
	}
	if (value > 65535)
		return -1;
	peer->client_port = (int) value;
	return 0;
}

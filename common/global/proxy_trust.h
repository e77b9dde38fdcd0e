/*
 * proxy_trust: who may tell smtpd, popd and imapd the real client behind
 * a proxy (proxyd, a load balancer), and the shared steps of believing it.
 *
 * Only peers in proxy_trusted_networks are believed.  On a listener with
 * proxy_protocol = yes every connection must start with a PROXY protocol
 * header (haproxy.h) from such a peer; the header's source then is the
 * client for everything that follows (logs, anvil limits, Received:,
 * failure counts).  The protocols' own conventions (smtpd XCLIENT, popd
 * XCLIENT, imapd ID x-originating-ip) set the address and port with
 * proxy_trust_set_addr() and proxy_trust_set_port(), which validate
 * the client's text before it reaches a log or a header.
 */
#ifndef ISPMAIL_PROXY_TRUST_H
#define ISPMAIL_PROXY_TRUST_H

struct haproxy_info;
struct service_peer;
struct stream;

/*
 * Parse proxy_trusted_networks (pre_init, before serving): 0 ok; -1 with
 * *error_r (caller frees).
 */
int proxy_trust_init(char **error_r);

/* 1 when peer's client address is in proxy_trusted_networks. */
int proxy_trust_peer(const struct service_peer *peer);

/*
 * For a listener with proxy_protocol = yes, before anything else is read
 * or written: refuse a peer outside proxy_trusted_networks, read its
 * PROXY header within timeout_ms and make peer name the client (a LOCAL
 * header keeps the connection's own addresses).  0 go on; -1 drop the
 * connection without a word (the reason is logged).
 */
int proxy_trust_accept(struct stream *s, struct service_peer *peer,
	int timeout_ms);

/*
 * For an event loop that read the header itself (proxyd): make peer
 * name the client info names (a LOCAL header keeps peer), logged as
 * proxy_trust_accept() logs it.
 */
void proxy_trust_believe(struct service_peer *peer,
	const struct haproxy_info *info);

/*
 * Set peer's client address from a proxy's text: IPv4, or IPv6 with or
 * without an "IPv6:" prefix (case-insensitive), stored in its canonical
 * form.  0 ok; -1 not an address (peer unchanged).
 */
int proxy_trust_set_addr(struct service_peer *peer, const char *text);

/* Set peer's client port from decimal text 0..65535: 0 ok, -1 not one. */
int proxy_trust_set_port(struct service_peer *peer, const char *text);

#endif

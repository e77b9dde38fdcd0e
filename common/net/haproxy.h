/*
 * haproxy: the PROXY protocol (HAProxy's proxy-protocol.txt) that tells a
 * server the real client behind a proxy or load balancer.
 *
 * Output is always version 2 (binary), command PROXY, TCP over IPv4 or
 * IPv6, with an optional login TLV (type HAPROXY_TLV_LOGIN, UTF-8).  Input
 * is version 2 or version 1 (text).  The parser works on bytes already read
 * (the event loop of proxyd); haproxy_read_stream() reads exactly one
 * header from a fresh stream under a deadline for the one-session daemons,
 * never a byte past it (a TLS handshake may follow).  Limits: a v2 header
 * is at most HAPROXY_MAX_HEADER bytes (longer is malformed), a v1 line at
 * most HAPROXY_V1_MAX bytes.  Command LOCAL, family UNSPEC or UNIX, and v1
 * "UNKNOWN" set info->local: the receiver keeps the connection's own
 * addresses.  Unknown TLVs are skipped; a login TLV that is not printable
 * UTF-8 without controls makes the header malformed.
 */
#ifndef ISPMAIL_HAPROXY_H
#define ISPMAIL_HAPROXY_H

#include <stddef.h>
#include <sys/socket.h>

struct buf;
struct stream;

#define HAPROXY_MAX_HEADER 536
#define HAPROXY_V1_MAX 107
/* PP2_TYPE_MIN_CUSTOM: the login the proxy authenticated. */
#define HAPROXY_TLV_LOGIN 0xE0

/* A parsed header: a plain result record. */
struct haproxy_info {
	int local;		/* 1: use the connection's own addresses */
	struct sockaddr_storage src, dst;
	socklen_t src_len, dst_len;
	char *login;		/* the login TLV, or NULL; owned, see clear */
};

/*
 * Append a v2 PROXY header for src -> dst (both AF_INET or both AF_INET6)
 * to out, with a login TLV when login is not NULL.  0 ok; -1 when the
 * families differ or are not IP, the login is empty, too long or holds
 * control bytes, or out's cap would be passed (out unchanged).
 */
int haproxy_encode(struct buf *out, const struct sockaddr *src,
	const struct sockaddr *dst, const char *login);

/*
 * Parse a header at the start of data[0..len).  >0: bytes consumed and
 * info filled (clear it later); 0: a valid prefix, more bytes needed;
 * -1: malformed, *error_r a static text.  info is cleared first.
 */
int haproxy_parse(const unsigned char *data, size_t len,
	struct haproxy_info *info, const char **error_r);

/* Free info's login and zero it. */
void haproxy_info_clear(struct haproxy_info *info);

/*
 * Read exactly one header from s's descriptor (nothing may be buffered in
 * s yet) within timeout_ms, waiting through the stream waiter: 0 ok, info
 * filled; -1 malformed, EOF, timeout or error, *error_r a static text.
 */
int haproxy_read_stream(struct stream *s, int timeout_ms,
	struct haproxy_info *info, const char **error_r);

#endif

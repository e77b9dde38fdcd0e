/* haproxy: PROXY protocol v2 output, v2 and v1 input (proxy-protocol.txt). */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "haproxy.h"
#include "stream.h"
#include "xalloc.h"

static const unsigned char v2_signature[12] = {
	0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A
};
#define V2_FIXED 16
#define V2_VERSION 0x20
#define V2_CMD_LOCAL 0x00
#define V2_CMD_PROXY 0x01
#define V2_FAM_UNSPEC 0x00
#define V2_TCP4 0x11
#define V2_TCP6 0x21
#define V2_UNIX_STREAM 0x31
#define V2_ADDR4_LEN 12
#define V2_ADDR6_LEN 36
#define V2_ADDR_UNIX_LEN 216
#define V1_PREFIX "PROXY "
/* The shortest v1 line, "PROXY UNKNOWN\r\n". */
#define V1_MIN 15

void
haproxy_info_clear(struct haproxy_info *info)
{
	free(info->login);
	memset(info, 0, sizeof(*info));
}

/*
 * A login is text for logs and protocol lines: valid UTF-8, no controls,
 * no spaces, 1..255 bytes.
 */
static int
login_valid(const unsigned char *p, size_t len)
{
	size_t i = 0, more, k;
	uint32_t cp;

	if (len == 0 || len > 255)
		return 0;
	while (i < len) {
		unsigned char c = p[i];

		if (c < 0x80) {
			if (c <= 0x20 || c == 0x7f)
				return 0;
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			more = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			more = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			more = 3;
			cp = c & 0x07;
		} else
			return 0;
		if (len - i <= more)
			return 0;
		for (k = 1; k <= more; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		/* Overlong forms, surrogates, past U+10FFFF, C1 controls. */
		if ((more == 2 && cp < 0x800) || (more == 3 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff ||
		    (cp >= 0x80 && cp <= 0x9f))
			return 0;
		i += more + 1;
	}
	return 1;
}

static void
put16(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char) (v >> 8);
	p[1] = (unsigned char) v;
}

static unsigned
get16(const unsigned char *p)
{
	return ((unsigned) p[0] << 8) | p[1];
}

/* An IPv4-mapped IPv6 sockaddr as IPv4 in out; others copied. */
static void
unmap(const struct sockaddr *sa, struct sockaddr_storage *out)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *) sa;
	struct sockaddr_in *sin = (struct sockaddr_in *) out;

	memset(out, 0, sizeof(*out));
	if (sa->sa_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, &sin6->sin6_addr.s6_addr[12], 4);
		sin->sin_port = sin6->sin6_port;
	} else if (sa->sa_family == AF_INET)
		memcpy(out, sa, sizeof(struct sockaddr_in));
	else if (sa->sa_family == AF_INET6)
		memcpy(out, sa, sizeof(struct sockaddr_in6));
	else
		out->ss_family = sa->sa_family;
}

/* An IPv4 sockaddr in ss as an IPv4-mapped IPv6 one; others kept. */
static void
map6(struct sockaddr_storage *ss)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) ss;

	if (ss->ss_family != AF_INET)
		return;
	memcpy(&sin, ss, sizeof(sin));
	memset(ss, 0, sizeof(*ss));
	sin6->sin6_family = AF_INET6;
	sin6->sin6_addr.s6_addr[10] = 0xff;
	sin6->sin6_addr.s6_addr[11] = 0xff;
	memcpy(&sin6->sin6_addr.s6_addr[12], &sin.sin_addr, 4);
	sin6->sin6_port = sin.sin_port;
}

int
haproxy_encode(struct buf *out, const struct sockaddr *src,
	const struct sockaddr *dst, const char *login)
{
	unsigned char header[HAPROXY_MAX_HEADER];
	struct sockaddr_storage s, d;
	size_t addr_len, login_len = 0, total;
	unsigned char *p;

	unmap(src, &s);
	unmap(dst, &d);
	/*
	 * IPv4 only when both ends are IPv4 (or mapped): one IPv6 end keeps
	 * the other as a mapped IPv6 address, so a header parsed and said
	 * again is the same.
	 */
	if (s.ss_family == AF_INET6 || d.ss_family == AF_INET6) {
		map6(&s);
		map6(&d);
	}
	if (s.ss_family != d.ss_family)
		return -1;
	if (s.ss_family == AF_INET)
		addr_len = V2_ADDR4_LEN;
	else if (s.ss_family == AF_INET6)
		addr_len = V2_ADDR6_LEN;
	else
		return -1;
	if (login != NULL) {
		login_len = strlen(login);
		if (!login_valid((const unsigned char *) login, login_len))
			return -1;
	}
	total = V2_FIXED + addr_len + (login != NULL ? 3 + login_len : 0);
	if (total > sizeof(header))
		return -1;
	memcpy(header, v2_signature, sizeof(v2_signature));
	header[12] = V2_VERSION | V2_CMD_PROXY;
	put16(header + 14, (unsigned) (total - V2_FIXED));
	p = header + V2_FIXED;
	if (s.ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *) &s;
		const struct sockaddr_in *b = (const struct sockaddr_in *) &d;

		header[13] = V2_TCP4;
		memcpy(p, &a->sin_addr, 4);
		memcpy(p + 4, &b->sin_addr, 4);
		memcpy(p + 8, &a->sin_port, 2);
		memcpy(p + 10, &b->sin_port, 2);
	} else {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *) &s;
		const struct sockaddr_in6 *b = (const struct sockaddr_in6 *) &d;

		header[13] = V2_TCP6;
		memcpy(p, &a->sin6_addr, 16);
		memcpy(p + 16, &b->sin6_addr, 16);
		memcpy(p + 32, &a->sin6_port, 2);
		memcpy(p + 34, &b->sin6_port, 2);
	}
	p += addr_len;
	if (login != NULL) {
		p[0] = HAPROXY_TLV_LOGIN;
		put16(p + 1, (unsigned) login_len);
		memcpy(p + 3, login, login_len);
	}
	return buf_append(out, header, total);
}

/* The TLVs after the addresses: only the login is kept. */
static int
parse_tlvs(const unsigned char *p, size_t len, struct haproxy_info *info,
	const char **error_r)
{
	while (len > 0) {
		size_t value_len;

		if (len < 3) {
			*error_r = "truncated TLV";
			return -1;
		}
		value_len = get16(p + 1);
		if (value_len > len - 3) {
			*error_r = "TLV longer than the header";
			return -1;
		}
		if (p[0] == HAPROXY_TLV_LOGIN) {
			if (info->login != NULL) {
				*error_r = "duplicate login TLV";
				return -1;
			}
			if (!login_valid(p + 3, value_len)) {
				*error_r = "invalid login TLV";
				return -1;
			}
			info->login = xstrndup((const char *) p + 3,
			    value_len);
		}
		p += 3 + value_len;
		len -= 3 + value_len;
	}
	return 0;
}

static int
parse_v2(const unsigned char *data, size_t len, struct haproxy_info *info,
	const char **error_r)
{
	size_t body_len, addr_len;
	const unsigned char *p;

	if (len < V2_FIXED)
		return 0;
	if ((data[12] & 0xf0) != V2_VERSION) {
		*error_r = "unsupported PROXY protocol version";
		return -1;
	}
	if ((data[12] & 0x0f) != V2_CMD_LOCAL &&
	    (data[12] & 0x0f) != V2_CMD_PROXY) {
		*error_r = "unknown PROXY command";
		return -1;
	}
	body_len = get16(data + 14);
	if (body_len > HAPROXY_MAX_HEADER - V2_FIXED) {
		*error_r = "PROXY header too long";
		return -1;
	}
	if (len < V2_FIXED + body_len)
		return 0;
	p = data + V2_FIXED;
	/* LOCAL: health checks from the proxy itself; the body is ignored. */
	if ((data[12] & 0x0f) == V2_CMD_LOCAL) {
		info->local = 1;
		return (int) (V2_FIXED + body_len);
	}
	switch (data[13]) {
	case V2_FAM_UNSPEC:
		addr_len = 0;
		info->local = 1;
		break;
	case V2_TCP4: {
		struct sockaddr_in *s = (struct sockaddr_in *) &info->src;
		struct sockaddr_in *d = (struct sockaddr_in *) &info->dst;

		addr_len = V2_ADDR4_LEN;
		if (body_len < addr_len)
			break;
		s->sin_family = d->sin_family = AF_INET;
		memcpy(&s->sin_addr, p, 4);
		memcpy(&d->sin_addr, p + 4, 4);
		memcpy(&s->sin_port, p + 8, 2);
		memcpy(&d->sin_port, p + 10, 2);
		info->src_len = info->dst_len = sizeof(*s);
		break;
	}
	case V2_TCP6: {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *) &info->src;
		struct sockaddr_in6 *d = (struct sockaddr_in6 *) &info->dst;

		addr_len = V2_ADDR6_LEN;
		if (body_len < addr_len)
			break;
		s->sin6_family = d->sin6_family = AF_INET6;
		memcpy(&s->sin6_addr, p, 16);
		memcpy(&d->sin6_addr, p + 16, 16);
		memcpy(&s->sin6_port, p + 32, 2);
		memcpy(&d->sin6_port, p + 34, 2);
		info->src_len = info->dst_len = sizeof(*s);
		break;
	}
	case V2_UNIX_STREAM:
		addr_len = V2_ADDR_UNIX_LEN;
		info->local = 1;
		break;
	default:
		*error_r = "unsupported PROXY address family or transport";
		return -1;
	}
	if (body_len < addr_len) {
		*error_r = "PROXY addresses truncated";
		return -1;
	}
	if (parse_tlvs(p + addr_len, body_len - addr_len, info, error_r) < 0)
		return -1;
	return (int) (V2_FIXED + body_len);
}

/* A decimal port of 1-5 digits, at most 65535, into *port_r. */
static int
v1_port(const char *text, uint16_t *port_r)
{
	size_t n = strlen(text);
	unsigned long v = 0;
	size_t i;

	if (n == 0 || n > 5 || (n > 1 && text[0] == '0'))
		return -1;
	for (i = 0; i < n; i++) {
		if (text[i] < '0' || text[i] > '9')
			return -1;
		v = v * 10 + (unsigned long) (text[i] - '0');
	}
	if (v > 65535)
		return -1;
	*port_r = htons((uint16_t) v);
	return 0;
}

/* "TCP4 SRC DST SPORT DPORT" (line is a writable copy without CRLF). */
static int
v1_fields(char *line, struct haproxy_info *info)
{
	char *field[5];
	int family, i;
	uint16_t sport, dport;
	char *p = line;

	for (i = 0; i < 5; i++) {
		field[i] = p;
		p = strchr(p, ' ');
		if (i < 4) {
			if (p == NULL)
				return -1;
			*p++ = '\0';
		} else if (p != NULL)
			return -1;
	}
	if (strcmp(field[0], "TCP4") == 0)
		family = AF_INET;
	else if (strcmp(field[0], "TCP6") == 0)
		family = AF_INET6;
	else
		return -1;
	if (v1_port(field[3], &sport) < 0 || v1_port(field[4], &dport) < 0)
		return -1;
	if (family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *) &info->src;
		struct sockaddr_in *d = (struct sockaddr_in *) &info->dst;

		if (inet_pton(AF_INET, field[1], &s->sin_addr) != 1 ||
		    inet_pton(AF_INET, field[2], &d->sin_addr) != 1)
			return -1;
		s->sin_family = d->sin_family = AF_INET;
		s->sin_port = sport;
		d->sin_port = dport;
		info->src_len = info->dst_len = sizeof(*s);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *) &info->src;
		struct sockaddr_in6 *d = (struct sockaddr_in6 *) &info->dst;

		if (inet_pton(AF_INET6, field[1], &s->sin6_addr) != 1 ||
		    inet_pton(AF_INET6, field[2], &d->sin6_addr) != 1)
			return -1;
		s->sin6_family = d->sin6_family = AF_INET6;
		s->sin6_port = sport;
		d->sin6_port = dport;
		info->src_len = info->dst_len = sizeof(*s);
	}
	return 0;
}

static int
parse_v1(const unsigned char *data, size_t len, struct haproxy_info *info,
	const char **error_r)
{
	char line[HAPROXY_V1_MAX + 1];
	const unsigned char *lf;
	size_t scan = len < HAPROXY_V1_MAX ? len : HAPROXY_V1_MAX;
	size_t i, line_len;

	lf = memchr(data, '\n', scan);
	if (lf == NULL) {
		if (len >= HAPROXY_V1_MAX) {
			*error_r = "PROXY v1 line too long";
			return -1;
		}
		return 0;
	}
	line_len = (size_t) (lf - data) + 1;
	if (line_len < V1_MIN || data[line_len - 2] != '\r') {
		*error_r = "malformed PROXY v1 line";
		return -1;
	}
	for (i = 0; i < line_len - 2; i++) {
		if (data[i] < 0x20 || data[i] > 0x7e) {
			*error_r = "malformed PROXY v1 line";
			return -1;
		}
	}
	memcpy(line, data, line_len - 2);
	line[line_len - 2] = '\0';
	/* "UNKNOWN" may be followed by anything; the addresses are ours. */
	if (strcmp(line + 6, "UNKNOWN") == 0 ||
	    strncmp(line + 6, "UNKNOWN ", 8) == 0) {
		info->local = 1;
		return (int) line_len;
	}
	if (v1_fields(line + 6, info) < 0) {
		memset(info, 0, sizeof(*info));
		*error_r = "malformed PROXY v1 line";
		return -1;
	}
	return (int) line_len;
}

int
haproxy_parse(const unsigned char *data, size_t len,
	struct haproxy_info *info, const char **error_r)
{
	size_t prefix;
	int rc;

	memset(info, 0, sizeof(*info));
	*error_r = NULL;
	if (len == 0)
		return 0;
	/* Reject garbage as soon as it cannot be either signature. */
	if (data[0] == v2_signature[0]) {
		prefix = len < sizeof(v2_signature) ? len :
		    sizeof(v2_signature);
		if (memcmp(data, v2_signature, prefix) != 0) {
			*error_r = "not a PROXY protocol header";
			return -1;
		}
		if (len < sizeof(v2_signature))
			return 0;
		rc = parse_v2(data, len, info, error_r);
	} else {
		prefix = len < strlen(V1_PREFIX) ? len : strlen(V1_PREFIX);
		if (memcmp(data, V1_PREFIX, prefix) != 0) {
			*error_r = "not a PROXY protocol header";
			return -1;
		}
		rc = parse_v1(data, len, info, error_r);
	}
	if (rc < 0)
		haproxy_info_clear(info);
	return rc;
}

/* How many bytes to have before parsing again: never past the header. */
static size_t
read_goal(const unsigned char *data, size_t have)
{
	if (have == 0)
		return V1_MIN;
	if (data[0] == v2_signature[0])
		return have < V2_FIXED ? V2_FIXED : V2_FIXED + get16(data + 14);
	return have < V1_MIN ? V1_MIN : have + 1;
}

int
haproxy_read_stream(struct stream *s, int timeout_ms,
	struct haproxy_info *info, const char **error_r)
{
	unsigned char data[HAPROXY_MAX_HEADER];
	int64_t deadline = stream_clock_ms() + timeout_ms;
	size_t have = 0, goal;
	ssize_t n;
	int rc;

	memset(info, 0, sizeof(*info));
	if (stream_pending(s) != 0) {
		*error_r = "input read before the PROXY header";
		return -1;
	}
	for (;;) {
		goal = read_goal(data, have);
		if (goal > sizeof(data)) {
			*error_r = "PROXY header too long";
			return -1;
		}
		n = read(stream_fd(s), data + have, goal - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			switch (stream_wait_ready(s, POLLIN, deadline)) {
			case STREAM_OK:
				continue;
			case STREAM_TIMEOUT:
				*error_r = "timeout reading the PROXY header";
				return -1;
			default:
				*error_r = "error reading the PROXY header";
				return -1;
			}
		}
		if (n < 0) {
			*error_r = "error reading the PROXY header";
			return -1;
		}
		if (n == 0) {
			*error_r = "connection closed in the PROXY header";
			return -1;
		}
		have += (size_t) n;
		rc = haproxy_parse(data, have, info, error_r);
		if (rc < 0)
			return -1;
		if (rc > 0)
			return 0;
	}
}

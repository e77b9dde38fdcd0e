/* proxy_conn: one side of a proxied session, plain or TLS (proxy_conn.h). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "proxy_conn.h"
#include "proxyd.h"
#include "tls.h"
#include "xalloc.h"

void
proxy_conn_init(struct proxy_conn *c, int fd)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
}

void
proxy_conn_close(struct proxy_conn *c)
{
	tls_conn_free(&c->tls);
	if (c->fd >= 0)
		(void) close(c->fd);
	c->fd = -1;
	buf_free(&c->in);
	buf_free(&c->out);
	c->tls_handshaking = 0;
	c->tls_wants_write = 0;
	c->tls_write_wants_read = 0;
	c->eof = 0;
}

int
proxy_conn_queue(struct proxy_conn *c, const void *data, size_t len,
	size_t cap)
{
	if (c->out == NULL)
		c->out = buf_new(cap);
	return buf_append(c->out, data, len);
}

size_t
proxy_conn_out_len(const struct proxy_conn *c)
{
	return c->out == NULL ? 0 : buf_len(c->out);
}

size_t
proxy_conn_in_len(const struct proxy_conn *c)
{
	return c->in == NULL ? 0 : buf_len(c->in);
}

ssize_t
proxy_conn_read(struct proxy_conn *c, void *data, size_t len)
{
	ssize_t n;
	int want_write = 0;

	if (c->fd < 0 || c->eof)
		return 0;
	if (c->tls != NULL) {
		n = tls_conn_read(c->tls, data, len, &want_write);
		c->tls_wants_write = n < 0 && errno == EAGAIN && want_write;
	} else {
		n = read(c->fd, data, len);
	}
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR))
		return -1;
	if (n <= 0) {
		c->eof = 1;
		return 0;
	}
	return n;
}

int
proxy_conn_flush(struct proxy_conn *c)
{
	ssize_t n;
	int want_read = 0;

	while (c->out != NULL && buf_len(c->out) > 0) {
		if (c->tls != NULL) {
			n = tls_conn_write(c->tls, buf_data(c->out),
			    buf_len(c->out), &want_read);
			c->tls_write_wants_read = n < 0 && errno == EAGAIN &&
			    want_read;
		} else {
			n = write(c->fd, buf_data(c->out), buf_len(c->out));
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == EINTR))
			return 0;
		if (n <= 0)
			return -1;
		buf_consume(c->out, (size_t) n);
	}
	/* An idle session keeps no buffer. */
	buf_free(&c->out);
	return 0;
}

short
proxy_conn_events(const struct proxy_conn *c, int want_read)
{
	short events = 0;

	if (c->fd < 0)
		return 0;
	if (c->tls_handshaking)
		return c->tls_wants_write ? POLLOUT : POLLIN;
	if (want_read && !c->eof)
		events |= c->tls_wants_write ? POLLOUT : POLLIN;
	if (proxy_conn_out_len(c) > 0)
		events |= c->tls_write_wants_read ? POLLIN : POLLOUT;
	return events;
}

int
proxy_conn_pending(const struct proxy_conn *c)
{
	return c->tls != NULL && !c->tls_handshaking &&
	    tls_conn_pending(c->tls) > 0;
}

int
proxy_conn_tls_begin(struct proxy_conn *c, struct tls_server *t,
	const char *server_name, char **error_r)
{
	c->tls = tls_conn_new_fd(t, c->fd, server_name, error_r);
	if (c->tls == NULL)
		return -1;
	c->tls_handshaking = 1;
	c->tls_wants_write = 0;
	return 0;
}

int
proxy_conn_tls_step(struct proxy_conn *c, char **error_r)
{
	switch (tls_handshake_step(c->tls, error_r)) {
	case TLS_HANDSHAKE_DONE:
		c->tls_handshaking = 0;
		c->tls_wants_write = 0;
		return 1;
	case TLS_HANDSHAKE_WANT_READ:
		c->tls_wants_write = 0;
		return 0;
	case TLS_HANDSHAKE_WANT_WRITE:
		c->tls_wants_write = 1;
		return 0;
	case TLS_HANDSHAKE_FAILED:
	default:
		return -1;
	}
}

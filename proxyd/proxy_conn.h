/*
 * proxy_conn: the byte mover under one side of a proxied session (struct
 * proxy_conn in proxyd.h): non-blocking reads and writes, plain or
 * through OpenSSL, and which poll() events the side waits for.  Output
 * is queued in a buf created on demand and freed as soon as it has been
 * sent, so an idle side holds no buffer.  Nothing here waits.
 */
#ifndef ISPMAIL_PROXY_CONN_H
#define ISPMAIL_PROXY_CONN_H

#include <poll.h>
#include <stddef.h>
#include <sys/types.h>

struct proxy_conn;
struct tls_server;

/* An unused side on fd (-1: none yet). */
void proxy_conn_init(struct proxy_conn *c, int fd);
/* Free TLS and buffers and close the descriptor (no close_notify wait). */
void proxy_conn_close(struct proxy_conn *c);
/* Queue len bytes to send, within cap queued in all: 0 ok, -1 full. */
int proxy_conn_queue(struct proxy_conn *c, const void *data, size_t len,
	size_t cap);
size_t proxy_conn_out_len(const struct proxy_conn *c);
size_t proxy_conn_in_len(const struct proxy_conn *c);
/*
 * Read what is there: >0 bytes, 0 at EOF or on an error (c->eof set
 * from then on), -1 nothing now (wait for proxy_conn_events).
 */
ssize_t proxy_conn_read(struct proxy_conn *c, void *data, size_t len);
/* Send what is queued as far as it goes: 0 ok (maybe partly), -1 error. */
int proxy_conn_flush(struct proxy_conn *c);
/* The poll() events this side waits for (reading when want_read). */
short proxy_conn_events(const struct proxy_conn *c, int want_read);
/* 1 when TLS holds decrypted input poll() cannot see. */
int proxy_conn_pending(const struct proxy_conn *c);
/*
 * Start a handshake on c (server side with the server context, client
 * side with a client one and server_name): 0, or -1 with *error_r.
 */
int proxy_conn_tls_begin(struct proxy_conn *c, struct tls_server *t,
	const char *server_name, char **error_r);
/* One step: 1 done, 0 wait (events say which way), -1 failed (*error_r). */
int proxy_conn_tls_step(struct proxy_conn *c, char **error_r);

#endif

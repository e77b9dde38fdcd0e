/*
 * tls: OpenSSL under a stream (server side for smtpd, popd, imapd; client
 * side for the smtp delivery agent).
 *
 * A tls_server holds the SSL_CTX made once per process from main.conf
 * (tls_cert_file, tls_key_file, tls_min_protocol, tls_ciphers), before
 * privileges drop so the key may be readable by root only.  The
 * handshake is a series of non-blocking steps (tls_handshake_begin,
 * tls_handshake_step) that say which way the descriptor must become
 * ready; an event loop waits for that itself, with its own deadline.
 * tls_start() runs those steps within tls_handshake_timeout, waiting
 * through the stream's waiter (stream_set_waiter): poll() in a daemon
 * with one session per process, the session loop in imapd, so a silent
 * client there holds up only its own session.  When the handshake is
 * done TLS pushes itself under the stream as its transport
 * (stream_set_transport), so callers keep using stream_*(); its reads
 * and writes never block (WANT_READ/WANT_WRITE become the stream's
 * waits, decrypted input not yet taken counts in stream_pending()).
 * The caller must discard any plaintext already buffered (RFC 3207: the
 * stream is purged by tls_start() itself, so nothing read before the
 * handshake can be taken as a command after it).
 */
#ifndef ISPMAIL_TLS_H
#define ISPMAIL_TLS_H

#include <sys/types.h>

struct stream;
struct tls_server;
struct tls_conn;

/*
 * The server context from the tls_* parameters.  NULL with *error_r
 * (caller frees) when the certificate or key cannot be loaded; NULL with
 * *error_r set to NULL when tls_cert_file is empty (TLS not offered).
 */
struct tls_server *tls_server_new(char **error_r);
void tls_server_free(struct tls_server **tp);

/*
 * A client context for the delivery agent: verify_peer 0 means
 * opportunistic TLS (encrypt, do not authenticate), as for SMTP between
 * MXes; 1 the chain and server_name must verify; TLS_VERIFY_REPORT
 * checks both but lets the handshake succeed either way, for
 * tls_conn_verify_error() to tell; ca_file may be NULL for the system
 * store.
 */
#define TLS_VERIFY_REPORT 2
struct tls_server *tls_client_new(const char *ca_file, int verify_peer,
	char **error_r);

/*
 * A client context for DANE (RFC 7672, RFC 7671): OpenSSL's DANE
 * verification enabled, no CA store (DANE-TA and DANE-EE records name
 * their own trust anchors).  Use it only with tls_start_dane().
 */
struct tls_server *tls_client_dane_new(char **error_r);

/* One TLSA record for tls_start_dane() (RFC 6698 2.1). */
struct tls_dane_rr {
	unsigned char usage, selector, mtype;
	const unsigned char *data;
	size_t len;
};

/*
 * tls_start() on a tls_client_dane_new() context, authenticating the
 * server by the TLSA records of server_name (the TLSA base domain):
 * DANE-TA(2) and DANE-EE(3) only (RFC 7672 3.1: PKIX-TA/EE are not
 * used for SMTP); DANE-EE without name checks (3.1.1), DANE-TA with
 * server_name as the reference identifier (3.2.2).  0: verified,
 * *usage_r the usage of the record that matched (2 or 3); -1 with
 * *error_r (caller frees): no usable record, handshake failure or
 * verification failure (the stream is then unusable).
 */
int tls_start_dane(struct tls_server *t, struct stream *s,
	const char *server_name, const struct tls_dane_rr *rrs, size_t count,
	int *usage_r, struct tls_conn **conn_r, char **error_r);

/*
 * Handshake on s's descriptor (server side, or client side with
 * tls_client_new's context and server_name for SNI/verification), purge
 * s's read buffer first, and push TLS under s.  0 ok (*conn_r set);
 * -1 with *error_r (caller frees): the stream is then unusable and the
 * caller closes the connection.
 */
int tls_start(struct tls_server *t, struct stream *s,
	const char *server_name, struct tls_conn **conn_r, char **error_r);

enum tls_handshake_status {
	TLS_HANDSHAKE_DONE = 0,		/* TLS is under the stream */
	TLS_HANDSHAKE_WANT_READ,	/* step again once readable */
	TLS_HANDSHAKE_WANT_WRITE,	/* step again once writable */
	TLS_HANDSHAKE_FAILED,		/* *error_r set (caller frees) */
};

/*
 * Start a handshake on s as tls_start() does (purge s's input, flush its
 * output, which may wait through the stream) without running it: NULL
 * with *error_r when OpenSSL cannot make the connection object.
 */
struct tls_conn *tls_handshake_begin(struct tls_server *t, struct stream *s,
	const char *server_name, char **error_r);
/*
 * Run the handshake as far as it goes without waiting.  After WANT_READ
 * or WANT_WRITE the caller waits for the descriptor (within its own
 * deadline) and steps again; after DONE the connection is in use; after
 * FAILED it only wants tls_conn_free().
 */
enum tls_handshake_status tls_handshake_step(struct tls_conn *c,
	char **error_r);
/*
 * For an event loop that moves bytes itself (proxyd): a connection on
 * the non-blocking fd with no stream above it, stepped with
 * tls_handshake_step(), then read and written with the calls below,
 * which behave like the stream transport (stream.h): -1 with errno
 * EAGAIN when they would block, *want_*_r set when OpenSSL needs the
 * other direction first; 0 at EOF.  Record buffers are released while
 * idle.  NULL with *error_r (caller frees) when OpenSSL fails.
 */
struct tls_conn *tls_conn_new_fd(struct tls_server *t, int fd,
	const char *server_name, char **error_r);
ssize_t tls_conn_read(struct tls_conn *c, void *data, size_t len,
	int *want_write_r);
ssize_t tls_conn_write(struct tls_conn *c, const void *data, size_t len,
	int *want_read_r);
/*
 * After the handshake on a verifying context: NULL when the chain and
 * the name verified, else why not (static text).
 */
const char *tls_conn_verify_error(const struct tls_conn *c);
/*
 * Why the last client handshake or DANE check of this process failed
 * verification (TLS reporting, RFC 8460 4.3): TLS_VERIFY_NONE when it
 * did not fail on the certificate (a protocol error, a timeout).
 */
enum tls_verify_failure {
	TLS_VERIFY_NONE = 0,
	TLS_VERIFY_HOST_MISMATCH,	/* the name is not the server's */
	TLS_VERIFY_EXPIRED,		/* expired or not yet valid */
	TLS_VERIFY_UNTRUSTED,		/* no chain to a trusted CA */
	TLS_VERIFY_DANE_NO_MATCH,	/* no TLSA record matched */
	TLS_VERIFY_OTHER,		/* any other verification error */
};
enum tls_verify_failure tls_last_verify_failure(void);
/* The same for an established connection (TLS_VERIFY_REPORT contexts). */
enum tls_verify_failure tls_conn_verify_failure(const struct tls_conn *c);
/* Decrypted bytes not yet read (no poll() would report them). */
size_t tls_conn_pending(struct tls_conn *c);
/* "TLSv1.3", "TLS_AES_256_GCM_SHA384", and the cipher's secret bits. */
const char *tls_conn_version(const struct tls_conn *c);
const char *tls_conn_cipher(const struct tls_conn *c);
int tls_conn_bits(const struct tls_conn *c);
/*
 * Send close_notify (best effort, no waiting; none for a handshake that
 * never finished) and free; call after the last stream write was
 * flushed and before stream_free(); NULL allowed.
 */
void tls_conn_free(struct tls_conn **cp);

#endif

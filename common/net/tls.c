/*
 * tls: OpenSSL under a stream; see tls.h.
 *
 * The SSL object works on the stream's non-blocking descriptor.  Its
 * read/write become the stream's transport: SSL_ERROR_WANT_READ/WRITE
 * turn into EAGAIN plus the direction to wait for, so the stream's own
 * deadlines govern TLS too.  The handshake is stepped the same way;
 * tls_start() gives it its own deadline (tls_handshake_timeout, counted
 * from its start) and waits through the stream's waiter.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "log.h"
#include "mail_params.h"
#include "metrics.h"
#include "stream.h"
#include "tls.h"
#include "xalloc.h"

struct tls_server {
	SSL_CTX *ctx;
	int client;
	int verify_peer;	/* client: check the chain and server_name */
	int dane;		/* client: tls_client_dane_new() */
};

struct tls_conn {
	SSL *ssl;
	struct stream *stream;
	int client;
	int established;	/* the handshake is done */
};

/* The first queued OpenSSL error as text, or what, and clear the queue. */
static char *
tls_error_text(const char *what)
{
	unsigned long code = ERR_get_error();
	char text[256];

	ERR_clear_error();
	if (code == 0)
		return xasprintf("%s", what);
	ERR_error_string_n(code, text, sizeof(text));
	return xasprintf("%s: %s", what, text);
}

static int
tls_min_version(const char *name, int *version_r)
{
	if (strcasecmp(name, "TLSv1.2") == 0)
		*version_r = TLS1_2_VERSION;
	else if (strcasecmp(name, "TLSv1.3") == 0)
		*version_r = TLS1_3_VERSION;
	else
		return -1;
	return 0;
}

static SSL_CTX *
tls_ctx_new(const SSL_METHOD *method, char **error_r)
{
	SSL_CTX *ctx;
	int version;

	if (tls_min_version(var_tls_min_protocol, &version) < 0) {
		*error_r = xasprintf("tls_min_protocol: unknown version %s "
		    "(TLSv1.2 or TLSv1.3)", var_tls_min_protocol);
		return NULL;
	}
	ctx = SSL_CTX_new(method);
	if (ctx == NULL) {
		*error_r = tls_error_text("SSL_CTX_new");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, version);
	/* No renegotiation, no compression (CRIME), no session tickets. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET |
	    SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (*var_tls_ciphers != '\0' &&
	    SSL_CTX_set_cipher_list(ctx, var_tls_ciphers) != 1) {
		*error_r = tls_error_text("tls_ciphers");
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

struct tls_server *
tls_server_new(char **error_r)
{
	struct tls_server *t;
	SSL_CTX *ctx;

	*error_r = NULL;
	if (*var_tls_cert_file == '\0')
		return NULL;
	ctx = tls_ctx_new(TLS_server_method(), error_r);
	if (ctx == NULL)
		return NULL;
	if (SSL_CTX_use_certificate_chain_file(ctx, var_tls_cert_file) != 1) {
		*error_r = tls_error_text(var_tls_cert_file);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, var_tls_key_file,
	    SSL_FILETYPE_PEM) != 1) {
		*error_r = tls_error_text(var_tls_key_file);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		*error_r = tls_error_text("tls_key_file does not match "
		    "tls_cert_file");
		SSL_CTX_free(ctx);
		return NULL;
	}
	t = xcalloc(1, sizeof(*t));
	t->ctx = ctx;
	return t;
}

struct tls_server *
tls_client_new(const char *ca_file, int verify_peer, char **error_r)
{
	struct tls_server *t;
	SSL_CTX *ctx;
	int ok;

	*error_r = NULL;
	ctx = tls_ctx_new(TLS_client_method(), error_r);
	if (ctx == NULL)
		return NULL;
	if (verify_peer) {
		ok = ca_file != NULL ?
		    SSL_CTX_load_verify_locations(ctx, ca_file, NULL) :
		    SSL_CTX_set_default_verify_paths(ctx);
		if (ok != 1) {
			*error_r = tls_error_text(ca_file != NULL ? ca_file :
			    "default CA store");
			SSL_CTX_free(ctx);
			return NULL;
		}
		/* Report: OpenSSL still verifies and keeps the result. */
		SSL_CTX_set_verify(ctx, verify_peer == TLS_VERIFY_REPORT ?
		    SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
	} else {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	}
	t = xcalloc(1, sizeof(*t));
	t->ctx = ctx;
	t->client = 1;
	t->verify_peer = verify_peer;
	return t;
}

void
tls_server_free(struct tls_server **tp)
{
	struct tls_server *t = *tp;

	if (t == NULL)
		return;
	SSL_CTX_free(t->ctx);
	free(t);
	*tp = NULL;
}

/* Map an SSL result to the transport convention (EAGAIN + direction). */
static ssize_t
tls_io_result(struct tls_conn *c, int n, int *want_other_r, int reading)
{
	int err = SSL_get_error(c->ssl, n);

	switch (err) {
	case SSL_ERROR_WANT_READ:
		*want_other_r = !reading;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_WANT_WRITE:
		*want_other_r = reading;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		/* EOF without close_notify: a plain EOF to the stream. */
		if (errno == 0)
			return 0;
		return -1;
	default:
		log_info("TLS error: %s",
		    ERR_reason_error_string(ERR_peek_error()) != NULL ?
		    ERR_reason_error_string(ERR_peek_error()) : "unknown");
		ERR_clear_error();
		errno = EPROTO;
		return -1;
	}
}

static ssize_t
tls_read(void *ctx, void *data, size_t len, int *want_write_r)
{
	struct tls_conn *c = ctx;
	int n;

	*want_write_r = 0;
	if (len > 1024 * 1024 * 1024)
		len = 1024 * 1024 * 1024;
	errno = 0;
	n = SSL_read(c->ssl, data, (int) len);
	if (n > 0)
		return n;
	return tls_io_result(c, n, want_write_r, 1);
}

static ssize_t
tls_write(void *ctx, const void *data, size_t len, int *want_read_r)
{
	struct tls_conn *c = ctx;
	int n;

	*want_read_r = 0;
	if (len > 1024 * 1024 * 1024)
		len = 1024 * 1024 * 1024;
	errno = 0;
	n = SSL_write(c->ssl, data, (int) len);
	if (n > 0)
		return n;
	return tls_io_result(c, n, want_read_r, 0);
}

/* Decrypted bytes SSL_read has not handed out yet (a short read). */
static size_t
tls_pending(void *ctx)
{
	struct tls_conn *c = ctx;
	int n = SSL_pending(c->ssl);

	return n > 0 ? (size_t) n : 0;
}

static const struct stream_transport tls_transport = {
	tls_read,
	tls_write,
	tls_pending,
};

static enum tls_verify_failure tls_verify_failed;

/* The kind of an X509_V_ERR_* result, for tls_last_verify_failure(). */
static enum tls_verify_failure
tls_verify_kind(long result)
{
	switch (result) {
	case X509_V_OK:
		return TLS_VERIFY_NONE;
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
		return TLS_VERIFY_HOST_MISMATCH;
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return TLS_VERIFY_EXPIRED;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_CERT_UNTRUSTED:
		return TLS_VERIFY_UNTRUSTED;
	case X509_V_ERR_DANE_NO_MATCH:
		return TLS_VERIFY_DANE_NO_MATCH;
	}
	return TLS_VERIFY_OTHER;
}

enum tls_verify_failure
tls_last_verify_failure(void)
{
	return tls_verify_failed;
}

struct tls_conn *
tls_handshake_begin(struct tls_server *t, struct stream *s,
	const char *server_name, char **error_r)
{
	struct tls_conn *c;

	tls_verify_failed = TLS_VERIFY_NONE;
	/* RFC 3207 section 4.2: nothing sent before TLS counts after it. */
	stream_purge_input(s);
	if (stream_flush(s) != STREAM_OK) {
		*error_r = xasprintf("write before TLS: %s", stream_error(s));
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	c->stream = s;
	c->client = t->client;
	c->ssl = SSL_new(t->ctx);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, stream_fd(s)) != 1) {
		*error_r = tls_error_text("SSL_new");
		tls_conn_free(&c);
		return NULL;
	}
	/* An idle session keeps no record buffers (about 34 KiB each). */
	SSL_set_mode(c->ssl, SSL_MODE_RELEASE_BUFFERS);
	if (t->client && server_name != NULL) {
		SSL_set_tlsext_host_name(c->ssl, server_name);
		/* A trusted chain alone would accept any host's certificate. */
		if (t->verify_peer && SSL_set1_host(c->ssl, server_name) != 1) {
			*error_r = tls_error_text("SSL_set1_host");
			tls_conn_free(&c);
			return NULL;
		}
	}
	return c;
}

enum tls_handshake_status
tls_handshake_step(struct tls_conn *c, char **error_r)
{
	int n, err;

	if (c->established)
		return TLS_HANDSHAKE_DONE;
	ERR_clear_error();
	n = c->client ? SSL_connect(c->ssl) : SSL_accept(c->ssl);
	if (n == 1) {
		c->established = 1;
		metrics_inc("ispmail_tls_handshakes_total", "side",
		    c->client ? "client" : "server", "version",
		    SSL_get_version(c->ssl), NULL);
		if (c->stream != NULL)
			stream_set_transport(c->stream, &tls_transport, c);
		return TLS_HANDSHAKE_DONE;
	}
	err = SSL_get_error(c->ssl, n);
	if (err == SSL_ERROR_WANT_READ)
		return TLS_HANDSHAKE_WANT_READ;
	if (err == SSL_ERROR_WANT_WRITE)
		return TLS_HANDSHAKE_WANT_WRITE;
	if (c->client)
		tls_verify_failed = tls_verify_kind(
		    SSL_get_verify_result(c->ssl));
	*error_r = err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 ?
	    xasprintf("TLS handshake: connection closed") :
	    tls_error_text("TLS handshake");
	return TLS_HANDSHAKE_FAILED;
}

/* Step c's handshake to its end within tls_handshake_timeout. */
static int
tls_run_handshake(struct tls_conn *c, struct stream *s,
	struct tls_conn **conn_r, char **error_r)
{
	int64_t deadline = stream_clock_ms() +
	    var_tls_handshake_timeout * 1000;
	enum tls_handshake_status step;
	enum stream_status ready;

	while ((step = tls_handshake_step(c, error_r)) != TLS_HANDSHAKE_DONE) {
		if (step == TLS_HANDSHAKE_FAILED) {
			tls_conn_free(&c);
			return -1;
		}
		/* The waiter: poll(), or the loop of a multi-session imapd. */
		ready = stream_wait_ready(s, step == TLS_HANDSHAKE_WANT_READ ?
		    POLLIN : POLLOUT, deadline);
		if (ready != STREAM_OK) {
			*error_r = ready == STREAM_TIMEOUT ?
			    xasprintf("TLS handshake: timeout") :
			    xasprintf("TLS handshake: wait: %s",
			    strerror(errno));
			tls_conn_free(&c);
			return -1;
		}
	}
	*conn_r = c;
	return 0;
}

int
tls_start(struct tls_server *t, struct stream *s, const char *server_name,
	struct tls_conn **conn_r, char **error_r)
{
	struct tls_conn *c;

	c = tls_handshake_begin(t, s, server_name, error_r);
	if (c == NULL)
		return -1;
	return tls_run_handshake(c, s, conn_r, error_r);
}

struct tls_server *
tls_client_dane_new(char **error_r)
{
	struct tls_server *t;
	SSL_CTX *ctx;

	*error_r = NULL;
	ctx = tls_ctx_new(TLS_client_method(), error_r);
	if (ctx == NULL)
		return NULL;
	if (SSL_CTX_dane_enable(ctx) <= 0) {
		*error_r = tls_error_text("SSL_CTX_dane_enable");
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	t = xcalloc(1, sizeof(*t));
	t->ctx = ctx;
	t->client = 1;
	t->dane = 1;
	return t;
}

int
tls_start_dane(struct tls_server *t, struct stream *s,
	const char *server_name, const struct tls_dane_rr *rrs, size_t count,
	int *usage_r, struct tls_conn **conn_r, char **error_r)
{
	struct tls_conn *c;
	uint8_t usage;
	size_t i, usable = 0;
	long verify;
	int rc;

	if (!t->dane)
		log_panic("tls_start_dane: not a DANE context");
	c = tls_handshake_begin(t, s, server_name, error_r);
	if (c == NULL)
		return -1;
	/* The TLSA base domain: SNI and DANE-TA's reference identifier. */
	if (SSL_dane_enable(c->ssl, server_name) <= 0) {
		*error_r = tls_error_text("SSL_dane_enable");
		tls_conn_free(&c);
		return -1;
	}
	SSL_dane_set_flags(c->ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
	for (i = 0; i < count; i++) {
		if (rrs[i].usage != 2 && rrs[i].usage != 3)
			continue;
		rc = SSL_dane_tlsa_add(c->ssl, rrs[i].usage, rrs[i].selector,
		    rrs[i].mtype, rrs[i].data, rrs[i].len);
		if (rc > 0)
			usable++;
		ERR_clear_error();
	}
	if (usable == 0) {
		*error_r = xasprintf("no usable TLSA record");
		tls_conn_free(&c);
		return -1;
	}
	if (tls_run_handshake(c, s, conn_r, error_r) < 0) {
		return -1;
	}
	verify = SSL_get_verify_result((*conn_r)->ssl);
	tls_verify_failed = verify != X509_V_OK ? tls_verify_kind(verify) :
	    TLS_VERIFY_NONE;
	if (verify != X509_V_OK ||
	    SSL_get0_dane_tlsa((*conn_r)->ssl, &usage, NULL, NULL, NULL,
	    NULL) < 0) {
		*error_r = xasprintf("TLSA records do not match: %s",
		    X509_verify_cert_error_string(verify));
		tls_conn_free(conn_r);
		return -1;
	}
	*usage_r = usage;
	return 0;
}

/* 1 when name is an IPv4 or IPv6 address literal. */
static int
tls_is_ip(const char *name)
{
	unsigned char addr[16];

	return inet_pton(AF_INET, name, addr) == 1 ||
	    inet_pton(AF_INET6, name, addr) == 1;
}

struct tls_conn *
tls_conn_new_fd(struct tls_server *t, int fd, const char *server_name,
	char **error_r)
{
	struct tls_conn *c = xcalloc(1, sizeof(*c));

	c->client = t->client;
	c->ssl = SSL_new(t->ctx);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, fd) != 1) {
		*error_r = tls_error_text("SSL_new");
		tls_conn_free(&c);
		return NULL;
	}
	/* An idle session keeps no record buffers (about 34 KiB each). */
	SSL_set_mode(c->ssl, SSL_MODE_RELEASE_BUFFERS);
	if (t->client && server_name != NULL && tls_is_ip(server_name)) {
		/* An address is checked against the IP SANs, never SNI. */
		if (t->verify_peer && X509_VERIFY_PARAM_set1_ip_asc(
		    SSL_get0_param(c->ssl), server_name) != 1) {
			*error_r = tls_error_text("X509_VERIFY_PARAM_set1_ip");
			tls_conn_free(&c);
			return NULL;
		}
	} else if (t->client && server_name != NULL) {
		SSL_set_tlsext_host_name(c->ssl, server_name);
		if (t->verify_peer && SSL_set1_host(c->ssl, server_name) != 1) {
			*error_r = tls_error_text("SSL_set1_host");
			tls_conn_free(&c);
			return NULL;
		}
	}
	return c;
}

ssize_t
tls_conn_read(struct tls_conn *c, void *data, size_t len,
	int *want_write_r)
{
	return tls_read(c, data, len, want_write_r);
}

ssize_t
tls_conn_write(struct tls_conn *c, const void *data, size_t len,
	int *want_read_r)
{
	return tls_write(c, data, len, want_read_r);
}

const char *
tls_conn_verify_error(const struct tls_conn *c)
{
	long result = SSL_get_verify_result(c->ssl);

	if (SSL_get0_peer_certificate(c->ssl) == NULL)
		return "no certificate";
	return result == X509_V_OK ? NULL :
	    X509_verify_cert_error_string(result);
}

enum tls_verify_failure
tls_conn_verify_failure(const struct tls_conn *c)
{
	if (SSL_get0_peer_certificate(c->ssl) == NULL)
		return TLS_VERIFY_OTHER;
	return tls_verify_kind(SSL_get_verify_result(c->ssl));
}

size_t
tls_conn_pending(struct tls_conn *c)
{
	return tls_pending(c);
}

const char *
tls_conn_version(const struct tls_conn *c)
{
	return SSL_get_version(c->ssl);
}

const char *
tls_conn_cipher(const struct tls_conn *c)
{
	return SSL_CIPHER_get_name(SSL_get_current_cipher(c->ssl));
}

int
tls_conn_bits(const struct tls_conn *c)
{
	return SSL_CIPHER_get_bits(SSL_get_current_cipher(c->ssl), NULL);
}

void
tls_conn_free(struct tls_conn **cp)
{
	struct tls_conn *c = *cp;

	if (c == NULL)
		return;
	/* One close_notify, no wait for the peer's (RFC 8446 6.1 allows). */
	if (c->established) {
		(void) SSL_shutdown(c->ssl);
		if (c->stream != NULL)
			stream_set_transport(c->stream, NULL, NULL);
	}
	ERR_clear_error();
	if (c->ssl != NULL)
		SSL_free(c->ssl);
	free(c);
	*cp = NULL;
}

/* proxy_login: logins by the proxy tier's token (proxy_login.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "buf.h"
#include "log.h"
#include "mail_params.h"
#include "params.h"
#include "proxy_login.h"
#include "proxy_trust.h"
#include "service.h"
#include "xalloc.h"

/* Digests accepted at once (a rotation needs two). */
#define PROXY_LOGIN_DIGESTS_MAX	8

static unsigned char proxy_login_digests[PROXY_LOGIN_DIGESTS_MAX]
    [SHA256_DIGEST_LENGTH];
static int proxy_login_digest_count;

static int
proxy_login_fail(char **error_r, const char *path, const char *what)
{
	*error_r = xasprintf("proxy_login_token_file %s: %s", path, what);
	return -1;
}

int
proxy_login_token_read(const char *path, char **token_r, char **error_r)
{
	struct buf *content = NULL;
	char chunk[PROXY_LOGIN_TOKEN_MAX + 3];
	struct stat st;
	size_t len, i;
	ssize_t n;
	int fd, ret = -1;
	char *error;

	*token_r = NULL;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK |
	    O_CLOEXEC);
	if (fd < 0) {
		error = xasprintf("open: %s%s", strerror(errno), errno == ELOOP
		    ? " (a symbolic link is not followed)" : "");
		ret = proxy_login_fail(error_r, path, error);
		free(error);
		return ret;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		(void) proxy_login_fail(error_r, path, "not a regular file");
		goto out;
	}
	if (st.st_mode & (S_IRWXO | S_IWGRP | S_IXGRP)) {
		error = xasprintf("mode %04o: make it chmod 600 or 640",
		    (unsigned) (st.st_mode & 07777));
		(void) proxy_login_fail(error_r, path, error);
		free(error);
		goto out;
	}
	/* The token, an optional CR LF, and one byte to see a longer one. */
	content = buf_new(sizeof(chunk));
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			(void) proxy_login_fail(error_r, path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if (buf_append(content, chunk, (size_t) n) < 0) {
			(void) proxy_login_fail(error_r, path, "longer than "
			    "one token");
			goto out;
		}
	}
	len = buf_len(content);
	if (len > 0 && buf_data(content)[len - 1] == '\n')
		len--;
	if (len > 0 && buf_data(content)[len - 1] == '\r')
		len--;
	for (i = 0; i < len; i++)
		if (buf_data(content)[i] <= ' ' || buf_data(content)[i] > '~')
			break;
	if (i < len) {
		(void) proxy_login_fail(error_r, path, "the token must be one "
		    "line of printable characters without spaces");
		goto out;
	}
	if (len < PROXY_LOGIN_TOKEN_MIN || len > PROXY_LOGIN_TOKEN_MAX) {
		error = xasprintf("the token has %zu characters, not %d to %d",
		    len, PROXY_LOGIN_TOKEN_MIN, PROXY_LOGIN_TOKEN_MAX);
		(void) proxy_login_fail(error_r, path, error);
		free(error);
		goto out;
	}
	*token_r = xstrndup(buf_data(content), len);
	ret = 0;
out:
	if (content != NULL) {
		explicit_bzero(buf_data(content), buf_len(content));
		buf_free(&content);
	}
	explicit_bzero(chunk, sizeof(chunk));
	(void) close(fd);
	return ret;
}

int
proxy_login_init(const char *digests, char **error_r)
{
	char **list;
	int count, i, ret = 0;
	size_t k;

	proxy_login_digest_count = 0;
	list = params_list_split(digests, &count);
	if (count > PROXY_LOGIN_DIGESTS_MAX) {
		*error_r = xasprintf("proxy_login_token_digests: more than %d "
		    "digests", PROXY_LOGIN_DIGESTS_MAX);
		ret = -1;
	}
	for (i = 0; i < count && ret == 0; i++) {
		if (strlen(list[i]) != 2 * SHA256_DIGEST_LENGTH)
			ret = -1;
		for (k = 0; k < SHA256_DIGEST_LENGTH && ret == 0; k++) {
			int hi = OPENSSL_hexchar2int(
			    (unsigned char) list[i][2 * k]);
			int lo = OPENSSL_hexchar2int(
			    (unsigned char) list[i][2 * k + 1]);

			if (hi < 0 || lo < 0)
				ret = -1;
			else
				proxy_login_digests[i][k] =
				    (unsigned char) (hi << 4 | lo);
		}
		if (ret < 0)
			*error_r = xasprintf("proxy_login_token_digests: "
			    "\"%s\" is not a SHA-256 digest (64 hex digits)",
			    list[i]);
	}
	if (ret == 0)
		proxy_login_digest_count = count;
	params_list_free(list);
	return ret;
}

int
proxy_login_is_proxy(const char *authcid)
{
	return strcmp(authcid, PROXY_LOGIN_IDENTITY) == 0;
}

/* 1 when token's digest is configured; every digest is compared. */
static int
proxy_login_token_ok(const char *token)
{
	unsigned char digest[SHA256_DIGEST_LENGTH];
	int i, match = 0;

	(void) SHA256((const unsigned char *) token, strlen(token), digest);
	for (i = 0; i < proxy_login_digest_count; i++)
		match |= CRYPTO_memcmp(digest, proxy_login_digests[i],
		    sizeof(digest)) == 0;
	explicit_bzero(digest, sizeof(digest));
	return match;
}

enum proxy_login_verdict
proxy_login_check(const struct service_peer *conn, const char *client,
	const char *user, const char *token)
{
	if (!proxy_trust_peer(conn)) {
		log_warn("proxy login refused user=%s client=%s: %s is not "
		    "in proxy_trusted_networks", user, client,
		    conn->client_addr);
		return PROXY_LOGIN_UNTRUSTED;
	}
	if (proxy_login_digest_count == 0) {
		log_error("proxy login refused user=%s client=%s proxy=%s: "
		    "proxy_login_token_digests is empty here", user, client,
		    conn->client_addr);
		return PROXY_LOGIN_REFUSED;
	}
	if (!proxy_login_token_ok(token)) {
		log_error("proxy login refused user=%s client=%s proxy=%s: "
		    "wrong token (its digest is not in "
		    "proxy_login_token_digests)", user, client,
		    conn->client_addr);
		return PROXY_LOGIN_REFUSED;
	}
	return PROXY_LOGIN_OK;
}

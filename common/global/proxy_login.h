/*
 * proxy_login: a proxy logs a user in to a store (imapd, popd) with a
 * token instead of the user's password, so the store spends no slow
 * password hash on a login the proxy has already checked.
 *
 * proxyd checks the client's password (authd), then authenticates at the
 * backend with SASL PLAIN (RFC 4616): authzid the user, authcid
 * PROXY_LOGIN_IDENTITY, password the token of proxy_login_token_file.
 * The backend takes that only from a connection whose own peer (not a
 * client a PROXY header, ID or XCLIENT named) is in proxy_trusted_
 * networks, and only when the token's SHA-256 is one of
 * proxy_login_token_digests, compared in constant time.  A slow hash
 * guards low-entropy human passwords; a random token of at least
 * PROXY_LOGIN_TOKEN_MIN characters needs none, and the stores hold only
 * its digest.  Several digests let the token be rotated host by host.
 *
 * The token file is read without following symbolic links and must be a
 * regular file that others cannot read and its group cannot write (mode
 * 0600 or 0640): one line of PROXY_LOGIN_TOKEN_MIN..PROXY_LOGIN_TOKEN_MAX
 * printable ASCII characters without spaces, the final newline optional.
 */
#ifndef ISPMAIL_PROXY_LOGIN_H
#define ISPMAIL_PROXY_LOGIN_H

struct service_peer;

/* The SASL authentication identity of the proxy tier. */
#define PROXY_LOGIN_IDENTITY	"ispmail-proxy"
/* The shortest and longest token, in characters. */
#define PROXY_LOGIN_TOKEN_MIN	32
#define PROXY_LOGIN_TOKEN_MAX	512

/*
 * The proxy's side: read the token of path.  0 ok (*token_r, caller
 * frees); -1 with *error_r (caller frees) naming the file and the fault.
 */
int proxy_login_token_read(const char *path, char **token_r,
	char **error_r);

/*
 * The backend's side: take digests, proxy_login_token_digests' value (64
 * hex digits each), before serving.  0 ok; -1 with *error_r (caller
 * frees).
 */
int proxy_login_init(const char *digests, char **error_r);

/* 1 when a SASL authcid names the proxy identity (exact match). */
int proxy_login_is_proxy(const char *authcid);

enum proxy_login_verdict {
	PROXY_LOGIN_OK = 1,
	/* Not from proxy_trusted_networks: a client's failed login. */
	PROXY_LOGIN_UNTRUSTED = 0,
	/* A trusted peer with a token not configured here (logged at
	 * error level: a proxy and its stores disagree). */
	PROXY_LOGIN_REFUSED = -1,
};

/*
 * May conn (the connection's own peer) log user in with token?  client
 * is the client address the session believes, for the log lines; every
 * refusal is logged here with user, client and proxy.
 */
enum proxy_login_verdict proxy_login_check(const struct service_peer *conn,
	const char *client, const char *user, const char *token);

#endif

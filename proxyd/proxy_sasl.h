/*
 * proxy_sasl: the client side of SASL PLAIN (RFC 4616) and LOGIN before
 * login, shared by the IMAP and POP3 fronts, which only frame the
 * challenges and errors in their own words.  The exchange's step lives
 * in the session (sasl_step); a finished exchange goes on to
 * proxy_auth_start().
 */
#ifndef ISPMAIL_PROXY_SASL_H
#define ISPMAIL_PROXY_SASL_H

#include <stddef.h>

struct proxy_session;

/*
 * Read proxy_login_token_file when set (pre_init: before the privilege
 * drop).  0 ok; -1 with *error_r (caller frees).
 */
int proxy_sasl_init(char **error_r);

enum proxy_sasl_result {
	PROXY_SASL_DONE = 0,	/* credentials handed to proxy_auth_start */
	PROXY_SASL_CONTINUE,	/* send *challenge_r (base64, maybe "") */
	PROXY_SASL_CANCELLED,	/* the client sent "*" */
	PROXY_SASL_ERROR,	/* *error_r: a static text */
};

/*
 * Begin mechanism mech ("PLAIN" or "LOGIN", any case): PROXY_SASL_
 * CONTINUE with the first challenge, or PROXY_SASL_ERROR for another.
 */
enum proxy_sasl_result proxy_sasl_begin(struct proxy_session *ps,
	const char *mech, const char **challenge_r, const char **error_r);
/*
 * A POP3 or SMTP "AUTH mech [initial-response]" (args, edited in place):
 * proxy_sasl_begin, then the initial response ("=": empty) if any.
 */
enum proxy_sasl_result proxy_sasl_auth_args(struct proxy_session *ps,
	char *args, const char **challenge_r, const char **error_r);
/* One client response (base64 text of len bytes; "*" cancels). */
enum proxy_sasl_result proxy_sasl_response(struct proxy_session *ps,
	const char *text, size_t len, const char **challenge_r,
	const char **error_r);

#endif

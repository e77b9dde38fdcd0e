/* proxy_sasl: SASL PLAIN and LOGIN before login (proxy_sasl.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "mail_params.h"
#include "proxy_login.h"
#include "proxy_sasl.h"
#include "proxyd.h"
#include "sasl.h"
#include "xalloc.h"

/* A user name or password of LOGIN, as sasl_plain_parse caps them. */
#define PROXY_SASL_VALUE_MAX	1024

enum proxy_sasl_step {
	PROXY_SASL_NONE = 0,
	PROXY_SASL_PLAIN,
	PROXY_SASL_LOGIN_USER,
	PROXY_SASL_LOGIN_PASS,
};

/* proxy_login_token_file's token; NULL: log in with passwords. */
static char *proxy_sasl_token;

int
proxy_sasl_init(char **error_r)
{
	if (*var_proxy_login_token_file == '\0')
		return 0;
	return proxy_login_token_read(var_proxy_login_token_file,
	    &proxy_sasl_token, error_r);
}

void
proxy_sasl_send_plain(struct proxy_session *ps, const char *command,
	int with_token)
{
	struct buf *plain = buf_new(4 * PROXY_SASL_VALUE_MAX);
	struct buf *encoded = buf_new(8 * PROXY_SASL_VALUE_MAX);

	ps->backend_token = with_token && proxy_sasl_token != NULL;
	if (ps->backend_token) {
		(void) buf_append_str(plain, ps->user);
		(void) buf_append_char(plain, '\0');
		(void) buf_append_str(plain, PROXY_LOGIN_IDENTITY);
		(void) buf_append_char(plain, '\0');
		(void) buf_append_str(plain, proxy_sasl_token);
	} else {
		(void) buf_append_char(plain, '\0');
		(void) buf_append_str(plain, ps->user);
		(void) buf_append_char(plain, '\0');
		(void) buf_append_str(plain, ps->password != NULL ?
		    ps->password : "");
	}
	(void) base64_encode(buf_data(plain), buf_len(plain), encoded);
	proxy_backend_send(ps, "%s%s\r\n", command, buf_cstr(encoded));
	explicit_bzero(buf_data(plain), buf_len(plain));
	explicit_bzero(buf_data(encoded), buf_len(encoded));
	buf_free(&plain);
	buf_free(&encoded);
}

enum proxy_sasl_result
proxy_sasl_begin(struct proxy_session *ps, const char *mech,
	const char **challenge_r, const char **error_r)
{
	if (strcasecmp(mech, "PLAIN") == 0) {
		ps->sasl_step = PROXY_SASL_PLAIN;
		*challenge_r = "";
	} else if (strcasecmp(mech, "LOGIN") == 0) {
		ps->sasl_step = PROXY_SASL_LOGIN_USER;
		*challenge_r = "VXNlcm5hbWU6";		/* "Username:" */
	} else {
		*error_r = "Unsupported authentication mechanism";
		return PROXY_SASL_ERROR;
	}
	return PROXY_SASL_CONTINUE;
}

enum proxy_sasl_result
proxy_sasl_auth_args(struct proxy_session *ps, char *args,
	const char **challenge_r, const char **error_r)
{
	enum proxy_sasl_result result;
	char *ir = strchr(args, ' ');

	if (ir != NULL)
		*ir++ = '\0';
	result = proxy_sasl_begin(ps, args, challenge_r, error_r);
	if (result == PROXY_SASL_CONTINUE && ir != NULL) {
		if (strcmp(ir, "=") == 0)
			ir[0] = '\0';
		result = proxy_sasl_response(ps, ir, strlen(ir), challenge_r,
		    error_r);
	}
	return result;
}

enum proxy_sasl_result
proxy_sasl_response(struct proxy_session *ps, const char *text, size_t len,
	const char **challenge_r, const char **error_r)
{
	enum proxy_sasl_step step = (enum proxy_sasl_step) ps->sasl_step;
	enum proxy_sasl_result result = PROXY_SASL_ERROR;
	char *authzid = NULL, *authcid = NULL, *password = NULL;
	struct buf *decoded;

	ps->sasl_step = PROXY_SASL_NONE;
	if (len == 1 && text[0] == '*')
		return PROXY_SASL_CANCELLED;
	decoded = buf_new(4 * PROXY_SASL_VALUE_MAX);
	if (base64_decode(text, len, decoded) < 0) {
		*error_r = "Invalid base64 data";
		goto out;
	}
	switch (step) {
	case PROXY_SASL_PLAIN:
		if (sasl_plain_parse(decoded, &authzid, &authcid, &password,
		    error_r) < 0)
			break;
		/* Acting for someone else is not offered. */
		if (*authzid != '\0' && strcmp(authzid, authcid) != 0) {
			*error_r = "Authorization identity refused";
			free(authcid);
			explicit_bzero(password, strlen(password));
			free(password);
			break;
		}
		proxy_auth_start(ps, authcid, password);
		result = PROXY_SASL_DONE;
		break;
	case PROXY_SASL_LOGIN_USER:
	case PROXY_SASL_LOGIN_PASS:
		if (memchr(buf_data(decoded), '\0', buf_len(decoded)) != NULL ||
		    buf_len(decoded) > PROXY_SASL_VALUE_MAX ||
		    (step == PROXY_SASL_LOGIN_USER && buf_len(decoded) == 0)) {
			*error_r = "Invalid user name or password";
			break;
		}
		if (step == PROXY_SASL_LOGIN_USER) {
			free(ps->login);
			ps->login = buf_strdup(decoded);
			ps->sasl_step = PROXY_SASL_LOGIN_PASS;
			*challenge_r = "UGFzc3dvcmQ6";	/* "Password:" */
			result = PROXY_SASL_CONTINUE;
			break;
		}
		authcid = ps->login;
		ps->login = NULL;
		proxy_auth_start(ps, authcid, buf_strdup(decoded));
		result = PROXY_SASL_DONE;
		break;
	default:
		*error_r = "No authentication in progress";
		break;
	}
out:
	free(authzid);
	explicit_bzero(buf_data(decoded), buf_len(decoded));
	buf_free(&decoded);
	return result;
}

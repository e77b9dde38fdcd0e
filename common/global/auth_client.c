/* auth_client: requests to authd(8) and parsing of its answers. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "attr.h"
#include "auth_client.h"
#include "buf.h"
#include "xalloc.h"

/* An answer holds at most status, user, hosts and reason. */
#define AUTH_REPLY_ATTRS 8

int
auth_client_connect(const char *queue_dir, char **error_r)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if ((size_t) snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s",
	    queue_dir, AUTH_SOCKET) >= sizeof(sun.sun_path)) {
		*error_r = xasprintf("%s/%s: path too long", queue_dir,
		    AUTH_SOCKET);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*error_r = xasprintf("socket: %s", strerror(errno));
		return -1;
	}
	/*
	 * A unix socket connects at once or not at all: EAGAIN means the
	 * listen queue is full (every authd busy), no connect in progress.
	 */
	if (connect(fd, (struct sockaddr *) &sun, sizeof(sun)) < 0) {
		*error_r = xasprintf("connect to %s: %s", sun.sun_path,
		    strerror(errno));
		(void) close(fd);
		return -1;
	}
	return fd;
}

static int
auth_value_ok(const char *value)
{
	size_t len = strlen(value);

	return len > 0 && len <= AUTH_VALUE_MAX;
}

int
auth_client_request(struct buf *out, const char *service,
	const char *login, const char *password, const char *client)
{
	size_t before = buf_len(out);

	if (!auth_value_ok(service) || !auth_value_ok(login) ||
	    !auth_value_ok(password) || !auth_value_ok(client))
		return -1;
	if (attr_put(out, "request", "authenticate") < 0 ||
	    attr_put(out, "service", service) < 0 ||
	    attr_put(out, "login", login) < 0 ||
	    attr_put(out, "password", password) < 0 ||
	    attr_put(out, "client", client) < 0 || attr_end(out) < 0) {
		buf_truncate(out, before);
		return -1;
	}
	return 0;
}

void
auth_reply_clear(struct auth_reply *reply)
{
	free(reply->user);
	free(reply->hosts);
	free(reply->reason);
	memset(reply, 0, sizeof(*reply));
}

/*
 * A copy of attribute name when it is text for a protocol line or a log:
 * no control bytes (spaces only where allowed).  NULL when absent.
 */
static int
auth_reply_text(const struct attr_list *l, const char *name, int spaces,
	char **value_r)
{
	size_t len, i;
	const char *value = attr_get_len(l, name, &len);

	*value_r = NULL;
	if (value == NULL)
		return 0;
	if (len == 0 || len > AUTH_VALUE_MAX)
		return -1;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char) value[i];

		if (c < 0x20 || c == 0x7f || (c == ' ' && !spaces))
			return -1;
	}
	*value_r = xstrndup(value, len);
	return 0;
}

static int
auth_reply_fill(const struct attr_list *l, struct auth_reply *reply,
	const char **error_r)
{
	const char *status = attr_get(l, "status");

	if (status == NULL) {
		*error_r = "answer without a status";
		return -1;
	}
	if (strcmp(status, "ok") == 0)
		reply->status = AUTH_OK;
	else if (strcmp(status, "fail") == 0)
		reply->status = AUTH_FAIL;
	else if (strcmp(status, "tempfail") == 0)
		reply->status = AUTH_TEMPFAIL;
	else if (strcmp(status, "error") == 0)
		reply->status = AUTH_ERROR;
	else {
		*error_r = "unknown status";
		return -1;
	}
	if (auth_reply_text(l, "user", 0, &reply->user) < 0 ||
	    auth_reply_text(l, "hosts", 1, &reply->hosts) < 0 ||
	    auth_reply_text(l, "reason", 1, &reply->reason) < 0) {
		*error_r = "answer value with control bytes or too long";
		return -1;
	}
	if (reply->status == AUTH_OK &&
	    (reply->user == NULL || reply->hosts == NULL)) {
		*error_r = "ok without user and hosts";
		return -1;
	}
	return 0;
}

int
auth_client_reply_parse(struct buf *in, struct auth_reply *reply,
	const char **error_r)
{
	const char *data = buf_cstr(in), *end;
	size_t len = buf_len(in), record;
	struct attr_list *l;
	int rc;

	memset(reply, 0, sizeof(*reply));
	if (len > 0 && data[0] == '\n') {
		*error_r = "empty answer";
		return -1;
	}
	end = len > 0 ? memmem(data, len, "\n\n", 2) : NULL;
	if (end == NULL) {
		if (len >= AUTH_REPLY_MAX) {
			*error_r = "answer too long";
			return -1;
		}
		return 0;
	}
	record = (size_t) (end - data) + 2;
	if (record > AUTH_REPLY_MAX) {
		*error_r = "answer too long";
		return -1;
	}
	l = attr_list_new(AUTH_REPLY_ATTRS, AUTH_VALUE_MAX);
	rc = attr_parse(l, data, record, error_r) < 0 ? -1 :
	    auth_reply_fill(l, reply, error_r);
	attr_list_free(&l);
	if (rc < 0) {
		auth_reply_clear(reply);
		return -1;
	}
	buf_consume(in, record);
	return 1;
}

/*
 * fuzz_haproxy: the PROXY protocol parser (haproxy.h), v2 and v1, fed
 * whole and as every prefix, and authd's answer parser (auth_client.h):
 * what they accept must be consistent and what they hand on clean.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "auth_client.h"
#include "buf.h"
#include "fuzz.h"
#include "haproxy.h"

static void
check_login(const char *login)
{
	const unsigned char *p = (const unsigned char *) login;

	if (login == NULL)
		return;
	if (*p == '\0' || strlen(login) > 255)
		abort();
	for (; *p != '\0'; p++) {
		if (*p <= 0x20 || *p == 0x7f)
			abort();
	}
}

static void
fuzz_proxy(const uint8_t *data, size_t size)
{
	struct haproxy_info info, again;
	struct buf *out, *again_out;
	const char *error;
	int rc, prefix_rc;
	size_t cut;

	rc = haproxy_parse(data, size, &info, &error);
	if (rc < 0 && error == NULL)
		abort();
	if (rc > 0) {
		if ((size_t) rc > size || rc > HAPROXY_MAX_HEADER)
			abort();
		check_login(info.login);
		/* Not local: the addresses are IP, both of one family. */
		if (!info.local && (info.src.ss_family != info.dst.ss_family ||
		    (info.src.ss_family != AF_INET &&
		    info.src.ss_family != AF_INET6)))
			abort();
		/* What we accept we can say again, the same way twice. */
		if (!info.local) {
			out = buf_new(HAPROXY_MAX_HEADER);
			again_out = buf_new(HAPROXY_MAX_HEADER);
			if (haproxy_encode(out, (struct sockaddr *) &info.src,
			    (struct sockaddr *) &info.dst, info.login) < 0 ||
			    haproxy_parse((const unsigned char *)
			    buf_cstr(out), buf_len(out), &again, &error) !=
			    (int) buf_len(out) ||
			    haproxy_encode(again_out,
			    (struct sockaddr *) &again.src,
			    (struct sockaddr *) &again.dst, again.login) < 0 ||
			    buf_len(out) != buf_len(again_out) ||
			    memcmp(buf_cstr(out), buf_cstr(again_out),
			    buf_len(out)) != 0)
				abort();
			haproxy_info_clear(&again);
			buf_free(&out);
			buf_free(&again_out);
		}
		haproxy_info_clear(&info);
	}
	/* A prefix of a header is never taken for a whole one. */
	for (cut = 0; cut < size && cut < 64; cut++) {
		prefix_rc = haproxy_parse(data, cut, &info, &error);
		if (prefix_rc > 0 && rc > 0 && prefix_rc != rc)
			abort();
		haproxy_info_clear(&info);
	}
}

static void
fuzz_auth_reply(const uint8_t *data, size_t size)
{
	struct buf *in = buf_new(size + 1);
	struct auth_reply reply;
	const char *error;
	size_t before;
	int rc;

	(void) buf_append(in, data, size);
	for (;;) {
		before = buf_len(in);
		rc = auth_client_reply_parse(in, &reply, &error);
		if (rc != 1)
			break;
		if (buf_len(in) >= before)
			abort();
		if (reply.status == AUTH_OK &&
		    (reply.user == NULL || reply.hosts == NULL ||
		    strpbrk(reply.user, "\r\n ") != NULL ||
		    strpbrk(reply.hosts, "\r\n") != NULL))
			abort();
		auth_reply_clear(&reply);
	}
	buf_free(&in);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_init();
	fuzz_proxy(data, size);
	fuzz_auth_reply(data, size);
	return 0;
}

/* smtp_connect: the agent's connections, from its source address. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "connect.h"
#include "dns.h"
#include "log.h"
#include "mail_params.h"
#include "params.h"
#include "smtp.h"
#include "xalloc.h"

/* Bind to the configured source address of the family, if any. */
static int
smtp_bind_source(int fd, int family, void *ctx, char **error_r)
{
	const char *source = family == AF_INET6 ? var_smtp_bind_address6 :
	    family == AF_INET ? var_smtp_bind_address : "";
	struct sockaddr_storage ss;
	struct dns_addr a;
	socklen_t len;

	(void) ctx;
	if (*source == '\0')
		return 0;
	if (dns_addr_parse(source, &a) < 0 || a.family != family) {
		*error_r = xasprintf("bad %s \"%s\"", family == AF_INET6 ?
		    "smtp_bind_address6" : "smtp_bind_address", source);
		return -1;
	}
	len = dns_addr_sockaddr(&a, 0, &ss);
	if (bind(fd, (struct sockaddr *) &ss, len) < 0) {
		*error_r = xasprintf("bind %s: %s", source, strerror(errno));
		return -1;
	}
	return 0;
}

int
smtp_connect_fd(const struct sockaddr *sa, socklen_t len, char **error_r,
	int *local_r)
{
	return net_connect(sa, len, (int) (var_smtp_connect_timeout * 1000),
	    smtp_bind_source, NULL, error_r, local_r);
}

/*
 * nexthop may list several store hosts sharing one mailbox store, comma
 * separated (mail_host.h): each is tried in turn, each within
 * smtp_connect_timeout, and the last one's error is the answer.
 */
int
smtp_connect_lmtp(const char *nexthop, char **error_r)
{
	char **hops, *error = NULL;
	int count, i, fd = -1;

	hops = params_list_split(nexthop, &count);
	for (i = 0; i < count && fd < 0; i++) {
		xfree(error);
		error = NULL;
		fd = net_connect_nexthop(hops[i], var_queue_directory,
		    (int) (var_smtp_connect_timeout * 1000), smtp_bind_source,
		    NULL, &error);
		if (fd < 0 && i + 1 < count)
			log_info("%s: %s; trying %s", hops[i], error,
			    hops[i + 1]);
	}
	params_list_free(hops);
	if (fd < 0)
		*error_r = error != NULL ? error : xstrdup("no next hop");
	else
		xfree(error);
	return fd;
}

/* scan_client: parallel requests to filter pools; see scan_client.h. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "dns.h"
#include "params.h"
#include "scan_client.h"
#include "xalloc.h"

/* Hosts per list: a pool is a handful of machines, never hundreds. */
#define SCAN_HOSTS_MAX 32

enum scan_state { SCAN_NEXT_HOST, SCAN_CONNECTING, SCAN_SENDING,
	SCAN_READING, SCAN_FINISHED };

struct scan_job {
	char *kind;
	char **hosts;
	int host_count;
	int host_next;		/* the next to try */
	struct buf *request;
	size_t sent;
	struct buf *reply;
	enum scan_state state;
	enum scan_status status;
	int fd;
	int slot_fd;		/* the flock(2)ed slot file, or -1 */
	long long deadline;	/* ms, of the current step */
	const char *host;	/* hosts[host_next - 1] */
	char *error;
	int busy_hosts;		/* skipped because full */
	/* Per host overrides ("/limit=N/connect=T/scan=T"); -1: global. */
	long long *h_limit, *h_connect_ms, *h_scan_ms;
};

/* The value for the current host: its override, else the global one. */
static long long
scan_host_value(const struct scan_job *j, const long long *values,
	long long global)
{
	int i = j->host_next - 1;

	return i >= 0 && values[i] >= 0 ? values[i] : global;
}

/*
 * Split the options off hosts[i] ("host:port/limit=4/connect=1s/
 * scan=30s", in any order, each at most once) into the override arrays.
 * 0, or -1 with *error_r.
 */
static int
scan_host_options(struct scan_job *j, int i, const char *kind,
	char **error_r)
{
	char *opt = strchr(j->hosts[i], '/'), *next, *eq;
	long long v, *slot;

	j->h_limit[i] = j->h_connect_ms[i] = j->h_scan_ms[i] = -1;
	if (opt == NULL)
		return 0;
	*opt++ = '\0';
	for (; opt != NULL; opt = next) {
		next = strchr(opt, '/');
		if (next != NULL)
			*next++ = '\0';
		eq = strchr(opt, '=');
		if (eq == NULL)
			goto bad;
		*eq++ = '\0';
		if (strcmp(opt, "limit") == 0) {
			slot = &j->h_limit[i];
			if (params_parse_int(eq, &v) < 0 || v < 0 || v > 1000)
				goto bad;
		} else if (strcmp(opt, "connect") == 0
		    || strcmp(opt, "scan") == 0) {
			slot = opt[0] == 'c' ? &j->h_connect_ms[i]
			    : &j->h_scan_ms[i];
			if (params_parse_time(eq, &v) < 0 || v < 1
			    || v > 3600)
				goto bad;
			v *= 1000;
		} else
			goto bad;
		if (*slot >= 0)
			goto bad;
		*slot = v;
	}
	return 0;
bad:
	*error_r = xasprintf("%s: %s: bad host option (limit=N, connect=TIME, "
	    "scan=TIME, each once)", kind, j->hosts[i]);
	return -1;
}

static long long
scan_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct scan_job *
scan_job_new(const char *kind, const char *hosts, const struct buf *request,
	char **error_r)
{
	struct scan_job *j;
	char **list;
	int count;

	list = params_list_split(hosts, &count);
	if (count == 0 || count > SCAN_HOSTS_MAX) {
		*error_r = xasprintf("%s: %d hosts listed (1 to %d)", kind,
		    count, SCAN_HOSTS_MAX);
		params_list_free(list);
		return NULL;
	}
	j = xcalloc(1, sizeof(*j));
	j->fd = j->slot_fd = -1;
	j->h_limit = xcalloc((size_t) count, sizeof(long long));
	j->h_connect_ms = xcalloc((size_t) count, sizeof(long long));
	j->h_scan_ms = xcalloc((size_t) count, sizeof(long long));
	j->hosts = list;
	for (int i = 0; i < count; i++) {
		const char *port;

		if (scan_host_options(j, i, kind, error_r) < 0) {
			scan_job_free(&j);
			return NULL;
		}
		port = strrchr(list[i], ':');

		if (port == NULL || port[1] == '\0' ||
		    strspn(port + 1, "0123456789") != strlen(port + 1) ||
		    port == list[i] || (list[i][0] == '[' && port[-1] != ']')) {
			*error_r = xasprintf("%s: %s is not host:port or "
			    "[IPv6]:port", kind, list[i]);
			scan_job_free(&j);
			return NULL;
		}
	}
	j->kind = xstrdup(kind);
	j->host_count = count;
	j->request = buf_new(buf_len(request) + 1);
	(void) buf_append(j->request, buf_cstr(request), buf_len(request));
	j->reply = buf_new(SCAN_REPLY_MAX);
	j->fd = j->slot_fd = -1;
	j->state = SCAN_NEXT_HOST;
	return j;
}

static void
scan_job_close(struct scan_job *j)
{
	if (j->fd >= 0)
		close(j->fd);
	if (j->slot_fd >= 0)
		close(j->slot_fd);	/* releases the flock */
	j->fd = j->slot_fd = -1;
}

void
scan_job_free(struct scan_job **jp)
{
	struct scan_job *j = *jp;

	if (j == NULL)
		return;
	scan_job_close(j);
	free(j->kind);
	params_list_free(j->hosts);
	free(j->h_limit);
	free(j->h_connect_ms);
	free(j->h_scan_ms);
	buf_free(&j->request);
	buf_free(&j->reply);
	free(j->error);
	free(j);
	*jp = NULL;
}

static void
scan_job_fail(struct scan_job *j, enum scan_status status, char *error)
{
	scan_job_close(j);
	free(j->error);
	j->error = error;
	j->status = status;
	j->state = SCAN_FINISHED;
}

/*
 * A free slot of host (one of limit slot files), flock(2)ed: its
 * descriptor; -1 when every slot is taken (or slots cannot be
 * counted: then the cap is not enforced, so scanning goes on).
 */
static int
scan_slot(const char *slot_dir, const char *kind, const char *host,
	long long limit, int *full_r)
{
	char *path, *name;
	long long i;
	int fd;
	size_t k;

	*full_r = 0;
	if (limit <= 0)
		return -1;
	(void) mkdir(slot_dir, 0700);
	/* Host names may hold ':' '[' ']': fine in a file name, '/' not. */
	name = xasprintf("%s-%s", kind, host);
	for (k = 0; name[k] != '\0'; k++)
		if (name[k] == '/')
			name[k] = '_';
	for (i = 0; i < limit; i++) {
		path = xasprintf("%s/%s.%lld", slot_dir, name, i);
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
		    0600);
		free(path);
		if (fd < 0)
			break;
		if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
			free(name);
			return fd;
		}
		close(fd);
	}
	free(name);
	*full_r = i == limit;
	return -1;
}

/*
 * Host names of the pools, resolved by scan_resolve() (at process start):
 * connecting never asks DNS, so a session never waits on a resolver
 * beyond the connect timeout.  A handful of entries (SCAN_HOSTS_MAX a
 * list, two lists), searched linearly.
 */
#define SCAN_NAMES_MAX (2 * SCAN_HOSTS_MAX)

static struct scan_name {
	char *name;
	char address[INET6_ADDRSTRLEN];
} scan_names[SCAN_NAMES_MAX];
static size_t scan_name_count;

/* Split a copy of "host:port" / "[v6]:port": host (no brackets), port. */
static char *
scan_split(const char *hostport, char **host_r, char **port_r)
{
	char *copy = xstrdup(hostport), *port, *h = copy;

	port = strrchr(copy, ':');
	if (port == NULL) {
		free(copy);
		return NULL;
	}
	*port++ = '\0';
	if (h[0] == '[' && h[strlen(h) - 1] == ']') {
		h[strlen(h) - 1] = '\0';
		h++;
	}
	*host_r = h;
	*port_r = port;
	return copy;
}

static int
scan_is_literal(const char *host)
{
	unsigned char addr[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, addr) == 1
	    || inet_pton(AF_INET6, host, addr) == 1;
}

static const char *
scan_name_find(const char *name)
{
	size_t i;

	for (i = 0; i < scan_name_count; i++)
		if (strcasecmp(scan_names[i].name, name) == 0)
			return scan_names[i].address;
	return NULL;
}

int
scan_hosts_named(const char *hosts)
{
	char **list, *copy, *host, *port;
	int count, i, named = 0;

	list = params_list_split(hosts, &count);
	for (i = 0; i < count && !named; i++) {
		copy = scan_split(list[i], &host, &port);
		named = copy != NULL && !scan_is_literal(host);
		free(copy);
	}
	params_list_free(list);
	return named;
}

int
scan_resolve(struct dns *dns, const char *hosts, int timeout_ms,
	char **error_r)
{
	struct dns_answer *ans = NULL;
	char **list, *copy, *host, *port;
	int count, i, failed = 0;
	enum dns_status st;

	*error_r = NULL;
	list = params_list_split(hosts, &count);
	for (i = 0; i < count; i++) {
		copy = scan_split(list[i], &host, &port);
		if (copy == NULL || scan_is_literal(host)
		    || scan_name_find(host) != NULL
		    || scan_name_count == SCAN_NAMES_MAX) {
			free(copy);
			continue;
		}
		st = dns != NULL ? dns_addr_lookup(dns, host, timeout_ms, &ans)
		    : DNS_TEMPFAIL;
		if (st == DNS_FOUND && ans->addr_count > 0) {
			scan_names[scan_name_count].name = xstrdup(host);
			snprintf(scan_names[scan_name_count].address,
			    sizeof(scan_names[0].address), "%s",
			    ans->addrs[0].text);
			scan_name_count++;
		} else if (!failed++) {
			*error_r = xasprintf("%s does not resolve (%s)",
			    host, st == DNS_TEMPFAIL ? "temporary failure"
			    : "no address");
		}
		dns_answer_free(&ans);
		free(copy);
	}
	params_list_free(list);
	return failed ? -1 : 0;
}

/* Start a non-blocking connect to "host:port" or "[v6]:port". */
static int
scan_connect(const char *hostport, char **error_r)
{
	struct addrinfo hints, *res = NULL;
	char *host, *port, *h, *copy;
	const char *resolved, *target;
	int fd = -1, rc;

	copy = scan_split(hostport, &h, &port);
	if (copy == NULL) {
		*error_r = xasprintf("%s: no port", hostport);
		return -1;
	}
	host = copy;
	target = h;
	/* A name: the address scan_resolve() found; never a lookup here. */
	if (!scan_is_literal(h)) {
		resolved = scan_name_find(h);
		if (resolved == NULL) {
			*error_r = xasprintf("%s: name not resolved at start",
			    hostport);
			free(host);
			return -1;
		}
		target = resolved;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | AI_NUMERICHOST;
	rc = getaddrinfo(target, port, &hints, &res);
	if (rc != 0) {
		*error_r = xasprintf("%s: %s", hostport, gai_strerror(rc));
		free(host);
		return -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd < 0 || (connect(fd, res->ai_addr, res->ai_addrlen) < 0 &&
	    errno != EINPROGRESS)) {
		*error_r = xasprintf("connect %s: %s", hostport,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	free(host);
	return fd;
}

/* Move j to its next host, or finish it SCAN_UNAVAILABLE. */
static void
scan_next_host(struct scan_job *j, const char *slot_dir, long long limit,
	long long connect_ms)
{
	char *error = NULL;
	int full;

	while (j->host_next < j->host_count) {
		long long host_limit;

		j->host = j->hosts[j->host_next++];
		host_limit = scan_host_value(j, j->h_limit, limit);
		scan_job_close(j);
		j->slot_fd = scan_slot(slot_dir, j->kind, j->host,
		    host_limit, &full);
		if (full) {
			j->busy_hosts++;
			free(j->error);
			j->error = xasprintf("%s at its limit of %lld scans",
			    j->host, host_limit);
			continue;
		}
		j->fd = scan_connect(j->host, &error);
		if (j->fd < 0) {
			free(j->error);
			j->error = error;
			error = NULL;
			continue;
		}
		j->sent = 0;
		buf_reset(j->reply);
		j->state = SCAN_CONNECTING;
		j->deadline = scan_now_ms() + scan_host_value(j,
		    j->h_connect_ms, connect_ms);
		return;
	}
	scan_job_close(j);
	j->status = SCAN_UNAVAILABLE;
	j->state = SCAN_FINISHED;
	if (j->error == NULL)
		j->error = xstrdup("no host");
}

/* Progress on j after poll said revents; may finish it. */
static void
scan_step(struct scan_job *j, short revents, const char *slot_dir,
	long long limit, long long connect_ms, long long scan_ms)
{
	socklen_t elen = sizeof(int);
	char chunk[16384];
	ssize_t n;
	int err = 0;

	if (j->state == SCAN_CONNECTING) {
		if (getsockopt(j->fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0 ||
		    err != 0) {
			free(j->error);
			j->error = xasprintf("connect %s: %s", j->host,
			    strerror(err != 0 ? err : errno));
			scan_next_host(j, slot_dir, limit, connect_ms);
			return;
		}
		j->state = SCAN_SENDING;
		j->deadline = scan_now_ms() + scan_host_value(j,
		    j->h_scan_ms, scan_ms);
	}
	if (j->state == SCAN_SENDING) {
		while (j->sent < buf_len(j->request)) {
			n = send(j->fd, buf_cstr(j->request) + j->sent,
			    buf_len(j->request) - j->sent, MSG_NOSIGNAL);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno == EAGAIN)
				return;
			if (n < 0) {
				/* The filter may have answered early. */
				if (errno == EPIPE || errno == ECONNRESET)
					break;
				scan_job_fail(j, SCAN_CRASHED, xasprintf(
				    "%s: send: %s", j->host, strerror(errno)));
				return;
			}
			j->sent += (size_t) n;
		}
		(void) shutdown(j->fd, SHUT_WR);
		j->state = SCAN_READING;
		j->deadline = scan_now_ms() + scan_host_value(j,
		    j->h_scan_ms, scan_ms);
		revents |= POLLIN;
	}
	if (j->state != SCAN_READING || (revents & (POLLIN | POLLHUP |
	    POLLERR)) == 0)
		return;
	for (;;) {
		n = recv(j->fd, chunk, sizeof(chunk), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0) {
			scan_job_fail(j, SCAN_CRASHED, xasprintf("%s: %s "
			    "during the scan", j->host, strerror(errno)));
			return;
		}
		if (n == 0)
			break;
		if (buf_append(j->reply, chunk, (size_t) n) < 0) {
			scan_job_fail(j, SCAN_CRASHED, xasprintf("%s: reply "
			    "over %d bytes", j->host, SCAN_REPLY_MAX));
			return;
		}
	}
	if (buf_len(j->reply) == 0) {
		scan_job_fail(j, SCAN_CRASHED, xasprintf("%s: connection "
		    "closed during the scan", j->host));
		return;
	}
	scan_job_close(j);
	j->status = SCAN_DONE;
	j->state = SCAN_FINISHED;
}

void
scan_run(struct scan_job **jobs, size_t count, const char *slot_dir,
	long long limit, long long connect_ms, long long scan_ms)
{
	struct pollfd *pfd = xcalloc(count + 1, sizeof(*pfd));
	long long now, wait;
	size_t i, active;

	for (i = 0; i < count; i++)
		scan_next_host(jobs[i], slot_dir, limit, connect_ms);
	for (;;) {
		now = scan_now_ms();
		wait = -1;
		active = 0;
		for (i = 0; i < count; i++) {
			struct scan_job *j = jobs[i];

			pfd[i].fd = -1;
			pfd[i].events = 0;
			pfd[i].revents = 0;
			if (j->state == SCAN_FINISHED)
				continue;
			if (now >= j->deadline) {
				if (j->state == SCAN_CONNECTING) {
					free(j->error);
					j->error = xasprintf("connect %s: "
					    "timed out", j->host);
					scan_next_host(j, slot_dir, limit,
					    connect_ms);
				} else {
					scan_job_fail(j, SCAN_TIMEOUT,
					    xasprintf("%s: no answer within "
					    "%lld ms", j->host,
					    scan_host_value(j, j->h_scan_ms,
					    scan_ms)));
				}
				if (j->state == SCAN_FINISHED)
					continue;
			}
			pfd[i].fd = j->fd;
			pfd[i].events = j->state == SCAN_READING ? POLLIN :
			    POLLOUT;
			if (wait < 0 || j->deadline - now < wait)
				wait = j->deadline - now;
			active++;
		}
		if (active == 0)
			break;
		if (poll(pfd, count, (int) (wait < 0 ? 0 : wait)) < 0 &&
		    errno != EINTR)
			break;
		for (i = 0; i < count; i++)
			if (pfd[i].fd >= 0 && pfd[i].revents != 0)
				scan_step(jobs[i], pfd[i].revents, slot_dir,
				    limit, connect_ms, scan_ms);
	}
	for (i = 0; i < count; i++)
		if (jobs[i]->state != SCAN_FINISHED)
			scan_job_fail(jobs[i], SCAN_CRASHED,
			    xasprintf("poll: %s", strerror(errno)));
	free(pfd);
}

enum scan_status
scan_job_status(const struct scan_job *j)
{
	return j->status;
}

const struct buf *
scan_job_reply(const struct scan_job *j)
{
	return j->reply;
}

const char *
scan_job_host(const struct scan_job *j)
{
	return j->host;
}

const char *
scan_job_error(const struct scan_job *j)
{
	return j->error != NULL ? j->error : "";
}

/* master_status: answer "request=status" on the master's status socket. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "attr.h"
#include "buf.h"
#include "log.h"
#include "mail_params.h"
#include "master.h"
#include "master_conf.h"
#include "master_listen.h"
#include "master_spawn.h"
#include "master_status.h"
#include "stream.h"
#include "xalloc.h"

struct status_client {
	int fd;
	struct buf *request;
	long long deadline;
	struct status_client *next;
};

static int status_listen_fd = -1;
static char *status_path;
static struct status_client *clients;
static int client_count;

int
master_status_open(const char *path, char **error_r)
{
	if (master_listen_unix(path, 0600, (uid_t) -1, (gid_t) -1,
	    &status_listen_fd, error_r) < 0)
		return -1;
	status_path = xstrdup(path);
	return 0;
}

static void
client_free(struct status_client *client)
{
	struct status_client **pp;

	for (pp = &clients; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == client) {
			*pp = client->next;
			break;
		}
	}
	close(client->fd);
	buf_free(&client->request);
	free(client);
	client_count--;
}

static void
put_service(struct buf *out, const struct master_service *svc)
{
	const struct master_service_conf *sc = svc->conf;

	/* Retired children are still at work: they count as busy. */
	(void) attr_put(out, "service", sc->name);
	(void) attr_put(out, "type",
	    sc->type == MASTER_SERVICE_INET ? "inet" : "unix");
	(void) attr_put(out, "listen", sc->listen);
	(void) attr_put(out, "user", sc->user);
	(void) attr_put_int(out, "maxproc", sc->maxproc);
	(void) attr_put_int(out, "busy", svc->busy + svc->retired);
	(void) attr_put_int(out, "idle", svc->idle);
	(void) attr_put_int(out, "total", svc->total + svc->retired);
	(void) attr_put_int(out, "cap_hits", (long long) svc->cap_hits);
	(void) attr_put_int(out, "abnormal_exits",
	    (long long) svc->abnormal_exits);
	(void) attr_put_int(out, "spawns", (long long) svc->spawns);
	(void) attr_put_int(out, "throttled", master_service_throttled(svc));
	(void) attr_put_int(out, "stress", svc->stress);
	(void) attr_put_int(out, "stress_events",
	    (long long) svc->stress_events);
	(void) attr_end(out);
}

static void
build_answer(struct buf *out, const struct attr_list *request,
	const char *parse_error)
{
	const struct master_service *svc;
	const char *verb;
	int count = 0;

	verb = parse_error == NULL ? attr_get(request, "request") : NULL;
	if (verb == NULL || strcmp(verb, "status") != 0) {
		(void) attr_put(out, "error", parse_error != NULL ? parse_error
		    : verb == NULL ? "no request attribute"
		    : "unknown request");
		(void) attr_end(out);
		return;
	}
	for (svc = master_services; svc != NULL; svc = svc->next) {
		put_service(out, svc);
		count++;
	}
	(void) attr_put_int(out, "end", 1);
	(void) attr_put_int(out, "pid", (long long) getpid());
	(void) attr_put_int(out, "uptime",
	    (long long) (time(NULL) - master_start_time));
	(void) attr_put_int(out, "services", count);
	(void) attr_end(out);
}

/*
 * XXX: the answer is written with the stream's 2 s deadline, so a client
 * that does not read could hold the loop that long; answers are a few
 * hundred bytes a service and fit the socket buffer.
 */
static void
answer(struct status_client *client, const char *data, size_t len,
	const char *error)
{
	struct attr_list *request = attr_list_new(
	    (size_t) var_attr_count_limit, (size_t) var_attr_value_limit);
	struct buf *out = buf_new(BUF_DEFAULT_CAP);
	struct stream *s;

	if (error == NULL && attr_parse(request, data, len, &error) < 0
	    && error == NULL)
		error = "malformed request";
	build_answer(out, request, error);
	s = stream_new(client->fd, MASTER_STATUS_TIMEOUT_MS,
	    MASTER_STATUS_TIMEOUT_MS);
	if (attr_write(s, out) != STREAM_OK)
		log_debug("status socket: write: %s", stream_error(s));
	stream_free(&s);
	buf_free(&out);
	attr_list_free(&request);
}

/* The length of the request up to its empty line; 0 while incomplete. */
static size_t
record_length(const struct buf *request)
{
	const char *data = buf_cstr(request);
	size_t len = buf_len(request), start = 0, i;

	for (i = 0; i < len; i++) {
		if (data[i] != '\n')
			continue;
		if (i == start)
			return i + 1;
		start = i + 1;
	}
	return 0;
}

/*
 * Raw carriage returns cannot be part of a record (values escape them),
 * so they are dropped: "socat -" users on CRLF terminals work too.
 */
static int
append_without_cr(struct buf *request, const char *data, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (data[i] != '\r' && buf_append_char(request, data[i]) < 0)
			return -1;
	return 0;
}

static void
client_ready(int fd, short revents, void *ctx)
{
	struct status_client *client = ctx;
	char chunk[1024];
	size_t record;
	ssize_t n;

	n = recv(fd, chunk, sizeof(chunk), MSG_DONTWAIT);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n < 0) {
		client_free(client);
		return;
	}
	if (n > 0 && append_without_cr(client->request, chunk, (size_t) n)
	    < 0) {
		answer(client, "", 0, "request too long");
		client_free(client);
		return;
	}
	record = record_length(client->request);
	/* A request without its empty line before EOF is still answered. */
	if (record == 0 && n == 0)
		record = buf_len(client->request);
	if (record > 0)
		answer(client, buf_cstr(client->request), record, NULL);
	if (record > 0 || n == 0)
		client_free(client);
}

static void
listener_ready(int fd, short revents, void *ctx)
{
	struct status_client *client;
	int client_fd;

	client_fd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (client_fd < 0) {
		if (errno != EAGAIN && errno != EINTR
		    && errno != ECONNABORTED)
			log_warn("status socket: accept: %m");
		return;
	}
	client = xcalloc(1, sizeof(*client));
	client->fd = client_fd;
	client->request = buf_new(MASTER_STATUS_REQUEST_MAX);
	client->deadline = master_now_ms() + MASTER_STATUS_TIMEOUT_MS;
	client->next = clients;
	clients = client;
	client_count++;
}

void
master_status_watch(void)
{
	struct status_client *client, *next;
	long long now = master_now_ms();

	for (client = clients; client != NULL; client = next) {
		next = client->next;
		if (now >= client->deadline) {
			client_free(client);
			continue;
		}
		master_event_watch(client->fd, POLLIN, client_ready, client);
		master_event_deadline(client->deadline);
	}
	if (status_listen_fd >= 0 && client_count < MASTER_STATUS_CLIENTS_MAX)
		master_event_watch(status_listen_fd, POLLIN, listener_ready,
		    NULL);
}

void
master_status_close(void)
{
	while (clients != NULL)
		client_free(clients);
	if (status_listen_fd >= 0)
		close(status_listen_fd);
	status_listen_fd = -1;
	if (status_path != NULL && unlink(status_path) < 0 && errno != ENOENT)
		log_warn("remove %s: %m", status_path);
	xfree(status_path);
}

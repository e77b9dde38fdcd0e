/* anvil_client: ask anvil(8) whether a client may connect. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "anvil_client.h"
#include "attr.h"
#include "buf.h"
#include "log.h"
#include "mail_params.h"
#include "netmatch.h"
#include "params.h"
#include "service.h"
#include "stream.h"
#include "xalloc.h"

/* The shortest time between two "anvil unavailable" warnings. */
#define ANVIL_WARN_INTERVAL 60
/* A turn of a request waiting for another session's (multi imapd). */
#define ANVIL_TURN_MS 10

static struct netmatch *anvil_exceptions;
static int anvil_fd = -1;
static struct stream *anvil_stream;
static unsigned anvil_generation;
static int anvil_in_use;
static time_t anvil_last_warning;

int
anvil_client_init(char **error_r)
{
	char **list;
	int count;

	netmatch_free(&anvil_exceptions);
	list = params_list_split(var_client_limit_exceptions, &count);
	anvil_exceptions = netmatch_new(list, count, error_r);
	params_list_free(list);
	return anvil_exceptions != NULL ? 0 : -1;
}

static void
anvil_close(void)
{
	stream_free(&anvil_stream);
	if (anvil_fd >= 0)
		(void) close(anvil_fd);
	anvil_fd = -1;
}

/* Rate-limited: a down anvil is worth one line a minute. */
static void
anvil_warn(const char *what, const char *detail)
{
	time_t now = time(NULL);

	if (anvil_last_warning != 0 &&
	    now - anvil_last_warning < ANVIL_WARN_INTERVAL)
		return;
	anvil_last_warning = now;
	log_warn("anvil %s: %s: client connection limits not applied, "
	    "drops not counted", what, detail);
}

static int
anvil_open(void)
{
	struct sockaddr_un sun;

	if (anvil_stream != NULL)
		return 0;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if ((size_t) snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s",
	    var_queue_directory, ANVIL_SOCKET) >= sizeof(sun.sun_path)) {
		anvil_warn("socket", "queue_directory path too long");
		return -1;
	}
	anvil_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (anvil_fd < 0) {
		anvil_warn("socket", strerror(errno));
		return -1;
	}
	if (connect(anvil_fd, (struct sockaddr *) &sun, sizeof(sun)) < 0) {
		anvil_warn("connect", strerror(errno));
		anvil_close();
		return -1;
	}
	anvil_stream = stream_new(anvil_fd, (int) (var_anvil_timeout * 1000),
	    (int) (var_anvil_timeout * 1000));
	anvil_generation++;
	return 0;
}

/*
 * One request and its answer (into answer; NULL: the request has none,
 * nothing is read).  0 ok; -1 anvil unusable (warned, connection
 * dropped) or, with generation not 0, the connection is no longer that
 * one.  Sessions of one process take turns.
 */
static int
anvil_request(const struct buf *request, struct attr_list *answer,
	unsigned generation)
{
	enum stream_status st;
	const char *error = NULL;
	long long waited = 0;
	int rc = -1;

	while (anvil_in_use) {
		if (waited >= var_anvil_timeout * 1000) {
			anvil_warn("request", "another request is stuck");
			return -1;
		}
		stream_pause(ANVIL_TURN_MS);
		waited += ANVIL_TURN_MS;
	}
	if (generation != 0 && (anvil_stream == NULL ||
	    generation != anvil_generation))
		return -1;
	anvil_in_use = 1;
	if (anvil_open() == 0) {
		st = attr_write(anvil_stream, request);
		if (st == STREAM_OK && answer != NULL)
			st = attr_read(anvil_stream, answer, &error);
		if (st != STREAM_OK)
			anvil_warn("request", error != NULL ? error :
			    stream_status_text(st));
		else if (answer == NULL)
			rc = 0;
		else if (attr_get(answer, "status") == NULL ||
		    strcmp(attr_get(answer, "status"), "ok") != 0)
			anvil_warn("request", "refused by anvil");
		else
			rc = 0;
		if (rc < 0)
			anvil_close();
	}
	anvil_in_use = 0;
	return rc;
}

/*
 * anvil decided (and counted) a refusal: fill adm in.  1 refused; 0 not
 * (no "refused" in the answer, or one this client does not know).
 */
static int
anvil_refused(struct anvil_admission *adm, const struct attr_list *answer,
	long long count, long long rate, long long count_limit,
	long long rate_limit)
{
	const char *refused = attr_get(answer, "refused");

	if (refused == NULL)
		return 0;
	if (strcmp(refused, "connection_count_limit") == 0) {
		adm->limit = "connection_count_limit";
		adm->value = count;
		adm->max = count_limit;
	} else if (strcmp(refused, "connection_rate_limit") == 0) {
		adm->limit = "connection_rate_limit";
		adm->value = rate;
		adm->max = rate_limit;
	} else {
		return 0;
	}
	return 1;
}

int
anvil_client_admit(const struct service_peer *peer, long long count_limit,
	long long rate_limit, struct anvil_admission *adm)
{
	struct attr_list *answer;
	struct buf *request;
	long long count = 0, rate = 0, id = -1;
	int admitted = 1;

	memset(adm, 0, sizeof(*adm));
	adm->id = -1;
	if ((count_limit <= 0 && rate_limit <= 0) ||
	    strcmp(peer->client_addr, "unix") == 0 ||
	    netmatch_match(anvil_exceptions, peer->client_addr))
		return 1;
	request = buf_new(4096);
	answer = attr_list_new(16, 256);
	if (attr_put(request, "request", "connect") < 0 ||
	    attr_put(request, "service", peer->service) < 0 ||
	    attr_put(request, "address", peer->client_addr) < 0 ||
	    attr_put_int(request, "count_limit", count_limit) < 0 ||
	    attr_put_int(request, "rate_limit", rate_limit) < 0 ||
	    attr_end(request) < 0)
		log_panic("anvil_client_admit: request does not fit");
	if (anvil_request(request, answer, 0) == 0 &&
	    attr_get_int(answer, "count", &count) == 1 &&
	    attr_get_int(answer, "rate", &rate) == 1 &&
	    attr_get_int(answer, "id", &id) == 1) {
		adm->id = id;
		adm->generation = anvil_generation;
		if (anvil_refused(adm, answer, count, rate, count_limit,
		    rate_limit)) {
			admitted = 0;
			log_info("refused connection from %s to service %s "
			    "reason=%s %s=%lld limit=%lld", peer->client_addr,
			    peer->service, adm->limit,
			    strcmp(adm->limit, "connection_count_limit") == 0 ?
			    "count" : "rate", adm->value, adm->max);
			/* A refused connection is not open: count it out. */
			anvil_client_release(adm);
		}
	}
	buf_free(&request);
	attr_list_free(&answer);
	return admitted;
}

void
anvil_client_release(struct anvil_admission *adm)
{
	struct attr_list *answer;
	struct buf *request;

	/* From an earlier anvil connection: anvil forgot it with that. */
	if (adm->id < 0)
		return;
	request = buf_new(256);
	answer = attr_list_new(16, 256);
	if (attr_put(request, "request", "disconnect") < 0 ||
	    attr_put_int(request, "id", adm->id) < 0 ||
	    attr_end(request) < 0)
		log_panic("anvil_client_release: request does not fit");
	(void) anvil_request(request, answer, adm->generation);
	adm->id = -1;
	buf_free(&request);
	attr_list_free(&answer);
}

void
anvil_client_event(const struct service_peer *peer, const char *reason)
{
	struct buf *request = buf_new(512);

	if (attr_put(request, "request", "event") < 0 ||
	    attr_put(request, "service", peer->service) < 0 ||
	    attr_put(request, "reason", reason) < 0 ||
	    attr_end(request) < 0)
		log_panic("anvil_client_event: request does not fit");
	(void) anvil_request(request, NULL, 0);
	buf_free(&request);
}

int
anvil_client_submission(const char *service, const char *login,
	long long recipients, long long message_limit,
	long long recipient_limit, struct anvil_submission *sub)
{
	struct attr_list *answer;
	struct buf *request;
	const char *refused;
	int admitted = 1;

	memset(sub, 0, sizeof(*sub));
	if (message_limit <= 0 && recipient_limit <= 0)
		return 1;
	request = buf_new(4096);
	answer = attr_list_new(16, 256);
	if (attr_put(request, "request", "submission") < 0 ||
	    attr_put(request, "service", service) < 0 ||
	    attr_put(request, "login", login) < 0 ||
	    attr_put_int(request, "recipients", recipients) < 0 ||
	    attr_put_int(request, "message_limit", message_limit) < 0 ||
	    attr_put_int(request, "recipient_limit", recipient_limit) < 0 ||
	    attr_end(request) < 0) {
		/* A login too long for a request: not ours to judge. */
		buf_free(&request);
		attr_list_free(&answer);
		return 1;
	}
	if (anvil_request(request, answer, 0) == 0 &&
	    attr_get_int(answer, "messages", &sub->messages) == 1 &&
	    attr_get_int(answer, "recipients", &sub->recipients) == 1 &&
	    (refused = attr_get(answer, "refused")) != NULL) {
		if (strcmp(refused, "login_message_limit") == 0) {
			sub->limit = "login_message_limit";
			sub->max = message_limit;
		} else if (strcmp(refused, "login_recipient_limit") == 0) {
			sub->limit = "login_recipient_limit";
			sub->max = recipient_limit;
		}
		if (sub->limit != NULL) {
			admitted = 0;
			log_info("refused message of login %s to service %s "
			    "reason=%s messages=%lld recipients=%lld+%lld "
			    "limit=%lld", login, service, sub->limit,
			    sub->messages, sub->recipients, recipients,
			    sub->max);
		}
	}
	buf_free(&request);
	attr_list_free(&answer);
	return admitted;
}

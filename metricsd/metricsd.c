/*
 * metricsd: the host's Prometheus endpoint, GET /metrics over HTTP.
 *
 * A run-model service (one process, maxproc 1): libmicrohttpd serves the
 * listening socket the master passed, from its own thread, while the main
 * thread waits for the master to go away.  Each GET /metrics renders the
 * instance's metrics_text (the counter files, the master's gauges, the
 * queue).  Anything but GET and HEAD gets 405, any other path 404.
 * Connections are capped (metricsd_connection_limit) and time out
 * (metricsd_timeout); requests carry no body, so none is read.  It runs
 * as the unprivileged mail_owner and only reads.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "buf.h"
#include "log.h"
#include "mail_params.h"
#include "metrics_text.h"
#include "service.h"

#define METRICSD_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

static enum MHD_Result
metricsd_reply(struct MHD_Connection *conn, unsigned status,
	const char *text, size_t len, const char *type)
{
	struct MHD_Response *resp;
	enum MHD_Result rc;
	/* MUST_COPY: libmicrohttpd copies and never writes through it. */
	union { const char *in; void *out; } data = { text };
	resp = MHD_create_response_from_buffer(len, data.out,
	    MHD_RESPMEM_MUST_COPY);
	if (resp == NULL)
		return MHD_NO;
	(void) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    type);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		(void) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
		    "GET, HEAD");
	rc = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return rc;
}

static enum MHD_Result
metricsd_request(void *cls, struct MHD_Connection *conn, const char *url,
	const char *method, const char *version, const char *upload_data,
	size_t *upload_data_size, void **req_cls)
{
	struct buf *out;
	char *error = NULL;
	enum MHD_Result rc;

	(void) cls;
	(void) version;
	(void) upload_data;
	/* Answer on the first call: a GET has no body to wait for. */
	if (*upload_data_size != 0) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	(void) req_cls;
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0
	    && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return metricsd_reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
		    "method not allowed\n", 19, "text/plain");
	if (strcmp(url, "/metrics") != 0)
		return metricsd_reply(conn, MHD_HTTP_NOT_FOUND,
		    "not found: try /metrics\n", 24, "text/plain");
	out = buf_new(METRICS_TEXT_MAX);
	if (metrics_text_render(out, var_queue_directory, time(NULL),
	    &error) < 0) {
		log_warn("metrics: %s", error);
		free(error);
		rc = metricsd_reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "metrics unavailable\n", 20, "text/plain");
	} else {
		rc = metricsd_reply(conn, MHD_HTTP_OK, buf_cstr(out),
		    buf_len(out), METRICSD_CONTENT_TYPE);
	}
	buf_free(&out);
	return rc;
}

static void
metricsd_panic(void *cls, const char *file, unsigned int line,
	const char *reason)
{
	(void) cls;
	log_fatal("libmicrohttpd: %s:%u: %s", file, line,
	    reason != NULL ? reason : "internal error");
}

static void
metricsd_run(int listen_fd, int status_fd, void *ctx)
{
	struct MHD_Daemon *daemon;
	struct pollfd pfd;
	char byte;

	(void) ctx;
	MHD_set_panic_func(metricsd_panic, NULL);
	daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD
	    | MHD_USE_POLL, 0, NULL, NULL, metricsd_request, NULL,
	    MHD_OPTION_LISTEN_SOCKET, (MHD_socket) listen_fd,
	    MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned int) var_metricsd_connection_limit,
	    MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned int) var_metricsd_timeout,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) 64 * 1024,
	    MHD_OPTION_END);
	if (daemon == NULL)
		log_fatal("cannot start the HTTP server on the listener");
	log_info("serving /metrics");
	pfd.fd = status_fd;
	pfd.events = POLLIN;
	for (;;) {
		if (poll(&pfd, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_fatal("poll: %m");
		}
		if (read(status_fd, &byte, 1) <= 0)
			break;
	}
	log_info("master went away: exiting");
	MHD_stop_daemon(daemon);
}

int
main(int argc, char **argv)
{
	static const struct service_def def = {
		.name = "metricsd",
		.run = metricsd_run,
	};

	service_main(argc, argv, &def, NULL, NULL);
}

/*
 * anvil: per-client connection counts and rates for the front daemons
 * (anvil(8)).  One event-driven process (a service run hook) serves
 * private/anvil; each smtpd, popd and imapd process keeps one connection
 * and asks, for every client connection, how many that client has open
 * and how many it started in the current time unit.  Counts are tied to
 * the asking connection: when a daemon process exits or crashes, its
 * connection closes and its clients are counted out.  The table itself
 * is anvil_table.c.
 *
 * It also counts, per service and reason, the clients the daemons drop
 * (anvil_counters.c), so that a daemon's death does not reset them and
 * ispmailctl status can show them.
 *
 * Protocol (attr.h records), one answer per request but event, in order:
 *	request=connect service=NAME address=ADDR [count_limit=N]
 *	    [rate_limit=N]
 *	    -> status=ok count=N rate=N id=N [refused=REASON]
 *	       (N counts this one; a refusal is counted as a drop)
 *	request=disconnect id=N
 *	    -> status=ok
 *	request=hit service=NAME address=ADDR
 *	    -> status=ok rate=N	(an event counted in the window, such as
 *				 a failed login; nothing stays open)
 *	request=peek service=NAME address=ADDR
 *	    -> status=ok count=N rate=N	(nothing changes)
 *	request=event service=NAME reason=REASON
 *	    -> no answer: a daemon never waits for one
 *	request=counters
 *	    -> status=ok drop=SERVICE REASON N ...
 *	request=submission service=NAME login=LOGIN recipients=N
 *	    [message_limit=N] [recipient_limit=N]
 *	    -> status=ok messages=N recipients=N [refused=REASON]
 *	       (one message of LOGIN with N recipients, counted in the
 *	       login's hour unless it would pass a limit; the totals of
 *	       the hour so far, this one included when counted; a refusal
 *	       is counted as a drop)
 *	anything else -> status=error reason=TEXT
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "anvil_counters.h"
#include "anvil_table.h"
#include "attr.h"
#include "buf.h"
#include "log.h"
#include "mail_params.h"
#include "service.h"
#include "xalloc.h"

/* The window of the per-login submission counts. */
#define ANVIL_SUBMISSION_WINDOW_MS	(3600 * 1000)

/* A request is a few short attributes; an answer fewer. */
#define ANVIL_RECORD_MAX	4096
#define ANVIL_OUT_MAX		(64 * 1024)
#define ANVIL_ATTR_COUNT_MAX	8
/*
 * Drop counters: a few services times a dozen reasons.  The answer to
 * "counters" (under 100 bytes a pair) stays well inside ANVIL_OUT_MAX / 2.
 */
#define ANVIL_COUNTERS_MAX	128

/* One daemon process's connection. */
struct anvil_conn {
	int fd;
	struct buf *in;
	struct buf *out;		/* answers not yet sent */
	/* Its open client connections: keys by id, and a free list. */
	char **keys;
	size_t *key_lens;
	size_t key_alloc, key_used;
	size_t *free_ids;
	size_t free_count;
};

static struct anvil_table *anvil_table;
/* Messages ("m\nLOGIN") and recipients ("r\nLOGIN") per login per hour. */
static struct anvil_table *anvil_submissions;
static struct anvil_counters *anvil_counters;
static time_t anvil_last_counter_warning;
static struct anvil_conn **anvil_conns;
static size_t anvil_conn_count;
static struct attr_list *anvil_request_attrs;
static unsigned long long anvil_evictions_warned;
static time_t anvil_last_eviction_warning;

static int64_t
anvil_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
anvil_conn_free(struct anvil_conn *c)
{
	int64_t now = anvil_now_ms();
	size_t i;

	for (i = 0; i < c->key_used; i++) {
		if (c->keys[i] == NULL)
			continue;
		(void) anvil_table_disconnect(anvil_table, c->keys[i],
		    c->key_lens[i], now);
		free(c->keys[i]);
	}
	(void) close(c->fd);
	buf_free(&c->in);
	buf_free(&c->out);
	free(c->keys);
	free(c->key_lens);
	free(c->free_ids);
	free(c);
}

/* Remember key as open on c; its id.  -1 when c holds the most it may. */
static long long
anvil_conn_hold(struct anvil_conn *c, const char *key, size_t len)
{
	size_t id;

	if (c->free_count > 0) {
		id = c->free_ids[--c->free_count];
	} else {
		if (c->key_used >= (size_t) var_anvil_table_limit)
			return -1;
		if (c->key_used == c->key_alloc) {
			c->key_alloc = c->key_alloc == 0 ? 16 :
			    xalloc_mul(c->key_alloc, 2);
			c->keys = xreallocarray(c->keys, c->key_alloc,
			    sizeof(*c->keys));
			c->key_lens = xreallocarray(c->key_lens, c->key_alloc,
			    sizeof(*c->key_lens));
			c->free_ids = xreallocarray(c->free_ids, c->key_alloc,
			    sizeof(*c->free_ids));
		}
		id = c->key_used++;
	}
	c->keys[id] = xmalloc(len + 1);
	memcpy(c->keys[id], key, len + 1);
	c->key_lens[id] = len;
	return (long long) id;
}

/* The table was full: say so, at most once a minute. */
static void
anvil_warn_evictions(void)
{
	unsigned long long evictions = anvil_table_evictions(anvil_table);
	time_t now = time(NULL);

	if (evictions == anvil_evictions_warned ||
	    now - anvil_last_eviction_warning < 60)
		return;
	log_warn("anvil_table_limit %lld reached: %llu clients forgotten "
	    "(least recently seen first)", var_anvil_table_limit,
	    evictions - anvil_evictions_warned);
	anvil_evictions_warned = evictions;
	anvil_last_eviction_warning = now;
}

static void
anvil_answer_error(struct anvil_conn *c, const char *reason)
{
	(void) attr_put(c->out, "status", "error");
	(void) attr_put(c->out, "reason", reason);
	(void) attr_end(c->out);
}

/* Count a drop; a refused one is worth a warning at most once a minute. */
static void
anvil_count(const char *service, const char *reason)
{
	const char *error = NULL;
	time_t now;

	if (anvil_counters_add(anvil_counters, service, reason, &error) == 0)
		return;
	now = time(NULL);
	if (now - anvil_last_counter_warning < 60)
		return;
	anvil_last_counter_warning = now;
	log_warn("event not counted: %s (at most %d counters)", error,
	    ANVIL_COUNTERS_MAX);
}

/*
 * The limit (count_limit, rate_limit; absent or 0: none) a connection
 * passed, counted as a drop; NULL when it is within both.
 */
static const char *
anvil_refusal(const struct attr_list *req, const char *service,
	long long count, long long rate)
{
	long long limit;
	const char *reason = NULL;

	if (attr_get_int(req, "count_limit", &limit) == 1 && limit > 0 &&
	    count > limit)
		reason = "connection_count_limit";
	else if (attr_get_int(req, "rate_limit", &limit) == 1 && limit > 0 &&
	    rate > limit)
		reason = "connection_rate_limit";
	if (reason != NULL)
		anvil_count(service, reason);
	return reason;
}

/* The key "service\naddress" of a request into key; -1 answered. */
static int
anvil_request_key(struct anvil_conn *c, const struct attr_list *req,
	struct buf *key)
{
	const char *service = attr_get(req, "service");
	const char *address = attr_get(req, "address");

	if (service == NULL || address == NULL) {
		anvil_answer_error(c, "service and address required");
		return -1;
	}
	if (buf_printf(key, "%s\n%s", service, address) < 0) {
		anvil_answer_error(c, "key too long");
		return -1;
	}
	return 0;
}

static void
anvil_connect(struct anvil_conn *c, const struct attr_list *req)
{
	const char *service = attr_get(req, "service");
	const char *refused;
	long long count, rate, id;
	struct buf *key;

	/* The key: "service\naddress" (neither can hold a raw LF). */
	key = buf_new(ANVIL_RECORD_MAX);
	if (anvil_request_key(c, req, key) < 0) {
		buf_free(&key);
		return;
	}
	id = anvil_conn_hold(c, buf_cstr(key), buf_len(key));
	if (id < 0) {
		buf_free(&key);
		anvil_answer_error(c, "too many open connections");
		return;
	}
	anvil_table_connect(anvil_table, buf_cstr(key), buf_len(key),
	    anvil_now_ms(), &count, &rate);
	buf_free(&key);
	anvil_warn_evictions();
	refused = anvil_refusal(req, service, count, rate);
	(void) attr_put(c->out, "status", "ok");
	(void) attr_put_int(c->out, "count", count);
	(void) attr_put_int(c->out, "rate", rate);
	(void) attr_put_int(c->out, "id", id);
	if (refused != NULL)
		(void) attr_put(c->out, "refused", refused);
	(void) attr_end(c->out);
}

/* hit: one event in the key's window (a failed login); peek: look. */
static void
anvil_hit_or_peek(struct anvil_conn *c, const struct attr_list *req,
	int hit)
{
	struct buf *key = buf_new(ANVIL_RECORD_MAX);
	long long count, rate;
	int64_t now = anvil_now_ms();

	if (anvil_request_key(c, req, key) < 0) {
		buf_free(&key);
		return;
	}
	if (hit) {
		anvil_table_connect(anvil_table, buf_cstr(key), buf_len(key),
		    now, &count, &rate);
		(void) anvil_table_disconnect(anvil_table, buf_cstr(key),
		    buf_len(key), now);
		anvil_warn_evictions();
	}
	anvil_table_peek(anvil_table, buf_cstr(key), buf_len(key), now,
	    &count, &rate);
	buf_free(&key);
	(void) attr_put(c->out, "status", "ok");
	(void) attr_put_int(c->out, "count", count);
	(void) attr_put_int(c->out, "rate", rate);
	(void) attr_end(c->out);
}

/*
 * A daemon dropped a client: count it, answer nothing.  A missing name
 * is an invalid one, warned about at the same rate.
 */
static void
anvil_event(const struct attr_list *req)
{
	const char *service = attr_get(req, "service");
	const char *reason = attr_get(req, "reason");

	anvil_count(service != NULL ? service : "",
	    reason != NULL ? reason : "");
}

/* Every drop counter, "drop=SERVICE REASON N" each, in one record. */
static void
anvil_list_counters(struct anvil_conn *c)
{
	const char *service, *reason;
	unsigned long long value;
	struct buf *pair;
	size_t i;

	(void) attr_put(c->out, "status", "ok");
	pair = buf_new(2 * ANVIL_COUNTERS_NAME_MAX + 32);
	for (i = 0; anvil_counters_nth(anvil_counters, i, &service, &reason,
	    &value); i++) {
		buf_reset(pair);
		if (buf_printf(pair, "%s %s %llu", service, reason, value) < 0 ||
		    attr_put(c->out, "drop", buf_cstr(pair)) < 0)
			log_panic("anvil: counter %zu does not fit", i);
	}
	buf_free(&pair);
	(void) attr_end(c->out);
}

/* The key of login's count kind ('m' or 'r'); NULL when too long. */
static struct buf *
anvil_submission_key(char kind, const char *login)
{
	struct buf *key = buf_new(ANVIL_RECORD_MAX);

	if (buf_printf(key, "%c\n%s", kind, login) < 0)
		buf_free(&key);
	return key;
}

/*
 * One message of a login: counted in the login's hour unless it would
 * pass message_limit or recipient_limit (absent or 0: none).  The
 * answer says the hour's totals, refused=REASON when over.
 */
static void
anvil_submission(struct anvil_conn *c, const struct attr_list *req)
{
	const char *service = attr_get(req, "service");
	const char *login = attr_get(req, "login");
	const char *refused = NULL;
	long long rcpts, limit, messages, recipients;
	int64_t now = anvil_now_ms();
	struct buf *mkey, *rkey;
	size_t len;

	if (service == NULL || login == NULL ||
	    attr_get_len(req, "login", &len) == NULL || len == 0 ||
	    memchr(login, '\0', len) != NULL ||
	    attr_get_int(req, "recipients", &rcpts) != 1 || rcpts < 0) {
		anvil_answer_error(c, "service, login and recipients required");
		return;
	}
	mkey = anvil_submission_key('m', login);
	rkey = anvil_submission_key('r', login);
	if (mkey == NULL || rkey == NULL) {
		buf_free(&mkey);
		buf_free(&rkey);
		anvil_answer_error(c, "login too long");
		return;
	}
	messages = anvil_table_rate(anvil_submissions, buf_cstr(mkey),
	    buf_len(mkey), now) + 1;
	recipients = anvil_table_rate(anvil_submissions, buf_cstr(rkey),
	    buf_len(rkey), now) + rcpts;
	if (attr_get_int(req, "message_limit", &limit) == 1 && limit > 0 &&
	    messages > limit)
		refused = "login_message_limit";
	else if (attr_get_int(req, "recipient_limit", &limit) == 1 &&
	    limit > 0 && recipients > limit)
		refused = "login_recipient_limit";
	if (refused == NULL) {
		anvil_table_add(anvil_submissions, buf_cstr(mkey),
		    buf_len(mkey), now, 1);
		anvil_table_add(anvil_submissions, buf_cstr(rkey),
		    buf_len(rkey), now, rcpts);
	} else {
		messages--;
		recipients -= rcpts;
		anvil_count(service, refused);
	}
	buf_free(&mkey);
	buf_free(&rkey);
	(void) attr_put(c->out, "status", "ok");
	(void) attr_put_int(c->out, "messages", messages);
	(void) attr_put_int(c->out, "recipients", recipients);
	if (refused != NULL)
		(void) attr_put(c->out, "refused", refused);
	(void) attr_end(c->out);
}

static void
anvil_disconnect(struct anvil_conn *c, const struct attr_list *req)
{
	long long id;

	if (attr_get_int(req, "id", &id) != 1 || id < 0 ||
	    (size_t) id >= c->key_used || c->keys[id] == NULL) {
		anvil_answer_error(c, "unknown id");
		return;
	}
	(void) anvil_table_disconnect(anvil_table, c->keys[id],
	    c->key_lens[id], anvil_now_ms());
	free(c->keys[id]);
	c->keys[id] = NULL;
	c->free_ids[c->free_count++] = (size_t) id;
	(void) attr_put(c->out, "status", "ok");
	(void) attr_end(c->out);
}

static void
anvil_record(struct anvil_conn *c, const char *data, size_t len)
{
	const char *error = NULL, *verb;

	if (attr_parse(anvil_request_attrs, data, len, &error) < 0) {
		anvil_answer_error(c, error != NULL ? error : "malformed");
		return;
	}
	verb = attr_get(anvil_request_attrs, "request");
	if (verb != NULL && strcmp(verb, "connect") == 0)
		anvil_connect(c, anvil_request_attrs);
	else if (verb != NULL && strcmp(verb, "disconnect") == 0)
		anvil_disconnect(c, anvil_request_attrs);
	else if (verb != NULL && strcmp(verb, "hit") == 0)
		anvil_hit_or_peek(c, anvil_request_attrs, 1);
	else if (verb != NULL && strcmp(verb, "peek") == 0)
		anvil_hit_or_peek(c, anvil_request_attrs, 0);
	else if (verb != NULL && strcmp(verb, "event") == 0)
		anvil_event(anvil_request_attrs);
	else if (verb != NULL && strcmp(verb, "counters") == 0)
		anvil_list_counters(c);
	else if (verb != NULL && strcmp(verb, "submission") == 0)
		anvil_submission(c, anvil_request_attrs);
	else
		anvil_answer_error(c, "unknown request");
}

/* Answer every complete record in c->in; keep the rest. */
static void
anvil_records(struct anvil_conn *c)
{
	const char *data = buf_cstr(c->in), *end;
	size_t len = buf_len(c->in), start = 0, rec;
	struct buf *rest;

	for (;;) {
		end = start < len ? memmem(data + start, len - start,
		    "\n\n", 2) : NULL;
		if (end == NULL)
			break;
		rec = (size_t) (end - (data + start)) + 2;
		anvil_record(c, data + start, rec);
		start += rec;
	}
	if (start == 0)
		return;
	rest = buf_new(ANVIL_RECORD_MAX);
	(void) buf_append(rest, data + start, len - start);
	buf_free(&c->in);
	c->in = rest;
}

/* Send what is queued.  -1: the daemon went away or stopped reading. */
static int
anvil_send(struct anvil_conn *c)
{
	struct buf *rest;
	ssize_t n;

	if (buf_len(c->out) == 0)
		return 0;
	n = send(c->fd, buf_cstr(c->out), buf_len(c->out),
	    MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	rest = buf_new(ANVIL_OUT_MAX);
	(void) buf_append(rest, buf_cstr(c->out) + n,
	    buf_len(c->out) - (size_t) n);
	buf_free(&c->out);
	c->out = rest;
	return 0;
}

/* Input from c.  -1: close it. */
static int
anvil_read(struct anvil_conn *c)
{
	char chunk[1024];
	ssize_t n;

	n = recv(c->fd, chunk, sizeof(chunk), MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	if (n == 0)
		return -1;
	if (buf_append(c->in, chunk, (size_t) n) < 0) {
		log_warn("request longer than %d bytes: connection dropped",
		    ANVIL_RECORD_MAX);
		return -1;
	}
	anvil_records(c);
	/* A daemon that sends without reading its answers is broken. */
	if (buf_len(c->out) > ANVIL_OUT_MAX / 2) {
		log_warn("a client does not read its answers: dropped");
		return -1;
	}
	return anvil_send(c);
}

static void
anvil_accept(int listen_fd)
{
	struct anvil_conn *c;
	int fd;

	for (;;) {
		fd = accept4(listen_fd, NULL, NULL,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (anvil_conn_count >= (size_t) var_anvil_connection_limit) {
			/* The daemon sees EOF and admits its client. */
			log_warn("anvil_connection_limit %lld reached: "
			    "connection refused", var_anvil_connection_limit);
			(void) close(fd);
			continue;
		}
		c = xcalloc(1, sizeof(*c));
		c->fd = fd;
		c->in = buf_new(ANVIL_RECORD_MAX);
		c->out = buf_new(ANVIL_OUT_MAX);
		anvil_conns[anvil_conn_count++] = c;
	}
}

static void
anvil_run(int listen_fd, int status_fd, void *ctx)
{
	struct pollfd *fds;
	size_t i, kept, n_fds;
	int master_gone = 0;

	(void) ctx;
	(void) fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) |
	    O_NONBLOCK);
	anvil_table = anvil_table_new((size_t) var_anvil_table_limit,
	    var_anvil_rate_time_unit * 1000);
	anvil_submissions = anvil_table_new((size_t) var_anvil_table_limit,
	    ANVIL_SUBMISSION_WINDOW_MS);
	anvil_counters = anvil_counters_new(ANVIL_COUNTERS_MAX);
	anvil_request_attrs = attr_list_new(ANVIL_ATTR_COUNT_MAX,
	    ANVIL_RECORD_MAX);
	anvil_conns = xcalloc((size_t) var_anvil_connection_limit,
	    sizeof(*anvil_conns));
	fds = xcalloc((size_t) var_anvil_connection_limit + 2, sizeof(*fds));
	log_info("started: table limit %lld, rate time unit %llds",
	    var_anvil_table_limit, var_anvil_rate_time_unit);
	while (!master_gone) {
		fds[0].fd = status_fd;
		fds[0].events = POLLIN;
		fds[1].fd = listen_fd;
		fds[1].events = POLLIN;
		for (i = 0; i < anvil_conn_count; i++) {
			fds[i + 2].fd = anvil_conns[i]->fd;
			fds[i + 2].events = POLLIN |
			    (buf_len(anvil_conns[i]->out) > 0 ? POLLOUT : 0);
		}
		n_fds = anvil_conn_count + 2;
		for (i = 0; i < n_fds; i++)
			fds[i].revents = 0;
		if (poll(fds, (nfds_t) n_fds, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_fatal("poll: %m");
		}
		/* The master never writes: readable means it went away. */
		if (fds[0].revents != 0)
			master_gone = 1;
		for (i = 0, kept = 0; i < anvil_conn_count; i++) {
			struct anvil_conn *c = anvil_conns[i];
			short rev = fds[i + 2].revents;

			if ((rev & (POLLIN | POLLHUP | POLLERR) &&
			    anvil_read(c) < 0) ||
			    (rev & POLLOUT && anvil_send(c) < 0) ||
			    (rev & POLLNVAL)) {
				anvil_conn_free(c);
				continue;
			}
			anvil_conns[kept++] = c;
		}
		anvil_conn_count = kept;
		if (fds[1].revents != 0)
			anvil_accept(listen_fd);
	}
	log_info("master went away: exiting; %zu clients tracked, "
	    "%llu forgotten when the table was full",
	    anvil_table_size(anvil_table), anvil_table_evictions(anvil_table));
	for (i = 0; i < anvil_conn_count; i++)
		anvil_conn_free(anvil_conns[i]);
	free(anvil_conns);
	free(fds);
	attr_list_free(&anvil_request_attrs);
	anvil_table_free(&anvil_table);
	anvil_table_free(&anvil_submissions);
	anvil_counters_free(&anvil_counters);
}

int
main(int argc, char **argv)
{
	static const struct service_def def = {
		.name = "anvil",
		.run = anvil_run,
	};

	service_main(argc, argv, &def, NULL, NULL);
}

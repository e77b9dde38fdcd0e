/*
 * scan_client: one message to content filter pools (spamd, clamd) at
 * the same time, from one poll loop.
 *
 * A job is one request (built by spamd_client.c or clamd_client.c) sent
 * to the first host of its list that has a free slot and accepts the
 * connection; the reply is read to EOF (both protocols close after one
 * answer) into a capped buffer.  Every job of a scan_run() progresses in
 * the same poll(2) loop on non-blocking sockets, so spamd and clamd scan
 * in parallel.  Connect failures and full hosts fail over to the next
 * host; a failure after the request was accepted (a reset, EOF before
 * any reply, a scan past its timeout) does not: the same message would
 * likely do the same to the next host (a poison candidate, smtpd_filter.c).
 *
 * Slots: each host has at most `limit` scans in flight across every
 * process on the machine, counted by exclusive flock(2) on slot files in
 * a directory (a process that dies releases its slots with its
 * descriptors, so a crash never leaks one).
 */
#ifndef ISPMAIL_SCAN_CLIENT_H
#define ISPMAIL_SCAN_CLIENT_H

#include <stddef.h>

struct buf;
struct dns;

enum scan_status {
	SCAN_DONE = 0,		/* reply read (parse it) */
	SCAN_UNAVAILABLE,	/* no host reachable or every host full */
	SCAN_CRASHED,		/* reset or EOF before a reply */
	SCAN_TIMEOUT,		/* no reply within the scan timeout */
};

struct scan_job;

/*
 * A job for the hosts in hosts ("host:port" or "[v6]:port", comma or
 * space separated) named kind ("spamd", "clamd": the slot file prefix
 * and log word).  request is copied.  NULL with *error_r when the list
 * is malformed or empty.
 */
struct scan_job *scan_job_new(const char *kind, const char *hosts,
	const struct buf *request, char **error_r);
void scan_job_free(struct scan_job **jp);

/*
 * Run the jobs to completion together.  slot_dir: where the slot files
 * live (created if missing); limit: scans per host at a time (0: no
 * limit); connect_ms per connection attempt, scan_ms from the request's
 * last byte to the reply's end (the whole run is also bounded by
 * connect_ms times the hosts tried plus scan_ms).
 */
void scan_run(struct scan_job **jobs, size_t count, const char *slot_dir,
	long long limit, long long connect_ms, long long scan_ms);

enum scan_status scan_job_status(const struct scan_job *j);
/* The reply (SCAN_DONE), NUL-terminated; capped at SCAN_REPLY_MAX. */
const struct buf *scan_job_reply(const struct scan_job *j);
/* The host that answered or failed last, or NULL. */
const char *scan_job_host(const struct scan_job *j);
/* What went wrong (not SCAN_DONE): for the log. */
const char *scan_job_error(const struct scan_job *j);

#define SCAN_REPLY_MAX (256 * 1024)

/*
 * Resolve the host names of a pool list (IP literals need nothing) with
 * dns (NULL: names stay unresolved), timeout_ms a name, into this
 * process's table; scan_run() connects only to literals and to names
 * found here, so no session ever waits on a resolver.  A name that does
 * not resolve is skipped when connecting (failover) and named in
 * *error_r (caller frees): -1.  0 every name resolved.
 */
int scan_resolve(struct dns *dns, const char *hosts, int timeout_ms,
	char **error_r);
/* Does the list name a host by name (not an IP literal)? */
int scan_hosts_named(const char *hosts);

#endif

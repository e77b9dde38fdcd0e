/*
 * ctl_trace: ispmailctl trace, the life of a message from the logs.
 *
 * ctl_trace.c reads the log files (plain or gzip), several at once merged
 * by time, one pass, every line capped at trace_line_limit, and parses
 * each line into a struct trace_line.  ctl_trace_match.c decides which
 * lines belong to the traced messages, following the hand-offs (queue
 * id, Message-ID, "queued as X" in a 250 reply, the Maildir file a
 * delivery wrote and a retrieval read), groups them per message and
 * prints one block per message.
 */
#ifndef ISPMAIL_CTL_TRACE_H
#define ISPMAIL_CTL_TRACE_H

#include <stddef.h>

/* One parsed log line; every string owned by it. */
struct trace_line {
	double when;		/* seconds since the epoch */
	unsigned long long seq;	/* read order, for equal times */
	char *host;		/* syslog host, else the syslog_name part */
	char *daemon;		/* smtpd, qmgr, ... */
	char *pid;		/* may be "" */
	char *qid;		/* the queue id the line starts with, or NULL */
	char *text;		/* after "tag: " */
	int group;
};

enum trace_seed {
	TRACE_SEED_QID,
	TRACE_SEED_MESSAGE_ID,
	TRACE_SEED_ADDRESS,
};

struct trace_set;

/* What to look for: a queue id, a Message-ID (<...>) or an address. */
struct trace_set *trace_set_new(enum trace_seed kind, const char *seed,
	size_t max_lines);
/* Offer the next line in time order; the set keeps or frees it. */
void trace_set_line(struct trace_set *set, struct trace_line *line);
/* Print one block per message found; the number of messages. */
size_t trace_set_print(struct trace_set *set);
/* 1 when lines were left out because max_lines was reached. */
int trace_set_truncated(const struct trace_set *set);
void trace_set_free(struct trace_set **setp);

void trace_line_free(struct trace_line *line);

/*
 * The value of "name=" in text (at its start or after a space or comma):
 * <...> with its brackets, else up to a comma, space or the end.  A
 * pointer into text and its length, or NULL.
 */
const char *trace_field(const char *text, const char *name, size_t *len_r);

#endif

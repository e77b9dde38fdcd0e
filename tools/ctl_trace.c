/* ctl_trace: ispmailctl trace ID: read, parse and merge the log files. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "ctl.h"
#include "ctl_trace.h"
#include "mail_params.h"
#include "xalloc.h"

/* At most this many --log files (each is one open descriptor). */
#define TRACE_MAX_FILES 256
/* At most this many lines kept for the output. */
#define TRACE_MAX_LINES 100000

struct trace_reader {
	const char *path;
	gzFile gz;
	char *buf;		/* trace_line_limit + 1 bytes */
	struct trace_line *next;	/* the parsed line not yet merged */
	int eof;
};

static const char *const trace_months[12] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

/* Digits at p, exactly count of them; -1 when not. */
static int
trace_digits(const char *p, int count)
{
	int v = 0, i;

	for (i = 0; i < count; i++) {
		if (!isdigit((unsigned char) p[i]))
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

/*
 * RFC 3339 (rsyslog's file format, journalctl -o short-iso):
 * 2026-12-02T14:46:31[.123456](Z|+01:00).  The end in *end_r.
 */
static int
trace_time_iso(const char *p, double *when_r, const char **end_r)
{
	struct tm tm;
	double frac = 0, scale = 0.1;
	int offset = 0, sign, local = 0;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	if ((tm.tm_year = trace_digits(p, 4)) < 0 || p[4] != '-' ||
	    (tm.tm_mon = trace_digits(p + 5, 2)) < 1 || p[7] != '-' ||
	    (tm.tm_mday = trace_digits(p + 8, 2)) < 1 ||
	    (p[10] != 'T' && p[10] != ' ') ||
	    (tm.tm_hour = trace_digits(p + 11, 2)) < 0 || p[13] != ':' ||
	    (tm.tm_min = trace_digits(p + 14, 2)) < 0)
		return -1;
	p += 16;
	if (*p == ':') {
		if ((tm.tm_sec = trace_digits(p + 1, 2)) < 0)
			return -1;
		p += 3;
	}
	if (*p == '.' || *p == ',')
		for (p++; isdigit((unsigned char) *p); p++, scale /= 10)
			frac += (*p - '0') * scale;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int h, m;

		sign = *p == '-' ? -1 : 1;
		if ((h = trace_digits(p + 1, 2)) < 0)
			return -1;
		p += 3;
		if (*p == ':')
			p++;
		if ((m = trace_digits(p, 2)) < 0)
			return -1;
		p += 2;
		offset = sign * (h * 3600 + m * 60);
	} else {
		local = 1;
	}
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	if (local) {
		tm.tm_isdst = -1;
		t = mktime(&tm);
	} else {
		t = timegm(&tm) - offset;
	}
	if (t == (time_t) -1)
		return -1;
	*when_r = (double) t + frac;
	*end_r = p;
	return 0;
}

/*
 * BSD syslog and our foreground stderr: "Dec  2 14:46:31" or "Dec 02
 * 14:46:31", local time, no year: this year, or last year when that
 * would be more than a day ahead (a December log read in January).
 */
static int
trace_time_bsd(const char *p, double *when_r, const char **end_r)
{
	/* Lines come in runs of one second: convert each second once. */
	static char last[16];
	static double last_when;
	struct tm tm, now_tm;
	time_t now, t;
	int mon;

	if (last[0] != '\0' && strncmp(p, last, 15) == 0) {
		*when_r = last_when;
		*end_r = p + 15;
		return 0;
	}

	for (mon = 0; mon < 12; mon++)
		if (strncmp(p, trace_months[mon], 3) == 0)
			break;
	if (mon == 12 || p[3] != ' ')
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_mon = mon;
	if (p[4] == ' ')
		tm.tm_mday = trace_digits(p + 5, 1);
	else
		tm.tm_mday = trace_digits(p + 4, 2);
	if (tm.tm_mday < 1 || p[6] != ' ' ||
	    (tm.tm_hour = trace_digits(p + 7, 2)) < 0 || p[9] != ':' ||
	    (tm.tm_min = trace_digits(p + 10, 2)) < 0 || p[12] != ':' ||
	    (tm.tm_sec = trace_digits(p + 13, 2)) < 0)
		return -1;
	now = time(NULL);
	localtime_r(&now, &now_tm);
	tm.tm_year = now_tm.tm_year;
	tm.tm_isdst = -1;
	t = mktime(&tm);
	if (t > now + 86400) {
		tm.tm_year--;
		tm.tm_isdst = -1;
		t = mktime(&tm);
	}
	if (t == (time_t) -1)
		return -1;
	*when_r = last_when = (double) t;
	memcpy(last, p, 15);
	*end_r = p + 15;
	return 0;
}

/* A queue id: 10 to 24 letters and digits (ours; Postfix's fit too). */
static size_t
trace_qid_len(const char *p)
{
	size_t n = 0;

	while (isalnum((unsigned char) p[n]) && n <= 24)
		n++;
	return n >= 10 && n <= 24 ? n : 0;
}

/* Copy len bytes of src to *p as a string; advance *p. */
static char *
trace_put(char **p, const char *src, size_t len)
{
	char *dst = *p;

	memcpy(dst, src, len);
	dst[len] = '\0';
	*p += len + 1;
	return dst;
}

/* One allocation for the line and its strings (trace_line_free). */
static struct trace_line *
trace_line_new(double when, const char *host, size_t hostlen,
	const char *daemon, size_t daemonlen, const char *pid, size_t pidlen,
	const char *qid, size_t qidlen, const char *text)
{
	size_t textlen = strlen(text);
	size_t size = sizeof(struct trace_line) + hostlen + daemonlen +
	    pidlen + qidlen + textlen + 5;
	struct trace_line *line = xcalloc(1, size);
	char *p = (char *) (line + 1);

	line->when = when;
	line->host = trace_put(&p, host, hostlen);
	line->daemon = trace_put(&p, daemon, daemonlen);
	line->pid = trace_put(&p, pid, pidlen);
	line->qid = qid != NULL ? trace_put(&p, qid, qidlen) : NULL;
	line->text = trace_put(&p, text, textlen);
	return line;
}

/*
 * "[host] name/daemon[pid]: [level: ][QID: ]text" after the time; NULL
 * when the line is not in that shape.
 */
static struct trace_line *
trace_parse_rest(const char *p, double when)
{
	static const char *const levels[] = {
		"debug: ", "warning: ", "error: ", "fatal: ", "panic: ",
	};
	const char *tok, *host = NULL, *slash, *bracket, *text, *daemon;
	const char *pid = "", *qid;
	size_t hostlen = 0, taglen, n, i, daemonlen, pidlen = 0, qidlen;

	while (*p == ' ')
		p++;
	tok = p;
	taglen = strcspn(tok, " ");
	if (taglen == 0)
		return NULL;
	if (tok[taglen - 1] != ':') {
		host = tok;
		hostlen = taglen;
		tok += taglen;
		while (*tok == ' ')
			tok++;
		taglen = strcspn(tok, " ");
		if (taglen < 2 || tok[taglen - 1] != ':')
			return NULL;
	}
	text = tok + taglen;
	if (*text == ' ')
		text++;
	taglen--;		/* the colon */
	bracket = memchr(tok, '[', taglen);
	n = bracket != NULL ? (size_t) (bracket - tok) : taglen;
	slash = NULL;
	for (i = 0; i < n; i++)
		if (tok[i] == '/')
			slash = tok + i;
	daemon = slash != NULL ? slash + 1 : tok;
	daemonlen = n - (size_t) (daemon - tok);
	if (host == NULL) {
		host = tok;
		hostlen = slash != NULL ? (size_t) (slash - tok) : n;
	}
	if (bracket != NULL && tok[taglen - 1] == ']') {
		pid = bracket + 1;
		pidlen = taglen - n - 2;
	}
	qid = text;
	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (strncmp(qid, levels[i], strlen(levels[i])) == 0)
			qid += strlen(levels[i]);
	qidlen = trace_qid_len(qid);
	if (qidlen == 0 || qid[qidlen] != ':' || qid[qidlen + 1] != ' ')
		qidlen = 0;
	return trace_line_new(when, host, hostlen, daemon, daemonlen, pid,
	    pidlen, qidlen > 0 ? qid : NULL, qidlen, text);
}

static struct trace_line *
trace_parse(const char *raw)
{
	double when;
	const char *rest;

	if (trace_time_iso(raw, &when, &rest) < 0 &&
	    trace_time_bsd(raw, &when, &rest) < 0)
		return NULL;
	if (*rest != ' ')
		return NULL;
	return trace_parse_rest(rest, when);
}

/*
 * The next line of r into r->buf: at most trace_line_limit bytes.  A
 * longer line is read to its end and dropped (1): a cut line could be
 * taken for another.  0 ok, -1 at the end.
 */
static int
trace_read_raw(struct trace_reader *r)
{
	size_t len;
	char skip[4096];

	if (gzgets(r->gz, r->buf, (int) var_trace_line_limit + 1) == NULL)
		return -1;
	len = strlen(r->buf);
	if (len > 0 && r->buf[len - 1] == '\n') {
		r->buf[--len] = '\0';
		if (len > 0 && r->buf[len - 1] == '\r')
			r->buf[--len] = '\0';
		return 0;
	}
	if (len < (size_t) var_trace_line_limit)
		return 0;	/* the last line, without its LF */
	while (gzgets(r->gz, skip, sizeof(skip)) != NULL) {
		len = strlen(skip);
		if (len > 0 && skip[len - 1] == '\n')
			break;
	}
	return 1;
}

/* Parse ahead to r's next line of ours; r->eof at the end. */
static void
trace_advance(struct trace_reader *r, unsigned long long *seq,
	unsigned long long *skipped)
{
	int rc;

	r->next = NULL;
	while (!r->eof) {
		rc = trace_read_raw(r);
		if (rc == 1) {
			(*skipped)++;
			continue;
		}
		if (rc < 0) {
			int err;
			const char *msg = gzerror(r->gz, &err);

			if (err != Z_OK && err != Z_STREAM_END)
				ctl_eprintf("ispmailctl: trace: %s: %s\n",
				    r->path, err == Z_ERRNO ? strerror(errno) :
				    msg);
			r->eof = 1;
			break;
		}
		r->next = trace_parse(r->buf);
		if (r->next != NULL) {
			r->next->seq = (*seq)++;
			return;
		}
	}
}

static int
trace_open(struct trace_reader *r, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	r->path = path;
	if (fd < 0 || (r->gz = gzdopen(fd, "rb")) == NULL) {
		ctl_eprintf("ispmailctl: trace: %s: %s\n", path,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	(void) gzbuffer(r->gz, 128 * 1024);
	r->buf = xmalloc((size_t) var_trace_line_limit + 1);
	return 0;
}

/*
 * A time for --since/--until: 2026-12-02T14:00[:00][Z|+01:00] (or a
 * space for the T; local time without a zone), or N[smhd] ago.
 */
static int
trace_parse_when(const char *arg, double *when_r)
{
	const char *end;
	char *num_end;
	long long n;
	int unit;

	if (trace_time_iso(arg, when_r, &end) == 0 && *end == '\0')
		return 0;
	errno = 0;
	n = strtoll(arg, &num_end, 10);
	if (errno != 0 || num_end == arg || n < 0 || n > 100LL * 365 * 86400)
		return -1;
	switch (*num_end) {
	case 's': unit = 1; break;
	case 'm': unit = 60; break;
	case 'h': unit = 3600; break;
	case 'd': unit = 86400; break;
	default: return -1;
	}
	if (num_end[1] != '\0')
		return -1;
	*when_r = (double) time(NULL) - (double) (n * unit);
	return 0;
}

static int
trace_usage(void)
{
	ctl_eprintf("usage: ispmailctl trace [--since T] [--until T] "
	    "[--log FILE]... queue_id|<message-id>|address\n");
	return 2;
}

/* What ID is: a Message-ID in brackets, an address, or a queue id. */
static int
trace_seed_kind(const char *id, enum trace_seed *kind_r)
{
	size_t len = strlen(id);

	if (len >= 3 && id[0] == '<' && id[len - 1] == '>') {
		*kind_r = TRACE_SEED_MESSAGE_ID;
		return 0;
	}
	if (strchr(id, '@') != NULL) {
		*kind_r = TRACE_SEED_ADDRESS;
		return 0;
	}
	if (trace_qid_len(id) == len && len > 0) {
		*kind_r = TRACE_SEED_QID;
		return 0;
	}
	return -1;
}

/* maillog_file's entries (split on commas and spaces) into files. */
static size_t
trace_default_logs(const char **files, char **copy_r)
{
	char *p, *save = NULL;
	size_t n = 0;

	*copy_r = xstrdup(var_maillog_file != NULL ? var_maillog_file : "");
	for (p = strtok_r(*copy_r, ", \t", &save); p != NULL &&
	    n < TRACE_MAX_FILES; p = strtok_r(NULL, ", \t", &save))
		files[n++] = p;
	return n;
}

/* Merge the readers by time into set, one pass over each file. */
static void
trace_merge(struct trace_reader *readers, size_t count, double since,
	double until, struct trace_set *set)
{
	struct trace_line *line;
	unsigned long long seq = 0, skipped = 0;
	size_t i, best;

	for (i = 0; i < count; i++)
		trace_advance(&readers[i], &seq, &skipped);
	for (;;) {
		best = count;
		for (i = 0; i < count; i++) {
			if (readers[i].next == NULL)
				continue;
			if (best == count ||
			    readers[i].next->when < readers[best].next->when)
				best = i;
		}
		if (best == count)
			break;
		line = readers[best].next;
		trace_advance(&readers[best], &seq, &skipped);
		if (line->when < since || line->when > until) {
			trace_line_free(line);
			continue;
		}
		trace_set_line(set, line);
	}
	if (skipped > 0)
		ctl_eprintf("ispmailctl: trace: %llu line%s over "
		    "trace_line_limit (%lld bytes) skipped\n", skipped,
		    skipped == 1 ? "" : "s", var_trace_line_limit);
}

int
ctl_trace(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "log", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	const char **files = xcalloc(TRACE_MAX_FILES, sizeof(*files));
	struct trace_reader *readers = NULL;
	struct trace_set *set = NULL;
	double since = 0, until = 1e18;
	enum trace_seed kind;
	char *defaults = NULL;
	size_t nfiles = 0, i, found;
	int ch, status = 1;

	while ((ch = getopt_long(argc, argv, "s:u:l:", longopts, NULL))
	    != -1) {
		switch (ch) {
		case 's':
		case 'u':
			if (trace_parse_when(optarg, ch == 's' ? &since :
			    &until) < 0) {
				ctl_eprintf("ispmailctl: trace: bad time %s "
				    "(2026-12-02T14:00[:00][Z], or 30m, 2h, "
				    "3d ago)\n", optarg);
				status = 2;
				goto out;
			}
			break;
		case 'l':
			if (nfiles == TRACE_MAX_FILES) {
				ctl_eprintf("ispmailctl: trace: more than %d "
				    "--log files\n", TRACE_MAX_FILES);
				status = 2;
				goto out;
			}
			files[nfiles++] = optarg;
			break;
		default:
			status = trace_usage();
			goto out;
		}
	}
	if (optind != argc - 1 || trace_seed_kind(argv[optind], &kind) < 0) {
		status = trace_usage();
		goto out;
	}
	if (nfiles == 0)
		nfiles = trace_default_logs(files, &defaults);
	if (nfiles == 0) {
		ctl_eprintf("ispmailctl: trace: maillog_file is empty; name "
		    "the logs with --log\n");
		goto out;
	}
	readers = xcalloc(nfiles, sizeof(*readers));
	for (i = 0; i < nfiles; i++)
		if (trace_open(&readers[i], files[i]) < 0)
			goto out;
	set = trace_set_new(kind, argv[optind], TRACE_MAX_LINES);
	trace_merge(readers, nfiles, since, until, set);
	found = trace_set_print(set);
	if (trace_set_truncated(set))
		ctl_eprintf("ispmailctl: trace: more than %d lines matched; "
		    "the rest left out (narrow --since/--until)\n",
		    TRACE_MAX_LINES);
	if (found == 0)
		ctl_eprintf("ispmailctl: trace: %s: not found in the logs\n",
		    argv[optind]);
	status = found > 0 ? 0 : 1;
out:
	for (i = 0; readers != NULL && i < nfiles; i++) {
		if (readers[i].gz != NULL)
			(void) gzclose(readers[i].gz);
		if (readers[i].next != NULL)
			trace_line_free(readers[i].next);
		free(readers[i].buf);
	}
	free(readers);
	trace_set_free(&set);
	free(defaults);
	free(files);
	return status;
}

/*
 * ctl_tlsrpt: ispmailctl tlsrpt send|show: a day's TLS-RPT journal
 * (tlsrpt_journal.h) as one RFC 8460 aggregate report per policy
 * domain, sent to the domain's rua URIs (ctl_tlsrpt_send.c).
 *
 * The journal is read record by record: a damaged or truncated record
 * is logged and skipped.  Results are counted in a table of distinct
 * (policy, outcome) pairs, so memory grows with what differs, not with
 * the number of sessions; the report has at most CTL_TLSRPT_POLICY_MAX
 * policies and CTL_TLSRPT_DETAIL_MAX failure-details a policy (the
 * summary still counts every session).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "attr.h"
#include "buf.h"
#include "ctl.h"
#include "ctl_tlsrpt_int.h"
#include "dns.h"
#include "hash.h"
#include "log.h"
#include "mail_params.h"
#include "tlsrpt_journal.h"
#include "xalloc.h"

#define CTL_TLSRPT_POLICY_MAX 100	/* policies in one report */
#define CTL_TLSRPT_DETAIL_MAX 100	/* failure-details of a policy */
#define CTL_TLSRPT_KEYS_MAX 1000000	/* distinct (policy, outcome) */
#define CTL_TLSRPT_JSON_MAX (8 * 1024 * 1024)

/* One distinct (policy, outcome) and how often it happened. */
struct tally {
	char *policy;	/* "domain\ntype\nS:string...\nM:mx...\n" */
	char *outcome;	/* "success" or "result\nsend\nrecv\nmx\ndetail" */
	unsigned long long count;
	struct tally *next;	/* the hash chain */
};

struct tallies {
	struct tally **buckets;
	size_t bucket_count, count;
	uint64_t seed;
	unsigned long long skipped;	/* damaged records */
};

static uint64_t
tally_hash(const struct tallies *t, const char *policy, const char *outcome)
{
	uint64_t h = fnv1a64_update(t->seed, policy, strlen(policy) + 1);

	return fnv1a64_update(h, outcome, strlen(outcome));
}

static void
tallies_grow(struct tallies *t)
{
	size_t n = t->bucket_count * 2, i;
	struct tally **b = xcalloc(n, sizeof(*b)), *e, *next;

	for (i = 0; i < t->bucket_count; i++) {
		for (e = t->buckets[i]; e != NULL; e = next) {
			size_t k = tally_hash(t, e->policy, e->outcome) % n;

			next = e->next;
			e->next = b[k];
			b[k] = e;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->bucket_count = n;
}

/* Count one; 0 ok, -1 the table is full (the record is not counted). */
static int
tallies_add(struct tallies *t, const char *policy, const char *outcome)
{
	size_t k = tally_hash(t, policy, outcome) % t->bucket_count;
	struct tally *e;

	for (e = t->buckets[k]; e != NULL; e = e->next) {
		if (strcmp(e->policy, policy) == 0 &&
		    strcmp(e->outcome, outcome) == 0) {
			e->count++;
			return 0;
		}
	}
	if (t->count >= CTL_TLSRPT_KEYS_MAX)
		return -1;
	e = xcalloc(1, sizeof(*e));
	e->policy = xstrdup(policy);
	e->outcome = xstrdup(outcome);
	e->count = 1;
	e->next = t->buckets[k];
	t->buckets[k] = e;
	if (++t->count > t->bucket_count * 2)
		tallies_grow(t);
	return 0;
}

/* Text that can go into a report (and a key): printable ASCII. */
static int
value_ok(const char *v)
{
	for (; *v != '\0'; v++)
		if (*v < 0x20 || *v > 0x7e)
			return 0;
	return 1;
}

/*
 * Count one decoded record.  0 ok; -1 damaged (*why_r static).  The
 * values are checked again after decoding: a report is JSON and the
 * keys are lines.
 */
static int
tally_record(struct tallies *t, const struct attr_list *l, const char **why_r)
{
	struct buf *policy = buf_new(TLSRPT_JOURNAL_RECORD_MAX * 2);
	struct buf *outcome = buf_new(TLSRPT_JOURNAL_RECORD_MAX);
	const char *fields[] = { "domain", "policy_type", "result", "mx_host",
	    "receiving_ip", "sending_ip", "detail" };
	const char *v[7], *name, *value;
	size_t i, len;
	int rc = -1;

	for (i = 0; i < 7; i++) {
		v[i] = attr_get(l, fields[i]);
		if (v[i] == NULL)
			v[i] = "";
	}
	*why_r = "missing domain, policy_type or result";
	if (*v[0] == '\0' || *v[1] == '\0' || *v[2] == '\0')
		goto out;
	(void) buf_printf(policy, "%s\n%s\n", v[0], v[1]);
	for (i = 0; (name = attr_nth(l, i, &value, &len)) != NULL; i++) {
		if (strlen(value) != len || !value_ok(value)) {
			*why_r = "a value that is not printable text";
			goto out;
		}
		if (strcmp(name, "policy_string") == 0)
			(void) buf_printf(policy, "S:%s\n", value);
		else if (strcmp(name, "policy_mx") == 0)
			(void) buf_printf(policy, "M:%s\n", value);
	}
	if (strcmp(v[2], "success") == 0)
		(void) buf_append_str(outcome, "success");
	else
		(void) buf_printf(outcome, "%s\n%s\n%s\n%s\n%s", v[2], v[5],
		    v[4], v[3], v[6]);
	*why_r = "too many distinct results";
	rc = tallies_add(t, buf_cstr(policy), buf_cstr(outcome));
out:
	buf_free(&policy);
	buf_free(&outcome);
	return rc;
}

static void
journal_damaged(struct tallies *t, const char *path, unsigned long long recno,
	const char *why)
{
	log_warn("%s: record %llu damaged (%s), skipped", path, recno, why);
	t->skipped++;
}

/* End of one record's text in rec: decode and count it. */
static void
journal_record(struct tallies *t, struct attr_list *l, struct buf *rec,
	const char *path, unsigned long long recno)
{
	const char *why = NULL, *magic;

	if (buf_len(rec) == 0)
		return;
	if (attr_parse(l, buf_cstr(rec), buf_len(rec), &why) < 0 ||
	    (magic = attr_get(l, TLSRPT_JOURNAL_MAGIC)) == NULL ||
	    strcmp(magic, TLSRPT_JOURNAL_VERSION) != 0 ||
	    (why = NULL, tally_record(t, l, &why)) < 0)
		journal_damaged(t, path, recno, why != NULL ? why :
		    "not a TLSRPT record");
	buf_reset(rec);
}

/*
 * The next line of f into line (with its '\n'), at most max bytes: 1 a
 * line, 0 end of file, -1 a line longer than max (the rest of it is
 * read and dropped, so the reader stays in step).
 */
static int
journal_line(FILE *f, struct buf *line, size_t max)
{
	int c, toolong = 0;

	buf_reset(line);
	while ((c = getc(f)) != EOF) {
		if (buf_len(line) < max)
			(void) buf_append_char(line, (char) c);
		else
			toolong = 1;
		if (c == '\n')
			break;
	}
	if (toolong)
		return -1;
	return buf_len(line) > 0 ? 1 : 0;
}

/*
 * One journal file: records are lines up to an empty line.  A line
 * that starts a record (tlsrpt=) inside another ends the other as
 * damaged (a record cut short by a crash); so does the end of the file.
 */
static void
journal_read(struct tallies *t, const char *path)
{
	struct attr_list *l = attr_list_new(TLSRPT_JOURNAL_ATTR_MAX,
	    TLSRPT_JOURNAL_RECORD_MAX);
	struct buf *rec = buf_new(TLSRPT_JOURNAL_RECORD_MAX);
	struct buf *line = buf_new(TLSRPT_JOURNAL_RECORD_MAX + 1);
	unsigned long long recno = 1;
	int fd, rc, toolong = 0;
	FILE *f;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	f = fd >= 0 ? fdopen(fd, "r") : NULL;
	if (f == NULL) {
		log_warn("%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		goto out;
	}
	while ((rc = journal_line(f, line, TLSRPT_JOURNAL_RECORD_MAX)) != 0) {
		if (rc > 0 && strcmp(buf_cstr(line), "\n") == 0) {
			if (toolong)
				buf_reset(rec);
			journal_record(t, l, rec, path, recno++);
			toolong = 0;
			continue;
		}
		if (rc > 0 && strncmp(buf_cstr(line), TLSRPT_JOURNAL_MAGIC "=",
		    sizeof(TLSRPT_JOURNAL_MAGIC)) == 0 &&
		    (buf_len(rec) > 0 || toolong)) {
			if (!toolong)
				journal_damaged(t, path, recno,
				    "cut short by the next record");
			buf_reset(rec);
			recno++;
			toolong = 0;
		}
		if (!toolong && (rc < 0 || buf_append(rec, buf_cstr(line),
		    buf_len(line)) < 0)) {
			journal_damaged(t, path, recno, "too large");
			toolong = 1;
		}
	}
	if (buf_len(rec) > 0 && !toolong)
		journal_damaged(t, path, recno, "truncated, no end");
	fclose(f);
out:
	buf_free(&line);
	buf_free(&rec);
	attr_list_free(&l);
}

/* Read every journal file of day (DAY.PID) under dir. */
static void
journal_read_day(struct tallies *t, const char *dir, const char *day)
{
	struct dirent *de;
	char *path;
	DIR *d = opendir(dir);

	if (d == NULL) {
		log_warn("%s: %s", dir, strerror(errno));
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, day, 10) != 0 || de->d_name[10] != '.'
		    || de->d_name[11] == '\0' || strspn(de->d_name + 11,
		    "0123456789") != strlen(de->d_name + 11))
			continue;
		path = xasprintf("%s/%s", dir, de->d_name);
		journal_read(t, path);
		free(path);
	}
	closedir(d);
}

/* ---- the JSON report (RFC 8460 4) ---------------------------------------- */

/* A JSON string of printable ASCII (value_ok). */
static void
json_str(struct buf *j, const char *s, size_t len)
{
	size_t i;

	(void) buf_append_char(j, '"');
	for (i = 0; i < len; i++) {
		if (s[i] == '"' || s[i] == '\\')
			(void) buf_append_char(j, '\\');
		(void) buf_append_char(j, s[i]);
	}
	(void) buf_append_char(j, '"');
}

static void
json_field(struct buf *j, const char *name, const char *value, int comma)
{
	(void) buf_printf(j, "%s\"%s\":", comma ? "," : "", name);
	json_str(j, value, strlen(value));
}

/* The lines of a policy key that start with prefix, as a JSON array. */
static void
json_list(struct buf *j, const char *name, const char *policy,
	const char *prefix)
{
	const char *p, *nl;
	int first = 1;

	(void) buf_printf(j, ",\"%s\":[", name);
	for (p = policy; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
		if (strncmp(p, prefix, 2) != 0)
			continue;
		if (!first)
			(void) buf_append_char(j, ',');
		json_str(j, p + 2, (size_t) (nl - p - 2));
		first = 0;
	}
	(void) buf_append_char(j, ']');
}

/* Field n (0-based) of a '\n'-separated key, into out. */
static void
key_field(const char *key, int n, struct buf *out)
{
	const char *p = key, *nl;

	buf_reset(out);
	while (n-- > 0 && (p = strchr(p, '\n')) != NULL)
		p++;
	if (p == NULL)
		return;
	nl = strchr(p, '\n');
	(void) buf_append(out, p, nl != NULL ? (size_t) (nl - p) : strlen(p));
}

/* One policies[] entry: the tallies [a, b) of one policy. */
static void
json_policy(struct buf *j, struct tally **v, size_t a, size_t b)
{
	static const char *const detail_names[] = { "result-type",
	    "sending-mta-ip", "receiving-ip", "receiving-mx-hostname",
	    "failure-reason-code" };
	unsigned long long ok = 0, failed = 0;
	struct buf *f = buf_new(TLSRPT_JOURNAL_RECORD_MAX);
	size_t i, details = 0;
	int k;

	for (i = a; i < b; i++) {
		if (strcmp(v[i]->outcome, "success") == 0)
			ok += v[i]->count;
		else
			failed += v[i]->count;
	}
	(void) buf_append_str(j, "{\"policy\":{");
	key_field(v[a]->policy, 1, f);
	json_field(j, "policy-type", buf_cstr(f), 0);
	json_list(j, "policy-string", v[a]->policy, "S:");
	key_field(v[a]->policy, 0, f);
	json_field(j, "policy-domain", buf_cstr(f), 1);
	json_list(j, "mx-host", v[a]->policy, "M:");
	(void) buf_printf(j, "},\"summary\":{\"total-successful-session-count\""
	    ":%llu,\"total-failure-session-count\":%llu}", ok, failed);
	(void) buf_append_str(j, ",\"failure-details\":[");
	for (i = a; i < b; i++) {
		if (strcmp(v[i]->outcome, "success") == 0)
			continue;
		if (details++ == CTL_TLSRPT_DETAIL_MAX)
			break;
		(void) buf_append_str(j, details > 1 ? ",{" : "{");
		for (k = 0; k < 5; k++) {
			key_field(v[i]->outcome, k, f);
			if (k == 0 || buf_len(f) > 0)
				json_field(j, detail_names[k], buf_cstr(f),
				    k > 0);
		}
		(void) buf_printf(j, ",\"failed-session-count\":%llu}",
		    v[i]->count);
	}
	(void) buf_append_str(j, "]}");
	buf_free(&f);
}

static int
tally_cmp(const void *x, const void *y)
{
	const struct tally *a = *(struct tally *const *) x;
	const struct tally *b = *(struct tally *const *) y;
	int c = strcmp(a->policy, b->policy);

	return c != 0 ? c : strcmp(a->outcome, b->outcome);
}

/* Length of the domain (first line) of a policy key. */
static size_t
domain_len(const char *policy)
{
	return strcspn(policy, "\n");
}

/* The report of the domain of tallies [a, b) (sorted, one domain). */
static struct buf *
json_report(struct tally **v, size_t a, size_t b, const char *day,
	const char *report_id)
{
	struct buf *j = buf_new(CTL_TLSRPT_JSON_MAX);
	size_t i, start, policies = 0;
	char *range;

	(void) buf_append_char(j, '{');
	json_field(j, "organization-name", var_tlsrpt_organization_name, 0);
	range = xasprintf("%sT00:00:00Z", day);
	(void) buf_append_str(j, ",\"date-range\":{");
	json_field(j, "start-datetime", range, 0);
	free(range);
	range = xasprintf("%sT23:59:59Z", day);
	json_field(j, "end-datetime", range, 1);
	free(range);
	(void) buf_append_char(j, '}');
	json_field(j, "contact-info", var_tlsrpt_contact_info, 1);
	json_field(j, "report-id", report_id, 1);
	(void) buf_append_str(j, ",\"policies\":[");
	for (start = i = a; i <= b; i++) {
		if (i < b && strcmp(v[i]->policy, v[start]->policy) == 0)
			continue;
		if (policies++ == CTL_TLSRPT_POLICY_MAX) {
			log_warn("TLS report for %.*s: more than %d policies; "
			    "the rest left out", (int) domain_len(v[a]->policy),
			    v[a]->policy, CTL_TLSRPT_POLICY_MAX);
			break;
		}
		if (policies > 1)
			(void) buf_append_char(j, ',');
		json_policy(j, v, start, i);
		start = i;
	}
	(void) buf_append_str(j, "]}");
	/*
	 * No single append is longer than twice a record, so a report
	 * that ends this far below the cap lost none on the way.
	 */
	if (buf_len(j) > CTL_TLSRPT_JSON_MAX - 2 * TLSRPT_JOURNAL_RECORD_MAX) {
		log_error("TLS report for %.*s: larger than %d bytes, not sent",
		    (int) domain_len(v[a]->policy), v[a]->policy,
		    CTL_TLSRPT_JSON_MAX);
		buf_free(&j);
	}
	return j;
}

/* ---- the command ------------------------------------------------------------ */

struct tlsrpt_run {
	const char *dir;
	char day[11];
	long long start;
	int send, force;
	const char *only;	/* show: one domain, or NULL */
	struct buf *sent;	/* "\ndomain\n..." already sent that day */
	struct dns *dns;
};

/* The domains already reported for the day (sent.DAY), for a rerun. */
static void
sent_load(struct tlsrpt_run *run)
{
	char *path = xasprintf("%s/sent.%s", run->dir, run->day);
	char chunk[4096];
	ssize_t n;
	int fd;

	run->sent = buf_new(16 * 1024 * 1024);
	(void) buf_append_char(run->sent, '\n');
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	while (fd >= 0 && (n = read(fd, chunk, sizeof(chunk))) > 0)
		if (buf_append(run->sent, chunk, (size_t) n) < 0)
			break;
	if (fd >= 0)
		close(fd);
	free(path);
}

static int
sent_has(const struct tlsrpt_run *run, const char *domain)
{
	char *line = xasprintf("\n%s\n", domain);
	int found = strstr(buf_cstr(run->sent), line) != NULL;

	free(line);
	return found;
}

static void
sent_add(struct tlsrpt_run *run, const char *domain)
{
	char *path = xasprintf("%s/sent.%s", run->dir, run->day);
	char *line = xasprintf("%s\n", domain);
	struct passwd *pw;
	int fd;

	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW |
	    O_CLOEXEC | O_NONBLOCK, 0600);
	/* Run by root, the file still belongs to the timer's user. */
	if (fd >= 0 && geteuid() == 0 &&
	    (pw = getpwnam(var_mail_owner)) != NULL)
		(void) fchown(fd, pw->pw_uid, pw->pw_gid);
	if (fd < 0 || write(fd, line, strlen(line)) != (ssize_t) strlen(line))
		log_warn("%s: %s (a rerun sends %s's report again)", path,
		    strerror(errno), domain);
	if (fd >= 0)
		close(fd);
	free(line);
	free(path);
}

/* Send (or show) the report of one domain.  0 ok, -1 failed. */
static int
tlsrpt_domain(struct tlsrpt_run *run, const char *domain, struct tally **v,
	size_t a, size_t b)
{
	struct ctl_tlsrpt_report r = { .domain = domain,
	    .start = run->start, .end = run->start + 86399 };
	char *report_id, *error = NULL, **rua = NULL;
	size_t i, rua_count = 0, delivered = 0;
	struct buf *json;
	int rc;

	report_id = xasprintf("%s.%s@%s", run->day, domain, mail_hostname());
	json = json_report(v, a, b, run->day, report_id);
	if (json == NULL) {
		free(report_id);
		return -1;
	}
	r.report_id = report_id;
	r.json = json;
	if (!run->send) {
		ctl_printf("%s\n", buf_cstr(json));
		rc = 0;
		goto out;
	}
	rc = ctl_tlsrpt_policy(run->dns, domain, &rua, &rua_count, &error);
	if (rc <= 0) {
		if (rc < 0)
			log_error("TLS report for %s: %s; try again later",
			    domain, error);
		else
			log_info("TLS report for %s: no TLSRPT record, none "
			    "sent", domain);
		goto out;
	}
	for (i = 0; i < rua_count; i++) {
		if (ctl_tlsrpt_deliver(run->dns, &r, rua[i], &error) == 0) {
			log_info("TLS report for %s: report-id %s sent to %s",
			    domain, report_id, rua[i]);
			delivered++;
		} else {
			log_error("TLS report for %s: %s: %s", domain, rua[i],
			    error);
		}
		free(error);
		error = NULL;
	}
	rc = delivered > 0 ? 0 : -1;
	if (delivered > 0)
		sent_add(run, domain);
out:
	for (i = 0; i < rua_count; i++)
		free(rua[i]);
	free(rua);
	free(error);
	buf_free(&json);
	free(report_id);
	return rc;
}

/* Remove journal files (and sent marks) older than the lifetime. */
static void
tlsrpt_expire(const char *dir)
{
	char oldest[11], *path;
	struct dirent *de;
	const char *day;
	DIR *d = opendir(dir);

	if (d == NULL)
		return;
	tlsrpt_journal_day((long long) time(NULL) -
	    var_tlsrpt_journal_lifetime, oldest);
	while ((de = readdir(d)) != NULL) {
		day = strncmp(de->d_name, "sent.", 5) == 0 ? de->d_name + 5 :
		    de->d_name;
		/* "YYYY-MM-DD" sorts as the days do. */
		if (strlen(day) < 10 || day[4] != '-' || day[7] != '-' ||
		    strncmp(day, oldest, 10) >= 0)
			continue;
		path = xasprintf("%s/%s", dir, de->d_name);
		if (unlink(path) < 0)
			log_warn("%s: %s", path, strerror(errno));
		free(path);
	}
	closedir(d);
}

/* Every domain of the day's journal.  0 all sent (or shown), 1 not. */
static int
tlsrpt_run(struct tlsrpt_run *run)
{
	struct tallies t = { .bucket_count = 1024 };
	struct tally **v, *e, *next;
	size_t i, a, n = 0;
	char *domain;
	int failed = 0;

	t.buckets = xcalloc(t.bucket_count, sizeof(*t.buckets));
	/* Keys come from remote names: seed the hash (hash.h). */
	t.seed = FNV1A64_BASIS ^ ((uint64_t) getpid() << 32) ^
	    (uint64_t) time(NULL);
	journal_read_day(&t, run->dir, run->day);
	if (t.skipped > 0)
		log_warn("TLS-RPT journal of %s: %llu damaged records "
		    "skipped", run->day, t.skipped);
	v = xcalloc(t.count + 1, sizeof(*v));
	for (i = 0; i < t.bucket_count; i++)
		for (e = t.buckets[i]; e != NULL; e = e->next)
			v[n++] = e;
	qsort(v, n, sizeof(*v), tally_cmp);
	for (a = 0; a < n; a = i) {
		size_t len = domain_len(v[a]->policy);

		for (i = a + 1; i < n && domain_len(v[i]->policy) == len &&
		    strncmp(v[i]->policy, v[a]->policy, len) == 0; i++)
			;
		domain = xasprintf("%.*s", (int) len, v[a]->policy);
		if ((run->only == NULL || strcasecmp(run->only, domain) == 0)
		    && (!run->send || run->force || !sent_has(run, domain)) &&
		    tlsrpt_domain(run, domain, v, a, i) < 0)
			failed = 1;
		free(domain);
	}
	for (i = 0; i < t.bucket_count; i++) {
		for (e = t.buckets[i]; e != NULL; e = next) {
			next = e->next;
			free(e->policy);
			free(e->outcome);
			free(e);
		}
	}
	free(t.buckets);
	free(v);
	return failed;
}

/* "YYYY-MM-DD" into the day's first second (UTC).  0 ok, -1 bad. */
static int
tlsrpt_parse_day(const char *text, long long *start_r)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	end = strptime(text, "%Y-%m-%d", &tm);
	if (end == NULL || *end != '\0' || strlen(text) != 10)
		return -1;
	*start_r = (long long) timegm(&tm);
	return 0;
}

static int
tlsrpt_usage(void)
{
	ctl_eprintf("usage: ispmailctl tlsrpt send [--date YYYY-MM-DD] "
	    "[--force]\n       ispmailctl tlsrpt show [--date YYYY-MM-DD] "
	    "[DOMAIN]\n");
	return 2;
}

int
ctl_tlsrpt(int argc, char **argv)
{
	struct tlsrpt_run run = { .start = -1 };
	char *dir, *error = NULL;
	int i, rc;

	if (argc < 2 || (strcmp(argv[1], "send") != 0 &&
	    strcmp(argv[1], "show") != 0))
		return tlsrpt_usage();
	run.send = strcmp(argv[1], "send") == 0;
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--date") == 0 && i + 1 < argc) {
			if (tlsrpt_parse_day(argv[++i], &run.start) < 0)
				return tlsrpt_usage();
		} else if (strcmp(argv[i], "--force") == 0 && run.send) {
			run.force = 1;
		} else if (argv[i][0] != '-' && !run.send &&
		    run.only == NULL) {
			run.only = argv[i];
		} else {
			return tlsrpt_usage();
		}
	}
	if (run.start < 0)	/* yesterday (UTC) */
		run.start = ((long long) time(NULL) / 86400 - 1) * 86400;
	tlsrpt_journal_day(run.start, run.day);
	if (run.send && (*var_tlsrpt_organization_name == '\0' ||
	    *var_tlsrpt_contact_info == '\0')) {
		ctl_eprintf("ispmailctl: tlsrpt send: set "
		    "tlsrpt_organization_name and tlsrpt_contact_info in "
		    "main.conf to send TLS reports\n");
		return 1;
	}
	dir = xasprintf("%s/%s", var_queue_directory, TLSRPT_JOURNAL_DIR);
	run.dir = dir;
	if (run.send) {
		run.dns = dns_open_params(&error);
		if (run.dns == NULL) {
			ctl_eprintf("ispmailctl: tlsrpt: resolver: %s\n",
			    error);
			free(error);
			free(dir);
			return 1;
		}
		sent_load(&run);
	}
	rc = tlsrpt_run(&run);
	if (run.send)
		tlsrpt_expire(dir);
	dns_close(&run.dns);
	buf_free(&run.sent);
	free(dir);
	return rc;
}

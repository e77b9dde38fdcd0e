/*
 * ctl_archive: ispmailctl archive verify|search|export|seal|expire --
 * the mail archive (ispmail-archive(5)) for an auditor or a legal
 * request.  verify, search and export only read; seal and expire write
 * under the archive's lock, as the archive's owner when run as root.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "archive.h"
#include "buf.h"
#include "ctl.h"
#include "mail_params.h"
#include "xalloc.h"

#define CTL_EXIT_USAGE 2

struct ctl_archive_opts {
	const char *domain;
	const char *address;
	long long since, until;	/* -1: open */
};

static int
ctl_archive_usage(void)
{
	ctl_eprintf("usage: ispmailctl archive verify [--domain D]\n"
	    "       ispmailctl archive search|export [--domain D] "
	    "[--address A] [--since T] [--until T]\n"
	    "       ispmailctl archive seal|expire [--domain D]\n"
	    "T: unix seconds, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS (UTC)\n");
	return CTL_EXIT_USAGE;
}

/* T as ispmailctl(8) says; -1 when malformed. */
static long long
ctl_archive_time(const char *text)
{
	struct tm tm;
	const char *end;
	char *num_end;
	long long t;

	errno = 0;
	t = strtoll(text, &num_end, 10);
	if (errno == 0 && num_end != text && *num_end == '\0' && t >= 0)
		return t;
	memset(&tm, 0, sizeof(tm));
	end = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);
	if (end == NULL || *end != '\0') {
		memset(&tm, 0, sizeof(tm));
		end = strptime(text, "%Y-%m-%d", &tm);
	}
	if (end == NULL || *end != '\0')
		return -1;
	return (long long) timegm(&tm);
}

static int
ctl_archive_parse(int argc, char **argv, struct ctl_archive_opts *o)
{
	static const struct option longopts[] = {
		{ "domain", required_argument, NULL, 'd' },
		{ "address", required_argument, NULL, 'a' },
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	memset(o, 0, sizeof(*o));
	o->since = o->until = -1;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "d:a:s:u:", longopts, NULL))
	    != -1) {
		switch (ch) {
		case 'd':
			o->domain = optarg;
			break;
		case 'a':
			o->address = optarg;
			break;
		case 's':
		case 'u':
			if (ctl_archive_time(optarg) < 0) {
				ctl_eprintf("ispmailctl: bad time: %s\n",
				    optarg);
				return -1;
			}
			*(ch == 's' ? &o->since : &o->until) =
			    ctl_archive_time(optarg);
			break;
		default:
			return -1;
		}
	}
	if (optind != argc)
		return -1;
	if (o->domain != NULL && !archive_domain_valid(o->domain)) {
		ctl_eprintf("ispmailctl: bad domain: %s\n", o->domain);
		return -1;
	}
	return 0;
}

/* The domains to work on: the one asked for, or every archive. */
static char **
ctl_archive_domains(const struct ctl_archive_opts *o)
{
	char **domains, *error = NULL;

	if (o->domain != NULL) {
		domains = xcalloc(2, sizeof(char *));
		domains[0] = xstrdup(o->domain);
		return domains;
	}
	if (archive_list_domains(&domains, &error) < 0) {
		ctl_eprintf("ispmailctl: %s\n", error);
		free(error);
		return NULL;
	}
	return domains;
}

static void
ctl_archive_report(void *ctx, const char *line)
{
	ctl_printf("%s: %s\n", (const char *) ctx, line);
}

static int
ctl_archive_verify(const struct ctl_archive_opts *o)
{
	unsigned char *key = NULL;
	size_t key_len = 0, i;
	long long segments, records;
	char **domains, *error = NULL;
	int problems, status = 0;

	if (archive_key_read(&key, &key_len, &error) < 0) {
		ctl_eprintf("ispmailctl: %s\n", error);
		free(error);
		return 1;
	}
	if ((domains = ctl_archive_domains(o)) == NULL) {
		free(key);
		return 1;
	}
	for (i = 0; domains[i] != NULL; i++) {
		problems = archive_verify(domains[i], key, key_len,
		    ctl_archive_report, domains[i], &segments, &records,
		    &error);
		if (problems < 0) {
			ctl_printf("%s: %s\n", domains[i], error);
			free(error);
			error = NULL;
			status = 1;
		} else if (problems > 0) {
			ctl_printf("%s: FAILED: %d problem%s in %lld segments, "
			    "%lld records\n", domains[i], problems,
			    problems == 1 ? "" : "s", segments, records);
			status = 1;
		} else {
			ctl_printf("%s: ok: %lld segments, %lld records\n",
			    domains[i], segments, records);
		}
	}
	archive_names_free(&domains);
	free(key);
	return status;
}

static int
ctl_archive_matches(const struct ctl_archive_opts *o,
	const struct archive_record *r)
{
	size_t i;

	if (strcmp(r->type, ARCHIVE_MESSAGE) != 0)
		return 0;
	if (o->since >= 0 && r->arrival < o->since)
		return 0;
	if (o->until >= 0 && r->arrival > o->until)
		return 0;
	if (o->address == NULL)
		return 1;
	if ((r->sender != NULL && strcasecmp(r->sender, o->address) == 0) ||
	    (r->auth != NULL && strcasecmp(r->auth, o->address) == 0))
		return 1;
	for (i = 0; i < r->rcpt_count; i++)
		if (strcasecmp(r->rcpts[i], o->address) == 0)
			return 1;
	return 0;
}

static const char *
ctl_archive_iso(long long t, char *out, size_t len)
{
	time_t tt = (time_t) t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		(void) snprintf(out, len, "%lld", t);
	return out;
}

/* Printable ASCII only, for a header line of the export. */
static int
ctl_archive_header_safe(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char) *s < 0x20 || (unsigned char) *s == 0x7f)
			return 0;
	return 1;
}

/*
 * One record as mbox (mboxrd): the From_ line, our envelope headers,
 * the message with LF line ends and ">" before every line that starts
 * with ">*From ".
 */
static int
ctl_archive_mbox(const char *domain, const struct archive_record *r,
	int fd)
{
	char date[64], *msg, *line, *end;
	time_t tt = (time_t) r->arrival;
	struct tm tm;
	size_t i, len;
	const char *from = r->sender != NULL && *r->sender != '\0' &&
	    ctl_archive_header_safe(r->sender) && strchr(r->sender, ' ') ==
	    NULL ? r->sender : "MAILER-DAEMON";

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", &tm) == 0)
		(void) snprintf(date, sizeof(date), "Thu Jan  1 00:00:00 1970");
	len = (size_t) r->size;
	msg = xmalloc(len + 1);
	if (r->size > 0 && pread(fd, msg, len, r->payload_offset) !=
	    (ssize_t) len) {
		ctl_eprintf("ispmailctl: %s: read record n=%lld: %s\n",
		    domain, r->n, strerror(errno));
		free(msg);
		return -1;
	}
	msg[len] = '\0';
	printf("From %s %s\n", from, date);
	printf("X-Ispmail-Archive: %s; n=%lld; queue_id=%s; direction=%s; "
	    "sha256=%s\n", domain, r->n, r->queue_id != NULL &&
	    ctl_archive_header_safe(r->queue_id) ? r->queue_id : "-",
	    r->direction != NULL && ctl_archive_header_safe(r->direction) ?
	    r->direction : "-", r->sha256 != NULL ? r->sha256 : "-");
	for (i = 0; i < r->rcpt_count; i++)
		if (ctl_archive_header_safe(r->rcpts[i]))
			printf("X-Ispmail-Envelope-To: <%s>\n", r->rcpts[i]);
	if (r->sender != NULL && ctl_archive_header_safe(r->sender))
		printf("X-Ispmail-Envelope-From: <%s>\n", r->sender);
	for (line = msg; line < msg + len; line = end + 1) {
		size_t n;
		const char *p;

		end = memchr(line, '\n', (size_t) (msg + len - line));
		if (end == NULL)
			end = msg + len;
		n = (size_t) (end - line);
		if (n > 0 && line[n - 1] == '\r')
			n--;
		for (p = line; p < line + n && *p == '>'; p++)
			;
		if ((size_t) (line + n - p) >= 5 && memcmp(p, "From ", 5) == 0)
			putchar('>');
		fwrite(line, 1, n, stdout);
		putchar('\n');
	}
	putchar('\n');	/* the empty line before the next From_ */
	free(msg);
	return 0;
}

/* search (export 0) or export (1) over the chosen domains. */
static int
ctl_archive_list(const struct ctl_archive_opts *o, int export)
{
	const struct archive_record *r;
	struct archive_reader *rd;
	long long *segs = NULL;
	size_t count = 0, i, k, j;
	char **domains, *path, *error = NULL, when[32];
	int rc, status = 0;
	long long matched = 0;

	if ((domains = ctl_archive_domains(o)) == NULL)
		return 1;
	for (i = 0; domains[i] != NULL; i++) {
		if (archive_list_segments(domains[i], &segs, &count,
		    &error) < 0) {
			ctl_eprintf("ispmailctl: %s\n", error);
			free(error);
			error = NULL;
			status = 1;
			continue;
		}
		for (k = 0; k < count; k++) {
			path = archive_segment_path(domains[i], segs[k]);
			rd = archive_reader_open(path, &error);
			free(path);
			if (rd == NULL) {
				ctl_eprintf("ispmailctl: %s\n", error);
				free(error);
				error = NULL;
				status = 1;
				continue;
			}
			while ((rc = archive_reader_next(rd, &r, &error)) ==
			    1) {
				if (!ctl_archive_matches(o, r))
					continue;
				matched++;
				if (export) {
					if (ctl_archive_mbox(domains[i], r,
					    archive_reader_fd(rd)) < 0)
						status = 1;
					continue;
				}
				ctl_printf("%s %s n=%lld segment=%lld "
				    "queue_id=%s direction=%s from=<%s> "
				    "size=%lld to=", ctl_archive_iso(
				    r->arrival, when, sizeof(when)),
				    domains[i], r->n, r->segment,
				    r->queue_id != NULL ? r->queue_id : "-",
				    r->direction != NULL ? r->direction : "-",
				    r->sender != NULL ? r->sender : "",
				    r->size);
				for (j = 0; j < r->rcpt_count; j++)
					ctl_printf("%s<%s>", j > 0 ? "," : "",
					    r->rcpts[j]);
				ctl_printf("\n");
			}
			if (rc < 0) {
				ctl_eprintf("ispmailctl: %s (run archive "
				    "verify)\n", error);
				free(error);
				error = NULL;
				status = 1;
			}
			archive_reader_close(&rd);
		}
		free(segs);
		segs = NULL;
	}
	archive_names_free(&domains);
	if (export)
		ctl_eprintf("ispmailctl: %lld message%s exported\n", matched,
		    matched == 1 ? "" : "s");
	return status;
}

/*
 * Run as root, write as the archive's owner, so qmgr can go on
 * appending to what we create.
 */
static int
ctl_archive_become_owner(void)
{
	struct stat st;

	if (geteuid() != 0)
		return 0;
	if (stat(var_archive_directory, &st) < 0) {
		ctl_eprintf("ispmailctl: %s: %s\n", var_archive_directory,
		    strerror(errno));
		return -1;
	}
	if (st.st_uid == 0)
		return 0;
	/* Root's supplementary groups must not come along. */
	if (setgroups(1, &st.st_gid) < 0 || setgid(st.st_gid) < 0 ||
	    setuid(st.st_uid) < 0 || geteuid() != st.st_uid) {
		ctl_eprintf("ispmailctl: cannot become the archive's owner "
		    "(uid %lu): %s\n", (unsigned long) st.st_uid,
		    strerror(errno));
		return -1;
	}
	return 0;
}

static int
ctl_archive_write(const struct ctl_archive_opts *o, int expire)
{
	char **domains, *error = NULL;
	size_t i;
	int rc, status = 0;

	if (*var_archive_directory == '\0') {
		ctl_eprintf("ispmailctl: archive_directory is not set\n");
		return 1;
	}
	if (ctl_archive_become_owner() < 0 ||
	    (domains = ctl_archive_domains(o)) == NULL)
		return 1;
	for (i = 0; domains[i] != NULL; i++) {
		rc = expire ? archive_expire(domains[i],
		    (long long) time(NULL), &error) :
		    archive_seal(domains[i], 1, &error);
		if (rc < 0) {
			ctl_eprintf("ispmailctl: %s: %s\n", domains[i], error);
			free(error);
			error = NULL;
			status = 1;
		} else if (expire) {
			ctl_printf("%s: %d segment%s removed\n", domains[i], rc,
			    rc == 1 ? "" : "s");
		} else {
			ctl_printf("%s: %s\n", domains[i], rc > 0 ?
			    "sealed" : "nothing to seal");
		}
	}
	archive_names_free(&domains);
	return status;
}

int
ctl_archive(int argc, char **argv)
{
	struct ctl_archive_opts o;
	const char *sub;

	if (argc < 2)
		return ctl_archive_usage();
	sub = argv[1];
	if (ctl_archive_parse(argc - 1, argv + 1, &o) < 0)
		return ctl_archive_usage();
	if (strcmp(sub, "verify") == 0)
		return ctl_archive_verify(&o);
	if (strcmp(sub, "search") == 0)
		return ctl_archive_list(&o, 0);
	if (strcmp(sub, "export") == 0)
		return ctl_archive_list(&o, 1);
	if (strcmp(sub, "seal") == 0)
		return ctl_archive_write(&o, 0);
	if (strcmp(sub, "expire") == 0)
		return ctl_archive_write(&o, 1);
	return ctl_archive_usage();
}

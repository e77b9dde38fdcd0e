/*
 * ctl_baseline: ispmailctl baseline, learned weekly baselines and alarms.
 *
 * The store, queue_directory/baseline/store, is a fixed-size file: at
 * most BASELINE_FIGURES figures (queue sizes, rates, load: any name), each
 * with one slot per hour of the week (168) holding an exponentially
 * weighted mean and variance and how many samples taught it.  A sample
 * (unix time, figure, value) is judged against its slot once the slot has
 * baseline_learning_samples samples: more than baseline_alarm_spreads
 * spreads away for baseline_alarm_minutes samples in a row raises one
 * alarm (a log line, ispmail_alarms_total{figure}, and the optional
 * baseline_alarm_command run with the figure, the value and the usual
 * value as arguments); the alarm is raised again only after the figure
 * came back.  Samples out of band do not teach the slot, so an attack
 * does not become the usual.  Samples come from standard input, one
 * "TIME FIGURE VALUE" a line (so a test or a cron job can feed a week in
 * one run); times are taken in local time for the hour of the week.
 *
 * "ispmailctl baseline sample" takes the figures itself: the queue
 * sizes, the accept, delivery and deferral rates per minute (from the
 * counters, metrics.h), the load average and the disks' sectors read and
 * written per minute (/proc/diskstats).  The master runs it every
 * baseline_sample_time in a child as mail_owner (master_metrics.c), so
 * no cron job is needed.  Per-account volumes are smtpd's
 * (account_store.h, ispmailctl account); a sample runs
 * baseline_alarm_command once for each new account hold.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "account_store.h"
#include "buf.h"
#include "ctl.h"
#include "fileio.h"
#include "log.h"
#include "mail_params.h"
#include "metrics.h"
#include "metrics_text.h"
#include "xalloc.h"

#define BASELINE_FIGURES 64
#define BASELINE_NAME_MAX 47
#define BASELINE_SLOTS 168
#define BASELINE_MAGIC 0x69736231U	/* "isb1" */
/* The longest input line and the most lines one run reads. */
#define BASELINE_LINE_MAX 256
#define BASELINE_LINES_MAX 10000000L
/* Weight of a new sample once a slot has learned (about 30 samples). */
#define BASELINE_ALPHA (1.0 / 30.0)

struct baseline_slot {
	double mean;
	double var;
	uint32_t n;
	uint32_t reserved;
};

struct baseline_figure {
	char name[BASELINE_NAME_MAX + 1];
	uint32_t out_run;		/* samples in a row out of band */
	uint32_t alarmed;		/* 1 until the figure comes back */
	double last_raw;		/* sample: the counter last time */
	int64_t last_time;		/* sample: when; 0 never */
	struct baseline_slot slot[BASELINE_SLOTS];
};

struct baseline_store {
	uint32_t magic;
	uint32_t figures;
	struct baseline_figure figure[BASELINE_FIGURES];
};

static const char *const baseline_days[] = {
	"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
	"Saturday",
};

static char *
baseline_path(void)
{
	return xasprintf("%s/baseline/store", var_queue_directory);
}

/* Read the store; a missing one starts empty.  0 ok, -1 (printed). */
static int
baseline_load(struct baseline_store *st)
{
	char *path = baseline_path();
	ssize_t n;
	int fd;

	memset(st, 0, sizeof(*st));
	st->magic = BASELINE_MAGIC;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		free(path);
		return 0;
	}
	if (fd < 0 || (n = read(fd, st, sizeof(*st))) != sizeof(*st)
	    || st->magic != BASELINE_MAGIC
	    || st->figures > BASELINE_FIGURES) {
		ctl_eprintf("ispmailctl: baseline: %s: %s\n", path,
		    fd < 0 ? strerror(errno) : "not a baseline store");
		if (fd >= 0)
			(void) close(fd);
		free(path);
		return -1;
	}
	(void) close(fd);
	free(path);
	return 0;
}

/* Write the store whole: temporary file, fsync, rename. */
static int
baseline_save(const struct baseline_store *st)
{
	char *path = baseline_path(), *tmp, *dir, *error = NULL;
	int fd, rc = -1;

	dir = xasprintf("%s/baseline", var_queue_directory);
	tmp = xasprintf("%s.tmp", path);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		ctl_eprintf("ispmailctl: baseline: create %s: %s\n", dir,
		    strerror(errno));
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd < 0 || fileio_write_all(fd, st, sizeof(*st), tmp, &error) < 0
	    || fsync(fd) < 0) {
		ctl_eprintf("ispmailctl: baseline: %s: %s\n", tmp,
		    error != NULL ? error : strerror(errno));
		free(error);
		if (fd >= 0)
			(void) close(fd);
		(void) unlink(tmp);
		goto out;
	}
	(void) close(fd);
	if (rename(tmp, path) < 0) {
		ctl_eprintf("ispmailctl: baseline: rename %s: %s\n", tmp,
		    strerror(errno));
		goto out;
	}
	rc = 0;
out:
	free(dir);
	free(tmp);
	free(path);
	return rc;
}

static struct baseline_figure *
baseline_figure(struct baseline_store *st, const char *name)
{
	uint32_t i;

	for (i = 0; i < st->figures; i++)
		if (strcmp(st->figure[i].name, name) == 0)
			return &st->figure[i];
	if (st->figures >= BASELINE_FIGURES)
		return NULL;
	memcpy(st->figure[st->figures].name, name, strlen(name) + 1);
	return &st->figure[st->figures++];
}

static int
baseline_name_ok(const char *name)
{
	size_t len = strlen(name);

	return len > 0 && len <= BASELINE_NAME_MAX
	    && strspn(name, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == len;
}

/*
 * Run baseline_alarm_command FIGURE VALUE USUAL [LOGIN] and wait for it
 * (login NULL: the three arguments).
 */
static void
baseline_hook(const char *figure, double value, double usual,
	const char *login)
{
	char value_text[64], usual_text[64];
	pid_t pid;
	int status;

	if (var_baseline_alarm_command == NULL
	    || *var_baseline_alarm_command == '\0')
		return;
	(void) snprintf(value_text, sizeof(value_text), "%g", value);
	(void) snprintf(usual_text, sizeof(usual_text), "%g", usual);
	pid = fork();
	if (pid == 0) {
		execl(var_baseline_alarm_command, var_baseline_alarm_command,
		    figure, value_text, usual_text, login, (char *) NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		log_warn("baseline_alarm_command %s: %m",
		    var_baseline_alarm_command);
	else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		log_warn("baseline_alarm_command %s %s: failed (status %d%s)",
		    var_baseline_alarm_command, figure,
		    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
		    WIFEXITED(status) ? "" : ", signal");
}

/* Judge one sample, then learn from it; 1 when it raised an alarm. */
static int
baseline_sample(struct baseline_figure *f, time_t when, double value)
{
	struct baseline_slot *s;
	struct tm tm;
	double spread, delta, alpha;
	int out = 0, alarm = 0;

	if (localtime_r(&when, &tm) == NULL)
		return 0;
	s = &f->slot[tm.tm_wday * 24 + tm.tm_hour];
	if (s->n >= (uint32_t) var_baseline_learning_samples) {
		/* A floor so a flat figure (always 0) is not all alarms. */
		spread = sqrt(s->var);
		if (spread < 1.0)
			spread = 1.0;
		if (spread < 0.05 * fabs(s->mean))
			spread = 0.05 * fabs(s->mean);
		out = fabs(value - s->mean) > var_baseline_alarm_spreads
		    * spread;
	}
	if (out) {
		f->out_run++;
		if (f->out_run >= (uint32_t) var_baseline_alarm_samples
		    && !f->alarmed) {
			f->alarmed = 1;
			alarm = 1;
			ctl_printf("alarm: %s %g is %.1fx the usual %.1f "
			    "(spread %.1f) for %s %02d:00\n", f->name, value,
			    s->mean != 0 ? value / s->mean : 0.0, s->mean,
			    spread, baseline_days[tm.tm_wday], tm.tm_hour);
			log_warn("alarm: %s %g is %.1fx the usual %.1f for "
			    "%s %02d:00", f->name, value, s->mean != 0 ?
			    value / s->mean : 0.0, s->mean,
			    baseline_days[tm.tm_wday], tm.tm_hour);
			metrics_inc("ispmail_alarms_total", "figure", f->name,
			    NULL);
			baseline_hook(f->name, value, s->mean, NULL);
		}
		/* An attack must not become the usual. */
		return alarm;
	}
	f->out_run = 0;
	f->alarmed = 0;
	s->n++;
	alpha = s->n < 30 ? 1.0 / s->n : BASELINE_ALPHA;
	delta = value - s->mean;
	s->mean += alpha * delta;
	s->var = (1 - alpha) * (s->var + alpha * delta * delta);
	return 0;
}

/* "TIME FIGURE VALUE" lines from stdin. */
static int
baseline_feed(void)
{
	struct baseline_store *st = xcalloc(1, sizeof(*st));
	struct baseline_figure *f;
	char line[BASELINE_LINE_MAX + 2], name[BASELINE_NAME_MAX + 2];
	long long when;
	double value;
	long lineno = 0;
	int alarms = 0, rc = 1, consumed;

	if (baseline_load(st) < 0)
		goto out;
	while (fgets(line, sizeof(line), stdin) != NULL) {
		if (++lineno > BASELINE_LINES_MAX
		    || strchr(line, '\n') == NULL) {
			ctl_eprintf("ispmailctl: baseline: line %ld: too long"
			    " or too many lines\n", lineno);
			goto out;
		}
		consumed = 0;
		if (sscanf(line, "%lld %48s %lf %n", &when, name, &value,
		    &consumed) != 3 || line[consumed] != '\0'
		    || !baseline_name_ok(name) || !isfinite(value)) {
			ctl_eprintf("ispmailctl: baseline: line %ld: expected"
			    " \"TIME FIGURE VALUE\"\n", lineno);
			goto out;
		}
		if ((f = baseline_figure(st, name)) == NULL) {
			ctl_eprintf("ispmailctl: baseline: more than %d "
			    "figures\n", BASELINE_FIGURES);
			goto out;
		}
		alarms += baseline_sample(f, (time_t) when, value);
	}
	if (baseline_save(st) < 0)
		goto out;
	ctl_printf("%ld sample%s, %d alarm%s\n", lineno, lineno == 1 ? "" :
	    "s", alarms, alarms == 1 ? "" : "s");
	rc = 0;
out:
	free(st);
	return rc;
}

/* The learned week of one figure: "Monday 10:00 mean spread n". */
static int
baseline_show(const char *name)
{
	struct baseline_store *st = xcalloc(1, sizeof(*st));
	uint32_t i;
	int s, rc = 1;

	if (baseline_load(st) < 0)
		goto out;
	for (i = 0; i < st->figures; i++) {
		if (strcmp(st->figure[i].name, name) != 0)
			continue;
		for (s = 0; s < BASELINE_SLOTS; s++)
			if (st->figure[i].slot[s].n > 0)
				ctl_printf("%s %s %02d:00 mean %.2f spread "
				    "%.2f samples %u\n", name,
				    baseline_days[s / 24], s % 24,
				    st->figure[i].slot[s].mean,
				    sqrt(st->figure[i].slot[s].var),
				    st->figure[i].slot[s].n);
		rc = 0;
	}
	if (rc != 0)
		ctl_eprintf("ispmailctl: baseline: no figure %s\n", name);
out:
	free(st);
	return rc;
}

/* The figures "sample" takes from the exposition: key prefix, figure. */
static const struct baseline_source {
	const char *prefix;
	const char *figure;
	int counter;			/* a rate per minute of a counter */
} baseline_sources[] = {
	{ "ispmail_queue_messages{queue=\"incoming\"}", "queue_incoming", 0 },
	{ "ispmail_queue_messages{queue=\"active\"}", "queue_active", 0 },
	{ "ispmail_queue_messages{queue=\"deferred\"}", "queue_deferred", 0 },
	{ "ispmail_queue_messages{queue=\"hold\"}", "queue_hold", 0 },
	{ "ispmail_smtpd_accepted_total{", "accept_rate", 1 },
	{ "ispmail_deliveries_total{result=\"sent\"", "delivery_rate", 1 },
	{ "ispmail_deliveries_total{result=\"deferred\"", "deferral_rate", 1 },
};

#define BASELINE_NSOURCES \
	(sizeof(baseline_sources) / sizeof(baseline_sources[0]))

/* Sum each source's series in the exposition text into sums. */
static void
baseline_parse(const char *text, double *sums)
{
	const char *line, *end, *space;
	size_t i;

	for (line = text; *line != '\0'; line = *end ? end + 1 : end) {
		end = strchr(line, '\n');
		if (end == NULL)
			end = line + strlen(line);
		if (*line == '#' || (space = memchr(line, ' ',
		    (size_t) (end - line))) == NULL)
			continue;
		for (i = 0; i < BASELINE_NSOURCES; i++)
			if (strncmp(line, baseline_sources[i].prefix,
			    strlen(baseline_sources[i].prefix)) == 0)
				sums[i] += strtod(space + 1, NULL);
	}
}

/*
 * The sectors read and written so far on the machine's whole disks (the
 * ones /sys/block lists: partitions would count twice): 0, -1 unknown.
 */
static int
baseline_io_sectors(double *sectors_r)
{
	char line[512], name[64], *path;
	unsigned long long rd, wr;
	unsigned lines = 0;
	int found = 0;
	FILE *fp = fopen("/proc/diskstats", "r");

	*sectors_r = 0;
	if (fp == NULL)
		return -1;
	/* One line a device; a machine has far fewer than this. */
	while (lines++ < 100000 && fgets(line, sizeof(line), fp) != NULL) {
		if (sscanf(line, "%*u %*u %63s %*u %*u %llu %*u %*u %*u %llu",
		    name, &rd, &wr) != 3 || strncmp(name, "loop", 4) == 0
		    || strncmp(name, "ram", 3) == 0 || strchr(name, '/'))
			continue;
		path = xasprintf("/sys/block/%s", name);
		if (access(path, F_OK) == 0) {
			*sectors_r += (double) rd + (double) wr;
			found = 1;
		}
		free(path);
	}
	(void) fclose(fp);
	return found ? 0 : -1;
}

/*
 * The account alarm (smtpd, account_store.h) cannot fork in a session:
 * each sample runs baseline_alarm_command for the holds it has not run
 * it for yet, "account COUNT USUAL LOGIN".  One pread when none is held.
 */
static int
baseline_account_hooks(void)
{
	struct account_rec r;
	char *error = NULL;
	char *path = xasprintf("%s/%s/%s", var_queue_directory, ACCOUNT_DIR,
	    ACCOUNT_FILE);
	unsigned i;
	int fd, got, hooks = 0;

	if (access(path, F_OK) < 0 && errno == ENOENT) {
		free(path);
		return 0;	/* no authenticated mail yet */
	}
	free(path);
	if ((fd = account_store_open(var_queue_directory, 0, &error)) < 0)
		goto fail;
	if (account_held_count(fd, &error) <= 0)
		goto done;
	for (i = 0; i < ACCOUNT_SLOTS; i++) {
		if ((got = account_nth(fd, i, &r, &error)) < 0)
			goto done;
		if (!got || r.held_since == 0 || r.hooked)
			continue;
		got = account_set_hooked(fd, r.login, r.held_since, &error);
		if (got < 0)
			goto done;
		if (got) {
			baseline_hook("account", r.held_count, r.held_usual,
			    r.login);
			hooks++;
		}
	}
done:
	(void) close(fd);
fail:
	if (error != NULL) {
		ctl_eprintf("ispmailctl: baseline: account alarms: %s\n",
		    error);
		free(error);
	}
	return hooks;
}

int
ctl_baseline_take(time_t now)
{
	struct baseline_store *st = xcalloc(1, sizeof(*st));
	struct baseline_figure *f;
	struct buf *text = buf_new(METRICS_TEXT_MAX);
	double sums[BASELINE_NSOURCES], load = -1, minutes, io;
	char *error = NULL;
	int alarms = 0, rc = 1, taken = 0;
	size_t i;
	FILE *fp;

	memset(sums, 0, sizeof(sums));
	if (baseline_load(st) < 0)
		goto out;
	if (metrics_text_render(text, var_queue_directory, now, &error) < 0) {
		ctl_eprintf("ispmailctl: baseline: %s\n", error);
		free(error);
		goto out;
	}
	baseline_parse(buf_cstr(text), sums);
	for (i = 0; i < BASELINE_NSOURCES; i++) {
		f = baseline_figure(st, baseline_sources[i].figure);
		if (f == NULL)
			continue;
		if (!baseline_sources[i].counter) {
			alarms += baseline_sample(f, now, sums[i]);
			taken++;
			continue;
		}
		/* A rate needs the last reading; a reset starts over. */
		minutes = (double) (now - (time_t) f->last_time) / 60.0;
		if (f->last_time > 0 && minutes > 0 && sums[i] >= f->last_raw) {
			alarms += baseline_sample(f, now,
			    (sums[i] - f->last_raw) / minutes);
			taken++;
		}
		f->last_raw = sums[i];
		f->last_time = (int64_t) now;
	}
	if (baseline_io_sectors(&io) == 0
	    && (f = baseline_figure(st, "io_sectors_rate")) != NULL) {
		minutes = (double) (now - (time_t) f->last_time) / 60.0;
		if (f->last_time > 0 && minutes > 0 && io >= f->last_raw) {
			alarms += baseline_sample(f, now,
			    (io - f->last_raw) / minutes);
			taken++;
		}
		f->last_raw = io;
		f->last_time = (int64_t) now;
	}
	if ((fp = fopen("/proc/loadavg", "r")) != NULL) {
		if (fscanf(fp, "%lf", &load) == 1
		    && (f = baseline_figure(st, "load")) != NULL) {
			alarms += baseline_sample(f, now, load);
			taken++;
		}
		(void) fclose(fp);
	}
	if (baseline_save(st) < 0)
		goto out;
	alarms += baseline_account_hooks();
	ctl_printf("%d sample%s, %d alarm%s\n", taken, taken == 1 ? "" : "s",
	    alarms, alarms == 1 ? "" : "s");
	rc = 0;
out:
	buf_free(&text);
	free(st);
	return rc;
}

int
ctl_baseline(int argc, char **argv)
{
	long long when;
	char *end;

	if (argc == 2 && strcmp(argv[1], "sample") == 0)
		return ctl_baseline_take(time(NULL));
	if (argc == 4 && strcmp(argv[1], "sample") == 0
	    && strcmp(argv[2], "-t") == 0) {
		errno = 0;
		when = strtoll(argv[3], &end, 10);
		if (errno == 0 && *end == '\0' && end != argv[3] && when > 0)
			return ctl_baseline_take((time_t) when);
	}
	if (argc == 2 && strcmp(argv[1], "feed") == 0)
		return baseline_feed();
	if (argc == 3 && strcmp(argv[1], "show") == 0)
		return baseline_show(argv[2]);
	ctl_eprintf("usage: ispmailctl baseline sample [-t TIME]\n"
	    "       ispmailctl baseline feed < samples\n"
	    "       ispmailctl baseline show FIGURE\n");
	return 2;
}

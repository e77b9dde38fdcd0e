/* log: syslog or stderr logging with a per-message context. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "printable.h"

#define LOG_LINE_MAX 4096
#define LOG_CONTEXT_MAX 64

static char log_progname[64] = "ispmail";
static enum log_target log_target = LOG_TARGET_STDERR;
static int log_verbose;
/*
 * Each thread's own: a thread (imapd's lookup and hash threads) never
 * reads a context that another one is rewriting, and starts without one.
 */
static _Thread_local char log_ctx[LOG_CONTEXT_MAX];
static void (*log_fatal_hook)(void);
static int log_stderr_fd = -1;
static int log_in_fatal;
static pid_t log_pid_cached;

static const struct {
	const char *name;
	int facility;
} log_facilities[] = {
	{ "mail", LOG_MAIL }, { "daemon", LOG_DAEMON }, { "user", LOG_USER },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
	{ "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
};

void
log_init(const char *progname, enum log_target target, const char *facility)
{
	int fac = LOG_MAIL;
	size_t i;

	snprintf(log_progname, sizeof(log_progname), "%s", progname);
	for (i = 0; facility != NULL
	    && i < sizeof(log_facilities) / sizeof(log_facilities[0]); i++)
		if (strcasecmp(facility, log_facilities[i].name) == 0)
			fac = log_facilities[i].facility;
	if (log_target == LOG_TARGET_SYSLOG)
		closelog();
	log_target = target;
	if (target == LOG_TARGET_SYSLOG)
		openlog(log_progname, LOG_PID | LOG_NDELAY, fac);
}

static void
log_pid_forget(void)
{
	log_pid_cached = 0;
}

pid_t
log_pid(void)
{
	static int registered;

	if (log_pid_cached != 0)
		return log_pid_cached;
	/* A fork()ed child asks again: glibc's fork() runs the handler. */
	if (!registered) {
		if (pthread_atfork(NULL, NULL, log_pid_forget) != 0)
			return getpid();
		registered = 1;
	}
	log_pid_cached = getpid();
	return log_pid_cached;
}

void
log_set_verbose(int verbose)
{
	log_verbose = verbose;
}

void
log_set_context(const char *ctx)
{
	if (ctx == NULL)
		log_ctx[0] = '\0';
	else
		printable_copy(log_ctx, sizeof(log_ctx), ctx, strlen(ctx));
}

const char *
log_context(void)
{
	return log_ctx[0] ? log_ctx : NULL;
}

void
log_set_fatal_hook(void (*hook)(void))
{
	log_fatal_hook = hook;
}

void
log_set_stderr_fd(int fd)
{
	log_stderr_fd = fd;
}

static const char *
log_level_text(enum log_level level)
{
	switch (level) {
	case LOG_LEVEL_DEBUG: return "debug: ";
	case LOG_LEVEL_INFO: return "";
	case LOG_LEVEL_WARN: return "warning: ";
	case LOG_LEVEL_ERROR: return "error: ";
	case LOG_LEVEL_FATAL: return "fatal: ";
	case LOG_LEVEL_PANIC: return "panic: ";
	}
	return "";
}

static int
log_syslog_priority(enum log_level level)
{
	switch (level) {
	case LOG_LEVEL_DEBUG: return LOG_DEBUG;
	case LOG_LEVEL_INFO: return LOG_INFO;
	case LOG_LEVEL_WARN: return LOG_WARNING;
	case LOG_LEVEL_ERROR: return LOG_ERR;
	case LOG_LEVEL_FATAL: return LOG_CRIT;
	case LOG_LEVEL_PANIC: return LOG_ALERT;
	}
	return LOG_INFO;
}

/*
 * Expand %m ourselves so stderr lines get the errno text as syslog ones
 * do.  The format is copied into a bounded array: a log line is ours, not
 * input, and an over-long one is cut, not overflowed.
 */
static void
log_expand_m(char *out, size_t size, const char *fmt, int saved_errno)
{
	const char *err = strerror(saved_errno);
	size_t used = 0, n;

	while (*fmt && used + 1 < size) {
		if (fmt[0] == '%' && fmt[1] == '%') {
			if (used + 2 >= size)
				break;
			out[used++] = '%';
			out[used++] = '%';
			fmt += 2;
		} else if (fmt[0] == '%' && fmt[1] == 'm') {
			for (n = 0; err[n] && used + 2 < size; n++) {
				if (err[n] == '%')
					out[used++] = '%';
				out[used++] = err[n];
			}
			fmt += 2;
		} else {
			out[used++] = *fmt++;
		}
	}
	out[used] = '\0';
}

void
log_vlog(enum log_level level, const char *fmt, va_list ap)
{
	char expanded[LOG_LINE_MAX], raw[LOG_LINE_MAX], line[LOG_LINE_MAX];
	int saved_errno = errno;
	int n, fd;

	if (level == LOG_LEVEL_DEBUG && !log_verbose)
		return;
	log_expand_m(expanded, sizeof(expanded), fmt, saved_errno);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	n = vsnprintf(raw, sizeof(raw), expanded, ap);
#pragma GCC diagnostic pop
	/*
	 * Arguments carry what clients sent: escape CR, LF and every other
	 * control byte so nobody can write a fake line (Postfix: printable()
	 * in msg_output).
	 */
	if (n < 0)
		n = 0;
	if ((size_t) n >= sizeof(raw))
		n = sizeof(raw) - 1;
	printable_copy(line, sizeof(line), raw, (size_t) n);
	if (log_target == LOG_TARGET_SYSLOG) {
		syslog(log_syslog_priority(level), "%s%s%s%s",
		    log_level_text(level), log_ctx, log_ctx[0] ? ": " : "",
		    line);
	} else {
		char out[LOG_LINE_MAX + 256];
		char stamp[32];
		struct timespec now;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &now);
		localtime_r(&now.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%b %d %H:%M:%S", &tm);
		n = snprintf(out, sizeof(out), "%s %s[%ld]: %s%s%s%s\n",
		    stamp, log_progname, (long) log_pid(),
		    log_level_text(level), log_ctx, log_ctx[0] ? ": " : "",
		    line);
		if (n < 0)
			n = 0;
		if ((size_t) n >= sizeof(out))
			n = sizeof(out) - 1;
		fd = log_stderr_fd >= 0 ? log_stderr_fd : STDERR_FILENO;
		/* One write per line so concurrent processes do not mix. */
		(void) !write(fd, out, (size_t) n);
	}
	errno = saved_errno;
}

#define LOG_FN(fn, level) \
void \
fn(const char *fmt, ...) \
{ \
	va_list ap; \
	va_start(ap, fmt); \
	log_vlog(level, fmt, ap); \
	va_end(ap); \
}

LOG_FN(log_debug, LOG_LEVEL_DEBUG)
LOG_FN(log_info, LOG_LEVEL_INFO)
LOG_FN(log_warn, LOG_LEVEL_WARN)
LOG_FN(log_error, LOG_LEVEL_ERROR)

void
log_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_LEVEL_FATAL, fmt, ap);
	va_end(ap);
	if (log_fatal_hook != NULL && !log_in_fatal) {
		log_in_fatal = 1;
		log_fatal_hook();
	}
	exit(1);
}

void
log_panic(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_LEVEL_PANIC, fmt, ap);
	va_end(ap);
	abort();
}

/*
 * log: the one logging API.
 *
 * Lines go to syslog, or to stderr when the program runs in the foreground
 * (log_init).  A per-message context (the queue id) set with
 * log_set_context() prefixes every line until it is cleared, so one grep
 * follows a message; the context is the calling thread's (a new thread
 * has none until it sets one).  Levels: debug (only when verbose), info, warn, error,
 * fatal (cannot continue: runs the cleanup hook, exits 1) and panic (our
 * own bug: abort() for a core).  Format strings are printf-checked; %m is
 * the errno text as in glibc's syslog.
 */
#ifndef ISPMAIL_LOG_H
#define ISPMAIL_LOG_H

#include <stdarg.h>
#include <sys/types.h>

enum log_level {
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_INFO,
	LOG_LEVEL_WARN,
	LOG_LEVEL_ERROR,
	LOG_LEVEL_FATAL,
	LOG_LEVEL_PANIC,
};

enum log_target {
	LOG_TARGET_STDERR,
	LOG_TARGET_SYSLOG,
};

/*
 * Name the program (e.g. "ispmail/smtpd") and choose where lines go.
 * facility is a syslog facility name ("mail", "local0", ...); unknown
 * names fall back to "mail".  Safe to call again (e.g. after -o).
 */
void log_init(const char *progname, enum log_target target,
	const char *facility);
/* Enable or disable debug lines. */
void log_set_verbose(int verbose);
/*
 * Prefix every following line of the calling thread with "ctx: " (made
 * printable, cut at 63 bytes); NULL clears it.
 */
void log_set_context(const char *ctx);
/* The calling thread's context or NULL. */
const char *log_context(void);
/*
 * A hook run once by log_fatal() before exit (e.g. the master removes its
 * pid file).  NULL removes it.
 */
void log_set_fatal_hook(void (*hook)(void));
/*
 * getpid(), asked once per process (a fork()ed child asks again): every
 * stderr line and every status report carries it.
 */
pid_t log_pid(void);
/* Where a test can send stderr lines instead (fd), -1 for stderr. */
void log_set_stderr_fd(int fd);

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_fatal(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
void log_panic(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
void log_vlog(enum log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

#endif

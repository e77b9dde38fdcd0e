/* ispmail-master: bind the services of master.conf and run their processes. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "mail_params.h"
#include "master.h"
#include "master_check.h"
#include "master_conf.h"
#include "master_listen.h"
#include "master_metrics.h"
#include "master_proto.h"
#include "master_reload.h"
#include "master_secrets.h"
#include "master_spawn.h"
#include "master_status.h"
#include "params.h"
#include "qfile.h"
#include "xalloc.h"

struct master_service *master_services;
const char *master_config_dir;
int master_verbose;
time_t master_start_time;

static int foreground;
static char *queue_dir;			/* fixed at start: pid file, sockets */
static char *pid_path;
static int pid_fd = -1;
static int signal_pipe[2] = { -1, -1 };
static int ready_fd = -1;		/* daemon mode: tells the parent */
static char *log_name;			/* "<syslog_name>/master" */

/* The poll set, rebuilt before every poll(). */
struct watch {
	master_event_fn *fn;
	void *ctx;
};
static struct pollfd *poll_fds;
static struct watch *watches;
static size_t watch_count, watch_size;
static long long next_deadline;

long long
master_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
master_event_watch(int fd, short events, master_event_fn *fn, void *ctx)
{
	if (watch_count == watch_size) {
		watch_size = watch_size == 0 ? 64 : xalloc_mul(watch_size, 2);
		poll_fds = xreallocarray(poll_fds, watch_size,
		    sizeof(*poll_fds));
		watches = xreallocarray(watches, watch_size, sizeof(*watches));
	}
	poll_fds[watch_count].fd = fd;
	poll_fds[watch_count].events = events;
	poll_fds[watch_count].revents = 0;
	watches[watch_count].fn = fn;
	watches[watch_count].ctx = ctx;
	watch_count++;
}

void
master_event_deadline(long long when_ms)
{
	if (next_deadline == 0 || when_ms < next_deadline)
		next_deadline = when_ms;
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: ispmail-master [-c DIR] [-f] [-t] [-v] "
	    "[-o name=value]...\n");
	exit(1);
}

static void
make_dir(const char *path, mode_t mode, int mail_owner_owns)
{
	struct passwd *pw;
	int fd;

	if (mkdir(path, mode) < 0) {
		if (errno != EEXIST)
			log_fatal("create directory %s: %m", path);
		return;
	}
	if (geteuid() != 0 || !mail_owner_owns)
		return;
	/* Through a descriptor: root never chowns a name it did not open. */
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || (pw = getpwnam(var_mail_owner)) == NULL
	    || fchown(fd, pw->pw_uid, pw->pw_gid) < 0)
		log_fatal("chown %s to %s: %m", path, var_mail_owner);
	close(fd);
}

/* queue_directory (and its parents), pid/, private/, the queue. */
static void
make_queue_dirs(void)
{
	static const char *const queue_subdirs[] = {
		QFILE_INCOMING, QFILE_ACTIVE, QFILE_DEFERRED, QFILE_HOLD,
		QFILE_CORRUPT, QFILE_TMP, QFILE_QUARANTINE, "filter",
	};
	char *path = xstrdup(queue_dir), *slash;
	size_t i;

	for (slash = strchr(path + 1, '/'); slash != NULL;
	    slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		make_dir(path, 0755, 0);
		*slash = '/';
	}
	make_dir(path, 0755, 0);
	free(path);
	path = xasprintf("%s/pid", queue_dir);
	make_dir(path, 0755, 0);
	free(path);
	/* Sockets every local user may reach (the sendmail socket): made
	 * by mail_owner's services, entered by anyone. */
	path = xasprintf("%s/public", queue_dir);
	make_dir(path, 0755, 1);
	free(path);
	/* Services reach each other's private sockets as mail_owner. */
	path = xasprintf("%s/private", queue_dir);
	make_dir(path, 0700, 1);
	free(path);
	/* The mail queue itself (ispmail-queue(5)), mail_owner's only. */
	for (i = 0; i < sizeof(queue_subdirs) / sizeof(queue_subdirs[0]);
	    i++) {
		path = xasprintf("%s/%s", queue_dir, queue_subdirs[i]);
		make_dir(path, 0700, 1);
		free(path);
	}
	/* The smtp agent's MTA-STS policy cache (smtp(8)), mail_owner's. */
	path = xasprintf("%s/mta-sts", queue_dir);
	make_dir(path, 0700, 1);
	free(path);
	/* Its TLS-RPT journal (ispmail-tlsrpt(5)), mail_owner's. */
	path = xasprintf("%s/tlsrpt", queue_dir);
	make_dir(path, 0700, 1);
	free(path);
}

static void
lock_pid_file(void)
{
	struct flock lock;

	pid_path = xasprintf("%s/%s", queue_dir, MASTER_PID_FILE);
	pid_fd = open(pid_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0644);
	if (pid_fd < 0)
		log_fatal("open %s: %m", pid_path);
	memset(&lock, 0, sizeof(lock));
	lock.l_type = F_WRLCK;
	lock.l_whence = SEEK_SET;
	if (fcntl(pid_fd, F_SETLK, &lock) < 0) {
		if (errno != EAGAIN && errno != EACCES)
			log_fatal("lock %s: %m", pid_path);
		memset(&lock, 0, sizeof(lock));
		lock.l_type = F_WRLCK;
		lock.l_whence = SEEK_SET;
		(void) fcntl(pid_fd, F_GETLK, &lock);
		fprintf(stderr, "ispmail-master: already running as pid %ld\n",
		    (long) lock.l_pid);
		exit(1);
	}
	if (ftruncate(pid_fd, 0) < 0
	    || dprintf(pid_fd, "%ld\n", (long) getpid()) < 0)
		log_fatal("write %s: %m", pid_path);
}

/* Run by log_fatal(): what a later master would trip over. */
static void
fatal_cleanup(void)
{
	master_status_close();
	if (pid_fd >= 0)
		(void) unlink(pid_path);
}

static void
on_signal(int sig)
{
	unsigned char byte = (unsigned char) sig;
	int saved = errno;

	(void) !write(signal_pipe[1], &byte, 1);
	errno = saved;
}

static void
setup_signals(void)
{
	static const int caught[] = { SIGCHLD, SIGHUP, SIGTERM, SIGINT };
	struct sigaction sa;
	size_t i;

	if (pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		log_fatal("pipe: %m");
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sa.sa_handler = on_signal;
	for (i = 0; i < sizeof(caught) / sizeof(caught[0]); i++)
		if (sigaction(caught[i], &sa, NULL) < 0)
			log_fatal("sigaction: %m");
	/* A status client that hangs up must not kill the master. */
	signal(SIGPIPE, SIG_IGN);
}

/*
 * Fork; the parent waits until the child says it is ready (listeners
 * bound, pid file locked) so start-up errors reach the operator's terminal
 * and the exit status means something.
 */
static void
daemon_begin(void)
{
	int ready[2];
	char byte = 0;
	pid_t pid;

	if (pipe2(ready, O_CLOEXEC) < 0)
		log_fatal("pipe: %m");
	if ((pid = fork()) < 0)
		log_fatal("fork: %m");
	if (pid > 0) {
		close(ready[1]);
		while (read(ready[0], &byte, 1) < 0 && errno == EINTR)
			;
		_exit(byte == 'r' ? 0 : 1);
	}
	close(ready[0]);
	ready_fd = ready[1];
	if (setsid() < 0)
		log_fatal("setsid: %m");
	if (chdir("/") < 0)
		log_fatal("chdir /: %m");
}

static void
daemon_ready(void)
{
	int null_fd = open("/dev/null", O_RDWR);

	if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(null_fd, 1) < 0
	    || dup2(null_fd, 2) < 0)
		log_fatal("redirect to /dev/null: %m");
	if (null_fd > 2)
		close(null_fd);
	(void) !write(ready_fd, "r", 1);
	close(ready_fd);
	ready_fd = -1;
}

static void __attribute__((noreturn))
stop(void)
{
	struct master_service *svc;
	long long deadline;
	unsigned char sigs[64];
	struct pollfd pfd;

	log_info("stopping: %d processes", master_spawn_child_count());
	master_spawn_signal_all(SIGTERM);
	deadline = master_now_ms() + var_master_stop_timeout * 1000;
	pfd.fd = signal_pipe[0];
	pfd.events = POLLIN;
	while (master_spawn_child_count() > 0 && master_now_ms() < deadline) {
		(void) poll(&pfd, 1, (int) (deadline - master_now_ms()));
		while (read(signal_pipe[0], sigs, sizeof(sigs)) > 0)
			;
		master_spawn_reap();
	}
	if (master_spawn_child_count() > 0) {
		log_warn("%d processes still running after %llds; killing "
		    "them", master_spawn_child_count(),
		    var_master_stop_timeout);
		master_spawn_signal_all(SIGKILL);
		master_spawn_reap_all();
	}
	while ((svc = master_services) != NULL) {
		master_services = svc->next;
		master_listen_remove(svc->conf);
		master_service_free(&svc);
	}
	master_status_close();
	(void) unlink(pid_path);
	log_info("stopped");
	exit(0);
}

static void
handle_signals(void)
{
	unsigned char sigs[64];
	int got_hup = 0, got_term = 0;
	ssize_t n, i;

	while ((n = read(signal_pipe[0], sigs, sizeof(sigs))) > 0) {
		for (i = 0; i < n; i++) {
			got_hup |= sigs[i] == SIGHUP;
			got_term |= sigs[i] == SIGTERM || sigs[i] == SIGINT;
		}
	}
	/* Reap on every wake-up: a lost SIGCHLD byte costs nothing then. */
	master_spawn_reap();
	if (got_term)
		stop();
	if (got_hup)
		master_reload();
}

static void __attribute__((noreturn))
event_loop(void)
{
	long long timeout;
	size_t i;
	int n;

	for (;;) {
		watch_count = 0;
		next_deadline = 0;
		master_event_watch(signal_pipe[0], POLLIN, NULL, NULL);
		master_spawn_watch();
		master_status_watch();
		master_metrics_watch();
		timeout = -1;
		if (next_deadline != 0) {
			timeout = next_deadline - master_now_ms();
			timeout = timeout < 0 ? 0 : timeout > INT_MAX ? INT_MAX
			    : timeout + 1;
		}
		n = poll(poll_fds, watch_count, (int) timeout);
		if (n < 0 && errno != EINTR)
			log_fatal("poll: %m");
		if (n <= 0)
			continue;
		/* A reload or stop closes descriptors: start over after it. */
		if (poll_fds[0].revents != 0) {
			handle_signals();
			continue;
		}
		for (i = 1; i < watch_count; i++)
			if (poll_fds[i].revents != 0)
				watches[i].fn(poll_fds[i].fd,
				    poll_fds[i].revents, watches[i].ctx);
	}
}

/*
 * Raise the open-file limit to the hard limit, for the master and every
 * child: qmgr holds a file per active message and sizes its limits from
 * what it inherits (a soft limit of 1,024 under a 20,000 active limit
 * stranded mail on EMFILE, issue 12).  Nothing here uses select(2).
 */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		log_warn("raise the open file limit to %llu: %m",
		    (unsigned long long) rl.rlim_max);
}

/*
 * Each secret-file warning (master_secrets.h) as a log line, and also on
 * stderr when the log goes elsewhere, so whoever started the master sees
 * them.
 */
static void
report_secret_warnings(const char *warnings, int to_stderr)
{
	const char *line, *end;

	for (line = warnings; line != NULL && *line != '\0'; line = end + 1) {
		if ((end = strchr(line, '\n')) == NULL)
			end = line + strlen(line);
		if (to_stderr)
			fprintf(stderr, "ispmail-master: warning: %.*s\n",
			    (int) (end - line), line);
		else
			log_warn("%.*s", (int) (end - line), line);
		if (*end == '\0')
			break;
	}
}

static void
start(const struct master_conf *conf, const char *secret_warnings)
{
	struct master_service *svc, **tail = &master_services;
	char *path, *error = NULL;
	int i;

	queue_dir = xstrdup(var_queue_directory);
	master_reload_pin_queue_dir(queue_dir);
	umask(022);
	raise_nofile();
	make_queue_dirs();
	master_metrics_prepare(queue_dir, conf);
	if (!foreground)
		daemon_begin();
	lock_pid_file();
	log_set_fatal_hook(fatal_cleanup);
	setup_signals();
	for (i = 0; i < conf->count; i++) {
		if ((svc = master_reload_start_service(conf->services[i])) == NULL)
			log_fatal("service %s: cannot listen on %s",
			    conf->services[i]->name, conf->services[i]->listen);
		*tail = svc;
		tail = &svc->next;
	}
	path = xasprintf("%s/%s", queue_dir, MASTER_STATUS_SOCKET);
	if (master_status_open(path, &error) < 0)
		log_fatal("status socket: %s", error);
	free(path);
	if (setenv(MASTER_ENV, "1", 1) < 0
	    || (foreground && setenv("ISPMAIL_LOG_STDERR", "1", 1) < 0))
		log_fatal("setenv: %m");
	master_start_time = time(NULL);
	if (!foreground) {
		daemon_ready();
		log_init(log_name, LOG_TARGET_SYSLOG, var_syslog_facility);
	}
	log_info("starting: %d services, config %s", conf->count,
	    master_config_dir);
	report_secret_warnings(secret_warnings, 0);
}

int
main(int argc, char **argv)
{
	struct master_conf *conf;
	char *errors, *absolute, **overrides, *secret_warnings;
	const char *dir = ISPMAIL_CONFIG_DIR;
	int ch, check_only = 0, override_count = 0;

	log_init("ispmail-master", LOG_TARGET_STDERR, NULL);
	overrides = xcalloc((size_t) argc + 1, sizeof(char *));
	while ((ch = getopt(argc, argv, "c:fo:tv")) != -1) {
		switch (ch) {
		case 'c': dir = optarg; break;
		case 'f': foreground = 1; break;
		case 'o': overrides[override_count++] = optarg; break;
		case 't': check_only = 1; break;
		case 'v': master_verbose = 1; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	master_reload_set_overrides(overrides, override_count);
	/* Children run elsewhere (daemon mode chdirs to /): pass it whole. */
	if ((absolute = realpath(dir, NULL)) == NULL)
		log_fatal("configuration directory %s: %m", dir);
	master_config_dir = absolute;
	if (master_reload_read(&conf, &errors) < 0) {
		if (check_only) {
			fprintf(stderr, "%s\n", errors);
			free(errors);
			return 1;
		}
		master_reload_log_errors(errors);
		free(errors);
		log_fatal("configuration invalid; not started");
	}
	(void) master_secrets_check(conf, &secret_warnings);
	if (check_only) {
		/* What can be checked without serving (master_check.h). */
		struct buf *problems = buf_new(BUF_DEFAULT_CAP);
		int rc = master_check_deep(conf, problems);

		report_secret_warnings(secret_warnings, 1);
		free(secret_warnings);
		if (rc < 0)
			fprintf(stderr, "%s\n", buf_cstr(problems));
		buf_free(&problems);
		master_conf_free(&conf);
		return rc < 0 ? 1 : 0;
	}
	log_set_verbose(master_verbose || var_debug_logging);
	log_name = xasprintf("%s/master", var_syslog_name);
	if (foreground)
		log_init(log_name, LOG_TARGET_STDERR, var_syslog_facility);
	else
		report_secret_warnings(secret_warnings, 1);
	start(conf, secret_warnings);
	free(secret_warnings);
	master_conf_free(&conf);
	event_loop();
}

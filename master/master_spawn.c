/* master_spawn: start, count, throttle and reap service children. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "mail_params.h"
#include "master.h"
#include "master_conf.h"
#include "master_proto.h"
#include "master_spawn.h"
#include "master_stress.h"
#include "xalloc.h"

enum child_state {
	CHILD_IDLE,
	CHILD_BUSY,
};

struct child {
	pid_t pid;
	struct master_service *service;	/* NULL once the service is gone */
	char *service_name;		/* for logging after that */
	unsigned generation;
	enum child_state state;
	int served;			/* finished at least one connection */
	struct child *next;
};

static struct child *children;
static int child_count;
static int stopping;
/* A reload retired processes whose last exit is still to be logged. */
static int reload_draining;

static struct child *
find_child(pid_t pid)
{
	struct child *c;

	for (c = children; c != NULL; c = c->next)
		if (c->pid == pid)
			return c;
	return NULL;
}

static int
current_generation(const struct child *c)
{
	return c->service != NULL && c->generation == c->service->generation;
}

/* A socketpair for a new generation; -1 leaves the service without one. */
static int
open_generation(struct master_service *svc)
{
	int pair[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0) {
		log_error("service %s: status socketpair: %m", svc->conf->name);
		return -1;
	}
	if (fcntl(pair[0], F_SETFL, O_NONBLOCK) < 0)
		log_warn("service %s: status socket: O_NONBLOCK: %m",
		    svc->conf->name);
	svc->status_fd = pair[0];
	svc->status_child_fd = pair[1];
	svc->generation++;
	return 0;
}

struct master_service *
master_service_new(struct master_service_conf *conf, int listen_fd)
{
	struct master_service *svc = xcalloc(1, sizeof(*svc));

	svc->conf = conf;
	svc->listen_fd = listen_fd;
	svc->status_fd = -1;
	svc->status_child_fd = -1;
	(void) open_generation(svc);
	return svc;
}

/* Close the master's ends of the current generation; its children retire. */
static void
close_generation(struct master_service *svc)
{
	struct child *c;

	/* Closing our end is what tells the old children to finish. */
	if (svc->status_fd >= 0)
		close(svc->status_fd);
	if (svc->status_child_fd >= 0)
		close(svc->status_child_fd);
	svc->status_fd = svc->status_child_fd = -1;
	/* Only this service's children: the list holds every service's. */
	for (c = children; c != NULL; c = c->next)
		if (c->service == svc && current_generation(c))
			svc->retired++;
	svc->idle = svc->busy = svc->total = 0;
	svc->stress = 0;
	/* Their exits and records no longer match the current generation. */
	svc->generation++;
}

void
master_service_retire(struct master_service *svc)
{
	close_generation(svc);
	svc->failures = 0;
	svc->throttled_until = 0;
	(void) open_generation(svc);
}

void
master_service_free(struct master_service **svcp)
{
	struct master_service *svc = *svcp;
	struct child *c;

	if (svc == NULL)
		return;
	close_generation(svc);
	if (svc->listen_fd >= 0)
		close(svc->listen_fd);
	for (c = children; c != NULL; c = c->next)
		if (c->service == svc)
			c->service = NULL;
	master_service_conf_free(&svc->conf);
	free(svc);
	*svcp = NULL;
}

int
master_service_throttled(const struct master_service *svc)
{
	return svc->throttled_until != 0
	    && master_now_ms() < svc->throttled_until;
}

static void
throttle(struct master_service *svc)
{
	long long delay = var_service_throttle_time;
	int i;

	svc->failures++;
	for (i = 1; i < svc->failures && delay < var_service_throttle_max; i++)
		delay *= 2;
	if (delay > var_service_throttle_max)
		delay = var_service_throttle_max;
	if (delay < 1)
		delay = 1;
	svc->throttled_until = master_now_ms() + delay * 1000;
	log_warn("service %s: throttled for %llds after %d failures",
	    svc->conf->name, delay, svc->failures);
}

/* The child's argv, every string a copy (free_argv releases them). */
static char **
child_argv(const struct master_service_conf *sc)
{
	size_t max = xalloc_add(10, xalloc_mul(2,
	    (size_t) sc->override_count + (size_t) sc->arg_count));
	char **argv = xcalloc(max, sizeof(char *));
	int n = 0, i;

	argv[n++] = xstrdup(sc->command);
	argv[n++] = xstrdup("-c");
	argv[n++] = xstrdup(master_config_dir);
	argv[n++] = xstrdup("-n");
	argv[n++] = xstrdup(sc->name);
	argv[n++] = xstrdup("-u");
	argv[n++] = xstrdup(sc->user);
	for (i = 0; i < sc->override_count; i++) {
		argv[n++] = xstrdup("-o");
		argv[n++] = xstrdup(sc->overrides[i]);
	}
	if (master_verbose)
		argv[n++] = xstrdup("-v");
	for (i = 0; i < sc->arg_count; i++)
		argv[n++] = xstrdup(sc->args[i]);
	argv[n] = NULL;
	return argv;
}

static void
free_argv(char **argv)
{
	size_t i;

	for (i = 0; argv[i] != NULL; i++)
		free(argv[i]);
	free(argv);
}

/*
 * In the child: put the status socket on MASTER_STATUS_FD and the
 * listener on MASTER_LISTEN_FD and exec.  Both go through descriptors
 * above 4 first so neither can overwrite the other.
 */
static void __attribute__((noreturn))
child_exec(const struct master_service *svc, char **argv)
{
	sigset_t none;
	int status_fd, listen_fd;

	log_set_fatal_hook(NULL);
	signal(SIGPIPE, SIG_DFL);
	/* Ignored until the service skeleton handles them (master_proto.h). */
	signal(MASTER_STRESS_ON_SIGNAL, SIG_IGN);
	signal(MASTER_STRESS_OFF_SIGNAL, SIG_IGN);
	if (svc->stress)
		(void) setenv(MASTER_STRESS_ENV, "1", 1);
	else
		(void) unsetenv(MASTER_STRESS_ENV);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	status_fd = fcntl(svc->status_child_fd, F_DUPFD_CLOEXEC, 10);
	listen_fd = fcntl(svc->listen_fd, F_DUPFD_CLOEXEC, 10);
	if (status_fd < 0 || listen_fd < 0
	    || dup2(status_fd, MASTER_STATUS_FD) < 0
	    || dup2(listen_fd, MASTER_LISTEN_FD) < 0) {
		log_error("service %s: child descriptors: %m", svc->conf->name);
		_exit(1);
	}
	execv(svc->conf->command, argv);
	log_error("service %s: exec %s: %m", svc->conf->name,
	    svc->conf->command);
	_exit(1);
}

static void
spawn(struct master_service *svc)
{
	char **argv = child_argv(svc->conf);
	struct child *c;
	pid_t pid;

	pid = fork();
	if (pid == 0)
		child_exec(svc, argv);
	free_argv(argv);
	if (pid < 0) {
		log_warn("service %s: fork: %m", svc->conf->name);
		throttle(svc);
		return;
	}
	log_debug("service %s: started process %ld", svc->conf->name,
	    (long) pid);
	c = xcalloc(1, sizeof(*c));
	c->pid = pid;
	c->service = svc;
	c->service_name = xstrdup(svc->conf->name);
	c->generation = svc->generation;
	c->state = CHILD_IDLE;
	c->next = children;
	children = c;
	child_count++;
	svc->idle++;
	svc->total++;
	svc->spawns++;
	master_stress_update(svc);
}

static int
wants_connection_events(const struct master_service *svc)
{
	/*
	 * A service that always runs (qmgr, anvil) starts its successor only
	 * once the retired process has exited (master_spawn_watch): a client
	 * connecting in between (smtpd's notice, ispmailctl) waits in the
	 * listen queue rather than start a second queue manager.
	 */
	if (svc->conf->keep_running && svc->retired > 0)
		return 0;
	return !stopping && svc->listen_fd >= 0 && svc->status_fd >= 0
	    && svc->idle == 0 && svc->total < svc->conf->maxproc
	    && !master_service_throttled(svc);
}

static void
listener_ready(int fd, short revents, void *ctx)
{
	struct master_service *svc = ctx;

	/* Counts may have changed since the watch was registered. */
	if (wants_connection_events(svc))
		spawn(svc);
}

static void
note_cap_hit(struct master_service *svc)
{
	long long now = master_now_ms();

	svc->cap_hits++;
	if (svc->last_cap_warning != 0 && now - svc->last_cap_warning
	    < var_process_limit_warning_time * 1000)
		return;
	svc->last_cap_warning = now;
	log_warn("service %s: all %d processes busy (process limit reached); "
	    "new connections wait in the listen queue; consider raising "
	    "maxproc in master.conf", svc->conf->name, svc->total);
}

static void
apply_status(struct master_service *svc, const struct master_status *rec)
{
	struct child *c = find_child((pid_t) rec->pid);

	/*
	 * A record may arrive after its sender was reaped, or from a retired
	 * generation's socket drained late: both are stale, not errors.
	 */
	if (c == NULL || c->service != svc || !current_generation(c))
		return;
	if (rec->status == MASTER_STATUS_BUSY && c->state == CHILD_IDLE) {
		c->state = CHILD_BUSY;
		svc->idle--;
		svc->busy++;
		/* A kept-running daemon (qmgr) is busy by design. */
		if (svc->idle == 0 && svc->total >= svc->conf->maxproc
		    && !svc->conf->keep_running)
			note_cap_hit(svc);
	} else if (rec->status == MASTER_STATUS_IDLE
	    && c->state == CHILD_BUSY) {
		c->state = CHILD_IDLE;
		c->served = 1;
		svc->busy--;
		svc->idle++;
		svc->failures = 0;
	} else if (rec->status != MASTER_STATUS_BUSY
	    && rec->status != MASTER_STATUS_IDLE) {
		log_warn("service %s: process %ld sent unknown status %ld",
		    svc->conf->name, (long) rec->pid, (long) rec->status);
	}
	master_stress_update(svc);
}

/* Status records taken per recvmmsg(2) call. */
#define STATUS_BATCH 16

/*
 * Every record waiting, up to STATUS_BATCH a call: a call that returns
 * fewer found the socket empty, so the usual wakeup (one or two records)
 * costs one call, not a second one that answers EAGAIN.
 */
static void
status_ready(int fd, short revents, void *ctx)
{
	struct master_service *svc = ctx;
	struct master_status rec[STATUS_BATCH];
	struct mmsghdr msgs[STATUS_BATCH];
	struct iovec iov[STATUS_BATCH];
	int i, n;

	for (;;) {
		memset(msgs, 0, sizeof(msgs));
		for (i = 0; i < STATUS_BATCH; i++) {
			iov[i].iov_base = &rec[i];
			iov[i].iov_len = sizeof(rec[i]);
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
		}
		n = recvmmsg(fd, msgs, STATUS_BATCH, MSG_DONTWAIT, NULL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_error("service %s: status socket: %m",
				    svc->conf->name);
			return;
		}
		for (i = 0; i < n; i++) {
			if (msgs[i].msg_len == 0)
				return;
			if (msgs[i].msg_len != sizeof(rec[i]) ||
			    (msgs[i].msg_hdr.msg_flags & MSG_TRUNC)) {
				log_warn("service %s: status record of %u "
				    "bytes ignored", svc->conf->name,
				    msgs[i].msg_len);
				continue;
			}
			apply_status(svc, &rec[i]);
		}
		if (n < STATUS_BATCH)
			return;
	}
}

void
master_spawn_watch(void)
{
	struct master_service *svc;

	for (svc = master_services; svc != NULL; svc = svc->next) {
		if (svc->status_fd < 0 && !stopping
		    && open_generation(svc) < 0)
			throttle(svc);
		if (svc->status_fd >= 0)
			master_event_watch(svc->status_fd, POLLIN, status_ready,
			    svc);
		/*
		 * qmgr: one process always, without waiting for a client;
		 * after a reload only once the retired one has finished its
		 * deliveries, so two never work on the same queue files.
		 */
		if (svc->conf->keep_running && svc->total == 0 && !stopping
		    && svc->retired == 0 && svc->status_fd >= 0
		    && !master_service_throttled(svc))
			spawn(svc);
		if (wants_connection_events(svc))
			master_event_watch(svc->listen_fd, POLLIN,
			    listener_ready, svc);
		else if (master_service_throttled(svc))
			master_event_deadline(svc->throttled_until);
	}
}

static void
log_exit(const struct child *c, int status)
{
	if (WIFSIGNALED(status))
		log_warn("service %s: process %ld killed by signal %d",
		    c->service_name, (long) c->pid, WTERMSIG(status));
	else
		log_warn("service %s: process %ld exit status %d",
		    c->service_name, (long) c->pid, WEXITSTATUS(status));
}

static void
child_exited(struct child *c, int status)
{
	struct master_service *svc = c->service;
	int abnormal = WIFSIGNALED(status)
	    || (WIFEXITED(status) && WEXITSTATUS(status) != 0);

	/* After a stop signal, exits are what we asked for. */
	if (stopping)
		abnormal = 0;
	if (abnormal) {
		log_exit(c, status);
		if (svc != NULL)
			svc->abnormal_exits++;
	}
	if (svc != NULL && current_generation(c)) {
		if (c->state == CHILD_BUSY)
			svc->busy--;
		else
			svc->idle--;
		svc->total--;
		if (abnormal && !c->served)
			throttle(svc);
		else if (!abnormal)
			svc->failures = 0;
		master_stress_update(svc);
	} else if (svc != NULL) {
		svc->retired--;
	}
}

/* Children of retired generations and of removed services. */
static int
old_child_count(void)
{
	const struct child *c;
	int count = 0;

	for (c = children; c != NULL; c = c->next)
		if (!current_generation(c))
			count++;
	return count;
}

static void
log_reload_done(void)
{
	if (reload_draining && !stopping && old_child_count() == 0) {
		reload_draining = 0;
		log_info("reload complete: no process of the old "
		    "configuration is left");
	}
}

void
master_spawn_reload_started(void)
{
	int count = old_child_count();

	reload_draining = 1;
	if (count > 0)
		log_info("reload: %d processes of the old configuration "
		    "finish their current work, then exit", count);
	log_reload_done();
}

static void
forget_child(struct child *c)
{
	struct child **pp;

	for (pp = &children; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	child_count--;
	free(c->service_name);
	free(c);
}

static void
reap(int options)
{
	struct child *c;
	int status;
	pid_t pid;

	for (;;) {
		pid = waitpid(-1, &status, options);
		if (pid < 0 && errno == EINTR)
			continue;
		if (pid <= 0)
			return;
		if (WIFSTOPPED(status) || WIFCONTINUED(status))
			continue;
		if ((c = find_child(pid)) == NULL) {
			log_debug("reaped unknown process %ld", (long) pid);
			continue;
		}
		child_exited(c, status);
		forget_child(c);
		log_reload_done();
	}
}

void
master_spawn_reap(void)
{
	reap(WNOHANG);
}

void
master_spawn_reap_all(void)
{
	reap(0);
}

void
master_spawn_signal_all(int sig)
{
	struct child *c;

	stopping = 1;
	for (c = children; c != NULL; c = c->next)
		if (kill(c->pid, sig) < 0 && errno != ESRCH)
			log_warn("kill %ld: %m", (long) c->pid);
}

void
master_spawn_signal_service(const struct master_service *svc, int sig)
{
	struct child *c;

	for (c = children; c != NULL; c = c->next)
		if (c->service == svc && current_generation(c)
		    && kill(c->pid, sig) < 0 && errno != ESRCH)
			log_warn("kill %ld: %m", (long) c->pid);
}

int
master_spawn_child_count(void)
{
	return child_count;
}

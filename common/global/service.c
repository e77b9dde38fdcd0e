/* service: the child side of the master protocol (see service.h). */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "connect.h"
#include "log.h"
#include "mail_params.h"
#include "master_proto.h"
#include "params.h"
#include "service.h"
#include "stream.h"
#include "xalloc.h"

/* The master sets this when it runs in the foreground (log to stderr). */
#define SERVICE_LOG_STDERR_ENV "ISPMAIL_LOG_STDERR"

int
service_drop_privileges(const char *user, const char *chroot_dir,
	char **error_r)
{
	struct passwd *pw;
	uid_t uid;
	gid_t gid;

	*error_r = NULL;
	if (geteuid() != 0) {
		log_debug("not running as root: keeping uid %ld",
		    (long) getuid());
		return 0;
	}
	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		*error_r = errno != 0 ?
		    xasprintf("look up user %s: %s", user, strerror(errno)) :
		    xasprintf("unknown user %s", user);
		return -1;
	}
	/* Copy what we need: initgroups() may reuse getpwnam's storage. */
	uid = pw->pw_uid;
	gid = pw->pw_gid;
	if (initgroups(user, gid) < 0) {
		*error_r = xasprintf("initgroups %s: %s", user,
		    strerror(errno));
		return -1;
	}
	if (chroot_dir != NULL && *chroot_dir != '\0') {
		if (chroot(chroot_dir) < 0 || chdir("/") < 0) {
			*error_r = xasprintf("chroot %s: %s", chroot_dir,
			    strerror(errno));
			return -1;
		}
	}
	/* As root, setgid()/setuid() set real, effective and saved ids. */
	if (setgid(gid) < 0 || setuid(uid) < 0) {
		*error_r = xasprintf("switch to user %s (uid %ld gid %ld): %s",
		    user, (long) uid, (long) gid, strerror(errno));
		return -1;
	}
	/*
	 * Check it worked: a process that can become root again is not
	 * privilege separated, whatever the calls above claimed.  A service
	 * whose master.conf line names root (the master refuses any other
	 * name for uid 0) keeps root on purpose.
	 */
	if ((uid != 0 && setuid(0) == 0) || getuid() != uid || geteuid() != uid
	    || getgid() != gid || getegid() != gid) {
		*error_r = xasprintf("privileges of user %s not fully dropped "
		    "(uid %ld euid %ld gid %ld egid %ld)", user,
		    (long) getuid(), (long) geteuid(), (long) getgid(),
		    (long) getegid());
		return -1;
	}
	return 0;
}

/*
 * Tell the master we are busy or idle.  0 ok; -1 when the master is gone
 * (EPIPE, ECONNRESET...): the caller finishes its connection and exits.
 */
static int
service_report(enum master_status_code code)
{
	struct master_status st;
	ssize_t n;

	memset(&st, 0, sizeof(st));
	st.pid = (int32_t) log_pid();
	st.status = (int32_t) code;
	do {
		n = send(MASTER_STATUS_FD, &st, sizeof(st), MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n == (ssize_t) sizeof(st))
		return 0;
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		/* The master is alive but behind: a skewed count is better
		 * than a child stuck on a master that does not read. */
		log_warn("status socket full: status %d not reported", code);
		return 0;
	}
	if (n < 0)
		log_debug("send status: %m: master gone");
	return -1;
}

/* The master's stress signals (master_proto.h): every stream follows. */
static void
service_stress_signal(int sig)
{
	stream_set_stress(sig == MASTER_STRESS_ON_SIGNAL);
}

/*
 * Follow the master's stress mode: what the environment says now, and
 * the signals later.  SA_RESTART spares blocking read(), write() and
 * connect() elsewhere (libldap, file I/O) a surprise EINTR; poll(), where
 * the streams wait, is never restarted (signal(7)) and so sees EINTR
 * (libldap's own poll() is restarted by LDAP_OPT_RESTART, route_ldap_conn.c).
 */
static void
service_stress_init(const struct service_def *def)
{
	struct sigaction sa;
	const char *env = getenv(MASTER_STRESS_ENV);

	memset(&sa, 0, sizeof(sa));
	if (!def->follows_stress) {
		sa.sa_handler = SIG_IGN;
		if (sigaction(MASTER_STRESS_ON_SIGNAL, &sa, NULL) < 0 ||
		    sigaction(MASTER_STRESS_OFF_SIGNAL, &sa, NULL) < 0)
			log_fatal("sigaction: %m");
		return;
	}
	sa.sa_handler = service_stress_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	if (sigaction(MASTER_STRESS_ON_SIGNAL, &sa, NULL) < 0 ||
	    sigaction(MASTER_STRESS_OFF_SIGNAL, &sa, NULL) < 0)
		log_fatal("sigaction: %m");
	if (env != NULL && strcmp(env, "1") == 0) {
		stream_set_stress(1);
		log_info("service under stress: stress timeouts apply");
	}
}

int
service_in_stress(void)
{
	return stream_stress();
}

/* What the master was last told by service_set_busy(). */
static int service_reported_busy;
/* The -n name, for service_peer_fill(). */
static const char *service_name;

int
service_set_busy(int busy)
{
	busy = busy != 0;
	if (busy == service_reported_busy)
		return 0;
	service_reported_busy = busy;
	return service_report(busy ? MASTER_STATUS_BUSY : MASTER_STATUS_IDLE);
}

/* Numeric address and port of sa; "unix" and 0 for AF_UNIX. */
static void
service_format_addr(const struct sockaddr_storage *ss, socklen_t len,
	char *addr, size_t addr_size, int *port_r)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *) ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *) ss;

	*port_r = 0;
	snprintf(addr, addr_size, "unknown");
	if (len == 0)
		return;
	switch (ss->ss_family) {
	case AF_INET:
		if (inet_ntop(AF_INET, &sin->sin_addr, addr, addr_size) != NULL)
			*port_r = ntohs(sin->sin_port);
		break;
	case AF_INET6:
		if (inet_ntop(AF_INET6, &sin6->sin6_addr, addr,
		    addr_size) != NULL)
			*port_r = ntohs(sin6->sin6_port);
		break;
	case AF_UNIX:
		snprintf(addr, addr_size, "unix");
		break;
	}
}

/*
 * The peer's and our addresses; from, when not NULL, is the peer's
 * address as accept4() gave it (from_len bytes), saving a getpeername().
 */
static void
service_fill_peer(int fd, const char *service, struct service_peer *peer,
	const struct sockaddr_storage *from, socklen_t from_len)
{
	struct sockaddr_storage ss;
	socklen_t len;

	memset(peer, 0, sizeof(*peer));
	peer->service = service;
	len = sizeof(ss);
	memset(&ss, 0, sizeof(ss));
	if (from != NULL && from_len > 0 && from_len <= sizeof(ss)) {
		memcpy(&ss, from, from_len);
		len = from_len;
	} else if (getpeername(fd, (struct sockaddr *) &ss, &len) < 0) {
		len = 0;
	}
	service_format_addr(&ss, len, peer->client_addr,
	    sizeof(peer->client_addr), &peer->client_port);
	len = sizeof(ss);
	memset(&ss, 0, sizeof(ss));
	if (getsockname(fd, (struct sockaddr *) &ss, &len) < 0)
		len = 0;
	service_format_addr(&ss, len, peer->local_addr,
	    sizeof(peer->local_addr), &peer->local_port);
}

static long long
service_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The epoll instance service_wait() sleeps in: the status socket, and
 * the listener with EPOLLEXCLUSIVE, so that a connection wakes one idle
 * process of the service, not all of them (with poll() every idle
 * process woke up, and all but one found nothing to accept).  -1 where
 * it cannot be made: poll() then.
 */
static int
service_epoll(void)
{
	static int epfd = -2;
	struct epoll_event ev;

	if (epfd != -2)
		return epfd;
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		return -1;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.fd = MASTER_STATUS_FD;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, MASTER_STATUS_FD, &ev) == 0) {
		ev.events = EPOLLIN | EPOLLEXCLUSIVE;
		ev.data.fd = MASTER_LISTEN_FD;
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, MASTER_LISTEN_FD, &ev) == 0)
			return epfd;
	}
	log_warn("epoll for the listener: %m; polling");
	(void) close(epfd);
	epfd = -1;
	return epfd;
}

/*
 * Sleep until the status socket or the listener is ready, at most
 * timeout ms (-1: no limit).  Sets *status_r and *listen_r to their
 * events (POLLIN, POLLHUP, POLLERR, POLLNVAL bits); -1 with errno.
 */
static int
service_sleep(int timeout, short *status_r, short *listen_r)
{
	struct epoll_event evs[2];
	struct pollfd fds[2];
	int epfd = service_epoll(), n, i;

	*status_r = *listen_r = 0;
	if (epfd >= 0) {
		n = epoll_wait(epfd, evs, 2, timeout);
		for (i = 0; i < n; i++) {
			short got = (short) ((evs[i].events & EPOLLIN ? POLLIN
			    : 0) | (evs[i].events & EPOLLHUP ? POLLHUP : 0) |
			    (evs[i].events & EPOLLERR ? POLLERR : 0));

			if (evs[i].data.fd == MASTER_STATUS_FD)
				*status_r = got;
			else
				*listen_r = got;
		}
		return n < 0 ? -1 : 0;
	}
	fds[0].fd = MASTER_STATUS_FD;
	fds[0].events = POLLIN;
	fds[1].fd = MASTER_LISTEN_FD;
	fds[1].events = POLLIN;
	fds[0].revents = fds[1].revents = 0;
	n = poll(fds, 2, timeout);
	*status_r = fds[0].revents;
	*listen_r = fds[1].revents;
	return n < 0 ? -1 : 0;
}

/*
 * Wait for a connection.  1: the listener is readable; 0: time to exit
 * (idle too long, or the master closed the status socket).
 */
static int
service_wait(void)
{
	long long deadline = -1, left;
	short status_ev, listen_ev;
	int timeout;

	/* An idle limit beyond a year is taken as none (no overflow). */
	if (var_max_idle > 0 && var_max_idle < 366LL * 86400)
		deadline = service_now_ms() + var_max_idle * 1000;
	for (;;) {
		timeout = -1;
		if (deadline >= 0) {
			left = deadline - service_now_ms();
			if (left <= 0) {
				log_debug("idle for %llds: exiting",
				    var_max_idle);
				return 0;
			}
			timeout = left > INT_MAX ? INT_MAX : (int) left;
		}
		if (service_sleep(timeout, &status_ev, &listen_ev) < 0) {
			if (errno == EINTR)
				continue;
			log_fatal("poll: %m");
		}
		/* The master never writes to us: anything there means it
		 * exited or retired this generation. */
		if (status_ev != 0) {
			log_debug("master gone or generation retired: exiting");
			return 0;
		}
		if (listen_ev & (POLLERR | POLLNVAL))
			log_fatal("listening socket unusable");
		if (listen_ev != 0)
			return 1;
	}
}

/*
 * After a connection: is the next one already waiting (and the master's
 * socket quiet)?  One epoll_wait() that does not sleep.  Then the process
 * takes it while still busy, and the master hears neither the idle nor
 * the busy report in between: two messages and one of its wakeups less
 * per connection whenever connections queue up.
 */
static int
service_next_waiting(void)
{
	short status_ev, listen_ev;

	if (service_sleep(0, &status_ev, &listen_ev) < 0)
		return 0;
	return status_ev == 0 && (listen_ev & POLLIN) != 0;
}

/*
 * Accept, report busy (unless still busy from the previous connection),
 * serve.  The caller reports idle.  -1 when the master is gone.
 */
static int
service_serve_one(const char *service, const struct service_def *def,
	int *served_r)
{
	struct service_peer peer;
	struct sockaddr_storage from;
	socklen_t from_len = sizeof(from);
	int fd, master_gone = 0;

	*served_r = 0;
	memset(&from, 0, sizeof(from));
	/*
	 * Blocking, as handlers expect: on Linux an accepted socket never
	 * inherits the listener's O_NONBLOCK (accept(2)).
	 */
	fd = accept4(MASTER_LISTEN_FD, (struct sockaddr *) &from, &from_len,
	    SOCK_CLOEXEC);
	if (fd < 0) {
		/* Another child won the race, or the client gave up. */
		if (errno == EAGAIN || errno == EWOULDBLOCK
		    || errno == ECONNABORTED || errno == EINTR
		    || errno == EPROTO)
			return 0;
		log_error("accept: %m");
		return 0;
	}
	if (service_set_busy(1) < 0)
		master_gone = 1;
	net_tcp_nodelay(fd, from.ss_family);
	service_fill_peer(fd, service, &peer, &from, from_len);
	log_debug("connect from %s port %d", peer.client_addr,
	    peer.client_port);
	def->handle(fd, &peer, def->ctx);
	(void) close(fd);
	log_set_context(NULL);
	*served_r = 1;
	return master_gone ? -1 : 0;
}

void
service_peer_fill(int fd, struct service_peer *peer)
{
	service_fill_peer(fd, service_name, peer, NULL, 0);
}

void
service_peer_set(struct service_peer *peer, const struct sockaddr *src,
	socklen_t src_len, const struct sockaddr *dst, socklen_t dst_len)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, src, src_len < sizeof(ss) ? src_len : sizeof(ss));
	service_format_addr(&ss, src_len, peer->client_addr,
	    sizeof(peer->client_addr), &peer->client_port);
	if (dst == NULL)
		return;
	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, dst, dst_len < sizeof(ss) ? dst_len : sizeof(ss));
	service_format_addr(&ss, dst_len, peer->local_addr,
	    sizeof(peer->local_addr), &peer->local_port);
}

static void
service_usage(const char *progname)
{
	log_fatal("usage: %s [-c config_dir] -n service -u user "
	    "[-o name=value]... [-v] [args]", progname);
}

void
service_main(int argc, char **argv, const struct service_def *def,
	char ***args_r, int *arg_count_r)
{
	const char *config_dir = ISPMAIL_CONFIG_DIR;
	const char *service = NULL, *user = NULL;
	char **overrides, *path, *error = NULL, *progname;
	int override_count = 0, verbose = 0, ch, i, served;
	int chained = 0, idle_reported = 0;
	long long uses = 0;
	enum log_target target;

	target = getenv(SERVICE_LOG_STDERR_ENV) != NULL
	    && strcmp(getenv(SERVICE_LOG_STDERR_ENV), "1") == 0 ?
	    LOG_TARGET_STDERR : LOG_TARGET_SYSLOG;
	params_init();
	/* Log with the defaults until main.conf has named the facility. */
	progname = xasprintf("%s/%s", var_syslog_name, def->name);
	log_init(progname, target, var_syslog_facility);
	xfree(progname);

	overrides = xcalloc((size_t) argc + 1, sizeof(*overrides));
	while ((ch = getopt(argc, argv, "+c:n:u:o:v")) != -1) {
		switch (ch) {
		case 'c':
			config_dir = optarg;
			break;
		case 'n':
			service = optarg;
			break;
		case 'u':
			user = optarg;
			break;
		case 'o':
			overrides[override_count++] = optarg;
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			service_usage(argv[0]);
		}
	}
	if (service == NULL || user == NULL)
		service_usage(argv[0]);
	service_name = service;

	/*
	 * -c wins: set before main.conf so $config_directory there expands
	 * to it, and again after in case main.conf names another one.
	 */
	if (params_set("config_directory", config_dir, &error) < 0)
		log_fatal("-c %s: %s", config_dir, error);
	path = xasprintf("%s/main.conf", config_dir);
	/* A missing main.conf means all defaults, as for Postfix. */
	if (params_read_file(path, 1, &error) < 0)
		log_fatal("%s", error);
	xfree(path);
	if (params_set("config_directory", config_dir, &error) < 0)
		log_fatal("-c %s: %s", config_dir, error);
	for (i = 0; i < override_count; i++)
		if (params_set_override(overrides[i], &error) < 0)
			log_fatal("-o %s: %s", overrides[i], error);
	xfree(overrides);

	progname = xasprintf("%s/%s", var_syslog_name, def->name);
	log_init(progname, target, var_syslog_facility);
	log_set_verbose(var_debug_logging || verbose);
	if (getenv(MASTER_ENV) == NULL
	    || strcmp(getenv(MASTER_ENV), "1") != 0) {
		/* Whoever ran us by hand should see why on the terminal. */
		log_init(progname, LOG_TARGET_STDERR, var_syslog_facility);
		log_fatal("must be started by ispmail-master");
	}
	xfree(progname);
	if (args_r != NULL)
		*args_r = argv + optind;
	if (arg_count_r != NULL)
		*arg_count_r = argc - optind;

	/* A client that disconnects must cost one write error, not us. */
	signal(SIGPIPE, SIG_IGN);
	service_stress_init(def);
	if (def->pre_init != NULL)
		def->pre_init(def->ctx);
	/* The one place a service gives up root, before the first accept. */
	if (service_drop_privileges(user, var_chroot_directory, &error) < 0)
		log_fatal("service %s: %s", service, error);
	if (def->post_init != NULL)
		def->post_init(def->ctx);
	log_debug("service %s ready: max_use=%lld max_idle=%llds", service,
	    var_max_use, var_max_idle);
	if (def->run != NULL) {
		/* A long-running daemon owns the listener and its own loop. */
		if (!def->run_reports_busy)
			(void) service_set_busy(1);
		def->run(MASTER_LISTEN_FD, MASTER_STATUS_FD, def->ctx);
		exit(0);
	}

	for (;;) {
		if (!chained && service_wait() <= 0)
			break;
		if (service_serve_one(service, def, &served) < 0)
			break;
		uses += served;
		if (var_max_use > 0 && uses >= var_max_use) {
			(void) service_set_busy(0);
			log_debug("served %lld connections: exiting", uses);
			break;
		}
		/*
		 * The first idle report tells the master this process has
		 * served (a later crash is no failure to start); after it,
		 * a connection already waiting is taken without reports.
		 */
		chained = served && idle_reported && service_next_waiting();
		if (!chained) {
			if (service_set_busy(0) < 0)
				break;
			/* A lost accept race sent nothing. */
			idle_reported |= served;
		}
	}
	exit(0);
}

int64_t
service_idle_deadline(int64_t now_ms)
{
	return var_max_idle > 0 && var_max_idle < 366LL * 86400 ?
	    now_ms + var_max_idle * 1000 : INT64_MAX;
}

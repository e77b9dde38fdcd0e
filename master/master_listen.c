/* master_listen: bind the inet and unix listeners of master.conf. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "mail_params.h"
#include "master_conf.h"
#include "master_listen.h"
#include "params.h"
#include "xalloc.h"

enum inet_family_choice {
	FAMILY_IPV4 = 1,
	FAMILY_IPV6 = 2,
	FAMILY_ALL = 3,
};

static int
inet_families(void)
{
	char **list;
	int count, i, families = 0;

	list = params_list_split(var_inet_protocols, &count);
	for (i = 0; i < count; i++) {
		if (strcmp(list[i], "all") == 0)
			families |= FAMILY_ALL;
		else if (strcmp(list[i], "ipv4") == 0)
			families |= FAMILY_IPV4;
		else if (strcmp(list[i], "ipv6") == 0)
			families |= FAMILY_IPV6;
	}
	params_list_free(list);
	return families != 0 ? families : FAMILY_ALL;
}

static int
listen_backlog(void)
{
	if (var_listen_backlog < 1)
		return 1;
	return var_listen_backlog > 65535 ? 65535 : (int) var_listen_backlog;
}

/*
 * One socket bound to addr.  v6only: -1 leave the default, else the
 * IPV6_V6ONLY value.  0 ok; -1 with errno set.
 */
static int
bind_inet(const struct sockaddr *addr, socklen_t len, int v6only, int *fd_r)
{
	int fd, one = 1, saved;

	fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd < 0)
		return -1;
	/* Restarting the master must not wait for TIME_WAIT to expire. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0
	    || (v6only >= 0 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY,
		&v6only, sizeof(v6only)) < 0)
	    || bind(fd, addr, len) < 0 || listen(fd, listen_backlog()) < 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	*fd_r = fd;
	return 0;
}

static int
open_wildcard(const struct master_service_conf *sc, int *fd_r,
	char **error_r)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	int families = inet_families();
	int port = atoi(sc->port);

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_addr = in6addr_any;
	sin6.sin6_port = htons((unsigned short) port);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_ANY);
	sin.sin_port = htons((unsigned short) port);

	if (families & FAMILY_IPV6) {
		if (bind_inet((struct sockaddr *) &sin6, sizeof(sin6),
		    families == FAMILY_ALL ? 0 : 1, fd_r) == 0)
			return 0;
		/* No IPv6 on this host: "all" still serves IPv4. */
		if (families != FAMILY_ALL || (errno != EAFNOSUPPORT
		    && errno != EPROTONOSUPPORT && errno != EADDRNOTAVAIL)) {
			*error_r = xasprintf("bind [::]:%s: %s", sc->port,
			    strerror(errno));
			return -1;
		}
		log_warn("service %s: no IPv6 (%m); listening on 0.0.0.0:%s "
		    "only", sc->name, sc->port);
	}
	if (bind_inet((struct sockaddr *) &sin, sizeof(sin), -1, fd_r) < 0) {
		*error_r = xasprintf("bind 0.0.0.0:%s: %s", sc->port,
		    strerror(errno));
		return -1;
	}
	return 0;
}

static int
resolve(const struct master_service_conf *sc, struct addrinfo **res_r,
	char **error_r)
{
	struct addrinfo hints;
	int families = inet_families(), rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
	hints.ai_family = families == FAMILY_IPV4 ? AF_INET
	    : families == FAMILY_IPV6 ? AF_INET6 : AF_UNSPEC;
	rc = getaddrinfo(sc->host, sc->port, &hints, res_r);
	if (rc != 0) {
		*error_r = xasprintf("listen address %s: %s", sc->listen,
		    rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return -1;
	}
	return 0;
}

int
master_listen_check(const struct master_service_conf *sc, char **error_r)
{
	struct addrinfo *res;

	if (sc->type != MASTER_SERVICE_INET || sc->host == NULL)
		return 0;
	if (resolve(sc, &res, error_r) < 0)
		return -1;
	freeaddrinfo(res);
	return 0;
}

static int
open_inet(const struct master_service_conf *sc, int *fd_r, char **error_r)
{
	struct addrinfo *res, *ai;
	int saved = 0;

	if (sc->host == NULL)
		return open_wildcard(sc, fd_r, error_r);
	if (resolve(sc, &res, error_r) < 0)
		return -1;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (bind_inet(ai->ai_addr, ai->ai_addrlen,
		    ai->ai_family == AF_INET6 ? 1 : -1, fd_r) == 0) {
			freeaddrinfo(res);
			return 0;
		}
		if (saved == 0)
			saved = errno;
	}
	freeaddrinfo(res);
	*error_r = xasprintf("bind %s: %s", sc->listen, strerror(saved));
	return -1;
}

/*
 * Bind fd to sun so that the node is born with mode and, unless uid is
 * (uid_t) -1, owned by uid/gid: the umask gives the mode and the file
 * system ids the owner.  A chmod() or chown() by path after bind() would
 * follow whatever mail_owner put there meanwhile (private/ is theirs).
 */
static int
bind_as(int fd, const struct sockaddr_un *sun, mode_t mode, uid_t uid,
	gid_t gid)
{
	mode_t old_umask = umask(~mode & 0777);
	int rc = -1, saved;

	if (uid != (uid_t) -1) {
		(void) setfsgid(gid);
		(void) setfsuid(uid);
		/* setfsuid() reports the previous id: ask again to check. */
		if ((uid_t) setfsuid(uid) != uid
		    || (gid_t) setfsgid(gid) != gid) {
			errno = EPERM;
			goto out;
		}
	}
	rc = bind(fd, (const struct sockaddr *) sun, sizeof(*sun));
out:
	saved = errno;
	if (uid != (uid_t) -1) {
		(void) setfsuid(geteuid());
		(void) setfsgid(getegid());
	}
	(void) umask(old_umask);
	errno = saved;
	return rc;
}

int
master_listen_unix(const char *path, mode_t mode, uid_t uid, gid_t gid,
	int *fd_r, char **error_r)
{
	struct sockaddr_un sun;
	struct stat st;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		*error_r = xasprintf("%s: socket path too long", path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if (lstat(path, &st) == 0) {
		/* Only a socket is ours to replace; a file there is a mistake. */
		if (!S_ISSOCK(st.st_mode)) {
			*error_r = xasprintf("%s: exists and is not a socket",
			    path);
			return -1;
		}
		/* unlink() removes the name, never what a link points at. */
		if (unlink(path) < 0) {
			*error_r = xasprintf("remove stale socket %s: %s",
			    path, strerror(errno));
			return -1;
		}
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*error_r = xasprintf("socket for %s: %s", path, strerror(errno));
		return -1;
	}
	if (bind_as(fd, &sun, mode, uid, gid) < 0
	    || listen(fd, listen_backlog()) < 0) {
		*error_r = xasprintf("bind %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	*fd_r = fd;
	return 0;
}

static int
in_public_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t dir_len;

	if (slash == NULL)
		return 0;
	dir_len = (size_t) (slash - path);
	return dir_len >= 6 && strncmp(slash - 6, "public", 6) == 0
	    && (dir_len == 6 || slash[-7] == '/');
}

static int
open_unix(const struct master_service_conf *sc, int *fd_r, char **error_r)
{
	struct passwd *pw = NULL;
	uid_t uid = (uid_t) -1;
	gid_t gid = (gid_t) -1;

	if (geteuid() == 0) {
		if ((pw = getpwnam(var_mail_owner)) == NULL) {
			*error_r = xasprintf("mail_owner %s: no such user",
			    var_mail_owner);
			return -1;
		}
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	}
	return master_listen_unix(sc->path, in_public_dir(sc->path) ? 0666
	    : 0660, uid, gid, fd_r, error_r);
}

int
master_listen_open(const struct master_service_conf *sc, int *fd_r,
	char **error_r)
{
	if (sc->type == MASTER_SERVICE_UNIX)
		return open_unix(sc, fd_r, error_r);
	return open_inet(sc, fd_r, error_r);
}

void
master_listen_remove(const struct master_service_conf *sc)
{
	struct stat st;

	if (sc->type != MASTER_SERVICE_UNIX)
		return;
	if (lstat(sc->path, &st) == 0 && S_ISSOCK(st.st_mode)
	    && unlink(sc->path) < 0)
		log_warn("remove %s: %m", sc->path);
}

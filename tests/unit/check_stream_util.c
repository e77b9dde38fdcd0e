/* check_stream_util: helpers of the stream tests (see its header). */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"

#include "check_stream_util.h"

int64_t
now_ms(void)
{
	struct timespec ts;

	ck_assert_int_eq(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
make_pair(int sv[2])
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
}

/* Panics are expected in some tests; keep their lines out of the output. */
void
quiet_log(void)
{
	int fd = open("/dev/null", O_WRONLY);

	ck_assert_int_ge(fd, 0);
	log_set_stderr_fd(fd);
}

/* Blocking write of everything (test side; the peer reads it). */
void
write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(90);
		p += n;
		len -= (size_t) n;
	}
}

void
assert_line(const struct buf *line, const void *data, size_t len)
{
	ck_assert_uint_eq(buf_len(line), len);
	if (len > 0)
		ck_assert_mem_eq(buf_cstr(line), data, len);
	ck_assert_int_eq(buf_cstr(line)[len], '\0');
}

/* Bytes the test side can read right now without waiting. */
size_t
drain_now(int fd, char *data, size_t size)
{
	size_t got = 0;
	ssize_t n;

	while (got < size) {
		n = recv(fd, data + got, size - got, MSG_DONTWAIT);
		if (n <= 0)
			break;
		got += (size_t) n;
	}
	return got;
}

void
reap(pid_t pid, int kill_it)
{
	int wstatus;

	if (kill_it)
		kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &wstatus, 0), pid);
	if (!kill_it)
		ck_assert_msg(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0,
		    "child failed: status %d", wstatus);
}

unsigned char
pattern(size_t i)
{
	return (unsigned char) ((i * 7) % 251);
}

/*
 * check_stream_util: helpers shared by check_stream, check_stream_write
 * and check_stream_transport (socketpairs, clocks, line checks, children).
 */
#ifndef ISPMAIL_CHECK_STREAM_UTIL_H
#define ISPMAIL_CHECK_STREAM_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct buf;

/* Deadlines in the tests; generous upper bounds absorb a slow ASan run. */
#define T_LONG_MS	3000
#define T_SLACK_MS	400

int64_t now_ms(void);
void make_pair(int sv[2]);
void quiet_log(void);
void write_all(int fd, const void *data, size_t len);
void assert_line(const struct buf *line, const void *data, size_t len);
/* Bytes the test side can read right now without waiting. */
size_t drain_now(int fd, char *data, size_t size);
/* Wait for child pid: killed first when kill_it, else it must exit 0. */
void reap(pid_t pid, int kill_it);
/* Byte i of the test data of the block and bulk checks. */
unsigned char pattern(size_t i);

#endif

/* tlsrpt_journal: appending to the TLS-RPT journal files. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "tlsrpt_journal.h"
#include "xalloc.h"

void
tlsrpt_journal_day(long long t, char day[11])
{
	time_t when = (time_t) t;
	struct tm tm;

	if (gmtime_r(&when, &tm) == NULL ||
	    strftime(day, 11, "%Y-%m-%d", &tm) != 10)
		snprintf(day, 11, "1970-01-01");
}

int
tlsrpt_journal_append(const char *dir, const char *day,
	const struct buf *record, long long size_limit, const char **error_r)
{
	char *path = xasprintf("%s/%s.%ld", dir, day, (long) getpid());
	size_t len = buf_len(record);
	struct stat st;
	ssize_t n;
	int fd, rc = -1;

	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW |
	    O_CLOEXEC | O_NONBLOCK, 0600);
	if (fd < 0) {
		*error_r = strerror(errno);
	} else if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		*error_r = "not a regular file";
	} else if (len > TLSRPT_JOURNAL_RECORD_MAX ||
	    (long long) st.st_size + (long long) len > size_limit) {
		*error_r = "journal file full (smtp_tlsrpt_journal_size_limit)";
	} else {
		/* One write: the record lands whole after the others. */
		n = write(fd, buf_cstr(record), len);
		if (n == (ssize_t) len)
			rc = 0;
		else
			*error_r = n < 0 ? strerror(errno) : "short write";
	}
	if (fd >= 0)
		(void) close(fd);
	free(path);
	return rc;
}

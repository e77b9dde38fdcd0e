/*
 * tlsrpt_journal: the TLS-RPT journal (RFC 8460 results of outbound TLS
 * sessions), written by the smtp agent and read by ispmailctl tlsrpt.
 *
 * A result is one attribute record (attr.h: "name=value" lines, values
 * %XX-escaped, an empty line at the end; the names are in
 * ispmail-tlsrpt(5)), the first line "tlsrpt=1".  Each agent process
 * appends to its own file queue_directory/tlsrpt/YYYY-MM-DD.PID (the
 * UTC day) with one write(2) per record and O_APPEND, so no process
 * waits for another and a crash leaves at most a truncated last record,
 * which the reader skips; a file stops growing at the size limit.
 */
#ifndef ISPMAIL_TLSRPT_JOURNAL_H
#define ISPMAIL_TLSRPT_JOURNAL_H

struct buf;

/* The directory under queue_directory (made by the master). */
#define TLSRPT_JOURNAL_DIR "tlsrpt"
/* The first attribute of every record, and its value. */
#define TLSRPT_JOURNAL_MAGIC "tlsrpt"
#define TLSRPT_JOURNAL_VERSION "1"
/* The largest record; a larger one is not written (nor read). */
#define TLSRPT_JOURNAL_RECORD_MAX (32 * 1024)
/* The most attributes of a record (lists: policy strings, mx). */
#define TLSRPT_JOURNAL_ATTR_MAX 160

/* "YYYY-MM-DD" (UTC) of t into day (11 bytes). */
void tlsrpt_journal_day(long long t, char day[11]);
/*
 * Append the encoded record (attr_put ... attr_end) to this process'
 * file for day under dir, opened without following symlinks, mode
 * 0600, a regular file of at most size_limit bytes after it.  0 ok; -1
 * not written (*error_r static text).
 */
int tlsrpt_journal_append(const char *dir, const char *day,
	const struct buf *record, long long size_limit, const char **error_r);

#endif

/*
 * imap_append: APPEND with MULTIAPPEND (RFC 3502).
 *
 * Each message literal is copied from the stream into a file in the
 * folder's tmp/ as it comes (never held in memory).  Only when the last
 * literal of the command is in are they all committed to cur/, so a
 * client sees all of them or none: a failure before that removes every
 * tmp file, a failure while committing removes the ones committed.  One
 * command carries at most IMAP_MULTIAPPEND_MAX messages (each open until
 * the end) and each one within the message size limit and the quota.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "imap.h"
#include "imap_keywords.h"
#include "imap_mailbox.h"
#include "imap_uidlist.h"
#include "log.h"
#include "mail_params.h"
#include "maildir.h"
#include "stream.h"
#include "xalloc.h"

#define IMAP_COPY_CHUNK 65536
#define IMAP_MULTIAPPEND_MAX 256

/* RFC 3501 date-time "dd-Mon-yyyy hh:mm:ss +zzzz"; -1 when malformed. */
static time_t
imap_parse_date_time(const char *text)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	char mon[4], sign;
	int day, year, hour, min, sec, zone, consumed = 0;
	const char *m;
	struct tm tm;
	time_t t;

	if (sscanf(text, "%2d-%3[A-Za-z]-%4d %2d:%2d:%2d %c%4d%n", &day, mon,
	    &year, &hour, &min, &sec, &sign, &zone, &consumed) != 8 ||
	    text[consumed] != '\0' || (sign != '+' && sign != '-') ||
	    strlen(text) < 26 || day < 1 || day > 31 || hour > 23 ||
	    min > 59 || sec > 60 || year < 1970 || zone % 100 > 59 ||
	    hour < 0 || min < 0 || sec < 0)
		return -1;
	m = strcasestr(months, mon);
	if (m == NULL || strlen(mon) != 3 || (m - months) % 3 != 0)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_mday = day;
	tm.tm_mon = (int) (m - months) / 3;
	tm.tm_year = year - 1900;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	t = timegm(&tm);
	zone = (zone / 100) * 3600 + (zone % 100) * 60;
	return sign == '+' ? t - zone : t + zone;
}

/* Read APPEND's literal into a delivery; 0 ok, -1 (session ends). */
static int
imap_append_copy(struct imap_session *sess, struct maildir_delivery *d,
	long long size, char **error_r)
{
	struct buf *chunk = buf_new(IMAP_COPY_CHUNK);
	size_t n;
	int ret = 0;

	while (size > 0) {
		n = size > IMAP_COPY_CHUNK ? IMAP_COPY_CHUNK : (size_t) size;
		buf_reset(chunk);
		if (stream_read_exact(sess->s, chunk, n) != STREAM_OK) {
			*error_r = xstrdup("connection lost in the literal");
			sess->state = IMAP_STATE_LOGOUT;
			/* The caller forgets d: its tmp/ file goes now. */
			maildir_deliver_abort(&d);
			ret = -1;
			break;
		}
		if (d != NULL && maildir_deliver_write(d, buf_cstr(chunk), n,
		    error_r) < 0) {
			/* Read the rest anyway, to stay in step. */
			maildir_deliver_abort(&d);
			ret = -1;
			d = NULL;
		}
		size -= (long long) n;
	}
	buf_free(&chunk);
	return ret;
}

/* One message of an APPEND. */
struct append_msg {
	struct maildir_delivery *d;
	char *letters;			/* Maildir flag letters */
	time_t mtime;			/* INTERNALDATE, 0: now */
	char *file;			/* base name once committed */
};

/*
 * A message's "[flags] [date-time]" (args[0..count)) into m, the
 * keywords named in the folder at dir (its table loaded into target).
 * 0 ok; -1 with a static *error_r.
 */
static int
append_options(const char *user, const char *dir,
	struct imap_keywords *target, const struct imap_arg *args,
	size_t count, struct append_msg *m, const char **error_r)
{
	unsigned int flags = 0;
	uint32_t keywords = 0;
	size_t i = 0;
	char *err = NULL;
	int added;

	m->mtime = 0;
	if (i < count && args[i].type == IMAP_ARG_LIST) {
		if (imap_parse_flags(&args[i], &flags) < 0) {
			*error_r = "Invalid flags";
			return -1;
		}
		if (imap_keywords_map(dir, target, &args[i], 1, &keywords,
		    &added, &err) < 0) {
			log_warn("user=%s append keywords: %s", user, err);
			free(err);
			err = NULL;
			keywords = 0;
		}
		i++;
	}
	if (i < count) {
		if (args[i].type != IMAP_ARG_STRING ||
		    (m->mtime = imap_parse_date_time(args[i].str)) < 0) {
			*error_r = "Invalid date-time";
			return -1;
		}
		i++;
	}
	if (i != count) {
		*error_r = "Too many APPEND arguments";
		return -1;
	}
	m->letters = imap_letters_for(NULL, flags, keywords);
	return 0;
}

/*
 * A line that ends in a literal's announcement "{n}" or "{n+}": its
 * size and kind, and where the announcement starts.  1 found, 0 not.
 */
static int
append_literal_at_end(const char *line, size_t len, long long *size_r,
	int *sync_r, size_t *start_r)
{
	size_t i, digits_end;
	long long n = 0;

	if (len < 3 || line[len - 1] != '}')
		return 0;
	digits_end = len - 1;
	*sync_r = line[digits_end - 1] != '+';
	if (!*sync_r)
		digits_end--;
	for (i = digits_end; i > 0 && line[i - 1] >= '0' && line[i - 1] <= '9';
	    i--)
		;
	if (i == 0 || line[i - 1] != '{' || i == digits_end ||
	    digits_end - i > 18)
		return 0;
	for (*start_r = i - 1; i < digits_end; i++)
		n = n * 10 + (line[i] - '0');
	*size_r = n;
	return 1;
}

/*
 * After a failure: read and drop what the client sends anyway (LITERAL+
 * literals and their lines) up to a synchronising literal, which it
 * will not send without our "+", or the end of the command.
 */
static void
append_drain(struct imap_session *sess, long long size, int sync)
{
	struct buf *chunk = buf_new(IMAP_COPY_CHUNK);
	size_t n, start;

	while (!sync && sess->state != IMAP_STATE_LOGOUT) {
		while (size > 0) {
			n = size > IMAP_COPY_CHUNK ? IMAP_COPY_CHUNK :
			    (size_t) size;
			buf_reset(chunk);
			if (stream_read_exact(sess->s, chunk, n) != STREAM_OK) {
				sess->state = IMAP_STATE_LOGOUT;
				break;
			}
			size -= (long long) n;
		}
		if (sess->state == IMAP_STATE_LOGOUT ||
		    stream_read_line(sess->s, sess->line,
		    (size_t) var_imap_command_size_limit) != STREAM_OK) {
			sess->state = IMAP_STATE_LOGOUT;
			break;
		}
		if (!append_literal_at_end(buf_cstr(sess->line),
		    buf_len(sess->line), &size, &sync, &start))
			break;
		/* A further one past the limit is not worth reading. */
		if (!sync && size > var_imap_message_size_limit) {
			sess->state = IMAP_STATE_LOGOUT;
			break;
		}
	}
	buf_free(&chunk);
}

/*
 * The line after a literal (its first skip bytes already taken): ""
 * ends the command (0); " [flags] [date-time] {n}" (or "~{n}" or
 * "UTF8 (~{n}") announces the next message (1, its arguments in *args_r
 * and its IMAP_LITERAL_* bits in *flags_r); anything else is -1.
 */
static int
append_next(struct imap_session *sess, size_t skip, struct imap_arg **args_r,
	size_t *count_r, long long *size_r, int *flags_r)
{
	const char *line = buf_cstr(sess->line) + skip, *error;
	size_t len = buf_len(sess->line) - skip, start;
	int sync;

	*args_r = NULL;
	*count_r = 0;
	if (len == 0)
		return 0;
	if (line[0] != ' ' || !append_literal_at_end(line, len, size_r,
	    &sync, &start))
		return -1;
	*flags_r = sync ? IMAP_LITERAL_SYNC : 0;
	start -= imap_append_literal_prefix(line, start, flags_r);
	if (start < 1 || imap_parse_args(line + 1, start - 1, 8, args_r,
	    count_r, &error) < 0) {
		*args_r = NULL;
		*count_r = 0;
		return -1;
	}
	return 1;
}

/* Remove committed messages (all or none); then the rest's tmp files. */
static void
append_undo(const char *dir, struct append_msg *msgs, size_t n)
{
	char *path;
	size_t i;

	for (i = 0; i < n; i++) {
		if (msgs[i].file != NULL) {
			path = xasprintf("%s/cur/%s:2,%s", dir, msgs[i].file,
			    msgs[i].letters);
			(void) unlink(path);
			free(path);
		}
		maildir_deliver_abort(&msgs[i].d);
	}
}

/* "[APPENDUID validity uids]": the UIDs in message order, runs as a:b. */
static struct buf *
append_uid_code(uint32_t validity, const uint32_t *uids, size_t n)
{
	struct buf *code = buf_new(xalloc_add(xalloc_mul(n, 22), 64));
	size_t i = 0, j;

	(void) buf_printf(code, "[APPENDUID %u ", (unsigned) validity);
	while (i < n) {
		for (j = i; j + 1 < n && uids[j + 1] == uids[j] + 1; j++)
			;
		(void) buf_printf(code, "%s%u", i > 0 ? "," : "",
		    (unsigned) uids[i]);
		if (j > i)
			(void) buf_printf(code, ":%u", (unsigned) uids[j]);
		i = j + 1;
	}
	(void) buf_append_str(code, "] ");
	return code;
}

void
imap_cmd_append(struct imap_session *sess, struct imap_arg *args,
	size_t count)
{
	struct maildir_quota q;
	struct imap_keywords target;
	struct append_msg *msgs;
	struct imap_arg *next_args = NULL;
	struct buf *code;
	const char *name, *error = NULL;
	char *dir, *err = NULL, **bases;
	long long size = sess->append_size, total = 0, stored;
	uint32_t *uids, validity;
	size_t n = 0, next_count = 0, i;
	int lflags = sess->append_sync, have_quota, next, ok = 0, sync;
	int moving;
	size_t skip;

	if (size < 0 || count < 1 || count > 3 ||
	    (name = imap_arg_astring(&args[0])) == NULL) {
		imap_tagged(sess, "BAD", "APPEND needs a mailbox and a "
		    "message literal");
		return;
	}
	/* RFC 6855 4: the UTF8 form only once UTF8=ACCEPT is enabled. */
	if ((lflags & IMAP_LITERAL_UTF8) && !sess->utf8_accept) {
		imap_tagged(sess, "BAD", "APPEND UTF8 needs ENABLE "
		    "UTF8=ACCEPT");
		return;
	}
	if ((dir = imap_target_folder(sess, name)) == NULL)
		return;
	have_quota = maildir_quota_get(sess->root, sess->quota, &q, &err) == 0;
	free(err);
	err = NULL;
	memset(&target, 0, sizeof(target));
	if (imap_keywords_load(dir, &target, &err) < 0) {
		log_warn("user=%s append keywords: %s", sess->user, err);
		free(err);
		err = NULL;
	}
	msgs = xcalloc(IMAP_MULTIAPPEND_MAX, sizeof(*msgs));
	/* From here on this function reads the literals itself. */
	sess->append_size = -1;
	for (;;) {
		struct append_msg *m = &msgs[n];

		sync = lflags & IMAP_LITERAL_SYNC;
		if (append_options(sess->user, dir, &target,
		    n == 0 ? args + 1 : next_args, n == 0 ? count - 1 :
		    next_count, m, &error) < 0) {
			imap_tagged(sess, "BAD", "%s", error);
			break;
		}
		imap_args_free(next_args, next_count);
		next_args = NULL;
		next_count = 0;
		if ((lflags & IMAP_LITERAL_UTF8) && !sess->utf8_accept) {
			imap_tagged(sess, "BAD", "APPEND UTF8 needs ENABLE "
			    "UTF8=ACCEPT");
			break;
		}
		if (size > var_imap_message_size_limit) {
			imap_tagged(sess, "NO", "[TOOBIG] Message too large");
			break;
		}
		if (have_quota && ((q.bytes_limit > 0 &&
		    q.bytes + total + size > q.bytes_limit) ||
		    (q.count_limit > 0 && q.count + (long long) n + 1 >
		    q.count_limit))) {
			imap_tagged(sess, "NO", "[OVERQUOTA] Quota exceeded");
			break;
		}
		m->d = maildir_deliver_begin(dir, &err);
		if (m->d == NULL && sync) {
			imap_tagged(sess, "NO", "[SERVERBUG] Cannot append");
			break;
		}
		if (sync) {
			imap_printf(sess, "+ Ready for literal data\r\n");
			(void) stream_flush(sess->s);
		}
		n++;
		sync = 1;	/* the literal is read (or the session over) */
		if (imap_append_copy(sess, m->d, size, &err) < 0 ||
		    m->d == NULL) {
			m->d = NULL;	/* aborted by the copy */
			if (sess->state != IMAP_STATE_LOGOUT)
				imap_tagged(sess, "NO", "[SERVERBUG] Cannot "
				    "append");
			sync = 0;	/* drain the line and what follows */
			size = 0;
			break;
		}
		total += size;
		if (stream_read_line(sess->s, sess->line,
		    (size_t) var_imap_command_size_limit) != STREAM_OK) {
			sess->state = IMAP_STATE_LOGOUT;
			break;
		}
		/* UTF8 (~{n}) closes its parenthesis after the literal. */
		skip = 0;
		if (lflags & IMAP_LITERAL_UTF8) {
			if (buf_len(sess->line) == 0 ||
			    buf_cstr(sess->line)[0] != ')') {
				imap_tagged(sess, "BAD", "APPEND UTF8 needs a "
				    "closing parenthesis");
				sync = 1;
				break;
			}
			skip = 1;
		}
		next = append_next(sess, skip, &next_args, &next_count, &size,
		    &lflags);
		if (next == 0) {
			ok = 1;
			break;
		}
		if (next < 0) {
			imap_tagged(sess, "BAD", "Junk after the message "
			    "literal");
			/* Drop a LITERAL+ it announces, if any. */
			if (!append_literal_at_end(buf_cstr(sess->line),
			    buf_len(sess->line), &size, &sync, &i))
				sync = 1;
			break;
		}
		if (n == IMAP_MULTIAPPEND_MAX) {
			imap_tagged(sess, "NO", "[LIMIT] Too many messages in "
			    "one APPEND");
			break;
		}
	}
	imap_args_free(next_args, next_count);
	imap_keywords_clear(&target);
	if (err != NULL)
		log_error("user=%s append: %s", sess->user, err);
	free(err);
	err = NULL;
	if (!ok) {
		append_undo(dir, msgs, n);
		for (i = 0; i < n; i++)
			free(msgs[i].letters);
		if (n < IMAP_MULTIAPPEND_MAX)
			free(msgs[n].letters);
		free(msgs);
		free(dir);
		/* What the client sends anyway is read and dropped. */
		if (sess->state != IMAP_STATE_LOGOUT)
			append_drain(sess, size, sync);
		return;
	}
	/*
	 * The move's barrier, as lmtpd's (store_mark.h): the tmp/ files are
	 * written, nothing is linked; a marked mailbox keeps nothing.
	 */
	moving = !sess->admin && mailbox_state_marked(imapd_route,
	    sess->user, sess->root, &err) != 0;
	/* All in: commit them, or none. */
	total = 0;
	for (i = 0; !moving && i < n; i++) {
		if (maildir_deliver_commit(&msgs[i].d, msgs[i].letters,
		    msgs[i].mtime, &msgs[i].file, &stored, &err) < 0)
			break;
		total += stored;
	}
	if (moving || i < n) {
		if (err != NULL)
			log_error("user=%s append: %s", sess->user, err);
		else
			log_info("user=%s append: mailbox being moved",
			    sess->user);
		free(err);
		append_undo(dir, msgs, n);
		imap_tagged(sess, "NO", moving ? "[UNAVAILABLE] Mailbox is "
		    "being moved" : "[SERVERBUG] Cannot append");
	} else {
		if (maildir_quota_add(sess->root, total, (long long) n,
		    &err) < 0) {
			log_warn("user=%s quota: %s", sess->user, err);
			free(err);
			err = NULL;
		}
		bases = xcalloc(n, sizeof(*bases));
		uids = xcalloc(n, sizeof(*uids));
		for (i = 0; i < n; i++)
			bases[i] = xstrndup(msgs[i].file,
			    imap_uidlist_base_len(msgs[i].file));
		validity = imap_target_uids(dir, bases, n, uids, &err);
		free(err);
		for (i = 0; i < n && uids[i] != 0; i++)
			;
		if (validity != 0 && i == n) {
			code = append_uid_code(validity, uids, n);
			imap_tagged_code(sess, "OK", code, "Append completed");
			buf_free(&code);
		} else {
			imap_tagged(sess, "OK", "Append completed");
		}
		for (i = 0; i < n; i++)
			free(bases[i]);
		free(bases);
		free(uids);
	}
	for (i = 0; i < n; i++) {
		free(msgs[i].letters);
		free(msgs[i].file);
	}
	free(msgs);
	free(dir);
}

/* smtpd_msa: add a missing Date: and Message-ID: on submission. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "buf.h"
#include "smtpd_msa.h"
#include "xalloc.h"

enum msa_state {
	MSA_LINE_START,		/* nothing of the line seen */
	MSA_NAME,		/* holding the line start in pending */
	MSA_LINE_REST,		/* a header line, known: pass to LF */
	MSA_BODY,		/* pass everything */
	MSA_FAILED,		/* out failed */
};

struct smtpd_msa {
	enum msa_state state;
	struct buf *pending;	/* the held line start */
	int name_done;		/* pending: whitespace after the name */
	int have_date, have_message_id;
	int added;
	char *date, *message_id;
	smtpd_msa_out_fn *out;	/* of the current call */
	void *ctx;
};

struct smtpd_msa *
smtpd_msa_new(const char *date, const char *message_id)
{
	struct smtpd_msa *msa = xcalloc(1, sizeof(*msa));

	msa->state = MSA_LINE_START;
	/* The name, whitespace, and the byte that decides. */
	msa->pending = buf_new(SMTPD_MSA_NAME_MAX + 1);
	msa->date = xstrdup(date);
	msa->message_id = xstrdup(message_id);
	return msa;
}

void
smtpd_msa_free(struct smtpd_msa **msap)
{
	struct smtpd_msa *msa = *msap;

	if (msa == NULL)
		return;
	buf_free(&msa->pending);
	free(msa->date);
	free(msa->message_id);
	free(msa);
	*msap = NULL;
}

int
smtpd_msa_added(const struct smtpd_msa *msa)
{
	return msa->added;
}

static int
msa_out(struct smtpd_msa *msa, const void *data, size_t len)
{
	if (len == 0 || msa->state == MSA_FAILED)
		return msa->state == MSA_FAILED ? -1 : 0;
	if (msa->out(msa->ctx, data, len) < 0) {
		msa->state = MSA_FAILED;
		return -1;
	}
	return 0;
}

/* The end of the header section: write what it lacks. */
static int
msa_add_missing(struct smtpd_msa *msa)
{
	struct buf *fields = buf_new(strlen(msa->date) +
	    strlen(msa->message_id) + 64);
	int rc;

	if (!msa->have_date) {
		(void) buf_printf(fields, "Date: %s\r\n", msa->date);
		msa->added |= SMTPD_MSA_ADDED_DATE;
	}
	if (!msa->have_message_id) {
		(void) buf_printf(fields, "Message-ID: %s\r\n",
		    msa->message_id);
		msa->added |= SMTPD_MSA_ADDED_MESSAGE_ID;
	}
	msa->have_date = msa->have_message_id = 1;
	rc = msa_out(msa, buf_cstr(fields), buf_len(fields));
	buf_free(&fields);
	return rc;
}

/* RFC 5322 3.6.8 ftext: printable US-ASCII but the colon. */
static int
msa_ftext(unsigned char c)
{
	return c >= 33 && c <= 126 && c != ':';
}

/* The field name in pending is complete (a colon follows). */
static void
msa_note_field(struct smtpd_msa *msa)
{
	const char *name = buf_cstr(msa->pending);
	size_t len = strcspn(name, " \t");

	if (len == 4 && strncasecmp(name, "Date", 4) == 0)
		msa->have_date = 1;
	else if (len == 10 && strncasecmp(name, "Message-ID", 10) == 0)
		msa->have_message_id = 1;
}

/*
 * The line held in pending is not a header field (or is the empty line):
 * the header section ends before it.
 */
static int
msa_end_header(struct smtpd_msa *msa, int empty_line)
{
	if (msa_add_missing(msa) < 0)
		return -1;
	/* Keep a body line out of the header: RFC 5322 3.5. */
	if (!empty_line && msa_out(msa, "\r\n", 2) < 0)
		return -1;
	msa->state = MSA_BODY;
	if (msa_out(msa, buf_cstr(msa->pending), buf_len(msa->pending)) < 0)
		return -1;
	buf_reset(msa->pending);
	return 0;
}

/* Flush pending as the start of a header line. */
static int
msa_header_line(struct smtpd_msa *msa)
{
	msa->state = MSA_LINE_REST;
	if (msa_out(msa, buf_cstr(msa->pending), buf_len(msa->pending)) < 0)
		return -1;
	buf_reset(msa->pending);
	return 0;
}

/* One byte of a line start; 0 ok, -1 out failed. */
static int
msa_name_byte(struct smtpd_msa *msa, unsigned char c)
{
	size_t held = buf_len(msa->pending);
	int after_cr = held == 1 && buf_cstr(msa->pending)[0] == '\r';

	/* pending holds at most SMTPD_MSA_NAME_MAX bytes: this fits. */
	(void) buf_append_char(msa->pending, (char) c);
	if (held == 0 && (c == ' ' || c == '\t'))
		return msa_header_line(msa);	/* folded: same field */
	if (held == 0 && c == '\r')
		return 0;
	if (held == 0 && c == '\n')
		return msa_end_header(msa, 1);
	if (after_cr)
		return msa_end_header(msa, c == '\n');
	if (c == ':' && held > 0) {
		buf_truncate(msa->pending, held);
		msa_note_field(msa);
		(void) buf_append_char(msa->pending, ':');
		return msa_header_line(msa);
	}
	if ((c == ' ' || c == '\t') && held > 0) {
		/* RFC 5322 4.5.3 (obsolete): whitespace before the colon. */
		msa->name_done = 1;
		return buf_len(msa->pending) >= SMTPD_MSA_NAME_MAX ?
		    msa_header_line(msa) : 0;
	}
	if (!msa_ftext(c) || msa->name_done)
		return msa_end_header(msa, 0);
	/* Longer than any name we look for: some other field. */
	if (buf_len(msa->pending) >= SMTPD_MSA_NAME_MAX)
		return msa_header_line(msa);
	return 0;
}

int
smtpd_msa_write(struct smtpd_msa *msa, const void *data, size_t len,
	smtpd_msa_out_fn *out, void *ctx)
{
	const unsigned char *p = data, *end = p + len, *nl;

	msa->out = out;
	msa->ctx = ctx;
	while (p < end) {
		switch (msa->state) {
		case MSA_FAILED:
			return -1;
		case MSA_BODY:
			return msa_out(msa, p, (size_t) (end - p));
		case MSA_LINE_REST:
			nl = memchr(p, '\n', (size_t) (end - p));
			if (nl == NULL)
				return msa_out(msa, p, (size_t) (end - p));
			if (msa_out(msa, p, (size_t) (nl + 1 - p)) < 0)
				return -1;
			msa->state = MSA_LINE_START;
			p = nl + 1;
			break;
		case MSA_LINE_START:
			msa->state = MSA_NAME;
			msa->name_done = 0;
			break;
		case MSA_NAME:
			if (msa_name_byte(msa, *p++) < 0)
				return -1;
			break;
		}
	}
	return msa->state == MSA_FAILED ? -1 : 0;
}

int
smtpd_msa_finish(struct smtpd_msa *msa, smtpd_msa_out_fn *out, void *ctx)
{
	msa->out = out;
	msa->ctx = ctx;
	switch (msa->state) {
	case MSA_FAILED:
		return -1;
	case MSA_BODY:
		return 0;
	case MSA_LINE_REST:
		/* A last header line without its CRLF gets one. */
		if (msa_out(msa, "\r\n", 2) < 0)
			return -1;
		break;
	case MSA_NAME:
		/* A last line that never reached its colon. */
		if (buf_len(msa->pending) > 0 &&
		    (msa_out(msa, buf_cstr(msa->pending),
		    buf_len(msa->pending)) < 0 || msa_out(msa, "\r\n", 2) < 0))
			return -1;
		buf_reset(msa->pending);
		break;
	case MSA_LINE_START:
		break;
	}
	if (msa_add_missing(msa) < 0)
		return -1;
	msa->state = MSA_BODY;
	return 0;
}

void
smtpd_msa_values(const char *queue_id, const char *hostname, long long when,
	char **date_r, char **message_id_r)
{
	char date[64];
	time_t t = (time_t) when;
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	*date_r = xstrdup(date);
	*message_id_r = xasprintf("<%lld.%s@%s>", when, queue_id, hostname);
}

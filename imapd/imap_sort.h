/*
 * imap_sort: what SORT and THREAD (RFC 5256) know of a message, and the
 * rules they share: the base subject, the sent date, the first address.
 *
 * imap_sort_collect() reads each matched message's header once (never
 * the body; a message without a blank line is read to its end once) and
 * keeps only the keys asked for, decoded and folded for comparison.  A
 * header field's value is read up to IMAP_SORT_FIELD_CAP bytes, and at
 * most IMAP_SORT_REFS_MAX message ids of References (the last ones,
 * nearest the parent) are kept, so the work per message is bounded.
 */
#ifndef ISPMAIL_IMAP_SORT_H
#define ISPMAIL_IMAP_SORT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct imap_session;

#define IMAP_SORT_FIELD_CAP	(64 * 1024)
#define IMAP_SORT_REFS_MAX	64

/* What imap_sort_collect() reads (bits). */
#define IMAP_SORT_NEED_SUBJECT	0x01
#define IMAP_SORT_NEED_ADDR	0x02
#define IMAP_SORT_NEED_REFS	0x04
#define IMAP_SORT_NEED_SIZE	0x08

/* One matched message (a plain record). */
struct imap_sort_msg {
	uint32_t seq;			/* 1-based sequence number */
	uint32_t uid;
	time_t sent;			/* Date: in UTC, else arrival */
	time_t arrival;			/* INTERNALDATE */
	long long size;			/* RFC822.SIZE */
	char *subject;			/* base subject, folded ("" none) */
	int reply;			/* the subject was a reply/forward */
	char *from, *to, *cc;		/* first addr-mailbox, folded */
	char *msgid;			/* Message-ID "<...>", NULL none */
	char **refs;			/* References (or In-Reply-To) */
	size_t nrefs;
};

/*
 * The records of the messages at box indexes idx[0..n) (ascending), the
 * keys in need filled in.  A message whose file is gone gets empty keys
 * and its arrival as date.  Caller frees with imap_sort_msgs_free().
 */
struct imap_sort_msg *imap_sort_collect(struct imap_session *sess,
	const uint32_t *idx, size_t n, unsigned int need);
void imap_sort_msgs_free(struct imap_sort_msg *msgs, size_t n);

/*
 * RFC 5256 2.1: the base subject of a raw Subject value (encoded words
 * decoded, blanks collapsed, Re:/Fwd:/[blob]/(fwd) removed), folded
 * for comparison; *reply_r says whether it was a reply or forward.
 * A new string.
 */
char *imap_base_subject(const char *raw, size_t len, int *reply_r);
/*
 * RFC 5322 3.3 date-time (obsolete forms and zone names too) as UTC
 * seconds; 0 ok, -1 unreadable.
 */
int imap_parse_sent_date(const char *text, size_t len, time_t *t_r);

/* By sent date, then sequence number (RFC 5256 "sent date" rule). */
int imap_sort_cmp_sent(const struct imap_sort_msg *a,
	const struct imap_sort_msg *b);

#endif

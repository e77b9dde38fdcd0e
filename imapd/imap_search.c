/*
 * imap_search: SEARCH and UID SEARCH (RFC 3501 6.4.4), every key.
 *
 * The keys become a tree first (a syntax error is a BAD before anything
 * is read), then each message is tested, reading its file only when a
 * key needs the header or the text.  Strings match as substrings of the
 * decoded text (RFC 3501 6.4.4): header values with RFC 2047 encoded
 * words decoded, text/ * bodies with their transfer encoding undone, all
 * in UTF-8 (common/mail/mime_decode.h), both sides folded by
 * mime_decode_fold() (ASCII and Latin-1 letters).  BODY and TEXT look
 * only at text/ * parts (and the headers of embedded messages); each part
 * is decoded up to SEARCH_TEXT_CAP bytes.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "imap.h"
#include "imap_keywords.h"
#include "imap_mailbox.h"
#include "log.h"
#include "mime.h"
#include "mime_decode.h"
#include "xalloc.h"

enum search_op {
	S_ALL, S_FLAG_SET, S_FLAG_CLEAR, S_NEW, S_SEQ, S_UID, S_SAVED, S_NOT,
	S_OR, S_AND, S_LARGER, S_SMALLER, S_BEFORE, S_ON, S_SINCE,
	S_SENTBEFORE, S_SENTON, S_SENTSINCE, S_HEADER, S_BODY, S_TEXT,
	S_NONE, S_KEYWORD, S_UNKEYWORD, S_MODSEQ,
};

/* Decoded bytes searched per header field or body part. */
#define SEARCH_TEXT_CAP (16 * 1024 * 1024)

struct search_key {
	enum search_op op;
	unsigned int flag;
	long long number;		/* sizes, dates as yyyymmdd */
	uint64_t modseq;		/* S_MODSEQ */
	char *field;			/* S_HEADER */
	char *value;
	struct imap_seqset set;
	struct search_key *sub;		/* NOT, OR (two), AND (count) */
	size_t count;
};

/* The per-message state a test may need, read lazily. */
struct search_msg {
	struct imap_mailbox *box;
	struct imap_msg *msg;
	size_t index;
	int mapped;			/* 1 mapped, -1 failed */
	void *data;
	size_t len;
	time_t mtime;
	struct mime_message *mime;
	struct buf *scratch;
	struct buf *text;		/* decoded text, folded */
};

static void
search_key_free(struct search_key *k)
{
	size_t i;

	for (i = 0; i < k->count; i++)
		search_key_free(&k->sub[i]);
	free(k->sub);
	free(k->field);
	free(k->value);
	imap_seqset_free(&k->set);
}

/* "1-Feb-1994" as yyyymmdd; -1 when malformed. */
static long long
search_parse_date(const char *text)
{
	static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	char mon[4];
	int day, year, consumed = 0;
	const char *m;

	if (sscanf(text, "%2d-%3[A-Za-z]-%4d%n", &day, mon, &year,
	    &consumed) != 3 || text[consumed] != '\0' || day < 1 ||
	    day > 31 || year < 1000 || strlen(mon) != 3)
		return -1;
	for (size_t i = 0; i < 3; i++)
		mon[i] = (char) (mon[i] | 0x20);
	m = strstr(months, mon);
	if (m == NULL || (m - months) % 3 != 0)
		return -1;
	return (long long) year * 10000 + ((m - months) / 3 + 1) * 100 + day;
}

static const char *
search_string(const struct imap_arg *arg)
{
	if (arg->type == IMAP_ARG_LIST)
		return NULL;
	if (memchr(arg->str, '\0', arg->len) != NULL)
		return NULL;
	return arg->str;
}

static int search_parse_key(struct imap_arg *args, size_t count,
	size_t *pos, struct search_key *k, int depth);

static int
search_parse_list(struct imap_arg *args, size_t count, struct search_key *k,
	int depth)
{
	size_t pos = 0;

	k->op = S_AND;
	while (pos < count) {
		k->sub = xreallocarray(k->sub, k->count + 1, sizeof(*k->sub));
		memset(&k->sub[k->count], 0, sizeof(*k->sub));
		k->count++;
		if (search_parse_key(args, count, &pos,
		    &k->sub[k->count - 1], depth + 1) < 0)
			return -1;
	}
	return k->count > 0 ? 0 : -1;
}

static int
search_parse_key(struct imap_arg *args, size_t count, size_t *pos,
	struct search_key *k, int depth)
{
	static const struct {
		const char *name;
		enum search_op op;
		unsigned int flag;
		int args;		/* 0, 1 (string/number/date), 2 */
	} keys[] = {
		{ "ALL", S_ALL, 0, 0 },
		{ "ANSWERED", S_FLAG_SET, IMAP_FLAG_ANSWERED, 0 },
		{ "DELETED", S_FLAG_SET, IMAP_FLAG_DELETED, 0 },
		{ "DRAFT", S_FLAG_SET, IMAP_FLAG_DRAFT, 0 },
		{ "FLAGGED", S_FLAG_SET, IMAP_FLAG_FLAGGED, 0 },
		{ "RECENT", S_FLAG_SET, IMAP_FLAG_RECENT, 0 },
		{ "SEEN", S_FLAG_SET, IMAP_FLAG_SEEN, 0 },
		{ "UNANSWERED", S_FLAG_CLEAR, IMAP_FLAG_ANSWERED, 0 },
		{ "UNDELETED", S_FLAG_CLEAR, IMAP_FLAG_DELETED, 0 },
		{ "UNDRAFT", S_FLAG_CLEAR, IMAP_FLAG_DRAFT, 0 },
		{ "UNFLAGGED", S_FLAG_CLEAR, IMAP_FLAG_FLAGGED, 0 },
		{ "UNSEEN", S_FLAG_CLEAR, IMAP_FLAG_SEEN, 0 },
		{ "OLD", S_FLAG_CLEAR, IMAP_FLAG_RECENT, 0 },
		{ "NEW", S_NEW, 0, 0 },
		{ "KEYWORD", S_KEYWORD, 0, 1 },
		{ "UNKEYWORD", S_UNKEYWORD, 0, 1 },
		{ "LARGER", S_LARGER, 0, 1 },
		{ "SMALLER", S_SMALLER, 0, 1 },
		{ "BEFORE", S_BEFORE, 0, 1 },
		{ "ON", S_ON, 0, 1 },
		{ "SINCE", S_SINCE, 0, 1 },
		{ "SENTBEFORE", S_SENTBEFORE, 0, 1 },
		{ "SENTON", S_SENTON, 0, 1 },
		{ "SENTSINCE", S_SENTSINCE, 0, 1 },
		{ "BODY", S_BODY, 0, 1 },
		{ "TEXT", S_TEXT, 0, 1 },
		{ "FROM", S_HEADER, 0, 1 },
		{ "TO", S_HEADER, 0, 1 },
		{ "CC", S_HEADER, 0, 1 },
		{ "BCC", S_HEADER, 0, 1 },
		{ "SUBJECT", S_HEADER, 0, 1 },
		{ "HEADER", S_HEADER, 0, 2 },
		{ "UID", S_UID, 0, 1 },
		{ "MODSEQ", S_MODSEQ, 0, 1 },
		{ "NOT", S_NOT, 0, 0 },
		{ "OR", S_OR, 0, 0 },
	};
	struct imap_arg *arg;
	const char *value;
	char *end;
	size_t i;

	if (*pos >= count || depth > IMAP_PARSE_DEPTH)
		return -1;
	arg = &args[(*pos)++];
	if (arg->type == IMAP_ARG_LIST)
		return search_parse_list(arg->list, arg->count, k, depth);
	if (arg->type != IMAP_ARG_ATOM)
		return -1;
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strcasecmp(arg->str, keys[i].name) == 0)
			break;
	}
	if (i == sizeof(keys) / sizeof(keys[0])) {
		/* "$" is the saved result, filled in by search_resolve. */
		k->op = imap_searchres_is(arg->str) ? S_SAVED : S_SEQ;
		return k->op == S_SAVED ? 0 :
		    imap_seqset_parse(arg->str, &k->set);
	}
	k->op = keys[i].op;
	k->flag = keys[i].flag;
	/* RFC 7162 3.1.5: MODSEQ ["entry" priv|shared|all] n; no entries
	 * of our own, so the entry is only checked for shape. */
	if (k->op == S_MODSEQ && *pos + 2 < count &&
	    args[*pos].type == IMAP_ARG_STRING) {
		if (args[*pos + 1].type != IMAP_ARG_ATOM ||
		    (strcasecmp(args[*pos + 1].str, "priv") != 0 &&
		    strcasecmp(args[*pos + 1].str, "shared") != 0 &&
		    strcasecmp(args[*pos + 1].str, "all") != 0))
			return -1;
		*pos += 2;
	}
	if (k->op == S_NOT || k->op == S_OR) {
		k->count = k->op == S_NOT ? 1 : 2;
		k->sub = xcalloc(k->count, sizeof(*k->sub));
		if (search_parse_key(args, count, pos, &k->sub[0],
		    depth + 1) < 0)
			return -1;
		return k->op == S_OR ? search_parse_key(args, count, pos,
		    &k->sub[1], depth + 1) : 0;
	}
	if (keys[i].args == 2) {
		if (*pos >= count ||
		    (value = search_string(&args[*pos])) == NULL)
			return -1;
		k->field = xstrdup(value);
		(*pos)++;
	} else if (k->op == S_HEADER) {
		k->field = xstrdup(keys[i].name);
	}
	if (keys[i].args == 0)
		return 0;
	if (*pos >= count || (value = search_string(&args[*pos])) == NULL)
		return -1;
	(*pos)++;
	switch (k->op) {
	case S_LARGER:
	case S_SMALLER:
		if (*value < '0' || *value > '9')
			return -1;
		k->number = strtoll(value, &end, 10);
		return *end == '\0' && k->number >= 0 ? 0 : -1;
	case S_BEFORE:
	case S_ON:
	case S_SINCE:
	case S_SENTBEFORE:
	case S_SENTON:
	case S_SENTSINCE:
		k->number = search_parse_date(value);
		return k->number < 0 ? -1 : 0;
	case S_UID:
		if (imap_searchres_is(value)) {
			k->op = S_SAVED;	/* "UID $" is "$" */
			return 0;
		}
		return imap_seqset_parse(value, &k->set);
	case S_MODSEQ:
		if (imap_parse_modseq(&args[*pos - 1], &k->modseq) < 0)
			return -1;
		return 0;
	default:
		k->value = xstrdup(value);
		mime_decode_fold(k->value, strlen(k->value));
		return 0;
	}
}

static int
search_map(struct search_msg *sm)
{
	struct stat st;
	int fd;

	if (sm->mapped != 0)
		return sm->mapped;
	sm->mapped = -1;
	fd = imap_msg_open(sm->box, sm->msg);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) == 0) {
		sm->mtime = st.st_mtime;
		sm->len = (size_t) st.st_size;
		sm->data = st.st_size > 0 ? mmap(NULL, sm->len, PROT_READ,
		    MAP_PRIVATE, fd, 0) : NULL;
		if (sm->data != MAP_FAILED) {
			sm->mapped = 1;
			sm->mime = mime_parse(sm->data != NULL ? sm->data : "",
			    sm->len);
		} else {
			sm->data = NULL;
		}
	}
	close(fd);
	return sm->mapped;
}

/* Fold out in place and look for the (folded) needle. */
static int
search_contains(struct buf *out, const char *needle)
{
	mime_decode_fold(buf_data(out), buf_len(out));
	return *needle == '\0' || memmem(buf_cstr(out), buf_len(out), needle,
	    strlen(needle)) != NULL;
}

/*
 * Fields of the header at hdr/len named name (NULL: every field, as
 * "name: value"), decoded; 1 when one contains needle.
 */
static int
search_header(struct search_msg *sm, const char *hdr, size_t len,
	const char *name, const char *needle)
{
	struct mime_field f;
	size_t pos = 0;

	while (mime_header_next(hdr, len, &pos, &f) == 1) {
		if (name != NULL && (f.name_len != strlen(name) ||
		    strncasecmp(f.name, name, f.name_len) != 0))
			continue;
		buf_reset(sm->scratch);
		buf_reset(sm->text);
		(void) mime_field_unfold(&f, sm->scratch);
		if (name == NULL) {
			(void) buf_append(sm->text, f.name, f.name_len);
			(void) buf_append_str(sm->text, ": ");
		}
		(void) mime_decode_header(buf_cstr(sm->scratch),
		    buf_len(sm->scratch), sm->text);
		if (search_contains(sm->text, needle))
			return 1;
	}
	return 0;
}

/* The decoded text/ * parts under p; 1 when one contains needle. */
static int
search_body(struct search_msg *sm, const struct mime_part *p,
	const char *needle)
{
	const char *data = sm->data;
	size_t i;

	if (mime_part_is_message(p) && mime_part_child_count(p) == 1) {
		p = mime_part_child(p, 0);
		if (search_header(sm, data + mime_part_header_offset(p),
		    mime_part_header_len(p), NULL, needle))
			return 1;
	}
	if (mime_part_child_count(p) > 0) {
		for (i = 0; i < mime_part_child_count(p); i++) {
			if (search_body(sm, mime_part_child(p, i), needle))
				return 1;
		}
		return 0;
	}
	if (strcmp(mime_part_type(p), "text") != 0)
		return 0;
	buf_reset(sm->text);
	(void) mime_decode_body(data + mime_part_body_offset(p),
	    mime_part_body_len(p), mime_part_encoding(p),
	    mime_params_get(mime_part_params(p), "charset"), sm->text);
	return search_contains(sm->text, needle);
}

static long long
search_day(time_t t)
{
	struct tm tm;

	localtime_r(&t, &tm);
	return (long long) (tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 +
	    tm.tm_mday;
}

/* The Date: header's day as yyyymmdd; -1 when absent or unreadable. */
static long long
search_sent_day(struct search_msg *sm)
{
	static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	char mon[4], *p;
	const char *m;
	int day, year;

	if (search_map(sm) < 0 || mime_part_header_get(sm->mime,
	    mime_message_root(sm->mime), "Date", sm->scratch) != 1)
		return -1;
	p = buf_data(sm->scratch);
	if (strchr(p, ',') != NULL)
		p = strchr(p, ',') + 1;
	if (sscanf(p, "%d %3s %d", &day, mon, &year) != 3)
		return -1;
	for (size_t i = 0; i < 3 && mon[i] != '\0'; i++)
		mon[i] = (char) (mon[i] | 0x20);
	m = strstr(months, mon);
	if (m == NULL || (m - months) % 3 != 0 || strlen(mon) != 3)
		return -1;
	if (year < 100)
		year += year < 50 ? 2000 : 1900;
	return (long long) year * 10000 + ((m - months) / 3 + 1) * 100 + day;
}

static int
search_test(struct search_msg *sm, const struct search_key *k)
{
	const struct mime_part *root;
	struct stat st;
	long long v;
	size_t i;

	switch (k->op) {
	case S_ALL:
		return 1;
	case S_NONE:
		return 0;
	case S_KEYWORD:
	case S_UNKEYWORD:
		/* A name the folder does not know is on no message. */
		i = (size_t) imap_keywords_find(&sm->box->kw, k->value);
		v = i < IMAP_KEYWORD_MAX &&
		    (sm->msg->keywords & ((uint32_t) 1 << i)) != 0;
		return k->op == S_KEYWORD ? v != 0 : v == 0;
	case S_FLAG_SET:
		return (sm->msg->flags & k->flag) != 0;
	case S_FLAG_CLEAR:
		return (sm->msg->flags & k->flag) == 0;
	case S_NEW:
		return (sm->msg->flags & IMAP_FLAG_RECENT) &&
		    !(sm->msg->flags & IMAP_FLAG_SEEN);
	case S_SEQ:
		return imap_seqset_contains(&k->set, (uint32_t) sm->index + 1);
	case S_UID:
		return imap_seqset_contains(&k->set, sm->msg->uid);
	case S_SAVED:		/* made S_UID by search_resolve */
		return 0;
	case S_MODSEQ:
		return sm->msg->modseq >= k->modseq;
	case S_NOT:
		return !search_test(sm, &k->sub[0]);
	case S_OR:
		return search_test(sm, &k->sub[0]) ||
		    search_test(sm, &k->sub[1]);
	case S_AND:
		for (i = 0; i < k->count; i++) {
			if (!search_test(sm, &k->sub[i]))
				return 0;
		}
		return 1;
	case S_LARGER:
	case S_SMALLER:
		v = imap_name_size(sm->msg->name, 'W');
		if (v < 0 && search_map(sm) > 0)
			v = (long long) mime_message_size_crlf(sm->mime);
		return k->op == S_LARGER ? v > k->number : v >= 0 &&
		    v < k->number;
	case S_BEFORE:
	case S_ON:
	case S_SINCE:
		if (sm->mapped <= 0 && imap_msg_stat(sm->box, sm->msg,
		    &st) == 0)
			sm->mtime = st.st_mtime;
		v = search_day(sm->mtime);
		return k->op == S_BEFORE ? v < k->number : k->op == S_ON ?
		    v == k->number : v >= k->number;
	case S_SENTBEFORE:
	case S_SENTON:
	case S_SENTSINCE:
		v = search_sent_day(sm);
		if (v < 0)
			return 0;
		return k->op == S_SENTBEFORE ? v < k->number :
		    k->op == S_SENTON ? v == k->number : v >= k->number;
	case S_HEADER:
		if (search_map(sm) < 0 || sm->data == NULL)
			return 0;
		root = mime_message_root(sm->mime);
		return search_header(sm, (const char *) sm->data +
		    mime_part_header_offset(root), mime_part_header_len(root),
		    k->field, k->value);
	case S_BODY:
	case S_TEXT:
		if (search_map(sm) < 0 || sm->data == NULL)
			return 0;
		root = mime_message_root(sm->mime);
		if (k->op == S_TEXT && search_header(sm, (const char *)
		    sm->data + mime_part_header_offset(root),
		    mime_part_header_len(root), NULL, k->value))
			return 1;
		return search_body(sm, root, k->value);
	}
	return 0;
}

static void
search_resolve(const struct imap_session *sess, struct search_key *k,
	uint32_t max_seq, uint32_t max_uid)
{
	size_t i;

	if (k->op == S_SAVED) {
		/* "$" holds UIDs, in SEARCH and UID SEARCH alike. */
		(void) imap_searchres_copy(sess, &k->set);
		k->op = S_UID;
		return;
	}
	if (k->op == S_SEQ)
		imap_seqset_resolve(&k->set, max_seq);
	else if (k->op == S_UID)
		imap_seqset_resolve(&k->set, max_uid);
	for (i = 0; i < k->count; i++)
		search_resolve(sess, &k->sub[i], max_seq, max_uid);
}

/* Does the key tree use MODSEQ (the response then carries one)? */
static int
search_uses_modseq(const struct search_key *k)
{
	size_t i;

	if (k->op == S_MODSEQ)
		return 1;
	for (i = 0; i < k->count; i++) {
		if (search_uses_modseq(&k->sub[i]))
			return 1;
	}
	return 0;
}

#define ESEARCH_MIN	IMAP_ESEARCH_MIN
#define ESEARCH_MAX	IMAP_ESEARCH_MAX
#define ESEARCH_ALL	IMAP_ESEARCH_ALL
#define ESEARCH_COUNT	IMAP_ESEARCH_COUNT
#define ESEARCH_SAVE	IMAP_ESEARCH_SAVE

/* Does a RETURN list (valid or not) name SAVE? */
static int
search_asks_save(const struct imap_arg *arg)
{
	size_t i;

	if (arg->type != IMAP_ARG_LIST)
		return 0;
	for (i = 0; i < arg->count; i++) {
		if (arg->list[i].type == IMAP_ARG_ATOM &&
		    strcasecmp(arg->list[i].str, "SAVE") == 0)
			return 1;
	}
	return 0;
}

int
imap_search_return_options(const struct imap_arg *arg, unsigned int *opts_r)
{
	static const char *const names[] = {
		"MIN", "MAX", "ALL", "COUNT", "SAVE"
	};
	size_t i, k, n = sizeof(names) / sizeof(names[0]);

	if (arg->type != IMAP_ARG_LIST)
		return -1;
	*opts_r = 0;
	for (i = 0; i < arg->count; i++) {
		for (k = 0; k < n; k++) {
			if (arg->list[i].type == IMAP_ARG_ATOM &&
			    strcasecmp(arg->list[i].str, names[k]) == 0)
				break;
		}
		if (k == n)
			return -1;
		*opts_r |= 1U << k;
	}
	/* RETURN () is ALL; RETURN (SAVE) alone returns nothing. */
	if (arg->count == 0)
		*opts_r = ESEARCH_ALL;
	return 0;
}

/* The result: "* SEARCH n..." or "* ESEARCH (TAG ...) ...". */
static void
search_reply(struct imap_session *sess, const uint32_t *hits, size_t n,
	int esearch, unsigned int opts, uint64_t modseq)
{
	struct buf *set;
	size_t i;

	if (!esearch) {
		imap_printf(sess, "* SEARCH");
		for (i = 0; i < n; i++)
			imap_printf(sess, " %u", (unsigned) hits[i]);
		if (modseq > 0)
			imap_printf(sess, " (MODSEQ %llu)",
			    (unsigned long long) modseq);
		imap_printf(sess, "\r\n");
		return;
	}
	imap_printf(sess, "* ESEARCH (TAG ");
	imap_write_string(sess, sess->tag, strlen(sess->tag));
	imap_printf(sess, ")%s", sess->uid_cmd ? " UID" : "");
	if ((opts & ESEARCH_MIN) && n > 0)
		imap_printf(sess, " MIN %u", (unsigned) hits[0]);
	if ((opts & ESEARCH_MAX) && n > 0)
		imap_printf(sess, " MAX %u", (unsigned) hits[n - 1]);
	if (opts & ESEARCH_COUNT)
		imap_printf(sess, " COUNT %zu", n);
	if ((opts & ESEARCH_ALL) && n > 0) {
		set = buf_new(xalloc_add(xalloc_mul(n, 22), 64));
		(void) imap_uid_ranges(set, hits, n);
		imap_printf(sess, " ALL ");
		imap_write(sess, buf_cstr(set), buf_len(set));
		buf_free(&set);
	}
	if (modseq > 0)
		imap_printf(sess, " MODSEQ %llu", (unsigned long long) modseq);
	imap_printf(sess, "\r\n");
}

int
imap_search_charset(struct imap_session *sess, const struct imap_arg *arg)
{
	if (arg->type == IMAP_ARG_LIST ||
	    (strcasecmp(arg->str, "UTF-8") != 0 &&
	    strcasecmp(arg->str, "US-ASCII") != 0)) {
		imap_tagged(sess, "NO", "[BADCHARSET (UTF-8 US-ASCII)] "
		    "Unsupported charset");
		return -1;
	}
	return 0;
}

int
imap_search_run(struct imap_session *sess, struct imap_arg *args,
	size_t count, uint32_t **idx_r, size_t *n_r, uint64_t *modseq_r)
{
	struct imap_mailbox *box = sess->box;
	struct search_key key;
	struct search_msg sm;
	uint32_t max_uid, *hits;
	uint64_t modseq = 0;
	size_t i, n = 0;
	int uses_modseq;

	memset(&key, 0, sizeof(key));
	if (search_parse_list(args, count, &key, 0) < 0) {
		search_key_free(&key);
		imap_tagged(sess, "BAD", "Invalid search criteria");
		return -1;
	}
	uses_modseq = search_uses_modseq(&key);
	if (uses_modseq)
		sess->condstore = 1;	/* an enabling command */
	max_uid = box->count > 0 ? box->msgs[box->count - 1].uid : 0;
	/* '*' is the last message (or UID); resolve every set in the tree. */
	search_resolve(sess, &key, (uint32_t) box->count, max_uid);
	hits = xcalloc(box->count + 1, sizeof(*hits));
	memset(&sm, 0, sizeof(sm));
	sm.box = box;
	sm.scratch = buf_new(BUF_DEFAULT_CAP);
	sm.text = buf_new(SEARCH_TEXT_CAP);
	for (i = 0; i < box->count; i++) {
		imap_yield(i);
		sm.msg = &box->msgs[i];
		sm.index = i;
		sm.mapped = 0;
		sm.mtime = 0;
		if (search_test(&sm, &key)) {
			hits[n++] = (uint32_t) i;
			if (box->msgs[i].modseq > modseq)
				modseq = box->msgs[i].modseq;
		}
		mime_free(&sm.mime);
		if (sm.data != NULL)
			munmap(sm.data, sm.len);
		sm.data = NULL;
	}
	buf_free(&sm.scratch);
	buf_free(&sm.text);
	search_key_free(&key);
	/* RFC 7162 3.1.5: the highest MODSEQ of what MODSEQ matched. */
	*modseq_r = uses_modseq ? modseq : 0;
	*idx_r = hits;
	*n_r = n;
	return 0;
}

void
imap_cmd_search(struct imap_session *sess, struct imap_arg *args,
	size_t count)
{
	struct imap_mailbox *box = sess->box;
	uint32_t *hits;
	uint64_t modseq;
	size_t first = 0, i, n;
	/* RFC 9051 6.4.4: IMAP4rev2 answers ESEARCH, RETURN () by default. */
	unsigned int opts = sess->rev2 ? ESEARCH_ALL : 0;
	int esearch = sess->rev2;

	if (count >= 2 && args[0].type == IMAP_ARG_ATOM &&
	    strcasecmp(args[0].str, "RETURN") == 0) {
		if (imap_search_return_options(&args[1], &opts) < 0) {
			/* RFC 5182 2.1: a failed SAVE leaves "$" empty. */
			if (search_asks_save(&args[1]))
				imap_searchres_save(sess, NULL, 0, 0);
			imap_tagged(sess, "BAD", "Invalid RETURN options");
			return;
		}
		esearch = 1;
		first = 2;
	}
	if (count >= first + 2 && args[first].type == IMAP_ARG_ATOM &&
	    strcasecmp(args[first].str, "CHARSET") == 0) {
		if (imap_search_charset(sess, &args[first + 1]) < 0) {
			if (opts & ESEARCH_SAVE)
				imap_searchres_save(sess, NULL, 0, 0);
			return;
		}
		first += 2;
	}
	if (imap_search_run(sess, args + first, count - first, &hits, &n,
	    &modseq) < 0) {
		if (opts & ESEARCH_SAVE)
			imap_searchres_save(sess, NULL, 0, 0);
		return;
	}
	if (opts & ESEARCH_SAVE)
		imap_searchres_save(sess, hits, n, opts);
	for (i = 0; i < n; i++)
		hits[i] = sess->uid_cmd ? box->msgs[hits[i]].uid : hits[i] + 1;
	/* RFC 5182 2.1: RETURN (SAVE) alone sends no ESEARCH. */
	if (opts != ESEARCH_SAVE)
		search_reply(sess, hits, n, esearch, opts, modseq);
	free(hits);
	imap_tagged(sess, "OK", "Search completed%s",
	    (opts & ESEARCH_SAVE) ? ", result saved" : "");
}

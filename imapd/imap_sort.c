/* imap_sort: SORT and UID SORT (RFC 5256 3), ESORT (RFC 5267 3). */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "imap.h"
#include "imap_mailbox.h"
#include "imap_sort.h"
#include "mime.h"
#include "mime_decode.h"
#include "xalloc.h"

/* ---- the base subject (RFC 5256 2.1) ------------------------------------ */

static int
sort_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* subj-blob = "[" *BLOBCHAR "]" *WSP at s; its length, 0 when none. */
static size_t
sort_blob(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || s[0] != '[')
		return 0;
	for (i = 1; i < len && s[i] != '[' && s[i] != ']'; i++)
		;
	if (i == len || s[i] != ']')
		return 0;
	for (i++; i < len && s[i] == ' '; i++)
		;
	return i;
}

/* *subj-blob subj-refwd at s: its length, 0 when none. */
static size_t
sort_refwd(const char *s, size_t len)
{
	size_t i = 0, b;

	while ((b = sort_blob(s + i, len - i)) > 0)
		i += b;
	if (len - i >= 2 && strncasecmp(s + i, "re", 2) == 0)
		i += 2;
	else if (len - i >= 3 && strncasecmp(s + i, "fwd", 3) == 0)
		i += 3;
	else if (len - i >= 2 && strncasecmp(s + i, "fw", 2) == 0)
		i += 2;
	else
		return 0;
	while (i < len && s[i] == ' ')
		i++;
	i += sort_blob(s + i, len - i);
	return i < len && s[i] == ':' ? i + 1 : 0;
}

char *
imap_base_subject(const char *raw, size_t len, int *reply_r)
{
	struct buf *dec = buf_new(IMAP_SORT_FIELD_CAP);
	char *s, *out;
	size_t n = 0, i, b, start = 0;
	int changed;

	*reply_r = 0;
	(void) mime_decode_header(raw, len, dec);
	s = buf_data(dec);
	/* (1) every run of blanks becomes one space. */
	for (i = 0; i < buf_len(dec); i++) {
		if (sort_wsp(s[i])) {
			if (n > 0 && s[n - 1] == ' ')
				continue;
			s[n++] = ' ';
		} else {
			s[n++] = s[i];
		}
	}
	for (;;) {
		/* (2) trailing subj-trailer: "(fwd)" and blanks. */
		for (;;) {
			if (n > start && s[n - 1] == ' ') {
				n--;
			} else if (n - start >= 5 &&
			    strncasecmp(s + n - 5, "(fwd)", 5) == 0) {
				n -= 5;
				*reply_r = 1;
			} else {
				break;
			}
		}
		/* (3) to (5): subj-leader and subj-blob prefixes. */
		do {
			changed = 0;
			if (start < n && s[start] == ' ') {
				start++;
				changed = 1;
			} else if ((b = sort_refwd(s + start, n - start)) > 0) {
				start += b;
				*reply_r = 1;
				changed = 1;
			} else if ((b = sort_blob(s + start, n - start)) > 0) {
				/* Only when a subj-base is left after it. */
				for (i = start + b; i < n && s[i] == ' '; i++)
					;
				if (i < n) {
					start += b;
					changed = 1;
				}
			}
		} while (changed);
		/* (6) "[fwd:" ... "]" around it: strip and go again. */
		if (n - start >= 6 && strncasecmp(s + start, "[fwd:", 5) == 0 &&
		    s[n - 1] == ']') {
			start += 5;
			n--;
			*reply_r = 1;
			continue;
		}
		break;
	}
	out = xmalloc(n - start + 1);
	memcpy(out, s + start, n - start);
	out[n - start] = '\0';
	mime_decode_fold(out, n - start);
	buf_free(&dec);
	return out;
}

/* ---- the sent date (RFC 5322 3.3, 4.3) ---------------------------------- */

static int
sort_zone_name(const char *z, size_t len, int *minutes_r)
{
	static const struct {
		const char *name;
		int minutes;
	} zones[] = {
		{ "UT", 0 }, { "UTC", 0 }, { "GMT", 0 }, { "Z", 0 },
		{ "EST", -300 }, { "EDT", -240 }, { "CST", -360 },
		{ "CDT", -300 }, { "MST", -420 }, { "MDT", -360 },
		{ "PST", -480 }, { "PDT", -420 },
	};
	size_t i;

	for (i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		if (strlen(zones[i].name) == len &&
		    strncasecmp(z, zones[i].name, len) == 0) {
			*minutes_r = zones[i].minutes;
			return 0;
		}
	}
	/* Military zones are "0000" per RFC 5322 4.3; anything else too. */
	*minutes_r = 0;
	return 0;
}

int
imap_parse_sent_date(const char *text, size_t len, time_t *t_r)
{
	static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	char clean[128], mon[4];
	const char *tok[8], *m;
	size_t toklen[8], ntok = 0, n = 0, i, t;
	int depth = 0, day, year, hour, min, sec = 0, zone = 0, sign;
	struct tm tm;

	/* Comments out, ',' as a blank; a date is short. */
	for (i = 0; i < len && n < sizeof(clean) - 1; i++) {
		if (text[i] == '(')
			depth++;
		else if (text[i] == ')' && depth > 0)
			depth--;
		else if (depth == 0)
			clean[n++] = text[i] == ',' || sort_wsp(text[i]) ? ' ' :
			    text[i];
	}
	clean[n] = '\0';
	for (i = 0; i < n && ntok < 8;) {
		while (i < n && clean[i] == ' ')
			i++;
		if (i == n)
			break;
		tok[ntok] = clean + i;
		while (i < n && clean[i] != ' ')
			i++;
		toklen[ntok] = (size_t) (clean + i - tok[ntok]);
		ntok++;
	}
	t = 0;
	if (ntok > 0 && !isdigit((unsigned char) tok[0][0]))
		t = 1;			/* day-of-week */
	if (ntok < t + 4 || toklen[t] > 2 || toklen[t + 1] != 3 ||
	    toklen[t + 2] < 2 || toklen[t + 2] > 4)
		return -1;
	day = atoi(tok[t]);
	for (i = 0; i < 3; i++)
		mon[i] = (char) tolower((unsigned char) tok[t + 1][i]);
	mon[3] = '\0';
	m = strstr(months, mon);
	for (i = 0; i < toklen[t + 2]; i++) {
		if (!isdigit((unsigned char) tok[t + 2][i]))
			return -1;
	}
	year = atoi(tok[t + 2]);
	if (toklen[t + 2] == 2)
		year += year < 50 ? 2000 : 1900;
	else if (toklen[t + 2] == 3)
		year += 1900;
	if (m == NULL || (m - months) % 3 != 0 || day < 1 || day > 31 ||
	    year < 1900 || year > 9999)
		return -1;
	/* hh:mm[:ss] */
	if (sscanf(tok[t + 3], "%2d:%2d:%2d", &hour, &min, &sec) < 2 ||
	    hour < 0 || hour > 23 || min < 0 || min > 59 || sec < 0 ||
	    sec > 60)
		return -1;
	if (ntok > t + 4) {
		const char *z = tok[t + 4];

		if ((z[0] == '+' || z[0] == '-') && toklen[t + 4] == 5 &&
		    strspn(z + 1, "0123456789") >= 4) {
			sign = z[0] == '-' ? -1 : 1;
			zone = sign * (((z[1] - '0') * 10 + (z[2] - '0')) * 60 +
			    (z[3] - '0') * 10 + (z[4] - '0'));
		} else {
			(void) sort_zone_name(z, toklen[t + 4], &zone);
		}
	}
	memset(&tm, 0, sizeof(tm));
	tm.tm_mday = day;
	tm.tm_mon = (int) (m - months) / 3;
	tm.tm_year = year - 1900;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	*t_r = timegm(&tm) - (time_t) zone * 60;
	return 0;
}

/* ---- the first address's mailbox ---------------------------------------- */

/*
 * The local part (addr-mailbox) of the first address in an address
 * list: comments and display names skipped, a group's name too; ""
 * when there is none.  A new folded string.
 */
static char *
sort_first_mailbox(const char *v, size_t len)
{
	struct buf *local = buf_new(IMAP_SORT_FIELD_CAP);
	size_t i, angle = SIZE_MAX;
	int depth = 0, quoted = 0, in_angle = 0, done = 0;
	char *out;

	/* Is there a "<" in the first address?  Then only inside it. */
	for (i = 0; i < len; i++) {
		if (quoted) {
			if (v[i] == '\\')
				i++;
			else if (v[i] == '"')
				quoted = 0;
		} else if (depth > 0) {
			if (v[i] == '\\')
				i++;
			else if (v[i] == '(')
				depth++;
			else if (v[i] == ')')
				depth--;
		} else if (v[i] == '"') {
			quoted = 1;
		} else if (v[i] == '(') {
			depth = 1;
		} else if (v[i] == '<') {
			angle = i;
			break;
		} else if (v[i] == ',' || v[i] == ';') {
			break;
		} else if (v[i] == ':') {
			/* A group's name ends; its first member follows. */
			buf_reset(local);
		}
	}
	i = angle != SIZE_MAX ? angle + 1 : 0;
	in_angle = angle != SIZE_MAX;
	/* An obsolete route "@a,@b:" before the mailbox. */
	if (in_angle && i < len && v[i] == '@') {
		while (i < len && v[i] != ':' && v[i] != '>')
			i++;
		if (i < len && v[i] == ':')
			i++;
	}
	depth = 0;
	quoted = 0;
	for (; i < len && !done; i++) {
		char c = v[i];

		if (quoted) {
			if (c == '\\' && i + 1 < len)
				c = v[++i];
			else if (c == '"') {
				quoted = 0;
				continue;
			}
			(void) buf_append_char(local, c);
		} else if (depth > 0) {
			if (c == '\\')
				i++;
			else if (c == '(')
				depth++;
			else if (c == ')')
				depth--;
		} else if (c == '"') {
			quoted = 1;
		} else if (c == '(') {
			depth = 1;
		} else if (c == '@' || c == '>' || c == ',' || c == ';') {
			done = 1;
		} else if (c == ':' && !in_angle) {
			buf_reset(local);	/* a group's name */
		} else if (!sort_wsp(c)) {
			(void) buf_append_char(local, c);
		}
	}
	out = buf_strdup(local);
	mime_decode_fold(out, strlen(out));
	buf_free(&local);
	return out;
}

/* ---- message ids ------------------------------------------------------- */

/* The "<...>" ids in v, the last max of them. */
static void
sort_msgids(const char *v, size_t len, size_t max, char ***ids_r,
	size_t *n_r)
{
	char **ids = NULL;
	size_t n = 0, i, j;

	for (i = 0; i < len; i++) {
		if (v[i] != '<')
			continue;
		for (j = i + 1; j < len && v[j] != '>' && v[j] != '<' &&
		    !sort_wsp(v[j]); j++)
			;
		if (j == len || v[j] != '>' || j == i + 1)
			continue;
		if (n == max) {
			free(ids[0]);
			memmove(ids, ids + 1, (n - 1) * sizeof(*ids));
			n--;
		}
		if (ids == NULL)
			ids = xcalloc(max, sizeof(*ids));
		ids[n++] = xstrndup(v + i, j - i + 1);
		i = j;
	}
	*ids_r = ids;
	*n_r = n;
}

/* ---- collecting ---------------------------------------------------------- */

static int
sort_field_is(const struct mime_field *f, const char *name)
{
	return f->name_len == strlen(name) &&
	    strncasecmp(f->name, name, f->name_len) == 0;
}

static void
sort_read(struct imap_mailbox *box, struct imap_msg *msg,
	struct imap_sort_msg *sm, unsigned int need, struct buf *value)
{
	struct mime_field f;
	struct stat st;
	const char *data;
	char **irt = NULL;
	size_t pos = 0, nirt = 0, i;
	int fd, have_date = 0, have_refs = 0;
	void *map;

	fd = imap_msg_open(box, msg);
	if (fd < 0)
		return;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return;
	}
	sm->arrival = st.st_mtime;
	sm->sent = st.st_mtime;
	map = st.st_size > 0 ? mmap(NULL, (size_t) st.st_size, PROT_READ,
	    MAP_PRIVATE, fd, 0) : MAP_FAILED;
	close(fd);
	if (map == MAP_FAILED)
		return;
	data = map;
	if (need & IMAP_SORT_NEED_SIZE) {
		sm->size = imap_name_size(msg->name, 'W');
		if (sm->size < 0)
			sm->size = (long long) mime_crlf_size(data,
			    (size_t) st.st_size);
	}
	while (mime_header_next(data, (size_t) st.st_size, &pos, &f) == 1) {
		int which = sort_field_is(&f, "Date") ? 1 :
		    sort_field_is(&f, "Subject") ? 2 :
		    sort_field_is(&f, "From") ? 3 : sort_field_is(&f, "To") ? 4 :
		    sort_field_is(&f, "Cc") ? 5 :
		    sort_field_is(&f, "Message-ID") ? 6 :
		    sort_field_is(&f, "References") ? 7 :
		    sort_field_is(&f, "In-Reply-To") ? 8 : 0;

		if (which == 0)
			continue;
		buf_reset(value);
		(void) mime_field_unfold(&f, value);
		/* The first of each field counts. */
		if (which == 1 && !have_date) {
			have_date = 1;
			if (imap_parse_sent_date(buf_cstr(value),
			    buf_len(value), &sm->sent) < 0)
				sm->sent = sm->arrival;
		} else if (which == 2 && sm->subject == NULL &&
		    (need & IMAP_SORT_NEED_SUBJECT)) {
			sm->subject = imap_base_subject(buf_cstr(value),
			    buf_len(value), &sm->reply);
		} else if (which >= 3 && which <= 5 &&
		    (need & IMAP_SORT_NEED_ADDR)) {
			char **slot = which == 3 ? &sm->from : which == 4 ?
			    &sm->to : &sm->cc;

			if (*slot == NULL)
				*slot = sort_first_mailbox(buf_cstr(value),
				    buf_len(value));
		} else if (which == 6 && sm->msgid == NULL &&
		    (need & IMAP_SORT_NEED_REFS)) {
			char **ids;
			size_t n;

			sort_msgids(buf_cstr(value), buf_len(value), 1, &ids,
			    &n);
			if (n == 1)
				sm->msgid = ids[0];
			free(ids);
		} else if (which == 7 && !have_refs &&
		    (need & IMAP_SORT_NEED_REFS)) {
			have_refs = 1;
			sort_msgids(buf_cstr(value), buf_len(value),
			    IMAP_SORT_REFS_MAX, &sm->refs, &sm->nrefs);
		} else if (which == 8 && irt == NULL &&
		    (need & IMAP_SORT_NEED_REFS)) {
			sort_msgids(buf_cstr(value), buf_len(value),
			    IMAP_SORT_REFS_MAX, &irt, &nirt);
			if (irt == NULL)
				irt = xcalloc(1, sizeof(*irt));
		}
	}
	munmap(map, (size_t) st.st_size);
	/* RFC 5256 4 (1)(A): no References, then In-Reply-To's first id. */
	if (sm->nrefs == 0 && nirt > 0) {
		free(sm->refs);
		sm->refs = xcalloc(1, sizeof(*sm->refs));
		sm->refs[0] = irt[0];
		sm->nrefs = 1;
		irt[0] = NULL;
	}
	for (i = 0; i < nirt; i++)
		free(irt[i]);
	free(irt);
}

struct imap_sort_msg *
imap_sort_collect(struct imap_session *sess, const uint32_t *idx, size_t n,
	unsigned int need)
{
	struct imap_mailbox *box = sess->box;
	struct imap_sort_msg *msgs = xcalloc(n + 1, sizeof(*msgs));
	struct buf *value = buf_new(IMAP_SORT_FIELD_CAP);
	size_t i;

	for (i = 0; i < n; i++) {
		imap_yield(i);
		msgs[i].seq = idx[i] + 1;
		msgs[i].uid = box->msgs[idx[i]].uid;
		sort_read(box, &box->msgs[idx[i]], &msgs[i], need, value);
		if (msgs[i].subject == NULL)
			msgs[i].subject = xstrdup("");
		if (msgs[i].from == NULL)
			msgs[i].from = xstrdup("");
		if (msgs[i].to == NULL)
			msgs[i].to = xstrdup("");
		if (msgs[i].cc == NULL)
			msgs[i].cc = xstrdup("");
	}
	buf_free(&value);
	return msgs;
}

void
imap_sort_msgs_free(struct imap_sort_msg *msgs, size_t n)
{
	size_t i, r;

	for (i = 0; i < n; i++) {
		free(msgs[i].subject);
		free(msgs[i].from);
		free(msgs[i].to);
		free(msgs[i].cc);
		free(msgs[i].msgid);
		for (r = 0; r < msgs[i].nrefs; r++)
			free(msgs[i].refs[r]);
		free(msgs[i].refs);
	}
	free(msgs);
}

int
imap_sort_cmp_sent(const struct imap_sort_msg *a,
	const struct imap_sort_msg *b)
{
	if (a->sent != b->sent)
		return a->sent < b->sent ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* ---- SORT ------------------------------------------------------------- */

enum sort_key {
	SORT_ARRIVAL, SORT_CC, SORT_DATE, SORT_FROM, SORT_SIZE, SORT_SUBJECT,
	SORT_TO,
};

#define SORT_KEYS_MAX 16

struct sort_spec {
	enum sort_key key[SORT_KEYS_MAX];
	int reverse[SORT_KEYS_MAX];
	size_t count;
};

/* qsort has no context argument; a command runs to its end unshared. */
static const struct sort_spec *sort_current;

static int
sort_cmp_key(const struct imap_sort_msg *a, const struct imap_sort_msg *b,
	enum sort_key key)
{
	switch (key) {
	case SORT_ARRIVAL:
		return a->arrival < b->arrival ? -1 : a->arrival > b->arrival;
	case SORT_DATE:
		return a->sent < b->sent ? -1 : a->sent > b->sent;
	case SORT_SIZE:
		return a->size < b->size ? -1 : a->size > b->size;
	case SORT_SUBJECT:
		return strcmp(a->subject, b->subject);
	case SORT_FROM:
		return strcmp(a->from, b->from);
	case SORT_TO:
		return strcmp(a->to, b->to);
	case SORT_CC:
		return strcmp(a->cc, b->cc);
	}
	return 0;
}

static int
sort_cmp(const void *pa, const void *pb)
{
	const struct imap_sort_msg *a = pa, *b = pb;
	size_t i;
	int c;

	for (i = 0; i < sort_current->count; i++) {
		c = sort_cmp_key(a, b, sort_current->key[i]);
		if (c != 0)
			return sort_current->reverse[i] ? -c : c;
	}
	/* Equal ones keep the mailbox's order, REVERSE or not. */
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* "(REVERSE SUBJECT DATE)"; 0 ok, -1 not a sort program. */
static int
sort_parse_spec(const struct imap_arg *arg, struct sort_spec *spec,
	unsigned int *need_r)
{
	static const struct {
		const char *name;
		enum sort_key key;
		unsigned int need;
	} keys[] = {
		{ "ARRIVAL", SORT_ARRIVAL, 0 },
		{ "CC", SORT_CC, IMAP_SORT_NEED_ADDR },
		{ "DATE", SORT_DATE, 0 },
		{ "FROM", SORT_FROM, IMAP_SORT_NEED_ADDR },
		{ "SIZE", SORT_SIZE, IMAP_SORT_NEED_SIZE },
		{ "SUBJECT", SORT_SUBJECT, IMAP_SORT_NEED_SUBJECT },
		{ "TO", SORT_TO, IMAP_SORT_NEED_ADDR },
	};
	size_t i, k;
	int reverse = 0;

	if (arg->type != IMAP_ARG_LIST || arg->count == 0)
		return -1;
	memset(spec, 0, sizeof(*spec));
	*need_r = 0;
	for (i = 0; i < arg->count; i++) {
		if (arg->list[i].type != IMAP_ARG_ATOM)
			return -1;
		if (strcasecmp(arg->list[i].str, "REVERSE") == 0) {
			if (reverse)
				return -1;
			reverse = 1;
			continue;
		}
		for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			if (strcasecmp(arg->list[i].str, keys[k].name) == 0)
				break;
		}
		if (k == sizeof(keys) / sizeof(keys[0]) ||
		    spec->count == SORT_KEYS_MAX)
			return -1;
		spec->key[spec->count] = keys[k].key;
		spec->reverse[spec->count] = reverse;
		spec->count++;
		*need_r |= keys[k].need;
		reverse = 0;
	}
	return reverse ? -1 : 0;	/* REVERSE must precede a key */
}

/* ESORT ALL: the numbers in sort order, ascending runs as "a:b". */
static void
sort_write_set(struct imap_session *sess, const uint32_t *nums, size_t n)
{
	size_t i = 0, j;

	while (i < n) {
		for (j = i; j + 1 < n && nums[j + 1] == nums[j] + 1; j++)
			;
		imap_printf(sess, "%s%u", i > 0 ? "," : "", (unsigned) nums[i]);
		if (j > i)
			imap_printf(sess, ":%u", (unsigned) nums[j]);
		i = j + 1;
	}
}

void
imap_cmd_sort(struct imap_session *sess, struct imap_arg *args, size_t count)
{
	struct sort_spec spec;
	struct imap_sort_msg *msgs;
	uint32_t *idx, *nums;
	uint64_t modseq;
	size_t n, i, first = 0;
	unsigned int need, opts = 0;
	int esort = 0;

	if (count >= 2 && args[0].type == IMAP_ARG_ATOM &&
	    strcasecmp(args[0].str, "RETURN") == 0) {
		if (imap_search_return_options(&args[1], &opts) < 0 ||
		    (opts & IMAP_ESEARCH_SAVE)) {
			imap_tagged(sess, "BAD", "Invalid RETURN options");
			return;
		}
		esort = 1;
		first = 2;
	}
	if (count < first + 3 ||
	    sort_parse_spec(&args[first], &spec, &need) < 0) {
		imap_tagged(sess, "BAD", "SORT needs (sort keys) charset "
		    "criteria");
		return;
	}
	if (imap_search_charset(sess, &args[first + 1]) < 0)
		return;
	if (imap_search_run(sess, args + first + 2, count - first - 2, &idx,
	    &n, &modseq) < 0)
		return;
	msgs = imap_sort_collect(sess, idx, n, need);
	free(idx);
	sort_current = &spec;
	qsort(msgs, n, sizeof(*msgs), sort_cmp);
	sort_current = NULL;
	nums = xcalloc(n + 1, sizeof(*nums));
	for (i = 0; i < n; i++)
		nums[i] = sess->uid_cmd ? msgs[i].uid : msgs[i].seq;
	imap_sort_msgs_free(msgs, n);
	if (!esort) {
		imap_printf(sess, "* SORT");
		for (i = 0; i < n; i++)
			imap_printf(sess, " %u", (unsigned) nums[i]);
		if (modseq > 0)
			imap_printf(sess, " (MODSEQ %llu)",
			    (unsigned long long) modseq);
	} else {
		/* RFC 5267 3.2: MIN and MAX are the first and last sorted. */
		imap_printf(sess, "* ESEARCH (TAG ");
		imap_write_string(sess, sess->tag, strlen(sess->tag));
		imap_printf(sess, ")%s", sess->uid_cmd ? " UID" : "");
		if ((opts & IMAP_ESEARCH_MIN) && n > 0)
			imap_printf(sess, " MIN %u", (unsigned) nums[0]);
		if ((opts & IMAP_ESEARCH_MAX) && n > 0)
			imap_printf(sess, " MAX %u", (unsigned) nums[n - 1]);
		if (opts & IMAP_ESEARCH_COUNT)
			imap_printf(sess, " COUNT %zu", n);
		if ((opts & IMAP_ESEARCH_ALL) && n > 0) {
			imap_printf(sess, " ALL ");
			sort_write_set(sess, nums, n);
		}
		if (modseq > 0)
			imap_printf(sess, " MODSEQ %llu",
			    (unsigned long long) modseq);
	}
	imap_printf(sess, "\r\n");
	free(nums);
	imap_tagged(sess, "OK", "Sort completed");
}

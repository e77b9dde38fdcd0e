/* imap_parse: IMAP command reading, argument splitting, sequence sets. */
#include "config.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "imap_parse.h"
#include "stream.h"
#include "xalloc.h"

/*
 * Does line end with a literal marker "{N}" or "{N+}"?  1 with the size
 * (LLONG_MAX when it does not fit) and whether it is non-synchronising;
 * *marker_len_r is the marker's length.
 */
static int
imap_literal_marker(const char *text, size_t len, long long *size_r,
	int *nonsync_r, size_t *marker_len_r)
{
	size_t i, digits_end;
	long long n = 0;

	if (len < 3 || text[len - 1] != '}')
		return 0;
	i = len - 1;
	*nonsync_r = 0;
	if (text[i - 1] == '+') {
		*nonsync_r = 1;
		i--;
	}
	digits_end = i;
	while (i > 0 && text[i - 1] >= '0' && text[i - 1] <= '9')
		i--;
	if (i == digits_end || i == 0 || text[i - 1] != '{')
		return 0;
	for (size_t j = i; j < digits_end; j++) {
		if (n > (LLONG_MAX - 9) / 10) {
			n = LLONG_MAX;
			break;
		}
		n = n * 10 + (text[j] - '0');
	}
	*size_r = n;
	*marker_len_r = len - (i - 1);
	return 1;
}

/*
 * Is the command's verb APPEND?  The tag and the verb are atoms, so they
 * are on the command's first line.
 */
static int
imap_verb_is_append(const char *text, size_t len)
{
	const char *sp = memchr(text, ' ', len), *verb;
	size_t rest;

	if (sp == NULL)
		return 0;
	verb = sp + 1;
	rest = len - (size_t) (verb - text);
	return rest >= 6 && strncasecmp(verb, "APPEND", 6) == 0 &&
	    (rest == 6 || verb[6] == ' ');
}

size_t
imap_append_literal_prefix(const char *text, size_t len, int *flags)
{
	static const char utf8[] = "UTF8 (~";
	const size_t ulen = sizeof(utf8) - 1;

	if (len >= ulen && strncasecmp(text + len - ulen, utf8, ulen) == 0 &&
	    (len == ulen || text[len - ulen - 1] == ' ')) {
		*flags |= IMAP_LITERAL_BINARY | IMAP_LITERAL_UTF8;
		return ulen;
	}
	if (len >= 1 && text[len - 1] == '~') {
		*flags |= IMAP_LITERAL_BINARY;
		return 1;
	}
	return 0;
}

/*
 * Is APPEND's literal about to come its message (after the mailbox)?
 * Asked for APPEND's first two literals only: the mailbox may be one.
 */
static int
imap_is_append_message(const char *text, size_t len)
{
	struct imap_arg *args;
	size_t count;
	const char *error;
	int ret;

	/* Tag, verb, mailbox, flags, date: a handful of arguments. */
	if (imap_parse_args(text, len, 64, &args, &count, &error) < 0)
		return 0;
	ret = count >= 3;
	imap_args_free(args, count);
	return ret;
}

enum imap_read_result
imap_read_command(struct stream *s, struct buf *line, struct buf *cmd,
	size_t limit, size_t max_literals, long long append_limit,
	long long *literal_size_r, int *literal_sync_r)
{
	enum stream_status rc;
	long long size;
	size_t marker_len, prefix, room, literals = 0;
	int nonsync, append = -1, flags;

	buf_reset(cmd);
	for (;;) {
		room = limit > buf_len(cmd) ? limit - buf_len(cmd) : 0;
		rc = stream_read_line(s, line, room);
		if (rc == STREAM_TOO_LONG)
			return IMAP_READ_TOO_LONG;
		if (rc != STREAM_OK)
			return IMAP_READ_CLOSED;
		if (buf_append(cmd, buf_cstr(line), buf_len(line)) < 0)
			return IMAP_READ_TOO_LONG;
		/* Only the new line is looked at: linear in the command. */
		if (!imap_literal_marker(buf_cstr(line), buf_len(line), &size,
		    &nonsync, &marker_len))
			return IMAP_READ_OK;
		if (append < 0)
			append = imap_verb_is_append(buf_cstr(cmd),
			    buf_len(cmd));
		flags = nonsync ? 0 : IMAP_LITERAL_SYNC;
		prefix = append ? imap_append_literal_prefix(buf_cstr(cmd),
		    buf_len(cmd) - marker_len, &flags) : 0;
		if (append && literals < 2 &&
		    imap_is_append_message(buf_cstr(cmd),
		    buf_len(cmd) - marker_len - prefix)) {
			buf_truncate(cmd, buf_len(cmd) - marker_len - prefix);
			buf_rtrim(cmd, " ");
			*literal_size_r = size;
			*literal_sync_r = flags;
			(void) append_limit;
			return IMAP_READ_APPEND;
		}
		if (++literals > max_literals)
			return nonsync ? IMAP_READ_BAD_TOO_MANY_LITERALS :
			    IMAP_READ_TOO_MANY_LITERALS;
		room = limit > buf_len(cmd) + 2 ? limit - buf_len(cmd) - 2 : 0;
		if (size < 0 || (unsigned long long) size > room)
			return nonsync ? IMAP_READ_BAD_LITERAL :
			    IMAP_READ_LITERAL_TOO_BIG;
		if (!nonsync) {
			(void) stream_puts(s, "+ OK\r\n");
			if (stream_flush(s) != STREAM_OK)
				return IMAP_READ_CLOSED;
		}
		if (buf_append(cmd, "\r\n", 2) < 0)
			return IMAP_READ_TOO_LONG;
		rc = stream_read_exact(s, cmd, (size_t) size);
		if (rc == STREAM_TOO_LONG)
			return IMAP_READ_BAD_LITERAL;
		if (rc != STREAM_OK)
			return IMAP_READ_CLOSED;
	}
}

static struct imap_arg *
imap_arg_push(struct imap_arg **args, size_t *count, size_t *alloc)
{
	if (*count == *alloc) {
		*alloc = *alloc == 0 ? 8 : *alloc * 2;
		*args = xreallocarray(*args, *alloc, sizeof(**args));
	}
	memset(&(*args)[*count], 0, sizeof(**args));
	return &(*args)[(*count)++];
}

static int
imap_is_atom_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '(' && c != ')' && c != '"' &&
	    c != '{';
}

/*
 * Does the atom start..end name a fetch item with a section ("BODY[",
 * "BODY.PEEK[", "BINARY[", "BINARY.PEEK[", "BINARY.SIZE[")?  Only there
 * do the brackets hold spaces and lists; elsewhere '[' and ']' are
 * plain ATOM-CHAR and ASTRING-CHAR (RFC 3501 9: "CREATE [Gmail]").
 */
static int
imap_is_section_prefix(const char *start, const char *end)
{
	static const char *const items[] = { "BODY", "BODY.PEEK", "BINARY",
	    "BINARY.PEEK", "BINARY.SIZE" };
	size_t len = (size_t) (end - start), i;

	for (i = 0; i < sizeof(items) / sizeof(items[0]); i++) {
		if (strlen(items[i]) == len &&
		    strncasecmp(start, items[i], len) == 0)
			return 1;
	}
	return 0;
}

/* *budget: how many more arguments the command may have. */
static int
imap_parse_list(const char **pp, const char *end, int depth, int closing,
	size_t *budget, struct imap_arg **args_r, size_t *count_r,
	const char **error_r)
{
	struct imap_arg *args = NULL, *arg;
	size_t count = 0, alloc = 0;
	const char *p = *pp, *start;
	struct buf *str;
	long long n;

	for (;;) {
		while (p < end && *p == ' ')
			p++;
		if (p == end) {
			if (closing) {
				*error_r = "Unbalanced parentheses";
				goto fail;
			}
			break;
		}
		if (*p == ')') {
			if (!closing) {
				*error_r = "Unbalanced parentheses";
				goto fail;
			}
			p++;
			break;
		}
		if (*budget == 0) {
			*error_r = "Too many arguments";
			goto fail;
		}
		(*budget)--;
		arg = imap_arg_push(&args, &count, &alloc);
		if (*p == '(') {
			if (depth >= IMAP_PARSE_DEPTH) {
				*error_r = "Lists nested too deeply";
				goto fail;
			}
			p++;
			arg->type = IMAP_ARG_LIST;
			if (imap_parse_list(&p, end, depth + 1, 1, budget,
			    &arg->list, &arg->count, error_r) < 0)
				goto fail;
		} else if (*p == '"') {
			str = buf_new((size_t) (end - p) + 1);
			for (p++; p < end && *p != '"'; p++) {
				if (*p == '\\') {
					if (p + 1 == end || (p[1] != '"' &&
					    p[1] != '\\'))
						break;
					p++;
				}
				if (*p == '\r' || *p == '\n' || *p == '\0')
					break;
				(void) buf_append_char(str, *p);
			}
			if (p == end || *p != '"') {
				buf_free(&str);
				*error_r = "Bad quoted string";
				goto fail;
			}
			p++;
			arg->type = IMAP_ARG_STRING;
			arg->len = buf_len(str);
			arg->str = buf_strdup(str);
			buf_free(&str);
		} else if (*p == '{') {
			n = 0;
			for (p++; p < end && *p >= '0' && *p <= '9'; p++) {
				if (n > (long long) (end - p))
					break;
				n = n * 10 + (*p - '0');
			}
			if (p < end && *p == '+')
				p++;
			if (end - p < 3 || p[0] != '}' || p[1] != '\r' ||
			    p[2] != '\n' || n > end - p - 3) {
				*error_r = "Bad literal";
				goto fail;
			}
			p += 3;
			arg->type = IMAP_ARG_STRING;
			arg->literal = 1;
			arg->len = (size_t) n;
			arg->str = xmemdup(p, (size_t) n);
			p += n;
		} else {
			start = p;
			while (p < end && imap_is_atom_char((unsigned char) *p)) {
				if (*p++ != '[' ||
				    !imap_is_section_prefix(start, p - 1))
					continue;
				/*
				 * A fetch section may hold spaces and lists,
				 * never a NUL: the atom's copy would end
				 * there, shorter than its len.
				 */
				while (p < end && *p != ']' && *p != '\r' &&
				    *p != '\n' && *p != '\0')
					p++;
				if (p == end || *p != ']') {
					*error_r = "Unbalanced brackets";
					goto fail;
				}
				p++;
			}
			if (p == start) {
				*error_r = "Bad character";
				goto fail;
			}
			arg->type = IMAP_ARG_ATOM;
			arg->len = (size_t) (p - start);
			arg->str = xstrndup(start, arg->len);
		}
		if (p < end && *p != ' ' && *p != ')') {
			*error_r = "Missing space between arguments";
			goto fail;
		}
	}
	*pp = p;
	*args_r = args;
	*count_r = count;
	return 0;
fail:
	imap_args_free(args, count);
	return -1;
}

int
imap_parse_args(const char *text, size_t len, size_t max_args,
	struct imap_arg **args_r, size_t *count_r, const char **error_r)
{
	const char *p = text;
	size_t budget = max_args;

	*args_r = NULL;
	*count_r = 0;
	return imap_parse_list(&p, text + len, 0, 0, &budget, args_r,
	    count_r, error_r);
}

void
imap_args_free(struct imap_arg *args, size_t count)
{
	size_t i;

	if (args == NULL)
		return;
	for (i = 0; i < count; i++) {
		free(args[i].str);
		imap_args_free(args[i].list, args[i].count);
	}
	free(args);
}

static int
imap_seq_number(const char **pp, uint32_t *n_r)
{
	const char *p = *pp;
	unsigned long long n = 0;

	if (*p == '*') {
		*n_r = UINT32_MAX;
		*pp = p + 1;
		return 0;
	}
	if (*p < '1' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		n = n * 10 + (unsigned long long) (*p - '0');
		if (n > UINT32_MAX)
			return -1;
	}
	*n_r = (uint32_t) n;
	*pp = p;
	return 0;
}

int
imap_seqset_parse(const char *text, struct imap_seqset *set_r)
{
	const char *p = text;
	size_t alloc = 0;
	uint32_t low, high;

	set_r->ranges = NULL;
	set_r->count = 0;
	for (;;) {
		if (imap_seq_number(&p, &low) < 0)
			goto fail;
		high = low;
		if (*p == ':') {
			p++;
			if (imap_seq_number(&p, &high) < 0)
				goto fail;
		}
		if (set_r->count == alloc) {
			alloc = alloc == 0 ? 4 : alloc * 2;
			set_r->ranges = xreallocarray(set_r->ranges, alloc,
			    sizeof(*set_r->ranges));
		}
		set_r->ranges[set_r->count][0] = low;
		set_r->ranges[set_r->count][1] = high;
		set_r->count++;
		if (*p == '\0')
			return 0;
		if (*p++ != ',')
			goto fail;
	}
fail:
	imap_seqset_free(set_r);
	return -1;
}

static int
imap_range_cmp(const void *a, const void *b)
{
	const uint32_t *ra = a, *rb = b;

	return ra[0] < rb[0] ? -1 : ra[0] > rb[0];
}

/*
 * After '*' is replaced the ranges are sorted and merged, so a set of r
 * ranges is looked up in log r and selects each message once, however
 * many times the client named it.
 */
void
imap_seqset_resolve(struct imap_seqset *set, uint32_t max)
{
	size_t i, kept = 0;
	uint32_t swap;

	for (i = 0; i < set->count; i++) {
		if (set->ranges[i][0] == UINT32_MAX)
			set->ranges[i][0] = max;
		if (set->ranges[i][1] == UINT32_MAX)
			set->ranges[i][1] = max;
		if (set->ranges[i][0] > set->ranges[i][1]) {
			swap = set->ranges[i][0];
			set->ranges[i][0] = set->ranges[i][1];
			set->ranges[i][1] = swap;
		}
	}
	if (set->count > 1)
		qsort(set->ranges, set->count, sizeof(*set->ranges),
		    imap_range_cmp);
	for (i = 0; i < set->count; i++) {
		/* Overlapping or adjacent (written so high + 1 cannot wrap). */
		if (kept > 0 && (set->ranges[i][0] <= set->ranges[kept - 1][1] ||
		    set->ranges[i][0] - 1 == set->ranges[kept - 1][1])) {
			if (set->ranges[i][1] > set->ranges[kept - 1][1])
				set->ranges[kept - 1][1] = set->ranges[i][1];
			continue;
		}
		set->ranges[kept][0] = set->ranges[i][0];
		set->ranges[kept][1] = set->ranges[i][1];
		kept++;
	}
	set->count = kept;
}

int
imap_seqset_contains(const struct imap_seqset *set, uint32_t n)
{
	size_t low = 0, high = set->count, mid;

	while (low < high) {
		mid = low + (high - low) / 2;
		if (n < set->ranges[mid][0])
			high = mid;
		else if (n > set->ranges[mid][1])
			low = mid + 1;
		else
			return 1;
	}
	return 0;
}

void
imap_seqset_free(struct imap_seqset *set)
{
	free(set->ranges);
	set->ranges = NULL;
	set->count = 0;
}

/* mime_imap_envelope: RFC 5322 address lists and the IMAP ENVELOPE. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "mime.h"
#include "mime_imap.h"
#include "mime_imap_int.h"
#include "xalloc.h"

/* ---- addresses (RFC 5322 3.4, RFC 3501 ENVELOPE) -------------------------- */

enum tok {
	TOK_END,
	TOK_WORD,	/* atom, dot-atom or quoted string (unquoted) */
	TOK_DLITERAL,	/* [...] as written */
	TOK_COMMENT,	/* (...) without the outer parentheses */
	TOK_SPECIAL
};

struct lexer {
	const char *s;
	size_t n, pos;
	struct buf *text;	/* the text of the last token */
	int pushed;		/* a special/END was given back */
	enum tok pushed_tok;
	char pushed_special;
};

static int
is_addr_special(char c)
{
	switch (c) {
	case '(': case ')': case '<': case '>': case '[': case ']':
	case ':': case ';': case '@': case ',': case '"':
		return 1;
	default:
		return 0;
	}
}

static enum tok
lex_next(struct lexer *lx, char *special_r)
{
	const char *s = lx->s;
	size_t n = lx->n, i, start;
	int depth;

	if (lx->pushed) {
		lx->pushed = 0;
		*special_r = lx->pushed_special;
		return lx->pushed_tok;
	}
	buf_reset(lx->text);
	i = lx->pos;
	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' ||
	    s[i] == '\n'))
		i++;
	if (i >= n) {
		lx->pos = i;
		return TOK_END;
	}
	if (s[i] == '"') {
		/* Runs between quoted-pairs, each pair's second octet kept. */
		for (start = ++i; i < n && s[i] != '"'; i++) {
			if (s[i] == '\\' && i + 1 < n) {
				(void) buf_append(lx->text, s + start, i - start);
				start = ++i;
			}
		}
		(void) buf_append(lx->text, s + start, i - start);
		lx->pos = i < n ? i + 1 : n;
		return TOK_WORD;
	}
	if (s[i] == '(') {
		depth = 0;
		start = i + 1;
		for (; i < n; i++) {
			if (s[i] == '\\' && i + 1 < n) {
				i++;
				continue;
			}
			if (s[i] == '(')
				depth++;
			else if (s[i] == ')' && --depth == 0)
				break;
		}
		(void) buf_append(lx->text, s + start,
		    (i < n ? i : n) - start);
		lx->pos = i < n ? i + 1 : n;
		return TOK_COMMENT;
	}
	if (s[i] == '[') {
		start = i;
		while (i < n && s[i] != ']')
			i++;
		i = i < n ? i + 1 : n;
		(void) buf_append(lx->text, s + start, i - start);
		lx->pos = i;
		return TOK_DLITERAL;
	}
	if (is_addr_special(s[i])) {
		*special_r = s[i];
		lx->pos = i + 1;
		return TOK_SPECIAL;
	}
	start = i;
	while (i < n && !is_addr_special(s[i]) && s[i] != ' ' &&
	    s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
		i++;
	(void) buf_append(lx->text, s + start, i - start);
	lx->pos = i;
	return TOK_WORD;
}

static void
lex_push(struct lexer *lx, enum tok t, char special)
{
	lx->pushed = 1;
	lx->pushed_tok = t;
	lx->pushed_special = special;
}

/*
 * The buffers of one ENVELOPE, allocated once for all its fields; each
 * cap holds the longest token of any field (at most the header).
 */
struct env_scratch {
	struct buf *unfold;	/* the unfolded field value */
	struct buf *phrase;
	struct buf *local;
	struct buf *comment;
	struct buf *work;
	struct buf *text;	/* the lexer's token */
};

/* The state of one address list being written. */
struct addr_list {
	struct mime_imap_writer *w;
	size_t count;
	struct buf *phrase;	/* words joined by blanks: display/group name */
	struct buf *local;	/* words joined as they are: local part */
	struct buf *comment;
	struct buf *work;	/* angle-addr contents */
	int have_words;
};

static const char *
nonempty(struct buf *b)
{
	return buf_len(b) > 0 ? buf_cstr(b) : NULL;
}

/* Write one (name adl mailbox host); NULL mailbox/host mean a group mark. */
static void
addr_emit(struct addr_list *al, const char *name, const char *adl,
	const char *mailbox, size_t mailbox_len, const char *host,
	size_t host_len)
{
	struct mime_imap_writer *w = al->w;

	mime_imap_w_str(w, al->count++ == 0 ? "((" : "(");
	mime_imap_w_nstring(w, name);
	mime_imap_w_str(w, " ");
	mime_imap_w_nstring(w, adl);
	mime_imap_w_str(w, " ");
	if (mailbox == NULL)
		mime_imap_w_str(w, "NIL");
	else
		mime_imap_w_string(w, mailbox, mailbox_len);
	mime_imap_w_str(w, " ");
	if (host == NULL)
		mime_imap_w_str(w, "NIL");
	else
		mime_imap_w_string(w, host, host_len);
	mime_imap_w_str(w, ")");
}

/*
 * Write an address with the gaps filled as Dovecot does, so a client never
 * sees a NIL host (which means a group mark).
 */
static void
addr_emit_mailbox(struct addr_list *al, const char *name, const char *adl,
	const char *local, size_t local_len, const char *domain,
	size_t domain_len)
{
	if (local_len == 0) {
		local = "MISSING_MAILBOX";
		local_len = strlen(local);
	}
	if (domain_len == 0) {
		domain = "MISSING_DOMAIN";
		domain_len = strlen(domain);
	}
	addr_emit(al, name, adl, local, local_len, domain, domain_len);
}

static void
addr_reset(struct addr_list *al)
{
	buf_reset(al->phrase);
	buf_reset(al->local);
	buf_reset(al->comment);
	al->have_words = 0;
}

/* Words with no '@' before a separator: a mailbox without a domain. */
static void
addr_flush_words(struct addr_list *al)
{
	if (al->have_words && buf_len(al->local) > 0)
		addr_emit_mailbox(al, nonempty(al->comment), NULL,
		    buf_cstr(al->local), buf_len(al->local), "", 0);
	addr_reset(al);
}

/* After '<': [@route,@route:]local@domain up to '>'. */
static void
addr_angle(struct addr_list *al, struct lexer *lx)
{
	struct buf *b = al->work;
	const char *s, *colon, *at, *local;
	size_t n, route_len = 0;
	char special;
	enum tok t;
	char *route = NULL;

	buf_reset(b);
	while ((t = lex_next(lx, &special)) != TOK_END) {
		if (t == TOK_SPECIAL && special == '>')
			break;
		if (t == TOK_WORD || t == TOK_DLITERAL)
			(void) buf_append(b, buf_cstr(lx->text),
			    buf_len(lx->text));
		else if (t == TOK_SPECIAL)
			(void) buf_append_char(b, special);
	}
	s = buf_cstr(b);
	n = buf_len(b);
	local = s;
	if (n > 0 && s[0] == '@' && (colon = memchr(s, ':', n)) != NULL) {
		route_len = colon - s;
		route = xstrndup(s, route_len);
		local = colon + 1;
	}
	n -= local - s;
	for (at = local + n; at > local && at[-1] != '@'; at--)
		;
	if (at == local)
		addr_emit_mailbox(al, nonempty(al->phrase), route, local, n,
		    "", 0);
	else
		addr_emit_mailbox(al, nonempty(al->phrase), route, local,
		    at - 1 - local, at, local + n - at);
	free(route);
}

/* After local '@': the domain, then the name from a trailing comment. */
static void
addr_spec(struct addr_list *al, struct lexer *lx)
{
	struct buf *domain = al->work;
	char special;
	enum tok t;

	buf_reset(domain);
	while ((t = lex_next(lx, &special)) != TOK_END) {
		if (t == TOK_WORD || t == TOK_DLITERAL)
			(void) buf_append(domain, buf_cstr(lx->text),
			    buf_len(lx->text));
		else if (t == TOK_COMMENT)
			(void) buf_set(al->comment, buf_cstr(lx->text),
			    buf_len(lx->text));
		else
			break;
	}
	lex_push(lx, t, special);
	addr_emit_mailbox(al, nonempty(al->comment), NULL, buf_cstr(al->local),
	    buf_len(al->local), buf_cstr(domain), buf_len(domain));
}

/*
 * Write an address list as RFC 3501 wants it; the number of entries
 * written (group marks included), 0 when NIL was written.  Malformed
 * input gives a best effort, never an error.
 */
static size_t
write_address_list(struct mime_imap_writer *w, struct env_scratch *sc,
	const char *s, size_t n)
{
	struct addr_list al;
	struct lexer lx;
	char special = 0;
	enum tok t;
	int in_group = 0, skipping = 0;

	memset(&al, 0, sizeof(al));
	memset(&lx, 0, sizeof(lx));
	al.w = w;
	al.phrase = sc->phrase;
	al.local = sc->local;
	al.comment = sc->comment;
	al.work = sc->work;
	addr_reset(&al);
	lx.s = s;
	lx.n = n;
	lx.text = sc->text;
	for (;;) {
		t = lex_next(&lx, &special);
		if (t == TOK_END)
			break;
		if (t == TOK_COMMENT) {
			(void) buf_set(al.comment, buf_cstr(lx.text),
			    buf_len(lx.text));
			continue;
		}
		if (t == TOK_WORD || t == TOK_DLITERAL) {
			if (skipping)
				continue;
			if (buf_len(al.phrase) > 0)
				(void) buf_append_char(al.phrase, ' ');
			(void) buf_append(al.phrase, buf_cstr(lx.text),
			    buf_len(lx.text));
			(void) buf_append(al.local, buf_cstr(lx.text),
			    buf_len(lx.text));
			al.have_words = 1;
			continue;
		}
		switch (special) {
		case '<':
			if (!skipping)
				addr_angle(&al, &lx);
			addr_reset(&al);
			skipping = 1;
			break;
		case '@':
			if (!skipping)
				addr_spec(&al, &lx);
			addr_reset(&al);
			skipping = 1;
			break;
		case ':':
			if (in_group || skipping)
				break;
			addr_emit(&al, NULL, NULL, buf_cstr(al.phrase),
			    buf_len(al.phrase), NULL, 0);
			in_group = 1;
			addr_reset(&al);
			break;
		case ';':
			if (!skipping)
				addr_flush_words(&al);
			if (in_group)
				addr_emit(&al, NULL, NULL, NULL, 0, NULL, 0);
			in_group = 0;
			skipping = 0;
			addr_reset(&al);
			break;
		case ',':
			if (!skipping)
				addr_flush_words(&al);
			skipping = 0;
			addr_reset(&al);
			break;
		default:
			break;	/* a stray '>' or ')' */
		}
	}
	if (!skipping)
		addr_flush_words(&al);
	if (in_group)
		addr_emit(&al, NULL, NULL, NULL, 0, NULL, 0);
	mime_imap_w_str(w, al.count > 0 ? ")" : "NIL");
	return al.count;
}

/* ---- ENVELOPE ------------------------------------------------------------- */

enum env_field {
	ENV_DATE, ENV_SUBJECT, ENV_FROM, ENV_SENDER, ENV_REPLY_TO, ENV_TO,
	ENV_CC, ENV_BCC, ENV_IN_REPLY_TO, ENV_MESSAGE_ID, ENV_COUNT
};

static const char *const env_names[ENV_COUNT] = {
	"date", "subject", "from", "sender", "reply-to", "to", "cc", "bcc",
	"in-reply-to", "message-id",
};
static const size_t env_name_len[ENV_COUNT] = { 4, 7, 4, 6, 8, 2, 2, 3, 11,
	10 };

static void
env_string(struct mime_imap_writer *w, struct env_scratch *sc,
	const struct mime_field *f)
{
	if (f->name == NULL) {
		mime_imap_w_str(w, "NIL");
		return;
	}
	buf_reset(sc->unfold);
	(void) mime_field_unfold(f, sc->unfold);
	mime_imap_w_string(w, buf_cstr(sc->unfold), buf_len(sc->unfold));
}

static size_t
env_addresses(struct mime_imap_writer *w, struct env_scratch *sc,
	const struct mime_field *f)
{
	if (f->name == NULL) {
		mime_imap_w_str(w, "NIL");
		return 0;
	}
	buf_reset(sc->unfold);
	(void) mime_field_unfold(f, sc->unfold);
	return write_address_list(w, sc, buf_cstr(sc->unfold),
	    buf_len(sc->unfold));
}

/* The envelope field a header field name is, or ENV_COUNT. */
static int
env_field_index(const struct mime_field *f)
{
	int i;

	for (i = 0; i < ENV_COUNT; i++)
		if (f->name_len == env_name_len[i] &&
		    strncasecmp(f->name, env_names[i], f->name_len) == 0)
			return i;
	return ENV_COUNT;
}

/* The ENVELOPE of the header block data[0..len) (or of its start). */
static void
write_envelope(struct mime_imap_writer *w, const char *header, size_t len)
{
	struct mime_field fields[ENV_COUNT], f;
	struct env_scratch sc;
	size_t pos = 0, mark;
	int i;

	memset(fields, 0, sizeof(fields));
	/* One pass; the first of each field counts. */
	while (mime_header_next(header, len, &pos, &f)) {
		i = env_field_index(&f);
		if (i < ENV_COUNT && fields[i].name == NULL)
			fields[i] = f;
	}
	/* An unfolded value, and every token in it, is at most the header. */
	sc.unfold = buf_new(len + 1);
	sc.phrase = buf_new(2 * len + 2);
	sc.local = buf_new(len + 1);
	sc.comment = buf_new(len + 1);
	sc.work = buf_new(len + 1);
	sc.text = buf_new(len + 1);
	mime_imap_w_str(w, "(");
	for (i = 0; i < ENV_COUNT; i++) {
		if (i > 0)
			mime_imap_w_str(w, " ");
		switch (i) {
		case ENV_DATE:
		case ENV_SUBJECT:
		case ENV_IN_REPLY_TO:
		case ENV_MESSAGE_ID:
			env_string(w, &sc, &fields[i]);
			break;
		case ENV_SENDER:
		case ENV_REPLY_TO:
			/* RFC 3501 7.4.2: absent or empty means from. */
			mark = buf_len(w->out);
			if (env_addresses(w, &sc, &fields[i]) == 0 &&
			    !w->failed) {
				buf_truncate(w->out, mark);
				(void) env_addresses(w, &sc, &fields[ENV_FROM]);
			}
			break;
		default:
			(void) env_addresses(w, &sc, &fields[i]);
			break;
		}
	}
	mime_imap_w_str(w, ")");
	buf_free(&sc.unfold);
	buf_free(&sc.phrase);
	buf_free(&sc.local);
	buf_free(&sc.comment);
	buf_free(&sc.work);
	buf_free(&sc.text);
}

void
mime_imap_write_envelope(struct mime_imap_writer *w,
	const struct mime_message *m, const struct mime_part *p)
{
	write_envelope(w, mime_message_data(m) + mime_part_header_offset(p),
	    mime_part_header_len(p));
}

int
mime_imap_envelope(const struct mime_message *m, const struct mime_part *p,
	struct buf *out)
{
	struct mime_imap_writer w = { out, 0 };

	mime_imap_write_envelope(&w, m, p);
	return w.failed ? -1 : 0;
}

int
mime_imap_envelope_header(const char *data, size_t len, struct buf *out)
{
	struct mime_imap_writer w = { out, 0 };

	write_envelope(&w, data, len);
	return w.failed ? -1 : 0;
}

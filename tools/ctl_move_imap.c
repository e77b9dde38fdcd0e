/*
 * ctl_move_imap: the IMAP client of ispmailctl mailbox move.  One
 * session to the source's imapd: every line is capped by
 * mailbox_move_line_limit, every literal by
 * mailbox_move_message_size_limit, every read and write has the
 * mailbox_move_timeout deadline, and the connect
 * mailbox_move_connect_timeout.  Responses are split into tokens
 * (atoms, strings, literals, parentheses); nothing from the server is
 * printed unescaped (ctl_eprintf escapes).
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "connect.h"
#include "ctl_move.h"
#include "mail_params.h"
#include "stream.h"
#include "tls.h"
#include "xalloc.h"

/* Tokens one response may have (a FETCH of one message has ~30). */
#define MOVE_TOK_MAX 100000
/* Literals one response may have besides the message itself. */
#define MOVE_LITERAL_MAX 64

struct move_imap {
	int fd;
	struct stream *s;
	struct tls_server *tls_ctx;
	struct tls_conn *tls;
	char *host;
	char *caps;		/* " CAP1 CAP2 ... " upper case */
	unsigned int tag;
	struct buf *line;	/* one line as read */
	struct buf *text;	/* the whole response, literals inline */
	struct move_tok *toks;
	size_t tok_alloc;
};

static void
move_imap_set_caps(struct move_imap *c, const char *list)
{
	char *p;

	free(c->caps);
	c->caps = xasprintf(" %s ", list);
	for (p = c->caps; *p != '\0'; p++) {
		if (*p == ']')
			*p = ' ';
		else if (*p >= 'a' && *p <= 'z')
			*p = (char) (*p - 'a' + 'A');
	}
}

int
move_imap_has_cap(const struct move_imap *c, const char *name)
{
	char *want = xasprintf(" %s ", name);
	int found = c->caps != NULL && strcasestr(c->caps, want) != NULL;

	free(want);
	return found;
}

static int
move_imap_io_error(struct move_imap *c, const char *what, char **error_r)
{
	*error_r = xasprintf("%s: %s %s", c->host, what,
	    stream_status(c->s) == STREAM_TIMEOUT ? "timed out" :
	    stream_status(c->s) == STREAM_EOF ? "failed: connection closed" :
	    stream_error(c->s));
	return -1;
}

static int
move_imap_add_tok(struct move_imap *c, size_t *count, enum move_tok_type t,
	const char *s, size_t len, char **error_r)
{
	if (*count >= MOVE_TOK_MAX) {
		*error_r = xasprintf("%s: response with too many parts",
		    c->host);
		return -1;
	}
	if (*count == c->tok_alloc) {
		c->tok_alloc = c->tok_alloc == 0 ? 64 : c->tok_alloc * 2;
		c->toks = xreallocarray(c->toks, c->tok_alloc,
		    sizeof(*c->toks));
	}
	c->toks[*count].type = t;
	c->toks[*count].s = s;
	c->toks[*count].len = len;
	(*count)++;
	return 0;
}

/*
 * Split c->text into tokens.  Literals were stored as "\0{len}\0" marks
 * followed by their bytes (a mark cannot come from a line: lines hold no
 * NUL, stream lines with NULs are refused below).  Quoted strings are
 * unescaped in place.
 */
static int
move_imap_tokenize(struct move_imap *c, size_t *count_r, char **error_r)
{
	char *p = buf_data(c->text), *end = p + buf_len(c->text);
	size_t count = 0;

	while (p < end) {
		if (*p == ' ') {
			p++;
		} else if (*p == '(' || *p == ')') {
			if (move_imap_add_tok(c, &count, *p == '(' ?
			    MOVE_TOK_LP : MOVE_TOK_RP, p, 1, error_r) < 0)
				return -1;
			p++;
		} else if (*p == '\0') {
			/* A literal: \0<len>\0<bytes> */
			char *num = p + 1, *stop;
			unsigned long long len = strtoull(num, &stop, 10);

			if (stop >= end || *stop != '\0' ||
			    len > (unsigned long long) (end - stop - 1))
				goto bad;
			if (move_imap_add_tok(c, &count, MOVE_TOK_STRING,
			    stop + 1, (size_t) len, error_r) < 0)
				return -1;
			p = stop + 1 + len;
		} else if (*p == '"') {
			char *out = ++p, *start = p;

			while (p < end && *p != '"') {
				if (*p == '\\' && p + 1 < end)
					p++;
				*out++ = *p++;
			}
			if (p >= end)
				goto bad;
			p++;
			if (move_imap_add_tok(c, &count, MOVE_TOK_STRING,
			    start, (size_t) (out - start), error_r) < 0)
				return -1;
		} else {
			char *start = p;
			int depth = 0;

			/* An atom; "BODY[]" and "[UIDVALIDITY" stay one. */
			while (p < end && *p != '\0' && *p != '"' &&
			    (depth > 0 || (*p != ' ' && *p != '(' &&
			    *p != ')'))) {
				if (*p == '[')
					depth++;
				else if (*p == ']' && depth > 0)
					depth--;
				p++;
			}
			if (move_imap_add_tok(c, &count, MOVE_TOK_ATOM, start,
			    (size_t) (p - start), error_r) < 0)
				return -1;
		}
	}
	*count_r = count;
	return 0;
bad:
	*error_r = xasprintf("%s: malformed response", c->host);
	return -1;
}

/*
 * Read one response (a line and the literals it announces) into
 * c->text.  0, or -1 with *error_r.
 */
static int
move_imap_read(struct move_imap *c, char **error_r)
{
	size_t literals = 0;

	buf_reset(c->text);
	for (;;) {
		enum stream_status st;
		const char *l, *brace;
		size_t len;
		unsigned long long n;
		char *stop;

		st = stream_read_line(c->s, c->line,
		    (size_t) var_mailbox_move_line_limit);
		if (st == STREAM_TOO_LONG) {
			*error_r = xasprintf("%s: response line longer than "
			    "mailbox_move_line_limit (%lld)", c->host,
			    var_mailbox_move_line_limit);
			return -1;
		}
		if (st != STREAM_OK)
			return move_imap_io_error(c, "read", error_r);
		l = buf_cstr(c->line);
		len = buf_len(c->line);
		if (memchr(l, '\0', len) != NULL) {
			*error_r = xasprintf("%s: NUL in a response line",
			    c->host);
			return -1;
		}
		brace = len >= 3 && l[len - 1] == '}' ?
		    memrchr(l, '{', len) : NULL;
		if (brace == NULL) {
			if (buf_append(c->text, l, len) < 0)
				goto too_long;
			return 0;
		}
		errno = 0;
		n = strtoull(brace + 1, &stop, 10);
		if (errno != 0 || stop == brace + 1 || *stop != '}' ||
		    n > (unsigned long long) var_mailbox_move_message_size_limit) {
			*error_r = xasprintf("%s: literal larger than "
			    "mailbox_move_message_size_limit (%lld)", c->host,
			    var_mailbox_move_message_size_limit);
			return -1;
		}
		if (++literals > MOVE_LITERAL_MAX) {
			*error_r = xasprintf("%s: too many literals", c->host);
			return -1;
		}
		if (buf_append(c->text, l, (size_t) (brace - l)) < 0 ||
		    buf_printf(c->text, "%c%llu%c", '\0', n, '\0') < 0)
			goto too_long;
		st = stream_read_exact(c->s, c->text, (size_t) n);
		if (st == STREAM_TOO_LONG)
			goto too_long;
		if (st != STREAM_OK)
			return move_imap_io_error(c, "read", error_r);
	}
too_long:
	*error_r = xasprintf("%s: response larger than its limits", c->host);
	return -1;
}

static int
move_imap_send(struct move_imap *c, const char *text, char **error_r)
{
	if (stream_puts(c->s, text) != STREAM_OK ||
	    stream_puts(c->s, "\r\n") != STREAM_OK ||
	    stream_flush(c->s) != STREAM_OK)
		return move_imap_io_error(c, "write", error_r);
	return 0;
}

/* Note a CAPABILITY response or response code in the line. */
static void
move_imap_note_caps(struct move_imap *c, const char *l)
{
	const char *p;

	if (strncasecmp(l, "* CAPABILITY ", 13) == 0)
		move_imap_set_caps(c, l + 13);
	else if ((p = strcasestr(l, "[CAPABILITY ")) != NULL)
		move_imap_set_caps(c, p + 12);
}

int
move_imap_cmd(struct move_imap *c, move_imap_fn *fn, void *ctx,
	char **error_r, const char *fmt, ...)
{
	struct buf *cmd = buf_new((size_t) var_mailbox_move_line_limit);
	char tag[16];
	size_t tag_len;
	va_list ap;
	int rc;

	snprintf(tag, sizeof(tag), "m%u", ++c->tag);
	tag_len = strlen(tag);
	va_start(ap, fmt);
	rc = buf_printf(cmd, "%s ", tag) < 0 ? -1 : buf_vprintf(cmd, fmt, ap);
	va_end(ap);
	if (rc < 0) {
		buf_free(&cmd);
		*error_r = xasprintf("%s: command too long", c->host);
		return -1;
	}
	rc = move_imap_send(c, buf_cstr(cmd), error_r);
	buf_free(&cmd);
	if (rc < 0)
		return -1;
	for (;;) {
		const char *l;
		struct move_resp r;
		size_t count;

		if (move_imap_read(c, error_r) < 0)
			return -1;
		l = buf_cstr(c->text);
		if (strncmp(l, tag, tag_len) == 0 && l[tag_len] == ' ') {
			l += tag_len + 1;
			move_imap_note_caps(c, l);
			if (strncasecmp(l, "OK", 2) == 0)
				return 1;
			*error_r = xasprintf("%s: %.200s", c->host, l);
			return strncasecmp(l, "NO", 2) == 0 ? 0 : -1;
		}
		if (l[0] != '*' || l[1] != ' ')
			continue;	/* a continuation: not asked for */
		move_imap_note_caps(c, l);
		if (strncasecmp(l, "* BYE", 5) == 0) {
			*error_r = xasprintf("%s: %.200s", c->host, l);
			return -1;
		}
		if (fn == NULL)
			continue;
		r.line = l;
		if (move_imap_tokenize(c, &count, error_r) < 0)
			return -1;
		r.toks = c->toks;
		r.count = count;
		if (fn(ctx, &r, error_r) < 0)
			return -1;
	}
}

static int
move_imap_starttls(struct move_imap *c, char **error_r)
{
	int verify = *var_mailbox_move_tls_ca_file != '\0';
	int rc;

	rc = move_imap_cmd(c, NULL, NULL, error_r, "STARTTLS");
	if (rc <= 0)
		return -1;
	c->tls_ctx = tls_client_new(verify ? var_mailbox_move_tls_ca_file :
	    NULL, verify, error_r);
	if (c->tls_ctx == NULL)
		return -1;
	if (tls_start(c->tls_ctx, c->s, c->host, &c->tls, error_r) < 0)
		return -1;
	free(c->caps);
	c->caps = NULL;
	return move_imap_cmd(c, NULL, NULL, error_r, "CAPABILITY") == 1 ?
	    0 : -1;
}

struct move_imap *
move_imap_connect(const char *host, char **error_r)
{
	struct move_imap *c = xcalloc(1, sizeof(*c));
	char *nexthop;
	const char *l;
	int timeout_ms = (int) (var_mailbox_move_timeout * 1000);
	int is_v6 = strchr(host, ':') != NULL && host[0] != '[';

	if (strcmp(var_mailbox_move_tls, "none") != 0 &&
	    strcmp(var_mailbox_move_tls, "may") != 0 &&
	    strcmp(var_mailbox_move_tls, "encrypt") != 0) {
		*error_r = xasprintf("mailbox_move_tls: %s is not none, may "
		    "or encrypt", var_mailbox_move_tls);
		free(c);
		return NULL;
	}
	c->host = xstrdup(host);
	c->line = buf_new((size_t) var_mailbox_move_line_limit);
	c->text = buf_new((size_t) var_mailbox_move_message_size_limit +
	    (size_t) var_mailbox_move_line_limit * 4);
	nexthop = xasprintf(is_v6 ? "[%s]:%lld" : "%s:%lld", host,
	    var_mailbox_move_imap_port);
	c->fd = net_connect_nexthop(nexthop, "/", (int)
	    (var_mailbox_move_connect_timeout * 1000), NULL, NULL, error_r);
	free(nexthop);
	if (c->fd < 0) {
		char *e = *error_r;

		*error_r = xasprintf("cannot connect to %s port %lld: %s",
		    host, var_mailbox_move_imap_port, e);
		free(e);
		move_imap_free(&c);
		return NULL;
	}
	c->s = stream_new(c->fd, timeout_ms, timeout_ms);
	if (move_imap_read(c, error_r) < 0)
		goto fail;
	l = buf_cstr(c->text);
	if (strncasecmp(l, "* OK", 4) != 0) {
		*error_r = xasprintf("%s: greeting: %.200s", host, l);
		goto fail;
	}
	move_imap_note_caps(c, l);
	if (c->caps == NULL &&
	    move_imap_cmd(c, NULL, NULL, error_r, "CAPABILITY") != 1)
		goto fail;
	if (strcmp(var_mailbox_move_tls, "none") != 0) {
		if (move_imap_has_cap(c, "STARTTLS")) {
			if (move_imap_starttls(c, error_r) < 0)
				goto fail;
		} else if (strcmp(var_mailbox_move_tls, "encrypt") == 0) {
			*error_r = xasprintf("%s: no STARTTLS offered and "
			    "mailbox_move_tls = encrypt", host);
			goto fail;
		}
	}
	return c;
fail:
	move_imap_free(&c);
	return NULL;
}

/* Base64 of len bytes (RFC 4648). */
static void
move_base64(struct buf *out, const unsigned char *in, size_t len)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmno"
	    "pqrstuvwxyz0123456789+/";
	size_t i;

	for (i = 0; i < len; i += 3) {
		unsigned int v = (unsigned int) in[i] << 16;

		if (i + 1 < len)
			v |= (unsigned int) in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		(void) buf_append_char(out, tab[(v >> 18) & 63]);
		(void) buf_append_char(out, tab[(v >> 12) & 63]);
		(void) buf_append_char(out, i + 1 < len ?
		    tab[(v >> 6) & 63] : '=');
		(void) buf_append_char(out, i + 2 < len ? tab[v & 63] : '=');
	}
}

int
move_imap_login(struct move_imap *c, const char *authzid, const char *admin,
	const char *password, char **error_r)
{
	struct buf *plain = buf_new(4096), *b64 = buf_new(8192);
	int rc;

	if (!move_imap_has_cap(c, "AUTH=PLAIN")) {
		*error_r = xasprintf("%s: AUTH=PLAIN not offered (the source "
		    "wants TLS: mailbox_move_tls, or auth_allow_plaintext "
		    "there)", c->host);
		buf_free(&plain);
		buf_free(&b64);
		return -1;
	}
	if (buf_append_str(plain, authzid) < 0 ||
	    buf_append_char(plain, '\0') < 0 ||
	    buf_append_str(plain, admin) < 0 ||
	    buf_append_char(plain, '\0') < 0 ||
	    buf_append_str(plain, password) < 0) {
		*error_r = xstrdup("administrator login too long");
		rc = -1;
	} else {
		move_base64(b64, (const unsigned char *) buf_data(plain),
		    buf_len(plain));
		rc = move_imap_cmd(c, NULL, NULL, error_r,
		    "AUTHENTICATE PLAIN %s", buf_cstr(b64));
		rc = rc == 1 ? 0 : -1;
	}
	memset(buf_data(plain), 0, buf_len(plain));
	memset(buf_data(b64), 0, buf_len(b64));
	buf_free(&plain);
	buf_free(&b64);
	if (rc == 0 && move_imap_cmd(c, NULL, NULL, error_r,
	    "CAPABILITY") != 1)
		rc = -1;
	return rc;
}

void
move_imap_free(struct move_imap **cp)
{
	struct move_imap *c = *cp;

	if (c == NULL)
		return;
	if (c->s != NULL && stream_status(c->s) == STREAM_OK) {
		/* A polite end; its answer is not waited for long. */
		stream_set_timeouts(c->s, 1000, 1000);
		(void) stream_printf(c->s, "m%u LOGOUT\r\n", ++c->tag);
		(void) stream_flush(c->s);
	}
	tls_conn_free(&c->tls);
	tls_server_free(&c->tls_ctx);
	stream_free(&c->s);
	if (c->fd >= 0)
		close(c->fd);
	buf_free(&c->line);
	buf_free(&c->text);
	free(c->toks);
	free(c->caps);
	free(c->host);
	free(c);
	*cp = NULL;
}

int
move_imap_quote(struct buf *out, const char *name)
{
	const char *p;

	if (buf_append_char(out, '"') < 0)
		return -1;
	for (p = name; *p != '\0'; p++) {
		if ((unsigned char) *p < 0x20 || *p == 0x7f)
			return -1;
		if ((*p == '"' || *p == '\\') && buf_append_char(out, '\\') < 0)
			return -1;
		if (buf_append_char(out, *p) < 0)
			return -1;
	}
	return buf_append_char(out, '"');
}

long long
move_tok_number(const struct move_tok *t)
{
	long long n = 0;
	size_t i;

	if (t->type != MOVE_TOK_ATOM || t->len == 0 || t->len > 18)
		return -1;
	for (i = 0; i < t->len; i++) {
		if (t->s[i] < '0' || t->s[i] > '9')
			return -1;
		n = n * 10 + (t->s[i] - '0');
	}
	return n;
}

int
move_tok_is(const struct move_tok *t, const char *word)
{
	return (t->type == MOVE_TOK_ATOM || t->type == MOVE_TOK_STRING) &&
	    strlen(word) == t->len && strncasecmp(t->s, word, t->len) == 0;
}

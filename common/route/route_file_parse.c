/* route_file_parse: the map parser (ispmail-routes(5) text to a map). */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "buf.h"
#include "dkim_keys.h"
#include "log.h"
#include "mail_params.h"
#include "params.h"
#include "route.h"
#include "route_backend.h"
#include "xalloc.h"

#include "route_file_int.h"

/* The longest record, continuation lines joined (a long alias list). */
#define ROUTE_FILE_RECORD_MAX (1024 * 1024)

/* ---- reading ------------------------------------------------------------ */

struct rf_parser {
	struct rf_map *map;
	unsigned line;			/* of the record being parsed */
	char *error;			/* the first problem */
	const char **tokens;		/* of the record, decoded in place */
	size_t token_count, token_alloc;
};

static int __attribute__((format(printf, 2, 3)))
rf_bad(struct rf_parser *p, const char *fmt, ...)
{
	va_list ap;

	if (p->error != NULL)
		return -1;
	va_start(ap, fmt);
	if (vasprintf(&p->error, fmt, ap) < 0)
		log_fatal("out of memory formatting a map error");
	va_end(ap);
	return -1;
}

static int
rf_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode %XX escapes of s[0..len) into a new string. */
static int
rf_decode(struct rf_parser *p, const char *s, size_t len, char **value_r)
{
	char *out = xmalloc(xalloc_add(len, 1));
	size_t i, n = 0;
	int hi, lo;

	for (i = 0; i < len; i++) {
		if (s[i] != '%') {
			out[n++] = s[i];
			continue;
		}
		hi = i + 2 < len ? rf_hexval(s[i + 1]) : -1;
		lo = hi >= 0 ? rf_hexval(s[i + 2]) : -1;
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
			free(out);
			return rf_bad(p, hi == 0 && lo == 0 ? "%%00 (a NUL "
			    "byte) in \"%.*s\"" : "bad %%-escape in \"%.*s\" "
			    "(write %%XX with two hex digits)", (int) len, s);
		}
		out[n++] = (char) (hi * 16 + lo);
		i += 2;
	}
	out[n] = '\0';
	*value_r = out;
	return 0;
}

/* An address key: decoded, checked, normalised (keep_case: targets). */
static int
rf_address(struct rf_parser *p, const char *s, size_t len, int keep_case,
	const char *what, char **norm_r)
{
	char *text, *why = NULL;
	int rc;

	if (rf_decode(p, s, len, &text) < 0)
		return -1;
	rc = address_normalize(text, strlen(text),
	    keep_case || var_route_case_sensitive_local, norm_r, &why);
	if (rc < 0)
		rf_bad(p, "invalid %s \"%s\": %s", what, text, why);
	free(why);
	free(text);
	return rc;
}

static int
rf_domain_name(struct rf_parser *p, const char *s, size_t len,
	char **name_r)
{
	char *text, *why = NULL, *c;

	if (rf_decode(p, s, len, &text) < 0)
		return -1;
	if (address_domain_check(text, strlen(text), 0, &why) < 0) {
		rf_bad(p, "invalid domain \"%s\": %s", text, why);
		free(why);
		free(text);
		return -1;
	}
	for (c = text; *c != '\0'; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char) (*c - 'A' + 'a');
	*name_r = text;
	return 0;
}

/* A comma-separated address list into a NULL-terminated array. */
static int
rf_address_list(struct rf_parser *p, const char *s, char ***list_r,
	size_t *count_r, int keep_case, const char *what)
{
	const char *item, *comma;
	char *norm;

	for (item = s;; item = comma + 1) {
		comma = strchr(item, ',');
		if (comma == NULL)
			comma = item + strlen(item);
		if (comma > item) {
			if (rf_address(p, item, (size_t) (comma - item),
			    keep_case, what, &norm) < 0)
				return -1;
			*list_r = xreallocarray(*list_r, *count_r + 2,
			    sizeof(char *));
			(*list_r)[(*count_r)++] = norm;
			(*list_r)[*count_r] = NULL;
		}
		if (*comma == '\0')
			return 0;
	}
}

/* Split "name=value": the name's length, the value still escaped. */
static int
rf_attribute(struct rf_parser *p, const char *token, const char *kind,
	const char *key, size_t *name_len_r, const char **raw_r)
{
	const char *eq = strchr(token, '=');

	if (eq == NULL || eq == token)
		return rf_bad(p, "%s %s: expected name=value, got \"%s\"",
		    kind, key, token);
	*name_len_r = (size_t) (eq - token);
	*raw_r = eq + 1;
	return 0;
}

static int
rf_is(const char *token, size_t len, const char *name)
{
	return strlen(name) == len && strncmp(token, name, len) == 0;
}

/* Each attribute once: seen is a bit set indexed by the name's row. */
static int
rf_once(struct rf_parser *p, unsigned *seen, unsigned bit, const char *name)
{
	if (*seen & (1u << bit))
		return rf_bad(p, "%s %s: attribute %s given twice",
		    p->tokens[0], p->tokens[1], name);
	*seen |= 1u << bit;
	return 0;
}

static int
rf_parse_score(struct rf_parser *p, const char *raw, double *score_r)
{
	char *end;

	errno = 0;
	*score_r = strtod(raw, &end);
	if (errno != 0 || end == raw || *end != '\0')
		return rf_bad(p, "bad score \"%s\" (a number such as 5 or "
		    "6.5)", raw);
	return 0;
}

static int
rf_parse_enum(struct rf_parser *p, const char *raw,
	const char *const *names, int count, const char *what, int *value_r)
{
	int i;

	for (i = 0; i < count; i++)
		if (strcmp(raw, names[i]) == 0) {
			*value_r = i;
			return 0;
		}
	return rf_bad(p, "bad %s \"%s\" (%s, %s, %s%s%s)", what, raw,
	    names[0], names[1], names[2], count > 3 ? ", " : "",
	    count > 3 ? names[3] : "");
}

/* A domain's dkim= list: each value checked, at most DKIM_KEYS_MAX. */
static int
rf_domain_dkim(struct rf_parser *p, struct route_domain *d, const char *raw)
{
	struct dkim_key key;
	const char *item, *comma;
	char *value, *why = NULL;

	for (item = raw;; item = comma + 1) {
		comma = strchr(item, ',');
		if (comma == NULL)
			comma = item + strlen(item);
		if (comma > item) {
			if (d->dkim_selector_count == DKIM_KEYS_MAX)
				return rf_bad(p, "domain %s: more than %d DKIM "
				    "keys", d->name, DKIM_KEYS_MAX);
			if (rf_decode(p, item, (size_t) (comma - item),
			    &value) < 0)
				return -1;
			if (dkim_key_parse(value, &key, &why) < 0) {
				rf_bad(p, "domain %s: %s", d->name, why);
				free(why);
				free(value);
				return -1;
			}
			free(key.selector);
			free(key.file);
			d->dkim_selectors = xreallocarray(d->dkim_selectors,
			    d->dkim_selector_count + 2, sizeof(char *));
			d->dkim_selectors[d->dkim_selector_count++] = value;
			d->dkim_selectors[d->dkim_selector_count] = NULL;
		}
		if (*comma == '\0')
			return 0;
	}
}

static int
rf_parse_domain(struct rf_parser *p)
{
	enum {
		D_CATCHALL, D_MAILHOST, D_RELAYHOST, D_TARGET, D_ARCHIVE,
		D_DMARC, D_DKIM, D_COUNT
	};
	static const char *const names[D_COUNT] = {
		"catchall", "mailhost", "relayhost", "target", "archive",
		"dmarc", "dkim",
	};
	struct route_domain *d;
	const char *raw = NULL;
	char *value = NULL;
	struct rf_entry *old;
	unsigned seen = 0, n;
	size_t i, len = 0;
	int rc, num = 0;

	if (p->token_count < 3)
		return rf_bad(p, "expected: domain NAME local|relay|alias "
		    "[name=value...]");
	d = xcalloc(1, sizeof(*d));
	if (rf_domain_name(p, p->tokens[1], strlen(p->tokens[1]),
	    &d->name) < 0)
		goto fail;
	if (strcmp(p->tokens[2], "local") == 0)
		d->kind = ROUTE_DOMAIN_LOCAL;
	else if (strcmp(p->tokens[2], "relay") == 0)
		d->kind = ROUTE_DOMAIN_RELAY;
	else if (strcmp(p->tokens[2], "alias") == 0)
		d->kind = ROUTE_DOMAIN_ALIAS;
	else {
		rf_bad(p, "domain %s: kind must be local, relay or alias, "
		    "not \"%s\"", d->name, p->tokens[2]);
		goto fail;
	}
	for (i = 3; i < p->token_count; i++) {
		if (rf_attribute(p, p->tokens[i], "domain", d->name, &len,
		    &raw) < 0)
			goto fail;
		for (n = 0; n < D_COUNT; n++)
			if (rf_is(p->tokens[i], len, names[n]))
				break;
		if (n == D_COUNT) {
			rf_bad(p, "domain %s: unknown attribute \"%.*s\" "
			    "(catchall, mailhost, relayhost, target, archive, "
			    "dmarc, dkim)", d->name, (int) len, p->tokens[i]);
			goto fail;
		}
		if (rf_once(p, &seen, n, names[n]) < 0)
			goto fail;
		if (n == D_DKIM) {
			if (rf_domain_dkim(p, d, raw) < 0)
				goto fail;
			continue;
		}
		if (n == D_CATCHALL) {
			if (rf_address(p, raw, strlen(raw), 0, "catchall",
			    &d->catchall) < 0)
				goto fail;
			continue;
		}
		if (n == D_TARGET) {
			if (rf_domain_name(p, raw, strlen(raw),
			    &d->alias_target) < 0)
				goto fail;
			continue;
		}
		if (rf_decode(p, raw, strlen(raw), &value) < 0)
			goto fail;
		if (n == D_ARCHIVE) {
			rc = params_parse_bool(value, &d->archive);
			xfree(value);
			if (rc < 0) {
				rf_bad(p, "domain %s: archive must be yes or "
				    "no", d->name);
				goto fail;
			}
		} else if (n == D_DMARC) {
			rc = rf_parse_enum(p, value, route_dmarc_names,
			    ROUTE_DMARC_POLICIES, "dmarc", &num);
			xfree(value);
			if (rc < 0)
				goto fail;
			d->dmarc = (enum route_dmarc_policy) num;
		} else {
			if (n == D_MAILHOST)
				d->mail_host = value;
			else
				d->relay_host = value;
			value = NULL;
		}
	}
	if (d->dkim_selectors == NULL)
		d->dkim_selectors = xcalloc(1, sizeof(char *));
	if (d->kind == ROUTE_DOMAIN_ALIAS && d->alias_target == NULL) {
		rf_bad(p, "alias domain %s needs target=DOMAIN", d->name);
		goto fail;
	}
	if (d->kind == ROUTE_DOMAIN_ALIAS
	    && strcmp(d->alias_target, d->name) == 0) {
		rf_bad(p, "alias domain %s points to itself", d->name);
		goto fail;
	}
	if ((old = rf_find(&p->map->domains, d->name)) != NULL) {
		rf_bad(p, "domain %s again (first on line %u)", d->name,
		    old->line);
		goto fail;
	}
	(void) rf_add(&p->map->domains, xstrdup(d->name), d, p->line);
	return 0;
fail:
	route_domain_free(&d);
	return -1;
}

const char *const rf_state_names[] = {
	"active", "suspended", "disabled", "moving"
};
const char *const rf_filter_names[] = {
	"off", "standard", "aggressive"
};

/* Index alt addresses to their mailbox; -1 on a taken key. */
static int
rf_index_alts(struct rf_parser *p, struct route_mailbox *m)
{
	const char *owner;
	unsigned line = 0;
	size_t i;

	for (i = 0; i < m->alt_count; i++) {
		owner = rf_key_owner(p->map, m->alt_addresses[i], &line);
		if (owner != NULL || strcmp(m->alt_addresses[i],
		    m->address) == 0) {
			if (owner == NULL)
				owner = "mailbox";
			return rf_bad(p, "mailbox %s: alternate address %s is "
			    "already a%s %s (line %u)", m->address,
			    m->alt_addresses[i], owner[0] == 'a' ? "n" : "",
			    owner, line > 0 ? line : p->line);
		}
		(void) rf_add(&p->map->alts, xstrdup(m->alt_addresses[i]), m,
		    p->line);
	}
	return 0;
}

static int
rf_parse_mailbox(struct rf_parser *p)
{
	enum {
		A_PASSWORD, A_QUOTA, A_STATE, A_HOST, A_PATH, A_FILTER, A_TAG,
		A_QUARANTINE, A_DISCARD, A_ARCHIVE, A_CLASS, A_ALT, A_FORWARD,
		A_KEEPCOPY, A_DMARC, A_COUNT
	};
	static const char *const names[A_COUNT] = {
		"password", "quota", "state", "host", "path", "filter", "tag",
		"quarantine", "discard", "archive", "class", "alt", "forward",
		"keepcopy", "dmarc",
	};
	struct route_mailbox *m;
	const char *raw = NULL, *owner;
	char *value = NULL;
	unsigned seen = 0, n, line = 0;
	size_t i, len = 0;
	int num = 0;

	if (p->token_count < 2)
		return rf_bad(p, "expected: mailbox ADDRESS [name=value...]");
	m = xcalloc(1, sizeof(*m));
	m->state = ROUTE_STATE_ACTIVE;
	m->filter = ROUTE_FILTER_STANDARD;
	m->tag_score = 5;
	m->quarantine_score = 10;
	m->discard_score = 20;
	if (rf_address(p, p->tokens[1], strlen(p->tokens[1]), 0, "mailbox",
	    &m->address) < 0)
		goto fail;
	for (i = 2; i < p->token_count; i++) {
		if (rf_attribute(p, p->tokens[i], "mailbox", m->address, &len,
		    &raw) < 0)
			goto fail;
		for (n = 0; n < A_COUNT; n++)
			if (rf_is(p->tokens[i], len, names[n]))
				break;
		if (n == A_COUNT) {
			rf_bad(p, "mailbox %s: unknown attribute \"%.*s\"",
			    m->address, (int) len, p->tokens[i]);
			goto fail;
		}
		if (rf_once(p, &seen, n, names[n]) < 0)
			goto fail;
		if (n == A_ALT || n == A_FORWARD) {
			if (rf_address_list(p, raw, n == A_ALT
			    ? &m->alt_addresses : &m->forwards, n == A_ALT
			    ? &m->alt_count : &m->forward_count, n != A_ALT,
			    names[n]) < 0)
				goto fail;
			continue;
		}
		if (rf_decode(p, raw, strlen(raw), &value) < 0)
			goto fail;
		switch (n) {
		case A_PASSWORD:
			m->password_hash = value;
			value = NULL;
			break;
		case A_QUOTA:
			if (params_parse_size(value, &m->quota) < 0) {
				rf_bad(p, "mailbox %s: bad quota \"%s\" "
				    "(bytes, or a number with k, M or G)",
				    m->address, value);
				goto fail;
			}
			break;
		case A_STATE:
			if (rf_parse_enum(p, value, rf_state_names, 4, "state",
			    &num) < 0)
				goto fail;
			m->state = (enum route_state) num;
			break;
		case A_HOST:
			m->mail_host = value;
			value = NULL;
			break;
		case A_PATH:
			if (value[0] != '/') {
				rf_bad(p, "mailbox %s: path must be absolute: "
				    "%s", m->address, value);
				goto fail;
			}
			m->store_path = value;
			value = NULL;
			break;
		case A_FILTER:
			if (rf_parse_enum(p, value, rf_filter_names, 3, "filter",
			    &num) < 0)
				goto fail;
			m->filter = (enum route_filter_policy) num;
			break;
		case A_TAG:
		case A_QUARANTINE:
		case A_DISCARD:
			if (rf_parse_score(p, value, n == A_TAG ? &m->tag_score
			    : n == A_QUARANTINE ? &m->quarantine_score
			    : &m->discard_score) < 0)
				goto fail;
			break;
		case A_ARCHIVE:
		case A_KEEPCOPY:
			if (params_parse_bool(value, n == A_ARCHIVE
			    ? &m->archive : &m->forward_keep_copy) < 0) {
				rf_bad(p, "mailbox %s: %s must be yes or no",
				    m->address, names[n]);
				goto fail;
			}
			break;
		case A_CLASS:
			m->outbound_class = value;
			value = NULL;
			break;
		case A_DMARC:
			if (rf_parse_enum(p, value, route_dmarc_names,
			    ROUTE_DMARC_POLICIES, "dmarc", &num) < 0)
				goto fail;
			m->dmarc = (enum route_dmarc_policy) num;
			break;
		}
		xfree(value);
	}
	if (m->alt_addresses == NULL)
		m->alt_addresses = xcalloc(1, sizeof(char *));
	if (m->forwards == NULL)
		m->forwards = xcalloc(1, sizeof(char *));
	if ((owner = rf_key_owner(p->map, m->address, &line)) != NULL) {
		rf_bad(p, "mailbox %s: the address is already a%s %s (line "
		    "%u)", m->address, owner[0] == 'a' ? "n" : "", owner,
		    line);
		goto fail;
	}
	if (rf_index_alts(p, m) < 0) {
		size_t j;

		/* Undo the alternates indexed before the bad one. */
		for (j = 0; j < m->alt_count; j++) {
			struct rf_entry *e = rf_find(&p->map->alts,
			    m->alt_addresses[j]);

			if (e != NULL && e->value == m)
				(void) rf_remove(&p->map->alts,
				    m->alt_addresses[j]);
		}
		goto fail;
	}
	(void) rf_add(&p->map->mailboxes, xstrdup(m->address), m, p->line);
	return 0;
fail:
	free(value);
	route_mailbox_free(&m);
	return -1;
}

static int
rf_parse_alias(struct rf_parser *p)
{
	struct route_alias *a;
	const char *owner;
	unsigned line = 0;
	size_t i;

	if (p->token_count < 3)
		return rf_bad(p, "expected: alias ADDRESS TARGET[,TARGET...]");
	a = xcalloc(1, sizeof(*a));
	if (rf_address(p, p->tokens[1], strlen(p->tokens[1]), 0, "alias",
	    &a->address) < 0)
		goto fail;
	for (i = 2; i < p->token_count; i++)
		if (rf_address_list(p, p->tokens[i], &a->targets,
		    &a->target_count, 1, "alias target") < 0)
			goto fail;
	if (a->target_count == 0) {
		rf_bad(p, "alias %s has no target", a->address);
		goto fail;
	}
	if ((owner = rf_key_owner(p->map, a->address, &line)) != NULL) {
		rf_bad(p, "alias %s: the address is already a%s %s (line %u)",
		    a->address, owner[0] == 'a' ? "n" : "", owner, line);
		goto fail;
	}
	(void) rf_add(&p->map->aliases, xstrdup(a->address), a, p->line);
	return 0;
fail:
	route_alias_free(&a);
	return -1;
}

static int
rf_parse_recipient(struct rf_parser *p)
{
	struct rf_entry *old;
	char *address;

	if (p->token_count != 2)
		return rf_bad(p, "expected: recipient ADDRESS");
	if (rf_address(p, p->tokens[1], strlen(p->tokens[1]), 0, "recipient",
	    &address) < 0)
		return -1;
	if ((old = rf_find(&p->map->recipients, address)) != NULL) {
		rf_bad(p, "recipient %s again (first on line %u)", address,
		    old->line);
		free(address);
		return -1;
	}
	(void) rf_add(&p->map->recipients, address, NULL, p->line);
	return 0;
}

/* Parse one logical record (continuations joined) in place. */
static int
rf_parse_record(struct rf_parser *p, char *record)
{
	char *s = record, *start;

	p->token_count = 0;
	for (;;) {
		while (*s == ' ' || *s == '\t' || *s == '\r')
			s++;
		if (*s == '\0')
			break;
		start = s;
		while (*s != '\0' && *s != ' ' && *s != '\t' && *s != '\r')
			s++;
		if (*s != '\0')
			*s++ = '\0';
		if (p->token_count + 1 >= p->token_alloc) {
			p->token_alloc = p->token_alloc == 0 ? 16
			    : xalloc_mul(p->token_alloc, 2);
			p->tokens = xreallocarray(p->tokens, p->token_alloc,
			    sizeof(*p->tokens));
		}
		p->tokens[p->token_count++] = start;
	}
	if (p->token_count == 0)
		return 0;
	if (strcmp(p->tokens[0], "domain") == 0)
		return rf_parse_domain(p);
	if (strcmp(p->tokens[0], "mailbox") == 0)
		return rf_parse_mailbox(p);
	if (strcmp(p->tokens[0], "alias") == 0)
		return rf_parse_alias(p);
	if (strcmp(p->tokens[0], "recipient") == 0)
		return rf_parse_recipient(p);
	return rf_bad(p, "unknown record \"%s\" (domain, mailbox, alias, "
	    "recipient)", p->tokens[0]);
}

/*
 * Parse a whole map text.  NULL with *error_r "path:line: reason" when
 * any record is bad: the map is taken whole or not at all.
 */
struct rf_map *
rf_parse(const char *path, char *text, size_t len, char **error_r)
{
	struct rf_parser p;
	struct buf *record = buf_new(ROUTE_FILE_RECORD_MAX);
	char *line, *end, *hash, *problem;
	unsigned lineno = 0, bad_line = 0;
	size_t line_len;
	int rc = 0;

	memset(&p, 0, sizeof(p));
	p.map = xcalloc(1, sizeof(*p.map));
	for (line = text; rc == 0 && line < text + len; line = end + 1) {
		end = memchr(line, '\n', (size_t) (text + len - line));
		if (end == NULL)
			end = text + len;
		lineno++;
		line_len = (size_t) (end - line);
		if (memchr(line, '\0', line_len) != NULL) {
			bad_line = lineno;
			rc = rf_bad(&p, "NUL byte in the line");
			break;
		}
		/* An unescaped '#' starts a comment (values escape it). */
		hash = memchr(line, '#', line_len);
		if (hash != NULL)
			line_len = (size_t) (hash - line);
		while (line_len > 0 && (line[line_len - 1] == ' '
		    || line[line_len - 1] == '\t' || line[line_len - 1] == '\r'))
			line_len--;
		if (line_len == 0)
			continue;
		if (line[0] == ' ' || line[0] == '\t') {
			if (buf_len(record) == 0) {
				bad_line = lineno;
				rc = rf_bad(&p, "continuation line without a "
				    "record before it");
			} else if (buf_append_char(record, ' ') < 0
			    || buf_append(record, line, line_len) < 0) {
				bad_line = p.line;
				rc = rf_bad(&p, "record longer than %d bytes",
				    ROUTE_FILE_RECORD_MAX);
			}
			continue;
		}
		if (buf_len(record) > 0) {
			rc = rf_parse_record(&p, buf_data(record));
			bad_line = p.line;
		}
		buf_reset(record);
		p.line = lineno;
		if (rc == 0 && buf_append(record, line, line_len) < 0) {
			bad_line = lineno;
			rc = rf_bad(&p, "record longer than %d bytes",
			    ROUTE_FILE_RECORD_MAX);
		}
	}
	if (rc == 0 && buf_len(record) > 0) {
		rc = rf_parse_record(&p, buf_data(record));
		bad_line = p.line;
	}
	if (rc == 0 && (problem = rf_map_check(p.map, &bad_line)) != NULL) {
		p.error = problem;
		rc = -1;
	}
	buf_free(&record);
	free(p.tokens);
	if (rc < 0) {
		*error_r = xasprintf("%s:%u: %s", path, bad_line, p.error);
		free(p.error);
		rf_map_free(&p.map);
		return NULL;
	}
	return p.map;
}

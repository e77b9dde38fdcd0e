/* ctl_trace_match: which log lines belong to the traced messages; output. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "buf.h"
#include "ctl.h"
#include "ctl_trace.h"
#include "xalloc.h"

/*
 * Lines with a queue id nobody asked for yet, kept for a while: a
 * receiving host's first lines come before our "queued as X" line names
 * X, and a message's first lines come before the line naming the address
 * traced.  When a new queue id, Message-ID or file becomes known, these
 * are looked at again; each stays until it is claimed or pushed out.
 */
#define TRACE_RING 4096
/* Lengths of the values followed: longer ones are not keys. */
#define TRACE_KEY_MAX 1000
/* Queue ids listed at the top of a block. */
#define TRACE_IDS_SHOWN 32

struct trace_key {
	char *name;		/* "q:ID", "m:<message-id>", "f:maildir-file" */
	int group;
};

struct trace_set {
	enum trace_seed kind;
	char *seed;		/* an address without its brackets */
	struct trace_key *keys;	/* open addressing, keycap a power of 2 */
	size_t nkeys, keycap;
	int *parent;		/* union-find over message groups */
	size_t ngroups, groupcap;
	struct trace_line **lines;
	size_t nlines, linecap, max_lines;
	int truncated;
	int new_keys;		/* a key was added: look at the ring again */
	struct trace_line *ring[TRACE_RING];
	size_t ring_head, ring_used;
};

void
trace_line_free(struct trace_line *line)
{
	/* One allocation (ctl_trace.c: trace_line_new). */
	free(line);
}

const char *
trace_field(const char *text, const char *name, size_t *len_r)
{
	size_t nlen = strlen(name);
	const char *p = text, *v;

	while ((p = strstr(p, name)) != NULL) {
		if ((p == text || p[-1] == ' ' || p[-1] == ',') &&
		    p[nlen] == '=') {
			v = p + nlen + 1;
			if (*v == '<') {
				const char *close = strchr(v, '>');

				if (close == NULL)
					return NULL;
				*len_r = (size_t) (close + 1 - v);
			} else {
				*len_r = strcspn(v, ", ");
			}
			return v;
		}
		p += nlen;
	}
	return NULL;
}

/* FNV-1a of "kind:value". */
static uint64_t
trace_hash(char kind, const char *value, size_t len)
{
	uint64_t h = 1469598103934665603ULL;
	size_t i;

	h = (h ^ (unsigned char) kind) * 1099511628211ULL;
	h = (h ^ (unsigned char) ':') * 1099511628211ULL;
	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char) value[i]) * 1099511628211ULL;
	return h;
}

static int
trace_group_root(struct trace_set *set, int g)
{
	while (set->parent[g] != g) {
		set->parent[g] = set->parent[set->parent[g]];
		g = set->parent[g];
	}
	return g;
}

static int
trace_group_new(struct trace_set *set)
{
	if (set->ngroups == set->groupcap) {
		set->groupcap = set->groupcap ? set->groupcap * 2 : 16;
		set->parent = xreallocarray(set->parent, set->groupcap,
		    sizeof(*set->parent));
	}
	set->parent[set->ngroups] = (int) set->ngroups;
	return (int) set->ngroups++;
}

/* The slot of kind:value: its key, or the empty slot it would take. */
static struct trace_key *
trace_key_slot(struct trace_set *set, char kind, const char *value,
	size_t len)
{
	size_t i = (size_t) trace_hash(kind, value, len) & (set->keycap - 1);
	const char *name;

	while ((name = set->keys[i].name) != NULL && !(name[0] == kind &&
	    strncmp(name + 2, value, len) == 0 && name[len + 2] == '\0'))
		i = (i + 1) & (set->keycap - 1);
	return &set->keys[i];
}

/* The group of kind:value, or -1. */
static int
trace_key_find(struct trace_set *set, char kind, const char *value,
	size_t len)
{
	struct trace_key *k;

	if (len == 0 || len > TRACE_KEY_MAX)
		return -1;
	k = trace_key_slot(set, kind, value, len);
	return k->name != NULL ? trace_group_root(set, k->group) : -1;
}

/* kind:value belongs to group g (joining two groups when it had one). */
static void
trace_key_add(struct trace_set *set, char kind, const char *value,
	size_t len, int g)
{
	struct trace_key *k, *old;
	size_t i, oldcap;
	char *name;

	if (len == 0 || len > TRACE_KEY_MAX)
		return;
	if ((set->nkeys + 1) * 2 > set->keycap) {
		old = set->keys;
		oldcap = set->keycap;
		set->keycap = xalloc_mul(oldcap, 2);
		set->keys = xcalloc(set->keycap, sizeof(*set->keys));
		for (i = 0; i < oldcap; i++)
			if (old[i].name != NULL)
				*trace_key_slot(set, old[i].name[0],
				    old[i].name + 2, strlen(old[i].name + 2)) =
				    old[i];
		free(old);
	}
	k = trace_key_slot(set, kind, value, len);
	if (k->name != NULL) {
		int a = trace_group_root(set, k->group);
		int b = trace_group_root(set, g);

		if (a != b)
			set->parent[a] = b;
		return;
	}
	name = xasprintf("%c:%.*s", kind, (int) len, value);
	k->name = name;
	k->group = g;
	set->nkeys++;
	set->new_keys = 1;
}

struct trace_set *
trace_set_new(enum trace_seed kind, const char *seed, size_t max_lines)
{
	struct trace_set *set = xcalloc(1, sizeof(*set));
	size_t len = strlen(seed);

	set->kind = kind;
	if (kind == TRACE_SEED_ADDRESS && len >= 2 && seed[0] == '<' &&
	    seed[len - 1] == '>')
		set->seed = xstrndup(seed + 1, len - 2);
	else
		set->seed = xstrdup(seed);
	set->keycap = 1024;
	set->keys = xcalloc(set->keycap, sizeof(*set->keys));
	set->max_lines = max_lines;
	return set;
}

/* An address field <addr> naming the traced address. */
static int
trace_address_is(const struct trace_set *set, const char *text,
	const char *name)
{
	size_t len;
	const char *v = trace_field(text, name, &len);

	return v != NULL && v[0] == '<' && len == strlen(set->seed) + 2 &&
	    strncasecmp(v + 1, set->seed, len - 2) == 0;
}

/* Does the line name what was asked for? */
static int
trace_seed_match(const struct trace_set *set, const struct trace_line *line)
{
	const char *v;
	size_t len;

	switch (set->kind) {
	case TRACE_SEED_QID:
		return line->qid != NULL && strcmp(line->qid, set->seed) == 0;
	case TRACE_SEED_MESSAGE_ID:
		v = trace_field(line->text, "message-id", &len);
		return v != NULL && len == strlen(set->seed) &&
		    memcmp(v, set->seed, len) == 0;
	case TRACE_SEED_ADDRESS:
		return line->qid != NULL &&
		    (trace_address_is(set, line->text, "from") ||
		    trace_address_is(set, line->text, "to") ||
		    trace_address_is(set, line->text, "orig_to"));
	}
	return 0;
}

/* The Maildir file name without its ":2,flags" (delivery and reading). */
static const char *
trace_file_field(const char *text, size_t *len_r)
{
	const char *v = trace_field(text, "file", len_r);

	if (v != NULL) {
		const char *colon = memchr(v, ':', *len_r);

		if (colon != NULL)
			*len_r = (size_t) (colon - v);
	}
	return v;
}

/* The queue id in "queued as X" (a 250 reply's text), or NULL. */
static const char *
trace_queued_as(const char *text, size_t *len_r)
{
	const char *p = strstr(text, "queued as ");
	size_t n = 0;

	if (p == NULL)
		return NULL;
	p += strlen("queued as ");
	while (n <= 40 && ((p[n] >= '0' && p[n] <= '9') ||
	    (p[n] >= 'A' && p[n] <= 'Z') || (p[n] >= 'a' && p[n] <= 'z')))
		n++;
	if (n < 6 || n > 40)
		return NULL;
	*len_r = n;
	return p;
}

/* The group a line belongs to by what is known now, or -1. */
static int
trace_line_group(struct trace_set *set, const struct trace_line *line)
{
	const char *v;
	size_t len;
	int g = -1;

	if (line->qid != NULL)
		g = trace_key_find(set, 'q', line->qid, strlen(line->qid));
	if (g < 0 && (v = trace_field(line->text, "message-id", &len)))
		g = trace_key_find(set, 'm', v, len);
	if (g < 0 && (v = trace_file_field(line->text, &len)))
		g = trace_key_find(set, 'f', v, len);
	return g;
}

/* Keep the line in group g and learn the hand-offs it names. */
static void
trace_attach(struct trace_set *set, struct trace_line *line, int g)
{
	const char *v;
	size_t len;

	line->group = g;
	if (line->qid != NULL)
		trace_key_add(set, 'q', line->qid, strlen(line->qid), g);
	if ((v = trace_field(line->text, "message-id", &len)))
		trace_key_add(set, 'm', v, len, g);
	if ((v = trace_queued_as(line->text, &len)))
		trace_key_add(set, 'q', v, len, g);
	if ((v = trace_file_field(line->text, &len)))
		trace_key_add(set, 'f', v, len, g);
	if (set->nlines == set->max_lines) {
		set->truncated = 1;
		trace_line_free(line);
		return;
	}
	if (set->nlines == set->linecap) {
		set->linecap = set->linecap ? set->linecap * 2 : 64;
		set->lines = xreallocarray(set->lines, set->linecap,
		    sizeof(*set->lines));
	}
	set->lines[set->nlines++] = line;
}

/* Claim the ring's lines that new keys made ours, until none is. */
static void
trace_ring_claim(struct trace_set *set)
{
	size_t i, slot;
	int g;

	while (set->new_keys) {
		set->new_keys = 0;
		for (i = 0; i < set->ring_used; i++) {
			slot = (set->ring_head + i) % TRACE_RING;
			if (set->ring[slot] == NULL)
				continue;
			g = trace_line_group(set, set->ring[slot]);
			if (g < 0)
				continue;
			trace_attach(set, set->ring[slot], g);
			set->ring[slot] = NULL;
		}
	}
}

static void
trace_ring_push(struct trace_set *set, struct trace_line *line)
{
	if (set->ring_used == TRACE_RING) {
		trace_line_free(set->ring[set->ring_head]);
		set->ring[set->ring_head] = NULL;
		set->ring_head = (set->ring_head + 1) % TRACE_RING;
		set->ring_used--;
	}
	set->ring[(set->ring_head + set->ring_used) % TRACE_RING] = line;
	set->ring_used++;
}

void
trace_set_line(struct trace_set *set, struct trace_line *line)
{
	int g = trace_line_group(set, line);

	if (g < 0 && trace_seed_match(set, line))
		g = trace_group_new(set);
	if (g < 0) {
		if (line->qid != NULL)
			trace_ring_push(set, line);
		else
			trace_line_free(line);
		return;
	}
	trace_attach(set, line, g);
	trace_ring_claim(set);
}

int
trace_set_truncated(const struct trace_set *set)
{
	return set->truncated;
}

static int
trace_line_cmp(const void *a, const void *b)
{
	const struct trace_line *x = *(struct trace_line *const *) a;
	const struct trace_line *y = *(struct trace_line *const *) b;

	if (x->group != y->group)
		return x->group < y->group ? -1 : 1;
	if (x->when != y->when)
		return x->when < y->when ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Blocks in the order of their first line. */
struct trace_block {
	size_t first, count;
};

static int
trace_block_cmp_lines(struct trace_line **lines, const struct trace_block *x,
	const struct trace_block *y)
{
	const struct trace_line *a = lines[x->first], *b = lines[y->first];

	if (a->when != b->when)
		return a->when < b->when ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static struct trace_line **trace_sort_lines;

static int
trace_block_cmp(const void *a, const void *b)
{
	return trace_block_cmp_lines(trace_sort_lines, a, b);
}

static void
trace_format_time(double when, char *out, size_t size)
{
	time_t t = (time_t) when;
	struct tm tm;
	char stamp[32];

	localtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(out, size, "%s.%03d", stamp,
	    (int) ((when - (double) t) * 1000) % 1000);
}

/* Print the value of name= (or nothing). */
static void
trace_value(struct buf *out, const char *text, const char *name)
{
	size_t len;
	const char *v = trace_field(text, name, &len);

	if (v != NULL)
		(void) buf_printf(out, " %s=%.*s", name, (int) len, v);
}

/*
 * The hop this line records, in a few words, or 0 when it records none:
 * accepted, an attempt (deferred, sent, bounced), stored, read.
 */
static int
trace_hop(const struct trace_line *l, struct buf *out)
{
	const char *t = l->text, *status, *paren;
	size_t len;

	buf_reset(out);
	status = trace_field(t, "status", &len);
	if (strcmp(l->daemon, "smtpd") == 0 && strstr(t, "from=<") &&
	    strstr(t, "client=")) {
		(void) buf_printf(out, "accepted %s", l->qid ? l->qid : "");
		trace_value(out, t, "from");
		trace_value(out, t, "client");
		trace_value(out, t, "sasl_user");
	} else if (strcmp(l->daemon, "smtpd") == 0 &&
	    trace_field(t, "message-id", &len) != NULL) {
		return 0;
	} else if (status != NULL && trace_field(t, "relay", &len)) {
		paren = strchr(status, '(');
		(void) buf_printf(out, "%.*s", (int) strcspn(status, " ,"),
		    status);
		trace_value(out, t, "to");
		trace_value(out, t, "relay");
		if (paren != NULL)
			(void) buf_printf(out, " %s", paren);
	} else if (status != NULL && strcmp(l->daemon, "lmtpd") == 0) {
		(void) buf_printf(out, "%.*s", (int) strcspn(status, " ,"),
		    status);
		trace_value(out, t, "to");
		trace_value(out, t, "folder");
	} else if (status != NULL && strncmp(status, "bounced", 7) == 0) {
		(void) buf_printf(out, "bounced");
		trace_value(out, t, "to");
	} else if (trace_file_field(t, &len) != NULL &&
	    (strcmp(l->daemon, "imapd") == 0 ||
	    strcmp(l->daemon, "popd") == 0)) {
		(void) buf_printf(out, "read over %s",
		    strcmp(l->daemon, "imapd") == 0 ? "IMAP" : "POP3");
		trace_value(out, t, "user");
		trace_value(out, t, "folder");
		trace_value(out, t, "uid");
	} else if (strcmp(t + (l->qid ? strlen(l->qid) + 2 : 0),
	    "removed") == 0) {
		(void) buf_printf(out, "done, removed from the queue");
	} else {
		return 0;
	}
	return 1;
}

static void
trace_print_block(struct trace_line **lines, size_t count, size_t number)
{
	struct buf *hop = buf_new(64 * 1024);
	const struct trace_line *l, *prev, *ids[TRACE_IDS_SHOWN];
	const char *v;
	char stamp[40];
	size_t i, j, len, shown;
	double last_hop;

	ctl_printf("message %zu", number);
	for (i = 0; i < count; i++)
		if ((v = trace_field(lines[i]->text, "message-id", &len))) {
			ctl_printf(" message-id=%.*s", (int) len, v);
			break;
		}
	for (i = 0; i < count; i++)
		if (lines[i]->qid && (v = trace_field(lines[i]->text, "from",
		    &len))) {
			ctl_printf(" from=%.*s", (int) len, v);
			break;
		}
	ctl_printf("\n  queue ids:");
	/* lmtpd's lines carry the sender's id: not an id of their own. */
	for (i = 0, shown = 0; i < count && shown < TRACE_IDS_SHOWN; i++) {
		l = lines[i];
		if (l->qid == NULL || strcmp(l->daemon, "lmtpd") == 0)
			continue;
		for (j = 0; j < shown; j++)
			if (strcmp(ids[j]->qid, l->qid) == 0 &&
			    strcmp(ids[j]->host, l->host) == 0)
				break;
		if (j < shown)
			continue;
		ids[shown++] = l;
		ctl_printf(" %s@%s", l->qid, l->host);
	}
	ctl_printf("\n  hops:\n");
	last_hop = lines[0]->when;
	for (i = 0; i < count; i++) {
		l = lines[i];
		if (!trace_hop(l, hop))
			continue;
		trace_format_time(l->when, stamp, sizeof(stamp));
		ctl_printf("    %s  +%.3fs  %s %s: %s\n", stamp,
		    l->when - last_hop, l->host, l->daemon, buf_cstr(hop));
		last_hop = l->when;
	}
	ctl_printf("  total %.3fs\n  log:\n", lines[count - 1]->when -
	    lines[0]->when);
	prev = NULL;
	for (i = 0; i < count; i++) {
		l = lines[i];
		trace_format_time(l->when, stamp, sizeof(stamp));
		ctl_printf("    %s  +%.3fs  %s %s%s%s%s: %s\n", stamp,
		    prev ? l->when - prev->when : 0.0, l->host, l->daemon,
		    l->pid[0] ? "[" : "", l->pid, l->pid[0] ? "]" : "",
		    l->text);
		prev = l;
	}
	buf_free(&hop);
}

size_t
trace_set_print(struct trace_set *set)
{
	struct trace_block *blocks;
	size_t i, nblocks = 0;

	if (set->nlines == 0)
		return 0;
	for (i = 0; i < set->nlines; i++)
		set->lines[i]->group = trace_group_root(set,
		    set->lines[i]->group);
	qsort(set->lines, set->nlines, sizeof(*set->lines), trace_line_cmp);
	blocks = xcalloc(set->nlines, sizeof(*blocks));
	for (i = 0; i < set->nlines; i++) {
		if (i == 0 || set->lines[i]->group !=
		    set->lines[i - 1]->group)
			blocks[nblocks++].first = i;
		blocks[nblocks - 1].count++;
	}
	trace_sort_lines = set->lines;
	qsort(blocks, nblocks, sizeof(*blocks), trace_block_cmp);
	for (i = 0; i < nblocks; i++) {
		if (i > 0)
			ctl_printf("\n");
		trace_print_block(set->lines + blocks[i].first,
		    blocks[i].count, i + 1);
	}
	free(blocks);
	return nblocks;
}

void
trace_set_free(struct trace_set **setp)
{
	struct trace_set *set = *setp;
	size_t i;

	if (set == NULL)
		return;
	for (i = 0; i < set->keycap; i++)
		free(set->keys[i].name);
	for (i = 0; i < set->nlines; i++)
		trace_line_free(set->lines[i]);
	for (i = 0; i < TRACE_RING; i++)
		trace_line_free(set->ring[i]);
	free(set->keys);
	free(set->parent);
	free(set->lines);
	free(set->seed);
	free(set);
	*setp = NULL;
}

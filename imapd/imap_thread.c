/*
 * imap_thread: THREAD and UID THREAD (RFC 5256 3, 4) with the
 * ORDEREDSUBJECT and REFERENCES algorithms.
 *
 * Every step is a hash table, a sort or a walk over the tree, so a
 * command costs n log n in the messages matched, except the loop check
 * of REFERENCES (is the new parent below the child?), which walks up
 * the tree: its steps are capped per command at THREAD_LOOP_BUDGET plus
 * a multiple of the message count; past the cap a link whose check
 * cannot finish is not made (the thread is split, never wrong in shape).
 * The tree is written without recursion, so a reply chain as deep as
 * the mailbox is fine.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "hash.h"
#include "imap.h"
#include "imap_mailbox.h"
#include "imap_sort.h"
#include "xalloc.h"

#define THREAD_LOOP_BUDGET	1000000
#define THREAD_LOOP_PER_MSG	256

struct thread_node {
	struct imap_sort_msg *msg;	/* NULL: a dummy */
	const char *id;			/* message id, NULL: none */
	struct thread_node *parent;
	struct thread_node *child;	/* first child */
	struct thread_node *next;	/* next sibling */
	size_t nchildren;
};

struct thread_ctx {
	struct thread_node *nodes;	/* one pool for every node */
	size_t count;
	size_t alloc;
	long long loop_budget;
	/* message id -> node, open addressing */
	struct thread_node **table;
	size_t table_size;
};

/* ---- nodes and links ---------------------------------------------------- */

static struct thread_node *
thread_node_new(struct thread_ctx *ctx)
{
	struct thread_node *n;

	/* The pool is sized up front: pointers into it stay valid. */
	if (ctx->count == ctx->alloc)
		return NULL;
	n = &ctx->nodes[ctx->count++];
	memset(n, 0, sizeof(*n));
	return n;
}

static void
thread_unlink(struct thread_node *n)
{
	struct thread_node **pp;

	if (n->parent == NULL)
		return;
	for (pp = &n->parent->child; *pp != n; pp = &(*pp)->next)
		;
	*pp = n->next;
	n->parent->nchildren--;
	n->parent = NULL;
	n->next = NULL;
}

/* Add child first among parent's children (the order is sorted later). */
static void
thread_link(struct thread_node *parent, struct thread_node *child)
{
	thread_unlink(child);
	child->parent = parent;
	child->next = parent->child;
	parent->child = child;
	parent->nchildren++;
}

/* Would making child a child of parent close a loop?  1 yes (or the
 * budget is spent: do not link), 0 no. */
static int
thread_would_loop(struct thread_ctx *ctx, struct thread_node *parent,
	struct thread_node *child)
{
	struct thread_node *p;

	for (p = parent; p != NULL; p = p->parent) {
		if (p == child || --ctx->loop_budget < 0)
			return 1;
	}
	return 0;
}

/* ---- the id table ------------------------------------------------------ */

/* The node of id, made (a dummy) when absent; NULL when the pool is
 * spent (cannot happen: it is sized for every id). */
static struct thread_node *
thread_lookup(struct thread_ctx *ctx, const char *id, int *found_r)
{
	size_t i = (size_t) hash_keyed_str(id) & (ctx->table_size - 1);

	while (ctx->table[i] != NULL) {
		if (strcmp(ctx->table[i]->id, id) == 0) {
			*found_r = 1;
			return ctx->table[i];
		}
		i = (i + 1) & (ctx->table_size - 1);
	}
	*found_r = 0;
	ctx->table[i] = thread_node_new(ctx);
	if (ctx->table[i] != NULL)
		ctx->table[i]->id = id;
	return ctx->table[i];
}

/* ---- sorting siblings by sent date ------------------------------------- */

/* The message that stands for n in date order: a dummy's first child. */
static const struct imap_sort_msg *
thread_date_msg(const struct thread_node *n)
{
	while (n->msg == NULL && n->child != NULL)
		n = n->child;
	return n->msg;
}

static int
thread_cmp_nodes(const void *pa, const void *pb)
{
	const struct imap_sort_msg *a = thread_date_msg(
	    *(struct thread_node *const *) pa);
	const struct imap_sort_msg *b = thread_date_msg(
	    *(struct thread_node *const *) pb);

	if (a == NULL || b == NULL)
		return (a == NULL) - (b == NULL);
	return imap_sort_cmp_sent(a, b);
}

/* Sort a sibling list (first at *headp) in place. */
static void
thread_sort_list(struct thread_node **headp, struct thread_node ***scratch,
	size_t *scratch_alloc)
{
	struct thread_node *n;
	size_t count = 0, i;

	for (n = *headp; n != NULL; n = n->next)
		count++;
	if (count < 2)
		return;
	if (count > *scratch_alloc) {
		*scratch = xreallocarray(*scratch, count, sizeof(**scratch));
		*scratch_alloc = count;
	}
	for (i = 0, n = *headp; n != NULL; n = n->next)
		(*scratch)[i++] = n;
	qsort(*scratch, count, sizeof(**scratch), thread_cmp_nodes);
	for (i = 0; i + 1 < count; i++)
		(*scratch)[i]->next = (*scratch)[i + 1];
	(*scratch)[count - 1]->next = NULL;
	*headp = (*scratch)[0];
}

/*
 * Sort every sibling list under root (children before their parents,
 * since a dummy's date is its first child's), then the roots.
 */
static void
thread_sort_all(struct thread_ctx *ctx, struct thread_node **roots)
{
	struct thread_node **scratch = NULL;
	size_t alloc = 0, i;

	/* Nodes are made parents-and-children in any order; sort each
	 * node's list bottom-up by walking the pool in post-order. */
	struct thread_node **stack = xcalloc(ctx->count + 1, sizeof(*stack));
	size_t top = 0;
	struct thread_node *n, *r;

	for (r = *roots; r != NULL; r = r->next) {
		/* Push the subtree in pre-order, then sort in reverse. */
		size_t base = top;

		stack[top++] = r;
		for (i = base; i < top; i++) {
			for (n = stack[i]->child; n != NULL; n = n->next)
				stack[top++] = n;
		}
		for (i = top; i > base; i--)
			thread_sort_list(&stack[i - 1]->child, &scratch,
			    &alloc);
		top = base;
	}
	thread_sort_list(roots, &scratch, &alloc);
	free(stack);
	free(scratch);
}

/* ---- writing ------------------------------------------------------------ */

/*
 * One thread: "(3 6 (4 23)(44 7 96))" (RFC 5256 5): a node with one
 * child goes on in the same list, with several each child is a list;
 * a dummy has no number.
 */
static void
thread_write(struct imap_session *sess, struct thread_node *root,
	int uid, struct thread_node **stack)
{
	struct thread_node *n = root, *c;
	size_t top = 0, k, j;

	/* stack: a node to open as "(node...", or NULL for ")". */
	imap_printf(sess, "(");
	for (;;) {
		/* A chain: a number, then its only child, and so on. */
		while (n->msg != NULL) {
			imap_printf(sess, "%u", uid ? (unsigned) n->msg->uid :
			    (unsigned) n->msg->seq);
			if (n->nchildren != 1)
				break;
			imap_printf(sess, " ");
			n = n->child;
		}
		if (n->nchildren > 0) {
			if (n->msg != NULL)
				imap_printf(sess, " ");
			/* Each child as "(child...)", the first on top. */
			k = n->nchildren;
			for (j = 0, c = n->child; c != NULL; c = c->next, j++) {
				stack[top + 2 * (k - 1 - j)] = NULL;
				stack[top + 2 * (k - 1 - j) + 1] = c;
			}
			top += 2 * k;
		}
		for (;;) {
			if (top == 0) {
				imap_printf(sess, ")");
				return;
			}
			n = stack[--top];
			if (n != NULL)
				break;
			imap_printf(sess, ")");
		}
		imap_printf(sess, "(");
	}
}

static void
thread_reply(struct imap_session *sess, struct thread_ctx *ctx,
	struct thread_node *roots)
{
	struct thread_node **stack, *r;

	stack = xcalloc(xalloc_mul(ctx->count + 1, 2), sizeof(*stack));
	imap_printf(sess, "* THREAD");
	if (roots != NULL)
		imap_printf(sess, " ");
	for (r = roots; r != NULL; r = r->next)
		thread_write(sess, r, sess->uid_cmd, stack);
	imap_printf(sess, "\r\n");
	free(stack);
}

/* ---- ORDEREDSUBJECT (RFC 5256 3) ---------------------------------------- */

static int
thread_cmp_subject(const void *pa, const void *pb)
{
	const struct imap_sort_msg *a = pa, *b = pb;
	int c = strcmp(a->subject, b->subject);

	return c != 0 ? c : imap_sort_cmp_sent(a, b);
}

static struct thread_node *
thread_orderedsubject(struct thread_ctx *ctx, struct imap_sort_msg *msgs,
	size_t n)
{
	struct thread_node *roots = NULL, *top = NULL, *prev = NULL, *node;
	size_t i;

	qsort(msgs, n, sizeof(*msgs), thread_cmp_subject);
	for (i = 0; i < n; i++) {
		node = thread_node_new(ctx);
		node->msg = &msgs[i];
		if (top != NULL && strcmp(top->msg->subject,
		    msgs[i].subject) == 0) {
			/* Later ones are children of the first, in order. */
			node->parent = top;
			if (prev == top)
				top->child = node;
			else
				prev->next = node;
			top->nchildren++;
			prev = node;
			continue;
		}
		node->next = roots;
		roots = node;
		top = prev = node;
	}
	return roots;
}

/* ---- REFERENCES (RFC 5256 4) --------------------------------------------- */

/* Step 1: link by Message-ID and References. */
static void
thread_link_refs(struct thread_ctx *ctx, struct imap_sort_msg *msgs,
	size_t n)
{
	struct thread_node *node, *prev, *cur;
	size_t i, r;
	int found;

	for (i = 0; i < n; i++) {
		/* (A) the message's own container; a duplicate or a
		 * missing id gets one of its own. */
		node = NULL;
		if (msgs[i].msgid != NULL) {
			node = thread_lookup(ctx, msgs[i].msgid, &found);
			if (found && node->msg != NULL)
				node = NULL;
		}
		if (node == NULL)
			node = thread_node_new(ctx);
		node->msg = &msgs[i];
		/* (B) each reference a child of the one before. */
		prev = NULL;
		for (r = 0; r < msgs[i].nrefs; r++) {
			cur = thread_lookup(ctx, msgs[i].refs[r], &found);
			if (prev != NULL && cur->parent == NULL &&
			    cur != prev && !thread_would_loop(ctx, prev, cur))
				thread_link(prev, cur);
			prev = cur;
		}
		/* (C) the last reference is the parent, replacing any. */
		if (prev != NULL && prev != node &&
		    !thread_would_loop(ctx, prev, node))
			thread_link(prev, node);
		else if (prev == NULL)
			thread_unlink(node);
	}
}

/* Step 4: drop dummies; promote their children (not to the root
 * level unless there is one). */
static void
thread_prune(struct thread_ctx *ctx, struct thread_node **roots)
{
	struct thread_node **queue, *n, *c, *next, **pp;
	size_t head = 0, tail = 0;

	queue = xcalloc(ctx->count + 1, sizeof(*queue));
	/* Root level first. */
	for (pp = roots; (n = *pp) != NULL;) {
		if (n->msg == NULL && n->nchildren == 0) {
			*pp = n->next;
			continue;
		}
		if (n->msg == NULL && n->nchildren == 1) {
			c = n->child;
			c->parent = NULL;
			c->next = n->next;
			*pp = c;
			continue;	/* c is looked at again */
		}
		queue[tail++] = n;
		pp = &n->next;
	}
	/* Below: a dummy's children take its place among its siblings. */
	while (head < tail) {
		struct thread_node *p = queue[head++];

		for (pp = &p->child; (n = *pp) != NULL;) {
			if (n->msg != NULL) {
				queue[tail++] = n;
				pp = &n->next;
				continue;
			}
			next = n->next;
			*pp = n->child;
			p->nchildren--;
			if (n->child == NULL) {
				*pp = next;
				continue;
			}
			for (c = n->child; ; c = c->next) {
				c->parent = p;
				p->nchildren++;
				if (c->next == NULL)
					break;
			}
			c->next = next;
			/* *pp now is the dummy's first child: look again. */
		}
	}
	free(queue);
}

/* The subject of a root: its message's, or a dummy's first child's. */
static const struct imap_sort_msg *
thread_root_msg(const struct thread_node *n)
{
	return n->msg != NULL ? n->msg : n->child != NULL ? n->child->msg :
	    NULL;
}

/* Step 5: merge root threads with the same base subject. */
static void
thread_group_subjects(struct thread_ctx *ctx, struct thread_node **roots)
{
	struct thread_node **table, *n, *t, *next, *c, **pp;
	const struct imap_sort_msg *m;
	const char **keys;
	size_t size = 16, count = 0, i;

	for (n = *roots; n != NULL; n = n->next)
		count++;
	while (size < 2 * count)
		size *= 2;
	table = xcalloc(size, sizeof(*table));
	keys = xcalloc(size, sizeof(*keys));
	/* (A)/(B): one container per subject, preferring a dummy, then a
	 * message that is not a reply. */
	for (n = *roots; n != NULL; n = n->next) {
		m = thread_root_msg(n);
		if (m == NULL || m->subject[0] == '\0')
			continue;
		for (i = (size_t) hash_keyed_str(m->subject) & (size - 1);
		    keys[i] != NULL; i = (i + 1) & (size - 1)) {
			if (strcmp(keys[i], m->subject) == 0)
				break;
		}
		t = table[i];
		keys[i] = m->subject;
		if (t == NULL || (t->msg != NULL && n->msg == NULL) ||
		    (t->msg != NULL && n->msg != NULL && t->msg->reply &&
		    !n->msg->reply))
			table[i] = n;
	}
	/* (C): merge every other root into its subject's container. */
	for (pp = roots; (n = *pp) != NULL;) {
		m = thread_root_msg(n);
		if (m == NULL || m->subject[0] == '\0') {
			pp = &n->next;
			continue;
		}
		for (i = (size_t) hash_keyed_str(m->subject) & (size - 1);
		    strcmp(keys[i], m->subject) != 0;
		    i = (i + 1) & (size - 1))
			;
		t = table[i];
		if (t == n) {
			pp = &n->next;
			continue;
		}
		next = n->next;
		*pp = next;		/* n leaves the root level */
		n->next = NULL;
		if (t->msg == NULL && n->msg == NULL) {
			/* (iii) both dummies: n's children join t's. */
			while ((c = n->child) != NULL) {
				n->child = c->next;
				c->parent = NULL;
				c->next = NULL;
				thread_link(t, c);
			}
			n->nchildren = 0;
		} else if (t->msg == NULL) {
			/* (ii) the message goes under the dummy. */
			thread_link(t, n);
		} else if (n->msg == NULL) {
			/* Cannot be: a dummy would be in the table. */
			thread_link(n, t);
		} else if (n->msg->reply && !t->msg->reply) {
			/* (iv) a reply goes under the original. */
			thread_link(t, n);
		} else {
			/* (iv) otherwise both under a new dummy, which takes
			 * t's place at the root level. */
			struct thread_node *d = thread_node_new(ctx), **tp;

			for (tp = roots; *tp != t; tp = &(*tp)->next)
				;
			d->next = t->next;
			*tp = d;
			if (pp == &t->next)
				pp = &d->next;
			t->next = NULL;
			thread_link(d, n);
			thread_link(d, t);
			table[i] = d;
		}
	}
	free(table);
	free(keys);
}

static struct thread_node *
thread_references(struct thread_ctx *ctx, struct imap_sort_msg *msgs,
	size_t n)
{
	struct thread_node *roots = NULL, **tail = &roots;
	size_t i;

	ctx->table_size = 16;
	while (ctx->table_size < 2 * ctx->alloc)
		ctx->table_size *= 2;
	ctx->table = xcalloc(ctx->table_size, sizeof(*ctx->table));
	thread_link_refs(ctx, msgs, n);
	/* Step 2: the root set, in the pool's order. */
	for (i = 0; i < ctx->count; i++) {
		if (ctx->nodes[i].parent == NULL) {
			*tail = &ctx->nodes[i];
			tail = &ctx->nodes[i].next;
		}
	}
	*tail = NULL;
	/* Step 3: the table is no longer needed. */
	free(ctx->table);
	ctx->table = NULL;
	thread_prune(ctx, &roots);
	thread_group_subjects(ctx, &roots);
	return roots;
}

void
imap_cmd_thread(struct imap_session *sess, struct imap_arg *args,
	size_t count)
{
	struct imap_sort_msg *msgs;
	struct thread_ctx ctx;
	struct thread_node *roots;
	uint32_t *idx;
	uint64_t modseq;
	size_t n, i, nodes;
	int references;

	if (count < 3 || args[0].type != IMAP_ARG_ATOM) {
		imap_tagged(sess, "BAD", "THREAD needs an algorithm, a charset "
		    "and criteria");
		return;
	}
	if (strcasecmp(args[0].str, "REFERENCES") == 0)
		references = 1;
	else if (strcasecmp(args[0].str, "ORDEREDSUBJECT") == 0)
		references = 0;
	else {
		imap_tagged(sess, "BAD", "Unknown threading algorithm");
		return;
	}
	if (imap_search_charset(sess, &args[1]) < 0)
		return;
	if (imap_search_run(sess, args + 2, count - 2, &idx, &n, &modseq) < 0)
		return;
	msgs = imap_sort_collect(sess, idx, n, IMAP_SORT_NEED_SUBJECT |
	    (references ? IMAP_SORT_NEED_REFS : 0));
	free(idx);
	/* Nodes: a message, each reference, and a dummy per subject merge. */
	nodes = xalloc_add(n, n);
	for (i = 0; i < n; i++)
		nodes = xalloc_add(nodes, msgs[i].nrefs + 1);
	memset(&ctx, 0, sizeof(ctx));
	ctx.alloc = nodes;
	ctx.nodes = xcalloc(nodes + 1, sizeof(*ctx.nodes));
	ctx.loop_budget = THREAD_LOOP_BUDGET +
	    (long long) n * THREAD_LOOP_PER_MSG;
	roots = references ? thread_references(&ctx, msgs, n) :
	    thread_orderedsubject(&ctx, msgs, n);
	/* Step 6 (and ORDEREDSUBJECT's order): by sent date. */
	thread_sort_all(&ctx, &roots);
	thread_reply(sess, &ctx, roots);
	free(ctx.nodes);
	imap_sort_msgs_free(msgs, n);
	imap_tagged(sess, "OK", "Thread completed");
}

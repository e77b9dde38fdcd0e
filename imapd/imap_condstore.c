/*
 * imap_condstore: CONDSTORE and QRESYNC (RFC 7162) around SELECT and
 * ENABLE; the MODSEQs themselves live in imap_modseq, FETCH CHANGEDSINCE
 * in imap_fetch, STORE UNCHANGEDSINCE in imap_msgs.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "imap.h"
#include "imap_mailbox.h"
#include "imap_modseq.h"
#include "log.h"
#include "xalloc.h"

int
imap_enable_condstore(struct imap_session *sess, const char *name,
	struct buf *enabled)
{
	int qresync = strcasecmp(name, "QRESYNC") == 0;

	if (!qresync && strcasecmp(name, "CONDSTORE") != 0)
		return 0;
	/* RFC 5161 3.1: only what this command turned on. */
	if (qresync && !sess->qresync)
		(void) buf_append_str(enabled, " QRESYNC");
	else if (!qresync && !sess->condstore)
		(void) buf_append_str(enabled, " CONDSTORE");
	/* QRESYNC implies CONDSTORE (RFC 7162 3.2.3). */
	sess->condstore = 1;
	if (qresync)
		sess->qresync = 1;
	return 1;
}

static int
imap_parse_uid32(const struct imap_arg *arg, uint32_t *uid_r)
{
	uint64_t n;

	if (imap_parse_modseq(arg, &n) < 0 || n == 0 || n > UINT32_MAX)
		return -1;
	*uid_r = (uint32_t) n;
	return 0;
}

int
imap_select_params(struct imap_session *sess, const struct imap_arg *arg,
	struct imap_qresync *qr)
{
	const struct imap_arg *p, *q;
	struct imap_seqset set;
	size_t i;

	memset(qr, 0, sizeof(*qr));
	if (arg->type != IMAP_ARG_LIST)
		goto bad;
	for (i = 0; i < arg->count; i++) {
		p = &arg->list[i];
		if (p->type != IMAP_ARG_ATOM)
			goto bad;
		if (strcasecmp(p->str, "CONDSTORE") == 0) {
			sess->condstore = 1;
			continue;
		}
		if (strcasecmp(p->str, "QRESYNC") != 0 || i + 1 == arg->count)
			goto bad;
		if (!sess->qresync) {
			imap_tagged(sess, "BAD", "QRESYNC is not enabled");
			return -1;
		}
		q = &arg->list[++i];
		/* seq-match data (a 4th element) is accepted and unused. */
		if (q->type != IMAP_ARG_LIST || q->count < 2 ||
		    q->count > 4 || qr->present ||
		    imap_parse_uid32(&q->list[0], &qr->uidvalidity) < 0 ||
		    imap_parse_modseq(&q->list[1], &qr->modseq) < 0 ||
		    qr->modseq == 0)
			goto bad;
		if (q->count >= 3) {
			if (q->list[2].type != IMAP_ARG_ATOM ||
			    imap_seqset_parse(q->list[2].str, &set) < 0)
				goto bad;
			imap_seqset_free(&set);
			qr->known_uids = q->list[2].str;
		}
		if (q->count == 4 && q->list[3].type != IMAP_ARG_LIST)
			goto bad;
		qr->present = 1;
	}
	return 0;
bad:
	imap_tagged(sess, "BAD", "Bad SELECT parameters");
	return -1;
}

/* Append the part of lo:hi within known (NULL: all) as uid-set ranges. */
static void
imap_gap_write(struct buf *out, uint32_t lo, uint32_t hi,
	const struct imap_seqset *known, size_t *k)
{
	uint32_t from, to;

	while (known != NULL && *k < known->count &&
	    known->ranges[*k][1] < lo)
		(*k)++;
	for (;;) {
		from = lo;
		to = hi;
		if (known != NULL) {
			if (*k == known->count || known->ranges[*k][0] > hi)
				return;
			if (known->ranges[*k][0] > from)
				from = known->ranges[*k][0];
			if (known->ranges[*k][1] < to)
				to = known->ranges[*k][1];
		}
		(void) buf_printf(out, "%s%u", buf_len(out) > 0 ? "," : "",
		    (unsigned) from);
		if (to > from)
			(void) buf_printf(out, ":%u", (unsigned) to);
		if (known == NULL || known->ranges[*k][1] >= hi)
			return;
		(*k)++;
	}
}

void
imap_vanished_earlier(struct imap_session *sess, uint64_t modseq,
	const struct imap_seqset *known)
{
	struct imap_mailbox *box = sess->box;
	struct imap_modseq *ms;
	struct buf *out;
	uint32_t *uids, *kept, uid, next;
	size_t count, n = 0, i, m, k;
	char *error = NULL;
	int complete;

	if (box->vanished_ready && box->vanished_since == modseq) {
		/* Read by SELECT's open: the record is not read again. */
		complete = box->vanished_complete;
		uids = box->vanished;
		count = box->vanished_count;
		box->vanished = NULL;
		box->vanished_ready = 0;
	} else {
		if ((ms = imap_modseq_begin(box->dir, &error)) == NULL) {
			log_error("%s: %s", box->dir, error);
			free(error);
			return;
		}
		complete = imap_modseq_vanished(ms, modseq, &uids, &count);
		(void) imap_modseq_end(&ms, &error);
		free(error);
	}
	if (complete) {
		kept = uids;
		for (i = 0; i < count; i++) {
			if (known == NULL ||
			    imap_seqset_contains(known, uids[i]))
				kept[n++] = uids[i];
		}
		out = buf_new(xalloc_add(xalloc_mul(n, 11), 64));
		(void) imap_uid_ranges(out, kept, n);
	} else {
		/* The gaps between the UIDs we have, within known. */
		out = buf_new(xalloc_add(xalloc_mul(xalloc_add(box->count + 1,
		    known != NULL ? known->count : 0), 22), 64));
		uid = 1;
		k = 0;
		for (m = 0; m <= box->count; m++) {
			next = m < box->count ? box->msgs[m].uid : box->uidnext;
			if (next > uid)
				imap_gap_write(out, uid, next - 1, known, &k);
			uid = next + 1;
		}
	}
	if (buf_len(out) > 0) {
		imap_printf(sess, "* VANISHED (EARLIER) ");
		imap_write(sess, buf_cstr(out), buf_len(out));
		imap_printf(sess, "\r\n");
	}
	buf_free(&out);
	free(uids);
}

void
imap_select_condstore(struct imap_session *sess,
	const struct imap_qresync *qr)
{
	struct imap_mailbox *box = sess->box;
	struct imap_seqset known;
	size_t i;

	if (box->highestmodseq == 0) {
		imap_printf(sess, "* OK [NOMODSEQ] No MODSEQs here\r\n");
		return;
	}
	imap_printf(sess, "* OK [HIGHESTMODSEQ %llu] Highest\r\n",
	    (unsigned long long) box->highestmodseq);
	if (!qr->present || qr->uidvalidity != box->uidvalidity)
		return;
	if (qr->known_uids != NULL &&
	    imap_seqset_parse(qr->known_uids, &known) == 0) {
		imap_seqset_resolve(&known, box->uidnext);
		imap_vanished_earlier(sess, qr->modseq, &known);
		imap_seqset_free(&known);
	} else {
		imap_vanished_earlier(sess, qr->modseq, NULL);
	}
	for (i = 0; i < box->count; i++) {
		if (box->msgs[i].modseq <= qr->modseq)
			continue;
		imap_write_flags_fetch(sess, i + 1, &box->msgs[i]);
	}
}

/*
 * imap_searchres: the saved search result, "$" (RFC 5182 SEARCHRES, part
 * of IMAP4rev2: RFC 9051 6.4.4.1).
 *
 * SEARCH RETURN (SAVE ...) keeps its result in the session as UID
 * ranges, so an expunged message drops out of "$" by itself (its UID
 * never comes back) and "$" names the same messages in SEARCH, FETCH,
 * STORE, COPY, MOVE, EXPUNGE and their UID forms.  The ranges are made
 * from the hits in one ascending pass: at most one range per hit, so
 * the set is bounded by the folder's message count.  SELECT, EXAMINE,
 * CLOSE, UNSELECT and a failed SEARCH ... SAVE empty it; an empty or
 * never saved "$" is the empty set.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap.h"
#include "imap_mailbox.h"
#include "imap_parse.h"
#include "xalloc.h"

int
imap_searchres_is(const char *text)
{
	return text[0] == '$' && text[1] == '\0';
}

void
imap_searchres_clear(struct imap_session *sess)
{
	if (sess->searchres == NULL)
		return;
	imap_seqset_free(sess->searchres);
	free(sess->searchres);
	sess->searchres = NULL;
}

/* Append uid to set (ascending UIDs): one range per run. */
static void
searchres_add(struct imap_seqset *set, size_t *alloc, uint32_t uid)
{
	if (set->count > 0 && set->ranges[set->count - 1][1] + 1 == uid) {
		set->ranges[set->count - 1][1] = uid;
		return;
	}
	if (set->count == *alloc) {
		*alloc = *alloc == 0 ? 16 : *alloc * 2;
		set->ranges = xreallocarray(set->ranges, *alloc,
		    sizeof(*set->ranges));
	}
	set->ranges[set->count][0] = uid;
	set->ranges[set->count][1] = uid;
	set->count++;
}

void
imap_searchres_save(struct imap_session *sess, const uint32_t *idx,
	size_t n, unsigned int opts)
{
	const struct imap_mailbox *box = sess->box;
	struct imap_seqset *set;
	size_t alloc = 0, i;

	imap_searchres_clear(sess);
	set = xcalloc(1, sizeof(*set));
	sess->searchres = set;
	if (n == 0)
		return;
	/*
	 * RFC 5182 2.1: with MIN and/or MAX and neither ALL nor COUNT, only
	 * the message(s) they name are saved; otherwise the whole result.
	 */
	if ((opts & (IMAP_ESEARCH_MIN | IMAP_ESEARCH_MAX)) != 0 &&
	    (opts & (IMAP_ESEARCH_ALL | IMAP_ESEARCH_COUNT)) == 0) {
		if (opts & IMAP_ESEARCH_MIN)
			searchres_add(set, &alloc, box->msgs[idx[0]].uid);
		if ((opts & IMAP_ESEARCH_MAX) &&
		    !((opts & IMAP_ESEARCH_MIN) && n == 1))
			searchres_add(set, &alloc, box->msgs[idx[n - 1]].uid);
		return;
	}
	for (i = 0; i < n; i++)
		searchres_add(set, &alloc, box->msgs[idx[i]].uid);
}

int
imap_searchres_copy(const struct imap_session *sess,
	struct imap_seqset *set_r)
{
	set_r->ranges = NULL;
	set_r->count = 0;
	if (sess->searchres == NULL || sess->searchres->count == 0)
		return 0;
	set_r->count = sess->searchres->count;
	set_r->ranges = xreallocarray(NULL, set_r->count,
	    sizeof(*set_r->ranges));
	memcpy(set_r->ranges, sess->searchres->ranges,
	    set_r->count * sizeof(*set_r->ranges));
	return 0;
}

int
imap_uidset_parse(const struct imap_session *sess, const char *text,
	struct imap_seqset *set_r)
{
	if (imap_searchres_is(text))
		return imap_searchres_copy(sess, set_r);
	return imap_seqset_parse(text, set_r);
}

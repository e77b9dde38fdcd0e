/*
 * imap_list: LIST (with LIST-EXTENDED, RFC 5258) and LSUB over the
 * store's folder names and subscriptions (imap_folder.h).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "imap.h"
#include "imap_folder.h"
#include "xalloc.h"

/*
 * LIST wildcards: '*' matches anything, '%' anything but the separator.
 * A table over pattern x name, so no pattern can take exponential time.
 */
static int
imap_wildcard_match(const char *pattern, const char *name)
{
	size_t pl = strlen(pattern), nl = strlen(name), i, j;
	unsigned char *prev = xcalloc(nl + 1, 1), *cur = xcalloc(nl + 1, 1);
	unsigned char *swap;
	char c;
	int ret;

	prev[0] = 1;
	for (i = 0; i < pl; i++) {
		c = pattern[i];
		cur[0] = prev[0] && (c == '*' || c == '%');
		for (j = 1; j <= nl; j++) {
			if (c == '*')
				cur[j] = prev[j] || cur[j - 1];
			else if (c == '%')
				cur[j] = prev[j] || (cur[j - 1] &&
				    name[j - 1] != '.');
			else
				cur[j] = prev[j - 1] && name[j - 1] == c;
		}
		swap = prev;
		prev = cur;
		cur = swap;
	}
	ret = prev[nl];
	free(prev);
	free(cur);
	return ret;
}

/* Match a name; INBOX matches case-insensitively. */
static int
imap_list_match(const char *pattern, const char *name)
{
	char *copy;
	int ret;

	if (strcmp(name, "INBOX") != 0 || strncasecmp(pattern, "INBOX", 5) != 0)
		return imap_wildcard_match(pattern, name);
	copy = xstrdup(pattern);
	memcpy(copy, "INBOX", 5);
	ret = imap_wildcard_match(copy, name);
	free(copy);
	return ret;
}

/* Add copies of extra to *names (INBOX first, the rest sorted again). */
static void
imap_names_merge(char ***names, size_t *count, char **extra,
	size_t extra_count)
{
	size_t n = *count, i;

	if (extra_count == 0)
		return;
	*names = xreallocarray(*names, n + extra_count, sizeof(**names));
	for (i = 0; i < extra_count; i++)
		(*names)[n + i] = xstrdup(extra[i]);
	*count = n + extra_count;
	qsort(*names + 1, *count - 1, sizeof(**names), imap_name_cmp);
}

/*
 * Add the missing parents of the names (".A.B" without ".A": "A") to
 * *names, sorted again, and return them as a list of their own (the
 * strings are copies).  LIST shows them \Noselect (RFC 3501 6.3.8).
 */
static char **
imap_missing_parents(char ***names, size_t *count, size_t *ghost_count_r)
{
	char **ghosts = NULL, *parent, *dot, *key;
	size_t ghost_count = 0, alloc = 0, n = *count, i;

	for (i = 1; i < n; i++) {
		for (dot = strchr((*names)[i], '.'); dot != NULL;
		    dot = strchr(dot + 1, '.')) {
			parent = xstrndup((*names)[i],
			    (size_t) (dot - (*names)[i]));
			key = parent;
			if (bsearch(&key, *names + 1, n - 1, sizeof(**names),
			    imap_name_cmp) != NULL) {
				free(parent);
				continue;
			}
			if (ghost_count == alloc) {
				alloc = alloc == 0 ? 16 : alloc * 2;
				ghosts = xreallocarray(ghosts, alloc,
				    sizeof(*ghosts));
			}
			ghosts[ghost_count++] = parent;
		}
	}
	/* Repeats go once, by sorting (not a search per parent). */
	ghost_count = imap_names_sort_unique(ghosts, ghost_count);
	imap_names_merge(names, count, ghosts, ghost_count);
	*ghost_count_r = ghost_count;
	return ghosts;
}

#define LIST_SUBSCRIBED		0x01	/* selection: subscribed only */
#define LIST_SPECIAL_USE	0x02	/* selection: special-use only */
#define LIST_RET_SUBSCRIBED	0x04
#define LIST_RECURSIVEMATCH	0x08	/* selection: CHILDINFO of parents */

/*
 * LIST-EXTENDED options (RFC 5258 3): an unknown selection option is
 * BAD, and so is RECURSIVEMATCH without a selection option it could
 * apply to (alone, or with REMOTE only).
 */
static int
imap_list_options(struct imap_session *sess, const struct imap_arg *arg,
	int selection, unsigned int *opts, const struct imap_arg **status_r)
{
	const char *option;
	size_t i;

	for (i = 0; i < arg->count; i++) {
		if (arg->list[i].type != IMAP_ARG_ATOM)
			return -1;
		option = arg->list[i].str;
		/* RFC 5819: RETURN (STATUS (items)). */
		if (!selection && strcasecmp(option, "STATUS") == 0) {
			if (i + 1 == arg->count || *status_r != NULL ||
			    imap_status_items_check(sess,
			    &arg->list[i + 1]) < 0)
				return -1;
			*status_r = &arg->list[++i];
			continue;
		}
		if (strcasecmp(option, "SUBSCRIBED") == 0)
			*opts |= selection ? LIST_SUBSCRIBED | LIST_RET_SUBSCRIBED
			    : LIST_RET_SUBSCRIBED;
		else if (strcasecmp(option, "SPECIAL-USE") == 0)
			*opts |= selection ? LIST_SPECIAL_USE : 0;
		else if (selection && strcasecmp(option, "RECURSIVEMATCH") == 0)
			*opts |= LIST_RECURSIVEMATCH;
		else if (strcasecmp(option, "REMOTE") == 0 ||
		    (!selection && strcasecmp(option, "CHILDREN") == 0))
			continue;
		else
			return -1;
	}
	if (selection && (*opts & LIST_RECURSIVEMATCH) &&
	    !(*opts & (LIST_SUBSCRIBED | LIST_SPECIAL_USE)))
		return -1;
	return 0;
}

/*
 * For LIST (SUBSCRIBED): the subscribed names that are no folder join
 * the list (shown \NonExistent, RFC 5258 3.1), in names and in a list
 * of their own.
 */
static char **
imap_add_unknown_subs(char ***names, size_t *count, char **subs,
	size_t sub_count, size_t *unknown_count_r)
{
	char **unknown = NULL, *key;
	size_t unknown_count = 0, n = *count, i;

	unknown = xcalloc(sub_count + 1, sizeof(*unknown));
	for (i = 0; i < sub_count; i++) {
		key = subs[i];
		if (strcasecmp(key, "INBOX") == 0 || bsearch(&key, *names + 1,
		    n - 1, sizeof(**names), imap_name_cmp) != NULL)
			continue;
		unknown[unknown_count++] = xstrdup(key);
	}
	unknown_count = imap_names_sort_unique(unknown, unknown_count);
	imap_names_merge(names, count, unknown, unknown_count);
	*unknown_count_r = unknown_count;
	return unknown;
}

static void
imap_list_reply(struct imap_session *sess, const char *verb,
	const char *name, const char *attrs, const char *extended)
{
	imap_printf(sess, "* %s (%s) \".\" ", verb, attrs);
	imap_write_mailbox(sess, name);
	imap_printf(sess, "%s\r\n", extended);
}

void
imap_cmd_list(struct imap_session *sess, struct imap_arg *args, size_t count)
{
	const struct imap_arg *patterns;
	char **names, **subs, **ghosts, **unknown = NULL, *pattern;
	const char *ref, *special;
	size_t name_count, sub_count, ghost_count, pattern_count, i, p;
	size_t first = 0, unknown_count = 0;
	unsigned int opts = 0;
	const struct imap_arg *status = NULL;
	struct buf *attrs;
	struct imap_name_set all, sub_set, ghost_set, unknown_set;
	int matched, childinfo, subscribed, nonexistent, ghost;

	if (count >= 1 && args[0].type == IMAP_ARG_LIST) {
		if (imap_list_options(sess, &args[0], 1, &opts,
		    &status) < 0) {
			imap_tagged(sess, "BAD", "Bad LIST selection option");
			return;
		}
		first = 1;
	}
	if (count == first + 4 && args[first + 2].type == IMAP_ARG_ATOM &&
	    strcasecmp(args[first + 2].str, "RETURN") == 0 &&
	    args[first + 3].type == IMAP_ARG_LIST) {
		if (imap_list_options(sess, &args[first + 3], 0, &opts,
		    &status) < 0) {
			imap_tagged(sess, "BAD", "Bad LIST return option");
			return;
		}
		count -= 2;
	}
	if (count != first + 2 || (ref = imap_arg_astring(&args[first])) ==
	    NULL || (args[first + 1].type == IMAP_ARG_LIST &&
	    args[first + 1].count == 0)) {
		imap_tagged(sess, "BAD", "LIST needs a reference and a "
		    "pattern");
		return;
	}
	patterns = &args[first + 1];
	pattern_count = 1;
	if (patterns->type == IMAP_ARG_LIST) {
		pattern_count = patterns->count;
		patterns = patterns->list;
	}
	for (p = 0; p < pattern_count; p++) {
		if (patterns[p].type == IMAP_ARG_LIST ||
		    patterns[p].len > IMAP_NAME_MAX + 16 ||
		    strlen(ref) > IMAP_NAME_MAX) {
			imap_tagged(sess, "BAD", "Bad LIST pattern");
			return;
		}
	}
	if (pattern_count == 1 && patterns[0].len == 0) {
		imap_printf(sess, "* LIST (\\Noselect) \".\" \"\"\r\n");
		imap_tagged(sess, "OK", "List completed");
		return;
	}
	names = imap_folder_names(sess, &name_count);
	subs = imap_subscriptions_read(sess, &sub_count);
	if (opts & LIST_SUBSCRIBED)
		unknown = imap_add_unknown_subs(&names, &name_count, subs,
		    sub_count, &unknown_count);
	ghosts = imap_missing_parents(&names, &name_count, &ghost_count);
	imap_name_set_init(&all, names, name_count);
	imap_name_set_init(&sub_set, subs, sub_count);
	imap_name_set_init(&ghost_set, ghosts, ghost_count);
	imap_name_set_init(&unknown_set, unknown, unknown_count);
	attrs = buf_new(256);
	for (i = 0; i < name_count; i++) {
		matched = 0;
		for (p = 0; p < pattern_count && !matched; p++) {
			pattern = xasprintf("%s%s", ref, patterns[p].str);
			matched = imap_list_match(pattern, names[i]);
			free(pattern);
		}
		special = imap_folder_special_use(names[i]);
		if (!matched || ((opts & LIST_SPECIAL_USE) && special == NULL))
			continue;
		subscribed = imap_name_set_contains(&sub_set, names[i]);
		/* RECURSIVEMATCH: a parent of a subscribed name. */
		childinfo = (opts & LIST_RECURSIVEMATCH) &&
		    (opts & LIST_SUBSCRIBED) &&
		    imap_name_set_has_children(&sub_set, names[i]);
		if ((opts & LIST_SUBSCRIBED) && !subscribed && !childinfo)
			continue;
		ghost = imap_name_set_contains(&ghost_set, names[i]);
		nonexistent = imap_name_set_contains(&unknown_set, names[i]) ||
		    ((opts & LIST_SUBSCRIBED) && ghost &&
		    !imap_name_set_has_children(&all, names[i]));
		buf_reset(attrs);
		if (nonexistent)
			(void) buf_append_str(attrs, "\\NonExistent ");
		else if (ghost)
			(void) buf_append_str(attrs, "\\Noselect ");
		(void) buf_append_str(attrs, imap_name_set_has_children(&all,
		    names[i]) ? "\\HasChildren" : "\\HasNoChildren");
		if (special != NULL)
			(void) buf_printf(attrs, " %s", special);
		if ((opts & LIST_RET_SUBSCRIBED) && subscribed)
			(void) buf_append_str(attrs, " \\Subscribed");
		imap_list_reply(sess, "LIST", names[i], buf_cstr(attrs),
		    childinfo ? " (\"CHILDINFO\" (\"SUBSCRIBED\"))" : "");
		/* Selectable ones only; a mailbox that fails is left out. */
		if (status != NULL && !nonexistent && !ghost)
			(void) imap_status_write(sess, names[i], status);
	}
	buf_free(&attrs);
	imap_name_set_free(&all);
	imap_name_set_free(&sub_set);
	imap_name_set_free(&ghost_set);
	imap_name_set_free(&unknown_set);
	imap_names_free(names, name_count);
	imap_names_free(unknown, unknown_count);
	imap_names_free(ghosts, ghost_count);
	imap_names_free(subs, sub_count);
	imap_tagged(sess, "OK", "List completed");
}

void
imap_cmd_lsub(struct imap_session *sess, struct imap_arg *args, size_t count)
{
	char **subs, **shown, **parents = NULL, *pattern, *parent, *dot;
	const char *ref, *pat;
	size_t sub_count, shown_count = 0, parent_count = 0, i;
	struct imap_name_set sub_set;

	if (count != 2 || (ref = imap_arg_astring(&args[0])) == NULL ||
	    args[1].type == IMAP_ARG_LIST || strlen(ref) > IMAP_NAME_MAX ||
	    args[1].len > IMAP_NAME_MAX + 16) {
		imap_tagged(sess, "BAD", "LSUB needs a reference and a "
		    "pattern");
		return;
	}
	pat = args[1].str;
	subs = imap_subscriptions_read(sess, &sub_count);
	imap_name_set_init(&sub_set, subs, sub_count);
	pattern = xasprintf("%s%s", ref, pat);
	/*
	 * A subscribed name the pattern does not match (its '%' stops at a
	 * separator) shows its parents that it does match, \Noselect when
	 * they are not subscribed themselves (RFC 3501 6.3.9).
	 */
	shown = xcalloc(sub_count + 1, sizeof(*shown));
	for (i = 0; i < sub_count; i++) {
		if (imap_list_match(pattern, subs[i])) {
			shown[shown_count++] = xstrdup(subs[i]);
			continue;
		}
		for (dot = strchr(subs[i], '.'); dot != NULL;
		    dot = strchr(dot + 1, '.')) {
			parent = xstrndup(subs[i], (size_t) (dot - subs[i]));
			if (imap_list_match(pattern, parent) &&
			    !imap_name_set_contains(&sub_set, parent)) {
				parents = xreallocarray(parents,
				    parent_count + 1, sizeof(*parents));
				parents[parent_count++] = parent;
				break;
			}
			free(parent);
		}
	}
	if (parent_count > 1)
		qsort(parents, parent_count, sizeof(*parents), imap_name_cmp);
	for (i = 0; i < shown_count; i++)
		imap_list_reply(sess, "LSUB", shown[i], "", "");
	for (i = 0; i < parent_count; i++) {
		if (i == 0 || strcmp(parents[i], parents[i - 1]) != 0)
			imap_list_reply(sess, "LSUB", parents[i],
			    "\\Noselect", "");
	}
	free(pattern);
	imap_name_set_free(&sub_set);
	imap_names_free(shown, shown_count);
	imap_names_free(parents, parent_count);
	imap_names_free(subs, sub_count);
	imap_tagged(sess, "OK", "Lsub completed");
}


/*
 * imap_folder.h: what imap_folder.c shares with imap_list.c (internal to
 * imapd): the store's folder names and its subscriptions, as arrays of
 * strings the caller frees with imap_names_free.
 */
#ifndef ISPMAIL_IMAP_FOLDER_H
#define ISPMAIL_IMAP_FOLDER_H

#include <stddef.h>

struct imap_session;

#define IMAP_NAME_MAX 255

/* strcmp of two names, for qsort and bsearch over char *. */
int imap_name_cmp(const void *a, const void *b);
void imap_names_free(char **names, size_t count);
/* Every folder name (INBOX first, the rest sorted). */
char **imap_folder_names(struct imap_session *sess, size_t *count_r);
/* The subscriptions file, one name a line. */
char **imap_subscriptions_read(struct imap_session *sess, size_t *count_r);
int imap_names_contain(char **names, size_t count, const char *name);
/* Has a name in names name as its parent (or further up)? */
int imap_has_children(char **names, size_t count, const char *name);

/*
 * A sorted view of a names array for LIST and LSUB, so each lookup is
 * log n (a LIST of n folders is n log n, not n^2).  The set holds
 * pointers to the caller's strings (it does not own them); NULL
 * entries are left out.
 */
struct imap_name_set {
	char **sorted;
	size_t count;
};
void imap_name_set_init(struct imap_name_set *set, char **names,
	size_t count);
void imap_name_set_free(struct imap_name_set *set);
int imap_name_set_contains(const struct imap_name_set *set, const char *name);
/* Is there a name below name ("name.x...") in the set? */
int imap_name_set_has_children(const struct imap_name_set *set,
	const char *name);
/* Sort names and free the repeats; returns the new count. */
size_t imap_names_sort_unique(char **names, size_t count);

#endif

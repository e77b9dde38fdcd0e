/*
 * route_file_int: what the files of the file backend share
 * (route_file_table.c: hash tables and map checks; route_file_parse.c:
 * the parser; route_file.c: load, refresh, getters, the backend ops;
 * route_file_write.c: the writer, put and delete).  Nothing outside
 * common/route/route_file*.c includes it.
 */
#ifndef ISPMAIL_ROUTE_FILE_INT_H
#define ISPMAIL_ROUTE_FILE_INT_H

#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "route.h"

/* A chained hash table of string keys; the map; the backend handle. */
struct rf_entry {
	struct rf_entry *next;
	char *key;
	unsigned line;			/* where the record was; 0 = written */
	void *value;
};

struct rf_table {
	struct rf_entry **buckets;
	size_t size, count;
};

struct rf_map {
	struct rf_table domains;	/* name -> struct route_domain */
	struct rf_table mailboxes;	/* address -> struct route_mailbox */
	struct rf_table alts;		/* alternate -> the mailbox (shared) */
	struct rf_table aliases;	/* address -> struct route_alias */
	struct rf_table recipients;	/* address -> NULL */
};

struct rf_stamp {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

struct route_file {
	char *path;
	struct rf_map *map;		/* the last good map, or NULL */
	int have_stamp;			/* stamp is of the last load attempt */
	struct rf_stamp stamp;
	int missing;			/* the last attempt found no file */
	char *error;			/* why the last attempt failed */
	struct timespec checked;	/* when the file was last stat()ed */
};

/* route_file_table.c */
/* The entry of key, or NULL. */
struct rf_entry *
rf_find(const struct rf_table *t, const char *key);
/* Add a key that is not there yet; the table takes key. */
struct rf_entry *
rf_add(struct rf_table *t, char *key, void *value, unsigned line);
/* Unlink key's entry and return its value (NULL when absent). */
void *
rf_remove(struct rf_table *t, const char *key);
/* The entries sorted by key (the array only; caller frees it). */
struct rf_entry **
rf_sorted(const struct rf_table *t);
/* Free the map and its records; NULLs *mapp. */
void
rf_map_free(struct rf_map **mapp);
/* What already holds an address key, or NULL. */
const char *
rf_key_owner(const struct rf_map *map, const char *key, unsigned *line_r);
/* The domain of a normalised address. */
const char *
rf_domain_of(const char *address);
/*
 * Is the map consistent: every address in a declared domain of the right
 * kind, every alias domain pointing at a declared domain?  NULL when it
 * is, else the reason (new string) and *line_r the record's line.
 */
char *
rf_map_check(const struct rf_map *map, unsigned *line_r);

/* route_file_parse.c */
/* The names of enum route_mailbox_state and route_filter_policy. */
extern const char *const rf_state_names[];
extern const char *const rf_filter_names[];
/*
 * Parse a whole map text.  NULL with *error_r "path:line: reason" when
 * any record is bad: the map is taken whole or not at all.
 */
struct rf_map *
rf_parse(const char *path, char *text, size_t len, char **error_r);

/* route_file.c */
/* A file version (device, inode, size, mtime); equal when unchanged. */
void
rf_stamp_of(const struct stat *st, struct rf_stamp *stamp);
int
rf_stamp_equal(const struct rf_stamp *a, const struct rf_stamp *b);
/*
 * Read and parse the map now.  1 parsed (*map_r), 0 the file does not
 * exist, -1 unreadable or bad (*error_r).  *stamp_r is the file's.
 */
int
rf_load(const char *path, struct rf_map **map_r, struct rf_stamp *stamp_r,
	char **error_r);
/* A deep copy of a. */
struct route_alias *
rf_alias_dup(const struct route_alias *a);

/* route_file_write.c: the backend ops' writers (route_backend.h). */
int
rf_domain_put(void *backend, const struct route_domain *domain,
	int create_only, char **error_r);
int
rf_domain_delete(void *backend, const char *name, char **error_r);
int
rf_mailbox_put(void *backend, const struct route_mailbox *mailbox,
	int create_only, char **error_r);
int
rf_mailbox_delete(void *backend, const char *address, char **error_r);
int
rf_alias_put(void *backend, const struct route_alias *alias,
	int create_only, char **error_r);
int
rf_alias_delete(void *backend, const char *address, char **error_r);
int
rf_relay_recipient_put(void *backend, const char *address, char **error_r);
int
rf_relay_recipient_delete(void *backend, const char *address,
	char **error_r);

#endif

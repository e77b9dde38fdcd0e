/*
 * maildir_fixture: what the Check programs of common/maildir share
 * (check_maildir: delivery, scan, flags; check_maildir_quota: quota).
 *
 * The checked fixture makes a scratch directory per test with a fresh
 * store (no quota) in it; the helpers read, write and count files and
 * deliver a message, failing the test when something does not work.
 */
#ifndef ISPMAIL_MAILDIR_FIXTURE_H
#define ISPMAIL_MAILDIR_FIXTURE_H

#include <stddef.h>
#include <time.h>

struct buf;
struct Suite;

#define T(s)	s, sizeof(s) - 1

/* The current test's directory, and root/store: a fresh store, no quota. */
extern char root[];
extern char *store;

/* The checked fixture: the directory and its store per test. */
void maildir_fixture_setup(void);
void maildir_fixture_teardown(void);
/* For main(): run suite, the exit status. */
int maildir_fixture_run(struct Suite *suite);

/* A file's whole contents (binary safe); NULL when it cannot be read. */
struct buf *slurp(const char *path);
/* Write data to path (created or truncated). */
void spew(const char *path, const void *data, size_t len);
/* Entries of dir, not counting "." and "..". */
int count_files(const char *dir);
/* Entries of folder/sub. */
int count_sub(const char *folder, const char *sub);
/* Deliver data (in one write) to folder; returns the name (caller frees). */
char *deliver(const char *folder, const char *data, size_t len,
	const char *flags, time_t mtime, long long *size_r);
/* Check "<sec>.M<usec>P<pid>Q<n>.<host>,S=<s>,W=<w>" plus the info. */
void assert_name(const char *name, long long s, long long w,
	const char *info);

#endif

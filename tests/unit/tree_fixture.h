/*
 * tree_fixture: remove a test's temporary directory tree without a
 * shell (no system("rm -rf"), no symlink followed).
 */
#ifndef ISPMAIL_TREE_FIXTURE_H
#define ISPMAIL_TREE_FIXTURE_H

/* Remove dir and everything under it; errors are ignored. */
void tree_fixture_remove(const char *dir);

#endif

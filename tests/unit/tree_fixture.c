/* tree_fixture: remove a test directory tree; see tree_fixture.h. */
#include "config.h"

#include <ftw.h>
#include <stdio.h>

#include "tree_fixture.h"

static int
tree_fixture_entry(const char *path, const struct stat *st, int flag,
	struct FTW *ftw)
{
	(void) st;
	(void) flag;
	(void) ftw;
	(void) remove(path);
	return 0;
}

void
tree_fixture_remove(const char *dir)
{
	(void) nftw(dir, tree_fixture_entry, 16, FTW_DEPTH | FTW_PHYS);
}

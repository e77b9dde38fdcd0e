/* params_fixture: a directory for the params tests (params_fixture.h). */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mail_params.h"
#include "params.h"
#include "params_fixture.h"
#include "xalloc.h"

char tmpdir[] = "/tmp/check_params.XXXXXX";

void
params_fixture_setup(void)
{
	params_init();
}

static int
remove_entry(const char *path, const struct stat *st, int flag,
	struct FTW *ftw)
{
	(void) st;
	(void) flag;
	(void) ftw;
	return remove(path);
}

int
params_fixture_run(Suite *suite)
{
	SRunner *sr;
	int failed;

	if (mkdtemp(tmpdir) == NULL) {
		perror("check_params: mkdtemp");
		return EXIT_FAILURE;
	}
	sr = srunner_create(suite);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	(void) nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* params_fixture: a directory for the params tests (params_fixture.h). */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mail_params.h"
#include "params.h"
#include "params_fixture.h"
#include "tree_fixture.h"
#include "xalloc.h"

char tmpdir[] = "/tmp/check_params.XXXXXX";

void
params_fixture_setup(void)
{
	params_init();
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
	tree_fixture_remove(tmpdir);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

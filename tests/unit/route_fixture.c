/* route_fixture: a routing directory per test (route_fixture.h). */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "params.h"
#include "route.h"
#include "route_fixture.h"
#include "tree_fixture.h"
#include "xalloc.h"

char *route_fixture_testdir;
char *route_fixture_map_path;
/* One directory for all tests, made before the forks. */
static char *route_fixture_tmpdir;
static const char *route_fixture_name;

void
route_fixture_set_param(const char *name, const char *value)
{
	char *error = NULL;

	ck_assert_msg(params_set(name, value, &error) == 0, "%s: %s", name,
	    error);
}

void
route_fixture_setup(void)
{
	route_fixture_testdir = xasprintf("%s/t.XXXXXX", route_fixture_tmpdir);
	ck_assert_ptr_nonnull(mkdtemp(route_fixture_testdir));
	route_fixture_map_path = xasprintf("%s/routes", route_fixture_testdir);
	params_init();
	log_init(route_fixture_name, LOG_TARGET_STDERR, NULL);
	route_fixture_set_param("route_backend", "file");
	route_fixture_set_param("route_file", route_fixture_map_path);
	/* Reload tests change the map and look it up at once. */
	route_fixture_set_param("route_file_check_interval", "0");
}

void
route_fixture_teardown(void)
{
	xfree(route_fixture_map_path);
	xfree(route_fixture_testdir);
}

void
route_fixture_write_map(const char *text)
{
	char *tmp = xasprintf("%s.edit", route_fixture_map_path);
	FILE *fp = fopen(tmp, "w");

	ck_assert_ptr_nonnull(fp);
	ck_assert_int_eq(fputs(text, fp) >= 0, 1);
	ck_assert_int_eq(fclose(fp), 0);
	ck_assert_int_eq(rename(tmp, route_fixture_map_path), 0);
	free(tmp);
}

char *
route_fixture_read_map(void)
{
	FILE *fp = fopen(route_fixture_map_path, "r");
	char *text = NULL;
	size_t size = 0;
	ssize_t n;

	ck_assert_ptr_nonnull(fp);
	n = getdelim(&text, &size, '\0', fp);
	ck_assert_int_ge(n, 0);
	fclose(fp);
	return text;
}

struct route *
route_fixture_open(void)
{
	char *error = NULL;
	struct route *r = route_open(&error);

	ck_assert_msg(r != NULL, "route_open: %s", error);
	ck_assert_str_eq(route_backend_name(r), "file");
	return r;
}

int
route_fixture_run(struct Suite *suite, const char *name)
{
	SRunner *sr;
	int failed;

	route_fixture_name = name;
	route_fixture_tmpdir = xasprintf("/tmp/%s.XXXXXX", name);
	if (mkdtemp(route_fixture_tmpdir) == NULL) {
		fprintf(stderr, "%s: mkdtemp: %s\n", name, strerror(errno));
		return EXIT_FAILURE;
	}
	sr = srunner_create(suite);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	tree_fixture_remove(route_fixture_tmpdir);
	xfree(route_fixture_tmpdir);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

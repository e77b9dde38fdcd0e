/*
 * route_fixture: a file-backend routing directory of its own for each
 * Check test of common/route (check_route_file, check_route_auth).
 *
 * route_fixture_run() makes one scratch directory before the forks and
 * removes it after the run; the checked fixture (setup, teardown) makes
 * one below it per test and points route_backend and route_file at its
 * map.
 */
#ifndef ISPMAIL_ROUTE_FIXTURE_H
#define ISPMAIL_ROUTE_FIXTURE_H

struct route;

/* The current test's directory and map file. */
extern char *route_fixture_testdir;
extern char *route_fixture_map_path;

/*
 * For main(): make /tmp/NAME.XXXXXX, run suite (its TCases use the
 * checked fixture below), remove the directory: the exit status.
 */
struct Suite;
int route_fixture_run(struct Suite *suite, const char *name);
/* The checked fixture: a directory and a map file per test. */
void route_fixture_setup(void);
void route_fixture_teardown(void);
/* Set a parameter (the test fails when it is refused). */
void route_fixture_set_param(const char *name, const char *value);
/* Replace the map the way an editor would: new file, rename. */
void route_fixture_write_map(const char *text);
/* The map's text (caller frees). */
char *route_fixture_read_map(void);
/* route_open() over the map (the test fails when it cannot). */
struct route *route_fixture_open(void);

#endif

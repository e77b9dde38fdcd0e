/*
 * params_fixture: what the Check programs of common/params share
 * (check_params: parsers, set, expansion, lists, the table;
 * check_params_file: main.conf reading and printing).
 */
#ifndef ISPMAIL_PARAMS_FIXTURE_H
#define ISPMAIL_PARAMS_FIXTURE_H

struct Suite;

#define COUNT(a) ((int) (sizeof(a) / sizeof((a)[0])))

/* One directory for every test's files, made once before the forks. */
extern char tmpdir[];

/* The checked fixture: the parameters back to their defaults. */
void params_fixture_setup(void);
/*
 * For main(): make tmpdir, run suite, remove tmpdir with what the tests
 * left in it: the exit status.
 */
int params_fixture_run(struct Suite *suite);

#endif

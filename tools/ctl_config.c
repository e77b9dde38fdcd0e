/* ctl_config: ispmailctl config, the effective main.conf (as postconf). */
#include "config.h"

#include <stdio.h>
#include <unistd.h>

#include "ctl.h"
#include "params.h"

static int
ctl_config_usage(void)
{
	ctl_eprintf("usage: ispmailctl config [-n | -d] [name ...]\n");
	return 2;
}

int
ctl_config(int argc, char **argv)
{
	int nondefault_only = 0, defaults = 0, ch, i, status = 0;
	char **names;
	int name_count;

	opterr = 0;
	while ((ch = getopt(argc, argv, "nd")) != -1) {
		switch (ch) {
		case 'n':
			nondefault_only = 1;
			break;
		case 'd':
			defaults = 1;
			break;
		default:
			ctl_eprintf("ispmailctl: config: unknown option "
			    "-%c\n", optopt);
			return ctl_config_usage();
		}
	}
	/* Defaults are never "set": -n with -d would always be empty. */
	if (nondefault_only && defaults)
		return ctl_config_usage();
	names = argv + optind;
	name_count = argc - optind;
	/* Check the names first so the messages say who complains. */
	for (i = 0; i < name_count; i++) {
		if (params_find(names[i]) == NULL) {
			ctl_eprintf("ispmailctl: config: unknown "
			    "parameter: %s\n", names[i]);
			status = 1;
		}
	}
	if (status != 0)
		return status;
	if (defaults)
		status = params_print_defaults(stdout, names, name_count);
	else
		status = params_print(stdout, nondefault_only, names,
		    name_count);
	return status < 0 ? 1 : 0;
}

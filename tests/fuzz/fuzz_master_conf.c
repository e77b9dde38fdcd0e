/*
 * fuzz_master_conf: master.conf parsing (master_conf_read) with the
 * input as the file; a file that parses copies and frees cleanly.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "fuzz.h"
#include "master_conf.h"
#include "xalloc.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *path;
	struct master_conf *conf = NULL;
	struct master_service_conf *copy;
	char *error = NULL;
	int i;

	fuzz_init();
	if (path == NULL)
		path = xasprintf("%s/master.conf", fuzz_dir());
	fuzz_write_file(path, data, size);
	if (master_conf_read(path, &conf, &error) == 0) {
		for (i = 0; i < conf->count; i++) {
			if (conf->services[i]->maxproc < 1 ||
			    conf->services[i]->command == NULL)
				abort();
			copy = master_service_conf_dup(conf->services[i]);
			master_service_conf_free(&copy);
		}
		master_conf_free(&conf);
	} else if (error == NULL) {
		abort();
	}
	free(error);
	return 0;
}

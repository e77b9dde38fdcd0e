/*
 * fuzz_main_conf: main.conf parsing (params_read_file: lines,
 * continuations, every parameter type's value syntax) with the input as
 * the file; each input starts from the defaults again.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "fuzz.h"
#include "params.h"
#include "xalloc.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *path;
	char *error = NULL;

	fuzz_init();
	if (path == NULL)
		path = xasprintf("%s/main.conf", fuzz_dir());
	fuzz_write_file(path, data, size);
	params_init();
	if (params_read_file(path, 0, &error) != 0 && error == NULL)
		abort();
	free(error);
	(void) params_value("myhostname");
	return 0;
}

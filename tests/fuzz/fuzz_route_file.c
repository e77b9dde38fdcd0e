/*
 * fuzz_route_file: the routing map parser (route_file_parse.c,
 * ispmail-routes(5)) through the routing API, as every daemon loads the
 * map: the input is the map file; a map that loads answers lookups and
 * lists.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "params.h"
#include "route.h"
#include "xalloc.h"

static char *map_path;

static void
setup(void)
{
	char *error = NULL;

	map_path = xasprintf("%s/routes", fuzz_dir());
	if (params_set("route_backend", "file", &error) != 0 ||
	    params_set("route_file", map_path, &error) != 0 ||
	    params_set("route_file_check_interval", "0", &error) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const addresses[] = {
		"user@example.test", "alias@example.test", "x@alias.test",
		"user+tag@example.test", "nobody@relay.test",
	};
	struct route *r;
	struct route_answer *ans = NULL;
	struct route_domain *dom = NULL;
	char **names = NULL, *error = NULL;
	size_t i;

	fuzz_init();
	if (map_path == NULL)
		setup();
	fuzz_write_file(map_path, data, size);
	r = route_open(&error);
	if (r == NULL)
		abort();
	if (route_list_domains(r, &names, &error) == 0) {
		for (i = 0; names[i] != NULL; i++) {
			if (route_domain_lookup(r, names[i], &dom,
			    &error) == 1)
				route_domain_free(&dom);
			free(error);
			error = NULL;
		}
		route_names_free(&names);
	}
	free(error);
	error = NULL;
	for (i = 0; i < sizeof(addresses) / sizeof(*addresses); i++) {
		if (route_lookup(r, addresses[i], &ans, &error) == 1)
			route_answer_free(&ans);
		free(error);
		error = NULL;
	}
	route_close(&r);
	return 0;
}

/*
 * fuzz_pop_cmd: popd's command line parser (pop_cmd.h): the verb, the
 * state table and the number arguments of every command line.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "pop_cmd.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pop_command cmd;
	size_t num, msg, lines;
	char *line = fuzz_strndup(data, size);

	fuzz_init();
	if (pop_cmd_parse(line, size, &cmd) == 0) {
		if (cmd.name == NULL || cmd.args == NULL ||
		    cmd.args < line || cmd.args > line + size)
			abort();
		(void) pop_cmd_allowed(cmd.verb, POP_STATE_AUTHORIZATION);
		(void) pop_cmd_allowed(cmd.verb, POP_STATE_TRANSACTION);
		if (pop_cmd_msgnum(cmd.args, &num) == 0 &&
		    (num == 0 || num > POP_CMD_NUMBER_MAX))
			abort();
		if (pop_cmd_top_args(cmd.args, &msg, &lines) == 0 &&
		    (msg == 0 || msg > POP_CMD_NUMBER_MAX ||
		    lines > POP_CMD_NUMBER_MAX))
			abort();
	}
	free(line);
	return 0;
}

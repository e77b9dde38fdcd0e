/*
 * pop_cmd: POP3 command line parsing; see pop_cmd.h.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "pop_cmd.h"

struct pop_verb_def {
	const char *name;
	enum pop_verb verb;
	int in_authorization;	/* allowed before login */
	int in_transaction;	/* allowed after login */
};

/* RFC 1939 4-6, RFC 2449 5, RFC 2595 4, RFC 5034 4. */
static const struct pop_verb_def pop_verbs[] = {
	{ "USER", POP_VERB_USER, 1, 0 },
	{ "PASS", POP_VERB_PASS, 1, 0 },
	{ "AUTH", POP_VERB_AUTH, 1, 0 },
	{ "STLS", POP_VERB_STLS, 1, 0 },
	{ "CAPA", POP_VERB_CAPA, 1, 1 },
	{ "QUIT", POP_VERB_QUIT, 1, 1 },
	{ "NOOP", POP_VERB_NOOP, 0, 1 },
	{ "STAT", POP_VERB_STAT, 0, 1 },
	{ "LIST", POP_VERB_LIST, 0, 1 },
	{ "RETR", POP_VERB_RETR, 0, 1 },
	{ "DELE", POP_VERB_DELE, 0, 1 },
	{ "RSET", POP_VERB_RSET, 0, 1 },
	{ "TOP", POP_VERB_TOP, 0, 1 },
	{ "UIDL", POP_VERB_UIDL, 0, 1 },
	{ "XCLIENT", POP_VERB_XCLIENT, 1, 0 },
	{ NULL, POP_VERB_UNKNOWN, 0, 0 },
};

static int
pop_cmd_is_letter(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

int
pop_cmd_parse(const char *line, size_t len, struct pop_command *cmd_r)
{
	const struct pop_verb_def *def;
	size_t klen = 0;

	if (len == 0 || memchr(line, '\0', len) != NULL)
		return -1;
	while (klen < len && pop_cmd_is_letter(line[klen]))
		klen++;
	/* The one longer keyword: XCLIENT. */
	if (klen == 0 || (klen > 4 && (klen != 7 ||
	    strncasecmp(line, "XCLIENT", 7) != 0)))
		return -1;
	/* After the keyword: the end, or one space and the arguments. */
	if (klen < len && line[klen] != ' ')
		return -1;
	cmd_r->verb = POP_VERB_UNKNOWN;
	cmd_r->name = "?";
	cmd_r->args = klen < len ? line + klen + 1 : line + klen;
	for (def = pop_verbs; def->name != NULL; def++) {
		if (strlen(def->name) == klen &&
		    strncasecmp(def->name, line, klen) == 0) {
			cmd_r->verb = def->verb;
			cmd_r->name = def->name;
			break;
		}
	}
	return 0;
}

int
pop_cmd_allowed(enum pop_verb verb, enum pop_state state)
{
	const struct pop_verb_def *def;

	for (def = pop_verbs; def->name != NULL; def++) {
		if (def->verb == verb)
			return state == POP_STATE_AUTHORIZATION ?
			    def->in_authorization : def->in_transaction;
	}
	return 0;
}

/* Digits at *p up to a space or the end; advances *p. */
static int
pop_cmd_number(const char **p, size_t min, size_t *num_r)
{
	const char *s = *p;
	size_t value = 0;
	size_t digits = 0;

	while (*s >= '0' && *s <= '9') {
		value = value * 10 + (size_t) (*s - '0');
		if (value > POP_CMD_NUMBER_MAX)
			return -1;
		s++;
		digits++;
	}
	if (digits == 0 || value < min || (*s != '\0' && *s != ' '))
		return -1;
	*p = s;
	*num_r = value;
	return 0;
}

int
pop_cmd_msgnum(const char *args, size_t *num_r)
{
	const char *p = args;

	if (pop_cmd_number(&p, 1, num_r) < 0 || *p != '\0')
		return -1;
	return 0;
}

int
pop_cmd_top_args(const char *args, size_t *msg_r, size_t *lines_r)
{
	const char *p = args;

	if (pop_cmd_number(&p, 1, msg_r) < 0 || *p != ' ')
		return -1;
	p++;
	if (pop_cmd_number(&p, 0, lines_r) < 0 || *p != '\0')
		return -1;
	return 0;
}

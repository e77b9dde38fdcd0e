/*
 * pop_cmd: the POP3 command parser, a pure module (no I/O, no state of
 * its own) so the unit tests can feed it anything.
 *
 * A command line is a keyword of 1 to 4 letters (case-insensitive, RFC
 * 1939 3) or XCLIENT (Dovecot's, for trusted proxies), optionally one
 * space and its arguments.  pop_cmd_parse()
 * finds the verb and where the arguments start; pop_cmd_allowed() says
 * whether a verb may be used in a session state; the argument parsers
 * accept exactly the forms RFC 1939 defines (decimal numbers without
 * sign, no leading or trailing junk) and refuse everything else.
 */
#ifndef ISPMAIL_POP_CMD_H
#define ISPMAIL_POP_CMD_H

#include <stddef.h>

enum pop_verb {
	POP_VERB_UNKNOWN = 0,
	POP_VERB_USER,
	POP_VERB_PASS,
	POP_VERB_AUTH,
	POP_VERB_STLS,
	POP_VERB_CAPA,
	POP_VERB_QUIT,
	POP_VERB_NOOP,
	POP_VERB_STAT,
	POP_VERB_LIST,
	POP_VERB_RETR,
	POP_VERB_DELE,
	POP_VERB_RSET,
	POP_VERB_TOP,
	POP_VERB_UIDL,
	POP_VERB_XCLIENT,
};

/* Session states (RFC 1939 3); UPDATE lasts only inside QUIT. */
enum pop_state {
	POP_STATE_AUTHORIZATION,
	POP_STATE_TRANSACTION,
};

/* A parsed command line; args points into the caller's line. */
struct pop_command {
	enum pop_verb verb;
	const char *name;	/* the verb's canonical name, "?" if unknown */
	const char *args;	/* after the single space; "" if none */
};

/* The longest message number or line count accepted (fits size_t). */
#define POP_CMD_NUMBER_MAX 1000000000UL

/*
 * Parse line (len bytes, its line end already removed).  0 ok: cmd_r
 * set, verb POP_VERB_UNKNOWN for a well-formed but unknown keyword;
 * -1 for a malformed line: empty, a NUL byte, a keyword that is not 1-4
 * ASCII letters, or anything but one space after it.
 */
int pop_cmd_parse(const char *line, size_t len, struct pop_command *cmd_r);
/* May verb be used in state?  1 yes, 0 no. */
int pop_cmd_allowed(enum pop_verb verb, enum pop_state state);
/*
 * A message number: 1..POP_CMD_NUMBER_MAX, digits only, the whole of
 * args.  0 ok (*num_r set); -1 otherwise.
 */
int pop_cmd_msgnum(const char *args, size_t *num_r);
/*
 * "msg n" for TOP: a message number and a line count (0 allowed), one
 * space between.  0 ok; -1 otherwise.
 */
int pop_cmd_top_args(const char *args, size_t *msg_r, size_t *lines_r);

#endif

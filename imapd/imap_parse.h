/*
 * imap_parse: reading an IMAP command (with its literals) and splitting
 * it into arguments; sequence sets.
 *
 * imap_read_command() assembles one command in a buf: its lines, and
 * each literal as "{N}\r\n" followed by N bytes, within the command size
 * limit and a cap on the number of literals.  It looks at each line once
 * (linear in the command's size: the command is never parsed again per
 * literal, except twice at most for APPEND, to find its message).  Synchronising literals get a "+ OK" continuation; LITERAL+
 * (RFC 7888) ones do not.  APPEND's message literal is left on the stream
 * for the caller to copy to disk (it may be as large as the message size
 * limit, and is never held in memory).
 *
 * imap_parse_args() splits a command into atoms, strings (quoted or
 * literal, binary safe) and parenthesised lists, nested at most
 * IMAP_PARSE_DEPTH deep and at most a given number of arguments in all
 * (imap_argument_limit).  Every string is a new NUL-terminated copy owned
 * by the argument array.
 */
#ifndef ISPMAIL_IMAP_PARSE_H
#define ISPMAIL_IMAP_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "stream.h"

struct buf;

#define IMAP_PARSE_DEPTH 32

enum imap_arg_type {
	IMAP_ARG_ATOM = 1,	/* includes "BODY[HEADER.FIELDS (A B)]<0.9>" */
	IMAP_ARG_STRING,	/* quoted string or literal */
	IMAP_ARG_LIST,
};

struct imap_arg {
	enum imap_arg_type type;
	char *str;			/* ATOM, STRING (NUL-terminated) */
	size_t len;
	int literal;			/* STRING came as a literal */
	struct imap_arg *list;		/* LIST */
	size_t count;
};

enum imap_read_result {
	IMAP_READ_OK = 0,		/* a command in cmd */
	IMAP_READ_APPEND,		/* cmd ends before APPEND's literal */
	IMAP_READ_TOO_LONG,		/* line or command too long (skipped) */
	IMAP_READ_LITERAL_TOO_BIG,	/* sync literal refused; cmd holds
					   the start of the command */
	IMAP_READ_BAD_LITERAL,		/* LITERAL+ past the limit: hang up */
	IMAP_READ_TOO_MANY_LITERALS,	/* sync literal past the count cap
					   refused; cmd holds the start */
	IMAP_READ_BAD_TOO_MANY_LITERALS,/* LITERAL+ past the cap: hang up */
	IMAP_READ_CLOSED,		/* EOF, timeout, error */
};

/*
 * What an APPEND message literal's announcement says (as bits):
 * synchronising "{n}" (not "{n+}"), literal8 "~{n}" (RFC 3516, part of
 * RFC 9051), and inside "UTF8 (~{n})" (RFC 6855 4): a ")" follows it.
 */
#define IMAP_LITERAL_SYNC	0x01
#define IMAP_LITERAL_BINARY	0x02
#define IMAP_LITERAL_UTF8	0x04

/*
 * The text before an APPEND message literal's "{" (text[0..len)): how
 * many of its last bytes are "~" or "UTF8 (~" (case-insensitive), with
 * IMAP_LITERAL_BINARY and IMAP_LITERAL_UTF8 added to *flags.
 */
size_t imap_append_literal_prefix(const char *text, size_t len, int *flags);

/*
 * Read one command.  limit bounds the whole command (lines plus
 * literals, APPEND's message excepted); max_literals bounds the number
 * of its literals (APPEND's message excepted); append_limit bounds
 * APPEND's message.  For IMAP_READ_APPEND, *literal_size_r and
 * *literal_sync_r (IMAP_LITERAL_* bits) describe the literal (its "{N}",
 * "~{N}" or "UTF8 (~{N}" is removed from cmd, no continuation was sent
 * yet).
 */
enum imap_read_result imap_read_command(struct stream *s, struct buf *line,
	struct buf *cmd, size_t limit, size_t max_literals,
	long long append_limit, long long *literal_size_r,
	int *literal_sync_r);

/*
 * Split text (len bytes) into arguments, at most max_args of them in all
 * (nested ones included).  0 ok with *args_r (free with imap_args_free)
 * and *count_r; -1 with a static *error_r for unbalanced parentheses,
 * bad quoting, a literal that lies about its size, nesting past
 * IMAP_PARSE_DEPTH, or more than max_args arguments.
 */
int imap_parse_args(const char *text, size_t len, size_t max_args,
	struct imap_arg **args_r, size_t *count_r, const char **error_r);
void imap_args_free(struct imap_arg *args, size_t count);

/*
 * A sequence set "1:3,5,7:*" as ranges; '*' is UINT32_MAX until resolved.
 * XXX: so the number 4294967295 itself is taken as '*' (no real folder
 * reaches that UID).
 */
struct imap_seqset {
	uint32_t (*ranges)[2];		/* low <= high after resolving */
	size_t count;
};

/* Parse a set; 0 ok, -1 when malformed (zero, junk, overflow). */
int imap_seqset_parse(const char *text, struct imap_seqset *set_r);
/*
 * Replace '*' with max, order each range's ends, then sort the ranges
 * and merge those that overlap or touch (n log n in the ranges).
 */
void imap_seqset_resolve(struct imap_seqset *set, uint32_t max);
/* Is n in a resolved set?  (log n in the ranges.) */
int imap_seqset_contains(const struct imap_seqset *set, uint32_t n);
void imap_seqset_free(struct imap_seqset *set);

#endif

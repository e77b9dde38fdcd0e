/*
 * check_imapd_parse: the command reader and argument parser with sequence
 * sets (imap_parse), a Suite of check_imapd.
 */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "imap_parse.h"
#include "stream.h"
#include "xalloc.h"

#include "imapd_suites.h"
#include "check_stream_util.h"

/* --- imap_parse_args ---------------------------------------------------- */

struct args_case {
	const char *text;
	size_t len;			/* 0: strlen(text) */
	int ret;
	size_t count;
	const char *shape;		/* per top-level argument: a s l */
	const char *last;		/* the last argument's text, or NULL */
};

static const struct args_case args_cases[] = {
	{ "a1 NOOP", 0, 0, 2, "aa", "NOOP" },
	{ "a1 LOGIN \"al\\\"ice\" pw", 0, 0, 4, "aasa", "pw" },
	{ "a1 LOGIN alice \"p\\\\w\"", 0, 0, 4, "aaas", "p\\w" },
	{ "t FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (A B)]<0.9>)", 0, 0,
	    4, "aaal", NULL },
	{ "t APPEND x {3}\r\nabc", 0, 0, 4, "aaas", "abc" },
	{ "t X {0}\r\n", 0, 0, 3, "aas", "" },
	{ "t X {3+}\r\na\0c", 13, 0, 3, "aas", NULL },
	{ "t X ((a) (b (c)))", 0, 0, 3, "aal", NULL },
	{ "t X \"\"", 0, 0, 3, "aas", "" },
	{ "", 0, 0, 0, "", NULL },
	/* '[' is an ATOM-CHAR, ']' an ASTRING-CHAR (RFC 3501 9). */
	{ "t CREATE [Gmail]", 0, 0, 3, "aaa", "[Gmail]" },
	{ "t CREATE x[y", 0, 0, 3, "aaa", "x[y" },
	{ "t LIST \"\" a]b[ (x)", 0, 0, 5, "aasal", NULL },
	{ "t FETCH 1 body.peek[HEADER.FIELDS (A B)]", 0, 0, 4, "aaaa",
	    "body.peek[HEADER.FIELDS (A B)]" },
	{ "t FETCH 1 BINARY.SIZE[1 2]", 0, 0, 4, "aaaa", "BINARY.SIZE[1 2]" },
	/* Malformed. */
	{ "t X (a b", 0, -1, 0, NULL, NULL },
	{ "t X a b)", 0, -1, 0, NULL, NULL },
	{ "t X \"open", 0, -1, 0, NULL, NULL },
	{ "t X \"a\\x\"", 0, -1, 0, NULL, NULL },
	{ "t X \"a\rb\"", 0, -1, 0, NULL, NULL },
	{ "t X {5}\r\nab", 0, -1, 0, NULL, NULL },
	{ "t X {99999999999999999999}\r\nab", 0, -1, 0, NULL, NULL },
	{ "t X {3}ab", 0, -1, 0, NULL, NULL },
	/* A NUL in a fetch section (found by tests/fuzz/fuzz_imap_args). */
	{ "t SEARCH x[\0\0[]", 15, -1, 0, NULL, NULL },
	{ "t FETCH 1 BODY[\0]", 17, -1, 0, NULL, NULL },
	{ "t FETCH 1 BODY[TEXT", 0, -1, 0, NULL, NULL },
};

START_TEST(test_parse_args)
{
	const struct args_case *c = &args_cases[_i];
	size_t len = c->len != 0 ? c->len : strlen(c->text), i;
	struct imap_arg *args = NULL;
	const char *error = NULL;
	size_t count = 0;
	int ret;

	ret = imap_parse_args(c->text, len, 1000, &args, &count, &error);
	ck_assert_msg(ret == c->ret, "%s: %d (%s)", c->text, ret,
	    error != NULL ? error : "");
	if (ret < 0) {
		ck_assert_ptr_nonnull(error);
		return;
	}
	ck_assert_uint_eq(count, c->count);
	for (i = 0; i < count; i++) {
		enum imap_arg_type want = c->shape[i] == 'a' ? IMAP_ARG_ATOM :
		    c->shape[i] == 's' ? IMAP_ARG_STRING : IMAP_ARG_LIST;

		ck_assert_int_eq(args[i].type, want);
		/* Callers look at len bytes of str. */
		if (want != IMAP_ARG_LIST && memchr(args[i].str, '\0',
		    args[i].len) == NULL)
			ck_assert_uint_eq(strlen(args[i].str), args[i].len);
	}
	if (c->last != NULL)
		ck_assert_str_eq(args[count - 1].str, c->last);
	imap_args_free(args, count);
}
END_TEST

/* Nesting is capped at IMAP_PARSE_DEPTH, whatever the input holds. */
START_TEST(test_parse_depth)
{
	struct buf *b = buf_new(4096);
	struct imap_arg *args = NULL;
	const char *error = NULL;
	size_t count = 0;
	int depth, i;

	for (depth = IMAP_PARSE_DEPTH - 1; depth <= IMAP_PARSE_DEPTH + 1;
	    depth++) {
		buf_reset(b);
		(void) buf_append_str(b, "t X ");
		for (i = 0; i < depth; i++)
			(void) buf_append_char(b, '(');
		for (i = 0; i < depth; i++)
			(void) buf_append_char(b, ')');
		count = 0;
		if (depth <= IMAP_PARSE_DEPTH) {
			ck_assert_int_eq(imap_parse_args(buf_cstr(b),
			    buf_len(b), 1000, &args, &count, &error), 0);
			imap_args_free(args, count);
		} else {
			ck_assert_int_eq(imap_parse_args(buf_cstr(b),
			    buf_len(b), 1000, &args, &count, &error), -1);
		}
	}
	buf_free(&b);
}
END_TEST

/* The argument cap counts every argument, nested ones and lists too. */
struct arg_limit_case {
	const char *text;
	size_t max_args;
	int ret;
};

static const struct arg_limit_case arg_limit_cases[] = {
	{ "t X a b", 4, 0 },
	{ "t X a b", 3, -1 },
	{ "t X (a (b))", 6, 0 },		/* t, X, two lists, a, b */
	{ "t X (a (b))", 5, -1 },
	{ "t X {0}\r\n {0}\r\n {0}\r\n", 5, 0 },
	{ "t X {0}\r\n {0}\r\n {0}\r\n", 4, -1 },
	{ "", 0, 0 },
};

START_TEST(test_parse_arg_limit)
{
	const struct arg_limit_case *c = &arg_limit_cases[_i];
	struct imap_arg *args = NULL;
	const char *error = NULL;
	size_t count = 0;
	int ret;

	ret = imap_parse_args(c->text, strlen(c->text), c->max_args, &args,
	    &count, &error);
	ck_assert_msg(ret == c->ret, "%s (max %zu): %d", c->text,
	    c->max_args, ret);
	if (ret < 0)
		ck_assert_str_eq(error, "Too many arguments");
	else
		imap_args_free(args, count);
}
END_TEST

/* --- sequence sets ------------------------------------------------------ */

struct seqset_case {
	const char *text;
	int ret;
	uint32_t max;
	const char *in;			/* numbers (1..9) in the set */
	size_t ranges;			/* after resolving; 0: not checked */
};

static const struct seqset_case seqset_cases[] = {
	{ "1", 0, 9, "1", 0 },
	{ "1:3,5,7:*", 0, 9, "1235789", 3 },
	{ "*", 0, 9, "9", 0 },
	{ "*:7", 0, 9, "789", 0 },
	{ "4:2", 0, 9, "234", 0 },
	{ "2:*", 0, 1, "12", 0 },
	/* Sorted and merged: overlapping, touching, repeated, unordered. */
	{ "9,1,5:3,2", 0, 9, "123459", 2 },
	{ "1:*,2,3,1:*,*", 0, 9, "123456789", 1 },
	{ "8,6,4,2", 0, 9, "2468", 4 },
	{ "7:9,1:2,3:4", 0, 9, "1234789", 2 },
	{ "5:*", 0, 0, "12345", 1 },
	/* XXX: the largest UID doubles as '*' (imap_parse.h). */
	{ "4294967295", 0, 9, "9", 0 },
	/* Malformed. */
	{ "", -1, 0, NULL, 0 },
	{ "0", -1, 0, NULL, 0 },
	{ "1:0", -1, 0, NULL, 0 },
	{ "1:", -1, 0, NULL, 0 },
	{ ":1", -1, 0, NULL, 0 },
	{ "1,", -1, 0, NULL, 0 },
	{ ",1", -1, 0, NULL, 0 },
	{ "1,,2", -1, 0, NULL, 0 },
	{ "a", -1, 0, NULL, 0 },
	{ "1 2", -1, 0, NULL, 0 },
	{ "4294967296", -1, 0, NULL, 0 },
	{ "99999999999999999999", -1, 0, NULL, 0 },
	{ "-1", -1, 0, NULL, 0 },
};

START_TEST(test_seqset)
{
	const struct seqset_case *c = &seqset_cases[_i];
	struct imap_seqset set;
	uint32_t n;

	memset(&set, 0, sizeof(set));
	ck_assert_msg(imap_seqset_parse(c->text, &set) == c->ret, "%s",
	    c->text);
	if (c->ret < 0) {
		imap_seqset_free(&set);
		return;
	}
	imap_seqset_resolve(&set, c->max);
	for (n = 1; n <= 9; n++) {
		int want = strchr(c->in, (char) ('0' + n)) != NULL;

		ck_assert_msg(imap_seqset_contains(&set, n) == want,
		    "%s: %u", c->text, (unsigned) n);
	}
	if (c->ranges != 0)
		ck_assert_uint_eq(set.count, c->ranges);
	imap_seqset_free(&set);
}
END_TEST

/* --- imap_read_command over a socket ------------------------------------ */

struct read_case {
	const char *input;
	enum imap_read_result result;
	const char *cmd;		/* NULL: not checked */
	const char *reply;		/* what the server sent back */
	long long literal;		/* APPEND's literal size */
};

static const struct read_case read_cases[] = {
	{ "a1 NOOP\r\n", IMAP_READ_OK, "a1 NOOP", "", -1 },
	{ "a1 NOOP\n", IMAP_READ_OK, "a1 NOOP", "", -1 },
	{ "a1 LOGIN {5}\r\nalice {3+}\r\npw1\r\n", IMAP_READ_OK,
	    "a1 LOGIN {5}\r\nalice {3+}\r\npw1", "+ OK\r\n", -1 },
	{ "a2 APPEND INBOX (\\Seen) {310}\r\n", IMAP_READ_APPEND,
	    "a2 APPEND INBOX (\\Seen)", "", 310 },
	{ "a3 APPEND INBOX {5+}\r\nhello\r\n", IMAP_READ_APPEND,
	    "a3 APPEND INBOX", "", 5 },
	/* Limits: the command is 64 bytes at most here. */
	{ "a4 X 0123456789012345678901234567890123456789012345678901234567"
	    "89\r\n", IMAP_READ_TOO_LONG, NULL, "", -1 },
	{ "a5 LOGIN {100}\r\n", IMAP_READ_LITERAL_TOO_BIG, NULL, "", -1 },
	{ "a6 LOGIN {100+}\r\n", IMAP_READ_BAD_LITERAL, NULL, "", -1 },
	/* Literals: 3 at most here; APPEND's message is not counted. */
	{ "a9 X {0}\r\n {0}\r\n {0}\r\n\r\n", IMAP_READ_OK,
	    "a9 X {0}\r\n {0}\r\n {0}\r\n", "+ OK\r\n+ OK\r\n+ OK\r\n", -1 },
	{ "b1 X {0}\r\n {0}\r\n {0}\r\n {0}\r\n", IMAP_READ_TOO_MANY_LITERALS,
	    NULL, "+ OK\r\n+ OK\r\n+ OK\r\n", -1 },
	{ "b2 X {0+}\r\n {0+}\r\n {0+}\r\n {0+}\r\n",
	    IMAP_READ_BAD_TOO_MANY_LITERALS, NULL, "", -1 },
	{ "b3 APPEND {5+}\r\nINBOX {5+}\r\n", IMAP_READ_APPEND,
	    "b3 APPEND {5+}\r\nINBOX", "", 5 },
	{ "b4 append {0+}\r\n {0+}\r\n", IMAP_READ_APPEND,
	    "b4 append {0+}\r\n", "", 0 },
	/* Not APPEND: every literal is an argument. */
	{ "b5 APPENDX {0+}\r\n {0+}\r\n {0+}\r\n {0+}\r\n",
	    IMAP_READ_BAD_TOO_MANY_LITERALS, NULL, "", -1 },
	{ "a7 NOOP", IMAP_READ_CLOSED, NULL, "", -1 },
	{ "a8 LOGIN {5}\r\nali", IMAP_READ_CLOSED, NULL, "+ OK\r\n", -1 },
	{ "", IMAP_READ_CLOSED, NULL, "", -1 },
};

START_TEST(test_read_command)
{
	const struct read_case *c = &read_cases[_i];
	struct buf *line = buf_new(65), *cmd = buf_new(65);
	struct stream *s;
	long long literal = -1;
	char reply[256];
	ssize_t n;
	int fds[2], sync = 0;
	enum imap_read_result res;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	ck_assert_int_eq(write(fds[1], c->input, strlen(c->input)),
	    (ssize_t) strlen(c->input));
	shutdown(fds[1], SHUT_WR);
	s = stream_new(fds[0], 2000, 2000);
	res = imap_read_command(s, line, cmd, 64, 3, 1000, &literal, &sync);
	ck_assert_msg(res == c->result, "%s: %d", c->input, res);
	if (c->cmd != NULL)
		ck_assert_str_eq(buf_cstr(cmd), c->cmd);
	if (res == IMAP_READ_APPEND)
		ck_assert_int_eq(literal, c->literal);
	(void) stream_flush(s);
	n = recv(fds[1], reply, sizeof(reply) - 1, MSG_DONTWAIT);
	reply[n > 0 ? n : 0] = '\0';
	ck_assert_str_eq(reply, c->reply);
	stream_free(&s);
	close(fds[0]);
	close(fds[1]);
	buf_free(&line);
	buf_free(&cmd);
}
END_TEST

/* literal8 and RFC 6855's UTF8 (~{n}): the marker leaves cmd. */
static const struct {
	const char *input, *cmd;
	long long literal;
	int flags;
} append_cases[] = {
	{ "c1 APPEND INBOX ~{7}\r\n", "c1 APPEND INBOX", 7,
	    IMAP_LITERAL_SYNC | IMAP_LITERAL_BINARY },
	{ "c2 APPEND INBOX (\\Seen) UTF8 (~{9+}\r\n",
	    "c2 APPEND INBOX (\\Seen)", 9,
	    IMAP_LITERAL_BINARY | IMAP_LITERAL_UTF8 },
	{ "c3 APPEND INBOX utf8 (~{0}\r\n", "c3 APPEND INBOX", 0,
	    IMAP_LITERAL_SYNC | IMAP_LITERAL_BINARY | IMAP_LITERAL_UTF8 },
	{ "c4 APPEND INBOX {3}\r\n", "c4 APPEND INBOX", 3, IMAP_LITERAL_SYNC },
	{ "c5 APPEND INBOX {3+}\r\n", "c5 APPEND INBOX", 3, 0 },
};

START_TEST(test_read_append_literal_kinds)
{
	struct buf *line = buf_new(65), *cmd = buf_new(65);
	struct stream *s;
	long long literal = -1;
	int fds[2], flags = -1;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	ck_assert_int_eq(write(fds[1], append_cases[_i].input,
	    strlen(append_cases[_i].input)),
	    (ssize_t) strlen(append_cases[_i].input));
	s = stream_new(fds[0], 2000, 2000);
	ck_assert_int_eq(imap_read_command(s, line, cmd, 64, 3, 1000,
	    &literal, &flags), IMAP_READ_APPEND);
	ck_assert_str_eq(buf_cstr(cmd), append_cases[_i].cmd);
	ck_assert_int_eq(literal, append_cases[_i].literal);
	ck_assert_int_eq(flags, append_cases[_i].flags);
	stream_free(&s);
	close(fds[0]);
	close(fds[1]);
	buf_free(&line);
	buf_free(&cmd);
}
END_TEST

/*
 * A megabyte of " {0+}" literals (150,000 of them) is read in time
 * linear in its size: the command is not parsed again per literal (it
 * was, and 63 KB of them took 2.2 s of CPU).
 */
#define LINEAR_LIMIT	(1024 * 1024)

START_TEST(test_read_command_linear)
{
	static const char piece[] = " {0+}\r\n";
	struct buf *line = buf_new(LINEAR_LIMIT + 1);
	struct buf *cmd = buf_new(LINEAR_LIMIT + 1);
	struct buf *input = buf_new(LINEAR_LIMIT + 64);
	struct stream *s;
	long long literal = -1;
	int64_t start, took;
	int fds[2], sync = 0;
	size_t pieces = 0;
	pid_t pid;

	(void) buf_append_str(input, "t1 X");
	while (buf_len(input) + 2 * sizeof(piece) < LINEAR_LIMIT) {
		(void) buf_append_str(input, piece);
		pieces++;
	}
	(void) buf_append_str(input, "\r\n");
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		write_all(fds[1], buf_cstr(input), buf_len(input));
		_exit(0);
	}
	close(fds[1]);
	s = stream_new(fds[0], 20000, 20000);
	start = now_ms();
	ck_assert_int_eq(imap_read_command(s, line, cmd, LINEAR_LIMIT,
	    pieces, 1000, &literal, &sync), IMAP_READ_OK);
	took = now_ms() - start;
	ck_assert_uint_eq(buf_len(cmd), buf_len(input) - 2);
	ck_assert_msg(took < 5000, "%zu literals took %lld ms", pieces,
	    (long long) took);
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
	stream_free(&s);
	close(fds[0]);
	buf_free(&line);
	buf_free(&cmd);
	buf_free(&input);
}
END_TEST

Suite *
imap_parse_suite(void)
{
	Suite *s = suite_create("imap_parse");
	TCase *tc = tcase_create("args");

	tcase_add_loop_test(tc, test_parse_args, 0,
	    sizeof(args_cases) / sizeof(args_cases[0]));
	tcase_add_test(tc, test_parse_depth);
	tcase_add_loop_test(tc, test_parse_arg_limit, 0,
	    sizeof(arg_limit_cases) / sizeof(arg_limit_cases[0]));
	suite_add_tcase(s, tc);
	tc = tcase_create("seqset");
	tcase_add_loop_test(tc, test_seqset, 0,
	    sizeof(seqset_cases) / sizeof(seqset_cases[0]));
	suite_add_tcase(s, tc);
	tc = tcase_create("read_command");
	tcase_add_loop_test(tc, test_read_command, 0,
	    sizeof(read_cases) / sizeof(read_cases[0]));
	tcase_add_test(tc, test_read_command_linear);
	tcase_add_loop_test(tc, test_read_append_literal_kinds, 0,
	    (int) (sizeof(append_cases) / sizeof(append_cases[0])));
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

/*
 * check_imapd: imapd's pure modules: the command reader and argument
 * parser with sequence sets (imap_parse), the per-folder UID list
 * (imap_uidlist) and the keyword table (imap_keywords).  One Suite each.
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "imap_keywords.h"
#include "imap_parse.h"
#include "imap_uidlist.h"
#include "stream.h"
#include "xalloc.h"

#include "imap_modseq.h"
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

static Suite *
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

/* --- a scratch Maildir -------------------------------------------------- */

static char folder[] = "/tmp/check_imapd.XXXXXX";

static void
folder_setup(void)
{
	char *p;

	ck_assert_ptr_nonnull(mkdtemp(folder));
	p = xasprintf("%s/new", folder);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	free(p);
	p = xasprintf("%s/cur", folder);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	free(p);
	p = xasprintf("%s/tmp", folder);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	free(p);
}

/* Remove the scratch Maildir (two levels: the folder and new/cur/tmp). */
static void
folder_teardown(void)
{
	static const char *const subs[] = { "new", "cur", "tmp", "." };
	struct dirent *e;
	char *p, *q;
	DIR *d;
	size_t i;

	for (i = 0; i < 4; i++) {
		p = xasprintf("%s/%s", folder, subs[i]);
		if ((d = opendir(p)) != NULL) {
			while ((e = readdir(d)) != NULL) {
				q = xasprintf("%s/%s", p, e->d_name);
				(void) unlink(q);
				free(q);
			}
			closedir(d);
		}
		if (i < 3)
			(void) rmdir(p);
		free(p);
	}
	(void) rmdir(folder);
}

static void
put(const char *sub, const char *name, const char *text)
{
	char *p = xasprintf("%s/%s/%s", folder, sub, name);
	FILE *f = fopen(p, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	free(p);
}

static void
drop(const char *sub, const char *name)
{
	char *p = xasprintf("%s/%s/%s", folder, sub, name);

	ck_assert_int_eq(unlink(p), 0);
	free(p);
}

static uint32_t
uid_of(const struct imap_uidlist_result *r, const char *base)
{
	size_t i;

	for (i = 0; i < r->count; i++) {
		if (strncmp(r->files[i].name, base, strlen(base)) == 0)
			return r->files[i].uid;
	}
	return 0;
}

static void
scan(struct imap_uidlist_result *r)
{
	char *error = NULL;

	ck_assert_msg(imap_uidlist_scan(folder, r, &error) == 0, "%s",
	    error != NULL ? error : "");
}

/* --- imap_uidlist ------------------------------------------------------- */

START_TEST(test_uidlist_stable)
{
	struct imap_uidlist_result r;
	uint32_t validity;

	put("new", "1000.M1P1Q1.h", "a");
	put("cur", "999.M1P1Q1.h:2,S", "b");
	scan(&r);
	ck_assert_uint_eq(r.count, 2);
	/* Delivery order: the older file gets the lower UID. */
	ck_assert_uint_eq(uid_of(&r, "999.M1P1Q1.h"), 1);
	ck_assert_uint_eq(uid_of(&r, "1000.M1P1Q1.h"), 2);
	ck_assert_uint_eq(r.uidnext, 3);
	validity = r.uidvalidity;
	ck_assert_uint_ne(validity, 0);
	imap_uidlist_result_free(&r);
	/* Moved to cur/ with flags: same UID; a new file: the next one. */
	drop("new", "1000.M1P1Q1.h");
	put("cur", "1000.M1P1Q1.h:2,FS", "a");
	put("new", "1001.M1P1Q1.h", "c");
	scan(&r);
	ck_assert_uint_eq(uid_of(&r, "1000.M1P1Q1.h"), 2);
	ck_assert_uint_eq(uid_of(&r, "1001.M1P1Q1.h"), 3);
	ck_assert_uint_eq(r.uidvalidity, validity);
	imap_uidlist_result_free(&r);
	/* An expunged UID is never given again. */
	drop("new", "1001.M1P1Q1.h");
	put("new", "1002.M1P1Q1.h", "d");
	scan(&r);
	ck_assert_uint_eq(r.count, 3);
	ck_assert_uint_eq(uid_of(&r, "1002.M1P1Q1.h"), 4);
	ck_assert_uint_eq(r.uidvalidity, validity);
	ck_assert_int_eq(r.rebuilt, 0);
	imap_uidlist_result_free(&r);
}
END_TEST

/* Damaged lists are rebuilt with a greater UIDVALIDITY. */
static const char *const damaged_lists[] = {
	"",
	"garbage\n",
	"ispmail-uidlist 2 5 3\n",
	"ispmail-uidlist 1 5 3\n2 1.M1P1Q1.h\n1 2.M1P1Q1.h\n",
	"ispmail-uidlist 1 5 3\n1 1.M1P1Q1.h\n3 2.M1P1Q1.h\n",
	"ispmail-uidlist 1 5 3\n1 1.M1P1Q1.h\n0 2.M1P1Q1.h\n",
	"ispmail-uidlist 1 5 3\nx 1.M1P1Q1.h\n",
	"ispmail-uidlist 1 5 99999999999\n",
};

START_TEST(test_uidlist_damaged)
{
	struct imap_uidlist_result r;
	char *path = xasprintf("%s/%s", folder, IMAP_UIDLIST_NAME);
	FILE *f;

	put("cur", "1.M1P1Q1.h:2,", "a");
	put("cur", "2.M1P1Q1.h:2,", "b");
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(damaged_lists[_i], f);
	fclose(f);
	scan(&r);
	ck_assert_msg(r.rebuilt, "list %d not rebuilt", _i);
	ck_assert_uint_gt(r.uidvalidity, 5);
	ck_assert_uint_eq(r.count, 2);
	ck_assert_uint_lt(uid_of(&r, "1.M1P1Q1.h"), uid_of(&r, "2.M1P1Q1.h"));
	imap_uidlist_result_free(&r);
	free(path);
}
END_TEST

struct base_case {
	const char *name;
	size_t len;
};

static const struct base_case base_cases[] = {
	{ "1.M1P1Q1.h:2,S", 10 },
	{ "1.M1P1Q1.h", 10 },
	{ ":2,", 0 },
	{ "", 0 },
	{ "a:b:c", 1 },
};

START_TEST(test_uidlist_base_len)
{
	ck_assert_uint_eq(imap_uidlist_base_len(base_cases[_i].name),
	    base_cases[_i].len);
}
END_TEST

static Suite *
imap_uidlist_suite(void)
{
	Suite *s = suite_create("imap_uidlist");
	TCase *tc = tcase_create("scan");

	tcase_add_checked_fixture(tc, folder_setup, folder_teardown);
	tcase_add_test(tc, test_uidlist_stable);
	tcase_add_loop_test(tc, test_uidlist_damaged, 0,
	    sizeof(damaged_lists) / sizeof(damaged_lists[0]));
	suite_add_tcase(s, tc);
	tc = tcase_create("base_len");
	tcase_add_loop_test(tc, test_uidlist_base_len, 0,
	    sizeof(base_cases) / sizeof(base_cases[0]));
	suite_add_tcase(s, tc);
	return s;
}

/* --- imap_modseq -------------------------------------------------------- */

static char name_1a[] = "1.a:2,";
static char name_2b[] = "2.b";
static char name_3c[] = "3.c:2,S";
static char name_1a_f[] = "1.a:2,F";
static char name_4d[] = "4.d";

static uint64_t
modseq_reconcile(const struct imap_uidlist_file *files, size_t count,
	uint64_t *modseqs)
{
	struct imap_modseq *ms;
	char *error = NULL;
	uint64_t highest;

	ms = imap_modseq_begin(folder, &error);
	ck_assert_msg(ms != NULL, "%s", error);
	imap_modseq_reconcile(ms, files, count, modseqs);
	highest = imap_modseq_highest(ms);
	ck_assert_int_eq(imap_modseq_end(&ms, &error), 0);
	return highest;
}

START_TEST(test_modseq_reconcile)
{
	struct imap_uidlist_file three[] = {
		{ name_1a, 1, 0 }, { name_2b, 2, 1 }, { name_3c, 3, 0 },
	};
	struct imap_uidlist_file later[] = {
		{ name_1a_f, 1, 0 }, { name_3c, 3, 0 }, { name_4d, 4, 1 },
	};
	uint64_t m[3], m2[3], h0, h1, h2;
	struct imap_modseq *ms;
	uint32_t *uids;
	size_t count;
	char *error = NULL;

	/* A new record: every message above the time-based seed, all at
	 * one MODSEQ (the changes one look finds share one). */
	h0 = modseq_reconcile(three, 3, m);
	ck_assert(m[0] == h0 && m[1] == h0 && m[2] == h0);
	ck_assert(h0 > 1000000ULL * 1600000000ULL);
	/* Nothing changed: the same MODSEQs, from the file. */
	ck_assert(modseq_reconcile(three, 3, m2) == h0);
	ck_assert(m2[0] == m[0] && m2[1] == m[1] && m2[2] == m[2]);
	/* 1's flags changed, 2 went, 4 came. */
	h1 = modseq_reconcile(later, 3, m2);
	ck_assert(h1 == h0 + 1);
	ck_assert(m2[0] == h1 && m2[1] == m[2] && m2[2] == h1);
	ms = imap_modseq_begin(folder, &error);
	ck_assert_ptr_nonnull(ms);
	ck_assert_int_eq(imap_modseq_vanished(ms, h0, &uids, &count), 1);
	ck_assert_uint_eq(count, 1);
	ck_assert_uint_eq(uids[0], 2);
	free(uids);
	ck_assert_int_eq(imap_modseq_vanished(ms, h1, &uids, &count), 1);
	ck_assert_uint_eq(count, 0);
	free(uids);
	/* Below the floor (the seed) the list is not complete. */
	ck_assert_int_eq(imap_modseq_vanished(ms, 1, &uids, &count), 0);
	free(uids);
	/* A STORE: a new MODSEQ, none for the same letters again. */
	ck_assert(imap_modseq_change(ms, 3, "3.c:2,RS") == h1 + 1);
	ck_assert(imap_modseq_change(ms, 3, "3.c:2,RS") == h1 + 1);
	ck_assert(imap_modseq_of(ms, 3) == h1 + 1);
	ck_assert_int_eq(imap_modseq_end(&ms, &error), 0);
	/* 1 goes too: the expunges stay in UID order (a merge). */
	h2 = modseq_reconcile(later + 1, 2, NULL);
	ms = imap_modseq_begin(folder, &error);
	ck_assert_int_eq(imap_modseq_vanished(ms, h0, &uids, &count), 1);
	ck_assert_uint_eq(count, 2);
	ck_assert(uids[0] == 1 && uids[1] == 2);
	free(uids);
	ck_assert(imap_modseq_highest(ms) == h2);
	ck_assert_int_eq(imap_modseq_end(&ms, &error), 0);
}
END_TEST

static const char *const damaged_records[] = {
	"",
	"ispmail-modseq 2 5 1\n",
	"ispmail-modseq 1 5 9\n",		/* floor above highest */
	"ispmail-modseq 1 5 1\n1 6 -\n",	/* MODSEQ above highest */
	"ispmail-modseq 1 5 1\n2 1 -\n1 2 -\n",	/* UIDs not rising */
	"ispmail-modseq 1 5 1\nX 0 1\n",
	"ispmail-modseq 1 5 1\n1 2",		/* no line end */
	"ispmail-modseq 1 5 1\n1 2\n",		/* no letters */
	"ispmail-modseq 1 5 1\n1 2 \n",		/* empty letters */
	"ispmail-modseq 1 5 1\n1 x -\n",
	"ispmail-modseq 1 5 1\n-1 2 -\n",
	"ispmail-modseq 1 5 1\n 1 2 -\n",
	"ispmail-modseq 1 5 1\n1  2 -\n",
	"ispmail-modseq 1 5 1\n4294967296 2 -\n",	/* UID over 32 bits */
	"ispmail-modseq 1 5 1\n99999999999999999999999 2 -\n",
	"ispmail-modseq 1 5 1\n1 99999999999999999999999 -\n",
	"ispmail-modseq 1 5 1\n1 2 -\n\n",	/* empty line */
	"ispmail-modseq 1 5 1\nX 1\n",
	"ispmail-modseq 1 5 1\nX 1 2 3\n",
	"ispmail-modseq 1 5 1\nX 1 9\n",		/* MODSEQ above highest */
	"ispmail-modseq 1 5 1\nX 2 1\nX 1 1\n",	/* UIDs not rising */
	"ispmail-modseq 1 5 1\n1 2 "
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyzABCDEFGHIJKLM\n",
};

START_TEST(test_modseq_damaged)
{
	struct imap_uidlist_file one[] = { { name_1a, 1, 0 } };
	char *path = xasprintf("%s/%s", folder, IMAP_MODSEQ_NAME);
	uint64_t m;
	FILE *f;

	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(damaged_records[_i], f);
	fclose(f);
	free(path);
	/* Rebuilt above anything it could have given out. */
	ck_assert(modseq_reconcile(one, 1, &m) > 1000000ULL * 1600000000ULL);
}
END_TEST

/*
 * The record read back exactly as it was written (letters with a space
 * included: a name's letters are whatever follows ":2,"), and a change
 * written in the same format.
 */
START_TEST(test_modseq_round_trip)
{
	static char name_2b_sf[] = "2.b:2,S F", name_2b_r[] = "2.b:2,R";
	struct imap_uidlist_file files[] = {
		{ name_1a, 1, 0 }, { name_2b_sf, 2, 0 },
	};
	static const char before[] = "ispmail-modseq 1 18446744073709551610 "
	    "3\n1 3 -\n2 18446744073709551609 S F\nX 4294967295 2\n";
	char *path = xasprintf("%s/%s", folder, IMAP_MODSEQ_NAME);
	char text[512], *error = NULL;
	struct imap_modseq *ms;
	uint64_t m[2];
	size_t n;
	FILE *f;

	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(before, f);
	fclose(f);
	ck_assert(modseq_reconcile(files, 2, m) == 18446744073709551610ULL);
	ck_assert(m[0] == 3 && m[1] == 18446744073709551609ULL);
	ms = imap_modseq_begin(folder, &error);
	ck_assert_ptr_nonnull(ms);
	ck_assert(imap_modseq_change(ms, 2, name_2b_r) ==
	    18446744073709551611ULL);
	ck_assert_int_eq(imap_modseq_end(&ms, &error), 0);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	ck_assert_str_eq(text, "ispmail-modseq 1 18446744073709551611 3\n"
	    "1 3 -\n2 18446744073709551611 R\nX 4294967295 2\n");
	free(path);
}
END_TEST

static Suite *
imap_modseq_suite(void)
{
	Suite *s = suite_create("imap_modseq");
	TCase *tc = tcase_create("record");

	tcase_add_checked_fixture(tc, folder_setup, folder_teardown);
	tcase_add_test(tc, test_modseq_reconcile);
	tcase_add_test(tc, test_modseq_round_trip);
	tcase_add_loop_test(tc, test_modseq_damaged, 0,
	    sizeof(damaged_records) / sizeof(damaged_records[0]));
	suite_add_tcase(s, tc);
	return s;
}

/* --- imap_keywords ------------------------------------------------------ */

struct keyword_file_case {
	const char *text;
	size_t len;			/* 0: strlen(text) */
	const char *names;		/* "n=name;..." of what loads */
};

static const struct keyword_file_case keyword_files[] = {
	{ "0 $Junk\n1 Work\n", 0, "0=$Junk;1=Work;" },
	{ "3 Later", 0, "3=Later;" },
	{ "0 A\n0 B\n", 0, "0=A;" },
	{ "0 A\n1 a\n", 0, "0=A;" },
	{ "25 Z\n26 Y\n99 X\n", 0, "25=Z;" },
	{ "x A\n 1 B\n1\n1 \n2  C\n3 D\\E\n4 F]\n", 0, "" },
	{ "", 0, "" },
	{ "5 a\0b\n6 ok\n", 12, "6=ok;" },
};

START_TEST(test_keywords_load)
{
	const struct keyword_file_case *c = &keyword_files[_i];
	struct imap_keywords kw;
	struct buf *got = buf_new(4096);
	char *error = NULL;
	int i;

	char *path = xasprintf("%s/%s", folder, IMAP_KEYWORD_FILE);
	size_t len = c->len != 0 ? c->len : strlen(c->text);
	FILE *f = fopen(path, "w");

	memset(&kw, 0, sizeof(kw));
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(c->text, 1, len, f), len);
	fclose(f);
	free(path);
	ck_assert_int_eq(imap_keywords_load(folder, &kw, &error), 0);
	for (i = 0; i < IMAP_KEYWORD_MAX; i++) {
		if (kw.names[i] != NULL)
			(void) buf_printf(got, "%d=%s;", i, kw.names[i]);
	}
	ck_assert_str_eq(buf_cstr(got), c->names);
	imap_keywords_clear(&kw);
	buf_free(&got);
}
END_TEST

START_TEST(test_keywords_add)
{
	struct imap_keywords kw, again;
	char *error = NULL, name[16];
	int i;

	memset(&kw, 0, sizeof(kw));
	memset(&again, 0, sizeof(again));
	/* No file: an empty table. */
	ck_assert_int_eq(imap_keywords_load(folder, &kw, &error), 0);
	ck_assert_int_eq(imap_keywords_add(folder, &kw, "$Junk", &error), 0);
	ck_assert_int_eq(imap_keywords_add(folder, &kw, "work", &error), 1);
	ck_assert_int_eq(imap_keywords_add(folder, &kw, "WORK", &error), 1);
	ck_assert_int_eq(imap_keywords_find(&kw, "$junk"), 0);
	ck_assert_int_eq(imap_keywords_find(&kw, "none"), -1);
	/* Another reader sees the same numbers. */
	ck_assert_int_eq(imap_keywords_load(folder, &again, &error), 0);
	ck_assert_int_eq(imap_keywords_find(&again, "work"), 1);
	/* A stale table learns names added meanwhile before adding. */
	ck_assert_int_eq(imap_keywords_add(folder, &again, "third", &error),
	    2);
	ck_assert_int_eq(imap_keywords_add(folder, &kw, "fourth", &error), 3);
	ck_assert_int_eq(imap_keywords_find(&kw, "third"), 2);
	/* Bad names. */
	ck_assert_int_eq(imap_keywords_add(folder, &kw, "\\Seen", &error),
	    -1);
	free(error);
	ck_assert_int_eq(imap_keywords_add(folder, &kw, "a b", &error), -1);
	free(error);
	ck_assert_int_eq(imap_keywords_add(folder, &kw, "", &error), -1);
	free(error);
	/* Full at 26. */
	for (i = 4; i < IMAP_KEYWORD_MAX; i++) {
		snprintf(name, sizeof(name), "k%d", i);
		ck_assert_int_eq(imap_keywords_add(folder, &kw, name, &error),
		    i);
	}
	ck_assert_int_eq(imap_keywords_room(&kw), 0);
	ck_assert_int_eq(imap_keywords_add(folder, &kw, "more", &error), -1);
	ck_assert_ptr_nonnull(error);
	free(error);
	imap_keywords_clear(&kw);
	imap_keywords_clear(&again);
}
END_TEST

struct letters_case {
	const char *name;
	uint32_t bits;
};

static const struct letters_case letters_cases[] = {
	{ "1.M1.h:2,Sab", 0x3 },
	{ "1.M1.h:2,z", 1u << 25 },
	{ "1.M1.h:2,", 0 },
	{ "1.M1.h", 0 },
	{ "1.M1.h:1,ab", 0 },
	{ "1.M1.h:2,DFRST", 0 },
};

START_TEST(test_keywords_from_name)
{
	ck_assert_uint_eq(imap_keywords_from_name(letters_cases[_i].name),
	    letters_cases[_i].bits);
}
END_TEST

static Suite *
imap_keywords_suite(void)
{
	Suite *s = suite_create("imap_keywords");
	TCase *tc = tcase_create("file");

	tcase_add_checked_fixture(tc, folder_setup, folder_teardown);
	tcase_add_loop_test(tc, test_keywords_load, 0,
	    sizeof(keyword_files) / sizeof(keyword_files[0]));
	tcase_add_test(tc, test_keywords_add);
	suite_add_tcase(s, tc);
	tc = tcase_create("letters");
	tcase_add_loop_test(tc, test_keywords_from_name, 0,
	    sizeof(letters_cases) / sizeof(letters_cases[0]));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	sr = srunner_create(imap_parse_suite());
	srunner_add_suite(sr, imap_uidlist_suite());
	srunner_add_suite(sr, imap_keywords_suite());
	srunner_add_suite(sr, imap_modseq_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* check_mime: MIME parsing, ENVELOPE/BODYSTRUCTURE output, BODY[section]. */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "mime.h"
#include "mime_fixture.h"
#include "mime_imap.h"
#include "xalloc.h"

/* ---- helpers ------------------------------------------------------------------ */

static char *
bodystructure(const char *msg, size_t len, int extended)
{
	struct mime_message *m = mime_parse(msg, len);
	struct buf *b = buf_new(BUF_DEFAULT_CAP);
	char *s;

	ck_assert_int_eq(mime_imap_bodystructure(m, mime_message_root(m),
	    extended, b), 0);
	ck_assert_msg(imap_valid(b), "invalid syntax: %s", buf_cstr(b));
	s = buf_strdup(b);
	buf_free(&b);
	mime_free(&m);
	return s;
}

static char *
envelope(const char *msg, size_t len)
{
	struct mime_message *m = mime_parse(msg, len);
	struct buf *b = buf_new(BUF_DEFAULT_CAP);
	char *s;

	ck_assert_int_eq(mime_imap_envelope(m, mime_message_root(m), b), 0);
	ck_assert_msg(imap_valid(b), "invalid syntax: %s", buf_cstr(b));
	envelope_header_same(msg, len, b);
	s = buf_strdup(b);
	buf_free(&b);
	mime_free(&m);
	return s;
}

/* ---- BODY / BODYSTRUCTURE ------------------------------------------------------ */

static const struct {
	const char *msg;
	size_t len;
	const char *body;		/* BODY */
	const char *structure;		/* BODYSTRUCTURE */
} structures[] = {
	{ MSG(msg_simple),
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 19 2)",
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 19 2"
	  " NIL NIL NIL NIL)" },
	{ MSG(msg_alternative),
	  "((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 5 0)"
	  "(\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL"
	  " \"quoted-printable\" 11 0) \"alternative\")",
	  "((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 5 0"
	  " NIL NIL NIL NIL)"
	  "(\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL"
	  " \"quoted-printable\" 11 0 NIL NIL NIL NIL)"
	  " \"alternative\" (\"boundary\" \"XYZ\") NIL NIL NIL)" },
	{ MSG(msg_nested), NULL,
	  "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 4 0"
	  " NIL NIL NIL NIL)"
	  "(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 8 0"
	  " NIL NIL NIL NIL)"
	  " \"alternative\" (\"boundary\" \"outer-inner\") NIL NIL NIL)"
	  "(\"application\" \"pdf\" (\"name\" \"a.pdf\") \"<pdf@x>\" \"A PDF\""
	  " \"base64\" 4 \"Q2hlY2sgSW50ZWdyaXR5IQ==\""
	  " (\"attachment\" (\"filename\" \"longname.pdf\")) (\"en\" \"de\")"
	  " \"http://x/a.pdf\")"
	  "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 47"
	  " (NIL \"inner\" ((NIL NIL \"inner\" \"x.org\"))"
	  " ((NIL NIL \"inner\" \"x.org\")) ((NIL NIL \"inner\" \"x.org\"))"
	  " NIL NIL NIL NIL NIL)"
	  " (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\""
	  " 10 0 NIL NIL NIL NIL) 3 NIL NIL NIL NIL)"
	  " \"mixed\" (\"boundary\" \"outer\") NIL NIL NIL)" },
	/* No delimiter: one opaque text/plain child keeps the syntax valid. */
	{ MSG(msg_missing_boundary),
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 26 2)"
	  " \"mixed\")", NULL },
	/* No blank line: all header, an empty body. */
	{ MSG(msg_no_blank_line),
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)",
	  NULL },
	/* RFC 2231 joining, quoted-pair, duplicates, junk parameters. */
	{ MSG(msg_params), NULL,
	  "(\"text\" \"plain\" (\"title*\" \"us-ascii'en'This%20is\""
	  " \"name*\" \"utf-8''caf%C3%A9%20x\" \"charset\" {3}\r\na\"b"
	  " \"junk\" \"a\") NIL NIL \"7bit\" 1 0 NIL (\"inline\" NIL) NIL NIL)" },
	/* multipart/digest: parts default to message/rfc822. */
	{ MSG(msg_digest),
	  "((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 17"
	  " (NIL \"one\" NIL NIL NIL NIL NIL NIL NIL NIL)"
	  " (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0)"
	  " 2) \"digest\")", NULL },
	/* Checked against Dovecot 2.3.19: a single language is a list. */
	{ MSG("Content-Type: text/plain; charset=\"iso-8859-1\"\n"
	  "Content-Language: en\n"
	  "Content-Disposition: inline; filename=x\n\nline1\nline2"), NULL,
	  "(\"text\" \"plain\" (\"charset\" \"iso-8859-1\") NIL NIL \"7bit\""
	  " 12 1 NIL (\"inline\" (\"filename\" \"x\")) (\"en\") NIL)" },
	/* A message that is itself message/rfc822 (as Dovecot). */
	{ MSG("Content-Type: message/rfc822\n\nSubject: top\n\nhi\n"),
	  "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 20"
	  " (NIL \"top\" NIL NIL NIL NIL NIL NIL NIL NIL)"
	  " (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 4 1)"
	  " 3)", NULL },
	/* Empty message. */
	{ "", 0,
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)",
	  NULL },
	/* A part with no header at all (the delimiter line is followed by
	 * the blank line) and a CRLF/LF mix. */
	{ MSG("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\n\nx\r\n"
	  "--b\r\nContent-Type: image/png\n\n\x89PNG\0\n--b--"),
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0)"
	  "(\"image\" \"png\" NIL NIL NIL \"7bit\" 5) \"mixed\")", NULL },
};

START_TEST(test_structure)
{
	char *s;

	if (structures[_i].body != NULL) {
		s = bodystructure(structures[_i].msg, structures[_i].len, 0);
		ck_assert_str_eq(s, structures[_i].body);
		free(s);
	}
	if (structures[_i].structure != NULL) {
		s = bodystructure(structures[_i].msg, structures[_i].len, 1);
		ck_assert_str_eq(s, structures[_i].structure);
		free(s);
	}
}
END_TEST

/* ---- ENVELOPE ------------------------------------------------------------------- */

static const struct {
	const char *msg;
	size_t len;
	const char *envelope;
} envelopes[] = {
	{ MSG(msg_simple),
	  "(\"Mon, 1 Jan 2024 10:00:00 +0000\" \"Hello\""
	  " ((\"Alice Example\" NIL \"alice\" \"example.com\"))"
	  " ((\"Alice Example\" NIL \"alice\" \"example.com\"))"
	  " ((\"Alice Example\" NIL \"alice\" \"example.com\"))"
	  " ((NIL NIL \"bob\" \"example.net\")) NIL NIL NIL"
	  " \"<1@example.com>\")" },
	/* Groups, an empty Reply-To (= From), encoded words kept raw. */
	{ MSG(msg_nested),
	  "(NIL \"=?UTF-8?Q?caf=C3=A9?=\""
	  " ((\"Smith, John\" NIL \"john\" \"example.com\"))"
	  " ((\"Smith, John\" NIL \"john\" \"example.com\"))"
	  " ((\"Smith, John\" NIL \"john\" \"example.com\"))"
	  " ((NIL NIL \"team\" NIL)(NIL NIL \"a\" \"x.org\")"
	  "(\"B\" NIL \"b\" \"y.org\")(NIL NIL NIL NIL)"
	  "(NIL NIL \"c\" \"z.org\"))"
	  " ((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL))"
	  " NIL NIL NIL)" },
	/* Quotes escaped, 8-bit as a literal, comments as names, routes. */
	{ MSG(msg_strings),
	  "({7}\r\nGr\xc3\xbc\xc3\x9f" "e {15}\r\nsay \"hi\" \\ back"
	  " ((\"Carol Comment\" NIL \"carol\" \"c.test\")"
	  "(NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")"
	  "(\"Dave\" NIL \"d\" \"d.test\")"
	  "(NIL NIL \"bare\" \"MISSING_DOMAIN\")"
	  "(NIL NIL \"MISSING_MAILBOX\" \"nolocal\")"
	  "(\"Q Name\" NIL \"Quoted Local\" \"q.test\"))"
	  " ((NIL \"@route1,@route2\" \"s\" \"s.test\"))"
	  " ((\"Carol Comment\" NIL \"carol\" \"c.test\")"
	  "(NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")"
	  "(\"Dave\" NIL \"d\" \"d.test\")"
	  "(NIL NIL \"bare\" \"MISSING_DOMAIN\")"
	  "(NIL NIL \"MISSING_MAILBOX\" \"nolocal\")"
	  "(\"Q Name\" NIL \"Quoted Local\" \"q.test\"))"
	  " NIL NIL NIL \"<x@y>\" NIL)" },
	{ "", 0, "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
	/* Empty and missing parts filled in as Dovecot 2.3.19 does. */
	{ MSG("From: alice\nTo: <>, Bob <>, \"x y\" <a@b>, c (comment) @ d\n"
	  "Subject:\n\nbody"),
	  "(NIL \"\" ((NIL NIL \"alice\" \"MISSING_DOMAIN\"))"
	  " ((NIL NIL \"alice\" \"MISSING_DOMAIN\"))"
	  " ((NIL NIL \"alice\" \"MISSING_DOMAIN\"))"
	  " ((NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")"
	  "(\"Bob\" NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")"
	  "(\"x y\" NIL \"a\" \"b\")(\"comment\" NIL \"c\" \"d\"))"
	  " NIL NIL NIL NIL)" },
	/* Folded, CRLF, first field wins, NUL dropped. */
	{ MSG("subject: a\r\n\tb  \r\nSubject: second\r\n"
	  "TO: x@y\0z\r\n\r\nbody"),
	  "(NIL \"a\tb\" NIL NIL NIL ((NIL NIL \"x\" \"yz\")) NIL NIL NIL NIL)" },
};

START_TEST(test_envelope)
{
	char *s = envelope(envelopes[_i].msg, envelopes[_i].len);

	ck_assert_str_eq(s, envelopes[_i].envelope);
	free(s);
}
END_TEST

/* ---- the tree and header access ------------------------------------------------- */

START_TEST(test_tree)
{
	struct mime_message *m = mime_parse(MSG(msg_nested));
	const struct mime_part *root = mime_message_root(m), *p, *inner;
	struct buf *b = buf_new(1024);
	const char *data = mime_message_data(m);

	ck_assert_uint_eq(mime_part_child_count(root), 3);
	ck_assert(mime_part_is_multipart(root));
	p = mime_part_child(root, 0);
	ck_assert_str_eq(mime_part_subtype(p), "alternative");
	ck_assert_uint_eq(mime_part_child_count(p), 2);
	ck_assert_str_eq(mime_part_subtype(mime_part_child(p, 1)), "html");
	ck_assert_ptr_eq(mime_part_parent(p), root);
	ck_assert_uint_eq(mime_part_depth(mime_part_child(p, 1)), 2);
	ck_assert_ptr_null(mime_part_child(p, 2));
	p = mime_part_child(root, 1);
	ck_assert_str_eq(mime_part_encoding(p), "base64");
	ck_assert_str_eq(mime_part_id(p), "<pdf@x>");
	ck_assert_str_eq(mime_part_disposition(p), "attachment");
	ck_assert_str_eq(mime_params_get(mime_part_disposition_params(p),
	    "FILENAME"), "longname.pdf");
	ck_assert_ptr_null(mime_params_get(mime_part_params(p), "x"));
	ck_assert_int_eq(memcmp(data + mime_part_body_offset(p), "QUJD", 4),
	    0);
	ck_assert_uint_eq(mime_part_body_len(p), 4);
	p = mime_part_child(root, 2);
	ck_assert(mime_part_is_message(p));
	inner = mime_part_child(p, 0);
	ck_assert_uint_eq(mime_part_header_offset(inner),
	    mime_part_body_offset(p));
	ck_assert_int_eq(mime_part_header_get(m, inner, "SUBJECT", b), 1);
	ck_assert_str_eq(buf_cstr(b), "inner");
	ck_assert_int_eq(mime_part_header_get(m, inner, "to", b), 0);
	/* Folded value unfolded; the header size counts CRLF octets. */
	ck_assert_int_eq(mime_part_header_get(m, mime_part_child(root, 1),
	    "content-disposition", b), 1);
	ck_assert_str_eq(buf_cstr(b), "attachment; filename*0=\"long\";"
	    " filename*1=\"name.pdf\"");
	ck_assert_uint_eq(mime_part_header_size_crlf(inner),
	    mime_part_header_len(inner) + 3);
	ck_assert_uint_eq(mime_message_size_crlf(m),
	    mime_message_len(m) + 40);
	/* A value over the caller's cap: -1. */
	buf_reset(b);
	buf_set_cap(b, 3);
	ck_assert_int_eq(mime_part_header_get(m, root, "subject", b), -1);
	buf_free(&b);
	mime_free(&m);
	mime_free(&m);	/* NULL is fine */
}
END_TEST

/* mime_header_next: fields, folding, junk lines, the blank line. */
START_TEST(test_header_next)
{
	static const char header[] =
		" orphan continuation\n"
		"X-A: one\n"
		"  two\n"
		"no colon here\n"
		"From user@host Mon Jan 1 12:00:00 2024\n"
		"X-B :\tthree\r\n"
		": empty name\n"
		"X-C:\n"
		"\n"
		"X-D: after the blank line\n";
	struct mime_field f;
	struct buf *b = buf_new(100);
	size_t pos = 0;

	ck_assert_int_eq(mime_header_next(MSG(header), &pos, &f), 1);
	ck_assert_int_eq((int) f.name_len, 3);
	ck_assert_int_eq(memcmp(f.name, "X-A", 3), 0);
	ck_assert_int_eq((int) f.raw_len, (int) strlen("X-A: one\n  two\n"));
	ck_assert_int_eq(mime_field_unfold(&f, b), 0);
	ck_assert_str_eq(buf_cstr(b), "one  two");
	ck_assert_int_eq(mime_header_next(MSG(header), &pos, &f), 1);
	ck_assert_int_eq(memcmp(f.name, "X-B", f.name_len), 0);
	ck_assert_int_eq((int) f.value_len, 5);
	ck_assert_int_eq(mime_header_next(MSG(header), &pos, &f), 1);
	ck_assert_int_eq(memcmp(f.name, "X-C", f.name_len), 0);
	ck_assert_int_eq((int) f.value_len, 0);
	ck_assert_int_eq(mime_header_next(MSG(header), &pos, &f), 0);
	ck_assert_int_eq(mime_header_next(MSG(header), &pos, &f), 0);
	buf_free(&b);
}
END_TEST

START_TEST(test_crlf)
{
	struct buf *b = buf_new(100);

	ck_assert_uint_eq(mime_crlf_size(MSG("a\nb\r\n\nc")), 9);
	ck_assert_int_eq(mime_append_crlf(b, MSG("a\nb\r\n\nc\r")), 0);
	ck_assert_str_eq(buf_cstr(b), "a\r\nb\r\n\r\nc\r");
	ck_assert_uint_eq(mime_crlf_size(MSG("\n")), 2);
	ck_assert_uint_eq(mime_crlf_size("", 0), 0);
	buf_set_cap(b, buf_len(b) + 2);
	ck_assert_int_eq(mime_append_crlf(b, MSG("\n\n")), -1);
	buf_free(&b);
}
END_TEST

/* ---- BODY[section]<partial> ----------------------------------------------------- */

#define NO_SECTION ((const char *) 1)	/* expect "no such section" */

static const struct {
	const char *msg;
	size_t len;
	const char *spec;
	size_t offset, count;		/* the partial; SIZE_MAX: none */
	const char *expect;		/* CRLF text, or NO_SECTION */
} sections[] = {
	{ MSG(msg_simple), "TEXT", 0, SIZE_MAX, "Hi Bob,\r\nsee you.\r\n" },
	{ MSG(msg_simple), "1", 0, SIZE_MAX, "Hi Bob,\r\nsee you.\r\n" },
	{ MSG(msg_simple), "text", 3, 4, "Bob," },
	{ MSG(msg_simple), "TEXT", 7, 3, "\r\ns" },
	{ MSG(msg_simple), "TEXT", 1000, 10, "" },
	{ MSG(msg_simple), "TEXT", 0, 0, "" },
	{ MSG(msg_simple), "", 0, 6, "From: " },
	{ MSG(msg_simple), "2", 0, SIZE_MAX, NO_SECTION },
	{ MSG(msg_simple), "1.HEADER", 0, SIZE_MAX, NO_SECTION },
	{ MSG(msg_simple), "HEADER.FIELDS (subject TO)", 0, SIZE_MAX,
	  "To: bob@example.net\r\nSubject: Hello\r\n\r\n" },
	{ MSG(msg_simple), "HEADER.FIELDS.NOT (From To Date Message-ID)",
	  0, SIZE_MAX, "Subject: Hello\r\n\r\n" },
	{ MSG(msg_simple), "HEADER.FIELDS (X-None)", 0, SIZE_MAX, "\r\n" },
	{ MSG(msg_alternative), "1", 0, SIZE_MAX, "plain" },
	{ MSG(msg_alternative), "2.MIME", 0, SIZE_MAX,
	  "Content-Type: text/html; charset=\"utf-8\"\r\n"
	  "Content-Transfer-Encoding: quoted-printable\r\n\r\n" },
	{ MSG(msg_alternative), "3", 0, SIZE_MAX, NO_SECTION },
	{ MSG(msg_alternative), "HEADER.FIELDS (content-type)", 0, SIZE_MAX,
	  "Content-Type: multipart/alternative;\r\n\tboundary=\"XYZ\"\r\n\r\n" },
	{ MSG(msg_nested), "1.2", 0, SIZE_MAX, "<b>x</b>" },
	{ MSG(msg_nested), "1.2.MIME", 0, SIZE_MAX,
	  "Content-Type: TEXT/HTML\r\n\r\n" },
	{ MSG(msg_nested), "1.1.1", 0, SIZE_MAX, "text" },
	{ MSG(msg_nested), "1.3", 0, SIZE_MAX, NO_SECTION },
	{ MSG(msg_nested), "2.HEADER", 0, SIZE_MAX, NO_SECTION },
	{ MSG(msg_nested), "2.2", 0, SIZE_MAX, NO_SECTION },
	{ MSG(msg_nested), "3", 0, SIZE_MAX,
	  "From: inner@x.org\r\nSubject: inner\r\n\r\ninner body" },
	{ MSG(msg_nested), "3.HEADER", 0, SIZE_MAX,
	  "From: inner@x.org\r\nSubject: inner\r\n\r\n" },
	{ MSG(msg_nested), "3.TEXT", 0, SIZE_MAX, "inner body" },
	{ MSG(msg_nested), "3.1", 0, SIZE_MAX, "inner body" },
	{ MSG(msg_nested), "3.2", 0, SIZE_MAX, NO_SECTION },
	{ MSG(msg_nested), "3.HEADER.FIELDS (\"subject\")", 0, SIZE_MAX,
	  "Subject: inner\r\n\r\n" },
	{ MSG(msg_nested), "3.MIME", 0, SIZE_MAX,
	  "Content-Type: message/rfc822\r\n\r\n" },
	{ MSG(msg_nested), "4", 0, SIZE_MAX, NO_SECTION },
	{ MSG(msg_no_blank_line), "HEADER.FIELDS (subject)", 0, SIZE_MAX,
	  "Subject: x\r\n" },
	{ MSG(msg_no_blank_line), "HEADER", 0, SIZE_MAX,
	  "Subject: x\r\nFrom: y@z" },
	{ MSG(msg_no_blank_line), "TEXT", 0, SIZE_MAX, "" },
	{ MSG(msg_digest), "1.HEADER", 0, SIZE_MAX, "Subject: one\r\n\r\n" },
	{ MSG(msg_digest), "1.1", 0, SIZE_MAX, "1" },
	/* Field names as a literal. */
	{ MSG(msg_simple), "HEADER.FIELDS ({4}\r\nDATE)", 0, SIZE_MAX,
	  "Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\n" },
};

START_TEST(test_section)
{
	struct mime_message *m = mime_parse(sections[_i].msg,
	    sections[_i].len);
	struct mime_section *sec;
	struct buf *b = buf_new(BUF_DEFAULT_CAP);
	const char *error = NULL;
	size_t size;
	int rc;

	ck_assert_msg(mime_section_parse(sections[_i].spec,
	    strlen(sections[_i].spec), &sec, &error) == 0, "%s: %s",
	    sections[_i].spec, error);
	buf_append_str(b, "pre");
	rc = mime_section_fetch(m, sec, sections[_i].offset,
	    sections[_i].count, b);
	if (sections[_i].expect == NO_SECTION) {
		ck_assert_int_eq(rc, 0);
		ck_assert_str_eq(buf_cstr(b), "pre");
		ck_assert_int_eq(mime_section_size(m, sec, &size), 0);
	} else {
		ck_assert_int_eq(rc, 1);
		ck_assert_str_eq(buf_cstr(b) + 3, sections[_i].expect);
		ck_assert_int_eq(mime_section_size(m, sec, &size), 1);
		if (sections[_i].offset == 0 &&
		    sections[_i].count == SIZE_MAX)
			ck_assert_uint_eq(size, buf_len(b) - 3);
	}
	/* Too small a buffer: -1. */
	if (sections[_i].expect != NO_SECTION &&
	    strlen(sections[_i].expect) > 0) {
		buf_reset(b);
		buf_set_cap(b, 1);
		buf_append_str(b, "x");
		ck_assert_int_eq(mime_section_fetch(m, sec,
		    sections[_i].offset, sections[_i].count, b), -1);
	}
	mime_section_free(&sec);
	ck_assert_ptr_null(sec);
	buf_free(&b);
	mime_free(&m);
}
END_TEST

/* The whole message, LF converted; BODY[] equals RFC822.SIZE octets. */
START_TEST(test_section_whole)
{
	struct mime_message *m = mime_parse(MSG(msg_nested));
	struct mime_section *sec;
	struct buf *b = buf_new(BUF_DEFAULT_CAP), *expect = buf_new(4096);
	const char *error;

	ck_assert_int_eq(mime_section_parse("", 0, &sec, &error), 0);
	ck_assert_int_eq(mime_section_fetch(m, sec, 0, SIZE_MAX, b), 1);
	mime_append_crlf(expect, MSG(msg_nested));
	ck_assert_uint_eq(buf_len(b), mime_message_size_crlf(m));
	ck_assert_str_eq(buf_cstr(b), buf_cstr(expect));
	mime_section_free(&sec);
	buf_free(&b);
	buf_free(&expect);
	mime_free(&m);
}
END_TEST

static const struct {
	const char *spec;
	size_t len;
} bad_sections[] = {
	{ MSG("HEADER.FIELDS") },
	{ MSG("HEADER.FIELDS ()") },
	{ MSG("HEADER.FIELDS (") },
	{ MSG("HEADER.FIELDS (a") },
	{ MSG("HEADER.FIELDS (a )") },
	{ MSG("HEADER.FIELDS(a)") },
	{ MSG("HEADER.FIELDS (a) x") },
	{ MSG("HEADER.FIELDS (\"unterminated)") },
	{ MSG("HEADER.FIELDS (\"bad\\escape\")") },
	{ MSG("HEADER.FIELDS ({3}\r\nab)") },
	{ MSG("HEADER.FIELDS ({}\r\n)") },
	{ MSG("HEADER.FIELDS ({99999999999999999999999}\r\nab)") },
	{ MSG("HEADER.FIELDS (a\0b)") },
	{ MSG("HEADER.FIELDS (a*)") },
	{ MSG("HEADER.FIELDS (a{b)") },
	{ MSG("HEADER.FIELDS.NOT") },
	{ MSG("HEADERS") },
	{ MSG("HEADER ") },
	{ MSG("MIME") },
	{ MSG("0") },
	{ MSG("01") },
	{ MSG("1.") },
	{ MSG(".1") },
	{ MSG("1..2") },
	{ MSG("1.0") },
	{ MSG("-1") },
	{ MSG("1 ") },
	{ MSG("2147483648") },
	{ MSG("99999999999999999999") },
	{ MSG("1.HEADERX") },
	{ MSG("1.TEXT.MIME") },
	{ MSG("TEXT.x") },
	{ MSG("FOO") },
	{ MSG(" ") },
	{ MSG("1\0") },
};

START_TEST(test_section_bad)
{
	struct mime_section *sec = (struct mime_section *) 1;
	const char *error = NULL;

	ck_assert_int_eq(mime_section_parse(bad_sections[_i].spec,
	    bad_sections[_i].len, &sec, &error), -1);
	ck_assert_ptr_null(sec);
	ck_assert_ptr_nonnull(error);
}
END_TEST

START_TEST(test_section_good_forms)
{
	static const char *const good[] = {
		"", "1", "1.2.3", "2147483647", "1.MIME", "header", "Text",
		"1.HEADER", "4.TEXT", "header.fields.not (a \"b c\" {1}\r\nd)",
		"HEADER.FIELDS (From  To)",
		"HEADER.FIELDS (\"\")",
	};
	struct mime_section *sec;
	const char *error;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ck_assert_msg(mime_section_parse(good[i], strlen(good[i]), &sec,
		    &error) == 0, "%s", good[i]);
		mime_section_free(&sec);
	}
	mime_section_free(&sec);
}
END_TEST

static Suite *
mime_suite(void)
{
	Suite *s = suite_create("mime");
	TCase *tc;

	tc = tcase_create("structure");
	tcase_add_loop_test(tc, test_structure, 0,
	    sizeof(structures) / sizeof(structures[0]));
	tcase_add_loop_test(tc, test_envelope, 0,
	    sizeof(envelopes) / sizeof(envelopes[0]));
	tcase_add_test(tc, test_tree);
	tcase_add_test(tc, test_header_next);
	tcase_add_test(tc, test_crlf);
	suite_add_tcase(s, tc);

	tc = tcase_create("section");
	tcase_add_loop_test(tc, test_section, 0,
	    sizeof(sections) / sizeof(sections[0]));
	tcase_add_test(tc, test_section_whole);
	tcase_add_loop_test(tc, test_section_bad, 0,
	    sizeof(bad_sections) / sizeof(bad_sections[0]));
	tcase_add_test(tc, test_section_good_forms);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(mime_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

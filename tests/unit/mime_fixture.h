/*
 * mime_fixture: what the Check programs of common/mime share (check_mime:
 * structure, ENVELOPE, sections; check_mime_limits: limits, fuzz).
 *
 * The sample messages are static so that sizeof gives their length
 * (MSG); each program uses the ones it needs.
 */
#ifndef ISPMAIL_MIME_FIXTURE_H
#define ISPMAIL_MIME_FIXTURE_H

#include <stddef.h>

struct buf;

#define MSG(x) x, sizeof(x) - 1

/* Is b exactly one IMAP value (NIL, number, string, list)? */
int imap_valid(const struct buf *b);
/* The monotonic clock in seconds. */
double now(void);
/*
 * mime_imap_envelope_header on msg and on its header block alone must both
 * write want (imapd's FETCH ENVELOPE without a MIME parse).
 */
void envelope_header_same(const char *msg, size_t len,
    const struct buf *want);

/* ---- sample messages ------------------------------------------------------ */

static const char msg_simple[] =
	"From: Alice Example <alice@example.com>\n"
	"To: bob@example.net\n"
	"Subject: Hello\n"
	"Date: Mon, 1 Jan 2024 10:00:00 +0000\n"
	"Message-ID: <1@example.com>\n"
	"\n"
	"Hi Bob,\n"
	"see you.\n";

static const char msg_alternative[] =
	"From: a@x\r\n"
	"Subject: alt\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: multipart/alternative;\r\n"
	"\tboundary=\"XYZ\"\r\n"
	"\r\n"
	"preamble\r\n"
	"--XYZ\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"\r\n"
	"plain\r\n"
	"--XYZ\r\n"
	"Content-Type: text/html; charset=\"utf-8\"\r\n"
	"Content-Transfer-Encoding: quoted-printable\r\n"
	"\r\n"
	"<p>html</p>\r\n"
	"--XYZ--\r\n"
	"epilogue\r\n";

static const char msg_nested[] =
	"From: \"Smith, John\" <john@example.com>\n"
	"To: team: a@x.org, \"B\" <b@y.org>;, c@z.org\n"
	"Cc: undisclosed-recipients:;\n"
	"Reply-To:\n"
	"Subject: =?UTF-8?Q?caf=C3=A9?=\n"
	"Content-Type: multipart/mixed; boundary=outer\n"
	"\n"
	"--outer\n"
	"Content-Type: multipart/alternative; boundary=outer-inner\n"
	"\n"
	"--outer-inner\n"
	"Content-Type: text/plain\n"
	"\n"
	"text\n"
	"--outer-inner\n"
	"Content-Type: TEXT/HTML\n"
	"\n"
	"<b>x</b>\n"
	"--outer-inner--\n"
	"\n"
	"--outer\n"
	"Content-Type: application/pdf; name=\"a.pdf\"\n"
	"Content-Disposition: attachment; filename*0=\"long\";\n"
	" filename*1=\"name.pdf\"\n"
	"Content-Transfer-Encoding: base64\n"
	"Content-ID: <pdf@x>\n"
	"Content-Description: A PDF\n"
	"Content-Language: en, de\n"
	"Content-Location: http://x/a.pdf\n"
	"Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\n"
	"\n"
	"QUJD\n"
	"--outer\n"
	"Content-Type: message/rfc822\n"
	"\n"
	"From: inner@x.org\n"
	"Subject: inner\n"
	"\n"
	"inner body\n"
	"--outer--\n";

static const char msg_missing_boundary[] =
	"Content-Type: multipart/mixed; boundary=nope\n"
	"\n"
	"no delimiter\n"
	"--nope-not\n";

static const char msg_no_blank_line[] =
	"Subject: x\n"
	"From: y@z";

static const char msg_params[] =
	"Content-Type: Text/Plain; title*=us-ascii'en'This%20is;\n"
	" name*0*=utf-8''caf%C3%A9; name*1=\" x\"; CHARSET=\"a\\\"b\";\n"
	" charset=second; broken; =x; junk*0=a; junk*2=c\n"
	"Content-Disposition: INLINE\n"
	"\n"
	"x";

static const char msg_strings[] =
	"Subject: say \"hi\" \\ back\n"
	"Date: Gr\xc3\xbc\xc3\x9f" "e\n"
	"From: (Carol Comment) carol@c.test, <>, Dave <d@d.test> junk,\n"
	"  bare, @nolocal, \"Quoted Local\"@q.test (Q Name)\n"
	"Sender: <@route1,@route2:s@s.test>\n"
	"In-Reply-To: <x@y>\n"
	"\n";

static const char msg_digest[] =
	"Content-Type: multipart/digest; boundary=d\n"
	"\n"
	"--d\n"
	"\n"
	"Subject: one\n"
	"\n"
	"1\n"
	"--d--\n";

#endif

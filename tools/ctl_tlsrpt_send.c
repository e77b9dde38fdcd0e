/*
 * ctl_tlsrpt_send: where a TLS report goes (RFC 8460 3: the TXT record
 * _smtp._tls.DOMAIN) and how: gzipped JSON in a multipart/report mail
 * (RFC 8460 5.3) through smtpd's public/sendmail socket, as a local
 * user's mail, so it is queued, DKIM-signed and retried like any other;
 * or a POST to an https URI (RFC 8460 5.4) with libcurl.
 */
#include "config.h"

#include <curl/curl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "address.h"
#include "buf.h"
#include "connect.h"
#include "ctl_tlsrpt_int.h"
#include "dns.h"
#include "https_easy.h"
#include "mail_params.h"
#include "sasl.h"
#include "stream.h"
#include "xalloc.h"

#define TLSRPT_GZIP_MAX (8 * 1024 * 1024)
#define TLSRPT_MAIL_MAX (16 * 1024 * 1024)
#define TLSRPT_URI_MAX 2048
#define TLSRPT_REPLY_LINES 64
#define TLSRPT_HTTP_BODY_MAX 4096

/* ---- the policy record ------------------------------------------------------ */

int
ctl_tlsrpt_parse_record(const char *txt, char ***rua_r, size_t *count_r)
{
	const char *p = txt, *tag, *value, *end;
	char **rua = NULL;
	size_t count = 0, len, vlen;

	/* RFC 8460 3: "v=TLSRPTv1" first, then "; " separated tags. */
	if (strncmp(p, "v=TLSRPTv1", 10) != 0 || (p[10] != '\0' &&
	    p[10] != ';' && p[10] != ' ' && p[10] != '\t'))
		return -1;
	p += 10;
	while (*p != '\0') {
		p += strspn(p, " \t;");
		tag = p;
		len = strcspn(p, "=;");
		if (len == 0 || p[len] != '=')
			break;
		value = p + len + 1;
		vlen = strcspn(value, ";");
		p = value + vlen;
		if (len != 3 || strncmp(tag, "rua", 3) != 0 || rua != NULL)
			continue;
		/* ruaURI *("," ruaURI), each mailto: or https:. */
		rua = xcalloc(CTL_TLSRPT_RUA_MAX, sizeof(*rua));
		while (vlen > 0) {
			size_t ulen = strcspn(value, ",;");

			end = value + ulen;
			while (ulen > 0 && (*value == ' ' || *value == '\t')) {
				value++;
				ulen--;
			}
			while (ulen > 0 && (end[-1] == ' ' || end[-1] == '\t')) {
				end--;
				ulen--;
			}
			if (count < CTL_TLSRPT_RUA_MAX && ulen > 0 &&
			    ulen <= TLSRPT_URI_MAX &&
			    (strncasecmp(value, "mailto:", 7) == 0 ||
			    strncasecmp(value, "https://", 8) == 0))
				rua[count++] = xasprintf("%.*s", (int) ulen,
				    value);
			value += strcspn(value, ",;");
			if (*value != ',')
				break;
			value++;
			vlen = strcspn(value, ";");
		}
	}
	if (count == 0) {
		free(rua);
		return -1;
	}
	*rua_r = rua;
	*count_r = count;
	return 0;
}

int
ctl_tlsrpt_policy(struct dns *dns, const char *domain, char ***rua_r,
	size_t *count_r, char **error_r)
{
	struct dns_answer *ans = NULL;
	enum dns_status st;
	char *name = xasprintf("_smtp._tls.%s", domain);
	size_t i, records = 0;
	char **rua = NULL;
	size_t count = 0;

	*rua_r = NULL;
	*count_r = 0;
	st = dns_txt_lookup(dns, name, (int) (var_tlsrpt_timeout * 1000),
	    &ans);
	free(name);
	if (st == DNS_TEMPFAIL) {
		*error_r = xasprintf("_smtp._tls.%s: %s", domain,
		    ans->error != NULL ? ans->error : "lookup failed");
		dns_answer_free(&ans);
		return -1;
	}
	for (i = 0; st == DNS_FOUND && i < ans->string_count; i++) {
		if (strncmp(ans->strings[i], "v=TLSRPTv1", 10) != 0)
			continue;
		records++;
		if (rua == NULL)
			(void) ctl_tlsrpt_parse_record(ans->strings[i], &rua,
			    &count);
	}
	dns_answer_free(&ans);
	/* RFC 8460 3: more than one record, or none valid: no reports. */
	if (records != 1 || rua == NULL) {
		for (i = 0; i < count; i++)
			free(rua[i]);
		free(rua);
		return 0;
	}
	*rua_r = rua;
	*count_r = count;
	return 1;
}

/* ---- the report file ----------------------------------------------------- */

/* The JSON gzipped (RFC 1952, as RFC 8460 5.1 asks).  NULL: too large. */
static struct buf *
tlsrpt_gzip(const struct buf *json)
{
	struct buf *out = buf_new(TLSRPT_GZIP_MAX);
	unsigned char chunk[16384];
	z_stream z;
	int zrc;

	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
	    Z_DEFAULT_STRATEGY) != Z_OK) {
		buf_free(&out);
		return NULL;
	}
	z.next_in = (unsigned char *) (uintptr_t) buf_cstr(json);
	z.avail_in = (uInt) buf_len(json);
	do {
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		zrc = deflate(&z, Z_FINISH);
		if (zrc == Z_STREAM_ERROR || buf_append(out, chunk,
		    sizeof(chunk) - z.avail_out) < 0) {
			buf_free(&out);
			break;
		}
	} while (zrc != Z_STREAM_END);
	(void) deflateEnd(&z);
	return out;
}

/* ---- mail (RFC 8460 5.3) ---------------------------------------------------- */

/* One SMTP reply from smtpd: its code, or -1 (lost, malformed). */
static int
tlsrpt_reply(struct stream *s, struct buf *text)
{
	struct buf *line = buf_new(1024);
	const char *l;
	int i, code = -1;

	buf_reset(text);
	for (i = 0; i < TLSRPT_REPLY_LINES; i++) {
		if (stream_read_line(s, line, 1000) != STREAM_OK)
			break;
		l = buf_cstr(line);
		if (buf_len(line) < 3 || l[0] < '2' || l[0] > '5' ||
		    strspn(l + 1, "0123456789") < 2)
			break;
		(void) buf_append_str(text, buf_len(line) > 4 ? l + 4 : "");
		if (l[3] != '-') {
			code = (l[0] - '0') * 100 + (l[1] - '0') * 10 +
			    (l[2] - '0');
			break;
		}
		(void) buf_append_str(text, " / ");
	}
	buf_free(&line);
	return code;
}

/* Send line (without CRLF) and want a reply of class want (2, 3). */
static int
tlsrpt_step(struct stream *s, const char *line, int want, struct buf *text,
	char **error_r)
{
	int code;

	if (line != NULL && (stream_printf(s, "%s\r\n", line) != STREAM_OK ||
	    stream_flush(s) != STREAM_OK)) {
		*error_r = xasprintf("public/sendmail: write failed");
		return -1;
	}
	code = tlsrpt_reply(s, text);
	if (code / 100 != want) {
		*error_r = code < 0 ? xasprintf("public/sendmail: connection "
		    "lost") : xasprintf("smtpd said %d %s after %.20s", code,
		    buf_cstr(text), line != NULL ? line : "connect");
		return -1;
	}
	return 0;
}

/* The whole message, CRLF lines, no line starts with a dot. */
static struct buf *
tlsrpt_message(const struct ctl_tlsrpt_report *r, const char *from,
	const char *to, const struct buf *gz)
{
	struct buf *m = buf_new(TLSRPT_MAIL_MAX), *b64 = buf_new(128);
	char date[64], boundary[64];
	time_t now = time(NULL);
	struct tm tm;
	size_t off, n;

	(void) localtime_r(&now, &tm);
	(void) strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	snprintf(boundary, sizeof(boundary), "tlsrpt-%lld-%ld",
	    (long long) now, (long) getpid());
	(void) buf_printf(m, "From: <%s>\r\nTo: <%s>\r\nDate: %s\r\n"
	    "Subject: Report Domain: %s Submitter: %s Report-ID: <%s>\r\n"
	    "TLS-Report-Domain: %s\r\nTLS-Report-Submitter: %s\r\n"
	    "Message-ID: <%s>\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: multipart/report; report-type=\"tlsrpt\";\r\n"
	    "\tboundary=\"%s\"\r\n\r\n", from, to, date, r->domain,
	    mail_hostname(), r->report_id, r->domain, mail_hostname(),
	    r->report_id, boundary);
	(void) buf_printf(m, "--%s\r\nContent-Type: text/plain; "
	    "charset=us-ascii\r\n\r\nThis is an aggregate TLS report "
	    "(RFC 8460) from %s for %s.\r\n\r\n", boundary, mail_hostname(),
	    r->domain);
	/* RFC 8460 5.3: submitter!policy-domain!begin!end!id.json.gz */
	(void) buf_printf(m, "--%s\r\nContent-Type: application/tlsrpt+gzip\r\n"
	    "Content-Transfer-Encoding: base64\r\nContent-Disposition: "
	    "attachment;\r\n\tfilename=\"%s!%s!%lld!%lld!%lld%ld.json.gz\"\r\n"
	    "\r\n", boundary, mail_hostname(), r->domain, r->start, r->end,
	    (long long) now, (long) getpid());
	for (off = 0; off < buf_len(gz); off += n) {
		n = buf_len(gz) - off > 57 ? 57 : buf_len(gz) - off;
		buf_reset(b64);
		(void) base64_encode(buf_cstr(gz) + off, n, b64);
		(void) buf_append(m, buf_cstr(b64), buf_len(b64));
		(void) buf_append_str(m, "\r\n");
	}
	if (buf_printf(m, "\r\n--%s--\r\n", boundary) < 0)
		buf_free(&m);
	buf_free(&b64);
	return m;
}

static int
tlsrpt_mail(const struct ctl_tlsrpt_report *r, const char *uri,
	const struct buf *gz, char **error_r)
{
	struct buf *text = buf_new(64 * 1024), *msg = NULL;
	struct stream *s = NULL;
	char *to, *from, *cmd, *perr = NULL;
	int fd, rc = -1;

	/* mailto:addr (RFC 6068); %-escapes and ?headers are not taken. */
	to = xstrdup(uri + 7);
	if (strpbrk(to, "%?<> \t\r\n,") != NULL || strlen(to) > 254 ||
	    address_parse(to, strlen(to), NULL, NULL, &perr) < 0) {
		*error_r = xasprintf("not a plain mailto address");
		free(perr);
		free(to);
		buf_free(&text);
		return -1;
	}
	from = *var_tlsrpt_sender_address != '\0' ?
	    xstrdup(var_tlsrpt_sender_address) :
	    xasprintf("noreply-tlsrpt@%s", mail_hostname());
	msg = tlsrpt_message(r, from, to, gz);
	fd = msg == NULL ? -1 : net_connect_nexthop("unix:public/sendmail",
	    var_queue_directory, (int) (var_tlsrpt_timeout * 1000), NULL,
	    NULL, error_r);
	if (msg == NULL)
		*error_r = xasprintf("report mail too large");
	if (fd < 0)
		goto out;
	s = stream_new(fd, (int) (var_tlsrpt_timeout * 1000),
	    (int) (var_tlsrpt_timeout * 1000));
	cmd = NULL;
	if (tlsrpt_step(s, NULL, 2, text, error_r) < 0)
		goto out;
	cmd = xasprintf("EHLO %s", mail_hostname());
	rc = tlsrpt_step(s, cmd, 2, text, error_r);
	free(cmd);
	if (rc == 0) {
		cmd = xasprintf("MAIL FROM:<%s>", from);
		rc = tlsrpt_step(s, cmd, 2, text, error_r);
		free(cmd);
	}
	if (rc == 0) {
		cmd = xasprintf("RCPT TO:<%s>", to);
		rc = tlsrpt_step(s, cmd, 2, text, error_r);
		free(cmd);
	}
	if (rc == 0)
		rc = tlsrpt_step(s, "DATA", 3, text, error_r);
	if (rc == 0 && (stream_write(s, buf_cstr(msg), buf_len(msg)) !=
	    STREAM_OK)) {
		*error_r = xasprintf("public/sendmail: write failed");
		rc = -1;
	}
	if (rc == 0)
		rc = tlsrpt_step(s, ".", 2, text, error_r);
	if (rc == 0)
		(void) tlsrpt_step(s, "QUIT", 2, text, &perr);
	free(perr);
out:
	stream_free(&s);
	if (fd >= 0)
		close(fd);
	buf_free(&msg);
	buf_free(&text);
	free(from);
	free(to);
	return rc;
}

/* ---- HTTPS (RFC 8460 5.4) ------------------------------------------------- */

static size_t
tlsrpt_http_body(char *data, size_t size, size_t count, void *context)
{
	struct buf *b = context;
	size_t len = size * count;

	/* The answer is not used; only its first bytes are kept. */
	if (buf_len(b) + len <= TLSRPT_HTTP_BODY_MAX)
		(void) buf_append(b, data, len);
	return len;
}

/* The host of an https URI as a CURLOPT_RESOLVE list (dns.h). */
static struct curl_slist *
tlsrpt_resolve(struct dns *dns, const char *uri, char **error_r)
{
	const char *host = uri + 8;
	size_t hlen = strcspn(host, ":/?#");
	struct curl_slist *list;
	unsigned long port = 443;
	char *name, *entry;

	if (host[hlen] == ':')
		port = strtoul(host + hlen + 1, NULL, 10);
	if (hlen == 0 || host[0] == '[' || port == 0 || port > 65535) {
		*error_r = xasprintf("not an https URI with a host name");
		return NULL;
	}
	name = xasprintf("%.*s", (int) hlen, host);
	entry = dns_resolve_entry(dns, name, (unsigned int) port,
	    (int) (var_tlsrpt_timeout * 1000), error_r);
	free(name);
	if (entry == NULL)
		return NULL;
	list = curl_slist_append(NULL, entry);
	free(entry);
	return list;
}

static int
tlsrpt_post(struct dns *dns, const char *uri, const struct buf *gz,
	char **error_r)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *resolve, *headers;
	struct buf *answer;
	long status = 0;
	CURLcode rc;
	CURL *curl;

	resolve = tlsrpt_resolve(dns, uri, error_r);
	if (resolve == NULL)
		return -1;
	headers = curl_slist_append(NULL,
	    "Content-Type: application/tlsrpt+gzip");
	curl = headers == NULL ? NULL : https_easy_new(uri, resolve,
	    (long) (var_tlsrpt_timeout * 1000), "ispmail-tlsrpt", errbuf);
	if (curl == NULL) {
		*error_r = xasprintf("libcurl cannot start");
		curl_slist_free_all(resolve);
		curl_slist_free_all(headers);
		return -1;
	}
	answer = buf_new(TLSRPT_HTTP_BODY_MAX + 1);
	(void) curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	(void) curl_easy_setopt(curl, CURLOPT_POSTFIELDS, buf_cstr(gz));
	(void) curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE,
	    (long) buf_len(gz));
	(void) curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, tlsrpt_http_body);
	(void) curl_easy_setopt(curl, CURLOPT_WRITEDATA, answer);
	rc = curl_easy_perform(curl);
	if (rc == CURLE_OK)
		(void) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(curl);
	curl_slist_free_all(resolve);
	curl_slist_free_all(headers);
	buf_free(&answer);
	if (rc != CURLE_OK || status < 200 || status > 299) {
		*error_r = rc != CURLE_OK ? xasprintf("%s", *errbuf != '\0' ?
		    errbuf : curl_easy_strerror(rc)) :
		    xasprintf("HTTP status %ld", status);
		return -1;
	}
	return 0;
}

int
ctl_tlsrpt_deliver(struct dns *dns, const struct ctl_tlsrpt_report *r,
	const char *rua, char **error_r)
{
	struct buf *gz = tlsrpt_gzip(r->json);
	int rc;

	if (gz == NULL) {
		*error_r = xasprintf("cannot gzip the report");
		return -1;
	}
	if (strncasecmp(rua, "mailto:", 7) == 0)
		rc = tlsrpt_mail(r, rua, gz, error_r);
	else
		rc = tlsrpt_post(dns, rua, gz, error_r);
	buf_free(&gz);
	return rc;
}

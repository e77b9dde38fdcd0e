/* smtp_tls: the TLS policy per destination and the client contexts. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "mail_params.h"
#include "smtp.h"
#include "tls.h"
#include "xalloc.h"

/* A policy file is small operator-written text. */
#define SMTP_TLS_POLICY_FILE_MAX (1024 * 1024)

static const char *const level_names[] = {
	[SMTP_TLS_NONE] = "none",
	[SMTP_TLS_MAY] = "may",
	[SMTP_TLS_ENCRYPT] = "encrypt",
	[SMTP_TLS_VERIFY] = "verify",
	[SMTP_TLS_DANE_ONLY] = "dane-only",
};

int
smtp_tls_level_parse(const char *text, enum smtp_tls_level *level_r)
{
	size_t i;

	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcasecmp(text, level_names[i]) == 0) {
			*level_r = (enum smtp_tls_level) i;
			return 0;
		}
	}
	return -1;
}

const char *
smtp_tls_level_name(enum smtp_tls_level level)
{
	return level_names[level];
}

/* Does a policy key match the domain?  ".example.com": subdomains. */
static int
smtp_tls_key_match(const char *key, size_t klen, const char *domain)
{
	size_t dlen = strlen(domain);

	if (klen > 1 && key[0] == '.')
		return dlen > klen - 1 && domain[dlen - klen] == '.' &&
		    strncasecmp(domain + dlen - klen + 1, key + 1,
		    klen - 1) == 0;
	return klen == dlen && strncasecmp(key, domain, klen) == 0;
}

int
smtp_tls_policy_find(const char *policy, const char *domain,
	enum smtp_tls_level *level_r, const char **error_r)
{
	const char *p = policy, *key, *value, *eol;
	size_t klen, vlen;
	char word[16];
	enum smtp_tls_level level;
	int found = 0;

	/* Entries: "key=level" or "key level"; '#' comments to end of line. */
	while (*p != '\0') {
		p += strspn(p, " \t\r\n,");
		if (*p == '#') {
			eol = strchr(p, '\n');
			p = eol != NULL ? eol : p + strlen(p);
			continue;
		}
		if (*p == '\0')
			break;
		key = p;
		klen = strcspn(p, " \t\r\n,=#");
		p += klen;
		if (*p == '=')
			p++;
		else
			p += strspn(p, " \t");
		value = p;
		vlen = strcspn(p, " \t\r\n,#");
		p += vlen;
		if (klen == 0 || vlen == 0 || vlen >= sizeof(word)) {
			*error_r = "an entry is not \"domain=level\"";
			return -1;
		}
		memcpy(word, value, vlen);
		word[vlen] = '\0';
		if (smtp_tls_level_parse(word, &level) < 0) {
			*error_r = "unknown TLS level (none, may, encrypt, "
			    "verify, dane-only)";
			return -1;
		}
		/* The first match wins, as operators read the list. */
		if (!found && smtp_tls_key_match(key, klen, domain)) {
			*level_r = level;
			found = 1;
		}
	}
	return found;
}

/* The policy text: inline, or the file an absolute path names. */
static char *
smtp_tls_policy_text(const char **error_r)
{
	struct buf *b;
	char chunk[4096];
	ssize_t n;
	char *text;
	int fd;

	if (var_smtp_tls_policy[0] != '/')
		return xstrdup(var_smtp_tls_policy);
	fd = open(var_smtp_tls_policy, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		*error_r = strerror(errno);
		return NULL;
	}
	b = buf_new(SMTP_TLS_POLICY_FILE_MAX);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		if (buf_append(b, chunk, (size_t) n) < 0) {
			*error_r = "file too large";
			close(fd);
			buf_free(&b);
			return NULL;
		}
	}
	close(fd);
	if (n < 0) {
		*error_r = "read error";
		buf_free(&b);
		return NULL;
	}
	text = buf_strdup(b);
	buf_free(&b);
	return text;
}

static enum smtp_tls_level
smtp_tls_default_level(void)
{
	enum smtp_tls_level level;

	if (smtp_tls_level_parse(var_smtp_tls_security_level, &level) < 0) {
		log_warn("smtp_tls_security_level: unknown level \"%s\", "
		    "using may", var_smtp_tls_security_level);
		return SMTP_TLS_MAY;
	}
	return level;
}

enum smtp_tls_level
smtp_tls_policy_level(const char *domain)
{
	enum smtp_tls_level level = smtp_tls_default_level();
	const char *error = NULL;
	char *text;

	if (*var_smtp_tls_policy == '\0' || domain == NULL)
		return level;
	text = smtp_tls_policy_text(&error);
	if (text == NULL) {
		log_warn("smtp_tls_policy %s: %s", var_smtp_tls_policy, error);
		return level;
	}
	if (smtp_tls_policy_find(text, domain, &level, &error) < 0) {
		log_warn("smtp_tls_policy: %s", error);
		level = smtp_tls_default_level();
	}
	free(text);
	return level;
}

struct tls_server *
smtp_tls_context(enum smtp_tls_level level, char **error_r)
{
	static struct tls_server *opportunistic, *verified;
	struct tls_server **slot;
	int verify = level == SMTP_TLS_VERIFY;

	*error_r = NULL;
	slot = verify ? &verified : &opportunistic;
	if (*slot == NULL)
		*slot = tls_client_new(*var_smtp_tls_ca_file != '\0' ?
		    var_smtp_tls_ca_file : NULL, verify, error_r);
	if (*slot == NULL && *error_r == NULL)
		*error_r = xstrdup("cannot make a TLS client context");
	return *slot;
}

struct tls_server *
smtp_tls_context_dane(char **error_r)
{
	static struct tls_server *dane;

	*error_r = NULL;
	if (dane == NULL)
		dane = tls_client_dane_new(error_r);
	if (dane == NULL && *error_r == NULL)
		*error_r = xstrdup("cannot make a DANE TLS client context");
	return dane;
}

struct tls_server *
smtp_tls_context_report(char **error_r)
{
	static struct tls_server *report;

	*error_r = NULL;
	if (report == NULL)
		report = tls_client_new(*var_smtp_tls_ca_file != '\0' ?
		    var_smtp_tls_ca_file : NULL, TLS_VERIFY_REPORT, error_r);
	if (report == NULL && *error_r == NULL)
		*error_r = xstrdup("cannot make a TLS client context");
	return report;
}

/* smtp_mta_sts: MTA-STS policies (RFC 8461): discovery, fetch, cache. */
#include "config.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "dns.h"
#include "fileio.h"
#include "https_easy.h"
#include "log.h"
#include "mail_params.h"
#include "smtp.h"
#include "xalloc.h"

/* RFC 8461 3.3: "senders SHOULD impose a limit ... e.g. 64k". */
#define STS_POLICY_MAX (64 * 1024)
/* RFC 8461 3.2: max_age is at most 31557600 (about a year). */
#define STS_MAX_AGE_MAX 31557600LL
/* RFC 8461 3.1: id is 1*32(ALPHA / DIGIT). */
#define STS_ID_MAX 32
/* A cap on mx lines; real policies have a handful. */
#define STS_MX_MAX 64
/* The cache file's first line; its version changes with its format. */
#define STS_CACHE_MAGIC "ispmail-mta-sts 1\n"

static const char *const mode_names[] = {
	[SMTP_STS_NONE] = "none",
	[SMTP_STS_TESTING] = "testing",
	[SMTP_STS_ENFORCE] = "enforce",
};

const char *
smtp_sts_mode_name(enum smtp_sts_mode mode)
{
	return mode_names[mode];
}

void
smtp_sts_free(struct smtp_sts_policy **pp)
{
	struct smtp_sts_policy *p = *pp;
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->mx_count; i++)
		free(p->mx[i]);
	free(p->mx);
	free(p->id);
	free(p);
	*pp = NULL;
}

/* 1 when value (vlen bytes) is the word. */
static int
word_is(const char *value, size_t vlen, const char *word)
{
	return vlen == strlen(word) && strncmp(value, word, vlen) == 0;
}

/* An mx pattern: a host name, or "*." and one (RFC 8461 3.2, 4.1). */
static int
sts_pattern_valid(const char *p, size_t len)
{
	size_t i;

	if (len >= 2 && p[0] == '*' && p[1] == '.') {
		p += 2;
		len -= 2;
	}
	if (len == 0 || len > 253 || p[0] == '.' || p[len - 1] == '.')
		return 0;
	for (i = 0; i < len; i++) {
		char c = p[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.'))
			return 0;
		if (c == '.' && p[i + 1] == '.')
			return 0;
	}
	return 1;
}

int
smtp_sts_policy_parse(const char *text, size_t len,
	struct smtp_sts_policy **policy_r, const char **error_r)
{
	struct smtp_sts_policy *p = xcalloc(1, sizeof(*p));
	const char *line = text, *end = text + len, *eol, *colon, *value;
	size_t klen, vlen;
	int have_version = 0, have_mode = 0, have_age = 0;

	*policy_r = NULL;
	for (; line < end; line = eol + 1) {
		eol = memchr(line, '\n', (size_t) (end - line));
		if (eol == NULL)
			eol = end;
		vlen = (size_t) (eol - line);
		if (vlen > 0 && line[vlen - 1] == '\r')
			vlen--;
		if (vlen == 0)
			continue;
		colon = memchr(line, ':', vlen);
		if (colon == NULL) {
			*error_r = "a line is not \"key: value\"";
			goto bad;
		}
		klen = (size_t) (colon - line);
		value = colon + 1;
		while (value < line + vlen && (*value == ' ' || *value == '\t'))
			value++;
		vlen = (size_t) (line + vlen - value);
		while (vlen > 0 && (value[vlen - 1] == ' ' ||
		    value[vlen - 1] == '\t'))
			vlen--;
		if (memchr(value, '\0', vlen) != NULL) {
			*error_r = "NUL in the policy";
			goto bad;
		}
		if (word_is(line, klen, "version")) {
			if (!word_is(value, vlen, "STSv1")) {
				*error_r = "version is not STSv1";
				goto bad;
			}
			have_version = 1;
		} else if (word_is(line, klen, "mode")) {
			if (word_is(value, vlen, "enforce"))
				p->mode = SMTP_STS_ENFORCE;
			else if (word_is(value, vlen, "testing"))
				p->mode = SMTP_STS_TESTING;
			else if (word_is(value, vlen, "none"))
				p->mode = SMTP_STS_NONE;
			else {
				*error_r = "unknown mode";
				goto bad;
			}
			have_mode = 1;
		} else if (word_is(line, klen, "max_age")) {
			if (vlen == 0 || vlen > 10 ||
			    strspn(value, "0123456789") < vlen) {
				*error_r = "bad max_age";
				goto bad;
			}
			p->max_age = strtoll(value, NULL, 10);
			if (p->max_age > STS_MAX_AGE_MAX)
				p->max_age = STS_MAX_AGE_MAX;
			have_age = 1;
		} else if (word_is(line, klen, "mx")) {
			if (!sts_pattern_valid(value, vlen)) {
				*error_r = "bad mx pattern";
				goto bad;
			}
			if (p->mx_count == STS_MX_MAX) {
				*error_r = "too many mx patterns";
				goto bad;
			}
			p->mx = xreallocarray(p->mx, p->mx_count + 1,
			    sizeof(*p->mx));
			p->mx[p->mx_count++] = xstrndup(value, vlen);
		}
		/* RFC 8461 3.2: unknown fields are ignored. */
	}
	if (!have_version || !have_mode || !have_age) {
		*error_r = "version, mode or max_age missing";
		goto bad;
	}
	if (p->mode != SMTP_STS_NONE && p->mx_count == 0) {
		*error_r = "no mx pattern";
		goto bad;
	}
	*policy_r = p;
	return 0;
bad:
	smtp_sts_free(&p);
	return -1;
}

int
smtp_sts_mx_match(const struct smtp_sts_policy *p, const char *host)
{
	size_t i, hlen = strlen(host), plen;
	const char *dot;

	if (hlen > 0 && host[hlen - 1] == '.')
		hlen--;
	for (i = 0; i < p->mx_count; i++) {
		const char *pat = p->mx[i];

		plen = strlen(pat);
		if (pat[0] == '*') {
			/* "*.example.com": exactly one more label in front. */
			dot = memchr(host, '.', hlen);
			if (dot != NULL && dot != host &&
			    (size_t) (host + hlen - dot) == plen - 1 &&
			    strncasecmp(dot, pat + 1, plen - 1) == 0)
				return 1;
		} else if (plen == hlen && strncasecmp(host, pat, hlen) == 0) {
			return 1;
		}
	}
	return 0;
}

int
smtp_sts_txt_id(const char *txt, char **id_r)
{
	const char *p = txt, *key, *value;
	size_t klen, vlen;
	int first = 1;

	*id_r = NULL;
	/* RFC 8461 3.1: "v=STSv1" first, then "; field=value" ... */
	while (*p != '\0') {
		p += strspn(p, " \t");
		key = p;
		klen = strcspn(p, "=; \t");
		p += klen;
		if (*p != '=')
			goto bad;
		value = ++p;
		vlen = strcspn(p, "; \t");
		p += vlen;
		p += strspn(p, " \t");
		if (*p == ';')
			p++;
		else if (*p != '\0')
			goto bad;
		if (first) {
			if (!word_is(key, klen, "v") ||
			    !word_is(value, vlen, "STSv1"))
				goto bad;
			first = 0;
		} else if (word_is(key, klen, "id")) {
			size_t i;

			if (vlen == 0 || vlen > STS_ID_MAX || *id_r != NULL)
				goto bad;
			for (i = 0; i < vlen; i++)
				if (!((value[i] >= 'a' && value[i] <= 'z') ||
				    (value[i] >= 'A' && value[i] <= 'Z') ||
				    (value[i] >= '0' && value[i] <= '9')))
					goto bad;
			*id_r = xstrndup(value, vlen);
		}
	}
	if (*id_r != NULL)
		return 0;
bad:
	free(*id_r);
	*id_r = NULL;
	return -1;
}

/* A domain we may put into a file name and a URL: LDH labels only. */
static int
sts_domain_ok(const char *domain)
{
	size_t len = strlen(domain);

	return len > 0 && len <= 253 && domain[0] != '.' &&
	    domain[0] != '-' && strstr(domain, "..") == NULL &&
	    strspn(domain, "abcdefghijklmnopqrstuvwxyz0123456789-.") == len;
}

/* ---- the cache: one file per domain in queue_directory/mta-sts ---------- */

static char *
sts_cache_path(const char *domain)
{
	return xasprintf("%s/%s/%s", var_queue_directory, SMTP_STS_CACHE_DIR,
	    domain);
}

/* The cached, unexpired policy of domain, or NULL. */
static struct smtp_sts_policy *
sts_cache_load(const char *domain)
{
	struct smtp_sts_policy *p = NULL;
	struct buf *b = buf_new(STS_POLICY_MAX + 256);
	char chunk[4096], id[STS_ID_MAX + 1];
	char *path = sts_cache_path(domain);
	const char *text, *body, *error;
	long long fetched;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno != ENOENT)
			log_warn("MTA-STS cache %s: %s", path, strerror(errno));
		goto out;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		if (buf_append(b, chunk, (size_t) n) < 0)
			break;
	close(fd);
	text = buf_cstr(b);
	if (n != 0 || strncmp(text, STS_CACHE_MAGIC,
	    strlen(STS_CACHE_MAGIC)) != 0 ||
	    sscanf(text + strlen(STS_CACHE_MAGIC), "id: %32[A-Za-z0-9]\n"
	    "fetched: %lld\n", id, &fetched) != 2 ||
	    (body = strstr(text, "\n\n")) == NULL) {
		log_warn("MTA-STS cache %s: malformed, ignored", path);
		goto out;
	}
	body += 2;
	if (smtp_sts_policy_parse(body, buf_len(b) - (size_t) (body - text),
	    &p, &error) < 0) {
		log_warn("MTA-STS cache %s: %s", path, error);
		goto out;
	}
	if ((long long) time(NULL) > fetched + p->max_age) {
		log_debug("MTA-STS cache %s: expired", path);
		smtp_sts_free(&p);
		goto out;
	}
	p->id = xstrdup(id);
	p->fetched = fetched;
out:
	buf_free(&b);
	free(path);
	return p;
}

/* Replace domain's cache file (a new file renamed over the old one). */
static void
sts_cache_store(const char *domain, const char *id, const char *text,
	size_t len)
{
	char *path = sts_cache_path(domain), *head, *error = NULL;
	char *tmp = xasprintf("%s/%s/.tmp.%ld.%s", var_queue_directory,
	    SMTP_STS_CACHE_DIR, (long) getpid(), domain);
	int fd;

	head = xasprintf("%sid: %s\nfetched: %lld\n\n", STS_CACHE_MAGIC, id,
	    (long long) time(NULL));
	(void) unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd < 0) {
		log_warn("MTA-STS cache %s: %s", tmp, strerror(errno));
	} else if (fileio_write_all(fd, head, strlen(head), tmp, &error) < 0 ||
	    fileio_write_all(fd, text, len, tmp, &error) < 0) {
		log_warn("MTA-STS cache: %s", error);
		close(fd);
		(void) unlink(tmp);
	} else if (close(fd) < 0 || rename(tmp, path) < 0) {
		log_warn("MTA-STS cache %s: %s", path, strerror(errno));
		(void) unlink(tmp);
	}
	free(error);
	free(head);
	free(tmp);
	free(path);
}

/* ---- the fetch (RFC 8461 3.3) ----------------------------------------- */

static size_t
sts_body(char *data, size_t size, size_t count, void *context)
{
	struct buf *b = context;

	if (count != 0 && size > SIZE_MAX / count)
		return 0;
	/* Past the cap: a short count makes curl stop with an error. */
	if (buf_append(b, data, size * count) < 0)
		return 0;
	return size * count;
}

/*
 * GET https://mta-sts.DOMAIN/.well-known/mta-sts.txt: 200, text/plain,
 * no redirects, at most STS_POLICY_MAX bytes, smtp_mta_sts_timeout in
 * all.  The host name is resolved by our resolver (dns_servers), and
 * the certificate checked against smtp_tls_ca_file or the system store
 * for the name mta-sts.DOMAIN.  A new buffer, or NULL (logged).
 */
/*
 * Why the policy of the last smtp_sts_lookup() could not be had: an RFC
 * 8460 4.3.2.1 result-type, or NULL.
 */
static const char *sts_failure;

static struct buf *
sts_fetch(const char *domain, struct dns *dns)
{
	static int curl_ready;
	struct curl_slist *resolve = NULL;
	struct buf *b = NULL;
	char *host = xasprintf("mta-sts.%s", domain), *url, *line;
	char errbuf[CURL_ERROR_SIZE] = "", *error = NULL;
	const char *ctype = NULL;
	long status = 0;
	CURLcode rc;
	CURL *curl;

	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			log_error("MTA-STS: libcurl cannot start");
			free(host);
			return NULL;
		}
		curl_ready = 1;
	}
	line = dns_resolve_entry(dns, host, (unsigned int) var_smtp_mta_sts_port,
	    (int) (var_smtp_mta_sts_timeout * 1000), &error);
	if (line == NULL) {
		log_info("MTA-STS policy of %s: %s", domain, error);
		sts_failure = "sts-policy-fetch-error";
		free(error);
		free(host);
		return NULL;
	}
	resolve = curl_slist_append(NULL, line);
	free(line);
	url = var_smtp_mta_sts_port == 443 ?
	    xasprintf("https://%s/.well-known/mta-sts.txt", host) :
	    xasprintf("https://%s:%lld/.well-known/mta-sts.txt", host,
	    var_smtp_mta_sts_port);
	curl = resolve == NULL ? NULL : https_easy_new(url, resolve,
	    (long) (var_smtp_mta_sts_timeout * 1000), "ispmail-smtp", errbuf);
	if (curl == NULL) {
		log_error("MTA-STS: libcurl: out of memory");
		goto out;
	}
	b = buf_new(STS_POLICY_MAX);
	(void) curl_easy_setopt(curl, CURLOPT_MAXFILESIZE,
	    (long) STS_POLICY_MAX);
	(void) curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, sts_body);
	(void) curl_easy_setopt(curl, CURLOPT_WRITEDATA, b);
	rc = curl_easy_perform(curl);
	if (rc == CURLE_OK) {
		(void) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
		(void) curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ctype);
	}
	if (rc != CURLE_OK || status != 200 || ctype == NULL ||
	    strncasecmp(ctype, "text/plain", 10) != 0 ||
	    (ctype[10] != '\0' && ctype[10] != ';' && ctype[10] != ' ')) {
		log_info("MTA-STS policy of %s: %s: %s", domain, url,
		    rc != CURLE_OK ? (*errbuf != '\0' ? errbuf :
		    curl_easy_strerror(rc)) : status != 200 ?
		    "HTTP status not 200" : "not text/plain");
		buf_free(&b);
		sts_failure = rc == CURLE_PEER_FAILED_VERIFICATION ||
		    rc == CURLE_SSL_CACERT_BADFILE ? "sts-webpki-invalid" :
		    "sts-policy-fetch-error";
	}
out:
	if (curl != NULL)
		curl_easy_cleanup(curl);
	curl_slist_free_all(resolve);
	free(url);
	free(host);
	return b;
}

/* Fetch, parse and cache domain's policy under id; the policy or NULL. */
static struct smtp_sts_policy *
sts_refresh(const char *domain, const char *id, struct dns *dns)
{
	struct smtp_sts_policy *fresh = NULL;
	struct buf *body = sts_fetch(domain, dns);
	const char *error;

	if (body == NULL)
		return NULL;
	if (smtp_sts_policy_parse(buf_data(body), buf_len(body), &fresh,
	    &error) < 0) {
		log_info("MTA-STS policy of %s: %s", domain, error);
		sts_failure = "sts-policy-invalid";
	} else {
		fresh->id = xstrdup(id);
		fresh->fetched = (long long) time(NULL);
		sts_cache_store(domain, id, buf_data(body), buf_len(body));
		log_info("MTA-STS policy of %s: id %s, mode %s, max_age %lld",
		    domain, id, smtp_sts_mode_name(fresh->mode),
		    fresh->max_age);
	}
	buf_free(&body);
	return fresh;
}

/*
 * RFC 8461 10.2: refresh a cached policy used past half its max_age,
 * so that it does not lapse for domains mail goes to now and then.  A
 * grandchild fetches it (no zombie, the delivery does not wait) with a
 * resolver of its own (the agent's sockets stay the agent's); a marker
 * file made with O_EXCL keeps the other agent processes from fetching
 * the same policy at the same time.
 */
static void
sts_refresh_background(const char *domain, const struct smtp_sts_policy *p)
{
	long long now = (long long) time(NULL);
	char *marker;
	struct stat st;
	pid_t pid;
	int fd, status;

	if (now - p->fetched <= p->max_age / 2)
		return;
	marker = xasprintf("%s/%s/.refresh.%s", var_queue_directory,
	    SMTP_STS_CACHE_DIR, domain);
	fd = open(marker, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, 0600);
	if (fd < 0 && errno == EEXIST && lstat(marker, &st) == 0 &&
	    S_ISREG(st.st_mode) &&
	    now - (long long) st.st_mtime > 2 * var_smtp_mta_sts_timeout + 60) {
		/* Left by a refresh that died: take it over. */
		(void) unlink(marker);
		fd = open(marker, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
		    O_NOFOLLOW, 0600);
	}
	if (fd < 0) {
		if (errno != EEXIST)
			log_warn("MTA-STS refresh marker %s: %s", marker,
			    strerror(errno));
		free(marker);
		return;
	}
	(void) close(fd);
	log_info("MTA-STS policy of %s: fetched %llds ago, max_age %lld: "
	    "refreshing it in the background", domain, now - p->fetched,
	    p->max_age);
	pid = fork();
	if (pid < 0) {
		log_warn("MTA-STS refresh of %s: fork: %s", domain,
		    strerror(errno));
		(void) unlink(marker);
	} else if (pid == 0) {
		if (fork() == 0) {
			struct smtp_sts_policy *fresh;
			char *error = NULL;
			struct dns *dns = dns_open_params(&error);

			if (dns == NULL)
				log_warn("MTA-STS refresh of %s: resolver: %s",
				    domain, error);
			fresh = sts_refresh(domain, p->id, dns);
			if (fresh == NULL)
				log_info("MTA-STS refresh of %s failed; the "
				    "cached policy holds until it expires",
				    domain);
			(void) unlink(marker);
			_exit(0);
		}
		_exit(0);
	} else {
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	free(marker);
}

/* ---- discovery (RFC 8461 3.1, 5.1) -------------------------------------- */

const char *
smtp_sts_failure(void)
{
	return sts_failure;
}

struct smtp_sts_policy *
smtp_sts_lookup(const char *domain)
{
	struct smtp_sts_policy *cached, *fresh = NULL;
	struct dns_answer *txt = NULL;
	struct dns *dns;
	const char *derr;
	char *name, *id = NULL, *one;
	size_t i, records = 0;

	sts_failure = NULL;
	if (!var_smtp_mta_sts || !sts_domain_ok(domain))
		return NULL;
	cached = sts_cache_load(domain);
	dns = smtp_dns(&derr);
	if (dns == NULL)
		return cached;
	name = xasprintf("_mta-sts.%s", domain);
	(void) dns_txt_lookup(dns, name, 0, &txt);
	free(name);
	for (i = 0; i < txt->string_count; i++) {
		if (strncmp(txt->strings[i], "v=STSv1", 7) != 0)
			continue;
		records++;
		if (smtp_sts_txt_id(txt->strings[i], &one) == 0) {
			free(id);
			id = one;
		}
	}
	dns_answer_free(&txt);
	/* RFC 8461 3.1: more than one STS record is no record. */
	if (records != 1 || id == NULL) {
		free(id);
		return cached;
	}
	if (cached != NULL && strcmp(cached->id, id) == 0) {
		free(id);
		sts_refresh_background(domain, cached);
		return cached;
	}
	fresh = sts_refresh(domain, id, dns);
	free(id);
	/* RFC 8461 5.1: a failed refresh keeps the unexpired policy. */
	if (fresh == NULL) {
		if (cached != NULL)
			sts_failure = NULL;
		return cached;
	}
	smtp_sts_free(&cached);
	return fresh;
}

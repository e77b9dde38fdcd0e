/*
 * https_easy: the libcurl handle of the smtp agent's MTA-STS fetch and
 * ispmailctl's TLS report POST, set up one way.  Not part of
 * libispmail (which does not link libcurl): the two programs that use
 * libcurl compile it in.
 */
#ifndef ISPMAIL_HTTPS_EASY_H
#define ISPMAIL_HTTPS_EASY_H

#include <curl/curl.h>

/*
 * A handle for one HTTPS exchange: https only, no redirects, no
 * signals, timeout_ms in all, the host name's addresses from resolve
 * (CURLOPT_RESOLVE, dns_resolve_entry()), the certificate and name
 * verified against smtp_tls_ca_file (or the system store), errors in
 * errbuf (CURL_ERROR_SIZE).  NULL when libcurl cannot make one.
 */
CURL *https_easy_new(const char *url, struct curl_slist *resolve,
	long timeout_ms, const char *agent, char *errbuf);

#endif

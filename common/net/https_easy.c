/* https_easy: one libcurl setup for HTTPS to hosts our resolver found. */
#include "config.h"

#include "https_easy.h"
#include "mail_params.h"

CURL *
https_easy_new(const char *url, struct curl_slist *resolve, long timeout_ms,
	const char *agent, char *errbuf)
{
	CURL *curl = curl_easy_init();

	if (curl == NULL)
		return NULL;
	(void) curl_easy_setopt(curl, CURLOPT_URL, url);
	(void) curl_easy_setopt(curl, CURLOPT_RESOLVE, resolve);
	(void) curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https");
	(void) curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	(void) curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	(void) curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
	(void) curl_easy_setopt(curl, CURLOPT_USERAGENT, agent);
	(void) curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	(void) curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
	(void) curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
	if (*var_smtp_tls_ca_file != '\0')
		(void) curl_easy_setopt(curl, CURLOPT_CAINFO,
		    var_smtp_tls_ca_file);
	return curl;
}

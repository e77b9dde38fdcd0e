/*
 * smtp_tlsrpt: TLS reporting (RFC 8460): what each TLS session attempt
 * to a policy domain came to, journalled (tlsrpt_journal.h) for
 * ispmailctl tlsrpt send.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attr.h"
#include "buf.h"
#include "log.h"
#include "mail_params.h"
#include "smtp.h"
#include "tls.h"
#include "tlsrpt_journal.h"
#include "xalloc.h"

/* The most TLSA records or mx patterns a record lists. */
#define TLSRPT_LIST_MAX 64

/* RFC 8460 4.4: an MTA-STS policy as the lines of its text. */
static void
tlsrpt_sts_strings(const struct smtp_sts_policy *sts, struct buf *rec)
{
	char *line;
	size_t i;

	(void) attr_put(rec, "policy_string", "version: STSv1");
	line = xasprintf("mode: %s", smtp_sts_mode_name(sts->mode));
	(void) attr_put(rec, "policy_string", line);
	free(line);
	for (i = 0; i < sts->mx_count && i < TLSRPT_LIST_MAX; i++) {
		line = xasprintf("mx: %s", sts->mx[i]);
		(void) attr_put(rec, "policy_string", line);
		free(line);
	}
	line = xasprintf("max_age: %lld", sts->max_age);
	(void) attr_put(rec, "policy_string", line);
	free(line);
	for (i = 0; i < sts->mx_count && i < TLSRPT_LIST_MAX; i++)
		(void) attr_put(rec, "policy_mx", sts->mx[i]);
}

/* RFC 8460 4.4: the TLSA records in presentation form. */
static void
tlsrpt_tlsa_strings(const struct smtp_tls_plan *plan, struct buf *rec)
{
	struct buf *text = buf_new(1024);
	size_t i, j;

	for (i = 0; i < plan->rr_count && i < TLSRPT_LIST_MAX; i++) {
		const struct tls_dane_rr *rr = &plan->rrs[i];

		buf_reset(text);
		(void) buf_printf(text, "%u %u %u ", rr->usage, rr->selector,
		    rr->mtype);
		for (j = 0; j < rr->len; j++)
			(void) buf_printf(text, "%02X", rr->data[j]);
		(void) attr_put(rec, "policy_string", buf_cstr(text));
	}
	buf_free(&text);
}

/* The record's common part: its first line, when, the domain. */
static struct buf *
tlsrpt_record_new(const char *domain, const char *policy_type,
	const char *result)
{
	struct buf *rec = buf_new(TLSRPT_JOURNAL_RECORD_MAX);

	(void) attr_put(rec, TLSRPT_JOURNAL_MAGIC, TLSRPT_JOURNAL_VERSION);
	(void) attr_put_int(rec, "time", (long long) time(NULL));
	(void) attr_put(rec, "domain", domain);
	(void) attr_put(rec, "policy_type", policy_type);
	(void) attr_put(rec, "result", result);
	return rec;
}

static void
tlsrpt_write(struct buf *rec, const char *domain, const char *result)
{
	const char *error = "record too large";
	char *dir, day[11];

	dir = xasprintf("%s/%s", var_queue_directory, TLSRPT_JOURNAL_DIR);
	tlsrpt_journal_day((long long) time(NULL), day);
	if (attr_end(rec) < 0 || tlsrpt_journal_append(dir, day, rec,
	    var_smtp_tlsrpt_journal_size_limit, &error) < 0)
		log_warn("TLS-RPT journal %s: %s; result %s for %s not "
		    "recorded", dir, error, result, domain);
	free(dir);
}

void
smtp_tlsrpt_note(const struct smtp_tls_plan *plan,
	const struct smtp_target *t, const char *sending_ip,
	const char *result, const char *detail)
{
	const char *type;
	struct buf *rec;

	if (!var_smtp_tlsrpt_enable || plan->domain == NULL)
		return;
	if (result == NULL)
		result = "success";
	if (strcmp(plan->source, "dane") == 0)
		type = "tlsa";
	else if (strcmp(plan->source, "mta-sts") == 0 && plan->sts != NULL)
		type = "sts";
	else if (strcmp(result, "dane-required") == 0)
		type = "no-policy-found";
	else
		return;
	rec = tlsrpt_record_new(plan->domain, type, result);
	(void) attr_put(rec, "mx_host", t->host);
	(void) attr_put(rec, "receiving_ip", t->addr.text);
	if (sending_ip != NULL)
		(void) attr_put(rec, "sending_ip", sending_ip);
	if (detail != NULL)
		(void) attr_put(rec, "detail", detail);
	if (strcmp(type, "tlsa") == 0) {
		tlsrpt_tlsa_strings(plan, rec);
		(void) attr_put(rec, "policy_mx", t->host);
	} else if (strcmp(type, "sts") == 0) {
		tlsrpt_sts_strings(plan->sts, rec);
	}
	tlsrpt_write(rec, plan->domain, result);
	buf_free(&rec);
}

void
smtp_tlsrpt_note_sts_failure(const char *domain, const char *result)
{
	struct buf *rec;

	if (!var_smtp_tlsrpt_enable)
		return;
	rec = tlsrpt_record_new(domain, "sts", result);
	tlsrpt_write(rec, domain, result);
	buf_free(&rec);
}

const char *
smtp_tlsrpt_verify_result(const struct smtp_tls_plan *plan, int failure)
{
	switch ((enum tls_verify_failure) failure) {
	case TLS_VERIFY_HOST_MISMATCH:
		return "certificate-host-mismatch";
	case TLS_VERIFY_EXPIRED:
		return "certificate-expired";
	case TLS_VERIFY_UNTRUSTED:
		/* DANE-TA: no chain to the trust anchor TLSA names. */
		return plan->dane ? "tlsa-invalid" : "certificate-not-trusted";
	case TLS_VERIFY_DANE_NO_MATCH:
		/* RFC 8460 4.3.2.2: none of the TLSA records was valid. */
		return "tlsa-invalid";
	case TLS_VERIFY_OTHER:
	case TLS_VERIFY_NONE:
		break;
	}
	return "validation-failure";
}

/*
 * smtp_dane: which TLS a host gets: DANE (RFC 7672) before MTA-STS (RFC
 * 8461) before the configured smtp_tls_policy.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "log.h"
#include "mail_params.h"
#include "smtp.h"
#include "tls.h"
#include "xalloc.h"

/*
 * RFC 7672 3.1, RFC 7671 5: DANE-TA(2) and DANE-EE(3), selector cert(0)
 * or SPKI(1), matching full(0), SHA2-256(1) or SHA2-512(2) of the right
 * length.  PKIX-TA(0) and PKIX-EE(1) are not used for SMTP.
 */
static int
smtp_tlsa_usable(const struct dns_tlsa *rr)
{
	if (rr->usage != 2 && rr->usage != 3)
		return 0;
	if (rr->selector > 1)
		return 0;
	switch (rr->mtype) {
	case 0:
		return rr->len > 0;
	case 1:
		return rr->len == 32;
	case 2:
		return rr->len == 64;
	}
	return 0;
}

/*
 * DANE for t: 1 the host has usable secure TLSA records (plan filled),
 * 0 no DANE for it (insecure, none: the next rule decides), -1 the host
 * must not be used (*why_r).
 */
static int
smtp_dane_plan(const struct smtp_target *t, struct smtp_tls_plan *plan,
	char **why_r)
{
	struct dns_answer *ans = NULL;
	enum dns_status st;
	const char *derr, *base;
	struct dns *dns;
	size_t i, usable = 0;

	/* RFC 7672 2.2: only MX hosts whose MX and addresses validated. */
	if (*var_smtp_dnssec_resolvers == '\0' || !t->secure)
		return 0;
	dns = smtp_dns(&derr);
	if (dns == NULL)
		return 0;
	/*
	 * RFC 7672 2.2.2: when the MX host name is a secure CNAME, the
	 * TLSA records of the expanded name first, then of the original.
	 */
	base = t->expanded != NULL ? t->expanded : t->host;
	for (;;) {
		st = dns_tlsa_lookup(dns, base, t->port, 0, &ans);
		if (st == DNS_TEMPFAIL) {
			/* RFC 7672 2.2: a failed (or bogus) lookup: skip. */
			*why_r = xasprintf("TLSA lookup for %s failed: %s",
			    base, ans->error != NULL ? ans->error
			    : "tempfail");
			/* RFC 8460 4.3.2.2: no valid records came back. */
			plan->source = "dane";
			plan->rpt_failure = "dnssec-invalid";
			dns_answer_free(&ans);
			return -1;
		}
		if ((st == DNS_FOUND && ans->secure) || base == t->host)
			break;
		log_debug("%s: no secure TLSA records at its expansion %s; "
		    "asking for its own", t->host, base);
		dns_answer_free(&ans);
		base = t->host;
	}
	if (st != DNS_FOUND || !ans->secure) {
		/* Denied (NXDOMAIN, NODATA) or insecure: no DANE here. */
		log_debug("%s: no secure TLSA records (%s%s)", t->host,
		    dns_status_name(st), ans->secure ? "" : ", insecure");
		dns_answer_free(&ans);
		return 0;
	}
	for (i = 0; i < ans->tlsa_count; i++)
		if (smtp_tlsa_usable(&ans->tlsa[i]))
			usable++;
	plan->source = "dane";
	if (usable == 0) {
		/* RFC 7672 2.2: all unusable: TLS still mandatory. */
		plan->level = SMTP_TLS_ENCRYPT;
		dns_answer_free(&ans);
		return 1;
	}
	plan->dane = 1;
	plan->level = SMTP_TLS_VERIFY;
	plan->tlsa_base = base;
	plan->rrs = xcalloc(usable, sizeof(*plan->rrs));
	plan->rr_data = xcalloc(usable, sizeof(*plan->rr_data));
	for (i = 0; i < ans->tlsa_count; i++) {
		const struct dns_tlsa *rr = &ans->tlsa[i];
		struct tls_dane_rr *out;

		if (!smtp_tlsa_usable(rr))
			continue;
		plan->rr_data[plan->rr_count] = (unsigned char *)
		    xmemdup(rr->data, rr->len);
		out = &plan->rrs[plan->rr_count++];
		out->usage = rr->usage;
		out->selector = rr->selector;
		out->mtype = rr->mtype;
		out->data = plan->rr_data[plan->rr_count - 1];
		out->len = rr->len;
	}
	dns_answer_free(&ans);
	return 1;
}

int
smtp_tls_plan_make(const struct smtp_target *t, const char *domain,
	const struct smtp_sts_policy *sts, enum smtp_tls_level configured,
	struct smtp_tls_plan *plan, char **why_r)
{
	int rc;

	memset(plan, 0, sizeof(*plan));
	plan->level = configured;
	plan->source = "policy";
	*why_r = NULL;
	plan->domain = domain;
	plan->sts = sts;
	rc = smtp_dane_plan(t, plan, why_r);
	if (configured == SMTP_TLS_DANE_ONLY && rc >= 0 && !plan->dane) {
		/*
		 * Mandatory DANE: no secure TLSA records, or none usable,
		 * is no host to send to (MTA-STS does not stand in).
		 */
		*why_r = xasprintf("no usable DNSSEC-validated TLSA records "
		    "for %s (TLS level dane-only)%s", t->host,
		    *var_smtp_dnssec_resolvers == '\0'
		    ? ": smtp_dnssec_resolvers is empty" : !t->secure
		    ? ": its MX or address records did not validate" : "");
		plan->rpt_failure = "dane-required";
		return -1;
	}
	if (rc != 0)
		return rc;
	if (sts == NULL || sts->mode == SMTP_STS_NONE)
		return 0;
	if (sts->mode == SMTP_STS_ENFORCE) {
		/* RFC 8461 4.1, 4.2: a matching MX name and a valid chain. */
		if (!smtp_sts_mx_match(sts, t->host)) {
			*why_r = xasprintf("MX host %s does not match the "
			    "MTA-STS policy of %s (mode enforce)", t->host,
			    domain);
			plan->source = "mta-sts";
			plan->sts_mode = SMTP_STS_ENFORCE;
			plan->rpt_failure = "validation-failure";
			return -1;
		}
		plan->source = "mta-sts";
		plan->sts_mode = SMTP_STS_ENFORCE;
		plan->level = SMTP_TLS_VERIFY;
		return 0;
	}
	/* testing (RFC 8461 5): deliver as configured, say what failed. */
	plan->source = "mta-sts";
	plan->sts_mode = SMTP_STS_TESTING;
	if (!smtp_sts_mx_match(sts, t->host))
		log_info("MTA-STS testing: MX host %s does not match the "
		    "policy of %s; delivering anyway", t->host, domain);
	if (plan->level == SMTP_TLS_NONE)
		plan->level = SMTP_TLS_MAY;
	return 0;
}

void
smtp_tls_plan_free(struct smtp_tls_plan *plan)
{
	size_t i;

	for (i = 0; i < plan->rr_count; i++)
		free(plan->rr_data[i]);
	free(plan->rr_data);
	plan->rr_data = NULL;
	free(plan->rrs);
	plan->rrs = NULL;
	plan->rr_count = 0;
}

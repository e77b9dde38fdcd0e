/*
 * smtpd_authres_check: SPF, DKIM keys and DMARC over c-ares, and the
 * Authentication-Results field (see smtpd_authres_check.h).
 *
 * libspf2 and libopendmarc would otherwise use the blocking libresolv
 * stub, which follows only /etc/resolv.conf and has no deadline of its
 * own: every query goes through dns.c instead, so dns_servers applies and
 * one message's checks end by smtpd_sender_auth_timeout.  smtpd serves
 * one session per process, so waiting here blocks no other client.
 */
#include "config.h"

#include <netinet/in.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stdint.h>
#include <sys/types.h>

#include <spf2/spf.h>
#include <spf2/spf_dns.h>
#include <opendmarc/dmarc.h>

#include "buf.h"
#include "dkim_keys.h"
#include "dkim_verify.h"
#include "dns.h"
#include "log.h"
#include "mail_params.h"
#include "smtpd.h"
#include "smtpd_authres_check.h"
#include "smtpd_authres_dns.h"
#include "xalloc.h"

/*
 * XXX: libopendmarc exports the organizational domain lookup it uses
 * for relaxed alignment, but dmarc.h does not declare it.
 */
int opendmarc_get_tld(unsigned char *domain, unsigned char *tld,
	size_t tld_len);

#define AR_FIELD_MAX 8192
/* The libraries take strings they do not change as unsigned char *. */
#define AR_UC(s) ((unsigned char *) (uintptr_t) (s))

static SPF_server_t *ar_spf;
static SPF_dns_server_t ar_spf_layer;
/* The message being checked: its deadline and void lookup count. */
static struct smtpd_authres_result *ar_current;
static int ar_spf_txt_seen;
static int ar_spf_tempfail;		/* a lookup failed temporarily */
static OPENDMARC_LIB_T ar_dmarc_lib;	/* libopendmarc keeps a pointer */

/*
 * One lookup within the message's deadline.  *answer_r (may be NULL) is
 * borrowed: valid until the next ar_query().
 */
static enum dns_status
ar_query(enum dns_type type, const char *name, struct dns_answer **answer_r)
{
	*answer_r = NULL;
	if (ar_current == NULL)
		return DNS_TEMPFAIL;
	return smtpd_authres_dns_query(type, name, ar_current->deadline_ms,
	    answer_r);
}

/* libspf2's DNS layer: the answer of one lookup in its record form. */
static SPF_dns_rr_t *
ar_spf_lookup(SPF_dns_server_t *server, const char *domain, ns_type rr_type,
	int should_cache)
{
	struct dns_answer *answer = NULL;
	enum dns_status status;
	enum dns_type type;
	SPF_dns_rr_t *rr;
	int herrno;
	size_t i, n = 0;

	switch (rr_type) {
	case ns_t_a: type = DNS_TYPE_A; break;
	case ns_t_aaaa: type = DNS_TYPE_AAAA; break;
	case ns_t_mx: type = DNS_TYPE_MX; break;
	case ns_t_txt: type = DNS_TYPE_TXT; break;
	case ns_t_ptr: type = DNS_TYPE_PTR; break;
	default:
		return SPF_dns_rr_new_init(server, domain, rr_type, 0,
		    NO_DATA);
	}
	status = ar_query(type, domain, &answer);
	switch (status) {
	case DNS_FOUND: herrno = NETDB_SUCCESS; break;
	case DNS_NXDOMAIN: herrno = HOST_NOT_FOUND; break;
	case DNS_NODATA:
	case DNS_NULL_MX: herrno = NO_DATA; break;
	default:
		herrno = TRY_AGAIN;
		ar_spf_tempfail = 1;
		break;
	}
	/* RFC 7208 4.6.4: void lookups, but the first record query. */
	if (herrno == HOST_NOT_FOUND || herrno == NO_DATA) {
		if ((type != DNS_TYPE_TXT || ar_spf_txt_seen) &&
		    ar_current != NULL)
			ar_current->void_lookups++;
	}
	if (type == DNS_TYPE_TXT)
		ar_spf_txt_seen = 1;
	rr = SPF_dns_rr_new_init(server, domain, rr_type, 60, herrno);
	if (rr == NULL || status != DNS_FOUND)
		return rr;
	switch (type) {
	case DNS_TYPE_A:
	case DNS_TYPE_AAAA:
		for (i = 0; i < answer->addr_count; i++) {
			int v6 = answer->addrs[i].family == AF_INET6;

			if (v6 != (type == DNS_TYPE_AAAA))
				continue;
			if (SPF_dns_rr_buf_realloc(rr, (int) n, v6 ?
			    sizeof(struct in6_addr) : sizeof(struct in_addr))
			    != SPF_E_SUCCESS)
				break;
			if (v6)
				rr->rr[n]->aaaa = answer->addrs[i].u.v6;
			else
				rr->rr[n]->a = answer->addrs[i].u.v4;
			n++;
		}
		break;
	case DNS_TYPE_MX:
		for (i = 0; i < answer->mx_count; i++) {
			size_t len = strlen(answer->mx[i].host) + 1;

			if (SPF_dns_rr_buf_realloc(rr, (int) n, len) !=
			    SPF_E_SUCCESS)
				break;
			memcpy(rr->rr[n]->mx, answer->mx[i].host, len);
			n++;
		}
		break;
	default:
		for (i = 0; i < answer->string_count; i++) {
			size_t len = strlen(answer->strings[i]) + 1;

			if (SPF_dns_rr_buf_realloc(rr, (int) n, len) !=
			    SPF_E_SUCCESS)
				break;
			memcpy(type == DNS_TYPE_TXT ? rr->rr[n]->txt :
			    rr->rr[n]->ptr, answer->strings[i], len);
			n++;
		}
		break;
	}
	rr->num_rr = (int) n;
	return rr;
}

void
smtpd_authres_check_init(void)
{
	ar_spf_layer.lookup = ar_spf_lookup;
	ar_spf_layer.name = "ispmail";
	ar_spf = SPF_server_new_dns(&ar_spf_layer, 0);
	if (ar_spf == NULL)
		log_fatal("libspf2: SPF_server_new_dns failed");
	/* RFC 7208 4.6.4. */
	(void) SPF_server_set_max_dns_mech(ar_spf, 10);
	(void) SPF_server_set_max_dns_mx(ar_spf, 10);
	(void) SPF_server_set_max_dns_ptr(ar_spf, 10);
	memset(&ar_dmarc_lib, 0, sizeof(ar_dmarc_lib));
	ar_dmarc_lib.tld_type = OPENDMARC_TLD_TYPE_MOZILLA;
	if ((size_t) snprintf((char *) ar_dmarc_lib.tld_source_file,
	    sizeof(ar_dmarc_lib.tld_source_file), "%s",
	    var_dmarc_public_suffix_file) >=
	    sizeof(ar_dmarc_lib.tld_source_file))
		log_fatal("dmarc_public_suffix_file: path too long");
	if (opendmarc_policy_library_init(&ar_dmarc_lib) != DMARC_PARSE_OKAY)
		log_fatal("libopendmarc: cannot read %s",
		    var_dmarc_public_suffix_file);
}

void
smtpd_authres_check_begin(struct smtpd_authres_result *ck)
{
	ck->deadline_ms = dns_now_ms() + var_smtpd_sender_auth_timeout * 1000;
	ar_current = ck;
}

enum dkim_key_lookup
smtpd_authres_key_record(const char *name, const char **record_r)
{
	struct dns_answer *answer;
	enum dns_status status;

	*record_r = NULL;
	status = ar_query(DNS_TYPE_TXT, name, &answer);
	if (status == DNS_FOUND && answer != NULL &&
	    answer->string_count > 0) {
		*record_r = answer->strings[0];
		return DKIM_LOOKUP_FOUND;
	}
	return status == DNS_TEMPFAIL ? DKIM_LOOKUP_TEMPFAIL :
	    DKIM_LOOKUP_NONE;
}

void
smtpd_authres_dkim_key(struct dkim_verifier *v, size_t i, const char *name)
{
	const char *record;
	enum dkim_key_lookup lookup = smtpd_authres_key_record(name, &record);

	dkim_verifier_key(v, i, lookup, record,
	    record != NULL ? strlen(record) : 0);
}

/* Lower case copy of a domain fit for a header, or NULL. */
static char *
ar_domain(const char *domain)
{
	char *copy;
	size_t i;

	if (domain == NULL || !dkim_domain_valid(domain))
		return NULL;
	copy = xstrdup(domain);
	for (i = 0; copy[i] != '\0'; i++)
		if (copy[i] >= 'A' && copy[i] <= 'Z')
			copy[i] = (char) (copy[i] - 'A' + 'a');
	return copy;
}

void
smtpd_authres_spf(struct smtpd_session *ss, struct smtpd_authres_result *ck)
{
	const char *sender = ss->env.sender != NULL ? ss->env.sender : "";
	const char *at = strrchr(sender, '@');
	SPF_request_t *req;
	SPF_response_t *resp = NULL;
	char *from;
	int rc;

	ck->spf_helo = *sender == '\0';
	ck->spf_domain = ar_domain(ck->spf_helo ? ss->helo :
	    at != NULL ? at + 1 : NULL);
	if (ck->spf_domain == NULL) {
		ck->spf = "none";
		return;
	}
	req = SPF_request_new(ar_spf);
	rc = strchr(ss->peer->client_addr, ':') != NULL ?
	    SPF_request_set_ipv6_str(req, ss->peer->client_addr) :
	    SPF_request_set_ipv4_str(req, ss->peer->client_addr);
	if (rc != SPF_E_SUCCESS) {
		SPF_request_free(req);
		ck->spf = "none";
		return;
	}
	(void) SPF_request_set_helo_dom(req, ss->helo);
	from = ck->spf_helo ? xasprintf("postmaster@%s", ck->spf_domain) :
	    xstrdup(sender);
	(void) SPF_request_set_env_from(req, from);
	free(from);
	ar_spf_txt_seen = 0;
	ar_spf_tempfail = 0;
	(void) SPF_request_query_mailfrom(req, &resp);
	switch (resp != NULL ? SPF_response_result(resp) : SPF_RESULT_TEMPERROR) {
	case SPF_RESULT_PASS: ck->spf = "pass"; break;
	case SPF_RESULT_FAIL: ck->spf = "fail"; break;
	case SPF_RESULT_SOFTFAIL: ck->spf = "softfail"; break;
	case SPF_RESULT_NEUTRAL: ck->spf = "neutral"; break;
	case SPF_RESULT_NONE: ck->spf = "none"; break;
	case SPF_RESULT_TEMPERROR: ck->spf = "temperror"; break;
	default: ck->spf = "permerror"; break;
	}
	if (ck->void_lookups > SMTPD_AUTHRES_VOID_MAX)
		ck->spf = "permerror";
	/*
	 * libspf2 1.2.10 calls a failed lookup of the first record a
	 * permerror; RFC 7208 2.6.6 says temperror for any DNS failure,
	 * which stops the evaluation where it happens.
	 */
	if (ar_spf_tempfail)
		ck->spf = "temperror";
	if (resp != NULL)
		SPF_response_free(resp);
	SPF_request_free(req);
}

/* The v=DMARC1 record at _dmarc.domain: 1 found, 0 none, -1 tempfail. */
static int
ar_dmarc_record(const char *domain, char **record_r)
{
	struct dns_answer *answer;
	enum dns_status status;
	char *name = xasprintf("_dmarc.%s", domain);
	size_t i;
	int rc = 0;

	*record_r = NULL;
	status = ar_query(DNS_TYPE_TXT, name, &answer);
	free(name);
	if (status == DNS_TEMPFAIL)
		rc = -1;
	for (i = 0; status == DNS_FOUND && i < answer->string_count; i++)
		if (strncasecmp(answer->strings[i], "v=DMARC1", 8) == 0) {
			/* RFC 7489 6.6.3: more than one is none. */
			if (*record_r != NULL) {
				free(*record_r);
				*record_r = NULL;
				break;
			}
			*record_r = xstrdup(answer->strings[i]);
			rc = 1;
		}
	if (rc == 1 && *record_r == NULL)
		rc = 0;
	return rc;
}

static int
ar_spf_outcome(const char *spf)
{
	if (strcmp(spf, "pass") == 0)
		return DMARC_POLICY_SPF_OUTCOME_PASS;
	if (strcmp(spf, "temperror") == 0)
		return DMARC_POLICY_SPF_OUTCOME_TMPFAIL;
	if (strcmp(spf, "none") == 0)
		return DMARC_POLICY_SPF_OUTCOME_NONE;
	return DMARC_POLICY_SPF_OUTCOME_FAIL;
}

/* The DMARC verdict of one author domain. */
struct ar_dmarc_one {
	const char *result;
	enum smtpd_dmarc_policy policy;
	int fail;
};

static void
ar_dmarc_one(struct smtpd_session *ss, const char *from_domain,
	const struct smtpd_authres_result *ck, struct ar_dmarc_one *one)
{
	unsigned char org[256];
	DMARC_POLICY_T *pctx;
	char *record = NULL;
	const char *org_used = NULL;
	int rc, policy, p = 0;
	size_t i;

	memset(one, 0, sizeof(*one));
	one->result = "none";
	rc = ar_dmarc_record(from_domain, &record);
	/*
	 * The organizational domain's record, when it is another domain:
	 * libopendmarc has given "" (a process's first message from
	 * pass.test in the tests: the question "_dmarc." went out and was
	 * refused, dmarc=temperror), and "_dmarc." is no question to ask.
	 */
	if (rc == 0 && opendmarc_get_tld(AR_UC(from_domain), org,
	    sizeof(org)) == 0 && org[0] != '\0' &&
	    dkim_domain_valid((char *) org) &&
	    strcasecmp((char *) org, from_domain) != 0) {
		rc = ar_dmarc_record((char *) org, &record);
		org_used = (const char *) org;
	}
	if (rc < 0) {
		one->result = "temperror";
		return;
	}
	if (rc == 0)
		return;
	pctx = opendmarc_policy_connect_init(
	    AR_UC(ss->peer->client_addr),
	    strchr(ss->peer->client_addr, ':') != NULL ?
	    DMARC_POLICY_IP_TYPE_IPV6 : DMARC_POLICY_IP_TYPE_IPV4);
	if (pctx == NULL) {
		free(record);
		one->result = "temperror";
		return;
	}
	(void) opendmarc_policy_store_from_domain(pctx,
	    AR_UC(from_domain));
	for (i = 0; i < ck->dkim_count; i++)
		(void) opendmarc_policy_store_dkim(pctx,
		    (unsigned char *) ck->dkim[i].domain,
		    (unsigned char *) ck->dkim[i].selector,
		    strcmp(ck->dkim[i].result, "pass") == 0 ?
		    DMARC_POLICY_DKIM_OUTCOME_PASS :
		    strcmp(ck->dkim[i].result, "temperror") == 0 ?
		    DMARC_POLICY_DKIM_OUTCOME_TMPFAIL :
		    DMARC_POLICY_DKIM_OUTCOME_FAIL, NULL);
	if (ck->spf_domain != NULL)
		(void) opendmarc_policy_store_spf(pctx,
		    (unsigned char *) ck->spf_domain, ar_spf_outcome(ck->spf),
		    ck->spf_helo ? DMARC_POLICY_SPF_ORIGIN_HELO :
		    DMARC_POLICY_SPF_ORIGIN_MAILFROM, NULL);
	if (opendmarc_policy_store_dmarc(pctx, (unsigned char *) record,
	    AR_UC(from_domain), AR_UC(org_used)) !=
	    DMARC_PARSE_OKAY) {
		one->result = "permerror";
		free(record);
		(void) opendmarc_policy_connect_shutdown(pctx);
		return;
	}
	free(record);
	policy = opendmarc_get_policy_to_enforce(pctx);
	(void) opendmarc_policy_fetch_p(pctx, &p);
	(void) opendmarc_policy_connect_shutdown(pctx);
	one->policy = p == DMARC_RECORD_P_REJECT ? SMTPD_DMARC_REJECT :
	    p == DMARC_RECORD_P_QUARANTINE ? SMTPD_DMARC_QUARANTINE :
	    SMTPD_DMARC_NONE;
	switch (policy) {
	case DMARC_POLICY_PASS:
		one->result = "pass";
		break;
	case DMARC_POLICY_REJECT:
	case DMARC_POLICY_QUARANTINE:
	case DMARC_POLICY_NONE:
		one->result = "fail";
		one->fail = 1;
		/* pct= or sp= may have softened the record's p=. */
		if (policy == DMARC_POLICY_QUARANTINE)
			one->policy = SMTPD_DMARC_QUARANTINE;
		else if (policy == DMARC_POLICY_NONE)
			one->policy = SMTPD_DMARC_NONE;
		else
			one->policy = SMTPD_DMARC_REJECT;
		break;
	default:
		one->result = "none";
		break;
	}
}

/* Stricter verdicts rank higher: a failure by its policy first. */
static int
ar_dmarc_rank(const struct ar_dmarc_one *one)
{
	if (one->fail)
		return 4 + (int) one->policy;
	if (strcmp(one->result, "temperror") == 0)
		return 3;
	if (strcmp(one->result, "permerror") == 0)
		return 2;
	return strcmp(one->result, "none") == 0 ? 1 : 0;
}

void
smtpd_authres_dmarc(struct smtpd_session *ss, const char *const *domains,
	size_t count, int unreadable, struct smtpd_authres_result *ck)
{
	struct ar_dmarc_one one, best = { "none", SMTPD_DMARC_ABSENT, 0 };
	const char *best_domain = NULL;
	size_t i;

	ck->dmarc = "none";
	if (unreadable) {
		/* No author a reader could be shown to check: local policy. */
		ck->dmarc = "permerror";
		ck->dmarc_fail = 1;
		ck->dmarc_policy = SMTPD_DMARC_REJECT;
		ck->from_unreadable = 1;
		return;
	}
	/* RFC 7489 6.6.1: every author domain; the strictest verdict. */
	for (i = 0; i < count; i++) {
		ar_dmarc_one(ss, domains[i], ck, &one);
		if (best_domain == NULL ||
		    ar_dmarc_rank(&one) > ar_dmarc_rank(&best)) {
			best = one;
			best_domain = domains[i];
		}
	}
	if (best_domain == NULL)
		return;
	ck->from_domain = xstrdup(best_domain);
	ck->dmarc = best.result;
	ck->dmarc_policy = best.policy;
	ck->dmarc_fail = best.fail;
}

static const char *
ar_policy_name(enum smtpd_dmarc_policy p)
{
	switch (p) {
	case SMTPD_DMARC_REJECT: return "reject";
	case SMTPD_DMARC_QUARANTINE: return "quarantine";
	case SMTPD_DMARC_NONE: return "none";
	default: return NULL;
	}
}

char *
smtpd_authres_field(const char *authserv_id, struct smtpd_authres_result *ck)
{
	struct buf *b = buf_new(AR_FIELD_MAX);
	struct buf *sum = buf_new(AR_FIELD_MAX);
	char *field;
	size_t i;

	(void) buf_printf(b, "Authentication-Results: %s", authserv_id);
	if (ck->dkim_count == 0) {
		(void) buf_append_str(b, ";\r\n\tdkim=none");
		(void) buf_append_str(sum, "dkim=none");
	}
	for (i = 0; i < ck->dkim_count; i++) {
		(void) buf_printf(b, ";\r\n\tdkim=%s header.d=%s",
		    ck->dkim[i].result, ck->dkim[i].domain);
		if (ck->dkim[i].selector != NULL)
			(void) buf_printf(b, " header.s=%s",
			    ck->dkim[i].selector);
		(void) buf_printf(sum, "%sdkim=%s (d=%s)", i ? " " : "",
		    ck->dkim[i].result, ck->dkim[i].domain);
	}
	(void) buf_printf(b, ";\r\n\tspf=%s", ck->spf != NULL ? ck->spf :
	    "none");
	if (ck->spf_domain != NULL)
		(void) buf_printf(b, " smtp.%s=%s", ck->spf_helo ? "helo" :
		    "mailfrom", ck->spf_domain);
	(void) buf_printf(sum, " spf=%s", ck->spf != NULL ? ck->spf : "none");
	(void) buf_printf(b, ";\r\n\tdmarc=%s", ck->dmarc);
	if (ck->from_unreadable)
		(void) buf_append_str(b,
		    " reason=\"From: field unreadable\"");
	else if (ar_policy_name(ck->dmarc_policy) != NULL)
		(void) buf_printf(b, " (p=%s)",
		    ar_policy_name(ck->dmarc_policy));
	if (ck->from_domain != NULL)
		(void) buf_printf(b, " header.from=%s", ck->from_domain);
	(void) buf_printf(sum, " dmarc=%s from=%s", ck->dmarc,
	    ck->from_domain != NULL ? ck->from_domain : "-");
	/* RFC 8617 10.1, for the mail we seal. */
	if (ck->arc != NULL) {
		(void) buf_printf(b, ";\r\n\tarc=%s", ck->arc);
		(void) buf_printf(sum, " arc=%s", ck->arc);
	}
	free(ck->summary);
	ck->summary = buf_strdup(sum);
	field = buf_strdup(b);
	buf_free(&b);
	buf_free(&sum);
	return field;
}

void
smtpd_authres_result_clear(struct smtpd_authres_result *ck)
{
	size_t i;

	for (i = 0; i < ck->dkim_count; i++) {
		free(ck->dkim[i].domain);
		free(ck->dkim[i].selector);
	}
	free(ck->spf_domain);
	free(ck->from_domain);
	free(ck->summary);
	if (ar_current == ck) {
		ar_current = NULL;
		smtpd_authres_dns_reset();
	}
	memset(ck, 0, sizeof(*ck));
}

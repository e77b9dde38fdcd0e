/*
 * ctl_tlsrpt: what ctl_tlsrpt.c (the command, the journal, the JSON
 * report) and ctl_tlsrpt_send.c (the policy record, mail and HTTPS
 * delivery) share.
 */
#ifndef ISPMAIL_CTL_TLSRPT_INT_H
#define ISPMAIL_CTL_TLSRPT_INT_H

struct buf;
struct dns;

/* The most rua URIs of one TLSRPT record that are used. */
#define CTL_TLSRPT_RUA_MAX 10

/* One report, ready to go. */
struct ctl_tlsrpt_report {
	const char *domain;	/* the policy domain */
	const char *report_id;
	long long start, end;	/* the day, first and last second */
	const struct buf *json;
};

/*
 * The rua URIs of domain's "v=TLSRPTv1" TXT record at _smtp._tls.DOMAIN
 * (RFC 8460 3): 1 found (*rua_r, *count_r: new strings), 0 no (valid)
 * record, -1 the lookup failed (*error_r, caller frees).
 */
int ctl_tlsrpt_policy(struct dns *dns, const char *domain, char ***rua_r,
	size_t *count_r, char **error_r);
/* Parse a TXT record's text: 0 ok (as above), -1 not a TLSRPT record. */
int ctl_tlsrpt_parse_record(const char *txt, char ***rua_r,
	size_t *count_r);
/*
 * Deliver the report to one rua URI: mailto (a multipart/report mail
 * through smtpd's public/sendmail socket) or https (a POST).  0 ok; -1
 * (*error_r, caller frees).
 */
int ctl_tlsrpt_deliver(struct dns *dns, const struct ctl_tlsrpt_report *r,
	const char *rua, char **error_r);

#endif

/*
 * smtpd_authres_check: the DNS side of sender authentication (SPF with
 * libspf2 over c-ares, DKIM key records for dkim_verify, DMARC records
 * for libopendmarc) and the Authentication-Results field they make.
 * Internal to smtpd_authres.c.
 *
 * Every lookup of one message shares one deadline
 * (smtpd_sender_auth_timeout); a lookup past it is a temporary error.
 * SPF's limits (RFC 7208 4.6.4): 10 DNS mechanisms (libspf2's
 * max_dns_mech), 10 MX and PTR names each, and 2 void lookups (counted
 * in our DNS layer: a third makes the result permerror).
 */
#ifndef ISPMAIL_SMTPD_AUTHRES_CHECK_H
#define ISPMAIL_SMTPD_AUTHRES_CHECK_H

#include <stddef.h>

#include "dkim_verify.h"

struct smtpd_session;
struct dkim_verifier;

#define SMTPD_AUTHRES_SIGS 8
#define SMTPD_AUTHRES_VOID_MAX 2

enum smtpd_dmarc_policy {
	SMTPD_DMARC_ABSENT = 0,
	SMTPD_DMARC_NONE,
	SMTPD_DMARC_QUARANTINE,
	SMTPD_DMARC_REJECT,
};

/* A plain result record. */
struct smtpd_authres_sig {
	char *domain;
	char *selector;			/* NULL: not printable */
	const char *result;		/* pass, fail, permerror, ... */
	const char *reason;
};

struct smtpd_authres_result {
	long long deadline_ms;		/* CLOCK_MONOTONIC */
	int void_lookups;
	struct smtpd_authres_sig dkim[SMTPD_AUTHRES_SIGS];
	size_t dkim_count;
	const char *spf;		/* pass, fail, softfail, ... */
	char *spf_domain;		/* smtp.mailfrom or smtp.helo */
	int spf_helo;
	const char *dmarc;		/* pass, fail, none, temperror, ... */
	char *from_domain;
	enum smtpd_dmarc_policy dmarc_policy;
	int dmarc_fail;
	int from_unreadable;		/* the failure is local policy's */
	const char *arc;		/* checked for sealing: none, pass,
					   fail; NULL: not */
	char *summary;			/* for the log */
};

/* Once per process. */
void smtpd_authres_check_init(void);
/* A new message: the deadline starts now. */
void smtpd_authres_check_begin(struct smtpd_authres_result *ck);
/*
 * Look up key record name within the message's deadline: the record in
 * *record_r (borrowed: valid until the next lookup) when found.
 */
enum dkim_key_lookup smtpd_authres_key_record(const char *name,
	const char **record_r);
/* Look up key record name for signature i of v and hand it over. */
void smtpd_authres_dkim_key(struct dkim_verifier *v, size_t i,
	const char *name);
/* SPF of the session's envelope sender (or HELO when it is <>). */
void smtpd_authres_spf(struct smtpd_session *ss,
	struct smtpd_authres_result *ck);
/*
 * DMARC of the author domains (RFC 7489 6.6.1): each evaluated, the
 * strictest verdict kept with its domain.  unreadable: a From: that no
 * domain can be read from, too long, or with too many domains: a
 * failure, handled as a reject policy (ck->from_unreadable).
 */
void smtpd_authres_dmarc(struct smtpd_session *ss,
	const char *const *domains, size_t count, int unreadable,
	struct smtpd_authres_result *ck);
/* The Authentication-Results field (caller frees); sets ck->summary. */
char *smtpd_authres_field(const char *authserv_id,
	struct smtpd_authres_result *ck);
void smtpd_authres_result_clear(struct smtpd_authres_result *ck);
/* Our authserv-id: smtpd_authserv_id or myhostname. */
const char *smtpd_authres_id(void);

#endif

/*
 * dns_private: what dns.c and dns_parse.c share; not for other modules.
 * Answers are made here and handed to dns.c's request life cycle.
 */
#ifndef ISPMAIL_DNS_PRIVATE_H
#define ISPMAIL_DNS_PRIVATE_H

#include "dns.h"

#define DNS_NAME_MAX 253
#define DNS_LABEL_MAX 63

/* "A", "MX", ... for logs. */
const char *dns_type_name(enum dns_type type);
/* A new answer for name, status unset (0), nothing filled. */
struct dns_answer *dns_answer_new(enum dns_type type, const char *name);
/* Set status and the error "name/TYPE: why". */
void dns_answer_fail(struct dns_answer *answer, enum dns_status status,
	const char *why);
/* A host name as we keep it: lower case, without the trailing dot. */
char *dns_host_copy(const char *name);
/* 1 when name may be sent, 0 with *why_r (static) when not. */
int dns_name_valid(const char *name, const char **why_r);
/* Fill answer from a NOERROR reply with answers (status set either way). */
void dns_parse_mx(struct dns_answer *answer, const unsigned char *abuf,
	int alen);
void dns_parse_addrs(struct dns_answer *answer, const unsigned char *abuf,
	int alen);
void dns_parse_txt(struct dns_answer *answer, const unsigned char *abuf,
	int alen);
void dns_parse_ptr(struct dns_answer *answer, const unsigned char *abuf,
	int alen);
/* Seconds the reply may be kept (answer TTL or SOA negative TTL), or -1. */
long dns_parse_ttl(const unsigned char *abuf, int alen);
void dns_parse_tlsa(struct dns_answer *answer, const unsigned char *abuf,
	int alen);

#endif

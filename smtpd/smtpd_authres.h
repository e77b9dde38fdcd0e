/*
 * smtpd_authres: sender authentication at the end of DATA.
 *
 * mx mode (smtpd_sender_auth): SPF (RFC 7208) of the envelope sender,
 * DKIM verification (RFC 6376, RFC 8463), DMARC (RFC 7489) of the
 * From: domain, one Authentication-Results field (RFC 8601) queued
 * above the message, and the DMARC reject decision.  submission mode
 * (smtpd_dkim_signing): DKIM-Signature fields, RSA and Ed25519, for
 * authenticated and mynetworks clients whose From: domain has keys
 * (named in its routing directory record, dkim_domain.h).
 *
 * A filter between the DATA/BDAT reader (after smtpd_msa) and the queue
 * file, like smtpd_msa: the header is passed on field by field (each
 * field held until the next line shows it complete, at most
 * SMTPD_AUTHRES_FIELD_MAX bytes), and every incoming
 * Authentication-Results field that claims our authserv-id is dropped
 * (RFC 8601 5); the body passes as it comes.  The bytes that go to the
 * queue file are also fed to the DKIM verifier (dkim_verify.h), whose
 * parsed public keys a process keeps (dkim_pubcache.h).  Nothing is
 * changed that a signature covers but those forged fields.
 *
 * DNS: all lookups go through c-ares (dns.h, dns_servers), with one
 * deadline for the whole message (smtpd_sender_auth_timeout); libspf2
 * gets a DNS layer on top of it, the DKIM verifier its key records, and
 * the DMARC record is fetched here and handed to libopendmarc.  Each
 * lookup starts as soon as its name is known, not waited for: the SPF
 * record at MAIL FROM, the DMARC record when the From: field has been
 * read, a signature's key when its DKIM-Signature field has; the
 * answers are waited for at the end of DATA, where the verdict is due.
 * A transaction that ends first (RSET, a new MAIL, the client gone)
 * cancels what is still on its way.
 */
#ifndef ISPMAIL_SMTPD_AUTHRES_H
#define ISPMAIL_SMTPD_AUTHRES_H

#include <stddef.h>

/*
 * A header field longer than this is passed on unexamined; but an
 * Authentication-Results field that long is dropped, and a From: field
 * that long counts as a From: field whose domain cannot be read.
 */
#define SMTPD_AUTHRES_FIELD_MAX 65536
/* The header block kept for DKIM; past it, no DKIM for the message. */
#define SMTPD_AUTHRES_HEADER_MAX (1024 * 1024)

struct smtpd_authres;
struct smtpd_session;
struct qfile_writer;

typedef int smtpd_authres_out_fn(void *ctx, const void *data, size_t len);

/* Set up the libraries once per process (before privileges drop). */
void smtpd_authres_init(void);
/* MAIL FROM was accepted: start the SPF record lookup (mx). */
void smtpd_authres_mail(const struct smtpd_session *ss);
/* The transaction is over: cancel lookups still on their way. */
void smtpd_authres_reset(void);
/*
 * The filter for the message of ss queued as queue_id, or NULL when
 * nothing is to be checked or signed for this session.
 */
struct smtpd_authres *smtpd_authres_new(struct smtpd_session *ss,
	const char *queue_id);
/* Pass len bytes on to out(ctx, ...); 0 ok, -1 out failed. */
int smtpd_authres_write(struct smtpd_authres *ar, const void *data,
	size_t len, smtpd_authres_out_fn *out, void *ctx);
/* The message is complete: flush what is held; 0 / -1. */
int smtpd_authres_finish(struct smtpd_authres *ar,
	smtpd_authres_out_fn *out, void *ctx);
/*
 * Check or sign, queue the header fields in w and log the outcome; a
 * DMARC failure under p=quarantine, or p=reject that not every
 * recipient honours, gets each recipient a folder record for
 * filter_junk_folder.  0: go on and queue; -1: refused, the reply
 * (550 5.7.1, or 451 on a write error) is sent.
 */
int smtpd_authres_end(struct smtpd_authres *ar, struct smtpd_session *ss,
	struct qfile_writer *w);
/* Folder records were written: the message goes through the queue. */
int smtpd_authres_queue_only(const struct smtpd_authres *ar);
/* Free and NULL *arp (NULL is fine). */
void smtpd_authres_free(struct smtpd_authres **arp);

#endif

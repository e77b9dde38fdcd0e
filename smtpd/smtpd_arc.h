/*
 * smtpd_arc: ARC sealing (RFC 8617) of forwarded mail in mx mode, with
 * smtpd_sender_auth and smtpd_arc_sealing on.  When a recipient of the
 * message is one the routing directory forwards to another domain (an
 * alias or a mailbox's forward with a remote target: route_expand
 * gives a remote destination), one ARC set is added, signed with the
 * RSA DKIM key of that recipient's domain, the one doing the forward
 * (dkim_domain.h); a domain without one seals nothing.  One set a
 * message: its first forwarding recipient (of the first
 * SMTPD_ARC_RCPTS_MAX) whose domain has a key signs it.
 *
 * The chain already there is checked (arc.h) with key records looked
 * up within the sender-auth deadline; the set carries our
 * Authentication-Results as its ARC-Authentication-Results.  Nothing
 * here refuses or defers mail: a message that cannot be sealed is
 * queued unsealed and the reason logged.  Internal to smtpd_authres.c.
 */
#ifndef ISPMAIL_SMTPD_ARC_H
#define ISPMAIL_SMTPD_ARC_H

#include <stddef.h>

#define SMTPD_ARC_RCPTS_MAX 64
#define SMTPD_ARC_PREFETCH_KEYS 8

struct smtpd_arc;
struct smtpd_session;
struct qfile_writer;
struct dkim_pubcache;

/*
 * The sealer for the message of ss (queue_id), its recipients known;
 * NULL when none is forwarded, sealing is off or no key signs.
 * Verification keys are parsed through pubkeys (shared).
 */
struct smtpd_arc *smtpd_arc_new(struct smtpd_session *ss,
	const char *queue_id, struct dkim_pubcache *pubkeys);
/* The next len bytes of the message (as queued). */
void smtpd_arc_chunk(struct smtpd_arc *arc, const void *data, size_t len);
/*
 * The header has been fed: start the lookups of the chain's keys (the
 * first SMTPD_ARC_PREFETCH_KEYS), answered while the body arrives.
 */
void smtpd_arc_prefetch(struct smtpd_arc *arc);
/*
 * The message is complete: check the chain already there (its keys
 * looked up within the sender-auth deadline).  The verdict for our
 * Authentication-Results' arc= (arc_sealer_result), or NULL.
 */
const char *smtpd_arc_check(struct smtpd_arc *arc);
/*
 * authres_field is our "Authentication-Results: ..." field: seal,
 * queue the three fields in w (above what is queued after) and log.
 */
void smtpd_arc_end(struct smtpd_arc *arc, const char *authres_field,
	struct qfile_writer *w);
/* Free and NULL *ap (NULL is fine). */
void smtpd_arc_free(struct smtpd_arc **ap);

#endif

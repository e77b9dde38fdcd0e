/* smtpd_srs: accept bounces to valid SRS addresses, refuse the others. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "service.h"
#include "smtpd.h"
#include "smtpd_srs.h"
#include "srs.h"

int
smtpd_srs_check_rcpt(struct smtpd_session *ss, const char *addr)
{
	char *orig = NULL, *error = NULL;
	int rc;

	rc = srs_reverse(addr, &orig, &error);
	switch (rc) {
	case SRS_NOT_SRS:
		return SMTPD_SRS_NOT_SRS;
	case SRS_OK:
		log_info("srs: %s from %s returns to %s", addr,
		    ss->peer->client_addr, orig);
		free(orig);
		return SMTPD_SRS_ACCEPT;
	case SRS_TEMP:
		log_error("srs: %s", error);
		smtpd_reply(ss, "451 4.3.0 <%s>: Temporary lookup failure",
		    addr);
		free(error);
		return -2;
	case SRS_MALFORMED:
		/*
		 * RFC 5321 4.5.1: postmaster of every domain we take
		 * mail for; the routing directory may list it.
		 */
		if (strncasecmp(addr, "postmaster@", 11) == 0) {
			free(error);
			return SMTPD_SRS_NOT_SRS;
		}
		log_info("reject: srs: %s from %s", error,
		    ss->peer->client_addr);
		smtpd_reply(ss, "550 5.1.1 <%s>: Recipient address rejected: "
		    "not a valid SRS address", addr);
		break;
	case SRS_FORGED:
		log_info("reject: srs: %s from %s", error,
		    ss->peer->client_addr);
		smtpd_reply(ss, "550 5.7.1 <%s>: Recipient address rejected: "
		    "SRS signature does not match (forged bounce address)",
		    addr);
		break;
	case SRS_EXPIRED:
		log_info("reject: srs: %s from %s", error,
		    ss->peer->client_addr);
		smtpd_reply(ss, "550 5.7.1 <%s>: Recipient address rejected: "
		    "SRS address has expired", addr);
		break;
	default:
		log_panic("srs_reverse: unknown result %d", rc);
	}
	free(error);
	return -1;
}

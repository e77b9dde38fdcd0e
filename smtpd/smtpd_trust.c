/* smtpd_trust: is the client one of the ISP's own hosts (mynetworks)? */
#include "config.h"

#include <stdlib.h>

#include "log.h"
#include "mail_params.h"
#include "netmatch.h"
#include "service.h"
#include "smtpd.h"
#include "smtpd_trust.h"

static struct netmatch *mynetworks;

void
smtpd_trust_init(void)
{
	char *error = NULL;

	mynetworks = netmatch_from_param("mynetworks", var_mynetworks, &error);
	if (mynetworks == NULL)
		log_fatal("%s", error);
}

int
smtpd_trust_client(const struct smtpd_session *ss)
{
	/* A user of this host on the sendmail socket (smtpd_local.c). */
	if (ss->local_user != NULL)
		return 1;
	return mynetworks != NULL &&
	    netmatch_match(mynetworks, ss->peer->client_addr);
}

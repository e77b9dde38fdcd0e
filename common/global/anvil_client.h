/*
 * anvil_client: a front daemon's side of anvil(8), the per-client
 * connection count and rate limits (Postfix's anvil, Dovecot's login
 * limits).
 *
 * Each process keeps one connection to queue_directory/private/anvil,
 * opened on first use; anvil ties the counts to it, so the counts of a
 * process that crashes go away with its connection.  A connection of a
 * client in client_limit_exceptions (or over a unix socket) is admitted
 * without asking.  When anvil cannot be reached or does not answer
 * within anvil_timeout the client is admitted and a warning is logged at
 * most once a minute: an outage of anvil must never stop mail.  anvil
 * also counts every client a daemon drops, per service and reason
 * (anvil_client_event, and the refusals it decides itself), for
 * ispmailctl status; an event lost to an outage is just not counted.  The
 * requests go through the stream module, so in imapd's multi-session
 * processes they wait through the stream waiter and block no other
 * session; concurrent requests of one process take turns.
 */
#ifndef ISPMAIL_ANVIL_CLIENT_H
#define ISPMAIL_ANVIL_CLIENT_H

struct service_peer;

/* anvil's socket, relative to queue_directory. */
#define ANVIL_SOCKET "private/anvil"

/* What anvil_client_admit() decided (a plain result record). */
struct anvil_admission {
	long long id;		/* anvil's handle; -1: nothing to release */
	unsigned generation;	/* of the anvil connection it belongs to */
	const char *limit;	/* refused: "connection_count_limit" or
				   "connection_rate_limit" */
	long long value;	/* refused: the count or rate reached */
	long long max;		/* refused: the limit */
};

/*
 * Parse client_limit_exceptions (before serving).  0 ok; -1 with *error_r
 * (caller frees).
 */
int anvil_client_init(char **error_r);
/*
 * Count a new connection from peer against its service's limits
 * (count_limit and rate_limit; 0 means none; anvil compares and counts
 * a refusal).  1: admitted (release it with anvil_client_release when
 * the connection ends); 0: refused, adm says which limit (the caller
 * answers and closes; nothing to release); the refusal is logged here,
 * with reason=LIMIT.
 */
int anvil_client_admit(const struct service_peer *peer,
	long long count_limit, long long rate_limit,
	struct anvil_admission *adm);
/* The connection admitted as adm ended. */
void anvil_client_release(struct anvil_admission *adm);
/*
 * peer's connection is dropped for reason (a fixed word of our own, such
 * as "junk_command_limit", never client data): anvil counts it.  Sent
 * without waiting for an answer (there is none), within anvil_timeout;
 * never fails (a lost event is warned about at most once a minute).
 */
void anvil_client_event(const struct service_peer *peer, const char *reason);

/* What anvil_client_submission() decided (a plain result record). */
struct anvil_submission {
	long long messages;	/* the login's this hour (this one too when
				   admitted) */
	long long recipients;
	const char *limit;	/* refused: "login_message_limit" or
				   "login_recipient_limit"; else NULL */
	long long max;		/* refused: that limit */
};

/*
 * One message of login (an authenticated account) with recipients
 * recipients, sent through service: counted in the login's hour across
 * every service and process (smtpd, proxyd), unless it would pass
 * message_limit or recipient_limit (per hour; 0 means none).  1:
 * admitted and counted; 0: refused, sub says which limit (the caller
 * answers 4xx; anvil counts the refusal as a drop); the refusal is
 * logged here.  When anvil cannot be reached the message is admitted
 * (warned at most once a minute): an outage never stops mail.
 */
int anvil_client_submission(const char *service, const char *login,
	long long recipients, long long message_limit,
	long long recipient_limit, struct anvil_submission *sub);

#endif

/*
 * auth_client: the client side of authd(8), login checks against the
 * routing directory for a daemon that runs its own event loop (proxyd)
 * and so must never call route_authenticate() or crypt itself.
 *
 * The caller owns the descriptor and drives it: auth_client_connect()
 * gives a non-blocking connection to queue_directory/private/auth,
 * auth_client_request() encodes one request into the caller's output
 * buffer, and auth_client_reply_parse() takes one answer from the bytes
 * the caller has read so far.  authd answers one request at a time per
 * connection, in order, and closes a connection idle for its
 * ipc_timeout: on EOF reconnect.  Every value is at most AUTH_VALUE_MAX
 * bytes; an answer longer than AUTH_REPLY_MAX without its end is bad.
 */
#ifndef ISPMAIL_AUTH_CLIENT_H
#define ISPMAIL_AUTH_CLIENT_H

#include <stddef.h>

struct buf;

/* authd's socket, relative to queue_directory. */
#define AUTH_SOCKET "private/auth"
/* The longest login, password, user, host list or reason. */
#define AUTH_VALUE_MAX 1024
/* The longest answer record. */
#define AUTH_REPLY_MAX (4 * AUTH_VALUE_MAX + 256)

enum auth_status {
	AUTH_OK = 1,		/* user and hosts set */
	AUTH_FAIL = 0,		/* bad login or password, account not active */
	AUTH_TEMPFAIL = -1,	/* directory down: "try later", never "bad
				   password" */
	AUTH_ERROR = -2,	/* authd refused the request (our bug) */
};

/* One answer (a plain result record); auth_reply_clear() frees it. */
struct auth_reply {
	enum auth_status status;
	char *user;		/* AUTH_OK: the canonical address */
	char *hosts;		/* AUTH_OK: the mailbox's mail host value */
	char *reason;		/* otherwise: why (printable), or NULL */
};

/*
 * A non-blocking, close-on-exec connection to queue_dir/private/auth: the
 * descriptor, or -1 with *error_r (caller frees).
 */
int auth_client_connect(const char *queue_dir, char **error_r);

/*
 * Append one authenticate request (service "imap", "pop3" or
 * "submission"; client the numeric address) to out.  0 ok; -1 when a
 * value is empty or longer than AUTH_VALUE_MAX, or out's cap would be
 * passed (out unchanged).
 */
int auth_client_request(struct buf *out, const char *service,
	const char *login, const char *password, const char *client);

/*
 * Take one answer from the start of in: 1 complete (reply filled, the
 * record removed from in); 0 more bytes needed; -1 malformed (a bad
 * record, a value with control bytes, no end within AUTH_REPLY_MAX),
 * *error_r a static text: drop the connection.
 */
int auth_client_reply_parse(struct buf *in, struct auth_reply *reply,
	const char **error_r);

/* Free the reply's strings and zero it. */
void auth_reply_clear(struct auth_reply *reply);

#endif

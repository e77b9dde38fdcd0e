/*
 * proxyd: the IMAP/POP3/submission front door; the session record and
 * the calls the protocol fronts (proxy_imap.c, proxy_pop3.c,
 * proxy_submission.c) share with the core.
 *
 * One process serves up to proxy_session_limit sessions in one poll()
 * loop (proxyd.c); each session is a state machine, never a stack of
 * its own, so an idle proxied session costs its record, its OpenSSL
 * connection (record buffers released while idle) and no relay buffer
 * (they are freed whenever they run empty).  Before login a front reads
 * the client's lines itself (proxy_line_limit each, proxy_bad_command_
 * limit bad ones) and answers them; after authentication (proxy_auth.c)
 * the core connects to the mailbox's host (proxy_backend.c), the front
 * logs in there with the client's credentials, and from the backend's
 * answer on the core copies bytes both ways, with bounded buffers and
 * backpressure: a side is not read while the other side's output is
 * full.
 */
#ifndef ISPMAIL_PROXYD_H
#define ISPMAIL_PROXYD_H

#include <stddef.h>
#include <stdint.h>

#include "service.h"

struct buf;
struct proxy_auth_conn;
struct tls_conn;
struct tls_server;

/* One side of a session: the client or the backend. */
struct proxy_conn {
	int fd;				/* -1: not open */
	struct tls_conn *tls;		/* NULL: plain */
	int tls_handshaking;		/* the handshake is not done */
	int tls_wants_write;		/* the next step/read needs POLLOUT */
	int tls_write_wants_read;	/* the next write needs POLLIN */
	struct buf *in;			/* read, not yet used; NULL empty */
	struct buf *out;		/* to send; NULL when empty */
	int eof;			/* read EOF or error */
};

enum proxy_state {
	PROXY_HEADER = 1,	/* a load balancer's PROXY header first */
	PROXY_TLS,		/* client TLS handshake (993, STARTTLS) */
	PROXY_PRELOGIN,		/* the front reads and answers commands */
	PROXY_AUTH,		/* waiting for the directory's answer */
	PROXY_DELAY,		/* a failed login's delay */
	PROXY_CONNECT,		/* backend connect (and TLS) in progress */
	PROXY_BACKEND_LOGIN,	/* the front logs in at the backend */
	PROXY_RELAY,		/* copying bytes both ways */
	PROXY_CLOSING,		/* sending the last reply, then close */
};

struct proxy_session;

/* A protocol front: what the core calls at each step. */
struct proxy_front {
	const char *name;		/* "imap", "pop3" */
	const char *auth_service;	/* authd's service= */
	long long *backend_port;
	/* The backend hosts of every login (submission), NULL: the
	 * mailbox's mail host. */
	char **backend_hosts;
	void (*greet)(struct proxy_session *ps);
	/* One client line before login (without CRLF; NUL-terminated). */
	void (*client_line)(struct proxy_session *ps, char *line,
		size_t len);
	/* A client line longer than proxy_line_limit (skipped). */
	void (*client_too_long)(struct proxy_session *ps);
	/* The directory's answer to proxy_auth_start(). */
	void (*auth_done)(struct proxy_session *ps);
	/* Connected to a backend: start the login there. */
	void (*backend_start)(struct proxy_session *ps);
	/* One backend line during the login (without CRLF). */
	void (*backend_line)(struct proxy_session *ps, char *line,
		size_t len);
	/* No backend answered: a temporary failure to the client. */
	void (*unavailable)(struct proxy_session *ps);
	/* The session ends for why ("timeout", "backend closed"). */
	void (*bye)(struct proxy_session *ps, const char *why);
};

enum proxy_auth_status {
	PROXY_AUTH_OK = 1,
	PROXY_AUTH_FAIL = 0,
	PROXY_AUTH_TEMPFAIL = -1,
};

struct proxy_session {
	struct proxy_conn client;
	struct proxy_conn backend;
	struct service_peer peer;
	const struct proxy_front *front;
	enum proxy_state state;
	int64_t deadline;		/* of the current state; INT64_MAX */
	int64_t login_deadline;
	int tls_active;			/* the client side is encrypted */
	int greeted;
	int skip_line;			/* discarding an over-long line */
	int bad_commands;
	int auth_failures;
	int front_step;			/* the front's own sub-state */
	int sasl_step;			/* proxy_sasl.c's, 0: none */
	char *tag;			/* IMAP: the login command's tag */
	char *helo;			/* submission: the client's EHLO */
	struct buf *cmd;		/* IMAP: a command with literals */
	size_t literal_left;		/* raw bytes still to go into cmd */
	char *login;			/* as the client gave it */
	char *password;
	/* The directory's answer (proxy_auth_start). */
	enum proxy_auth_status auth_status;
	int auth_queued;		/* waiting for an authd connection */
	int auth_retried;		/* asked a second time already */
	struct proxy_session *auth_next;	/* the wait queue */
	struct proxy_auth_conn *auth_conn;	/* carrying its request */
	/* proxy_limits.c's. */
	long long anvil_ip_id;		/* held session counts, -1: none */
	long long anvil_user_id;
	unsigned anvil_generation;	/* of the anvil connection */
	int limits_outstanding;		/* questions not yet answered */
	int limits_peeks;
	long long limits_failures;	/* failed logins known in window */
	int64_t delay_start;
	int64_t fail_delay_ms;
	char *auth_reason;
	char *user;			/* canonical address */
	char *hosts;			/* the mail host value */
	size_t host_next;		/* next entry of hosts to try */
	char *backend_name;		/* the host connected to, for logs */
	int backend_connecting;		/* connect() in progress */
	int backend_bye_seen;		/* the backend said BYE itself */
	int backend_at_line_start;
	int client_at_line_start;
	int compressed;			/* the client asked for COMPRESS */
	struct buf *delayed_reply;	/* PROXY_DELAY: sent at deadline */
	int close_after_delay;
};

/* The process-wide TLS server context (NULL: no tls_cert_file). */
extern struct tls_server *proxyd_tls;

/* Queue a reply line (CRLF added) to the client, logged at debug. */
void proxy_reply(struct proxy_session *ps, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Queue raw bytes to the backend (the front's login commands). */
void proxy_backend_send(struct proxy_session *ps, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Start the client TLS handshake once the queued reply is out. */
void proxy_start_tls(struct proxy_session *ps);
/* Send what is queued, then close. */
void proxy_close(struct proxy_session *ps);
/* A bad command: 1 when the limit is reached (the front said BYE). */
int proxy_bad_command(struct proxy_session *ps);
/* Passwords may be taken now (TLS, or auth_allow_plaintext). */
int proxy_plaintext_ok(const struct proxy_session *ps);
/*
 * Check login/password with the directory; the answer comes back
 * through the front's auth_done (ps->auth_status, ps->user, ps->hosts,
 * ps->auth_reason).  Takes over login and password.
 */
void proxy_auth_start(struct proxy_session *ps, char *login,
	char *password);
/*
 * For a front's auth_done: log the directory's answer and act on it.
 * PROXY_AUTH_OK: the connect to the store has begun (nothing to say);
 * TEMPFAIL: back to reading commands (the front says "try later");
 * FAIL: counted, *last_r set when auth_failure_limit is reached (the
 * front answers through proxy_auth_failed).
 */
enum proxy_auth_status proxy_auth_outcome(struct proxy_session *ps,
	int *last_r);
/*
 * Send the store "<command>BASE64\r\n", the SASL PLAIN response for
 * ps->user and ps->password after the front's command text.
 */
void proxy_sasl_send_plain(struct proxy_session *ps, const char *command);
/*
 * A failed login: after auth_failure_delay send reply (a line) and go
 * on reading commands, or close when close_after is set.
 */
void proxy_auth_failed(struct proxy_session *ps, const char *reply,
	int close_after);
/* Connect to the next usable host of ps->hosts (or unavailable). */
void proxy_connect_next(struct proxy_session *ps);
/*
 * The login at the backend is done: relay from now on (whatever the
 * backend sent after the login answer goes to the client).
 */
void proxy_relay_start(struct proxy_session *ps);
/* Drop the backend connection (its login was refused). */
void proxy_conn_close_backend(struct proxy_session *ps);
/* Forget the password (after the backend login, or when given up). */
void proxy_forget_password(struct proxy_session *ps);
/* The backend refused or broke during login: next host or unavailable. */
void proxy_backend_failed(struct proxy_session *ps, const char *why);

extern const struct proxy_front proxy_front_imap;
extern const struct proxy_front proxy_front_pop3;
extern const struct proxy_front proxy_front_submission;

#endif

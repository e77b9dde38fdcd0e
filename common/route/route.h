/*
 * route: the routing directory, asked by every daemon "is this domain
 * ours, does this address exist, where does it go".
 *
 * One API over several backends (route_backend = file | ldap), chosen by
 * main.conf.  Lookups are tri-state: 1 found, 0 not found, -1 temporary
 * failure (directory unreachable, timeout, damaged map).  A temporary
 * failure must never become "user unknown": callers answer 4xx.
 *
 * Addresses are normalised before lookup: the domain is lower-cased (IDNA
 * A-labels are taken as given), the local part is lower-cased unless
 * route_case_sensitive_local is set, a quoted local part (RFC 5321
 * Quoted-string) is unquoted, and "user+tag@" is tried as "user@" when the
 * exact address is unknown (recipient_delimiter).  An alias domain maps
 * every address to the same local part in its target domain; a domain's
 * catch-all answers for unknown local parts.
 *
 * The records below are plain result records, visible on purpose; each is
 * owned by whoever got it and freed with its route_*_free().  Strings are
 * NUL-terminated; arrays carry their count and also end with a NULL, so
 * route_names_free() can replace one (set its count to 0 after).
 */
#ifndef ISPMAIL_ROUTE_H
#define ISPMAIL_ROUTE_H

#include <stddef.h>

struct route;

enum route_domain_kind {
	ROUTE_DOMAIN_LOCAL = 1,	/* mailboxes here */
	ROUTE_DOMAIN_RELAY,	/* we are backup MX for listed recipients */
	ROUTE_DOMAIN_ALIAS,	/* every address maps to target_domain */
};

/* What a DMARC p=reject failure does to a recipient's copy (smtpd(8)). */
enum route_dmarc_policy {
	ROUTE_DMARC_DEFAULT = 0,	/* a mailbox: its domain's; a
					   domain: smtpd_dmarc_reject_policy
					   and smtpd_dmarc_junk_domains */
	ROUTE_DMARC_HONOUR,		/* 550 5.7.1 at the end of DATA */
	ROUTE_DMARC_JUNK,		/* accepted into the Junk folder */
};
#define ROUTE_DMARC_POLICIES 3
/* "default", "honour", "junk": the file and LDAP spelling. */
extern const char *const route_dmarc_names[ROUTE_DMARC_POLICIES];

struct route_domain {
	char *name;			/* lower case */
	enum route_domain_kind kind;
	char *alias_target;		/* ALIAS: the target domain */
	char *relay_host;		/* RELAY: primary host, NULL: its MX */
	char *catchall;			/* address for unknown users, or NULL */
	char *mail_host;		/* LOCAL: default store host, or NULL */
	int archive;			/* LOCAL: archive every mailbox's mail */
	enum route_dmarc_policy dmarc;	/* its mailboxes' default */
	char **dkim_selectors;		/* DKIM signing keys, one
					   "SELECTOR:TYPE:FILE:START:RETIRE"
					   each (dkim_domain.h); checked
					   where used; may be NULL when
					   the count is 0 */
	size_t dkim_selector_count;
};

enum route_state {
	ROUTE_STATE_ACTIVE = 0,
	ROUTE_STATE_SUSPENDED,		/* receives mail, cannot log in */
	ROUTE_STATE_DISABLED,		/* neither */
	ROUTE_STATE_MOVING,		/* being moved to another store host:
					   deliveries and logins fail
					   temporarily */
};

enum route_filter_policy {
	ROUTE_FILTER_OFF = 0,
	ROUTE_FILTER_STANDARD,
	ROUTE_FILTER_AGGRESSIVE,
};


struct route_mailbox {
	char *address;			/* canonical, normalised */
	char **alt_addresses;		/* more addresses delivering here */
	size_t alt_count;
	char *mail_host;		/* store host; "localhost" = this host */
	char *store_path;		/* Maildir++ root */
	long long quota;		/* bytes; 0 = unlimited */
	enum route_state state;
	char *password_hash;		/* crypt(3) hash, or NULL */
	enum route_filter_policy filter;
	double tag_score;		/* spam score to tag at */
	double quarantine_score;	/* ... to quarantine at */
	double discard_score;		/* ... to discard at */
	enum route_dmarc_policy dmarc;	/* DMARC p=reject: 550 or Junk */
	int archive;			/* archive a copy of every message */
	char *outbound_class;		/* smtp-CLASS agent; NULL = default */
	char **forwards;		/* forward to these addresses */
	size_t forward_count;
	int forward_keep_copy;		/* also deliver to the mailbox */
};

/*
 * Is mail to or from mailbox m archived?  Its own flag archives it; its
 * domain's flag (the domain of m->address) archives every mailbox of the
 * domain, and no mailbox can opt out of that (ispmail-archive(5)).  d is
 * the domain a lookup already returned, used when it is m's; else the
 * domain is looked up.  1 yes, 0 no, -1 temporary failure.
 */
int route_mailbox_archived(struct route *r, const struct route_mailbox *m,
	const struct route_domain *d);

struct route_alias {
	char *address;			/* normalised */
	char **targets;			/* local or remote addresses */
	size_t target_count;
};

/* A recipient of a relay domain that the directory lists as valid. */
struct route_relay_recipient {
	char *address;
};

enum route_kind {
	ROUTE_KIND_MAILBOX = 1,
	ROUTE_KIND_ALIAS,
	ROUTE_KIND_RELAY,	/* listed recipient of a relay domain */
};

/* What route_lookup() found for one address. */
struct route_answer {
	enum route_kind kind;
	char *address;			/* the address as normalised */
	char *matched;			/* the key that matched */
	const char *how;		/* "exact", "recipient delimiter",
					   "alias domain", "catch-all",
					   "alternate address" */
	struct route_domain *domain;	/* the domain that owns matched */
	struct route_mailbox *mailbox;	/* KIND_MAILBOX */
	struct route_alias *alias;	/* KIND_ALIAS */
};

/*
 * Open the backend main.conf names (parameters already loaded).  NULL
 * with *error_r (caller frees) when the configuration is unusable; an
 * unreachable directory is not an error here (lookups then fail
 * temporarily).
 */
struct route *route_open(char **error_r);
void route_close(struct route **rp);
/* The backend's name ("file", "ldap"). */
const char *route_backend_name(const struct route *r);

/*
 * Parse ldap_address_attributes (value): the attributes an address is
 * searched in, mail and optionally mailLocalAddress.  0 with
 * *alternate_r set when mailLocalAddress is one; -1 with *error_r
 * (caller frees).
 */
int route_ldap_address_attributes(const char *value, int *alternate_r,
	char **error_r);

/*
 * Normalise an address (see the top of this file) into *norm_r (caller
 * frees).  0 ok; -1 with *error_r (caller frees) for a syntax error.  The
 * empty address and "postmaster" without a domain are errors here.
 */
int route_normalize(const struct route *r, const char *address,
	char **norm_r, char **error_r);

/* Is domain ours, and how.  1 found (*domain_r set), 0 not ours, -1. */
int route_domain_lookup(struct route *r, const char *domain,
	struct route_domain **domain_r, char **error_r);

/*
 * Resolve one address one step.  1 found (*answer_r set), 0 not found
 * (unknown user of our domain or not our domain at all: check the domain
 * with route_domain_lookup), -1 temporary failure; error_r (caller frees)
 * says why for 0 and -1 when not NULL.  Every field of the answer is
 * filled (route_lookup_fields asks for fewer).
 */
int route_lookup(struct route *r, const char *address,
	struct route_answer **answer_r, char **error_r);

/*
 * What of a mailbox (and an alias) a lookup's caller reads.  The kind,
 * the addresses (address, matched, the mailbox's canonical address
 * unless ROUTE_FIELD_KEY_ADDRESS) and the domain record are always
 * filled; a field not asked for may be left empty (NULL, 0, ACTIVE,
 * OFF, DEFAULT), so a caller asks for every field it reads.  A backend may fill more: the file backend fills everything
 * (it has it at hand), the LDAP backend asks the directory for the
 * attributes of these fields only, and for all of them when it keeps
 * found answers in its cache (ispmail-ldap(5)).
 */
enum route_field {
	ROUTE_FIELD_STATE = 1 << 0,	/* state */
	ROUTE_FIELD_STORE = 1 << 1,	/* store_path, quota */
	ROUTE_FIELD_HOST = 1 << 2,	/* mail_host */
	ROUTE_FIELD_FILTER = 1 << 3,	/* filter and the three scores */
	ROUTE_FIELD_DMARC = 1 << 4,	/* dmarc */
	ROUTE_FIELD_ARCHIVE = 1 << 5,	/* archive */
	ROUTE_FIELD_CLASS = 1 << 6,	/* outbound_class */
	ROUTE_FIELD_FORWARDS = 1 << 7,	/* forwards, forward_keep_copy */
	ROUTE_FIELD_ALT = 1 << 8,	/* alt_addresses */
	ROUTE_FIELD_TARGETS = 1 << 9,	/* an alias's targets */
	/*
	 * Not a field but its absence: the caller reads neither the
	 * mailbox's canonical address nor the alias's, so the answer may
	 * carry the address looked up in their place (and "how" may say
	 * "exact" for an alternate address).  The LDAP backend then does
	 * not ask the directory for mail.
	 */
	ROUTE_FIELD_KEY_ADDRESS = 1 << 10,
};
/* Every field (and the canonical addresses). */
#define ROUTE_FIELDS_ALL 0x3ffu
/*
 * What a receiver decides on when it answers RCPT TO (smtpd(8)): the
 * kind of address, the mailbox's state and its quota (store_path to
 * read the maildirsize); not the canonical address.
 */
#define ROUTE_FIELDS_RCPT (ROUTE_FIELD_STATE | ROUTE_FIELD_STORE \
	| ROUTE_FIELD_KEY_ADDRESS)

/* route_lookup with fields (enum route_field, or-ed) only. */
int route_lookup_fields(struct route *r, const char *address,
	unsigned fields, struct route_answer **answer_r, char **error_r);

/*
 * route_lookup_fields and route_domain_lookup in one, as a receiver
 * checks a recipient (the backend may answer both with one question):
 * -1 temporary failure; 0 the domain is not ours (or the address is
 * invalid); 1 the domain is ours and *answer_r is the address's answer,
 * or NULL when it does not exist (error_r says why).  domain_r, when
 * not NULL, receives a copy of the domain on 1; a caller that needs
 * only to know that it is ours passes NULL and saves the copy.
 */
int route_lookup_recipient(struct route *r, const char *address,
	unsigned fields, struct route_domain **domain_r,
	struct route_answer **answer_r, char **error_r);

/* One final destination of an expanded address. */
enum route_dest_kind {
	ROUTE_DEST_MAILBOX = 1,		/* deliver to a mailbox (LMTP) */
	ROUTE_DEST_REMOTE,		/* not ours: deliver over SMTP */
	ROUTE_DEST_RELAY,		/* relay domain: to its primary */
};

struct route_dest {
	enum route_dest_kind kind;
	char *address;			/* final recipient address */
	char *original;			/* the address expanded (for DSNs) */
	struct route_mailbox *mailbox;	/* DEST_MAILBOX */
	struct route_domain *domain;	/* DEST_MAILBOX, DEST_RELAY */
};

struct route_expansion {
	struct route_dest *dests;
	size_t dest_count;
	char **trace;			/* human-readable steps, in order */
	size_t trace_count;
};

enum route_expand_status {
	ROUTE_EXPAND_OK = 1,
	ROUTE_EXPAND_UNKNOWN = 0,	/* the address (or a local target) is unknown */
	ROUTE_EXPAND_TEMPFAIL = -1,	/* try later */
	ROUTE_EXPAND_LOOP = -2,		/* alias cycle or depth limit (5.4.6) */
};

/*
 * Expand an address through aliases, alias domains, catch-alls and
 * forwards (keeping a local copy when asked) to final destinations,
 * duplicates removed, stopping at route_expansion_depth and on cycles.
 * Remote addresses are final.  *exp_r is set for OK and, with the trace
 * so far, for UNKNOWN and LOOP (the error text says which address).
 */
enum route_expand_status route_expand(struct route *r, const char *address,
	struct route_expansion **exp_r, char **error_r);

/*
 * Check a login (an address) and password.  1 ok (*mailbox_r set when not
 * NULL), 0 refused (*reason_r: "invalid credentials", "account
 * suspended", "account disabled"; a static text), -1 temporary failure.
 * Hash comparison is constant time; unknown users cost the same time as
 * known ones.
 */
int route_authenticate(struct route *r, const char *login,
	const char *password, struct route_mailbox **mailbox_r,
	const char **reason_r, char **error_r);

/*
 * A login someone trusted has authenticated already (a proxy's token,
 * proxy_login.h): the mailbox's state decides, no password is checked.
 * 1 ok (*mailbox_r set when not NULL), 0 refused (*reason_r: "no such
 * mailbox", "account suspended", "account disabled"), -1 temporary
 * failure (the directory, or a mailbox being moved).
 */
int route_authorize(struct route *r, const char *login,
	struct route_mailbox **mailbox_r, const char **reason_r,
	char **error_r);

/* Hash a password with the best available crypt method (yescrypt). */
char *route_hash_password(const char *password, char **error_r);

/*
 * How the password checks of route_authenticate run their crypt work
 * (tens of ms of CPU with yescrypt): run(work, arg) must call work(arg)
 * once and return after it finished.  It may run it on another thread:
 * work touches only arg (crypt_rn is reentrant), never the route.  A
 * process serving many sessions on one thread (imapd, imap_multi.h)
 * installs one so the other sessions run meanwhile; NULL (the default)
 * calls work in place.
 */
typedef void route_crypt_work(void *arg);
typedef void route_crypt_runner(route_crypt_work *work, void *arg);
void route_set_crypt_runner(route_crypt_runner *run);

/*
 * Provisioning: the same calls for every backend.  0 ok, -1 with
 * *error_r (caller frees): "domain example.test exists", "no such
 * mailbox", "directory unreachable: ...".  put with create_only fails on
 * an existing entry; without it, replaces it.  An error that starts with
 * ROUTE_ERROR_UNREACHABLE is temporary (no directory server could be
 * reached in time; the text names the servers): route_error_temporary().
 */
#define ROUTE_ERROR_UNREACHABLE "directory unreachable"
int route_error_temporary(const char *error);

int route_domain_put(struct route *r, const struct route_domain *domain,
	int create_only, char **error_r);
int route_domain_delete(struct route *r, const char *name, char **error_r);
int route_mailbox_put(struct route *r, const struct route_mailbox *mailbox,
	int create_only, char **error_r);
int route_mailbox_delete(struct route *r, const char *address,
	char **error_r);
int route_alias_put(struct route *r, const struct route_alias *alias,
	int create_only, char **error_r);
int route_alias_delete(struct route *r, const char *address, char **error_r);
int route_relay_recipient_put(struct route *r, const char *address,
	char **error_r);
int route_relay_recipient_delete(struct route *r, const char *address,
	char **error_r);
/* Direct reads by exact key: 1 found, 0 not, -1 temporary failure. */
int route_mailbox_get(struct route *r, const char *address,
	struct route_mailbox **mailbox_r, char **error_r);
int route_alias_get(struct route *r, const char *address,
	struct route_alias **alias_r, char **error_r);
/*
 * Lists (sorted): every domain, or the mailboxes/aliases/relay recipients
 * of one domain.  0 ok (*names_r NULL-terminated, free with
 * route_names_free), -1 with *error_r.
 */
int route_list_domains(struct route *r, char ***names_r, char **error_r);
int route_list_mailboxes(struct route *r, const char *domain,
	char ***names_r, char **error_r);
int route_list_aliases(struct route *r, const char *domain,
	char ***names_r, char **error_r);
int route_list_relay_recipients(struct route *r, const char *domain,
	char ***names_r, char **error_r);

void route_domain_free(struct route_domain **dp);
void route_mailbox_free(struct route_mailbox **mp);
void route_alias_free(struct route_alias **ap);
void route_answer_free(struct route_answer **ap);
void route_expansion_free(struct route_expansion **ep);
void route_names_free(char ***namesp);
struct route_domain *route_domain_dup(const struct route_domain *d);
struct route_mailbox *route_mailbox_dup(const struct route_mailbox *m);

#endif

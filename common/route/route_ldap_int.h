/*
 * route_ldap_int: what the files of the LDAP backend share (route_ldap.c:
 * open, close, cached getters, auth bind; route_ldap_cache.c: the answer
 * cache; route_ldap_conn.c: configuration, pool, failover, search and
 * write; route_ldap_entry.c: filters, DNs, entry parsing;
 * route_ldap_write.c: provisioning writes and lists).
 * Nothing outside common/route/route_ldap*.c includes it.
 */
#ifndef ISPMAIL_ROUTE_LDAP_INT_H
#define ISPMAIL_ROUTE_LDAP_INT_H

#include <stdint.h>
#include <time.h>

#include <ldap.h>

#include "route_backend.h"

/*
 * A server that failed to connect or dropped us is skipped this long, so
 * a dead primary costs one connect timeout per interval, not per lookup.
 * When every server is marked dead they are all tried anyway.
 */
#define ROUTE_LDAP_DEAD_SECONDS 30
/* The longest attribute value we accept from the directory. */
#define ROUTE_LDAP_VALUE_MAX 4096
/* The longest filter or DN we build (values are <= 4096 escaped x3). */
#define ROUTE_LDAP_TEXT_MAX (16 * 1024)
/*
 * The most attributes of one entry route_ldap_entry_begin decodes at
 * once; a larger entry is read attribute by attribute.
 */
#define ROUTE_LDAP_ENTRY_ATTRS_MAX 48
/* ... and the most values of all its attributes together. */
#define ROUTE_LDAP_ENTRY_VALUES_MAX 256
/* The most entries whose classes route_ldap_classes_begin keeps. */
#define ROUTE_LDAP_CLASSES_MAX 32
/* The longest bind password file. */
#define ROUTE_LDAP_PASSWORD_MAX 1024
/*
 * A lookup by exact key matches one entry; more means the directory is
 * inconsistent.  Ask for a few so we can say so rather than pick one.
 */
#define ROUTE_LDAP_LOOKUP_SIZELIMIT 8

#define ROUTE_LDAP_OC_DOMAIN "ispmailDomain"
#define ROUTE_LDAP_OC_MAILBOX "ispmailMailbox"
#define ROUTE_LDAP_OC_ALIAS "ispmailAlias"
#define ROUTE_LDAP_OC_RELAY "ispmailRelayRecipient"

struct route_ldap_server {
	char *uri;
	int implicit_tls;		/* ldaps:// */
	time_t dead_until;		/* monotonic seconds */
};

struct route_ldap_conn {
	LDAP *ld;			/* NULL: slot free */
	size_t server;			/* index into servers */
	int busy;
};

enum route_ldap_cache_kind {
	ROUTE_LDAP_CACHE_DOMAIN = 'd',
	ROUTE_LDAP_CACHE_MAILBOX = 'm',
	/* A mailbox from a routing search: no userPassword (see below). */
	ROUTE_LDAP_CACHE_ROUTING = 'M',
	ROUTE_LDAP_CACHE_ALIAS = 'a',
	ROUTE_LDAP_CACHE_RELAY = 'r',
};

struct route_ldap_cache_entry {
	char *key;			/* kind letter, ':', lookup key */
	enum route_ldap_cache_kind kind;
	unsigned char found;
	unsigned char visited;		/* hit since the hand last passed */
	/* An alias answer that also says "no mailbox" (route_ldap_cache.c). */
	unsigned char not_mailbox;
	void *record;			/* a copy, or NULL (negative, relay) */
	time_t expires;
	struct route_ldap_cache_entry *hash_next;
	/* The queue in insertion order (route_ldap_cache.c). */
	struct route_ldap_cache_entry *older, *newer;
};

struct route_ldap {
	struct route_ldap_server *servers;
	size_t server_count;
	char *base_dn;
	char *bind_dn;			/* "" = anonymous */
	char *bind_password;
	/* ldap_address_attributes names mailLocalAddress. */
	int alternate_addresses;
	struct route_ldap_conn *pool;
	size_t pool_size;
	/* Provisioning writes, bound as ldap_provision_bind_dn. */
	struct route_ldap_conn writer;
	char *provision_password;	/* read at the first write */

	/*
	 * The routing search's filter (route_ldap_filter_any), kept from
	 * lookup to lookup: one lookup builds one at a time.
	 */
	struct buf *filter;

	struct route_ldap_cache_entry **buckets;
	size_t bucket_count;		/* power of two, 0 = no cache */
	size_t cache_count;
	struct route_ldap_cache_entry *oldest, *newest;
	/* The next eviction candidate (NULL: start at oldest). */
	struct route_ldap_cache_entry *hand;
	uint64_t cache_coins;		/* xorshift64 state, 0 = unseeded */
};

enum route_ldap_write_op {
	ROUTE_LDAP_ADD,
	ROUTE_LDAP_MODIFY,
	ROUTE_LDAP_DELETE,
};

/* route_ldap_conn.c */
/* When an operation starting now must end: ldap_search_timeout away. */
double
route_ldap_deadline(void);
time_t
route_ldap_now(void);
int
route_ldap_check_config(struct route_ldap *rl, char **error_r);
int
route_ldap_connect(struct route_ldap *rl, const char *dn,
	const char *password, double deadline, LDAP **ld_r, size_t *server_r,
	int *ldrc_r, char **error_r);
void
route_ldap_pool_put(struct route_ldap_conn *conn);
int
route_ldap_search(struct route_ldap *rl, const char *base, int scope,
	const char *filter, const char *const *attrs, int sizelimit,
	struct route_ldap_conn **conn_r, LDAPMessage **res_r, int *ldrc_r,
	char **error_r);
/*
 * The same, ending by deadline (from route_ldap_deadline()): a lookup
 * that searches twice keeps one deadline.
 */
int
route_ldap_search_until(struct route_ldap *rl, double deadline,
	const char *base, int scope, const char *filter,
	const char *const *attrs, int sizelimit,
	struct route_ldap_conn **conn_r, LDAPMessage **res_r, int *ldrc_r,
	char **error_r);
int
route_ldap_write(struct route_ldap *rl, enum route_ldap_write_op op,
	const char *dn, LDAPMod **mods, int *ldrc_r, char **text_r,
	char **error_r);

/* route_ldap_entry.c */
struct buf;
int
route_ldap_filter_term(struct buf *b, const char *attr, const char *value);
char *
route_ldap_filter(const char *oc, const char *attr, const char *alt_attr,
	const char *value);
char *
route_ldap_child_dn(const char *attr, const char *value, const char *parent);
void
route_ldap_lower(char *s);
void
route_ldap_lower_domain(char *address);
int
route_ldap_names_cmp(const void *a, const void *b);
void
route_ldap_strv_free(char **v, size_t count);
char **
route_ldap_strv_dup(char *const *v, size_t count);
struct route_alias *
route_ldap_alias_dup(const struct route_alias *a);
/*
 * Decode entry once for the readers below (route_ldap_value, the
 * parsers), until route_ldap_entry_end; the entry must outlive that.
 */
void
route_ldap_entry_begin(LDAP *ld, LDAPMessage *entry);
void
route_ldap_entry_end(void);
/*
 * Tell the classes of res's entries (ours: domain, mailbox, alias,
 * relay recipient) once for route_ldap_entry_has, until
 * route_ldap_classes_end, which must come before res is freed.
 */
void
route_ldap_classes_begin(LDAP *ld, LDAPMessage *res);
void
route_ldap_classes_end(void);
/* Whether entry is the one route_ldap_entry_begin decoded, not ended. */
int
route_ldap_entry_decoded(const LDAPMessage *entry);
/* Whether one of entry's attr values is key (case-blind). */
int
route_ldap_entry_has(LDAP *ld, LDAPMessage *entry, const char *attr,
	const char *key);
int
route_ldap_value(LDAP *ld, LDAPMessage *entry, const char *attr,
	char **value_r, char **error_r);
extern const char *const route_ldap_domain_kinds[];
extern const char *const route_ldap_states[];
extern const char *const route_ldap_filters[];
int
route_ldap_parse_domain(LDAP *ld, LDAPMessage *entry,
	struct route_domain **domain_r, char **error_r);
/*
 * Parse the attributes of fields (route.h enum route_field) and mail,
 * leaving the others empty (the search did not ask for them; a password
 * only with every field).  With ROUTE_FIELD_KEY_ADDRESS an entry without
 * mail (not asked for) parses, its address NULL; the caller fills it in.
 */
int
route_ldap_parse_mailbox(LDAP *ld, LDAPMessage *entry, unsigned fields,
	struct route_mailbox **mailbox_r, char **error_r);
int
route_ldap_parse_alias(LDAP *ld, LDAPMessage *entry, unsigned fields,
	struct route_alias **alias_r, char **error_r);

/* route_ldap.c */
extern const char *const route_ldap_no_attrs[];

/* route_ldap_cache.c: answers kept by (kind, key), ldap_cache_size at most. */
void
route_ldap_cache_flush(struct route_ldap *rl);
struct route_ldap_cache_entry *
route_ldap_cache_find(struct route_ldap *rl, enum route_ldap_cache_kind kind,
	const char *key);
long long
route_ldap_cache_ttl(const struct route_ldap *rl,
	enum route_ldap_cache_kind kind, int found);
void
route_ldap_cache_store(struct route_ldap *rl, enum route_ldap_cache_kind kind,
	const char *key, int found, void *record);
void
route_ldap_domain_found(struct route_ldap *rl, const char *name,
	struct route_domain *d, struct route_domain **domain_r);

/* route_ldap_write.c */
int
route_ldap_find_dn(struct route_ldap *rl, const char *filter, char **dn_r,
	char **error_r);
int
route_ldap_domain_put(void *backend, const struct route_domain *domain,
	int create_only, char **error_r);
int
route_ldap_mailbox_put(void *backend, const struct route_mailbox *mailbox,
	int create_only, char **error_r);
int
route_ldap_alias_put(void *backend, const struct route_alias *alias,
	int create_only, char **error_r);
int
route_ldap_relay_recipient_put(void *backend, const char *address,
	char **error_r);
int
route_ldap_domain_delete(void *backend, const char *name, char **error_r);
int
route_ldap_mailbox_delete(void *backend, const char *address,
	char **error_r);
int
route_ldap_alias_delete(void *backend, const char *address, char **error_r);
int
route_ldap_relay_recipient_delete(void *backend, const char *address,
	char **error_r);
int
route_ldap_list(void *backend, enum route_list_kind kind, const char *domain,
	char ***names_r, char **error_r);

#endif

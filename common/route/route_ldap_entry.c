/* route_ldap_entry: filters and DNs, and parsing entries into route records. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <ldap.h>

#include "buf.h"
#include "log.h"
#include "mail_params.h"
#include "params.h"
#include "route_backend.h"
#include "xalloc.h"

#include "route_ldap_int.h"

/* ---- filters, DNs, records ---------------------------------------------- */

/*
 * RFC 4515 section 3: a value in a filter escapes '*', '(', ')', '\' and
 * NUL as \XX.  We escape every control and non-ASCII byte too, which the
 * RFC allows, so no byte of a looked-up address can change the filter.
 */
static int
route_ldap_filter_escape(struct buf *b, const char *value)
{
	const unsigned char *p, *run;

	for (p = run = (const unsigned char *) value;; p++) {
		if (*p != '\0' && *p != '*' && *p != '(' && *p != ')'
		    && *p != '\\' && *p >= 0x20 && *p < 0x7f)
			continue;
		/* The plain bytes before p at once, then p escaped. */
		if (p > run && buf_append(b, run, (size_t) (p - run)) < 0)
			return -1;
		if (*p == '\0')
			return 0;
		if (buf_printf(b, "\\%02x", *p) < 0)
			return -1;
		run = p + 1;
	}
}

/*
 * RFC 4514 section 2.4: an attribute value in a DN escapes the specials
 * ",+\"\\<>;=", a leading space or '#', a trailing space and NUL; we use
 * the \XX form for all of them and for control bytes.
 */
static int
route_ldap_dn_escape(struct buf *b, const char *value)
{
	const unsigned char *p;
	size_t len = strlen(value), i;

	for (i = 0, p = (const unsigned char *) value; i < len; i++) {
		int special = strchr(",+\"\\<>;=", p[i]) != NULL || p[i] < 0x20
		    || p[i] == 0x7f || (i == 0 && (p[i] == ' ' || p[i] == '#'))
		    || (i == len - 1 && p[i] == ' ');

		if (special ? buf_printf(b, "\\%02x", p[i]) < 0
		    : buf_append_char(b, (char) p[i]) < 0)
			return -1;
	}
	return 0;
}

/*
 * Append "(ATTR=VALUE)" with VALUE escaped; -1 when too long.  Built by
 * appending, not formatting: it is on the path of every lookup.
 */
int
route_ldap_filter_term(struct buf *b, const char *attr, const char *value)
{
	if (buf_append_char(b, '(') < 0 || buf_append_str(b, attr) < 0
	    || buf_append_char(b, '=') < 0
	    || route_ldap_filter_escape(b, value) < 0)
		return -1;
	return buf_append_char(b, ')');
}

/*
 * Build "(&(objectClass=OC)(ATTR=VALUE))", or with alt_attr
 * "(&(objectClass=OC)(|(ATTR=VALUE)(ALT=VALUE)))"; NULL when too long.
 */
char *
route_ldap_filter(const char *oc, const char *attr, const char *alt_attr,
	const char *value)
{
	struct buf *b = buf_new(ROUTE_LDAP_TEXT_MAX);
	char *filter = NULL;
	int rc;

	rc = buf_printf(b, "(&(objectClass=%s)", oc);
	if (alt_attr != NULL && rc == 0)
		rc = buf_append_str(b, "(|");
	if (rc == 0)
		rc = buf_printf(b, "(%s=", attr);
	if (rc == 0)
		rc = route_ldap_filter_escape(b, value);
	if (rc == 0 && alt_attr != NULL) {
		rc = buf_printf(b, ")(%s=", alt_attr);
		if (rc == 0)
			rc = route_ldap_filter_escape(b, value);
		if (rc == 0)
			rc = buf_append_char(b, ')');
	}
	if (rc == 0)
		rc = buf_append_str(b, "))");
	if (rc == 0)
		filter = buf_strdup(b);
	buf_free(&b);
	return filter;
}

/* "ATTR=VALUE,PARENT" with VALUE escaped; NULL when too long. */
char *
route_ldap_child_dn(const char *attr, const char *value, const char *parent)
{
	struct buf *b = buf_new(ROUTE_LDAP_TEXT_MAX);
	char *dn = NULL;

	if (buf_printf(b, "%s=", attr) == 0
	    && route_ldap_dn_escape(b, value) == 0
	    && buf_printf(b, ",%s", parent) == 0)
		dn = buf_strdup(b);
	buf_free(&b);
	return dn;
}

void
route_ldap_lower(char *s)
{
	for (; *s != '\0'; s++)
		*s = (char) tolower((unsigned char) *s);
}

/* Lower-case the domain part of an address (domains are case-blind). */
void
route_ldap_lower_domain(char *address)
{
	char *at = strrchr(address, '@');

	if (at != NULL)
		route_ldap_lower(at + 1);
}

int
route_ldap_names_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

void
route_ldap_strv_free(char **v, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++)
		free(v[i]);
	free(v);
}

char **
route_ldap_strv_dup(char *const *v, size_t count)
{
	char **copy = xcalloc(count + 1, sizeof(*copy));
	size_t i;

	for (i = 0; i < count; i++)
		copy[i] = xstrdup(v[i]);
	return copy;
}

struct route_alias *
route_ldap_alias_dup(const struct route_alias *a)
{
	struct route_alias *copy = xcalloc(1, sizeof(*copy));

	copy->address = xstrdup(a->address);
	copy->targets = route_ldap_strv_dup(a->targets, a->target_count);
	copy->target_count = a->target_count;
	return copy;
}

/* ---- reading entries ---------------------------------------------------- */

/*
 * The entry being parsed, decoded once.  ldap_get_values_len finds one
 * attribute by decoding the entry from its start, copying every name it
 * passes, so a record read attribute by attribute (a mailbox has 16)
 * decoded its entry as often; route_ldap_entry_begin decodes it once
 * into names and values that point into the message (nothing is
 * copied or allocated), and the readers below look attributes up there
 * until route_ldap_entry_end.  Each attribute's values are a run of
 * pool ended by a NULL value, as a BerVarray is.  One entry at a time
 * per thread: a thread parses entries one after the other, and threads
 * with their own route handles (imapd's lookup threads) each have their
 * own memo.
 */
/* LDAPMessage controls [0] (RFC 4511 4.1.1), after the entry. */
#define ROUTE_LDAP_TAG_CONTROLS ((ber_tag_t) 0xa0U)

static _Thread_local struct route_ldap_entry_memo {
	LDAPMessage *entry;		/* NULL: none, use libldap */
	size_t count;
	struct berval names[ROUTE_LDAP_ENTRY_ATTRS_MAX];
	struct berval *values[ROUTE_LDAP_ENTRY_ATTRS_MAX];
	size_t used;			/* of pool */
	struct berval pool[ROUTE_LDAP_ENTRY_VALUES_MAX];
} route_ldap_memo;

void
route_ldap_entry_end(void)
{
	route_ldap_memo.count = 0;
	route_ldap_memo.used = 0;
	route_ldap_memo.entry = NULL;
}

/*
 * The values of the attribute at ber (after its name) into the pool, a
 * NULL value after them.  -1 when damaged or past the pool's cap.
 */
static int
route_ldap_memo_decode_values(struct route_ldap_entry_memo *m,
	BerElement *ber)
{
	ber_len_t len;
	ber_tag_t tag;
	char *last;

	/*
	 * An entry's attribute has values (no typesOnly); an empty or
	 * unreadable set is left to libldap's readers.
	 */
	if ((tag = ber_first_element(ber, &len, &last)) == LBER_DEFAULT)
		return -1;
	for (; tag != LBER_DEFAULT; tag = ber_next_element(ber, &len, last)) {
		/* One slot stays for the NULL that ends the run. */
		if (m->used + 1 >= ROUTE_LDAP_ENTRY_VALUES_MAX
		    || ber_get_stringbv(ber, &m->pool[m->used],
		    LBER_BV_NOTERM) == LBER_DEFAULT)
			return -1;
		m->used++;
	}
	if (m->used >= ROUTE_LDAP_ENTRY_VALUES_MAX)
		return -1;
	m->pool[m->used].bv_val = NULL;
	m->pool[m->used++].bv_len = 0;
	return 0;
}

void
route_ldap_entry_begin(LDAP *ld, LDAPMessage *entry)
{
	struct route_ldap_entry_memo *m = &route_ldap_memo;
	BerElement *ber = NULL;
	struct berval dn, name;
	ber_len_t len;
	ber_tag_t tag;
	int ok = 1;

	route_ldap_entry_end();
	if (ldap_get_dn_ber(ld, entry, &ber, &dn) != LDAP_SUCCESS)
		return;
	/*
	 * Each attribute: SEQUENCE { type, SET OF value }; what follows
	 * the last one (the end, or the message's controls) is not one.
	 */
	while (ok && ber_peek_tag(ber, &len) == LBER_SEQUENCE) {
		if (m->count == ROUTE_LDAP_ENTRY_ATTRS_MAX
		    || ber_skip_tag(ber, &len) == LBER_DEFAULT
		    || ber_get_stringbv(ber, &name, LBER_BV_NOTERM)
		    == LBER_DEFAULT) {
			ok = 0;
			break;
		}
		m->names[m->count] = name;
		m->values[m->count] = &m->pool[m->used];
		ok = route_ldap_memo_decode_values(m, ber) == 0;
		m->count++;
	}
	/* Anything but the end or the controls: not what we decoded. */
	tag = ber_peek_tag(ber, &len);
	if (tag != LBER_DEFAULT && tag != ROUTE_LDAP_TAG_CONTROLS)
		ok = 0;
	ber_free(ber, 0);
	/* Damaged or unusually large: libldap's readers say what is wrong. */
	if (!ok) {
		route_ldap_entry_end();
		return;
	}
	m->entry = entry;
}

/* The memo's values of attr (a BerVarray, NULL when none). */
static const struct berval *
route_ldap_memo_values(const char *attr)
{
	const struct route_ldap_entry_memo *m = &route_ldap_memo;
	size_t len = strlen(attr), i;

	for (i = 0; i < m->count; i++)
		if (m->names[i].bv_len == len
		    && strncasecmp(m->names[i].bv_val, attr, len) == 0)
			return m->values[i];
	return NULL;
}

/*
 * The classes of a result's entries, when it has several (the domain's
 * entry and the address's, from one search): route_ldap_choose asks for
 * each entry's objectClass once per class it looks for, and
 * ldap_get_values_len decodes the entry from its start every time.
 * route_ldap_classes_begin decodes each entry's objectClass once into a
 * bit per class of ours, until route_ldap_classes_end.
 */
static const char *const route_ldap_our_classes[] = {
	ROUTE_LDAP_OC_DOMAIN, ROUTE_LDAP_OC_MAILBOX, ROUTE_LDAP_OC_ALIAS,
	ROUTE_LDAP_OC_RELAY,
};
#define ROUTE_LDAP_OUR_CLASSES \
	(sizeof(route_ldap_our_classes) / sizeof(route_ldap_our_classes[0]))

static _Thread_local struct route_ldap_class_memo {
	size_t count;			/* 0: none, ask libldap */
	const LDAPMessage *entries[ROUTE_LDAP_CLASSES_MAX];
	unsigned classes[ROUTE_LDAP_CLASSES_MAX];
} route_ldap_class_memo;

/* The index of oc among our classes, or -1. */
static int
route_ldap_our_class(const char *oc, size_t len)
{
	size_t i;

	for (i = 0; i < ROUTE_LDAP_OUR_CLASSES; i++)
		if (strlen(route_ldap_our_classes[i]) == len
		    && strncasecmp(route_ldap_our_classes[i], oc, len) == 0)
			return (int) i;
	return -1;
}

void
route_ldap_classes_end(void)
{
	route_ldap_class_memo.count = 0;
}

void
route_ldap_classes_begin(LDAP *ld, LDAPMessage *res)
{
	struct route_ldap_class_memo *m = &route_ldap_class_memo;
	struct berval **vals;
	LDAPMessage *entry;
	size_t i;
	int oc;

	route_ldap_classes_end();
	for (entry = ldap_first_entry(ld, res); entry != NULL;
	    entry = ldap_next_entry(ld, entry)) {
		/* More than a lookup asks for: each question to libldap. */
		if (m->count == ROUTE_LDAP_CLASSES_MAX) {
			route_ldap_classes_end();
			return;
		}
		vals = ldap_get_values_len(ld, entry, "objectClass");
		m->entries[m->count] = entry;
		m->classes[m->count] = 0;
		for (i = 0; vals != NULL && vals[i] != NULL; i++)
			if ((oc = route_ldap_our_class(vals[i]->bv_val,
			    vals[i]->bv_len)) >= 0)
				m->classes[m->count] |= 1U << oc;
		if (vals != NULL)
			ldap_value_free_len(vals);
		m->count++;
	}
}

/*
 * Whether entry is of class oc by route_ldap_classes_begin: 1, 0, or -1
 * when that does not know.
 */
static int
route_ldap_classes_has(const LDAPMessage *entry, const char *oc)
{
	const struct route_ldap_class_memo *m = &route_ldap_class_memo;
	int bit = m->count > 0 ? route_ldap_our_class(oc, strlen(oc)) : -1;
	size_t i;

	for (i = 0; bit >= 0 && i < m->count; i++)
		if (m->entries[i] == entry)
			return (m->classes[i] >> bit) & 1U;
	return -1;
}

/*
 * The attributes conf/ispmail.schema allows only in an ispmailMailbox
 * (mailHost, ispmailArchive and ispmailDmarcPolicy a domain has too,
 * mailLocalAddress inetLocalMailRecipient); ROUTE_LDAP_ALIAS_ONLY_ATTR
 * is the one only in an ispmailAlias, which every alias has (MUST).
 */
const char *const route_ldap_mailbox_only_attrs[] = {
	"ispmailState", "ispmailStorePath", "ispmailQuota",
	"ispmailFilterPolicy", "ispmailTagScore", "ispmailQuarantineScore",
	"ispmailDiscardScore", "ispmailOutboundClass", "ispmailForward",
	"ispmailForwardKeepCopy", NULL
};

/*
 * Whether entry has one of the mailbox's own attributes (*mailbox_r) and
 * the alias's (*alias_r), by the names of its attributes: for an entry
 * the memo could not take (more values than it holds, a large alias).
 */
static void
route_ldap_kind_names(LDAP *ld, LDAPMessage *entry, int *mailbox_r,
	int *alias_r)
{
	BerElement *ber = NULL;
	char *name;
	size_t i;

	for (name = ldap_first_attribute(ld, entry, &ber); name != NULL;
	    name = ldap_next_attribute(ld, entry, ber)) {
		for (i = 0; route_ldap_mailbox_only_attrs[i] != NULL; i++)
			*mailbox_r |= strcasecmp(name,
			    route_ldap_mailbox_only_attrs[i]) == 0;
		*alias_r |= strcasecmp(name, ROUTE_LDAP_ALIAS_ONLY_ATTR) == 0;
		ldap_memfree(name);
	}
	if (ber != NULL)
		ber_free(ber, 0);
}

/* See route_ldap_int.h. */
int
route_ldap_classes_infer(LDAP *ld, LDAPMessage *entry)
{
	struct route_ldap_class_memo *m = &route_ldap_class_memo;
	int mailbox = 0, alias = 0;
	const char *oc;
	size_t i;

	route_ldap_classes_end();
	if (entry == NULL)
		return 0;
	if (entry != route_ldap_memo.entry) {
		route_ldap_kind_names(ld, entry, &mailbox, &alias);
	} else {
		for (i = 0; !mailbox && route_ldap_mailbox_only_attrs[i]
		    != NULL; i++)
			mailbox = route_ldap_memo_values(
			    route_ldap_mailbox_only_attrs[i]) != NULL;
		alias = route_ldap_memo_values(ROUTE_LDAP_ALIAS_ONLY_ATTR)
		    != NULL;
	}
	if (mailbox == alias)
		return 0;
	oc = mailbox ? ROUTE_LDAP_OC_MAILBOX : ROUTE_LDAP_OC_ALIAS;
	m->entries[0] = entry;
	m->classes[0] = 1U << route_ldap_our_class(oc, strlen(oc));
	m->count = 1;
	return 1;
}

/*
 * Whether one of entry's attr values is key (case-blind): from the memo
 * when entry is the one decoded, or its class from the class memo, else
 * from libldap.
 */
int
route_ldap_entry_has(LDAP *ld, LDAPMessage *entry, const char *attr,
	const char *key)
{
	const struct berval *memo;
	struct berval **vals;
	size_t len = strlen(key), i;
	int match = 0;

	if (strcasecmp(attr, "objectClass") == 0
	    && (match = route_ldap_classes_has(entry, key)) >= 0)
		return match;
	match = 0;
	if (entry == route_ldap_memo.entry) {
		memo = route_ldap_memo_values(attr);
		for (i = 0; memo != NULL && memo[i].bv_val != NULL; i++)
			if (memo[i].bv_len == len && strncasecmp(
			    memo[i].bv_val, key, len) == 0)
				return 1;
		return 0;
	}
	vals = ldap_get_values_len(ld, entry, attr);
	for (i = 0; vals != NULL && vals[i] != NULL; i++)
		if (vals[i]->bv_len == len
		    && strncasecmp(vals[i]->bv_val, key, len) == 0)
			match = 1;
	if (vals != NULL)
		ldap_value_free_len(vals);
	return match;
}

/* See route_ldap_int.h. */
int
route_ldap_entry_decoded(const LDAPMessage *entry)
{
	return entry != NULL && entry == route_ldap_memo.entry;
}

/* Is v a value we take?  -1 with *error_r when too long or with a NUL. */
static int
route_ldap_value_ok(LDAP *ld, LDAPMessage *entry, const char *attr,
	const struct berval *v, char **error_r)
{
	char *dn;

	if (v->bv_len <= ROUTE_LDAP_VALUE_MAX
	    && memchr(v->bv_val, '\0', v->bv_len) == NULL)
		return 0;
	dn = ldap_get_dn(ld, entry);
	*error_r = xasprintf("directory entry %s: attribute %s: value too "
	    "long or contains NUL", dn != NULL ? dn : "?", attr);
	if (dn != NULL)
		ldap_memfree(dn);
	return -1;
}

/*
 * All values of attr as strings.  0 ok (*values_r NULL-terminated,
 * possibly empty); -1 when a value is too long or holds a NUL byte: the
 * directory holds something we must not guess about.
 */
static int
route_ldap_values(LDAP *ld, LDAPMessage *entry, const char *attr,
	char ***values_r, size_t *count_r, char **error_r)
{
	const struct berval *memo = NULL, *v;
	struct berval **vals = NULL;
	size_t n = 0, i;
	char **out;

	if (entry == route_ldap_memo.entry) {
		memo = route_ldap_memo_values(attr);
		while (memo != NULL && memo[n].bv_val != NULL)
			n++;
	} else if ((vals = ldap_get_values_len(ld, entry, attr)) != NULL) {
		n = (size_t) ldap_count_values_len(vals);
	}
	out = xcalloc(n + 1, sizeof(*out));
	for (i = 0; i < n; i++) {
		v = memo != NULL ? &memo[i] : vals[i];
		if (route_ldap_value_ok(ld, entry, attr, v, error_r) < 0) {
			route_ldap_strv_free(out, i);
			if (vals != NULL)
				ldap_value_free_len(vals);
			return -1;
		}
		out[i] = xmemdup(v->bv_val, v->bv_len);
	}
	if (vals != NULL)
		ldap_value_free_len(vals);
	*values_r = out;
	*count_r = n;
	return 0;
}

/* The first value of attr: 1 with *value_r, 0 absent, -1 bad value. */
int
route_ldap_value(LDAP *ld, LDAPMessage *entry, const char *attr,
	char **value_r, char **error_r)
{
	const struct berval *memo;
	char **values;
	size_t count, i;

	*value_r = NULL;
	if (entry == route_ldap_memo.entry) {
		/* Checked alike, but without copying every value. */
		memo = route_ldap_memo_values(attr);
		for (i = 0; memo != NULL && memo[i].bv_val != NULL; i++)
			if (route_ldap_value_ok(ld, entry, attr, &memo[i],
			    error_r) < 0)
				return -1;
		if (i == 0)
			return 0;
		*value_r = xmemdup(memo[0].bv_val, memo[0].bv_len);
		return 1;
	}
	if (route_ldap_values(ld, entry, attr, &values, &count, error_r) < 0)
		return -1;
	if (count > 0) {
		*value_r = values[0];
		for (i = 1; i < count; i++)
			free(values[i]);
	}
	free(values);
	return count > 0;
}

static char *
route_ldap_entry_error(LDAP *ld, LDAPMessage *entry, const char *attr,
	const char *value)
{
	char *dn = ldap_get_dn(ld, entry), *text;

	text = xasprintf("directory entry %s: bad %s: \"%s\"",
	    dn != NULL ? dn : "?", attr, value);
	if (dn != NULL)
		ldap_memfree(dn);
	return text;
}

/* One of names[] (case-blind) by index; -1 unknown.  Absent: dflt. */
static int
route_ldap_enum(LDAP *ld, LDAPMessage *entry, const char *attr,
	const char *const *names, int count, int dflt, int *value_r,
	char **error_r)
{
	char *text;
	int i, rc;

	if ((rc = route_ldap_value(ld, entry, attr, &text, error_r)) <= 0) {
		*value_r = dflt;
		return rc;
	}
	for (i = 0; i < count; i++) {
		if (strcasecmp(text, names[i]) == 0) {
			*value_r = i;
			free(text);
			return 0;
		}
	}
	*error_r = route_ldap_entry_error(ld, entry, attr, text);
	free(text);
	return -1;
}

static int
route_ldap_bool(LDAP *ld, LDAPMessage *entry, const char *attr,
	int *value_r, char **error_r)
{
	static const char *const names[] = { "FALSE", "TRUE" };

	return route_ldap_enum(ld, entry, attr, names, 2, 0, value_r, error_r);
}

static int
route_ldap_double(LDAP *ld, LDAPMessage *entry, const char *attr,
	double *value_r, char **error_r)
{
	char *text, *end;
	int rc;

	*value_r = 0;
	if ((rc = route_ldap_value(ld, entry, attr, &text, error_r)) <= 0)
		return rc;
	errno = 0;
	*value_r = strtod(text, &end);
	if (errno != 0 || end == text || *end != '\0') {
		*error_r = route_ldap_entry_error(ld, entry, attr, text);
		free(text);
		return -1;
	}
	free(text);
	return 0;
}

static int
route_ldap_quota(LDAP *ld, LDAPMessage *entry, long long *value_r,
	char **error_r)
{
	char *text, *end;
	int rc;

	*value_r = 0;
	if ((rc = route_ldap_value(ld, entry, "ispmailQuota", &text,
	    error_r)) <= 0)
		return rc;
	errno = 0;
	*value_r = strtoll(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || *value_r < 0) {
		*error_r = route_ldap_entry_error(ld, entry, "ispmailQuota",
		    text);
		free(text);
		return -1;
	}
	free(text);
	return 0;
}

const char *const route_ldap_domain_kinds[] = {
	"", "local", "relay", "alias"
};
const char *const route_ldap_states[] = {
	"active", "suspended", "disabled", "moving"
};
const char *const route_ldap_filters[] = {
	"off", "standard", "aggressive"
};

int
route_ldap_parse_domain(LDAP *ld, LDAPMessage *entry,
	struct route_domain **domain_r, char **error_r)
{
	struct route_domain *d = xcalloc(1, sizeof(*d));
	int kind = 0, dmarc = 0;

	if (route_ldap_value(ld, entry, "ispmailDomainName", &d->name,
	    error_r) <= 0
	    || route_ldap_enum(ld, entry, "ispmailDomainKind",
	    route_ldap_domain_kinds, 4, 0, &kind, error_r) < 0
	    || route_ldap_value(ld, entry, "ispmailDomainTarget",
	    &d->alias_target, error_r) < 0
	    || route_ldap_value(ld, entry, "ispmailRelayHost", &d->relay_host,
	    error_r) < 0
	    || route_ldap_value(ld, entry, "ispmailCatchAll", &d->catchall,
	    error_r) < 0
	    || route_ldap_value(ld, entry, "mailHost", &d->mail_host,
	    error_r) < 0
	    || route_ldap_bool(ld, entry, "ispmailArchive", &d->archive,
	    error_r) < 0
	    || route_ldap_enum(ld, entry, "ispmailDmarcPolicy",
	    route_dmarc_names, ROUTE_DMARC_POLICIES, ROUTE_DMARC_DEFAULT,
	    &dmarc, error_r) < 0
	    /* Checked where used: a bad key fails signing, not routing. */
	    || route_ldap_values(ld, entry, "ispmailDkimSelector",
	    &d->dkim_selectors, &d->dkim_selector_count, error_r) < 0)
		goto bad;
	if (kind == 0) {
		*error_r = route_ldap_entry_error(ld, entry,
		    "ispmailDomainKind", "");
		goto bad;
	}
	d->kind = (enum route_domain_kind) kind;
	d->dmarc = (enum route_dmarc_policy) dmarc;
	route_ldap_lower(d->name);
	if (d->alias_target != NULL)
		route_ldap_lower(d->alias_target);
	*domain_r = d;
	return 0;
bad:
	if (*error_r == NULL)
		*error_r = route_ldap_entry_error(ld, entry,
		    "ispmailDomainName", "");
	route_domain_free(&d);
	return -1;
}

/*
 * Whether fields asks for field: an attribute the search did not ask for
 * is not looked up (a mailbox has 16; the RCPT check asks for 3).
 */
#define ROUTE_LDAP_WANTS(fields, field) (((fields) & (field)) != 0)

int
route_ldap_parse_mailbox(LDAP *ld, LDAPMessage *entry, unsigned fields,
	struct route_mailbox **mailbox_r, char **error_r)
{
	struct route_mailbox *m = xcalloc(1, sizeof(*m));
	int need_mail = !ROUTE_LDAP_WANTS(fields, ROUTE_FIELD_KEY_ADDRESS);
	int all = (fields & ROUTE_FIELDS_ALL) == ROUTE_FIELDS_ALL;
	int state = ROUTE_STATE_ACTIVE, filter = ROUTE_FILTER_OFF;
	int dmarc = ROUTE_DMARC_DEFAULT;
	size_t i;

	if (route_ldap_value(ld, entry, "mail", &m->address, error_r)
	    < need_mail
	    || (ROUTE_LDAP_WANTS(fields, ROUTE_FIELD_ALT)
	    && route_ldap_values(ld, entry, "mailLocalAddress",
	    &m->alt_addresses, &m->alt_count, error_r) < 0)
	    || (ROUTE_LDAP_WANTS(fields, ROUTE_FIELD_HOST)
	    && route_ldap_value(ld, entry, "mailHost", &m->mail_host,
	    error_r) < 0)
	    || (ROUTE_LDAP_WANTS(fields, ROUTE_FIELD_STORE)
	    && (route_ldap_value(ld, entry, "ispmailStorePath",
	    &m->store_path, error_r) < 0
	    || route_ldap_quota(ld, entry, &m->quota, error_r) < 0))
	    || (ROUTE_LDAP_WANTS(fields, ROUTE_FIELD_STATE)
	    && route_ldap_enum(ld, entry, "ispmailState", route_ldap_states, 4,
	    ROUTE_STATE_ACTIVE, &state, error_r) < 0)
	    || (all && route_ldap_value(ld, entry, "userPassword",
	    &m->password_hash, error_r) < 0)
	    || (ROUTE_LDAP_WANTS(fields, ROUTE_FIELD_FILTER)
	    && (route_ldap_enum(ld, entry, "ispmailFilterPolicy",
	    route_ldap_filters, 3, ROUTE_FILTER_OFF, &filter, error_r) < 0
	    || route_ldap_double(ld, entry, "ispmailTagScore", &m->tag_score,
	    error_r) < 0
	    || route_ldap_double(ld, entry, "ispmailQuarantineScore",
	    &m->quarantine_score, error_r) < 0
	    || route_ldap_double(ld, entry, "ispmailDiscardScore",
	    &m->discard_score, error_r) < 0))
	    || (ROUTE_LDAP_WANTS(fields, ROUTE_FIELD_ARCHIVE)
	    && route_ldap_bool(ld, entry, "ispmailArchive", &m->archive,
	    error_r) < 0)
	    || (ROUTE_LDAP_WANTS(fields, ROUTE_FIELD_CLASS)
	    && route_ldap_value(ld, entry, "ispmailOutboundClass",
	    &m->outbound_class, error_r) < 0)
	    || (ROUTE_LDAP_WANTS(fields, ROUTE_FIELD_FORWARDS)
	    && (route_ldap_values(ld, entry, "ispmailForward", &m->forwards,
	    &m->forward_count, error_r) < 0
	    || route_ldap_bool(ld, entry, "ispmailForwardKeepCopy",
	    &m->forward_keep_copy, error_r) < 0))
	    || (ROUTE_LDAP_WANTS(fields, ROUTE_FIELD_DMARC)
	    && route_ldap_enum(ld, entry, "ispmailDmarcPolicy",
	    route_dmarc_names, ROUTE_DMARC_POLICIES, ROUTE_DMARC_DEFAULT,
	    &dmarc, error_r) < 0)) {
		if (*error_r == NULL)
			*error_r = route_ldap_entry_error(ld, entry, "mail", "");
		route_mailbox_free(&m);
		return -1;
	}
	m->state = (enum route_state) state;
	m->filter = (enum route_filter_policy) filter;
	m->dmarc = (enum route_dmarc_policy) dmarc;
	if (m->address != NULL)
		route_ldap_lower_domain(m->address);
	for (i = 0; i < m->alt_count; i++)
		route_ldap_lower_domain(m->alt_addresses[i]);
	/*
	 * userPassword holds "{CRYPT}hash"; route_auth.c wants the crypt(3)
	 * hash.
	 */
	if (m->password_hash != NULL
	    && strncasecmp(m->password_hash, "{CRYPT}", 7) == 0)
		memmove(m->password_hash, m->password_hash + 7,
		    strlen(m->password_hash + 7) + 1);
	*mailbox_r = m;
	return 0;
}

int
route_ldap_parse_alias(LDAP *ld, LDAPMessage *entry, unsigned fields,
	struct route_alias **alias_r, char **error_r)
{
	struct route_alias *a = xcalloc(1, sizeof(*a));
	int need_mail = !ROUTE_LDAP_WANTS(fields, ROUTE_FIELD_KEY_ADDRESS);

	if (route_ldap_value(ld, entry, "mail", &a->address, error_r)
	    < need_mail
	    || (ROUTE_LDAP_WANTS(fields, ROUTE_FIELD_TARGETS)
	    && route_ldap_values(ld, entry, "ispmailAliasTarget",
	    &a->targets, &a->target_count, error_r) < 0)) {
		if (*error_r == NULL)
			*error_r = route_ldap_entry_error(ld, entry, "mail", "");
		route_alias_free(&a);
		return -1;
	}
	if (a->address != NULL)
		route_ldap_lower_domain(a->address);
	*alias_r = a;
	return 0;
}

/* ctl_provision: ispmailctl domain|mailbox|alias|forward|relay|auth. */
#include "config.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "ctl.h"
#include "mail_host.h"
#include "mail_params.h"
#include "params.h"
#include "route.h"
#include "store.h"
#include "xalloc.h"

/* The longest password line read from standard input. */
#define CTL_PASSWORD_MAX 1024

struct route *
ctl_route_open(void)
{
	struct route *r;
	char *error = NULL;

	r = route_open(&error);
	if (r == NULL) {
		ctl_eprintf("ispmailctl: routing directory: %s\n", error);
		free(error);
	}
	return r;
}

int
ctl_fail(const char *what, char *error)
{
	int rc = route_error_temporary(error) ? CTL_EXIT_TEMPFAIL : 1;

	ctl_eprintf("ispmailctl: %s: %s\n", what,
	    error != NULL ? error : "failed");
	free(error);
	return rc;
}

static int
ctl_usage(const char *text)
{
	ctl_eprintf("usage: ispmailctl %s\n", text);
	return 2;
}

/* Split "key=value"; NULL when the argument has no '='. */
static const char *
ctl_kv(const char *arg, struct buf *key)
{
	const char *eq = strchr(arg, '=');

	if (eq == NULL || eq == arg)
		return NULL;
	buf_reset(key);
	if (buf_append(key, arg, (size_t) (eq - arg)) < 0)
		return NULL;
	return eq + 1;
}

/* A comma/space list into a new string array with its count. */
static void
ctl_set_list(char ***list_r, size_t *count_r, const char *value)
{
	char **old = *list_r;
	int count = 0;

	*list_r = params_list_split(value, &count);
	*count_r = (size_t) count;
	if (old != NULL)
		route_names_free(&old);
}

static int
ctl_read_password(char **password_r)
{
	struct buf *line = buf_new(CTL_PASSWORD_MAX + 2);
	int c, rc = 0;

	while ((c = getchar()) != EOF && c != '\n') {
		if (buf_append_char(line, (char) c) < 0) {
			ctl_eprintf("ispmailctl: password longer than %d "
			    "bytes\n", CTL_PASSWORD_MAX);
			rc = -1;
			break;
		}
	}
	buf_rtrim(line, "\r");
	if (rc == 0 && buf_len(line) == 0) {
		ctl_eprintf("ispmailctl: empty password on standard "
		    "input\n");
		rc = -1;
	}
	if (rc == 0)
		*password_r = buf_strdup(line);
	buf_free(&line);
	return rc;
}

static void
ctl_replace(char **field, const char *value)
{
	free(*field);
	*field = value[0] != '\0' ? xstrdup(value) : NULL;
}

/* A dmarc= value (a domain's or a mailbox's); -1 after a message. */
static int
ctl_dmarc_policy(const char *value, enum route_dmarc_policy *policy_r)
{
	int i;

	for (i = 0; i < ROUTE_DMARC_POLICIES; i++)
		if (strcasecmp(route_dmarc_names[i], value) == 0) {
			*policy_r = (enum route_dmarc_policy) i;
			return 0;
		}
	ctl_eprintf("ispmailctl: dmarc must be default, honour or junk\n");
	return -1;
}

/* ---- domains ---------------------------------------------------------- */

static const char *
ctl_domain_kind_name(enum route_domain_kind kind)
{
	switch (kind) {
	case ROUTE_DOMAIN_LOCAL: return "local";
	case ROUTE_DOMAIN_RELAY: return "relay";
	case ROUTE_DOMAIN_ALIAS: return "alias";
	}
	return "?";
}

static int
ctl_domain_kind(const char *name, enum route_domain_kind *kind_r)
{
	if (strcasecmp(name, "local") == 0)
		*kind_r = ROUTE_DOMAIN_LOCAL;
	else if (strcasecmp(name, "relay") == 0)
		*kind_r = ROUTE_DOMAIN_RELAY;
	else if (strcasecmp(name, "alias") == 0)
		*kind_r = ROUTE_DOMAIN_ALIAS;
	else
		return -1;
	return 0;
}

/* Apply key=value arguments to a domain; -1 after a message. */
static int
ctl_domain_apply(struct route_domain *d, int argc, char **argv)
{
	struct buf *key = buf_new(64);
	const char *value;
	int i, rc = 0;

	for (i = 0; i < argc && rc == 0; i++) {
		value = ctl_kv(argv[i], key);
		if (value == NULL) {
			ctl_eprintf("ispmailctl: expected key=value: %s\n",
			    argv[i]);
			rc = -1;
		} else if (strcmp(buf_cstr(key), "kind") == 0) {
			if (ctl_domain_kind(value, &d->kind) < 0) {
				ctl_eprintf("ispmailctl: kind must be "
				    "local, relay or alias: %s\n", value);
				rc = -1;
			}
		} else if (strcmp(buf_cstr(key), "target") == 0) {
			ctl_replace(&d->alias_target, value);
		} else if (strcmp(buf_cstr(key), "relayhost") == 0) {
			ctl_replace(&d->relay_host, value);
		} else if (strcmp(buf_cstr(key), "catchall") == 0) {
			ctl_replace(&d->catchall, value);
		} else if (strcmp(buf_cstr(key), "mailhost") == 0) {
			ctl_replace(&d->mail_host, value);
		} else if (strcmp(buf_cstr(key), "archive") == 0) {
			if (params_parse_bool(value, &d->archive) < 0) {
				ctl_eprintf("ispmailctl: archive must be yes "
				    "or no: %s\n", value);
				rc = -1;
			}
		} else if (strcmp(buf_cstr(key), "dmarc") == 0) {
			rc = ctl_dmarc_policy(value, &d->dmarc);
		} else {
			ctl_eprintf("ispmailctl: unknown domain setting "
			    "\"%s\" (kind, target, relayhost, catchall, "
			    "mailhost, archive, dmarc)\n", buf_cstr(key));
			rc = -1;
		}
	}
	if (rc == 0 && d->kind == ROUTE_DOMAIN_ALIAS
	    && d->alias_target == NULL) {
		ctl_eprintf("ispmailctl: an alias domain needs "
		    "target=DOMAIN\n");
		rc = -1;
	}
	buf_free(&key);
	return rc;
}

static void
ctl_domain_print(const struct route_domain *d)
{
	size_t i;

	ctl_printf("domain: %s\nkind: %s\n", d->name,
	    ctl_domain_kind_name(d->kind));
	if (d->alias_target != NULL)
		ctl_printf("target: %s\n", d->alias_target);
	if (d->relay_host != NULL)
		ctl_printf("relayhost: %s\n", d->relay_host);
	if (d->catchall != NULL)
		ctl_printf("catchall: %s\n", d->catchall);
	if (d->mail_host != NULL)
		ctl_printf("mailhost: %s\n", d->mail_host);
	if (d->archive)
		ctl_printf("archive: yes\n");
	if (d->dmarc != ROUTE_DMARC_DEFAULT)
		ctl_printf("dmarc: %s\n", route_dmarc_names[d->dmarc]);
	for (i = 0; i < d->dkim_selector_count; i++)
		ctl_printf("dkim: %s\n", d->dkim_selectors[i]);
}

static int
ctl_print_names(char **names)
{
	size_t i;

	for (i = 0; names[i] != NULL; i++)
		ctl_printf("%s\n", names[i]);
	route_names_free(&names);
	return 0;
}

/* Fetch a domain for show/set; exit status on failure, 0 when found. */
static int
ctl_domain_fetch(struct route *r, const char *name, struct route_domain **d_r)
{
	char *error = NULL;
	int found = route_domain_lookup(r, name, d_r, &error);

	if (found < 0) {
		ctl_eprintf("ispmailctl: temporary failure: %s\n",
		    error != NULL ? error : "directory unavailable");
		free(error);
		return CTL_EXIT_TEMPFAIL;
	}
	free(error);
	if (found == 0) {
		ctl_eprintf("ispmailctl: no such domain: %s\n", name);
		return 1;
	}
	return 0;
}

int
ctl_domain(int argc, char **argv)
{
	static const char usage[] = "domain add NAME [local|relay|alias] "
	    "[key=value...] | set NAME key=value... | del NAME | show NAME "
	    "| list";
	struct route *r;
	struct route_domain *d = NULL;
	char **names = NULL;
	char *error = NULL;
	const char *verb;
	int rc = 0, first = 3;

	if (argc < 2)
		return ctl_usage(usage);
	verb = argv[1];
	if (strcmp(verb, "list") != 0 && argc < 3)
		return ctl_usage(usage);
	if ((r = ctl_route_open()) == NULL)
		return 1;
	if (strcmp(verb, "add") == 0) {
		d = xcalloc(1, sizeof(*d));
		d->name = xstrdup(argv[2]);
		d->kind = ROUTE_DOMAIN_LOCAL;
		if (argc > 3 && strchr(argv[3], '=') == NULL) {
			if (ctl_domain_kind(argv[3], &d->kind) < 0) {
				rc = ctl_usage(usage);
				goto out;
			}
			first = 4;
		}
		if (ctl_domain_apply(d, argc - first, argv + first) < 0)
			rc = 2;
		else if (route_domain_put(r, d, 1, &error) < 0)
			rc = ctl_fail("domain add", error);
		else
			ctl_printf("domain %s added (%s)\n", argv[2],
			    ctl_domain_kind_name(d->kind));
	} else if (strcmp(verb, "set") == 0) {
		if ((rc = ctl_domain_fetch(r, argv[2], &d)) != 0)
			goto out;
		if (ctl_domain_apply(d, argc - 3, argv + 3) < 0)
			rc = 2;
		else if (route_domain_put(r, d, 0, &error) < 0)
			rc = ctl_fail("domain set", error);
	} else if (strcmp(verb, "del") == 0) {
		if (route_domain_delete(r, argv[2], &error) < 0)
			rc = ctl_fail("domain del", error);
		else
			ctl_printf("domain %s deleted\n", argv[2]);
	} else if (strcmp(verb, "show") == 0) {
		if ((rc = ctl_domain_fetch(r, argv[2], &d)) == 0)
			ctl_domain_print(d);
	} else if (strcmp(verb, "list") == 0) {
		if (route_list_domains(r, &names, &error) < 0)
			rc = ctl_fail("domain list", error);
		else
			rc = ctl_print_names(names);
	} else {
		rc = ctl_usage(usage);
	}
out:
	route_domain_free(&d);
	route_close(&r);
	return rc;
}

/* ---- mailboxes -------------------------------------------------------- */

static const char *const ctl_state_names[] = {
	"active", "suspended", "disabled", "moving"
};
static const char *const ctl_filter_names[] = {
	"off", "standard", "aggressive"
};

static int
ctl_enum(const char *const *names, int count, const char *value)
{
	int i;

	for (i = 0; i < count; i++)
		if (strcasecmp(names[i], value) == 0)
			return i;
	return -1;
}

static int
ctl_score(const char *value, double *score_r)
{
	char *end;

	errno = 0;
	*score_r = strtod(value, &end);
	return errno != 0 || end == value || *end != '\0' ? -1 : 0;
}

/* Apply key=value arguments to a mailbox; -1 after a message. */
static int
ctl_mailbox_apply(struct route_mailbox *m, int argc, char **argv)
{
	struct buf *key = buf_new(64);
	const char *value, *k;
	int i, n, rc = 0;

	for (i = 0; i < argc && rc == 0; i++) {
		if (argv[i][0] == '-' && argv[i][1] == '-')
			continue;	/* options are taken by the caller */
		value = ctl_kv(argv[i], key);
		k = buf_cstr(key);
		if (value == NULL) {
			ctl_eprintf("ispmailctl: expected key=value: %s\n",
			    argv[i]);
			rc = -1;
		} else if (strcmp(k, "hash") == 0) {
			ctl_replace(&m->password_hash, value);
		} else if (strcmp(k, "quota") == 0) {
			if (params_parse_size(value, &m->quota) < 0) {
				ctl_eprintf("ispmailctl: bad quota \"%s\" "
				    "(bytes, or a number with k, M, G)\n",
				    value);
				rc = -1;
			}
		} else if (strcmp(k, "host") == 0) {
			ctl_replace(&m->mail_host, value);
		} else if (strcmp(k, "path") == 0) {
			if (value[0] != '/') {
				ctl_eprintf("ispmailctl: path must be "
				    "absolute: %s\n", value);
				rc = -1;
			} else {
				ctl_replace(&m->store_path, value);
			}
		} else if (strcmp(k, "state") == 0) {
			n = ctl_enum(ctl_state_names, 4, value);
			if (n < 0) {
				ctl_eprintf("ispmailctl: state must be "
				    "active, suspended, disabled or moving\n");
				rc = -1;
			} else {
				m->state = (enum route_state) n;
			}
		} else if (strcmp(k, "filter") == 0) {
			n = ctl_enum(ctl_filter_names, 3, value);
			if (n < 0) {
				ctl_eprintf("ispmailctl: filter must be "
				    "off, standard or aggressive\n");
				rc = -1;
			} else {
				m->filter = (enum route_filter_policy) n;
			}
		} else if (strcmp(k, "tag") == 0 || strcmp(k, "quarantine") == 0
		    || strcmp(k, "discard") == 0) {
			double *score = k[0] == 't' ? &m->tag_score
			    : k[0] == 'q' ? &m->quarantine_score
			    : &m->discard_score;

			if (ctl_score(value, score) < 0) {
				ctl_eprintf("ispmailctl: bad score %s=%s\n",
				    k, value);
				rc = -1;
			}
		} else if (strcmp(k, "archive") == 0
		    || strcmp(k, "keepcopy") == 0) {
			int *flag = k[0] == 'a' ? &m->archive
			    : &m->forward_keep_copy;

			if (params_parse_bool(value, flag) < 0) {
				ctl_eprintf("ispmailctl: %s must be yes "
				    "or no\n", k);
				rc = -1;
			}
		} else if (strcmp(k, "class") == 0) {
			ctl_replace(&m->outbound_class, value);
		} else if (strcmp(k, "dmarc") == 0) {
			rc = ctl_dmarc_policy(value, &m->dmarc);
		} else if (strcmp(k, "alt") == 0) {
			ctl_set_list(&m->alt_addresses, &m->alt_count, value);
		} else if (strcmp(k, "forward") == 0) {
			ctl_set_list(&m->forwards, &m->forward_count, value);
		} else {
			ctl_eprintf("ispmailctl: unknown mailbox setting "
			    "\"%s\" (hash, quota, host, path, state, filter, "
			    "tag, quarantine, discard, archive, class, alt, "
			    "forward, keepcopy, dmarc)\n", k);
			rc = -1;
		}
	}
	buf_free(&key);
	return rc;
}

static int
ctl_has_option(int argc, char **argv, const char *option)
{
	int i;

	for (i = 0; i < argc; i++)
		if (strcmp(argv[i], option) == 0)
			return 1;
	return 0;
}

static int
ctl_check_options(int argc, char **argv, const char *const *allowed)
{
	int i, j, ok;

	for (i = 0; i < argc; i++) {
		if (argv[i][0] != '-')
			continue;
		for (ok = 0, j = 0; allowed[j] != NULL; j++)
			ok |= strcmp(argv[i], allowed[j]) == 0;
		if (!ok) {
			ctl_eprintf("ispmailctl: unknown option %s\n",
			    argv[i]);
			return -1;
		}
	}
	return 0;
}

static void
ctl_mailbox_print(const struct route_mailbox *m)
{
	size_t i;

	ctl_printf("mailbox: %s\n", m->address);
	for (i = 0; i < m->alt_count; i++)
		ctl_printf("alt: %s\n", m->alt_addresses[i]);
	ctl_printf("state: %s\n", ctl_state_names[m->state]);
	ctl_printf("host: %s\n", m->mail_host != NULL ? m->mail_host : "");
	ctl_printf("path: %s\n", m->store_path != NULL ? m->store_path : "");
	ctl_printf("quota: %lld\n", m->quota);
	ctl_printf("password: %s\n", m->password_hash != NULL ? "set" : "none");
	ctl_printf("filter: %s\n", ctl_filter_names[m->filter]);
	ctl_printf("tag: %g\nquarantine: %g\ndiscard: %g\n", m->tag_score,
	    m->quarantine_score, m->discard_score);
	ctl_printf("archive: %s\n", m->archive ? "yes" : "no");
	ctl_printf("class: %s\n", m->outbound_class != NULL
	    ? m->outbound_class : "default");
	ctl_printf("dmarc: %s\n", route_dmarc_names[m->dmarc]);
	for (i = 0; i < m->forward_count; i++)
		ctl_printf("forward: %s\n", m->forwards[i]);
	if (m->forward_count > 0)
		ctl_printf("keepcopy: %s\n",
		    m->forward_keep_copy ? "yes" : "no");
}

/* Is host (a mail host, maybe several) this store host? */
static int
ctl_host_is_local(const char *host)
{
	return host == NULL || mail_host_is_local(host);
}

static int
ctl_store_create(const struct route_mailbox *m)
{
	uid_t uid = (uid_t) -1;
	gid_t gid = (gid_t) -1;
	char *error = NULL;

	if (geteuid() == 0) {
		struct passwd *pw = getpwnam(var_store_owner);

		if (pw == NULL) {
			ctl_eprintf("ispmailctl: store_owner %s: no such "
			    "user\n", var_store_owner);
			return -1;
		}
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	}
	if (store_create(m->store_path, m->quota, uid, gid, &error) < 0) {
		ctl_eprintf("ispmailctl: mailbox store: %s\n", error);
		free(error);
		return -1;
	}
	return 0;
}

/* Fetch a mailbox by address; 0 found, else an exit status. */
static int
ctl_mailbox_fetch(struct route *r, const char *address,
	struct route_mailbox **m_r)
{
	char *error = NULL, *norm = NULL;
	int found;

	if (route_normalize(r, address, &norm, &error) < 0) {
		ctl_eprintf("ispmailctl: invalid address %s: %s\n",
		    address, error);
		free(error);
		return 1;
	}
	found = route_mailbox_get(r, norm, m_r, &error);
	free(norm);
	if (found < 0) {
		ctl_eprintf("ispmailctl: temporary failure: %s\n",
		    error != NULL ? error : "directory unavailable");
		free(error);
		return CTL_EXIT_TEMPFAIL;
	}
	free(error);
	if (found == 0) {
		ctl_eprintf("ispmailctl: no such mailbox: %s\n", address);
		return 1;
	}
	return 0;
}

/* Defaults for a new mailbox: host and path from its domain. */
static int
ctl_mailbox_defaults(struct route *r, struct route_mailbox *m)
{
	struct route_domain *d = NULL;
	const char *at = strrchr(m->address, '@');
	int rc;

	if (at == NULL) {
		ctl_eprintf("ispmailctl: invalid address %s\n",
		    m->address);
		return 1;
	}
	if ((rc = ctl_domain_fetch(r, at + 1, &d)) != 0)
		return rc;
	if (d->kind != ROUTE_DOMAIN_LOCAL) {
		ctl_eprintf("ispmailctl: %s is a %s domain: mailboxes "
		    "live in local domains\n", d->name,
		    ctl_domain_kind_name(d->kind));
		route_domain_free(&d);
		return 1;
	}
	/* A '/' or a leading '.' would put the store inside another's. */
	if (!store_name_ok(m->address, (size_t) (at - m->address))) {
		ctl_eprintf("ispmailctl: %s: a local part with '/', a "
		    "leading '.' or a control character cannot name a store "
		    "directory\n", m->address);
		route_domain_free(&d);
		return 1;
	}
	m->mail_host = xstrdup(d->mail_host != NULL ? d->mail_host
	    : "localhost");
	m->store_path = xasprintf("%s/%s/%.*s", var_store_root, d->name,
	    (int) (at - m->address), m->address);
	m->quota = var_default_quota;
	m->filter = ROUTE_FILTER_STANDARD;
	m->tag_score = 5.0;
	m->quarantine_score = 10.0;
	m->discard_score = 20.0;
	route_domain_free(&d);
	return 0;
}

int
ctl_mailbox(int argc, char **argv)
{
	static const char usage[] = "mailbox add ADDRESS [key=value...] "
	    "[--password-stdin] [--no-store] | set ADDRESS key=value... "
	    "[--password-stdin] | del ADDRESS [--remove-store] | show ADDRESS "
	    "| list DOMAIN | move ADDRESS --to HOST ...";
	static const char *const add_options[] = { "--password-stdin",
	    "--no-store", NULL };
	static const char *const del_options[] = { "--remove-store", NULL };
	struct route *r;
	struct route_mailbox *m = NULL;
	char **names = NULL;
	char *error = NULL, *password = NULL, *norm = NULL;
	const char *verb;
	int rc = 0, adding;

	if (argc >= 2 && strcmp(argv[1], "move") == 0)
		return ctl_mailbox_move(argc - 1, argv + 1);
	if (argc < 3)
		return ctl_usage(usage);
	verb = argv[1];
	adding = strcmp(verb, "add") == 0;
	if ((adding || strcmp(verb, "set") == 0)
	    && ctl_check_options(argc - 3, argv + 3, add_options) < 0)
		return 2;
	if (strcmp(verb, "del") == 0
	    && ctl_check_options(argc - 3, argv + 3, del_options) < 0)
		return 2;
	if ((adding || strcmp(verb, "set") == 0)
	    && ctl_has_option(argc, argv, "--password-stdin")
	    && ctl_read_password(&password) < 0)
		return 1;
	if ((r = ctl_route_open()) == NULL) {
		free(password);
		return 1;
	}
	if (adding) {
		if (route_normalize(r, argv[2], &norm, &error) < 0) {
			ctl_eprintf("ispmailctl: invalid address %s: %s\n",
			    argv[2], error);
			free(error);
			rc = 1;
			goto out;
		}
		m = xcalloc(1, sizeof(*m));
		m->address = norm;
		if ((rc = ctl_mailbox_defaults(r, m)) != 0)
			goto out;
	} else if (strcmp(verb, "set") == 0 || strcmp(verb, "show") == 0
	    || strcmp(verb, "del") == 0) {
		if ((rc = ctl_mailbox_fetch(r, argv[2], &m)) != 0)
			goto out;
	}
	if (adding || strcmp(verb, "set") == 0) {
		if (ctl_mailbox_apply(m, argc - 3, argv + 3) < 0) {
			rc = 2;
			goto out;
		}
		if (password != NULL) {
			free(m->password_hash);
			m->password_hash = route_hash_password(password, &error);
			if (m->password_hash == NULL) {
				rc = ctl_fail("password", error);
				goto out;
			}
		}
		if (m->store_path != NULL
		    && store_path_check(m->store_path, &error) < 0) {
			rc = ctl_fail(adding ? "mailbox add" : "mailbox set",
			    error);
			goto out;
		}
		if (route_mailbox_put(r, m, adding, &error) < 0) {
			rc = ctl_fail(adding ? "mailbox add" : "mailbox set",
			    error);
			goto out;
		}
		if (adding && !ctl_has_option(argc, argv, "--no-store")
		    && ctl_host_is_local(m->mail_host)
		    && ctl_store_create(m) < 0) {
			rc = 1;
			goto out;
		}
		if (adding)
			ctl_printf("mailbox %s added (store %s on %s)\n",
			    m->address, m->store_path, m->mail_host);
	} else if (strcmp(verb, "del") == 0) {
		if (route_mailbox_delete(r, m->address, &error) < 0) {
			rc = ctl_fail("mailbox del", error);
			goto out;
		}
		ctl_printf("mailbox %s deleted\n", m->address);
		if (ctl_has_option(argc, argv, "--remove-store")
		    && m->store_path != NULL) {
			if (!ctl_host_is_local(m->mail_host)) {
				ctl_eprintf("ispmailctl: store of %s is "
				    "on %s, not here: not removed\n",
				    m->address, m->mail_host);
				rc = 1;
			} else if (store_remove(m->store_path, var_store_root,
			    &error) < 0) {
				rc = ctl_fail("remove store", error);
			} else {
				ctl_printf("store %s removed\n", m->store_path);
			}
		}
	} else if (strcmp(verb, "show") == 0) {
		ctl_mailbox_print(m);
	} else if (strcmp(verb, "list") == 0) {
		if (route_list_mailboxes(r, argv[2], &names, &error) < 0)
			rc = ctl_fail("mailbox list", error);
		else
			rc = ctl_print_names(names);
	} else {
		rc = ctl_usage(usage);
	}
out:
	if (password != NULL) {
		explicit_bzero(password, strlen(password));
		free(password);
	}
	route_mailbox_free(&m);
	route_close(&r);
	return rc;
}

/* ---- aliases, forwards, relay recipients ------------------------------ */

int
ctl_alias(int argc, char **argv)
{
	static const char usage[] = "alias add|set ADDRESS TARGET[,TARGET...]"
	    "... | del ADDRESS | show ADDRESS | list DOMAIN";
	struct route *r;
	struct route_alias *a = NULL;
	struct buf *targets = NULL;
	char **names = NULL;
	char *error = NULL, *norm = NULL;
	const char *verb;
	int rc = 0, i, found;
	size_t n;

	if (argc < 3)
		return ctl_usage(usage);
	verb = argv[1];
	if ((r = ctl_route_open()) == NULL)
		return 1;
	if (strcmp(verb, "add") == 0 || strcmp(verb, "set") == 0) {
		if (argc < 4) {
			rc = ctl_usage(usage);
			goto out;
		}
		if (route_normalize(r, argv[2], &norm, &error) < 0) {
			ctl_eprintf("ispmailctl: invalid address %s: %s\n",
			    argv[2], error);
			free(error);
			rc = 1;
			goto out;
		}
		targets = buf_new(BUF_DEFAULT_CAP);
		for (i = 3; i < argc; i++)
			if (buf_printf(targets, "%s,", argv[i]) < 0) {
				ctl_eprintf("ispmailctl: too many "
				    "targets\n");
				rc = 2;
				goto out;
			}
		a = xcalloc(1, sizeof(*a));
		a->address = norm;
		ctl_set_list(&a->targets, &a->target_count, buf_cstr(targets));
		if (route_alias_put(r, a, strcmp(verb, "add") == 0, &error) < 0)
			rc = ctl_fail("alias", error);
		else
			ctl_printf("alias %s -> %zu target(s)\n", a->address,
			    a->target_count);
	} else if (strcmp(verb, "del") == 0) {
		if (route_alias_delete(r, argv[2], &error) < 0)
			rc = ctl_fail("alias del", error);
		else
			ctl_printf("alias %s deleted\n", argv[2]);
	} else if (strcmp(verb, "show") == 0) {
		if (route_normalize(r, argv[2], &norm, &error) < 0) {
			rc = ctl_fail("invalid address", error);
			goto out;
		}
		found = route_alias_get(r, norm, &a, &error);
		free(norm);
		if (found < 0) {
			rc = ctl_fail("temporary failure", error);
		} else if (found == 0) {
			free(error);
			ctl_eprintf("ispmailctl: no such alias: %s\n",
			    argv[2]);
			rc = 1;
		} else {
			ctl_printf("alias: %s\n", a->address);
			for (n = 0; n < a->target_count; n++)
				ctl_printf("target: %s\n", a->targets[n]);
		}
	} else if (strcmp(verb, "list") == 0) {
		if (route_list_aliases(r, argv[2], &names, &error) < 0)
			rc = ctl_fail("alias list", error);
		else
			rc = ctl_print_names(names);
	} else {
		rc = ctl_usage(usage);
	}
out:
	buf_free(&targets);
	route_alias_free(&a);
	route_close(&r);
	return rc;
}

/* Mailboxes of domain that forward, with their targets, a line each. */
static int
ctl_forward_list(struct route *r, const char *domain)
{
	struct route_mailbox *m;
	char **names = NULL;
	char *error = NULL;
	size_t i, n;
	int rc = 0, found;

	if (route_list_mailboxes(r, domain, &names, &error) < 0)
		return ctl_fail("forward list", error);
	for (i = 0; names[i] != NULL && rc == 0; i++) {
		found = route_mailbox_get(r, names[i], &m, &error);
		if (found < 0) {
			rc = ctl_fail("forward list", error);
			break;
		}
		free(error);
		error = NULL;
		if (found == 0 || m->forward_count == 0) {
			route_mailbox_free(&m);
			continue;
		}
		ctl_printf("%s ->", m->address);
		for (n = 0; n < m->forward_count; n++)
			ctl_printf("%s%s", n > 0 ? "," : " ", m->forwards[n]);
		ctl_printf("%s\n", m->forward_keep_copy ? " (keep copy)" : "");
		route_mailbox_free(&m);
	}
	route_names_free(&names);
	return rc;
}

int
ctl_forward(int argc, char **argv)
{
	static const char usage[] = "forward add|set ADDRESS TARGET... "
	    "[--keep] | del ADDRESS | show ADDRESS | list DOMAIN";
	static const char *const options[] = { "--keep", NULL };
	struct route *r;
	struct route_mailbox *m = NULL;
	char *error = NULL;
	const char *verb;
	int rc = 0, i, adding, setting;
	size_t n;

	if (argc < 3 || ctl_check_options(argc - 3, argv + 3, options) < 0)
		return ctl_usage(usage);
	verb = argv[1];
	adding = strcmp(verb, "add") == 0;
	setting = strcmp(verb, "set") == 0;
	if (!adding && !setting && strcmp(verb, "del") != 0
	    && strcmp(verb, "show") != 0 && strcmp(verb, "list") != 0)
		return ctl_usage(usage);
	if ((r = ctl_route_open()) == NULL)
		return 1;
	if (strcmp(verb, "list") == 0) {
		rc = ctl_forward_list(r, argv[2]);
		goto out;
	}
	if ((rc = ctl_mailbox_fetch(r, argv[2], &m)) != 0)
		goto out;
	if (adding || setting) {
		char **added;
		int count;

		/* set replaces the targets, add appends to them. */
		if (setting) {
			route_names_free(&m->forwards);
			m->forward_count = 0;
		}
		for (i = 3; i < argc; i++) {
			if (argv[i][0] == '-')
				continue;
			added = params_list_split(argv[i], &count);
			for (n = 0; n < (size_t) count; n++) {
				m->forwards = xreallocarray(m->forwards,
				    m->forward_count + 2, sizeof(char *));
				m->forwards[m->forward_count++] =
				    xstrdup(added[n]);
				m->forwards[m->forward_count] = NULL;
			}
			params_list_free(added);
		}
		m->forward_keep_copy = ctl_has_option(argc, argv, "--keep");
		if (m->forward_count == 0)
			rc = ctl_usage(usage);
		else if (route_mailbox_put(r, m, 0, &error) < 0)
			rc = ctl_fail("forward", error);
	} else if (strcmp(verb, "del") == 0) {
		route_names_free(&m->forwards);
		m->forward_count = 0;
		m->forward_keep_copy = 0;
		if (route_mailbox_put(r, m, 0, &error) < 0)
			rc = ctl_fail("forward del", error);
	} else {
		for (n = 0; n < m->forward_count; n++)
			ctl_printf("forward: %s\n", m->forwards[n]);
		ctl_printf("keepcopy: %s\n",
		    m->forward_keep_copy ? "yes" : "no");
	}
out:
	route_mailbox_free(&m);
	route_close(&r);
	return rc;
}

int
ctl_relay(int argc, char **argv)
{
	static const char usage[] = "relay add ADDRESS | del ADDRESS "
	    "| list DOMAIN";
	struct route *r;
	char **names = NULL;
	char *error = NULL;
	int rc = 0;

	if (argc != 3)
		return ctl_usage(usage);
	if ((r = ctl_route_open()) == NULL)
		return 1;
	if (strcmp(argv[1], "add") == 0) {
		if (route_relay_recipient_put(r, argv[2], &error) < 0)
			rc = ctl_fail("relay add", error);
		else
			ctl_printf("relay recipient %s added\n", argv[2]);
	} else if (strcmp(argv[1], "del") == 0) {
		if (route_relay_recipient_delete(r, argv[2], &error) < 0)
			rc = ctl_fail("relay del", error);
		else
			ctl_printf("relay recipient %s deleted\n", argv[2]);
	} else if (strcmp(argv[1], "list") == 0) {
		if (route_list_relay_recipients(r, argv[2], &names, &error) < 0)
			rc = ctl_fail("relay list", error);
		else
			rc = ctl_print_names(names);
	} else {
		rc = ctl_usage(usage);
	}
	route_close(&r);
	return rc;
}

int
ctl_auth(int argc, char **argv)
{
	struct route *r;
	char *password = NULL, *error = NULL;
	const char *reason = NULL;
	int rc, ok;

	if (argc != 2)
		return ctl_usage("auth ADDRESS  (password on standard input)");
	if (ctl_read_password(&password) < 0)
		return 1;
	if ((r = ctl_route_open()) == NULL) {
		free(password);
		return 1;
	}
	ok = route_authenticate(r, argv[1], password, NULL, &reason, &error);
	explicit_bzero(password, strlen(password));
	free(password);
	if (ok > 0) {
		ctl_printf("%s: authenticated\n", argv[1]);
		rc = 0;
	} else if (ok == 0) {
		ctl_printf("%s: refused: %s\n", argv[1],
		    reason != NULL ? reason : "invalid credentials");
		rc = 1;
	} else {
		ctl_eprintf("ispmailctl: %s: temporary failure: %s\n",
		    argv[1], error != NULL ? error : "directory unavailable");
		rc = CTL_EXIT_TEMPFAIL;
	}
	free(error);
	route_close(&r);
	return rc;
}

/* ctl_mailbox: ispmailctl mailbox add|set|del|show|list, forward. */
#include "config.h"

#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "ctl.h"
#include "ctl_provision_int.h"
#include "mail_host.h"
#include "mail_params.h"
#include "params.h"
#include "route.h"
#include "store.h"
#include "xalloc.h"

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
	return ctl_lookup_status(found, error, "mailbox", address);
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

/* ---- forwards (mailbox settings) -------------------------------------- */

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

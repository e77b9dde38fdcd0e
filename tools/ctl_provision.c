/*
 * ctl_provision: what the provisioning subcommands share
 * (ctl_provision_int.h), and ispmailctl alias|relay|auth.  The domain
 * commands are in ctl_domain.c, mailbox and forward in ctl_mailbox.c.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "ctl.h"
#include "ctl_provision_int.h"
#include "params.h"
#include "route.h"
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

int
ctl_usage(const char *text)
{
	ctl_eprintf("usage: ispmailctl %s\n", text);
	return 2;
}

/* Split "key=value"; NULL when the argument has no '='. */
const char *
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
void
ctl_set_list(char ***list_r, size_t *count_r, const char *value)
{
	char **old = *list_r;
	int count = 0;

	*list_r = params_list_split(value, &count);
	*count_r = (size_t) count;
	if (old != NULL)
		route_names_free(&old);
}

int
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

void
ctl_replace(char **field, const char *value)
{
	free(*field);
	*field = value[0] != '\0' ? xstrdup(value) : NULL;
}

/* A dmarc= value (a domain's or a mailbox's); -1 after a message. */
int
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

int
ctl_print_names(char **names)
{
	size_t i;

	for (i = 0; names[i] != NULL; i++)
		ctl_printf("%s\n", names[i]);
	route_names_free(&names);
	return 0;
}

int
ctl_has_option(int argc, char **argv, const char *option)
{
	int i;

	for (i = 0; i < argc; i++)
		if (strcmp(argv[i], option) == 0)
			return 1;
	return 0;
}

int
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

int
ctl_lookup_status(int found, char *error, const char *what, const char *name)
{
	if (found < 0) {
		ctl_eprintf("ispmailctl: temporary failure: %s\n",
		    error != NULL ? error : "directory unavailable");
		free(error);
		return CTL_EXIT_TEMPFAIL;
	}
	free(error);
	if (found == 0) {
		ctl_eprintf("ispmailctl: no such %s: %s\n", what, name);
		return 1;
	}
	return 0;
}

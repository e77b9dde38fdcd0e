/* ispmailctl: the operator's tool; options, parameters, one command table. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "log.h"
#include "mail_params.h"
#include "params.h"
#include "xalloc.h"

#ifndef ISPMAIL_CONFIG_DIR
#define ISPMAIL_CONFIG_DIR "/etc/ispmail"
#endif

/*
 * Every subcommand, in the order the usage text lists them.  This table
 * is the one place a new command is added (with its handler in ctl.h and
 * its section in ispmailctl(8)).
 */
static const struct ctl_command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *synopsis;
} ctl_commands[] = {
	{ "status", ctl_status, "status" },
	{ "metrics", ctl_metrics, "metrics" },
	{ "check", ctl_check, "check [config_dir ...]" },
	{ "baseline", ctl_baseline, "baseline feed|show ..." },
	{ "trace", ctl_trace, "trace [--since T] [--until T] [--log FILE]... ID" },
	{ "account", ctl_account, "account list-held|show|release|feed ..." },
	{ "config", ctl_config, "config [-n | -d] [name ...]" },
	{ "domain", ctl_domain, "domain add|set|del|show|list ..." },
	{ "mailbox", ctl_mailbox, "mailbox add|set|del|show|list|move ..." },
	{ "alias", ctl_alias, "alias add|set|del|show|list ..." },
	{ "forward", ctl_forward, "forward add|del|show ..." },
	{ "relay", ctl_relay, "relay add|del|list ..." },
	{ "auth", ctl_auth, "auth ADDRESS" },
	{ "route", ctl_route, "route ADDRESS ..." },
	{ "dkim", ctl_dkim, "dkim keygen|rotate|show|migrate DOMAIN ..." },
	{ "tlsrpt", ctl_tlsrpt, "tlsrpt send|show [--date YYYY-MM-DD] ..." },
	{ "queue", ctl_queue, "queue list|show|hold|release|delete|flush|requeue ..." },
	{ "quarantine", ctl_quarantine, "quarantine list|show|release|delete ..." },
	{ "archive", ctl_archive, "archive verify|search|export|seal|expire ..." },
};

#define CTL_COMMAND_COUNT (sizeof(ctl_commands) / sizeof(ctl_commands[0]))

/* Exit status for a usage error (ctl.h: 2). */
#define CTL_EXIT_USAGE 2

static void __attribute__((noreturn))
ctl_main_usage(void)
{
	size_t i;

	ctl_eprintf("usage: ispmailctl [-c config_dir] [-o name=value]..."
	    " command [args]\ncommands:\n");
	for (i = 0; i < CTL_COMMAND_COUNT; i++)
		ctl_eprintf("    %s\n", ctl_commands[i].synopsis);
	exit(CTL_EXIT_USAGE);
}

static const struct ctl_command *
ctl_command_find(const char *name)
{
	size_t i;

	for (i = 0; i < CTL_COMMAND_COUNT; i++)
		if (strcmp(ctl_commands[i].name, name) == 0)
			return &ctl_commands[i];
	return NULL;
}

/*
 * Load the parameters of the instance config_dir describes: defaults,
 * config_directory itself, main.conf (an instance may run on defaults
 * alone), then the -o overrides, which win.  Exits on failure: 1 for a
 * bad main.conf, 2 for a bad -o (a command line error).
 */
static void
ctl_load_params(const char *config_dir, char **overrides, int override_count)
{
	char *path;
	char *error = NULL;
	int i;

	params_init();
	if (params_set("config_directory", config_dir, &error) < 0) {
		ctl_eprintf("ispmailctl: -c %s: %s\n", config_dir, error);
		free(error);
		exit(1);
	}
	path = xasprintf("%s/main.conf", config_dir);
	if (params_read_file(path, 1, &error) < 0) {
		ctl_eprintf("ispmailctl: %s\n", error);
		free(error);
		free(path);
		exit(1);
	}
	free(path);
	for (i = 0; i < override_count; i++) {
		if (params_set_override(overrides[i], &error) < 0) {
			ctl_eprintf("ispmailctl: -o %s: %s\n", overrides[i],
			    error);
			free(error);
			exit(CTL_EXIT_USAGE);
		}
	}
}

int
main(int argc, char **argv)
{
	const char *config_dir = ISPMAIL_CONFIG_DIR;
	const struct ctl_command *cmd;
	char **overrides;
	int override_count = 0;
	int ch;
	int status;

	log_init("ispmailctl", LOG_TARGET_STDERR, NULL);
	overrides = xcalloc((size_t) argc + 1, sizeof(*overrides));
	/* "+": stop at the command name; its own options are its business. */
	while ((ch = getopt(argc, argv, "+c:o:")) != -1) {
		switch (ch) {
		case 'c':
			config_dir = optarg;
			break;
		case 'o':
			overrides[override_count++] = optarg;
			break;
		default:
			ctl_main_usage();
		}
	}
	if (optind >= argc)
		ctl_main_usage();
	cmd = ctl_command_find(argv[optind]);
	if (cmd == NULL) {
		ctl_eprintf("ispmailctl: unknown command: %s\n",
		    argv[optind]);
		ctl_main_usage();
	}
	ctl_load_params(config_dir, overrides, override_count);
	log_init("ispmailctl", LOG_TARGET_STDERR, var_syslog_facility);
	free(overrides);

	argc -= optind;
	argv += optind;
	/* The command parses its own options from argv[0] = its name. */
	optind = 1;
	status = cmd->run(argc, argv);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		perror("ispmailctl: standard output");
		return 1;
	}
	return status;
}

/*
 * master_conf: read and check master.conf, one service a line.
 *
 * master_conf_read() parses the file into a list of plain records (the
 * fields are visible on purpose: the rest of the master only reads them)
 * with every default already applied: user "-" is mail_owner, maxproc
 * "-" is default_process_limit, a relative command is under
 * daemon_directory, a relative unix path is under queue_directory.  So
 * parameters must be loaded before the file is read.  Every problem is
 * reported as "file:line: problem", all of them, not just the first; any
 * problem makes the whole file invalid.  The list owns its records.
 *
 * Limits: the file is at most MASTER_CONF_FILE_MAX bytes, a logical line
 * (after joining continuations) at most PARAMS_LINE_MAX, at most
 * MASTER_CONF_SERVICES_MAX services, maxproc at most MASTER_MAXPROC_MAX.
 */
#ifndef ISPMAIL_MASTER_CONF_H
#define ISPMAIL_MASTER_CONF_H

#define MASTER_CONF_FILE_MAX (1024 * 1024)
#define MASTER_CONF_SERVICES_MAX 1000
#define MASTER_MAXPROC_MAX 10000
#define MASTER_SERVICE_NAME_MAX 64

enum master_service_type {
	MASTER_SERVICE_INET,
	MASTER_SERVICE_UNIX,
};

/* One master.conf line (a plain record). */
struct master_service_conf {
	char *name;
	enum master_service_type type;
	char *listen;		/* as written, for the status socket */
	char *host;		/* inet: NULL for the wildcard address */
	char *port;		/* inet: decimal port */
	char *path;		/* unix: absolute socket path */
	char *user;		/* effective user name ("-" resolved) */
	long long maxproc;	/* effective process limit, >= 1 */
	char *command;		/* absolute path of the program */
	char **overrides;	/* "name=value" for -o, override_count of them */
	int override_count;
	char **args;		/* the daemon's own arguments */
	int arg_count;
	int keep_running;	/* -o service_keep_running=yes (qmgr) */
	int line;		/* where the service line starts */
};

/* A parsed master.conf: services in file order. */
struct master_conf {
	struct master_service_conf **services;
	int count;
};

/*
 * Read and check path.  0 ok with *conf_r (free with master_conf_free);
 * -1 with *error_r (caller frees): one "path:line: problem" a line.
 */
int master_conf_read(const char *path, struct master_conf **conf_r,
	char **error_r);
void master_conf_free(struct master_conf **confp);

/* A deep copy of one record; free with master_service_conf_free(). */
struct master_service_conf *
master_service_conf_dup(const struct master_service_conf *sc);
void master_service_conf_free(struct master_service_conf **scp);

/* 1 when a and b listen on the same socket (type and address). */
int master_conf_same_listener(const struct master_service_conf *a,
	const struct master_service_conf *b);
/* 1 when a and b run the same command line as the same user. */
int master_conf_same_command(const struct master_service_conf *a,
	const struct master_service_conf *b);

/* The program a service runs: its command's last path element. */
const char *master_service_program(const struct master_service_conf *sc);
/* The service's -o value of name, else the loaded main.conf's (or NULL). */
const char *master_service_param(const struct master_service_conf *sc,
	const char *name);
/* The same as an integer; 0 when unset or not a number. */
long long master_service_param_int(const struct master_service_conf *sc,
	const char *name);

#endif

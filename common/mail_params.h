/*
 * mail_params: the variables bound by the parameter table (mail_params.c).
 *
 * Each main.conf parameter is declared exactly once, in the table in
 * mail_params.c, with its default.  The variables below hold the effective
 * values after params_init(), main.conf and -o overrides.  Names follow
 * Postfix: var_<parameter name>.
 */
#ifndef ISPMAIL_MAIL_PARAMS_H
#define ISPMAIL_MAIL_PARAMS_H

/* Locations and identity. */
extern char *var_config_directory;
extern char *var_queue_directory;
extern char *var_daemon_directory;
extern char *var_mail_owner;
extern char *var_myhostname;

/* Logging. */
extern char *var_syslog_name;
extern char *var_syslog_facility;
extern int var_debug_logging;

/* Service processes (the service skeleton and the master). */
extern long long var_default_process_limit;
extern long long var_max_use;
extern long long var_max_idle;
extern long long var_ipc_timeout;
extern long long var_service_throttle_time;
extern long long var_service_throttle_max;
extern long long var_process_limit_warning_time;
extern long long var_master_stop_timeout;
extern char *var_inet_protocols;
extern long long var_listen_backlog;
extern char *var_chroot_directory;

/* Internal protocol limits. */
extern long long var_line_length_limit;
extern long long var_attr_value_limit;
extern long long var_attr_count_limit;

/* The mailbox store (provisioning). */
extern char *var_store_root;
extern char *var_store_owner;
extern char *var_local_mail_hosts;
extern long long var_default_quota;

#endif

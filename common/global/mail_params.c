/* mail_params: the one table of main.conf parameters and their variables. */
#include "config.h"
#include <unistd.h>
#include <stdio.h>

#include <stddef.h>

#include "mail_params.h"
#include "params.h"

/* Set by the build (Makefile.am AM_CPPFLAGS); these serve unit tests. */
#ifndef ISPMAIL_CONFIG_DIR
#define ISPMAIL_CONFIG_DIR "/etc/ispmail"
#endif
#ifndef ISPMAIL_QUEUE_DIR
#define ISPMAIL_QUEUE_DIR "/var/spool/ispmail"
#endif
#ifndef ISPMAIL_DAEMON_DIR
#define ISPMAIL_DAEMON_DIR "/usr/libexec/ispmail"
#endif

/* Bounds in the units the variables hold (seconds, bytes). */
#define SEC 1LL
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)
#define KIB 1024LL
#define MIB (1024 * KIB)
#define GIB (1024 * MIB)
#define TIB (1024 * GIB)

char *var_config_directory;
char *var_queue_directory;
char *var_daemon_directory;
char *var_mail_owner;
int var_allow_root_services;
char *var_myhostname;

char *var_syslog_name;
char *var_syslog_facility;
char *var_maillog_file;
long long var_trace_line_limit;
int var_debug_logging;

long long var_default_process_limit;
long long var_max_use;
long long var_max_idle;
long long var_ipc_timeout;
long long var_service_throttle_time;
long long var_service_throttle_max;
long long var_process_limit_warning_time;
long long var_master_stop_timeout;
char *var_inet_protocols;
long long var_listen_backlog;
char *var_chroot_directory;
int var_service_keep_running;

long long var_anvil_table_limit;
long long var_anvil_rate_time_unit;
long long var_anvil_connection_limit;
long long var_anvil_timeout;
char *var_client_limit_exceptions;
long long var_smtpd_client_connection_count_limit;
long long var_smtpd_client_connection_rate_limit;
long long var_pop_client_connection_count_limit;
long long var_pop_client_connection_rate_limit;
long long var_imap_client_connection_count_limit;
long long var_imap_client_connection_rate_limit;
long long var_line_length_limit;
long long var_attr_value_limit;
long long var_attr_count_limit;

char *var_store_root;
char *var_store_owner;
char *var_local_mail_hosts;
long long var_default_quota;

/* TLS and authentication, shared by every daemon that takes logins. */
char *var_tls_cert_file;
char *var_tls_key_file;
char *var_tls_min_protocol;
char *var_tls_ciphers;
int var_tls_wrapper_mode;
long long var_tls_handshake_timeout;
int var_auth_allow_plaintext;
long long var_auth_failure_delay;
long long var_auth_failure_limit;

/* smtpd variables (smtpd(8)). */
char *var_smtpd_mode;
char *var_smtpd_banner;
long long var_message_size_limit;
long long var_queue_minfree;
long long var_smtpd_recipient_limit;
long long var_smtpd_timeout;
long long var_smtpd_stress_timeout;
long long var_smtpd_junk_command_limit;
long long var_smtpd_error_limit;
long long var_smtpd_line_limit;
long long var_smtpd_data_line_limit;
int var_smtpd_sender_login_match;
int var_smtpd_direct_delivery;
long long var_smtpd_direct_timeout;
long long var_smtpd_direct_connect_timeout;
char *var_spamd_servers;
char *var_clamd_servers;
long long var_filter_connection_limit;
long long var_filter_connect_timeout;
long long var_filter_scan_timeout;
long long var_filter_size_limit;
char *var_filter_failure_action;
long long var_filter_outbound_spam_score;
long long var_filter_poison_limit;
char *var_filter_poison_action;
long long var_filter_poison_time;
char *var_filter_junk_folder;
long long var_filter_server_capacity;
long long var_quarantine_retention;
char *var_mynetworks;
char *var_local_submit_users;
int var_smtpd_strict_helo_syntax;
char *var_smtpd_forbid_bare_newline;
int var_smtpd_sender_auth;
char *var_smtpd_authserv_id;
long long var_smtpd_sender_auth_timeout;
char *var_smtpd_dmarc_reject_policy;
char *var_smtpd_dmarc_junk_domains;
char *var_dmarc_public_suffix_file;
int var_smtpd_dkim_signing;
char *var_dkim_key_directory;
long long var_dkim_key_ttl;
char *var_dns_servers;
long long var_dns_timeout;
long long var_dns_tries;
char *var_dnsbl_sites;
long long var_dnsbl_threshold;
char *var_dnsbl_allow_networks;
long long var_smtpd_fcrdns_weight;
long long var_smtpd_helo_weight;
long long var_smtpd_pregreet_time;
long long var_smtpd_pregreet_weight;

/* queue and qmgr variables (qmgr(8), ispmail-queue(5)). */
long long var_queue_hash_depth;
long long var_queue_run_delay;
long long var_minimal_backoff;
long long var_maximal_backoff;
long long var_maximal_queue_lifetime;
long long var_delay_warning_time;
long long var_qmgr_message_active_limit;
long long var_qmgr_destination_concurrency_limit;
long long var_qmgr_agent_limit;
long long var_metricsd_connection_limit;
long long var_metricsd_timeout;
long long var_ldap_server_capacity;
long long var_baseline_learning_samples;
long long var_baseline_alarm_spreads;
long long var_baseline_alarm_samples;
char *var_baseline_alarm_command;
long long var_baseline_sample_time;
long long var_account_alarm_window;
long long var_account_alarm_factor;
long long var_account_alarm_minimum;
long long var_account_alarm_history;
char *var_account_alarm_action;
long long var_qmgr_agent_timeout;
long long var_qmgr_orphan_age;
char *var_postmaster_address;
long long var_bounce_size_limit;
char *var_lmtp_local_nexthop;
long long var_lmtp_port;
char *var_srs_domain;
char *var_srs_secret_file;

/* The mail archive (ispmail-archive(5)). */
char *var_archive_directory;
char *var_archive_key_file;
long long var_archive_segment_size;
long long var_archive_segment_age;
long long var_archive_retention;
char *var_archive_domain_retention;
long long var_srs_max_age;

/* smtp delivery agent variables (smtp(8)). */
char *var_relayhost;
long long var_smtp_connect_timeout;
long long var_smtp_command_timeout;
long long var_smtp_data_timeout;
long long var_smtp_connection_cache_time;
long long var_smtp_port;
char *var_smtp_bind_address;
char *var_smtp_bind_address6;
char *var_smtp_helo_name;
long long var_smtp_mx_address_limit;
char *var_smtp_loop_addresses;
char *var_smtp_tls_security_level;
char *var_smtp_tls_policy;
char *var_smtp_tls_ca_file;
char *var_smtp_dnssec_resolvers;
int var_smtp_mta_sts;
long long var_smtp_mta_sts_timeout;
long long var_smtp_mta_sts_port;

/* lmtpd variables (lmtpd(8)). */
long long var_lmtp_timeout;
long long var_lmtp_line_length_limit;
long long var_lmtp_message_line_limit;
long long var_lmtp_message_size_limit;
long long var_lmtp_recipient_limit;
long long var_lmtp_bad_command_limit;
int var_lmtp_quota_full_permanent;
long long var_lmtp_spool_memory_limit;
char *var_lmtp_temp_directory;
long long var_lmtp_lock_timeout;
long long var_lmtp_lock_stale_time;
long long var_lmtp_duplicate_window;
char *var_lmtp_trusted_networks;
char *var_proxy_trusted_networks;
long long var_smtpd_login_message_rate_limit;
long long var_smtpd_login_recipient_rate_limit;
int var_proxy_protocol;

/* popd variables (popd(8)). */
long long var_pop_command_timeout;
long long var_pop_login_timeout;
long long var_pop_stress_timeout;
long long var_pop_junk_command_limit;
long long var_pop_max_bad_commands;
long long var_pop_line_limit;
long long var_pop_login_delay;

/* imapd variables (imapd(8)). */
long long var_imap_timeout;
long long var_imap_login_timeout;
long long var_imap_stress_timeout;
long long var_imap_junk_command_limit;
long long var_imap_command_size_limit;
long long var_imap_argument_limit;
long long var_imap_message_size_limit;
long long var_imap_bad_command_limit;
long long var_imap_idle_check_interval;
long long var_imap_client_limit;
char *var_imap_admin_logins;
char *var_imap_admin_networks;

/* ispmailctl mailbox move (ispmailctl(8)). */
long long var_mailbox_move_imap_port;
char *var_mailbox_move_credentials_file;
char *var_mailbox_move_tls;
char *var_mailbox_move_tls_ca_file;
long long var_mailbox_move_connect_timeout;
long long var_mailbox_move_timeout;
long long var_mailbox_move_line_limit;
long long var_mailbox_move_message_size_limit;
long long var_mailbox_move_final_changes;
long long var_mailbox_move_max_passes;

/* proxyd (proxyd(8)). */
char *var_proxy_front;
long long var_proxy_backend_port_imap;
long long var_proxy_backend_port_pop3;
long long var_proxy_backend_port_submission;
int var_proxy_backend_tls;
char *var_proxy_backend_ca_file;
char *var_proxy_backend_protocol;
long long var_proxy_host_down_time;
long long var_proxy_connect_timeout;
long long var_proxy_auth_timeout;
char *var_proxy_submission_hosts;
long long var_proxy_max_sessions_per_ip;
long long var_proxy_max_sessions_per_user;
long long var_proxy_auth_fail_limit;
long long var_proxy_auth_fail_delay_max;
long long var_proxy_session_limit;
long long var_proxy_login_timeout;
long long var_proxy_idle_timeout;
long long var_proxy_line_limit;
long long var_proxy_bad_command_limit;

char *var_ldap_server_uris;
char *var_ldap_base_dn;
char *var_ldap_bind_dn;
char *var_ldap_bind_password_file;
char *var_ldap_provision_bind_dn;
char *var_ldap_provision_bind_password_file;
int var_ldap_start_tls;
char *var_ldap_tls_ca_file;
long long var_ldap_connect_timeout;
long long var_ldap_search_timeout;
long long var_ldap_pool_size;
long long var_ldap_cache_positive_ttl;
long long var_ldap_cache_negative_ttl;
long long var_ldap_cache_size;

/* The routing directory. */
char *var_route_backend;
char *var_route_file;
long long var_route_file_check_interval;
long long var_mailbox_state_check_interval;
char *var_recipient_delimiter;
int var_route_case_sensitive_local;
long long var_route_expansion_depth;
int var_ldap_auth_bind;

/*
 * A new parameter is one row here (plus its variable above and its
 * extern in mail_params.h) and one entry in man/main.conf.5, which
 * check_params verifies.  min and max matter for INT, TIME and SIZE only.
 */
const struct param_def param_table[] = {
	/* Locations and identity. */
	{ "config_directory", PARAM_STR, ISPMAIL_CONFIG_DIR, 0, 0,
	    &var_config_directory,
	    "The directory of main.conf and master.conf; programs set it "
	    "from -c." },
	{ "queue_directory", PARAM_STR, ISPMAIL_QUEUE_DIR, 0, 0,
	    &var_queue_directory,
	    "The top of the mail queue and of the master's status socket, "
	    "owned by mail_owner." },
	{ "daemon_directory", PARAM_STR, ISPMAIL_DAEMON_DIR, 0, 0,
	    &var_daemon_directory,
	    "Where the master finds the daemon programs that master.conf "
	    "names without a path." },
	{ "mail_owner", PARAM_STR, "ispmail", 0, 0, &var_mail_owner,
	    "The unprivileged user that owns the queue and runs the "
	    "daemons." },
	{ "allow_root_services", PARAM_BOOL, "no", 0, 0,
	    &var_allow_root_services,
	    "Let a network-facing (inet) service of master.conf run as "
	    "root; the master refuses such a line otherwise." },
	{ "myhostname", PARAM_STR, "", 0, 0, &var_myhostname,
	    "This host's fully qualified name for greetings and Received: "
	    "lines; empty means the name gethostname() returns." },

	/* Logging. */
	{ "syslog_name", PARAM_STR, "ispmail", 0, 0, &var_syslog_name,
	    "The prefix of every log line's program name, as in "
	    "ispmail/smtpd." },
	{ "syslog_facility", PARAM_STR, "mail", 0, 0, &var_syslog_facility,
	    "The syslog facility: mail, daemon, or local0 to local7." },
	{ "maillog_file", PARAM_LIST, "/var/log/mail.log", 0, 0,
	    &var_maillog_file,
	    "The log files this instance's lines land in (syslog's mail "
	    "log, or the file a foreground master's stderr goes to); what "
	    "ispmailctl trace reads unless --log names others." },
	{ "trace_line_limit", PARAM_SIZE, "16k", 256, 1 * MIB,
	    &var_trace_line_limit,
	    "The longest log line ispmailctl trace reads whole; the rest of "
	    "a longer line is skipped." },
	{ "debug_logging", PARAM_BOOL, "no", 0, 0, &var_debug_logging,
	    "Log debug lines too (every daemon; -v does it for one)." },

	/* Service processes. */
	{ "default_process_limit", PARAM_INT, "100", 1, 10000,
	    &var_default_process_limit,
	    "The process limit of a master.conf service whose maxproc "
	    "is -." },
	{ "max_use", PARAM_INT, "100", 1, 1000000, &var_max_use,
	    "How many connections a daemon process serves before it exits "
	    "and the master starts a fresh one." },
	{ "max_idle", PARAM_TIME, "100s", 1 * SEC, 1 * DAY, &var_max_idle,
	    "How long an idle daemon process waits for a connection before "
	    "it exits." },
	{ "ipc_timeout", PARAM_TIME, "300s", 1 * SEC, 1 * HOUR,
	    &var_ipc_timeout,
	    "The deadline for one read or write on an internal socket." },
	{ "service_throttle_time", PARAM_TIME, "10s", 1 * SEC, 1 * HOUR,
	    &var_service_throttle_time,
	    "The first pause before the master starts processes again for "
	    "a service whose process died abnormally before it served "
	    "anything; it doubles with each further failure." },
	{ "service_throttle_max", PARAM_TIME, "300s", 1 * SEC, 1 * DAY,
	    &var_service_throttle_max,
	    "The longest pause a failing service's doubling back-off "
	    "reaches." },
	{ "process_limit_warning_time", PARAM_TIME, "60s", 1 * SEC, 1 * DAY,
	    &var_process_limit_warning_time,
	    "The shortest interval between two \"process limit reached\" "
	    "warnings for one service." },
	{ "master_stop_timeout", PARAM_TIME, "10s", 1 * SEC, 1 * HOUR,
	    &var_master_stop_timeout,
	    "How long the master waits after SIGTERM to its children before "
	    "it sends SIGKILL." },
	{ "inet_protocols", PARAM_LIST, "all", 0, 0, &var_inet_protocols,
	    "The address families inet services listen on: all, ipv4, "
	    "ipv6, or ipv4 and ipv6." },
	{ "listen_backlog", PARAM_INT, "128", 1, 65535, &var_listen_backlog,
	    "The kernel's queue of connections that wait for a process, per "
	    "listening socket." },
	{ "service_keep_running", PARAM_BOOL, "no", 0, 0,
	    &var_service_keep_running,
	    "Set with -o on a master.conf line: the master keeps one "
	    "process of the service running at all times, without waiting "
	    "for a client (qmgr)." },
	{ "chroot_directory", PARAM_STR, "", 0, 0, &var_chroot_directory,
	    "The directory daemons chroot into before they serve; empty "
	    "means no chroot." },

	/* Operations: the metrics endpoint, ispmailctl check (ops). */
	{ "metricsd_connection_limit", PARAM_INT, "16", 1, 1000,
	    &var_metricsd_connection_limit,
	    "HTTP connections metricsd serves at once." },
	{ "metricsd_timeout", PARAM_TIME, "10s", 1 * SEC, 10 * MIN,
	    &var_metricsd_timeout,
	    "How long metricsd keeps an idle HTTP connection." },
	{ "ldap_server_capacity", PARAM_INT, "0", 0, 10000000,
	    &var_ldap_server_capacity,
	    "Lookups the directory servers can serve at once (slapd's "
	    "threads), for ispmailctl check; 0: unknown." },

	{ "baseline_learning_samples", PARAM_INT, "120", 1, 1000000,
	    &var_baseline_learning_samples,
	    "Samples an hour-of-week slot learns from before it judges." },
	{ "baseline_alarm_spreads", PARAM_INT, "4", 1, 1000,
	    &var_baseline_alarm_spreads,
	    "How many spreads from the usual value a sample is out of band." },
	{ "baseline_alarm_samples", PARAM_INT, "5", 1, 10000,
	    &var_baseline_alarm_samples,
	    "Samples (minutes) in a row out of band that raise an alarm." },
	{ "baseline_alarm_command", PARAM_STR, "", 0, 0,
	    &var_baseline_alarm_command,
	    "A program run with FIGURE VALUE USUAL for each alarm." },
	{ "baseline_sample_time", PARAM_TIME, "60s", 0, 1 * HOUR,
	    &var_baseline_sample_time,
	    "How often the master samples the baseline figures (ispmailctl "
	    "baseline sample, in a child as mail_owner); 0: never (cron "
	    "then)." },
	{ "account_alarm_window", PARAM_TIME, "1h", 1 * MIN, 1 * DAY,
	    &var_account_alarm_window,
	    "The window in which smtpd counts each authenticated account's "
	    "submissions and learns its usual volume (the exploited-account "
	    "alarm)." },
	{ "account_alarm_factor", PARAM_INT, "10", 0, 1000000,
	    &var_account_alarm_factor,
	    "An account that sends more than this many times its usual "
	    "volume in a window raises the alarm; 0: never." },
	{ "account_alarm_minimum", PARAM_INT, "100", 1, 100000000,
	    &var_account_alarm_minimum,
	    "The fewest messages in a window that may raise an account's "
	    "alarm, whatever its usual." },
	{ "account_alarm_history", PARAM_INT, "24", 1, 1000000,
	    &var_account_alarm_history,
	    "Windows an account's usual must have learned before it is "
	    "judged." },
	{ "account_alarm_action", PARAM_STR, "hold", 0, 0,
	    &var_account_alarm_action,
	    "On an account's alarm: hold (the message into hold/, the "
	    "account's submissions refused 451 4.7.1 until ispmailctl "
	    "account release) or log (the alarm only)." },

	/* Client connection limits (anvil(8)). */
	{ "anvil_table_limit", PARAM_INT, "100000", 100, 10000000,
	    &var_anvil_table_limit,
	    "The most (service, client address) pairs anvil tracks; when "
	    "full it forgets the least recently seen." },
	{ "anvil_rate_time_unit", PARAM_TIME, "60s", 1 * SEC, 1 * HOUR,
	    &var_anvil_rate_time_unit,
	    "The time unit of the connection rate limits." },
	{ "anvil_connection_limit", PARAM_INT, "1000", 1, 100000,
	    &var_anvil_connection_limit,
	    "Daemon processes connected to anvil at once; more are "
	    "refused and admit their clients unchecked." },
	{ "anvil_timeout", PARAM_TIME, "2s", 1 * SEC, 1 * MIN,
	    &var_anvil_timeout,
	    "How long a daemon waits for anvil's answer before it admits "
	    "the client unchecked." },
	{ "client_limit_exceptions", PARAM_LIST, "127.0.0.0/8 ::1", 0, 0,
	    &var_client_limit_exceptions,
	    "Client addresses and networks (address/bits) that the "
	    "connection count and rate limits do not apply to." },
	{ "smtpd_client_connection_count_limit", PARAM_INT, "10", 0, 100000,
	    &var_smtpd_client_connection_count_limit,
	    "Connections one client address may have open to one smtpd "
	    "service at once; 0 means no limit." },
	{ "smtpd_client_connection_rate_limit", PARAM_INT, "0", 0, 1000000,
	    &var_smtpd_client_connection_rate_limit,
	    "Connections one client address may start to one smtpd "
	    "service per anvil_rate_time_unit; 0 means no limit." },
	{ "smtpd_login_message_rate_limit", PARAM_INT, "0", 0, 10000000,
	    &var_smtpd_login_message_rate_limit,
	    "Messages one authenticated login may submit per hour, counted "
	    "by anvil across every smtpd and proxyd; over it 451 4.7.1; 0 "
	    "means no limit." },
	{ "smtpd_login_recipient_rate_limit", PARAM_INT, "0", 0, 100000000,
	    &var_smtpd_login_recipient_rate_limit,
	    "Recipients one authenticated login may submit to per hour, "
	    "counted like smtpd_login_message_rate_limit; 0 means no limit." },
	{ "pop_client_connection_count_limit", PARAM_INT, "10", 0, 100000,
	    &var_pop_client_connection_count_limit,
	    "Connections one client address may have open to one popd "
	    "service at once; 0 means no limit." },
	{ "pop_client_connection_rate_limit", PARAM_INT, "0", 0, 1000000,
	    &var_pop_client_connection_rate_limit,
	    "Connections one client address may start to one popd "
	    "service per anvil_rate_time_unit; 0 means no limit." },
	{ "imap_client_connection_count_limit", PARAM_INT, "20", 0, 100000,
	    &var_imap_client_connection_count_limit,
	    "Connections one client address may have open to one imapd "
	    "service at once; 0 means no limit." },
	{ "imap_client_connection_rate_limit", PARAM_INT, "0", 0, 1000000,
	    &var_imap_client_connection_rate_limit,
	    "Connections one client address may start to one imapd "
	    "service per anvil_rate_time_unit; 0 means no limit." },

	/* Proxies that name the real client (proxy_trust.h). */
	{ "proxy_trusted_networks", PARAM_LIST, "", 0, 0,
	    &var_proxy_trusted_networks,
	    "The proxies (addresses or address/prefix networks) whose "
	    "PROXY protocol header, smtpd XCLIENT, popd XCLIENT and imapd "
	    "ID x-originating-ip are believed; empty: nobody's." },
	{ "proxy_protocol", PARAM_BOOL, "no", 0, 0, &var_proxy_protocol,
	    "Set per listener with -o: every connection must start with a "
	    "PROXY protocol header (v2 or v1) from proxy_trusted_networks, "
	    "which names the client; others are dropped." },

	/* Internal protocol limits. */
	{ "line_length_limit", PARAM_SIZE, "2048", 256, 1 * MIB,
	    &var_line_length_limit,
	    "The longest line of an internal protocol." },
	{ "attr_value_limit", PARAM_SIZE, "100k", 1 * KIB, 100 * MIB,
	    &var_attr_value_limit,
	    "The longest value in an internal attribute record." },
	{ "attr_count_limit", PARAM_INT, "1000", 1, 1000000,
	    &var_attr_count_limit,
	    "The most attributes in one internal attribute record." },

	/* The mailbox store. */
	{ "store_root", PARAM_STR, "/var/vmail", 0, 0, &var_store_root,
	    "The directory under which new mailboxes' Maildir++ stores are "
	    "made (store_root/domain/user); nothing outside it is ever "
	    "removed." },
	{ "store_owner", PARAM_STR, "vmail", 0, 0, &var_store_owner,
	    "The user that owns the mailbox stores." },
	{ "local_mail_hosts", PARAM_LIST, "localhost", 0, 0,
	    &var_local_mail_hosts,
	    "The mailHost names that mean this host, so provisioning creates "
	    "and removes their stores here." },
	{ "default_quota", PARAM_SIZE, "1G", 0, 1 * TIB, &var_default_quota,
	    "The quota of a new mailbox; 0 means no limit." },

	/* The LDAP routing backend. */
	{ "ldap_server_uris", PARAM_LIST, "ldap://127.0.0.1", 0, 0,
	    &var_ldap_server_uris,
	    "The directory servers, tried in order: ldap://, ldaps:// or "
	    "ldapi:// URIs." },
	{ "ldap_base_dn", PARAM_STR, "dc=ispmail", 0, 0, &var_ldap_base_dn,
	    "The DN under which the routing entries live; see "
	    "ispmail-ldap(5)." },
	{ "ldap_bind_dn", PARAM_STR, "", 0, 0, &var_ldap_bind_dn,
	    "The DN to bind as; empty means an anonymous bind." },
	{ "ldap_bind_password_file", PARAM_STR, "", 0, 0,
	    &var_ldap_bind_password_file,
	    "A file whose first line is the bind password (kept out of "
	    "main.conf, which everyone may read)." },
	{ "ldap_provision_bind_dn", PARAM_STR, "", 0, 0,
	    &var_ldap_provision_bind_dn,
	    "The DN ispmailctl binds as for its writes; empty means "
	    "ldap_bind_dn." },
	{ "ldap_provision_bind_password_file", PARAM_STR, "", 0, 0,
	    &var_ldap_provision_bind_password_file,
	    "A file whose first line is the password of "
	    "ldap_provision_bind_dn, read only by ispmailctl." },
	{ "ldap_start_tls", PARAM_BOOL, "no", 0, 0, &var_ldap_start_tls,
	    "Require StartTLS on ldap:// connections (ldaps:// is always "
	    "TLS)." },
	{ "ldap_tls_ca_file", PARAM_STR, "", 0, 0, &var_ldap_tls_ca_file,
	    "The CA certificates that verify the servers; empty means the "
	    "system's." },
	{ "ldap_connect_timeout", PARAM_TIME, "5s", 1 * SEC, 5 * MIN,
	    &var_ldap_connect_timeout,
	    "How long a connection to one server may take before the next "
	    "is tried." },
	{ "ldap_search_timeout", PARAM_TIME, "5s", 1 * SEC, 5 * MIN,
	    &var_ldap_search_timeout,
	    "How long one lookup or write may take, connecting, binding "
	    "and any retry included; then it fails temporarily." },
	{ "ldap_pool_size", PARAM_INT, "4", 1, 1000, &var_ldap_pool_size,
	    "The most connections one process keeps open to the directory "
	    "servers." },
	{ "ldap_cache_positive_ttl", PARAM_TIME, "30s", 0, 1 * DAY,
	    &var_ldap_cache_positive_ttl,
	    "How long a process reuses an answer that found an entry; 0 "
	    "disables it." },
	{ "ldap_cache_negative_ttl", PARAM_TIME, "10s", 0, 1 * HOUR,
	    &var_ldap_cache_negative_ttl,
	    "How long a process reuses a \"no such entry\" answer; 0 "
	    "disables it." },
	{ "ldap_cache_size", PARAM_INT, "10000", 0, 1000000,
	    &var_ldap_cache_size,
	    "The most answers one process caches; 0 disables the cache." },

	/* The routing directory (route.c, route_file.c, ispmail-routes(5)). */
	{ "route_backend", PARAM_STR, "file", 0, 0, &var_route_backend,
	    "Where addresses and domains are looked up: file (the "
	    "route_file map) or ldap." },
	{ "route_file", PARAM_STR, "$config_directory/routes", 0, 0,
	    &var_route_file,
	    "The routing map of the file backend, reread when it "
	    "changes; see ispmail-routes(5)." },
	{ "route_file_check_interval", PARAM_TIME, "1s", 0, 3600,
	    &var_route_file_check_interval,
	    "How often a process looks whether the routing map changed "
	    "(0: before every lookup)." },
	{ "mailbox_state_check_interval", PARAM_TIME, "2s", 0, 60,
	    &var_mailbox_state_check_interval,
	    "How often an open IMAP or POP3 session looks up its "
	    "mailbox's state, to end when it is being moved (0: never; "
	    "file backend only)." },
	{ "recipient_delimiter", PARAM_STR, "+", 0, 0,
	    &var_recipient_delimiter,
	    "Characters that separate a user from an address extension "
	    "(user+tag); the first one found splits; empty disables." },
	{ "route_case_sensitive_local", PARAM_BOOL, "no", 0, 0,
	    &var_route_case_sensitive_local,
	    "Keep the case of local parts in lookups instead of "
	    "lower-casing them." },
	{ "route_expansion_depth", PARAM_INT, "20", 1, 100,
	    &var_route_expansion_depth,
	    "The most alias and forward hops one address is expanded "
	    "through before the mail is refused as looping." },
	{ "ldap_auth_bind", PARAM_BOOL, "no", 0, 0, &var_ldap_auth_bind,
	    "LDAP backend: check passwords by binding as the user instead "
	    "of comparing the stored hash." },

	/* TLS and authentication (tls.c, sasl.c; every login daemon). */
	{ "tls_cert_file", PARAM_STR, "", 0, 0, &var_tls_cert_file,
	    "The server certificate chain (PEM), leaf first; empty means no "
	    "TLS is offered." },
	{ "tls_key_file", PARAM_STR, "$tls_cert_file", 0, 0,
	    &var_tls_key_file,
	    "The private key (PEM) of tls_cert_file." },
	{ "tls_min_protocol", PARAM_STR, "TLSv1.2", 0, 0,
	    &var_tls_min_protocol,
	    "The oldest TLS version accepted: TLSv1.2 or TLSv1.3." },
	{ "tls_ciphers", PARAM_STR, "", 0, 0, &var_tls_ciphers,
	    "An OpenSSL cipher list for TLS 1.2; empty keeps OpenSSL's "
	    "default." },
	{ "tls_wrapper_mode", PARAM_BOOL, "no", 0, 0, &var_tls_wrapper_mode,
	    "Start TLS as soon as a client connects (ports 465, 995, 993); "
	    "set per listener with -o in master.conf." },
	{ "tls_handshake_timeout", PARAM_TIME, "30s", 1 * SEC, 1 * HOUR,
	    &var_tls_handshake_timeout,
	    "How long a TLS handshake may take." },
	{ "auth_allow_plaintext", PARAM_BOOL, "no", 0, 0,
	    &var_auth_allow_plaintext,
	    "Accept passwords on connections without TLS; set per listener "
	    "with -o (loopback is no exception by default)." },
	{ "auth_failure_delay", PARAM_TIME, "2s", 0, 1 * MIN,
	    &var_auth_failure_delay,
	    "How long a daemon waits before it answers a failed login." },
	{ "auth_failure_limit", PARAM_INT, "3", 1, 100,
	    &var_auth_failure_limit,
	    "Failed logins after which a session is disconnected." },

	/* proxyd (proxyd(8)). */
	{ "proxy_front", PARAM_STR, "imap", 0, 0, &var_proxy_front,
	    "The protocol a proxyd listener speaks: imap, pop3 or "
	    "submission; set per listener with -o." },
	{ "proxy_backend_port_imap", PARAM_INT, "143", 1, 65535,
	    &var_proxy_backend_port_imap,
	    "The IMAP port proxyd connects to on a store host." },
	{ "proxy_backend_port_pop3", PARAM_INT, "110", 1, 65535,
	    &var_proxy_backend_port_pop3,
	    "The POP3 port proxyd connects to on a store host." },
	{ "proxy_backend_port_submission", PARAM_INT, "587", 1, 65535,
	    &var_proxy_backend_port_submission,
	    "The submission port proxyd connects to on an outbound host." },
	{ "proxy_backend_tls", PARAM_BOOL, "no", 0, 0, &var_proxy_backend_tls,
	    "Speak TLS to the backends (implicit, verified against "
	    "proxy_backend_ca_file and the host name)." },
	{ "proxy_backend_ca_file", PARAM_STR, "", 0, 0,
	    &var_proxy_backend_ca_file,
	    "The CA certificates backend certificates are verified with; "
	    "empty: the system store." },
	{ "proxy_backend_protocol", PARAM_STR, "native", 0, 0,
	    &var_proxy_backend_protocol,
	    "How a backend learns the client's address: haproxy (a PROXY "
	    "protocol v2 header) or native (IMAP ID x-originating-ip, "
	    "POP3 XCLIENT, SMTP XCLIENT)." },
	{ "proxy_host_down_time", PARAM_TIME, "30s", 0, 1 * HOUR,
	    &var_proxy_host_down_time,
	    "How long a backend that did not answer is skipped." },
	{ "proxy_connect_timeout", PARAM_TIME, "5s", 1 * SEC, 1 * MIN,
	    &var_proxy_connect_timeout,
	    "How long a backend may take to accept a connection (and "
	    "finish its TLS handshake) before the next host is tried." },
	{ "proxy_auth_timeout", PARAM_TIME, "30s", 1 * SEC, 10 * MIN,
	    &var_proxy_auth_timeout,
	    "How long proxyd waits for authd's answer to a login before "
	    "it answers with a temporary failure." },
	{ "proxy_max_sessions_per_ip", PARAM_INT, "50", 0, 100000,
	    &var_proxy_max_sessions_per_ip,
	    "Sessions one client address may have open at once on one "
	    "proxyd listener, counted by anvil over all processes; 0 "
	    "means no limit." },
	{ "proxy_max_sessions_per_user", PARAM_INT, "20", 0, 100000,
	    &var_proxy_max_sessions_per_user,
	    "Sessions one account may have open at once through proxyd "
	    "(all listeners); 0 means no limit." },
	{ "proxy_auth_fail_limit", PARAM_INT, "10", 0, 100000,
	    &var_proxy_auth_fail_limit,
	    "Failed logins of one client address or one login within "
	    "anvil_rate_time_unit after which proxyd refuses its logins "
	    "as a temporary failure until the window passes; 0: never." },
	{ "proxy_auth_fail_delay_max", PARAM_TIME, "15s", 0, 5 * MIN,
	    &var_proxy_auth_fail_delay_max,
	    "The longest delay before proxyd answers a failed login "
	    "(auth_failure_delay, doubled for every earlier failure of the "
	    "address or login in the window)." },
	{ "proxy_submission_hosts", PARAM_STR, "", 0, 0,
	    &var_proxy_submission_hosts,
	    "The outbound smtpd hosts (addresses, comma-separated) a "
	    "proxyd submission listener relays to, tried in turn." },
	{ "proxy_session_limit", PARAM_INT, "1000", 1, 100000,
	    &var_proxy_session_limit,
	    "Sessions one proxyd process serves at once." },
	{ "proxy_login_timeout", PARAM_TIME, "60s", 1 * SEC, 1 * HOUR,
	    &var_proxy_login_timeout,
	    "How long a client may take from connecting to logging in." },
	{ "proxy_idle_timeout", PARAM_TIME, "30m", 1 * SEC, 1 * DAY,
	    &var_proxy_idle_timeout,
	    "How long a proxied session may pass no byte either way." },
	{ "proxy_line_limit", PARAM_INT, "8192", 512, 65536,
	    &var_proxy_line_limit,
	    "The longest command line (or command with its literals) "
	    "proxyd reads before login." },
	{ "proxy_bad_command_limit", PARAM_INT, "10", 1, 1000,
	    &var_proxy_bad_command_limit,
	    "Bad or unknown commands before login after which proxyd "
	    "disconnects." },

	/* smtpd (smtpd(8)). */
	{ "smtpd_mode", PARAM_STR, "mx", 0, 0, &var_smtpd_mode,
	    "mx (port 25: mail for our domains, no AUTH) or submission "
	    "(587 and 465: AUTH required before MAIL, any destination); "
	    "set per listener with -o." },
	{ "smtpd_banner", PARAM_STR, "ESMTP ispmail", 0, 0, &var_smtpd_banner,
	    "The text after the host name in the 220 greeting." },
	{ "message_size_limit", PARAM_SIZE, "10M", 0, 1 * TIB, &var_message_size_limit,
	    "The largest message accepted (smtpd, lmtpd), in bytes as "
	    "received; 0 means no limit." },
	{ "queue_minfree", PARAM_SIZE, "100M", 0, 1 * TIB, &var_queue_minfree,
	    "Free space smtpd keeps in the queue file system: MAIL is "
	    "answered 452 4.3.1 when less than this plus the SIZE given "
	    "is free (0: only the SIZE)." },
	{ "smtpd_recipient_limit", PARAM_INT, "1000", 1, 100000, &var_smtpd_recipient_limit,
	    "The most recipients of one message." },
	{ "smtpd_timeout", PARAM_TIME, "300s", 1 * SEC, 1 * HOUR, &var_smtpd_timeout,
	    "How long smtpd waits for a client's next command or data "
	    "line, and to send a reply." },
	{ "smtpd_stress_timeout", PARAM_TIME, "10s", 1 * SEC, 1 * HOUR,
	    &var_smtpd_stress_timeout,
	    "smtpd_timeout while the service is under stress (all its "
	    "processes busy at maxproc), when shorter." },
	{ "smtpd_junk_command_limit", PARAM_INT, "100", 1, 100000,
	    &var_smtpd_junk_command_limit,
	    "Commands that make no progress (NOOP, RSET, VRFY, HELP, a "
	    "repeated HELO/EHLO) after which a session ends with 421; "
	    "the count starts again after each queued message." },
	{ "smtpd_error_limit", PARAM_INT, "20", 1, 1000, &var_smtpd_error_limit,
	    "Bad commands after which a session is disconnected with 421." },
	{ "smtpd_line_limit", PARAM_SIZE, "2048", 512, 64 * KIB, &var_smtpd_line_limit,
	    "The longest command line (RFC 5321 allows 512 octets plus "
	    "extensions' parameters)." },
	{ "smtpd_data_line_limit", PARAM_INT, "998", 998, 1000000, &var_smtpd_data_line_limit,
	    "The longest message line in DATA, without its CRLF (RFC "
	    "5321: 998); a message with a longer line is refused with 554 "
	    "5.6.0." },
	{ "smtpd_direct_delivery", PARAM_BOOL, "yes", 0, 0,
	    &var_smtpd_direct_delivery,
	    "MX mode: when every recipient of a message is a mailbox this "
	    "host's lmtpd delivers and none asks NOTIFY=SUCCESS, offer it "
	    "to lmtp_local_nexthop before answering and queue only what "
	    "lmtpd did not take (one durable write per message)." },
	{ "smtpd_direct_timeout", PARAM_TIME, "10s", 1 * SEC, 1 * HOUR,
	    &var_smtpd_direct_timeout,
	    "Direct delivery: the deadline for the connection to lmtpd and "
	    "for each of its replies; past it the message is queued." },
	{ "smtpd_direct_connect_timeout", PARAM_TIME, "2s", 1 * SEC, 1 * HOUR,
	    &var_smtpd_direct_connect_timeout,
	    "Direct delivery: the deadline for the connection to lmtpd and "
	    "its greeting (at most smtpd_direct_timeout); an lmtpd with "
	    "every process busy greets late, and the message is queued "
	    "at once instead of holding the client." },
	{ "smtpd_sender_login_match", PARAM_BOOL, "yes", 0, 0, &var_smtpd_sender_login_match,
	    "Submission: the envelope sender must be an address of the "
	    "authenticated mailbox (its address or an alternate address)." },
	{ "mynetworks", PARAM_LIST, "", 0, 0, &var_mynetworks,
	    "The ISP's own hosts (addresses or address/prefix networks) "
	    "that may relay through smtpd without AUTH, on mx and "
	    "submission listeners, and whose envelope sender chooses the "
	    "outbound class; empty: none, every relay needs a login." },
	{ "local_submit_users", PARAM_LIST, "*", 0, 0, &var_local_submit_users,
	    "Users of this host who may send mail with ispmail-sendmail "
	    "through smtpd's UNIX socket (public/sendmail), relaying as a "
	    "host of mynetworks does; * means every user, empty nobody." },
	{ "smtpd_strict_helo_syntax", PARAM_BOOL, "yes", 0, 0, &var_smtpd_strict_helo_syntax,
	    "HELO/EHLO must name a domain or an address literal (RFC 5321 "
	    "4.1.2), else 501 5.5.2; no: other printable names are taken "
	    "and logged, a control character, space or non-ASCII byte "
	    "never." },
	{ "smtpd_forbid_bare_newline", PARAM_STR, "normalize", 0, 0, &var_smtpd_forbid_bare_newline,
	    "smtpd and lmtpd, DATA and BDAT: normalize (a bare CR or bare "
	    "LF in the message is stored as CRLF) or reject (such a "
	    "message gets 550 5.5.2); only CRLF.CRLF ends DATA either "
	    "way." },
	/* Content filtering at the end of DATA (smtpd(8) CONTENT FILTER). */
	{ "spamd_servers", PARAM_LIST, "", 0, 0, &var_spamd_servers,
	    "SpamAssassin spamd hosts (host:port or [IPv6]:port), tried "
	    "in order; empty: no spam scanning." },
	{ "clamd_servers", PARAM_LIST, "", 0, 0, &var_clamd_servers,
	    "ClamAV clamd hosts (host:port or [IPv6]:port) for INSTREAM, "
	    "tried in order; empty: no virus scanning." },
	{ "filter_connection_limit", PARAM_INT, "10", 0, 100000,
	    &var_filter_connection_limit,
	    "Scans in flight per filter host across every smtpd of this "
	    "machine; a full host is skipped for the next; 0: no limit." },
	{ "filter_server_capacity", PARAM_INT, "0", 0, 10000000,
	    &var_filter_server_capacity,
	    "Scans one filter host serves at once (spamd --max-children, "
	    "clamd MaxThreads), for ispmailctl check; 0: unknown." },
	{ "filter_connect_timeout", PARAM_TIME, "2s", 1 * SEC, 1 * MIN,
	    &var_filter_connect_timeout,
	    "How long smtpd waits for a filter host to accept a "
	    "connection before it tries the next." },
	{ "filter_scan_timeout", PARAM_TIME, "60s", 1 * SEC, 1 * HOUR,
	    &var_filter_scan_timeout,
	    "How long a filter host may take to answer one scan; past it "
	    "the scan failed (and counts toward filter_poison_limit)." },
	{ "filter_size_limit", PARAM_SIZE, "10M", 0, 1LL << 40,
	    &var_filter_size_limit,
	    "Messages larger than this are not scanned (an X-Spam-Status: "
	    "header says so); keep it at or below clamd's StreamMaxLength; "
	    "0: no limit." },
	{ "filter_failure_action", PARAM_STR, "defer", 0, 0,
	    &var_filter_failure_action,
	    "When no filter host answers: defer (451 4.7.1) or accept "
	    "(deliver unscanned with a header that says so)." },
	{ "filter_outbound_spam_score", PARAM_INT, "10", 1, 1000,
	    &var_filter_outbound_spam_score,
	    "Submission: a message with a spam score at or above this is "
	    "held (hold/) with the reason and an alarm naming the login." },
	{ "filter_poison_limit", PARAM_INT, "3", 1, 1000,
	    &var_filter_poison_limit,
	    "A message (SHA-256 of its bytes) whose scan failed this many "
	    "times (filter reset or hung, smtpd died) is poison: isolated "
	    "per filter_poison_action and never scanned again." },
	{ "filter_poison_action", PARAM_STR, "defer", 0, 0,
	    &var_filter_poison_action,
	    "What a poison message gets: defer (451 4.7.0 for good) or "
	    "hold (accepted unscanned into hold/ with the reason)." },
	{ "filter_poison_time", PARAM_TIME, "1d", 1 * MIN, 30 * DAY,
	    &var_filter_poison_time,
	    "How long a failed scan counts toward filter_poison_limit." },
	{ "filter_junk_folder", PARAM_STR, "Junk", 0, 0,
	    &var_filter_junk_folder,
	    "The folder (XFOLDER to lmtpd) for mail at or above a "
	    "recipient's tag score." },
	{ "quarantine_retention", PARAM_TIME, "30d", 0, 36500 * DAY,
	    &var_quarantine_retention,
	    "How long quarantined mail is kept before `ispmailctl "
	    "quarantine expire` removes it (0: kept until deleted)." },
	/* DNS resolver (every daemon that uses DNS) and reputation checks. */
	{ "dns_servers", PARAM_LIST, "", 0, 0, &var_dns_servers,
	    "DNS servers to ask (IP, IP:port or [IPv6]:port, space "
	    "separated); empty: those of /etc/resolv.conf." },
	{ "dns_timeout", PARAM_TIME, "5s", 1 * SEC, 1 * MIN, &var_dns_timeout,
	    "How long the resolver waits for one answer from one server "
	    "before it retries." },
	{ "dns_tries", PARAM_INT, "2", 1, 10, &var_dns_tries,
	    "How often the resolver asks each server before a lookup fails "
	    "temporarily." },
	{ "dnsbl_sites", PARAM_LIST, "", 0, 0, &var_dnsbl_sites,
	    "smtpd mx mode: DNS block lists asked in parallel about each "
	    "client, as zone[=filter][*weight] or zone=weight (e.g. "
	    "zen.example=127.0.0.[2..11]*2 bl.example=1)." },
	{ "dnsbl_threshold", PARAM_INT, "1", 1, 10000, &var_dnsbl_threshold,
	    "The reputation score (block list weights and the optional "
	    "checks' weights, summed) at which smtpd refuses a client's "
	    "recipients (all but the postmaster) with 554 5.7.1." },
	{ "dnsbl_allow_networks", PARAM_LIST, "", 0, 0, &var_dnsbl_allow_networks,
	    "Client networks (address or address/prefix, IPv4 or IPv6) "
	    "that smtpd never checks for reputation." },
	{ "smtpd_fcrdns_weight", PARAM_INT, "0", -1000, 1000, &var_smtpd_fcrdns_weight,
	    "Score added when the client's reverse DNS name does not "
	    "resolve back to its address (FCrDNS); 0 turns the check off." },
	{ "smtpd_helo_weight", PARAM_INT, "0", -1000, 1000, &var_smtpd_helo_weight,
	    "Score added at RCPT when the HELO/EHLO name is neither a "
	    "domain of two labels or more nor an address literal; 0 turns "
	    "the check off." },
	{ "smtpd_pregreet_time", PARAM_TIME, "0", 0, 1 * MIN, &var_smtpd_pregreet_time,
	    "How long smtpd waits before its greeting to catch clients "
	    "that talk first (pregreet); 0 turns the check off." },
	{ "smtpd_pregreet_weight", PARAM_INT, "1", -1000, 1000, &var_smtpd_pregreet_weight,
	    "Score added for a client that talked before the greeting." },
	/* Sender authentication: SPF, DKIM, DMARC (smtpd_authres.c). */
	{ "smtpd_sender_auth", PARAM_BOOL, "no", 0, 0, &var_smtpd_sender_auth,
	    "smtpd mx mode: check SPF, DKIM and DMARC at the end of DATA "
	    "and prepend one Authentication-Results header field." },
	{ "smtpd_authserv_id", PARAM_STR, "", 0, 0, &var_smtpd_authserv_id,
	    "The authserv-id of our Authentication-Results header fields "
	    "(RFC 8601); incoming fields that claim it are removed; empty: "
	    "myhostname." },
	{ "smtpd_sender_auth_timeout", PARAM_TIME, "20s", 1 * SEC, 5 * MIN, &var_smtpd_sender_auth_timeout,
	    "The time all DNS lookups of one message's SPF, DKIM and DMARC "
	    "checks may take together; what is left unanswered is a "
	    "temporary error (temperror), never a failure." },
	{ "smtpd_dmarc_reject_policy", PARAM_STR, "honour", 0, 0, &var_smtpd_dmarc_reject_policy,
	    "What smtpd does with mail whose DMARC policy says reject: "
	    "honour (550 5.7.1 when every recipient honours it) or junk "
	    "(accept it into each recipient's Junk folder); a mailbox's "
	    "dmarc= routing attribute overrides it." },
	{ "smtpd_dmarc_junk_domains", PARAM_LIST, "", 0, 0, &var_smtpd_dmarc_junk_domains,
	    "Recipient domains whose customers take DMARC p=reject mail "
	    "into Junk instead of having it refused." },
	{ "dmarc_public_suffix_file", PARAM_STR, "/usr/share/publicsuffix/public_suffix_list.dat", 0, 0, &var_dmarc_public_suffix_file,
	    "The public suffix list that finds organizational domains for "
	    "DMARC relaxed alignment (RFC 7489 3.2)." },
	{ "smtpd_dkim_signing", PARAM_BOOL, "yes", 0, 0, &var_smtpd_dkim_signing,
	    "smtpd submission mode: DKIM-sign mail of authenticated and "
	    "mynetworks clients whose From: domain has keys in "
	    "dkim_key_directory." },
	{ "dkim_key_directory", PARAM_STR, "$config_directory/dkim", 0, 0, &var_dkim_key_directory,
	    "DKIM signing keys: a directory per domain holding the private "
	    "keys and the selectors file (ispmailctl(8) dkim)." },
	{ "dkim_key_ttl", PARAM_TIME, "1d", 1 * MIN, 30 * DAY, &var_dkim_key_ttl,
	    "The TTL of published DKIM key records: ispmailctl dkim rotate "
	    "keeps signing with the old selector this long, until the new "
	    "record has reached every cache." },

	/* The queue and qmgr (qmgr(8), ispmail-queue(5)). */
	{ "queue_hash_depth", PARAM_INT, "1", 0, 2, &var_queue_hash_depth,
	    "Subdirectory levels of the queue directories (named by the "
	    "last characters of the queue id), for large queues." },
	{ "queue_run_delay", PARAM_TIME, "300s", 1 * SEC, 1 * DAY, &var_queue_run_delay,
	    "How often qmgr scans incoming/ (for mail whose notice was "
	    "lost) and deferred/ (for mail that is due)." },
	{ "minimal_backoff", PARAM_TIME, "300s", 1 * SEC, 1 * DAY, &var_minimal_backoff,
	    "The shortest wait before a deferred message is tried "
	    "again, and how long a next hop that is down is left alone." },
	{ "maximal_backoff", PARAM_TIME, "4000s", 1 * SEC, 7 * DAY, &var_maximal_backoff,
	    "The longest wait between two attempts; in between, the "
	    "wait grows with the message's age (so young mail gets the "
	    "delivery slots), with 10% jitter." },
	{ "maximal_queue_lifetime", PARAM_TIME, "5d", 1 * SEC, 100 * DAY, &var_maximal_queue_lifetime,
	    "How long a message is retried before it bounces." },
	{ "delay_warning_time", PARAM_TIME, "4h", 0, 100 * DAY, &var_delay_warning_time,
	    "After how long the sender of a message still not delivered "
	    "is told so, once (0: never)." },
	{ "qmgr_message_active_limit", PARAM_INT, "20000", 1, 10000000, &var_qmgr_message_active_limit,
	    "The most messages qmgr holds in memory (in active/) at "
	    "once; the rest wait in incoming/ and deferred/." },
	{ "qmgr_orphan_age", PARAM_TIME, "5m", 1 * SEC, 1 * DAY,
	    &var_qmgr_orphan_age,
	    "How long a file may sit in active/ without qmgr holding it "
	    "before qmgr takes it again (checked that often)." },
	{ "qmgr_destination_concurrency_limit", PARAM_INT, "20", 1, 10000, &var_qmgr_destination_concurrency_limit,
	    "The most deliveries to one next hop (store host, remote "
	    "domain) at once." },
	{ "qmgr_agent_limit", PARAM_INT, "100", 1, 100000, &var_qmgr_agent_limit,
	    "The most deliveries in progress at once over all next "
	    "hops; keep it at or below the agents' maxproc in "
	    "master.conf." },
	{ "qmgr_agent_timeout", PARAM_TIME, "600s", 1 * SEC, 1 * DAY, &var_qmgr_agent_timeout,
	    "How long qmgr waits for a delivery agent's answer before "
	    "it defers the recipients." },
	{ "postmaster_address", PARAM_STR, "", 0, 0, &var_postmaster_address,
	    "Where bounces that cannot be returned (the sender was "
	    "null) go; empty means postmaster@$myhostname." },
	{ "bounce_size_limit", PARAM_SIZE, "50k", 0, 1 * GIB, &var_bounce_size_limit,
	    "The largest original message returned in full in a bounce; "
	    "bigger ones are returned as headers only (0: always in "
	    "full)." },
	{ "lmtp_local_nexthop", PARAM_STR, "unix:private/lmtpd", 0, 0,
	    &var_lmtp_local_nexthop,
	    "Where qmgr delivers mail for mailboxes whose mailHost is "
	    "one of local_mail_hosts: unix:path of lmtpd's socket (a "
	    "relative path is under queue_directory), or host:port." },
	{ "lmtp_port", PARAM_INT, "24", 1, 65535, &var_lmtp_port,
	    "The lmtpd port on other store hosts (mailHost without a "
	    "port)." },
	{ "srs_domain", PARAM_STR, "", 0, 0, &var_srs_domain,
	    "The domain of SRS addresses: the envelope sender of mail "
	    "forwarded to a remote address is rewritten into it, and "
	    "smtpd accepts bounces to it only when they decode; a domain "
	    "of its own, not otherwise routed (empty: SRS off)." },
	{ "srs_secret_file", PARAM_STR, "", 0, 0, &var_srs_secret_file,
	    "The file of SRS secrets, one a line: the first signs, all "
	    "are accepted (add a new one at the top, drop the old one "
	    "after srs_max_age); readable by the mail user only." },
	{ "srs_max_age", PARAM_TIME, "21d", 1 * DAY, 1023 * DAY, &var_srs_max_age,
	    "How long an SRS address stays valid for bounces (whole "
	    "days)." },

	/* The mail archive (ispmail-archive(5)). */
	{ "archive_directory", PARAM_STR, "", 0, 0, &var_archive_directory,
	    "Where qmgr keeps the archive of mailboxes with archive=yes: a "
	    "directory per domain of sealed segment files, owned by the "
	    "mail owner (empty: mail to or from such a mailbox waits in "
	    "the queue)." },
	{ "archive_key_file", PARAM_STR, "", 0, 0, &var_archive_key_file,
	    "The file whose first line (32 bytes or more) is the HMAC key "
	    "that seals archive segments; kept outside archive_directory, "
	    "readable by the mail owner only." },
	{ "archive_segment_size", PARAM_SIZE, "64M", 1, 1 * GIB,
	    &var_archive_segment_size,
	    "An archive segment this big is sealed and a new one begun." },
	{ "archive_segment_age", PARAM_TIME, "1d", 1 * SEC, 366 * DAY,
	    &var_archive_segment_age,
	    "An archive segment this old is sealed at the next write to "
	    "its archive (or by ispmailctl archive seal)." },
	{ "archive_retention", PARAM_TIME, "0", 0, 36500 * DAY,
	    &var_archive_retention,
	    "How long archived mail is kept: sealed segments whose newest "
	    "record is older go (0: kept forever)." },
	{ "archive_domain_retention", PARAM_LIST, "", 0, 0,
	    &var_archive_domain_retention,
	    "Per-domain retention, domain=time items (example.com=3650d) "
	    "that override archive_retention." },

	/* The smtp delivery agent (smtp(8)). */
	{ "relayhost", PARAM_STR, "", 0, 0, &var_relayhost,
	    "Send all remote mail through this smarthost ([host]:port, "
	    "or a domain whose MX hosts are used) instead of the "
	    "recipients' MX hosts; empty: deliver directly." },
	{ "smtp_connect_timeout", PARAM_TIME, "30s", 1 * SEC, 1 * HOUR, &var_smtp_connect_timeout,
	    "How long the delivery agent waits for a connection to a "
	    "next hop (store host or remote MX)." },
	{ "smtp_command_timeout", PARAM_TIME, "300s", 1 * SEC, 1 * HOUR, &var_smtp_command_timeout,
	    "How long the delivery agent waits for the greeting and "
	    "each reply." },
	{ "smtp_data_timeout", PARAM_TIME, "600s", 1 * SEC, 1 * HOUR, &var_smtp_data_timeout,
	    "How long the delivery agent may take to send the message "
	    "and get the replies after it." },
	{ "smtp_connection_cache_time", PARAM_TIME, "10s", 0, 1 * HOUR, &var_smtp_connection_cache_time,
	    "How long the delivery agent keeps an idle connection for "
	    "the next request to the same next hop (0: close at once)." },
	{ "smtp_port", PARAM_INT, "25", 1, 65535, &var_smtp_port,
	    "The port of remote MX hosts (a next hop \"[host]:port\" "
	    "names its own)." },
	{ "smtp_bind_address", PARAM_STR, "", 0, 0, &var_smtp_bind_address,
	    "The IPv4 source address of outgoing SMTP connections (set "
	    "per smtp-CLASS service with -o); empty: the system's "
	    "choice." },
	{ "smtp_bind_address6", PARAM_STR, "", 0, 0, &var_smtp_bind_address6,
	    "The IPv6 source address of outgoing SMTP connections; "
	    "empty: the system's choice." },
	{ "smtp_helo_name", PARAM_STR, "", 0, 0, &var_smtp_helo_name,
	    "The name the delivery agent gives in EHLO, HELO and LHLO; "
	    "empty: myhostname." },
	{ "smtp_mx_address_limit", PARAM_INT, "5", 0, 100, &var_smtp_mx_address_limit,
	    "How many MX host addresses one delivery attempt tries at "
	    "most (0: all)." },
	{ "smtp_loop_addresses", PARAM_LIST, "", 0, 0, &var_smtp_loop_addresses,
	    "Addresses that reach this host besides its own interfaces "
	    "(NAT, proxies): an MX at one of them is ourselves." },
	{ "smtp_tls_security_level", PARAM_STR, "may", 0, 0, &var_smtp_tls_security_level,
	    "STARTTLS to remote hosts: none, may (opportunistic), "
	    "encrypt (required) or verify (required, certificate and MX "
	    "name checked)." },
	{ "smtp_tls_policy", PARAM_STR, "", 0, 0, &var_smtp_tls_policy,
	    "Per-domain TLS levels: \"domain=level ...\", or the absolute "
	    "path of a file of \"domain level\" lines; .domain matches "
	    "subdomains." },
	{ "smtp_tls_ca_file", PARAM_STR, "", 0, 0, &var_smtp_tls_ca_file,
	    "The CA certificates (PEM) the verify level and MTA-STS "
	    "trust (SMTP and the policy fetch); empty: the system's CA "
	    "store." },
	{ "smtp_dnssec_resolvers", PARAM_LIST, "", 0, 0,
	    &var_smtp_dnssec_resolvers,
	    "Validating resolvers whose AD bit the delivery agent trusts "
	    "(IP, IP:port or [IPv6]:port); set, the agent asks them "
	    "instead of dns_servers and uses DANE; empty: DANE off." },
	{ "smtp_mta_sts", PARAM_BOOL, "yes", 0, 0, &var_smtp_mta_sts,
	    "Look up, fetch, cache and apply the MTA-STS policies "
	    "(RFC 8461) of MX-routed destinations." },
	{ "smtp_mta_sts_timeout", PARAM_TIME, "10s", 1 * SEC, 1 * MIN,
	    &var_smtp_mta_sts_timeout,
	    "How long fetching one MTA-STS policy over HTTPS may take "
	    "in all (connect, TLS, transfer)." },
	{ "smtp_mta_sts_port", PARAM_INT, "443", 1, 65535,
	    &var_smtp_mta_sts_port,
	    "The HTTPS port of mta-sts.DOMAIN policy hosts; anything but "
	    "443 is for tests." },

	/* lmtpd (lmtpd(8)). */
	{ "lmtp_timeout", PARAM_TIME, "300s", 1 * SEC, 1 * HOUR,
	    &var_lmtp_timeout,
	    "How long lmtpd waits for a command line, a line of message "
	    "data or a write to the client." },
	{ "lmtp_line_length_limit", PARAM_SIZE, "2048", 512, 1 * MIB,
	    &var_lmtp_line_length_limit,
	    "The longest LMTP command line lmtpd accepts." },
	{ "lmtp_message_line_limit", PARAM_SIZE, "64k", 998, 16 * MIB,
	    &var_lmtp_message_line_limit,
	    "The longest line of message data lmtpd accepts; a message "
	    "with a longer line is refused for every recipient." },
	{ "lmtp_message_size_limit", PARAM_SIZE, "64M", 1 * KIB, 4 * GIB,
	    &var_lmtp_message_size_limit,
	    "The largest message lmtpd accepts (announced with SIZE)." },
	{ "lmtp_recipient_limit", PARAM_INT, "1000", 1, 100000,
	    &var_lmtp_recipient_limit,
	    "The most recipients lmtpd accepts in one transaction." },
	{ "lmtp_bad_command_limit", PARAM_INT, "20", 1, 1000,
	    &var_lmtp_bad_command_limit,
	    "Bad or unknown commands after which lmtpd ends a session." },
	{ "lmtp_quota_full_permanent", PARAM_BOOL, "yes", 0, 0,
	    &var_lmtp_quota_full_permanent,
	    "Refuse mail for a full mailbox with 552 5.2.2 (the sender gets "
	    "a bounce) instead of 452 4.2.2 (the queue retries)." },
	{ "lmtp_spool_memory_limit", PARAM_SIZE, "1M", 0, 1 * GIB,
	    &var_lmtp_spool_memory_limit,
	    "Messages up to this size are held in memory between DATA and "
	    "delivery; larger ones go to a file in lmtp_temp_directory." },
	{ "lmtp_temp_directory", PARAM_STR, "/tmp", 0, 0,
	    &var_lmtp_temp_directory,
	    "Where lmtpd keeps large messages during delivery, in files "
	    "that have no name (removed at once)." },
	{ "lmtp_lock_timeout", PARAM_TIME, "30s", 1 * SEC, 10 * MIN,
	    &var_lmtp_lock_timeout,
	    "How long lmtpd waits for a mailbox's maildirsize lock before "
	    "it answers with a temporary failure." },
	{ "lmtp_lock_stale_time", PARAM_TIME, "2m", 1 * SEC, 1 * HOUR,
	    &var_lmtp_lock_stale_time,
	    "A maildirsize lock older than this was left by a crashed "
	    "process and is broken." },
	{ "lmtp_duplicate_window", PARAM_TIME, "1h", 0, 7 * DAY,
	    &var_lmtp_duplicate_window,
	    "How long lmtpd remembers an MX queue id delivered to a "
	    "mailbox and answers a second delivery of it 250 without a "
	    "copy (0: off)." },
	{ "lmtp_trusted_networks", PARAM_LIST, "", 0, 0,
	    &var_lmtp_trusted_networks,
	    "The clients lmtpd accepts on a TCP listener (addresses or "
	    "address/prefix networks, IPv4 and IPv6); any other client "
	    "gets 421 and a log line.  Empty: every TCP client is refused; "
	    "a unix socket is guarded by its directory's mode." },

	/* popd (popd(8)). */
	{ "pop_command_timeout", PARAM_TIME, "10m", 1 * SEC, 1 * HOUR,
	    &var_pop_command_timeout,
	    "How long popd waits for a client's next command, and to send "
	    "a reply (RFC 1939 asks for at least 10 minutes)." },
	{ "pop_login_timeout", PARAM_TIME, "60s", 1 * SEC, 1 * HOUR,
	    &var_pop_login_timeout,
	    "pop_command_timeout before the client has logged in, when "
	    "shorter." },
	{ "pop_stress_timeout", PARAM_TIME, "10s", 1 * SEC, 1 * HOUR,
	    &var_pop_stress_timeout,
	    "The POP3 timeouts while the service is under stress (all its "
	    "processes busy at maxproc), when shorter." },
	{ "pop_junk_command_limit", PARAM_INT, "20", 1, 100000,
	    &var_pop_junk_command_limit,
	    "Commands that make no progress (NOOP, and before login every "
	    "command that does not log in) after which a POP3 session is "
	    "disconnected." },
	{ "pop_max_bad_commands", PARAM_INT, "20", 1, 1000,
	    &var_pop_max_bad_commands,
	    "Bad commands after which a POP3 session is disconnected." },
	{ "pop_line_limit", PARAM_SIZE, "2048", 256, 64 * KIB,
	    &var_pop_line_limit,
	    "The longest POP3 command line, including an AUTH initial "
	    "response (RFC 2449: 255 octets, RFC 5034 allows more)." },
	{ "pop_login_delay", PARAM_TIME, "0s", 0, 1 * DAY,
	    &var_pop_login_delay,
	    "The shortest time between two POP3 logins to one mailbox "
	    "(RFC 2449 LOGIN-DELAY); 0 means no limit." },

	/* imapd (imapd(8)). */
	{ "imap_timeout", PARAM_TIME, "30m", 1 * SEC, 1 * DAY,
	    &var_imap_timeout,
	    "How long imapd waits for a client's command or for it to end "
	    "IDLE (RFC 3501 asks for at least 30 minutes)." },
	{ "imap_login_timeout", PARAM_TIME, "60s", 1 * SEC, 1 * HOUR,
	    &var_imap_login_timeout,
	    "imap_timeout before the client has logged in, when "
	    "shorter." },
	{ "imap_stress_timeout", PARAM_TIME, "10s", 1 * SEC, 1 * HOUR,
	    &var_imap_stress_timeout,
	    "The IMAP timeouts while the service is under stress (all its "
	    "processes busy at maxproc), when shorter." },
	{ "imap_command_size_limit", PARAM_SIZE, "64k", 1 * KIB, 16 * MIB,
	    &var_imap_command_size_limit,
	    "The longest IMAP command, its literals included (APPEND's "
	    "message excepted)." },
	{ "imap_argument_limit", PARAM_INT, "1000", 10, 100000,
	    &var_imap_argument_limit,
	    "The most arguments one IMAP command may have: atoms, strings, "
	    "literals and lists, nested ones included." },
	{ "imap_message_size_limit", PARAM_SIZE, "50M", 1 * KIB,
	    2047LL * MIB, &var_imap_message_size_limit,
	    "The largest message APPEND accepts." },
	{ "imap_junk_command_limit", PARAM_INT, "20", 1, 100000,
	    &var_imap_junk_command_limit,
	    "Commands before login that do not log in (CAPABILITY, NOOP, "
	    "ID, failed or bad ones) after which imapd ends a session." },
	{ "imap_bad_command_limit", PARAM_INT, "20", 1, 1000,
	    &var_imap_bad_command_limit,
	    "Invalid commands after which imapd ends a session." },
	{ "imap_idle_check_interval", PARAM_TIME, "2s", 1 * SEC, 1 * MIN,
	    &var_imap_idle_check_interval,
	    "How often a session in IDLE rescans its folder besides "
	    "the inotify events that wake it at once." },
	{ "imap_client_limit", PARAM_INT, "1", 1, 10000,
	    &var_imap_client_limit,
	    "Sessions one imapd process serves at once (1: a process per "
	    "session)." },
	{ "imap_admin_logins", PARAM_LIST, "", 0, 0, &var_imap_admin_logins,
	    "Logins (addresses in the routing directory, checked with "
	    "their own password) that may open any mailbox with SASL PLAIN "
	    "and an authorization identity, as ispmailctl mailbox move "
	    "does; empty: nobody." },
	{ "imap_admin_networks", PARAM_LIST, "127.0.0.0/8 ::1", 0, 0,
	    &var_imap_admin_networks,
	    "The clients (addresses or address/prefix networks) from which "
	    "imap_admin_logins are accepted." },
	{ "mailbox_move_imap_port", PARAM_INT, "143", 1, 65535,
	    &var_mailbox_move_imap_port,
	    "The IMAP port of the source store host's imapd that "
	    "ispmailctl mailbox move pulls a mailbox from." },
	{ "mailbox_move_credentials_file", PARAM_STR, "", 0, 0,
	    &var_mailbox_move_credentials_file,
	    "The file holding the administrator login of a mailbox move, "
	    "one line \"login:password\" (a login of the source's "
	    "imap_admin_logins); empty: $config_directory/move-credentials." },
	{ "mailbox_move_tls", PARAM_STR, "may", 0, 0, &var_mailbox_move_tls,
	    "TLS of a mailbox move's IMAP session: none; may (STARTTLS when "
	    "the source offers it); encrypt (STARTTLS or fail)." },
	{ "mailbox_move_tls_ca_file", PARAM_STR, "", 0, 0,
	    &var_mailbox_move_tls_ca_file,
	    "CA certificates the source's certificate must verify against "
	    "(with its host name); empty: TLS without authentication." },
	{ "mailbox_move_connect_timeout", PARAM_TIME, "10s", 1 * SEC,
	    10 * MIN, &var_mailbox_move_connect_timeout,
	    "How long a mailbox move waits for the source's imapd to "
	    "accept the connection (each address)." },
	{ "mailbox_move_timeout", PARAM_TIME, "60s", 1 * SEC, 1 * HOUR,
	    &var_mailbox_move_timeout,
	    "How long a mailbox move waits for each read (a line, or a "
	    "whole literal) and each write on the IMAP session." },
	{ "mailbox_move_line_limit", PARAM_SIZE, "64k", 1 * KIB, 16 * MIB,
	    &var_mailbox_move_line_limit,
	    "The longest response line a mailbox move accepts from the "
	    "source (literals are counted apart)." },
	{ "mailbox_move_message_size_limit", PARAM_SIZE, "100M", 1 * KIB,
	    2047LL * MIB, &var_mailbox_move_message_size_limit,
	    "The largest message (IMAP literal) a mailbox move accepts; a "
	    "larger one fails the move." },
	{ "mailbox_move_final_changes", PARAM_INT, "100", 0, 10000000,
	    &var_mailbox_move_final_changes,
	    "A pass that copied or changed at most this many messages is "
	    "followed by the final pass under the moving state." },
	{ "mailbox_move_max_passes", PARAM_INT, "5", 1, 100,
	    &var_mailbox_move_max_passes,
	    "The most passes before the final one, however many changes "
	    "the last made." },

	{ NULL, PARAM_STR, NULL, 0, 0, NULL, NULL },
};

const char *
mail_hostname(void)
{
	static char host[256];

	if (var_myhostname != NULL && *var_myhostname != '\0')
		return var_myhostname;
	if (host[0] == '\0') {
		if (gethostname(host, sizeof(host) - 1) < 0 || host[0] == '\0')
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
	}
	return host;
}

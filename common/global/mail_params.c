/* mail_params: the one table of main.conf parameters and their variables. */
#include "config.h"
#include <unistd.h>
#include <stdio.h>

#include <stddef.h>

#include "fileio.h"
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
int var_auth_hash_memory_keep;

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
int var_smtpd_arc_sealing;
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
int var_smtp_tlsrpt_enable;
long long var_smtp_tlsrpt_journal_size_limit;
char *var_tlsrpt_organization_name;
char *var_tlsrpt_contact_info;
char *var_tlsrpt_sender_address;
long long var_tlsrpt_journal_lifetime;
long long var_tlsrpt_timeout;

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
char *var_proxy_login_token_file;
char *var_proxy_login_token_digests;
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
long long var_ldap_domain_cache_ttl;
char *var_ldap_address_attributes;
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
 * A new parameter is one row in the mail_params_*.inc file of its concern
 * (plus its variable above and its extern in mail_params.h) and one entry
 * in man/main.conf.5 or one of its main.conf.TOPIC.5 pages, which
 * check_params verifies.  min and max matter for INT, TIME and SIZE only.
 */
const struct param_def param_table[] = {
#include "mail_params_core.inc"
#include "mail_params_route.inc"
#include "mail_params_smtpd.inc"
#include "mail_params_delivery.inc"
#include "mail_params_access.inc"

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

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
extern int var_allow_root_services;
extern char *var_myhostname;

/* Logging. */
extern char *var_syslog_name;
extern char *var_syslog_facility;
extern char *var_maillog_file;
extern long long var_trace_line_limit;
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
extern int var_service_keep_running;

/* Client connection limits (anvil(8), anvil_client.h). */
extern long long var_anvil_table_limit;
extern long long var_anvil_rate_time_unit;
extern long long var_anvil_connection_limit;
extern long long var_anvil_timeout;
extern char *var_client_limit_exceptions;
extern long long var_smtpd_client_connection_count_limit;
extern long long var_smtpd_client_connection_rate_limit;
extern long long var_smtpd_login_message_rate_limit;
extern long long var_smtpd_login_recipient_rate_limit;
extern long long var_pop_client_connection_count_limit;
extern long long var_pop_client_connection_rate_limit;
extern long long var_imap_client_connection_count_limit;
extern long long var_imap_client_connection_rate_limit;

/* Proxies that name the real client (proxy_trust.h). */
extern char *var_proxy_trusted_networks;
extern int var_proxy_protocol;

/* Internal protocol limits. */
extern long long var_line_length_limit;
extern long long var_attr_value_limit;
extern long long var_attr_count_limit;

/* The mailbox store (provisioning). */
extern char *var_store_root;
extern char *var_store_owner;
extern char *var_local_mail_hosts;
extern long long var_default_quota;

/* LDAP routing backend (route_ldap.c, ispmail-ldap(5)). */
extern char *var_ldap_server_uris;
extern char *var_ldap_base_dn;
extern char *var_ldap_bind_dn;
extern char *var_ldap_bind_password_file;
extern char *var_ldap_provision_bind_dn;
extern char *var_ldap_provision_bind_password_file;
extern int var_ldap_start_tls;
extern char *var_ldap_tls_ca_file;
extern long long var_ldap_connect_timeout;
extern long long var_ldap_search_timeout;
extern long long var_ldap_pool_size;
extern long long var_metricsd_connection_limit;
extern long long var_metricsd_timeout;
extern long long var_ldap_server_capacity;
extern long long var_baseline_learning_samples;
extern long long var_baseline_alarm_spreads;
extern long long var_baseline_alarm_samples;
extern char *var_baseline_alarm_command;
extern long long var_baseline_sample_time;
extern long long var_account_alarm_window;
extern long long var_account_alarm_factor;
extern long long var_account_alarm_minimum;
extern long long var_account_alarm_history;
extern char *var_account_alarm_action;
extern long long var_ldap_cache_positive_ttl;
extern long long var_ldap_cache_negative_ttl;
extern long long var_ldap_domain_cache_ttl;
extern long long var_ldap_cache_size;
extern char *var_ldap_address_attributes;

/* The routing directory (route.c, route_file.c, ispmail-routes(5)). */
extern char *var_route_backend;
extern char *var_route_file;
extern long long var_route_file_check_interval;
extern long long var_mailbox_state_check_interval;
extern char *var_recipient_delimiter;
extern int var_route_case_sensitive_local;
extern long long var_route_expansion_depth;
extern int var_ldap_auth_bind;	/* used by route.c, meaningful for ldap */

/* TLS and authentication, shared by every daemon that takes logins. */
extern char *var_tls_cert_file;
extern char *var_tls_key_file;
extern char *var_tls_min_protocol;
extern char *var_tls_ciphers;
extern int var_tls_wrapper_mode;
extern long long var_tls_handshake_timeout;
extern int var_auth_allow_plaintext;
extern long long var_auth_failure_delay;
extern long long var_auth_failure_limit;
extern int var_auth_hash_memory_keep;

/* smtpd (smtpd(8)). */
extern char *var_smtpd_mode;
extern char *var_smtpd_banner;
extern long long var_message_size_limit;
extern long long var_queue_minfree;
extern long long var_smtpd_recipient_limit;
extern long long var_smtpd_timeout;
extern long long var_smtpd_stress_timeout;
extern long long var_smtpd_junk_command_limit;
extern long long var_smtpd_error_limit;
extern long long var_smtpd_line_limit;
extern long long var_smtpd_data_line_limit;
extern int var_smtpd_sender_login_match;
extern int var_smtpd_direct_delivery;
extern long long var_smtpd_direct_timeout;
extern long long var_smtpd_direct_connect_timeout;
extern char *var_spamd_servers;
extern char *var_clamd_servers;
extern long long var_filter_connection_limit;
extern long long var_filter_connect_timeout;
extern long long var_filter_scan_timeout;
extern long long var_filter_size_limit;
extern char *var_filter_failure_action;
extern long long var_filter_outbound_spam_score;
extern long long var_filter_poison_limit;
extern char *var_filter_poison_action;
extern long long var_filter_poison_time;
extern long long var_quarantine_retention;
extern char *var_filter_junk_folder;
extern long long var_filter_server_capacity;
extern char *var_mynetworks;
extern char *var_local_submit_users;
extern int var_smtpd_strict_helo_syntax;
extern char *var_smtpd_forbid_bare_newline;
extern int var_smtpd_sender_auth;
extern char *var_smtpd_authserv_id;
extern long long var_smtpd_sender_auth_timeout;
extern char *var_smtpd_dmarc_reject_policy;
extern char *var_smtpd_dmarc_junk_domains;
extern char *var_dmarc_public_suffix_file;
extern int var_smtpd_dkim_signing;
extern int var_smtpd_arc_sealing;
extern char *var_dkim_key_directory;
extern long long var_dkim_key_ttl;
extern char *var_dns_servers;
extern long long var_dns_timeout;
extern long long var_dns_tries;
extern char *var_dnsbl_sites;
extern long long var_dnsbl_threshold;
extern char *var_dnsbl_allow_networks;
extern long long var_smtpd_fcrdns_weight;
extern long long var_smtpd_helo_weight;
extern long long var_smtpd_pregreet_time;
extern long long var_smtpd_pregreet_weight;

/* The queue and qmgr (qmgr(8), ispmail-queue(5)). */
extern long long var_queue_hash_depth;
extern long long var_queue_run_delay;
extern long long var_minimal_backoff;
extern long long var_maximal_backoff;
extern long long var_maximal_queue_lifetime;
extern long long var_delay_warning_time;
extern long long var_qmgr_message_active_limit;
extern long long var_qmgr_orphan_age;
extern long long var_qmgr_destination_concurrency_limit;
extern long long var_qmgr_agent_limit;
extern long long var_qmgr_agent_timeout;
extern char *var_postmaster_address;
extern long long var_bounce_size_limit;
extern char *var_lmtp_local_nexthop;
extern long long var_lmtp_port;
extern char *var_srs_domain;
extern char *var_srs_secret_file;
extern char *var_archive_directory;
extern char *var_archive_key_file;
extern long long var_archive_segment_size;
extern long long var_archive_segment_age;
extern long long var_archive_retention;
extern char *var_archive_domain_retention;
extern long long var_srs_max_age;

/* The smtp delivery agent (smtp(8)). */
extern char *var_relayhost;
extern long long var_smtp_connect_timeout;
extern long long var_smtp_command_timeout;
extern long long var_smtp_data_timeout;
extern long long var_smtp_connection_cache_time;
extern long long var_smtp_port;
extern char *var_smtp_bind_address;
extern char *var_smtp_bind_address6;
extern char *var_smtp_helo_name;
extern long long var_smtp_mx_address_limit;
extern char *var_smtp_loop_addresses;
extern char *var_smtp_tls_security_level;
extern char *var_smtp_tls_policy;
extern char *var_smtp_tls_ca_file;
extern char *var_smtp_dnssec_resolvers;
extern int var_smtp_mta_sts;
extern long long var_smtp_mta_sts_timeout;
extern long long var_smtp_mta_sts_port;
extern int var_smtp_tlsrpt_enable;
extern long long var_smtp_tlsrpt_journal_size_limit;
extern char *var_tlsrpt_organization_name;
extern char *var_tlsrpt_contact_info;
extern char *var_tlsrpt_sender_address;
extern long long var_tlsrpt_journal_lifetime;
extern long long var_tlsrpt_timeout;

/* lmtpd (lmtpd(8)). */
extern long long var_lmtp_timeout;
extern long long var_lmtp_line_length_limit;
extern long long var_lmtp_message_line_limit;
extern long long var_lmtp_message_size_limit;
extern long long var_lmtp_recipient_limit;
extern long long var_lmtp_bad_command_limit;
extern int var_lmtp_quota_full_permanent;
extern long long var_lmtp_spool_memory_limit;
extern char *var_lmtp_temp_directory;
extern long long var_lmtp_lock_timeout;
extern long long var_lmtp_lock_stale_time;
extern long long var_lmtp_duplicate_window;
extern char *var_lmtp_trusted_networks;

/* popd (popd(8)). */
extern long long var_pop_command_timeout;
extern long long var_pop_login_timeout;
extern long long var_pop_stress_timeout;
extern long long var_pop_junk_command_limit;
extern long long var_pop_max_bad_commands;
extern long long var_pop_line_limit;
extern long long var_pop_login_delay;

/* imapd (imapd(8)). */
extern long long var_imap_timeout;
extern long long var_imap_login_timeout;
extern long long var_imap_stress_timeout;
extern long long var_imap_junk_command_limit;
extern long long var_imap_command_size_limit;
extern long long var_imap_argument_limit;
extern long long var_imap_message_size_limit;
extern long long var_imap_bad_command_limit;
extern long long var_imap_idle_check_interval;
extern long long var_imap_client_limit;
extern char *var_imap_admin_logins;
extern char *var_imap_admin_networks;

/* ispmailctl mailbox move (ispmailctl(8)). */
extern long long var_mailbox_move_imap_port;
extern char *var_mailbox_move_credentials_file;
extern char *var_mailbox_move_tls;
extern char *var_mailbox_move_tls_ca_file;
extern long long var_mailbox_move_connect_timeout;
extern long long var_mailbox_move_timeout;
extern long long var_mailbox_move_line_limit;
extern long long var_mailbox_move_message_size_limit;
extern long long var_mailbox_move_final_changes;
extern long long var_mailbox_move_max_passes;

/* proxyd (proxyd(8)). */
extern char *var_proxy_front;
extern long long var_proxy_backend_port_imap;
extern long long var_proxy_backend_port_pop3;
extern long long var_proxy_backend_port_submission;
extern int var_proxy_backend_tls;
extern char *var_proxy_backend_ca_file;
extern char *var_proxy_backend_protocol;
extern long long var_proxy_host_down_time;
extern long long var_proxy_connect_timeout;
extern long long var_proxy_auth_timeout;
extern char *var_proxy_submission_hosts;
extern char *var_proxy_login_token_file;
extern char *var_proxy_login_token_digests;
extern long long var_proxy_max_sessions_per_ip;
extern long long var_proxy_max_sessions_per_user;
extern long long var_proxy_auth_fail_limit;
extern long long var_proxy_auth_fail_delay_max;
extern long long var_proxy_session_limit;
extern long long var_proxy_login_timeout;
extern long long var_proxy_idle_timeout;
extern long long var_proxy_line_limit;
extern long long var_proxy_bad_command_limit;

/*
 * This host's name for greetings, Received: lines and DSNs: myhostname,
 * or the name gethostname() returns ("localhost" if even that fails).
 */
const char *mail_hostname(void);

#endif

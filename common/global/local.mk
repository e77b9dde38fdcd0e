## common/global: what every part of the mail system shares (the
## parameter table, the service skeleton and master protocol, queue files,
## the anvil client).  Included by Makefile.am.
common_libispmail_a_SOURCES += \
	common/global/mail_params.c common/global/mail_params.h \
	common/global/mail_params_core.inc common/global/mail_params_route.inc \
	common/global/mail_params_smtpd.inc common/global/mail_params_delivery.inc \
	common/global/mail_params_access.inc \
	common/global/mail_host.c common/global/mail_host.h \
	common/global/service.c common/global/service.h \
	common/global/master_proto.h \
	common/global/qfile.c common/global/qfile.h \
	common/global/qfile_read.c common/global/qfile_update.c \
	common/global/anvil_client.c common/global/anvil_client.h \
	common/global/mailbox_state.c common/global/mailbox_state.h \
	common/global/tlsrpt_journal.c common/global/tlsrpt_journal.h
common_libispmail_a_SOURCES += \
	common/global/auth_client.c common/global/auth_client.h
check_PROGRAMS += tests/unit/check_auth_client
TESTS += tests/unit/check_auth_client
tests_unit_check_auth_client_SOURCES = tests/unit/check_auth_client.c
tests_unit_check_auth_client_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_auth_client_LDADD = $(UNIT_LDADD)
common_libispmail_a_SOURCES += \
	common/global/proxy_trust.c common/global/proxy_trust.h
check_PROGRAMS += tests/unit/check_proxy_trust
TESTS += tests/unit/check_proxy_trust
tests_unit_check_proxy_trust_SOURCES = tests/unit/check_proxy_trust.c
tests_unit_check_proxy_trust_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_proxy_trust_LDADD = $(UNIT_LDADD)
common_libispmail_a_SOURCES += \
	common/global/proxy_login.c common/global/proxy_login.h
check_PROGRAMS += tests/unit/check_proxy_login
TESTS += tests/unit/check_proxy_login
tests_unit_check_proxy_login_SOURCES = tests/unit/check_proxy_login.c \
	$(TREE_FIXTURE)
tests_unit_check_proxy_login_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_proxy_login_LDADD = $(UNIT_LDADD)
common_libispmail_a_SOURCES += \
	common/global/metrics.c common/global/metrics.h
check_PROGRAMS += tests/unit/check_metrics
TESTS += tests/unit/check_metrics
tests_unit_check_metrics_SOURCES = tests/unit/check_metrics.c \
	$(TREE_FIXTURE)
tests_unit_check_metrics_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_metrics_LDADD = $(UNIT_LDADD)
common_libispmail_a_SOURCES += \
	common/global/metrics_text.c common/global/metrics_text.h
common_libispmail_a_SOURCES += \
	common/global/account_store.c common/global/account_store.h
check_PROGRAMS += tests/unit/check_account_store
TESTS += tests/unit/check_account_store
tests_unit_check_account_store_SOURCES = tests/unit/check_account_store.c
tests_unit_check_account_store_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_account_store_LDADD = $(UNIT_LDADD)
check_PROGRAMS += tests/unit/check_mail_host
TESTS += tests/unit/check_mail_host
tests_unit_check_mail_host_SOURCES = tests/unit/check_mail_host.c
tests_unit_check_mail_host_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_mail_host_LDADD = $(UNIT_LDADD)

## Unit tests of the shared daemon modules (sasl, maildir, smtp_data, tls).
check_PROGRAMS += tests/unit/check_sasl tests/unit/check_maildir \
	tests/unit/check_maildir_quota tests/unit/check_maildir_faults \
	tests/unit/check_smtp_data tests/unit/check_tls
TESTS += tests/unit/check_sasl tests/unit/check_maildir \
	tests/unit/check_maildir_quota tests/unit/check_maildir_faults \
	tests/unit/check_smtp_data tests/unit/check_tls
tests_unit_check_sasl_SOURCES = tests/unit/check_sasl.c
tests_unit_check_sasl_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_sasl_LDADD = $(UNIT_LDADD)
MAILDIR_FIXTURE = tests/unit/maildir_fixture.c \
	tests/unit/maildir_fixture.h
tests_unit_check_maildir_SOURCES = tests/unit/check_maildir.c \
	$(MAILDIR_FIXTURE)
tests_unit_check_maildir_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_maildir_LDADD = $(UNIT_LDADD)
tests_unit_check_maildir_quota_SOURCES = \
	tests/unit/check_maildir_quota.c $(MAILDIR_FIXTURE)
tests_unit_check_maildir_quota_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_maildir_quota_LDADD = $(UNIT_LDADD)
tests_unit_check_maildir_faults_SOURCES = tests/unit/check_maildir_faults.c
tests_unit_check_maildir_faults_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_maildir_faults_LDADD = $(UNIT_LDADD)
tests_unit_check_smtp_data_SOURCES = tests/unit/check_smtp_data.c
tests_unit_check_smtp_data_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_smtp_data_LDADD = $(UNIT_LDADD)
tests_unit_check_tls_SOURCES = tests/unit/check_tls.c
tests_unit_check_tls_CFLAGS = $(UNIT_CFLAGS) $(OPENSSL_CFLAGS)
tests_unit_check_tls_LDADD = $(UNIT_LDADD)

## smtp: the delivery agent, built by the top-level Makefile.am.
pkglibexec_PROGRAMS += smtp/smtp
smtp_smtp_SOURCES = smtp/smtp.c smtp/smtp.h smtp/smtp_route.c \
	smtp/smtp_connect.c smtp/smtp_session.c smtp/smtp_session.h \
	smtp/smtp_transaction.c smtp/smtp_tls.c smtp/smtp_mta_sts.c \
	smtp/smtp_dane.c smtp/smtp_tlsrpt.c \
	common/net/https_easy.c common/net/https_easy.h
smtp_smtp_CFLAGS = $(AM_CFLAGS) $(CURL_CFLAGS)
smtp_smtp_LDADD = $(LIBISPMAIL) $(CURL_LIBS)
smtp_smtp_DEPENDENCIES = common/libispmail.a
dist_man8_MANS += man/smtp.8

# Unit tests of the agent's pure logic: next hop syntax, TLS policy.
check_PROGRAMS += tests/unit/check_smtp
TESTS += tests/unit/check_smtp
tests_unit_check_smtp_SOURCES = tests/unit/check_smtp.c \
	smtp/smtp_route.c smtp/smtp_tls.c smtp/smtp_mta_sts.c \
	common/net/https_easy.c
tests_unit_check_smtp_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/smtp
tests_unit_check_smtp_CFLAGS = $(UNIT_CFLAGS) $(CURL_CFLAGS)
tests_unit_check_smtp_LDADD = $(UNIT_LDADD) $(CURL_LIBS)

EXTRA_DIST += tests/integration/test_smtp_remote.py \
	tests/integration/test_smtp_inject.py \
	tests/integration/smtpremoteutil.py \
	tests/integration/test_smtp_dane.py \
	tests/integration/dnssecutil.py \
	tests/integration/test_smtp_mta_sts.py \
	tests/integration/test_tlsrpt.py

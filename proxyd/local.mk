## proxyd: built by the top-level Makefile.am (non-recursive).
pkglibexec_PROGRAMS += proxyd/proxyd
proxyd_proxyd_SOURCES = proxyd/proxyd.c proxyd/proxyd.h \
	proxyd/proxy_session.c proxyd/proxy_session.h \
	proxyd/proxy_conn.c proxyd/proxy_conn.h \
	proxyd/proxy_backend.c proxyd/proxy_backend.h \
	proxyd/proxy_hosts.c proxyd/proxy_hosts.h \
	proxyd/proxy_sasl.c proxyd/proxy_sasl.h \
	proxyd/proxy_limits.c proxyd/proxy_limits.h \
	proxyd/proxy_auth.c proxyd/proxy_auth.h proxyd/proxy_imap.c \
	proxyd/proxy_pop3.c proxyd/proxy_submission.c \
	imapd/imap_parse.c imapd/imap_parse.h
proxyd_proxyd_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/imapd
proxyd_proxyd_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS)
proxyd_proxyd_LDADD = $(LIBISPMAIL)
proxyd_proxyd_DEPENDENCIES = common/libispmail.a
dist_man8_MANS += man/proxyd.8
EXTRA_DIST += tests/integration/test_proxyd.py tests/integration/proxydutil.py \
	tests/integration/test_proxyd_pop3.py tests/integration/test_proxyd_limits.py \
	tests/integration/test_proxyd_memory.py tests/integration/test_proxyd_clients.py \
	tests/integration/test_proxyd_submission.py tests/integration/test_proxyd_lb.py \
	tests/integration/test_proxyd_token.py

check_PROGRAMS += tests/unit/check_proxyd
TESTS += tests/unit/check_proxyd
tests_unit_check_proxyd_SOURCES = tests/unit/check_proxyd.c \
	proxyd/proxy_hosts.c proxyd/proxy_hosts.h
tests_unit_check_proxyd_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/proxyd
tests_unit_check_proxyd_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_proxyd_LDADD = $(UNIT_LDADD)

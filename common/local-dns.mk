## common/dns: the c-ares resolver, and its tests.
common_libispmail_a_SOURCES += common/dns.c common/dns.h
check_PROGRAMS += tests/unit/check_dns
TESTS += tests/unit/check_dns
tests_unit_check_dns_SOURCES = tests/unit/check_dns.c
tests_unit_check_dns_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_dns_LDADD = $(UNIT_LDADD)
EXTRA_DIST += tests/integration/dnsutil.py
EXTRA_DIST += tests/integration/test_smtpd_reputation.py

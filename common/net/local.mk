## common/net: the network layer (buffered streams, TLS, the c-ares
## resolver, address/prefix lists) and the resolver's unit tests.
## Included by Makefile.am after the test lists are defined.
common_libispmail_a_SOURCES += \
	common/net/stream.c common/net/stream.h \
	common/net/tls.c common/net/tls.h \
	common/net/deflate.c common/net/deflate.h \
	common/net/dns.c common/net/dns.h common/net/dns_private.h \
	common/net/dns_parse.c common/net/dns_addr.c \
	common/net/netmatch.c common/net/netmatch.h \
	common/net/connect.c common/net/connect.h
check_PROGRAMS += tests/unit/check_dns
TESTS += tests/unit/check_dns
tests_unit_check_dns_SOURCES = tests/unit/check_dns.c
tests_unit_check_dns_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_dns_LDADD = $(UNIT_LDADD)
check_PROGRAMS += tests/unit/check_dns_parse
TESTS += tests/unit/check_dns_parse
tests_unit_check_dns_parse_SOURCES = tests/unit/check_dns_parse.c
tests_unit_check_dns_parse_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_dns_parse_LDADD = $(UNIT_LDADD)
check_PROGRAMS += tests/unit/check_connect
TESTS += tests/unit/check_connect
tests_unit_check_connect_SOURCES = tests/unit/check_connect.c
tests_unit_check_connect_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_connect_LDADD = $(UNIT_LDADD)
common_libispmail_a_SOURCES += common/net/haproxy.c common/net/haproxy.h
check_PROGRAMS += tests/unit/check_haproxy
TESTS += tests/unit/check_haproxy
tests_unit_check_haproxy_SOURCES = tests/unit/check_haproxy.c
tests_unit_check_haproxy_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_haproxy_LDADD = $(UNIT_LDADD)
# Content filter clients (smtpd's filter): spamd, clamd, the poll loop.
common_libispmail_a_SOURCES += common/net/scan_client.c \
	common/net/scan_client.h common/net/spamd_client.c \
	common/net/spamd_client.h common/net/clamd_client.c \
	common/net/clamd_client.h
check_PROGRAMS += tests/unit/check_scan_client
TESTS += tests/unit/check_scan_client
tests_unit_check_scan_client_SOURCES = tests/unit/check_scan_client.c
tests_unit_check_scan_client_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_scan_client_LDADD = $(UNIT_LDADD)

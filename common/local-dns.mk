## common/dns: the c-ares resolver, and its tests.
common_libispmail_a_SOURCES += common/dns.c common/dns.h

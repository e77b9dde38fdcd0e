## ispmailctl tlsrpt: the unit test of its record parser and the journal
## files (built by Makefile.am; the command itself is in ispmailctl).
check_PROGRAMS += tests/unit/check_tlsrpt
TESTS += tests/unit/check_tlsrpt
tests_unit_check_tlsrpt_SOURCES = tests/unit/check_tlsrpt.c \
	tools/ctl_tlsrpt_send.c tools/ctl_tlsrpt_int.h \
	common/net/https_easy.c common/net/https_easy.h
tests_unit_check_tlsrpt_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tools
tests_unit_check_tlsrpt_CFLAGS = $(UNIT_CFLAGS) $(CURL_CFLAGS) $(ZLIB_CFLAGS)
tests_unit_check_tlsrpt_LDADD = $(UNIT_LDADD) $(CURL_LIBS)

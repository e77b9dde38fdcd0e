## common/mime_decode: RFC 2047 encoded words, transfer encodings and
## charsets to UTF-8, for SEARCH (and later the filtering code).  Included
## by Makefile.am after common/local-srs.mk.
common_libispmail_a_SOURCES += common/mime_decode.c common/mime_decode.h
check_PROGRAMS += tests/unit/check_mime_decode
TESTS += tests/unit/check_mime_decode
tests_unit_check_mime_decode_SOURCES = tests/unit/check_mime_decode.c
tests_unit_check_mime_decode_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_mime_decode_LDADD = $(UNIT_LDADD)
EXTRA_DIST += tests/integration/test_imapd_search.py \
	tests/integration/test_imapd_list.py

## common/mime: the MIME parser and its IMAP views (used by imapd and,
## later, the filtering code).  Included by Makefile.am after imapd/local.mk.
common_libispmail_a_SOURCES += common/mime.c common/mime.h \
	common/mime_imap.c common/mime_imap.h
check_PROGRAMS += tests/unit/check_mime
TESTS += tests/unit/check_mime
tests_unit_check_mime_SOURCES = tests/unit/check_mime.c
tests_unit_check_mime_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_mime_LDADD = $(UNIT_LDADD)

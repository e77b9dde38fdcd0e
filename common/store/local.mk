## common/store: the mailbox store (paths, Maildir++).  Included by
## Makefile.am.
common_libispmail_a_SOURCES += \
	common/store/store.c common/store/store.h \
	common/store/maildir.c common/store/maildir.h \
	common/store/store_mark.c common/store/store_mark.h \
	common/store/archive.c common/store/archive_read.c \
	common/store/archive.h
check_PROGRAMS += tests/unit/check_archive
TESTS += tests/unit/check_archive
tests_unit_check_archive_SOURCES = tests/unit/check_archive.c
tests_unit_check_archive_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_archive_LDADD = $(UNIT_LDADD)

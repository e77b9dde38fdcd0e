## common/xtext and common/smtp_syntax: the checks of client-supplied
## SMTP values (DSN parameters, HELO names, printable text) and their
## tests.  Included by Makefile.am after common/local-srs.mk.
common_libispmail_a_SOURCES += common/xtext.c common/xtext.h \
	common/smtp_syntax.c common/smtp_syntax.h
check_PROGRAMS += tests/unit/check_xtext tests/unit/check_smtp_syntax
TESTS += tests/unit/check_xtext tests/unit/check_smtp_syntax
tests_unit_check_xtext_SOURCES = tests/unit/check_xtext.c
tests_unit_check_xtext_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_xtext_LDADD = $(UNIT_LDADD)
tests_unit_check_smtp_syntax_SOURCES = tests/unit/check_smtp_syntax.c
tests_unit_check_smtp_syntax_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_smtp_syntax_LDADD = $(UNIT_LDADD)

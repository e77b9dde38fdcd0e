## lmtpd: built by the top-level Makefile.am (non-recursive).
## Add programs with pkglibexec_PROGRAMS +=, tests with check_PROGRAMS += and
## TESTS +=, man pages with dist_man8_MANS +=, other files with EXTRA_DIST +=.

pkglibexec_PROGRAMS += lmtpd/lmtpd
lmtpd_lmtpd_SOURCES = \
	lmtpd/lmtpd.c lmtpd/lmtpd.h \
	lmtpd/lmtpd_cmd.c \
	lmtpd/lmtpd_deliver.c lmtpd/lmtpd_deliver.h \
	lmtpd/lmtpd_seen.c lmtpd/lmtpd_seen.h \
	lmtpd/lmtpd_spool.c lmtpd/lmtpd_spool.h \
	lmtpd/dotlock.c lmtpd/dotlock.h
lmtpd_lmtpd_LDADD = $(LIBISPMAIL)
lmtpd_lmtpd_DEPENDENCIES = common/libispmail.a

# Unit tests of lmtpd's pure logic: the spool's header scan and the
# dot-lock.
check_PROGRAMS += tests/unit/check_lmtpd
TESTS += tests/unit/check_lmtpd
tests_unit_check_lmtpd_SOURCES = tests/unit/check_lmtpd.c \
	lmtpd/lmtpd_spool.c lmtpd/dotlock.c
tests_unit_check_lmtpd_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/lmtpd
tests_unit_check_lmtpd_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_lmtpd_LDADD = $(UNIT_LDADD)

dist_man8_MANS += man/lmtpd.8
EXTRA_DIST += tests/integration/test_lmtpd.py tests/integration/lmtpdutil.py \
	tests/integration/test_lmtpd_access.py \
	tests/integration/test_lmtpd_duplicate.py

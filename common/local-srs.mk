## common/srs: the Sender Rewriting Scheme (SRS0/SRS1 addresses), and its
## tests.  Included by Makefile.am after common/local-mime.mk.
common_libispmail_a_SOURCES += common/srs.c common/srs.h
check_PROGRAMS += tests/unit/check_srs
TESTS += tests/unit/check_srs
tests_unit_check_srs_SOURCES = tests/unit/check_srs.c
tests_unit_check_srs_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_srs_LDADD = $(UNIT_LDADD)
EXTRA_DIST += tests/integration/test_srs.py
# smtpd's check of SRS bounce addresses at RCPT (smtpd/local.mk is
# included earlier, so this adds to its list).
smtpd_smtpd_SOURCES += smtpd/smtpd_srs.c smtpd/smtpd_srs.h

## anvil: built by the top-level Makefile.am (non-recursive).
pkglibexec_PROGRAMS += anvil/anvil
anvil_anvil_SOURCES = anvil/anvil.c anvil/anvil_table.c anvil/anvil_table.h \
	anvil/anvil_counters.c anvil/anvil_counters.h
anvil_anvil_LDADD = $(LIBISPMAIL)
anvil_anvil_DEPENDENCIES = common/libispmail.a

check_PROGRAMS += tests/unit/check_anvil
TESTS += tests/unit/check_anvil
tests_unit_check_anvil_SOURCES = tests/unit/check_anvil.c \
	anvil/anvil_table.c anvil/anvil_table.h \
	anvil/anvil_counters.c anvil/anvil_counters.h
tests_unit_check_anvil_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/anvil
tests_unit_check_anvil_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_anvil_LDADD = $(UNIT_LDADD)

dist_man8_MANS += man/anvil.8
EXTRA_DIST += tests/integration/test_slowclient.py
EXTRA_DIST += tests/integration/test_submission_rate.py

## ispmail-sendmail: the sendmail command line (built by Makefile.am).
sbin_PROGRAMS += tools/ispmail-sendmail
tools_ispmail_sendmail_SOURCES = tools/sendmail.c tools/sendmail_msg.c \
	tools/sendmail_msg.h
tools_ispmail_sendmail_LDADD = $(LIBISPMAIL)
tools_ispmail_sendmail_DEPENDENCIES = common/libispmail.a
dist_man8_MANS += man/ispmail-sendmail.8
check_PROGRAMS += tests/unit/check_sendmail_msg
TESTS += tests/unit/check_sendmail_msg
tests_unit_check_sendmail_msg_SOURCES = tests/unit/check_sendmail_msg.c \
	tools/sendmail_msg.c tools/sendmail_msg.h
tests_unit_check_sendmail_msg_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tools
tests_unit_check_sendmail_msg_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_sendmail_msg_LDADD = $(UNIT_LDADD)
EXTRA_DIST += tests/integration/test_sendmail.py

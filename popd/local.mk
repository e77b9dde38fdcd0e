## popd: built by the top-level Makefile.am (non-recursive).
pkglibexec_PROGRAMS += popd/popd
popd_popd_SOURCES = popd/popd.c popd/popd.h popd/pop_auth.c \
	popd/pop_cmd.c popd/pop_cmd.h popd/pop_msg.c popd/pop_msg.h \
	popd/pop_mbox.c popd/pop_mbox.h common/route/crypt_scratch_hooks.c
popd_popd_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS)
popd_popd_LDADD = $(LIBISPMAIL)
popd_popd_DEPENDENCIES = common/libispmail.a

check_PROGRAMS += tests/unit/check_pop_cmd tests/unit/check_pop_msg
TESTS += tests/unit/check_pop_cmd tests/unit/check_pop_msg
tests_unit_check_pop_cmd_SOURCES = tests/unit/check_pop_cmd.c \
	popd/pop_cmd.c popd/pop_cmd.h
tests_unit_check_pop_cmd_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/popd
tests_unit_check_pop_cmd_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_pop_cmd_LDADD = $(UNIT_LDADD)
tests_unit_check_pop_msg_SOURCES = tests/unit/check_pop_msg.c \
	popd/pop_msg.c popd/pop_msg.h
tests_unit_check_pop_msg_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/popd
tests_unit_check_pop_msg_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_pop_msg_LDADD = $(UNIT_LDADD)

dist_man8_MANS += man/popd.8
EXTRA_DIST += tests/integration/test_popd.py tests/integration/popdutil.py \
	bench/pop3-load

## authd: built by the top-level Makefile.am (non-recursive).
pkglibexec_PROGRAMS += auth/authd
auth_authd_SOURCES = auth/authd.c common/route/crypt_scratch_hooks.c
auth_authd_LDADD = $(LIBISPMAIL)
auth_authd_DEPENDENCIES = common/libispmail.a
dist_man8_MANS += man/authd.8
EXTRA_DIST += tests/integration/test_authd.py

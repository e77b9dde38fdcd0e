## qmgr: built by the top-level Makefile.am (non-recursive).
pkglibexec_PROGRAMS += qmgr/qmgr
qmgr_qmgr_SOURCES = qmgr/qmgr.c qmgr/qmgr.h qmgr/qmgr_message.c \
	qmgr/qmgr_transport.c qmgr/qmgr_bounce.c qmgr/qmgr_ctl.c \
	qmgr/qmgr_archive.c qmgr/qmgr_account.c
qmgr_qmgr_LDADD = $(LIBISPMAIL)
qmgr_qmgr_DEPENDENCIES = common/libispmail.a
dist_man8_MANS += man/qmgr.8
EXTRA_DIST += tests/integration/test_delivery.py tests/integration/test_conf.py \
	tests/integration/test_faults.py

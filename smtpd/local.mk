## smtpd: built by the top-level Makefile.am (non-recursive).
pkglibexec_PROGRAMS += smtpd/smtpd
smtpd_smtpd_SOURCES = smtpd/smtpd.c smtpd/smtpd.h smtpd/smtpd_env.c \
	smtpd/smtpd_auth.c smtpd/smtpd_queue.c smtpd/smtpd_direct.c \
	smtpd/smtpd_reputation.c smtpd/smtpd_reputation.h
smtpd_smtpd_LDADD = $(LIBISPMAIL) $(SPF2_LIBS) $(OPENDMARC_LIBS)
smtpd_smtpd_DEPENDENCIES = common/libispmail.a
dist_man8_MANS += man/smtpd.8
dist_man5_MANS += man/ispmail-queue.5
EXTRA_DIST += tests/integration/test_smtpd.py tests/integration/mailutil.py \
	tests/integration/test_smtpd_direct.py \
	tests/integration/tlsutil.py
check_PROGRAMS += tests/unit/check_qfile
TESTS += tests/unit/check_qfile
tests_unit_check_qfile_SOURCES = tests/unit/check_qfile.c
tests_unit_check_qfile_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_qfile_LDADD = $(UNIT_LDADD)
# ARC sealing of forwarded mail (RFC 8617, issue 18).
smtpd_smtpd_SOURCES += smtpd/smtpd_arc.c smtpd/smtpd_arc.h
EXTRA_DIST += tests/integration/test_sender_auth_arc.py
# smtpd's check of SRS bounce addresses at RCPT.
smtpd_smtpd_SOURCES += smtpd/smtpd_srs.c smtpd/smtpd_srs.h
# Submission: Date: and Message-ID: when missing (RFC 6409 8).
smtpd_smtpd_SOURCES += smtpd/smtpd_msa.c smtpd/smtpd_msa.h
check_PROGRAMS += tests/unit/check_smtpd_msa
TESTS += tests/unit/check_smtpd_msa
tests_unit_check_smtpd_msa_SOURCES = tests/unit/check_smtpd_msa.c \
	smtpd/smtpd_msa.c smtpd/smtpd_msa.h
tests_unit_check_smtpd_msa_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/smtpd
tests_unit_check_smtpd_msa_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_smtpd_msa_LDADD = $(UNIT_LDADD)
# mynetworks: the ISP's own hosts relay without AUTH.
smtpd_smtpd_SOURCES += smtpd/smtpd_trust.c smtpd/smtpd_trust.h
# XCLIENT from trusted proxies.
smtpd_smtpd_SOURCES += smtpd/smtpd_xclient.c
# Users of this host through ispmail-sendmail (public/sendmail).
smtpd_smtpd_SOURCES += smtpd/smtpd_local.c
# PROXY headers and XCLIENT/ID from trusted proxies (smtpd, popd, imapd).
EXTRA_DIST += tests/integration/test_proxy_trust.py
# The content filter (spamd, clamd) at the end of DATA, poison isolation.
smtpd_smtpd_SOURCES += smtpd/smtpd_filter.c smtpd/smtpd_filter.h \
	smtpd/smtpd_poison.c smtpd/smtpd_poison.h
EXTRA_DIST += tests/integration/test_filter.py bench/filter-load
# The exploited-account alarm (issue 19).
smtpd_smtpd_SOURCES += smtpd/smtpd_account.c smtpd/smtpd_account.h
EXTRA_DIST += tests/integration/test_account_alarm.py
# Sender authentication: SPF, DKIM, DMARC, DKIM signing (issue 18).
smtpd_smtpd_SOURCES += smtpd/smtpd_authres.c smtpd/smtpd_authres.h \
	smtpd/smtpd_authres_check.c smtpd/smtpd_authres_check.h \
	smtpd/smtpd_authres_from.c smtpd/smtpd_authres_from.h \
	smtpd/smtpd_authres_dns.c smtpd/smtpd_authres_dns.h
check_PROGRAMS += tests/unit/check_smtpd_from
TESTS += tests/unit/check_smtpd_from
tests_unit_check_smtpd_from_SOURCES = tests/unit/check_smtpd_from.c \
	smtpd/smtpd_authres_from.c smtpd/smtpd_authres_from.h
tests_unit_check_smtpd_from_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/smtpd
tests_unit_check_smtpd_from_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_smtpd_from_LDADD = $(UNIT_LDADD)

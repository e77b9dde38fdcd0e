## common/mail: mail formats (addresses, SMTP syntax and DATA, xtext,
## MIME and its IMAP views, encoded words, SRS) and their unit tests.
## Included by Makefile.am after the test lists are defined.
common_libispmail_a_SOURCES += \
	common/mail/address.c common/mail/address.h \
	common/mail/smtp_data.c common/mail/smtp_data.h \
	common/mail/smtp_syntax.c common/mail/smtp_syntax.h \
	common/mail/xtext.c common/mail/xtext.h \
	common/mail/mime.c common/mail/mime.h common/mail/mime_int.h \
	common/mail/mime_header.c common/mail/mime_field.c \
	common/mail/mime_imap.c common/mail/mime_imap.h \
	common/mail/mime_imap_int.h common/mail/mime_imap_envelope.c \
	common/mail/mime_imap_section.c \
	common/mail/mime_decode.c common/mail/mime_decode.h \
	common/mail/srs.c common/mail/srs.h \
	common/mail/dkim_keys.c common/mail/dkim_keys.h \
	common/mail/dkim_domain.c common/mail/dkim_domain.h
check_PROGRAMS += tests/unit/check_mime tests/unit/check_mime_limits \
	tests/unit/check_srs \
	tests/unit/check_mime_decode tests/unit/check_xtext \
	tests/unit/check_smtp_syntax
TESTS += tests/unit/check_mime tests/unit/check_mime_limits \
	tests/unit/check_srs \
	tests/unit/check_mime_decode tests/unit/check_xtext \
	tests/unit/check_smtp_syntax
MIME_FIXTURE = tests/unit/mime_fixture.c tests/unit/mime_fixture.h
tests_unit_check_mime_SOURCES = tests/unit/check_mime.c $(MIME_FIXTURE)
tests_unit_check_mime_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_mime_LDADD = $(UNIT_LDADD)
tests_unit_check_srs_SOURCES = tests/unit/check_srs.c
tests_unit_check_srs_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_srs_LDADD = $(UNIT_LDADD)
tests_unit_check_mime_limits_SOURCES = tests/unit/check_mime_limits.c \
	$(MIME_FIXTURE)
tests_unit_check_mime_limits_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_mime_limits_LDADD = $(UNIT_LDADD)
tests_unit_check_mime_decode_SOURCES = tests/unit/check_mime_decode.c
tests_unit_check_mime_decode_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_mime_decode_LDADD = $(UNIT_LDADD)
tests_unit_check_xtext_SOURCES = tests/unit/check_xtext.c
tests_unit_check_xtext_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_xtext_LDADD = $(UNIT_LDADD)
tests_unit_check_smtp_syntax_SOURCES = tests/unit/check_smtp_syntax.c
tests_unit_check_smtp_syntax_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_smtp_syntax_LDADD = $(UNIT_LDADD)
check_PROGRAMS += tests/unit/check_dkim_keys
TESTS += tests/unit/check_dkim_keys
tests_unit_check_dkim_keys_SOURCES = tests/unit/check_dkim_keys.c
tests_unit_check_dkim_keys_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_dkim_keys_LDADD = $(UNIT_LDADD)
check_PROGRAMS += tests/unit/check_dkim_domain
TESTS += tests/unit/check_dkim_domain
tests_unit_check_dkim_domain_SOURCES = tests/unit/check_dkim_domain.c
tests_unit_check_dkim_domain_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_dkim_domain_LDADD = $(UNIT_LDADD)
common_libispmail_a_SOURCES += \
	common/mail/header_value.c common/mail/header_value.h
check_PROGRAMS += tests/unit/check_header_value
TESTS += tests/unit/check_header_value
tests_unit_check_header_value_SOURCES = tests/unit/check_header_value.c
tests_unit_check_header_value_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_header_value_LDADD = $(UNIT_LDADD)
# DKIM signing with keys parsed once a process (issue 18): the signer
# (OpenSSL, relaxed/relaxed) and the key cache.
common_libispmail_a_SOURCES += \
	common/mail/dkim_sign.c common/mail/dkim_sign.h \
	common/mail/dkim_keycache.c common/mail/dkim_keycache.h \
	common/mail/dkim_canon.c common/mail/dkim_canon.h \
	common/mail/dkim_record.c common/mail/dkim_record.h \
	common/mail/dkim_pubcache.c common/mail/dkim_pubcache.h \
	common/mail/dkim_verify.c common/mail/dkim_verify.h \
	common/mail/arc.c common/mail/arc.h
check_PROGRAMS += tests/unit/check_dkim_sign
TESTS += tests/unit/check_dkim_sign
tests_unit_check_dkim_sign_SOURCES = tests/unit/check_dkim_sign.c
tests_unit_check_dkim_sign_CFLAGS = $(UNIT_CFLAGS) $(OPENSSL_CFLAGS) \
	$(OPENDKIM_CFLAGS)
tests_unit_check_dkim_sign_LDADD = $(UNIT_LDADD) $(OPENDKIM_LIBS)
# What a signature costs, in parts, against libopendkim (bench/doc/dkim-sign-bench.md).
noinst_PROGRAMS += bench/dkim-sign-bench
bench_dkim_sign_bench_SOURCES = bench/dkim_sign_bench.c bench/bench_time.h
bench_dkim_sign_bench_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS) \
	$(OPENDKIM_CFLAGS)
bench_dkim_sign_bench_LDADD = $(LIBISPMAIL) $(OPENDKIM_LIBS)
EXTRA_DIST += tests/integration/test_sender_auth_sign.py
# DKIM verification (issue 18): vectors signed by dkimpy (the generator
# script) and opendkim-testmsg.
check_PROGRAMS += tests/unit/check_dkim_verify
TESTS += tests/unit/check_dkim_verify
tests_unit_check_dkim_verify_SOURCES = tests/unit/check_dkim_verify.c \
	$(TREE_FIXTURE)
tests_unit_check_dkim_verify_CFLAGS = $(UNIT_CFLAGS) $(OPENSSL_CFLAGS) \
	$(OPENDKIM_CFLAGS)
tests_unit_check_dkim_verify_LDADD = $(UNIT_LDADD) $(OPENDKIM_LIBS)
EXTRA_DIST += tests/unit/dkim_vectors.py
# ARC sets (RFC 8617): a new set, chains continued, broken and ended.
check_PROGRAMS += tests/unit/check_arc
TESTS += tests/unit/check_arc
tests_unit_check_arc_SOURCES = tests/unit/check_arc.c
tests_unit_check_arc_CFLAGS = $(UNIT_CFLAGS) $(OPENSSL_CFLAGS)
tests_unit_check_arc_LDADD = $(UNIT_LDADD)
# What ARC sealing costs, chains of 0, 1 and 5 sets (bench/doc/arc-seal-bench.md).
noinst_PROGRAMS += bench/arc-seal-bench
bench_arc_seal_bench_SOURCES = bench/arc_seal_bench.c bench/bench_time.h
bench_arc_seal_bench_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS)
bench_arc_seal_bench_LDADD = $(LIBISPMAIL)
EXTRA_DIST += bench/doc/arc-seal-bench.md
# The p= key forms the verifier's key cache parses (SPKI, RSAPublicKey,
# Ed25519) and the bytes it refuses.
check_PROGRAMS += tests/unit/check_dkim_canon
TESTS += tests/unit/check_dkim_canon
tests_unit_check_dkim_canon_SOURCES = tests/unit/check_dkim_canon.c
tests_unit_check_dkim_canon_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_dkim_canon_LDADD = $(UNIT_LDADD)

check_PROGRAMS += tests/unit/check_dkim_pubcache
TESTS += tests/unit/check_dkim_pubcache
tests_unit_check_dkim_pubcache_SOURCES = tests/unit/check_dkim_pubcache.c
tests_unit_check_dkim_pubcache_CFLAGS = $(UNIT_CFLAGS) $(OPENSSL_CFLAGS)
tests_unit_check_dkim_pubcache_LDADD = $(UNIT_LDADD)

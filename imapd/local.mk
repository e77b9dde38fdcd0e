## imapd: built by the top-level Makefile.am (non-recursive).
pkglibexec_PROGRAMS += imapd/imapd
imapd_imapd_SOURCES = \
	imapd/imapd.c imapd/imap.h \
	imapd/imap_parse.c imapd/imap_parse.h \
	imapd/imap_uidlist.c imapd/imap_uidlist.h \
	imapd/imap_mailbox.c imapd/imap_mailbox.h \
	imapd/imap_cmd.c imapd/imap_folder.c imapd/imap_folder.h \
	imapd/imap_list.c imapd/imap_fetch.c \
	imapd/imap_msgs.c imapd/imap_append.c imapd/imap_search.c \
	imapd/imap_searchres.c \
	imapd/imap_sort.c imapd/imap_sort.h imapd/imap_thread.c \
	imapd/imap_multi.c imapd/imap_multi.h \
	imapd/imap_lookup.c imapd/imap_lookup.h \
	imapd/imap_keywords.c imapd/imap_keywords.h \
	imapd/imap_modseq.c imapd/imap_modseq.h imapd/imap_condstore.c \
	imapd/imap_idle.c imapd/imap_utf7.c imapd/imap_admin.c \
	imapd/imap_binary.c imapd/imap_envcache.c imapd/imap_envcache.h
imapd_imapd_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS)
imapd_imapd_LDADD = $(LIBISPMAIL)
imapd_imapd_DEPENDENCIES = common/libispmail.a
dist_man8_MANS += man/imapd.8
dist_man5_MANS += man/ispmail-envcache.5
EXTRA_DIST += bench/imap-load bench/imap-resync tests/integration/test_imapd.py tests/integration/imapdutil.py \
	tests/integration/test_imapd_mbsync.py tests/integration/test_imapd_multi.py tests/integration/test_imapd_single.py \
	tests/integration/test_imapd_lookup.py tests/integration/test_imapd_memory.py \
	tests/integration/test_imapd_keywords.py \
	tests/integration/test_imapd_dos.py tests/integration/test_imapd_condstore.py \
	tests/integration/test_imapd_store_large.py \
	tests/integration/test_imapd_store_sync.py \
	tests/integration/test_imapd_idle.py \
	tests/integration/test_imapd_compress.py \
	tests/integration/test_imapd_admin.py tests/integration/test_move.py \
	tests/integration/test_move_mark.py tests/integration/test_imapd_envcache.py

check_PROGRAMS += tests/unit/check_imapd
TESTS += tests/unit/check_imapd
tests_unit_check_imapd_SOURCES = tests/unit/check_imapd.c \
	tests/unit/imapd_suites.h tests/unit/check_imapd_parse.c \
	tests/unit/check_imapd_envcache.c imapd/imap_envcache.c \
	imapd/imap_envcache.h \
	tests/unit/check_stream_util.c tests/unit/check_stream_util.h \
	imapd/imap_parse.c imapd/imap_parse.h \
	imapd/imap_uidlist.c imapd/imap_uidlist.h \
	imapd/imap_keywords.c imapd/imap_keywords.h \
	imapd/imap_modseq.c imapd/imap_modseq.h
tests_unit_check_imapd_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/imapd
tests_unit_check_imapd_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_imapd_LDADD = $(UNIT_LDADD)

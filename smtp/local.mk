## smtp: the delivery agent, built by the top-level Makefile.am.
pkglibexec_PROGRAMS += smtp/smtp
smtp_smtp_SOURCES = smtp/smtp.c
smtp_smtp_LDADD = $(LIBISPMAIL)
smtp_smtp_DEPENDENCIES = common/libispmail.a
dist_man8_MANS += man/smtp.8

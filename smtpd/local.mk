## smtpd: built by the top-level Makefile.am (non-recursive).
## Add programs with pkglibexec_PROGRAMS +=, tests with check_PROGRAMS += and
## TESTS +=, man pages with dist_man8_MANS +=, other files with EXTRA_DIST +=.

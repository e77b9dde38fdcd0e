/* imapd_suites.h: the Suites check_imapd's sources share with its main. */
#ifndef ISPMAIL_IMAPD_SUITES_H
#define ISPMAIL_IMAPD_SUITES_H

#include <check.h>

/* check_imapd_parse.c: imap_parse (arguments, sequence sets, reader). */
Suite *imap_parse_suite(void);
/* check_imapd_envcache.c: the envelope cache (imap_envcache). */
Suite *imap_envcache_suite(void);

#endif

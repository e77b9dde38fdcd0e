/*
 * smtpd_poison: how often scanning a message failed (smtpd_filter.h),
 * shared by every smtpd of the machine through small files in
 * queue_directory/filter/poison named by the message's SHA-256; a count
 * older than filter_poison_time no longer counts.  The table cannot fail
 * a message: when it cannot be used it reads 0 (warned).
 */
#ifndef ISPMAIL_SMTPD_POISON_H
#define ISPMAIL_SMTPD_POISON_H

#include <stddef.h>

/* The SHA-256 of data as 64 lower-case hex digits and a NUL. */
void smtpd_poison_hash(const void *data, size_t len, char hex[65]);
/*
 * Add delta (may be negative, or 0 to just read) to the count of hex,
 * never below 0 (0 removes the entry); the new count.
 */
long long smtpd_poison_add(const char *hex, long long delta);

#endif

/*
 * lmtpd_seen: at most one copy of a queued message per recipient.
 *
 * Our LMTP agent names its queue id (MAIL FROM ... XQUEUEID=).  After a
 * recipient's message is safely in its mailbox and before the 250, lmtpd
 * leaves an empty marker ispmail-delivered/QUEUEID-HASH in the mailbox
 * (HASH: of the recipient address as written), a hard link to the
 * anchor .b-N of the current sixteenth of the window (a directory entry
 * per delivery, not a new inode).  When the same
 * queue id comes again for the same address within
 * lmtp_duplicate_window, it is answered 250 without a second copy.  That
 * closes the one window an MX crash leaves: the store said 250, and the
 * MX died before its agent marked the recipient done in the queue file,
 * so the next qmgr delivers it again (to this host or to its
 * shared-storage partner, hence the marker lives in the mailbox).
 * Markers older than the window are removed now and then on delivery.
 */
#ifndef ISPMAIL_LMTPD_SEEN_H
#define ISPMAIL_LMTPD_SEEN_H

/*
 * Did this queue id already reach address's mailbox at root within the
 * window?  1 yes, 0 no (also when there is no queue id or the window is
 * 0).
 */
int lmtpd_seen_check(const char *root, const char *queue_id,
	const char *address);

/* Record a delivery (after the message is in the mailbox). */
void lmtpd_seen_record(const char *root, const char *queue_id,
	const char *address);

#endif

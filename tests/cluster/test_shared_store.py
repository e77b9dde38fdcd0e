"""Both hosts of the shared-storage pair deliver into the same mailboxes
at once (LMTP from the mx hosts' namespaces straight to store1 and
store2) while a reader expunges through proxy1 and another reads over
POP3 on the other store host: every message ends up exactly once (read
and expunged, or still there), and no lock is left behind."""

import fcntl
import os
import poplib
import smtplib
import threading
import time

import clusterutil

PER_HOST = 25
# Lock files kept on purpose, and the kernel lock each is taken with.
KEPT_LOCKS = {"pop3.lock": fcntl.lockf, "ispmail-modseq.lock": fcntl.flock}
MAILBOX = "u4@b.test"


def test_concurrent_delivery_and_expunge_on_shared_storage(cluster, results):
    sent = {}               # msgid -> t_sent (250)
    errors = []
    expunged = []           # ids the IMAP reader expunged
    stop = threading.Event()

    def deliver(via, store):
        try:
            with clusterutil.in_netns(cluster.ns(via)):
                s = smtplib.LMTP(cluster.addr(store), 24,
                                 timeout=clusterutil.IO_TIMEOUT)
            with s:
                for i in range(PER_HOST):
                    msgid = "shared-%s-%d" % (store, i)
                    s.sendmail("sender@remote.test", [MAILBOX],
                               clusterutil.message(msgid, MAILBOX))
                    sent[msgid] = time.time()
        except Exception as e:
            errors.append("%s: %r" % (store, e))

    def expunge_loop():
        try:
            c = cluster.imap(MAILBOX)
            try:
                while True:
                    last = stop.is_set()
                    c.select("INBOX")
                    typ, data = c.search(None, "ALL")
                    nums = data[0].split()
                    ids = {}
                    for num in nums:
                        typ, d = c.fetch(num, "(BODY.PEEK[HEADER.FIELDS "
                                              "(X-Cluster-Id)])")
                        text = d[0][1].decode()
                        if ":" in text:
                            ids[num] = text.split(":", 1)[1].strip()
                    if ids:
                        c.store(b",".join(ids.keys()), "+FLAGS", "\\Deleted")
                        typ, _ = c.expunge()
                        assert typ == "OK"
                        expunged.extend(ids.values())
                    if last:
                        break
                    time.sleep(0.1)
            finally:
                c.logout()
        except Exception as e:
            errors.append("expunge: %r" % e)

    def pop_loop():
        try:
            while not stop.is_set():
                p = cluster.pop3(MAILBOX, host="store1", port=110)
                try:
                    count, _ = p.stat()
                    for i in range(1, count + 1):
                        try:
                            p.top(i, 0)
                        except poplib.error_proto as e:
                            # The IMAP reader expunged it meanwhile: the
                            # honest answer (RFC 1939 leaves it open).
                            if b"removed by another session" not in \
                                    e.args[0]:
                                raise
                finally:
                    p.quit()
                time.sleep(0.2)
        except Exception as e:
            errors.append("pop3: %r" % e)

    # Start from an empty mailbox.
    c = cluster.imap(MAILBOX)
    typ, data = c.select("INBOX")
    if int(data[0]) > 0:
        c.store("1:*", "+FLAGS", "\\Deleted")
        c.expunge()
    c.logout()

    readers = [threading.Thread(target=expunge_loop),
               threading.Thread(target=pop_loop)]
    writers = [threading.Thread(target=deliver, args=("mx1", "store1")),
               threading.Thread(target=deliver, args=("mx2", "store2"))]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join(timeout=120)
    time.sleep(1.0)
    stop.set()
    for t in readers:
        t.join(timeout=60)
    assert not errors, errors
    remaining = cluster.scan([MAILBOX])
    seen = list(expunged)
    for cid, copies in remaining.items():
        seen.extend([cid] * len(copies))
    lost = [m for m in sent if m not in seen]
    doubled = sorted({m for m in seen if seen.count(m) > 1})
    results["shared storage: concurrent delivery and expunge"] = {
        "sent": 2 * PER_HOST, "accepted": len(sent),
        "delivered": len(set(seen) & set(sent)), "lost": len(lost),
        "duplicated": len(doubled), "expunged_while_delivering": len(expunged),
        "p50_delay_s": None, "p99_delay_s": None}
    assert len(sent) == 2 * PER_HOST
    assert not lost, lost
    assert not doubled, doubled
    # No lock left behind: no dot-lock (lmtpd's maildirsize.lock, imapd's
    # ispmail-uidlist.lock) exists, and the kept lock files of popd
    # (fcntl) and imapd's MODSEQ record (flock) are free.
    base = cluster.maildir(MAILBOX)
    held = []
    for d, _s, names in os.walk(base):
        for n in names:
            path = os.path.join(d, n)
            if n in ("maildirsize.lock", "ispmail-uidlist.lock"):
                held.append(path)
            elif n in KEPT_LOCKS:
                with open(path, "r+b") as f:
                    try:
                        KEPT_LOCKS[n](f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except OSError:
                        held.append(path)
            elif n.endswith(".lock"):
                held.append(path)       # a lock nobody here knows
    assert not held, held

"""Faults that must cost no mail (issue 12, finding 15): too few open
files for qmgr, a file left in active/ that qmgr does not hold.  Each
test checks that nothing answered 250 is lost, stuck in the queue, moved
to corrupt/ or delivered twice."""

import email
import os
import smtplib

import pytest

import mailutil
import tlsutil
from test_delivery import make_system


@pytest.fixture(scope="module")
def certs():
    return tlsutil.make_certs()


def message(mid, size=2000):
    return (b"Message-ID: %s\r\nSubject: fault\r\n\r\n" % mid.encode() +
            (b"x" * 78 + b"\r\n") * (size // 80))


def message_ids(inst, address):
    """Message-ID of every message in the mailbox (a list: duplicates
    show)."""
    return [email.message_from_bytes(m)["Message-ID"]
            for m in mailutil.maildir_messages(inst, address)]


def wait_delivered(inst, address, mids, timeout=40):
    """Every one of mids in the mailbox (extra ones allowed here)."""
    inst.wait_for(lambda: set(mids) <= set(message_ids(inst, address)),
                  timeout=timeout,
                  what="%d messages in %s" % (len(mids), address))


def assert_drained(inst):
    inst.wait_for(lambda: mailutil.queue_empty(inst), timeout=20,
                  what="an empty queue")
    assert mailutil.queue_files(inst, "corrupt") == []


def test_low_open_file_limit_strands_nothing(make_instance, certs):
    """qmgr under an open-file limit of 64 finds a backlog of 300
    messages: it sizes its active limit to fit, and every message is
    delivered; none is left in active/."""
    inst = make_system(make_instance, certs)
    everything = list(inst.services)
    inst.services = [svc for svc in everything if svc.name != "qmgr"]
    inst.nofile = 64
    inst.start()
    mids = ["<nofile-%d@remote.test>" % i for i in range(300)]
    s = smtplib.SMTP("127.0.0.1", inst.port("smtp"), timeout=10)
    for mid in mids:
        s.sendmail("x@remote.test", ["bob@example.test"], message(mid, 500))
    s.quit()
    inst.reload(everything)
    wait_delivered(inst, "bob@example.test", mids, timeout=50)
    assert_drained(inst)
    assert sorted(message_ids(inst, "bob@example.test")) == sorted(mids)
    assert "lowered" in inst.log()


def test_orphan_in_active_is_taken_again(make_instance, certs):
    """A file in active/ that qmgr does not hold (an error it missed) is
    taken again after qmgr_orphan_age, not left for the next restart."""
    inst = make_system(make_instance, certs, lmtp_up=False, params={
        "qmgr_orphan_age": "1s", "minimal_backoff": "1h",
        "maximal_backoff": "2h"})
    inst.start()
    s = smtplib.SMTP("127.0.0.1", inst.port("smtp"), timeout=10)
    s.sendmail("x@remote.test", ["alice@example.test"],
               message("<orphan@remote.test>"))
    s.quit()
    inst.wait_for(lambda: mailutil.queue_files(inst, "deferred"),
                  what="the message deferred")
    [path] = mailutil.queue_files(inst, "deferred")
    qid = os.path.basename(path)
    r = inst.ctl("queue", "hold", qid)
    assert r.returncode == 0, r.stderr
    [held] = mailutil.queue_files(inst, "hold")
    orphan = held.replace("/queue/hold/", "/queue/active/")
    os.makedirs(os.path.dirname(orphan), exist_ok=True)
    os.rename(held, orphan)
    inst.wait_for(lambda: not mailutil.queue_files(inst, "active") and
                  mailutil.queue_files(inst, "deferred"), timeout=10,
                  what="the orphan taken again and deferred")
    assert "not held by qmgr: taken again" in inst.log()

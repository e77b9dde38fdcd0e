"""The delivery path end to end: smtpd -> queue -> qmgr -> the LMTP agent
-> lmtpd -> Maildir++, with aliases, forwards, two store hosts, deferral
and retry, bounces (RFC 3464 DSNs), delay notices, the operator's queue
commands, and crash safety under kill -9."""

import email
import email.utils
import os
import random
import re
import signal
import socket
import smtplib
import threading
import time

import pytest

import harness
import mailutil
import tlsutil


@pytest.fixture(scope="module")
def certs():
    return tlsutil.make_certs()


def make_system(make_instance, certs, lmtp_up=True, params=None,
                extra_services=(), provision=True):
    port = harness.free_port()
    inst = make_instance(services=mailutil.delivery_services(
        port if lmtp_up else None, extra_lmtpd=extra_services))
    inst.params.update(mailutil.delivery_params(inst, certs, port))
    inst.params.update(params or {})
    inst.write_main_conf()
    if provision:
        mailutil.provision(inst)
    inst.lmtp_port = port
    inst.certs = certs
    return inst


def send(inst, sender, rcpts, body, service="smtp"):
    s = smtplib.SMTP("127.0.0.1", inst.port(service), timeout=10)
    s.ehlo("client.test")
    code, _ = s.mail(sender)
    assert code == 250
    for r in rcpts:
        code, text = s.rcpt(r)
        assert code == 250, (r, code, text)
    code, text = s.data(body)
    assert code == 250, text
    s.quit()
    return text.split()[-1].decode()


def ctl_ok(inst, *args, input=None):
    r = inst.ctl(*args, input=input)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r


def test_byte_exact_in_maildir(make_instance, certs):
    inst = make_system(make_instance, certs)
    inst.start()
    body = (b"From: x@remote.test\r\nTo: alice@example.test\r\n"
            b"Subject: exact\r\n\r\n.dotted\r\nline\r\n\r\ntrailing\r\n")
    qid = send(inst, "x@remote.test", ["alice@example.test"], body)
    [msg] = mailutil.wait_messages(inst, "alice@example.test", 1)
    head, _, rest = msg.partition(b"\nReceived: ")
    assert head == (b"Return-Path: <x@remote.test>\n"
                    b"Delivered-To: alice@example.test")
    received, _, content = rest.partition(b"\nFrom: ")
    assert b"id " + qid.encode() in received
    assert b"From: " + content == body.replace(b"\r\n", b"\n")
    inst.wait_for(lambda: mailutil.queue_empty(inst), what="empty queue")
    # One grep follows the message from smtpd to the mailbox.
    lines = [l for l in inst.log().splitlines() if qid in l]
    assert any("smtpd" in l for l in lines)
    # Delivered by smtpd directly (smtpd_direct_delivery), not queued.
    assert any("smtpd" in l and "relay=lmtpd/direct, status=sent" in l
               for l in lines)
    assert any("lmtpd" in l and "status=delivered" in l for l in lines)


def test_smtputf8_message_delivered(make_instance, certs):
    inst = make_system(make_instance, certs)
    inst.start()
    s = smtplib.SMTP("127.0.0.1", inst.port("smtp"), timeout=10)
    s.ehlo("client.test")
    assert s.mail("j\u00f6rg@remote.test", ["SMTPUTF8", "BODY=8BITMIME"])[0] \
        == 250
    assert s.rcpt("alice@example.test")[0] == 250
    body = "Subject: gr\u00fc\u00dfe\r\n\r\n\u00fcber\r\n".encode()
    assert s.data(body)[0] == 250
    s.quit()
    [msg] = mailutil.wait_messages(inst, "alice@example.test", 1)
    assert "Return-Path: <j\u00f6rg@remote.test>".encode() in msg
    assert msg.endswith(body.replace(b"\r\n", b"\n"))


def test_alias_three_targets_and_forward_with_copy(make_instance, certs):
    inst = make_system(make_instance, certs)
    ctl_ok(inst, "mailbox", "add", "erin@example.test", "--password-stdin",
           input="pw-erin\n")
    ctl_ok(inst, "mailbox", "add", "frank@example.test", "--password-stdin",
           input="pw-frank\n")
    ctl_ok(inst, "alias", "add", "trio@example.test", "alice@example.test",
           "bob@example.test", "frank@example.test")
    ctl_ok(inst, "forward", "add", "erin@example.test",
           "frank@example.test", "--keep")
    inst.start()
    qid = send(inst, "x@remote.test", ["trio@example.test",
                                        "erin@example.test"],
               b"Subject: fan-out\r\n\r\nhi\r\n")
    for who in ("alice", "bob", "erin"):
        [m] = mailutil.wait_messages(inst, who + "@example.test", 1)
        assert b"Subject: fan-out" in m
    # frank gets it via the alias and via erin's forward: once each.
    msgs = mailutil.wait_messages(inst, "frank@example.test", 1)
    inst.wait_for(lambda: mailutil.queue_empty(inst), what="empty queue")
    assert len(mailutil.maildir_messages(inst, "frank@example.test")) == 1
    assert all(b"Delivered-To: frank@example.test" in m for m in msgs)
    assert qid


def test_two_store_hosts(make_instance, certs):
    port2 = harness.free_port()
    host2 = "127.0.0.1:%d" % port2
    second = mailutil.lmtpd_service("lmtpd2", port2, options={
        "local_mail_hosts": host2})
    inst = make_system(make_instance, certs, extra_services=[second])
    ctl_ok(inst, "-o", "local_mail_hosts=localhost," + host2, "mailbox",
           "add", "gina@example.test", "host=" + host2, "--password-stdin",
           input="pw\n")
    inst.start()
    send(inst, "x@remote.test", ["alice@example.test", "gina@example.test"],
         b"Subject: two stores\r\n\r\nhi\r\n")
    mailutil.wait_messages(inst, "alice@example.test", 1)
    mailutil.wait_messages(inst, "gina@example.test", 1)
    # The agent's results reach qmgr's log just after the files land.
    inst.wait_for(lambda: "(%s)" % host2 in inst.log(),
                  what="delivery via lmtpd2 logged")
    inst.wait_for(lambda: "(127.0.0.1:%d)" % inst.lmtp_port in inst.log(),
                  what="delivery via lmtpd logged")


def test_store_down_then_delivered(make_instance, certs):
    inst = make_system(make_instance, certs, lmtp_up=False)
    inst.start()
    qid = send(inst, "x@remote.test", ["alice@example.test"],
               b"Subject: later\r\n\r\nhi\r\n")
    inst.wait_for(lambda: mailutil.queue_files(inst, "deferred"),
                  what="deferred message")
    listing = ctl_ok(inst, "queue", "list").stdout
    assert qid in listing and "deferred" in listing
    assert "4.4.1" in listing and "connect to" in listing
    show = ctl_ok(inst, "queue", "show", qid).stdout
    assert "recipient 0: <alice@example.test> pending" in show
    # The store host comes back: the next retry delivers.
    inst.services.append(mailutil.lmtpd_service("lmtpd", inst.lmtp_port))
    inst.reload(inst.services)
    mailutil.wait_messages(inst, "alice@example.test", 1, timeout=30)
    inst.wait_for(lambda: mailutil.queue_empty(inst), what="empty queue")


def dsn_parts(msg):
    m = email.message_from_bytes(msg)
    assert m.get_content_type() == "multipart/report"
    assert m.get_param("report-type") == "delivery-status"
    parts = m.get_payload()
    status = parts[1]
    assert status.get_content_type() == "message/delivery-status"
    blocks = status.get_payload()
    return m, parts, blocks


def test_over_quota_bounces_to_sender(make_instance, certs):
    inst = make_system(make_instance, certs)
    ctl_ok(inst, "mailbox", "add", "tiny@example.test", "quota=1k",
           "--password-stdin", input="pw\n")
    inst.start()
    s = smtplib.SMTP("127.0.0.1", inst.port("smtp"), timeout=10)
    s.ehlo("c")
    assert s.mail("bob@example.test", ["RET=HDRS", "ENVID=env-1"])[0] == 250
    assert s.rcpt("tiny@example.test", ["NOTIFY=FAILURE",
                                        "ORCPT=rfc822;tiny@example.test"])[0] \
        == 250
    code, text = s.data(b"Subject: too big\r\n\r\n" + (b"x" * 70 + b"\r\n") * 45)
    assert code == 250
    qid = text.split()[-1].decode()
    s.quit()
    [bounce] = mailutil.wait_messages(inst, "bob@example.test", 1)
    m, parts, blocks = dsn_parts(bounce)
    assert m["Subject"] == "Undelivered Mail Returned to Sender"
    assert "MAILER-DAEMON@" in m["From"]
    assert b"Return-Path: <>" in bounce
    per_msg, per_rcpt = blocks[0], blocks[1]
    assert per_msg["Original-Envelope-Id"] == "env-1"
    assert per_msg["X-Ispmail-Queue-ID"] == qid
    assert per_rcpt["Final-Recipient"] == "rfc822; tiny@example.test"
    assert per_rcpt["Action"] == "failed"
    assert per_rcpt["Status"] == "5.2.2"
    # RET=HDRS: headers only.
    assert parts[2].get_content_type() == "text/rfc822-headers"
    assert b"x" * 70 not in bounce
    assert mailutil.maildir_messages(inst, "tiny@example.test") == []
    inst.wait_for(lambda: mailutil.queue_empty(inst), what="empty queue")


def test_notify_never_and_null_sender_get_no_bounce(make_instance, certs):
    inst = make_system(make_instance, certs, params={
        "postmaster_address": "postmaster@example.test"})
    ctl_ok(inst, "mailbox", "add", "tiny@example.test", "quota=1k",
           "--password-stdin", input="pw\n")
    inst.start()
    s = smtplib.SMTP("127.0.0.1", inst.port("smtp"), timeout=10)
    s.ehlo("c")
    s.mail("bob@example.test")
    s.rcpt("tiny@example.test", ["NOTIFY=NEVER"])
    assert s.data(b"Subject: a\r\n\r\n" + (b"x" * 70 + b"\r\n") * 45)[0] == 250
    # From the null sender: the failure goes to the postmaster.
    ctl_ok(inst, "mailbox", "add", "postmaster@example.test",
           "--password-stdin", input="pw\n")
    s.mail("")
    s.rcpt("tiny@example.test")
    assert s.data(b"Subject: b\r\n\r\n" + (b"x" * 70 + b"\r\n") * 45)[0] == 250
    s.quit()
    mailutil.wait_messages(inst, "postmaster@example.test", 1)
    inst.wait_for(lambda: mailutil.queue_empty(inst), what="empty queue")
    time.sleep(0.5)
    assert mailutil.maildir_messages(inst, "bob@example.test") == []
    assert len(mailutil.maildir_messages(inst,
                                         "postmaster@example.test")) == 1


def test_null_sender_failure_goes_to_postmaster(make_instance, certs):
    inst = make_system(make_instance, certs, params={
        "postmaster_address": "postmaster@example.test"})
    ctl_ok(inst, "mailbox", "add", "tiny@example.test", "quota=1k",
           "--password-stdin", input="pw\n")
    ctl_ok(inst, "mailbox", "add", "postmaster@example.test",
           "--password-stdin", input="pw\n")
    inst.start()
    send(inst, "", ["tiny@example.test"],
         b"Subject: bounce of a bounce\r\n\r\n" + (b"x" * 70 + b"\r\n") * 45)
    [notice] = mailutil.wait_messages(inst, "postmaster@example.test", 1)
    _, _, blocks = dsn_parts(notice)
    assert blocks[1]["Action"] == "failed"


def test_lifetime_exceeded_bounce_and_delay_notice(make_instance, certs):
    dead = harness.free_port()
    inst = make_system(make_instance, certs, params={
        "maximal_queue_lifetime": "4s", "delay_warning_time": "1s"})
    ctl_ok(inst, "-o", "local_mail_hosts=localhost", "mailbox", "add",
           "far@example.test", "host=127.0.0.1:%d" % dead,
           "--password-stdin", input="pw\n")
    inst.start()
    qid = send(inst, "bob@example.test", ["far@example.test"],
               b"Subject: never arrives\r\n\r\nbody\r\n")
    msgs = mailutil.wait_messages(inst, "bob@example.test", 2, timeout=30)
    kinds = {}
    for m in msgs:
        parsed, parts, blocks = dsn_parts(m)
        kinds[blocks[1]["Action"]] = (parsed, parts, blocks)
    assert set(kinds) == {"delayed", "failed"}
    parsed, parts, blocks = kinds["failed"]
    assert blocks[1]["Status"] == "4.4.7"
    assert "delivery time expired" in blocks[1]["Diagnostic-Code"]
    # Full return by default for a failure (small message).
    assert parts[2].get_content_type() == "message/rfc822"
    assert kinds["delayed"][1][2].get_content_type() == "text/rfc822-headers"
    inst.wait_for(lambda: mailutil.queue_empty(inst), what="empty queue")
    assert qid


def test_queue_commands(make_instance, certs):
    inst = make_system(make_instance, certs, lmtp_up=False)
    inst.start()
    q1 = send(inst, "x@remote.test", ["alice@example.test"],
              b"Subject: one\r\n\r\nhi\r\n")
    q2 = send(inst, "x@remote.test", ["bob@example.test"],
              b"Subject: two\r\n\r\nhi\r\n")
    inst.wait_for(lambda: len(mailutil.queue_files(inst, "deferred")) == 2,
                  what="two deferred")
    # hold / release / delete, each through qmgr (retry while it is busy
    # with the message).

    def ctl_retry(*args):
        for _ in range(50):
            r = inst.ctl(*args)
            if r.returncode == 0:
                return r
            assert "being delivered" in r.stderr, r.stderr
            time.sleep(0.1)
        raise AssertionError(args)

    ctl_retry("queue", "hold", q1)
    assert len(mailutil.queue_files(inst, "hold")) == 1
    assert "hold" in ctl_ok(inst, "queue", "list").stdout
    ctl_retry("queue", "delete", q2)
    assert q2 not in ctl_ok(inst, "queue", "list").stdout
    r = inst.ctl("queue", "delete", "NoSuchId12345")
    assert r.returncode == 1
    # The store comes back; held mail stays held until released.
    inst.services.append(mailutil.lmtpd_service("lmtpd", inst.lmtp_port))
    inst.reload(inst.services)
    time.sleep(2)
    assert mailutil.maildir_messages(inst, "alice@example.test") == []
    ctl_retry("queue", "release", q1)
    mailutil.wait_messages(inst, "alice@example.test", 1)
    assert mailutil.maildir_messages(inst, "bob@example.test") == []


def test_flush_retries_now(make_instance, certs):
    inst = make_system(make_instance, certs, lmtp_up=False, params={
        "minimal_backoff": "1h", "maximal_backoff": "2h",
        "queue_run_delay": "1h"})
    inst.start()
    send(inst, "x@remote.test", ["alice@example.test"],
         b"Subject: flush\r\n\r\nhi\r\n")
    inst.wait_for(lambda: mailutil.queue_files(inst, "deferred"),
                  what="deferred")
    inst.services.append(mailutil.lmtpd_service("lmtpd", inst.lmtp_port))
    inst.reload(inst.services)
    time.sleep(1)
    assert mailutil.maildir_messages(inst, "alice@example.test") == []
    ctl_ok(inst, "queue", "flush")
    mailutil.wait_messages(inst, "alice@example.test", 1, timeout=10)


def test_flush_across_reload_reaches_the_new_qmgr(make_instance, certs):
    """A flush sent while a reload retires qmgr is not lost between the
    old process and its successor: ispmailctl is told to ask again and
    the new qmgr retries the deferred mail at once (backoff and queue
    runs are an hour here)."""
    inst = make_system(make_instance, certs, lmtp_up=False, params={
        "minimal_backoff": "1h", "maximal_backoff": "2h",
        "queue_run_delay": "1h"})
    inst.start()
    # Enough deferred mail that a flush keeps qmgr busy for a while.
    s = smtplib.SMTP("127.0.0.1", inst.port("smtp"), timeout=10)
    for i in range(40):
        s.sendmail("x@remote.test", ["alice@example.test"],
                   b"Subject: flush %d\r\n\r\nhi\r\n" % i)
    s.quit()
    inst.wait_for(lambda: len(mailutil.queue_files(inst, "deferred")) == 40,
                  what="40 deferred")
    # Flushes without pause while reloads retire one qmgr after another.
    stop = threading.Event()
    failed = []

    def flusher():
        while not stop.is_set():
            r = inst.ctl("queue", "flush")
            if r.returncode != 0:
                failed.append(r.stderr)
    t = threading.Thread(target=flusher)
    t.start()
    try:
        for _ in range(15):
            inst.signal(signal.SIGHUP)
            time.sleep(0.2)
    finally:
        stop.set()
        t.join()
    assert failed == []
    # Never two queue managers at once: a connection while the retired
    # one finishes does not start a second.
    live = set()
    for m in re.finditer(r"qmgr\[(\d+)\]: (started|master went away)",
                         inst.log()):
        if m.group(2) == "started":
            assert not live, "qmgr %s started while %s ran" % (
                m.group(1), live)
            live.add(m.group(1))
        else:
            live.discard(m.group(1))
    # The store comes back: SIGHUP and flush at once, no wait between.
    inst.services.append(mailutil.lmtpd_service("lmtpd", inst.lmtp_port))
    inst.write_master_conf(inst.services)
    inst.signal(signal.SIGHUP)
    r = inst.ctl("queue", "flush")
    assert r.returncode == 0, r.stderr
    if not mailutil.maildir_messages(inst, "alice@example.test"):
        # The flush may have reached qmgr before lmtpd listened.
        inst.wait_for(lambda: inst.status().services.get("lmtpd"),
                      what="lmtpd in status")
        time.sleep(0.5)
        assert inst.ctl("queue", "flush").returncode == 0
    mailutil.wait_messages(inst, "alice@example.test", 40, timeout=20)


def test_qmgr_down_mail_waits_in_incoming(make_instance, certs):
    # The queue path: direct delivery off.
    inst = make_system(make_instance, certs,
                       params={"smtpd_direct_delivery": "no"})
    qmgr = inst.service("qmgr")
    inst.services.remove(qmgr)
    inst.start()
    send(inst, "x@remote.test", ["alice@example.test"],
         b"Subject: wait\r\n\r\nhi\r\n")
    assert len(mailutil.queue_files(inst, "incoming")) == 1
    inst.services.append(qmgr)
    inst.reload(inst.services)
    mailutil.wait_messages(inst, "alice@example.test", 1)


def test_damaged_queue_file_goes_to_corrupt(make_instance, certs):
    inst = make_system(make_instance, certs)
    inst.start()
    # A file that was cut short: never delivered half.
    d = os.path.join(inst.queue_dir, "incoming", "Z")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "1aaaaaaaaaaaZ"), "wb") as f:
        f.write(b"ISPMAIL-QUEUE 1\nS N\nE\tid=1aaaaaaaaaaaZ\tarrival=1\t"
                b"sender=x@y\nR P\tn=0\taddr=alice@example.test\n"
                b"M\tsize=0000000000100\nSubject: cut")
    inst.wait_for(lambda: mailutil.queue_files(inst, "corrupt"),
                  timeout=10, what="moved to corrupt/")
    assert mailutil.maildir_messages(inst, "alice@example.test") == []
    assert "damaged queue file" in inst.log()


def daemon_pids(inst, program):
    pids = []
    for pid in inst.instance_pids():
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                if f.read().split(b"\0")[0].endswith(program.encode()):
                    pids.append(pid)
        except OSError:
            pass
    return pids


def test_crash_safety_nothing_lost(make_instance, certs):
    """kill -9 qmgr, the agent and lmtpd at random moments while 60
    messages flow; afterwards every message is in its mailbox, and
    duplicates are only possible in the documented window (a kill between
    lmtpd's 250 and qmgr marking the recipient done)."""
    inst = make_system(make_instance, certs)
    inst.start()
    count = 60
    stop = threading.Event()
    rnd = random.Random(1234)

    def killer():
        while not stop.is_set():
            time.sleep(rnd.uniform(0.05, 0.3))
            prog = rnd.choice(["qmgr/qmgr", "smtp/smtp", "lmtpd/lmtpd"])
            for pid in daemon_pids(inst, prog):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    t = threading.Thread(target=killer)
    t.start()
    try:
        s = smtplib.SMTP("127.0.0.1", inst.port("smtp"), timeout=10)
        for i in range(count):
            s.sendmail("x@remote.test", ["alice@example.test"],
                       b"Subject: crash %d\r\nX-Seq: %d\r\n\r\nbody\r\n"
                       % (i, i))
        s.quit()
        time.sleep(1)
    finally:
        stop.set()
        t.join()
    # Wait for every distinct message, not a file count: duplicates must
    # not stand in for a message still missing.
    def seqs_now():
        return [int(email.message_from_bytes(m)["X-Seq"]) for m in
                mailutil.maildir_messages(inst, "alice@example.test")]
    inst.wait_for(lambda: set(seqs_now()) == set(range(count)),
                  timeout=60, what="all %d messages" % count)
    inst.wait_for(lambda: mailutil.queue_empty(inst), timeout=30,
                  what="empty queue")
    seqs = seqs_now()
    assert set(seqs) == set(range(count))
    dups = len(seqs) - count
    # Before the agent claimed the queue file (lock, qmgr still there),
    # requests of a killed qmgr left in the agent's listen queue were
    # delivered again by the next qmgr: 6 to 22 duplicates a run.
    assert dups <= 2, "too many duplicates: %d" % dups


def test_active_limit_and_hop_concurrency(make_instance, certs):
    """With room for 2 messages in memory and 1 delivery per store host,
    a burst of 20 still all arrives, in order of the queue."""
    inst = make_system(make_instance, certs, params={
        "qmgr_message_active_limit": "2",
        "qmgr_destination_concurrency_limit": "1"})
    inst.start()
    s = smtplib.SMTP("127.0.0.1", inst.port("smtp"), timeout=10)
    for i in range(20):
        s.sendmail("x@remote.test", ["bob@example.test"],
                   b"Subject: burst %d\r\n\r\nx\r\n" % i)
    s.quit()
    mailutil.wait_messages(inst, "bob@example.test", 20, timeout=60)
    inst.wait_for(lambda: mailutil.queue_empty(inst), what="empty queue")


def test_requeue_and_show(make_instance, certs):
    inst = make_system(make_instance, certs, lmtp_up=False, params={
        "minimal_backoff": "1h", "maximal_backoff": "2h",
        "queue_run_delay": "1h"})
    inst.start()
    qid = send(inst, "x@remote.test", ["team@example.test"],
               b"Subject: requeue\r\n\r\nhi\r\n")
    inst.wait_for(lambda: mailutil.queue_files(inst, "deferred"),
                  what="deferred")
    show = ctl_ok(inst, "queue", "show", qid).stdout
    # The alias was expanded into two recipients, each with its error.
    assert "recipient 0: <team@example.test> expanded" in show
    assert "(from recipient 0)" in show
    assert show.count("last attempt: 451 4.4.1") == 2
    inst.services.append(mailutil.lmtpd_service("lmtpd", inst.lmtp_port))
    inst.reload(inst.services)
    for _ in range(50):
        r = inst.ctl("queue", "requeue", qid)
        if r.returncode == 0:
            break
        time.sleep(0.1)
    assert r.returncode == 0, r.stderr
    mailutil.wait_messages(inst, "alice@example.test", 1, timeout=10)
    mailutil.wait_messages(inst, "bob@example.test", 1, timeout=10)
    assert "requeued by the operator" in inst.log()


def test_status_counts_queues(make_instance, certs):
    inst = make_system(make_instance, certs, lmtp_up=False)
    inst.start()
    send(inst, "x@remote.test", ["alice@example.test"],
         b"Subject: count\r\n\r\nhi\r\n")
    inst.wait_for(lambda: mailutil.queue_files(inst, "deferred"),
                  what="deferred")
    out = [line for line in ctl_ok(inst, "status").stdout.splitlines()
           if line.startswith("queue: ")]
    assert out == ["queue: incoming 0 active 0 deferred 1 hold 0 corrupt 0"]


def hostile_lmtp_server(port, reply):
    """An LMTP store host on port that defers every recipient with reply
    (bytes): what a compromised or hostile next hop could send back."""
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", port))
    lsock.listen(8)
    lsock.settimeout(0.2)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = lsock.accept()
            except socket.timeout:
                continue
            with conn, conn.makefile("rwb") as f:
                f.write(b"220 hostile LMTP\r\n")
                f.flush()
                for line in f:
                    verb = line[:4].upper()
                    if verb == b"QUIT":
                        f.write(b"221 bye\r\n")
                    elif verb == b"RCPT":
                        f.write(reply + b"\r\n")
                    else:
                        f.write(b"250 ok\r\n")
                    f.flush()
                    if verb == b"QUIT":
                        break
        lsock.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return stop, t


def test_queue_output_escaped(make_instance, certs):
    """HELO, ENVID and a remote reply carrying terminal escapes, CR and
    LF reach 'ispmailctl queue show/list' escaped, never raw: no escape
    sequence reaches the terminal and no line is faked."""
    inst = make_system(make_instance, certs, lmtp_up=False, params={
        "minimal_backoff": "1h", "maximal_backoff": "2h",
        "queue_run_delay": "1h"})
    stop, t = hostile_lmtp_server(
        inst.lmtp_port, b"451 4.3.0 \x1b[2J\x1b]0;owned\x07\xc2\x9b31m x")
    try:
        inst.start()
        s = smtplib.SMTP("127.0.0.1", inst.port("smtp"), timeout=10)
        s.ehlo("client.test")
        assert s.mail("x@remote.test", ["ENVID=envid-here"])[0] == 250
        assert s.rcpt("alice@example.test")[0] == 250
        qid = s.data(b"Subject: esc\r\n\r\nhi\r\n")[1].split()[-1].decode()
        s.quit()
        inst.wait_for(lambda: mailutil.queue_files(inst, "deferred"),
                      what="deferred")
    finally:
        stop.set()
        t.join()
    # smtpd no longer takes such a HELO or ENVID (test_smtp_inject.py);
    # a queue file written by an older version, or by hand, still may
    # hold them, and the tool must not print them raw.
    [path] = [p for p in mailutil.queue_files(inst, "deferred")
              if os.path.basename(p) == qid]
    with open(path, "rb") as f:
        data = f.read()
    # The agent already made the server's reply printable before qmgr
    # stored it; put the raw bytes back as an old queue file has them.
    assert b"?[2J?]0;owned???31m x" in data, data
    edited = data.replace(b"=client.test", b"=evil%1B[31m.test").replace(
        b"=envid-here", b"=a%0D%0Arecipient 0: <root@x> sent").replace(
        b"?[2J?]0;owned???31m x", b"%1B[2J%1B]0;owned%07\xc2\x9b31m x")
    assert edited.count(b"%1B[31m") == 1 and b"%0D%0A" in edited, data
    with open(path, "wb") as f:
        f.write(edited)
    show = inst.ctl("queue", "show", qid)
    listing = inst.ctl("queue", "list")
    for r in (show, listing):
        assert r.returncode == 0, r.stderr
        for bad in ("\x1b", "\x07", "\r", "\x9b"):
            assert bad not in r.stdout, (bad, r.stdout)
    out = show.stdout
    assert "(helo evil\\x1b[31m.test)" in out
    assert "envid: a\\r\\nrecipient 0: <root@x> sent\n" in out
    assert [l for l in out.splitlines() if l.startswith("recipient 0:")] \
        == ["recipient 0: <alice@example.test> pending"]
    assert "\\x1b[2J\\x1b]0;owned\\x07\\xc2\\x9b31m x" in out
    assert "\\x1b[2J" in listing.stdout


def test_local_part_cannot_nest_stores(make_instance, certs):
    """A '/' or a leading '.' in a local part would put a mailbox's store
    inside another's (alice/.junkmail shows up as alice's folder): such
    local parts are refused, and lmtpd refuses an existing entry whose
    store path sits in another store's folder."""
    inst = make_system(make_instance, certs)
    # (Quoted local parts keep their quotes in the path: '".."' is safe.)
    for local in ("alice/.junkmail", "alice/cur", ".hidden", '"a/b"'):
        r = inst.ctl("mailbox", "add", local + "@example.test")
        assert r.returncode != 0, (local, r.stdout)
    assert not os.path.exists(os.path.join(
        mailutil.mailbox_dir(inst, "alice@example.test"), ".junkmail"))
    assert not os.path.exists(os.path.join(
        mailutil.mailbox_dir(inst, "alice@example.test"), "cur", "cur"))
    # Nor a hand-chosen path inside alice's Sent folder.
    sent = mailutil.mailbox_dir(inst, "alice@example.test", "Sent")
    r = inst.ctl("mailbox", "add", "mallory@example.test", "path=" + sent)
    assert r.returncode == 1 and "unsafe" in r.stderr, r.stderr
    # An entry written before the check: lmtpd defers, delivers nothing.
    with open(os.path.join(inst.config_dir, "routes"), "a") as f:
        f.write("mailbox eve@example.test state=active quota=1G\n"
                "    host=localhost path=%s\n" % sent)
    inst.start()
    lmtp = smtplib.LMTP("127.0.0.1", inst.lmtp_port, timeout=10)
    lmtp.ehlo("agent.test")
    assert lmtp.mail("x@remote.test")[0] == 250
    code, text = lmtp.rcpt("eve@example.test")
    assert code == 451, (code, text)
    lmtp.quit()
    inst.wait_for_log(r"to=<eve@example.test> mailbox has no usable store "
                      r"path: .*unsafe component")
    assert mailutil.maildir_messages(inst, "alice@example.test", "Sent") \
        == []


def submission_client(inst):
    s = smtplib.SMTP("127.0.0.1", inst.port("submission"), timeout=10)
    s.ehlo("client.test")
    s.starttls(context=tlsutil.client_context(inst.certs))
    s.ehlo("client.test")
    assert s.login("bob@example.test", mailutil.PASSWORD)[0] == 235
    return s


def header_of(msg, name):
    """Every value of the header field name in a delivered message."""
    return email.message_from_bytes(msg).get_all(name) or []


def test_submission_adds_date_and_message_id(make_instance, certs):
    """RFC 6409 8.2, 8.3: submission adds a Date: and a Message-ID: the
    client left out, keeps the ones it sent, with DATA and BDAT alike,
    and puts them in the header even when the client sent no header."""
    inst = make_system(make_instance, certs)
    inst.start()
    s = submission_client(inst)
    bare = b"Subject: no date\r\n\r\nDate: in the body\r\n"
    assert s.sendmail("bob@example.test", ["alice@example.test"], bare) == {}
    own = (b"Date: Tue, 1 Dec 2026 10:00:00 +0100\r\n"
           b"Message-ID: <own@client.test>\r\nSubject: own\r\n\r\nb\r\n")
    assert s.sendmail("bob@example.test", ["alice@example.test"], own) == {}
    # BDAT (RFC 3030), the header without its empty line.
    s.putcmd("MAIL", "FROM:<bob@example.test>")
    assert s.getreply()[0] == 250
    s.putcmd("RCPT", "TO:<alice@example.test>")
    assert s.getreply()[0] == 250
    chunk = b"Subject: bdat\r\nmessage-id: <b@client.test>\r\n"
    s.putcmd("BDAT", "%d LAST" % len(chunk))
    s.send(chunk)
    code, text = s.getreply()
    assert code == 250, text
    bdat_qid = text.split()[-1].decode()
    # No header at all: the text stays in the body.
    assert s.sendmail("bob@example.test", ["alice@example.test"],
                      b"just text\r\n") == {}
    s.quit()
    msgs = mailutil.wait_messages(inst, "alice@example.test", 4)
    by_subject = {}
    for m in msgs:
        subject = (header_of(m, "Subject") or [None])[0]
        by_subject[subject] = m
    m = by_subject["no date"]
    [date] = header_of(m, "Date")
    assert email.utils.parsedate_to_datetime(date) is not None
    [mid] = header_of(m, "Message-ID")
    assert mid.startswith("<") and mid.endswith("@mx.example.test>"), mid
    assert m.endswith(b"\n\nDate: in the body\n")
    m = by_subject["own"]
    assert header_of(m, "Date") == ["Tue, 1 Dec 2026 10:00:00 +0100"]
    assert header_of(m, "Message-ID") == ["<own@client.test>"]
    m = by_subject["bdat"]
    assert header_of(m, "Message-ID") == ["<b@client.test>"]
    assert len(header_of(m, "Date")) == 1
    assert bdat_qid in m.decode()
    m = by_subject[None]
    parsed = email.message_from_bytes(m)
    assert parsed.get_payload() == "just text\n"
    assert parsed["Date"] is not None and parsed["Message-ID"] is not None


def test_every_qmgr_line_carries_its_queue_id(make_instance, certs):
    """A success notice is queued while its message's lines are logged:
    the message's own "removed" line still carries its queue id."""
    inst = make_system(make_instance, certs)
    inst.start()
    s = smtplib.SMTP("127.0.0.1", inst.port("smtp"), timeout=10)
    s.ehlo("client.test")
    assert s.mail("bob@example.test")[0] == 250
    assert s.rcpt("alice@example.test", ["NOTIFY=SUCCESS"])[0] == 250
    code, text = s.data(b"Subject: notify\r\n\r\nn\r\n")
    assert code == 250, text
    s.quit()
    qid = text.split()[-1].decode()
    mailutil.wait_messages(inst, "alice@example.test", 1)
    mailutil.wait_messages(inst, "bob@example.test", 1)
    inst.wait_for(lambda: mailutil.queue_empty(inst), what="empty queue")
    inst.wait_for_log(r"qmgr\[\d+\]: %s: removed" % qid)
    qmgr_lines = [l for l in inst.log().splitlines()
                  if re.search(r" \S+/qmgr\[\d+\]: ", l)]
    bare = [l for l in qmgr_lines
            if re.search(r"qmgr\[\d+\]: (removed|to=|from=)", l)]
    assert not bare, bare

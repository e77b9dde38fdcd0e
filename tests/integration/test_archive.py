"""The tamper-evident archive (ispmail-archive(5)) end to end: real SMTP
through smtpd -> qmgr -> lmtpd with archive on for one mailbox and off
for another domain, submission (outbound) mail, the checks of
`ispmailctl archive verify` against a flipped byte, a deleted record and
two swapped segments, an mbox export read back by Python's mailbox
module, retention, and one record per message across a retried
attempt.  Every archive is also checked by archiveverify.py, written
from the man page with hashlib and hmac only."""

import mailbox
import os
import shutil
import time

import pytest

import archiveverify
import harness
import mailutil
import smtpremoteutil
import tlsutil
from test_delivery import send
from test_filter import StandIn

KEY = b"0123456789abcdef0123456789abcdef-archive-test-key"


@pytest.fixture(scope="module")
def certs():
    return tlsutil.make_certs()


def make_system(make_instance, certs, params=None, lmtp_up=True,
                remote_port=None):
    lmtp_port = harness.free_port()
    inst = make_instance(services=smtpremoteutil.outbound_services(
        lmtp_port if lmtp_up else None))
    inst.params.update(mailutil.delivery_params(inst, certs, lmtp_port))
    key_file = os.path.join(inst.config_dir, "archive.key")
    with open(key_file, "wb") as f:
        f.write(KEY + b"\n")
    os.chmod(key_file, 0o600)
    inst.archive_dir = os.path.join(inst.config_dir, "..", "archive")
    inst.archive_dir = os.path.abspath(inst.archive_dir)
    inst.params.update({"archive_directory": inst.archive_dir,
                        "archive_key_file": key_file,
                        "archive_segment_size": "1"})
    if remote_port is not None:
        inst.params["relayhost"] = "[127.0.0.2]:%d" % remote_port
    inst.params.update(params or {})
    inst.write_main_conf()
    ctl = mailutil.provision(inst)
    ctl("mailbox", "set", "alice@example.test", "archive=yes")
    ctl("domain", "add", "other.test")
    ctl("mailbox", "add", "zed@other.test", "--password-stdin",
        input=mailutil.PASSWORD + "\n")
    inst.certs = certs
    return inst


def ctl_ok(inst, *args):
    r = inst.ctl(*args)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r.stdout


def domain_dir(inst, domain="example.test"):
    return os.path.join(inst.archive_dir, domain)


def messages(inst, domain="example.test"):
    return [r for r in archiveverify.records(domain_dir(inst, domain))
            if r["type"] == "message"]


def tampered_copy(inst, tmp_path, name):
    copy = str(tmp_path / name)
    shutil.copytree(inst.archive_dir, copy)
    return copy, os.path.join(copy, "example.test")


def verify_copy(inst, copy):
    return inst.ctl("-o", "archive_directory=" + copy, "archive", "verify",
                    "--domain", "example.test")


def test_archive_in_verify_tamper_export(make_instance, certs, tmp_path):
    inst = make_system(make_instance, certs)
    inst.start()
    bodies = [
        b"From: x@remote.test\r\nSubject: one\r\n\r\nhello\r\n"
        b"From here the body starts a line with From\r\n"
        b">From quoted already\r\n",
        b"From: y@remote.test\r\nSubject: two\r\n\r\nsecond\r\n",
        b"From: z@remote.test\r\nSubject: three\r\n\r\nthird\r\n",
    ]
    q1 = send(inst, "x@remote.test", ["alice@example.test"], bodies[0])
    # One transaction, one archived recipient: zed is not archived.
    q2 = send(inst, "y@remote.test", ["alice@example.test",
                                      "zed@other.test"], bodies[1])
    q_off = send(inst, "w@remote.test", ["zed@other.test"],
                 b"Subject: not archived\r\n\r\nx\r\n")
    q3 = send(inst, "z@remote.test", ["alice@example.test"], bodies[2])
    mailutil.wait_messages(inst, "alice@example.test", 3)
    mailutil.wait_messages(inst, "zed@other.test", 2)
    inst.wait_for(lambda: mailutil.queue_empty(inst), what="empty queue")
    # Archive on for one domain's mailbox, nothing for the other.
    assert os.listdir(inst.archive_dir) == ["example.test"]
    msgs = messages(inst)
    assert [m["queue_id"] for m in msgs] == [q1, q2, q3]
    assert msgs[1]["rcpt"] == ["alice@example.test"]
    assert all(m["direction"] == "in" for m in msgs)
    # The message as queued: our Received: line, then what was sent.
    for m, body in zip(msgs, bodies):
        assert m["payload"].startswith(b"Received: from client.test")
        assert m["payload"].endswith(b"\r\n" + body)
    assert q_off not in inst.ctl("archive", "search", "--address",
                                 "zed@other.test").stdout
    log = inst.log()
    for q in (q1, q2, q3):
        assert "%s: archived in example.test" % q in log, log[-3000:]
    # Archived mail took the queue path, not smtpd's direct delivery.
    assert "relay=lmtpd/direct" not in "".join(
        l for l in log.splitlines() if q1 in l or q3 in l)
    assert "relay=lmtpd/direct" in "".join(
        l for l in log.splitlines() if q_off in l)
    # archive_segment_size=1: each message sealed its own segment.
    assert len(archiveverify.segments(domain_dir(inst))) == 3
    assert archiveverify.verify(domain_dir(inst), KEY) == []
    out = ctl_ok(inst, "archive", "verify")
    assert "example.test: ok: 3 segments, 9 records" in out, out

    # search: by address and time.
    out = ctl_ok(inst, "archive", "search", "--address",
                 "alice@example.test")
    assert [q in out for q in (q1, q2, q3)] == [True] * 3
    out = ctl_ok(inst, "archive", "search", "--address", "y@remote.test",
                 "--since", "2000-01-01", "--until",
                 str(int(time.time()) + 60))
    assert q2 in out and q1 not in out and q3 not in out, out
    out = ctl_ok(inst, "archive", "search", "--address",
                 "alice@example.test", "--until", "2000-01-01")
    assert out == ""

    # export: mbox that Python's mailbox module reads back whole.
    r = inst.ctl("archive", "export", "--address", "alice@example.test")
    assert r.returncode == 0, r.stderr
    path = str(tmp_path / "export.mbox")
    with open(path, "wb") as f:
        f.write(r.stdout.encode("utf-8", "surrogateescape"))
    box = mailbox.mbox(path, create=False)
    got = list(box)
    assert len(got) == 3
    assert [m["Subject"] for m in got] == ["one", "two", "three"]
    assert got[0].get_from().startswith("x@remote.test ")
    payload = got[0].get_payload()
    # mboxrd: the quoting is undone by readers that know it; here the
    # stored text shows one more ">" before each From_ look-alike.
    assert ">From here the body" in payload
    assert ">>From quoted already" in payload
    assert got[1]["X-Ispmail-Envelope-To"] == "<alice@example.test>"
    assert q2 in got[1]["X-Ispmail-Archive"]
    box.close()

    # Flip one byte of the second message.
    copy, d = tampered_copy(inst, tmp_path, "flip")
    seg = os.path.join(d, "0000000000000002.seg")
    data = bytearray(open(seg, "rb").read())
    i = data.index(b"second")
    data[i] ^= 0x20
    open(seg, "wb").write(bytes(data))
    r = verify_copy(inst, copy)
    assert r.returncode == 1, r.stdout
    assert "segment 2: record n=5 (queue id %s) was changed" % q2 \
        in r.stdout, r.stdout
    assert "segment 2: seal does not verify" in r.stdout
    assert archiveverify.verify(d, KEY) != []

    # Delete the message record of segment 2.
    copy, d = tampered_copy(inst, tmp_path, "delete")
    seg = os.path.join(d, "0000000000000002.seg")
    data = open(seg, "rb").read()
    recs = archiveverify.parse_segment(data)
    msg, seal = recs[1], recs[2]
    open(seg, "wb").write(data[:msg["offset"]] + data[seal["offset"]:])
    r = verify_copy(inst, copy)
    assert r.returncode == 1
    assert "segment 2: records n=5 to n=5 are missing" in r.stdout, r.stdout
    assert archiveverify.verify(d, KEY) != []

    # Swap segments 2 and 3.
    copy, d = tampered_copy(inst, tmp_path, "swap")
    a, b = (os.path.join(d, "%016d.seg" % n) for n in (2, 3))
    os.rename(a, a + ".tmp")
    os.rename(b, a)
    os.rename(a + ".tmp", b)
    r = verify_copy(inst, copy)
    assert r.returncode == 1
    assert "segment 2: record n=7 belongs to segment 3 (segments swapped " \
        "or renamed)" in r.stdout, r.stdout
    assert "segment 3: record n=4 belongs to segment 2" in r.stdout
    assert archiveverify.verify(d, KEY) != []

    # A seal under another key is named too.
    other = tmp_path / "other.key"
    other.write_bytes(b"x" * 40 + b"\n")
    r = inst.ctl("-o", "archive_key_file=%s" % other, "archive", "verify")
    assert r.returncode == 1
    assert "segment 1: sealed with another key" in r.stdout, r.stdout
    # The real archive is untouched and still verifies.
    assert inst.ctl("archive", "verify").returncode == 0


def test_archive_retention_keeps_the_chain(make_instance, certs):
    inst = make_system(make_instance, certs)
    inst.start()
    for i in range(3):
        send(inst, "x@remote.test", ["alice@example.test"],
             b"Subject: r%d\r\n\r\nbody\r\n" % i)
        mailutil.wait_messages(inst, "alice@example.test", i + 1)
    inst.wait_for(lambda: mailutil.queue_empty(inst), what="empty queue")
    # Nothing is old enough for a day's retention.
    out = ctl_ok(inst, "-o", "archive_domain_retention=example.test=1d",
                 "archive", "expire", "--domain", "example.test")
    assert "0 segments removed" in out
    time.sleep(2.1)
    r = inst.ctl("-o", "archive_domain_retention=example.test=1s",
                 "archive", "expire")
    assert r.returncode == 0, r.stderr
    # Whole sealed segments go, never the newest one; the log says so.
    assert "example.test: 2 segments removed" in r.stdout, r.stdout
    assert "archive example.test: retention 1s removed segments 1 to 2 " \
        "(6 records" in r.stderr, r.stderr
    segs = [n for n, _ in archiveverify.segments(domain_dir(inst))]
    assert segs == [3, 4]
    recs = archiveverify.records(domain_dir(inst))
    [ret] = [r for r in recs if r["type"] == "retention"]
    assert (ret["removed_first"], ret["removed_last"]) == (1, 2)
    assert archiveverify.verify(domain_dir(inst), KEY) == []
    out = ctl_ok(inst, "archive", "verify")
    assert "example.test: ok" in out
    # Removing an older segment by hand is not covered by it.
    os.unlink(os.path.join(domain_dir(inst), "%016d.seg" % 3))
    r = inst.ctl("archive", "verify")
    assert r.returncode == 1
    assert "segments 1 to 3 are missing and no retention record" in \
        r.stdout, r.stdout


def test_archive_outbound_submission(make_instance, certs):
    port = smtpremoteutil.free_port_on(["127.0.0.2"])
    remote = smtpremoteutil.RemoteMTA("127.0.0.2", port).start()
    try:
        inst = make_system(make_instance, certs, remote_port=port)
        inst.start()
        qid = smtpremoteutil.submit(
            inst, ["far@remote.test"],
            b"Subject: outbound\r\n\r\nleaving\r\n",
            user="alice@example.test")
        remote.wait_messages(1, inst=inst)
        # bob has no archive: his outbound mail is not archived.
        qbob = smtpremoteutil.submit(
            inst, ["far@remote.test"], b"Subject: bob\r\n\r\nx\r\n",
            user="bob@example.test")
        remote.wait_messages(2, inst=inst)
    finally:
        remote.stop()
    [m] = messages(inst)
    assert m["queue_id"] == qid
    assert m["direction"] == "out"
    assert m["sender"] == "alice@example.test"
    assert m["auth"] == "alice@example.test"
    assert m["rcpt"] == []
    assert qbob not in inst.ctl("archive", "search").stdout
    assert archiveverify.verify(domain_dir(inst), KEY) == []


def test_archive_before_delivery_and_once(make_instance, certs):
    """Nothing is delivered while the archive cannot be written; a retry
    after the archive write (qmgr died before marking the queue file)
    does not archive the message twice."""
    inst = make_system(make_instance, certs, lmtp_up=False)
    inst.start()
    qid = send(inst, "x@remote.test", ["alice@example.test"],
               b"Subject: once\r\n\r\nbody\r\n")
    inst.wait_for_log(r"%s: archived in example.test" % qid, timeout=10)
    inst.wait_for(lambda: mailutil.queue_files(inst, "deferred"),
                  what="deferred (no lmtpd)")
    [path] = mailutil.queue_files(inst, "deferred")
    # Undo the A record, as if qmgr had died right after the archive.
    data = open(path, "rb").read()
    lines = data.split(b"\n")
    kept = [l for l in lines if not l.startswith(b"A\t")]
    assert len(kept) == len(lines) - 1
    open(path, "wb").write(b"\n".join(kept))
    ctl_ok(inst, "queue", "flush")
    inst.wait_for_log(r"archive example.test: already holds queue id %s"
                      % qid, timeout=10)
    assert [m["queue_id"] for m in messages(inst)] == [qid]

    # The archive cannot be written: mail waits, undelivered.
    shutil.rmtree(inst.archive_dir)
    open(inst.archive_dir, "w").close()     # a file where the dir was
    q2 = send(inst, "x@remote.test", ["alice@example.test"],
              b"Subject: waits\r\n\r\nbody\r\n")
    inst.wait_for_log(r"%s: to=<alice@example.test>, status=deferred "
                      r"\(451 4.3.0 archive unavailable\)" % q2, timeout=10)


def test_archive_domain_flag_and_prepended_fields(make_instance, certs):
    """archive=yes on a domain archives every mailbox of it (a mailbox's
    archive=no does not opt out); the archived message carries the header
    fields added after DATA (queue-file H records, here the filter's
    X-Spam-Status) exactly as the recipient got them."""
    spamd = StandIn("clean")
    try:
        inst = make_system(make_instance, certs, params={
            "spamd_servers": "127.0.0.1:%d" % spamd.port})
        ctl_ok(inst, "domain", "set", "other.test", "archive=yes")
        assert "archive: yes" in ctl_ok(inst, "domain", "show", "other.test")
        with open(os.path.join(inst.config_dir, "routes")) as f:
            assert "domain other.test local archive=yes\n" in f.read()
        ctl_ok(inst, "mailbox", "add", "yan@other.test", "archive=no")
        inst.start()
        body = b"From: x@remote.test\r\nSubject: dom\r\n\r\nbody\r\n"
        q1 = send(inst, "x@remote.test", ["zed@other.test"], body)
        q2 = send(inst, "x@remote.test", ["yan@other.test",
                                          "bob@example.test"], body)
        [got] = mailutil.wait_messages(inst, "zed@other.test", 1)
        mailutil.wait_messages(inst, "yan@other.test", 1)
        mailutil.wait_messages(inst, "bob@example.test", 1)
        inst.wait_for(lambda: mailutil.queue_empty(inst), what="empty queue")
    finally:
        spamd.close()
    msgs = messages(inst, "other.test")
    assert [m["queue_id"] for m in msgs] == [q1, q2]
    assert msgs[1]["rcpt"] == ["yan@other.test"]
    # bob's domain is not archived, nor is bob.
    assert not os.path.exists(domain_dir(inst, "example.test"))
    # Archived mail took the queue path, not smtpd's direct delivery.
    log = inst.log()
    assert "relay=lmtpd/direct" not in "\n".join(
        l for l in log.splitlines() if q1 in l)
    # What zed got, less lmtpd's Return-Path and Delivered-To, is what
    # the archive holds: the H record first, above our Received: field.
    payload = msgs[0]["payload"].replace(b"\r\n", b"\n")
    delivered = got.replace(b"\r\n", b"\n")
    assert delivered.startswith(b"Return-Path: <x@remote.test>\n"
                                b"Delivered-To: zed@other.test\n")
    delivered = delivered.split(b"\n", 2)[2]
    assert payload.startswith(b"X-Spam-Status: No, score=0.1 required=5.0"), \
        payload[:200]
    assert payload.index(b"X-Spam-Status") < payload.index(b"Received: ")
    assert payload == delivered
    assert archiveverify.verify(domain_dir(inst, "other.test"), KEY) == []
    assert ctl_ok(inst, "archive", "verify", "--domain", "other.test")

"""smtpd's direct delivery (smtpd_direct_delivery, smtpd(8)): a message
whose recipients are all mailboxes of this host's lmtpd is delivered over
LMTP before the 250, without a durable queue file; whatever lmtpd does
not take goes through the queue as before, exactly once."""

import os
import re
import smtplib
import socket
import subprocess
import threading
import time
import zlib

import pytest

import harness
import mailutil
import tlsutil


@pytest.fixture(scope="module")
def certs():
    return tlsutil.make_certs()


def make_system(make_instance, certs, lmtp_up=True, params=None):
    port = harness.free_port()
    inst = make_instance(services=mailutil.delivery_services(
        port if lmtp_up else None))
    inst.params.update(mailutil.delivery_params(inst, certs, port))
    inst.params.update(params or {})
    inst.write_main_conf()
    mailutil.provision(inst)
    inst.lmtp_port = port
    return inst


def ctl_ok(inst, *args, input=None):
    r = inst.ctl(*args, input=input)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r


def send(inst, rcpts, body, sender="x@remote.test", rcpt_options=()):
    s = smtplib.SMTP("127.0.0.1", inst.port("smtp"), timeout=30)
    s.ehlo("client.test")
    assert s.mail(sender)[0] == 250
    for r in rcpts:
        code, text = s.rcpt(r, list(rcpt_options))
        assert code == 250, (r, code, text)
    code, text = s.data(body)
    assert code == 250, text
    s.quit()
    return text.split()[-1].decode()


def all_queue_files(inst):
    return [f for sub in ("incoming", "active", "deferred", "hold")
            for f in mailutil.queue_files(inst, sub)]


def read_queue_file(inst, qid):
    """The one queue file of qid, read whole. qmgr may move it from
    incoming to active or deferred while we look (a scan can then see it
    twice, or open a name it just left): look again until one read
    succeeds. One message, one file name, wherever it sits."""
    for _ in range(100):
        paths = [f for f in all_queue_files(inst) if qid in f]
        assert len({os.path.basename(f) for f in paths}) <= 1, paths
        for path in paths:
            try:
                with open(path, "rb") as f:
                    return f.read()
            except FileNotFoundError:
                pass
        time.sleep(0.01)
    raise AssertionError("no queue file for %s" % qid)


def lines_of(inst, qid):
    return [l for l in inst.log().splitlines() if qid in l]


def direct_sent(inst, qid, rcpt):
    return [l for l in lines_of(inst, qid) if "smtpd" in l and
            "to=<%s>, relay=lmtpd/direct, status=sent" % rcpt in l]


def test_direct_delivery_leaves_no_queue_file(make_instance, certs):
    inst = make_system(make_instance, certs)
    inst.start()
    body = b"Subject: direct\r\n\r\n.dotted\r\nline\r\n"
    qid = send(inst, ["alice@example.test", "bob@example.test"], body)
    # Delivered before the 250: no waiting, and nothing in the queue.
    for who in ("alice", "bob"):
        [msg] = mailutil.maildir_messages(inst, who + "@example.test")
        assert msg.endswith(body.replace(b"\r\n", b"\n"))
        assert ("by mx.example.test (ispmail) with ESMTP id %s" % qid
                ).encode() in msg
    assert all_queue_files(inst) == []
    assert os.listdir(os.path.join(inst.queue_dir, "tmp")) == []
    # One grep follows it: smtpd's delivery lines and lmtpd's, no qmgr.
    assert direct_sent(inst, qid, "alice@example.test")
    assert direct_sent(inst, qid, "bob@example.test")
    lines = lines_of(inst, qid)
    assert sum("lmtpd" in l and "status=delivered" in l
               for l in lines) == 2
    assert not any("qmgr" in l for l in lines)


def test_lmtpd_down_queued_then_delivered(make_instance, certs):
    inst = make_system(make_instance, certs, lmtp_up=False)
    inst.start()
    qid = send(inst, ["alice@example.test"], b"Subject: later\r\n\r\nhi\r\n")
    # The 250 came from the queue commit: the file is there.
    assert any(qid in f for f in all_queue_files(inst))
    log = inst.log()
    assert re.search(r"%s: direct delivery to 127\.0\.0\.1:%d: "
                     r"Connection refused; queued" % (qid, inst.lmtp_port),
                     log), log[-2000:]
    assert not direct_sent(inst, qid, "alice@example.test")
    inst.services.append(mailutil.lmtpd_service("lmtpd", inst.lmtp_port))
    inst.reload(inst.services)
    mailutil.wait_messages(inst, "alice@example.test", 1, timeout=30)
    inst.wait_for(lambda: mailutil.queue_empty(inst), what="empty queue")
    assert len(mailutil.maildir_messages(inst, "alice@example.test")) == 1


def test_direct_off_takes_the_queue(make_instance, certs):
    inst = make_system(make_instance, certs,
                       params={"smtpd_direct_delivery": "no"})
    inst.start()
    qid = send(inst, ["alice@example.test"], b"Subject: q\r\n\r\nhi\r\n")
    mailutil.wait_messages(inst, "alice@example.test", 1)
    assert not direct_sent(inst, qid, "alice@example.test")
    # The message is in new/ a moment before lmtpd's 250 reaches qmgr,
    # which logs the delivery then.
    inst.wait_for(lambda: any("qmgr" in l and "status=sent" in l
                              for l in lines_of(inst, qid)),
                  what="qmgr's status=sent")


def test_one_of_two_over_quota_is_queued(make_instance, certs):
    # 452 for a full mailbox (not 552): lmtpd defers tiny, takes alice.
    inst = make_system(make_instance, certs,
                       params={"lmtp_quota_full_permanent": "no"})
    ctl_ok(inst, "mailbox", "add", "tiny@example.test", "quota=1k",
           "--password-stdin", input="pw\n")
    inst.start()
    body = b"Subject: big\r\n\r\n" + (b"x" * 70 + b"\r\n") * 45
    qid = send(inst, ["alice@example.test", "tiny@example.test"], body)
    assert len(mailutil.maildir_messages(inst, "alice@example.test")) == 1
    assert direct_sent(inst, qid, "alice@example.test")
    assert not direct_sent(inst, qid, "tiny@example.test")
    assert any("to=<tiny@example.test>, relay=lmtpd/direct, status=queued "
               "(RCPT: 452 4.2.2" in l for l in lines_of(inst, qid))
    # The queue file holds tiny pending and alice done.
    show = ctl_ok(inst, "queue", "show", qid).stdout
    assert "<tiny@example.test> pending" in show, show
    assert "<alice@example.test> pending" not in show, show
    # qmgr retries tiny (and only tiny) until it has room.
    inst.wait_for(lambda: any("qmgr" in l and "tiny@example.test" in l and
                              "status=deferred" in l
                              for l in lines_of(inst, qid)),
                  timeout=20, what="a queued attempt for tiny")
    ctl_ok(inst, "mailbox", "set", "tiny@example.test", "quota=1m")
    mailutil.wait_messages(inst, "tiny@example.test", 1, timeout=30)
    inst.wait_for(lambda: mailutil.queue_empty(inst), what="empty queue")
    # Exactly once each.
    assert len(mailutil.maildir_messages(inst, "alice@example.test")) == 1
    assert len(mailutil.maildir_messages(inst, "tiny@example.test")) == 1
    assert not any("qmgr" in l and "alice@example.test" in l
                   for l in lines_of(inst, qid))


def test_notify_success_takes_the_queue(make_instance, certs):
    inst = make_system(make_instance, certs)
    inst.start()
    qid = send(inst, ["alice@example.test"], b"Subject: dsn\r\n\r\nhi\r\n",
               sender="bob@example.test",
               rcpt_options=["NOTIFY=SUCCESS"])
    mailutil.wait_messages(inst, "alice@example.test", 1)
    assert not direct_sent(inst, qid, "alice@example.test")
    # The message is in new/ a moment before lmtpd's 250 reaches qmgr,
    # which logs the delivery then.
    inst.wait_for(lambda: any("qmgr" in l and "status=sent" in l
                              for l in lines_of(inst, qid)),
                  what="qmgr's status=sent")
    # The success DSN (RFC 3464) reaches the sender.
    [dsn] = mailutil.wait_messages(inst, "bob@example.test", 1)
    assert b"Action: delivered" in dsn
    assert qid.encode() in dsn


def test_alias_recipient_takes_the_queue(make_instance, certs):
    # An alias is expanded by qmgr: the whole transaction is queued.
    inst = make_system(make_instance, certs)
    ctl_ok(inst, "alias", "add", "crew@example.test", "bob@example.test")
    inst.start()
    qid = send(inst, ["alice@example.test", "crew@example.test"],
               b"Subject: mixed\r\n\r\nhi\r\n")
    mailutil.wait_messages(inst, "alice@example.test", 1)
    mailutil.wait_messages(inst, "bob@example.test", 1)
    inst.wait_for(lambda: mailutil.queue_empty(inst), what="empty queue")
    assert not any("relay=lmtpd/direct" in l for l in lines_of(inst, qid))
    assert len(mailutil.maildir_messages(inst, "alice@example.test")) == 1
    assert len(mailutil.maildir_messages(inst, "bob@example.test")) == 1


def broken_lmtp_server(port, mode):
    """A store host that misbehaves for smtpd's direct delivery: "busy"
    accepts and never greets (an lmtpd with every process busy); "silent"
    greets and then never answers LHLO; "hangup" takes the envelope and
    the message, then closes without a reply to the end of data;
    "multiline" defers the message with a two-line reply."""
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", port))
    lsock.listen(8)
    lsock.settimeout(0.2)
    stop = threading.Event()

    def session(conn):
        if mode == "busy":
            stop.wait(30)
            conn.close()
            return
        with conn, conn.makefile("rwb") as f:
            f.write(b"220 broken LMTP\r\n")
            f.flush()
            in_data = False
            for line in f:
                if in_data:
                    if line == b".\r\n" and mode == "hangup":
                        return          # hang up: no per-recipient reply
                    if line == b".\r\n":
                        in_data = False
                        f.write(b"452-4.2.0 first line\r\n"
                                b"452 4.2.0 second\r\n")
                        f.flush()
                    continue
                verb = line[:4].upper()
                if mode == "silent":
                    stop.wait(30)
                    return
                if verb == b"QUIT":
                    f.write(b"221 bye\r\n")
                    f.flush()
                    return
                if verb == b"LHLO":
                    f.write(b"250-broken\r\n250 PIPELINING\r\n")
                elif verb == b"DATA":
                    f.write(b"354 go\r\n")
                    in_data = True
                else:
                    f.write(b"250 ok\r\n")
                f.flush()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = lsock.accept()
            except socket.timeout:
                continue
            threading.Thread(target=session, args=(conn,),
                             daemon=True).start()
        lsock.close()

    threading.Thread(target=serve, daemon=True).start()
    return stop


@pytest.mark.parametrize("mode,reason", [
    ("silent", "timeout"), ("hangup", "lost connection"),
    ("busy", "timeout")])
def test_broken_lmtpd_falls_back_to_the_queue(make_instance, certs, mode,
                                              reason):
    # "busy": only smtpd_direct_connect_timeout (1s) may bound the wait
    # for a greeting, not smtpd_direct_timeout (60s).
    params = {"smtpd_direct_timeout": "1s"} if mode != "busy" else \
        {"smtpd_direct_timeout": "60s", "smtpd_direct_connect_timeout": "1s"}
    inst = make_system(make_instance, certs, lmtp_up=False, params=params)
    stop = broken_lmtp_server(inst.lmtp_port, mode)
    try:
        inst.start()
        started = time.monotonic()
        qid = send(inst, ["alice@example.test"], b"Subject: s\r\n\r\nhi\r\n")
        if mode in ("silent", "busy"):
            # The deadline, not smtpd_timeout (300s), bounds the wait.
            assert time.monotonic() - started < 10
        assert any(qid in f for f in all_queue_files(inst)) or \
            any("qmgr" in l for l in lines_of(inst, qid))
        assert any("direct delivery to 127.0.0.1:%d: %s; queued"
                   % (inst.lmtp_port, reason) in l
                   for l in lines_of(inst, qid)), inst.log()[-3000:]
        assert not direct_sent(inst, qid, "alice@example.test")
    finally:
        stop.set()


def test_multiline_reply_logged_on_one_line(make_instance, certs):
    inst = make_system(make_instance, certs, lmtp_up=False)
    stop = broken_lmtp_server(inst.lmtp_port, "multiline")
    try:
        inst.start()
        qid = send(inst, ["alice@example.test"], b"Subject: m\r\n\r\nhi\r\n")
        [line] = [l for l in lines_of(inst, qid) if "lmtpd/direct" in l]
        assert line.endswith("to=<alice@example.test>, relay=lmtpd/direct, "
                             "status=queued (452 4.2.0 first line 4.2.0 "
                             "second)"), line
        assert not any(l.startswith("4.2.0 second")
                       for l in inst.log().splitlines())
    finally:
        stop.set()


def trace_sends(inst, bodies, syscalls):
    """Send each body to alice under strace attached to the master; the
    smtpd and lmtpd processes' calls among syscalls, as two lists of
    strace lines ("openat(...) = 5")."""
    out = os.path.join(inst.dir, "strace.out")
    tracer = subprocess.Popen(
        ["strace", "-f", "-qq", "-o", out, "-e",
         "trace=execve," + syscalls, "-p", str(inst.pid)],
        stderr=subprocess.PIPE)
    # strace writes the attach before it traces: wait for its file.
    harness.wait_for(lambda: os.path.exists(out), 10, what="strace")
    time.sleep(0.5)
    try:
        for body in bodies:
            send(inst, ["alice@example.test"], body)
    finally:
        tracer.terminate()
        tracer.wait(10)
    smtpd_pids, lmtpd_pids = set(), set()
    with open(out) as f:
        trace = f.read().splitlines()
    # strace pads the pid column ("6242  execve(..."): split on any run
    # of blanks.
    trace = [line.split(None, 1) for line in trace]
    trace = [t for t in trace if len(t) == 2]
    for pid, call in trace:
        if call.startswith("execve(") and "smtpd/smtpd" in call:
            smtpd_pids.add(pid)
        if call.startswith("execve(") and "lmtpd/lmtpd" in call:
            lmtpd_pids.add(pid)
    assert smtpd_pids, "no smtpd started under strace:\n" + "\n".join(
        " ".join(t) for t in trace[:50])
    return ([call for pid, call in trace if pid in smtpd_pids],
            [call for pid, call in trace if pid in lmtpd_pids])


def smtpd_fsyncs(inst, count):
    """The fsync/fdatasync calls of smtpd and of lmtpd for count
    messages to alice."""
    smtpd, lmtpd = trace_sends(
        inst, [b"Subject: %d\r\n\r\nhi\r\n" % i for i in range(count)],
        "fsync,fdatasync")

    def fsyncs(calls):
        return sum(c.startswith(("fsync(", "fdatasync(")) for c in calls)
    return fsyncs(smtpd), fsyncs(lmtpd)


@pytest.mark.parametrize("direct,dirs", [("yes", "no"), ("no", "no"),
                                         ("no", "yes")])
def test_fsync_count(make_instance, certs, direct, dirs):
    """One durable write per message: direct delivery leaves it to
    lmtpd, whose one fsync commits the message and its name in new/;
    the queue path's one fsync commits the queue file and its name in
    incoming/.  fsync_directories = yes adds the directory's fsync."""
    # smtpd is spawned on demand: the traced master starts it after
    # the tracer attached, so its every fsync is seen.
    inst = make_system(make_instance, certs,
                       params={"smtpd_direct_delivery": direct,
                               "fsync_directories": dirs})
    inst.start()
    fsyncs, lmtpd_fsyncs = smtpd_fsyncs(inst, 5)
    mailutil.wait_messages(inst, "alice@example.test", 5)
    if direct == "yes":
        assert fsyncs == 0, fsyncs
        assert lmtpd_fsyncs == 5, lmtpd_fsyncs
    elif dirs == "no":
        assert fsyncs == 5, fsyncs
    else:
        # The control: file and directory per message.
        assert fsyncs == 10, fsyncs


def queue_file_creates(inst, calls):
    """smtpd's queue file creations: an unnamed file in tmp/, or a named
    one there where O_TMPFILE cannot be used."""
    tmp = '"%s/tmp' % inst.queue_dir
    return [c for c in calls if c.startswith(("open(", "openat(")) and
            tmp in c and ("O_TMPFILE" in c or "O_CREAT" in c) and
            "= -1" not in c]


def test_queue_file_only_when_needed(make_instance, certs):
    """A message that fits smtpd's 64 KiB write buffer and that lmtpd
    takes never gets a queue file (no inode made and freed); a bigger
    one is written to its file first and sent from there, intact."""
    inst = make_system(make_instance, certs)
    inst.start()
    small = [b"Subject: small %d\r\n\r\nhi\r\n" % i for i in range(3)]
    line = b"." + b"x" * 98 + b"\r\n"     # dot-stuffed on the wire
    big = b"Subject: big\r\n\r\n" + line * 1500    # ~150 KB
    # One connection a message, sent one after the other: the fourth
    # accepted connection starts the big one.
    smtpd, _ = trace_sends(inst, small + [big], "open,openat,accept4")
    accepts = [i for i, c in enumerate(smtpd)
               if c.startswith("accept4(") and not re.search(r"= -1", c)]
    assert len(accepts) == 4, smtpd
    assert queue_file_creates(inst, smtpd[:accepts[3]]) == [], smtpd
    # One file (two opens when it is the process's first: the O_TMPFILE
    # probe links and drops one).
    assert len(queue_file_creates(inst, smtpd[accepts[3]:])) in (1, 2), \
        smtpd
    msgs = mailutil.maildir_messages(inst, "alice@example.test")
    assert len(msgs) == 4
    assert sum(m.endswith(big.split(b"\r\n\r\n", 1)[1].replace(
        b"\r\n", b"\n")) for m in msgs) == 1
    assert all_queue_files(inst) == []
    assert os.listdir(os.path.join(inst.queue_dir, "tmp")) == []


@pytest.mark.parametrize("size", [2000, 150000])
def test_partly_delivered_from_memory_is_queued_once(make_instance, certs,
                                                     size):
    """lmtpd takes alice but defers tiny (over quota): the queue file is
    created then (from memory for the small message), committed with
    alice marked done, and qmgr retries tiny only: alice has one copy,
    the queued file holds the whole message."""
    inst = make_system(make_instance, certs,
                       params={"lmtp_quota_full_permanent": "no"})
    ctl_ok(inst, "mailbox", "add", "tiny@example.test", "quota=1k",
           "--password-stdin", input="pw\n")
    inst.start()
    body = b"Subject: part\r\n\r\n" + (b"y" * 98 + b"\r\n") * (
        size // 100)
    qid = send(inst, ["alice@example.test", "tiny@example.test"], body)
    assert direct_sent(inst, qid, "alice@example.test")
    # The 250 came after the commit: the file is there now, whole.
    data = read_queue_file(inst, qid)
    assert re.search(rb"\nR D\t[^\n]*addr=alice@example\.test", data), \
        data[:600]
    assert re.search(rb"\nR P\t[^\n]*addr=tiny@example\.test", data), \
        data[:600]
    m = re.search(rb"\nM\tsize=(\d+)\n(.*)Z\tcrc=([0-9a-f]{8})\n", data,
                  re.S)
    assert m, data[:600]
    assert int(m.group(1)) == len(m.group(2))
    assert zlib.crc32(m.group(2)) == int(m.group(3), 16)
    assert m.group(2).endswith(body)
    # qmgr tries tiny again (deferred), never alice.
    inst.wait_for(lambda: any("qmgr" in l and "tiny@example.test" in l and
                              "status=deferred" in l
                              for l in lines_of(inst, qid)),
                  what="qmgr's retry of tiny")
    assert not any("qmgr" in l and "alice@example.test" in l
                   for l in lines_of(inst, qid))
    assert len(mailutil.maildir_messages(inst, "alice@example.test")) == 1

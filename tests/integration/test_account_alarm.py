"""The exploited-account alarm: an account with a learned history (fed
with times supplied by the test) that sends 50x its usual is held and
refused; another account is unaffected; ispmailctl account release lets
it send again and delivers the mail its alarm held.  The account's
messages still queued when the alarm trips (deferred: the receiver is
down) are held by qmgr at their next attempt and released with the rest;
baseline_alarm_command runs once for the hold."""

import os
import pathlib
import re
import shutil
import smtplib
import socket
import tempfile
import threading
import time

import pytest

import harness
import mailutil
import tlsutil
from mailutil import PASSWORD

ALICE = "alice@example.test"
BOB = "bob@example.test"


@pytest.fixture(scope="module")
def certs():
    return tlsutil.make_certs()


def ctl_ok(inst, *args, input=None):
    r = inst.ctl(*args, input=input)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r


def message(sender, rcpt, n):
    return ("From: <%s>\r\nTo: <%s>\r\nSubject: note %d\r\n\r\nbody %d\r\n"
            % (sender, rcpt, n, n)).encode()


def send(inst, login, rcpt, count):
    """Up to count messages in one session; [(code of MAIL or DATA,
    text, queue id or None)] until the first refusal."""
    s = smtplib.SMTP("127.0.0.1", inst.port("submission"), timeout=60)
    s.ehlo("client.test")
    s.login(login, PASSWORD)
    out = []
    for n in range(count):
        code, text = s.mail(login)
        if code != 250:
            out.append((code, text.decode(), None))
            break
        assert s.rcpt(rcpt)[0] == 250
        code, text = s.data(message(login, rcpt, n))
        text = text.decode()
        out.append((code, text, text.split()[-1] if code == 250 else None))
        if code != 250:
            break
    s.quit()
    return out


def metrics(inst):
    out = ctl_ok(inst, "metrics").stdout
    return {k: float(v) for k, v in
            re.findall(r"^([a-z_]+(?:\{[^}]*\})?) (\S+)$", out, re.M)}


ALARM_PARAMS = {"account_alarm_window": "1h", "account_alarm_factor": "10",
                "account_alarm_minimum": "20", "account_alarm_history": "24"}


def feed_history(inst):
    """Two days of history, one message an hour for alice and bob."""
    # Not across the end of a window: the count starts over there.
    if time.time() % 3600 > 3540:
        time.sleep(3600 - time.time() % 3600 + 1)
    now = int(time.time())
    hour = now - now % 3600
    history = "".join("%d %s 1\n" % (hour - k * 3600 + 60, login)
                      for k in range(48, 0, -1) for login in (ALICE, BOB))
    ctl_ok(inst, "account", "feed", input=history)


def test_fifty_times_usual_held_refused_released(make_instance, certs):
    inst = mailutil.submission_system(make_instance, certs, ALARM_PARAMS)
    feed_history(inst)
    shown = ctl_ok(inst, "account", "show", ALICE).stdout
    assert re.match(r"alice@example\.test window 1 messages usual 1\.0 ",
                    shown), shown
    inst.start()

    # alice sends 50x her usual: the 20th message (minimum 20, more than
    # 10x 1.0) raises the alarm and is held; the 21st MAIL FROM is refused.
    out = send(inst, ALICE, BOB, 50)
    assert len(out) == 21, out
    assert all(code == 250 for code, _, _ in out[:20]), out
    code, text, _ = out[20]
    assert code == 451 and "4.7.1" in text and ALICE in text, out[20]
    held_id = out[19][2]
    # Those of the 19 before it that qmgr had not delivered yet are held
    # too (the second test makes sure of it); the rest went out.
    wait_for("an empty queue", lambda: not any(
        mailutil.queue_files(inst, q)
        for q in ("incoming", "active", "deferred")))
    held = [os.path.basename(p) for p in mailutil.queue_files(inst, "hold")]
    assert held_id in held, held
    delivered = len(mailutil.maildir_messages(inst, BOB))
    assert delivered + len(held) == 20, (delivered, held)
    show = ctl_ok(inst, "queue", "show", held_id).stdout
    assert ("hold reason: account alarm: login alice@example.test sent 20 "
            "messages in a window, usual 1.0") in show, show
    log = inst.log()
    assert re.search(r"%s: ALARM: account alice@example\.test sent 20 "
                     r"messages in 3600s, 20\.0x its usual 1\.0" % held_id,
                     log), log[-3000:]
    assert re.search(r"reject: MAIL from 127\.0\.0\.1: account "
                     r"alice@example\.test is held", log), log[-3000:]
    # Still refused in a new session (and the refusal is counted).
    again = send(inst, ALICE, BOB, 1)
    assert again[0][0] == 451, again
    held_list = ctl_ok(inst, "account", "list-held").stdout
    assert held_list.startswith("alice@example.test window ") \
        and " held since " in held_list and BOB not in held_list, held_list

    # bob, same history, sends his usual: unaffected.
    out = send(inst, BOB, ALICE, 3)
    assert [c for c, _, _ in out] == [250] * 3, out
    mailutil.wait_messages(inst, ALICE, 3)
    m = metrics(inst)
    assert m['ispmail_alarms_total{figure="account"}'] == 1, m
    assert m['ispmail_smtpd_rejects_total{reason="account_held"}'] == 2, m

    # Release: the held messages go out, alice may send again.
    r = ctl_ok(inst, "account", "release", ALICE).stdout
    assert r == "%s: released, %d held message%s released\n" % (
        ALICE, len(held), "" if len(held) == 1 else "s"), r
    assert mailutil.queue_files(inst, "hold") == []
    mailutil.wait_messages(inst, BOB, 20)
    out = send(inst, ALICE, BOB, 1)
    assert out[0][0] == 250, out
    mailutil.wait_messages(inst, BOB, 21)
    assert ctl_ok(inst, "account", "list-held").stdout == ""
    r = ctl_ok(inst, "account", "release", ALICE).stdout
    assert "was not held, 0 held messages released" in r, r


class Forwarder:
    """The LMTP receiver as qmgr sees it: refused (down) until start(),
    then every connection piped to the real lmtpd."""

    def __init__(self, target_port):
        self.target = target_port
        self.port = harness.free_port()
        self.sock = None

    def start(self):
        self.sock = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    def stop(self):
        if self.sock is not None:
            self.sock.close()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            up = socket.create_connection(("127.0.0.1", self.target), 10)
            for a, b in ((conn, up), (up, conn)):
                threading.Thread(target=self._pipe, args=(a, b),
                                 daemon=True).start()

    @staticmethod
    def _pipe(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def wait_for(what, check, timeout=20.0):
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        assert time.monotonic() < deadline, "timed out waiting for " + what
        time.sleep(0.2)


def test_queued_mail_of_held_account_held_and_hooked(make_instance, certs):
    # The sampler runs the hook as mail_owner ("nobody" under root): a
    # directory it may enter, a file it may append to.
    top = pathlib.Path(tempfile.mkdtemp(prefix="ispmail-hook-"))
    top.chmod(0o755)
    hook_out = top / "hook.out"
    hook_out.touch()
    hook_out.chmod(0o666)
    hook = top / "hook.sh"
    hook.write_text("#!/bin/sh\necho \"$@\" >> %s\n" % hook_out)
    hook.chmod(0o755)
    inst = mailutil.submission_system(make_instance, certs, dict(
        ALARM_PARAMS, baseline_sample_time="1s",
        baseline_alarm_command=str(hook)))
    # qmgr delivers through the forwarder, down for now: alice's mail
    # waits in deferred/.
    lmtp_port = int(inst.params["lmtp_local_nexthop"].rsplit(":", 1)[1])
    fwd = Forwarder(lmtp_port)
    inst.params["lmtp_local_nexthop"] = "127.0.0.1:%d" % fwd.port
    inst.write_main_conf()
    feed_history(inst)
    inst.start()
    try:
        out = send(inst, ALICE, BOB, 5)
        assert [c for c, _, _ in out] == [250] * 5, out
        early = {i for _, _, i in out}
        wait_for("5 deferred", lambda: len(
            mailutil.queue_files(inst, "deferred")) == 5)
        # 14 more are queued, the 20th of the window raises the alarm.
        out = send(inst, ALICE, BOB, 16)
        assert len(out) == 16 and out[15][0] == 451, out
        ids = early | {i for _, _, i in out[:15]}
        assert len(ids) == 20, ids

        # The receiver is back: the 19 queued before the alarm are held
        # by qmgr at their next attempt, nothing of alice's goes out,
        # bob's mail does.
        fwd.start()
        out = send(inst, BOB, ALICE, 1)
        assert out[0][0] == 250, out
        mailutil.wait_messages(inst, ALICE, 1)

        def all_held():
            held = mailutil.queue_files(inst, "hold")
            rest = sum(len(mailutil.queue_files(inst, q))
                       for q in ("incoming", "active", "deferred"))
            return held if len(held) == 20 and rest == 0 else None
        held = wait_for("20 held", all_held)
        assert {os.path.basename(p) for p in held} == ids, (held, ids)
        time.sleep(3)   # more than a back-off: still nothing delivered
        assert mailutil.maildir_messages(inst, BOB) == []
        some = sorted(early)[0]
        show = ctl_ok(inst, "queue", "show", some).stdout
        assert ("hold reason: account alarm: login alice@example.test "
                "sent 20 messages in a window, usual 1.0") in show, show
        log = inst.log()
        assert re.search(r"%s: put on hold: account alarm: login "
                         r"alice@example\.test" % some, log), log[-3000:]

        # The master's sampler ran the hook once: figure, count, usual,
        # login.
        wait_for("the hook", hook_out.read_text)
        time.sleep(2.5)  # two more samples: not run again
        assert hook_out.read_text() == "account 20 1 %s\n" % ALICE

        r = ctl_ok(inst, "account", "release", ALICE).stdout
        assert r == "%s: released, 20 held messages released\n" % ALICE, r
        mailutil.wait_messages(inst, BOB, 20)
        assert mailutil.queue_files(inst, "hold") == []
    finally:
        fwd.stop()
        shutil.rmtree(top, ignore_errors=True)

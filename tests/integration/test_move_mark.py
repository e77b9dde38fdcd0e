"""Issue 16, the move's mark (store_mark.h): imapd's XMOVING writes
ispmail-moving into the source store at the start of the final phase.

- lmtpd looks at it just before it links a message into new/: a
  delivery whose RCPT came before the mark and whose DATA ends after the
  move gets 451 4.2.1 and leaves nothing on the source; the retry lands
  on the destination.
- XMOVING SET waits for the deliveries in progress (files in tmp/) and
  refuses when one does not finish; the lease ends a killed move's mark.
- Open sessions end on the mark with the LDAP backend too (a real slapd),
  with no directory search per session meanwhile.

Real daemons on loopback: two store hosts (imapd, lmtpd), a real move."""

import base64
import os
import re
import smtplib
import socket
import threading
import time

import harness
from imapdutil import Raw
import slapd as slapd_fixture
from test_move import (ADMIN, ADMIN_PASSWORD, DST, PASSWORD, SRC, Pair, msg,
                       populate, snapshot)


def src_root(pair):
    return os.path.join(pair.src.store_dir, "example.test",
                        pair.user.split("@")[0])


class Imap(Raw):
    """A raw IMAP client on a store host's address."""

    def __init__(self, host, port, timeout=20):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        self.greeting = self.line()

    def admin(self, user):
        sasl = base64.b64encode(("%s\0%s\0%s" % (
            user, ADMIN, ADMIN_PASSWORD)).encode()).decode()
        return self.cmd("AUTHENTICATE PLAIN " + sasl, "a")

    def close(self):
        self.sock.close()


def admin_session(pair, host=SRC):
    c = Imap(host, pair.imap_port)
    r = c.admin(pair.user)
    assert r[-1].startswith("a OK") and "XMOVING" in r[-1], r
    return c


def held_delivery(host, port, user, body):
    """An LMTP transaction to host left in DATA: RCPT accepted, the
    message sent but for the final dot.  Returns the client."""
    c = smtplib.LMTP(host, port, timeout=30)
    c.ehlo("agent.example.test")
    assert c.mail("bob@remote.test")[0] == 250
    code, text = c.rcpt(user)
    assert code == 250, (code, text)
    c.putcmd("data")
    code, text = c.getreply()
    assert code == 354, (code, text)
    c.send(body)
    return c


def finish(c):
    c.send(b".\r\n")
    reply = c.getreply()
    c.close()
    return reply


def files_with(root, needle):
    """Message files under the store root whose bytes contain needle."""
    out = []
    for dirpath, _, names in os.walk(root):
        if os.path.basename(dirpath) not in ("cur", "new"):
            continue
        for n in names:
            with open(os.path.join(dirpath, n), "rb") as f:
                if needle in f.read():
                    out.append(os.path.join(dirpath, n))
    return out


def test_delivery_held_across_the_move_is_deferred_not_lost(make_instance):
    """RCPT before the mark, DATA's end after the switch: 451 4.2.1, the
    source keeps nothing, the retry lands on the destination once."""
    pair = Pair(make_instance)
    populate(pair, per_folder=10)
    body = msg("held-across-the-move", 1)
    held = held_delivery(SRC, pair.lmtp_port, pair.user, body)
    r = pair.move()
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert os.path.exists(os.path.join(src_root(pair), "ispmail-moving"))
    pair.src.wait_for_log(r"user=%s moving mark set for 60s" % pair.user)
    code, text = finish(held)
    # Before the mark existed this was 250 and the message stayed on the
    # source, after the move's last pass: lost to its owner.
    assert code == 451 and b"4.2.1" in text, (code, text)
    pair.src.wait_for_log(r"to=<%s> folder=INBOX status=deferred "
                          r"\(mailbox being moved\)" % pair.user)
    assert files_with(src_root(pair), b"held-across-the-move") == []
    assert os.listdir(os.path.join(src_root(pair), "tmp")) == []
    # The queue's retry goes where the directory now says: the new host.
    c = smtplib.LMTP(DST, pair.lmtp_port, timeout=30)
    c.sendmail("bob@remote.test", [pair.user], body)
    c.quit()
    assert len(files_with(pair.dst_path, b"held-across-the-move")) == 1


def test_delivery_during_final_phase_lands_once(make_instance):
    """A delivery held open on the source, finished while the move is in
    its final phase (between the routing mark and the switch): whatever
    the timing, it ends on the destination exactly once or is deferred
    (and then delivered there by the retry), never left on the source."""
    pair = Pair(make_instance)
    populate(pair, per_folder=200)
    body = msg("finished-in-the-final-phase", 2)
    held = held_delivery(SRC, pair.lmtp_port, pair.user, body)
    p = pair.move_popen()

    def moving():
        with open(pair.routes) as f:
            return "state=moving" in f.read()
    # The final phase starts when the routing record says moving.
    harness.wait_for(moving, timeout=60, interval=0.001,
                     what="the moving mark")
    code, text = finish(held)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, (out, err)
    assert code in (250, 451), (code, text)
    dst_copies = files_with(pair.dst_path, b"finished-in-the-final-phase")
    src_copies = files_with(src_root(pair), b"finished-in-the-final-phase")
    if code == 250:
        # Linked before XMOVING's answer: the final pass copied it.
        assert len(dst_copies) == 1, (out, dst_copies)
    else:
        assert src_copies == [] and dst_copies == [], (src_copies,
                                                       dst_copies)


def test_xmoving_waits_for_deliveries_in_progress(make_instance):
    pair = Pair(make_instance)
    root = src_root(pair)
    mark = os.path.join(root, "ispmail-moving")
    # Users do not have the command, nor see it.
    c = Imap(SRC, pair.imap_port)
    r = c.cmd('LOGIN "%s" "%s"' % (pair.user, PASSWORD), "L")
    assert r[-1].startswith("L OK") and "XMOVING" not in r[-1], r
    assert c.cmd("XMOVING SET 10")[-1] == "t1 BAD Unknown command"
    c.close()
    assert not os.path.exists(mark)
    a = admin_session(pair)
    assert a.cmd("XMOVING SET 0")[-1].startswith("t1 BAD")
    assert a.cmd("XMOVING SET 99999999")[-1].startswith("t1 BAD")
    assert a.cmd("XMOVING FOO")[-1].startswith("t1 BAD")
    # A file in a folder's tmp/ is a delivery writing its message: SET
    # answers only once it is gone.
    os.makedirs(os.path.join(root, ".Junk", "tmp"), exist_ok=True)
    writing = os.path.join(root, ".Junk", "tmp", "1.M1P1.writing")
    open(writing, "w").close()
    # One that has not changed for longer than the lease is a crash's
    # leftover, not waited for.
    leftover = os.path.join(root, "tmp", "1.M2P2.leftover")
    open(leftover, "w").close()
    os.utime(leftover, (time.time() - 7200, time.time() - 7200))
    timer = threading.Timer(0.8, os.unlink, (writing,))
    t0 = time.monotonic()
    timer.start()
    r = a.cmd("XMOVING SET 10")
    took = time.monotonic() - t0
    assert r[-1] == "t1 OK Marked as moving", r
    assert took >= 0.75, took
    with open(mark) as f:
        until = int(re.match(r"until=(\d+)\n$", f.read()).group(1))
    assert abs(until - (time.time() + 10)) < 3
    pair.src.wait_for_log(r"user=%s moving mark set for 10s \(waited for "
                          r"1 deliveries" % pair.user)
    # Marked: a delivery is deferred after its message was written, and
    # leaves nothing.
    c = smtplib.LMTP(SRC, pair.lmtp_port, timeout=30)
    c.ehlo("agent.example.test")
    c.mail("bob@remote.test")
    assert c.rcpt(pair.user)[0] == 250
    code, text = c.data(msg("while-marked", 3))
    c.quit()
    assert code == 451 and b"4.2.1" in text, (code, text)
    assert os.listdir(os.path.join(root, "new")) == []
    assert os.listdir(os.path.join(root, "tmp")) == ["1.M2P2.leftover"]
    assert a.cmd("XMOVING CLEAR")[-1] == "t1 OK Mark cleared"
    assert not os.path.exists(mark)
    # A delivery that never ends: NO after half the lease, mark cleared.
    open(writing, "w").close()
    t0 = time.monotonic()
    r = a.cmd("XMOVING SET 2")
    assert r[-1].startswith("t1 NO [INUSE]"), r
    assert 0.9 <= time.monotonic() - t0 < 5
    assert not os.path.exists(mark)
    os.unlink(writing)
    # A mark whose lease ended (a killed move) while the directory says
    # the mailbox is active here: deliveries go on.
    assert a.cmd("XMOVING SET 1")[-1] == "t1 OK Marked as moving"
    a.close()
    time.sleep(1.2)
    assert os.path.exists(mark)
    c = smtplib.LMTP(SRC, pair.lmtp_port, timeout=30)
    c.sendmail("bob@remote.test", [pair.user], msg("after-the-lease", 4))
    c.quit()
    assert len(os.listdir(os.path.join(root, "new"))) == 1


def test_killed_move_mark_cleared_on_resume(make_instance):
    """A mark left by a killed move is cleared by the next run before it
    copies anything, and the move ends with the mailbox on DST."""
    pair = Pair(make_instance)
    populate(pair, per_folder=5)
    a = admin_session(pair)
    assert a.cmd("XMOVING SET 3600")[-1] == "t1 OK Marked as moving"
    a.close()
    r = pair.move()
    assert r.returncode == 0, (r.stdout, r.stderr)
    pair.src.wait_for_log(r"user=%s moving mark cleared" % pair.user)
    assert "host: %s" % DST in pair.show()


def test_idle_session_ends_on_the_mark_with_ldap(make_instance, tmp_path):
    """LDAP routing: the IDLE session on the source gets BYE when the move
    marks the store, and no session searches the directory meanwhile."""
    with slapd_fixture.Slapd(tmp_path) as server:
        params = slapd_fixture.ispmail_params(
            server, tmp_path, mailbox_state_check_interval="1s",
            imap_idle_check_interval="60s", ldap_cache_positive_ttl="0",
            ldap_cache_negative_ttl="0")
        del params["store_owner"]     # Pair's (nobody under root)
        pair = Pair(make_instance, params=params)
        populate(pair, per_folder=20)
        before, _ = snapshot(pair, SRC)
        idle = Imap(SRC, pair.imap_port)
        r = idle.cmd('LOGIN "%s" "%s"' % (pair.user, PASSWORD), "L")
        assert r[-1].startswith("L OK"), r
        assert idle.cmd("SELECT INBOX", "s")[-1].startswith("s OK")
        idle.send("i IDLE\r\n")
        assert idle.line().startswith("+ ")
        # Waiting in IDLE costs the directory nothing (the mark is a stat).
        time.sleep(0.5)
        searches = server.search_count()
        time.sleep(3)
        assert server.search_count() == searches
        p = pair.move_popen()
        idle.sock.settimeout(20)
        t0 = time.monotonic()
        data = b""
        while True:
            chunk = idle.sock.recv(65536)
            if not chunk:
                break
            data += chunk
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, (out, err)
        assert b"* BYE [UNAVAILABLE] Mailbox is being moved" in (
            idle.buf + data), data
        assert time.monotonic() - t0 < 15
        pair.src.wait_for_log(r"user=%s: mailbox is being moved, session "
                              r"ended" % pair.user)
        assert "host: %s" % DST in pair.show()
        after, _ = snapshot(pair, DST)
        assert after == before


def test_final_phase_verifies_only_what_changed(make_instance):
    """Nothing changed after the passes: the final phase lists the
    folders with their STATUS once (no SELECT, no UID FETCH), verifies
    none again in full, and the destination is still equal."""
    pair = Pair(make_instance)
    populate(pair, per_folder=30)
    before, _ = snapshot(pair, SRC)
    r = pair.move()
    assert r.returncode == 0, (r.stdout, r.stderr)
    m = re.search(r"final pass 0 changes, verified (\d+) folders \(0 again "
                  r"in full\)", r.stdout)
    assert m and int(m.group(1)) >= 5, r.stdout
    after, _ = snapshot(pair, DST)
    assert after == before


def test_append_in_progress_at_the_mark_keeps_nothing(make_instance):
    """An APPEND whose literal is still arriving when the mark is set:
    XMOVING waits for its tmp/ file, the APPEND is refused with
    [UNAVAILABLE] instead of landing after the final pass."""
    pair = Pair(make_instance)
    root = src_root(pair)
    c = Imap(SRC, pair.imap_port)
    assert c.cmd('LOGIN "%s" "%s"' % (pair.user, PASSWORD),
                 "L")[-1].startswith("L OK")
    data = msg("appended-at-the-mark", 5)
    c.send("p APPEND INBOX {%d}\r\n" % len(data))
    assert c.line().startswith("+")
    c.sock.sendall(data[:20])
    harness.wait_for(lambda: os.listdir(os.path.join(root, "tmp")),
                     what="APPEND's tmp/ file")
    a = admin_session(pair)
    answer = []
    t = threading.Thread(target=lambda: answer.append(
        a.cmd("XMOVING SET 10")))
    t.start()
    time.sleep(0.5)
    assert answer == []     # waiting for the APPEND
    c.sock.sendall(data[20:] + b"\r\n")
    r = c.until_tagged("p")
    assert r[-1].startswith("p NO [UNAVAILABLE]"), r
    t.join(10)
    assert answer and answer[0][-1] == "t1 OK Marked as moving", answer
    assert files_with(root, b"appended-at-the-mark") == []
    assert os.listdir(os.path.join(root, "tmp")) == []
    a.close()
    c.close()

"""Issue 16's test at the issue's scale: a mailbox of 10,000 messages in
five folders, with flags and keywords, moved by `ispmailctl mailbox
move` between two store hosts (imapd and lmtpd on 127.0.0.2 and
127.0.0.3, one routes file as their shared directory) while

- mail is delivered to it continuously through the real queue path: a
  third instance (the MX) runs smtpd, qmgr and the LMTP agent, which
  delivers to the lmtpd of the mail host the directory names;
- a client holds an IMAP IDLE session through proxyd (a fourth
  instance, the same directory), and mbsync synced a folder of 2,000
  through proxyd before the move.

Afterwards the IDLE client was ended with BYE, reconnects through proxyd
and sees the same UIDVALIDITY, UIDs, flags, keywords and bytes per
folder; mbsync transfers nothing; every message accepted during the move
is on the destination exactly once (by Message-ID), nothing bounced and
the queue drains.  The move killed with SIGKILL at seeded
random points (ISPMAIL_MOVE_SEED; three while copying, one under the
mark) resumes and ends equal on both sides (counts, UIDs, flags,
SHA-256); a move whose destination is down fails before anything
changes, the mailbox active on the source.  And a session that missed a
mark shorter than its check interval still ends after the switch."""

import os
import random
import re
import signal
import smtplib
import socket
import subprocess
import threading
import time

import harness
import mailutil
from imapdutil import PASSWORD, USER, Raw, make_imap_instance
from proxydutil import common_params
from test_move import (DST, FOLDERS, MBSYNC, SRC, Pair, msg, populate,
                       snapshot)
from test_move_sessions import until_closed

# 2,003 per folder, three of them expunged by populate(): 10,000, in the
# kill test too (ASan build, quiet machine: 27 s; 403 makes it 2,000 and
# 5 s where that matters).
PER_FOLDER = 2003
MESSAGES = 10000
KILL_PER_FOLDER = 2003
# mbsync syncs one folder of 2,000 (against the ASan build it fetches
# about 250 messages a second; all five would take a minute a run).
MBSYNC_FOLDER = "Sent"
SEED = int(os.environ.get("ISPMAIL_MOVE_SEED", "16"))


def make_mx(make_instance, pair):
    """smtpd (mx), qmgr and the LMTP agent, routing by the pair's routes
    file: the agent delivers to lmtpd on the user's mail host.  Direct
    delivery is off so that every message takes the queue."""
    inst = make_instance(services=mailutil.delivery_services(None),
                         name="mx")
    inst.params.update(mailutil.delivery_params(inst, pair.certs,
                                                pair.lmtp_port))
    inst.params.update({"route_file": pair.routes,
                        "lmtp_port": str(pair.lmtp_port),
                        "smtpd_direct_delivery": "no"})
    inst.start()
    return inst


def make_proxy(make_instance, pair):
    p = common_params()
    p.update({"route_file": pair.routes,
              "tls_cert_file": pair.certs["cert"],
              "tls_key_file": pair.certs["key"],
              "proxy_backend_port_imap": str(pair.imap_port)})
    inst = make_instance(services=[harness.Service(
        "imapp", "proxyd/proxyd", maxproc=4,
        options={"proxy_front": "imap", "auth_allow_plaintext": "yes"})],
        params=p, name="proxy")
    inst.start()
    return inst


class ViaProxy:
    """What snapshot() needs of a Pair, logging in through proxyd."""

    def __init__(self, pair, proxy):
        self.pair, self.proxy = pair, proxy

    def imap(self, _host):
        import imaplib
        c = imaplib.IMAP4("127.0.0.1", self.proxy.port("imapp"), timeout=30)
        assert c.login(self.pair.user, PASSWORD)[0] == "OK"
        return c


class IdleClient(threading.Thread):
    """An IMAP client in IDLE on INBOX through proxyd; records what the
    server sends until the connection closes."""

    def __init__(self, proxy, user):
        super().__init__(daemon=True)
        self.sock = socket.create_connection(
            ("127.0.0.1", proxy.port("imapp")), timeout=30)
        self.data = b""
        self.closed_at = None
        self._expect(b"* OK")
        self.sock.sendall(('L LOGIN "%s" "%s"\r\n'
                           % (user, PASSWORD)).encode())
        self._expect(b"L OK")
        self.sock.sendall(b"S SELECT INBOX\r\n")
        self._expect(b"S OK")
        self.sock.sendall(b"I IDLE\r\n")
        self._expect(b"+ ")

    def _expect(self, prefix):
        while not re.search(rb"(^|\r\n)" + re.escape(prefix), self.data):
            chunk = self.sock.recv(65536)
            assert chunk, self.data
            self.data += chunk
        self.data = b""

    def run(self):
        self.sock.settimeout(None)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                self.data += chunk
        except OSError:
            pass
        self.closed_at = time.monotonic()


class Sender(threading.Thread):
    """Sends mail for the user to the MX's smtpd, one message after the
    other on one connection, each with its own Message-ID, until
    stopped; .accepted holds the Message-IDs smtpd answered 250."""

    def __init__(self, mx, user):
        super().__init__(daemon=True)
        self.mx, self.user = mx, user
        self.stop = threading.Event()
        self.accepted = []
        self.error = None

    def run(self):
        try:
            s = smtplib.SMTP("127.0.0.1", self.mx.port("smtp"), timeout=30)
            s.ehlo("client.remote.test")
            n = 0
            while not self.stop.is_set():
                n += 1
                s.sendmail("bob@remote.test", [self.user],
                           msg("live-%d" % n, n))
                self.accepted.append("<live-%d@remote.test>" % n)
                self.stop.wait(0.2)
            s.quit()
        except Exception as e:  # reported by the test
            self.error = e


def message_ids(c, folder):
    """The Message-IDs of a folder, one per message (a list)."""
    assert c.select(folder, readonly=True)[0] == "OK"
    typ, data = c.uid("FETCH", "1:*",
                      "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    assert typ == "OK", data
    out = []
    for item in data:
        if isinstance(item, tuple):
            m = re.search(rb"<[^>]+>", item[1])
            out.append(m.group(0).decode() if m else None)
    return out


def mbsync_config(tmp_path, proxy, user):
    local = tmp_path / "mbsync-local"
    local.mkdir(exist_ok=True)
    cfg = tmp_path / "mbsyncrc"
    cfg.write_text(
        "IMAPAccount a\nHost 127.0.0.1\nPort %d\nUser %s\nPass %s\n"
        "SSLType None\nAuthMechs LOGIN\n\nIMAPStore far\nAccount a\n\n"
        "MaildirStore near\nPath %s/\nInbox %s/INBOX\n"
        "SubFolders Verbatim\n\nChannel c\nFar :far:\nNear :near:\n"
        "Patterns %s\nCreate Both\nExpunge Both\nSyncState *\n"
        % (proxy.port("imapp"), user, PASSWORD, local, local, MBSYNC_FOLDER))
    return str(cfg), local


def mbsync(cfg):
    assert MBSYNC is not None, "mbsync (Debian package isync) is missing"
    r = subprocess.run([MBSYNC, "-c", cfg, "-a"], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert "IMAP error" not in r.stderr, r.stderr
    return r


def local_messages(local):
    """{path relative to the local store: inode} of mbsync's messages."""
    out = {}
    for root, _dirs, names in os.walk(local):
        if os.path.basename(root) not in ("cur", "new"):
            continue
        for name in names:
            p = os.path.join(root, name)
            out[os.path.relpath(p, local)] = os.stat(p).st_ino
    return out


def folder_status(via):
    """{folder: STATUS (MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ)}."""
    c = via.imap(None)
    out = {}
    for folder in FOLDERS:
        typ, data = c.status(folder,
                             "(MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ)")
        assert typ == "OK", data
        out[folder] = data[0].split(b"(", 1)[1]
    c.logout()
    return out


def folder_dir(root, folder):
    return root if folder == "INBOX" else os.path.join(root, "." + folder)


def maildir_listing(root):
    """{folder: sorted file names in cur/ and new/} and each UID list:
    what a killed move must leave as it was on the source."""
    out = {}
    for folder in FOLDERS:
        d = folder_dir(root, folder)
        names = []
        for sub in ("cur", "new"):
            names += os.listdir(os.path.join(d, sub))
        with open(os.path.join(d, "ispmail-uidlist"), "rb") as f:
            out[folder] = (sorted(names), f.read())
    return out


def files_copied(root):
    n = 0
    for folder in FOLDERS:
        try:
            n += len(os.listdir(os.path.join(folder_dir(root, folder),
                                             "cur")))
        except FileNotFoundError:
            pass
    return n


def route_line(pair):
    with open(pair.routes) as f:
        text = f.read()
    m = re.search(r"^mailbox %s .*(?:\n[ \t].*)*" % re.escape(pair.user),
                  text, re.M)
    return m.group(0) if m else ""


def big_pair(make_instance, per_folder=PER_FOLDER):
    pair = Pair(make_instance)
    t0 = time.monotonic()
    populate(pair, per_folder=per_folder)
    before, subs = snapshot(pair, SRC)
    total = sum(len(before[f][2]) for f in FOLDERS)
    assert total == len(FOLDERS) * (per_folder - 3)
    print("setup of %d messages: %.1fs" % (total, time.monotonic() - t0))
    return pair, before, subs


def test_move_10000_live_delivery_idle_through_proxyd(make_instance,
                                                       tmp_path):
    pair, before, subs = big_pair(make_instance)
    mx = make_mx(make_instance, pair)
    proxy = make_proxy(make_instance, pair)
    via = ViaProxy(pair, proxy)
    cfg, local = mbsync_config(tmp_path, proxy, pair.user)
    mbsync(cfg)
    synced = local_messages(local)
    assert len(synced) == len(before[MBSYNC_FOLDER][2])

    idle = IdleClient(proxy, pair.user)
    idle.start()
    sender = Sender(mx, pair.user)
    sender.start()
    # Mail flows to the source through the queue before the move starts.
    harness.wait_for(lambda: len(message_ids(pair.imap(SRC), "INBOX"))
                     > len(before["INBOX"][2]) + 3, timeout=30,
                     what="deliveries to the source through the queue")
    n_before = len(sender.accepted)
    t0 = time.monotonic()
    r = pair.move(timeout=300)
    took = time.monotonic() - t0
    print(r.stdout, r.stderr)
    assert r.returncode == 0, (r.stdout, r.stderr)
    print("move of %d messages: %.1fs" % (MESSAGES, took))
    assert re.search(r"verified \d+ folders(?: \([^)]*\))?, 1\d{4} "
                     r"messages", r.stdout), \
        r.stdout
    # Mail kept coming while the move ran, and keeps coming, now to the
    # destination.
    n_switch = len(sender.accepted)
    assert n_switch > n_before, (n_before, n_switch)
    harness.wait_for(lambda: len(sender.accepted) > n_switch + 5,
                     timeout=30, what="mail accepted after the switch")
    sender.stop.set()
    sender.join(60)
    assert sender.error is None, sender.error
    harness.wait_for(lambda: mailutil.queue_empty(mx), timeout=60,
                     what="the MX's queue to drain")

    # The IDLE session was ended with BYE and the proxy closed it.
    idle.join(30)
    assert idle.closed_at is not None, idle.data
    assert b"* BYE [UNAVAILABLE]" in idle.data, idle.data

    show = pair.show()
    assert "host: %s" % DST in show and "state: active" in show, show
    # Reconnecting through proxyd: the same folders, UIDVALIDITY, UIDs,
    # flags, keywords and bytes; the INBOX has the new mail above them.
    after, subs_after = snapshot(via, None)
    assert subs_after == subs
    for folder in FOLDERS:
        uv, un, msgs = before[folder]
        duv, dun, dmsgs = after[folder]
        assert duv == uv, folder
        if folder != "INBOX":
            assert (dun, dmsgs) == (un, msgs), folder
            continue
        assert {u: dmsgs.get(u) for u in msgs} == msgs
        assert all(u >= un for u in set(dmsgs) - set(msgs))

    # Every message accepted is on the destination exactly once, nothing
    # stayed behind on the source, nothing bounced.
    c = via.imap(None)
    ids = message_ids(c, "INBOX")
    c.logout()
    live = [i for i in ids if i and i.startswith("<live-")]
    assert len(live) == len(set(live)), "duplicates: %r" % sorted(
        i for i in set(live) if live.count(i) > 1)
    assert set(live) == set(sender.accepted), (
        set(live) ^ set(sender.accepted))
    assert len(sender.accepted) > n_switch + 5, len(sender.accepted)
    src_ids = set(message_ids(pair.imap(SRC), "INBOX"))
    assert src_ids <= set(ids), src_ids - set(ids)
    for inst in (mx, pair.src, pair.dst):
        assert "status=bounced" not in inst.log(), inst.name
    # Whether one of the live deliveries (one every 0.2 s) falls into the
    # final phase, and is deferred with "mailbox being moved", depends on
    # how long that phase takes here: not asserted.  test_move.py and
    # test_move_mark.py prove the deferral deterministically; this test
    # proves that none of the live mail is lost or duplicated.

    # mbsync, configured before the move, transfers nothing: its files
    # stay the same files, its sync state takes the same UIDVALIDITY and
    # UIDs, and nothing changed on the server (HIGHESTMODSEQ).
    modseq = folder_status(via)
    mbsync(cfg)
    assert local_messages(local) == synced
    assert folder_status(via) == modseq


def test_move_killed_at_random_points_then_resumed(make_instance):
    pair, before, subs = big_pair(make_instance, KILL_PER_FOLDER)
    total = sum(len(before[f][2]) for f in FOLDERS)
    src_root = os.path.join(pair.src.store_dir, "example.test",
                            pair.user.split("@")[0])
    listing = maildir_listing(src_root)
    rng = random.Random(SEED)
    points = sorted(rng.randrange(total * lo // 100, total * hi // 100)
                    for lo, hi in ((5, 35), (35, 65), (65, 95)))
    print("seed %d: kill -9 after %s files, then in the final phase"
          % (SEED, points))
    killed = 0
    for point in points + ["moving"]:
        p = pair.move_popen()
        if point == "moving":
            def reached():
                return p.poll() is not None or "state=moving" in \
                    route_line(pair)
            harness.wait_for(reached, timeout=120, interval=0.002,
                             what="the final phase")
        else:
            harness.wait_for(lambda: p.poll() is not None or
                             files_copied(pair.dst_path) >= point,
                             timeout=120, interval=0.01,
                             what="%d files copied" % point)
        copied = files_copied(pair.dst_path)
        p.send_signal(signal.SIGKILL)
        p.wait(10)
        if p.returncode != -signal.SIGKILL:
            break       # it had finished
        killed += 1
        print("killed at %s: %d files copied, %s" % (point, copied, " ".join(
            re.findall(r"\b(?:host|state)=\S+", route_line(pair)))))
        if "host=%s" % DST in route_line(pair):
            break       # killed after the switch: nothing to resume
        # The source as it was: the mailbox lives and is active there
        # (the guard undoes a kill in the final phase), its files and
        # UID lists unchanged.
        harness.wait_for(lambda: "state=moving" not in route_line(pair),
                         timeout=10, what="the mark cleared by the guard")
        show = pair.show()
        assert "host: %s" % SRC in show and "state: active" in show, show
        assert maildir_listing(src_root) == listing
    assert killed >= 3, killed
    if "host=%s" % DST not in route_line(pair):
        r = pair.move(timeout=300)
        assert r.returncode == 0, (r.stdout, r.stderr)
        assert "resuming" in r.stdout, r.stdout
    # The source did not change (maildir_listing), so before is both.
    after, subs_after = snapshot(pair, DST)
    assert after == before
    assert maildir_listing(src_root) == listing
    assert subs_after == subs
    # No file twice: as many files as messages in every folder.
    for folder in FOLDERS:
        d = folder_dir(pair.dst_path, folder)
        n = sum(len(os.listdir(os.path.join(d, s))) for s in ("cur", "new"))
        assert n == len(before[folder][2]), folder


def test_move_to_host_that_is_down_fails_cleanly(make_instance):
    pair = Pair(make_instance)
    populate(pair, per_folder=10)
    before, _ = snapshot(pair, SRC)
    # --to a host that is not this one (down, or elsewhere): refused.
    r = pair.dst.ctl("mailbox", "move", pair.user, "--to", "127.0.0.4",
                     "--store-path", pair.dst_path)
    assert r.returncode == 2 and "not this host" in r.stderr, r
    # The destination's services are down: nothing there would serve
    # the mailbox after a switch, so the move must not start.
    pair.dst.stop()
    r = pair.move(timeout=60)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "the destination %s does not answer" % DST in r.stderr, r.stderr
    assert "stays on %s" % SRC in r.stderr, r.stderr
    show = pair.show()
    assert "host: %s" % SRC in show and "state: active" in show, show
    assert snapshot(pair, SRC)[0] == before
    assert not os.path.exists(os.path.join(pair.dst_path, "ispmail-move"))
    # Once the destination is up again, the same command moves it.
    pair.dst.start()
    r = pair.move(timeout=60)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert snapshot(pair, DST)[0] == before


def test_session_ends_when_mailbox_moved_away(make_instance):
    """A move's mark can be shorter than mailbox_state_check_interval (it
    aims at under a second): a session that did not see it still ends
    once its mailbox's mail host is no longer this host."""
    inst, _ = make_imap_instance(
        make_instance, params={"mailbox_state_check_interval": "1s",
                               "imap_idle_check_interval": "60s"})
    idle = Raw(inst)
    assert idle.login()[-1].startswith("L OK")
    assert idle.cmd("SELECT INBOX", "s")[-1].startswith("s OK")
    idle.send("i IDLE\r\n")
    assert idle.line().startswith("+ ")
    r = inst.ctl("mailbox", "set", USER, "host=192.0.2.7")
    assert r.returncode == 0, r.stderr
    data = idle.buf + until_closed(idle.sock, time.monotonic() + 6)
    assert b"* BYE [UNAVAILABLE]" in data, data
    inst.wait_for_log(r"user=%s: mailbox moved to 192\.0\.2\.7, session "
                      r"ended" % USER)

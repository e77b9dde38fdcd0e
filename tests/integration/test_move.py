"""Mailbox moves: the "moving" account state (deliveries defer with 4xx,
logins fail temporarily, administrator logins still read the mailbox),
against a real instance with imapd and lmtpd (imaplib, smtplib.LMTP)."""

import imaplib
import os

import pytest

import harness
from imapdutil import USER, PASSWORD, make_imap_instance
from proxydutil import Env, PASSWORD as PROXY_PASSWORD
from lmtpdutil import lmtp, transaction

ADMIN = "mover@example.test"
ADMIN_PASSWORD = "mover-secret"
BODY = b"From: bob@remote.test\r\nSubject: during the move\r\n\r\nHi.\r\n"


@pytest.fixture
def inst(make_instance):
    inst, store = make_imap_instance(
        make_instance, params={"imap_admin_logins": ADMIN,
                               "myhostname": "store1.example.test"},
        services_extra=[harness.Service("lmtp", "lmtpd/lmtpd", maxproc=2)])
    r = inst.ctl("mailbox", "add", ADMIN, "--password-stdin",
                 input=ADMIN_PASSWORD + "\n")
    assert r.returncode == 0, r.stderr
    inst.store = store
    return inst


def set_state(inst, state):
    r = inst.ctl("mailbox", "set", USER, "state=" + state)
    assert r.returncode == 0, r.stderr
    r = inst.ctl("mailbox", "show", USER)
    assert r.returncode == 0 and ("state: %s" % state) in r.stdout, r


def test_moving_state_defers_and_refuses_temporarily(inst):
    set_state(inst, "moving")
    with open(os.path.join(inst.config_dir, "routes")) as f:
        assert "state=moving" in f.read()
    # Delivery: 451 4.2.1 at RCPT, nothing written to the store.
    client = lmtp(inst)
    rcpt, data = transaction(client, "bob@remote.test", [USER], BODY)
    assert rcpt[0][0] == 451 and b"4.2.1" in rcpt[0][1], rcpt
    assert data == []
    client.quit()
    assert os.listdir(os.path.join(inst.store, "new")) == []
    inst.wait_for_log(r"to=<%s> status=deferred \(mailbox being moved\)"
                      % USER)
    # The owner's login fails temporarily, even with the right password.
    c = imaplib.IMAP4("127.0.0.1", inst.port("imap"))
    with pytest.raises(imaplib.IMAP4.error, match=r"\[UNAVAILABLE\]"):
        c.login(USER, PASSWORD)
    c.logout()
    inst.wait_for_log(r"mailbox %s is being moved" % USER)
    # The move's administrator login still reads it.
    c = imaplib.IMAP4("127.0.0.1", inst.port("imap"))
    typ, _ = c.authenticate("PLAIN", lambda _: (
        "%s\0%s\0%s" % (USER, ADMIN, ADMIN_PASSWORD)).encode())
    assert typ == "OK"
    assert c.select("INBOX")[0] == "OK"
    c.logout()
    # Back to active: delivery and login work again.
    set_state(inst, "active")
    client = lmtp(inst)
    rcpt, data = transaction(client, "bob@remote.test", [USER], BODY)
    assert rcpt[0][0] == 250 and data[0][0] == 250, (rcpt, data)
    client.quit()
    assert len(os.listdir(os.path.join(inst.store, "new"))) == 1
    c = imaplib.IMAP4("127.0.0.1", inst.port("imap"))
    assert c.login(USER, PASSWORD)[0] == "OK"
    c.logout()


def test_moving_state_bad_value_refused(inst):
    r = inst.ctl("mailbox", "set", USER, "state=leaving")
    assert r.returncode != 0
    assert "active, suspended, disabled or moving" in r.stderr


def test_proxyd_refuses_moving_mailbox_temporarily(make_instance):
    env = Env(make_instance)
    r = env.proxy.ctl("mailbox", "set", env.alice, "state=moving")
    assert r.returncode == 0, r.stderr
    c = env.imaps()
    with pytest.raises(imaplib.IMAP4.error) as e:
        c.login(env.alice, PROXY_PASSWORD)
    assert "UNAVAILABLE" in str(e.value)
    assert "AUTHENTICATIONFAILED" not in str(e.value)
    c.logout()
    env.proxy.wait_for_log(r"mailbox %s is being moved" % env.alice)
    # Other users are not affected.
    c = env.imaps()
    assert c.login(env.bob, PROXY_PASSWORD)[0] == "OK"
    c.logout()


# ---- ispmailctl mailbox move between two store hosts ---------------------

import hashlib
import re
import shutil
import signal
import subprocess
import threading
import time

import tlsutil
from proxydutil import ports_free_on

SRC = "127.0.0.2"
DST = "127.0.0.3"
DOWN = "127.0.0.4"      # nothing listens there
FOLDERS = ["INBOX", "Archive", "Work", "Work.Projects", "Sent"]
KEYWORDS = ["$Label1", "Important", "$Forwarded"]
MBSYNC = shutil.which("mbsync")


class Pair:
    """Two store hosts (imapd and lmtpd each, on SRC and DST with the same
    ports) sharing one routes file, as they would share a directory;
    USER lives on SRC.  The move runs on DST with DST's main.conf."""

    def __init__(self, make_instance, user="mover-user@example.test",
                 params=None):
        """params: more main.conf parameters for both hosts; with
        route_backend = ldap they share that directory instead."""
        self.user = user
        ldap = (params or {}).get("route_backend") == "ldap"
        self.certs = tlsutil.make_certs()
        self.imap_port = ports_free_on([SRC, DST])
        self.lmtp_port = ports_free_on([SRC, DST])
        owner = harness.current_user() if os.geteuid() != 0 else "nobody"
        self.hosts = {}
        routes = None
        for host in (SRC, DST):
            p = {
                "route_backend": "file",
                "route_file_check_interval": "0",
                "store_owner": owner,
                "auth_failure_delay": "0",
                "auth_allow_plaintext": "yes",
                "tls_cert_file": self.certs["cert"],
                "tls_key_file": self.certs["key"],
                "local_mail_hosts": host,
                "myhostname": "store-%s.example.test" % host,
                "imap_admin_logins": ADMIN,
                "mailbox_move_imap_port": str(self.imap_port),
                "mailbox_move_tls": "encrypt",
                "lmtp_timeout": "10s",
            }
            p.update(params or {})
            if routes is not None and not ldap:
                p["route_file"] = routes
            inst = make_instance(services=[
                harness.Service("imap", "imapd/imapd", maxproc=8,
                                listen="%s:%d" % (host, self.imap_port)),
                harness.Service("lmtp", "lmtpd/lmtpd", maxproc=4,
                                listen="%s:%d" % (host, self.lmtp_port)),
            ], params=p, name="store-" + host)
            cred = os.path.join(inst.config_dir, "move-credentials")
            with open(cred, "w") as f:
                f.write("%s:%s\n" % (ADMIN, ADMIN_PASSWORD))
            os.chmod(cred, 0o600)
            inst.write_main_conf()
            if routes is None:
                routes = os.path.join(inst.config_dir, "routes")
                if not ldap:
                    open(routes, "w").close()
                for args, stdin in (
                        (("domain", "add", "example.test"), None),
                        (("mailbox", "add", user, "host=" + SRC,
                          "--password-stdin"), PASSWORD + "\n"),
                        (("mailbox", "add", ADMIN, "host=" + SRC,
                          "--password-stdin"), ADMIN_PASSWORD + "\n")):
                    r = inst.ctl(*args, input=stdin)
                    assert r.returncode == 0, r.stderr
            inst.start()
            self.hosts[host] = inst
        self.src, self.dst = self.hosts[SRC], self.hosts[DST]
        self.routes = routes
        self.dst_path = os.path.join(self.dst.store_dir, "example.test",
                                     user.split("@")[0])

    def imap(self, host):
        c = imaplib.IMAP4(host, self.imap_port, timeout=20)
        assert c.login(self.user, PASSWORD)[0] == "OK"
        return c

    def show(self):
        r = self.dst.ctl("mailbox", "show", self.user)
        assert r.returncode == 0, r.stderr
        return r.stdout

    def move_args(self, *extra):
        return ["mailbox", "move", self.user, "--to", DST,
                "--store-path", self.dst_path] + list(extra)

    def move(self, *extra, timeout=120):
        return self.dst.ctl(*self.move_args(*extra), timeout=timeout)

    def move_popen(self):
        args = [os.path.join(harness.TOP_BUILDDIR, "tools/ispmailctl"),
                "-c", self.dst.config_dir] + self.move_args()
        return subprocess.Popen(args, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)


def msg(subject, n):
    return ("From: <a%d@remote.test>\r\nTo: <x@example.test>\r\n"
            "Subject: %s\r\nMessage-ID: <%s@remote.test>\r\n\r\n"
            "Body %d\r\n%s\r\n" % (n, subject, subject, n,
                                   "line\r\n" * (n % 7))).encode()


def populate(pair, per_folder=60):
    """per_folder messages in each of FOLDERS, with flags and keywords,
    written into the source's Maildir as a delivery would (fast); some
    expunged over IMAP so UIDs have gaps; Work and Sent subscribed."""
    root = os.path.join(pair.src.store_dir, "example.test",
                        pair.user.split("@")[0])
    st = os.stat(root)
    n = 0
    for folder in FOLDERS:
        d = root if folder == "INBOX" else os.path.join(root, "." + folder)
        for sub in ("", "cur", "new", "tmp"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
            os.chown(os.path.join(d, sub), st.st_uid, st.st_gid)
        if folder != "INBOX":
            open(os.path.join(d, "maildirfolder"), "w").close()
        with open(os.path.join(d, "dovecot-keywords"), "w") as f:
            for i, kw in enumerate(KEYWORDS):
                f.write("%d %s\n" % (i, kw))
        for i in range(per_folder):
            n += 1
            letters = ""
            if i % 11 == 0:
                letters += "D"
            if i % 5 == 0:
                letters += "F"
            if i % 7 == 0:
                letters += "R"
            if i % 2:
                letters += "S"
            if i % 3 == 0:
                letters += "abc"[(i // 3) % len(KEYWORDS)]
            data = msg("%s-%d" % (folder, i), n).replace(b"\r\n", b"\n")
            name = "%d.M%dP1Q%d.test,S=%d:2,%s" % (
                1700000000 + n, n, n, len(data), letters)
            path = os.path.join(d, "cur", name)
            with open(path, "wb") as f:
                f.write(data)
            os.utime(path, (1700000000 + n, 1700000000 + n))
    with open(os.path.join(root, "subscriptions"), "w") as f:
        f.write("Work\nSent\n")
    c = pair.imap(SRC)
    for folder in FOLDERS:
        assert c.select(folder)[0] == "OK"
        c.uid("STORE", "3:5", "+FLAGS.SILENT", "(\\Deleted)")
        c.expunge()
    c.logout()


def snapshot(pair, host):
    """{folder: (uidvalidity, uidnext, {uid: (flags, sha256)})} and the
    subscriptions."""
    c = pair.imap(host)
    out = {}
    for folder in FOLDERS:
        typ, _ = c.select(folder, readonly=True)
        assert typ == "OK", (host, folder)
        uv = int(c.response("UIDVALIDITY")[1][0])
        un = int(c.response("UIDNEXT")[1][0])
        msgs = {}
        typ, data = c.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[])")
        assert typ == "OK"
        for item in data:
            if not isinstance(item, tuple):
                continue
            head = item[0].decode()
            uid = int(re.search(r"UID (\d+)", head).group(1))
            flags = re.search(r"FLAGS \(([^)]*)\)", head).group(1)
            fl = frozenset(f for f in flags.split() if f != "\\Recent")
            msgs[uid] = (fl, hashlib.sha256(item[1]).hexdigest())
        out[folder] = (uv, un, msgs)
    typ, subs = c.lsub('""', "*")
    c.logout()
    return out, sorted(s.decode() for s in subs if s)


class Deliverer(threading.Thread):
    """Delivers to the user over LMTP the way the queue would: to the
    mail host the routes name, retrying on 4xx (451 while moving or
    after the switch at the old host), until stopped."""

    def __init__(self, pair):
        super().__init__(daemon=True)
        self.pair = pair
        self.stop = threading.Event()
        self.delivered = []
        self.deferred = 0
        self.error = None

    def host_now(self):
        """The user's mail host in the routes file (ispmail-routes(5):
        a record and its indented continuation lines)."""
        with open(self.pair.routes) as f:
            text = f.read()
        m = re.search(r"^mailbox %s .*(?:\n[ \t].*)*" % re.escape(
            self.pair.user), text, re.M)
        h = re.search(r"\bhost=(\S+)", m.group(0)) if m else None
        return h.group(1) if h else SRC

    def run(self):
        import smtplib
        n = 0
        try:
            while not self.stop.is_set():
                n += 1
                subject = "live-%d" % n
                while True:
                    host = self.host_now()
                    c = smtplib.LMTP(host, self.pair.lmtp_port, timeout=20)
                    c.ehlo("test")
                    c.mail("bob@remote.test")
                    code, _ = c.rcpt(self.pair.user)
                    if code == 250:
                        code, _ = c.data(msg(subject, n))
                    c.quit()
                    if code == 250:
                        self.delivered.append(subject)
                        break
                    assert 400 <= code < 500, code
                    self.deferred += 1
                    time.sleep(0.05)
                time.sleep(0.01)
        except Exception as e:  # reported by the test
            self.error = e


def inbox_subjects(pair, host):
    c = pair.imap(host)
    c.select("INBOX", readonly=True)
    typ, data = c.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    c.logout()
    out = []
    for item in data:
        if isinstance(item, tuple):
            out.append(item[1].decode().split(":", 1)[1].strip())
    return out


def test_move_keeps_uids_flags_keywords_with_live_delivery(make_instance):
    pair = Pair(make_instance)
    populate(pair)
    before, subs_before = snapshot(pair, SRC)
    d = Deliverer(pair)
    d.start()
    time.sleep(0.3)
    r = pair.move()
    n_at_switch = len(d.delivered)
    harness.wait_for(lambda: len(d.delivered) >= n_at_switch + 3,
                     timeout=10, what="deliveries to the new host")
    d.stop.set()
    d.join(30)
    assert not d.is_alive()
    assert d.error is None, d.error
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert re.search(r"verified \d+ folders", r.stdout), r.stdout
    m = re.search(r"unavailable ([0-9.]+)s", r.stdout)
    assert m and float(m.group(1)) < 5, r.stdout
    show = pair.show()
    assert "host: %s" % DST in show or DST in show, show
    assert "state: active" in show, show
    assert pair.dst_path in show, show
    # Same UIDVALIDITY, UIDs, flags, keywords and bytes on the new host.
    after, subs_after = snapshot(pair, DST)
    src_now, _ = snapshot(pair, SRC)
    for folder in FOLDERS:
        uv, un, msgs = src_now[folder]
        duv, dun, dmsgs = after[folder]
        assert duv == uv == before[folder][0], folder
        for uid, value in before[folder][2].items():
            if folder != "INBOX":
                assert dmsgs[uid] == value, (folder, uid)
            else:   # flags unchanged, bytes equal
                assert dmsgs[uid] == value, (folder, uid)
        if folder != "INBOX":
            assert dmsgs == msgs and dun == un, folder
        else:
            # The source's whole INBOX is there with its UIDs; what came
            # after the switch has higher UIDs.
            for uid, value in msgs.items():
                assert dmsgs[uid] == value, uid
            assert dun >= un
            assert all(u >= un for u in set(dmsgs) - set(msgs))
    assert subs_after == subs_before
    # Every message delivered during the move arrived exactly once.
    assert len(d.delivered) > 5, d.delivered
    live = [s for s in inbox_subjects(pair, DST) if s.startswith("live-")]
    assert sorted(live) == sorted(d.delivered), (
        set(live) ^ set(d.delivered))
    assert len(live) == len(set(live))
    # Keywords kept in imapd's format (dovecot-keywords letters).
    with open(os.path.join(pair.dst_path, ".Work", "dovecot-keywords")) as f:
        names = f.read()
    for kw in KEYWORDS:
        assert kw in names
    assert not os.path.exists(os.path.join(pair.dst_path, "ispmail-move"))


def test_move_mbsync_transfers_nothing_after(make_instance, tmp_path):
    assert MBSYNC is not None, "mbsync (Debian package isync) is missing"
    pair = Pair(make_instance)
    populate(pair, per_folder=20)
    local = tmp_path / "local"
    local.mkdir()

    def config(host):
        path = tmp_path / ("mbsyncrc-" + host)
        path.write_text("""\
IMAPAccount acc
Host %s
Port %d
User %s
Pass %s
SSLType None
AuthMechs PLAIN

IMAPStore remote
Account acc

MaildirStore local
Path %s/
Inbox %s/INBOX
SubFolders Verbatim

Channel ch
Far :remote:
Near :local:
Patterns *
Create Both
Expunge Both
SyncState *
""" % (host, pair.imap_port, pair.user, PASSWORD, local, local))
        return str(path)

    def run(cfg):
        r = subprocess.run([MBSYNC, "-c", cfg, "-a"], capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 0, (r.stdout, r.stderr)
        return r

    def local_files():
        out = {}
        for root, dirs, files in os.walk(local):
            for name in files:
                p = os.path.join(root, name)
                out[os.path.relpath(p, local)] = os.stat(p).st_ino
        return out

    run(config(SRC))
    files_before = local_files()
    assert len([f for f in files_before if "/cur/" in f or "/new/" in f
                ]) >= 5 * 17
    r = pair.move()
    assert r.returncode == 0, (r.stdout, r.stderr)
    out = run(config(DST))
    # Nothing fetched, pushed, changed or removed on either side, and the
    # local files are the same files (no re-download).
    assert local_files() == files_before, out.stdout
    for line in (out.stdout + out.stderr).splitlines():
        if re.search(r"(near|far|master|slave): \+", line, re.I):
            assert re.search(r"\+0 \*0 #0 -0.*\+0 \*0 #0 -0", line), line


def test_move_killed_then_resumed_ends_equal(make_instance):
    pair = Pair(make_instance)
    populate(pair, per_folder=80)
    before, subs = snapshot(pair, SRC)
    interrupted, finished = 0, False
    for delay in (0.05, 0.15, 0.3):
        p = pair.move_popen()
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.wait(10)
        show = pair.show()
        if "host: %s" % DST in show:
            finished = True     # it finished before the kill
            break
        interrupted += 1
        # The source is as it was: the mailbox still lives there and its
        # owner can log in (a kill during the final pass is undone by
        # the move's guard process).
        assert "host: %s" % SRC in show, show
        harness.wait_for(lambda: "state: active" in pair.show(),
                         timeout=10, what="mailbox active after the kill")
        c = pair.imap(SRC)
        c.logout()
    # At least the first kill lands inside the move (moving 80 messages
    # a folder takes longer than 50 ms); a later one may come too late,
    # now that moves are fast, and then the move is complete.
    assert interrupted >= 1
    if not finished:
        r = pair.move()
        assert r.returncode == 0, (r.stdout, r.stderr)
    after, subs_after = snapshot(pair, DST)
    for folder in FOLDERS:
        assert after[folder] == before[folder], folder
    assert subs_after == subs
    # No duplicate files: as many files as messages in every folder.
    for folder in FOLDERS:
        d = pair.dst_path if folder == "INBOX" else os.path.join(
            pair.dst_path, "." + folder)
        n = len(os.listdir(os.path.join(d, "cur"))) + len(
            os.listdir(os.path.join(d, "new")))
        assert n == len(before[folder][2]), folder


def test_move_from_down_host_fails_cleanly(make_instance):
    pair = Pair(make_instance)
    r = pair.dst.ctl("mailbox", "set", pair.user, "host=" + DOWN)
    assert r.returncode == 0, r.stderr
    t0 = time.monotonic()
    r = pair.dst.ctl(*pair.move_args(), timeout=60)
    assert r.returncode == 1
    assert time.monotonic() - t0 < 30
    assert "cannot connect to %s" % DOWN in r.stderr, r.stderr
    assert "stays on %s" % DOWN in r.stderr, r.stderr
    show = pair.show()
    assert DOWN in show and "state: active" in show, show


def test_move_remove_source(make_instance):
    pair = Pair(make_instance)
    populate(pair, per_folder=10)
    before, _ = snapshot(pair, SRC)
    src_path = os.path.join(pair.src.store_dir, "example.test",
                            pair.user.split("@")[0])
    r = pair.move("--remove-source")
    assert r.returncode == 0, (r.stdout, r.stderr)
    after, _ = snapshot(pair, DST)
    assert after == before
    # The source's copy is gone: no messages, no folders but INBOX.
    assert os.listdir(os.path.join(src_path, "cur")) == []
    assert not [n for n in os.listdir(src_path) if n.startswith(".")
                and os.path.isdir(os.path.join(src_path, n))
                and n[1:] in FOLDERS]


def test_move_drain_host_parallel(make_instance):
    pair = Pair(make_instance)
    populate(pair, per_folder=8)
    before, _ = snapshot(pair, SRC)
    other = "second@example.test"
    r = pair.src.ctl("mailbox", "add", other, "host=" + SRC,
                     "--password-stdin", input=PASSWORD + "\n")
    assert r.returncode == 0, r.stderr
    # The administrator's own entry lives elsewhere, or the drain would
    # mark it moving too (and its logins would fail meanwhile).
    r = pair.dst.ctl("mailbox", "set", ADMIN, "host=192.0.2.9")
    assert r.returncode == 0, r.stderr
    import smtplib
    for i in range(3):
        c = smtplib.LMTP(SRC, pair.lmtp_port, timeout=20)
        c.sendmail("bob@remote.test", [other], msg("second-%d" % i, i))
        c.quit()
    r = pair.dst.ctl("mailbox", "move", "--from", SRC, "--to", DST,
                     "--parallel", "2", "--store-root", pair.dst.store_dir,
                     timeout=120)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert "2 mailboxes" in r.stdout and "2 moved, 0 failed" in r.stdout, \
        r.stdout
    for user in (pair.user, other):
        show = pair.dst.ctl("mailbox", "show", user).stdout
        assert "host: %s" % DST in show and "state: active" in show, show
    after, _ = snapshot(pair, DST)
    assert after == before
    c = imaplib.IMAP4(DST, pair.imap_port, timeout=20)
    c.login(other, PASSWORD)
    typ, data = c.select("INBOX", readonly=True)
    assert int(data[0]) == 3
    c.logout()

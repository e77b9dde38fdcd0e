"""smtpd's content filter (smtpd(8) CONTENT FILTER): a real spamd
(Debian's spamassassin rules plus a local rules file) and a real clamd
(a database holding only a signature this test writes) scan at the end
of DATA, in parallel; per-recipient decisions (Junk, quarantine,
discard, reject), viruses, an unreachable or hung pool, a filter that
crashes on one message (poison isolation), submission spam held, and
ispmailctl quarantine."""

import os
import re
import shutil
import smtplib
import socket
import struct
import subprocess
import tempfile
import threading
import time

import pytest

import harness
import mailutil
import tlsutil
from mailutil import PASSWORD

EICAR = (b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-"
         b"FILE!$H+H*")
GTUBE = b"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
VIRUS_NAME = "Ispmail-Test-EICAR.UNOFFICIAL"

# Local rules with known scores: a word in the body scores exactly this
# much above a clean message (which scores about 0).
LOCAL_CF = """
use_bayes 0
use_razor2 0
use_pyzor 0
skip_rbl_checks 1
dns_available no
body ISPMAIL_SCORE7 /ispmail-score-seven/
score ISPMAIL_SCORE7 7.0
body ISPMAIL_SCORE15 /ispmail-score-fifteen/
score ISPMAIL_SCORE15 15.0
"""


def wait_port(port, proc, what, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError("%s exited with %s" % (what, proc.returncode))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("%s did not listen on %d" % (what, port))


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def spamd():
    """Debian's spamd on a loopback port, started once (it is slow)."""
    exe = shutil.which("spamd") or "/usr/sbin/spamd"
    assert os.path.exists(exe), "spamd missing: install Debian's spamd"
    top = tempfile.mkdtemp(prefix="ispmail-spamd-")
    site = os.path.join(top, "site")
    os.mkdir(site)
    for name in os.listdir("/etc/spamassassin"):
        if name.endswith(".pre"):
            shutil.copy(os.path.join("/etc/spamassassin", name), site)
    with open(os.path.join(site, "local.cf"), "w") as f:
        f.write(LOCAL_CF)
    os.chmod(top, 0o755)
    port = harness.free_port()
    args = [exe, "--syslog=stderr", "-x", "-L", "--listen=127.0.0.1:%d" % port,
            "--min-children=2", "--max-children=4",
            "-C", "/usr/share/spamassassin", "--siteconfigpath=" + site]
    if os.geteuid() == 0:
        args += ["-u", "nobody"]
    log = open(os.path.join(top, "spamd.log"), "w")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_port(port, proc, "spamd")
        yield "127.0.0.1:%d" % port
    finally:
        stop(proc)
        log.close()
        shutil.rmtree(top, ignore_errors=True)


@pytest.fixture(scope="module")
def clamd():
    """Debian's clamd with a database of one signature (EICAR's)."""
    exe = shutil.which("clamd") or "/usr/sbin/clamd"
    assert os.path.exists(exe), "clamd missing: install clamav-daemon"
    top = tempfile.mkdtemp(prefix="ispmail-clamd-")
    db = os.path.join(top, "db")
    os.mkdir(db)
    with open(os.path.join(db, "test.ndb"), "w") as f:
        f.write("Ispmail-Test-EICAR:0:*:%s\n" % EICAR.hex())
    port = harness.free_port()
    conf = os.path.join(top, "clamd.conf")
    with open(conf, "w") as f:
        f.write("Foreground yes\nLogFile %s/clamd.log\nDatabaseDirectory %s\n"
                "TCPSocket %d\nTCPAddr 127.0.0.1\nStreamMaxLength 20M\n"
                % (top, db, port))
        if os.geteuid() == 0:
            f.write("User root\n")
    proc = subprocess.Popen([exe, "-c", conf], stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT)
    try:
        wait_port(port, proc, "clamd")
        yield "127.0.0.1:%d" % port
    finally:
        stop(proc)
        shutil.rmtree(top, ignore_errors=True)


class StandIn:
    """A TCP server that plays a broken filter: 'hang' accepts and never
    answers; 'crash' reads the request and closes without a word when it
    holds the marker, else answers as a clean spamd."""

    def __init__(self, mode, marker=b"POISON-MARKER"):
        self.mode = mode
        self.marker = marker
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.held = []
        self.crashes = 0
        self.stopping = False
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(conn,),
                             daemon=True).start()

    def serve(self, conn):
        if self.mode == "hang":
            self.held.append(conn)
            return
        data = b""
        conn.settimeout(10)
        try:
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
        except OSError:
            pass
        if self.marker in data:
            self.crashes += 1
            # A reset, as a crashing filter process gives.
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                            struct.pack("ii", 1, 0))
            conn.close()
            return
        body = b""
        conn.sendall(b"SPAMD/1.1 0 EX_OK\r\nContent-length: 0\r\n"
                     b"Spam: False ; 0.1 / 5.0\r\n\r\n" + body)
        conn.close()

    def close(self):
        self.stopping = True
        self.sock.close()
        for c in self.held:
            c.close()


@pytest.fixture(scope="module")
def certs():
    return tlsutil.make_certs()


def make_system(make_instance, certs, params):
    return mailutil.submission_system(make_instance, certs, params)


def ctl_ok(inst, *args, input=None):
    r = inst.ctl(*args, input=input)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r


def message(body, subject="filter test"):
    return (b"From: Sender <sender@remote.test>\r\n"
            b"To: alice@example.test\r\n"
            b"Date: Wed, 02 Dec 2026 10:00:00 +0000\r\n"
            b"Message-ID: <%d.filter@remote.test>\r\n"
            b"Subject: %s\r\n\r\n%s\r\n" % (time.monotonic_ns(),
                                            subject.encode(), body))


def transaction(inst, rcpts, body, sender="sender@remote.test",
                service="smtp", login=None):
    """(code, text) of DATA."""
    s = smtplib.SMTP("127.0.0.1", inst.port(service), timeout=120)
    s.ehlo("client.test")
    if login:
        s.login(login, PASSWORD)
    assert s.mail(sender)[0] == 250
    for r in rcpts:
        code, text = s.rcpt(r)
        assert code == 250, (r, code, text)
    try:
        code, text = s.data(body)
    except smtplib.SMTPDataError as e:
        code, text = e.smtp_code, e.smtp_error
    s.quit()
    return code, text.decode()


def make_junk(inst, address):
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(mailutil.mailbox_dir(inst, address,
                                                      "Junk"), sub),
                    exist_ok=True)
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(mailutil.mailbox_dir(inst, address), sub),
                    exist_ok=True)


def metrics(inst):
    """ispmailctl metrics as {series: value}."""
    out = ctl_ok(inst, "metrics").stdout
    return {k: float(v) for k, v in
            re.findall(r"^([a-z_]+(?:\{[^}]*\})?) (\S+)$", out, re.M)}


def quarantine_ids(inst, *args):
    out = ctl_ok(inst, "quarantine", "list", *args).stdout
    return re.findall(r"^([0-9A-Za-z]{10,}) +\d+ ", out, re.M)


# ---- real spamd and clamd -------------------------------------------------

def test_two_recipients_two_policies_then_release(make_instance, certs,
                                                  spamd, clamd):
    inst = make_system(make_instance, certs, {
        "spamd_servers": spamd, "clamd_servers": clamd})
    # bob quarantines at 5.5: the same score 7 tags alice and holds bob's.
    ctl_ok(inst, "mailbox", "set", "bob@example.test", "quarantine=5.5")
    make_junk(inst, "alice@example.test")
    inst.start()
    code, text = transaction(inst, ["alice@example.test", "bob@example.test"],
                             message(b"a offer ispmail-score-seven today"))
    assert code == 250, text
    qid = text.split()[-1]
    [junk] = mailutil.wait_messages(inst, "alice@example.test", 1,
                                    folder="Junk")
    assert mailutil.maildir_messages(inst, "alice@example.test") == []
    assert b"ispmail-score-seven" in junk
    # The spam headers sit above our Received: field (added after DATA).
    head = junk.split(b"\nReceived: ")[0]
    assert b"\nX-Spam-Flag: YES\n" in head, junk
    assert re.search(rb"\nX-Spam-Status: Yes, score=\d+\.\d required=5\.0\n"
                     rb"\ttests=\S*ISPMAIL_SCORE7", head), junk
    assert b"X-Virus-Scanned: clamav" in head, junk
    log = inst.log()
    assert "%s: to=<alice@example.test>, filter=tag, folder=Junk" % qid in log
    assert "%s: to=<bob@example.test>, filter=quarantine" % qid in log
    # bob's copy waits in quarantine/, his Maildir stays empty.
    [q] = quarantine_ids(inst, "--address", "bob@example.test")
    assert quarantine_ids(inst, "--address", "alice@example.test") == []
    assert quarantine_ids(inst, "--domain", "example.test") == [q]
    show = ctl_ok(inst, "quarantine", "show", q).stdout
    assert "recipient: <bob@example.test>" in show
    assert "Subject: filter test" in show
    assert mailutil.maildir_messages(inst, "bob@example.test") == []
    # Released: delivered as clean, into bob's INBOX.
    ctl_ok(inst, "quarantine", "release", q)
    [msg] = mailutil.wait_messages(inst, "bob@example.test", 1)
    assert b"ispmail-score-seven" in msg
    assert quarantine_ids(inst) == []
    assert mailutil.maildir_messages(inst, "bob@example.test",
                                     "Junk") == []


def test_clean_virus_and_spam_everyone_rejects(make_instance, certs, spamd,
                                               clamd):
    inst = make_system(make_instance, certs, {
        "spamd_servers": spamd, "clamd_servers": clamd})
    inst.start()
    code, text = transaction(inst, ["alice@example.test"],
                             message(b"just a note"))
    assert code == 250, text
    [clean] = mailutil.wait_messages(inst, "alice@example.test", 1)
    assert re.search(rb"\nX-Spam-Status: No, score=-?\d+\.\d required=5\.0",
                     clean), clean
    assert b"X-Spam-Flag" not in clean
    code, text = transaction(inst, ["alice@example.test"],
                             message(b"see attached\r\n" + EICAR))
    assert code == 554 and "5.7.1" in text and VIRUS_NAME in text, text
    assert "reject: virus %s" % VIRUS_NAME in inst.log()
    # GTUBE passes both recipients' discard score: 550 in the session.
    code, text = transaction(inst, ["alice@example.test", "bob@example.test"],
                             message(GTUBE))
    assert code == 550 and "5.7.1" in text, text
    assert len(mailutil.maildir_messages(inst, "alice@example.test")) == 1
    assert mailutil.queue_empty(inst)
    # The filter link of the metrics: 3 scans each, verdicts, latency.
    m = metrics(inst)
    assert m.get('ispmail_filter_verdicts_total{filter="clamd",'
                 'verdict="clean"}') == 2, m
    assert m.get('ispmail_filter_verdicts_total{filter="clamd",'
                 'verdict="virus"}') == 1, m
    assert m.get('ispmail_filter_verdicts_total{filter="spamd",'
                 'verdict="ham"}') == 2, m
    assert m.get('ispmail_filter_verdicts_total{filter="spamd",'
                 'verdict="spam"}') == 1, m
    for f in ("spamd", "clamd"):
        assert m['ispmail_filter_scan_seconds_count{filter="%s"}' % f] == 3
        assert m['ispmail_filter_scan_seconds_bucket{filter="%s",'
                 'le="+Inf"}' % f] == 3
        assert m['ispmail_filter_scan_seconds_sum{filter="%s"}' % f] > 0
    assert m['ispmail_smtpd_rejects_total{reason="filter"}'] == 2, m


def test_discard_one_deliver_other(make_instance, certs, spamd, clamd):
    inst = make_system(make_instance, certs, {"spamd_servers": spamd})
    ctl_ok(inst, "mailbox", "set", "bob@example.test", "filter=off")
    inst.start()
    code, text = transaction(inst, ["alice@example.test", "bob@example.test"],
                             message(GTUBE))
    assert code == 250, text
    qid = text.split()[-1]
    mailutil.wait_messages(inst, "bob@example.test", 1)
    inst.wait_for(lambda: mailutil.queue_empty(inst), what="empty queue")
    assert mailutil.maildir_messages(inst, "alice@example.test") == []
    assert "%s: to=<alice@example.test>, filter=discard" % qid in inst.log()
    assert quarantine_ids(inst) == []


def test_submission_virus_refused_spam_held(make_instance, certs, spamd,
                                            clamd):
    inst = make_system(make_instance, certs, {
        "spamd_servers": spamd, "clamd_servers": clamd,
        "filter_outbound_spam_score": "10"})
    inst.start()
    code, text = transaction(inst, ["someone@remote.test"],
                             message(b"look\r\n" + EICAR),
                             sender="alice@example.test",
                             service="submission",
                             login="alice@example.test")
    assert code == 554 and VIRUS_NAME in text, text
    code, text = transaction(inst, ["someone@remote.test"],
                             message(b"buy ispmail-score-fifteen now"),
                             sender="alice@example.test",
                             service="submission",
                             login="alice@example.test")
    assert code == 250, text
    qid = text.split()[-1]
    held = mailutil.queue_files(inst, "hold")
    assert any(qid in p for p in held), held
    show = ctl_ok(inst, "queue", "show", qid).stdout
    assert "hold reason: outbound spam" in show, show
    assert "login alice@example.test" in show, show
    assert re.search(r"%s: ALARM: account alice@example.test sent spam" % qid,
                     inst.log())


# ---- broken filters -------------------------------------------------------

def test_pool_down_defers_or_accepts(make_instance, certs):
    dead = "127.0.0.1:%d" % harness.free_port()
    inst = make_system(make_instance, certs, {"spamd_servers": dead})
    inst.start()
    code, text = transaction(inst, ["alice@example.test"], message(b"hi"))
    assert code == 451 and "4.7.1" in text, text
    assert "content filter unavailable" in inst.log()
    m = metrics(inst)
    assert m['ispmail_filter_verdicts_total{filter="spamd",'
             'verdict="unavailable"}'] == 1, m
    assert m['ispmail_smtpd_rejects_total{reason="filter_defer"}'] == 1, m
    inst.stop()
    inst.params["filter_failure_action"] = "accept"
    inst.write_main_conf()
    inst.start()
    code, text = transaction(inst, ["alice@example.test"], message(b"hi"))
    assert code == 250, text
    [msg] = mailutil.wait_messages(inst, "alice@example.test", 1)
    assert (b"\nX-Spam-Status: Unknown, not scanned (filter unavailable)\n"
            in msg), msg


def test_failover_to_the_second_host(make_instance, certs):
    good = StandIn("crash")
    dead = "127.0.0.1:%d" % harness.free_port()
    try:
        inst = make_system(make_instance, certs, {
            "spamd_servers": "%s 127.0.0.1:%d" % (dead, good.port)})
        inst.start()
        code, text = transaction(inst, ["alice@example.test"],
                                 message(b"hi"))
        assert code == 250, text
    finally:
        good.close()


def test_hung_filter_times_out(make_instance, certs):
    hang = StandIn("hang")
    try:
        inst = make_system(make_instance, certs, {
            "spamd_servers": "127.0.0.1:%d" % hang.port,
            "filter_scan_timeout": "2s"})
        inst.start()
        started = time.monotonic()
        code, text = transaction(inst, ["alice@example.test"],
                                 message(b"hi"))
        assert code == 451 and "4.7.1" in text, text
        assert time.monotonic() - started < 10
        assert re.search(r"content filter failed \(1 of 3 for sha256=[0-9a-f]"
                         r"{64}\): 127\.0\.0\.1:%d: no answer within 2000 ms"
                         % hang.port, inst.log()), inst.log()[-2000:]
    finally:
        hang.close()


def test_poison_isolated_other_mail_flows(make_instance, certs):
    crash = StandIn("crash")
    try:
        inst = make_system(make_instance, certs, {
            "spamd_servers": "127.0.0.1:%d" % crash.port,
            "filter_poison_limit": "2"})
        inst.start()
        poison = message(b"POISON-MARKER here")
        code, text = transaction(inst, ["alice@example.test"], poison)
        assert code == 451 and "4.7.1" in text, text
        # The second failure isolates it: a 4xx for good from now on,
        # and it is never sent to the filter again.
        for _ in range(2):
            code, text = transaction(inst, ["alice@example.test"], poison)
            assert code == 451 and "4.7.0" in text, text
        assert crash.crashes == 2
        log = inst.log()
        assert len(re.findall(r"POISON: message sha256=", log)) == 1, log
        assert "refused again" in log
        # Other mail flows.
        code, text = transaction(inst, ["alice@example.test"],
                                 message(b"fine"))
        assert code == 250, text
        mailutil.wait_messages(inst, "alice@example.test", 1)
    finally:
        crash.close()


def test_poison_held_when_configured(make_instance, certs):
    crash = StandIn("crash")
    try:
        inst = make_system(make_instance, certs, {
            "spamd_servers": "127.0.0.1:%d" % crash.port,
            "filter_poison_limit": "1", "filter_poison_action": "hold"})
        inst.start()
        code, text = transaction(inst, ["alice@example.test"],
                                 message(b"POISON-MARKER again"))
        assert code == 250, text
        qid = text.split()[-1]
        show = ctl_ok(inst, "queue", "show", qid).stdout
        assert "queue: hold" in show, show
        assert "hold reason: poison" in show, show
        assert crash.crashes == 1
    finally:
        crash.close()


def test_smtpd_killed_while_scanning_counts(make_instance, certs):
    # The filter hangs; each time the smtpd scanning the message is
    # killed.  The count taken before the scan makes it poison anyway.
    hang = StandIn("hang")
    try:
        inst = make_system(make_instance, certs, {
            "spamd_servers": "127.0.0.1:%d" % hang.port,
            "filter_scan_timeout": "60s", "filter_poison_limit": "2"})
        inst.start()
        poison = message(b"kills its scanner")
        for attempt in range(2):
            s = smtplib.SMTP("127.0.0.1", inst.port("smtp"), timeout=30)
            s.ehlo("client.test")
            s.mail("sender@remote.test")
            s.rcpt("alice@example.test")
            s.putcmd("data")
            assert s.getreply()[0] == 354
            # As smtplib's data() sends it, so the message is the same.
            s.send(poison.replace(b"\r\n.", b"\r\n..") + b".\r\n")
            harness.wait_for(lambda: len(hang.held) == attempt + 1,
                             timeout=10, what="the scan to start")
            pids = re.findall(r"smtpd\[(\d+)\]: connect from",
                              inst.log())
            os.kill(int(pids[-1]), 9)
            with pytest.raises((smtplib.SMTPServerDisconnected,
                                ConnectionError)):
                s.getreply()
            s.close()
        code, text = transaction(inst, ["alice@example.test"], poison)
        assert code == 451 and "4.7.0" in text, text
        assert len(hang.held) == 2
    finally:
        hang.close()


def test_junk_created_when_missing(make_instance, certs, spamd):
    """A store without Junk (made before it, or the user deleted it):
    lmtpd creates .Junk as imapd's CREATE would and subscribes it, then
    files the tagged message there instead of the INBOX."""
    inst = make_system(make_instance, certs, {"spamd_servers": spamd})
    top = mailutil.mailbox_dir(inst, "alice@example.test")
    shutil.rmtree(os.path.join(top, ".Junk"))
    subs = os.path.join(top, "subscriptions")
    with open(subs, "w") as f:
        f.write("Sent\nDrafts\nTrash")     # no newline at the end
    inst.start()
    code, text = transaction(inst, ["alice@example.test"],
                             message(b"a offer ispmail-score-seven today"))
    assert code == 250, text
    [junk] = mailutil.wait_messages(inst, "alice@example.test", 1,
                                    folder="Junk")
    assert b"X-Spam-Flag: YES" in junk
    assert mailutil.maildir_messages(inst, "alice@example.test") == []
    folder = os.path.join(top, ".Junk")
    assert os.path.isfile(os.path.join(folder, "maildirfolder"))
    for sub in ("cur", "new", "tmp"):
        st = os.stat(os.path.join(folder, sub))
        assert st.st_mode & 0o777 == 0o700
    with open(subs) as f:
        assert f.read() == "Sent\nDrafts\nTrash\nJunk\n"
    assert "to=<alice@example.test> created folder Junk" in inst.log()
    # A second tagged message finds it and subscribes nothing twice.
    code, text = transaction(inst, ["alice@example.test"],
                             message(b"again ispmail-score-seven"))
    assert code == 250, text
    mailutil.wait_messages(inst, "alice@example.test", 2, folder="Junk")
    with open(subs) as f:
        assert f.read() == "Sent\nDrafts\nTrash\nJunk\n"
    assert inst.log().count("created folder Junk") == 1


def bdat_transaction(inst, rcpts, body, chunks=2):
    """(code, text) of the last BDAT, the message sent in chunks with
    BDAT (RFC 3030; smtplib has no BDAT), pipelined as a client may."""
    s = smtplib.SMTP("127.0.0.1", inst.port("smtp"), timeout=120)
    s.ehlo("client.test")
    assert s.has_extn("chunking"), s.esmtp_features
    assert s.mail("sender@remote.test")[0] == 250
    for r in rcpts:
        code, text = s.rcpt(r)
        assert code == 250, (r, code, text)
    size = (len(body) + chunks - 1) // chunks
    parts = [body[i:i + size] for i in range(0, len(body), size)]
    for n, part in enumerate(parts):
        last = n == len(parts) - 1
        s.send(b"BDAT %d%s\r\n" % (len(part), b" LAST" if last else b"")
               + part)
        code, text = s.getreply()
        if not last:
            assert code == 250, (code, text)
    s.quit()
    return code, text.decode()


def test_bdat_same_verdicts_as_data(make_instance, certs, spamd, clamd):
    """CHUNKING goes through the same filter: clean delivered with the
    headers, EICAR 554 with the name, GTUBE to all 550, tagged to Junk."""
    inst = make_system(make_instance, certs, {
        "spamd_servers": spamd, "clamd_servers": clamd})
    inst.start()
    code, text = bdat_transaction(inst, ["alice@example.test"],
                                  message(b"just a note"), chunks=3)
    assert code == 250, text
    [clean] = mailutil.wait_messages(inst, "alice@example.test", 1)
    assert re.search(rb"\nX-Spam-Status: No, score=-?\d+\.\d required=5\.0",
                     clean), clean
    assert b"X-Virus-Scanned: clamav" in clean
    # EICAR split across two chunks: the scan sees the whole message.
    code, text = bdat_transaction(inst, ["alice@example.test"],
                                  message(b"see attached\r\n" + EICAR))
    assert code == 554 and "5.7.1" in text and VIRUS_NAME in text, text
    code, text = bdat_transaction(inst, ["alice@example.test",
                                         "bob@example.test"], message(GTUBE))
    assert code == 550 and "5.7.1" in text, text
    code, text = bdat_transaction(inst, ["alice@example.test"],
                                  message(b"offer ispmail-score-seven"))
    assert code == 250, text
    [junk] = mailutil.wait_messages(inst, "alice@example.test", 1,
                                    folder="Junk")
    assert b"X-Spam-Flag: YES" in junk
    assert len(mailutil.maildir_messages(inst, "alice@example.test")) == 1
    inst.wait_for(lambda: mailutil.queue_empty(inst), what="empty queue")


def test_filter_host_names_resolved_at_start(make_instance, certs, tmp_path):
    """Pool hosts by name are resolved through the c-ares resolver
    (dns_servers) when smtpd starts, never while a session waits: a name
    that does not exist is logged and skipped like a dead host."""
    import dnsutil
    good = StandIn("clean")
    dns = dnsutil.DnsServer(str(tmp_path), zone=[
        "--host-record=spamd.filter.test,127.0.0.1"])
    dns.start()
    try:
        inst = make_system(make_instance, certs, {
            "dns_servers": dns.address, "dns_timeout": "1s",
            "dns_tries": "1",
            "spamd_servers": "nowhere.filter.test:%d spamd.filter.test:%d"
                             % (good.port, good.port)})
        inst.start()
        code, text = transaction(inst, ["alice@example.test"],
                                 message(b"hi"))
        assert code == 250, text
        [msg] = mailutil.wait_messages(inst, "alice@example.test", 1)
        assert b"X-Spam-Status: No, score=0.1" in msg
        log = inst.log()
        assert "spamd_servers: nowhere.filter.test does not resolve" in log
        # Both names were asked once, at process start, not per message.
        code, text = transaction(inst, ["alice@example.test"],
                                 message(b"again"))
        assert code == 250, text
        with open(dns.log_path) as f:
            asked = f.read()
        assert "spamd.filter.test" in asked
    finally:
        dns.stop()
        good.close()


def test_quarantine_expire(make_instance, certs):
    """`ispmailctl quarantine expire` removes what has been in quarantine
    longer than quarantine_retention, logs each, keeps the rest."""
    standin = StandIn("clean")      # every message scores 0.1
    try:
        inst = make_system(make_instance, certs, {
            "spamd_servers": "127.0.0.1:%d" % standin.port,
            "quarantine_retention": "30d"})
        ctl_ok(inst, "mailbox", "set", "bob@example.test", "tag=0.01",
               "quarantine=0.05")
        inst.start()
        for n in range(2):
            code, text = transaction(inst, ["bob@example.test"],
                                     message(b"note %d" % n))
            assert code == 250, text
        old, new = quarantine_ids(inst)
    finally:
        standin.close()
    [path] = [p for p in mailutil.queue_files(inst, "quarantine")
              if p.endswith("/" + old)]
    then = time.time() - 31 * 86400
    os.utime(path, (then, then))
    r = ctl_ok(inst, "quarantine", "expire")
    assert "%s expired" % old in r.stdout
    assert "-- 1 quarantined message expired" in r.stdout
    assert re.search(r"%s: quarantine expired \(31 days old, "
                     r"quarantine_retention 30 days\)" % old, r.stderr)
    assert quarantine_ids(inst) == [new]
    # Nothing older left: a second run removes nothing.
    r = ctl_ok(inst, "quarantine", "expire")
    assert "-- 0 quarantined messages expired" in r.stdout
    r = ctl_ok(inst, "-o", "quarantine_retention=0", "quarantine", "expire")
    assert "nothing expires" in r.stdout
    assert quarantine_ids(inst) == [new]

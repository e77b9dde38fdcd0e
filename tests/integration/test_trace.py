"""ispmailctl trace over real logs: a message submitted to host mx-a, whose
first attempt to mx.far.test (a server answering 451) is deferred, then
relayed to host mx-b (a second ispmail instance on 127.0.0.2), which
queues it, delivers it over LMTP into a mailbox, where it is read over
IMAP.  trace finds it by mx-a's queue id, by its Message-ID and by the
recipient's address, in the two instances' logs, in one gzip file merged
as rsyslog would write it, and in the maillog_file of main.conf."""

import gzip
import imaplib
import os
import re
import time

import pytest

import dnsutil
import harness
import mailutil
import smtpremoteutil
from smtpremoteutil import RemoteMTA

ZONE = [
    "--mx-host=far.test,mx.far.test,10",
    "--host-record=mx.far.test,127.0.0.2",
]
MSGID = "<trace-1.4711@example.test>"
MSGID2 = "<trace-2.4712@example.test>"


@pytest.fixture(scope="module")
def dns(tmp_path_factory):
    server = dnsutil.DnsServer(str(tmp_path_factory.mktemp("dns")),
                               zone=ZONE).start()
    yield server
    server.stop()


def start_receiver(make_instance, dns, port, certs):
    """mx-b: smtpd (mx) on 127.0.0.2:port, qmgr, the LMTP agent, lmtpd and
    imapd, with far.test and user@far.test."""
    lmtp_port = harness.free_port()
    services = [
        harness.Service("smtp", "smtpd/smtpd", listen="127.0.0.2:%d" % port,
                        maxproc=2, options={"smtpd_mode": "mx"}),
        harness.Service("qmgr", "qmgr/qmgr", type="unix",
                        listen="private/qmgr", maxproc=1,
                        options={"service_keep_running": "yes"}),
        harness.Service("lmtp", "smtp/smtp", type="unix",
                        listen="private/lmtp", maxproc=2),
        mailutil.lmtpd_service("lmtpd", lmtp_port, 2),
        harness.Service("imap", "imapd/imapd", maxproc=2),
    ]
    inst = make_instance(services=services, name="mx-b")
    inst.params.update(mailutil.delivery_params(inst, certs, lmtp_port))
    inst.params.update({
        "myhostname": "mx.far.test",
        "dns_servers": dns.address,
        "dns_timeout": "1s",
        "dns_tries": "1",
        "auth_allow_plaintext": "yes",
    })
    inst.write_main_conf()
    open(os.path.join(inst.config_dir, "routes"), "w").close()
    for args, stdin in ((("domain", "add", "far.test"), None),
                        (("mailbox", "add", "user@far.test",
                          "--password-stdin"), mailutil.PASSWORD + "\n")):
        r = inst.ctl(*args, input=stdin)
        assert r.returncode == 0, r.stderr
    inst.start()
    return inst


def message(msgid, subject):
    return ("From: alice@example.test\r\nTo: user@far.test\r\n"
            "Subject: %s\r\nMessage-ID: %s\r\n\r\nWhere is my mail?\r\n"
            % (subject, msgid))


def rsyslog_merge(logs, out_path, long_line):
    """The lines of each (host, log text), as rsyslog writes them into one
    central file (RFC 3339 time, host, tag), in time order, gzipped; plus
    one over-long line."""
    year = time.localtime().tm_year
    rx = re.compile(r"^(\w{3} \d\d \d\d:\d\d:\d\d) ([^/\s]+)/(\S+) (.*)$")
    merged = []
    for host, text in logs:
        for line in text.splitlines():
            m = rx.match(line)
            if not m:
                continue
            when = time.mktime(time.strptime("%d %s" % (year, m.group(1)),
                                             "%Y %b %d %H:%M:%S"))
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(when))
            off = time.strftime("%z", time.localtime(when))
            stamp += ".FRAC%s:%s" % (off[:3], off[3:])
            merged.append((when, "%s %s ispmail/%s %s"
                           % (stamp, host, m.group(3), m.group(4))))
    merged.sort(key=lambda x: x[0])
    with gzip.open(out_path, "wt") as f:
        for i, (_, line) in enumerate(merged):
            f.write(line.replace(".FRAC", ".%06d" % i, 1) + "\n")
            if i == len(merged) // 2:
                f.write(long_line + "\n")


def assert_life(out, qid_a, qid_b, port, host_a, host_b):
    """One block: mx-a's acceptance, its deferral, its relay to mx-b as
    qid_b, mx-b's acceptance, delivery and reading, in that order."""
    assert out.count("\nmessage ") + out.startswith("message ") == 1, out
    assert "message-id=%s" % MSGID in out.splitlines()[0], out
    assert "queue ids: %s@%s %s@%s" % (qid_a, host_a, qid_b, host_b) in out
    block = out.split("\n  log:\n")[0]
    accepted_a = (r"%s smtpd: accepted %s from=<alice@example.test> "
                  r"client=127\.0\.0\.1" % (host_a, qid_a))
    deferred = (r"%s smtp: deferred to=<user@far.test> "
                r"relay=mx\.far\.test\[127\.0\.0\.2\]:%d \(451 4\.3\.0 "
                r".*try later" % (host_a, port))
    sent = (r"%s smtp: sent to=<user@far.test> "
            r"relay=mx\.far\.test\[127\.0\.0\.2\]:%d \(250 .*queued as %s"
            % (host_a, port, qid_b))
    accepted_b = (r"%s smtpd: accepted %s from=<alice@example.test>"
                  % (host_b, qid_b))
    stored = r"%s lmtpd: delivered to=<user@far.test> folder=INBOX" % host_b
    read = (r"%s imapd: read over IMAP user=user@far.test folder=INBOX uid=1"
            % host_b)
    # mx-b takes it before mx-a hears its 250: two chains in time order.
    for steps in ([accepted_a, deferred, sent, read],
                  [accepted_a, deferred, accepted_b, stored, read]):
        pos = 0
        for step in steps:
            m = re.compile(step).search(block, pos)
            assert m, "no hop /%s/ after offset %d in:\n%s" % (step, pos, out)
            pos = m.end()
    # Each hop line carries its delay since the hop before.
    assert re.search(r"\+\d+\.\d{3}s  %s smtp: sent" % host_a, block)
    assert re.search(r"total \d+\.\d{3}s", out)


def test_trace_deferral_and_two_hosts(make_instance, dns, tmp_path):
    port = smtpremoteutil.free_port_on(["127.0.0.2"])

    def make_a(**kwargs):
        return make_instance(name="mx-a", **kwargs)

    a = smtpremoteutil.start_outbound(make_a, dns.address, port, {})
    # First attempt: mx.far.test is there but answers 451.
    busy = RemoteMTA("127.0.0.2", port, name="mx.far.test",
                     rcpt_reply=lambda addr, mta: "451 4.3.0 try later")
    busy.start()
    try:
        qid_a = smtpremoteutil.submit(a, ["user@far.test"],
                                      message(MSGID, "one"))
        a.wait_for_log(r"%s: to=<user@far.test>, relay=mx.far.test"
                       r"\[127.0.0.2\]:%d, .*status=deferred" % (qid_a, port),
                       timeout=20)
    finally:
        busy.stop()
    # Then the real mx.far.test: another ispmail that stores the mail.
    b = start_receiver(make_instance, dns, port, a.certs)
    assert a.ctl("queue", "flush").returncode == 0
    m = a.wait_for_log(r"%s: to=<user@far.test>, relay=mx.far.test.*"
                       r"status=sent \(.*queued as (\w+)" % qid_a, timeout=30)
    qid_b = m.group(1)
    mailutil.wait_messages(b, "user@far.test", 1)
    imap = imaplib.IMAP4("127.0.0.1", b.port("imap"), timeout=10)
    imap.login("user@far.test", mailutil.PASSWORD)
    imap.select("INBOX")
    typ, data = imap.fetch("1", "(RFC822)")
    assert typ == "OK" and b"Where is my mail?" in data[0][1]
    imap.logout()
    b.wait_for_log(r"imapd\[\d+\]: fetch user=user@far.test folder=INBOX "
                   r"uid=1 file=", timeout=10)
    # A second message to the same address, straight through.
    qid_a2 = smtpremoteutil.submit(a, ["user@far.test"],
                                   message(MSGID2, "two"))
    mailutil.wait_messages(b, "user@far.test", 2)
    a.wait_for_log(r"%s: removed" % qid_a2, timeout=20)
    harness.wait_for(lambda: len(re.findall(
        r"lmtpd\[\d+\]: \w+: to=<user@far.test> .*status=delivered",
        b.log())) == 2, timeout=10, what="the second delivery line")

    logs = ["--log", a.log_path, "--log", b.log_path]
    # By mx-a's queue id, over both instances' logs.
    r = a.ctl("trace", *logs, qid_a)
    assert r.returncode == 0, r.stderr
    assert_life(r.stdout, qid_a, qid_b, port, "mx-a", "mx-b")
    assert MSGID2 not in r.stdout and qid_a2 not in r.stdout
    # By mx-b's queue id: the same life, back to mx-a.
    r = a.ctl("trace", *logs, qid_b)
    assert r.returncode == 0, r.stderr
    assert_life(r.stdout, qid_a, qid_b, port, "mx-a", "mx-b")

    # By Message-ID, in one central file as rsyslog writes it (gzip),
    # with an over-long line (trace_line_limit) in the middle.
    central = str(tmp_path / "mail.log.1.gz")
    long_line = ("2026-01-01T00:00:00+00:00 hosta ispmail/qmgr[1]: %s: "
                 "to=<user@far.test>, status=sent (%s)"
                 % (qid_a, "x" * 40000))
    rsyslog_merge([("hosta", a.log()), ("hostb", b.log())], central,
                  long_line)
    r = a.ctl("trace", "--log", central, MSGID)
    assert r.returncode == 0, r.stderr
    assert_life(r.stdout, qid_a, qid_b, port, "hosta", "hostb")
    assert "xxxxxxxxxx" not in r.stdout

    # By address: both messages to it, one block each, oldest first.
    r = a.ctl("trace", *logs, "user@far.test")
    assert r.returncode == 0, r.stderr
    blocks = r.stdout.split("\n\nmessage ")
    assert len(blocks) == 2, r.stdout
    assert_life(blocks[0], qid_a, qid_b, port, "mx-a", "mx-b")
    assert "message-id=%s" % MSGID2 in blocks[1].splitlines()[0]
    assert re.search(r"queue ids: %s@mx-a \w+@mx-b" % qid_a2, blocks[1])
    assert re.search(r"mx-b lmtpd: delivered to=<user@far.test>", blocks[1])

    # The default: main.conf's maillog_file (here mx-a's log alone) tells
    # up to the hand-off, with mx-b's queue id.
    a.params["maillog_file"] = a.log_path
    a.write_main_conf()
    r = a.ctl("trace", qid_a)
    assert r.returncode == 0, r.stderr
    assert "queue ids: %s@mx-a\n" % qid_a in r.stdout, r.stdout
    assert "queued as %s" % qid_b in r.stdout
    assert "mx-b" not in r.stdout

    # Nothing found, or nothing in the window: exit 1.
    r = a.ctl("trace", *logs, "nobody@nowhere.test")
    assert r.returncode == 1 and r.stdout == ""
    assert "not found" in r.stderr
    r = a.ctl("trace", *logs, "--until", "2000-01-01T00:00Z", qid_a)
    assert r.returncode == 1
    r = a.ctl("trace", *logs, "--since", "10m", qid_a)
    assert r.returncode == 0
    # Usage errors and a missing file.
    assert a.ctl("trace", *logs, "not an id!").returncode == 2
    assert a.ctl("trace", "--since", "yesterday", qid_a).returncode == 2
    r = a.ctl("trace", "--log", str(tmp_path / "missing.log"), qid_a)
    assert r.returncode == 1 and "missing.log" in r.stderr
    for inst in (a, b):
        smtpremoteutil.assert_no_sanitizer_reports(inst)

"""Sender authentication's lookups start early (smtpd_authres.c, issue
18): the SPF record at MAIL FROM, the DMARC record and a signature's key
as soon as their header fields are read; the answers are waited for at
the end of DATA.  A transaction that ends first (RSET, the client gone)
cancels what is on its way, and the answers that come later are
ignored: the next message in the same smtpd process is checked right.

DNS: a real dnsmasq behind a small UDP relay in this file that records
every question and holds the answers the test names until it lets them
go, so the test knows what smtpd asked when, and can make an answer
arrive after the end of DATA.  One smtpd process (maxproc 1), so every
session after a cancelled one runs in the process that cancelled."""

import base64
import os
import select
import smtplib
import socket
import subprocess
import threading

import dkim
import dns.message
import pytest

import dnsutil
from test_sender_auth import auth_results, checking_mx, queued, \
    txt_record_option

CLIENT = "192.0.2.9"
SELECTOR = "early"


class HoldingRelay:
    """UDP DNS relay on loopback to upstream (dnsmasq): records each
    question (name, type) in order; answers to held names wait until
    release()."""

    def __init__(self, upstream):
        host, port = upstream.split(":")
        self.upstream = (host, int(port))
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.address = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.asked = []
        self.held = set()
        self.waiting = []
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while True:
            try:
                data, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            q = dns.message.from_wire(data).question[0]
            name = q.name.to_text(omit_final_dot=True).lower()
            with self.cond:
                self.asked.append((name, dns.rdatatype.to_text(q.rdtype)))
                self.cond.notify_all()
                if name in self.held:
                    self.waiting.append((name, data, peer))
                    continue
            self._forward(data, peer)

    def _forward(self, data, peer):
        up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            up.settimeout(5)
            up.sendto(data, self.upstream)
            answer = up.recv(65535)
            self.sock.sendto(answer, peer)
        finally:
            up.close()

    def hold(self, *names):
        with self.cond:
            self.held.update(n.lower() for n in names)

    def release(self):
        """Let every held answer go, and hold none from now on."""
        with self.cond:
            self.held.clear()
            waiting, self.waiting = self.waiting, []
        for _name, data, peer in waiting:
            self._forward(data, peer)

    def wait_asked(self, *names, timeout=10.0):
        """Wait until every name was asked (TXT)."""
        with self.cond:
            ok = self.cond.wait_for(
                lambda: all((n, "TXT") in self.asked for n in names),
                timeout)
        assert ok, "not asked: %s (asked %s)" % (
            [n for n in names if (n, "TXT") not in self.asked], self.asked)

    def was_asked(self, name):
        with self.cond:
            return (name, "TXT") in self.asked

    def close(self):
        self.sock.close()


def key_record(pem_path):
    der = subprocess.run(["openssl", "pkey", "-in", pem_path, "-pubout",
                          "-outform", "DER"], check=True,
                         capture_output=True).stdout
    return "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()


@pytest.fixture(scope="module")
def early(tmp_path_factory):
    """mx smtpd (checks on, one process) asking dnsmasq through the
    relay; domains early.test, other.test and held.test."""
    work = str(tmp_path_factory.mktemp("early"))
    pem_path = os.path.join(work, "key.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                    "rsa_keygen_bits:2048", "-out", pem_path], check=True,
                   capture_output=True)
    zone = list(dnsutil.TEST_ZONE) + [
        txt_record_option("%s._domainkey.early.test" % SELECTOR,
                          key_record(pem_path)),
        "--txt-record=early.test,v=spf1 ip4:192.0.2.9 -all",
        "--txt-record=_dmarc.early.test,v=DMARC1; p=reject",
        "--txt-record=other.test,v=spf1 ip4:192.0.2.9 -all",
        "--txt-record=held.test,v=spf1 ip4:192.0.2.50 ~all",
    ]
    server = dnsutil.DnsServer(os.path.join(work, "dns"), zone=zone)
    server.start()
    relay = HoldingRelay(server.address)
    inst = checking_mx("ispmail-sauth-early", relay.address, {
        "smtpd_sender_auth_timeout": "20s", "dns_timeout": "10s",
        "dns_tries": "1"})
    inst.start()
    inst.relay = relay
    with open(pem_path, "rb") as f:
        inst.pem = f.read()
    yield inst
    relay.release()
    log = inst.log()
    inst.close()
    relay.close()
    server.stop()
    for marker in ("runtime error:", "AddressSanitizer", "LeakSanitizer"):
        assert marker not in log, log[-3000:]


def signed(inst, sender_domain, subject):
    """A message from news@sender_domain, DKIM-signed by it (dkimpy)."""
    m = (b"From: news@" + sender_domain.encode() + b"\r\n"
         b"To: alice@example.test\r\n"
         b"Subject: " + subject.encode() + b"\r\n"
         b"Message-ID: <" + subject.encode() + b"@early.test>\r\n"
         b"\r\nThe body.\r\n")
    return dkim.sign(m, SELECTOR.encode(), sender_domain.encode(), inst.pem,
                     canonicalize=(b"relaxed", b"relaxed")) + m


def session(inst):
    s = smtplib.SMTP("127.0.0.1", inst.port("smtp"), timeout=30)
    s.ehlo("client.example.net")
    code, text = s.docmd("XCLIENT", "ADDR=" + CLIENT)
    assert code == 220, text
    s.ehlo("client.example.net")
    return s


def envelope(s, sender):
    code, text = s.mail(sender)
    assert code == 250, text
    code, text = s.rcpt("alice@example.test")
    assert code == 250, text


def send_plain(s, sender, subject):
    """A whole unsigned transaction from sender; 250 expected."""
    envelope(s, sender)
    code, text = s.data(b"From: " + sender.encode() + b"\r\nSubject: " +
                        subject.encode() + b"\r\n\r\nBody.\r\n")
    assert code == 250, text


def verdict(inst):
    """The Authentication-Results field of the one queued message."""
    fields, _ = queued(inst)
    return auth_results(fields)


def no_reply_yet(s, seconds=0.3):
    """Nothing to read from smtpd within seconds."""
    readable, _, _ = select.select([s.sock], [], [], seconds)
    return not readable


def test_lookups_start_before_the_end_of_data(early):
    """SPF at MAIL FROM; DMARC and the key while the header is read;
    smtpd waits at the end of DATA for answers that come later, and the
    verdict is right."""
    relay = early.relay
    relay.hold("early.test", "_dmarc.early.test",
               "%s._domainkey.early.test" % SELECTOR)
    message = signed(early, "early.test", "held-answers")
    head, _, body = message.partition(b"\r\n\r\n")
    s = session(early)
    try:
        code, text = s.mail("news@early.test")
        assert code == 250, text
        # Before RCPT and DATA: the SPF record is already asked for.
        relay.wait_asked("early.test")
        assert not relay.was_asked("_dmarc.early.test")
        code, text = s.rcpt("alice@example.test")
        assert code == 250, text
        code, text = s.docmd("DATA")
        assert code == 354, text
        # The header without its end: the From: and DKIM-Signature
        # fields are complete (a field follows each), the body unsent.
        s.sock.sendall(head + b"\r\n")
        relay.wait_asked("_dmarc.early.test",
                         "%s._domainkey.early.test" % SELECTOR)
        s.sock.sendall(b"\r\n" + body + b".\r\n")
        # Every answer is held: smtpd waits for them.
        assert no_reply_yet(s)
        relay.release()
        code, text = s.getreply()
        assert code == 250, text
        s.quit()
    finally:
        s.close()
        relay.release()
    ar = verdict(early)
    assert "dkim=pass header.d=early.test header.s=%s" % SELECTOR in ar, ar
    assert "spf=pass smtp.mailfrom=early.test" in ar, ar
    assert "dmarc=pass (p=reject) header.from=early.test" in ar, ar


def test_rset_with_lookup_in_flight(early):
    """RSET while the SPF lookup of MAIL FROM waits: the next
    transaction, in the same session, gets its own verdict; the late
    answer is ignored; the domain is checked afresh later."""
    relay = early.relay
    relay.hold("held.test")
    s = session(early)
    try:
        code, text = s.mail("someone@held.test")
        assert code == 250, text
        relay.wait_asked("held.test")
        code, text = s.rset()
        assert code == 250, text
        send_plain(s, "news@other.test", "after RSET")
        # The cancelled lookup's answer arrives now, to no one.
        relay.release()
        ar = verdict(early)
        assert "spf=pass smtp.mailfrom=other.test" in ar, ar
        code, text = s.noop()
        assert code == 250, text
        send_plain(s, "someone@held.test", "held again")
        s.quit()
    finally:
        s.close()
        relay.release()
    ar = verdict(early)
    assert "spf=softfail smtp.mailfrom=held.test" in ar, ar


def test_disconnect_with_lookups_in_flight(early):
    """The client goes away in the middle of the header with all three
    lookups on their way; the answers come after; the same process
    checks the next message from that domain right."""
    relay = early.relay
    relay.hold("early.test", "_dmarc.early.test",
               "%s._domainkey.early.test" % SELECTOR)
    message = signed(early, "early.test", "gone")
    head = message.partition(b"\r\n\r\n")[0]
    s = session(early)
    try:
        envelope(s, "news@early.test")
        code, text = s.docmd("DATA")
        assert code == 354, text
        s.sock.sendall(head + b"\r\n")
        relay.wait_asked("early.test", "_dmarc.early.test",
                         "%s._domainkey.early.test" % SELECTOR)
    finally:
        s.sock.close()
        s.close()
    relay.release()
    s = session(early)
    try:
        envelope(s, "news@early.test")
        code, text = s.data(signed(early, "early.test", "after-gone"))
        assert code == 250, text
        s.quit()
    finally:
        s.close()
    ar = verdict(early)
    assert "dkim=pass header.d=early.test" in ar, ar
    assert "spf=pass smtp.mailfrom=early.test" in ar, ar
    assert "dmarc=pass" in ar, ar

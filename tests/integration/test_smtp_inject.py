"""Injection through client-supplied SMTP values (issue 12): ENVID and
ORCPT with decoded line ends, what the next hop gets when the queue file
holds such values anyway, the DSN built from them, and HELO names with
control characters in Received:.  Real clients over sockets (smtplib,
raw sockets), a real remote MTA (smtpremoteutil.RemoteMTA)."""

import base64
import os
import re
import socket
import smtplib
import time
import zlib

import mailutil
import smtpremoteutil
import tlsutil
# The remote-delivery fixtures (dnsmasq with the test zone, certificates,
# ports free on 127.0.0.2-5, remote MTAs) and the system they start.
from test_smtp_remote import (  # noqa: F401 (pytest fixtures)
    bounce_report, certs, dns, make_system, mtas, no_sanitizer_reports,
    port, wait_queue_empty)

INJECT = "+0D+0ARSET+0D+0AMAIL+20FROM:<evil@attacker.test>+0D+0A"


def relay_setup(inst):
    for args in (("domain", "add", "relay.test", "relay"),
                 ("relay", "add", "known@relay.test")):
        r = inst.ctl(*args)
        assert r.returncode == 0, r.stderr


def mx_client(inst, helo="client.outside.test"):
    s = smtplib.SMTP("127.0.0.1", inst.port("smtp"), timeout=10)
    assert s.ehlo(helo)[0] == 250
    return s


def test_envid_orcpt_line_ends_refused(make_instance, certs, dns, port,
                                       mtas):
    primary = mtas("127.0.0.2", port, name="primary.relay.test")
    inst = make_system(make_instance, certs, dns, port)
    relay_setup(inst)
    s = mx_client(inst)
    # ENVID: printable US-ASCII after decoding (RFC 3461 4.4).
    for envid in ("x" + INJECT, "x+0Dy", "x+0Ay", "x+00y", "x+C3+A9"):
        code, text = s.mail("someone@outside.test", ["ENVID=" + envid])
        assert code == 501, (envid, code, text)
    # ORCPT: addr-type ";" xtext, printable decoded, a known type.
    assert s.mail("someone@outside.test")[0] == 250
    for orcpt in ("rfc822;x" + INJECT + "@relay.test",
                  "rfc822" + INJECT + ";x@relay.test",
                  "rfc822+3Bx@relay.test", "x400;x@relay.test",
                  "rfc822;", "utf-8;a+2Bb@relay.test"):
        code, text = s.rcpt("known@relay.test", ["ORCPT=" + orcpt])
        assert code == 501, (orcpt, code, text)
    # A valid one is taken and goes on xtext encoded, in one transaction.
    code, text = s.rcpt("known@relay.test",
                        ["ORCPT=rfc822;orig+2Bx+20y@relay.test"])
    assert code == 250, text
    assert s.data(b"Subject: ok\r\n\r\nok\r\n")[0] == 250
    s.quit()
    [msg] = primary.wait_messages(1, inst=inst)
    assert msg.rcpts == ["TO:<known@relay.test> ORCPT=rfc822;"
                         "orig+2Bx+20y@relay.test"], msg.rcpts
    verbs = [c.split()[0].upper() for c in msg.session.commands]
    assert verbs.count("MAIL") == 1 and "RSET" not in verbs, verbs
    # Submission: the same refusal (no sender-login bypass by ORCPT).
    s = smtplib.SMTP("127.0.0.1", inst.port("submission"), timeout=10)
    s.ehlo("client.test")
    s.starttls(context=tlsutil.client_context(certs))
    s.ehlo("client.test")
    s.login("alice@example.test", mailutil.PASSWORD)
    assert s.mail("alice@example.test")[0] == 250
    code, text = s.rcpt("user@pref.test",
                        ["ORCPT=rfc822;x" + INJECT + "@pref.test"])
    assert code == 501, text
    s.quit()
    time.sleep(0.5)
    assert len(primary.messages) == 1


def rewrite_queue_file(inst, qid, replace):
    """Hold qid and apply replace(bytes) -> bytes to its queue file."""
    r = inst.ctl("queue", "hold", qid)
    assert r.returncode == 0, r.stderr
    [path] = [p for p in mailutil.queue_files(inst, "hold")
              if os.path.basename(p) == qid]
    with open(path, "rb") as f:
        data = f.read()
    changed = replace(data)
    assert changed != data
    with open(path, "wb") as f:
        f.write(changed)


def fix_crc(data):
    """The queue file's message checksum (ispmail-queue(5): CRC-32 of
    the message in the Z record) made right again after an edit."""
    m = re.search(rb"\nM\t[^\n]*size=(\d+)[^\n]*\n", data)
    start = m.end()
    end = start + int(m.group(1))
    assert data[end:end + 6] == b"Z\tcrc=", data[end:end + 20]
    return data[:end] + b"Z\tcrc=%08x" % zlib.crc32(data[start:end]) + \
        data[end + 14:]


def release(inst, qid):
    for args in (("queue", "release", qid), ("queue", "flush")):
        r = inst.ctl(*args)
        assert r.returncode == 0, r.stderr


class Raw:
    """A raw SMTP client: bytes as given, CR and all."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.f = self.sock.makefile("rb")
        assert self.f.readline().startswith(b"220")

    def send(self, data):
        self.sock.sendall(data)

    def reply(self):
        lines = []
        while True:
            got = self.f.readline()
            assert got, b"".join(lines)
            lines.append(got)
            if got[3:4] != b"-":
                return b"".join(lines)

    def cmd(self, line):
        self.send(line + b"\r\n")
        return self.reply()

    def envelope(self, sender=b"a@outside.test", rcpt=b"known@relay.test"):
        assert self.cmd(b"MAIL FROM:<%s>" % sender).startswith(b"250")
        assert self.cmd(b"RCPT TO:<%s>" % rcpt).startswith(b"250")

    def data(self, body, **envelope):
        """A transaction with DATA; the reply after the data."""
        self.envelope(**envelope)
        assert self.cmd(b"DATA").startswith(b"354")
        return self.cmd(body + b".")

    def close(self):
        self.sock.close()


def test_agent_and_dsn_do_not_trust_the_queue_file(make_instance, certs, dns,
                                                    port, mtas):
    """Values that passed smtpd once (an older version, a hand-edited
    queue file) are checked again: the agent sends one transaction without
    them, and the DSN has no header field or line of the attacker's."""
    inst = make_system(make_instance, certs, dns, port)
    # alldead.test's only MX (127.0.0.4) is down: the message waits.
    qid = smtpremoteutil.submit(
        inst, ["user@alldead.test"], "Subject: q\r\n\r\nq\r\n",
        mail_options=["ENVID=envAAAAAAAAAAAA", "RET=HDRS"],
        rcpt_options={"user@alldead.test": [
            "NOTIFY=SUCCESS,FAILURE",
            "ORCPT=rfc822;origAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA@alldead.test"]})
    inst.wait_for_log(r"%s: to=<user@alldead.test>.*status=deferred" % qid,
                      timeout=20)
    injected = b"%0D%0AMAIL FROM:<e@x>%0D%0AX-Injected: yes%0D%0A"

    def replace(data):
        data = data.replace(b"envid=envAAAAAAAAAAAA",
                            b"envid=env" + injected)
        return data.replace(b"orcpt=rfc822;origAAAA",
                            b"orcpt=rfc822;o" + injected)
    rewrite_queue_file(inst, qid, replace)
    # The next hop comes up and refuses the recipient with a reply text
    # that holds a bare CR: that text goes into the DSN too.
    mx = mtas("127.0.0.4", port, name="mx1.alldead.test",
              rcpt_reply=lambda a, m: "550 5.1.1 no such user\r"
              "X-Injected: yes")
    release(inst, qid)
    inst.wait_for_log(r"%s: to=<user@alldead.test>.*status=bounced" % qid,
                      timeout=30)
    # One transaction; no ENVID, no ORCPT, nothing after a line end.
    [session] = [x for x in mx.sessions if x.commands]
    verbs = [c.split()[0].upper() for c in session.commands]
    assert verbs.count("MAIL") == 1, session.commands
    assert "RSET" not in verbs[:verbs.index("RCPT") + 1], session.commands
    mail = [c for c in session.commands if c.upper().startswith("MAIL")]
    rcpt = [c for c in session.commands if c.upper().startswith("RCPT")]
    assert "ENVID" not in mail[0] and "e@x" not in mail[0], mail
    assert rcpt == ["RCPT TO:<user@alldead.test> NOTIFY=SUCCESS,FAILURE"], \
        rcpt
    log = inst.log()
    assert "%s: invalid ENVID dropped" % qid in log
    assert "invalid ORCPT dropped" in log
    # The DSN to alice: no injected field, the reply text made printable.
    [dsn] = mailutil.wait_messages(inst, "alice@example.test", 1)
    assert b"\nX-Injected" not in dsn and b"\rX-Injected" not in dsn, dsn
    assert b"MAIL FROM:<e@x>" not in dsn
    report = bounce_report(dsn)
    assert "Original-Envelope-Id" not in report
    assert "Original-Recipient" not in report
    assert "no such user?X-Injected: yes" in report, report
    assert re.search(r"invalid ENVID left out", inst.log())


def test_helo_with_control_characters(make_instance, certs, dns, port,
                                      mtas):
    primary = mtas("127.0.0.2", port, name="primary.relay.test")
    inst = make_system(make_instance, certs, dns, port)
    relay_setup(inst)
    c = Raw(inst.port("smtp"))
    for bad in (b"EHLO evil\rSubject: injected", b"HELO evil\rX: y",
                b"EHLO evil\x01", b"EHLO caf\xc3\xa9.test",
                b"EHLO under_score.test", b"EHLO [1.2.3.999]",
                b"EHLO two words"):
        reply = c.cmd(bad)
        assert reply.startswith(b"50"), (bad, reply)
    # Any command with a bare CR is refused, not echoed.
    assert c.cmd(b"NOOP x\ry").startswith(b"500 5.5.2")
    assert c.cmd(b"EHLO client.outside.test").startswith(b"250")
    assert c.data(b"Subject: h\r\n\r\nh\r\n").startswith(b"250")
    c.cmd(b"QUIT")
    c.close()
    [msg] = primary.wait_messages(1, inst=inst)
    received = msg.data.split(b"\r\n\r\n", 1)[0]
    assert b"from client.outside.test (" in received, received
    assert b"Subject: injected" not in msg.data
    assert b"\r" not in received.replace(b"\r\n", b"")


def test_helo_lenient_mode(make_instance, certs, dns, port, mtas):
    inst = make_system(make_instance, certs, dns, port, params={
        "smtpd_strict_helo_syntax": "no"})
    c = Raw(inst.port("smtp"))
    assert c.cmd(b"EHLO under_score.test").startswith(b"250")
    inst.wait_for_log(r"lenient EHLO syntax from 127\.0\.0\.1: "
                      r"under_score\.test")
    # Never a control character, space or 8-bit byte, even so.
    for bad in (b"EHLO bad\rname", b"EHLO two words", b"EHLO caf\xc3\xa9"):
        assert c.cmd(bad)[:2] == b"50", bad
    c.cmd(b"QUIT")
    c.close()


def only_crlf(data):
    """True when every CR and LF in data is part of a CRLF."""
    return b"\r" not in data.replace(b"\r\n", b"") and \
        b"\n" not in data.replace(b"\r\n", b"")


SMUGGLE = (b"Subject: s\r\n\r\nbefore\r.\rMAIL FROM:<evil@attacker.test>\r\n"
           b"RCPT TO:<victim@relay.test>\r\nDATA\r\nx\n.\nafter\r\n")


def test_bare_cr_lf_normalized_data_and_bdat(make_instance, certs, dns,
                                             port, mtas):
    """The default (normalize): smtpd stores a bare CR or LF as CRLF, over
    DATA and BDAT, so the next hop sees one message of CRLF lines and no
    end of data but ours (SMTP smuggling)."""
    primary = mtas("127.0.0.2", port, name="primary.relay.test")
    inst = make_system(make_instance, certs, dns, port)
    relay_setup(inst)
    c = Raw(inst.port("smtp"))
    assert c.cmd(b"EHLO client.outside.test").startswith(b"250")
    assert c.data(SMUGGLE).startswith(b"250")
    # BDAT: the same bytes, a CR at the end of the first chunk whose LF
    # starts the next one, and a bare CR at the very end.
    c.envelope(sender=b"b@outside.test")
    first = SMUGGLE + b"cut\r"
    c.send(b"BDAT %d\r\n" % len(first) + first)
    assert c.reply().startswith(b"250")
    last = b"\nend\r"
    c.send(b"BDAT %d LAST\r\n" % len(last) + last)
    assert c.reply().startswith(b"250")
    c.cmd(b"QUIT")
    c.close()
    msgs = primary.wait_messages(2, inst=inst)
    assert len(msgs) == 2
    for msg in msgs:
        verbs = [x.split()[0].upper() for x in msg.session.commands]
        assert verbs.count("MAIL") <= 2 and "evil@attacker.test" not in \
            " ".join(msg.session.commands), msg.session.commands
        assert msg.rcpt_addresses() == ["known@relay.test"]
        assert only_crlf(msg.data), msg.data
        assert b"before\r\n.\r\nMAIL FROM:<evil@attacker.test>\r\n" in \
            msg.data, msg.data
    assert msgs[1].data.endswith(b"cut\r\nend\r\n"), msgs[1].data
    assert not [m for m in primary.messages
                if "victim@relay.test" in " ".join(m.rcpts)]


def test_bare_cr_lf_rejected(make_instance, certs, dns, port, mtas):
    primary = mtas("127.0.0.2", port, name="primary.relay.test")
    inst = make_system(make_instance, certs, dns, port, params={
        "smtpd_forbid_bare_newline": "reject"})
    relay_setup(inst)
    c = Raw(inst.port("smtp"))
    assert c.cmd(b"EHLO client.outside.test").startswith(b"250")
    for body in (b"a\nb\r\n", b"a\r.\rb\r\n", SMUGGLE):
        reply = c.data(body)
        assert reply.startswith(b"550 5.5.2"), (body, reply)
    c.envelope()
    c.send(b"BDAT 4\r\na\rb\n")
    assert c.reply().startswith(b"550 5.5.2")
    c.send(b"BDAT 3 LAST\r\nc\r\n")
    assert c.reply().startswith(b"550 5.5.2")
    # In step, and a clean message still goes.
    assert c.cmd(b"NOOP").startswith(b"250")
    assert c.data(b"Subject: ok\r\n\r\nclean\r\n").startswith(b"250")
    c.cmd(b"QUIT")
    c.close()
    [msg] = primary.wait_messages(1, inst=inst)
    assert b"clean" in msg.data
    time.sleep(0.5)
    assert len(primary.messages) == 1


def test_agent_sends_only_crlf(make_instance, certs, dns, port, mtas):
    """A queue file with bare CRs and LFs in the message (an old one, a
    hand-edited one) goes out with CRLF only: the agent does not trust
    it either."""
    inst = make_system(make_instance, certs, dns, port)
    qid = smtpremoteutil.submit(inst, ["user@alldead.test"],
                                "Subject: q\r\n\r\nAAAAAAAAAAAA\r\nend\r\n")
    inst.wait_for_log(r"%s: to=<user@alldead.test>.*status=deferred" % qid,
                      timeout=20)
    # Same length: the message size record stays right.
    rewrite_queue_file(inst, qid, lambda d: fix_crc(d.replace(
        b"AAAAAAAAAAAA", b"a\r.\rRSET\n.\nb")))
    mx = mtas("127.0.0.4", port, name="mx1.alldead.test")
    release(inst, qid)
    [msg] = mx.wait_messages(1, inst=inst)
    assert only_crlf(msg.data), msg.data
    assert b"\r\na\r\n.\r\nRSET\r\n.\r\nb\r\nend\r\n" in msg.data, msg.data
    verbs = [x.split()[0].upper() for x in msg.session.commands]
    assert "RSET" not in verbs, msg.session.commands
    inst.wait_for_log(r"%s: 4 bare CR or LF sent as CRLF" % qid)


def test_auth_login_with_line_end_not_logged(make_instance, certs, dns, port,
                                             mtas):
    """A SASL login is base64: decoded, a CR or LF in it must not reach
    the log (a forged log line) or Received:."""
    inst = make_system(make_instance, certs, dns, port)
    s = smtplib.SMTP("127.0.0.1", inst.port("submission"), timeout=10)
    s.ehlo("client.test")
    s.starttls(context=tlsutil.client_context(certs))
    s.ehlo("client.test")
    forged = "Dec 02 00:00:00 ispmail-it/smtpd[1]: login forged@x"
    blob = base64.b64encode(("\0alice@example.test\r\n" + forged + "\0" +
                             mailutil.PASSWORD).encode()).decode()
    code, _ = s.docmd("AUTH", "PLAIN " + blob)
    assert code == 535
    s.quit()
    inst.wait_for_log(r"authentication failed for \(not printable\) from "
                      r"127\.0\.0\.1")
    assert "\n" + forged not in inst.log()

"""smtpd: the SMTP receiver in mx and submission mode, with real clients
(smtplib, swaks, curl) over loopback, and the queue files it writes."""

import base64
import os
import signal
import smtplib
import socket
import ssl
import subprocess
import threading
import time

import pytest

import harness
import mailutil
import tlsutil


@pytest.fixture(scope="module")
def certs():
    return tlsutil.make_certs()


@pytest.fixture
def mail(make_instance, certs):
    inst = make_instance(services=mailutil.smtpd_services())
    inst.params.update(mailutil.base_params(inst, certs))
    inst.write_main_conf()
    mailutil.provision(inst)
    inst.start()
    inst.certs = certs
    return inst


def connect(inst, service="smtp", timeout=10):
    s = smtplib.SMTP("127.0.0.1", inst.port(service), timeout=timeout)
    return s


def tls_context(inst):
    return tlsutil.client_context(inst.certs)


def raw(inst, service="smtp"):
    sock = socket.create_connection(("127.0.0.1", inst.port(service)),
                                    timeout=10)
    f = sock.makefile("rb")
    greeting = f.readline()
    assert greeting.startswith(b"220 "), greeting
    return sock, f


def read_reply(f):
    lines = []
    while True:
        line = f.readline()
        assert line, "connection closed; got %r" % lines
        lines.append(line)
        if line[3:4] != b"-":
            return b"".join(lines)


def only_queue_file(inst):
    files = mailutil.queue_files(inst)
    assert len(files) == 1, files
    return mailutil.read_queue_file(files[0])


# -- capabilities and basic transactions -----------------------------------

def test_ehlo_capabilities_mx(mail):
    s = connect(mail)
    code, text = s.ehlo("client.test")
    assert code == 250
    for ext in ("pipelining", "size", "8bitmime", "enhancedstatuscodes",
                "smtputf8", "dsn", "starttls", "chunking"):
        assert s.has_extn(ext), ext
    assert s.esmtp_features["size"] == str(10 * 1024 * 1024)
    # mx: no AUTH even after TLS
    assert not s.has_extn("auth")
    s.starttls(context=tls_context(mail))
    s.ehlo("client.test")
    assert not s.has_extn("starttls")
    assert not s.has_extn("auth")
    s.quit()


def test_mx_delivery_queued_byte_exact(mail):
    body = (b"From: sender@remote.test\r\nTo: alice@example.test\r\n"
            b"Subject: hello\r\n\r\n.leading dot\r\nline two\r\n"
            b"..two dots\r\n")
    s = connect(mail)
    s.ehlo("client.test")
    code, _ = s.mail("sender@remote.test")
    assert code == 250
    code, _ = s.rcpt("alice@example.test")
    assert code == 250
    code, text = s.data(body)
    assert code == 250
    assert b"queued as" in text
    qid = text.split()[-1].decode()
    s.quit()
    q = only_queue_file(mail)
    assert q["id"] == qid
    assert q["sender"] == "sender@remote.test"
    assert [r["addr"] for r in q["rcpts"]] == ["alice@example.test"]
    assert q["rcpts"][0]["state"] == "P"
    assert q["protocol"] == "ESMTP"
    received, rest = mailutil.split_received(q["message"])
    assert rest == body
    assert b"by mx.example.test (ispmail) with ESMTP id " + qid.encode() \
        in received
    assert b"for <alice@example.test>" in received
    assert q["trailer"].startswith(b"Z\tcrc=")


def test_several_recipients_some_refused(mail):
    s = connect(mail)
    s.ehlo("client.test")
    s.mail("")
    assert s.rcpt("alice@example.test")[0] == 250
    code, text = s.rcpt("nobody@example.test")
    assert code == 550 and b"5.1.1" in text
    code, text = s.rcpt("someone@elsewhere.test")
    assert code == 554 and b"5.7.1" in text and b"Relay access denied" \
        in text
    code, text = s.rcpt("carol@example.test")       # disabled
    assert code == 550 and b"5.2.1" in text
    assert s.rcpt("dave@example.test")[0] == 250   # suspended receives
    assert s.rcpt("team@example.test")[0] == 250   # alias
    assert s.rcpt("known@backup.test")[0] == 250   # relay, listed
    code, _ = s.rcpt("unknown@backup.test")
    assert code == 550
    assert s.rcpt("Alice+tag@EXAMPLE.test")[0] == 250
    code, text = s.data(b"Subject: x\r\n\r\nhi\r\n")
    assert code == 250
    s.quit()
    q = only_queue_file(mail)
    assert q["sender"] == ""
    assert [r["addr"] for r in q["rcpts"]] == [
        "alice@example.test", "dave@example.test", "team@example.test",
        "known@backup.test", "Alice+tag@EXAMPLE.test"]
    received, _ = mailutil.split_received(q["message"])
    assert b"for <" not in received       # several recipients: no "for"


def test_pipelined_transactions_and_rset(mail):
    sock, f = raw(mail)
    sock.sendall(b"EHLO client.test\r\n")
    read_reply(f)
    # Two transactions and a RSET, all in one write (RFC 2920).
    sock.sendall(b"MAIL FROM:<a@remote.test>\r\nRCPT TO:<alice@example.test>"
                 b"\r\nRCPT TO:<nobody@example.test>\r\nDATA\r\n")
    assert read_reply(f).startswith(b"250 2.1.0")
    assert read_reply(f).startswith(b"250 2.1.5")
    assert read_reply(f).startswith(b"550 5.1.1")
    assert read_reply(f).startswith(b"354")
    sock.sendall(b"Subject: one\r\n\r\nbody\r\n.\r\n"
                 b"MAIL FROM:<b@remote.test>\r\nRCPT TO:<bob@example.test>\r\n"
                 b"RSET\r\nMAIL FROM:<c@remote.test>\r\n"
                 b"RCPT TO:<bob@example.test>\r\nDATA\r\n")
    assert read_reply(f).startswith(b"250 2.0.0 Ok: queued as")
    assert read_reply(f).startswith(b"250 2.1.0")
    assert read_reply(f).startswith(b"250 2.1.5")
    assert read_reply(f).startswith(b"250 2.0.0")       # RSET
    assert read_reply(f).startswith(b"250 2.1.0")
    assert read_reply(f).startswith(b"250 2.1.5")
    assert read_reply(f).startswith(b"354")
    sock.sendall(b"Subject: two\r\n\r\nbody\r\n.\r\nQUIT\r\n")
    assert read_reply(f).startswith(b"250 2.0.0 Ok: queued as")
    assert read_reply(f).startswith(b"221")
    sock.close()
    files = mailutil.queue_files(mail)
    assert len(files) == 2
    senders = sorted(mailutil.read_queue_file(p)["sender"] for p in files)
    assert senders == ["a@remote.test", "c@remote.test"]


def test_size_limit(make_instance, certs):
    inst = make_instance(services=mailutil.smtpd_services())
    inst.params.update(mailutil.base_params(inst, certs))
    inst.params["message_size_limit"] = "2k"
    inst.write_main_conf()
    mailutil.provision(inst)
    inst.start()
    s = connect(inst)
    s.ehlo("client.test")
    assert s.esmtp_features["size"] == "2048"
    code, text = s.mail("a@remote.test", ["SIZE=5000"])
    assert code == 552 and b"5.3.4" in text
    s.mail("a@remote.test", ["SIZE=100"])
    s.rcpt("alice@example.test")
    code, text = s.data(b"Subject: big\r\n\r\n" + b"x" * 70 + b"\r\n" * 1
                        + (b"y" * 76 + b"\r\n") * 40)
    assert code == 552 and b"5.3.4" in text
    # The session is still in step after the refused message.
    assert s.noop()[0] == 250
    s.mail("a@remote.test")
    s.rcpt("alice@example.test")
    assert s.data(b"Subject: small\r\n\r\nok\r\n")[0] == 250
    s.quit()
    assert len(mailutil.queue_files(inst)) == 1


def test_8bitmime_smtputf8_and_dsn_stored(mail):
    s = connect(mail)
    s.ehlo("client.test")
    code, _ = s.mail("j\u00f6rg@remote.test",
                     ["SMTPUTF8", "BODY=8BITMIME", "RET=HDRS",
                      "ENVID=QQ+2B123"])
    assert code == 250
    code, _ = s.rcpt("alice@example.test",
                     ["NOTIFY=SUCCESS,DELAY", "ORCPT=rfc822;alice+2Bx@example.test"])
    assert code == 250
    assert s.rcpt("bob@example.test", ["NOTIFY=NEVER"])[0] == 250
    code, _ = s.data("Subject: caf\u00e9\r\n\r\n\u00fcber\r\n".encode())
    assert code == 250
    s.quit()
    q = only_queue_file(mail)
    assert q["sender"] == "j\u00f6rg@remote.test"
    assert q["smtputf8"] == "1" and q["body"] == "8BITMIME"
    assert q["ret"] == "HDRS" and q["envid"] == "QQ+123"
    assert q["rcpts"][0]["notify"] == "SUCCESS,DELAY"
    assert q["rcpts"][0]["orcpt"] == "rfc822;alice+x@example.test"
    assert q["rcpts"][1]["notify"] == "NEVER"
    _, rest = mailutil.split_received(q["message"])
    assert rest == "Subject: caf\u00e9\r\n\r\n\u00fcber\r\n".encode()


def test_non_ascii_address_needs_smtputf8(mail):
    sock, f = raw(mail)
    sock.sendall(b"EHLO c\r\n")
    read_reply(f)
    sock.sendall("MAIL FROM:<j\u00f6rg@remote.test>\r\n".encode())
    assert read_reply(f).startswith(b"553 5.6.7")
    sock.close()


def test_bad_parameters(mail):
    sock, f = raw(mail)
    sock.sendall(b"EHLO c\r\n")
    read_reply(f)
    for cmd, want in [
            (b"MAIL FROM:<a@remote.test> FOO=BAR", b"555 5.5.4"),
            (b"MAIL FROM:<a@remote.test> RET=BOGUS", b"555 5.5.4"),
            (b"MAIL FROM:a@remote.test", b"501 5.5.4"),
            (b"MAIL FROM:<a@@remote.test>", b"553 5.1.7"),
            (b"MAIL FROM:<a@remote.test> ENVID=bad+ZZ", b"501 5.5.4"),
            (b"MAIL FROM:<a@remote.test>", b"250"),
            (b"MAIL FROM:<a@remote.test>", b"503 5.5.1"),
            (b"RCPT TO:<alice@example.test> NOTIFY=NEVER,SUCCESS",
             b"501 5.5.4"),
            (b"RCPT TO:<alice@example.test> ORCPT=nosemicolon", b"501"),
            (b"RCPT TO:<>", b"501"),
            (b"VRFY alice@example.test", b"252"),
            (b"BOGUS", b"502 5.5.2")]:
        sock.sendall(cmd + b"\r\n")
        reply = read_reply(f)
        assert reply.startswith(want), (cmd, reply)
    sock.close()


def test_commands_out_of_order(mail):
    sock, f = raw(mail)
    for cmd, want in [(b"MAIL FROM:<a@remote.test>", b"503 5.5.1"),
                      (b"HELO c", b"250"),
                      (b"RCPT TO:<alice@example.test>", b"503 5.5.1"),
                      (b"DATA", b"503 5.5.1"),
                      (b"MAIL FROM:<a@remote.test>", b"250"),
                      (b"DATA", b"554 5.5.1"),
                      (b"RSET", b"250"),
                      (b"MAIL FROM:<a@remote.test> SIZE=10", b"555"),
                      (b"QUIT", b"221")]:
        sock.sendall(cmd + b"\r\n")
        reply = read_reply(f)
        assert reply.startswith(want), (cmd, reply)
    sock.close()

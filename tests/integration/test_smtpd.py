"""smtpd: the SMTP receiver in mx and submission mode, with real clients
(smtplib, swaks, curl) over loopback, and the queue files it writes."""

import base64
import re
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


def start_smtpd(make_instance, certs, **params):
    """A started instance with smtpd, provisioned; params override."""
    inst = make_instance(services=mailutil.smtpd_services())
    inst.params.update(mailutil.base_params(inst, certs))
    inst.params.update(params)
    inst.write_main_conf()
    mailutil.provision(inst)
    inst.start()
    inst.certs = certs
    return inst


@pytest.fixture
def mail(make_instance, certs):
    return start_smtpd(make_instance, certs)


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
    inst = start_smtpd(make_instance, certs, message_size_limit="2k")
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


def test_junk_after_mail_path_is_freed(make_instance, certs):
    """A path followed by junk instead of a space is a 501, and the path
    parsed before the junk is freed, so a reused smtpd does not grow
    (found by tests/fuzz/fuzz_smtpd).  With max_use = 1 the process
    exits normally after the session and LeakSanitizer reports."""
    inst = start_smtpd(make_instance, certs, max_use="1")
    sock, f = raw(inst)
    sock.sendall(b"EHLO c\r\n")
    read_reply(f)
    for cmd in [b"MAIL FROM:<a@remote.test>junk",
                b"MAIL FROM:<@a,@b:c@remote.test>x",
                b"MAIL FROM:<a@remote.test>",
                b"RCPT TO:<alice@example.test>x"]:
        sock.sendall(cmd + b"\r\n")
        reply = read_reply(f)
        want = b"250" if cmd.endswith(b">") else b"501 5.5.4"
        assert reply.startswith(want), (cmd, reply)
    sock.sendall(b"QUIT\r\n")
    read_reply(f)
    sock.close()
    harness.wait_for(lambda: not smtpd_pids(inst), timeout=10,
                     what="smtpd to exit after its one session")
    inst.stop()
    log = inst.log()
    for marker in ("runtime error:", "AddressSanitizer", "LeakSanitizer"):
        assert marker not in log, log[-3000:]


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


# -- TLS and AUTH ------------------------------------------------------------

def plain(user, password):
    return base64.b64encode(b"\0" + user.encode() + b"\0"
                            + password.encode()).decode()


def test_submission_auth_refused_before_tls(mail):
    s = connect(mail, "submission")
    s.ehlo("client.test")
    assert s.has_extn("starttls")
    assert not s.has_extn("auth")
    code, text = s.docmd("AUTH", "PLAIN " + plain("alice@example.test",
                                                    mailutil.PASSWORD))
    assert code == 538 and b"5.7.11" in text
    code, text = s.mail("alice@example.test")
    assert code == 530 and b"5.7.0" in text
    s.quit()


def test_starttls_then_auth_then_send(mail):
    s = connect(mail, "submission")
    s.ehlo("client.test")
    s.starttls(context=tls_context(mail))
    s.ehlo("client.test")
    assert "PLAIN" in s.esmtp_features["auth"]
    assert "LOGIN" in s.esmtp_features["auth"]
    code, _ = s.login("alice@example.test", mailutil.PASSWORD)
    assert code == 235
    # Any destination, from an address the account owns (alternate too).
    assert s.mail("a.smith@example.test")[0] == 250
    assert s.rcpt("someone@far-away.test")[0] == 250
    assert s.rcpt("bob@example.test")[0] == 250
    code, text = s.rcpt("nobody@example.test")     # ours: still checked
    assert code == 550
    assert s.data(b"Subject: out\r\n\r\nhi\r\n")[0] == 250
    # Not the account's address: refused.
    code, text = s.mail("bob@example.test")
    assert code == 553 and b"5.7.1" in text
    s.quit()
    q = only_queue_file(mail)
    assert q["protocol"] == "ESMTPSA"
    assert q["auth_user"] == "alice@example.test"
    received, _ = mailutil.split_received(q["message"])
    assert b"with ESMTPSA" in received
    assert re.search(rb"\(using TLSv1\.[23] with cipher \S+ \(\d+ bits\)\)",
                     received), received


def test_auth_login_and_failures(mail):
    s = connect(mail, "submission")
    s.ehlo("client.test")
    s.starttls(context=tls_context(mail))
    s.ehlo("client.test")
    for _ in range(2):
        code, text = s.docmd("AUTH", "PLAIN " + plain("alice@example.test",
                                                        "wrong"))
        assert code == 535 and b"5.7.8" in text
    code, text = s.docmd("AUTH", "PLAIN " + plain("alice@example.test",
                                                    "wrong"))
    assert code == 535
    # auth_failure_limit (3) reached: the server said 421 and hung up.
    with pytest.raises(smtplib.SMTPServerDisconnected):
        s.noop()
        s.noop()
    # AUTH LOGIN works, and suspended/disabled accounts cannot log in.
    s = connect(mail, "submission")
    s.ehlo("c")
    s.starttls(context=tls_context(mail))
    s.ehlo("c")
    code, text = s.docmd("AUTH", "LOGIN")
    assert code == 334 and base64.b64decode(text) == b"Username:"
    code, text = s.docmd(base64.b64encode(b"bob@example.test").decode())
    assert code == 334 and base64.b64decode(text) == b"Password:"
    code, _ = s.docmd(base64.b64encode(mailutil.PASSWORD.encode()).decode())
    assert code == 235
    s.quit()
    for user in ("dave@example.test", "carol@example.test"):
        s = connect(mail, "submission")
        s.ehlo("c")
        s.starttls(context=tls_context(mail))
        s.ehlo("c")
        code, _ = s.docmd("AUTH", "PLAIN " + plain(user, mailutil.PASSWORD))
        assert code == 535, user
        s.close()


def test_auth_malformed(mail):
    s = connect(mail, "submission")
    s.ehlo("client.test")
    s.starttls(context=tls_context(mail))
    s.ehlo("client.test")
    for arg, want in [("PLAIN !!!notbase64", 501),
                      ("PLAIN " + base64.b64encode(b"no-nuls").decode(), 501),
                      ("CRAM-MD5", 504),
                      ("PLAIN " + base64.b64encode(
                          b"bob@example.test\0alice@example.test\0"
                          + mailutil.PASSWORD.encode()).decode(), 535)]:
        code, _ = s.docmd("AUTH", arg)
        assert code == want, (arg, code)
    code, _ = s.docmd("AUTH", "PLAIN")
    assert code == 334
    code, _ = s.docmd("*")
    assert code == 501
    s.quit()


def test_starttls_discards_pipelined_plaintext(mail):
    """RFC 3207: commands sent with STARTTLS before the handshake must not
    be executed after it (the STARTTLS command injection attack)."""
    sock, f = raw(mail)
    sock.sendall(b"EHLO c\r\n")
    read_reply(f)
    sock.sendall(b"STARTTLS\r\nMAIL FROM:<injected@remote.test>\r\n")
    assert read_reply(f).startswith(b"220")
    ctx = tls_context(mail)
    tls = ctx.wrap_socket(sock, server_hostname="localhost")
    tf = tls.makefile("rb")
    tls.sendall(b"RCPT TO:<alice@example.test>\r\n")
    # No MAIL was accepted (and no EHLO either, the state was reset).
    reply = read_reply(tf)
    assert reply.startswith(b"503 5.5.1"), reply
    tls.sendall(b"EHLO c\r\n")
    assert b"250-STARTTLS" not in read_reply(tf)
    tls.close()


def test_implicit_tls(mail):
    ctx = tls_context(mail)
    s = smtplib.SMTP_SSL("127.0.0.1", mail.port("smtps"), context=ctx,
                         timeout=10)
    s.ehlo("client.test")
    assert not s.has_extn("starttls")
    assert "PLAIN" in s.esmtp_features["auth"]
    s.login("bob@example.test", mailutil.PASSWORD)
    s.sendmail("bob@example.test", ["alice@example.test"],
               b"Subject: via 465\r\n\r\nhi\r\n")
    s.quit()
    q = only_queue_file(mail)
    assert q["protocol"] == "ESMTPSA"


def test_tls_min_protocol(make_instance, certs):
    """TLS 1.2 is accepted by default; tls_min_protocol=TLSv1.3 refuses a
    client that stops at 1.2 (the client side is what we can vary)."""
    services = mailutil.smtpd_services()
    strict = harness.Service("smtps13", "smtpd/smtpd", options={
        "smtpd_mode": "submission", "tls_wrapper_mode": "yes",
        "tls_min_protocol": "TLSv1.3"})
    inst = make_instance(services=services + [strict])
    inst.params.update(mailutil.base_params(inst, certs))
    inst.write_main_conf()
    mailutil.provision(inst)
    inst.start()
    ctx = tlsutil.client_context(certs)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    s = smtplib.SMTP_SSL("127.0.0.1", inst.port("smtps"), context=ctx,
                         timeout=10)
    assert s.sock.version() == "TLSv1.2"
    s.quit()
    with pytest.raises((ssl.SSLError, ConnectionError)):
        smtplib.SMTP_SSL("127.0.0.1", inst.port("smtps13"), context=ctx,
                         timeout=10)
    ctx = tlsutil.client_context(certs)
    s = smtplib.SMTP_SSL("127.0.0.1", inst.port("smtps13"), context=ctx,
                         timeout=10)
    assert s.sock.version() == "TLSv1.3"
    s.quit()


def test_swaks_starttls_auth(mail):
    r = subprocess.run(
        ["swaks", "--server", "127.0.0.1", "--port",
         str(mail.port("submission")), "--tls", "--tls-verify",
         "--tls-ca-path", mail.certs["ca"], "--tls-sni", "localhost",
         "--auth", "PLAIN", "--auth-user", "alice@example.test",
         "--auth-password", mailutil.PASSWORD,
         "--from", "alice@example.test", "--to", "bob@example.test",
         "--header", "Subject: swaks", "--body", "from swaks"],
        capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "250 2.0.0 Ok: queued as" in r.stdout
    q = only_queue_file(mail)
    assert q["sender"] == "alice@example.test"
    assert b"from swaks" in q["message"]


def test_curl_smtp(mail, tmp_path):
    msg = tmp_path / "msg.eml"
    msg.write_bytes(b"Subject: curl\r\n\r\nsent with curl\r\n")
    r = subprocess.run(
        ["curl", "-sS", "--url", "smtp://127.0.0.1:%d" % mail.port("smtp"),
         "--mail-from", "x@remote.test", "--mail-rcpt", "bob@example.test",
         "--upload-file", str(msg)],
        capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    r = subprocess.run(
        ["curl", "-sS", "--url",
         "smtp://127.0.0.1:%d" % mail.port("submission"), "--ssl-reqd",
         "--cacert", mail.certs["ca"], "--user",
         "bob@example.test:" + mailutil.PASSWORD,
         "--mail-from", "bob@example.test", "--mail-rcpt", "far@away.test",
         "--upload-file", str(msg), "--resolve", "localhost:%d:127.0.0.1"
         % mail.port("submission")],
        capture_output=True, text=True, timeout=60)
    # --resolve only matters with a host name; 127.0.0.1 is in the cert.
    assert r.returncode == 0, r.stderr
    files = mailutil.queue_files(mail)
    assert len(files) == 2
    protos = sorted(mailutil.read_queue_file(p)["protocol"] for p in files)
    assert protos == ["ESMTP", "ESMTPSA"]


# -- byte-exactness, smuggling, chunking --------------------------------------

def send_raw_message(inst, payload, rcpt=b"alice@example.test"):
    sock, f = raw(inst)
    sock.sendall(b"EHLO c\r\nMAIL FROM:<a@remote.test>\r\nRCPT TO:<" + rcpt
                 + b">\r\nDATA\r\n")
    read_reply(f)
    read_reply(f)
    read_reply(f)
    assert read_reply(f).startswith(b"354")
    sock.sendall(payload)
    reply = read_reply(f)
    sock.sendall(b"QUIT\r\n")
    read_reply(f)
    sock.close()
    return reply


def test_smuggling_stays_inside(mail):
    payload = (b"Subject: smuggle\r\n\r\nfirst\n.\nMAIL FROM:<evil@x>\r\n"
               b"x\r.\rRCPT TO:<bob@example.test>\r\n"
               b"y\r\n.\nDATA\r\n"
               b"z\n.\r\nend\r\n.\r\n")
    reply = send_raw_message(mail, payload)
    assert reply.startswith(b"250 2.0.0"), reply
    q = only_queue_file(mail)
    _, rest = mailutil.split_received(q["message"])
    # Only a dot at the start of a CRLF line is stuffing: the one of the
    # line ".\nDATA" goes (RFC 5321 4.5.2); every bare CR and bare LF is
    # stored as CRLF (smtpd_forbid_bare_newline=normalize), the "."
    # lines that makes are content, dot-stuffed when relayed.
    want = (b"Subject: smuggle\r\n\r\nfirst\r\n.\r\nMAIL FROM:<evil@x>\r\n"
            b"x\r\n.\r\nRCPT TO:<bob@example.test>\r\n"
            b"y\r\n\r\nDATA\r\n"
            b"z\r\n.\r\nend\r\n")
    assert rest == want


def test_dot_stuffing_exact(mail):
    payload = (b"Subject: dots\r\n\r\n..\r\n...\r\n.x\r\n. \r\n"
               b"a.\r\n\r\n..\r\n.\r\n")
    want = b"Subject: dots\r\n\r\n.\r\n..\r\nx\r\n \r\na.\r\n\r\n.\r\n"
    assert send_raw_message(mail, payload).startswith(b"250")
    _, rest = mailutil.split_received(only_queue_file(mail)["message"])
    assert rest == want


def test_bdat_chunking(mail):
    sock, f = raw(mail)
    sock.sendall(b"EHLO c\r\nMAIL FROM:<a@remote.test>\r\n"
                 b"RCPT TO:<bob@example.test>\r\n")
    for _ in range(3):
        read_reply(f)
    part1 = b"Subject: bdat\r\n\r\n.not stuffed\r\n"
    part2 = b"\r\n.\r\nstill inside\r\n"
    sock.sendall(b"BDAT %d\r\n" % len(part1) + part1)
    assert read_reply(f).startswith(b"250 2.0.0")
    sock.sendall(b"BDAT %d LAST\r\n" % len(part2) + part2)
    assert read_reply(f).startswith(b"250 2.0.0 Ok: queued as")
    # BDAT without a transaction: the chunk is read and refused.
    sock.sendall(b"BDAT 5 LAST\r\nhello")
    assert read_reply(f).startswith(b"503")
    sock.sendall(b"QUIT\r\n")
    assert read_reply(f).startswith(b"221")
    sock.close()
    _, rest = mailutil.split_received(only_queue_file(mail)["message"])
    assert rest == part1 + part2


# -- bad input -----------------------------------------------------------------

def test_overlong_command_line(mail):
    sock, f = raw(mail)
    sock.sendall(b"EHLO " + b"a" * 5000 + b"\r\n")
    assert read_reply(f).startswith(b"500 5.5.2")
    sock.sendall(b"NOOP\r\n")
    assert read_reply(f).startswith(b"250")
    sock.close()


def test_overlong_data_line(mail):
    payload = b"Subject: long\r\n\r\n" + b"x" * 1200 + b"\r\n.\r\n"
    reply = send_raw_message(mail, payload)
    assert reply.startswith(b"554 5.6.0"), reply
    assert mailutil.queue_files(mail) == []


def test_garbage_without_crlf(mail):
    sock, f = raw(mail)
    chunk = os.urandom(1024 * 1024).replace(b"\n", b"x")
    for _ in range(10):
        sock.sendall(chunk)
    sock.sendall(b"\r\nNOOP\r\n")
    assert read_reply(f).startswith(b"500 5.5.2")
    assert read_reply(f).startswith(b"250")
    sock.close()
    assert mailutil.queue_files(mail) == []


def test_too_many_errors(mail):
    """smtpd_error_limit (20) bad commands: each gets 502, the 20th also
    421, then the server hangs up.  Exactly 20 are sent, in one write, so
    the server closes with nothing unread (no RST eating the replies)."""
    sock, f = raw(mail)
    sock.sendall(b"BOGUS\r\n" * 20)
    replies = b""
    sock.settimeout(10)
    while True:
        data = sock.recv(65536)
        if not data:
            break
        replies += data
    assert replies.endswith(b"Error: too many errors\r\n")
    assert b"421 4.7.0" in replies
    assert replies.count(b"502 5.5.2") == 20
    sock.close()


def test_disconnect_in_data_queues_nothing(mail):
    sock, f = raw(mail)
    sock.sendall(b"EHLO c\r\nMAIL FROM:<a@remote.test>\r\n"
                 b"RCPT TO:<alice@example.test>\r\nDATA\r\n")
    for _ in range(3):
        read_reply(f)
    assert read_reply(f).startswith(b"354")
    sock.sendall(b"Subject: cut\r\n\r\nhalf a message")
    sock.shutdown(socket.SHUT_RDWR)
    f.close()
    sock.close()
    time.sleep(0.5)
    assert mailutil.queue_files(mail) == []
    mail.wait_for(lambda: os.listdir(os.path.join(mail.queue_dir, "tmp"))
                  == [], what="tmp/ empty")


def test_idle_timeout(make_instance, certs):
    inst = start_smtpd(make_instance, certs, smtpd_timeout="1s")
    sock, f = raw(inst)
    time.sleep(1.5)
    assert read_reply(f).startswith(b"421 4.4.2")
    assert f.readline() == b""
    sock.close()


def test_directory_down_is_451(make_instance, certs):
    inst = make_instance(services=mailutil.smtpd_services())
    inst.params.update(mailutil.base_params(inst, certs))
    inst.write_main_conf()
    mailutil.provision(inst)
    # Point the routing directory at an LDAP server that is not there.
    inst.params.update({"route_backend": "ldap",
                        "ldap_server_uris": "ldap://127.0.0.1:%d"
                        % harness.free_port(),
                        "ldap_base_dn": "dc=example,dc=test",
                        "ldap_connect_timeout": "1s"})
    inst.start()
    inst.certs = certs
    s = connect(inst)
    s.ehlo("c")
    s.mail("a@remote.test")
    code, text = s.rcpt("alice@example.test")
    assert code == 451 and b"4.3.0" in text
    s.quit()
    s = connect(inst, "submission")
    s.ehlo("c")
    s.starttls(context=tls_context(inst))
    s.ehlo("c")
    code, _ = s.docmd("AUTH", "PLAIN " + plain("alice@example.test",
                                                mailutil.PASSWORD))
    assert code == 454
    s.quit()


# -- durability and concurrency ----------------------------------------------

def smtpd_pids(inst):
    pids = []
    for pid in inst.instance_pids():
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                if f.read().split(b"\0")[0].endswith(b"smtpd/smtpd"):
                    pids.append(pid)
        except OSError:
            pass
    return pids


def test_kill_after_250_leaves_valid_queue_file(mail):
    sock, f = raw(mail)
    body = b"Subject: durable\r\n\r\n" + b"line\r\n" * 5000
    sock.sendall(b"EHLO c\r\nMAIL FROM:<a@remote.test>\r\n"
                 b"RCPT TO:<alice@example.test>\r\nDATA\r\n")
    for _ in range(3):
        read_reply(f)
    assert read_reply(f).startswith(b"354")
    sock.sendall(body + b".\r\n")
    reply = read_reply(f)
    assert reply.startswith(b"250 2.0.0 Ok: queued as")
    for pid in smtpd_pids(mail):
        os.kill(pid, signal.SIGKILL)
    sock.close()
    q = only_queue_file(mail)
    assert q["id"] == reply.split()[-1].decode()
    _, rest = mailutil.split_received(q["message"])
    assert rest == body
    # ispmailctl reads it back as a valid file too.
    r = mail.ctl("queue", "list")
    assert r.returncode == 0, r.stderr
    assert q["id"] in r.stdout


def test_maxproc_sessions_all_served(make_instance, certs):
    inst = make_instance(services=mailutil.smtpd_services(maxproc=5))
    inst.params.update(mailutil.base_params(inst, certs))
    inst.write_main_conf()
    mailutil.provision(inst)
    inst.start()
    sessions = [connect(inst) for _ in range(5)]
    for s in sessions:
        s.ehlo("c")
    errors = []

    def send(s, i):
        try:
            s.sendmail("a@remote.test", ["bob@example.test"],
                       b"Subject: %d\r\n\r\nx\r\n" % i)
            s.quit()
        except Exception as e:      # noqa: BLE001 -- reported below
            errors.append(e)

    threads = [threading.Thread(target=send, args=(s, i))
               for i, s in enumerate(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert len(mailutil.queue_files(inst)) == 5

"""lmtpd: LMTP (RFC 2033) into Maildir++ on a store host.

A real master runs lmtpd on a loopback port with the file routing
backend; Python's smtplib.LMTP and raw sockets play the delivery agent.
Assertions look at what users rely on: the reply for every recipient and
the message files in the Maildir, byte for byte.
"""

import os
import re
import smtplib
import socket
import struct
import threading
import time

import pytest

import harness
from lmtpdutil import (DOMAIN, RawLMTP, ctl_ok, lmtp, lmtp_instance,
                       messages, store, tmp_files, transaction)

MAILBOXES = [
    ("alice",),
    ("bob",),
    ("small", "quota=1000"),
    ("sus", "state=suspended"),
    ("dis", "state=disabled"),
    ("far", "host=store2.example.test"),
]

BODY = (b"From: Sender <sender@remote.test>\r\n"
        b"To: alice@example.test\r\n"
        b"Subject: =?utf-8?q?caf=C3=A9?=\r\n"
        b"Message-ID: <m1@remote.test>\r\n"
        b"\r\n"
        b"Line one.\r\n"
        b".A line that starts with a dot.\r\n"
        b"..\r\n"
        b"8-bit: caf\xc3\xa9 \xff\r\n"
        b"Delivered-To: alice@example.test (in the body: no loop)\r\n"
        b"last line without much\r\n")


def trace(sender, mailbox):
    return ("Return-Path: <%s>\nDelivered-To: %s\n" % (sender, mailbox)
            ).encode()


def stored(body):
    return body.replace(b"\r\n", b"\n")


@pytest.fixture
def inst(make_instance):
    return lmtp_instance(make_instance, mailboxes=MAILBOXES, params={
        "lmtp_message_size_limit": "100k",
        "lmtp_recipient_limit": "4",
    })


def test_delivery_is_byte_exact_with_trace_headers(inst):
    client = lmtp(inst)
    assert client.has_extn("pipelining") and client.has_extn("8bitmime")
    assert client.has_extn("enhancedstatuscodes")
    assert client.esmtp_features["size"] == str(100 * 1024)
    assert client.has_extn("xfolder")
    rcpt, data = transaction(client, "sender@remote.test",
                             ["alice@example.test"], BODY)
    assert rcpt == [(250, b"2.1.5 <alice@example.test> Ok")]
    assert data[0][0] == 250 and data[0][1].startswith(b"2.0.0 ")
    client.quit()
    files = messages(inst, "alice")
    assert len(files) == 1
    name, content = next(iter(files.items()))
    assert content == trace("sender@remote.test", "alice@example.test") \
        + stored(BODY)
    assert re.search(r",S=%d," % len(content), name), name
    assert tmp_files(inst, "alice") == []
    # maildirsize counts it.
    with open(os.path.join(store(inst, "alice"), "maildirsize")) as f:
        lines = f.read().split("\n")
    assert sum(int(l.split()[0]) for l in lines[1:] if l) == len(content)
    inst.wait_for_log(r"to=<alice@example.test> .*status=delivered")


def test_unix_socket(make_instance):
    inst = lmtp_instance(make_instance, mailboxes=[("alice",)],
                         unix_socket="private/lmtpd")
    client = smtplib.LMTP(inst.sockaddr("lmtp")[1], timeout=10)
    assert client.ehlo("agent")[0] == 250
    rcpt, data = transaction(client, "s@remote.test",
                             ["alice@example.test"], BODY)
    assert data[0][0] == 250
    client.quit()
    assert list(messages(inst, "alice").values()) == [
        trace("s@remote.test", "alice@example.test") + stored(BODY)]


def test_lhlo_before_greeting_is_answered_with_it(make_instance):
    # smtpd's direct delivery sends LHLO with its connection: lmtpd
    # holds the greeting back to send it with the LHLO reply (strace
    # shows one sendto), first and in order.
    # One process: the second connection waits in the listen queue with
    # its LHLO while the first is served, so lmtpd finds it there.
    inst = lmtp_instance(make_instance, mailboxes=[("alice",)], maxproc=1)
    first = RawLMTP(inst)
    assert first.greeting[0] == 220
    early = socket.create_connection(("127.0.0.1", inst.port("lmtp")), 10)
    early.sendall(b"LHLO agent\r\nMAIL FROM:<s@remote.test>\r\n")
    assert first.command("QUIT")[0] == 221
    first.close()
    f = early.makefile("rb")
    assert f.readline().startswith(b"220 ")
    lhlo = [f.readline() for _ in range(8)]
    assert lhlo[0].startswith(b"250-") and lhlo[-1] == b"250 XFOLDER\r\n"
    assert f.readline().startswith(b"250 2.1.0")
    early.sendall(b"RCPT TO:<alice@example.test>\r\nDATA\r\n")
    assert f.readline().startswith(b"250 2.1.5")
    assert f.readline().startswith(b"354 ")
    # The message and QUIT in one flight, as smtpd sends them.
    early.sendall(b"Subject: early\r\n\r\nhi\r\n.\r\nQUIT\r\n")
    assert f.readline().startswith(b"250 2.0.0 <alice@example.test>")
    assert f.readline().startswith(b"221 ")
    assert f.readline() == b""
    f.close()
    early.close()
    assert list(messages(inst, "alice").values()) == [
        trace("s@remote.test", "alice@example.test") +
        b"Subject: early\n\nhi\n"]


def test_null_sender_plus_address_and_suspended(inst):
    client = lmtp(inst)
    rcpt, data = transaction(client, "", ["Alice+news@Example.TEST",
                                          "sus@example.test"], BODY)
    assert [c for c, _ in rcpt] == [250, 250]
    assert [c for c, _ in data] == [250, 250]
    assert b"<Alice+news@Example.TEST>" in data[0][1]
    client.quit()
    (content,) = messages(inst, "alice").values()
    assert content.startswith(trace("", "alice@example.test"))
    (content,) = messages(inst, "sus").values()
    assert content.startswith(trace("", "sus@example.test"))


def test_mixed_recipients_get_independent_answers(inst):
    client = lmtp(inst)
    looped = (b"Delivered-To: bob@example.test\r\n" + BODY +
              b"p" * 1000 + b"\r\n")
    rcpt, data = transaction(client, "s@remote.test", [
        "alice@example.test", "nobody@example.test", "dis@example.test",
        "far@example.test", "bob@example.test", "small@example.test"],
        looped)
    codes = [c for c, _ in rcpt]
    # The recipient limit (4) counts accepted recipients.
    assert codes == [250, 550, 550, 451, 250, 250], rcpt
    assert rcpt[1][1].startswith(b"5.1.1 <nobody@example.test>")
    assert rcpt[2][1].startswith(b"5.2.1 <dis@example.test>")
    assert rcpt[3][1].startswith(b"4.3.0 <far@example.test>")
    # DATA: alice delivered, bob looped, small over quota (1000 bytes).
    assert [c for c, _ in data] == [250, 554, 552], data
    assert data[1][1].startswith(b"5.4.6 <bob@example.test>")
    assert data[2][1].startswith(b"5.2.2 <small@example.test>")
    client.quit()
    assert len(messages(inst, "alice")) == 1
    assert messages(inst, "bob") == {}
    assert messages(inst, "small") == {}
    assert messages(inst, "dis") == {}
    inst.wait_for_log(r"mailbox is on store2.example.test")


def test_recipient_limit(inst):
    client = lmtp(inst)
    client.mail("s@remote.test")
    for _ in range(4):
        assert client.rcpt("alice@example.test")[0] == 250
    code, text = client.rcpt("bob@example.test")
    assert (code, text[:5]) == (452, b"4.5.3")
    client.quit()


def test_xfolder(inst):
    client = lmtp(inst)
    rcpt, data = transaction(client, "s@remote.test", ["alice@example.test"],
                             BODY, rcpt_options=["XFOLDER=Junk"])
    assert data[0][0] == 250 and b"Junk" in data[0][1]
    rcpt, data = transaction(client, "s@remote.test", ["bob@example.test"],
                             BODY, rcpt_options=["XFOLDER=Nonexistent"])
    assert data[0][0] == 250 and b"INBOX" in data[0][1]
    rcpt, data = transaction(client, "s@remote.test", ["bob@example.test"],
                             BODY, rcpt_options=["XFOLDER=../../etc"])
    assert data[0][0] == 250 and b"INBOX" in data[0][1]
    code, text = client.mail("s@remote.test")
    assert client.rcpt("bob@example.test", ["XFOLDER"])[0] == 555
    assert client.rcpt("bob@example.test", ["NOTIFY=NEVER"])[0] == 555
    client.quit()
    assert messages(inst, "alice") == {}
    assert len(messages(inst, "alice", "Junk")) == 1
    assert len(messages(inst, "bob")) == 2
    inst.wait_for_log(r"folder Nonexistent does not exist, delivering to "
                      r"INBOX")
    inst.wait_for_log(r"malformed folder name")


@pytest.mark.parametrize("permanent,code,status", [
    ("yes", 552, b"5.2.2"), ("no", 452, b"4.2.2")])
def test_quota_full(make_instance, permanent, code, status):
    inst = lmtp_instance(make_instance, mailboxes=[("small", "quota=1000")],
                         params={"lmtp_quota_full_permanent": permanent})
    client = lmtp(inst)
    # Too big for the room left: refused after DATA.
    rcpt, data = transaction(client, "s@remote.test", ["small@example.test"],
                             BODY + b"x" * 1000 + b"\r\n")
    assert rcpt[0][0] == 250
    assert (data[0][0], data[0][1][:5]) == (code, status)
    # SIZE says too much: refused at RCPT.
    client.mail("s@remote.test", ["SIZE=2000"])
    assert client.rcpt("small@example.test")[0] == code
    client.rset()
    # A message that fits goes in.
    rcpt, data = transaction(client, "s@remote.test", ["small@example.test"],
                             BODY)
    assert data[0][0] == 250
    # Fill the mailbox behind lmtpd's back and lose maildirsize: it is
    # counted again (under the dot-lock) and the mailbox is full at RCPT.
    new = os.path.join(store(inst, "small"), "new")
    with open(os.path.join(new, "1.M1P1.host,S=1000"), "wb") as f:
        f.write(b"x" * 1000)
    os.unlink(os.path.join(store(inst, "small"), "maildirsize"))
    client.mail("s@remote.test")
    code2, text = client.rcpt("small@example.test")
    assert (code2, text[:5]) == (code, status)
    client.quit()
    assert len(messages(inst, "small")) == 2
    assert not os.path.exists(os.path.join(store(inst, "small"),
                                           "maildirsize.lock"))


def test_quota_checked_again_at_data_after_maildirsize_changed(
        make_instance):
    # RCPT reads maildirsize and DATA reuses it only while stat(2) finds
    # the very same file: what happened in between must count.
    inst = lmtp_instance(make_instance, mailboxes=[("small", "quota=1000")])
    body = b"Subject: fill\r\n\r\n" + b"x" * 500 + b"\r\n"
    first = RawLMTP(inst)
    first.command("LHLO agent")
    assert first.command("MAIL FROM:<a@remote.test>")[0] == 250
    assert first.command("RCPT TO:<small@example.test>")[0] == 250
    # Another connection delivers 500 bytes (an append) meanwhile.
    other = lmtp(inst)
    _, data = transaction(other, "b@remote.test", ["small@example.test"],
                          body)
    assert data[0][0] == 250
    other.quit()
    assert first.command("DATA")[0] == 354
    first.send(body + b".\r\n")
    code, text = first.reply()
    assert (code, text[0][:5]) == (552, "5.2.2"), text
    # A same-sized maildirsize renamed over the one RCPT read (what a
    # Maildir++ recalculation does) saying the mailbox is full.
    root = store(inst, "small")
    with open(os.path.join(root, "maildirsize"), "rb") as f:
        old = f.read()
    assert first.command("MAIL FROM:<a@remote.test>")[0] == 250
    assert first.command("RCPT TO:<small@example.test>")[0] == 250
    full = b"1000S\n" + b" " * (len(old) - 13) + b"1000 1\n"
    assert len(full) == len(old), (old, full)
    tmp = os.path.join(root, "tmp", "maildirsize.test")
    with open(tmp, "wb") as f:
        f.write(full)
    os.rename(tmp, os.path.join(root, "maildirsize"))
    assert first.command("DATA")[0] == 354
    first.send(b"Subject: small\r\n\r\nhi\r\n.\r\n")
    code, text = first.reply()
    assert (code, text[0][:5]) == (552, "5.2.2"), text
    first.command("QUIT")
    first.close()
    assert len(messages(inst, "small")) == 1


def test_stale_maildirsize_lock_is_broken(make_instance):
    inst = lmtp_instance(make_instance, mailboxes=[("alice",)], params={
        "lmtp_lock_stale_time": "1s", "lmtp_lock_timeout": "5s"})
    root = store(inst, "alice")
    lock = os.path.join(root, "maildirsize.lock")
    open(lock, "w").close()
    old = time.time() - 60
    os.utime(lock, (old, old))
    os.unlink(os.path.join(root, "maildirsize"))
    client = lmtp(inst)
    rcpt, data = transaction(client, "s@remote.test", ["alice@example.test"],
                             BODY)
    assert data[0][0] == 250
    client.quit()
    assert not os.path.exists(lock)
    inst.wait_for_log(r"broke stale lock .*maildirsize.lock")


def test_held_lock_times_out_with_tempfail(make_instance):
    inst = lmtp_instance(make_instance, mailboxes=[("alice",)], params={
        "lmtp_lock_stale_time": "1h", "lmtp_lock_timeout": "1s"})
    root = store(inst, "alice")
    open(os.path.join(root, "maildirsize.lock"), "w").close()
    os.unlink(os.path.join(root, "maildirsize"))
    client = lmtp(inst)
    client.mail("s@remote.test")
    code, text = client.rcpt("alice@example.test")
    assert (code, text[:5]) == (451, b"4.3.0")
    client.quit()
    inst.wait_for_log(r"maildirsize.lock: held for more than 1s")


def test_directory_down_file_backend(make_instance):
    inst = lmtp_instance(make_instance, mailboxes=[("alice",)], start=False)
    # A map that cannot be read (root reads any mode: use a directory).
    inst.params["route_file"] = os.path.join(inst.dir, "routes.d")
    os.mkdir(inst.params["route_file"])
    inst.start()
    client = lmtp(inst)
    client.mail("s@remote.test")
    code, text = client.rcpt("alice@example.test")
    assert (code, text[:5]) == (451, b"4.3.0"), text
    client.quit()


def test_directory_down_ldap_backend(make_instance):
    inst = lmtp_instance(make_instance, params={
        "route_backend": "ldap",
        "ldap_server_uris": "ldap://127.0.0.1:%d" % harness.free_port(),
        "ldap_connect_timeout": "1s", "ldap_search_timeout": "1s"})
    client = lmtp(inst)
    client.mail("s@remote.test")
    code, text = client.rcpt("alice@example.test")
    assert (code, text[:5]) == (451, b"4.3.0"), text
    client.quit()


def test_bad_input_gets_clear_replies(make_instance):
    inst = lmtp_instance(make_instance, mailboxes=[("alice",)], params={
        "lmtp_line_length_limit": "512", "lmtp_bad_command_limit": "20"})
    c = RawLMTP(inst)
    assert c.greeting == (220, ["store1.example.test LMTP ispmail ready"])
    assert c.command("MAIL FROM:<s@remote.test>")[0] == 503
    assert c.command("HELO agent")[0] == 500
    assert c.command("EHLO agent")[0] == 500
    assert c.command("LHLO")[0] == 501
    assert c.command("LHLO bad host!")[0] == 501
    code, lines = c.command("LHLO agent.example.test")
    assert code == 250 and lines[0] == "store1.example.test"
    assert c.command("RCPT TO:<alice@example.test>") == (
        503, ["5.5.1 Error: need MAIL command"])
    assert c.command("DATA") == (503, ["5.5.1 Error: need MAIL command"])
    assert c.command("MAIL FROM:s@remote.test")[0] == 501
    assert c.command("MAIL FROM:<bad address>")[0] == 501
    assert c.command("MAIL FROM:<s@remote.test> BODY=BINARYMIME")[0] == 555
    assert c.command("MAIL FROM:<s@remote.test> SIZE=999999999")[0] == 552
    assert c.command("MAIL FROM:<s@remote.test> SIZE=10 BODY=8BITMIME")[0] \
        == 250
    assert c.command("MAIL FROM:<s@remote.test>")[0] == 503
    assert c.command("DATA") == (503, ["5.5.1 Error: need RCPT command"])
    assert c.command("RCPT TO:<>")[0] == 501
    assert c.command("RCPT TO:<" + "a" * 600 + "@example.test>") == (
        500, ["5.5.2 Error: line too long"])
    assert c.command("NOOP")[0] == 250
    assert c.command("VRFY alice@example.test")[0] == 252
    assert c.command("X" * 10000) == (500, ["5.5.2 Error: line too long"])
    assert c.command("FOO") == (500, ["5.5.2 Error: command not recognized"])
    assert c.command("NO\0OP")[0] == 500
    assert c.command("NOOP x\ry") == (
        500, ["5.5.2 Error: control character in command"])
    assert c.command("RSET")[0] == 250
    # Still in step: a transaction works after all that.
    assert c.command("MAIL FROM:<s@remote.test>")[0] == 250
    assert c.command("RCPT TO:<alice@example.test>")[0] == 250
    assert c.command("DATA now")[0] == 501
    assert c.command("DATA")[0] == 354
    c.send(b"Subject: x\r\n\r\nok\r\n.\r\n")
    assert c.reply()[0] == 250
    # Errors so far: 19; the twentieth is answered, then the session ends.
    assert c.command("FOO")[0] == 500
    assert c.reply()[0] == 421
    assert c.line() == ""
    c.close()
    assert len(messages(inst, "alice")) == 1


def test_long_message_lines_and_size_limit(make_instance):
    inst = lmtp_instance(make_instance, mailboxes=[("alice",), ("bob",)],
                         params={"lmtp_message_line_limit": "998",
                                 "lmtp_message_size_limit": "10k"})
    c = RawLMTP(inst)
    c.command("LHLO agent")
    for body, code, status in [
            (b"Subject: x\r\n\r\n" + b"y" * 1200 + b"\r\n", 554, "5.6.0"),
            (b"Subject: x\r\n\r\n" + (b"z" * 900 + b"\r\n") * 20, 552,
             "5.3.4")]:
        c.command("MAIL FROM:<s@remote.test>")
        c.command("RCPT TO:<alice@example.test>")
        c.command("RCPT TO:<bob@example.test>")
        assert c.command("DATA")[0] == 354
        c.send(body + b".\r\n")
        for rcpt in ("alice", "bob"):
            reply = c.reply()
            assert reply[0] == code and reply[1][0].startswith(
                "%s <%s@example.test>" % (status, rcpt)), reply
    assert c.command("NOOP")[0] == 250
    c.close()
    assert messages(inst, "alice") == {} and messages(inst, "bob") == {}


def test_pipelined_transactions(inst):
    c = RawLMTP(inst)
    body = b"Subject: pipelined\r\n\r\nhello\r\n"
    c.send(b"LHLO agent\r\n"
           b"MAIL FROM:<a@remote.test>\r\n"
           b"RCPT TO:<alice@example.test>\r\n"
           b"RCPT TO:<nobody@example.test>\r\n"
           b"RCPT TO:<bob@example.test>\r\n"
           b"DATA\r\n")
    assert c.reply()[0] == 250          # LHLO
    assert [c.reply()[0] for _ in range(5)] == [250, 250, 550, 250, 354]
    # The message, a whole second transaction and QUIT in one write.
    c.send(body + b".\r\n"
           b"MAIL FROM:<b@remote.test>\r\n"
           b"RCPT TO:<bob@example.test> XFOLDER=Junk\r\n"
           b"DATA\r\n")
    assert [c.reply()[0] for _ in range(5)] == [250, 250, 250, 250, 354]
    c.send(body + b".\r\nQUIT\r\n")
    assert [c.reply()[0] for _ in range(2)] == [250, 221]
    c.close()
    assert list(messages(inst, "alice").values()) == [
        trace("a@remote.test", "alice@example.test") + stored(body)]
    assert len(messages(inst, "bob")) == 1
    assert list(messages(inst, "bob", "Junk").values()) == [
        trace("b@remote.test", "bob@example.test") + stored(body)]


def data_segments_in(sock):
    """Segments with data this socket has received (struct tcp_info's
    tcpi_data_segs_in, Linux 4.6)."""
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    assert len(info) >= 160
    return struct.unpack_from("I", info, 152)[0]


def test_last_reply_leaves_with_the_221_when_quit_is_pipelined(inst):
    # smtpd's direct delivery sends QUIT with the message: the last
    # recipient's 250 and the 221 leave in one segment.  Each earlier
    # recipient's reply still leaves as soon as it is delivered, and
    # without a pipelined QUIT the last one is not held back.
    c = RawLMTP(inst)
    body = b"Subject: quit\r\n\r\nhello\r\n"
    c.send(b"LHLO agent\r\nMAIL FROM:<a@remote.test>\r\n"
           b"RCPT TO:<alice@example.test>\r\n"
           b"RCPT TO:<bob@example.test>\r\nDATA\r\n")
    assert [c.reply()[0] for _ in range(5)] == [250, 250, 250, 250, 354]
    before = data_segments_in(c.sock)
    c.send(body + b".\r\nQUIT\r\n")
    assert [c.reply()[0] for _ in range(3)] == [250, 250, 221]
    assert c.reply()[0] is None         # closed after the 221
    assert data_segments_in(c.sock) - before == 2
    c.close()
    c = RawLMTP(inst)
    c.send(b"LHLO agent\r\nMAIL FROM:<a@remote.test>\r\n"
           b"RCPT TO:<alice@example.test>\r\nDATA\r\n")
    assert [c.reply()[0] for _ in range(4)] == [250, 250, 250, 354]
    c.send(body + b".\r\n")
    assert c.reply()[0] == 250          # before any QUIT
    assert c.command("QUIT")[0] == 221
    c.close()
    assert len(messages(inst, "alice")) == 2
    assert len(messages(inst, "bob")) == 1


def test_disconnect_mid_data_delivers_nothing(make_instance):
    # A small memory limit: the spool goes to a file, which must vanish.
    inst = lmtp_instance(make_instance, mailboxes=[("alice",)],
                         params={"lmtp_spool_memory_limit": "1k",
                                 "lmtp_temp_directory": "/tmp"})
    c = RawLMTP(inst)
    c.command("LHLO agent")
    c.command("MAIL FROM:<s@remote.test>")
    c.command("RCPT TO:<alice@example.test>")
    assert c.command("DATA")[0] == 354
    c.send(b"Subject: cut\r\n\r\n" + b"data line\r\n" * 1000)
    c.sock.shutdown(socket.SHUT_WR)
    assert c.line() == ""
    c.close()
    inst.wait_for_log(r"lost connection in DATA from 127.0.0.1: nothing "
                      r"delivered")
    assert messages(inst, "alice") == {}
    assert tmp_files(inst, "alice") == []
    # A large message through the file spool arrives whole.
    client = lmtp(inst)
    big = b"Subject: big\r\n\r\n" + (b"0123456789" * 100 + b"\r\n") * 200
    rcpt, data = transaction(client, "s@remote.test",
                             ["alice@example.test"], big)
    assert data[0][0] == 250
    client.quit()
    (content,) = messages(inst, "alice").values()
    assert content == trace("s@remote.test", "alice@example.test") + \
        stored(big)


def test_timeout(make_instance):
    inst = lmtp_instance(make_instance, params={"lmtp_timeout": "1s"})
    c = RawLMTP(inst)
    c.command("LHLO agent")
    started = time.monotonic()
    code, text = c.reply()
    assert code == 421 and "timeout" in text[0]
    assert time.monotonic() - started < 5
    c.close()


def test_stress_200_messages_10_connections_exactly_once(make_instance):
    boxes = ["u%d" % i for i in range(5)]
    inst = lmtp_instance(make_instance, maxproc=10,
                         mailboxes=[(b,) for b in boxes])
    errors = []

    def worker(n):
        try:
            client = lmtp(inst)
            for i in range(20):
                tag = "msg-%d-%d" % (n, i)
                rcpts = ["%s@example.test" % boxes[(n + i) % 5],
                         "%s@example.test" % boxes[(n + i + 1) % 5]]
                body = ("Subject: %s\r\nMessage-ID: <%s@test>\r\n\r\n%s\r\n"
                        % (tag, tag, "x" * (100 * i))).encode()
                rcpt, data = transaction(client, "s@remote.test", rcpts,
                                         body)
                if [c for c, _ in data] != [250, 250]:
                    errors.append((tag, rcpt, data))
            client.quit()
        except Exception as e:      # reported below, in the main thread
            errors.append((n, repr(e)))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    seen = {}
    for box in boxes:
        for content in messages(inst, box).values():
            tag = re.search(rb"Subject: (msg-\d+-\d+)", content).group(1)
            seen.setdefault(tag, []).append(box)
        with open(os.path.join(store(inst, box), "maildirsize")) as f:
            lines = f.read().split("\n")
        count = sum(int(l.split()[1]) for l in lines[1:] if l)
        assert count == len(messages(inst, box))
        assert tmp_files(inst, box) == []
    assert len(seen) == 200
    assert all(len(v) == 2 and v[0] != v[1] for v in seen.values())

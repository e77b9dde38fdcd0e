"""imapd under denial-of-service attempts: one client must not stall the
other sessions of its process (imap_client_limit above 1, maxproc 1, so
every session shares one process and one event loop)."""

import imaplib
import os
import re
import socket
import subprocess
import time

import harness
import tlsutil
from imapdutil import (PASSWORD, USER, Raw, deliver, login,
                       make_imap_instance, message)

# Generous against a slow sanitizer build; a stall is tls_handshake_timeout.
PROMPT = 3.0


def one_process_instance(make_instance, params=None, tls=None):
    """imap (and imaps with tls) served by one imapd process each."""
    p = {"imap_client_limit": "10"}
    p.update(params or {})
    extra = ()
    if tls is not None:
        extra = [harness.Service("imaps", "imapd/imapd", maxproc=1,
                                 options={"tls_wrapper_mode": "yes"})]
    return make_imap_instance(make_instance, params=p, tls=tls, maxproc=1,
                              services_extra=extra)


def timed_noop(client):
    t0 = time.monotonic()
    typ, _ = client.noop()
    assert typ == "OK"
    return time.monotonic() - t0


def assert_others_prompt(first, connect):
    """While a stalled client waits, the running session first and a new
    one (connect() returns it logged in) are answered promptly."""
    assert timed_noop(first) < PROMPT
    t0 = time.monotonic()
    second = connect()
    assert time.monotonic() - t0 < PROMPT
    assert timed_noop(second) < PROMPT
    for c in (first, second):
        c.logout()


def test_silent_implicit_tls_client_does_not_stall_others(make_instance):
    certs = tlsutil.make_certs()
    inst, _ = one_process_instance(make_instance, tls=certs, params={
        "tls_handshake_timeout": "30s"})
    ctx = tlsutil.client_context(certs)
    # The process runs and serves a first session.
    first = imaplib.IMAP4_SSL("127.0.0.1", inst.port("imaps"),
                              ssl_context=ctx, timeout=40)
    first.login(USER, PASSWORD)
    # A client that connects and never sends its ClientHello...
    silent = socket.create_connection(("127.0.0.1", inst.port("imaps")))
    time.sleep(0.5)

    # ...leaves the first session and a new handshake answered at once.
    def connect():
        c = imaplib.IMAP4_SSL("127.0.0.1", inst.port("imaps"),
                              ssl_context=ctx, timeout=40)
        c.login(USER, PASSWORD)
        return c
    assert_others_prompt(first, connect)
    silent.close()


def test_silent_starttls_client_does_not_stall_others(make_instance):
    certs = tlsutil.make_certs()
    inst, _ = one_process_instance(make_instance, tls=certs, params={
        "tls_handshake_timeout": "30s"})
    first = login(inst)
    # STARTTLS accepted, then not a byte of the handshake.
    silent = Raw(inst)
    assert silent.cmd("STARTTLS", "s1")[-1].startswith("s1 OK")
    time.sleep(0.5)
    assert_others_prompt(first, lambda: login(inst))
    silent.close()


def test_handshake_deadline_still_ends_a_silent_client(make_instance):
    certs = tlsutil.make_certs()
    inst, _ = one_process_instance(make_instance, tls=certs, params={
        "tls_handshake_timeout": "1s"})
    silent = socket.create_connection(("127.0.0.1", inst.port("imaps")),
                                      timeout=10)
    t0 = time.monotonic()
    assert silent.recv(100) == b""
    assert 0.8 < time.monotonic() - t0 < 8
    silent.close()
    assert "TLS handshake with 127.0.0.1 failed: TLS handshake: timeout" \
        in inst.log()


def send_ignoring_close(raw, data):
    """Send all of data; the server may hang up part way (BYE)."""
    try:
        raw.send(data)
    except OSError:
        pass


LITERAL_FLOOD = "a1 LOGIN" + " {0+}\r\n" * 37000 + "\r\n"


def flood_beside_a_session(inst):
    """Send LITERAL_FLOOD on one session while another of the same process
    must still answer NOOP promptly; returns (attacker, other, start)."""
    other = login(inst)
    attacker = Raw(inst)
    t0 = time.monotonic()
    send_ignoring_close(attacker, LITERAL_FLOOD)
    time.sleep(0.5)     # the flood is being read
    assert timed_noop(other) < PROMPT
    return attacker, other, t0


def test_literal_flood_is_capped_and_does_not_stall_others(make_instance):
    inst, _ = one_process_instance(make_instance, params={
        "imap_command_size_limit": "256k"})
    attacker, other, t0 = flood_beside_a_session(inst)
    # Past imap_argument_limit (1000) literals the client is told, and
    # as its LITERAL+ data comes anyway, disconnected.
    assert attacker.line() == "* BYE [LIMIT] Too many literals"
    assert time.monotonic() - t0 < PROMPT
    other.logout()


def test_literal_flood_parsed_in_linear_time(make_instance):
    # Without the cap in the way, 37,000 literals (256 KB) still cost
    # the process next to nothing: each line is looked at once.
    inst, _ = one_process_instance(make_instance, params={
        "imap_command_size_limit": "256k",
        "imap_argument_limit": "100000"})
    attacker, other, t0 = flood_beside_a_session(inst)
    line = attacker.line()
    assert line.startswith("a1 BAD"), line
    assert time.monotonic() - t0 < PROMPT
    other.logout()


def test_argument_cap_after_login(make_instance):
    inst, store = one_process_instance(make_instance)
    raw = Raw(inst)
    raw.login()
    raw.cmd("SELECT INBOX", "s")
    # SEARCH with more arguments than imap_argument_limit.
    reply = raw.cmd("SEARCH" + " ALL" * 1200, "x1")[-1]
    assert reply == "x1 BAD Error in IMAP command: Too many arguments", \
        reply
    # Under the cap, SEARCH works.
    assert raw.cmd("SEARCH" + " ALL" * 900, "x2")[-1].startswith("x2 OK")
    # APPEND's literals: a literal mailbox, then the message.
    msg = b"Subject: lit\r\n\r\nbody\r\n"
    raw.send(b"x3 APPEND {5+}\r\nINBOX {%d+}\r\n%s\r\n" % (len(msg), msg))
    assert raw.until_tagged("x3")[-1].startswith("x3 OK")
    # A synchronising literal past the cap is refused before it is sent.
    raw.send("x4 LOGIN" + " {0+}\r\n" * 1000 + " {1}\r\n")
    assert raw.line() == "x4 BAD [LIMIT] Too many literals"
    assert raw.cmd("NOOP", "x5")[-1].startswith("x5 OK")
    raw.close()


def fill_folder(folder_dir, count, uid_step=1):
    """count small messages straight into cur/ (Seen), with a UID list
    giving them UIDs 1, 1 + uid_step, ... (gaps as after expunges)."""
    bases = []
    for i in range(count):
        base = "1700000000.M%06dP1Q%d.filler" % (i, i)
        data = b"Subject: m%d\r\n\r\nbody %d\r\n" % (i, i)
        base += ",S=%d" % len(data)
        with open(os.path.join(folder_dir, "cur", base + ":2,S"),
                  "wb") as f:
            f.write(data)
        bases.append(base)
    uids = [1 + i * uid_step for i in range(count)]
    with open(os.path.join(folder_dir, "ispmail-uidlist"), "w") as f:
        f.write("ispmail-uidlist 1 1700000000 %d\n" % (uids[-1] + 1))
        for uid, base in zip(uids, bases):
            f.write("%d %s\n" % (uid, base))
    return uids


def uid_set(text):
    """The UIDs of a uid-set "1:3,7"."""
    out = []
    for part in text.split(","):
        low, _, high = part.partition(":")
        out.extend(range(int(low), int(high or low) + 1))
    return out


def start_on_20000(make_instance, command):
    """INBOX with 20,000 messages (UIDs 1, 3, 5, ...) and a Target folder:
    send command on one session, and check that another session of the
    process is answered meanwhile.  Returns (raw, other, src_uids)."""
    inst, store = one_process_instance(make_instance)
    src_uids = fill_folder(store, 20000, uid_step=2)
    raw = Raw(inst, timeout=300)
    raw.login()
    assert raw.cmd("CREATE Target", "c0")[-1].startswith("c0 OK")
    raw.cmd("SELECT INBOX", "s")
    other = login(inst)
    raw.send(command + "\r\n")
    time.sleep(0.3)
    assert timed_noop(other) < PROMPT
    return raw, other, src_uids


def test_copy_20000_messages(make_instance):
    t0 = time.monotonic()
    copier, other, src_uids = start_on_20000(make_instance,
                                             "c1 COPY 1:* Target")
    reply = copier.until_tagged("c1")[-1]
    took = time.monotonic() - t0
    m = re.match(r"c1 OK \[COPYUID (\d+) ([\d:,]+) ([\d:,]+)\] ", reply)
    assert m, reply[:200]
    assert uid_set(m.group(2)) == src_uids
    assert uid_set(m.group(3)) == list(range(1, 20001))
    typ, data = other.select("Target")
    assert data == [b"20000"]
    print("COPY of 20000 took %.1f s" % took)
    other.logout()
    copier.close()


def test_move_20000_messages(make_instance):
    mover, other, src_uids = start_on_20000(make_instance,
                                            "m1 MOVE 1:* Target")
    lines = mover.until_tagged("m1")
    assert lines[-1].startswith("m1 OK"), lines[-1]
    m = re.match(r"\* OK \[COPYUID (\d+) ([\d:,]+) ([\d:,]+)\] ", lines[0])
    assert m, lines[0][:200]
    assert uid_set(m.group(2)) == src_uids
    assert uid_set(m.group(3)) == list(range(1, 20001))
    assert lines[1:-1] == ["* %d EXPUNGE" % i for i in range(20000, 0, -1)]
    typ, data = other.select("Target")
    assert data == [b"20000"]
    other.logout()
    mover.close()


def test_copyuid_longer_than_the_reply_buffer(make_instance):
    # The tagged reply's buffer is imap_command_size_limit + 4 KB: a
    # COPYUID of 2,000 UIDs apart (about 10 KB) used to be dropped
    # there, leaving the client without its tagged OK.
    inst, store = one_process_instance(make_instance, params={
        "imap_command_size_limit": "1k"})
    src_uids = fill_folder(store, 2000, uid_step=2)
    c = login(inst)
    c.create("Target")
    c.select("INBOX")
    typ, data = c.copy("1:*", "Target")
    assert typ == "OK", data
    m = re.match(rb"\[COPYUID (\d+) ([\d:,]+) ([\d:,]+)\] Copy completed",
                 data[0])
    assert m, data[0][:200]
    assert uid_set(m.group(2).decode()) == src_uids
    assert uid_set(m.group(3).decode()) == list(range(1, 2001))
    c.logout()


def test_uidlist_lock_of_a_dead_process_is_broken_at_once(make_instance):
    """A holder of the folder's UID-list dot-lock killed with -9 leaves
    the lock behind; before, every session that found new mail waited 10
    s for it (all sessions of the process with it) and failed, for the 30
    s until the lock went stale.  A lock naming a process of this host
    that is gone is broken at once; a live holder's is left alone."""
    inst, store = one_process_instance(make_instance, params={
        "myhostname": "imap.test"})
    first = login(inst)
    assert first.select("INBOX")[0] == "OK"
    gone = subprocess.Popen(["true"])
    gone.wait()
    lock = os.path.join(store, "ispmail-uidlist.lock")
    with open(lock, "w") as f:
        f.write("%d imap.test\n" % gone.pid)
    deliver(store, message("after the crash"))
    t0 = time.monotonic()
    second = login(inst)
    typ, data = second.select("INBOX")
    assert typ == "OK", data
    assert int(data[0]) == 1
    assert time.monotonic() - t0 < PROMPT
    assert timed_noop(first) < PROMPT
    assert not os.path.exists(lock)
    assert "of a process that is gone" in inst.log()
    # A holder on another host (shared storage) keeps its lock: its pid
    # says nothing here.  (The session waits the 10 s lock wait.)
    with open(lock, "w") as f:
        f.write("%d other.test\n" % gone.pid)
    deliver(store, message("while locked"))
    third = login(inst)
    third.select("INBOX")
    assert os.path.exists(lock)
    third.logout()
    os.unlink(lock)
    second.logout()
    first.logout()

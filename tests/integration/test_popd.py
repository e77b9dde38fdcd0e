"""popd: POP3 over the Maildir++ store with real clients (poplib, curl,
fetchmail) over loopback: every command, STLS and implicit TLS, the
session lock, commits at QUIT only, stable UIDLs, a 10,000-message
mailbox, and bad input."""

import base64
import os
import poplib
import re
import signal
import socket
import ssl
import stat
import subprocess
import time

import pytest

import harness
import popdutil
import tlsutil
from popdutil import PASSWORD, crlf, deliver, new_mailbox, store_files


@pytest.fixture(scope="module")
def certs():
    return tlsutil.make_certs()


@pytest.fixture(scope="module")
def shared(certs):
    """One instance for the module; each test makes its own mailboxes."""
    inst = harness.Instance(popdutil.services(), popdutil.params(certs),
                            name="ispmail-popd")
    try:
        inst.write_main_conf()
        popdutil.provision(inst)
        inst.start()
        inst.certs = certs
        yield inst
    finally:
        inst.close()


@pytest.fixture
def inst(shared, request):
    # conftest attaches this instance's log to a failing test's report.
    request.node._ispmail_instances = [shared]
    return shared


def tls_ctx(inst):
    return tlsutil.client_context(inst.certs)


def pop_stls(inst, user=None):
    p = poplib.POP3("127.0.0.1", inst.port("pop3"), timeout=10)
    p.stls(context=tls_ctx(inst))
    if user is not None:
        p.user(user)
        p.pass_(PASSWORD)
    return p


def pop_ssl(inst, user=None):
    p = poplib.POP3_SSL("127.0.0.1", inst.port("pop3s"), timeout=10,
                        context=tls_ctx(inst))
    if user is not None:
        p.user(user)
        p.pass_(PASSWORD)
    return p


def pop_plain(inst, user=None, service="pop3p"):
    p = poplib.POP3("127.0.0.1", inst.port(service), timeout=10)
    if user is not None:
        p.user(user)
        p.pass_(PASSWORD)
    return p


def retr_bytes(p, n):
    """RETR n through poplib: the message with CRLF, dots unstuffed."""
    resp, lines, octets = p.retr(n)
    assert resp.startswith(b"+OK")
    return b"".join(line + b"\r\n" for line in lines)


def err(excinfo):
    return str(excinfo.value)


# -- capabilities, TLS and plaintext refusal -------------------------------

def test_capa_and_plaintext_refused_before_stls(inst):
    user, _store = new_mailbox(inst)
    p = poplib.POP3("127.0.0.1", inst.port("pop3"), timeout=10)
    assert p.getwelcome().startswith(b"+OK")
    caps = p.capa()
    for cap in ("TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING",
                "STLS", "IMPLEMENTATION"):
        assert cap in caps, cap
    assert "USER" not in caps and "SASL" not in caps
    with pytest.raises(poplib.error_proto) as e:
        p.user(user)
    assert "[AUTH]" in err(e)
    with pytest.raises(poplib.error_proto) as e:
        p._shortcmd("AUTH PLAIN " + base64.b64encode(
            b"\0" + user.encode() + b"\0" + PASSWORD.encode()).decode())
    assert "[AUTH]" in err(e)
    p.stls(context=tls_ctx(inst))
    caps = p.capa()
    assert "STLS" not in caps
    assert caps["SASL"] == ["PLAIN"]
    assert "USER" in caps
    p.user(user)
    assert p.pass_(PASSWORD).startswith(b"+OK")
    assert p.stat() == (0, 0)
    p.quit()


def test_implicit_tls_and_plaintext_listener(inst):
    user, store = new_mailbox(inst)
    deliver(store, b"Subject: one\n\nbody\n")
    p = pop_ssl(inst, user)
    assert p.stat() == (1, len(crlf(b"Subject: one\n\nbody\n")))
    assert "STLS" not in p.capa()
    p.quit()
    p = pop_plain(inst)
    caps = p.capa()
    assert "USER" in caps and caps["SASL"] == ["PLAIN"]
    p.user(user)
    p.pass_(PASSWORD)
    assert p.stat()[0] == 1
    p.quit()


def test_stls_discards_pipelined_plaintext(inst):
    user, _store = new_mailbox(inst)
    raw = popdutil.Raw(inst, "pop3", certs=inst.certs)
    # A command injected after STLS in the same packet must not survive.
    raw.send(b"STLS\r\nUSER " + user.encode())
    assert raw.readline().startswith(b"+OK")
    raw.file.close()
    raw._wrap()
    raw.file = raw.sock.makefile("rb")
    assert raw.command("PASS " + PASSWORD).startswith(b"-ERR")
    raw.close()


# -- logins -----------------------------------------------------------------

def test_auth_plain_with_and_without_initial_response(inst):
    user, _store = new_mailbox(inst)
    token = base64.b64encode(b"\0" + user.encode() + b"\0" +
                             PASSWORD.encode()).decode()
    raw = popdutil.Raw(inst, "pop3s", tls=True, certs=inst.certs)
    reply = raw.command("AUTH")
    assert reply.startswith(b"+OK")
    assert raw.multiline() == [b"PLAIN\r\n"]
    assert raw.command("AUTH LOGIN").startswith(b"-ERR")
    assert raw.command("AUTH PLAIN") == b"+ "
    assert raw.command("*").startswith(b"-ERR")
    assert raw.command("AUTH PLAIN") == b"+ "
    assert raw.command("not base64!").startswith(b"-ERR")
    assert raw.command("AUTH PLAIN") == b"+ "
    assert raw.command(token).startswith(b"+OK")
    assert raw.command("STAT") == b"+OK 0 0"
    assert raw.command("QUIT").startswith(b"+OK")
    raw.close()
    raw = popdutil.Raw(inst, "pop3s", tls=True, certs=inst.certs)
    assert raw.command("AUTH PLAIN " + token).startswith(b"+OK")
    raw.close()
    # Acting as someone else is refused.
    other = base64.b64encode(b"carol@example.test\0" + user.encode() +
                             b"\0" + PASSWORD.encode()).decode()
    raw = popdutil.Raw(inst, "pop3s", tls=True, certs=inst.certs)
    assert raw.command("AUTH PLAIN " + other).startswith(b"-ERR [AUTH]")
    raw.close()


def test_refused_logins(inst):
    user, _store = new_mailbox(inst)
    p = pop_stls(inst)
    p.user(user)
    with pytest.raises(poplib.error_proto) as e:
        p.pass_("wrong")
    assert "-ERR [AUTH]" in err(e)
    # A failed PASS needs a new USER.
    with pytest.raises(poplib.error_proto):
        p.pass_(PASSWORD)
    for who, why in (("carol@example.test", "disabled"),
                     ("dave@example.test", "suspended")):
        p.user(who)
        with pytest.raises(poplib.error_proto) as e:
            p.pass_(PASSWORD)
        assert "-ERR [AUTH]" in err(e) and why in err(e)
    # Transaction commands before a login.
    for cmd in ("STAT", "LIST", "RETR 1", "DELE 1", "UIDL", "NOOP"):
        with pytest.raises(poplib.error_proto):
            p._shortcmd(cmd)
    p.quit()
    assert "authentication failed for %s" % user in inst.log()


def test_failure_delay_and_limit(inst):
    user, _store = new_mailbox(inst)
    raw = popdutil.Raw(inst, "pop3t")
    raw.command("USER " + user)
    t0 = time.monotonic()
    assert raw.command("PASS nope").startswith(b"-ERR [AUTH]")
    assert time.monotonic() - t0 >= 0.9
    raw.command("USER " + user)
    reply = raw.command("PASS nope")
    assert reply.startswith(b"-ERR [AUTH]") and b"disconnecting" in reply
    assert raw.eof()
    raw.close()


def test_unknown_user_same_answer(inst):
    p = pop_stls(inst)
    p.user("nobody-here@example.test")
    with pytest.raises(poplib.error_proto) as e:
        p.pass_(PASSWORD)
    assert "[AUTH] Authentication failed" in err(e)
    p.quit()


def kept_hash_memory(pid):
    """The mappings of pid of 16 MiB or more whose pages are all lazily
    freed (MADV_FREE): [(size KiB, LazyFree KiB)]."""
    found, size = [], None
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            field = line.split()
            if field[0] == "Size:":
                size = int(field[1])
            elif field[0] == "LazyFree:" and size >= 16 * 1024 and \
                    int(field[1]) >= size - 4:
                found.append((size, int(field[1])))
    return found


def test_logins_in_one_process_share_the_hash_memory(inst):
    """One popd process, login after login: the yescrypt hash's 16 MiB
    are kept between logins (wiped, MADV_FREE) and every answer stays
    right: the right password, a wrong one, an unknown user, the right
    one again."""
    user, store = new_mailbox(inst)
    deliver(store, b"Subject: kept\n\nbody\n")
    answers = []
    for login, password in ((user, PASSWORD), (user, PASSWORD + "x"),
                            ("nobody-here@example.test", PASSWORD),
                            (user, PASSWORD[:-1]), (user, PASSWORD)):
        p = pop_plain(inst, service="pop3one")
        p.user(login)
        try:
            p.pass_(password)
            answers.append(retr_bytes(p, 1))
        except poplib.error_proto as e:
            assert "-ERR [AUTH] Authentication failed" in str(e)
            answers.append(None)
        p.quit()
    body = b"Subject: kept\r\n\r\nbody\r\n"
    assert answers == [body, None, None, None, body]
    pids = inst.service_pids("pop3one")
    assert len(pids) == 1, pids
    kept = kept_hash_memory(pids[0])
    assert len(kept) == 1, kept


def test_hash_memory_not_kept_when_switched_off(inst):
    """auth_hash_memory_keep=no: after a login the process keeps no
    lazily freed region of the hash's size (crypt(3) maps and unmaps it
    each time), and the login still works."""
    user, store = new_mailbox(inst)
    deliver(store, b"Subject: nokeep\n\nbody\n")
    for password in (PASSWORD, PASSWORD):
        p = pop_plain(inst, service="pop3nokeep")
        p.user(user)
        p.pass_(password)
        assert retr_bytes(p, 1) == b"Subject: nokeep\r\n\r\nbody\r\n"
        p.quit()
    pids = inst.service_pids("pop3nokeep")
    assert len(pids) == 1, pids
    assert kept_hash_memory(pids[0]) == []


# -- the commands -----------------------------------------------------------

MESSAGES = [
    b"From: a@remote.test\nSubject: plain\n\nline one\nline two\n",
    b"From: b@remote.test\nSubject: dots\n\n.leading dot\n..two dots\n.\n"
    b"end\n",
    b"From: c@remote.test\nSubject: no final newline\n\nlast line",
    b"Subject: only a header\n",
    b"Subject: crlf\r\n\r\nalready crlf\r\nbare\rcr\n",
]


def test_every_command(inst):
    user, store = new_mailbox(inst)
    names = [deliver(store, m) for m in MESSAGES]
    sizes = [len(crlf(m)) if not m.endswith(b"last line")
             else len(crlf(m)) - 2 for m in MESSAGES]
    p = pop_stls(inst, user)
    # new/ moved to cur/ at login; the names keep their base.
    files = store_files(store)
    assert files["new"] == []
    assert [popdutil.base(n) for n in files["cur"]] == names
    assert p.stat() == (len(MESSAGES), sum(sizes))
    resp, listing, _ = p.list()
    assert resp.startswith(b"+OK")
    assert listing == [b"%d %d" % (i + 1, s) for i, s in enumerate(sizes)]
    assert p.list(2) == b"+OK 2 %d" % sizes[1]
    resp, uidls, _ = p.uidl()
    assert uidls == [b"%d %s" % (i + 1, n.encode())
                     for i, n in enumerate(names)]
    assert p.uidl(3) == b"+OK 3 " + names[2].encode()
    for i, m in enumerate(MESSAGES):
        assert retr_bytes(p, i + 1) == crlf(m), i
    # RETR set the Seen flag.
    assert all(n.endswith(":2,S") for n in store_files(store)["cur"])
    # TOP 0, TOP n, TOP past the end of the body, TOP of a header only.
    resp, lines, _ = p.top(1, 0)
    assert lines == [b"From: a@remote.test", b"Subject: plain", b""]
    resp, lines, _ = p.top(1, 1)
    assert lines[-1] == b"line one"
    resp, lines, _ = p.top(2, 100)
    assert b"".join(x + b"\r\n" for x in lines) == crlf(MESSAGES[1])
    resp, lines, _ = p.top(4, 5)
    assert lines == [b"Subject: only a header"]
    assert p.noop().startswith(b"+OK")
    assert p.dele(2).startswith(b"+OK")
    assert p.stat() == (4, sum(sizes) - sizes[1])
    for cmd in ("RETR 2", "DELE 2", "LIST 2", "UIDL 2", "TOP 2 1"):
        with pytest.raises(poplib.error_proto) as e:
            p._shortcmd(cmd)
        assert "No such message" in err(e), cmd
    assert [x.split()[0] for x in p.list()[1]] == [b"1", b"3", b"4", b"5"]
    assert p.rset().startswith(b"+OK")
    assert p.stat() == (len(MESSAGES), sum(sizes))
    for cmd in ("RETR 0", "RETR 6", "RETR -1", "RETR x", "RETR", "LIST 1 2",
                "TOP 1", "TOP 1 x", "DELE", "USER x", "PASS y", "STLS"):
        with pytest.raises(poplib.error_proto):
            p._shortcmd(cmd)
    assert p.quit().startswith(b"+OK")
    assert len(store_files(store)["cur"]) == len(MESSAGES)


def test_pipelined_commands(inst):
    user, store = new_mailbox(inst)
    deliver(store, b"Subject: x\n\nbody\n")
    raw = popdutil.Raw(inst, "pop3p")
    raw.send("USER %s\r\nPASS %s\r\nSTAT\r\nRETR 1\r\nNOOP\r\nQUIT"
             % (user, PASSWORD))
    assert raw.readline() == b"+OK"
    assert raw.readline().startswith(b"+OK Logged in")
    assert raw.readline() == b"+OK 1 %d" % len(crlf(b"Subject: x\n\nbody\n"))
    assert raw.readline() == b"+OK"
    assert b"".join(raw.multiline()) == crlf(b"Subject: x\n\nbody\n")
    assert raw.readline() == b"+OK"
    assert raw.readline().startswith(b"+OK Bye")
    assert raw.eof()
    raw.close()


def test_big_message_streamed_byte_exact(inst):
    user, store = new_mailbox(inst)
    line = b".dotted line with some text to make it longer %06d\n"
    body = b"Subject: big\n\n" + b"".join(line % i for i in range(120000))
    deliver(store, body)
    p = pop_ssl(inst, user)
    assert p.list(1) == b"+OK 1 %d" % len(crlf(body))
    assert retr_bytes(p, 1) == crlf(body)
    p.quit()


# -- the session lock -------------------------------------------------------

def test_in_use_and_crash_releases_lock(inst):
    user, store = new_mailbox(inst)
    deliver(store, b"Subject: x\n\nbody\n")
    first = pop_stls(inst, user)
    second = pop_stls(inst)
    second.user(user)
    with pytest.raises(poplib.error_proto) as e:
        second.pass_(PASSWORD)
    assert "[IN-USE]" in err(e)
    first.quit()
    second.user(user)
    assert second.pass_(PASSWORD).startswith(b"+OK")
    second.dele(1)
    # The session's process dies: the kernel drops the lock, and nothing
    # marked is deleted.
    pid = popdutil.lock_holder(store)
    assert pid is not None and pid != os.getpid()
    os.kill(pid, signal.SIGKILL)
    harness.wait_for(lambda: popdutil.lock_holder(store) is None,
                     what="the lock to go with the process")
    second.close()
    third = pop_stls(inst, user)
    assert third.stat()[0] == 1
    third.quit()


# -- commits ----------------------------------------------------------------

def test_deletions_only_at_quit(inst):
    user, store = new_mailbox(inst, "quota=1000000")
    bodies = [b"Subject: %d\n\nbody %d\n" % (i, i) for i in range(4)]
    for b in bodies:
        deliver(store, b)
    # maildirsize exists (ispmailctl wrote it); let popd's commit show.
    size_file = os.path.join(store, "maildirsize")
    with open(size_file, "w") as f:
        f.write("1000000S,0C\n%d %d\n" % (sum(map(len, bodies)),
                                          len(bodies)))
    p = pop_stls(inst, user)
    p.dele(1)
    p.dele(2)
    # Dropped without QUIT: nothing goes.
    p.sock.shutdown(socket.SHUT_RDWR)
    p.close()
    harness.wait_for(lambda: popdutil.lock_holder(store) is None,
                     what="the dropped session to end")
    assert len(store_files(store)["cur"]) == 4
    p = pop_stls(inst, user)
    assert p.stat()[0] == 4
    p.dele(1)
    p.dele(3)
    p.rset()
    p.dele(2)
    p.dele(4)
    assert "2 messages deleted" in p.quit().decode()
    left = store_files(store)["cur"]
    assert len(left) == 2
    with open(size_file) as f:
        lines = f.read().splitlines()
    assert lines[-1] == "%d -2" % -(len(bodies[1]) + len(bodies[3]))
    p = pop_stls(inst, user)
    assert [retr_bytes(p, i) for i in (1, 2)] == [crlf(bodies[0]),
                                                  crlf(bodies[2])]
    p.quit()


def test_uidl_stable_while_new_mail_arrives(inst):
    user, store = new_mailbox(inst)
    for i in range(3):
        deliver(store, b"Subject: %d\n\nx\n" % i)
    p = pop_stls(inst, user)
    first = dict(x.split() for x in p.uidl()[1])
    p.retr(2)
    # Mail arriving during a session waits for the next one.
    late = deliver(store, b"Subject: late\n\ny\n")
    assert p.stat()[0] == 3
    assert dict(x.split() for x in p.uidl()[1]) == first
    p.dele(1)
    p.quit()
    p = pop_stls(inst, user)
    second = dict(x.split() for x in p.uidl()[1])
    assert list(second.values()) == [first[b"2"], first[b"3"],
                                     late.encode()]
    assert len(set(second.values())) == 3
    p.quit()
    # Flags set by another client (an IMAP session) keep the UIDL.
    cur = os.path.join(store, "cur")
    for name in os.listdir(cur):
        os.rename(os.path.join(cur, name),
                  os.path.join(cur, popdutil.base(name) + ":2,FRS"))
    p = pop_stls(inst, user)
    assert dict(x.split() for x in p.uidl()[1]) == second
    assert retr_bytes(p, 3) == crlf(b"Subject: late\n\ny\n")
    p.quit()


def sized_message(size, dot_at):
    """size bytes of LF text whose line at offset dot_at starts with a
    dot (stuffed on the wire)."""
    head = b"Subject: sized %d\n\n" % size
    body = bytearray(b"x" * (size - len(head)))
    for i in range(79, len(body), 80):
        body[i:i + 1] = b"\n"
    body[-1:] = b"\n"
    at = dot_at - len(head)
    body[at - 1:at + 1] = b"\n."
    return head + bytes(body)


def test_retr_across_read_chunks(inst):
    """popd reads a message in 64 KiB chunks and takes a short read as its
    end: sizes around one and two chunks, with a dot-stuffed line and a
    line end at the chunk boundary, arrive byte for byte."""
    user, store = new_mailbox(inst)
    chunk = 64 * 1024
    cases = [(chunk - 1, chunk - 40), (chunk, chunk - 1),
             (chunk + 1, chunk), (2 * chunk, chunk + 1),
             (2 * chunk + 7, 2 * chunk)]
    bodies = [sized_message(size, dot) for size, dot in cases]
    for body in bodies:
        deliver(store, body)
    p = pop_stls(inst, user)
    for n, body in enumerate(bodies, 1):
        assert len(body) == cases[n - 1][0]
        assert retr_bytes(p, n) == crlf(body), n
    # TOP stops inside the first chunk, and in the second.
    resp, lines, _ = p.top(4, 2)
    assert lines[-1] == b"x" * 79 and len(lines) == 4
    resp, lines, _ = p.top(4, 900)
    assert len(lines) == 2 + 900
    p.quit()


def test_renamed_during_session_still_retrieved(inst):
    user, store = new_mailbox(inst)
    deliver(store, b"Subject: r\n\nrenamed\n")
    p = pop_stls(inst, user)
    cur = os.path.join(store, "cur")
    (name,) = os.listdir(cur)
    os.rename(os.path.join(cur, name),
              os.path.join(cur, popdutil.base(name) + ":2,F"))
    assert retr_bytes(p, 1) == crlf(b"Subject: r\n\nrenamed\n")
    p.dele(1)
    p.quit()
    assert store_files(store) == {"new": [], "cur": []}


def test_ten_thousand_messages(inst):
    user, store = new_mailbox(inst)
    for i in range(10000):
        deliver(store, b"Subject: m%d\n\nbody %d\n" % (i, i))
    t0 = time.monotonic()
    p = pop_stls(inst, user)
    count, octets = p.stat()
    assert count == 10000
    listing = p.list()[1]
    assert len(listing) == 10000
    uidls = [x.split()[1] for x in p.uidl()[1]]
    assert len(set(uidls)) == 10000
    assert retr_bytes(p, 10000) == crlf(b"Subject: m9999\n\nbody 9999\n")
    assert retr_bytes(p, 1) == crlf(b"Subject: m0\n\nbody 0\n")
    p.dele(5000)
    p.quit()
    assert time.monotonic() - t0 < 30
    assert len(store_files(store)["cur"]) == 9999


# -- bad input and limits ---------------------------------------------------

def test_malformed_commands_and_long_lines(inst):
    user, store = new_mailbox(inst)
    deliver(store, b"Subject: x\n\nbody\n")
    raw = popdutil.Raw(inst, "pop3p")
    assert raw.command("USER " + user) == b"+OK"
    assert raw.command("PASS " + PASSWORD).startswith(b"+OK")
    for bad in (b"", b"XYZZY", b"RETR\x001", b" STAT", b"STAT\tx",
                b"\xff\xfe", b"LIST " + b"9" * 50):
        assert raw.command(bad).startswith(b"-ERR"), bad
    assert raw.command(b"STAT " + b"x" * 5000) == b"-ERR Line too long"
    # The session is still in step after all that.
    assert raw.command("STAT").startswith(b"+OK 1 ")
    assert raw.command("QUIT").startswith(b"+OK")
    raw.close()


def test_bad_command_limit_and_line_limit(inst):
    raw = popdutil.Raw(inst, "pop3t")
    assert raw.command("x" * 301) == b"-ERR Line too long"
    assert raw.command("x" * 299).startswith(b"-ERR")
    assert raw.command("FOO").startswith(b"-ERR")
    reply = raw.command("BAR")
    assert reply.startswith(b"-ERR")
    assert raw.readline().startswith(b"-ERR Too many bad commands")
    assert raw.eof()
    raw.close()


def test_idle_timeout_deletes_nothing(inst):
    user, store = new_mailbox(inst)
    deliver(store, b"Subject: x\n\nbody\n")
    raw = popdutil.Raw(inst, "pop3t")
    raw.command("USER " + user)
    assert raw.command("PASS " + PASSWORD).startswith(b"+OK")
    assert raw.command("DELE 1").startswith(b"+OK")
    t0 = time.monotonic()
    assert raw.readline().startswith(b"-ERR Autologout")
    assert 1 < time.monotonic() - t0 < 6
    assert raw.eof()
    raw.close()
    assert len(store_files(store)["cur"]) == 1


def test_login_delay(inst):
    user, store = new_mailbox(inst)
    raw = popdutil.Raw(inst, "pop3t")
    assert raw.command("CAPA").startswith(b"+OK")
    assert b"LOGIN-DELAY 60\r\n" in raw.multiline()
    raw.command("USER " + user)
    assert raw.command("PASS " + PASSWORD).startswith(b"+OK")
    assert raw.command("QUIT").startswith(b"+OK")
    raw.close()
    raw = popdutil.Raw(inst, "pop3t")
    raw.command("USER " + user)
    assert raw.command("PASS " + PASSWORD).startswith(b"-ERR [LOGIN-DELAY]")
    raw.close()


# -- real clients -----------------------------------------------------------

def curl(inst, *args):
    r = subprocess.run(["curl", "-sS", "--max-time", "20", "--cacert",
                        inst.certs["ca"], *args], capture_output=True,
                       timeout=30)
    assert r.returncode == 0, (args, r.stderr)
    return r.stdout


def test_curl_pop3_stls_and_pop3s(inst):
    user, store = new_mailbox(inst)
    bodies = [b"Subject: c1\n\n.dot\nbody one\n", b"Subject: c2\n\ntwo\n"]
    for b in bodies:
        deliver(store, b)
    cred = "%s:%s" % (user, PASSWORD)
    port, sport = inst.port("pop3"), inst.port("pop3s")
    # STLS, then USER/PASS or SASL as curl likes, then LIST.
    out = curl(inst, "--ssl-reqd", "-u", cred,
               "pop3://localhost:%d/" % port)
    assert out.splitlines() == [b"1 %d" % len(crlf(bodies[0])),
                                b"2 %d" % len(crlf(bodies[1]))]
    # curl unstuffs the dots; its output is the message with CRLF.
    assert curl(inst, "--ssl-reqd", "-u", cred,
                "pop3://localhost:%d/1" % port) == crlf(bodies[0])
    assert curl(inst, "--sasl-ir", "-u", cred,
                "pop3s://localhost:%d/2" % sport) == crlf(bodies[1])
    # UIDL and TOP as custom requests (-X), DELE with --request and -I.
    out = curl(inst, "-u", cred, "-X", "UIDL",
               "pop3s://localhost:%d/" % sport)
    assert len(out.splitlines()) == 2
    out = curl(inst, "-u", cred, "-X", "TOP 1 0",
               "pop3s://localhost:%d/" % sport)
    assert out == b"Subject: c1\r\n\r\n"
    curl(inst, "-u", cred, "-X", "DELE", "-I",
         "pop3s://localhost:%d/1" % sport)
    assert len(store_files(store)["cur"]) == 1
    # Without TLS the login is refused: curl fails.
    r = subprocess.run(["curl", "-sS", "--max-time", "10", "-u", cred,
                        "pop3://localhost:%d/" % port],
                       capture_output=True, timeout=30)
    assert r.returncode != 0
    # The plaintext listener takes it.
    out = curl(inst, "-u", cred, "pop3://localhost:%d/1"
               % inst.port("pop3p"))
    assert out == crlf(bodies[1])


MDA = """import os, sys
d = sys.argv[1]
n = len(os.listdir(d))
with open(os.path.join(d, "%05d" % n), "wb") as f:
    f.write(sys.stdin.buffer.read())
"""


def test_fetchmail_over_stls(inst, tmp_path):
    user, store = new_mailbox(inst)
    bodies = [b"From: x@remote.test\nTo: %s\nSubject: f%d\n"
              b"Message-ID: <f%d@remote.test>\n\n.dot line\nbody %d\n"
              % (user.encode(), i, i, i) for i in range(5)]
    for b in bodies:
        deliver(store, b)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    mda = tmp_path / "mda.py"
    mda.write_text(MDA)
    rc = tmp_path / "fetchmailrc"
    rc.write_text(
        'poll localhost service %d protocol POP3 auth password\n'
        '  user "%s" password "%s"\n'
        '  sslproto "tls1.2+" sslcertck sslcertfile "%s"\n'
        '  mda "/usr/bin/python3 %s %s"\n'
        % (inst.port("pop3"), user, PASSWORD, inst.certs["ca"], mda,
           out_dir))
    rc.chmod(stat.S_IRUSR | stat.S_IWUSR)
    env = dict(os.environ, HOME=str(tmp_path), FETCHMAILHOME=str(tmp_path))
    r = subprocess.run(["fetchmail", "-f", str(rc), "--nosyslog",
                        "--invisible", "-v", "--idfile",
                        str(tmp_path / "ids")],
                       capture_output=True, env=env, timeout=60)
    log = r.stdout.decode("utf-8", "replace") + r.stderr.decode(
        "utf-8", "replace")
    assert r.returncode == 0, log
    assert re.search(r"STLS", log), log
    got = [(out_dir / n).read_bytes() for n in sorted(os.listdir(out_dir))]
    assert got == bodies, log
    # fetchmail deleted what it fetched (DELE, then QUIT committed).
    assert store_files(store) == {"new": [], "cur": []}

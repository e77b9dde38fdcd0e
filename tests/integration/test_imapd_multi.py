"""imapd with several sessions per process, the default
(imap_client_limit 100): sessions that do not hold each other up, and
the busy/idle reports that make the master start another process only
when all are full.  test_imapd.py runs in this mode (the default);
test_imapd_single.py runs it again with a process per session."""

import ctypes
import os
import re
import socket
import subprocess
import threading
import time

from imapdutil import (PASSWORD, USER, Raw, deliver, login,
                       make_imap_instance, message)


# Generous against a slow sanitizer build on a loaded machine.
PROMPT = 3.0


def imapd_pids(inst):
    """Process ids of this instance's imapd processes."""
    out = subprocess.run(["pgrep", "-f", "imapd/imapd .*%s" % inst.dir],
                         capture_output=True, text=True).stdout.split()
    return sorted(int(p) for p in out)


def loop_wakeups(pid):
    """How often the main thread of process pid (imapd's loop) went to
    sleep and woke again (its voluntary context switches)."""
    with open("/proc/%d/task/%d/status" % (pid, pid)) as f:
        m = re.search(r"^voluntary_ctxt_switches:\s+(\d+)$", f.read(), re.M)
    return int(m.group(1))


def unread_by(port):
    """Bytes clients sent the local server on port that it has not read
    (Recv-Q of its side of the connections)."""
    out = subprocess.run(
        ["ss", "-tnH", "state", "established", "( sport = :%d )" % port],
        capture_output=True, text=True, check=True).stdout
    return sum(int(line.split()[0]) for line in out.splitlines()
               if line.strip())


def wait_for(condition, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for " + what
        time.sleep(0.02)


def slow_fetcher(inst, tag):
    """A client with a tiny receive window that logs in, selects INBOX
    and fetches message 1's body (tagged tag) without reading: the
    server's writes to it block, and its session waits, mid-body."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(30)
    sock.connect(("127.0.0.1", inst.port("imap")))
    sock.sendall(b'L LOGIN "%s" "%s"\r\ns SELECT INBOX\r\n'
                 b"%s FETCH 1 (BODY.PEEK[])\r\n" % (
                     USER.encode(), PASSWORD.encode(), tag.encode()))
    return sock


def test_sessions_share_a_process_and_do_not_block(make_instance):
    inst, store = make_imap_instance(make_instance, params={
        "imap_client_limit": "3"})
    deliver(store, message("one"))
    # A client that stops in the middle of a literal...
    slow = Raw(inst)
    assert slow.login()[-1].startswith("L OK")
    literal = b"From: x\r\nSubject: slow\r\n\r\nbody\r\n"
    slow.send("s1 APPEND INBOX {%d}\r\n" % len(literal))
    assert slow.line().startswith("+")
    slow.send(literal[:9])
    # ...and one that stops in the middle of a line...
    half = Raw(inst)
    half.send("h1 NOO")
    # ...do not hold up a third session of the same process.
    c = login(inst)
    t0 = time.monotonic()
    typ, data = c.select("INBOX")
    assert typ == "OK" and data == [b"1"], data
    typ, data = c.fetch("1", "(BODY.PEEK[])")
    assert typ == "OK" and b"Subject: one\r\n" in data[0][1], data
    assert time.monotonic() - t0 < 5
    assert len(imapd_pids(inst)) == 1, imapd_pids(inst)
    # The stalled ones finish their commands afterwards.
    half.send("P\r\n")
    assert half.until_tagged("h1")[-1].startswith("h1 OK")
    slow.send(literal[9:] + b"\r\n")
    assert "s1 OK" in slow.until_tagged("s1")[-1], slow.buf
    c.noop()
    typ, data = c.search(None, "SUBJECT", "slow")
    assert data == [b"2"], data
    for s in (slow, half):
        s.close()
    c.logout()


def test_idle_in_one_session_delivery_seen_by_another(make_instance):
    inst, store = make_imap_instance(make_instance, params={
        "imap_client_limit": "4"})
    idler = Raw(inst)
    idler.login()
    idler.cmd("SELECT INBOX", "s")
    idler.send("i1 IDLE\r\n")
    assert idler.line().startswith("+")
    other = login(inst)
    other.select("INBOX")
    typ, _ = other.append("INBOX", None, None,
                          message("appended").replace("\n", "\r\n").encode())
    assert typ == "OK"
    assert idler.line() == "* 1 EXISTS"
    idler.send("DONE\r\n")
    assert idler.until_tagged("i1")[-1].startswith("i1 OK")
    assert len(imapd_pids(inst)) == 1
    other.logout()
    idler.close()


def test_full_process_reports_busy_and_master_starts_another(
        make_instance):
    inst, store = make_imap_instance(make_instance, params={
        "imap_client_limit": "2"})
    conns = [login(inst) for _ in range(5)]
    for c in conns:
        assert c.noop()[0] == "OK"
    # Two sessions a process: three processes for five sessions.
    assert len(imapd_pids(inst)) == 3, imapd_pids(inst)
    for c in conns:
        c.logout()


def test_timeout_and_bad_commands_end_only_their_session(make_instance):
    inst, store = make_imap_instance(make_instance, params={
        "imap_client_limit": "4", "imap_timeout": "2s"})
    quiet = Raw(inst)
    busy = login(inst)
    for _ in range(4):
        time.sleep(0.8)
        assert busy.noop()[0] == "OK"
    assert quiet.closed()
    assert "BYE" in quiet.buf.decode()
    assert busy.noop()[0] == "OK"
    busy.logout()


def test_large_fetches_interleaved_stay_intact(make_instance):
    inst, store = make_imap_instance(make_instance, params={
        "imap_client_limit": "4"})
    # Bodies far beyond the socket buffers, each line naming its message.
    for tag in ("AAAA", "BBBB"):
        deliver(store, message(tag, body="".join(
            "%s line %06d\n" % (tag, i) for i in range(400000))))
    slow = slow_fetcher(inst, "f1")
    time.sleep(0.5)
    # Meanwhile another session of the process fetches message 2.
    c = login(inst)
    c.select("INBOX")
    typ, data = c.fetch("2", "(BODY.PEEK[])")
    body = data[0][1]
    assert typ == "OK" and b"AAAA" not in body, typ
    assert body.count(b"BBBB line") == 400000
    got = b""
    while b"\r\nf1 " not in got:
        chunk = slow.recv(1 << 20)
        assert chunk, got[-200:]
        got += chunk
    assert b"BBBB" not in got
    assert got.count(b"AAAA line") == 400000
    c.logout()
    slow.close()


def test_session_ending_in_its_first_run(make_instance):
    """Commands already waiting when the session starts can end it before
    it ever waits (here: the bad-command limit, pipelined with the
    connect).  The process must drop it, not resume it later."""
    inst, store = make_imap_instance(make_instance, params={
        "imap_client_limit": "4", "imap_bad_command_limit": "2"})
    for _ in range(20):
        sock = socket.create_connection(("127.0.0.1", inst.port("imap")),
                                        timeout=10)
        sock.sendall(b"a1 BOGUS\r\na2 BOGUS\r\n")
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        sock.close()
        assert b"* BYE" in data
    # The same processes still serve: no panic, no restart.
    imap = login(inst)
    imap.logout()
    assert "panic" not in inst.log()
    assert "killed by signal" not in inst.log()


def test_trimmed_idle_sessions_run_deep_commands(make_instance):
    """A session waiting for its next command gives its stack back down
    to one page below the waiting frame, and a login's crypt data is no
    longer left on the heap: sessions of one process that idled in turn
    then run deep commands (a nested MIME parse, a 2 MB literal, logins
    with their hashing) and every answer is intact."""
    inst, store = make_imap_instance(make_instance, params={
        "imap_client_limit": "4"})
    nested = "Content-Type: text/plain\r\n\r\ninnermost\r\n"
    for depth in range(12):
        nested = ("Content-Type: multipart/mixed; boundary=b%d\r\n\r\n"
                  "--b%d\r\n%s\r\n--b%d--\r\n" % (depth, depth, nested,
                                                  depth))
    deliver(store, "Subject: nested\r\n" + nested)
    sessions = [login(inst) for _ in range(3)]
    for c in sessions:
        assert c.select("INBOX")[0] == "OK"
    # Each waits (its stack trimmed) while the others run commands.
    for _ in range(3):
        for c in sessions:
            assert c.noop()[0] == "OK"
    a, b, c = sessions
    big = b"Subject: big\r\n\r\n" + b"".join(
        b"line %07d of the large literal\r\n" % i for i in range(64000))
    assert len(big) > 2 * 1024 * 1024
    typ, data = a.append("INBOX", None, None, big)
    assert typ == "OK", data
    typ, data = b.fetch("1", "(BODYSTRUCTURE)")
    assert typ == "OK" and data[0].count(b'"mixed"') == 12, data
    c.noop()
    typ, data = c.fetch("2", "(BODY.PEEK[])")
    assert typ == "OK" and data[0][1] == big
    # A fourth login in the same process, while the three idle.
    d = login(inst)
    typ, data = d.select("INBOX")
    assert typ == "OK" and data == [b"2"], data
    assert len(imapd_pids(inst)) == 1, imapd_pids(inst)
    for s in sessions + [d]:
        s.logout()


def timed_noop(client):
    t0 = time.monotonic()
    typ, _ = client.noop()
    assert typ == "OK"
    return time.monotonic() - t0


def test_default_shares_a_process(make_instance):
    """Without imap_client_limit in the configuration, sessions share an
    imapd process: the memory win needs no tuning."""
    inst, store = make_imap_instance(make_instance)
    conns = [login(inst) for _ in range(5)]
    for c in conns:
        assert c.noop()[0] == "OK"
    assert len(imapd_pids(inst)) == 1, imapd_pids(inst)
    for c in conns:
        c.logout()


def test_client_not_reading_big_fetch_does_not_hold_up_others(
        make_instance):
    """A client that asks for a large body and stops reading: its session
    waits to write; another session of the same process (the default
    limit, one process) selects, fetches and gets NOOPs answered at once,
    and a new login is served meanwhile."""
    inst, store = make_imap_instance(make_instance, maxproc=1)
    deliver(store, message("big", body="".join(
        "line %07d of a body far beyond the socket buffers\n" % i
        for i in range(200000))))
    deliver(store, message("small"))
    stalled = slow_fetcher(inst, "f")
    # Its login and select are answered, then its FETCH fills the pipe.
    got = b""
    while b"\r\ns OK" not in got:
        chunk = stalled.recv(4096)
        assert chunk, got
        got += chunk
    time.sleep(0.3)
    t0 = time.monotonic()
    other = login(inst)
    typ, data = other.select("INBOX")
    assert typ == "OK" and data == [b"2"], data
    typ, data = other.fetch("2", "(BODY.PEEK[])")
    assert typ == "OK" and b"Subject: small" in data[0][1], data
    assert time.monotonic() - t0 < PROMPT
    for _ in range(3):
        assert timed_noop(other) < PROMPT
    assert len(imapd_pids(inst)) == 1, imapd_pids(inst)
    # The stalled client gets its whole body once it reads again.
    while b"\r\nf OK" not in got:
        chunk = stalled.recv(1 << 20)
        assert chunk, got[-200:]
        got += chunk
    assert got.count(b"of a body far beyond") == 200000
    stalled.close()
    other.logout()


def test_login_and_noop_while_a_session_waits_for_the_folder_lock(
        make_instance):
    """A session that finds new mail while another process holds the
    folder's UID-list lock waits for it (up to 10 s); before, it waited
    in usleep() and every session of its process waited with it.  Now a
    NOOP of another session and a new login are answered at once, and the
    waiting SELECT completes when the holder lets go."""
    inst, store = make_imap_instance(make_instance, maxproc=1, params={
        "myhostname": "imap.test"})
    first = login(inst)    # not selected: its NOOP needs no lock
    lock = os.path.join(store, "ispmail-uidlist.lock")
    # A live holder on this host: this test's own process.
    with open(lock, "w") as f:
        f.write("%d imap.test\n" % os.getpid())
    deliver(store, message("while locked"))
    waiter = Raw(inst, timeout=30)
    assert waiter.login()[-1].startswith("L OK")
    waiter.send("s1 SELECT INBOX\r\n")
    time.sleep(0.5)
    assert timed_noop(first) < PROMPT
    t0 = time.monotonic()
    second = login(inst)
    assert second.capability()[0] == "OK"
    assert time.monotonic() - t0 < PROMPT
    assert os.path.exists(lock)
    os.unlink(lock)
    lines = waiter.until_tagged("s1")
    assert lines[-1].startswith("s1 OK"), lines
    assert "* 1 EXISTS" in lines, lines
    assert len(imapd_pids(inst)) == 1, imapd_pids(inst)
    waiter.close()
    second.logout()
    first.logout()


def test_password_hashing_does_not_hold_up_others(make_instance):
    """A login's password hash (yescrypt, tens of ms of CPU) runs off the
    event loop: while a storm of logins hashes, another session of the
    same process has its NOOPs answered in far less than one hash."""
    inst, store = make_imap_instance(make_instance, maxproc=1)
    busy = login(inst)
    # One login alone: its time is mostly the hash.
    one = []
    for _ in range(3):
        t0 = time.monotonic()
        login(inst).logout()
        one.append(time.monotonic() - t0)
    hash_time = min(one)
    stop = threading.Event()
    errors = []

    def storm():
        try:
            while not stop.is_set():
                login(inst).logout()
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append(e)

    threads = [threading.Thread(target=storm) for _ in range(6)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.3)
        latencies = [timed_noop(busy) for _ in range(20)]
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert not errors, errors
    # Hashing in the loop held the typical NOOP up for about a hash
    # (measured: 24 ms, one hash 22 ms); off the loop it waits for none
    # (0.1 ms; the threads' CPU competes with the loop only now and then).
    assert sorted(latencies)[len(latencies) // 2] < hash_time / 2, (
        latencies, one)
    assert len(imapd_pids(inst)) == 1, imapd_pids(inst)
    busy.logout()


def slow_hash(seconds):
    """A SHA-512 crypt setting that takes libxcrypt about seconds to
    hash (timed here at 100,000 rounds), with a hash nothing matches."""
    libcrypt = ctypes.CDLL("libcrypt.so.1")
    libcrypt.crypt.restype = ctypes.c_char_p
    libcrypt.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    t0 = time.monotonic()
    assert libcrypt.crypt(b"x", b"$6$rounds=100000$saltsalt$")
    rounds = int(100000 * seconds / max(time.monotonic() - t0, 0.001))
    return "$6$rounds=%d$saltsalt$%s" % (min(rounds, 999999999), "A" * 86)


QUEUED_HASHES = 30


def test_queued_hashes_wait_without_polling(make_instance):
    """Logins queued for a password-hash place (two hashes at a time)
    sleep until a place comes free for them: the loop does not wake
    every few ms while slow hashes hold both places, and every queued
    login is served once they end."""
    inst, store = make_imap_instance(make_instance, maxproc=1)
    slow = "slow@example.test"
    r = inst.ctl("mailbox", "add", slow, "--password-stdin",
                 input="whatever\n")
    assert r.returncode == 0, r.stderr
    routes = os.path.join(inst.config_dir, "routes")
    with open(routes) as f:
        text = f.read()
    text, n = re.subn(r"(mailbox %s .*?password=)\S+" % re.escape(slow),
                      lambda m: m.group(1) + slow_hash(12), text)
    assert n == 1, text
    with open(routes + ".new", "w") as f:
        f.write(text)
    os.rename(routes + ".new", routes)
    c = login(inst)
    [pid] = imapd_pids(inst)
    threads = len(os.listdir("/proc/%d/task" % pid))
    holders = []
    for i in range(2):
        holders.append(Raw(inst, timeout=120))
        holders[-1].send('h LOGIN "%s" "whatever"\r\n' % slow)
    # Both places hash the slow user's password, on threads of their own.
    wait_for(lambda: len(os.listdir("/proc/%d/task" % pid)) == threads + 2,
             "the two hash threads")
    queued = []
    for i in range(QUEUED_HASHES):
        queued.append(Raw(inst, timeout=120))
        queued[-1].send('q LOGIN "%s" "%s"\r\n' % (USER, PASSWORD))
    # imapd read every LOGIN: each session went to the hash queue.
    wait_for(lambda: unread_by(inst.port("imap")) == 0, "LOGINs read")
    wakeups0, t0 = loop_wakeups(pid), time.monotonic()
    time.sleep(2)
    wakeups, spent = loop_wakeups(pid) - wakeups0, time.monotonic() - t0
    still_hashing = len(os.listdir("/proc/%d/task" % pid)) == threads + 2
    assert still_hashing, "the slow hashes ended within the measurement"
    # Polling every 5 ms woke the loop 841 times in 2 s (ASan); waiting to
    # be woken, it sleeps (a few wakeups allowed for stragglers).
    assert wakeups < 10, (
        "imapd's loop woke %d times in %.1fs with %d logins queued for "
        "a hash" % (wakeups, spent, QUEUED_HASHES))
    assert c.noop()[0] == "OK"
    for one in holders:
        assert one.until_tagged("h")[-1].startswith("h NO"), "holder"
    for one in queued:
        assert one.until_tagged("q")[-1].startswith("q OK"), "queued"
    assert len(imapd_pids(inst)) == 1, imapd_pids(inst)
    c.logout()

"""Issue 16: the open sessions of a mailbox being moved end, so that
clients reconnect (through proxyd) to the new store host.  After
`ispmailctl mailbox set ADDR state=moving` every imapd session of that
mailbox (in IDLE, selected, authenticated; also several in one
multi-session process) gets "* BYE [UNAVAILABLE]" and every popd
session "-ERR [SYS/TEMP]" within mailbox_state_check_interval (1 s here)
plus the routing map's check, and the connection closes; other
mailboxes' sessions go on.  Real imapd, popd and proxyd on loopback."""

import socket
import time

import harness
from imapdutil import USER, PASSWORD, Raw, make_imap_instance
from proxydutil import CLIENT_ADDR, Env, PASSWORD as PROXY_PASSWORD
from proxydutil import Raw as ProxyRaw

OTHER = "carol@example.test"
OTHER_PASSWORD = "carol-secret"
# The state interval (1 s) and the routing map's check (0 s here): a
# session must have ended well within this.
DEADLINE = 6.0


def still_open(sock):
    """Nothing came and the connection is open (a short look)."""
    sock.settimeout(0.3)
    try:
        return sock.recv(65536) == b"" and False
    except socket.timeout:
        return True


def until_closed(sock, deadline):
    """Everything the server sends until it closes; fails past deadline."""
    data = b""
    sock.settimeout(0.5)
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk
    raise AssertionError("still open after the state change; got %r" % data)


def test_imapd_and_popd_sessions_end_when_moving(make_instance):
    # One imapd process serves every session (imap_client_limit 8).
    inst, _ = make_imap_instance(
        make_instance, maxproc=1,
        params={"imap_client_limit": "8",
                "mailbox_state_check_interval": "1s",
                "imap_idle_check_interval": "60s"},
        services_extra=[harness.Service("pop3", "popd/popd", maxproc=4)])
    r = inst.ctl("mailbox", "add", OTHER, "--password-stdin",
                 input=OTHER_PASSWORD + "\n")
    assert r.returncode == 0, r.stderr
    idle = Raw(inst)
    assert idle.login()[-1].startswith("L OK")
    assert idle.cmd("SELECT INBOX", "s")[-1].startswith("s OK")
    idle.send("i IDLE\r\n")
    assert idle.line().startswith("+ ")
    selected = Raw(inst)
    selected.login()
    assert selected.cmd("EXAMINE INBOX", "s")[-1].startswith("s OK")
    authed = Raw(inst)
    authed.login()
    other = Raw(inst)
    assert other.cmd('LOGIN "%s" "%s"' % (OTHER, OTHER_PASSWORD),
                     "L")[-1].startswith("L OK")
    pop = socket.create_connection(("127.0.0.1", inst.port("pop3")), 10)
    pop.sendall(("USER %s\r\nPASS %s\r\n" % (USER, PASSWORD)).encode())
    got = b""
    while got.count(b"\r\n") < 3:
        got += pop.recv(4096)
    assert got.splitlines()[2].startswith(b"+OK"), got
    # Nothing ends before the state changes.
    assert still_open(idle.sock) and still_open(authed.sock)
    r = inst.ctl("mailbox", "set", USER, "state=moving")
    assert r.returncode == 0, r.stderr
    deadline = time.monotonic() + DEADLINE
    for sess in (idle, selected, authed):
        data = sess.buf + until_closed(sess.sock, deadline)
        assert b"* BYE [UNAVAILABLE]" in data, data
    assert b"-ERR [SYS/TEMP]" in until_closed(pop, deadline)
    inst.wait_for_log(r"user=%s: mailbox is being moved, session ended"
                      % USER)
    # Another mailbox's session in the same process goes on.
    assert other.cmd("NOOP", "n")[-1] == "n OK Completed"
    other.cmd("LOGOUT", "o")


def test_idle_through_proxyd_gets_bye_and_proxy_closes(make_instance):
    env = Env(make_instance,
              store_params={"mailbox_state_check_interval": "1s",
                            "imap_idle_check_interval": "60s"})
    c = ProxyRaw.__new__(ProxyRaw)
    c.buf = b""
    c.sock = socket.create_connection(
        ("127.0.0.1", env.proxy.port("imapp")), 10,
        source_address=(CLIENT_ADDR, 0))
    assert c.line().startswith("* OK")
    c.send('L LOGIN "%s" "%s"\r\n' % (env.alice, PROXY_PASSWORD))
    assert c.until("L ")[-1].startswith("L OK")
    c.send("s SELECT INBOX\r\n")
    assert c.until("s ")[-1].startswith("s OK")
    c.send("i IDLE\r\n")
    assert c.line().startswith("+ ")
    # Bob's session on the other store is not affected.
    b = env.imap("imapp")
    assert b.login(env.bob, PROXY_PASSWORD)[0] == "OK"
    time.sleep(1.5)
    assert still_open(c.sock)
    c.sock.settimeout(10)
    # The move: the store host's directory (and the proxy's) says so.
    for inst in (env.store_a, env.proxy):
        r = inst.ctl("mailbox", "set", env.alice, "state=moving")
        assert r.returncode == 0, r.stderr
    start = time.monotonic()
    data = c.buf + until_closed(c.sock, start + DEADLINE)
    assert b"* BYE [UNAVAILABLE] Mailbox is being moved" in data, data
    assert time.monotonic() - start < DEADLINE
    assert b.noop()[0] == "OK"
    b.logout()
    # The client reconnects: the proxy refuses it temporarily meanwhile.
    c = env.imap("imapp")
    try:
        c.login(env.alice, PROXY_PASSWORD)
        raise AssertionError("login during the move succeeded")
    except c.error as e:
        assert "UNAVAILABLE" in str(e), e

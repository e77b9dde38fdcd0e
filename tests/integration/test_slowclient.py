"""Slow and idle clients (issue 12, finding 13): stress mode, short
pre-login timeouts, junk command limits, and anvil's per-client connection
count and rate limits, with real clients (smtplib, poplib, imaplib, raw
sockets) against smtpd, popd and imapd.  Every drop is counted by anvil per
service and reason: `ispmailctl status` shows it, and a kill -9 of the
daemon does not lose it."""

import imaplib
import os
import poplib
import re
import select
import signal
import smtplib
import socket
import time

import pytest

import harness
import imapdutil
import mailutil
import popdutil
import tlsutil


@pytest.fixture(scope="module")
def certs():
    return tlsutil.make_certs()


def start_smtpd(make_instance, certs, maxproc=4, options=None, params=None):
    inst = make_instance(services=mailutil.smtpd_services(
        maxproc=maxproc, options=options))
    inst.params.update(mailutil.base_params(inst, certs))
    inst.params.update(params or {})
    inst.write_main_conf()
    mailutil.provision(inst)
    inst.start()
    return inst


def start_popd(make_instance, certs, options=None, params=None, maxproc=4):
    svc = harness.Service("pop3", popdutil.POPD, maxproc=maxproc,
                          options=dict({"auth_allow_plaintext": "yes"},
                                       **(options or {})))
    inst = make_instance(services=[svc])
    inst.params.update(popdutil.params(certs))
    inst.params.update(params or {})
    inst.write_main_conf()
    popdutil.provision(inst)
    inst.start()
    return inst


def greeted(inst, service, expect=b"220 ", timeout=10):
    """A raw connection that has read its greeting."""
    sock = socket.create_connection(("127.0.0.1", inst.port(service)),
                                    timeout=timeout)
    f = sock.makefile("rb")
    line = f.readline()
    assert line.startswith(expect), line
    return sock, f


def closed_within(f, seconds):
    """Read until EOF; the lines read, and how long it took."""
    start = time.monotonic()
    lines = []
    while True:
        line = f.readline()
        if not line:
            return lines, time.monotonic() - start
        lines.append(line)
        assert time.monotonic() - start < seconds, lines


def drops(inst):
    """The last line of `ispmailctl status`, "drops: smtp timeout 2, ...",
    as {(service, reason): count}."""
    r = inst.ctl("status")
    assert r.returncode == 0, r.stderr
    line = r.stdout.splitlines()[-1]
    assert line.startswith("drops: "), r.stdout
    if line == "drops: none":
        return {}
    counts = {}
    for item in line[len("drops: "):].split(", "):
        service, reason, count = item.split(" ")
        counts[(service, reason)] = int(count)
    return counts


def daemon_pids(inst, program):
    """The live processes of program (e.g. b"smtpd/smtpd")."""
    pids = []
    for pid in inst.instance_pids():
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(program):
            pids.append(pid)
    return pids


def assert_drop_counted(inst, service, reason, count, program,
                        at_least=False):
    """`ispmailctl status` shows count drops of service for reason (or
    more, with at_least), and still does after every process of program
    is killed with SIGKILL."""
    def counted():
        n = drops(inst).get((service, reason), 0)
        return n >= count if at_least else n == count
    harness.wait_for(counted, 5, what="%s %s %d in ispmailctl status"
                     % (service, reason, count))
    pids = daemon_pids(inst, program)
    assert pids, "no %s process to kill" % program
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    harness.wait_for(lambda: not set(pids) & set(inst.instance_pids()), 5,
                     what="%s killed" % program)
    assert counted(), drops(inst)


SMTPD = b"smtpd/smtpd"
POPD = b"popd/popd"
IMAPD = b"imapd/imapd"


# -- stress mode -----------------------------------------------------------

def test_smtpd_stress_frees_slots_held_by_silent_clients(make_instance,
                                                         certs):
    """maxproc 2, two silent clients hold both processes: the master puts
    the service under stress, the silent ones meet smtpd_stress_timeout
    instead of smtpd_timeout (300s), and a third client is served within
    seconds."""
    inst = start_smtpd(make_instance, certs, maxproc=2,
                       params={"smtpd_stress_timeout": "2s"})
    silent = [greeted(inst, "smtp") for _ in range(2)]
    harness.wait_for(lambda: inst.service_status("smtp")["stress"] == 1,
                     5, what="stress mode on")
    start = time.monotonic()
    s = smtplib.SMTP("127.0.0.1", inst.port("smtp"), timeout=30)
    assert time.monotonic() - start < 10
    assert s.ehlo("client.test")[0] == 250
    s.quit()
    # The one dropped to make room got 421; with room again stress is
    # off and the other keeps its ordinary timeout.
    dropped = [f for sock, f in silent
               if select.select([sock], [], [], 0)[0]]
    assert dropped
    lines, _ = closed_within(dropped[0], 5)
    assert lines and lines[-1].startswith(b"421 4.4.2"), lines
    for sock, f in silent:
        sock.close()
    st = inst.service_status("smtp")
    assert st["stress_events"] >= 1
    harness.wait_for(lambda: inst.service_status("smtp")["stress"] == 0,
                     5, what="stress mode off")
    log = inst.log()
    assert "service smtp: stress mode on" in log
    assert "service smtp: stress mode off" in log
    assert "reason=stress_timeout" in log
    r = inst.ctl("status")
    assert r.returncode == 0, r.stderr
    assert "STRESS" in r.stdout
    assert_drop_counted(inst, "smtp", "stress_timeout", 1, SMTPD,
                        at_least=True)


def test_stress_shortens_a_read_already_waiting(make_instance, certs):
    """A client that went silent before stress began is still dropped by
    the stress timeout: its read picks the shorter deadline up."""
    inst = start_smtpd(make_instance, certs, maxproc=2,
                       params={"smtpd_stress_timeout": "3s"})
    first = greeted(inst, "smtp")
    time.sleep(4)       # longer than the stress timeout, before stress
    second = greeted(inst, "smtp")
    lines, took = closed_within(first[1], 5)
    assert lines and lines[-1].startswith(b"421 4.4.2"), lines
    first[0].close()
    second[0].close()


def test_no_stress_below_the_limit(make_instance, certs):
    """One silent client of two possible: no stress, it keeps its
    ordinary timeout."""
    inst = start_smtpd(make_instance, certs, maxproc=2,
                       params={"smtpd_stress_timeout": "1s"})
    sock, f = greeted(inst, "smtp")
    time.sleep(2.5)
    sock.sendall(b"NOOP\r\n")
    assert f.readline().startswith(b"250")
    assert inst.service_status("smtp")["stress"] == 0
    sock.close()


def test_popd_stress_timeout(make_instance, certs):
    inst = start_popd(make_instance, certs, maxproc=1,
                      params={"pop_stress_timeout": "2s"})
    sock, f = greeted(inst, "pop3", expect=b"+OK")
    lines, took = closed_within(f, 8)
    assert lines and lines[-1].startswith(b"-ERR"), lines
    sock.close()
    assert "reason=stress_timeout" in inst.log()
    assert_drop_counted(inst, "pop3", "stress_timeout", 1, POPD)


def test_imapd_multi_stress_timeout(make_instance):
    """imapd with several sessions a process: at maxproc 1 and its client
    limit, the sessions already waiting get the stress deadline."""
    inst, _ = imapdutil.make_imap_instance(
        make_instance, params={"imap_stress_timeout": "2s",
                               "imap_client_limit": "2"})
    inst.services[0].maxproc = 1
    inst.reload([inst.services[0]])
    conns = [greeted(inst, "imap", expect=b"* OK") for _ in range(2)]
    harness.wait_for(lambda: inst.service_status("imap")["stress"] == 1,
                     5, what="stress mode on")
    # The first dropped makes room, which ends stress for the other.
    ready = select.select([c[0] for c in conns], [], [], 8)[0]
    assert ready
    f = [c[1] for c in conns if c[0] is ready[0]][0]
    lines, _ = closed_within(f, 5)
    assert lines and lines[-1].startswith(b"* BYE"), lines
    for sock, f in conns:
        sock.close()
    assert_drop_counted(inst, "imap", "stress_timeout", 1, IMAPD,
                        at_least=True)


# -- pre-login timeouts ----------------------------------------------------

def test_pop_login_timeout(make_instance, certs):
    inst = start_popd(make_instance, certs,
                      params={"pop_login_timeout": "2s"})
    sock, f = greeted(inst, "pop3", expect=b"+OK")
    lines, took = closed_within(f, 8)
    assert lines and lines[-1].startswith(b"-ERR"), lines
    assert took >= 1.5
    assert "reason=login_timeout" in inst.log()
    sock.close()
    assert_drop_counted(inst, "pop3", "login_timeout", 1, POPD)


def pop_logged_in(inst):
    """A poplib client logged in to a new mailbox."""
    address, _ = popdutil.new_mailbox(inst)
    p = poplib.POP3("127.0.0.1", inst.port("pop3"), timeout=10)
    p.user(address)
    p.pass_(popdutil.PASSWORD)
    return p


def test_pop_command_timeout_after_login(make_instance, certs):
    """After login the RFC 1939 timeout applies, not the login one."""
    inst = start_popd(make_instance, certs,
                      params={"pop_login_timeout": "1s"})
    p = pop_logged_in(inst)
    time.sleep(2.5)
    assert p.noop().startswith(b"+OK")
    p.quit()


def test_pop_command_timeout_counted(make_instance, certs):
    inst = start_popd(make_instance, certs,
                      params={"pop_command_timeout": "2s"})
    p = pop_logged_in(inst)
    lines, _ = closed_within(p.file, 8)
    assert lines and lines[-1].startswith(b"-ERR"), lines
    p.close()
    assert "reason=command_timeout" in inst.log()
    assert_drop_counted(inst, "pop3", "command_timeout", 1, POPD)


def test_imap_login_timeout(make_instance):
    inst, _ = imapdutil.make_imap_instance(
        make_instance, params={"imap_login_timeout": "2s"})
    sock, f = greeted(inst, "imap", expect=b"* OK")
    lines, took = closed_within(f, 8)
    assert lines and lines[-1].startswith(b"* BYE"), lines
    assert took >= 1.5
    assert "reason=login_timeout" in inst.log()
    sock.close()
    assert_drop_counted(inst, "imap", "login_timeout", 1, IMAPD)


def test_imap_timeout_after_login(make_instance):
    inst, _ = imapdutil.make_imap_instance(
        make_instance, params={"imap_login_timeout": "1s"})
    m = imaplib.IMAP4("127.0.0.1", inst.port("imap"), timeout=10)
    m.login(imapdutil.USER, imapdutil.PASSWORD)
    time.sleep(2.5)
    assert m.noop()[0] == "OK"
    m.logout()
    assert drops(inst) == {}


def test_imap_idle_timeout_counted(make_instance):
    inst, _ = imapdutil.make_imap_instance(
        make_instance, params={"imap_timeout": "2s"})
    m = imaplib.IMAP4("127.0.0.1", inst.port("imap"), timeout=10)
    m.login(imapdutil.USER, imapdutil.PASSWORD)
    lines, _ = closed_within(m.file, 8)
    assert lines and lines[-1].startswith(b"* BYE"), lines
    m.shutdown()
    assert "reason=idle_timeout" in inst.log()
    assert_drop_counted(inst, "imap", "idle_timeout", 1, IMAPD)


def test_smtpd_timeout_counted(make_instance, certs):
    """Out of stress, smtpd_timeout drops are counted as "timeout"."""
    inst = start_smtpd(make_instance, certs,
                       params={"smtpd_timeout": "2s"})
    assert drops(inst) == {}
    sock, f = greeted(inst, "smtp")
    lines, took = closed_within(f, 8)
    assert lines and lines[-1].startswith(b"421 4.4.2"), lines
    sock.close()
    assert "reason=timeout" in inst.log()
    assert_drop_counted(inst, "smtp", "timeout", 1, SMTPD)


# -- junk commands ---------------------------------------------------------

def test_smtpd_junk_command_limit(make_instance, certs):
    inst = start_smtpd(make_instance, certs,
                       params={"smtpd_junk_command_limit": "5"})
    s = smtplib.SMTP("127.0.0.1", inst.port("smtp"), timeout=10)
    assert s.ehlo("client.test")[0] == 250
    for _ in range(2):
        assert s.noop()[0] == 250
    assert s.rset()[0] == 250
    assert s.ehlo("client.test")[0] == 250     # a repeated EHLO
    code, text = s.docmd("NOOP")
    assert code == 421 and b"4.7.0" in text, (code, text)
    assert "reason=junk_command_limit" in inst.log()
    assert_drop_counted(inst, "smtp", "junk_command_limit", 1, SMTPD)


def test_smtpd_mail_is_not_junk(make_instance, certs):
    """Queued mail is progress: the count starts again after it, so an
    MTA sending RSET and NOOP between many messages is not cut off."""
    inst = start_smtpd(make_instance, certs,
                       params={"smtpd_junk_command_limit": "3"})
    s = smtplib.SMTP("127.0.0.1", inst.port("smtp"), timeout=10)
    assert s.ehlo("client.test")[0] == 250
    for i in range(4):
        assert s.rset()[0] == 250
        assert s.noop()[0] == 250
        s.sendmail("bob@remote.test", ["alice@example.test"],
                   "Subject: %d\r\n\r\nbody\r\n" % i)
    s.quit()


def test_pop_junk_command_limit(make_instance, certs):
    inst = start_popd(make_instance, certs,
                      params={"pop_junk_command_limit": "4"})
    address, _ = popdutil.new_mailbox(inst)
    p = poplib.POP3("127.0.0.1", inst.port("pop3"), timeout=10)
    p.capa()                    # before login: 1
    p.user(address)             # 2
    p.pass_(popdutil.PASSWORD)  # logs in: not junk
    assert p.noop().startswith(b"+OK")     # 3
    with pytest.raises(poplib.error_proto) as e:
        p.noop()                            # 4: the limit
    assert b"[SYS/TEMP]" in e.value.args[0]
    assert "reason=junk_command_limit" in inst.log()
    assert_drop_counted(inst, "pop3", "junk_command_limit", 1, POPD)


def test_imap_junk_command_limit_before_login(make_instance):
    inst, _ = imapdutil.make_imap_instance(
        make_instance, params={"imap_junk_command_limit": "3"})
    sock, f = greeted(inst, "imap", expect=b"* OK")
    sock.sendall(b"a NOOP\r\nb CAPABILITY\r\nc NOOP\r\n")
    lines, _ = closed_within(f, 5)
    assert lines[-1].startswith(b"* BYE"), lines
    assert "reason=junk_command_limit" in inst.log()
    sock.close()
    # After login NOOP is how clients poll: not counted.
    m = imaplib.IMAP4("127.0.0.1", inst.port("imap"), timeout=10)
    m.login(imapdutil.USER, imapdutil.PASSWORD)
    for _ in range(5):
        assert m.noop()[0] == "OK"
    m.logout()
    assert_drop_counted(inst, "imap", "junk_command_limit", 1, IMAPD)


# -- bad commands ----------------------------------------------------------

def assert_bad_commands_dropped(inst, service, greeting, commands, bye,
                                reason, program):
    """Three bad commands (the limit is 3) end the session with bye, and
    the drop is logged and counted as reason."""
    sock, f = greeted(inst, service, expect=greeting)
    sock.sendall(commands)
    lines, _ = closed_within(f, 5)
    assert lines[-1].startswith(bye), lines
    sock.close()
    assert "reason=%s limit=3" % reason in inst.log()
    assert_drop_counted(inst, service, reason, 1, program)


def test_smtpd_error_limit_counted(make_instance, certs):
    inst = start_smtpd(make_instance, certs,
                       params={"smtpd_error_limit": "3"})
    assert_bad_commands_dropped(inst, "smtp", b"220 ", b"BOGUS\r\n" * 3,
                                b"421 4.7.0", "error_limit", SMTPD)


def test_pop_bad_command_limit_counted(make_instance, certs):
    inst = start_popd(make_instance, certs,
                      params={"pop_max_bad_commands": "3"})
    assert_bad_commands_dropped(inst, "pop3", b"+OK", b"BOGUS\r\n" * 3,
                                b"-ERR Too many bad commands",
                                "bad_command_limit", POPD)


def test_imap_bad_command_limit_counted(make_instance):
    inst, _ = imapdutil.make_imap_instance(
        make_instance, params={"imap_bad_command_limit": "3"})
    assert_bad_commands_dropped(inst, "imap", b"* OK",
                                b"a BOGUS\r\nb BOGUS\r\nc BOGUS\r\n",
                                b"* BYE Too many invalid",
                                "bad_command_limit", IMAPD)


# -- anvil: connection count and rate per client address -------------------

NO_EXCEPTIONS = {"client_limit_exceptions": ""}


def test_smtpd_connection_count_limit(make_instance, certs):
    inst = start_smtpd(make_instance, certs, maxproc=6, params=dict(
        NO_EXCEPTIONS, smtpd_client_connection_count_limit="2"))
    held = [greeted(inst, "smtp") for _ in range(2)]
    sock, f = raw_connect(inst, "smtp")
    line = f.readline()
    assert line.startswith(b"421 4.7.0"), line
    assert b"too many connections" in line
    assert f.readline() == b""
    sock.close()
    log = inst.log()
    assert re.search(r"refused connection from 127\.0\.0\.1 to service "
                     r"smtp reason=connection_count_limit count=3 "
                     r"limit=2", log), log
    # Per service: the submission listener counts apart.
    greeted(inst, "submission")[0].close()
    # A closed connection is counted out: room for one more.
    held.pop()[0].close()
    # A retry that comes before smtpd has counted the disconnect out is
    # refused (and counted) too: expect one drop per refused retry.
    refused = []

    def slot():
        sock, f = raw_connect(inst, "smtp")
        try:
            line = f.readline()
        finally:
            sock.close()
        if line.startswith(b"421 4.7.0"):
            refused.append(line)
        return line.startswith(b"220 ")
    harness.wait_for(slot, 5, what="a slot after a disconnect")
    for sock, f in held:
        sock.close()
    expect = 1 + len(refused)
    assert drops(inst) == {("smtp", "connection_count_limit"): expect}
    assert_drop_counted(inst, "smtp", "connection_count_limit", expect,
                        SMTPD)


def raw_connect(inst, service):
    sock = socket.create_connection(("127.0.0.1", inst.port(service)),
                                    timeout=10)
    return sock, sock.makefile("rb")


def try_greeting(inst, service, expect=b"220 "):
    sock, f = raw_connect(inst, service)
    try:
        return f.readline().startswith(expect)
    finally:
        sock.close()


def test_exempt_addresses_not_limited(make_instance, certs):
    """The default exceptions (loopback) are never limited."""
    inst = start_smtpd(make_instance, certs, maxproc=6, params={
        "smtpd_client_connection_count_limit": "1",
        "smtpd_client_connection_rate_limit": "1"})
    held = [greeted(inst, "smtp") for _ in range(4)]
    for sock, f in held:
        sock.close()
    assert "reason=connection" not in inst.log()


def test_smtpd_connection_rate_limit(make_instance, certs):
    inst = start_smtpd(make_instance, certs, maxproc=4, params=dict(
        NO_EXCEPTIONS, smtpd_client_connection_rate_limit="3",
        smtpd_client_connection_count_limit="0",
        anvil_rate_time_unit="4s"))
    for _ in range(3):
        s = smtplib.SMTP("127.0.0.1", inst.port("smtp"), timeout=10)
        s.quit()
    with pytest.raises(smtplib.SMTPConnectError) as e:
        smtplib.SMTP("127.0.0.1", inst.port("smtp"), timeout=10)
    assert e.value.smtp_code == 421
    assert "reason=connection_rate_limit rate=4 limit=3" in inst.log()
    assert_drop_counted(inst, "smtp", "connection_rate_limit", 1, SMTPD)
    # The next time unit starts afresh.
    time.sleep(4.5)
    smtplib.SMTP("127.0.0.1", inst.port("smtp"), timeout=10).quit()


def test_pop_connection_count_limit(make_instance, certs):
    inst = start_popd(make_instance, certs, maxproc=4, params=dict(
        NO_EXCEPTIONS, pop_client_connection_count_limit="1"))
    held = greeted(inst, "pop3", expect=b"+OK")
    with pytest.raises(poplib.error_proto) as e:
        poplib.POP3("127.0.0.1", inst.port("pop3"), timeout=10)
    assert b"-ERR [SYS/TEMP]" in e.value.args[0]
    held[0].close()
    assert "reason=connection_count_limit" in inst.log()
    assert_drop_counted(inst, "pop3", "connection_count_limit", 1, POPD)


def test_imap_connection_count_limit_multi(make_instance):
    """imapd with several sessions a process asks anvil through its
    event loop: limits hold and other sessions keep working."""
    inst, _ = imapdutil.make_imap_instance(make_instance, params=dict(
        NO_EXCEPTIONS, imap_client_connection_count_limit="2",
        imap_client_limit="10"))
    held = [imaplib.IMAP4("127.0.0.1", inst.port("imap"), timeout=10)
            for _ in range(2)]
    sock, f = raw_connect(inst, "imap")
    line = f.readline()
    assert line.startswith(b"* BYE [UNAVAILABLE]"), line
    sock.close()
    held[0].login(imapdutil.USER, imapdutil.PASSWORD)
    assert held[0].noop()[0] == "OK"
    for m in held:
        m.logout()
    harness.wait_for(lambda: try_greeting(inst, "imap", b"* OK"), 5,
                     what="slots after logout")
    assert_drop_counted(inst, "imap", "connection_count_limit", 1, IMAPD)


def test_anvil_events_have_no_answer_and_bad_names_are_not_counted(
        make_instance, certs):
    """On anvil's socket: events are counted without an answer (the
    first answer read is the one to "counters"), events with a missing
    or malformed name are not counted, and a process that sent events
    going away keeps them."""
    inst = start_smtpd(make_instance, certs)
    path = os.path.join(inst.queue_dir, "private", "anvil")
    events = (b"request=event\nservice=smtp\nreason=timeout\n\n" * 2 +
              b"request=event\nservice=pop3\nreason=timeout\n\n"
              b"request=event\nservice=smtp\n\n"
              b"request=event\nreason=timeout\n\n"
              b"request=event\nservice=smtp\nreason=Bad%0Aname\n\n"
              b"request=event\nservice=sm tp\nreason=timeout\n\n"
              b"request=event\nservice=smtp\nreason=" + b"x" * 33 +
              b"\n\n")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(path)
        sock.sendall(events + b"request=counters\n\n")
        answer = b""
        while not answer.endswith(b"\n\n"):
            chunk = sock.recv(4096)
            assert chunk, answer
            answer += chunk
    assert answer == (b"status=ok\ndrop=pop3 timeout 1\n"
                      b"drop=smtp timeout 2\n\n"), answer
    assert drops(inst) == {("pop3", "timeout"): 1, ("smtp", "timeout"): 2}
    assert "event not counted: invalid service or reason" in inst.log()


def test_anvil_down_does_not_block_mail(make_instance, certs):
    """Without anvil every client is admitted, with one warning."""
    inst = make_instance(services=mailutil.smtpd_services(maxproc=4))
    inst.with_anvil = False
    inst.params.update(mailutil.base_params(inst, certs))
    inst.params.update(NO_EXCEPTIONS, smtpd_client_connection_count_limit="1")
    inst.write_main_conf()
    mailutil.provision(inst)
    inst.start()
    held = [greeted(inst, "smtp") for _ in range(2)]
    s = smtplib.SMTP("127.0.0.1", inst.port("smtp"), timeout=10)
    s.sendmail("bob@remote.test", ["alice@example.test"],
               "Subject: hi\r\n\r\nbody\r\n")
    s.quit()
    for sock, f in held:
        sock.close()
    log = inst.log()
    assert "client connection limits not applied" in log
    assert "reason=connection_count_limit" not in log
    # status still works, and says why it has no counters.
    r = inst.ctl("status")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == \
        "drops: unknown (anvil is not running)", r.stdout


def test_anvil_crash_and_restart(make_instance, certs):
    """anvil killed: the master restarts it, mail flows meanwhile, and
    the limits apply again with fresh counts."""
    inst = start_smtpd(make_instance, certs, maxproc=6, params=dict(
        NO_EXCEPTIONS, smtpd_client_connection_count_limit="2"))
    held = [greeted(inst, "smtp") for _ in range(2)]
    pid = anvil_pid(inst)
    os.kill(pid, signal.SIGKILL)
    # The old counts died with anvil; mail is never blocked meanwhile.
    s = smtplib.SMTP("127.0.0.1", inst.port("smtp"), timeout=10)
    assert s.ehlo("client.test")[0] == 250
    s.quit()
    harness.wait_for(lambda: anvil_pid(inst) not in (None, pid), 10,
                     what="anvil restarted")
    more = [greeted(inst, "smtp") for _ in range(2)]
    harness.wait_for(lambda: not try_greeting(inst, "smtp"), 5,
                     what="the limit applied again")
    for sock, f in held + more:
        sock.close()


def anvil_pid(inst):
    pids = daemon_pids(inst, b"anvil/anvil")
    return pids[0] if pids else None

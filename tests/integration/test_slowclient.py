"""Slow and idle clients (issue 12, finding 13): stress mode, short
pre-login timeouts, junk command limits, and anvil's per-client connection
count and rate limits, with real clients (smtplib, poplib, imaplib, raw
sockets) against smtpd, popd and imapd."""

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
    for sock, f in conns:
        lines, _ = closed_within(f, 8)
        assert lines and lines[-1].startswith(b"* BYE"), lines
        sock.close()


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


def test_pop_command_timeout_after_login(make_instance, certs):
    """After login the RFC 1939 timeout applies, not the login one."""
    inst = start_popd(make_instance, certs,
                      params={"pop_login_timeout": "1s"})
    address, _ = popdutil.new_mailbox(inst)
    p = poplib.POP3("127.0.0.1", inst.port("pop3"), timeout=10)
    p.user(address)
    p.pass_(popdutil.PASSWORD)
    time.sleep(2.5)
    assert p.noop().startswith(b"+OK")
    p.quit()


def test_imap_login_timeout(make_instance):
    inst, _ = imapdutil.make_imap_instance(
        make_instance, params={"imap_login_timeout": "2s"})
    sock, f = greeted(inst, "imap", expect=b"* OK")
    lines, took = closed_within(f, 8)
    assert lines and lines[-1].startswith(b"* BYE"), lines
    assert took >= 1.5
    assert "reason=login_timeout" in inst.log()
    sock.close()


def test_imap_timeout_after_login(make_instance):
    inst, _ = imapdutil.make_imap_instance(
        make_instance, params={"imap_login_timeout": "1s"})
    m = imaplib.IMAP4("127.0.0.1", inst.port("imap"), timeout=10)
    m.login(imapdutil.USER, imapdutil.PASSWORD)
    time.sleep(2.5)
    assert m.noop()[0] == "OK"
    m.logout()


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


def test_smtpd_mail_is_not_junk(make_instance, certs):
    """A client that sends mail is making progress, whatever the count."""
    inst = start_smtpd(make_instance, certs,
                       params={"smtpd_junk_command_limit": "3"})
    s = smtplib.SMTP("127.0.0.1", inst.port("smtp"), timeout=10)
    assert s.ehlo("client.test")[0] == 250
    for i in range(4):
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
